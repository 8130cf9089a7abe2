//! A TLS listener with a certificate made at test time: the CLI and an HTTP client that trust
//! it get through, one that does not is refused, and plain HTTP to the TLS port fails.

use std::path::PathBuf;

use crate::harness::{self, json_of, Cli, ServerProcess};

/// A self-signed certificate for 127.0.0.1 and localhost; returns (cert.pem, key.pem).
fn self_signed(dir: &std::path::Path) -> (PathBuf, PathBuf) {
    let names = vec!["127.0.0.1".to_string(), "localhost".to_string()];
    let cert =
        rcgen::generate_simple_self_signed(names).expect("generating a self-signed certificate");
    let cert_pem = harness::write_file(dir, "cert.pem", &cert.cert.pem());
    let key_pem = harness::write_file(dir, "key.pem", &cert.key_pair.serialize_pem());
    (cert_pem, key_pem)
}

#[tokio::test]
async fn tls_listener_serves_https_to_clients_that_trust_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = self_signed(dir.path());
    let config = format!(
        "storage \"inmem\" {{}}\nlistener \"tcp\" {{\n  address = \"127.0.0.1:0\"\n  \
         tls_cert_file = {cert:?}\n  tls_key_file = {key:?}\n}}\n"
    );
    let config = harness::write_file(dir.path(), "server.hcl", &config);
    let server = ServerProcess::with_config(dir.path(), &config, Some(&cert)).await;
    assert!(
        server.addr().starts_with("https://"),
        "banner address: {}",
        server.addr()
    );

    // reqwest trusting the certificate: the health answer of an uninitialised server.
    let resp = server
        .http()
        .get(server.url("sys/health"))
        .send()
        .await
        .expect("https health");
    let (code, body) = json_of(resp).await;
    assert_eq!((code, &body["initialized"]), (501, &false.into()), "{body}");

    // The CLI with -ca-cert, and with SECRETHUB_CACERT / VAULT_CACERT.
    let home = dir.path().join("home");
    let cert_arg = cert.to_str().expect("UTF-8 path");
    let cli = Cli::secrethub(server.addr(), &home);
    let status = cli.run(&["status", "-ca-cert", cert_arg]);
    assert_eq!(status.code, 2, "sealed, answered over TLS: {status:?}");
    assert!(status.stdout.contains("Initialized"), "{status:?}");
    let init = cli
        .clone()
        .env("SECRETHUB_CACERT", cert_arg)
        .ok(&["operator", "init", "-format=json"])
        .json();
    let vault_env = cli.clone().env("VAULT_CACERT", cert_arg);
    for key in &harness::unseal_keys(&init)[..3] {
        vault_env.ok(&["operator", "unseal", key]);
    }
    assert_eq!(vault_env.run(&["status"]).code, 0);
    let resp = server
        .http()
        .get(server.url("sys/health"))
        .send()
        .await
        .expect("https health");
    assert_eq!(resp.status().as_u16(), 200);

    // Without the certificate the CLI refuses the server (a local error: exit 1 for status).
    let untrusted = cli.run(&["status"]);
    assert_eq!(untrusted.code, 1, "{untrusted:?}");
    assert!(
        untrusted.stderr.to_lowercase().contains("certificate"),
        "{untrusted:?}"
    );

    // Plain HTTP to the TLS port never gets an answer that looks like success.
    let plain = server.addr().replacen("https://", "http://", 1);
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .expect("http client");
    match client.get(format!("{plain}/v1/sys/health")).send().await {
        Err(_) => {}
        Ok(resp) => assert!(
            !resp.status().is_success(),
            "plain http got {}",
            resp.status()
        ),
    }
}
