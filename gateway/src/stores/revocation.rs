//! Revocation state that must outlive a restart: the newest CRL installed per issuer (so that a
//! restarted gateway never accepts a CRL older than one it already saw) and verified "good" OCSP
//! responses until their nextUpdate (so that a citizen logging in again costs the CA nothing).
//!
//! Both are public, signed data, kept as DER and verified again whenever they are used: nothing
//! here is trusted because of where it was stored. Keys are digests (SHA-256 of the issuer's
//! name, of the certificate's OCSP CertID), never a name or a serial.
//!
//! Where it lives: in the shared store when `[store] kind = "redis"` ([`SharedRevocation`],
//! sealed like every value there, so every process sees the same floor and cache); otherwise in
//! an SQLite file in `server.data_dir` ([`SqliteRevocation`]); with no data directory, in this
//! process's memory only ([`MemoryRevocation`], said in a warning at start).
//!
//! Layout: `<prefix>rev:crl:<sha256(issuer name DER)>` holds `this_update (i64, big-endian unix
//! seconds) || CRL DER` until nextUpdate + [`CRL_KEPT_AFTER_NEXT_UPDATE`];
//! `<prefix>rev:ocsp:<sha256(CertID DER)>` holds the OCSP response DER until its nextUpdate. A
//! sealed value in the shared store is at most 16 KB and a national CA's CRL is megabytes, so
//! there a value is split: the key holds a head (`"C1" || length || sha256(value) || chunks`) and
//! `<key>:<first 16 bytes of sha256(value), hex>:<n>` the chunks, written before the head with
//! the same expiry (a reader sees the old head and chunks or the new ones, never a mix). The
//! SQLite file has the same two records as tables `crl` and `ocsp`.
//!
//! Failing closed: every error is reported to the caller, which logs it and goes on without
//! the stored value (asks OCSP, keeps the CRL in memory); a value that is unreadable or does not
//! verify is ignored with a warning.

use super::{lock, KeyLayout, RecordKind, SessionStore, StoreError, StoreFuture};
use idp_adapters::idcard::{CacheFuture, OcspResponseCache};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use time::{Duration, OffsetDateTime};

/// A recorded CRL is kept this long after its nextUpdate: its thisUpdate stays the floor for
/// its issuer after it went stale (a CA whose CRL source is down for days must not be rolled
/// back by the first old copy offered when it returns).
pub const CRL_KEPT_AFTER_NEXT_UPDATE: Duration = Duration::days(30);

/// How a record that is there but does not fit together is reported (the caller forgets it).
pub const MALFORMED_RECORD: &str = "malformed revocation record";

/// The SQLite file's name in the data directory.
pub const SQLITE_FILE: &str = "revocation.sqlite";

/// A CRL as recorded: its DER and the thisUpdate it had when it was installed (used only to
/// decide whether a record is replaced; the DER is verified again when it is taken back).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedCrl {
    pub this_update: OffsetDateTime,
    pub der: Vec<u8>,
}

/// The revocation state, wherever it lives. `issuer` is the DER of the issuer's name; `cert`
/// the hex digest the OCSP checker names a certificate by.
pub trait RevocationState: Send + Sync {
    /// Where it is kept, for the log ("redis", "sqlite <path>", "memory").
    fn location(&self) -> String;

    /// The newest CRL recorded for `issuer`.
    fn crl<'a>(
        &'a self,
        issuer: &'a [u8],
        now: OffsetDateTime,
    ) -> StoreFuture<'a, Option<RecordedCrl>>;

    /// Record `crl` for `issuer` unless a CRL at least as new is recorded already (`false`
    /// then). Kept until `next_update` + [`CRL_KEPT_AFTER_NEXT_UPDATE`].
    fn record_crl<'a>(
        &'a self,
        issuer: &'a [u8],
        crl: &'a RecordedCrl,
        next_update: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreFuture<'a, bool>;

    /// Remove the CRL recorded for `issuer` (one that did not verify, or whose recorded
    /// thisUpdate is not the CRL's own), so that the next genuine one is recorded.
    fn forget_crl<'a>(&'a self, issuer: &'a [u8]) -> StoreFuture<'a, ()>;

    /// The OCSP response recorded for `cert`, unless it expired.
    fn ocsp<'a>(&'a self, cert: &'a str, now: OffsetDateTime) -> StoreFuture<'a, Option<Vec<u8>>>;

    /// Record `der` for `cert` until `next_update` (which must be after `now`).
    fn record_ocsp<'a>(
        &'a self,
        cert: &'a str,
        der: &'a [u8],
        next_update: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreFuture<'a, ()>;
}

