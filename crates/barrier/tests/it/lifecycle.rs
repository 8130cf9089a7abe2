//! Init, unseal, seal, rotation and root rekey, and the keyring's persistence across
//! barrier instances sharing one physical store.

use std::sync::Arc;

use secrethub_barrier::{shamir, Barrier, BarrierError, RootKey, KEYRING_PATH};
use secrethub_storage::{MemoryStorage, Storage, StorageErrorKind};

use crate::{stored_term, unsealed};

#[tokio::test]
async fn init_and_unseal_preconditions() {
    let physical = Arc::new(MemoryStorage::new());
    let barrier = Barrier::new(physical.clone());
    let root = RootKey::generate();
    assert!(!barrier.is_initialized().await.expect("is_initialized"));
    assert!(matches!(
        barrier.unseal(&root).await,
        Err(BarrierError::NotInitialized)
    ));
    barrier.initialize(&root).await.expect("initialize");
    assert!(barrier.is_initialized().await.expect("is_initialized"));
    assert!(matches!(
        barrier.initialize(&RootKey::generate()).await,
        Err(BarrierError::AlreadyInitialized)
    ));
    // The failed second init left the first keyring in place.
    barrier
        .unseal(&root)
        .await
        .expect("unseal with the first key");
    let status = barrier.key_status().expect("status");
    assert_eq!(status.term, 1);
    assert!(status.install_time > 1_700_000_000);
    assert_eq!(status.encryptions, 0);
    assert!(format!("{barrier:?}").contains("sealed: false"));
}

#[tokio::test]
async fn wrong_root_key_changes_nothing() {
    let physical = Arc::new(MemoryStorage::new());
    let barrier = Barrier::new(physical.clone());
    let root = RootKey::generate();
    barrier.initialize(&root).await.expect("initialize");
    let keyring = physical.get(KEYRING_PATH).await.expect("get");

    let wrong = RootKey::generate();
    let err = barrier.unseal(&wrong).await.expect_err("wrong key");
    assert!(matches!(err, BarrierError::InvalidKey));
    assert_eq!(err.kind(), secrethub_common::ErrorKind::BadRequest);
    assert!(barrier.is_sealed(), "still sealed");

    barrier.unseal(&root).await.expect("unseal");
    barrier.put("k", b"v").await.expect("put");
    // A wrong key on an unsealed barrier is still an error and does not seal it.
    assert!(matches!(
        barrier.unseal(&wrong).await,
        Err(BarrierError::InvalidKey)
    ));
    assert!(!barrier.is_sealed());
    assert_eq!(
        barrier.get("k").await.expect("get").as_deref(),
        Some(&b"v"[..])
    );
    assert_eq!(physical.get(KEYRING_PATH).await.expect("get"), keyring);
}

#[tokio::test]
async fn seal_then_unseal_keeps_data() {
    let (_physical, barrier, root) = unsealed().await;
    barrier.put("app/db", b"s3cret").await.expect("put");
    barrier.seal();
    assert!(barrier.get("app/db").await.is_err());
    barrier.unseal(&root).await.expect("unseal");
    assert_eq!(
        barrier.get("app/db").await.expect("get").as_deref(),
        Some(&b"s3cret"[..])
    );
}

#[tokio::test]
async fn rotate_keeps_old_values_and_writes_with_new_term() {
    let (physical, barrier, root) = unsealed().await;
    barrier.put("old", b"written at term 1").await.expect("put");
    barrier.put("old2", b"x").await.expect("put");
    assert_eq!(barrier.key_status().expect("status").encryptions, 2);
    assert_eq!(stored_term(physical.as_ref(), "old").await, 1);

    let status = barrier.rotate().await.expect("rotate");
    assert_eq!(status.term, 2);
    assert_eq!(status.encryptions, 0);
    assert_eq!(barrier.key_status().expect("status"), status);

    barrier.put("new", b"written at term 2").await.expect("put");
    assert_eq!(stored_term(physical.as_ref(), "new").await, 2);
    assert_eq!(stored_term(physical.as_ref(), "old").await, 1);
    assert_eq!(
        barrier.get("old").await.expect("get").as_deref(),
        Some(&b"written at term 1"[..])
    );
    assert_eq!(barrier.key_status().expect("status").encryptions, 1);

    // The rotation was persisted: a reseal and unseal still reads both terms.
    barrier.rotate().await.expect("rotate again");
    barrier.seal();
    barrier.unseal(&root).await.expect("unseal");
    assert_eq!(barrier.key_status().expect("status").term, 3);
    for key in ["old", "new"] {
        assert!(barrier.get(key).await.expect("get").is_some(), "{key}");
    }
}

