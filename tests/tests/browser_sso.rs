//! A real browser (Debian's Chromium, headless) logs in through the demo SP and the test bank,
//! then visits a second service on another site whose POST-binding AuthnRequest is a cross-site
//! POST: single sign-on must still answer at once, which only works if the session cookie is
//! sent on that POST (a SameSite=Lax cookie would not be). The test shows that the POST was
//! cross-site (Chromium's `Sec-Fetch-Site: cross-site`, the second service's Origin) and that the
//! `__Host-gw_sso` cookie went with it. Screenshots of each page are saved under
//! `test-artifacts/browser/sso/` (emptied first) and checked by the heading the page showed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::extract::State;
use axum::response::Html;
use axum::routing::{get, post};
use std::sync::{Arc, Mutex};
use tests::browser::screenshots;
use tests::harness;
use tests::peers;
use tests::testsp::{RequestOptions, TestSp};

// The headings of the pages in the screenshots: the demo SP's (English only) and the gateway's in
// Finnish, the browser's locale.
const DEMO_SP_HEADING: &str = "Demo e-service";
const SELECTION_HEADING: &str = "Valitse tunnistustapa";
const TEST_BANK_HEADING: &str = "Testipankki";
const LOGGED_IN_HEADING: &str = "Demo e-service: logged in";

struct SecondSp {
    sp: TestSp,
    sso_url: String,
    /// Every AuthnRequest the start page made, and every SAMLResponse the ACS received, in order.
    request_ids: Mutex<Vec<String>>,
    received: Mutex<Vec<String>>,
}

async fn start_page(State(s): State<Arc<SecondSp>>) -> Html<String> {
    let (xml, id) = s.sp.request_xml(&s.sso_url, &RequestOptions::default());
    s.request_ids.lock().unwrap().push(id);
    let fields = s.sp.post_fields(&xml, Some("second"), true);
    let inputs: String = fields
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{k}\" value=\"{}\">",
                saml::xml::escape_html(v)
            )
        })
        .collect();
    Html(format!(
        "<!DOCTYPE html><html><body><form id=\"f\" method=\"post\" action=\"{}\">{inputs}</form><script>document.getElementById('f').submit()</script></body></html>",
        s.sso_url
    ))
}

