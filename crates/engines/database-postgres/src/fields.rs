//! The PostgreSQL plugin's connection fields: what `database/config/:name` accepts for it,
//! the defaults it stores, and how a config read shows them.

use std::sync::Arc;
use std::time::Duration;

use secrethub_common::serde_helpers::{opt_boolean, opt_duration, opt_uint};
use secrethub_common::JsonMap;
use secrethub_database_plugin::pool::PoolFields;
use secrethub_database_plugin::{ConnectionDetails, DatabaseError, DatabasePlugin, DatabaseType};
use serde::Deserialize;
use serde_json::{json, Value};

/// The plugin the engine registers.
pub static POSTGRES: Postgresql = Postgresql;

/// `postgresql-database-plugin`.
pub struct Postgresql;

const PASSWORD_AUTHENTICATION: &str = "password_authentication";

/// `password_authentication` values: send a SCRAM-SHA-256 verifier (our default), or the
/// clear-text password as Vault does by default.
const AUTH_SCRAM: &str = "scram-sha-256";
const AUTH_PASSWORD: &str = "password";

/// Whether statements with a password literal get a SCRAM verifier.
pub(crate) fn uses_scram(details: &ConnectionDetails) -> bool {
    details.str(PASSWORD_AUTHENTICATION) != AUTH_PASSWORD
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
    password_authentication: Option<String>,
    host: Option<String>,
    #[serde(default, deserialize_with = "opt_uint")]
    port: Option<u64>,
    database: Option<String>,
    #[serde(default, deserialize_with = "opt_boolean")]
    ssl: Option<bool>,
}

/// The user guide's form of a connection: separate fields instead of a URL.
const FORM_FIELDS: [&str; 4] = ["host", "port", "database", "ssl"];

/// Applies the guide's form fields and builds `connection_url` from them, with the
/// `{{username}}`/`{{password}}` placeholders the URL form uses. Giving `connection_url`
/// switches a config back to the URL form.
fn apply_form(details: &mut ConnectionDetails, input: &Input) -> Result<(), DatabaseError> {
    let form_given = input.host.is_some()
        || input.port.is_some()
        || input.database.is_some()
        || input.ssl.is_some();
    if input.connection_url.is_some() {
        if form_given {
            return Err(DatabaseError::invalid(
                "give either connection_url or host, port, database and ssl, not both",
            ));
        }
        for f in FORM_FIELDS {
            details.remove(f);
        }
        return Ok(());
    }
    if !form_given && details.get("host").is_none() {
        return Ok(());
    }
    if let Some(h) = &input.host {
        let h = h.trim();
        let bad = |c: char| c.is_whitespace() || "/@?#\\'\"".contains(c);
        if h.is_empty() || h.contains(bad) {
            return Err(DatabaseError::invalid(
                "host must be a host name or an IP address",
            ));
        }
        details.set("host", h);
    }
    if let Some(p) = input.port {
        let p = u16::try_from(p)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| DatabaseError::invalid("port must be from 1 to 65535"))?;
        details.set("port", p);
    }
    if let Some(d) = &input.database {
        details.set("database", d.trim());
    }
    if let Some(ssl) = input.ssl {
        details.set("ssl", ssl);
    }
    let host = details.str("host").to_string();
    if host.is_empty() {
        return Err(DatabaseError::invalid("host is required"));
    }
    // An IPv6 address goes in brackets in a URL.
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host
    };
    let port = details.u64_or("port", 5432);
    let database = match details.str("database") {
        "" => "postgres".to_string(),
        d => d.to_string(),
    };
    // TLS unless turned off: the guide's advice ("always enable SSL for PostgreSQL").
    let sslmode = if details.bool_or("ssl", true) {
        "require"
    } else {
        "disable"
    };
    details.set(
        "connection_url",
        format!(
            "postgresql://{{{{username}}}}:{{{{password}}}}@{host}:{port}/{}?sslmode={sslmode}",
            crate::connect::percent_encode(&database)
        ),
    );
    Ok(())
}

