//! The command tree of the `secrethub` binary.

/// Entry point called by the binary.
pub fn main() -> std::process::ExitCode {
    std::process::ExitCode::SUCCESS
}
