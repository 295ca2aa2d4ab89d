//! A PostgreSQL connection through libpq's asynchronous interface, for the lanes' plain
//! (unencrypted) connections.
//!
//! libpq is what pgbench uses, and per statement it costs the client about half the
//! user-space CPU of tokio-postgres, which hands every request and reply through a channel
//! to a connection future and makes a fresh response channel per query (BENCHMARKS.md,
//! PostgreSQL). The URL is still read by tokio-postgres, so `validate` and `run` agree on
//! it; libpq gets the parts as keywords. TLS connections stay on tokio-postgres and rustls,
//! so that certificates are checked one way; the libpq here is built without TLS.
//!
//! libpq does the protocol and owns the socket; this module only waits on the socket with
//! the lane thread's reactor. That reactor's readiness is edge-triggered, and libpq does not
//! say whether a read found the socket empty, so readiness is cleared before each read
//! (anything that arrives after it sets it again), and a read that leaves a reply
//! incomplete is followed by a zero-timeout `poll` to see whether libpq's buffer, not the
//! socket, ran out. A whole reply, the usual case, costs one `recv` and nothing more.
//!
//! Safety, for every libpq call here: `raw` is a live connection from PQconnectStartParams,
//! finished only on drop, and used by one thread at a time (a lane's); results are cleared
//! once, by [`Outcome`]'s drop.

use std::ffi::{CStr, CString, c_char, c_int};
use std::future::poll_fn;
use std::os::fd::RawFd;
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

use bytes::BytesMut;
use pq_sys as pq;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio_postgres::Config;
use tokio_postgres::config::{Host, LoadBalanceHosts, TargetSessionAttrs};
use tokio_postgres::types::Type;

use super::conn::{takes, value_to_sql};
use crate::drivers::sql::{Params, Placeholder, SqlError, SqlErrorKind, Takes, Value};

/// libpq's connection keywords for a URL tokio-postgres read, without TLS. `None` when the
/// URL leaves out the host or the user, which tokio-postgres refuses at connect with its own
/// message; such a job keeps tokio-postgres, so that it fails the same way.
pub(super) fn keywords(config: &Config) -> Option<Keywords> {
    let hosts = config.get_hosts();
    let user = config.get_user()?;
    if hosts.is_empty() {
        return None;
    }
    let mut pairs: Vec<(&str, String)> = Vec::new();
    let host = |h: &Host| match h {
        Host::Tcp(name) => name.clone(),
        Host::Unix(path) => path.to_string_lossy().into_owned(),
    };
    pairs.push(("host", hosts.iter().map(host).collect::<Vec<_>>().join(",")));
    let addrs = config.get_hostaddrs();
    if !addrs.is_empty() {
        let addrs: Vec<String> = addrs.iter().map(ToString::to_string).collect();
        pairs.push(("hostaddr", addrs.join(",")));
    }
    let ports: Vec<String> = config.get_ports().iter().map(ToString::to_string).collect();
    if !ports.is_empty() {
        pairs.push(("port", ports.join(",")));
    }
    pairs.push(("user", user.to_owned()));
    if let Some(password) = config.get_password() {
        pairs.push(("password", String::from_utf8_lossy(password).into_owned()));
    }
    if let Some(dbname) = config.get_dbname() {
        pairs.push(("dbname", dbname.to_owned()));
    }
    if let Some(options) = config.get_options() {
        pairs.push(("options", options.to_owned()));
    }
    if let Some(name) = config.get_application_name() {
        pairs.push(("application_name", name.to_owned()));
    }
    if let Some(timeout) = config.get_tcp_user_timeout() {
        pairs.push(("tcp_user_timeout", timeout.as_millis().to_string()));
    }
    if config.get_target_session_attrs() == TargetSessionAttrs::ReadWrite {
        pairs.push(("target_session_attrs", "read-write".to_owned()));
    }
    if config.get_load_balance_hosts() == LoadBalanceHosts::Random {
        pairs.push(("load_balance_hosts", "random".to_owned()));
    }
    pairs.push(("sslmode", "disable".to_owned()));
    pairs.push(("gssencmode", "disable".to_owned()));
    let pairs = pairs.into_iter().map(|(key, value)| {
        let value = CString::new(value).ok()?;
        Some((CString::new(key).expect("keyword"), value))
    });
    Some(Keywords(pairs.collect::<Option<_>>()?))
}

