//! The rule model and its YAML files (see the crate docs), with the check of each rule's own
//! examples.

use aho_corasick::AhoCorasick;
use regex::Regex;
use serde::Serialize;
use yaml_rust2::{Yaml, YamlLoader};

/// The rule files compiled into the binary: one per provider family.
const BUILTIN: &[(&str, &str)] = &[
    ("aws.yaml", include_str!("../rules/aws.yaml")),
    ("gcp.yaml", include_str!("../rules/gcp.yaml")),
    ("azure.yaml", include_str!("../rules/azure.yaml")),
    ("database.yaml", include_str!("../rules/database.yaml")),
    (
        "private_keys.yaml",
        include_str!("../rules/private_keys.yaml"),
    ),
    ("saas.yaml", include_str!("../rules/saas.yaml")),
    ("vault.yaml", include_str!("../rules/vault.yaml")),
    ("signing.yaml", include_str!("../rules/signing.yaml")),
    ("generic.yaml", include_str!("../rules/generic.yaml")),
];

/// The strategy document's secret types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretType {
    /// Connection strings, usernames and passwords of databases.
    DatabaseCredentials,
    /// Credentials of third-party services.
    ApiKeys,
    /// Certificates and their private keys.
    TlsCerts,
    /// JWT signing secrets, webhook verification secrets, code-signing keys.
    SigningKeys,
    /// Tokens services use to call each other (Vault tokens included).
    ServiceTokens,
    /// Cloud IAM credentials, SSH keys.
    InfrastructureSecrets,
}

impl SecretType {
    /// The document's name of the type.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretType::DatabaseCredentials => "database_credentials",
            SecretType::ApiKeys => "api_keys",
            SecretType::TlsCerts => "tls_certs",
            SecretType::SigningKeys => "signing_keys",
            SecretType::ServiceTokens => "service_tokens",
            SecretType::InfrastructureSecrets => "infrastructure_secrets",
        }
    }

    fn parse(s: &str) -> Option<SecretType> {
        [
            SecretType::DatabaseCredentials,
            SecretType::ApiKeys,
            SecretType::TlsCerts,
            SecretType::SigningKeys,
            SecretType::ServiceTokens,
            SecretType::InfrastructureSecrets,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

/// One detection rule.
#[derive(Debug)]
pub struct Rule {
    /// Unique, kebab-case (`aws-access-key-id`).
    pub id: String,
    /// What it finds, for people.
    pub description: String,
    /// The document's type of what it finds.
    pub secret_type: SecretType,
    /// The SecretHub engine that would replace such a secret with a dynamic one (`database`,
    /// `aws`, …); `None`: rotate it on a schedule instead.
    pub replace_with: Option<String>,
    pub(crate) regex: Regex,
    /// The capture group that holds the secret (1 unless the file says otherwise).
    pub(crate) secret_group: usize,
    /// A match may span lines (a PEM block): the rule reads on from the keyword's line.
    pub(crate) multiline: bool,
    /// Lowercase keywords; a line without one of them is never given to the rule.
    pub(crate) keywords: Vec<String>,
    /// Instead of keywords (`trigger: long-token`): the rule reads every line holding a run
    /// of at least [`LONG_TOKEN`] letters and digits, for token shapes with no literal in
    /// common (`dop_v1_…`, `bkua_…`), whose only keyword would be `_` on every line of code.
    pub(crate) long_token: bool,
    /// Shannon entropy (bits per character) the secret must reach.
    pub(crate) entropy: Option<f64>,
    /// Lowercase words the rule's `name` group must not contain (`not_names:`): for a rule
    /// that takes any word as a provider's name, the words that name a digest or an
    /// identifier instead (`sha256 …`, `commit …`, `request_id: …`).
    pub(crate) not_names: Vec<String>,
    /// The syntax says the value is a password (`password_position: true`: a URL's user
    /// information, `Password=` in a connection string), so a weak word (`secret`, `admin`)
    /// counts (see `value::Position`).
    pub(crate) password_position: bool,
    /// In a plain settings file (`.ini`, `.env`, `.properties`, `.conf`) the value is a
    /// literal (`literal_in_settings: true`): words count (`password = open_sesame`).
    pub(crate) literal_in_settings: bool,
    /// The secret must look random (`mixed: true`): letters and digits, not words and
    /// numbers joined (`value::reads_as_words`).
    pub(crate) mixed: bool,
    /// Which rule's finding stays when several find the same value: the highest. A rule that
    /// knows a secret by its shape (a prefix such as `ghp_`) has 10, one that knows it by its
    /// name (`JWT_SECRET=`) less, a generic `password=` 0.
    pub(crate) priority: i64,
    examples_match: Vec<String>,
    examples_no_match: Vec<String>,
}

/// Why the rule files could not be loaded (a bug in a file, caught by the tests).
#[derive(Debug, thiserror::Error)]
#[error("rule file {file}: {reason}")]
pub struct RuleError {
    file: String,
    reason: String,
}

/// An example of a rule that does not do what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExampleFailure {
    /// The rule.
    pub rule: String,
    /// The example text.
    pub example: String,
    /// Whether it was expected to match.
    pub should_match: bool,
}

/// Every rule, with the prefilter built over their keywords.
pub struct RuleSet {
    pub(crate) rules: Vec<Rule>,
    pub(crate) prefilter: AhoCorasick,
    /// For each prefilter pattern, the rules it belongs to.
    pub(crate) keyword_rules: Vec<Vec<usize>>,
    /// The rules triggered by a long token instead of keywords.
    pub(crate) long_token_rules: Vec<usize>,
}

/// How long a run of ASCII letters and digits triggers the `long-token` rules.
pub(crate) const LONG_TOKEN: usize = 20;

fn str_of<'a>(y: &'a Yaml, key: &str) -> Option<&'a str> {
    y[key].as_str()
}

