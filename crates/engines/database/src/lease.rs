//! Lease math and the engine's side of revoke and renew.
//!
//! Both work from the lease's internal data ([`LeaseData`]) and the mount's storage alone, so
//! core can call them for an intent recorded just before a crash. Revocation prefers the
//! role's current revocation statements (an operator may have fixed broken ones) and falls
//! back to the ones recorded with the lease when the role has been deleted.

use std::sync::Arc;
use std::time::Duration;

use secrethub_common::format_duration;
use secrethub_engine::{LeaseInfo, MountInfo, Revocation, StorageView, UnconfirmedRevocation};

use crate::paths::load_role;
use crate::records::{LeaseData, RoleRecord};
use crate::DatabaseEngine;
use secrethub_database_plugin::DatabaseError;
use secrethub_database_plugin::DatabasePlugin;

/// Used when neither the role nor the mount sets a TTL (core normally fills the mount's in);
/// A role's default TTL when it sets none: the user guide's 1 hour, not the mount's default
/// (768 hours unless tuned), which is far too long for a database credential. A deliberate
/// difference from Vault.
pub(crate) const ROLE_DEFAULT_TTL: Duration = Duration::from_secs(3600);
/// A role's max TTL when it sets none: the user guide's 24 hours.
pub(crate) const ROLE_MAX_TTL: Duration = Duration::from_secs(24 * 3600);

/// The TTL of a new lease and, when it had to be capped, a warning saying so: the requested
/// `ttl`, else the role's default (1 hour if it has none); at most the role's max (24 hours
/// if it has none) and the mount's max.
pub(crate) fn lease_ttl(
    requested: Option<Duration>,
    role: &RoleRecord,
    mount: &MountInfo,
) -> (Duration, Option<String>) {
    let set = |d: Duration| (!d.is_zero()).then_some(d);
    let role_max = set(role.max_ttl()).unwrap_or(ROLE_MAX_TTL);
    let max = set(mount.max_lease_ttl).map_or(role_max, |m| m.min(role_max));
    let ttl = requested
        .and_then(set)
        .or(set(role.default_ttl()))
        .unwrap_or(ROLE_DEFAULT_TTL);
    if ttl > max {
        let warning = format!(
            "TTL of {:?} exceeded the effective max_ttl of {:?}; TTL value is capped accordingly",
            format_duration(ttl),
            format_duration(max)
        );
        (max, Some(warning))
    } else {
        (ttl, None)
    }
}

fn lease_data(lease: &LeaseInfo) -> Result<LeaseData, DatabaseError> {
    serde_json::from_value(lease.internal.clone()).map_err(|e| {
        DatabaseError::Internal(anyhow::anyhow!(
            "lease {} has undecodable internal data: {e}",
            lease.lease_id
        ))
    })
}

/// What revoking one lease needs: its data, its connection's plugin and the revocation
/// statements (empty: the plugin's default).
struct Target {
    data: LeaseData,
    plugin: Arc<dyn DatabasePlugin>,
    statements: Vec<String>,
}

impl DatabaseEngine {
    async fn revocation_target(
        &self,
        lease: &LeaseInfo,
        storage: &StorageView,
    ) -> Result<Target, DatabaseError> {
        let mut data = lease_data(lease)?;
        let (_, plugin) = self
            .connections
            .load(storage, &data.db_name)
            .await?
            .ok_or_else(|| {
                DatabaseError::invalid(format!(
                    "connection {:?} no longer exists, so user {:?} cannot be revoked",
                    data.db_name, data.username
                ))
            })?;
        let statements = match load_role(storage, &data.role).await? {
            Some(role) => role.revocation_statements,
            None => std::mem::take(&mut data.revocation_statements),
        };
        Ok(Target {
            data,
            plugin,
            statements,
        })
    }

    pub(crate) async fn revoke_lease(
        &self,
        lease: &LeaseInfo,
        storage: &StorageView,
    ) -> Result<(), DatabaseError> {
        let t = self.revocation_target(lease, storage).await?;
        t.plugin
            .revoke_user(&t.statements, &t.data.username)
            .await?;
        tracing::debug!(lease_id = %lease.lease_id, connection = %t.data.db_name, "database user revoked");
        Ok(())
    }

