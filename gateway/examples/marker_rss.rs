//! What the process keeps of a replay store after its entries expire: four threads claim
//! markers (as the runtime's workers do under SSO hits) across 10-second buckets on a manual
//! clock, then the clock passes every marker's TTL, the sweep drops them, and the process's RSS
//! is printed at each step and for a while after (the OS's own background work included).
//!
//! `cargo run --release -p gateway --example marker_rss [MARKERS]` (default 3,000,000); with
//! `--no-default-features` the same on the system allocator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use certs::{ManualClock, SystemRandomSource};
use gateway::stores::{MarkerStore, MemoryMarkers};
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb / 1024.0
}

fn main() {
    // As the gateway binary sets it (gateway/src/main.rs), unless PURGE_DELAY_MS says otherwise.
    #[cfg(feature = "mimalloc")]
    {
        let delay: std::os::raw::c_long = std::env::var("PURGE_DELAY_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        // SAFETY: sets one of mimalloc's integer options (15: mi_option_purge_delay).
        unsafe { libmimalloc_sys::mi_option_set(15, delay) };
    }
    let total: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3_000_000);
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let markers = Arc::new(
        MemoryMarkers::new("replay", 100_000_000, clock.clone(), &SystemRandomSource).unwrap(),
    );
    let ttl = Duration::from_secs(900);
    println!("start: {:.1} MB", rss_mb());
    let per_bucket = 27_000u32;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut n = 0u32;
    while n < total {
        let batch = per_bucket.min(total - n);
        let threads: Vec<_> = (0..4u32)
            .map(|t| {
                let markers = markers.clone();
                std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .build()
                        .unwrap();
                    for i in (t..batch).step_by(4) {
                        let mut id = [0u8; 32];
                        id[..4].copy_from_slice(&(n + i).to_be_bytes());
                        assert!(rt.block_on(markers.claim(&id, ttl)).unwrap());
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        n += batch;
        clock.advance(time::Duration::seconds(10));
    }
    drop(rt);
    println!(
        "{} markers in {} buckets: {:.1} MB",
        markers.len(),
        markers.buckets(),
        rss_mb()
    );
    clock.advance(time::Duration::seconds(1000));
    markers.sweep();
    println!(
        "all expired, swept: {:.1} MB ({} left)",
        rss_mb(),
        markers.len()
    );

    for s in 1..=6 {
        std::thread::sleep(Duration::from_secs(5));
        println!("idle {:>2} s: {:.1} MB", s * 5, rss_mb());
    }
}
