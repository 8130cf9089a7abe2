//! The audit log's line parser and hash-chain check (`verify_file`, `verify_keyed`): the input
//! is written to a per-process file (in /dev/shm, else the temp directory) and verified from
//! there, since the public API reads files. scripts/fuzz removes the file afterwards.
#![no_main]
use libfuzzer_sys::fuzz_target;
use secrethub_audit::{verify_file, verify_keyed, ChainHead, ExpectedChain};
use std::sync::OnceLock;

fn path() -> &'static std::path::PathBuf {
    static PATH: OnceLock<std::path::PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        // Memory-backed when the machine has it: on a disk-backed /tmp the writes hold this
        // target to about 1,000 executions a second, in /dev/shm about 20,000.
        let shm = std::path::Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        dir.join(format!("secrethub-fuzz-audit-{}.log", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    let path = path();
    std::fs::write(path, data).expect("write the temp audit log");
    let _ = verify_file(path);
    let expected = ExpectedChain {
        keyed_from: 1,
        head: Some(ChainHead {
            seq: 2,
            mac: "hmac-sha256:00".into(),
        }),
    };
    let _ = verify_keyed(path, b"fuzz-chain-key", &expected);
    let _ = verify_keyed(
        path,
        b"",
        &ExpectedChain {
            keyed_from: 0,
            head: None,
        },
    );
});
