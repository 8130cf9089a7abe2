//! The request pipeline, in the order DESIGN.md §3 gives: path check → router → token →
//! ACL (with the engine's existence check for create vs update) → audit the request →
//! dispatch (sys, token, cubbyhole or an engine) → use-count → response wrapping →
//! audit the response.

use std::sync::Arc;

use secrethub_audit::{
    AuditAuth, AuditEvent, AuditRequest, AuditResponse, AuditResponseAuth, AuditWrapInfo, EventKind,
};
use secrethub_common::{format_rfc3339, now_unix, now_unix_nanos, JsonMap};
use secrethub_engine::{Caller, MountInfo, Operation, PathFlags, Paths, Request};
use secrethub_policy::{Acl, Capability};
use secrethub_storage::StorageView;

use crate::builtin::BuiltIn;
use crate::error::{CoreError, CoreResult};
use crate::mounts::{MountClass, Mounted};
use crate::request::{CoreRequest, CoreResponse, Method};
use crate::tokens::TokenRecord;
use crate::unsealed::Unsealed;
use crate::Core;

/// Everything a built-in handler (sys, token, cubbyhole, wrapping) gets to see.
pub(crate) struct Ctx<'a> {
    pub(crate) core: &'a Core,
    pub(crate) u: &'a Arc<Unsealed>,
    /// The path relative to the mount.
    pub(crate) rel: String,
    pub(crate) op: Operation,
    pub(crate) body: JsonMap,
    /// The caller's token record (None only on unauthenticated paths).
    pub(crate) token: Option<TokenRecord>,
    /// The caller's token itself (for renew-self and cubbyhole scoping).
    pub(crate) token_id: Option<String>,
    pub(crate) acl: Arc<Acl>,
    pub(crate) wrap_ttl: Option<std::time::Duration>,
    /// Labels for a lease this request creates.
    pub(crate) lease_metadata: std::collections::BTreeMap<String, String>,
    /// The client's address.
    pub(crate) remote_addr: Option<std::net::IpAddr>,
}

impl Ctx<'_> {
    pub(crate) fn caller(&self) -> CoreResult<&TokenRecord> {
        self.token.as_ref().ok_or(CoreError::PermissionDenied)
    }
}

/// How the mount declares `rel` for `op` (login, unauthenticated, sudo): from the row of a
/// built-in's path table, or of an engine's through [`secrethub_engine::Engine::path_flags`].
fn path_flags(builtin: Option<BuiltIn>, mounted: &Mounted, rel: &str, op: Operation) -> PathFlags {
    match (builtin, &mounted.engine) {
        (Some(b), _) => b.paths().flags(rel, op),
        (None, Some(engine)) => engine.path_flags(rel, op),
        (None, None) => PathFlags::NONE,
    }
}

/// Rejects traversal and control characters; strips one trailing slash.
fn clean_path(raw: &str) -> CoreResult<String> {
    let p = raw.trim_start_matches('/');
    if p.chars().any(|c| c.is_control()) || p.split('/').any(|s| s == ".." || s == ".") {
        return Err(CoreError::bad_request("invalid request path"));
    }
    Ok(p.strip_suffix('/').unwrap_or(p).to_string())
}

fn capability(op: Operation) -> Capability {
    match op {
        Operation::Read => Capability::Read,
        Operation::Create => Capability::Create,
        Operation::Update => Capability::Update,
        Operation::Patch => Capability::Patch,
        Operation::Delete => Capability::Delete,
        Operation::List => Capability::List,
    }
}

/// The operation a request method asks for (a write is an update until the existence check).
fn operation(method: Method) -> Operation {
    match method {
        Method::Get => Operation::Read,
        Method::List => Operation::List,
        Method::Delete => Operation::Delete,
        Method::Patch => Operation::Patch,
        Method::Write => Operation::Update,
    }
}

