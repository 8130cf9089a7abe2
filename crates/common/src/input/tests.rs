//! The decoding table, case by case: what Vault's Go decoding accepts, we accept the same way.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use super::*;
use crate::serde_helpers;

fn body(v: Value) -> JsonMap {
    match v {
        Value::Object(m) => m,
        _ => unreachable!("test bodies are objects"),
    }
}

#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
struct Config {
    #[serde(deserialize_with = "serde_helpers::duration")]
    default_lease_ttl: Duration,
    listing_visibility: String,
    audit_non_hmac_request_keys: Vec<String>,
}

#[derive(Debug, Deserialize, PartialEq)]
struct Enable {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    config: Config,
    #[serde(default)]
    options: BTreeMap<String, String>,
    #[serde(default)]
    local: bool,
    seal_wrap: Option<bool>,
}

#[test]
fn null_means_not_given_at_every_level() {
    // What hvac 2.4 sends for `enable_secrets_engine("kv", path="kv", options={"version": "2"})`.
    let hvac = body(json!({
        "type": "kv", "description": null, "config": null, "options": {"version": "2"},
        "plugin_name": null, "local": null, "seal_wrap": null
    }));
    let got: Enable = decode(&hvac).unwrap();
    assert_eq!(got.kind, "kv");
    assert_eq!(got.config, Config::default());
    assert_eq!(got.options["version"], "2");
    assert!(!got.local);
    assert_eq!(got.seal_wrap, None);

    let nested = body(
        json!({"type": "kv", "config": {"default_lease_ttl": null, "listing_visibility": null}}),
    );
    assert_eq!(decode::<Enable>(&nested).unwrap().config, Config::default());

    // A required field given as null is missing, as when it is left out.
    let err = decode::<Enable>(&body(json!({"type": null}))).unwrap_err();
    assert_eq!(err.to_string(), "missing field `type`");
    assert_eq!(
        field::<String>(&body(json!({"a": null})), "a").unwrap(),
        None
    );
    assert_eq!(
        duration_field(&body(json!({"a": null})), "a").unwrap(),
        None
    );
}

#[test]
fn free_form_maps_keep_their_nulls() {
    #[derive(Deserialize)]
    struct Write {
        data: JsonMap,
    }
    let w: Write = decode(&body(json!({"data": {"a": null, "b": [1, null]}}))).unwrap();
    assert_eq!(Value::Object(w.data), json!({"a": null, "b": [1, null]}));
}

#[test]
fn durations_as_numbers_strings_or_vault_syntax() {
    let d = |v: Value| duration_field(&body(json!({ "ttl": v })), "ttl");
    assert_eq!(d(json!("1h")).unwrap(), Some(Duration::from_secs(3600)));
    assert_eq!(d(json!(3600)).unwrap(), Some(Duration::from_secs(3600)));
    assert_eq!(d(json!("3600")).unwrap(), Some(Duration::from_secs(3600)));
    assert_eq!(d(json!(1.5)).unwrap(), Some(Duration::from_millis(1500)));
    assert_eq!(d(json!("")).unwrap(), Some(Duration::ZERO));
    assert_eq!(
        d(json!(1e20)).unwrap_err().to_string(),
        "invalid ttl: duration out of range"
    );
    assert_eq!(
        d(json!("100000000h")).unwrap_err().to_string(),
        "invalid ttl: duration out of range"
    );
    assert_eq!(
        d(json!(-1)).unwrap_err().to_string(),
        "invalid ttl: duration cannot be negative"
    );
    assert_eq!(
        d(json!("-1s")).unwrap_err().to_string(),
        "invalid ttl: duration cannot be negative"
    );
    assert_eq!(
        d(json!("soon")).unwrap_err().to_string(),
        "invalid ttl: invalid duration \"soon\""
    );
    assert!(d(json!(true)).is_err());
}

