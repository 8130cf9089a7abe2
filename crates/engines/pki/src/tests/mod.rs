//! Engine-level tests: requests straight to the engine over an in-memory storage view, the
//! answers checked the way a client would (certificates parsed and their signatures
//! verified against the issuer with x509-parser, CRLs read back).

use std::sync::Arc;
use std::time::Duration;

use secrethub_engine::{Caller, Engine, MountContext, MountInfo, Operation, Request, StorageView};
use secrethub_storage::MemoryStorage;
use serde_json::{json, Value};
use x509_parser::prelude::{FromDer as _, X509Certificate};

use Operation::{Delete, List, Read, Update};

mod acme;
mod crl;
mod intermediate;
mod ocsp;

struct Harness {
    engine: Arc<dyn Engine>,
    storage: StorageView,
}

impl Harness {
    fn new() -> Harness {
        let storage = StorageView::new(Arc::new(MemoryStorage::new()), "logical/pki-test/");
        let engine = crate::factory(MountContext {
            engine_type: "pki".into(),
            options: Default::default(),
            storage: storage.clone(),
        })
        .unwrap();
        Harness { engine, storage }
    }

    async fn call_raw(
        &self,
        op: Operation,
        path: &str,
        raw: Option<secrethub_engine::RawInput>,
    ) -> Result<secrethub_engine::Response, secrethub_engine::EngineError> {
        let mut req = self.request(op, path, json!({}));
        req.raw_body = raw;
        self.engine.handle(req).await
    }

    fn request(&self, op: Operation, path: &str, body: Value) -> Request {
        Request {
            op,
            path: path.into(),
            body: body.as_object().cloned().unwrap_or_default(),
            storage: self.storage.clone(),
            caller: Caller::default(),
            mount: MountInfo {
                path: "pki/".into(),
                accessor: "pki_test".into(),
                default_lease_ttl: Duration::from_secs(768 * 3600),
                max_lease_ttl: Duration::from_secs(87600 * 3600),
            },
            intents: None,
            timers: None,
            raw_body: None,
        }
    }

    async fn call(
        &self,
        op: Operation,
        path: &str,
        body: Value,
    ) -> Result<secrethub_engine::Response, secrethub_engine::EngineError> {
        self.engine.handle(self.request(op, path, body)).await
    }

    async fn data(&self, op: Operation, path: &str, body: Value) -> serde_json::Map<String, Value> {
        self.call(op, path, body)
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .data
            .unwrap_or_else(|| panic!("{path}: no data"))
    }

    async fn error(&self, op: Operation, path: &str, body: Value) -> String {
        match self.call(op, path, body).await {
            Ok(_) => panic!("{path}: expected an error"),
            Err(e) => e.to_string(),
        }
    }

    async fn root(&self, key_type: &str) -> serde_json::Map<String, Value> {
        self.data(
            Update,
            "root/generate/internal",
            json!({"common_name": "Test Root", "key_type": key_type, "ttl": "87600h"}),
        )
        .await
    }
}

fn der_of(pem: &str) -> Vec<u8> {
    crate::cert::pem_to_der(pem).unwrap()
}

fn keys(map: &serde_json::Map<String, Value>) -> Vec<&str> {
    map.keys().map(String::as_str).collect()
}

