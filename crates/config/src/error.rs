//! `ConfigError`: what is wrong with a config file and where (file, line, stanza).
//!
//! Messages never contain a secret: a wrong-typed value is described by its kind ("a string"),
//! never by its content, and only non-secret values (durations, addresses, names) are quoted.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use secrethub_common::parse_guard::ParseLimitError;
use secrethub_common::ErrorKind;

/// A config file that can't be read, parsed or validated.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read config file: {source}", path.display())]
    Read {
        /// The path as given to [`crate::load`].
        path: PathBuf,
        /// Why reading failed.
        #[source]
        source: io::Error,
    },
    /// The text is not valid HCL, or not a valid server or agent config.
    #[error("{at}{problem}")]
    Invalid {
        /// Where the problem is (boxed to keep `Result`s small).
        at: Box<Location>,
        /// What the problem is.
        problem: Problem,
    },
}

impl ConfigError {
    /// Every config error is the operator's input being wrong.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::BadRequest
    }

    /// The 1-based line the problem is on, when it is known.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Read { .. } => None,
            ConfigError::Invalid { at, .. } => at.line,
        }
    }

    /// What is wrong, without the location; `None` for a read failure.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            ConfigError::Read { .. } => None,
            ConfigError::Invalid { problem, .. } => Some(problem),
        }
    }

    pub(crate) fn at(line: Option<usize>, stanza: Option<&str>, problem: Problem) -> Self {
        ConfigError::Invalid {
            at: Box::new(Location {
                file: None,
                line,
                stanza: stanza.map(str::to_owned),
            }),
            problem,
        }
    }

    /// Names the file the text came from, so the message reads `server.hcl:7: ...`.
    pub(crate) fn in_file(mut self, path: &Path) -> Self {
        if let ConfigError::Invalid { at, .. } = &mut self {
            at.file = Some(path.to_path_buf());
        }
        self
    }
}

/// Where in the config a problem is. Displays as `server.hcl:7: listener "tcp": ` (each part
/// only when known), so it can prefix the problem.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    /// The config file, when the text was loaded from one.
    pub file: Option<PathBuf>,
    /// The 1-based line.
    pub line: Option<usize>,
    /// The stanza the problem is inside, such as `listener "tcp"`.
    pub stanza: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{}:{line}: ", file.display())?,
            (Some(file), None) => write!(f, "{}: ", file.display())?,
            (None, Some(line)) => write!(f, "line {line}: ")?,
            (None, None) => {}
        }
        if let Some(stanza) = &self.stanza {
            write!(f, "{stanza}: ")?;
        }
        Ok(())
    }
}

