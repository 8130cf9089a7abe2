//! Scanning one text: the keyword prefilter, the rules on the lines around their keywords,
//! placeholders, entropy, allow markers, and one finding per value.

use serde::Serialize;

use crate::rules::{Rule, RuleSet};
use crate::value::{
    entropy, fingerprint, is_placeholder_at, is_uuid, looks_like_code_in, mask, reads_as_words,
    Position, Syntax,
};
use crate::SecretType;

/// How far a multi-line rule (a PEM block) reads on from its keyword's line.
const MULTILINE_WINDOW: usize = 8 * 1024;

/// Extensions of source code, where a rule that knows a secret only by its name (priority
/// below 10) takes a quoted string literal only: `password = compute()` is code, not a secret.
const CODE_EXTENSIONS: &[&str] = &[
    "rs", "go", "java", "kt", "scala", "py", "js", "jsx", "ts", "tsx", "rb", "php", "cs", "c", "h",
    "cc", "cpp", "hpp", "swift", "m", "groovy", "lua", "pl",
];

/// Extensions of plain settings files, where a value after `=` is a literal by the format's
/// syntax: a rule that says so (`literal_in_settings`) takes words there as a password.
const SETTINGS_EXTENSIONS: &[&str] = &["ini", "env", "properties", "cfg", "conf", "cnf"];

fn is_settings(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name == ".env"
        || name.starts_with(".env.")
        || name.rsplit_once('.').is_some_and(|(_, ext)| {
            SETTINGS_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str())
        })
}

fn is_code(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.rsplit_once('.')
        .is_some_and(|(_, ext)| CODE_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()))
}

/// Markers that accept a finding on their line, as gitleaks and detect-secrets users write
/// them.
const ALLOW_MARKERS: &[&str] = &[
    "secrethub:allow",
    "gitleaks:allow",
    "pragma: allowlist secret",
];

/// One secret found. Never holds the value itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The file (as given to the scanner).
    pub path: String,
    /// 1-based line and column of the secret's first character.
    pub line: usize,
    /// 1-based column, in bytes.
    pub column: usize,
    /// The rule that found it.
    pub rule: String,
    /// The document's type of the secret.
    #[serde(rename = "type")]
    pub secret_type: SecretType,
    /// The value's first characters and length.
    pub masked: String,
    /// SHA-256 of the value, 20 hex characters.
    pub fingerprint: String,
    /// How the value was hidden in the file when it was (`base64 (Kubernetes Secret data)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decoded_from: Option<&'static str>,
    /// What the rule's named groups captured besides the secret (a database URL's `scheme`
    /// and `host`): never secret, used to classify the finding.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub context: std::collections::BTreeMap<String, String>,
    /// The commit that first brought it in, when it was found in git history.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub origin: Option<crate::GitOrigin>,
    /// Byte range of the value in the text (for rewriting it into a reference).
    #[serde(skip)]
    pub span: (usize, usize),
    #[serde(skip)]
    priority: i64,
}

/// The byte range of the line around `at`, or from its start on for `window` bytes.
fn region(text: &str, at: usize, multiline: bool) -> (usize, usize) {
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = if multiline {
        let mut e = (at + MULTILINE_WINDOW).min(text.len());
        while !text.is_char_boundary(e) {
            e -= 1;
        }
        e
    } else {
        text[at..].find('\n').map_or(text.len(), |i| at + i)
    };
    (start, end)
}

/// The lines (byte ranges) holding a run of at least `LONG_TOKEN` ASCII letters and digits.
///
/// Any such run starting at or after `from` covers the byte `LONG_TOKEN - 1` further on, so
/// that byte is probed first: when it is not a letter or digit no run can cover it and the
/// search jumps past it, which skips most bytes of ordinary text (words are short). Only a
/// probe that lands in a run looks at that run's bytes. A taken line is not looked at again.
fn lines_with_long_tokens(text: &str) -> Vec<(usize, usize)> {
    const N: usize = crate::rules::LONG_TOKEN;
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    // Invariant: `from` is 0 or follows a byte that is not a letter or digit.
    let mut from = 0;
    while from + N <= bytes.len() {
        let probe = from + N - 1;
        if !bytes[probe].is_ascii_alphanumeric() {
            from = probe + 1;
            continue;
        }
        let mut start = probe;
        while start > from && bytes[start - 1].is_ascii_alphanumeric() {
            start -= 1;
        }
        let mut end = probe + 1;
        while end < bytes.len() && end - start < N && bytes[end].is_ascii_alphanumeric() {
            end += 1;
        }
        if end - start < N {
            // The run stops at `end`, short: no run covers it.
            from = end + 1;
            continue;
        }
        let line_start = text[..start].rfind('\n').map_or(0, |n| n + 1);
        let line_end = text[end..].find('\n').map_or(text.len(), |n| end + n);
        out.push((line_start, line_end));
        from = line_end + 1;
    }
    out
}

