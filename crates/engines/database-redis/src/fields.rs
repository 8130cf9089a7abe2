//! The Redis plugin's connection fields, Vault's: `host`, `port`, `username`, `password`,
//! `tls`, `insecure_tls`, `ca_cert`. There is no `connection_url`. A config read shows every
//! field but the password (a CA certificate is public).

use std::sync::Arc;

use secrethub_common::serde_helpers::{opt_boolean, opt_uint};
use secrethub_common::JsonMap;
use secrethub_database_plugin::{ConnectionDetails, DatabaseError, DatabasePlugin, DatabaseType};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::rules;
use crate::tls;

/// The plugin the engine registers.
pub static REDIS: Redis = Redis;

/// `redis-database-plugin`, also served as OpenBao's `valkey-database-plugin`.
pub struct Redis;

pub(crate) const HOST: &str = "host";
pub(crate) const PORT: &str = "port";
pub(crate) const USERNAME: &str = "username";
pub(crate) const TLS: &str = "tls";
pub(crate) const INSECURE_TLS: &str = "insecure_tls";
pub(crate) const CA_CERT: &str = "ca_cert";

/// Redis's port when none is given (Vault requires one; a default is friendlier).
pub(crate) const DEFAULT_PORT: u64 = 6379;

#[derive(Deserialize)]
struct Input {
    host: Option<String>,
    #[serde(default, deserialize_with = "opt_uint")]
    port: Option<u64>,
    username: Option<String>,
    #[serde(default, deserialize_with = "opt_boolean")]
    tls: Option<bool>,
    #[serde(default, deserialize_with = "opt_boolean")]
    insecure_tls: Option<bool>,
    ca_cert: Option<String>,
}

impl DatabaseType for Redis {
    fn names(&self) -> &'static [&'static str] {
        &["redis-database-plugin", "valkey-database-plugin"]
    }

    fn fields(&self) -> &'static [&'static str] {
        &[HOST, PORT, USERNAME, "password", TLS, INSECURE_TLS, CA_CERT]
    }

    fn apply_fields(
        &self,
        details: &mut ConnectionDetails,
        input: &JsonMap,
    ) -> Result<(), DatabaseError> {
        let input: Input = secrethub_common::input::decode(input)
            .map_err(|e| DatabaseError::invalid(e.to_string()))?;
        if let Some(v) = input.host {
            details.set(HOST, v.trim());
        }
        if let Some(p) = input.port {
            if !(1..=65_535).contains(&p) {
                return Err(DatabaseError::invalid("port must be from 1 to 65535"));
            }
            details.set(PORT, p);
        }
        if let Some(v) = input.username {
            details.set(USERNAME, v);
        }
        if let Some(v) = input.tls {
            details.set(TLS, v);
        }
        if let Some(v) = input.insecure_tls {
            details.set(INSECURE_TLS, v);
        }
        if let Some(v) = input.ca_cert {
            details.set(CA_CERT, v);
        }
        if details.get(PORT).is_none() {
            details.set(PORT, DEFAULT_PORT);
        }
        if details.str(HOST).is_empty() {
            return Err(DatabaseError::invalid("host is required"));
        }
        if details.str(USERNAME).chars().any(|c| c == ' ' || c == '\0') {
            return Err(DatabaseError::invalid(
                "username cannot contain spaces or NUL characters",
            ));
        }
        if !details.str(USERNAME).is_empty() && details.password().is_empty() {
            return Err(DatabaseError::invalid("password is required with username"));
        }
        if details.bool_or(TLS, false) {
            tls::server_name(details.str(HOST)).map_err(DatabaseError::invalid)?;
            let ca = details.str(CA_CERT);
            if !ca.trim().is_empty() {
                tls::parse_pem(ca).map_err(DatabaseError::invalid)?;
            }
        }
        Ok(())
    }

    fn redacted(&self, details: &ConnectionDetails) -> JsonMap {
        let shown = json!({
            HOST: details.str(HOST),
            PORT: details.u64_or(PORT, DEFAULT_PORT),
            USERNAME: details.str(USERNAME),
            TLS: details.bool_or(TLS, false),
            INSECURE_TLS: details.bool_or(INSECURE_TLS, false),
            CA_CERT: details.str(CA_CERT),
        });
        match shown {
            Value::Object(m) => m,
            _ => JsonMap::new(),
        }
    }

    fn check_statements(&self, field: &str, statements: &[String]) -> Result<(), DatabaseError> {
        match field {
            "creation_statements" => rules::creation_rules(statements).map(drop),
            _ => rules::check_unused(field, statements),
        }
    }

    fn requires_creation_statements(&self) -> bool {
        false
    }

    fn max_username_len(&self) -> usize {
        // Redis has no limit of its own; this keeps names readable in `ACL LIST`.
        128
    }

    fn open(
        &self,
        name: &str,
        details: &ConnectionDetails,
    ) -> Result<Arc<dyn DatabasePlugin>, DatabaseError> {
        crate::open(name, details)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(input: Value, password: &str) -> Result<ConnectionDetails, String> {
        let mut d = ConnectionDetails::default();
        d.set_password(password);
        let Value::Object(m) = input else { panic!() };
        REDIS.apply_fields(&mut d, &m).map_err(|e| e.to_string())?;
        Ok(d)
    }

    #[test]
    fn checks_and_redacts() {
        let d = apply(
            json!({"host": "localhost", "username": "admin", "port": "6380"}),
            "pw",
        )
        .unwrap();
        let shown = Value::Object(REDIS.redacted(&d));
        assert_eq!(
            shown,
            json!({"host": "localhost", "port": 6380, "username": "admin", "tls": false,
                   "insecure_tls": false, "ca_cert": ""})
        );
        assert!(!shown.to_string().contains("pw"));
        assert_eq!(
            apply(json!({"host": "h"}), "").unwrap().u64_or(PORT, 0),
            6379
        );
        for (input, want) in [
            (json!({}), "host is required"),
            (json!({"host": "h", "port": 0}), "port must be"),
            (json!({"host": "h", "port": "x"}), "port"),
            (json!({"host": "h", "username": "a b"}), "spaces"),
            (
                json!({"host": "h", "tls": true, "ca_cert": "nope"}),
                "ca_cert holds no certificate",
            ),
            (json!({"host": "h", "tls": "maybe"}), "tls"),
        ] {
            let e = apply(input.clone(), "pw").unwrap_err();
            assert!(e.contains(want), "{input}: {e}");
        }
        let e = apply(json!({"host": "h", "username": "u"}), "").unwrap_err();
        assert!(e.contains("password is required"), "{e}");
    }
}
