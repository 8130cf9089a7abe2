//! The database engine on the machine's PostgreSQL (connection, roles, credentials) and the
//! leases of its credentials (`sys/leases/*`, which vaultrs 0.7 does not wrap), through vaultrs.

use std::marker::PhantomData;

use rustify::endpoint::Endpoint;
use rustify::enums::{RequestMethod, RequestType, ResponseType};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use vaultrs::api::database::requests::{PostgreSQLConnectionRequestBuilder, SetRoleRequestBuilder};
use vaultrs::client::VaultClient;
use vaultrs::{database, sys};

use super::{api_code, client, dev_server};
use crate::harness::{psql, unique_name, PgDatabase};

fn role_exists(name: &str) -> bool {
    psql(&format!(
        "SELECT count(*) FROM pg_roles WHERE rolname = '{name}'"
    )) == "1"
}

/// An endpoint vaultrs 0.7 does not wrap, run through `vaultrs::api` like its own endpoints
/// (same middleware: `/v1` prefix and `X-Vault-Token`).
struct Raw<R> {
    method: RequestMethod,
    path: String,
    body: Option<Value>,
    response: PhantomData<fn() -> R>,
}

impl<R> Raw<R> {
    fn new(method: RequestMethod, path: &str, body: Option<Value>) -> Raw<R> {
        Raw {
            method,
            path: path.to_string(),
            body,
            response: PhantomData,
        }
    }
}

impl<R: DeserializeOwned + Send + Sync> Endpoint for Raw<R> {
    type Response = R;
    const REQUEST_BODY_TYPE: RequestType = RequestType::JSON;
    const RESPONSE_BODY_TYPE: ResponseType = ResponseType::JSON;

    fn path(&self) -> String {
        self.path.clone()
    }

    fn method(&self) -> RequestMethod {
        self.method.clone()
    }

    fn body(&self) -> Result<Option<Vec<u8>>, rustify::errors::ClientError> {
        // Serialising a `Value` cannot fail.
        Ok(self.body.as_ref().map(|b| serde_json::to_vec(b).unwrap()))
    }
}

/// `data` of `sys/leases/lookup`, as Vault documents it.
#[derive(Debug, Deserialize)]
struct LeaseLookup {
    id: String,
    issue_time: String,
    expire_time: Option<String>,
    last_renewal: Option<String>,
    renewable: bool,
    ttl: u64,
}

