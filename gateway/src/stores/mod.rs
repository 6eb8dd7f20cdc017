//! Short-lived state kept after the citizen has authenticated: SSO sessions, replay entries and
//! single-use markers, each kind bounded on its own. The store traits, where each kind of record
//! lives (one key layout, one prefix), the in-memory stores that serve one process, and the
//! Redis store that many gateway processes share (its values sealed: [`sealed`]).

#[cfg(test)]
mod contract;
mod markers;
mod memory;
pub mod redis;
pub mod revocation;
pub mod sealed;

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
    /// The shared store cannot be used now (down, timed out, out of memory, evicting keys): the
    /// work that needs it is refused, never done without it.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A value in the shared store does not open with our keys: written by someone else, moved
    /// from another key, or sealed with a key since removed. `key` is the store key (a digest).
    #[error("stored value at {key} refused: {cause}")]
    Tampered {
        key: String,
        cause: sealed::SealError,
    },
}

impl StoreError {
    /// A stable code per variant, for logs and tests.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Full { .. } => "store.full",
            StoreError::Unavailable(_) => "store.unavailable",
            StoreError::Tampered { .. } => "store.tampered",
        }
    }
}

/// Records with content: SSO sessions (and later, single-use grants). A record may have
/// members, values kept beside it under their own names (the service providers that took part in
/// a session): adding one never rewrites the record or another member, so two added at once are
/// both kept, and members share the record's expiry and end with it.
pub trait SessionStore: Send + Sync {
    /// Set the record's value and expiry; members it has keep, with the new expiry.
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
    /// Remove the record and its members.
    fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()>;
    /// Set member `member` of the live record `key` (replacing that member only); `false`, and
    /// nothing written, when the record does not exist.
    fn add_member<'a>(
        &'a self,
        key: &'a str,
        member: &'a str,
        value: Vec<u8>,
    ) -> StoreFuture<'a, bool>;
    /// The values of the record's members, in no particular order (none for a missing record).
    fn members<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Vec<Vec<u8>>>;
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

/// A mutex's guard, also after a panic elsewhere poisoned it (the stores' data stays usable:
/// every update is made whole under the lock).
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// How often the gateway sweeps its in-memory stores.
pub const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// The stores the flows use, one per kind of record, with the layout of their keys.
#[derive(Clone)]
pub struct Stores {
    pub sessions: std::sync::Arc<dyn SessionStore>,
    pub replay: std::sync::Arc<dyn MarkerStore>,
    pub single_use: std::sync::Arc<dyn MarkerStore>,
    pub layout: KeyLayout,
}

impl Stores {
    /// One process's stores, each kind bounded by its own capacity.
    pub fn memory(
        caps: MemoryCapacities,
        layout: KeyLayout,
        clock: std::sync::Arc<dyn certs::Clock>,
        rng: &dyn certs::RandomSource,
    ) -> Result<Stores, certs::CertError> {
        Ok(Stores {
            sessions: std::sync::Arc::new(MemoryStore::new(caps.sessions, clock.clone())),
            replay: std::sync::Arc::new(MemoryMarkers::new(
                "replay",
                caps.replay,
                clock.clone(),
                rng,
            )?),
            single_use: std::sync::Arc::new(MemoryMarkers::new(
                "single_use",
                caps.single_use,
                clock,
                rng,
            )?),
            layout,
        })
    }
}

/// The entry caps of the in-memory stores (`[session] max_*`).
#[derive(Clone, Copy, Debug)]
pub struct MemoryCapacities {
    pub sessions: usize,
    pub replay: usize,
    pub single_use: usize,
}

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
    /// A single logout in progress (its participants' answers as members).
    Logout,
    /// OpenID Connect authorization codes and access tokens' records.
    Code,
    /// Revocation state kept across restarts: the newest CRL per issuer, cached OCSP responses.
    Revocation,
}

impl RecordKind {
    pub fn tag(self) -> &'static str {
        match self {
            RecordKind::Session => "sso",
            RecordKind::Replay => "replay",
            RecordKind::SingleUse => "once",
            RecordKind::Logout => "slo",
            RecordKind::Code => "code",
            RecordKind::Revocation => "rev",
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

    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

impl Default for KeyLayout {
    fn default() -> Self {
        KeyLayout::new(Self::DEFAULT_PREFIX)
    }
}
