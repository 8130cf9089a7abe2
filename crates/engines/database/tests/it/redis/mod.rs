//! The Redis plugin against the machine's Redis 7 (127.0.0.1:6379, ACL enabled, default user
//! `nopass +@all`; no ACL file). Every test uses its own role and admin names and deletes the
//! ACL users it made, since the server is shared.
//!
//! A failed `AUTH` leaves a connection logged in as `default` (full rights), so every login
//! check asserts on the `AUTH` reply itself. `test_connection`: what
//! `database/test-connection` reports for Redis; `tls`: TLS and `ACL SAVE` on a private
//! `redis-server`; `latency`: a measurement against the raw ACL commands (ignored).

mod latency;
mod test_connection;
mod tls;

use std::time::Duration;

use secrethub_common::ErrorKind;
use secrethub_engine::{EngineError, Operation};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::harness::{unique, Mount};

const ADDR: &str = "127.0.0.1:6379";

/// A reply, flattened: `+OK` → "OK", `-ERR x` → "-ERR x", `:1` → "1", bulk → its text, array →
/// its items joined by newlines.
async fn read_reply(r: &mut BufReader<TcpStream>) -> std::io::Result<String> {
    let mut line = String::new();
    if r.read_line(&mut line).await? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let line = line.trim_end_matches("\r\n");
    let (kind, rest) = line.split_at(1);
    Ok(match kind {
        "+" | ":" => rest.to_string(),
        "-" => format!("-{rest}"),
        "$" => {
            let n: i64 = rest.parse().unwrap();
            if n < 0 {
                return Ok("(nil)".into());
            }
            let mut buf = vec![0; n as usize + 2];
            r.read_exact(&mut buf).await?;
            buf.truncate(n as usize);
            String::from_utf8(buf).unwrap()
        }
        "*" => {
            let n: i64 = rest.parse().unwrap();
            let mut items = Vec::new();
            for _ in 0..n.max(0) {
                items.push(Box::pin(read_reply(r)).await?);
            }
            items.join("\n")
        }
        other => panic!("unexpected reply type {other}"),
    })
}

/// A raw RESP connection for checking what a credential can do.
pub(crate) struct RawConn(BufReader<TcpStream>);

impl RawConn {
    pub(crate) async fn open() -> RawConn {
        RawConn(BufReader::new(
            TcpStream::connect(ADDR).await.expect("redis on 6379"),
        ))
    }

    /// Sends a command; `Err` when the connection is closed.
    pub(crate) async fn try_cmd(&mut self, args: &[&str]) -> std::io::Result<String> {
        let mut frame = format!("*{}\r\n", args.len());
        for a in args {
            frame.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        self.0.get_mut().write_all(frame.as_bytes()).await?;
        read_reply(&mut self.0).await
    }

    pub(crate) async fn cmd(&mut self, args: &[&str]) -> String {
        self.try_cmd(args).await.expect("redis connection open")
    }
}

/// The `AUTH` reply for a username and password on a new connection, and that connection.
pub(crate) async fn login(user: &str, password: &str) -> (String, RawConn) {
    let mut c = RawConn::open().await;
    let reply = c.cmd(&["AUTH", user, password]).await;
    (reply, c)
}

/// ACL users whose names start with `prefix`.
pub(crate) async fn users_with_prefix(prefix: &str) -> Vec<String> {
    let mut c = RawConn::open().await;
    c.cmd(&["ACL", "USERS"])
        .await
        .lines()
        .filter(|u| u.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

/// Deletes the ACL users a test made (by name prefix) when dropped.
pub(crate) struct Cleanup(pub(crate) Vec<String>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let prefixes = std::mem::take(&mut self.0);
        // A thread of its own: Drop may run inside a runtime, which cannot be blocked on.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let mut c = RawConn::open().await;
                for p in prefixes {
                    for u in users_with_prefix(&p).await {
                        c.cmd(&["ACL", "DELUSER", &u]).await;
                    }
                }
            });
        })
        .join();
    }
}

/// A test's names: a role (whose users are `shub_<role>_…`) and an admin user with full
/// rights and a password, so the engine authenticates for real.
pub(crate) struct Names {
    pub(crate) role: String,
    pub(crate) admin: String,
    pub(crate) admin_password: String,
    pub(crate) prefix: String,
    _cleanup: Cleanup,
}

