//! Builds the redis crate's [`Client`] for a job: the URL, sockets that send at once, and for
//! `rediss://` which server certificates to trust (the system's, the job's `tls_ca`, or any
//! with `tls_insecure`). It opens no connection: `link` and `prefill` do.

use std::path::Path;

use redis::{Client, ConnectionAddr, ConnectionInfo, IntoConnectionInfo as _, TlsCertificates};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

use crate::workload::{RedisJob, redact_url};

/// The client for `job`, or what the user should fix, in words that never show the password.
pub(super) fn client(job: &RedisJob) -> Result<Client, String> {
    let unusable =
        |e: redis::RedisError| format!("url `{}` is not usable: {e}", redact_url(&job.url));
    let info = no_delay(job.url.as_str().into_connection_info().map_err(unusable)?);
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
