//! Integration tests against a real PostgreSQL: the machine's shared cluster by default
//! (`postgresql://postgres@127.0.0.1:5432/postgres`), or the URL in `SECRETHUB_TEST_PG_URL`.
//! Every test works in its own randomly named table and drops it at the end.

use secrethub_storage::{Storage, StorageErrorKind, WriteOp};
use secrethub_storage_postgres::{PostgresOptions, PostgresStorage};
use tokio_postgres::NoTls;

fn base_url() -> String {
    std::env::var("SECRETHUB_TEST_PG_URL")
        .unwrap_or_else(|_| "postgresql://postgres@127.0.0.1:5432/postgres".to_string())
}

/// `base_url()` plus one more query parameter (the URL form is assumed).
fn url_with(param: &str) -> String {
    let base = base_url();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{param}")
}

fn unique(what: &str) -> String {
    format!(
        "it_{what}_{}",
        secrethub_common::random_alnum(12).to_ascii_lowercase()
    )
}

/// A plain connection for set-up, inspection and clean-up, outside the store's pool.
async fn admin() -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&base_url(), NoTls)
        .await
        .expect("connect to test postgresql");
    tokio::spawn(conn);
    client
}

async fn drop_table(table: &str) {
    admin()
        .await
        .batch_execute(&format!("DROP TABLE IF EXISTS {table}"))
        .await
        .expect("drop table");
}

#[tokio::test]
async fn conformance() {
    let table = unique("conf");
    let s = PostgresStorage::open(&base_url(), Some(&table))
        .await
        .unwrap();
    assert_eq!(s.table(), table);
    secrethub_storage::testsuite::run(&s).await;
    drop_table(&table).await;
}

#[tokio::test]
async fn list_is_byte_ordered_and_prefix_exact() {
    let table = unique("order");
    let s = PostgresStorage::open(&base_url(), Some(&table))
        .await
        .unwrap();
    for k in [
        "p/a", "p/B", "p/\u{e9}", "p/z", "p/_x", "p%/no", "p_/no", "p\\/no",
    ] {
        s.put(k, b"x").await.unwrap();
    }
    // Byte order ("C" collation), not the database's linguistic order.
    assert_eq!(
        s.list("p/", None, 10).await.unwrap(),
        ["B", "_x", "a", "z", "\u{e9}"]
    );
    assert_eq!(s.list("p/", Some("a"), 10).await.unwrap(), ["z", "\u{e9}"]);
    // LIKE wildcards and backslashes in a prefix are plain characters.
    assert_eq!(s.list("p%/", None, 10).await.unwrap(), ["no"]);
    assert_eq!(s.list("p_/", None, 10).await.unwrap(), ["no"]);
    assert_eq!(s.list("p\\/", None, 10).await.unwrap(), ["no"]);
    // The empty prefix (no upper bound) lists the whole table.
    assert_eq!(s.list("", None, 100).await.unwrap().len(), 8);
    drop_table(&table).await;
}

#[tokio::test]
async fn apply_is_all_or_nothing_when_the_database_fails_midway() {
    let table = unique("atomic");
    let s = PostgresStorage::open(&base_url(), Some(&table))
        .await
        .unwrap();
    // A trigger makes PostgreSQL itself reject one row, after others in the batch are done.
    admin()
        .await
        .batch_execute(&format!(
            "CREATE FUNCTION {table}_poison() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN IF NEW.key = 'z/poison' THEN RAISE EXCEPTION 'poisoned'; END IF; \
             RETURN NEW; END $$; \
             CREATE TRIGGER poison BEFORE INSERT OR UPDATE ON {table} \
             FOR EACH ROW EXECUTE FUNCTION {table}_poison();"
        ))
        .await
        .unwrap();
    s.put("b", b"kept").await.unwrap();
    let err = s
        .apply(vec![
            WriteOp::Put {
                key: "a".into(),
                value: b"new".to_vec(),
            },
            WriteOp::Delete { key: "b".into() },
            WriteOp::Put {
                key: "z/poison".into(),
                value: b"x".to_vec(),
            },
        ])
        .await
        .expect_err("the trigger rejects the batch");
    assert_eq!(err.kind, StorageErrorKind::Unavailable);
    assert_eq!(s.get("a").await.unwrap(), None);
    assert_eq!(s.get("b").await.unwrap().as_deref(), Some(&b"kept"[..]));

    // Later writes to the same key win within a batch, as if applied in order.
    s.apply(vec![
        WriteOp::Put {
            key: "a".into(),
            value: b"1".to_vec(),
        },
        WriteOp::Delete { key: "a".into() },
        WriteOp::Delete { key: "b".into() },
        WriteOp::Put {
            key: "b".into(),
            value: b"2".to_vec(),
        },
    ])
    .await
    .unwrap();
    assert_eq!(s.get("a").await.unwrap(), None);
    assert_eq!(s.get("b").await.unwrap().as_deref(), Some(&b"2"[..]));

    drop_table(&table).await;
    admin()
        .await
        .batch_execute(&format!("DROP FUNCTION {table}_poison()"))
        .await
        .unwrap();
}

