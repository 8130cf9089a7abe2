//! The `secrethub` binary: server and CLI in one executable. This crate is the composition
//! root: it registers the engines and chooses storage; everything else lives in libraries.

mod compose;

fn main() -> std::process::ExitCode {
    secrethub_cli::main_with(compose::run_server)
}
