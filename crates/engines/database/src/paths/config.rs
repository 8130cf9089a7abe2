//! `database/config/:name`: connection configs. Create requires `plugin_name` and the
//! plugin's `connection_url`; update changes only the fields given. Reads never return a
//! password: not the `password` field, nor one written literally into `connection_url`.

use std::time::Duration;

use secrethub_common::serde_helpers::{opt_boolean, opt_duration, opt_string_list, opt_uint};
use secrethub_common::{format_duration, JsonMap, Sensitive};
use secrethub_engine::{Request, Response};
use secrethub_storage::Storage as _;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::connections::config_key;
use crate::error::DatabaseError;
use crate::password::PasswordPolicy;
use crate::paths::check_name;
use crate::plugin::{self, OpenRequest};
use crate::records::{
    opt_statements, ConnectionRecord, AUTH_PASSWORD, AUTH_SCRAM, DEFAULT_MAX_OPEN_CONNECTIONS,
    RECORD_VERSION,
};
use crate::username::UsernameTemplate;
use crate::DatabaseEngine;

/// The body of a config write; `password` is taken out first so a parse error can never
/// echo it.
#[derive(Deserialize)]
struct ConfigInput {
    plugin_name: Option<String>,
    #[serde(default, deserialize_with = "opt_boolean")]
    verify_connection: Option<bool>,
    #[serde(default, deserialize_with = "opt_string_list")]
    allowed_roles: Option<Vec<String>>,
    #[serde(default, deserialize_with = "opt_statements")]
    root_rotation_statements: Option<Vec<String>>,
    password_policy: Option<String>,
    connection_url: Option<String>,
    username: Option<String>,
    #[serde(default, deserialize_with = "opt_uint")]
    max_open_connections: Option<u64>,
    max_idle_connections: Option<Value>,
    #[serde(default, deserialize_with = "opt_duration")]
    max_connection_lifetime: Option<Duration>,
    username_template: Option<String>,
    password_authentication: Option<String>,
}

fn take_password(body: &mut JsonMap) -> Result<Option<Sensitive<String>>, DatabaseError> {
    match body.remove("password") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(Sensitive::new(s))),
        Some(Value::Number(n)) => Ok(Some(Sensitive::new(n.to_string()))),
        Some(_) => Err(DatabaseError::invalid("password must be a string")),
    }
}

fn parse_input(req: &Request) -> Result<(ConfigInput, Option<Sensitive<String>>), DatabaseError> {
    let mut body = req.body.clone();
    let password = take_password(&mut body)?;
    let input = secrethub_common::input::decode(&body)
        .map_err(|e| DatabaseError::invalid(e.to_string()))?;
    Ok((input, password))
}

fn new_record(plugin_name: String) -> ConnectionRecord {
    ConnectionRecord {
        version: RECORD_VERSION,
        plugin_name,
        connection_url: String::new(),
        username: String::new(),
        password: Sensitive::default(),
        pending_password: None,
        allowed_roles: Vec::new(),
        verify_connection: true,
        root_rotation_statements: Vec::new(),
        password_policy: String::new(),
        username_template: String::new(),
        password_authentication: AUTH_SCRAM.to_string(),
        max_open_connections: DEFAULT_MAX_OPEN_CONNECTIONS,
        max_idle_connections: 0,
        max_connection_lifetime_secs: 0,
        revision: String::new(),
    }
}

