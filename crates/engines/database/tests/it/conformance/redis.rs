//! The Redis plugin's target: the machine's shared Redis 7 (127.0.0.1:6379, ACL enabled).
//! Each target authenticates as an admin user of its own and names its users with a prefix of
//! its own (through `username_template`), and deletes both when dropped.

use async_trait::async_trait;
use serde_json::{json, Value};

use super::Target;
use crate::redis::{login, names, users_with_prefix, Names, RawConn};

pub(crate) struct Redis {
    names: Names,
}

#[async_trait]
impl Target for Redis {
    async fn create() -> Self {
        Self {
            names: names().await,
        }
    }

    fn server_addr(&self) -> String {
        "127.0.0.1:6379".into()
    }

    fn config(&self, addr: &str) -> Value {
        let (host, port) = addr.rsplit_once(':').expect("host:port");
        json!({
            "plugin_name": "redis-database-plugin",
            "host": host,
            "port": port.parse::<u16>().expect("port"),
            "username": self.names.admin,
            "password": self.names.admin_password,
            "allowed_roles": "*",
            // Users this target's cleanup finds by prefix.
            "username_template": format!("{}{{{{random 10}}}}", self.names.prefix),
        })
    }

    fn admin_password(&self) -> String {
        self.names.admin_password.clone()
    }

    fn creation_statements(&self) -> Value {
        json!(r#"["~*", "+@read", "+ping"]"#)
    }

    fn failing_statements(&self) -> Value {
        // ACL SETUSER checks every rule before changing anything: the server refuses this
        // one and creates nothing.
        json!(r#"["~*", "+@read", "+nosuchcommand"]"#)
    }

    async fn user_exists(&self, username: &str) -> bool {
        users_with_prefix(username)
            .await
            .iter()
            .any(|u| u == username)
    }

    async fn users_with_prefix(&self, prefix: &str) -> Vec<String> {
        users_with_prefix(prefix).await
    }

    async fn can_log_in(&self, username: &str, password: &str) -> bool {
        // A failed AUTH leaves the connection as `default`: judge by the AUTH reply.
        let (reply, mut conn) = login(username, password).await;
        reply == "OK" && conn.cmd(&["PING"]).await == "PONG"
    }

    async fn drop_user(&self, username: &str) {
        RawConn::open()
            .await
            .cmd(&["ACL", "DELUSER", username])
            .await;
    }

    async fn clean_up(&self, intents: &[Value]) {
        let mut conn = RawConn::open().await;
        for u in intents.iter().filter_map(|i| i["username"].as_str()) {
            conn.cmd(&["ACL", "DELUSER", u]).await;
        }
    }
}
