//! What the method persists in its mount's storage, and the login's internal data.
//!
//! Keys (role names are lowercased, HMACs are lowercase hex):
//! - `hmac-key`: the mount's [`KeyRecord`], created on first use.
//! - `role/<name>`: a [`RoleRecord`].
//! - `role-id/<hmac of role_id>`: a [`RoleIdRecord`] naming the role, so login finds the role
//!   of a role ID with one get and two roles can never share a role ID.
//! - `secret-id/<role>/<hmac of secret_id>`: a [`SecretIdRecord`]. The secret ID itself is
//!   never stored; a login finds its record by recomputing the HMAC.
//! - `accessor/<role>/<accessor>`: an [`AccessorRecord`] pointing at the secret ID's HMAC, so
//!   LIST and the accessor endpoints work without the secret ID.

use std::collections::BTreeMap;

use secrethub_engine::TokenParams;
use serde::{Deserialize, Serialize};

/// The version written into every record.
pub(crate) const RECORD_VERSION: u32 = 1;

/// The mount's HMAC key for role and secret IDs (hex), generated from the OS RNG.
#[derive(Serialize, Deserialize)]
pub(crate) struct KeyRecord {
    pub(crate) version: u32,
    pub(crate) key: String,
}

/// An AppRole (`role/:name`). No `Debug`: the role ID is half of a credential.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct RoleRecord {
    pub(crate) version: u32,
    /// The lowercased name, as in the key.
    pub(crate) name: String,
    pub(crate) role_id: String,
    pub(crate) bind_secret_id: bool,
    #[serde(default)]
    pub(crate) secret_id_bound_cidrs: Vec<String>,
    #[serde(default)]
    pub(crate) secret_id_num_uses: u64,
    #[serde(default)]
    pub(crate) secret_id_ttl_secs: u64,
    #[serde(default)]
    pub(crate) local_secret_ids: bool,
    #[serde(default)]
    pub(crate) token: TokenParams,
}

impl RoleRecord {
    /// A new role with Vault's defaults (`bind_secret_id` on) and the given role ID.
    pub(crate) fn new(name: &str, role_id: String) -> Self {
        RoleRecord {
            version: RECORD_VERSION,
            name: name.to_string(),
            role_id,
            bind_secret_id: true,
            secret_id_bound_cidrs: Vec::new(),
            secret_id_num_uses: 0,
            secret_id_ttl_secs: 0,
            local_secret_ids: false,
            token: TokenParams::default(),
        }
    }
}

/// Which role a role ID belongs to (`role-id/<hmac>`).
#[derive(Serialize, Deserialize)]
pub(crate) struct RoleIdRecord {
    pub(crate) version: u32,
    pub(crate) role_name: String,
}

/// One secret ID (`secret-id/<role>/<hmac>`). Times are Unix nanoseconds; an expiration of
/// zero means the secret ID does not expire.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SecretIdRecord {
    pub(crate) version: u32,
    pub(crate) accessor: String,
    /// Uses left; zero means unlimited.
    pub(crate) num_uses: u64,
    pub(crate) ttl_secs: u64,
    pub(crate) creation_time: i128,
    pub(crate) expiration_time: i128,
    pub(crate) last_updated_time: i128,
    #[serde(default)]
    pub(crate) metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) cidr_list: Vec<String>,
    #[serde(default)]
    pub(crate) token_bound_cidrs: Vec<String>,
}

impl SecretIdRecord {
    /// Whether the secret ID has expired at `now` (nanoseconds).
    pub(crate) fn expired(&self, now: i128) -> bool {
        self.expiration_time != 0 && now >= self.expiration_time
    }
}

/// Where a secret ID accessor points (`accessor/<role>/<accessor>`).
#[derive(Serialize, Deserialize)]
pub(crate) struct AccessorRecord {
    pub(crate) version: u32,
    pub(crate) secret_id_hmac: String,
}

/// What a login remembers for renewal: the role and the role ID it was made with, so a
/// deleted role or a changed role ID stops the token from being renewed.
#[derive(Serialize, Deserialize)]
pub(crate) struct LoginInternal {
    pub(crate) role_name: String,
    pub(crate) role_id: String,
}

pub(crate) const KEY_KEY: &str = "hmac-key";

pub(crate) fn role_key(name: &str) -> String {
    format!("role/{name}")
}

pub(crate) fn role_id_key(role_id_hmac: &str) -> String {
    format!("role-id/{role_id_hmac}")
}

pub(crate) fn secret_id_prefix(role: &str) -> String {
    format!("secret-id/{role}/")
}

pub(crate) fn secret_id_key(role: &str, secret_id_hmac: &str) -> String {
    format!("secret-id/{role}/{secret_id_hmac}")
}

pub(crate) fn accessor_prefix(role: &str) -> String {
    format!("accessor/{role}/")
}

pub(crate) fn accessor_key(role: &str, accessor: &str) -> String {
    format!("accessor/{role}/{accessor}")
}
