//! One contract for every store: the memory stores and the Redis stores pass the same tests
//! (expiry, atomic single-use take, insert-if-absent, concurrent updates, members). The Redis
//! runs use the server at `GATEWAY_TEST_REDIS` (default `redis://127.0.0.1:6379`), each under a
//! prefix of its own. What needs a Redis of its own (stopped, reconfigured) is in
//! `tests/tests/redis_store.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::redis::{Redis, RedisSettings, RedisTarget};
use super::sealed::SealKeyRing;
use super::{KeyLayout, MemoryCapacities, RecordKind, StoreError, Stores};
use certs::{ManualClock, SystemClock, SystemRandomSource};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// Lets time pass for the store under test: the manual clock for memory, real time for Redis.
type Advance = Arc<dyn Fn(Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

struct Subject {
    name: &'static str,
    stores: Stores,
    advance: Advance,
}

fn memory() -> Subject {
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let caps = MemoryCapacities {
        sessions: 1000,
        replay: 1000,
        single_use: 1000,
    };
    let stores = Stores::memory(
        caps,
        KeyLayout::default(),
        clock.clone(),
        &SystemRandomSource,
    )
    .unwrap();
    let advance: Advance = Arc::new(move |d| {
        clock.advance(time::Duration::try_from(d).unwrap());
        Box::pin(async {})
    });
    Subject {
        name: "memory",
        stores,
        advance,
    }
}

pub(crate) fn test_redis_url() -> String {
    std::env::var("GATEWAY_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

pub(crate) fn ring(name: &str, secret: u8) -> Arc<SealKeyRing> {
    Arc::new(SealKeyRing::new(name, [(name, [secret; 32])]).unwrap())
}

pub(crate) async fn redis_with(ring: Arc<SealKeyRing>, prefix: &str) -> Stores {
    let redis = Redis::connect(&RedisSettings {
        target: RedisTarget::Url(test_redis_url()),
        timeout: Duration::from_secs(2),
    })
    .await
    .unwrap_or_else(|e| panic!("the contract tests need Redis at {}: {e}", test_redis_url()));
    super::redis::stores(
        redis,
        KeyLayout::new(prefix),
        ring,
        Arc::new(SystemClock),
        Arc::new(SystemRandomSource),
    )
}

pub(crate) fn unique_prefix() -> String {
    format!("gwtest:{}:", certs::random_id(&SystemRandomSource).unwrap())
}

async fn redis() -> Subject {
    let stores = redis_with(ring("k1", 7), &unique_prefix()).await;
    let advance: Advance = Arc::new(|d| Box::pin(tokio::time::sleep(d)));
    Subject {
        name: "redis",
        stores,
        advance,
    }
}

async fn subjects() -> Vec<Subject> {
    vec![memory(), redis().await]
}

fn key(s: &Subject, name: &str) -> String {
    s.stores.layout.key(RecordKind::Session, name)
}

#[tokio::test]
async fn values_expire_and_deleted_records_take_their_members() {
    for s in subjects().await {
        let st = &s.stores.sessions;
        let (a, b) = (key(&s, "a"), key(&s, "b"));
        st.put(&a, b"one".to_vec(), Duration::from_millis(600))
            .await
            .unwrap();
        st.put(&b, b"two".to_vec(), Duration::from_secs(30))
            .await
            .unwrap();
        assert_eq!(
            st.get(&a).await.unwrap().as_deref(),
            Some(&b"one"[..]),
            "{}",
            s.name
        );
        assert!(st.add_member(&b, "sp1", b"m1".to_vec()).await.unwrap());
        (s.advance)(Duration::from_millis(900)).await;
        assert_eq!(st.get(&a).await.unwrap(), None, "{}: expired", s.name);
        assert!(
            !st.add_member(&a, "sp1", b"m".to_vec()).await.unwrap(),
            "{}: no member for a record that is gone",
            s.name
        );
        assert_eq!(st.members(&a).await.unwrap(), Vec::<Vec<u8>>::new());
        // Replacing the value keeps the members.
        st.put(&b, b"two'".to_vec(), Duration::from_secs(30))
            .await
            .unwrap();
        assert_eq!(
            st.members(&b).await.unwrap(),
            vec![b"m1".to_vec()],
            "{}",
            s.name
        );
        st.delete(&b).await.unwrap();
        assert_eq!(st.get(&b).await.unwrap(), None);
        assert!(
            st.members(&b).await.unwrap().is_empty(),
            "{}: members end with the record",
            s.name
        );
    }
}

#[tokio::test]
async fn members_expire_with_their_record() {
    for s in subjects().await {
        let st = &s.stores.sessions;
        let k = key(&s, "short");
        st.put(&k, b"v".to_vec(), Duration::from_millis(600))
            .await
            .unwrap();
        assert!(st.add_member(&k, "sp", b"m".to_vec()).await.unwrap());
        // A refresh carries the members' expiry along.
        st.put(&k, b"v".to_vec(), Duration::from_millis(1500))
            .await
            .unwrap();
        (s.advance)(Duration::from_millis(900)).await;
        assert_eq!(
            st.members(&k).await.unwrap(),
            vec![b"m".to_vec()],
            "{}",
            s.name
        );
        (s.advance)(Duration::from_millis(900)).await;
        assert!(st.members(&k).await.unwrap().is_empty(), "{}", s.name);
    }
}

#[tokio::test]
async fn of_concurrent_takers_one_gets_the_value() {
    for s in subjects().await {
        let k = key(&s, "code");
        s.stores
            .sessions
            .put(&k, b"grant".to_vec(), Duration::from_secs(30))
            .await
            .unwrap();
        let takers = (0..16).map(|_| {
            let st = s.stores.sessions.clone();
            let k = k.clone();
            tokio::spawn(async move { st.take(&k).await.unwrap() })
        });
        let mut got = 0;
        for t in takers {
            if let Some(v) = t.await.unwrap() {
                assert_eq!(v, b"grant");
                got += 1;
            }
        }
        assert_eq!(got, 1, "{}", s.name);
    }
}

#[tokio::test]
async fn of_concurrent_inserts_one_wins() {
    for s in subjects().await {
        let k = key(&s, "replay");
        let inserts = (0..16u8).map(|i| {
            let st = s.stores.sessions.clone();
            let k = k.clone();
            tokio::spawn(async move {
                st.insert_if_absent(&k, vec![i], Duration::from_secs(30))
                    .await
                    .unwrap()
            })
        });
        let mut won = 0;
        for t in inserts {
            won += usize::from(t.await.unwrap());
        }
        assert_eq!(won, 1, "{}", s.name);
        assert_eq!(
            s.stores.sessions.get(&k).await.unwrap().map(|v| v.len()),
            Some(1)
        );
    }
}

#[tokio::test]
async fn concurrent_members_are_all_kept() {
    for s in subjects().await {
        let k = key(&s, "session");
        s.stores
            .sessions
            .put(&k, b"s".to_vec(), Duration::from_secs(30))
            .await
            .unwrap();
        let adds = (0..20).map(|i| {
            let st = s.stores.sessions.clone();
            let k = k.clone();
            tokio::spawn(async move {
                st.add_member(
                    &k,
                    &format!("https://sp{i}.example"),
                    format!("sp{i}").into_bytes(),
                )
                .await
                .unwrap()
            })
        });
        for t in adds {
            assert!(t.await.unwrap());
        }
        // Setting a member again replaces it.
        assert!(s
            .stores
            .sessions
            .add_member(&k, "https://sp3.example", b"sp3'".to_vec())
            .await
            .unwrap());
        let mut got: Vec<String> = s
            .stores
            .sessions
            .members(&k)
            .await
            .unwrap()
            .into_iter()
            .map(|v| String::from_utf8(v).unwrap())
            .collect();
        got.sort();
        let mut want: Vec<String> = (0..20)
            .map(|i| {
                if i == 3 {
                    "sp3'".into()
                } else {
                    format!("sp{i}")
                }
            })
            .collect();
        want.sort();
        assert_eq!(got, want, "{}", s.name);
    }
}

#[tokio::test]
async fn markers_are_claimed_once_and_expire() {
    for s in subjects().await {
        let id = [9u8; 32];
        let claims = (0..16).map(|_| {
            let m = s.stores.replay.clone();
            tokio::spawn(async move { m.claim(&id, Duration::from_millis(600)).await.unwrap() })
        });
        let mut won = 0;
        for t in claims {
            won += usize::from(t.await.unwrap());
        }
        assert_eq!(won, 1, "{}", s.name);
        assert!(s.stores.replay.contains(&id).await.unwrap());
        // Kinds are apart: the same ID is free among the single-use markers.
        assert!(
            !s.stores.single_use.contains(&id).await.unwrap(),
            "{}",
            s.name
        );
        // The memory markers keep a marker up to one 10 s bucket longer than asked.
        (s.advance)(Duration::from_secs(if s.name == "memory" { 11 } else { 1 })).await;
        assert!(
            !s.stores.replay.contains(&id).await.unwrap(),
            "{}: expired",
            s.name
        );
        assert!(s
            .stores
            .replay
            .claim(&id, Duration::from_secs(30))
            .await
            .unwrap());
    }
}

/// What someone who can write to Redis could try: a value of their own, a real session moved to
/// another key, a member moved to another session, a value sealed with a key we do not hold.
#[tokio::test]
async fn redis_refuses_values_it_did_not_seal_for_that_key() {
    let prefix = unique_prefix();
    let stores = redis_with(ring("k1", 7), &prefix).await;
    let st = &stores.sessions;
    let client = redis::Client::open(test_redis_url()).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    let victim = stores.layout.key(RecordKind::Session, "victim");
    let attacker = stores.layout.key(RecordKind::Session, "attacker");
    st.put(
        &victim,
        b"{\"identity\":\"900-series\"}".to_vec(),
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    st.add_member(&victim, "https://sp.example", b"part".to_vec())
        .await
        .unwrap();

    // What is stored reveals nothing of the value.
    let stored: Vec<u8> = redis::cmd("GET")
        .arg(&victim)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(!String::from_utf8_lossy(&stored).contains("900-series"));

    // A forged value.
    let _: () = redis::cmd("SET")
        .arg(&attacker)
        .arg("{\"identity\":\"forged\"}")
        .query_async(&mut raw)
        .await
        .unwrap();
    let e = st.get(&attacker).await.unwrap_err();
    assert!(matches!(&e, StoreError::Tampered { .. }), "{e}");
    assert_eq!(e.code(), "store.tampered");

    // The victim's sealed value copied under another key.
    let _: () = redis::cmd("SET")
        .arg(&attacker)
        .arg(&stored)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(matches!(
        st.get(&attacker).await,
        Err(StoreError::Tampered { .. })
    ));

    // One altered byte.
    let mut altered = stored.clone();
    let last = altered.len() - 2;
    altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
    let _: () = redis::cmd("SET")
        .arg(&victim)
        .arg(&altered)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(matches!(
        st.get(&victim).await,
        Err(StoreError::Tampered { .. })
    ));

    // A member moved from the victim's session into the attacker's.
    let _: () = redis::cmd("SET")
        .arg(&attacker)
        .arg(&stored)
        .query_async(&mut raw)
        .await
        .unwrap();
    let fields: Vec<(String, Vec<u8>)> = redis::cmd("HGETALL")
        .arg(format!("{victim}:m"))
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(fields.len(), 1);
    assert!(
        !fields[0].0.contains("sp.example"),
        "member names are digests"
    );
    let _: () = redis::cmd("HSET")
        .arg(format!("{attacker}:m"))
        .arg(&fields[0].0)
        .arg(&fields[0].1)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(matches!(
        st.members(&attacker).await,
        Err(StoreError::Tampered { .. })
    ));

    // A value sealed with a key this gateway does not hold.
    let other = redis_with(ring("k2", 8), &prefix).await;
    other
        .sessions
        .put(&victim, b"x".to_vec(), Duration::from_secs(60))
        .await
        .unwrap();
    match st.get(&victim).await {
        Err(StoreError::Tampered { cause, .. }) => assert_eq!(cause.code(), "seal.unknown_key"),
        other => panic!("{other:?}"),
    }
    // The same key under the same name opens (another process of this gateway).
    let twin = redis_with(ring("k2", 8), &prefix).await;
    assert_eq!(
        twin.sessions.get(&victim).await.unwrap().as_deref(),
        Some(&b"x"[..])
    );
}
