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
//! vault { address = "https://127.0.0.1:8200"  ca_cert = "ca.pem" }
//! auto_auth {
//!   method "approle" {
//!     mount_path = "auth/approle"
//!     config = { role_id_file_path = "role-id", secret_id_file_path = "secret-id" }
//!   }
//!   sink "file" { config = { path = "/run/agent/token", mode = 0600 } }
//! }
//! cache { }                                   # cache leased and KV answers of the listener
//! api_proxy { use_auto_auth_token = true }
//! listener "tcp"  { address = "127.0.0.1:8100"  tls_disable = true }
//! listener "unix" { address = "/run/agent/agent.sock" }
//! lease_renewal { renew_at = 0.33  max_attempts = 5  backoff_initial = "1s"  backoff_max = "60s"
//!                 grace = "10s"  on_failed = "logger lease renewal failed" }
//! template {
//!   source      = "config.tmpl.yaml"           # or contents = "…"
//!   destination = "config.yaml"
//!   perms       = "0600"
//!   command     = "systemctl reload app"
//! }
//! template_config { static_secret_render_interval = "5m" }
//! provider "aws" { type = "aws-sm"  region = "us-east-1"  prefix = "aws/"  fallback = "dev" }
//! provider "dev" { type = "file"  path = "dev-secrets.yaml" }
//! ```

mod types;

pub use types::*;
