//! `Policy`: a named, parsed ACL policy, validated from the syntax tree of `syntax.rs`.
//!
//! The accepted keys follow Vault: at the top `path` (and `name`, ignored); in a path block
//! `capabilities`, the old `policy` shorthand, `allowed_parameters`, `denied_parameters`,
//! `required_parameters`, `min_wrapping_ttl`, `max_wrapping_ttl` and `comment`. Keys that Vault
//! knows but SecretHub does not enforce (`expiration`, `mfa_methods`, `control_group`, ...) are
//! refused rather than ignored, so a policy never looks stricter than it is.

use std::time::Duration;

use crate::capability::{Capabilities, Capability};
use crate::error::{PolicyError, Problem};
use crate::params::{ParamMap, ParamRules, ParamValue};
use crate::pattern::{PathPattern, PatternError};
use crate::syntax::{self, Node, Value};
use crate::template;

/// A parsed ACL policy: its name, its text as written, and its path rules.
#[derive(Debug, Clone)]
pub struct Policy {
    name: String,
    raw: String,
    rules: Vec<PathRule>,
    templated: bool,
}

/// One `path "..." { ... }` block.
#[derive(Debug, Clone)]
pub(crate) struct PathRule {
    /// The pattern as written, kept to render templates later.
    pub(crate) raw_pattern: String,
    pub(crate) pattern: PathPattern,
    pub(crate) capabilities: Capabilities,
    pub(crate) params: ParamRules,
    /// Zero means unset, as in Vault.
    pub(crate) min_wrapping_ttl: Duration,
    pub(crate) max_wrapping_ttl: Duration,
}

/// Keys Vault accepts in a path block that SecretHub does not implement.
const UNSUPPORTED_PATH_KEYS: [&str; 5] = [
    "expiration",
    "mfa_methods",
    "control_group",
    "pagination_limit",
    "list_scan_response_keys_filter_path",
];

impl Policy {
    /// Parses a policy written in HCL, as Vault writes it, or in JSON
    /// (`{"path": {"secret/*": {"capabilities": ["read"]}}}`).
    pub fn parse(name: &str, text: &str) -> Result<Policy, PolicyError> {
        let mut rules = Vec::new();
        let mut templated = false;
        for (key, node) in syntax::parse(text)? {
            match key.as_str() {
                // Vault allows a `name` in the text and ignores it: the stored name counts.
                "name" => {}
                "path" => collect_paths(&node, &mut rules, &mut templated)?,
                _ => return Err(PolicyError::new(node.line, None, Problem::UnknownKey(key))),
            }
        }
        Ok(Policy {
            name: name.to_owned(),
            raw: text.to_owned(),
            rules,
            templated,
        })
    }

    /// The policy's name (`default`, `admin`, ...).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The policy text exactly as it was given, for `sys/policy` reads.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// Whether some path pattern holds `{{identity...}}` templates, so that the policy must be
    /// rendered per token with [`Policy::render`] before it is used in an [`crate::Acl`].
    pub fn is_templated(&self) -> bool {
        self.templated
    }

    /// Fills the `{{...}}` templates of path patterns with the token's identity.
    /// `vars` gets the trimmed expression (`identity.entity.id`,
    /// `identity.entity.aliases.<accessor>.name`, ...) and returns its value, or `None` when the
    /// token has no such value. As in Vault, a rule whose template can't be filled is dropped,
    /// and so is one whose value contains `*`, `+` or `/`, which would widen the pattern.
    pub fn render(&self, vars: &dyn Fn(&str) -> Option<String>) -> Policy {
        let rules = self
            .rules
            .iter()
            .filter_map(|rule| {
                if !template::has_template(&rule.raw_pattern) {
                    return Some(rule.clone());
                }
                let rendered = template::render(&rule.raw_pattern, vars)?;
                let pattern = PathPattern::parse(&rendered).ok()?;
                Some(PathRule {
                    raw_pattern: rendered,
                    pattern,
                    ..rule.clone()
                })
            })
            .collect();
        Policy {
            name: self.name.clone(),
            raw: self.raw.clone(),
            rules,
            templated: false,
        }
    }

