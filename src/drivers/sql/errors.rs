//! What a SQL failure is, in terms both backends share: a kind the recorder counts
//! (connect, timeout, or the SQLSTATE class), the server's own words, whether the transaction
//! is worth running again, and whether the connection survived it.

use std::fmt;

use crate::measure::ErrorKind;

/// One failed statement, connection attempt or transaction step.
#[derive(Debug, Clone)]
pub struct SqlError {
    pub kind: SqlErrorKind,
    /// The server's message (or the client library's), for setup errors and debug logs.
    pub message: String,
    /// Why running the transaction again may succeed, when it may.
    pub retry: Option<Retry>,
    /// The connection cannot carry another statement: the lane drops it and connects again.
    pub connection_lost: bool,
    /// Which of the statements handed to [`super::Backend::connect`] failed to prepare.
    pub statement: Option<usize>,
    /// TLS refused the server's certificate: the workload's trust (`tls_ca`, `tls_insecure`)
    /// is what to change, so setup counts it as the user's input.
    pub untrusted_certificate: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlErrorKind {
    /// No connection could be made, or it broke.
    Connect,
    /// No answer within the job's timeout.
    Timeout,
    /// The server's error, by its five-character SQLSTATE.
    State([u8; 5]),
    /// An answer the client could not read.
    Protocol,
    /// A drawn value the placeholder of the named parameter cannot take; nothing was sent.
    Bind(&'static str),
}

/// The transient failures a retry is for, counted apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    Serialization,
    Deadlock,
    /// A lock not granted in time (MySQL's error 1205, whose SQLSTATE is the generic HY000).
    LockWait,
}

impl Retry {
    /// The standard codes: 40001 is a serialization failure (MySQL also uses it for a
    /// deadlock, which its backend says by its own error number); 40P01 is PostgreSQL's
    /// deadlock.
    pub fn from_sqlstate(code: &str) -> Option<Retry> {
        match code {
            "40001" => Some(Retry::Serialization),
            "40P01" => Some(Retry::Deadlock),
            _ => None,
        }
    }
}

impl SqlError {
    pub fn new(kind: SqlErrorKind, message: impl Into<String>) -> SqlError {
        SqlError {
            kind,
            message: message.into(),
            retry: None,
            connection_lost: matches!(kind, SqlErrorKind::Connect | SqlErrorKind::Timeout),
            statement: None,
            untrusted_certificate: false,
        }
    }

    /// A server error with SQLSTATE `code`; its retry class follows the standard codes.
    pub fn state(code: &str, message: impl Into<String>) -> SqlError {
        let mut bytes = [b'?'; 5];
        for (slot, b) in bytes.iter_mut().zip(code.bytes()) {
            *slot = b;
        }
        SqlError {
            retry: Retry::from_sqlstate(code),
            ..SqlError::new(SqlErrorKind::State(bytes), message)
        }
    }

    pub fn timeout() -> SqlError {
        SqlError::new(SqlErrorKind::Timeout, "no answer within the job's timeout")
    }

    /// What the recorder counts it as.
    pub fn counted_as(&self) -> ErrorKind {
        match self.kind {
            SqlErrorKind::Connect => ErrorKind::Connect,
            SqlErrorKind::Timeout => ErrorKind::Timeout,
            SqlErrorKind::Protocol => ErrorKind::Protocol,
            SqlErrorKind::Bind(name) => ErrorKind::Bind(name),
            SqlErrorKind::State([a, b, ..]) => ErrorKind::SqlState([a, b]),
        }
    }
}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            SqlErrorKind::State(code) => {
                let code = std::str::from_utf8(&code).unwrap_or("?????");
                write!(f, "{} (SQLSTATE {code})", self.message)
            }
            _ => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for SqlError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_count_by_class_and_retry_by_code() {
        let failure = SqlError::state("40001", "could not serialize access");
        assert_eq!(failure.counted_as(), ErrorKind::SqlState(*b"40"));
        assert_eq!(failure.retry, Some(Retry::Serialization));
        assert_eq!(
            SqlError::state("40P01", "deadlock").retry,
            Some(Retry::Deadlock)
        );
        assert_eq!(SqlError::state("23505", "duplicate key").retry, None);
        assert_eq!(
            failure.counted_as().to_string(),
            "sqlstate 40 (transaction rollback)"
        );
        assert!(!failure.connection_lost);
        assert!(SqlError::timeout().connection_lost);
    }
}
