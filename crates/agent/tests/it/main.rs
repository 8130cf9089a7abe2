//! The agent's one integration test binary; each area is a module.

mod auto_auth;
mod child_process;
mod fake_source;
mod faults;
mod jwt_auth;
mod kubernetes_auth;
mod proxy;
mod render_refs;
mod renewer;
mod renewer_env;
mod renewer_script;
mod run_prepare;
mod server;
mod template_runner;
mod template_write;
mod tls_listener;
