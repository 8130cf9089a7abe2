//! Auto-auth with the jwt method against the real in-process server and the real jwt auth
//! method crate: the JWT is signed here with a key whose public half the jwt mount is
//! configured with. Each login reads the token file anew, and a refused login names the cause
//! without the token. The helpers shared with `kubernetes_auth` live here.

use std::path::Path;
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrethub_agent::auto_auth::{AuthTiming, AutoAuth};
use secrethub_common::ErrorKind;
use secrethub_config::agent::{AuthMethodConfig, AutoAuthConfig, SinkConfig};
use serde_json::{json, Value};
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
pub(crate) fn replace_file(path: &Path, text: &str) {
    let aside = path.with_extension("new");
    std::fs::write(&aside, text).expect("write token aside");
    std::fs::rename(&aside, path).expect("rename token");
}

/// An auto-auth configuration for `method` at `mount_path` with one sink in `dir`.
pub(crate) fn config(dir: &Path, method: AuthMethodConfig, mount_path: &str) -> AutoAuthConfig {
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
pub(crate) async fn lookup_self(server: &TestServer, token: &str) -> Value {
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
pub(crate) fn assert_no_token(text: &str, token: &str) {
    for part in token.split('.').filter(|p| p.len() >= 8) {
        assert!(!text.contains(part), "token text in {text}");
    }
}

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
