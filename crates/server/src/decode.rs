//! Decoding an HTTP request into a `CoreRequest`: method (LIST and `?list=true`), token
//! headers (`X-Vault-Token`, `Authorization: Bearer`, `X-Agent-Token`), JSON body or query
//! parameters, `X-Vault-Wrap-TTL`.

use std::net::IpAddr;

use axum::http::{HeaderMap, Method as HttpMethod};
use secrethub_common::{JsonMap, Sensitive};
use secrethub_core::{CoreError, Method};
use serde_json::Value;

/// The client token from the headers Vault clients use, in Vault's order of preference.
pub(crate) fn token(headers: &HeaderMap) -> Option<Sensitive<String>> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    if let Some(t) = get("x-vault-token") {
        return Some(Sensitive::new(t.to_string()));
    }
    if let Some(auth) = get("authorization") {
        if let Some(t) = auth
            .strip_prefix("Bearer ")
            .or_else(|| auth.strip_prefix("bearer "))
        {
            return Some(Sensitive::new(t.trim().to_string()));
        }
    }
    get("x-agent-token").map(|t| Sensitive::new(t.to_string()))
}

/// The API method; `None` for methods Vault does not serve (405).
pub(crate) fn method(m: &HttpMethod, query: &JsonMap) -> Option<Method> {
    let list_flag = query
        .get("list")
        .and_then(secrethub_common::serde_helpers::value_to_bool)
        .unwrap_or(false);
    match m.as_str() {
        "GET" | "HEAD" if list_flag => Some(Method::List),
        "GET" | "HEAD" => Some(Method::Get),
        "LIST" => Some(Method::List),
        "PUT" | "POST" => Some(Method::Write),
        "PATCH" => Some(Method::Patch),
        "DELETE" => Some(Method::Delete),
        _ => None,
    }
}

/// Query parameters as a JSON map of strings (repeated keys keep the last value).
pub(crate) fn query_map(query: Option<&str>) -> JsonMap {
    let mut m = JsonMap::new();
    let Some(q) = query else { return m };
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (Some(k), Some(v)) = (percent_decode(k), percent_decode(v)) else {
            continue;
        };
        m.insert(k, Value::String(v));
    }
    m
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The JSON object of a write; an empty body is an empty object.
pub(crate) fn json_body(bytes: &[u8]) -> Result<JsonMap, CoreError> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(JsonMap::new());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(Value::Null) => Ok(JsonMap::new()),
        Ok(_) => Err(CoreError::bad_request(
            "failed to parse JSON input: the body must be a JSON object",
        )),
        Err(e) => Err(CoreError::bad_request(format!(
            "failed to parse JSON input: {} at line {} column {}",
            describe(&e),
            e.line(),
            e.column()
        ))),
    }
}

/// The JSON object of a write decoded into `T` with Vault's rules (`null` is not given).
pub(crate) fn json_input<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, CoreError> {
    let body = json_body(bytes)?;
    Ok(secrethub_common::input::decode(&body)?)
}

fn describe(e: &serde_json::Error) -> &'static str {
    use serde_json::error::Category;
    match e.classify() {
        Category::Eof => "unexpected end of input",
        Category::Syntax => "syntax error",
        Category::Data => "invalid data",
        Category::Io => "read error",
    }
}

/// `X-Vault-Wrap-TTL` as a duration.
pub(crate) fn wrap_ttl(headers: &HeaderMap) -> Result<Option<std::time::Duration>, CoreError> {
    let Some(v) = headers.get("x-vault-wrap-ttl") else {
        return Ok(None);
    };
    let s = v
        .to_str()
        .map_err(|_| CoreError::bad_request("invalid X-Vault-Wrap-TTL header"))?;
    // Bounded like every request duration, so the wrapping token's expiry stays representable.
    match secrethub_common::parse_duration(s) {
        Ok(d) if d <= secrethub_common::input::MAX_DURATION => Ok(Some(d)),
        _ => Err(CoreError::bad_request("invalid X-Vault-Wrap-TTL header")),
    }
}

/// The client address (the socket peer; forwarded headers are not trusted).
pub(crate) fn remote(addr: Option<std::net::SocketAddr>) -> Option<IpAddr> {
    addr.map(|a| a.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_queries_and_bodies() {
        let q = query_map(Some("version=2&list=true&x=a%2Fb+c"));
        assert_eq!(q["version"], "2");
        assert_eq!(q["x"], "a/b c");
        assert_eq!(method(&HttpMethod::GET, &q), Some(Method::List));
        assert!(json_body(b"").unwrap().is_empty());
        assert!(json_body(b"[1]").is_err());
        let e = json_body(b"{\"a\": ").unwrap_err().to_string();
        assert!(e.contains("failed to parse JSON input"), "{e}");
    }

    #[test]
    fn token_header_precedence() {
        let mut h = HeaderMap::new();
        h.insert("x-agent-token", "agent".parse().unwrap());
        assert_eq!(token(&h).unwrap().expose(), "agent");
        h.insert("authorization", "Bearer bearer".parse().unwrap());
        assert_eq!(token(&h).unwrap().expose(), "bearer");
        h.insert("x-vault-token", "vault".parse().unwrap());
        assert_eq!(token(&h).unwrap().expose(), "vault");
    }
}
