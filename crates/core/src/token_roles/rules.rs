//! The pure rules of token roles, as OpenBao words and applies them: which names and path
//! suffixes are valid, how policy lists are sanitised and globbed, and how refusals print
//! lists. No IO; `token_roles` and `token_create` call these.

/// The role named in a path, `None` when the name is not one Vault's pattern admits
/// (`\w(([\w-.]+)?\w)?`): such a path does not exist.
pub(crate) fn role_name(name: &str) -> Option<&str> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let ok = name.starts_with(word)
        && name.ends_with(word)
        && name.chars().all(|c| word(c) || c == '-' || c == '.');
    ok.then_some(name)
}

/// Single addresses (`/32`, `/128`) are shown without their prefix length, as OpenBao does.
pub(crate) fn show_cidrs(blocks: &[String]) -> Vec<String> {
    blocks
        .iter()
        .map(|b| match b.split_once('/') {
            Some((ip, "32")) if ip.contains('.') => ip.to_string(),
            Some((ip, "128")) if ip.contains(':') => ip.to_string(),
            _ => b.clone(),
        })
        .collect()
}

/// OpenBao's unanchored check of a path suffix: somewhere in it, a word character, one or
/// more of word characters, `-` and `.`, and a word character.
pub(super) fn path_suffix_ok(s: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    s.split(|c: char| !(word(c) || c == '-' || c == '.'))
        .any(|run| {
            let first = run.find(word);
            let last = run.rfind(word);
            matches!((first, last), (Some(f), Some(l)) if l >= f + 2)
        })
}

/// Vault's `SanitizePolicies`: trimmed, lowercased, blanks dropped, `root` alone when
/// present, `default` added when asked for, sorted and deduplicated.
pub(crate) fn sanitize_policies(policies: &[String], add_default: bool) -> Vec<String> {
    let mut out: Vec<String> = policies
        .iter()
        .map(|p| p.trim().to_lowercase())
        .filter(|p| !p.is_empty())
        .collect();
    if out.iter().any(|p| p == "root") {
        return vec!["root".into()];
    }
    if add_default {
        out.push("default".into());
    }
    lower_dedup(out)
}

pub(super) fn lower_dedup(list: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = list
        .into_iter()
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// A list as Go's `%q` prints a `[]string`: `["a" "b"]`.
pub(super) fn go_quoted(list: &[String]) -> String {
    let items: Vec<String> = list.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", items.join(" "))
}

pub(crate) use secrethub_common::glob::glob_match;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_anywhere() {
        for (pattern, text, want) in [
            ("dev-*", "dev-a", true),
            ("*-prod", "dev-prod", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "acb", false),
            ("ab*ba", "aba", false),
            ("*", "", true),
            ("exact", "exact", true),
            ("exact", "exactly", false),
        ] {
            assert_eq!(glob_match(pattern, text), want, "{pattern} vs {text}");
        }
    }

    #[test]
    fn names_and_suffixes_follow_openbao() {
        assert_eq!(role_name("web-1.prod"), Some("web-1.prod"));
        assert_eq!(role_name("a"), Some("a"));
        for bad in ["", "-a", "a-", "a b", "a/b"] {
            assert_eq!(role_name(bad), None, "{bad:?}");
        }
        assert!(path_suffix_ok("v1x") && path_suffix_ok("abc/def") && path_suffix_ok("x!abc"));
        assert!(!path_suffix_ok("v1") && !path_suffix_ok("a-") && !path_suffix_ok("a.-"));
    }

    #[test]
    fn policies_are_sanitised_as_vault_does() {
        let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            sanitize_policies(&l(&[" B", "a", "a", ""]), true),
            l(&["a", "b", "default"])
        );
        assert_eq!(
            sanitize_policies(&l(&["default", "root", "x"]), true),
            l(&["root"])
        );
        assert_eq!(go_quoted(&l(&["a", "zzz"])), r#"["a" "zzz"]"#);
        assert_eq!(go_quoted(&[]), "[]");
    }
}
