//! `auth/<mount>/role/:name`: which tokens a role admits and what token they get.
//!
//! A write changes only the fields it names (a new role starts with `role_type=jwt`,
//! `user_claim=sub`, `bound_claims_type=string`). Like Vault, a role must bind something:
//! at least one of `bound_audiences`, `bound_subject`, `bound_claims` or
//! `token_bound_cidrs`. Reads answer Vault's shape.

use std::collections::BTreeMap;

use secrethub_common::{input, parse_duration};
use secrethub_engine::{EngineError, JsonMap, Request, Response, TokenParams, TOKEN_FIELDS};
use secrethub_storage::{list_children, validate_key, Storage as _, StorageView};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::claims;
use crate::jws::Leeways;

const RECORD_VERSION: u32 = 1;
/// Metadata keys the method sets itself, which `claim_mappings` may not target.
const RESERVED_METADATA: &[&str] = &["role"];
/// Vault fields that only matter to the OIDC browser flow: ignored, with a warning, unless
/// they hold their default (reads show the defaults, as OpenBao does for a jwt role).
const OIDC_ONLY: &[&str] = &[
    "allowed_redirect_uris",
    "oidc_scopes",
    "callback_mode",
    "poll_interval",
    "max_age",
    "oauth2_metadata",
    "oidc_disable_confirmation",
];
const FIELDS: &[&str] = &[
    "role_type",
    "user_claim",
    "user_claim_json_pointer",
    "bound_audiences",
    "bound_subject",
    "bound_claims",
    "bound_claims_type",
    "claim_mappings",
    "groups_claim",
    "clock_skew_leeway",
    "expiration_leeway",
    "not_before_leeway",
    "verbose_oidc_logging",
];

/// A stored role.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct RoleRecord {
    pub(crate) version: u32,
    pub(crate) role_type: String,
    pub(crate) user_claim: String,
    pub(crate) user_claim_json_pointer: bool,
    pub(crate) bound_audiences: Vec<String>,
    pub(crate) bound_subject: String,
    /// Claim (name or JSON pointer) → expected value: a scalar or a list of scalars.
    pub(crate) bound_claims: BTreeMap<String, Value>,
    /// `string` or `glob`.
    pub(crate) bound_claims_type: String,
    /// Claim → metadata key.
    pub(crate) claim_mappings: BTreeMap<String, String>,
    pub(crate) groups_claim: String,
    /// Seconds; 0 = Vault's default, negative = none.
    pub(crate) clock_skew_leeway: i64,
    pub(crate) expiration_leeway: i64,
    pub(crate) not_before_leeway: i64,
    /// Accepted for compatibility; claims are never logged.
    pub(crate) verbose_oidc_logging: bool,
    pub(crate) token: TokenParams,
}

impl Default for RoleRecord {
    fn default() -> Self {
        Self {
            version: RECORD_VERSION,
            role_type: "jwt".into(),
            user_claim: "sub".into(),
            user_claim_json_pointer: false,
            bound_audiences: Vec::new(),
            bound_subject: String::new(),
            bound_claims: BTreeMap::new(),
            bound_claims_type: "string".into(),
            claim_mappings: BTreeMap::new(),
            groups_claim: String::new(),
            clock_skew_leeway: 0,
            expiration_leeway: 0,
            not_before_leeway: 0,
            verbose_oidc_logging: false,
            token: TokenParams::default(),
        }
    }
}

impl RoleRecord {
    pub(crate) fn leeways(&self) -> Leeways {
        Leeways {
            clock_skew: self.clock_skew_leeway,
            expiration: self.expiration_leeway,
            not_before: self.not_before_leeway,
        }
    }

    pub(crate) fn glob(&self) -> bool {
        self.bound_claims_type == "glob"
    }
}

/// Storage key of a role; a name that is not a safe key segment is a 400.
pub(crate) fn role_key(name: &str) -> Result<String, EngineError> {
    let key = format!("role/{name}");
    validate_key(&key).map_err(|_| EngineError::bad_request("invalid role name"))?;
    Ok(key)
}

/// Reads a role, `None` when there is none.
pub(crate) async fn load(
    storage: &StorageView,
    name: &str,
) -> Result<Option<RoleRecord>, EngineError> {
    Ok(storage.get_json(&role_key(name)?).await?)
}

fn bad(msg: impl Into<String>) -> EngineError {
    EngineError::bad_request(msg)
}

/// A string field with Vault's rules; names and claims lose stray whitespace.
fn string(field: &str, v: &Value) -> Result<String, EngineError> {
    let s = input::string_of(v).map_err(|e| e.at(field))?;
    Ok(s.trim().to_string())
}

fn boolean(field: &str, v: &Value) -> Result<bool, EngineError> {
    Ok(input::decode_value(v).map_err(|e| e.at(field))?)
}

