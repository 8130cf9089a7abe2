//! `role/:name`: which IAM principals may log in through a role and the token they get.
//! Only `auth_type=iam` exists; ec2-only fields are refused rather than silently ignored, so
//! nobody believes an instance binding protects a role when it does not.

use secrethub_common::random_uuid;
use secrethub_engine::{EngineError, JsonMap, Request, Response, TokenParams};
use secrethub_storage::{list_children, Storage as _};
use serde_json::{json, Value};

use crate::arn;
use crate::records::{load_role, role_key, RoleRecord, RECORD_VERSION};
use secrethub_common::input;

/// Fields that only mean something for ec2 logins, which SecretHub does not support.
const EC2_LIST_FIELDS: &[&str] = &[
    "bound_ami_id",
    "bound_account_id",
    "bound_region",
    "bound_vpc_id",
    "bound_subnet_id",
    "bound_iam_role_arn",
    "bound_iam_instance_profile_arn",
    "bound_ec2_instance_id",
];
const EC2_FLAG_FIELDS: &[&str] = &["allow_instance_migration", "disallow_reauthentication"];
const EC2_STRING_FIELDS: &[&str] = &["role_tag", "inferred_entity_type", "inferred_aws_region"];

pub(crate) async fn write_role(req: &Request, name: &str) -> Result<Response, EngineError> {
    let key = role_key(name)?;
    let body = &req.body;
    let mut warnings = Vec::new();

    match input::field::<String>(body, "auth_type")?.as_deref() {
        None | Some("") | Some("iam") => {}
        Some("ec2") => {
            return Err(EngineError::bad_request(
                "auth_type \"ec2\" is not supported: only iam is",
            ))
        }
        Some(other) => {
            return Err(EngineError::bad_request(format!(
                "invalid auth_type {other:?}: only iam is supported"
            )))
        }
    }
    for field in EC2_LIST_FIELDS {
        if input::field::<Vec<String>>(body, field)?.is_some_and(|v| !v.is_empty()) {
            return Err(EngineError::bad_request(format!(
                "{field} is only supported with the ec2 auth type, which SecretHub does not support"
            )));
        }
    }
    for field in EC2_FLAG_FIELDS {
        if input::field::<bool>(body, field)? == Some(true) {
            return Err(EngineError::bad_request(format!(
                "{field} is only supported with the ec2 auth type, which SecretHub does not support"
            )));
        }
    }
    for field in EC2_STRING_FIELDS {
        if input::field::<String>(body, field)?.is_some_and(|v| !v.is_empty()) {
            return Err(EngineError::bad_request(format!(
                "{field} is not supported: SecretHub does not infer EC2 instances"
            )));
        }
    }
    if input::field::<bool>(body, "resolve_aws_unique_ids")? == Some(true) {
        warnings.push(
            "resolve_aws_unique_ids is not supported and was ignored: bound_iam_principal_arn \
             values are matched as ARNs, so a principal deleted and re-created under the same \
             name is admitted"
                .to_string(),
        );
    }

    let mut role = match req.storage.get_json::<RoleRecord>(&key).await? {
        Some(r) => r,
        None => RoleRecord {
            version: RECORD_VERSION,
            role_id: random_uuid(),
            auth_type: "iam".into(),
            bound_iam_principal_arn: Vec::new(),
            token: TokenParams::default(),
        },
    };
    if let Some(bounds) = input::field::<Vec<String>>(body, "bound_iam_principal_arn")? {
        for b in &bounds {
            arn::validate_bound(b)?;
        }
        role.bound_iam_principal_arn = bounds;
    }
    if role.bound_iam_principal_arn.is_empty() {
        return Err(EngineError::bad_request(
            "bound_iam_principal_arn is required: at least one IAM principal ARN must be bound",
        ));
    }
    role.token.update_from(body)?;
    role.version = RECORD_VERSION;
    req.storage.put_json(&key, &role).await?;
    Ok(Response {
        warnings,
        ..Response::empty()
    })
}

pub(crate) async fn read_role(req: &Request, name: &str) -> Result<Response, EngineError> {
    let role = load_role(&req.storage, name)
        .await?
        .ok_or(EngineError::NotFound)?;
    let mut data = match json!({
        "auth_type": role.auth_type,
        "bound_iam_principal_arn": role.bound_iam_principal_arn,
        "bound_iam_principal_id": [],
        "resolve_aws_unique_ids": false,
        "role_id": role.role_id,
        "inferred_entity_type": "",
        "inferred_aws_region": "",
    }) {
        Value::Object(m) => m,
        _ => JsonMap::new(),
    };
    role.token.write_to(&mut data);
    Ok(Response::data(data))
}

pub(crate) async fn delete_role(req: &Request, name: &str) -> Result<Response, EngineError> {
    req.storage.delete(&role_key(name)?).await?;
    Ok(Response::empty())
}

pub(crate) async fn list_roles(req: &Request) -> Result<Response, EngineError> {
    let keys = list_children(&req.storage, "role/").await?;
    Response::list(keys)
}
