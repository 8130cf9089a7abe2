//! `server.hcl`: `secrethub_config::parse` (and `parse_raw`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = secrethub_config::parse_raw(text);
    if let Err(e) = secrethub_config::parse(text, std::path::Path::new("/etc/secrethub")) {
        let _ = e.to_string();
    }
});
