//! [`DatabasePlugin`]: one kind of database, opened for one connection config.
//!
//! An opened plugin is the live handle for one connection config (its pools); the engine
//! keeps it in memory and opens a new one when the config is rewritten. Opening does no IO:
//! connections are made on first use, so `verify` is where a bad host shows up.

use async_trait::async_trait;
use secrethub_common::{JsonMap, UnixTime};

use crate::check::{ConnectionReport, FailureKind};
use crate::error::DatabaseError;

/// What the engine does right before a user is created: record the intent. A plugin calls
/// it once it holds a working connection, so an unreachable database leaves no intent
/// behind, and runs nothing if it fails.
#[async_trait]
pub trait BeforeCreate: Send + Sync {
    async fn ready(&self) -> Result<(), DatabaseError>;
}

/// A new user to create.
pub struct NewUser<'a> {
    /// The role's creation statements (never empty: roles require them).
    pub statements: &'a [String],
    pub username: &'a str,
    pub password: &'a str,
    /// When the credentials expire (`{{expiration}}`).
    pub expiration: UnixTime,
    /// Must succeed before anything is sent to the database.
    pub before_create: &'a dyn BeforeCreate,
}

/// One database kind, opened for one connection config. Every method is safe to call
/// concurrently; implementations use pools, never a lock around a connection.
#[async_trait]
pub trait DatabasePlugin: Send + Sync + 'static {
    /// Connects (or takes a pooled connection) and runs a trivial query.
    async fn verify(&self) -> Result<(), DatabaseError>;

    /// Connects, times a trivial command, and finds out the server's version and whether
    /// the admin user holds what the plugin needs (`database/test-connection`, and config
    /// writes with `verify_connection`). The default reports what [`DatabasePlugin::verify`]
    /// finds, without version or privileges.
    async fn check_connection(&self) -> ConnectionReport {
        let started = std::time::Instant::now();
        match self.verify().await {
            Ok(()) => ConnectionReport {
                round_trip: Some(started.elapsed()),
                ..Default::default()
            },
            Err(DatabaseError::Verify { reason, .. }) => {
                ConnectionReport::failed(FailureKind::classify(&reason), reason)
            }
            Err(e) => {
                ConnectionReport::failed(FailureKind::classify(&e.to_string()), e.to_string())
            }
        }
    }

    /// Runs the creation statements with the templates filled in, atomically where the
    /// database allows: on failure nothing is left behind. Calls `user.before_create` after
    /// taking a connection and before sending anything.
    async fn create_user(&self, user: &NewUser<'_>) -> Result<(), DatabaseError>;

    /// Moves the user's expiry to `expiration`; empty `statements` means the plugin default.
    /// The default does nothing, for databases whose users do not expire (Redis, MongoDB):
    /// renewal then only extends the lease.
    async fn renew_user(
        &self,
        _statements: &[String],
        _username: &str,
        _expiration: UnixTime,
    ) -> Result<(), DatabaseError> {
        Ok(())
    }

    /// Removes the user; empty `statements` means the plugin default. A user that does not
    /// exist (already revoked, or never created because creation failed) is success.
    /// Runs on connections of its own so revocations never starve issuance.
    async fn revoke_user(&self, statements: &[String], username: &str)
        -> Result<(), DatabaseError>;

    /// The default revocation of one user, for a caller who waits: in effect when this
    /// returns, but possibly not yet durable in the database. Returns a receipt for
    /// [`DatabasePlugin::confirm_revoked`], or `None` when the revocation is durable already
    /// (the default: `revoke_user` with the default statements).
    async fn revoke_user_unflushed(
        &self,
        username: &str,
    ) -> Result<Option<serde_json::Value>, DatabaseError> {
        self.revoke_user(&[], username).await.map(|()| None)
    }

    /// Confirms revocations answered with a receipt, one answer per `(username, receipt)`:
    /// true once the revocation is durable (a user the database lost the revocation of is
    /// revoked again first, durably), false while that is not known yet.
    async fn confirm_revoked(
        &self,
        revoked: &[(&str, &serde_json::Value)],
    ) -> Result<Vec<bool>, DatabaseError> {
        Ok(vec![true; revoked.len()])
    }

    /// Removes several users with the plugin's default revocation, in one round trip and one
    /// transaction where the database allows. All or nothing: on error the caller falls back
    /// to revoking them one by one. The default loops over `revoke_user`.
    async fn revoke_users_default(&self, usernames: &[&str]) -> Result<(), DatabaseError> {
        for u in usernames {
            self.revoke_user(&[], u).await?;
        }
        Ok(())
    }

    /// Like [`DatabasePlugin::revoke_users_default`], for the lease scheduler (expiry), where
    /// no caller waits: in effect when this returns (the credentials no longer log in and
    /// their open sessions are ended), possibly completed only by
    /// [`DatabasePlugin::confirm_revoked`], to which the receipt returned is given with each
    /// user. `None` means complete and durable already (the default: `revoke_users_default`).
    async fn revoke_users_unflushed(
        &self,
        usernames: &[&str],
    ) -> Result<Option<serde_json::Value>, DatabaseError> {
        self.revoke_users_default(usernames).await.map(|()| None)
    }

    /// Changes the root user's password to `new_password`; empty `statements` means the
    /// plugin default. The engine then stores it and reopens the plugin.
    async fn rotate_root(
        &self,
        statements: &[String],
        new_password: &str,
    ) -> Result<(), DatabaseError>;

    /// Sets the password of an existing user that SecretHub manages but did not create (a
    /// static role's); empty `statements` means the plugin default. Setting the same password
    /// twice is harmless, which is how an interrupted rotation is finished. The default
    /// refuses: the plugin has no static roles.
    async fn set_password(
        &self,
        _statements: &[String],
        _username: &str,
        _password: &str,
    ) -> Result<(), DatabaseError> {
        Err(DatabaseError::invalid(
            "this database plugin does not support static roles",
        ))
    }

    /// Facts a client needs to connect (`host`, `port`, `database`), for the seed endpoint.
    fn connection_facts(&self) -> JsonMap;
}
