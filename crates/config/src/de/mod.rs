//! A serde `Deserializer` over hcl-edit's syntax tree, which keeps the byte span of every key,
//! label and value. Deserializing the raw structs with it (rather than with `hcl::from_str`)
//! is what lets every error name its line: an unknown key fails while its own key is being
//! read, a wrong-typed value while its own value is, so each layer below stamps the error
//! with the line, key and stanza it is at; the innermost stamp wins.
//!
//! The mapping: a body is a map whose keys are its attribute names and block identifiers;
//! all blocks with one identifier form one entry, a sequence (so `listener` may repeat and a
//! second `storage` reaches validation); a labelled block is an externally tagged enum whose
//! variant is the label, an unlabelled block (`lease_revocation { ... }`) a struct, and a
//! field that is not a list takes one block only; values are literals only (HCL expressions
//! are not evaluated). Object values (`config = { path = "x" }`) are maps too, whose keys and
//! values name their own lines.
//! The text first passes `parse_guard`, so no file can nest deep enough to overflow the
//! parser's stack.

mod block;
mod error;
mod expr;

use std::collections::HashMap;
use std::ops::Range;

use hcl::edit::expr::Expression;
use hcl::edit::structure::{Block, Body, Structure};
use hcl::edit::Span;
use secrethub_common::parse_guard::{self, ParseLimits};
use serde::de::value::StrDeserializer;
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde::forward_to_deserialize_any;

use crate::error::{ConfigError, Problem};
use block::BlockGroupDe;
pub(crate) use error::DeError;
use error::DeProblem;
use expr::ExprDe;

/// The struct name by which [`crate::Spanned`] asks for a value together with its line.
pub(crate) const SPANNED_NAME: &str = "$__secrethub_config_spanned";
pub(crate) const SPANNED_FIELDS: &[&str] = &["line", "value"];

/// The struct name by which a value asks to get a number literal written with a leading zero
/// (`0600`) as its source text rather than as a number. HCL 1, which Vault's configs are
/// written in, reads such a literal as octal, and file modes are written that way; hcl-edit
/// reads it as decimal 600. Other values are deserialized as usual.
pub(crate) const LEADING_ZERO_TEXT_NAME: &str = "$__secrethub_config_leading_zero_text";

/// The enum name by which a value asks for a block whose one label is a free name (such as
/// `provider "aws"`) rather than a type; it only changes the message when the label is missing.
pub(crate) const NAMED_BLOCK_NAME: &str = "$__secrethub_config_named_block";

/// Parses `text` as HCL and deserializes it into `T`, with errors located by line.
pub(crate) fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, ConfigError> {
    parse_guard::check(text, ParseLimits::CONFIG)
        .map_err(|err| ConfigError::at(err.line(), None, Problem::Limit(err)))?;
    let body = hcl::edit::parser::parse_body(text).map_err(|e| syntax_error(text, e))?;
    let lines = Lines::new(text);
    let de = BodyDe::new(&body, &lines, None, None).map_err(DeError::into_config_error)?;
    T::deserialize(de).map_err(DeError::into_config_error)
}

fn syntax_error(text: &str, err: hcl::edit::parser::Error) -> ConfigError {
    let (line, column) = (err.location().line(), err.location().column());
    // The parser's message for a repeated attribute doesn't name it; the source does.
    if err.message().ends_with("redefined attribute") {
        let rest = text.get(err.location().offset()..).unwrap_or_default();
        let key_len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(rest.len());
        if key_len > 0 {
            let key = rest[..key_len].to_owned();
            return ConfigError::at(Some(line), None, Problem::DuplicateKey { key });
        }
    }
    // A literal `${` (a template's `${secret:…}` reference) reads as an interpolation in HCL
    // strings; the parser then fails inside it without saying why.
    let before_error = text
        .lines()
        .nth(line.saturating_sub(1))
        .map(|l| l.chars().take(column.saturating_sub(1)).collect::<String>())
        .unwrap_or_default();
    // HCL 2 (unlike Vault's HCL 1) wants one attribute per line inside a block; say so, since
    // configs copied from Vault's one-line examples hit exactly this.
    let hint = if err.message().starts_with("invalid block body") {
        "; HCL needs each attribute of a stanza on its own line"
    } else if before_error.contains("${") {
        "; HCL reads ${ in a string as an interpolation: write $${ for a literal ${"
    } else {
        ""
    };
    let problem = Problem::Syntax {
        message: err.message().to_owned(),
        column,
        hint: hint.to_owned(),
    };
    ConfigError::at(Some(line), None, problem)
}

/// Maps byte offsets to 1-based line numbers.
struct Lines {
    starts: Vec<usize>,
}

impl Lines {
    fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self { starts }
    }

    fn of(&self, span: Option<Range<usize>>) -> Option<usize> {
        span.map(|s| self.starts.partition_point(|&start| start <= s.start))
    }
}

/// Answers [`SPANNED_NAME`] with a map of the line, then the value itself.
fn visit_spanned<'de, V, D>(line: Option<usize>, inner: D, visitor: V) -> Result<V::Value, DeError>
where
    V: Visitor<'de>,
    D: de::Deserializer<'de, Error = DeError>,
{
    visitor.visit_map(SpannedAccess {
        // 0 stands for "unknown"; lines are 1-based.
        line: Some(line.unwrap_or(0)),
        inner: Some(inner),
    })
}

