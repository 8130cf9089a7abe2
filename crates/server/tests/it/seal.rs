//! Init, unseal (with a wrong key, reset, progress), seal, health codes, sealed 503s,
//! barrier key rotation.

use axum::http::StatusCode;
use serde_json::json;

use crate::harness::TestServer;

#[tokio::test]
async fn init_unseal_seal_lifecycle() {
    let t = TestServer::uninitialized();
    let (s, v) = t.req("GET", "sys/health", None, None).await;
    assert_eq!(
        (s, v["initialized"].clone()),
        (StatusCode::NOT_IMPLEMENTED, json!(false))
    );
    let (s, v) = t.req("GET", "sys/init", None, None).await;
    assert_eq!((s, v), (StatusCode::OK, json!({"initialized": false})));
    let (s, v) = t.req("GET", "secret/data/x", Some("whatever"), None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert_eq!(v, json!({"errors": ["Vault is sealed"]}));

    let (s, v) = t
        .req(
            "PUT",
            "sys/init",
            None,
            Some(json!({"secret_shares": 5, "secret_threshold": 3})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let keys: Vec<String> = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    let b64: Vec<String> = v["keys_base64"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    assert_eq!((keys.len(), b64.len()), (5, 5));
    let root = v["root_token"].as_str().unwrap().to_string();
    assert!(root.starts_with("hvs."));

    let (s, _) = t
        .req(
            "PUT",
            "sys/init",
            None,
            Some(json!({"secret_shares": 1, "secret_threshold": 1})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "a second init is refused");
    let (s, v) = t.req("GET", "sys/health", None, None).await;
    assert_eq!(
        (s, v["sealed"].clone()),
        (StatusCode::SERVICE_UNAVAILABLE, json!(true))
    );

    let (_, v) = t
        .req("PUT", "sys/unseal", None, Some(json!({"key": keys[0]})))
        .await;
    assert_eq!(
        (v["progress"].clone(), v["t"].clone(), v["n"].clone()),
        (json!(1), json!(3), json!(5))
    );

    // A key that is not a share is rejected and the progress is kept.
    let bogus = "ab".repeat(33);
    let (s, v) = t
        .req("PUT", "sys/unseal", None, Some(json!({"key": bogus})))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (_, v) = t.req("GET", "sys/seal-status", None, None).await;
    assert_eq!(
        (v["progress"].clone(), v["sealed"].clone()),
        (json!(1), json!(true))
    );
    let (s, _) = t
        .req(
            "PUT",
            "sys/unseal",
            None,
            Some(json!({"key": "not hex or base64!"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // The same share twice does not count twice; reset clears the progress.
    let (_, v) = t
        .req("PUT", "sys/unseal", None, Some(json!({"key": keys[0]})))
        .await;
    assert_eq!(v["progress"], json!(1));
    let (_, v) = t
        .req("PUT", "sys/unseal", None, Some(json!({"reset": true})))
        .await;
    assert_eq!(v["progress"], json!(0));

    // Base64 and hex shares mix.
    t.req("PUT", "sys/unseal", None, Some(json!({"key": b64[4]})))
        .await;
    t.req("PUT", "sys/unseal", None, Some(json!({"key": keys[2]})))
        .await;
    let (s, v) = t
        .req("PUT", "sys/unseal", None, Some(json!({"key": keys[1]})))
        .await;
    assert_eq!(
        (s, v["sealed"].clone(), v["progress"].clone()),
        (StatusCode::OK, json!(false), json!(0))
    );
    let (s, _) = t.req("GET", "sys/health", None, None).await;
    assert_eq!(s, StatusCode::OK);

    let (s, v) = t
        .req("GET", "auth/token/lookup-self", Some(&root), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["policies"], json!(["root"]));

    // Seal through the API (needs sudo: root has it), then everything is 503 again.
    let (s, _) = t.req("PUT", "sys/seal", Some(&root), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = t
        .req("GET", "auth/token/lookup-self", Some(&root), None)
        .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    let (s, _) = t.req("GET", "sys/health?sealedcode=299", None, None).await;
    assert_eq!(s.as_u16(), 299, "health codes can be overridden");

    for k in &keys[..3] {
        t.req("PUT", "sys/unseal", None, Some(json!({"key": k})))
            .await;
    }
    let (s, _) = t
        .req("GET", "auth/token/lookup-self", Some(&root), None)
        .await;
    assert_eq!(s, StatusCode::OK, "data survives seal/unseal");
}

#[tokio::test]
async fn rotate_keeps_old_data_readable() {
    let t = TestServer::dev().await;
    t.root(
        "POST",
        "secret/data/rot",
        Some(json!({"data": {"v": "before"}})),
    )
    .await;
    let (_, v) = t.root("GET", "sys/key-status", None).await;
    assert_eq!(v["data"]["term"], json!(1));
    // OpenBao sends the fields at the top level too (hvac reads `key_status['term']`).
    for field in ["term", "install_time", "encryptions"] {
        assert_eq!(v[field], v["data"][field], "{field} at the top level");
    }
    let (s, _) = t.root("POST", "sys/rotate", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, v) = t.root("GET", "sys/key-status", None).await;
    assert_eq!(v["data"]["term"], json!(2));
    t.root(
        "POST",
        "secret/data/rot2",
        Some(json!({"data": {"v": "after"}})),
    )
    .await;
    let (_, v) = t.root("GET", "secret/data/rot", None).await;
    assert_eq!(v["data"]["data"]["v"], "before");
    let (_, v) = t.root("GET", "secret/data/rot2", None).await;
    assert_eq!(v["data"]["data"]["v"], "after");
    let user = t.token_with(&["default"]).await;
    let (s, _) = t.req("POST", "sys/rotate", Some(&user), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "rotation needs sudo");
}

/// A sealed server answers 503 to every request without an ERROR line for each: polling
/// clients would fill the disk. The refusal is logged at debug.
#[tokio::test]
async fn sealed_answers_are_not_logged_as_errors() {
    use std::sync::{Arc, Mutex};

    #[derive(Clone)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("log buffer").extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    let t = TestServer::dev().await;
    let (s, _) = t.root("PUT", "sys/seal", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let buf = Buf(Arc::new(Mutex::new(Vec::new())));
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // The test runs on tokio's current-thread runtime, so a thread-local subscriber sees it all.
    let _guard = tracing::subscriber::set_default(subscriber);
    for _ in 0..3 {
        let (s, v) = t.root("GET", "secret/data/x", None).await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    }
    let logs = String::from_utf8_lossy(&buf.0.lock().expect("log buffer")).into_owned();
    assert!(!logs.contains("ERROR"), "{logs}");
    assert_eq!(logs.matches("request refused: sealed").count(), 3, "{logs}");
}
