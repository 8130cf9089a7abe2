//! KV v2 (versions, metadata, soft and hard deletion), `sys/mounts` and the status codes of
//! `ClientError::APIError`, through vaultrs.

use std::collections::HashMap;

use serde_json::{json, Value};
use vaultrs::api::kv2::requests::{SetSecretMetadataRequestBuilder, SetSecretRequestOptions};
use vaultrs::api::sys::requests::{EnableEngineDataConfigBuilder, EnableEngineRequestBuilder};
use vaultrs::api::token::requests::CreateTokenRequestBuilder;
use vaultrs::error::ClientError;
use vaultrs::{kv2, sys, token};

use super::{api_code, client, dev_server, status};
use crate::harness::unique_name;

#[tokio::test]
async fn vaultrs_kv2_set_read_versions_metadata_and_deletion() {
    let root = "vaultrs-kv-root";
    let (_dir, server) = dev_server(root).await;
    let vault = client(&server, root);
    let mount = unique_name("kv");
    let mut options = EnableEngineRequestBuilder::default();
    options.options(HashMap::from([("version".to_string(), "2".to_string())]));
    sys::mount::enable(&vault, &mount, "kv", Some(&mut options))
        .await
        .expect("enable kv v2");

    let first = kv2::set(&vault, &mount, "app/db", &json!({"password": "one"}))
        .await
        .expect("set v1");
    assert_eq!((first.version, first.destroyed), (1, false));
    assert_eq!(first.deletion_time, "");
    let second = kv2::set(&vault, &mount, "app/db", &json!({"password": "two"}))
        .await
        .expect("set v2");
    assert_eq!(second.version, 2);
    kv2::set(&vault, &mount, "app/api/key", &json!({"k": "v"}))
        .await
        .expect("set a nested secret");

    let latest: HashMap<String, String> = kv2::read(&vault, &mount, "app/db").await.expect("read");
    assert_eq!(latest["password"], "two");
    let old: HashMap<String, String> = kv2::read_version(&vault, &mount, "app/db", 1)
        .await
        .expect("read version 1");
    assert_eq!(old["password"], "one");

    // Check-and-set: a stale version is refused with 400, the current one is accepted.
    let stale = SetSecretRequestOptions { cas: 1 };
    let refused =
        kv2::set_with_options(&vault, &mount, "app/db", &json!({"password": "x"}), stale).await;
    assert_eq!(api_code(refused), 400);
    let third = kv2::set_with_options(
        &vault,
        &mount,
        "app/db",
        &json!({"password": "three"}),
        SetSecretRequestOptions { cas: 2 },
    )
    .await
    .expect("set with the current cas");
    assert_eq!(third.version, 3);

    let mut keys = kv2::list(&vault, &mount, "app").await.expect("list");
    keys.sort();
    assert_eq!(keys, ["api/", "db"]);

    let mut meta = SetSecretMetadataRequestBuilder::default();
    meta.max_versions(5_u64)
        .custom_metadata(HashMap::from([("owner".to_string(), "team-a".to_string())]));
    kv2::set_metadata(&vault, &mount, "app/db", Some(&mut meta))
        .await
        .expect("set metadata");
    let metadata = kv2::read_metadata(&vault, &mount, "app/db")
        .await
        .expect("read metadata");
    assert_eq!((metadata.current_version, metadata.max_versions), (3, 5));
    assert!(!metadata.cas_required);
    assert_eq!(
        metadata.custom_metadata,
        Some(HashMap::from([("owner".to_string(), "team-a".to_string())]))
    );
    let mut versions: Vec<&String> = metadata.versions.keys().collect();
    versions.sort();
    assert_eq!(versions, ["1", "2", "3"]);

    // Soft delete of the latest version, then undelete.
    kv2::delete_latest(&vault, &mount, "app/db")
        .await
        .expect("delete latest");
    let gone = kv2::read::<Value>(&vault, &mount, "app/db").await;
    assert_eq!(status(gone), 404);
    let metadata = kv2::read_metadata(&vault, &mount, "app/db").await.unwrap();
    assert_ne!(metadata.versions["3"].deletion_time, "");
    kv2::undelete_versions(&vault, &mount, "app/db", vec![3])
        .await
        .expect("undelete");
    let back: HashMap<String, String> = kv2::read(&vault, &mount, "app/db").await.unwrap();
    assert_eq!(back["password"], "three");

    // Destroy removes the data for good; delete_versions marks a version deleted.
    kv2::destroy_versions(&vault, &mount, "app/db", vec![1])
        .await
        .expect("destroy");
    kv2::delete_versions(&vault, &mount, "app/db", vec![2])
        .await
        .expect("delete version 2");
    let metadata = kv2::read_metadata(&vault, &mount, "app/db").await.unwrap();
    assert!(metadata.versions["1"].destroyed);
    assert!(!metadata.versions["2"].destroyed);
    assert_ne!(metadata.versions["2"].deletion_time, "");
    assert_eq!(
        status(kv2::read_version::<Value>(&vault, &mount, "app/db", 1).await),
        404
    );
    assert_eq!(
        status(kv2::read_version::<Value>(&vault, &mount, "app/db", 2).await),
        404
    );

    // Deleting the metadata removes every version and the key from the listing.
    kv2::delete_metadata(&vault, &mount, "app/db")
        .await
        .expect("delete metadata");
    assert_eq!(
        api_code(kv2::read_metadata(&vault, &mount, "app/db").await),
        404
    );
    assert_eq!(
        api_code(kv2::read::<Value>(&vault, &mount, "app/db").await),
        404
    );
    assert_eq!(
        kv2::list(&vault, &mount, "app").await.expect("list"),
        ["api/"]
    );
}

