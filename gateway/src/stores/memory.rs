//! The default store: one process, bounded in entries. Expiry follows the injected clock, and
//! expired entries leave in expiry order (an ordered index), so neither an insert nor a full
//! store scans the whole map under the lock.

use super::{FullWarning, SessionStore, StoreError, StoreFuture};
use certs::Clock;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct MemoryStore {
    inner: Mutex<Inner>,
    max_entries: usize,
    clock: Arc<dyn Clock>,
    warning: FullWarning,
}

struct Entry {
    value: Vec<u8>,
    /// (member name, value); a session has one per service provider, a handful.
    members: Vec<(Box<str>, Vec<u8>)>,
    /// Unix milliseconds.
    expires_at: i64,
    seq: u64,
}

#[derive(Default)]
struct Inner {
    map: HashMap<Arc<str>, Entry>,
    /// (expiry, sequence) -> key: the next entry to expire is always the first.
    by_expiry: BTreeMap<(i64, u64), Arc<str>>,
    next_seq: u64,
}

impl Inner {
    /// Drop every entry whose time has come; each removal costs O(log n).
    fn expire(&mut self, now: i64) {
        while let Some(entry) = self.by_expiry.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let key = entry.remove();
            self.map.remove(&key);
        }
    }

    fn remove(&mut self, key: &str) -> Option<Entry> {
        let e = self.map.remove(key)?;
        self.by_expiry.remove(&(e.expires_at, e.seq));
        Some(e)
    }
}

impl MemoryStore {
    pub fn new(max_entries: usize, clock: Arc<dyn Clock>) -> Self {
        MemoryStore {
            inner: Mutex::new(Inner::default()),
            max_entries,
            clock,
            warning: FullWarning::default(),
        }
    }

    /// Live entries (after expiring what is due).
    pub fn len(&self) -> usize {
        self.with(|g, _| g.map.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn now_millis(&self) -> i64 {
        (self.clock.now().unix_timestamp_nanos() / 1_000_000) as i64
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner, i64) -> T) -> T {
        let now = self.now_millis();
        let mut g = super::lock(&self.inner);
        g.expire(now);
        f(&mut g, now)
    }

    fn insert(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
        only_if_absent: bool,
    ) -> Result<bool, StoreError> {
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 4);
        let r = self.with(|g, now| {
            let live = g.map.contains_key(key);
            if only_if_absent && live {
                return Ok(false);
            }
            if !live && g.map.len() >= self.max_entries {
                return Err(StoreError::Full {
                    kind: "sessions",
                    capacity: self.max_entries,
                });
            }
            let members = g.remove(key).map(|e| e.members).unwrap_or_default();
            let key: Arc<str> = Arc::from(key);
            let seq = g.next_seq;
            g.next_seq += 1;
            let expires_at = now.saturating_add(ttl_ms);
            g.by_expiry.insert((expires_at, seq), key.clone());
            g.map.insert(
                key,
                Entry {
                    value,
                    members,
                    expires_at,
                    seq,
                },
            );
            Ok(true)
        });
        if let Err(StoreError::Full { .. }) = &r {
            self.warning
                .full("sessions", self.max_entries, &*self.clock);
        }
        r
    }
}

impl SessionStore for MemoryStore {
    fn put<'a>(&'a self, key: &'a str, value: Vec<u8>, ttl: Duration) -> StoreFuture<'a, ()> {
        let r = self.insert(key, value, ttl, false).map(|_| ());
        Box::pin(async move { r })
    }

    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        let r = self.with(|g, _| g.map.get(key).map(|e| e.value.clone()));
        Box::pin(async move { Ok(r) })
    }

    fn take<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        let r = self.with(|g, _| g.remove(key).map(|e| e.value));
        Box::pin(async move { Ok(r) })
    }

    fn insert_if_absent<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        let r = self.insert(key, value, ttl, true);
        Box::pin(async move { r })
    }

    fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        self.with(|g, _| g.remove(key));
        Box::pin(async move { Ok(()) })
    }

    fn add_member<'a>(
        &'a self,
        key: &'a str,
        member: &'a str,
        value: Vec<u8>,
    ) -> StoreFuture<'a, bool> {
        let added = self.with(|g, _| {
            let Some(e) = g.map.get_mut(key) else {
                return false;
            };
            match e.members.iter_mut().find(|(m, _)| &**m == member) {
                Some((_, v)) => *v = value,
                None => e.members.push((member.into(), value)),
            }
            true
        });
        Box::pin(async move { Ok(added) })
    }

    fn members<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Vec<Vec<u8>>> {
        let r = self.with(|g, _| {
            g.map
                .get(key)
                .map(|e| e.members.iter().map(|(_, v)| v.clone()).collect())
                .unwrap_or_default()
        });
        Box::pin(async move { Ok(r) })
    }

    fn sweep(&self) {
        self.with(|g, _| {
            // After a peak the map keeps its size: give the room back once it is mostly empty.
            if g.map.capacity() > 1024 && g.map.len() < g.map.capacity() / 4 {
                g.map.shrink_to_fit();
            }
        });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use certs::ManualClock;

    fn store(max: usize) -> (MemoryStore, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(
            time::macros::datetime!(2026-01-01 0:00 UTC),
        ));
        (MemoryStore::new(max, clock.clone()), clock)
    }

    #[tokio::test]
    async fn take_is_once_and_ttl_follows_the_clock() {
        let (s, clock) = store(10);
        s.put("a", b"1".to_vec(), Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(s.take("a").await.unwrap(), Some(b"1".to_vec()));
        assert_eq!(s.take("a").await.unwrap(), None);
        s.put("b", b"2".to_vec(), Duration::from_secs(60))
            .await
            .unwrap();
        clock.advance(time::Duration::seconds(59));
        assert_eq!(s.get("b").await.unwrap(), Some(b"2".to_vec()));
        clock.advance(time::Duration::seconds(1));
        assert_eq!(s.get("b").await.unwrap(), None);
        assert!(s.is_empty());
    }

    #[tokio::test]
    async fn replay_cache_and_capacity() {
        let (s, clock) = store(2);
        assert!(s
            .insert_if_absent("r", vec![], Duration::from_secs(60))
            .await
            .unwrap());
        assert!(!s
            .insert_if_absent("r", vec![], Duration::from_secs(60))
            .await
            .unwrap());
        s.put("x", vec![], Duration::from_secs(120)).await.unwrap();
        assert!(matches!(
            s.put("y", vec![], Duration::from_secs(60)).await,
            Err(StoreError::Full { capacity: 2, .. })
        ));
        // Replacing a live key is not a new entry.
        s.put("x", vec![1], Duration::from_secs(120)).await.unwrap();
        // Once the first entry expires there is room again, and the replay entry is gone.
        clock.advance(time::Duration::seconds(60));
        s.put("y", vec![], Duration::from_secs(60)).await.unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s.get("x").await.unwrap(), Some(vec![1]));
    }

    #[tokio::test]
    async fn a_replaced_entry_keeps_only_its_new_expiry() {
        let (s, clock) = store(10);
        s.put("k", vec![1], Duration::from_secs(10)).await.unwrap();
        s.put("k", vec![2], Duration::from_secs(100)).await.unwrap();
        clock.advance(time::Duration::seconds(50));
        assert_eq!(s.get("k").await.unwrap(), Some(vec![2]));
        s.delete("k").await.unwrap();
        assert!(s.is_empty());
    }
}