async fn acs(State(s): State<Arc<SecondSp>>, body: String) -> Html<&'static str> {
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    if let Some((_, r)) = fields.into_iter().find(|(k, _)| k == "SAMLResponse") {
        s.received.lock().unwrap().push(r);
    }
    Html("<!DOCTYPE html><html><body><h1>Second service</h1><p id=\"got\">The second service received a SAML Response.</p></body></html>")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_logs_in_and_single_sign_on_survives_a_cross_site_post() {
    tokio::task::spawn_blocking(peers::ensure_installed)
        .await
        .unwrap();
    // The second SP lives on "localhost", the gateway on "127.0.0.1": different sites.
    let sp_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sp_base = format!(
        "http://localhost:{}",
        sp_listener.local_addr().unwrap().port()
    );
    let mut sp = TestSp::new("second", &sp_base, true);
    sp.acs_url = format!("{sp_base}/acs");
    sp.extra_acs.clear();
    let dir = tempfile::tempdir().unwrap();
    let gw = harness::start(vec![sp.write_metadata(dir.path())], None).await;
    let second = Arc::new(SecondSp {
        sp,
        sso_url: gw.sso_url(),
        request_ids: Mutex::new(Vec::new()),
        received: Mutex::new(Vec::new()),
    });
    let app = axum::Router::new()
        .route("/start", get(start_page))
        .route("/acs", post(acs))
        .with_state(second.clone());
    let sp_server = tokio::spawn(async move { axum::serve(sp_listener, app).await });

    let artifacts = screenshots::fresh_dir("sso");
    let arg = serde_json::json!({
        "gateway": gw.base(),
        "second_sp_start": format!("{sp_base}/start"),
        "artifacts": artifacts,
    });
    let report =
        tokio::task::spawn_blocking(move || peers::run_browser_script("browser_sso.js", &arg))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("browser script failed: {e}"));
    let steps = &report["steps"];
    assert_eq!(
        steps["selection_lang"], "fi",
        "Finnish from the browser's locale: {report}"
    );
    assert!(
        steps["selection_text"]
            .as_str()
            .unwrap()
            .contains("Esimerkkipalvelu (demo)"),
        "the SP's Finnish display name: {report}"
    );
    assert_eq!(steps["demo_result"], "ok", "{report}");
    let demo_text = steps["demo_text"].as_str().unwrap();
    assert!(demo_text.contains("urn:oid:1.2.246.21"), "{demo_text}");

    // The second service's AuthnRequest reached the gateway as a cross-site POST (where a
    // SameSite=Lax cookie stays home), and the SSO cookie went with it.
    let sso_request = &report["second_sso_request"];
    assert_eq!(sso_request["method"], "POST", "{report}");
    assert_eq!(sso_request["sec_fetch_site"], "cross-site", "{report}");
    assert_eq!(sso_request["origin"], sp_base.as_str(), "{report}");
    let sso_cookie: Vec<&str> = report["set_cookies"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c.as_str())
        .filter(|c| c.starts_with("__Host-gw_sso="))
        .collect();
    assert_eq!(
        sso_request["sso_cookie_sent"], true,
        "Chromium did not send __Host-gw_sso with the cross-site POST (set as {sso_cookie:?}): {report}"
    );
    assert!(
        !sso_cookie.is_empty() && sso_cookie.iter().all(|c| c.contains("; SameSite=None")),
        "the SSO cookie must be SameSite=None: {sso_cookie:?}"
    );

    // The second service got an assertion without the citizen seeing the gateway's pages.
    let second_visited: Vec<String> = report["second_visited"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert!(
        !second_visited.iter().any(|u| u.contains("/login")),
        "the cross-site POST did not carry the SSO session: {second_visited:?}"
    );
    assert!(
        steps["second_url"].as_str().unwrap().ends_with("/acs"),
        "{report}"
    );
    // Two Responses, each for its own request: the SSO hit's, then the fresh browser's login.
    let ids = second.request_ids.lock().unwrap().clone();
    let received = second.received.lock().unwrap().clone();
    assert_eq!((ids.len(), received.len()), (2, 2), "{report}");
    for (b64, id) in received.iter().zip(&ids) {
        let xml = saml::binding::decode_post(b64, &Default::default()).unwrap();
        let a = second
            .sp
            .validate(&xml, id, &gw.entity_id(), &gw.idp_certs(), None)
            .unwrap();
        assert!(a
            .attributes
            .iter()
            .any(|(n, v)| n == "urn:oid:1.2.246.21" && v == &[harness::PERSON.to_owned()]));
    }

    // A fresh browser whose login starts with the second service's cross-site POST: the flow
    // cookie (SameSite=Lax) is set by the answer to that POST, and Chromium brings it back to
    // the selection, the test bank and its form, so the login completes.
    let fresh = &report["fresh_login"];
    assert_eq!(fresh["sec_fetch_site"], "cross-site", "{report}");
    assert_eq!(fresh["sso_cookie_sent"], false, "{report}");
    let flow_cookie = fresh["flow_cookie"].as_str().unwrap_or_default();
    assert!(
        flow_cookie.starts_with("__Host-gw_flow_")
            && flow_cookie.contains("; Secure; HttpOnly; SameSite=Lax"),
        "{report}"
    );
    assert!(
        fresh["final_url"].as_str().unwrap().ends_with("/acs"),
        "{report}"
    );
    for (shot, heading) in [
        ("01-demo-sp.png", DEMO_SP_HEADING),
        ("02-method-selection.png", SELECTION_HEADING),
        ("03-test-bank.png", TEST_BANK_HEADING),
        ("04-demo-sp-logged-in.png", LOGGED_IN_HEADING),
        ("05-second-sp.png", "Second service"),
        ("06-fresh-selection.png", SELECTION_HEADING),
        ("07-fresh-second-sp.png", "Second service"),
    ] {
        screenshots::assert_shows(&artifacts, shot, heading);
    }
    sp_server.abort();
}
