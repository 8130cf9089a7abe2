//! Token roles: `auth/token/roles/:role_name` (create, update, read, delete), LIST
//! `auth/token/roles`, and the rules `auth/token/create/:role_name` applies (see
//! `token_create.rs`), as OpenBao's token store has them.
//!
//! A role lets a caller create tokens it could not create otherwise: policies outside its own
//! (`allowed_policies`, `allowed_policies_glob`, minus the disallowed ones), orphans and
//! periodic tokens without sudo. Its name is in the token's path (`auth/token/create/<role>`
//! plus `path_suffix`), so `sys/leases/revoke-prefix` revokes what a role issued, and in the
//! token's `role`; a role token renews with the role's current period and explicit max TTL,
//! and not at all once the role is gone.
//!
//! Records live behind the barrier at `sys/token/roles/<name>`. Writing a role that does not
//! exist needs `create` on its path, updating one `update` (the pipeline asks [`creates`]).
//! Fields are decoded with Vault's rules (`secrethub_common::input`; JSON `null` is not
//! given); the `token_*` fields go through `TokenParams::update_from` like every auth method
//! role's, and the older `period`, `explicit_max_ttl` and `bound_cidrs` are kept and shown
//! back as OpenBao does (a `token_*` field given with its older name wins, with a warning).

use secrethub_common::{input, JsonMap};
use secrethub_engine::{EngineError, Operation, TokenParams};
use secrethub_storage::{Storage as _, StorageView};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{CoreError, CoreResult};
use crate::pipeline::Ctx;
use crate::request::CoreResponse;
use crate::tokens::TokenRecord;
use crate::unsealed::Unsealed;

mod rules;

use rules::{glob_match, go_quoted, lower_dedup, path_suffix_ok};
pub(crate) use rules::{role_name, sanitize_policies, show_cidrs};

/// Where role records live under the barrier.
const ROLES_PREFIX: &str = "sys/token/roles/";

/// The `token_*` fields a token role has (OpenBao's allow list); the others are not role fields.
const ROLE_TOKEN_FIELDS: &[&str] = &[
    "token_bound_cidrs",
    "token_explicit_max_ttl",
    "token_no_default_policy",
    "token_num_uses",
    "token_period",
];

/// What kind of token a role creates; the `default-*` kinds let the request's `type` choose.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum RoleTokenType {
    Service,
    Batch,
    #[default]
    DefaultService,
    DefaultBatch,
}

impl RoleTokenType {
    fn name(self) -> &'static str {
        match self {
            RoleTokenType::Service => "service",
            RoleTokenType::Batch => "batch",
            RoleTokenType::DefaultService => "default-service",
            RoleTokenType::DefaultBatch => "default-batch",
        }
    }

    /// The token type a request asking for `requested` (`""` = not given) gets.
    pub(crate) fn resolve(self, requested: &str) -> String {
        match self {
            RoleTokenType::Service => "service".into(),
            RoleTokenType::Batch => "batch".into(),
            RoleTokenType::DefaultBatch if requested.is_empty() => "batch".into(),
            RoleTokenType::DefaultService | RoleTokenType::DefaultBatch => requested.into(),
        }
    }
}

/// A persisted token role. Durations are whole seconds; policy lists are stored sanitised.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TokenRoleRecord {
    pub(crate) version: u32,
    pub(crate) name: String,
    pub(crate) allowed_policies: Vec<String>,
    pub(crate) disallowed_policies: Vec<String>,
    pub(crate) allowed_policies_glob: Vec<String>,
    pub(crate) disallowed_policies_glob: Vec<String>,
    pub(crate) orphan: bool,
    pub(crate) renewable: bool,
    pub(crate) path_suffix: String,
    /// `None` until set, shown as `null` as OpenBao does.
    pub(crate) allowed_entity_aliases: Option<Vec<String>>,
    pub(crate) token_period: u64,
    pub(crate) token_explicit_max_ttl: u64,
    pub(crate) token_num_uses: u64,
    pub(crate) token_bound_cidrs: Vec<String>,
    pub(crate) token_no_default_policy: bool,
    pub(crate) token_type: RoleTokenType,
    /// The older names as last given (zero/empty once the `token_*` field was given).
    pub(crate) period: u64,
    pub(crate) explicit_max_ttl: u64,
    pub(crate) bound_cidrs: Vec<String>,
}