/// Applies the given fields and checks the result.
fn apply(
    rec: &mut ConnectionRecord,
    input: ConfigInput,
    password: Option<Sensitive<String>>,
) -> Result<(), DatabaseError> {
    if let Some(p) = input.plugin_name {
        rec.plugin_name = p;
    }
    if let Some(v) = input.verify_connection {
        rec.verify_connection = v;
    }
    if let Some(v) = input.allowed_roles {
        rec.allowed_roles = v;
    }
    if let Some(v) = input.root_rotation_statements {
        rec.root_rotation_statements = v;
    }
    if let Some(v) = input.password_policy {
        rec.password_policy = v;
    }
    if let Some(v) = input.connection_url {
        rec.connection_url = v;
    }
    if let Some(v) = input.username {
        rec.username = v;
    }
    if let Some(p) = password {
        rec.password = p;
        rec.pending_password = None;
    }
    if let Some(n) = input.max_open_connections {
        rec.max_open_connections = u32::try_from(n)
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| DatabaseError::invalid("max_open_connections must be from 1 to 1000"))?;
    }
    if let Some(v) = input.max_idle_connections {
        rec.max_idle_connections = match &v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
        .ok_or_else(|| DatabaseError::invalid("max_idle_connections must be an integer"))?;
    }
    if let Some(d) = input.max_connection_lifetime {
        rec.max_connection_lifetime_secs = d.as_secs();
    }
    if let Some(v) = input.username_template {
        rec.username_template = v;
    }
    if let Some(v) = input.password_authentication {
        rec.password_authentication = v;
    }

    plugin::opener(&rec.plugin_name)?;
    if rec.connection_url.trim().is_empty() {
        return Err(DatabaseError::invalid("connection_url is required"));
    }
    if ![AUTH_PASSWORD, AUTH_SCRAM].contains(&rec.password_authentication.as_str()) {
        return Err(DatabaseError::invalid(
            "password_authentication must be \"password\" or \"scram-sha-256\"",
        ));
    }
    PasswordPolicy::parse(&rec.password_policy)?;
    if !rec.username_template.is_empty() {
        UsernameTemplate::parse(&rec.username_template)?;
    }
    crate::template::validate("root_rotation_statements", &rec.root_rotation_statements)?;
    Ok(())
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

impl DatabaseEngine {
    pub(crate) async fn write_config(
        &self,
        req: &Request,
        name: &str,
    ) -> Result<Response, DatabaseError> {
        let key = config_key(name);
        check_name(&key)?;
        let (input, password) = parse_input(req)?;
        let existing: Option<ConnectionRecord> = req.storage.get_json(&key).await?;
        let mut rec = match existing {
            Some(r) => r,
            None => new_record(
                input
                    .plugin_name
                    .clone()
                    .filter(|p| !p.is_empty())
                    .ok_or_else(|| DatabaseError::invalid("plugin_name is required"))?,
            ),
        };
        apply(&mut rec, input, password)?;
        rec.version = RECORD_VERSION;
        rec.revision = secrethub_common::random_uuid();
        let plugin = plugin::opener(&rec.plugin_name)?(&OpenRequest { name, config: &rec })?;
        if rec.verify_connection {
            plugin.verify().await?;
        }
        req.storage.put_json(&key, &rec).await?;
        // The verified plugin (and its open connection) serves the next requests.
        self.connections.insert(name, &rec.revision, plugin);
        Ok(Response::empty())
    }

    pub(crate) async fn read_config(
        &self,
        req: &Request,
        name: &str,
    ) -> Result<Response, DatabaseError> {
        let key = config_key(name);
        check_name(&key)?;
        let rec: ConnectionRecord = req
            .storage
            .get_json(&key)
            .await?
            .ok_or_else(|| DatabaseError::NotFound)?;
        let mut details = json!({
            "connection_url": redact_url(&rec.connection_url),
            "username": rec.username,
            "max_open_connections": rec.max_open_connections,
            "max_idle_connections": rec.max_idle_connections,
            "max_connection_lifetime": format_duration(Duration::from_secs(rec.max_connection_lifetime_secs)),
            "password_authentication": rec.password_authentication,
        });
        if !rec.username_template.is_empty() {
            details["username_template"] = rec.username_template.clone().into();
        }
        let data = json!({
            "plugin_name": rec.plugin_name,
            "plugin_version": "",
            "connection_details": details,
            "allowed_roles": rec.allowed_roles,
            "root_credentials_rotate_statements": rec.root_rotation_statements,
            "password_policy": rec.password_policy,
            "verify_connection": rec.verify_connection,
        });
        match data {
            Value::Object(m) => Ok(Response::data(m)),
            // `json!` with braces always builds an object.
            _ => Err(DatabaseError::Internal(anyhow::anyhow!(
                "config data is not an object"
            ))),
        }
    }

    pub(crate) async fn delete_config(
        &self,
        req: &Request,
        name: &str,
    ) -> Result<Response, DatabaseError> {
        let key = config_key(name);
        check_name(&key)?;
        req.storage.delete(&key).await?;
        self.connections.evict(name);
        Ok(Response::empty())
    }
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
}
