//! Parameter constraints of a rule: `allowed_parameters`, `denied_parameters` and
//! `required_parameters`, checked against a request's parameters the way Vault does.
//!
//! Keys are compared lower-cased. A constraint's value list holds strings where a leading or
//! trailing `*` globs (`"foo-*"`, `"*-prod"`, `"*mid*"`); numbers and booleans are compared by
//! their text, so `false` in a policy matches both `false` and `"false"` in a request.
//! An empty list means "any value".
//!
//! Where Vault's evaluation can be bypassed, this one is stricter, on purpose:
//! - a JSON array is allowed only when every element is allowed, and denied when any element
//!   is denied (Vault never matches arrays, so `["default","admin"]` slipped past a denial
//!   of `"admin"`);
//! - a string with commas, which Vault engines often split into a list, is treated as that
//!   list too: `"default,admin"` is denied by a denial of `"admin"`, and `"baz/a,other"` is not
//!   allowed by `"baz/*"` (unless the whole string is listed literally).
//! - an empty array is compared as the empty string.

use std::collections::BTreeMap;

/// Parameter name (lower case) to the values a constraint lists.
pub(crate) type ParamMap = BTreeMap<String, Vec<ParamValue>>;

/// One value of an allowed/denied list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParamValue {
    /// `null`, which only matches a request's `null`.
    Null,
    /// A string, number or boolean, by its text; strings may glob.
    Text(String),
}

/// The parameter constraints of one rule (or of merged rules with the same pattern).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ParamRules {
    pub(crate) allowed: ParamMap,
    pub(crate) denied: ParamMap,
    /// Lower-cased names.
    pub(crate) required: Vec<String>,
}

impl ParamRules {
    /// Merges another rule's constraints for the same pattern, as Vault does: an empty list
    /// (any value) wins over values, value lists are concatenated, required names are united.
    pub(crate) fn merge(&mut self, other: &ParamRules) {
        merge_map(&mut self.allowed, &other.allowed);
        merge_map(&mut self.denied, &other.denied);
        for name in &other.required {
            if !self.required.contains(name) {
                self.required.push(name.clone());
            }
        }
    }

    /// Checks a request's parameters; `Err` carries the reason, which names the parameter but
    /// never its value (values can be secrets).
    pub(crate) fn check(
        &self,
        params: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), String> {
        // Vault looks the lower-cased name up as is, so the request must use that spelling.
        for name in &self.required {
            if !params.contains_key(name) {
                return Err(format!("missing required parameter {name:?}"));
            }
        }
        if params.is_empty() {
            return Ok(());
        }
        if !self.denied.is_empty() {
            if self.denied.contains_key("*") {
                return Err("all parameters are denied".to_owned());
            }
            for (name, value) in params {
                if let Some(list) = self.denied.get(&name.to_lowercase()) {
                    if list.is_empty() || is_denied(value, list) {
                        return Err(format!("parameter {name:?} is denied"));
                    }
                }
            }
        }
        if self.allowed.is_empty() {
            return Ok(());
        }
        let allow_others = self.allowed.contains_key("*");
        for (name, value) in params {
            match self.allowed.get(&name.to_lowercase()) {
                None if allow_others => {}
                None => return Err(format!("parameter {name:?} is not allowed")),
                Some(list) if list.is_empty() || is_allowed(value, list) => {}
                Some(_) => return Err(format!("value of parameter {name:?} is not allowed")),
            }
        }
        Ok(())
    }
}

fn merge_map(existing: &mut ParamMap, new: &ParamMap) {
    for (name, values) in new {
        match existing.get_mut(name) {
            None => {
                existing.insert(name.clone(), values.clone());
            }
            Some(current) if current.is_empty() || values.is_empty() => current.clear(),
            Some(current) => current.extend(values.iter().cloned()),
        }
    }
}

fn is_allowed(value: &serde_json::Value, list: &[ParamValue]) -> bool {
    use serde_json::Value as J;
    match value {
        J::Null => list.contains(&ParamValue::Null),
        J::Bool(b) => text_allowed(&b.to_string(), list),
        J::Number(n) => text_allowed(&n.to_string(), list),
        J::String(s) => text_allowed(s, list),
        J::Array(items) if items.is_empty() => text_allowed("", list),
        J::Array(items) => items.iter().all(|item| is_allowed(item, list)),
        // No policy value can describe an object, so a restricted parameter never takes one.
        J::Object(_) => false,
    }
}

fn is_denied(value: &serde_json::Value, list: &[ParamValue]) -> bool {
    use serde_json::Value as J;
    match value {
        J::Null => list.contains(&ParamValue::Null),
        J::Bool(b) => text_denied(&b.to_string(), list),
        J::Number(n) => text_denied(&n.to_string(), list),
        J::String(s) => text_denied(s, list),
        J::Array(items) if items.is_empty() => text_denied("", list),
        J::Array(items) => items.iter().any(|item| is_denied(item, list)),
        J::Object(_) => false,
    }
}

fn text_allowed(text: &str, list: &[ParamValue]) -> bool {
    if !text.contains(',') {
        return matches_any(text, list);
    }
    let literal = list.iter().any(|v| *v == ParamValue::Text(text.to_owned()));
    let mut parts = comma_parts(text).peekable();
    literal || (parts.peek().is_some() && parts.all(|part| matches_any(part, list)))
}

fn text_denied(text: &str, list: &[ParamValue]) -> bool {
    matches_any(text, list) || comma_parts(text).any(|part| matches_any(part, list))
}

fn comma_parts(text: &str) -> impl Iterator<Item = &str> {
    text.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
}

fn matches_any(text: &str, list: &[ParamValue]) -> bool {
    list.iter().any(|entry| match entry {
        ParamValue::Null => false,
        ParamValue::Text(pattern) => glob_matches(pattern, text),
    })
}

/// Vault's value globbing: `*` at the start and/or end of the pattern, nothing in between.
/// A pattern shorter than two characters (including `"*"` alone) only matches itself.
fn glob_matches(pattern: &str, value: &str) -> bool {
    if pattern.len() < 2 {
        return pattern == value;
    }
    match (pattern.strip_prefix('*'), pattern.strip_suffix('*')) {
        (Some(rest), Some(_)) => value.contains(&rest[..rest.len() - 1]),
        (Some(suffix), None) => value.ends_with(suffix),
        (None, Some(prefix)) => value.starts_with(prefix),
        (None, None) => pattern == value,
    }
}

#[cfg(test)]
mod tests {
    use super::glob_matches;

    #[test]
    fn globs_follow_vault() {
        let cases = [
            ("*", "*", true),
            ("*", "anything", false),
            ("", "", true),
            ("foo-*", "foo-bar", true),
            ("foo-*", "foo-", true),
            ("foo-*", "xfoo-bar", false),
            ("*-prod", "db-prod", true),
            ("*-prod", "db-prod2", false),
            ("*mid*", "amidst", true),
            ("*mid*", "mud", false),
            ("**", "", true),
            ("**", "x", true),
            ("a*b", "a*b", true),
            ("a*b", "axb", false),
            ("é*", "été", true),
        ];
        for (pattern, value, want) in cases {
            assert_eq!(
                glob_matches(pattern, value),
                want,
                "{pattern:?} vs {value:?}"
            );
        }
    }
}
