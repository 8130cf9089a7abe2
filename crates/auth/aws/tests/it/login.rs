//! IAM logins against a real moto server with signature checking on.

use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use secrethub_auth_aws::AwsCredentials;
use secrethub_engine::{LoginAuth, LoginRenewal};
use serde_json::{json, Value};

use crate::harness::{edit_headers, login_body, login_body_at, moto, unique, Mount, ACCOUNT};

const SERVER_ID: &str = "secrethub.example.com";

fn renewal(auth: &LoginAuth) -> LoginRenewal {
    LoginRenewal {
        internal: auth.internal.clone(),
        alias: auth.alias.clone(),
        metadata: auth.metadata.clone(),
        token_policies: auth.token.token_policies.clone(),
        remote_addr: None,
    }
}

/// A mount pointed at moto with a role `role` binding `bounds`.
async fn mount_with_role(role: &str, bounds: Value, server_id: Option<&str>) -> Mount {
    let m = Mount::new();
    m.configure(moto().await, server_id).await;
    m.write(
        &format!("role/{role}"),
        json!({ "bound_iam_principal_arn": bounds, "token_policies": "dev,ops", "token_ttl": "1h" }),
    )
    .await;
    m
}

#[tokio::test]
async fn iam_user_logs_in_when_bound_exactly() {
    let moto = moto().await;
    let name = unique("exact");
    let (arn, key) = moto.user(&name, "/team/").await;
    assert_eq!(arn, format!("arn:aws:iam::{ACCOUNT}:user/team/{name}"));
    let canonical = format!("arn:aws:iam::{ACCOUNT}:user/{name}");
    let m = mount_with_role("dev", json!([canonical]), None).await;
    let role_id = m.read("role/dev").await["role_id"]
        .as_str()
        .unwrap()
        .to_string();

    let auth = m.login(login_body(&key, None, "Dev")).await.expect("login");
    assert_eq!(auth.display_name, name);
    assert_eq!(auth.alias.name, role_id, "iam_alias defaults to role_id");
    assert_eq!(
        serde_json::to_value(&auth.alias.metadata).unwrap(),
        json!({"account_id": ACCOUNT, "auth_type": "iam"})
    );
    let meta = serde_json::to_value(&auth.metadata).unwrap();
    assert_eq!(meta["account_id"], ACCOUNT);
    assert_eq!(meta["auth_type"], "iam");
    assert_eq!(meta["canonical_arn"], canonical.as_str());
    assert_eq!(meta["client_arn"], arn.as_str());
    let user_id = meta["client_user_id"].as_str().unwrap();
    assert!(!user_id.is_empty() && !user_id.contains(':'), "{user_id}");
    assert_eq!(meta["inferred_entity_type"], "");
    assert_eq!(meta["role"], "dev");
    assert_eq!(auth.token.token_policies, ["dev", "ops"]);
    assert_eq!(auth.token.token_ttl, 3600);

    // The full ARN, with its path, binds the user too.
    let m2 = mount_with_role("dev", json!([arn]), None).await;
    m2.login(login_body(&key, None, "dev"))
        .await
        .expect("login by full ARN");
}

#[tokio::test]
async fn iam_user_logs_in_through_a_glob_and_the_role_can_be_inferred() {
    let moto = moto().await;
    let prefix = unique("glob");
    let name = format!("{prefix}-alice");
    let (_, key) = moto.user(&name, "/").await;
    let m = mount_with_role(
        "globbed",
        json!([format!("arn:aws:iam::{ACCOUNT}:user/{prefix}-*")]),
        None,
    )
    .await;
    m.login(login_body(&key, None, "globbed"))
        .await
        .expect("glob login");

    // A glob for another prefix does not admit the user.
    m.write(
        "role/globbed",
        json!({"bound_iam_principal_arn": format!("arn:aws:iam::{ACCOUNT}:user/{prefix}-bob*")}),
    )
    .await;
    let e = m
        .login(login_body(&key, None, "globbed"))
        .await
        .unwrap_err();
    assert!(e.contains("is not bound to role \"globbed\""), "{e}");

    // Without `role`, the role is the caller's (lower-cased) user name.
    m.write(
        &format!("role/{name}"),
        json!({"bound_iam_principal_arn": format!("arn:aws:iam::{ACCOUNT}:*")}),
    )
    .await;
    let auth = m
        .login(login_body(&key, None, ""))
        .await
        .expect("inferred role");
    assert_eq!(auth.metadata["role"], name);
}

