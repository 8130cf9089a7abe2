//! Invalid configs: the exact message for each mistake, with file and line.

use expect_test::expect;

use crate::{check_err, load_err};

#[test]
fn unknown_top_level_key() {
    check_err(
        r#"storage "inmem" {}

listener "tcp" {
  address     = "127.0.0.1:8200"
  tls_disable = true
}
listner "tcp" {}
"#,
        expect![[r#"server.hcl:7: unknown key "listner""#]],
    );
    check_err(
        "ui = true\napi_adress = \"http://x\"\n",
        expect![[r#"server.hcl:2: unknown key "api_adress""#]],
    );
}

#[test]
fn vault_stanzas_we_do_not_support() {
    check_err(
        "listener \"tcp\" {\n  tls_disable = true\n}\n\nseal \"awskms\" {\n  region = \"us-east-1\"\n}\n",
        expect![[r#"server.hcl:5: unknown key "seal""#]],
    );
}

#[test]
fn unknown_key_in_listener() {
    check_err(
        "listener \"tcp\" {\n  tls_disable = true\n\n  adress = \"127.0.0.1:8200\"\n}\n",
        expect![[r#"server.hcl:4: listener "tcp": unknown key "adress""#]],
    );
}

#[test]
fn unknown_key_in_storage() {
    check_err(
        "storage \"postgresql\" {\n  connection_url = \"postgres://h/db\"\n  ha_enabled = \"true\"\n}\n",
        expect![[r#"server.hcl:3: storage "postgresql": unknown key "ha_enabled""#]],
    );
    check_err(
        "storage \"inmem\" {\n  path = \"/x\"\n}\n",
        expect![[r#"server.hcl:2: storage "inmem": unknown key "path""#]],
    );
}

#[test]
fn unknown_stanza_types() {
    check_err(
        "listener \"tcp\" {\n  tls_disable = true\n}\nstorage \"consul\" {\n  address = \"127.0.0.1:8500\"\n}\n",
        expect![[r#"server.hcl:4: unknown storage type "consul"; supported: file, embedded, raft, postgresql, inmem"#]],
    );
    check_err(
        "listener \"unix\" {\n  address = \"/run/sh.sock\"\n}\n",
        expect![[r#"server.hcl:1: unknown listener type "unix"; supported: tcp"#]],
    );
}

#[test]
fn stanza_without_its_type() {
    check_err(
        "storage {\n  path = \"/x\"\n}\n",
        expect![[
            r#"server.hcl:1: expected one label after storage, naming its type as in storage "<type>" { ... }; found 0"#
        ]],
    );
    check_err(
        "listener \"tcp\" \"extra\" {}\n",
        expect![[
            r#"server.hcl:1: expected one label after listener, naming its type as in listener "<type>" { ... }; found 2"#
        ]],
    );
}

#[test]
fn missing_tls_files_without_tls_disable() {
    check_err(
        "listener \"tcp\" {\n  address = \"0.0.0.0:8200\"\n}\n",
        expect![[
            r#"server.hcl:1: listener "tcp": missing tls_cert_file and tls_key_file (required unless tls_disable = true)"#
        ]],
    );
    check_err(
        "listener \"tcp\" {\n  address = \"127.0.0.1:1\"\n  tls_disable = true\n}\n\nlistener \"tcp\" {\n  address = \"0.0.0.0:8200\"\n  tls_cert_file = \"server.crt\"\n}\n",
        expect![[r#"server.hcl:6: listener "tcp": missing tls_key_file (required unless tls_disable = true)"#]],
    );
}

#[test]
fn bad_durations() {
    check_err(
        "listener \"tcp\" {\n  tls_disable = true\n}\ndefault_lease_ttl = \"forever\"\n",
        expect![[r#"server.hcl:4: "default_lease_ttl": invalid duration "forever""#]],
    );
    check_err(
        "listener \"tcp\" {\n  tls_disable = true\n}\nmax_lease_ttl = -5\n",
        expect![[r#"server.hcl:4: "max_lease_ttl": duration cannot be negative"#]],
    );
}

#[test]
fn default_ttl_above_max() {
    check_err(
        "listener \"tcp\" {\n  tls_disable = true\n}\ndefault_lease_ttl = \"800h\"\nmax_lease_ttl = \"24h\"\n",
        expect!["server.hcl:4: default_lease_ttl (800h0m0s) must not exceed max_lease_ttl (24h0m0s)"],
    );
    // Only max given: the default (768h) is above it; blame the line that was written.
    check_err(
        "listener \"tcp\" {\n  tls_disable = true\n}\n\nmax_lease_ttl = \"1h\"\n",
        expect![
            "server.hcl:5: default_lease_ttl (768h0m0s) must not exceed max_lease_ttl (1h0m0s)"
        ],
    );
}

#[test]
fn bad_addresses() {
    check_err(
        "listener \"tcp\" {\n  address = \"localhost:8200\"\n  tls_disable = true\n}\n",
        expect![[
            r#"server.hcl:2: listener "tcp": "address": "localhost:8200" is not an IP address and port such as 127.0.0.1:8200"#
        ]],
    );
    check_err(
        "listener \"tcp\" {\n  address = \"127.0.0.1:8200\"\n  tls_disable = true\n}\nlistener \"tcp\" {\n  address = \"127.0.0.1:8200\"\n  tls_disable = true\n}\n",
        expect![[r#"server.hcl:6: listener "tcp": address 127.0.0.1:8200 is already used by another listener on line 1"#]],
    );
    check_err(
        "listener \"tcp\" {\n  tls_disable = true\n}\napi_addr = \"secrethub.example.com:8200\"\n",
        expect![[
            r#"server.hcl:4: "api_addr": must be a URL such as https://secrethub.example.com:8200"#
        ]],
    );
}

#[test]
fn two_storage_stanzas() {
    check_err(
        "storage \"file\" {\n  path = \"/a.db\"\n}\nlistener \"tcp\" {\n  tls_disable = true\n}\nstorage \"inmem\" {}\n",
        expect!["server.hcl:7: only one storage stanza is allowed; the first is on line 1"],
    );
}

#[test]
fn wrong_value_types() {
    check_err(
        "api_addr = 8200\n",
        expect![[r#"server.hcl:1: "api_addr" must be a string, found a number"#]],
    );
    check_err(
        "listener \"tcp\" {\n  address = \"127.0.0.1:8200\"\n  tls_cert_file = true\n}\n",
        expect![[
            r#"server.hcl:3: listener "tcp": "tls_cert_file" must be a string, found a boolean"#
        ]],
    );
    check_err(
        "listener \"tcp\" {\n  tls_disable = \"maybe\"\n}\n",
        expect![[r#"server.hcl:2: listener "tcp": "tls_disable": must be true or false"#]],
    );
    check_err(
        "listener \"tcp\" {\n  tls_disable = true\n}\nui = [true]\n",
        expect![[r#"server.hcl:4: "ui": must be true or false"#]],
    );
    check_err(
        "storage = \"file\"\n",
        expect![[r#"server.hcl:1: "storage" must be a list, found a string"#]],
    );
    check_err(
        "log_level { }\n",
        expect![[r#"server.hcl:1: "log_level" must be a string, found a stanza"#]],
    );
}

#[test]
fn bad_values() {
    let listener = "listener \"tcp\" {\n  tls_disable = true\n}\n";
    check_err(
        &format!("{listener}log_level = \"verbose\"\n"),
        expect![[
            r#"server.hcl:4: "log_level": unknown level "verbose"; supported: trace, debug, info, warn, error"#
        ]],
    );
    check_err(
        &format!("{listener}storage \"postgresql\" {{\n  connection_url = \"postgres://h/db\"\n  table = \"kv; drop table x\"\n}}\n"),
        expect![[r#"server.hcl:6: storage "postgresql": "table": must be a table name such as secrethub_kv or schema.secrethub_kv (letters, digits and underscores)"#]],
    );
    check_err(
        &format!("{listener}storage \"postgresql\" {{\n  connection_url = \"postgres://h/db\"\n  max_parallel = \"0\"\n}}\n"),
        expect![[r#"server.hcl:6: storage "postgresql": "max_parallel": must be a positive integer"#]],
    );
    check_err(
        &format!("{listener}storage \"file\" {{\n  path = \"\"\n}}\n"),
        expect![[r#"server.hcl:5: storage "file": "path": must not be empty"#]],
    );
    check_err(
        &format!("{listener}storage \"raft\" {{}}\n"),
        expect![[r#"server.hcl:4: storage "raft": missing key "path""#]],
    );
}

#[test]
fn missing_keys_and_listeners() {
    check_err(
        "listener \"tcp\" {\n  tls_disable = true\n}\nstorage \"postgresql\" {\n  table = \"kv\"\n}\n",
        expect![[r#"server.hcl:4: storage "postgresql": missing key "connection_url""#]],
    );
    check_err(
        "storage \"inmem\" {}\n",
        expect![[
            r#"server.hcl: no listener stanza; add one such as listener "tcp" { address = "127.0.0.1:8200" }"#
        ]],
    );
}

#[test]
fn duplicate_keys() {
    check_err(
        "ui = true\nui = false\n",
        expect![[r#"server.hcl:2: duplicate key "ui""#]],
    );
    check_err(
        "api_addr = \"http://a\"\napi_addr {}\n",
        expect![[r#"server.hcl:2: duplicate key "api_addr""#]],
    );
}

#[test]
fn expressions_are_not_evaluated() {
    check_err(
        "api_addr = \"http://${var.host}:8200\"\n",
        expect![[
            r#"server.hcl:1: "api_addr" must be a literal value; expressions and interpolations are not evaluated"#
        ]],
    );
    check_err(
        "max_lease_ttl = 1 + 1\n",
        expect![[
            r#"server.hcl:1: "max_lease_ttl" must be a literal value; expressions and interpolations are not evaluated"#
        ]],
    );
}

#[test]
fn syntax_errors() {
    check_err(
        "ui = true\nlistener \"tcp\" { address = \"127.0.0.1:8200\" tls_disable = true }\n",
        expect!["server.hcl:2: syntax error at column 45: invalid block body; expected `}`, newline or identifier; HCL needs each attribute of a stanza on its own line"],
    );
    check_err(
        "ui = true\n\nlog_level = \n",
        expect![[
            r#"server.hcl:3: syntax error at column 13: invalid expression; expected `"`, `[`, `{`, `-`, `!`, `(`, `_`, `<`, letter or digit"#
        ]],
    );
}

#[test]
fn secrets_never_appear_in_errors() {
    for text in [
        "storage \"postgresql\" {\n  connection_url = [\"postgres://u:s3cr3t@h/db\"]\n}\n",
        "storage \"postgresql\" {\n  connection_url = \"postgres://u:s3cr3t@h/db\" oops\n}\n",
        "storage \"postgresql\" {\n  connection_url = \"postgres://u:s3cr3t@h/db\n}\n",
        "storage \"postgresql\" {\n  connection_url = { url = \"postgres://u:s3cr3t@h/db\" }\n}\n",
    ] {
        let message = load_err(text);
        assert!(!message.contains("s3cr3t"), "{message}");
    }
    expect![[
        r#"server.hcl:2: storage "postgresql": "connection_url" must be a string, found a list"#
    ]]
    .assert_eq(&load_err(
        "storage \"postgresql\" {\n  connection_url = [\"postgres://u:s3cr3t@h/db\"]\n}\n",
    ));
}

#[test]
fn unreadable_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = secrethub_config::load(&dir.path().join("missing.hcl")).unwrap_err();
    let message = err.to_string();
    assert!(
        message.ends_with(
            "missing.hcl: cannot read config file: No such file or directory (os error 2)"
        ),
        "{message}"
    );
}

#[test]
fn bad_listener_limits() {
    let listener =
        |line: &str| format!("listener \"tcp\" {{\n  tls_disable = true\n  {line}\n}}\n");
    check_err(
        &listener("max_connections = 0"),
        expect![[
            r#"server.hcl:3: listener "tcp": "max_connections": must be an integer from 1 to 1000000"#
        ]],
    );
    check_err(
        &listener("max_connections = \"many\""),
        expect![[
            r#"server.hcl:3: listener "tcp": "max_connections": must be an integer from 1 to 1000000"#
        ]],
    );
    check_err(
        &listener("http_read_header_timeout = \"soon\""),
        expect![[
            r#"server.hcl:3: listener "tcp": "http_read_header_timeout": invalid duration "soon""#
        ]],
    );
    check_err(
        &listener("http_idle_timeout = -1"),
        expect![[
            r#"server.hcl:3: listener "tcp": "http_idle_timeout": duration cannot be negative"#
        ]],
    );
}

#[test]
fn bad_tls_settings() {
    let listener =
        |line: &str| format!("listener \"tcp\" {{\n  tls_disable = true\n  {line}\n}}\n");
    check_err(
        &listener("tls_min_version = \"tls10\""),
        expect![[
            r#"server.hcl:3: listener "tcp": "tls_min_version": "tls10" is refused: TLS 1.0 and 1.1 are insecure and not served; use "tls12" or "tls13""#
        ]],
    );
    check_err(
        &listener("tls_min_version = \"tls11\""),
        expect![[
            r#"server.hcl:3: listener "tcp": "tls_min_version": "tls11" is refused: TLS 1.0 and 1.1 are insecure and not served; use "tls12" or "tls13""#
        ]],
    );
    check_err(
        &listener("tls_min_version = \"1.3\""),
        expect![[
            r#"server.hcl:3: listener "tcp": "tls_min_version": "1.3" is not one of "tls12", "tls13""#
        ]],
    );
    check_err(
        &listener("tls_min_version = 13"),
        expect![[r#"server.hcl:3: listener "tcp": "tls_min_version": must be a string"#]],
    );
    check_err(
        &listener(
            "tls_cipher_suites = \"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_RSA_WITH_AES_256_CBC_SHA\"",
        ),
        expect![[
            r#"server.hcl:3: listener "tcp": "tls_cipher_suites": cipher suite "TLS_RSA_WITH_AES_256_CBC_SHA" is not supported (only ECDHE suites with AES-GCM or ChaCha20-Poly1305 for TLS 1.2, and the TLS 1.3 suites, are served)"#
        ]],
    );
    check_err(
        &listener("tls_cipher_suites = \"TLS_ECDHE_RSA_WITH_RC4_128_SHA\""),
        expect![[
            r#"server.hcl:3: listener "tcp": "tls_cipher_suites": cipher suite "TLS_ECDHE_RSA_WITH_RC4_128_SHA" is not supported (only ECDHE suites with AES-GCM or ChaCha20-Poly1305 for TLS 1.2, and the TLS 1.3 suites, are served)"#
        ]],
    );
}

#[test]
fn nesting_too_deep_for_the_parser() {
    check_err(
        &format!(
            "ui = true\nlistener \"tcp\" {{\n  address = {}1{}\n}}\n",
            "[".repeat(400),
            "]".repeat(400)
        ),
        expect![[r#"server.hcl:3: config is nested too deeply (limit 32)"#]],
    );
}