/// The state `[store]` and `server.data_dir` call for: the shared store when there is one,
/// else the SQLite file in `data_dir`, else memory (with a warning: a restart then forgets
/// the newest CRLs seen). An SQLite file that cannot be opened is said in a warning too, and
/// the state is kept in memory.
pub fn for_gateway(
    shared: Option<(Arc<dyn SessionStore>, KeyLayout)>,
    data_dir: Option<&Path>,
) -> Arc<dyn RevocationState> {
    if let Some((store, layout)) = shared {
        return Arc::new(SharedRevocation::new(store, layout));
    }
    let Some(dir) = data_dir else {
        tracing::warn!("no server.data_dir: the newest CRL per issuer and cached OCSP responses are kept in memory only, so a restart forgets them (and could accept an older CRL than one already seen)");
        return Arc::new(MemoryRevocation::default());
    };
    match SqliteRevocation::open(&dir.join(SQLITE_FILE)) {
        Ok(state) => Arc::new(state),
        Err(e) => {
            tracing::warn!(error = %e, "the revocation state file cannot be used: the newest CRL per issuer and cached OCSP responses are kept in memory only until it is fixed");
            Arc::new(MemoryRevocation::default())
        }
    }
}

fn digest_hex(parts: &[&[u8]]) -> String {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for p in parts {
        ctx.update(p);
    }
    hex::encode(ctx.finish())
}

fn issuer_digest(issuer: &[u8]) -> String {
    digest_hex(&[issuer])
}

/// The time left until `until` as a store TTL (at least a second).
fn ttl_until(until: OffsetDateTime, now: OffsetDateTime) -> std::time::Duration {
    let secs = (until - now).whole_seconds().max(1);
    std::time::Duration::from_secs(secs.unsigned_abs())
}

/// `this_update || der`, as the shared store keeps a CRL.
fn encode_crl(crl: &RecordedCrl) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + crl.der.len());
    out.extend_from_slice(&crl.this_update.unix_timestamp().to_be_bytes());
    out.extend_from_slice(&crl.der);
    out
}

fn decode_crl(key: &str, value: &[u8]) -> Result<RecordedCrl, StoreError> {
    let malformed = || StoreError::Unavailable(format!("the CRL recorded at {key} is malformed"));
    let (head, der) = value.split_first_chunk::<8>().ok_or_else(malformed)?;
    let this_update =
        OffsetDateTime::from_unix_timestamp(i64::from_be_bytes(*head)).map_err(|_| malformed())?;
    Ok(RecordedCrl {
        this_update,
        der: der.to_vec(),
    })
}

// ---------------------------------------------------------------------------------------------
// The shared store

/// Bytes of a value per chunk: a sealed stored value is at most 16,000 base64 characters.
const CHUNK: usize = 11_000;
const HEAD_TAG: &[u8; 2] = b"C1";
const HEAD_LEN: usize = 2 + 8 + 32 + 4;

/// The largest value kept (a CRL of [`idp_adapters::idcard::MAX_CRL_BYTES`] and its time).
const MAX_VALUE: usize = idp_adapters::idcard::MAX_CRL_BYTES + 8;

fn chunk_key(key: &str, digest: &[u8], n: u32) -> String {
    format!("{key}:{}:{n}", hex::encode(&digest[..16]))
}