/// What is wrong with a config, independent of where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// Refused before parsing: larger or nested deeper than `ParseLimits::CONFIG` allows.
    #[error("config is {0}")]
    Limit(ParseLimitError),
    /// The text is not HCL. The parser's message only: its rendering quotes the source line,
    /// which may hold a connection URL with a password.
    #[error("syntax error at column {column}: {message}{hint}")]
    Syntax {
        /// The parser's description.
        message: String,
        /// The 1-based column.
        column: usize,
        /// Extra advice for a common mistake, empty otherwise.
        hint: String,
    },
    /// A key this config does not know (often a typo).
    #[error("unknown key \"{key}\"")]
    UnknownKey {
        /// The key as written.
        key: String,
    },
    /// A stanza label that names no supported type, such as `storage "consul"`.
    #[error("unknown {stanza} type \"{name}\"; supported: {}", supported.join(", "))]
    UnknownStanzaType {
        /// The stanza, such as `storage`.
        stanza: String,
        /// The label as written.
        name: String,
        /// The labels that are accepted.
        supported: Vec<String>,
    },
    /// A stanza with the wrong number of labels, such as `storage {}`.
    #[error("expected one label after {stanza}, naming its type as in {stanza} \"<type>\" {{ ... }}; found {found}")]
    StanzaLabels {
        /// The stanza, such as `storage`.
        stanza: String,
        /// How many labels it has.
        found: usize,
    },
    /// A stanza whose one label is a name, written without it or with more, such as
    /// `provider {}`.
    #[error("expected one label after {stanza}, naming it as in {stanza} \"<name>\" {{ ... }}; found {found}")]
    StanzaNameLabel {
        /// The stanza, such as `provider`.
        stanza: String,
        /// How many labels it has.
        found: usize,
    },
    /// A stanza that takes no label written with some, such as `lease_revocation "x" {}`.
    #[error("{stanza} takes no label, as in {stanza} {{ ... }}; found {found}")]
    StanzaTakesNoLabel {
        /// The stanza, such as `lease_revocation`.
        stanza: String,
        /// How many labels it has.
        found: usize,
    },
    /// A stanza that may appear once given twice, such as two `lease_revocation` stanzas.
    #[error("only one {stanza} stanza is allowed{}", on_line("; the first is on", *first_line))]
    DuplicateStanza {
        /// The stanza, such as `lease_revocation`.
        stanza: String,
        /// Where the first one is.
        first_line: Option<usize>,
    },
    /// A required key is absent.
    #[error("missing key \"{key}\"")]
    MissingKey {
        /// The key that must be given.
        key: String,
    },
    /// A key given twice, or both as an attribute and as a stanza.
    #[error("duplicate key \"{key}\"")]
    DuplicateKey {
        /// The key given twice.
        key: String,
    },
    /// A value of the wrong kind, such as a list where a string belongs.
    #[error("\"{key}\" must be {expected}, found {found}")]
    WrongType {
        /// The key whose value is wrong.
        key: String,
        /// What the key takes.
        expected: String,
        /// The kind of value found (never the value itself).
        found: String,
    },
    /// An expression (interpolation, variable, function call) where only literals are read.
    #[error("\"{key}\" must be a literal value; expressions and interpolations are not evaluated")]
    NotLiteral {
        /// The key whose value is an expression.
        key: String,
    },
    /// A value of the right kind that is not acceptable.
    #[error("\"{key}\": {reason}")]
    InvalidValue {
        /// The key whose value is wrong.
        key: String,
        /// Why; quotes the value only when it can't be a secret.
        reason: String,
    },
    /// A stanza that must be given is absent, such as the `method` of `auto_auth`.
    #[error("missing {stanza} stanza, such as {example}")]
    MissingStanza {
        /// The stanza, such as `method`.
        stanza: String,
        /// What one looks like.
        example: String,
    },
    /// A key of a typed stanza that belongs to another type, such as `vault_url` in a
    /// provider of type `aws-sm`.
    #[error("key \"{key}\" does not belong to type \"{kind}\"")]
    KeyNotForType {
        /// The key as written.
        key: String,
        /// The stanza's type.
        kind: String,
    },
    /// A key that the stanza's type requires is absent.
    #[error("missing key \"{key}\", required for type \"{kind}\"")]
    MissingKeyForType {
        /// The key that must be given.
        key: String,
        /// The stanza's type.
        kind: String,
    },
    /// A stanza's name label that is not acceptable, such as a reserved provider name.
    #[error("invalid {stanza} name \"{name}\": {reason}")]
    InvalidName {
        /// The stanza, such as `provider`.
        stanza: String,
        /// The name as written.
        name: String,
        /// Why it is refused.
        reason: String,
    },
    /// Two stanzas with the same name label, such as two `provider "aws"`.
    #[error("only one {stanza} may be named \"{name}\"{}", on_line("; the first is on", *first_line))]
    DuplicateName {
        /// The stanza, such as `provider`.
        stanza: String,
        /// The name both use.
        name: String,
        /// Where the first one is.
        first_line: Option<usize>,
    },
    /// Two keys of a stanza whose values are in the wrong order, such as a first retry delay
    /// above the cap.
    #[error("{lower_key} ({lower}) must not exceed {upper_key} ({upper})")]
    ValueOrder {
        /// The key that must be the smaller.
        lower_key: String,
        /// Its value, formatted.
        lower: String,
        /// The key that must be the larger.
        upper_key: String,
        /// Its value, formatted.
        upper: String,
    },
    /// Keys of which exactly one must be given, with none or several given, such as a
    /// template's `source` and `contents`.
    #[error("{}", one_of(keys, *found))]
    OneOf {
        /// The alternatives.
        keys: Vec<&'static str>,
        /// How many of them are given.
        found: usize,
    },
    /// More than one storage stanza.
    #[error("only one storage stanza is allowed{}", on_line("; the first is on", *first_line))]
    DuplicateStorage {
        /// Where the first storage stanza is.
        first_line: Option<usize>,
    },
    /// No listener stanza: the server would not be reachable.
    #[error(
        "no listener stanza; add one such as listener \"tcp\" {{ address = \"127.0.0.1:8200\" }}"
    )]
    NoListener,
    /// Two listeners on the same address.
    #[error("address {address} is already used by another listener{}", on_line(" on", *first_line))]
    DuplicateListener {
        /// The address both listeners use.
        address: String,
        /// Where the first listener is.
        first_line: Option<usize>,
    },
    /// A TLS listener without its certificate or key.
    #[error("missing {} (required unless tls_disable = true)", missing.join(" and "))]
    TlsFilesMissing {
        /// `tls_cert_file` and/or `tls_key_file`, whichever are not given.
        missing: Vec<&'static str>,
    },
    /// `default_lease_ttl` above `max_lease_ttl`.
    #[error("default_lease_ttl ({default}) must not exceed max_lease_ttl ({max})")]
    TtlOrder {
        /// The default TTL, Vault-formatted.
        default: String,
        /// The maximum TTL, Vault-formatted.
        max: String,
    },
    /// `lease_revocation`'s `base_delay` above its `max_delay`.
    #[error("base_delay ({base_delay}) must not exceed max_delay ({max_delay})")]
    BackoffOrder {
        /// The first retry delay, Vault-formatted.
        base_delay: String,
        /// The cap between retries, Vault-formatted.
        max_delay: String,
    },
}

fn one_of(keys: &[&str], found: usize) -> String {
    let quoted: Vec<String> = keys.iter().map(|k| format!("\"{k}\"")).collect();
    if found == 0 {
        format!("one of {} is required", quoted.join(" or "))
    } else {
        format!("only one of {} may be given", quoted.join(" and "))
    }
}

fn on_line(prefix: &str, line: Option<usize>) -> String {
    line.map(|l| format!("{prefix} line {l}"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_prefixes_only_known_parts() {
        let err = ConfigError::at(
            Some(7),
            Some("listener \"tcp\""),
            Problem::UnknownKey {
                key: "adress".into(),
            },
        );
        assert_eq!(
            err.to_string(),
            "line 7: listener \"tcp\": unknown key \"adress\""
        );
        let err = err.in_file(Path::new("conf/server.hcl"));
        assert_eq!(
            err.to_string(),
            "conf/server.hcl:7: listener \"tcp\": unknown key \"adress\""
        );
        assert_eq!(err.line(), Some(7));
        assert_eq!(err.kind(), ErrorKind::BadRequest);
        let err = ConfigError::at(None, None, Problem::NoListener);
        assert!(err.to_string().starts_with("no listener stanza"));
    }
}
