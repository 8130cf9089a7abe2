//! [`Providers`]' own behaviour, with scripted providers that count their reads: routing,
//! the cache (hits, TTL, size bound, leases, invalidation), fallbacks and timeouts, skipping a
//! provider that keeps failing, health.
//! Time is tokio's paused clock: TTLs and timeouts pass by `advance`, never by sleeping.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use secrethub_common::Sensitive;
use secrethub_providers::{
    Health, Lease, Provider, ProviderError, ProviderErrorKind, ProviderOptions, Providers, Secret,
    BREAKER_OPEN, BREAKER_THRESHOLD,
};

/// What a scripted provider does on a read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Answer,
    NotFound,
    Denied,
    Unavailable,
    /// Never answers.
    Hang,
}

struct Scripted {
    name: String,
    mode: Mutex<Mode>,
    reads: AtomicUsize,
    paths: Mutex<Vec<String>>,
}

impl Scripted {
    fn new(name: &str, mode: Mode) -> Arc<Scripted> {
        Arc::new(Scripted {
            name: name.to_string(),
            mode: Mutex::new(mode),
            reads: AtomicUsize::new(0),
            paths: Mutex::new(Vec::new()),
        })
    }

    fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn paths(&self) -> Vec<String> {
        self.paths.lock().unwrap().clone()
    }
}

#[async_trait]
impl Provider for Scripted {
    fn name(&self) -> &str {
        &self.name
    }

    async fn read(&self, path: &str) -> Result<Secret, ProviderError> {
        let n = self.reads.fetch_add(1, Ordering::SeqCst) + 1;
        self.paths.lock().unwrap().push(path.to_string());
        let mode = *self.mode.lock().unwrap();
        let fail = |kind| {
            Err(ProviderError::new(
                kind,
                &self.name,
                format!("{kind:?} at {path}"),
            ))
        };
        match mode {
            Mode::Answer => {}
            Mode::NotFound => return fail(ProviderErrorKind::NotFound),
            Mode::Denied => return fail(ProviderErrorKind::Denied),
            Mode::Unavailable => return fail(ProviderErrorKind::Unavailable),
            Mode::Hang => std::future::pending::<()>().await,
        }
        let lease = path.starts_with("leased/").then(|| Lease {
            id: format!("{path}/lease-{n}"),
            duration: Duration::from_secs(60),
            renewable: true,
        });
        Ok(Secret {
            fields: BTreeMap::from([
                ("from".to_string(), Sensitive::new(self.name.clone())),
                ("path".to_string(), Sensitive::new(path.to_string())),
            ]),
            lease,
            version: Some(n.to_string()),
        })
    }

    async fn health(&self) -> Health {
        if *self.mode.lock().unwrap() == Mode::Hang {
            std::future::pending::<()>().await;
        }
        Health {
            healthy: true,
            detail: "scripted".to_string(),
        }
    }
}

fn options(prefix: Option<&str>, fallback: Option<&str>) -> ProviderOptions {
    ProviderOptions {
        prefix: prefix.map(str::to_string),
        fallback: fallback.map(str::to_string),
        timeout: Duration::from_secs(5),
        cache_ttl: Duration::from_secs(30),
        cache_max_entries: 100,
        kind: None,
    }
}

fn no_cache() -> ProviderOptions {
    ProviderOptions {
        cache_ttl: Duration::ZERO,
        ..options(None, None)
    }
}

fn field(secret: &Secret, name: &str) -> String {
    secret.fields[name].expose().clone()
}

