//! `verify_file`: walks a hash-chained audit log and reports the first line that breaks the chain
//! (behind `secrethub audit verify FILE`).
//!
//! What the chain proves and what it does not:
//! - an edited, deleted, inserted, reordered or garbled line is found, as is a cut at the start;
//! - the chain uses plain SHA-256, so anyone able to rewrite the whole file can recompute it, and
//!   lines cut from the *end* leave no trace in the file itself. Record `last_hash` elsewhere
//!   (or ship lines off the host) to anchor the tail.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use crate::chain::{line_hash, ChainFields};
use crate::error::AuditError;

/// The outcome of verifying one log file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Number of lines in the file (all of them, also past a problem).
    pub lines: u64,
    /// The first place the chain breaks, or `None` when the whole file verifies.
    pub first_problem: Option<VerifyProblem>,
    /// SHA-256 (hex) of the last line, `""` for an empty file: what the next entry will record
    /// as `prev_hash`. Keeping it elsewhere lets a later check prove the tail was not cut.
    pub last_hash: String,
}

/// Where and how the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyProblem {
    /// 1-based line number in the file.
    ///
    /// For a hash mismatch it is the line that changed: the line whose bytes no longer match
    /// what the following line recorded, or, when that following line's own link breaks too, the
    /// following line (its `prev_hash` was edited). One line of lookahead tells the two apart;
    /// when the break is at the last line, nothing follows and the earlier line is named.
    /// For a `seq` gap it is the first line after the gap (the one that follows the missing or
    /// moved lines), and for a line that is not an entry it is that line.
    pub line: u64,
    /// What is wrong, e.g. `seq jumps from 5 to 7: 1 line missing or out of order before this line`.
    pub reason: String,
}

impl VerifyReport {
    /// Whether the whole file verified.
    pub fn is_ok(&self) -> bool {
        self.first_problem.is_none()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.first_problem {
            None => {
                let plural = if self.lines == 1 { "" } else { "s" };
                write!(f, "ok: {} line{plural} verified", self.lines)
            }
            Some(problem) => problem.fmt(f),
        }
    }
}

impl fmt::Display for VerifyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// Checks the hash chain of the audit log at `path`.
///
/// Returns `Err` only when the file cannot be read; a broken chain is an `Ok` report with
/// `first_problem` set. The file is streamed, so its size does not matter.
pub fn verify_file(path: &Path) -> Result<VerifyReport, AuditError> {
    let read_err = |source| AuditError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(read_err)?;
    let mut checker = Checker::default();
    for line in BufReader::new(file).split(b'\n') {
        checker.check(&line.map_err(read_err)?);
    }
    Ok(checker.finish())
}

/// Verification state carried from one line to the next.
#[derive(Default)]
struct Checker {
    lines: u64,
    prev_seq: u64,
    prev_hash: String,
    /// A line whose `prev_hash` does not match the line before it. Which of the two changed is
    /// decided by the next line: if that one's link holds, the earlier line was edited.
    broken_link: Option<u64>,
    first_problem: Option<VerifyProblem>,
}

impl Checker {
    fn check(&mut self, line: &[u8]) {
        self.lines += 1;
        let hash_of_prev = std::mem::replace(&mut self.prev_hash, line_hash(line));
        if self.first_problem.is_some() {
            return; // keep counting lines and hashing for `last_hash`, report only the first
        }
        let number = self.lines;
        let (problem, link_holds) = self.check_entry(number, line, &hash_of_prev);
        self.first_problem = match (self.broken_link.take(), problem) {
            // An earlier broken link is the earlier problem, whatever this line looks like.
            (Some(broken), Some(_)) => Some(edited_line(broken - 1, broken)),
            (Some(broken), None) if link_holds => Some(edited_line(broken - 1, broken)),
            (Some(broken), None) => Some(VerifyProblem {
                line: broken,
                reason: format!(
                    "line changed after it was written: its prev_hash does not match line {}, \
                     and its hash does not match the prev_hash recorded by line {number}",
                    broken - 1
                ),
            }),
            (None, problem) => {
                if problem.is_none() && !link_holds {
                    self.broken_link = Some(number);
                }
                problem
            }
        };
    }

    /// Checks one line on its own and against the previous one: a problem with the line itself,
    /// and whether its `prev_hash` matches the previous line.
    fn check_entry(
        &mut self,
        number: u64,
        line: &[u8],
        hash_of_prev: &str,
    ) -> (Option<VerifyProblem>, bool) {
        let problem = |reason: String| {
            let found = VerifyProblem {
                line: number,
                reason,
            };
            (Some(found), false)
        };
        let fields = match serde_json::from_slice::<ChainFields>(line) {
            Ok(fields) => fields,
            Err(e) if e.is_data() => {
                return problem("line is not a chained audit entry (no seq or prev_hash)".into())
            }
            Err(_) => return problem("line is not valid JSON".into()),
        };
        let expected_seq = self.prev_seq.saturating_add(1);
        self.prev_seq = fields.seq;
        if number == 1 && fields.seq != 1 {
            let seq = fields.seq;
            problem(format!(
                "file starts at seq {seq}: lines missing at the start"
            ))
        } else if fields.seq > expected_seq {
            let missing = fields.seq - expected_seq;
            let plural = if missing == 1 { "" } else { "s" };
            problem(format!(
                "seq jumps from {} to {}: {missing} line{plural} missing or out of order \
                 before this line",
                expected_seq - 1,
                fields.seq
            ))
        } else if fields.seq < expected_seq {
            problem(format!(
                "seq goes back from {} to {}: line out of order or repeated",
                expected_seq - 1,
                fields.seq
            ))
        } else if number == 1 && !fields.prev_hash.is_empty() {
            problem("first line has a prev_hash: lines missing at the start".into())
        } else {
            (None, fields.prev_hash == hash_of_prev)
        }
    }

    fn finish(self) -> VerifyReport {
        let first_problem = match self.broken_link {
            // The last line's link is broken and no line follows to tell which side changed.
            Some(broken) => Some(VerifyProblem {
                line: broken - 1,
                reason: format!(
                    "hash does not match the prev_hash recorded by line {broken}, the last line: \
                     one of the two was changed"
                ),
            }),
            None => self.first_problem,
        };
        VerifyReport {
            lines: self.lines,
            first_problem,
            last_hash: self.prev_hash,
        }
    }
}

/// Line `edited` no longer hashes to what line `recorder` recorded, and `recorder` is intact.
fn edited_line(edited: u64, recorder: u64) -> VerifyProblem {
    VerifyProblem {
        line: edited,
        reason: format!(
            "line changed after it was written: its hash does not match the prev_hash \
             recorded by line {recorder}"
        ),
    }
}
