//! A lease shorter than the engine asked for says so: when the mount's max TTL caps a new
//! lease, the answer carries Vault's warning instead of a silently shorter lease.

use axum::http::StatusCode;
use serde_json::json;

use crate::leases::{creds, with_engine};

#[tokio::test]
async fn a_ttl_capped_by_the_mount_max_is_a_warning() {
    let t = with_engine().await;
    let (s, v) = t
        .root(
            "POST",
            "sys/mounts/database/tune",
            Some(json!({"max_lease_ttl": "1h"})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let root = t.root.clone();

    let (_, v) = creds(&t, &root, "ro", json!({"ttl": "2h"})).await;
    assert_eq!(v["lease_duration"], json!(3600));
    assert_eq!(
        v["warnings"],
        json!(["TTL of \"2h0m0s\" exceeded the effective max_ttl of \"1h0m0s\"; TTL value is capped accordingly"])
    );

    // Within the max: no warning.
    let (_, v) = creds(&t, &root, "ro", json!({"ttl": "30m"})).await;
    assert_eq!(v["lease_duration"], json!(1800));
    assert!(v["warnings"].is_null(), "{v}");
}
