//! A minimal auth method for core's login tests: `users/:name` holds a password and token
//! parameters, `login/:name` checks the password (its optional `alias_metadata` object becomes
//! the alias's metadata, as a claim mapping would). Plain-text passwords: the real methods
//! (userpass, approle, ...) have their own crates and tests; this one exists so core's part
//! of a login (token minting, renewal re-check, identity, rate limits) is tested alone.

use std::sync::Arc;

use async_trait::async_trait;
use secrethub_engine::{
    Alias, Engine, EngineError, LoginAuth, LoginRenewal, MountContext, Operation, PathEntry,
    PathTable, Paths, Request, Response, StorageView, TokenParams,
};
use secrethub_storage::Storage as _;
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Clone, Copy)]
enum Route {
    User,
    Login,
}

#[derive(Serialize, Deserialize, Default)]
struct User {
    password: String,
    token: TokenParams,
}

struct TestLogin {
    paths: PathTable<Route>,
}

pub(crate) fn factory(_: MountContext) -> Result<Arc<dyn Engine>, EngineError> {
    Ok(Arc::new(TestLogin {
        paths: PathTable::new()
            .add(
                "users/{name}",
                Route::User,
                &[Operation::Update, Operation::Delete],
                "a user",
            )
            .entry(
                PathEntry::new("login/{name}", Route::Login, &[Operation::Update], "log in")
                    .login(),
            ),
    }))
}

#[async_trait]
impl Engine for TestLogin {
    async fn handle(&self, req: Request) -> Result<Response, EngineError> {
        let (route, args) = self.paths.route(&req.path, req.op)?;
        let key = format!("users/{}", args.get("name"));
        match (route, req.op) {
            (Route::User, Operation::Delete) => {
                req.storage.delete(&key).await?;
                Ok(Response::empty())
            }
            (Route::User, _) => {
                let mut user: User = req.storage.get_json(&key).await?.unwrap_or_default();
                if let Some(p) = req.str_field("password") {
                    user.password = p;
                }
                user.token.update_from(&req.body)?;
                req.storage.put_json(&key, &user).await?;
                Ok(Response::empty())
            }
            (Route::Login, _) => {
                let user: Option<User> = req.storage.get_json(&key).await?;
                let given = req.str_field("password").unwrap_or_default();
                match user {
                    Some(u) if !u.password.is_empty() && u.password == given => {
                        let name = args.get("name").to_string();
                        let alias_metadata = serde_json::from_value(
                            req.body.get("alias_metadata").cloned().unwrap_or(json!({})),
                        )
                        .map_err(|e| EngineError::bad_request(e.to_string()))?;
                        Ok(Response::login(LoginAuth {
                            display_name: name.clone(),
                            alias: Alias {
                                name: name.clone(),
                                metadata: alias_metadata,
                            },
                            metadata: [("username".to_string(), name.clone())].into(),
                            token: u.token,
                            internal: json!({ "user": name }),
                        }))
                    }
                    _ => Err(EngineError::bad_request("invalid username or password")),
                }
            }
        }
    }

    fn paths(&self) -> Option<&dyn Paths> {
        Some(&self.paths)
    }

    async fn login_role(&self, req: &Request) -> Option<String> {
        req.path.strip_prefix("login/").map(str::to_string)
    }

    async fn renew_login(
        &self,
        login: &LoginRenewal,
        storage: &StorageView,
    ) -> Result<TokenParams, EngineError> {
        let name = login.internal["user"].as_str().unwrap_or_default();
        let user: Option<User> = storage.get_json(&format!("users/{name}")).await?;
        user.map(|u| u.token)
            .ok_or_else(|| EngineError::bad_request(format!("user {name:?} no longer exists")))
    }
}
