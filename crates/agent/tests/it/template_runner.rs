//! One agent template kept current against the in-process server: a new KV version is
//! rendered within the static-secret interval, database credentials are rendered again when
//! the keeper replaces them (by `rotate_all`, or at their max TTL), the command runs once per
//! change and never for an unchanged render, a render error leaves the file as it was
//! while the runner keeps trying, and credentials an edited template no longer names stop
//! being renewed.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use secrethub_agent::renewer::{LeaseKeeper, RotationReason};
use secrethub_agent::template_runner::TemplateRunner;
use secrethub_config::agent::{
    LeaseRenewalConfig, TemplateConfig, TemplateSettings, TemplateSource,
};
use secrethub_providers::Providers;
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::server::{eventually, unique, Recorded, TestServer};

const DEADLINE: Duration = Duration::from_secs(20);
const INTERVAL: Duration = Duration::from_millis(200);

/// A server, the built-in provider (recorded) with the default cache, and a keeper.
struct Fixture {
    server: TestServer,
    dir: tempfile::TempDir,
    provider: Arc<Recorded>,
    providers: Arc<Providers>,
    keeper: LeaseKeeper,
    shutdown: CancellationToken,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Fixture {
    async fn start(policy: LeaseRenewalConfig) -> Fixture {
        let server = TestServer::start().await;
        let provider = server.recorded_provider(server.root_token());
        let providers = Arc::new(Providers::new(provider.clone()));
        let shutdown = CancellationToken::new();
        let keeper = LeaseKeeper::new(providers.clone(), policy, shutdown.clone());
        Fixture {
            server,
            dir: tempfile::tempdir().expect("tempdir"),
            provider,
            providers,
            keeper,
            shutdown,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a KV v2 version of `secret/<name>`.
    async fn put(&self, name: &str, data: Value) {
        self.server
            .root_client()
            .write(&format!("secret/data/{name}"), &json!({ "data": data }))
            .await
            .expect("kv write");
    }

    /// Runs a template rendering `text` to `out` whose command appends one byte to `runs`.
    fn run(&self, text: &str) -> JoinHandle<anyhow::Result<()>> {
        self.run_source(TemplateSource::Inline(text.to_string()))
    }

    fn run_source(&self, source: TemplateSource) -> JoinHandle<anyhow::Result<()>> {
        let config = TemplateConfig {
            source,
            destination: self.path("out"),
            perms: 0o600,
            command: Some(format!("printf x >> '{}'", self.path("runs").display())),
        };
        let settings = TemplateSettings {
            static_secret_render_interval: INTERVAL,
            exit_on_retry_failure: false,
        };
        let runner = TemplateRunner::new(config, settings);
        tokio::spawn(runner.run(
            self.keeper.clone(),
            self.providers.clone(),
            self.shutdown.clone(),
        ))
    }

    fn out(&self) -> Option<String> {
        std::fs::read_to_string(self.path("out")).ok()
    }

    /// How many times the template's command ran.
    fn runs(&self) -> usize {
        std::fs::read(self.path("runs")).map_or(0, |b| b.len())
    }

    async fn until_out(&self, expected: &str) {
        eventually(
            DEADLINE,
            &format!("the file to read {expected:?}"),
            || async { (self.out().as_deref() == Some(expected)).then_some(()) },
        )
        .await;
    }

    async fn until_runs(&self, n: usize) {
        eventually(DEADLINE, &format!("{n} runs of the command"), || async {
            (self.runs() >= n).then_some(())
        })
        .await;
    }

    /// Reads of `secret/<name>` that answered `version` (any version: `None`).
    fn reads(&self, name: &str, version: Option<&str>) -> usize {
        let path = format!("secret/{name}");
        self.provider
            .reads()
            .iter()
            .filter(|r| r.path == path && (version.is_none() || r.version.as_deref() == version))
            .count()
    }

    /// Waits until `secret/<name>` was read `n` times with `version`. Renders run one after
    /// another, so once read `n` is seen, every render before it has finished (file written,
    /// command run or not).
    async fn until_reads(&self, name: &str, version: Option<&str>, n: usize) {
        eventually(
            DEADLINE,
            &format!("{n} reads of secret/{name} (version {version:?})"),
            || async { (self.reads(name, version) >= n).then_some(()) },
        )
        .await;
    }
}

#[tokio::test]
async fn a_new_kv_version_is_rendered_and_runs_the_command_once_per_change() {
    let f = Fixture::start(LeaseRenewalConfig::default()).await;
    let name = unique("app");
    f.put(&name, json!({"k": "one"})).await;
    let task = f.run(&format!("k=${{secret:secret/{name}#k}}\n"));
    f.until_out("k=one\n").await;
    f.until_runs(1).await;

    // Renders every 200 ms read the secret again, find the file unchanged, run nothing.
    let seen = f.reads(&name, None);
    f.until_reads(&name, None, seen + 3).await;
    assert_eq!(f.runs(), 1, "no command for an unchanged render");

    f.put(&name, json!({"k": "two"})).await;
    f.until_out("k=two\n").await;
    f.until_runs(2).await;
    let seen = f.reads(&name, Some("2"));
    f.until_reads(&name, Some("2"), seen + 3).await;
    assert_eq!(f.runs(), 2, "one run per change");
    assert!(!task.is_finished(), "the runner keeps going");
}

#[tokio::test]
async fn a_render_error_keeps_the_old_file_and_the_runner_retries_until_fixed() {
    let f = Fixture::start(LeaseRenewalConfig::default()).await;
    let name = unique("broken");
    f.put(&name, json!({"k": "one"})).await;
    let _task = f.run(&format!("k=${{secret:secret/{name}#k}}\n"));
    f.until_out("k=one\n").await;
    f.until_runs(1).await;

    // Version 2 lacks the field: the render fails, and is tried again (a second read).
    f.put(&name, json!({"other": "x"})).await;
    f.until_reads(&name, Some("2"), 2).await;
    assert_eq!(f.out().as_deref(), Some("k=one\n"), "the old file is kept");
    assert_eq!(f.runs(), 1, "no command after a failed render");

    f.put(&name, json!({"k": "three"})).await;
    f.until_out("k=three\n").await;
    f.until_runs(2).await;
}

#[tokio::test]
async fn a_failing_first_render_is_retried_with_fresh_reads_until_fixed() {
    let f = Fixture::start(LeaseRenewalConfig::default()).await;
    let name = unique("first");
    std::fs::write(f.path("out"), "previous\n").expect("an earlier file");
    f.put(&name, json!({"other": "x"})).await;
    let _task = f.run(&format!("k=${{secret:secret/{name}#k}}\n"));

    // The retry must read the secret again, not reuse the provider's cached answer (kept for
    // 5 minutes), or a fix would go unseen that long.
    f.until_reads(&name, Some("1"), 2).await;
    assert_eq!(
        f.out().as_deref(),
        Some("previous\n"),
        "the file is untouched"
    );
    assert_eq!(f.runs(), 0);

    f.put(&name, json!({"k": "fixed"})).await;
    f.until_out("k=fixed\n").await;
    f.until_runs(1).await;
}

#[tokio::test]
async fn a_missing_secret_renders_its_default_until_it_is_written() {
    let f = Fixture::start(LeaseRenewalConfig::default()).await;
    let name = unique("later");
    let _task = f.run(&format!("k=${{secret:secret/{name}#k|none}}\n"));
    f.until_out("k=none\n").await;

    // The static-secret interval applies to a secret that was not there as well.
    f.put(&name, json!({"k": "here"})).await;
    f.until_out("k=here\n").await;
    f.until_runs(2).await;
}

/// The `username=` line of the rendered file, once there is one.
async fn username(f: &Fixture, not: Option<&str>) -> String {
    eventually(DEADLINE, "a rendered username", || async {
        let out = f.out()?;
        let user = out.strip_prefix("user=")?.trim_end().to_string();
        (Some(user.as_str()) != not).then_some(user)
    })
    .await
}

async fn held_lease(keeper: &LeaseKeeper) -> String {
    let leases = keeper.leases().await;
    assert_eq!(leases.len(), 1, "{leases:?}");
    leases[0].1.clone()
}

#[tokio::test]
async fn database_credentials_are_rendered_again_when_the_keeper_replaces_them() {
    let f = Fixture::start(LeaseRenewalConfig::default()).await;
    let role = f.server.database_role("1h", "2h").await;
    let creds = format!("database/creds/{role}");
    let task = f.run(&format!("user=${{secret:{creds}#username}}\n"));
    let first = username(&f, None).await;
    f.until_runs(1).await;
    let lease = held_lease(&f.keeper).await;

    f.keeper.rotate_all(RotationReason::NewToken).await;
    username(&f, Some(&first)).await;
    f.until_runs(2).await;
    assert_ne!(held_lease(&f.keeper).await, lease);

    f.shutdown.cancel();
    task.await.expect("runner task").expect("runner");
    f.server.revoke_prefix(&creds).await;
}

#[tokio::test]
async fn database_credentials_at_their_max_ttl_are_replaced_and_rendered_again() {
    // A 2 s lease with a 3 s max TTL: the renewal at 1 s (renew_at 0.5) or the next one is
    // granted less than asked, so fresh credentials are fetched before 3 s, without anyone
    // asking.
    let policy = LeaseRenewalConfig {
        renew_at: 0.5,
        grace: Duration::from_millis(500),
        backoff_initial: Duration::from_millis(50),
        ..LeaseRenewalConfig::default()
    };
    let f = Fixture::start(policy).await;
    let role = f.server.database_role("2s", "3s").await;
    let creds = format!("database/creds/{role}");
    let mut rotations = f.keeper.subscribe();
    let _task = f.run(&format!("user=${{secret:{creds}#username}}\n"));
    let first = username(&f, None).await;

    let rotation = tokio::time::timeout(DEADLINE, rotations.recv())
        .await
        .expect("a rotation")
        .expect("rotations open");
    assert_eq!(rotation.reason, RotationReason::Expiring);
    assert_eq!(rotation.key.path, creds);
    let second = username(&f, Some(&first)).await;
    assert_ne!(second, first);
    f.until_runs(2).await;
    let renewed: Vec<_> = f.provider.renewals();
    assert!(
        renewed.iter().all(|r| r.outcome.is_ok()),
        "renewals of a live lease succeed: {renewed:?}"
    );

    f.shutdown.cancel();
    f.server.revoke_prefix(&creds).await;
}

#[tokio::test]
async fn credentials_an_edited_template_no_longer_names_stop_being_kept() {
    let f = Fixture::start(LeaseRenewalConfig::default()).await;
    let role = f.server.database_role("1h", "2h").await;
    let creds = format!("database/creds/{role}");
    let name = unique("kept");
    f.put(&name, json!({"k": "v"})).await;
    let file = f.path("template");
    let kv = format!("k=${{secret:secret/{name}#k}}\n");
    std::fs::write(&file, format!("user=${{secret:{creds}#username}}\n{kv}")).expect("write");
    let _task = f.run_source(TemplateSource::File(file.clone()));
    username(&f, None).await;
    held_lease(&f.keeper).await;

    // The next render (the KV secret's interval) reads the edited file; the runner settles
    // its claims right after writing it.
    std::fs::write(&file, &kv).expect("edit");
    f.until_out("k=v\n").await;
    eventually(DEADLINE, "the credentials no longer kept", || async {
        f.keeper.leases().await.is_empty().then_some(())
    })
    .await;
    f.server.revoke_prefix(&creds).await;
}
