//! `secrethub kv rollback`, as Vault's CLI has it: an earlier version's data written again as
//! the newest version (with check-and-set on the version that was current), and clear refusals
//! for versions that cannot be rolled back to.

use crate::harness::{self, Cli, ServerProcess};

#[tokio::test]
async fn kv_rollback_writes_an_earlier_version_as_the_newest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = harness::unique_name("root");
    let server = ServerProcess::dev(dir.path(), &root, &[]).await;
    let cli = Cli::secrethub(server.addr(), &dir.path().join("home")).env("SECRETHUB_TOKEN", &root);

    cli.ok(&["kv", "put", "secret/app/db", "password=one", "user=app"]);
    cli.ok(&["kv", "put", "secret/app/db", "password=two"]);
    let out = cli.ok(&[
        "kv",
        "rollback",
        "-version=1",
        "-format=json",
        "secret/app/db",
    ]);
    assert_eq!(out.json()["data"]["version"], 3, "{out:?}");

    let latest = cli
        .ok(&["kv", "get", "-format=json", "secret/app/db"])
        .json();
    assert_eq!(latest["data"]["data"]["password"], "one");
    assert_eq!(latest["data"]["data"]["user"], "app");
    assert_eq!(latest["data"]["metadata"]["version"], 3);
    let second = cli.ok(&[
        "kv",
        "get",
        "-version=2",
        "-field=password",
        "secret/app/db",
    ]);
    assert_eq!(
        second.stdout.trim(),
        "two",
        "the rolled-over version stays readable"
    );

    let current = cli.run(&["kv", "rollback", "-version=3", "secret/app/db"]);
    assert_eq!(current.code, 2, "{current:?}");
    assert!(
        current
            .stderr
            .contains("Version 3 is already the current version"),
        "{current:?}"
    );
    cli.ok(&["kv", "destroy", "-versions=2", "secret/app/db"]);
    let destroyed = cli.run(&["kv", "rollback", "-version=2", "secret/app/db"]);
    assert!(
        destroyed
            .stderr
            .contains("Cannot roll back to a destroyed version: 2"),
        "{destroyed:?}"
    );
    let missing = cli.run(&["kv", "rollback", "-version=9", "secret/app/db"]);
    assert!(
        missing
            .stderr
            .contains("Cannot roll back to a version that does not exist: 9"),
        "{missing:?}"
    );
    let none = cli.run(&["kv", "rollback", "secret/app/db"]);
    assert!(
        none.stderr
            .contains("Must specify a version to roll back to"),
        "{none:?}"
    );
    let after = cli
        .ok(&["kv", "get", "-format=json", "secret/app/db"])
        .json();
    assert_eq!(
        after["data"]["metadata"]["version"], 3,
        "refusals wrote nothing"
    );
}
