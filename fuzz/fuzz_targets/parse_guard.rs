//! `secrethub_common::parse_guard`, the size and nesting check every policy and config text
//! passes before its parser.
#![no_main]
use libfuzzer_sys::fuzz_target;
use secrethub_common::parse_guard::{check, ParseLimits};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = check(text, ParseLimits::POLICY);
    let _ = check(text, ParseLimits::CONFIG);
    let _ = check(
        text,
        ParseLimits {
            max_bytes: 64,
            max_depth: 2,
        },
    );
});
