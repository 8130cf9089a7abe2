//! Test set-up: an `aws` auth mount on memory storage, and one moto server per test binary
//! with signature checking on, plus IAM/STS helpers that sign with the crate's own SigV4.
//!
//! moto is found through `SECRETHUB_TEST_MOTO` (path to `moto_server`) or `moto_server` on
//! PATH; without either, tests that need it fail with install instructions. moto runs under
//! a small `sh` that kills it when this process's end of its stdin pipe closes, so the server
//! never outlives the test binary.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use secrethub_auth_aws::sigv4::{self, SigningRequest};
use secrethub_auth_aws::AwsCredentials;
use secrethub_engine::{
    Caller, Engine, EngineError, JsonMap, LoginAuth, MountContext, MountInfo, Operation, Request,
    Response, StorageView,
};
use secrethub_storage::{MemoryStorage, Storage};
use serde_json::Value;

/// The account moto puts everything in.
pub(crate) const ACCOUNT: &str = "123456789012";

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

pub(crate) struct Moto {
    /// `http://127.0.0.1:<port>`.
    pub(crate) endpoint: String,
    /// An IAM user allowed everything, created before signature checking was switched on.
    pub(crate) admin: AwsCredentials,
    /// Kept open: closing it (when this process ends) makes the wrapper kill moto.
    _keepalive: Mutex<(Child, ChildStdin)>,
}

static MOTO: tokio::sync::OnceCell<Moto> = tokio::sync::OnceCell::const_new();

/// The shared moto server, started on first use.
pub(crate) async fn moto() -> &'static Moto {
    MOTO.get_or_init(start_moto).await
}

fn moto_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("SECRETHUB_TEST_MOTO").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "SECRETHUB_TEST_MOTO={} is not a file; it must be the path of moto_server",
            p.display()
        );
        return p;
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let candidate = dir.join("moto_server");
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "moto_server not found: the aws auth tests need a local moto server. Install it with\n  \
         python3 -m venv ~/.cache/secrethub-test/venv && \
         ~/.cache/secrethub-test/venv/bin/pip install 'moto[server]'\n\
         then set SECRETHUB_TEST_MOTO=~/.cache/secrethub-test/venv/bin/moto_server \
         (or put moto_server on PATH)"
    );
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

async fn start_moto() -> Moto {
    let bin = moto_binary();
    let port = free_port();
    let log = std::env::temp_dir().join(format!("secrethub-auth-aws-moto-{port}.log"));
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(r#""$0" -H 127.0.0.1 -p "$1" </dev/null >"$2" 2>&1 & pid=$!; read -r line; kill "$pid""#)
        .arg(&bin)
        .arg(port.to_string())
        .arg(&log)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sh for moto_server");
    let stdin = child.stdin.take().expect("piped stdin");
    let endpoint = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();

    // Wait until moto answers HTTP (it takes about half a second).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if http
            .get(format!("{endpoint}/moto-api/"))
            .send()
            .await
            .is_ok()
        {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("moto_server exited ({status}); log:\n{}", read_log(&log));
        }
        assert!(
            Instant::now() < deadline,
            "moto_server did not answer on {endpoint} within 60 s; log:\n{}",
            read_log(&log)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // While moto accepts anything, create an admin user and its key.
    let anyone = AwsCredentials {
        access_key_id: "AKIABOOTSTRAP".into(),
        secret_access_key: "bootstrap".into(),
        session_token: None,
    };
    let admin_name = "secrethub-test-admin";
    iam(
        &http,
        &endpoint,
        &anyone,
        &[("Action", "CreateUser"), ("UserName", admin_name)],
    )
    .await;
    let policy =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    iam(
        &http,
        &endpoint,
        &anyone,
        &[
            ("Action", "PutUserPolicy"),
            ("UserName", admin_name),
            ("PolicyName", "all"),
            ("PolicyDocument", policy),
        ],
    )
    .await;
    let admin = access_key(&http, &endpoint, &anyone, admin_name).await;

    // From now on moto checks signatures and policies.
    let r = http
        .post(format!("{endpoint}/moto-api/reset-auth"))
        .header("content-type", "text/plain")
        .body("0")
        .send()
        .await
        .expect("reset-auth");
    assert!(r.status().is_success(), "reset-auth: {}", r.status());

    Moto {
        endpoint,
        admin,
        _keepalive: Mutex::new((child, stdin)),
    }
}

fn read_log(path: &std::path::Path) -> String {
    let mut s = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.read_to_string(&mut s);
    }
    s
}

fn form_encode(params: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    params
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A signed query-protocol call to moto as `service` at `host`; (status, body).
async fn call_aws(
    http: &reqwest::Client,
    endpoint: &str,
    creds: &AwsCredentials,
    service: &str,
    host: &str,
    params: &[(&str, &str)],
) -> (u16, String) {
    let body = form_encode(params);
    let headers = vec![
        (
            "Content-Type".to_string(),
            "application/x-www-form-urlencoded; charset=utf-8".to_string(),
        ),
        ("Host".to_string(), host.to_string()),
    ];
    let req = SigningRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body: body.as_bytes(),
    };
    let added = sigv4::sign(creds, "us-east-1", service, &req, SystemTime::now());
    let mut rb = http.post(format!("{endpoint}/")).body(body);
    for (k, v) in headers.iter().chain(added.iter()) {
        rb = rb.header(k.as_str(), v.as_str());
    }
    let resp = rb.send().await.expect("moto call");
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("moto body"))
}

