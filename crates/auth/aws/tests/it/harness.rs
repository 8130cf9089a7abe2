//! Test set-up: an `aws` auth mount on memory storage, and one moto server per test binary
//! with signature checking on, plus IAM/STS helpers that sign with the crate's own SigV4.
//!
//! moto is `secrethub_testkit::moto`: `SECRETHUB_TEST_MOTO` (path to `moto_server`) or
//! scripts/test's virtualenv, else tests that need it fail with install instructions; it
//! runs under a small `sh` that kills it when this test binary ends.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use secrethub_auth_aws::AwsCredentials;
use secrethub_engine::{
    Caller, Engine, EngineError, JsonMap, LoginAuth, MountContext, MountInfo, Operation, Request,
    Response, StorageView,
};
use secrethub_storage::{MemoryStorage, Storage};
use serde_json::Value;

/// The account moto puts everything in.
pub(crate) use secrethub_testkit::moto::ACCOUNT;

/// A name no other test of this run uses.
pub(crate) fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}",
        N.fetch_add(1, Ordering::SeqCst),
        secrethub_common::random_alnum(6).to_lowercase()
    )
}

// ---------------------------------------------------------------------------------------
// The mount.

pub(crate) struct Mount {
    pub(crate) engine: Arc<dyn Engine>,
    pub(crate) storage: StorageView,
}

impl Mount {
    pub(crate) fn new() -> Self {
        let inner: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
        let storage = StorageView::new(inner, "logical/aws-test/");
        let engine = secrethub_auth_aws::factory(MountContext {
            engine_type: "aws".into(),
            options: BTreeMap::new(),
            storage: storage.clone(),
        })
        .expect("factory");
        Self { engine, storage }
    }

