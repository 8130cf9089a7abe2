//! The syntax layer: HCL or JSON policy text into one small tree of [`Node`]s.
//! Vault accepts both, and telling them apart by the first character is what its own HCL parser
//! does; converting both into the same tree lets `policy.rs` validate a policy once, whatever
//! it was written in. HCL nodes remember their line so errors can point at it.
//! Both parsers recurse per nesting level, so the text first passes `parse_guard` (size and
//! depth), which no policy that could overflow a thread's stack gets through.

use hcl::edit::expr::{Expression, ObjectKey};
use hcl::edit::structure::{Body, Structure};
use hcl::edit::Span;
use secrethub_common::parse_guard::{self, ParseLimits};

use crate::error::{PolicyError, Problem};

/// A value of the policy text with the line it starts on (`None` for JSON).
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) line: Option<usize>,
    pub(crate) value: Value,
}

/// The shapes a policy value can take. Numbers keep their text, as policies only compare them
/// as strings.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Array(Vec<Node>),
    /// Entries in source order; duplicates are kept so the validator can reject them.
    Object(Vec<(String, Node)>),
    /// An HCL expression a policy has no use for (a variable, a function call, a template).
    Unsupported,
}

/// Parses policy text into its top-level entries (`path`, `name`, ...).
pub(crate) fn parse(text: &str) -> Result<Vec<(String, Node)>, PolicyError> {
    parse_guard::check(text, ParseLimits::POLICY)
        .map_err(|err| PolicyError::new(err.line(), None, Problem::Limit(err)))?;
    if text.trim_start().starts_with('{') {
        parse_json(text)
    } else {
        parse_hcl(text)
    }
}

fn parse_json(text: &str) -> Result<Vec<(String, Node)>, PolicyError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|err| {
        let mut message = err.to_string();
        // serde_json appends the location, which the error already carries in its fields.
        if let Some(at) = message.find(" at line ") {
            message.truncate(at);
        }
        let problem = Problem::Syntax {
            column: err.column(),
            message,
        };
        PolicyError::new(Some(err.line()), None, problem)
    })?;
    match json_node(value).value {
        Value::Object(entries) => Ok(entries),
        _ => Err(PolicyError::new(
            None,
            None,
            Problem::WrongType {
                key: "policy".to_owned(),
                expected: "a JSON object",
            },
        )),
    }
}

fn json_node(value: serde_json::Value) -> Node {
    use serde_json::Value as J;
    let value = match value {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(b),
        J::Number(n) => Value::Number(n.to_string()),
        J::String(s) => Value::String(s),
        J::Array(items) => Value::Array(items.into_iter().map(json_node).collect()),
        J::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, json_node(v))).collect()),
    };
    Node { line: None, value }
}

fn parse_hcl(text: &str) -> Result<Vec<(String, Node)>, PolicyError> {
    let body = hcl::edit::parser::parse_body(text).map_err(|err| {
        let problem = Problem::Syntax {
            column: err.location().column(),
            message: err.message().to_owned(),
        };
        PolicyError::new(Some(err.location().line()), None, problem)
    })?;
    let lines = LineIndex::new(text);
    Ok(body_entries(&body, &lines))
}

/// Turns a body into object entries: `key = value` attributes, and blocks keyed by their
/// identifier, each label nesting one more object (`path "x" { .. }` is `path = { x = { .. } }`).
fn body_entries(body: &Body, lines: &LineIndex) -> Vec<(String, Node)> {
    body.iter()
        .map(|structure| match structure {
            Structure::Attribute(attr) => (
                attr.key.value().as_str().to_owned(),
                expr_node(&attr.value, lines),
            ),
            Structure::Block(block) => {
                let line = lines.line(block.span());
                let mut node = Node {
                    line,
                    value: Value::Object(body_entries(&block.body, lines)),
                };
                for label in block.labels.iter().rev() {
                    node = Node {
                        line,
                        value: Value::Object(vec![(label.as_str().to_owned(), node)]),
                    };
                }
                (block.ident.value().as_str().to_owned(), node)
            }
        })
        .collect()
}

fn expr_node(expr: &Expression, lines: &LineIndex) -> Node {
    let value = match expr {
        Expression::Null(_) => Value::Null,
        Expression::Bool(b) => Value::Bool(*b.value()),
        Expression::Number(n) => Value::Number(n.value().to_string()),
        Expression::String(s) => Value::String(s.value().clone()),
        Expression::Array(items) => {
            Value::Array(items.iter().map(|item| expr_node(item, lines)).collect())
        }
        Expression::Object(object) => {
            let mut entries = Vec::new();
            for (key, value) in object.iter() {
                let key = match key {
                    ObjectKey::Ident(ident) => ident.value().as_str().to_owned(),
                    ObjectKey::Expression(Expression::String(s)) => s.value().clone(),
                    // A computed key has no meaning in a policy; the whole object is refused.
                    ObjectKey::Expression(_) => {
                        return Node {
                            line: lines.line(expr.span()),
                            value: Value::Unsupported,
                        }
                    }
                };
                entries.push((key, expr_node(value.expr(), lines)));
            }
            Value::Object(entries)
        }
        Expression::Parenthesis(inner) => return expr_node(inner.inner(), lines),
        _ => Value::Unsupported,
    };
    Node {
        line: lines.line(expr.span()),
        value,
    }
}

/// Byte offsets of line starts, to turn a span into a one-based line number.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(at, _)| at + 1))
            .collect();
        LineIndex { starts }
    }

    fn line(&self, span: Option<std::ops::Range<usize>>) -> Option<usize> {
        let offset = span?.start;
        // `partition_point` counts the line starts at or before the offset, which is the line.
        Some(self.starts.partition_point(|&start| start <= offset))
    }
}