fn strings(y: &Yaml) -> Vec<String> {
    y.as_vec()
        .map(|v| {
            v.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn parse_rule(file: &str, y: &Yaml) -> Result<Rule, RuleError> {
    let err = |reason: String| RuleError {
        file: file.to_string(),
        reason,
    };
    let id = str_of(y, "id").ok_or_else(|| err("a rule without an id".into()))?;
    let field = |name: &str| str_of(y, name).ok_or_else(|| err(format!("rule {id}: no {name}")));
    let pattern = field("pattern")?;
    let regex = Regex::new(pattern).map_err(|e| err(format!("rule {id}: {e}")))?;
    let secret_type =
        SecretType::parse(field("type")?).ok_or_else(|| err(format!("rule {id}: unknown type")))?;
    let whole_match = y["whole_match"].as_bool().unwrap_or(false);
    let secret_group = match y["secret_group"].as_i64() {
        Some(g) => usize::try_from(g).map_err(|_| err(format!("rule {id}: bad secret_group")))?,
        None if whole_match => 0,
        None => 1,
    };
    if secret_group >= regex.captures_len() {
        return Err(err(format!("rule {id}: no capture group {secret_group}")));
    }
    let keywords: Vec<String> = strings(&y["keywords"])
        .into_iter()
        .map(|k| k.to_lowercase())
        .collect();
    let long_token = match str_of(y, "trigger") {
        None => false,
        Some("long-token") => true,
        Some(other) => return Err(err(format!("rule {id}: unknown trigger {other:?}"))),
    };
    if keywords.is_empty() != long_token {
        return Err(err(format!(
            "rule {id}: give keywords or `trigger: long-token`, not both or neither"
        )));
    }
    let examples = &y["examples"];
    Ok(Rule {
        id: id.to_string(),
        description: field("description")?.to_string(),
        secret_type,
        replace_with: str_of(y, "replace_with").map(str::to_string),
        multiline: whole_match || y["multiline"].as_bool().unwrap_or(false),
        regex,
        secret_group,
        keywords,
        long_token,
        entropy: y["entropy"]
            .as_f64()
            .or(y["entropy"].as_i64().map(|e| e as f64)),
        not_names: strings(&y["not_names"])
            .into_iter()
            .map(|k| k.to_lowercase())
            .collect(),
        mixed: y["mixed"].as_bool().unwrap_or(false),
        password_position: y["password_position"].as_bool().unwrap_or(false),
        literal_in_settings: y["literal_in_settings"].as_bool().unwrap_or(false),
        priority: y["priority"].as_i64().unwrap_or(10),
        examples_match: strings(&examples["match"]),
        examples_no_match: strings(&examples["no_match"]),
    })
}

impl RuleSet {
    /// The rules compiled into the binary.
    pub fn builtin() -> Result<RuleSet, RuleError> {
        let mut rules = Vec::new();
        for (file, text) in BUILTIN {
            let docs = YamlLoader::load_from_str(text).map_err(|e| RuleError {
                file: file.to_string(),
                reason: e.to_string(),
            })?;
            let list = docs
                .first()
                .and_then(|d| d["rules"].as_vec())
                .ok_or_else(|| RuleError {
                    file: file.to_string(),
                    reason: "no `rules:` list".into(),
                })?;
            for y in list {
                rules.push(parse_rule(file, y)?);
            }
        }
        RuleSet::new(rules)
    }

    fn new(rules: Vec<Rule>) -> Result<RuleSet, RuleError> {
        let mut seen = std::collections::HashSet::new();
        let mut patterns: Vec<String> = Vec::new();
        let mut keyword_rules: Vec<Vec<usize>> = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            if !seen.insert(rule.id.clone()) {
                return Err(RuleError {
                    file: "(all)".into(),
                    reason: format!("rule id {} used twice", rule.id),
                });
            }
            for k in &rule.keywords {
                match patterns.iter().position(|p| p == k) {
                    Some(at) => keyword_rules[at].push(i),
                    None => {
                        patterns.push(k.clone());
                        keyword_rules.push(vec![i]);
                    }
                }
            }
        }
        // A DFA: the fastest overlapping search (every keyword of every rule is wanted),
        // at a few hundred KiB for about a hundred keywords.
        let prefilter = AhoCorasick::builder()
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .ascii_case_insensitive(true)
            .build(&patterns)
            .map_err(|e| RuleError {
                file: "(all)".into(),
                reason: format!("keywords: {e}"),
            })?;
        let long_token_rules = (0..rules.len()).filter(|&i| rules[i].long_token).collect();
        Ok(RuleSet {
            rules,
            prefilter,
            keyword_rules,
            long_token_rules,
        })
    }

    /// The rules, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Runs every rule's examples through the whole scanner: each `match` example must give
    /// a finding of that rule, each `no_match` example none of it. Answers the failures.
    pub fn check_examples(&self) -> Vec<ExampleFailure> {
        let mut failures = Vec::new();
        for rule in &self.rules {
            let cases = rule
                .examples_match
                .iter()
                .map(|e| (e, true))
                .chain(rule.examples_no_match.iter().map(|e| (e, false)));
            for (example, should_match) in cases {
                let found = self
                    .scan_text("example", example)
                    .iter()
                    .any(|f| f.rule == rule.id);
                if found != should_match {
                    failures.push(ExampleFailure {
                        rule: rule.id.clone(),
                        example: example.clone(),
                        should_match,
                    });
                }
            }
        }
        failures
    }
}

impl Rule {
    /// How many examples the rule has (both kinds).
    pub fn example_count(&self) -> usize {
        self.examples_match.len() + self.examples_no_match.len()
    }
}
