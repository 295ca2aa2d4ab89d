//! One MySQL connection running prepared statements, and what mysql_async errors count as.
//!
//! Parameters go out in the binary protocol as drawn: numbers as 64-bit integers, text as
//! strings; the server converts each to its column's type, as it does for any client. Its
//! prepare says how many placeholders a statement has, and not what they take, so setup can
//! check the count and nothing more.

use mysql_async::prelude::Queryable as _;
use mysql_async::{Params as Bound, Statement};

use crate::drivers::sql::{Conn, Params, Placeholder, Retry, SqlError, SqlErrorKind, Value};
use crate::workload::Isolation;

/// MySQL error numbers that say more than their SQLSTATE.
const ER_LOCK_WAIT_TIMEOUT: u16 = 1205;
const ER_LOCK_DEADLOCK: u16 = 1213;
/// The server is shutting down, or killed this connection: it will close it.
const ER_SERVER_SHUTDOWN: u16 = 1053;
const ER_CONNECTION_KILLED: u16 = 1927;
/// MySQL 8's word for a session the server ended for being idle.
const ER_CLIENT_INTERACTION_TIMEOUT: u16 = 4031;

pub struct MyConn {
    conn: mysql_async::Conn,
    statements: Vec<Statement>,
    /// The session's isolation level as plimsoll last set it (none: the server's default).
    isolation: Option<Isolation>,
    /// A failure left the connection unusable (a broken read, a dropped socket).
    broken: bool,
}

impl MyConn {
    /// Prepares `texts` on `conn`; the first the server refuses fails with its index.
    pub(super) async fn prepare(
        mut conn: mysql_async::Conn,
        texts: &[String],
    ) -> Result<MyConn, SqlError> {
        let mut statements = Vec::with_capacity(texts.len());
        for (i, text) in texts.iter().enumerate() {
            let prepared = conn.prep(text.as_str()).await.map_err(|e| SqlError {
                statement: Some(i),
                ..classify(&e)
            })?;
            statements.push(prepared);
        }
        Ok(MyConn {
            conn,
            statements,
            isolation: None,
            broken: false,
        })
    }

    async fn simple(&mut self, sql: &str) -> Result<(), SqlError> {
        let result = self.conn.query_drop(sql).await;
        result.map_err(|e| self.failed(&e))
    }

    fn failed(&mut self, error: &mysql_async::Error) -> SqlError {
        let failure = classify(error);
        self.broken |= failure.connection_lost;
        failure
    }
}

impl Conn for MyConn {
    async fn execute(&mut self, statement: usize, params: Params<'_>) -> Result<(), SqlError> {
        // mysql_async takes its parameters as owned values: one small allocation per value.
        let bound = match params.is_empty() {
            true => Bound::Empty,
            false => Bound::Positional(params.iter().map(to_mysql).collect()),
        };
        let statement = &self.statements[statement];
        let result = self.conn.exec_drop(statement, bound).await;
        result.map_err(|e| self.failed(&e))
    }

    async fn begin(&mut self, isolation: Option<Isolation>) -> Result<(), SqlError> {
        // START TRANSACTION takes no isolation level: it is the session's, set once here
        // rather than before every transaction.
        if let Some(level) = isolation
            && self.isolation != Some(level)
        {
            let sql = format!("SET SESSION TRANSACTION ISOLATION LEVEL {}", level.sql());
            self.simple(&sql).await?;
            self.isolation = Some(level);
        }
        self.simple("START TRANSACTION").await
    }

    async fn commit(&mut self) -> Result<(), SqlError> {
        self.simple("COMMIT").await
    }

    async fn rollback(&mut self) -> Result<(), SqlError> {
        self.simple("ROLLBACK").await
    }

    fn is_lost(&self) -> bool {
        self.broken || self.conn.is_disconnected()
    }

    fn placeholders(&self, statement: usize) -> Vec<Placeholder> {
        // MySQL and MariaDB describe every parameter as of type NULL.
        let count = self.statements[statement].num_params();
        vec![Placeholder::unknown(); usize::from(count)]
    }
}

fn to_mysql(value: Value<'_>) -> mysql_async::Value {
    match value {
        Value::Int(n) => mysql_async::Value::Int(n),
        Value::Text(text) => mysql_async::Value::Bytes(text.as_bytes().to_vec()),
    }
}

/// What a mysql_async error counts as. A server error keeps its SQLSTATE and the server's
/// words; a deadlock (1213, SQLSTATE 40001) and a lock wait timeout (1205, HY000) are retried
/// apart from other serialization failures. A broken socket or stream is a connect error, and
/// the lane will connect again.
pub(super) fn classify(error: &mysql_async::Error) -> SqlError {
    match error {
        mysql_async::Error::Server(server) => {
            let message = format!("ERROR {}: {}", server.code, server.message);
            let mut failure = SqlError::state(&server.state, message);
            failure.retry = match server.code {
                ER_LOCK_DEADLOCK => Some(Retry::Deadlock),
                ER_LOCK_WAIT_TIMEOUT => Some(Retry::LockWait),
                _ => failure.retry,
            };
            failure.connection_lost = matches!(
                server.code,
                ER_SERVER_SHUTDOWN | ER_CONNECTION_KILLED | ER_CLIENT_INTERACTION_TIMEOUT
            ) || server.state.starts_with("08");
            failure
        }
        mysql_async::Error::Io(_) | mysql_async::Error::Driver(_) => {
            let kind = match error {
                mysql_async::Error::Io(_)
                | mysql_async::Error::Driver(mysql_async::DriverError::ConnectionClosed) => {
                    SqlErrorKind::Connect
                }
                _ => SqlErrorKind::Protocol,
            };
            let mut failure = SqlError::new(kind, error.to_string());
            failure.connection_lost = true;
            failure
        }
        mysql_async::Error::Url(_) | mysql_async::Error::Other(_) => {
            let mut failure = SqlError::new(SqlErrorKind::Protocol, error.to_string());
            failure.connection_lost = true;
            failure
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::ErrorKind;

    fn server(code: u16, state: &str) -> SqlError {
        classify(&mysql_async::Error::Server(mysql_async::ServerError {
            code,
            message: "m".into(),
            state: state.into(),
        }))
    }

    #[test]
    fn deadlocks_and_lock_waits_retry_apart_and_count_by_class() {
        let deadlock = server(1213, "40001");
        assert_eq!(deadlock.retry, Some(Retry::Deadlock));
        assert_eq!(deadlock.counted_as(), ErrorKind::SqlState(*b"40"));
        assert!(!deadlock.connection_lost);
        let wait = server(1205, "HY000");
        assert_eq!(wait.retry, Some(Retry::LockWait));
        assert_eq!(wait.counted_as(), ErrorKind::SqlState(*b"HY"));
        assert_eq!(server(1062, "23000").retry, None);
        assert!(server(1053, "08S01").connection_lost);
        assert_eq!(
            server(1064, "42000").to_string(),
            "ERROR 1064: m (SQLSTATE 42000)"
        );
    }
}
