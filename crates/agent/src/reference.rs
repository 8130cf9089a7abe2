//! The `${secret:[PROVIDER:]PATH[#FIELD][|DEFAULT]}` syntax, found anywhere in a text (a
//! template file, an environment value). [`parse`] splits a text into literal segments and
//! references; `render` then resolves the references.
//!
//! - `PROVIDER:` is a provider name (`[a-z][a-z0-9-]*`) followed by `:`, and only counts as one
//!   when the character after the `:` is not `/`, so a URL-like `https://…` stays a path.
//! - `PATH` is non-empty and holds no whitespace, `}`, `#` or `|`.
//! - `#FIELD` picks one field of the secret; `|DEFAULT` (possibly empty) is used when the secret
//!   or the field does not exist.
//! - `$${secret:` is the escape for a literal `${secret:`.
//!
//! A reference never spans lines: a `${secret:` without a `}` on its line is malformed.

use std::fmt;

/// The opening of a reference.
const OPEN: &str = "${secret:";
/// The escape producing a literal [`OPEN`].
const ESCAPED_OPEN: &str = "$${secret:";
/// How many characters after [`OPEN`] an error about a malformed reference quotes at most.
const MAX_QUOTED_CHARS: usize = 60;

/// One `${secret:…}` reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// The explicit `PROVIDER:` prefix; `None` lets the provider set choose.
    pub provider: Option<String>,
    pub path: String,
    /// The `#FIELD` suffix.
    pub field: Option<String>,
    /// The `|DEFAULT` suffix; `Some("")` for a trailing `|`.
    pub default: Option<String>,
}

impl fmt::Display for Reference {
    /// The reference as it would be written, but with a `|DEFAULT` shown as `|…`: a default
    /// may be a real fallback password, and errors quote references.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(OPEN)?;
        if let Some(provider) = &self.provider {
            write!(f, "{provider}:")?;
        }
        f.write_str(&self.path)?;
        if let Some(field) = &self.field {
            write!(f, "#{field}")?;
        }
        if self.default.is_some() {
            f.write_str("|…")?;
        }
        f.write_str("}")
    }
}

/// A piece of a parsed text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Text copied as is (escapes already undone).
    Literal(String),
    Reference(Reference),
}

/// A malformed reference: where it starts and the start of what it says (see [`quote`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: malformed reference {reference}: {problem}")]
pub struct ReferenceError {
    /// 1-based line of the `$` that opens the reference.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// The reference's opening, cut where it stops looking like a name (see [`quote`]).
    pub reference: String,
    pub problem: String,
}

impl ReferenceError {
    pub fn kind(&self) -> secrethub_common::ErrorKind {
        secrethub_common::ErrorKind::BadRequest
    }
}

/// Splits `text` into literals and references. Adjacent literals are merged, so a text without
/// references is one `Literal` (or nothing when empty).
pub fn parse(text: &str) -> Result<Vec<Segment>, ReferenceError> {
    let mut segments = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        literal.push_str(&rest[..dollar]);
        let at = &rest[dollar..];
        if let Some(after) = at.strip_prefix(ESCAPED_OPEN) {
            literal.push_str(OPEN);
            rest = after;
        } else if let Some(body_and_rest) = at.strip_prefix(OPEN) {
            let offset = text.len() - at.len();
            let line_end = body_and_rest.find('\n').unwrap_or(body_and_rest.len());
            let Some(close) = body_and_rest[..line_end].find('}') else {
                return Err(error_at(
                    text,
                    offset,
                    &at[..OPEN.len() + line_end],
                    "no closing `}` on its line",
                ));
            };
            let raw = &at[..OPEN.len() + close + 1];
            let reference = parse_body(&body_and_rest[..close])
                .map_err(|problem| error_at(text, offset, raw, problem))?;
            if !literal.is_empty() {
                segments.push(Segment::Literal(std::mem::take(&mut literal)));
            }
            segments.push(Segment::Reference(reference));
            rest = &at[raw.len()..];
        } else {
            literal.push('$');
            rest = &at[1..];
        }
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        segments.push(Segment::Literal(literal));
    }
    Ok(segments)
}

