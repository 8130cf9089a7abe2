//! A jwt mount on its own memory store, an identity provider served in process (OIDC
//! discovery and JWKS on 127.0.0.1, over HTTP or HTTPS with a test CA), signers for RS256,
//! ES256/ES384 and EdDSA, and claims shaped like GitHub Actions and GitLab CI ID tokens.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrethub_engine::{
    Caller, Engine, EngineError, JsonMap, LoginAuth, LoginRenewal, MountContext, MountInfo,
    Operation, Request, Response, StorageView, TokenParams,
};
use secrethub_storage::MemoryStorage;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub(crate) const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";
pub(crate) const GITLAB_ISSUER: &str = "https://gitlab.example.com";

pub(crate) fn now() -> i64 {
    secrethub_common::now_unix()
}

fn data_file(name: &str) -> String {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A private key with its public forms (JWK and PEM).
pub(crate) struct Signer {
    pub(crate) kid: String,
    pub(crate) alg: Algorithm,
    key: EncodingKey,
    pub(crate) jwk: Value,
    pub(crate) public_pem: String,
}

impl Signer {
    /// RS256 with one of the committed test RSA keys (`rsa1`, `rsa2`).
    pub(crate) fn rsa(name: &str, kid: &str) -> Self {
        let key = EncodingKey::from_rsa_pem(data_file(&format!("{name}.key.pem")).as_bytes())
            .expect("test rsa key");
        let mut jwk: Value =
            serde_json::from_str(&data_file(&format!("{name}.jwk.json"))).expect("test jwk");
        jwk["kid"] = json!(kid);
        jwk["use"] = json!("sig");
        jwk["alg"] = json!("RS256");
        Signer {
            kid: kid.into(),
            alg: Algorithm::RS256,
            key,
            jwk,
            public_pem: data_file(&format!("{name}.pub.pem")),
        }
    }

    /// A fresh ECDSA key: ES256 (P-256) or ES384 (P-384).
    pub(crate) fn ec(kid: &str, alg: Algorithm) -> Self {
        let (rc_alg, crv, len) = match alg {
            Algorithm::ES256 => (&rcgen::PKCS_ECDSA_P256_SHA256, "P-256", 32),
            Algorithm::ES384 => (&rcgen::PKCS_ECDSA_P384_SHA384, "P-384", 48),
            other => panic!("not an ECDSA algorithm: {other:?}"),
        };
        let pair = rcgen::KeyPair::generate_for(rc_alg).expect("ec key");
        let point = pair.public_key_raw();
        assert_eq!(point.len(), 1 + 2 * len, "uncompressed point");
        let jwk = json!({
            "kty": "EC", "crv": crv, "kid": kid, "use": "sig", "alg": format!("{alg:?}"),
            "x": b64(&point[1..=len]), "y": b64(&point[1 + len..]),
        });
        Signer {
            kid: kid.into(),
            alg,
            key: EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).expect("ec pem"),
            jwk,
            public_pem: pair.public_key_pem(),
        }
    }

    /// A fresh Ed25519 key (EdDSA).
    pub(crate) fn ed25519(kid: &str) -> Self {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("ed25519 key");
        let jwk = json!({
            "kty": "OKP", "crv": "Ed25519", "kid": kid, "use": "sig", "alg": "EdDSA",
            "x": b64(pair.public_key_raw()),
        });
        Signer {
            kid: kid.into(),
            alg: Algorithm::EdDSA,
            key: EncodingKey::from_ed_pem(pair.serialize_pem().as_bytes()).expect("ed pem"),
            jwk,
            public_pem: pair.public_key_pem(),
        }
    }

    pub(crate) fn header(&self) -> Header {
        let mut h = Header::new(self.alg);
        h.kid = Some(self.kid.clone());
        h
    }

    pub(crate) fn sign(&self, claims: &Value) -> String {
        self.sign_with(&self.header(), claims)
    }

    pub(crate) fn sign_with(&self, header: &Header, claims: &Value) -> String {
        jsonwebtoken::encode(header, claims, &self.key).expect("signing")
    }
}

