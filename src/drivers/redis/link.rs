//! One connection to the server, re-established when it breaks.
//!
//! Every lane using a connection shares its [`Link`]. When the connection breaks (the
//! server closed it, a write failed, a reply was not RESP), the next lane to ask connects
//! again (one attempt at a time, never past the run's end) and counts a reconnect. The run
//! itself goes on.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::conn::Conn;
use super::dial::Dialer;
use crate::measure::ErrorKind;

pub(super) struct Link {
    dialer: Arc<Dialer>,
    timeout: Duration,
    conn: RefCell<Option<Rc<Conn>>>,
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
    pub fn new(dialer: Arc<Dialer>, timeout: Duration) -> Self {
        Link {
            dialer,
            timeout,
            conn: RefCell::new(None),
            connecting: Cell::new(false),
            connected: tokio::sync::Notify::new(),
            ever_connected: Cell::new(false),
        }
    }

    /// A live connection, connecting first if needed. The bool says whether this call made a
    /// new connection after an earlier one was lost (a reconnect).
    pub async fn get(&self, end: Instant) -> Result<(Rc<Conn>, bool), NoConnection> {
        if let Some(conn) = self.live() {
            return Ok((conn, false));
        }
        if self.connecting.get() {
            // Another lane is connecting: wait for its attempt (bounded by the timeout) rather
            // than fail a request the connection may carry in a moment.
            self.connected.notified().await;
            return self.live().map(|c| (c, false)).ok_or(NoConnection {
                kind: ErrorKind::Connect,
            });
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

    /// The connection, unless there is none or it broke (then it is forgotten).
    fn live(&self) -> Option<Rc<Conn>> {
        let mut slot = self.conn.borrow_mut();
        if slot.as_ref().is_some_and(|c| c.broken().is_some()) {
            slot.take();
        }
        slot.clone()
    }

    async fn connect(&self, end: Instant) -> Result<Rc<Conn>, NoConnection> {
        // A connection attempt never holds the run past its end.
        let left = end.saturating_duration_since(Instant::now());
        let limit = self.timeout.min(left.max(Duration::from_millis(1)));
        match tokio::time::timeout(limit, self.dialer.connect()).await {
            Ok(Ok(conn)) => Ok(Rc::new(conn)),
            Ok(Err(kind)) => Err(NoConnection { kind }),
            Err(_) => Err(NoConnection {
                kind: ErrorKind::Connect,
            }),
        }
    }
}
