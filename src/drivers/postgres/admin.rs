//! Setup work on a PostgreSQL connection: the server's version, table marks as comments, and
//! bulk loads with COPY in text format.

use std::fmt::Write as _;

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::SinkExt as _;
use tokio_postgres::{Client, SimpleQueryMessage};

use super::conn::classify;
use crate::drivers::sql::{Admin, RowSink, SqlError, TableSpec};

/// COPY data goes out in chunks of about this size.
const CHUNK: usize = 256 << 10;

pub struct PgAdmin {
    pub(super) client: Client,
}

impl Admin for PgAdmin {
    async fn server_version(&mut self) -> Result<String, SqlError> {
        let version = self.scalar("SHOW server_version").await?;
        Ok(version.unwrap_or_default())
    }

    async fn run(&mut self, sql: &str) -> Result<(), SqlError> {
        self.client
            .batch_execute(sql)
            .await
            .map_err(|e| classify(&e))
    }

    async fn scalar(&mut self, sql: &str) -> Result<Option<String>, SqlError> {
        let messages = self
            .client
            .simple_query(sql)
            .await
            .map_err(|e| classify(&e))?;
        Ok(messages.iter().find_map(|m| match m {
            SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
            _ => None,
        }))
    }

    async fn table_mark(&mut self, table: &str) -> Result<Option<String>, SqlError> {
        // to_regclass resolves the name as the workload's statements will: through the
        // connection's search_path.
        let sql = "SELECT coalesce(obj_description(c.oid, 'pg_class'), '') FROM pg_class c \
                   WHERE c.oid = to_regclass($1)";
        let row = self
            .client
            .query_opt(sql, &[&table.to_ascii_lowercase()])
            .await
            .map_err(|e| classify(&e))?;
        Ok(row.map(|r| r.get::<_, String>(0)))
    }

    async fn set_table_mark(&mut self, table: &str, mark: &str) -> Result<(), SqlError> {
        let quoted = mark.replace('\'', "''");
        self.run(&format!("COMMENT ON TABLE {table} IS '{quoted}'"))
            .await
    }

    async fn bulk_load(
        &mut self,
        table: &TableSpec,
        progress: &mut dyn FnMut(u64) -> bool,
    ) -> Result<u64, SqlError> {
        let sql = format!(
            "COPY {} ({}) FROM STDIN",
            table.name,
            table.loaded.join(", ")
        );
        let sink = self
            .client
            .copy_in::<_, Bytes>(&sql)
            .await
            .map_err(|e| classify(&e))?;
        let mut sink = std::pin::pin!(sink);
        let mut rows = CopyText::default();
        let mut scratch = String::new();
        for n in 0..table.rows {
            (table.write_row)(n, &mut rows, &mut scratch);
            if rows.buf.len() >= CHUNK {
                let chunk = rows.buf.split().freeze();
                sink.send(chunk).await.map_err(|e| classify(&e))?;
                if !progress(n + 1) {
                    // Dropping the sink unfinished makes the server abort the COPY.
                    return Ok(n + 1);
                }
            }
        }
        if !rows.buf.is_empty() {
            let chunk = rows.buf.split().freeze();
            sink.send(chunk).await.map_err(|e| classify(&e))?;
        }
        sink.as_mut().finish().await.map_err(|e| classify(&e))
    }

    async fn analyze(&mut self, table: &str) -> Result<(), SqlError> {
        // As pgbench -i does: the visibility map lets reads skip the heap from the start.
        self.run(&format!("VACUUM ANALYZE {table}")).await
    }
}

/// Rows in COPY's text format: tab between fields, newline after each row, and backslash
/// escapes for the characters that would break them.
#[derive(Default)]
struct CopyText {
    buf: BytesMut,
    in_row: bool,
}

impl CopyText {
    fn separate(&mut self) {
        if std::mem::replace(&mut self.in_row, true) {
            self.buf.put_u8(b'\t');
        }
    }
}

impl RowSink for CopyText {
    fn int(&mut self, value: i64) {
        self.separate();
        let _ = write!(self.buf, "{value}");
    }

    fn text(&mut self, value: &str) {
        self.separate();
        for b in value.bytes() {
            match b {
                b'\\' => self.buf.put_slice(b"\\\\"),
                b'\t' => self.buf.put_slice(b"\\t"),
                b'\n' => self.buf.put_slice(b"\\n"),
                b'\r' => self.buf.put_slice(b"\\r"),
                _ => self.buf.put_u8(b),
            }
        }
    }

    fn end_row(&mut self) {
        self.buf.put_u8(b'\n');
        self.in_row = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_what_would_split_a_row() {
        let mut rows = CopyText::default();
        rows.int(7);
        rows.text("a\tb\\c\n");
        rows.text("");
        rows.end_row();
        rows.int(-1);
        rows.end_row();
        assert_eq!(&rows.buf[..], b"7\ta\\tb\\\\c\\n\t\n-1\n");
    }
}
