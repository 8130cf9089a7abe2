//! AppRole auth method with Vault's API: machines log in with a role ID and a secret ID.
//!
//! [`factory`] builds the method for a mount (registered as `approle`, mounted by core under
//! `auth/<path>/`). Paths, relative to the mount:
//! - `role` (LIST), `role/:name` (read, create/update, delete): `bind_secret_id`,
//!   `secret_id_bound_cidrs` (or the older `bound_cidr_list`), `secret_id_num_uses`,
//!   `secret_id_ttl`, `local_secret_ids`, `role_id`, and the common `token_*` fields.
//!   At least one of `bind_secret_id`, `secret_id_bound_cidrs` and `token_bound_cidrs` must
//!   constrain logins. Role names are case-insensitive (stored lowercased).
//! - `role/:name/role-id` (read, update; a role ID belongs to one role at most),
//!   `role/:name/secret-id` (update issues one, LIST answers the accessors),
//!   `role/:name/custom-secret-id`, `role/:name/secret-id/{lookup,destroy}`,
//!   `role/:name/secret-id-accessor/{lookup,destroy}`, and one path per role field
//!   (`policies`, `secret-id-num-uses`, `secret-id-ttl`, `token-ttl`, `token-max-ttl`,
//!   `token-num-uses`, `bind-secret-id`, `bound-cidr-list`, `secret-id-bound-cidrs`,
//!   `token-bound-cidrs`, `period`, read-only `local-secret-ids`) for delegating one field
//!   through ACLs. `bound-cidr-list`, the deprecated name of `secret_id_bound_cidrs`, writes
//!   them, but as in OpenBao reads as null with a deprecation warning and deletes nothing.
//! - `login` (no token needed): `role_id` and, when the role binds one, `secret_id`.
//! - `tidy/secret-id`: removes expired secret IDs and accessors that point nowhere.
//!
//! # Secrets at rest
//!
//! Secret IDs are stored only as HMAC-SHA256 under a random per-mount key (see `hashing.rs`),
//! so a login looks its secret ID up by hash and no stored secret is compared with the
//! presented one. Role IDs are indexed by HMAC too; the role ID a login names is compared
//! with the role's in constant time. A secret ID's uses are counted under a per-role lock;
//! the last use deletes it, and an expired one is deleted when met.
//!
//! # Failed logins
//!
//! An unknown role ID, an unknown, used-up or expired secret ID all answer the same 400
//! "invalid role or secret ID", so probing learns nothing about which part was wrong.
//! Address checks (`secret_id_bound_cidrs` of the role, `cidr_list` of the secret ID) come
//! after the secret ID is verified and before a use is counted, and answer a 400 naming the
//! restriction; an address outside the token's `token_bound_cidrs` answers 403, as core
//! would when minting the token. A refused login never uses up a secret ID.
//!
//! # Differences from Vault
//!
//! - Looking up or destroying an unknown secret ID or accessor answers 404 / 204.
//! - `num_uses` or `ttl` of a new secret ID above the role's limits is a 400; zero or absent
//!   takes the role's value.
//! - `tidy/secret-id` runs before it answers, but answers as OpenBao does when it starts one
//!   (202 with its warning), followed by warnings for records it skipped.
//! - `local_secret_ids` is accepted and stored; secret IDs are always replicated with the
//!   storage.

mod hashing;
mod input;
mod locks;
mod paths;
mod records;

use std::sync::Arc;

use async_trait::async_trait;
use secrethub_engine::{
    Engine, EngineError, LoginRenewal, MountContext, Operation, PathEntry, PathTable, Paths,
    Request, Response, StorageView, TokenParams,
};

use Operation::{Delete, List, Read, Update};

/// The clock the method reads: nanoseconds since the Unix epoch. Tests pass a controllable
/// one to [`factory_with_clock`]; production uses the system clock.
pub type Clock = Arc<dyn Fn() -> i128 + Send + Sync>;

/// Builds the AppRole method for a mount.
pub fn factory(ctx: MountContext) -> Result<Arc<dyn Engine>, EngineError> {
    factory_with_clock(ctx, Arc::new(secrethub_common::now_unix_nanos))
}

