//! `config/client` (where STS is, the server ID header a login must carry) and
//! `config/identity` (how aliases are named). Writes change only the fields given.

use secrethub_common::input;
use secrethub_engine::{EngineError, Request, Response};
use secrethub_storage::Storage as _;
use serde_json::{json, Value};

use crate::records::{
    load_client_config, load_identity_config, ClientConfigRecord, CLIENT_CONFIG_KEY,
    DEFAULT_METADATA, EC2_METADATA_FIELDS, IAM_METADATA_FIELDS, IDENTITY_CONFIG_KEY,
    RECORD_VERSION,
};
use crate::sts;

fn field_err(field: &str, msg: impl std::fmt::Display) -> EngineError {
    EngineError::bad_request(format!("invalid {field}: {msg}"))
}

fn object(v: Value) -> Response {
    match v {
        Value::Object(m) => Response::data(m),
        _ => Response::empty(),
    }
}

pub(crate) async fn read_client(req: &Request) -> Result<Response, EngineError> {
    let Some(c) = req
        .storage
        .get_json::<ClientConfigRecord>(CLIENT_CONFIG_KEY)
        .await?
    else {
        return Err(EngineError::NotFound);
    };
    // secret_key is write-only.
    Ok(object(json!({
        "access_key": c.access_key,
        "endpoint": c.endpoint,
        "iam_endpoint": c.iam_endpoint,
        "sts_endpoint": c.sts_endpoint,
        "sts_region": c.sts_region,
        "iam_server_id_header_value": c.iam_server_id_header_value,
        "allowed_sts_header_values": c.allowed_sts_header_values,
        "max_retries": c.max_retries,
        "use_sts_region_from_client": c.use_sts_region_from_client,
    })))
}

pub(crate) async fn write_client(req: &Request) -> Result<Response, EngineError> {
    let body = &req.body;
    let mut c = load_client_config(&req.storage).await?;
    if let Some(v) = input::field::<String>(body, "access_key")? {
        c.access_key = v;
    }
    if let Some(v) = input::field::<String>(body, "secret_key")? {
        c.secret_key = v.into();
    }
    for (field, slot) in [
        ("endpoint", &mut c.endpoint),
        ("iam_endpoint", &mut c.iam_endpoint),
        ("sts_endpoint", &mut c.sts_endpoint),
    ] {
        if let Some(v) = input::field::<String>(body, field)? {
            if !v.is_empty() {
                sts::validate_endpoint(&v).map_err(|e| field_err(field, e))?;
            }
            *slot = v;
        }
    }
    if let Some(v) = input::field::<String>(body, "sts_region")? {
        if !sts::valid_region(&v) && !v.is_empty() {
            return Err(field_err(
                "sts_region",
                format!("{v:?} is not a region name"),
            ));
        }
        c.sts_region = v;
    }
    if let Some(v) = input::field::<String>(body, "iam_server_id_header_value")? {
        if http::HeaderValue::from_str(&v).is_err() {
            return Err(field_err(
                "iam_server_id_header_value",
                "not a valid HTTP header value",
            ));
        }
        c.iam_server_id_header_value = v;
    }
    if let Some(v) = input::field::<Vec<String>>(body, "allowed_sts_header_values")? {
        for h in &v {
            if http::HeaderName::from_bytes(h.as_bytes()).is_err() {
                return Err(field_err(
                    "allowed_sts_header_values",
                    format!("{h:?} is not a header name"),
                ));
            }
        }
        c.allowed_sts_header_values = v;
    }
    if let Some(v) = input::field::<i64>(body, "max_retries")? {
        if !(-1..=100).contains(&v) {
            return Err(field_err("max_retries", "must be between -1 and 100"));
        }
        c.max_retries = v;
    }
    if let Some(v) = input::field::<bool>(body, "use_sts_region_from_client")? {
        c.use_sts_region_from_client = v;
    }
    c.version = RECORD_VERSION;
    req.storage.put_json(CLIENT_CONFIG_KEY, &c).await?;
    Ok(Response::empty())
}

pub(crate) async fn delete_client(req: &Request) -> Result<Response, EngineError> {
    req.storage.delete(CLIENT_CONFIG_KEY).await?;
    Ok(Response::empty())
}

pub(crate) async fn read_identity(req: &Request) -> Result<Response, EngineError> {
    let c = load_identity_config(&req.storage).await?;
    Ok(object(json!({
        "iam_alias": c.iam_alias,
        "iam_metadata": c.iam_metadata,
        "ec2_alias": c.ec2_alias,
        "ec2_metadata": c.ec2_metadata,
    })))
}

/// Expands `default` and checks every name against `allowed`.
fn metadata_fields(
    field: &str,
    given: Vec<String>,
    allowed: &[&str],
) -> Result<Vec<String>, EngineError> {
    let mut out: Vec<String> = Vec::new();
    for name in given {
        if name == "default" {
            out.extend(DEFAULT_METADATA.iter().map(|s| s.to_string()));
        } else if allowed.contains(&name.as_str()) {
            out.push(name);
        } else {
            return Err(field_err(
                field,
                format!("{name:?} is not one of default, {}", allowed.join(", ")),
            ));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

pub(crate) async fn write_identity(req: &Request) -> Result<Response, EngineError> {
    let body = &req.body;
    let mut c = load_identity_config(&req.storage).await?;
    if let Some(v) = input::field::<String>(body, "iam_alias")? {
        if !matches!(
            v.as_str(),
            "role_id" | "unique_id" | "full_arn" | "canonical_arn"
        ) {
            return Err(field_err(
                "iam_alias",
                format!("{v:?} (expected role_id, unique_id, full_arn or canonical_arn)"),
            ));
        }
        c.iam_alias = v;
    }
    if let Some(v) = input::field::<String>(body, "ec2_alias")? {
        if !matches!(v.as_str(), "role_id" | "instance_id" | "image_id") {
            return Err(field_err(
                "ec2_alias",
                format!("{v:?} (expected role_id, instance_id or image_id)"),
            ));
        }
        c.ec2_alias = v;
    }
    if let Some(v) = input::field::<Vec<String>>(body, "iam_metadata")? {
        c.iam_metadata = metadata_fields("iam_metadata", v, IAM_METADATA_FIELDS)?;
    }
    if let Some(v) = input::field::<Vec<String>>(body, "ec2_metadata")? {
        c.ec2_metadata = metadata_fields("ec2_metadata", v, EC2_METADATA_FIELDS)?;
    }
    c.version = RECORD_VERSION;
    req.storage.put_json(IDENTITY_CONFIG_KEY, &c).await?;
    Ok(Response::empty())
}
