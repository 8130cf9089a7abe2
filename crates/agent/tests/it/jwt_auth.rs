//! Auto-auth with the jwt and kubernetes methods against the real in-process server and the
//! real auth method crates: the JWT is signed here with a key whose public half the jwt mount
//! is configured with, and service account tokens are checked by a small local HTTPS
//! Kubernetes API (TokenReview only) with a certificate made at test time. Each login reads
//! the token file anew, and a refused login names the cause without the token.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrethub_agent::auto_auth::{AuthTiming, AutoAuth};
use secrethub_common::ErrorKind;
use secrethub_config::agent::{AuthMethodConfig, AutoAuthConfig, SinkConfig};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::server::{eventually, sink_path, unique, TestServer};

const DEADLINE: Duration = Duration::from_secs(20);
const AUDIENCE: &str = "secrethub-agent";

/// Fast retries, so a failing login is attempted again well within a test.
fn fast() -> AuthTiming {
    AuthTiming {
        backoff_initial: Duration::from_millis(20),
        backoff_max: Duration::from_millis(100),
    }
}

/// Replaces `path` by a file holding `text`, written aside and renamed so that a login never
/// reads half a token.
fn replace_file(path: &Path, text: &str) {
    let aside = path.with_extension("new");
    std::fs::write(&aside, text).expect("write token aside");
    std::fs::rename(&aside, path).expect("rename token");
}

/// An auto-auth configuration for `method` at `mount_path` with one sink in `dir`.
fn config(dir: &Path, method: AuthMethodConfig, mount_path: &str) -> AutoAuthConfig {
    AutoAuthConfig {
        method,
        mount_path: mount_path.into(),
        sinks: vec![SinkConfig {
            path: sink_path(dir),
            mode: 0o600,
        }],
    }
}

/// `auth/token/lookup-self` presenting `token`.
async fn lookup_self(server: &TestServer, token: &str) -> Value {
    server
        .client_with(token)
        .read("auth/token/lookup-self")
        .await
        .expect("lookup-self")
        .expect("lookup-self answer")
}

/// The alias names of the entity `lookup-self` (`me`) points at, read as root.
async fn alias_names(server: &TestServer, me: &Value) -> Vec<String> {
    let entity_id = me["data"]["entity_id"].as_str().expect("entity_id");
    assert!(!entity_id.is_empty(), "a login token has an entity: {me}");
    let entity = server
        .root_client()
        .read(&format!("identity/entity/id/{entity_id}"))
        .await
        .expect("entity read")
        .expect("entity");
    entity["data"]["aliases"]
        .as_array()
        .expect("aliases")
        .iter()
        .map(|a| a["name"].as_str().expect("alias name").to_string())
        .collect()
}

/// Checks that `text` holds no part of `token` (header, claims or signature).
fn assert_no_token(text: &str, token: &str) {
    for part in token.split('.').filter(|p| p.len() >= 8) {
        assert!(!text.contains(part), "token text in {text}");
    }
}

// ---------------------------------------------------------------------------------------------
// jwt

/// An identity provider's ES256 signing key; the server is given only its public PEM.
struct JwtSigner {
    key: EncodingKey,
    public_pem: String,
}

impl JwtSigner {
    fn new() -> Self {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        JwtSigner {
            key: EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).expect("pem"),
            public_pem: pair.public_key_pem(),
        }
    }

    /// A JWT for workload `sub` in environment `env`, valid for five minutes.
    fn token(&self, sub: &str, env: &str) -> String {
        let now = secrethub_common::now_unix();
        let claims = json!({
            "iss": "https://idp.example.com",
            "aud": AUDIENCE,
            "sub": sub,
            "env": env,
            "team": "payments",
            "iat": now,
            "nbf": now - 5,
            "exp": now + 300,
        });
        jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims, &self.key).expect("signing")
    }
}

