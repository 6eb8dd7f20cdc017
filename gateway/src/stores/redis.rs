//! The shared store: SSO sessions, replay entries and single-use markers in Redis, so that many
//! gateway processes behind a load balancer serve one citizen as one.
//!
//! - **Connection:** the `redis` crate's async [`ConnectionManager`] (it reconnects on its own),
//!   to one server by URL, or to the primary that Redis Sentinel names. With Sentinel, an error
//!   that says the primary is gone (connection refused or dropped, `READONLY` from a demoted
//!   primary) drops the connection, and the next call asks the sentinels again.
//! - **Every call has a timeout** ([`RedisSettings::timeout`]); a call that fails or times out is
//!   [`StoreError::Unavailable`], and the flow that needed it is refused (503), never done
//!   without it: a replay entry that cannot be read refuses the request.
//! - **No eviction:** at start, and every [`POLICY_CHECK_EVERY`] after, the server's
//!   `maxmemory-policy` must be `noeviction`. An evicted replay entry would silently turn replay
//!   protection off, so the gateway refuses to start otherwise, and a running gateway whose
//!   Redis starts evicting refuses the work that needs it until the policy is fixed.
//! - **Sealed values:** records with content (sessions and their members) are sealed with
//!   [`super::sealed`] (raw bytes, AES-256-GCM, the record version and the sealing key's name in the
//!   authenticated header, purpose [`SealPurpose::Stored`]) and bound to the Redis key they
//!   are stored under (and a member to its field): someone who can write to Redis cannot forge
//!   a session or move one to another key, and someone who can read it learns no national
//!   identification number. Markers hold no content: their key is a digest and the value empty.
//! - **Keys:** a record `<prefix>sso:<digest>` has its members in the hash `<key>:m`, one field
//!   per member (a digest of the member's name), with the record's expiry: adding a member is
//!   one `HSET`, so two SSO hits at once for two service providers are both kept.

use super::sealed::{self, SealKeyRing, SealPurpose};
use super::{lock, KeyLayout, MarkerStore, RecordKind, SessionStore, StoreError, StoreFuture};
use certs::{Clock, RandomSource};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::sentinel::{SentinelClient, SentinelServerType};
use redis::{RedisError, Script};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// How often a running gateway asks Redis for its eviction policy again.
pub const POLICY_CHECK_EVERY: Duration = Duration::from_secs(30);

/// A member's seal lasts this long (its key in Redis expires with its record much sooner; the
/// longest SSO session is a week).
const MEMBER_SEAL_TTL: time::Duration = time::Duration::days(8);

/// Where Redis is and how to talk to it (`[store]` in the config).
#[derive(Clone, Debug)]
pub struct RedisSettings {
    pub target: RedisTarget,
    /// The longest any one call may take, connecting included.
    pub timeout: Duration,
}

#[derive(Clone)]
pub enum RedisTarget {
    /// One server: `redis://[:password@]host:port[/db]`.
    Url(String),
    /// The primary the sentinels name for `master` (Redis Sentinel).
    Sentinel {
        sentinels: Vec<String>,
        master: String,
    },
}

impl std::fmt::Debug for RedisTarget {
    /// Hosts only: a URL may carry a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RedisTarget::Url(u) => write!(f, "Url({})", redacted(u)),
            RedisTarget::Sentinel { sentinels, master } => {
                let hosts: Vec<String> = sentinels.iter().map(|s| redacted(s)).collect();
                write!(f, "Sentinel({master} via {hosts:?})")
            }
        }
    }
}

/// A Redis URL without its user information, for logs and errors.
pub fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => format!(
            "{}://{}:{}",
            u.scheme(),
            u.host_str().unwrap_or("?"),
            u.port().unwrap_or(6379)
        ),
        Err(_) => "(unparsable URL)".into(),
    }
}

