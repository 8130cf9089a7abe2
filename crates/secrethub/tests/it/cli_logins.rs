//! The README's `secrethub login -method=kubernetes role=app` and
//! `secrethub login -method=aws role=ec2-app header_value=secrethub.example.com`, typed with our
//! CLI against a real `secrethub server -dev`.
//!
//! Kubernetes: the cluster is a local HTTPS stand-in for the `authentication.k8s.io/v1`
//! TokenReview API (`secrethub_testkit::https`); the pod's token is given with `jwt=@file` or
//! read from `token_path=` (a test must not write the pod's real token file).
//! AWS: the server forwards the CLI's signed `sts:GetCallerIdentity` to a local moto server
//! (`harness::Moto`) that checks SigV4 signatures against the access keys it issued.

use std::path::Path;

use serde_json::{json, Value};

use crate::harness::{self, Cli, Moto, Outcome, ServerProcess};
use crate::token_review::{self, Account};

/// The bearer token the stand-in accepts for TokenReviews (`token_reviewer_jwt`).
const REVIEWER_JWT: &str = "eyJhbGciOiJSUzI1NiJ9.cli-logins-reviewer.c2lnbmF0dXJl";
/// The token of service account `web` in `prod`, which role `app` binds.
const WEB_JWT: &str = "eyJhbGciOiJSUzI1NiJ9.cli-logins-prod-web.c2lnbmF0dXJl";
/// The token of service account `batch` in `prod`, which role `app` does not bind.
const BATCH_JWT: &str = "eyJhbGciOiJSUzI1NiJ9.cli-logins-prod-batch.c2lnbmF0dXJl";
/// Where a pod finds its token, and where the CLI looks without `jwt=` or `token_path=`.
const POD_TOKEN_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

const APP_POLICY: &str = "path \"secret/data/app/*\" {\n  capabilities = [\"read\"]\n}\n";
const SERVER_ID: &str = "secrethub.example.com";

/// The service accounts the stand-in knows: `web` (bound to role `app`) and `batch` (not).
const ACCOUNTS: &[Account] = &[
    Account {
        token: WEB_JWT,
        namespace: "prod",
        name: "web",
        uid: "0b6e8a1c-0000-4000-8000-000000000001",
    },
    Account {
        token: BATCH_JWT,
        namespace: "prod",
        name: "batch",
        uid: "0b6e8a1c-0000-4000-8000-000000000002",
    },
];

/// The token a table-format login printed (`token    hvs.…`).
fn printed_token(out: &Outcome) -> String {
    out.stdout
        .lines()
        .find_map(|line| line.strip_prefix("token "))
        .map(|rest| rest.trim().to_string())
        .unwrap_or_else(|| panic!("no token line in {out:?}"))
}

/// `token lookup -format=json` with `token`: its `data`.
fn lookup(cli: &Cli, token: &str) -> Value {
    let out = cli
        .clone()
        .env("SECRETHUB_TOKEN", token)
        .ok(&["token", "lookup", "-format=json"]);
    out.json()["data"].clone()
}

/// Asserts a refused login as the user sees it: exit code 2, nothing on stdout, and Vault's
/// error text for a 403 from `auth/<mount>/login` carrying `message`.
fn assert_refused(out: &Outcome, server: &ServerProcess, mount: &str, message: &str) {
    let expected = format!(
        "Error authenticating: Error making API request.\n\nURL: POST {}\nCode: 403. Errors:\n\n\
         * {message}\n",
        server.url(&format!("auth/{mount}/login"))
    );
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (2, "", expected.as_str())
    );
}

