//! In-process API tests: a real `Core` over in-memory storage behind the real axum app,
//! driven with `tower::ServiceExt::oneshot`, asserting the status codes and JSON a Vault
//! client sees.

mod audit;
mod auth;
mod authz_matrix;
mod batch_tokens;
mod body_depth;
mod durations;
mod errors;
mod harness;
mod invalid_tokens;
mod kv;
mod lease_engine;
mod lease_receipts;
mod lease_revoke_sync;
mod lease_stats;
mod lease_trace;
mod lease_ttl;
mod leases;
mod listener;
mod login_engine;
mod mounts;
mod policies;
mod policy_limits;
mod raw_requests;
mod seal;
mod seed_api;
mod special_engine;
mod sudo_paths;
mod timers;
mod token_role_tokens;
mod token_roles;
mod tokens;
mod wrapping;
