//! The MySQL plugin's connection fields (Vault's): what `database/config/:name` accepts for
//! it, the defaults it stores, how a config read shows them, and the two registered types,
//! which differ only in the longest username (Vault's four names, one implementation).

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use secrethub_common::serde_helpers::{opt_boolean, opt_duration, opt_uint};
use secrethub_common::JsonMap;
use secrethub_database_plugin::pool::PoolFields;
use secrethub_database_plugin::{ConnectionDetails, DatabaseError, DatabasePlugin, DatabaseType};
use serde::Deserialize;
use serde_json::{json, Value};

/// `mysql-database-plugin`: user names up to 32 characters (MySQL 5.7+, MariaDB 10.0+ allow
/// 32 and 80).
pub static MYSQL: Mysql = Mysql {
    names: &["mysql-database-plugin"],
    max_username_len: 32,
};

/// `mysql-aurora-database-plugin`, `mysql-rds-database-plugin` and
/// `mysql-legacy-database-plugin`: user names up to 16 characters (MySQL before 5.7), the
/// length Vault gives all three.
pub static MYSQL_LEGACY: Mysql = Mysql {
    names: &[
        "mysql-legacy-database-plugin",
        "mysql-aurora-database-plugin",
        "mysql-rds-database-plugin",
    ],
    max_username_len: 16,
};

/// The MySQL/MariaDB plugin under some of its names.
pub struct Mysql {
    names: &'static [&'static str],
    max_username_len: usize,
}

#[derive(Deserialize)]
struct Input {
    connection_url: Option<String>,
    username: Option<String>,
    #[serde(default, deserialize_with = "opt_uint")]
    max_open_connections: Option<u64>,
    max_idle_connections: Option<Value>,
    #[serde(default, deserialize_with = "opt_duration")]
    max_connection_lifetime: Option<Duration>,
    tls_ca: Option<String>,
    tls_certificate_key: Option<String>,
    tls_server_name: Option<String>,
    #[serde(default, deserialize_with = "opt_boolean")]
    tls_skip_verify: Option<bool>,
}

impl DatabaseType for Mysql {
    fn names(&self) -> &'static [&'static str] {
        self.names
    }

    fn fields(&self) -> &'static [&'static str] {
        &[
            "connection_url",
            "username",
            "password",
            "max_open_connections",
            "max_idle_connections",
            "max_connection_lifetime",
            "tls_ca",
            "tls_certificate_key",
            "tls_server_name",
            "tls_skip_verify",
        ]
    }

    fn apply_fields(
        &self,
        details: &mut ConnectionDetails,
        input: &JsonMap,
    ) -> Result<(), DatabaseError> {
        let input: Input = secrethub_common::input::decode(input)
            .map_err(|e| DatabaseError::invalid(e.to_string()))?;
        for (key, value) in [
            ("connection_url", input.connection_url),
            ("username", input.username),
            ("tls_ca", input.tls_ca),
            ("tls_certificate_key", input.tls_certificate_key),
            ("tls_server_name", input.tls_server_name),
        ] {
            if let Some(v) = value {
                details.set(key, v);
            }
        }
        if let Some(v) = input.tls_skip_verify {
            details.set("tls_skip_verify", v);
        }
        PoolFields {
            max_open_connections: input.max_open_connections,
            max_idle_connections: input.max_idle_connections,
            max_connection_lifetime: input.max_connection_lifetime,
        }
        .apply(details)?;
        check_pem(details)?;
        // Parses the DSN (and its parameters) now, so a mistake is a 400 on write.
        crate::dsn::target(details)?;
        Ok(())
    }

    fn redacted(&self, details: &ConnectionDetails) -> JsonMap {
        let shown = json!({
            "connection_url": crate::dsn::redact(details.str("connection_url")),
            "username": details.str("username"),
            // The CA is public; the client key is not, so only whether one is set is shown.
            "tls_ca": details.str("tls_ca"),
            "tls_certificate_key": if details.str("tls_certificate_key").is_empty() { "" } else { "*****" },
            "tls_server_name": details.str("tls_server_name"),
            "tls_skip_verify": details.bool_or("tls_skip_verify", false),
        });
        let mut shown = match shown {
            Value::Object(m) => m,
            _ => JsonMap::new(),
        };
        PoolFields::show(details, &mut shown);
        shown
    }

    fn max_username_len(&self) -> usize {
        self.max_username_len
    }

    fn open(
        &self,
        name: &str,
        details: &ConnectionDetails,
    ) -> Result<Arc<dyn DatabasePlugin>, DatabaseError> {
        crate::open(name, details)
    }
}

/// `tls_ca` must hold a certificate, `tls_certificate_key` a certificate and a private key
/// (PEM). Errors name the field, never its content.
fn check_pem(details: &ConnectionDetails) -> Result<(), DatabaseError> {
    let certs = |pem: &str| {
        CertificateDer::pem_slice_iter(pem.as_bytes())
            .filter_map(Result::ok)
            .count()
    };
    let ca = details.str("tls_ca");
    if !ca.trim().is_empty() && certs(ca) == 0 {
        return Err(DatabaseError::invalid(
            "tls_ca must hold at least one PEM certificate",
        ));
    }
    let pair = details.str("tls_certificate_key");
    if !pair.trim().is_empty()
        && (certs(pair) == 0 || PrivateKeyDer::from_pem_slice(pair.as_bytes()).is_err())
    {
        return Err(DatabaseError::invalid(
            "tls_certificate_key must hold a PEM certificate and its private key",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(input: Value) -> Result<ConnectionDetails, DatabaseError> {
        let mut d = ConnectionDetails::default();
        let Value::Object(m) = input else {
            unreachable!()
        };
        MYSQL.apply_fields(&mut d, &m).map(|()| d)
    }

    #[test]
    fn defaults_and_redaction() {
        let d = apply(json!({
            "connection_url": "root:hunter2@tcp(db:3306)/",
            "max_connection_lifetime": "1m",
            "tls_skip_verify": "true",
        }))
        .unwrap();
        let shown = Value::Object(MYSQL.redacted(&d));
        assert_eq!(shown["connection_url"], "root:*****@tcp(db:3306)/");
        assert_eq!(shown["max_open_connections"], 4);
        assert_eq!(shown["max_connection_lifetime"], "1m0s");
        assert_eq!(shown["tls_skip_verify"], true);
        assert!(!shown.to_string().contains("hunter2"));
    }

    #[test]
    fn bad_fields_are_named() {
        for (input, want) in [
            (json!({}), "connection_url is required"),
            (
                json!({"connection_url": "u:p@tcp(h)/", "max_open_connections": 0}),
                "max_open_connections must be from 1 to 1000",
            ),
            (
                json!({"connection_url": "u:p@tcp(h)/", "tls_ca": "not pem"}),
                "tls_ca must hold",
            ),
            (
                json!({"connection_url": "u:p@tcp(h)/", "tls_certificate_key": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}),
                "tls_certificate_key must hold",
            ),
        ] {
            let e = apply(input).err().unwrap().to_string();
            assert!(e.contains(want), "{e}");
        }
    }

    #[test]
    fn names_and_lengths() {
        assert_eq!(MYSQL.max_username_len(), 32);
        assert_eq!(MYSQL_LEGACY.max_username_len(), 16);
        assert!(MYSQL_LEGACY.names().contains(&"mysql-rds-database-plugin"));
    }
}
