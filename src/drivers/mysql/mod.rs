//! The MySQL and MariaDB driver: mysql_async connections with the workload's statements
//! prepared, TLS through rustls when the URL asks for it (trusting what `crate::tls` says),
//! and multi-row prepared INSERTs for init.
//!
//! Like the PostgreSQL driver this module is only the wire; the transactions, init, retries,
//! reconnects and recording are the shared SQL layer's (`crate::drivers::sql`). The URL's
//! password never leaves it: facts, logs and errors use the redacted URL.

mod admin;
mod conn;

use mysql_async::{Opts, OptsBuilder, SslOpts, UrlError};

use crate::drivers::sql::{Backend, PreparedSql, SqlError, SqlErrorKind};
use crate::tls::{Trust, refused_certificate, root_certificates};
use crate::workload::{Dialect, SqlJob, redact_url, suggest_name};

use admin::MyAdmin;
use conn::{MyConn, classify};

pub type PreparedMysql = PreparedSql<Mysql>;

/// Prepared statements each connection keeps. mysql_async closes the least recently used one
/// past its cache size, which would leave a lane holding a closed statement, so the cache
/// must hold every statement of the plan (a plan times at most 255 operations).
const STATEMENT_CACHE: usize = 512;

/// The URL query keys that ask for TLS the way other MySQL clients say it; mysql_async knows
/// only its own `require_ssl`, so these are read here and taken out.
const TLS_KEYS: [&str; 3] = ["ssl-mode", "ssl_mode", "sslmode"];

/// The keys mysql_async reads from a URL's query (its `mysql_opts_from_url`), and the TLS
/// keys read here, for suggestions.
const URL_KEYS: [&str; 26] = [
    "ssl-mode",
    "ssl_mode",
    "sslmode",
    "require_ssl",
    "verify_ca",
    "verify_identity",
    "built_in_roots",
    "pool_min",
    "pool_max",
    "inactive_connection_ttl",
    "ttl_check_interval",
    "conn_ttl",
    "abs_conn_ttl",
    "abs_conn_ttl_jitter",
    "tcp_keepalive",
    "max_allowed_packet",
    "wait_timeout",
    "enable_cleartext_plugin",
    "reset_connection",
    "tcp_nodelay",
    "stmt_cache_size",
    "prefer_socket",
    "secure_auth",
    "client_found_rows",
    "socket",
    "compression",
];

/// The job's URL as mysql_async reads it, and whether it asks for TLS.
pub struct MysqlUrl {
    opts: Opts,
    tls: bool,
}

/// How to reach one MySQL or MariaDB server.
pub struct Mysql {
    /// For setup: the URL's database, which the job's `schema` may not be yet.
    admin_opts: Opts,
    /// For the lanes: in the job's schema.
    opts: Opts,
    schema: Option<String>,
}

impl Mysql {
    async fn open(&self, opts: &Opts) -> Result<mysql_async::Conn, SqlError> {
        mysql_async::Conn::new(opts.clone()).await.map_err(|e| {
            let mut error = classify(&e);
            error.untrusted_certificate = refused_certificate(&e);
            if !matches!(error.kind, SqlErrorKind::State(_)) {
                error.kind = SqlErrorKind::Connect;
            }
            error.connection_lost = true;
            error
        })
    }
}

/// The URL as mysql_async reads it: scheme `mysql`, and the other clients' TLS keys replaced by
/// its own `require_ssl` (TLS is then set up from the job's keys).
fn client_url(url: &str) -> String {
    let url = match url.strip_prefix("mariadb://") {
        Some(rest) => format!("mysql://{rest}"),
        None => url.to_owned(),
    };
    let Some((base, query)) = url.split_once('?') else {
        return url;
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let key = pair.split_once('=').map_or(*pair, |(k, _)| k);
            !TLS_KEYS.contains(&key.to_ascii_lowercase().as_str())
                && !key.eq_ignore_ascii_case("require_ssl")
        })
        .collect();
    match kept.is_empty() {
        true => base.to_owned(),
        false => format!("{base}?{}", kept.join("&")),
    }
}