/// A map given as a JSON object or as a JSON-encoded object (the CLI's `key=@file` form).
fn object(field: &str, v: &Value) -> Result<JsonMap, EngineError> {
    match v {
        Value::Null => Ok(JsonMap::new()),
        Value::Object(m) => Ok(m.clone()),
        Value::String(s) if s.trim().is_empty() => Ok(JsonMap::new()),
        Value::String(s) => match serde_json::from_str(s) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(bad(format!("invalid {field}: expected a map"))),
        },
        _ => Err(bad(format!("invalid {field}: expected a map"))),
    }
}

/// A leeway in seconds: a number or a duration string; any negative value means none (-1).
fn leeway(field: &str, v: &Value) -> Result<i64, EngineError> {
    let err = || {
        bad(format!(
            "invalid {field}: expected seconds or a duration such as \"90s\""
        ))
    };
    let secs = match v {
        Value::Null => 0,
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .ok_or_else(err)?,
        Value::String(s) => match s.trim().parse::<i64>() {
            Ok(n) => n,
            Err(_) => {
                let d = parse_duration(s.trim()).map_err(|_| err())?;
                i64::try_from(d.as_secs()).map_err(|_| err())?
            }
        },
        _ => return Err(err()),
    };
    Ok(secs.max(-1))
}

fn bound_claims(v: &Value) -> Result<BTreeMap<String, Value>, EngineError> {
    let mut out = BTreeMap::new();
    for (claim, expected) in object("bound_claims", v)? {
        if !claims::valid_spec(&claim) {
            return Err(bad(format!(
                "invalid bound_claims: {claim:?} is not a claim name or JSON pointer"
            )));
        }
        let ok = match &expected {
            Value::Array(items) => {
                !items.is_empty() && items.iter().all(|i| claims::scalar_text(i).is_some())
            }
            other => claims::scalar_text(other).is_some(),
        };
        if !ok {
            return Err(bad(format!(
                "invalid bound_claims: the value for {claim:?} must be a string, number, \
                 boolean or a non-empty list of them"
            )));
        }
        out.insert(claim, expected);
    }
    Ok(out)
}

/// `claim_mappings` as a map, a JSON-encoded map, or `claim=key` pairs.
fn claim_mappings(v: &Value) -> Result<BTreeMap<String, String>, EngineError> {
    let pairs: Vec<(String, Value)> = match v {
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .and_then(|s| s.split_once('='))
                    .map(|(k, v)| (k.trim().to_string(), Value::String(v.trim().to_string())))
                    .ok_or_else(|| bad("invalid claim_mappings: list items must be claim=key"))
            })
            .collect::<Result<_, _>>()?,
        other => object("claim_mappings", other)?.into_iter().collect(),
    };
    let mut out = BTreeMap::new();
    for (claim, key) in pairs {
        let key = match key {
            Value::String(s) if !s.trim().is_empty() => s.trim().to_string(),
            _ => {
                return Err(bad(format!(
                "invalid claim_mappings: the metadata key for {claim:?} must be a non-empty string"
            )))
            }
        };
        if !claims::valid_spec(&claim) {
            return Err(bad(format!(
                "invalid claim_mappings: {claim:?} is not a claim name or JSON pointer"
            )));
        }
        if RESERVED_METADATA.contains(&key.as_str()) {
            return Err(bad(format!(
                "metadata key {key:?} is reserved and may not be a mapping destination"
            )));
        }
        if out.values().any(|k| k == &key) {
            return Err(bad(format!(
                "multiple keys are mapped to metadata key {key:?}"
            )));
        }
        out.insert(claim, key);
    }
    Ok(out)
}

