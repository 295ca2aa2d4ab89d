//! An in-process HTTP server for tests, on 127.0.0.1 and a port of its own.
//!
//! Its capacity is known by construction: `workers` requests are served at once, each
//! taking `service_time`, so it serves at most `workers / service_time` requests per second
//! (others wait for a worker). It counts connections and requests, records the first
//! requests it sees (method, path, headers, body), can reset every Nth request's connection
//! (a TCP RST, not a clean close), stall once for a set time, and speak TLS. HTTP/1.1 and
//! HTTP/2 (h2c with prior knowledge, or ALPN over TLS) are both served.
//!
//! Routes: `/redirect/N` answers 302 to `/redirect/N-1` down to `/redirect/0` (200);
//! `POST /orders` creates an order and answers 201 with `{"id": "..."}`; `GET /orders/ID`
//! answers 200 for a known order, 404 otherwise; `/status/N` answers status N; `/login` sets
//! a `session` cookie and `/me` answers 200 only with it (401 otherwise); anything else 200
//! with a small JSON body.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::os::fd::AsRawFd as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore};

/// How the server behaves. `Default` is an always-ready server with no service time.
#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    /// Requests served at once; `None` for no limit.
    pub workers: Option<usize>,
    /// How long each request holds its worker.
    pub service_time: Duration,
    /// Reset the connection instead of answering every Nth request (20 resets 5 %).
    pub reset_every: Option<u64>,
    /// Once the server has seen this many requests, every request waits until `length`
    /// after that moment: one stall.
    pub stall: Option<(u64, Duration)>,
    /// Requests whose method, path, headers and body are kept (the first ones).
    pub record: usize,
    /// A PEM certificate and key: serve TLS.
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub version: hyper::Version,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the server counted, shared with the test.
#[derive(Debug, Default)]
pub struct Stats {
    pub connections: AtomicU64,
    pub requests: AtomicU64,
    pub resets: AtomicU64,
    /// Connections open now, and the most open at once.
    pub open: AtomicU64,
    pub most_open: AtomicU64,
    seen: Mutex<Vec<Seen>>,
    paths: Mutex<BTreeMap<String, u64>>,
    orders: Mutex<HashSet<String>>,
    stall_until: Mutex<Option<Instant>>,
}

impl Stats {
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    pub fn resets(&self) -> u64 {
        self.resets.load(Ordering::SeqCst)
    }

    pub fn most_open(&self) -> u64 {
        self.most_open.load(Ordering::SeqCst)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Requests per path (query included), over the whole run.
    pub fn paths(&self) -> BTreeMap<String, u64> {
        self.paths.lock().unwrap().clone()
    }

    pub fn path_count(&self, path: &str) -> u64 {
        self.paths().get(path).copied().unwrap_or(0)
    }
}

/// A running server; it stops when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    pub stats: Arc<Stats>,
    stop: Arc<Notify>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    pub fn start(config: ServerConfig) -> TestServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stats = Arc::new(Stats::default());
        let stop = Arc::new(Notify::new());
        let thread = {
            let (stats, stop) = (stats.clone(), stop.clone());
            std::thread::Builder::new()
                .name("test-http-server".into())
                .spawn(move || serve(listener, config, stats, stop))
                .unwrap()
        };
        TestServer {
            addr,
            stats,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn tls_url(&self) -> String {
        format!("https://{}", self.addr)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct State {
    config: ServerConfig,
    stats: Arc<Stats>,
    workers: Option<Semaphore>,
}

fn serve(
    listener: std::net::TcpListener,
    config: ServerConfig,
    stats: Arc<Stats>,
    stop: Arc<Notify>,
) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let listener = TcpListener::from_std(listener).unwrap();
        let acceptor = config
            .tls
            .as_ref()
            .map(|(cert, key)| tls_acceptor(cert, key));
        let state = Arc::new(State {
            workers: config.workers.map(Semaphore::new),
            config,
            stats,
        });
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = stop.notified() => break,
            };
            let Ok((stream, _)) = accepted else { continue };
            let _ = stream.set_nodelay(true);
            let state = state.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let fd = stream.as_raw_fd();
                let stats = state.stats.clone();
                stats.connections.fetch_add(1, Ordering::SeqCst);
                let open = stats.open.fetch_add(1, Ordering::SeqCst) + 1;
                stats.most_open.fetch_max(open, Ordering::SeqCst);
                let reset = Arc::new(Notify::new());
                match acceptor {
                    None => connection(TokioIo::new(stream), state, reset, fd).await,
                    Some(acceptor) => {
                        if let Ok(tls) = acceptor.accept(stream).await {
                            connection(TokioIo::new(tls), state, reset, fd).await;
                        }
                    }
                }
                stats.open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
}

async fn connection<T>(io: TokioIo<T>, state: Arc<State>, reset: Arc<Notify>, fd: i32)
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = {
        let (state, reset) = (state.clone(), reset.clone());
        hyper::service::service_fn(move |request| {
            let (state, reset) = (state.clone(), reset.clone());
            async move { Ok::<_, Infallible>(handle(request, &state, &reset).await) }
        })
    };
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection(io, service);
    tokio::select! {
        _ = conn => {}
        _ = reset.notified() => {
            // SO_LINGER with a zero timeout turns the close into a reset (RST).
            let linger = libc::linger { l_onoff: 1, l_linger: 0 };
            // SAFETY: `fd` is the connection's socket, still open: the connection future
            // that owns it is dropped only after this call.
            unsafe {
                libc::setsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    (&linger as *const libc::linger).cast(),
                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                );
            }
        }
    }
}