impl Core {
    /// The answer for a path under no mount: 404 only to a caller whose token grants the path,
    /// otherwise 403 like any refused request, so that mounts cannot be enumerated without a
    /// token (OpenBao's order: token and ACL before the route).
    async fn unrouted(&self, u: &Unsealed, req: &CoreRequest, path: &str) -> CoreResult<CoreError> {
        let token = req.token.as_ref().map(|t| t.expose().clone());
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Ok(CoreError::PermissionDenied);
        };
        let Some(record) = u.lookup_token(&token).await? else {
            return Ok(CoreError::InvalidToken);
        };
        if record.token_type == "wrapping" || !record.allows_address(req.remote_addr) {
            return Ok(CoreError::PermissionDenied);
        }
        let acl = u
            .policies
            .acl(&record.policies, &record.entity_id, &u.identity)
            .await?;
        let op = operation(req.method);
        let acl_path = if op == Operation::List {
            format!("{path}/")
        } else {
            path.to_string()
        };
        Ok(if acl.check(&acl_path, capability(op), &req.body).allowed {
            CoreError::NoRoute(path.to_string())
        } else {
            CoreError::PermissionDenied
        })
    }

    /// Serves one API request end to end.
    pub async fn handle(&self, req: CoreRequest) -> CoreResult<CoreResponse> {
        let u = self.unsealed()?;
        let path = clean_path(&req.path)?;
        let router = u.router();
        let Some((mounted, rel)) = router.route(&path) else {
            return Err(self.unrouted(&u, &req, &path).await?);
        };
        let rel = rel.trim_end_matches('/').to_string();
        let builtin = BuiltIn::of(&mounted.entry.engine_type);
        let mut op = operation(req.method);
        let flags = path_flags(builtin, mounted, &rel, op);
        if let Some(raw) = req.raw_body.as_ref().filter(|_| !flags.raw_body) {
            return Err(CoreError::BadRequest(format!(
                "this path takes a JSON body, not {:?}",
                raw.content_type.chars().take(100).collect::<String>()
            )));
        }

        // A login needs no token, and one sent along is ignored (not used up, not audited
        // as the caller).
        let login = flags.login && mounted.entry.class == MountClass::Auth;
        if let Err(e) = self.rate_limit(&u, &req, &path, mounted, &rel, login).await {
            self.audit_rejected(&u, &req, &path, &mounted.entry, &e)
                .await?;
            return Err(e);
        }
        let token_id = req
            .token
            .as_ref()
            .map(|t| t.expose().clone())
            .filter(|_| !login);
        let unauth = login || flags.unauthenticated;
        let record = match &token_id {
            Some(t) if !t.is_empty() => u.lookup_token(t).await?,
            _ => None,
        };
        if record.is_none() && !unauth {
            return Err(if token_id.as_deref().is_some_and(|t| !t.is_empty()) {
                CoreError::InvalidToken
            } else {
                CoreError::PermissionDenied
            });
        }
        if let Some(r) = &record {
            if !r.allows_address(req.remote_addr) {
                return Err(CoreError::PermissionDenied);
            }
        }

        let engine_req = mounted.engine.as_ref().map(|_| Request {
            op,
            path: rel.clone(),
            body: req.body.clone(),
            storage: StorageView::new(u.barrier.clone(), mounted.entry.storage_prefix()),
            caller: Caller {
                display_name: record
                    .as_ref()
                    .map(|r| r.display_name.clone())
                    .unwrap_or_default(),
                token_accessor: record.as_ref().map(|r| r.accessor.clone()),
                entity_id: record
                    .as_ref()
                    .map(|r| r.entity_id.clone())
                    .filter(|e| !e.is_empty()),
                policies: record
                    .as_ref()
                    .map(|r| r.policies.clone())
                    .unwrap_or_default(),
                remote_addr: req.remote_addr,
            },
            mount: self.mount_info(mounted),
            intents: None,
            timers: Some(u.timers.for_mount(&mounted.entry.accessor)),
            raw_body: req.raw_body.clone(),
        });
        if op == Operation::Update {
            if let (Some(engine), Some(r)) = (&mounted.engine, &engine_req) {
                if engine.exists(r).await? == Some(false) {
                    op = Operation::Create;
                }
            }
            // Token roles have OpenBao's existence check: writing a new one needs `create`.
            if builtin == Some(BuiltIn::Token) && crate::token_roles::creates(&u, &rel).await? {
                op = Operation::Create;
            }
        }

        let acl = match &record {
            Some(r) if r.token_type == "wrapping" => {
                // A wrapping token can only unwrap or look up itself.
                if !matches!(path.as_str(), "sys/wrapping/unwrap" | "sys/wrapping/lookup") {
                    return Err(CoreError::PermissionDenied);
                }
                Arc::new(Acl::new(&[]))
            }
            Some(r) => {
                u.policies
                    .acl(&r.policies, &r.entity_id, &u.identity)
                    .await?
            }
            None => Arc::new(Acl::new(&[])),
        };
        if !unauth && !matches!(&record, Some(r) if r.token_type == "wrapping") {
            // Vault lists with a trailing slash, so `secret/metadata/app/*` grants LIST of `app/`.
            let acl_path = if op == Operation::List {
                format!("{path}/")
            } else {
                path.clone()
            };
            let decision = acl.check(&acl_path, capability(op), &req.body);
            // Asked again: the existence check may have made the update a create.
            let needs_sudo = path_flags(builtin, mounted, &rel, op).sudo;
            if !decision.allowed || (needs_sudo && !decision.sudo) {
                self.audit_denied(&u, &req, &path, op, record.as_ref(), &mounted.entry)
                    .await?;
                return Err(CoreError::PermissionDenied);
            }
        }

        let audit_on = u.audit.is_enabled();
        if audit_on {
            let ev = request_event(&req, &path, op, record.as_ref(), &mounted.entry, None);
            u.audit.log(&ev).await?;
        }

        let ctx = Ctx {
            core: self,
            u: &u,
            rel,
            op,
            body: req.body.clone(),
            token: record.clone(),
            token_id: token_id.clone(),
            acl,
            wrap_ttl: req.wrap_ttl,
            lease_metadata: req.lease_metadata.clone(),
            remote_addr: req.remote_addr,
        };
        let result = self.dispatch(&ctx, builtin, mounted, engine_req).await;

        if let Some(rec) = &record {
            if u.tokens.use_once(rec).await? {
                u.tokens.revoke_tree(&rec.hash).await?;
            }
        }

        let mut resp = match result {
            Ok(r) => r,
            Err(e) => {
                if audit_on {
                    let ev =
                        request_event(&req, &path, op, record.as_ref(), &mounted.entry, Some(&e));
                    let mut ev = ev;
                    ev.kind = EventKind::Response;
                    ev.response = Some(AuditResponse::default());
                    u.audit.log(&ev).await?;
                }
                return Err(e);
            }
        };
        resp.mount_type = mounted.entry.engine_type.clone();

        if let Some(ttl) = req.wrap_ttl.filter(|t| !t.is_zero()) {
            // A raw answer is wrapped as Vault wraps it: as its data fields.
            if let Some(raw) = resp.raw.take() {
                resp.data = Some(crate::request::raw_as_data(&raw));
            }
            if resp.data.is_some() || resp.auth.is_some() {
                resp = crate::wrapping::wrap_response(&u, resp, ttl, &path).await?;
            }
        }

        if audit_on {
            let mut ev = request_event(&req, &path, op, record.as_ref(), &mounted.entry, None);
            ev.kind = EventKind::Response;
            ev.response = Some(response_audit(&resp));
            u.audit.log(&ev).await?;
        }
        Ok(resp)
    }

    fn mount_info(&self, m: &Mounted) -> MountInfo {
        let (d, max) = m
            .entry
            .ttls(self.config.default_lease_ttl, self.config.max_lease_ttl);
        MountInfo {
            path: m.entry.api_path(),
            accessor: m.entry.accessor.clone(),
            default_lease_ttl: d,
            max_lease_ttl: max,
        }
    }

    async fn dispatch(
        &self,
        ctx: &Ctx<'_>,
        builtin: Option<BuiltIn>,
        mounted: &Mounted,
        engine_req: Option<Request>,
    ) -> CoreResult<CoreResponse> {
        // A built-in serves only the paths its route table declares.
        if builtin.is_some_and(|b| !b.serves(&ctx.rel)) {
            return Err(CoreError::Engine(
                secrethub_engine::EngineError::UnsupportedPath,
            ));
        }
        match (builtin, &mounted.engine, engine_req) {
            (Some(BuiltIn::System), _, _) => crate::sys::handle(ctx).await,
            (Some(BuiltIn::Token), _, _) => crate::token_api::handle(ctx).await,
            (Some(BuiltIn::Cubbyhole), _, _) => crate::cubbyhole::handle(ctx).await,
            (Some(BuiltIn::Identity), _, _) => crate::identity::handle(ctx).await,
            (None, Some(engine), Some(mut r)) => {
                r.op = ctx.op;
                crate::lease_flow::handle_with_leases(ctx, mounted, engine.as_ref(), r).await
            }
            _ => Err(CoreError::NoRoute(mounted.entry.api_path())),
        }
    }

    /// Applies the rate-limit quota covering this request (for a login, the auth method
    /// names the role first when a quota is scoped to roles of its mount).
    async fn rate_limit(
        &self,
        u: &Unsealed,
        req: &CoreRequest,
        path: &str,
        mounted: &Mounted,
        rel: &str,
        login: bool,
    ) -> CoreResult<()> {
        let mount = mounted.entry.api_path();
        let login_mount = login.then_some(mount.as_str());
        let mut role = None;
        if let (Some(m), Some(engine)) = (login_mount, &mounted.engine) {
            if u.rate_limits.has_role_quota(m) {
                let probe = Request {
                    op: Operation::Update,
                    path: rel.to_string(),
                    body: req.body.clone(),
                    storage: StorageView::new(u.barrier.clone(), mounted.entry.storage_prefix()),
                    caller: Caller {
                        remote_addr: req.remote_addr,
                        ..Caller::default()
                    },
                    mount: self.mount_info(mounted),
                    intents: None,
                    timers: None,
                    raw_body: None,
                };
                role = engine.login_role(&probe).await;
            }
        }
        u.rate_limits.check(
            &crate::rate_limit::Subject {
                path,
                login_mount,
                addr: req.remote_addr,
            },
            role.as_deref(),
        )
    }

    /// Audits a request refused before it reached the ACL (rate limit), without a caller.
    async fn audit_rejected(
        &self,
        u: &Unsealed,
        req: &CoreRequest,
        path: &str,
        entry: &crate::mounts::MountEntry,
        err: &CoreError,
    ) -> CoreResult<()> {
        if u.audit.is_enabled() {
            let op = match req.method {
                Method::Get => Operation::Read,
                Method::List => Operation::List,
                Method::Delete => Operation::Delete,
                Method::Patch => Operation::Patch,
                Method::Write => Operation::Update,
            };
            let mut ev = request_event(req, path, op, None, entry, Some(err));
            u.audit.log(&ev).await?;
            ev.kind = EventKind::Response;
            ev.response = Some(AuditResponse::default());
            u.audit.log(&ev).await?;
        }
        Ok(())
    }

    async fn audit_denied(
        &self,
        u: &Unsealed,
        req: &CoreRequest,
        path: &str,
        op: Operation,
        record: Option<&TokenRecord>,
        entry: &crate::mounts::MountEntry,
    ) -> CoreResult<()> {
        if u.audit.is_enabled() {
            let mut ev = request_event(
                req,
                path,
                op,
                record,
                entry,
                Some(&CoreError::PermissionDenied),
            );
            u.audit.log(&ev).await?;
            ev.kind = EventKind::Response;
            ev.response = Some(AuditResponse::default());
            u.audit.log(&ev).await?;
        }
        Ok(())
    }
}

