//! The secret-sprawl scanner: finds hard-coded secrets in text (`secrethub scan`).
//!
//! Rules are data: one YAML file per provider family under `rules/`, embedded in the binary
//! ([`RuleSet::builtin`]). Each rule has a regex with the secret in a capture group, keywords
//! for the prefilter, an optional entropy floor and examples that must and must not match,
//! checked by [`RuleSet::check_examples`] (`secrethub scan rules check`, and the tests).
//!
//! Scanning text ([`RuleSet::scan_text`]): one Aho-Corasick pass finds every keyword of every
//! rule; only the lines around a keyword are given to the rules that keyword belongs to. A
//! candidate is dropped when it is a placeholder (`${VAR}`, `{{ .Values.x }}`, `changeme`,
//! AWS's `EXAMPLE` keys, a UUID, …, see `value.rs`), when it is not random enough for its
//! rule, or when its line carries an allow marker (`secrethub:allow`, `gitleaks:allow`,
//! `pragma: allowlist secret`). A value is never kept whole in a [`Finding`]: it carries a
//! masked form and a fingerprint (SHA-256 of the value, so a baseline survives a move).

mod advise;
mod filter;
mod inventory;
mod origin;
mod plan;
mod report;
mod rules;
mod scan;
mod shapes;
mod value;
mod walk;

pub use advise::{advise, AdviceRequest, Constraints};
pub use filter::{Baseline, PathFilter, IGNORE_FILE};
pub use inventory::{assess, inventory, storage_of, Assessment, InventoryEntry, Replacement, Risk};
pub use origin::GitOrigin;
pub use plan::{
    percent_decode, plan, read_tree, service_of, url_username, Binding, MountKind, Plan, PlanInput,
    Source, Step, Target, Tree, DATABASE_MOUNT,
};
pub use report::{render, ReportFormat};
pub use rules::{ExampleFailure, Rule, RuleError, RuleSet, SecretType};
pub use scan::Finding;
pub use shapes::value_at;
pub use value::{entropy, fingerprint, is_placeholder, mask};
pub use walk::{
    is_skipped_dir, is_skipped_file, is_skipped_path, parallel_map, text_of, TreeReport,
    WalkOptions,
};
