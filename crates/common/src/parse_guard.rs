//! The pre-parse guard for recursive text formats: a size limit and a nesting-depth scan over
//! the raw text, run before HCL (policies, `password_policy`, config files) or JSON policy text
//! reaches its recursive-descent parser.
//!
//! A parser that recurses per nesting level overflows its thread's stack on deep enough input,
//! and a stack overflow aborts the process: no panic handler catches it. So every place that
//! parses such text from a request calls [`check`] first, and the deepest input the parser can
//! ever see is bounded by the scan, whatever its shape.
//!
//! The scan counts one level for every construct at which hcl-edit's parser recurses (read from
//! `hcl-edit/src/parser/{expr,template,structure}.rs`):
//! - brackets `[`, `{` and `(` (arrays, objects, block bodies, function calls, parentheses,
//!   traversal indexes); a `[` right after a term (an index, `a.b[i]`) counts six levels,
//!   since hcl-edit's time, not only its stack, grows with those: it parses a failing index
//!   twice per level, so nested ones take exponential time (`scan::INDEX_LEVELS`);
//! - template interpolations and directives, `${` and `%{`, in quoted strings and heredocs,
//!   plus one per open `%{ if }` / `%{ for }` whose body nests the template;
//! - every operator of an expression: unary `-` and `!` recurse per operator, and binary and
//!   `? :` chains are right-recursive, so `1+1+1` nests as deep as it has operators. An
//!   expression's operators are counted until it ends (a `,`, or a newline where hcl-edit
//!   does not let the expression go on).
//!
//! String literals (with their escapes) and comments are skipped the way the parser skips
//! them, so brackets in a path such as `"secret/[x]"` do not count. Where the scan cannot tell
//! two readings apart, it counts the deeper one: the guard may refuse odd input the parser
//! would accept, never the reverse.

use std::fmt;

use scan::Scanner;

mod scan;

/// How deep any text handed to a recursive parser may nest.
///
/// Measured (hcl-edit 0.8, `Policy::parse` and `hcl::parse` on a fresh thread with a 2 MiB
/// stack, the size of tokio's worker threads): the costliest shape per level is a nested
/// interpolation (`"${"${…}"}"`), which overflows at 207 levels in a debug build and 255 in
/// release; `%{ if }` at 237/292, `[` at 285/336, `f(` at 386/448, `{a=` at 403/511, blocks at
/// 406/427, `(` at 761/835, `?:` chains at 821/826, `1+1+…` at 763/876, unary `-` at 911/1033
/// and `!` at 1217/1354. 32 levels use under a sixth of the stack in the worst case, leaving
/// the rest to the request path above the parser. Real policies nest 3 levels (a `path` block,
/// an `allowed_parameters` object, a list), 5 in JSON; config files about 4.
pub const MAX_NESTING_DEPTH: usize = 32;

/// Bounds on one kind of text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// The longest text accepted, in bytes.
    pub max_bytes: usize,
    /// The deepest nesting accepted, in the levels the module docs describe.
    pub max_depth: usize,
}

impl ParseLimits {
    /// ACL policies (`sys/policies/acl`, `sys/policy`) and password policies. Vault documents
    /// no limit; 128 KiB holds well over a thousand `path` blocks, far more than any policy a
    /// person maintains, and keeps parsing and the policy cache cheap.
    pub const POLICY: ParseLimits = ParseLimits {
        max_bytes: 128 * 1024,
        max_depth: MAX_NESTING_DEPTH,
    };

    /// Server and agent config files: operator input, so only a generous bound (inline
    /// agent templates may be long).
    pub const CONFIG: ParseLimits = ParseLimits {
        max_bytes: 4 * 1024 * 1024,
        max_depth: MAX_NESTING_DEPTH,
    };
}

/// Text refused before parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseLimitError {
    /// Longer than [`ParseLimits::max_bytes`].
    TooLarge {
        /// The text's length.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// Nested deeper than [`ParseLimits::max_depth`].
    TooDeep {
        /// The limit.
        limit: usize,
        /// The 1-based line where the limit was passed.
        line: usize,
    },
}

impl ParseLimitError {
    /// The 1-based line the error points at, when there is one.
    pub fn line(&self) -> Option<usize> {
        match self {
            ParseLimitError::TooLarge { .. } => None,
            ParseLimitError::TooDeep { line, .. } => Some(*line),
        }
    }
}

/// Reads as the end of a sentence whose subject the caller names:
/// `format!("policy is {err}")` gives "policy is nested too deeply (limit 32)".
impl fmt::Display for ParseLimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseLimitError::TooLarge { bytes, limit } => {
                write!(f, "too large ({bytes} bytes, limit {limit})")
            }
            ParseLimitError::TooDeep { limit, .. } => {
                write!(f, "nested too deeply (limit {limit})")
            }
        }
    }
}

impl std::error::Error for ParseLimitError {}

/// Refuses `text` if it is longer or nests deeper than `limits` allow. Linear in the text.
pub fn check(text: &str, limits: ParseLimits) -> Result<(), ParseLimitError> {
    if text.len() > limits.max_bytes {
        return Err(ParseLimitError::TooLarge {
            bytes: text.len(),
            limit: limits.max_bytes,
        });
    }
    Scanner::new(text.as_bytes(), limits.max_depth).run()
}

#[cfg(test)]
mod tests;
