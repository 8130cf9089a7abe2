//! Everything the CLI prints: the `-format` choice, Vault's secret table (lease, auth and data
//! rows), JSON output, `-field` extraction, and the only functions that write to stdout.

pub(crate) mod table;

use std::io::{IsTerminal, Write};

use serde_json::{Map, Value};

pub(crate) use table::{cell, format_value, header_for_map, kv_table, pad_equal_signs};

/// `-format`: Vault's `table` (default) or `json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub(crate) enum Format {
    /// Aligned key/value tables for people.
    #[default]
    Table,
    /// The API's JSON, indented, for scripts.
    Json,
}

/// Writes one line to stdout. A closed pipe (`| head`) is not an error worth reporting.
pub(crate) fn out(text: &str) {
    write_stdout(text, true);
}

/// Writes a `-field` value: raw (no newline) when stdout is not a terminal, so
/// `$(secrethub kv get -field=password ...)` and redirects get exactly the value, as Vault does.
pub(crate) fn out_raw(text: &str) {
    write_stdout(text, std::io::stdout().is_terminal());
}

fn write_stdout(text: &str, newline: bool) {
    #[cfg(test)]
    if capture::write(text, newline) {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    if newline {
        let _ = stdout.write_all(b"\n");
    }
    let _ = stdout.flush();
}

/// Test-only capture of stdout and stderr on the current thread, so command tests can assert
/// on output.
#[cfg(test)]
pub(crate) mod capture {
    use std::cell::RefCell;

    thread_local! {
        static STDOUT: RefCell<Option<String>> = const { RefCell::new(None) };
        static STDERR: RefCell<Option<String>> = const { RefCell::new(None) };
    }

    /// Starts capturing this thread's output, both streams.
    pub(crate) fn start() {
        STDOUT.with(|b| *b.borrow_mut() = Some(String::new()));
        STDERR.with(|b| *b.borrow_mut() = Some(String::new()));
    }

    /// Stops capturing stdout and returns what was written to it.
    pub(crate) fn take() -> String {
        STDOUT.with(|b| b.borrow_mut().take()).unwrap_or_default()
    }

    /// Stops capturing stderr and returns what was written to it.
    pub(crate) fn take_err() -> String {
        STDERR.with(|b| b.borrow_mut().take()).unwrap_or_default()
    }

    pub(super) fn write(text: &str, newline: bool) -> bool {
        append(&STDOUT, text, newline)
    }

    pub(super) fn write_err(text: &str) -> bool {
        append(&STDERR, text, true)
    }

    fn append(
        key: &'static std::thread::LocalKey<RefCell<Option<String>>>,
        text: &str,
        newline: bool,
    ) -> bool {
        key.with(|b| match b.borrow_mut().as_mut() {
            Some(buffer) => {
                buffer.push_str(text);
                if newline {
                    buffer.push('\n');
                }
                true
            }
            None => false,
        })
    }
}

/// Writes one line to stderr.
pub(crate) fn err(text: &str) {
    #[cfg(test)]
    if capture::write_err(text) {
        return;
    }
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{text}");
}

/// Pretty JSON with two-space indent, as Vault's `-format=json`.
pub(crate) fn json(value: &Value) -> String {
    // Serialising a `Value` cannot fail: its keys are strings and it holds no foreign types.
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// Prints an API answer in the chosen format: the whole JSON, or Vault's secret table.
pub(crate) fn print_secret(format: Format, secret: &Value) {
    match format {
        Format::Json => out(&json(secret)),
        Format::Table => {
            print_warnings(secret);
            if let Some(text) = secret_table(secret) {
                out(&text);
            }
        }
    }
}

/// Prints the server's warnings to stderr, as Vault does before a table.
pub(crate) fn print_warnings(secret: &Value) {
    let warnings = secret.get("warnings").and_then(Value::as_array);
    let Some(warnings) = warnings.filter(|w| !w.is_empty()) else {
        return;
    };
    err("WARNING! The following warnings were returned from the server:\n");
    for warning in warnings {
        err(&format!("  * {}\n", format_value(warning)));
    }
}

/// The `Key  Value` table of a map, or `None` when it is empty (Vault prints nothing then).
pub(crate) fn map_table(map: &Map<String, Value>) -> Option<String> {
    if map.is_empty() {
        return None;
    }
    Some(kv_table(
        map.iter().map(|(k, v)| (k.clone(), cell(k, v))).collect(),
    ))
}

/// Vault's secret table: lease rows, token rows for an `auth` answer, then the sorted data.
pub(crate) fn secret_table(secret: &Value) -> Option<String> {
    let mut rows: Vec<(String, String)> = Vec::new();
    let lease_duration = secret
        .get("lease_duration")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let lease_id = secret.get("lease_id").and_then(Value::as_str).unwrap_or("");
    if lease_duration > 0 {
        if lease_id.is_empty() {
            // KV has a TTL but no lease; Vault calls it a refresh interval.
            rows.push((
                "refresh_interval".into(),
                table::human_duration(lease_duration),
            ));
        } else {
            rows.push(("lease_id".into(), lease_id.to_string()));
            rows.push((
                "lease_duration".into(),
                table::human_duration(lease_duration),
            ));
            let renewable = secret
                .get("renewable")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            rows.push(("lease_renewable".into(), renewable.to_string()));
        }
    }
    if let Some(auth) = secret.get("auth").filter(|a| a.is_object()) {
        rows.extend(auth_rows(auth));
    }
    if let Some(Value::Object(data)) = secret.get("data") {
        rows.extend(data.iter().map(|(k, v)| (k.clone(), cell(k, v))));
    }
    if rows.is_empty() {
        return None;
    }
    Some(kv_table(rows))
}

/// The token rows Vault shows for a login or token-create answer.
pub(crate) fn auth_rows(auth: &Value) -> Vec<(String, String)> {
    let text = |key: &str| auth.get(key).map(format_value).unwrap_or_default();
    let duration = auth
        .get("lease_duration")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let mut rows = vec![
        ("token".to_string(), text("client_token")),
        ("token_accessor".to_string(), text("accessor")),
        (
            "token_duration".to_string(),
            // A zero duration is a token that never expires (root).
            if duration == 0 {
                "∞".to_string()
            } else {
                table::human_duration(duration)
            },
        ),
        (
            "token_renewable".to_string(),
            auth.get("renewable")
                .and_then(Value::as_bool)
                .unwrap_or(false)
                .to_string(),
        ),
        (
            "token_policies".to_string(),
            table::format_quoted_list(auth.get("token_policies")),
        ),
        (
            "identity_policies".to_string(),
            table::format_quoted_list(auth.get("identity_policies")),
        ),
        (
            "policies".to_string(),
            table::format_quoted_list(auth.get("policies")),
        ),
    ];
    if let Some(Value::Object(meta)) = auth.get("metadata") {
        rows.extend(
            meta.iter()
                .map(|(k, v)| (format!("token_meta_{k}"), format_value(v))),
        );
    }
    rows
}

/// Finds `-field=NAME` in an answer the way Vault does: token fields of `auth` first, then
/// lease fields, then `data`.
pub(crate) fn secret_field(secret: &Value, field: &str) -> Option<Value> {
    if let Some(auth) = secret.get("auth").filter(|a| a.is_object()) {
        let key = match field {
            "token" => Some("client_token"),
            "token_accessor" => Some("accessor"),
            "token_duration" => Some("lease_duration"),
            "token_renewable" => Some("renewable"),
            "token_policies" | "identity_policies" | "policies" => Some(field),
            _ => None,
        };
        if let Some(key) = key {
            return auth.get(key).cloned();
        }
        if let Some(meta_key) = field.strip_prefix("token_meta_") {
            return auth.get("metadata").and_then(|m| m.get(meta_key)).cloned();
        }
    }
    match field {
        "refresh_interval" | "lease_duration" => return secret.get("lease_duration").cloned(),
        "lease_id" => return secret.get("lease_id").cloned(),
        "lease_renewable" => return secret.get("renewable").cloned(),
        _ => {}
    }
    secret.get("data").and_then(|d| d.get(field)).cloned()
}

/// The text printed for a `-field` value: `%v` in table format, JSON otherwise.
pub(crate) fn field_text(format: Format, value: &Value) -> String {
    match format {
        Format::Table => format_value(value),
        Format::Json => json(value),
    }
}

/// Prints `-field` from a map, or fails with Vault's message and exit code 1.
pub(crate) fn print_field(
    format: Format,
    value: Option<Value>,
    field: &str,
) -> Result<u8, crate::Failure> {
    match value {
        Some(Value::Null) | None => Err(crate::Failure::local(format!(
            "Field \"{field}\" not present in secret"
        ))),
        Some(v) => {
            out_raw(&field_text(format, &v));
            Ok(0)
        }
    }
}

/// Prints the `keys` of a LIST answer: a `Keys` column, or a JSON array.
pub(crate) fn print_list(format: Format, secret: &Value) {
    let keys: Vec<Value> = secret
        .get("data")
        .and_then(|d| d.get("keys"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    match format {
        Format::Json => out(&json(&Value::Array(keys))),
        Format::Table => {
            print_warnings(secret);
            let mut names: Vec<String> = keys.iter().map(format_value).collect();
            names.sort();
            out(&table::table(
                &["Keys"],
                names.into_iter().map(|k| vec![k]).collect(),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kv_v1_secret_shows_refresh_interval_and_sorted_data() {
        let secret = json!({
            "lease_id": "", "lease_duration": 2764800, "renewable": false,
            "data": {"password": "hunter2", "api_key": ""}
        });
        let expected = "\
Key                 Value
---                 -----
refresh_interval    768h
api_key             n/a
password            hunter2";
        assert_eq!(secret_table(&secret).unwrap(), expected);
    }

    #[test]
    fn leased_secret_shows_lease_rows() {
        let secret = json!({"lease_id": "database/creds/ro/abc", "lease_duration": 3600, "renewable": true, "data": {"username": "v-ro"}});
        let expected = "\
Key                Value
---                -----
lease_id           database/creds/ro/abc
lease_duration     1h
lease_renewable    true
username           v-ro";
        assert_eq!(secret_table(&secret).unwrap(), expected);
    }

    #[test]
    fn auth_answer_shows_token_rows() {
        let secret = json!({"auth": {
            "client_token": "hvs.abc", "accessor": "acc1", "lease_duration": 0, "renewable": false,
            "token_policies": ["root"], "policies": ["root"], "metadata": {"team": "ops"}
        }});
        let expected = "\
Key                  Value
---                  -----
token                hvs.abc
token_accessor       acc1
token_duration       ∞
token_renewable      false
token_policies       [\"root\"]
identity_policies    []
policies             [\"root\"]
token_meta_team      ops";
        assert_eq!(secret_table(&secret).unwrap(), expected);
        assert_eq!(secret_field(&secret, "token"), Some(json!("hvs.abc")));
        assert_eq!(secret_field(&secret, "token_meta_team"), Some(json!("ops")));
    }

    #[test]
    fn empty_answer_prints_nothing_and_fields_come_from_data() {
        assert_eq!(
            secret_table(&json!({"data": {}, "lease_duration": 0})),
            None
        );
        let secret = json!({"lease_duration": 60, "data": {"id": "t1", "ttl": 60}});
        assert_eq!(secret_field(&secret, "id"), Some(json!("t1")));
        assert_eq!(secret_field(&secret, "refresh_interval"), Some(json!(60)));
        assert_eq!(secret_field(&secret, "missing"), None);
        assert_eq!(field_text(Format::Table, &json!(["a", "b"])), "[a b]");
        assert_eq!(
            field_text(Format::Json, &json!({"a": 1})),
            "{\n  \"a\": 1\n}"
        );
    }
}
