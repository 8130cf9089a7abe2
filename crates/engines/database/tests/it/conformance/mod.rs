//! The plugin conformance suite: what every database plugin guarantees, each plugin run
//! against its real server.
//!
//! - The intent recorded before the side effect is exactly the lease's internal data, and the
//!   credential it names logs in.
//! - Nothing is created when the intent cannot be recorded.
//! - A creation that fails part-way leaves no user behind, and revoking its intent (as core
//!   does) succeeds.
//! - Revocation is idempotent: revoked twice, or the user removed behind SecretHub's back,
//!   is success; afterwards the credential cannot log in.
//! - An unreachable database fails issuing (recording no intent) and revoking (keeping the
//!   user) until it is back, then the revocation goes through.
//! - A batch of leases is revoked together, one user already gone included.
//! - A batch of the lease scheduler's stops the credentials working at once, whether the
//!   plugin completes it then or on confirmation, and leaves no user once confirmed.
//! - A config read never shows the admin password.
//!
//! To add a plugin: implement [`Target`] in `conformance/<plugin>.rs` and add one
//! `conformance!(<plugin>, <TargetType>);` line at the end of this file. A plugin whose server
//! the machine cannot run adds attributes after the type, `#[ignore = "why"]`, so cargo
//! reports its tests as ignored (and runs them with `--ignored`), never as passed.

mod mongodb;
mod mysql;
mod postgresql;
mod redis;

use std::sync::Arc;

use async_trait::async_trait;
use secrethub_common::ErrorKind;
use secrethub_engine::{EngineError, Operation};
use serde_json::{json, Value};

use crate::harness::{unique, Mount};
use crate::proxy::Proxy;

/// One plugin's real server, as the suite needs it. Each value is a fresh, isolated place
/// on that server (a database, a user prefix) that cleans up after itself.
#[async_trait]
pub(crate) trait Target: Sized + Send + Sync + 'static {
    /// A fresh place on the real server.
    async fn create() -> Self;

    /// The real server's `host:port`; the suite puts a proxy in front of it to make it
    /// unreachable.
    fn server_addr(&self) -> String;

    /// A `database/config/:name` body (`plugin_name`, connection fields, admin credentials)
    /// for the server at `addr`, allowing every role.
    fn config(&self, addr: &str) -> Value;

    /// The admin password in [`Target::config`], which a config read must never show.
    fn admin_password(&self) -> String;

    /// Creation statements for a user that can log in.
    fn creation_statements(&self) -> Value;

    /// Creation statements that create the user and then fail.
    fn failing_statements(&self) -> Value;

    /// Whether `username` exists on the server.
    async fn user_exists(&self, username: &str) -> bool;

    /// The users on the server whose names start with `prefix`.
    async fn users_with_prefix(&self, prefix: &str) -> Vec<String>;

    /// Whether `username`/`password` can log in and run a trivial command.
    async fn can_log_in(&self, username: &str, password: &str) -> bool;

    /// Removes `username` behind the engine's back.
    async fn drop_user(&self, username: &str);

    /// Removes every user named by these intents, at the end of a test that passed. A target
    /// on a shared server also cleans up when dropped, so a failed test leaves nothing either.
    async fn clean_up(&self, intents: &[Value]);
}

/// A mount with connection `main` on `target` (through `addr`) and a role of its own.
async fn mount_with_role<T: Target>(target: &T, addr: &str, statements: Value) -> (Mount, String) {
    let mount = Mount::new();
    mount.write("config/main", target.config(addr)).await;
    let role = unique("conf");
    mount
        .write(
            &format!("roles/{role}"),
            json!({"db_name": "main", "creation_statements": statements}),
        )
        .await;
    (mount, role)
}

fn kind_of(result: Result<impl Sized, EngineError>) -> ErrorKind {
    match result {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.kind(),
    }
}

pub(crate) async fn intent_is_the_lease_data_and_the_user_logs_in<T: Target>() {
    let t = T::create().await;
    let (mount, role) = mount_with_role(&t, &t.server_addr(), t.creation_statements()).await;
    let creds = mount.creds(&role).await;
    let intents = mount.intents.all();
    assert_eq!(intents, vec![creds.internal.clone()]);
    assert_eq!(creds.internal["username"], json!(creds.username));
    assert_eq!(creds.internal["db_name"], json!("main"));
    assert_eq!(creds.internal["role"], json!(role));
    assert!(t.user_exists(&creds.username).await);
    assert!(t.can_log_in(&creds.username, &creds.password).await);
    assert!(!t.can_log_in(&creds.username, "not-the-password").await);
    mount.revoke(&creds.internal).await.unwrap();
    assert!(!t.user_exists(&creds.username).await);
    assert!(!t.can_log_in(&creds.username, &creds.password).await);
    t.clean_up(&intents).await;
}

