//! `pki/roles/:name` and LIST `pki/roles`: what a role lets `issue` and `sign` put in a
//! certificate. A write replaces the whole role, fields not given taking Vault's defaults
//! (Vault's `POST`); the answer is the role as read. Every field Vault answers is kept and
//! answered, including the ones this engine does not act on yet (see the crate docs).

use secrethub_common::input;
use secrethub_engine::{Request, Response};
use secrethub_storage::{Storage as _, StorageView};
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{PkiError, Result};
use crate::keys::KeySpec;
use crate::records::{RECORD_VERSION, ROLES};

/// A role as stored and as answered (`version` aside).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct RoleRecord {
    pub(crate) version: u32,
    pub(crate) allow_any_name: bool,
    pub(crate) allow_bare_domains: bool,
    pub(crate) allow_glob_domains: bool,
    pub(crate) allow_globs_in_identity_templates: bool,
    pub(crate) allow_ip_sans: bool,
    pub(crate) allow_localhost: bool,
    pub(crate) allow_subdomains: bool,
    pub(crate) allow_token_displayname: bool,
    pub(crate) allow_wildcard_certificates: bool,
    pub(crate) allowed_domains: Vec<String>,
    pub(crate) allowed_domains_template: bool,
    pub(crate) allowed_ip_sans_cidr: Vec<String>,
    pub(crate) allowed_other_sans: Vec<String>,
    pub(crate) allowed_serial_numbers: Vec<String>,
    pub(crate) allowed_uri_sans: Vec<String>,
    pub(crate) allowed_uri_sans_template: bool,
    pub(crate) allowed_user_ids: Vec<String>,
    pub(crate) basic_constraints_valid_for_non_ca: bool,
    pub(crate) client_flag: bool,
    pub(crate) cn_validations: Vec<String>,
    pub(crate) code_signing_flag: bool,
    pub(crate) country: Vec<String>,
    pub(crate) email_protection_flag: bool,
    pub(crate) enforce_hostnames: bool,
    pub(crate) ext_key_usage: Vec<String>,
    pub(crate) ext_key_usage_oids: Vec<String>,
    pub(crate) generate_lease: bool,
    pub(crate) issuer_ref: String,
    pub(crate) key_bits: u32,
    pub(crate) key_type: String,
    pub(crate) key_usage: Vec<String>,
    pub(crate) locality: Vec<String>,
    #[serde(deserialize_with = "seconds")]
    pub(crate) max_ttl: u64,
    pub(crate) no_store: bool,
    pub(crate) not_after: String,
    pub(crate) not_after_bound: String,
    pub(crate) not_before: String,
    pub(crate) not_before_bound: String,
    #[serde(deserialize_with = "seconds")]
    pub(crate) not_before_duration: u64,
    pub(crate) organization: Vec<String>,
    pub(crate) ou: Vec<String>,
    pub(crate) policy_identifiers: Vec<String>,
    pub(crate) postal_code: Vec<String>,
    pub(crate) province: Vec<String>,
    pub(crate) require_cn: bool,
    pub(crate) server_flag: bool,
    pub(crate) signature_bits: u32,
    pub(crate) street_address: Vec<String>,
    #[serde(deserialize_with = "seconds")]
    pub(crate) ttl: u64,
    pub(crate) use_csr_common_name: bool,
    pub(crate) use_csr_sans: bool,
    pub(crate) use_pss: bool,
}

/// Vault's defaults for a role.
impl Default for RoleRecord {
    fn default() -> Self {
        RoleRecord {
            version: RECORD_VERSION,
            allow_any_name: false,
            allow_bare_domains: false,
            allow_glob_domains: false,
            allow_globs_in_identity_templates: false,
            allow_ip_sans: true,
            allow_localhost: true,
            allow_subdomains: false,
            allow_token_displayname: false,
            allow_wildcard_certificates: true,
            allowed_domains: Vec::new(),
            allowed_domains_template: false,
            allowed_ip_sans_cidr: Vec::new(),
            allowed_other_sans: Vec::new(),
            allowed_serial_numbers: Vec::new(),
            allowed_uri_sans: Vec::new(),
            allowed_uri_sans_template: false,
            allowed_user_ids: Vec::new(),
            basic_constraints_valid_for_non_ca: false,
            client_flag: true,
            cn_validations: vec!["email".into(), "hostname".into()],
            code_signing_flag: false,
            country: Vec::new(),
            email_protection_flag: false,
            enforce_hostnames: true,
            ext_key_usage: Vec::new(),
            ext_key_usage_oids: Vec::new(),
            generate_lease: false,
            issuer_ref: "default".into(),
            key_bits: 0,
            key_type: "rsa".into(),
            key_usage: vec![
                "DigitalSignature".into(),
                "KeyAgreement".into(),
                "KeyEncipherment".into(),
            ],
            locality: Vec::new(),
            max_ttl: 0,
            no_store: false,
            not_after: String::new(),
            not_after_bound: "permit".into(),
            not_before: String::new(),
            not_before_bound: "permit".into(),
            not_before_duration: 30,
            organization: Vec::new(),
            ou: Vec::new(),
            policy_identifiers: Vec::new(),
            postal_code: Vec::new(),
            province: Vec::new(),
            require_cn: true,
            server_flag: true,
            signature_bits: 0,
            street_address: Vec::new(),
            ttl: 0,
            use_csr_common_name: true,
            use_csr_sans: true,
            use_pss: false,
        }
    }
}