#[tokio::test]
async fn references_route_by_name_then_longest_prefix_then_default() {
    let default = Scripted::new("secrethub", Mode::Answer);
    let mut set = Providers::with_default_options(default.clone(), no_cache());
    set.add(
        Scripted::new("aws", Mode::Answer),
        options(Some("aws/"), None),
    )
    .expect("add aws");
    set.add(
        Scripted::new("aws-prod", Mode::Answer),
        options(Some("aws/prod/"), None),
    )
    .expect("add aws-prod");
    set.add(Scripted::new("dev", Mode::Answer), options(None, None))
        .expect("add dev");

    let route = |provider: Option<&str>, path: &str| {
        let (p, path) = set.route(provider, path).expect("routes");
        (p.name().to_string(), path)
    };
    assert_eq!(route(None, "aws/app/db"), ("aws".into(), "app/db".into()));
    assert_eq!(route(None, "aws/prod/db"), ("aws-prod".into(), "db".into()));
    assert_eq!(
        route(None, "secret/app"),
        ("secrethub".into(), "secret/app".into())
    );
    assert_eq!(
        route(Some("dev"), "aws/app"),
        ("dev".into(), "aws/app".into())
    );
    assert_eq!(
        route(Some("secrethub"), "aws/app"),
        ("secrethub".into(), "aws/app".into())
    );
    let err = set.route(Some("nope"), "x").err().expect("unknown name");
    assert_eq!(err.kind, ProviderErrorKind::Invalid);

    let (name, secret) = set.read(None, "aws/prod/db").await.expect("read");
    assert_eq!(
        (name.as_str(), field(&secret, "path").as_str()),
        ("aws-prod", "db")
    );
    assert_eq!(set.names(), ["secrethub", "aws", "aws-prod", "dev"]);
    assert_eq!(
        set.get("dev").map(|p| p.name().to_string()).as_deref(),
        Some("dev")
    );
    assert!(set.get("nope").is_none());
    assert_eq!(default.reads(), 0);
}