// The CLI runs as a blocking child process while the stand-in is served from this runtime, so
// the stand-in needs a worker thread of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_login_with_the_secrethub_cli() {
    let cluster = token_review::start("cli logins kubernetes ca", REVIEWER_JWT, ACCOUNTS).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let root = harness::unique_name("root");
    let server = ServerProcess::dev(dir.path(), &root, &[]).await;
    let admin =
        Cli::secrethub(server.addr(), &dir.path().join("admin")).env("SECRETHUB_TOKEN", &root);
    let policy = harness::write_file(dir.path(), "app.hcl", APP_POLICY);
    admin.ok(&["policy", "write", "app", path_str(&policy)]);
    admin.ok(&["auth", "enable", "kubernetes"]);
    let ca = harness::write_file(dir.path(), "cluster-ca.pem", &cluster.ca_pem);
    admin.ok(&[
        "write",
        "auth/kubernetes/config",
        &format!("kubernetes_host={}", cluster.url),
        &format!("kubernetes_ca_cert=@{}", path_str(&ca)),
        &format!("token_reviewer_jwt={REVIEWER_JWT}"),
    ]);
    admin.ok(&[
        "write",
        "auth/kubernetes/role/app",
        "bound_service_account_names=web",
        "bound_service_account_namespaces=prod",
        "token_policies=app",
        "token_ttl=1h",
    ]);

    // The pod's token file, as the kubelet writes it (no trailing newline).
    let web_token = harness::write_file(dir.path(), "web-token", WEB_JWT);
    let pod = Cli::secrethub(server.addr(), &dir.path().join("pod"));

    // jwt=@file: Vault's way of passing a file's contents as a value.
    let out = pod.ok(&[
        "login",
        "-method=kubernetes",
        "role=app",
        &format!("jwt=@{}", path_str(&web_token)),
    ]);
    assert!(
        out.stdout
            .starts_with("Success! You are now authenticated."),
        "{out:?}"
    );
    let token = printed_token(&out);
    let stored = std::fs::read_to_string(dir.path().join("pod/.secrethub-token"))
        .expect("the token helper file");
    assert_eq!(stored.trim(), token);
    let data = lookup(&pod, &token);
    assert_eq!(data["policies"], json!(["app", "default"]), "{data}");
    assert_eq!(data["display_name"], "kubernetes-prod-web", "{data}");
    assert_eq!(data["path"], "auth/kubernetes/login", "{data}");
    assert_eq!(data["meta"]["role"], "app", "{data}");
    assert_eq!(data["meta"]["service_account_name"], "web", "{data}");
    assert_eq!(data["ttl"], 3600, "{data}");
    // The stored token is the one later commands use.
    let out = pod.ok(&["token", "lookup", "-format=json"]);
    assert_eq!(out.json()["data"]["accessor"], data["accessor"]);

    // token_path=: where the CLI reads the token instead of the pod's default file.
    let out = pod.ok(&[
        "login",
        "-method=kubernetes",
        "-token-only",
        "role=app",
        &format!("token_path={}", path_str(&web_token)),
    ]);
    let second = out.stdout.trim().to_string();
    assert!(!second.is_empty() && second != token, "{out:?}");
    let data = lookup(&pod, &second);
    assert_eq!(data["policies"], json!(["app", "default"]), "{data}");
    assert_eq!(data["display_name"], "kubernetes-prod-web", "{data}");

    // Neither: the pod's own token file, exactly as the README writes the command.
    let out = pod.run(&["login", "-method=kubernetes", "role=app"]);
    if Path::new(POD_TOKEN_FILE).exists() {
        // Running inside a pod: its real token is not one the stand-in knows.
        assert_eq!(out.code, 2, "{out:?}");
        assert!(out.stderr.contains("Code: 403"), "{out:?}");
    } else {
        assert_eq!(out.code, 1, "{out:?}");
        assert!(
            out.stderr.starts_with(&format!(
                "Missing jwt= and the service account token {POD_TOKEN_FILE} cannot be read: "
            )),
            "{out:?}"
        );
    }

    // A service account the role does not bind: refused, saying which binding failed.
    let batch_token = harness::write_file(dir.path(), "batch-token", BATCH_JWT);
    let out = pod.run(&[
        "login",
        "-method=kubernetes",
        "role=app",
        &format!("token_path={}", path_str(&batch_token)),
    ]);
    assert_refused(
        &out,
        &server,
        "kubernetes",
        "permission denied: service account name \"batch\" is not bound to role \"app\"",
    );
    let log = server.log();
    assert!(!log.contains(WEB_JWT) && !log.contains(BATCH_JWT), "{log}");
}

