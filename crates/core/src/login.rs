//! Logins through auth methods: an auth method answers a [`LoginAuth`] and core turns it
//! into a token (policies with `default`, TTLs capped by the mount, bound CIDRs, the entity
//! of the alias), and on renewal asks the method again ([`Engine::renew_login`]) so that a
//! deleted role or changed bindings stop the token from living on.

use std::time::Duration;

use secrethub_common::{format_duration, now_unix};
use secrethub_engine::{normalize_policies, Engine, LoginAuth, LoginRenewal, TokenParams};

use crate::error::{CoreError, CoreResult};
use crate::identity::AliasMount;
use crate::mounts::Mounted;
use crate::pipeline::Ctx;
use crate::request::CoreResponse;
use crate::token_api::auth_block;
use crate::tokens::{LoginState, TokenRecord};

/// The effective TTL terms of a token: initial TTL, renewal cap from creation, period.
struct Terms {
    ttl: Duration,
    max_ttl: Duration,
    period: Duration,
    explicit_max_ttl: Duration,
}

/// Applies Vault's rules: a period replaces the TTL; the TTL defaults to the mount's and is
/// capped by the token's max TTL, the mount's max and the explicit max.
fn terms(
    params: &TokenParams,
    mount_default: Duration,
    mount_max: Duration,
) -> (Terms, Vec<String>) {
    let mut warnings = Vec::new();
    let max_ttl = match params.token_max_ttl {
        0 => mount_max,
        s => Duration::from_secs(s).min(mount_max),
    };
    let explicit_max_ttl = Duration::from_secs(params.token_explicit_max_ttl);
    let period = Duration::from_secs(params.token_period);
    let mut ttl = if !period.is_zero() {
        period
    } else if params.token_ttl > 0 {
        Duration::from_secs(params.token_ttl)
    } else {
        mount_default
    };
    if period.is_zero() && ttl > max_ttl {
        warnings.push(format!(
            "TTL of {:?} exceeded the effective max_ttl of {:?}; TTL value is capped accordingly",
            format_duration(ttl),
            format_duration(max_ttl)
        ));
        ttl = max_ttl;
    }
    if !explicit_max_ttl.is_zero() && ttl > explicit_max_ttl {
        ttl = explicit_max_ttl;
    }
    (
        Terms {
            ttl,
            max_ttl,
            period,
            explicit_max_ttl,
        },
        warnings,
    )
}

/// `userpass-alice` from mount `userpass/` and display name `alice`.
fn display_name(mount_path: &str, name: &str) -> String {
    let prefix = mount_path.trim_end_matches('/').replace('/', "-");
    if name.is_empty() {
        prefix
    } else {
        format!("{prefix}-{name}")
    }
}

/// Mints the token for a successful login at `auth/<mount>/<rel>`.
pub(crate) async fn mint(
    ctx: &Ctx<'_>,
    mounted: &Mounted,
    auth: LoginAuth,
    mut warnings: Vec<String>,
) -> CoreResult<CoreResponse> {
    let params = &auth.token;
    // Before the identity step, so a refused login changes nothing.
    if params.is_batch() {
        crate::batch_tokens::check_batch_terms(params.token_period, params.token_num_uses)?;
    }
    let bound = secrethub_common::parse_cidrs(&params.token_bound_cidrs)
        .map_err(|e| CoreError::bad_request(e.to_string()))?;
    if !secrethub_common::cidrs_allow(&bound, ctx.remote_addr) {
        return Err(CoreError::PermissionDenied);
    }
    let token_policies = normalize_policies(params.token_policies.clone());
    if token_policies.iter().any(|p| p == "root") {
        return Err(CoreError::bad_request(
            "auth methods cannot grant the root policy",
        ));
    }
    let mut policies = token_policies.clone();
    if !params.token_no_default_policy {
        policies.push("default".into());
        policies = normalize_policies(policies);
    }

    let (mount_default, mount_max) = mounted.entry.ttls(
        ctx.core.config().default_lease_ttl,
        ctx.core.config().max_lease_ttl,
    );
    let (t, w) = terms(params, mount_default, mount_max);
    warnings.extend(w);

    let (entity, entity_changed) = ctx
        .u
        .identity
        .login(
            &AliasMount {
                accessor: &mounted.entry.accessor,
                path: &mounted.entry.api_path(),
                engine_type: &mounted.entry.engine_type,
            },
            &auth.alias,
        )
        .await?;
    if entity_changed {
        ctx.u.policies.forget_entity(&entity.id);
    }

    let now = now_unix();
    let mut rec = TokenRecord {
        version: 1,
        hash: String::new(),
        accessor: String::new(),
        parent: None,
        policies,
        meta: auth.metadata.clone(),
        display_name: display_name(&mounted.entry.path, &auth.display_name),
        num_uses: params.token_num_uses,
        creation_time: now,
        creation_ttl: t.ttl.as_secs(),
        expire_time: now.saturating_add(i64::try_from(t.ttl.as_secs()).unwrap_or(i64::MAX)),
        explicit_max_ttl: t.explicit_max_ttl.as_secs(),
        period: t.period.as_secs(),
        renewable: true,
        path: format!("{}{}", mounted.entry.api_path(), ctx.rel),
        entity_id: entity.id.clone(),
        token_type: "service".into(),
        wrap_creation_path: String::new(),
        max_ttl: t.max_ttl.as_secs(),
        bound_cidrs: params.token_bound_cidrs.clone(),
        login: Some(LoginState {
            mount_accessor: mounted.entry.accessor.clone(),
            internal: auth.internal,
            alias: auth.alias,
            token_policies,
        }),
        role: String::new(),
    };
    let token = if params.is_batch() {
        ctx.u.tokens.create_batch(&mut rec).await?
    } else {
        ctx.u.tokens.create(&mut rec, None).await?
    };
    tracing::debug!(mount = %mounted.entry.api_path(), accessor = %rec.accessor, "login");
    Ok(CoreResponse {
        auth: Some(auth_block(&rec, token.expose().clone(), now)),
        warnings,
        ..Default::default()
    })
}

