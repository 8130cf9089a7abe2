//! Core's built-in mounts (`sys/`, `auth/token/`, `cubbyhole/`, `identity/`): which one a
//! mount is, and the declaration each built-in makes in its own module, beside its handler:
//! its route table (`ROUTES`) and its special paths (`SPECIAL_PATHS`: the paths that need
//! `sudo` and those served without a token, OpenBao's `PathsSpecial`).
//!
//! The pipeline reads both: a path no route of its built-in matches is a 404 before the
//! handler runs, so a handler arm without a row in its table is unreachable, and the
//! authorisation matrix test (`crates/server/tests/it/authz_matrix.rs`) walks every row.

use secrethub_engine::Operation;

/// One of core's built-in mounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltIn {
    /// `sys/`.
    System,
    /// `auth/token/`.
    Token,
    /// `cubbyhole/`.
    Cubbyhole,
    /// `identity/`.
    Identity,
}

/// One row of a built-in's route table. Patterns are segment patterns relative to the
/// mount, as in `secrethub_engine::PathTable`: a literal, `{name}` (one non-empty segment)
/// or a trailing `{*rest}` (one or more segments); `""` is the mount itself.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinRoute {
    /// The pattern.
    pub pattern: &'static str,
    /// The operations it serves (a write is listed as `Update`; the pipeline's existence
    /// check may turn it into `Create`).
    pub ops: &'static [Operation],
}

/// Special paths in Vault's syntax, relative to the mount: a trailing `*` matches any
/// suffix, anything else matches exactly.
#[derive(Debug, Clone, Copy)]
pub struct SpecialPaths {
    /// Paths that need `sudo` on top of the operation's capability.
    pub sudo: &'static [&'static str],
    /// Paths served without a token and without an ACL check.
    pub unauthenticated: &'static [&'static str],
}

impl SpecialPaths {
    /// No special paths.
    pub const NONE: SpecialPaths = SpecialPaths {
        sudo: &[],
        unauthenticated: &[],
    };
}

impl BuiltIn {
    /// Every built-in.
    pub const ALL: [BuiltIn; 4] = [
        BuiltIn::System,
        BuiltIn::Token,
        BuiltIn::Cubbyhole,
        BuiltIn::Identity,
    ];

    /// The built-in serving mounts of `engine_type`, if core serves that type itself.
    pub fn of(engine_type: &str) -> Option<BuiltIn> {
        match engine_type {
            "system" => Some(BuiltIn::System),
            "token" => Some(BuiltIn::Token),
            "cubbyhole" => Some(BuiltIn::Cubbyhole),
            "identity" => Some(BuiltIn::Identity),
            _ => None,
        }
    }

    /// Where the built-in is mounted (it cannot be mounted anywhere else).
    pub fn mount_path(self) -> &'static str {
        match self {
            BuiltIn::System => "sys/",
            BuiltIn::Token => "auth/token/",
            BuiltIn::Cubbyhole => "cubbyhole/",
            BuiltIn::Identity => "identity/",
        }
    }

    /// The built-in's route table.
    pub fn routes(self) -> &'static [BuiltinRoute] {
        match self {
            BuiltIn::System => crate::sys::ROUTES,
            BuiltIn::Token => crate::token_api::ROUTES,
            BuiltIn::Cubbyhole => crate::cubbyhole::ROUTES,
            BuiltIn::Identity => crate::identity::ROUTES,
        }
    }

    /// The built-in's sudo and unauthenticated paths.
    pub fn special_paths(self) -> &'static SpecialPaths {
        match self {
            BuiltIn::System => &crate::sys::SPECIAL_PATHS,
            BuiltIn::Token => &crate::token_api::SPECIAL_PATHS,
            BuiltIn::Cubbyhole => &crate::cubbyhole::SPECIAL_PATHS,
            BuiltIn::Identity => &crate::identity::SPECIAL_PATHS,
        }
    }

    /// Whether some route of the table matches `rel` (relative to the mount).
    pub(crate) fn serves(self, rel: &str) -> bool {
        self.routes()
            .iter()
            .any(|r| pattern_matches(r.pattern, rel))
    }
}

/// Vault's special-path match: `prefix*` matches by prefix, anything else exactly.
pub(crate) fn matches_special(patterns: &[&str], path: &str) -> bool {
    patterns.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => path == *p,
    })
}

/// Whether a segment pattern (see [`BuiltinRoute`]) matches `path`.
fn pattern_matches(pattern: &str, path: &str) -> bool {
    if pattern.is_empty() || path.is_empty() {
        return pattern.is_empty() && path.is_empty();
    }
    let segments: Vec<&str> = pattern.split('/').collect();
    let parts: Vec<&str> = path.split('/').collect();
    for (i, seg) in segments.iter().enumerate() {
        if seg.starts_with("{*") {
            return parts.len() > i;
        }
        match parts.get(i) {
            Some(p) if seg.starts_with('{') && !p.is_empty() => {}
            Some(p) if p == seg => {}
            _ => return false,
        }
    }
    parts.len() == segments.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_segments() {
        assert!(pattern_matches("", ""));
        assert!(!pattern_matches("", "a"));
        assert!(pattern_matches("mounts", "mounts"));
        assert!(!pattern_matches("mounts", "mounts/x"));
        assert!(pattern_matches("mounts/{*path}", "mounts/a/b/tune"));
        assert!(!pattern_matches("mounts/{*path}", "mounts"));
        assert!(pattern_matches("entity/id/{id}", "entity/id/x"));
        assert!(!pattern_matches("entity/id/{id}", "entity/id/x/y"));
        assert!(pattern_matches("{*path}", "a"));
    }

    #[test]
    fn special_paths_match_as_in_vault() {
        let sudo = BuiltIn::System.special_paths().sudo;
        assert!(matches_special(sudo, "audit"));
        assert!(matches_special(sudo, "audit/file"));
        assert!(!matches_special(sudo, "audit-hash/file"));
        assert!(!matches_special(sudo, "mounts"));
        assert!(matches_special(sudo, "revoke-force/secret"));
        assert!(matches_special(sudo, "revoke-prefix/secret"));
        assert!(matches_special(sudo, "auth/userpass"));
        assert!(matches_special(sudo, "auth/userpass/tune"));
        assert!(!matches_special(sudo, "auth"));
        assert!(matches_special(sudo, "leases"));
        assert!(matches_special(sudo, "leases/lookup/"));
        assert!(!matches_special(sudo, "leases/lookup"));
        let token = BuiltIn::Token.special_paths().sudo;
        assert!(matches_special(token, "accessors/"));
        assert!(matches_special(token, "revoke-orphan"));
    }

    #[test]
    fn every_special_path_is_served() {
        for b in BuiltIn::ALL {
            let s = b.special_paths();
            for p in s.sudo.iter().chain(s.unauthenticated) {
                let bare = p.trim_end_matches('*').trim_end_matches('/');
                let under = p.replace('*', "x");
                // `raw` is OpenBao's and declared so that it stays sudo if it is ever served.
                assert!(
                    b.serves(bare) || b.serves(&under) || p.starts_with("raw"),
                    "{b:?} declares {p} but serves no such path"
                );
            }
        }
    }
}