async fn iam(
    http: &reqwest::Client,
    endpoint: &str,
    creds: &AwsCredentials,
    params: &[(&str, &str)],
) -> String {
    let (status, text) = call_aws(http, endpoint, creds, "iam", "iam.amazonaws.com", params).await;
    assert_eq!(status, 200, "IAM {params:?} failed: {text}");
    text
}

/// The text of the first `<tag>` in an XML answer.
pub(crate) fn xml(doc: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let start = doc
        .find(&open)
        .unwrap_or_else(|| panic!("no <{tag}> in {doc}"))
        + open.len();
    let end = doc[start..]
        .find(&format!("</{tag}>"))
        .expect("closing tag");
    doc[start..start + end].to_string()
}

async fn access_key(
    http: &reqwest::Client,
    endpoint: &str,
    creds: &AwsCredentials,
    user: &str,
) -> AwsCredentials {
    let text = iam(
        http,
        endpoint,
        creds,
        &[("Action", "CreateAccessKey"), ("UserName", user)],
    )
    .await;
    AwsCredentials {
        access_key_id: xml(&text, "AccessKeyId"),
        secret_access_key: xml(&text, "SecretAccessKey"),
        session_token: None,
    }
}

impl Moto {
    /// Creates IAM user `name` (under `path`) with an access key; returns its ARN and key.
    pub(crate) async fn user(&self, name: &str, path: &str) -> (String, AwsCredentials) {
        let http = reqwest::Client::new();
        let text = iam(
            &http,
            &self.endpoint,
            &self.admin,
            &[("Action", "CreateUser"), ("UserName", name), ("Path", path)],
        )
        .await;
        let arn = xml(&text, "Arn");
        let key = access_key(&http, &self.endpoint, &self.admin, name).await;
        (arn, key)
    }

    /// Creates IAM role `name` that the admin may assume, assumes it as `session` and returns
    /// the role's ARN and the temporary credentials.
    pub(crate) async fn assumed_role(&self, name: &str, session: &str) -> (String, AwsCredentials) {
        let http = reqwest::Client::new();
        let trust = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:user/secrethub-test-admin"}},"Action":"sts:AssumeRole"}}]}}"#
        );
        let text = iam(
            &http,
            &self.endpoint,
            &self.admin,
            &[
                ("Action", "CreateRole"),
                ("RoleName", name),
                ("AssumeRolePolicyDocument", &trust),
            ],
        )
        .await;
        let role_arn = xml(&text, "Arn");
        let (status, text) = call_aws(
            &http,
            &self.endpoint,
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
