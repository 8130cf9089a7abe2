//! `POST /api/v1/auth/login` of the seed documents: `{"method": "kubernetes", "jwt": "…"}`.
//!
//! `method` names an enabled auth method by its mount path (`k8s-prod`, `k8s-prod/`) or, when
//! no mount has that path, by its type if exactly one mount has that type. The rest of the
//! body is that method's own login body, sent as a request for `auth/<mount>/login` (userpass:
//! `auth/<mount>/login/<username>`, its `username` taken from the body) through core's
//! pipeline, so login rate limits, audit and token minting apply as on `/v1`, and the answer is
//! Vault's login envelope. Errors name the method, never a value of the body.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use secrethub_common::JsonMap;
use secrethub_core::{Core, CoreError, CoreRequest, MountClass, MountEntry};
use serde_json::Value;

use crate::decode;
use crate::envelope::{core_error, envelope, error_body};
use crate::routes::{peer, read_body};

/// `POST /api/v1/auth/login`.
pub(crate) async fn login(State(core): State<Arc<Core>>, req: Request) -> Response {
    if !matches!(*req.method(), Method::POST | Method::PUT) {
        return error_body(
            StatusCode::METHOD_NOT_ALLOWED,
            vec!["unsupported operation".into()],
        );
    }
    let remote = decode::remote(peer(&req));
    let bytes = match read_body(req.into_body()).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let creq = match decode::json_body(&bytes).and_then(|body| login_request(&core, body)) {
        Ok(mut r) => {
            r.remote_addr = remote;
            r
        }
        Err(e) => return core_error(&e),
    };
    let id = creq.id.clone();
    match core.handle(creq).await {
        Ok(resp) => envelope(&id, resp),
        Err(e) => core_error(&e),
    }
}

/// The core request of a seed login body; `method` picks the mount.
fn login_request(core: &Core, mut body: JsonMap) -> Result<CoreRequest, CoreError> {
    let method = match body.remove("method") {
        Some(Value::String(s)) if !s.trim_matches('/').is_empty() => s,
        None | Some(Value::Null) | Some(Value::String(_)) => {
            return Err(CoreError::bad_request(
                "missing method: name the auth method to log in with, e.g. \"kubernetes\"",
            ))
        }
        Some(_) => return Err(CoreError::bad_request("method must be a string")),
    };
    let mounts = core.mounts()?;
    let mount = resolve(&mounts, &method)?;
    let path = login_path(mount, &mut body)?;
    Ok(CoreRequest {
        id: secrethub_common::random_uuid(),
        method: secrethub_core::Method::Write,
        path,
        body,
        token: None,
        remote_addr: None,
        wrap_ttl: None,
        lease_metadata: Default::default(),
        raw_body: None,
    })
}

/// The auth mount `method` names: its path first, then its type when unambiguous.
fn resolve<'a>(mounts: &'a [MountEntry], method: &str) -> Result<&'a MountEntry, CoreError> {
    let name = method.trim_end_matches('/');
    let auth = || mounts.iter().filter(|m| m.class == MountClass::Auth);
    if let Some(m) = auth().find(|m| m.path.trim_end_matches('/') == name) {
        return Ok(m);
    }
    let of_type: Vec<&MountEntry> = auth().filter(|m| m.engine_type == name).collect();
    match of_type.as_slice() {
        [one] => Ok(one),
        [] => Err(CoreError::bad_request(format!(
            "unknown login method {name:?}: no auth method is enabled at auth/{name}/ and none has that type"
        ))),
        many => Err(CoreError::bad_request(format!(
            "login method {name:?} is ambiguous: {} auth methods of that type are enabled; name the mount path instead",
            many.len()
        ))),
    }
}

/// `auth/<mount>/login`, or `login/<username>` for methods whose login path names the user.
fn login_path(mount: &MountEntry, body: &mut JsonMap) -> Result<String, CoreError> {
    let base = mount.api_path();
    match mount.engine_type.as_str() {
        "token" => Err(CoreError::bad_request(
            "the token auth method has no login: send the token itself in X-Vault-Token",
        )),
        // Vault's userpass (like its ldap, okta and radius) takes the user in the path.
        "userpass" => match body.remove("username") {
            Some(Value::String(u)) if !u.is_empty() && !u.contains('/') && u != ".." => {
                Ok(format!("{base}login/{u}"))
            }
            None | Some(Value::Null) => Err(CoreError::bad_request("missing username")),
            Some(_) => Err(CoreError::bad_request("invalid username")),
        },
        _ => Ok(format!("{base}login")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(path: &str, engine_type: &str, class: MountClass) -> MountEntry {
        MountEntry {
            version: 1,
            path: format!("{path}/"),
            engine_type: engine_type.into(),
            description: String::new(),
            accessor: String::new(),
            uuid: String::new(),
            config: Default::default(),
            options: Default::default(),
            class,
            local: false,
            seal_wrap: false,
        }
    }

    fn resolved(mounts: &[MountEntry], method: &str) -> String {
        match resolve(mounts, method) {
            Ok(m) => m.api_path(),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn method_names_a_mount_path_or_a_unique_type() {
        let mounts = [
            mount("token", "token", MountClass::Auth),
            mount("approle", "approle", MountClass::Auth),
            mount("k8s-prod", "kubernetes", MountClass::Auth),
            mount("k8s-dev", "kubernetes", MountClass::Auth),
            mount("people", "userpass", MountClass::Auth),
            mount("kubernetes-secrets", "kv", MountClass::Secret),
            mount("ldap", "kv", MountClass::Secret),
        ];
        assert_eq!(resolved(&mounts, "approle"), "auth/approle/");
        assert_eq!(resolved(&mounts, "k8s-prod/"), "auth/k8s-prod/");
        assert_eq!(resolved(&mounts, "userpass"), "auth/people/");
        assert_eq!(
            resolved(&mounts, "kubernetes"),
            "error: login method \"kubernetes\" is ambiguous: 2 auth methods of that type are enabled; name the mount path instead"
        );
        assert_eq!(
            resolved(&mounts, "ldap"),
            "error: unknown login method \"ldap\": no auth method is enabled at auth/ldap/ and none has that type"
        );
    }

    #[test]
    fn userpass_takes_the_username_into_the_path() {
        let up = mount("people", "userpass", MountClass::Auth);
        let mut body = JsonMap::new();
        body.insert("username".into(), "alice".into());
        body.insert("password".into(), "pw".into());
        assert_eq!(
            login_path(&up, &mut body).unwrap(),
            "auth/people/login/alice"
        );
        assert_eq!(body.keys().collect::<Vec<_>>(), ["password"]);
        for bad in [Value::Null, "a/b".into(), "".into(), 7.into()] {
            let mut body = JsonMap::new();
            body.insert("username".into(), bad.clone());
            assert!(login_path(&up, &mut body).is_err(), "{bad}");
        }
        let k8s = mount("kubernetes", "kubernetes", MountClass::Auth);
        assert_eq!(
            login_path(&k8s, &mut JsonMap::new()).unwrap(),
            "auth/kubernetes/login"
        );
    }
}
