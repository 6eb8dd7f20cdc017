//! A real browser (Debian's Chromium, headless) logs in through the demo SP and the test bank,
//! then visits a second service on another site whose POST-binding AuthnRequest is a cross-site
//! POST: single sign-on must still answer at once, which only works if the session cookie is
//! sent on that POST (a SameSite=Lax cookie would not be). Screenshots of each page are saved
//! under `test-artifacts/browser/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::extract::State;
use axum::response::Html;
use axum::routing::{get, post};
use std::sync::{Arc, Mutex};
use tests::harness;
use tests::peers;
use tests::testsp::{RequestOptions, TestSp};

struct SecondSp {
    sp: TestSp,
    sso_url: String,
    request_id: Mutex<Option<String>>,
    received: Mutex<Option<String>>,
}

async fn start_page(State(s): State<Arc<SecondSp>>) -> Html<String> {
    let (xml, id) = s.sp.request_xml(&s.sso_url, &RequestOptions::default());
    *s.request_id.lock().unwrap() = Some(id);
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
    let r = fields
        .into_iter()
        .find(|(k, _)| k == "SAMLResponse")
        .map(|(_, v)| v);
    *s.received.lock().unwrap() = r;
    Html("<!DOCTYPE html><html><body><p id=\"got\">The second service received a SAML Response.</p></body></html>")
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
        request_id: Mutex::new(None),
        received: Mutex::new(None),
    });
    let app = axum::Router::new()
        .route("/start", get(start_page))
        .route("/acs", post(acs))
        .with_state(second.clone());
    let sp_server = tokio::spawn(async move { axum::serve(sp_listener, app).await });

    let artifacts = peers::artifacts_dir();
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
    let b64 = second
        .received
        .lock()
        .unwrap()
        .clone()
        .expect("the second SP received a Response");
    let xml = saml::binding::decode_post(&b64, &Default::default()).unwrap();
    let id = second.request_id.lock().unwrap().clone().unwrap();
    let a = second
        .sp
        .validate(&xml, &id, &gw.entity_id(), &gw.idp_certs(), None)
        .unwrap();
    assert!(a
        .attributes
        .iter()
        .any(|(n, v)| n == "urn:oid:1.2.246.21" && v == &[harness::PERSON.to_owned()]));
    for shot in [
        "01-demo-sp.png",
        "02-method-selection.png",
        "03-test-bank.png",
        "04-demo-sp-logged-in.png",
        "05-second-sp.png",
    ] {
        assert!(artifacts.join(shot).exists(), "missing screenshot {shot}");
    }
    sp_server.abort();
}
