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
//! - `renewer`: keeps leased secrets alive and replaces them before they die.
//! - `proxy`: the cache listener.