/// Write `value` under `key` as a head and its chunks (chunks first).
async fn put_chunked(
    store: &dyn SessionStore,
    key: &str,
    value: &[u8],
    ttl: std::time::Duration,
) -> Result<(), StoreError> {
    if value.len() > MAX_VALUE {
        return Err(StoreError::Unavailable(format!(
            "a revocation record of {} bytes is too large",
            value.len()
        )));
    }
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, value);
    let chunks: Vec<&[u8]> = value.chunks(CHUNK).collect();
    for (n, chunk) in (0u32..).zip(&chunks) {
        store
            .put(&chunk_key(key, digest.as_ref(), n), chunk.to_vec(), ttl)
            .await?;
    }
    let mut head = Vec::with_capacity(HEAD_LEN);
    head.extend_from_slice(HEAD_TAG);
    head.extend_from_slice(&(value.len() as u64).to_be_bytes());
    head.extend_from_slice(digest.as_ref());
    head.extend_from_slice(
        &u32::try_from(chunks.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    store.put(key, head, ttl).await
}

/// Why a chunked value could not be read.
enum Malformed {
    /// The store: down, or a value that does not open (sealed by someone else).
    Store(StoreError),
    /// The record itself: its head or chunks do not fit together.
    Record(String),
}

/// Read the value under `key`: `Ok(None)` when there is none.
async fn get_chunked(store: &dyn SessionStore, key: &str) -> Result<Option<Vec<u8>>, Malformed> {
    let Some(head) = store.get(key).await.map_err(Malformed::Store)? else {
        return Ok(None);
    };
    let bad = |why: &str| Malformed::Record(format!("{key}: {why}"));
    let (Some(tag), Some(len), Some(digest), Some(count)) = (
        head.get(..2),
        head.get(2..10).and_then(|b| <[u8; 8]>::try_from(b).ok()),
        head.get(10..42),
        head.get(42..46).and_then(|b| <[u8; 4]>::try_from(b).ok()),
    ) else {
        return Err(bad("not a record head"));
    };
    let (len, count) = (u64::from_be_bytes(len), u32::from_be_bytes(count));
    let len = usize::try_from(len).map_err(|_| bad("length"))?;
    if head.len() != HEAD_LEN || tag != HEAD_TAG {
        return Err(bad("not a record head"));
    }
    if len > MAX_VALUE || count as usize != len.div_ceil(CHUNK) {
        return Err(bad("length and chunks disagree"));
    }
    let mut value = Vec::with_capacity(len);
    for n in 0..count {
        match store
            .get(&chunk_key(key, digest, n))
            .await
            .map_err(Malformed::Store)?
        {
            Some(chunk) if chunk.len() <= CHUNK => value.extend_from_slice(&chunk),
            Some(_) => return Err(bad("a chunk is too long")),
            None => return Err(bad("a chunk is missing")),
        }
    }
    let actual = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &value);
    if value.len() != len || actual.as_ref() != digest {
        return Err(bad("the chunks do not make the value its head names"));
    }
    Ok(Some(value))
}

/// Over the gateway's [`SessionStore`] (Redis: sealed, shared by every process).
pub struct SharedRevocation {
    store: Arc<dyn SessionStore>,
    layout: KeyLayout,
}

impl SharedRevocation {
    pub fn new(store: Arc<dyn SessionStore>, layout: KeyLayout) -> Self {
        Self { store, layout }
    }

    fn crl_key(&self, issuer: &[u8]) -> String {
        self.layout.key(
            RecordKind::Revocation,
            &format!("crl:{}", issuer_digest(issuer)),
        )
    }

    fn ocsp_key(&self, cert: &str) -> String {
        self.layout
            .key(RecordKind::Revocation, &format!("ocsp:{cert}"))
    }
}

impl RevocationState for SharedRevocation {
    fn location(&self) -> String {
        "the shared store".into()
    }

