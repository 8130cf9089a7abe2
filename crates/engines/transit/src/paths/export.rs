//! `export/:type/:name[/:version]` (exportable keys only, except public keys), and
//! `backup/:name` + `restore[/:name]` (keys with `exportable` and `allow_plaintext_backup`).
//! A backup is base64 of `{"policy": <key record>}`, our own format.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use secrethub_common::parse_guard::{self, ParseLimits, MAX_NESTING_DEPTH};
use secrethub_common::JsonMap;
use secrethub_engine::{Request, Response};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Result, TransitError};
use crate::fields::Fields;
use crate::key::{KeyRecord, KeyType, KeyVersion, RECORD_VERSION};
use crate::signing;
use crate::store::check_name;
use crate::TransitEngine;

/// A backup's JSON: as large as a base64 field may be, nested like our records (4 levels).
const BACKUP_LIMITS: ParseLimits = ParseLimits {
    max_bytes: 16 * 1024 * 1024,
    max_depth: MAX_NESTING_DEPTH,
};

#[derive(Serialize, Deserialize)]
struct Backup {
    policy: KeyRecord,
}

/// ring's PKCS#8 v2 document of an Ed25519 key: this prefix, the 32-byte seed, then the
/// public key.
const ED25519_PKCS8_PREFIX: &[u8] = &[
    0x30, 0x51, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

fn export_one(rec: &KeyRecord, kind: &str, kv: &KeyVersion) -> Result<String> {
    let t = rec.key_type;
    match kind {
        "encryption-key" | "signing-key" if t.rsa_bits().is_some() => {
            crate::rsa_keys::private_key_pem(&kv.key)
        }
        "encryption-key" if t.encrypts() => Ok(B64.encode(kv.key.bytes())),
        "hmac-key" if t == KeyType::Hmac => Ok(B64.encode(kv.key.bytes())),
        "hmac-key" => Ok(B64.encode(kv.hmac_key.bytes())),
        "public-key" if t.signs() => signing::public_key_text(t, &kv.key),
        "signing-key" if t == KeyType::Ed25519 => {
            let doc = kv.key.bytes();
            let seed = doc
                .strip_prefix(ED25519_PKCS8_PREFIX)
                .filter(|rest| rest.len() >= 32)
                .map(|rest| &rest[..32])
                .ok_or_else(|| {
                    TransitError::Internal(anyhow::anyhow!("unexpected ed25519 key layout"))
                })?;
            let public = signing::public_key_raw(t, &kv.key)?;
            let private = Zeroizing::new([seed, &public[..]].concat());
            Ok(B64.encode(&private[..]))
        }
        "signing-key" if t.signs() => Ok(signing::pem("PRIVATE KEY", kv.key.bytes())),
        "encryption-key" => Err(TransitError::bad("encryption not supported for the key")),
        "signing-key" | "public-key" => Err(TransitError::bad("signing not supported for the key")),
        _ => Err(TransitError::bad("invalid export type")),
    }
}

impl TransitEngine {
    pub(crate) async fn export(
        &self,
        req: &Request,
        kind: &str,
        name: &str,
        version: &str,
    ) -> Result<Response> {
        if !matches!(
            kind,
            "encryption-key" | "signing-key" | "hmac-key" | "public-key"
        ) {
            return Err(TransitError::bad(format!("invalid export type: {kind}")));
        }
        let Some(rec) = self.keys.load(&req.storage, name).await? else {
            return Err(TransitError::NotFound);
        };
        if !rec.exportable && kind != "public-key" {
            return Err(TransitError::bad("private key material is not exportable"));
        }
        let mut keys = JsonMap::new();
        if version.is_empty() {
            for (v, kv) in &rec.versions {
                keys.insert(v.to_string(), export_one(&rec, kind, kv)?.into());
            }
        } else {
            let v = if version == "latest" {
                rec.latest_version
            } else {
                version
                    .parse::<u32>()
                    .map_err(|_| TransitError::bad("invalid key version"))?
            };
            let kv = rec
                .versions
                .get(&v)
                .ok_or_else(|| TransitError::bad("version does not exist or cannot be found"))?;
            keys.insert(v.to_string(), export_one(&rec, kind, kv)?.into());
        }
        let mut m = JsonMap::new();
        m.insert("keys".into(), keys.into());
        m.insert("name".into(), rec.name.clone().into());
        m.insert("type".into(), rec.key_type.name().into());
        Ok(Response::data(m))
    }

    pub(crate) async fn backup(&self, req: &Request, name: &str) -> Result<Response> {
        let Some(rec) = self.keys.load(&req.storage, name).await? else {
            return Err(TransitError::bad(format!("key {name:?} not found")));
        };
        if !rec.exportable {
            return Err(TransitError::bad("exporting is disallowed on the policy"));
        }
        if !rec.allow_plaintext_backup {
            return Err(TransitError::bad(
                "plaintext backup is disallowed on the policy",
            ));
        }
        let json = Zeroizing::new(
            serde_json::to_vec(&Backup { policy: rec })
                .map_err(|e| TransitError::Internal(e.into()))?,
        );
        let mut m = JsonMap::new();
        m.insert("backup".into(), B64.encode(&json[..]).into());
        Ok(Response::data(m))
    }

    pub(crate) async fn restore(&self, req: &Request, name: &str) -> Result<Response> {
        let f = Fields(&req.body);
        let raw = f
            .b64("backup")?
            .ok_or_else(|| TransitError::bad("'backup' must be supplied"))?;
        let force = f.bool("force")?;
        let not_ours =
            || TransitError::bad("the backup is not a transit key backup of this server");
        // A recursive parser's input passes the size and depth bound first.
        let text = std::str::from_utf8(&raw).map_err(|_| not_ours())?;
        parse_guard::check(text, BACKUP_LIMITS).map_err(|_| not_ours())?;
        let Backup { policy: mut rec } = serde_json::from_str(text).map_err(|_| not_ours())?;
        if !name.is_empty() {
            rec.name = name.to_string();
        }
        check_name(&rec.name)?;
        let consistent = rec.version == RECORD_VERSION
            && rec.versions.contains_key(&rec.latest_version)
            && rec.versions.keys().all(|v| *v <= rec.latest_version);
        if !consistent {
            return Err(TransitError::bad(
                "the backup's key versions are inconsistent",
            ));
        }
        let _writing = self.keys.lock().await;
        if !force && self.keys.load(&req.storage, &rec.name).await?.is_some() {
            return Err(TransitError::bad(format!(
                "key {:?} already exists",
                rec.name
            )));
        }
        self.keys.save(&req.storage, &rec).await?;
        let timer = crate::store::rotate_timer(&rec.name);
        match rec.next_rotation() {
            Some(at) => req.schedule(&timer, at).await?,
            None => req.unschedule(&timer).await?,
        }
        Ok(Response::empty())
    }
}
