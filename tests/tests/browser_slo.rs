//! Single logout in a real browser (Debian's Chromium, headless): the citizen logs in at the
//! demo service and uses two services on another site, then logs out at the demo. The gateway's
//! logout page tells both in hidden frames, with nothing clicked: one answers with a signed
//! LogoutResponse, one never does, so the page's script goes on by itself after its wait and the
//! demo is told PartialLogout. Screenshots under `test-artifacts/browser/slo/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::extract::{RawQuery, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use std::sync::{Arc, Mutex};
use tests::browser::screenshots;
use tests::harness;
use tests::peers;
use tests::testsp::{FromIdp, RequestOptions, TestSp};

struct Service {
    sp: TestSp,
    gateway: String,
    idp_certs: Vec<certs::Certificate>,
    /// Answers LogoutRequests (or stays silent).
    answers: bool,
    /// The NameID each LogoutRequest named.
    told: Mutex<Vec<String>>,
    logged_in: Mutex<bool>,
}

async fn start_page(State(s): State<Arc<Service>>) -> Html<String> {
    let sso = format!("{}/saml/idp/sso", s.gateway);
    let (xml, _) = s.sp.request_xml(&sso, &RequestOptions::default());
    let fields = s.sp.post_fields(&xml, None, true);
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
        "<!DOCTYPE html><html><body><form id=\"f\" method=\"post\" action=\"{sso}\">{inputs}</form><script>document.getElementById('f').submit()</script></body></html>"
    ))
}

async fn acs(State(s): State<Arc<Service>>) -> Html<&'static str> {
    *s.logged_in.lock().unwrap() = true;
    Html("<!DOCTYPE html><html><body><h1>Service</h1></body></html>")
}

async fn slo(State(s): State<Arc<Service>>, RawQuery(q): RawQuery) -> Response {
    let url = format!(
        "{}?{}",
        s.sp.slo_url.as_deref().unwrap(),
        q.unwrap_or_default()
    );
    let idp = format!("{}/saml/idp", s.gateway);
    match s.sp.read_from_idp(&url, &idp, &s.idp_certs) {
        Ok(FromIdp::Request(r)) => {
            s.told.lock().unwrap().push(r.name_id.clone());
            *s.logged_in.lock().unwrap() = false;
            if s.answers {
                let back = s.sp.logout_response_url(
                    &format!("{}/saml/idp/slo", s.gateway),
                    &r.id,
                    saml::STATUS_SUCCESS,
                );
                Redirect::to(&back).into_response()
            } else {
                Html("<!DOCTYPE html><html><body><p>Busy.</p></body></html>").into_response()
            }
        }
        other => (axum::http::StatusCode::BAD_REQUEST, format!("{other:?}")).into_response(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_logs_out_everywhere_and_a_silent_service_makes_it_partial() {
    tokio::task::spawn_blocking(peers::ensure_installed)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw_listener = harness::LoopbackListener::bind().await;
    let mut services = Vec::new();
    let mut listeners = Vec::new();
    for name in ["answering", "silent"] {
        // On "localhost", the gateway on "127.0.0.1": another site.
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://localhost:{}", l.local_addr().unwrap().port());
        let mut sp = TestSp::new(name, &base, true);
        sp.acs_url = format!("{base}/acs");
        sp.extra_acs.clear();
        sp.slo_url = Some(format!("{base}/slo"));
        services.push((sp, base));
        listeners.push(l);
    }
    let files = services
        .iter()
        .map(|(sp, _)| sp.write_metadata(dir.path()))
        .collect();
    let gw = harness::start(files, Some(gw_listener)).await;
    let mut servers = Vec::new();
    let mut states = Vec::new();
    let mut starts = Vec::new();
    for ((sp, base), l) in services.into_iter().zip(listeners) {
        let s = Arc::new(Service {
            answers: sp.entity_id.contains("answering"),
            sp,
            gateway: gw.base().to_owned(),
            idp_certs: gw.idp_certs(),
            told: Mutex::new(Vec::new()),
            logged_in: Mutex::new(false),
        });
        let app = axum::Router::new()
            .route("/start", get(start_page))
            .route("/acs", post(acs))
            .route("/slo", get(slo))
            .with_state(s.clone());
        servers.push(tokio::spawn(async move { axum::serve(l, app).await }));
        starts.push(format!("{base}/start"));
        states.push(s);
    }

    let artifacts = screenshots::fresh_dir("slo");
    let arg =
        serde_json::json!({ "gateway": gw.base(), "services": starts, "artifacts": artifacts });
    let report =
        tokio::task::spawn_blocking(move || peers::run_browser_script("browser_slo.js", &arg))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("browser script failed: {e}"));
    let steps = &report["steps"];
    assert_eq!(steps["logout_lang"], "fi", "{report}");
    assert_eq!(steps["frames"], 2, "{report}");
    assert_eq!(steps["result"], "partial", "{report}");
    for s in &states {
        assert_eq!(
            s.told.lock().unwrap().len(),
            1,
            "{} got one LogoutRequest: {report}",
            s.sp.entity_id
        );
        assert!(!*s.logged_in.lock().unwrap());
    }
    for (shot, heading) in [
        ("01-demo-logged-in.png", "Demo e-service: logged in"),
        ("02-logout-in-progress.png", "Uloskirjautuminen"),
        ("03-demo-logged-out.png", "Demo e-service: logout"),
    ] {
        screenshots::assert_shows(&artifacts, shot, heading);
    }
    for s in servers {
        s.abort();
    }
}
