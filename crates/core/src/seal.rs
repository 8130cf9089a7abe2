//! Initialisation, unseal and seal: the root key is split with Shamir's secret sharing at
//! init; unseal collects shares until the threshold, rebuilds the root key and opens the
//! barrier. The seal configuration lives in physical storage (outside the barrier) at
//! `core/seal-config`, with a SHA-256 of each share so a wrong share is rejected at once
//! without disturbing the shares already entered.

use std::sync::Arc;

use base64::Engine as _;
use secrethub_barrier::{shamir, RootKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::{CoreError, CoreResult};
use crate::unsealed::Unsealed;
use crate::Core;

const SEAL_CONFIG_KEY: &str = "core/seal-config";

#[derive(Serialize, Deserialize)]
struct SealConfig {
    version: u32,
    secret_shares: u8,
    secret_threshold: u8,
    /// SHA-256 of every share, hex.
    share_hashes: Vec<String>,
}

/// Key shares entered so far; zeroized when dropped.
#[derive(Default)]
pub(crate) struct UnsealProgress {
    shares: Vec<Zeroizing<Vec<u8>>>,
    nonce: String,
}

/// What `sys/init` returns. The keys and the root token are shown once.
pub struct InitResult {
    /// Shares, hex.
    pub keys: Vec<Zeroizing<String>>,
    /// Shares, base64.
    pub keys_base64: Vec<Zeroizing<String>>,
    /// The initial root token.
    pub root_token: Zeroizing<String>,
}

/// `sys/seal-status`.
#[derive(Debug, Clone, Serialize)]
pub struct SealStatus {
    #[serde(rename = "type")]
    seal_type: &'static str,
    /// Whether `sys/init` has run.
    pub initialized: bool,
    /// Whether the barrier is sealed.
    pub sealed: bool,
    /// Threshold.
    pub t: u8,
    /// Shares.
    pub n: u8,
    /// Shares entered so far.
    pub progress: usize,
    nonce: String,
    version: &'static str,
    build_date: &'static str,
    migration: bool,
    recovery_seal: bool,
    storage_type: String,
    cluster_name: String,
    cluster_id: String,
}

fn decode_share(key: &str) -> CoreResult<Zeroizing<Vec<u8>>> {
    let key = key.trim();
    let bytes = hex::decode(key)
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(key))
        .map_err(|_| CoreError::bad_request("'key' must be a valid hex or base64 string"))?;
    Ok(Zeroizing::new(bytes))
}

fn share_hash(share: &[u8]) -> String {
    hex::encode(Sha256::digest(share))
}

impl Core {
    async fn seal_config(&self) -> CoreResult<Option<SealConfig>> {
        match self.physical.get(SEAL_CONFIG_KEY).await? {
            None => Ok(None),
            Some(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| CoreError::Internal(anyhow::anyhow!("seal config unreadable: {e}"))),
        }
    }

    /// Whether `sys/init` has run. An unsealed core was initialised, so it answers without
    /// reading storage: `sys/health` is what load balancers and liveness probes poll, and it
    /// must keep answering 200 while the storage is briefly unavailable (a PostgreSQL
    /// restart), as Vault's does, rather than get a healthy process restarted (and sealed).
    pub async fn is_initialized(&self) -> CoreResult<bool> {
        if !self.is_sealed() {
            return Ok(true);
        }
        Ok(self.seal_config().await?.is_some())
    }

    /// `sys/seal-status`.
    pub async fn seal_status(&self) -> CoreResult<SealStatus> {
        let cfg = self.seal_config().await?;
        let progress = self.progress.lock().await;
        let sealed = self.is_sealed();
        Ok(SealStatus {
            seal_type: "shamir",
            initialized: cfg.is_some(),
            sealed,
            t: cfg.as_ref().map_or(0, |c| c.secret_threshold),
            n: cfg.as_ref().map_or(0, |c| c.secret_shares),
            progress: if sealed { progress.shares.len() } else { 0 },
            nonce: progress.nonce.clone(),
            version: env!("CARGO_PKG_VERSION"),
            build_date: "",
            migration: false,
            recovery_seal: false,
            storage_type: self.config.storage_type.clone(),
            cluster_name: if cfg.is_some() {
                "secrethub".into()
            } else {
                String::new()
            },
            cluster_id: String::new(),
        })
    }

