//! Vault's name globs: `*` matches any run of characters (none included), anywhere in the
//! pattern and any number of times; every other character is literal. Used for allowed
//! roles, bound claims and service accounts, token role aliases, certificate names.

/// Whether `text` matches `pattern`. Linear: each literal part is found once, left to right.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        // One part: no `*` at all.
        return pattern == text;
    };
    if text.len() < first.len() + last.len() || !text.starts_with(first) || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in middle {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn stars_match_any_run_anywhere() {
        for (pattern, text, matches) in [
            ("*", "", true),
            ("*", "anything", true),
            ("app", "app", true),
            ("app", "apps", false),
            ("app-*", "app-billing", true),
            ("*-prod", "orders-prod", true),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXcYb", false),
            ("ab*ba", "aba", false),
            ("*.example.com", "www.example.com", true),
            ("*.example.com", "example.com", false),
            ("", "", true),
            ("", "x", false),
        ] {
            assert_eq!(glob_match(pattern, text), matches, "{pattern} ~ {text}");
        }
    }
}
