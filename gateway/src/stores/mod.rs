//! Short-lived state kept after the citizen has authenticated: SSO sessions, replay entries and
//! single-use markers, each kind bounded on its own. The store traits, where each kind of record
//! lives (one key layout, one prefix), and the in-memory stores that serve one process. A shared
//! store (Redis) slots in behind the same traits.

mod markers;
mod memory;

pub use markers::{MemoryMarkers, BUCKET_SECONDS};
pub use memory::MemoryStore;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// This kind of entry is at its configured capacity; other kinds go on.
    #[error("{kind} store is full ({capacity} entries)")]
    Full { kind: &'static str, capacity: usize },
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
    /// Drop what has expired (a store that expires on its own does nothing). Called every few
    /// seconds, so that an idle gateway gives memory back too.
    fn sweep(&self) {}
}

/// "This ID was used", until a time: replay entries and single-use markers. The ID is a SHA-256
/// the flows computed over what identifies the use (never the secret itself).
pub trait MarkerStore: Send + Sync {
    /// Record `id` as used for at least `ttl`; `false` when it already was (a replay).
    fn claim<'a>(&'a self, id: &'a [u8; 32], ttl: Duration) -> StoreFuture<'a, bool>;
    /// Whether `id` is recorded (nothing is written).
    fn contains<'a>(&'a self, id: &'a [u8; 32]) -> StoreFuture<'a, bool>;
    /// Drop what has expired (see [`SessionStore::sweep`]).
    fn sweep(&self) {}
}

/// How often the gateway sweeps its in-memory stores.
pub const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// One warning a minute, per kind, while a kind refuses work because it is full (a flood would
/// otherwise write a log line per refused request).
#[derive(Default)]
pub struct FullWarning {
    /// Unix seconds of the last warning; 0 = never.
    last: std::sync::atomic::AtomicI64,
    /// Refusals since the last warning.
    refused: std::sync::atomic::AtomicU64,
}

impl FullWarning {
    pub fn full(&self, kind: &'static str, capacity: usize, clock: &dyn certs::Clock) {
        use std::sync::atomic::Ordering;
        let refused = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
        let now = clock.now().unix_timestamp();
        let last = self.last.load(Ordering::Relaxed);
        if last != 0 && now - last < 60 {
            return;
        }
        if self
            .last
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            self.refused.store(0, Ordering::Relaxed);
            tracing::warn!(kind, capacity, refused_since_last_warning = refused,
                "the {kind} store is full: new work of this kind is refused (503) until entries expire; raise its capacity in [session] if this is legitimate load");
        }
    }
}

/// The kinds of record the gateway stores. Login flows are not among them: they travel sealed
/// in the browser until the citizen has authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    /// A single sign-on session.
    Session,
    /// One per AuthnRequest answered with an assertion: exactly one assertion per request.
    Replay,
    /// One per upstream callback state used.
    SingleUse,
}

impl RecordKind {
    fn tag(self) -> &'static str {
        match self {
            RecordKind::Session => "sso",
            RecordKind::Replay => "replay",
            RecordKind::SingleUse => "once",
        }
    }
}

/// Where records live: `<prefix><kind>:<digest>`. Callers pass a digest (hex SHA-256) of the
/// record's secret identifier, never the identifier itself, so a key name reveals nothing.
#[derive(Clone, Debug)]
pub struct KeyLayout {
    prefix: String,
}

impl KeyLayout {
    pub const DEFAULT_PREFIX: &'static str = "gw:";

    pub fn new(prefix: impl Into<String>) -> KeyLayout {
        KeyLayout {
            prefix: prefix.into(),
        }
    }

    pub fn key(&self, kind: RecordKind, digest: &str) -> String {
        format!("{}{}:{digest}", self.prefix, kind.tag())
    }
}

impl Default for KeyLayout {
    fn default() -> Self {
        KeyLayout::new(Self::DEFAULT_PREFIX)
    }
}