/// Sets each finding's 1-based line and column (in bytes) from its span, in one forward
/// pass: `found` is in span order, so the text is read once however many findings it has.
fn number_lines(text: &str, mut found: Vec<Finding>) -> Vec<Finding> {
    let (mut pos, mut line, mut line_start) = (0, 1, 0);
    for f in &mut found {
        let at = f.span.0.max(pos);
        for (i, _) in text[pos..at].match_indices('\n') {
            line += 1;
            line_start = pos + i + 1;
        }
        pos = at;
        f.line = line;
        f.column = f.span.0 - line_start + 1;
    }
    found
}

/// Whether a value whose line starts with `before` sits in a string literal: right after a
/// quote, or after an odd number of one kind of quote on its line (`"…?api_key=VALUE"`,
/// `'X-Token: VALUE'`).
fn in_string_literal(before: &str) -> bool {
    let line = before.rsplit('\n').next().unwrap_or(before);
    line.ends_with(['"', '\''])
        || line.matches('"').count() % 2 == 1
        || line.matches('\'').count() % 2 == 1
}

/// Whether the name just before a value ends in `id` (`client_id: `, `"keyId": "`): a UUID
/// there identifies something, where next to `api_key` it is the key.
fn names_an_id(before: &str) -> bool {
    let name = before.trim_end_matches(|c: char| c.is_whitespace() || "\"':=>".contains(c));
    name.to_ascii_lowercase().ends_with("id")
}

/// Whether the rule's `name` group holds one of its `not_names` (a digest's or an
/// identifier's name), or ends in `id`, where a rule that takes any word as a name needs one.
fn names_something_else(rule: &Rule, caps: &regex::Captures) -> bool {
    if rule.not_names.is_empty() {
        return false;
    }
    let Some(name) = caps.name("name") else {
        return false;
    };
    let name = name.as_str().to_ascii_lowercase();
    name.ends_with("id") || rule.not_names.iter().any(|w| name.contains(w.as_str()))
}

/// Whether `value` looks like a random token: letters and digits, not words and numbers
/// joined (`Win32_Foundation`) nor a constant's name (`OID_PKCS1_SHA256WITHRSA`, whose
/// `_`-separated pieces each keep to one case, where a random token's mix them).
fn random_token(value: &str) -> bool {
    let one_case = |p: &str| {
        !(p.bytes().any(|b| b.is_ascii_lowercase()) && p.bytes().any(|b| b.is_ascii_uppercase()))
    };
    let constant = value.contains('_') && value.split('_').all(one_case);
    value.bytes().any(|b| b.is_ascii_alphabetic())
        && value.bytes().any(|b| b.is_ascii_digit())
        && !constant
        && !reads_as_words(value)
}

fn allowed(text: &str, at: usize) -> bool {
    let (start, end) = region(text, at, false);
    let line = &text[start..end];
    ALLOW_MARKERS.iter().any(|m| line.contains(m))
}

impl RuleSet {
    /// Every secret in `text`, in order of position. `path` is only copied into findings.
    pub fn scan_text(&self, path: &str, text: &str) -> Vec<Finding> {
        // The line each rule read last: hits come in order, so a line with a keyword many
        // times (`_` in code) is read once per rule, and its start is found once.
        let mut last_line = vec![usize::MAX; self.rules.len()];
        let mut found: Vec<Finding> = Vec::new();
        let code = is_code(path);
        // `tracked` is the start of the line holding `seen_to`, the furthest hit so far.
        let (mut tracked, mut seen_to) = (0, 0);
        for hit in self.prefilter.find_overlapping_iter(text) {
            let at = hit.start();
            let line_start = if at >= seen_to {
                if let Some(i) = text[seen_to..at].rfind('\n') {
                    tracked = seen_to + i + 1;
                }
                seen_to = at;
                tracked
            } else {
                // An overlapping keyword that starts before the last one.
                text[..at].rfind('\n').map_or(0, |i| i + 1)
            };
            for &r in &self.keyword_rules[hit.pattern().as_usize()] {
                if last_line[r] == line_start {
                    continue;
                }
                last_line[r] = line_start;
                let rule = &self.rules[r];
                let (_, end) = region(text, at, rule.multiline);
                self.scan_region(rule, path, code, text, (line_start, end), &mut found);
            }
        }
        if !self.long_token_rules.is_empty() {
            for (line_start, line_end) in lines_with_long_tokens(text) {
                for &r in &self.long_token_rules {
                    let rule = &self.rules[r];
                    let region = (line_start, line_end);
                    self.scan_region(rule, path, code, text, region, &mut found);
                }
            }
        }
        number_lines(text, resolve_overlaps(found))
    }