#[tokio::test]
async fn assumed_role_credentials_match_the_role_arn() {
    let moto = moto().await;
    let role_name = unique("deploy");
    let (role_arn, creds) = moto.assumed_role(&role_name, "ci-run-1").await;
    assert!(creds.access_key_id.starts_with("ASIA"), "{creds:?}");
    let m = mount_with_role("deploy", json!([role_arn]), Some(SERVER_ID)).await;
    m.write("config/identity", json!({"iam_alias": "full_arn"}))
        .await;

    let auth = m
        .login(login_body(&creds, Some(SERVER_ID), "deploy"))
        .await
        .expect("assumed-role login");
    let client_arn = format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/ci-run-1");
    assert_eq!(auth.metadata["client_arn"], client_arn);
    assert_eq!(auth.metadata["canonical_arn"], role_arn);
    assert_eq!(auth.alias.name, client_arn, "iam_alias=full_arn");
    assert_eq!(auth.display_name, role_name);
    assert!(!auth.metadata["client_user_id"].contains(':'));

    // The assumed-role ARN itself is not a valid binding: roles are matched canonically.
    m.write(
        "role/deploy",
        json!({"bound_iam_principal_arn": client_arn}),
    )
    .await;
    let e = m
        .login(login_body(&creds, Some(SERVER_ID), "deploy"))
        .await
        .unwrap_err();
    assert!(e.contains("is not bound"), "{e}");
}

#[tokio::test]
async fn wrong_secret_key_and_unknown_key_are_refused_with_the_sts_code() {
    let moto = moto().await;
    let name = unique("wrongkey");
    let (arn, key) = moto.user(&name, "/").await;
    let m = mount_with_role("r", json!([arn]), None).await;

    let forged = AwsCredentials {
        access_key_id: key.access_key_id.clone(),
        secret_access_key: "not-the-secret-key".into(),
        session_token: None,
    };
    let e = m.login(login_body(&forged, None, "r")).await.unwrap_err();
    assert_eq!(
        e,
        "PermissionDenied: permission denied: sts rejected the login request: \
         SignatureDoesNotMatch (HTTP 403)"
    );
    assert!(!e.contains(&key.secret_access_key));

    let unknown = AwsCredentials {
        access_key_id: "AKIAUNKNOWNKEY000000".into(),
        secret_access_key: "whatever".into(),
        session_token: None,
    };
    let e = m.login(login_body(&unknown, None, "r")).await.unwrap_err();
    assert_eq!(
        e,
        "PermissionDenied: permission denied: sts rejected the login request: \
         InvalidClientTokenId (HTTP 403)"
    );
}

#[tokio::test]
async fn server_id_header_must_be_present_equal_and_signed() {
    let moto = moto().await;
    let name = unique("serverid");
    let (arn, key) = moto.user(&name, "/").await;
    let m = mount_with_role("r", json!([arn]), Some(SERVER_ID)).await;

    m.login(login_body(&key, Some(SERVER_ID), "r"))
        .await
        .expect("right server ID");

    let e = m.login(login_body(&key, None, "r")).await.unwrap_err();
    assert_eq!(
        e,
        "PermissionDenied: permission denied: missing X-Vault-AWS-IAM-Server-ID header"
    );

    let e = m
        .login(login_body(&key, Some("other.example.com"), "r"))
        .await
        .unwrap_err();
    assert_eq!(
        e,
        "PermissionDenied: permission denied: invalid X-Vault-AWS-IAM-Server-ID header: expected \
         \"secrethub.example.com\" but got \"other.example.com\""
    );

    // Added after signing: present and equal, but not covered by the signature.
    let mut body = login_body(&key, None, "r");
    edit_headers(&mut body, |h| {
        h.insert("X-Vault-AWS-IAM-Server-ID".into(), json!([SERVER_ID]));
    });
    let e = m.login(body).await.unwrap_err();
    assert!(
        e.starts_with(
            "PermissionDenied: permission denied: the X-Vault-AWS-IAM-Server-ID header is not signed"
        ),
        "{e}"
    );

    // Changed after signing: our checks pass, STS refuses the signature.
    let mut body = login_body(&key, Some("other.example.com"), "r");
    edit_headers(&mut body, |h| {
        h.insert("X-Vault-AWS-IAM-Server-ID".into(), json!([SERVER_ID]));
    });
    let e = m.login(body).await.unwrap_err();
    assert!(e.contains("SignatureDoesNotMatch"), "{e}");
}

