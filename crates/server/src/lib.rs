//! The HTTP layer: axum routes for /v1, Vault JSON envelopes and error bodies, TLS listeners.