/// A JWKS document holding the signers' public keys.
pub(crate) fn jwks(signers: &[&Signer]) -> Value {
    json!({ "keys": signers.iter().map(|s| s.jwk.clone()).collect::<Vec<_>>() })
}

/// A compact token with an arbitrary header, payload and signature bytes.
pub(crate) fn raw_token(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64(&serde_json::to_vec(header).unwrap()),
        b64(&serde_json::to_vec(claims).unwrap()),
        b64(signature)
    )
}

/// Claims of a GitHub Actions OIDC token for a push to `main` of `acme/api` that deploys
/// to `production`.
pub(crate) fn github_claims() -> Value {
    let t = now();
    json!({
        "jti": "3a7a0c3c-7a9e-4e4e-9f65-5d2d6d1f0b11",
        "sub": "repo:acme/api:ref:refs/heads/main",
        "aud": "https://github.com/acme",
        "ref": "refs/heads/main",
        "sha": "d6cd1e2bd19e03a81132a23b2025920577f84e37",
        "repository": "acme/api",
        "repository_owner": "acme",
        "repository_owner_id": "112233",
        "repository_id": "445566",
        "repository_visibility": "private",
        "run_id": "9012345678",
        "run_number": "42",
        "run_attempt": "1",
        "actor": "octocat",
        "actor_id": "583231",
        "workflow": "deploy",
        "workflow_ref": "acme/api/.github/workflows/deploy.yml@refs/heads/main",
        "workflow_sha": "d6cd1e2bd19e03a81132a23b2025920577f84e37",
        "job_workflow_ref": "acme/api/.github/workflows/deploy.yml@refs/heads/main",
        "job_workflow_sha": "d6cd1e2bd19e03a81132a23b2025920577f84e37",
        "head_ref": "",
        "base_ref": "",
        "event_name": "push",
        "ref_type": "branch",
        "ref_protected": "true",
        "environment": "production",
        "runner_environment": "github-hosted",
        "iss": GITHUB_ISSUER,
        "nbf": t - 5,
        "iat": t - 5,
        "exp": t + 300,
    })
}

/// Claims of a GitLab CI ID token (`id_tokens:` with `aud`) for a pipeline on the
/// protected branch `main` of `acme/api`.
pub(crate) fn gitlab_claims() -> Value {
    let t = now();
    json!({
        "namespace_id": "72",
        "namespace_path": "acme",
        "project_id": "20",
        "project_path": "acme/api",
        "user_id": "1",
        "user_login": "alice",
        "user_email": "alice@example.com",
        "user_access_level": "maintainer",
        "pipeline_id": "574",
        "pipeline_source": "push",
        "job_id": "302",
        "ref": "main",
        "ref_type": "branch",
        "ref_path": "refs/heads/main",
        "ref_protected": "true",
        "environment": "production",
        "environment_protected": "true",
        "deployment_tier": "production",
        "runner_id": 1,
        "runner_environment": "self-hosted",
        "sha": "714a629c0b401fdce83e847fc9589983fc6f46bc",
        "project_visibility": "private",
        "ci_config_ref_uri": "gitlab.example.com/acme/api//.gitlab-ci.yml@refs/heads/main",
        "ci_config_sha": "714a629c0b401fdce83e847fc9589983fc6f46bc",
        "jti": "235b3a54-b797-45c7-ae9a-f72d7bc6ef5b",
        "iss": GITLAB_ISSUER,
        "iat": t - 5,
        "nbf": t - 10,
        "exp": t + 3600,
        "sub": "project_path:acme/api:ref_type:branch:ref:main",
        "aud": "https://secrethub.example.com",
    })
}

/// `base` with the top-level keys of `changes` replaced (a `null` removes the key).
pub(crate) fn with(mut base: Value, changes: Value) -> Value {
    let (Value::Object(b), Value::Object(c)) = (&mut base, changes) else {
        panic!("claims are objects");
    };
    for (k, v) in c {
        if v.is_null() {
            b.remove(&k);
        } else {
            b.insert(k, v);
        }
    }
    base
}

#[derive(Clone)]
struct IdpState {
    base: String,
    issuer: Arc<Mutex<Option<String>>>,
    jwks: Arc<Mutex<Value>>,
    jwks_hits: Arc<AtomicUsize>,
}

