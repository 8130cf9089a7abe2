//! Readers of single agent-config values: Vault's loose booleans and counts, durations,
//! paths (anchored at the config file's directory), URLs and Unix permission bits. Each error
//! names the stanza, key and line, and never quotes a value that could be a secret.

use std::path::{Path, PathBuf};
use std::time::Duration;

use secrethub_common::format_duration;
use secrethub_common::serde_helpers::value_to_bool;
use serde_json::Value;

use super::raw::RawMode;
use super::types::DEFAULT_KV_MOUNT;
use crate::error::ConfigError;
use crate::raw::Spanned;
use crate::server_config::{duration, invalid};
use crate::MAX_REVOCATION_DELAY;

/// The longest delay any agent setting accepts (365 days): timers far beyond it overflow.
pub(super) const MAX_DELAY: Duration = MAX_REVOCATION_DELAY;

/// The largest permission bits accepted: setuid, setgid and sticky bits have no business on
/// a token sink or a rendered template.
const MAX_MODE: u32 = 0o777;

/// A boolean as Vault takes it: `true`, `"true"`, `1`; `None` when not given.
pub(super) fn boolean(
    raw: &Option<Spanned<Value>>,
    stanza: Option<&str>,
    key: &str,
) -> Result<Option<bool>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    if raw.value.is_null() {
        return Ok(None);
    }
    value_to_bool(&raw.value)
        .map(Some)
        .ok_or_else(|| invalid(raw.line, stanza, key, "must be true or false".to_owned()))
}

/// A `default_kv_mount`: absent is [`DEFAULT_KV_MOUNT`], `""` turns the fallback off, else a
/// mount path (`secret`, `kv/team`; surrounding slashes dropped) without spaces or `#|}`.
pub(super) fn kv_mount(
    raw: Option<Spanned<String>>,
    stanza: Option<&str>,
) -> Result<Option<String>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(Some(DEFAULT_KV_MOUNT.to_owned()));
    };
    let mount = raw.value.trim().trim_matches('/');
    if mount.is_empty() {
        return Ok(None);
    }
    let bad = |c: char| c.is_whitespace() || matches!(c, '#' | '|' | '}' | ':');
    if mount.split('/').any(str::is_empty) || mount.contains(bad) {
        let reason = "must be a mount path such as \"secret\" (or \"\" for none)".to_owned();
        return Err(invalid(raw.line, stanza, "default_kv_mount", reason));
    }
    Ok(Some(mount.to_owned()))
}

/// An integer from `min` to `max`, given as a number or a numeric string.
pub(super) fn integer(
    raw: &Option<Spanned<Value>>,
    stanza: Option<&str>,
    key: &str,
    min: i64,
    max: i64,
) -> Result<Option<i64>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let n = match &raw.value {
        Value::Null => return Ok(None),
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
        _ => {
            let reason = if max == i64::from(u32::MAX) && min == 1 {
                "must be a positive integer".to_owned()
            } else {
                format!("must be an integer from {min} to {max}")
            };
            Err(invalid(raw.line, stanza, key, reason))
        }
    }
}

/// A delay as seconds or in Vault's syntax (`"5m"`), at most [`MAX_DELAY`]; zero is refused
/// unless `zero_ok`, for settings where it would mean a tight loop.
pub(super) fn delay(
    raw: &Option<Spanned<Value>>,
    stanza: Option<&str>,
    key: &str,
    zero_ok: bool,
) -> Result<Option<Duration>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let Some(d) = duration(raw, stanza, key)? else {
        return Ok(None);
    };
    let reason = if d.is_zero() && !zero_ok {
        "must be greater than zero".to_owned()
    } else if d > MAX_DELAY {
        format!("must be at most {}", format_duration(MAX_DELAY))
    } else {
        return Ok(Some(d));
    };
    Err(invalid(raw.line, stanza, key, reason))
}

/// Non-blank text, as written.
pub(super) fn text(
    raw: Spanned<String>,
    stanza: Option<&str>,
    key: &str,
) -> Result<String, ConfigError> {
    non_blank(&raw, stanza, key)?;
    Ok(raw.value)
}

/// Refuses blank text, naming the key and its line.
fn non_blank(raw: &Spanned<String>, stanza: Option<&str>, key: &str) -> Result<(), ConfigError> {
    if raw.value.trim().is_empty() {
        return Err(invalid(
            raw.line,
            stanza,
            key,
            "must not be empty".to_owned(),
        ));
    }
    Ok(())
}

