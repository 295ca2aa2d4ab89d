//! The PostgreSQL driver: tokio-postgres connections with the workload's statements
//! prepared, TLS through rustls when the URL says `sslmode=require`, and COPY for init.
//!
//! This module is only the wire: what the connections run, init, retries, reconnects and
//! recording are the shared SQL layer's (`crate::drivers::sql`), which a MySQL backend uses
//! the same way. The URL's password never leaves it: facts, logs and errors use the
//! redacted URL.

mod admin;
mod conn;
mod libpq;

use std::pin::Pin;

use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, Config, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::drivers::sql::{Backend, PreparedSql, SqlError, SqlErrorKind};
use crate::tls::{Trust, client_config, refused_certificate};
use crate::workload::{Dialect, Isolation, SqlJob, redact_url, suggest_name};

use admin::PgAdmin;
use conn::{PgConn, TokioConn, classify};
use libpq::{Keywords, PqConn};

pub type PreparedPostgres = PreparedSql<Postgres>;

/// The keys tokio-postgres reads from a URL's query (its `Config::param`), for suggestions.
const URL_OPTIONS: [&str; 19] = [
    "user",
    "password",
    "dbname",
    "options",
    "application_name",
    "sslmode",
    "sslnegotiation",
    "host",
    "hostaddr",
    "port",
    "connect_timeout",
    "tcp_user_timeout",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_retries",
    "target_session_attrs",
    "channel_binding",
    "load_balance_hosts",
];

/// What tokio-postgres found wrong with a URL, and what to write instead. Its error says only
/// "invalid connection string"; the part at fault is in the error's source, whose types are
/// private, so their words are matched (the tests below pin them).
fn url_reason(url: &str, error: &tokio_postgres::Error) -> String {
    let Some(reason) = std::error::Error::source(error).map(ToString::to_string) else {
        return error.to_string();
    };
    let unknown = reason.strip_prefix("unknown option `");
    if let Some(option) = unknown.and_then(|rest| rest.strip_suffix('`')) {
        return match suggest_name(option, &URL_OPTIONS) {
            Some(meant) => format!("{reason}; did you mean `{meant}`?"),
            None => format!("{reason}; the options are {}", URL_OPTIONS.join(", ")),
        };
    }
    match reason.as_str() {
        "invalid value for option `sslmode`" => {
            let written = query_value(url, "sslmode").unwrap_or_default();
            format!(
                "sslmode `{written}` is not one tokio-postgres takes; use disable, prefer or \
                 require (plimsoll's require checks the server's certificate and host name, \
                 unless tls_insecure = true)"
            )
        }
        "invalid value for option `port`" => {
            format!("{reason}; a port is a whole number from 1 to 65535")
        }
        _ => reason,
    }
}

/// The value of `key` in the URL's query, as written.
fn query_value<'a>(url: &'a str, key: &str) -> Option<&'a str> {
    let (_, query) = url.split_once('?')?;
    let pairs = query.split('&').filter_map(|pair| pair.split_once('='));
    pairs.filter(|(k, _)| *k == key).map(|(_, v)| v).next_back()
}

/// How to reach one PostgreSQL server.
pub struct Postgres {
    config: Config,
    tls: Option<MakeRustlsConnect>,
    /// How libpq reaches the server, for the lanes' connections when there is no TLS.
    libpq: Option<Keywords>,
    schema: Option<String>,
    /// The job's isolation level, which its lanes' BEGIN sets.
    isolation: Option<Isolation>,
}

impl Postgres {
    /// Connects; the connection's I/O is handed back for the caller to drive.
    async fn open(&self) -> Result<(Client, Driver), SqlError> {
        let connect_error = |e: tokio_postgres::Error| {
            let mut error = classify(&e);
            error.untrusted_certificate = refused_certificate(&e);
            if !matches!(error.kind, SqlErrorKind::State(_)) {
                error.kind = SqlErrorKind::Connect;
            }
            error.connection_lost = true;
            error
        };
        match &self.tls {
            None => {
                let (client, connection) =
                    self.config.connect(NoTls).await.map_err(connect_error)?;
                Ok((client, Box::pin(connection)))
            }
            Some(tls) => {
                let (client, connection) = self
                    .config
                    .connect(tls.clone())
                    .await
                    .map_err(connect_error)?;
                Ok((client, Box::pin(connection)))
            }
        }
    }
}

