//! The cache listener against a real server, over TCP and a Unix socket: the agent's token
//! fills in for requests without one, KV reads and leased credentials are served again from
//! the cache (`X-Cache: HIT`), revocations and writes through the proxy evict, errors are
//! never cached, and a revoked agent token leads to a new login. What is not cached is relayed
//! as the server sent it: `sys/health` on any status, a deleted KV v2 version's 404 with its
//! metadata, the server's own 400 for a malformed body, and the JSON content type.
//! Leased answers come from the database engine against the machine's PostgreSQL.

use std::net::SocketAddr;
use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use secrethub_agent::auto_auth::{AutoAuth, AutoAuthHandle};
use secrethub_agent::proxy::{serve, ProxyConfig, ProxyListener, ProxyState};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;

use crate::server::{approle_config, eventually, unique, TestServer};

const DEADLINE: Duration = Duration::from_secs(20);

const AGENT_POLICY: &str = r#"
path "secret/*" { capabilities = ["create", "read", "update", "delete", "list", "patch"] }
path "database/creds/*" { capabilities = ["read", "update"] }
path "sys/leases/*" { capabilities = ["update", "sudo"] }
"#;

/// Where the proxy listens.
enum Target {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

/// One answer of the proxy.
struct Answer {
    status: u16,
    hit: bool,
    /// The `Content-Type` header, if any.
    content_type: Option<String>,
    /// The body as received.
    raw: Bytes,
    /// The body as JSON (`Null` when empty).
    body: Value,
}

/// A server, an agent authenticated by AppRole, and its proxy.
struct Agent {
    server: TestServer,
    _dir: tempfile::TempDir,
    auth: AutoAuthHandle,
    state: Arc<ProxyState>,
    target: Target,
    shutdown: CancellationToken,
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Agent {
    async fn start(unix: bool) -> Agent {
        let server = TestServer::start().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let policy = unique("agent");
        server.policy(&policy, AGENT_POLICY).await;
        let creds = server
            .approle(
                &unique("proxy"),
                json!({"token_ttl": "1h", "token_policies": [policy]}),
            )
            .await;
        let shutdown = CancellationToken::new();
        let (auth, _task) =
            AutoAuth::new(server.client(), approle_config(dir.path(), &creds, false))
                .spawn(shutdown.clone());
        let config = ProxyConfig {
            use_auto_auth_token: true,
            cache: true,
            kv_ttl: Duration::from_secs(30),
        };
        let state = Arc::new(ProxyState::with_auto_auth(
            server.client(),
            auth.clone(),
            config,
        ));
        let (listener, target) = if unix {
            let path = dir.path().join("agent.sock");
            let l = ProxyListener::bind_unix(&path).expect("bind unix");
            (l, Target::Unix(path))
        } else {
            let l = ProxyListener::bind_tcp("127.0.0.1:0".parse().expect("addr"))
                .await
                .expect("bind tcp");
            let addr = l.local_addr().expect("tcp address");
            (l, Target::Tcp(addr))
        };
        tokio::spawn(serve(listener, state.clone(), shutdown.clone()));
        auth.wait_for_token().await.expect("agent token");
        Agent {
            server,
            _dir: dir,
            auth,
            state,
            target,
            shutdown,
        }
    }

    /// `method /v1/path` through the proxy, with `token` as `X-Vault-Token` if given.
    async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut req = hyper::Request::builder()
            .method(hyper::Method::from_bytes(method.as_bytes()).expect("method"))
            .uri(format!("/v1/{path}"))
            .header("host", "agent");
        if let Some(t) = token {
            req = req.header("x-vault-token", t);
        }
        let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        self.send_bytes(req, body).await
    }

    /// `method /v1/path` through the proxy with `body` as is, and no token of its own.
    async fn send_raw(&self, method: &str, path: &str, body: &'static [u8]) -> Answer {
        let req = hyper::Request::builder()
            .method(hyper::Method::from_bytes(method.as_bytes()).expect("method"))
            .uri(format!("/v1/{path}"))
            .header("host", "agent");
        self.send_bytes(req, Bytes::from_static(body)).await
    }

    async fn send_bytes(&self, req: hyper::http::request::Builder, body: Bytes) -> Answer {
        let req = req.body(Full::new(body)).expect("request");
        match &self.target {
            Target::Tcp(addr) => {
                let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
                exchange(stream, req).await
            }
            Target::Unix(path) => {
                let stream = tokio::net::UnixStream::connect(path)
                    .await
                    .expect("connect");
                exchange(stream, req).await
            }
        }
    }