#[tokio::test]
async fn only_get_caller_identity_is_forwarded() {
    let moto = moto().await;
    let name = unique("action");
    let (arn, key) = moto.user(&name, "/").await;
    let m = mount_with_role("r", json!([arn]), None).await;

    let mut body = login_body(&key, None, "r");
    body.insert(
        "iam_request_body".into(),
        STANDARD
            .encode("Action=AssumeRole&Version=2011-06-15")
            .into(),
    );
    let e = m.login(body).await.unwrap_err();
    assert_eq!(
        e,
        "BadRequest: invalid iam_request_body: Action must be GetCallerIdentity, got \"AssumeRole\""
    );

    let mut body = login_body(&key, None, "r");
    body.insert("iam_http_request_method".into(), "GET".into());
    let e = m.login(body).await.unwrap_err();
    assert_eq!(
        e,
        "BadRequest: invalid iam_http_request_method: only POST is supported"
    );

    let mut body = login_body(&key, None, "r");
    body.insert(
        "iam_request_url".into(),
        STANDARD
            .encode("https://sts.amazonaws.com/?Action=AssumeRole")
            .into(),
    );
    let e = m.login(body).await.unwrap_err();
    assert_eq!(
        e,
        "BadRequest: invalid iam_request_url: the path must be / with no query"
    );
}

#[tokio::test]
async fn stale_and_future_requests_are_refused() {
    let moto = moto().await;
    let name = unique("stale");
    let (arn, key) = moto.user(&name, "/").await;
    let m = mount_with_role("r", json!([arn]), None).await;

    let twenty_min = Duration::from_secs(20 * 60);
    for at in [
        SystemTime::now() - twenty_min,
        SystemTime::now() + twenty_min,
    ] {
        let e = m
            .login(login_body_at(&key, None, "r", at))
            .await
            .unwrap_err();
        assert!(
            e.starts_with("BadRequest: the request was signed at "),
            "{e}"
        );
        assert!(e.contains("more than 15 minutes"), "{e}");
    }
    // Ten minutes of skew is within the window.
    let at = SystemTime::now() - Duration::from_secs(10 * 60);
    m.login(login_body_at(&key, None, "r", at))
        .await
        .expect("within 15 minutes");
}

#[tokio::test]
async fn arn_not_bound_and_unknown_role_are_refused() {
    let moto = moto().await;
    let name = unique("unbound");
    let (arn, key) = moto.user(&name, "/").await;
    let m = mount_with_role(
        "r",
        json!([format!("arn:aws:iam::{ACCOUNT}:user/someone-else")]),
        None,
    )
    .await;
    let e = m.login(login_body(&key, None, "r")).await.unwrap_err();
    assert_eq!(
        e,
        format!(
            "PermissionDenied: permission denied: IAM principal {arn:?} is not bound to role \"r\""
        )
    );

    let e = m
        .login(login_body(&key, None, "missing"))
        .await
        .unwrap_err();
    assert_eq!(e, "BadRequest: entry for role \"missing\" not found");
}

#[tokio::test]
async fn renewal_rechecks_the_role_and_its_bindings() {
    let moto = moto().await;
    let name = unique("renew");
    let (arn, key) = moto.user(&name, "/").await;
    let m = mount_with_role("r", json!([arn]), None).await;
    let auth = m.login(login_body(&key, None, "r")).await.expect("login");
    let login = renewal(&auth);

    let params = m
        .engine
        .renew_login(&login, &m.storage)
        .await
        .expect("renews");
    assert_eq!(params.token_policies, ["dev", "ops"]);

    m.write(
        "role/r",
        json!({"bound_iam_principal_arn": format!("arn:aws:iam::{ACCOUNT}:user/other")}),
    )
    .await;
    let e = m.engine.renew_login(&login, &m.storage).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("permission denied: IAM principal {arn:?} is no longer bound to role \"r\"")
    );

    m.write("role/r", json!({"bound_iam_principal_arn": arn}))
        .await;
    m.engine
        .renew_login(&login, &m.storage)
        .await
        .expect("bound again");

    m.call(secrethub_engine::Operation::Delete, "role/r", Value::Null)
        .await
        .expect("delete");
    let e = m.engine.renew_login(&login, &m.storage).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "permission denied: role \"r\" no longer exists"
    );

    m.write("role/r", json!({"bound_iam_principal_arn": arn}))
        .await;
    let e = m.engine.renew_login(&login, &m.storage).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "permission denied: role \"r\" was deleted and re-created since this login"
    );
}

#[tokio::test]
async fn unreachable_sts_is_unavailable() {
    let m = Mount::new();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    m.write(
        "config/client",
        json!({"sts_endpoint": format!("http://127.0.0.1:{port}"), "max_retries": 0}),
    )
    .await;
    m.write(
        "role/r",
        json!({"bound_iam_principal_arn": format!("arn:aws:iam::{ACCOUNT}:*")}),
    )
    .await;
    let creds = AwsCredentials {
        access_key_id: "AKIAEXAMPLE".into(),
        secret_access_key: "secret".into(),
        session_token: None,
    };
    let e = m.login(login_body(&creds, None, "r")).await.unwrap_err();
    assert_eq!(e, "Unavailable: upstream error: sts endpoint");
}