/// One connection to Redis, shared by the session store and the marker stores.
pub struct Redis {
    conn: Connection,
    timeout: Duration,
    /// Set when the last policy check found an evicting policy: every call is refused.
    evicting: AtomicBool,
    last_policy: Mutex<String>,
}

enum Connection {
    Direct(ConnectionManager),
    Sentinel(Box<SentinelConnection>),
}

struct SentinelConnection {
    client: tokio::sync::Mutex<SentinelClient>,
    /// The primary's connection, until an error says it is gone.
    current: Mutex<Option<ConnectionManager>>,
    manager_config: ConnectionManagerConfig,
}

impl Redis {
    /// Connect and check the eviction policy: a server that may evict keys is refused here,
    /// with a message that says how to fix it.
    ///
    /// The future is boxed as a trait object: the redis crate's connection futures are deeply
    /// nested types, and callers' futures would carry them past the compiler's layout depth.
    pub fn connect(
        settings: &RedisSettings,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Arc<Redis>, String>> + Send + '_>>
    {
        Box::pin(Self::connect_inner(settings))
    }

    async fn connect_inner(settings: &RedisSettings) -> Result<Arc<Redis>, String> {
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(settings.timeout))
            .set_response_timeout(Some(settings.timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let conn = match &settings.target {
            RedisTarget::Url(url) => {
                let client = redis::Client::open(url.as_str())
                    .map_err(|e| format!("{}: {}", redacted(url), describe(&e)))?;
                let cm = tokio::time::timeout(
                    settings.timeout,
                    ConnectionManager::new_with_config(client, manager_config),
                )
                .await
                .map_err(|_| format!("{}: no answer within {:?}", redacted(url), settings.timeout))?
                .map_err(|e| format!("{}: {}", redacted(url), describe(&e)))?;
                Connection::Direct(cm)
            }
            RedisTarget::Sentinel { sentinels, master } => {
                let client = SentinelClient::build(
                    sentinels.iter().map(String::as_str).collect(),
                    master.clone(),
                    None,
                    SentinelServerType::Master,
                )
                .map_err(|e| format!("sentinels: {}", describe(&e)))?;
                Connection::Sentinel(Box::new(SentinelConnection {
                    client: tokio::sync::Mutex::new(client),
                    current: Mutex::new(None),
                    manager_config,
                }))
            }
        };
        let redis = Arc::new(Redis {
            conn,
            timeout: settings.timeout,
            evicting: AtomicBool::new(false),
            last_policy: Mutex::new(String::new()),
        });
        let policy = redis.eviction_policy().await.map_err(|e| e.to_string())?;
        if policy != "noeviction" {
            return Err(evicting_message(&policy));
        }
        Ok(redis)
    }

    /// Check the eviction policy every [`POLICY_CHECK_EVERY`] while the store lives.
    pub fn watch_policy(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let weak: Weak<Redis> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(POLICY_CHECK_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(redis) = weak.upgrade() else { return };
                redis.check_policy().await;
            }
        })
    }

    /// Ask the policy once and act on it: refuse (and say so, once per change) while it evicts.
    pub async fn check_policy(&self) {
        let policy = match self.eviction_policy().await {
            Ok(p) => p,
            // Unreachable now: the calls themselves fail and say so.
            Err(_) => return,
        };
        let evicting = policy != "noeviction";
        let changed = {
            let mut last = lock(&self.last_policy);
            let changed = *last != policy;
            last.clone_from(&policy);
            changed
        };
        self.evicting.store(evicting, Ordering::Relaxed);
        if changed && evicting {
            tracing::error!(policy = %policy, "{}; work that needs the store is refused until it is fixed", evicting_message(&policy));
        } else if changed {
            tracing::info!(policy = %policy, "Redis eviction policy is noeviction");
        }
    }

