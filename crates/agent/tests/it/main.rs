//! The agent's one integration test binary; each area is a module.

mod auto_auth;
mod child_process;
mod fake_source;
mod jwt_auth;
mod proxy;
mod render_refs;
mod run_prepare;
mod server;
mod template_write;
