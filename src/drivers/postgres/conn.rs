//! One PostgreSQL connection running prepared statements, and what tokio-postgres errors
//! count as.
//!
//! Parameters are bound in the type the server inferred for each placeholder: a drawn
//! number goes out as int2, int4, int8 or a float as the column wants, text as text, and
//! text that reads as a number as that number. Which placeholder takes what is told to setup
//! ([`Conn::placeholders`]), which refuses a parameter that would not bind.

use std::error::Error as _;
use std::ffi::CStr;
use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};

use bytes::BytesMut;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, Statement};

use super::Driver;
use super::libpq::PqConn;
use crate::drivers::sql::{Conn, Params, Placeholder, SqlError, SqlErrorKind, Takes, Value};
use crate::workload::Isolation;

/// A lane's connection: libpq's for a plain one, which costs the client less CPU per
/// statement, and tokio-postgres's for TLS, whose certificates rustls checks.
pub enum PgConn {
    Libpq(PqConn),
    Tokio(TokioConn),
}

impl Conn for PgConn {
    async fn execute(&mut self, statement: usize, params: Params<'_>) -> Result<(), SqlError> {
        match self {
            PgConn::Libpq(conn) => conn.execute(statement, params).await,
            PgConn::Tokio(conn) => conn.execute(statement, params).await,
        }
    }

    async fn begin(&mut self, isolation: Option<Isolation>) -> Result<(), SqlError> {
        match self {
            PgConn::Libpq(conn) => conn.control(begin_sql(isolation)).await,
            PgConn::Tokio(conn) => conn.begin(isolation).await,
        }
    }

    async fn commit(&mut self) -> Result<(), SqlError> {
        match self {
            PgConn::Libpq(conn) => conn.control(c"COMMIT").await,
            PgConn::Tokio(conn) => conn.commit().await,
        }
    }

    async fn rollback(&mut self) -> Result<(), SqlError> {
        match self {
            PgConn::Libpq(conn) => conn.control(c"ROLLBACK").await,
            PgConn::Tokio(conn) => conn.rollback().await,
        }
    }

    fn is_lost(&self) -> bool {
        match self {
            PgConn::Libpq(conn) => conn.is_lost(),
            PgConn::Tokio(conn) => conn.is_lost(),
        }
    }

    fn placeholders(&self, statement: usize) -> Vec<Placeholder> {
        match self {
            PgConn::Libpq(conn) => conn.placeholders(statement),
            PgConn::Tokio(conn) => conn.placeholders(statement),
        }
    }
}

pub(super) fn begin_sql(isolation: Option<Isolation>) -> &'static CStr {
    match isolation {
        None => c"BEGIN",
        Some(Isolation::ReadCommitted) => c"BEGIN ISOLATION LEVEL READ COMMITTED",
        Some(Isolation::RepeatableRead) => c"BEGIN ISOLATION LEVEL REPEATABLE READ",
        Some(Isolation::Serializable) => c"BEGIN ISOLATION LEVEL SERIALIZABLE",
    }
}

