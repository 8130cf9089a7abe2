//! What the auth method persists in its mount's storage, and the login's internal data.
//!
//! Keys: `config` holds the [`ConfigRecord`], `role/<name>` a [`RoleRecord`] (Vault's
//! layout). A login token carries a [`LoginData`] as its `internal` value, so renewal can
//! re-check the role's bindings without calling Kubernetes again.

use std::collections::BTreeSet;

use secrethub_common::Sensitive;
use secrethub_engine::TokenParams;
use serde::{Deserialize, Serialize};

/// The version written into every record.
pub(crate) const RECORD_VERSION: u32 = 1;

/// Storage key of the config.
pub(crate) const CONFIG_KEY: &str = "config";

/// Storage prefix of the roles.
pub(crate) const ROLE_PREFIX: &str = "role/";

/// Storage key of a role.
pub(crate) fn role_key(name: &str) -> String {
    format!("{ROLE_PREFIX}{name}")
}

/// How to reach the Kubernetes API (`auth/kubernetes/config`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ConfigRecord {
    pub(crate) version: u32,
    /// An `https://` URL, without a trailing slash; may carry a path (API proxies).
    pub(crate) kubernetes_host: String,
    /// PEM; empty means "the local CA file if allowed, else the system roots".
    #[serde(default)]
    pub(crate) kubernetes_ca_cert: String,
    /// Bearer token for the TokenReview API; empty means "the local token file if allowed,
    /// else the JWT being reviewed". Never returned by reads.
    #[serde(default)]
    pub(crate) token_reviewer_jwt: Sensitive<String>,
    #[serde(default)]
    pub(crate) disable_local_ca_jwt: bool,
    /// Accepted and echoed for Vault compatibility; the TokenReview API checks the issuer.
    #[serde(default)]
    pub(crate) issuer: String,
    /// Accepted and echoed for Vault compatibility.
    #[serde(default = "default_true")]
    pub(crate) disable_iss_validation: bool,
    /// The role of a login that names none (a SecretHub addition, as the jwt method's
    /// `default_role`: the seed's quick start logs in with only a `jwt`). Empty: `role` is
    /// required, as in Vault.
    #[serde(default)]
    pub(crate) default_role: String,
}

fn default_true() -> bool {
    true
}

/// Where a login's alias name comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum AliasNameSource {
    /// The service account's UID (the default): an account deleted and re-created under the
    /// same name is a new identity.
    #[default]
    ServiceaccountUid,
    /// `<namespace>/<name>`.
    ServiceaccountName,
}

impl AliasNameSource {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "serviceaccount_uid" => Some(Self::ServiceaccountUid),
            "serviceaccount_name" => Some(Self::ServiceaccountName),
            _ => None,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::ServiceaccountUid => "serviceaccount_uid",
            Self::ServiceaccountName => "serviceaccount_name",
        }
    }
}

/// A role (`auth/kubernetes/role/:name`): which service accounts may log in, and the token
/// they get.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct RoleRecord {
    pub(crate) version: u32,
    /// Names or globs; `*` alone admits any name.
    pub(crate) bound_service_account_names: Vec<String>,
    /// Namespaces or globs; `*` alone admits any namespace.
    pub(crate) bound_service_account_namespaces: Vec<String>,
    /// Sent as the TokenReview's audience when set; the API must confirm it.
    #[serde(default)]
    pub(crate) audience: String,
    #[serde(default)]
    pub(crate) alias_name_source: AliasNameSource,
    #[serde(default)]
    pub(crate) token: TokenParams,
    /// Vault's older token field names (`policies`, `ttl`, ...) the role was last written
    /// through, which reads show next to the `token_*` fields as OpenBao does.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub(crate) legacy_token_fields: BTreeSet<String>,
}

impl RoleRecord {
    /// Checks a service account against the bindings, namespace first.
    pub(crate) fn admits(&self, namespace: &str, name: &str) -> Result<(), Unbound> {
        if !matches_any(&self.bound_service_account_namespaces, namespace) {
            return Err(Unbound::Namespace(namespace.to_string()));
        }
        if !matches_any(&self.bound_service_account_names, name) {
            return Err(Unbound::Name(name.to_string()));
        }
        Ok(())
    }
}

/// Which binding a service account failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unbound {
    Namespace(String),
    Name(String),
}

impl std::fmt::Display for Unbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unbound::Namespace(ns) => write!(f, "service account namespace {ns:?} is not bound"),
            Unbound::Name(n) => write!(f, "service account name {n:?} is not bound"),
        }
    }
}

/// The login's internal data, kept with its token and given back on renewal.
///
/// JSON: `{"v":1,"role":"app","namespace":"prod","name":"web","uid":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LoginData {
    pub(crate) v: u32,
    pub(crate) role: String,
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) uid: String,
}

fn matches_any(patterns: &[String], value: &str) -> bool {
    patterns.iter().any(|p| glob_match(p, value))
}

pub(crate) use secrethub_common::glob::glob_match;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*", "anything"));
        assert!(glob_match("*", ""));
        assert!(glob_match("app-*", "app-web"));
        assert!(glob_match("*-prod", "web-prod"));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exactly"));
        assert!(!glob_match("app-*", "db"));
        assert!(!glob_match("a*a", "a"));
        assert!(!glob_match("a*b*c", "acb"));
    }

    #[test]
    fn bindings_name_what_did_not_match() {
        let role = RoleRecord {
            bound_service_account_names: vec!["web".into(), "api-*".into()],
            bound_service_account_namespaces: vec!["prod".into()],
            ..Default::default()
        };
        assert_eq!(role.admits("prod", "web"), Ok(()));
        assert_eq!(role.admits("prod", "api-v2"), Ok(()));
        let e = role.admits("dev", "web").unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"service account namespace "dev" is not bound"#
        );
        let e = role.admits("prod", "db").unwrap_err();
        assert_eq!(e.to_string(), r#"service account name "db" is not bound"#);
    }

    #[test]
    fn login_data_json() {
        let d = LoginData {
            v: 1,
            role: "app".into(),
            namespace: "prod".into(),
            name: "web".into(),
            uid: "u-1".into(),
        };
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            r#"{"v":1,"role":"app","namespace":"prod","name":"web","uid":"u-1"}"#
        );
    }

    #[test]
    fn config_record_keeps_the_reviewer_jwt_out_of_debug() {
        let c = ConfigRecord {
            version: 1,
            kubernetes_host: "https://k8s.example:6443".into(),
            kubernetes_ca_cert: String::new(),
            token_reviewer_jwt: Sensitive::new("reviewer-secret".into()),
            disable_local_ca_jwt: false,
            issuer: String::new(),
            disable_iss_validation: true,
            default_role: String::new(),
        };
        assert!(!format!("{c:?}").contains("reviewer-secret"));
    }
}
