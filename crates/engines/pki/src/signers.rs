//! Issuers ready to sign, kept between requests.
//!
//! Loading an issuer parses its key and certificate, and rcgen rebuilds the certificate
//! with one signature: together more than the rest of a `pki/issue` with an EC key. An
//! entry is used only while the stored issuer still has the same certificate and key, so an
//! issuer changed or replaced by any path is loaded again on its next use. The cache lives
//! in the engine instance, which the server drops when it seals.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::cert::LoadedIssuer;
use crate::error::Result;
use crate::records::IssuerRecord;

/// More issuers than a mount uses at once; past it the cache starts over.
const MAX_ENTRIES: usize = 64;

/// The mount's loaded issuers, by issuer id.
#[derive(Default)]
pub(crate) struct Signers {
    loaded: Mutex<HashMap<String, Arc<Entry>>>,
}

/// A loaded issuer and what it was loaded from.
pub(crate) struct Entry {
    certificate_pem: String,
    /// SHA-256 of the stored key, so the key text itself is not kept twice.
    key_digest: [u8; 32],
    pub(crate) issuer: LoadedIssuer,
}

fn key_digest(record: &IssuerRecord) -> [u8; 32] {
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        record.private_key.expose().as_bytes(),
    );
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

impl Signers {
    /// `record` ready to sign: from the cache when it was loaded from the same certificate
    /// and key, else loaded now (outside the lock) and kept.
    pub(crate) fn get(&self, record: &IssuerRecord) -> Result<Arc<Entry>> {
        let digest = key_digest(record);
        let fresh =
            |e: &Entry| e.certificate_pem == record.certificate_pem && e.key_digest == digest;
        if let Some(entry) = self.lock().get(&record.id).filter(|e| fresh(e)) {
            return Ok(entry.clone());
        }
        let entry = Arc::new(Entry {
            certificate_pem: record.certificate_pem.clone(),
            key_digest: digest,
            issuer: LoadedIssuer::load(record)?,
        });
        let mut loaded = self.lock();
        if loaded.len() >= MAX_ENTRIES {
            loaded.clear();
        }
        loaded.insert(record.id.clone(), entry.clone());
        Ok(entry)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Entry>>> {
        // The map holds no invariant a panicking holder could break.
        self.loaded.lock().unwrap_or_else(|e| e.into_inner())
    }
}
