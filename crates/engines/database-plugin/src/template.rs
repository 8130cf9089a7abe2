//! Statement templates: `{{name}}` (alias `{{username}}`), `{{password}}` and `{{expiration}}`
//! substituted into the SQL of a role or connection, Vault's syntax.
//!
//! Templates are checked when a role is written, so a typo such as `{{passwrd}}` is a 400
//! then rather than a statement that fails (or worse, succeeds) at issue time. Whitespace
//! inside the braces is allowed (`{{ name }}`).
//!
//! A `{{password}}` that is the whole of a quoted literal right after the `PASSWORD` keyword
//! (`PASSWORD '{{password}}'`) is a *password literal*: a plugin may put a hashed form there
//! (PostgreSQL's SCRAM-SHA-256 verifier) so the clear-text password never reaches the server.
//! Every other `{{password}}` gets the clear text.

use secrethub_common::UnixTime;

use crate::error::DatabaseError;

/// Variables a template may use.
const VARIABLES: &[&str] = &["name", "username", "password", "expiration"];

/// The values substituted into one rendering.
#[derive(Default)]
pub struct Vars<'a> {
    /// `{{name}}` and `{{username}}`.
    pub name: &'a str,
    /// `{{password}}` outside a password literal.
    pub password: &'a str,
    /// `{{password}}` inside a password literal; `None` means the clear text.
    pub password_literal: Option<&'a str>,
    /// `{{expiration}}`, already formatted.
    pub expiration: &'a str,
}

/// One `{{...}}` found in a template: byte range and the trimmed variable name.
struct Placeholder<'a> {
    start: usize,
    end: usize,
    name: &'a str,
}

fn placeholders(template: &str) -> Result<Vec<Placeholder<'_>>, String> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(open) = template[from..].find("{{").map(|i| i + from) {
        let close = template[open + 2..]
            .find("}}")
            .map(|i| i + open + 2)
            .ok_or_else(|| "unclosed \"{{\"".to_string())?;
        let name = template[open + 2..close].trim();
        if !VARIABLES.contains(&name) {
            return Err(format!(
                "unknown template variable \"{{{{{name}}}}}\" (expected one of {{{{name}}}}, \
                 {{{{username}}}}, {{{{password}}}}, {{{{expiration}}}})"
            ));
        }
        out.push(Placeholder {
            start: open,
            end: close + 2,
            name,
        });
        from = close + 2;
    }
    Ok(out)
}

/// Checks every statement of `field` (e.g. `creation_statements`); the error names the field.
pub fn validate(field: &str, statements: &[String]) -> Result<(), DatabaseError> {
    for s in statements {
        placeholders(s).map_err(|e| DatabaseError::invalid(format!("{field}: {e}")))?;
    }
    Ok(())
}

/// Whether `{{password}}` at `start..end` of `template` is a password literal.
fn is_password_literal(template: &str, start: usize, end: usize) -> bool {
    let Some(before) = template[..start].strip_suffix('\'') else {
        return false;
    };
    if !template[end..].starts_with('\'') {
        return false;
    }
    let before = before.trim_end().as_bytes();
    before.len() >= 8 && before[before.len() - 8..].eq_ignore_ascii_case(b"password") && {
        // A whole word: `PASSWORD`, not `MYPASSWORD`.
        before.len() == 8 || !(before[before.len() - 9].is_ascii_alphanumeric())
    }
}

/// Whether any statement has a password literal (so a plugin knows to compute a hash).
pub fn has_password_literal(statements: &[String]) -> bool {
    statements.iter().any(|s| {
        placeholders(s).is_ok_and(|ps| {
            ps.iter()
                .any(|p| p.name == "password" && is_password_literal(s, p.start, p.end))
        })
    })
}

/// Renders every statement and joins them into one multi-statement SQL text.
pub fn render_all(
    field: &str,
    statements: &[String],
    vars: &Vars<'_>,
) -> Result<String, DatabaseError> {
    let mut sql = String::new();
    for s in statements {
        let rendered =
            render(s, vars).map_err(|e| DatabaseError::invalid(format!("{field}: {e}")))?;
        let rendered = rendered.trim().trim_end_matches(';');
        if rendered.trim().is_empty() {
            continue;
        }
        sql.push_str(rendered);
        sql.push_str(";\n");
    }
    Ok(sql)
}

fn render(template: &str, vars: &Vars<'_>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() + 64);
    let mut last = 0;
    for p in placeholders(template)? {
        out.push_str(&template[last..p.start]);
        out.push_str(match p.name {
            "name" | "username" => vars.name,
            "expiration" => vars.expiration,
            _ => match vars.password_literal {
                Some(lit) if is_password_literal(template, p.start, p.end) => lit,
                _ => vars.password,
            },
        });
        last = p.end;
    }
    out.push_str(&template[last..]);
    Ok(out)
}

/// `{{expiration}}`: `YYYY-MM-DD HH:MM:SS+00`, UTC, which PostgreSQL and MySQL both parse.
pub fn format_expiration(unix: UnixTime) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}+00",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars<'static> {
        Vars {
            name: "u1",
            password: "clear",
            password_literal: Some("HASHED"),
            expiration: "2030-01-01 00:00:00+00",
        }
    }

    #[test]
    fn renders_and_joins() {
        let stmts = vec![
            "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{ expiration }}';".to_string(),
            "GRANT SELECT ON t TO \"{{username}}\"; ".to_string(),
            "  ".to_string(),
        ];
        assert_eq!(
            render_all("creation_statements", &stmts, &vars()).unwrap(),
            "CREATE ROLE \"u1\" WITH LOGIN PASSWORD 'HASHED' VALID UNTIL '2030-01-01 00:00:00+00';\n\
             GRANT SELECT ON t TO \"u1\";\n"
        );
        assert!(has_password_literal(&stmts));
    }

    #[test]
    fn password_literal_only_after_the_keyword() {
        for (t, want) in [
            ("ALTER ROLE x ENCRYPTED PASSWORD '{{password}}'", "HASHED"),
            ("alter role x password\n  '{{password}}'", "HASHED"),
            ("SELECT set_pw('{{password}}')", "clear"),
            ("ALTER ROLE x MYPASSWORD '{{password}}'", "clear"),
            ("ALTER ROLE x PASSWORD '{{password}}x'", "clear"),
            ("ALTER ROLE x PASSWORD {{password}}", "clear"),
        ] {
            let out = render(t, &vars()).unwrap();
            assert!(out.contains(want), "{t} -> {out}");
        }
        assert!(!has_password_literal(
            &["SELECT '{{password}}'".to_string()]
        ));
    }

    #[test]
    fn rejects_unknown_and_unclosed() {
        let e = validate("creation_statements", &["CREATE ROLE {{nme}}".into()]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("creation_statements: unknown template variable \"{{nme}}\""),
            "{e}"
        );
        let e = validate("renew_statements", &["ALTER ROLE {{name".into()]).unwrap_err();
        assert_eq!(e.to_string(), "renew_statements: unclosed \"{{\"");
        assert!(validate("x", &["SELECT 1".into(), "{{ name }}".into()]).is_ok());
    }

    #[test]
    fn formats_expiration_in_utc() {
        assert_eq!(format_expiration(0), "1970-01-01 00:00:00+00");
        assert_eq!(format_expiration(951_782_400), "2000-02-29 00:00:00+00");
        assert_eq!(format_expiration(1_704_067_199), "2023-12-31 23:59:59+00");
        assert_eq!(format_expiration(4_102_444_800), "2100-01-01 00:00:00+00");
    }
}
