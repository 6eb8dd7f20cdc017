//! Login flows live in the browser (issue 16): with the same keys, a flow started on one gateway
//! process completes on another, and survives a restart, with no shared store. Real child
//! processes (`gateway dev` on one data directory, so one IdP key and one flow seal key), one
//! public URL as behind a load balancer, each process on its own port.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::BufRead;
use std::path::Path;
use tests::browser::{Browser, Page};
use tests::harness::{dev_idp_key_before_start, PERSON};
use tests::testsp::{RequestOptions, TestSp};

/// A `gateway dev` child, killed when dropped.
struct Gateway {
    child: std::process::Child,
    port: u16,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Gateway {
    /// Start on `port` (0: any) with the data of `dir` and `public_url` (None: its own).
    fn start(dir: &Path, sp_md: &Path, port: u16, public_url: Option<&str>) -> Gateway {
        let port = if port == 0 { free_port() } else { port };
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_gateway-under-test"));
        cmd.arg("dev")
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(dir.join("data"))
            .arg("--sp-metadata")
            .arg(sp_md)
            .env_remove("RUST_LOG")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        if let Some(u) = public_url {
            cmd.args(["--public-url", u]);
        }
        let mut child = cmd.spawn().unwrap();
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = log.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut lines = stdout.lines().map_while(Result::ok);
        let started = lines.any(|l| l.contains("SSO endpoint:"));
        assert!(
            started,
            "gateway did not start; log:\n{}",
            log.lock().unwrap()
        );
        std::thread::spawn(move || lines.for_each(drop));
        Gateway { child, port, log }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Where a redirect from the public URL's SSO endpoint points.
fn target(sso: &str, answer: &Page) -> String {
    url::Url::parse(sso)
        .unwrap()
        .join(answer.location.as_deref().unwrap())
        .unwrap()
        .into()
}

/// The same path and query on another process.
fn on(g: &Gateway, url: &str) -> String {
    let u = url::Url::parse(url).unwrap();
    format!("{}{}?{}", g.base(), u.path(), u.query().unwrap_or_default())
}

/// Pick the test bank on `selection` and log in as the test person, on the process that served
/// the selection.
async fn finish_on(b: &Browser, selection: &Page) -> Page {
    assert_eq!(selection.status, 200, "{}", selection.body);
    let bank = tests::harness::pick_method(b, selection, "testbank").await;
    assert_eq!(bank.status, 200, "{}", bank.body);
    b.submit(&bank, None, &[("national_id", PERSON)]).await
}

fn validated(sp: &TestSp, page: &Page, request_id: &str, public: &str, idp: &certs::Certificate) {
    let b64 = page
        .saml_response_b64()
        .unwrap_or_else(|| panic!("an auto-post with a SAMLResponse: {}", page.body));
    let xml = saml::binding::decode_post(&b64, &Default::default()).unwrap();
    let v = sp
        .validate(
            &xml,
            request_id,
            &format!("{public}/saml/idp"),
            std::slice::from_ref(idp),
            None,
        )
        .unwrap();
    assert!(v
        .attributes
        .iter()
        .any(|(_, vals)| vals.iter().any(|x| x == PERSON)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_started_on_one_process_completes_on_another_and_survives_a_restart() {
    let d = tempfile::tempdir().unwrap();
    let (idp, _) = dev_idp_key_before_start(d.path());
    let sp = TestSp::new("procs", "https://sp.example", false);
    let md = sp.write_metadata(d.path());
    let a = Gateway::start(d.path(), &md, 0, None);
    let public = a.base();
    let b_port = free_port();
    let b_gw = Gateway::start(d.path(), &md, b_port, Some(&public));
    let sso = format!("{public}/saml/idp/sso");

    // Started on A, finished on B.
    let browser = Browser::new();
    let (xml, request_id) = sp.request_xml(&sso, &RequestOptions::default());
    let at_a = browser.get(&sp.redirect_url(&sso, &xml, None, false)).await;
    assert_eq!(at_a.status, 303, "{}", at_a.body);
    let selection = browser.get(&on(&b_gw, &target(&sso, &at_a))).await;
    let done = finish_on(&browser, &selection).await;
    validated(&sp, &done, &request_id, &public, &idp.cert);

    // Started on B, B restarted (a new process, same port), finished on it.
    let browser = Browser::new();
    let (xml, request_id) = sp.request_xml(&sso, &RequestOptions::default());
    let at_b = browser
        .get(&on(&b_gw, &sp.redirect_url(&sso, &xml, None, false)))
        .await;
    assert_eq!(at_b.status, 303, "{}", at_b.body);
    let selection_url = on(&b_gw, &target(&sso, &at_b));
    drop(b_gw);
    let _b_again = Gateway::start(d.path(), &md, b_port, Some(&public));
    let selection = browser.get(&selection_url).await;
    let done = finish_on(&browser, &selection).await;
    validated(&sp, &done, &request_id, &public, &idp.cert);

    // Control: a process with another data directory (another seal key) cannot open the flow.
    let other = tempfile::tempdir().unwrap();
    dev_idp_key_before_start(other.path());
    let stranger = Gateway::start(other.path(), &md, 0, Some(&public));
    let browser = Browser::new();
    let (xml, _) = sp.request_xml(&sso, &RequestOptions::default());
    let at_a = browser.get(&sp.redirect_url(&sso, &xml, None, false)).await;
    let selection = browser.get(&on(&stranger, &target(&sso, &at_a))).await;
    assert_eq!(selection.status, 400, "{}", selection.body);
    let log = stranger.log.lock().unwrap().clone();
    assert!(
        log.contains("seal.unknown_key") || log.contains("seal.tampered"),
        "{log}"
    );
}
