//! `verify_file` and `verify_keyed`: walk a hash-chained audit log and report the first line that
//! breaks the chain (behind `secrethub audit verify FILE` and `sys/audit-verify/:path`).
//!
//! What each proves and what it does not:
//! - `verify_file` (structural, no key) finds an edited, deleted, inserted, reordered or garbled
//!   line and a cut at the start, but `prev_hash` is plain SHA-256: anyone able to rewrite the
//!   file can recompute it, and lines cut from the *end* leave no trace in the file itself;
//! - `verify_keyed` also checks every line's `mac` under the chain key, so a recomputed chain is
//!   found, and checks that the file still holds the last line the server knows it wrote
//!   ([`ExpectedChain::head`]), so a cut or edited tail is found up to that line.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::chain::{line_hash, line_mac, split_mac, ChainFields};
use crate::error::AuditError;

/// The last line of a keyed chain: what a checkpoint records. `seq` 0 is an empty log; `mac` is
/// `""` when that line carries none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    /// The line's `seq`.
    pub seq: u64,
    /// The line's `mac` (hex).
    pub mac: String,
}

/// What the holder of the chain key knows about a log, to verify the file against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpectedChain {
    /// The first `seq` that must carry a `mac`. Earlier lines were written before the device had
    /// its chain key; the first keyed line's `mac` still pins them through `prev_hash`.
    pub keyed_from: u64,
    /// The last line known to be written (the live position or a checkpoint): the file must
    /// hold a line with this `seq` and this `mac`.
    pub head: Option<ChainHead>,
}

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
    /// The `seq` of the last line checked (0 for none).
    pub last_seq: u64,
    /// Whether the `mac`s were checked under the chain key (`verify_keyed`).
    pub keyed: bool,
    /// Lines written before the device had its chain key: for `verify_file` the lines without
    /// a `mac`, for `verify_keyed` those before `keyed_from`.
    pub unkeyed_lines: u64,
    /// Lines after the expected head: written since it was recorded (checked like the others,
    /// but a cut among them is not detectable).
    pub after_head: u64,
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
                write!(f, "ok: {} line{plural} verified", self.lines)?;
                if self.keyed {
                    write!(f, " with the chain key")?;
                    if self.unkeyed_lines > 0 {
                        let n = self.unkeyed_lines;
                        write!(f, " ({n} written before the device had one)")?;
                    }
                }
                Ok(())
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

/// Checks the log at `path` like [`verify_file`], and also every line's `mac` under `chain_key`
/// and that the file holds `expected.head`.
pub fn verify_keyed(
    path: &Path,
    chain_key: &[u8],
    expected: &ExpectedChain,
) -> Result<VerifyReport, AuditError> {
    let read_err = |source| AuditError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(read_err)?;
    // Whoever can write the log's directory could put a device such as /dev/zero there, whose
    // reading never ends; the server refuses it as a finding instead.
    if !file.metadata().map_err(read_err)?.is_file() {
        let not_regular =
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file");
        return Err(read_err(not_regular));
    }
    let mut checker = Checker {
        keyed: Some(KeyedCheck {
            key: Zeroizing::new(chain_key.to_vec()),
            expected: expected.clone(),
            head_found: false,
        }),
        ..Checker::default()
    };
    for line in BufReader::new(file).split(b'\n') {
        checker.check(&line.map_err(read_err)?);
    }
    Ok(checker.finish())
}

/// The keyed part of a verification.
struct KeyedCheck {
    key: Zeroizing<Vec<u8>>,
    expected: ExpectedChain,
    head_found: bool,
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
    keyed: Option<KeyedCheck>,
    unkeyed_lines: u64,
    after_head: u64,
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
        if let Some(reason) = self.check_mac(line, &fields) {
            return problem(reason);
        }
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

    /// The keyed checks of one line: its `mac`, and whether it is the expected head. Without a
    /// key only counts a line without a `mac`.
    fn check_mac(&mut self, line: &[u8], fields: &ChainFields) -> Option<String> {
        let Some(keyed) = &mut self.keyed else {
            if fields.mac.is_none() {
                self.unkeyed_lines += 1;
            }
            return None;
        };
        let head = keyed.expected.head.as_ref();
        if head.is_some_and(|h| fields.seq > h.seq) {
            self.after_head += 1;
        }
        let seq = fields.seq;
        if seq < keyed.expected.keyed_from {
            self.unkeyed_lines += 1;
        } else {
            let Some((covered, mac)) = split_mac(line).filter(|_| fields.mac.is_some()) else {
                return Some(format!(
                    "seq {seq} has no mac: the device writes one on every line, so the line \
                     was written or rewritten by someone else"
                ));
            };
            if mac != line_mac(&keyed.key, covered).as_bytes() {
                return Some(format!(
                    "seq {seq}: mac does not match: the line (or the chain before it) was \
                     changed after it was written"
                ));
            }
        }
        match head {
            Some(h) if h.seq == seq && h.seq > 0 => {
                keyed.head_found = true;
                if fields.mac.as_deref().unwrap_or("") != h.mac {
                    return Some(format!(
                        "seq {seq} is not the line the server recorded at seq {seq}: the file \
                         was replaced or its tail rewritten"
                    ));
                }
                None
            }
            _ => None,
        }
    }

    fn finish(self) -> VerifyReport {
        let truncated = match &self.keyed {
            Some(KeyedCheck {
                expected: ExpectedChain {
                    head: Some(head), ..
                },
                head_found: false,
                ..
            }) if head.seq > 0 => Some(VerifyProblem {
                line: self.lines,
                reason: format!(
                    "file ends at seq {}, checkpoint says {} (truncated)",
                    self.prev_seq, head.seq
                ),
            }),
            _ => None,
        };
        let keyed = self.keyed.is_some();
        let (unkeyed_lines, after_head, last_seq) =
            (self.unkeyed_lines, self.after_head, self.prev_seq);
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
            first_problem: first_problem.or(truncated),
            last_hash: self.prev_hash,
            last_seq,
            keyed,
            unkeyed_lines,
            after_head,
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
