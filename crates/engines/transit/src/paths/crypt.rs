//! `encrypt/:name`, `decrypt/:name`, `rewrap/:name` (single or `batch_input`) and
//! `datakey/plaintext|wrapped/:name`.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use secrethub_common::JsonMap;
use secrethub_engine::{Operation, Request, Response};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::aead;
use crate::batch::{self, OnItemError};
use crate::error::{Result, TransitError};
use crate::fields::{batch_items, Fields};
use crate::key::{KeyRecord, KeyType, KeyVersion, NewKey};
use crate::TransitEngine;

const KEY_NOT_FOUND: &str = "encryption key not found";

fn encrypt_one(rec: &KeyRecord, f: Fields<'_>) -> Result<JsonMap> {
    let plaintext = f.b64_required("plaintext", "missing plaintext to encrypt")?;
    encrypt_with(rec, f, &plaintext)
}

/// Encrypts `plaintext` with the item's `key_version`, `context` and `associated_data`:
/// Vault's `{ciphertext, key_version}`.
fn encrypt_with(rec: &KeyRecord, f: Fields<'_>, plaintext: &[u8]) -> Result<JsonMap> {
    let context = f.b64("context")?;
    let aad = f.b64("associated_data")?.unwrap_or_default();
    let (ciphertext, version) = aead::encrypt(
        rec,
        f.u32("key_version")?,
        plaintext,
        context.as_deref().map(|c| &c[..]),
        &aad,
    )?;
    let mut m = JsonMap::new();
    m.insert("ciphertext".into(), ciphertext.into());
    m.insert("key_version".into(), version.into());
    Ok(m)
}

fn decrypt_one(rec: &KeyRecord, f: Fields<'_>) -> Result<(Zeroizing<Vec<u8>>, u32)> {
    let ciphertext = f
        .string("ciphertext")?
        .filter(|c| !c.is_empty())
        .ok_or_else(|| TransitError::bad("missing ciphertext to decrypt"))?;
    let context = f.b64("context")?;
    let aad = f.b64("associated_data")?.unwrap_or_default();
    aead::decrypt(rec, &ciphertext, context.as_deref().map(|c| &c[..]), &aad)
}

impl TransitEngine {
    /// The key an encryption uses, created first when the request is a `create` (Vault's
    /// upsert: the pipeline made it one because the key does not exist, and the ACL allowed
    /// it).
    async fn key_for_encrypt(&self, req: &Request, name: &str) -> Result<KeyRecord> {
        if let Some(rec) = self.keys.load(&req.storage, name).await? {
            return Ok(rec);
        }
        if req.op != Operation::Create {
            return Err(TransitError::bad(KEY_NOT_FOUND));
        }
        let f = Fields(&req.body);
        let key_type = KeyType::parse(f.string("type")?.as_deref().unwrap_or("aes256-gcm96"))?;
        // Vault derives the new key when the (first) request item carries a context.
        let first_context = match batch_items(&req.body)? {
            Some(items) => match items.first() {
                Some(item) => Fields(item).string("context")?,
                None => None,
            },
            None => f.string("context")?,
        };
        let mut new = NewKey::of_type(key_type);
        new.derived = first_context.is_some_and(|c| !c.is_empty());
        new.convergent_encryption = f.bool("convergent_encryption")?;
        let new = new.checked()?;
        let first = KeyVersion::generate(new.key_type, new.key_size).await?;
        let _writing = self.keys.lock().await;
        if let Some(rec) = self.keys.load(&req.storage, name).await? {
            return Ok(rec);
        }
        self.create_locked(req, name, new, first).await
    }

    pub(crate) async fn encrypt(&self, req: &Request, name: &str) -> Result<Response> {
        let on_error = OnItemError::from_body(&req.body)?;
        let rec = self.key_for_encrypt(req, name).await?;
        batch::run(req, on_error, &[], |f| encrypt_one(&rec, f))
    }

    async fn existing(&self, req: &Request, name: &str) -> Result<KeyRecord> {
        self.keys
            .load(&req.storage, name)
            .await?
            .ok_or_else(|| TransitError::bad(KEY_NOT_FOUND))
    }

    pub(crate) async fn decrypt(&self, req: &Request, name: &str) -> Result<Response> {
        let on_error = OnItemError::from_body(&req.body)?;
        let rec = self.existing(req, name).await?;
        let empty = [("plaintext", Value::from(""))];
        batch::run(req, on_error, &empty, |f| {
            let (plaintext, _) = decrypt_one(&rec, f)?;
            let mut m = JsonMap::new();
            m.insert("plaintext".into(), B64.encode(&plaintext[..]).into());
            Ok(m)
        })
    }

    pub(crate) async fn rewrap(&self, req: &Request, name: &str) -> Result<Response> {
        let rec = self.existing(req, name).await?;
        batch::run(req, OnItemError::Ok, &[], |f| {
            let (plaintext, _) = decrypt_one(&rec, f)?;
            encrypt_with(&rec, f, &plaintext)
        })
    }

    pub(crate) async fn datakey(&self, req: &Request, kind: &str, name: &str) -> Result<Response> {
        let with_plaintext = match kind {
            "plaintext" => true,
            "wrapped" => false,
            _ => return Err(TransitError::bad("invalid type")),
        };
        let f = Fields(&req.body);
        let bits = f.get::<u32>("bits")?.unwrap_or(256);
        if !matches!(bits, 128 | 256 | 512) {
            return Err(TransitError::bad("invalid bit length"));
        }
        let rec = self.existing(req, name).await?;
        let data_key = Zeroizing::new(secrethub_common::random_bytes(bits as usize / 8));
        let mut m = encrypt_with(&rec, f, &data_key)?;
        if with_plaintext {
            m.insert("plaintext".into(), B64.encode(&data_key[..]).into());
        }
        Ok(Response::data(m))
    }
}
