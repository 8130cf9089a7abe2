//! `POST /api/v1/secrets/{path}/rotate` of the seed documents: rotates what lives at `path`.
//!
//! - `<db mount>/config/<name>`, where the first segment is a mounted `database` engine: that
//!   connection's root credentials (`<db mount>/rotate-root/<name>`).
//! - Anything else: the KV v2 secret `secret/data/<path>`, as `GET /api/v1/secrets/<path>`
//!   reads it. The fields named in `{"fields": {"password": {"length": 32}}}` (or
//!   `{"fields": ["password"]}`; every string field when none is named) get fresh random values
//!   of the old value's shape (`rotate_shape.rs`), the others are kept, and the new version is
//!   written with check-and-set on the version read, so a concurrent write is never lost. The
//!   answer is the new version's metadata and the names of the rotated fields, never a value.
//!
//! A rotation is made of ordinary requests through core's pipeline with the caller's token
//! (read + write, or the engine's rotate endpoint), so the ACL, audit and quotas apply as on
//! `/v1`. Nothing at the path, or nothing rotatable there, is a 400 "nothing to rotate at …".

use std::sync::Arc;

use axum::extract::Request;
use axum::response::Response;
use secrethub_common::{JsonMap, Sensitive};
use secrethub_core::{Core, CoreError, CoreRequest, CoreResponse, MountClass, MountEntry};
use serde_json::{json, Value};

use crate::decode;
use crate::envelope::{core_error, envelope};
use crate::rotate_shape::{length_for, Shape, MAX_LENGTH};
use crate::routes::{peer, read_body};

