//! Vault's duration syntax: a bare number of seconds (`3600`, `"3600"`) or Go-style units
//! (`"1h30m"`, `"90s"`, `"768h"`, `"1d"`). Zero means "unset / use the default".

use std::fmt;
use std::time::Duration;

/// A duration string that is not in Vault's syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationParseError(pub String);

impl fmt::Display for DurationParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid duration {:?}", self.0)
    }
}

impl std::error::Error for DurationParseError {}

/// Parses `"3600"`, `"1h"`, `"1h30m10s"`, `"500ms"`, `"2d"` (days, as Vault accepts) into a `Duration`.
pub fn parse_duration(input: &str) -> Result<Duration, DurationParseError> {
    let s = input.trim();
    let err = || DurationParseError(truncate(input));
    if s.is_empty() {
        return Ok(Duration::ZERO);
    }
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(err)?;
        if num_len == 0 {
            return Err(err());
        }
        let value: f64 = rest[..num_len].parse().map_err(|_| err())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit_secs = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            _ => return Err(err()),
        };
        rest = &rest[unit_len..];
        let secs = value * unit_secs;
        if !secs.is_finite() || secs > u64::MAX as f64 / 2.0 {
            return Err(err());
        }
        total = total
            .checked_add(Duration::from_secs_f64(secs))
            .ok_or_else(err)?;
    }
    Ok(total)
}

/// Formats like Go's `time.Duration.String()` at second precision, as Vault prints TTLs: `"1h0m0s"`.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return "0s".to_string();
    }
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vault_durations() {
        for (input, secs) in [
            ("3600", 3600),
            ("1h", 3600),
            ("1h30m", 5400),
            ("90s", 90),
            ("768h", 768 * 3600),
            ("2d", 172800),
            ("", 0),
            ("0", 0),
        ] {
            assert_eq!(parse_duration(input).unwrap().as_secs(), secs, "{input}");
        }
        assert_eq!(parse_duration("1.5h").unwrap().as_secs(), 5400);
        let huge = "2500000000000000h".repeat(3);
        for bad in ["h", "1x", "-1h", "abc", "1h-", huge.as_str()] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(format_duration(Duration::from_secs(61)), "1m1s");
        assert_eq!(format_duration(Duration::from_secs(5)), "5s");
    }
}