/// Like [`factory`], with the clock used for secret ID creation and expiry.
pub fn factory_with_clock(
    _ctx: MountContext,
    clock: Clock,
) -> Result<Arc<dyn Engine>, EngineError> {
    Ok(Arc::new(AppRole::new(clock)))
}

/// A field of a role with its own endpoint (`role/:name/<segment>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RoleField {
    Policies,
    SecretIdNumUses,
    SecretIdTtl,
    TokenTtl,
    TokenMaxTtl,
    TokenNumUses,
    BindSecretId,
    BoundCidrList,
    SecretIdBoundCidrs,
    TokenBoundCidrs,
    Period,
    LocalSecretIds,
}

#[derive(Debug, Clone, Copy)]
enum Route {
    Role,
    RoleList,
    RoleId,
    SecretId,
    CustomSecretId,
    SecretIdLookup,
    SecretIdDestroy,
    AccessorLookup,
    AccessorDestroy,
    Field(RoleField),
    Login,
    Tidy,
}

/// The method of one `approle` mount.
pub(crate) struct AppRole {
    table: PathTable<Route>,
    hasher: hashing::Hasher,
    locks: locks::RoleLocks,
    /// Held while a role ID is claimed, so two roles can't take the same one at once.
    role_ids: tokio::sync::Mutex<()>,
    clock: Clock,
}

const FIELD_OPS: &[Operation] = &[Read, Update, Delete];

impl AppRole {
    fn new(clock: Clock) -> Self {
        let mut table = PathTable::new()
            .add("role", Route::RoleList, &[List], "Lists the roles.")
            .add(
                "role/{name}",
                Route::Role,
                &[Read, Update, Delete],
                "Manages a role: bind_secret_id, secret_id_bound_cidrs, secret_id_num_uses, \
                 secret_id_ttl, local_secret_ids, role_id and the token_* fields.",
            )
            .add(
                "role/{name}/role-id",
                Route::RoleId,
                &[Read, Update],
                "Reads or sets the role ID of a role (role_id).",
            )
            .add(
                "role/{name}/secret-id",
                Route::SecretId,
                &[Update, List],
                "Issues a secret ID (metadata, cidr_list, token_bound_cidrs, num_uses, ttl); \
                 LIST answers the accessors of the role's secret IDs.",
            )
            .add(
                "role/{name}/custom-secret-id",
                Route::CustomSecretId,
                &[Update],
                "Registers a secret ID chosen by the caller (secret_id, plus the fields of \
                 secret-id).",
            )
            .add(
                "role/{name}/secret-id/lookup",
                Route::SecretIdLookup,
                &[Update],
                "Reads the properties of a secret ID (secret_id).",
            )
            .add(
                "role/{name}/secret-id/destroy",
                Route::SecretIdDestroy,
                &[Update, Delete],
                "Destroys a secret ID (secret_id).",
            )
            .add(
                "role/{name}/secret-id-accessor/lookup",
                Route::AccessorLookup,
                &[Update],
                "Reads the properties of a secret ID by its accessor (secret_id_accessor).",
            )
            .add(
                "role/{name}/secret-id-accessor/destroy",
                Route::AccessorDestroy,
                &[Update, Delete],
                "Destroys a secret ID by its accessor (secret_id_accessor).",
            )
            .entry(
                PathEntry::new(
                    "login",
                    Route::Login,
                    &[Update],
                    "Logs in with role_id and secret_id.",
                )
                .login(),
            )
            .add(
                "tidy/secret-id",
                Route::Tidy,
                &[Update],
                "Removes expired secret IDs and accessors without a secret ID.",
            );
        for (pattern, field, help) in [
            (
                "role/{name}/policies",
                RoleField::Policies,
                "token_policies",
            ),
            (
                "role/{name}/secret-id-num-uses",
                RoleField::SecretIdNumUses,
                "secret_id_num_uses",
            ),
            (
                "role/{name}/secret-id-ttl",
                RoleField::SecretIdTtl,
                "secret_id_ttl",
            ),
            ("role/{name}/token-ttl", RoleField::TokenTtl, "token_ttl"),
            (
                "role/{name}/token-max-ttl",
                RoleField::TokenMaxTtl,
                "token_max_ttl",
            ),
            (
                "role/{name}/token-num-uses",
                RoleField::TokenNumUses,
                "token_num_uses",
            ),
            (
                "role/{name}/bind-secret-id",
                RoleField::BindSecretId,
                "bind_secret_id",
            ),
            (
                "role/{name}/bound-cidr-list",
                RoleField::BoundCidrList,
                "bound_cidr_list (deprecated name of secret_id_bound_cidrs)",
            ),
            (
                "role/{name}/secret-id-bound-cidrs",
                RoleField::SecretIdBoundCidrs,
                "secret_id_bound_cidrs",
            ),
            (
                "role/{name}/token-bound-cidrs",
                RoleField::TokenBoundCidrs,
                "token_bound_cidrs",
            ),
            ("role/{name}/period", RoleField::Period, "token_period"),
        ] {
            table = table.add(pattern, Route::Field(field), FIELD_OPS, help);
        }
        table = table.add(
            "role/{name}/local-secret-ids",
            Route::Field(RoleField::LocalSecretIds),
            &[Read],
            "local_secret_ids (set when the role is created)",
        );
        Self {
            table,
            hasher: hashing::Hasher::default(),
            locks: locks::RoleLocks::new(),
            role_ids: tokio::sync::Mutex::new(()),
            clock,
        }
    }

