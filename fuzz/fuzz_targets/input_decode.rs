//! Request-body decoding with Vault's weak typing (`secrethub_common::input::decode`), into
//! structs shaped like the engines' own input types (those are private to each engine crate):
//! a database role, a database connection config, an approle role, a jwt role, a KV write,
//! plus the single-field helpers.
#![no_main]
use std::collections::HashMap;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use secrethub_common::input::{decode, decode_value, duration_field, field};
use secrethub_common::serde_helpers::{opt_boolean, opt_duration, opt_string_list, opt_uint};
use secrethub_common::JsonMap;
use serde::Deserialize;
use serde_json::Value;

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
struct DbRole {
    db_name: Option<String>,
    creation_statements: Option<Vec<String>>,
    revocation_statements: Option<Vec<String>>,
    #[serde(default, deserialize_with = "opt_duration")]
    default_ttl: Option<Duration>,
    #[serde(default, deserialize_with = "opt_duration")]
    max_ttl: Option<Duration>,
    credential_type: Option<String>,
    credential_config: Option<HashMap<String, String>>,
}

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
struct DbConfig {
    plugin_name: Option<String>,
    connection_url: Option<String>,
    username: Option<String>,
    password: Option<String>,
    #[serde(default, deserialize_with = "opt_string_list")]
    allowed_roles: Option<Vec<String>>,
    #[serde(default, deserialize_with = "opt_boolean")]
    verify_connection: Option<bool>,
    #[serde(default, deserialize_with = "opt_uint")]
    max_open_connections: Option<u64>,
    username_template: Option<String>,
    password_policy: Option<String>,
}

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
struct AppRole {
    bind_secret_id: Option<bool>,
    secret_id_bound_cidrs: Option<Vec<String>>,
    secret_id_num_uses: Option<i64>,
    secret_id_ttl: Option<u64>,
    token_policies: Option<Vec<String>>,
    token_ttl: Option<Duration>,
    token_num_uses: Option<u32>,
    token_type: Option<String>,
}

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
struct JwtRole {
    role_type: Option<String>,
    bound_audiences: Option<Vec<String>>,
    user_claim: Option<String>,
    bound_claims: Option<HashMap<String, Value>>,
    claim_mappings: Option<HashMap<String, String>>,
    groups_claim: Option<String>,
    clock_skew_leeway: Option<i64>,
    expiration_leeway: Option<i64>,
    verbose_oidc_logging: Option<bool>,
}

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
struct KvWrite {
    data: Option<HashMap<String, Value>>,
    options: Option<HashMap<String, Value>>,
    versions: Option<Vec<u64>>,
    cas: Option<u64>,
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let body: JsonMap = match value {
        Value::Object(map) => map,
        other => {
            let _ = decode_value::<Vec<String>>(&other);
            let _ = decode_value::<HashMap<String, String>>(&other);
            let _ = decode_value::<Option<u64>>(&other);
            let _ = decode_value::<bool>(&other);
            return;
        }
    };
    let _ = decode::<DbRole>(&body).map_err(|e| e.to_string());
    let _ = decode::<DbConfig>(&body).map_err(|e| e.to_string());
    let _ = decode::<AppRole>(&body).map_err(|e| e.to_string());
    let _ = decode::<JwtRole>(&body).map_err(|e| e.to_string());
    let _ = decode::<KvWrite>(&body).map_err(|e| e.to_string());
    for name in ["ttl", "max_ttl", "token_ttl", "increment"] {
        let _ = duration_field(&body, name);
        let _ = field::<u64>(&body, name);
        let _ = field::<Vec<String>>(&body, name);
    }
});
