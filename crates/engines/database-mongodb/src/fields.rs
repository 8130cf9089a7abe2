//! The MongoDB plugin's connection fields, Vault's: `connection_url`, `username`, `password`,
//! `write_concern`, `tls_ca`, `tls_certificate_key`. A config read shows the URL (a literal
//! password in it redacted), the username, the write concern and the CA certificate; never
//! the password or the client certificate's private key.

use std::sync::Arc;

use mongodb::bson::{doc, Bson, Document};
use mongodb::options::{ConnectionString, HostInfo};
use secrethub_common::JsonMap;
use secrethub_database_plugin::{ConnectionDetails, DatabaseError, DatabasePlugin, DatabaseType};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::statements;
use crate::url;

/// The plugin the engine registers.
pub static MONGODB: Mongodb = Mongodb;

/// `mongodb-database-plugin`.
pub struct Mongodb;

pub(crate) const CONNECTION_URL: &str = "connection_url";
pub(crate) const USERNAME: &str = "username";
pub(crate) const WRITE_CONCERN: &str = "write_concern";
pub(crate) const TLS_CA: &str = "tls_ca";
pub(crate) const TLS_CERTIFICATE_KEY: &str = "tls_certificate_key";

#[derive(Deserialize)]
struct Input {
    connection_url: Option<String>,
    username: Option<String>,
    write_concern: Option<String>,
    tls_ca: Option<String>,
    tls_certificate_key: Option<String>,
}

impl DatabaseType for Mongodb {
    fn names(&self) -> &'static [&'static str] {
        &["mongodb-database-plugin"]
    }

    fn fields(&self) -> &'static [&'static str] {
        &[
            CONNECTION_URL,
            USERNAME,
            "password",
            WRITE_CONCERN,
            TLS_CA,
            TLS_CERTIFICATE_KEY,
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
            (CONNECTION_URL, input.connection_url),
            (USERNAME, input.username),
            (WRITE_CONCERN, input.write_concern),
            (TLS_CA, input.tls_ca),
            (TLS_CERTIFICATE_KEY, input.tls_certificate_key),
        ] {
            if let Some(v) = value {
                details.set(key, v.trim());
            }
        }
        check(details).map(drop)
    }

    fn redacted(&self, details: &ConnectionDetails) -> JsonMap {
        let shown = json!({
            CONNECTION_URL: url::redact(details.str(CONNECTION_URL)),
            USERNAME: details.str(USERNAME),
            WRITE_CONCERN: details.str(WRITE_CONCERN),
            TLS_CA: details.str(TLS_CA),
        });
        match shown {
            Value::Object(m) => m,
            _ => JsonMap::new(),
        }
    }

    fn check_statements(&self, field: &str, statements: &[String]) -> Result<(), DatabaseError> {
        match field {
            "creation_statements" => statements::creation(statements).map(drop),
            "revocation_statements" => statements::revocation_db(statements).map(drop),
            _ => statements::check_unused(field, statements),
        }
    }

    fn max_username_len(&self) -> usize {
        // MongoDB has no small limit on user names; Vault's plugin caps them at 100.
        100
    }

    fn open(
        &self,
        name: &str,
        details: &ConnectionDetails,
    ) -> Result<Arc<dyn DatabasePlugin>, DatabaseError> {
        crate::open(name, details)
    }
}

/// What a stored config means, checked.
pub(crate) struct Checked {
    pub(crate) connection: ConnectionString,
    pub(crate) write_concern: Option<Document>,
}

