//! Setup work on a MySQL connection: the server's version, table marks as table comments, and
//! bulk loads as multi-row prepared INSERTs.
//!
//! LOAD DATA LOCAL INFILE would be faster still, but servers refuse it unless `local_infile`
//! is on (MySQL 8's default is off); prepared INSERTs of about a megabyte each work on every
//! server and need no escaping, since the rows go out in the binary protocol.

use mysql_async::prelude::Queryable as _;
use mysql_async::{Params, Row};

use super::conn::classify;
use crate::drivers::sql::{Admin, RowSink, SqlError, TableSpec};

/// One INSERT carries about this many bytes of row data...
const BATCH_BYTES: usize = 1 << 20;
/// ...and at most this many placeholders (the protocol allows 65,535). The server's time to
/// prepare a statement grows with its placeholders, and past a few thousand it no longer pays
/// for itself in fewer round trips.
const MAX_PLACEHOLDERS: usize = 4_096;

pub struct MyAdmin {
    conn: mysql_async::Conn,
}

impl MyAdmin {
    pub(super) fn new(conn: mysql_async::Conn) -> MyAdmin {
        MyAdmin { conn }
    }

    fn failed(error: mysql_async::Error) -> SqlError {
        classify(&error)
    }

    /// An INSERT of `rows` rows into `table`'s loaded columns, one placeholder per value.
    fn insert_sql(table: &TableSpec, rows: usize) -> String {
        let one = format!("({})", vec!["?"; table.loaded.len()].join(", "));
        let values = vec![one.as_str(); rows].join(", ");
        format!(
            "INSERT INTO {} ({}) VALUES {values}",
            table.name,
            table.loaded.join(", ")
        )
    }
}

impl Admin for MyAdmin {
    async fn server_version(&mut self) -> Result<String, SqlError> {
        let version = self.scalar("SELECT VERSION()").await?;
        Ok(version.unwrap_or_default())
    }

    async fn run(&mut self, sql: &str) -> Result<(), SqlError> {
        self.conn.query_drop(sql).await.map_err(Self::failed)
    }

    async fn scalar(&mut self, sql: &str) -> Result<Option<String>, SqlError> {
        let row: Option<Row> = self.conn.query_first(sql).await.map_err(Self::failed)?;
        Ok(row.and_then(|row| row.as_ref(0).and_then(text_of)))
    }

    async fn table_mark(&mut self, table: &str) -> Result<Option<String>, SqlError> {
        // DATABASE() is the schema the workload's statements resolve their tables in. A view
        // of the name shows the comment `VIEW`, which is no mark of plimsoll's.
        let sql = "SELECT TABLE_COMMENT FROM information_schema.TABLES \
                   WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?";
        let row: Option<Row> = self
            .conn
            .exec_first(sql, (table,))
            .await
            .map_err(Self::failed)?;
        Ok(row.map(|row| row.as_ref(0).and_then(text_of).unwrap_or_default()))
    }

    async fn set_table_mark(&mut self, table: &str, mark: &str) -> Result<(), SqlError> {
        // Marks are plimsoll's own text (workload names and numbers): quotes are doubled and
        // backslashes dropped, so the literal reads the same whatever NO_BACKSLASH_ESCAPES is.
        let quoted = mark.replace('\\', "").replace('\'', "''");
        self.run(&format!("ALTER TABLE {table} COMMENT = '{quoted}'"))
            .await
    }

    async fn bulk_load(
        &mut self,
        table: &TableSpec,
        progress: &mut dyn FnMut(u64) -> bool,
    ) -> Result<u64, SqlError> {
        let columns = table.loaded.len().max(1);
        let mut rows = Values::default();
        let mut scratch = String::new();
        // Every row of a built-in table is about as wide as its first: size batches by it.
        (table.write_row)(0, &mut rows, &mut scratch);
        let per_row = rows.bytes.max(1);
        let batch = (BATCH_BYTES / per_row).clamp(1, (MAX_PLACEHOLDERS / columns).max(1)) as u64;
        let batch = batch.min(table.rows);
        let full = self
            .conn
            .prep(Self::insert_sql(table, batch as usize))
            .await
            .map_err(Self::failed)?;
        let mut sent = 0;
        for n in 1..table.rows {
            if n % batch == 0 {
                let values = std::mem::take(&mut rows.values);
                self.conn
                    .exec_drop(&full, Params::Positional(values))
                    .await
                    .map_err(Self::failed)?;
                sent = n;
                if !progress(sent) {
                    return Ok(sent);
                }
            }
            (table.write_row)(n, &mut rows, &mut scratch);
        }
        let left = table.rows - sent;
        if left > 0 {
            let sql = Self::insert_sql(table, left as usize);
            let values = std::mem::take(&mut rows.values);
            self.conn
                .exec_drop(sql, Params::Positional(values))
                .await
                .map_err(Self::failed)?;
        }
        self.conn.close(full).await.map_err(Self::failed)?;
        Ok(table.rows)
    }

    async fn analyze(&mut self, table: &str) -> Result<(), SqlError> {
        self.run(&format!("ANALYZE TABLE {table}")).await
    }
}

/// A result value as text, as `Admin::scalar` hands it on.
fn text_of(value: &mysql_async::Value) -> Option<String> {
    use mysql_async::Value as V;
    match value {
        V::NULL => None,
        V::Bytes(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        V::Int(n) => Some(n.to_string()),
        V::UInt(n) => Some(n.to_string()),
        V::Float(x) => Some(x.to_string()),
        V::Double(x) => Some(x.to_string()),
        other => Some(other.as_sql(true).trim_matches('\'').to_owned()),
    }
}

/// Rows as the values of one multi-row INSERT, and the bytes they take.
#[derive(Default)]
struct Values {
    values: Vec<mysql_async::Value>,
    bytes: usize,
}

impl RowSink for Values {
    fn int(&mut self, value: i64) {
        self.values.push(mysql_async::Value::Int(value));
        self.bytes += 8;
    }

    fn text(&mut self, value: &str) {
        self.values
            .push(mysql_async::Value::Bytes(value.as_bytes().to_vec()));
        self.bytes += value.len() + 1;
    }

    fn end_row(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_count_the_bytes_a_row_takes() {
        let mut rows = Values::default();
        rows.int(7);
        rows.text("abc");
        rows.end_row();
        assert_eq!(rows.values.len(), 2);
        assert_eq!(rows.bytes, 8 + 4);
    }
}
