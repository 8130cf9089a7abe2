//! Creation and revocation latency through the engine (in-memory storage, no HTTP) against the
//! raw `ACL SETUSER`/`ACL DELUSER` a client would send on an open connection, interleaved in
//! one run. Ignored by default (it measures, it does not check much):
//! `cargo test -p secrethub-database --test it redis::latency -- --ignored --nocapture`.

use std::time::{Duration, Instant};

use serde_json::json;

use super::{mount_with_role, names, RawConn};

const ROUNDS: usize = 500;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn line(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    eprintln!(
        "{what:<28} p50 {:>7.1} µs   p99 {:>7.1} µs",
        percentile(&samples, 0.5).as_secs_f64() * 1e6,
        percentile(&samples, 0.99).as_secs_f64() * 1e6
    );
}

#[tokio::test]
#[ignore = "a measurement; run with --ignored --nocapture"]
async fn creation_and_revocation_against_raw_acl_commands() {
    let n = names().await;
    let rules = r#"["~cache:*", "+@read"]"#;
    let mount = mount_with_role(&n, json!({"creation_statements": rules})).await;
    let mut raw = RawConn::open().await;
    // Warm both paths up (pools filled, connections authenticated).
    for _ in 0..20 {
        let c = mount.creds(&n.role).await;
        mount.revoke(&c.internal).await.unwrap();
    }
    let (mut raw_create, mut raw_delete, mut create, mut revoke) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..ROUNDS {
        let user = format!("{}raw{i}", n.prefix);
        let started = Instant::now();
        let ok = raw
            .cmd(&[
                "ACL",
                "SETUSER",
                &user,
                "reset",
                "on",
                ">Raw-password-0123456789",
                "~cache:*",
                "+@read",
            ])
            .await;
        raw_create.push(started.elapsed());
        assert_eq!(ok, "OK");

        let started = Instant::now();
        let c = mount.creds(&n.role).await;
        create.push(started.elapsed());

        let started = Instant::now();
        raw.cmd(&["ACL", "DELUSER", &user]).await;
        raw_delete.push(started.elapsed());

        let started = Instant::now();
        mount.revoke(&c.internal).await.unwrap();
        revoke.push(started.elapsed());
    }
    line("raw ACL SETUSER", raw_create);
    line("engine creds (plugin)", create);
    line("raw ACL DELUSER", raw_delete);
    line("engine revoke (plugin)", revoke);
}
