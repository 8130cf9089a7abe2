//! The database engine's templates (`secrethub_database::fuzzing`): the first byte picks what
//! the rest of the input is.
//! - `u`: a `username_template`, then optionally a role name and a display name on the next
//!   lines; rendered names must be 1 to 63 characters of `[A-Za-z0-9_.@-]`.
//! - `s`: SQL statements (`{{name}}`, `{{password}}`, `{{expiration}}`), as one statement and
//!   as one per line; rendering must agree with validation and place the hashed password
//!   exactly in password literals.
//! - `p`: an inline `password_policy` (HCL), then one generated password.
//! - `e`: eight bytes, an `{{expiration}}` time to format.
#![no_main]
use libfuzzer_sys::fuzz_target;
use secrethub_database::fuzzing;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode == b'e' {
        let mut bytes = [0u8; 8];
        let n = rest.len().min(8);
        bytes[..n].copy_from_slice(&rest[..n]);
        fuzzing::expiration(i64::from_le_bytes(bytes));
        return;
    }
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match mode {
        b'u' => {
            let mut lines = text.splitn(3, '\n');
            let template = lines.next().unwrap_or_default();
            let role = lines.next().unwrap_or("readonly");
            let display_name = lines.next().unwrap_or("userpass-alice");
            fuzzing::username_template(template, role, display_name);
        }
        b's' => fuzzing::statements(text),
        b'p' => fuzzing::password_policy(text),
        _ => {}
    }
});
