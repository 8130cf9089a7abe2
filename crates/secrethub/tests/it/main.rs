//! End-to-end tests of the real `secrethub` binary: each test starts its own server process on
//! an ephemeral port and drives it with our CLI, OpenBao's `bao` CLI or plain HTTP, as a user
//! would. Needs the machine's PostgreSQL on 127.0.0.1:5432, its Redis on 127.0.0.1:6379 and the
//! `bao` binary (`SECRETHUB_TEST_BAO`, or `scripts/test`, which installs it); `compat_clients`
//! also needs the hvac and node-vault suites' dependencies, which `scripts/test` installs too.

mod agent;
mod audit;
mod auth_cli;
mod bao_cli;
mod chaos;
mod ci_jwt;
mod cli_logins;
mod compat_clients;
mod compat_vaultrs;
mod config_errors;
mod crash;
mod deep_policy;
mod dynamic;
mod file_storage;
mod harness;
mod kv_cli;
mod mysql;
mod openbao_errors;
mod pki;
mod postgres;
mod readme;
mod redis;
mod run_cmd;
mod scan;
mod scheduled_rotation;
mod secrets_in_logs;
mod seed_api;
mod seed_config;
mod tls;
mod token_review;
mod transit;
