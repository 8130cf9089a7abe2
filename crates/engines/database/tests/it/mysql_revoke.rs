//! Revocation by the MySQL plugin against the machine's MariaDB 10.11 (see `mysql.rs` for the
//! test places): a caller's revocation, core's batches and the lease scheduler's lock-first
//! batches drop the user and end its open sessions; Vault's own revocation statements are
//! idempotent.

use serde_json::json;

use crate::mysql::{code, connect, still_open, user_exists, users_with_prefix, MyServer};

#[tokio::test]
async fn revocation_ends_open_sessions() {
    let s = MyServer::create().await;
    let mount = s
        .mount(json!({"creation_statements": s.select_only()}))
        .await;
    let creds = mount.creds(&s.role).await;
    let mut open1 = connect(&creds.username, &creds.password, None)
        .await
        .unwrap();
    let mut open2 = connect(&creds.username, &creds.password, Some(&s.db))
        .await
        .unwrap();
    assert!(still_open(&mut open1).await && still_open(&mut open2).await);

    mount.revoke(&creds.internal).await.unwrap();
    assert!(!user_exists(&creds.username).await);
    let e = connect(&creds.username, &creds.password, None)
        .await
        .unwrap_err();
    assert!(matches!(code(&e), 1045 | 1698), "{e}");
    assert!(
        !still_open(&mut open1).await,
        "a session outlived the revocation"
    );
    assert!(
        !still_open(&mut open2).await,
        "a session outlived the revocation"
    );
    // Revoking again (core retrying, say) is success.
    mount.revoke(&creds.internal).await.unwrap();
}

/// revoke-prefix and a mount being disabled revoke in batches (`Engine::revoke_batch`, one
/// `DROP USER` for all): their sessions end too.
#[tokio::test]
async fn batch_revocation_ends_open_sessions() {
    let s = MyServer::create().await;
    let mount = s
        .mount(json!({"creation_statements": s.select_only()}))
        .await;
    let mut leases = Vec::new();
    let mut sessions = Vec::new();
    for _ in 0..3 {
        let c = mount.creds(&s.role).await;
        sessions.push(connect(&c.username, &c.password, None).await.unwrap());
        leases.push(mount.lease(&c.internal, true, 0));
    }
    let results = mount.engine.revoke_batch(&leases, &mount.storage).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert!(users_with_prefix(&s.prefix()).await.is_empty());
    for c in &mut sessions {
        assert!(!still_open(c).await, "a session outlived the revocation");
    }
}

/// The scheduler's batches (`Engine::revoke_batch_unflushed`) on MariaDB lock the accounts
/// and end their sessions at once, a single lease too; the drop follows when core confirms
/// the receipt.
#[tokio::test]
async fn the_schedulers_revocation_locks_at_once_and_drops_on_confirmation() {
    let s = MyServer::create().await;
    let mount = s
        .mount(json!({"creation_statements": s.select_only()}))
        .await;
    for count in [1, 3] {
        let mut leases = Vec::new();
        let mut logins = Vec::new();
        let mut sessions = Vec::new();
        for _ in 0..count {
            let c = mount.creds(&s.role).await;
            sessions.push(connect(&c.username, &c.password, None).await.unwrap());
            leases.push(mount.lease(&c.internal, true, 0));
            logins.push((c.username, c.password));
        }
        let pending = mount.revoke_scheduled(&leases).await;
        assert_eq!(pending.len(), count, "every revocation waits for its drop");
        for ((user, password), session) in logins.iter().zip(&mut sessions) {
            assert!(user_exists(user).await, "the drop waits for confirmation");
            let e = connect(user, password, None).await.unwrap_err();
            assert_eq!(code(&e), 4151, "a locked account: {e}");
            assert!(
                !still_open(session).await,
                "a session outlived the revocation"
            );
        }
        mount.confirm_all(&pending).await;
        assert!(users_with_prefix(&s.prefix()).await.is_empty());
        // Confirming again (core retrying after a crash, say) is success.
        mount.confirm_all(&pending).await;
    }
}

#[tokio::test]
async fn vaults_revocation_statements_are_idempotent_and_end_sessions() {
    let s = MyServer::create().await;
    let mount = s
        .mount(json!({
            "creation_statements": s.select_only(),
            "revocation_statements": "REVOKE ALL PRIVILEGES, GRANT OPTION FROM '{{name}}'@'%'; DROP USER '{{name}}'@'%'",
        }))
        .await;
    let creds = mount.creds(&s.role).await;
    let mut open = connect(&creds.username, &creds.password, None)
        .await
        .unwrap();
    mount.revoke(&creds.internal).await.unwrap();
    assert!(!user_exists(&creds.username).await);
    assert!(!still_open(&mut open).await);
    // The statements fail on a user already gone; the user is gone, so that is success.
    mount.revoke(&creds.internal).await.unwrap();
}
