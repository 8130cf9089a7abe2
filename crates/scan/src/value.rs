//! What a candidate value is: random enough, a placeholder, and how it is shown (masked)
//! and remembered (fingerprint) without being kept.

use sha2::{Digest, Sha256};

/// Shannon entropy of `s` in bits per character.
pub fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    let mut n = 0u32;
    for b in s.bytes() {
        counts[usize::from(b)] += 1;
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    let n = f64::from(n);
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = f64::from(*c) / n;
            -p * p.log2()
        })
        .sum()
}

/// Words that mark a value as an example, not a secret (lowercase).
const PLACEHOLDER_WORDS: &[&str] = &[
    "example",
    "changeme",
    "change_me",
    "change-me",
    "placeholder",
    "your_",
    "your-",
    "yourpassword",
    "<your",
    "dummy",
    "sample",
    "xxxx",
    "****",
    "redacted",
    "replace",
    "insert",
    "todo",
    "fixme",
    "notasecret",
    "not-a-secret",
    "secret_here",
    "token_here",
    "key_here",
    "...",
];

/// Whole values that are names or defaults, not secrets (lowercase).
const PLACEHOLDER_VALUES: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "null",
    "none",
    "nil",
    "true",
    "false",
    "empty",
    "undefined",
    "default",
    "admin",
    "root",
    "test",
    "guest",
    "string",
];

/// Whether `value` is a placeholder: a reference to something else (`${VAR}`, `$VAR`,
/// `{{ .Values.x }}`, `{password}`, `%(x)s`, `<token>`, `#{x}`), an example word (`changeme`, AWS's
/// `EXAMPLE` keys, `xxxx`), a bare name (`password`), a UUID, or one character repeated.
pub fn is_placeholder(value: &str) -> bool {
    let v = value.trim_matches(|c| c == '"' || c == '\'' || c == '`');
    let lower = v.to_ascii_lowercase();
    let reference = v.starts_with('$')
        || (v.starts_with('{') && v.contains('}'))
        || v.contains("${")
        || v.contains("{{")
        || v.contains("%(")
        || v.contains("#{")
        || v.contains("$(")
        || (v.starts_with('<') && v.ends_with('>'))
        || (v.starts_with('[') && v.ends_with(']'));
    if reference {
        return true;
    }
    if PLACEHOLDER_WORDS.iter().any(|w| lower.contains(w)) {
        return true;
    }
    if PLACEHOLDER_VALUES.contains(&lower.as_str()) {
        return true;
    }
    if is_uuid(&lower) {
        return true;
    }
    // One character repeated (`aaaaaaaa`, `00000000`), or two alternating.
    let distinct: std::collections::BTreeSet<char> = v.chars().collect();
    distinct.len() <= 2
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && [8, 4, 4, 4, 12]
            .iter()
            .zip(&parts)
            .all(|(n, p)| p.len() == *n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The value as shown: its first characters (which name the kind: `ghp_`, `AKIA`) and its
/// length, never enough to use it.
pub fn mask(value: &str) -> String {
    let n = value.chars().count();
    let shown = match n {
        0..=7 => 0,
        8..=15 => 2,
        _ => 4,
    };
    let head: String = value.chars().take(shown).collect();
    format!("{head}{}({n} chars)", "*".repeat(6))
}

/// A stable name for the value: SHA-256, hex, first 20 characters. The same secret has
/// the same fingerprint wherever it is, so a baseline survives moves and reformatting.
pub fn fingerprint(value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    hex::encode(digest)[..20].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_of_random_and_repetitive_text() {
        assert_eq!(entropy(""), 0.0);
        assert_eq!(entropy("aaaa"), 0.0);
        assert!((entropy("abcd") - 2.0).abs() < 1e-9);
        assert!(entropy("Kp9wLq2vX7mNz") > 3.5);
    }

    #[test]
    fn placeholders() {
        for p in [
            "${DB_PASSWORD}",
            "$DB_PASSWORD",
            "{{ .Values.db.password }}",
            "{password}'",
            "<your-token>",
            "changeme",
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "password",
            "123e4567-e89b-12d3-a456-426614174000",
            "aaaaaaaaaaaa",
            "'xxxxxxxxxxxx'",
            "sk-...",
        ] {
            assert!(is_placeholder(p), "{p}");
        }
        for s in ["Kp9wLq2vX7mNz", "ghp_R8kT2vLq9wXz4mNp7sYb3cHf6jUa1eGi0oVt"] {
            assert!(!is_placeholder(s), "{s}");
        }
    }

    #[test]
    fn masks_and_fingerprints_never_show_the_value() {
        let v = "ghp_R8kT2vLq9wXz4mNp7sYb3cHf6jUa1eGi0oVt";
        assert_eq!(mask(v), "ghp_******(40 chars)");
        assert_eq!(mask("Kp9wLq2vX7"), "Kp******(10 chars)");
        assert_eq!(fingerprint(v).len(), 20);
        assert_eq!(fingerprint(v), fingerprint(v));
        assert_ne!(fingerprint(v), fingerprint("other"));
    }
}
