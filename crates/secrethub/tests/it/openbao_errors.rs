//! The same calls about tokens, accessors and leases that do not exist (never did, revoked,
//! expired, their auth method disabled), sent to `secrethub server -dev` and to a real
//! `bao server -dev` (OpenBao 2.7.2): status codes and `{"errors": [...]}` bodies must be
//! equal, since clients (hvac: 400 InvalidRequest, 403 Forbidden) branch on them. Also the
//! field set of `sys/leases/lookup` for a token lease. Every difference is reported at once.

use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::bao_cli::bao_binary;
use crate::harness::{self, json_of, ServerProcess, POLL_INTERVAL};

/// `bao server -dev` under a `sh` that kills it when our end of its stdin closes (on drop, or
/// when the test process dies), so it never outlives the test.
struct BaoDev {
    addr: String,
    log: std::path::PathBuf,
    _keepalive: (Child, ChildStdin),
}

impl BaoDev {
    async fn start(dir: &Path, root: &str) -> BaoDev {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let log = dir.join("bao.log");
        // `$0` is the binary, `$1` the log, the rest its arguments.
        let script = r#"bin="$0"; log="$1"; shift; "$bin" "$@" </dev/null >"$log" 2>&1 & pid=$!; read -r line; kill "$pid""#;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(bao_binary())
            .arg(&log)
            .args([
                "server".to_string(),
                "-dev".to_string(),
                format!("-dev-root-token-id={root}"),
                format!("-dev-listen-address=127.0.0.1:{port}"),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawning bao server -dev");
        let stdin = child.stdin.take().expect("piped stdin");
        let bao = BaoDev {
            addr: format!("http://127.0.0.1:{port}"),
            log,
            _keepalive: (child, stdin),
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let health = http.get(format!("{}/v1/sys/health", bao.addr)).send().await;
            if health.is_ok_and(|r| r.status().is_success()) {
                return bao;
            }
            assert!(
                Instant::now() < deadline,
                "bao server -dev did not answer within 60 s; log:\n{}",
                std::fs::read_to_string(&bao.log).unwrap_or_default()
            );
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

/// One server under test, driven as root over plain HTTP.
struct Target {
    name: &'static str,
    addr: String,
    root: String,
    http: reqwest::Client,
}

impl Target {
    async fn call(&self, method: &str, path: &str, token: &str, body: Value) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let resp = self
            .http
            .request(method, format!("{}/v1/{path}", self.addr))
            .header("X-Vault-Token", token)
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{} {path}: {e}", self.name));
        json_of(resp).await
    }

    /// What a client branches on: the status and the errors (or a 200's warnings).
    async fn outcome(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        let (status, v) = self.call("POST", path, token, body).await;
        let v = match status {
            200 => json!({ "warnings": v["warnings"] }),
            204 => Value::Null,
            _ => v,
        };
        (status, v)
    }

    async fn ok(&self, method: &str, path: &str, body: Value) -> Value {
        let (status, v) = self.call(method, path, &self.root, body).await;
        assert!(
            (200..300).contains(&status),
            "{}: {method} {path}: {status} {v}",
            self.name
        );
        v
    }

    async fn token(&self, body: Value) -> (String, String) {
        let v = self.ok("POST", "auth/token/create", body).await;
        let s = |k: &str| {
            v["auth"][k]
                .as_str()
                .expect("token and accessor")
                .to_string()
        };
        (s("client_token"), s("accessor"))
    }

    /// A token and accessor for each way not to exist, in the same order on every server.
    async fn dead_tokens(&self) -> Vec<(&'static str, String, String)> {
        let mut dead = vec![(
            "that never existed",
            "hvs.CAESIDoesNotExistDoesNotExistDoesNotExist".to_string(),
            "NoSuchAccessor0123456789".to_string(),
        )];
        let (tok, acc) = self.token(json!({})).await;
        self.ok("POST", "auth/token/revoke", json!({ "token": tok }))
            .await;
        dead.push(("that was revoked", tok, acc));

        let (tok, acc) = self.token(json!({"ttl": "1s"})).await;
        let deadline = Instant::now() + Duration::from_secs(15);
        while self
            .call("GET", "auth/token/lookup-self", &tok, json!({}))
            .await
            .0
            != 403
        {
            assert!(
                Instant::now() < deadline,
                "{}: a 1s token lived on",
                self.name
            );
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        dead.push(("that expired", tok, acc));

        self.ok("POST", "sys/auth/up", json!({"type": "userpass"}))
            .await;
        self.ok("POST", "auth/up/users/alice", json!({"password": "pw"}))
            .await;
        let (_, v) = self
            .call("POST", "auth/up/login/alice", "", json!({"password": "pw"}))
            .await;
        let s = |k: &str| v["auth"][k].as_str().expect("a login").to_string();
        let (tok, acc) = (s("client_token"), s("accessor"));
        self.ok("DELETE", "sys/auth/up", json!({})).await;
        dead.push(("whose auth method was disabled", tok, acc));
        dead
    }

    /// `(what, outcome)` of every call, in a fixed order.
    async fn answers(&self) -> Vec<(String, (u16, Value))> {
        let mut out = Vec::new();
        for (how, tok, acc) in self.dead_tokens().await {
            let by_token = json!({ "token": tok });
            let by_accessor = json!({ "accessor": acc });
            let as_root = [
                ("auth/token/lookup", &by_token),
                ("auth/token/renew", &by_token),
                ("auth/token/revoke", &by_token),
                ("auth/token/revoke-orphan", &by_token),
                ("auth/token/lookup-accessor", &by_accessor),
                ("auth/token/renew-accessor", &by_accessor),
                ("auth/token/revoke-accessor", &by_accessor),
            ];
            for (path, body) in as_root {
                let got = self.outcome(path, &self.root, body.clone()).await;
                out.push((format!("{path} of a token {how}"), got));
            }
            for path in [
                "auth/token/lookup-self",
                "auth/token/renew-self",
                "auth/token/revoke-self",
                "auth/token/create",
                "secret/data/x",
            ] {
                let got = self.outcome(path, &tok, json!({})).await;
                out.push((format!("{path} with a token {how}"), got));
            }
            let got = self
                .outcome(
                    "sys/capabilities-accessor",
                    &self.root,
                    json!({"accessor": acc, "paths": ["x"]}),
                )
                .await;
            out.push((format!("sys/capabilities-accessor, {how}"), got));
        }
        for path in [
            "auth/token/renew",
            "auth/token/revoke",
            "auth/token/revoke-orphan",
            "auth/token/lookup-accessor",
            "auth/token/revoke-accessor",
            "sys/leases/lookup",
            "sys/leases/renew",
            "sys/leases/revoke",
        ] {
            let got = self.outcome(path, &self.root, json!({})).await;
            out.push((format!("{path} without its parameter"), got));
        }
        for id in ["database/creds/readonly/nope", "auth/token/create/nope"] {
            for path in ["sys/leases/lookup", "sys/leases/renew", "sys/leases/revoke"] {
                let got = self
                    .outcome(path, &self.root, json!({ "lease_id": id }))
                    .await;
                out.push((format!("{path} of {id}"), got));
            }
        }
        for path in ["sys/wrapping/lookup", "sys/wrapping/unwrap"] {
            let body = json!({"token": "hvs.CAESIDoesNotExistDoesNotExistDoesNotExist"});
            let got = self.outcome(path, &self.root, body).await;
            out.push((format!("{path} of a token that never existed"), got));
        }

        // The fields of a token lease's lookup (values differ: IDs and times).
        self.token(json!({"ttl": "1h"})).await;
        let v = self
            .ok("LIST", "sys/leases/lookup/auth/token/create/", json!({}))
            .await;
        let key = v["data"]["keys"][0].as_str().expect("a token lease");
        let lease = format!("auth/token/create/{key}");
        let v = self
            .ok("PUT", "sys/leases/lookup", json!({ "lease_id": lease }))
            .await;
        let mut fields: Vec<&String> = v["data"].as_object().expect("data").keys().collect();
        fields.sort();
        out.push((
            "sys/leases/lookup fields and path of a token lease".into(),
            (200, json!({"fields": fields, "path": v["data"]["path"]})),
        ));
        out
    }
}

#[tokio::test]
async fn invalid_token_and_lease_answers_match_openbao() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = harness::unique_name("root");
    let server = ServerProcess::dev(dir.path(), &root, &[]).await;
    let bao = BaoDev::start(dir.path(), &root).await;
    let ours = Target {
        name: "secrethub",
        addr: server.addr().to_string(),
        root: root.clone(),
        http: server.http().clone(),
    };
    let theirs = Target {
        name: "openbao",
        addr: bao.addr.clone(),
        root,
        http: reqwest::Client::new(),
    };
    let (ours_answers, theirs_answers) = tokio::join!(ours.answers(), theirs.answers());
    let differences: Vec<String> = ours_answers
        .iter()
        .zip(&theirs_answers)
        .filter(|((_, a), (_, b))| a != b)
        .map(|((what, a), (_, b))| format!("{what}:\n  secrethub {a:?}\n  openbao   {b:?}"))
        .collect();
    assert_eq!(ours_answers.len(), theirs_answers.len());
    assert!(
        differences.is_empty(),
        "{} answers differ from OpenBao's:\n{}",
        differences.len(),
        differences.join("\n")
    );
}
