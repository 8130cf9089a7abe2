//! dotenv files: `KEY=VALUE` lines, read by `secrethub run --env-file` ([`parse_env`]) and by
//! the `file` provider ([`parse_secrets`]); one parser, so both read the same files alike.
//!
//! - Blank lines and lines starting with `#` are skipped; `export KEY=VALUE` is accepted.
//! - Keys match `[A-Za-z_][A-Za-z0-9_]*` (environment variables); the `file` provider also
//!   allows `.` and `-` (`db.password`); whitespace around `=` is ignored.
//! - `'single quotes'` are literal; `"double quotes"` understand `\n`, `\"` and `\\` (any
//!   other backslash stays as written). Quoted values may span lines; after the closing quote
//!   only a `# comment` may follow.
//! - Unquoted values run to the end of the line or to a ` #` comment, trailing space trimmed.
//!
//! Values may hold `${secret:…}` references; `run` renders them. Errors name the file and the
//! line, never the line's text, since a value may be a secret.

use std::io;
use std::path::{Path, PathBuf};

/// Why an env file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum EnvFileError {
    #[error("{}: {source}", file.display())]
    Read { file: PathBuf, source: io::Error },
    #[error("{file}:{line}: {problem}")]
    Syntax {
        /// The file's name as given.
        file: String,
        /// 1-based line where the offending entry starts.
        line: usize,
        problem: &'static str,
    },
}

impl EnvFileError {
    pub fn kind(&self) -> secrethub_common::ErrorKind {
        match self {
            EnvFileError::Read { source, .. } if source.kind() == io::ErrorKind::NotFound => {
                secrethub_common::ErrorKind::NotFound
            }
            EnvFileError::Read { .. } => secrethub_common::ErrorKind::Internal,
            EnvFileError::Syntax { .. } => secrethub_common::ErrorKind::BadRequest,
        }
    }
}

/// Reads and parses the env file at `path`. Entries come in file order; a key given twice
/// appears twice (the caller lets the later one win).
pub fn read_env_file(path: &Path) -> Result<Vec<(String, String)>, EnvFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| EnvFileError::Read {
        file: path.to_path_buf(),
        source,
    })?;
    parse_env(&path.display().to_string(), &text)
}

/// Parses env file `text` (keys are variable names); `file` names it in errors.
pub fn parse_env(file: &str, text: &str) -> Result<Vec<(String, String)>, EnvFileError> {
    parse(file, text, KeyRule::Variable)
}

/// Parses a dotenv file of secrets (keys may also hold `.` and `-`); `file` names it in errors.
pub fn parse_secrets(file: &str, text: &str) -> Result<Vec<(String, String)>, EnvFileError> {
    parse(file, text, KeyRule::SecretName)
}

/// Which keys a file may have.
#[derive(Clone, Copy)]
enum KeyRule {
    /// An environment variable: `[A-Za-z_][A-Za-z0-9_]*`.
    Variable,
    /// A secret's name in a development file: letters, digits, `_`, `.`, `-`.
    SecretName,
}

impl KeyRule {
    fn allows(self, key: &str) -> bool {
        match self {
            KeyRule::Variable => is_valid_key(key),
            KeyRule::SecretName => {
                !key.is_empty()
                    && key
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
            }
        }
    }

    fn problem(self) -> &'static str {
        match self {
            KeyRule::Variable => "invalid variable name (expected [A-Za-z_][A-Za-z0-9_]*)",
            KeyRule::SecretName => "invalid key (expected letters, digits, '_', '.' or '-')",
        }
    }
}

fn parse(file: &str, text: &str, keys: KeyRule) -> Result<Vec<(String, String)>, EnvFileError> {
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let mut entries = Vec::new();
    let mut next = 0;
    while next < lines.len() {
        let start = next;
        let error = |problem| EnvFileError::Syntax {
            file: file.to_string(),
            line: start + 1,
            problem,
        };
        let line = lines[start].trim_start();
        next += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = match line.strip_prefix("export") {
            Some(rest) if rest.starts_with([' ', '\t']) => rest.trim_start(),
            _ => line,
        };
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| error("expected KEY=VALUE"))?;
        let key = key.trim_end();
        if !keys.allows(key) {
            return Err(error(keys.problem()));
        }
        let value = value.trim_start();
        let value = match value.chars().next() {
            Some(quote @ ('\'' | '"')) => {
                let (value, used_lines) =
                    quoted(&value[1..], &lines[next..], quote).map_err(error)?;
                next += used_lines;
                value
            }
            _ => unquoted(value).to_string(),
        };
        entries.push((key.to_string(), value));
    }
    Ok(entries)
}

