//! Live heap per replay entry, measured: a counting allocator around the system one, a million
//! markers claimed at an SSO-hit pace across the replay window, the heap read at every step.
//! The bound (at most 64 bytes per entry, issue 16) must hold at every size, including just
//! after the sets grow; and once the markers expire, their memory is freed.
//!
//! One test in this binary, so that no other test allocates while it counts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use certs::{ManualClock, SystemRandomSource};
use gateway::stores::{MarkerStore, MemoryMarkers, BUCKET_SECONDS};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            LIVE.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        p
    }
}

#[global_allocator]
static A: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

#[tokio::test(flavor = "current_thread")]
async fn a_replay_entry_costs_at_most_64_bytes_of_live_heap_and_is_freed_when_it_expires() {
    // 1,434 a second fills each 10-second bucket just past a growth of its set (the worst
    // load factor); 2,000 and 3,000 are this machine's SSO-hit rates.
    for per_second in [1_434u32, 2_000, 3_000] {
        measure(per_second, 600_000).await;
    }
}

async fn measure(per_second: u32, total: u32) {
    let clock = Arc::new(ManualClock::new(
        time::macros::datetime!(2026-06-01 12:00 UTC),
    ));
    let markers =
        MemoryMarkers::new("replay", 10_000_000, clock.clone(), &SystemRandomSource).unwrap();
    let ttl = Duration::from_secs(900);
    let before = live();
    let mut worst = 0f64;
    let mut id = [0u8; 32];
    for n in 0..total {
        id[..4].copy_from_slice(&n.to_be_bytes());
        assert!(markers.claim(&id, ttl).await.unwrap());
        if n % per_second == per_second - 1 {
            clock.advance(time::Duration::seconds(1));
        }
        if n % 50_000 == 49_999 {
            let per_entry = (live() - before) as f64 / f64::from(n + 1);
            worst = worst.max(per_entry);
        }
    }
    assert_eq!(markers.len(), total as usize);
    eprintln!(
        "{per_second}/s: {total} markers in {} buckets, worst {worst:.1} B per marker",
        markers.buckets()
    );
    assert!(worst <= 64.0, "{worst:.1} bytes of live heap per marker");
    // Every marker expires within its TTL and one bucket; then its memory is freed.
    clock.advance(time::Duration::seconds(
        900 + BUCKET_SECONDS + i64::from(total / per_second),
    ));
    // The periodic sweep alone (no request comes) frees them.
    markers.sweep();
    let left = live() - before;
    assert!(
        left < 4096,
        "{left} bytes still live after every marker expired"
    );
}
