//! The OCSP responder (RFC 6960), without a token as in Vault: `GET ocsp/<base64 request>`
//! and `POST ocsp` with a DER body (`application/ocsp-request`). Each requested certificate
//! is answered `revoked` (with its revocation time) or `good` when its issuer is one of the
//! mount's (OpenBao answers `good` for a serial it never issued too) and `unknown` when no
//! issuer matches; the response is signed by the matching issuer (else the default), names
//! it as responder by name and is valid for 12 hours. A request that cannot be read is
//! answered `malformedRequest` with HTTP 400, and a mount without issuers `internalError`,
//! as OpenBao does. `config/crl`'s `ocsp_expiry` sets the lifetime (12 hours by default). No nonce is echoed (OpenBao echoes none either).

use secrethub_common::now_unix;
use secrethub_engine::{Request, Response};
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer as _, X509Certificate};
use yasna::models::{GeneralizedTime, ObjectIdentifier};
use yasna::{DERWriter, Tag};

use crate::cert::{format_serial, pem_to_der};
use crate::error::{PkiError, Result};
use crate::records::{self, IssuerRecord};

const CONTENT_TYPE: &str = "application/ocsp-response";
const SHA1: &[u64] = &[1, 3, 14, 3, 2, 26];
const SHA256: &[u64] = &[2, 16, 840, 1, 101, 3, 4, 2, 1];
const OCSP_BASIC: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 1, 1];

/// One `CertID` of a request, as sent.
struct CertId {
    hash: ObjectIdentifier,
    name_hash: Vec<u8>,
    key_hash: Vec<u8>,
    serial: Vec<u8>,
}

/// `GET ocsp/<request>`: the request in base64 (standard or URL alphabet, percent-encoded
/// or not).
pub(crate) async fn get(req: &Request, encoded: &str) -> Result<Response> {
    use base64::Engine as _;
    let text = restore_trailing_slashes(percent_decode(encoded).trim());
    let der = base64::engine::general_purpose::STANDARD
        .decode(&text)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(&text));
    match der {
        Ok(der) => answer(req, &der).await,
        Err(_) => Ok(status_only(1, 400)),
    }
}

/// The request path loses its trailing slashes before it reaches the engine, and a standard
/// base64 request whose length is a multiple of three has no padding, so it may have ended in
/// `/` (one request in a few hundred). Padded base64 is a multiple of four long: the missing
/// characters can only have been slashes.
fn restore_trailing_slashes(text: &str) -> String {
    let mut text = text.to_string();
    if !text.ends_with('=') {
        while !text.len().is_multiple_of(4) {
            text.push('/');
        }
    }
    text
}

/// `POST ocsp`: the request as the DER body.
pub(crate) async fn post(req: &Request) -> Result<Response> {
    match &req.raw_body {
        Some(body) => answer(req, &body.bytes).await,
        None => Ok(status_only(1, 400)),
    }
}

/// An `OCSPResponse` with only a status (1 malformedRequest, 2 internalError).
fn status_only(status: u8, http: u16) -> Response {
    let der = yasna::construct_der(|w| w.write_sequence(|w| w.next().write_enum(status.into())));
    Response::raw_with_status(http, CONTENT_TYPE, der)
}

async fn answer(req: &Request, der: &[u8]) -> Result<Response> {
    let Ok(ids) = parse_request(der) else {
        return Ok(status_only(1, 400));
    };
    let issuers = records::issuers(&req.storage).await?;
    let Some(default) = records::resolve_issuer(&req.storage, "default").await? else {
        return Ok(status_only(2, 500));
    };
    let now = now_unix();
    let mut signer: Option<&IssuerRecord> = None;
    let mut singles = Vec::with_capacity(ids.len());
    for id in &ids {
        let issuer = find_issuer(&issuers, id)?;
        let status = match issuer {
            None => Status::Unknown,
            Some(issuer) => {
                signer.get_or_insert(issuer);
                let serial = format_serial(&trim(&id.serial));
                match records::revoked(&req.storage, &serial).await? {
                    Some(r) if r.issuer_id == issuer.id => {
                        Status::Revoked((r.revocation_time_nanos / 1_000_000_000) as i64)
                    }
                    _ => Status::Good,
                }
            }
        };
        singles.push((id, status));
    }
    let signer = signer.unwrap_or(&default);
    let validity = records::crl_config(&req.storage).await?.ocsp_expiry_secs();
    let der = basic_response(signer, &singles, now, validity)?;
    Ok(Response::raw(CONTENT_TYPE, der))
}