/// libpq connection keywords and their values.
pub(super) struct Keywords(Vec<(CString, CString)>);

/// One prepared statement: its name on the connection and its placeholders' types.
struct Prepared {
    name: CString,
    types: Vec<Slot>,
}

/// A placeholder's type: one tokio-postgres knows, or one of the database's own (an enum, a
/// domain) by its name, which nothing drawn binds to.
enum Slot {
    Known(Type),
    Own(String),
}

impl Slot {
    fn name(&self) -> &str {
        match self {
            Slot::Known(ty) => ty.name(),
            Slot::Own(name) => name,
        }
    }
}

pub struct PqConn {
    raw: NonNull<pq::PGconn>,
    /// The connection's socket, watched by the lane thread's reactor; set once connected.
    /// Dropped before the connection, which closes it.
    socket: Option<AsyncFd<RawFd>>,
    statements: Vec<Prepared>,
    /// Transaction control prepared at connect, by text, with its statement name.
    control: Vec<(&'static CStr, CString)>,
    /// A request whose reply has not been read to its end: a statement's future was dropped
    /// part way (its timeout). The next request reads the rest first, as a pipelined client
    /// would have.
    unfinished: bool,
    /// The binary values of the statement being sent, and where each one is.
    values: BytesMut,
    bounds: Vec<(usize, usize)>,
    pointers: Vec<*const c_char>,
    lengths: Vec<c_int>,
    formats: Vec<c_int>,
}

impl Drop for PqConn {
    fn drop(&mut self) {
        drop(self.socket.take());
        // SAFETY: `raw` came from PQconnectStartParams and is finished only here.
        unsafe { pq::PQfinish(self.raw.as_ptr()) };
    }
}

impl PqConn {
    /// Connects and prepares `texts`; the first statement the server refuses fails with its
    /// index. `control`, the job's transaction control (its BEGIN, COMMIT), is prepared too,
    /// as pgbench's prepared mode does: run with the simple protocol, the server would parse
    /// and plan it again in every transaction.
    pub(super) async fn connect(
        keywords: &Keywords,
        texts: &[String],
        control: &[&'static CStr],
    ) -> Result<PqConn, SqlError> {
        let mut keys: Vec<*const c_char> = keywords.0.iter().map(|(k, _)| k.as_ptr()).collect();
        let mut values: Vec<*const c_char> = keywords.0.iter().map(|(_, v)| v.as_ptr()).collect();
        keys.push(std::ptr::null());
        values.push(std::ptr::null());
        // SAFETY: both arrays end in a null pointer and outlive the call, which copies them.
        let raw = unsafe { pq::PQconnectStartParams(keys.as_ptr(), values.as_ptr(), 0) };
        let raw = NonNull::new(raw).ok_or_else(|| lost("libpq could not allocate a connection"))?;
        let mut conn = PqConn {
            raw,
            socket: None,
            statements: Vec::with_capacity(texts.len()),
            control: Vec::with_capacity(control.len()),
            unfinished: false,
            values: BytesMut::new(),
            bounds: Vec::new(),
            pointers: Vec::new(),
            lengths: Vec::new(),
            formats: Vec::new(),
        };
        conn.handshake().await?;
        for (i, text) in texts.iter().enumerate() {
            let prepared = conn.prepare(i, text).await.map_err(|e| SqlError {
                statement: Some(i),
                ..e
            })?;
            conn.statements.push(prepared);
        }
        conn.prepare_control(control).await?;
        Ok(conn)
    }

    async fn handshake(&mut self) -> Result<(), SqlError> {
        let raw = self.raw.as_ptr();
        if unsafe { pq::PQstatus(raw) } == pq::ConnStatusType::CONNECTION_BAD {
            return Err(self.connection_error());
        }
        let mut step = pq::PostgresPollingStatusType::PGRES_POLLING_WRITING;
        loop {
            let interest = match step {
                pq::PostgresPollingStatusType::PGRES_POLLING_OK => break,
                pq::PostgresPollingStatusType::PGRES_POLLING_FAILED => {
                    return Err(self.connection_error());
                }
                pq::PostgresPollingStatusType::PGRES_POLLING_READING => Interest::READABLE,
                _ => Interest::WRITABLE,
            };
            // libpq may close the socket and open another (the next host, say), which can
            // reuse the number; so each wait registers the socket anew and lets it go again
            // before libpq runs.
            let socket = register(unsafe { pq::PQsocket(raw) }, interest)?;
            let guard = socket
                .ready(interest)
                .await
                .map_err(|e| lost(e.to_string()))?;
            drop(guard);
            drop(socket);
            step = unsafe { pq::PQconnectPoll(raw) };
        }
        if unsafe { pq::PQsetnonblocking(raw, 1) } != 0 {
            return Err(self.connection_error());
        }
        let both = Interest::READABLE | Interest::WRITABLE;
        self.socket = Some(register(unsafe { pq::PQsocket(raw) }, both)?);
        Ok(())
    }

    /// Prepares `text` and asks for its placeholders' types in one round trip and one
    /// server transaction (a pipeline with one sync), as tokio-postgres does: separately,
    /// each connection would add a commit per statement to the server's count.
    async fn prepare(&mut self, i: usize, text: &str) -> Result<Prepared, SqlError> {
        let name = CString::new(format!("s{i}")).expect("no NUL in a statement name");
        let text = CString::new(text)
            .map_err(|_| SqlError::new(SqlErrorKind::Protocol, "the statement holds a NUL"))?;
        let raw = self.raw.as_ptr();
        let queued = unsafe {
            pq::PQenterPipelineMode(raw) == 1
                && pq::PQsendPrepare(raw, name.as_ptr(), text.as_ptr(), 0, std::ptr::null()) == 1
                && pq::PQsendDescribePrepared(raw, name.as_ptr()) == 1
                && pq::PQpipelineSync(raw) == 1
        };
        self.sent(queued).await?;
        let parsed = self.finish(|_| ()).await;
        let mut oids = Vec::new();
        let described = self
            .finish(|result| {
                let count = unsafe { pq::PQnparams(result) };
                oids = (0..count)
                    .map(|k| unsafe { pq::PQparamtype(result, k) })
                    .collect();
            })
            .await;
        self.end_pipeline().await?;
        parsed?;
        described?;
        let mut types = Vec::with_capacity(oids.len());
        for oid in oids {
            types.push(match Type::from_oid(oid) {
                Some(ty) => Slot::Known(ty),
                None => Slot::Own(self.type_name(oid).await?),
            });
        }
        Ok(Prepared { name, types })
    }

    /// Prepares `texts`, which take no parameters, in one round trip and one server
    /// transaction.
    async fn prepare_control(&mut self, texts: &[&'static CStr]) -> Result<(), SqlError> {
        let raw = self.raw.as_ptr();
        let mut queued = unsafe { pq::PQenterPipelineMode(raw) } == 1;
        for (k, &text) in texts.iter().enumerate() {
            let name = CString::new(format!("t{k}")).expect("no NUL in a statement name");
            queued = queued
                && unsafe {
                    pq::PQsendPrepare(raw, name.as_ptr(), text.as_ptr(), 0, std::ptr::null())
                } == 1;
            self.control.push((text, name));
        }
        self.sent(queued && unsafe { pq::PQpipelineSync(raw) } == 1)
            .await?;
        let mut outcome = Ok(());
        for _ in texts {
            let parsed = self.finish(|_| ()).await;
            outcome = outcome.and(parsed);
        }
        self.end_pipeline().await?;
        outcome
    }

    /// Reads the sync that ends a pipeline's replies and leaves pipeline mode.
    async fn end_pipeline(&mut self) -> Result<(), SqlError> {
        let synced = self.next_result().await?;
        let status = synced
            .as_ref()
            .map(|r| unsafe { pq::PQresultStatus(r.0.as_ptr()) });
        if status != Some(pq::ExecStatusType::PGRES_PIPELINE_SYNC)
            || unsafe { pq::PQexitPipelineMode(self.raw.as_ptr()) } != 1
        {
            self.socket = None;
            return Err(SqlError::new(
                SqlErrorKind::Protocol,
                "the prepare's reply ended oddly",
            ));
        }
        self.done();
        Ok(())
    }

    /// The name of the database's own type `oid`, as SQL writes it. Only a statement that
    /// setup will refuse has one, so this round trip is never a lane's.
    async fn type_name(&mut self, oid: u32) -> Result<String, SqlError> {
        let sql = CString::new(format!("SELECT format_type({oid}, NULL)")).expect("no NUL");
        let sent = unsafe { pq::PQsendQuery(self.raw.as_ptr(), sql.as_ptr()) };
        self.sent(sent == 1).await?;
        let mut name = format!("the type with OID {oid}");
        let outcome = self
            .finish(|result| {
                if unsafe { pq::PQntuples(result) } == 1
                    && unsafe { pq::PQgetisnull(result, 0, 0) } == 0
                {
                    let value = unsafe { CStr::from_ptr(pq::PQgetvalue(result, 0, 0)) };
                    name = value.to_string_lossy().into_owned();
                }
            })
            .await;
        self.done();
        outcome.map(|()| name)
    }

    pub async fn execute(&mut self, statement: usize, params: Params<'_>) -> Result<(), SqlError> {
        if self.unfinished {
            self.settle().await?;
        }
        self.bind(statement, params)?;
        let prepared = &self.statements[statement];
        let sent = unsafe {
            pq::PQsendQueryPrepared(
                self.raw.as_ptr(),
                prepared.name.as_ptr(),
                self.pointers.len() as c_int,
                self.pointers.as_ptr(),
                self.lengths.as_ptr(),
                self.formats.as_ptr(),
                0,
            )
        };
        self.sent(sent == 1).await?;
        let outcome = self.finish(|_| ()).await;
        self.done();
        outcome
    }

    /// Runs transaction control `sql`: prepared, when it was prepared at connect, or else
    /// with the simple protocol.
    pub async fn control(&mut self, sql: &'static CStr) -> Result<(), SqlError> {
        if self.unfinished {
            self.settle().await?;
        }
        let raw = self.raw.as_ptr();
        let sent = match self.control.iter().find(|(text, _)| *text == sql) {
            Some((_, name)) => unsafe {
                let (values, ints) = (std::ptr::null(), std::ptr::null());
                pq::PQsendQueryPrepared(raw, name.as_ptr(), 0, values, ints, ints, 0)
            },
            None => unsafe { pq::PQsendQuery(raw, sql.as_ptr()) },
        };
        self.sent(sent == 1).await?;
        let outcome = self.finish(|_| ()).await;
        self.done();
        outcome
    }

    pub fn is_lost(&self) -> bool {
        let status = unsafe { pq::PQstatus(self.raw.as_ptr()) };
        self.socket.is_none() || status == pq::ConnStatusType::CONNECTION_BAD
    }

    pub fn placeholders(&self, statement: usize) -> Vec<Placeholder> {
        let types = self.statements[statement].types.iter();
        types
            .map(|slot| Placeholder {
                type_name: slot.name().to_owned(),
                takes: match slot {
                    Slot::Known(ty) => takes(ty),
                    Slot::Own(_) => Takes::Nothing,
                },
            })
            .collect()
    }

    /// Writes the values of `params` in the types their placeholders take, as
    /// tokio-postgres would, into the buffers the send reads.
    fn bind(&mut self, statement: usize, params: Params<'_>) -> Result<(), SqlError> {
        let types = &self.statements[statement].types;
        self.values.clear();
        self.bounds.clear();
        for (position, (value, slot)) in params.iter().zip(types).enumerate() {
            let start = self.values.len();
            let written = match slot {
                Slot::Known(ty) => value_to_sql(value, ty, &mut self.values).is_ok(),
                Slot::Own(_) => false,
            };
            if !written {
                let ty = slot.name();
                let message = match value {
                    Value::Int(n) => format!("{n} does not fit {ty}"),
                    Value::Text(text) => format!("{text:?} is not a {ty}"),
                };
                let name = params.name(position);
                let message = format!("parameter `{name}`: {message}");
                return Err(SqlError::new(SqlErrorKind::Bind(name), message));
            }
            self.bounds.push((start, self.values.len()));
        }
        let base = self.values.as_ptr();
        self.pointers.clear();
        self.lengths.clear();
        for &(start, end) in &self.bounds {
            // SAFETY: `start` is within `values`, which is not touched again before the send.
            self.pointers.push(unsafe { base.add(start) }.cast());
            self.lengths.push((end - start) as c_int);
        }
        self.formats.resize(self.bounds.len(), 1);
        Ok(())
    }

    /// After a `PQsend*` call, whether it `queued` the request: sends the request on.
    async fn sent(&mut self, queued: bool) -> Result<(), SqlError> {
        if !queued {
            return Err(self.connection_error());
        }
        self.unfinished = true;
        self.flush().await
    }

    /// Writes out what libpq holds of the request.
    async fn flush(&mut self) -> Result<(), SqlError> {
        loop {
            match unsafe { pq::PQflush(self.raw.as_ptr()) } {
                0 => return Ok(()),
                // The socket took no more (EAGAIN): wait until it takes more, then try again.
                1 => {
                    let socket = self.socket()?;
                    let ready = poll_fn(|cx| socket.poll_write_ready(cx)).await;
                    ready.map_err(|e| lost(e.to_string()))?.clear_ready();
                }
                _ => return Err(self.connection_error()),
            }
        }
    }

    /// Reads the results of one query of the request sent last, to the end of them, handing
    /// each to `each`. The first error result is the outcome; the rest is still read, so that
    /// the connection is ready for what follows.
    async fn finish(&mut self, mut each: impl FnMut(*const pq::PGresult)) -> Result<(), SqlError> {
        let mut outcome = Ok(());
        while let Some(result) = self.next_result().await? {
            let status = unsafe { pq::PQresultStatus(result.0.as_ptr()) };
            match status {
                pq::ExecStatusType::PGRES_COMMAND_OK | pq::ExecStatusType::PGRES_TUPLES_OK => {
                    each(result.0.as_ptr())
                }
                pq::ExecStatusType::PGRES_COPY_IN
                | pq::ExecStatusType::PGRES_COPY_OUT
                | pq::ExecStatusType::PGRES_COPY_BOTH => {
                    // A COPY holds the connection until it is fed or drained, which a lane
                    // does not do; the connection is given up.
                    self.socket = None;
                    let message = "COPY is not something a lane runs";
                    return Err(SqlError::new(SqlErrorKind::Protocol, message));
                }
                _ if outcome.is_ok() => outcome = Err(self.result_error(&result, status)),
                _ => {}
            }
        }
        outcome
    }

    /// The next result of the query being read, waiting for the server if need be; `None`
    /// at the end of the query's results.
    async fn next_result(&mut self) -> Result<Option<Outcome>, SqlError> {
        let raw = self.raw.as_ptr();
        loop {
            if unsafe { pq::PQisBusy(raw) } == 0 {
                return Ok(NonNull::new(unsafe { pq::PQgetResult(raw) }).map(Outcome));
            }
            self.read().await?;
        }
    }

    /// The request's reply has been read to its end.
    fn done(&mut self) {
        self.unfinished = false;
        self.forget_read_readiness();
    }

    /// Reads what the socket has into libpq, waiting for it if need be.
    async fn read(&mut self) -> Result<(), SqlError> {
        let raw = self.raw.as_ptr();
        let socket = self.socket()?;
        // `poll_read_ready`, not `readable()`: the future keeps a waiter list, which costs
        // more per reply, and a lane has only one waiter per socket anyway.
        let ready = poll_fn(|cx| socket.poll_read_ready(cx)).await;
        ready.map_err(|e| lost(e.to_string()))?.clear_ready();
        loop {
            if unsafe { pq::PQconsumeInput(raw) } == 0 {
                return Err(self.connection_error());
            }
            if unsafe { pq::PQisBusy(raw) } == 0 || !readable_now(socket.get_ref()) {
                return Ok(());
            }
        }
    }

    /// A reply read to its end leaves the socket's readiness set by its arrival; clearing it
    /// makes the next wait sleep until the next reply arrives. Anything the server sent
    /// unasked after the reply is read with that next one.
    fn forget_read_readiness(&self) {
        let Some(socket) = &self.socket else { return };
        let mut quiet = Context::from_waker(Waker::noop());
        if let Poll::Ready(Ok(mut guard)) = socket.poll_read_ready(&mut quiet) {
            guard.clear_ready();
        }
    }

    /// Reads the rest of a reply that a dropped request left.
    async fn settle(&mut self) -> Result<(), SqlError> {
        self.flush().await?;
        let outcome = self.finish(|_| ()).await;
        self.done();
        match outcome {
            Err(error) if error.connection_lost => Err(error),
            _ => Ok(()),
        }
    }

    fn socket(&self) -> Result<&AsyncFd<RawFd>, SqlError> {
        self.socket
            .as_ref()
            .ok_or_else(|| lost("the connection was closed"))
    }

    /// The connection's own error: it failed, or is failing.
    fn connection_error(&mut self) -> SqlError {
        let message = unsafe { CStr::from_ptr(pq::PQerrorMessage(self.raw.as_ptr())) };
        // libpq's messages run over lines ("...failed: Connection refused\n\tIs the server
        // running...?"); an error kind is one line.
        let message = message
            .to_string_lossy()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if unsafe { pq::PQstatus(self.raw.as_ptr()) } == pq::ConnStatusType::CONNECTION_BAD {
            self.socket = None;
        }
        lost(message)
    }

    /// What an error result counts as. A server error keeps its SQLSTATE and message, as
    /// tokio-postgres's do; one libpq made up itself (the connection broke) is a connect
    /// error.
    fn result_error(&mut self, result: &Outcome, status: pq::ExecStatusType) -> SqlError {
        let result = result.0.as_ptr();
        let field = |code: u8| {
            let text = unsafe { pq::PQresultErrorField(result, c_int::from(code)) };
            (!text.is_null()).then(|| unsafe { CStr::from_ptr(text) }.to_string_lossy())
        };
        let Some(code) = field(pq::PG_DIAG_SQLSTATE) else {
            if status != pq::ExecStatusType::PGRES_FATAL_ERROR {
                let name = unsafe { CStr::from_ptr(pq::PQresStatus(status)) };
                let message = format!("unexpected reply: {}", name.to_string_lossy());
                return SqlError::new(SqlErrorKind::Protocol, message);
            }
            let message = unsafe { CStr::from_ptr(pq::PQresultErrorMessage(result)) };
            let mut error = lost(message.to_string_lossy().trim_end());
            if !self.is_lost() {
                error.kind = SqlErrorKind::Protocol;
                error.connection_lost = false;
            }
            return error;
        };
        let severity = field(pq::PG_DIAG_SEVERITY).unwrap_or_default();
        let primary = field(pq::PG_DIAG_MESSAGE_PRIMARY).unwrap_or_default();
        let mut message = format!("{severity}: {primary}");
        if let Some(detail) = field(pq::PG_DIAG_MESSAGE_DETAIL) {
            message.push_str(&format!("; detail: {detail}"));
        }
        if let Some(hint) = field(pq::PG_DIAG_MESSAGE_HINT) {
            message.push_str(&format!("; hint: {hint}"));
        }
        let mut error = SqlError::state(&code, message);
        // FATAL and PANIC end the session (a server shutting down says 57P01).
        let plain = field(pq::PG_DIAG_SEVERITY_NONLOCALIZED).unwrap_or_default();
        error.connection_lost = plain != "ERROR" || self.is_lost();
        error
    }
}

/// A result, cleared when dropped.
struct Outcome(NonNull<pq::PGresult>);

impl Drop for Outcome {
    fn drop(&mut self) {
        unsafe { pq::PQclear(self.0.as_ptr()) };
    }
}

/// A connect error on a connection that is gone.
fn lost(message: impl Into<String>) -> SqlError {
    let mut error = SqlError::new(SqlErrorKind::Connect, message);
    error.connection_lost = true;
    error
}

/// Watches `fd` with the thread's reactor.
fn register(fd: RawFd, interest: Interest) -> Result<AsyncFd<RawFd>, SqlError> {
    // SAFETY: libpq keeps the socket open until it closes it in PQconnectPoll or PQfinish,
    // and each `AsyncFd` made here is dropped before either can run.
    unsafe { AsyncFd::register_with_interest(fd, interest) }.map_err(|e| lost(e.to_string()))
}

/// Whether `fd` has something to read now, by a zero-timeout `poll`.
fn readable_now(fd: &RawFd) -> bool {
    let mut query = libc::pollfd {
        fd: *fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no waiting.
    let ready = unsafe { libc::poll(&mut query, 1, 0) };
    ready > 0 && query.revents != 0
}
