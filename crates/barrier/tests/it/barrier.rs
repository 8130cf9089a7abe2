//! The barrier as a `Storage`: conformance, refusal while sealed, encryption at rest,
//! path binding and the reserved keys.

use std::sync::Arc;

use secrethub_barrier::{Barrier, RootKey, KEYRING_PATH, SEAL_CONFIG_PATH};
use secrethub_storage::{list_children, MemoryStorage, Storage, StorageErrorKind, WriteOp};

use crate::unsealed;

#[tokio::test]
async fn conformance() {
    let (_physical, barrier, _root) = unsealed().await;
    secrethub_storage::testsuite::run(barrier.as_ref()).await;
}

#[tokio::test]
async fn conformance_through_a_view() {
    let (_physical, barrier, _root) = unsealed().await;
    secrethub_storage::testsuite::run(&barrier.view("logical/mount-a/")).await;
}

#[tokio::test]
async fn sealed_barrier_refuses_everything() {
    let physical = Arc::new(MemoryStorage::new());
    let barrier = Barrier::new(physical.clone());
    assert!(barrier.is_sealed());
    let root = RootKey::generate();
    barrier.initialize(&root).await.expect("initialize");
    assert!(barrier.is_sealed(), "initialize leaves the barrier sealed");

    let sealed = |r: Result<(), secrethub_storage::StorageError>| {
        assert_eq!(r.expect_err("sealed").kind, StorageErrorKind::Sealed);
    };
    sealed(barrier.get("a").await.map(|_| ()));
    sealed(barrier.put("a", b"x").await);
    sealed(barrier.delete("a").await);
    sealed(barrier.list("", None, 10).await.map(|_| ()));
    sealed(
        barrier
            .apply(vec![WriteOp::Put {
                key: "a".into(),
                value: b"x".to_vec(),
            }])
            .await,
    );
    assert!(barrier.key_status().is_err());
    assert!(barrier.rotate().await.is_err());
    assert!(
        physical.get("a").await.expect("get").is_none(),
        "nothing written"
    );

    barrier.unseal(&root).await.expect("unseal");
    barrier.put("a", b"x").await.expect("put");
    barrier.seal();
    assert!(barrier.is_sealed());
    sealed(barrier.get("a").await.map(|_| ()));
}

#[tokio::test]
async fn ciphertext_does_not_contain_plaintext() {
    let (physical, barrier, _root) = unsealed().await;
    let secret = b"correct horse battery staple";
    barrier.put("secret/app", secret).await.expect("put");
    barrier
        .apply(vec![WriteOp::Put {
            key: "secret/batch".into(),
            value: secret.to_vec(),
        }])
        .await
        .expect("apply");
    for key in ["secret/app", "secret/batch"] {
        let raw = physical.get(key).await.expect("get").expect("stored");
        assert!(
            !raw.windows(secret.len()).any(|w| w == secret),
            "{key} stored in plain text"
        );
        assert_eq!(raw.len(), 1 + 4 + 12 + secret.len() + 16);
        assert_eq!(raw[0], 1, "envelope version");
    }
    // Same value twice: different ciphertexts (fresh nonce).
    barrier.put("secret/app2", secret).await.expect("put");
    let a = physical.get("secret/app").await.expect("get");
    let b = physical.get("secret/app2").await.expect("get");
    assert_ne!(a, b);
}

#[tokio::test]
async fn swapped_ciphertexts_fail_to_decrypt() {
    let (physical, barrier, _root) = unsealed().await;
    barrier.put("users/alice", b"alice-pw").await.expect("put");
    barrier.put("users/bob", b"bob-pw").await.expect("put");
    let alice = physical.get("users/alice").await.expect("get").expect("a");
    let bob = physical.get("users/bob").await.expect("get").expect("b");
    physical.put("users/alice", &bob).await.expect("swap");
    physical.put("users/bob", &alice).await.expect("swap");
    for key in ["users/alice", "users/bob"] {
        let err = barrier.get(key).await.expect_err("moved ciphertext");
        assert_eq!(err.kind, StorageErrorKind::Corrupt);
        assert!(err.to_string().contains(key), "error names the key: {err}");
        assert!(!err.to_string().contains("pw"), "error shows no content");
    }
}

#[tokio::test]
async fn tampered_and_plain_values_are_corrupt() {
    let (physical, barrier, _root) = unsealed().await;
    barrier.put("t/a", b"value").await.expect("put");
    let mut raw = physical.get("t/a").await.expect("get").expect("stored");
    let last = raw.len() - 1;
    raw[last] ^= 0x80;
    physical.put("t/a", &raw).await.expect("tamper");
    physical
        .put("t/plain", b"written below the barrier")
        .await
        .expect("put");
    physical.put("t/empty", b"").await.expect("put");
    for key in ["t/a", "t/plain", "t/empty"] {
        let err = barrier.get(key).await.expect_err(key);
        assert_eq!(err.kind, StorageErrorKind::Corrupt, "{key}");
    }
}

#[tokio::test]
async fn reserved_keys_are_unreachable() {
    let (physical, barrier, _root) = unsealed().await;
    physical
        .put(SEAL_CONFIG_PATH, b"{\"secret_shares\":1}")
        .await
        .expect("core writes the seal config itself");
    let keyring_before = physical.get(KEYRING_PATH).await.expect("get");
    for key in [KEYRING_PATH, SEAL_CONFIG_PATH, "core/seal-config/recovery"] {
        assert_eq!(
            barrier.get(key).await.expect_err(key).kind,
            StorageErrorKind::InvalidKey
        );
        assert!(barrier.put(key, b"x").await.is_err(), "{key}");
        assert!(barrier.delete(key).await.is_err(), "{key}");
        let batch = vec![WriteOp::Delete { key: key.into() }];
        assert!(barrier.apply(batch).await.is_err(), "{key}");
    }
    assert_eq!(
        physical.get(KEYRING_PATH).await.expect("get"),
        keyring_before
    );

    // Other core/ keys go through the barrier, and listings hide the reserved ones.
    barrier.put("core/mounts", b"[]").await.expect("put");
    assert_eq!(
        barrier.list("core/", None, 10).await.expect("list"),
        ["mounts"]
    );
    assert_eq!(
        list_children(barrier.as_ref(), "").await.expect("children"),
        ["core/"]
    );
    assert!(barrier
        .list("core/", None, 1)
        .await
        .expect("list")
        .contains(&"mounts".to_string()));
}

#[tokio::test]
async fn list_pages_past_hidden_keys() {
    let (physical, barrier, _root) = unsealed().await;
    // "core/keyring" sorts between these, so pages of one must skip it and keep going.
    for key in ["core/a", "core/k", "core/z"] {
        barrier.put(key, b"x").await.expect("put");
    }
    physical.put(SEAL_CONFIG_PATH, b"{}").await.expect("put");
    let mut seen = Vec::new();
    loop {
        let page = barrier
            .list("core/", seen.last().map(String::as_str), 1)
            .await
            .expect("list");
        if page.is_empty() {
            break;
        }
        assert_eq!(page.len(), 1);
        seen.extend(page);
    }
    assert_eq!(seen, ["a", "k", "z"]);
    assert!(barrier
        .list("core/", None, 0)
        .await
        .expect("list")
        .is_empty());
}