/// Whether `key` is a valid environment variable name.
pub fn is_valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// An unquoted value: up to a `#` that follows whitespace, trailing whitespace trimmed.
fn unquoted(value: &str) -> &str {
    let end = value
        .char_indices()
        .find(|&(i, c)| c == '#' && value[..i].ends_with([' ', '\t']))
        .map_or(value.len(), |(i, _)| i);
    value[..end].trim_end()
}

/// A quoted value starting just after its opening `quote` in `first`, continuing over `more`
/// lines when the quote stays open. Returns the value and how many of `more` it consumed.
fn quoted(first: &str, more: &[&str], quote: char) -> Result<(String, usize), &'static str> {
    let mut value = String::new();
    let mut line = first;
    let mut used = 0;
    loop {
        let mut chars = line.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                c if c == quote => {
                    let after = line[i + 1..].trim_start();
                    if !after.is_empty() && !after.starts_with('#') {
                        return Err("unexpected text after the closing quote");
                    }
                    return Ok((value, used));
                }
                '\\' if quote == '"' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, other)) => {
                        value.push('\\');
                        value.push(other);
                    }
                    None => value.push('\\'),
                },
                c => value.push(c),
            }
        }
        let Some(next_line) = more.get(used) else {
            return Err(if quote == '"' {
                "unterminated double quote"
            } else {
                "unterminated single quote"
            });
        };
        value.push('\n');
        line = next_line;
        used += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Vec<(String, String)> {
        parse_env("test.env", text).unwrap()
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn plain_lines_comments_and_export() {
        let text = "# a comment\n\nA=1\n  export B = two words  \nC=x#not-a-comment # a comment\r\nD=\nE=a=b\n_F9=${secret:kv/app#k}\n";
        assert_eq!(
            parse(text),
            pairs(&[
                ("A", "1"),
                ("B", "two words"),
                ("C", "x#not-a-comment"),
                ("D", ""),
                ("E", "a=b"),
                ("_F9", "${secret:kv/app#k}"),
            ])
        );
    }

    #[test]
    fn quotes() {
        let text = concat!(
            "S='lit \\n $x \"q\"' # c\n",
            "D=\"a\\nb \\\"q\\\" \\\\ \\t 'x'\"\n",
            "M=\"line1\nline2\"\n",
            "N='one\n# not a comment\ntwo'\n",
            "export=\"x\"\n",
        );
        assert_eq!(
            parse(text),
            pairs(&[
                ("S", "lit \\n $x \"q\""),
                ("D", "a\nb \"q\" \\ \\t 'x'"),
                ("M", "line1\nline2"),
                ("N", "one\n# not a comment\ntwo"),
                ("export", "x"),
            ])
        );
    }

    #[test]
    fn errors_name_file_and_line_but_not_the_text() {
        let cases = [
            ("A=1\nhunter2\n", "test.env:2: expected KEY=VALUE"),
            (
                "\n\n1A=x",
                "test.env:3: invalid variable name (expected [A-Za-z_][A-Za-z0-9_]*)",
            ),
            (
                "MY KEY=x",
                "test.env:1: invalid variable name (expected [A-Za-z_][A-Za-z0-9_]*)",
            ),
            (
                "A=1\nB=\"hunter2\nC=3\n",
                "test.env:2: unterminated double quote",
            ),
            ("A='hunter2", "test.env:1: unterminated single quote"),
            (
                "A='x' hunter2\n",
                "test.env:1: unexpected text after the closing quote",
            ),
        ];
        for (text, expected) in cases {
            let err = parse_env("test.env", text).unwrap_err();
            assert_eq!(err.to_string(), expected, "{text:?}");
            assert!(!err.to_string().contains("hunter2"));
        }
    }

    #[test]
    fn lines_after_a_multiline_value_are_counted() {
        let err = parse_env("f", "A=\"x\ny\"\nbad line\n").unwrap_err();
        assert_eq!(err.to_string(), "f:3: expected KEY=VALUE");
    }
}
