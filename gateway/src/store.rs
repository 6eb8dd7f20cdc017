//! Short-lived state: SSO sessions, login flow records, replay caches. Every entry has a TTL.
//! The in-memory store serves one process; a shared store (Redis) slots in behind the same trait.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("session store is full ({0} entries)")]
    Full(usize),
    #[error("session store unavailable: {0}")]
    Unavailable(String),
}

pub trait SessionStore: Send + Sync {
    fn put<'a>(&'a self, key: &'a str, value: Vec<u8>, ttl: Duration) -> StoreFuture<'a, ()>;
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>>;
    /// Atomic get-and-delete: of two concurrent takers, one gets the value.
    fn take<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>>;
    /// Store only when absent; `false` when the key already exists (replay detected).
    fn insert_if_absent<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> StoreFuture<'a, bool>;
    fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()>;
}

/// The default store: one process, bounded in entries, expired entries swept as it goes.
pub struct MemoryStore {
    inner: Mutex<Inner>,
    max_entries: usize,
}

struct Inner {
    map: HashMap<String, (Vec<u8>, Instant)>,
    ops_since_sweep: usize,
}

impl MemoryStore {
    pub fn new(max_entries: usize) -> Self {
        MemoryStore {
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                ops_since_sweep: 0,
            }),
            max_entries,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner, Instant) -> T) -> T {
        let mut g = match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let now = Instant::now();
        g.ops_since_sweep += 1;
        if g.ops_since_sweep >= 1024 {
            g.map.retain(|_, (_, exp)| *exp > now);
            g.ops_since_sweep = 0;
        }
        f(&mut g, now)
    }

    fn insert(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
        only_if_absent: bool,
    ) -> Result<bool, StoreError> {
        self.with(|g, now| {
            let live = g.map.get(key).is_some_and(|(_, exp)| *exp > now);
            if only_if_absent && live {
                return Ok(false);
            }
            if !live && g.map.len() >= self.max_entries {
                g.map.retain(|_, (_, exp)| *exp > now);
                if g.map.len() >= self.max_entries {
                    return Err(StoreError::Full(self.max_entries));
                }
            }
            g.map.insert(key.to_owned(), (value, now + ttl));
            Ok(true)
        })
    }
}

impl SessionStore for MemoryStore {
    fn put<'a>(&'a self, key: &'a str, value: Vec<u8>, ttl: Duration) -> StoreFuture<'a, ()> {
        let r = self.insert(key, value, ttl, false).map(|_| ());
        Box::pin(async move { r })
    }

    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        let r = self.with(|g, now| {
            g.map
                .get(key)
                .filter(|(_, exp)| *exp > now)
                .map(|(v, _)| v.clone())
        });
        Box::pin(async move { Ok(r) })
    }

    fn take<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        let r = self.with(|g, now| {
            g.map
                .remove(key)
                .filter(|(_, exp)| *exp > now)
                .map(|(v, _)| v)
        });
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
        self.with(|g, _| g.map.remove(key));
        Box::pin(async move { Ok(()) })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn take_is_once_and_ttl_expires() {
        let s = MemoryStore::new(10);
        s.put("a", b"1".to_vec(), Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(s.take("a").await.unwrap(), Some(b"1".to_vec()));
        assert_eq!(s.take("a").await.unwrap(), None);
        s.put("b", b"2".to_vec(), Duration::from_millis(1))
            .await
            .unwrap();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(s.get("b").await.unwrap(), None);
    }

    #[tokio::test]
    async fn replay_cache_and_capacity() {
        let s = MemoryStore::new(2);
        assert!(s
            .insert_if_absent("r", vec![], Duration::from_secs(60))
            .await
            .unwrap());
        assert!(!s
            .insert_if_absent("r", vec![], Duration::from_secs(60))
            .await
            .unwrap());
        s.put("x", vec![], Duration::from_secs(60)).await.unwrap();
        assert!(matches!(
            s.put("y", vec![], Duration::from_secs(60)).await,
            Err(StoreError::Full(2))
        ));
    }
}