#[test]
fn scalars_cross_over_as_in_go() {
    let b = body(json!({
        "t": "true", "one": "1", "n": 1, "empty": "", "no": "no",
        "num": "5", "float": 5.0, "half": 5.5, "neg": -1, "word": "x",
        "int_str": 3600, "yes": true, "big": 18446744073709551615u64
    }));
    assert_eq!(field::<bool>(&b, "t").unwrap(), Some(true));
    assert_eq!(field::<bool>(&b, "one").unwrap(), Some(true));
    assert_eq!(field::<bool>(&b, "n").unwrap(), Some(true));
    assert_eq!(field::<bool>(&b, "empty").unwrap(), Some(false));
    assert_eq!(
        field::<bool>(&b, "no").unwrap_err().to_string(),
        "invalid no: expected a boolean"
    );
    assert_eq!(field::<u64>(&b, "num").unwrap(), Some(5));
    assert_eq!(field::<u64>(&b, "float").unwrap(), Some(5));
    assert_eq!(field::<i64>(&b, "empty").unwrap(), Some(0));
    assert_eq!(
        field::<u64>(&b, "half").unwrap_err().to_string(),
        "invalid half: expected an integer"
    );
    assert_eq!(
        field::<u64>(&b, "neg").unwrap_err().to_string(),
        "invalid neg: expected a non-negative integer"
    );
    assert_eq!(field::<u64>(&b, "big").unwrap(), Some(u64::MAX));
    assert_eq!(
        field::<u32>(&b, "big").unwrap_err().message(),
        "integer out of range"
    );
    assert!(field::<i64>(&b, "word").is_err());
    assert_eq!(
        field::<String>(&b, "int_str").unwrap().as_deref(),
        Some("3600")
    );
    assert_eq!(field::<String>(&b, "yes").unwrap().as_deref(), Some("1"));
    assert_eq!(field::<f64>(&b, "num").unwrap(), Some(5.0));
}

#[test]
fn lists_from_arrays_commas_or_one_value() {
    let b = body(json!({"csv": "a, b,,c", "arr": ["x", "y"], "one": "solo", "num": 7, "obj": {}}));
    let list = |name: &str| field::<Vec<String>>(&b, name);
    assert_eq!(list("csv").unwrap().unwrap(), ["a", "b", "c"]);
    assert_eq!(list("arr").unwrap().unwrap(), ["x", "y"]);
    assert_eq!(list("one").unwrap().unwrap(), ["solo"]);
    assert_eq!(list("num").unwrap().unwrap(), ["7"]);
    assert!(list("obj").is_err());
    assert_eq!(
        field::<Vec<u64>>(&body(json!({"v": "1,2"})), "v")
            .unwrap()
            .unwrap(),
        [1, 2]
    );
    let err = field::<Vec<u64>>(&body(json!({"v": [1, "x"]})), "v").unwrap_err();
    assert_eq!(err.to_string(), "invalid v[1]: expected an integer");
    assert_eq!(string_list_of(&json!([" a ", ""])).unwrap(), ["a"]);
}

#[test]
fn maps_from_objects_pairs_or_json_text() {
    let m = |v: Value| field::<BTreeMap<String, String>>(&body(json!({ "m": v })), "m");
    let want: BTreeMap<String, String> = [
        ("a".to_string(), "1".to_string()),
        ("b".to_string(), "x=y".to_string()),
    ]
    .into();
    assert_eq!(m(json!({"a": 1, "b": "x=y"})).unwrap().unwrap(), want);
    assert_eq!(m(json!("a=1, b=x=y")).unwrap().unwrap(), want);
    assert_eq!(m(json!(["a=1", "b=x=y"])).unwrap().unwrap(), want);
    assert_eq!(
        m(json!("{\"a\": \"1\", \"b\": \"x=y\"}")).unwrap().unwrap(),
        want
    );
    assert_eq!(
        m(json!("novalue")).unwrap_err().to_string(),
        "invalid m: expected k=v pairs"
    );
}

#[test]
fn errors_name_the_field_never_the_value() {
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Secretive {
        #[serde(default)]
        config: Inner,
    }
    #[derive(Debug, Default, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        #[serde(default)]
        verify: bool,
        #[serde(default)]
        kind: Kind,
    }
    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        #[default]
        Service,
        Batch,
    }
    let secret = "hunter2-do-not-echo";
    let err = decode::<Secretive>(&body(json!({"config": {"verify": secret}}))).unwrap_err();
    assert_eq!(err.to_string(), "invalid config.verify: expected a boolean");
    let err = decode::<Secretive>(&body(json!({"config": secret}))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid config: expected a JSON object, got a string"
    );
    let err = decode::<Secretive>(&body(json!({"config": {"kind": ["x"]}}))).unwrap_err();
    assert!(!err.to_string().contains(secret), "{err}");
    assert_eq!(err.field(), "config.kind");
    let ok = decode::<Secretive>(&body(json!({"config": {"kind": "batch"}}))).unwrap();
    assert!(matches!(ok.config.kind, Kind::Batch));
}