    fn crl<'a>(
        &'a self,
        issuer: &'a [u8],
        _now: OffsetDateTime,
    ) -> StoreFuture<'a, Option<RecordedCrl>> {
        Box::pin(async move {
            let key = self.crl_key(issuer);
            match get_chunked(self.store.as_ref(), &key).await {
                Ok(Some(v)) => decode_crl(&key, &v).map(Some),
                Ok(None) => Ok(None),
                Err(Malformed::Store(e)) => Err(e),
                Err(Malformed::Record(why)) => Err(StoreError::Unavailable(format!(
                    "{MALFORMED_RECORD}: {why}"
                ))),
            }
        })
    }

    fn record_crl<'a>(
        &'a self,
        issuer: &'a [u8],
        crl: &'a RecordedCrl,
        next_update: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let key = self.crl_key(issuer);
            // Read before write: another process may have recorded a newer one. (Two processes
            // installing two different newer CRLs in the same milliseconds can still race; the
            // loser's is the older by at most one CA publication, and each process keeps its own
            // in memory.) A record that does not open is replaced.
            if let Ok(Some(v)) = get_chunked(self.store.as_ref(), &key).await {
                if decode_crl(&key, &v).is_ok_and(|held| held.this_update >= crl.this_update) {
                    return Ok(false);
                }
            }
            let ttl = ttl_until(next_update + CRL_KEPT_AFTER_NEXT_UPDATE, now);
            put_chunked(self.store.as_ref(), &key, &encode_crl(crl), ttl).await?;
            Ok(true)
        })
    }

    fn forget_crl<'a>(&'a self, issuer: &'a [u8]) -> StoreFuture<'a, ()> {
        Box::pin(async move { self.store.delete(&self.crl_key(issuer)).await })
    }

    fn ocsp<'a>(&'a self, cert: &'a str, _now: OffsetDateTime) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            match get_chunked(self.store.as_ref(), &self.ocsp_key(cert)).await {
                Ok(v) => Ok(v),
                Err(Malformed::Store(e)) => Err(e),
                // Bytes the checker will refuse (and report), then replace with a fresh answer.
                Err(Malformed::Record(_)) => Ok(Some(Vec::new())),
            }
        })
    }

    fn record_ocsp<'a>(
        &'a self,
        cert: &'a str,
        der: &'a [u8],
        next_update: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            if next_update <= now {
                return Ok(());
            }
            put_chunked(
                self.store.as_ref(),
                &self.ocsp_key(cert),
                der,
                ttl_until(next_update, now),
            )
            .await
        })
    }
}

// ---------------------------------------------------------------------------------------------
// SQLite (one process, memory store)