#[tokio::test]
async fn root_then_issue_then_verify_under_the_root() {
    let h = Harness::new();
    let root = h.root("ec").await;
    assert_eq!(
        keys(&root),
        [
            "certificate",
            "expiration",
            "issuer_id",
            "issuer_name",
            "issuing_ca",
            "key_id",
            "key_name",
            "serial_number"
        ]
    );
    h.data(
        Update,
        "roles/web",
        json!({"allowed_domains": "example.com", "allow_subdomains": true, "key_type": "ec", "ttl": "1h"}),
    )
    .await;
    let issued = h
        .data(
            Update,
            "issue/web",
            json!({"common_name": "a.example.com", "alt_names": "b.example.com", "ip_sans": "127.0.0.1"}),
        )
        .await;
    assert_eq!(
        keys(&issued),
        [
            "ca_chain",
            "certificate",
            "expiration",
            "issuing_ca",
            "not_before",
            "private_key",
            "private_key_type",
            "serial_number"
        ]
    );
    assert!(issued["private_key"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN EC PRIVATE KEY-----"));
    let leaf_der = der_of(issued["certificate"].as_str().unwrap());
    let root_der = der_of(root["certificate"].as_str().unwrap());
    let (_, leaf) = X509Certificate::from_der(&leaf_der).unwrap();
    let (_, ca) = X509Certificate::from_der(&root_der).unwrap();
    leaf.verify_signature(Some(ca.public_key())).unwrap();
    assert_eq!(leaf.issuer(), ca.subject());
    let sans = leaf.subject_alternative_name().unwrap().unwrap().value;
    assert_eq!(
        format!("{:?}", sans.general_names),
        r#"[DNSName("a.example.com"), DNSName("b.example.com"), IPAddress([127, 0, 0, 1])]"#
    );
    let lifetime = leaf.validity().not_after.timestamp() - leaf.validity().not_before.timestamp();
    assert_eq!(lifetime, 3600 + 30);
    let serial = issued["serial_number"].as_str().unwrap();
    assert_eq!(serial.len(), 59);
    // Stored and listed; readable by serial.
    let listed = h.data(List, "certs", json!({})).await;
    assert!(listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k == serial));
    let read = h.data(Read, &format!("cert/{serial}"), json!({})).await;
    assert_eq!(read["revocation_time"], 0);
}

#[tokio::test]
async fn names_the_role_does_not_allow_are_refused_with_vaults_messages() {
    let h = Harness::new();
    h.data(
        Update,
        "root/generate/internal",
        json!({"common_name": "Short Root", "key_type": "ed25519", "ttl": "2h"}),
    )
    .await;
    h.data(Update, "roles/web", json!({"allowed_domains": "example.com", "allow_subdomains": true, "key_type": "ed25519", "allow_ip_sans": false})).await;
    let cases = [
        (json!({"common_name": "a.other.com"}), "common name a.other.com not allowed by this role"),
        (json!({"common_name": "example.com"}), "common name example.com not allowed by this role"),
        (json!({"common_name": "a.example.com", "alt_names": "b.other.com"}), "subject alternate name b.other.com not allowed by this role"),
        (json!({"common_name": "a.example.com", "ip_sans": "1.2.3.4"}), "IP Subject Alternative Names are not allowed in this role, but was provided via the API"),
        (json!({"common_name": "a.example.com", "uri_sans": "spiffe://x"}), "URI Subject Alternative Names are not allowed in this role, but were provided via the API"),
        (json!({}), crate::paths::issue::CN_REQUIRED),
    ];
    for (body, message) in cases {
        let got = match h.call(Update, "issue/web", body.clone()).await {
            Ok(_) => panic!("{body}: expected an error"),
            Err(e) => e.to_string(),
        };
        assert_eq!(got, message, "{body}");
    }
    assert_eq!(
        h.error(
            Update,
            "issue/nope",
            json!({"common_name": "a.example.com"})
        )
        .await,
        "unknown role: nope"
    );
    let too_long = h
        .error(
            Update,
            "issue/web",
            json!({"common_name": "a.example.com", "ttl": "3h"}),
        )
        .await;
    assert!(
        too_long.starts_with("cannot satisfy request, as TTL would result in notAfter of "),
        "{too_long}"
    );
}

#[tokio::test]
async fn sign_a_csr_and_revoke_it_into_the_crl() {
    let h = Harness::new();
    let root = h.root("ec").await;
    h.data(
        Update,
        "roles/svc",
        json!({"allowed_domains": "svc.test", "allow_subdomains": true, "key_type": "ec"}),
    )
    .await;
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["api.svc.test".to_string()]).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "api.svc.test");
    let csr = params.serialize_request(&key).unwrap().pem().unwrap();
    let signed = h.data(Update, "sign/svc", json!({"csr": csr})).await;
    let leaf_der = der_of(signed["certificate"].as_str().unwrap());
    let (_, leaf) = X509Certificate::from_der(&leaf_der).unwrap();
    // The CSR's own key (P-384) is in the certificate.
    assert_eq!(
        leaf.public_key().raw,
        X509Certificate::from_der(&leaf_der)
            .unwrap()
            .1
            .public_key()
            .raw
    );
    assert_eq!(
        leaf.public_key().subject_public_key.data.as_ref(),
        key.public_key_raw()
    );
    // A CSR for a name the role does not allow.
    let mut bad = rcgen::CertificateParams::new(vec!["evil.test".to_string()]).unwrap();
    bad.distinguished_name = rcgen::DistinguishedName::new();
    bad.distinguished_name
        .push(rcgen::DnType::CommonName, "evil.test");
    let bad_csr = bad.serialize_request(&key).unwrap().pem().unwrap();
    assert_eq!(
        h.error(Update, "sign/svc", json!({"csr": bad_csr})).await,
        "common name evil.test not allowed by this role"
    );
    assert_eq!(h.error(Update, "sign/svc", json!({"csr": "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"})).await, "certificate request could not be parsed");
    // sign-verbatim takes the CSR's names as they are.
    h.data(Update, "sign-verbatim", json!({"csr": bad_csr}))
        .await;

    let serial = signed["serial_number"].as_str().unwrap();
    let revoked = h
        .data(Update, "revoke", json!({"serial_number": serial}))
        .await;
    assert_eq!(revoked["state"], "revoked");
    let again = h
        .data(Update, "revoke", json!({"serial_number": serial}))
        .await;
    assert_eq!(again["revocation_time"], revoked["revocation_time"]);
    let crl = h.call(Read, "crl", json!({})).await.unwrap().raw.unwrap();
    assert_eq!(crl.content_type, "application/pkix-crl");
    let (_, list) =
        x509_parser::revocation_list::CertificateRevocationList::from_der(&crl.body).unwrap();
    let root_der = der_of(root["certificate"].as_str().unwrap());
    let (_, ca) = X509Certificate::from_der(&root_der).unwrap();
    list.verify_signature(ca.public_key()).unwrap();
    let serials: Vec<String> = list
        .iter_revoked_certificates()
        .map(|r| crate::cert::format_serial(r.raw_serial()))
        .collect();
    assert_eq!(serials, [serial]);
    let read = h.data(Read, &format!("cert/{serial}"), json!({})).await;
    assert!(read["revocation_time"].as_i64().unwrap() > 0);
    assert_eq!(
        h.error(Update, "revoke", json!({"serial_number": "00:11"}))
            .await,
        "certificate with serial 00:11 not found."
    );
    assert_eq!(
        h.error(Update, "revoke", json!({})).await,
        "The serial number or certificate to revoke must be provided."
    );
    let root_serial = root["serial_number"].as_str().unwrap();
    assert!(h
        .error(Update, "revoke", json!({"serial_number": root_serial}))
        .await
        .contains("to its own CRL is not allowed"));
}