enum Status {
    Good,
    Revoked(i64),
    Unknown,
}

/// The issuer whose subject and key hash to the `CertID`'s (SHA-1 or SHA-256).
fn find_issuer<'a>(issuers: &'a [IssuerRecord], id: &CertId) -> Result<Option<&'a IssuerRecord>> {
    let algorithm = if id.hash == ObjectIdentifier::from_slice(SHA1) {
        &ring::digest::SHA1_FOR_LEGACY_USE_ONLY
    } else if id.hash == ObjectIdentifier::from_slice(SHA256) {
        &ring::digest::SHA256
    } else {
        return Ok(None);
    };
    for issuer in issuers {
        let der = pem_to_der(&issuer.certificate_pem)?;
        let (_, cert) = X509Certificate::from_der(&der)
            .map_err(|e| PkiError::crypto("reading an issuer's certificate", e))?;
        let name = ring::digest::digest(algorithm, cert.subject().as_raw());
        let key = ring::digest::digest(algorithm, &cert.public_key().subject_public_key.data);
        if name.as_ref() == id.name_hash.as_slice() && key.as_ref() == id.key_hash.as_slice() {
            return Ok(Some(issuer));
        }
    }
    Ok(None)
}

/// The `CertID`s of an `OCSPRequest`; its version, requestor name, extensions and optional
/// signature are read past.
fn parse_request(der: &[u8]) -> std::result::Result<Vec<CertId>, yasna::ASN1Error> {
    yasna::parse_der(der, |r| {
        r.read_sequence(|r| {
            let ids = r.next().read_sequence(|r| {
                r.read_optional(|r| r.read_tagged(Tag::context(0), |r| r.read_u8()))?;
                r.read_optional(|r| r.read_tagged(Tag::context(1), |r| r.read_der()))?;
                let mut ids = Vec::new();
                r.next().read_sequence_of(|r| {
                    r.read_sequence(|r| {
                        ids.push(read_cert_id(r.next())?);
                        r.read_optional(|r| r.read_tagged(Tag::context(0), |r| r.read_der()))?;
                        Ok(())
                    })
                })?;
                r.read_optional(|r| r.read_tagged(Tag::context(2), |r| r.read_der()))?;
                Ok(ids)
            })?;
            r.read_optional(|r| r.read_tagged(Tag::context(0), |r| r.read_der()))?;
            Ok(ids)
        })
    })
}

fn read_cert_id(r: yasna::BERReader) -> std::result::Result<CertId, yasna::ASN1Error> {
    r.read_sequence(|r| {
        let hash = r.next().read_sequence(|r| {
            let oid = r.next().read_oid()?;
            r.read_optional(|r| r.read_null())?;
            Ok(oid)
        })?;
        let name_hash = r.next().read_bytes()?;
        let key_hash = r.next().read_bytes()?;
        let (serial, _) = r.next().read_bigint_bytes()?;
        Ok(CertId {
            hash,
            name_hash,
            key_hash,
            serial,
        })
    })
}

fn write_cert_id(w: DERWriter, id: &CertId) {
    w.write_sequence(|w| {
        w.next().write_sequence(|w| {
            w.next().write_oid(&id.hash);
            w.next().write_null();
        });
        w.next().write_bytes(&id.name_hash);
        w.next().write_bytes(&id.key_hash);
        w.next().write_bigint_bytes(&id.serial, true);
    })
}

