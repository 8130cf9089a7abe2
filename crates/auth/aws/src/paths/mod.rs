//! The method's handlers, one file per resource: `config/client` and `config/identity`,
//! `role/:name`, and `login` with its renewal check.

pub(crate) mod config;
pub(crate) mod login;
pub(crate) mod roles;
