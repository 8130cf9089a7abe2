//! The AWS auth method, IAM login type, with Vault's API (`auth/aws/`): `config/client`,
//! `config/identity`, `role/:name` (LIST `role` and `roles`) and `login`.
//!
//! [`factory`] builds the method for a mount (register it as `aws`).
//!
//! # How an IAM login works
//!
//! The client signs an `sts:GetCallerIdentity` request with its AWS credentials but does not
//! send it; it hands method, URL, body and headers to `login` ([`signed_login_body`] builds
//! them). The server checks the request (see `iam_request.rs`), forwards it to the configured
//! STS endpoint with the client's signed headers and `Host`, and STS answers who signed it.
//! That ARN, canonicalised (assumed-role sessions become their role, paths are dropped), must
//! match one of the role's `bound_iam_principal_arn` values. The server never sees the
//! client's secret key, and a request signed for another server is refused when
//! `iam_server_id_header_value` is configured, because the signed
//! `X-Vault-AWS-IAM-Server-ID` header names its audience.
//!
//! # Storage
//!
//! `config/client`, `config/identity` and `role/<name>` hold JSON records (`records.rs`);
//! nothing is cached, so every login reads the config and the role it uses.
//!
//! # Differences from Vault
//!
//! - Only the `iam` auth type exists: `auth_type=ec2`, ec2-only role fields and ec2 login
//!   fields are refused with 400.
//! - No IAM API calls: `resolve_aws_unique_ids=true` is accepted with a warning and ignored,
//!   `bound_iam_principal_id` stays empty. Bound ARNs match the canonical ARN (and, for IAM
//!   users, the full ARN with its path); a `*` is allowed only at the end of a bound ARN.
//!   An assumed role's path is unknown, so bind roles without their path.
//! - Login failures carry a message (Vault answers 400 for all of them). Malformed requests
//!   are 400: a body other than GetCallerIdentity, a method other than POST, a URL with a
//!   path or query, an `X-Amz-Date` more than 15 minutes from the server's clock, an unknown
//!   role. Requests that are well-formed but not admitted are 403 (`EngineError::Denied`): the
//!   server ID header missing, different or unsigned, an ARN the role does not bind, and STS
//!   refusing the signature or key (with STS's code, e.g. `SignatureDoesNotMatch`). STS
//!   unreachable or failing with 5xx is a 503 after `max_retries` retries.
//! - `sts_region`, `access_key`, `secret_key`, `endpoint` and `iam_endpoint` are stored (the
//!   secret key is never returned) but unused: IAM logins make no AWS calls of their own.
//! - Unsigned request headers are forwarded only when on a short allowlist or in
//!   `allowed_sts_header_values`; hop-by-hop headers are refused.
//! - Renewal also fails when the role was deleted and re-created under the same name (its
//!   `role_id` changed).

mod arn;
mod client;
mod iam_request;
mod paths;
mod records;
mod sts;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use secrethub_engine::{
    Engine, EngineError, LoginRenewal, MountContext, Operation, PathEntry, PathTable, Paths,
    Request, Response, StorageView, TokenParams,
};
use secrethub_storage::Storage as _;

pub use client::{signed_login_body, SignError, DEFAULT_REGION, DEFAULT_STS_URL};
pub use iam_request::SERVER_ID_HEADER;
/// The SigV4 signer (its own crate, shared with the `aws-sm` secret provider).
pub use secrethub_aws_sigv4 as sigv4;
pub use sigv4::AwsCredentials;

use paths::{config, login, roles};
use Operation::{Delete, List, Read, Update};

/// How long one STS attempt may take.
const STS_TIMEOUT: Duration = Duration::from_secs(15);

/// Builds the AWS auth method for a mount.
pub fn factory(_ctx: MountContext) -> Result<Arc<dyn Engine>, EngineError> {
    Ok(Arc::new(AwsAuth::new()?))
}

#[derive(Debug, Clone, Copy)]
enum Route {
    ConfigClient,
    ConfigIdentity,
    Role,
    RoleList,
    Login,
}

/// The auth method of one `aws` mount.
pub(crate) struct AwsAuth {
    table: PathTable<Route>,
    http: reqwest::Client,
}

impl AwsAuth {
    fn new() -> Result<Self, EngineError> {
        let http = reqwest::Client::builder()
            // Host must reach STS exactly as signed; HTTP/2 would turn it into :authority.
            .http1_only()
            // Signed headers must not follow a redirect anywhere.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(STS_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| EngineError::Internal(anyhow::Error::new(e)))?;
        let table = PathTable::new()
            .add(
                "config/client",
                Route::ConfigClient,
                &[Read, Update, Delete],
                "Where logins are verified: sts_endpoint (default https://sts.amazonaws.com), \
                 sts_region, use_sts_region_from_client, iam_server_id_header_value, \
                 allowed_sts_header_values, max_retries; access_key, secret_key, endpoint and \
                 iam_endpoint are stored only.",
            )
            .add(
                "config/identity",
                Route::ConfigIdentity,
                &[Read, Update],
                "How aliases are named: iam_alias (role_id, unique_id, full_arn, \
                 canonical_arn) and iam_metadata.",
            )
            .add(
                "role/{name}",
                Route::Role,
                &[Read, Update, Delete],
                "Manages a role: auth_type (iam), bound_iam_principal_arn, and the token_* \
                 fields.",
            )
            .add("role", Route::RoleList, &[List], "Lists roles.")
            .add("roles", Route::RoleList, &[List], "Lists roles.")
            .entry(
                PathEntry::new(
                    "login",
                    Route::Login,
                    &[Update],
                    "Logs in with a signed sts:GetCallerIdentity request: role, \
                     iam_http_request_method, iam_request_url, iam_request_body, \
                     iam_request_headers.",
                )
                .login(),
            );
        Ok(Self { table, http })
    }
}

#[async_trait]
impl Engine for AwsAuth {
    async fn handle(&self, req: Request) -> Result<Response, EngineError> {
        let (route, args) = self.table.route(&req.path, req.op)?;
        let name = args.get("name").to_lowercase();
        match (route, req.op) {
            (Route::ConfigClient, Read) => config::read_client(&req).await,
            (Route::ConfigClient, Delete) => config::delete_client(&req).await,
            (Route::ConfigClient, _) => config::write_client(&req).await,
            (Route::ConfigIdentity, Read) => config::read_identity(&req).await,
            (Route::ConfigIdentity, _) => config::write_identity(&req).await,
            (Route::Role, Read) => roles::read_role(&req, &name).await,
            (Route::Role, Delete) => roles::delete_role(&req, &name).await,
            (Route::Role, _) => roles::write_role(&req, &name).await,
            (Route::RoleList, _) => roles::list_roles(&req).await,
            (Route::Login, _) => self.login(&req).await,
        }
    }

    async fn exists(&self, req: &Request) -> Result<Option<bool>, EngineError> {
        let key = match self.table.route(&req.path, Operation::Update) {
            Ok((Route::ConfigClient, _)) => records::CLIENT_CONFIG_KEY.to_string(),
            Ok((Route::Role, args)) => records::role_key(&args.get("name").to_lowercase())?,
            _ => return Ok(None),
        };
        Ok(Some(req.storage.get(&key).await?.is_some()))
    }

    fn paths(&self) -> Option<&dyn Paths> {
        Some(&self.table)
    }

    async fn login_role(&self, req: &Request) -> Option<String> {
        login::role_field(req)
    }

    async fn renew_login(
        &self,
        login: &LoginRenewal,
        storage: &StorageView,
    ) -> Result<TokenParams, EngineError> {
        login::renew(login, storage).await
    }
}