async fn handle(
    request: Request<Incoming>,
    state: &State,
    reset: &Notify,
) -> Response<Full<Bytes>> {
    let stats = &state.stats;
    let n = stats.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/".to_owned(), |pq| pq.as_str().to_owned());
    *stats.paths.lock().unwrap().entry(path.clone()).or_default() += 1;
    {
        let mut seen = stats.seen.lock().unwrap();
        if seen.len() < state.config.record {
            seen.push(Seen {
                method: parts.method.to_string(),
                path: path.clone(),
                headers: parts
                    .headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
                    .collect(),
                body: body.to_vec(),
                version: parts.version,
            });
        }
    }
    if state
        .config
        .reset_every
        .is_some_and(|every| n.is_multiple_of(every))
    {
        stats.resets.fetch_add(1, Ordering::SeqCst);
        reset.notify_one();
        // Never answer: the connection is reset under this request.
        std::future::pending::<()>().await;
    }
    stall(state, n).await;
    let _permit = match &state.workers {
        Some(workers) => Some(workers.acquire().await.unwrap()),
        None => None,
    };
    if !state.config.service_time.is_zero() {
        tokio::time::sleep(state.config.service_time).await;
    }
    route(&parts, &path, &body, stats)
}

async fn stall(state: &State, n: u64) {
    let Some((after, length)) = state.config.stall else {
        return;
    };
    let until = {
        let mut until = state.stats.stall_until.lock().unwrap();
        if n == after {
            *until = Some(Instant::now() + length);
        }
        *until
    };
    if let Some(until) = until.filter(|u| *u > Instant::now()) {
        tokio::time::sleep_until(until.into()).await;
    }
}

fn route(
    parts: &http::request::Parts,
    path: &str,
    _body: &[u8],
    stats: &Stats,
) -> Response<Full<Bytes>> {
    let respond = |status: u16, body: String| {
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .unwrap()
    };
    let segments: Vec<&str> = path.split('?').next().unwrap_or("").split('/').collect();
    match (parts.method.as_str(), &segments[1..]) {
        (_, ["redirect", n]) => match n.parse::<u32>() {
            Ok(0) => respond(200, r#"{"arrived":true}"#.into()),
            Ok(n) => Response::builder()
                .status(StatusCode::FOUND)
                .header("location", format!("/redirect/{}", n - 1))
                .body(Full::new(Bytes::new()))
                .unwrap(),
            Err(_) => respond(400, "{}".into()),
        },
        ("POST", ["orders"]) => {
            let id = format!("o-{}", stats.requests());
            stats.orders.lock().unwrap().insert(id.clone());
            Response::builder()
                .status(201)
                .header("content-type", "application/json")
                .header("location", format!("/orders/{id}"))
                .body(Full::new(Bytes::from(format!(
                    r#"{{"id":"{id}","state":"open"}}"#
                ))))
                .unwrap()
        }
        ("GET", ["orders", id]) => {
            if stats.orders.lock().unwrap().contains(*id) {
                respond(200, format!(r#"{{"id":"{id}","state":"open"}}"#))
            } else {
                respond(404, r#"{"error":"no such order"}"#.into())
            }
        }
        (_, ["status", code]) => respond(code.parse().unwrap_or(400), "{}".into()),
        (_, ["login"]) => Response::builder()
            .status(200)
            .header(
                "set-cookie",
                format!("session=s{}; Path=/; HttpOnly", stats.requests()),
            )
            .body(Full::new(Bytes::from_static(b"{}")))
            .unwrap(),
        (_, ["me"]) => {
            let cookie = parts.headers.get("cookie").and_then(|v| v.to_str().ok());
            if cookie.is_some_and(|c| c.contains("session=s")) {
                respond(200, r#"{"me":true}"#.into())
            } else {
                respond(401, "{}".into())
            }
        }
        _ => respond(200, r#"{"ok":true}"#.into()),
    }
}

fn tls_acceptor(cert: &PathBuf, key: &PathBuf) -> tokio_rustls::TlsAcceptor {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer> = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}