impl DatabaseType for Postgresql {
    fn names(&self) -> &'static [&'static str] {
        &["postgresql-database-plugin"]
    }

    fn fields(&self) -> &'static [&'static str] {
        &[
            "connection_url",
            "username",
            "password",
            "max_open_connections",
            "max_idle_connections",
            "max_connection_lifetime",
            "password_authentication",
            "host",
            "port",
            "database",
            "ssl",
        ]
    }

    fn apply_fields(
        &self,
        details: &mut ConnectionDetails,
        input: &JsonMap,
    ) -> Result<(), DatabaseError> {
        let input: Input = secrethub_common::input::decode(input)
            .map_err(|e| DatabaseError::invalid(e.to_string()))?;
        apply_form(details, &input)?;
        if let Some(v) = input.connection_url {
            details.set("connection_url", v);
        }
        if let Some(v) = input.username {
            details.set("username", v);
        }
        PoolFields {
            max_open_connections: input.max_open_connections,
            max_idle_connections: input.max_idle_connections,
            max_connection_lifetime: input.max_connection_lifetime,
        }
        .apply(details)?;
        if let Some(v) = input.password_authentication {
            details.set(PASSWORD_AUTHENTICATION, v);
        }
        if details.str(PASSWORD_AUTHENTICATION).is_empty() {
            details.set(PASSWORD_AUTHENTICATION, AUTH_SCRAM);
        }
        if details.str("connection_url").trim().is_empty() {
            return Err(DatabaseError::invalid("connection_url is required"));
        }
        if ![AUTH_PASSWORD, AUTH_SCRAM].contains(&details.str(PASSWORD_AUTHENTICATION)) {
            return Err(DatabaseError::invalid(
                "password_authentication must be \"password\" or \"scram-sha-256\"",
            ));
        }
        Ok(())
    }

    fn redacted(&self, details: &ConnectionDetails) -> JsonMap {
        let shown = json!({
            "connection_url": redact_url(details.str("connection_url")),
            "username": details.str("username"),
            "password_authentication": details.str(PASSWORD_AUTHENTICATION),
        });
        let mut shown = match shown {
            Value::Object(m) => m,
            _ => JsonMap::new(),
        };
        PoolFields::show(details, &mut shown);
        for f in FORM_FIELDS {
            if let Some(v) = details.get(f) {
                shown.insert(f.to_string(), v.clone());
            }
        }
        shown
    }

    fn open(
        &self,
        name: &str,
        details: &ConnectionDetails,
    ) -> Result<Arc<dyn DatabasePlugin>, DatabaseError> {
        crate::open(name, details)
    }
}

