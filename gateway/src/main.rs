//! `gateway serve | check-config | dev`: see [`gateway::app::cli`].

/// mimalloc: against glibc's malloc on the SSO-hit load, 50% more hits a second (docs/
/// benchmarks.md, "Memory under load"). Built without transparent huge pages (the `no_thp`
/// feature), and set below to give freed memory back to the OS at once.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    #[cfg(feature = "mimalloc")]
    return_freed_memory_at_once();
    gateway::app::cli::main()
}

/// mimalloc's `purge_delay` (milliseconds before freed memory goes back to the OS; 1,000 by
/// default) set to 0. Delayed purges run only when the process next allocates, so an idle
/// gateway whose entries expired kept their memory; purging at once, the expired replay
/// entries' RSS goes (gateway/examples/marker_rss.rs: 51.5 MB to 3.8 MB after the sweep).
#[cfg(feature = "mimalloc")]
fn return_freed_memory_at_once() {
    /// `mi_option_purge_delay` in mimalloc.h (v2 and v3), which libmimalloc-sys does not name.
    const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: sets one of mimalloc's integer options; no pointer is passed, and options may be
    // set at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}
