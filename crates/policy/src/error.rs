//! `PolicyError`: why a policy text was rejected.
//! Every message names the path pattern and the offending key or value, plus the line when the
//! text is HCL (JSON policies carry no line numbers), so an operator can fix the policy.

use std::fmt;

use secrethub_common::parse_guard::ParseLimitError;
use secrethub_common::ErrorKind;

/// A policy text that is not valid HCL/JSON or not a valid policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    line: Option<usize>,
    pattern: Option<String>,
    problem: Problem,
}

/// What is wrong, without the location.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Problem {
    #[error("{message}")]
    Syntax { column: usize, message: String },
    #[error("unknown key {0:?}")]
    UnknownKey(String),
    #[error("key {0:?} is not supported")]
    UnsupportedKey(String),
    #[error("duplicate key {0:?}")]
    DuplicateKey(String),
    #[error("invalid capability {0:?}")]
    InvalidCapability(String),
    #[error("invalid policy {0:?} (expected \"deny\", \"read\", \"write\" or \"sudo\")")]
    InvalidShorthand(String),
    #[error("{key:?} must be {expected}")]
    WrongType { key: String, expected: &'static str },
    #[error("invalid {key:?}: invalid duration {value:?}")]
    InvalidDuration { key: &'static str, value: String },
    #[error("max_wrapping_ttl cannot be less than min_wrapping_ttl")]
    WrappingTtlRange,
    #[error("{key}: the \"*\" parameter only accepts an empty list of values")]
    WildcardParameterValues { key: &'static str },
    #[error("invalid use of wildcards ('+*' is forbidden)")]
    PlusStar,
    #[error("unbalanced templating characters")]
    UnbalancedTemplate,
    /// Refused before parsing: too large or nested too deeply for the parser's stack.
    #[error("policy is {0}")]
    Limit(ParseLimitError),
}

impl PolicyError {
    pub(crate) fn new(line: Option<usize>, pattern: Option<&str>, problem: Problem) -> Self {
        PolicyError {
            line,
            pattern: pattern.map(str::to_owned),
            problem,
        }
    }

    /// The error category for the HTTP layer: a bad policy is always the caller's input.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::BadRequest
    }

    /// The one-based line of the policy text the error points at, when known (HCL only).
    pub fn line(&self) -> Option<usize> {
        self.line
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("failed to parse policy: ")?;
        if let (Problem::Syntax { column, message }, Some(line)) = (&self.problem, self.line) {
            return write!(f, "line {line}, column {column}: {message}");
        }
        match (&self.pattern, self.line) {
            (Some(pattern), Some(line)) => write!(f, "path {pattern:?} (line {line}): ")?,
            (Some(pattern), None) => write!(f, "path {pattern:?}: ")?,
            (None, Some(line)) => write!(f, "line {line}: ")?,
            (None, None) => {}
        }
        write!(f, "{}", self.problem)
    }
}

impl std::error::Error for PolicyError {}
