//! A server config with a mistake stops the server before it starts, with a message that
//! names the offending key and its line.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{self, SECRETHUB};

/// Runs `secrethub server -config FILE`, which must exit on its own; returns (code, stderr).
fn server_exit(config: &std::path::Path) -> (Option<i32>, String) {
    let stderr_path = config.with_extension("stderr");
    let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
    let mut child = Command::new(SECRETHUB)
        .args(["server", "-config"])
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("spawning secrethub server");
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for the server") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("a server with a broken config kept running");
        }
        std::thread::sleep(harness::POLL_INTERVAL);
    };
    (
        status.code(),
        std::fs::read_to_string(&stderr_path).unwrap_or_default(),
    )
}

#[test]
fn unknown_config_keys_are_rejected_with_their_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data.db");

    let in_listener = format!(
        "storage \"file\" {{\n  path = {data:?}\n}}\n\nlistener \"tcp\" {{\n  address = \"127.0.0.1:0\"\n  \
         tls_disable = true\n  tls_disabel = true\n}}\n"
    );
    let config = harness::write_file(dir.path(), "listener.hcl", &in_listener);
    let (code, stderr) = server_exit(&config);
    assert!(code.is_some_and(|c| c != 0), "exit code {code:?}: {stderr}");
    assert!(
        stderr.contains("tls_disabel"),
        "the message names the key: {stderr}"
    );
    assert!(
        stderr.contains("listener.hcl:8"),
        "the message names the file and line: {stderr}"
    );

    let top_level = format!("storage \"file\" {{\n  path = {data:?}\n}}\nlog_levle = \"debug\"\n");
    let config = harness::write_file(dir.path(), "top.hcl", &top_level);
    let (code, stderr) = server_exit(&config);
    assert!(code.is_some_and(|c| c != 0), "exit code {code:?}: {stderr}");
    assert!(
        stderr.contains("log_levle") && stderr.contains("top.hcl:4"),
        "{stderr}"
    );
    assert!(
        !data.exists(),
        "a rejected config must not create the storage file"
    );
}
