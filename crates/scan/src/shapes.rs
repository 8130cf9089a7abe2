//! Files understood by their shape before the rules run. A Kubernetes `Secret` keeps its
//! values base64-encoded under `data:`, where no rule could see them: each is decoded and
//! scanned as `key: value`, and what is found is reported on the encoded line.

use base64::Engine as _;

use crate::rules::RuleSet;
use crate::scan::Finding;

/// Every finding of one file: its text as it is, plus what its shape hides. In a YAML file
/// each finding also gets its key path (`spring.datasource.password`) as context.
pub(crate) fn scan_file(rules: &RuleSet, path: &str, text: &str) -> Vec<Finding> {
    let mut found = rules.scan_text(path, text);
    if path.ends_with(".yml") || path.ends_with(".yaml") {
        let lines: Vec<&str> = text.lines().collect();
        for f in &mut found {
            if let Some(key_path) = yaml_key_path(&lines, f.line) {
                f.context.insert("key_path".into(), key_path);
            }
        }
    }
    if is_kubernetes_secret(text) {
        let (decoded, lines) = secret_data(rules, path, text);
        // On a decoded line the decoded value is what counts, not its base64 text.
        found.retain(|f| !lines.contains(&f.line));
        found.extend(decoded);
        found.sort_by_key(|f| (f.line, f.column));
    }
    found
}

/// The dotted key path of the YAML line `line` (1-based): its own key and the keys of the
/// lines it is nested under, found by indentation.
fn yaml_key_path(lines: &[&str], line: usize) -> Option<String> {
    let own = lines.get(line.checked_sub(1)?)?;
    let key_of = |l: &str| {
        let t = l.trim_start().trim_start_matches("- ");
        let (k, _) = t.split_once(':')?;
        let k = k.trim().trim_matches(|c| c == '"' || c == '\'');
        (!k.is_empty() && !k.contains(' ')).then(|| k.to_string())
    };
    let mut keys = vec![key_of(own)?];
    let mut depth = indent(own);
    for l in lines[..line - 1].iter().rev() {
        if l.trim().is_empty() || l.trim_start().starts_with('#') {
            continue;
        }
        if indent(l) < depth {
            if let Some(k) = key_of(l) {
                keys.push(k);
            }
            depth = indent(l);
            if depth == 0 {
                break;
            }
        }
    }
    keys.reverse();
    Some(keys.join("."))
}

/// The value a finding at `line` with `fingerprint` stands for, read from the file's text
/// again (a `--apply` reads values only when it stores them), with its byte span in `text`
/// when it is there literally (`None` for a value decoded from base64).
pub fn value_at(
    rules: &RuleSet,
    path: &str,
    text: &str,
    line: usize,
    fingerprint: &str,
) -> Option<(String, Option<(usize, usize)>)> {
    for f in rules.scan_text(path, text) {
        if f.line == line && f.fingerprint == fingerprint {
            let (start, end) = f.span;
            return Some((text[start..end].to_string(), Some(f.span)));
        }
    }
    if !is_kubernetes_secret(text) {
        return None;
    }
    let raw = text.lines().nth(line.checked_sub(1)?)?.trim();
    let (key, value) = raw.split_once(':')?;
    let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
    let decoded = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(value)
            .ok()?,
    )
    .ok()?;
    let shown = format!("{}: {decoded}", key.trim());
    rules
        .scan_text(path, &shown)
        .into_iter()
        .find(|f| f.fingerprint == fingerprint)
        .map(|f| (shown[f.span.0..f.span.1].to_string(), None))
}

fn is_kubernetes_secret(text: &str) -> bool {
    text.lines().any(|l| l.trim_end() == "kind: Secret")
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The `key: value` entries under each `data:` block, decoded and scanned; answers the
/// findings and the (1-based) lines that decoded.
fn secret_data(rules: &RuleSet, path: &str, text: &str) -> (Vec<Finding>, Vec<usize>) {
    let mut out = Vec::new();
    let mut lines = Vec::new();
    let mut block: Option<usize> = None;
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Some(data_indent) = block {
            if indent(line) <= data_indent {
                block = None;
            }
        }
        if trimmed == "data:" {
            block = Some(indent(line));
            continue;
        }
        if block.is_none() {
            continue;
        }
        let Some((key, value)) = trimmed.split_once(':') else {
            continue;
        };
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
        let Some(decoded) = base64::engine::general_purpose::STANDARD
            .decode(value)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
        else {
            continue;
        };
        lines.push(n + 1);
        let column = line.find(value).map_or(1, |i| i + 1);
        let shown = format!("{}: {decoded}", key.trim());
        for mut f in rules.scan_text(path, &shown) {
            f.line = n + 1;
            f.column = column;
            f.decoded_from = Some("base64 (Kubernetes Secret data)");
            out.push(f);
        }
    }
    (out, lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_findings_carry_their_key_path() {
        let text = "spring:\n  datasource:\n    url: jdbc:postgresql://db/x\n    password: r7TqV2pWx9LmZk\n";
        let rules = RuleSet::builtin().unwrap();
        let found = scan_file(&rules, "src/main/resources/application.yml", text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].context["key_path"], "spring.datasource.password");
    }

    #[test]
    fn a_kubernetes_secrets_data_is_decoded_and_reported_where_it_is_encoded() {
        let url = base64::engine::general_purpose::STANDARD
            .encode("postgresql://orders:Kp9wLq2vX7mNz@db.prod:5432/orders");
        let text = format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: orders-db\ndata:\n  DATABASE_URL: {url}\n  NOT_B64: hello world\ntype: Opaque\n"
        );
        let key = base64::engine::general_purpose::STANDARD.encode("Rk2vLq9wXz4mNp3sYb6cHf1j");
        let text = text.replace("  NOT_B64", &format!("  API_KEY: {key}\n  NOT_B64"));
        let rules = RuleSet::builtin().unwrap();
        let found = scan_file(&rules, "k8s/secret.yaml", &text);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(
            (found[1].line, found[1].rule.as_str()),
            (7, "generic-secret")
        );
        assert_eq!(found[1].masked, "Rk2v******(24 chars)");
        let f = &found[0];
        assert_eq!((f.line, f.column), (6, 17));
        assert_eq!(f.rule, "database-url");
        assert_eq!(f.decoded_from, Some("base64 (Kubernetes Secret data)"));
        // A ConfigMap's data is not decoded.
        let config_map = text.replace("kind: Secret", "kind: ConfigMap");
        let in_config_map = scan_file(&rules, "k8s/cm.yaml", &config_map);
        assert!(in_config_map.iter().all(|f| f.decoded_from.is_none()));
        assert!(!in_config_map.iter().any(|f| f.rule == "database-url"));
    }
}
