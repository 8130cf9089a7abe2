//! Importing issuers: `intermediate/set-signed` and `config/ca`. A PEM bundle's first
//! certificate whose public key matches a key (one in the bundle, or one that
//! `intermediate/generate` left waiting under `keys/`) becomes an issuer with that key; the
//! bundle's other certificates are kept as its chain. The same certificate imported again
//! is answered as existing. Keys may be PKCS#8 (`PRIVATE KEY`), PKCS#1 (`RSA PRIVATE KEY`)
//! or SEC1 (`EC PRIVATE KEY`).

use rcgen::PublicKeyData as _;
use secrethub_engine::{Request, Response};
use serde_json::{json, Value};
use x509_parser::prelude::{FromDer as _, X509Certificate};
use x509_parser::public_key::PublicKey;
use zeroize::Zeroizing;

use crate::ca::{self, NewIssuer};
use crate::cert::{cert_pem, facts_of_der, pem_to_der};
use crate::error::{PkiError, Result};
use crate::keys::{KeyKind, KeySpec, PrivateKey};
use crate::records::{self, KeyRecord, KEYS};

const TOO_SHORT: &str = "provided data for import was too short; perhaps a path was passed to the API rather than the contents of a PEM file";

/// `config/ca`: `pem_bundle`, a CA certificate (and chain) with its key.
pub(crate) async fn config_ca(req: &Request) -> Result<Response> {
    let bundle: String = req.field("pem_bundle").ok().flatten().unwrap_or_default();
    import(req, &bundle).await
}

/// A key given in the bundle, or one waiting under `keys/` (its record, to delete once
/// used).
struct Candidate {
    pkcs8: Zeroizing<Vec<u8>>,
    waiting: Option<KeyRecord>,
}

pub(crate) async fn import(req: &Request, bundle: &str) -> Result<Response> {
    let (ders, mut candidates) = parse_bundle(bundle)?;
    if ders.is_empty() {
        return Err(PkiError::invalid(TOO_SHORT));
    }
    let issuers = records::issuers(&req.storage).await?;
    for der in &ders {
        if let Some(existing) = issuers
            .iter()
            .find(|i| pem_to_der(&i.certificate_pem).ok().as_deref() == Some(der.as_slice()))
        {
            return Ok(answer(
                Value::Null,
                json!([existing.id]),
                &existing.id,
                &existing.key_id,
            ));
        }
    }
    for id in secrethub_storage::list_all(&req.storage, KEYS).await? {
        if let Some(rec) = req
            .storage
            .get_json::<KeyRecord>(&format!("{KEYS}{id}"))
            .await?
        {
            let pkcs8 = Zeroizing::new(rec.private_key()?.pkcs8().to_vec());
            candidates.push(Candidate {
                pkcs8,
                waiting: Some(rec),
            });
        }
    }
    for (i, der) in ders.iter().enumerate() {
        let Some(spec) = spec_of(der)? else { continue };
        let public = public_key_bits(der)?;
        let matching = candidates.iter().position(|c| {
            PrivateKey::from_pkcs8(spec, c.pkcs8.to_vec())
                .key_pair()
                .is_ok_and(|pair| pair.der_bytes() == public.as_slice())
        });
        let Some(at) = matching else { continue };
        let candidate = candidates.swap_remove(at);
        let key = PrivateKey::from_pkcs8(spec, candidate.pkcs8.to_vec());
        let facts = facts_of_der(der.clone())?;
        let chain = ders
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, d)| cert_pem(d))
            .collect();
        let (key_id, key_name) = match &candidate.waiting {
            Some(rec) => (Some(rec.id.clone()), rec.name.clone()),
            None => (None, String::new()),
        };
        let record = ca::store_issuer(
            req,
            NewIssuer {
                name: "",
                key_id,
                key_name: &key_name,
                certificate_pem: cert_pem(der),
                serial_number: facts.serial,
                not_after: facts.not_after,
                key: &key,
                ca_chain: chain,
            },
        )
        .await?;
        let from_bundle = candidate.waiting.is_none();
        if let Some(rec) = candidate.waiting {
            ca::delete_keys(req, vec![format!("{KEYS}{}", rec.id)]).await?;
        }
        let mut response = answer(json!([record.id]), Value::Null, &record.id, &record.key_id);
        if let (true, Some(data)) = (from_bundle, response.data.as_mut()) {
            data.insert("imported_keys".into(), json!([record.key_id]));
        }
        return Ok(response);
    }
    Err(PkiError::invalid(
        "the certificate's public key matches no key of this mount or of the bundle (generate the CSR with intermediate/generate first, or send the key in the bundle)",
    ))
}

