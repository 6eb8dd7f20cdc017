//! Issue 10: gateway processes sharing one Redis. Real child processes (`gateway dev --redis`
//! on one data directory: one IdP key, one flow seal key, one store seal key) behind one public
//! URL, each on its own port, and a redis-server of the test's own: a login started on one
//! process returns through the other, the SSO session is recognised on both, a replayed
//! AuthnRequest is refused by both; forged or moved records are refused; Redis stopped gives
//! 503 pages and no panic, and service resumes when it returns; an evicting Redis is refused at
//! start; with Sentinel, logins go on after the primary is stopped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::{Duration, Instant};
use tests::browser::{Browser, Page};
use tests::devproc::{finish_on, on, target, validated, DevArgs, DevProcess};
use tests::harness::{dev_idp_key_before_start, PERSON};
use tests::redis::{redis_cli, SentinelSet, TestRedis};
use tests::testsp::{RequestOptions, TestSp};

const BIN: &str = env!("CARGO_BIN_EXE_gateway-under-test");

struct World {
    dir: tempfile::TempDir,
    sp: TestSp,
    md: PathBuf,
    idp: certs::SigningIdentity,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let (idp, _) = dev_idp_key_before_start(dir.path());
        let sp = TestSp::new("redis", "https://sp.redis.example", false);
        let md = sp.write_metadata(dir.path());
        World { dir, sp, md, idp }
    }

    /// A dev process keeping its sessions in `redis` (a `--redis` URL), serving `public`.
    fn process(&self, redis: &str, public: Option<&str>) -> DevProcess {
        DevProcess::start(self.args(&["--redis", redis], public))
    }

    fn args<'a>(&'a self, redis: &'a [&'a str], public: Option<&'a str>) -> DevArgs<'a> {
        DevArgs {
            bin: BIN,
            dir: self.dir.path(),
            sp_metadata: &self.md,
            port: 0,
            public_url: public,
            extra: redis,
        }
    }

    /// A new request from the SP, sent by `browser` to `at`: the answer, the request ID, the URL.
    async fn request(
        &self,
        browser: &Browser,
        public: &str,
        at: &DevProcess,
    ) -> (Page, String, String) {
        let sso = format!("{public}/saml/idp/sso");
        let (xml, request_id) = self.sp.request_xml(&sso, &RequestOptions::default());
        let url = on(at, &self.sp.redirect_url(&sso, &xml, None, false));
        (browser.get(&url).await, request_id, url)
    }

    /// A full login through the test bank, started at `start` and finished at `finish`.
    async fn login(
        &self,
        browser: &Browser,
        public: &str,
        start: &DevProcess,
        finish: &DevProcess,
    ) -> Page {
        let sso = format!("{public}/saml/idp/sso");
        let (first, request_id, _) = self.request(browser, public, start).await;
        assert_eq!(first.status, 303, "{}", first.body);
        let selection = browser.get(&on(finish, &target(&sso, &first))).await;
        let done = finish_on(browser, &selection).await;
        validated(&self.sp, &done, &request_id, public, &self.idp.cert);
        done
    }
}

/// One way of writing into Redis by hand.
type Tamper<'a> = Box<dyn Fn() + 'a>;

fn session_id(page: &Page) -> String {
    let c = page.cookie("__Host-gw_sso").expect("a session cookie");
    c.split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned()
}

