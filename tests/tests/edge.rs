//! The main listener's edge against a real gateway on loopback: connections holding half-sent
//! headers closed after the header timeout (and not before) while a login completes;
//! connections over the cap refused without harm to those under it; a request over its time
//! answered 408; per-client rate limits by source address and by a trusted proxy's
//! X-Forwarded-For, with the header from anyone else ignored; the security headers on metadata
//! and JWKS; TLS on the listener; and SIGTERM draining a request in flight in the real CLI.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use gateway::web::i18n;
use std::io::{BufRead, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use tests::browser::{Browser, Page};
use tests::harness;
use tests::testsp::{RequestOptions, TestSp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A ready person of the test bank (a test-series identity code).
const PERSON: &str = "150375-913W";

/// A production-mode gateway (test environment, test bank, one SP) on a listener bound here.
struct World {
    _dir: tempfile::TempDir,
    base: String,
    addr: SocketAddr,
    sp: TestSp,
    gw: gateway::serve::RunningGateway,
}

impl World {
    fn sso_url(&self) -> String {
        format!("{}/saml/idp/sso", self.base)
    }

    /// The SAMLResponse on `autopost` logs the SP in (request `id`).
    fn assert_logged_in(&self, autopost: &Page, id: &str) {
        let (_, xml, _) = autopost
            .saml_response()
            .unwrap_or_else(|| panic!("no SAMLResponse: {} {}", autopost.status, autopost.body));
        let certs = self
            .gw
            .state
            .idp
            .keys
            .published(time::OffsetDateTime::now_utc());
        let a = self
            .sp
            .validate(&xml, id, &format!("{}/saml/idp", self.base), &certs, None)
            .unwrap();
        assert!(a.attributes.iter().any(|(_, v)| v == &[PERSON.to_owned()]));
    }
}

/// `server` lines go into `[server]`, `keys` lines into `[keys]`; `files` are written to the
/// config's folder first. The listener is bound here, with `backlog`, and handed over.
async fn world_with(server: &str, keys: &str, files: &[(&str, &str)], backlog: u32) -> World {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(backlog).unwrap();
    let addr = listener.local_addr().unwrap();
    let scheme = if server.contains("tls_cert") {
        "https"
    } else {
        "http"
    };
    let base = format!("{scheme}://{addr}");
    harness::write_idp_files(dir.path());
    let sp = TestSp::new("edge", &base, false);
    let md = sp.write_metadata(dir.path());
    let toml = format!(
        r#"environment = "test"
[server]
listen = "{addr}"
public_url = "{base}"
{server}
[keys]
signing_key = "idp.key"
signing_cert = "idp.crt"
pairwise_secret_file = "pairwise.secret"
{keys}
[methods.testbank]
enabled = true
[[service_providers]]
metadata_file = "{md}"
release = ["national_id", "given_name"]
"#,
        md = md.file_name().unwrap().to_str().unwrap(),
    );
    let path = dir.path().join("gateway.toml");
    std::fs::write(&path, &toml).unwrap();
    let cfg = gateway::config::load(&path, std::iter::empty())
        .unwrap_or_else(|p| panic!("config refused: {p:?}\n{toml}"));
    let gw = gateway::serve::serve_config(
        &cfg,
        listener,
        gateway::state::Runtime {
            clock: std::sync::Arc::new(certs::SystemClock),
            rng: std::sync::Arc::new(certs::SystemRandomSource),
        },
    )
    .await
    .unwrap_or_else(|p| panic!("gateway refused its config: {p:?}"));
    World {
        _dir: dir,
        base,
        addr,
        sp,
        gw,
    }
}

async fn world(server: &str) -> World {
    world_with(server, "", &[], 1024).await
}

/// A login through the test bank with the harness's browser; returns the auto-post page.
async fn browser_login(w: &World, b: &Browser) {
    let (xml, id) = w.sp.request_xml(&w.sso_url(), &RequestOptions::default());
    let sso = b
        .get(&w.sp.redirect_url(&w.sso_url(), &xml, None, false))
        .await;
    let autopost = harness::through_testbank(b, sso, &[("national_id", PERSON)]).await;
    w.assert_logged_in(&autopost, &id);
}

/// A browser of this file's own, for what the harness's cannot do: connect from another
/// loopback address, send fixed extra headers (a proxy's X-Forwarded-For), trust a test CA.
struct Client {
    http: reqwest::Client,
}

impl Client {
    fn new(source: Option<IpAddr>, headers: &[(&str, &str)], ca_pem: Option<&str>) -> Self {
        let mut h = reqwest::header::HeaderMap::new();
        for (k, v) in headers {
            h.insert(
                reqwest::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                reqwest::header::HeaderValue::from_str(v).unwrap(),
            );
        }
        let mut b = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .local_address(source)
            .default_headers(h);
        if let Some(pem) = ca_pem {
            b = b.tls_certs_only([reqwest::Certificate::from_pem(pem.as_bytes()).unwrap()]);
        }
        Client {
            http: b.build().unwrap(),
        }
    }

    async fn get(&self, url: &str) -> Page {
        page(url, self.http.get(url).send().await.unwrap()).await
    }

    async fn post_form(&self, url: &str, fields: &[(String, String)]) -> Page {
        page(url, self.http.post(url).form(fields).send().await.unwrap()).await
    }

    async fn follow(&self, mut p: Page) -> Page {
        while let Some(loc) = p.location.clone() {
            let next = url::Url::parse(&p.url).unwrap().join(&loc).unwrap();
            p = self.get(next.as_str()).await;
        }
        p
    }

    /// SSO (Redirect binding) -> selection -> test bank -> its form; the auto-post page.
    async fn login(&self, w: &World) -> (Page, String) {
        let (xml, id) = w.sp.request_xml(&w.sso_url(), &RequestOptions::default());
        let sso = self
            .get(&w.sp.redirect_url(&w.sso_url(), &xml, None, false))
            .await;
        assert_eq!(sso.status, 303, "{}", sso.body);
        let selection = self.follow(sso).await;
        assert_eq!(selection.status, 200, "{}", selection.body);
        let href = selection
            .method_link("testbank")
            .expect("test bank offered");
        let at = url::Url::parse(&selection.url).unwrap();
        let bank = self.get(at.join(&href).unwrap().as_str()).await;
        assert_eq!(bank.status, 200, "{}", bank.body);
        let form = bank.form(None).expect("the test bank's form");
        let mut fields = form.fields.clone();
        fields.retain(|(k, _)| k != "national_id");
        fields.push(("national_id".into(), PERSON.into()));
        let action = at.join(&form.action).unwrap();
        (self.post_form(action.as_str(), &fields).await, id)
    }
}

async fn page(url: &str, r: reqwest::Response) -> Page {
    let status = r.status().as_u16();
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let location = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    let set_cookies = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    Page {
        status,
        url: url.to_owned(),
        location,
        set_cookies,
        headers,
        body: r.text().await.unwrap(),
    }
}

/// Requests to a limited endpoint until one is refused (at most `max`); that refusal.
async fn until_refused(c: &Client, url: &str, max: usize) -> Page {
    for _ in 0..max {
        let p = c.get(url).await;
        if p.status == 429 {
            return p;
        }
    }
    panic!("no 429 after {max} requests to {url}");
}

/// A 429 as the citizen should see it: their language, Retry-After, no caching, our headers.
fn assert_too_many(p: &Page, t: &i18n::Texts) {
    assert_eq!(p.status, 429, "{}", p.body);
    assert!(
        p.body.contains(&format!("<html lang=\"{}\"", t.lang)),
        "{}",
        p.body
    );
    assert!(p.body.contains(t.too_many_requests_title), "{}", p.body);
    assert!(p.body.contains(t.err_too_many_requests), "{}", p.body);
    let wait: u64 = p.headers["retry-after"].parse().unwrap();
    assert!((1..=2).contains(&wait), "Retry-After {wait}");
    assert_eq!(p.headers["cache-control"], "no-store");
    assert_eq!(p.headers["x-content-type-options"], "nosniff");
}

// ---------------------------------------------------------------------------------------------
// Connections

/// The soft limit on open files, raised towards the hard one when `needed` is more (the
/// gateway runs in this process: each held connection is two descriptors here).
fn ensure_open_files(needed: u64) {
    let soft = || -> u64 {
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
        let line = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .unwrap();
        line.split_whitespace().nth(3).unwrap().parse().unwrap()
    };
    if soft() >= needed {
        return;
    }
    let _ = std::process::Command::new("prlimit")
        .arg(format!("--pid={}", std::process::id()))
        .arg(format!("--nofile={needed}:"))
        .status();
    assert!(
        soft() >= needed,
        "this test holds {needed} descriptors; the open-files limit is {} (ulimit -n)",
        soft()
    );
}

/// What became of a connection that sent half its headers.
struct HalfSent {
    started: Instant,
    closed: Instant,
    answered: Vec<u8>,
}

const HALF_OPEN: usize = 2000;
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_headers_are_closed_after_the_header_timeout_while_a_login_completes() {
    ensure_open_files(2 * HALF_OPEN as u64 + 512);
    let w = world_with(
        &format!(
            "header_read_timeout_seconds = {}\nmax_connections = {}",
            HEADER_TIMEOUT.as_secs(),
            HALF_OPEN + 100
        ),
        "",
        &[],
        4096,
    )
    .await;
    let (sent_tx, mut sent_rx) = tokio::sync::mpsc::channel::<()>(HALF_OPEN);
    let mut holders = Vec::new();
    for _ in 0..HALF_OPEN {
        let (addr, sent) = (w.addr, sent_tx.clone());
        holders.push(tokio::spawn(async move {
            // Taken before connecting: the server's timer cannot start earlier than this.
            let started = Instant::now();
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(b"GET /saml/idp/metadata HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                .await
                .unwrap();
            sent.send(()).await.unwrap();
            let mut answered = Vec::new();
            // EOF or a reset both mean closed.
            let _ = s.read_to_end(&mut answered).await;
            HalfSent {
                started,
                closed: Instant::now(),
                answered,
            }
        }));
    }
    drop(sent_tx);
    for _ in 0..HALF_OPEN {
        sent_rx.recv().await.unwrap();
    }
    let all_sent = Instant::now();

    // Meanwhile, a citizen logs in.
    let b = Browser::new();
    browser_login(&w, &b).await;
    let logged_in = Instant::now();

    let mut results = Vec::new();
    for h in holders {
        results.push(
            tokio::time::timeout(HEADER_TIMEOUT + Duration::from_secs(30), h)
                .await
                .expect("a half-sent connection was still open long after the header timeout")
                .unwrap(),
        );
    }
    let first_close = results.iter().map(|r| r.closed).min().unwrap();
    assert!(
        logged_in < first_close,
        "the login finished after the first half-sent connection was closed"
    );
    for r in &results {
        let held = r.closed - r.started;
        assert!(
            held >= HEADER_TIMEOUT,
            "closed after {held:?}, before the header timeout"
        );
        assert!(
            r.answered.is_empty(),
            "{:?}",
            String::from_utf8_lossy(&r.answered)
        );
    }
    let first_start = results.iter().map(|r| r.started).min().unwrap();
    let last_close = results.iter().map(|r| r.closed).max().unwrap();
    let latest = results
        .iter()
        .map(|r| r.closed - r.started - HEADER_TIMEOUT)
        .max()
        .unwrap();
    println!(
        "{HALF_OPEN} half-sent connections: all sent after {:?}; login took {:?}; closed from {:?} to {:?} after the first connect; at most {latest:?} past the {HEADER_TIMEOUT:?} timeout",
        all_sent - first_start,
        logged_in - all_sent,
        first_close - first_start,
        last_close - first_start,
    );
    w.gw.stop().await;
}

/// A request on a raw connection; the status line and the body of the answer (keep-alive).
async fn raw_get(s: &mut tokio::net::TcpStream, path: &str) -> (String, String) {
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).await.unwrap();
        assert!(n > 0, "closed: {:?}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let len: usize = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                let status = text.lines().next().unwrap().to_owned();
                return (status, text[end + 4..end + 4 + len].to_owned());
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_are_closed_at_once_and_those_under_it_are_served() {
    const CAP: usize = 8;
    let w = world(&format!(
        "max_connections = {CAP}\nheader_read_timeout_seconds = 60"
    ))
    .await;
    // Each connection under the cap is answered once and kept open: it holds its slot.
    let mut held = Vec::new();
    for _ in 0..CAP {
        let mut s = tokio::net::TcpStream::connect(w.addr).await.unwrap();
        assert_eq!(raw_get(&mut s, "/healthz").await.0, "HTTP/1.1 200 OK");
        held.push(s);
    }
    // One more: closed without an answer, at once (long before any timeout).
    for _ in 0..3 {
        let mut over = tokio::net::TcpStream::connect(w.addr).await.unwrap();
        let _ = over
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .await;
        let mut got = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(10), over.read_to_end(&mut got))
            .await
            .expect("a connection over the cap was left open");
        assert!(
            got.is_empty(),
            "{closed:?}: {:?}",
            String::from_utf8_lossy(&got)
        );
    }
    // The ones under the cap are still served.
    for s in &mut held {
        assert_eq!(
            raw_get(s, "/healthz").await,
            ("HTTP/1.1 200 OK".into(), "ok".into())
        );
    }
    // A slot given back is a slot for the next connection (once the server has seen the close).
    drop(held.pop());
    let mut served = false;
    for _ in 0..100 {
        let mut s = tokio::net::TcpStream::connect(w.addr).await.unwrap();
        let _ = s
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await;
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got).await;
        if got.starts_with(b"HTTP/1.1 200 OK") {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(served, "the freed slot was never used");
    w.gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_slower_than_its_timeout_is_answered_408() {
    let w = world("request_timeout_seconds = 1").await;
    let mut s = tokio::net::TcpStream::connect(w.addr).await.unwrap();
    let started = Instant::now();
    s.write_all(b"POST /saml/idp/sso HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nSAMLRequest=")
        .await
        .unwrap();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut got))
        .await
        .expect("no answer to a request over its time");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert!(
        text.to_ascii_lowercase().contains("x-frame-options: deny"),
        "{text}"
    );
    w.gw.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Rate limits

const LIMITS: &str = "rate_limit_per_second = 1\nrate_limit_burst = 6";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_over_its_limit_gets_429_while_another_address_logs_in() {
    let w = world(LIMITS).await;
    let flooding = Client::new(None, &[("accept-language", "sv-FI,sv;q=0.9")], None);
    let refused = until_refused(&flooding, &format!("{}/login", w.base), 50).await;
    assert_too_many(&refused, &i18n::SV);

    // Another client: the same loopback host, another source address.
    let other = Client::new(Some("127.0.0.2".parse().unwrap()), &[], None);
    let (autopost, id) = other.login(&w).await;
    w.assert_logged_in(&autopost, &id);
    // The limit is on the limited paths only: metadata still answers the flooding client.
    assert_eq!(
        flooding
            .get(&format!("{}/saml/idp/metadata", w.base))
            .await
            .status,
        200
    );
    w.gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_the_right_most_untrusted_forwarded_address_is_the_client() {
    let w = world(&format!("{LIMITS}\ntrusted_proxies = [\"127.0.0.1\"]")).await;
    // What the proxy saw is the right end; the left is whatever the client claimed.
    let flooding = Client::new(
        None,
        &[("x-forwarded-for", "203.0.113.50, 198.51.100.7")],
        None,
    );
    let refused = until_refused(&flooding, &format!("{}/login?lang=en", w.base), 50).await;
    assert_too_many(&refused, &i18n::EN);
    // Another claim on the left is the same client: its bucket is still empty. (Were the claim
    // believed, a fresh bucket would let the whole burst through.)
    let spoofing = Client::new(
        None,
        &[("x-forwarded-for", "203.0.113.99, 198.51.100.7")],
        None,
    );
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(spoofing.get(&format!("{}/login", w.base)).await.status);
    }
    assert!(statuses.contains(&429), "{statuses:?}");

    // Another client behind the same proxy logs in.
    let other = Client::new(None, &[("x-forwarded-for", "198.51.100.8")], None);
    let (autopost, id) = other.login(&w).await;
    w.assert_logged_in(&autopost, &id);
    w.gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_forwarded_for_from_a_peer_that_is_not_a_trusted_proxy_is_ignored() {
    // A proxy is trusted, but this peer (127.0.0.1) is not it.
    let w = world(&format!("{LIMITS}\ntrusted_proxies = [\"192.0.2.10\"]")).await;
    let mut statuses = Vec::new();
    for i in 0..12 {
        let c = Client::new(
            None,
            &[("x-forwarded-for", &format!("198.51.100.{i}"))],
            None,
        );
        let p = c.get(&format!("{}/login", w.base)).await;
        if p.status == 429 {
            assert_too_many(&p, &i18n::FI);
        }
        statuses.push(p.status);
    }
    // Twelve "different" clients in quick succession, one bucket of six.
    assert!(statuses.contains(&429), "{statuses:?}");
    w.gw.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Headers and TLS

fn assert_security_headers(p: &Page) {
    assert_eq!(p.headers["x-content-type-options"], "nosniff", "{}", p.url);
    assert_eq!(p.headers["referrer-policy"], "no-referrer", "{}", p.url);
    assert_eq!(p.headers["x-frame-options"], "DENY", "{}", p.url);
    assert!(
        p.headers["content-security-policy"].contains("frame-ancestors 'none'"),
        "{}",
        p.url
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_and_jwks_carry_the_security_headers() {
    let now = time::OffsetDateTime::now_utc();
    let rp = |cn| {
        certs::SigningIdentity::generate_self_signed(cn, certs::KeyKind::Rsa2048, now, 30)
            .unwrap()
            .key
            .to_pkcs8_pem()
            .unwrap()
    };
    let (sig, enc) = (rp("rp-sig"), rp("rp-enc"));
    let w = world_with(
        "",
        "oidc_signing_key = \"rp-sig.pem\"\noidc_encryption_key = \"rp-enc.pem\"",
        &[("rp-sig.pem", &sig), ("rp-enc.pem", &enc)],
        1024,
    )
    .await;
    let b = Browser::new();
    for path in [
        "/saml/idp/metadata",
        "/oidc/jwks",
        "/healthz",
        "/no-such-page",
    ] {
        let p = b.get(&format!("{}{path}", w.base)).await;
        assert_security_headers(&p);
        // Nothing to embed, frame or submit in what is not a page; no HSTS over plain http.
        assert!(p.headers["content-security-policy"].starts_with("default-src 'none'"));
        assert!(!p.headers.contains_key("strict-transport-security"));
    }
    // A page keeps its own policy: the auto-post page names its nonce.
    let (xml, id) = w.sp.request_xml(&w.sso_url(), &RequestOptions::default());
    let sso = b
        .get(&w.sp.redirect_url(&w.sso_url(), &xml, None, false))
        .await;
    let autopost = harness::through_testbank(&b, sso, &[("national_id", PERSON)]).await;
    w.assert_logged_in(&autopost, &id);
    assert_security_headers(&autopost);
    assert!(
        autopost.headers["content-security-policy"].contains("script-src 'nonce-"),
        "{:?}",
        autopost.headers
    );
    w.gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_serves_tls_with_strict_transport_security() {
    let now = time::OffsetDateTime::now_utc();
    let tls = certs::test_pki::TlsServerIdentity::generate(&["127.0.0.1"], now).unwrap();
    let w = world_with(
        "tls_cert = \"tls.crt\"\ntls_key = \"tls.key\"",
        "",
        &[("tls.crt", &tls.cert_pem), ("tls.key", &tls.key_pem)],
        1024,
    )
    .await;
    assert!(w.base.starts_with("https://"));
    let c = Client::new(None, &[], Some(&tls.ca_pem));
    let md = c.get(&format!("{}/saml/idp/metadata", w.base)).await;
    assert_eq!(md.status, 200);
    assert_security_headers(&md);
    assert_eq!(md.headers["strict-transport-security"], "max-age=31536000");
    let (autopost, id) = c.login(&w).await;
    w.assert_logged_in(&autopost, &id);
    assert!(autopost.headers.contains_key("strict-transport-security"));
    // Plain HTTP to the TLS listener gets no answer.
    let plain = reqwest::Client::new()
        .get(format!("http://{}/healthz", w.addr))
        .send()
        .await;
    assert!(plain.is_err(), "{plain:?}");
    w.gw.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Shutdown, in the real command line

/// A child process killed when dropped (a failing test leaves no gateway behind).
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn sigterm_lets_a_request_in_flight_finish_and_refuses_new_connections() {
    let d = tempfile::tempdir().unwrap();
    let sp = TestSp::new("term", "https://sp.example", false);
    let md = sp.write_metadata(d.path());
    let mut child = Child(
        std::process::Command::new(env!("CARGO_BIN_EXE_gateway-under-test"))
            .arg("dev")
            .args(["--listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(d.path().join("data"))
            .arg("--sp-metadata")
            .arg(&md)
            .env_remove("RUST_LOG")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // The log, kept for a failure message (and read so that the child never blocks on it).
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let stderr = child.0.stderr.take().unwrap();
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            sink.lock().unwrap().push_str(&(line + "\n"));
        }
    });
    let stdout = std::io::BufReader::new(child.0.stdout.take().unwrap());
    let mut lines = stdout.lines().map_while(Result::ok);
    let sso_url = lines
        .find_map(|l| {
            l.trim()
                .strip_prefix("SSO endpoint:")
                .map(|u| u.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no SSO endpoint printed; log:\n{}", log.lock().unwrap()));
    std::thread::spawn(move || lines.for_each(drop));
    let addr: SocketAddr = url::Url::parse(&sso_url)
        .unwrap()
        .socket_addrs(|| None)
        .unwrap()[0];

    // A login's first request, its body half sent. `Expect: 100-continue` makes the gateway
    // say when the handler has begun reading the body: from then on the request is in flight.
    let (xml, _) = sp.request_xml(&sso_url, &RequestOptions::default());
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(sp.post_fields(&xml, Some("term"), false))
        .finish();
    let (first, rest) = body.split_at(body.len() / 2);
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "POST /saml/idp/sso HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    )
    .unwrap();
    let mut continue_ = [0u8; 25];
    s.read_exact(&mut continue_).unwrap();
    assert_eq!(&continue_, b"HTTP/1.1 100 Continue\r\n\r\n");
    s.write_all(first.as_bytes()).unwrap();

    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // The gateway has stopped accepting once a new connection is refused.
    let mut refused = false;
    for _ in 0..500 {
        match std::net::TcpStream::connect(addr) {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                refused = true;
                break;
            }
            _ => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    assert!(
        refused,
        "new connections still accepted after SIGTERM; log:\n{}",
        log.lock().unwrap()
    );
    assert!(
        child.0.try_wait().unwrap().is_none(),
        "the gateway exited with a request in flight"
    );

    // The rest of the body: the request completes, with the whole answer.
    s.write_all(rest.as_bytes()).unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8(answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 303 See Other"), "{answer}");
    let head = head.to_ascii_lowercase();
    assert!(head.contains("\r\nlocation: /login?"), "{answer}");
    assert!(head.contains("\r\nconnection: close"), "{answer}");
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .map_or(0, |v| v.parse().unwrap());
    assert_eq!(body.len(), len, "{answer}");

    // Then the process exits, successfully.
    let started = Instant::now();
    let exit = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "still running 30 s after its last request; log:\n{}",
            log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "{exit:?}; log:\n{}", log.lock().unwrap());
}
