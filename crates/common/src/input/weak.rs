//! A serde `Deserializer` over a JSON value that decodes the way Vault's Go code does
//! (`mapstructure` with weakly typed input, under Go's `encoding/json`):
//! - `null` is "not given": a struct field whose value is `null` counts as absent (its default
//!   applies, or it is reported missing), an `Option` is `None`, and a scalar is its zero value;
//! - booleans from `true`, `"true"`, `"1"`, `"t"`, `""` (false), or a number (non-zero is true);
//! - integers from numbers (whole floats included) or numeric strings (`""` is 0), and
//!   booleans (1/0); floats likewise;
//! - strings from strings, numbers (`3600` → `"3600"`) and booleans (`"1"`/`"0"`, as Go does);
//! - lists from arrays, comma-separated strings (items trimmed, blanks dropped) or a single
//!   value;
//! - maps from objects, `k=v,k2=v2` strings, JSON objects in a string, or arrays of `k=v`.
//!
//! Errors name the field (`config.default_lease_ttl`) and never the value: values may be
//! secrets.

use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};
use serde_json::Value;

use super::InputError;

/// A JSON value decoded with Vault's weak typing.
pub(super) struct Weak<'a>(pub(super) &'a Value);

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn expected(what: &str, got: &Value) -> InputError {
    InputError::new(format!("expected {what}, got {}", kind(got)))
}

/// Go's `strconv.ParseBool`, plus `""` as false (mapstructure's weak rule).
pub(super) fn bool_of(v: &Value) -> Result<bool, InputError> {
    match v {
        Value::Null => Ok(false),
        Value::Bool(b) => Ok(*b),
        Value::Number(n) => Ok(n.as_f64().is_some_and(|f| f != 0.0)),
        Value::String(s) => match s.as_str() {
            "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
            "" | "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
            _ => Err(InputError::new("expected a boolean")),
        },
        other => Err(expected("a boolean", other)),
    }
}

/// A whole number from a number, a numeric string or a boolean.
fn int_of(v: &Value) -> Result<i128, InputError> {
    let not_whole = || InputError::new("expected an integer");
    match v {
        Value::Null => Ok(0),
        Value::Bool(b) => Ok(i128::from(*b)),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ok(i128::from(i))
            } else if let Some(u) = n.as_u64() {
                Ok(i128::from(u))
            } else {
                let f = n.as_f64().ok_or_else(not_whole)?;
                // Whole floats only, and within i64's range, as Go's json.Number.Int64.
                if f.fract() == 0.0 && f.abs() < 9.2e18 {
                    Ok(f as i128)
                } else {
                    Err(not_whole())
                }
            }
        }
        Value::String(s) => {
            let s = s.trim();
            if s.is_empty() {
                return Ok(0);
            }
            s.parse::<i128>().map_err(|_| not_whole())
        }
        other => Err(expected("an integer", other)),
    }
}

fn float_of(v: &Value) -> Result<f64, InputError> {
    match v {
        Value::Null => Ok(0.0),
        Value::Bool(b) => Ok(f64::from(u8::from(*b))),
        Value::Number(n) => n
            .as_f64()
            .ok_or_else(|| InputError::new("expected a number")),
        Value::String(s) if s.trim().is_empty() => Ok(0.0),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .ok_or_else(|| InputError::new("expected a number")),
        other => Err(expected("a number", other)),
    }
}

/// A string from a string, a number or a boolean (Go writes booleans as `"1"`/`"0"`).
pub(super) fn string_of(v: &Value) -> Result<String, InputError> {
    match v {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(if *b { "1" } else { "0" }.to_string()),
        other => Err(expected("a string", other)),
    }
}

/// Splits `"a, b,c"` into trimmed, non-empty items.
pub(super) fn split_list(s: &str) -> Vec<Value> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| Value::String(p.to_string()))
        .collect()
}

/// `k=v,k2=v2` (or a JSON object in a string) as map entries.
fn pairs_of_string(s: &str) -> Result<serde_json::Map<String, Value>, InputError> {
    let t = s.trim();
    if t.starts_with('{') {
        return match serde_json::from_str::<Value>(t) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(InputError::new("expected a JSON object or k=v pairs")),
        };
    }
    t.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(pair)
        .collect()
}

fn pair(item: &str) -> Result<(String, Value), InputError> {
    match item.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => {
            Ok((k.trim().to_string(), Value::String(v.trim().to_string())))
        }
        _ => Err(InputError::new("expected k=v pairs")),
    }
}

macro_rules! int_method {
    ($method:ident, $visit:ident, $ty:ty) => {
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, InputError> {
            let n = int_of(self.0)?;
            let n = <$ty>::try_from(n).map_err(|_| {
                if n < 0 {
                    InputError::new("expected a non-negative integer")
                } else {
                    InputError::new("integer out of range")
                }
            })?;
            visitor.$visit(n)
        }
    };
}

