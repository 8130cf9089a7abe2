//! The `secrethub` binary: server and CLI in one executable. This crate is the composition
//! root: it registers the engines and chooses storage; everything else lives in libraries.

mod compose;

/// mimalloc instead of glibc's malloc: the request paths allocate a lot of small, short-lived
/// buffers (JSON values, base64, responses), and malloc/free were 9 % of the server's CPU on
/// transit encrypt (BENCHMARKS "Transit").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    secrethub_cli::main_with(compose::run_server)
}