pub struct TokioConn {
    client: Client,
    statements: Vec<Statement>,
    /// Transaction control prepared at connect, by text (see [`PqConn::connect`]).
    control: Vec<(&'static CStr, Statement)>,
    /// The connection's I/O, polled by the lane itself while one of its statements is out
    /// (see [`driven`]); `None` once it has ended, which fails every later statement.
    driver: Option<Driver>,
}

impl TokioConn {
    /// Prepares `texts` on `client`; the first the server refuses fails with its index.
    /// `control` is prepared too.
    pub(super) async fn prepare(
        client: Client,
        driver: Driver,
        texts: &[String],
        control: &[&'static CStr],
    ) -> Result<TokioConn, SqlError> {
        let mut driver = Some(driver);
        let mut statements = Vec::with_capacity(texts.len());
        for (i, text) in texts.iter().enumerate() {
            let prepared = driven(&mut driver, pin!(client.prepare(text)))
                .await
                .map_err(|e| SqlError {
                    statement: Some(i),
                    ..classify(&e)
                })?;
            statements.push(prepared);
        }
        let mut prepared = Vec::with_capacity(control.len());
        for &sql in control {
            let text = sql.to_str().expect("ASCII");
            let statement = driven(&mut driver, pin!(client.prepare(text))).await;
            prepared.push((sql, statement.map_err(|e| classify(&e))?));
        }
        Ok(TokioConn {
            client,
            statements,
            control: prepared,
            driver,
        })
    }
}

/// Runs `work`, a request on the connection, polling the connection's I/O in the same task.
/// A connection spawned as a task of its own costs a hop between two tasks each way on
/// every statement (a wake, a trip through the scheduler and a poll of each). The connection
/// has nothing to do while no request is out (a server's notices wait in the socket), so it
/// is polled only then. When it ends, it is dropped, so that `work` and every later request
/// see it closed.
///
/// Only the socket (and the lane's timer) may wake the lane: `work` moves only when the
/// connection hands it something, and the connection is polled just before it every time, so
/// `work` is polled with a waker that does nothing. Otherwise queueing a request and handing
/// back its response would each wake the lane for a poll with nothing to do. For the same
/// reason the connection is first polled without a waker, so that the request `work` queues
/// wakes nothing; the poll after it registers the lane's waker with the socket.
///
/// `work` is pinned by the caller, in place, rather than moved in: a statement's future is
/// large, and moving it here cost a copy or two of it per statement.
async fn driven<T>(driver: &mut Option<Driver>, mut work: Pin<&mut impl Future<Output = T>>) -> T {
    let mut quiet = Context::from_waker(Waker::noop());
    let mut first = true;
    std::future::poll_fn(|cx| {
        if std::mem::take(&mut first) {
            poll_connection(driver, &mut quiet);
            if let Poll::Ready(done) = work.as_mut().poll(&mut quiet) {
                return Poll::Ready(done);
            }
        }
        poll_connection(driver, cx);
        // The connection may have handed `work` its response, or ended (which closes it).
        work.as_mut().poll(&mut quiet)
    })
    .await
}

/// Polls the connection if it is still there, and drops it once it has ended.
fn poll_connection(driver: &mut Option<Driver>, cx: &mut Context<'_>) {
    let Some(connection) = driver.as_mut() else {
        return;
    };
    if let Poll::Ready(ended) = connection.as_mut().poll(cx) {
        if let Err(error) = ended {
            tracing::debug!(%error, "postgres connection ended");
        }
        *driver = None;
    }
}

impl Conn for TokioConn {
    async fn execute(&mut self, statement: usize, params: Params<'_>) -> Result<(), SqlError> {
        let statement = &self.statements[statement];
        let values = params.iter().enumerate();
        let binds = values.map(|(position, value)| Bind { value, position });
        let run = pin!(self.client.execute_raw(statement, binds));
        driven(&mut self.driver, run)
            .await
            .map(drop)
            .map_err(|e| unbound(&e, params).unwrap_or_else(|| classify(&e)))
    }

    async fn begin(&mut self, isolation: Option<Isolation>) -> Result<(), SqlError> {
        self.control(begin_sql(isolation)).await
    }

    async fn commit(&mut self) -> Result<(), SqlError> {
        self.control(c"COMMIT").await
    }

    async fn rollback(&mut self) -> Result<(), SqlError> {
        self.control(c"ROLLBACK").await
    }

    fn is_lost(&self) -> bool {
        self.driver.is_none() || self.client.is_closed()
    }

    fn placeholders(&self, statement: usize) -> Vec<Placeholder> {
        let types = self.statements[statement].params().iter();
        types
            .map(|ty| Placeholder {
                type_name: ty.name().to_owned(),
                takes: takes(ty),
            })
            .collect()
    }
}

impl TokioConn {
    /// Runs transaction control `sql`: prepared, when it was prepared at connect, or else
    /// with the simple protocol.
    async fn control(&mut self, sql: &'static CStr) -> Result<(), SqlError> {
        let outcome = match self.control.iter().find(|(text, _)| *text == sql) {
            Some((_, statement)) => {
                let none: [&(dyn ToSql + Sync); 0] = [];
                let run = pin!(self.client.execute_raw(statement, none));
                driven(&mut self.driver, run).await.map(drop)
            }
            None => {
                let text = sql.to_str().expect("ASCII");
                driven(&mut self.driver, pin!(self.client.batch_execute(text))).await
            }
        };
        outcome.map_err(|e| classify(&e))
    }
}

/// A drawn value, written in whatever type the server expects for placeholder `position`
/// (from 0) of its statement.
#[derive(Debug)]
struct Bind<'a> {
    value: Value<'a>,
    position: usize,
}

type BoxError = Box<dyn std::error::Error + Sync + Send>;

/// A value that did not bind, and where. tokio-postgres hands it back as its error's source,
/// so the failure is counted by the parameter's name; nothing was sent.
#[derive(Debug)]
struct Unbound {
    position: usize,
    message: String,
}

impl std::fmt::Display for Unbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Unbound {}

/// The bind failure `error` carries, if it is one, counted by the parameter's name.
fn unbound(error: &tokio_postgres::Error, params: Params<'_>) -> Option<SqlError> {
    let unbound = error.source()?.downcast_ref::<Unbound>()?;
    let name = params.name(unbound.position);
    let message = format!("parameter `{name}`: {}", unbound.message);
    Some(SqlError::new(SqlErrorKind::Bind(name), message))
}

impl ToSql for Bind<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        value_to_sql(self.value, ty, out).map_err(|_| {
            let message = match self.value {
                Value::Int(n) => format!("{n} does not fit {ty}"),
                Value::Text(text) => format!("{text:?} is not a {ty}"),
            };
            Box::new(Unbound {
                position: self.position,
                message,
            }) as BoxError
        })
    }

    fn accepts(ty: &Type) -> bool {
        takes(ty) != Takes::Nothing
    }

    to_sql_checked!();
}