/// A successful `OCSPResponse` carrying a `BasicOCSPResponse` signed by `signer`.
fn basic_response(
    signer: &IssuerRecord,
    singles: &[(&CertId, Status)],
    now: i64,
    validity: i64,
) -> Result<Vec<u8>> {
    let cert_der = pem_to_der(&signer.certificate_pem)?;
    let (_, cert) = X509Certificate::from_der(&cert_der)
        .map_err(|e| PkiError::crypto("reading an issuer's certificate", e))?;
    let responder_name = cert.subject().as_raw().to_vec();
    let produced = time_of(now)?;
    let next = time_of(now + validity)?;
    let tbs = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next()
                .write_tagged(Tag::context(1), |w| w.write_der(&responder_name));
            w.next().write_generalized_time(&produced);
            w.next().write_sequence(|w| {
                for (id, status) in singles {
                    w.next().write_sequence(|w| {
                        write_cert_id(w.next(), id);
                        match status {
                            Status::Good => w
                                .next()
                                .write_tagged_implicit(Tag::context(0), |w| w.write_null()),
                            Status::Unknown => w
                                .next()
                                .write_tagged_implicit(Tag::context(2), |w| w.write_null()),
                            Status::Revoked(at) => {
                                let at = time_of(*at).unwrap_or_else(|_| produced.clone());
                                w.next().write_tagged_implicit(Tag::context(1), |w| {
                                    w.write_sequence(|w| w.next().write_generalized_time(&at))
                                })
                            }
                        }
                        w.next().write_generalized_time(&produced);
                        w.next()
                            .write_tagged(Tag::context(0), |w| w.write_generalized_time(&next));
                    });
                }
            });
        })
    });
    let key = signer.private_key()?;
    let signature = key.sign(&tbs)?;
    let basic = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_der(&tbs);
            key.spec.write_signature_algorithm(w.next());
            w.next().write_bitvec_bytes(&signature, signature.len() * 8);
        })
    });
    Ok(yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_enum(0);
            w.next().write_tagged(Tag::context(0), |w| {
                w.write_sequence(|w| {
                    w.next()
                        .write_oid(&ObjectIdentifier::from_slice(OCSP_BASIC));
                    w.next().write_bytes(&basic);
                })
            });
        })
    }))
}

fn time_of(unix: i64) -> Result<GeneralizedTime> {
    let at = OffsetDateTime::from_unix_timestamp(unix)
        .map_err(|e| PkiError::crypto("an OCSP time", e))?;
    Ok(GeneralizedTime::from_datetime(at))
}

/// A serial's bytes without DER's leading zero.
fn trim(serial: &[u8]) -> Vec<u8> {
    let mut s = serial;
    while s.len() > 1 && s[0] == 0 {
        s = &s[1..];
    }
    s.to_vec()
}

/// `%2F` and friends back to their characters; anything malformed is kept as it is.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slashes_stripped_from_the_path_are_put_back() {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        for der in [
            &[0x30, 0x01, 0xff][..],
            &[0x30, 0x0f, 0xff],
            &[0x33, 0xff, 0xff],
        ] {
            let full = b64.encode(der);
            assert!(full.ends_with('/'), "{full}");
            let stripped = full.trim_end_matches('/');
            assert_eq!(b64.decode(restore_trailing_slashes(stripped)).unwrap(), der);
        }
        assert_eq!(restore_trailing_slashes("MEo="), "MEo=");
        assert_eq!(restore_trailing_slashes("MEow"), "MEow");
    }

    #[test]
    fn percent_and_trim() {
        assert_eq!(percent_decode("MEow%2FTTA%3D"), "MEow/TTA=");
        assert_eq!(percent_decode("abc%"), "abc%");
        assert_eq!(trim(&[0, 0x80]), vec![0x80]);
    }

    #[test]
    fn malformed_requests() {
        assert!(parse_request(b"junk").is_err());
        let r = status_only(1, 400);
        assert_eq!(r.raw.unwrap().body, [0x30, 0x03, 0x0a, 0x01, 0x01]);
    }
}
