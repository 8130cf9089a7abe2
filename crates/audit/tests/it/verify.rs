//! `verify_file` on logs written by the device and then tampered with: every kind of tampering
//! is reported at the line an operator should look at.

use std::path::{Path, PathBuf};

use secrethub_audit::{verify_file, AuditDevice, FileOptions, VerifyProblem};
use secrethub_common::ErrorKind;
use sha2::{Digest, Sha256};

use crate::{open_device, request_event};

/// Writes a log of `n` entries whose request paths are `path-1` .. `path-n`.
async fn write_log(dir: &Path, n: usize) -> (PathBuf, Vec<String>) {
    let path = dir.join("audit.log");
    let device = open_device(&path, FileOptions::default());
    for i in 1..=n {
        let data = serde_json::json!({"value": format!("secret-{i}")});
        device
            .log(&request_event(&format!("path-{i}"), Some(data)))
            .await
            .expect("log");
    }
    let text = std::fs::read_to_string(&path).expect("read log");
    (path, text.lines().map(str::to_owned).collect())
}

fn rewrite(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).expect("rewrite log");
}

fn problem(path: &Path) -> VerifyProblem {
    let report = verify_file(path).expect("verify");
    report.first_problem.expect("tampering must be detected")
}

#[tokio::test]
async fn an_untouched_log_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, lines) = write_log(dir.path(), 6).await;
    let report = verify_file(&path).expect("verify");
    assert!(report.is_ok());
    assert_eq!(report.lines, 6);
    assert_eq!(report.to_string(), "ok: 6 lines verified");
    assert_eq!(
        report.last_hash,
        hex::encode(Sha256::digest(lines[5].as_bytes()))
    );
}

#[tokio::test]
async fn an_empty_log_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("audit.log");
    open_device(&path, FileOptions::default());
    let report = verify_file(&path).expect("verify");
    assert_eq!(report.to_string(), "ok: 0 lines verified");
    assert_eq!(report.last_hash, "");
}

#[tokio::test]
async fn an_edited_line_is_reported_at_that_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, mut lines) = write_log(dir.path(), 6).await;
    lines[2] = lines[2].replace("path-3", "path-X");
    rewrite(&path, &lines);
    let report = verify_file(&path).expect("verify");
    assert_eq!(report.lines, 6);
    assert_eq!(
        report.to_string(),
        "line 3: line changed after it was written: \
         its hash does not match the prev_hash recorded by line 4"
    );
}

#[tokio::test]
async fn an_edited_prev_hash_is_reported_at_that_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, mut lines) = write_log(dir.path(), 6).await;
    let entry: serde_json::Value = serde_json::from_str(&lines[3]).expect("json");
    let recorded = entry["prev_hash"].as_str().expect("prev_hash").to_owned();
    lines[3] = lines[3].replace(&recorded, &"0".repeat(64));
    rewrite(&path, &lines);
    // Line 3 still hashes to what line 4 recorded before, and line 5 no longer matches line 4:
    // line 4 is the one that changed.
    let found = problem(&path);
    assert_eq!(found.line, 4);
    assert_eq!(
        found.reason,
        "line changed after it was written: its prev_hash does not match line 3, \
         and its hash does not match the prev_hash recorded by line 5"
    );
}

#[tokio::test]
async fn an_edit_next_to_the_end_names_the_earlier_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, mut lines) = write_log(dir.path(), 3).await;
    lines[1] = lines[1].replace("path-2", "path-X");
    rewrite(&path, &lines);
    assert_eq!(
        verify_file(&path).expect("verify").to_string(),
        "line 2: hash does not match the prev_hash recorded by line 3, the last line: \
         one of the two was changed"
    );
}

#[tokio::test]
async fn an_edit_followed_by_garbage_is_still_reported_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, mut lines) = write_log(dir.path(), 6).await;
    lines[1] = lines[1].replace("path-2", "path-X");
    lines[3] = "garbage".into();
    rewrite(&path, &lines);
    assert_eq!(problem(&path).line, 2);
}

#[tokio::test]
async fn a_deleted_line_is_reported_where_the_gap_is() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, mut lines) = write_log(dir.path(), 6).await;
    lines.remove(2);
    rewrite(&path, &lines);
    let report = verify_file(&path).expect("verify");
    assert_eq!(report.lines, 5);
    assert_eq!(
        report.to_string(),
        "line 3: seq jumps from 2 to 4: 1 line missing or out of order before this line"
    );
}

#[tokio::test]
async fn deleted_first_lines_are_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, lines) = write_log(dir.path(), 6).await;
    rewrite(&path, &lines[2..]);
    let found = problem(&path);
    assert_eq!(found.line, 1);
    assert_eq!(
        found.reason,
        "file starts at seq 3: lines missing at the start"
    );
}

#[tokio::test]
async fn swapped_lines_are_reported_at_the_first_moved_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, mut lines) = write_log(dir.path(), 6).await;
    lines.swap(2, 3);
    rewrite(&path, &lines);
    let found = problem(&path);
    assert_eq!(found.line, 3);
    assert!(
        found.reason.starts_with("seq jumps from 2 to 4"),
        "{}",
        found.reason
    );
}

#[tokio::test]
async fn a_line_moved_backwards_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, mut lines) = write_log(dir.path(), 6).await;
    // Duplicate line 2 after line 4, as a replay would: lines 1..4 are intact.
    let copy = lines[1].clone();
    lines.insert(4, copy);
    rewrite(&path, &lines);
    let found = problem(&path);
    assert_eq!(found.line, 5);
    assert_eq!(
        found.reason,
        "seq goes back from 4 to 2: line out of order or repeated"
    );
}

#[tokio::test]
async fn a_garbage_line_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, mut lines) = write_log(dir.path(), 6).await;
    lines[3] = "this is not json".into();
    rewrite(&path, &lines);
    assert_eq!(
        verify_file(&path).expect("verify").to_string(),
        "line 4: line is not valid JSON"
    );

    lines[3] = r#"{"time":"2024-05-01T12:00:00Z","type":"request"}"#.into();
    rewrite(&path, &lines);
    assert_eq!(
        problem(&path).reason,
        "line is not a chained audit entry (no seq or prev_hash)"
    );
}

#[test]
fn a_missing_file_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = verify_file(&dir.path().join("nope.log")).expect_err("missing");
    assert_eq!(err.kind(), ErrorKind::Unavailable);
}