#[tokio::test]
async fn aws_login_with_the_secrethub_cli() {
    let dir = tempfile::tempdir().expect("tempdir");
    let moto = Moto::start(dir.path()).await;
    let user_name = harness::unique_name("ec2-app");
    let user = moto.create_user(&user_name).await;
    moto.check_signatures().await;

    let root = harness::unique_name("root");
    let server = ServerProcess::dev(dir.path(), &root, &[]).await;
    let admin =
        Cli::secrethub(server.addr(), &dir.path().join("admin")).env("SECRETHUB_TOKEN", &root);
    let policy = harness::write_file(dir.path(), "ec2-app.hcl", APP_POLICY);
    admin.ok(&["policy", "write", "ec2-app", path_str(&policy)]);
    admin.ok(&["auth", "enable", "aws"]);
    admin.ok(&[
        "write",
        "auth/aws/config/client",
        &format!("sts_endpoint={}", moto.endpoint),
        &format!("iam_server_id_header_value={SERVER_ID}"),
    ]);
    admin.ok(&[
        "write",
        "auth/aws/role/ec2-app",
        "auth_type=iam",
        &format!("bound_iam_principal_arn={}", user.arn),
        "token_policies=ec2-app",
    ]);

    // The instance's credentials, from the environment as the AWS SDKs read them. The CLI
    // signs for https://sts.amazonaws.com/; the server forwards the request to moto.
    let instance = Cli::secrethub(server.addr(), &dir.path().join("instance"))
        .env("AWS_ACCESS_KEY_ID", &user.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &user.secret_access_key);
    let readme = [
        "login",
        "-method=aws",
        "role=ec2-app",
        "header_value=secrethub.example.com",
    ];
    let out = instance.run(&readme);
    assert_eq!(out.code, 0, "{out:?}\nmoto log:\n{}", moto.log());
    assert!(
        out.stdout
            .starts_with("Success! You are now authenticated."),
        "{out:?}"
    );
    let token = printed_token(&out);
    let data = lookup(&instance, &token);
    assert_eq!(data["policies"], json!(["default", "ec2-app"]), "{data}");
    assert_eq!(data["display_name"], format!("aws-{user_name}"), "{data}");
    assert_eq!(data["path"], "auth/aws/login", "{data}");
    assert_eq!(data["meta"]["canonical_arn"], user.arn, "{data}");
    let out = instance.ok(&["token", "lookup", "-format=json"]);
    assert_eq!(out.json()["data"]["accessor"], data["accessor"]);

    // The right key ID with the wrong secret: STS (moto) refuses the signature.
    let forged = instance
        .clone()
        .env("AWS_SECRET_ACCESS_KEY", "not-the-secret-access-key");
    let out = forged.run(&readme);
    assert_refused(
        &out,
        &server,
        "aws",
        "permission denied: sts rejected the login request: SignatureDoesNotMatch (HTTP 403)",
    );

    // A signature for another server: refused before anything reaches STS.
    let out = instance.run(&[
        "login",
        "-method=aws",
        "role=ec2-app",
        "header_value=other.example.com",
    ]);
    assert_refused(
        &out,
        &server,
        "aws",
        "permission denied: invalid X-Vault-AWS-IAM-Server-ID header: \
         expected \"secrethub.example.com\" but got \"other.example.com\"",
    );

    let log = server.log();
    assert!(!log.contains(&user.secret_access_key), "{log}");
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}