/// `connection_url` with any literal password replaced by `*****` (placeholders are kept).
fn redact_url(url: &str) -> String {
    const MASK: &str = "*****";
    if let Some(scheme_end) = url.find("://") {
        let auth_start = scheme_end + 3;
        let auth_end = url[auth_start..]
            .find(['/', '?'])
            .map_or(url.len(), |i| i + auth_start);
        if let Some(at) = url[auth_start..auth_end].rfind('@').map(|i| i + auth_start) {
            if let Some(colon) = url[auth_start..at].find(':').map(|i| i + auth_start) {
                let pw = &url[colon + 1..at];
                if pw != "{{password}}" {
                    return format!("{}{MASK}{}", &url[..=colon], &url[at..]);
                }
            }
        }
        return url.to_string();
    }
    // key=value form: mask the value of `password=`, quoted or not.
    let mut out = String::new();
    let mut rest = url;
    while let Some(i) = rest.find("password") {
        let after = &rest[i + "password".len()..];
        let trimmed = after.trim_start();
        let word_start = i == 0 || rest[..i].ends_with(char::is_whitespace);
        if word_start && trimmed.starts_with('=') {
            let value = trimmed[1..].trim_start();
            let prefix_len = rest.len() - value.len();
            out.push_str(&rest[..prefix_len]);
            let end = if let Some(inner) = value.strip_prefix('\'') {
                inner.find('\'').map_or(value.len(), |j| j + 2)
            } else {
                value.find(char::is_whitespace).unwrap_or(value.len())
            };
            let v = &value[..end];
            out.push_str(if v == "{{password}}" || v == "'{{password}}'" {
                v
            } else {
                MASK
            });
            rest = &value[end..];
        } else {
            out.push_str(&rest[..i + "password".len()]);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_literal_passwords_only() {
        for (input, want) in [
            (
                "postgresql://{{username}}:{{password}}@h:5432/d",
                "postgresql://{{username}}:{{password}}@h:5432/d",
            ),
            (
                "postgresql://admin:s3cr@t@h/d?sslmode=require",
                "postgresql://admin:*****@h/d?sslmode=require",
            ),
            ("postgresql://admin@h/d", "postgresql://admin@h/d"),
            ("postgresql://h/d", "postgresql://h/d"),
            ("host=h password=abc user=u", "host=h password=***** user=u"),
            (
                "host=h password = 'a b' user=u",
                "host=h password = ***** user=u",
            ),
            (
                "host=h password={{password}}",
                "host=h password={{password}}",
            ),
            ("host=h mypassword=x", "host=h mypassword=x"),
        ] {
            assert_eq!(redact_url(input), want, "{input}");
        }
    }

    fn apply(details: &mut ConnectionDetails, input: Value) -> Result<(), DatabaseError> {
        let Value::Object(m) = input else {
            unreachable!()
        };
        POSTGRES.apply_fields(details, &m)
    }

    #[test]
    fn the_guides_separate_fields_build_the_url() {
        let mut d = ConnectionDetails::default();
        apply(
            &mut d,
            json!({"host": "db.internal", "port": "6543", "database": "analytics db", "username": "admin"}),
        )
        .unwrap();
        assert_eq!(
            d.str("connection_url"),
            "postgresql://{{username}}:{{password}}@db.internal:6543/analytics%20db?sslmode=require"
        );
        // An update of one field rebuilds the URL from the stored ones.
        apply(&mut d, json!({"ssl": false})).unwrap();
        assert_eq!(
            d.str("connection_url"),
            "postgresql://{{username}}:{{password}}@db.internal:6543/analytics%20db?sslmode=disable"
        );
        let shown = POSTGRES.redacted(&d);
        assert_eq!(shown["host"], json!("db.internal"));
        assert_eq!(shown["port"], json!(6543));
        assert_eq!(shown["ssl"], json!(false));
        // connection_url switches back to the URL form.
        apply(&mut d, json!({"connection_url": "postgresql://h/d"})).unwrap();
        assert!(d.get("host").is_none() && d.get("ssl").is_none());

        let mut d = ConnectionDetails::default();
        apply(&mut d, json!({"host": "::1"})).unwrap();
        assert_eq!(
            d.str("connection_url"),
            "postgresql://{{username}}:{{password}}@[::1]:5432/postgres?sslmode=require"
        );
    }

    #[test]
    fn the_separate_fields_are_checked() {
        for (input, want) in [
            (
                json!({"host": "h", "connection_url": "postgresql://h/d"}),
                "give either connection_url",
            ),
            (json!({"host": "h/x"}), "host must be"),
            (json!({"host": "a@b"}), "host must be"),
            (
                json!({"host": "h", "port": 70000}),
                "port must be from 1 to 65535",
            ),
            (
                json!({"host": "h", "port": 0}),
                "port must be from 1 to 65535",
            ),
            (json!({"port": 5432}), "host is required"),
            (json!({"host": "h", "ssl": "maybe"}), "invalid ssl"),
        ] {
            let e = apply(&mut ConnectionDetails::default(), input.clone()).unwrap_err();
            assert!(e.to_string().contains(want), "{input}: {e}");
        }
    }
}
