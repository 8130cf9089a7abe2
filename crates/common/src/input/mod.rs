//! Request input decoded once, the way Vault decodes it, for every mount alike: core's `sys/`
//! and token endpoints, every engine and every auth method.
//!
//! Vault decodes bodies and queries with Go's rules: JSON `null` means "not given", and its
//! weak typing turns `"3600"` into a number, `3600` into a string, `"true"` into a boolean,
//! `"a,b"` into a list and `"k=v"` into a map (see `weak.rs` for the exact table). Typed input
//! goes through [`decode`]; handlers that read single fields use [`field`] and
//! [`duration_field`]. Both answer the same way for the same value, and their errors name the
//! field, never its value.

mod weak;

use std::fmt;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize as _;
use serde_json::Value;

use crate::{parse_duration, ErrorKind, JsonMap};

use weak::Weak;

/// The longest duration a request may name: Go's `time.Duration` limit (about 292 years), so
/// that any instant computed from it stays representable.
pub const MAX_DURATION: Duration = Duration::from_secs(9_223_372_036);

/// A request value that cannot be decoded: which field (`config.default_lease_ttl`,
/// `versions[1]`) and why, never the value itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    field: String,
    message: String,
}

impl InputError {
    /// An error not yet tied to a field.
    pub fn new(message: impl Into<String>) -> Self {
        InputError {
            field: String::new(),
            message: message.into(),
        }
    }

    /// The same error, inside `segment` (a field name or `[index]`).
    pub fn at(mut self, segment: &str) -> Self {
        self.field = match (self.field.is_empty(), self.field.starts_with('[')) {
            (true, _) => segment.to_string(),
            (false, true) => format!("{segment}{}", self.field),
            (false, false) => format!("{segment}.{}", self.field),
        };
        self
    }

    /// The field path, empty for the body as a whole.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What was wrong, without the field.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Always [`ErrorKind::BadRequest`].
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::BadRequest
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "invalid {}: {}", self.field, self.message)
        }
    }
}

impl std::error::Error for InputError {}

/// Decodes a whole body (or query) into `T` with Vault's rules.
pub fn decode<T: DeserializeOwned>(body: &JsonMap) -> Result<T, InputError> {
    decode_value(&Value::Object(body.clone()))
}

/// Decodes one JSON value into `T` with Vault's rules.
pub fn decode_value<T: DeserializeOwned>(value: &Value) -> Result<T, InputError> {
    T::deserialize(Weak(value))
}

/// The field's value unless it is absent or `null`.
pub fn given<'a>(body: &'a JsonMap, name: &str) -> Option<&'a Value> {
    body.get(name).filter(|v| !v.is_null())
}

/// The first of `names` that is given (a field and its older aliases), with its name.
pub fn first_given<'a>(
    body: &'a JsonMap,
    names: &[&'static str],
) -> Option<(&'static str, &'a Value)> {
    names
        .iter()
        .find_map(|name| given(body, name).map(|v| (*name, v)))
}

/// One field decoded with Vault's rules: `None` when absent or `null`.
pub fn field<T: DeserializeOwned>(body: &JsonMap, name: &str) -> Result<Option<T>, InputError> {
    given(body, name)
        .map(|v| decode_value(v).map_err(|e| e.at(name)))
        .transpose()
}

/// A duration field (`3600`, `"3600"`, `"1h"`): `None` when absent or `null`.
pub fn duration_field(body: &JsonMap, name: &str) -> Result<Option<Duration>, InputError> {
    given(body, name)
        .map(|v| duration_of(v).map_err(|e| e.at(name)))
        .transpose()
}

/// A duration given as seconds (a number or a numeric string) or in Vault's syntax (`"1h"`);
/// `null` and `""` are zero. Negative, non-finite and over-long values are errors.
pub fn duration_of(value: &Value) -> Result<Duration, InputError> {
    let shape = || InputError::new("expected a duration such as \"1h\" or a number of seconds");
    let out_of_range = || InputError::new("duration out of range");
    let d = match value {
        Value::Null => Duration::ZERO,
        Value::Number(n) => match (n.as_u64(), n.as_f64()) {
            (Some(secs), _) => Duration::from_secs(secs),
            (None, Some(f)) if f < 0.0 => {
                return Err(InputError::new("duration cannot be negative"))
            }
            (None, Some(f)) => Duration::try_from_secs_f64(f).map_err(|_| out_of_range())?,
            (None, None) => return Err(shape()),
        },
        Value::String(s) => {
            let s = s.trim();
            if s.starts_with('-') {
                return Err(InputError::new("duration cannot be negative"));
            }
            // The parse error quotes the text (cut short): a duration is no secret, and the
            // text helps the operator more than "expected a duration" would.
            parse_duration(s).map_err(|e| InputError::new(e.to_string()))?
        }
        _ => return Err(shape()),
    };
    if d > MAX_DURATION {
        return Err(out_of_range());
    }
    Ok(d)
}

/// `value` as a boolean with Vault's rules (`true`, `"true"`, `"1"`, `1`), `None` if it is not
/// one.
pub fn bool_of(value: &Value) -> Option<bool> {
    weak::bool_of(value).ok()
}

/// `value` as a string with Vault's rules (numbers and booleans stringified).
pub fn string_of(value: &Value) -> Result<String, InputError> {
    weak::string_of(value)
}

/// `value` as a list of strings with Vault's rules (an array, a comma-separated string or a
/// single value), items trimmed and blanks dropped.
pub fn string_list_of(value: &Value) -> Result<Vec<String>, InputError> {
    let mut items = Vec::<String>::deserialize(Weak(value))?;
    for item in &mut items {
        let trimmed = item.trim();
        if trimmed.len() != item.len() {
            *item = trimmed.to_string();
        }
    }
    items.retain(|item| !item.is_empty());
    Ok(items)
}

#[cfg(test)]
mod tests;