pub(super) fn value_to_sql(
    value: Value<'_>,
    ty: &Type,
    out: &mut BytesMut,
) -> Result<IsNull, BoxError> {
    match value {
        Value::Text(text) if is_text(ty) => text.to_sql(ty, out),
        Value::Text(text) if is_float(ty) => float_to_sql(text.parse()?, ty, out),
        Value::Text(text) => int_to_sql(text.parse()?, ty, out),
        Value::Int(n) => int_to_sql(n, ty, out),
    }
}

/// What [`Bind`] writes for a placeholder of type `ty`.
pub(super) fn takes(ty: &Type) -> Takes {
    let range = |min: i64, max: i64| Takes::Int { min, max };
    match *ty {
        Type::INT2 => range(i16::MIN.into(), i16::MAX.into()),
        Type::INT4 => range(i32::MIN.into(), i32::MAX.into()),
        Type::INT8 => range(i64::MIN, i64::MAX),
        _ if is_float(ty) => Takes::Float,
        _ if is_text(ty) => Takes::Text,
        _ => Takes::Nothing,
    }
}

fn is_text(ty: &Type) -> bool {
    matches!(
        *ty,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN
    )
}

fn is_float(ty: &Type) -> bool {
    matches!(*ty, Type::FLOAT4 | Type::FLOAT8)
}

fn int_to_sql(n: i64, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
    match *ty {
        Type::INT2 => i16::try_from(n)?.to_sql(ty, out),
        Type::INT4 => i32::try_from(n)?.to_sql(ty, out),
        Type::INT8 => n.to_sql(ty, out),
        _ if is_float(ty) => float_to_sql(n as f64, ty, out),
        // Rare: a number bound where the server wants text.
        _ => n.to_string().as_str().to_sql(ty, out),
    }
}

fn float_to_sql(x: f64, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
    match *ty {
        Type::FLOAT4 => (x as f32).to_sql(ty, out),
        _ => x.to_sql(ty, out),
    }
}

/// What a tokio-postgres error counts as. A server error keeps its SQLSTATE and message;
/// a closed or broken connection is a connect error, and the lane will make a new one.
pub(super) fn classify(error: &tokio_postgres::Error) -> SqlError {
    if let Some(db) = error.as_db_error() {
        let mut message = format!("{}: {}", db.severity(), db.message());
        if let Some(detail) = db.detail() {
            message.push_str(&format!("; detail: {detail}"));
        }
        if let Some(hint) = db.hint() {
            message.push_str(&format!("; hint: {hint}"));
        }
        let mut failure = SqlError::state(db.code().code(), message);
        // FATAL and PANIC end the session (a server shutting down says 57P01).
        failure.connection_lost = error.is_closed() || db.severity() != "ERROR";
        return failure;
    }
    let io = error
        .source()
        .is_some_and(|s| s.downcast_ref::<std::io::Error>().is_some());
    let kind = if error.is_closed() || io {
        SqlErrorKind::Connect
    } else {
        SqlErrorKind::Protocol
    };
    SqlError::new(kind, with_causes(error))
}

/// tokio-postgres shows only its own words ("error performing TLS handshake"); the reason
/// is in the source chain.
fn with_causes(error: &tokio_postgres::Error) -> String {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let text = inner.to_string();
        if !message.contains(&text) {
            message.push_str(&format!(": {text}"));
        }
        cause = inner.source();
    }
    message
}
