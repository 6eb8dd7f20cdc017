//! `gateway serve | check-config | dev`: see [`gateway::app::cli`].

fn main() -> std::process::ExitCode {
    gateway::app::cli::main()
}
