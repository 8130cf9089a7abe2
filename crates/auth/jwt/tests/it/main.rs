//! Integration tests of the jwt auth method, driven with `Request`s as core sends them, with
//! the keys served by an identity provider running in process on 127.0.0.1 (see `harness`).
//!
//! - `github`, `gitlab`: logins with tokens shaped like GitHub Actions (RS256, OIDC
//!   discovery) and GitLab CI (ES256, JWKS URL) ID tokens, and their bindings.
//! - `static_keys`: `jwt_validation_pubkeys` (EdDSA, RS256, ES384) and JSON-pointer claims.
//! - `bad_tokens`: every way a token is refused, each a 400 that does not echo the token.
//! - `key_refresh`: key rotation, unknown key IDs, the refresh rate limit.
//! - `renewal`: `renew_login` after the role changed or disappeared.
//! - `config_api`: config and role endpoints, validation errors, HTTPS with a custom CA.

mod bad_tokens;
mod config_api;
mod github;
mod gitlab;
mod harness;
mod key_refresh;
mod renewal;
mod static_keys;
