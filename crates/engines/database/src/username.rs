//! Generated usernames.
//!
//! The default follows the seed guide: `shub_<role>_<8 random>_<unix seconds>`, where `<role>`
//! is the role name lowercased with every character outside `[a-z0-9_]` turned into `_` and
//! cut to 20 characters, and the random part is lowercase base32. That is at most 45
//! characters, well inside PostgreSQL's 63. A plugin with a shorter limit
//! (`DatabaseType::max_username_len`: MySQL's 32, its legacy 16) gets the role part cut
//! further, and below 26 characters the unix time left out (`shub_<role>_<random>`), so
//! default names always fit and keep their 8 random characters.
//!
//! A connection's `username_template` overrides it with a small subset of Vault's Go-template
//! syntax: literal text plus actions `{{ source | fn | fn ... }}`, where a source is
//! `.RoleName`, `.DisplayName`, `random N`, `unix_time`, `unix_time_millis` or `uuid`, and a
//! function is `truncate N`, `lowercase`, `uppercase` or `replace "old" "new"`. Templates are
//! parsed when the connection is written, so syntax errors are a 400 then.
//!
//! Whatever the template, the result may only contain `[A-Za-z0-9_.@-]` (it is spliced into
//! SQL between double quotes, and the display name is partly caller-controlled) and is cut to
//! the plugin's limit (63 bytes, PostgreSQL's identifier limit, unless the plugin says less),
//! so the user created is exactly the one recorded. A role whose name makes the template's
//! names longer than that is refused when the role is written ([`check_fits`]).
//!
//! Rendering allocates a small constant at most: `replace "" "xxxxxxxxx"` multiplies a value's
//! length by ten, so a chain of them would otherwise cost hundreds of MiB before `truncate`
//! runs. A template is at most [`MAX_TEMPLATE_LEN`] bytes with [`MAX_STAGES`] functions per
//! action; one whose worst-case growth on a nominal 64-byte value passes [`MAX_VALUE_LEN`] is
//! refused when the connection is written; and at render time every value is checked against
//! [`MAX_VALUE_LEN`] *before* a function allocates it, so no input gets past the bound either.

use secrethub_common::UnixTime;

use secrethub_database_plugin::DatabaseError;

/// PostgreSQL's (and MySQL 8's) identifier length limit.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) const MAX_USERNAME_LEN: usize = 63;

/// The longest `username_template` accepted.
pub(crate) const MAX_TEMPLATE_LEN: usize = 4096;

/// The most functions one `{{ ... }}` action may pipe its value through.
pub(crate) const MAX_STAGES: usize = 16;

/// The longest value (and rendered result, before the cut to 63) rendering may build.
pub(crate) const MAX_VALUE_LEN: usize = 4096;

/// The value length the config-time growth check assumes for `.RoleName` and `.DisplayName`.
const NOMINAL_NAME_LEN: usize = 64;

const BASE32: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";

/// What a username is generated from.
pub(crate) struct UsernameInput<'a> {
    pub(crate) role: &'a str,
    pub(crate) display_name: &'a str,
    pub(crate) now: UnixTime,
}

/// The default `shub_<role>_<random>_<unix>` username, at most `max_len` characters: the role
/// part is cut to fit, and the unix time left out when not even one character of it would.
pub(crate) fn default_username(input: &UsernameInput<'_>, max_len: usize) -> String {
    let role: String = input
        .role
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '_') => c,
            _ => '_',
        })
        .take(20)
        .collect();
    let random = random_base32(8);
    let with_time = format!("_{random}_{}", input.now);
    let tail = if "shub_".len() + 1 + with_time.len() <= max_len {
        with_time
    } else {
        format!("_{random}")
    };
    let room = max_len.saturating_sub("shub_".len() + tail.len());
    let mut name = format!("shub_{}{tail}", &role[..role.len().min(room)]);
    name.truncate(max_len);
    name
}

/// Refuses a role whose name makes `template` (the connection's `username_template`; empty
/// for the default, which always fits) render names longer than `max_len`, so the mistake is
/// a 400 when the role is written rather than a cut name when credentials are read.
pub(crate) fn check_fits(template: &str, role: &str, max_len: usize) -> Result<(), DatabaseError> {
    if template.is_empty() {
        return Ok(());
    }
    let input = UsernameInput {
        role,
        display_name: "token",
        now: secrethub_common::now_unix(),
    };
    let full = UsernameTemplate::parse(template)?.render_uncut(&input)?;
    if full.len() > max_len {
        return Err(DatabaseError::invalid(format!(
            "role name {role:?} is too long for its connection: the username_template makes \
             names of {} characters and the plugin allows {max_len}",
            full.len()
        )));
    }
    Ok(())
}

fn random_base32(n: usize) -> String {
    secrethub_common::random_from(BASE32, n)
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
    /// The source, its functions, and the action's text (for error messages).
    Action(Source, Vec<Func>, String),
}

