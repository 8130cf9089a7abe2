//! Blocks: all blocks of one identifier as a sequence; one block `ident "label" { ... }` as an
//! externally tagged enum whose variant is the label and whose content is the body; and one
//! unlabelled block `ident { ... }` as a struct (its body).

use hcl::edit::structure::Block;
use hcl::edit::Span;
use serde::de::value::StrDeserializer;
use serde::de::{self, DeserializeSeed, EnumAccess, SeqAccess, Unexpected, VariantAccess, Visitor};
use serde::forward_to_deserialize_any;

use super::error::{DeError, DeProblem, STANZA};
use super::{visit_spanned, BodyDe, Lines, NAMED_BLOCK_NAME, SPANNED_NAME};

/// All blocks of one identifier in one body.
pub(super) struct BlockGroupDe<'a> {
    pub(super) ident: &'a str,
    pub(super) blocks: Vec<&'a Block>,
    pub(super) lines: &'a Lines,
    pub(super) parent: Option<String>,
}

impl<'a> BlockGroupDe<'a> {
    /// The block, for a key that can't repeat.
    fn single(self) -> Result<BlockDe<'a>, DeError> {
        match self.blocks.as_slice() {
            [block] => Ok(BlockDe {
                block,
                lines: self.lines,
                parent: self.parent,
            }),
            [first, second, ..] => {
                let first_line = self.lines.of(first.ident.span());
                let line = self.lines.of(second.ident.span());
                Err(DeError::new(DeProblem::DuplicateStanza { first_line }).at(
                    line,
                    Some(self.ident),
                    self.parent.as_deref(),
                ))
            }
            [] => Err(de::Error::custom("empty stanza group")),
        }
    }
}

impl<'de> de::Deserializer<'de> for BlockGroupDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.single()?.deserialize_any(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_seq(BlockSeq {
            blocks: self.blocks.into_iter(),
            lines: self.lines,
            parent: self.parent,
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.single()?.deserialize_struct(name, fields, visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.single()?.deserialize_enum(name, variants, visitor)
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
        bytes byte_buf unit unit_struct tuple tuple_struct map identifier ignored_any
    }
}

struct BlockSeq<'a> {
    blocks: std::vec::IntoIter<&'a Block>,
    lines: &'a Lines,
    parent: Option<String>,
}

impl<'de> SeqAccess<'de> for BlockSeq<'_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some(block) = self.blocks.next() else {
            return Ok(None);
        };
        seed.deserialize(BlockDe {
            block,
            lines: self.lines,
            parent: self.parent.clone(),
        })
        .map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.blocks.len())
    }
}

/// One block: `ident "label" { body }`, read as an enum whose variant is the label.
struct BlockDe<'a> {
    block: &'a Block,
    lines: &'a Lines,
    parent: Option<String>,
}

impl BlockDe<'_> {
    fn line(&self) -> Option<usize> {
        self.lines.of(self.block.ident.span())
    }

    fn locate(&self, err: DeError) -> DeError {
        err.at(
            self.line(),
            Some(self.block.ident.as_str()),
            self.parent.as_deref(),
        )
    }
}

impl<'de> de::Deserializer<'de> for BlockDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        Err(self.locate(de::Error::invalid_type(Unexpected::Other(STANZA), &visitor)))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if name == SPANNED_NAME {
            visit_spanned(self.line(), self, visitor)
        } else {
            self.deserialize_map(visitor)
        }
    }

    /// An unlabelled stanza such as `lease_revocation { ... }`: its body is the struct.
    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if !self.block.labels.is_empty() {
            let found = self.block.labels.len();
            return Err(self.locate(DeError::new(DeProblem::UnexpectedLabels { found })));
        }
        let context = self.block.ident.as_str().to_owned();
        let body = BodyDe::new(&self.block.body, self.lines, self.line(), Some(context))?;
        de::Deserializer::deserialize_any(body, visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if self.block.labels.len() != 1 {
            let found = self.block.labels.len();
            let problem = if name == NAMED_BLOCK_NAME {
                DeProblem::NameLabel { found }
            } else {
                DeProblem::Labels { found }
            };
            return Err(self.locate(DeError::new(problem)));
        }
        visitor.visit_enum(self)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple tuple_struct identifier
        ignored_any
    }
}

impl<'de, 'a> EnumAccess<'de> for BlockDe<'a> {
    type Error = DeError;
    type Variant = BodyDe<'a>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, BodyDe<'a>), DeError> {
        let (ident, line) = (self.block.ident.as_str(), self.line());
        let Some(label) = self.block.labels.first() else {
            return Err(self.locate(DeError::new(DeProblem::Labels { found: 0 })));
        };
        let variant = seed
            .deserialize(StrDeserializer::new(label.as_str()))
            .map_err(|e: DeError| {
                e.at(
                    self.lines.of(label.span()),
                    Some(ident),
                    self.parent.as_deref(),
                )
            })?;
        let context = format!("{ident} \"{}\"", label.as_str());
        let body = BodyDe::new(&self.block.body, self.lines, line, Some(context))?;
        Ok((variant, body))
    }
}

impl<'de> VariantAccess<'de> for BodyDe<'_> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        match self.entries.first() {
            None => Ok(()),
            Some(entry) => {
                let (key, line) = entry.key_and_line();
                Err(DeError::new(DeProblem::UnknownKey(key.to_owned())).at(
                    line,
                    Some(key),
                    self.context.as_deref(),
                ))
            }
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_any(self, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_any(self, visitor)
    }
}