/// A file in the data directory. Calls run on the blocking pool.
pub struct SqliteRevocation {
    path: PathBuf,
    conn: Arc<Mutex<rusqlite::Connection>>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS crl (
    issuer TEXT PRIMARY KEY,
    this_update INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    der BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS ocsp (
    cert TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL,
    der BLOB NOT NULL
);";

impl SqliteRevocation {
    /// Open (creating) the file and its tables; a file that is not such a database is an error.
    pub fn open(path: &Path) -> Result<Self, String> {
        let fail = |e: rusqlite::Error| format!("{}: {e}", path.display());
        let conn = rusqlite::Connection::open(path).map_err(fail)?;
        conn.busy_timeout(std::time::Duration::from_secs(2))
            .map_err(fail)?;
        conn.execute_batch(SCHEMA).map_err(fail)?;
        Ok(Self {
            path: path.to_owned(),
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.conn.clone();
        let path = self.path.display().to_string();
        tokio::task::spawn_blocking(move || {
            let guard = lock(&conn);
            f(&guard)
        })
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))?
        .map_err(|e| StoreError::Unavailable(format!("{path}: {e}")))
    }
}

impl RevocationState for SqliteRevocation {
    fn location(&self) -> String {
        format!("SQLite file {}", self.path.display())
    }

    fn crl<'a>(
        &'a self,
        issuer: &'a [u8],
        now: OffsetDateTime,
    ) -> StoreFuture<'a, Option<RecordedCrl>> {
        let id = issuer_digest(issuer);
        let now = now.unix_timestamp();
        Box::pin(async move {
            use rusqlite::types::Value;
            let row: Option<(Value, Value)> = self
                .with(move |c| {
                    use rusqlite::OptionalExtension;
                    c.query_row(
                        "SELECT this_update, der FROM crl WHERE issuer = ?1 AND expires_at > ?2",
                        rusqlite::params![id, now],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()
                })
                .await?;
            match row {
                None => Ok(None),
                Some((Value::Integer(t), Value::Blob(der))) => {
                    match OffsetDateTime::from_unix_timestamp(t) {
                        Ok(this_update) => Ok(Some(RecordedCrl { this_update, der })),
                        Err(_) => Err(StoreError::Unavailable(format!(
                            "{MALFORMED_RECORD}: thisUpdate out of range"
                        ))),
                    }
                }
                Some(_) => Err(StoreError::Unavailable(format!(
                    "{MALFORMED_RECORD}: columns of the wrong type"
                ))),
            }
        })
    }

    fn record_crl<'a>(
        &'a self,
        issuer: &'a [u8],
        crl: &'a RecordedCrl,
        next_update: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreFuture<'a, bool> {
        let id = issuer_digest(issuer);
        let this_update = crl.this_update.unix_timestamp();
        let expires = (next_update + CRL_KEPT_AFTER_NEXT_UPDATE).unix_timestamp();
        let der = crl.der.clone();
        let now = now.unix_timestamp();
        Box::pin(async move {
            self.with(move |c| {
                c.execute("DELETE FROM crl WHERE expires_at <= ?1", [now])?;
                let changed = c.execute(
                    "INSERT INTO crl (issuer, this_update, expires_at, der) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (issuer) DO UPDATE SET this_update = excluded.this_update,
                        expires_at = excluded.expires_at, der = excluded.der
                     WHERE excluded.this_update > crl.this_update",
                    rusqlite::params![id, this_update, expires, der],
                )?;
                Ok(changed > 0)
            })
            .await
        })
    }

    fn forget_crl<'a>(&'a self, issuer: &'a [u8]) -> StoreFuture<'a, ()> {
        let id = issuer_digest(issuer);
        Box::pin(async move {
            self.with(move |c| {
                c.execute("DELETE FROM crl WHERE issuer = ?1", [id])
                    .map(|_| ())
            })
            .await
        })
    }

    fn ocsp<'a>(&'a self, cert: &'a str, now: OffsetDateTime) -> StoreFuture<'a, Option<Vec<u8>>> {
        let cert = cert.to_owned();
        let now = now.unix_timestamp();
        Box::pin(async move {
            self.with(move |c| {
                use rusqlite::OptionalExtension;
                c.query_row(
                    "SELECT der FROM ocsp WHERE cert = ?1 AND expires_at > ?2",
                    rusqlite::params![cert, now],
                    |r| r.get(0),
                )
                .optional()
            })
            .await
        })
    }

    fn record_ocsp<'a>(
        &'a self,
        cert: &'a str,
        der: &'a [u8],
        next_update: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        let cert = cert.to_owned();
        let der = der.to_vec();
        let (until, now) = (next_update.unix_timestamp(), now.unix_timestamp());
        Box::pin(async move {
            if until <= now {
                return Ok(());
            }
            self.with(move |c| {
                c.execute("DELETE FROM ocsp WHERE expires_at <= ?1", [now])?;
                c.execute(
                    "INSERT OR REPLACE INTO ocsp (cert, expires_at, der) VALUES (?1, ?2, ?3)",
                    rusqlite::params![cert, until, der],
                )?;
                Ok(())
            })
            .await
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Memory (no data directory)

/// This process only: what a restart forgets.
#[derive(Default)]
pub struct MemoryRevocation {
    crls: Mutex<HashMap<String, (RecordedCrl, OffsetDateTime)>>,
    ocsp: Mutex<HashMap<String, (Vec<u8>, OffsetDateTime)>>,
}

impl RevocationState for MemoryRevocation {
    fn location(&self) -> String {
        "memory (lost at restart)".into()
    }

    fn crl<'a>(
        &'a self,
        issuer: &'a [u8],
        now: OffsetDateTime,
    ) -> StoreFuture<'a, Option<RecordedCrl>> {
        let found = lock(&self.crls)
            .get(&issuer_digest(issuer))
            .filter(|(_, until)| *until > now)
            .map(|(crl, _)| crl.clone());
        Box::pin(std::future::ready(Ok(found)))
    }

    fn record_crl<'a>(
        &'a self,
        issuer: &'a [u8],
        crl: &'a RecordedCrl,
        next_update: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreFuture<'a, bool> {
        let mut map = lock(&self.crls);
        map.retain(|_, (_, until)| *until > now);
        let id = issuer_digest(issuer);
        let newer = map
            .get(&id)
            .is_none_or(|(held, _)| held.this_update < crl.this_update);
        if newer {
            map.insert(id, (crl.clone(), next_update + CRL_KEPT_AFTER_NEXT_UPDATE));
        }
        Box::pin(std::future::ready(Ok(newer)))
    }

