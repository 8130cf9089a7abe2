//! The lease keeper against a scripted provider, on tokio's paused clock: when renewals
//! happen, how failures are retried, when a lease at its max TTL or a non-renewable one is
//! replaced, that concurrent fetches share a lease, and `rotate_all` / `revoke_all`.
//! The `on_failed` test runs a real `sh -c` and so runs on the real clock with millisecond
//! timings (a paused clock would jump ahead while the process runs).

use std::sync::Arc;
use std::time::Duration;

use secrethub_agent::render::SecretSource;
use secrethub_agent::renewer::{Rotation, RotationReason};
use secrethub_config::agent::LeaseRenewalConfig;
use tokio::time::Instant;

use crate::renewer_script::*;

#[tokio::test(start_paused = true)]
async fn a_lease_is_renewed_when_a_third_is_left_again_and_again() {
    let script = Arc::new(Script::new(secs(30.0)));
    let (keeper, _stop) = keeper(&script, LeaseRenewalConfig::default());
    let start = Instant::now();
    let lease = lease_of(&keeper, "database/creds/third").await;

    script.until_renewals(3).await;
    let renewals = script.renewals();
    // The default renew_at is 0.33: 30 s × 0.67 = 20.1 s after each grant.
    for (n, renewal) in renewals.iter().enumerate() {
        assert_eq!(renewal.lease_id, lease);
        assert_eq!(
            renewal.increment,
            secs(30.0),
            "asks for the lease's duration"
        );
        assert_at(
            start,
            renewal.at,
            secs(20.1 * (n + 1) as f64),
            &format!("renewal {}", n + 1),
        );
    }
    assert_eq!(script.reads().len(), 1, "renewed, never replaced");
    assert_eq!(lease_of(&keeper, "database/creds/third").await, lease);
}

#[tokio::test(start_paused = true)]
async fn renew_at_one_half_renews_at_half_the_lease() {
    let script = Arc::new(Script::new(secs(30.0)));
    let policy = LeaseRenewalConfig {
        renew_at: 0.5,
        ..LeaseRenewalConfig::default()
    };
    let (keeper, _stop) = keeper(&script, policy);
    let start = Instant::now();
    lease_of(&keeper, "database/creds/half").await;

    script.until_renewals(3).await;
    let at: Vec<_> = script.renewals().iter().map(|r| r.at).collect();
    for (n, at) in at.iter().enumerate() {
        assert_at(
            start,
            *at,
            secs(15.0 * (n + 1) as f64),
            &format!("renewal {}", n + 1),
        );
    }
}

#[tokio::test(start_paused = true)]
async fn failed_renewals_back_off_then_a_fresh_secret_replaces_the_lease() {
    // 120 s, so the retries (80.4 s + 1 + 2 + 4 + 8) all fit before the lease ends.
    let script = Arc::new(Script::new(secs(120.0)));
    let (keeper, _stop) = keeper(&script, LeaseRenewalConfig::default());
    let mut rotations = keeper.subscribe();
    let start = Instant::now();
    let old = lease_of(&keeper, "database/creds/fails").await;
    script.fail_renewals(true);

    let (rotation, rotated_at) = next_rotation(&mut rotations).await;
    assert_eq!(
        rotation,
        Rotation {
            key: key("database/creds/fails"),
            reason: RotationReason::RenewalFailed
        }
    );
    let renewals = script.renewals();
    assert_eq!(renewals.len(), 5, "max_attempts 5: five attempts in all");
    let first = 120.0 * 0.67;
    let mut expected = first;
    for (n, (renewal, pause)) in renewals.iter().zip([1.0, 2.0, 4.0, 8.0, 0.0]).enumerate() {
        assert_eq!(renewal.lease_id, old);
        assert!(!renewal.granted);
        assert_at(
            start,
            renewal.at,
            secs(expected),
            &format!("attempt {}", n + 1),
        );
        expected += pause;
    }
    let reads = script.reads();
    assert_eq!(reads.len(), 2, "one fresh read");
    assert_at(start, reads[1].at, secs(first + 15.0), "the fresh read");
    assert_eq!(rotated_at, reads[1].at);
    let new = lease_of(&keeper, "database/creds/fails").await;
    assert_eq!(new, reads[1].lease_id);
    assert_ne!(new, old);

    // The new lease is renewed on its own schedule once the server answers again.
    script.fail_renewals(false);
    script.until_renewals(6).await;
    let sixth = &script.renewals()[5];
    assert_eq!(
        (sixth.lease_id.as_str(), sixth.granted),
        (new.as_str(), true)
    );
    assert_at(
        reads[1].at,
        sixth.at,
        secs(first),
        "the new lease's renewal",
    );
}