async fn discovery(State(s): State<IdpState>) -> Json<Value> {
    let issuer = s.issuer.lock().unwrap().clone().unwrap_or(s.base.clone());
    Json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{}/jwks", s.base),
        "subject_types_supported": ["public", "pairwise"],
        "response_types_supported": ["id_token"],
        "claims_supported": ["sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "repository"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid"],
    }))
}

async fn keys(State(s): State<IdpState>) -> Json<Value> {
    s.jwks_hits.fetch_add(1, Ordering::SeqCst);
    Json(s.jwks.lock().unwrap().clone())
}

/// A test CA and a certificate for 127.0.0.1 issued by it.
pub(crate) struct TestTls {
    pub(crate) ca_pem: String,
    config: Arc<rustls::ServerConfig>,
}

impl TestTls {
    pub(crate) fn new() -> Self {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "secrethub test ca");
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        leaf.subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        let leaf_cert = leaf.signed_by(&leaf_key, &ca_cert, &ca_key).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf_cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
            )
            .unwrap();
        TestTls {
            ca_pem: ca_cert.pem(),
            config: Arc::new(config),
        }
    }
}

/// An identity provider on 127.0.0.1: `/.well-known/openid-configuration` and `/jwks`.
pub(crate) struct Idp {
    pub(crate) base: String,
    state: IdpState,
    task: JoinHandle<()>,
}

impl Drop for Idp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Idp {
    fn router(state: IdpState) -> Router {
        Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(keys))
            .with_state(state)
    }

    fn state(base: String, signers: &[&Signer]) -> IdpState {
        IdpState {
            base,
            issuer: Arc::default(),
            jwks: Arc::new(Mutex::new(jwks(signers))),
            jwks_hits: Arc::default(),
        }
    }

    /// Serves plain HTTP.
    pub(crate) async fn start(signers: &[&Signer]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Self::state(base.clone(), signers);
        let app = Self::router(state.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Idp { base, state, task }
    }

    /// Serves HTTPS with a certificate from `tls`'s CA.
    pub(crate) async fn start_tls(signers: &[&Signer], tls: &TestTls) -> Self {
        use hyper_util::rt::{TokioExecutor, TokioIo};
        use hyper_util::service::TowerToHyperService;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("https://{}", listener.local_addr().unwrap());
        let state = Self::state(base.clone(), signers);
        let app = Self::router(state.clone());
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.config.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let (acceptor, app) = (acceptor.clone(), app.clone());
                tokio::spawn(async move {
                    // Handshakes fail on purpose in the test without the CA.
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), TowerToHyperService::new(app))
                        .await;
                });
            }
        });
        Idp { base, state, task }
    }

    pub(crate) fn jwks_url(&self) -> String {
        format!("{}/jwks", self.base)
    }

    /// Replaces the published keys (key rotation).
    pub(crate) fn publish(&self, signers: &[&Signer]) {
        *self.state.jwks.lock().unwrap() = jwks(signers);
    }

    /// Replaces the JWKS document with anything.
    pub(crate) fn publish_raw(&self, doc: Value) {
        *self.state.jwks.lock().unwrap() = doc;
    }

    /// Makes the discovery document claim another issuer.
    pub(crate) fn set_issuer(&self, issuer: &str) {
        *self.state.issuer.lock().unwrap() = Some(issuer.to_string());
    }

    /// How many times the JWKS was fetched.
    pub(crate) fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }
}

/// A jwt mount on a memory store.
pub(crate) struct Mount {
    pub(crate) engine: Arc<dyn Engine>,
    pub(crate) storage: StorageView,
}

impl Mount {
    pub(crate) fn new() -> Self {
        let storage = StorageView::new(Arc::new(MemoryStorage::new()), "logical/jwt-test/");
        let engine = secrethub_auth_jwt::factory(MountContext {
            engine_type: "jwt".into(),
            options: Default::default(),
            storage: storage.clone(),
        })
        .expect("factory");
        Self { engine, storage }
    }