    fn forget_crl<'a>(&'a self, issuer: &'a [u8]) -> StoreFuture<'a, ()> {
        lock(&self.crls).remove(&issuer_digest(issuer));
        Box::pin(std::future::ready(Ok(())))
    }

    fn ocsp<'a>(&'a self, cert: &'a str, now: OffsetDateTime) -> StoreFuture<'a, Option<Vec<u8>>> {
        let found = lock(&self.ocsp)
            .get(cert)
            .filter(|(_, until)| *until > now)
            .map(|(der, _)| der.clone());
        Box::pin(std::future::ready(Ok(found)))
    }

    fn record_ocsp<'a>(
        &'a self,
        cert: &'a str,
        der: &'a [u8],
        next_update: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        let mut map = lock(&self.ocsp);
        map.retain(|_, (_, until)| *until > now);
        if next_update > now {
            map.insert(cert.to_owned(), (der.to_vec(), next_update));
        }
        Box::pin(std::future::ready(Ok(())))
    }
}

// ---------------------------------------------------------------------------------------------
// The OCSP checker's view

/// The revocation state as the OCSP checker's cache: store errors and refused entries become
/// warnings, and the checker asks the responder instead.
pub struct OcspCache {
    state: Arc<dyn RevocationState>,
}

impl OcspCache {
    pub fn new(state: Arc<dyn RevocationState>) -> Self {
        Self { state }
    }
}

