//! What the main listener's rate limiter holds in memory: bytes per client remembered, and the
//! cap on clients (a flood from ever new addresses stops growing the map at the cap).
//!
//! `cargo test -p gateway --test edge_memory -- --nocapture` prints the numbers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use gateway::web::edge::{ClientLimiter, RateLimit, MAX_TRACKED_CLIENTS};
use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, counting the bytes in use.
struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        IN_USE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        IN_USE.fetch_add(new_size, Ordering::Relaxed);
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The i-th client: its own IPv6 /64 under the documentation prefix (nothing is sent anywhere).
fn client(i: u64) -> IpAddr {
    IpAddr::V6(Ipv6Addr::from(
        (0x2001_0db8_u128 << 96) | (u128::from(i) << 64) | 1,
    ))
}

#[test]
fn bytes_per_client_and_the_cap() {
    let limiter = ClientLimiter::new(RateLimit::DEFAULT);
    let before = IN_USE.load(Ordering::Relaxed);
    let mut samples = Vec::new();
    for n in 1..=MAX_TRACKED_CLIENTS as u64 {
        limiter.check(client(n)).unwrap();
        if n.is_power_of_two() || n == MAX_TRACKED_CLIENTS as u64 {
            samples.push((n, IN_USE.load(Ordering::Relaxed) - before));
        }
    }
    for (n, bytes) in &samples {
        println!(
            "{n:>7} clients: {bytes:>9} bytes, {:.1} bytes a client",
            *bytes as f64 / *n as f64
        );
    }
    let at_cap = IN_USE.load(Ordering::Relaxed) - before;
    let per_client = at_cap as f64 / MAX_TRACKED_CLIENTS as f64;
    // A 16-byte key and 8 bytes of state per bucket, a control byte, and spare capacity of at
    // most twice the entries.
    assert!(per_client <= 64.0, "{per_client} bytes a client");
    assert!(at_cap <= 8 << 20, "{at_cap} bytes at the cap");

    // Past the cap, new clients share the overflow bucket: the map does not grow.
    for n in 0..50_000u64 {
        let _ = limiter.check(client(MAX_TRACKED_CLIENTS as u64 + 1 + n));
    }
    let past_cap = IN_USE.load(Ordering::Relaxed) - before;
    println!("{past_cap} bytes after 50000 more clients past the cap of {MAX_TRACKED_CLIENTS}");
    assert!(past_cap <= at_cap + 1024, "{past_cap} > {at_cap}");
}
