//! The hash chain that makes a log tamper-evident: each line carries its sequence number,
//! the SHA-256 of the previous line and, when the device has a chain key, an HMAC of itself.
//!
//! A line is the entry's JSON object with `"seq"` (1-based, equal to the line number in a file
//! the device created) and `"prev_hash"` (lowercase hex SHA-256 of the previous line's bytes
//! without its newline; `""` on the first line) appended, then `"mac"`: lowercase hex
//! HMAC-SHA256 under the device's chain key of the line's bytes up to (not including) the
//! `,"mac":` that introduces it. Since those bytes hold `prev_hash`, which hashes the previous
//! line with its own `mac`, one valid `mac` pins every line before it: rewriting any of them
//! and recomputing the SHA-256 chain needs the key. The key lives behind the barrier, apart
//! from the HMAC key of sensitive values (which `sys/audit-hash` lets callers use).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// How far back to read at a time when looking for the start of the last line.
const TAIL_CHUNK: u64 = 8 * 1024;

/// Where the next line goes in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChainPosition {
    pub(crate) next_seq: u64,
    pub(crate) prev_hash: String,
    /// The `mac` of the last line, `""` when it has none (unkeyed, or no line yet).
    pub(crate) last_mac: String,
}

impl ChainPosition {
    /// The position of the first line of a new file.
    pub(crate) fn start() -> Self {
        Self {
            next_seq: 1,
            prev_hash: String::new(),
            last_mac: String::new(),
        }
    }

    /// Moves past `line` (without its newline), which was just written at this position with
    /// `mac` (`""` for an unkeyed line).
    pub(crate) fn advance(&mut self, line: &[u8], mac: String) {
        self.next_seq = self.next_seq.saturating_add(1);
        self.prev_hash = line_hash(line);
        self.last_mac = mac;
    }
}

/// The fields the chain adds to every line; other fields are ignored when reading.
#[derive(Deserialize)]
pub(crate) struct ChainFields {
    pub(crate) seq: u64,
    pub(crate) prev_hash: String,
    #[serde(default)]
    pub(crate) mac: Option<String>,
}

/// What introduces the `mac` field; it is always the last field of a line.
const MAC_FIELD: &[u8] = b",\"mac\":\"";

/// Lowercase hex HMAC-SHA256 of `bytes` under the chain key.
pub(crate) fn line_mac(key: &[u8], bytes: &[u8]) -> String {
    // new_from_slice accepts keys of any length for HMAC.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("hmac accepts any key length");
    mac.update(bytes);
    hex::encode(mac.finalize().into_bytes())
}

/// The bytes a line's `mac` covers and the `mac` it carries, or `None` when the line does not
/// end with a `mac` field.
pub(crate) fn split_mac(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let body = line.strip_suffix(b"\"}")?;
    let at = body
        .windows(MAC_FIELD.len())
        .rposition(|w| w == MAC_FIELD)?;
    Some((&body[..at], &body[at + MAC_FIELD.len()..]))
}

/// Lowercase hex SHA-256 of a line's bytes (without the newline).
pub(crate) fn line_hash(line: &[u8]) -> String {
    hex::encode(Sha256::digest(line))
}

/// `body` (a serialized JSON object) with the chain fields appended, plus the final newline,
/// and the line's `mac` (`""` without a chain key).
///
/// Splicing text instead of re-serializing keeps the device's lock short: the entry is
/// serialized before the lock is taken, and only this concatenation happens under it.
pub(crate) fn chained_line(
    body: &str,
    position: &ChainPosition,
    chain_key: Option<&[u8]>,
) -> (Vec<u8>, String) {
    // serde_json writes a struct as `{...}` with no surrounding whitespace.
    debug_assert!(body.starts_with('{') && body.ends_with('}'));
    let open = body.strip_suffix('}').unwrap_or(body);
    let separator = if open == "{" { "" } else { "," };
    let mut line = format!(
        "{open}{separator}\"seq\":{},\"prev_hash\":\"{}\"",
        position.next_seq, position.prev_hash
    );
    let mac = match chain_key {
        Some(key) => {
            let mac = line_mac(key, line.as_bytes());
            line.push_str(",\"mac\":\"");
            line.push_str(&mac);
            line.push('"');
            mac
        }
        None => String::new(),
    };
    line.push_str("}\n");
    (line.into_bytes(), mac)
}

