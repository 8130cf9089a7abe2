//! Chaos beside the SIGKILL test (`crash.rs`): the real binary while a PostgreSQL it depends
//! on goes away and comes back.
//!
//! - The *target* database of the database secrets engine (a private password-checking
//!   cluster of the test's own) is stopped for `SECRETHUB_CHAOS_OUTAGE_SECS` (default 90)
//!   while its leases expire: the API keeps answering promptly, creds for that database fail
//!   with an error instead of hanging, no lease turns irrevocable before its retry budget is
//!   spent, and once the database is back every lease is revoked and no user is left.
//! - The *storage* PostgreSQL (`storage "postgresql"`, a private cluster of the test's own)
//!   is restarted (fast stop, start) under load: every request is answered (errors while it
//!   is down, never a hang), the server recovers by itself, no acknowledged KV write is lost
//!   and no database user outlives the revocation of every lease.
//!
//! - A kill between a caller's revocation upstream and the deletion of its lease record
//!   (held there by a trigger in the storage database) leaves no stale lease: the next run
//!   revokes it again and deletes it without a second revoke call.
//!
//! The chaos tests print their figures on stderr (`--nocapture`); BENCHMARKS.md keeps them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use secrethub_testkit::pg_cluster::{self, OwnCluster};
use serde_json::{json, Value};

use crate::harness::{self, Cli, PgDatabase, ServerProcess, PLAIN_LISTENER};

/// A call that takes this long is a hang, not an answer.
const HANG: Duration = Duration::from_secs(10);
/// What "promptly" means for the API that does not need the missing database: far above
/// what a debug build on a busy 2-core machine needs, far below a hang.
const PROMPT: Duration = Duration::from_secs(3);
/// The outage when `SECRETHUB_CHAOS_OUTAGE_SECS` is not set.
const DEFAULT_OUTAGE_SECS: u64 = 90;
/// How long the storage cluster stays down between its fast stop and its start.
const STORAGE_DOWN: Duration = Duration::from_secs(2);

/// The retry schedule of `lease_revocation`'s defaults (crates/config/src/lease_revocation.rs):
/// a backoff of `BASE_DELAY` doubled per attempt up to `MAX_DELAY`, with ±20 % jitter, and a
/// per-role circuit breaker that pauses background attempts for `BREAKER_COOLDOWN`.
const BASE_DELAY: f64 = 1.0;
const MAX_DELAY: f64 = 300.0;
const DEFAULT_MAX_ATTEMPTS: u32 = 8;
const BREAKER_COOLDOWN: f64 = 30.0;

/// The backoff after failed attempt `attempt` (1-based), without jitter.
fn backoff_secs(attempt: u32) -> f64 {
    (BASE_DELAY * 2f64.powi(attempt.saturating_sub(1).min(30) as i32)).min(MAX_DELAY)
}

/// The earliest a lease can turn irrevocable after its first failed attempt: `max_attempts`
/// attempts separated by the shortest backoffs (jitter at 0.8). The breaker only spaces them
/// further, so this is a lower bound.
fn earliest_irrevocable(max_attempts: u32) -> Duration {
    let secs: f64 = (1..max_attempts).map(backoff_secs).sum();
    Duration::from_secs_f64(secs * 0.8)
}

/// The default number of attempts (enough for the default outage), raised only when a
/// longer outage is asked for. Every lease expires after the stop, so with a budget longer
/// than the outage (plus the few seconds the start takes) none may turn irrevocable before
/// the database is back: that is what "not early" means, and what the test asserts.
fn max_attempts_for(outage: Duration) -> u32 {
    (DEFAULT_MAX_ATTEMPTS..)
        .find(|n| earliest_irrevocable(*n) > outage + Duration::from_secs(5))
        .expect("the budget grows without bound")
}

fn outage() -> Duration {
    let secs = std::env::var("SECRETHUB_CHAOS_OUTAGE_SECS")
        .ok()
        .map(|v| {
            v.parse::<u64>()
                .unwrap_or_else(|_| panic!("SECRETHUB_CHAOS_OUTAGE_SECS={v:?} is not seconds"))
        })
        .unwrap_or(DEFAULT_OUTAGE_SECS);
    assert!(
        secs >= 30,
        "SECRETHUB_CHAOS_OUTAGE_SECS must be at least 30"
    );
    Duration::from_secs(secs)
}