fn session_key(sid: &str) -> String {
    format!("gw:sso:{}", gateway::flows::sha256_hex(&[sid.as_bytes()]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_logins_sessions_and_replay_entries() {
    let redis = TestRedis::start();
    let w = World::new();
    let a = w.process(&redis.url(), None);
    let public = a.base();
    let b = w.process(&redis.url(), Some(&public));

    // Started at A, returned through B.
    let browser = Browser::new();
    let done = w.login(&browser, &public, &a, &b).await;
    let sid = session_id(&done);

    // The SSO session is recognised on both; each answered request is refused by both after.
    for (name, g) in [("A", &a), ("B", &b)] {
        let (hit, request_id, url) = w.request(&browser, &public, g).await;
        assert_eq!(hit.status, 200, "SSO at {name}: {}", hit.body);
        validated(&w.sp, &hit, &request_id, &public, &w.idp.cert);
        for (again_name, again) in [("A", &a), ("B", &b)] {
            let before = again.log().matches("gateway.replay").count();
            let replay = browser.get(&on(again, &url)).await;
            assert_eq!(
                replay.status, 400,
                "replay of {name}'s request at {again_name}: {}",
                replay.body
            );
            assert!(!replay.has_saml_response());
            assert_eq!(
                again.log().matches("gateway.replay").count(),
                before + 1,
                "{again_name}"
            );
        }
    }

    // What Redis holds is sealed: no national identification number, no entity ID in clear.
    let key = session_key(&sid);
    let stored = redis.cli(&["GET", &key]);
    assert!(!stored.is_empty(), "the session is in Redis under {key}");
    assert!(
        !stored.contains(PERSON) && !stored.contains("Väinö"),
        "{stored}"
    );
    let members = redis.cli(&["HGETALL", &format!("{key}:m")]);
    assert!(!members.contains("sp.redis.example"), "{members}");
    let ttl: i64 = redis.cli(&["TTL", &key]).parse().unwrap();
    assert!(
        ttl > 0 && ttl <= 3600,
        "idle lifetime, an hour by default: {ttl}"
    );
    let bytes: u64 = redis.cli(&["MEMORY", "USAGE", &key]).parse().unwrap();
    let member_bytes: u64 = redis
        .cli(&["MEMORY", "USAGE", &format!("{key}:m")])
        .parse()
        .unwrap();
    eprintln!("Redis bytes for one SSO session with one SP: {bytes} + {member_bytes}");
    assert!(bytes + member_bytes < 2048, "{bytes} + {member_bytes}");

    // Logout at B (the citizen's own, at the gateway) ends the session at A too.
    let form = browser.get(&format!("{}/logout", b.base())).await;
    assert_eq!(form.status, 200);
    let page = browser.submit(&form, None, &[]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let (after, _, _) = w.request(&browser, &public, &a).await;
    assert_eq!(
        after.status, 303,
        "no SSO at A after the logout at B: {}",
        after.body
    );
    let raw = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let sso = format!("{public}/saml/idp/sso");
    let (xml, _) = w.sp.request_xml(&sso, &RequestOptions::default());
    let with_old_cookie = raw
        .get(on(&a, &w.sp.redirect_url(&sso, &xml, None, false)))
        .header("Cookie", format!("__Host-gw_sso={sid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        with_old_cookie.status(),
        303,
        "the session is gone from Redis, not only from the browser"
    );
    assert_eq!(redis.cli(&["EXISTS", &session_key(&sid)]), "0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_written_into_redis_by_hand_are_refused() {
    let redis = TestRedis::start();
    let w = World::new();
    let a = w.process(&redis.url(), None);
    let public = a.base();
    let done = w.login(&Browser::new(), &public, &a, &a).await;
    let real = session_key(&session_id(&done));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // A session ID of the attacker's choosing, and three things they could put under its key.
    let sid = "A".repeat(43);
    let key = session_key(&sid);
    let forged_identity = format!(
        r#"{{"identity":{{"national_id":"010101-999X"}},"session_index":"x","expires_at":{},"idle_until":{}}}"#,
        i64::MAX / 2,
        i64::MAX / 2
    );
    let cases: [(&str, Tamper); 3] = [
        (
            "a forged session with another national identification number",
            Box::new(|| {
                assert_eq!(
                    redis.cli(&["SET", &key, &forged_identity, "EX", "600"]),
                    "OK"
                );
            }),
        ),
        (
            "the victim's sealed session copied under the attacker's key",
            Box::new(|| {
                redis.cli(&["DEL", &key]);
                assert_eq!(redis.cli(&["COPY", &real, &key]), "1");
            }),
        ),
        (
            "the victim's own value with one byte changed",
            Box::new(|| {
                let at = redis.cli(&["GETRANGE", &real, "40", "40"]);
                let to = if at == "Z" { "Y" } else { "Z" };
                redis.cli(&["SETRANGE", &real, "40", to]);
            }),
        ),
    ];
    for (i, (what, write)) in cases.iter().enumerate() {
        write();
        let cookie_sid = if i == 2 {
            session_id(&done)
        } else {
            sid.clone()
        };
        let before = a.log().matches("store.tampered").count();
        let sso = format!("{public}/saml/idp/sso");
        let (xml, _) = w.sp.request_xml(&sso, &RequestOptions::default());
        let resp = client
            .get(on(&a, &w.sp.redirect_url(&sso, &xml, None, false)))
            .header("Cookie", format!("__Host-gw_sso={cookie_sid}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 303, "{what}: a new login, not an SSO answer");
        let to = resp.headers()["location"].to_str().unwrap().to_owned();
        assert!(to.starts_with("/login?flow="), "{what}: {to}");
        assert_eq!(
            a.log().matches("store.tampered").count(),
            before + 1,
            "{what}: logged as tampered\n{}",
            a.log()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_gives_503_pages_and_service_resumes_when_it_returns() {
    let mut redis = TestRedis::start();
    let w = World::new();
    let mut a = w.process(&redis.url(), None);
    let public = a.base();
    let browser = Browser::new();
    w.login(&browser, &public, &a, &a).await;

    redis.stop();
    // With a session, and without one: the replay entry cannot be read, so nothing is answered.
    for (who, b) in [
        ("with a session", &browser),
        ("a fresh browser", &Browser::new()),
    ] {
        let (page, _, _) = w.request(b, &public, &a).await;
        assert_eq!(page.status, 503, "{who}: {}", page.body);
        assert!(
            page.body.contains("Palvelu ei ole juuri nyt käytettävissä"),
            "{who}: {}",
            page.body
        );
        assert!(page.body.contains("lang=\"fi\""), "{}", page.body);
        assert!(!page.has_saml_response());
        assert!(
            page.error_id().is_some(),
            "an error ID to quote: {}",
            page.body
        );
    }
    // In Swedish for a Swedish browser.
    let mut sv = Browser::new();
    sv.accept_language = Some("sv-FI,sv;q=0.9".into());
    let (page, _, _) = w.request(&sv, &public, &a).await;
    assert_eq!(page.status, 503);
    assert!(
        page.body.contains("Tjänsten är inte tillgänglig just nu"),
        "{}",
        page.body
    );
    assert!(a.running(), "the gateway is still running");
    assert!(!a.log().contains("panicked"), "{}", a.log());
    assert!(a.log().contains("store.unavailable"), "{}", a.log());

    // Redis is back (empty: it kept nothing): logins work again, with no gateway restart.
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let b = Browser::new();
        let (first, _, _) = w.request(&b, &public, &a).await;
        if first.status == 303 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still {} after Redis returned",
            first.status
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let browser = Browser::new();
    w.login(&browser, &public, &a, &a).await;
    let (hit, _, _) = w.request(&browser, &public, &a).await;
    assert_eq!(hit.status, 200, "SSO again: {}", hit.body);
}

#[test]
fn an_evicting_redis_is_refused_at_start_with_a_clear_message() {
    let redis = TestRedis::start_with(&["--maxmemory-policy", "allkeys-lru"]);
    let w = World::new();
    let url = redis.url();
    let (status, out) = DevProcess::refused(w.args(&["--redis", &url], None));
    assert!(!status.success());
    assert!(
        out.contains("allkeys-lru") && out.contains("noeviction"),
        "{out}"
    );
    assert!(!out.contains("panicked"), "{out}");

    // The same Redis, fixed, is accepted.
    assert_eq!(
        redis.cli(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]),
        "OK"
    );
    let mut ok = w.process(&url, None);
    assert!(ok.running());
}

/// A Redis whose policy changes under a running gateway: the next check (every 30 s in service,
/// called at once here) refuses the store's work until the policy is noeviction again.
#[tokio::test]
async fn a_running_store_refuses_work_while_redis_may_evict() {
    use gateway::stores::redis::{stores, Redis, RedisSettings, RedisTarget};
    let server = TestRedis::start();
    let settings = RedisSettings {
        target: RedisTarget::Url(server.url()),
        timeout: Duration::from_secs(2),
    };
    let redis = Redis::connect(&settings).await.unwrap();
    let ring = gateway::flows::SealKeyRing::new("k", [("k", [1u8; 32])]).unwrap();
    let st = stores(
        redis.clone(),
        gateway::stores::KeyLayout::default(),
        std::sync::Arc::new(ring),
        std::sync::Arc::new(certs::SystemClock),
        std::sync::Arc::new(certs::SystemRandomSource),
    );
    assert!(st
        .replay
        .claim(&[1; 32], Duration::from_secs(5))
        .await
        .unwrap());
    assert_eq!(
        server.cli(&["CONFIG", "SET", "maxmemory-policy", "volatile-ttl"]),
        "OK"
    );
    redis.check_policy().await;
    match st.replay.contains(&[1; 32]).await {
        Err(gateway::stores::StoreError::Unavailable(m)) => assert!(m.contains("evict"), "{m}"),
        other => panic!("an evicting Redis answered {other:?}"),
    }
    assert_eq!(
        server.cli(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]),
        "OK"
    );
    redis.check_policy().await;
    assert!(st.replay.contains(&[1; 32]).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_sentinel_logins_go_on_after_the_primary_is_stopped() {
    let mut set = SentinelSet::start();
    let w = World::new();
    let a = w.process(&set.dev_url(), None);
    let public = a.base();
    let browser = Browser::new();
    w.login(&browser, &public, &a, &a).await;
    let old_primary = set.primary.port;

    set.primary.stop();
    let deadline = Instant::now() + Duration::from_secs(60);
    while set.primary_port_by_sentinel() == Some(old_primary) {
        assert!(
            Instant::now() < deadline,
            "the sentinel did not promote the replica"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(set.primary_port_by_sentinel(), Some(set.replica.port));
    assert!(redis_cli(set.replica.port, &["ROLE"]).starts_with("master"));

    // Logins go on, on the promoted replica (a request or two may meet the switch: 503).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (first, _, _) = w.request(&Browser::new(), &public, &a).await;
        if first.status == 303 {
            break;
        }
        assert_eq!(first.status, 503, "{}", first.body);
        assert!(
            Instant::now() < deadline,
            "no login after the failover:\n{}",
            a.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    w.login(&Browser::new(), &public, &a, &a).await;
    // The session made before the failover was replicated: SSO still works.
    let (hit, request_id, _) = w.request(&browser, &public, &a).await;
    assert_eq!(hit.status, 200, "{}", hit.body);
    validated(&w.sp, &hit, &request_id, &public, &w.idp.cert);
}
