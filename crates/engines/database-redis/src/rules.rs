//! A role's creation statements: JSON lists of Redis ACL rules, as Vault's Redis plugin reads
//! them (`["~cache:*", "+@read"]`), checked when the role is written.
//!
//! Vault's plugin decodes the first statement as a JSON list of strings and appends every
//! element to `ACL SETUSER <name> on ><password>`; it has no separate notion of role names
//! (Redis OSS has none: permissions are rules). We do the same, with three differences: the
//! rules of every statement are used (Vault silently ignores all but the first); rules that
//! would change the credential's password or state (`nopass`, `>…`, `<…`, `#…`, `!…`,
//! `resetpass`, `reset`, `off`) are refused, since SecretHub sets those; and each rule's
//! syntax is checked here, so `bogus` or `~` is a 400 when the role is written. Whether a
//! command or category exists only the server knows (modules and newer versions add them):
//! an unknown one is refused by `ACL SETUSER` at issue time, which creates nothing.
//! No statements means Vault's default, `["~*", "+@read"]`.

use secrethub_database_plugin::DatabaseError;

/// Vault's default rules for a role without creation statements.
pub(crate) const DEFAULT_RULES: &[&str] = &["~*", "+@read"];

/// Rules that are a single keyword.
const KEYWORDS: &[&str] = &[
    "on",
    "allkeys",
    "allchannels",
    "allcommands",
    "nocommands",
    "resetkeys",
    "resetchannels",
    "clearselectors",
    "sanitize-payload",
    "skip-sanitize-payload",
];

/// Keywords that would change the credential's password or turn it off.
const CREDENTIAL_KEYWORDS: &[&str] = &["nopass", "resetpass", "reset", "off"];

const EXAMPLE: &str = "such as [\"~cache:*\", \"+@read\"]";

/// The ACL rules of `creation_statements` (the default when there are none).
pub(crate) fn creation_rules(statements: &[String]) -> Result<Vec<String>, DatabaseError> {
    let field = "creation_statements";
    let statements: Vec<&str> = statements
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    if statements.is_empty() {
        return Ok(DEFAULT_RULES.iter().map(|r| r.to_string()).collect());
    }
    let mut rules = Vec::new();
    for s in statements {
        let list: Vec<String> = serde_json::from_str(s).map_err(|_| {
            DatabaseError::invalid(format!(
                "{field}: each statement must be a JSON list of Redis ACL rules, {EXAMPLE}"
            ))
        })?;
        for rule in list {
            check_rule(field, &rule)?;
            rules.push(rule);
        }
    }
    Ok(rules)
}

/// Checks the other statement fields: the Redis plugin has no use for them.
pub(crate) fn check_unused(field: &str, statements: &[String]) -> Result<(), DatabaseError> {
    if statements.iter().all(|s| s.trim().is_empty()) {
        return Ok(());
    }
    Err(DatabaseError::invalid(format!(
        "{field} are not supported by the Redis plugin (revocation is ACL DELUSER, renewal \
         only extends the lease, root rotation is ACL SETUSER resetpass)"
    )))
}

