//! The transit engine through OpenBao's own CLI (`bao`) against a dev-mode SecretHub:
//! `bao secrets enable transit`, keys, encrypt and decrypt, rotate and rewrap, sign and
//! verify, refusals as exit code 2 with Vault's message; and a key's `auto_rotate_period`
//! rotating it from core's timers with nobody asking (the mount option
//! `min_auto_rotate_period` lowers Vault's one-hour floor so the test takes seconds), audited
//! as `secrethub-scheduler`. Plaintexts never reach the server's trace log nor the audit file.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::Value;

use crate::bao_cli::bao_binary;
use crate::harness::{self, Cli, ServerProcess};

/// How long a 2-second auto-rotation may take to show (timer scan every second, retries).
const ROTATION_DEADLINE: Duration = Duration::from_secs(60);

/// `bao write -format=json <args>`'s `data`.
fn write_data(bao: &Cli, args: &[&str]) -> Value {
    let mut all = vec!["write", "-format=json"];
    all.extend_from_slice(args);
    bao.ok(&all).json()["data"].clone()
}

fn read_data(bao: &Cli, path: &str) -> Value {
    bao.ok(&["read", "-format=json", path]).json()["data"].clone()
}

fn text(v: &Value, field: &str) -> String {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {v}"))
        .to_string()
}

/// A dev server (trace log) in `dir`, the bao CLI with its root token, and a file audit
/// device's path.
async fn dev_with_audit(dir: &Path) -> (ServerProcess, Cli, PathBuf) {
    let root = harness::unique_name("root");
    let server = ServerProcess::dev(dir, &root, &[("SECRETHUB_LOG", "trace")]).await;
    let bao = Cli::bao(&bao_binary(), server.addr(), &dir.join("home")).env("VAULT_TOKEN", &root);
    let audit_log = dir.join("audit.log");
    bao.ok(&[
        "audit",
        "enable",
        "file",
        &format!("file_path={}", audit_log.display()),
    ]);
    (server, bao, audit_log)
}

/// `transit/decrypt/<key>` of `ciphertext`: the base64 plaintext.
fn decrypt(bao: &Cli, key: &str, ciphertext: &str) -> String {
    let data = write_data(
        bao,
        &[
            &format!("transit/decrypt/{key}"),
            &format!("ciphertext={ciphertext}"),
        ],
    );
    text(&data, "plaintext")
}