    fn scan_region(
        &self,
        rule: &Rule,
        path: &str,
        code: bool,
        text: &str,
        (start, end): (usize, usize),
        found: &mut Vec<Finding>,
    ) {
        for caps in rule.regex.captures_iter(&text[start..end]) {
            let Some(m) = caps.get(rule.secret_group) else {
                continue;
            };
            let value = m.as_str().trim_end();
            let at = start + m.start();
            let quoted = in_string_literal(&text[start..at]);
            let name_only = rule.priority < 10;
            let syntax = if rule.literal_in_settings && is_settings(path) {
                Syntax::Settings
            } else {
                Syntax::Code
            };
            let position = if rule.password_position {
                Position::Password
            } else {
                Position::Named
            };
            if (code && name_only && !quoted)
                || names_something_else(rule, &caps)
                || (rule.mixed && !random_token(value))
                || is_placeholder_at(value, position)
                || (name_only && looks_like_code_in(value, syntax))
                || (name_only && is_uuid(value) && names_an_id(&text[start..at]))
                || rule.entropy.is_some_and(|floor| entropy(value) < floor)
                || allowed(text, at)
            {
                continue;
            }
            let context = rule
                .regex
                .capture_names()
                .flatten()
                .filter_map(|name| Some((name.to_string(), caps.name(name)?.as_str().to_string())))
                .collect();
            // Line and column are filled in once all findings are known (`number_lines`).
            found.push(Finding {
                path: path.to_string(),
                line: 0,
                column: 0,
                rule: rule.id.clone(),
                secret_type: rule.secret_type,
                masked: mask(value),
                fingerprint: fingerprint(value),
                decoded_from: None,
                context,
                origin: None,
                span: (at, at + value.len()),
                priority: rule.priority,
            });
        }
    }
}

