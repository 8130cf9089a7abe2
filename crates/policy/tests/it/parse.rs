//! Parsing: valid policies in HCL and JSON, and the error message of each kind of mistake.

use expect_test::{expect, Expect};
use secrethub_common::ErrorKind;
use secrethub_policy::{Acl, Policy};

use crate::{capability_table, policy};

/// Parses `text` (which must be valid) and shows the capabilities it grants on `paths`.
fn check(text: &str, paths: &[&str], expected: Expect) {
    let policy = policy(text);
    expected.assert_eq(&capability_table(&Acl::new(&[&policy]), paths));
}

/// Parses `text` (which must be invalid) and shows the error message.
fn check_err(text: &str, expected: Expect) {
    match Policy::parse("bad", text) {
        Ok(_) => panic!("policy should be rejected:\n{text}"),
        Err(err) => {
            assert_eq!(err.kind(), ErrorKind::BadRequest);
            expected.assert_eq(&err.to_string());
        }
    }
}

#[test]
fn keeps_name_and_raw_text() {
    let text = "path \"secret/*\" {\n  capabilities = [\"read\"]\n}\n";
    let policy = Policy::parse("readers", text).unwrap();
    assert_eq!(policy.name(), "readers");
    assert_eq!(policy.raw(), text);
    assert!(!policy.is_templated());
}

