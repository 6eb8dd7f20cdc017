//! Per-client rate limits on the SSO and login endpoints: one GCRA bucket (governor) per client
//! address, `burst` requests at once and `per_second` after that. Over the limit: 429, a page
//! in the citizen's language, and `Retry-After`.
//!
//! A client is an IPv4 address or an IPv6 /64 (what one subscriber is usually given, so that a
//! single host cannot walk through its own prefix for fresh buckets).
//!
//! Memory: one entry per client whose bucket is not yet full again: a 16-byte key and governor's
//! 8-byte state in a hash map, 25 bytes a slot with its control byte, 33 to 50 bytes a client
//! with the map's spare capacity (gateway/tests/edge_memory.rs measures it). The map holds at
//! most [`MAX_TRACKED_CLIENTS`] clients, 3.1 MiB; every 10 s, and at once (at most once a
//! second) when it is full, clients whose bucket has refilled are dropped. A client that finds
//! the map full shares one overflow bucket with the others in that position until room is made,
//! so a flood from many addresses limits the newcomers, not the clients already known.

use super::ClientAddress;
use crate::web::{http, pages};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use governor::clock::{Clock, MonotonicClock};
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::{HashMapStateStore, ShrinkableKeyedStateStore};
use governor::state::StateStore;
use governor::{Quota, RateLimiter};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The most clients the limiter remembers at once.
pub const MAX_TRACKED_CLIENTS: usize = 100_000;

/// A client's allowance: `burst` requests at once, refilled at `per_second`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub per_second: NonZeroU32,
    pub burst: NonZeroU32,
}

impl RateLimit {
    /// A login is a handful of requests; a household or an office behind one address logs in
    /// many people at once, and a carrier's NAT many more.
    pub const DEFAULT: RateLimit = RateLimit {
        per_second: NonZeroU32::MIN.saturating_add(19),
        burst: NonZeroU32::MIN.saturating_add(99),
    };

    /// Dev mode: limits stay on, well above what a browser test sends.
    pub const DEVELOPMENT: RateLimit = RateLimit {
        per_second: NonZeroU32::MIN.saturating_add(199),
        burst: NonZeroU32::MIN.saturating_add(1999),
    };

    /// No limit: the edge installs no limiter (`gateway dev --no-rate-limits`, for a load test).
    /// `[server]` cannot produce it: check-config caps both numbers at 1,000,000.
    pub const OFF: RateLimit = RateLimit {
        per_second: NonZeroU32::MAX,
        burst: NonZeroU32::MAX,
    };

    pub fn is_off(self) -> bool {
        self == Self::OFF
    }
}

/// Which paths are limited: the SSO endpoint and everything under `/login`.
pub fn is_limited(path: &str) -> bool {
    path == "/saml/idp/sso" || path == "/login" || path.starts_with("/login/")
}

/// A rate-limited client: an IPv4 address, an IPv6 /64, or the shared overflow bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum ClientKey {
    V4(u32),
    V6Net(u64),
    Overflow,
}

