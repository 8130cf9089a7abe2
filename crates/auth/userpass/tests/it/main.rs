//! Integration tests of the userpass auth method: requests go straight to the method over a
//! `StorageView` on `MemoryStorage` (no core).

mod harness;
mod login;
mod users;