/// Enables `auth/jwt` with the signer's public key and a role `role` for production
/// workloads of team payments, whose tokens get `policy` for an hour.
async fn jwt_mount(server: &TestServer, signer: &JwtSigner, role: &str, policy: &str) {
    server
        .policy(
            policy,
            "path \"secret/data/app\" { capabilities = [\"read\"] }",
        )
        .await;
    let root = server.root_client();
    root.write("sys/auth/jwt", &json!({"type": "jwt"}))
        .await
        .expect("enable jwt");
    root.write(
        "auth/jwt/config",
        &json!({"jwt_validation_pubkeys": [signer.public_pem]}),
    )
    .await
    .expect("jwt config");
    root.write(
        &format!("auth/jwt/role/{role}"),
        &json!({
            "role_type": "jwt",
            "user_claim": "sub",
            "bound_audiences": [AUDIENCE],
            "bound_claims": {"env": "production", "team": "payments"},
            "claim_mappings": {"env": "environment"},
            "token_policies": [policy],
            "token_ttl": "1h",
        }),
    )
    .await
    .expect("jwt role");
}

fn jwt_method(dir: &Path, role: &str) -> AuthMethodConfig {
    AuthMethodConfig::Jwt {
        path: dir.join("jwt"),
        role: role.into(),
    }
}

#[tokio::test]
async fn jwt_login_writes_the_sink_and_a_reauthentication_reads_the_new_jwt() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let signer = JwtSigner::new();
    let (role, policy) = (unique("jwtrole"), unique("jwtpolicy"));
    jwt_mount(&server, &signer, &role, &policy).await;
    let first_sub = unique("workload-a-");
    replace_file(
        &dir.path().join("jwt"),
        &format!("{}\n", signer.token(&first_sub, "production")),
    );

    let shutdown = CancellationToken::new();
    let auth = AutoAuth::new(
        server.client(),
        config(dir.path(), jwt_method(dir.path(), &role), "auth/jwt"),
    );
    let (handle, task) = auth.spawn(shutdown.clone());
    let first = handle.wait_for_token().await.expect("token");
    let sink = eventually(DEADLINE, "the sink", || async {
        std::fs::read_to_string(sink_path(dir.path()))
            .ok()
            .filter(|t| t == first.expose())
    })
    .await;

    let me = lookup_self(&server, &sink).await;
    assert_eq!(me["data"]["path"], json!("auth/jwt/login"), "{me}");
    assert_eq!(me["data"]["policies"], json!(["default", policy]), "{me}");
    assert_eq!(me["data"]["creation_ttl"], json!(3600), "{me}");
    assert_eq!(
        me["data"]["display_name"],
        json!(format!("jwt-{first_sub}")),
        "{me}"
    );
    assert_eq!(
        me["data"]["meta"],
        json!({"role": role, "environment": "production"}),
        "{me}"
    );
    assert_eq!(alias_names(&server, &me).await, vec![first_sub.clone()]);
    // The token reaches what the policy grants and nothing else.
    let denied = server
        .client_with(&sink)
        .read("sys/mounts")
        .await
        .expect_err("sys/mounts is not granted");
    assert_eq!(denied.kind(), ErrorKind::PermissionDenied, "{denied}");

    // The identity provider issued a new JWT (another workload); a re-login must send it.
    let second_sub = unique("workload-b-");
    replace_file(
        &dir.path().join("jwt"),
        &signer.token(&second_sub, "production"),
    );
    handle.reauthenticate();
    let mut rx = handle.token();
    let second = tokio::time::timeout(DEADLINE, rx.wait_for(|t| t.as_ref() != Some(&first)))
        .await
        .expect("a second login in time")
        .expect("auto-auth running")
        .clone()
        .expect("token");
    let me = lookup_self(&server, second.expose()).await;
    assert_eq!(
        me["data"]["display_name"],
        json!(format!("jwt-{second_sub}")),
        "{me}"
    );
    assert_eq!(alias_names(&server, &me).await, vec![second_sub]);
    eventually(DEADLINE, "the sink to hold the new token", || async {
        std::fs::read_to_string(sink_path(dir.path()))
            .ok()
            .filter(|t| t == second.expose())
    })
    .await;

    shutdown.cancel();
    task.await.expect("auto-auth task");
}