    /// `maxmemory-policy`, by `CONFIG GET`, or from `INFO memory` where `CONFIG` is disabled
    /// (as managed Redis services do).
    async fn eviction_policy(&self) -> Result<String, StoreError> {
        let mut cmd = redis::cmd("CONFIG");
        cmd.arg("GET").arg("maxmemory-policy");
        let by_config: Result<Vec<String>, StoreError> = self.run_unchecked(&cmd).await;
        if let Ok(v) = &by_config {
            if let Some(p) = v.get(1) {
                return Ok(p.clone());
            }
        }
        let mut cmd = redis::cmd("INFO");
        cmd.arg("memory");
        let info: String = self.run_unchecked(&cmd).await?;
        info.lines()
            .find_map(|l| l.strip_prefix("maxmemory_policy:"))
            .map(|p| p.trim().to_owned())
            .ok_or_else(|| {
                StoreError::Unavailable(
                    "Redis tells neither CONFIG GET maxmemory-policy nor INFO memory".into(),
                )
            })
    }

    async fn manager(&self) -> Result<ConnectionManager, StoreError> {
        match &self.conn {
            Connection::Direct(cm) => Ok(cm.clone()),
            Connection::Sentinel(s) => {
                if let Some(cm) = lock(&s.current).clone() {
                    return Ok(cm);
                }
                let mut client = s.client.lock().await;
                if let Some(cm) = lock(&s.current).clone() {
                    return Ok(cm);
                }
                let primary = client.async_get_client().await.map_err(unavailable)?;
                let cm = ConnectionManager::new_with_config(primary, s.manager_config.clone())
                    .await
                    .map_err(unavailable)?;
                *lock(&s.current) = Some(cm.clone());
                Ok(cm)
            }
        }
    }

    /// After an error: with Sentinel, forget the primary when the error says it is gone.
    fn after_error(&self, e: &RedisError) {
        if let Connection::Sentinel(s) = &self.conn {
            let gone = e.is_io_error()
                || e.is_connection_refusal()
                || e.is_connection_dropped()
                || e.is_timeout()
                || matches!(e.code(), Some("READONLY" | "MASTERDOWN" | "LOADING"));
            if gone {
                *lock(&s.current) = None;
            }
        }
    }

    async fn run<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, StoreError> {
        if self.evicting.load(Ordering::Relaxed) {
            return Err(StoreError::Unavailable(
                "Redis may evict keys (maxmemory-policy is not noeviction)".into(),
            ));
        }
        self.run_unchecked(cmd).await
    }

    async fn run_unchecked<T: redis::FromRedisValue>(
        &self,
        cmd: &redis::Cmd,
    ) -> Result<T, StoreError> {
        let call = async {
            let mut cm = self.manager().await?;
            let r: Result<T, RedisError> = cmd.query_async(&mut cm).await;
            r.map_err(|e| {
                self.after_error(&e);
                unavailable(e)
            })
        };
        self.timed(call).await
    }

    async fn script<T: redis::FromRedisValue>(
        &self,
        script: &Script,
        keys: &[&str],
        args: &[&[u8]],
    ) -> Result<T, StoreError> {
        if self.evicting.load(Ordering::Relaxed) {
            return Err(StoreError::Unavailable(
                "Redis may evict keys (maxmemory-policy is not noeviction)".into(),
            ));
        }
        let call = async {
            let mut cm = self.manager().await?;
            let mut inv = script.prepare_invoke();
            for k in keys {
                inv.key(*k);
            }
            for a in args {
                inv.arg(*a);
            }
            let r: Result<T, RedisError> = inv.invoke_async(&mut cm).await;
            r.map_err(|e| {
                self.after_error(&e);
                unavailable(e)
            })
        };
        self.timed(call).await
    }

    async fn timed<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(r) => r,
            Err(_) => {
                if let Connection::Sentinel(s) = &self.conn {
                    *lock(&s.current) = None;
                }
                Err(StoreError::Unavailable(format!(
                    "Redis did not answer within {} ms",
                    self.timeout.as_millis()
                )))
            }
        }
    }
}

