//! Single-use markers in one process's memory: "this ID was used" until a time, for replay
//! entries (an AuthnRequest answered with an assertion) and single-use markers (an upstream
//! callback's state, a certificate capture).
//!
//! Each marker is a 16-byte keyed digest and nothing else: the 32-byte SHA-256 the flows give is
//! hashed again with a random per-process salt and cut to 128 bits (no one can aim collisions at
//! a salt they never see; 2^64 markers would be needed for a chance collision). Markers live in
//! time buckets ([`BUCKET_SECONDS`] wide) by the time they expire: a marker lives up to one
//! bucket longer than asked (never shorter), and expiry drops whole buckets, so it costs one
//! free per bucket, never a scan. A lookup asks every live bucket (at most TTL / bucket width
//! of them). Live heap per marker: the set's slot (16 bytes and one control byte) over its load
//! factor (7/8 when full, 7/16 just after it grows), 19 to 39 bytes; `tests/marker_memory.rs`
//! measures it.

use super::{FullWarning, MarkerStore, StoreError, StoreFuture};
use certs::Clock;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The width of one expiry bucket.
pub const BUCKET_SECONDS: i64 = 10;

pub struct MemoryMarkers {
    kind: &'static str,
    capacity: usize,
    salt: [u8; 32],
    clock: Arc<dyn Clock>,
    inner: Mutex<Buckets>,
    warning: FullWarning,
}

#[derive(Default)]
struct Buckets {
    /// Bucket end (unix seconds) -> the markers that expire by then.
    by_end: BTreeMap<i64, HashSet<[u8; 16]>>,
    len: usize,
}

impl Buckets {
    fn expire(&mut self, now: i64) {
        while let Some(entry) = self.by_end.first_entry() {
            if *entry.key() > now {
                break;
            }
            self.len -= entry.remove().len();
        }
    }

    fn contains(&self, key: &[u8; 16]) -> bool {
        self.by_end.values().any(|b| b.contains(key))
    }
}

impl MemoryMarkers {
    /// `kind` names the markers in errors and warnings (`replay`, `single_use`).
    pub fn new(
        kind: &'static str,
        capacity: usize,
        clock: Arc<dyn Clock>,
        rng: &dyn certs::RandomSource,
    ) -> Result<MemoryMarkers, certs::CertError> {
        let mut salt = [0u8; 32];
        rng.fill(&mut salt)?;
        Ok(MemoryMarkers {
            kind,
            capacity,
            salt,
            clock,
            inner: Mutex::new(Buckets::default()),
            warning: FullWarning::default(),
        })
    }

    /// Live markers (after dropping the expired buckets).
    pub fn len(&self) -> usize {
        self.with(|b, _| b.len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Live buckets, for tests and the heap measurement.
    pub fn buckets(&self) -> usize {
        self.with(|b, _| b.by_end.len())
    }

    fn key(&self, id: &[u8; 32]) -> [u8; 16] {
        let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        ctx.update(&self.salt);
        ctx.update(id);
        let d = ctx.finish();
        let mut k = [0u8; 16];
        k.copy_from_slice(&d.as_ref()[..16]);
        k
    }

    fn with<T>(&self, f: impl FnOnce(&mut Buckets, i64) -> T) -> T {
        let now = self.clock.now().unix_timestamp();
        let mut g = super::lock(&self.inner);
        g.expire(now);
        f(&mut g, now)
    }

    fn claim_now(&self, id: &[u8; 32], ttl: Duration) -> Result<bool, StoreError> {
        let key = self.key(id);
        let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 4).max(1);
        let r = self.with(|b, now| {
            if b.contains(&key) {
                return Ok(false);
            }
            if b.len >= self.capacity {
                return Err(StoreError::Full {
                    kind: self.kind,
                    capacity: self.capacity,
                });
            }
            let expires = now.saturating_add(ttl);
            let end = expires.div_euclid(BUCKET_SECONDS).saturating_add(1) * BUCKET_SECONDS;
            b.by_end.entry(end).or_default().insert(key);
            b.len += 1;
            Ok(true)
        });
        if let Err(StoreError::Full { .. }) = &r {
            self.warning.full(self.kind, self.capacity, &*self.clock);
        }
        r
    }
}

impl MarkerStore for MemoryMarkers {
    fn claim<'a>(&'a self, id: &'a [u8; 32], ttl: Duration) -> StoreFuture<'a, bool> {
        let r = self.claim_now(id, ttl);
        Box::pin(async move { r })
    }

