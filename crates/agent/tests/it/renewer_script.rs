//! The scripted provider the lease keeper's tests run against: every read hands out a new
//! lease, renewals are granted (up to a max TTL), fail on demand, and everything it sees is
//! recorded with its instant on tokio's clock; plus the helpers those tests share.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use secrethub_agent::render::SecretSource;
use secrethub_agent::renewer::{LeaseKeeper, Rotation, SecretKey};
use secrethub_common::Sensitive;
use secrethub_config::agent::LeaseRenewalConfig;
use secrethub_providers::{
    Health, Lease, Provider, ProviderError, ProviderErrorKind, Providers, Secret,
};
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Longer than anything a test waits for on the paused clock: a wait that reaches it failed.
pub(crate) const NEVER: Duration = Duration::from_secs(24 * 3600);

/// One renewal the script saw.
#[derive(Debug, Clone)]
pub(crate) struct Renewal {
    pub(crate) lease_id: String,
    pub(crate) at: Instant,
    pub(crate) increment: Duration,
    pub(crate) granted: bool,
}

/// One read the script answered.
#[derive(Debug, Clone)]
pub(crate) struct Read {
    pub(crate) at: Instant,
    pub(crate) lease_id: String,
}

/// What a lease was issued with.
pub(crate) struct Issued {
    pub(crate) at: Instant,
}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) reads: Vec<Read>,
    pub(crate) renewals: Vec<Renewal>,
    pub(crate) revoked: Vec<String>,
    pub(crate) issued: BTreeMap<String, Issued>,
    /// Renewals fail while this is on.
    pub(crate) failing: bool,
    /// Revocations of these lease IDs fail.
    pub(crate) revoke_fails: Vec<String>,
    /// Reads answer "not found" while this is on (the role was deleted).
    pub(crate) gone: bool,
}

/// A provider whose every read hands out a new lease `"<path>/<n>"` of `duration`; renewals
/// are granted up to `max_ttl` after issue (the server's cap), or fail on demand.
pub(crate) struct Script {
    pub(crate) duration: Duration,
    pub(crate) renewable: bool,
    pub(crate) max_ttl: Option<Duration>,
    /// How long a read takes (virtual time).
    pub(crate) read_delay: Duration,
    pub(crate) state: Mutex<State>,
    /// Bumped after every read, renewal and revocation, for waiting on them.
    pub(crate) events: watch::Sender<usize>,
}

impl Script {
    pub(crate) fn new(duration: Duration) -> Script {
        Script {
            duration,
            renewable: true,
            max_ttl: None,
            read_delay: Duration::ZERO,
            state: Mutex::new(State::default()),
            events: watch::channel(0).0,
        }
    }

    pub(crate) fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("script state")
    }

    pub(crate) fn bump(&self) {
        self.events.send_modify(|n| *n += 1);
    }

    pub(crate) fn reads(&self) -> Vec<Read> {
        self.state().reads.clone()
    }

    pub(crate) fn renewals(&self) -> Vec<Renewal> {
        self.state().renewals.clone()
    }

    pub(crate) fn revoked(&self) -> Vec<String> {
        self.state().revoked.clone()
    }

    pub(crate) fn fail_renewals(&self, failing: bool) {
        self.state().failing = failing;
    }

    /// Waits (on the paused clock, which jumps to the keeper's next timer) until `done` holds.
    pub(crate) async fn until(&self, what: &str, done: impl Fn(&State) -> bool) {
        let mut events = self.events.subscribe();
        let waited = tokio::time::timeout(
            NEVER,
            events.wait_for(|_| done(&self.state.lock().expect("script state"))),
        )
        .await;
        assert!(waited.is_ok(), "never happened: {what}");
    }

    pub(crate) async fn until_renewals(&self, n: usize) {
        self.until(&format!("{n} renewals"), |s| s.renewals.len() >= n)
            .await;
    }
}

#[async_trait]
impl Provider for Script {
    fn name(&self) -> &str {
        "secrethub"
    }