/// Whether the URL's query asks for TLS. A mode that is not one plimsoll carries out is
/// refused: left unread, a misspelt `REQUIRED` would run unencrypted without a word.
fn tls_mode(url: &str) -> Result<bool, String> {
    let Some((_, query)) = url.split_once('?') else {
        return Ok(false);
    };
    let mut tls = false;
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let asks = match key.to_ascii_lowercase().as_str() {
            "ssl-mode" | "ssl_mode" => ssl_mode(key, value)?,
            "sslmode" => match value.to_ascii_lowercase().as_str() {
                "require" => true,
                "disable" => false,
                _ => {
                    return Err(format!(
                        "sslmode `{value}` is not a TLS mode plimsoll takes for MySQL; use \
                         require or disable (or ssl-mode=REQUIRED or DISABLED)"
                    ));
                }
            },
            "require_ssl" => match value.to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                _ => return Err(format!("require_ssl `{value}` is neither true nor false")),
            },
            _ => false,
        };
        tls |= asks;
    }
    Ok(tls)
}

/// MySQL's own `ssl-mode` words, as its clients take them (in any case).
fn ssl_mode(key: &str, value: &str) -> Result<bool, String> {
    match value.to_ascii_uppercase().as_str() {
        "REQUIRED" => Ok(true),
        "DISABLED" => Ok(false),
        "PREFERRED" => Err(format!(
            "{key} PREFERRED (TLS only if the server offers it) is not supported, so that a \
             run is known to be encrypted or not; use REQUIRED or DISABLED"
        )),
        "VERIFY_CA" | "VERIFY_IDENTITY" => Err(format!(
            "{key} {value} is not needed: plimsoll's REQUIRED checks the server's certificate \
             and host name, unless tls_insecure = true; use REQUIRED"
        )),
        _ => Err(format!(
            "{key} `{value}` is not a TLS mode; use REQUIRED or DISABLED"
        )),
    }
}

/// mysql_async's reason, with the key meant when a key is unknown.
fn url_reason(error: &UrlError) -> String {
    let param = match error {
        UrlError::UnknownParameter { param } => param,
        UrlError::Parse(url::ParseError::InvalidPort) => {
            return format!("{error}; a port is a whole number from 1 to 65535");
        }
        _ => return error.to_string(),
    };
    match suggest_name(param, &URL_KEYS) {
        Some(meant) => format!("unknown parameter `{param}`; did you mean `{meant}`?"),
        None => format!(
            "unknown parameter `{param}`; the keys are {}",
            URL_KEYS.join(", ")
        ),
    }
}

/// TLS as the job says (see `crate::tls`). mysql_async builds its own rustls configuration,
/// so it is given the certificates to trust instead of its built-in web roots.
fn ssl_opts(job: &SqlJob) -> Result<SslOpts, String> {
    let opts = SslOpts::default();
    let trust = Trust::from_keys(job.tls_ca.as_deref(), job.tls_insecure);
    let Some(roots) = root_certificates(trust)? else {
        return Ok(opts
            .with_danger_accept_invalid_certs(true)
            .with_danger_skip_domain_validation(true));
    };
    // DER, which mysql_async takes as it is when it finds no PEM armour.
    let roots = roots
        .into_iter()
        .map(|c| c.as_ref().to_vec().into())
        .collect();
    Ok(opts
        .with_root_certs(roots)
        .with_disable_built_in_roots(true))
}

impl Backend for Mysql {
    const KIND: &'static str = "mysql";
    const DIALECT: Dialect = Dialect::Mysql;
    type Conn = MyConn;
    type Admin = MyAdmin;

    type Url = MysqlUrl;