fn check_rule(field: &str, rule: &str) -> Result<(), DatabaseError> {
    let bad = |why: &str| DatabaseError::invalid(format!("{field}: {why}"));
    if rule.is_empty() {
        return Err(bad("an ACL rule is empty"));
    }
    let lower = rule.to_ascii_lowercase();
    if CREDENTIAL_KEYWORDS.contains(&lower.as_str()) || rule.starts_with(['>', '<', '#', '!']) {
        // The rule may hold a password: not echoed.
        return Err(bad(
            "rules that set passwords or turn the user off (nopass, >, <, #, !, resetpass, \
             reset, off) are not allowed: SecretHub sets the credential's password",
        ));
    }
    if let Some(inner) = rule.strip_prefix('(') {
        // A selector (Redis 7): rules in parentheses, separated by spaces.
        let inner = inner
            .strip_suffix(')')
            .ok_or_else(|| bad("a selector is not closed with \")\""))?;
        let parts: Vec<&str> = inner.split(' ').filter(|p| !p.is_empty()).collect();
        if parts.is_empty() {
            return Err(bad("a selector is empty"));
        }
        for p in parts {
            if p.starts_with('(') || p == "clearselectors" {
                return Err(bad(&format!("{p:?} is not allowed inside a selector")));
            }
            check_rule(field, p)?;
        }
        return Ok(());
    }
    if rule.chars().any(|c| c.is_whitespace() || c.is_control()) {
        // A space would split the rule when Redis writes its ACL file.
        return Err(bad(&format!(
            "ACL rule {rule:?} contains whitespace (give each rule as its own list element)"
        )));
    }
    if KEYWORDS.contains(&lower.as_str()) {
        return Ok(());
    }
    let ok = match rule.as_bytes()[0] {
        b'~' | b'&' => rule.len() > 1,
        b'%' => {
            // %R~pattern, %W~pattern, %RW~pattern
            match rule[1..].split_once('~') {
                Some((perm, pattern)) => {
                    !perm.is_empty()
                        && perm.chars().all(|c| matches!(c, 'R' | 'W' | 'r' | 'w'))
                        && !pattern.is_empty()
                }
                None => false,
            }
        }
        b'+' | b'-' => {
            let name = &rule[1..];
            let name = name.strip_prefix('@').unwrap_or(name);
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '|' | '-' | '_' | '.' | ':'))
                && !name.starts_with('|')
                && !name.ends_with('|')
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(bad(&format!(
            "{rule:?} is not a Redis ACL rule (expected ~pattern, %R~pattern, &channel, \
             +command, -command, +@category, -@category, a (selector) or a keyword such as \
             allkeys)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(s: &[&str]) -> Result<Vec<String>, String> {
        let s: Vec<String> = s.iter().map(|s| s.to_string()).collect();
        creation_rules(&s).map_err(|e| e.to_string())
    }

    #[test]
    fn reads_json_lists() {
        assert_eq!(rules(&[]).unwrap(), vec!["~*", "+@read"]);
        assert_eq!(rules(&["  "]).unwrap(), vec!["~*", "+@read"]);
        assert_eq!(
            rules(&[r#"["~cache:*", "+@read", "-keys", "%R~r:*", "&ch", "+client|id"]"#]).unwrap(),
            vec!["~cache:*", "+@read", "-keys", "%R~r:*", "&ch", "+client|id"]
        );
        assert_eq!(
            rules(&[r#"["~a"]"#, r#"["+get", "(~b +set)"]"#]).unwrap(),
            vec!["~a", "+get", "(~b +set)"]
        );
    }

    #[test]
    fn refuses_non_json_and_bad_rules() {
        for (input, want) in [
            ("+@read", "must be a JSON list"),
            (r#"{"rules": []}"#, "must be a JSON list"),
            (r#"["~a", 5]"#, "must be a JSON list"),
            (r#"["bogus"]"#, "\"bogus\" is not a Redis ACL rule"),
            (r#"["~"]"#, "is not a Redis ACL rule"),
            (r#"["+"]"#, "is not a Redis ACL rule"),
            (r#"["+@"]"#, "is not a Redis ACL rule"),
            (r#"["%X~a"]"#, "is not a Redis ACL rule"),
            (r#"["~a b"]"#, "contains whitespace"),
            (r#"["(~a +get"]"#, "is not closed"),
            (r#"["()"]"#, "is empty"),
            (r#"["(~a (+get))"]"#, "not allowed inside a selector"),
            (r#"[""]"#, "is empty"),
        ] {
            let e = rules(&[input]).unwrap_err();
            assert!(e.contains(want), "{input}: {e}");
        }
    }

    #[test]
    fn refuses_password_rules_without_echoing_them() {
        for rule in [
            ">hunter2",
            "<hunter2",
            "#abcd",
            "!abcd",
            "nopass",
            "RESET",
            "off",
            "resetpass",
        ] {
            let e = rules(&[&format!("[{rule:?}]")]).unwrap_err();
            assert!(e.contains("not allowed"), "{rule}: {e}");
            assert!(!e.contains("hunter2"), "{e}");
        }
        let e = rules(&[r#"["(~a >hunter2)"]"#]).unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn other_statements_are_refused() {
        assert!(check_unused("revocation_statements", &[]).is_ok());
        assert!(check_unused("revocation_statements", &[" ".into()]).is_ok());
        let e = check_unused("renew_statements", &["x".into()]).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("renew_statements are not supported"));
    }
}