    pub(crate) fn rules(&self) -> &[PathRule] {
        &self.rules
    }
}

/// Collects the rules under a `path` key: an object of pattern to block (HCL blocks and JSON),
/// or a list of such objects (the older JSON form).
fn collect_paths(
    node: &Node,
    rules: &mut Vec<PathRule>,
    templated: &mut bool,
) -> Result<(), PolicyError> {
    match &node.value {
        Value::Object(entries) => {
            for (pattern, body) in entries {
                *templated |= template::has_template(pattern);
                rules.push(parse_rule(pattern, body)?);
            }
            Ok(())
        }
        Value::Array(items) => items
            .iter()
            .try_for_each(|item| collect_paths(item, rules, templated)),
        _ => Err(wrong_type(node, None, "path", "an object of path rules")),
    }
}

fn parse_rule(raw_pattern: &str, body: &Node) -> Result<PathRule, PolicyError> {
    let at = Some(raw_pattern);
    let err = |line, problem| PolicyError::new(line, at, problem);
    let pattern = PathPattern::parse(raw_pattern).map_err(|e| match e {
        PatternError::PlusStar => err(body.line, Problem::PlusStar),
    })?;
    if !template::is_balanced(raw_pattern) {
        return Err(err(body.line, Problem::UnbalancedTemplate));
    }
    let entries: Vec<&(String, Node)> = match &body.value {
        Value::Object(entries) => entries.iter().collect(),
        // JSON written by HCL1 tools wraps the block in a list.
        Value::Array(items) => {
            let mut all = Vec::new();
            for item in items {
                let Value::Object(entries) = &item.value else {
                    return Err(wrong_type(body, at, "path", "a block of rules"));
                };
                all.extend(entries);
            }
            all
        }
        _ => return Err(wrong_type(body, at, "path", "a block of rules")),
    };
    let mut rule = PathRule {
        raw_pattern: raw_pattern.to_owned(),
        pattern,
        capabilities: Capabilities::none(),
        params: ParamRules::default(),
        min_wrapping_ttl: Duration::ZERO,
        max_wrapping_ttl: Duration::ZERO,
    };
    let mut seen: Vec<&str> = Vec::new();
    for (key, node) in entries {
        if seen.contains(&key.as_str()) {
            return Err(err(node.line, Problem::DuplicateKey(key.clone())));
        }
        seen.push(key);
        match key.as_str() {
            "comment" => {}
            "capabilities" => {
                for (name, line) in strings(node, at, key)? {
                    let cap = Capability::from_policy_name(&name)
                        .ok_or_else(|| err(line, Problem::InvalidCapability(name)))?;
                    rule.capabilities.insert(cap);
                }
            }
            "policy" => {
                let value = string(node, at, key)?;
                for cap in shorthand(&value)
                    .ok_or_else(|| err(node.line, Problem::InvalidShorthand(value)))?
                {
                    rule.capabilities.insert(*cap);
                }
            }
            "allowed_parameters" => {
                rule.params.allowed = param_map(node, at, "allowed_parameters")?
            }
            "denied_parameters" => rule.params.denied = param_map(node, at, "denied_parameters")?,
            "required_parameters" => {
                rule.params.required = strings(node, at, key)?
                    .into_iter()
                    .map(|(name, _)| name.to_lowercase())
                    .collect();
            }
            "min_wrapping_ttl" => rule.min_wrapping_ttl = duration(node, at, "min_wrapping_ttl")?,
            "max_wrapping_ttl" => rule.max_wrapping_ttl = duration(node, at, "max_wrapping_ttl")?,
            _ if UNSUPPORTED_PATH_KEYS.contains(&key.as_str()) => {
                return Err(err(node.line, Problem::UnsupportedKey(key.clone())));
            }
            _ => return Err(err(node.line, Problem::UnknownKey(key.clone()))),
        }
    }
    if !rule.min_wrapping_ttl.is_zero()
        && !rule.max_wrapping_ttl.is_zero()
        && rule.max_wrapping_ttl < rule.min_wrapping_ttl
    {
        return Err(err(body.line, Problem::WrappingTtlRange));
    }
    if rule.capabilities.is_denied() {
        // A deny rule denies everything, so its constraints could only mislead a reader.
        rule.params = ParamRules::default();
    }
    Ok(rule)
}

