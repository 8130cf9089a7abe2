//! Merging several policies into one ACL: same pattern merges, different patterns compete.

use std::time::Duration;

use expect_test::expect;
use secrethub_policy::{Acl, Capability, Policy};
use serde_json::{json, Map, Value};

use crate::{capability_table, policy};

fn acl(texts: &[&str]) -> Acl {
    let policies: Vec<Policy> = texts.iter().map(|text| policy(text)).collect();
    let refs: Vec<&Policy> = policies.iter().collect();
    Acl::new(&refs)
}

fn params(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => panic!("parameters must be an object"),
    }
}

#[test]
fn same_pattern_takes_the_union() {
    let acl = acl(&[
        r#"path "secret/*" { capabilities = ["read"] }"#,
        r#"path "secret/*" { capabilities = ["list", "update"] }"#,
        r#"path "/secret/*" { capabilities = ["create"] }"#,
    ]);
    expect![[r#"
        secret/x => ["create", "list", "read", "update"]
    "#]]
    .assert_eq(&capability_table(&acl, &["secret/x"]));
}

#[test]
fn same_pattern_twice_in_one_policy_merges_too() {
    let acl = acl(&[r#"
path "a" { capabilities = ["read"] }
path "a" { capabilities = ["list"] }
"#]);
    assert_eq!(acl.capabilities("a").names(), ["list", "read"]);
}

#[test]
fn deny_wins_in_any_order() {
    for texts in [
        [
            r#"path "a/*" { capabilities = ["deny"] }"#,
            r#"path "a/*" { capabilities = ["read", "sudo"] }"#,
        ],
        [
            r#"path "a/*" { capabilities = ["read", "sudo"] }"#,
            r#"path "a/*" { capabilities = ["deny"] }"#,
        ],
    ] {
        let acl = acl(&texts);
        assert_eq!(acl.capabilities("a/x").names(), ["deny"]);
        let decision = acl.check("a/x", Capability::Read, &Map::new());
        assert!(!decision.allowed);
        assert!(!decision.sudo);
    }
}

#[test]
fn different_patterns_do_not_add_up() {
    // Only the most specific rule counts, even when a broader one in another policy grants more.
    let acl = acl(&[
        r#"path "secret/*" { capabilities = ["read", "update"] }"#,
        r#"path "secret/foo" { capabilities = ["list"] }"#,
        r#"path "secret/+/bar" { capabilities = ["create"] }"#,
    ]);
    expect![[r#"
        secret/foo => ["list"]
        secret/other => ["read", "update"]
        secret/x/bar => ["create"]
    "#]]
    .assert_eq(&capability_table(
        &acl,
        &["secret/foo", "secret/other", "secret/x/bar"],
    ));
}

#[test]
fn parameter_constraints_merge_as_in_vault() {
    let acl = acl(&[
        r#"path "p" {
             capabilities        = ["update"]
             allowed_parameters  = { "a" = ["1"], "b" = [], "c" = ["x"] }
             denied_parameters   = { "d" = ["bad"] }
             required_parameters = ["a"]
           }"#,
        r#"path "p" {
             capabilities        = ["create"]
             allowed_parameters  = { "a" = ["2"], "b" = ["only"], "c" = [], "e" = ["y"] }
             denied_parameters   = { "d" = ["worse"], "f" = [] }
             required_parameters = ["b", "a"]
           }"#,
    ]);
    let cases = [
        json!({"a": "1", "b": "any"}),
        json!({"a": "2", "b": "any"}),
        json!({"a": "3", "b": "any"}),
        json!({"a": "1"}),
        json!({"a": "1", "b": 1, "c": "whatever", "e": "y"}),
        json!({"a": "1", "b": 1, "e": "z"}),
        json!({"a": "1", "b": 1, "d": "bad"}),
        json!({"a": "1", "b": 1, "d": "worse"}),
        json!({"a": "1", "b": 1, "f": "anything"}),
    ];
    let out: String = cases
        .into_iter()
        .map(|value| {
            let d = acl.check("p", Capability::Create, &params(value.clone()));
            format!(
                "{value} => {}\n",
                d.reason.unwrap_or_else(|| "allowed".to_owned())
            )
        })
        .collect();
    expect![[r#"
        {"a":"1","b":"any"} => allowed
        {"a":"2","b":"any"} => allowed
        {"a":"3","b":"any"} => rule "p": value of parameter "a" is not allowed
        {"a":"1"} => rule "p": missing required parameter "b"
        {"a":"1","b":1,"c":"whatever","e":"y"} => allowed
        {"a":"1","b":1,"e":"z"} => rule "p": value of parameter "e" is not allowed
        {"a":"1","b":1,"d":"bad"} => rule "p": parameter "d" is denied
        {"a":"1","b":1,"d":"worse"} => rule "p": parameter "d" is denied
        {"a":"1","b":1,"f":"anything"} => rule "p": parameter "f" is denied
    "#]]
    .assert_eq(&out);
}

#[test]
fn constraints_of_one_policy_restrict_the_merged_rule() {
    // Vault merges constraints into the shared rule, so a constrained grant narrows an
    // unconstrained one for the same pattern.
    let acl = acl(&[
        r#"path "p" { capabilities = ["update"] }"#,
        r#"path "p" {
             capabilities       = ["update"]
             allowed_parameters = { "only" = [] }
           }"#,
    ]);
    let decision = acl.check("p", Capability::Update, &params(json!({"other": 1})));
    assert!(!decision.allowed);
}

#[test]
fn a_merged_deny_drops_constraints_and_stays_denied() {
    let acl = acl(&[
        r#"path "p" {
             capabilities       = ["update"]
             allowed_parameters = { "a" = [] }
           }"#,
        r#"path "p" { policy = "deny" }"#,
        r#"path "p" { capabilities = ["update"] }"#,
    ]);
    let decision = acl.check("p", Capability::Update, &params(json!({"a": 1})));
    assert_eq!(
        decision.reason.as_deref(),
        Some(r#"rule "p" denies the path"#)
    );
}

#[test]
fn wrapping_bounds_keep_the_smaller_values() {
    let acl = acl(&[
        r#"path "p" {
             capabilities     = ["read"]
             min_wrapping_ttl = "2m"
             max_wrapping_ttl = "10m"
           }"#,
        r#"path "p" {
             capabilities     = ["read"]
             min_wrapping_ttl = "1m"
             max_wrapping_ttl = "5m"
           }"#,
    ]);
    let allowed = |secs| {
        acl.check_wrapped(
            "p",
            Capability::Read,
            &Map::new(),
            Some(Duration::from_secs(secs)),
        )
        .allowed
    };
    assert!(allowed(60));
    assert!(!allowed(59));
    assert!(allowed(300));
    assert!(!allowed(301));
}

#[test]
fn merged_bounds_that_cross_allow_nothing() {
    let acl = acl(&[
        r#"path "p" {
             capabilities     = ["read"]
             max_wrapping_ttl = "1m"
           }"#,
        r#"path "p" {
             capabilities     = ["read"]
             min_wrapping_ttl = "2m"
           }"#,
    ]);
    for secs in [30, 60, 90, 120, 180] {
        let d = acl.check_wrapped(
            "p",
            Capability::Read,
            &Map::new(),
            Some(Duration::from_secs(secs)),
        );
        assert!(!d.allowed, "{secs}");
    }
}

#[test]
fn grants_anything_under_a_mount() {
    let acl = Acl::new(&[&policy(
        r#"
path "secret/data/app/*" { capabilities = ["read"] }
path "kv/+/config" { capabilities = ["list"] }
path "sys/mounts" { capabilities = ["deny"] }
path "team*" { capabilities = ["read"] }
"#,
    )]);
    for (mount, expected) in [
        ("secret/", true),
        ("kv/", true),
        ("teamx/", true),
        ("team/", true),
        ("sys/", false),
        ("cubbyhole/", false),
        ("secretx/", false),
    ] {
        assert_eq!(acl.grants_anything_under(mount), expected, "{mount}");
    }
    assert!(Acl::root().grants_anything_under("sys/"));
    assert!(!Acl::new(&[]).grants_anything_under("secret/"));
}
