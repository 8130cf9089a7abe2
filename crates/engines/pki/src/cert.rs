//! Certificates: serial numbers in Vault's forms, reading a PEM certificate's facts back
//! (x509-parser), and an issuer loaded to sign with (rcgen).

use rcgen::{Certificate, CertificateParams, KeyPair};
use secrethub_common::UnixTime;
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer as _, X509Certificate};

use crate::error::{PkiError, Result};
use crate::records::IssuerRecord;

/// A new serial number: 20 random bytes, positive and without a leading zero byte, so its
/// `xx:xx:…` form always has 20 pairs (Vault's are 20 bytes too).
pub(crate) fn random_serial() -> Vec<u8> {
    let mut bytes = secrethub_common::random_bytes(20);
    bytes[0] = (bytes[0] & 0x7f).max(1);
    bytes
}

/// `0a:1b:…`, Vault's form of a serial number.
pub(crate) fn format_serial(bytes: &[u8]) -> String {
    let hex = hex::encode(bytes);
    let mut out = String::with_capacity(hex.len() * 3 / 2);
    for (i, pair) in hex.as_bytes().chunks(2).enumerate() {
        if i > 0 {
            out.push(':');
        }
        // hex is ASCII.
        out.push_str(std::str::from_utf8(pair).unwrap_or_default());
    }
    out
}

/// The bytes of a serial number in `xx:xx` form (as [`crate::records::check_serial`] gives).
pub(crate) fn serial_bytes(serial: &str) -> Result<Vec<u8>> {
    hex::decode(serial.replace([':', '-'], ""))
        .map_err(|_| PkiError::invalid(format!("invalid serial number {serial:?}")))
}

/// What the engine needs to know of a certificate it reads back.
#[derive(Debug, Clone)]
pub(crate) struct CertFacts {
    pub(crate) der: Vec<u8>,
    pub(crate) serial: String,
    pub(crate) not_after: UnixTime,
}

/// The DER of the first certificate of a PEM text.
pub(crate) fn pem_to_der(pem: &str) -> Result<Vec<u8>> {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.trim_start().as_bytes())
        .map_err(|_| PkiError::invalid("unable to parse the certificate: not PEM"))?;
    Ok(block.contents)
}

/// Reads a certificate's serial and validity from its DER.
pub(crate) fn facts_of_der(der: Vec<u8>) -> Result<CertFacts> {
    let (_, cert) = X509Certificate::from_der(&der)
        .map_err(|_| PkiError::invalid("unable to parse the certificate"))?;
    let serial = format_serial(&trimmed(cert.raw_serial()));
    let not_after = cert.validity().not_after.timestamp();
    Ok(CertFacts {
        der,
        serial,
        not_after,
    })
}

pub(crate) fn facts_of_pem(pem: &str) -> Result<CertFacts> {
    facts_of_der(pem_to_der(pem)?)
}

/// A serial's bytes without the leading zero DER adds to keep it positive.
fn trimmed(raw: &[u8]) -> Vec<u8> {
    let mut s = raw;
    while s.len() > 1 && s[0] == 0 {
        s = &s[1..];
    }
    s.to_vec()
}

/// PEM of a certificate's DER.
pub(crate) fn cert_pem(der: &[u8]) -> String {
    crate::keys::pem_of("CERTIFICATE", der).to_string()
}

/// Unix seconds as the time rcgen writes.
pub(crate) fn at(unix: UnixTime) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(unix)
        .map_err(|_| PkiError::invalid("the certificate's validity is out of range"))
}

/// An issuer ready to sign: its certificate as rcgen needs it and its key.
pub(crate) struct LoadedIssuer {
    pub(crate) cert: Certificate,
    pub(crate) key: KeyPair,
}

impl LoadedIssuer {
    /// rcgen signs with the issuer's subject, key identifier and key; it takes them from a
    /// `Certificate`, which is rebuilt here from the stored one (the same subject and key
    /// identifier; its own signature is not used).
    pub(crate) fn load(record: &IssuerRecord) -> Result<LoadedIssuer> {
        let key = record.private_key()?.key_pair()?;
        let params = CertificateParams::from_ca_cert_pem(&record.certificate_pem)
            .map_err(|e| PkiError::crypto("reading an issuer's certificate", e))?;
        let cert = params
            .self_signed(&key)
            .map_err(|e| PkiError::crypto("loading an issuer", e))?;
        Ok(LoadedIssuer { cert, key })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_forms() {
        assert_eq!(format_serial(&[0x0a, 0xff, 0x01]), "0a:ff:01");
        assert_eq!(serial_bytes("0a:ff:01").unwrap(), vec![0x0a, 0xff, 0x01]);
        let s = random_serial();
        assert_eq!(s.len(), 20);
        assert!(s[0] != 0 && s[0] < 0x80);
        assert_eq!(trimmed(&[0, 0x80, 1]), vec![0x80, 1]);
    }
}
