//! Attribute values: literals only (null, boolean, number, string or heredoc without
//! interpolation, list, object); Vault's configs need nothing more and expressions are not
//! evaluated.

use hcl::edit::expr::{Expression, ObjectKey};
use hcl::edit::template::Element;
use hcl::edit::Span;
use serde::de::value::StrDeserializer;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::forward_to_deserialize_any;

use super::error::{DeError, DeProblem, STANZA};
use super::{visit_spanned, Lines, LEADING_ZERO_TEXT_NAME, SPANNED_NAME};

/// A literal value: null, boolean, number, string (without interpolation), list or object.
pub(super) struct ExprDe<'a> {
    expr: &'a Expression,
    lines: &'a Lines,
}

impl<'a> ExprDe<'a> {
    pub(super) fn new(expr: &'a Expression, lines: &'a Lines) -> Self {
        Self { expr, lines }
    }

    fn line(&self) -> Option<usize> {
        self.lines.of(self.expr.span())
    }
}

fn expr_kind(expr: &Expression) -> &'static str {
    match expr {
        Expression::Null(_) => "null",
        Expression::Bool(_) => "a boolean",
        Expression::Number(_) => "a number",
        Expression::String(_) | Expression::StringTemplate(_) | Expression::HeredocTemplate(_) => {
            "a string"
        }
        Expression::Array(_) => "a list",
        Expression::Object(_) => "an object",
        _ => "an expression",
    }
}

/// The source text of an integer literal written with a leading zero, such as `0600`.
fn leading_zero_text(expr: &Expression) -> Option<&str> {
    let Expression::Number(n) = expr else {
        return None;
    };
    // The parser keeps each number's text as its representation.
    let text: &str = n.as_repr()?;
    let leading_zero = text.len() > 1 && text.starts_with('0');
    (leading_zero && text.bytes().all(|b| b.is_ascii_digit())).then_some(text)
}

/// A string template made of literal parts only, such as `"a$${b}"`, as one string.
fn literal_template<'a>(elements: impl IntoIterator<Item = &'a Element>) -> Option<String> {
    elements
        .into_iter()
        .try_fold(String::new(), |mut out, element| match element {
            Element::Literal(lit) => {
                out.push_str(lit.value());
                Some(out)
            }
            _ => None,
        })
}

impl<'de> de::Deserializer<'de> for ExprDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let not_literal = || DeError::new(DeProblem::NotLiteral);
        match self.expr {
            Expression::Null(_) => visitor.visit_unit(),
            Expression::Bool(b) => visitor.visit_bool(*b.value()),
            Expression::Number(n) => {
                let n = n.value();
                if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else if let Some(f) = n.as_f64() {
                    visitor.visit_f64(f)
                } else {
                    Err(not_literal())
                }
            }
            Expression::String(s) => visitor.visit_str(s.value()),
            Expression::StringTemplate(t) => match literal_template(t.iter()) {
                Some(s) => visitor.visit_string(s),
                None => Err(not_literal()),
            },
            // `<<EOT` and `<<-EOT` (the parser has already stripped the latter's indent), for
            // multi-line values such as a template's `contents`.
            Expression::HeredocTemplate(h) => match literal_template(h.template.iter()) {
                Some(s) => visitor.visit_string(s),
                None => Err(not_literal()),
            },
            Expression::Array(items) => visitor.visit_seq(ExprSeq {
                items: Box::new(items.iter()),
                lines: self.lines,
            }),
            Expression::Object(object) => visitor.visit_map(ExprMap {
                entries: object.iter(),
                pending: None,
                lines: self.lines,
            }),
            _ => Err(not_literal()),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if name == SPANNED_NAME {
            visit_spanned(self.line(), self, visitor)
        } else if name == LEADING_ZERO_TEXT_NAME {
            match leading_zero_text(self.expr) {
                Some(text) => visitor.visit_str(text),
                None => self.deserialize_any(visitor),
            }
        } else {
            self.deserialize_any(visitor)
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.expr {
            Expression::Null(_) => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        // Only a unit variant can be written as a value; a stanza must be a block.
        match self.expr {
            Expression::String(s) => visitor.visit_enum(StrDeserializer::new(s.value())),
            other => Err(DeError::new(DeProblem::WrongType {
                expected: STANZA.to_owned(),
                found: expr_kind(other).to_owned(),
            })),
        }
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map identifier ignored_any
    }
}

struct ExprSeq<'a> {
    items: Box<dyn Iterator<Item = &'a Expression> + 'a>,
    lines: &'a Lines,
}

impl<'de> SeqAccess<'de> for ExprSeq<'_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.items.next() {
            Some(expr) => seed.deserialize(ExprDe::new(expr, self.lines)).map(Some),
            None => Ok(None),
        }
    }
}

/// An object's entries. Each error is stamped with its own entry's line and key, so an unknown
/// key inside `config = { ... }` is reported where it is written, under its own name.
struct ExprMap<'a> {
    entries: hcl::edit::expr::ObjectIter<'a>,
    pending: Option<(&'a str, Option<usize>, &'a Expression)>,
    lines: &'a Lines,
}

impl<'de> MapAccess<'de> for ExprMap<'_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        let line = self.lines.of(key.span());
        let key = match key {
            ObjectKey::Ident(ident) => ident.as_str(),
            ObjectKey::Expression(Expression::String(s)) => s.value().as_str(),
            ObjectKey::Expression(_) => {
                return Err(DeError::new(DeProblem::NotLiteral).at(line, None, None))
            }
        };
        self.pending = Some((key, line, value.expr()));
        seed.deserialize(StrDeserializer::new(key))
            .map(Some)
            .map_err(|e: DeError| e.at(line, Some(key), None))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        match self.pending.take() {
            Some((key, line, expr)) => seed
                .deserialize(ExprDe::new(expr, self.lines))
                .map_err(|e| e.at(line, Some(key), None)),
            None => Err(de::Error::custom("value requested before its key")),
        }
    }
}