    async fn get(&self, path: &str) -> Answer {
        self.send("GET", path, None, None).await
    }
}

async fn exchange<S>(stream: S, req: hyper::Request<Full<Bytes>>) -> Answer
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let resp = sender.send_request(req).await.expect("response");
    let status = resp.status().as_u16();
    let hit = resp
        .headers()
        .get("x-cache")
        .is_some_and(|v| v.as_bytes() == b"HIT");
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let raw = resp.into_body().collect().await.expect("body").to_bytes();
    let body = if raw.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&raw).expect("JSON answer")
    };
    Answer {
        status,
        hit,
        content_type,
        raw,
        body,
    }
}

#[tokio::test]
async fn over_tcp_kv_reads_use_the_agents_token_and_are_cached_until_a_write() {
    let agent = Agent::start(false).await;
    let path = format!("secret/data/{}", unique("app"));
    let root = agent.server.root_client();
    root.write(&path, &json!({"data": {"v": "one"}}))
        .await
        .expect("write");

    let first = agent.get(&path).await;
    assert_eq!((first.status, first.hit), (200, false), "{}", first.body);
    assert_eq!(first.body["data"]["data"], json!({"v": "one"}));
    assert_eq!(first.content_type.as_deref(), Some("application/json"));
    let again = agent.get(&path).await;
    assert_eq!((again.status, again.hit), (200, true));
    assert_eq!(again.body["data"]["data"], json!({"v": "one"}));
    assert_eq!(again.content_type.as_deref(), Some("application/json"));

    // A write that bypasses the proxy is not seen while the read is cached ...
    root.write(&path, &json!({"data": {"v": "two"}}))
        .await
        .expect("write");
    assert_eq!(
        agent.get(&path).await.body["data"]["data"],
        json!({"v": "one"})
    );
    // ... a write through the proxy evicts it.
    let wrote = agent
        .send("PUT", &path, None, Some(json!({"data": {"v": "three"}})))
        .await;
    assert_eq!(wrote.status, 200, "{}", wrote.body);
    let fresh = agent.get(&path).await;
    assert_eq!(
        (fresh.hit, fresh.body["data"]["data"].clone()),
        (false, json!({"v": "three"}))
    );

    // LIST goes through too, and a request's own token is used as is.
    let listed = agent.send("LIST", "secret/metadata/", None, None).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let mine = agent.send("GET", "sys/mounts", None, None).await;
    assert_eq!(mine.status, 403, "the agent's policy has no sys/mounts");
    let root_token = agent
        .server
        .root_client()
        .token()
        .expect("root")
        .expose()
        .clone();
    let as_root = agent
        .send("GET", "sys/mounts", Some(&root_token), None)
        .await;
    assert_eq!(as_root.status, 200, "{}", as_root.body);
}

/// Sets the process umask while alive and restores the previous one on drop (also when the
/// test fails).
struct UmaskSet(rustix::fs::Mode);

impl UmaskSet {
    fn to(mask: u32) -> UmaskSet {
        UmaskSet(rustix::process::umask(rustix::fs::Mode::from_raw_mode(
            mask,
        )))
    }
}

impl Drop for UmaskSet {
    fn drop(&mut self) {
        rustix::process::umask(self.0);
    }
}

#[test]
fn a_unix_socket_is_0600_from_its_bind_even_under_umask_000() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("umask-000.sock");
    let listener = {
        let _umask = UmaskSet::to(0o000);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let _entered = rt.enter();
        let listener = ProxyListener::bind_unix(&path).expect("bind unix");
        let mode = std::fs::metadata(&path)
            .expect("socket")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        (listener, rt)
    };
    // The staging directory is gone: only the socket is left.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("umask-000.sock")]);
    assert!(std::os::unix::net::UnixStream::connect(&path).is_ok());
    drop(listener);
}

