//! The user guide's `LEASE_RENEWAL_THRESHOLD` and `LEASE_RENEWAL_RETRIES` over an agent.hcl's
//! `lease_renewal {}`, on tokio's paused clock: the environment decides when a lease is
//! renewed and how many failed renewals replace it.

use std::path::Path;
use std::sync::Arc;

use secrethub_agent::renewer::RotationReason;
use secrethub_config::AgentEnv;
use tokio::time::Instant;

use crate::renewer_script::*;

/// The file's `lease_renewal {}` with the given variables applied over it.
fn renewal_with(vars: &[(&str, &str)]) -> secrethub_config::agent::LeaseRenewalConfig {
    let file = "lease_renewal {\n  renew_at     = 0.2\n  max_attempts = 2\n}\n";
    let mut config = secrethub_config::parse_agent(file, Path::new("/etc")).expect("valid");
    let env = AgentEnv::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    })
    .expect("valid variables");
    env.apply(&mut config.lease_renewal);
    config.lease_renewal
}

#[tokio::test(start_paused = true)]
async fn lease_renewal_threshold_moves_the_renewal() {
    // The file alone: renew when a fifth is left, 24 s into a 30 s lease.
    let script = Arc::new(Script::new(secs(30.0)));
    let (file_keeper, _stop) = keeper(&script, renewal_with(&[]));
    let start = Instant::now();
    lease_of(&file_keeper, "database/creds/file").await;
    script.until_renewals(1).await;
    assert_at(
        start,
        script.renewals()[0].at,
        secs(24.0),
        "file's renew_at",
    );

    // LEASE_RENEWAL_THRESHOLD=0.33 (the guide's value): a third left, 20.1 s in.
    let script = Arc::new(Script::new(secs(30.0)));
    let policy = renewal_with(&[("LEASE_RENEWAL_THRESHOLD", "0.33")]);
    let (env_keeper, _stop_env) = keeper(&script, policy);
    let start = Instant::now();
    lease_of(&env_keeper, "database/creds/env").await;
    script.until_renewals(2).await;
    let renewals = script.renewals();
    assert_at(start, renewals[0].at, secs(20.1), "first renewal");
    assert_at(start, renewals[1].at, secs(40.2), "second renewal");
}

#[tokio::test(start_paused = true)]
async fn lease_renewal_retries_sets_the_attempts_before_a_replacement() {
    let script = Arc::new(Script::new(secs(120.0)));
    let policy = renewal_with(&[("LEASE_RENEWAL_RETRIES", "4")]);
    assert_eq!(policy.renew_at, 0.2, "the file's threshold stays");
    let (held, _stop) = keeper(&script, policy);
    let mut rotations = held.subscribe();
    lease_of(&held, "database/creds/retries").await;
    script.fail_renewals(true);
    let (rotation, _) = next_rotation(&mut rotations).await;
    assert_eq!(rotation.reason, RotationReason::RenewalFailed);
    assert_eq!(
        script.renewals().len(),
        4,
        "four attempts, not the file's two"
    );
}
