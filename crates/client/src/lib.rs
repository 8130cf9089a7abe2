//! Typed HTTP client for the Vault-compatible API, used by the CLI, the agent and tests.