fn request_event(
    req: &CoreRequest,
    path: &str,
    op: Operation,
    record: Option<&TokenRecord>,
    entry: &crate::mounts::MountEntry,
    error: Option<&CoreError>,
) -> AuditEvent {
    let token = req.token.as_ref().map(|t| t.expose().clone());
    AuditEvent {
        time: format_rfc3339(now_unix_nanos()),
        kind: EventKind::Request,
        auth: record.map(|r| AuditAuth {
            client_token: token.clone(),
            accessor: Some(r.accessor.clone()),
            display_name: r.display_name.clone(),
            policies: r.policies.clone(),
            token_policies: r.policies.clone(),
            metadata: r.meta.clone(),
            entity_id: r.entity_id.clone(),
            token_type: r.token_type.clone(),
            token_ttl: r.ttl(now_unix()) as i64,
        }),
        request: AuditRequest {
            id: req.id.clone(),
            operation: op.as_str().into(),
            mount_type: entry.engine_type.clone(),
            mount_accessor: entry.accessor.clone(),
            client_token: token,
            client_token_accessor: record.map(|r| r.accessor.clone()),
            path: path.to_string(),
            data: request_data(req),
            remote_address: req.remote_addr.map(|a| a.to_string()).unwrap_or_default(),
            wrap_ttl: req.wrap_ttl.map_or(0, |d| d.as_secs() as i64),
            lease_metadata: req.lease_metadata.clone(),
        },
        response: None,
        error: error
            .map(|e| e.client_messages().join("; "))
            .filter(|s| !s.is_empty()),
    }
}

