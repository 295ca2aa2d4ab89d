//! One PostgreSQL connection running prepared statements, and what tokio-postgres errors
//! count as.
//!
//! Parameters are bound in the type the server inferred for each placeholder: a drawn
//! number goes out as int2, int4, int8 or a float as the column wants, text as text. A
//! placeholder of any other type is refused when the statement is prepared, with a cast to
//! write, since binding it would fail at every run.

use std::error::Error as _;

use bytes::BytesMut;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, Statement};

use crate::drivers::sql::{Conn, Params, SqlError, SqlErrorKind, Value};
use crate::workload::Isolation;

pub struct PgConn {
    client: Client,
    statements: Vec<Statement>,
}

impl PgConn {
    /// Prepares `texts` on `client`; the first the server refuses fails with its index.
    pub(super) async fn prepare(client: Client, texts: &[String]) -> Result<PgConn, SqlError> {
        let mut statements = Vec::with_capacity(texts.len());
        for (i, text) in texts.iter().enumerate() {
            let prepared = client.prepare(text).await.map_err(|e| SqlError {
                statement: Some(i),
                ..classify(&e)
            })?;
            if let Some(message) = unbindable(&prepared) {
                let mut error = SqlError::new(SqlErrorKind::Protocol, message);
                error.statement = Some(i);
                error.connection_lost = false;
                return Err(error);
            }
            statements.push(prepared);
        }
        Ok(PgConn { client, statements })
    }
}

fn unbindable(statement: &Statement) -> Option<String> {
    let (k, ty) = statement
        .params()
        .iter()
        .enumerate()
        .find(|(_, ty)| !<Bind as ToSql>::accepts(ty))?;
    Some(format!(
        "its parameter ${} is of type {ty}, which plimsoll cannot bind; cast the parameter \
         in the SQL, like `{{name}}::bigint` or `{{name}}::text`",
        k + 1
    ))
}

impl Conn for PgConn {
    async fn execute(&mut self, statement: usize, params: Params<'_>) -> Result<(), SqlError> {
        let statement = &self.statements[statement];
        self.client
            .execute_raw(statement, params.iter().map(Bind))
            .await
            .map(drop)
            .map_err(|e| classify(&e))
    }

    async fn begin(&mut self, isolation: Option<Isolation>) -> Result<(), SqlError> {
        let sql = match isolation {
            None => "BEGIN",
            Some(Isolation::ReadCommitted) => "BEGIN ISOLATION LEVEL READ COMMITTED",
            Some(Isolation::RepeatableRead) => "BEGIN ISOLATION LEVEL REPEATABLE READ",
            Some(Isolation::Serializable) => "BEGIN ISOLATION LEVEL SERIALIZABLE",
        };
        self.simple(sql).await
    }

    async fn commit(&mut self) -> Result<(), SqlError> {
        self.simple("COMMIT").await
    }

    async fn rollback(&mut self) -> Result<(), SqlError> {
        self.simple("ROLLBACK").await
    }

    fn is_lost(&self) -> bool {
        self.client.is_closed()
    }
}

impl PgConn {
    async fn simple(&self, sql: &str) -> Result<(), SqlError> {
        self.client
            .batch_execute(sql)
            .await
            .map_err(|e| classify(&e))
    }
}

/// A drawn value, written in whatever type the server expects for its placeholder.
#[derive(Debug)]
struct Bind<'a>(Value<'a>);

type BoxError = Box<dyn std::error::Error + Sync + Send>;

impl ToSql for Bind<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        match self.0 {
            Value::Text(text) if is_text(ty) => text.to_sql(ty, out),
            Value::Text(text) if is_float(ty) => float_to_sql(text.parse()?, ty, out),
            Value::Text(text) => int_to_sql(text.parse()?, ty, out),
            Value::Int(n) => int_to_sql(n, ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        is_text(ty) || is_float(ty) || matches!(*ty, Type::INT2 | Type::INT4 | Type::INT8)
    }

    to_sql_checked!();
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
