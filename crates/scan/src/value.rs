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
    "pass",
    "pwd",
    "passphrase",
    "user",
    "username",
    "token",
    "null",
    "none",
    "nil",
    "true",
    "false",
    "empty",
    "undefined",
    "default",
    "guest",
    "string",
];

/// Words that stand for a value next to a setting's name (`secret: secret`, `password: admin`)
/// but are real, weak passwords where the syntax itself says "password" (a URL's user
/// information, a connection string's `Password=`): `postgresql://app:secret@db` logs in.
/// (`guest` stays a placeholder: RabbitMQ's default, which only logs in from localhost.)
const WEAK_PASSWORDS: &[&str] = &["secret", "admin", "root", "test"];

/// Where the value sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// Next to a name, where a bare word (`secret`, `admin`) is as likely a default as a
    /// password.
    Named,
    /// Where the syntax says the value is a password (`user:PASSWORD@host`): a weak word is
    /// still a password.
    Password,
}

/// Whether `value` is a placeholder: a reference to something else (`${VAR}`, `$VAR`,
/// `{{ .Values.x }}`, `{password}`, `%(x)s`, `<token>`, `#{x}`), an example word (`changeme`, AWS's
/// `EXAMPLE` keys, `xxxx`), a bare name (`password`), a UUID, or one character repeated.
pub fn is_placeholder(value: &str) -> bool {
    is_placeholder_at(value, Position::Named)
}

/// [`is_placeholder`], where `position` says whether a weak word (`secret`, `admin`) is a
/// password there ([`WEAK_PASSWORDS`]).
pub fn is_placeholder_at(value: &str, position: Position) -> bool {
    let v = value.trim_matches(|c| c == '"' || c == '\'' || c == '`');
    let lower = v.to_ascii_lowercase();
    let reference = v.starts_with('$')
        || (v.starts_with('{') && v.contains('}'))
        || v.contains("${")
        || v.contains("{{")
        || python_format(v)
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
    if position == Position::Named && WEAK_PASSWORDS.contains(&lower.as_str()) {
        return true;
    }
    if is_example_uuid(&lower) {
        return true;
    }
    // One character repeated (`aaaaaaaa`, `00000000`), or two alternating.
    let distinct: std::collections::BTreeSet<char> = v.chars().collect();
    distinct.len() <= 2
}

/// Where a value was read, for [`looks_like_code_in`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// Source code, YAML, JSON, prose: a bare word may be a variable's or a key's name.
    Code,
    /// A plain settings file (`.ini`, `.env`, `.properties`, `.conf`), where whatever follows
    /// `password=` is the literal value: lowercase words (`open_sesame`, `thisismypassword`)
    /// and camelCase (`myPassword`) are passwords, only a constant's name (`DB_PASSWORD`), a
    /// path, a URL, a call or a dotted reference are not.
    Settings,
}

