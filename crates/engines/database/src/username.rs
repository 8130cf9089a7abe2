//! Generated usernames.
//!
//! The default follows the seed guide: `shub_<role>_<8 random>_<unix seconds>`, where `<role>`
//! is the role name lowercased with every character outside `[a-z0-9_]` turned into `_` and
//! cut to 20 characters, and the random part is lowercase base32. That is at most 45
//! characters, well inside PostgreSQL's 63.
//!
//! A connection's `username_template` overrides it with a small subset of Vault's Go-template
//! syntax: literal text plus actions `{{ source | fn | fn ... }}`, where a source is
//! `.RoleName`, `.DisplayName`, `random N`, `unix_time`, `unix_time_millis` or `uuid`, and a
//! function is `truncate N`, `lowercase`, `uppercase` or `replace "old" "new"`. Templates are
//! parsed when the connection is written, so syntax errors are a 400 then.
//!
//! Whatever the template, the result may only contain `[A-Za-z0-9_.@-]` (it is spliced into
//! SQL between double quotes, and the display name is partly caller-controlled) and is cut to
//! 63 bytes, PostgreSQL's identifier limit, so the role created is exactly the one recorded.

use rand::rngs::OsRng;
use rand::Rng;
use secrethub_common::UnixTime;

use crate::error::DatabaseError;

/// PostgreSQL's (and MySQL 8's) identifier length limit.
pub(crate) const MAX_USERNAME_LEN: usize = 63;

const BASE32: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";

/// What a username is generated from.
pub(crate) struct UsernameInput<'a> {
    pub(crate) role: &'a str,
    pub(crate) display_name: &'a str,
    pub(crate) now: UnixTime,
}

/// The default `shub_<role>_<random>_<unix>` username.
pub(crate) fn default_username(input: &UsernameInput<'_>) -> String {
    let role: String = input
        .role
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '_') => c,
            _ => '_',
        })
        .take(20)
        .collect();
    format!("shub_{role}_{}_{}", random_base32(8), input.now)
}

fn random_base32(n: usize) -> String {
    (0..n)
        .map(|_| BASE32[OsRng.gen_range(0..BASE32.len())] as char)
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
enum Source {
    RoleName,
    DisplayName,
    Random(usize),
    UnixTime,
    UnixTimeMillis,
    Uuid,
}

#[derive(Debug, Clone, PartialEq)]
enum Func {
    Truncate(usize),
    Lowercase,
    Uppercase,
    Replace(String, String),
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Action(Source, Vec<Func>),
}

/// A parsed `username_template`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UsernameTemplate {
    parts: Vec<Part>,
}

impl UsernameTemplate {
    /// Parses a template; the error says what is wrong, for a 400.
    pub(crate) fn parse(template: &str) -> Result<Self, DatabaseError> {
        let bad = |m: String| DatabaseError::invalid(format!("invalid username_template: {m}"));
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let close = rest[open..]
                .find("}}")
                .map(|i| i + open)
                .ok_or_else(|| bad("unclosed \"{{\"".into()))?;
            parts.push(parse_action(&rest[open + 2..close]).map_err(bad)?);
            rest = &rest[close + 2..];
        }
        if rest.contains("}}") {
            return Err(bad("\"}}\" without \"{{\"".into()));
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Self { parts })
    }

    /// Renders one username and checks it (see the module docs).
    pub(crate) fn render(&self, input: &UsernameInput<'_>) -> Result<String, DatabaseError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Action(source, funcs) => {
                    let mut v = match source {
                        Source::RoleName => input.role.to_string(),
                        Source::DisplayName => input.display_name.to_string(),
                        Source::Random(n) => secrethub_common::random_alnum(*n),
                        Source::UnixTime => input.now.to_string(),
                        Source::UnixTimeMillis => (i128::from(input.now) * 1000).to_string(),
                        Source::Uuid => secrethub_common::random_uuid(),
                    };
                    for f in funcs {
                        v = match f {
                            Func::Truncate(n) => v.chars().take(*n).collect(),
                            Func::Lowercase => v.to_lowercase(),
                            Func::Uppercase => v.to_uppercase(),
                            Func::Replace(a, b) => v.replace(a.as_str(), b),
                        };
                    }
                    out.push_str(&v);
                }
            }
        }
        checked(out)
    }
}