#[tokio::test(start_paused = true)]
async fn retry_pauses_are_capped_at_backoff_max() {
    let script = Arc::new(Script::new(secs(300.0)));
    let policy = LeaseRenewalConfig {
        max_attempts: 6,
        backoff_max: secs(5.0),
        ..LeaseRenewalConfig::default()
    };
    let (keeper, _stop) = keeper(&script, policy);
    let mut rotations = keeper.subscribe();
    lease_of(&keeper, "database/creds/capped").await;
    script.fail_renewals(true);
    next_rotation(&mut rotations).await;

    let at: Vec<_> = script.renewals().iter().map(|r| r.at).collect();
    let pauses: Vec<_> = at.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(
        pauses,
        [1.0, 2.0, 4.0, 5.0, 5.0].map(secs),
        "1 s doubling, capped at 5 s"
    );
}

#[tokio::test(start_paused = true)]
async fn retries_give_up_in_time_to_replace_the_lease_before_it_expires() {
    // The defaults with a 30 s lease: the first attempt comes at 20.1 s; retrying at 21.1,
    // 23.1, 27.1 and 35.1 s would outlive the lease (30 s), so the keeper must stop retrying
    // and fetch fresh credentials while the old ones still work.
    let script = Arc::new(Script::new(secs(30.0)));
    let (keeper, _stop) = keeper(&script, LeaseRenewalConfig::default());
    let mut rotations = keeper.subscribe();
    let start = Instant::now();
    lease_of(&keeper, "database/creds/short").await;
    script.fail_renewals(true);

    let (rotation, rotated_at) = next_rotation(&mut rotations).await;
    assert_eq!(rotation.reason, RotationReason::RenewalFailed);
    let expires = start + secs(30.0);
    assert!(
        rotated_at < expires,
        "fresh credentials {:?} after the fetch, the old lease ended at 30 s",
        rotated_at - start
    );
    assert!(
        script.renewals().iter().all(|r| r.at < expires),
        "no renewal of an expired lease"
    );
    // Fresh credentials are due at 25.05 s (30 s less half the 9.9 s left): the attempts at
    // 20.1, 21.1 and 23.1 s fit, the next (27.1 s) would not, so the keeper gives up at 23.1 s.
    assert_eq!(script.renewals().len(), 3);
    assert_at(start, rotated_at, secs(23.1), "the replacement");
}

#[tokio::test(start_paused = true)]
async fn a_capped_renewal_leads_to_a_fresh_secret_grace_before_the_end() {
    // Max TTL 50 s: the renewal at 20.1 s is granted 29.9 s (until 50 s), less than asked.
    // With grace 10 s (less than half the 29.9 s left), fresh credentials come at 40 s.
    let mut script = Script::new(secs(30.0));
    script.max_ttl = Some(secs(50.0));
    let script = Arc::new(script);
    let (keeper, _stop) = keeper(&script, LeaseRenewalConfig::default());
    let mut rotations = keeper.subscribe();
    let start = Instant::now();
    let old = lease_of(&keeper, "database/creds/maxttl").await;

    let (rotation, rotated_at) = next_rotation(&mut rotations).await;
    assert_eq!(
        rotation,
        Rotation {
            key: key("database/creds/maxttl"),
            reason: RotationReason::Expiring
        }
    );
    let renewals = script.renewals();
    assert_eq!(renewals.len(), 1, "no renewal after a capped one");
    assert_at(start, renewals[0].at, secs(20.1), "the renewal");
    let reads = script.reads();
    assert_eq!(reads.len(), 2);
    assert_at(start, reads[1].at, secs(40.0), "the fresh read");
    assert!(rotated_at < start + secs(50.0), "announced before the end");
    assert_ne!(lease_of(&keeper, "database/creds/maxttl").await, old);
}

