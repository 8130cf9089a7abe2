//! Core's built-in mounts (`sys/`, `auth/token/`, `cubbyhole/`, `identity/`): which one a
//! mount is, and the path table each built-in declares in its own module, beside its
//! handler (`PATHS`): its routes, with the flags of its special paths on their rows (the
//! paths that need `sudo` and those served without a token, OpenBao's `PathsSpecial`), as
//! an engine declares them on its `PathTable`.
//!
//! The pipeline reads both: a path no row of its built-in matches is a 404 before the
//! handler runs, so a handler arm without a row in its table is unreachable; the flags are
//! read the same way as an engine's (`secrethub_engine::Paths::flags`); and the
//! authorisation matrix test (`crates/server/tests/it/authz_matrix.rs`) walks every row.

use std::sync::LazyLock;

use secrethub_engine::{Operation, PathEntry, PathTable};

/// A built-in's path table. Built-ins dispatch on the path themselves, so rows carry no
/// route; a row's operations are the ones its handler serves (a write is listed as
/// `Update`; the pipeline's existence check may turn it into `Create`).
pub(crate) type BuiltinPaths = LazyLock<PathTable<()>>;

/// A row of a built-in's table, for the rows that carry flags.
pub(crate) fn row(
    pattern: &'static str,
    ops: &'static [Operation],
    help: &'static str,
) -> PathEntry<()> {
    PathEntry::new(pattern, (), ops, help)
}

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

    /// The built-in's path table.
    pub fn paths(self) -> &'static PathTable<()> {
        match self {
            BuiltIn::System => &crate::sys::PATHS,
            BuiltIn::Token => &crate::token_api::PATHS,
            BuiltIn::Cubbyhole => &crate::cubbyhole::PATHS,
            BuiltIn::Identity => &crate::identity::PATHS,
        }
    }

    /// Whether some row of the table matches `rel` (relative to the mount).
    pub(crate) fn serves(self, rel: &str) -> bool {
        self.paths().find(rel).is_some()
    }
}

#[cfg(test)]
mod tests {
    use secrethub_engine::{Operation::*, PathFlags, Paths};

    use super::*;

    #[test]
    fn rows_match_segments() {
        assert!(BuiltIn::Cubbyhole.serves(""));
        assert!(BuiltIn::Cubbyhole.serves("a"));
        assert!(BuiltIn::System.serves("mounts"));
        assert!(!BuiltIn::System.serves("mounts/"));
        assert!(BuiltIn::System.serves("mounts/a/b/tune"));
        assert!(BuiltIn::Identity.serves("entity/id/x"));
        assert!(!BuiltIn::Identity.serves("entity/id/x/y"));
        assert!(!BuiltIn::System.serves("raw/x"));
    }

    /// The flags OpenBao's `PathsSpecial` gives these paths (our LIST paths carry no
    /// trailing slash, so `leases/lookup/*` covers the LIST of `leases/lookup`).
    #[test]
    fn special_paths_as_in_openbao() {
        let sys = |rel: &str, op| BuiltIn::System.paths().flags(rel, op);
        for (rel, op) in [
            ("audit", Read),
            ("audit/file", Update),
            ("audit-verify/file", Read),
            ("revoke-force/secret", Update),
            ("revoke-prefix/secret", Update),
            ("revoke-prefix", Update),
            ("auth/userpass", Update),
            ("auth/userpass/tune", Read),
            ("leases", List),
            ("leases", Read),
            ("leases/lookup", List),
            ("leases/lookup/x", Update),
            ("rotate", Update),
            ("seal", Update),
        ] {
            assert!(sys(rel, op).sudo, "{rel} {op:?}");
        }
        for (rel, op) in [
            ("audit-hash/file", Update),
            ("mounts", Read),
            ("auth", Read),
            ("leases/lookup", Update),
            ("leases/renew", Update),
        ] {
            assert_eq!(sys(rel, op), PathFlags::NONE, "{rel} {op:?}");
        }
        for rel in [
            "wrapping/lookup",
            "wrapping/unwrap",
            "internal/ui/mounts",
            "internal/ui/mounts/secret",
        ] {
            assert!(sys(rel, Read).unauthenticated, "{rel}");
        }
        assert!(!sys("wrapping/wrap", Update).unauthenticated);
        let token = |rel: &str, op| BuiltIn::Token.paths().flags(rel, op);
        assert!(token("accessors", List).sudo);
        assert!(token("revoke-orphan", Update).sudo);
        assert!(!token("revoke", Update).sudo);
        for b in [BuiltIn::Cubbyhole, BuiltIn::Identity] {
            for e in b.paths().entries() {
                for op in e.ops() {
                    assert_eq!(e.flags(*op), PathFlags::NONE, "{b:?} {}", e.pattern());
                }
            }
        }
    }
}