    /// Revokes one lease for a waiting caller: the default revocation without waiting for the
    /// database's disk flush where the plugin can; custom statements durably, as they may
    /// not drop the user (whose absence is what confirms a revocation).
    pub(crate) async fn revoke_lease_for_caller(
        &self,
        lease: &LeaseInfo,
        storage: &StorageView,
    ) -> Result<Revocation, DatabaseError> {
        let t = self.revocation_target(lease, storage).await?;
        let receipt = if t.statements.is_empty() {
            t.plugin.revoke_user_unflushed(&t.data.username).await?
        } else {
            t.plugin
                .revoke_user(&t.statements, &t.data.username)
                .await?;
            None
        };
        tracing::debug!(lease_id = %lease.lease_id, connection = %t.data.db_name, unconfirmed = receipt.is_some(), "database user revoked");
        Ok(receipt.map_or(Revocation::Durable, Revocation::Unconfirmed))
    }

    /// Confirms revocations answered with a receipt, per connection in one round trip.
    pub(crate) async fn confirm_lease_revocations(
        &self,
        pending: &[UnconfirmedRevocation],
        storage: &StorageView,
    ) -> Vec<Result<bool, DatabaseError>> {
        let mut out: Vec<Option<Result<bool, DatabaseError>>> =
            pending.iter().map(|_| None).collect();
        // connection name -> (indexes, usernames)
        let mut groups: std::collections::BTreeMap<String, (Vec<usize>, Vec<String>)> =
            std::collections::BTreeMap::new();
        for (i, p) in pending.iter().enumerate() {
            match lease_data(&p.lease) {
                Ok(data) => {
                    let g = groups.entry(data.db_name).or_default();
                    g.0.push(i);
                    g.1.push(data.username);
                }
                Err(e) => out[i] = Some(Err(e)),
            }
        }
        for (db_name, (indexes, users)) in groups {
            let answers = match self.connections.load(storage, &db_name).await {
                Ok(Some((_, plugin))) => {
                    let revoked: Vec<(&str, &serde_json::Value)> = indexes
                        .iter()
                        .zip(&users)
                        .map(|(&i, u)| (u.as_str(), &pending[i].receipt))
                        .collect();
                    plugin.confirm_revoked(&revoked).await
                }
                // Deleted since: kept, like the leases of a deleted connection, until it is
                // written again.
                Ok(None) => Err(DatabaseError::invalid(format!(
                    "connection {db_name:?} no longer exists, so revocations on it cannot be confirmed"
                ))),
                Err(e) => Err(e),
            };
            match answers {
                Ok(answers) => {
                    for (i, a) in indexes.into_iter().zip(answers) {
                        out[i] = Some(Ok(a));
                    }
                }
                Err(e) => {
                    let reason = e.to_string();
                    for i in indexes {
                        out[i] = Some(Err(DatabaseError::Unavailable {
                            connection: db_name.clone(),
                            reason: reason.clone(),
                        }));
                    }
                }
            }
        }
        out.into_iter()
            .map(|o| {
                o.unwrap_or_else(|| {
                    Err(DatabaseError::Internal(anyhow::anyhow!(
                        "the plugin gave no answer for a revocation"
                    )))
                })
            })
            .collect()
    }

    /// Revokes many leases: those whose role uses the default revocation are revoked per
    /// connection in one round trip; the rest, and any batch that fails, one by one.
    pub(crate) async fn revoke_leases(
        &self,
        leases: &[LeaseInfo],
        storage: &StorageView,
    ) -> Vec<Result<(), DatabaseError>> {
        self.revoke_lease_batch(leases, storage, false)
            .await
            .into_iter()
            .map(|r| r.map(drop))
            .collect()
    }

    /// As [`DatabaseEngine::revoke_leases`], for the lease scheduler: default revocations
    /// may be answered in effect but unconfirmed (`DatabasePlugin::revoke_users_unflushed`),
    /// for a single lease of a connection too.
    pub(crate) async fn revoke_leases_unflushed(
        &self,
        leases: &[LeaseInfo],
        storage: &StorageView,
    ) -> Vec<Result<Revocation, DatabaseError>> {
        self.revoke_lease_batch(leases, storage, true).await
    }