    /// Now, in nanoseconds since the Unix epoch.
    fn now(&self) -> i128 {
        (self.clock)()
    }
}

#[async_trait]
impl Engine for AppRole {
    async fn handle(&self, req: Request) -> Result<Response, EngineError> {
        let (route, args) = self.table.route(&req.path, req.op)?;
        let name = args.get("name");
        match (route, req.op) {
            (Route::RoleList, _) => self.list_roles(&req).await,
            (Route::Role, Read) => self.read_role(&req, name).await,
            (Route::Role, Delete) => self.delete_role(&req, name).await,
            (Route::Role, _) => self.write_role(&req, name).await,
            (Route::RoleId, Read) => self.read_role_id(&req, name).await,
            (Route::RoleId, _) => self.write_role_id(&req, name).await,
            (Route::SecretId, List) => self.list_secret_ids(&req, name).await,
            (Route::SecretId, _) => self.issue_secret_id(&req, name, false).await,
            (Route::CustomSecretId, _) => self.issue_secret_id(&req, name, true).await,
            (Route::SecretIdLookup, _) => self.lookup_secret_id(&req, name).await,
            (Route::SecretIdDestroy, _) => self.destroy_secret_id(&req, name).await,
            (Route::AccessorLookup, _) => self.lookup_accessor(&req, name).await,
            (Route::AccessorDestroy, _) => self.destroy_accessor(&req, name).await,
            (Route::Field(f), Read) => self.read_field(&req, name, f).await,
            (Route::Field(f), Delete) => self.reset_field(&req, name, f).await,
            (Route::Field(f), _) => self.write_field(&req, name, f).await,
            (Route::Login, _) => self.login(&req).await,
            (Route::Tidy, _) => self.tidy(&req).await,
        }
    }

    async fn exists(&self, req: &Request) -> Result<Option<bool>, EngineError> {
        match self.table.route(&req.path, Operation::Update) {
            Ok((Route::Role, args)) => {
                let name = input::role_name(args.get("name"))?;
                Ok(Some(paths::load_role(&req.storage, &name).await?.is_some()))
            }
            _ => Ok(None),
        }
    }

    fn paths(&self) -> Option<&dyn Paths> {
        Some(&self.table)
    }

    async fn login_role(&self, req: &Request) -> Option<String> {
        self.role_of_login(req).await
    }

    async fn renew_login(
        &self,
        login: &LoginRenewal,
        storage: &StorageView,
    ) -> Result<TokenParams, EngineError> {
        self.renew(login, storage).await
    }
}
