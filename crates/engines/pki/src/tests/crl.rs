//! CRL settings and the rebuild timer: `config/crl` in Vault's shape, its `expiry` in the
//! next CRL, and `crl-rebuild/<issuer>` rebuilding a CRL only once it is within its grace
//! period.

use secrethub_engine::Operation::{Read, Update};
use secrethub_engine::TimerOutcome;
use serde_json::json;
use x509_parser::prelude::FromDer as _;
use x509_parser::revocation_list::CertificateRevocationList;

use super::Harness;

async fn crl_facts(h: &Harness) -> (i64, i64, u64) {
    let der = h
        .call(Read, "crl", json!({}))
        .await
        .unwrap()
        .raw
        .unwrap()
        .body;
    let (_, crl) = CertificateRevocationList::from_der(&der).unwrap();
    let this = crl.last_update().timestamp();
    let next = crl.next_update().unwrap().timestamp();
    let number = crl.crl_number().unwrap().to_u64_digits()[0];
    (this, next, number)
}

#[tokio::test]
async fn config_crl_sets_the_lifetime_and_the_timer_keeps_it_fresh() {
    let h = Harness::new();
    let root = h.root("ec").await;
    let shown = h.data(Read, "config/crl", json!({})).await;
    assert_eq!(shown["expiry"], "72h");
    assert_eq!(shown["ocsp_expiry"], "12h");
    assert_eq!(shown.len(), 9);
    let (this, next, first) = crl_facts(&h).await;
    assert_eq!(next - this, 72 * 3600);
    assert_eq!(
        h.error(Update, "config/crl", json!({"expiry": "bogus"}))
            .await,
        "given expiry could not be decoded: time: invalid duration \"bogus\""
    );
    let written = h.data(Update, "config/crl", json!({"expiry": "48h"})).await;
    assert_eq!(written["expiry"], "48h");
    let (this, next, second) = crl_facts(&h).await;
    assert_eq!(next - this, 48 * 3600);
    assert!(second > first);

    let key = format!("crl-rebuild/{}", root["issuer_id"].as_str().unwrap());
    let fresh = h.engine.on_timer(&key, &h.storage).await.unwrap();
    assert_eq!(
        fresh,
        TimerOutcome::NotDue {
            next: Some(next - 12 * 3600)
        }
    );
    let refused = h
        .error(
            Update,
            "config/crl",
            json!({"auto_rebuild_grace_period": "60h", "auto_rebuild": true}),
        )
        .await;
    assert!(refused.starts_with("CRL auto-rebuilding grace period (60h) must be strictly shorter"));
    // The CRL about to end: due.
    let crl_key = format!("crls/{}", root["issuer_id"].as_str().unwrap());
    let mut record: crate::records::CrlRecord =
        h.storage.get_json(&crl_key).await.unwrap().unwrap();
    record.next_update = secrethub_common::now_unix() + 60;
    h.storage.put_json(&crl_key, &record).await.unwrap();
    let (_, _, before) = crl_facts(&h).await;
    let ran = h.engine.on_timer(&key, &h.storage).await.unwrap();
    assert!(
        matches!(ran, TimerOutcome::Ran { next: Some(_) }),
        "{ran:?}"
    );
    assert_eq!(crl_facts(&h).await.2, before + 1);
    let gone = h
        .engine
        .on_timer("crl-rebuild/nope", &h.storage)
        .await
        .unwrap();
    assert_eq!(gone, TimerOutcome::NotDue { next: None });
    let other = h.engine.on_timer("something", &h.storage).await.unwrap();
    assert_eq!(other, TimerOutcome::NotDue { next: None });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_revocations_all_reach_the_crl() {
    let h = Harness::new();
    h.root("ec").await;
    h.data(
        Update,
        "roles/any",
        json!({"allow_any_name": true, "key_type": "ec", "ttl": "1h"}),
    )
    .await;
    let mut serials = Vec::new();
    for i in 0..12 {
        let issued = h
            .data(
                Update,
                "issue/any",
                json!({"common_name": format!("c{i}.test")}),
            )
            .await;
        serials.push(issued["serial_number"].as_str().unwrap().to_string());
    }
    let tasks: Vec<_> = serials
        .iter()
        .map(|s| {
            let engine = h.engine.clone();
            let req = h.request(Update, "revoke", json!({"serial_number": s}));
            tokio::spawn(async move { engine.handle(req).await.map(|_| ()) })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let der = h
        .call(Read, "crl", json!({}))
        .await
        .unwrap()
        .raw
        .unwrap()
        .body;
    let (_, crl) = CertificateRevocationList::from_der(&der).unwrap();
    let mut listed: Vec<String> = crl
        .iter_revoked_certificates()
        .map(|r| crate::cert::format_serial(r.raw_serial()))
        .collect();
    listed.sort();
    serials.sort();
    assert_eq!(listed, serials);
    // One number per build: the root's, then one per revocation.
    assert_eq!(crl_facts(&h).await.2, 1 + serials.len() as u64);
}