/// Whether a value found next to a telling name is code, a path or a name rather than a
/// secret: a path (`/etc/ssl/x.key`, `./certs`), a URL without credentials, a function call
/// (`get_password()`), a dotted or `::` reference (`settings.API_KEY`, `arn:aws:…`), a CSS or
/// DOM selector (`#add-password`), or words without a digit joined by `_`, `-`, `.` or in
/// camelCase (`API_KEY_FROM_ENV`, `addPassword`). Rules that know a secret by its name only
/// use it; a value with a shape of its own needs no such guess.
/// `syntax` says where the value was read ([`Syntax`]).
pub fn looks_like_code_in(value: &str, syntax: Syntax) -> bool {
    let v = value.trim_matches(|c| c == '"' || c == '\'' || c == '`');
    let ident = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    if v.starts_with(['/', '#', '.', '~', ':'])
        || v.starts_with("arn:")
        || (v.contains("://") && !v.contains('@'))
        || (v.len() > 2 && v.starts_with('%') && v.ends_with('%'))
    {
        return true;
    }
    // `name=value` read past a blank (`-method=userpass username=alice`): an option, not a
    // value; base64's `=` only pads the end.
    if let Some(eq) = v.find('=') {
        let name = &v[..eq];
        if eq > 0
            && !v[eq..].bytes().all(|b| b == b'=')
            && ident(name)
            && name.split('_').all(|w| w.is_empty() || wordish(w))
        {
            return true;
        }
    }
    // A call: `get_password()`, `os.getenv("X")`, `vault.read(path)`.
    if let Some((head, _)) = v.split_once('(') {
        if v.ends_with(')') && head.split('.').all(ident) {
            return true;
        }
    }
    // A dotted or path-like reference: `config.db.password`, `crate::x::y`, `a/b/c` in words.
    let parts: Vec<&str> = v.split(['.', ':', '/']).filter(|p| !p.is_empty()).collect();
    if parts.len() >= 2
        && parts.iter().all(|p| ident(p))
        && parts
            .iter()
            .filter(|p| p.bytes().any(|b| b.is_ascii_digit()))
            .count()
            == 0
    {
        return true;
    }
    // A digest named as one (`sha-3f9a…` image tags, `git-…`, `md5_…`): a hash, not a token.
    if let Some((head, hex)) = v.split_once(['-', '_']) {
        let head = head.to_ascii_lowercase();
        let digest_name = [
            "sha", "md5", "git", "commit", "rev", "build", "digest", "hash", "checksum",
        ]
        .iter()
        .any(|d| {
            head.strip_prefix(d)
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        });
        if digest_name && hex.len() >= 7 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return true;
        }
    }
    if v.bytes().any(|b| b.is_ascii_digit()) {
        return false;
    }
    // One long lowercase word: `authorization`, `capabilities` (a password of that shape is
    // left to the rules with an entropy floor of their own; short ones still count).
    let bare = v.trim_end_matches(['=', '.', ':', ';', ',']);
    if syntax == Syntax::Code && bare.len() >= 12 && bare.bytes().all(|b| b.is_ascii_lowercase()) {
        return true;
    }
    // Words with code's punctuation and no digit: prose or code (`(increment).`, `super$ecret`).
    let letters: String = v.chars().filter(char::is_ascii_alphabetic).collect();
    if v.bytes().any(|b| b"()[]{}<>$,;:".contains(&b)) && wordish(&letters) {
        return true;
    }
    let segments: Vec<&str> = v.split(['_', '-', '.']).filter(|s| !s.is_empty()).collect();
    let words = segments.iter().all(|s| wordish(s));
    let joined = segments.len() >= 2;
    if syntax == Syntax::Settings {
        let constant = v.bytes().all(|b| !b.is_ascii_lowercase());
        return words && joined && constant;
    }
    let camel = v
        .as_bytes()
        .windows(2)
        .any(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase());
    words && (joined || camel)
}

/// Whether `value` reads as words and numbers joined (`CertificatePayloadTls13`,
/// `Win32_NetworkManagement`, `depth32float-stencil8`) rather than random characters: at
/// least half its letters sit in word-like pieces (4 to 12 letters between case changes,
/// digits or punctuation, 25 to 60 % of them vowels, as in English words and unlike random
/// text, whose letters run short between case changes or lack vowels).
pub fn reads_as_words(value: &str) -> bool {
    let (mut letters, mut in_words) = (0usize, 0usize);
    let mut piece = String::new();
    let mut close = |piece: &mut String| {
        let n = piece.len();
        let vowels = piece
            .bytes()
            .filter(|b| b"aeiouyAEIOUY".contains(b))
            .count();
        if (4..=12).contains(&n) && vowels * 4 >= n && vowels * 10 <= n * 6 {
            in_words += n;
        }
        piece.clear();
    };
    let mut prev_lower = false;
    for c in value.chars() {
        if c.is_ascii_alphabetic() {
            letters += 1;
            if prev_lower && c.is_ascii_uppercase() {
                close(&mut piece);
            }
            piece.push(c);
            prev_lower = c.is_ascii_lowercase();
        } else {
            close(&mut piece);
            prev_lower = false;
        }
    }
    close(&mut piece);
    letters > 0 && in_words * 2 >= letters
}

/// Whether letters read as words: `password`, `API`, `addPassword`, `Key` (each piece between
/// a lowercase and an uppercase letter all lowercase, all uppercase, or one capital and at
/// least two lowercase letters), unlike random text (`jYCNNYmxuBtg`).
fn wordish(s: &str) -> bool {
    if !s.bytes().all(|b| b.is_ascii_alphabetic()) {
        return false;
    }
    let b = s.as_bytes();
    let mut start = 0;
    for i in 1..=b.len() {
        if i == b.len() || (b[i - 1].is_ascii_lowercase() && b[i].is_ascii_uppercase()) {
            let piece = &b[start..i];
            let caps = piece.iter().take_while(|c| c.is_ascii_uppercase()).count();
            let ok = caps == piece.len() || caps == 0 || (caps == 1 && piece.len() >= 2);
            if !ok {
                return false;
            }
            start = i;
        }
    }
    true
}

/// A UUID that only shows the shape: the nil UUID, the one from RFC 4122's and Wikipedia's
/// examples (`123e4567-e89b-12d3-a456-…`), or counting digits (`12345678-1234-…`). Other
/// UUIDs are identifiers in most places, but API keys next to a key's name (Heroku,
/// Postmark): the rules that read names decide (see `scan.rs`).
/// A Python `%(name)s` format reference somewhere in `v`.
fn python_format(v: &str) -> bool {
    v.match_indices("%(").any(|(i, _)| {
        let rest = &v[i + 2..];
        let name = rest
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        name > 0
            && rest.as_bytes().get(name) == Some(&b')')
            && rest
                .as_bytes()
                .get(name + 1)
                .is_some_and(u8::is_ascii_alphabetic)
    })
}