/// The capabilities of Vault's pre-0.5 `policy = "..."` shorthand.
fn shorthand(value: &str) -> Option<&'static [Capability]> {
    use Capability::*;
    match value {
        "deny" => Some(&[Deny]),
        "read" => Some(&[Read, List]),
        "write" => Some(&[Create, Read, Update, Delete, List]),
        "sudo" => Some(&[Create, Read, Update, Delete, List, Sudo]),
        _ => None,
    }
}

fn wrong_type(node: &Node, at: Option<&str>, key: &str, expected: &'static str) -> PolicyError {
    let problem = Problem::WrongType {
        key: key.to_owned(),
        expected,
    };
    PolicyError::new(node.line, at, problem)
}

fn string(node: &Node, at: Option<&str>, key: &str) -> Result<String, PolicyError> {
    match &node.value {
        Value::String(s) => Ok(s.clone()),
        _ => Err(wrong_type(node, at, key, "a string")),
    }
}

/// A list of strings, each with its line for error messages.
fn strings(
    node: &Node,
    at: Option<&str>,
    key: &str,
) -> Result<Vec<(String, Option<usize>)>, PolicyError> {
    let expected = "a list of strings";
    let Value::Array(items) = &node.value else {
        return Err(wrong_type(node, at, key, expected));
    };
    items
        .iter()
        .map(|item| match &item.value {
            Value::String(s) => Ok((s.clone(), item.line.or(node.line))),
            _ => Err(wrong_type(node, at, key, expected)),
        })
        .collect()
}

fn param_map(node: &Node, at: Option<&str>, key: &'static str) -> Result<ParamMap, PolicyError> {
    let expected = "an object of parameter names to lists of values";
    let entries: Vec<&(String, Node)> = match &node.value {
        Value::Object(entries) => entries.iter().collect(),
        // JSON written by HCL1 tools wraps objects in lists.
        Value::Array(items) => {
            let mut all = Vec::new();
            for item in items {
                match &item.value {
                    Value::Object(entries) => all.extend(entries),
                    _ => return Err(wrong_type(node, at, key, expected)),
                }
            }
            all
        }
        _ => return Err(wrong_type(node, at, key, expected)),
    };
    let mut map = ParamMap::new();
    for (name, values) in entries {
        let Value::Array(items) = &values.value else {
            return Err(wrong_type(values, at, key, expected));
        };
        let mut list = Vec::with_capacity(items.len());
        for item in items {
            list.push(match &item.value {
                Value::Null => ParamValue::Null,
                Value::Bool(b) => ParamValue::Text(b.to_string()),
                Value::Number(n) | Value::String(n) => ParamValue::Text(n.clone()),
                _ => {
                    let expected =
                        "an object of parameter names to lists of strings, numbers or booleans";
                    return Err(wrong_type(item, at, key, expected));
                }
            });
        }
        if name == "*" && !list.is_empty() {
            // Vault ignores values on "*" (it means "any other parameter, any value"), which
            // would silently grant more than the author wrote.
            return Err(PolicyError::new(
                values.line,
                at,
                Problem::WildcardParameterValues { key },
            ));
        }
        let name = name.to_lowercase();
        if map.contains_key(&name) {
            return Err(PolicyError::new(
                values.line,
                at,
                Problem::DuplicateKey(name),
            ));
        }
        map.insert(name, list);
    }
    Ok(map)
}

fn duration(node: &Node, at: Option<&str>, key: &'static str) -> Result<Duration, PolicyError> {
    let text = match &node.value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.clone(),
        _ => return Err(wrong_type(node, at, key, "a duration")),
    };
    secrethub_common::parse_duration(&text)
        .map_err(|_| PolicyError::new(node.line, at, Problem::InvalidDuration { key, value: text }))
}