/// What a client task needs: the address and a connection pool, not the process itself.
#[derive(Clone)]
struct Api {
    http: reqwest::Client,
    addr: String,
    token: String,
}

impl Api {
    fn of(server: &ServerProcess, token: &str) -> Api {
        Api {
            http: server.http().clone(),
            addr: server.addr().to_string(),
            token: token.to_string(),
        }
    }
}

/// Polls `check` every 50 ms until it holds; panics naming `what` after `limit`.
async fn wait_until(what: &str, limit: Duration, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One call's answer: status (0 = none: refused, reset or timed out), body and duration.
struct Timed {
    status: u16,
    body: Value,
    took: Duration,
}

async fn timed(api: &Api, method: reqwest::Method, path: &str, body: Value) -> Timed {
    let start = Instant::now();
    let mut req = api
        .http
        .request(method.clone(), format!("{}/v1/{path}", api.addr))
        .header("x-vault-token", &api.token)
        .timeout(HANG);
    if method != reqwest::Method::GET {
        req = req.json(&body);
    }
    let (status, body) = match req.send().await {
        Ok(r) => harness::json_of(r).await,
        Err(e) => (0, json!({ "transport_error": e.to_string() })),
    };
    Timed {
        status,
        body,
        took: start.elapsed(),
    }
}

/// Latencies of one kind of call.
#[derive(Default)]
struct Latencies(Vec<Duration>);

impl Latencies {
    fn add(&mut self, took: Duration) {
        self.0.push(took);
    }

    fn summary(&self) -> String {
        let mut v = self.0.clone();
        v.sort();
        let at = |q: f64| v[((v.len() - 1) as f64 * q) as usize].as_secs_f64() * 1000.0;
        format!(
            "n={} p50={:.1}ms p99={:.1}ms max={:.1}ms",
            v.len(),
            at(0.5),
            at(0.99),
            at(1.0)
        )
    }

    fn max(&self) -> Duration {
        self.0.iter().copied().max().unwrap_or_default()
    }
}

/// A server of one test: the process, its root token, its one unseal key and its
/// directory (`server.hcl` is there).
struct Started {
    server: ServerProcess,
    root: String,
    key: String,
    dir: tempfile::TempDir,
}

/// A server on `storage_stanza` (plus `extra` config), initialised and unsealed, with KV v2
/// at `kv/` and the database engine at `database/`.
async fn server_with(storage_stanza: &str, extra: &str) -> Started {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = harness::write_file(
        dir.path(),
        "server.hcl",
        &format!("{storage_stanza}\n{PLAIN_LISTENER}{extra}"),
    );
    let server = ServerProcess::with_config(dir.path(), &config, None).await;
    let init = harness::init_and_unseal(
        &Cli::secrethub(server.addr(), &dir.path().join("home")),
        1,
        1,
    );
    let root = harness::root_token(&init);
    let key = harness::unseal_keys(&init)[0].clone();
    let api = Api::of(&server, &root);
    for (path, body) in [
        (
            "sys/mounts/kv",
            json!({"type": "kv", "options": {"version": "2"}}),
        ),
        ("sys/mounts/database", json!({"type": "database"})),
    ] {
        let t = timed(&api, reqwest::Method::PUT, path, body).await;
        assert_eq!(t.status / 100, 2, "{path}: {}", t.body);
    }
    Started {
        server,
        root,
        key,
        dir,
    }
}

/// Points `database/config/<name>` at `cluster` (as its superuser) and creates `roles`
/// (name, TTL) there.
async fn database_roles(
    api: &Api,
    name: &str,
    cluster: &pg_cluster::Cluster,
    roles: &[(&str, Duration)],
) {
    let t = timed(
        api,
        reqwest::Method::PUT,
        &format!("database/config/{name}"),
        json!({
            "plugin_name": "postgresql-database-plugin", "connection_url": cluster.url(),
            "username": "postgres", "password": cluster.password, "allowed_roles": "*",
        }),
    )
    .await;
    assert_eq!(t.status / 100, 2, "{}", t.body);
    for (role, ttl) in roles {
        let t = timed(api, reqwest::Method::PUT, &format!("database/roles/{role}"), json!({
            "db_name": name, "default_ttl": format!("{}s", ttl.as_secs()), "max_ttl": "2h",
            "creation_statements": ["CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';"],
        }))
        .await;
        assert_eq!(t.status / 100, 2, "{}", t.body);
    }
}

fn roles_in(cluster: &pg_cluster::Cluster, prefix: &str) -> usize {
    cluster
        .admin_psql(&format!(
            "SELECT count(*) FROM pg_roles WHERE rolname LIKE '{prefix}%'"
        ))
        .parse()
        .expect("a count")
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking task")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_database_down_for_minutes_while_leases_expire() {
    let outage = outage();
    let max_attempts = max_attempts_for(outage);
    let target = Arc::new(blocking(OwnCluster::start).await);
    let Started {
        server,
        root,
        dir: _dir,
        ..
    } = server_with(
        "storage \"inmem\" {}",
        &format!("lease_revocation {{\n  max_attempts = {max_attempts}\n}}\n"),
    )
    .await;
    let api = Api::of(&server, &root);
    let role = format!("chaos{}", secrethub_common::random_alnum(6).to_lowercase());
    let prefix = format!("shub_{role}");
    // Two roles (two circuit breakers): one expiring soon after the stop, one mid-outage.
    let (soon, mid) = (format!("{role}_a"), format!("{role}_b"));
    let ttl_soon = Duration::from_secs(15);
    let ttl_mid = outage / 2;
    database_roles(
        &api,
        "chaosdb",
        &target,
        &[(&soon, ttl_soon), (&mid, ttl_mid)],
    )
    .await;

    let first = Instant::now();
    let mut leases = Vec::new();
    let mut expires = Vec::new();
    for (r, ttl) in [(&soon, ttl_soon), (&mid, ttl_mid)] {
        for _ in 0..10 {
            expires.push(Instant::now() + ttl);
            let t = timed(
                &api,
                reqwest::Method::GET,
                &format!("database/creds/{r}"),
                json!({}),
            )
            .await;
            assert_eq!(t.status, 200, "{}", t.body);
            leases.push(t.body["lease_id"].as_str().expect("a lease ID").to_string());
        }
    }
    assert_eq!(roles_in(&target, &prefix), 20);
    blocking({
        let target = target.clone();
        move || target.stop()
    })
    .await;
    let stopped = Instant::now();
    assert!(
        stopped - first < ttl_soon,
        "setting up took {:?}: the first leases expired before the outage began",
        stopped - first
    );

    // The outage: the API is probed twice a second, the missing database's creds every
    // few rounds, and every lease is looked up each round (never irrevocable).
    let (mut health, mut kv, mut token, mut creds) = (
        Latencies::default(),
        Latencies::default(),
        Latencies::default(),
        Latencies::default(),
    );
    let mut creds_error = String::new();
    let mut attempts = vec![0u64; leases.len()];
    let mut round = 0u64;
    while stopped.elapsed() < outage {
        let next_round = Instant::now() + Duration::from_millis(500);
        round += 1;
        let t = timed(&api, reqwest::Method::GET, "sys/health", json!({})).await;
        assert_eq!(t.status, 200, "sys/health during the outage: {}", t.body);
        health.add(t.took);
        let path = format!("kv/data/chaos/{round}");
        let t = timed(
            &api,
            reqwest::Method::PUT,
            &path,
            json!({"data": {"n": round}}),
        )
        .await;
        assert_eq!(t.status, 200, "KV write during the outage: {}", t.body);
        kv.add(t.took);
        let t = timed(&api, reqwest::Method::GET, &path, json!({})).await;
        assert_eq!(
            (t.status, t.body["data"]["data"]["n"].as_u64()),
            (200, Some(round)),
            "{}",
            t.body
        );
        kv.add(t.took);
        let t = timed(
            &api,
            reqwest::Method::GET,
            "auth/token/lookup-self",
            json!({}),
        )
        .await;
        assert_eq!(t.status, 200, "token lookup during the outage: {}", t.body);
        token.add(t.took);
        if round % 5 == 1 {
            let t = timed(
                &api,
                reqwest::Method::GET,
                &format!("database/creds/{soon}"),
                json!({}),
            )
            .await;
            assert!(
                (400..600).contains(&t.status),
                "creds for the stopped database: status {} after {:?}: {}",
                t.status,
                t.took,
                t.body
            );
            harness::assert_errors_shape(t.status, &t.body);
            creds_error = format!(
                "{} {}",
                t.status,
                t.body["errors"][0].as_str().unwrap_or_default()
            );
            creds.add(t.took);
        }
        for (i, id) in leases.iter().enumerate() {
            let t = timed(
                &api,
                reqwest::Method::PUT,
                "sys/leases/lookup",
                json!({ "lease_id": id }),
            )
            .await;
            assert_eq!(t.status, 200, "lease {id} during the outage: {}", t.body);
            assert_ne!(
                t.body["data"]["irrevocable"],
                json!(true),
                "lease {id} turned irrevocable {:?} into a {outage:?} outage (max_attempts {max_attempts}, earliest by the schedule {:?} after expiry)",
                stopped.elapsed(),
                earliest_irrevocable(max_attempts)
            );
            attempts[i] = t.body["data"]["revoke_attempts"].as_u64().unwrap_or(0);
        }
        tokio::time::sleep_until(next_round.into()).await;
    }
    for (api_kind, l) in [("health", &health), ("kv", &kv), ("token", &token)] {
        assert!(
            l.max() < PROMPT,
            "{api_kind} took {:?} during the outage",
            l.max()
        );
    }
    assert!(creds.max() < HANG, "creds took {:?}", creds.max());
    // Every lease expired during the outage, and its revocation was tried (and failed) if
    // it expired long enough before the end: a role's breaker, once open, defers the rest of
    // its leases for a cooldown without counting an attempt.
    let end = Instant::now();
    let tried_by = Duration::from_secs_f64(BREAKER_COOLDOWN) + Duration::from_secs(10);
    for (i, expiry) in expires.iter().enumerate() {
        assert!(*expiry < end, "lease {i} did not expire during the outage");
        assert!(
            attempts[i] >= 1 || *expiry + tried_by > end,
            "lease {i} expired {:?} before the end of the outage, never tried: {attempts:?}",
            end - *expiry
        );
    }
    let most = attempts.iter().copied().max().unwrap_or(0) as u32;
    assert!(most < max_attempts, "{most} attempts of {max_attempts}");
    assert!(!answers(&target), "the target database stayed down");

    blocking({
        let target = target.clone();
        move || target.restart()
    })
    .await;
    let back = Instant::now();
    // The next attempt comes after the backoff of the attempts so far (jitter up to 1.2) or
    // when a breaker closes, whichever is later; then one batch per role.
    let bound = Duration::from_secs_f64((backoff_secs(most) * 1.2).max(BREAKER_COOLDOWN))
        + Duration::from_secs(20);
    wait_until(
        "every lease revoked after the database came back",
        bound,
        async || {
            for id in &leases {
                let t = timed(
                    &api,
                    reqwest::Method::PUT,
                    "sys/leases/lookup",
                    json!({ "lease_id": id }),
                )
                .await;
                if t.status == 200 {
                    assert_ne!(
                        t.body["data"]["irrevocable"],
                        json!(true),
                        "{id}: {}",
                        t.body
                    );
                    return false;
                }
                assert_eq!(t.status, 400, "{}", t.body);
            }
            true
        },
    )
    .await;
    let revoked_after = back.elapsed();
    assert_eq!(roles_in(&target, &prefix), 0, "users outlived their leases");
    let t = timed(
        &api,
        reqwest::Method::GET,
        &format!("database/creds/{soon}"),
        json!({}),
    )
    .await;
    assert_eq!(t.status, 200, "creds once the database is back: {}", t.body);

    eprintln!(
        "chaos/target: outage {outage:?}, {} leases expired during it (TTL {ttl_soon:?} and {ttl_mid:?}), \
         max_attempts {max_attempts} (earliest irrevocable {:?} after expiry), attempts per lease at the end of the outage {attempts:?}, \
         all revoked {revoked_after:?} after the database came back (bound {bound:?}); during the outage: \
         health {}, kv {}, token lookup {}, creds {} ({creds_error})",
        leases.len(),
        earliest_irrevocable(max_attempts),
        health.summary(),
        kv.summary(),
        token.summary(),
        creds.summary(),
    );
}

/// Whether the cluster answers a query.
fn answers(cluster: &pg_cluster::Cluster) -> bool {
    cluster
        .psql_as("postgres", &cluster.password, "SELECT 1")
        .is_ok()
}

/// What the load clients saw.
#[derive(Default)]
struct Seen {
    /// Acknowledged KV writes: key and value.
    acked: Vec<(String, String)>,
    ok: usize,
    /// Error answers by status.
    errors: std::collections::BTreeMap<u16, usize>,
    /// A request answered by nothing (refused, reset, timed out): the server hung or died.
    unanswered: Vec<String>,
    latency: Latencies,
    leases: Vec<String>,
    first_error: Option<String>,
}

impl Seen {
    fn record(&mut self, what: &str, t: &Timed) {
        self.latency.add(t.took);
        match t.status {
            0 => self
                .unanswered
                .push(format!("{what} after {:?}: {}", t.took, t.body)),
            200..=299 => self.ok += 1,
            s => {
                *self.errors.entry(s).or_default() += 1;
                self.first_error
                    .get_or_insert_with(|| format!("{what}: {s} {}", t.body));
            }
        }
    }
}

fn lock(seen: &Mutex<Seen>) -> std::sync::MutexGuard<'_, Seen> {
    seen.lock().expect("a client panicked")
}

