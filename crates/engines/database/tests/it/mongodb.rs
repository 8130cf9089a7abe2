//! The MongoDB plugin over the real wire protocol, against a scripted stand-in: no MongoDB
//! server can run on the build machine, so `mongodb/fake_server.py` (PyPI mockupdb 1.8.1, in
//! `scripts/test`'s venv) answers the commands the plugin sends and records every command
//! document it receives, and these tests assert on those documents. The stand-in checks the
//! admin password for real (SCRAM-SHA-256), but has no roles, data or permissions: what a
//! credential can do on a real server is tested by `mongodb::real` and the conformance suite's
//! MongoDB target, which run only when `SECRETHUB_TEST_MONGODB_URL` names a real server.

mod fake;
pub(crate) mod real;

use secrethub_common::ErrorKind;
use secrethub_engine::{EngineError, Operation};
use secrethub_testkit::process::free_port;
use serde_json::{json, Value};

use crate::harness::Mount;
use fake::{Fake, Logs};

const STATEMENT: &str = r#"{"db": "admin", "roles": [{"role": "readWrite", "db": "docs"}, {"role": "read"}, "dbAdmin"]}"#;

async fn mount_with_role(fake: &Fake, role_body: Value) -> Mount {
    let mount = Mount::new();
    mount.write("config/docs", fake.config()).await;
    let mut body = role_body;
    body["db_name"] = "docs".into();
    mount.write("roles/rw", body).await;
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

fn cmd(db: &str, command: Value) -> Value {
    json!({"db": db, "command": command})
}

#[tokio::test]
async fn creds_send_create_user_with_the_roles_and_scram_sha_256() {
    let (logs, _guard) = Logs::capture();
    let fake = Fake::start().await;
    let mount = Mount::new();
    mount.write("config/docs", fake.config()).await;
    // The config write checked the connection as the admin (SCRAM checked the password):
    // reachable, which version, which privileges.
    let check = vec![
        cmd("admin", json!({"ping": 1})),
        cmd("admin", json!({"buildInfo": 1})),
        cmd(
            "admin",
            json!({"connectionStatus": 1, "showPrivileges": true}),
        ),
    ];
    assert_eq!(fake.commands().await, check);
    mount
        .write(
            "roles/rw",
            json!({"db_name": "docs", "creation_statements": STATEMENT}),
        )
        .await;
    let creds = mount.creds("rw").await;
    assert_eq!(mount.intents.all(), vec![creds.internal.clone()]);
    assert_eq!(
        fake.commands_after(check.len()).await,
        vec![
            cmd("admin", json!({"ping": 1})),
            cmd(
                "admin",
                json!({
                    "createUser": creds.username,
                    "pwd": creds.password,
                    // Vault's shape: a role without a database is the bare name.
                    "roles": [{"role": "readWrite", "db": "docs"}, "read", "dbAdmin"],
                    "mechanisms": ["SCRAM-SHA-256"],
                })
            ),
        ]
    );
    assert!(fake
        .users()
        .await
        .contains(&format!("admin.{}", creds.username)));
    // The seed endpoint's facts.
    let r = mount
        .call(Operation::Read, "creds/rw", json!({"_seed": true}))
        .await
        .unwrap();
    let data = r.data.unwrap();
    assert_eq!(
        (&data["host"], &data["port"], &data["database"]),
        (&json!("127.0.0.1"), &json!(fake.port), &json!("admin"))
    );
    let text = logs.text();
    assert!(!text.contains(&creds.password), "{text}");
    assert!(!text.contains(&fake.admin_password), "{text}");
}

#[tokio::test]
async fn revocation_drops_the_user_and_twice_is_success() {
    let fake = Fake::start().await;
    let mount = mount_with_role(&fake, json!({"creation_statements": STATEMENT})).await;
    let creds = mount.creds("rw").await;
    let n = fake.commands().await.len();
    mount.revoke(&creds.internal).await.unwrap();
    let drop = cmd(
        "admin",
        json!({"dropUser": creds.username, "writeConcern": {"w": "majority"}}),
    );
    assert_eq!(fake.commands_after(n).await, vec![drop.clone()]);
    assert!(!fake
        .users()
        .await
        .contains(&format!("admin.{}", creds.username)));
    // Again: UserNotFound, then a look across databases finds nothing: success.
    mount.revoke(&creds.internal).await.unwrap();
    assert_eq!(
        fake.commands_after(n + 1).await,
        vec![
            drop,
            cmd(
                "admin",
                json!({"usersInfo": {"forAllDBs": true}, "filter": {"user": creds.username}})
            ),
        ]
    );
}

#[tokio::test]
async fn users_of_other_databases_are_found_or_named_by_the_revocation_statement() {
    let fake = Fake::start().await;
    let mount = mount_with_role(
        &fake,
        json!({"creation_statements": r#"{"db": "docs", "roles": ["readWrite"]}"#}),
    )
    .await;
    let creds = mount.creds("rw").await;
    let n = fake.commands().await.len();
    assert_eq!(
        fake.commands_after(n - 1).await,
        vec![cmd(
            "docs",
            json!({"createUser": creds.username, "pwd": creds.password,
                   "roles": ["readWrite"], "mechanisms": ["SCRAM-SHA-256"]})
        )]
    );
    // No revocation statement: not in admin (Vault's default), so found where it is.
    mount.revoke(&creds.internal).await.unwrap();
    let drop = |db: &str| {
        cmd(
            db,
            json!({"dropUser": creds.username, "writeConcern": {"w": "majority"}}),
        )
    };
    assert_eq!(
        fake.commands_after(n).await,
        vec![
            drop("admin"),
            cmd(
                "admin",
                json!({"usersInfo": {"forAllDBs": true}, "filter": {"user": creds.username}})
            ),
            drop("docs"),
        ]
    );
    assert!(fake
        .users()
        .await
        .iter()
        .all(|u| !u.ends_with(&creds.username)));

    // With Vault's revocation statement the user is dropped from that database directly.
    mount
        .write(
            "roles/rw",
            json!({"db_name": "docs", "creation_statements": r#"{"db": "docs", "roles": ["read"]}"#,
                   "revocation_statements": r#"{"db": "docs"}"#}),
        )
        .await;
    let creds = mount.creds("rw").await;
    let n = fake.commands().await.len();
    mount.revoke(&creds.internal).await.unwrap();
    assert_eq!(
        fake.commands_after(n).await,
        vec![cmd(
            "docs",
            json!({"dropUser": creds.username, "writeConcern": {"w": "majority"}})
        )]
    );
}

#[tokio::test]
async fn a_batch_of_expired_leases_drops_each_user() {
    let fake = Fake::start().await;
    let mount = mount_with_role(&fake, json!({"creation_statements": STATEMENT})).await;
    let mut creds = Vec::new();
    for _ in 0..3 {
        creds.push(mount.creds("rw").await);
    }
    let n = fake.commands().await.len();
    let leases: Vec<_> = creds
        .iter()
        .map(|c| mount.lease(&c.internal, true, 0))
        .collect();
    let results = mount.engine.revoke_batch(&leases, &mount.storage).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let mut dropped: Vec<String> = fake
        .commands_after(n)
        .await
        .iter()
        .map(|c| {
            assert_eq!(c["db"], "admin", "{c}");
            assert_eq!(
                c["command"]["writeConcern"],
                json!({"w": "majority"}),
                "{c}"
            );
            c["command"]["dropUser"]
                .as_str()
                .expect("dropUser")
                .to_string()
        })
        .collect();
    dropped.sort();
    let mut issued: Vec<String> = creds.iter().map(|c| c.username.clone()).collect();
    issued.sort();
    assert_eq!(dropped, issued);
    assert_eq!(fake.users().await, vec![format!("admin.{}", fake.admin)]);
}

#[tokio::test]
async fn renewal_extends_the_lease_only() {
    let fake = Fake::start().await;
    let mount = mount_with_role(
        &fake,
        json!({"creation_statements": STATEMENT, "max_ttl": "2h"}),
    )
    .await;
    let creds = mount.creds("rw").await;
    let n = fake.commands().await.len();
    let later = secrethub_common::now_unix() + 7200;
    mount.renew(&creds.internal, later).await.unwrap();
    assert_eq!(fake.commands_after(n).await, Vec::<Value>::new());
}

#[tokio::test]
async fn rotate_root_updates_the_admin_and_the_engine_uses_the_new_password() {
    let (logs, _guard) = Logs::capture();
    let fake = Fake::start().await;
    let mount = mount_with_role(&fake, json!({"creation_statements": STATEMENT})).await;
    let n = fake.commands().await.len();
    mount.write("rotate-root/docs", json!({})).await;
    let sent = fake.commands_after(n).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["db"], "admin");
    let command = sent[0]["command"].as_object().unwrap();
    // Key order is not kept on the way back from the stand-in: its JSON is a sorted map here.
    assert_eq!(
        command.keys().collect::<Vec<_>>(),
        vec!["pwd", "updateUser"]
    );
    assert_eq!(command["updateUser"], json!(fake.admin));
    let new_password = command["pwd"].as_str().unwrap().to_string();
    assert!(new_password.len() >= 20 && new_password != fake.admin_password);
    // The stand-in now takes only the new password: creds authenticate with it.
    mount.creds("rw").await;
    // The old one is refused, with a clear 400 that does not echo it.
    let msg = bad_request(
        Mount::new()
            .call(Operation::Update, "config/old", fake.config())
            .await,
    );
    assert!(msg.contains("authentication failed"), "{msg}");
    assert!(!msg.contains(&fake.admin_password), "{msg}");
    let text = mount.read("config/docs").await.to_string();
    assert!(!text.contains(&new_password), "{text}");
    let logged = logs.text();
    assert!(!logged.contains(&new_password), "{logged}");
}

#[tokio::test]
async fn write_concern_goes_with_every_user_command() {
    let fake = Fake::start().await;
    let mount = Mount::new();
    let mut config = fake.config();
    config["write_concern"] = json!(r#"{"WMode": "majority", "WTimeout": 5000, "J": true}"#);
    mount.write("config/docs", config).await;
    mount
        .write(
            "roles/rw",
            json!({"db_name": "docs", "creation_statements": r#"{"roles": ["read"]}"#}),
        )
        .await;
    let creds = mount.creds("rw").await;
    mount.revoke(&creds.internal).await.unwrap();
    let wc = json!({"wtimeout": 5000, "j": true, "w": "majority"});
    let sent = fake.commands().await;
    let create = &sent[sent.len() - 2]["command"];
    assert_eq!(create["createUser"], json!(creds.username));
    assert_eq!(create["writeConcern"], wc);
    assert_eq!(sent[sent.len() - 1]["command"]["writeConcern"], wc);
    let shown = mount.read("config/docs").await;
    assert_eq!(
        shown["connection_details"]["write_concern"],
        json!(r#"{"WMode": "majority", "WTimeout": 5000, "J": true}"#)
    );
}

#[tokio::test]
async fn bad_input_is_a_clear_400_and_sends_nothing() {
    let fake = Fake::start().await;
    let mount = mount_with_role(&fake, json!({"creation_statements": STATEMENT})).await;
    let n = fake.commands().await.len();
    for (statements, want) in [
        (
            "readWrite@docs",
            "must be a JSON document with \"db\" and \"roles\"",
        ),
        (r#"["readWrite"]"#, "must be a JSON document"),
        (
            r#"{"db": "docs", "role": "readWrite"}"#,
            "unknown field `role`",
        ),
        (r#"{"db": "docs", "roles": []}"#, "at least one role"),
        (r#"{"roles": [{"db": "docs"}]}"#, "missing field `role`"),
    ] {
        let msg = bad_request(
            mount
                .call(
                    Operation::Update,
                    "roles/rw",
                    json!({"db_name": "docs", "creation_statements": statements}),
                )
                .await,
        );
        assert!(msg.contains(want), "{statements}: {msg}");
    }
    let msg = bad_request(
        mount
            .call(
                Operation::Update,
                "roles/rw",
                json!({"db_name": "docs", "creation_statements": STATEMENT,
                       "revocation_statements": "dropUser"}),
            )
            .await,
    );
    assert!(
        msg.contains("revocation_statements must be a JSON document"),
        "{msg}"
    );
    let msg = bad_request(
        mount
            .call(
                Operation::Update,
                "roles/rw",
                json!({"db_name": "docs", "creation_statements": STATEMENT,
                       "renew_statements": "{}"}),
            )
            .await,
    );
    assert!(msg.contains("renew_statements are not supported"), "{msg}");

    // Config: an unknown field, a missing template value, a bad write concern.
    let with = |extra: Value| {
        let mut b = fake.config();
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    for (extra, want) in [
        (
            json!({"host": "127.0.0.1"}),
            "unknown field for mongodb-database-plugin: host".to_string(),
        ),
        (
            json!({"username": ""}),
            "username is required: connection_url contains {{username}}".to_string(),
        ),
        (
            json!({"write_concern": "{\"W\": \"all\"}"}),
            "write_concern: W has the wrong type".to_string(),
        ),
        (
            json!({"connection_url": "mongodb+srv://cluster.example.com/admin"}),
            "mongodb+srv:// is not supported".to_string(),
        ),
    ] {
        let msg = bad_request(
            mount
                .call(Operation::Update, "config/other", with(extra.clone()))
                .await,
        );
        assert!(msg.contains(&want), "{extra}: {msg}");
    }
    assert_eq!(
        fake.commands_after(n).await,
        Vec::<Value>::new(),
        "nothing sent"
    );
    let e = mount
        .call(Operation::Read, "config/other", json!(null))
        .await;
    assert_eq!(e.err().map(|e| e.kind()), Some(ErrorKind::NotFound));

    // An unreachable server: a 400 at config write (verify_connection), nothing stored.
    let dead = free_port();
    let msg = bad_request(
        mount
            .call(
                Operation::Update,
                "config/other",
                with(json!({"connection_url": format!(
                    "mongodb://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{dead}/admin?directConnection=true")})),
            )
            .await,
    );
    assert!(
        msg.starts_with("error verifying connection \"other\""),
        "{msg}"
    );
    assert!(msg.to_lowercase().contains("refused"), "{msg}");
    assert!(!msg.contains(&fake.admin_password), "{msg}");
    // A wrong admin password: the same, naming authentication.
    let msg = bad_request(
        mount
            .call(
                Operation::Update,
                "config/other",
                with(json!({"password": "wrong-admin-pw"})),
            )
            .await,
    );
    assert!(msg.contains("authentication failed"), "{msg}");
    assert!(!msg.contains("wrong-admin-pw"), "{msg}");

    // A role the server refuses: a 400 with MongoDB's code only, nothing created, and the
    // intent (recorded once the connection worked) revokes cleanly.
    mount
        .write(
            "roles/rw",
            json!({"db_name": "docs", "creation_statements": r#"{"roles": ["no_such_role_x"]}"#}),
        )
        .await;
    let msg = bad_request(mount.try_creds("rw", json!(null)).await);
    assert_eq!(
        msg,
        "creating user failed on connection \"docs\": RoleNotFound (code 31)"
    );
    let intents = mount.intents.all();
    let username = intents.last().unwrap()["username"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(fake.users().await.iter().all(|u| !u.ends_with(&username)));
    mount.revoke(intents.last().unwrap()).await.unwrap();
}

#[tokio::test]
async fn test_connection_reports_version_and_privileges() {
    let fake = Fake::start().await;
    let mount = Mount::new();
    let r = mount
        .call(Operation::Update, "test-connection", fake.config())
        .await
        .expect("test-connection");
    let data = Value::Object(r.data.unwrap_or_default());
    assert_eq!(data["reachable"], json!(true), "{data}");
    assert_eq!(data["ready"], json!(true), "{data}");
    assert_eq!(data["server_version"], json!("7.0.0-fake"), "{data}");
    assert!(!data.to_string().contains(&fake.admin_password));
}
