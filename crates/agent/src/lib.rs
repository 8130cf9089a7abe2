//! The client side of SecretHub: `secrethub agent` (auto-auth, a caching API proxy, lease
//! renewal, templates), `secrethub run` (secrets as environment variables of a child process)
//! and `secrethub template render`.
//!
//! Everything here talks to servers through `secrethub_client` and `secrethub_providers`,
//! never through `core`.
//!
//! - `reference`: the `${secret:[PROVIDER:]PATH[#FIELD][|DEFAULT]}` syntax.
//! - `render`: resolves every reference of a text, one read per distinct secret.
//! - `template`: atomic file output with a mode, and the command run after a render.
//! - `child`: runs the child process of `secrethub run` (signals forwarded, output masked).
//! - `auto_auth`: logs in with the configured method, keeps the token alive, writes sinks.
//! - `sink`: the auto-auth token file, written atomically with its mode.
//! - `renewer`: keeps leased secrets alive and replaces them before they die.
//! - `proxy`: the cache listener.
//! - `setup`: the providers of `secrethub run` and `template render` (and the agent's).
//! - `exec`: `secrethub run`: prepare, keep leases alive, run the child, revoke.
//! - `template_runner`: one agent template kept current.
//! - `agent`: `secrethub agent`, everything wired together.

pub mod agent;
pub mod auto_auth;
pub mod child;
pub mod exec;
pub mod proxy;
pub mod reference;
pub mod render;
pub mod renewer;
pub mod run;
pub mod setup;
pub mod sink;
pub mod template;
pub mod template_runner;

pub use agent::run_agent;
pub use exec::{exec, ExecOptions};
/// `--env-file` parsing lives with the `file` provider's dotenv reader: one parser for both.
pub use secrethub_providers::dotenv as envfile;
pub use setup::Setup;
pub use template::write_atomically;

/// Renders a text's references once (`secrethub template render`); leases are left to expire.
pub async fn render_once(
    setup: &Setup,
    text: &str,
) -> Result<secrethub_common::Sensitive<String>, render::RenderError> {
    run::render_template_once(setup.providers.as_ref(), text).await
}