    fn contains<'a>(&'a self, id: &'a [u8; 32]) -> StoreFuture<'a, bool> {
        let key = self.key(id);
        let r = self.with(|b, _| b.contains(&key));
        Box::pin(async move { Ok(r) })
    }

    fn sweep(&self) {
        self.with(|_, _| ());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use certs::{ManualClock, SystemRandomSource};

    fn markers(capacity: usize) -> (MemoryMarkers, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(
            time::macros::datetime!(2026-01-01 0:00 UTC),
        ));
        let m = MemoryMarkers::new("replay", capacity, clock.clone(), &SystemRandomSource).unwrap();
        (m, clock)
    }

    fn id(n: u32) -> [u8; 32] {
        let mut id = [0u8; 32];
        id[..4].copy_from_slice(&n.to_be_bytes());
        id
    }

    #[tokio::test]
    async fn a_marker_is_claimed_once_and_lives_at_least_its_ttl() {
        let (m, clock) = markers(10);
        let ttl = Duration::from_secs(420);
        assert!(m.claim(&id(1), ttl).await.unwrap());
        assert!(!m.claim(&id(1), ttl).await.unwrap());
        assert!(m.contains(&id(1)).await.unwrap());
        assert!(!m.contains(&id(2)).await.unwrap());
        clock.advance(time::Duration::seconds(420));
        assert!(!m.claim(&id(1), ttl).await.unwrap(), "gone before its TTL");
        // No later than one bucket after it.
        clock.advance(time::Duration::seconds(BUCKET_SECONDS));
        assert!(
            !m.contains(&id(1)).await.unwrap(),
            "kept past TTL + a bucket"
        );
        assert!(m.is_empty());
    }

    #[tokio::test]
    async fn a_full_kind_refuses_until_its_oldest_bucket_expires() {
        let (m, clock) = markers(3);
        let ttl = Duration::from_secs(60);
        assert!(m.claim(&id(1), ttl).await.unwrap());
        clock.advance(time::Duration::seconds(30));
        assert!(m.claim(&id(2), ttl).await.unwrap());
        assert!(m.claim(&id(3), ttl).await.unwrap());
        match m.claim(&id(4), ttl).await {
            Err(StoreError::Full { kind, capacity }) => {
                assert_eq!((kind, capacity), ("replay", 3));
            }
            other => panic!("{other:?}"),
        }
        // A used ID is still refused as used while full (not as full).
        assert!(!m.claim(&id(2), ttl).await.unwrap());
        // The first marker's bucket ends at most a bucket after its TTL; then there is room.
        clock.advance(time::Duration::seconds(30 + BUCKET_SECONDS));
        assert_eq!(m.len(), 2);
        assert!(m.claim(&id(4), ttl).await.unwrap());
    }

    #[tokio::test]
    async fn expiry_drops_whole_buckets() {
        let (m, clock) = markers(100_000);
        for n in 0..1_000 {
            assert!(m.claim(&id(n), Duration::from_secs(100)).await.unwrap());
            if n % 100 == 99 {
                clock.advance(time::Duration::seconds(BUCKET_SECONDS));
            }
        }
        assert_eq!(m.buckets(), 10);
        clock.advance(time::Duration::seconds(
            100 - 10 * BUCKET_SECONDS + BUCKET_SECONDS,
        ));
        assert_eq!(m.len(), 900, "the first bucket went at once");
        clock.advance(time::Duration::seconds(10 * BUCKET_SECONDS));
        assert_eq!((m.len(), m.buckets()), (0, 0));
    }
}