/// The envelope of a response that carries a lease (`sys/leases/renew`, `database/creds`).
#[derive(Debug, Deserialize)]
struct Leased {
    lease_id: String,
    lease_duration: u64,
    renewable: bool,
    data: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct Keys {
    keys: Vec<String>,
}

/// Enables a database mount on `db` with one role; returns (mount, role).
async fn database_with_role(vault: &VaultClient, db: &PgDatabase) -> (String, String) {
    let mount = unique_name("db");
    sys::mount::enable(vault, &mount, "database", None)
        .await
        .expect("enable database");
    let role = unique_name("ro");
    let url = format!(
        "postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:5432/{}?sslmode=disable",
        db.name()
    );
    let mut connection = PostgreSQLConnectionRequestBuilder::default();
    connection
        .plugin_name("postgresql-database-plugin")
        .connection_url(url.clone())
        .username("postgres")
        .password("trust-ignores-it")
        .allowed_roles(vec![role.clone()])
        .verify_connection(true);
    database::connection::postgres(vault, &mount, "analytics", Some(&mut connection))
        .await
        .expect("configure the connection");
    let read = database::connection::read(vault, &mount, "analytics")
        .await
        .expect("read the connection");
    assert_eq!(read.plugin_name, "postgresql-database-plugin");
    assert_eq!(read.allowed_roles, [role.as_str()]);
    assert_eq!(read.connection_details.connection_url, url);
    assert_eq!(read.connection_details.username, "postgres");

    let mut role_request = SetRoleRequestBuilder::default();
    role_request
        .db_name("analytics")
        .creation_statements(vec![
            "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';"
                .to_string(),
        ])
        .default_ttl("1h")
        .max_ttl("24h");
    database::role::set(vault, &mount, &role, Some(&mut role_request))
        .await
        .expect("create the role");
    (mount, role)
}

#[tokio::test]
async fn vaultrs_database_connection_roles_and_credentials() {
    let db = PgDatabase::create();
    let root = "vaultrs-db-root";
    let (_dir, server) = dev_server(root).await;
    let vault = client(&server, root);
    let (mount, role) = database_with_role(&vault, &db).await;

    let connections = database::connection::list(&vault, &mount)
        .await
        .expect("list connections");
    assert_eq!(connections.keys, ["analytics"]);
    let read = database::role::read(&vault, &mount, &role)
        .await
        .expect("read the role");
    assert_eq!(read.db_name, "analytics");
    assert_eq!((read.default_ttl, read.max_ttl), (3600, 86400));
    assert_eq!(read.creation_statements.len(), 1);
    assert!(read.revocation_statements.is_empty(), "{read:?}");
    let roles = database::role::list(&vault, &mount)
        .await
        .expect("list roles");
    assert_eq!(roles.keys, [role.as_str()]);

    let creds = database::role::creds(&vault, &mount, &role)
        .await
        .expect("generate credentials");
    assert!(creds.username.starts_with("shub_"), "{}", creds.username);
    assert_eq!(creds.password.len(), 32);
    assert!(role_exists(&creds.username));

    let missing = database::role::read(&vault, &mount, "no-such-role").await;
    assert_eq!(api_code(missing), 404);
    let unknown = database::role::creds(&vault, &mount, "no-such-role").await;
    assert_eq!(api_code(unknown), 400);
}

#[tokio::test]
async fn vaultrs_lease_lookup_list_renew_and_revoke() {
    let db = PgDatabase::create();
    let root = "vaultrs-lease-root";
    let (_dir, server) = dev_server(root).await;
    let vault = client(&server, root);
    let (mount, role) = database_with_role(&vault, &db).await;
    let creds_path = format!("{mount}/creds/{role}");

    let issued: Leased =
        vaultrs::api::exec_with_no_result(&vault, Raw::new(RequestMethod::GET, &creds_path, None))
            .await
            .expect("read credentials with their lease");
    assert!(
        issued.lease_id.starts_with(&format!("{creds_path}/")),
        "{issued:?}"
    );
    assert_eq!((issued.lease_duration, issued.renewable), (3600, true));
    let username = issued.data.as_ref().and_then(|d| d["username"].as_str());
    let username = username.expect("credentials carry a username").to_string();
    assert!(role_exists(&username));

    let lookup = |id: &str| {
        Raw::<LeaseLookup>::new(
            RequestMethod::PUT,
            "sys/leases/lookup",
            Some(json!({ "lease_id": id })),
        )
    };
    let looked = vaultrs::api::exec_with_result(&vault, lookup(&issued.lease_id))
        .await
        .expect("look the lease up");
    assert_eq!(looked.id, issued.lease_id);
    assert!(looked.renewable);
    assert!((3500..=3600).contains(&looked.ttl), "{looked:?}");
    assert!(
        !looked.issue_time.is_empty() && looked.expire_time.is_some(),
        "{looked:?}"
    );
    assert_eq!(looked.last_renewal, None);

    let listed: Keys = vaultrs::api::exec_with_result(
        &vault,
        Raw::new(
            RequestMethod::LIST,
            &format!("sys/leases/lookup/{creds_path}/"),
            None,
        ),
    )
    .await
    .expect("list leases");
    let suffix = issued.lease_id.rsplit('/').next().unwrap_or_default();
    assert_eq!(listed.keys, [suffix.to_string()]);

    let renewed: Leased = vaultrs::api::exec_with_no_result(
        &vault,
        Raw::new(
            RequestMethod::PUT,
            "sys/leases/renew",
            Some(json!({ "lease_id": issued.lease_id, "increment": 7200 })),
        ),
    )
    .await
    .expect("renew the lease");
    assert_eq!(renewed.lease_id, issued.lease_id);
    assert_eq!((renewed.lease_duration, renewed.renewable), (7200, true));
    let looked = vaultrs::api::exec_with_result(&vault, lookup(&issued.lease_id))
        .await
        .expect("look the renewed lease up");
    assert!(looked.last_renewal.is_some(), "{looked:?}");

    vaultrs::api::exec_with_empty(
        &vault,
        Raw::<Value>::new(
            RequestMethod::PUT,
            "sys/leases/revoke",
            Some(json!({ "lease_id": issued.lease_id })),
        ),
    )
    .await
    .expect("revoke the lease");
    assert!(
        !role_exists(&username),
        "revoking dropped the PostgreSQL role"
    );
    let after = vaultrs::api::exec_with_result(&vault, lookup(&issued.lease_id)).await;
    assert_eq!(api_code(after), 400);

    // revoke-prefix with two more credentials.
    let a = database::role::creds(&vault, &mount, &role).await.unwrap();
    let b = database::role::creds(&vault, &mount, &role).await.unwrap();
    vaultrs::api::exec_with_empty(
        &vault,
        Raw::<Value>::new(
            RequestMethod::PUT,
            &format!("sys/leases/revoke-prefix/{creds_path}"),
            None,
        ),
    )
    .await
    .expect("revoke by prefix");
    assert!(!role_exists(&a.username) && !role_exists(&b.username));
}
