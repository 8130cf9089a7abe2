//! `verify_keyed` against the tampering an attacker who can write the log but does not hold the
//! chain key can do: recomputing the SHA-256 chain, cutting or editing the tail, swapping files.

use std::path::{Path, PathBuf};

use secrethub_audit::{
    verify_file, verify_keyed, AuditDevice, ChainHead, ExpectedChain, FileDevice, FileOptions,
};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::{request_event, KEY};

const CHAIN_KEY: &[u8] = b"test-device-chain-key-32-bytes!!";

fn open_keyed(path: &Path) -> FileDevice {
    FileDevice::open_keyed(
        path,
        Zeroizing::new(KEY.to_vec()),
        Some(Zeroizing::new(CHAIN_KEY.to_vec())),
        FileOptions::default(),
    )
    .expect("open keyed device")
}

/// Writes `n` keyed entries; returns the path, the lines and the device's head.
async fn write_log(dir: &Path, n: usize) -> (PathBuf, Vec<String>, ChainHead) {
    let path = dir.join("audit.log");
    let device = open_keyed(&path);
    for i in 1..=n {
        let data = serde_json::json!({"value": format!("secret-{i}")});
        device
            .log(&request_event(&format!("path-{i}"), Some(data)))
            .await
            .expect("log");
    }
    let head = device.head().expect("file device has a head");
    let text = std::fs::read_to_string(&path).expect("read log");
    (path, text.lines().map(str::to_owned).collect(), head)
}

fn expected(head: &ChainHead) -> ExpectedChain {
    ExpectedChain {
        keyed_from: 1,
        head: Some(head.clone()),
    }
}

fn rewrite(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).expect("rewrite log");
}

/// What an attacker without the key does after editing: renumber `seq` from 1 and recompute
/// every `prev_hash` with plain SHA-256, keeping the rest of each line (and its `mac`) as is.
fn recompute_chain(lines: &[String]) -> Vec<String> {
    let mut prev = String::new();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let at = line.rfind(r#","seq":"#).expect("seq");
        let mac = line.rfind(r#","mac":""#).map_or("}", |m| &line[m..]);
        let text = format!(
            r#"{},"seq":{},"prev_hash":"{prev}"{mac}"#,
            &line[..at],
            i + 1
        );
        prev = hex::encode(Sha256::digest(text.as_bytes()));
        out.push(text);
    }
    out
}

fn reason(path: &Path, head: &ChainHead) -> String {
    let report = verify_keyed(path, CHAIN_KEY, &expected(head)).expect("verify");
    report
        .first_problem
        .expect("tampering must be detected")
        .to_string()
}

#[tokio::test]
async fn an_untouched_keyed_log_verifies_with_the_key_and_structurally() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, lines, head) = write_log(dir.path(), 5).await;
    assert_eq!(head.seq, 5);
    assert!(lines.iter().all(|l| l.contains(r#","mac":""#)));
    let report = verify_keyed(&path, CHAIN_KEY, &expected(&head)).expect("verify");
    assert_eq!(
        report.to_string(),
        "ok: 5 lines verified with the chain key"
    );
    assert!(verify_file(&path).expect("verify").is_ok());
    let wrong = verify_keyed(&path, b"another key", &expected(&head)).expect("verify");
    assert!(!wrong.is_ok());
}

#[tokio::test]
async fn a_cut_tail_is_reported_against_the_head() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, lines, head) = write_log(dir.path(), 5).await;
    rewrite(&path, &lines[..3]);
    assert!(
        verify_file(&path).expect("verify").is_ok(),
        "invisible offline"
    );
    assert_eq!(
        reason(&path, &head),
        "line 3: file ends at seq 3, checkpoint says 5 (truncated)"
    );
}

#[tokio::test]
async fn an_edited_last_line_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, mut lines, head) = write_log(dir.path(), 4).await;
    lines[3] = lines[3].replace("path-4", "path-X");
    rewrite(&path, &lines);
    assert!(
        verify_file(&path).expect("verify").is_ok(),
        "invisible offline"
    );
    assert!(reason(&path, &head).starts_with("line 4: seq 4: mac does not match"));
}