/// Parses what sits between `${secret:` and `}`.
fn parse_body(body: &str) -> Result<Reference, &'static str> {
    let (main, default) = match body.split_once('|') {
        Some((main, default)) => (main, Some(default.to_string())),
        None => (body, None),
    };
    let (provider, path_and_field) = match split_provider(main) {
        Some((provider, rest)) => (Some(provider.to_string()), rest),
        None => (None, main),
    };
    let (path, field) = match path_and_field.split_once('#') {
        Some((path, field)) => (path, Some(field.to_string())),
        None => (path_and_field, None),
    };
    if path.is_empty() {
        return Err("empty path");
    }
    if path.chars().any(char::is_whitespace) {
        return Err("whitespace in path");
    }
    if field.as_deref() == Some("") {
        return Err("empty field after `#`");
    }
    Ok(Reference {
        provider,
        path: path.to_string(),
        field,
        default,
    })
}

/// Splits off a `PROVIDER:` prefix when `text` has one: a name `[a-z][a-z0-9-]*`, a `:`, and
/// then anything but `/` (so `https://…` is a path, not the provider `https`).
fn split_provider(text: &str) -> Option<(&str, &str)> {
    let (name, rest) = text.split_once(':')?;
    let mut chars = name.chars();
    let valid_name = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    (valid_name && !rest.starts_with('/')).then_some((name, rest))
}

/// The error for the reference `raw` that starts at byte `offset` of `text`.
fn error_at(text: &str, offset: usize, raw: &str, problem: &str) -> ReferenceError {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    ReferenceError {
        line,
        column,
        reference: quote(raw),
        problem: problem.to_string(),
    }
}

