//! What a scan leaves out on purpose: paths matched by ignore patterns (`--ignore`, and a
//! `.secrethubignore` file at the scanned root, gitignore's syntax for the common cases), and
//! findings a baseline has accepted (a JSON report of an earlier scan, as detect-secrets'
//! `.secrets.baseline` and gitleaks' baseline are used).

use std::collections::HashSet;
use std::path::Path;

use regex::RegexSet;

use crate::scan::Finding;

/// The ignore file read at the root of each scanned directory.
pub const IGNORE_FILE: &str = ".secrethubignore";

/// Ignore patterns: `*` and `?` within one path segment, `**` across segments, a leading `/`
/// anchors at the root, a pattern without `/` matches a name at any depth, and a match on a
/// directory covers everything under it.
#[derive(Debug, Default, Clone)]
pub struct PathFilter {
    set: Option<RegexSet>,
}

fn glob_to_regex(pattern: &str) -> String {
    let trimmed = pattern.trim_end_matches('/');
    let anchored = trimmed.starts_with('/') || trimmed.contains('/');
    let body = trimmed.trim_start_matches('/');
    let mut re = String::from("^");
    if !anchored {
        re.push_str("(?:.*/)?");
    }
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                if chars.peek() == Some(&'/') {
                    chars.next();
                    re.push_str("(?:.*/)?");
                } else {
                    re.push_str(".*");
                }
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push_str("(?:/.*)?$");
    re
}

impl PathFilter {
    /// Builds the filter from patterns (blank lines and `#` comments skipped).
    pub fn new<'a>(patterns: impl IntoIterator<Item = &'a str>) -> Result<PathFilter, String> {
        let res: Vec<String> = patterns
            .into_iter()
            .map(str::trim)
            .filter(|p| !p.is_empty() && !p.starts_with('#'))
            .map(glob_to_regex)
            .collect();
        if res.is_empty() {
            return Ok(PathFilter::default());
        }
        let set = RegexSet::new(&res).map_err(|e| format!("ignore patterns: {e}"))?;
        Ok(PathFilter { set: Some(set) })
    }

    /// The patterns given plus those of `root`'s `.secrethubignore`, if it has one.
    pub fn for_root(root: &Path, extra: &[String]) -> Result<PathFilter, String> {
        let file = std::fs::read_to_string(root.join(IGNORE_FILE)).unwrap_or_default();
        PathFilter::new(extra.iter().map(String::as_str).chain(file.lines()))
    }

    /// Whether `relative` (`/`-separated, from the scanned root) is left out.
    pub fn ignores(&self, relative: &str) -> bool {
        self.set.as_ref().is_some_and(|s| s.is_match(relative))
    }
}

/// Findings accepted earlier: `(path, fingerprint)` pairs from a JSON report.
#[derive(Debug, Default)]
pub struct Baseline {
    accepted: HashSet<(String, String)>,
}

impl Baseline {
    /// Reads a report written by `secrethub scan -format=json`.
    pub fn load(path: &Path) -> Result<Baseline, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the baseline {}: {e}", path.display()))?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| format!("the baseline {} is not JSON: {e}", path.display()))?;
        let findings = v["findings"].as_array().ok_or_else(|| {
            format!(
                "the baseline {} has no `findings` list (write it with -format=json)",
                path.display()
            )
        })?;
        let accepted = findings
            .iter()
            .filter_map(|f| {
                Some((
                    f["path"].as_str()?.to_string(),
                    f["fingerprint"].as_str()?.to_string(),
                ))
            })
            .collect();
        Ok(Baseline { accepted })
    }

    /// Whether the finding was accepted (same file, same value).
    pub fn accepts(&self, f: &Finding) -> bool {
        self.accepted
            .contains(&(f.path.clone(), f.fingerprint.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gitignore_like_patterns() {
        let f = PathFilter::new([
            "*.test.env",
            "/fixtures/",
            "docs/**/examples",
            "build",
            "# a comment",
            "",
        ])
        .unwrap();
        for (path, ignored) in [
            ("a.test.env", true),
            ("svc/b.test.env", true),
            ("a.env", false),
            ("fixtures/x.yaml", true),
            ("svc/fixtures/x.yaml", false),
            ("docs/examples/a.md", true),
            ("docs/api/v1/examples/a.md", true),
            ("docs/api.md", false),
            ("build/out.txt", true),
            ("svc/build/out.txt", true),
            ("builder/x", false),
        ] {
            assert_eq!(f.ignores(path), ignored, "{path}");
        }
        assert!(!PathFilter::default().ignores("anything"));
    }
}
