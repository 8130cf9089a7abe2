//! JSON transformations of secret data: RFC 7396 merge patch (PATCH of data and metadata)
//! and the value stripping of the `subkeys` endpoint.

use secrethub_common::JsonMap;
use serde_json::Value;

/// Applies `patch` to `target` as a JSON merge patch (RFC 7396): objects merge recursively,
/// `null` removes a key, anything else replaces.
pub(crate) fn merge_patch(target: &mut JsonMap, patch: &JsonMap) {
    for (k, v) in patch {
        match v {
            Value::Null => {
                target.remove(k);
            }
            Value::Object(p) => {
                let slot = target
                    .entry(k.clone())
                    .or_insert_with(|| Value::Object(JsonMap::new()));
                if !slot.is_object() {
                    *slot = Value::Object(JsonMap::new());
                }
                if let Value::Object(t) = slot {
                    merge_patch(t, p);
                }
            }
            other => {
                target.insert(k.clone(), other.clone());
            }
        }
    }
}

/// Replaces every leaf value with `null`, keeping the key structure. A non-empty object is
/// descended into while its depth (top level = 1) is at most `max_depth` (0 = unlimited);
/// deeper objects and empty objects count as leaves.
pub(crate) fn strip_values(data: &mut JsonMap, max_depth: u64) {
    strip_at(data, 1, max_depth);
}

fn strip_at(data: &mut JsonMap, depth: u64, max_depth: u64) {
    for v in data.values_mut() {
        match v {
            Value::Object(inner) if !inner.is_empty() && (max_depth == 0 || depth < max_depth) => {
                strip_at(inner, depth + 1, max_depth);
            }
            _ => *v = Value::Null,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> JsonMap {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("test values are objects"),
        }
    }

    #[test]
    fn merge_patch_rfc7396_examples() {
        let mut t = obj(json!({"a": "b", "c": {"d": "e", "f": "g"}, "x": 1}));
        merge_patch(
            &mut t,
            &obj(json!({"a": "z", "c": {"f": null}, "x": {"y": 2}, "n": [1]})),
        );
        assert_eq!(
            Value::Object(t),
            json!({"a": "z", "c": {"d": "e"}, "x": {"y": 2}, "n": [1]})
        );
    }

    #[test]
    fn strips_to_depth() {
        let data = json!({"a": 1, "b": {"c": {"d": 2}, "e": {}}, "f": [1]});
        let mut all = obj(data.clone());
        strip_values(&mut all, 0);
        assert_eq!(
            Value::Object(all),
            json!({"a": null, "b": {"c": {"d": null}, "e": null}, "f": null})
        );
        let mut one = obj(data.clone());
        strip_values(&mut one, 1);
        assert_eq!(Value::Object(one), json!({"a": null, "b": null, "f": null}));
        let mut two = obj(data);
        strip_values(&mut two, 2);
        assert_eq!(
            Value::Object(two),
            json!({"a": null, "b": {"c": null, "e": null}, "f": null})
        );
    }
}
