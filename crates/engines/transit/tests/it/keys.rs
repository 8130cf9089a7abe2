//! Keys: creation and Vault's read shape, listing, deletion, config rules, rotation, trim,
//! auto-rotation through `on_timer`, export, backup and restore.

use secrethub_engine::{EngineError, Operation, TimerOutcome};
use serde_json::{json, Value};

use crate::harness::{mount, mount_with};

fn sorted_keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

#[tokio::test]
async fn a_created_key_reads_back_in_vaults_shape() {
    let m = mount();
    let created = m.write("keys/k", json!({})).await;
    let read = m.read("keys/k").await;
    assert_eq!(created, read);
    expect_test::expect![[r#"
        [
            "allow_plaintext_backup",
            "auto_rotate_period",
            "deletion_allowed",
            "derived",
            "exportable",
            "imported_key",
            "keys",
            "latest_version",
            "min_available_version",
            "min_decryption_version",
            "min_encryption_version",
            "name",
            "soft_deleted",
            "supports_decryption",
            "supports_derivation",
            "supports_encryption",
            "supports_signing",
            "type",
        ]
    "#]]
    .assert_debug_eq(&sorted_keys(&read));
    assert_eq!(read["type"], "aes256-gcm96");
    assert_eq!(read["latest_version"], 1);
    assert!(read["keys"]["1"].as_i64().unwrap() > 1_700_000_000);

    let signing = m.write("keys/s", json!({"type": "ecdsa-p256"})).await;
    let v1 = &signing["keys"]["1"];
    assert_eq!(v1["name"], "P-256");
    assert!(v1["public_key"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE"));
    assert_eq!(signing["supports_signing"], true);
    assert_eq!(signing["supports_encryption"], false);

    let derived = m
        .write(
            "keys/d",
            json!({"derived": true, "convergent_encryption": true}),
        )
        .await;
    assert_eq!(derived["kdf"], "hkdf_sha256");
    assert_eq!(derived["convergent_encryption"], true);
}

#[tokio::test]
async fn unknown_and_unsupported_types_are_refused() {
    let m = mount();
    assert_eq!(
        m.refused("keys/a", json!({"type": "foo"})).await,
        "unknown key type foo"
    );
    assert_eq!(
        m.refused("keys/a", json!({"type": "ecdsa-p521"})).await,
        "key type ecdsa-p521 is not supported yet"
    );
    assert_eq!(
        m.refused("keys/a", json!({"convergent_encryption": true}))
            .await,
        "convergent encryption requires derivation to be enabled, so context is required"
    );
    assert!(matches!(
        m.call(Operation::Read, "keys/a", json!({})).await,
        Err(EngineError::NotFound)
    ));
}

#[tokio::test]
async fn list_and_delete_only_with_deletion_allowed() {
    let m = mount();
    m.write("keys/b", json!({})).await;
    m.write("keys/a", json!({})).await;
    assert_eq!(
        m.call(Operation::List, "keys", json!({}))
            .await
            .unwrap()
            .data
            .unwrap()["keys"],
        json!(["a", "b"])
    );
    assert_eq!(
        match m.call(Operation::Delete, "keys/a", json!({})).await {
            Err(EngineError::BadRequest(msg)) => msg,
            _ => panic!("deleting a protected key must be a 400"),
        },
        "error deleting policy a: deletion is not allowed for this key"
    );
    m.write("keys/a/config", json!({"deletion_allowed": true}))
        .await;
    m.call(Operation::Delete, "keys/a", json!({}))
        .await
        .unwrap();
    assert!(matches!(
        m.call(Operation::Read, "keys/a", json!({})).await,
        Err(EngineError::NotFound)
    ));
    assert_eq!(
        m.call(Operation::List, "keys", json!({}))
            .await
            .unwrap()
            .data
            .unwrap()["keys"],
        json!(["b"])
    );
}

#[tokio::test]
async fn config_rules_and_trim() {
    let m = mount();
    m.write("keys/k", json!({"exportable": true})).await;
    m.write("keys/k/rotate", json!({})).await;
    let k = m.write("keys/k/rotate", json!({})).await;
    assert_eq!(k["latest_version"], 3);
    assert_eq!(
        m.refused("keys/k/config", json!({"min_decryption_version": 4}))
            .await,
        "cannot set min decryption version of 4, latest key version is 3"
    );
    assert_eq!(
        m.refused("keys/k/config", json!({"exportable": false}))
            .await,
        "export cannot be disabled on a key that has it enabled"
    );
    assert_eq!(
        m.refused("keys/k/trim", json!({"min_available_version": 2}))
            .await,
        "minimum available version cannot be set when minimum encryption version is not set"
    );
    m.write(
        "keys/k/config",
        json!({"min_decryption_version": 2, "min_encryption_version": 3}),
    )
    .await;
    assert_eq!(
        m.refused("keys/k/trim", json!({"min_available_version": 3}))
            .await,
        "minimum available version should not be greater than minimum decryption version"
    );
    let trimmed = m
        .write("keys/k/trim", json!({"min_available_version": 2}))
        .await;
    assert_eq!(sorted_keys(&trimmed["keys"]), ["2", "3"]);
    assert_eq!(trimmed["min_available_version"], 2);
    assert_eq!(
        m.refused("keys/k/config", json!({"auto_rotate_period": "10m"}))
            .await,
        "auto rotate period must be 0 to disable or at least an hour"
    );
}

#[tokio::test]
async fn auto_rotation_runs_from_the_timer_when_the_record_says_it_is_due() {
    let m = mount();
    let k = m.write("keys/r", json!({"auto_rotate_period": "2h"})).await;
    assert_eq!(k["auto_rotate_period"], 7200);
    let created = k["keys"]["1"].as_i64().unwrap();
    assert_eq!(m.timers.due("keys/r/rotate"), Some(created + 7200));

    // Early: nothing happens, the timer is set again for the due time.
    let outcome = m
        .engine
        .on_timer("keys/r/rotate", &m.storage)
        .await
        .unwrap();
    assert_eq!(
        outcome,
        TimerOutcome::NotDue {
            next: Some(created + 7200)
        }
    );

    // The latest version made three hours ago: due now.
    let mut stored: Value = m.storage.get_json("policy/r").await.unwrap().unwrap();
    let nanos = stored["versions"]["1"]["created_nanos"].as_i64().unwrap();
    stored["versions"]["1"]["created_nanos"] = json!(nanos - 3 * 3600 * 1_000_000_000);
    m.storage.put_json("policy/r", &stored).await.unwrap();
    // The engine keeps decoded keys: a new instance reads the edited record.
    let m = m.restarted();
    let outcome = m
        .engine
        .on_timer("keys/r/rotate", &m.storage)
        .await
        .unwrap();
    let TimerOutcome::Ran { next: Some(next) } = outcome else {
        panic!("a due key must rotate: {outcome:?}");
    };
    let k = m.read("keys/r").await;
    assert_eq!(k["latest_version"], 2);
    assert_eq!(next, k["keys"]["2"].as_i64().unwrap() + 7200);

    // Turned off, or gone: the timer is dropped.
    m.write("keys/r/config", json!({"auto_rotate_period": 0}))
        .await;
    assert_eq!(m.timers.due("keys/r/rotate"), None);
    let outcome = m
        .engine
        .on_timer("keys/r/rotate", &m.storage)
        .await
        .unwrap();
    assert_eq!(outcome, TimerOutcome::NotDue { next: None });
    let outcome = m
        .engine
        .on_timer("keys/gone/rotate", &m.storage)
        .await
        .unwrap();
    assert_eq!(outcome, TimerOutcome::NotDue { next: None });
}

#[tokio::test]
async fn the_mount_option_lowers_the_auto_rotate_floor() {
    let m = mount_with(&[("min_auto_rotate_period", "1s")]);
    let k = m.write("keys/r", json!({"auto_rotate_period": "2s"})).await;
    assert_eq!(k["auto_rotate_period"], 2);
}

#[tokio::test]
async fn concurrent_rotations_lose_no_version() {
    let m = std::sync::Arc::new(mount());
    m.write("keys/c", json!({})).await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let m = m.clone();
        tasks.push(tokio::spawn(async move {
            m.write("keys/c/rotate", json!({})).await
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(m.read("keys/c").await["latest_version"], 21);
}

#[tokio::test]
async fn export_backup_and_restore() {
    let m = mount();
    m.write("keys/plain", json!({})).await;
    let refused = |r: Result<secrethub_engine::Response, EngineError>| match r {
        Err(EngineError::BadRequest(msg)) => msg,
        _ => panic!("expected a 400"),
    };
    assert_eq!(
        refused(
            m.call(Operation::Read, "export/encryption-key/plain", json!({}))
                .await
        ),
        "private key material is not exportable"
    );
    assert_eq!(
        refused(m.call(Operation::Read, "backup/plain", json!({})).await),
        "exporting is disallowed on the policy"
    );

    m.write(
        "keys/x",
        json!({"exportable": true, "allow_plaintext_backup": true}),
    )
    .await;
    let ct = m.encrypt("x", b"kept across restore").await;
    let exported = m.read("export/encryption-key/x/latest").await;
    assert_eq!(exported["name"], "x");
    assert_eq!(
        crate::harness::unb64(exported["keys"]["1"].as_str().unwrap()).len(),
        32
    );
    let hmac = m.read("export/hmac-key/x").await;
    assert_ne!(hmac["keys"]["1"], exported["keys"]["1"]);
    assert_eq!(
        refused(
            m.call(Operation::Read, "export/signing-key/x", json!({}))
                .await
        ),
        "signing not supported for the key"
    );

    let backup = m.read("backup/x").await["backup"]
        .as_str()
        .unwrap()
        .to_string();
    m.write("restore/y", json!({"backup": backup})).await;
    assert_eq!(m.decrypt("y", &ct).await, b"kept across restore");
    assert_eq!(
        m.refused("restore", json!({"backup": backup})).await,
        "key \"x\" already exists"
    );
    m.write("restore", json!({"backup": backup, "force": true}))
        .await;
    assert_eq!(
        m.refused("restore", json!({"backup": "bm90IGEgYmFja3Vw"}))
            .await,
        "the backup is not a transit key backup of this server"
    );
    let deep = crate::harness::b64("[".repeat(100_000).as_bytes());
    assert_eq!(
        m.refused("restore", json!({"backup": deep})).await,
        "the backup is not a transit key backup of this server"
    );

    m.write("keys/e", json!({"type": "ed25519", "exportable": true}))
        .await;
    let pair = m.read("export/signing-key/e").await;
    let public = m.read("export/public-key/e").await;
    let private = crate::harness::unb64(pair["keys"]["1"].as_str().unwrap());
    assert_eq!(private.len(), 64);
    assert_eq!(
        crate::harness::b64(&private[32..]),
        public["keys"]["1"].as_str().unwrap()
    );
}

/// The engine keeps decoded keys in memory: every change made through the API is what the
/// next operation uses (rotation, config, deletion and re-creation).
#[tokio::test]
async fn the_key_cache_follows_every_change() {
    let m = mount();
    m.write("keys/c", json!({})).await;
    let v1 = m.encrypt("c", b"one").await;
    assert!(v1.starts_with("vault:v1:"), "{v1}");
    m.write("keys/c/rotate", json!({})).await;
    let v2 = m.encrypt("c", b"two").await;
    assert!(v2.starts_with("vault:v2:"), "{v2}");
    assert_eq!(m.decrypt("c", &v1).await, b"one");

    m.write("keys/c/config", json!({"min_decryption_version": 2}))
        .await;
    let refused = m.refused("decrypt/c", json!({"ciphertext": v1})).await;
    assert!(
        refused.contains("disallowed by policy (too old)"),
        "{refused}"
    );

    m.write("keys/c/config", json!({"deletion_allowed": true}))
        .await;
    m.call(Operation::Delete, "keys/c", json!({}))
        .await
        .unwrap();
    // Gone for an update; a create (what core sends when the key does not exist) makes a
    // new key, Vault's upsert.
    let refused = m
        .refused("encrypt/c", json!({"plaintext": "dGhyZWU="}))
        .await;
    assert!(refused.contains("not found"), "{refused}");
    let fresh = m
        .call(
            Operation::Create,
            "encrypt/c",
            json!({"plaintext": "dGhyZWU="}),
        )
        .await
        .unwrap()
        .data
        .unwrap();
    let fresh = fresh["ciphertext"].as_str().unwrap();
    assert!(fresh.starts_with("vault:v1:"), "{fresh}");
    let refused = m.refused("decrypt/c", json!({"ciphertext": v2})).await;
    assert!(!refused.is_empty());
}
