//! The agent's configuration (`secrethub agent -config agent.hcl`), in Vault Agent's shape
//! where it has one: `vault {}`, `auto_auth { method … sink … }`, `cache {}`, `api_proxy {}`,
//! `listener`, `template {}`, plus SecretHub's own `lease_renewal {}` and `provider "NAME" {}`.
//!
//! Same two layers as the server config: a raw serde layer over hcl-edit's syntax tree (every
//! struct `deny_unknown_fields`, errors name the line and the key), then [`AgentConfig`], whose
//! values have been checked. `secrethub run` and `secrethub template render` read the same
//! file for its `vault`, `auto_auth` and `provider` stanzas.
//!
//! ```hcl
//! vault {
//!   address = "https://127.0.0.1:8200"
//!   ca_cert = "ca.pem"
//! }
//! auto_auth {
//!   method "approle" {
//!     mount_path = "auth/approle"
//!     config = { role_id_file_path = "role-id", secret_id_file_path = "secret-id" }
//!   }
//!   sink "file" { config = { path = "/run/agent/token", mode = 0600 } }
//! }
//! cache {}                                    # cache leased and KV answers of the listener
//! api_proxy { use_auto_auth_token = true }
//! listener "tcp" {
//!   address     = "127.0.0.1:8100"
//!   tls_disable = true
//! }
//! listener "unix" { address = "/run/agent/agent.sock" }
//! lease_renewal {
//!   renew_at        = 0.33
//!   max_attempts    = 5
//!   backoff_initial = "1s"
//!   backoff_max     = "60s"
//!   grace           = "10s"
//!   on_failed       = "logger lease renewal failed"
//! }
//! template {
//!   source      = "config.tmpl.yaml"           # or contents = "…"
//!   destination = "config.yaml"
//!   perms       = "0600"
//!   command     = "systemctl reload app"
//! }
//! template_config { static_secret_render_interval = "5m" }
//! provider "aws" {
//!   type     = "aws-sm"
//!   region   = "us-east-1"
//!   prefix   = "aws/"
//!   fallback = "dev"
//! }
//! provider "dev" {
//!   type = "file"
//!   path = "dev-secrets.yaml"
//! }
//! ```
//!
//! HCL 2 wants each attribute of a stanza on its own line, unlike Vault's HCL 1 one-liners;
//! a number with a leading zero (`mode = 0600`) is octal, as in HCL 1. Relative paths are
//! resolved against the config file's directory. Errors name the line, the stanza and the key
//! (`agent.hcl:4: method "approle": unknown key "role_id"`), never a secret value.

mod auto_auth;
mod provider;
mod raw;
mod types;
mod validate;
mod values;

use std::path::Path;

pub use auto_auth::{DEFAULT_KUBERNETES_TOKEN_PATH, DEFAULT_SINK_MODE};
pub use provider::{provider_type, BUILTIN_PROVIDER, PROVIDER_TYPE_ALIASES};
pub use types::*;
pub use validate::{DEFAULT_NUM_RETRIES, DEFAULT_TEMPLATE_PERMS};

use crate::error::ConfigError;

/// Parses and validates agent config text; `base_dir` anchors relative paths.
pub(crate) fn parse(text: &str, base_dir: &Path) -> Result<AgentConfig, ConfigError> {
    let raw: raw::RawAgentConfig = crate::de::from_str(text)?;
    AgentConfig::from_raw(raw, base_dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example in this module's doc is a valid config, so it can be copied.
    #[test]
    fn the_documented_example_parses() {
        let source = include_str!("mod.rs");
        let example: String = source
            .lines()
            .skip_while(|line| *line != "//! ```hcl")
            .skip(1)
            .take_while(|line| *line != "//! ```")
            .map(|line| format!("{}\n", line.trim_start_matches("//!").trim_start()))
            .collect();
        assert!(example.contains("provider \"dev\""), "{example}");
        let config = parse(&example, Path::new("/etc/agent")).expect("the example is valid");
        assert_eq!(config.providers.len(), 2);
        assert_eq!(config.listeners.len(), 2);
        let sinks = &config.auto_auth.expect("auto_auth").sinks;
        assert_eq!(sinks[0].mode, 0o600);
    }
}