#[tokio::test]
async fn keyring_survives_a_new_barrier() {
    let (physical, barrier, root) = unsealed().await;
    barrier.put("a", b"1").await.expect("put");
    barrier.rotate().await.expect("rotate");
    barrier.put("b", b"2").await.expect("put");
    drop(barrier);

    let again = Barrier::new(physical.clone());
    assert!(again.is_sealed());
    assert!(again.is_initialized().await.expect("is_initialized"));
    again.unseal(&root).await.expect("unseal");
    assert_eq!(again.key_status().expect("status").term, 2);
    assert_eq!(
        again.get("a").await.expect("get").as_deref(),
        Some(&b"1"[..])
    );
    assert_eq!(
        again.get("b").await.expect("get").as_deref(),
        Some(&b"2"[..])
    );
}

#[tokio::test]
async fn other_node_sees_a_rotation() {
    // Two barriers over one store, as an active node and a standby sharing PostgreSQL.
    let (physical, active, root) = unsealed().await;
    let standby = Barrier::new(physical.clone());
    standby.unseal(&root).await.expect("unseal standby");
    active.rotate().await.expect("rotate");
    active.put("fresh", b"term 2 value").await.expect("put");
    assert_eq!(
        standby
            .get("fresh")
            .await
            .expect("standby reloads the keyring")
            .as_deref(),
        Some(&b"term 2 value"[..])
    );
    assert_eq!(standby.key_status().expect("status").term, 2);
    // The standby's own rotation starts from the stored keyring, so no term is lost.
    assert_eq!(standby.rotate().await.expect("rotate").term, 3);
    assert_eq!(
        active.get("fresh").await.expect("get").as_deref(),
        Some(&b"term 2 value"[..])
    );
}

#[tokio::test]
async fn unknown_older_term_is_corrupt() {
    let (physical, barrier, _root) = unsealed().await;
    barrier.put("k", b"v").await.expect("put");
    let mut raw = physical.get("k").await.expect("get").expect("stored");
    raw[1..5].copy_from_slice(&0u32.to_be_bytes());
    physical.put("k", &raw).await.expect("put");
    let err = barrier
        .get("k")
        .await
        .expect_err("term 0 is not a data term");
    assert_eq!(err.kind, StorageErrorKind::Corrupt);
    raw[1..5].copy_from_slice(&99u32.to_be_bytes());
    physical.put("k", &raw).await.expect("put");
    let err = barrier.get("k").await.expect_err("term 99 does not exist");
    assert_eq!(err.kind, StorageErrorKind::Corrupt);
}

#[tokio::test]
async fn concurrent_rotations_and_writes_stay_readable() {
    let (_physical, barrier, root) = unsealed().await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let b = barrier.clone();
        tasks.spawn(async move {
            b.rotate().await.expect("rotate");
            for j in 0..10 {
                b.put(&format!("c/{i}/{j}"), format!("{i}-{j}").as_bytes())
                    .await
                    .expect("put");
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("task");
    }
    assert_eq!(barrier.key_status().expect("status").term, 9);
    barrier.seal();
    barrier.unseal(&root).await.expect("unseal");
    for i in 0..8 {
        for j in 0..10 {
            let got = barrier.get(&format!("c/{i}/{j}")).await.expect("get");
            assert_eq!(got, Some(format!("{i}-{j}").into_bytes()));
        }
    }
}

#[tokio::test]
async fn rekey_root_replaces_the_root_key() {
    let (_physical, barrier, old_root) = unsealed().await;
    barrier.put("k", b"v").await.expect("put");
    let new_root = RootKey::generate();
    barrier.rekey_root(&new_root).await.expect("rekey");
    barrier.seal();
    assert!(matches!(
        barrier.unseal(&old_root).await,
        Err(BarrierError::InvalidKey)
    ));
    barrier
        .unseal(&new_root)
        .await
        .expect("unseal with new key");
    assert_eq!(
        barrier.get("k").await.expect("get").as_deref(),
        Some(&b"v"[..])
    );
    barrier.seal();
    assert!(matches!(
        barrier.rekey_root(&RootKey::generate()).await,
        Err(BarrierError::Sealed)
    ));
}

#[tokio::test]
async fn unseal_with_shamir_shares() {
    let physical = Arc::new(MemoryStorage::new());
    let barrier = Barrier::new(physical);
    let root = RootKey::generate();
    barrier.initialize(&root).await.expect("initialize");
    let shares = shamir::split(root.as_bytes(), 5, 3).expect("split");

    let two = shamir::combine(&[&shares[0][..], &shares[3][..]]).expect("combine");
    // Two shares of 32 bytes rebuild 32 wrong bytes: a valid-looking key that fails.
    let wrong = RootKey::from_bytes(&two).expect("32 bytes");
    assert!(matches!(
        barrier.unseal(&wrong).await,
        Err(BarrierError::InvalidKey)
    ));

    let three =
        shamir::combine(&[&shares[4][..], &shares[1][..], &shares[2][..]]).expect("combine");
    barrier
        .unseal(&RootKey::from_bytes(&three).expect("32 bytes"))
        .await
        .expect("unseal");
    assert!(!barrier.is_sealed());
}
