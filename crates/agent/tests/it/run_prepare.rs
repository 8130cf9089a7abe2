//! `run::prepare`: env files and `--env` merged in order, rendered all or nothing, and the
//! prepared child runs with the secrets (masked when asked).

use std::fs;

use secrethub_agent::child::{exit_code, OutputSinks, RunningChild};
use secrethub_agent::run::{prepare, render_template_once, RunError, RunOptions};
use tokio::sync::mpsc;

use crate::fake_source::{leased, secret, FakeSource};

fn source() -> FakeSource {
    FakeSource::new()
        .with(
            "database/creds/app",
            leased(
                &[("username", "v-app-user"), ("password", "app-pass-777")],
                "database/creds/app/r1",
            ),
        )
        .with("secret/app", secret(&[("api_key", "api-key-31337")]))
}

fn options(env: &[(&str, &str)], env_files: Vec<std::path::PathBuf>) -> RunOptions {
    RunOptions {
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        env_files,
        command: vec!["sh".to_string(), "-c".to_string(), "true".to_string()],
        mask: false,
        keep_leases: false,
    }
}

#[tokio::test]
async fn env_files_then_env_flags_with_later_ones_winning() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.env");
    let second = dir.path().join("second.env");
    fs::write(
        &first,
        "DB_USER=${secret:database/creds/app#username}\nMODE=first\nKEPT=from-first\n",
    )
    .unwrap();
    fs::write(
        &second,
        "export MODE=second\nDB_PASS=\"${secret:database/creds/app#password}\"\n",
    )
    .unwrap();
    let source = source();
    let opts = options(
        &[
            ("MODE", "flag"),
            ("API_KEY", "${secret:secret/app#api_key}"),
        ],
        vec![first, second],
    );
    let prepared = prepare(&source, &opts).await.unwrap();
    let env: Vec<(String, String)> = prepared
        .child
        .env
        .iter()
        .map(|(k, v)| (k.clone(), v.expose().clone()))
        .collect();
    let expected = [
        ("DB_USER", "v-app-user"),
        ("MODE", "flag"),
        ("KEPT", "from-first"),
        ("DB_PASS", "app-pass-777"),
        ("API_KEY", "api-key-31337"),
    ];
    assert_eq!(
        env,
        expected
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .to_vec()
    );
    assert_eq!(source.fetches().len(), 2);
    assert_eq!(prepared.used.len(), 2);
    assert!(prepared.child.mask.is_none());
    assert_eq!(prepared.child.program, "sh");
    assert_eq!(prepared.child.args, ["-c", "true"]);
    let debug = format!("{prepared:?} {opts:?}");
    assert!(!debug.contains("app-pass-777"), "{debug}");
}

#[tokio::test]
async fn a_failing_reference_prepares_nothing() {
    let source = source();
    let opts = options(
        &[
            ("DB_PASS", "${secret:database/creds/app#password}"),
            ("OOPS", "${secret:secret/app#nope}"),
        ],
        vec![],
    );
    let err = prepare(&source, &opts).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"OOPS: ${secret:secret/app#nope}: no field "nope" in secret/app"#
    );
    assert_eq!(
        source.revoked(),
        vec![("secrethub".to_string(), "database/creds/app/r1".to_string())]
    );
}

#[tokio::test]
async fn bad_input_is_refused_before_any_fetch() {
    let source = source();
    let dir = tempfile::tempdir().unwrap();
    let bad_file = dir.path().join("bad.env");
    fs::write(&bad_file, "A=1\nnot an assignment\n").unwrap();
    let err = prepare(&source, &options(&[], vec![bad_file.clone()]))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}:2: expected KEY=VALUE", bad_file.display())
    );

    let missing = dir.path().join("missing.env");
    let err = prepare(&source, &options(&[], vec![missing]))
        .await
        .unwrap_err();
    assert!(matches!(err, RunError::EnvFile(_)), "{err}");
    assert_eq!(err.kind(), secrethub_common::ErrorKind::NotFound);

    let err = prepare(&source, &options(&[("1BAD", "x")], vec![]))
        .await
        .unwrap_err();
    assert!(matches!(err, RunError::InvalidName { .. }), "{err}");

    let mut opts = options(&[], vec![]);
    opts.command.clear();
    let err = prepare(&source, &opts).await.unwrap_err();
    assert!(matches!(err, RunError::NoCommand), "{err}");
    assert!(source.fetches().is_empty());
}

#[tokio::test]
async fn the_prepared_child_gets_its_secrets_and_masks_them() {
    let source = source();
    let mut opts = options(
        &[("DB_PASS", "${secret:database/creds/app#password}")],
        vec![],
    );
    opts.command = vec![
        "sh".to_string(),
        "-c".to_string(),
        r#"echo "pass is $DB_PASS"; test "$DB_PASS" = app-pass-777 && exit 5"#.to_string(),
    ];
    opts.mask = true;
    let prepared = prepare(&source, &opts).await.unwrap();
    assert_eq!(prepared.child.mask.as_ref().map(Vec::len), Some(1));

    let (out_w, mut out_r) = tokio::io::duplex(1 << 16);
    let sinks = OutputSinks {
        stdout: Box::new(out_w),
        stderr: Box::new(tokio::io::sink()),
    };
    let (_tx, mut signals) = mpsc::unbounded_channel();
    let status = RunningChild::spawn(prepared.child, sinks)
        .unwrap()
        .wait(&mut signals)
        .await
        .unwrap();
    assert_eq!(exit_code(status), 5);
    let mut out = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut out_r, &mut out)
        .await
        .unwrap();
    assert_eq!(out, "pass is *****\n");
}

#[tokio::test]
async fn a_template_renders_once() {
    let source = source();
    let text = render_template_once(&source, "user=${secret:database/creds/app#username}\n")
        .await
        .unwrap();
    assert_eq!(text.expose(), "user=v-app-user\n");
    assert!(source.revoked().is_empty());
}