/// What a rotate request points at.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    /// A KV v2 secret under `secret/`.
    Kv { path: String },
    /// A database engine connection's root credentials.
    DatabaseRoot { mount: String, name: String },
    /// Something rotatable once its engine exists; the hook for database static roles and
    /// transit keys, which will get their own variants and requests with those engines.
    NotYet { what: &'static str },
    /// A path on an engine with nothing rotatable there.
    Nothing { why: &'static str },
}

/// Which fields to rotate, with an optional new length each.
enum Fields {
    All,
    Named(Vec<(String, Option<usize>)>),
}

/// The caller's request context, carried into each pipeline request of the rotation.
struct Caller {
    token: Option<Sensitive<String>>,
    remote: Option<std::net::IpAddr>,
}

impl Caller {
    fn request(&self, method: secrethub_core::Method, path: String, body: JsonMap) -> CoreRequest {
        CoreRequest {
            id: secrethub_common::random_uuid(),
            method,
            path,
            body,
            token: self.token.clone(),
            remote_addr: self.remote,
            wrap_ttl: None,
            lease_metadata: Default::default(),
            raw_body: None,
        }
    }
}

/// Serves a rotate request for the secret at `path` (without `/rotate`).
pub(crate) async fn rotate(core: Arc<Core>, path: String, req: Request) -> Response {
    let caller = Caller {
        token: decode::token(req.headers()),
        remote: decode::remote(peer(&req)),
    };
    let bytes = match read_body(req.into_body()).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let result = async {
        if path.is_empty() || path.split('/').any(|s| s == ".." || s.is_empty()) {
            return Err(CoreError::bad_request("invalid secret path"));
        }
        let mut body = decode::json_body(&bytes)?;
        let fields = fields(&mut body)?;
        if let Some(key) = body.keys().next() {
            return Err(CoreError::bad_request(format!(
                "unknown parameter {key:?}: a rotation takes only \"fields\""
            )));
        }
        match target(&core.mounts()?, &path) {
            Target::Kv { path } => rotate_kv(&core, &caller, &path, fields).await,
            Target::DatabaseRoot { mount, name } => {
                if !matches!(fields, Fields::All) {
                    return Err(CoreError::bad_request(
                        "fields apply to KV secrets only, not to a database connection",
                    ));
                }
                rotate_database_root(&core, &caller, &path, &mount, &name).await
            }
            Target::NotYet { what } => {
                Err(nothing_at(&path, &format!("{what} cannot be rotated yet")))
            }
            Target::Nothing { why } => Err(nothing_at(&path, why)),
        }
    }
    .await;
    match result {
        Ok((id, resp)) => envelope(&id, resp),
        Err(e) => core_error(&e),
    }
}

fn nothing_at(path: &str, why: &str) -> CoreError {
    CoreError::bad_request(format!("nothing to rotate at {path}: {why}"))
}

/// Where `path` points: a database connection when its first segment is a mounted database
/// engine, else a secret of the seed API's KV mount.
fn target(mounts: &[MountEntry], path: &str) -> Target {
    let (first, rest) = path.split_once('/').unwrap_or((path, ""));
    let engine = mounts
        .iter()
        .find(|m| m.class == MountClass::Secret && m.path.trim_end_matches('/') == first)
        .map(|m| m.engine_type.as_str());
    let rest: Vec<&str> = rest.split('/').collect();
    match (engine, rest.as_slice()) {
        (Some("database"), ["config", name]) => Target::DatabaseRoot {
            mount: first.to_string(),
            name: name.to_string(),
        },
        (Some("database"), ["static-roles", _]) => Target::NotYet {
            what: "database static roles",
        },
        (Some("database"), _) => Target::Nothing {
            why: "on a database mount only a connection's root credentials (config/:name) rotate",
        },
        (Some("transit"), ["keys", _]) => Target::NotYet {
            what: "transit keys",
        },
        _ => Target::Kv {
            path: path.to_string(),
        },
    }
}

/// `fields` taken out of the body: an object of names to `{"length": n}` (or `{}`), a list of
/// names, or absent for all.
fn fields(body: &mut JsonMap) -> Result<Fields, CoreError> {
    let named = match body.remove("fields") {
        None | Some(Value::Null) => return Ok(Fields::All),
        Some(Value::Array(names)) => names
            .into_iter()
            .map(|n| match n {
                Value::String(s) => Ok((s, None)),
                _ => Err(CoreError::bad_request("fields must name fields")),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(Value::Object(m)) => m
            .into_iter()
            .map(|(name, opts)| {
                let length = match opts {
                    Value::Null => None,
                    Value::Object(o) => length(&o, &name)?,
                    _ => {
                        return Err(CoreError::bad_request(format!(
                            "fields.{name} must be an object such as {{\"length\": 32}}"
                        )))
                    }
                };
                Ok((name, length))
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(CoreError::bad_request(
            "fields must be an object such as {\"password\": {\"length\": 32}} or a list of names",
        )),
    };
    if named.is_empty() {
        return Ok(Fields::All);
    }
    Ok(Fields::Named(named))
}

fn length(opts: &JsonMap, name: &str) -> Result<Option<usize>, CoreError> {
    if let Some(key) = opts.keys().find(|k| k.as_str() != "length") {
        return Err(CoreError::bad_request(format!(
            "unknown parameter fields.{name}.{key}: a field takes only \"length\""
        )));
    }
    let n = secrethub_common::input::field::<u64>(opts, "length").map_err(|e| {
        CoreError::bad_request(format!("invalid fields.{name}.length: {}", e.message()))
    })?;
    match n {
        None => Ok(None),
        Some(n) if (1..=MAX_LENGTH as u64).contains(&n) => Ok(Some(n as usize)),
        Some(_) => Err(CoreError::bad_request(format!(
            "fields.{name}.length must be between 1 and {MAX_LENGTH}"
        ))),
    }
}

/// Reads the latest version, writes the rotated one with check-and-set on it.
async fn rotate_kv(
    core: &Core,
    caller: &Caller,
    path: &str,
    fields: Fields,
) -> Result<(String, CoreResponse), CoreError> {
    let api_path = format!("secret/data/{path}");
    let shown = format!("secret/{path}");
    let read = caller.request(
        secrethub_core::Method::Get,
        api_path.clone(),
        JsonMap::new(),
    );
    let current = match core.handle(read).await {
        Ok(r) => r,
        Err(e) if e.kind() == secrethub_common::ErrorKind::NotFound => {
            return Err(nothing_at(&shown, "no secret there"))
        }
        Err(e) => return Err(e),
    };
    let outer = current.data.unwrap_or_default();
    let version = outer
        .get("metadata")
        .and_then(|m| m.get("version"))
        .and_then(Value::as_u64);
    let (Some(Value::Object(mut data)), Some(version)) = (outer.get("data").cloned(), version)
    else {
        return Err(nothing_at(&shown, "no secret there"));
    };

    let plan: Vec<(String, Option<usize>)> = match fields {
        Fields::All => data
            .iter()
            .filter(|(_, v)| v.is_string())
            .map(|(k, _)| (k.clone(), None))
            .collect(),
        Fields::Named(named) => named,
    };
    if plan.is_empty() {
        return Err(nothing_at(&shown, "the secret has no string fields"));
    }
    let mut rotated = Vec::with_capacity(plan.len());
    for (name, requested) in plan {
        let Some(old) = data.get(&name) else {
            return Err(CoreError::bad_request(format!(
                "no field {name:?} in the secret at {shown}"
            )));
        };
        let Some(old) = old.as_str() else {
            return Err(CoreError::bad_request(format!(
                "field {name:?} of the secret at {shown} is not a string and cannot be rotated"
            )));
        };
        let new = Shape::of(old).generate(length_for(old, requested));
        data.insert(name.clone(), Value::String(new));
        rotated.push(name);
    }

    let mut body = JsonMap::new();
    body.insert("data".into(), Value::Object(data));
    body.insert("options".into(), json!({ "cas": version }));
    let write = caller.request(secrethub_core::Method::Write, api_path, body);
    let id = write.id.clone();
    let mut resp = match core.handle(write).await {
        Ok(r) => r,
        Err(e) if e.to_string().contains("check-and-set parameter did not match") => {
            return Err(CoreError::bad_request(format!(
                "the secret at {shown} changed while it was being rotated (version {version} is no longer the latest); nothing was written, try again"
            )))
        }
        Err(e) => return Err(e),
    };
    if let Some(meta) = resp.data.as_mut() {
        meta.insert("rotated_fields".into(), json!(rotated));
    }
    Ok((id, resp))
}

/// The database engine's own root rotation of a connection.
async fn rotate_database_root(
    core: &Core,
    caller: &Caller,
    path: &str,
    mount: &str,
    name: &str,
) -> Result<(String, CoreResponse), CoreError> {
    let req = caller.request(
        secrethub_core::Method::Write,
        format!("{mount}/rotate-root/{name}"),
        JsonMap::new(),
    );
    let id = req.id.clone();
    match core.handle(req).await {
        Ok(resp) => Ok((id, resp)),
        // The engine's 400 for a connection that was never configured.
        Err(e) if e.to_string().ends_with("does not exist") => {
            Err(nothing_at(path, &e.to_string()))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(path: &str, engine_type: &str) -> MountEntry {
        MountEntry {
            version: 1,
            path: format!("{path}/"),
            engine_type: engine_type.into(),
            description: String::new(),
            accessor: String::new(),
            uuid: String::new(),
            config: Default::default(),
            options: Default::default(),
            class: MountClass::Secret,
            local: false,
            seal_wrap: false,
        }
    }

    #[test]
    fn targets() {
        let mounts = [mount("secret", "kv"), mount("db", "database")];
        let kv = |p: &str| Target::Kv { path: p.into() };
        assert_eq!(target(&mounts, "app/api"), kv("app/api"));
        assert_eq!(
            target(&mounts, "database/config/x"),
            kv("database/config/x")
        );
        assert_eq!(
            target(&mounts, "db/config/analytics"),
            Target::DatabaseRoot {
                mount: "db".into(),
                name: "analytics".into()
            }
        );
        assert_eq!(
            target(&mounts, "db/static-roles/app"),
            Target::NotYet {
                what: "database static roles"
            }
        );
        assert!(matches!(
            target(&mounts, "db/creds/app"),
            Target::Nothing { .. }
        ));
        assert!(matches!(target(&mounts, "db"), Target::Nothing { .. }));
    }

    #[test]
    fn field_lists() {
        let parse = |v: Value| {
            let mut body = JsonMap::new();
            body.insert("fields".into(), v);
            match fields(&mut body) {
                Ok(Fields::All) => "all".to_string(),
                Ok(Fields::Named(n)) => format!("{n:?}"),
                Err(e) => format!("error: {e}"),
            }
        };
        assert_eq!(parse(Value::Null), "all");
        assert_eq!(
            parse(json!({"password": {"length": "32"}, "key": {}})),
            r#"[("key", None), ("password", Some(32))]"#
        );
        assert_eq!(parse(json!(["a"])), r#"[("a", None)]"#);
        assert_eq!(
            parse(json!({"password": {"length": 0}})),
            "error: fields.password.length must be between 1 and 4096"
        );
        assert_eq!(
            parse(json!({"password": {"size": 3}})),
            "error: unknown parameter fields.password.size: a field takes only \"length\""
        );
        assert!(parse(json!("password")).starts_with("error: fields must be an object"));
    }
}
