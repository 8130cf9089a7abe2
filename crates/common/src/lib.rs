//! Shared vocabulary of every SecretHub crate: the error kinds the HTTP layer maps to status
//! codes, `Sensitive<T>` for values that must never be printed, Vault's loose input coercions
//! (durations such as `"1h"` or `3600`, comma-separated lists), small random/time helpers, and
//! `parse_guard`, the size and nesting bound every recursive parser's input passes first, and
//! `tls`, Vault's names of a listener's TLS versions and cipher suites.

mod cidr;
pub mod cron;
mod duration;
mod error_kind;
pub mod glob;
pub mod input;
pub mod parse_guard;
mod random;
mod sensitive;
pub mod serde_helpers;
mod time;
pub mod tls;

pub use cidr::{cidrs_allow, parse_cidrs, Cidr, CidrParseError};
pub use duration::{format_duration, parse_duration, DurationParseError};
pub use error_kind::ErrorKind;
pub use random::{fill_random, random_alnum, random_bytes, random_from, random_index, random_uuid};
pub use sensitive::Sensitive;
pub use time::{format_rfc3339, now_unix, now_unix_nanos, UnixTime};

/// A JSON object, the shape of every request body and response `data` in the Vault API.
pub type JsonMap = serde_json::Map<String, serde_json::Value>;
