//! `Acl`: the merged rules of a token's policies, and the access decision for one request.
//!
//! Rules with the same pattern text are merged across policies (union of capabilities, `deny`
//! wins, parameter constraints merged as Vault merges them). A request is then judged by the
//! single most specific matching rule only (see `pattern.rs` for the priority order); broader
//! rules never add to it. No matching rule means no access.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::capability::{Capabilities, Capability};
use crate::params::ParamRules;
use crate::pattern::PathPattern;
use crate::policy::{PathRule, Policy};

/// The access rules of a set of policies, ready to answer requests.
#[derive(Debug, Clone)]
pub struct Acl {
    root: bool,
    /// Exact patterns, keyed by their text.
    exact: HashMap<String, Permissions>,
    /// Glob and `+` patterns; every one is tried, then the best match is kept.
    non_exact: Vec<Permissions>,
}

/// The merged permissions of every rule with one pattern.
#[derive(Debug, Clone)]
struct Permissions {
    pattern: PathPattern,
    capabilities: Capabilities,
    params: ParamRules,
    min_wrapping_ttl: Duration,
    max_wrapping_ttl: Duration,
}

/// The answer to [`Acl::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclDecision {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// Whether the deciding rule grants `sudo`, which root-protected paths require on top of
    /// `allowed`.
    pub sudo: bool,
    /// Why the request was denied, naming the rule or parameter (never a parameter's value);
    /// for logs and audit, not for the client, which only ever sees "permission denied".
    pub reason: Option<String>,
}

impl AclDecision {
    fn deny(sudo: bool, reason: String) -> Self {
        AclDecision {
            allowed: false,
            sudo,
            reason: Some(reason),
        }
    }
}

impl Acl {
    /// Merges the rules of `policies`. Templated policies must be rendered first
    /// ([`Policy::render`]); an unrendered template only matches its literal text.
    pub fn new(policies: &[&Policy]) -> Acl {
        let mut merged: HashMap<&str, Permissions> = HashMap::new();
        for rule in policies.iter().flat_map(|policy| policy.rules()) {
            match merged.get_mut(rule.pattern.text()) {
                Some(existing) => existing.merge(rule),
                None => {
                    merged.insert(rule.pattern.text(), Permissions::from_rule(rule));
                }
            }
        }
        let mut acl = Acl {
            root: false,
            exact: HashMap::new(),
            non_exact: Vec::new(),
        };
        for (text, permissions) in merged {
            if permissions.pattern.is_exact() {
                acl.exact.insert(text.to_owned(), permissions);
            } else {
                acl.non_exact.push(permissions);
            }
        }
        acl
    }

    /// The root token's ACL: every capability, `sudo` included, on every path.
    pub fn root() -> Acl {
        Acl {
            root: true,
            exact: HashMap::new(),
            non_exact: Vec::new(),
        }
    }

    /// Whether this is the root ACL.
    pub fn is_root(&self) -> bool {
        self.root
    }

    /// Whether any rule grants something (other than deny) on a path under `prefix`, e.g. a
    /// mount path. `sys/internal/ui/mounts/:path` uses this, as Vault does, to show a mount
    /// only to tokens that can do something in it.
    pub fn grants_anything_under(&self, prefix: &str) -> bool {
        if self.root {
            return true;
        }
        self.exact
            .values()
            .chain(self.non_exact.iter())
            .filter(|p| !p.capabilities.is_denied() && !p.capabilities.names().is_empty())
            .any(|p| {
                let text = p.pattern.text();
                // The literal part before the first wildcard.
                let literal_end = text.find(['*', '+']).unwrap_or(text.len());
                let literal = &text[..literal_end];
                if p.pattern.is_exact() {
                    literal.starts_with(prefix)
                } else {
                    literal.starts_with(prefix) || prefix.starts_with(literal)
                }
            })
    }

    /// The capabilities granted on `path`, as `sys/capabilities-self` reports them.
    /// Like Vault, this also tries the list form of the path (without its trailing `/`).
    pub fn capabilities(&self, path: &str) -> Capabilities {
        if self.root {
            return Capabilities::root();
        }
        self.lookup(trim_path(path), true)
            .map_or(Capabilities::none(), |permissions| permissions.capabilities)
    }

    /// Decides whether an operation needing `cap` on `path`, with request parameters `params`,
    /// is allowed. A rule with `min_wrapping_ttl`/`max_wrapping_ttl` denies here, since the
    /// request is not wrapped; use [`Acl::check_wrapped`] for wrapped requests.
    pub fn check(&self, path: &str, cap: Capability, params: &Map<String, Value>) -> AclDecision {
        self.check_wrapped(path, cap, params, None)
    }

