//! A small engine that hands out leased "credentials" whose upstream is its own storage
//! (`upstream/<user>` exists while the credential does), so lease tests can see exactly what
//! was created and revoked. `config` can make creation or revocation fail (for every role or
//! some roles), and make revocations for a waiting caller or the scheduler's batches answer
//! "unconfirmed" and hold their confirmation.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use secrethub_common::serde_helpers as sh;
use secrethub_engine::{
    Engine, EngineError, LeaseInfo, LeaseTerms, MountContext, NewLease, Operation, PathTable,
    Request, Response, Revocation, StorageView, UnconfirmedRevocation,
};
use secrethub_storage::{list_children, Storage};
use serde::Deserialize;
use serde_json::json;

#[derive(Clone, Copy)]
enum Route {
    Creds,
    Config,
    Upstream,
    Holding,
    Confirmations,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Config {
    fail_create: bool,
    fail_revoke: bool,
    /// Revocations of these roles' leases (`creds/<role>`) fail, others succeed: one role's
    /// broken revocation statements on a healthy connection.
    fail_revoke_roles: Vec<String>,
    /// `revoke_for_caller` answers `Unconfirmed`.
    unconfirmed_revoke: bool,
    /// `revoke_batch_unflushed` (the scheduler's batches) answers `Unconfirmed`.
    unconfirmed_batch: bool,
    /// `confirm_revocations` answers "not yet".
    hold_confirm: bool,
    /// `revoke_for_caller` marks `holding/<user>` and waits until this is switched off, as
    /// an upstream that takes its time.
    hold_caller_revoke: bool,
    #[serde(deserialize_with = "sh::duration")]
    max_ttl: Duration,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CredsInput {
    #[serde(deserialize_with = "sh::duration")]
    ttl: Duration,
}

struct TestLeases {
    paths: PathTable<Route>,
}

pub(crate) fn factory(_: MountContext) -> Result<Arc<dyn Engine>, EngineError> {
    Ok(Arc::new(TestLeases {
        paths: PathTable::new()
            .add(
                "creds/{name}",
                Route::Creds,
                &[Operation::Read],
                "a leased credential",
            )
            .add(
                "config",
                Route::Config,
                &[Operation::Update],
                "failure switches",
            )
            .add(
                "upstream",
                Route::Upstream,
                &[Operation::List],
                "credentials that exist",
            )
            .add(
                "holding",
                Route::Holding,
                &[Operation::List],
                "users whose revocation for a caller waits on `hold_caller_revoke`",
            )
            .add(
                "confirmations",
                Route::Confirmations,
                &[Operation::Read],
                "how often core asked to confirm revocations, and the users confirmed",
            ),
    }))
}

/// The config is stored as the body it was written with and parsed on every read.
async fn config(storage: &StorageView) -> Result<Config, EngineError> {
    let raw: serde_json::Value = storage.get_json("config").await?.unwrap_or(json!({}));
    serde_json::from_value(raw).map_err(|e| EngineError::Internal(e.into()))
}

#[async_trait]
impl Engine for TestLeases {
    async fn handle(&self, req: Request) -> Result<Response, EngineError> {
        let (route, args) = self.paths.route(&req.path, req.op)?;
        match route {
            Route::Config => {
                let _check: Config = req.body_as()?;
                req.storage.put_json("config", &req.body).await?;
                Ok(Response::empty())
            }
            Route::Upstream => Response::list(list_children(&req.storage, "upstream/").await?),
            Route::Holding => Response::list(list_children(&req.storage, "holding/").await?),
            Route::Confirmations => {
                let asked = req.storage.get_json::<u64>("asked").await?.unwrap_or(0);
                let confirmed = list_children(&req.storage, "confirmed/").await?;
                let mut data = secrethub_common::JsonMap::new();
                data.insert("asked".into(), asked.into());
                data.insert("confirmed".into(), confirmed.into());
                Ok(Response::data(data))
            }
            Route::Creds => {
                let c = config(&req.storage).await?;
                let input: CredsInput = req.body_as()?;
                let user = format!("{}_{}", args.get("name"), secrethub_common::random_alnum(8));
                let internal = json!({ "user": user });
                req.record_intent(&internal).await?;
                req.storage.put(&format!("upstream/{user}"), b"x").await?;
                if c.fail_create {
                    return Err(EngineError::bad_request("creation statement failed"));
                }
                let mut data = secrethub_common::JsonMap::new();
                data.insert("username".into(), user.clone().into());
                data.insert("password".into(), "pw".into());
                Ok(Response {
                    data: Some(data),
                    lease: Some(NewLease {
                        internal,
                        terms: LeaseTerms {
                            ttl: input.ttl,
                            max_ttl: c.max_ttl,
                            renewable: true,
                        },
                    }),
                    warnings: Vec::new(),
                    ..Response::default()
                })
            }
        }
    }

    async fn revoke(&self, lease: &LeaseInfo, storage: &StorageView) -> Result<(), EngineError> {
        let c = config(storage).await?;
        let role = lease.path.strip_prefix("creds/").unwrap_or_default();
        if c.fail_revoke || c.fail_revoke_roles.iter().any(|r| r == role) {
            return Err(EngineError::Upstream {
                what: "test upstream".into(),
                source: anyhow::anyhow!("connection refused"),
            });
        }
        let user = lease.internal["user"].as_str().unwrap_or_default();
        storage.delete(&format!("upstream/{user}")).await?;
        Ok(())
    }

    async fn revoke_for_caller(
        &self,
        lease: &LeaseInfo,
        storage: &StorageView,
    ) -> Result<Revocation, EngineError> {
        if config(storage).await?.hold_caller_revoke {
            let user = lease.internal["user"].as_str().unwrap_or_default();
            storage.put(&format!("holding/{user}"), b"x").await?;
            while config(storage).await?.hold_caller_revoke {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            storage.delete(&format!("holding/{user}")).await?;
        }
        self.revoke(lease, storage).await?;
        if config(storage).await?.unconfirmed_revoke {
            return Ok(Revocation::Unconfirmed(json!({"receipt": "r1"})));
        }
        Ok(Revocation::Durable)
    }

    async fn revoke_batch_unflushed(
        &self,
        leases: &[LeaseInfo],
        storage: &StorageView,
    ) -> Vec<Result<Revocation, EngineError>> {
        let unconfirmed = config(storage).await.is_ok_and(|c| c.unconfirmed_batch);
        let mut out = Vec::new();
        for lease in leases {
            out.push(self.revoke(lease, storage).await.map(|()| {
                if unconfirmed {
                    Revocation::Unconfirmed(json!({"receipt": "r1"}))
                } else {
                    Revocation::Durable
                }
            }));
        }
        out
    }

    async fn confirm_revocations(
        &self,
        pending: &[UnconfirmedRevocation],
        storage: &StorageView,
    ) -> Vec<Result<bool, EngineError>> {
        let mut out = Vec::new();
        for p in pending {
            out.push(confirm_one(p, storage).await);
        }
        out
    }

    async fn renew(&self, _lease: &LeaseInfo, _storage: &StorageView) -> Result<(), EngineError> {
        Ok(())
    }
}

async fn confirm_one(
    p: &UnconfirmedRevocation,
    storage: &StorageView,
) -> Result<bool, EngineError> {
    assert_eq!(
        p.receipt,
        json!({"receipt": "r1"}),
        "the receipt comes back as answered"
    );
    let asked = storage.get_json::<u64>("asked").await?.unwrap_or(0);
    storage.put_json("asked", &(asked + 1)).await?;
    if config(storage).await?.hold_confirm {
        return Ok(false);
    }
    let user = p.lease.internal["user"].as_str().unwrap_or_default();
    storage.put(&format!("confirmed/{user}"), b"x").await?;
    Ok(true)
}
