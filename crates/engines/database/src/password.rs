//! Generated passwords and the `password_policy` that may shape them.
//!
//! The default is 32 characters drawn uniformly from `[A-Za-z0-9]` with the OS RNG (about 190
//! bits of entropy). A connection's `password_policy` may be an inline policy in Vault's
//! password-policy HCL:
//!
//! ```hcl
//! length = 40
//! rule "charset" { charset = "abcdefghijklmnopqrstuvwxyz" min-chars = 1 }
//! rule "charset" { charset = "0123456789" min-chars = 2 }
//! ```
//!
//! Characters are drawn from the union of the charsets until every rule's `min-chars` holds.
//! Named policies (`sys/policies/password/:name`) do not exist in SecretHub yet, so a bare
//! name is rejected rather than silently ignored. Quotes, backslashes, whitespace and control
//! characters are refused in charsets: a clear-text password may be spliced into SQL.
//! The text passes `parse_guard` (size and nesting depth) before the HCL parser, which
//! recurses per nesting level and would otherwise overflow the worker's stack.

use secrethub_common::parse_guard::{self, ParseLimits};
use zeroize::Zeroizing;

use secrethub_database_plugin::DatabaseError;

const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const DEFAULT_LENGTH: usize = 32;
/// Generation gives up after this many draws that miss a `min-chars` rule (only reachable
/// with absurd policies; validated policies satisfy it with overwhelming probability).
const MAX_ATTEMPTS: usize = 1000;

/// How passwords are generated for one connection.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PasswordPolicy {
    length: usize,
    charset: Vec<char>,
    rules: Vec<(Vec<char>, usize)>,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            length: DEFAULT_LENGTH,
            charset: ALNUM.chars().collect(),
            rules: Vec::new(),
        }
    }
}

impl PasswordPolicy {
    /// Parses `password_policy`; empty means the default.
    pub(crate) fn parse(text: &str) -> Result<Self, DatabaseError> {
        let bad = |m: &str| DatabaseError::invalid(format!("invalid password_policy: {m}"));
        parse_guard::check(text, ParseLimits::POLICY)
            .map_err(|err| bad(&format!("password_policy is {err}")))?;
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        if !text.contains('=') {
            return Err(bad(
                "named password policies are not supported; give the policy inline \
                 (e.g. length = 32 and rule \"charset\" blocks)",
            ));
        }
        let body = hcl::parse(text).map_err(|_| bad("not valid HCL"))?;
        let mut length = None;
        for attr in body.attributes() {
            match (attr.key.as_str(), &attr.expr) {
                ("length", hcl::Expression::Number(n)) => length = n.as_u64(),
                _ => {
                    return Err(bad(&format!(
                        "unsupported attribute {:?}",
                        attr.key.as_str()
                    )))
                }
            }
        }
        let length = usize::try_from(length.ok_or_else(|| bad("length is required"))?)
            .ok()
            .filter(|l| (4..=256).contains(l))
            .ok_or_else(|| bad("length must be from 4 to 256"))?;
        let mut rules = Vec::new();
        for block in body.blocks() {
            let label = block.labels.first().map(|l| l.as_str());
            if block.identifier.as_str() != "rule" || label != Some("charset") {
                return Err(bad("only rule \"charset\" blocks are supported"));
            }
            let mut charset = None;
            let mut min = 0usize;
            for attr in block.body.attributes() {
                match (attr.key.as_str(), &attr.expr) {
                    ("charset", hcl::Expression::String(s)) => charset = Some(s.clone()),
                    ("min-chars", hcl::Expression::Number(n)) => {
                        min = n
                            .as_u64()
                            .and_then(|m| usize::try_from(m).ok())
                            .ok_or_else(|| bad("min-chars must be a non-negative integer"))?;
                    }
                    (k, _) => return Err(bad(&format!("unsupported rule attribute {k:?}"))),
                }
            }
            let chars = dedup(&charset.ok_or_else(|| bad("a rule needs a charset"))?);
            if chars.is_empty() {
                return Err(bad("a charset is empty"));
            }
            if chars
                .iter()
                .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '\'' | '"' | '\\'))
            {
                return Err(bad(
                    "charsets may not contain quotes, backslashes, whitespace or control characters",
                ));
            }
            rules.push((chars, min));
        }
        if rules.is_empty() {
            return Err(bad("at least one rule \"charset\" block is required"));
        }
        // Checked: huge min-chars would overflow a plain sum (a panic in debug builds, a
        // wrapped total that passes the check in release).
        let needed = rules
            .iter()
            .try_fold(0usize, |total, (_, m)| total.checked_add(*m));
        if needed.is_none_or(|n| n > length) {
            return Err(bad("the rules need more characters than length allows"));
        }
        let mut charset: Vec<char> = rules.iter().flat_map(|(c, _)| c.iter().copied()).collect();
        charset.sort_unstable();
        charset.dedup();
        Ok(Self {
            length,
            charset,
            rules,
        })
    }

    /// A fresh password.
    pub(crate) fn generate(&self) -> Result<Zeroizing<String>, DatabaseError> {
        for _ in 0..MAX_ATTEMPTS {
            let candidate: Zeroizing<String> = Zeroizing::new(
                (0..self.length)
                    .map(|_| self.charset[secrethub_common::random_index(self.charset.len())])
                    .collect(),
            );
            let ok = self
                .rules
                .iter()
                .all(|(set, min)| candidate.chars().filter(|c| set.contains(c)).count() >= *min);
            if ok {
                return Ok(candidate);
            }
        }
        Err(DatabaseError::invalid(
            "password_policy: could not generate a password that satisfies every rule",
        ))
    }
}

