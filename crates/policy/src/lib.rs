//! HCL policy parsing and ACL evaluation; pure, no IO.
//!
//! A [`Policy`] is parsed from the HCL (or JSON) text Vault accepts:
//! ```hcl
//! path "secret/data/*" {
//!   capabilities = ["read", "list"]
//! }
//! ```
//! An [`Acl`] merges a token's policies and answers, per request, with the single most
//! specific matching rule: exact paths, trailing-`*` prefix globs and `+` segment wildcards,
//! ranked by Vault's priority rules; `deny` beats everything and nothing matched means no
//! access. Parameter constraints (`allowed_parameters`, `denied_parameters`,
//! `required_parameters`) and response-wrapping bounds are checked by [`Acl::check`].
//!
//! Core owns storage of policies, the root token and identity; it calls [`Policy::render`] for
//! templated policies (`{{identity.entity.id}}`) before building a token's [`Acl`].

mod acl;
mod capability;
mod default_policy;
mod error;
mod params;
mod pattern;
mod policy;
mod syntax;
mod template;

pub use acl::{Acl, AclDecision};
pub use capability::{Capabilities, Capability};
pub use default_policy::DEFAULT_POLICY;
pub use error::PolicyError;
pub use policy::Policy;