/// Checks stored fields: the URL parses (with the credentials filled in), the templates it
/// uses have values, the write concern and the PEM texts are well formed.
pub(crate) fn check(details: &ConnectionDetails) -> Result<Checked, DatabaseError> {
    let raw = details.str(CONNECTION_URL);
    if raw.is_empty() {
        return Err(DatabaseError::invalid("connection_url is required"));
    }
    let scheme_ok = raw.starts_with("mongodb://");
    if raw.starts_with("mongodb+srv://") {
        return Err(DatabaseError::invalid(
            "connection_url: mongodb+srv:// is not supported (this build has no DNS SRV \
             resolver); list the hosts in a mongodb:// URL",
        ));
    }
    if !scheme_ok {
        return Err(DatabaseError::invalid(
            "connection_url must start with mongodb://",
        ));
    }
    let username = details.str(USERNAME);
    let password = details.password();
    let (needs_user, needs_password) = url::templated(raw);
    if needs_user && username.is_empty() {
        return Err(DatabaseError::invalid(
            "username is required: connection_url contains {{username}}",
        ));
    }
    if needs_password && password.is_empty() {
        return Err(DatabaseError::invalid(
            "password is required: connection_url contains {{password}}",
        ));
    }
    if username.chars().any(char::is_control) {
        return Err(DatabaseError::invalid(
            "username cannot contain control characters",
        ));
    }
    let rendered = url::render(raw, username, password);
    let connection = ConnectionString::parse(rendered.as_str()).map_err(|e| {
        let mut secrets = vec![password];
        secrets.extend(url::password_in(raw));
        DatabaseError::invalid(format!(
            "connection_url is not a valid MongoDB connection string: {}",
            crate::errors::scrub(&e.to_string(), &secrets)
        ))
    })?;
    if let HostInfo::DnsRecord(_) = connection.host_info {
        return Err(DatabaseError::invalid(
            "connection_url: DNS SRV records are not supported",
        ));
    }
    let write_concern = match details.str(WRITE_CONCERN) {
        "" => None,
        text => Some(write_concern(text)?),
    };
    let ca = details.str(TLS_CA);
    if !ca.is_empty() {
        let certs = rustls_pemfile::certs(&mut ca.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| DatabaseError::invalid("tls_ca is not valid PEM"))?;
        if certs.is_empty() {
            return Err(DatabaseError::invalid("tls_ca holds no certificate"));
        }
    }
    let key = details.str(TLS_CERTIFICATE_KEY);
    if !key.is_empty() {
        let certs = rustls_pemfile::certs(&mut key.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| DatabaseError::invalid("tls_certificate_key is not valid PEM"))?;
        let private = rustls_pemfile::private_key(&mut key.as_bytes())
            .map_err(|_| DatabaseError::invalid("tls_certificate_key is not valid PEM"))?;
        if certs.is_empty() || private.is_none() {
            return Err(DatabaseError::invalid(
                "tls_certificate_key must hold a certificate and its private key (PEM)",
            ));
        }
    }
    Ok(Checked {
        connection,
        write_concern,
    })
}

/// Vault's `write_concern`: a JSON object (or base64 of one) with the fields of the mgo
/// driver's `Safe` struct, matched without regard to case as Go's JSON decoding does:
/// `W` (number of nodes), `WMode` (`"majority"` or a tag set; wins over `W`), `WTimeout`
/// (milliseconds), `J` and `FSync` (journal). The result is the `writeConcern` document sent
/// with `createUser`, `dropUser` and `updateUser`.
pub(crate) fn write_concern(text: &str) -> Result<Document, DatabaseError> {
    use base64::Engine as _;
    let bad = |why: &str| DatabaseError::invalid(format!("write_concern: {why}"));
    let json: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(_) => base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| bad("must be a JSON object or base64 of one"))?,
    };
    let Value::Object(map) = json else {
        return Err(bad("must be a JSON object"));
    };
    let mut w: Option<Bson> = None;
    let mut w_mode: Option<String> = None;
    let mut out = Document::new();
    for (key, value) in map {
        match (key.to_ascii_lowercase().as_str(), value) {
            ("w", Value::Number(n)) => {
                let n = n
                    .as_u64()
                    .and_then(|n| i32::try_from(n).ok())
                    .ok_or_else(|| bad("W must be a whole number of nodes"))?;
                w = Some(Bson::Int32(n));
            }
            ("wmode", Value::String(s)) => w_mode = Some(s).filter(|s| !s.is_empty()),
            ("wtimeout", Value::Number(n)) => {
                let ms = n
                    .as_u64()
                    .and_then(|n| i64::try_from(n).ok())
                    .ok_or_else(|| bad("WTimeout must be milliseconds"))?;
                if ms > 0 {
                    out.insert("wtimeout", ms);
                }
            }
            ("j" | "fsync", Value::Bool(b)) => {
                if b {
                    out.insert("j", true);
                }
            }
            ("w" | "wmode" | "wtimeout" | "j" | "fsync", _) => {
                return Err(bad(&format!("{key} has the wrong type")));
            }
            ("rmode", _) => {} // mgo's read mode: not a write concern; Vault ignores it too.
            _ => return Err(bad(&format!("unknown field {key:?}"))),
        }
    }
    if let Some(mode) = w_mode {
        out.insert("w", mode);
    } else if let Some(w) = w {
        if w == Bson::Int32(0) {
            return Err(bad(
                "W 0 (unacknowledged) cannot confirm a user change; use 1 or more",
            ));
        }
        out.insert("w", w);
    }
    Ok(out)
}