impl TokenRoleRecord {
    fn new(name: &str) -> Self {
        TokenRoleRecord {
            version: 1,
            name: name.into(),
            allowed_policies: Vec::new(),
            disallowed_policies: Vec::new(),
            allowed_policies_glob: Vec::new(),
            disallowed_policies_glob: Vec::new(),
            orphan: false,
            renewable: true,
            path_suffix: String::new(),
            allowed_entity_aliases: None,
            token_period: 0,
            token_explicit_max_ttl: 0,
            token_num_uses: 0,
            token_bound_cidrs: Vec::new(),
            token_no_default_policy: false,
            token_type: RoleTokenType::DefaultService,
            period: 0,
            explicit_max_ttl: 0,
            bound_cidrs: Vec::new(),
        }
    }

    /// Whether `alias` (lowercased) may be named as `entity_alias` (exact or glob).
    pub(crate) fn allows_entity_alias(&self, alias: &str) -> bool {
        let allowed = self.allowed_entity_aliases.as_deref().unwrap_or_default();
        allowed.iter().any(|a| a == alias || glob_match(a, alias))
    }

    /// The policies of a token created against this role, when the role restricts them
    /// (`None` when it names no allowed or disallowed policies: the parent's rules apply).
    /// `requested` are the request's `policies`; `no_default` its `no_default_policy`.
    pub(crate) fn token_policies(
        &self,
        requested: &[String],
        parent: &[String],
        no_default: bool,
    ) -> CoreResult<Option<Vec<String>>> {
        let allowed = !self.allowed_policies.is_empty() || !self.allowed_policies_glob.is_empty();
        let disallowed =
            !self.disallowed_policies.is_empty() || !self.disallowed_policies_glob.is_empty();
        if !allowed && !disallowed {
            return Ok(None);
        }
        let add_default = !no_default
            && !self.token_no_default_policy
            && !self.disallowed_policies.iter().any(|p| p == "default")
            && !self
                .disallowed_policies_glob
                .iter()
                .any(|g| glob_match(g, "default"));
        let mut out = if requested.is_empty() {
            Vec::new()
        } else {
            sanitize_policies(requested, add_default)
        };
        if allowed {
            let role_policies = sanitize_policies(&self.allowed_policies, add_default);
            if out.is_empty() {
                out = role_policies;
            } else {
                let globs = sanitize_policies(&self.allowed_policies_glob, false);
                let permitted = |p: &String| {
                    role_policies.contains(p) || globs.iter().any(|g| glob_match(g, p))
                };
                if !out.iter().all(permitted) {
                    return Err(CoreError::bad_request(format!(
                        "token policies ({}) must be subset of the role's allowed policies ({}) or glob policies ({})",
                        go_quoted(&out),
                        go_quoted(&role_policies),
                        go_quoted(&globs)
                    )));
                }
            }
        } else if out.is_empty() {
            out = sanitize_policies(parent, add_default);
        }
        if let Some(bad) = out.iter().find(|p| {
            self.disallowed_policies.contains(p)
                || self
                    .disallowed_policies_glob
                    .iter()
                    .any(|g| glob_match(g, p))
        }) {
            return Err(CoreError::bad_request(format!(
                "token policy {bad:?} is disallowed by this role"
            )));
        }
        Ok(Some(out))
    }
}

/// Serves `auth/token/roles` (LIST) and `auth/token/roles/:role_name`.
pub(crate) async fn handle(ctx: &Ctx<'_>, name: Option<&str>) -> CoreResult<CoreResponse> {
    let view = roles_view(ctx.u);
    match (name, ctx.op) {
        (None, Operation::List) => {
            let keys = secrethub_storage::list_all(&view, "").await?;
            if keys.is_empty() {
                return Err(CoreError::NotFound);
            }
            let mut m = JsonMap::new();
            m.insert("keys".into(), keys.into());
            Ok(CoreResponse::data(m))
        }
        (Some(name), Operation::Read) => {
            let role = view
                .get_json::<TokenRoleRecord>(name)
                .await?
                .ok_or(CoreError::NotFound)?;
            Ok(CoreResponse::data(read_data(&role)))
        }
        (Some(name), Operation::Create | Operation::Update) => {
            let existing = view.get_json::<TokenRoleRecord>(name).await?;
            let mut role = existing.unwrap_or_else(|| TokenRoleRecord::new(name));
            let warnings = apply(
                &mut role,
                &ctx.body,
                ctx.core.config.max_lease_ttl.as_secs(),
            )?;
            view.put_json(name, &role).await?;
            Ok(CoreResponse {
                warnings,
                ..Default::default()
            })
        }
        (Some(name), Operation::Delete) => {
            view.delete(name).await?;
            Ok(CoreResponse::default())
        }
        _ => Err(CoreError::Engine(EngineError::UnsupportedOperation)),
    }
}

