//! Which names a role allows, with Vault's rules and messages: `allow_any_name`,
//! `allow_localhost`, `allowed_domains` with `allow_bare_domains`, `allow_subdomains` and
//! `allow_glob_domains`, wildcards (`allow_wildcard_certificates`), `enforce_hostnames`, IP
//! SANs (`allow_ip_sans`) and URI SANs (`allowed_uri_sans`, globs).

use crate::error::{PkiError, Result};
use crate::paths::roles::RoleRecord;

/// Whether `role` allows the DNS name or email address `name`.
pub(crate) fn name_allowed(role: &RoleRecord, name: &str) -> bool {
    // An email address is judged by its domain.
    let host = match name.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() => domain,
        Some(_) => return false,
        None => name,
    };
    let host = host.to_ascii_lowercase();
    let (wildcard, base) = match host.strip_prefix("*.") {
        Some(rest) => (true, rest.to_string()),
        None => (false, host.clone()),
    };
    if wildcard && !role.allow_wildcard_certificates {
        return false;
    }
    if role.enforce_hostnames && !is_hostname(&base) {
        return false;
    }
    if role.allow_any_name {
        return true;
    }
    if role.allow_localhost && !wildcard && (host == "localhost" || host == "localdomain") {
        return true;
    }
    role.allowed_domains.iter().any(|allowed| {
        let allowed = allowed.to_ascii_lowercase();
        if allowed.is_empty() {
            return false;
        }
        // A wildcard certificate for the bare domain covers only its subdomains.
        if !wildcard && role.allow_bare_domains && host == allowed {
            return true;
        }
        if role.allow_subdomains {
            let under = allowed.strip_prefix("*.").unwrap_or(&allowed);
            if host.ends_with(&format!(".{under}")) || (wildcard && base == under) {
                return true;
            }
        }
        role.allow_glob_domains && allowed.contains('*') && glob_match(&allowed, &host)
    })
}

/// RFC 1123 host names: labels of letters, digits and inner hyphens.
fn is_hostname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// `*` matches any run of characters (including none), as Go's `glob` package Vault uses.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || !text[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

/// Checks the common name (when it is in the subject) and the DNS/email SANs against the
/// role, with Vault's messages.
pub(crate) fn check_names(role: &RoleRecord, common_name: &str, sans: &[String]) -> Result<()> {
    if !common_name.is_empty() && !name_allowed(role, common_name) {
        return Err(PkiError::invalid(format!(
            "common name {common_name} not allowed by this role"
        )));
    }
    for san in sans {
        if !name_allowed(role, san) {
            return Err(PkiError::invalid(format!(
                "subject alternate name {san} not allowed by this role"
            )));
        }
    }
    Ok(())
}

pub(crate) fn check_ip_sans(role: &RoleRecord, ips: &[std::net::IpAddr]) -> Result<()> {
    if !ips.is_empty() && !role.allow_ip_sans {
        return Err(PkiError::invalid(
            "IP Subject Alternative Names are not allowed in this role, but was provided via the API",
        ));
    }
    Ok(())
}

pub(crate) fn check_uri_sans(role: &RoleRecord, uris: &[String]) -> Result<()> {
    if uris.is_empty() {
        return Ok(());
    }
    if role.allowed_uri_sans.is_empty() {
        return Err(PkiError::invalid(
            "URI Subject Alternative Names are not allowed in this role, but were provided via the API",
        ));
    }
    let all_allowed = uris
        .iter()
        .all(|u| role.allowed_uri_sans.iter().any(|p| glob_match(p, u)));
    if !all_allowed {
        return Err(PkiError::invalid(
            "URI Subject Alternative Names were provided via the API which are not valid for this role",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(domains: &[&str]) -> RoleRecord {
        RoleRecord {
            allowed_domains: domains.iter().map(|s| s.to_string()).collect(),
            ..RoleRecord::default()
        }
    }

    #[test]
    fn subdomains_bare_and_wildcards() {
        let mut r = role(&["example.com"]);
        assert!(!name_allowed(&r, "a.example.com"));
        r.allow_subdomains = true;
        assert!(name_allowed(&r, "a.example.com"));
        assert!(name_allowed(&r, "*.example.com"));
        assert!(name_allowed(&r, "*.a.example.com"));
        assert!(!name_allowed(&r, "example.com"));
        assert!(!name_allowed(&r, "aexample.com"));
        assert!(!name_allowed(&r, "a_b.example.com"));
        assert!(!name_allowed(&r, "user@example.com"));
        r.allow_bare_domains = true;
        assert!(name_allowed(&r, "example.com"));
        assert!(name_allowed(&r, "user@example.com"));
        r.allow_wildcard_certificates = false;
        assert!(!name_allowed(&r, "*.example.com"));
    }

    #[test]
    fn localhost_any_and_globs() {
        let mut r = role(&["*.svc.example.com", "foo-*.net"]);
        assert!(name_allowed(&r, "localhost"));
        r.allow_localhost = false;
        assert!(!name_allowed(&r, "localhost"));
        assert!(!name_allowed(&r, "x.svc.example.com"));
        r.allow_glob_domains = true;
        assert!(name_allowed(&r, "x.svc.example.com"));
        assert!(name_allowed(&r, "foo-bar.net"));
        assert!(!name_allowed(&r, "svc.example.com"));
        r.allow_any_name = true;
        assert!(name_allowed(&r, "anything.org"));
        assert!(!name_allowed(&r, "not a host"));
        assert!(glob_match("spiffe://a/*", "spiffe://a/x"));
        assert!(!glob_match("spiffe://a/*", "spiffe://b/x"));
        assert!(glob_match("a*b*c", "aXbYc"));
    }

    #[test]
    fn messages() {
        let r = role(&["example.com"]);
        assert_eq!(
            check_names(&r, "a.other.com", &[]).unwrap_err().to_string(),
            "common name a.other.com not allowed by this role"
        );
        let mut r = r;
        r.allow_subdomains = true;
        assert_eq!(
            check_names(&r, "a.example.com", &["b.other.com".into()])
                .unwrap_err()
                .to_string(),
            "subject alternate name b.other.com not allowed by this role"
        );
        assert!(check_uri_sans(&r, &["spiffe://x".into()]).is_err());
        r.allow_ip_sans = false;
        assert!(check_ip_sans(&r, &["1.2.3.4".parse().unwrap()]).is_err());
    }
}
