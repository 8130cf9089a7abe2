//! The HTTP layer: only this crate knows HTTP and Vault's JSON shapes. It decodes requests
//! into [`secrethub_core::CoreRequest`], renders [`secrethub_core::CoreResponse`] as Vault's
//! envelope and errors as `{"errors": [...]}`, serves the seal endpoints that work while
//! sealed, and runs the TCP/TLS listeners.

mod decode;
mod envelope;
mod listener;
mod rotate_shape;
mod routes;
mod seal_routes;
mod seed_login;
mod seed_rotate;
mod seed_routes;

pub use decode::MAX_BODY_DEPTH;
pub use listener::{raise_open_file_limit, serve, Listener, ListenerLimits, TlsFiles};
pub use routes::app;

/// Largest request body accepted; larger ones get 413.
pub const MAX_REQUEST_BYTES: usize = 32 * 1024 * 1024;
