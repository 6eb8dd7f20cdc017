//! `gateway serve | check-config | dev`: see [`gateway::app::cli`].

/// mimalloc: against glibc's malloc on the SSO-hit load, 50% more hits a second and a third
/// less growth per hit (docs/benchmarks.md, "Memory under load").
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    gateway::app::cli::main()
}