fn evicting_message(policy: &str) -> String {
    format!("Redis maxmemory-policy is {policy:?}: it may evict keys, and an evicted replay entry would silently turn replay protection off. Set `maxmemory-policy noeviction` (CONFIG SET maxmemory-policy noeviction, and in redis.conf)")
}

/// What went wrong, without the server's free text where it could echo a key or value.
fn describe(e: &RedisError) -> String {
    if e.code() == Some("OOM") {
        return "Redis is out of memory (maxmemory reached; with noeviction it refuses writes)"
            .into();
    }
    if e.is_timeout() {
        return "timed out".into();
    }
    if e.is_connection_refusal() {
        return "connection refused".into();
    }
    if e.is_io_error() || e.is_connection_dropped() {
        return "connection lost".into();
    }
    match e.code() {
        Some(code) => format!("server error {code}"),
        None => format!("{:?}", e.kind()),
    }
}

fn unavailable(e: RedisError) -> StoreError {
    StoreError::Unavailable(describe(&e))
}

/// Sessions (and their members) in Redis, sealed.
pub struct RedisSessions {
    redis: Arc<Redis>,
    seal: Arc<SealKeyRing>,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn RandomSource>,
}

/// `SET` the record and carry its expiry over to its members' hash.
const PUT: &str = r"
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
return 1";

/// One member of a live record, with the record's expiry; 0 when the record is gone.
const ADD_MEMBER: &str = r"
local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ttl)
return 1";

struct Scripts {
    put: Script,
    add_member: Script,
}

fn scripts() -> &'static Scripts {
    static SCRIPTS: std::sync::OnceLock<Scripts> = std::sync::OnceLock::new();
    SCRIPTS.get_or_init(|| Scripts {
        put: Script::new(PUT),
        add_member: Script::new(ADD_MEMBER),
    })
}

fn members_key(key: &str) -> String {
    format!("{key}:m")
}

/// A member's field: the SHA-256 of its name, hex (a service provider's entity ID does not
/// appear in Redis).
fn member_field(member: &str) -> String {
    hex::encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        member.as_bytes(),
    ))
}

/// The sealing context of a member: its record's key and its field, apart.
fn member_context(key: &str, field: &str) -> String {
    format!("{key}\u{0}{field}")
}

fn ttl_millis(ttl: Duration) -> Vec<u8> {
    ttl.as_millis().max(1).to_string().into_bytes()
}

impl RedisSessions {
    pub fn new(
        redis: Arc<Redis>,
        seal: Arc<SealKeyRing>,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn RandomSource>,
    ) -> RedisSessions {
        RedisSessions {
            redis,
            seal,
            clock,
            rng,
        }
    }

    fn seal(
        &self,
        context: &str,
        value: &[u8],
        ttl: time::Duration,
    ) -> Result<Vec<u8>, StoreError> {
        sealed::seal_bytes(
            &self.seal,
            SealPurpose::Stored,
            context,
            value,
            self.clock.now(),
            ttl,
            self.rng.as_ref(),
        )
        .map_err(|e| StoreError::Unavailable(format!("cannot seal a record: {}", e.code())))
    }

    fn open(&self, context: &str, key: &str, raw: &[u8]) -> Result<Vec<u8>, StoreError> {
        sealed::open_bytes(
            &self.seal,
            SealPurpose::Stored,
            context,
            raw,
            self.clock.now(),
        )
        .map_err(|cause| StoreError::Tampered {
            key: key.to_owned(),
            cause,
        })
    }
}

fn seal_ttl(ttl: Duration) -> time::Duration {
    time::Duration::seconds(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2) + 1)
}

