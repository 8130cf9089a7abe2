//! Parameter constraints (`allowed_parameters`, `denied_parameters`, `required_parameters`) and
//! response-wrapping bounds.

use std::time::Duration;

use expect_test::{expect, Expect};
use secrethub_policy::{Acl, Capability};
use serde_json::{json, Map, Value};

use crate::policy;

/// Checks each `(capability, parameters)` on path `p` against a policy whose only rule is
/// `path "p" { <rule> }`, one line per request.
fn check(rule: &str, requests: &[(Capability, Value)], expected: Expect) {
    let acl = Acl::new(&[&policy(&format!("path \"p\" {{\n{rule}\n}}"))]);
    let mut out = String::new();
    for (cap, params) in requests {
        let map: Map<String, Value> = match params {
            Value::Object(map) => map.clone(),
            _ => panic!("parameters must be an object"),
        };
        let decision = acl.check("p", *cap, &map);
        let verdict = match &decision.reason {
            None => "allowed".to_owned(),
            Some(reason) => format!("denied: {reason}"),
        };
        out.push_str(&format!("{cap} {params} => {verdict}\n"));
    }
    expected.assert_eq(&out);
}

const WRITE: Capability = Capability::Update;

#[test]
fn required_parameters() {
    check(
        r#"capabilities = ["create", "update", "read", "delete", "list"]
           required_parameters = ["name", "ID"]"#,
        &[
            (WRITE, json!({"name": "a", "id": 1})),
            (WRITE, json!({"name": "a", "id": null, "other": true})),
            (WRITE, json!({"name": "a"})),
            (WRITE, json!({})),
            // Vault looks up the lower-cased name exactly.
            (WRITE, json!({"name": "a", "ID": 1})),
            (Capability::Create, json!({"id": 1})),
            (Capability::Read, json!({})),
            // Delete and list carry no parameters to constrain.
            (Capability::Delete, json!({})),
            (Capability::List, json!({})),
        ],
        expect![[r#"
            update {"id":1,"name":"a"} => allowed
            update {"id":null,"name":"a","other":true} => allowed
            update {"name":"a"} => denied: rule "p": missing required parameter "id"
            update {} => denied: rule "p": missing required parameter "name"
            update {"ID":1,"name":"a"} => denied: rule "p": missing required parameter "id"
            create {"id":1} => denied: rule "p": missing required parameter "name"
            read {} => denied: rule "p": missing required parameter "name"
            delete {} => allowed
            list {} => allowed
        "#]],
    );
}

#[test]
fn allowed_parameters() {
    check(
        r#"capabilities = ["create", "update", "patch", "read"]
           allowed_parameters = {
             "foo"    = []
             "Bar"    = ["zip", "zap"]
             "prefix" = ["baz/*"]
             "suffix" = ["*-prod"]
             "middle" = ["*mid*"]
             "typed"  = [false, 10, "x"]
             "nul"    = [null]
           }"#,
        &[
            (WRITE, json!({})),
            (WRITE, json!({"foo": "anything"})),
            (WRITE, json!({"foo": {"nested": ["x"]}})),
            (WRITE, json!({"bar": "zip"})),
            (WRITE, json!({"BAR": "zap"})),
            (WRITE, json!({"bar": "zop"})),
            (WRITE, json!({"bar": "ZIP"})),
            (WRITE, json!({"other": "x"})),
            (WRITE, json!({"foo": 1, "other": "x"})),
            (WRITE, json!({"prefix": "baz/quux"})),
            (WRITE, json!({"prefix": "bazooka"})),
            (WRITE, json!({"suffix": "db-prod"})),
            (WRITE, json!({"middle": "amidst"})),
            (WRITE, json!({"typed": false})),
            (WRITE, json!({"typed": "false"})),
            (WRITE, json!({"typed": 10})),
            (WRITE, json!({"typed": "10"})),
            (WRITE, json!({"typed": true})),
            (WRITE, json!({"typed": null})),
            (WRITE, json!({"nul": null})),
            (WRITE, json!({"nul": "null"})),
            // Lists: every element must be allowed.
            (WRITE, json!({"bar": ["zip", "zap"]})),
            (WRITE, json!({"bar": ["zip", "nope"]})),
            (WRITE, json!({"bar": "zip,zap"})),
            (WRITE, json!({"bar": "zip, nope"})),
            (WRITE, json!({"prefix": "baz/a,wibble"})),
            (WRITE, json!({"bar": []})),
            (WRITE, json!({"bar": {"zip": 1}})),
            (Capability::Patch, json!({"other": 1})),
            (Capability::Read, json!({"other": 1})),
        ],
        expect![[r#"
            update {} => allowed
            update {"foo":"anything"} => allowed
            update {"foo":{"nested":["x"]}} => allowed
            update {"bar":"zip"} => allowed
            update {"BAR":"zap"} => allowed
            update {"bar":"zop"} => denied: rule "p": value of parameter "bar" is not allowed
            update {"bar":"ZIP"} => denied: rule "p": value of parameter "bar" is not allowed
            update {"other":"x"} => denied: rule "p": parameter "other" is not allowed
            update {"foo":1,"other":"x"} => denied: rule "p": parameter "other" is not allowed
            update {"prefix":"baz/quux"} => allowed
            update {"prefix":"bazooka"} => denied: rule "p": value of parameter "prefix" is not allowed
            update {"suffix":"db-prod"} => allowed
            update {"middle":"amidst"} => allowed
            update {"typed":false} => allowed
            update {"typed":"false"} => allowed
            update {"typed":10} => allowed
            update {"typed":"10"} => allowed
            update {"typed":true} => denied: rule "p": value of parameter "typed" is not allowed
            update {"typed":null} => denied: rule "p": value of parameter "typed" is not allowed
            update {"nul":null} => allowed
            update {"nul":"null"} => denied: rule "p": value of parameter "nul" is not allowed
            update {"bar":["zip","zap"]} => allowed
            update {"bar":["zip","nope"]} => denied: rule "p": value of parameter "bar" is not allowed
            update {"bar":"zip,zap"} => allowed
            update {"bar":"zip, nope"} => denied: rule "p": value of parameter "bar" is not allowed
            update {"prefix":"baz/a,wibble"} => denied: rule "p": value of parameter "prefix" is not allowed
            update {"bar":[]} => denied: rule "p": value of parameter "bar" is not allowed
            update {"bar":{"zip":1}} => denied: rule "p": value of parameter "bar" is not allowed
            patch {"other":1} => denied: rule "p": parameter "other" is not allowed
            read {"other":1} => denied: rule "p": parameter "other" is not allowed
        "#]],
    );
}

#[test]
fn allowed_parameters_with_wildcard_key() {
    check(
        r#"capabilities = ["update"]
           allowed_parameters = {
             "bar" = ["zip"]
             "*"   = []
           }"#,
        &[
            (WRITE, json!({"anything": "x", "else": [1]})),
            (WRITE, json!({"bar": "zip", "other": 1})),
            (WRITE, json!({"bar": "zop"})),
        ],
        expect![[r#"
            update {"anything":"x","else":[1]} => allowed
            update {"bar":"zip","other":1} => allowed
            update {"bar":"zop"} => denied: rule "p": value of parameter "bar" is not allowed
        "#]],
    );
    check(
        r#"capabilities = ["update"]
           allowed_parameters = { "*" = [] }"#,
        &[(WRITE, json!({"anything": "x"}))],
        expect![[r#"
            update {"anything":"x"} => allowed
        "#]],
    );
    // A literal "*" value only allows the value "*", as in Vault.
    check(
        r#"capabilities = ["update"]
           allowed_parameters = { "k" = ["*"] }"#,
        &[(WRITE, json!({"k": "*"})), (WRITE, json!({"k": "x"}))],
        expect![[r#"
            update {"k":"*"} => allowed
            update {"k":"x"} => denied: rule "p": value of parameter "k" is not allowed
        "#]],
    );
}

#[test]
fn denied_parameters() {
    check(
        r#"capabilities = ["create", "update"]
           denied_parameters = {
             "token_policies"   = []
             "allowed_policies" = ["admin", "root-*"]
             "no_store"         = [false, "false"]
           }"#,
        &[
            (WRITE, json!({})),
            (WRITE, json!({"password": "x"})),
            (WRITE, json!({"token_policies": "default"})),
            (WRITE, json!({"Token_Policies": "default"})),
            (WRITE, json!({"allowed_policies": "dev"})),
            (WRITE, json!({"allowed_policies": "admin"})),
            (WRITE, json!({"allowed_policies": "root-ish"})),
            (WRITE, json!({"allowed_policies": "administrator"})),
            // Lists and comma-separated strings are denied when any element is.
            (WRITE, json!({"allowed_policies": ["dev", "admin"]})),
            (WRITE, json!({"allowed_policies": "dev, admin"})),
            (WRITE, json!({"allowed_policies": ["dev", "ops"]})),
            (WRITE, json!({"allowed_policies": []})),
            (WRITE, json!({"no_store": false})),
            (WRITE, json!({"no_store": "false"})),
            (WRITE, json!({"no_store": true})),
            (Capability::Create, json!({"token_policies": []})),
        ],
        expect![[r#"
            update {} => allowed
            update {"password":"x"} => allowed
            update {"token_policies":"default"} => denied: rule "p": parameter "token_policies" is denied
            update {"Token_Policies":"default"} => denied: rule "p": parameter "Token_Policies" is denied
            update {"allowed_policies":"dev"} => allowed
            update {"allowed_policies":"admin"} => denied: rule "p": parameter "allowed_policies" is denied
            update {"allowed_policies":"root-ish"} => denied: rule "p": parameter "allowed_policies" is denied
            update {"allowed_policies":"administrator"} => allowed
            update {"allowed_policies":["dev","admin"]} => denied: rule "p": parameter "allowed_policies" is denied
            update {"allowed_policies":"dev, admin"} => denied: rule "p": parameter "allowed_policies" is denied
            update {"allowed_policies":["dev","ops"]} => allowed
            update {"allowed_policies":[]} => allowed
            update {"no_store":false} => denied: rule "p": parameter "no_store" is denied
            update {"no_store":"false"} => denied: rule "p": parameter "no_store" is denied
            update {"no_store":true} => allowed
            create {"token_policies":[]} => denied: rule "p": parameter "token_policies" is denied
        "#]],
    );
}

#[test]
fn denied_wildcard_and_both_lists() {
    check(
        r#"capabilities = ["update"]
           denied_parameters = { "*" = [] }"#,
        &[(WRITE, json!({})), (WRITE, json!({"any": 1}))],
        expect![[r#"
            update {} => allowed
            update {"any":1} => denied: rule "p": all parameters are denied
        "#]],
    );
    // Denials take precedence over allowances.
    check(
        r#"capabilities = ["update"]
           allowed_parameters = { "role" = [], "ttl" = [] }
           denied_parameters  = { "role" = ["admin"] }"#,
        &[
            (WRITE, json!({"role": "dev", "ttl": "1h"})),
            (WRITE, json!({"role": "admin"})),
            (WRITE, json!({"other": 1})),
        ],
        expect![[r#"
            update {"role":"dev","ttl":"1h"} => allowed
            update {"role":"admin"} => denied: rule "p": parameter "role" is denied
            update {"other":1} => denied: rule "p": parameter "other" is not allowed
        "#]],
    );
}

#[test]
fn reasons_never_contain_values() {
    let acl = Acl::new(&[&policy(
        r#"path "p" {
             capabilities = ["update"]
             allowed_parameters = { "password" = ["hunter*"] }
           }"#,
    )]);
    let mut params = Map::new();
    params.insert("password".into(), json!("s3cr3t-value"));
    let decision = acl.check("p", WRITE, &params);
    assert!(!decision.allowed);
    let reason = decision.reason.unwrap_or_default();
    assert!(!reason.contains("s3cr3t"), "{reason}");
    assert!(!reason.contains("hunter"), "{reason}");
}

#[test]
fn wrapping_ttl_bounds() {
    let acl = Acl::new(&[&policy(
        r#"
path "min" {
  capabilities     = ["read"]
  min_wrapping_ttl = "1m"
}
path "max" {
  capabilities     = ["read"]
  max_wrapping_ttl = 300
}
path "both" {
  capabilities     = ["read"]
  min_wrapping_ttl = "1m"
  max_wrapping_ttl = "5m"
}
"#,
    )]);
    let params = Map::new();
    let mut out = String::new();
    for path in ["min", "max", "both"] {
        for ttl in [None, Some(30), Some(60), Some(300), Some(301)] {
            let d = acl.check_wrapped(
                path,
                Capability::Read,
                &params,
                ttl.map(Duration::from_secs),
            );
            let verdict = d.reason.unwrap_or_else(|| "allowed".to_owned());
            out.push_str(&format!("{path} {ttl:?} => {verdict}\n"));
        }
    }
    expect![[r#"
        min None => rule "min": response wrapping is required
        min Some(30) => rule "min": wrapping TTL is outside the allowed range
        min Some(60) => allowed
        min Some(300) => allowed
        min Some(301) => allowed
        max None => rule "max": response wrapping is required
        max Some(30) => allowed
        max Some(60) => allowed
        max Some(300) => allowed
        max Some(301) => rule "max": wrapping TTL is outside the allowed range
        both None => rule "both": response wrapping is required
        both Some(30) => rule "both": wrapping TTL is outside the allowed range
        both Some(60) => allowed
        both Some(300) => allowed
        both Some(301) => rule "both": wrapping TTL is outside the allowed range
    "#]]
    .assert_eq(&out);
    // `check` is an unwrapped request.
    assert!(!acl.check("max", Capability::Read, &params).allowed);
}