/// A connection's I/O: socket reads and writes, and sorting the server's messages out to
/// the queries waiting for them. It makes progress only while polled.
type Driver = Pin<Box<dyn Future<Output = Result<(), tokio_postgres::Error>> + Send>>;

/// An admin connection's I/O runs as its own task until the client is dropped or the socket
/// closes; setup is not the hot path.
async fn drive(connection: Driver) {
    if let Err(error) = connection.await {
        tracing::debug!(%error, "postgres connection ended");
    }
}

impl Backend for Postgres {
    const KIND: &'static str = "postgres";
    const DIALECT: Dialect = Dialect::Postgres;
    type Conn = PgConn;
    type Admin = PgAdmin;

    type Url = Config;

    fn parse_url(job: &SqlJob) -> Result<Config, String> {
        job.url.parse().map_err(|e| {
            let reason = url_reason(&job.url, &e);
            format!("url `{}` is not usable: {reason}", redact_url(&job.url))
        })
    }

    fn new(job: &SqlJob, mut config: Config) -> Result<Self, String> {
        config.connect_timeout(job.timeout.0);
        if config.get_application_name().is_none() {
            config.application_name("plimsoll");
        }
        if let Some(schema) = &job.schema {
            // Every statement names its tables plainly; the schema is the session's.
            let options = config.get_options().unwrap_or_default();
            config.options(format!("{options} -c search_path={schema}").trim());
        }
        let tls = match config.get_ssl_mode() {
            SslMode::Require => {
                let trust = Trust::from_keys(job.tls_ca.as_deref(), job.tls_insecure);
                Some(MakeRustlsConnect::new(client_config(trust)?))
            }
            // Without TLS asked for, none is tried: a server's self-signed certificate
            // would otherwise fail a connection that never wanted encryption.
            _ => None,
        };
        let libpq = tls.is_none().then(|| libpq::keywords(&config)).flatten();
        Ok(Postgres {
            config,
            tls,
            libpq,
            schema: job.schema.clone(),
            isolation: job.isolation,
        })
    }

    async fn connect(&self, statements: &[String]) -> Result<PgConn, SqlError> {
        let control = [conn::begin_sql(self.isolation), c"COMMIT"];
        if let Some(keywords) = &self.libpq {
            let conn = PqConn::connect(keywords, statements, &control).await?;
            return Ok(PgConn::Libpq(conn));
        }
        let (client, driver) = self.open().await?;
        let conn = TokioConn::prepare(client, driver, statements, &control).await?;
        Ok(PgConn::Tokio(conn))
    }

    async fn admin(&self) -> Result<PgAdmin, SqlError> {
        let (client, driver) = self.open().await?;
        tokio::spawn(drive(driver));
        let admin = PgAdmin { client };
        if let Some(schema) = &self.schema {
            admin
                .client
                .batch_execute(&format!(
                    "CREATE SCHEMA IF NOT EXISTS {schema}; SET search_path TO {schema}"
                ))
                .await
                .map_err(|e| classify(&e))?;
        }
        Ok(admin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(url: &str) -> String {
        let error = url.parse::<Config>().expect_err(url);
        url_reason(url, &error)
    }

    #[test]
    fn a_refused_url_says_which_part_and_what_to_write() {
        assert_eq!(
            reason("postgres://u:pw@h:99999/db"),
            "invalid value for option `port`; a port is a whole number from 1 to 65535"
        );
        assert_eq!(
            reason("postgres://h/db?sslmod=require"),
            "unknown option `sslmod`; did you mean `sslmode`?"
        );
        let mode = reason("postgres://h/db?sslmode=verify-full");
        let takes = "sslmode `verify-full` is not one tokio-postgres takes; use disable, prefer \
                     or require";
        assert!(mode.starts_with(takes), "{mode}");
        let far = reason("postgres://h/db?zzz=1");
        assert!(far.contains("the options are user, password"), "{far}");
    }
}