#[tokio::test]
async fn over_a_unix_socket_with_mode_0600_requests_carry_the_agents_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A stale socket file left by a dead agent is replaced.
    let stale = dir.path().join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).expect("stale socket"));
    let rebound = ProxyListener::bind_unix(&stale).expect("stale socket replaced");
    drop(rebound);

    let agent = Agent::start(true).await;
    let Target::Unix(path) = &agent.target else {
        panic!("unix target");
    };
    let meta = std::fs::metadata(path).expect("socket metadata");
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert!(
        ProxyListener::bind_unix(path).is_err(),
        "a live socket is not taken over"
    );

    let me = agent.get("auth/token/lookup-self").await;
    assert_eq!(me.status, 200, "{}", me.body);
    let agent_token = agent.auth.current().expect("token");
    assert_eq!(me.body["data"]["id"], json!(agent_token.expose()));

    let missing = agent.get("secret/data/nothing-here").await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn errors_are_not_cached() {
    let agent = Agent::start(false).await;
    let path = format!("secret/data/{}", unique("later"));
    let absent = agent.get(&path).await;
    assert_eq!(absent.status, 404);
    agent
        .server
        .root_client()
        .write(&path, &json!({"data": {"k": "v"}}))
        .await
        .expect("write");
    let present = agent.get(&path).await;
    assert_eq!(
        (present.status, present.hit),
        (200, false),
        "{}",
        present.body
    );
    let bad = agent.send("PUT", &path, None, None).await;
    assert!(bad.status >= 400, "{}", bad.body);
    assert_eq!(
        agent.send("PUT", &path, None, None).await.status,
        bad.status
    );
}

#[tokio::test]
async fn a_revoked_agent_token_is_replaced_after_a_403() {
    let agent = Agent::start(false).await;
    let old = agent.auth.current().expect("token");
    agent
        .server
        .root_client()
        .write("auth/token/revoke", &json!({"token": old.expose()}))
        .await
        .expect("revoke");
    let refused = agent.get("auth/token/lookup-self").await;
    assert_eq!(refused.status, 403);
    let mut rx = agent.auth.token();
    tokio::time::timeout(
        DEADLINE,
        rx.wait_for(|t| t.as_ref().is_some_and(|t| t != &old)),
    )
    .await
    .expect("a new login after the 403")
    .expect("auto-auth running");
    let ok = agent.get("auth/token/lookup-self").await;
    assert_eq!(ok.status, 200, "{}", ok.body);
}

fn lease_of(a: &Answer) -> String {
    assert_eq!(a.status, 200, "{}", a.body);
    a.body["lease_id"].as_str().expect("lease_id").to_string()
}

#[tokio::test]
async fn leased_credentials_are_reused_until_revoked_through_the_proxy() {
    let agent = Agent::start(false).await;
    let role = agent.server.database_role("1h", "2h").await;
    let creds = format!("database/creds/{role}");

    let first = agent.get(&creds).await;
    let lease = lease_of(&first);
    let second = agent.get(&creds).await;
    assert!(second.hit, "served from the cache");
    assert_eq!(lease_of(&second), lease);
    assert_eq!(
        second.body["data"], first.body["data"],
        "the same credentials"
    );
    let left = second.body["lease_duration"]
        .as_u64()
        .expect("lease_duration");
    assert!(left > 3500 && left <= 3600, "{left}");

    // Revoking through the proxy evicts: the next request gets new credentials.
    let revoked = agent
        .send(
            "PUT",
            "sys/leases/revoke",
            None,
            Some(json!({"lease_id": lease})),
        )
        .await;
    assert_eq!(revoked.status, 204, "{}", revoked.body);
    let third = agent.get(&creds).await;
    assert!(!third.hit);
    let lease3 = lease_of(&third);
    assert_ne!(lease3, lease);
    assert!(agent.get(&creds).await.hit);

    // The renewer's eviction API, and revoke-prefix through the proxy.
    assert_eq!(agent.state.evict_lease(&lease3), 1);
    let fourth = agent.get(&creds).await;
    let lease4 = lease_of(&fourth);
    assert_ne!(lease4, lease3);
    let prefix = agent
        .send(
            "PUT",
            &format!("sys/leases/revoke-prefix/{creds}"),
            None,
            None,
        )
        .await;
    assert_eq!(prefix.status, 204, "{}", prefix.body);
    let fifth = agent.get(&creds).await;
    assert!(!fifth.hit);
    assert_ne!(lease_of(&fifth), lease4);

    // Concurrent identical requests share one lease.
    agent.state.clear_cache();
    let (a, b) = tokio::join!(agent.get(&creds), agent.get(&creds));
    assert_eq!(lease_of(&a), lease_of(&b));

    // Drop the PostgreSQL roles this test made.
    agent
        .server
        .root_client()
        .write(
            &format!("sys/leases/revoke-prefix/{creds}"),
            &json!({"sync": true}),
        )
        .await
        .expect("cleanup");
    let gone = eventually(DEADLINE, "the leases to be revoked", || async {
        let left = agent
            .server
            .root_client()
            .list(&format!("sys/leases/lookup/{creds}/"))
            .await
            .expect("list leases");
        left.is_none().then_some(())
    });
    gone.await;
}