#[tokio::test(start_paused = true)]
async fn a_grace_longer_than_half_the_time_left_replaces_at_half() {
    // As above with grace 20 s: half the 29.9 s left (14.95 s) is shorter, so 35.05 s.
    let mut script = Script::new(secs(30.0));
    script.max_ttl = Some(secs(50.0));
    let script = Arc::new(script);
    let policy = LeaseRenewalConfig {
        grace: secs(20.0),
        ..LeaseRenewalConfig::default()
    };
    let (keeper, _stop) = keeper(&script, policy);
    let mut rotations = keeper.subscribe();
    let start = Instant::now();
    lease_of(&keeper, "database/creds/halfgrace").await;

    let (_, rotated_at) = next_rotation(&mut rotations).await;
    let reads = script.reads();
    assert_eq!(reads.len(), 2);
    assert_at(start, reads[1].at, secs(35.05), "the fresh read");
    assert_eq!(rotated_at, reads[1].at);
}

#[tokio::test(start_paused = true)]
async fn a_non_renewable_lease_is_replaced_before_it_expires() {
    let mut script = Script::new(secs(30.0));
    script.renewable = false;
    let script = Arc::new(script);
    let (keeper, _stop) = keeper(&script, LeaseRenewalConfig::default());
    let mut rotations = keeper.subscribe();
    let start = Instant::now();
    let old = lease_of(&keeper, "database/creds/fixed").await;

    let (rotation, rotated_at) = next_rotation(&mut rotations).await;
    assert_eq!(rotation.reason, RotationReason::Expiring);
    // Grace 10 s before the end (half of the 30 s is longer).
    assert_at(start, rotated_at, secs(20.0), "the replacement");
    assert!(script.renewals().is_empty(), "never renewed");
    let new = lease_of(&keeper, "database/creds/fixed").await;
    assert_ne!(new, old);
    // And the replacement is replaced in turn.
    let (_, again) = next_rotation(&mut rotations).await;
    assert_at(rotated_at, again, secs(20.0), "the second replacement");
}

