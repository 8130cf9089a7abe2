//! The seed's "CI/CD dynamic secrets" story with the real binary: a CI job holding an OIDC
//! token shaped like GitHub Actions' logs in with `secrethub login -method=jwt`, gets a
//! short-lived token bound to its repository and branch, and reads PostgreSQL credentials
//! with it; a job from another branch is refused, and the attempt is audited.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use crate::harness::{self, Cli, PgDatabase, ServerProcess};

const ISSUER: &str = "https://token.actions.githubusercontent.com";

fn github_token(key: &EncodingKey, git_ref: &str) -> String {
    let now = secrethub_common::now_unix();
    let claims = json!({
        "iss": ISSUER,
        "aud": "secrethub",
        "sub": format!("repo:acme/api:ref:{git_ref}"),
        "repository": "acme/api",
        "repository_owner": "acme",
        "ref": git_ref,
        "ref_type": "branch",
        "sha": "4f2c0bd2b1f3",
        "workflow": "deploy",
        "job_workflow_ref": format!("acme/api/.github/workflows/deploy.yml@{git_ref}"),
        "event_name": "push",
        "actor": "octocat",
        "run_id": "9001",
        "iat": now,
        "nbf": now - 5,
        "exp": now + 300,
    });
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("ci-key-1".into());
    jsonwebtoken::encode(&header, &claims, key).expect("signing the test token")
}

#[tokio::test]
async fn a_ci_job_exchanges_its_oidc_token_for_database_credentials() {
    let db = PgDatabase::create();
    let dir = tempfile::tempdir().expect("tempdir");
    let root = harness::unique_name("root");
    let server = ServerProcess::dev(dir.path(), &root, &[]).await;
    let admin =
        Cli::secrethub(server.addr(), &dir.path().join("admin")).env("SECRETHUB_TOKEN", &root);
    let audit = dir.path().join("audit.log");
    admin.ok(&[
        "audit",
        "enable",
        "file",
        &format!("file_path={}", audit.display()),
    ]);

    // The provider's signing key; the server knows only its public half.
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let signing = EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).expect("pem");
    let public = harness::write_file(dir.path(), "ci.pub.pem", &pair.public_key_pem());

    admin.ok(&["secrets", "enable", "database"]);
    let url = format!(
        "postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:5432/{}?sslmode=disable",
        db.name()
    );
    let role = format!("deploy{}", secrethub_common::random_alnum(5).to_lowercase());
    admin.ok(&[
        "write",
        "database/config/app",
        "plugin_name=postgresql-database-plugin",
        &format!("connection_url={url}"),
        "username=postgres",
        "password=trust-ignores-it",
        &format!("allowed_roles={role}"),
    ]);
    admin.ok(&[
        "write",
        &format!("database/roles/{role}"),
        "db_name=app",
        "default_ttl=10m",
        "creation_statements=CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';",
    ]);
    let policy = harness::write_file(
        dir.path(),
        "deploy.hcl",
        &format!("path \"database/creds/{role}\" {{\n  capabilities = [\"read\"]\n}}\n"),
    );
    admin.ok(&["policy", "write", "deploy", policy.to_str().unwrap()]);

    admin.ok(&["auth", "enable", "jwt"]);
    admin.ok(&[
        "write",
        "auth/jwt/config",
        &format!("jwt_validation_pubkeys=@{}", public.display()),
        &format!("bound_issuer={ISSUER}"),
    ]);
    let bindings = harness::write_file(
        dir.path(),
        "role.json",
        &json!({
            "role_type": "jwt",
            "user_claim": "repository",
            "bound_audiences": ["secrethub"],
            "bound_claims": {"repository": "acme/api", "ref": "refs/heads/main"},
            "claim_mappings": {"ref": "git_ref", "sha": "git_sha"},
            "token_policies": ["deploy"],
            "token_ttl": "15m",
        })
        .to_string(),
    );
    admin.ok(&[
        "write",
        "auth/jwt/role/deploy",
        &format!("@{}", bindings.display()),
    ]);

    // The job on main: login, then credentials.
    let job = Cli::secrethub(server.addr(), &dir.path().join("job"));
    let jwt = github_token(&signing, "refs/heads/main");
    let out = job.ok(&[
        "login",
        "-method=jwt",
        "-format=json",
        "role=deploy",
        &format!("jwt={jwt}"),
    ]);
    let login = out.json();
    assert_eq!(login["auth"]["lease_duration"], 900, "{out:?}");
    assert_eq!(login["auth"]["metadata"]["git_ref"], "refs/heads/main");
    let creds = job
        .ok(&["read", "-format=json", &format!("database/creds/{role}")])
        .json();
    let username = creds["data"]["username"].as_str().expect("username");
    assert!(username.starts_with(&format!("shub_{role}_")), "{creds}");
    // The job's token reaches nothing else.
    let denied = job.run(&["kv", "get", "secret/anything"]);
    assert_eq!(denied.code, 2, "{denied:?}");

    // A job on another branch is refused with a reason, and nothing is minted.
    let feature = github_token(&signing, "refs/heads/feature-x");
    let other = Cli::secrethub(server.addr(), &dir.path().join("other"));
    let refused = other.run(&[
        "login",
        "-method=jwt",
        "role=deploy",
        &format!("jwt={feature}"),
    ]);
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(refused.stderr.contains("ref"), "{refused:?}");
    assert!(!dir.path().join("other/.secrethub-token").exists());

    let text = std::fs::read_to_string(&audit).expect("audit log");
    assert!(
        !text.contains(&jwt) && !text.contains(&feature),
        "tokens are HMAC'd in audit"
    );
    let failures = text
        .lines()
        .filter(|l| l.contains("auth/jwt/login") && l.contains("\"error\""))
        .count();
    assert!(failures >= 1, "the refused login is audited");
    // The successful login's metadata (mapped claims, role) is on the audited token.
    let login_entry = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("audit JSON"))
        .find(|l| {
            l["type"] == "response"
                && l["request"]["path"] == "auth/jwt/login"
                && l["error"].is_null()
        })
        .expect("the login response is audited");
    assert_eq!(
        login_entry["response"]["auth"]["metadata"]["git_ref"],
        "refs/heads/main"
    );
    assert_eq!(
        login_entry["response"]["auth"]["metadata"]["role"],
        "deploy"
    );
}
