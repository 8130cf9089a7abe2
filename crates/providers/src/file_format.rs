//! The two file formats of the `file` provider, parsed into one tree of values.
//!
//! - YAML: nested maps; keys of any scalar type are read as text, scalars as their text
//!   (`null` as empty), sequences as their JSON text.
//! - dotenv: `KEY=VALUE` lines, blank lines and `#` comments skipped, an optional `export `
//!   prefix, values optionally in single quotes (literal) or double quotes (with `\n`, `\"`
//!   and `\\` escapes, spanning lines); an unquoted value ends at ` #`. The parser is
//!   [`crate::dotenv`], shared with `secrethub run --env-file`.
//!
//! Parse errors name a line, never its text: the file holds secrets.

use std::collections::BTreeMap;

use secrethub_common::Sensitive;
use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

/// A parsed file: maps down to values.
pub(crate) enum Node {
    Map(BTreeMap<String, Node>),
    Value(Sensitive<String>),
}

/// Parses a YAML document (an empty file is an empty map).
pub(crate) fn parse_yaml(text: &str) -> Result<Node, String> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| {
        format!(
            "invalid YAML at line {} column {}",
            e.marker().line(),
            e.marker().col() + 1
        )
    })?;
    match docs.into_iter().next() {
        None | Some(Yaml::Null) => Ok(Node::Map(BTreeMap::new())),
        Some(root @ Yaml::Hash(_)) => Ok(node(root)),
        Some(_) => Err("the YAML document must be a map".to_string()),
    }
}

fn node(yaml: Yaml) -> Node {
    match yaml {
        Yaml::Hash(hash) => Node::Map(
            hash.into_iter()
                .map(|(key, value)| (scalar_text(&key), node(value)))
                .collect(),
        ),
        Yaml::Array(items) => Node::Value(Sensitive::new(
            Value::Array(items.iter().map(json).collect()).to_string(),
        )),
        other => Node::Value(Sensitive::new(scalar_text(&other))),
    }
}

fn scalar_text(yaml: &Yaml) -> String {
    match yaml {
        Yaml::String(s) | Yaml::Real(s) => s.clone(),
        Yaml::Integer(n) => n.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        Yaml::Null | Yaml::BadValue | Yaml::Alias(_) => String::new(),
        Yaml::Array(_) | Yaml::Hash(_) => json(yaml).to_string(),
    }
}

fn json(yaml: &Yaml) -> Value {
    match yaml {
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Real(s) => s
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| Value::String(s.clone()), Value::Number),
        Yaml::Integer(n) => Value::from(*n),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(items) => Value::Array(items.iter().map(json).collect()),
        Yaml::Hash(hash) => Value::Object(
            hash.iter()
                .map(|(k, v)| (scalar_text(k), json(v)))
                .collect(),
        ),
        Yaml::Null | Yaml::BadValue | Yaml::Alias(_) => Value::Null,
    }
}

/// Parses a dotenv file into a flat map (a later line wins over an earlier one), with the
/// parser `secrethub run --env-file` uses.
pub(crate) fn parse_dotenv(text: &str) -> Result<Node, String> {
    use crate::dotenv::EnvFileError;
    let entries = crate::dotenv::parse_secrets("", text).map_err(|e| match e {
        EnvFileError::Syntax { line, problem, .. } => format!("line {line}: {problem}"),
        other => other.to_string(),
    })?;
    let map = entries
        .into_iter()
        .map(|(key, value)| (key, Node::Value(Sensitive::new(value))))
        .collect();
    Ok(Node::Map(map))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(node: &Node) -> &BTreeMap<String, Node> {
        match node {
            Node::Map(map) => map,
            Node::Value(_) => panic!("expected a map"),
        }
    }

    fn value(node: &Node) -> &str {
        match node {
            Node::Value(v) => v.expose(),
            Node::Map(_) => panic!("expected a value"),
        }
    }

    #[test]
    fn yaml_maps_nest_and_scalars_become_text() {
        let root = parse_yaml(
            "app:\n  db:\n    user: app\n    port: 5432\n    tls: true\n    hosts: [a, b]\n    none: ~\n  token: t0k\n",
        )
        .expect("valid");
        let db = map(&map(&map(&root)["app"])["db"]);
        assert_eq!(value(&db["user"]), "app");
        assert_eq!(value(&db["port"]), "5432");
        assert_eq!(value(&db["tls"]), "true");
        assert_eq!(value(&db["hosts"]), r#"["a","b"]"#);
        assert_eq!(value(&db["none"]), "");
        assert!(map(&parse_yaml("").expect("empty")).is_empty());
    }

    #[test]
    fn yaml_errors_name_a_line_not_the_text() {
        let err = match parse_yaml("a: 1\nb: [unclosed-secret-value\n") {
            Err(err) => err,
            Ok(_) => panic!("expected an error"),
        };
        assert!(err.starts_with("invalid YAML at line"), "{err}");
        assert!(!err.contains("unclosed-secret-value"), "{err}");
        assert!(parse_yaml("- a\n- b\n").is_err());
    }

    #[test]
    fn dotenv_lines() {
        let root = parse_dotenv(
            "# comment\n\nexport A=1\nB = two words # comment\nC='single # kept'\nD=\"line\\nbreak \\\"q\\\"\"\nE=\nA=again\n",
        )
        .expect("valid");
        let m = map(&root);
        assert_eq!(value(&m["A"]), "again");
        assert_eq!(value(&m["B"]), "two words");
        assert_eq!(value(&m["C"]), "single # kept");
        assert_eq!(value(&m["D"]), "line\nbreak \"q\"");
        assert_eq!(value(&m["E"]), "");
    }

    #[test]
    fn dotenv_errors_name_the_line_only() {
        let no_equals = match parse_dotenv("A=1\nsecret-without-equals\n") {
            Err(err) => err,
            Ok(_) => panic!("expected an error"),
        };
        assert_eq!(no_equals, "line 2: expected KEY=VALUE");
        let open = match parse_dotenv("K=\"open-secret\n") {
            Err(err) => err,
            Ok(_) => panic!("expected an error"),
        };
        assert!(!open.contains("open-secret"), "{open}");
    }
}