#[tokio::test]
async fn vaultrs_sys_mounts_enable_with_config_list_read_and_disable() {
    let root = "vaultrs-mounts-root";
    let (_dir, server) = dev_server(root).await;
    let vault = client(&server, root);
    let mount = unique_name("kvm");

    // vaultrs sends every unset field of `config` as JSON null.
    let config = EnableEngineDataConfigBuilder::default()
        .default_lease_ttl("1h")
        .max_lease_ttl("2h")
        .build()
        .expect("mount config");
    let mut request = EnableEngineRequestBuilder::default();
    request
        .description("vaultrs mount")
        .config(config)
        .options(HashMap::from([("version".to_string(), "2".to_string())]));
    sys::mount::enable(&vault, &mount, "kv", Some(&mut request))
        .await
        .expect("enable with config");

    let mounts = sys::mount::list(&vault).await.expect("list mounts");
    let entry = &mounts[&format!("{mount}/")];
    assert_eq!(entry.mount_type, "kv");
    assert_eq!(entry.description, "vaultrs mount");
    assert_eq!(
        (entry.config.default_lease_ttl, entry.config.max_lease_ttl),
        (3600, 7200)
    );
    assert_eq!(
        entry.options.as_ref().and_then(|o| o.get("version")),
        Some(&"2".to_string())
    );
    assert_eq!(mounts["secret/"].mount_type, "kv");
    assert_eq!(mounts["sys/"].mount_type, "system");

    let read = sys::mount::get_configuration_of_a_secret_engine(&vault, &mount)
        .await
        .expect("read the mount");
    assert_eq!(
        (read.mount_type.as_str(), read.uuid.as_str()),
        ("kv", entry.uuid.as_str())
    );
    assert_eq!(read.accessor, entry.accessor);

    // The same path twice is a 400, an unknown engine type too.
    let again = sys::mount::enable(&vault, &mount, "kv", None).await;
    assert_eq!(api_code(again), 400);
    let unknown = sys::mount::enable(&vault, &unique_name("nope"), "no-such-engine", None).await;
    assert_eq!(api_code(unknown), 400);

    sys::mount::disable(&vault, &mount).await.expect("disable");
    let mounts = sys::mount::list(&vault).await.expect("list mounts");
    assert!(!mounts.contains_key(&format!("{mount}/")));
}

#[tokio::test]
async fn vaultrs_api_errors_carry_vaults_status_codes() {
    let root = "vaultrs-errors-root";
    let (_dir, server) = dev_server(root).await;
    let vault = client(&server, root);

    // 404 with an empty error list, as Vault answers a missing secret.
    match kv2::read::<Value>(&vault, "secret", "no/such/secret").await {
        Err(ClientError::APIError { code, errors }) => {
            assert_eq!((code, errors.is_empty()), (404, true), "{errors:?}");
        }
        other => panic!("expected a 404 APIError, got {other:?}"),
    }

    // 403 with a message for a token whose policies do not allow the path.
    sys::policy::set(
        &vault,
        "vaultrs-read-only",
        "path \"secret/data/open\" { capabilities = [\"read\"] }",
    )
    .await
    .expect("write a policy");
    kv2::set(&vault, "secret", "open", &json!({"a": "b"}))
        .await
        .unwrap();
    kv2::set(&vault, "secret", "closed", &json!({"c": "d"}))
        .await
        .unwrap();
    let mut request = CreateTokenRequestBuilder::default();
    request.policies(vec!["vaultrs-read-only".to_string()]);
    let limited = token::new(&vault, Some(&mut request)).await.unwrap();
    let as_limited = client(&server, &limited.client_token);
    let open: HashMap<String, String> = kv2::read(&as_limited, "secret", "open").await.unwrap();
    assert_eq!(open["a"], "b");
    match kv2::read::<Value>(&as_limited, "secret", "closed").await {
        Err(ClientError::APIError { code, errors }) => {
            assert_eq!(code, 403);
            assert!(
                errors.iter().any(|e| e.contains("permission denied")),
                "{errors:?}"
            );
        }
        other => panic!("expected a 403 APIError, got {other:?}"),
    }
    let write = kv2::set(&as_limited, "secret", "open", &json!({"a": "x"})).await;
    assert_eq!(api_code(write), 403);
    let bad_token = client(&server, "not-a-token");
    assert_eq!(
        api_code(kv2::read::<Value>(&bad_token, "secret", "open").await),
        403
    );

    // 400 for a request Vault refuses as invalid.
    let destroy_nothing = kv2::destroy_versions(&vault, "secret", "open", Vec::new()).await;
    assert_eq!(api_code(destroy_nothing), 400);
    let unknown_engine =
        sys::mount::enable(&vault, &unique_name("bad"), "no-such-engine", None).await;
    assert_eq!(api_code(unknown_engine), 400);
}