    fn parse_url(job: &SqlJob) -> Result<MysqlUrl, String> {
        let unusable =
            |reason: String| format!("url `{}` is not usable: {reason}", redact_url(&job.url));
        let tls = tls_mode(&job.url).map_err(unusable)?;
        let opts = Opts::from_url(&client_url(&job.url)).map_err(|e| unusable(url_reason(&e)))?;
        if opts.db_name().is_none() && job.schema.is_none() {
            return Err(format!(
                "url `{}` names no database, and the job sets no schema; end the url with one, \
                 like `mysql://root@127.0.0.1:3306/test`, or set `schema = \"bench\"`",
                redact_url(&job.url)
            ));
        }
        Ok(MysqlUrl { opts, tls })
    }

    fn new(job: &SqlJob, url: MysqlUrl) -> Result<Self, String> {
        let mut builder = OptsBuilder::from_opts(url.opts)
            .stmt_cache_size(STATEMENT_CACHE)
            .tcp_nodelay(true);
        if url.tls {
            builder = builder.ssl_opts(ssl_opts(job)?);
        }
        let admin_opts = Opts::from(builder.clone());
        let database = (job.schema.clone()).or_else(|| admin_opts.db_name().map(str::to_owned));
        let opts = Opts::from(builder.db_name(database));
        Ok(Mysql {
            admin_opts,
            opts,
            schema: job.schema.clone(),
        })
    }

    async fn connect(&self, statements: &[String]) -> Result<MyConn, SqlError> {
        let conn = self.open(&self.opts).await?;
        MyConn::prepare(conn, statements).await
    }

    async fn admin(&self) -> Result<MyAdmin, SqlError> {
        let conn = self.open(&self.admin_opts).await?;
        let mut admin = MyAdmin::new(conn);
        if let Some(schema) = &self.schema {
            use crate::drivers::sql::Admin as _;
            admin
                .run(&format!("CREATE DATABASE IF NOT EXISTS {schema}"))
                .await?;
            admin.run(&format!("USE {schema}")).await?;
        }
        Ok(admin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_clients_tls_keys_and_the_mariadb_scheme_become_mysql_asyncs() {
        assert_eq!(
            client_url("mariadb://u:p@h:3306/db?ssl-mode=REQUIRED"),
            "mysql://u:p@h:3306/db"
        );
        assert_eq!(
            client_url("mysql://h/db?sslmode=require&pool_max=5&require_ssl=true"),
            "mysql://h/db?pool_max=5"
        );
        assert_eq!(client_url("mysql://h/db"), "mysql://h/db");
    }

    #[test]
    fn a_tls_mode_is_one_plimsoll_carries_out_or_refused() {
        assert_eq!(tls_mode("mysql://h/db?ssl-mode=REQUIRED"), Ok(true));
        assert_eq!(
            tls_mode("mysql://h/db?pool_max=5&ssl_mode=required"),
            Ok(true)
        );
        assert_eq!(tls_mode("mysql://h/db?sslmode=require"), Ok(true));
        assert_eq!(tls_mode("mysql://h/db?require_ssl=true"), Ok(true));
        assert_eq!(tls_mode("mysql://h/db?ssl-mode=DISABLED"), Ok(false));
        assert_eq!(tls_mode("mysql://h/db"), Ok(false));
        let typo = tls_mode("mysql://h/db?ssl-mode=REQUIRD").unwrap_err();
        assert_eq!(
            typo,
            "ssl-mode `REQUIRD` is not a TLS mode; use REQUIRED or DISABLED"
        );
        for refused in [
            "ssl-mode=PREFERRED",
            "ssl-mode=VERIFY_IDENTITY",
            "sslmode=verify-full",
            "require_ssl=yes",
        ] {
            let url = format!("mysql://h/db?{refused}");
            assert!(tls_mode(&url).is_err(), "{refused}");
        }
    }

    #[test]
    fn an_unknown_key_is_named_with_the_one_meant() {
        let error = Opts::from_url("mysql://h/db?pool_mx=5").unwrap_err();
        assert_eq!(
            url_reason(&error),
            "unknown parameter `pool_mx`; did you mean `pool_max`?"
        );
        let error = Opts::from_url("mysql://h:99999/db").unwrap_err();
        assert_eq!(
            url_reason(&error),
            "URL parse error: invalid port number; a port is a whole number from 1 to 65535"
        );
    }
}
