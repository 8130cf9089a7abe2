//! A CSR as `sign`, `sign-verbatim` and `root/sign-intermediate` read it: PEM, parsed and
//! its signature checked (x509-parser), its public key as rcgen signs for it, its key type,
//! and the names it asks for (subject common name; DNS, email, IP and URI SANs).

use rcgen::{PublicKeyData, SubjectPublicKeyInfo};
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer as _;

use crate::error::{PkiError, Result};
use crate::keys::KeyKind;
use crate::leaf::Names;

/// A parsed, signature-checked CSR: its key and the names it asks for.
pub(crate) struct Csr {
    pub(crate) public_key: SubjectPublicKeyInfo,
    pub(crate) kind: KeyKind,
    pub(crate) names: Names,
}

impl Csr {
    pub(crate) fn parse(pem: &str) -> Result<Csr> {
        if pem.trim().is_empty() {
            return Err(PkiError::invalid("csr is required"));
        }
        let (_, block) = x509_parser::pem::parse_x509_pem(pem.trim_start().as_bytes())
            .map_err(|_| PkiError::invalid("csr contains no data"))?;
        let (_, csr) = X509CertificationRequest::from_der(&block.contents)
            .map_err(|_| PkiError::invalid("certificate request could not be parsed"))?;
        csr.verify_signature()
            .map_err(|_| PkiError::invalid("request signature invalid"))?;
        let info = &csr.certification_request_info;
        let public_key = SubjectPublicKeyInfo::from_der(info.subject_pki.raw)
            .map_err(|_| PkiError::invalid("unsupported key type in the CSR"))?;
        let kind = key_kind_of(public_key.algorithm())?;
        let mut names = Names {
            common_name: info
                .subject
                .iter_common_name()
                .next()
                .and_then(|cn| cn.as_str().ok())
                .unwrap_or_default()
                .to_string(),
            ..Names::default()
        };
        for ext in csr.requested_extensions().into_iter().flatten() {
            if let ParsedExtension::SubjectAlternativeName(san) = ext {
                for name in &san.general_names {
                    match name {
                        GeneralName::DNSName(n) | GeneralName::RFC822Name(n) => {
                            names.alt_names.push(n.to_string())
                        }
                        GeneralName::URI(u) => names.uri_sans.push(u.to_string()),
                        GeneralName::IPAddress(b) => {
                            if let Some(ip) = ip_of(b) {
                                names.ip_sans.push(ip);
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        Ok(Csr {
            public_key,
            kind,
            names,
        })
    }
}

fn key_kind_of(alg: &rcgen::SignatureAlgorithm) -> Result<KeyKind> {
    if alg == &rcgen::PKCS_RSA_SHA256
        || alg == &rcgen::PKCS_RSA_SHA384
        || alg == &rcgen::PKCS_RSA_SHA512
    {
        Ok(KeyKind::Rsa)
    } else if alg == &rcgen::PKCS_ECDSA_P256_SHA256 || alg == &rcgen::PKCS_ECDSA_P384_SHA384 {
        Ok(KeyKind::Ec)
    } else if alg == &rcgen::PKCS_ED25519 {
        Ok(KeyKind::Ed25519)
    } else {
        Err(PkiError::invalid("unsupported key type in the CSR"))
    }
}

fn ip_of(bytes: &[u8]) -> Option<std::net::IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(Into::into),
        16 => <[u8; 16]>::try_from(bytes).ok().map(Into::into),
        _ => None,
    }
}
