//! Kubernetes auth method: pods log in with their service account JWT, which the cluster's
//! TokenReview API vouches for. Vault's API: `auth/kubernetes/config`,
//! `auth/kubernetes/role/:name` (LIST `role`) and `auth/kubernetes/login`.
//!
//! [`factory`] builds the method for a mount (registered as `kubernetes`). Core serves
//! `login` without a token (its row's `login` flag), mints the token from the answered
//! [`secrethub_engine::LoginAuth`] and, on renewal, calls [`Engine::renew_login`], which
//! refuses when the role was deleted or no longer binds the service account.
//!
//! # Login
//!
//! `login` loads the role and the config, then posts a `TokenReview`
//! (`authentication.k8s.io/v1`) for the JWT to `kubernetes_host` over TLS verified against
//! `kubernetes_ca_cert`, with the role's `audience` when it has one (see `review.rs` for the
//! bearer token used). The answer's `system:serviceaccount:<namespace>:<name>` must match the
//! role's `bound_service_account_namespaces` and `bound_service_account_names` (`*` globs).
//! The token's metadata carries `service_account_name`, `service_account_namespace`,
//! `service_account_uid`, `service_account_secret_name` (empty) and `role`; the alias carries
//! the same facts without `role`, since one account may log in through several roles.
//!
//! # Failures
//!
//! A JWT the API does not authenticate, or an account the role does not bind, is a 403
//! "permission denied"; the reason (which of namespace or name did not match, never the token)
//! is logged at `info`. A cluster that cannot be reached, fails TLS verification or refuses
//! `token_reviewer_jwt` is a 503 naming the host and the reason. Bad config or role fields are
//! 400s naming the field.
//!
//! # Differences from Vault
//!
//! - JWTs are only ever checked with the TokenReview API: `pem_keys` (local signature checks)
//!   is refused, and `issuer`/`disable_iss_validation` are accepted and echoed but not used.
//! - `kubernetes_host` must be `https` (a bare `host:port` is taken as `https://host:port`).
//! - `bound_service_account_namespace_selector` is refused; list the namespaces instead.
//!
//! # Tests
//!
//! No real Kubernetes cluster can run where SecretHub is built, so the integration tests run
//! against a small local HTTPS server that implements the documented
//! `authentication.k8s.io/v1` TokenReview API (bearer check, token table, audiences).

mod endpoint;
mod error;
mod paths;
mod records;
mod review;

use std::sync::Arc;

use async_trait::async_trait;
use secrethub_engine::{
    Engine, EngineError, LoginRenewal, MountContext, Operation, PathEntry, PathTable, Paths,
    Request, Response, StorageView, TokenParams,
};

use crate::review::{Reviewer, LOCAL_SA_DIR};
use Operation::{Delete, List, Read, Update};

/// Builds the Kubernetes auth method for a mount.
pub fn factory(_ctx: MountContext) -> Result<Arc<dyn Engine>, EngineError> {
    Ok(Arc::new(KubernetesAuth::new()))
}

#[derive(Debug, Clone, Copy)]
enum Route {
    Config,
    Role,
    RoleList,
    Login,
}

/// The auth method of one `kubernetes` mount.
pub(crate) struct KubernetesAuth {
    table: PathTable<Route>,
    reviewer: Reviewer,
}

impl KubernetesAuth {
    fn new() -> Self {
        let table = PathTable::new()
            .add(
                "config",
                Route::Config,
                &[Read, Update],
                "Configures how to reach the Kubernetes API: kubernetes_host (required), \
                 kubernetes_ca_cert, token_reviewer_jwt (never returned), \
                 disable_local_ca_jwt.",
            )
            .add(
                "role/{name}",
                Route::Role,
                &[Read, Update, Delete],
                "Manages a role: bound_service_account_names and \
                 bound_service_account_namespaces (required, `*` globs), audience, \
                 alias_name_source (serviceaccount_uid or serviceaccount_name), and the \
                 token_* fields.",
            )
            .add("role", Route::RoleList, &[List], "Lists roles.")
            .entry(
                PathEntry::new(
                    "login",
                    Route::Login,
                    &[Update],
                    "Logs in with a service account JWT: role, jwt.",
                )
                .login(),
            );
        Self {
            table,
            reviewer: Reviewer::new(LOCAL_SA_DIR),
        }
    }
}

#[async_trait]
impl Engine for KubernetesAuth {
    async fn handle(&self, req: Request) -> Result<Response, EngineError> {
        let (route, args) = self.table.route(&req.path, req.op)?;
        let name = args.get("name");
        let result = match (route, req.op) {
            (Route::Config, Read) => self.read_config(&req).await,
            (Route::Config, _) => self.write_config(&req).await,
            (Route::Role, Read) => self.read_role(&req, name).await,
            (Route::Role, Delete) => self.delete_role(&req, name).await,
            (Route::Role, _) => self.write_role(&req, name).await,
            (Route::RoleList, _) => self.list_roles(&req).await,
            (Route::Login, _) => self.login(&req).await,
        };
        result.map_err(EngineError::from)
    }

    async fn exists(&self, req: &Request) -> Result<Option<bool>, EngineError> {
        let found = match self.table.route(&req.path, Operation::Update) {
            Ok((Route::Config, _)) => self.config_exists(&req.storage).await,
            Ok((Route::Role, args)) => self.role_exists(&req.storage, args.get("name")).await,
            _ => return Ok(None),
        };
        found.map(Some).map_err(EngineError::from)
    }

    fn paths(&self) -> Option<&dyn Paths> {
        Some(&self.table)
    }

    async fn renew_login(
        &self,
        login: &LoginRenewal,
        storage: &StorageView,
    ) -> Result<TokenParams, EngineError> {
        self.renew(login, storage).await.map_err(EngineError::from)
    }
}