    pub(crate) fn request(&self, op: Operation, path: &str, body: Value) -> Request {
        let body = match body {
            Value::Object(m) => m,
            Value::Null => JsonMap::new(),
            other => panic!("test bodies are objects, got {other}"),
        };
        Request {
            op,
            path: path.into(),
            body,
            storage: self.storage.clone(),
            caller: Caller::default(),
            mount: MountInfo {
                path: "auth/aws/".into(),
                ..Default::default()
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

    /// Writes and panics unless the write succeeded; returns the warnings.
    pub(crate) async fn write(&self, path: &str, body: Value) -> Vec<String> {
        match self.call(Operation::Update, path, body).await {
            Ok(r) => r.warnings,
            Err(e) => panic!("write {path} failed: {e}"),
        }
    }

    /// The `data` of a read, panicking on failure.
    pub(crate) async fn read(&self, path: &str) -> JsonMap {
        match self.call(Operation::Read, path, Value::Null).await {
            Ok(r) => r.data.expect("data"),
            Err(e) => panic!("read {path} failed: {e}"),
        }
    }

    /// Logs in with `body`; the successful login or the error as `<kind>: <message>`.
    pub(crate) async fn login(&self, body: JsonMap) -> Result<LoginAuth, String> {
        match self
            .engine
            .handle(self.request(Operation::Update, "login", Value::Object(body)))
            .await
        {
            Ok(r) => Ok(*r.auth.expect("a login answers auth")),
            Err(e) => Err(format!("{:?}: {e}", e.kind())),
        }
    }

    /// Points the mount at moto, optionally requiring a server ID.
    pub(crate) async fn configure(&self, moto: &Moto, server_id: Option<&str>) {
        let mut body = serde_json::json!({ "sts_endpoint": moto.endpoint, "max_retries": 0 });
        if let Some(id) = server_id {
            body["iam_server_id_header_value"] = id.into();
        }
        self.write("config/client", body).await;
    }
}

/// The error of `r` as `<kind>: <message>`, panicking on success.
pub(crate) fn err(r: Result<Response, EngineError>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => format!("{:?}: {e}", e.kind()),
    }
}

// ---------------------------------------------------------------------------------------
// Login bodies.

/// A login body for `creds`, signed now for the default STS URL.
pub(crate) fn login_body(creds: &AwsCredentials, server_id: Option<&str>, role: &str) -> JsonMap {
    login_body_at(creds, server_id, role, SystemTime::now())
}

pub(crate) fn login_body_at(
    creds: &AwsCredentials,
    server_id: Option<&str>,
    role: &str,
    at: SystemTime,
) -> JsonMap {
    secrethub_auth_aws::signed_login_body(
        creds,
        secrethub_auth_aws::DEFAULT_REGION,
        secrethub_auth_aws::DEFAULT_STS_URL,
        server_id,
        role,
        at,
    )
    .expect("sign")
}

/// Decodes, changes and re-encodes the `iam_request_headers` of a login body.
pub(crate) fn edit_headers(
    body: &mut JsonMap,
    edit: impl FnOnce(&mut serde_json::Map<String, Value>),
) {
    let raw = STANDARD
        .decode(body["iam_request_headers"].as_str().expect("string"))
        .expect("base64");
    let mut headers: serde_json::Map<String, Value> =
        serde_json::from_slice(&raw).expect("json object");
    edit(&mut headers);
    body.insert(
        "iam_request_headers".into(),
        STANDARD.encode(Value::Object(headers).to_string()).into(),
    );
}

// ---------------------------------------------------------------------------------------
// moto.

pub(crate) use secrethub_testkit::moto::xml;

pub(crate) struct Moto {
    server: secrethub_testkit::moto::Moto,
    /// `http://127.0.0.1:<port>`.
    pub(crate) endpoint: String,
    /// An IAM user allowed everything, created before signature checking was switched on.
    pub(crate) admin: AwsCredentials,
}

static MOTO: tokio::sync::OnceCell<Moto> = tokio::sync::OnceCell::const_new();

/// The shared moto server, started on first use.
pub(crate) async fn moto() -> &'static Moto {
    MOTO.get_or_init(start_moto).await
}

async fn start_moto() -> Moto {
    let log = std::env::temp_dir().join(format!(
        "secrethub-auth-aws-moto-{}.log",
        std::process::id()
    ));
    let server = secrethub_testkit::moto::Moto::start(log).await;
    // While moto accepts anything, create an admin user and its key.
    let admin = server.bootstrap_admin("secrethub-test-admin").await;
    // From now on moto checks signatures and policies.
    server.reset_auth().await;
    Moto {
        endpoint: server.endpoint.clone(),
        server,
        admin,
    }
}

impl Moto {
    /// Creates IAM user `name` (under `path`) with an access key; returns its ARN and key.
    pub(crate) async fn user(&self, name: &str, path: &str) -> (String, AwsCredentials) {
        let text = self
            .server
            .iam(
                &self.admin,
                &[("Action", "CreateUser"), ("UserName", name), ("Path", path)],
            )
            .await;
        let arn = xml(&text, "Arn");
        let key = self.server.access_key(&self.admin, name).await;
        (arn, key)
    }

    /// Creates IAM role `name` that the admin may assume, assumes it as `session` and returns
    /// the role's ARN and the temporary credentials.
    pub(crate) async fn assumed_role(&self, name: &str, session: &str) -> (String, AwsCredentials) {
        let trust = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:user/secrethub-test-admin"}},"Action":"sts:AssumeRole"}}]}}"#
        );
        let text = self
            .server
            .iam(
                &self.admin,
                &[
                    ("Action", "CreateRole"),
                    ("RoleName", name),
                    ("AssumeRolePolicyDocument", &trust),
                ],
            )
            .await;
        let role_arn = xml(&text, "Arn");
        let (status, text) = self
            .server
            .call(
                &self.admin,
                "sts",
                "sts.amazonaws.com",
                &[
                    ("Action", "AssumeRole"),
                    ("Version", "2011-06-15"),
                    ("RoleArn", &role_arn),
                    ("RoleSessionName", session),
                    ("DurationSeconds", "900"),
                ],
            )
            .await;
        assert_eq!(status, 200, "AssumeRole failed: {text}");
        let creds = AwsCredentials {
            access_key_id: xml(&text, "AccessKeyId"),
            secret_access_key: xml(&text, "SecretAccessKey"),
            session_token: Some(xml(&text, "SessionToken")),
        };
        (role_arn, creds)
    }
}
