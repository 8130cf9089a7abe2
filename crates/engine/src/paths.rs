//! Declarative path tables: segment patterns mapped to an engine's route enum.
//!
//! A pattern is `/`-separated segments: a literal (`config`), a named segment (`{name}`,
//! exactly one non-empty segment) or a trailing rest (`{*path}`, one or more segments).
//! When several patterns match, the most specific wins: at the first differing segment a
//! literal beats a named segment, which beats a rest. Table order does not matter.

use std::collections::BTreeMap;

use crate::{EngineError, Operation};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(&'static str),
    Named(&'static str),
    Rest(&'static str),
}

impl Segment {
    fn rank(&self) -> u8 {
        match self {
            Segment::Literal(_) => 0,
            Segment::Named(_) => 1,
            Segment::Rest(_) => 2,
        }
    }
}

/// One row of a path table.
pub struct PathEntry<R> {
    segments: Vec<Segment>,
    pattern: &'static str,
    route: R,
    ops: &'static [Operation],
    help: &'static str,
}

impl<R> PathEntry<R> {
    /// The pattern as written.
    pub fn pattern(&self) -> &'static str {
        self.pattern
    }

    /// The help text.
    pub fn help(&self) -> &'static str {
        self.help
    }
}

/// Captured segments of a matched pattern.
#[derive(Debug, Default, Clone)]
pub struct Args {
    values: BTreeMap<&'static str, String>,
}

impl Args {
    /// The captured value of `{name}` or `{*name}`; empty when the pattern has no such name.
    pub fn get(&self, name: &str) -> &str {
        self.values.get(name).map(String::as_str).unwrap_or("")
    }
}

/// An engine's routes: pattern → (route, allowed operations, help).
pub struct PathTable<R: Copy> {
    entries: Vec<PathEntry<R>>,
}

impl<R: Copy> Default for PathTable<R> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
        }
    }
}

impl<R: Copy> PathTable<R> {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a pattern. Panics on a malformed pattern: tables are static program text, so
    /// this fails the first test that builds the engine, never a request.
    pub fn add(
        mut self,
        pattern: &'static str,
        route: R,
        ops: &'static [Operation],
        help: &'static str,
    ) -> Self {
        let segments = parse_pattern(pattern);
        self.entries.push(PathEntry {
            segments,
            pattern,
            route,
            ops,
            help,
        });
        self
    }

    /// The entries, for help listings.
    pub fn entries(&self) -> &[PathEntry<R>] {
        &self.entries
    }

    /// Finds the most specific entry matching `path` and checks `op` against it.
    /// No match is `UnsupportedPath` (404); a match without `op` is `UnsupportedOperation` (405).
    /// `Create` is accepted wherever `Update` is, since engines that do not distinguish the
    /// two serve both with one handler.
    pub fn route(&self, path: &str, op: Operation) -> Result<(R, Args), EngineError> {
        let parts: Vec<&str> = if path.is_empty() {
            Vec::new()
        } else {
            path.split('/').collect()
        };
        let mut best: Option<(&PathEntry<R>, Args)> = None;
        for entry in &self.entries {
            let Some(args) = match_segments(&entry.segments, &parts) else {
                continue;
            };
            let better = match &best {
                None => true,
                Some((b, _)) => more_specific(&entry.segments, &b.segments),
            };
            if better {
                best = Some((entry, args));
            }
        }
        let (entry, args) = best.ok_or(EngineError::UnsupportedPath)?;
        let allowed = entry.ops.contains(&op)
            || (op == Operation::Create && entry.ops.contains(&Operation::Update));
        if !allowed {
            return Err(EngineError::UnsupportedOperation);
        }
        Ok((entry.route, args))
    }
}

fn parse_pattern(pattern: &'static str) -> Vec<Segment> {
    if pattern.is_empty() {
        return Vec::new();
    }
    let parts: Vec<&'static str> = pattern.split('/').collect();
    let n = parts.len();
    parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            if let Some(inner) = p.strip_prefix("{*").and_then(|s| s.strip_suffix('}')) {
                assert!(i + 1 == n, "rest segment must be last in {pattern:?}");
                Segment::Rest(inner)
            } else if let Some(inner) = p.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Segment::Named(inner)
            } else {
                assert!(!p.is_empty(), "empty segment in {pattern:?}");
                Segment::Literal(p)
            }
        })
        .collect()
}

fn match_segments(segments: &[Segment], parts: &[&str]) -> Option<Args> {
    let mut args = Args::default();
    for (i, seg) in segments.iter().enumerate() {
        match seg {
            Segment::Literal(l) => {
                if parts.get(i) != Some(l) {
                    return None;
                }
            }
            Segment::Named(name) => {
                let p = parts.get(i).filter(|p| !p.is_empty())?;
                args.values.insert(name, (*p).to_string());
            }
            Segment::Rest(name) => {
                let rest = parts.get(i..).filter(|r| !r.is_empty())?.join("/");
                if rest.is_empty() {
                    return None;
                }
                args.values.insert(name, rest);
                return Some(args);
            }
        }
    }
    (parts.len() == segments.len()).then_some(args)
}

fn more_specific(a: &[Segment], b: &[Segment]) -> bool {
    for (x, y) in a.iter().zip(b) {
        if x.rank() != y.rank() {
            return x.rank() < y.rank();
        }
    }
    a.len() > b.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use Operation::*;

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum R {
        Config,
        Role,
        Roles,
        Data,
        DataConfig,
    }

    fn table() -> PathTable<R> {
        PathTable::new()
            .add("data/{*path}", R::Data, &[Read, Update, Delete], "data")
            .add("data/config", R::DataConfig, &[Read], "odd but specific")
            .add("roles/{name}", R::Role, &[Read, Update, Delete], "a role")
            .add("roles", R::Roles, &[List], "roles")
            .add("config", R::Config, &[Read, Update], "config")
    }

    #[test]
    fn routes_by_specificity() {
        let t = table();
        let (r, a) = t.route("data/app/db", Read).unwrap();
        assert_eq!((r, a.get("path")), (R::Data, "app/db"));
        assert_eq!(t.route("data/config", Read).unwrap().0, R::DataConfig);
        let (r, a) = t.route("roles/ro", Create).unwrap();
        assert_eq!((r, a.get("name")), (R::Role, "ro"));
        assert_eq!(t.route("roles", List).unwrap().0, R::Roles);
        assert_eq!(t.route("config", Update).unwrap().0, R::Config);
    }

    #[test]
    fn unknown_paths_and_operations() {
        let t = table();
        assert!(matches!(
            t.route("nope", Read),
            Err(EngineError::UnsupportedPath)
        ));
        assert!(matches!(
            t.route("data", Read),
            Err(EngineError::UnsupportedPath)
        ));
        assert!(matches!(
            t.route("roles/a/b", Read),
            Err(EngineError::UnsupportedPath)
        ));
        assert!(matches!(
            t.route("roles/", Read),
            Err(EngineError::UnsupportedPath)
        ));
        assert!(matches!(
            t.route("config", Delete),
            Err(EngineError::UnsupportedOperation)
        ));
    }
}