#[tokio::test]
async fn issuers_defaults_roles_and_raw_answers() {
    let h = Harness::new();
    let empty = h
        .call(Read, "ca/pem", json!({}))
        .await
        .unwrap()
        .raw
        .unwrap();
    assert_eq!(empty.status, 204);
    let first = h.root("ec").await;
    let second = h
        .data(
            Update,
            "root/generate/exported",
            json!({"common_name": "Two", "key_type": "ec", "key_bits": 384, "issuer_name": "two"}),
        )
        .await;
    assert!(second["private_key"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN EC PRIVATE KEY-----"));
    assert_eq!(second["private_key_type"], "ec");
    assert_eq!(
        h.error(
            Update,
            "root/generate/internal",
            json!({"common_name": "x", "issuer_name": "two", "key_type": "ec"})
        )
        .await,
        "issuer name already in use"
    );
    assert_eq!(
        h.error(
            Update,
            "root/generate/internal",
            json!({"common_name": "x", "issuer_name": "a b", "key_type": "ec"})
        )
        .await,
        "issuer name contained invalid characters"
    );
    let config = h.data(Read, "config/issuers", json!({})).await;
    assert_eq!(config["default"], first["issuer_id"]);
    h.data(Update, "config/issuers", json!({"default": "two"}))
        .await;
    let pem = h
        .call(Read, "ca/pem", json!({}))
        .await
        .unwrap()
        .raw
        .unwrap();
    assert_eq!(
        String::from_utf8(pem.body).unwrap(),
        second["certificate"].as_str().unwrap()
    );
    let issuers = h.data(List, "issuers", json!({})).await;
    assert_eq!(issuers["keys"].as_array().unwrap().len(), 2);
    assert_eq!(
        issuers["key_info"][second["issuer_id"].as_str().unwrap()]["is_default"],
        true
    );
    let issuer = h.data(Read, "issuer/two", json!({})).await;
    assert_eq!(issuer["revocation_signature_algorithm"], "ECDSAWithSHA384");
    let role = h.data(Update, "roles/r", json!({"key_type": "ec"})).await;
    assert_eq!(role["key_bits"], 256);
    assert_eq!(role.len(), 52);
    assert_eq!(
        h.error(Update, "roles/r", json!({"key_type": "foo"})).await,
        "unknown key type foo"
    );
    assert_eq!(
        h.error(Update, "roles/r", json!({"ttl": "2h", "max_ttl": "1h"}))
            .await,
        "\"ttl\" value must be less than \"max_ttl\" value"
    );
    assert_eq!(h.data(List, "roles", json!({})).await["keys"], json!(["r"]));
    h.call(Delete, "roles/r", json!({})).await.unwrap();
    assert_eq!(h.error(Read, "roles/r", json!({})).await, "not found");
    // Flags core reads before the token.
    assert!(h.engine.path_flags("ca/pem", Read).unauthenticated);
    assert!(h.engine.path_flags("cert/aa:bb", Read).unauthenticated);
    assert!(h.engine.path_flags("root", Delete).sudo);
    assert!(!h.engine.path_flags("issue/web", Update).unauthenticated);
    let renamed = h
        .data(
            Update,
            "issuer/two",
            json!({"issuer_name": "deux", "leaf_not_after_behavior": "truncate"}),
        )
        .await;
    assert_eq!(renamed["leaf_not_after_behavior"], "truncate");
    let deleted = h.call(Delete, "issuer/deux", json!({})).await.unwrap();
    assert!(deleted.warnings[0].contains("configured as the default issuer"));
    assert_eq!(
        h.data(Read, "config/issuers", json!({})).await["default"],
        ""
    );
}

#[tokio::test]
async fn rsa_issue_answers_pkcs1_and_tidy_removes_expired() {
    let h = Harness::new();
    h.root("ec").await;
    h.data(
        Update,
        "roles/rsa",
        json!({"allow_any_name": true, "no_store": false}),
    )
    .await;
    let issued = h
        .data(
            Update,
            "issue/rsa",
            json!({"common_name": "r.test", "ttl": "1s"}),
        )
        .await;
    assert!(issued["private_key"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    assert_eq!(issued["private_key_type"], "rsa");
    let pkcs8 = h
        .data(
            Update,
            "issue/rsa",
            json!({"common_name": "r.test", "private_key_format": "pkcs8", "format": "der"}),
        )
        .await;
    assert!(!pkcs8["certificate"].as_str().unwrap().starts_with("-----"));
    let serial = issued["serial_number"].as_str().unwrap().to_string();
    // Expired for more than the buffer: a certificate 1 s long, a negative buffer is not
    // possible, so wait is replaced by a buffer of zero and a certificate already expired.
    let record_key = format!("certs/{}", crate::records::serial_key(&serial));
    let mut rec: crate::records::CertRecord =
        h.storage.get_json(&record_key).await.unwrap().unwrap();
    rec.not_after -= 10;
    h.storage.put_json(&record_key, &rec).await.unwrap();
    let tidy = h
        .call(
            Update,
            "tidy",
            json!({"tidy_cert_store": true, "safety_buffer": "1s"}),
        )
        .await
        .unwrap();
    assert!(tidy.accepted);
    assert_eq!(
        h.error(Read, &format!("cert/{serial}"), json!({})).await,
        "not found"
    );
    assert_eq!(
        h.error(Update, "tidy", json!({})).await,
        "at least one operation must be enabled for tidy to run"
    );
}

#[tokio::test]
async fn ocsp_paths_take_raw_bodies_without_a_token() {
    let h = Harness::new();
    assert!(h.engine.path_flags("ocsp", Update).raw_body);
    assert!(h.engine.path_flags("ocsp", Update).unauthenticated);
    assert!(h.engine.path_flags("ocsp/MEow/TTA=", Read).unauthenticated);
    assert!(!h.engine.path_flags("revoke", Update).raw_body);
}

/// The issuer cache signs with a loaded issuer only while the stored record still has the
/// certificate and key it was loaded from.
#[tokio::test]
async fn a_cached_issuer_serves_only_the_record_it_was_loaded_from() {
    use rcgen::PublicKeyData as _;

    use crate::records::resolve_issuer;
    use crate::signers::Signers;

    let (h, other) = (Harness::new(), Harness::new());
    h.root("ec").await;
    other.root("ec").await;
    let first = resolve_issuer(&h.storage, "default")
        .await
        .unwrap()
        .unwrap();
    let signers = Signers::default();
    let loaded = signers.get(&first).unwrap();
    assert!(Arc::ptr_eq(&loaded, &signers.get(&first).unwrap()));

    // The same issuer id now holding another certificate and key: loaded again.
    let mut replaced = resolve_issuer(&other.storage, "default")
        .await
        .unwrap()
        .unwrap();
    let expected_key = replaced.private_key().unwrap().key_pair().unwrap();
    replaced.id = first.id.clone();
    let reloaded = signers.get(&replaced).unwrap();
    assert!(!Arc::ptr_eq(&loaded, &reloaded));
    assert_eq!(reloaded.issuer.key.der_bytes(), expected_key.der_bytes());
    assert_ne!(
        loaded.issuer.key.der_bytes(),
        reloaded.issuer.key.der_bytes()
    );
}

/// Issues after the mount's root is replaced are signed by the new root (the engine keeps
/// loaded issuers between requests).
#[tokio::test]
async fn issuing_after_a_new_root_signs_with_the_new_root() {
    let h = Harness::new();
    h.data(
        Update,
        "roles/web",
        json!({"allowed_domains": "example.com", "allow_subdomains": true, "key_type": "ec"}),
    )
    .await;
    for _ in 0..2 {
        let root = h.root("ec").await;
        let issued = h
            .data(Update, "issue/web", json!({"common_name": "a.example.com"}))
            .await;
        let root_der = der_of(root["certificate"].as_str().unwrap());
        let leaf_der = der_of(issued["certificate"].as_str().unwrap());
        let (_, ca) = X509Certificate::from_der(&root_der).unwrap();
        let (_, leaf) = X509Certificate::from_der(&leaf_der).unwrap();
        leaf.verify_signature(Some(ca.public_key())).unwrap();
        h.call(Delete, "root", json!({})).await.unwrap();
    }
}