/// Cuts to [`MAX_USERNAME_LEN`] and checks the character set.
pub(crate) fn checked(mut name: String) -> Result<String, DatabaseError> {
    // Every allowed character is ASCII, so a byte cut is a char boundary once checked.
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '@' | '-');
    if let Some(bad) = name.chars().find(|c| !allowed(*c)) {
        return Err(DatabaseError::invalid(format!(
            "generated username contains {bad:?}; only letters, digits and _ . @ - are allowed"
        )));
    }
    name.truncate(MAX_USERNAME_LEN);
    if name.is_empty() {
        return Err(DatabaseError::invalid("generated username is empty"));
    }
    Ok(name)
}

fn parse_action(action: &str) -> Result<Part, String> {
    let mut stages = action.split('|').map(str::trim);
    let source_text = stages.next().unwrap_or_default();
    let words = split_words(source_text)?;
    let source = match words.as_slice() {
        [w] if w == ".RoleName" => Source::RoleName,
        [w] if w == ".DisplayName" => Source::DisplayName,
        [w] if w == "unix_time" => Source::UnixTime,
        [w] if w == "unix_time_millis" => Source::UnixTimeMillis,
        [w] if w == "uuid" => Source::Uuid,
        [w, n] if w == "random" => Source::Random(number(n, 1, 256)?),
        _ => return Err(format!("unsupported expression {source_text:?}")),
    };
    let mut funcs = Vec::new();
    for stage in stages {
        let words = split_words(stage)?;
        funcs.push(match words.as_slice() {
            [w, n] if w == "truncate" => Func::Truncate(number(n, 0, 1024)?),
            [w] if w == "lowercase" => Func::Lowercase,
            [w] if w == "uppercase" => Func::Uppercase,
            [w, a, b] if w == "replace" => Func::Replace(a.clone(), b.clone()),
            _ => return Err(format!("unsupported function {stage:?}")),
        });
    }
    Ok(Part::Action(source, funcs))
}

fn number(s: &str, min: usize, max: usize) -> Result<usize, String> {
    s.parse::<usize>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("expected a number from {min} to {max}, got {s:?}"))
}

/// Splits on whitespace, keeping `"double quoted"` words (quotes removed) together.
fn split_words(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut w = String::new();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some(c) => w.push(c),
                    None => return Err("unterminated string".into()),
                }
            }
            words.push(w);
        } else {
            let mut w = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                w.push(c);
                chars.next();
            }
            words.push(w);
        }
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> UsernameInput<'static> {
        UsernameInput {
            role: "ReadOnly-Analytics.Team!",
            display_name: "userpass-alice",
            now: 1_700_000_000,
        }
    }

    #[test]
    fn default_shape() {
        let u = default_username(&input());
        let parts: Vec<&str> = u.split('_').collect();
        assert!(u.starts_with("shub_readonly_analytics_t_"), "{u}");
        assert_eq!(parts.last(), Some(&"1700000000"));
        let random = parts[parts.len() - 2];
        assert_eq!(random.len(), 8);
        assert!(random.bytes().all(|b| BASE32.contains(&b)));
        assert!(u.len() <= MAX_USERNAME_LEN);
        // The role part is cut to 20 characters.
        assert_eq!(u.len(), "shub_".len() + 20 + 1 + 8 + 1 + 10);
    }

    #[test]
    fn templates_render() {
        let t = UsernameTemplate::parse(
            "v-{{.DisplayName | truncate 8}}-{{ .RoleName | lowercase | replace \".\" \"_\" | truncate 13 }}-{{random 4}}-{{unix_time}}",
        )
        .unwrap();
        let u = t
            .render(&UsernameInput {
                role: "Read.Only",
                ..input()
            })
            .unwrap();
        let parts: Vec<&str> = u.split('-').collect();
        assert_eq!(&parts[..3], ["v", "userpass", "read_only"], "{u}");
        assert_eq!(parts[3].len(), 4);
        assert_eq!(parts[4], "1700000000");
    }

    #[test]
    fn rejects_bad_templates_and_names() {
        for bad in [
            "{{.Role}}",
            "{{random}}",
            "{{random x}}",
            "a{{unix_time",
            "a}}",
            "{{.RoleName | shout}}",
            "{{replace \"a}}",
        ] {
            assert!(UsernameTemplate::parse(bad).is_err(), "{bad}");
        }
        let t = UsernameTemplate::parse("{{.RoleName}}").unwrap();
        let e = t.render(&input()).unwrap_err();
        assert!(e.to_string().contains("'!'"), "{e}");
        let long = UsernameTemplate::parse(&"x".repeat(100)).unwrap();
        assert_eq!(long.render(&input()).unwrap().len(), MAX_USERNAME_LEN);
    }
}
