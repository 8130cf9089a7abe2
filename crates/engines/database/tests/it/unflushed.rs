//! Revocation for a waiting caller (`Engine::revoke_for_caller`): the default revocation is
//! in effect when it returns and answers a receipt; `confirm_revocations` confirms it once
//! PostgreSQL has flushed the commit, and revokes again a user the database lost the
//! revocation of. Custom statements stay durable.

use secrethub_engine::{Revocation, UnconfirmedRevocation};
use serde_json::{json, Value};

use crate::harness::{role_exists, with_app_role, LocalDb, Mount, CREATE};

async fn revoke_for_caller(mount: &Mount, internal: &Value) -> Revocation {
    let lease = mount.lease(internal, true, 0);
    mount
        .engine
        .revoke_for_caller(&lease, &mount.storage)
        .await
        .expect("revoke")
}

async fn confirm(mount: &Mount, internal: &Value, receipt: &Value) -> bool {
    let pending = [UnconfirmedRevocation {
        lease: mount.lease(internal, true, 0),
        receipt: receipt.clone(),
    }];
    let mut answers = mount
        .engine
        .confirm_revocations(&pending, &mount.storage)
        .await;
    assert_eq!(answers.len(), 1);
    answers.remove(0).expect("confirm")
}

/// Any commit that waits for its flush flushes every WAL record before it too.
async fn flush_wal(db: &LocalDb) {
    let admin = db.admin().await;
    let role = format!("{}_flush", db.name);
    admin
        .batch_execute(&format!("CREATE ROLE {role}; DROP ROLE {role}"))
        .await
        .expect("a synchronous commit");
}

fn receipt(r: Revocation) -> Value {
    match r {
        Revocation::Unconfirmed(receipt) => receipt,
        Revocation::Durable => panic!("the default revocation answers a receipt"),
    }
}

#[tokio::test]
async fn default_revocation_is_in_effect_at_once_and_confirmed_after_the_flush() {
    let (db, mount) = with_app_role(json!({"creation_statements": CREATE})).await;
    let creds = mount.creds("app").await;
    let session = db.login(&creds.username).await.unwrap();

    let receipt = receipt(revoke_for_caller(&mount, &creds.internal).await);
    assert!(receipt["lsn"].as_str().unwrap().contains('/'), "{receipt}");
    let admin = db.admin().await;
    assert!(!role_exists(&admin, &creds.username).await);
    assert!(session.simple_query("SELECT 1").await.is_err());

    flush_wal(&db).await;
    assert!(confirm(&mount, &creds.internal, &receipt).await);
    assert!(!role_exists(&admin, &creds.username).await);

    // A durable revocation of the user now gone (the expiry worker racing the caller, say)
    // succeeds once the WAL is flushed past the point where it was seen gone.
    mount.revoke(&creds.internal).await.unwrap();
}

#[tokio::test]
async fn a_position_not_yet_flushed_is_not_confirmed() {
    let (_db, mount) = with_app_role(json!({"creation_statements": CREATE})).await;
    let creds = mount.creds("app").await;
    let real = receipt(revoke_for_caller(&mount, &creds.internal).await);
    // The same revocation, as if its commit sat far ahead of anything flushed.
    let mut ahead = real.clone();
    ahead["lsn"] = json!("FFFFFFFF/0");
    assert!(!confirm(&mount, &creds.internal, &ahead).await);
}

#[tokio::test]
async fn a_user_the_database_lost_the_revocation_of_is_revoked_again() {
    let (db, mount) = with_app_role(json!({"creation_statements": CREATE})).await;
    let creds = mount.creds("app").await;
    let receipt = receipt(revoke_for_caller(&mount, &creds.internal).await);

    // A crash before the flush brings the user back, as it was before the revocation.
    let admin = db.admin().await;
    admin
        .batch_execute(&format!("CREATE ROLE \"{}\" LOGIN", creds.username))
        .await
        .unwrap();
    let session = db.login(&creds.username).await.unwrap();

    assert!(confirm(&mount, &creds.internal, &receipt).await);
    assert!(!role_exists(&admin, &creds.username).await);
    assert!(session.simple_query("SELECT 1").await.is_err());
}

#[tokio::test]
async fn custom_statements_are_durable() {
    let (db, mount) = with_app_role(json!({
        "creation_statements": CREATE,
        "revocation_statements": "DROP ROLE \"{{name}}\";",
    }))
    .await;
    let creds = mount.creds("app").await;
    assert_eq!(
        revoke_for_caller(&mount, &creds.internal).await,
        Revocation::Durable
    );
    let admin = db.admin().await;
    assert!(!role_exists(&admin, &creds.username).await);
}

#[tokio::test]
async fn a_failed_revocation_of_a_user_that_is_gone_is_fenced_by_the_wal_position() {
    let (db, mount) = with_app_role(json!({"creation_statements": CREATE})).await;
    // Whether a failed text committed is unknown, so the receipt holds the WAL position at
    // which the user was seen gone: confirmed once that is flushed.
    let never =
        json!({"v": 1, "db_name": "main", "role": "app", "username": "shub_never_created_2"});
    let receipt = receipt(revoke_for_caller(&mount, &never).await);
    assert!(receipt["lsn"].as_str().unwrap().contains('/'), "{receipt}");
    flush_wal(&db).await;
    assert!(confirm(&mount, &never, &receipt).await);
}