/// An intent log that cannot persist anything (storage down, say).
struct BrokenIntents;

#[async_trait]
impl secrethub_engine::IntentLog for BrokenIntents {
    async fn record(&self, _internal: &Value) -> Result<(), EngineError> {
        Err(EngineError::Internal(anyhow::anyhow!(
            "intent storage is down"
        )))
    }
}

pub(crate) async fn nothing_is_created_without_an_intent<T: Target>() {
    let t = T::create().await;
    // Users named exactly after the (unique) role, so the check below sees only this test's.
    let mut config = t.config(&t.server_addr());
    config["username_template"] = json!("{{.RoleName}}");
    let mount = Mount::new();
    mount.write("config/main", config).await;
    let role = unique("conf");
    mount
        .write(
            &format!("roles/{role}"),
            json!({"db_name": "main", "creation_statements": t.creation_statements()}),
        )
        .await;
    let path = format!("creds/{role}");
    let mut req = mount.request(Operation::Read, &path, Value::Null);
    req.intents = Some(Arc::new(BrokenIntents));
    assert_eq!(kind_of(mount.engine.handle(req).await), ErrorKind::Internal);
    let mut req = mount.request(Operation::Read, &path, Value::Null);
    req.intents = None;
    assert!(mount.engine.handle(req).await.is_err());
    let made = t.users_with_prefix(&role).await;
    assert!(made.is_empty(), "created without an intent: {made:?}");
}

pub(crate) async fn a_failed_creation_leaves_nothing<T: Target>() {
    let t = T::create().await;
    let (mount, role) = mount_with_role(&t, &t.server_addr(), t.failing_statements()).await;
    let e = mount.try_creds(&role, Value::Null).await.err().unwrap();
    assert_eq!(e.kind(), ErrorKind::BadRequest, "{e}");
    let intents = mount.intents.all();
    assert_eq!(intents.len(), 1, "the intent is recorded first");
    let username = intents[0]["username"].as_str().unwrap().to_string();
    assert!(
        !t.user_exists(&username).await,
        "{username} was left behind"
    );
    mount.revoke(&intents[0]).await.unwrap();
    t.clean_up(&intents).await;
}

pub(crate) async fn revocation_is_idempotent<T: Target>() {
    let t = T::create().await;
    let (mount, role) = mount_with_role(&t, &t.server_addr(), t.creation_statements()).await;
    let first = mount.creds(&role).await;
    mount.revoke(&first.internal).await.unwrap();
    mount.revoke(&first.internal).await.unwrap();
    assert!(!t.can_log_in(&first.username, &first.password).await);

    let second = mount.creds(&role).await;
    t.drop_user(&second.username).await;
    mount.revoke(&second.internal).await.unwrap();
    assert!(!t.user_exists(&second.username).await);
    t.clean_up(&mount.intents.all()).await;
}

pub(crate) async fn an_unreachable_database_fails_until_it_is_back<T: Target>() {
    let t = T::create().await;
    let proxy = Proxy::start(&t.server_addr()).await;
    let addr = format!("127.0.0.1:{}", proxy.port);
    let (mount, role) = mount_with_role(&t, &addr, t.creation_statements()).await;
    let creds = mount.creds(&role).await;

    proxy.set_down(true);
    assert_eq!(
        kind_of(mount.revoke(&creds.internal).await),
        ErrorKind::Unavailable
    );
    assert!(t.user_exists(&creds.username).await);
    assert_eq!(
        kind_of(mount.try_creds(&role, Value::Null).await),
        ErrorKind::Unavailable
    );
    // No connection, so no intent was recorded: core has nothing to clean up.
    assert_eq!(mount.intents.all(), vec![creds.internal.clone()]);

    proxy.set_down(false);
    mount.revoke(&creds.internal).await.unwrap();
    assert!(!t.user_exists(&creds.username).await);
    t.clean_up(&mount.intents.all()).await;
}

