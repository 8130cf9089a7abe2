//! `pki/tidy` and `pki/tidy-status`: certificates (`tidy_cert_store`) and revocation
//! entries (`tidy_revoked_certs`) whose certificate expired more than `safety_buffer` (72h
//! by default) ago are removed, an issuer's own certificate kept; CRLs are rebuilt when a
//! revocation entry went; used ACME nonces that have expired are forgotten. The tidy is done before Vault's 202 answer; `tidy-status`
//! answers the last one in OpenBao's shape.

use std::time::Duration;

use secrethub_common::serde_helpers::opt_duration;
use secrethub_common::{format_rfc3339, input, now_unix, now_unix_nanos};
use secrethub_engine::{Request, Response, TIDY_STARTED};
use secrethub_storage::{Storage as _, WriteOp};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{PkiError, Result};
use crate::records::{self, CertRecord, RevokedRecord, CERTS, REVOKED};

const STATUS: &str = "tidy/status";

/// The last tidy, for `tidy-status`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct TidyStatus {
    safety_buffer: u64,
    tidy_cert_store: bool,
    tidy_revoked_certs: bool,
    time_started: String,
    time_finished: String,
    cert_store_deleted_count: u64,
    revoked_cert_deleted_count: u64,
    current_cert_store_count: u64,
    current_revoked_cert_count: u64,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TidyInput {
    tidy_cert_store: bool,
    tidy_revoked_certs: bool,
    #[serde(deserialize_with = "opt_duration")]
    safety_buffer: Option<Duration>,
}

/// `tidy`: certificates (`tidy_cert_store`) and revocation entries (`tidy_revoked_certs`)
/// whose certificate expired more than `safety_buffer` (72h by default) ago are removed;
/// CRLs are rebuilt when a revocation entry went. Done before answering Vault's 202.
pub(crate) async fn tidy(req: &Request) -> Result<Response> {
    let input: TidyInput = input::decode(&req.body)?;
    if !input.tidy_cert_store && !input.tidy_revoked_certs {
        return Err(PkiError::invalid(
            "at least one operation must be enabled for tidy to run",
        ));
    }
    let buffer = input
        .safety_buffer
        .unwrap_or(Duration::from_secs(72 * 3600));
    let started = now_unix_nanos();
    let cutoff = now_unix() - buffer.as_secs() as i64;
    let mut batch = Vec::new();
    let mut revoked_gone = false;
    let (mut certs_gone, mut revocations_gone) = (0u64, 0u64);
    if input.tidy_cert_store {
        // An issuer's own certificate stays while the issuer does.
        let issuer_keys: Vec<String> = records::issuers(&req.storage)
            .await?
            .iter()
            .map(|i| records::serial_key(&i.serial_number))
            .collect();
        for key in secrethub_storage::list_all(&req.storage, CERTS).await? {
            let full = format!("{CERTS}{key}");
            if let Some(rec) = req.storage.get_json::<CertRecord>(&full).await? {
                if rec.not_after < cutoff && !issuer_keys.contains(&key) {
                    batch.push(WriteOp::Delete { key: full });
                    certs_gone += 1;
                }
            }
        }
    }
    if input.tidy_revoked_certs {
        for key in secrethub_storage::list_all(&req.storage, REVOKED).await? {
            let full = format!("{REVOKED}{key}");
            if let Some(rec) = req.storage.get_json::<RevokedRecord>(&full).await? {
                if rec.not_after < cutoff {
                    batch.push(WriteOp::Delete { key: full });
                    revoked_gone = true;
                    revocations_gone += 1;
                }
            }
        }
    }
    let removed = batch.len();
    if !batch.is_empty() {
        req.storage.apply(batch).await?;
    }
    if revoked_gone {
        for issuer in records::issuers(&req.storage).await? {
            crate::crl::rebuild(&req.storage, &issuer).await?;
        }
    }
    let nonces = crate::acme::store::forget_expired_nonces(&req.storage).await?;
    tracing::info!(removed, nonces, mount = %req.mount.path, "pki tidy finished");
    let status = TidyStatus {
        safety_buffer: buffer.as_secs(),
        tidy_cert_store: input.tidy_cert_store,
        tidy_revoked_certs: input.tidy_revoked_certs,
        time_started: format_rfc3339(started),
        time_finished: format_rfc3339(now_unix_nanos()),
        cert_store_deleted_count: certs_gone,
        revoked_cert_deleted_count: revocations_gone,
        current_cert_store_count: req.storage.count(CERTS).await? as u64,
        current_revoked_cert_count: req.storage.count(REVOKED).await? as u64,
    };
    req.storage.put_json(STATUS, &status).await?;
    Ok(Response::accepted(vec![TIDY_STARTED.to_string()]))
}

/// `tidy-status`: the last tidy in OpenBao's shape (`Inactive` before any); the ACME and
/// issuer fields of tidies this engine does not run are answered as OpenBao's defaults.
pub(crate) async fn status(req: &Request) -> Result<Response> {
    let last: Option<TidyStatus> = req.storage.get_json(STATUS).await?;
    let done = last.is_some();
    let s = last.unwrap_or_default();
    let when = |t: &str| if done { json!(t) } else { Value::Null };
    let count = |n: u64| if done { json!(n) } else { Value::Null };
    Ok(crate::paths::answer([
        ("acme_account_deleted_count", json!(0)),
        ("acme_account_revoked_count", json!(0)),
        ("acme_account_safety_buffer", json!(2_592_000)),
        ("acme_orders_deleted_count", json!(0)),
        (
            "cert_store_deleted_count",
            json!(s.cert_store_deleted_count),
        ),
        (
            "current_cert_store_count",
            count(s.current_cert_store_count),
        ),
        (
            "current_revoked_cert_count",
            count(s.current_revoked_cert_count),
        ),
        ("error", Value::Null),
        ("internal_backend_uuid", json!(req.mount.accessor)),
        ("issuer_safety_buffer", json!(31_536_000)),
        ("last_auto_tidy_finished", Value::Null),
        ("message", Value::Null),
        ("missing_issuer_cert_count", json!(0)),
        ("page_size", json!(1000)),
        ("pause_duration", json!("0s")),
        (
            "revoked_cert_deleted_count",
            json!(s.revoked_cert_deleted_count),
        ),
        ("revoked_safety_buffer", json!(s.safety_buffer)),
        ("safety_buffer", json!(s.safety_buffer)),
        ("state", json!(if done { "Finished" } else { "Inactive" })),
        ("tidy_acme", json!(false)),
        ("tidy_cert_store", json!(s.tidy_cert_store)),
        ("tidy_expired_issuers", json!(false)),
        ("tidy_invalid_certs", json!(false)),
        ("tidy_move_legacy_ca_bundle", json!(false)),
        ("tidy_revoked_cert_issuer_associations", json!(false)),
        ("tidy_revoked_certs", json!(s.tidy_revoked_certs)),
        ("time_finished", when(&s.time_finished)),
        ("time_started", when(&s.time_started)),
        ("total_acme_account_count", json!(0)),
    ]))
}
