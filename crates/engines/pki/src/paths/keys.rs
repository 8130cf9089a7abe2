//! `pki/keys` (LIST) and `pki/key/:ref`: the keys of the mount's issuers and those waiting
//! for an intermediate's certificate, by ID or name. Key material is never answered.

use secrethub_engine::{Request, Response};
use serde_json::{json, Value};
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::{FromDer as _, X509Certificate};

use crate::cert::{format_serial, pem_to_der};
use crate::error::{PkiError, Result};
use crate::paths::answer;
use crate::records::{self, KeyRecord, KEYS};

/// One key as listed: ID, name, type, key identifier, whether the default issuer uses it.
struct KeyInfo {
    id: String,
    name: String,
    key_type: String,
    subject_key_id: String,
}

async fn all(req: &Request) -> Result<Vec<KeyInfo>> {
    let mut out = Vec::new();
    for issuer in records::issuers(&req.storage).await? {
        out.push(KeyInfo {
            subject_key_id: subject_key_id(&issuer.certificate_pem)?,
            id: issuer.key_id,
            name: issuer.key_name,
            key_type: issuer.key_type,
        });
    }
    for id in secrethub_storage::list_all(&req.storage, KEYS).await? {
        if let Some(rec) = req
            .storage
            .get_json::<KeyRecord>(&format!("{KEYS}{id}"))
            .await?
        {
            use rcgen::PublicKeyData as _;
            let public = rec.private_key()?.key_pair()?.der_bytes().to_vec();
            // rcgen's key identifier: SHA-256 of the public key, cut to 20 bytes.
            let digest = ring::digest::digest(&ring::digest::SHA256, &public);
            out.push(KeyInfo {
                subject_key_id: format_serial(&digest.as_ref()[..20]),
                id: rec.id,
                name: rec.name,
                key_type: rec.key_type,
            });
        }
    }
    Ok(out)
}

fn subject_key_id(pem: &str) -> Result<String> {
    let der = pem_to_der(pem)?;
    let (_, cert) =
        X509Certificate::from_der(&der).map_err(|e| PkiError::crypto("reading an issuer", e))?;
    Ok(cert
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => Some(format_serial(id.0)),
            _ => None,
        })
        .unwrap_or_default())
}

pub(crate) async fn list(req: &Request) -> Result<Response> {
    let keys = all(req).await?;
    if keys.is_empty() {
        return Err(PkiError::NotFound);
    }
    let default_key = records::resolve_issuer(&req.storage, "default")
        .await?
        .map(|i| i.key_id)
        .unwrap_or_default();
    let mut info = serde_json::Map::new();
    for k in &keys {
        info.insert(
            k.id.clone(),
            json!({"is_default": k.id == default_key, "key_name": k.name}),
        );
    }
    let ids: Vec<Value> = keys.iter().map(|k| json!(k.id)).collect();
    Ok(answer([
        ("keys", Value::Array(ids)),
        ("key_info", Value::Object(info)),
    ]))
}

pub(crate) async fn read(req: &Request, reference: &str) -> Result<Response> {
    let keys = all(req).await?;
    let found = if reference == "default" {
        let default_key = records::resolve_issuer(&req.storage, "default")
            .await?
            .map(|i| i.key_id)
            .unwrap_or_default();
        keys.into_iter().find(|k| k.id == default_key)
    } else {
        keys.into_iter()
            .find(|k| k.id == reference || (!k.name.is_empty() && k.name == reference))
    };
    let k = found.ok_or_else(|| {
        PkiError::invalid(format!("unable to find PKI key for reference: {reference}"))
    })?;
    Ok(answer([
        ("key_id", json!(k.id)),
        ("key_name", json!(k.name)),
        ("key_type", json!(k.key_type)),
        ("subject_key_id", json!(k.subject_key_id)),
    ]))
}
