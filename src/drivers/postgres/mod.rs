//! The PostgreSQL driver: tokio-postgres connections with the workload's statements
//! prepared, TLS through rustls when the URL says `sslmode=require`, and COPY for init.
//!
//! This module is only the wire: what the connections run, init, retries, reconnects and
//! recording are the shared SQL layer's (`crate::drivers::sql`), which a MySQL backend uses
//! the same way. The URL's password never leaves it: facts, logs and errors use the
//! redacted URL.

mod admin;
mod conn;

use std::pin::Pin;

use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, Config, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::drivers::sql::{Backend, PreparedSql, SqlError, SqlErrorKind};
use crate::tls::{Trust, client_config, refused_certificate};
use crate::workload::{Dialect, SqlJob, redact_url};

use admin::PgAdmin;
use conn::{PgConn, classify};

pub type PreparedPostgres = PreparedSql<Postgres>;

/// How to reach one PostgreSQL server.
pub struct Postgres {
    config: Config,
    tls: Option<MakeRustlsConnect>,
    schema: Option<String>,
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

    fn new(job: &SqlJob) -> Result<Self, String> {
        let mut config: Config = job
            .url
            .parse()
            .map_err(|e| format!("url `{}` is not usable: {e}", redact_url(&job.url)))?;
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
        Ok(Postgres {
            config,
            tls,
            schema: job.schema.clone(),
        })
    }

    async fn connect(&self, statements: &[String]) -> Result<PgConn, SqlError> {
        let (client, driver) = self.open().await?;
        PgConn::prepare(client, driver, statements).await
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
