//! Batch answers in Vault's shapes. Each item of `batch_input` is answered in order, a bad
//! item with an `error` field while the others are still answered. `encrypt` and `decrypt`
//! answer HTTP 400 when any item failed (or `partial_failure_response_code` when some
//! succeeded), with the whole envelope and its `batch_results` as the body, as Vault's
//! `RespondWithStatusCode` does; `rewrap`, `sign`, `verify` and `hmac` answer 200.

use secrethub_common::{random_uuid, JsonMap};
use secrethub_engine::{Request, Response};
use serde_json::{json, Value};

use crate::error::{Result, TransitError};
use crate::fields::{batch_items, Fields};

/// How an answer with failed items is sent.
#[derive(Debug, Clone, Copy)]
pub(crate) enum OnItemError {
    /// 200 whatever failed.
    Ok,
    /// 400, or `partial` (Vault's `partial_failure_response_code`) when some item succeeded.
    BadRequest { partial: Option<u16> },
}

impl OnItemError {
    /// encrypt's and decrypt's policy, from the request body.
    pub(crate) fn from_body(body: &JsonMap) -> Result<Self> {
        let partial = Fields(body).get::<u16>("partial_failure_response_code")?;
        if let Some(code) = partial {
            if !(200..600).contains(&code) {
                return Err(TransitError::bad(
                    "partial_failure_response_code must be an HTTP status code",
                ));
            }
        }
        Ok(OnItemError::BadRequest { partial })
    }
}

/// Answers `batch_results` (items already carry `error` where they failed).
pub(crate) fn respond(results: Vec<JsonMap>, on_error: OnItemError) -> Response {
    let failed = results.iter().filter(|r| r.contains_key("error")).count();
    let mut data = JsonMap::new();
    let all = results.len();
    data.insert(
        "batch_results".into(),
        Value::Array(results.into_iter().map(Value::Object).collect()),
    );
    let status = match on_error {
        _ if failed == 0 => return Response::data(data),
        OnItemError::Ok => return Response::data(data),
        OnItemError::BadRequest {
            partial: Some(code),
        } if failed < all => code,
        OnItemError::BadRequest { .. } => 400,
    };
    let envelope = json!({
        "request_id": random_uuid(),
        "lease_id": "",
        "renewable": false,
        "lease_duration": 0,
        "data": data,
        "wrap_info": null,
        "warnings": null,
        "auth": null,
    });
    // Serialising a JSON value cannot fail.
    let body = serde_json::to_vec(&envelope).unwrap_or_default();
    Response::raw_with_status(status, "application/json", body)
}

/// One item's failure as Vault shows it, plus any fields Vault leaves on failed items.
pub(crate) fn error_item(
    err: TransitError,
    reference: Value,
    extra: &[(&str, Value)],
) -> Result<JsonMap> {
    let message = match err {
        TransitError::BadRequest(m) => m,
        other => return Err(other),
    };
    let mut m = JsonMap::new();
    for (k, v) in extra {
        m.insert((*k).to_string(), v.clone());
    }
    m.insert("error".into(), message.into());
    m.insert("reference".into(), reference);
    Ok(m)
}

/// Runs `op` on the body alone, or on each item of `batch_input` (each answer carries the
/// item's `reference`; a failed item carries `error` and `error_extra`), answered per
/// `on_error`.
pub(crate) fn run(
    req: &Request,
    on_error: OnItemError,
    error_extra: &[(&str, Value)],
    op: impl Fn(Fields<'_>) -> Result<JsonMap>,
) -> Result<Response> {
    let Some(items) = batch_items(&req.body)? else {
        return Ok(Response::data(op(Fields(&req.body))?));
    };
    let mut results = Vec::with_capacity(items.len());
    for item in &items {
        let f = Fields(item);
        let reference = f.reference();
        results.push(match op(f) {
            Ok(mut m) => {
                m.insert("reference".into(), reference);
                m
            }
            Err(e) => error_item(e, reference, error_extra)?,
        });
    }
    Ok(respond(results, on_error))
}