/// A duration as Vault takes it (`"1h"`, `3600`, `"3600"`), kept in seconds.
fn seconds<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<u64, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    if v.is_null() {
        return Ok(0);
    }
    input::duration_of(&v)
        .map(|d| d.as_secs())
        .map_err(|e| serde::de::Error::custom(e.message().to_string()))
}

impl RoleRecord {
    /// The role's key spec; `None` for `key_type = any` (sign only).
    pub(crate) fn key_spec(&self) -> Result<Option<KeySpec>> {
        if self.key_type == "any" {
            return Ok(None);
        }
        KeySpec::parse(&self.key_type, self.key_bits).map(Some)
    }
}

fn role_key(name: &str) -> Result<String> {
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return Err(PkiError::invalid(format!("invalid role name {name:?}")));
    }
    Ok(format!("{ROLES}{name}"))
}

/// A role, `None` when there is none.
pub(crate) async fn load_role(storage: &StorageView, name: &str) -> Result<Option<RoleRecord>> {
    Ok(storage.get_json(&role_key(name)?).await?)
}

pub(crate) async fn read(req: &Request, name: &str) -> Result<Response> {
    let role = load_role(&req.storage, name)
        .await?
        .ok_or(PkiError::NotFound)?;
    Ok(answer(&role))
}

/// The role as Vault answers it: every field but the record's version.
fn answer(role: &RoleRecord) -> Response {
    match serde_json::to_value(role) {
        Ok(serde_json::Value::Object(mut map)) => {
            map.remove("version");
            Response::data(map)
        }
        _ => Response::empty(),
    }
}

pub(crate) async fn write(req: &Request, name: &str) -> Result<Response> {
    let key = role_key(name)?;
    let mut role: RoleRecord = input::decode(&req.body)?;
    role.version = RECORD_VERSION;
    match role.key_type.as_str() {
        "any" => role.key_bits = 0,
        other => {
            let spec = KeySpec::parse(other, role.key_bits).map_err(|e| match other {
                "rsa" | "ec" | "ed25519" => e,
                _ => PkiError::invalid(format!("unknown key type {other}")),
            })?;
            role.key_bits = spec.bits;
        }
    }
    if role.max_ttl > 0 && role.ttl > role.max_ttl {
        return Err(PkiError::invalid(
            "\"ttl\" value must be less than \"max_ttl\" value",
        ));
    }
    if role.issuer_ref.is_empty() {
        role.issuer_ref = "default".into();
    }
    req.storage.put_json(&key, &role).await?;
    Ok(answer(&role))
}

pub(crate) async fn delete(req: &Request, name: &str) -> Result<Response> {
    req.storage.delete(&role_key(name)?).await?;
    Ok(Response::empty())
}

pub(crate) async fn list(req: &Request) -> Result<Response> {
    let keys = secrethub_storage::list_all(&req.storage, ROLES).await?;
    Response::list(keys).map_err(|_| PkiError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(v: serde_json::Value) -> RoleRecord {
        input::decode(v.as_object().unwrap()).unwrap()
    }

    #[test]
    fn vaults_loose_input_and_defaults() {
        let r = decode(
            json!({"allowed_domains": "a.com,b.com", "allow_subdomains": "true",
            "ttl": "1h", "max_ttl": 7200, "key_type": "ec"}),
        );
        assert_eq!(r.allowed_domains, vec!["a.com", "b.com"]);
        assert!(r.allow_subdomains && r.allow_localhost && r.server_flag);
        assert_eq!((r.ttl, r.max_ttl, r.not_before_duration), (3600, 7200, 30));
        let shown = answer(&r).data.unwrap();
        assert!(shown.get("version").is_none());
        assert_eq!(shown["issuer_ref"], "default");
    }
}
