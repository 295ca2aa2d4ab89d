//! Builds the redis crate's [`Client`] for a job: the URL, sockets that send at once, and for
//! `rediss://` which server certificates to trust (the system's, the job's `tls_ca`, or any
//! with `tls_insecure`). It opens no connection: `link` and `prefill` do.

use std::path::Path;

use redis::{Client, ConnectionAddr, ConnectionInfo, IntoConnectionInfo as _, TlsCertificates};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

use crate::workload::{RedisJob, redact_url};

/// The query keys the redis crate reads, by the kind of address; it passes over any other.
const TCP_KEYS: [&str; 1] = ["protocol"];
const UNIX_KEYS: [&str; 4] = ["db", "user", "pass", "protocol"];

/// The job's URL as the redis crate reads it, or what the user should fix, in words that
/// never show the password. `plimsoll validate` calls it too, so both refuse alike.
pub(super) fn connection_info(job: &RedisJob) -> Result<ConnectionInfo, String> {
    let unusable =
        |reason: String| format!("url `{}` is not usable: {reason}", redact_url(&job.url));
    let url = url::Url::parse(&job.url).map_err(|e| unusable(parse_reason(e)))?;
    let unix = matches!(url.scheme(), "unix" | "redis+unix");
    let known: &[&str] = if unix { &UNIX_KEYS } else { &TCP_KEYS };
    if let Some((key, _)) = url
        .query_pairs()
        .find(|(key, _)| !known.contains(&key.as_ref()))
    {
        return Err(unusable(unknown_key(&key, known, unix)));
    }
    url.into_connection_info()
        .map_err(|e| unusable(client_reason(&e)))
}

fn parse_reason(error: url::ParseError) -> String {
    match error {
        url::ParseError::InvalidPort => {
            format!("{error}; a port is a whole number from 1 to 65535")
        }
        _ => error.to_string(),
    }
}

fn unknown_key(key: &str, known: &[&str], unix: bool) -> String {
    if let Some(meant) = crate::workload::suggest_name(key, known) {
        return format!("unknown parameter `{key}`; did you mean `{meant}`?");
    }
    match unix {
        true => format!(
            "unknown parameter `{key}`; the keys are {}",
            known.join(", ")
        ),
        false => format!(
            "unknown parameter `{key}`; the only key is protocol (the database is the path, \
             like `/0`, and a password goes before the host, like `redis://:password@host`)"
        ),
    }
}

/// The redis crate's words, without the name of its error kind that it appends.
fn client_reason(error: &redis::RedisError) -> String {
    let reason = error.to_string().replace(" - InvalidClientConfig", "");
    match reason.as_str() {
        "Invalid database number" => {
            format!("{reason}; the path after the host is the database's number, like `/0`")
        }
        _ => reason,
    }
}

/// The client for `job`, from its URL as [`connection_info`] read it.
pub(super) fn client(job: &RedisJob, info: ConnectionInfo) -> Result<Client, String> {
    let unusable =
        |e: redis::RedisError| format!("url `{}` is not usable: {e}", redact_url(&job.url));
    let info = no_delay(info);
    let info = if job.tls_insecure {
        insecure(info)
    } else {
        info
    };
    match &job.tls_ca {
        None => Client::open(info).map_err(unusable),
        Some(path) => {
            let certificates = TlsCertificates {
                client_tls: None,
                root_cert: Some(read_ca(path)?),
            };
            Client::build_with_tls(info, certificates).map_err(unusable)
        }
    }
}

/// With Nagle's algorithm on, a pipeline written while an earlier segment awaits its ACK
/// waits for the peer's delayed ACK (up to 40 ms).
fn no_delay(info: ConnectionInfo) -> ConnectionInfo {
    let tcp = info.tcp_settings().clone().set_nodelay(true);
    info.set_tcp_settings(tcp)
}

/// The same as the URL's `#insecure` fragment: no certificate or host name check.
fn insecure(info: ConnectionInfo) -> ConnectionInfo {
    let mut addr = info.addr().clone();
    if let ConnectionAddr::TcpTls { insecure, .. } = &mut addr {
        *insecure = true;
    }
    info.set_addr(addr)
}

/// The CA file's bytes, once it is known to hold at least one certificate: the redis crate
/// takes a file with none as an empty trust store, and every connection would then fail
/// with an unknown-issuer error far from its cause.
fn read_ca(path: &Path) -> Result<Vec<u8>, String> {
    let shown = path.display();
    let pem = std::fs::read(path).map_err(|e| format!("tls_ca `{shown}` cannot be read: {e}"))?;
    let certificates: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&pem).collect();
    match certificates {
        Ok(found) if !found.is_empty() => Ok(pem),
        Ok(_) => Err(format!(
            "tls_ca `{shown}` holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
        )),
        Err(e) => Err(format!("tls_ca `{shown}` is not a readable PEM file: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(url: &str) -> String {
        let text =
            format!("name = \"t\"\n[[jobs]]\nkind = \"redis\"\nname = \"r\"\nurl = \"{url}\"\n");
        let workload = crate::workload::load_str("t.toml", &text).unwrap();
        let crate::workload::Job::Redis(job) = &workload.jobs[0] else {
            unreachable!("a redis job")
        };
        connection_info(job).unwrap_err()
    }

    #[test]
    fn a_refused_url_says_which_part_and_never_the_password() {
        let port = refusal("redis://:hunter2@127.0.0.1:99999/0");
        assert_eq!(
            port,
            "url `redis://:***@127.0.0.1:99999/0` is not usable: invalid port number; a port \
             is a whole number from 1 to 65535"
        );
        let db = refusal("redis://127.0.0.1/abc");
        let number = "Invalid database number; the path after the host is the database's \
                      number, like `/0`";
        assert!(db.ends_with(number), "{db}");
        let key = refusal("redis://127.0.0.1/0?protocl=resp3");
        assert!(
            key.ends_with("unknown parameter `protocl`; did you mean `protocol`?"),
            "{key}"
        );
    }
}