/// `path` straight from the server, without the proxy: status and body as sent.
async fn direct(
    server: &TestServer,
    method: &str,
    path: &str,
    body: &'static [u8],
) -> (u16, Bytes) {
    let body = (!body.is_empty()).then(|| Bytes::from_static(body));
    let answer = server
        .root_client()
        .request_raw(method, path, body, &[])
        .await
        .expect("the server answers");
    (answer.status, answer.body)
}

/// A `sys/health` body without its clock, which moves between two requests.
fn without_time(mut body: Value) -> Value {
    let time = body
        .as_object_mut()
        .and_then(|o| o.remove("server_time_utc"));
    assert!(
        time.as_ref().is_some_and(Value::is_u64),
        "server_time_utc: {time:?}"
    );
    body
}

#[tokio::test]
async fn sys_health_keeps_the_servers_status_and_body_on_any_code() {
    let agent = Agent::start(false).await;
    for path in ["sys/health", "sys/health?activecode=473"] {
        let through = agent.get(path).await;
        let (status, body) = direct(&agent.server, "GET", path, b"").await;
        assert_eq!(through.status, status, "{path}: {}", through.body);
        assert_eq!(
            through.content_type.as_deref(),
            Some("application/json"),
            "{path}"
        );
        let direct_body: Value = serde_json::from_slice(&body).expect("JSON health");
        assert_eq!(
            without_time(through.body),
            without_time(direct_body),
            "{path}"
        );
    }
    assert_eq!(agent.get("sys/health?activecode=473").await.status, 473);

    // Sealed: 503 with the health body, not an `{"errors": []}` made up by the proxy.
    agent
        .server
        .root_client()
        .write("sys/seal", &json!({}))
        .await
        .expect("seal");
    let sealed = agent.get("sys/health").await;
    assert_eq!(sealed.status, 503, "{}", sealed.body);
    assert_eq!(sealed.body["sealed"], json!(true), "{}", sealed.body);
    assert_eq!(sealed.body["initialized"], json!(true));
    assert!(sealed.body.get("errors").is_none(), "{}", sealed.body);
}

#[tokio::test]
async fn a_deleted_kv_v2_version_is_a_404_that_carries_its_metadata() {
    let agent = Agent::start(false).await;
    let path = format!("secret/data/{}", unique("deleted"));
    let root = agent.server.root_client();
    root.write(&path, &json!({"data": {"k": "v"}}))
        .await
        .expect("write");
    root.delete(&path).await.expect("soft delete");

    let read = agent.get(&path).await;
    assert_eq!(read.status, 404, "{}", read.body);
    assert_eq!(read.content_type.as_deref(), Some("application/json"));
    let metadata = &read.body["data"]["metadata"];
    assert_eq!(metadata["version"], json!(1), "{}", read.body);
    assert!(
        metadata["deletion_time"]
            .as_str()
            .is_some_and(|t| !t.is_empty()),
        "{}",
        read.body
    );
    assert_eq!(read.body["data"]["data"], Value::Null);
    let (status, body) = direct(&agent.server, "GET", &path, b"").await;
    let direct_body: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(status, 404);
    assert_eq!(read.body["data"], direct_body["data"]);
    assert!(!agent.get(&path).await.hit, "a 404 is never cached");
}

#[tokio::test]
async fn a_malformed_body_gets_the_servers_own_400() {
    let agent = Agent::start(false).await;
    let path = format!("secret/data/{}", unique("malformed"));
    let body: &'static [u8] = br#"{"data": {"k": "#;
    let through = agent.send_raw("PUT", &path, body).await;
    let (status, direct_body) = direct(&agent.server, "PUT", &path, body).await;
    assert_eq!((through.status, status), (400, 400), "{}", through.body);
    assert_eq!(through.raw, direct_body, "byte for byte");
    let errors = through.body["errors"].as_array().expect("errors");
    assert!(
        errors.iter().any(|e| e
            .as_str()
            .is_some_and(|e| e.contains("failed to parse JSON input"))),
        "{}",
        through.body
    );
    assert_eq!(through.content_type.as_deref(), Some("application/json"));
}