/// The pids of the store's backends, found by the unique application name it connects with.
async fn backends(admin: &tokio_postgres::Client, app: &str) -> Vec<i32> {
    admin
        .query(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid",
            &[&app],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test]
async fn reconnects_after_backends_are_terminated() {
    let table = unique("reconnect");
    let app = unique("app");
    let options = PostgresOptions {
        table: table.clone(),
        max_connections: 4,
    };
    let s = PostgresStorage::open_with(&url_with(&format!("application_name={app}")), &options)
        .await
        .unwrap();
    s.put("k", b"v1").await.unwrap();
    let admin = admin().await;
    let before = backends(&admin, &app).await;
    assert!(!before.is_empty(), "the store holds a pooled connection");

    // Kill every backend of the pool, as a PostgreSQL restart would.
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&app],
        )
        .await
        .unwrap();

    // A write on a dead connection may fail (with Unavailable, never a panic or a hang); a
    // bounded number of later calls must succeed without reopening the store.
    let mut failures = 0;
    let mut written = false;
    for _ in 0..5 {
        match s.put("k", b"v2").await {
            Ok(()) => {
                written = true;
                break;
            }
            Err(e) => {
                assert_eq!(e.kind, StorageErrorKind::Unavailable, "{e}");
                failures += 1;
            }
        }
    }
    assert!(written, "put never succeeded after {failures} failures");
    assert_eq!(s.get("k").await.unwrap().as_deref(), Some(&b"v2"[..]));

    let after = backends(&admin, &app).await;
    assert!(!after.is_empty());
    assert!(
        after.iter().all(|pid| !before.contains(pid)),
        "old backends {before:?} must be replaced, got {after:?}"
    );

    // Reads recover the same way (they retry once on a fresh connection by themselves).
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&app],
        )
        .await
        .unwrap();
    let mut read = None;
    for _ in 0..5 {
        match s.get("k").await {
            Ok(v) => {
                read = v;
                break;
            }
            Err(e) => assert_eq!(e.kind, StorageErrorKind::Unavailable, "{e}"),
        }
    }
    assert_eq!(read.as_deref(), Some(&b"v2"[..]));
    drop_table(&table).await;
}

#[tokio::test]
async fn unreachable_server_is_unavailable() {
    // Port 1 on loopback: nothing listens, so the connection is refused at once.
    let err = PostgresStorage::open("postgresql://postgres@127.0.0.1:1/postgres", None)
        .await
        .expect_err("nothing listens on port 1");
    assert_eq!(err.kind, StorageErrorKind::Unavailable);
}

#[tokio::test]
async fn bad_options_are_rejected() {
    let err = PostgresStorage::open(&base_url(), Some("kv; DROP TABLE x"))
        .await
        .expect_err("not an identifier");
    assert!(err.message().contains("table name"), "{err}");
    let err = PostgresStorage::open(&url_with("sslmode=verify-full"), Some(&unique("tls")))
        .await
        .expect_err("verify-full is not supported");
    assert!(err.message().contains("connection url"), "{err}");
    let err = PostgresStorage::open("postgresql://postgres:hunter2@127.0.0.1:1/x?bogus=1", None)
        .await
        .expect_err("unknown option");
    assert!(!format!("{:#}", anyhow::Error::from(err)).contains("hunter2"));
}

/// Whether every backend of `app` is on TLS, per `pg_stat_ssl`.
async fn uses_tls(admin: &tokio_postgres::Client, app: &str) -> bool {
    admin
        .query_one(
            "SELECT bool_and(s.ssl) FROM pg_stat_ssl s \
             JOIN pg_stat_activity a USING (pid) WHERE a.application_name = $1",
            &[&app],
        )
        .await
        .unwrap()
        .get::<_, Option<bool>>(0)
        .expect("the store has a backend")
}

#[tokio::test]
async fn sslmode_require_encrypts_and_disable_does_not() {
    let admin = admin().await;
    let server_tls: String = admin.query_one("SHOW ssl", &[]).await.unwrap().get(0);
    let table = unique("tls");
    for (mode, expect_tls) in [("require", true), ("disable", false)] {
        if mode == "require" && server_tls != "on" {
            continue; // A server without TLS can't show anything here.
        }
        let app = unique("tlsapp");
        let url = url_with(&format!("sslmode={mode}&application_name={app}"));
        let s = PostgresStorage::open(&url, Some(&table)).await.unwrap();
        s.put("k", mode.as_bytes()).await.unwrap();
        assert_eq!(s.get("k").await.unwrap().as_deref(), Some(mode.as_bytes()));
        assert_eq!(uses_tls(&admin, &app).await, expect_tls, "sslmode={mode}");
    }
    drop_table(&table).await;
}

#[tokio::test]
async fn reopening_keeps_the_data() {
    let table = unique("reopen");
    let s = PostgresStorage::open(&base_url(), Some(&table))
        .await
        .unwrap();
    s.put("a/b", b"kept").await.unwrap();
    drop(s);
    let s = PostgresStorage::open(&base_url(), Some(&table))
        .await
        .unwrap();
    assert_eq!(s.get("a/b").await.unwrap().as_deref(), Some(&b"kept"[..]));
    drop_table(&table).await;
}
