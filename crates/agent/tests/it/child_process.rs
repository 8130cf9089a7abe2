//! Real child processes: exit codes, signal forwarding through the same path the OS signal
//! listener feeds, and masked output.

use std::time::Duration;

use secrethub_agent::child::{exit_code, ChildCommand, ForwardedSignal, OutputSinks, RunningChild};
use secrethub_common::Sensitive;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader, DuplexStream};
use tokio::sync::mpsc;

fn sh(script: &str, env: &[(&str, &str)], mask: Option<&[&str]>) -> ChildCommand {
    ChildCommand {
        program: "sh".to_string(),
        args: vec!["-c".to_string(), script.to_string()],
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), Sensitive::new(v.to_string())))
            .collect(),
        mask: mask.map(|values| {
            values
                .iter()
                .map(|v| Sensitive::new(v.to_string()))
                .collect()
        }),
    }
}

/// Sinks whose other ends the test reads.
fn captured() -> (OutputSinks, DuplexStream, DuplexStream) {
    let (out_w, out_r) = tokio::io::duplex(1 << 16);
    let (err_w, err_r) = tokio::io::duplex(1 << 16);
    let sinks = OutputSinks {
        stdout: Box::new(out_w),
        stderr: Box::new(err_w),
    };
    (sinks, out_r, err_r)
}

#[tokio::test]
async fn the_exit_code_passes_through() {
    let (_tx, mut signals) = mpsc::unbounded_channel();
    let child = RunningChild::spawn(sh("exit 7", &[], None), OutputSinks::inherit()).unwrap();
    let status = child.wait(&mut signals).await.unwrap();
    assert_eq!(exit_code(status), 7);
}

#[tokio::test]
async fn the_env_is_added_to_the_inherited_one() {
    let (_tx, mut signals) = mpsc::unbounded_channel();
    // PATH comes from our own environment; the secret is added.
    let script = r#"test -n "$PATH" && test "$SECRETHUB_TEST_CHILD_ENV" = "with space""#;
    let cmd = sh(script, &[("SECRETHUB_TEST_CHILD_ENV", "with space")], None);
    let status = RunningChild::spawn(cmd, OutputSinks::inherit())
        .unwrap()
        .wait(&mut signals)
        .await
        .unwrap();
    assert_eq!(exit_code(status), 0);
}

#[tokio::test]
async fn a_missing_program_is_an_error_naming_it() {
    let cmd = ChildCommand {
        program: "secrethub-test-no-such-program".to_string(),
        args: vec![],
        env: vec![],
        mask: None,
    };
    let err = RunningChild::spawn(cmd, OutputSinks::inherit()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    assert!(
        err.to_string()
            .starts_with("secrethub-test-no-such-program: "),
        "{err}"
    );
}

#[tokio::test]
async fn a_forwarded_signal_reaches_the_child() {
    let (tx, mut signals) = mpsc::unbounded_channel();
    let (sinks, out, _err) = captured();
    let script = r#"trap "exit 42" TERM; echo ready; while :; do sleep 0.1; done"#;
    let child = RunningChild::spawn(sh(script, &[], Some(&[])), sinks).unwrap();
    let mut out = BufReader::new(out);
    let mut line = String::new();
    out.read_line(&mut line).await.unwrap();
    assert_eq!(line, "ready\n");

    tx.send(ForwardedSignal::Terminate).unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait(&mut signals))
        .await
        .expect("the child ignored the forwarded signal")
        .unwrap();
    assert_eq!(exit_code(status), 42);
}

#[tokio::test]
async fn a_signal_that_kills_the_child_gives_128_plus_its_number() {
    let (tx, mut signals) = mpsc::unbounded_channel();
    let (sinks, out, _err) = captured();
    // `exec` so the signal hits the waiting process itself, which has no trap.
    let script = r#"echo ready; exec sleep 1000"#;
    let child = RunningChild::spawn(sh(script, &[], Some(&[])), sinks).unwrap();
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line).await.unwrap();
    assert_eq!(line, "ready\n");

    tx.send(ForwardedSignal::User1).unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait(&mut signals))
        .await
        .expect("the child ignored the forwarded signal")
        .unwrap();
    assert_eq!(exit_code(status), 128 + 10);
}

#[tokio::test]
async fn secrets_in_the_child_output_are_masked() {
    let (_tx, mut signals) = mpsc::unbounded_channel();
    let (sinks, mut out, mut err) = captured();
    let secret = "t0p-s3cret-value";
    // The value is printed in pieces, so it likely spans several reads of the pipe too.
    let script = r#"
        printf 'token=%s\n' "$SECRETHUB_TEST_MASKED"
        printf 't0p-s3'; sleep 0.05; printf 'cret-value and more\n'
        printf 'on stderr: %s' "$SECRETHUB_TEST_MASKED" >&2
        printf 'short: abc\n'
    "#;
    let cmd = sh(
        script,
        &[("SECRETHUB_TEST_MASKED", secret)],
        Some(&[secret, "abc"]),
    );
    let status = RunningChild::spawn(cmd, sinks)
        .unwrap()
        .wait(&mut signals)
        .await
        .unwrap();
    assert_eq!(exit_code(status), 0);
    let mut stdout = String::new();
    out.read_to_string(&mut stdout).await.unwrap();
    let mut stderr = String::new();
    err.read_to_string(&mut stderr).await.unwrap();
    assert_eq!(stdout, "token=*****\n***** and more\nshort: abc\n");
    assert_eq!(stderr, "on stderr: *****");
}

#[tokio::test]
async fn a_background_grandchild_holding_the_output_does_not_keep_us_waiting() {
    let (_tx, mut signals) = mpsc::unbounded_channel();
    let (sinks, mut out, _err) = captured();
    // The `sleep` inherits the masked pipes and keeps them open after `sh` exits.
    let cmd = sh(
        "sleep 30 & echo hi-from-child-s3cr3t",
        &[],
        Some(&["s3cr3t"]),
    );
    let child = RunningChild::spawn(cmd, sinks).unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait(&mut signals))
        .await
        .expect("waited for the grandchild, not the child")
        .unwrap();
    assert_eq!(exit_code(status), 0);
    // The pump ended, so its sink is closed and the output reads to its end.
    let mut stdout = String::new();
    tokio::time::timeout(Duration::from_secs(5), out.read_to_string(&mut stdout))
        .await
        .expect("the output was closed")
        .unwrap();
    assert_eq!(stdout, "hi-from-child-*****\n");
}
