//! `role/:name/<field>`: one endpoint per role field (read, update, delete = back to the
//! default), so an ACL can delegate a single field. They change the same record as
//! `role/:name` and keep its rules (a role must still constrain logins).

use secrethub_common::JsonMap;
use secrethub_engine::{EngineError, Request, Response};
use serde_json::json;

use crate::input;
use crate::paths::load_role;
use crate::paths::roles::{check_constraints, single};
use crate::records::RoleRecord;
use crate::{AppRole, RoleField};

/// OpenBao's warning on a read of `role/:name/bound-cidr-list`.
const BOUND_CIDR_LIST_DEPRECATED: &str = "The \"bound_cidr_list\" field is deprecated and will be \
     removed. Please use \"secret_id_bound_cidrs\" instead.";

impl RoleField {
    /// The body keys a write accepts, the first being the field's own name.
    fn keys(self) -> &'static [&'static str] {
        match self {
            RoleField::Policies => &["token_policies", "policies"],
            RoleField::SecretIdNumUses => &["secret_id_num_uses"],
            RoleField::SecretIdTtl => &["secret_id_ttl"],
            RoleField::TokenTtl => &["token_ttl"],
            RoleField::TokenMaxTtl => &["token_max_ttl"],
            RoleField::TokenNumUses => &["token_num_uses"],
            RoleField::BindSecretId => &["bind_secret_id"],
            RoleField::BoundCidrList => &["bound_cidr_list", "secret_id_bound_cidrs"],
            RoleField::SecretIdBoundCidrs => &["secret_id_bound_cidrs", "bound_cidr_list"],
            RoleField::TokenBoundCidrs => &["token_bound_cidrs"],
            RoleField::Period => &["token_period", "period"],
            RoleField::LocalSecretIds => &["local_secret_ids"],
        }
    }
}

/// Applies a write of `field` from `body` to `role`.
fn apply(role: &mut RoleRecord, field: RoleField, body: &JsonMap) -> Result<(), EngineError> {
    let keys = field.keys();
    if secrethub_common::input::first_given(body, keys).is_none() {
        return Err(EngineError::bad_request(format!("missing {}", keys[0])));
    }
    match field {
        RoleField::SecretIdNumUses => {
            role.secret_id_num_uses = input::opt_uint(body, keys)?.unwrap_or_default();
        }
        RoleField::SecretIdTtl => {
            role.secret_id_ttl_secs = input::opt_secs(body, keys)?.unwrap_or_default();
        }
        RoleField::BindSecretId => {
            role.bind_secret_id = input::opt_bool(body, keys)?.unwrap_or(true);
        }
        RoleField::BoundCidrList | RoleField::SecretIdBoundCidrs => {
            role.secret_id_bound_cidrs = input::opt_cidrs(body, keys)?.unwrap_or_default();
        }
        RoleField::LocalSecretIds => {
            return Err(EngineError::UnsupportedOperation);
        }
        RoleField::Policies
        | RoleField::TokenTtl
        | RoleField::TokenMaxTtl
        | RoleField::TokenNumUses
        | RoleField::TokenBoundCidrs
        | RoleField::Period => {
            // Only this field's keys reach the token parser, so a body carrying other
            // token fields changes nothing else.
            let only: JsonMap = keys
                .iter()
                .filter_map(|k| body.get(*k).map(|v| (k.to_string(), v.clone())))
                .collect();
            role.token.update_from(&only)?;
        }
    }
    Ok(())
}

