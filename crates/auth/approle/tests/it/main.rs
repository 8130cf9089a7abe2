//! Integration tests of the AppRole auth method: requests go straight to the method over a
//! `StorageView` on `MemoryStorage` (no core), with a clock the tests move.

mod harness;
mod login;
mod roles;
mod secret_ids;
mod tidy;
