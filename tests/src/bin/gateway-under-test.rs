//! The gateway's command line, built inside the test crate so that its end-to-end tests can run
//! it as a child process (`CARGO_BIN_EXE_gateway-under-test`; a binary of another package has no
//! such variable): the same `main` as the `gateway` binary.

fn main() -> std::process::ExitCode {
    gateway::app::cli::main()
}
