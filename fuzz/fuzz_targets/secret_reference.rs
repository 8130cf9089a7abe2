//! The agent's `${secret:[PROVIDER:]PATH[#FIELD][|DEFAULT]}` reference parser
//! (`secrethub_agent::reference::parse`). The module is compiled in from its source file: it
//! depends only on std, thiserror and secrethub-common, while the agent crate would bring its
//! whole HTTP/TLS stack into the fuzz build (minutes of instrumented compilation for nothing).
#![no_main]
use libfuzzer_sys::fuzz_target;

#[allow(dead_code, unreachable_pub)]
#[path = "../../crates/agent/src/reference.rs"]
mod reference;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = reference::parse(text) {
        let _ = e.to_string();
        let _ = e.kind();
    }
});
