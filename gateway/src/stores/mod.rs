//! Short-lived state: SSO sessions, login flow records, replay entries, single-use markers. The
//! store trait, where each kind of record lives (one key layout, one prefix), and the in-memory
//! store that serves one process. A shared store (Redis) slots in behind the same trait.

mod memory;

pub use memory::MemoryStore;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

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

/// The kinds of record the gateway stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    /// One per accepted AuthnRequest ID: exactly one answer per request.
    Replay,
    /// A login in progress.
    Flow,
    /// From an upstream `state` to its flow.
    UpstreamState,
    /// A single sign-on session.
    Session,
    /// A certificate chain the ID-card listener captured for a state.
    Capture,
}

impl RecordKind {
    fn tag(self) -> &'static str {
        match self {
            RecordKind::Replay => "replay",
            RecordKind::Flow => "flow",
            RecordKind::UpstreamState => "upstate",
            RecordKind::Session => "sso",
            RecordKind::Capture => "idcert",
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
