//! `hmac/:name[/:algorithm]`, `sign/:name[/:hash_algorithm]` and
//! `verify/:name[/:hash_algorithm]` (a `signature`, or an `hmac`), single or `batch_input`;
//! answers are 200 with per-item errors, as Vault's.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use secrethub_common::JsonMap;
use secrethub_engine::{Request, Response};
use serde_json::Value;

use crate::aead::{split_versioned, versioned};
use crate::batch::{self, OnItemError};
use crate::digest::HashAlg;
use crate::error::{Result, TransitError};
use crate::fields::{batch_items, decode_b64, Fields};
use crate::key::{KeyRecord, KeyType, Secret};
use crate::signing::{self, Marshaling, Padding, SignHash};
use crate::TransitEngine;

/// The algorithm from the path, else from `field` of the body.
fn algorithm(req: &Request, from_path: &str, field: &str) -> Result<Option<String>> {
    if !from_path.is_empty() {
        return Ok(Some(from_path.to_string()));
    }
    Fields(&req.body).string(field)
}

/// The hash of a sign or verify request: from the path, else `hash_algorithm`, else the
/// legacy `algorithm`.
fn hash_name(req: &Request, alg: &str) -> Result<Option<String>> {
    match algorithm(req, alg, "hash_algorithm")? {
        Some(h) => Ok(Some(h)),
        None => Fields(&req.body).string("algorithm"),
    }
}

/// `hash_algorithm` (path, body, or the legacy `algorithm`), `marshaling_algorithm` and
/// `prehashed` of a sign or verify request.
fn signature_options(
    req: &Request,
    rec: &KeyRecord,
    alg: &str,
) -> Result<((SignHash, Padding), Marshaling)> {
    let body = Fields(&req.body);
    let hash = signing::sign_hash(rec.key_type, hash_name(req, alg)?.as_deref())?;
    let padding = Padding::parse(body.string("signature_algorithm")?.as_deref())?;
    let marshaling = Marshaling::parse(body.string("marshaling_algorithm")?.as_deref())?;
    if body.bool("prehashed")? {
        return Err(TransitError::bad("prehashed input is not supported yet"));
    }
    Ok(((hash, padding), marshaling))
}

fn hmac_key(rec: &KeyRecord, kv: &crate::key::KeyVersion) -> Secret {
    if rec.key_type == KeyType::Hmac {
        kv.key.clone()
    } else {
        kv.hmac_key.clone()
    }
}

impl TransitEngine {
    /// The key, or Vault's 400 `missing` when there is none.
    async fn key_or_400(&self, req: &Request, name: &str, missing: &str) -> Result<KeyRecord> {
        self.keys
            .load(&req.storage, name)
            .await?
            .ok_or_else(|| TransitError::bad(missing))
    }

    pub(crate) async fn hmac(&self, req: &Request, name: &str, alg: &str) -> Result<Response> {
        let alg = HashAlg::parse(algorithm(req, alg, "algorithm")?.as_deref())?;
        let rec = self
            .key_or_400(req, name, "encryption key not found")
            .await?;
        batch::run(req, OnItemError::Ok, &[], |f| {
            let input = f.b64_required("input", "missing input for HMAC")?;
            let (v, kv) = rec.encryption_version(f.u32("key_version")?)?;
            let tag = alg.hmac(hmac_key(&rec, kv).bytes(), &input)?;
            let mut m = JsonMap::new();
            m.insert("hmac".into(), versioned(v, &tag).into());
            Ok(m)
        })
    }

    pub(crate) async fn sign(&self, req: &Request, name: &str, alg: &str) -> Result<Response> {
        let rec = self.key_or_400(req, name, "signing key not found").await?;
        if !rec.key_type.signs() {
            return Err(TransitError::bad(format!(
                "key type {} does not support signing",
                rec.key_type.name()
            )));
        }
        let (hash, marshaling) = signature_options(req, &rec, alg)?;
        batch::run(
            req,
            OnItemError::Ok,
            &[("key_version", Value::from(0))],
            |f| {
                let input = f.b64_required("input", "missing input to sign")?;
                let (v, kv) = rec.encryption_version(f.u32("key_version")?)?;
                let sig = signing::sign(rec.key_type, &kv.key, hash, marshaling, &input)?;
                let text = match marshaling {
                    Marshaling::Asn1 => versioned(v, &sig),
                    Marshaling::Jws => format!("vault:v{v}:{}", B64URL.encode(sig)),
                };
                let mut m = JsonMap::new();
                m.insert("signature".into(), text.into());
                m.insert("key_version".into(), v.into());
                Ok(m)
            },
        )
    }

    pub(crate) async fn verify(&self, req: &Request, name: &str, alg: &str) -> Result<Response> {
        let rec = self
            .key_or_400(req, name, "signature verification key not found")
            .await?;
        let body = Fields(&req.body);
        let by_hmac = match batch_items(&req.body)? {
            Some(items) => {
                let hmacs = items
                    .iter()
                    .filter(|i| Fields(i).string("hmac").ok().flatten().is_some())
                    .count();
                let sigs = items
                    .iter()
                    .filter(|i| Fields(i).string("signature").ok().flatten().is_some())
                    .count();
                match (hmacs, sigs) {
                    (n, 0) if n == items.len() => true,
                    (0, n) if n == items.len() => false,
                    _ => {
                        return Err(TransitError::bad(
                            "some elements of batch_input are missing 'signature' or 'hmac'",
                        ))
                    }
                }
            }
            None => match (body.string("hmac")?, body.string("signature")?) {
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some(_), Some(_)) => {
                    return Err(TransitError::bad(
                        "provide one of 'signature' or 'hmac', not both",
                    ))
                }
                (None, None) => {
                    return Err(TransitError::bad(
                        "neither a 'signature' nor an 'hmac' were given to verify",
                    ))
                }
            },
        };
        if by_hmac {
            let alg = HashAlg::parse(hash_name(req, alg)?.as_deref())?;
            return batch::run(req, OnItemError::Ok, &[], |f| {
                let input = f.b64_required("input", "missing input")?;
                let text = f.string("hmac")?.unwrap_or_default();
                let (v, payload) = split_versioned(&text)?;
                let tag = decode_b64(payload)
                    .map_err(|_| TransitError::bad("invalid base64 hmac value"))?;
                let kv = rec.decryption_version(v)?;
                let valid = alg.hmac_matches(hmac_key(&rec, kv).bytes(), &input, &tag)?;
                Ok(valid_item(valid))
            });
        }
        if !rec.key_type.signs() {
            return Err(TransitError::bad(format!(
                "key type {} does not support verification",
                rec.key_type.name()
            )));
        }
        let (hash, marshaling) = signature_options(req, &rec, alg)?;
        batch::run(req, OnItemError::Ok, &[], |f| {
            let input = f.b64_required("input", "missing input")?;
            let text = f.string("signature")?.unwrap_or_default();
            let (v, payload) = split_versioned(&text)?;
            let sig = match marshaling {
                Marshaling::Asn1 => decode_b64(payload).map(|s| s.to_vec()),
                Marshaling::Jws => B64URL
                    .decode(payload.as_bytes())
                    .map_err(|_| TransitError::bad("invalid base64 signature value")),
            }
            .map_err(|_| TransitError::bad("invalid base64 signature value"))?;
            let kv = rec.decryption_version(v)?;
            let valid = signing::verify(rec.key_type, &kv.key, hash, marshaling, &input, &sig)?;
            Ok(valid_item(valid))
        })
    }
}

fn valid_item(valid: bool) -> JsonMap {
    let mut m = JsonMap::new();
    m.insert("valid".into(), valid.into());
    m
}