/// Whether a write to `auth/token/<rel>` creates a role (for the ACL's create/update choice).
pub(crate) async fn creates(u: &Unsealed, rel: &str) -> CoreResult<bool> {
    let Some(name) = rel.strip_prefix("roles/").and_then(role_name) else {
        return Ok(false);
    };
    Ok(roles_view(u).get(name).await?.is_none())
}

/// The role `name`, if it exists.
pub(crate) async fn load(u: &Unsealed, name: &str) -> CoreResult<Option<TokenRoleRecord>> {
    Ok(roles_view(u).get_json(name).await?)
}

/// The period and explicit max TTL a role token renews with: its role's current ones, as in
/// OpenBao (`None` for tokens without a role). A token whose role is gone does not renew.
pub(crate) async fn renewal_terms(
    ctx: &Ctx<'_>,
    rec: &TokenRecord,
) -> CoreResult<Option<(u64, u64)>> {
    if rec.role.is_empty() {
        return Ok(None);
    }
    let role = load(ctx.u, &rec.role).await?.ok_or_else(|| {
        CoreError::bad_request(format!(
            "original token role {:?} could not be found, not renewing",
            rec.role
        ))
    })?;
    Ok(Some((role.token_period, role.token_explicit_max_ttl)))
}

fn roles_view(u: &Unsealed) -> StorageView {
    StorageView::new(u.barrier.clone(), ROLES_PREFIX)
}

fn list_field(body: &JsonMap, field: &str) -> CoreResult<Option<Vec<String>>> {
    Ok(input::given(body, field)
        .map(|v| input::string_list_of(v).map_err(|e| e.at(field)))
        .transpose()?)
}

fn seconds_field(body: &JsonMap, field: &str) -> CoreResult<Option<u64>> {
    Ok(input::duration_field(body, field)?.map(|d| d.as_secs()))
}