/// Applies the body's fields to `role`; answers the warnings.
fn apply(role: &mut RoleRecord, body: &JsonMap) -> Result<Vec<String>, EngineError> {
    let mut ignored: Vec<&str> = Vec::new();
    // `null` is "not given": the field keeps its value.
    for (field, v) in body.iter().filter(|(_, v)| !v.is_null()) {
        match field.as_str() {
            "role_type" => match string(field, v)?.as_str() {
                "" | "jwt" => role.role_type = "jwt".into(),
                "oidc" => {
                    return Err(bad(
                        "role_type \"oidc\" is not supported: the OIDC browser flow is not \
                         available; use role_type \"jwt\" and log in with a JWT",
                    ))
                }
                _ => return Err(bad("invalid role_type: expected \"jwt\"")),
            },
            "user_claim" => role.user_claim = string(field, v)?,
            "user_claim_json_pointer" => role.user_claim_json_pointer = boolean(field, v)?,
            "bound_audiences" => {
                role.bound_audiences = input::string_list_of(v).map_err(|e| e.at(field))?;
            }
            "bound_subject" => role.bound_subject = string(field, v)?,
            "bound_claims" => role.bound_claims = bound_claims(v)?,
            "bound_claims_type" => match string(field, v)?.as_str() {
                "" | "string" => role.bound_claims_type = "string".into(),
                "glob" => role.bound_claims_type = "glob".into(),
                _ => {
                    return Err(bad(
                        "invalid bound_claims_type: expected \"string\" or \"glob\"",
                    ))
                }
            },
            "claim_mappings" => role.claim_mappings = claim_mappings(v)?,
            "groups_claim" => role.groups_claim = string(field, v)?,
            "clock_skew_leeway" => role.clock_skew_leeway = leeway(field, v)?,
            "expiration_leeway" => role.expiration_leeway = leeway(field, v)?,
            "not_before_leeway" => role.not_before_leeway = leeway(field, v)?,
            "verbose_oidc_logging" => role.verbose_oidc_logging = boolean(field, v)?,
            f if OIDC_ONLY.contains(&f) => {
                let default = match f {
                    "callback_mode" => v == &json!("client"),
                    "oidc_disable_confirmation" => input::bool_of(v) == Some(false),
                    _ => false,
                };
                if !default && v != &json!([]) && v != &json!("") && v != &json!(0) {
                    ignored.push(f);
                }
            }
            // OpenBao's templating of token_policies with claims, which SecretHub does not
            // do: refused rather than ignored, so no role gets other policies than intended.
            "token_policies_template_claims" => {
                if boolean(field, v)? {
                    return Err(bad(
                        "token_policies_template_claims is not supported: token_policies are \
                         used as written",
                    ));
                }
            }
            f if FIELDS.contains(&f) || TOKEN_FIELDS.contains(&f) => {}
            f => ignored.push(f),
        }
    }
    role.token.update_from(body)?;
    let mut warnings = Vec::new();
    if !ignored.is_empty() {
        warnings.push(format!(
            "Endpoint ignored these unrecognized parameters: [{}]",
            ignored.join(" ")
        ));
    }
    Ok(warnings)
}

fn validate(role: &RoleRecord) -> Result<(), EngineError> {
    if role.user_claim.is_empty() {
        return Err(bad("a user claim must be defined on the role"));
    }
    if role.user_claim_json_pointer && !claims::valid_spec(&role.user_claim) {
        return Err(bad("invalid user_claim: not a JSON pointer"));
    }
    if !role.groups_claim.is_empty() && !claims::valid_spec(&role.groups_claim) {
        return Err(bad(
            "invalid groups_claim: not a claim name or JSON pointer",
        ));
    }
    if !role.groups_claim.is_empty() && role.claim_mappings.values().any(|k| k == "groups") {
        return Err(bad(
            "metadata key \"groups\" holds the groups_claim values and may not be a mapping \
             destination",
        ));
    }
    if role.glob() {
        for (claim, v) in &role.bound_claims {
            let strings = match v {
                Value::Array(items) => items.iter().all(Value::is_string),
                other => other.is_string(),
            };
            if !strings {
                return Err(bad(format!(
                    "invalid bound_claims: glob values for {claim:?} must be strings"
                )));
            }
        }
    }
    if role.bound_audiences.is_empty()
        && role.bound_subject.is_empty()
        && role.bound_claims.is_empty()
        && role.token.token_bound_cidrs.is_empty()
    {
        return Err(bad(
            "must have at least one bound constraint when creating/updating a role \
             (bound_audiences, bound_subject, bound_claims or token_bound_cidrs)",
        ));
    }
    Ok(())
}

pub(crate) async fn write(req: &Request, name: &str) -> Result<Response, EngineError> {
    let key = role_key(name)?;
    let mut role: RoleRecord = req.storage.get_json(&key).await?.unwrap_or_default();
    let warnings = apply(&mut role, &req.body)?;
    validate(&role)?;
    role.version = RECORD_VERSION;
    req.storage.put_json(&key, &role).await?;
    Ok(Response {
        warnings,
        ..Response::default()
    })
}

/// `null` for an empty list or map, as Vault answers for fields never set.
fn or_null<T: Serialize>(v: &T, empty: bool) -> Value {
    if empty {
        Value::Null
    } else {
        serde_json::to_value(v).unwrap_or(Value::Null)
    }
}

