//! Integration tests of `secrethub-policy`, through its public API only: parsing, priority
//! matching, parameter constraints, merging and the default policy.

mod default_policy;
mod merge;
mod params;
mod parse;
mod precedence;

use secrethub_policy::{Acl, Policy};

/// Parses a policy that must be valid; the test fails with the error otherwise.
fn policy(text: &str) -> Policy {
    match Policy::parse("test", text) {
        Ok(policy) => policy,
        Err(err) => panic!("policy should parse: {err}\n{text}"),
    }
}

/// One line per path: `path => [capabilities]`, as `sys/capabilities-self` would answer.
fn capability_table(acl: &Acl, paths: &[&str]) -> String {
    paths
        .iter()
        .map(|path| format!("{path} => {:?}\n", acl.capabilities(path).names()))
        .collect()
}
