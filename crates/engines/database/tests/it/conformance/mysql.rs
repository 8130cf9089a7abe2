//! The MySQL plugin's target: the machine's shared MariaDB 10.11 (127.0.0.1:3306) with a
//! database, an admin user (with a password) and a role name of its own (see
//! `crate::mysql::MyServer`), all dropped with the target.

use async_trait::async_trait;
use mysql_async::prelude::Queryable;
use serde_json::{json, Value};

use super::Target;
use crate::mysql::{connect, root, user_exists, users_with_prefix, MyServer, ADDR};

pub(crate) struct Mysql(MyServer);

#[async_trait]
impl Target for Mysql {
    async fn create() -> Self {
        Self(MyServer::create().await)
    }

    fn server_addr(&self) -> String {
        ADDR.into()
    }

    fn config(&self, addr: &str) -> Value {
        self.0.config("mysql-database-plugin", addr)
    }

    fn admin_password(&self) -> String {
        self.0.admin_password.clone()
    }

    fn creation_statements(&self) -> Value {
        self.0.select_only()
    }

    fn failing_statements(&self) -> Value {
        // CREATE USER commits by itself in MySQL; the plugin must drop the user again.
        json!([
            "CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'",
            "GRANT SELEC ON *.* TO '{{name}}'@'%'",
        ])
    }

    async fn user_exists(&self, username: &str) -> bool {
        user_exists(username).await
    }

    async fn users_with_prefix(&self, prefix: &str) -> Vec<String> {
        users_with_prefix(prefix).await
    }

    async fn can_log_in(&self, username: &str, password: &str) -> bool {
        match connect(username, password, None).await {
            Ok(mut c) => c.query_drop("SELECT 1").await.is_ok(),
            Err(_) => false,
        }
    }

    async fn drop_user(&self, username: &str) {
        root()
            .await
            .query_drop(format!("DROP USER IF EXISTS '{username}'@'%'"))
            .await
            .expect("drop user");
    }

    async fn clean_up(&self, intents: &[Value]) {
        let mut root = root().await;
        for u in intents.iter().filter_map(|i| i["username"].as_str()) {
            root.query_drop(format!("DROP USER IF EXISTS '{u}'@'%'"))
                .await
                .expect("drop user");
        }
    }
}
