//! The rustls client configuration for an `https://` job: what it trusts is `crate::tls`'s
//! (the system's roots, the job's CA file in their place, or none at all for self-signed test
//! targets); ALPN asks for the job's HTTP version.

use std::sync::Arc;

use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;

use super::plan::Origin;
use crate::tls::{Trust, client_config};
use crate::workload::{HttpJob, HttpVersion};

/// How the job's TLS trusts the server, for the results.
pub(super) fn mode(job: &HttpJob) -> &'static str {
    match (
        job.base_url.starts_with("https://"),
        job.tls_insecure,
        &job.tls_ca,
    ) {
        (false, _, _) => "none",
        (true, true, _) => "insecure (no verification)",
        (true, false, Some(_)) => "ca file",
        (true, false, None) => "system roots",
    }
}

/// The connector and server name for an `https://` origin; `None` for `http://`.
pub(super) fn connector(
    job: &HttpJob,
    origin: &Origin,
) -> Result<Option<(TlsConnector, ServerName<'static>)>, String> {
    if origin.scheme != http::uri::Scheme::HTTPS {
        return Ok(None);
    }
    let mut config = client_config(Trust::from_keys(job.tls_ca.as_deref(), job.tls_insecure))?;
    config.alpn_protocols = match job.http_version {
        HttpVersion::Http1 => vec![b"http/1.1".to_vec()],
        HttpVersion::Http2 => vec![b"h2".to_vec()],
    };
    let name = ServerName::try_from(origin.host.clone())
        .map_err(|e| format!("base_url host `{}` is no TLS server name: {e}", origin.host))?;
    Ok(Some((TlsConnector::from(Arc::new(config)), name)))
}