#[tokio::test]
async fn bad_additions_are_refused() {
    let mut set = Providers::new(Scripted::new("secrethub", Mode::Answer));
    set.add(Scripted::new("a", Mode::Answer), options(Some("a/"), None))
        .expect("add a");
    let cases = [
        (
            Scripted::new("a", Mode::Answer),
            options(None, None),
            "taken",
        ),
        (
            Scripted::new("secrethub", Mode::Answer),
            options(None, None),
            "taken",
        ),
        (
            Scripted::new("b", Mode::Answer),
            options(None, Some("c")),
            "unknown fallback",
        ),
        (
            Scripted::new("b", Mode::Answer),
            options(None, Some("b")),
            "own fallback",
        ),
        (
            Scripted::new("b", Mode::Answer),
            options(Some("a/"), None),
            "already the prefix",
        ),
        (
            Scripted::new("b:c", Mode::Answer),
            options(None, None),
            "without ':'",
        ),
    ];
    for (provider, options, expected) in cases {
        let err = set.add(provider, options).unwrap_err();
        assert_eq!(err.kind, ProviderErrorKind::Invalid);
        assert!(
            err.to_string().contains(expected),
            "{err} should say {expected}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn answers_are_cached_until_the_ttl_passes() {
    let default = Scripted::new("secrethub", Mode::Answer);
    let set = Providers::with_default_options(default.clone(), options(None, None));
    let (_, first) = set.read(None, "secret/app").await.expect("read");
    let (_, again) = set.read(None, "secret/app").await.expect("cached");
    assert_eq!(default.reads(), 1);
    assert_eq!(again.version, first.version);

    tokio::time::advance(Duration::from_secs(29)).await;
    set.read(None, "secret/app").await.expect("still cached");
    assert_eq!(default.reads(), 1);
    tokio::time::advance(Duration::from_secs(1)).await;
    let (_, fresh) = set.read(None, "secret/app").await.expect("expired");
    assert_eq!(default.reads(), 2);
    assert_eq!(fresh.version.as_deref(), Some("2"));

    set.invalidate(None, "secret/app");
    set.read(None, "secret/app").await.expect("invalidated");
    assert_eq!(default.reads(), 3);
}

#[tokio::test(start_paused = true)]
async fn the_cache_keeps_at_most_max_entries_and_never_a_lease() {
    let default = Scripted::new("secrethub", Mode::Answer);
    let set = Providers::with_default_options(
        default.clone(),
        ProviderOptions {
            cache_max_entries: 2,
            ..options(None, None)
        },
    );
    for path in ["a", "b", "c"] {
        set.read(None, path).await.expect("read");
    }
    assert_eq!(default.reads(), 3);
    // `a` was the oldest and went when `c` came; `b` and `c` are still there.
    set.read(None, "c").await.expect("cached");
    set.read(None, "b").await.expect("cached");
    assert_eq!(default.reads(), 3);
    set.read(None, "a").await.expect("evicted");
    assert_eq!(default.reads(), 4);

    let (_, one) = set.read(None, "leased/db").await.expect("leased");
    let (_, two) = set.read(None, "leased/db").await.expect("leased again");
    assert_eq!(default.reads(), 6);
    assert_ne!(one.lease, two.lease);
}

/// The default provider, a `backup` and `primary` (routed by `prefix`) falling back to it,
/// none of them caching. Answers the set, the default and the backup.
fn with_backup(primary: &Arc<Scripted>, prefix: &str) -> (Providers, Arc<Scripted>, Arc<Scripted>) {
    let default = Scripted::new("secrethub", Mode::Answer);
    let mut set = Providers::with_default_options(default.clone(), no_cache());
    let backup = Scripted::new("backup", Mode::Answer);
    set.add(backup.clone(), no_cache()).expect("add backup");
    set.add(
        primary.clone(),
        ProviderOptions {
            cache_ttl: Duration::ZERO,
            ..options(Some(prefix), Some("backup"))
        },
    )
    .expect("add primary");
    (set, default, backup)
}

#[tokio::test]
async fn an_unavailable_provider_falls_back_but_not_found_and_denied_do_not() {
    let primary = Scripted::new("primary", Mode::Unavailable);
    let (set, default, backup) = with_backup(&primary, "p/");

    let (name, secret) = set.read(None, "p/app/db").await.expect("fallback answers");
    assert_eq!(name, "backup");
    assert_eq!(field(&secret, "path"), "app/db");
    assert_eq!((primary.reads(), backup.reads()), (1, 1));

    primary.set(Mode::NotFound);
    let err = set.read(None, "p/app/db").await.unwrap_err();
    assert_eq!(
        (err.kind, err.provider.as_str()),
        (ProviderErrorKind::NotFound, "primary")
    );
    primary.set(Mode::Denied);
    let err = set.read(Some("primary"), "app/db").await.unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::Denied);
    assert_eq!((primary.reads(), backup.reads()), (3, 1));

    // When the fallback fails too, its error is the answer.
    primary.set(Mode::Unavailable);
    backup.set(Mode::Unavailable);
    let err = set.read(None, "p/x").await.unwrap_err();
    assert_eq!(
        (err.kind, err.provider.as_str()),
        (ProviderErrorKind::Unavailable, "backup")
    );
    assert_eq!(default.reads(), 0);
}

#[tokio::test]
async fn fallbacks_chain_down_to_the_default() {
    let default = Scripted::new("secrethub", Mode::Answer);
    let mut set = Providers::with_default_options(default.clone(), no_cache());
    set.add(
        Scripted::new("b", Mode::Unavailable),
        ProviderOptions {
            fallback: Some("secrethub".into()),
            ..no_cache()
        },
    )
    .expect("add b");
    set.add(
        Scripted::new("a", Mode::Unavailable),
        ProviderOptions {
            prefix: Some("a/".into()),
            fallback: Some("b".into()),
            ..no_cache()
        },
    )
    .expect("add a");
    let (name, secret) = set.read(None, "a/k").await.expect("default answers");
    assert_eq!(
        (name.as_str(), field(&secret, "path").as_str()),
        ("secrethub", "k")
    );
    assert_eq!(default.paths(), ["k"]);
}

#[tokio::test(start_paused = true)]
async fn a_timeout_falls_back() {
    let default = Scripted::new("secrethub", Mode::Answer);
    let mut set = Providers::new(default);
    let backup = Scripted::new("backup", Mode::Answer);
    let slow = Scripted::new("slow", Mode::Hang);
    set.add(backup.clone(), options(None, None)).expect("add");
    set.add(slow.clone(), options(Some("slow/"), Some("backup")))
        .expect("add");
    let started = tokio::time::Instant::now();
    let (name, _) = set.read(None, "slow/x").await.expect("fallback answers");
    assert_eq!(name, "backup");
    // The paused clock jumped exactly to the provider's timeout.
    assert_eq!(started.elapsed(), Duration::from_secs(5));

    // Without a fallback the timeout is the error.
    set.add(Scripted::new("alone", Mode::Hang), options(None, None))
        .expect("add");
    let err = set.read(Some("alone"), "y").await.expect_err("times out");
    assert_eq!(err.kind, ProviderErrorKind::Unavailable);
    assert!(err.to_string().contains("timed out"), "{err}");
}

/// Who answered `slow/x`, and how long it took on the paused clock.
async fn timed(set: &Providers) -> (String, Duration) {
    let started = tokio::time::Instant::now();
    let (name, _) = set.read(None, "slow/x").await.expect("an answer");
    (name, started.elapsed())
}

#[tokio::test(start_paused = true)]
async fn a_provider_that_keeps_timing_out_is_skipped_for_a_while() {
    let slow = Scripted::new("slow", Mode::Hang);
    let (mut set, _, _) = with_backup(&slow, "slow/");
    for _ in 0..BREAKER_THRESHOLD {
        assert_eq!(timed(&set).await, ("backup".into(), Duration::from_secs(5)));
    }
    // Skipped: the fallback answers at once, and the provider is not asked.
    assert_eq!(timed(&set).await, ("backup".into(), Duration::ZERO));
    assert_eq!(slow.reads(), BREAKER_THRESHOLD as usize);

    // After the pause it is asked again; still hanging, it is skipped again at once.
    tokio::time::advance(BREAKER_OPEN).await;
    assert_eq!(timed(&set).await, ("backup".into(), Duration::from_secs(5)));
    assert_eq!(timed(&set).await, ("backup".into(), Duration::ZERO));
    assert_eq!(slow.reads(), BREAKER_THRESHOLD as usize + 1);

    // Once it answers again it is the first choice again.
    slow.set(Mode::Answer);
    tokio::time::advance(BREAKER_OPEN).await;
    assert_eq!(timed(&set).await, ("slow".into(), Duration::ZERO));
    assert_eq!(timed(&set).await, ("slow".into(), Duration::ZERO));
    // Errors it answers (a 500 for one path, say) do not count: it responds.
    slow.set(Mode::Unavailable);
    let asked = slow.reads();
    for _ in 0..=BREAKER_THRESHOLD {
        assert_eq!(timed(&set).await, ("backup".into(), Duration::ZERO));
    }
    assert_eq!(
        slow.reads(),
        asked + BREAKER_THRESHOLD as usize + 1,
        "asked every time"
    );
    // A provider without a fallback is never skipped: its reads fail on their own.
    set.add(Scripted::new("alone", Mode::Unavailable), no_cache())
        .expect("add");
    for _ in 0..=BREAKER_THRESHOLD {
        let err = set.read(Some("alone"), "y").await.expect_err("unavailable");
        assert!(err.to_string().contains("Unavailable at y"), "{err}");
    }
}

#[tokio::test(start_paused = true)]
async fn health_lists_every_provider_and_bounds_each_probe() {
    let mut set = Providers::new(Scripted::new("secrethub", Mode::Answer));
    set.add(Scripted::new("slow", Mode::Hang), options(None, None))
        .expect("add");
    let health = set.health().await;
    assert_eq!(health.len(), 2);
    assert_eq!(health[0].0, "secrethub");
    assert!(health[0].1.healthy);
    assert_eq!(health[1].0, "slow");
    assert!(!health[1].1.healthy);
}
