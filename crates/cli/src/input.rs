//! Vault's ways of passing data on the command line: `key=value` pairs, `key=@file` (the file's
//! contents), `key=-` (all of stdin), `@file.json` and a lone `-` (a JSON object from a file or
//! stdin). Repeating a key makes a list, as Vault does.

use std::io::{BufRead, Read};

use secrethub_common::{JsonMap, Sensitive};
use serde_json::Value;

/// Builds the request body from `args`; `stdin` is read at most once.
pub(crate) fn parse_kv_args(args: &[String], stdin: &mut dyn Read) -> Result<JsonMap, String> {
    let mut result = JsonMap::new();
    let mut stdin_used = false;
    let mut take_stdin = |what: &str| -> Result<String, String> {
        if stdin_used {
            return Err("stdin already consumed".to_string());
        }
        stdin_used = true;
        let mut buf = String::new();
        stdin
            .read_to_string(&mut buf)
            .map_err(|e| format!("error reading {what} from stdin: {e}"))?;
        Ok(buf)
    };
    for raw in args {
        if raw.is_empty() {
            continue;
        }
        let Some((key, value)) = raw.split_once('=') else {
            let object = if raw == "-" {
                take_stdin("JSON")?
            } else if let Some(path) = raw.strip_prefix('@') {
                std::fs::read_to_string(path)
                    .map_err(|e| format!("error reading file {path}: {e}"))?
            } else {
                return Err(format!(
                    "invalid key/value pair \"{raw}\": format must be key=value"
                ));
            };
            merge_json_object(&mut result, &object)?;
            continue;
        };
        let value = if let Some(path) = value.strip_prefix('@') {
            std::fs::read_to_string(path).map_err(|e| format!("error reading file {path}: {e}"))?
        } else if let Some(escaped) = value.strip_prefix("\\@") {
            // `key=\@literal` sends a value that really starts with `@`.
            format!("@{escaped}")
        } else if value == "-" {
            take_stdin(&format!("the value of {key}"))?
        } else {
            value.to_string()
        };
        insert_or_append(&mut result, key, Value::String(value));
    }
    Ok(result)
}

/// Parses repeated `-metadata k=v` style options into a map of strings.
pub(crate) fn parse_string_pairs(pairs: &[String], flag: &str) -> Result<JsonMap, String> {
    let mut map = JsonMap::new();
    for pair in pairs {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("invalid -{flag} \"{pair}\": format must be key=value"))?;
        map.insert(k.to_string(), Value::String(v.to_string()));
    }
    Ok(map)
}

fn merge_json_object(result: &mut JsonMap, text: &str) -> Result<(), String> {
    let parsed: Value =
        serde_json::from_str(text).map_err(|e| format!("error parsing JSON: {e}"))?;
    let Value::Object(map) = parsed else {
        return Err("error parsing JSON: expected an object".to_string());
    };
    result.extend(map);
    Ok(())
}

fn insert_or_append(result: &mut JsonMap, key: &str, value: Value) {
    match result.get_mut(key) {
        Some(Value::Array(items)) => items.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
        None => {
            result.insert(key.to_string(), value);
        }
    }
}

/// Reads one line of a secret (unseal key, token) from `input`, trimmed. The prompt goes to
/// stderr so stdout stays clean. Terminal echo stays on (hiding it needs a termios crate we do
/// not depend on yet); piping the value in keeps it off the screen.
pub(crate) fn prompt_secret(
    prompt: &str,
    input: &mut dyn BufRead,
) -> Result<Sensitive<String>, String> {
    crate::output::err(prompt);
    let mut line = String::new();
    input
        .read_line(&mut line)
        .map_err(|e| format!("error reading from stdin: {e}"))?;
    // Wrapping the raw line zeroizes its buffer when it goes out of scope.
    let line = Sensitive::new(line);
    let value = Sensitive::new(line.expose().trim().to_string());
    if value.expose().is_empty() {
        return Err("no value was entered".to_string());
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::io::Cursor;

    fn parse(args: &[&str], stdin: &str) -> Result<Value, String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse_kv_args(&args, &mut Cursor::new(stdin.as_bytes().to_vec())).map(Value::Object)
    }

    #[test]
    fn pairs_become_string_fields_and_repeats_become_lists() {
        assert_eq!(
            parse(&["a=1", "b=x=y", "c=", "a=2", "a=3"], "").unwrap(),
            json!({"a": ["1", "2", "3"], "b": "x=y", "c": ""})
        );
    }

    #[test]
    fn values_from_files_and_stdin() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cert.pem");
        std::fs::write(&file, "line1\nline2\n").unwrap();
        let arg = format!("cert=@{}", file.display());
        assert_eq!(
            parse(&[&arg, "pw=-", "lit=\\@home"], "from-stdin").unwrap(),
            json!({"cert": "line1\nline2\n", "pw": "from-stdin", "lit": "@home"})
        );
        assert!(parse(&["a=-", "b=-"], "x")
            .unwrap_err()
            .contains("stdin already consumed"));
        assert!(parse(&["a=@/nonexistent/x"], "")
            .unwrap_err()
            .contains("/nonexistent/x"));
    }

    #[test]
    fn json_objects_from_stdin_and_file_merge() {
        assert_eq!(
            parse(&["-"], r#"{"value": "s", "n": 1}"#).unwrap(),
            json!({"value": "s", "n": 1})
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("data.json");
        std::fs::write(&file, r#"{"x": true}"#).unwrap();
        let arg = format!("@{}", file.display());
        assert_eq!(
            parse(&[&arg, "y=2"], "").unwrap(),
            json!({"x": true, "y": "2"})
        );
        assert!(parse(&["-"], "[1]")
            .unwrap_err()
            .contains("expected an object"));
        assert!(parse(&["novalue"], "").unwrap_err().contains("key=value"));
    }

    #[test]
    fn string_pairs_and_prompt() {
        let pairs = vec!["team=ops".to_string(), "env=a=b".to_string()];
        assert_eq!(
            Value::Object(parse_string_pairs(&pairs, "metadata").unwrap()),
            json!({"team": "ops", "env": "a=b"})
        );
        assert!(parse_string_pairs(&["x".to_string()], "metadata").is_err());
        let key = prompt_secret("Unseal Key:", &mut Cursor::new(b"  abc  \n".to_vec())).unwrap();
        assert_eq!(key.expose(), "abc");
        assert!(prompt_secret("Key:", &mut Cursor::new(Vec::new())).is_err());
    }
}