async fn kv_writer(api: Api, client: usize, stop: Arc<AtomicBool>, seen: Arc<Mutex<Seen>>) {
    for n in 0u64.. {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let key = format!("load/w{client}/{n}");
        let value = secrethub_common::random_alnum(16);
        let t = timed(
            &api,
            reqwest::Method::PUT,
            &format!("kv/data/{key}"),
            json!({"data": {"v": value}}),
        )
        .await;
        let mut s = lock(&seen);
        s.record("kv write", &t);
        if t.status == 200 {
            s.acked.push((key, value));
        }
    }
}

async fn creds_client(api: Api, role: String, stop: Arc<AtomicBool>, seen: Arc<Mutex<Seen>>) {
    let mut mine: Vec<String> = Vec::new();
    for step in 0u64.. {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        if step % 3 == 2 && !mine.is_empty() {
            let id = mine.remove(0);
            let t = timed(
                &api,
                reqwest::Method::PUT,
                "sys/leases/revoke",
                json!({ "lease_id": id }),
            )
            .await;
            lock(&seen).record("revoke", &t);
        } else {
            let t = timed(
                &api,
                reqwest::Method::GET,
                &format!("database/creds/{role}"),
                json!({}),
            )
            .await;
            let mut s = lock(&seen);
            s.record("creds", &t);
            if t.status == 200 {
                let id = t.body["lease_id"].as_str().unwrap_or_default().to_string();
                s.leases.push(id.clone());
                mine.push(id);
            }
        }
    }
}

