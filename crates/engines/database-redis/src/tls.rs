//! TLS to Redis on rustls with the ring provider (no OpenSSL, no aws-lc): Vault's `tls`,
//! `ca_cert` (PEM; without it the system's roots) and `insecure_tls` (encrypt without verifying
//! the server's certificate, as Vault's option does).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// The certificates of a PEM text, or why there are none.
pub(crate) fn parse_pem(pem: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|_| "ca_cert is not valid PEM".to_string())?;
    if certs.is_empty() {
        return Err("ca_cert holds no certificate".to_string());
    }
    Ok(certs)
}

/// The name the certificate must carry: the configured host (a DNS name or an IP address).
pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(host.to_string())
        .map_err(|_| format!("host {host:?} is not a valid TLS server name"))
}

/// A client config for one connection config. Loading the system's roots reads files, so the
/// caller runs this on the blocking pool.
pub(crate) fn client_config(ca_cert: &str, insecure: bool) -> Result<Arc<ClientConfig>, String> {
    // An explicit provider, so a binary that also links aws-lc-rs through another crate does
    // not make rustls's process-wide default ambiguous.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let algorithms = provider.signature_verification_algorithms;
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let config = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptOnly { algorithms }))
            .with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        if ca_cert.trim().is_empty() {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                // A system certificate rustls cannot parse is skipped, as browsers do.
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err("no system root certificates found; give ca_cert".to_string());
            }
        } else {
            for cert in parse_pem(ca_cert)? {
                roots
                    .add(cert)
                    .map_err(|_| "ca_cert holds a certificate rustls cannot use".to_string())?;
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// `insecure_tls`: any certificate is accepted, but the handshake signatures are still
/// checked, so the session is encrypted to whoever holds the presented key.
#[derive(Debug)]
struct EncryptOnly {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for EncryptOnly {
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
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
