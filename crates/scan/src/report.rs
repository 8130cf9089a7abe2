//! A tree scan as people and tools read it: text lines, JSON, or SARIF 2.1.0 (what GitHub
//! code scanning and most CI dashboards import). No format ever carries a value.

use serde_json::{json, Value};

use crate::inventory::{assess, inventory, Assessment};
use crate::origin::GitOrigin;
use crate::rules::RuleSet;
use crate::walk::TreeReport;

/// How a report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// One line per finding: `path:line:column: rule (type) masked fingerprint`, then, for
    /// a finding in git history, ` in <commit> (<day>, <author>)`.
    Text,
    /// `{"findings": [...], "secret_inventory": [...], "summary": {...}}`: each finding with
    /// its `current_storage`, `risk_level`, `dynamic_eligible` and `replace_with`.
    Json,
    /// SARIF 2.1.0, one run, the rules as its tool's rules.
    Sarif,
}

impl std::str::FromStr for ReportFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "text" | "table" => Ok(ReportFormat::Text),
            "json" => Ok(ReportFormat::Json),
            "sarif" => Ok(ReportFormat::Sarif),
            _ => Err(format!(
                "unknown report format {s:?}: use text, json or sarif"
            )),
        }
    }
}

/// The report in `format`, ending with a newline.
pub fn render(format: ReportFormat, rules: &RuleSet, report: &TreeReport) -> String {
    match format {
        ReportFormat::Text => report
            .findings
            .iter()
            .map(|f| {
                format!(
                    "{}:{}:{}: {} ({}) {} {}{}\n",
                    f.path,
                    f.line,
                    f.column,
                    f.rule,
                    f.secret_type.as_str(),
                    f.masked,
                    f.fingerprint,
                    f.origin.as_ref().map(commit_note).unwrap_or_default()
                )
            })
            .collect(),
        ReportFormat::Json => {
            let assessed: Vec<Assessment> =
                report.findings.iter().map(|f| assess(rules, f)).collect();
            let v = json!({
                "findings": assessed,
                "secret_inventory": inventory(&assessed),
                "summary": {
                    "findings": report.findings.len(),
                    "files_scanned": report.files_scanned,
                    "files_skipped": report.files_skipped,
                    "bytes_scanned": report.bytes_scanned,
                },
            });
            pretty(&v)
        }
        ReportFormat::Sarif => pretty(&sarif(rules, report)),
    }
}

/// ` in <commit> (<day>, <author>)`, and `, history only` when HEAD no longer has it.
fn commit_note(o: &GitOrigin) -> String {
    format!(
        " in {} ({}, {}){}",
        o.short_commit(),
        o.date.get(..10).unwrap_or(&o.date),
        o.author,
        if o.history_only { ", history only" } else { "" }
    )
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

fn sarif(rules: &RuleSet, report: &TreeReport) -> Value {
    let descriptors: Vec<Value> = rules
        .rules()
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "name": r.id,
                "shortDescription": {"text": r.description},
                "properties": {"secret_type": r.secret_type.as_str()},
            })
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let mut result = json!({
                "ruleId": f.rule,
                "level": "error",
                "message": {"text": format!("{} ({}): {}", f.rule, f.secret_type.as_str(), f.masked)},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": f.path},
                        "region": {"startLine": f.line, "startColumn": f.column},
                    }
                }],
                "partialFingerprints": {"secrethub/v1": f.fingerprint},
            });
            if let Some(origin) = &f.origin {
                result["properties"] = json!(origin);
            }
            result
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "secrethub scan",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": descriptors,
            }},
            "results": results,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_names_the_finding_and_never_the_value() {
        let rules = RuleSet::builtin().unwrap();
        let secret = "ghp_R8kT2vLq9wXz4mNp7sYb3cHf6jUa1eGi0oVt";
        let report = TreeReport {
            findings: rules.scan_text("ci.env", &format!("GITHUB_TOKEN={secret}\n")),
            files_scanned: 1,
            bytes_scanned: 54,
            files_skipped: 0,
        };
        let text = render(ReportFormat::Text, &rules, &report);
        assert!(text.starts_with("ci.env:1:14: github-token (api_keys) ghp_******(40 chars) "));
        let json: Value =
            serde_json::from_str(&render(ReportFormat::Json, &rules, &report)).unwrap();
        assert_eq!(json["summary"]["findings"], 1);
        assert_eq!(json["findings"][0]["type"], "api_keys");
        assert_eq!(json["findings"][0]["current_storage"], ".env");
        assert_eq!(json["secret_inventory"][0]["count"], 1);
        let sarif: Value =
            serde_json::from_str(&render(ReportFormat::Sarif, &rules, &report)).unwrap();
        assert_eq!(sarif["version"], "2.1.0");
        let result = &sarif["runs"][0]["results"][0];
        assert_eq!(result["ruleId"], "github-token");
        assert_eq!(
            result["locations"][0]["physicalLocation"]["region"]["startLine"],
            1
        );
        assert!(
            sarif["runs"][0]["tool"]["driver"]["rules"]
                .as_array()
                .unwrap()
                .len()
                >= 20
        );
        for out in [text, json.to_string(), sarif.to_string()] {
            assert!(!out.contains(&secret[4..]), "{out}");
        }
        assert_eq!("SARIF".parse(), Ok(ReportFormat::Sarif));
        assert!("xml".parse::<ReportFormat>().is_err());
    }

    #[test]
    fn a_finding_from_git_history_carries_its_commit_in_every_format() {
        let rules = RuleSet::builtin().unwrap();
        let secret = "ghp_R8kT2vLq9wXz4mNp7sYb3cHf6jUa1eGi0oVt";
        let mut findings = rules.scan_text("ci.env", &format!("GITHUB_TOKEN={secret}\n"));
        findings[0].origin = Some(GitOrigin {
            commit: "0123456789abcdef0123456789abcdef01234567".into(),
            author: "Ada".into(),
            email: "ada@example.com".into(),
            date: "2024-05-01T10:00:00Z".into(),
            history_only: true,
        });
        let report = TreeReport {
            findings,
            ..TreeReport::default()
        };
        let text = render(ReportFormat::Text, &rules, &report);
        assert!(
            text.ends_with(" in 0123456789ab (2024-05-01, Ada), history only\n"),
            "{text}"
        );
        let json: Value =
            serde_json::from_str(&render(ReportFormat::Json, &rules, &report)).unwrap();
        let finding = &json["findings"][0];
        assert_eq!(
            finding["commit"],
            "0123456789abcdef0123456789abcdef01234567"
        );
        assert_eq!(finding["date"], "2024-05-01T10:00:00Z");
        assert_eq!(finding["current_storage"], "git history only");
        assert_eq!(
            json["secret_inventory"][0]["current_storage"],
            "git history only"
        );
        let sarif: Value =
            serde_json::from_str(&render(ReportFormat::Sarif, &rules, &report)).unwrap();
        let properties = &sarif["runs"][0]["results"][0]["properties"];
        assert_eq!(properties["commit"], finding["commit"]);
        assert_eq!(properties["history_only"], true);
    }
}