impl<'de> Deserializer<'de> for Weak<'_> {
    type Error = InputError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, InputError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(u), _, _) => visitor.visit_u64(u),
                (_, Some(i), _) => visitor.visit_i64(i),
                (_, _, Some(f)) => visitor.visit_f64(f),
                _ => Err(InputError::new("unsupported number")),
            },
            Value::String(s) => visitor.visit_str(s),
            Value::Array(items) => visitor.visit_seq(Items::new(items.iter())),
            Value::Object(m) => visitor.visit_map(Entries::new(m.iter(), false)),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, InputError> {
        visitor.visit_bool(bool_of(self.0)?)
    }

    int_method!(deserialize_i8, visit_i8, i8);
    int_method!(deserialize_i16, visit_i16, i16);
    int_method!(deserialize_i32, visit_i32, i32);
    int_method!(deserialize_i64, visit_i64, i64);
    int_method!(deserialize_i128, visit_i128, i128);
    int_method!(deserialize_u8, visit_u8, u8);
    int_method!(deserialize_u16, visit_u16, u16);
    int_method!(deserialize_u32, visit_u32, u32);
    int_method!(deserialize_u64, visit_u64, u64);
    int_method!(deserialize_u128, visit_u128, u128);

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, InputError> {
        visitor.visit_f32(float_of(self.0)? as f32)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, InputError> {
        visitor.visit_f64(float_of(self.0)?)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, InputError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, InputError> {
        match self.0 {
            Value::String(s) => visitor.visit_str(s),
            other => visitor.visit_string(string_of(other)?),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, InputError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, InputError> {
        visitor.visit_byte_buf(string_of(self.0)?.into_bytes())
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, InputError> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, InputError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, InputError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            other => Err(expected("null", other)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, InputError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, InputError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, InputError> {
        match self.0 {
            Value::Array(items) => visitor.visit_seq(Items::new(items.iter())),
            Value::Null => visitor.visit_seq(Items::new([].iter())),
            Value::String(s) => {
                let items = split_list(s);
                visitor.visit_seq(Items::new(items.iter()))
            }
            Value::Object(_) => Err(expected("a list or a comma-separated string", self.0)),
            single => visitor.visit_seq(Items::new(std::slice::from_ref(single).iter())),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, InputError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, InputError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, InputError> {
        let owned: serde_json::Map<String, Value> = match self.0 {
            Value::Object(m) => return visitor.visit_map(Entries::new(m.iter(), false)),
            Value::Null => serde_json::Map::new(),
            Value::String(s) => pairs_of_string(s)?,
            Value::Array(items) => items
                .iter()
                .map(|item| match item {
                    Value::String(s) => pair(s),
                    other => Err(expected("k=v strings", other)),
                })
                .collect::<Result<_, _>>()?,
            other => return Err(expected("a JSON object or k=v pairs", other)),
        };
        visitor.visit_map(Entries::new(owned.iter(), false))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, InputError> {
        match self.0 {
            // A null struct is a struct with nothing given: every field takes its default.
            Value::Null => {
                let nothing = serde_json::Map::new();
                visitor.visit_map(Entries::new(nothing.iter(), true))
            }
            Value::Object(m) => visitor.visit_map(Entries::new(m.iter(), true)),
            other => Err(expected("a JSON object", other)),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, InputError> {
        // Enums in request bodies are plain strings (`"service"`); serde_json's own rules do.
        self.0
            .clone()
            .deserialize_enum(name, variants, visitor)
            .map_err(|e| InputError::new(e.to_string()))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, InputError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, InputError> {
        visitor.visit_unit()
    }
}

/// The items of a list, each decoded weakly; errors name the index.
struct Items<'a> {
    iter: std::slice::Iter<'a, Value>,
    index: usize,
}

impl<'a> Items<'a> {
    fn new(iter: std::slice::Iter<'a, Value>) -> Self {
        Items { iter, index: 0 }
    }
}

impl<'de> SeqAccess<'de> for Items<'_> {
    type Error = InputError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, InputError> {
        let Some(v) = self.iter.next() else {
            return Ok(None);
        };
        let index = self.index;
        self.index += 1;
        seed.deserialize(Weak(v))
            .map(Some)
            .map_err(|e| e.at(&format!("[{index}]")))
    }
}

/// The entries of an object; for structs, `null` values are skipped (absent).
struct Entries<'a> {
    iter: serde_json::map::Iter<'a>,
    skip_nulls: bool,
    current: Option<(&'a String, &'a Value)>,
}

impl<'a> Entries<'a> {
    fn new(iter: serde_json::map::Iter<'a>, skip_nulls: bool) -> Self {
        Entries {
            iter,
            skip_nulls,
            current: None,
        }
    }
}

impl<'de> MapAccess<'de> for Entries<'_> {
    type Error = InputError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, InputError> {
        loop {
            let Some((k, v)) = self.iter.next() else {
                return Ok(None);
            };
            if self.skip_nulls && v.is_null() {
                continue;
            }
            self.current = Some((k, v));
            let key: de::value::StrDeserializer<'_, InputError> = k.as_str().into_deserializer();
            return seed.deserialize(key).map(Some);
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<S::Value, InputError> {
        let (k, v) = self
            .current
            .take()
            .ok_or_else(|| InputError::new("value requested before its key"))?;
        seed.deserialize(Weak(v)).map_err(|e| e.at(k))
    }
}

impl de::Error for InputError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        InputError::new(msg.to_string())
    }

    // serde's default messages quote the value (`invalid type: string "s3cret"`); ours name
    // only its kind, since request values may be secrets.
    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        InputError::new(format!("expected {exp}, got {}", unexpected_kind(&unexp)))
    }

    fn invalid_value(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        InputError::new(format!(
            "invalid {}, expected {exp}",
            unexpected_kind(&unexp)
        ))
    }
}

fn unexpected_kind(u: &de::Unexpected<'_>) -> &'static str {
    use de::Unexpected as U;
    match u {
        U::Bool(_) => "a boolean",
        U::Unsigned(_) | U::Signed(_) => "an integer",
        U::Float(_) => "a number",
        U::Char(_) | U::Str(_) => "a string",
        U::Bytes(_) => "bytes",
        U::Unit => "null",
        U::Option => "an optional value",
        U::NewtypeStruct | U::NewtypeVariant => "a value",
        U::Seq => "a list",
        U::Map => "an object",
        U::Enum | U::UnitVariant | U::TupleVariant | U::StructVariant => "a variant",
        U::Other(_) => "a value",
    }
}
