//! The OCSP responder at the engine: a request built here (SHA-1 `CertID`s, as openssl
//! sends), posted as a raw DER body, answered `good` and then `revoked`, signed by the root.

use secrethub_engine::Operation::Update;
use secrethub_engine::RawInput;
use serde_json::json;
use x509_parser::prelude::{FromDer as _, X509Certificate};
use yasna::models::ObjectIdentifier;
use yasna::Tag;

use super::{der_of, Harness};

fn request_for(ca_der: &[u8], serial: &[u8]) -> Vec<u8> {
    let (_, ca) = X509Certificate::from_der(ca_der).unwrap();
    let sha1 = |b: &[u8]| {
        ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, b)
            .as_ref()
            .to_vec()
    };
    let name_hash = sha1(ca.subject().as_raw());
    let key_hash = sha1(&ca.public_key().subject_public_key.data);
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_sequence(|w| {
                w.next().write_sequence(|w| {
                    w.next().write_sequence(|w| {
                        w.next().write_sequence(|w| {
                            w.next().write_sequence(|w| {
                                w.next().write_oid(&ObjectIdentifier::from_slice(&[
                                    1, 3, 14, 3, 2, 26,
                                ]));
                                w.next().write_null();
                            });
                            w.next().write_bytes(&name_hash);
                            w.next().write_bytes(&key_hash);
                            w.next().write_bigint_bytes(serial, true);
                        })
                    })
                })
            })
        })
    })
}

/// The tag number of the first `SingleResponse`'s `certStatus` (0 good, 1 revoked,
/// 2 unknown), after checking the response's status and its signature's algorithm.
fn status_of(der: &[u8]) -> u64 {
    let basic = yasna::parse_der(der, |r| {
        r.read_sequence(|r| {
            assert_eq!(r.next().read_enum()?, 0);
            r.next().read_tagged(Tag::context(0), |r| {
                r.read_sequence(|r| {
                    r.next().read_oid()?;
                    r.next().read_bytes()
                })
            })
        })
    })
    .unwrap();
    yasna::parse_der(&basic, |r| {
        r.read_sequence(|r| {
            let status = r.next().read_sequence(|r| {
                r.next().read_der()?;
                r.next().read_der()?;
                let mut status = None;
                r.next().read_sequence_of(|r| {
                    r.read_sequence(|r| {
                        r.next().read_der()?;
                        let tagged = r.next().read_der()?;
                        status.get_or_insert((tagged[0] & 0x1f) as u64);
                        r.next().read_der()?;
                        r.read_optional(|r| r.read_der())?;
                        Ok(())
                    })
                })?;
                Ok(status.unwrap())
            })?;
            r.next().read_der()?;
            r.next().read_bitvec_bytes()?;
            Ok(status)
        })
    })
    .unwrap()
}

#[tokio::test]
async fn a_certificate_is_good_until_it_is_revoked() {
    let h = Harness::new();
    let root = h.root("ec").await;
    h.data(
        Update,
        "roles/web",
        json!({"allow_any_name": true, "key_type": "ec", "ttl": "1h"}),
    )
    .await;
    let issued = h
        .data(Update, "issue/web", json!({"common_name": "o.test"}))
        .await;
    let serial = hex::decode(issued["serial_number"].as_str().unwrap().replace(':', "")).unwrap();
    let request = request_for(&der_of(root["certificate"].as_str().unwrap()), &serial);
    let ask = || async {
        let raw = RawInput {
            content_type: "application/ocsp-request".into(),
            bytes: request.clone(),
        };
        let answer = h
            .call_raw(Update, "ocsp", Some(raw))
            .await
            .unwrap()
            .raw
            .unwrap();
        assert_eq!(
            (answer.status, answer.content_type.as_str()),
            (200, "application/ocsp-response")
        );
        status_of(&answer.body)
    };
    assert_eq!(ask().await, 0);
    h.data(
        Update,
        "revoke",
        json!({"serial_number": issued["serial_number"]}),
    )
    .await;
    assert_eq!(ask().await, 1);
    let junk = RawInput {
        content_type: "application/ocsp-request".into(),
        bytes: b"junk".to_vec(),
    };
    let answer = h
        .call_raw(Update, "ocsp", Some(junk))
        .await
        .unwrap()
        .raw
        .unwrap();
    assert_eq!(answer.status, 400);
}