    async fn read(&self, path: &str) -> Result<Secret, ProviderError> {
        tokio::time::sleep(self.read_delay).await;
        if self.state().gone {
            return Err(ProviderError::not_found("secrethub", path));
        }
        let lease_id = {
            let mut state = self.state();
            let n = state.reads.len() + 1;
            let lease_id = format!("{path}/{n}");
            state.reads.push(Read {
                at: Instant::now(),
                lease_id: lease_id.clone(),
            });
            state
                .issued
                .insert(lease_id.clone(), Issued { at: Instant::now() });
            lease_id
        };
        self.bump();
        Ok(Secret {
            fields: BTreeMap::from([(
                "username".to_string(),
                Sensitive::new(format!("user-{lease_id}")),
            )]),
            lease: Some(Lease {
                id: lease_id,
                duration: self.duration,
                renewable: self.renewable,
            }),
            version: None,
        })
    }

    async fn renew(&self, lease_id: &str, increment: Duration) -> Result<Lease, ProviderError> {
        let now = Instant::now();
        let answer = {
            let mut state = self.state();
            let granted = match self.max_ttl {
                Some(max) => {
                    let issued = state.issued[lease_id].at;
                    increment.min((issued + max).saturating_duration_since(now))
                }
                None => increment,
            };
            let failing = state.failing;
            state.renewals.push(Renewal {
                lease_id: lease_id.to_string(),
                at: now,
                increment,
                granted: !failing,
            });
            if failing {
                Err(ProviderError::new(
                    ProviderErrorKind::Unavailable,
                    "secrethub",
                    format!("renewing lease {lease_id}: scripted failure"),
                ))
            } else {
                Ok(Lease {
                    id: lease_id.to_string(),
                    duration: granted,
                    renewable: true,
                })
            }
        };
        self.bump();
        answer
    }

    async fn revoke(&self, lease_id: &str) -> Result<(), ProviderError> {
        let answer = {
            let mut state = self.state();
            state.revoked.push(lease_id.to_string());
            if state.revoke_fails.iter().any(|id| id == lease_id) {
                Err(ProviderError::new(
                    ProviderErrorKind::Unavailable,
                    "secrethub",
                    "scripted revocation failure",
                ))
            } else {
                Ok(())
            }
        };
        self.bump();
        answer
    }

    async fn health(&self) -> Health {
        Health {
            healthy: true,
            detail: "scripted".into(),
        }
    }
}

/// A keeper over `script` with `policy`; the keeper's tasks stop when the test ends.
pub(crate) fn keeper(
    script: &Arc<Script>,
    policy: LeaseRenewalConfig,
) -> (LeaseKeeper, CancellationToken) {
    let shutdown = CancellationToken::new();
    let providers = Arc::new(Providers::new(script.clone()));
    (
        LeaseKeeper::new(providers, policy, shutdown.clone()),
        shutdown,
    )
}

pub(crate) fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// `at - start` is `expected` within a millisecond (the paused clock is exact; the margin only
/// absorbs float rounding of the `renew_at` fraction).
pub(crate) fn assert_at(start: Instant, at: Instant, expected: Duration, what: &str) {
    let offset = at - start;
    let diff = offset.abs_diff(expected);
    assert!(
        diff <= Duration::from_millis(1),
        "{what} at {offset:?} after the fetch, expected {expected:?}"
    );
}

pub(crate) async fn lease_of(keeper: &LeaseKeeper, path: &str) -> String {
    let fetched = keeper.fetch(None, path).await.expect("fetch");
    fetched.secret.lease.expect("leased").id
}

pub(crate) async fn next_rotation(
    rotations: &mut broadcast::Receiver<Rotation>,
) -> (Rotation, Instant) {
    let rotation = tokio::time::timeout(NEVER, rotations.recv())
        .await
        .expect("a rotation")
        .expect("rotations open");
    (rotation, Instant::now())
}

pub(crate) fn key(path: &str) -> SecretKey {
    SecretKey {
        provider: None,
        path: path.to_string(),
    }
}