fn is_example_uuid(s: &str) -> bool {
    is_uuid(s)
        && (s.starts_with("123e4567-e89b-12d3")
            || s.starts_with("12345678-")
            || s.starts_with("00000000-0000")
            || s.bytes()
                .filter(|b| *b != b'-')
                .collect::<std::collections::BTreeSet<u8>>()
                .len()
                <= 3)
}

/// Whether `s` is a UUID (8-4-4-4-12 hex digits).
pub fn is_uuid(s: &str) -> bool {
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
            "%(db_password)s",
        ] {
            assert!(is_placeholder(p), "{p}");
        }
        for s in [
            "Kp9wLq2vX7mNz",
            "ghp_R8kT2vLq9wXz4mNp7sYb3cHf6jUa1eGi0oVt",
            "k3!w&3%(^+=gr@cu@v9-v7ul",
        ] {
            assert!(!is_placeholder(s), "{s}");
        }
    }

    #[test]
    fn identifiers_read_as_words_and_tokens_do_not() {
        for w in [
            "CertificateRequestPayloadTls13",
            "Win32_NetworkManagement_WindowsFilteringPlatform",
            "fn_read_u32_le_unaligned",
            "kCFISO8601DateFormatWithYear",
        ] {
            assert!(reads_as_words(w), "{w}");
        }
        for t in [
            "7Gq2Lm9Xv4Rt8Kp3Zw6Nb1Hc",
            "3k144a5af729351d0fc58bdrj9a21mkr",
            "c4568ab08bd4ce11a513798fcfc5c1f7",
            "phx_WQV1jrBNdIiYiH_XoWIb5KqZv18v_4JQbNBVuGihaYw",
        ] {
            assert!(!reads_as_words(t), "{t}");
        }
    }

    #[test]
    fn a_weak_word_is_a_password_where_the_syntax_says_so() {
        assert!(is_placeholder("secret"));
        assert!(is_placeholder_at("Admin", Position::Named));
        assert!(!is_placeholder_at("secret", Position::Password));
        assert!(!is_placeholder_at("admin", Position::Password));
        // The field's own name and references stay placeholders everywhere.
        assert!(is_placeholder_at("password", Position::Password));
        assert!(is_placeholder_at("${DB_PASSWORD}", Position::Password));
    }

    #[test]
    fn code_paths_and_names_are_not_values() {
        for c in [
            "/etc/ssl/private/server.key",
            "get_password()",
            "os.getenv(\"API_KEY\")",
            "settings.API_KEY_FROM_ENVIRONMENT",
            "https://oauth2.googleapis.com/token",
            "#add-password",
            "API_KEY_FROM_ENVIRONMENT",
            "addPassword",
            "arn:aws:iam::aws:policy/IAMUserChangePassword",
            "username=alice",
            "(increment).",
            "authorization",
            "tlscertificatekeyfilepassword=",
            "sha-3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a",
            "sha256_9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "%APPDATA%",
        ] {
            assert!(looks_like_code_in(c, Syntax::Code), "{c}");
        }
        for s in [
            "Kp9wLq2vX7mNz",
            "c4568ab08bd4ce11a513798fcfc5c1f7",
            "blooberry",
            "Xq3+Lm9/Rz4wNp3sYb6cHf1jUa0eGi5oVtQwDk2v",
            "dop_v1_1598b0667e5d1fea6c60d442cff669365becd81b5",
            "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",
            "%Zfl%H81Hv8!kD&HX96lYeuPuVxpW",
            "X_fT4oDpik=xto+^6n+w4tPG4rhZ-6pFvX8PHi=btT(YsQ&HCi",
            "rocket!OsgugbVIOLET",
        ] {
            assert!(!looks_like_code_in(s, Syntax::Code), "{s}");
        }
    }

    #[test]
    fn in_a_settings_file_words_after_a_password_name_are_the_password() {
        for p in [
            "open_sesame",
            "thisismypassword",
            "myPassword",
            "blue-harbour",
        ] {
            assert!(looks_like_code_in(p, Syntax::Code), "{p}");
            assert!(!looks_like_code_in(p, Syntax::Settings), "{p}");
        }
        for c in [
            "DB_PASSWORD",
            "/run/secrets/db",
            "vault.read(path)",
            "config.db.password",
        ] {
            assert!(looks_like_code_in(c, Syntax::Settings), "{c}");
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