impl SessionStore for RedisSessions {
    fn put<'a>(&'a self, key: &'a str, value: Vec<u8>, ttl: Duration) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let sealed = self.seal(key, &value, seal_ttl(ttl))?;
            let _: i64 = self
                .redis
                .script(
                    &scripts().put,
                    &[key, &members_key(key)],
                    &[&sealed, &ttl_millis(ttl)],
                )
                .await?;
            Ok(())
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            let mut cmd = redis::cmd("GET");
            cmd.arg(key);
            let raw: Option<Vec<u8>> = self.redis.run(&cmd).await?;
            raw.map(|r| self.open(key, key, &r)).transpose()
        })
    }

    fn take<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            let mut cmd = redis::cmd("GETDEL");
            cmd.arg(key);
            let raw: Option<Vec<u8>> = self.redis.run(&cmd).await?;
            raw.map(|r| self.open(key, key, &r)).transpose()
        })
    }

    fn insert_if_absent<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let sealed = self.seal(key, &value, seal_ttl(ttl))?;
            let mut cmd = redis::cmd("SET");
            cmd.arg(key)
                .arg(&sealed)
                .arg("NX")
                .arg("PX")
                .arg(ttl_millis(ttl));
            let set: Option<String> = self.redis.run(&cmd).await?;
            Ok(set.is_some())
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut cmd = redis::cmd("DEL");
            cmd.arg(key).arg(members_key(key));
            let _: i64 = self.redis.run(&cmd).await?;
            Ok(())
        })
    }

    fn add_member<'a>(
        &'a self,
        key: &'a str,
        member: &'a str,
        value: Vec<u8>,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let field = member_field(member);
            let sealed = self.seal(&member_context(key, &field), &value, MEMBER_SEAL_TTL)?;
            let added: i64 = self
                .redis
                .script(
                    &scripts().add_member,
                    &[key, &members_key(key)],
                    &[field.as_bytes(), &sealed],
                )
                .await?;
            Ok(added == 1)
        })
    }

    fn members<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Vec<Vec<u8>>> {
        Box::pin(async move {
            let mut cmd = redis::cmd("HGETALL");
            cmd.arg(members_key(key));
            let pairs: Vec<(String, Vec<u8>)> = self.redis.run(&cmd).await?;
            pairs
                .iter()
                .map(|(field, raw)| self.open(&member_context(key, field), key, raw))
                .collect()
        })
    }
}

/// Replay entries or single-use markers in Redis: `SET <prefix><kind>:<hex id> "" NX PX ttl`.
pub struct RedisMarkers {
    redis: Arc<Redis>,
    /// `<prefix><kind>:`
    key_prefix: String,
}

impl RedisMarkers {
    pub fn new(redis: Arc<Redis>, layout: &KeyLayout, kind: RecordKind) -> RedisMarkers {
        RedisMarkers {
            redis,
            key_prefix: layout.key(kind, ""),
        }
    }

    fn key(&self, id: &[u8; 32]) -> String {
        format!("{}{}", self.key_prefix, hex::encode(id))
    }
}

impl MarkerStore for RedisMarkers {
    fn claim<'a>(&'a self, id: &'a [u8; 32], ttl: Duration) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut cmd = redis::cmd("SET");
            cmd.arg(self.key(id))
                .arg("")
                .arg("NX")
                .arg("PX")
                .arg(ttl_millis(ttl));
            let set: Option<String> = self.redis.run(&cmd).await?;
            Ok(set.is_some())
        })
    }

    fn contains<'a>(&'a self, id: &'a [u8; 32]) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut cmd = redis::cmd("EXISTS");
            cmd.arg(self.key(id));
            let n: i64 = self.redis.run(&cmd).await?;
            Ok(n > 0)
        })
    }
}

/// The three stores on one Redis connection.
pub fn stores(
    redis: Arc<Redis>,
    layout: KeyLayout,
    seal: Arc<SealKeyRing>,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn RandomSource>,
) -> super::Stores {
    super::Stores {
        sessions: Arc::new(RedisSessions::new(redis.clone(), seal, clock, rng)),
        replay: Arc::new(RedisMarkers::new(
            redis.clone(),
            &layout,
            RecordKind::Replay,
        )),
        single_use: Arc::new(RedisMarkers::new(redis, &layout, RecordKind::SingleUse)),
        layout,
    }
}
