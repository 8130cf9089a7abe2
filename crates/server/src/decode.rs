//! Decoding an HTTP request into a `CoreRequest`: method (LIST and `?list=true`), token
//! headers (`X-Vault-Token`, `Authorization: Bearer`, `X-Agent-Token`), JSON body or query
//! parameters, `X-Vault-Wrap-TTL`.
//!
//! Every request body of every route (`/v1`, the seal routes, the seed's `/api/v1/...` and
//! `/v1/secrets/dynamic`) is decoded by [`json_body`], which refuses a body nested deeper
//! than [`MAX_BODY_DEPTH`] before parsing it. Query strings are flat.

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

/// How deeply a request body's arrays and objects may nest; the body's own object is level 1.
///
/// Whatever a request carries is stored inside the server's own JSON (a KV v2 key record, a
/// wrapped response in a cubbyhole record, a lease, an audit entry) and read back with
/// serde_json, which refuses more than 127 nested levels. A body that parsed but whose record
/// does not is stored for good and never read again (every later read, write, delete or
/// destroy of that key is a 500). So one bound, checked here where bodies are decoded, keeps
/// everything stored readable: the deepest wrapper adds 3 levels (an audit entry of a seed
/// `/api/v1/secrets` read: `response.data.data` around the body's content), and 64 leaves
/// more than 60 levels of margin for wrappers to come. Engines' generated data nests no
/// deeper than their input, so wrapping their answers stays bounded too. Real secrets nest a
/// handful of levels.
pub const MAX_BODY_DEPTH: usize = 64;

/// The JSON object of a write; an empty body is an empty object.
pub(crate) fn json_body(bytes: &[u8]) -> Result<JsonMap, CoreError> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(JsonMap::new());
    }
    if nesting_exceeds(bytes, MAX_BODY_DEPTH) {
        return Err(CoreError::bad_request(format!(
            "request body is nested too deeply (limit {MAX_BODY_DEPTH})"
        )));
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

/// Whether the arrays and objects of JSON text nest deeper than `limit` levels: one pass over
/// the bytes, skipping strings (with their escapes), so `"[[["` counts nothing. On valid JSON
/// the count is exact; on invalid JSON the answer does not matter, the parser refuses it.
/// Strings are skipped with `memchr2` to their next quote or backslash rather than byte by
/// byte: a write's body is mostly string (transit's base64 plaintext), and the byte loop was
/// 3 % of the server's CPU on transit encrypt.
fn nesting_exceeds(bytes: &[u8], limit: usize) -> bool {
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        i += 1;
        match b {
            b'"' => loop {
                let Some(rest) = bytes.get(i..) else {
                    return false;
                };
                match memchr::memchr2(b'"', b'\\', rest) {
                    // Unterminated: the parser refuses it.
                    None => return false,
                    // An escape: skip the backslash and the byte it escapes.
                    Some(j) if rest[j] == b'\\' => i += j + 2,
                    Some(j) => {
                        i += j + 1;
                        break;
                    }
                }
            },
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
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

/// The `Content-Type` of a write whose body is not JSON: any media type but JSON (`*/json`,
/// `*+json`), form (`application/x-www-form-urlencoded`, what curl sends by default) and
/// text, which are all read as JSON as Vault does. Such a body reaches only a path that
/// takes it (`PathFlags::raw_body`, e.g. an OCSP request in DER).
pub(crate) fn raw_content_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(http::header::CONTENT_TYPE)?.to_str().ok()?;
    let media = value.split(';').next()?.trim().to_ascii_lowercase();
    let json_like = media.is_empty()
        || media.ends_with("/json")
        || media.ends_with("+json")
        || media.starts_with("text/")
        || media == "application/x-www-form-urlencoded";
    (!json_like).then(|| value.trim().to_string())
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

    /// `depth` nested objects, the innermost holding `inner`.
    fn nested(depth: usize, inner: &str) -> String {
        format!("{}{inner}{}", "{\"a\":".repeat(depth), "}".repeat(depth))
    }

    #[test]
    fn depth_scan_counts_containers_not_strings() {
        assert!(!nesting_exceeds(b"{}", 1));
        assert!(nesting_exceeds(b"{\"a\":[]}", 1));
        assert!(!nesting_exceeds(b"{\"a\":[1,{}],\"b\":{}}", 3));
        assert!(nesting_exceeds(b"{\"a\":[1,{\"b\":[]}]}", 3));
        // Brackets inside strings, keys and values, do not count, escaped quotes and
        // backslashes do not end a string early, and `\u` escapes are plain text.
        let tricky = br#"{"[[[{{": "]]]}}{{[[", "q\"[[\"": "\\", "u": "\u005b[", "x": "\\\"{{"}"#;
        assert!(!nesting_exceeds(tricky, 1));
        assert!(
            nesting_exceeds(br#"{"a\\": ["]"]}"#, 1),
            "the string ends after \\"
        );
        assert!(!nesting_exceeds(br#"{"a\"": "]"}"#, 1));
        // Closing brackets never go below zero, and the limit itself is accepted.
        assert!(!nesting_exceeds(b"]]]]{}", 1));
        let at = nested(MAX_BODY_DEPTH - 1, "[]");
        assert!(!nesting_exceeds(at.as_bytes(), MAX_BODY_DEPTH));
        assert!(nesting_exceeds(
            nested(MAX_BODY_DEPTH, "[]").as_bytes(),
            MAX_BODY_DEPTH
        ));
    }

    /// The byte-by-byte scan `nesting_exceeds` replaced, as the reference.
    fn nesting_exceeds_bytewise(bytes: &[u8], limit: usize) -> bool {
        let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
        for &b in bytes {
            if in_string {
                match b {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    b'"' => in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'[' | b'{' => {
                    depth += 1;
                    if depth > limit {
                        return true;
                    }
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        false
    }

    #[test]
    fn nesting_scan_agrees_with_the_bytewise_scan_on_every_short_input() {
        // Every text of up to 6 bytes over the characters that matter, at limits 1 and 2.
        let alphabet = b"[]{}\"\\a";
        let mut checked = 0;
        for len in 0..=6u32 {
            for mut n in 0..alphabet.len().pow(len) {
                let mut text = Vec::with_capacity(len as usize);
                for _ in 0..len {
                    text.push(alphabet[n % alphabet.len()]);
                    n /= alphabet.len();
                }
                for limit in [1, 2] {
                    assert_eq!(
                        nesting_exceeds(&text, limit),
                        nesting_exceeds_bytewise(&text, limit),
                        "{:?} at limit {limit}",
                        String::from_utf8_lossy(&text)
                    );
                }
                checked += 1;
            }
        }
        assert_eq!(checked, (0..=6).map(|l| 7usize.pow(l)).sum::<usize>());
    }

    #[test]
    fn json_body_refuses_deep_bodies_before_parsing() {
        let at = nested(MAX_BODY_DEPTH, "1");
        assert!(json_body(at.as_bytes()).is_ok());
        let over = nested(MAX_BODY_DEPTH + 1, "1");
        let e = json_body(over.as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("request body is nested too deeply (limit {MAX_BODY_DEPTH})")
        );
        // Deeper than serde_json's own limit, and unterminated: still the depth error.
        let e = json_body("[".repeat(10_000).as_bytes()).unwrap_err();
        assert!(e.to_string().contains("nested too deeply"), "{e}");
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
