//! The MongoDB plugin's target: a real server named by `SECRETHUB_TEST_MONGODB_URL` (see
//! `crate::mongodb::real`). Its tests are marked ignored, so without a server cargo reports
//! them as ignored, never as passed. Each target names its users with a prefix of its own
//! (through `username_template`) and drops them when it ends.

use async_trait::async_trait;
use mongodb::bson::doc;
use serde_json::{json, Value};

use super::Target;
use crate::harness::unique;
use crate::mongodb::real;

pub(crate) struct Mongodb {
    url: String,
    prefix: String,
}

#[async_trait]
impl Target for Mongodb {
    async fn create() -> Self {
        Self {
            url: real::admin_url(),
            prefix: unique("shubc"),
        }
    }

    fn server_addr(&self) -> String {
        real::parts(&self.url).0
    }

    fn config(&self, addr: &str) -> Value {
        let (_, user, password) = real::parts(&self.url);
        json!({
            "plugin_name": "mongodb-database-plugin",
            // One host, straight to it: through the suite's proxy the server's own idea of
            // its address must not be used.
            "connection_url": format!("mongodb://{{{{username}}}}:{{{{password}}}}@{addr}/admin?directConnection=true"),
            "username": user,
            "password": password,
            "allowed_roles": "*",
            "username_template": format!("{}{{{{random 10}}}}", self.prefix),
        })
    }

    fn admin_password(&self) -> String {
        real::parts(&self.url).2
    }

    fn creation_statements(&self) -> Value {
        json!(r#"{"db": "admin", "roles": ["read"]}"#)
    }

    fn failing_statements(&self) -> Value {
        // createUser checks every role before creating anything.
        json!(r#"{"db": "admin", "roles": ["read", "no_such_role_shub"]}"#)
    }

    async fn user_exists(&self, username: &str) -> bool {
        real::users_with_prefix(username)
            .await
            .iter()
            .any(|id| id.split_once('.').map(|(_, u)| u) == Some(username))
    }

    async fn users_with_prefix(&self, prefix: &str) -> Vec<String> {
        real::users_with_prefix(prefix)
            .await
            .into_iter()
            .filter_map(|id| id.split_once('.').map(|(_, u)| u.to_string()))
            .collect()
    }

    async fn can_log_in(&self, username: &str, password: &str) -> bool {
        real::can_log_in("admin", username, password).await
    }

    async fn drop_user(&self, username: &str) {
        let _ = real::admin()
            .await
            .database("admin")
            .run_command(doc! {"dropUser": username})
            .await;
    }

    async fn clean_up(&self, _intents: &[Value]) {
        real::drop_users(&real::users_with_prefix(&self.prefix).await).await;
    }
}