pub(crate) async fn names() -> Names {
    let role = unique("rt");
    let admin = format!("probe_adm_{role}");
    let admin_password = format!("Adm-{}", secrethub_common::random_alnum(20));
    let mut c = RawConn::open().await;
    let ok = c
        .cmd(&[
            "ACL",
            "SETUSER",
            &admin,
            "reset",
            "on",
            &format!(">{admin_password}"),
            "~*",
            "&*",
            "+@all",
        ])
        .await;
    assert_eq!(ok, "OK");
    let prefix = format!("shub_{role}_");
    Names {
        _cleanup: Cleanup(vec![prefix.clone(), admin.clone()]),
        role,
        admin,
        admin_password,
        prefix,
    }
}

/// A mount with connection `cache` (our admin) and role `names.role` written from `role_body`.
pub(crate) async fn mount_with_role(names: &Names, role_body: Value) -> Mount {
    let mount = Mount::new();
    mount
        .write(
            "config/cache",
            json!({
                "plugin_name": "redis-database-plugin",
                "host": "127.0.0.1",
                "port": 6379,
                "username": names.admin,
                "password": names.admin_password,
                "allowed_roles": "*",
            }),
        )
        .await;
    let mut body = role_body;
    body["db_name"] = "cache".into();
    mount.write(&format!("roles/{}", names.role), body).await;
    mount
}

fn bad_request(result: Result<impl Sized, EngineError>) -> String {
    match result {
        Ok(_) => panic!("expected a 400"),
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::BadRequest, "{e}");
            e.to_string()
        }
    }
}

