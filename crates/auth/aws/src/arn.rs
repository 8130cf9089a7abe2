//! IAM principal ARNs as `GetCallerIdentity` reports them, their canonical form and how a
//! role's `bound_iam_principal_arn` values match them.
//!
//! The canonical ARN drops the IAM path and turns an assumed-role session into the role:
//! `arn:aws:sts::123456789012:assumed-role/deploy/session-1` becomes
//! `arn:aws:iam::123456789012:role/deploy`, as in Vault. (An assumed-role ARN does not carry
//! the role's path, and SecretHub makes no IAM calls to look it up.)

use secrethub_engine::EngineError;

/// A principal parsed from a caller ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Principal {
    /// `aws`, `aws-cn`, `aws-us-gov`, ...
    pub(crate) partition: String,
    /// The 12-digit account.
    pub(crate) account: String,
    /// `user`, `role` or `assumed-role`.
    pub(crate) kind: String,
    /// The user or role name (without path).
    pub(crate) friendly_name: String,
    /// The caller's ARN exactly as STS returned it.
    pub(crate) full_arn: String,
}

impl Principal {
    /// Parses the `Arn` of a `GetCallerIdentity` answer.
    pub(crate) fn parse(arn: &str) -> Result<Self, EngineError> {
        let bad = || EngineError::bad_request(format!("unrecognized caller ARN {arn:?}"));
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [prefix, partition, service, _region, account, resource] = parts.as_slice() else {
            return Err(bad());
        };
        if *prefix != "arn" || partition.is_empty() || account.is_empty() {
            return Err(bad());
        }
        let segs: Vec<&str> = resource.split('/').collect();
        if segs.iter().any(|s| s.is_empty()) {
            return Err(bad());
        }
        let (kind, friendly_name) = match (*service, segs.as_slice()) {
            ("iam", [kind @ ("user" | "role"), .., name]) if segs.len() >= 2 => (*kind, *name),
            ("sts", ["assumed-role", role, _session]) => ("assumed-role", *role),
            _ => {
                return Err(EngineError::bad_request(format!(
                    "unsupported IAM principal {arn:?}: only IAM users and assumed roles can log in"
                )))
            }
        };
        Ok(Principal {
            partition: partition.to_string(),
            account: account.to_string(),
            kind: kind.to_string(),
            friendly_name: friendly_name.to_string(),
            full_arn: arn.to_string(),
        })
    }

    /// `arn:<partition>:iam::<account>:<user|role>/<name>`, without any path.
    pub(crate) fn canonical_arn(&self) -> String {
        let kind = if self.kind == "assumed-role" {
            "role"
        } else {
            &self.kind
        };
        format!(
            "arn:{}:iam::{}:{kind}/{}",
            self.partition, self.account, self.friendly_name
        )
    }

    /// Whether one of `bounds` admits this principal. A bound ending in `*` is a prefix;
    /// others must be equal. Both compare with the canonical ARN; IAM users and roles are
    /// also compared with their full ARN, whose path is known.
    pub(crate) fn matches_any(&self, bounds: &[String]) -> bool {
        let canonical = self.canonical_arn();
        let mut candidates = vec![canonical.as_str()];
        if self.kind != "assumed-role" && self.full_arn != canonical {
            candidates.push(&self.full_arn);
        }
        bounds.iter().any(|b| {
            candidates.iter().any(|arn| match b.strip_suffix('*') {
                Some(prefix) => arn.starts_with(prefix),
                None => arn == b,
            })
        })
    }
}

/// Checks a `bound_iam_principal_arn` value: an ARN, with `*` allowed only at the end.
pub(crate) fn validate_bound(value: &str) -> Result<(), EngineError> {
    if !value.starts_with("arn:") {
        return Err(EngineError::bad_request(format!(
            "invalid bound_iam_principal_arn {value:?}: expected an ARN such as \
             arn:aws:iam::123456789012:role/name"
        )));
    }
    let stem = value.strip_suffix('*').unwrap_or(value);
    if stem.contains('*') {
        return Err(EngineError::bad_request(format!(
            "invalid bound_iam_principal_arn {value:?}: a wildcard is only allowed at the end"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn canonicalises_assumed_roles_and_paths() {
        let p = Principal::parse("arn:aws:sts::123456789012:assumed-role/deploy/sess-1").unwrap();
        assert_eq!(p.canonical_arn(), "arn:aws:iam::123456789012:role/deploy");
        assert_eq!(p.friendly_name, "deploy");
        let u = Principal::parse("arn:aws:iam::123456789012:user/team/a/alice").unwrap();
        assert_eq!(u.canonical_arn(), "arn:aws:iam::123456789012:user/alice");
        assert_eq!(u.kind, "user");
        let cn = Principal::parse("arn:aws-cn:iam::123456789012:user/bob").unwrap();
        assert_eq!(cn.canonical_arn(), "arn:aws-cn:iam::123456789012:user/bob");
    }

    #[test]
    fn rejects_other_principals() {
        for arn in [
            "arn:aws:iam::123456789012:root",
            "arn:aws:sts::123456789012:federated-user/bob",
            "arn:aws:sts::123456789012:assumed-role/onlyrole",
            "arn:aws:iam::123456789012:user/",
            "arn:aws:iam::123456789012",
            "not-an-arn",
        ] {
            assert!(Principal::parse(arn).is_err(), "{arn}");
        }
    }

    #[test]
    fn matches_exact_and_trailing_globs() {
        let u = Principal::parse("arn:aws:iam::123456789012:user/team/alice").unwrap();
        assert!(u.matches_any(&bounds(&["arn:aws:iam::123456789012:user/alice"])));
        assert!(u.matches_any(&bounds(&["arn:aws:iam::123456789012:user/team/alice"])));
        assert!(u.matches_any(&bounds(&["arn:aws:iam::123456789012:user/team/*"])));
        assert!(u.matches_any(&bounds(&["arn:aws:iam::123456789012:*"])));
        assert!(!u.matches_any(&bounds(&["arn:aws:iam::123456789012:user/alic"])));
        assert!(!u.matches_any(&bounds(&["arn:aws:iam::999999999999:*"])));
        assert!(!u.matches_any(&[]));
        let r = Principal::parse("arn:aws:sts::123456789012:assumed-role/deploy/s").unwrap();
        assert!(r.matches_any(&bounds(&["arn:aws:iam::123456789012:role/deploy"])));
        assert!(r.matches_any(&bounds(&["arn:aws:iam::123456789012:role/dep*"])));
        assert!(!r.matches_any(&bounds(&[
            "arn:aws:sts::123456789012:assumed-role/deploy/s"
        ])));
        assert!(!r.matches_any(&bounds(&["arn:aws:iam::123456789012:role/deploy2"])));
    }

    #[test]
    fn validates_bounds() {
        validate_bound("arn:aws:iam::123456789012:role/x").unwrap();
        validate_bound("arn:aws:iam::123456789012:*").unwrap();
        assert!(validate_bound("*").is_err());
        assert!(validate_bound("arn:aws:iam::*:role/x").is_err());
        assert!(validate_bound("role/x").is_err());
    }
}
