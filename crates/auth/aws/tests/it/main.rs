//! Integration tests of the AWS auth method: requests go straight to the engine over memory
//! storage; logins are verified by a real moto server with signature checking on.

mod harness;
mod login;
mod roles;
