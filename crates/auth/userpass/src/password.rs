//! Password hashing with argon2id, off the async threads.
//!
//! Parameters are OWASP's first recommendation for argon2id: m = 19456 KiB (19 MiB),
//! t = 2 passes, p = 1 lane, a 16-byte salt from the OS RNG and a 32-byte output, stored as
//! a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`). Verification reads the
//! parameters from the stored string, so raising them later keeps old hashes working.
//!
//! Each hash or verification runs in `spawn_blocking` (it takes tens of milliseconds and
//! 19 MiB), and a semaphore caps how many run at once so a burst of logins can't exhaust
//! memory or the blocking pool. A login for an unknown user verifies the password against a
//! dummy hash made once with the same parameters, so it costs what a wrong password costs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use secrethub_engine::EngineError;
use tokio::sync::{OnceCell, Semaphore};
use zeroize::Zeroizing;

/// Memory cost in KiB.
pub(crate) const M_COST_KIB: u32 = 19_456;
/// Passes over memory.
pub(crate) const T_COST: u32 = 2;
/// Lanes.
pub(crate) const P_COST: u32 = 1;
const OUTPUT_LEN: usize = 32;
const SALT_LEN: usize = 16;

fn argon2() -> Result<Argon2<'static>, EngineError> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, Some(OUTPUT_LEN)).map_err(internal)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn internal(e: impl std::fmt::Display) -> EngineError {
    EngineError::Internal(anyhow::anyhow!("password hashing failed: {e}"))
}

/// Hashes and verifies passwords for one mount.
pub(crate) struct Passwords {
    limit: Arc<Semaphore>,
    dummy: OnceCell<String>,
    verifications: AtomicU64,
}

impl Passwords {
    pub(crate) fn new() -> Self {
        let parallel = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(2, 16);
        Self {
            limit: Arc::new(Semaphore::new(parallel)),
            dummy: OnceCell::new(),
            verifications: AtomicU64::new(0),
        }
    }

    /// How many verifications have run (real and dummy alike).
    pub(crate) fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    /// Runs `f` on the blocking pool once a slot is free.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T, EngineError> + Send + 'static,
    ) -> Result<T, EngineError> {
        let permit = self.limit.clone().acquire_owned().await.map_err(internal)?;
        tokio::task::spawn_blocking(move || {
            let out = f();
            drop(permit);
            out
        })
        .await
        .map_err(internal)?
    }

    /// The PHC string of `password` under a fresh salt.
    pub(crate) async fn hash(&self, password: Zeroizing<String>) -> Result<String, EngineError> {
        let salt = Zeroizing::new(secrethub_common::random_bytes(SALT_LEN));
        self.blocking(move || {
            let salt = SaltString::encode_b64(&salt).map_err(internal)?;
            let hash = argon2()?
                .hash_password(password.as_bytes(), &salt)
                .map_err(internal)?;
            Ok(hash.to_string())
        })
        .await
    }

    /// Makes the dummy hash if it does not exist yet. Every login calls this first, so the
    /// one-time cost never depends on whether the user exists.
    pub(crate) async fn ensure_dummy(&self) -> Result<(), EngineError> {
        self.dummy
            .get_or_try_init(|| {
                let random = Zeroizing::new(secrethub_common::random_alnum(32));
                self.hash(random)
            })
            .await?;
        Ok(())
    }

    /// Whether `password` matches `stored`; with no stored hash (unknown user) it is checked
    /// against the dummy hash and the answer is always false.
    pub(crate) async fn verify(
        &self,
        password: Zeroizing<String>,
        stored: Option<String>,
    ) -> Result<bool, EngineError> {
        self.ensure_dummy().await?;
        let known = stored.is_some();
        let phc = match stored {
            Some(s) => s,
            // Set by `ensure_dummy` just above.
            None => self.dummy.get().cloned().unwrap_or_default(),
        };
        self.verifications.fetch_add(1, Ordering::Relaxed);
        let matched = self
            .blocking(move || {
                let parsed = PasswordHash::new(&phc).map_err(internal)?;
                Ok(argon2()?
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok())
            })
            .await?;
        Ok(known && matched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_salted_phc_strings_that_verify() {
        let p = Passwords::new();
        let a = p.hash(Zeroizing::new("hunter2".into())).await.unwrap();
        let b = p.hash(Zeroizing::new("hunter2".into())).await.unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b);
        assert!(p
            .verify(Zeroizing::new("hunter2".into()), Some(a.clone()))
            .await
            .unwrap());
        assert!(!p
            .verify(Zeroizing::new("hunter3".into()), Some(a))
            .await
            .unwrap());
        assert!(!p
            .verify(Zeroizing::new("hunter2".into()), None)
            .await
            .unwrap());
        assert_eq!(p.verifications(), 3);
    }
}
