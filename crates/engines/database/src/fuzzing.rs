//! Entry points for the fuzz targets in `fuzz/`: thin public wrappers over private parsers,
//! compiled only with the `fuzzing` feature.
//!
//! Each wrapper feeds its text to the private parser, renders what parses with fixed values,
//! and asserts what the module promises, so a broken promise is a crash the fuzzer reports.

use crate::password::PasswordPolicy;
use crate::template::{self, Vars};
use crate::username::{self, UsernameInput, UsernameTemplate, MAX_USERNAME_LEN, MAX_VALUE_LEN};

/// Fixed time for renderings: 2023-11-14 22:13:20 UTC.
const NOW: i64 = 1_700_000_000;

/// Username length limits of the plugins: legacy MySQL, MySQL 8, PostgreSQL.
const PLUGIN_LIMITS: [usize; 3] = [16, 32, 63];

/// Parses `template` as a `username_template` and renders it with `role` and `display_name`,
/// and again with a display name past the value bound: a rendered name is 1 to 63 characters
/// of `[A-Za-z0-9_.@-]` (at most a plugin's limit when cut to one), a template that parses
/// always either renders or errs, and the default name always fits the limit.
pub fn username_template(template: &str, role: &str, display_name: &str) {
    let allowed = |name: &str| {
        name.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.@-".contains(&b))
    };
    for max_len in PLUGIN_LIMITS {
        let input = UsernameInput {
            role,
            display_name,
            now: NOW,
        };
        let name = username::default_username(&input, max_len);
        assert!(
            !name.is_empty() && name.len() <= max_len && allowed(&name),
            "{name:?}"
        );
        let _ = username::check_fits(template, role, max_len);
    }
    let Ok(parsed) = UsernameTemplate::parse(template) else {
        return;
    };
    let huge = "a".repeat(MAX_VALUE_LEN + 1);
    for (role, display_name, now) in [
        (role, display_name, NOW),
        (display_name, role, i64::MIN),
        (role, huge.as_str(), i64::MAX),
    ] {
        let input = UsernameInput {
            role,
            display_name,
            now,
        };
        if let Ok(name) = parsed.render(&input) {
            assert!(
                !name.is_empty() && name.len() <= MAX_USERNAME_LEN,
                "{name:?}"
            );
            assert!(allowed(&name), "{name:?}");
        }
        for max_len in PLUGIN_LIMITS {
            if let Ok(name) = parsed.render_within(&input, max_len) {
                assert!(!name.is_empty() && name.len() <= max_len && allowed(&name));
            }
        }
    }
}

/// Checks `text` as one statement and its lines as a statement list (`validate`), renders
/// both (`render_all`) and asserts: rendering succeeds exactly when validation does, every
/// placeholder is replaced, and the hashed password goes exactly where
/// `has_password_literal` says a literal is.
pub fn statements(text: &str) {
    let one = vec![text.to_string()];
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    for statements in [one, lines] {
        check_statements(&statements);
    }
}

fn check_statements(statements: &[String]) {
    // Markers no template can contain unless it spells them, which the asserts allow for.
    const NAME: &str = "\u{1}NAME\u{1}";
    const CLEAR: &str = "\u{1}CLEAR\u{1}";
    const HASHED: &str = "\u{1}HASHED\u{1}";
    const EXPIRES: &str = "\u{1}EXPIRES\u{1}";
    let valid = template::validate("creation_statements", statements).is_ok();
    let literal = template::has_password_literal(statements);
    let vars = Vars {
        name: NAME,
        password: CLEAR,
        password_literal: Some(HASHED),
        expiration: EXPIRES,
    };
    let rendered = template::render_all("creation_statements", statements, &vars);
    assert_eq!(valid, rendered.is_ok(), "validate and render disagree");
    let Ok(sql) = rendered else {
        return;
    };
    let spelled = statements.iter().any(|s| s.contains('\u{1}'));
    if !spelled {
        assert_eq!(sql.contains(HASHED), literal, "password literal misplaced");
        assert!(!sql.contains("{{"), "a placeholder was left: {sql:?}");
    }
    // Without a hash, every password gets the clear text and nothing else changes.
    let plain = Vars {
        password_literal: None,
        ..vars
    };
    let clear = template::render_all("creation_statements", statements, &plain)
        .expect("a valid template renders");
    if !spelled {
        assert!(!clear.contains(HASHED));
        assert_eq!(clear, sql.replace(HASHED, CLEAR));
    }
    let _ = template::format_expiration(NOW);
}

/// Parses `text` as an inline `password_policy` and generates one password: 4 to 256
/// characters, none a quote, backslash, whitespace or control character.
pub fn password_policy(text: &str) {
    let Ok(policy) = PasswordPolicy::parse(text) else {
        return;
    };
    if let Ok(password) = policy.generate() {
        let n = password.chars().count();
        assert!((4..=256).contains(&n), "length {n}");
        assert!(!password
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '\'' | '"' | '\\')));
    }
}

/// Every expiration a role can be given formats as `YYYY-MM-DD HH:MM:SS+00`.
pub fn expiration(unix: i64) {
    let text = template::format_expiration(unix);
    assert!(text.ends_with("+00") && text.len() >= "1970-01-01 00:00:00+00".len());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed seeds are realistic inputs that parse, so the fuzzer starts from the
    /// code paths past the parsers.
    #[test]
    fn the_seeds_parse() {
        let seed = |name: &str| {
            let path = format!(
                "{}/../../../fuzz/corpus/db_templates/{name}",
                env!("CARGO_MANIFEST_DIR")
            );
            let text = std::fs::read_to_string(&path).expect("seed");
            text[1..].to_string()
        };
        for name in [
            "username-vault-default",
            "username-replace",
            "username-replace-empty",
            "username-time",
        ] {
            let text = seed(name);
            let template = text.lines().next().unwrap_or_default();
            assert!(UsernameTemplate::parse(template).is_ok(), "{name}");
            username_template(template, "readonly", "userpass-alice");
        }
        for name in [
            "statements-postgres-create",
            "statements-postgres-revoke",
            "statements-renew",
            "statements-mysql",
        ] {
            let text = seed(name);
            assert!(
                template::validate(name, std::slice::from_ref(&text)).is_ok(),
                "{name}"
            );
            statements(&text);
        }
        for name in ["password-policy-vault", "password-policy-short"] {
            let text = seed(name);
            assert!(PasswordPolicy::parse(&text).is_ok(), "{name}");
            password_policy(&text);
        }
    }
}
