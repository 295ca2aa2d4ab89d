//! The rustls client configuration for an `https://` job: the system's roots, the job's CA
//! file in their place, or no verification at all for self-signed test targets; ALPN asks
//! for the job's HTTP version.

use std::sync::Arc;

use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{
    CryptoProvider, ring, verify_tls12_signature, verify_tls13_signature,
};
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{
    self, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use super::plan::Origin;
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
    let provider = Arc::new(ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS cannot be set up: {e}"))?;
    let mut config = if job.tls_insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth()
    } else {
        builder
            .with_root_certificates(roots(job)?)
            .with_no_client_auth()
    };
    config.alpn_protocols = match job.http_version {
        HttpVersion::Http1 => vec![b"http/1.1".to_vec()],
        HttpVersion::Http2 => vec![b"h2".to_vec()],
    };
    let name = ServerName::try_from(origin.host.clone())
        .map_err(|e| format!("base_url host `{}` is no TLS server name: {e}", origin.host))?;
    Ok(Some((TlsConnector::from(Arc::new(config)), name)))
}

/// The job's CA file, or the system's roots. A CA file with no certificate is refused here:
/// every handshake would fail far from its cause.
fn roots(job: &HttpJob) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    let Some(path) = &job.tls_ca else {
        let found = rustls_native_certs::load_native_certs();
        let (added, _) = store.add_parsable_certificates(found.certs);
        if added == 0 {
            return Err(
                "no system CA certificates were found; give the CA to trust with tls_ca".into(),
            );
        }
        return Ok(store);
    };
    let shown = path.display();
    let pem = std::fs::read(path).map_err(|e| format!("tls_ca `{shown}` cannot be read: {e}"))?;
    let certificates: Result<Vec<CertificateDer>, _> =
        CertificateDer::pem_slice_iter(&pem).collect();
    let certificates =
        certificates.map_err(|e| format!("tls_ca `{shown}` is not a readable PEM file: {e}"))?;
    let (added, _) = store.add_parsable_certificates(certificates);
    if added == 0 {
        return Err(format!(
            "tls_ca `{shown}` holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
        ));
    }
    Ok(store)
}

/// Accepts every certificate (signatures are still checked, so the handshake is real).
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
