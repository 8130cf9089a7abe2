//! The file audit device through the CLI: enable it, make requests, and check the log's hash
//! chain with `audit verify FILE` (structure) and `audit verify -device=file` (the server, with
//! the chain key), which must both then catch a single edited line.

use crate::harness::{self, Cli, ServerProcess};

#[tokio::test]
async fn audit_log_verifies_and_an_edit_is_caught() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = harness::unique_name("root");
    let server = ServerProcess::dev(dir.path(), &root, &[]).await;
    let cli = Cli::secrethub(server.addr(), &dir.path().join("home")).env("SECRETHUB_TOKEN", &root);
    let audit_log = dir.path().join("audit.log");
    let audit_arg = audit_log.to_str().expect("UTF-8 path");

    let out = cli.ok(&["audit", "enable", "file", &format!("file_path={audit_arg}")]);
    assert!(
        out.stdout
            .contains("Enabled the file audit device at: file/"),
        "{out:?}"
    );
    let secret = harness::unique_name("AUDITSECRET");
    cli.ok(&["kv", "put", "secret/app/db", &format!("password={secret}")]);
    assert_eq!(
        cli.ok(&["kv", "get", "-field=password", "secret/app/db"])
            .stdout,
        secret
    );
    cli.ok(&["token", "lookup"]);
    let denied =
        cli.clone()
            .env("SECRETHUB_TOKEN", "not-a-token")
            .run(&["kv", "get", "secret/app/db"]);
    assert_eq!(denied.code, 2, "{denied:?}");

    let text = std::fs::read_to_string(&audit_log).expect("the audit log exists");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines.len() >= 6,
        "expected a request and a response per call:\n{text}"
    );
    assert!(
        !text.contains(&secret),
        "the audit log holds the secret in clear"
    );
    assert!(
        !text.contains(&root),
        "the audit log holds the root token in clear"
    );

    let verified = cli.run(&["audit", "verify", audit_arg]);
    assert_eq!(verified.code, 0, "{verified:?}");
    assert!(verified.stdout.contains("ok"), "{verified:?}");
    assert!(verified.stdout.contains("structure only"), "{verified:?}");
    let on_server = cli.run(&["audit", "verify", "-device=file"]);
    assert_eq!(on_server.code, 0, "{on_server:?}");
    assert!(
        on_server.stdout.contains("verified with the chain key"),
        "{on_server:?}"
    );

    // Change one character inside line 3, keeping it valid JSON: the chain breaks there.
    let mut edited: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    let target = &mut edited[2];
    let at = target
        .find("\"path\":\"")
        .unwrap_or_else(|| panic!("line 3 has no path field: {target}"));
    target.insert(at + "\"path\":\"".len(), 'x');
    std::fs::write(&audit_log, edited.join("\n") + "\n").expect("rewriting the audit log");
    let broken = cli.run(&["audit", "verify", audit_arg]);
    assert_eq!(broken.code, 2, "{broken:?}");
    assert!(
        broken.stderr.contains("line 3"),
        "the report names the edited line: {broken:?}"
    );
    let on_server = cli.run(&["audit", "verify", "-device=file"]);
    assert_eq!(on_server.code, 2, "{on_server:?}");
    assert!(
        on_server
            .stderr
            .contains("line 3: seq 3: mac does not match"),
        "{on_server:?}"
    );
}