pub(crate) async fn a_batch_is_revoked_together<T: Target>() {
    let t = T::create().await;
    let (mount, role) = mount_with_role(&t, &t.server_addr(), t.creation_statements()).await;
    let mut leases = Vec::new();
    for _ in 0..5 {
        let c = mount.creds(&role).await;
        leases.push((c.username.clone(), mount.lease(&c.internal, true, 0)));
    }
    t.drop_user(&leases[0].0).await;
    let infos: Vec<_> = leases.iter().map(|(_, l)| l.clone()).collect();
    let results = mount.engine.revoke_batch(&infos, &mount.storage).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    for (user, _) in &leases {
        assert!(!t.user_exists(user).await, "{user} is still there");
    }
    let again = mount.engine.revoke_batch(&infos, &mount.storage).await;
    assert!(again.iter().all(Result::is_ok), "{again:?}");
    t.clean_up(&mount.intents.all()).await;
}

/// The scheduler's batches may take effect now and complete on confirmation (a MariaDB
/// account locked, dropped later); either way the credentials stop working at once, and
/// after confirmation no user is left.
pub(crate) async fn a_scheduler_batch_works_at_once_and_leaves_nothing<T: Target>() {
    let t = T::create().await;
    let (mount, role) = mount_with_role(&t, &t.server_addr(), t.creation_statements()).await;
    let mut leases = Vec::new();
    for _ in 0..4 {
        let c = mount.creds(&role).await;
        let lease = mount.lease(&c.internal, true, 0);
        leases.push((c, lease));
    }
    t.drop_user(&leases[0].0.username).await;
    let infos: Vec<_> = leases.iter().map(|(_, l)| l.clone()).collect();
    let pending = mount.revoke_scheduled(&infos).await;
    for (c, _) in &leases {
        assert!(
            !t.can_log_in(&c.username, &c.password).await,
            "{} still logs in",
            c.username
        );
    }
    mount.confirm_all(&pending).await;
    for (c, _) in &leases {
        assert!(
            !t.user_exists(&c.username).await,
            "{} is still there",
            c.username
        );
    }
    t.clean_up(&mount.intents.all()).await;
}

pub(crate) async fn config_reads_never_show_the_password<T: Target>() {
    let t = T::create().await;
    let mount = Mount::new();
    mount.write("config/main", t.config(&t.server_addr())).await;
    let data = mount.read("config/main").await;
    let shown = data.to_string();
    assert!(!shown.contains(&t.admin_password()), "{shown}");
    assert!(data["connection_details"].is_object(), "{shown}");
    assert!(
        data["connection_details"].get("password").is_none(),
        "{shown}"
    );
}

/// The suite's tests for one plugin, as a module of `#[tokio::test]`s.
macro_rules! conformance {
    ($plugin:ident, $target:ty $(, #[$attr:meta])*) => {
        mod $plugin {
            #[tokio::test]
            $(#[$attr])*
            async fn intent_is_the_lease_data_and_the_user_logs_in() {
                super::intent_is_the_lease_data_and_the_user_logs_in::<$target>().await
            }
            #[tokio::test]
            $(#[$attr])*
            async fn nothing_is_created_without_an_intent() {
                super::nothing_is_created_without_an_intent::<$target>().await
            }
            #[tokio::test]
            $(#[$attr])*
            async fn a_failed_creation_leaves_nothing() {
                super::a_failed_creation_leaves_nothing::<$target>().await
            }
            #[tokio::test]
            $(#[$attr])*
            async fn revocation_is_idempotent() {
                super::revocation_is_idempotent::<$target>().await
            }
            #[tokio::test]
            $(#[$attr])*
            async fn an_unreachable_database_fails_until_it_is_back() {
                super::an_unreachable_database_fails_until_it_is_back::<$target>().await
            }
            #[tokio::test]
            $(#[$attr])*
            async fn a_batch_is_revoked_together() {
                super::a_batch_is_revoked_together::<$target>().await
            }
            #[tokio::test]
            $(#[$attr])*
            async fn a_scheduler_batch_works_at_once_and_leaves_nothing() {
                super::a_scheduler_batch_works_at_once_and_leaves_nothing::<$target>().await
            }
            #[tokio::test]
            $(#[$attr])*
            async fn config_reads_never_show_the_password() {
                super::config_reads_never_show_the_password::<$target>().await
            }
        }
    };
}

conformance!(postgresql_plugin, super::postgresql::Postgresql);
conformance!(redis_plugin, super::redis::Redis);
conformance!(mysql_plugin, super::mysql::Mysql);
conformance!(
    mongodb_plugin,
    super::mongodb::Mongodb,
    #[ignore = "needs a real MongoDB: set SECRETHUB_TEST_MONGODB_URL and run with --ignored"]
);
