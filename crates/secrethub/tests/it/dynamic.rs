//! The dynamic-credentials flow through the CLI and the seed API against a real
//! server and the machine's PostgreSQL: enable `database`, configure a connection and a role,
//! read credentials, renew, look up, list, revoke (one and by prefix), and the seed's
//! `POST /v1/secrets/dynamic/{role}` and `GET /v1/sys/leases/stats`.

use serde_json::json;

use crate::harness::{self, psql, Cli, PgDatabase, ServerProcess};

fn role_exists(name: &str) -> bool {
    psql(&format!(
        "SELECT count(*) FROM pg_roles WHERE rolname = '{name}'"
    ))
    .trim()
        == "1"
}

#[tokio::test]
async fn dynamic_postgres_credentials_through_the_cli_and_seed_api() {
    let db = PgDatabase::create();
    let dir = tempfile::tempdir().expect("tempdir");
    let root = "dyn-root";
    let server = ServerProcess::dev(dir.path(), root, &[]).await;
    let cli = Cli::secrethub(server.addr(), &dir.path().join("home")).env("SECRETHUB_TOKEN", root);

    cli.ok(&["secrets", "enable", "database"]);
    let url = format!(
        "postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:5432/{}?sslmode=disable",
        db.name()
    );
    let role = format!("ro{}", secrethub_common::random_alnum(5).to_lowercase());
    cli.ok(&[
        "write",
        "database/config/analytics",
        "plugin_name=postgresql-database-plugin",
        &format!("connection_url={url}"),
        "username=postgres",
        "password=trust-ignores-it",
        &format!("allowed_roles={role}"),
        "verify_connection=true",
    ]);
    let create = harness::write_file(
        dir.path(),
        "create.sql",
        "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';",
    );
    cli.ok(&[
        "write",
        &format!("database/roles/{role}"),
        "db_name=analytics",
        "default_ttl=1h",
        "max_ttl=24h",
        &format!("creation_statements=@{}", create.display()),
    ]);

    let read = cli
        .ok(&["read", "-format=json", &format!("database/creds/{role}")])
        .json();
    let lease_id = read["lease_id"].as_str().expect("lease_id").to_string();
    let username = read["data"]["username"]
        .as_str()
        .expect("username")
        .to_string();
    assert!(
        lease_id.starts_with(&format!("database/creds/{role}/")),
        "{read}"
    );
    assert_eq!(
        (read["lease_duration"].clone(), read["renewable"].clone()),
        (json!(3600), json!(true))
    );
    assert!(
        username.starts_with(&format!("shub_{role}_")) && username.len() <= 63,
        "{username}"
    );
    assert_eq!(read["data"]["password"].as_str().unwrap().len(), 32);
    assert!(role_exists(&username));

    let renewed = cli
        .ok(&["lease", "renew", "-increment=2h", "-format=json", &lease_id])
        .json();
    assert_eq!(renewed["lease_duration"], json!(7200), "{renewed}");
    let looked = cli
        .ok(&["lease", "lookup", "-format=json", &lease_id])
        .json();
    assert_eq!(looked["data"]["id"], json!(lease_id));
    let listed = cli
        .ok(&[
            "list",
            "-format=json",
            &format!("sys/leases/lookup/database/creds/{role}"),
        ])
        .json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");

    cli.ok(&["lease", "revoke", "-sync", &lease_id]);
    assert!(
        !role_exists(&username),
        "revoking the lease dropped the role"
    );

    // The seed endpoint, with metadata kept on the lease.
    let (status, seed) = harness::json_of(
        server
            .http()
            .post(server.url(&format!("secrets/dynamic/{role}")))
            .header("x-agent-token", root)
            .json(&json!({"ttl": 600, "metadata": {"purpose": "analytics query"}}))
            .send()
            .await
            .expect("seed request"),
    )
    .await;
    assert_eq!(status, 200, "{seed}");
    let creds = &seed["credentials"];
    assert_eq!(
        (
            creds["host"].clone(),
            creds["port"].clone(),
            creds["database"].clone()
        ),
        (json!("127.0.0.1"), json!(5432), json!(db.name())),
        "{seed}"
    );
    assert_eq!(seed["lease_duration"], json!(600));
    let seed_lease = seed["lease_id"].as_str().unwrap().to_string();
    let looked = cli
        .ok(&["lease", "lookup", "-format=json", &seed_lease])
        .json();
    assert_eq!(
        looked["data"]["metadata"]["purpose"],
        json!("analytics query")
    );

    cli.ok(&["read", &format!("database/creds/{role}"), "ttl=5m"]);
    let (status, stats) = server.get_json("sys/leases/stats", root).await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(
        (
            stats["data"]["active"].clone(),
            stats["data"]["revoked_total"].clone()
        ),
        (json!(2), json!(1))
    );

    cli.ok(&[
        "lease",
        "revoke",
        "-prefix",
        "-sync",
        &format!("database/creds/{role}"),
    ]);
    let left = psql(&format!(
        "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'shub_{role}_%'"
    ));
    assert_eq!(left.trim(), "0", "revoke -prefix dropped every role");

    // Bad input: an unknown role and a role the connection does not allow.
    let out = cli.run(&["read", "database/creds/nosuchrole"]);
    assert_eq!(out.code, 2, "{out:?}");
    cli.ok(&[
        "write",
        "database/roles/notallowed",
        "db_name=analytics",
        &format!("creation_statements=@{}", create.display()),
    ]);
    let out = cli.run(&["read", "database/creds/notallowed"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("notallowed"), "{out:?}");
}
