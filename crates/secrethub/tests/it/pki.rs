//! The PKI engine through OpenBao's own CLI (`bao`) against a dev-mode SecretHub: enable,
//! a root CA, a role, a certificate issued and checked under the root (x509-parser), the CA
//! fetched without a token, a refused name as exit code 2 with Vault's message, a
//! revocation that the CRL (fetched without a token) then lists; the issued private key
//! never reaches the server's trace-level log.

use serde_json::Value;
use x509_parser::prelude::{FromDer as _, X509Certificate};
use x509_parser::revocation_list::CertificateRevocationList;

use crate::bao_cli::bao_binary;
use crate::harness::{self, Cli, ServerProcess};

/// `bao write -format=json <args>`'s `data`.
fn write_data(bao: &Cli, args: &[&str]) -> Value {
    let mut all = vec!["write", "-format=json"];
    all.extend_from_slice(args);
    bao.ok(&all).json()["data"].clone()
}

fn text(v: &Value, field: &str) -> String {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {v}"))
        .to_string()
}

fn der_of_pem(pem: &str) -> Vec<u8> {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("PEM");
    block.contents
}

fn serial_hex(serial: &str) -> String {
    serial.replace(':', "")
}

#[tokio::test]
async fn bao_cli_issues_verifies_revokes_and_the_crl_lists_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = harness::unique_name("root");
    let server = ServerProcess::dev(dir.path(), &root, &[("SECRETHUB_LOG", "trace")]).await;
    let bao =
        Cli::bao(&bao_binary(), server.addr(), &dir.path().join("home")).env("VAULT_TOKEN", &root);

    let out = bao.ok(&["secrets", "enable", "pki"]);
    assert!(
        out.stdout
            .contains("Success! Enabled the pki secrets engine"),
        "{out:?}"
    );
    // Vault's PKI quick start: the mount's max above the system's 768h, for a ten-year root.
    bao.ok(&["secrets", "tune", "-max-lease-ttl=87600h", "pki"]);
    let ca = write_data(
        &bao,
        &[
            "pki/root/generate/internal",
            "common_name=SecretHub Test Root",
            "key_type=ec",
            "ttl=87600h",
        ],
    );
    let ten_years = ca["expiration"].as_i64().expect("expiration") - unix_now();
    assert!((87_590 * 3600..=87_600 * 3600).contains(&ten_years), "{ca}");
    let ca_pem = text(&ca, "certificate");
    write_data(
        &bao,
        &[
            "pki/roles/web",
            "allowed_domains=example.com",
            "allow_subdomains=true",
            "key_type=ec",
            "ttl=1h",
        ],
    );
    let issued = write_data(
        &bao,
        &[
            "pki/issue/web",
            "common_name=a.example.com",
            "alt_names=b.example.com",
        ],
    );
    let leaf_der = der_of_pem(&text(&issued, "certificate"));
    let ca_der = der_of_pem(&ca_pem);
    let (_, leaf) = X509Certificate::from_der(&leaf_der).expect("issued certificate");
    let (_, ca_cert) = X509Certificate::from_der(&ca_der).expect("CA certificate");
    leaf.verify_signature(Some(ca_cert.public_key()))
        .expect("the certificate is signed by the root");
    assert_eq!(leaf.issuer(), ca_cert.subject());
    let names = leaf
        .subject_alternative_name()
        .expect("SAN extension")
        .expect("SANs")
        .value
        .general_names
        .iter()
        .filter_map(|n| match n {
            x509_parser::extensions::GeneralName::DNSName(d) => Some(d.to_string()),
            _ => None,
        })
        .collect::<Vec<_>>();
    assert_eq!(names, ["a.example.com", "b.example.com"]);
    let private_key = text(&issued, "private_key");
    assert!(private_key.starts_with("-----BEGIN EC PRIVATE KEY-----"));

    // A name the role does not allow: exit code 2 and Vault's message.
    let refused = bao.run(&["write", "pki/issue/web", "common_name=a.other.com"]);
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(
        refused
            .stderr
            .contains("common name a.other.com not allowed by this role"),
        "{refused:?}"
    );

    // The CA without a token, byte for byte what the root generation answered.
    let pem = server
        .http()
        .get(server.url("pki/ca/pem"))
        .send()
        .await
        .expect("GET ca/pem");
    assert_eq!(pem.status(), 200);
    assert_eq!(
        pem.headers()["content-type"],
        "application/pem-certificate-chain"
    );
    assert_eq!(pem.text().await.expect("body").trim(), ca_pem.trim());

    let serial = text(&issued, "serial_number");
    let revoked = write_data(&bao, &["pki/revoke", &format!("serial_number={serial}")]);
    assert_eq!(revoked["state"], "revoked");
    let listed = bao.ok(&["list", "-format=json", "pki/certs"]).json();
    assert!(listed
        .as_array()
        .expect("a list")
        .iter()
        .any(|s| s == serial.as_str()));

    let crl = server
        .http()
        .get(server.url("pki/crl"))
        .send()
        .await
        .expect("GET crl");
    assert_eq!(crl.status(), 200);
    assert_eq!(crl.headers()["content-type"], "application/pkix-crl");
    let der = crl.bytes().await.expect("CRL body");
    let (_, list) = CertificateRevocationList::from_der(&der).expect("a DER CRL");
    list.verify_signature(ca_cert.public_key())
        .expect("the CRL is signed by the root");
    let in_crl: Vec<String> = list
        .iter_revoked_certificates()
        .map(|r| hex_of(r.raw_serial()))
        .collect();
    assert_eq!(in_crl, [serial_hex(&serial)]);

    // The private key went to the client only.
    let body = private_key
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<String>();
    assert!(!server.log().contains(&body[..40]), "the key is in the log");
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
