//! What the gateway keeps in Redis (`--redis`): `used_memory` (INFO memory) and DBSIZE at each
//! round's ends, and, for a figure per session that other keys do not blur, `MEMORY USAGE`
//! summed over a sample of SSO sessions: each `<prefix>sso:<digest>` found by SCAN (never KEYS,
//! which blocks the server) with its `<prefix>sso:<digest>:m` hash of the services it served.
//!
//! Every call has a timeout: a Redis that stops answering costs the report its Redis figures,
//! never the run.

use redis::aio::MultiplexedConnection;
use redis::AsyncConnectionConfig;
use serde::Serialize;
use std::time::Duration;
use thiserror::Error;

/// Per call, connecting included.
pub const REDIS_TIMEOUT: Duration = Duration::from_secs(3);
/// At most this many sessions are measured with MEMORY USAGE.
pub const SESSION_SAMPLE: usize = 100;
/// Keys per SCAN call (a hint to the server).
const SCAN_COUNT: usize = 1000;
/// SCAN calls at most, so that a huge keyspace with few sessions ends the search.
const MAX_SCAN_CALLS: usize = 10_000;

#[derive(Debug, Error)]
pub enum RedisProbeError {
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("Redis: no answer within {} s", REDIS_TIMEOUT.as_secs())]
    Timeout,
    #[error("Redis: INFO memory has no used_memory")]
    NoUsedMemory,
}

/// One reading of the whole server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RedisSample {
    /// `used_memory` of INFO memory, bytes.
    pub used_memory: u64,
    /// DBSIZE: keys in the selected database.
    pub keys: u64,
}

/// `MEMORY USAGE` of a sample of SSO sessions, each with its `:m` hash.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct SessionBytes {
    /// Sessions measured (up to [`SESSION_SAMPLE`]).
    pub sessions: usize,
    /// Of those, how many had a `:m` hash.
    pub with_services: usize,
    /// Bytes of the session keys and their hashes, summed.
    pub total_bytes: u64,
    /// `total_bytes / sessions`.
    pub bytes_per_session: f64,
}

/// A connection to the gateway's Redis, and the key prefix the gateway uses (`gw:` in dev mode).
#[derive(Clone)]
pub struct RedisProbe {
    conn: MultiplexedConnection,
    prefix: String,
}

impl std::fmt::Debug for RedisProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisProbe")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisProbe {
    /// Connects to `url` (`redis://host:port[/db]`) and checks that the server answers.
    pub async fn connect(url: &str, prefix: &str) -> Result<RedisProbe, RedisProbeError> {
        let client = redis::Client::open(url)?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT));
        let conn = timed(client.get_multiplexed_async_connection_with_config(&config)).await?;
        let probe = RedisProbe {
            conn,
            prefix: prefix.to_owned(),
        };
        probe.sample().await?;
        Ok(probe)
    }

    /// `used_memory` and DBSIZE, now.
    pub async fn sample(&self) -> Result<RedisSample, RedisProbeError> {
        let mut conn = self.conn.clone();
        let info: String = timed(redis::cmd("INFO").arg("memory").query_async(&mut conn)).await?;
        let used_memory = used_memory(&info).ok_or(RedisProbeError::NoUsedMemory)?;
        let keys: u64 = timed(redis::cmd("DBSIZE").query_async(&mut conn)).await?;
        Ok(RedisSample { used_memory, keys })
    }

    /// `MEMORY USAGE` (every nested value counted: `SAMPLES 0`) of up to [`SESSION_SAMPLE`]
    /// sessions and their `:m` hashes; `None` when there is no session to measure.
    pub async fn session_bytes(&self) -> Result<Option<SessionBytes>, RedisProbeError> {
        let sessions = self.some_sessions().await?;
        let mut conn = self.conn.clone();
        let (mut measured, mut with_services, mut total_bytes) = (0usize, 0usize, 0u64);
        for key in sessions {
            // A session may expire between SCAN and here: then it is left out.
            let Some(bytes) = memory_usage(&mut conn, &key).await? else {
                continue;
            };
            let services = memory_usage(&mut conn, &format!("{key}:m")).await?;
            measured += 1;
            with_services += usize::from(services.is_some());
            total_bytes += bytes + services.unwrap_or(0);
        }
        Ok((measured > 0).then(|| SessionBytes {
            sessions: measured,
            with_services,
            total_bytes,
            bytes_per_session: total_bytes as f64 / measured as f64,
        }))
    }

    /// Up to [`SESSION_SAMPLE`] session keys (`<prefix>sso:<digest>`, not their `:m` hashes).
    async fn some_sessions(&self) -> Result<Vec<String>, RedisProbeError> {
        let mut conn = self.conn.clone();
        let pattern = format!("{}sso:*", glob_escape(&self.prefix));
        let session_prefix = format!("{}sso:", self.prefix);
        let mut found = Vec::new();
        let mut cursor: u64 = 0;
        for _ in 0..MAX_SCAN_CALLS {
            let (next, keys): (u64, Vec<String>) = timed(
                redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(SCAN_COUNT)
                    .query_async(&mut conn),
            )
            .await?;
            for key in keys {
                let is_session = key
                    .strip_prefix(&session_prefix)
                    .is_some_and(|digest| !digest.is_empty() && !digest.contains(':'));
                // SCAN may return a key twice; the sample counts each session once.
                if is_session && !found.contains(&key) && found.len() < SESSION_SAMPLE {
                    found.push(key);
                }
            }
            cursor = next;
            if cursor == 0 || found.len() >= SESSION_SAMPLE {
                break;
            }
        }
        Ok(found)
    }
}

/// `used_memory:<n>` of an INFO text (not `used_memory_rss` and the like).
pub fn used_memory(info: &str) -> Option<u64> {
    info.lines()
        .find_map(|l| l.trim_end().strip_prefix("used_memory:"))
        .and_then(|v| v.parse().ok())
}

async fn memory_usage(
    conn: &mut MultiplexedConnection,
    key: &str,
) -> Result<Option<u64>, RedisProbeError> {
    timed(
        redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(key)
            .arg("SAMPLES")
            .arg(0)
            .query_async(conn),
    )
    .await
}

async fn timed<T>(
    call: impl std::future::Future<Output = Result<T, redis::RedisError>>,
) -> Result<T, RedisProbeError> {
    match tokio::time::timeout(REDIS_TIMEOUT, call).await {
        Ok(r) => Ok(r?),
        Err(_) => Err(RedisProbeError::Timeout),
    }
}

/// The prefix as a SCAN pattern that matches it literally.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn used_memory_is_read_and_its_neighbours_are_not() {
        let info = "# Memory\r\nused_memory_rss:9000\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\n";
        assert_eq!(used_memory(info), Some(1_048_576));
        assert_eq!(used_memory("# Memory\r\nused_memory_rss:9000\r\n"), None);
    }

    #[test]
    fn the_prefix_is_matched_literally() {
        assert_eq!(glob_escape("gw:"), "gw:");
        assert_eq!(glob_escape("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
    }
}