fn dedup(s: &str) -> Vec<char> {
    let mut v: Vec<char> = s.chars().collect();
    v.sort_unstable();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_min_chars_do_not_overflow() {
        let rule =
            |n: &str| format!("rule \"charset\" {{\n  charset = \"abc\"\n  min-chars = {n}\n}}\n");
        for (n, count) in [("9223372036854775807", 3), ("9223372036854775808", 2)] {
            let text = format!("length = 20\n{}", rule(n).repeat(count));
            let e = PasswordPolicy::parse(&text).unwrap_err();
            assert!(
                e.to_string()
                    .contains("need more characters than length allows"),
                "{e}"
            );
        }
    }

    #[test]
    fn default_is_32_alnum_and_random() {
        let p = PasswordPolicy::default();
        let a = p.generate().unwrap();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(*a, *p.generate().unwrap());
        assert_eq!(PasswordPolicy::parse("  ").unwrap(), p);
    }

    #[test]
    fn inline_policy() {
        let p = PasswordPolicy::parse(
            "length = 12\nrule \"charset\" {\n charset = \"ab\"\n min-chars = 2\n}\n\
             rule \"charset\" {\n charset = \"0123456789\"\n min-chars = 3\n}\n",
        )
        .unwrap();
        for _ in 0..50 {
            let pw = p.generate().unwrap();
            assert_eq!(pw.len(), 12);
            assert!(pw.chars().all(|c| "ab0123456789".contains(c)));
            assert!(pw.chars().filter(|c| c.is_ascii_digit()).count() >= 3);
            assert!(pw.chars().filter(|c| c.is_ascii_alphabetic()).count() >= 2);
        }
    }

    #[test]
    fn rejects_bad_policies() {
        for bad in [
            "my-policy",
            "length = 2\nrule \"charset\" { charset = \"ab\" }",
            "length = 10",
            "length = 10\nrule \"charset\" { charset = \"a'b\" }",
            "length = 10\nrule \"charset\" { charset = \"ab\" min-chars = 11 }",
            "length = 10\nrule \"other\" { charset = \"ab\" }",
            "length = \"x\"\nrule \"charset\" { charset = \"ab\" }",
        ] {
            assert!(PasswordPolicy::parse(bad).is_err(), "{bad}");
        }
    }
}