#[test]
fn hcl_as_vault_writes_it() {
    check(
        r#"
# A hash comment.
// A slash comment.
/* A block
   comment. */
name = "ignored, the stored name counts"

path "secret/data/*" {
  capabilities = ["read", "list",]
  comment      = "trailing commas and comments are fine"
}

path "/sys/mounts" { capabilities = ["read"] }

path "secret/data/empty" {
  capabilities = []
}
"#,
        &[
            "secret/data/a",
            "sys/mounts",
            "secret/data/empty",
            "secret/metadata/a",
        ],
        expect![[r#"
            secret/data/a => ["list", "read"]
            sys/mounts => ["read"]
            secret/data/empty => ["deny"]
            secret/metadata/a => ["deny"]
        "#]],
    );
}

#[test]
fn every_capability_name() {
    check(
        r#"path "all" { capabilities = ["create", "read", "update", "patch", "delete", "list", "scan", "sudo"] }"#,
        &["all"],
        expect![[r#"
            all => ["create", "delete", "list", "patch", "read", "scan", "sudo", "update"]
        "#]],
    );
}

#[test]
fn deny_among_capabilities_leaves_only_deny() {
    check(
        r#"path "a" { capabilities = ["read", "deny", "sudo"] }"#,
        &["a"],
        expect![[r#"
            a => ["deny"]
        "#]],
    );
}

#[test]
fn old_policy_shorthand() {
    check(
        r#"
path "r" { policy = "read" }
path "w" { policy = "write" }
path "s" { policy = "sudo" }
path "d" { policy = "deny" }
path "both" {
  policy       = "read"
  capabilities = ["patch"]
}
"#,
        &["r", "w", "s", "d", "both"],
        expect![[r#"
            r => ["list", "read"]
            w => ["create", "delete", "list", "read", "update"]
            s => ["create", "delete", "list", "read", "sudo", "update"]
            d => ["deny"]
            both => ["list", "patch", "read"]
        "#]],
    );
}

#[test]
fn json_policies() {
    check(
        r#"{"path": {"secret/*": {"capabilities": ["read"]}, "sys/audit": {"policy": "sudo"}}}"#,
        &["secret/x", "sys/audit"],
        expect![[r#"
            secret/x => ["read"]
            sys/audit => ["create", "delete", "list", "read", "sudo", "update"]
        "#]],
    );
    // The list form that HCL1 tools emit.
    check(
        r#"
  {"name": "x", "path": [{"a": {"capabilities": ["list"]}}, {"b/*": {"capabilities": ["update"],
   "allowed_parameters": [{"k": ["v"]}], "max_wrapping_ttl": 60}}]}"#,
        &["a", "b/c"],
        expect![[r#"
            a => ["list"]
            b/c => ["update"]
        "#]],
    );
}

#[test]
fn empty_policies_grant_nothing() {
    for text in ["", "  \n# only a comment\n", "{}"] {
        check(
            text,
            &["secret/a", ""],
            expect![[r#"
                secret/a => ["deny"]
                 => ["deny"]
            "#]],
        );
    }
}

#[test]
fn durations_and_parameters_parse() {
    let policy = policy(
        r#"
path "a" {
  capabilities        = ["update"]
  min_wrapping_ttl    = "1m"
  max_wrapping_ttl    = 3600
  allowed_parameters  = { "*" = [], "n" = [1, true, null, "x-*"] }
  denied_parameters   = { Secret = [] }
  required_parameters = ["n"]
}
"#,
    );
    assert!(!policy.is_templated());
}

#[test]
fn templated_patterns_are_detected() {
    let policy =
        policy(r#"path "secret/data/{{identity.entity.id}}/*" { capabilities = ["read"] }"#);
    assert!(policy.is_templated());
}

#[test]
fn syntax_errors_point_at_the_line() {
    check_err(
        "path \"a\" {\n  capabilities = [\"read\"\n}\n",
        expect!["failed to parse policy: line 3, column 1: expected `]`"],
    );
    check_err(
        "path \"a\" {\n  capabilities = [\"read\"]\n",
        expect!["failed to parse policy: line 2, column 27: invalid block body; expected `}`, newline or identifier"],
    );
    check_err(
        "{\"path\": {\"a\": }}",
        expect![[r#"failed to parse policy: line 1, column 16: expected value"#]],
    );
    check_err(
        "[1, 2]",
        expect!["failed to parse policy: line 1, column 1: unexpected token"],
    );
}

#[test]
fn policy_errors_name_pattern_key_and_line() {
    let cases: Vec<(&str, Expect)> = vec![
        (
            "paths \"a\" {\n  capabilities = [\"read\"]\n}",
            expect![[r#"failed to parse policy: line 1: unknown key "paths""#]],
        ),
        (
            "path \"secret/*\" {\n  capabilites = [\"read\"]\n}",
            expect![[r#"failed to parse policy: path "secret/*" (line 2): unknown key "capabilites""#]],
        ),
        (
            "path \"secret/*\" {\n  capabilities = [\n    \"read\",\n    \"reed\",\n  ]\n}",
            expect![[r#"failed to parse policy: path "secret/*" (line 4): invalid capability "reed""#]],
        ),
        (
            r#"path "a" { capabilities = ["root"] }"#,
            expect![[r#"failed to parse policy: path "a" (line 1): invalid capability "root""#]],
        ),
        (
            r#"path "a" { capabilities = ["Read"] }"#,
            expect![[r#"failed to parse policy: path "a" (line 1): invalid capability "Read""#]],
        ),
        (
            r#"path "a" { capabilities = "read" }"#,
            expect![[r#"failed to parse policy: path "a" (line 1): "capabilities" must be a list of strings"#]],
        ),
        (
            r#"path "a" { capabilities = [read] }"#,
            expect![[r#"failed to parse policy: path "a" (line 1): "capabilities" must be a list of strings"#]],
        ),
        (
            r#"path "a" { policy = "admin" }"#,
            expect![[r#"failed to parse policy: path "a" (line 1): invalid policy "admin" (expected "deny", "read", "write" or "sudo")"#]],
        ),
        (
            r#"path "a" { policy = ["read"] }"#,
            expect![[r#"failed to parse policy: path "a" (line 1): "policy" must be a string"#]],
        ),
        (
            "path \"a\" {\n  capabilities = [\"read\"]\n  capabilities = [\"list\"]\n}",
            expect!["failed to parse policy: line 3, column 3: invalid attribute; expected unique attribute key; found redefined attribute"],
        ),
        (
            "path \"a\" {\n  capabilities = [\"read\"]\n  expiration = \"2030-01-01T00:00:00Z\"\n}",
            expect![[r#"failed to parse policy: path "a" (line 3): key "expiration" is not supported"#]],
        ),
        (
            r#"path "a" { mfa_methods = ["x"] }"#,
            expect![[r#"failed to parse policy: path "a" (line 1): key "mfa_methods" is not supported"#]],
        ),
        (
            "path \"a\" {\n  control_group {\n    ttl = \"1h\"\n  }\n}",
            expect![[r#"failed to parse policy: path "a" (line 2): key "control_group" is not supported"#]],
        ),
        (
            r#"path "a" { min_wrapping_ttl = "soon" }"#,
            expect![[r#"failed to parse policy: path "a" (line 1): invalid "min_wrapping_ttl": invalid duration "soon""#]],
        ),
        (
            r#"path "a" { max_wrapping_ttl = true }"#,
            expect![[r#"failed to parse policy: path "a" (line 1): "max_wrapping_ttl" must be a duration"#]],
        ),
        (
            "path \"a\" {\n  min_wrapping_ttl = \"1h\"\n  max_wrapping_ttl = \"1m\"\n}",
            expect![[r#"failed to parse policy: path "a" (line 1): max_wrapping_ttl cannot be less than min_wrapping_ttl"#]],
        ),
        (
            r#"path "a" { allowed_parameters = ["x"] }"#,
            expect![[r#"failed to parse policy: path "a" (line 1): "allowed_parameters" must be an object of parameter names to lists of values"#]],
        ),
        (
            "path \"a\" {\n  denied_parameters = {\n    \"x\" = \"y\"\n  }\n}",
            expect![[r#"failed to parse policy: path "a" (line 3): "denied_parameters" must be an object of parameter names to lists of values"#]],
        ),
        (
            r#"path "a" { allowed_parameters = { "x" = [{ y = 1 }] } }"#,
            expect![[r#"failed to parse policy: path "a" (line 1): "allowed_parameters" must be an object of parameter names to lists of strings, numbers or booleans"#]],
        ),
        (
            r#"path "a" { allowed_parameters = { "*" = ["x"] } }"#,
            expect![[r#"failed to parse policy: path "a" (line 1): allowed_parameters: the "*" parameter only accepts an empty list of values"#]],
        ),
        (
            r#"path "a" { denied_parameters = { "Key" = [], "key" = ["x"] } }"#,
            expect![[r#"failed to parse policy: path "a" (line 1): duplicate key "key""#]],
        ),
        (
            r#"path "a" { required_parameters = "x" }"#,
            expect![[r#"failed to parse policy: path "a" (line 1): "required_parameters" must be a list of strings"#]],
        ),
        (
            r#"path "secret/+*" { capabilities = ["read"] }"#,
            expect![[r#"failed to parse policy: path "secret/+*" (line 1): invalid use of wildcards ('+*' is forbidden)"#]],
        ),
        (
            r#"path "secret/{{identity.entity.id" { capabilities = ["read"] }"#,
            expect![[r#"failed to parse policy: path "secret/{{identity.entity.id" (line 1): unbalanced templating characters"#]],
        ),
        (
            r#"path = "secret/*""#,
            expect![[r#"failed to parse policy: line 1: "path" must be an object of path rules"#]],
        ),
        (
            r#"path "a" "b" { capabilities = ["read"] }"#,
            expect![[r#"failed to parse policy: path "a" (line 1): unknown key "b""#]],
        ),
        (
            r#"path "a" { capabilities = ["${x}"] }"#,
            expect![[r#"failed to parse policy: path "a" (line 1): "capabilities" must be a list of strings"#]],
        ),
        (
            r#"{"path": {"a": {"capabilities": ["fly"]}}}"#,
            expect![[r#"failed to parse policy: path "a": invalid capability "fly""#]],
        ),
        (
            r#"{"path": {"a": ["read"]}}"#,
            expect![[r#"failed to parse policy: path "a": "path" must be a block of rules"#]],
        ),
        (
            r#"{"paths": {}}"#,
            expect![[r#"failed to parse policy: unknown key "paths""#]],
        ),
    ];
    for (text, expected) in cases {
        check_err(text, expected);
    }
}

#[test]
fn errors_report_their_line() {
    let err = Policy::parse("x", "\n\npath \"a\" {\n  nope = 1\n}").unwrap_err();
    assert_eq!(err.line(), Some(4));
    let err = Policy::parse("x", r#"{"path": {"a": {"nope": 1}}}"#).unwrap_err();
    assert_eq!(err.line(), None);
}

#[test]
fn json_rule_blocks_wrapped_in_lists() {
    check(
        r#"{"path": {"a/*": [{"capabilities": ["read"]}, {"required_parameters": ["x"]}]}}"#,
        &["a/b"],
        expect![[r#"
            a/b => ["read"]
        "#]],
    );
}

#[test]
fn size_and_nesting_are_bounded_before_parsing() {
    let deep = |n: usize| format!("{}\"read\"{}", "[".repeat(n), "]".repeat(n));
    check_err(
        &format!(
            "# comment\npath \"a\" {{\n  capabilities = {}\n}}\n",
            deep(400)
        ),
        expect!["failed to parse policy: line 3: policy is nested too deeply (limit 32)"],
    );
    check_err(
        &format!(
            "{{\"path\": {{\"a\": {{\"capabilities\": {}}}}}}}",
            deep(400)
        ),
        expect!["failed to parse policy: line 1: policy is nested too deeply (limit 32)"],
    );
    check_err(
        &format!("# {}", "x".repeat(128 * 1024)),
        expect!["failed to parse policy: policy is too large (131074 bytes, limit 131072)"],
    );
    // At the limit (the block is one level) the parser runs and the validator answers.
    check_err(
        &format!("path \"a\" {{ capabilities = {} }}", deep(31)),
        expect![[
            r#"failed to parse policy: path "a" (line 1): "capabilities" must be a list of strings"#
        ]],
    );
    // Brackets in strings and comments are not nesting.
    let brackets = "[".repeat(400);
    let text = format!("# {brackets}\npath \"a/{brackets}\" {{ capabilities = [\"read\"] }}");
    assert!(Policy::parse("ok", &text).is_ok());
}