#[tokio::test(start_paused = true)]
async fn concurrent_fetches_of_one_path_share_one_lease() {
    let mut script = Script::new(secs(3600.0));
    script.read_delay = secs(1.0);
    let script = Arc::new(script);
    let (keeper, _stop) = keeper(&script, LeaseRenewalConfig::default());
    let (a, b) = tokio::join!(
        keeper.fetch(None, "database/creds/shared"),
        keeper.fetch(None, "database/creds/shared")
    );
    let (a, b) = (a.expect("first"), b.expect("second"));
    assert_eq!(script.reads().len(), 1, "one lease created");
    assert_eq!(a.secret.lease, b.secret.lease);
    assert_eq!(
        a.secret.fields["username"].expose(),
        b.secret.fields["username"].expose()
    );
    assert_eq!(keeper.leases().await.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn rotate_all_replaces_every_held_secret() {
    let script = Arc::new(Script::new(secs(3600.0)));
    let (keeper, _stop) = keeper(&script, LeaseRenewalConfig::default());
    let old_a = lease_of(&keeper, "database/creds/a").await;
    let old_b = lease_of(&keeper, "database/creds/b").await;
    let mut rotations = keeper.subscribe();

    keeper.rotate_all(RotationReason::NewToken).await;
    let mut rotated = vec![
        rotations.try_recv().expect("first rotation"),
        rotations.try_recv().expect("second rotation"),
    ];
    rotated.sort_by(|x, y| x.key.path.cmp(&y.key.path));
    assert_eq!(
        rotated,
        vec![
            Rotation {
                key: key("database/creds/a"),
                reason: RotationReason::NewToken
            },
            Rotation {
                key: key("database/creds/b"),
                reason: RotationReason::NewToken
            },
        ]
    );
    let new_a = lease_of(&keeper, "database/creds/a").await;
    let new_b = lease_of(&keeper, "database/creds/b").await;
    assert!(new_a != old_a && new_b != old_b);
    assert_eq!(script.reads().len(), 4);
    let mut held: Vec<_> = keeper
        .leases()
        .await
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    held.sort();
    assert_eq!(held, vec![new_a, new_b]);
}

#[tokio::test(start_paused = true)]
async fn revoke_all_revokes_each_held_lease_once_and_stops_renewing() {
    let script = Arc::new(Script::new(secs(30.0)));
    let (keeper, _stop) = keeper(&script, LeaseRenewalConfig::default());
    let a = lease_of(&keeper, "database/creds/ra").await;
    let b = lease_of(&keeper, "database/creds/rb").await;
    script.state().revoke_fails.push(b.clone());
    // Let both be renewed once, so revoke_all meets live renewal tasks.
    script.until_renewals(2).await;

    assert_eq!(keeper.revoke_all().await, 1, "one revocation failed");
    let mut revoked = script.revoked();
    revoked.sort();
    assert_eq!(revoked, vec![a, b], "each held lease once");
    assert!(keeper.leases().await.is_empty());

    let renewals = script.renewals().len();
    tokio::time::sleep(secs(600.0)).await;
    assert_eq!(
        script.renewals().len(),
        renewals,
        "no renewal after revoke_all"
    );
    assert_eq!(script.reads().len(), 2, "nothing replaced either");
}

/// `on_failed` runs a real process, so this test runs on the real clock: a 600 ms lease,
/// renewal at 0.5 (300 ms), retries after 10, 20 and 40 ms.
#[tokio::test]
async fn on_failed_runs_with_the_lease_id_and_path_then_a_fresh_secret_is_fetched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("failed");
    let script = Arc::new(Script::new(Duration::from_millis(600)));
    let policy = LeaseRenewalConfig {
        renew_at: 0.5,
        max_attempts: 4,
        backoff_initial: Duration::from_millis(10),
        backoff_max: Duration::from_millis(100),
        grace: Duration::from_millis(100),
        on_failed: Some(format!(
            "printf '%s %s' \"$SECRETHUB_LEASE_ID\" \"$SECRETHUB_LEASE_PATH\" > '{}'",
            out.display()
        )),
    };
    let (keeper, stop) = keeper(&script, policy);
    let mut rotations = keeper.subscribe();
    let old = lease_of(&keeper, "database/creds/onfail").await;
    script.fail_renewals(true);

    let rotation = tokio::time::timeout(Duration::from_secs(20), rotations.recv())
        .await
        .expect("a rotation within 20 s")
        .expect("rotations open");
    assert_eq!(rotation.reason, RotationReason::RenewalFailed);
    assert_eq!(script.renewals().len(), 4);
    // The command runs beside the replacement (a slow one must not delay it): wait for its
    // output, bounded.
    let expected = format!("{old} database/creds/onfail");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if std::fs::read_to_string(&out).ok().as_deref() == Some(expected.as_str()) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "on_failed never wrote {expected:?} to its file"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let new = lease_of(&keeper, "database/creds/onfail").await;
    assert_ne!(new, old);
    assert_eq!(new, script.reads()[1].lease_id);
    stop.cancel();
}

#[tokio::test(start_paused = true)]
async fn revoke_all_also_revokes_the_leases_that_were_replaced() {
    // `secrethub run`: a replaced lease may still be in the child's hands; at exit it goes too.
    let script = Arc::new(Script::new(secs(3600.0)));
    let (keeper, _stop) = keeper(&script, LeaseRenewalConfig::default());
    let old = lease_of(&keeper, "database/creds/x").await;
    keeper.rotate_all(RotationReason::NewToken).await;
    let new = lease_of(&keeper, "database/creds/x").await;
    assert_ne!(old, new);

    assert_eq!(keeper.revoke_all().await, 0);
    let mut revoked = script.revoked();
    revoked.sort();
    let mut expected = vec![old, new];
    expected.sort();
    assert_eq!(revoked, expected);
}

#[tokio::test(start_paused = true)]
async fn a_secret_that_is_gone_is_given_up_instead_of_retried_forever() {
    let script = Arc::new(Script::new(secs(3600.0)));
    let (keeper, _stop) = keeper(&script, LeaseRenewalConfig::default());
    lease_of(&keeper, "database/creds/gone").await;
    let mut rotations = keeper.subscribe();
    script.state().gone = true;

    // Returns (no endless retry loop) and tells the templates, which will report the error.
    keeper.rotate_all(RotationReason::NewToken).await;
    assert_eq!(
        rotations.try_recv().expect("a rotation").key,
        key("database/creds/gone")
    );
    assert!(
        keeper.leases().await.is_empty(),
        "the secret is no longer held"
    );
    let reads = script.reads().len();
    tokio::time::sleep(secs(600.0)).await;
    assert_eq!(script.reads().len(), reads, "no retries after giving up");
}

#[tokio::test(start_paused = true)]
async fn a_secret_no_template_reads_any_more_stops_being_renewed() {
    let script = Arc::new(Script::new(secs(30.0)));
    let (keeper, _stop) = keeper(&script, LeaseRenewalConfig::default());
    let (a, b) = (keeper.claimant(), keeper.claimant());
    let x = a
        .fetch(None, "database/creds/x")
        .await
        .expect("x")
        .secret
        .lease;
    let x = x.expect("leased").id;
    a.fetch(None, "database/creds/shared")
        .await
        .expect("shared");
    b.fetch(None, "database/creds/shared")
        .await
        .expect("shared");
    let direct = lease_of(&keeper, "database/creds/direct").await;
    let held = |keeper: &secrethub_agent::renewer::LeaseKeeper| {
        let keeper = keeper.clone();
        async move {
            let mut paths: Vec<String> = keeper
                .leases()
                .await
                .into_iter()
                .map(|(k, _)| k.path)
                .collect();
            paths.sort();
            paths
        }
    };

    // Template a was edited: it reads only the shared secret now.
    a.settle([key("database/creds/shared")]);
    assert_eq!(
        held(&keeper).await,
        ["database/creds/direct", "database/creds/shared"]
    );
    let renewals_of_x = || script.renewals().iter().filter(|r| r.lease_id == x).count();
    script.until_renewals(2).await;
    let before = renewals_of_x();
    tokio::time::sleep(secs(600.0)).await;
    assert_eq!(renewals_of_x(), before, "x is no longer renewed");
    assert_eq!(
        script
            .reads()
            .iter()
            .filter(|r| r.lease_id.starts_with("database/creds/x"))
            .count(),
        1,
        "nor replaced"
    );

    // The shared secret stays while b still reads it; direct fetches are never released.
    a.settle([]);
    assert_eq!(
        held(&keeper).await,
        ["database/creds/direct", "database/creds/shared"]
    );
    b.settle([]);
    assert_eq!(held(&keeper).await, ["database/creds/direct"]);
    // What was released is still revoked at the end, like a replaced lease.
    keeper.revoke_all().await;
    assert!(script.revoked().contains(&x));
    assert!(script.revoked().contains(&direct));
}

#[tokio::test(start_paused = true)]
async fn a_secret_released_while_its_replacement_is_read_stays_released() {
    let mut script = Script::new(secs(3600.0));
    script.read_delay = secs(1.0);
    let script = Arc::new(script);
    let (keeper, _stop) = keeper(&script, LeaseRenewalConfig::default());
    let a = keeper.claimant();
    let first = a.fetch(None, "database/creds/x").await.expect("x");
    let first = first.secret.lease.expect("leased").id;

    // A new token replaces every lease; half-way through the one-second read, the template
    // that read x is edited and settles without it (the paused clock orders the two exactly).
    let settle = async {
        tokio::time::sleep(secs(0.5)).await;
        a.settle([]);
    };
    tokio::join!(keeper.rotate_all(RotationReason::NewToken), settle);
    assert!(keeper.leases().await.is_empty(), "x stays released");
    assert_eq!(script.reads().len(), 2, "the replacement was read");
    let renewals = script.renewals().len();
    tokio::time::sleep(secs(7200.0)).await;
    assert_eq!(script.renewals().len(), renewals, "and is not renewed");
    keeper.revoke_all().await;
    let revoked = script.revoked();
    assert!(revoked.contains(&first), "{revoked:?}");
    assert_eq!(
        revoked.len(),
        2,
        "the replacement is revoked too: {revoked:?}"
    );
}
