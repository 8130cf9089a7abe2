//! The jwt auth method's token handling (`secrethub_auth_jwt::fuzzing`): compact JWS parsing
//! with the algorithm policy, signature checks against fixed keys, Vault's time rules and the
//! claim helpers (lookup by name and JSON pointer, globs, bound claims, audiences, metadata).
//! The first byte picks what the input is:
//! - `h`: a header and a payload (JSON, one line each) and optionally a signature on a third
//!   line, encoded into a token here so mutations reach the JSON;
//! - `c`: a claims object (JSON), checked without a token around it;
//! - `k`: a JWKS document;
//! - anything else: the whole input is the token as a login sends it (`eyJ…`).
#![no_main]
use libfuzzer_sys::fuzz_target;
use secrethub_auth_jwt::fuzzing;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode {
        b'h' => {
            let mut lines = rest.splitn(3, |b| *b == b'\n');
            let header = lines.next().unwrap_or_default();
            let payload = lines.next().unwrap_or_default();
            let signature = lines.next().unwrap_or(b"c2ln");
            if let Ok(signature) = std::str::from_utf8(signature) {
                fuzzing::parts(header, payload, signature);
            }
        }
        b'c' => fuzzing::claims_json(rest),
        b'k' => fuzzing::jwks(rest),
        _ => {
            if let Ok(token) = std::str::from_utf8(data) {
                fuzzing::token(token);
            }
        }
    }
});