#[tokio::test]
async fn a_jwt_failing_the_bound_claims_is_refused_without_showing_it_and_retried() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let signer = JwtSigner::new();
    let (role, policy) = (unique("jwtrole"), unique("jwtpolicy"));
    jwt_mount(&server, &signer, &role, &policy).await;
    let staging = signer.token(&unique("workload-"), "staging");
    replace_file(&dir.path().join("jwt"), &staging);
    let auth = AutoAuth::new(
        server.client(),
        config(dir.path(), jwt_method(dir.path(), &role), "auth/jwt"),
    )
    .with_timing(fast());

    let err = auth
        .login_once()
        .await
        .expect_err("env=staging is not bound");
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("auth/jwt/login"), "{shown}");
    assert!(
        shown.contains("claim \"env\" does not match"),
        "the cause is named: {shown}"
    );
    assert_no_token(&shown, &staging);

    // The agent keeps retrying, reading the file each time: a valid JWT gets it in.
    let shutdown = CancellationToken::new();
    let (handle, task) = auth.spawn(shutdown.clone());
    assert!(handle.current().is_none());
    let sub = unique("workload-");
    replace_file(&dir.path().join("jwt"), &signer.token(&sub, "production"));
    let token = tokio::time::timeout(DEADLINE, handle.wait_for_token())
        .await
        .expect("login after the retry")
        .expect("token");
    let me = lookup_self(&server, token.expose()).await;
    assert_eq!(me["data"]["display_name"], json!(format!("jwt-{sub}")));
    shutdown.cancel();
    task.await.expect("auto-auth task");
}

// ---------------------------------------------------------------------------------------------
// kubernetes

/// The bearer token the fake cluster accepts for TokenReviews (`token_reviewer_jwt`).
const REVIEWER_JWT: &str = "eyJhbGciOiJSUzI1NiJ9.agent-test-reviewer.signature";

/// A service account the fake cluster knows.
#[derive(Clone)]
struct Account {
    namespace: String,
    name: String,
    uid: String,
}

type Accounts = Arc<BTreeMap<String, Account>>;

/// A local stand-in for the Kubernetes API server (no cluster runs here): HTTPS with a
/// certificate for 127.0.0.1 signed by a CA made at test time, serving only
/// `POST /apis/authentication.k8s.io/v1/tokenreviews` as documented.
struct FakeCluster {
    /// `https://127.0.0.1:<port>`.
    url: String,
    ca_pem: String,
    task: JoinHandle<()>,
}

impl Drop for FakeCluster {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeCluster {
    /// Serves TokenReviews for `accounts` (service account token → account).
    async fn start(accounts: BTreeMap<String, Account>) -> FakeCluster {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType,
        };
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca.distinguished_name
            .push(DnType::CommonName, "agent test kubernetes ca");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate().expect("ca key");
        let ca_cert = ca.self_signed(&ca_key).expect("ca certificate");
        let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).expect("leaf");
        leaf.subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        let leaf_key = KeyPair::generate().expect("leaf key");
        let leaf_cert = leaf
            .signed_by(&leaf_key, &ca_cert, &ca_key)
            .expect("leaf certificate");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf_cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
            )
            .expect("server certificate");
        let acceptor = TlsAcceptor::from(Arc::new(tls));
        let app = Router::new()
            .route(
                "/apis/authentication.k8s.io/v1/tokenreviews",
                post(token_review),
            )
            .with_state(Arc::new(accounts));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("local addr").port();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, app) = (acceptor.clone(), app.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let _ = Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), TowerToHyperService::new(app))
                        .await;
                });
            }
        });
        FakeCluster {
            url: format!("https://127.0.0.1:{port}"),
            ca_pem: ca_cert.pem(),
            task,
        }
    }
}

