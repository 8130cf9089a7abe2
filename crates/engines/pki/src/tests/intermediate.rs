//! Intermediate CAs across two mounts: the CSR made on one, signed by the other's root,
//! set back, then a leaf issued under the intermediate and verified up to the root.

use serde_json::json;
use x509_parser::prelude::{FromDer as _, X509Certificate};

use super::{der_of, Harness};
use secrethub_engine::Operation::{Read, Update};

#[tokio::test]
async fn csr_signed_by_a_root_becomes_an_issuer_that_issues() {
    let root_mount = Harness::new();
    let root = root_mount.root("ec").await;
    let inter_mount = Harness::new();
    let generated = inter_mount
        .data(
            Update,
            "intermediate/generate/internal",
            json!({"common_name": "Test Intermediate", "key_type": "ec"}),
        )
        .await;
    assert!(generated.get("private_key").is_none());
    let csr = generated["csr"].as_str().unwrap();
    assert!(csr.starts_with("-----BEGIN CERTIFICATE REQUEST-----"));
    let signed = root_mount
        .data(
            Update,
            "root/sign-intermediate",
            json!({"csr": csr, "ttl": "100h", "max_path_length": 0}),
        )
        .await;
    let chain = signed["ca_chain"].as_array().unwrap();
    assert_eq!(chain.len(), 2);
    let bundle = format!(
        "{}\n{}\n",
        signed["certificate"].as_str().unwrap(),
        signed["issuing_ca"].as_str().unwrap()
    );
    let set = inter_mount
        .data(
            Update,
            "intermediate/set-signed",
            json!({"certificate": bundle}),
        )
        .await;
    assert_eq!(set["imported_issuers"].as_array().unwrap().len(), 1);
    assert_eq!(
        set["mapping"][set["imported_issuers"][0].as_str().unwrap()],
        generated["key_id"]
    );
    let again = inter_mount
        .data(
            Update,
            "intermediate/set-signed",
            json!({"certificate": bundle}),
        )
        .await;
    assert_eq!(again["existing_issuers"], set["imported_issuers"]);

    inter_mount
        .data(
            Update,
            "roles/svc",
            json!({"allow_any_name": true, "key_type": "ec", "ttl": "1h"}),
        )
        .await;
    let leaf = inter_mount
        .data(Update, "issue/svc", json!({"common_name": "svc.test"}))
        .await;
    assert_eq!(leaf["ca_chain"].as_array().unwrap().len(), 2);
    let leaf_der = der_of(leaf["certificate"].as_str().unwrap());
    let inter_der = der_of(signed["certificate"].as_str().unwrap());
    let root_der = der_of(root["certificate"].as_str().unwrap());
    let (_, leaf) = X509Certificate::from_der(&leaf_der).unwrap();
    let (_, inter) = X509Certificate::from_der(&inter_der).unwrap();
    let (_, ca) = X509Certificate::from_der(&root_der).unwrap();
    leaf.verify_signature(Some(inter.public_key())).unwrap();
    inter.verify_signature(Some(ca.public_key())).unwrap();
    let constraints = inter.basic_constraints().unwrap().unwrap().value;
    assert!(constraints.ca);
    assert_eq!(constraints.path_len_constraint, Some(0));
    let chain = inter_mount
        .call(Read, "ca_chain", json!({}))
        .await
        .unwrap()
        .raw
        .unwrap();
    assert_eq!(
        String::from_utf8(chain.body)
            .unwrap()
            .matches("BEGIN CERTIFICATE")
            .count(),
        2
    );

    // A certificate for no key of the mount, and junk.
    let refused = inter_mount
        .error(
            Update,
            "intermediate/set-signed",
            json!({"certificate": root["certificate"]}),
        )
        .await;
    assert!(
        refused.contains("matches no key of this mount"),
        "{refused}"
    );
    let junk = inter_mount
        .error(
            Update,
            "intermediate/set-signed",
            json!({"certificate": "junk"}),
        )
        .await;
    assert!(
        junk.starts_with("provided data for import was too short"),
        "{junk}"
    );
    assert_eq!(
        root_mount
            .error(Update, "root/sign-intermediate", json!({"csr": "junk"}))
            .await,
        "csr contains no data"
    );
}