async fn health_prober(api: Api, stop: Arc<AtomicBool>, seen: Arc<Mutex<Seen>>) {
    while !stop.load(Ordering::Relaxed) {
        let next = Instant::now() + Duration::from_millis(100);
        let t = timed(&api, reqwest::Method::GET, "sys/health", json!({})).await;
        lock(&seen).record("health", &t);
        tokio::time::sleep_until(next.into()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_postgres_restarted_under_load() {
    let storage = Arc::new(blocking(OwnCluster::start).await);
    let target = blocking(pg_cluster::cluster).await;
    let stanza = format!(
        "storage \"postgresql\" {{\n  connection_url = \"postgresql://postgres:{}@127.0.0.1:{}/postgres?sslmode=disable\"\n}}",
        storage.password, storage.port
    );
    let Started {
        server,
        root,
        dir: _dir,
        ..
    } = server_with(&stanza, "").await;
    let api = Api::of(&server, &root);
    let role = format!("chaoss{}", secrethub_common::random_alnum(6).to_lowercase());
    let prefix = format!("shub_{role}_");
    database_roles(
        &api,
        "loaddb",
        target,
        &[(&role, Duration::from_secs(3600))],
    )
    .await;

    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut clients = tokio::task::JoinSet::new();
    for c in 0..3 {
        clients.spawn(kv_writer(api.clone(), c, stop.clone(), seen.clone()));
    }
    for _ in 0..2 {
        clients.spawn(creds_client(
            api.clone(),
            role.clone(),
            stop.clone(),
            seen.clone(),
        ));
    }
    let health = Arc::new(Mutex::new(Seen::default()));
    clients.spawn(health_prober(api.clone(), stop.clone(), health.clone()));

    let progress = |writes: usize, leases: usize| {
        let seen = seen.clone();
        async move || {
            let s = lock(&seen);
            s.acked.len() >= writes && s.leases.len() >= leases
        }
    };
    wait_until(
        "the load is running",
        Duration::from_secs(30),
        progress(30, 5),
    )
    .await;
    let before = {
        let s = lock(&seen);
        (s.ok, s.errors.values().sum::<usize>())
    };
    blocking({
        let storage = storage.clone();
        move || storage.stop()
    })
    .await;
    // The storage stays down for a moment (the outage itself, not a wait for anything).
    tokio::time::sleep(STORAGE_DOWN).await;
    blocking({
        let storage = storage.clone();
        move || storage.restart()
    })
    .await;
    let restarted = Instant::now();
    // Recovery: a write of our own succeeds again, with no operator action.
    wait_until(
        "a KV write succeeds after the restart",
        Duration::from_secs(30),
        async || {
            let t = timed(
                &api,
                reqwest::Method::PUT,
                "kv/data/recovered",
                json!({"data": {"v": 1}}),
            )
            .await;
            assert_ne!(t.status, 0, "unanswered after the restart: {}", t.body);
            t.status == 200
        },
    )
    .await;
    let recovery = restarted.elapsed();
    let errors_in_restart = {
        let s = lock(&seen);
        s.errors.values().sum::<usize>() - before.1
    };
    // The load goes on for a while on the recovered storage.
    let (writes, leases) = {
        let s = lock(&seen);
        (s.acked.len(), s.leases.len())
    };
    wait_until(
        "the load goes on after recovery",
        Duration::from_secs(30),
        progress(writes + 30, leases + 5),
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    while let Some(r) = clients.join_next().await {
        r.expect("a client panicked");
    }

    let seen = Arc::try_unwrap(seen)
        .ok()
        .expect("clients are done")
        .into_inner()
        .expect("lock");
    let health = Arc::try_unwrap(health)
        .ok()
        .expect("prober is done")
        .into_inner()
        .expect("lock");
    assert_eq!(
        seen.unanswered,
        Vec::<String>::new(),
        "requests without an answer"
    );
    assert_eq!(
        health.unanswered,
        Vec::<String>::new(),
        "health without an answer"
    );
    assert!(
        health.errors.is_empty(),
        "sys/health failed while the storage restarted: {:?}",
        health.first_error
    );
    assert!(
        errors_in_restart > 0,
        "the restart was not felt: the test tests nothing"
    );
    assert!(seen.latency.max() < HANG);
    let t = timed(&api, reqwest::Method::GET, "sys/seal-status", json!({})).await;
    assert_eq!(t.body["sealed"], json!(false), "{}", t.body);

    let mut lost = Vec::new();
    for (key, value) in &seen.acked {
        let t = timed(
            &api,
            reqwest::Method::GET,
            &format!("kv/data/{key}"),
            json!({}),
        )
        .await;
        if t.body["data"]["data"]["v"].as_str() != Some(value.as_str()) {
            lost.push(format!("{key}: {} {}", t.status, t.body));
        }
    }
    assert_eq!(lost, Vec::<String>::new(), "acknowledged writes lost");

    let t = timed(
        &api,
        reqwest::Method::PUT,
        &format!("sys/leases/revoke-prefix/database/creds/{role}"),
        json!({}),
    )
    .await;
    assert_eq!(t.status, 204, "{}", t.body);
    let orphans = roles_in(target, &prefix);
    assert_eq!(orphans, 0, "database users outlived every lease");

    eprintln!(
        "chaos/storage: storage down {STORAGE_DOWN:?} (fast stop, start) under 3 KV writers + 2 creds clients: \
         {} requests answered ({} ok), errors {:?} ({errors_in_restart} during the restart; first: {}), \
         recovered {recovery:?} after the start, latency {}, {} acknowledged writes, 0 lost, \
         {} leases, orphans {orphans}; health {}",
        seen.ok + seen.errors.values().sum::<usize>(),
        seen.ok,
        seen.errors,
        seen.first_error.as_deref().unwrap_or("none"),
        seen.latency.summary(),
        seen.acked.len(),
        seen.leases.len(),
        health.latency.summary(),
    );
}

/// Runs one statement in database `db` of the machine's PostgreSQL; answers its output.
fn psql_in(db: &str, sql: &str) -> String {
    let out = std::process::Command::new("psql")
        .args([
            "-w",
            "-X",
            "-h",
            "127.0.0.1",
            "-p",
            "5432",
            "-U",
            "postgres",
        ])
        .args(["-d", db, "-v", "ON_ERROR_STOP=1", "-tA", "-c", sql])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("running psql");
    assert!(
        out.status.success(),
        "psql {sql:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A kill between a caller's revocation upstream and the deletion of its lease record must
/// not leave the record waiting for its expiry or a second revoke: the next run revokes it
/// again (the user is already gone, so that succeeds) and deletes it by itself.
///
/// The kill lands exactly there: a trigger in the storage database (the machine's
/// PostgreSQL, a database of the test's own) holds the DELETE of any lease record, so the
/// caller's `sys/leases/revoke` drops the user and then blocks; once the user is gone and the
/// DELETE waits, the server is killed with SIGKILL and its storage session ended, so the
/// DELETE never commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_after_the_upstream_revocation_leaves_no_stale_lease() {
    let db = PgDatabase::create();
    let target = blocking(pg_cluster::cluster).await;
    let stanza = format!(
        "storage \"postgresql\" {{\n  connection_url = \"{}\"\n}}",
        db.url()
    );
    let Started {
        server,
        root,
        key,
        dir,
    } = server_with(&stanza, "").await;
    let config = dir.path().join("server.hcl");
    let api = Api::of(&server, &root);
    let role = format!("stale{}", secrethub_common::random_alnum(6).to_lowercase());
    let prefix = format!("shub_{role}_");
    database_roles(
        &api,
        "staledb",
        target,
        &[(&role, Duration::from_secs(3600))],
    )
    .await;
    let t = timed(
        &api,
        reqwest::Method::GET,
        &format!("database/creds/{role}"),
        json!({}),
    )
    .await;
    assert_eq!(t.status, 200, "{}", t.body);
    let lease_id = t.body["lease_id"].as_str().expect("a lease ID").to_string();
    assert_eq!(roles_in(target, &prefix), 1);

    psql_in(
        db.name(),
        "CREATE FUNCTION hold_lease_delete() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN PERFORM pg_sleep(3600); RETURN OLD; END $$; \
         CREATE TRIGGER hold_lease_delete BEFORE DELETE ON secrethub_kv FOR EACH ROW \
         WHEN (OLD.key LIKE 'sys/expire/id/%') EXECUTE FUNCTION hold_lease_delete()",
    );
    // The caller's revocation: it never answers, the server dies under it.
    let revoke = tokio::spawn({
        let api = api.clone();
        let id = lease_id.clone();
        async move {
            timed(
                &api,
                reqwest::Method::PUT,
                "sys/leases/revoke",
                json!({ "lease_id": id }),
            )
            .await
        }
    });
    let held = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND wait_event = 'PgSleep'",
        db.name()
    );
    wait_until(
        "the user is dropped and the record's deletion is held",
        Duration::from_secs(30),
        async || roles_in(target, &prefix) == 0 && psql_in(db.name(), &held) == "1",
    )
    .await;
    drop(server); // SIGKILL
    let _ = revoke.await;
    // PostgreSQL would notice the dead client only at its next write: end the session here,
    // and let the storage behave again.
    psql_in(
        db.name(),
        &format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}' \
             AND wait_event = 'PgSleep'; DROP TRIGGER hold_lease_delete ON secrethub_kv",
            db.name()
        ),
    );
    assert_eq!(
        psql_in(
            db.name(),
            &format!("SELECT count(*) FROM secrethub_kv WHERE key = 'sys/expire/id/{lease_id}'")
        ),
        "1",
        "the lease record outlived the kill, as the crash intended"
    );

    let server = ServerProcess::with_config(dir.path(), &config, None).await;
    let t = timed(
        &Api::of(&server, ""),
        reqwest::Method::PUT,
        "sys/unseal",
        json!({ "key": key }),
    )
    .await;
    assert_eq!(
        (t.status, t.body["sealed"].clone()),
        (200, json!(false)),
        "{}",
        t.body
    );
    // No revoke call from here on: the lease was due when the server died, so the
    // scheduler revokes it again (the user is gone: Ok) and deletes the record.
    let api = Api::of(&server, &root);
    wait_until(
        "the stale lease record is deleted after the restart",
        Duration::from_secs(30),
        async || {
            let t = timed(
                &api,
                reqwest::Method::PUT,
                "sys/leases/lookup",
                json!({ "lease_id": lease_id }),
            )
            .await;
            t.status == 400
        },
    )
    .await;
    assert_eq!(roles_in(target, &prefix), 0);
}