/// The admin credentials' database: the URL's `authSource`, else its database, else `admin`.
pub(crate) fn auth_db(connection: &ConnectionString) -> String {
    connection
        .credential
        .as_ref()
        .and_then(|c| c.source.clone())
        .or_else(|| connection.default_database.clone())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| statements::DEFAULT_DB.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(input: Value, password: &str) -> Result<ConnectionDetails, String> {
        let mut d = ConnectionDetails::default();
        d.set_password(password);
        let Value::Object(m) = input else { panic!() };
        MONGODB
            .apply_fields(&mut d, &m)
            .map_err(|e| e.to_string())?;
        Ok(d)
    }

    #[test]
    fn checks_and_redacts() {
        let d = apply(
            json!({"connection_url": "mongodb://{{username}}:{{password}}@db:27017/admin",
                   "username": "vault", "write_concern": r#"{"W": 1, "J": true}"#}),
            "hunter2",
        )
        .unwrap();
        let shown = Value::Object(MONGODB.redacted(&d));
        assert_eq!(
            shown,
            json!({"connection_url": "mongodb://{{username}}:{{password}}@db:27017/admin",
                   "username": "vault", "write_concern": r#"{"W": 1, "J": true}"#, "tls_ca": ""})
        );
        let d = apply(
            json!({"connection_url": "mongodb://root:hunter2@db/admin"}),
            "",
        )
        .unwrap();
        assert!(!Value::Object(MONGODB.redacted(&d))
            .to_string()
            .contains("hunter2"));
        for (input, password, want) in [
            (json!({}), "pw", "connection_url is required"),
            (
                json!({"connection_url": "postgres://h"}),
                "pw",
                "must start with mongodb://",
            ),
            (
                json!({"connection_url": "mongodb+srv://c.example.com"}),
                "pw",
                "mongodb+srv:// is not supported",
            ),
            (
                json!({"connection_url": "mongodb://{{username}}:{{password}}@h"}),
                "pw",
                "username is required",
            ),
            (
                json!({"connection_url": "mongodb://{{username}}:{{password}}@h", "username": "u"}),
                "",
                "password is required",
            ),
            (
                json!({"connection_url": "mongodb://h:notaport/"}),
                "pw",
                "not a valid MongoDB connection string",
            ),
            (
                json!({"connection_url": "mongodb://h/", "write_concern": "{\"W\": \"x\"}"}),
                "pw",
                "W has the wrong type",
            ),
            (
                json!({"connection_url": "mongodb://h/", "write_concern": "nope"}),
                "pw",
                "JSON object or base64",
            ),
            (
                json!({"connection_url": "mongodb://h/", "write_concern": "{\"Q\": 1}"}),
                "pw",
                "unknown field \"Q\"",
            ),
            (
                json!({"connection_url": "mongodb://h/", "tls_ca": "nope"}),
                "pw",
                "tls_ca holds no certificate",
            ),
            (
                json!({"connection_url": "mongodb://h/", "tls_certificate_key": "nope"}),
                "pw",
                "certificate and its private key",
            ),
        ] {
            let e = apply(input.clone(), password).unwrap_err();
            assert!(e.contains(want), "{input}: {e}");
        }
    }

    #[test]
    fn reads_vaults_write_concerns() {
        assert_eq!(
            write_concern(r#"{"wmode": "majority", "wtimeout": 5000, "j": true}"#).unwrap(),
            doc! {"wtimeout": 5000_i64, "j": true, "w": "majority"}
        );
        // base64 of {"W": 2}
        assert_eq!(write_concern("eyJXIjogMn0=").unwrap(), doc! {"w": 2});
        assert!(write_concern(r#"{"W": 0}"#).is_err());
    }

    #[test]
    fn finds_the_admin_database() {
        let cs = |u: &str| ConnectionString::parse(u).unwrap();
        assert_eq!(auth_db(&cs("mongodb://u:p@h/")), "admin");
        assert_eq!(auth_db(&cs("mongodb://u:p@h/shop")), "shop");
        assert_eq!(
            auth_db(&cs("mongodb://u:p@h/shop?authSource=admin")),
            "admin"
        );
    }
}