    /// A new engine for the same storage, as after a restart (empty key cache).
    pub(crate) fn reopen(&self) -> Self {
        let engine = secrethub_auth_jwt::factory(MountContext {
            engine_type: "jwt".into(),
            options: Default::default(),
            storage: self.storage.clone(),
        })
        .expect("factory");
        Self {
            engine,
            storage: self.storage.clone(),
        }
    }

    pub(crate) fn request(&self, op: Operation, path: &str, body: Value) -> Request {
        let body = match body {
            Value::Object(m) => m,
            Value::Null => JsonMap::new(),
            other => panic!("test bodies are objects, got {other}"),
        };
        Request {
            op,
            path: path.to_string(),
            body,
            storage: self.storage.clone(),
            caller: Caller::default(),
            mount: MountInfo {
                path: "auth/jwt/".into(),
                accessor: "auth_jwt_1234".into(),
                default_lease_ttl: Duration::from_secs(3600),
                max_lease_ttl: Duration::from_secs(86_400),
            },
            intents: None,
            timers: None,
            raw_body: None,
        }
    }

    pub(crate) async fn call(
        &self,
        op: Operation,
        path: &str,
        body: Value,
    ) -> Result<Response, EngineError> {
        self.engine.handle(self.request(op, path, body)).await
    }

    /// A write that must succeed; its warnings.
    pub(crate) async fn write(&self, path: &str, body: Value) -> Vec<String> {
        match self.call(Operation::Update, path, body).await {
            Ok(r) => r.warnings,
            Err(e) => panic!("write {path} failed: {e}"),
        }
    }

    /// A write that must fail with a 400; its message.
    pub(crate) async fn write_err(&self, path: &str, body: Value) -> String {
        match self.call(Operation::Update, path, body).await {
            Ok(_) => panic!("write {path} unexpectedly succeeded"),
            Err(EngineError::BadRequest(msg)) => msg,
            Err(e) => panic!("write {path}: expected a 400, got {e:?}"),
        }
    }

    /// A read that must succeed; its data.
    pub(crate) async fn read(&self, path: &str) -> Value {
        match self.call(Operation::Read, path, Value::Null).await {
            Ok(r) => Value::Object(r.data.unwrap_or_default()),
            Err(e) => panic!("read {path} failed: {e}"),
        }
    }

    pub(crate) async fn login(&self, body: Value) -> Result<LoginAuth, EngineError> {
        assert!(self.engine.path_flags("login", Operation::Update).login);
        let r = self.call(Operation::Update, "login", body).await?;
        assert!(
            r.data.is_none() && r.lease.is_none(),
            "a login answers auth only"
        );
        Ok(*r.auth.expect("a successful login answers auth"))
    }

    /// A login that must succeed.
    pub(crate) async fn login_ok(&self, role: &str, jwt: &str) -> LoginAuth {
        match self.login(json!({"role": role, "jwt": jwt})).await {
            Ok(a) => a,
            Err(e) => panic!("login to {role} failed: {e}"),
        }
    }

    /// A login that must be refused with a 400; its message, checked not to echo the token.
    pub(crate) async fn login_refused(&self, role: &str, jwt: &str) -> String {
        let msg = match self.login(json!({"role": role, "jwt": jwt})).await {
            Ok(_) => panic!("login to {role} unexpectedly succeeded"),
            Err(EngineError::BadRequest(msg)) => msg,
            Err(e) => panic!("login to {role}: expected a 400, got {e:?}"),
        };
        for part in jwt.split('.').filter(|p| p.len() > 8) {
            assert!(!msg.contains(part), "the error echoes the token: {msg}");
        }
        msg
    }

    /// Renews a login as core does on token renewal.
    pub(crate) async fn renew(&self, auth: &LoginAuth) -> Result<TokenParams, EngineError> {
        let renewal = LoginRenewal {
            internal: auth.internal.clone(),
            alias: auth.alias.clone(),
            metadata: auth.metadata.clone(),
            token_policies: auth.token.token_policies.clone(),
            remote_addr: None,
        };
        self.engine.renew_login(&renewal, &self.storage).await
    }
}

/// An address on 127.0.0.1 where nothing listens.
pub(crate) async fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}
