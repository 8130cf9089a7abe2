//! `pki/root/sign-self-issued` (sudo): a self-issued CA certificate (its issuer is its
//! subject, as a new root's is) signed again by this mount's default issuer (or
//! `issuer_ref`), everything else kept: serial, validity, subject, key and extensions. Used
//! to cross-sign a new root with the old one. The signature algorithm is the issuer's.

use secrethub_engine::{Request, Response};
use serde_json::json;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::{FromDer as _, X509Certificate};
use x509_parser::time::ASN1Time;

use crate::cert::{cert_pem, pem_to_der};
use crate::error::{PkiError, Result};
use crate::paths::answer;
use crate::paths::issuers::named;

const AUTHORITY_KEY_ID: [u64; 4] = [2, 5, 29, 35];

/// `path_issuer`: the issuer named by `issuer/:ref/sign-self-issued`, else `issuer_ref`.
pub(crate) async fn sign(req: &Request, path_issuer: &str) -> Result<Response> {
    let pem: String = req.field("certificate").ok().flatten().unwrap_or_default();
    let mut issuer_ref: String = req.field("issuer_ref").ok().flatten().unwrap_or_default();
    if !path_issuer.is_empty() {
        issuer_ref = path_issuer.to_string();
    }
    let der =
        pem_to_der(&pem).map_err(|_| PkiError::invalid("certificate could not be PEM-decoded"))?;
    let (_, cert) = X509Certificate::from_der(&der)
        .map_err(|_| PkiError::invalid("certificate could not be parsed"))?;
    if !cert.is_ca() {
        return Err(PkiError::invalid(
            "given certificate is not a CA certificate",
        ));
    }
    if cert.subject().as_raw() != cert.issuer().as_raw() {
        return Err(PkiError::invalid("given certificate is not self-issued"));
    }
    let issuer = named(
        req,
        if issuer_ref.is_empty() {
            "default"
        } else {
            &issuer_ref
        },
    )
    .await?;
    let issuer_der = pem_to_der(&issuer.certificate_pem)?;
    let (_, issuer_cert) = X509Certificate::from_der(&issuer_der)
        .map_err(|e| PkiError::crypto("reading an issuer's certificate", e))?;
    let key = issuer.private_key()?;
    let tbs = &cert.tbs_certificate;
    // The authority key identifier names the new signer (as Go's re-signing does), so
    // path builders find it.
    let issuer_key_id = issuer_cert
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
            _ => None,
        });
    let authority_key_id = issuer_key_id.map(|id| {
        yasna::construct_der(|w| {
            w.write_sequence(|w| {
                w.next()
                    .write_tagged_implicit(yasna::Tag::context(0), |w| w.write_bytes(&id))
            })
        })
    });
    let new_tbs = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next()
                .write_tagged(yasna::Tag::context(0), |w| w.write_u8(2));
            w.next().write_bigint_bytes(tbs.raw_serial(), true);
            key.spec.write_signature_algorithm(w.next());
            w.next().write_der(issuer_cert.subject().as_raw());
            w.next().write_sequence(|w| {
                write_time(w.next(), &tbs.validity.not_before);
                write_time(w.next(), &tbs.validity.not_after);
            });
            w.next().write_der(tbs.subject.as_raw());
            w.next().write_der(tbs.subject_pki.raw);
            if !tbs.extensions().is_empty() {
                w.next().write_tagged(yasna::Tag::context(3), |w| {
                    w.write_sequence(|w| {
                        for ext in tbs.extensions() {
                            let oid: Vec<u64> = ext.oid.iter().into_iter().flatten().collect();
                            let value = if oid == AUTHORITY_KEY_ID {
                                match &authority_key_id {
                                    Some(v) => v.as_slice(),
                                    None => continue,
                                }
                            } else {
                                ext.value
                            };
                            w.next().write_sequence(|w| {
                                w.next()
                                    .write_oid(&yasna::models::ObjectIdentifier::from_slice(&oid));
                                if ext.critical {
                                    w.next().write_bool(true);
                                }
                                w.next().write_bytes(value);
                            });
                        }
                    })
                });
            }
        })
    });
    let signature = key.sign(&new_tbs)?;
    let signed = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_der(&new_tbs);
            key.spec.write_signature_algorithm(w.next());
            w.next().write_bitvec_bytes(&signature, signature.len() * 8);
        })
    });
    Ok(answer([
        ("certificate", json!(cert_pem(&signed).trim_end())),
        ("issuing_ca", json!(issuer.certificate_pem.trim_end())),
    ]))
}

/// UTCTime through 2049, GeneralizedTime after, as RFC 5280 says.
fn write_time(w: yasna::DERWriter, t: &ASN1Time) {
    let at = t.to_datetime();
    if at.year() < 2050 {
        w.write_utctime(&yasna::models::UTCTime::from_datetime(at));
    } else {
        w.write_generalized_time(&yasna::models::GeneralizedTime::from_datetime(at));
    }
}
