//! Vault's table output: columns padded and glued with four spaces, a `---` underline under the
//! header, empty cells shown as `n/a`, values formatted the way Go's `%v` prints decoded JSON,
//! and TTL-looking fields shown as durations (`768h`, `1h30m`).

use serde_json::Value;

/// Spaces between columns, as Vault's columnize configuration.
const GLUE: &str = "    ";

/// A table with a header row; each header cell gets a dash underline of its own width.
pub(crate) fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut all = Vec::with_capacity(rows.len() + 2);
    all.push(header.iter().map(|h| h.to_string()).collect::<Vec<_>>());
    all.push(
        header
            .iter()
            .map(|h| "-".repeat(h.chars().count()))
            .collect(),
    );
    all.extend(rows);
    columnize(&all)
}

/// A two-column `Key  Value` table.
pub(crate) fn kv_table(pairs: Vec<(String, String)>) -> String {
    table(
        &["Key", "Value"],
        pairs.into_iter().map(|(k, v)| vec![k, v]).collect(),
    )
}

/// Aligns cells into columns: every cell but a row's last is padded to its column's width.
/// Cells are trimmed and an empty cell reads `n/a`. No trailing newline.
pub(crate) fn columnize(rows: &[Vec<String>]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|c| match c.trim() {
                    "" => "n/a".to_string(),
                    t => t.to_string(),
                })
                .collect()
        })
        .collect();
    let columns = cells.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            cells
                .iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let lines: Vec<String> = cells
        .iter()
        .map(|row| {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    let pad = widths[i].saturating_sub(cell.chars().count());
                    line.push_str(cell);
                    line.push_str(&" ".repeat(pad));
                    line.push_str(GLUE);
                }
            }
            line
        })
        .collect();
    lines.join("\n")
}

/// Formats a JSON value as Go's `%v` prints it after decoding: strings bare, `null` as `<nil>`,
/// arrays as `[a b]`, objects as `map[k:v]` with sorted keys.
pub(crate) fn format_value(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(format_value).collect();
            format!("[{}]", inner.join(" "))
        }
        Value::Object(map) => {
            // serde_json's map iterates in key order, which is the order Go prints maps in.
            let inner: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{k}:{}", format_value(v)))
                .collect();
            format!("map[{}]", inner.join(" "))
        }
    }
}

/// Formats a list of strings as Go's `%q` does: `["default" "root"]`.
pub(crate) fn format_quoted_list(value: Option<&Value>) -> String {
    let items: Vec<String> = value
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|v| Value::String(format_value(v)).to_string())
                .collect()
        })
        .unwrap_or_default();
    format!("[{}]", items.join(" "))
}

/// Whether Vault would show the field as a duration (`ttl`, `*_ttl`, `period`, ...).
pub(crate) fn looks_like_duration(key: &str) -> bool {
    key == "period"
        || key.ends_with("_period")
        || key == "ttl"
        || key.ends_with("_ttl")
        || key == "duration"
        || key.ends_with("_duration")
        || key == "lease_max"
        || key == "ttl_max"
}

/// A field value for a table cell: integer durations become `1h30m`, the rest `%v`.
pub(crate) fn cell(key: &str, value: &Value) -> String {
    if looks_like_duration(key) {
        if let Some(secs) = value.as_u64() {
            return human_duration(secs);
        }
    }
    format_value(value)
}

/// Go's `Duration.String()` without the zero tails Vault trims: `768h`, `1h30m`, `1m30s`, `0s`.
pub(crate) fn human_duration(secs: u64) -> String {
    let mut s = secrethub_common::format_duration(std::time::Duration::from_secs(secs));
    if s.ends_with("m0s") {
        s.truncate(s.len() - 2);
    }
    if let Some(idx) = s.find("h0m") {
        s.replace_range(idx + 1..idx + 3, "");
    }
    s
}

/// A section title padded with `=` as Vault does: `======= Metadata =======`.
pub(crate) fn pad_equal_signs(header: &str, total_len: usize) -> String {
    let mut signs = total_len as isize - (header.chars().count() as isize + 2);
    if signs <= 0 {
        signs = 4;
    }
    if signs % 2 != 0 {
        signs += 1;
    }
    let side = "=".repeat((signs / 2) as usize);
    format!("{side} {header} {side}")
}

/// The title above a key/value table, as wide as the table's `key    Value` header would be.
pub(crate) fn header_for_map<'a>(header: &str, keys: impl Iterator<Item = &'a String>) -> String {
    let max_key = keys.map(|k| k.chars().count()).max().unwrap_or(0);
    // Four spaces of glue plus the width of "Value".
    pad_equal_signs(header, max_key + 4 + 5)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kv_table_aligns_and_fills_empty_cells() {
        let out = kv_table(vec![
            ("created_time".into(), "2024-01-01T00:00:00Z".into()),
            ("deletion_time".into(), "".into()),
            ("version".into(), "1".into()),
        ]);
        let expected = "\
Key              Value
---              -----
created_time     2024-01-01T00:00:00Z
deletion_time    n/a
version          1";
        assert_eq!(out, expected);
    }

    #[test]
    fn multi_column_table_pads_all_but_the_last_cell() {
        let out = table(
            &["Path", "Type", "Description"],
            vec![
                vec![
                    "cubbyhole/".into(),
                    "cubbyhole".into(),
                    "per-token storage".into(),
                ],
                vec!["secret/".into(), "kv".into(), "".into()],
            ],
        );
        let expected = "\
Path          Type         Description
----          ----         -----------
cubbyhole/    cubbyhole    per-token storage
secret/       kv           n/a";
        assert_eq!(out, expected);
    }

    #[test]
    fn values_print_like_go() {
        assert_eq!(format_value(&json!(null)), "<nil>");
        assert_eq!(format_value(&json!("s p")), "s p");
        assert_eq!(format_value(&json!(12)), "12");
        assert_eq!(format_value(&json!(["a", 1, true])), "[a 1 true]");
        assert_eq!(
            format_value(&json!({"b": 1, "a": {"c": null}})),
            "map[a:map[c:<nil>] b:1]"
        );
        assert_eq!(
            format_quoted_list(Some(&json!(["default", "root"]))),
            r#"["default" "root"]"#
        );
        assert_eq!(format_quoted_list(None), "[]");
    }

    #[test]
    fn durations_are_humanised_for_ttl_fields_only() {
        assert_eq!(cell("ttl", &json!(2764800)), "768h");
        assert_eq!(cell("max_lease_ttl", &json!(5400)), "1h30m");
        assert_eq!(cell("period", &json!(90)), "1m30s");
        assert_eq!(cell("token_duration", &json!(0)), "0s");
        assert_eq!(cell("num_uses", &json!(3600)), "3600");
        assert_eq!(cell("ttl", &json!("1h")), "1h");
        assert_eq!(human_duration(3605), "1h5s");
        assert_eq!(human_duration(120), "2m");
    }

    #[test]
    fn section_titles_match_vaults_widths() {
        let metadata_keys: Vec<String> = [
            "created_time",
            "custom_metadata",
            "deletion_time",
            "destroyed",
            "version",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            header_for_map("Metadata", metadata_keys.iter()),
            "======= Metadata ======="
        );
        let data_keys = ["foo".to_string()];
        assert_eq!(header_for_map("Data", data_keys.iter()), "=== Data ===");
        assert_eq!(
            pad_equal_signs("Secret Path", "secret/data/creds".len()),
            "== Secret Path =="
        );
        assert_eq!(pad_equal_signs("Secret Path", 3), "== Secret Path ==");
    }
}