#[tokio::test]
async fn credential_can_do_what_its_rules_grant_and_nothing_more() {
    let n = names().await;
    let mount = mount_with_role(
        &n,
        json!({"creation_statements": format!(r#"["~{0}:*", "+@read", "+set", "+acl|whoami"]"#, n.role)}),
    )
    .await;
    let creds = mount.creds(&n.role).await;
    assert!(creds.username.starts_with(&n.prefix), "{}", creds.username);

    let (reply, _) = login(&creds.username, "wrong-password").await;
    assert!(reply.starts_with("-WRONGPASS"), "{reply}");
    let (reply, mut c) = login(&creds.username, &creds.password).await;
    assert_eq!(reply, "OK");
    assert_eq!(c.cmd(&["ACL", "WHOAMI"]).await, creds.username);
    let key = format!("{}:k", n.role);
    assert_eq!(c.cmd(&["SET", &key, "v"]).await, "OK");
    assert_eq!(c.cmd(&["GET", &key]).await, "v");
    // A key outside its pattern, a command outside its rules, and ACL itself: NOPERM.
    let other = c.cmd(&["GET", "elsewhere:k"]).await;
    assert!(other.starts_with("-NOPERM"), "{other}");
    let del = c.cmd(&["DEL", &key]).await;
    assert!(del.starts_with("-NOPERM"), "{del}");
    let acl = c.cmd(&["ACL", "SETUSER", "probe_escalate", "on"]).await;
    assert!(acl.starts_with("-NOPERM"), "{acl}");

    // The seed endpoint's facts.
    let r = mount
        .call(
            Operation::Read,
            &format!("creds/{}", n.role),
            json!({"_seed": true}),
        )
        .await
        .unwrap();
    let data = r.data.unwrap();
    assert_eq!(data["host"], "127.0.0.1");
    assert_eq!(data["port"], 6379);
    let mut admin = RawConn::open().await;
    admin.cmd(&["DEL", &key]).await;
}

#[tokio::test]
async fn revocation_ends_logins_and_open_connections() {
    let n = names().await;
    let mount = mount_with_role(
        &n,
        json!({"creation_statements": r#"["~*", "+@read", "+ping"]"#}),
    )
    .await;
    let creds = mount.creds(&n.role).await;
    // Recorded before the user existed, and enough to revoke it.
    assert_eq!(mount.intents.all(), vec![creds.internal.clone()]);
    let (reply, mut open) = login(&creds.username, &creds.password).await;
    assert_eq!(reply, "OK");
    assert_eq!(open.cmd(&["PING"]).await, "PONG");

    mount.revoke(&creds.internal).await.unwrap();
    let (reply, _) = login(&creds.username, &creds.password).await;
    assert!(reply.starts_with("-WRONGPASS"), "{reply}");
    // ACL DELUSER closed the session that was already authenticated.
    assert!(open.try_cmd(&["PING"]).await.is_err(), "session still open");
    assert!(users_with_prefix(&creds.username).await.is_empty());
    // Revoking again (or a user deleted by hand) is success.
    mount.revoke(&creds.internal).await.unwrap();
}

#[tokio::test]
async fn expiry_revokes_in_one_batch_and_closes_sessions() {
    let n = names().await;
    let mount = mount_with_role(&n, json!({"default_ttl": "1h"})).await;
    let mut creds = Vec::new();
    let mut sessions = Vec::new();
    for _ in 0..5 {
        let c = mount.creds(&n.role).await;
        let (reply, s) = login(&c.username, &c.password).await;
        assert_eq!(reply, "OK");
        // Vault's default rules: read anything, write nothing.
        let mut s = s;
        assert_eq!(s.cmd(&["GET", "x"]).await, "(nil)");
        assert!(s.cmd(&["SET", "x", "1"]).await.starts_with("-NOPERM"));
        sessions.push(s);
        creds.push(c);
    }
    // One user already deleted by hand: the batch still succeeds.
    RawConn::open()
        .await
        .cmd(&["ACL", "DELUSER", &creds[0].username])
        .await;
    let leases: Vec<_> = creds
        .iter()
        .map(|c| mount.lease(&c.internal, true, 0))
        .collect();
    let results = mount.engine.revoke_batch(&leases, &mount.storage).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert!(users_with_prefix(&n.prefix).await.is_empty());
    for (c, mut s) in creds.iter().zip(sessions) {
        assert!(s.try_cmd(&["PING"]).await.is_err());
        let (reply, _) = login(&c.username, &c.password).await;
        assert!(reply.starts_with("-WRONGPASS"), "{reply}");
    }
}

#[tokio::test]
async fn renewal_extends_the_lease_only() {
    let n = names().await;
    let mount = mount_with_role(&n, json!({"default_ttl": "1h", "max_ttl": "2h"})).await;
    let creds = mount.creds(&n.role).await;
    assert_eq!(creds.ttl, Duration::from_secs(3600));
    let later = secrethub_common::now_unix() + 7200;
    mount.renew(&creds.internal, later).await.unwrap();
    let (reply, _) = login(&creds.username, &creds.password).await;
    assert_eq!(reply, "OK");
    mount.revoke(&creds.internal).await.unwrap();
}

#[tokio::test]
async fn bad_statements_are_refused_at_role_write_and_create_nothing() {
    let n = names().await;
    let mount = mount_with_role(&n, json!({})).await;
    for (statements, want) in [
        ("+@read", "must be a JSON list of Redis ACL rules"),
        (r#"["bogus"]"#, "\"bogus\" is not a Redis ACL rule"),
        (r#"[">known-password"]"#, "not allowed"),
        (r#"["nopass"]"#, "not allowed"),
    ] {
        let e = mount
            .call(
                Operation::Update,
                &format!("roles/{}", n.role),
                json!({"db_name": "cache", "creation_statements": statements}),
            )
            .await;
        let msg = bad_request(e);
        assert!(msg.contains(want), "{statements}: {msg}");
        assert!(!msg.contains("known-password"), "{msg}");
    }
    let e = mount
        .call(
            Operation::Update,
            &format!("roles/{}", n.role),
            json!({"db_name": "cache", "revocation_statements": "ACL DELUSER x"}),
        )
        .await;
    assert!(bad_request(e).contains("revocation_statements are not supported"));

    // A command only the server can judge: refused at issue time, nothing created, and the
    // intent (recorded once the connection was held) names a user that does not exist.
    mount
        .write(
            &format!("roles/{}", n.role),
            json!({"db_name": "cache", "creation_statements": r#"["~*", "+nosuchcommand"]"#}),
        )
        .await;
    let msg = bad_request(mount.try_creds(&n.role, json!(null)).await);
    assert!(
        msg.contains("creating user failed on connection \"cache\""),
        "{msg}"
    );
    assert!(msg.contains("+nosuchcommand"), "{msg}");
    assert!(!msg.contains(&n.admin_password), "{msg}");
    assert!(users_with_prefix(&n.prefix).await.is_empty());
    for intent in mount.intents.all() {
        mount.revoke(&intent).await.unwrap();
    }

    // A role written before its connection: SQL-template checks only, so non-JSON statements
    // get through, and are a 400 at issue time, before anything is recorded.
    let early = Mount::new();
    early
        .write(
            "roles/early",
            json!({"db_name": "cache", "creation_statements": "+@read"}),
        )
        .await;
    early
        .write(
            "config/cache",
            json!({"plugin_name": "valkey-database-plugin", "host": "127.0.0.1",
                   "username": n.admin, "password": n.admin_password, "allowed_roles": "*"}),
        )
        .await;
    let msg = bad_request(early.try_creds("early", json!(null)).await);
    assert!(msg.contains("must be a JSON list"), "{msg}");
    assert!(early.intents.all().is_empty());
}

#[tokio::test]
async fn bad_connections_are_a_clear_400_and_nothing_is_stored() {
    let n = names().await;
    let mount = Mount::new();
    let base = json!({"plugin_name": "redis-database-plugin", "host": "127.0.0.1", "port": 6379,
                      "username": n.admin, "password": n.admin_password});
    let with = |extra: Value| {
        let mut b = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    // Nothing listens on port 1.
    let msg = bad_request(
        mount
            .call(Operation::Update, "config/c", with(json!({"port": 1})))
            .await,
    );
    assert!(msg.starts_with("error verifying connection \"c\""), "{msg}");
    assert!(msg.contains("refused"), "{msg}");
    let msg = bad_request(
        mount
            .call(
                Operation::Update,
                "config/c",
                with(json!({"password": "wrong-admin-password"})),
            )
            .await,
    );
    assert!(msg.contains("WRONGPASS"), "{msg}");
    assert!(!msg.contains("wrong-admin-password"), "{msg}");
    let msg = bad_request(
        mount
            .call(
                Operation::Update,
                "config/c",
                with(json!({"connection_url": "redis://127.0.0.1:6379"})),
            )
            .await,
    );
    assert_eq!(
        msg,
        "unknown field for redis-database-plugin: connection_url"
    );
    let msg = bad_request(
        mount
            .call(Operation::Update, "config/c", with(json!({"host": ""})))
            .await,
    );
    assert_eq!(msg, "host is required");
    let e = mount
        .call(Operation::Read, "config/c", json!(null))
        .await
        .err()
        .expect("nothing stored");
    assert_eq!(e.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn config_reads_never_show_the_password() {
    let n = names().await;
    let mount = mount_with_role(&n, json!({})).await;
    let shown = mount.read("config/cache").await;
    let text = shown.to_string();
    assert!(!text.contains(&n.admin_password), "{text}");
    let details = &shown["connection_details"];
    assert_eq!(details["host"], "127.0.0.1");
    assert_eq!(details["port"], 6379);
    assert_eq!(details["username"], n.admin.as_str());
    assert_eq!(details["tls"], false);
    assert!(details.get("password").is_none(), "{details}");
    assert_eq!(shown["plugin_name"], "redis-database-plugin");
}

#[tokio::test]
async fn rotate_root_changes_the_admin_password() {
    let n = names().await;
    let mount = mount_with_role(&n, json!({})).await;
    mount.write("rotate-root/cache", json!({})).await;
    let (reply, _) = login(&n.admin, &n.admin_password).await;
    assert!(
        reply.starts_with("-WRONGPASS"),
        "old admin password still works: {reply}"
    );
    // The engine uses the new password it stored.
    let creds = mount.creds(&n.role).await;
    let (reply, _) = login(&creds.username, &creds.password).await;
    assert_eq!(reply, "OK");
    mount.revoke(&creds.internal).await.unwrap();
    let text = mount.read("config/cache").await.to_string();
    assert!(!text.contains("password\":"), "{text}");
}