    async fn revoke_lease_batch(
        &self,
        leases: &[LeaseInfo],
        storage: &StorageView,
        unflushed: bool,
    ) -> Vec<Result<Revocation, DatabaseError>> {
        let mut results: Vec<Option<Result<Revocation, DatabaseError>>> =
            leases.iter().map(|_| None).collect();
        // connection name -> (lease indexes, usernames) of default-revocation leases
        let mut groups: std::collections::BTreeMap<String, (Vec<usize>, Vec<String>)> =
            std::collections::BTreeMap::new();
        for (i, lease) in leases.iter().enumerate() {
            let Ok(data) = lease_data(lease) else {
                continue;
            };
            let default = match load_role(storage, &data.role).await {
                Ok(Some(role)) => role.revocation_statements.is_empty(),
                Ok(None) => data.revocation_statements.is_empty(),
                Err(_) => false,
            };
            if default {
                let g = groups.entry(data.db_name.clone()).or_default();
                g.0.push(i);
                g.1.push(data.username);
            }
        }
        for (db_name, (indexes, users)) in groups {
            // A single durable revocation takes the one-by-one path below: same round trip.
            if indexes.len() < 2 && !unflushed {
                continue;
            }
            let Ok(Some((_, plugin))) = self.connections.load(storage, &db_name).await else {
                continue;
            };
            let names: Vec<&str> = users.iter().map(String::as_str).collect();
            let outcome = if unflushed {
                plugin.revoke_users_unflushed(&names).await
            } else {
                plugin.revoke_users_default(&names).await.map(|()| None)
            };
            if let Ok(receipt) = outcome {
                tracing::debug!(connection = %db_name, count = names.len(), unconfirmed = receipt.is_some(), "database users revoked in one batch");
                let revocation = receipt.map_or(Revocation::Durable, Revocation::Unconfirmed);
                for i in indexes {
                    results[i] = Some(Ok(revocation.clone()));
                }
            }
        }
        let mut out = Vec::with_capacity(leases.len());
        for (lease, done) in leases.iter().zip(results) {
            out.push(match done {
                Some(r) => r,
                None => self
                    .revoke_lease(lease, storage)
                    .await
                    .map(|()| Revocation::Durable),
            });
        }
        out
    }

    pub(crate) async fn renew_lease(
        &self,
        lease: &LeaseInfo,
        storage: &StorageView,
    ) -> Result<(), DatabaseError> {
        let data = lease_data(lease)?;
        let role = load_role(storage, &data.role).await?.ok_or_else(|| {
            DatabaseError::invalid(format!("role {:?} no longer exists", data.role))
        })?;
        let (_, plugin) = self
            .connections
            .load(storage, &data.db_name)
            .await?
            .ok_or_else(|| {
                DatabaseError::invalid(format!("connection {:?} no longer exists", data.db_name))
            })?;
        plugin
            .renew_user(&role.renew_statements, &data.username, lease.expire_time)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::RECORD_VERSION;

    fn role(default: u64, max: u64) -> RoleRecord {
        RoleRecord {
            version: RECORD_VERSION,
            db_name: "db".into(),
            creation_statements: vec!["x".into()],
            revocation_statements: vec![],
            renew_statements: vec![],
            rollback_statements: vec![],
            default_ttl_secs: default,
            max_ttl_secs: max,
        }
    }

    fn mount(default: u64, max: u64) -> MountInfo {
        MountInfo {
            default_lease_ttl: Duration::from_secs(default),
            max_lease_ttl: Duration::from_secs(max),
            ..MountInfo::default()
        }
    }

    #[test]
    fn picks_and_caps_the_ttl() {
        let s = Duration::from_secs;
        assert_eq!(
            lease_ttl(Some(s(60)), &role(3600, 7200), &mount(100, 0)),
            (s(60), None)
        );
        assert_eq!(
            lease_ttl(None, &role(3600, 7200), &mount(100, 0)),
            (s(3600), None)
        );
        // A role without TTLs: the guide's 1 h and 24 h, not the mount's (768 h by default).
        let system = 768 * 3600;
        assert_eq!(
            lease_ttl(Some(s(0)), &role(0, 0), &mount(system, system)),
            (ROLE_DEFAULT_TTL, None)
        );
        assert_eq!(
            lease_ttl(Some(s(48 * 3600)), &role(0, 0), &mount(system, system)).0,
            ROLE_MAX_TTL
        );
        assert_eq!(lease_ttl(None, &role(0, 7200), &mount(0, 0)).0, s(3600));
        assert_eq!(
            lease_ttl(None, &role(3 * 3600, 0), &mount(0, 0)).0,
            s(3 * 3600)
        );
        // A mount max below 24 h still caps.
        assert_eq!(lease_ttl(None, &role(0, 0), &mount(0, 1800)).0, s(1800));
        let (ttl, warning) = lease_ttl(Some(s(10_000)), &role(3600, 7200), &mount(100, 86_400));
        assert_eq!(ttl, s(7200));
        assert_eq!(
            warning.unwrap(),
            "TTL of \"2h46m40s\" exceeded the effective max_ttl of \"2h0m0s\"; TTL value is capped accordingly"
        );
        // The mount's max caps a role max that is larger.
        assert_eq!(
            lease_ttl(None, &role(7200, 0), &mount(100, 3600)).0,
            s(3600)
        );
    }
}