/// Before a login token is renewed: the auth method must still admit the login, with the
/// same policies. Updates the record's terms to what the method answers now.
pub(crate) async fn recheck(ctx: &Ctx<'_>, rec: &mut TokenRecord) -> CoreResult<()> {
    let Some(login) = rec.login.clone() else {
        return Ok(());
    };
    let router = ctx.u.router();
    let Some(mounted) = router
        .all()
        .find(|m| m.entry.accessor == login.mount_accessor)
    else {
        return Err(CoreError::bad_request(
            "the auth method that issued this token is no longer enabled",
        ));
    };
    let Some(engine) = mounted.engine.as_ref() else {
        return Err(CoreError::bad_request("invalid auth method"));
    };
    let renewal = LoginRenewal {
        internal: login.internal.clone(),
        alias: login.alias.clone(),
        metadata: rec.meta.clone(),
        token_policies: login.token_policies.clone(),
        remote_addr: ctx.remote_addr,
    };
    let storage =
        secrethub_storage::StorageView::new(ctx.u.barrier.clone(), mounted.entry.storage_prefix());
    let params = engine_renew(engine.as_ref(), &renewal, &storage).await?;
    if normalize_policies(params.token_policies.clone()) != login.token_policies {
        return Err(CoreError::bad_request(
            "policies have changed, not renewing",
        ));
    }
    let (mount_default, mount_max) = mounted.entry.ttls(
        ctx.core.config().default_lease_ttl,
        ctx.core.config().max_lease_ttl,
    );
    let (t, _) = terms(&params, mount_default, mount_max);
    rec.creation_ttl = t.ttl.as_secs();
    rec.period = t.period.as_secs();
    rec.max_ttl = t.max_ttl.as_secs();
    rec.explicit_max_ttl = t.explicit_max_ttl.as_secs();
    Ok(())
}

async fn engine_renew(
    engine: &dyn Engine,
    renewal: &LoginRenewal,
    storage: &secrethub_storage::StorageView,
) -> CoreResult<TokenParams> {
    engine
        .renew_login(renewal, storage)
        .await
        .map_err(CoreError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_follow_vault_rules() {
        let hour = Duration::from_secs(3600);
        let day = Duration::from_secs(86400);
        let p = TokenParams {
            token_ttl: 1200,
            ..Default::default()
        };
        let (t, w) = terms(&p, hour, day);
        assert_eq!((t.ttl.as_secs(), t.max_ttl, w.len()), (1200, day, 0));
        let p = TokenParams {
            token_ttl: 7200,
            token_max_ttl: 1800,
            ..Default::default()
        };
        let (t, w) = terms(&p, hour, day);
        assert_eq!((t.ttl.as_secs(), t.max_ttl.as_secs()), (1800, 1800));
        assert_eq!(w.len(), 1);
        let (t, _) = terms(&TokenParams::default(), hour, day);
        assert_eq!(t.ttl, hour);
        let p = TokenParams {
            token_period: 600,
            token_ttl: 60,
            ..Default::default()
        };
        assert_eq!(terms(&p, hour, day).0.ttl.as_secs(), 600);
        assert_eq!(display_name("userpass/", "alice"), "userpass-alice");
        assert_eq!(display_name("ci/jwt/", ""), "ci-jwt");
    }
}