pub(crate) async fn read(req: &Request, name: &str) -> Result<Response, EngineError> {
    let r = load(&req.storage, name)
        .await?
        .ok_or(EngineError::NotFound)?;
    let mut data = JsonMap::new();
    let fields = [
        ("role_type", json!(r.role_type)),
        ("user_claim", json!(r.user_claim)),
        ("user_claim_json_pointer", json!(r.user_claim_json_pointer)),
        (
            "bound_audiences",
            or_null(&r.bound_audiences, r.bound_audiences.is_empty()),
        ),
        ("bound_subject", json!(r.bound_subject)),
        (
            "bound_claims",
            or_null(&r.bound_claims, r.bound_claims.is_empty()),
        ),
        ("bound_claims_type", json!(r.bound_claims_type)),
        (
            "claim_mappings",
            or_null(&r.claim_mappings, r.claim_mappings.is_empty()),
        ),
        ("groups_claim", json!(r.groups_claim)),
        ("clock_skew_leeway", json!(r.clock_skew_leeway)),
        ("expiration_leeway", json!(r.expiration_leeway)),
        ("not_before_leeway", json!(r.not_before_leeway)),
        ("verbose_oidc_logging", json!(r.verbose_oidc_logging)),
        ("allowed_redirect_uris", Value::Null),
        ("oidc_scopes", Value::Null),
        ("max_age", json!(0)),
        ("callback_mode", json!("client")),
        ("oauth2_metadata", Value::Null),
        ("oidc_disable_confirmation", json!(false)),
        ("token_policies_template_claims", json!(false)),
    ];
    for (k, v) in fields {
        data.insert(k.into(), v);
    }
    r.token.write_to(&mut data);
    Ok(Response::data(data))
}

pub(crate) async fn delete(req: &Request, name: &str) -> Result<Response, EngineError> {
    req.storage.delete(&role_key(name)?).await?;
    Ok(Response::empty())
}

pub(crate) async fn list(req: &Request) -> Result<Response, EngineError> {
    Response::list(list_children(&req.storage, "role/").await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply_json(role: &mut RoleRecord, v: Value) -> Result<Vec<String>, String> {
        let Value::Object(body) = v else {
            unreachable!()
        };
        let w = apply(role, &body).map_err(|e| e.to_string())?;
        validate(role).map_err(|e| e.to_string())?;
        Ok(w)
    }

    #[test]
    fn defaults_and_bindings() {
        let mut r = RoleRecord::default();
        let err = apply_json(&mut r, json!({"token_policies": "ci"})).unwrap_err();
        assert!(
            err.starts_with("must have at least one bound constraint"),
            "{err}"
        );
        let mut r = RoleRecord::default();
        apply_json(&mut r, json!({"bound_audiences": "vault", "ttl": "1h"})).unwrap();
        assert_eq!(
            (r.user_claim.as_str(), r.role_type.as_str()),
            ("sub", "jwt")
        );
        assert_eq!(r.token.token_ttl, 3600);
        let err = apply_json(&mut r, json!({"role_type": "oidc"})).unwrap_err();
        assert!(
            err.starts_with("role_type \"oidc\" is not supported"),
            "{err}"
        );
        let err = apply_json(&mut r, json!({"user_claim": ""})).unwrap_err();
        assert_eq!(err, "a user claim must be defined on the role");
    }

    #[test]
    fn claims_fields() {
        let mut r = RoleRecord::default();
        apply_json(
            &mut r,
            json!({
                "bound_claims": "{\"ref\": [\"refs/heads/main\"], \"/a/b\": true}",
                "claim_mappings": ["repository=repo", "ref=ref"],
                "clock_skew_leeway": "-1", "expiration_leeway": "2m", "not_before_leeway": 30,
            }),
        )
        .unwrap();
        assert_eq!(r.bound_claims.len(), 2);
        assert_eq!(r.claim_mappings["repository"], "repo");
        assert_eq!(
            (
                r.clock_skew_leeway,
                r.expiration_leeway,
                r.not_before_leeway
            ),
            (-1, 120, 30)
        );
        let err = apply_json(&mut r, json!({"bound_claims_type": "glob"})).unwrap_err();
        assert_eq!(
            err,
            "invalid bound_claims: glob values for \"/a/b\" must be strings"
        );
        let mut r = RoleRecord::default();
        let err = apply_json(
            &mut r,
            json!({"bound_subject": "x", "claim_mappings": {"r": "role"}}),
        )
        .unwrap_err();
        assert!(err.contains("reserved"), "{err}");
        let err = apply_json(&mut r, json!({"bound_claims": {"ref": {"nested": 1}}})).unwrap_err();
        assert!(err.starts_with("invalid bound_claims"), "{err}");
        let err = apply_json(&mut r, json!({"bound_claims": {"ref": []}})).unwrap_err();
        assert!(err.starts_with("invalid bound_claims"), "{err}");
        let w = apply_json(
            &mut r,
            json!({"bound_subject": "x", "allowed_redirect_uris": ["http://l"]}),
        )
        .unwrap();
        assert_eq!(
            w,
            ["Endpoint ignored these unrecognized parameters: [allowed_redirect_uris]"]
        );
    }
}
