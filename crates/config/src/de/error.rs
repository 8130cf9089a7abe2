//! The deserializer's error: a problem plus the line, key and stanza it was found at, filled
//! in layer by layer on the way out, then turned into a [`ConfigError`].

use std::fmt;

use serde::de::{self, Unexpected};

use crate::error::{ConfigError, Problem};

/// A deserialization error, located as it travels out through the layers.
#[derive(Debug, Clone)]
pub(crate) struct DeError {
    line: Option<usize>,
    key: Option<String>,
    stanza: Option<String>,
    problem: DeProblem,
}

#[derive(Debug, Clone)]
pub(super) enum DeProblem {
    UnknownKey(String),
    UnknownVariant {
        name: String,
        supported: Vec<String>,
    },
    Labels {
        found: usize,
    },
    NameLabel {
        found: usize,
    },
    UnexpectedLabels {
        found: usize,
    },
    DuplicateStanza {
        first_line: Option<usize>,
    },
    MissingKey(String),
    DuplicateKey(String),
    WrongType {
        expected: String,
        found: String,
    },
    NotLiteral,
    Custom(String),
}

impl DeError {
    pub(super) fn new(problem: DeProblem) -> Self {
        Self {
            line: None,
            key: None,
            stanza: None,
            problem,
        }
    }

    /// Fills in whatever an inner layer did not know.
    pub(super) fn at(
        mut self,
        line: Option<usize>,
        key: Option<&str>,
        stanza: Option<&str>,
    ) -> Self {
        self.line = self.line.or(line);
        if self.key.is_none() {
            self.key = key.map(str::to_owned);
        }
        if self.stanza.is_none() {
            self.stanza = stanza.map(str::to_owned);
        }
        self
    }

    pub(super) fn into_config_error(self) -> ConfigError {
        let key = self.key.unwrap_or_else(|| "value".to_owned());
        let problem = match self.problem {
            DeProblem::UnknownKey(key) => Problem::UnknownKey { key },
            DeProblem::UnknownVariant { name, supported } => Problem::UnknownStanzaType {
                stanza: key,
                name,
                supported,
            },
            DeProblem::Labels { found } => Problem::StanzaLabels { stanza: key, found },
            DeProblem::NameLabel { found } => Problem::StanzaNameLabel { stanza: key, found },
            DeProblem::UnexpectedLabels { found } => {
                Problem::StanzaTakesNoLabel { stanza: key, found }
            }
            DeProblem::DuplicateStanza { first_line } => Problem::DuplicateStanza {
                stanza: key,
                first_line,
            },
            DeProblem::MissingKey(key) => Problem::MissingKey { key },
            DeProblem::DuplicateKey(key) => Problem::DuplicateKey { key },
            DeProblem::WrongType { expected, found } => Problem::WrongType {
                key,
                expected,
                found,
            },
            DeProblem::NotLiteral => Problem::NotLiteral { key },
            DeProblem::Custom(reason) => Problem::InvalidValue { key, reason },
        };
        ConfigError::at(self.line, self.stanza.as_deref(), problem)
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.clone().into_config_error(), f)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self::new(DeProblem::Custom(msg.to_string()))
    }

    // serde's default messages quote the offending value, which could be a secret; these
    // name only its kind.
    fn invalid_type(unexp: Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        let expected = match exp.to_string().as_str() {
            "a sequence" => "a list".to_owned(),
            other => other.to_owned(),
        };
        Self::new(DeProblem::WrongType {
            expected,
            found: describe(&unexp).to_owned(),
        })
    }

    fn invalid_value(unexp: Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        Self::invalid_type(unexp, exp)
    }

    fn invalid_length(len: usize, exp: &dyn de::Expected) -> Self {
        Self::custom(format_args!("expected {exp}, found {len} items"))
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        Self::new(DeProblem::UnknownVariant {
            name: variant.to_owned(),
            supported: expected.iter().map(|s| (*s).to_owned()).collect(),
        })
    }

    fn unknown_field(field: &str, _expected: &'static [&'static str]) -> Self {
        Self::new(DeProblem::UnknownKey(field.to_owned()))
    }

    fn missing_field(field: &'static str) -> Self {
        Self::new(DeProblem::MissingKey(field.to_owned()))
    }

    fn duplicate_field(field: &'static str) -> Self {
        Self::new(DeProblem::DuplicateKey(field.to_owned()))
    }
}

fn describe(unexp: &Unexpected<'_>) -> &'static str {
    match unexp {
        Unexpected::Bool(_) => "a boolean",
        Unexpected::Unsigned(_) | Unexpected::Signed(_) | Unexpected::Float(_) => "a number",
        Unexpected::Char(_) | Unexpected::Str(_) | Unexpected::Bytes(_) => "a string",
        Unexpected::Unit | Unexpected::Option => "null",
        Unexpected::Seq => "a list",
        Unexpected::Map => "an object",
        Unexpected::Other(STANZA) => STANZA,
        _ => "a value of another kind",
    }
}

pub(super) const STANZA: &str = "a stanza";
