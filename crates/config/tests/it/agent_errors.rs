//! Invalid agent configs: the exact message for each mistake, with file, line, stanza and key.

use expect_test::{expect, Expect};

/// Writes `text` to `agent.hcl` in a fresh directory, loads it, and returns the error message
/// with the directory left out, so it reads as the operator sees it.
fn agent_err(text: &str) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("agent.hcl");
    std::fs::write(&path, text).expect("write config");
    let err = secrethub_config::load_agent(&path).expect_err("config should be rejected");
    assert_eq!(err.kind(), secrethub_common::ErrorKind::BadRequest);
    let prefix = format!("{}{}", dir.path().display(), std::path::MAIN_SEPARATOR);
    err.to_string().replace(&prefix, "")
}

fn check(text: &str, expect: Expect) {
    expect.assert_eq(&agent_err(text));
}

const METHOD: &str = "method \"token_file\" {\n    config = { token_file_path = \"t\" }\n  }";

#[test]
fn unknown_top_level_key() {
    check(
        "vault {\n  address = \"http://127.0.0.1:8200\"\n}\n\nlistner \"tcp\" {\n  address = \"127.0.0.1:8100\"\n}\n",
        expect![[r#"agent.hcl:5: unknown key "listner""#]],
    );
    check(
        "exit_after_auth = true\nexit_afer_auth = true\n",
        expect![[r#"agent.hcl:2: unknown key "exit_afer_auth""#]],
    );
}

#[test]
fn unknown_key_in_a_stanza() {
    check(
        "vault {\n  address = \"http://127.0.0.1:8200\"\n  retry {\n    num_retires = 3\n  }\n}\n",
        expect![[r#"agent.hcl:4: retry: unknown key "num_retires""#]],
    );
    check(
        "template {\n  contents = \"x\"\n  destination = \"out\"\n  left_delimiter = \"[[\"\n}\n",
        expect![[r#"agent.hcl:4: template: unknown key "left_delimiter""#]],
    );
}

#[test]
fn unknown_key_in_method_config() {
    check(
        r#"auto_auth {
  method "approle" {
    config = {
      role_id_file_path = "role-id"
      secret_id_path    = "secret-id"
    }
  }
}
"#,
        expect![[r#"agent.hcl:5: method "approle": unknown key "secret_id_path""#]],
    );
    // A key of another method is just as unknown.
    check(
        "auto_auth {\n  method \"kubernetes\" {\n    config = { role = \"web\", token_file_path = \"t\" }\n  }\n}\n",
        expect![[r#"agent.hcl:3: method "kubernetes": unknown key "token_file_path""#]],
    );
}

#[test]
fn missing_key_in_method_config() {
    check(
        "auto_auth {\n  method \"jwt\" {\n    config = { path = \"jwt\" }\n  }\n}\n",
        expect![[r#"agent.hcl:3: method "jwt": missing key "role""#]],
    );
    check(
        "auto_auth {\n  method \"approle\" {\n    mount_path = \"auth/approle\"\n  }\n}\n",
        expect![[r#"agent.hcl:2: method "approle": missing key "config""#]],
    );
}

#[test]
fn methods_and_sinks() {
    check(
        &format!("auto_auth {{\n  {METHOD}\n  method \"approle\" {{\n    config = {{ role_id_file_path = \"r\" }}\n  }}\n}}\n"),
        expect!["agent.hcl:5: auto_auth: only one method stanza is allowed; the first is on line 2"],
    );
    check(
        "auto_auth {\n}\n",
        expect![[
            r#"agent.hcl:1: auto_auth: missing method stanza, such as method "approle" { config = { ... } }"#
        ]],
    );
    check(
        "auto_auth {\n  method \"cert\" {\n    config = {}\n  }\n}\n",
        expect![[
            r#"agent.hcl:2: auto_auth: unknown method type "cert"; supported: token_file, approle, jwt, kubernetes, userpass"#
        ]],
    );
    check(
        "auto_auth {\n  method {\n    type = \"approle\"\n  }\n}\n",
        expect![[
            r#"agent.hcl:2: auto_auth: expected one label after method, naming its type as in method "<type>" { ... }; found 0"#
        ]],
    );
    check(
        &format!("auto_auth {{\n  {METHOD}\n  sink \"kv\" {{\n    config = {{ path = \"x\" }}\n  }}\n}}\n"),
        expect![[r#"agent.hcl:5: auto_auth: unknown sink type "kv"; supported: file"#]],
    );
    check(
        &format!("auto_auth {{\n  {METHOD}\n  sink \"file\" {{\n    config = {{\n      path = \"x\"\n      mode = 0800\n    }}\n  }}\n}}\n"),
        expect![[r#"agent.hcl:8: sink "file": "mode": must be permission bits such as 0600 or "0640" (octal, at most 0777)"#]],
    );
    check(
        &format!("auto_auth {{\n  {METHOD}\n  sink \"file\" {{\n    config = {{\n      path = \"x\"\n      mode = true\n    }}\n  }}\n}}\n"),
        expect![[r#"agent.hcl:8: sink "file": "mode" must be a number or a string, found a boolean"#]],
    );
    check(
        "auto_auth {\n  method \"approle\" {\n    mount_path = \"/\"\n    config = { role_id_file_path = \"r\" }\n  }\n}\n",
        expect![[r#"agent.hcl:3: method "approle": "mount_path": must name the method's mount, such as auth/approle"#]],
    );
}

#[test]
fn vault_stanza() {
    check(
        "vault {\n  address = \"127.0.0.1:8200\"\n}\n",
        expect![[
            r#"agent.hcl:2: vault: "address": must be an http or https URL such as https://127.0.0.1:8200"#
        ]],
    );
    check(
        "vault {\n  address = \"http://127.0.0.1:8200\"\n}\nvault {\n  address = \"http://127.0.0.1:8201\"\n}\n",
        expect!["agent.hcl:4: only one vault stanza is allowed; the first is on line 1"],
    );
    check(
        "vault {\n  retry {\n    num_retries = -2\n  }\n}\n",
        expect![[r#"agent.hcl:3: retry: "num_retries": must be an integer from -1 to 1000"#]],
    );
    check(
        "vault {\n  default_kv_mount = \"my kv\"\n}\n",
        expect![[
            r#"agent.hcl:2: vault: "default_kv_mount": must be a mount path such as "secret" (or "" for none)"#
        ]],
    );
    check(
        "provider \"f\" {\n  type = \"file\"\n  path = \"x.env\"\n  default_kv_mount = \"kv\"\n}\n",
        expect![[
            r#"agent.hcl:4: provider "f": key "default_kv_mount" does not belong to type "file""#
        ]],
    );
}

#[test]
fn bad_renew_at() {
    check(
        "lease_renewal {\n  renew_at = 1.5\n}\n",
        expect![[
            r#"agent.hcl:2: lease_renewal: "renew_at": must be a fraction between 0 and 1 such as 0.33, or a percentage such as "33%""#
        ]],
    );
    check(
        "lease_renewal {\n  renew_at = \"0%\"\n}\n",
        expect![[
            r#"agent.hcl:2: lease_renewal: "renew_at": must be a fraction between 0 and 1 such as 0.33, or a percentage such as "33%""#
        ]],
    );
    check(
        "lease_renewal {\n  renew_at = \"soon\"\n}\n",
        expect![[
            r#"agent.hcl:2: lease_renewal: "renew_at": must be a fraction between 0 and 1 such as 0.33, or a percentage such as "33%""#
        ]],
    );
}

#[test]
fn bad_lease_renewal() {
    check(
        "lease_renewal {\n  backoff_initial = \"2m\"\n  backoff_max     = \"30s\"\n}\n",
        expect![
            "agent.hcl:2: lease_renewal: backoff_initial (2m0s) must not exceed backoff_max (30s)"
        ],
    );
    check(
        "lease_renewal {\n  max_attempts = 0\n}\n",
        expect![[r#"agent.hcl:2: lease_renewal: "max_attempts": must be a positive integer"#]],
    );
    check(
        "lease_renewal {\n  grace = \"forever\"\n}\n",
        expect![[r#"agent.hcl:2: lease_renewal: "grace": invalid duration "forever""#]],
    );
    check(
        "lease_renewal {\n  backoff_initial = 0\n}\n",
        expect![[r#"agent.hcl:2: lease_renewal: "backoff_initial": must be greater than zero"#]],
    );
}

#[test]
fn tcp_listener_without_tls_files() {
    check(
        "listener \"tcp\" {\n  address = \"127.0.0.1:8100\"\n}\n",
        expect![[
            r#"agent.hcl:1: listener "tcp": missing tls_cert_file and tls_key_file (required unless tls_disable = true)"#
        ]],
    );
    check(
        "listener \"unix\" {\n  address = \"a.sock\"\n}\n\nlistener \"tcp\" {\n  address = \"127.0.0.1:8100\"\n  tls_key_file = \"agent.key\"\n}\n",
        expect![[r#"agent.hcl:5: listener "tcp": missing tls_cert_file (required unless tls_disable = true)"#]],
    );
}

#[test]
fn bad_listeners() {
    check(
        "listener \"tcp\" {\n  address = \"localhost:8100\"\n  tls_disable = true\n}\n",
        expect![[
            r#"agent.hcl:2: listener "tcp": "address": "localhost:8100" is not an IP address and port such as 127.0.0.1:8100"#
        ]],
    );
    check(
        "listener \"tcp\" {\n  tls_disable = true\n}\n",
        expect![[r#"agent.hcl:1: listener "tcp": missing key "address""#]],
    );
    check(
        "listener \"unix\" {\n  address = \"a.sock\"\n}\nlistener \"unix\" {\n  address = \"a.sock\"\n}\n",
        expect![[r#"agent.hcl:5: listener "unix": address a.sock is already used by another listener on line 1"#]],
    );
    check(
        "listener \"http\" {\n  address = \"127.0.0.1:1\"\n}\n",
        expect![[r#"agent.hcl:1: unknown listener type "http"; supported: tcp, unix"#]],
    );
}

#[test]
fn use_auto_auth_token() {
    check(
        "cache {\n  use_auto_auth_token = true\n}\napi_proxy {\n  use_auto_auth_token = true\n}\n",
        expect![[
            r#"agent.hcl:5: api_proxy: "use_auto_auth_token": is also given in the cache stanza; keep only this one"#
        ]],
    );
    check(
        "api_proxy {\n  use_auto_auth_token = \"always\"\n}\n",
        expect![[
            r#"agent.hcl:2: api_proxy: "use_auto_auth_token": must be true, false or "force""#
        ]],
    );
}

#[test]
fn template_with_both_source_and_contents() {
    check(
        "template {\n  source      = \"app.tmpl\"\n  contents    = \"x\"\n  destination = \"app.conf\"\n}\n",
        expect![[r#"agent.hcl:3: template: only one of "source" and "contents" may be given"#]],
    );
}

#[test]
fn bad_templates() {
    check(
        "template {\n  destination = \"app.conf\"\n}\n",
        expect![[r#"agent.hcl:1: template: one of "source" or "contents" is required"#]],
    );
    check(
        "template {\n  source = \"app.tmpl\"\n}\n",
        expect![[r#"agent.hcl:1: template: missing key "destination""#]],
    );
    check(
        "template {\n  contents = \"x\"\n  destination = \"app.conf\"\n  perms = \"rw-------\"\n}\n",
        expect![[r#"agent.hcl:4: template: "perms": must be permission bits such as 0600 or "0640" (octal, at most 0777)"#]],
    );
    check(
        "template {\n  contents = \"${secret:aws:db#password}\"\n  destination = \"app.conf\"\n}\n",
        expect!["agent.hcl:2: syntax error at column 23: expected `}`; HCL reads ${ in a string as an interpolation: write $${ for a literal ${"],
    );
    check(
        "template_config {\n  static_secret_render_interval = 0\n}\n",
        expect![[
            r#"agent.hcl:2: template_config: "static_secret_render_interval": must be greater than zero"#
        ]],
    );
}

#[test]
fn provider_with_key_of_another_type() {
    check(
        r#"provider "aws" {
  type      = "aws-sm"
  region    = "us-east-1"
  vault_url = "https://my-vault.vault.azure.net"
}
"#,
        expect![[
            r#"agent.hcl:4: provider "aws": key "vault_url" does not belong to type "aws-sm""#
        ]],
    );
    check(
        "provider \"dev\" {\n  type = \"file\"\n  path = \"dev.env\"\n  token = \"s3cr3t-token-value\"\n}\n",
        expect![[r#"agent.hcl:4: provider "dev": key "token" does not belong to type "file""#]],
    );
}

#[test]
fn duplicate_provider_name() {
    check(
        "provider \"dev\" {\n  type = \"file\"\n  path = \"a.env\"\n}\n\nprovider \"dev\" {\n  type = \"file\"\n  path = \"b.env\"\n}\n",
        expect![[r#"agent.hcl:6: only one provider may be named "dev"; the first is on line 1"#]],
    );
}

#[test]
fn fallback_to_unknown_provider() {
    check(
        "provider \"aws\" {\n  type     = \"aws-sm\"\n  region   = \"us-east-1\"\n  fallback = \"prod\"\n}\nprovider \"dev\" {\n  type = \"file\"\n  path = \"dev.env\"\n}\n",
        expect![[r#"agent.hcl:4: provider "aws": "fallback": no provider is named "prod"; configured: secrethub, dev"#]],
    );
    check(
        "provider \"dev\" {\n  type = \"file\"\n  path = \"dev.env\"\n  fallback = \"dev\"\n}\n",
        expect![[
            r#"agent.hcl:4: provider "dev": "fallback": a provider cannot fall back to itself"#
        ]],
    );
    check(
        "provider \"a\" {\n  type = \"file\"\n  path = \"a.env\"\n  fallback = \"b\"\n}\nprovider \"b\" {\n  type = \"file\"\n  path = \"b.env\"\n  fallback = \"a\"\n}\n",
        expect![[r#"agent.hcl:4: provider "a": "fallback": fallbacks go round in a loop: a -> b -> a"#]],
    );
}

#[test]
fn reserved_and_invalid_provider_names() {
    check(
        "provider \"secrethub\" {\n  type = \"secrethub\"\n  address = \"https://other:8200\"\n}\n",
        expect![[
            r#"agent.hcl:1: invalid provider name "secrethub": reserved for the built-in provider (the server of the vault stanza)"#
        ]],
    );
    check(
        "provider \"Prod_1\" {\n  type = \"file\"\n  path = \"x.env\"\n}\n",
        expect![[
            r#"agent.hcl:1: invalid provider name "Prod_1": use lowercase letters, digits and '-'"#
        ]],
    );
    check(
        "provider {\n  type = \"file\"\n}\n",
        expect![[
            r#"agent.hcl:1: expected one label after provider, naming it as in provider "<name>" { ... }; found 0"#
        ]],
    );
}

#[test]
fn bad_provider_keys() {
    check(
        "provider \"x\" {\n  type = \"gcp-sm\"\n}\n",
        expect![[
            r#"agent.hcl:2: provider "x": "type": unknown provider type "gcp-sm"; supported: secrethub, vault, aws-sm, azure-kv, file (aliases: aws-secrets = aws-sm, azure-keyvault = azure-kv, local-file = file)"#
        ]],
    );
    check(
        "provider \"x\" {\n  path = \"x.env\"\n}\n",
        expect![[r#"agent.hcl:1: provider "x": missing key "type""#]],
    );
    check(
        "provider \"x\" {\n  type = \"azure-kv\"\n  vault_url = \"https://v.vault.azure.net\"\n  tenant_id = \"t\"\n  client_id = \"c\"\n}\n",
        expect![[r#"agent.hcl:1: provider "x": missing key "client_secret", required for type "azure-kv""#]],
    );
    check(
        "provider \"x\" {\n  type = \"vault\"\n  address = \"https://v:8200\"\n  token = \"s3cr3t-token-value\"\n  token_file = \"token\"\n}\n",
        expect![[r#"agent.hcl:5: provider "x": only one of "token" and "token_file" may be given"#]],
    );
    check(
        "provider \"x\" {\n  type = \"aws-sm\"\n  region = \"us-east-1\"\n  secret_access_key = \"s3cr3t-key-value\"\n}\n",
        expect![[r#"agent.hcl:4: provider "x": "secret_access_key": needs "access_key_id" as well"#]],
    );
    check(
        "provider \"x\" {\n  type = \"file\"\n  path = \"x.env\"\n  format = \"json\"\n}\n",
        expect![[
            r#"agent.hcl:4: provider "x": "format": unknown format "json"; supported: yaml, dotenv"#
        ]],
    );
    check(
        "provider \"x\" {\n  type = \"file\"\n  path = \"x.env\"\n  timeout = \"0s\"\n}\n",
        expect![[r#"agent.hcl:4: provider "x": "timeout": must be greater than zero"#]],
    );
    check(
        "provider \"x\" {\n  type = \"file\"\n  path = \"x.env\"\n  prefix = \"p/\"\n}\nprovider \"y\" {\n  type = \"file\"\n  path = \"y.env\"\n  prefix = \"p/\"\n}\n",
        expect![[r#"agent.hcl:9: provider "y": "prefix": "p/" is already the prefix of provider "x""#]],
    );
}

#[test]
fn secrets_never_in_errors() {
    for (text, secret) in [
        (
            "provider \"x\" {\n  type = \"vault\"\n  address = \"https://v:8200\"\n  token = [\"s3cr3t-token-value\"]\n}\n",
            "s3cr3t-token-value",
        ),
        (
            "provider \"x\" {\n  type = \"azure-kv\"\n  vault_url = \"not a url s3cr3t\"\n  tenant_id = \"t\"\n  client_id = \"c\"\n  client_secret = \"s3cr3t-client-secret\"\n}\n",
            "s3cr3t",
        ),
        (
            "provider \"x\" {\n  type = \"file\"\n  path = \"x.env\"\n  client_secret = \"s3cr3t-client-secret\"\n}\n",
            "s3cr3t",
        ),
        (
            "provider \"x\" {\n  type = \"aws-sm\"\n  region = \"us-east-1\"\n  access_key_id = \"AKIA\"\n  secret_access_key = \"s3cr3t-key\"\n  session_token = 7\n}\n",
            "s3cr3t",
        ),
    ] {
        let message = agent_err(text);
        assert!(!message.contains(secret), "{message}");
    }
}

#[test]
fn syntax_and_shape() {
    check(
        "vault {\n  address = \"http://a:1\" ca_cert = \"x\"\n}\n",
        expect!["agent.hcl:2: syntax error at column 26: expected newline or eof"],
    );
    check(
        "cache = true\n",
        expect![[r#"agent.hcl:1: "cache" must be a stanza, found a boolean"#]],
    );
    check(
        "exit_after_auth = \"maybe\"\n",
        expect![[r#"agent.hcl:1: "exit_after_auth": must be true or false"#]],
    );
}
