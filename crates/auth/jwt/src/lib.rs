//! The JWT auth method (Vault's `jwt`/`oidc` plugin, JWT roles): a caller logs in with a
//! signed JSON Web Token, such as a GitHub Actions or GitLab CI ID token, and gets a token
//! whose policies come from the role whose bindings the JWT's claims satisfy.
//!
//! Paths (relative to the mount): `config` (read/write), `role/:name` (read/write/delete),
//! LIST `role`, and `login` (served without a token). [`factory`] builds the method for a
//! mount; core registers it as `jwt` and `oidc`.
//!
//! - `config.rs`: where keys come from (exactly one of OIDC discovery, a JWKS URL or static
//!   PEM keys), `bound_issuer`, `jwt_supported_algs`, `default_role`. A write fetches the keys
//!   once so a wrong URL or CA is a 400 at configuration time, not at the first login.
//! - `role.rs`: the bindings (`bound_audiences`, `bound_subject`, `bound_claims` with string
//!   or glob matching and JSON-pointer claim names), `user_claim`, `claim_mappings`, the
//!   time leeways and the common `token_*` fields.
//! - `login.rs`: verifies the JWT, checks times, issuer, audience, subject and bound claims,
//!   and answers a [`secrethub_engine::LoginAuth`]; `renew_login` re-checks the role against
//!   the claims recorded at login.
//! - `jws.rs` (compact JWS parsing, algorithm policy, signatures, time claims), `claims.rs`
//!   (claim lookup and matching), `keys.rs` (PEM and JWK keys, the key cache with its
//!   refresh rules) and `fetch.rs` (HTTP for discovery and JWKS, custom CAs).
//!
//! # Differences from Vault
//!
//! - Only `jwt` roles: the OIDC browser flow (`oidc/auth_url`, `oidc/callback`) is not served,
//!   `role_type` defaults to `jwt`, and `role_type=oidc` is a 400 saying so.
//! - `HS*` and `none` are never accepted, whatever the key set holds; `ES512` is not
//!   supported (ring has no P-521).
//! - Renewal re-checks the role's current `bound_subject`, `bound_audiences`, `bound_claims`
//!   and the config's `bound_issuer` against the claims recorded at login (Vault only checks
//!   that the role still exists).
//! - `groups_claim` values go into the token metadata as `groups` (comma-separated), since
//!   there are no group aliases; a token without the claim logs in without it.
//! - Scalars are compared as text in `bound_claims` (`true` matches `"true"`).
//! - `jwt_validation_pubkeys` takes public keys (`PUBLIC KEY`, `RSA PUBLIC KEY`), not
//!   certificates.

mod claims;
mod config;
mod fetch;
/// Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`), not a public API.
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod jws;
mod keys;
mod login;
mod role;

use std::sync::Arc;

use async_trait::async_trait;
use secrethub_engine::{
    Engine, EngineError, LoginRenewal, MountContext, Operation, PathEntry, PathTable, Paths,
    Request, Response, StorageView, TokenParams,
};
use secrethub_storage::Storage as _;

use crate::keys::KeyCache;
use Operation::{Delete, List, Read, Update};

/// Builds the JWT auth method for a mount (`jwt` or `oidc`).
pub fn factory(_ctx: MountContext) -> Result<Arc<dyn Engine>, EngineError> {
    Ok(Arc::new(JwtAuth::new()))
}

#[derive(Debug, Clone, Copy)]
enum Route {
    Config,
    Role,
    RoleList,
    Login,
}

/// The JWT auth method of one mount.
pub(crate) struct JwtAuth {
    table: PathTable<Route>,
    keys: KeyCache,
}

impl JwtAuth {
    fn new() -> Self {
        let table = PathTable::new()
            .add(
                "config",
                Route::Config,
                &[Read, Update],
                "Configures where signing keys come from (exactly one of oidc_discovery_url, \
                 jwks_url, jwt_validation_pubkeys; with oidc_discovery_ca_pem or jwks_ca_pem), \
                 bound_issuer, jwt_supported_algs and default_role.",
            )
            .add(
                "role/{name}",
                Route::Role,
                &[Read, Update, Delete],
                "Manages a role: role_type, user_claim, bound_audiences, bound_subject, \
                 bound_claims, bound_claims_type, claim_mappings, groups_claim, \
                 clock_skew_leeway, expiration_leeway, not_before_leeway and the token_* \
                 fields.",
            )
            .add("role", Route::RoleList, &[List], "Lists roles.")
            .entry(
                PathEntry::new(
                    "login",
                    Route::Login,
                    &[Update],
                    "Logs in with a signed JWT: jwt, role (default: the config's default_role).",
                )
                .login(),
            );
        Self {
            table,
            keys: KeyCache::default(),
        }
    }
}

#[async_trait]
impl Engine for JwtAuth {
    async fn handle(&self, req: Request) -> Result<Response, EngineError> {
        let (route, args) = self.table.route(&req.path, req.op)?;
        match (route, req.op) {
            (Route::Config, Read) => config::read(&req, &self.keys).await,
            (Route::Config, _) => config::write(&req, &self.keys).await,
            (Route::Role, Read) => role::read(&req, args.get("name")).await,
            (Route::Role, Delete) => role::delete(&req, args.get("name")).await,
            (Route::Role, _) => role::write(&req, args.get("name")).await,
            (Route::RoleList, _) => role::list(&req).await,
            (Route::Login, _) => login::login(&req, &self.keys).await,
        }
    }

    async fn exists(&self, req: &Request) -> Result<Option<bool>, EngineError> {
        let key = match self.table.route(&req.path, Operation::Update) {
            Ok((Route::Config, _)) => config::CONFIG_KEY.to_string(),
            Ok((Route::Role, args)) => role::role_key(args.get("name"))?,
            _ => return Ok(None),
        };
        Ok(Some(req.storage.get(&key).await?.is_some()))
    }

    fn paths(&self) -> Option<&dyn Paths> {
        Some(&self.table)
    }

    async fn renew_login(
        &self,
        login: &LoginRenewal,
        storage: &StorageView,
    ) -> Result<TokenParams, EngineError> {
        login::renew(login, storage).await
    }
}
