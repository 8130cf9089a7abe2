//! Declarative path tables: segment patterns mapped to an engine's route enum.
//!
//! A pattern is `/`-separated segments: a literal (`config`), a named segment (`{name}`,
//! exactly one non-empty segment) or a trailing rest (`{*path}`, one or more segments).
//! When several patterns match, the most specific wins: at the first differing segment a
//! literal beats a named segment, which beats a rest. Table order does not matter.
//!
//! A row may carry [`PathFlags`]: a login endpoint, a path served without a token, a path
//! that needs `sudo`. Core reads them through [`crate::Engine::path_flags`] (by default from
//! the table [`crate::Engine::paths`] returns) before it looks at the token, so an engine
//! declares how its paths are protected on the same row that routes them:
//!
//! ```
//! use secrethub_engine::{Operation::*, PathEntry, PathFlags, PathTable, Paths};
//!
//! #[derive(Clone, Copy)]
//! enum Route { Login, Ca, Root }
//!
//! let table = PathTable::new()
//!     .entry(PathEntry::new("login", Route::Login, &[Update], "Logs in.").login())
//!     .entry(PathEntry::new("ca/pem", Route::Ca, &[Read], "The CA, as PEM.").unauthenticated())
//!     .entry(PathEntry::new("root", Route::Root, &[Update, Delete], "The root.").sudo());
//! assert!(table.flags("login", Update).login);
//! assert!(table.flags("ca/pem", Read).unauthenticated);
//! assert!(table.flags("root", Delete).sudo);
//! assert_eq!(table.flags("nowhere", Read), PathFlags::NONE);
//! ```

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

/// How core treats requests to a path, beyond the ACL grant of the operation (OpenBao's
/// `PathsSpecial`), as declared on the path's row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PathFlags {
    /// An auth method's login endpoint: served without a token and without an ACL check, a
    /// token sent along is ignored (not used up, not the caller), the rate limit may be
    /// scoped to the role ([`crate::Engine::login_role`]), and a [`crate::Response::login`]
    /// answer becomes a token. Only honoured on auth mounts.
    pub login: bool,
    /// Served without a token and without an ACL check (a CA certificate, a CRL, an
    /// unwrap). A token sent along is still looked up and, when valid, is the caller.
    pub unauthenticated: bool,
    /// Needs the `sudo` capability on top of the operation's (OpenBao's
    /// `PathsSpecial.Root`).
    pub sudo: bool,
    /// Takes a write whose body is not JSON (an OCSP request in DER, a CSR in PEM): the
    /// bytes and their content type reach the engine as [`crate::Request::raw_body`]. Any
    /// other path refuses such a body with a 400.
    pub raw_body: bool,
}

impl PathFlags {
    /// No flag: a token and the operation's grant are needed, nothing more.
    pub const NONE: PathFlags = PathFlags {
        login: false,
        unauthenticated: false,
        sudo: false,
        raw_body: false,
    };

    /// Whether the path is served without a token (a login or an unauthenticated path).
    pub fn without_token(self) -> bool {
        self.login || self.unauthenticated
    }
}

/// One row of a path table: [`PathEntry::new`] plus, for a special path, the builder
/// methods [`login`](PathEntry::login), [`unauthenticated`](PathEntry::unauthenticated),
/// [`sudo`](PathEntry::sudo) or [`sudo_for`](PathEntry::sudo_for).
pub struct PathEntry<R> {
    segments: Vec<Segment>,
    pattern: &'static str,
    route: R,
    ops: &'static [Operation],
    help: &'static str,
    flags: PathFlags,
    /// The operations `flags.sudo` applies to; `None` is all of them.
    sudo_ops: Option<&'static [Operation]>,
}

impl<R> PathEntry<R> {
    /// A row without flags. Panics on a malformed pattern: tables are static program text,
    /// so this fails the first test that builds the engine, never a request.
    pub fn new(
        pattern: &'static str,
        route: R,
        ops: &'static [Operation],
        help: &'static str,
    ) -> Self {
        PathEntry {
            segments: parse_pattern(pattern),
            pattern,
            route,
            ops,
            help,
            flags: PathFlags::NONE,
            sudo_ops: None,
        }
    }

    /// Marks the row as an auth method's login endpoint (see [`PathFlags::login`]).
    pub fn login(mut self) -> Self {
        self.flags.login = true;
        self
    }

    /// Lets the row take a body that is not JSON (see [`PathFlags::raw_body`]).
    pub fn raw_body(mut self) -> Self {
        self.flags.raw_body = true;
        self
    }

    /// Marks the row as served without a token (see [`PathFlags::unauthenticated`]).
    pub fn unauthenticated(mut self) -> Self {
        self.flags.unauthenticated = true;
        self
    }

    /// Makes every operation of the row need `sudo` (see [`PathFlags::sudo`]).
    pub fn sudo(mut self) -> Self {
        self.flags.sudo = true;
        self.sudo_ops = None;
        self
    }

    /// Makes only `ops` of the row need `sudo` (a write given as `Update` covers `Create`).
    pub fn sudo_for(mut self, ops: &'static [Operation]) -> Self {
        self.flags.sudo = true;
        self.sudo_ops = Some(ops);
        self
    }

    /// The pattern as written.
    pub fn pattern(&self) -> &'static str {
        self.pattern
    }

    /// The help text.
    pub fn help(&self) -> &'static str {
        self.help
    }

    /// The operations the row serves.
    pub fn ops(&self) -> &'static [Operation] {
        self.ops
    }

    /// The row's flags for `op`. They do not depend on whether the row serves `op`, so a
    /// refused operation on a special path is refused the same way as a served one.
    pub fn flags(&self, op: Operation) -> PathFlags {
        let mut flags = self.flags;
        if let Some(ops) = self.sudo_ops {
            flags.sudo =
                ops.contains(&op) || (op == Operation::Create && ops.contains(&Operation::Update));
        }
        flags
    }
}