#[tokio::test]
async fn an_issuer_named_in_the_path_signs_and_serves_its_crl() {
    let h = Harness::new();
    let first = h.root("ec").await;
    let second = h
        .data(
            Update,
            "root/generate/internal",
            json!({"common_name": "Second", "key_type": "ec", "issuer_name": "second"}),
        )
        .await;
    h.data(
        Update,
        "roles/web",
        json!({"allow_any_name": true, "key_type": "ec", "ttl": "1h"}),
    )
    .await;
    let by_role = h
        .data(Update, "issue/web", json!({"common_name": "a.test"}))
        .await;
    assert_eq!(by_role["issuing_ca"], first["certificate"]);
    let by_path = h
        .data(
            Update,
            "issuer/second/issue/web",
            json!({"common_name": "a.test"}),
        )
        .await;
    assert_eq!(by_path["issuing_ca"], second["certificate"]);
    let crl = h.data(Read, "issuer/second/crl", json!({})).await;
    assert!(crl["crl"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN X509 CRL-----"));
    let der = h
        .call(Read, "issuer/second/crl/der", json!({}))
        .await
        .unwrap();
    assert_eq!(der.raw.unwrap().content_type, "application/pkix-crl");
    assert!(
        h.engine
            .path_flags("issuer/second/crl/pem", Read)
            .unauthenticated
    );
    assert_eq!(
        h.error(
            Update,
            "issuer/nope/issue/web",
            json!({"common_name": "a.test"})
        )
        .await,
        "unable to find PKI issuer for reference: nope"
    );
    let before = h.data(Read, "tidy-status", json!({})).await;
    assert_eq!(before["state"], "Inactive");
    h.call(Update, "tidy", json!({"tidy_cert_store": true}))
        .await
        .unwrap();
    let after = h.data(Read, "tidy-status", json!({})).await;
    assert_eq!(after["state"], "Finished");
    assert_eq!(after["current_cert_store_count"], 4);
    assert_eq!(after.len(), 29);
}

#[tokio::test]
async fn config_ca_imports_an_exported_root_with_its_key() {
    for (key_type, bits) in [("ec", 384), ("rsa", 2048), ("ed25519", 0)] {
        let a = Harness::new();
        let exported = a
            .data(
                Update,
                "root/generate/exported",
                json!({"common_name": "Portable", "key_type": key_type, "key_bits": bits}),
            )
            .await;
        let bundle = format!(
            "{}\n{}\n",
            exported["private_key"].as_str().unwrap(),
            exported["certificate"].as_str().unwrap()
        );
        let b = Harness::new();
        let imported = b
            .data(Update, "config/ca", json!({"pem_bundle": bundle}))
            .await;
        assert_eq!(
            imported["imported_issuers"].as_array().unwrap().len(),
            1,
            "{key_type}"
        );
        let again = b
            .data(Update, "config/ca", json!({"pem_bundle": bundle}))
            .await;
        assert_eq!(again["existing_issuers"], imported["imported_issuers"]);
        b.data(
            Update,
            "roles/any",
            json!({"allow_any_name": true, "key_type": "ec", "ttl": "1h"}),
        )
        .await;
        let leaf = b
            .data(Update, "issue/any", json!({"common_name": "p.test"}))
            .await;
        let leaf_der = der_of(leaf["certificate"].as_str().unwrap());
        let ca_der = der_of(exported["certificate"].as_str().unwrap());
        let (_, leaf) = X509Certificate::from_der(&leaf_der).unwrap();
        let (_, ca) = X509Certificate::from_der(&ca_der).unwrap();
        leaf.verify_signature(Some(ca.public_key())).unwrap();
    }
    let b = Harness::new();
    let only_cert = b.root("ec").await;
    let other = Harness::new();
    let refused = other
        .error(
            Update,
            "config/ca",
            json!({"pem_bundle": only_cert["certificate"]}),
        )
        .await;
    assert!(refused.contains("matches no key"), "{refused}");
}

#[tokio::test]
async fn a_self_issued_root_is_cross_signed() {
    let old = Harness::new();
    let old_root = old.root("ec").await;
    let new = Harness::new();
    let new_root = new
        .data(
            Update,
            "root/generate/internal",
            json!({"common_name": "New Root", "key_type": "rsa"}),
        )
        .await;
    let crossed = old
        .data(
            Update,
            "root/sign-self-issued",
            json!({"certificate": new_root["certificate"]}),
        )
        .await;
    assert_eq!(crossed["issuing_ca"], old_root["certificate"]);
    let crossed_der = der_of(crossed["certificate"].as_str().unwrap());
    let new_der = der_of(new_root["certificate"].as_str().unwrap());
    let old_der = der_of(old_root["certificate"].as_str().unwrap());
    let (_, crossed) = X509Certificate::from_der(&crossed_der).unwrap();
    let (_, original) = X509Certificate::from_der(&new_der).unwrap();
    let (_, old_ca) = X509Certificate::from_der(&old_der).unwrap();
    crossed.verify_signature(Some(old_ca.public_key())).unwrap();
    assert_eq!(crossed.subject(), original.subject());
    assert_eq!(crossed.issuer(), old_ca.subject());
    assert_eq!(crossed.raw_serial(), original.raw_serial());
    assert_eq!(crossed.public_key().raw, original.public_key().raw);
    assert_eq!(crossed.validity(), original.validity());
    assert_eq!(crossed.extensions().len(), original.extensions().len());
    // The authority key identifier names the cross-signer.
    use x509_parser::extensions::ParsedExtension;
    let aki = crossed
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                a.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            _ => None,
        });
    let ski = old_ca
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
            _ => None,
        });
    assert_eq!(aki, ski);
    assert!(old.engine.path_flags("root/sign-self-issued", Update).sudo);

    old.data(
        Update,
        "roles/any",
        json!({"allow_any_name": true, "key_type": "ec", "ttl": "1h"}),
    )
    .await;
    let leaf = old
        .data(Update, "issue/any", json!({"common_name": "l.test"}))
        .await;
    assert_eq!(
        old.error(
            Update,
            "root/sign-self-issued",
            json!({"certificate": leaf["certificate"]})
        )
        .await,
        "given certificate is not a CA certificate"
    );
    assert_eq!(
        old.error(
            Update,
            "root/sign-self-issued",
            json!({"certificate": "junk"})
        )
        .await,
        "certificate could not be PEM-decoded"
    );
}

