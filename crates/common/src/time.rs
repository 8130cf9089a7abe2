//! Wall-clock helpers. Lease and token math takes `now` as an argument so it stays testable;
//! these are the only places that read the clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch.
pub type UnixTime = i64;

/// The current time in whole seconds since the Unix epoch.
pub fn now_unix() -> UnixTime {
    now_unix_nanos().div_euclid(1_000_000_000) as i64
}

/// The current time in nanoseconds since the Unix epoch.
pub fn now_unix_nanos() -> i128 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

/// RFC 3339 in UTC with nanoseconds, as Vault prints times: `2026-11-23T07:47:39.123456789Z`.
pub fn format_rfc3339(unix_nanos: i128) -> String {
    let nanos = unix_nanos.max(0) as u128;
    let t = UNIX_EPOCH + Duration::from_nanos(nanos.min(u64::MAX as u128) as u64);
    humantime::format_rfc3339_nanos(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00.000000000Z");
        assert!(now_unix() > 1_700_000_000);
    }
}