#[tokio::test]
async fn a_middle_line_edited_with_the_chain_recomputed_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, mut lines, head) = write_log(dir.path(), 6).await;
    lines[2] = lines[2].replace("path-3", "path-X");
    rewrite(&path, &recompute_chain(&lines));
    assert!(
        verify_file(&path).expect("verify").is_ok(),
        "invisible offline"
    );
    assert!(reason(&path, &head).starts_with("line 3: seq 3: mac does not match"));
}

#[tokio::test]
async fn a_middle_line_deleted_with_the_chain_recomputed_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, mut lines, head) = write_log(dir.path(), 6).await;
    lines.remove(2);
    rewrite(&path, &recompute_chain(&lines));
    assert!(
        verify_file(&path).expect("verify").is_ok(),
        "invisible offline"
    );
    assert!(reason(&path, &head).starts_with("line 3: seq 3: mac does not match"));
}

#[tokio::test]
async fn a_line_without_a_mac_or_another_logs_tail_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, lines, head) = write_log(dir.path(), 3).await;
    let stripped: Vec<String> = lines
        .iter()
        .map(|l| {
            let at = l.rfind(r#","mac":""#).expect("mac");
            format!("{}}}", &l[..at])
        })
        .collect();
    rewrite(&path, &recompute_chain(&stripped));
    assert!(reason(&path, &head).starts_with("line 1: seq 1 has no mac"));

    // A longer, older log of the same device (same key) passes every mac but not the head.
    let other = tempfile::tempdir().expect("tempdir");
    let (older, _, _) = write_log(other.path(), 5).await;
    std::fs::copy(&older, &path).expect("copy");
    let mut forged_head = head.clone();
    forged_head.mac = "00".repeat(32);
    assert!(reason(&path, &forged_head).starts_with("line 3: seq 3 is not the line"));
}

#[tokio::test]
async fn lines_after_the_head_and_before_the_key_are_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("audit.log");
    // Two lines from before the device had a chain key.
    let plain = crate::open_device(&path, FileOptions::default());
    for i in 1..=2 {
        plain
            .log(&request_event(&format!("old-{i}"), None))
            .await
            .expect("log");
    }
    drop(plain);
    let device = open_keyed(&path);
    let keyed_from = device.head().expect("head").seq + 1;
    for i in 1..=3 {
        device
            .log(&request_event(&format!("new-{i}"), None))
            .await
            .expect("log");
    }
    let checkpoint = device.head().expect("head");
    device
        .log(&request_event("after", None))
        .await
        .expect("log");
    let expected = ExpectedChain {
        keyed_from,
        head: Some(checkpoint),
    };
    let report = verify_keyed(&path, CHAIN_KEY, &expected).expect("verify");
    assert!(report.is_ok(), "{report}");
    assert_eq!(
        (report.unkeyed_lines, report.after_head, report.last_seq),
        (2, 1, 6)
    );
    assert_eq!(
        report.to_string(),
        "ok: 6 lines verified with the chain key (2 written before the device had one)"
    );
    // The unkeyed prefix is pinned by the first keyed line's mac through prev_hash.
    let mut lines: Vec<String> = std::fs::read_to_string(&path)
        .expect("read")
        .lines()
        .map(str::to_owned)
        .collect();
    lines[0] = lines[0].replace("old-1", "old-X");
    rewrite(&path, &recompute_chain(&lines));
    let report = verify_keyed(&path, CHAIN_KEY, &expected).expect("verify");
    let problem = report.first_problem.expect("detected").to_string();
    assert!(
        problem.starts_with("line 3: seq 3: mac does not match"),
        "{problem}"
    );
}

#[tokio::test]
async fn a_device_file_in_place_of_the_log_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, _, head) = write_log(dir.path(), 1).await;
    let err = verify_keyed(Path::new("/dev/zero"), CHAIN_KEY, &expected(&head))
        .expect_err("never read to the end");
    assert!(err.to_string().contains("/dev/zero"), "{err}");
}