/// Applies a write's fields to `role` and validates the result; returns OpenBao's warnings.
fn apply(role: &mut TokenRoleRecord, body: &JsonMap, sys_max: u64) -> CoreResult<Vec<String>> {
    let mut warnings = Vec::new();
    if let Some(b) = input::field::<bool>(body, "orphan")? {
        role.orphan = b;
    }
    if let Some(b) = input::field::<bool>(body, "renewable")? {
        role.renewable = b;
    }
    if let Some(suffix) = input::field::<String>(body, "path_suffix")? {
        if !suffix.is_empty() && !path_suffix_ok(&suffix) {
            return Err(CoreError::bad_request(
                r"given role path suffix contains invalid characters; must match \w[\w-.]+\w",
            ));
        }
        role.path_suffix = suffix;
    }
    if role.path_suffix.contains("..") {
        return Err(CoreError::bad_request(
            "error registering path suffix: path cannot contain parent references",
        ));
    }
    if let Some(l) = list_field(body, "allowed_policies")? {
        role.allowed_policies = sanitize_policies(&l, false);
    }
    if let Some(l) = list_field(body, "disallowed_policies")? {
        role.disallowed_policies = lower_dedup(l);
    }
    if let Some(l) = list_field(body, "allowed_policies_glob")? {
        role.allowed_policies_glob = sanitize_policies(&l, false);
    }
    if let Some(l) = list_field(body, "disallowed_policies_glob")? {
        role.disallowed_policies_glob = lower_dedup(l);
    }
    if let Some(l) = list_field(body, "allowed_entity_aliases")? {
        role.allowed_entity_aliases = Some(lower_dedup(l));
    }
    if let Some(t) = input::field::<String>(body, "token_type")? {
        role.token_type = match t.as_str() {
            "service" => RoleTokenType::Service,
            "batch" => RoleTokenType::Batch,
            "default-service" => RoleTokenType::DefaultService,
            "default-batch" => RoleTokenType::DefaultBatch,
            _ => {
                return Err(CoreError::bad_request(format!(
                    "invalid 'token_type' value {t:?}"
                )))
            }
        };
    }

    let only: JsonMap = body
        .iter()
        .filter(|(k, _)| ROLE_TOKEN_FIELDS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut params = TokenParams {
        token_period: role.token_period,
        token_explicit_max_ttl: role.token_explicit_max_ttl,
        token_num_uses: role.token_num_uses,
        token_bound_cidrs: role.token_bound_cidrs.clone(),
        token_no_default_policy: role.token_no_default_policy,
        ..TokenParams::default()
    };
    params.update_from(&only)?;
    role.token_num_uses = params.token_num_uses;
    role.token_no_default_policy = params.token_no_default_policy;
    role.token_period = params.token_period;
    role.token_explicit_max_ttl = params.token_explicit_max_ttl;
    role.token_bound_cidrs = params.token_bound_cidrs;

    // The older names: stored and shown back when given alone, ignored next to their
    // `token_*` field.
    let superseded = |new: &str, old: &str| {
        format!("Both '{new}' and deprecated '{old}' value supplied, ignoring the deprecated value")
    };
    if input::given(body, "token_period").is_some() {
        if input::given(body, "period").is_some() {
            warnings.push(superseded("token_period", "period"));
        }
        role.period = 0;
    } else if let Some(s) = seconds_field(body, "period")? {
        role.period = s;
        role.token_period = s;
    }
    if input::given(body, "token_bound_cidrs").is_some() {
        if input::given(body, "bound_cidrs").is_some() {
            warnings.push(superseded("token_bound_cidrs", "bound_cidrs"));
        }
        role.bound_cidrs = Vec::new();
    } else if let Some(blocks) = list_field(body, "bound_cidrs")? {
        secrethub_common::parse_cidrs(&blocks)
            .map_err(|e| CoreError::bad_request(format!("invalid bound_cidrs: {e}")))?;
        role.bound_cidrs = blocks.clone();
        role.token_bound_cidrs = blocks;
    }
    if input::given(body, "token_explicit_max_ttl").is_some() {
        if input::given(body, "explicit_max_ttl").is_some() {
            warnings.push(superseded("token_explicit_max_ttl", "explicit_max_ttl"));
        }
        role.explicit_max_ttl = 0;
    } else if let Some(s) = seconds_field(body, "explicit_max_ttl")? {
        role.explicit_max_ttl = s;
        role.token_explicit_max_ttl = s;
    }
    if sys_max != 0 && role.token_explicit_max_ttl > sys_max {
        warnings.push(format!(
            "Given explicit max TTL of {} is greater than system/mount allowed value of {sys_max} seconds; until this is fixed attempting to create tokens against this role will result in an error",
            role.token_explicit_max_ttl
        ));
    }

    if role.token_type == RoleTokenType::Batch {
        let refuse = |what: &str| {
            Err(CoreError::bad_request(format!(
                "'token_type' cannot be 'batch' when role is set to generate {what}"
            )))
        };
        if !role.orphan {
            return refuse("non-orphan tokens");
        }
        if role.token_period != 0 {
            return refuse("periodic tokens");
        }
        if role.renewable {
            return refuse("renewable tokens");
        }
        if role.token_explicit_max_ttl != 0 {
            return refuse("tokens with an explicit max TTL");
        }
    }
    Ok(warnings)
}

/// Vault's read shape of a role.
fn read_data(role: &TokenRoleRecord) -> JsonMap {
    let mut m = JsonMap::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.into(), v);
    };
    put("name", json!(role.name));
    put("allowed_policies", json!(role.allowed_policies));
    put("disallowed_policies", json!(role.disallowed_policies));
    put("allowed_policies_glob", json!(role.allowed_policies_glob));
    put(
        "disallowed_policies_glob",
        json!(role.disallowed_policies_glob),
    );
    put("allowed_entity_aliases", json!(role.allowed_entity_aliases));
    put("orphan", json!(role.orphan));
    put("renewable", json!(role.renewable));
    put("path_suffix", json!(role.path_suffix));
    put("period", json!(role.period));
    put("token_period", json!(role.token_period));
    put("explicit_max_ttl", json!(role.explicit_max_ttl));
    put("token_explicit_max_ttl", json!(role.token_explicit_max_ttl));
    put(
        "token_no_default_policy",
        json!(role.token_no_default_policy),
    );
    put("token_type", json!(role.token_type.name()));
    if !role.token_bound_cidrs.is_empty() {
        put(
            "token_bound_cidrs",
            json!(show_cidrs(&role.token_bound_cidrs)),
        );
    }
    if !role.bound_cidrs.is_empty() {
        put("bound_cidrs", json!(show_cidrs(&role.bound_cidrs)));
    }
    if role.token_num_uses > 0 {
        put("token_num_uses", json!(role.token_num_uses));
    }
    m
}