/// What an error may show of the malformed reference `raw` (which starts with [`OPEN`]): a
/// malformed reference can run into text that is a literal secret (`${secret:db#u:pa55@h`),
/// so only [`OPEN`] and the characters a provider, path or field name is made of follow, at
/// most [`MAX_QUOTED_CHARS`] of them, and `…` marks anything cut. After a `#` a field name
/// follows, which never holds `:`, `/` or `#`: a `user:password` is cut at the `:`.
fn quote(raw: &str) -> String {
    let body = raw.strip_prefix(OPEN).unwrap_or(raw);
    let mut quoted = String::from(OPEN);
    let mut in_field = false;
    for (taken, c) in body.chars().enumerate() {
        let name_char = c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
        let allowed = name_char || (!in_field && matches!(c, '/' | '#' | ':'));
        if !allowed || taken == MAX_QUOTED_CHARS {
            quoted.push('…');
            return quoted;
        }
        in_field |= c == '#';
        quoted.push(c);
    }
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(
        provider: Option<&str>,
        path: &str,
        field: Option<&str>,
        default: Option<&str>,
    ) -> Segment {
        Segment::Reference(Reference {
            provider: provider.map(str::to_string),
            path: path.to_string(),
            field: field.map(str::to_string),
            default: default.map(str::to_string),
        })
    }

    fn literal(text: &str) -> Segment {
        Segment::Literal(text.to_string())
    }

    #[test]
    fn display_gives_back_the_reference_text_but_no_default() {
        for (text, shown) in [
            ("${secret:secret/app}", "${secret:secret/app}"),
            (
                "${secret:vault:secret/data/app#password}",
                "${secret:vault:secret/data/app#password}",
            ),
            (
                "${secret:aws-sm:prod/db#user|}",
                "${secret:aws-sm:prod/db#user|…}",
            ),
            (
                "${secret:database/creds/ro#username|fallback-pa55}",
                "${secret:database/creds/ro#username|…}",
            ),
        ] {
            let segments = parse(text).unwrap();
            let [Segment::Reference(r)] = segments.as_slice() else {
                panic!("{text}: {segments:?}");
            };
            assert_eq!(r.to_string(), shown);
        }
    }

    #[test]
    fn text_without_references_is_one_literal() {
        assert_eq!(parse("").unwrap(), vec![]);
        assert_eq!(parse("a $b ${c} $").unwrap(), vec![literal("a $b ${c} $")]);
    }

    #[test]
    fn parses_every_part() {
        assert_eq!(
            parse("url=postgres://${secret:database/creds/ro#username}:${secret:database/creds/ro#password}@db").unwrap(),
            vec![
                literal("url=postgres://"),
                reference(None, "database/creds/ro", Some("username"), None),
                literal(":"),
                reference(None, "database/creds/ro", Some("password"), None),
                literal("@db"),
            ]
        );
        assert_eq!(
            parse("${secret:vault:kv/app#k|d e f}").unwrap(),
            vec![reference(Some("vault"), "kv/app", Some("k"), Some("d e f"))]
        );
        assert_eq!(
            parse("${secret:x|}").unwrap(),
            vec![reference(None, "x", None, Some(""))]
        );
        // The default runs to the `}` and may hold `#`, `|` and `:`.
        assert_eq!(
            parse("${secret:x#f|a#b|c:d}").unwrap(),
            vec![reference(None, "x", Some("f"), Some("a#b|c:d"))]
        );
    }

    #[test]
    fn provider_prefix_needs_a_name_and_no_slash_after_the_colon() {
        let cases = [
            ("${secret:file:dev.yaml#k}", Some("file"), "dev.yaml"),
            ("${secret:azure-kv2:db-pass}", Some("azure-kv2"), "db-pass"),
            // The story's type names are provider names here (aliases are resolved by routing).
            (
                "${secret:aws-secrets:prod/db}",
                Some("aws-secrets"),
                "prod/db",
            ),
            (
                "${secret:local-file:dev.yaml}",
                Some("local-file"),
                "dev.yaml",
            ),
            (
                "${secret:https://vault.example/x}",
                None,
                "https://vault.example/x",
            ),
            ("${secret:Vault:secret/x}", None, "Vault:secret/x"),
            ("${secret:2fa:code}", None, "2fa:code"),
            ("${secret:secret/a:b}", None, "secret/a:b"),
            ("${secret:a_b:c}", None, "a_b:c"),
        ];
        for (text, provider, path) in cases {
            let segments = parse(text).unwrap();
            let [Segment::Reference(r)] = segments.as_slice() else {
                panic!("{text}: {segments:?}");
            };
            assert_eq!(
                (r.provider.as_deref(), r.path.as_str()),
                (provider, path),
                "{text}"
            );
        }
    }

    #[test]
    fn double_dollar_escapes_a_reference() {
        assert_eq!(
            parse("a $${secret:x#y} b").unwrap(),
            vec![literal("a ${secret:x#y} b")]
        );
        assert_eq!(
            parse("$${secret:x}${secret:y}").unwrap(),
            vec![literal("${secret:x}"), reference(None, "y", None, None)]
        );
        // An escape needs no closing brace: it is plain text.
        assert_eq!(parse("$${secret:").unwrap(), vec![literal("${secret:")]);
    }

    #[test]
    fn malformed_references_name_line_column_and_text() {
        let cases = [
            (
                "${secret:}",
                "1:1: malformed reference ${secret:…: empty path",
            ),
            (
                "a\nbé ${secret:#f}",
                "2:4: malformed reference ${secret:#f…: empty path",
            ),
            (
                "x ${secret:vault:|d}",
                "1:3: malformed reference ${secret:vault:…: empty path",
            ),
            (
                "one\ntwo\n  ${secret:a/b\n}",
                "3:3: malformed reference ${secret:a/b: no closing `}` on its line",
            ),
            (
                "${secret:a b}",
                "1:1: malformed reference ${secret:a…: whitespace in path",
            ),
            (
                "${secret:a#|x}",
                "1:1: malformed reference ${secret:a#…: empty field after `#`",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text).unwrap_err().to_string(), expected, "{text:?}");
        }
    }

    #[test]
    fn long_malformed_references_are_shortened() {
        let text = format!("${{secret:{}", "a".repeat(200));
        let err = parse(&text).unwrap_err();
        assert_eq!(
            err.reference.chars().count(),
            OPEN.len() + MAX_QUOTED_CHARS + 1
        );
        assert!(err.reference.ends_with('…'));
    }

    #[test]
    fn malformed_references_quote_no_text_that_may_be_a_secret() {
        for (text, quoted) in [
            ("URL=${secret:db#user:pa55w0rd@h/db", "${secret:db#user…"),
            ("${secret:db pa55w0rd}", "${secret:db…"),
            ("${secret:a/b|pa55w0rd", "${secret:a/b…"),
            ("${secret:vault:kv/x#f pa55w0rd", "${secret:vault:kv/x#f…"),
            ("${secret:kv/x#pass=pa55w0rd", "${secret:kv/x#pass…"),
        ] {
            let err = parse(text).unwrap_err();
            assert_eq!(err.reference, quoted, "{text}");
            assert!(!err.to_string().contains("pa55w0rd"), "{err}");
        }
    }
}