/// A file path, relative ones anchored at `base_dir` (`join` keeps an absolute one as it is).
pub(super) fn path(
    raw: &Spanned<String>,
    base_dir: &Path,
    stanza: Option<&str>,
    key: &str,
) -> Result<PathBuf, ConfigError> {
    non_blank(raw, stanza, key)?;
    Ok(base_dir.join(&raw.value))
}

/// Like [`path`], for an optional key.
pub(super) fn opt_path(
    raw: &Option<Spanned<String>>,
    base_dir: &Path,
    stanza: Option<&str>,
    key: &str,
) -> Result<Option<PathBuf>, ConfigError> {
    raw.as_ref()
        .map(|raw| path(raw, base_dir, stanza, key))
        .transpose()
}

/// An `http` or `https` URL with a host, trimmed. The value is not quoted in the error: an
/// address may carry credentials.
pub(super) fn http_url(
    raw: &Spanned<String>,
    stanza: Option<&str>,
    key: &str,
    example: &str,
) -> Result<String, ConfigError> {
    let trimmed = raw.value.trim();
    let ok = url::Url::parse(trimmed).is_ok_and(|url| {
        matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty())
    });
    if ok {
        return Ok(trimmed.to_owned());
    }
    let reason = format!("must be an http or https URL such as {example}");
    Err(invalid(raw.line, stanza, key, reason))
}

/// Unix permission bits: a number is taken as written (`384`; `0600` arrives as text and is
/// octal, as in HCL 1), a string is octal (`"0640"`).
pub(super) fn mode(
    raw: &Option<Spanned<RawMode>>,
    stanza: Option<&str>,
    key: &str,
) -> Result<Option<u32>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let bits = match &raw.value.0 {
        Value::Null => return Ok(None),
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => {
            let s = s.trim();
            let digits = s.strip_prefix("0o").unwrap_or(s);
            if digits.is_empty() {
                None
            } else {
                u32::from_str_radix(digits, 8).ok()
            }
        }
        _ => None,
    };
    match bits {
        Some(bits) if bits <= MAX_MODE => Ok(Some(bits)),
        _ => {
            let reason = "must be permission bits such as 0600 or \"0640\" (octal, at most 0777)";
            Err(invalid(raw.line, stanza, key, reason.to_owned()))
        }
    }
}

/// The line of an optional value, when it is given.
pub(super) fn line_of<T>(raw: &Option<Spanned<T>>) -> Option<usize> {
    raw.as_ref().and_then(|r| r.line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode_of(value: Value) -> Result<Option<u32>, ConfigError> {
        mode(&Some(Spanned::new(RawMode(value))), None, "mode")
    }

    #[test]
    fn modes_are_octal_text_or_numbers() {
        assert_eq!(mode_of(Value::from("0600")).unwrap(), Some(0o600));
        assert_eq!(mode_of(Value::from("640")).unwrap(), Some(0o640));
        assert_eq!(mode_of(Value::from("0o755")).unwrap(), Some(0o755));
        assert_eq!(mode_of(Value::from(384)).unwrap(), Some(0o600));
        assert_eq!(mode_of(Value::Null).unwrap(), None);
        for bad in [
            Value::from("0800"),
            Value::from(""),
            Value::from("04755"),
            Value::from(-1),
            Value::from(1.5),
            Value::from(4096),
        ] {
            let err = mode_of(bad.clone()).expect_err("should be refused");
            assert_eq!(
                err.to_string(),
                "\"mode\": must be permission bits such as 0600 or \"0640\" (octal, at most 0777)",
                "{bad}"
            );
        }
    }

    #[test]
    fn urls_need_http_and_a_host() {
        let url = |s: &str| http_url(&Spanned::new(s.to_owned()), None, "address", "x");
        assert_eq!(
            url(" https://127.0.0.1:8200 ").unwrap(),
            "https://127.0.0.1:8200"
        );
        assert!(url("http://[::1]:8200").is_ok());
        for bad in ["127.0.0.1:8200", "ftp://h", "https://", "http://:80", ""] {
            assert!(url(bad).is_err(), "{bad}");
        }
    }
}
