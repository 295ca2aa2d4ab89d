//! Connections to the target: opening one (TCP, TLS, the HTTP/1.1 or HTTP/2 handshake), and
//! the per-thread pool that never holds more than its set number.
//!
//! HTTP/1.1 carries one request at a time per connection, so the pool hands a connection to
//! one request, and a request that finds none free waits for one (in the open model that
//! wait is latency, not service time). With keep-alive off a connection serves one request
//! and is closed. HTTP/2 connections are shared: each lane uses one of the thread's
//! connections, opened on first use and again after it is lost.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tokio::sync::{Notify, Semaphore, SemaphorePermit};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;

use crate::measure::ErrorKind;

pub(super) type H1 = http1::SendRequest<Full<Bytes>>;
pub(super) type H2 = http2::SendRequest<Full<Bytes>>;

/// How to open one connection to the target.
pub(super) struct Connector {
    pub addr: SocketAddr,
    pub tls: Option<(TlsConnector, ServerName<'static>)>,
    pub http2: bool,
    pub timeout: Duration,
}

/// A request's connection: HTTP/1.1 (its own) or HTTP/2 (shared).
pub(super) enum Sender {
    H1(H1),
    H2(H2),
}

impl Connector {
    /// Opens a connection within the connect timeout. A timeout or refusal is `connect`, a
    /// failed handshake `tls`.
    pub async fn open(&self) -> Result<Sender, ErrorKind> {
        match tokio::time::timeout(self.timeout, self.open_now()).await {
            Ok(opened) => opened,
            Err(_) => Err(ErrorKind::Connect),
        }
    }

    async fn open_now(&self) -> Result<Sender, ErrorKind> {
        let tcp = TcpStream::connect(self.addr)
            .await
            .map_err(|_| ErrorKind::Connect)?;
        // Requests are written whole; Nagle would hold a second write for the peer's ACK.
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None => self.handshake(TokioIo::new(tcp)).await,
            Some((connector, name)) => {
                let tls = connector
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|_| ErrorKind::Tls)?;
                self.handshake(TokioIo::new(tls)).await
            }
        }
    }

    async fn handshake<T>(&self, io: TokioIo<T>) -> Result<Sender, ErrorKind>
    where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
    {
        if self.http2 {
            let (sender, conn) = http2::handshake(TokioExecutor::new(), io)
                .await
                .map_err(|_| ErrorKind::Protocol)?;
            tokio::task::spawn_local(async move {
                let _ = conn.await;
            });
            return Ok(Sender::H2(sender));
        }
        let (sender, conn) = http1::handshake(io)
            .await
            .map_err(|_| ErrorKind::Protocol)?;
        tokio::task::spawn_local(async move {
            let _ = conn.await;
        });
        Ok(Sender::H1(sender))
    }
}

/// One thread's connections.
pub(super) struct Pool {
    connector: Arc<Connector>,
    keep_alive: bool,
    /// HTTP/1.1: one permit per connection this thread may have open.
    permits: Semaphore,
    idle: RefCell<Vec<H1>>,
    /// HTTP/2: the thread's connections, each shared by the lanes that use it.
    shared: Vec<SharedConn>,
    /// Connections opened, not yet handed to the recorder's counter.
    pub opened: Cell<u64>,
}

#[derive(Default)]
struct SharedConn {
    conn: RefCell<Option<H2>>,
    connecting: Cell<bool>,
    connected: Notify,
}

/// A connection lent to one request; give it back with [`Pool::put`] when the response is
/// read, or drop it to close it.
pub(super) struct Lent<'p> {
    pub sender: Sender,
    _permit: Option<SemaphorePermit<'p>>,
}

impl Pool {
    pub fn new(connector: Arc<Connector>, connections: usize, keep_alive: bool) -> Pool {
        let shared = if connector.http2 {
            (0..connections).map(|_| SharedConn::default()).collect()
        } else {
            Vec::new()
        };
        Pool {
            connector,
            keep_alive,
            permits: Semaphore::new(connections),
            idle: RefCell::new(Vec::new()),
            shared,
            opened: Cell::new(0),
        }
    }

    /// A connection for one request from lane `lane`, opening one if need be.
    pub async fn get(&self, lane: usize) -> Result<Lent<'_>, ErrorKind> {
        if !self.shared.is_empty() {
            let sender = self.shared_conn(lane % self.shared.len()).await?;
            return Ok(Lent {
                sender: Sender::H2(sender),
                _permit: None,
            });
        }
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| ErrorKind::Connect)?;
        // Under the permit, the open connections are the idle ones and those lent out, so a
        // new one is opened only when none is idle and the count stays within the pool.
        loop {
            let idle = self.idle.borrow_mut().pop();
            let Some(mut idle) = idle else { break };
            if !idle.is_closed() && idle.ready().await.is_ok() {
                return Ok(Lent {
                    sender: Sender::H1(idle),
                    _permit: Some(permit),
                });
            }
        }
        let sender = self.open().await?;
        Ok(Lent {
            sender,
            _permit: Some(permit),
        })
    }

    /// Takes back an HTTP/1.1 connection whose response was read whole, if keep-alive is on
    /// and the server did not say it would close.
    pub fn put(&self, lent: Lent<'_>, reusable: bool) {
        if let Sender::H1(sender) = lent.sender
            && self.keep_alive
            && reusable
        {
            self.idle.borrow_mut().push(sender);
        }
    }

    /// Forgets lane `lane`'s HTTP/2 connection after it failed, so the next request opens a
    /// new one.
    pub fn lost(&self, lane: usize) {
        if !self.shared.is_empty() {
            self.shared[lane % self.shared.len()]
                .conn
                .borrow_mut()
                .take();
        }
    }

    pub fn keep_alive(&self) -> bool {
        self.keep_alive
    }

    async fn open(&self) -> Result<Sender, ErrorKind> {
        let sender = self.connector.open().await?;
        self.opened.set(self.opened.get() + 1);
        Ok(sender)
    }

    async fn shared_conn(&self, index: usize) -> Result<H2, ErrorKind> {
        let slot = &self.shared[index];
        if let Some(conn) = slot.conn.borrow().as_ref().filter(|c| !c.is_closed()) {
            return Ok(conn.clone());
        }
        if slot.connecting.get() {
            // Another lane is opening it: wait for that attempt rather than open a second.
            slot.connected.notified().await;
            return slot.conn.borrow().clone().ok_or(ErrorKind::Connect);
        }
        slot.connecting.set(true);
        let opened = self.open().await;
        slot.connecting.set(false);
        let conn = match opened {
            Ok(Sender::H2(conn)) => Ok(conn),
            Ok(Sender::H1(_)) => Err(ErrorKind::Protocol),
            Err(kind) => Err(kind),
        };
        *slot.conn.borrow_mut() = conn.as_ref().ok().cloned();
        slot.connected.notify_waiters();
        conn
    }
}
