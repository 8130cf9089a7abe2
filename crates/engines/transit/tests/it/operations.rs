//! encrypt, decrypt, rewrap, datakey, batches, derived and convergent keys, hmac, sign and
//! verify, hash and random.

use secrethub_engine::{EngineError, Operation};
use serde_json::json;

use crate::harness::{b64, mount, unb64};

#[tokio::test]
async fn every_aead_type_round_trips_with_associated_data() {
    let m = mount();
    for t in ["aes128-gcm96", "aes256-gcm96", "chacha20-poly1305"] {
        m.write(&format!("keys/{t}"), json!({"type": t})).await;
        let ct = m.encrypt(t, b"the plaintext").await;
        assert!(ct.starts_with("vault:v1:"), "{ct}");
        assert_eq!(m.decrypt(t, &ct).await, b"the plaintext");

        let aad = b64(b"header");
        let v = m
            .write(
                &format!("encrypt/{t}"),
                json!({"plaintext": b64(b"bound"), "associated_data": aad}),
            )
            .await;
        let ct = v["ciphertext"].as_str().unwrap();
        let back = m
            .write(
                &format!("decrypt/{t}"),
                json!({"ciphertext": ct, "associated_data": aad}),
            )
            .await;
        assert_eq!(unb64(back["plaintext"].as_str().unwrap()), b"bound");
        assert_eq!(
            m.refused(&format!("decrypt/{t}"), json!({"ciphertext": ct}))
                .await,
            "cipher: message authentication failed"
        );
    }
    // The empty plaintext is a plaintext too.
    let ct = m.encrypt("aes256-gcm96", b"").await;
    assert_eq!(m.decrypt("aes256-gcm96", &ct).await, b"");
}

#[tokio::test]
async fn bad_ciphertexts_are_400s_with_vaults_messages() {
    let m = mount();
    m.write("keys/k", json!({})).await;
    let ct = m.encrypt("k", b"secret").await;
    let mut raw = unb64(ct.strip_prefix("vault:v1:").unwrap());
    let last = raw.len() - 1;
    raw[last] ^= 1;
    let tampered = format!("vault:v1:{}", b64(&raw));
    let cases = [
        (tampered.as_str(), "cipher: message authentication failed"),
        (
            "vault:v1:!!!",
            "invalid ciphertext: could not decode base64",
        ),
        ("nope", "invalid ciphertext: no prefix"),
        (
            "vault:vx:AAAA",
            "invalid ciphertext: version number could not be decoded",
        ),
        ("vault:v9:AAAA", "invalid ciphertext: version is too new"),
        ("vault:v1:AAAA", "invalid ciphertext length"),
    ];
    for (ciphertext, message) in cases {
        assert_eq!(
            m.refused("decrypt/k", json!({"ciphertext": ciphertext}))
                .await,
            message
        );
    }
    assert_eq!(
        m.refused("encrypt/k", json!({"plaintext": "!notbase64"}))
            .await,
        "illegal base64 data at input byte 0"
    );
    assert_eq!(
        m.refused("decrypt/none", json!({"ciphertext": ct})).await,
        "encryption key not found"
    );
    m.write("keys/sig", json!({"type": "ed25519"})).await;
    assert_eq!(
        m.refused("encrypt/sig", json!({"plaintext": b64(b"x")}))
            .await,
        "message encryption not supported for key type ed25519"
    );
}

#[tokio::test]
async fn versions_min_decryption_and_rewrap() {
    let m = mount();
    m.write("keys/k", json!({})).await;
    let v1 = m.encrypt("k", b"one").await;
    m.write("keys/k/rotate", json!({})).await;
    let v2 = m.encrypt("k", b"two").await;
    assert!(v2.starts_with("vault:v2:"));
    assert_eq!(m.decrypt("k", &v1).await, b"one");
    let old = m
        .write(
            "encrypt/k",
            json!({"plaintext": b64(b"old"), "key_version": 1}),
        )
        .await;
    assert_eq!(old["key_version"], 1);

    let rewrapped = m.write("rewrap/k", json!({"ciphertext": v1})).await;
    assert_eq!(rewrapped["key_version"], 2);
    let rewrapped = rewrapped["ciphertext"].as_str().unwrap().to_string();
    assert!(rewrapped.starts_with("vault:v2:"));

    m.write("keys/k/config", json!({"min_decryption_version": 2}))
        .await;
    assert_eq!(
        m.refused("decrypt/k", json!({"ciphertext": v1})).await,
        "ciphertext or signature version is disallowed by policy (too old)"
    );
    assert_eq!(m.decrypt("k", &rewrapped).await, b"one");
    assert_eq!(
        m.refused(
            "encrypt/k",
            json!({"plaintext": b64(b"x"), "key_version": 1})
        )
        .await,
        "no such key version"
    );
}