struct SpannedAccess<D> {
    line: Option<usize>,
    inner: Option<D>,
}

impl<'de, D: de::Deserializer<'de, Error = DeError>> MapAccess<'de> for SpannedAccess<D> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let key = if self.line.is_some() {
            "line"
        } else if self.inner.is_some() {
            "value"
        } else {
            return Ok(None);
        };
        seed.deserialize(StrDeserializer::new(key)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        if let Some(line) = self.line.take() {
            seed.deserialize(line.into_deserializer())
        } else if let Some(inner) = self.inner.take() {
            seed.deserialize(inner)
        } else {
            Err(de::Error::custom("value requested twice"))
        }
    }
}

/// A body: top level or a block's.
struct BodyDe<'a> {
    entries: Vec<Entry<'a>>,
    lines: &'a Lines,
    /// The line of the block this body belongs to.
    line: Option<usize>,
    /// The block, such as `listener "tcp"`.
    context: Option<String>,
}

enum Entry<'a> {
    Attr {
        key: &'a str,
        line: Option<usize>,
        expr: &'a Expression,
    },
    Blocks {
        ident: &'a str,
        line: Option<usize>,
        blocks: Vec<&'a Block>,
    },
}

impl Entry<'_> {
    fn key_and_line(&self) -> (&str, Option<usize>) {
        match self {
            Entry::Attr { key, line, .. } => (key, *line),
            Entry::Blocks { ident, line, .. } => (ident, *line),
        }
    }
}

impl<'a> BodyDe<'a> {
    fn new(
        body: &'a Body,
        lines: &'a Lines,
        line: Option<usize>,
        context: Option<String>,
    ) -> Result<Self, DeError> {
        let mut entries: Vec<Entry<'a>> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        for structure in body.iter() {
            let (key, key_line) = match structure {
                Structure::Attribute(attr) => (attr.key.as_str(), lines.of(attr.key.span())),
                Structure::Block(block) => (block.ident.as_str(), lines.of(block.ident.span())),
            };
            let duplicate = || {
                DeError::new(DeProblem::DuplicateKey(key.to_owned())).at(
                    key_line,
                    Some(key),
                    context.as_deref(),
                )
            };
            // `index` only holds positions of pushed entries, so the indexing can't panic.
            match (structure, index.get(key).map(|&i| &mut entries[i])) {
                (Structure::Block(block), Some(Entry::Blocks { blocks, .. })) => blocks.push(block),
                (_, Some(_)) => return Err(duplicate()),
                (Structure::Attribute(attr), None) => {
                    index.insert(key, entries.len());
                    entries.push(Entry::Attr {
                        key,
                        line: key_line,
                        expr: &attr.value,
                    });
                }
                (Structure::Block(block), None) => {
                    index.insert(key, entries.len());
                    entries.push(Entry::Blocks {
                        ident: key,
                        line: key_line,
                        blocks: vec![block],
                    });
                }
            }
        }
        Ok(Self {
            entries,
            lines,
            line,
            context,
        })
    }
}

impl<'de> de::Deserializer<'de> for BodyDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let (line, context) = (self.line, self.context.clone());
        let access = BodyAccess {
            entries: self.entries.into_iter(),
            pending: None,
            lines: self.lines,
            context: self.context,
        };
        // A missing key is only noticed once the whole body is read: blame the block's line.
        visitor
            .visit_map(access)
            .map_err(|e| e.at(line, None, context.as_deref()))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if name == SPANNED_NAME {
            visit_spanned(self.line, self, visitor)
        } else {
            self.deserialize_any(visitor)
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

struct BodyAccess<'a> {
    entries: std::vec::IntoIter<Entry<'a>>,
    pending: Option<Entry<'a>>,
    lines: &'a Lines,
    context: Option<String>,
}

impl<'de> MapAccess<'de> for BodyAccess<'_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some(entry) = self.entries.next() else {
            return Ok(None);
        };
        let (key, line) = entry.key_and_line();
        let result = seed
            .deserialize(StrDeserializer::new(key))
            .map_err(|e: DeError| e.at(line, Some(key), self.context.as_deref()));
        self.pending = Some(entry);
        result.map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let Some(entry) = self.pending.take() else {
            return Err(de::Error::custom("value requested before its key"));
        };
        let (key, line) = entry.key_and_line();
        let result = match &entry {
            Entry::Attr { expr, .. } => seed.deserialize(ExprDe::new(expr, self.lines)),
            Entry::Blocks { blocks, .. } => seed.deserialize(BlockGroupDe {
                ident: key,
                blocks: blocks.clone(),
                lines: self.lines,
                parent: self.context.clone(),
            }),
        };
        result.map_err(|e| e.at(line, Some(key), self.context.as_deref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_one_based_and_count_newlines() {
        let lines = Lines::new("a\nbc\n\nd");
        assert_eq!(lines.of(Some(0..1)), Some(1));
        assert_eq!(lines.of(Some(2..3)), Some(2));
        assert_eq!(lines.of(Some(4..5)), Some(2));
        assert_eq!(lines.of(Some(5..5)), Some(3));
        assert_eq!(lines.of(Some(6..7)), Some(4));
        assert_eq!(lines.of(None), None);
    }
}