/// What core reads of an engine's path table, whatever the engine's route type
/// ([`crate::Engine::paths`]).
pub trait Paths: Send + Sync {
    /// The flags of the row serving `path` (relative to the mount, no leading or trailing
    /// slash) for `op`; [`PathFlags::NONE`] when no row matches.
    fn flags(&self, path: &str, op: Operation) -> PathFlags;
}

impl<R: Copy + Send + Sync> Paths for PathTable<R> {
    fn flags(&self, path: &str, op: Operation) -> PathFlags {
        self.find(path).map_or(PathFlags::NONE, |e| e.flags(op))
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

    /// Adds a row without flags (see [`PathEntry::new`]).
    pub fn add(
        mut self,
        pattern: &'static str,
        route: R,
        ops: &'static [Operation],
        help: &'static str,
    ) -> Self {
        self.entries.push(PathEntry::new(pattern, route, ops, help));
        self
    }

    /// Adds a row built with [`PathEntry::new`] and its flag methods.
    pub fn entry(mut self, entry: PathEntry<R>) -> Self {
        self.entries.push(entry);
        self
    }

    /// The entries, for help listings.
    pub fn entries(&self) -> &[PathEntry<R>] {
        &self.entries
    }

    /// The most specific entry matching `path`, whatever the operation.
    pub fn find(&self, path: &str) -> Option<&PathEntry<R>> {
        self.best(&split(path))
    }

    fn best(&self, parts: &[&str]) -> Option<&PathEntry<R>> {
        let mut best: Option<&PathEntry<R>> = None;
        for entry in &self.entries {
            if !matches(&entry.segments, parts) {
                continue;
            }
            if best.is_none_or(|b| more_specific(&entry.segments, &b.segments)) {
                best = Some(entry);
            }
        }
        best
    }

    /// Finds the most specific entry matching `path` and checks `op` against it.
    /// No match is `UnsupportedPath` (404); a match without `op` is `UnsupportedOperation` (405).
    /// `Create` is accepted wherever `Update` is, since engines that do not distinguish the
    /// two serve both with one handler.
    pub fn route(&self, path: &str, op: Operation) -> Result<(R, Args), EngineError> {
        let parts = split(path);
        let entry = self.best(&parts).ok_or(EngineError::UnsupportedPath)?;
        let allowed = entry.ops.contains(&op)
            || (op == Operation::Create && entry.ops.contains(&Operation::Update));
        if !allowed {
            return Err(EngineError::UnsupportedOperation);
        }
        Ok((entry.route, capture(&entry.segments, &parts)))
    }
}

fn split(path: &str) -> Vec<&str> {
    if path.is_empty() {
        Vec::new()
    } else {
        path.split('/').collect()
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

fn matches(segments: &[Segment], parts: &[&str]) -> bool {
    for (i, seg) in segments.iter().enumerate() {
        match seg {
            Segment::Literal(l) => {
                if parts.get(i) != Some(l) {
                    return false;
                }
            }
            Segment::Named(_) => {
                if parts.get(i).is_none_or(|p| p.is_empty()) {
                    return false;
                }
            }
            // One or more segments whose joined text is not empty.
            Segment::Rest(_) => {
                return parts
                    .get(i..)
                    .is_some_and(|r| r.len() > 1 || r.first().is_some_and(|p| !p.is_empty()));
            }
        }
    }
    parts.len() == segments.len()
}

/// The captured values of a pattern [`matches`] accepted.
fn capture(segments: &[Segment], parts: &[&str]) -> Args {
    let mut args = Args::default();
    for (i, seg) in segments.iter().enumerate() {
        match seg {
            Segment::Literal(_) => {}
            Segment::Named(name) => {
                args.values.insert(name, parts[i].to_string());
            }
            Segment::Rest(name) => {
                args.values.insert(name, parts[i..].join("/"));
            }
        }
    }
    args
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
    fn flags_come_from_the_most_specific_row() {
        let t = PathTable::new()
            .entry(PathEntry::new("{*path}", R::Data, &[Read], "anything").unauthenticated())
            .entry(PathEntry::new("config", R::Config, &[Read, Update], "config").sudo())
            .entry(PathEntry::new("roles", R::Roles, &[Read, List], "roles").sudo_for(&[List]))
            .entry(PathEntry::new("roles/{name}", R::Role, &[Update], "login").login())
            .add("data/config", R::DataConfig, &[Read], "plain");
        let sudo = PathFlags {
            sudo: true,
            ..PathFlags::NONE
        };
        assert_eq!(t.flags("config", Read), sudo);
        // Flags do not depend on whether the row serves the operation.
        assert_eq!(t.flags("config", Delete), sudo);
        assert_eq!(t.flags("roles", List), sudo);
        assert_eq!(t.flags("roles", Read), PathFlags::NONE);
        assert!(t.flags("roles/a", Create).login);
        assert!(!t.flags("roles/a", Create).sudo);
        assert_eq!(t.flags("data/config", Read), PathFlags::NONE);
        assert!(t.flags("data/other", Read).unauthenticated);
        assert!(t.flags("x", Read).without_token());
        assert_eq!(PathTable::<R>::new().flags("x", Read), PathFlags::NONE);
        let update_only = PathTable::new()
            .entry(PathEntry::new("r", R::Config, &[Update], "r").sudo_for(&[Update]));
        assert!(update_only.flags("r", Create).sudo);
        assert!(!update_only.flags("r", Read).sudo);
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
