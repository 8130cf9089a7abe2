//! Integration tests of the Kubernetes auth method, driven with `Request`s as core would send
//! them, against a local HTTPS server implementing the TokenReview API (`cluster`), since no
//! real cluster can run here.

mod cluster;
mod config;
mod harness;
mod login;
mod renew;
mod roles;
