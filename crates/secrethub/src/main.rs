//! The `secrethub` binary: server, CLI and (later) agent in one executable.

fn main() -> std::process::ExitCode {
    secrethub_cli::main()
}
