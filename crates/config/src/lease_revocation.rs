//! The `lease_revocation { ... }` stanza: how the lease manager retries revocations that
//! fail (worker pool size, exponential backoff, the irrevocable state and the per-mount
//! circuit breaker), validated into a [`LeaseRevocationConfig`].
//!
//! Vault hard-codes these; we expose them because a dead upstream (a database that is gone)
//! is an operator's problem, and how hard to hammer it is an operator's choice.
//!
//! ```hcl
//! lease_revocation {
//!   workers           = 32
//!   base_delay        = "1s"
//!   max_delay         = "5m"
//!   max_attempts      = 8
//!   irrevocable_retry = "1h"
//!   breaker_threshold = 5
//!   breaker_cooldown  = "30s"
//! }
//! ```

use std::time::Duration;

use secrethub_common::format_duration;
use serde_json::Value;

use crate::error::{ConfigError, Problem};
use crate::raw::{RawLeaseRevocation, Spanned};
use crate::server_config::{duration, invalid};

const STANZA: &str = "lease_revocation";

/// The most revocation workers: each may hold an upstream connection, so a typo such as
/// `workers = 32000` is refused rather than obeyed.
pub const MAX_REVOCATION_WORKERS: usize = 1024;

/// The longest delay the stanza accepts (365 days). Timers and deadlines far beyond this
/// overflow (tokio's timer wheel reaches about two years), and no retry policy needs more.
pub const MAX_REVOCATION_DELAY: Duration = Duration::from_secs(365 * 86400);

/// How failed lease revocations are retried; `Default` is what applies without the stanza.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRevocationConfig {
    /// Revocations running at once, `1..=1024` (default 32).
    pub workers: usize,
    /// The first retry delay, doubled each attempt (default 1s); never above `max_delay`.
    pub base_delay: Duration,
    /// The cap between fast retries (default 5m).
    pub max_delay: Duration,
    /// Fast attempts before a lease becomes irrevocable, at least 1 (default 8).
    pub max_attempts: u32,
    /// How often an irrevocable lease is retried (default 1h).
    pub irrevocable_retry: Duration,
    /// Consecutive failures of one mount that pause its revocations, at least 1 (default 5).
    pub breaker_threshold: u32,
    /// How long that pause lasts (default 30s).
    pub breaker_cooldown: Duration,
}

impl Default for LeaseRevocationConfig {
    fn default() -> Self {
        Self {
            workers: 32,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(5 * 60),
            max_attempts: 8,
            irrevocable_retry: Duration::from_secs(3600),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(30),
        }
    }
}

/// Validates the stanza, if given; a key left out keeps its default.
pub(crate) fn lease_revocation(
    raw: Option<Spanned<RawLeaseRevocation>>,
) -> Result<LeaseRevocationConfig, ConfigError> {
    let defaults = LeaseRevocationConfig::default();
    let Some(Spanned { line, value: raw }) = raw else {
        return Ok(defaults);
    };
    let config = LeaseRevocationConfig {
        workers: count(&raw.workers, "workers", MAX_REVOCATION_WORKERS as u64)?
            .unwrap_or(defaults.workers),
        base_delay: delay(&raw.base_delay, "base_delay")?.unwrap_or(defaults.base_delay),
        max_delay: delay(&raw.max_delay, "max_delay")?.unwrap_or(defaults.max_delay),
        max_attempts: count(&raw.max_attempts, "max_attempts", u32::MAX.into())?
            .unwrap_or(defaults.max_attempts),
        irrevocable_retry: delay(&raw.irrevocable_retry, "irrevocable_retry")?
            .unwrap_or(defaults.irrevocable_retry),
        breaker_threshold: count(&raw.breaker_threshold, "breaker_threshold", u32::MAX.into())?
            .unwrap_or(defaults.breaker_threshold),
        breaker_cooldown: delay(&raw.breaker_cooldown, "breaker_cooldown")?
            .unwrap_or(defaults.breaker_cooldown),
    };
    if config.base_delay > config.max_delay {
        // Blame whichever of the two was written, preferring base_delay; else the stanza.
        let line = [&raw.base_delay, &raw.max_delay]
            .into_iter()
            .flatten()
            .find_map(|v| v.line)
            .or(line);
        let problem = Problem::BackoffOrder {
            base_delay: show(config.base_delay),
            max_delay: show(config.max_delay),
        };
        return Err(ConfigError::at(line, Some(STANZA), problem));
    }
    Ok(config)
}

/// A count from 1 to `max` (which fits `T`), given as a number or a numeric string, as Vault
/// writes them.
fn count<T: TryFrom<u64>>(
    raw: &Option<Spanned<Value>>,
    key: &str,
    max: u64,
) -> Result<Option<T>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let n = match &raw.value {
        Value::Null => return Ok(None),
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    if let Some(n) = n.filter(|n| (1..=max).contains(n)) {
        if let Ok(n) = T::try_from(n) {
            return Ok(Some(n));
        }
    }
    let reason = if max >= u64::from(u32::MAX) {
        "must be a positive integer".to_owned()
    } else {
        format!("must be an integer from 1 to {max}")
    };
    Err(invalid(raw.line, Some(STANZA), key, reason))
}

/// A positive delay of at most [`MAX_REVOCATION_DELAY`]. Unlike the lease TTLs, zero is not
/// "the default" here but an error: a zero delay would retry in a tight loop.
fn delay(raw: &Option<Spanned<Value>>, key: &str) -> Result<Option<Duration>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let Some(d) = duration(raw, Some(STANZA), key)? else {
        return Ok(None);
    };
    let reason = if d.is_zero() {
        "must be greater than zero".to_owned()
    } else if d > MAX_REVOCATION_DELAY {
        format!("must be at most {}", show(MAX_REVOCATION_DELAY))
    } else {
        return Ok(Some(d));
    };
    Err(invalid(raw.line, Some(STANZA), key, reason))
}

/// Vault's formatting, which is to the second; a delay with a fraction (`"500ms"`) is shown
/// as Rust does (`500ms`), since "0s" would make a message such as `1s > 0s` look wrong.
fn show(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format_duration(d)
    } else {
        format!("{d:?}")
    }
}