#[tokio::test]
async fn keys_and_vault_1_11_issuer_paths() {
    let h = Harness::new();
    let root = h
        .data(
            Update,
            "issuers/generate/root/internal",
            json!({"common_name": "Aliased", "key_type": "ec", "key_name": "rootkey"}),
        )
        .await;
    let pending = h
        .data(
            Update,
            "issuers/generate/intermediate/internal",
            json!({"common_name": "Sub", "key_type": "ed25519"}),
        )
        .await;
    let listed = h
        .data(secrethub_engine::Operation::List, "keys", json!({}))
        .await;
    assert_eq!(listed["keys"].as_array().unwrap().len(), 2);
    assert_eq!(
        listed["key_info"][root["key_id"].as_str().unwrap()]["is_default"],
        true
    );
    let by_name = h.data(Read, "key/rootkey", json!({})).await;
    assert_eq!(by_name["key_id"], root["key_id"]);
    assert_eq!(by_name["key_type"], "ec");
    assert_eq!(by_name["subject_key_id"].as_str().unwrap().len(), 59);
    let waiting = h
        .data(
            Read,
            &format!("key/{}", pending["key_id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(waiting["key_type"], "ed25519");
    assert_eq!(
        h.error(Read, "key/nope", json!({})).await,
        "unable to find PKI key for reference: nope"
    );
    let root_id = root["issuer_id"].as_str().unwrap();
    let signed = h
        .data(
            Update,
            &format!("issuer/{root_id}/sign-intermediate"),
            json!({"csr": pending["csr"], "ttl": "10h"}),
        )
        .await;
    assert_eq!(signed["issuing_ca"], root["certificate"]);
    let imported = h
        .data(
            Update,
            "issuers/import/cert",
            json!({"pem_bundle": signed["certificate"]}),
        )
        .await;
    assert_eq!(
        imported["mapping"][imported["imported_issuers"][0].as_str().unwrap()],
        pending["key_id"]
    );
    assert!(
        h.engine
            .path_flags("issuer/x/sign-self-issued", Update)
            .sudo
    );
}