    /// `sys/init`: creates the keyring, splits the root key and mints the root token.
    /// Leaves the server sealed, as Vault does. `root_token_id` is for dev mode.
    pub async fn initialize(
        &self,
        secret_shares: u8,
        secret_threshold: u8,
        root_token_id: Option<&str>,
    ) -> CoreResult<InitResult> {
        let _guard = self.progress.lock().await;
        if self.seal_config().await?.is_some() {
            return Err(CoreError::bad_request("Vault is already initialized"));
        }
        if secret_shares == 0 || secret_threshold == 0 || secret_threshold > secret_shares {
            return Err(CoreError::bad_request(
                "invalid seal configuration: threshold must be between 1 and the number of shares",
            ));
        }
        if secret_shares > 1 && secret_threshold == 1 {
            return Err(CoreError::bad_request(
                "invalid seal configuration: threshold must be greater than one for multiple shares",
            ));
        }
        let root = RootKey::generate();
        self.barrier.initialize(&root).await?;
        let shares = shamir::split(root.as_bytes(), secret_shares, secret_threshold)?;
        let cfg = SealConfig {
            version: 1,
            secret_shares,
            secret_threshold,
            share_hashes: shares.iter().map(|s| share_hash(s)).collect(),
        };
        // Set up the mount table, default policy and root token, then seal again.
        self.barrier.unseal(&root).await?;
        let setup = async {
            let unsealed = Unsealed::open(self).await?;
            let token = unsealed.create_root_token(root_token_id).await?;
            unsealed.shutdown();
            Ok::<_, CoreError>(token)
        }
        .await;
        self.barrier.seal();
        let root_token = setup?;
        let cfg_bytes = serde_json::to_vec(&cfg).map_err(|e| CoreError::Internal(e.into()))?;
        // The seal config is written last: until it exists the server reads as uninitialised.
        self.physical.put(SEAL_CONFIG_KEY, &cfg_bytes).await?;
        tracing::info!(
            shares = secret_shares,
            threshold = secret_threshold,
            "initialized"
        );
        Ok(InitResult {
            keys: shares
                .iter()
                .map(|s| Zeroizing::new(hex::encode(s.as_slice())))
                .collect(),
            keys_base64: shares
                .iter()
                .map(|s| {
                    Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(s.as_slice()))
                })
                .collect(),
            root_token: Zeroizing::new(root_token.expose().clone()),
        })
    }

    /// `sys/unseal`: adds one share (or resets the progress). A share that is not one of
    /// the shares made at init is rejected without touching the progress.
    pub async fn unseal(&self, key: Option<&str>, reset: bool) -> CoreResult<SealStatus> {
        {
            let mut progress = self.progress.lock().await;
            let cfg = self.seal_config().await?.ok_or(CoreError::NotInitialized)?;
            if reset {
                *progress = UnsealProgress::default();
            } else if self.is_sealed() {
                let key = key.ok_or_else(|| {
                    CoreError::bad_request(
                        "'key' must be specified in request body as JSON, or 'reset' set to true",
                    )
                })?;
                let share = decode_share(key)?;
                let hash = share_hash(&share);
                let known = cfg.share_hashes.iter().fold(false, |acc, h| {
                    acc | bool::from(h.as_bytes().ct_eq(hash.as_bytes()))
                });
                if !known {
                    return Err(CoreError::bad_request(
                        "invalid key: this is not one of the unseal keys",
                    ));
                }
                if !progress
                    .shares
                    .iter()
                    .any(|s| s.as_slice() == share.as_slice())
                {
                    if progress.shares.is_empty() {
                        progress.nonce = secrethub_common::random_uuid();
                    }
                    progress.shares.push(share);
                }
                if progress.shares.len() >= cfg.secret_threshold as usize {
                    let parts: Vec<&[u8]> = progress.shares.iter().map(|s| s.as_slice()).collect();
                    let root_bytes = shamir::combine(&parts)?;
                    *progress = UnsealProgress::default();
                    let root = RootKey::from_bytes(&root_bytes)?;
                    self.barrier.unseal(&root).await?;
                    match Unsealed::open(self).await {
                        Ok(u) => {
                            *self.state.write().unwrap_or_else(|e| e.into_inner()) =
                                Some(Arc::new(u));
                            tracing::info!("unsealed");
                        }
                        Err(e) => {
                            self.barrier.seal();
                            return Err(e);
                        }
                    }
                }
            }
        }
        self.seal_status().await
    }

    /// Seals: stops background work, forgets the keys. Requests get 503 until unsealed.
    pub async fn seal(&self) -> CoreResult<()> {
        let _guard = self.progress.lock().await;
        let old = self.state.write().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(u) = old {
            // The last lines' checkpoint, while the barrier is still open.
            u.audit.flush_checkpoints().await;
            u.leases.flush_stats().await;
            u.shutdown();
        }
        self.barrier.seal();
        tracing::info!("sealed");
        Ok(())
    }

    /// Dev mode: initialise with one share, unseal, and return the root token.
    pub async fn init_dev(&self, root_token_id: Option<&str>) -> CoreResult<InitResult> {
        let init = self.initialize(1, 1, root_token_id).await?;
        let key = init.keys[0].clone();
        self.unseal(Some(&key), false).await?;
        Ok(init)
    }

    /// `sys/rotate`: a new barrier key term for new writes.
    pub(crate) async fn rotate(&self) -> CoreResult<secrethub_barrier::KeyStatus> {
        Ok(self.barrier.rotate().await?)
    }

    /// `sys/key-status`.
    pub(crate) fn key_status(&self) -> CoreResult<secrethub_barrier::KeyStatus> {
        Ok(self.barrier.key_status()?)
    }

    pub(crate) fn barrier_storage(&self) -> Arc<dyn secrethub_storage::Storage> {
        self.barrier.clone()
    }
}