impl OcspResponseCache for OcspCache {
    fn load<'a>(&'a self, cert: &'a str, now: OffsetDateTime) -> CacheFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            match self.state.ocsp(cert, now).await {
                Ok(found) => found,
                Err(e) => {
                    tracing::warn!(code = e.code(), error = %e, "the OCSP cache cannot be read: asking the responder");
                    None
                }
            }
        })
    }

    fn store<'a>(
        &'a self,
        cert: &'a str,
        der: Vec<u8>,
        next_update: OffsetDateTime,
        now: OffsetDateTime,
    ) -> CacheFuture<'a, ()> {
        Box::pin(async move {
            if let Err(e) = self.state.record_ocsp(cert, &der, next_update, now).await {
                tracing::warn!(code = e.code(), error = %e, "an OCSP response could not be cached: the next login asks again");
            }
        })
    }

    fn refused(&self, cert: &str, reason: &'static str) {
        tracing::warn!(target: "audit", event = "ocsp_cache_entry_refused", cert, reason,
            "a cached OCSP response did not verify again and was ignored: the responder is asked");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::stores::contract::{redis_with, ring, unique_prefix};

    fn t(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_900_000_000 + secs).unwrap()
    }

    fn crl(this_update: i64, der: &[u8]) -> RecordedCrl {
        RecordedCrl {
            this_update: t(this_update),
            der: der.to_vec(),
        }
    }

    /// The same behaviour from every implementation: the newest CRL wins, OCSP entries go at
    /// their nextUpdate. `now` is the real time for Redis (its TTLs follow real time).
    async fn contract(state: &dyn RevocationState, now: OffsetDateTime) {
        let at = |s: i64| now + Duration::seconds(s);
        let issuer = b"issuer A".as_slice();
        assert_eq!(state.crl(issuer, now).await.unwrap(), None);
        let newer = RecordedCrl {
            this_update: at(-60),
            der: b"newer".to_vec(),
        };
        let older = RecordedCrl {
            this_update: at(-120),
            der: b"older".to_vec(),
        };
        assert!(state
            .record_crl(issuer, &newer, at(3600), now)
            .await
            .unwrap());
        assert!(!state
            .record_crl(issuer, &older, at(3600), now)
            .await
            .unwrap());
        assert!(!state
            .record_crl(issuer, &newer, at(3600), now)
            .await
            .unwrap());
        assert_eq!(state.crl(issuer, now).await.unwrap(), Some(newer.clone()));
        assert_eq!(state.crl(b"issuer B", now).await.unwrap(), None);
        // Kept after its nextUpdate (the floor outlives it).
        assert_eq!(state.crl(issuer, at(7200)).await.unwrap(), Some(newer));
        // Forgotten (a record that did not verify): the next one is recorded, older or not.
        state.forget_crl(issuer).await.unwrap();
        assert_eq!(state.crl(issuer, now).await.unwrap(), None);
        assert!(state
            .record_crl(issuer, &older, at(3600), now)
            .await
            .unwrap());

        state.record_ocsp("c1", b"resp", at(2), now).await.unwrap();
        state.record_ocsp("c2", b"never", at(0), now).await.unwrap();
        assert_eq!(state.ocsp("c1", now).await.unwrap(), Some(b"resp".to_vec()));
        assert_eq!(state.ocsp("c2", now).await.unwrap(), None);
    }

    #[tokio::test]
    async fn memory_sqlite_and_the_shared_store_keep_the_same_contract() {
        // Whole seconds, as CRL times are.
        let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
        contract(&MemoryRevocation::default(), now).await;
        let dir = tempfile::tempdir().unwrap();
        contract(
            &SqliteRevocation::open(&dir.path().join(SQLITE_FILE)).unwrap(),
            now,
        )
        .await;
        let stores = redis_with(ring("k1", 9), &unique_prefix()).await;
        contract(&SharedRevocation::new(stores.sessions, stores.layout), now).await;
    }

    #[tokio::test]
    async fn an_expired_ocsp_entry_is_gone_from_sqlite_and_redis() {
        let now = OffsetDateTime::now_utc();
        let dir = tempfile::tempdir().unwrap();
        let sqlite = SqliteRevocation::open(&dir.path().join(SQLITE_FILE)).unwrap();
        sqlite
            .record_ocsp("c", b"r", now + Duration::seconds(1), now)
            .await
            .unwrap();
        assert!(sqlite
            .ocsp("c", now + Duration::seconds(1))
            .await
            .unwrap()
            .is_none());
        // A CRL record outlives its nextUpdate by the margin, then goes.
        sqlite
            .record_crl(b"i", &crl(0, b"x"), now, now)
            .await
            .unwrap();
        assert!(sqlite
            .crl(b"i", now + Duration::days(29))
            .await
            .unwrap()
            .is_some());
        assert!(sqlite
            .crl(b"i", now + Duration::days(31))
            .await
            .unwrap()
            .is_none());

        let stores = redis_with(ring("k1", 9), &unique_prefix()).await;
        let shared = SharedRevocation::new(stores.sessions, stores.layout);
        shared
            .record_ocsp("c", b"r", now + Duration::seconds(1), now)
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
        assert!(shared
            .ocsp("c", OffsetDateTime::now_utc())
            .await
            .unwrap()
            .is_none());
    }

    #[tokio::test]
    async fn the_sqlite_file_survives_a_reopen_and_a_garbled_file_is_an_error_not_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SQLITE_FILE);
        let now = OffsetDateTime::now_utc();
        {
            let s = SqliteRevocation::open(&path).unwrap();
            s.record_crl(b"i", &crl(5, b"der"), now + Duration::days(1), now)
                .await
                .unwrap();
            s.record_ocsp("c", b"r", now + Duration::hours(1), now)
                .await
                .unwrap();
        }
        let s = SqliteRevocation::open(&path).unwrap();
        assert_eq!(s.crl(b"i", now).await.unwrap(), Some(crl(5, b"der")));
        assert_eq!(s.ocsp("c", now).await.unwrap(), Some(b"r".to_vec()));
        // The key is a digest, not the issuer's name.
        let c = rusqlite::Connection::open(&path).unwrap();
        let id: String = c
            .query_row("SELECT issuer FROM crl", [], |r| r.get(0))
            .unwrap();
        assert_eq!(id, issuer_digest(b"i"));
        // A value of the wrong type where a time belongs: an error for that read, no panic.
        c.execute("UPDATE crl SET this_update = 'garbage'", [])
            .unwrap();
        assert!(s.crl(b"i", now).await.is_err());
        drop((s, c));

        std::fs::write(&path, b"not a database at all, just bytes").unwrap();
        assert!(SqliteRevocation::open(&path).is_err());
        // The gateway then keeps the state in memory (with a warning), and goes on.
        let state = for_gateway(None, Some(dir.path()));
        assert!(state.location().starts_with("memory"));
    }

    #[tokio::test]
    async fn a_large_record_is_chunked_in_the_shared_store_and_a_missing_chunk_is_malformed() {
        let stores = redis_with(ring("k1", 9), &unique_prefix()).await;
        let shared = SharedRevocation::new(stores.sessions.clone(), stores.layout.clone());
        let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
        // Larger than one sealed value (16 KB) by far; chunk boundaries not aligned.
        let der: Vec<u8> = (0..100_003u32).map(|i| (i % 251) as u8).collect();
        let big = RecordedCrl {
            this_update: now,
            der: der.clone(),
        };
        assert!(shared
            .record_crl(b"i", &big, now + Duration::days(1), now)
            .await
            .unwrap());
        assert_eq!(shared.crl(b"i", now).await.unwrap(), Some(big.clone()));
        shared
            .record_ocsp("c", &der, now + Duration::hours(1), now)
            .await
            .unwrap();
        assert_eq!(shared.ocsp("c", now).await.unwrap(), Some(der.clone()));

        // One chunk gone (or expired early): the record is malformed, never a shorter CRL.
        let value = encode_crl(&big);
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &value);
        let key = shared.crl_key(b"i");
        stores
            .sessions
            .delete(&chunk_key(&key, digest.as_ref(), 3))
            .await
            .unwrap();
        match shared.crl(b"i", now).await {
            Err(StoreError::Unavailable(why)) => {
                assert!(why.starts_with(MALFORMED_RECORD), "{why}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_tampered_shared_value_is_an_error_for_the_caller_to_ignore() {
        let prefix = unique_prefix();
        let stores = redis_with(ring("k1", 9), &prefix).await;
        let shared = SharedRevocation::new(stores.sessions.clone(), stores.layout.clone());
        let now = OffsetDateTime::now_utc();
        shared
            .record_crl(b"i", &crl(0, b"der"), now + Duration::days(1), now)
            .await
            .unwrap();
        // Written by someone without the seal key: refused when read.
        let key = shared.crl_key(b"i");
        let other = redis_with(ring("k1", 10), &prefix).await;
        other
            .sessions
            .put(
                &key,
                encode_crl(&crl(99, b"forged")),
                std::time::Duration::from_secs(60),
            )
            .await
            .unwrap();
        assert!(matches!(
            shared.crl(b"i", now).await,
            Err(StoreError::Tampered { .. })
        ));
        // A record that does not open is replaced by the next genuine one.
        assert!(shared
            .record_crl(b"i", &crl(1, b"der2"), now + Duration::days(1), now)
            .await
            .unwrap());
        assert_eq!(shared.crl(b"i", now).await.unwrap(), Some(crl(1, b"der2")));
        assert_eq!(key, format!("{prefix}rev:crl:{}", issuer_digest(b"i")));
    }
}