fn answer(imported: Value, existing: Value, id: &str, key_id: &str) -> Response {
    let mut mapping = serde_json::Map::new();
    mapping.insert(id.to_string(), json!(key_id));
    crate::paths::answer([
        ("existing_issuers", existing),
        ("existing_keys", Value::Null),
        ("imported_issuers", imported),
        ("imported_keys", Value::Null),
        ("mapping", Value::Object(mapping)),
    ])
}

/// The bundle's certificates (DER, in order) and keys (as PKCS#8).
fn parse_bundle(bundle: &str) -> Result<(Vec<Vec<u8>>, Vec<Candidate>)> {
    let mut certs = Vec::new();
    let mut keys = Vec::new();
    for block in x509_parser::pem::Pem::iter_from_buffer(bundle.as_bytes()) {
        let block = block.map_err(|_| PkiError::invalid("unable to parse the PEM bundle"))?;
        let contents = Zeroizing::new(block.contents);
        let pkcs8 = match block.label.as_str() {
            "CERTIFICATE" => {
                certs.push(contents.to_vec());
                continue;
            }
            "PRIVATE KEY" => contents,
            "RSA PRIVATE KEY" => pkcs8_of_pkcs1(&contents)?,
            "EC PRIVATE KEY" => pkcs8_of_sec1(&contents)?,
            _ => continue,
        };
        keys.push(Candidate {
            pkcs8,
            waiting: None,
        });
    }
    Ok((certs, keys))
}

fn pkcs8_of_pkcs1(der: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    use rsa::pkcs1::DecodeRsaPrivateKey as _;
    use rsa::pkcs8::EncodePrivateKey as _;
    let key = rsa::RsaPrivateKey::from_pkcs1_der(der)
        .map_err(|_| PkiError::invalid("unable to parse the RSA private key"))?;
    let doc = key
        .to_pkcs8_der()
        .map_err(|e| PkiError::crypto("encoding an RSA key", e))?;
    Ok(Zeroizing::new(doc.as_bytes().to_vec()))
}

/// PKCS#8 around a SEC1 key, naming its curve (from the key's own parameters).
fn pkcs8_of_sec1(der: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let curve = yasna::parse_der(der, |r| {
        r.read_sequence(|r| {
            r.next().read_u8()?;
            r.next().read_bytes()?;
            let curve =
                r.read_optional(|r| r.read_tagged(yasna::Tag::context(0), |r| r.read_oid()))?;
            r.read_optional(|r| r.read_der())?;
            Ok(curve)
        })
    })
    .map_err(|_| PkiError::invalid("unable to parse the EC private key"))?
    .ok_or_else(|| PkiError::invalid("the EC private key does not name its curve"))?;
    let out = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_u8(0);
            w.next().write_sequence(|w| {
                w.next()
                    .write_oid(&yasna::models::ObjectIdentifier::from_slice(&[
                        1, 2, 840, 10045, 2, 1,
                    ]));
                w.next().write_oid(&curve);
            });
            w.next().write_bytes(der);
        })
    });
    Ok(Zeroizing::new(out))
}

/// The key spec of a certificate's public key; `None` for a type this engine does not sign
/// with.
fn spec_of(der: &[u8]) -> Result<Option<KeySpec>> {
    let (_, cert) = X509Certificate::from_der(der)
        .map_err(|_| PkiError::invalid("unable to parse the certificate"))?;
    let spec = match cert.public_key().parsed() {
        Ok(PublicKey::RSA(rsa)) => KeySpec {
            kind: KeyKind::Rsa,
            bits: rsa.key_size() as u32,
        },
        Ok(PublicKey::EC(point)) => KeySpec {
            kind: KeyKind::Ec,
            bits: if point.key_size() > 256 { 384 } else { 256 },
        },
        _ if cert.public_key().algorithm.algorithm.to_id_string() == "1.3.101.112" => KeySpec {
            kind: KeyKind::Ed25519,
            bits: 0,
        },
        _ => return Ok(None),
    };
    Ok(Some(spec))
}

fn public_key_bits(der: &[u8]) -> Result<Vec<u8>> {
    let (_, cert) = X509Certificate::from_der(der)
        .map_err(|_| PkiError::invalid("unable to parse the certificate"))?;
    Ok(cert.public_key().subject_public_key.data.to_vec())
}
