//! The auth method's handlers, one file per resource, plus the role name check they share.
//! Body fields are read with `secrethub_common::input` (Vault's decoding rules).

mod config;
mod login;
mod roles;

use secrethub_storage::validate_key;

use crate::error::KubeError;
use crate::records::role_key;

pub(crate) use config::load_config;
pub(crate) use roles::load_role;

/// Rejects role names that would not be a single, safe storage key segment.
pub(crate) fn check_role_name(name: &str) -> Result<String, KubeError> {
    let key = role_key(name);
    if name.is_empty() || validate_key(&key).is_err() {
        return Err(KubeError::invalid("invalid role name"));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_are_single_safe_segments() {
        assert_eq!(check_role_name("app").unwrap(), "role/app");
        assert!(check_role_name("").is_err());
        assert!(check_role_name("..").is_err());
        assert!(check_role_name("a\u{0}b").is_err());
    }
}