    /// [`Acl::check`] for a request whose response is to be wrapped with a token of `wrap_ttl`.
    pub fn check_wrapped(
        &self,
        path: &str,
        cap: Capability,
        params: &Map<String, Value>,
        wrap_ttl: Option<Duration>,
    ) -> AclDecision {
        if self.root {
            return AclDecision {
                allowed: cap != Capability::Deny,
                sudo: true,
                reason: None,
            };
        }
        let list_like = matches!(cap, Capability::List | Capability::Scan);
        let Some(permissions) = self.lookup(trim_path(path), list_like) else {
            return AclDecision::deny(false, "no policy rule matches the path".to_owned());
        };
        let rule = permissions.pattern.text();
        let caps = permissions.capabilities;
        let sudo = caps.contains(Capability::Sudo);
        if caps.is_denied() {
            return AclDecision::deny(false, format!("rule {rule:?} denies the path"));
        }
        if !caps.contains(cap) {
            return AclDecision::deny(
                sudo,
                format!("rule {rule:?} does not grant {cap:?}", cap = cap.as_str()),
            );
        }
        if let Err(reason) = permissions.check_wrapping(wrap_ttl) {
            return AclDecision::deny(sudo, format!("rule {rule:?}: {reason}"));
        }
        // Vault checks parameters on reads too: query parameters can matter as much as bodies.
        let checks_params = matches!(
            cap,
            Capability::Read | Capability::Create | Capability::Update | Capability::Patch
        );
        if checks_params {
            if let Err(reason) = permissions.params.check(params) {
                return AclDecision::deny(sudo, format!("rule {rule:?}: {reason}"));
            }
        }
        AclDecision {
            allowed: true,
            sudo,
            reason: None,
        }
    }

    /// The permissions of the most specific rule matching `path`. For list-like requests Vault
    /// also accepts the rules of the path without its trailing `/` (`secret/foo` covers
    /// `LIST secret/foo/`), tried after the path itself.
    fn lookup(&self, path: &str, list_like: bool) -> Option<&Permissions> {
        if let Some(permissions) = self.exact.get(path) {
            return Some(permissions);
        }
        let trimmed = path.strip_suffix('/');
        if list_like {
            if let Some(permissions) = trimmed.and_then(|t| self.exact.get(t)) {
                return Some(permissions);
            }
        }
        if let Some(permissions) = self.best_non_exact(path) {
            return Some(permissions);
        }
        match trimmed {
            Some(trimmed) if list_like => self.best_non_exact(trimmed),
            _ => None,
        }
    }

    fn best_non_exact(&self, path: &str) -> Option<&Permissions> {
        let parts: Vec<&str> = path.split('/').collect();
        self.non_exact
            .iter()
            .filter(|permissions| permissions.pattern.matches(path, &parts))
            .max_by(|a, b| a.pattern.priority_cmp(&b.pattern))
    }
}

impl Permissions {
    fn from_rule(rule: &PathRule) -> Self {
        Permissions {
            pattern: rule.pattern.clone(),
            capabilities: rule.capabilities,
            params: rule.params.clone(),
            min_wrapping_ttl: rule.min_wrapping_ttl,
            max_wrapping_ttl: rule.max_wrapping_ttl,
        }
    }

    /// Adds a rule with the same pattern, following Vault's merge.
    fn merge(&mut self, rule: &PathRule) {
        if self.capabilities.is_denied() {
            return;
        }
        self.capabilities = self.capabilities.union(rule.capabilities);
        if self.capabilities.is_denied() {
            self.params = ParamRules::default();
            return;
        }
        // Vault keeps the smaller of two set values for both bounds.
        self.min_wrapping_ttl = smaller_set(self.min_wrapping_ttl, rule.min_wrapping_ttl);
        self.max_wrapping_ttl = smaller_set(self.max_wrapping_ttl, rule.max_wrapping_ttl);
        self.params.merge(&rule.params);
    }

    fn check_wrapping(&self, wrap_ttl: Option<Duration>) -> Result<(), String> {
        let (min, max) = (self.min_wrapping_ttl, self.max_wrapping_ttl);
        if min.is_zero() && max.is_zero() {
            return Ok(());
        }
        let Some(ttl) = wrap_ttl else {
            return Err("response wrapping is required".to_owned());
        };
        // Merging can leave min above max; nothing satisfies that, as in Vault.
        let too_long = !max.is_zero() && ttl > max;
        let too_short = !min.is_zero() && ttl < min;
        if too_long || too_short || (!min.is_zero() && !max.is_zero() && max < min) {
            return Err("wrapping TTL is outside the allowed range".to_owned());
        }
        Ok(())
    }
}

/// Zero means unset: the smaller of the set values.
fn smaller_set(a: Duration, b: Duration) -> Duration {
    match (a.is_zero(), b.is_zero()) {
        (true, _) => b,
        (_, true) => a,
        _ => a.min(b),
    }
}

/// Request paths are relative to `/v1/`; stray leading slashes are ignored, as in Vault.
fn trim_path(path: &str) -> &str {
    path.trim_start_matches('/')
}