/// Reads the end of an existing log to continue its chain.
///
/// A last line without a newline is a torn write (crash or full disk): it is terminated so the
/// next entry starts on its own line, and stays in the file for `verify_file` to report.
/// When the last line is not a chained entry, the next `seq` is the line count plus one, which
/// keeps `seq` equal to the line number.
pub(crate) fn resume(file: &mut File) -> io::Result<ChainPosition> {
    let meta = file.metadata()?;
    if !meta.is_file() || meta.len() == 0 {
        return Ok(ChainPosition::start());
    }
    let mut len = meta.len();
    let mut last_byte = [0u8; 1];
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut last_byte)?;
    if last_byte[0] != b'\n' {
        // The file is opened in append mode, so this lands at the end whatever the cursor.
        file.write_all(b"\n")?;
        len += 1;
    }
    let last_line = read_line_ending_at(file, len - 1)?;
    let (next_seq, last_mac) = match serde_json::from_slice::<ChainFields>(&last_line) {
        Ok(fields) => (fields.seq.saturating_add(1), fields.mac.unwrap_or_default()),
        Err(_) => (count_lines(file)?.saturating_add(1), String::new()),
    };
    Ok(ChainPosition {
        next_seq,
        prev_hash: line_hash(&last_line),
        last_mac,
    })
}

/// The bytes between the newline before `end` (or the start of the file) and `end`.
fn read_line_ending_at(file: &mut File, end: u64) -> io::Result<Vec<u8>> {
    let mut chunks = Vec::new();
    let mut start = end;
    while start > 0 {
        let chunk_len = TAIL_CHUNK.min(start);
        start -= chunk_len;
        // chunk_len <= TAIL_CHUNK, which fits in usize on every platform.
        let mut chunk = vec![0u8; chunk_len as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut chunk)?;
        if let Some(newline) = chunk.iter().rposition(|&b| b == b'\n') {
            chunk.drain(..=newline);
            chunks.push(chunk);
            break;
        }
        chunks.push(chunk);
    }
    chunks.reverse();
    Ok(chunks.concat())
}

fn count_lines(file: &mut File) -> io::Result<u64> {
    file.seek(SeekFrom::Start(0))?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut count = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(count);
        }
        count += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chained_line_appends_seq_and_prev_hash() {
        let position = ChainPosition {
            next_seq: 3,
            prev_hash: "ab".into(),
            last_mac: String::new(),
        };
        let (line, mac) = chained_line(r#"{"time":"t"}"#, &position, None);
        assert_eq!(line, b"{\"time\":\"t\",\"seq\":3,\"prev_hash\":\"ab\"}\n");
        assert_eq!(mac, "");
        let (line, _) = chained_line("{}", &ChainPosition::start(), None);
        assert_eq!(line, b"{\"seq\":1,\"prev_hash\":\"\"}\n");
    }

    #[test]
    fn keyed_lines_carry_a_mac_of_everything_before_it() {
        let (line, mac) = chained_line(r#"{"time":"t"}"#, &ChainPosition::start(), Some(b"k"));
        let covered = br#"{"time":"t","seq":1,"prev_hash":"""#;
        assert_eq!(mac, line_mac(b"k", covered));
        let expected =
            format!("{{\"time\":\"t\",\"seq\":1,\"prev_hash\":\"\",\"mac\":\"{mac}\"}}\n");
        assert_eq!(String::from_utf8(line.clone()).unwrap(), expected);
        let (bytes, carried) = split_mac(&line[..line.len() - 1]).expect("has a mac");
        assert_eq!(bytes, covered);
        assert_eq!(carried, mac.as_bytes());
        assert_ne!(mac, line_mac(b"other key", covered));
        assert!(split_mac(br#"{"seq":1,"prev_hash":""}"#).is_none());
    }

    #[test]
    fn resume_reads_a_last_line_longer_than_one_chunk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.log");
        let long = "x".repeat(3 * TAIL_CHUNK as usize);
        let first = r#"{"seq":1,"prev_hash":""}"#;
        let second = format!(r#"{{"pad":"{long}","seq":2,"prev_hash":"h"}}"#);
        std::fs::write(&path, format!("{first}\n{second}\n")).expect("write");
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .expect("open");
        let position = resume(&mut file).expect("resume");
        assert_eq!(position.next_seq, 3);
        assert_eq!(position.prev_hash, line_hash(second.as_bytes()));
    }
}