/// `POST tokenreviews`: the caller must present the reviewer token (401 otherwise, as the
/// API server answers an unknown bearer); the reviewed token is authenticated when known.
async fn token_review(
    State(accounts): State<Accounts>,
    headers: HeaderMap,
    Json(review): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if bearer != Some(REVIEWER_JWT) {
        let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": "Unauthorized", "reason": "Unauthorized", "code": 401});
        return (StatusCode::UNAUTHORIZED, Json(status));
    }
    let token = review["spec"]["token"].as_str().unwrap_or_default();
    let status = match accounts.get(token) {
        Some(a) => json!({
            "authenticated": true,
            "user": {
                "username": format!("system:serviceaccount:{}:{}", a.namespace, a.name),
                "uid": a.uid,
                "groups": ["system:serviceaccounts",
                    format!("system:serviceaccounts:{}", a.namespace), "system:authenticated"],
            },
            "audiences": ["https://kubernetes.default.svc.cluster.local"],
        }),
        None => json!({"user": {}, "error": "[invalid bearer token, token lookup failed]"}),
    };
    (
        StatusCode::CREATED,
        Json(json!({
            "kind": "TokenReview",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"creationTimestamp": null},
            "spec": review["spec"].clone(),
            "status": status,
        })),
    )
}

/// A service account token shaped like a JWT, unique per test.
fn service_account_token(name: &str) -> String {
    format!(
        "eyJhbGciOiJSUzI1NiJ9.{}.{}",
        unique(name),
        secrethub_common::random_alnum(24)
    )
}

fn kubernetes_method(role: &str, token_path: PathBuf) -> AuthMethodConfig {
    AuthMethodConfig::Kubernetes {
        role: role.into(),
        token_path,
    }
}

#[tokio::test]
async fn kubernetes_login_with_the_token_file_and_an_unknown_token_is_refused() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (namespace, account) = (unique("ns"), unique("web"));
    let known = service_account_token("known");
    let cluster = FakeCluster::start(BTreeMap::from([(
        known.clone(),
        Account {
            namespace: namespace.clone(),
            name: account.clone(),
            uid: unique("uid-"),
        },
    )]))
    .await;
    let (role, policy) = (unique("k8srole"), unique("k8spolicy"));
    server
        .policy(
            &policy,
            "path \"secret/data/web\" { capabilities = [\"read\"] }",
        )
        .await;
    let root = server.root_client();
    root.write("sys/auth/kubernetes", &json!({"type": "kubernetes"}))
        .await
        .expect("enable kubernetes");
    root.write(
        "auth/kubernetes/config",
        &json!({
            "kubernetes_host": cluster.url,
            "kubernetes_ca_cert": cluster.ca_pem,
            "token_reviewer_jwt": REVIEWER_JWT,
        }),
    )
    .await
    .expect("kubernetes config");
    root.write(
        &format!("auth/kubernetes/role/{role}"),
        &json!({
            "bound_service_account_names": [account],
            "bound_service_account_namespaces": [namespace],
            "token_policies": [policy],
            "token_ttl": "30m",
        }),
    )
    .await
    .expect("kubernetes role");

    let token_path = dir.path().join("token");
    replace_file(&token_path, &format!("{known}\n"));
    let auth = AutoAuth::new(
        server.client(),
        config(
            dir.path(),
            kubernetes_method(&role, token_path.clone()),
            "auth/kubernetes",
        ),
    );
    let info = auth.login_once().await.expect("kubernetes login");
    assert!(info.renewable);
    assert_eq!(info.lease_duration, Duration::from_secs(1800));
    let me = lookup_self(&server, info.token.expose()).await;
    assert_eq!(me["data"]["path"], json!("auth/kubernetes/login"), "{me}");
    assert_eq!(me["data"]["policies"], json!(["default", policy]), "{me}");
    assert_eq!(me["data"]["meta"]["role"], json!(role), "{me}");
    assert_eq!(
        me["data"]["meta"]["service_account_name"],
        json!(account),
        "{me}"
    );
    assert_eq!(
        me["data"]["meta"]["service_account_namespace"],
        json!(namespace),
        "{me}"
    );

    // A token the cluster does not know: refused, named as such, never shown.
    let unknown = service_account_token("unknown");
    replace_file(&token_path, &unknown);
    let err = auth.login_once().await.expect_err("unknown token");
    let shown = format!("{err} {err:?}");
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{shown}");
    assert!(shown.contains("auth/kubernetes/login"), "{shown}");
    assert!(
        shown.contains("permission denied") && shown.contains("did not authenticate"),
        "{shown}"
    );
    assert_no_token(&shown, &unknown);
    assert_no_token(&shown, &known);
}
