//! Typed helpers for `sys/leases/*`: lookup, list by prefix, renew and revoke, with the request
//! shapes Vault's own client sends (so the CLI and the agent speak to Vault as well as to us),
//! plus [`Client::read_with_query`], Vault's `ReadWithData`.

use std::time::Duration;

use serde_json::{json, Value};

use crate::{Client, ClientError};

/// Which leases `sys/leases/revoke*` should revoke. `-force` only exists for prefixes, as in
/// Vault, so the enum has no way to force-revoke a single lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeTarget<'a> {
    /// One lease, by its full ID (`PUT sys/leases/revoke {"lease_id"}`).
    Lease(&'a str),
    /// Every lease whose ID starts with this prefix (`PUT sys/leases/revoke-prefix/<prefix>`).
    Prefix(&'a str),
    /// Every lease under the prefix, dropped even when the engine cannot revoke the secret
    /// upstream (`PUT sys/leases/revoke-force/<prefix>`). For recovery only.
    ForcePrefix(&'a str),
}

impl Client {
    /// `PUT sys/leases/lookup {"lease_id"}`: the lease's `id`, `path` (the request that
    /// created it), `issue_time`, `expire_time`, `last_renewal`, `renewable` and `ttl` under
    /// `data`.
    pub async fn lease_lookup(&self, lease_id: &str) -> Result<Option<Value>, ClientError> {
        let body = json!({ "lease_id": lease_id });
        self.write("sys/leases/lookup", &body).await
    }

    /// `LIST sys/leases/lookup/<prefix>`: the IDs (and sub-prefixes, ending in `/`) directly
    /// under `prefix`. `None` when there are none (the server answers 404).
    pub async fn lease_list(&self, prefix: &str) -> Result<Option<Value>, ClientError> {
        let prefix = prefix.trim().trim_matches('/');
        let path = if prefix.is_empty() {
            "sys/leases/lookup/".to_string()
        } else {
            format!("sys/leases/lookup/{prefix}/")
        };
        self.list(&path).await
    }

    /// `PUT sys/leases/renew {"lease_id", "increment"}`, the increment in whole seconds as
    /// Vault's client sends it (zero asks for the lease's original TTL). The answer carries the
    /// new `lease_duration` at the top level, and a warning when a max TTL capped it.
    pub async fn lease_renew(
        &self,
        lease_id: &str,
        increment: Duration,
    ) -> Result<Option<Value>, ClientError> {
        let body = json!({ "lease_id": lease_id, "increment": increment.as_secs() });
        self.write("sys/leases/renew", &body).await
    }

    /// Revokes `target`. `sync` asks the server to revoke before answering rather than to queue
    /// the revocation; Vault ignores it for force revocation, so it is not sent then.
    pub async fn lease_revoke(
        &self,
        target: RevokeTarget<'_>,
        sync: bool,
    ) -> Result<(), ClientError> {
        let (path, body) = match target {
            RevokeTarget::Lease(id) => (
                "sys/leases/revoke".to_string(),
                Some(json!({ "lease_id": id, "sync": sync })),
            ),
            RevokeTarget::Prefix(prefix) => (
                format!("sys/leases/revoke-prefix/{}", prefix_path(prefix)),
                Some(json!({ "sync": sync })),
            ),
            RevokeTarget::ForcePrefix(prefix) => (
                format!("sys/leases/revoke-force/{}", prefix_path(prefix)),
                None,
            ),
        };
        self.request("PUT", &path, body.as_ref(), &[])
            .await
            .map(drop)
    }

    /// `GET path?k=v&...`, as Vault's `vault read path k=v` does: the pairs go in the query
    /// string (percent-encoded like Go's `url.Values`), keeping their order and repeats.
    /// A 404 answers `None`, as [`Client::read`].
    pub async fn read_with_query(
        &self,
        path: &str,
        query: &[(String, String)],
    ) -> Result<Option<Value>, ClientError> {
        if query.is_empty() {
            return self.read(path).await;
        }
        let separator = if path.contains('?') { '&' } else { '?' };
        self.read(&format!("{path}{separator}{}", encode_query(query)))
            .await
    }
}

/// A lease prefix as a path tail: surrounding spaces and leading slashes go, a trailing slash
/// stays (it is part of what the prefix matches).
fn prefix_path(prefix: &str) -> &str {
    prefix.trim().trim_start_matches('/')
}

/// `k=v&k2=v2`, escaped as Go's `url.QueryEscape`: letters, digits and `-_.~` stay, a space
/// becomes `+`, every other byte `%XX`.
pub(crate) fn encode_query(pairs: &[(String, String)]) -> String {
    let mut out = String::new();
    for (key, value) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        escape_into(&mut out, key);
        out.push('=');
        escape_into(&mut out, value);
    }
    out
}

fn escape_into(out: &mut String, text: &str) {
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn query_strings_are_escaped_like_go() {
        assert_eq!(encode_query(&pairs(&[("ttl", "1h")])), "ttl=1h");
        assert_eq!(
            encode_query(&pairs(&[("a b", "x/y&z=1"), ("n", "é~.-_")])),
            "a+b=x%2Fy%26z%3D1&n=%C3%A9~.-_"
        );
        assert_eq!(encode_query(&pairs(&[("k", "1"), ("k", "2")])), "k=1&k=2");
        assert_eq!(encode_query(&[]), "");
    }

    #[test]
    fn prefixes_lose_leading_slashes_only() {
        assert_eq!(prefix_path(" /database/creds/ "), "database/creds/");
        assert_eq!(prefix_path("database/creds/ro"), "database/creds/ro");
    }
}
