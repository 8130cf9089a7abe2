//! Request fields of one operation (the body, or one item of `batch_input`), decoded with
//! Vault's rules, and base64 inputs decoded only after a size check.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use secrethub_common::{input, JsonMap};
use serde::de::DeserializeOwned;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::error::{Result, TransitError};

/// The longest base64 text one field may carry (16 MiB decoded; the HTTP body limit is
/// 32 MiB anyway).
pub(crate) const MAX_B64_LEN: usize = 16 * 1024 * 1024 / 3 * 4 + 4;

/// The most items a `batch_input` may hold.
pub(crate) const MAX_BATCH: usize = 1000;

/// Base64 (standard alphabet, padded, as Go's `StdEncoding`) decoded after a length check;
/// the error is Go's text, naming the offset, never the input.
pub(crate) fn decode_b64(text: &str) -> Result<Zeroizing<Vec<u8>>> {
    if text.len() > MAX_B64_LEN {
        return Err(TransitError::bad(format!(
            "input is too large: at most {MAX_B64_LEN} base64 characters"
        )));
    }
    B64.decode(text.as_bytes())
        .map(Zeroizing::new)
        .map_err(|e| {
            let at = match e {
                base64::DecodeError::InvalidByte(at, _) => at,
                base64::DecodeError::InvalidLastSymbol(at, _) => at,
                _ => text.len(),
            };
            TransitError::bad(format!("illegal base64 data at input byte {at}"))
        })
}

/// One operation's fields.
#[derive(Clone, Copy)]
pub(crate) struct Fields<'a>(pub(crate) &'a JsonMap);

impl Fields<'_> {
    pub(crate) fn get<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>> {
        Ok(input::field(self.0, name)?)
    }

    pub(crate) fn string(&self, name: &str) -> Result<Option<String>> {
        self.get::<String>(name)
    }

    pub(crate) fn bool(&self, name: &str) -> Result<bool> {
        Ok(self.get::<bool>(name)?.unwrap_or(false))
    }

    pub(crate) fn u32(&self, name: &str) -> Result<u32> {
        let v = self.get::<i64>(name)?.unwrap_or(0);
        u32::try_from(v)
            .map_err(|_| TransitError::bad(format!("{name} must be a non-negative version number")))
    }

    /// A base64 field, decoded (`None` when absent or empty).
    pub(crate) fn b64(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>> {
        match self.string(name)? {
            Some(s) if !s.is_empty() => decode_b64(&s).map(Some),
            _ => Ok(None),
        }
    }

    /// A required base64 field (Vault: `plaintext`, `input`), empty allowed.
    pub(crate) fn b64_required(&self, name: &str, missing: &str) -> Result<Zeroizing<Vec<u8>>> {
        match self.string(name)? {
            Some(s) => decode_b64(&s),
            None => Err(TransitError::bad(missing.to_string())),
        }
    }

    /// Vault's `reference`, echoed in batch results.
    pub(crate) fn reference(&self) -> Value {
        Value::from(self.string("reference").ok().flatten().unwrap_or_default())
    }
}

/// The items of `batch_input`, bounded; `None` when the body has none.
pub(crate) fn batch_items(body: &JsonMap) -> Result<Option<Vec<JsonMap>>> {
    let Some(value) = input::given(body, "batch_input") else {
        return Ok(None);
    };
    let Value::Array(items) = value else {
        return Err(TransitError::bad("batch_input must be a list"));
    };
    if items.len() > MAX_BATCH {
        return Err(TransitError::bad(format!(
            "batch_input holds {} items; at most {MAX_BATCH} are allowed",
            items.len()
        )));
    }
    if items.is_empty() {
        return Err(TransitError::bad("missing batch input to process"));
    }
    items
        .iter()
        .map(|v| match v {
            Value::Object(m) => Ok(m.clone()),
            _ => Err(TransitError::bad("batch_input items must be objects")),
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}