/// Why a value may not grow: names the setting and the action, never the value.
fn too_long(action: &str) -> DatabaseError {
    DatabaseError::invalid(format!(
        "username_template: {{{{{action}}}}} builds a value longer than {MAX_VALUE_LEN} bytes"
    ))
}

impl Source {
    /// The longest value the config-time growth check assumes for this source.
    fn nominal_len(&self) -> usize {
        match self {
            Source::RoleName | Source::DisplayName => NOMINAL_NAME_LEN,
            Source::Random(n) => *n,
            Source::UnixTime | Source::UnixTimeMillis => 24,
            Source::Uuid => 36,
        }
    }
}

impl Func {
    /// An upper bound, in bytes, of this function's result on a value of `len` bytes.
    fn bound(&self, len: usize) -> usize {
        match self {
            // A char is at most 4 bytes.
            Func::Truncate(n) => len.min(n.saturating_mul(4)),
            // Case mapping at most triples a char's bytes (e.g. 'ΐ' → "Ϊ́").
            Func::Lowercase | Func::Uppercase => len.saturating_mul(3),
            // Go's and Rust's replace of "" insert `b` at every char boundary.
            Func::Replace(a, b) if a.is_empty() => {
                len.saturating_add(len.saturating_add(1).saturating_mul(b.len()))
            }
            Func::Replace(a, b) => {
                len.saturating_add((len / a.len()).saturating_mul(b.len().saturating_sub(a.len())))
            }
        }
    }

    /// Applies the function, refusing before it allocates a value past [`MAX_VALUE_LEN`].
    fn apply(&self, v: String, action: &str) -> Result<String, DatabaseError> {
        let out = match self {
            Func::Truncate(n) => v.chars().take(*n).collect(),
            Func::Lowercase => v.to_lowercase(),
            Func::Uppercase => v.to_uppercase(),
            Func::Replace(a, b) => {
                // The exact result length, counted without allocating it.
                let hits = if a.is_empty() {
                    v.chars().count() + 1
                } else {
                    v.matches(a.as_str()).count()
                };
                let len = (v.len() - hits * a.len()).saturating_add(hits.saturating_mul(b.len()));
                if len > MAX_VALUE_LEN {
                    return Err(too_long(action));
                }
                v.replace(a.as_str(), b)
            }
        };
        // Case mapping of a value within the bound allocates at most three times it.
        if out.len() > MAX_VALUE_LEN {
            return Err(too_long(action));
        }
        Ok(out)
    }
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
        if template.len() > MAX_TEMPLATE_LEN {
            return Err(bad(format!("longer than {MAX_TEMPLATE_LEN} bytes")));
        }
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
            let part = parse_action(&rest[open + 2..close]).map_err(bad)?;
            if let Part::Action(source, funcs, action) = &part {
                let mut len = source.nominal_len();
                for f in funcs {
                    len = f.bound(len);
                    if len > MAX_VALUE_LEN {
                        return Err(too_long(action));
                    }
                }
            }
            parts.push(part);
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

    /// Renders one username and checks it (see the module docs), cut to 63 bytes.
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn render(&self, input: &UsernameInput<'_>) -> Result<String, DatabaseError> {
        self.render_within(input, MAX_USERNAME_LEN)
    }

    /// [`UsernameTemplate::render`] cut to `max_len` bytes, a plugin's limit.
    pub(crate) fn render_within(
        &self,
        input: &UsernameInput<'_>,
        max_len: usize,
    ) -> Result<String, DatabaseError> {
        checked(self.render_uncut(input)?, max_len)
    }

    /// Renders one username, checked for length bounds but not cut.
    fn render_uncut(&self, input: &UsernameInput<'_>) -> Result<String, DatabaseError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Action(source, funcs, action) => {
                    let mut v = match source {
                        Source::RoleName => input.role.to_string(),
                        Source::DisplayName => input.display_name.to_string(),
                        Source::Random(n) => secrethub_common::random_alnum(*n),
                        Source::UnixTime => input.now.to_string(),
                        Source::UnixTimeMillis => (i128::from(input.now) * 1000).to_string(),
                        Source::Uuid => secrethub_common::random_uuid(),
                    };
                    if v.len() > MAX_VALUE_LEN {
                        return Err(too_long(action));
                    }
                    for f in funcs {
                        v = f.apply(v, action)?;
                    }
                    if out.len() + v.len() > MAX_VALUE_LEN {
                        return Err(too_long(action));
                    }
                    out.push_str(&v);
                }
            }
        }
        checked(out, MAX_VALUE_LEN)
    }
}

