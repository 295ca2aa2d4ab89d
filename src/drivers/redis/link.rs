//! One connection to the server, re-established when it drops, and what a Redis error counts
//! as.
//!
//! Every lane using a connection shares its [`Link`]. When a request fails because the
//! connection is gone, the link forgets it; the next lane to ask connects again (one attempt
//! at a time, never past the run's end) and counts a reconnect. The run itself goes on.

use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, RedisError};

use crate::measure::ErrorKind;

pub(super) struct Link {
    client: Client,
    timeout: Duration,
    conn: RefCell<Option<MultiplexedConnection>>,
    connecting: Cell<bool>,
    /// Wakes the lanes that waited for another lane's connection attempt.
    connected: tokio::sync::Notify,
    ever_connected: Cell<bool>,
}

/// Why no connection could be had.
pub(super) struct NoConnection {
    pub kind: ErrorKind,
}

impl Link {
    pub fn new(client: Client, timeout: Duration) -> Self {
        Link {
            client,
            timeout,
            conn: RefCell::new(None),
            connecting: Cell::new(false),
            connected: tokio::sync::Notify::new(),
            ever_connected: Cell::new(false),
        }
    }

    /// A live connection, connecting first if needed. The bool says whether this call made a
    /// new connection after an earlier one was lost (a reconnect).
    pub async fn get(&self, end: Instant) -> Result<(MultiplexedConnection, bool), NoConnection> {
        if let Some(conn) = self.conn.borrow().as_ref() {
            return Ok((conn.clone(), false));
        }
        if self.connecting.get() {
            // Another lane is connecting: wait for its attempt (bounded by the timeout) rather
            // than fail a request the connection may carry in a moment.
            self.connected.notified().await;
            return match self.conn.borrow().as_ref() {
                Some(conn) => Ok((conn.clone(), false)),
                None => Err(NoConnection {
                    kind: ErrorKind::Connect,
                }),
            };
        }
        self.connecting.set(true);
        let connected = self.connect(end).await;
        self.connecting.set(false);
        if let Ok(conn) = &connected {
            *self.conn.borrow_mut() = Some(conn.clone());
        }
        self.connected.notify_waiters();
        let conn = connected?;
        let reconnect = self.ever_connected.replace(true);
        Ok((conn, reconnect))
    }

    async fn connect(&self, end: Instant) -> Result<MultiplexedConnection, NoConnection> {
        // A connection attempt never holds the run past its end.
        let left = end.saturating_duration_since(Instant::now());
        let limit = self.timeout.min(left.max(Duration::from_millis(1)));
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(limit))
            .set_response_timeout(Some(self.timeout));
        let attempt = self
            .client
            .get_multiplexed_async_connection_with_config(&config);
        match tokio::time::timeout(limit, attempt).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(NoConnection {
                kind: classify(&e).unwrap_or(ErrorKind::Connect),
            }),
            Err(_) => Err(NoConnection {
                kind: ErrorKind::Connect,
            }),
        }
    }

    /// Called after a request failed with `error`: forgets the connection if it is gone.
    pub fn after_error(&self, error: &RedisError) {
        if connection_lost(error) {
            self.conn.borrow_mut().take();
        }
    }
}

fn connection_lost(error: &RedisError) -> bool {
    error.is_connection_dropped()
        || error.is_io_error() && !error.is_timeout()
        || error.is_unrecoverable_error()
}

/// What a failed request counts as. `None` never happens today; the option keeps the
/// mapping total if the library adds kinds.
pub(super) fn classify(error: &RedisError) -> Option<ErrorKind> {
    use redis::ErrorKind as K;
    Some(if error.is_timeout() {
        ErrorKind::Timeout
    } else if error.is_connection_refusal() || error.is_connection_dropped() || error.is_io_error()
    {
        ErrorKind::Connect
    } else {
        match error.kind() {
            K::Server(_) | K::Extension | K::AuthenticationFailed => ErrorKind::Reply,
            K::Parse | K::UnexpectedReturnType => ErrorKind::Protocol,
            _ => ErrorKind::Connect,
        }
    })
}
