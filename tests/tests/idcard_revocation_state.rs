//! The ID card's revocation state across restarts (issue 10, item 4): a gateway started again
//! over the same SQLite file (memory store, `server.data_dir`) or the same Redis (`[store] kind =
//! "redis"`) refuses a CRL older than one it already installed, starts with the recorded CRL
//! when the CA's CRL source is down, and uses a cached OCSP "good" (counted at a hop in front
//! of `openssl ocsp`) instead of asking again, until the entry expires.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use certs::test_pki::TestCard;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use tests::browser::{Browser, Page};
use tests::idcard::{assert_refused, pki, world, Setup, World};
use tests::ocsp::{write_ca_files, CountingHop, OpensslResponder};

/// A CA's CRL distribution point: the bytes the test puts in it, or 503 while it holds none.
async fn crl_source() -> (String, Arc<Mutex<Option<Vec<u8>>>>) {
    let served: Arc<Mutex<Option<Vec<u8>>>> = Arc::new(Mutex::new(None));
    let bytes = served.clone();
    let app = axum::Router::new().route(
        "/intermediate.crl",
        axum::routing::get(move || {
            let bytes = bytes.clone();
            async move {
                match bytes.lock().unwrap().clone() {
                    Some(b) => (axum::http::StatusCode::OK, b),
                    None => (axum::http::StatusCode::SERVICE_UNAVAILABLE, Vec::new()),
                }
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/intermediate.crl", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (url, served)
}

/// How the restarted gateways keep their state: a data directory (SQLite), or that and Redis.
struct Durable {
    data: tempfile::TempDir,
    store_toml: Option<String>,
    prefix: Option<String>,
    starts: AtomicU32,
}

impl Durable {
    fn sqlite() -> Durable {
        Durable {
            data: tempfile::tempdir().unwrap(),
            store_toml: None,
            prefix: None,
            starts: AtomicU32::new(0),
        }
    }

    /// The shared Redis at 127.0.0.1:6379 under a prefix of this test's own.
    fn redis() -> Durable {
        let data = tempfile::tempdir().unwrap();
        let key = data.path().join("store-seal.key");
        std::fs::write(&key, [0x5a; 32]).unwrap();
        let prefix = format!(
            "gwtest:rev:{}:",
            certs::random_id(&certs::SystemRandomSource).unwrap()
        );
        let url =
            std::env::var("GATEWAY_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        Durable {
            store_toml: Some(format!(
                "[store]\nkind = \"redis\"\nurl = \"{url}\"\nkey_prefix = \"{prefix}\"\nseal_keys = [{{ name = \"s1\", file = \"{}\" }}]\n",
                key.display()
            )),
            prefix: Some(prefix),
            data,
            starts: AtomicU32::new(0),
        }
    }

    /// With Redis the data directory is not where the state goes: a fresh one for each start
    /// shows that what survives is in Redis.
    fn data_dir(&self) -> std::path::PathBuf {
        let dir = match &self.prefix {
            None => self.data.path().to_owned(),
            Some(_) => {
                let n = self.starts.fetch_add(1, Ordering::SeqCst);
                self.data.path().join(format!("start-{n}"))
            }
        };
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn setup(&self, base: Setup) -> Setup {
        Setup {
            python_sp: false,
            data_dir: Some(self.data_dir()),
            store_toml: self.store_toml.clone(),
            ..base
        }
    }
}

async fn login(w: &World, card: &TestCard) -> Page {
    let b = Browser::new();
    let selection = w.start_crafted(&b).await;
    w.login_with(&b, &selection, Some(card)).await
}

/// A CRL of the test PKI, verified (for its issuer and thisUpdate).
fn verified(crl: &[u8]) -> idp_adapters::idcard::VerifiedCrl {
    let p = pki();
    idp_adapters::idcard::VerifiedCrl::verify(
        crl,
        &[p.root.cert_der.clone(), p.intermediate.cert_der.clone()],
        time::OffsetDateTime::now_utc(),
    )
    .unwrap()
}

/// The thisUpdate of the intermediate's CRL in use.
fn installed_intermediate_crl(w: &World) -> Option<time::OffsetDateTime> {
    let intermediate = verified(&pki().intermediate_crl);
    let adapter = &w.gw.state.idcard.as_ref().unwrap().adapter;
    adapter
        .crls()
        .iter()
        .find(|c| c.issuer() == intermediate.issuer())
        .map(|c| c.this_update())
}

async fn crl_restarts(durable: Durable) {
    let p = pki();
    let (url, served) = crl_source().await;
    let crl_setup = || {
        durable.setup(Setup {
            crl_files: vec!["root.crl"],
            crl_urls: vec![url.clone()],
            ..Setup::tls()
        })
    };
    let later_this_update = verified(&p.later_crl_revoking_valid).this_update();

    // First start: the CA publishes a CRL revoking the valid card; it is installed and recorded.
    *served.lock().unwrap() = Some(p.later_crl_revoking_valid.clone());
    let w = world(crl_setup()).await;
    assert_refused(
        &login(&w, &p.cards.valid).await,
        403,
        "idcard.revoked",
        "first start",
    );
    w.gw.stop().await;

    // Restart; the source now replays the older CRL (which does not list the valid card). It is
    // refused as older, as it would have been without the restart.
    *served.lock().unwrap() = Some(p.intermediate_crl.clone());
    let w = world(crl_setup()).await;
    assert_eq!(installed_intermediate_crl(&w), Some(later_this_update));
    assert!(w.gw.state.refresh_crls().await.is_empty());
    assert_refused(
        &login(&w, &p.cards.valid).await,
        403,
        "idcard.revoked",
        "replayed older CRL after a restart",
    );
    w.gw.stop().await;

    // Restart with the source down: the recorded CRL is in use from the start.
    *served.lock().unwrap() = None;
    let w = world(crl_setup()).await;
    let failed = w.gw.state.refresh_crls().await;
    assert_eq!(failed.len(), 1, "only the unreachable source: {failed:?}");
    assert!(failed[0].contains(&url), "{failed:?}");
    assert_refused(
        &login(&w, &p.cards.valid).await,
        403,
        "idcard.revoked",
        "source down, recorded CRL",
    );
    assert_refused(
        &login(&w, &p.cards.revoked).await,
        403,
        "idcard.revoked",
        "source down, recorded CRL",
    );
    assert!(login(&w, &p.cards.valid_rsa).await.has_saml_response());
    w.gw.stop().await;

    // The control: a gateway with nothing recorded accepts the older CRL (so what refused it
    // above was the recorded state, nothing else).
    *served.lock().unwrap() = Some(p.intermediate_crl.clone());
    let fresh = Durable::sqlite();
    let w = world(fresh.setup(Setup {
        crl_files: vec!["root.crl"],
        crl_urls: vec![url.clone()],
        ..Setup::tls()
    }))
    .await;
    assert!(login(&w, &p.cards.valid).await.has_saml_response());
    w.gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crl_state_in_the_sqlite_file_outlives_a_restart() {
    crl_restarts(Durable::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crl_state_in_redis_outlives_a_restart() {
    crl_restarts(Durable::redis()).await;
}

/// `openssl ocsp` for the test PKI behind a counting hop.
async fn responder() -> (OpensslResponder, CountingHop, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    write_ca_files(pki(), dir.path(), time::OffsetDateTime::now_utc());
    let path = dir.path().to_owned();
    let responder = tokio::task::spawn_blocking(move || OpensslResponder::start(&path))
        .await
        .unwrap();
    let hop = CountingHop::start(responder.url()).await;
    (responder, hop, dir)
}

/// Make the cached OCSP entries expire now, in the SQLite file or in Redis.
fn expire_ocsp_entries(durable: &Durable) {
    match &durable.prefix {
        None => {
            let c = rusqlite::Connection::open(
                durable
                    .data
                    .path()
                    .join(gateway::stores::revocation::SQLITE_FILE),
            )
            .unwrap();
            let n = c
                .execute(
                    "UPDATE ocsp SET expires_at = ?1",
                    [time::OffsetDateTime::now_utc().unix_timestamp()],
                )
                .unwrap();
            assert_eq!(n, 1);
        }
        Some(prefix) => {
            let keys = tests::redis::redis_cli(
                6379,
                &["--scan", "--pattern", &format!("{prefix}rev:ocsp:*")],
            );
            // The record's head (its chunks are `<head>:<digest>:<n>`).
            let keys: Vec<&str> = keys
                .split_whitespace()
                .filter(|k| !k[prefix.len() + "rev:ocsp:".len()..].contains(':'))
                .collect();
            assert_eq!(keys.len(), 1, "{keys:?}");
            let gone = tests::redis::redis_cli(6379, &["DEL", keys[0]]);
            assert!(gone.contains('1'), "{gone}");
        }
    }
}

async fn ocsp_restarts(durable: Durable) {
    let p = pki();
    let (_responder, hop, _dir) = responder().await;
    let ocsp_setup = || {
        durable.setup(Setup {
            ocsp_url: Some(hop.url.clone()),
            ..Setup::tls()
        })
    };
    let w = world(ocsp_setup()).await;
    assert!(login(&w, &p.cards.valid).await.has_saml_response());
    assert_eq!(hop.requests(), 1);
    // The same card again: its cached "good" (nextUpdate five minutes ahead, openssl -nmin 5)
    // answers; the CA is not asked.
    assert!(login(&w, &p.cards.valid).await.has_saml_response());
    assert_eq!(hop.requests(), 1);
    // "revoked" is never cached: asked each time.
    for n in 2..=3 {
        assert_refused(
            &login(&w, &p.cards.revoked).await,
            403,
            "idcard.ocsp_revoked",
            "revoked",
        );
        assert_eq!(hop.requests(), n);
    }
    w.gw.stop().await;

    // Restarted: the cache is still there.
    let w = world(ocsp_setup()).await;
    assert!(login(&w, &p.cards.valid).await.has_saml_response());
    assert_eq!(hop.requests(), 3);

    // The entry expires: the next login asks again, and caches the fresh answer.
    expire_ocsp_entries(&durable);
    assert!(login(&w, &p.cards.valid).await.has_saml_response());
    assert_eq!(hop.requests(), 4);
    assert!(login(&w, &p.cards.valid).await.has_saml_response());
    assert_eq!(hop.requests(), 4);
    w.gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ocsp_cache_in_the_sqlite_file_outlives_a_restart_and_expires() {
    ocsp_restarts(Durable::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ocsp_cache_in_redis_outlives_a_restart_and_expires() {
    ocsp_restarts(Durable::redis()).await;
}

/// Redis stops under the OCSP checker: it asks the responder instead (a revoked card is still
/// refused), and uses the cache again once Redis is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ocsp_falls_back_to_asking_while_redis_is_down() {
    use gateway::stores::redis::{Redis, RedisSettings, RedisTarget};
    use gateway::stores::revocation::{OcspCache, SharedRevocation};
    use idp_adapters::idcard::{
        CardError, ChainValidator, IdCard, IdCardSettings, OcspChecker, OcspSettings, Revocation,
    };
    let p = pki();
    let (_responder, hop, _dir) = responder().await;
    let mut redis = tests::redis::TestRedis::start();
    let server = Redis::connect(&RedisSettings {
        target: RedisTarget::Url(redis.url()),
        timeout: std::time::Duration::from_millis(500),
    })
    .await
    .unwrap();
    let ring = gateway::stores::sealed::SealKeyRing::new("k", [("k", [3u8; 32])]).unwrap();
    let stores = gateway::stores::redis::stores(
        server,
        gateway::stores::KeyLayout::new("t:"),
        Arc::new(ring),
        Arc::new(certs::SystemClock),
        Arc::new(certs::SystemRandomSource),
    );
    let state = Arc::new(SharedRevocation::new(stores.sessions, stores.layout));
    let http = gateway::upstream::idcard::signed_content_client(
        idp_adapters::idcard::MAX_OCSP_RESPONSE_BYTES,
    )
    .unwrap();
    let checker = OcspChecker::new(
        OcspSettings::responder(hop.url.clone()),
        Arc::new(http),
        Arc::new(certs::SystemRandomSource),
    )
    .unwrap()
    .with_cache(Arc::new(OcspCache::new(state)));
    let validator = ChainValidator::new(
        std::slice::from_ref(&p.root.cert_der),
        std::slice::from_ref(&p.intermediate.cert_der),
        Revocation::Off,
    )
    .unwrap();
    let card = IdCard::new(
        IdCardSettings {
            require_national_id: false,
            ..IdCardSettings::new("https://idcard.test")
        },
        validator,
        None,
        Arc::new(certs::SystemRandomSource),
    )
    .with_ocsp(checker);
    let now = time::OffsetDateTime::now_utc;

    card.verify_presented(&p.cards.valid.chain, now())
        .await
        .unwrap();
    card.verify_presented(&p.cards.valid.chain, now())
        .await
        .unwrap();
    assert_eq!(hop.requests(), 1, "the second from the cache");

    redis.stop();
    for n in 2..=3 {
        card.verify_presented(&p.cards.valid.chain, now())
            .await
            .unwrap();
        assert_eq!(hop.requests(), n, "Redis down: asked");
    }
    assert_eq!(
        card.verify_presented(&p.cards.revoked.chain, now())
            .await
            .map(|_| ()),
        Err(CardError::OcspRevoked)
    );

    // Back (empty: nothing was kept on disk): asked once, then cached again.
    redis.restart();
    let mut asked_after_restart = None;
    for _ in 0..20 {
        if card
            .verify_presented(&p.cards.valid.chain, now())
            .await
            .is_ok()
            && card
                .verify_presented(&p.cards.valid.chain, now())
                .await
                .is_ok()
        {
            let before = hop.requests();
            card.verify_presented(&p.cards.valid.chain, now())
                .await
                .unwrap();
            if hop.requests() == before {
                asked_after_restart = Some(before);
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(
        asked_after_restart.is_some(),
        "the cache serves again once Redis is back"
    );
}

/// What taking back a national CA's CRL (100,000 entries) costs at start: the read from the
/// SQLite file or Redis (unsealed) and the verification and install. Prints; run with
/// `--ignored --nocapture` (a debug build costs several times a release one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn cost_of_taking_back_a_large_crl() {
    use gateway::stores::revocation::{
        RecordedCrl, RevocationState, SharedRevocation, SqliteRevocation,
    };
    let now = time::OffsetDateTime::now_utc();
    let p = pki();
    let large = p.large_intermediate_crl(now, 100_000).unwrap();
    let crl = verified(&large);
    let record = RecordedCrl {
        this_update: crl.this_update(),
        der: large.clone(),
    };
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteRevocation::open(&dir.path().join("r.sqlite")).unwrap();
    let ring = gateway::stores::sealed::SealKeyRing::new("k", [("k", [3u8; 32])]).unwrap();
    let server = gateway::stores::redis::Redis::connect(&gateway::stores::redis::RedisSettings {
        target: gateway::stores::redis::RedisTarget::Url("redis://127.0.0.1:6379".into()),
        timeout: std::time::Duration::from_secs(2),
    })
    .await
    .unwrap();
    let stores = gateway::stores::redis::stores(
        server,
        gateway::stores::KeyLayout::new(format!(
            "gwtest:revcost:{}:",
            certs::random_id(&certs::SystemRandomSource).unwrap()
        )),
        Arc::new(ring),
        Arc::new(certs::SystemClock),
        Arc::new(certs::SystemRandomSource),
    );
    let redis = SharedRevocation::new(stores.sessions, stores.layout);
    let validator = idp_adapters::idcard::ChainValidator::new(
        std::slice::from_ref(&p.root.cert_der),
        std::slice::from_ref(&p.intermediate.cert_der),
        idp_adapters::idcard::Revocation::Chain,
    )
    .unwrap();
    let card = idp_adapters::idcard::IdCard::new(
        idp_adapters::idcard::IdCardSettings::new("https://idcard.test"),
        validator,
        None,
        Arc::new(certs::SystemRandomSource),
    );
    for (name, state) in [
        ("sqlite", &sqlite as &dyn RevocationState),
        ("redis", &redis),
    ] {
        let t = std::time::Instant::now();
        state
            .record_crl(crl.issuer(), &record, crl.next_update(), now)
            .await
            .unwrap();
        let write = t.elapsed();
        let t = std::time::Instant::now();
        let back = state.crl(crl.issuer(), now).await.unwrap().unwrap();
        let read = t.elapsed();
        let t = std::time::Instant::now();
        card.restore_crl(&back.der, now).unwrap();
        let verify = t.elapsed();
        eprintln!(
            "{name}: {} bytes; record {write:?}, read {read:?}, verify and install {verify:?}",
            large.len()
        );
    }
}