#[tokio::test]
async fn a_batch_with_one_bad_item_answers_the_others() {
    let m = mount();
    m.write("keys/k", json!({})).await;
    let (status, results) = m
        .batch(
            "encrypt/k",
            json!({"batch_input": [
                {"plaintext": b64(b"a"), "reference": "first"},
                {"plaintext": "!!"},
                {"plaintext": b64(b"c")},
            ]}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(results[0]["reference"], "first");
    assert!(results[0]["ciphertext"]
        .as_str()
        .unwrap()
        .starts_with("vault:v1:"));
    assert_eq!(
        results[1],
        json!({"error": "illegal base64 data at input byte 0", "reference": ""})
    );
    assert_eq!(results[2]["key_version"], 1);

    let good = results[0]["ciphertext"].clone();
    let (status, results) = m
        .batch(
            "decrypt/k",
            json!({"batch_input": [{"ciphertext": good}, {"ciphertext": "nope"}],
                   "partial_failure_response_code": 207}),
        )
        .await;
    assert_eq!(status, 207);
    assert_eq!(unb64(results[0]["plaintext"].as_str().unwrap()), b"a");
    assert_eq!(
        results[1],
        json!({"plaintext": "", "error": "invalid ciphertext: no prefix", "reference": ""})
    );

    let (status, results) = m
        .batch("decrypt/k", json!({"batch_input": [{"ciphertext": good}]}))
        .await;
    assert_eq!((status, results.len()), (200, 1));

    let (status, results) = m
        .batch(
            "rewrap/k",
            json!({"batch_input": [{"ciphertext": good}, {"ciphertext": "x"}]}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(results[1]["error"], "invalid ciphertext: no prefix");

    let many: Vec<_> = (0..1001).map(|_| json!({"plaintext": ""})).collect();
    assert_eq!(
        m.refused("encrypt/k", json!({"batch_input": many})).await,
        "batch_input holds 1001 items; at most 1000 are allowed"
    );
}

#[tokio::test]
async fn derived_keys_need_their_context_and_convergence_is_deterministic() {
    let m = mount();
    m.write("keys/d", json!({"derived": true})).await;
    let ctx = b64(b"tenant-1");
    let ct = m
        .write("encrypt/d", json!({"plaintext": b64(b"p"), "context": ctx}))
        .await["ciphertext"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(m
        .refused("decrypt/d", json!({"ciphertext": ct}))
        .await
        .starts_with("missing 'context' for key derivation"));
    assert_eq!(
        m.refused(
            "decrypt/d",
            json!({"ciphertext": ct, "context": b64(b"tenant-2")})
        )
        .await,
        "cipher: message authentication failed"
    );
    let back = m
        .write("decrypt/d", json!({"ciphertext": ct, "context": ctx}))
        .await;
    assert_eq!(unb64(back["plaintext"].as_str().unwrap()), b"p");

    m.write(
        "keys/c",
        json!({"derived": true, "convergent_encryption": true}),
    )
    .await;
    let enc = |context: &'static [u8], plaintext: &'static [u8]| {
        let m = &m;
        async move {
            m.write(
                "encrypt/c",
                json!({"plaintext": b64(plaintext), "context": b64(context)}),
            )
            .await["ciphertext"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let a1 = enc(b"ctx-a", b"same").await;
    assert_eq!(a1, enc(b"ctx-a", b"same").await);
    assert_ne!(a1, enc(b"ctx-b", b"same").await);
    assert_ne!(a1, enc(b"ctx-a", b"other").await);
    // A derived key that is not convergent never repeats a ciphertext.
    let again = m
        .write("encrypt/d", json!({"plaintext": b64(b"p"), "context": ctx}))
        .await;
    assert_ne!(again["ciphertext"].as_str().unwrap(), ct);
}

#[tokio::test]
async fn encrypting_to_a_missing_key_creates_it_only_as_a_create() {
    let m = mount();
    let req = json!({"plaintext": b64(b"x")});
    assert_eq!(
        m.refused("encrypt/auto", req.clone()).await,
        "encryption key not found"
    );
    let made = m
        .call(Operation::Create, "encrypt/auto", req)
        .await
        .unwrap();
    assert!(made.data.unwrap()["ciphertext"]
        .as_str()
        .unwrap()
        .starts_with("vault:v1:"));
    assert_eq!(m.read("keys/auto").await["type"], "aes256-gcm96");
}

#[tokio::test]
async fn datakeys_hmac_hash_and_random() {
    let m = mount();
    m.write("keys/k", json!({})).await;
    let dk = m.write("datakey/plaintext/k", json!({"bits": 512})).await;
    let plaintext = unb64(dk["plaintext"].as_str().unwrap());
    assert_eq!(plaintext.len(), 64);
    assert_eq!(
        m.decrypt("k", dk["ciphertext"].as_str().unwrap()).await,
        plaintext
    );
    let wrapped = m.write("datakey/wrapped/k", json!({})).await;
    assert!(wrapped.get("plaintext").is_none());
    assert_eq!(
        m.refused("datakey/other/k", json!({})).await,
        "invalid type"
    );

    let h = m.write("hmac/k", json!({"input": b64(b"msg")})).await;
    let tag = h["hmac"].as_str().unwrap();
    assert!(tag.starts_with("vault:v1:"));
    let ok = m
        .write("verify/k", json!({"input": b64(b"msg"), "hmac": tag}))
        .await;
    assert_eq!(ok["valid"], true);
    let bad = m
        .write("verify/k", json!({"input": b64(b"other"), "hmac": tag}))
        .await;
    assert_eq!(bad["valid"], false);
    let h512 = m
        .write("hmac/k/sha2-512", json!({"input": b64(b"msg")}))
        .await;
    assert_eq!(
        unb64(
            h512["hmac"]
                .as_str()
                .unwrap()
                .strip_prefix("vault:v1:")
                .unwrap()
        )
        .len(),
        64
    );

    m.write("keys/h", json!({"type": "hmac", "key_size": 64}))
        .await;
    let th = m.write("hmac/h", json!({"input": b64(b"msg")})).await;
    assert_eq!(
        m.write(
            "verify/h",
            json!({"input": b64(b"msg"), "hmac": th["hmac"]})
        )
        .await["valid"],
        true
    );

    let sum = m.write("hash", json!({"input": b64(b"hello")})).await;
    assert_eq!(
        sum["sum"],
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    );
    let sum = m
        .write(
            "hash/sha2-224",
            json!({"input": b64(b"hello"), "format": "base64"}),
        )
        .await;
    assert_eq!(unb64(sum["sum"].as_str().unwrap()).len(), 28);
    assert_eq!(
        m.refused("hash/sha3-256", json!({"input": ""})).await,
        "hash algorithm sha3-256 is not supported yet"
    );

    let r = m.write("random/16", json!({"format": "hex"})).await;
    assert_eq!(r["random_bytes"].as_str().unwrap().len(), 32);
    let r = m.write("random", json!({})).await;
    assert_eq!(unb64(r["random_bytes"].as_str().unwrap()).len(), 32);
    let r = m.write("random/seal/8", json!({})).await;
    assert_eq!(unb64(r["random_bytes"].as_str().unwrap()).len(), 8);
    assert!(matches!(
        m.call(Operation::Read, "random", json!({})).await,
        Err(EngineError::UnsupportedOperation)
    ));
}

#[tokio::test]
async fn every_signing_type_signs_and_verifies() {
    let m = mount();
    for (t, marshaling) in [
        ("ed25519", "asn1"),
        ("ecdsa-p256", "asn1"),
        ("ecdsa-p256", "jws"),
        ("ecdsa-p384", "asn1"),
        ("ecdsa-p384", "jws"),
    ] {
        m.write(&format!("keys/{t}"), json!({"type": t})).await;
        let body = json!({"input": b64(b"document"), "marshaling_algorithm": marshaling});
        let s = m.write(&format!("sign/{t}"), body).await;
        let sig = s["signature"].as_str().unwrap();
        assert!(sig.starts_with("vault:v1:"), "{t}: {sig}");
        assert_eq!(s["key_version"], 1);
        let check = |input: &'static [u8]| json!({"input": b64(input), "signature": sig, "marshaling_algorithm": marshaling});
        assert_eq!(
            m.write(&format!("verify/{t}"), check(b"document")).await["valid"],
            true,
            "{t}"
        );
        assert_eq!(
            m.write(&format!("verify/{t}"), check(b"forged")).await["valid"],
            false,
            "{t}"
        );
    }
    assert!(m
        .refused("sign/ecdsa-p256/sha2-512", json!({"input": b64(b"x")}))
        .await
        .contains("not supported yet"));
    assert_eq!(
        m.refused(
            "verify/ecdsa-p256",
            json!({"input": b64(b"x"), "signature": "vault:v1:AAAA"})
        )
        .await,
        "supplied signature is invalid"
    );
    m.write("keys/sym", json!({})).await;
    assert_eq!(
        m.refused("sign/sym", json!({"input": b64(b"x")})).await,
        "key type aes256-gcm96 does not support signing"
    );

    let (status, results) = m
        .batch(
            "sign/ed25519",
            json!({"batch_input": [{"input": b64(b"a")}, {"input": "!"}]}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(results[1]["key_version"], 0);
    assert!(results[1]["error"]
        .as_str()
        .unwrap()
        .starts_with("illegal base64"));
    let sig = results[0]["signature"].clone();
    let (_, verified) = m
        .batch(
            "verify/ed25519",
            json!({"batch_input": [{"input": b64(b"a"), "signature": sig},
                                   {"input": b64(b"b"), "signature": sig}]}),
        )
        .await;
    assert_eq!(verified[0]["valid"], true);
    assert_eq!(verified[1]["valid"], false);
}

#[tokio::test]
async fn rsa_keys_encrypt_sign_verify_and_export() {
    let m = mount();
    let key = m
        .write("keys/rsa", json!({"type": "rsa-2048", "exportable": true}))
        .await;
    assert_eq!(key["supports_encryption"], true);
    assert_eq!(key["supports_signing"], true);
    assert_eq!(key["supports_derivation"], false);
    assert_eq!(key["keys"]["1"]["name"], "rsa-2048");
    assert!(key["keys"]["1"]["public_key"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"));

    let ct = m.encrypt("rsa", b"wrapped by rsa").await;
    assert!(ct.starts_with("vault:v1:"));
    assert_eq!(unb64(ct.strip_prefix("vault:v1:").unwrap()).len(), 256);
    assert_eq!(m.decrypt("rsa", &ct).await, b"wrapped by rsa");
    let mut raw = unb64(ct.strip_prefix("vault:v1:").unwrap());
    raw[10] ^= 1;
    assert!(m
        .refused(
            "decrypt/rsa",
            json!({"ciphertext": format!("vault:v1:{}", b64(&raw))})
        )
        .await
        .contains("decryption error"));

    for (padding, hash) in [
        ("pss", "sha2-256"),
        ("pkcs1v15", "sha2-512"),
        ("pss", "sha2-384"),
    ] {
        let body = json!({"input": b64(b"doc"), "signature_algorithm": padding});
        let sig = m.write(&format!("sign/rsa/{hash}"), body).await["signature"].clone();
        let check = |input: &[u8]| json!({"input": b64(input), "signature": sig, "signature_algorithm": padding});
        let path = format!("verify/rsa/{hash}");
        assert_eq!(
            m.write(&path, check(b"doc")).await["valid"],
            true,
            "{padding} {hash}"
        );
        assert_eq!(
            m.write(&path, check(b"dog")).await["valid"],
            false,
            "{padding} {hash}"
        );
    }
    assert_eq!(
        m.refused(
            "sign/rsa",
            json!({"input": b64(b"x"), "signature_algorithm": "x"})
        )
        .await,
        "unsupported rsa signature algorithm x"
    );

    let rotated = m.write("keys/rsa/rotate", json!({})).await;
    assert_eq!(rotated["latest_version"], 2);
    let exported = m.read("export/signing-key/rsa/1").await;
    assert!(exported["keys"]["1"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
}
