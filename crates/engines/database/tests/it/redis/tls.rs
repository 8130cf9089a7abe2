//! TLS and the ACL file, on a private `redis-server` this test starts (the machine's Redis has
//! neither): a TLS-only port with a certificate for 127.0.0.1 from a CA made here, and an ACL
//! file, so `ACL SAVE` after every change is really exercised. The default user has no
//! password there, so the plugin connects without `AUTH`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rcgen::{CertificateParams, DnType, KeyPair};
use secrethub_common::ErrorKind;
use secrethub_engine::Operation;
use serde_json::{json, Value};

use crate::harness::Mount;

struct TlsRedis {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    ca_pem: String,
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TlsRedis {
    async fn start() -> TlsRedis {
        let dir = tempfile::tempdir().expect("tempdir");
        let (ca, ca_key) = secrethub_testkit::https::new_ca("redis test ca");
        let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
        leaf.distinguished_name.push(DnType::CommonName, "redis");
        let leaf_key = KeyPair::generate().unwrap();
        let cert = leaf.signed_by(&leaf_key, &ca, &ca_key).unwrap();
        let path = |name: &str| dir.path().join(name);
        std::fs::write(path("ca.pem"), ca.pem()).unwrap();
        std::fs::write(path("server.pem"), cert.pem()).unwrap();
        std::fs::write(path("server.key"), leaf_key.serialize_pem()).unwrap();
        std::fs::write(path("users.acl"), "").unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let arg = |p: PathBuf| p.to_str().unwrap().to_string();
        let child = Command::new("redis-server")
            .args([
                "--port",
                "0",
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--tls-port", &port.to_string(), "--tls-auth-clients", "no"])
            .args(["--tls-cert-file", &arg(path("server.pem"))])
            .args(["--tls-key-file", &arg(path("server.key"))])
            .args(["--tls-ca-cert-file", &arg(path("ca.pem"))])
            .args(["--aclfile", &arg(path("users.acl"))])
            .args(["--dir", &arg(dir.path().to_path_buf())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let server = TlsRedis {
            child,
            port,
            ca_pem: ca.pem(),
            dir,
        };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("redis-server did not listen on {port}");
    }

    /// `redis-cli` over TLS as `user`; a failed AUTH leaves it logged in as `default`.
    fn whoami(&self, user: &str, password: &str) -> String {
        let ca = self.dir.path().join("ca.pem");
        let out = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "--tls"])
            .args(["--cacert", ca.to_str().unwrap(), "--no-auth-warning"])
            .args(["--user", user, "--pass", password, "ACL", "WHOAMI"])
            .output()
            .expect("redis-cli runs");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn acl_file(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("users.acl")).unwrap()
    }

    fn config(&self, extra: Value) -> Value {
        let mut body = json!({"plugin_name": "redis-database-plugin", "host": "127.0.0.1",
                              "port": self.port, "allowed_roles": "*"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    }
}

#[tokio::test]
async fn tls_with_a_ca_and_an_acl_file() {
    let server = TlsRedis::start().await;
    let mount = Mount::new();
    mount
        .write(
            "config/tls",
            server.config(json!({"tls": true, "ca_cert": server.ca_pem})),
        )
        .await;
    mount
        .write(
            "roles/app",
            json!({"db_name": "tls", "creation_statements": r#"["~*", "+@read", "+acl|whoami"]"#}),
        )
        .await;
    let creds = mount.creds("app").await;
    assert_eq!(
        server.whoami(&creds.username, &creds.password),
        creds.username
    );
    // Saved to the ACL file, so a restart keeps it; and removed from it on revoke.
    assert!(
        server.acl_file().contains(&creds.username),
        "{}",
        server.acl_file()
    );
    mount.revoke(&creds.internal).await.unwrap();
    assert!(!server.acl_file().contains(&creds.username));
    assert_eq!(server.whoami(&creds.username, &creds.password), "default");
    let shown = mount.read("config/tls").await;
    assert_eq!(
        shown["connection_details"]["ca_cert"],
        server.ca_pem.as_str()
    );
}

#[tokio::test]
async fn tls_failures_are_clear_and_insecure_tls_connects() {
    let server = TlsRedis::start().await;
    let mount = Mount::new();
    for (extra, want) in [
        // The system's roots do not know our CA.
        (json!({"tls": true}), "certificate"),
        // Plain text to a TLS port.
        (json!({}), "error verifying connection"),
    ] {
        let e = mount
            .call(
                Operation::Update,
                "config/bad",
                server.config(extra.clone()),
            )
            .await
            .err()
            .unwrap_or_else(|| panic!("{extra} was accepted"));
        assert_eq!(e.kind(), ErrorKind::BadRequest, "{e}");
        assert!(e.to_string().contains(want), "{extra}: {e}");
    }
    mount
        .write(
            "config/insecure",
            server.config(json!({"tls": true, "insecure_tls": true})),
        )
        .await;
    mount
        .write(
            "roles/app",
            json!({"db_name": "insecure", "creation_statements": r#"["+acl|whoami"]"#}),
        )
        .await;
    let creds = mount.creds("app").await;
    assert_eq!(
        server.whoami(&creds.username, &creds.password),
        creds.username
    );
}
