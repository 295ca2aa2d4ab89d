//! Opening a measured lane's connection: TCP (with Nagle off), TLS for `rediss://`, or a
//! Unix socket, then the URL's AUTH (or `HELLO 3` for RESP3) and SELECT, pipelined.
//!
//! The URL is read by the redis crate, the same reading the setup's own connection uses, so
//! both reach the same server the same way; only the bytes on the wire are ours.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redis::{ConnectionAddr, ConnectionInfo, RedisConnectionInfo};
use rustls::pki_types::ServerName;
use tokio::net::{TcpStream, UnixStream};
use tokio_rustls::TlsConnector;

use super::conn::{Conn, Stream};
use super::resp::Reply;
use crate::measure::ErrorKind;
use crate::workload::RedisJob;

/// Where and how to connect; shared by every client thread of a job.
pub(super) struct Dialer {
    addr: Addr,
    /// The packed handshake commands and how many replies they get.
    hello: Vec<u8>,
    hello_count: u64,
}

enum Addr {
    Tcp {
        host: String,
        port: u16,
    },
    Tls {
        host: String,
        port: u16,
        connector: TlsConnector,
        name: ServerName<'static>,
    },
    Unix(PathBuf),
}

impl Dialer {
    /// The dialer for `job`, whose URL the redis crate read into `info` (with the job's
    /// `tls_insecure` already applied to it).
    pub fn new(job: &RedisJob, info: &ConnectionInfo) -> Result<Dialer, String> {
        let addr = match info.addr() {
            ConnectionAddr::Tcp(host, port) => Addr::Tcp {
                host: host.clone(),
                port: *port,
            },
            ConnectionAddr::TcpTls {
                host,
                port,
                insecure,
                ..
            } => Addr::Tls {
                host: host.clone(),
                port: *port,
                connector: tls(*insecure, job.tls_ca.as_deref())?,
                name: ServerName::try_from(host.clone())
                    .map_err(|e| format!("host `{host}` is no TLS server name: {e}"))?,
            },
            ConnectionAddr::Unix(path) => Addr::Unix(path.clone()),
            other => return Err(format!("the address {other:?} is not supported")),
        };
        let (hello, hello_count) = handshake(info.redis_settings());
        Ok(Dialer {
            addr,
            hello,
            hello_count,
        })
    }

    /// A connection that has been through the handshake, or what the attempt failed as.
    /// The caller bounds the time it may take.
    pub async fn connect(&self) -> Result<Conn, ErrorKind> {
        let failed = |_| ErrorKind::Connect;
        let stream = match &self.addr {
            Addr::Tcp { host, port } => Stream::Tcp(tcp(host, *port).await?),
            Addr::Tls {
                host,
                port,
                connector,
                name,
            } => {
                let tcp = tcp(host, *port).await?;
                let tls = connector.connect(name.clone(), tcp).await;
                Stream::Tls(Box::new(tls.map_err(|_| ErrorKind::Tls)?))
            }
            Addr::Unix(path) => Stream::Unix(UnixStream::connect(path).await.map_err(failed)?),
        };
        let conn = Conn::new(stream);
        if self.hello_count > 0 {
            let mut replies = Vec::new();
            conn.exchange(&self.hello, self.hello_count, &mut replies)
                .await?;
            if replies.contains(&Reply::Error) {
                // A wrong password or database: the server's refusal, counted as its reply.
                return Err(ErrorKind::Reply);
            }
        }
        Ok(conn)
    }
}

async fn tcp(host: &str, port: u16) -> Result<TcpStream, ErrorKind> {
    let stream = TcpStream::connect((host, port))
        .await
        .map_err(|_| ErrorKind::Connect)?;
    // With Nagle's algorithm on, a pipeline written while an earlier segment awaits its ACK
    // waits for the peer's delayed ACK (up to 40 ms).
    stream.set_nodelay(true).map_err(|_| ErrorKind::Connect)?;
    Ok(stream)
}

/// AUTH (or HELLO 3 with AUTH) and SELECT, as the URL asks, packed as one pipeline.
fn handshake(settings: &RedisConnectionInfo) -> (Vec<u8>, u64) {
    let mut pipe = redis::pipe();
    if settings.protocol().supports_resp3() {
        let hello = pipe.cmd("HELLO").arg(3);
        if let Some(password) = settings.password() {
            hello
                .arg("AUTH")
                .arg(settings.username().unwrap_or("default"))
                .arg(password);
        }
    } else if let Some(password) = settings.password() {
        let auth = pipe.cmd("AUTH");
        if let Some(user) = settings.username() {
            auth.arg(user);
        }
        auth.arg(password);
    }
    if settings.db() != 0 {
        pipe.cmd("SELECT").arg(settings.db());
    }
    (pipe.get_packed_pipeline(), pipe.len() as u64)
}

/// The job's trust for the lanes' connections. The setup's own connection (through the
/// redis crate) has already checked the same server against the same trust.
fn tls(insecure: bool, ca: Option<&Path>) -> Result<TlsConnector, String> {
    let config = crate::tls::client_config(crate::tls::Trust::from_keys(ca, insecure))?;
    Ok(TlsConnector::from(Arc::new(config)))
}