impl ClientKey {
    fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => ClientKey::V4(v4.into()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientKey::V4(v4.into()),
                None => ClientKey::V6Net((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

/// governor's hash-map store with a cap: a key not yet in a full map is measured against the
/// overflow bucket instead of being added.
struct CappedStore {
    map: HashMapStateStore<ClientKey>,
    cap: usize,
}

impl CappedStore {
    fn admits(&self, key: &ClientKey) -> bool {
        let map = self.map.lock();
        map.len() < self.cap || map.contains_key(key)
    }
}

impl StateStore for CappedStore {
    type Key = ClientKey;

    fn measure_and_replace<T, F, E>(&self, key: &ClientKey, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        let key = if self.admits(key) {
            key
        } else {
            &ClientKey::Overflow
        };
        self.map.measure_and_replace(key, f)
    }
}

impl ShrinkableKeyedStateStore<ClientKey> for CappedStore {
    fn retain_recent(&self, drop_below: Nanos) {
        self.map.retain_recent(drop_below)
    }

    fn shrink_to_fit(&self) {
        ShrinkableKeyedStateStore::shrink_to_fit(&self.map)
    }

    fn len(&self) -> usize {
        ShrinkableKeyedStateStore::len(&self.map)
    }

    fn is_empty(&self) -> bool {
        ShrinkableKeyedStateStore::is_empty(&self.map)
    }
}

/// The per-client limiter: buckets, the cap on how many, and a count of refusals for the log.
pub struct ClientLimiter<C: Clock = MonotonicClock> {
    limiter: RateLimiter<ClientKey, CappedStore, C, NoOpMiddleware<C::Instant>>,
    clock: C,
    cap: usize,
    last_full_sweep: std::sync::Mutex<Option<Instant>>,
    refused: AtomicU64,
}

impl ClientLimiter {
    pub fn new(limit: RateLimit) -> Self {
        Self::with_clock(limit, MAX_TRACKED_CLIENTS, MonotonicClock)
    }
}

impl<C: Clock + Clone> ClientLimiter<C> {
    fn with_clock(limit: RateLimit, cap: usize, clock: C) -> Self {
        let quota = Quota::per_second(limit.per_second).allow_burst(limit.burst);
        let store = CappedStore {
            map: HashMapStateStore::new(Default::default()),
            cap,
        };
        ClientLimiter {
            limiter: RateLimiter::new(quota, store, clock.clone()),
            clock,
            cap,
            last_full_sweep: std::sync::Mutex::new(None),
            refused: AtomicU64::new(0),
        }
    }

    /// Take one request from `ip`'s bucket; when it is empty, how long until it is not.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        let key = ClientKey::of(ip);
        if self.limiter.len() >= self.cap {
            self.sweep_when_full();
        }
        self.limiter.check_key(&key).map_err(|not_until| {
            self.refused.fetch_add(1, Ordering::Relaxed);
            not_until.wait_time_from(self.clock.now())
        })
    }

    /// Drop the clients whose bucket has refilled; how many are left.
    pub fn sweep(&self) -> usize {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
        self.limiter.len()
    }

    /// Requests refused since the last call.
    pub fn take_refused(&self) -> u64 {
        self.refused.swap(0, Ordering::Relaxed)
    }

    /// A full map is swept at once, but at most once a second: a sweep walks every entry.
    fn sweep_when_full(&self) {
        let now = Instant::now();
        let Ok(mut last) = self.last_full_sweep.try_lock() else {
            return;
        };
        if last.is_some_and(|t| now.duration_since(t) < Duration::from_secs(1)) {
            return;
        }
        *last = Some(now);
        self.limiter.retain_recent();
    }
}

/// What the middleware needs.
pub(super) struct Layer {
    pub(super) limiter: Arc<ClientLimiter>,
    pub(super) client_address: ClientAddress,
}

/// The middleware: limited paths take from the client's bucket; over the limit, 429.
pub(super) async fn rate_limit(
    State(layer): State<Arc<Layer>>,
    req: Request,
    next: Next,
) -> Response {
    if !is_limited(req.uri().path()) {
        return next.run(req).await;
    }
    // Only the edge's own accept loop serves this router, and it always says who the peer is.
    let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>().copied() else {
        return next.run(req).await;
    };
    let client = layer.client_address.of(peer.ip(), req.headers());
    match layer.limiter.check(client) {
        Ok(()) => next.run(req).await,
        Err(wait) => {
            tracing::debug!(client = %client, "rate limited");
            too_many_requests(&req, wait)
        }
    }
}

/// 429: a page in the citizen's language (an explicit `lang`, else Accept-Language) and the
/// whole seconds until the bucket has a request again.
fn too_many_requests(req: &Request, wait: Duration) -> Response {
    let fields = http::form_fields(req.uri().query().unwrap_or_default().as_bytes());
    let explicit = fields
        .iter()
        .find(|(k, _)| k == "lang")
        .map(|(_, v)| v.as_str());
    let lang = http::language(req.headers(), explicit).chosen;
    let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut resp = (
        StatusCode::TOO_MANY_REQUESTS,
        Html(pages::too_many_requests_page(lang)),
    )
        .into_response();
    http::security_headers(resp.headers_mut(), None);
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after.max(1)));
    resp
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    fn limit(per_second: u32, burst: u32) -> RateLimit {
        RateLimit {
            per_second: NonZeroU32::new(per_second).unwrap(),
            burst: NonZeroU32::new(burst).unwrap(),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_burst_then_the_rate_then_a_wait() {
        let clock = FakeRelativeClock::default();
        let l = ClientLimiter::with_clock(limit(2, 3), 10, clock.clone());
        for _ in 0..3 {
            l.check(ip("192.0.2.1")).unwrap();
        }
        let wait = l.check(ip("192.0.2.1")).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        // Another client has its own bucket.
        l.check(ip("192.0.2.2")).unwrap();
        clock.advance(Duration::from_millis(500));
        l.check(ip("192.0.2.1")).unwrap();
        assert!(l.check(ip("192.0.2.1")).is_err());
        assert_eq!(l.take_refused(), 2);
        assert_eq!(l.take_refused(), 0);
    }

    #[test]
    fn an_ipv6_slash_64_is_one_client_and_mapped_ipv4_is_ipv4() {
        let l = ClientLimiter::with_clock(limit(1, 2), 10, FakeRelativeClock::default());
        l.check(ip("2001:db8:1:2::1")).unwrap();
        l.check(ip("2001:db8:1:2:ffff::9")).unwrap();
        assert!(l.check(ip("2001:db8:1:2:abcd::5")).is_err());
        l.check(ip("2001:db8:1:3::1")).unwrap();
        l.check(ip("192.0.2.7")).unwrap();
        l.check(ip("::ffff:192.0.2.7")).unwrap();
        assert!(l.check(ip("192.0.2.7")).is_err());
    }

    #[test]
    fn a_full_map_puts_newcomers_in_one_overflow_bucket_until_a_sweep_makes_room() {
        let clock = FakeRelativeClock::default();
        let l = ClientLimiter::with_clock(limit(1, 1), 3, clock.clone());
        for i in 1..=3 {
            l.check(ip(&format!("192.0.2.{i}"))).unwrap();
        }
        // Newcomers share one bucket: the first gets through, the next is refused.
        l.check(ip("198.51.100.1")).unwrap();
        assert!(l.check(ip("198.51.100.2")).is_err());
        // The known clients keep their own buckets.
        assert!(l.check(ip("192.0.2.1")).is_err());
        assert!(l.limiter.len() <= 4);
        // Once the buckets have refilled, a sweep forgets everyone.
        clock.advance(Duration::from_secs(5));
        assert_eq!(l.sweep(), 0);
        l.check(ip("198.51.100.2")).unwrap();
    }

    #[test]
    fn limited_paths() {
        for p in [
            "/saml/idp/sso",
            "/login",
            "/login/testbank",
            "/login/bank/op/callback",
        ] {
            assert!(is_limited(p), "{p}");
        }
        for p in [
            "/saml/idp/metadata",
            "/oidc/jwks",
            "/healthz",
            "/loginx",
            "/demo/login",
        ] {
            assert!(!is_limited(p), "{p}");
        }
    }
}
