//! `write_atomically` (exact mode, no rewrite of unchanged files, no temporary files left) and
//! `run_bounded`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use secrethub_agent::template::{run_bounded, write_atomically, CommandOutcome};
use tokio_util::sync::CancellationToken;

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn writes_with_the_exact_mode_and_skips_unchanged_content() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("app.env");

    assert!(write_atomically(&dest, b"PASSWORD=one\n", 0o600).unwrap());
    assert_eq!(fs::read(&dest).unwrap(), b"PASSWORD=one\n");
    assert_eq!(mode(&dest), 0o600);

    // Same bytes, same mode: nothing is written (the inode stays the same).
    let inode = |p: &Path| std::os::unix::fs::MetadataExt::ino(&fs::metadata(p).unwrap());
    let before = inode(&dest);
    assert!(!write_atomically(&dest, b"PASSWORD=one\n", 0o600).unwrap());
    assert_eq!(inode(&dest), before);

    // New content: replaced by a new file.
    assert!(write_atomically(&dest, b"PASSWORD=two\n", 0o600).unwrap());
    assert_eq!(fs::read(&dest).unwrap(), b"PASSWORD=two\n");
    assert_ne!(inode(&dest), before);

    // Same content, another mode: rewritten with that mode.
    assert!(write_atomically(&dest, b"PASSWORD=two\n", 0o640).unwrap());
    assert_eq!(mode(&dest), 0o640);

    // Same length, different bytes.
    assert!(write_atomically(&dest, b"PASSWORD=six\n", 0o640).unwrap());
    assert_eq!(fs::read(&dest).unwrap(), b"PASSWORD=six\n");

    assert_eq!(entries(dir.path()), ["app.env"]);
}

#[test]
fn a_mode_wider_than_the_umask_is_still_exact() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("public.txt");
    // 0o666 is narrowed by any usual umask at creation; the result must still be 0o666.
    assert!(write_atomically(&dest, b"not secret", 0o666).unwrap());
    assert_eq!(mode(&dest), 0o666);
}

#[test]
fn a_large_file_is_compared_in_full() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("big.pem");
    let mut contents = vec![b'a'; 100_000];
    assert!(write_atomically(&dest, &contents, 0o600).unwrap());
    assert!(!write_atomically(&dest, &contents, 0o600).unwrap());
    contents[99_999] = b'b';
    assert!(write_atomically(&dest, &contents, 0o600).unwrap());
    assert_eq!(fs::read(&dest).unwrap(), contents);
}

#[test]
fn a_failed_write_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    // The destination is a non-empty directory: the rename over it fails.
    let dest = dir.path().join("occupied");
    fs::create_dir(&dest).unwrap();
    fs::write(dest.join("inside"), b"x").unwrap();
    assert!(write_atomically(&dest, b"data", 0o600).is_err());
    assert_eq!(entries(dir.path()), ["occupied"]);

    let missing = dir.path().join("no-such-dir").join("file");
    assert!(write_atomically(&missing, b"data", 0o600).is_err());
    assert_eq!(entries(dir.path()), ["occupied"]);
}

#[tokio::test]
async fn a_command_gets_its_env_and_reports_the_status() {
    let env = vec![(
        "SECRETHUB_TEST_TEMPLATE_VAR".to_string(),
        "bar baz".to_string(),
    )];
    let never = CancellationToken::new();
    let run = |command: &'static str, env: Vec<(String, String)>| {
        let never = never.clone();
        async move {
            match run_bounded(command, &env, Duration::from_secs(30), &never).await {
                Ok(CommandOutcome::Exited(status)) => status,
                other => panic!("{command}: {other:?}"),
            }
        }
    };
    let status = run(r#"test "$SECRETHUB_TEST_TEMPLATE_VAR" = "bar baz""#, env).await;
    assert!(status.success());
    let status = run("exit 3", Vec::new()).await;
    assert_eq!(status.code(), Some(3));
}
