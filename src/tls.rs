//! Which server certificates a job trusts, as rustls takes it, for every driver that builds its
//! own TLS client (HTTP, PostgreSQL, MySQL): the system's trust store, the job's `tls_ca` file
//! in its place, or any certificate at all with `tls_insecure`. Files are read here, when the
//! job is prepared, so a missing or empty one is an error naming the key rather than a failed
//! handshake at every connection. Also: telling a refused certificate apart from other
//! connection failures, since the user fixes that one in the workload.
//!
//! The Redis driver uses it for its measured connections; its setup connection goes through
//! the redis crate, which builds its own rustls configuration from the CA file's bytes.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, ring, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// What a job's TLS trusts, from its `tls_ca` and `tls_insecure` keys.
#[derive(Debug, Clone, Copy)]
pub enum Trust<'a> {
    /// The system's trust store (rustls-native-certs: `/etc/ssl/certs` and the like).
    System,
    /// The certificates of this PEM file, and no others.
    CaFile(&'a Path),
    /// Any certificate for any name; the handshake's signatures are still checked.
    Any,
}

impl<'a> Trust<'a> {
    /// `tls_insecure` wins; validation refuses a job that sets both.
    pub fn from_keys(tls_ca: Option<&'a Path>, tls_insecure: bool) -> Trust<'a> {
        match (tls_insecure, tls_ca) {
            (true, _) => Trust::Any,
            (false, Some(path)) => Trust::CaFile(path),
            (false, None) => Trust::System,
        }
    }
}

/// A client configuration trusting what `trust` says, with no client certificate and ring as
/// the crypto provider.
pub fn client_config(trust: Trust<'_>) -> Result<ClientConfig, String> {
    let provider = Arc::new(ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS cannot be set up: {e}"))?;
    let certificates = match trust {
        Trust::Any => {
            let verifier = Arc::new(AnyCertificate(provider));
            let dangerous = builder
                .dangerous()
                .with_custom_certificate_verifier(verifier);
            return Ok(dangerous.with_no_client_auth());
        }
        Trust::CaFile(path) => ca_file(path)?,
        Trust::System => system()?,
    };
    let mut roots = RootCertStore::empty();
    let (_, refused) = roots.add_parsable_certificates(certificates);
    if roots.is_empty() {
        return Err(format!(
            "none of the {refused} certificates to trust can be used; give the server's CA as \
             tls_ca"
        ));
    }
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

/// The certificates to trust, for a client library that takes them rather than a
/// configuration (mysql_async); `None` for [`Trust::Any`]. Only those rustls can use as
/// roots: such a library may refuse the whole list for one it cannot.
pub fn root_certificates(trust: Trust<'_>) -> Result<Option<Vec<CertificateDer<'static>>>, String> {
    let certificates = match trust {
        Trust::Any => return Ok(None),
        Trust::CaFile(path) => ca_file(path)?,
        Trust::System => system()?,
    };
    let total = certificates.len();
    let usable: Vec<_> = certificates
        .into_iter()
        .filter(|c| RootCertStore::empty().add(c.clone()).is_ok())
        .collect();
    if usable.is_empty() {
        return Err(format!(
            "none of the {total} certificates to trust can be used; give the server's CA as \
             tls_ca"
        ));
    }
    Ok(Some(usable))
}

/// The certificates of a PEM file; a file with none is refused.
fn ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let shown = path.display();
    let pem = std::fs::read(path).map_err(|e| format!("tls_ca `{shown}` cannot be read: {e}"))?;
    let certificates: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&pem).collect();
    let certificates =
        certificates.map_err(|e| format!("tls_ca `{shown}` is not a readable PEM file: {e}"))?;
    if certificates.is_empty() {
        return Err(format!(
            "tls_ca `{shown}` holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
        ));
    }
    Ok(certificates)
}

fn system() -> Result<Vec<CertificateDer<'static>>, String> {
    let found = rustls_native_certs::load_native_certs();
    if found.certs.is_empty() {
        return Err(
            "the system trust store holds no certificates; give the server's CA as tls_ca, or \
             set tls_insecure = true to skip the check"
                .into(),
        );
    }
    Ok(found.certs)
}

/// Whether `error`, or an error it wraps, is rustls refusing the server's certificate (an
/// unknown issuer, a name it was not issued for, expired). Client libraries pass rustls's
/// error on inside an `io::Error`, whose `source` skips its payload, so payloads are opened
/// too.
pub fn refused_certificate(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    // Bounded: a chain of causes is a few links long.
    for _ in 0..16 {
        let Some(error) = next else {
            return false;
        };
        if let Some(rustls::Error::InvalidCertificate(_)) = error.downcast_ref::<rustls::Error>() {
            return true;
        }
        if let Some(inner) = error
            .downcast_ref::<std::io::Error>()
            .and_then(|e| e.get_ref())
            && refused_certificate(inner)
        {
            return true;
        }
        next = error.source();
    }
    false
}

/// Accepts any certificate, but still checks that the handshake was signed by its key.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_without_a_certificate_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let error = client_config(Trust::CaFile(&path)).unwrap_err();
        assert!(error.contains("holds no PEM certificate"), "{error}");
        assert!(error.contains("empty.pem"), "{error}");
        let missing = dir.path().join("missing.pem");
        let error = root_certificates(Trust::CaFile(&missing)).unwrap_err();
        assert!(error.contains("cannot be read"), "{error}");
    }

    #[test]
    fn a_refused_certificate_is_found_inside_an_io_error() {
        let refused = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let wrapped = std::io::Error::new(std::io::ErrorKind::InvalidData, refused);
        assert!(refused_certificate(&wrapped));
        let other = std::io::Error::new(std::io::ErrorKind::InvalidData, "eof");
        assert!(!refused_certificate(&other));
        let plain = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(!refused_certificate(&plain));
    }
}
