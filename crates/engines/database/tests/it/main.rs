//! Integration tests of the database engine, driven with `Request`s as core would send them.
//!
//! - `conformance`: the plugin conformance suite, what every plugin guarantees, run by each
//!   plugin against its real server (PostgreSQL: the private cluster).
//! - `issue`, `lifecycle`, `bad_input`: the machine's shared PostgreSQL (127.0.0.1:5432,
//!   trust authentication), each test in a database of its own, checking `pg_roles`.
//! - `auth`: a private cluster with scram-sha-256 authentication (see `cluster`), where
//!   logging in with the issued credentials is really checked.
//! - `createrole`: the same cluster with a `CREATEROLE` admin that is not a superuser: users
//!   with open sessions are still revoked.
//! - `nesting`: a `password_policy` too deep for the HCL parser is refused before parsing
//!   (no database needed).
//! - `unflushed`: revocations for a waiting caller that do not wait for the WAL flush, and
//!   their confirmation.
//! - `redis`: the Redis plugin against the machine's Redis 7 (127.0.0.1:6379, ACL enabled),
//!   each test with ACL users of its own (also the conformance suite's Redis target).

mod auth;
mod bad_input;
mod cluster;
mod conformance;
mod createrole;
mod harness;
mod issue;
mod lifecycle;
mod mongodb;
mod mysql;
mod mysql_revoke;
mod mysql_static;
mod mysql_test_connection;
mod nesting;
mod proxy;
mod redis;
mod static_roles;
mod test_connection;
mod unflushed;