/// Cuts to `max_len` and checks the character set.
pub(crate) fn checked(mut name: String, max_len: usize) -> Result<String, DatabaseError> {
    // Every allowed character is ASCII, so a byte cut is a char boundary once checked.
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '@' | '-');
    if let Some(bad) = name.chars().find(|c| !allowed(*c)) {
        return Err(DatabaseError::invalid(format!(
            "generated username contains {bad:?}; only letters, digits and _ . @ - are allowed"
        )));
    }
    name.truncate(max_len);
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
        if funcs.len() == MAX_STAGES {
            return Err(format!("more than {MAX_STAGES} functions in {action:?}"));
        }
        let words = split_words(stage)?;
        funcs.push(match words.as_slice() {
            [w, n] if w == "truncate" => Func::Truncate(number(n, 0, 1024)?),
            [w] if w == "lowercase" => Func::Lowercase,
            [w] if w == "uppercase" => Func::Uppercase,
            [w, a, b] if w == "replace" => Func::Replace(a.clone(), b.clone()),
            _ => return Err(format!("unsupported function {stage:?}")),
        });
    }
    Ok(Part::Action(source, funcs, action.trim().to_string()))
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
        let u = default_username(&input(), MAX_USERNAME_LEN);
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
    fn default_names_fit_shorter_limits() {
        // MySQL's 32: the role part is cut to 7.
        let u = default_username(&input(), 32);
        assert_eq!(u.len(), 32, "{u}");
        assert!(
            u.starts_with("shub_readonl_") && u.ends_with("_1700000000"),
            "{u}"
        );
        // A short role name is not padded.
        let short = UsernameInput {
            role: "ro",
            ..input()
        };
        let u = default_username(&short, 32);
        assert!(u.starts_with("shub_ro_") && u.len() == 27, "{u}");
        // MySQL's legacy 16: no unix time, two role characters, the random part whole.
        let u = default_username(&input(), 16);
        assert_eq!(u.len(), 16, "{u}");
        assert!(u.starts_with("shub_re_"), "{u}");
        assert!(u[8..].bytes().all(|b| BASE32.contains(&b)), "{u}");
    }

    #[test]
    fn roles_too_long_for_the_template_are_refused() {
        assert!(check_fits("", &"r".repeat(100), 16).is_ok());
        let t = "{{.RoleName}}_{{random 8}}";
        assert!(check_fits(t, "readonly", 32).is_ok());
        let e = check_fits(t, &"r".repeat(30), 32).unwrap_err().to_string();
        assert!(
            e.contains("too long") && e.contains("39 characters") && e.contains("allows 32"),
            "{e}"
        );
        assert!(check_fits(
            "{{.RoleName | truncate 10}}_{{random 8}}",
            &"r".repeat(30),
            32
        )
        .is_ok());
        // A role name the template cannot use at all is refused then too.
        assert!(check_fits("{{.RoleName}}", "a!b", 63).is_err());
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
        assert!(UsernameTemplate::parse(&"x".repeat(MAX_TEMPLATE_LEN + 1)).is_err());
        let stages = " | lowercase".repeat(MAX_STAGES + 1);
        assert!(UsernameTemplate::parse(&format!("{{{{.RoleName{stages}}}}}")).is_err());
        assert_eq!(long.render(&input()).unwrap().len(), MAX_USERNAME_LEN);
    }

    #[test]
    fn growth_is_bounded() {
        // Eight `replace ""` stages would need 285 MiB: refused when the connection is written.
        let bomb = format!(
            "{{{{.RoleName{} | truncate 63}}}}",
            " | replace \"\" \"xxxxxxxxx\"".repeat(8)
        );
        let e = UsernameTemplate::parse(&bomb).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("username_template: {{.RoleName | replace"),
            "{e}"
        );
        assert!(e.to_string().contains("longer than 4096 bytes"), "{e}");
        // One stage passes the config-time check but is still bounded by what it renders.
        let t = UsernameTemplate::parse("{{.DisplayName | replace \"\" \"xx\" | truncate 63}}")
            .unwrap();
        assert!(t.render(&input()).unwrap().starts_with("xxuxxsxxexx"));
        let long = "a".repeat(2000);
        let e = t
            .render(&UsernameInput {
                display_name: &long,
                ..input()
            })
            .unwrap_err();
        assert!(e.to_string().contains("longer than 4096 bytes"), "{e}");
        // A source value alone past the bound is refused too.
        let t = UsernameTemplate::parse("{{.DisplayName | truncate 10}}").unwrap();
        let huge = "a".repeat(MAX_VALUE_LEN + 1);
        assert!(t
            .render(&UsernameInput {
                display_name: &huge,
                ..input()
            })
            .is_err());
        // Realistic templates (Vault's default shape) still render.
        let vault = "v-{{.DisplayName | truncate 8}}-{{.RoleName | truncate 8}}-{{random 20}}-{{unix_time}}";
        let u = UsernameTemplate::parse(vault)
            .unwrap()
            .render(&input())
            .unwrap();
        assert!(u.starts_with("v-userpass-ReadOnly-"), "{u}");
        let dots =
            "{{.RoleName | replace \".\" \"_\" | replace \"-\" \"__\" | lowercase | truncate 40}}";
        assert!(UsernameTemplate::parse(dots).is_ok());
    }
}
