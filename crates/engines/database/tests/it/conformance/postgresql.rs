//! The PostgreSQL plugin's target: the private password-checking cluster (see `cluster`).

use async_trait::async_trait;
use serde_json::{json, Value};

use super::Target;
use crate::cluster::{cluster, Cluster, ClusterExt as _};
use crate::harness::CREATE;

pub(crate) struct Postgresql {
    cluster: &'static Cluster,
}

impl Postgresql {
    async fn run(&self, sql: &str) {
        self.cluster
            .admin()
            .await
            .batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

#[async_trait]
impl Target for Postgresql {
    async fn create() -> Self {
        Self {
            cluster: cluster().await,
        }
    }

    fn server_addr(&self) -> String {
        format!("127.0.0.1:{}", self.cluster.port)
    }

    fn config(&self, addr: &str) -> Value {
        json!({
            "plugin_name": "postgresql-database-plugin",
            "connection_url": format!("postgresql://{{{{username}}}}:{{{{password}}}}@{addr}/postgres?sslmode=disable"),
            "username": "postgres",
            "password": self.cluster.password,
            "allowed_roles": "*",
        })
    }

    fn admin_password(&self) -> String {
        self.cluster.password.clone()
    }

    fn creation_statements(&self) -> Value {
        json!([CREATE])
    }

    fn failing_statements(&self) -> Value {
        json!([CREATE, "GRANT SELECT ON no_such_table TO \"{{name}}\";"])
    }

    async fn user_exists(&self, username: &str) -> bool {
        self.users_with_prefix(username)
            .await
            .iter()
            .any(|u| u == username)
    }

    async fn users_with_prefix(&self, prefix: &str) -> Vec<String> {
        self.cluster
            .admin()
            .await
            .query(
                "SELECT rolname::text FROM pg_roles WHERE starts_with(rolname, $1)",
                &[&prefix],
            )
            .await
            .expect("query pg_roles")
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    async fn can_log_in(&self, username: &str, password: &str) -> bool {
        self.cluster.login(username, password).await.is_ok()
    }

    async fn drop_user(&self, username: &str) {
        self.run(&format!("DROP ROLE \"{username}\"")).await;
    }

    async fn clean_up(&self, intents: &[Value]) {
        for u in intents.iter().filter_map(|i| i["username"].as_str()) {
            // The role may be gone already (revoked): DROP OWNED would fail then.
            let admin = self.cluster.admin().await;
            let _ = admin
                .batch_execute(&format!("DROP OWNED BY \"{u}\"; DROP ROLE \"{u}\""))
                .await;
        }
    }
}
