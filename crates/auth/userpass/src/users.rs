//! `users/:name`, `users`, `users/:name/password` and `users/:name/policies`, and the user
//! record they share with login.

use secrethub_common::JsonMap;
use secrethub_engine::{EngineError, Request, Response, StorageView, TokenParams};
use secrethub_storage::{list_children, Storage as _};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::Userpass;

const RECORD_VERSION: u32 = 1;

/// A user (`user/<name>`).
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct UserRecord {
    pub(crate) version: u32,
    /// The argon2id PHC string of the password.
    pub(crate) password_hash: String,
    #[serde(default)]
    pub(crate) token: TokenParams,
}

// The hash is not the password, but it is still not for logs.
impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

fn user_key(name: &str) -> String {
    format!("user/{name}")
}

/// Whether a lowercased name follows Vault's rules (letters, digits, `_`, `-`, `.`; not
/// starting with `-` or `.`, not ending with `.`).
pub(crate) fn valid_username(name: &str) -> bool {
    !name.is_empty()
        && name.len() < 4096
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !name.starts_with('-')
        && !name.starts_with('.')
        && !name.ends_with('.')
}

/// Lowercases a username and checks it.
pub(crate) fn username(raw: &str) -> Result<String, EngineError> {
    let name = raw.to_lowercase();
    if !valid_username(&name) {
        return Err(EngineError::bad_request(
            "invalid username: use letters, digits, '_', '-' and '.', not starting with '-' \
             or '.' and not ending with '.'",
        ));
    }
    Ok(name)
}

/// Reads a user by its lowercased (valid) name.
pub(crate) async fn load(
    storage: &StorageView,
    name: &str,
) -> Result<Option<UserRecord>, EngineError> {
    Ok(storage.get_json(&user_key(name)).await?)
}

/// The `password` field: `None` when absent, a 400 when empty or not a string.
pub(crate) fn password_field(body: &JsonMap) -> Result<Option<Zeroizing<String>>, EngineError> {
    match body.get("password") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => {
            Err(EngineError::bad_request("password must not be empty"))
        }
        Some(Value::String(s)) => Ok(Some(Zeroizing::new(s.clone()))),
        Some(_) => Err(EngineError::bad_request(
            "invalid password: expected a string",
        )),
    }
}

fn missing_user(name: &str) -> EngineError {
    EngineError::bad_request(format!("user {name:?} does not exist"))
}

impl Userpass {
    pub(crate) async fn write_user(
        &self,
        req: &Request,
        raw: &str,
    ) -> Result<Response, EngineError> {
        let name = username(raw)?;
        if secrethub_common::input::given(&req.body, "password_hash").is_some() {
            return Err(EngineError::bad_request(
                "password_hash is not supported: send password (stored as argon2id)",
            ));
        }
        let password = password_field(&req.body)?;
        let _guard = self.writes.lock().await;
        let existing = load(&req.storage, &name).await?;
        let mut token = existing
            .as_ref()
            .map(|u| u.token.clone())
            .unwrap_or_default();
        token.update_from(&req.body)?;
        let password_hash = match (password, existing) {
            (Some(p), _) => self.passwords.hash(p).await?,
            (None, Some(u)) => u.password_hash,
            (None, None) => return Err(EngineError::bad_request("missing password")),
        };
        let rec = UserRecord {
            version: RECORD_VERSION,
            password_hash,
            token,
        };
        req.storage.put_json(&user_key(&name), &rec).await?;
        Ok(Response::empty())
    }

    pub(crate) async fn read_user(
        &self,
        req: &Request,
        raw: &str,
    ) -> Result<Response, EngineError> {
        let name = username(raw)?;
        let user = load(&req.storage, &name)
            .await?
            .ok_or(EngineError::NotFound)?;
        let mut data = JsonMap::new();
        user.token.write_to(&mut data);
        // Vault shows the older `policies` beside `token_policies` once policies are set
        // (clients such as hvac still write and read that name).
        if !user.token.token_policies.is_empty() {
            data.insert("policies".into(), data["token_policies"].clone());
        }
        Ok(Response::data(data))
    }

    pub(crate) async fn delete_user(
        &self,
        req: &Request,
        raw: &str,
    ) -> Result<Response, EngineError> {
        let name = username(raw)?;
        let _guard = self.writes.lock().await;
        req.storage.delete(&user_key(&name)).await?;
        Ok(Response::empty())
    }

    pub(crate) async fn list_users(&self, req: &Request) -> Result<Response, EngineError> {
        Response::list(list_children(&req.storage, "user/").await?)
    }

    pub(crate) async fn write_password(
        &self,
        req: &Request,
        raw: &str,
    ) -> Result<Response, EngineError> {
        let name = username(raw)?;
        let password = password_field(&req.body)?
            .ok_or_else(|| EngineError::bad_request("missing password"))?;
        let _guard = self.writes.lock().await;
        let mut user = load(&req.storage, &name)
            .await?
            .ok_or_else(|| missing_user(&name))?;
        user.password_hash = self.passwords.hash(password).await?;
        user.version = RECORD_VERSION;
        req.storage.put_json(&user_key(&name), &user).await?;
        Ok(Response::empty())
    }

    pub(crate) async fn write_policies(
        &self,
        req: &Request,
        raw: &str,
    ) -> Result<Response, EngineError> {
        let name = username(raw)?;
        // Only the policy fields reach the token parser.
        let only: JsonMap = ["token_policies", "policies"]
            .iter()
            .filter_map(|k| {
                secrethub_common::input::given(&req.body, k).map(|v| (k.to_string(), v.clone()))
            })
            .collect();
        if only.is_empty() {
            return Err(EngineError::bad_request("missing token_policies"));
        }
        let _guard = self.writes.lock().await;
        let mut user = load(&req.storage, &name)
            .await?
            .ok_or_else(|| missing_user(&name))?;
        user.token.update_from(&only)?;
        req.storage.put_json(&user_key(&name), &user).await?;
        Ok(Response::empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(username("Alice.B-c_1").unwrap(), "alice.b-c_1");
        for bad in ["", "-a", ".a", "a.", "a/b", "a b", "..", "é"] {
            assert!(username(bad).is_err(), "{bad:?}");
        }
    }
}