fn response_audit(resp: &CoreResponse) -> AuditResponse {
    AuditResponse {
        mount_type: resp.mount_type.clone(),
        // A raw body is recorded as Vault's raw fields, whose strings the device HMACs.
        data: match &resp.raw {
            Some(raw) => Some(serde_json::Value::Object(crate::request::raw_as_data(raw))),
            None => resp.data.clone().map(serde_json::Value::Object),
        },
        auth: resp.auth.as_ref().map(|a| AuditResponseAuth {
            client_token: Some(a.client_token.clone()),
            accessor: Some(a.accessor.clone()),
            display_name: String::new(),
            policies: a.policies.clone(),
            token_policies: a.token_policies.clone(),
            metadata: a.metadata.clone().unwrap_or_default(),
            entity_id: a.entity_id.clone(),
            token_type: a.token_type.clone(),
            token_ttl: a.lease_duration as i64,
        }),
        lease_id: resp.lease.as_ref().map(|l| l.lease_id.clone()),
        wrap_info: resp.wrap_info.as_ref().map(|w| AuditWrapInfo {
            token: w.token.clone(),
            accessor: w.accessor.clone(),
            ttl: w.ttl as i64,
            creation_time: w.creation_time.clone(),
            creation_path: w.creation_path.clone(),
            wrapped_accessor: w.wrapped_accessor.clone(),
        }),
        warnings: resp.warnings.clone(),
    }
}

/// A request's data as audit devices record it: the JSON body, or a raw body as Vault's
/// `http_content_type` and `http_raw_body` (base64), whose strings the device HMACs.
fn request_data(req: &CoreRequest) -> Option<serde_json::Value> {
    if let Some(raw) = &req.raw_body {
        use base64::Engine as _;
        return Some(serde_json::json!({
            "http_content_type": raw.content_type,
            "http_raw_body": base64::engine::general_purpose::STANDARD.encode(&raw.bytes),
        }));
    }
    (!req.body.is_empty()).then(|| serde_json::Value::Object(req.body.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_cleaned() {
        assert_eq!(clean_path("secret/data/x/").unwrap(), "secret/data/x");
        assert!(clean_path("secret/../sys").is_err());
        assert!(clean_path("secret/a\0b").is_err());
    }
}
