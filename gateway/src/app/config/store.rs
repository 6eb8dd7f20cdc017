//! `[store]`: where SSO sessions, replay entries and single-use markers live, and its checks.
//!
//! ```toml
//! [store]
//! kind = "redis"                      # "memory" (the default: one process) or "redis"
//! url = "redis://10.0.0.7:6379"       # one server; or, for failover, the sentinels:
//! # sentinels = ["redis://10.0.0.7:26379", "redis://10.0.0.8:26379", "redis://10.0.0.9:26379"]
//! # sentinel_master = "gateway"
//! key_prefix = "gw:"                  # before every key, so that gateways sharing a Redis keep apart
//! timeout_ms = 500                    # the longest one call to Redis may take
//! seal_keys = [{ name = "s1", file = "keys/store-seal.key" }]   # the first seals, all open
//! ```
//!
//! The Redis server must have `maxmemory-policy noeviction`: the gateway checks at start and
//! refuses to run otherwise, and checks again every 30 seconds.

use super::{problem, ConfigProblem, Kind, SealKeyConfig};
use crate::stores::redis::{RedisSettings, RedisTarget};
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    Memory,
    Redis,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    pub kind: StoreKind,
    /// Put before every key the gateway stores (`gw:` by default), so that gateways or tests
    /// sharing one store keep apart.
    pub key_prefix: String,
    /// `redis://[:password@]host:port[/db]`: one Redis server.
    pub url: Option<String>,
    /// Redis Sentinel: the sentinels' URLs (`redis://host:26379`) and the name they know the
    /// primary by. The gateway asks them for the primary, and again after a failover.
    pub sentinels: Vec<String>,
    pub sentinel_master: Option<String>,
    pub timeout_ms: u32,
    /// The keys that seal what is stored in Redis (AES-256-GCM, each bound to its key there):
    /// the first seals, every one opens. Every gateway process sharing the Redis lists the same
    /// keys. Each file holds 32 random bytes, raw or base64 (`openssl rand -base64 32`).
    pub seal_keys: Vec<SealKeyConfig>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            kind: StoreKind::Memory,
            key_prefix: crate::stores::KeyLayout::DEFAULT_PREFIX.into(),
            url: None,
            sentinels: Vec::new(),
            sentinel_master: None,
            timeout_ms: 500,
            seal_keys: Vec::new(),
        }
    }
}

pub(crate) const STORE_SCHEMA: &[(&str, Kind)] = &[
    ("kind", Kind::Str),
    ("key_prefix", Kind::Str),
    ("url", Kind::Str),
    ("sentinels", Kind::StrList),
    ("sentinel_master", Kind::Str),
    ("timeout_ms", Kind::Int),
    (
        "seal_keys",
        Kind::TableList(&[("name", Kind::Str), ("file", Kind::Str)]),
    ),
];

impl StoreConfig {
    /// Where Redis is, for `kind = "redis"` (checked by [`check`] first).
    pub fn redis_settings(&self) -> Option<RedisSettings> {
        let target = match (&self.url, self.sentinel_master.as_ref()) {
            (Some(url), None) => RedisTarget::Url(url.clone()),
            (None, Some(master)) => RedisTarget::Sentinel {
                sentinels: self.sentinels.clone(),
                master: master.clone(),
            },
            _ => return None,
        };
        Some(RedisSettings {
            target,
            timeout: Duration::from_millis(self.timeout_ms.into()),
        })
    }
}

fn redis_url_problem(url: &str) -> Option<&'static str> {
    match url::Url::parse(url) {
        Ok(u) if u.scheme() == "redis" && u.host_str().is_some() => None,
        Ok(u) if u.scheme() == "rediss" => {
            Some("rediss:// (TLS) is not supported yet: reach Redis over a private network or a TLS tunnel, with redis://")
        }
        _ => Some("expected redis://[:password@]host:port[/db]"),
    }
}

pub(crate) fn check(store: &StoreConfig, out: &mut Vec<ConfigProblem>) {
    let prefix = &store.key_prefix;
    if prefix.len() > 64 || !prefix.chars().all(|c| c.is_ascii_graphic()) {
        out.push(problem(
            "store.key_prefix",
            "at most 64 printable ASCII characters, no spaces",
        ));
    }
    if store.timeout_ms < 10 || store.timeout_ms > 60_000 {
        out.push(problem("store.timeout_ms", "must be 10..=60000"));
    }
    if store.kind == StoreKind::Memory {
        for (set, path) in [
            (store.url.is_some(), "store.url"),
            (!store.sentinels.is_empty(), "store.sentinels"),
            (store.sentinel_master.is_some(), "store.sentinel_master"),
            (!store.seal_keys.is_empty(), "store.seal_keys"),
        ] {
            if set {
                out.push(problem(path, "only for kind = \"redis\""));
            }
        }
        return;
    }
    match (&store.url, store.sentinel_master.is_some()) {
        (Some(_), true) => out.push(problem(
            "store.url",
            "give either url (one server) or sentinels and sentinel_master, not both",
        )),
        (None, false) => out.push(problem(
            "store.url",
            "kind = \"redis\" needs url, or sentinels and sentinel_master",
        )),
        (Some(url), false) => {
            if let Some(m) = redis_url_problem(url) {
                out.push(problem("store.url", m));
            }
            if !store.sentinels.is_empty() {
                out.push(problem("store.sentinels", "needs sentinel_master"));
            }
        }
        (None, true) => {
            if store.sentinels.is_empty() {
                out.push(problem(
                    "store.sentinels",
                    "list at least one sentinel (redis://host:26379)",
                ));
            }
            for (i, s) in store.sentinels.iter().enumerate() {
                if let Some(m) = redis_url_problem(s) {
                    out.push(problem(format!("store.sentinels[{i}]"), m));
                }
            }
        }
    }
    if store.seal_keys.is_empty() {
        out.push(problem(
            "store.seal_keys",
            "kind = \"redis\" needs at least one key: what is stored in Redis is sealed, and every process sharing it must open it (32 random bytes: openssl rand -base64 32 > keys/store-seal.key)",
        ));
    }
}