/// Resets `field` of `role` to its default.
fn reset(role: &mut RoleRecord, field: RoleField) -> Result<(), EngineError> {
    let t = &mut role.token;
    match field {
        RoleField::Policies => t.token_policies.clear(),
        RoleField::SecretIdNumUses => role.secret_id_num_uses = 0,
        RoleField::SecretIdTtl => role.secret_id_ttl_secs = 0,
        RoleField::TokenTtl => t.token_ttl = 0,
        RoleField::TokenMaxTtl => t.token_max_ttl = 0,
        RoleField::TokenNumUses => t.token_num_uses = 0,
        RoleField::BindSecretId => role.bind_secret_id = true,
        RoleField::SecretIdBoundCidrs => role.secret_id_bound_cidrs.clear(),
        // Handled before a role is loaded (`reset_field`).
        RoleField::BoundCidrList => {}
        RoleField::TokenBoundCidrs => t.token_bound_cidrs.clear(),
        RoleField::Period => t.token_period = 0,
        RoleField::LocalSecretIds => return Err(EngineError::UnsupportedOperation),
    }
    Ok(())
}

impl AppRole {
    pub(crate) async fn read_field(
        &self,
        req: &Request,
        raw: &str,
        field: RoleField,
    ) -> Result<Response, EngineError> {
        let name = input::role_name(raw)?;
        let role = load_role(&req.storage, &name)
            .await?
            .ok_or(EngineError::NotFound)?;
        let t = &role.token;
        Ok(match field {
            RoleField::Policies => {
                let mut r = single("token_policies", json!(t.token_policies));
                if let Some(d) = r.data.as_mut() {
                    d.insert("policies".into(), json!(t.token_policies));
                }
                r
            }
            RoleField::SecretIdNumUses => {
                single("secret_id_num_uses", json!(role.secret_id_num_uses))
            }
            RoleField::SecretIdTtl => single("secret_id_ttl", json!(role.secret_id_ttl_secs)),
            RoleField::TokenTtl => single("token_ttl", json!(t.token_ttl)),
            RoleField::TokenMaxTtl => single("token_max_ttl", json!(t.token_max_ttl)),
            RoleField::TokenNumUses => single("token_num_uses", json!(t.token_num_uses)),
            RoleField::BindSecretId => single("bind_secret_id", json!(role.bind_secret_id)),
            // OpenBao no longer shows the deprecated name's value, only this warning.
            RoleField::BoundCidrList => Response {
                warnings: vec![BOUND_CIDR_LIST_DEPRECATED.into()],
                ..single("bound_cidr_list", serde_json::Value::Null)
            },
            RoleField::SecretIdBoundCidrs => {
                single("secret_id_bound_cidrs", json!(role.secret_id_bound_cidrs))
            }
            RoleField::TokenBoundCidrs => single("token_bound_cidrs", json!(t.shown_bound_cidrs())),
            RoleField::Period => {
                let mut r = single("token_period", json!(t.token_period));
                if let Some(d) = r.data.as_mut() {
                    d.insert("period".into(), json!(t.token_period));
                }
                r
            }
            RoleField::LocalSecretIds => single("local_secret_ids", json!(role.local_secret_ids)),
        })
    }

    pub(crate) async fn write_field(
        &self,
        req: &Request,
        raw: &str,
        field: RoleField,
    ) -> Result<Response, EngineError> {
        let name = input::role_name(raw)?;
        let _guard = self.locks.lock(&name).await;
        let mut role = self.role_for_update(&req.storage, &name).await?;
        apply(&mut role, field, &req.body)?;
        check_constraints(&role)?;
        let id = role.role_id.clone();
        self.save_role(&req.storage, &role, Some(&id)).await?;
        Ok(Response::empty())
    }

    pub(crate) async fn reset_field(
        &self,
        req: &Request,
        raw: &str,
        field: RoleField,
    ) -> Result<Response, EngineError> {
        let name = input::role_name(raw)?;
        if field == RoleField::BoundCidrList {
            // OpenBao resets only the deprecated name, which holds nothing of its own: the
            // role's secret_id_bound_cidrs stay, and a missing role is no error either.
            return Ok(Response::empty());
        }
        let _guard = self.locks.lock(&name).await;
        let mut role = self.role_for_update(&req.storage, &name).await?;
        reset(&mut role, field)?;
        check_constraints(&role)?;
        let id = role.role_id.clone();
        self.save_role(&req.storage, &role, Some(&id)).await?;
        Ok(Response::empty())
    }
}