/// One finding per value: where findings overlap, the rule with the highest priority stays
/// (a `ghp_` token over a generic `token=`), then the earliest.
fn resolve_overlaps(mut found: Vec<Finding>) -> Vec<Finding> {
    found.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.span.cmp(&b.span)));
    let mut kept: Vec<Finding> = Vec::new();
    for f in found {
        let overlaps = kept
            .iter()
            .any(|k| f.span.0 < k.span.1 && k.span.0 < f.span.1);
        if !overlaps {
            kept.push(f);
        }
    }
    kept.sort_by_key(|f| f.span);
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> RuleSet {
        RuleSet::builtin().expect("the built-in rules load")
    }

    /// The lines holding a long run, found the plain way: every byte, run counted.
    fn long_token_lines_byte_by_byte(text: &str) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut line_start = 0;
        for line in text.split_inclusive('\n') {
            let body = line.strip_suffix('\n').unwrap_or(line);
            let mut run = 0;
            let long = body.bytes().any(|b| {
                run = if b.is_ascii_alphanumeric() {
                    run + 1
                } else {
                    0
                };
                run >= crate::rules::LONG_TOKEN
            });
            if long {
                out.push((line_start, line_start + body.len()));
            }
            line_start += line.len();
        }
        out
    }

    /// The probing search finds exactly the lines the byte-by-byte one does: runs of 19, 20
    /// and 21 anywhere on a line, at the start and end of the text, several on a line, none.
    #[test]
    fn long_token_lines_match_a_byte_by_byte_search() {
        let mut texts: Vec<String> = vec![
            String::new(),
            "a".repeat(19),
            "a".repeat(20),
            format!("{}\n", "b".repeat(21)),
            format!("x {} y\n{} z", "c".repeat(19), "d".repeat(20)),
            format!(
                "{}-{}\n\n{}",
                "e".repeat(10),
                "f".repeat(10),
                "g".repeat(40)
            ),
        ];
        // Deterministic mixes of words, separators, newlines and long runs.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..300 {
            let mut text = String::new();
            for _ in 0..40 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let len = (state % 24) as usize;
                text.push_str(&"k".repeat(len));
                text.push(match (state >> 8) % 5 {
                    0 => '\n',
                    1 => '_',
                    2 => '=',
                    _ => ' ',
                });
            }
            texts.push(text);
        }
        for text in &texts {
            assert_eq!(
                lines_with_long_tokens(text),
                long_token_lines_byte_by_byte(text),
                "{text:?}"
            );
        }
    }

    #[test]
    fn every_rules_examples_hold() {
        let set = rules();
        let failures = set.check_examples();
        assert!(failures.is_empty(), "{failures:#?}");
        for rule in set.rules() {
            assert!(
                rule.example_count() >= 2,
                "{} has too few examples",
                rule.id
            );
        }
    }

    #[test]
    fn findings_name_the_place_and_never_the_value() {
        let text = "a: 1\nGITHUB_TOKEN=ghp_R8kT2vLq9wXz4mNp7sYb3cHf6jUa1eGi0oVt\n";
        let found = rules().scan_text("ci.env", text);
        assert_eq!(found.len(), 1, "{found:?}");
        let f = &found[0];
        assert_eq!((f.path.as_str(), f.line, f.column), ("ci.env", 2, 14));
        assert_eq!(f.rule, "github-token");
        assert_eq!(f.secret_type, SecretType::ApiKeys);
        let json = serde_json::to_string(f).unwrap();
        assert!(!json.contains("R8kT2vLq9wXz"), "{json}");
    }

    #[test]
    fn a_specific_rule_wins_over_a_generic_one_on_the_same_value() {
        let text = "api_token = ghp_R8kT2vLq9wXz4mNp7sYb3cHf6jUa1eGi0oVt\n\
                    DB_PASSWORD=postgresql://app:Kp9wLq2vX7mNz@db:5432/shop\n";
        let found = rules().scan_text("x", text);
        let ids: Vec<&str> = found.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(ids, ["github-token", "database-url"], "{found:?}");
    }

    #[test]
    fn allow_markers_and_placeholders_are_not_findings() {
        let set = rules();
        let text = "GITHUB_TOKEN=ghp_R8kT2vLq9wXz4mNp7sYb3cHf6jUa1eGi0oVt # gitleaks:allow\n\
                    password: ${DB_PASSWORD}\n";
        assert!(set.scan_text("x", text).is_empty());
    }

    #[test]
    fn in_source_code_a_name_only_rule_takes_string_literals_only() {
        let set = rules();
        let code = "let password = secrethub_common::random_alnum(24);\n\
                    let api_key = config.api_key_for(region);\n\
                    const PASSWORD: &str = \"Hq3xN8vLp2Zt\";\n";
        let found = set.scan_text("src/main.rs", code);
        let lines: Vec<usize> = found.iter().map(|f| f.line).collect();
        assert_eq!(lines, [3], "{found:?}");
        // The same unquoted assignment in a config file is a finding.
        assert_eq!(set.scan_text("app.env", "password=Hq3xN8vLp2Zt\n").len(), 1);
        // A shape rule needs no quotes, in code too.
        let token = "let t = ghp_R8kT2vLq9wXz4mNp7sYb3cHf6jUa1eGi0oVt;\n";
        assert_eq!(set.scan_text("src/main.rs", token).len(), 1);
    }

    #[test]
    fn in_a_settings_file_a_password_of_words_is_a_finding() {
        let set = rules();
        let text = "[db]\nuser = billing\npassword = amber_lantern\n";
        for path in ["conf/settings.ini", ".env", "app.properties"] {
            let found = set.scan_text(path, text);
            assert_eq!(found.len(), 1, "{path}: {found:?}");
            assert_eq!(
                (found[0].rule.as_str(), found[0].line),
                ("generic-password", 3)
            );
        }
        // Elsewhere the same words may be a name (a YAML key, a variable).
        assert!(set.scan_text("values.yaml", text).is_empty());
        // A constant's name is a name in a settings file too.
        assert!(set
            .scan_text(".env", "PASSWORD=DB_PASSWORD_FROM_VAULT\n")
            .is_empty());
    }

    #[test]
    fn a_pem_block_is_found_across_lines() {
        let text = "key: |\n  -----BEGIN RSA PRIVATE KEY-----\n  MIIEowIBAAKCAQEAu7Qm5p9xKJ4t2vLr8wN3sYb6cHf1jUa0eGi5oVtQwDk2vX\n  -----END RSA PRIVATE KEY-----\n";
        let found = rules().scan_text("x", text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].rule.as_str(), found[0].line), ("private-key", 2));
        assert_eq!(found[0].secret_type, SecretType::TlsCerts);
    }
}