#[tokio::test]
async fn bao_cli_encrypts_rotates_rewraps_signs_and_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, bao, audit_log) = dev_with_audit(dir.path()).await;

    let out = bao.ok(&["secrets", "enable", "transit"]);
    assert!(
        out.stdout
            .contains("Success! Enabled the transit secrets engine"),
        "{out:?}"
    );
    let key = harness::unique_name("orders");
    let created = write_data(&bao, &["-f", &format!("transit/keys/{key}")]);
    assert_eq!(created["type"], "aes256-gcm96");

    let marker = harness::unique_name("card-number");
    let plaintext = B64.encode(&marker);
    let encrypted = write_data(
        &bao,
        &[
            &format!("transit/encrypt/{key}"),
            &format!("plaintext={plaintext}"),
        ],
    );
    let v1 = text(&encrypted, "ciphertext");
    assert!(v1.starts_with("vault:v1:"), "{v1}");
    assert_eq!(decrypt(&bao, &key, &v1), plaintext);

    bao.ok(&["write", "-f", &format!("transit/keys/{key}/rotate")]);
    assert_eq!(
        read_data(&bao, &format!("transit/keys/{key}"))["latest_version"],
        2
    );
    let rewrapped = write_data(
        &bao,
        &[
            &format!("transit/rewrap/{key}"),
            &format!("ciphertext={v1}"),
        ],
    );
    let v2 = text(&rewrapped, "ciphertext");
    assert!(v2.starts_with("vault:v2:"), "{v2}");
    bao.ok(&[
        "write",
        &format!("transit/keys/{key}/config"),
        "min_decryption_version=2",
    ]);
    let out = bao.run(&[
        "write",
        &format!("transit/decrypt/{key}"),
        &format!("ciphertext={v1}"),
    ]);
    assert!(
        out.code == 2 && out.stderr.contains("disallowed by policy (too old)"),
        "{out:?}"
    );
    assert_eq!(decrypt(&bao, &key, &v2), plaintext);

    let tampered = format!("{}A", &v2[..v2.len() - 1]);
    let tampered = if tampered == v2 {
        format!("{}B", &v2[..v2.len() - 1])
    } else {
        tampered
    };
    let out = bao.run(&[
        "write",
        &format!("transit/decrypt/{key}"),
        &format!("ciphertext={tampered}"),
    ]);
    assert!(out.code == 2 && out.stderr.contains("Code: 400"), "{out:?}");

    let signer = harness::unique_name("signer");
    bao.ok(&["write", &format!("transit/keys/{signer}"), "type=ed25519"]);
    let input = B64.encode("release-1.2.3.tar.gz");
    let signed = write_data(
        &bao,
        &[&format!("transit/sign/{signer}"), &format!("input={input}")],
    );
    let signature = text(&signed, "signature");
    assert!(signature.starts_with("vault:v1:"), "{signature}");
    let verified = write_data(
        &bao,
        &[
            &format!("transit/verify/{signer}"),
            &format!("input={input}"),
            &format!("signature={signature}"),
        ],
    );
    assert_eq!(verified["valid"], true);
    let forged = write_data(
        &bao,
        &[
            &format!("transit/verify/{signer}"),
            &format!("input={}", B64.encode("evil.tar.gz")),
            &format!("signature={signature}"),
        ],
    );
    assert_eq!(forged["valid"], false);
    let out = bao.run(&[
        "write",
        &format!("transit/encrypt/{signer}"),
        &format!("plaintext={plaintext}"),
    ]);
    assert!(
        out.code == 2
            && out
                .stderr
                .contains("message encryption not supported for key type ed25519"),
        "{out:?}"
    );

    let rsa = harness::unique_name("rsa");
    bao.ok(&["write", &format!("transit/keys/{rsa}"), "type=rsa-2048"]);
    let encrypted = write_data(
        &bao,
        &[
            &format!("transit/encrypt/{rsa}"),
            &format!("plaintext={plaintext}"),
        ],
    );
    assert_eq!(
        decrypt(&bao, &rsa, &text(&encrypted, "ciphertext")),
        plaintext
    );

    let listed = bao.ok(&["list", "-format=json", "transit/keys"]).json();
    assert_eq!(listed, serde_json::json!([key, rsa, signer]));

    let audit = std::fs::read_to_string(&audit_log).expect("audit log");
    assert!(audit.contains(&format!("transit/encrypt/{key}")));
    let log = server.log();
    for (place, contents) in [("audit file", &audit), ("server log", &log)] {
        assert!(
            !contents.contains(&marker),
            "a plaintext reached the {place}"
        );
        assert!(
            !contents.contains(&plaintext),
            "a base64 plaintext reached the {place}"
        );
    }
}

#[tokio::test]
async fn auto_rotate_period_rotates_a_key_from_the_timer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_server, bao, audit_log) = dev_with_audit(dir.path()).await;
    bao.ok(&[
        "secrets",
        "enable",
        "-path=fast",
        "-options=min_auto_rotate_period=1s",
        "transit",
    ]);
    // Vault's floor holds on a mount without the option.
    bao.ok(&["secrets", "enable", "transit"]);
    let out = bao.run(&["write", "transit/keys/slow", "auto_rotate_period=2s"]);
    assert!(
        out.code == 2 && out.stderr.contains("at least an hour"),
        "{out:?}"
    );

    let key = harness::unique_name("rotating");
    bao.ok(&[
        "write",
        &format!("fast/keys/{key}"),
        "auto_rotate_period=2s",
    ]);
    let deadline = Instant::now() + ROTATION_DEADLINE;
    loop {
        let read = read_data(&bao, &format!("fast/keys/{key}"));
        if read["latest_version"].as_u64().unwrap_or(0) >= 2 {
            assert_eq!(read["auto_rotate_period"], 2);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no rotation within {ROTATION_DEADLINE:?}: {read}"
        );
        std::thread::sleep(harness::POLL_INTERVAL);
    }
    let audit = std::fs::read_to_string(&audit_log).expect("audit log");
    let entry = audit
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["request"]["path"] == format!("fast/keys/{key}/rotate"))
        .unwrap_or_else(|| panic!("no audit entry for the scheduled rotation:\n{audit}"));
    assert_eq!(entry["auth"]["display_name"], "secrethub-scheduler");
}
