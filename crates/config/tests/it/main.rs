//! Integration tests of the config crate: valid configs are snapshotted as the `ServerConfig`
//! the server would get (or compared with the expected `AgentConfig`), invalid ones as the
//! exact message an operator would read.

mod agent_defaults;
mod agent_errors;
mod agent_readme;
mod agent_valid;
mod errors;
mod lease_revocation;
mod valid;

use std::path::Path;

use expect_test::Expect;

/// Writes `text` to `server.hcl` in a fresh directory, loads it, and returns the error
/// message with the directory left out, so it reads as the operator sees it.
fn load_err(text: &str) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("server.hcl");
    std::fs::write(&path, text).expect("write config");
    let err = secrethub_config::load(&path).expect_err("config should be rejected");
    assert_eq!(err.kind(), secrethub_common::ErrorKind::BadRequest);
    let prefix = format!("{}{}", dir.path().display(), std::path::MAIN_SEPARATOR);
    err.to_string().replace(&prefix, "")
}

fn check_err(text: &str, expect: Expect) {
    expect.assert_eq(&load_err(text));
}

fn check_ok(text: &str, expect: Expect) {
    let config = secrethub_config::parse(text, Path::new("/etc/secrethub"))
        .unwrap_or_else(|e| panic!("config should be valid: {e}"));
    expect.assert_eq(&format!("{config:#?}"));
}
