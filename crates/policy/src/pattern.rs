//! Path patterns of policy rules and their priority.
//!
//! A pattern is an exact path (`secret/foo`), a prefix glob with a trailing `*`
//! (`secret/foo*` matches `secret/foo` and `secret/food/bar`), or a segment pattern where a
//! `+` segment matches exactly one path segment (`secret/+/config`, also with a trailing `*`:
//! `secret/+/config/*`). A `*` anywhere but at the end is a literal character.
//!
//! When several non-exact patterns match a path, the most specific wins, following Vault's
//! "priority matching" rules, in order:
//! 1. the pattern whose first wildcard (`+` or the trailing `*`) comes later wins;
//! 2. a pattern not ending in `*` beats one that does;
//! 3. fewer `+` segments win;
//! 4. the longer pattern wins;
//! 5. the lexicographically larger pattern wins.
//!
//! An exact pattern that equals the path always beats every non-exact one.

use std::cmp::Ordering;

/// A parsed path pattern. `text` (leading `/` removed) identifies it: rules with the same text
/// are merged, whatever policies they come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathPattern {
    text: String,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Exact,
    /// A trailing `*` without `+` segments: the text without the `*` is a plain prefix.
    Prefix {
        stem: String,
    },
    /// At least one `+` segment, optionally with a trailing `*`.
    Segments {
        stem: String,
        segments: Vec<String>,
        is_prefix: bool,
        first_wildcard: usize,
        wildcards: usize,
    },
}

/// Why a pattern text is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatternError {
    /// `+*` reads as "a segment wildcard that is also a glob", which Vault forbids.
    PlusStar,
}

impl PathPattern {
    /// Parses a pattern as written in a policy.
    pub(crate) fn parse(raw: &str) -> Result<PathPattern, PatternError> {
        // Request paths never start with `/`, so a rule written with one means the same path.
        let text = raw.strip_prefix('/').unwrap_or(raw).to_owned();
        if text.contains("+*") {
            return Err(PatternError::PlusStar);
        }
        let has_segment_wildcard = text.split('/').any(|segment| segment == "+");
        let kind = match (has_segment_wildcard, text.strip_suffix('*')) {
            (false, None) => Kind::Exact,
            (false, Some(stem)) => Kind::Prefix {
                stem: stem.to_owned(),
            },
            (true, glob_stem) => {
                let stem = glob_stem.unwrap_or(&text).to_owned();
                let segments: Vec<String> = stem.split('/').map(str::to_owned).collect();
                Kind::Segments {
                    first_wildcard: first_segment_wildcard(&text),
                    wildcards: segments.iter().filter(|s| *s == "+").count(),
                    is_prefix: glob_stem.is_some(),
                    segments,
                    stem,
                }
            }
        };
        Ok(PathPattern { text, kind })
    }

    /// The pattern as written, without a leading `/`.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    pub(crate) fn is_exact(&self) -> bool {
        self.kind == Kind::Exact
    }

    /// Whether a non-exact pattern matches `path` (exact patterns are looked up by text);
    /// `parts` is `path` split on `/`, done once by the caller for all patterns.
    pub(crate) fn matches(&self, path: &str, parts: &[&str]) -> bool {
        match &self.kind {
            Kind::Exact => self.text == path,
            Kind::Prefix { stem } => path.starts_with(stem.as_str()),
            Kind::Segments {
                segments,
                is_prefix,
                ..
            } => {
                if parts.len() < segments.len() || (!is_prefix && parts.len() != segments.len()) {
                    return false;
                }
                let last = segments.len() - 1;
                segments
                    .iter()
                    .zip(parts)
                    .enumerate()
                    .all(|(i, (seg, part))| {
                        seg == "+"
                            || seg == part
                            || (*is_prefix && i == last && part.starts_with(seg.as_str()))
                    })
            }
        }
    }

    /// Orders two non-exact patterns by priority: `Greater` means `self` wins.
    pub(crate) fn priority_cmp(&self, other: &PathPattern) -> Ordering {
        let (a, b) = (self.priority_key(), other.priority_key());
        a.first_wildcard
            .cmp(&b.first_wildcard)
            .then(b.is_prefix.cmp(&a.is_prefix))
            .then(b.wildcards.cmp(&a.wildcards))
            .then(a.stem.len().cmp(&b.stem.len()))
            .then(a.stem.cmp(b.stem))
    }

    fn priority_key(&self) -> PriorityKey<'_> {
        match &self.kind {
            Kind::Exact => PriorityKey {
                first_wildcard: usize::MAX,
                is_prefix: false,
                wildcards: 0,
                stem: &self.text,
            },
            Kind::Prefix { stem } => PriorityKey {
                first_wildcard: stem.len(),
                is_prefix: true,
                wildcards: 0,
                stem,
            },
            Kind::Segments {
                stem,
                is_prefix,
                first_wildcard,
                wildcards,
                ..
            } => PriorityKey {
                first_wildcard: *first_wildcard,
                is_prefix: *is_prefix,
                wildcards: *wildcards,
                stem,
            },
        }
    }
}

struct PriorityKey<'a> {
    first_wildcard: usize,
    is_prefix: bool,
    wildcards: usize,
    /// The pattern without its trailing `*`, which Vault compares for length and order.
    stem: &'a str,
}

/// Byte offset of the first `+` segment. Only whole `+` segments are wildcards here, so a `+`
/// inside a segment (`a+b`) is literal and doesn't count.
fn first_segment_wildcard(text: &str) -> usize {
    let mut offset = 0;
    for segment in text.split('/') {
        if segment == "+" {
            return offset;
        }
        offset += segment.len() + 1;
    }
    text.len()
}

#[cfg(test)]
mod tests {
    use super::PathPattern;
    use std::cmp::Ordering;

    #[test]
    fn priority_is_a_total_order() {
        let texts = [
            "*", "+", "a*", "a/*", "a/+", "a/+*x", "a/b", "a/+/c", "a/+/c*", "a/+/+", "a/+/+/*",
            "a/b/+", "a/b*", "ab/+", "b/+/c", "a/+/d",
        ];
        let patterns: Vec<PathPattern> = texts
            .iter()
            .filter_map(|t| PathPattern::parse(t).ok())
            .filter(|p| !p.is_exact())
            .collect();
        for a in &patterns {
            for b in &patterns {
                let ab = a.priority_cmp(b);
                assert_eq!(ab, b.priority_cmp(a).reverse(), "{a:?} {b:?}");
                assert_eq!(ab == Ordering::Equal, a.text() == b.text(), "{a:?} {b:?}");
            }
        }
    }
}
