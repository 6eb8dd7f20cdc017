//! SAML single logout (issue 10): a session used by several services ends for all of them.
//! Service-initiated and citizen-initiated, each participant sent a signed LogoutRequest with
//! the NameID it was given; one that never answers makes the result PartialLogout; hostile
//! logout messages end nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use saml::logout::{LogoutRequest, STATUS_PARTIAL_LOGOUT, STATUS_UNKNOWN_PRINCIPAL};
use tests::browser::{Browser, Page};
use tests::harness::{self, LoopbackListener, TestGateway, PERSON};
use tests::testsp::{FromIdp, RequestOptions, TestSp};

struct World {
    gw: TestGateway,
    sps: Vec<TestSp>,
    _dir: tempfile::TempDir,
}

/// Services a, b, c with single logout endpoints, and d without one.
async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let listener = LoopbackListener::bind().await;
    let mut sps: Vec<TestSp> = ["a", "b", "c"]
        .iter()
        .map(|n| TestSp::new(n, &format!("https://{n}.sp.example"), false).with_slo())
        .collect();
    sps.push(TestSp::new("d", "https://d.sp.example", false));
    let files = sps.iter().map(|sp| sp.write_metadata(dir.path())).collect();
    let gw = harness::start(files, Some(listener)).await;
    World { gw, sps, _dir: dir }
}

/// What one service was given: NameID and SessionIndex.
struct Given {
    name_id: String,
    session_index: String,
}

impl World {
    fn slo(&self) -> String {
        format!("{}/saml/idp/slo", self.gw.base())
    }

    /// `sp`'s login in `browser`: through the test bank the first time, by SSO after.
    async fn use_service(&self, browser: &Browser, sp: &TestSp, first: bool) -> Given {
        let sso = self.gw.sso_url();
        let (xml, id) = sp.request_xml(&sso, &RequestOptions::default());
        let answer = browser.get(&sp.redirect_url(&sso, &xml, None, false)).await;
        let page = if first {
            harness::through_testbank(browser, answer, &[("national_id", PERSON)]).await
        } else {
            answer
        };
        assert_eq!(page.status, 200, "{}", page.body);
        let xml =
            saml::binding::decode_post(&page.saml_response_b64().unwrap(), &Default::default())
                .unwrap();
        let v = sp
            .validate(&xml, &id, &self.gw.entity_id(), &self.gw.idp_certs(), None)
            .unwrap();
        Given {
            name_id: v.name_id,
            session_index: v.session_index.unwrap(),
        }
    }

    /// A browser logged in to every service, and what each was given.
    async fn logged_in_everywhere(&self) -> (Browser, Vec<Given>) {
        self.logged_in_to(self.sps.len()).await
    }

    /// A browser logged in to the first `n` services, and what each was given.
    async fn logged_in_to(&self, n: usize) -> (Browser, Vec<Given>) {
        let b = Browser::new();
        let mut given = Vec::new();
        for (i, sp) in self.sps.iter().take(n).enumerate() {
            given.push(self.use_service(&b, sp, i == 0).await);
        }
        (b, given)
    }

    fn read(&self, sp: &TestSp, url: &str) -> FromIdp {
        sp.read_from_idp(url, &self.gw.entity_id(), &self.gw.idp_certs())
            .unwrap_or_else(|e| panic!("{} refused the IdP's message: {e}", sp.entity_id))
    }

    /// Play the logout page's frames as a browser does: each frame is sent to its service with a
    /// LogoutRequest; the services in `answering` answer Success. Returns the requests each
    /// service received, by service index.
    async fn play_frames(
        &self,
        b: &Browser,
        page: &Page,
        answering: &[usize],
    ) -> Vec<(usize, LogoutRequest)> {
        let mut got = Vec::new();
        for src in frames(page) {
            let frame = b
                .get(&format!("{}{}", self.gw.base(), src.replace("&amp;", "&")))
                .await;
            assert_eq!(frame.status, 303, "{}", frame.body);
            assert_eq!(
                frame.headers.get("x-frame-options").map(String::as_str),
                Some("SAMEORIGIN")
            );
            let to = frame.location.clone().unwrap();
            let (i, sp) = self
                .sps
                .iter()
                .enumerate()
                .find(|(_, sp)| sp.slo_url.as_deref().is_some_and(|u| to.starts_with(u)))
                .unwrap_or_else(|| panic!("a frame went to no known service: {to}"));
            let FromIdp::Request(req) = self.read(sp, &to) else {
                panic!("a LogoutResponse where a LogoutRequest was due")
            };
            if answering.contains(&i) {
                let back = b
                    .get(&sp.logout_response_url(&self.slo(), &req.id, saml::STATUS_SUCCESS))
                    .await;
                assert_eq!(back.status, 200, "{}", back.body);
                assert!(back.headers["content-security-policy"].contains("frame-ancestors 'self'"));
            }
            got.push((i, req));
        }
        got
    }
}

fn frames(page: &Page) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = page.body.as_str();
    while let Some(i) = rest.find("<iframe class=\"slo\"") {
        let tag = &rest[i..];
        let s = tag.find(" src=\"").unwrap() + 6;
        let e = tag[s..].find('"').unwrap();
        out.push(tag[s..s + e].to_owned());
        rest = &tag[s + e..];
    }
    out
}

fn cleared_session(page: &Page) -> bool {
    page.set_cookies
        .iter()
        .any(|c| c.starts_with("__Host-gw_sso=;") && c.contains("Max-Age=0"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_logs_out_every_participant_is_told_and_a_silent_one_makes_it_partial() {
    let w = world().await;
    let (b, given) = w.logged_in_everywhere().await;
    let a = &w.sps[0];

    let (url, request_id) = a.logout_request_url(
        &w.slo(),
        &given[0].name_id,
        Some(&given[0].session_index),
        Some("rs-a"),
    );
    let page = b.get(&url).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        cleared_session(&page),
        "the session cookie is dropped: {:?}",
        page.set_cookies
    );
    let csp = &page.headers["content-security-policy"];
    assert!(
        csp.contains("frame-src 'self' https://b.sp.example https://c.sp.example"),
        "{csp}"
    );
    assert_eq!(
        frames(&page).len(),
        2,
        "b and c are told; a asked, d has no endpoint"
    );

    // b answers, c never does.
    let told = w.play_frames(&b, &page, &[1]).await;
    let mut told_sps: Vec<usize> = told.iter().map(|(i, _)| *i).collect();
    told_sps.sort();
    assert_eq!(told_sps, [1, 2]);
    for (i, req) in &told {
        assert_eq!(
            req.name_id, given[*i].name_id,
            "each service gets the NameID it was given"
        );
        assert_eq!(req.issuer, w.gw.entity_id());
    }

    let done = b.submit(&page, Some("slo-done"), &[]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let to = done.location.unwrap();
    assert!(to.contains("RelayState=rs-a"), "{to}");
    let FromIdp::Response(resp) = w.read(a, &to) else {
        panic!("a LogoutResponse")
    };
    assert_eq!(resp.in_response_to, request_id);
    assert_eq!(resp.status, saml::STATUS_SUCCESS);
    assert_eq!(resp.sub_status.as_deref(), Some(STATUS_PARTIAL_LOGOUT));

    // The session is over for every service: b's next request starts a login.
    let sso = w.gw.sso_url();
    let (xml, _) = w.sps[1].request_xml(&sso, &RequestOptions::default());
    let after = b.get(&w.sps[1].redirect_url(&sso, &xml, None, false)).await;
    assert_eq!(after.status, 303, "{}", after.body);
    assert!(after.location.unwrap().starts_with("/login?flow="));

    // The logout is finished: its form does not work twice.
    let again = b.submit(&page, Some("slo-done"), &[]).await;
    assert_eq!(again.status, 400, "{}", again.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_every_participant_answers_the_result_is_plain_success() {
    let w = world().await;
    // a, b and c (d, which has no logout endpoint, is not used).
    let (b, given) = w.logged_in_to(3).await;
    let a = &w.sps[0];
    let (url, request_id) = a.logout_request_url(&w.slo(), &given[0].name_id, None, None);
    let page = b.get(&url).await;
    w.play_frames(&b, &page, &[1, 2]).await;
    let done = b.submit(&page, Some("slo-done"), &[]).await;
    let FromIdp::Response(resp) = w.read(a, &done.location.unwrap()) else {
        panic!()
    };
    assert_eq!(resp.in_response_to, request_id);
    assert_eq!(
        (resp.status.as_str(), resp.sub_status),
        (saml::STATUS_SUCCESS, None)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_citizen_logs_out_at_the_gateway() {
    let w = world().await;
    let (b, _) = w.logged_in_everywhere().await;
    let form = b.get(&format!("{}/logout?lang=en", w.gw.base())).await;
    assert_eq!(form.status, 200);
    // Without the form's token (another site posting it), nothing ends.
    let forged = b
        .post_form(
            &format!("{}/logout", w.gw.base()),
            &[("lang".into(), "en".into())],
        )
        .await;
    assert_eq!(forged.status, 400, "{}", forged.body);
    let page = b.submit(&form, None, &[]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(cleared_session(&page));
    assert_eq!(
        frames(&page).len(),
        3,
        "a, b and c are told; d has no endpoint"
    );
    w.play_frames(&b, &page, &[0, 1]).await;
    let done = b.submit(&page, Some("slo-done"), &[]).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("You have logged out"), "{}", done.body);
    // c did not answer and d could not be told: both are named.
    assert!(
        done.body.contains("https://c.sp.example/sp")
            && done.body.contains("https://d.sp.example/sp"),
        "{}",
        done.body
    );
    assert!(
        !done.body.contains("https://b.sp.example/sp"),
        "{}",
        done.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_logout_messages_end_nothing() {
    let w = world().await;
    let (b, given) = w.logged_in_everywhere().await;
    let (a, bb, c) = (&w.sps[0], &w.sps[1], &w.sps[2]);
    let still_logged_in = |b: Browser| {
        let w = &w;
        async move {
            let sso = w.gw.sso_url();
            let (xml, _) = w.sps[1].request_xml(&sso, &RequestOptions::default());
            b.get(&w.sps[1].redirect_url(&sso, &xml, None, false))
                .await
                .status
                == 200
        }
    };

    // Unsigned: refused, whatever the metadata says.
    let (signed, _) = a.logout_request_url(&w.slo(), &given[0].name_id, None, None);
    let unsigned = signed.split("&SigAlg=").next().unwrap().to_owned();
    let page = b.get(&unsigned).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(still_logged_in(b.clone()).await);

    // Signed by a, naming another NameID: answered UnknownPrincipal, nothing ends.
    let (url, _) = a.logout_request_url(&w.slo(), "someone-else", None, None);
    let answer = b.get(&url).await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    let FromIdp::Response(r) = w.read(a, &answer.location.unwrap()) else {
        panic!()
    };
    assert_eq!(
        (r.status.as_str(), r.sub_status.as_deref()),
        (saml::STATUS_REQUESTER, Some(STATUS_UNKNOWN_PRINCIPAL))
    );
    assert!(still_logged_in(b.clone()).await);

    // b's NameID in a request signed by a: a cannot log out someone else's participation.
    let (url, _) = a.logout_request_url(&w.slo(), &given[1].name_id, None, None);
    let answer = b.get(&url).await;
    let FromIdp::Response(r) = w.read(a, &answer.location.unwrap()) else {
        panic!()
    };
    assert_eq!(r.sub_status.as_deref(), Some(STATUS_UNKNOWN_PRINCIPAL));
    assert!(still_logged_in(b.clone()).await);

    // A service without a logout endpoint cannot be answered: an error page.
    let d = &w.sps[3];
    let (url, _) = d.logout_request_url(&w.slo(), &given[3].name_id, None, None);
    let page = b.get(&url).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.error_id().is_some());
    assert!(still_logged_in(b.clone()).await);

    // Now a real logout; c answers for b (signed by c, naming b's request): not counted.
    let (url, _) = a.logout_request_url(&w.slo(), &given[0].name_id, None, None);
    let page = b.get(&url).await;
    let mut answered_for_b = false;
    for src in frames(&page) {
        let frame = b
            .get(&format!("{}{}", w.gw.base(), src.replace("&amp;", "&")))
            .await;
        let to = frame.location.unwrap();
        if to.starts_with(bb.slo_url.as_deref().unwrap()) {
            let FromIdp::Request(req) = w.read(bb, &to) else {
                panic!()
            };
            let forged = b
                .get(&c.logout_response_url(&w.slo(), &req.id, saml::STATUS_SUCCESS))
                .await;
            assert_eq!(forged.status, 400, "{}", forged.body);
            answered_for_b = true;
        }
    }
    assert!(answered_for_b);
    let done = b.submit(&page, Some("slo-done"), &[]).await;
    let FromIdp::Response(r) = w.read(a, &done.location.unwrap()) else {
        panic!()
    };
    assert_eq!(r.sub_status.as_deref(), Some(STATUS_PARTIAL_LOGOUT));
}

/// The built-in demo service (what the README's first command shows) takes part like any SP:
/// its "Log out" sends a signed LogoutRequest, another service is told, and the demo reads the
/// gateway's signed LogoutResponse.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_service_logs_out_through_the_gateway() {
    let w = world().await;
    let base = w.gw.base().to_owned();
    let b = Browser::new();
    let start = b.get(&format!("{base}/demo/login")).await;
    let post = harness::through_testbank(&b, start, &[("national_id", PERSON)]).await;
    let logged_in = b.submit(&post, Some("saml"), &[]).await;
    assert_eq!(logged_in.status, 200, "{}", logged_in.body);
    assert!(
        logged_in.body.contains("id=\"logout\""),
        "{}",
        logged_in.body
    );
    let given_b = w.use_service(&b, &w.sps[1], false).await;

    let out = b.get(&format!("{base}/demo/logout")).await;
    assert_eq!(out.status, 303, "{}", out.body);
    let page = b.get(out.location.as_deref().unwrap()).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let told = w.play_frames(&b, &page, &[1]).await;
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].1.name_id, given_b.name_id);
    let done = b.submit(&page, Some("slo-done"), &[]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let to = done.location.unwrap();
    assert!(
        to.starts_with(&format!("{base}/demo/slo?SAMLResponse=")),
        "{to}"
    );
    let result = b.get(&to).await;
    assert!(
        result.body.contains("data-result=\"logged-out\""),
        "{}",
        result.body
    );
}

/// Single logout with independent implementations: python3-saml asks, node-saml is told and
/// answers, a third service never answers. Each library checks what the gateway sent it
/// (signatures over the query, Destination, InResponseTo), and python3-saml reads the
/// PartialLogout the silent service caused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn independent_services_log_out_together_and_a_silent_one_makes_it_partial() {
    use tests::peers::{
        self, AuthnOptions, Binding, LogoutOptions, NameIdFormat, PeerConfig, PeerKind, PeerSp,
        SloOutcome,
    };
    tokio::task::spawn_blocking(peers::ensure_installed)
        .await
        .unwrap();
    let listener = LoopbackListener::bind().await;
    let base = listener.base.clone();
    let dir = tempfile::tempdir().unwrap();
    let (_, idp_cert) = harness::dev_idp_key_before_start(dir.path());
    let (sp_key, sp_cert) = harness::peer_sp_key_files(dir.path());
    let mut peer_sps = Vec::new();
    let mut files = Vec::new();
    for kind in [PeerKind::Python3Saml, PeerKind::NodeSaml] {
        let name = kind.name();
        let cfg = PeerConfig {
            slo_url: Some(format!("https://{name}.peer.example/slo")),
            ..PeerConfig::for_gateway(
                format!("https://{name}.peer.example/sp"),
                format!("http://127.0.0.1:9/{name}/acs"),
                &base,
                &idp_cert,
                (&sp_key, &sp_cert),
            )
        };
        let sp = PeerSp::new(kind, &dir.path().join(name), &cfg).unwrap();
        let sp2 = sp.clone();
        let md = tokio::task::spawn_blocking(move || sp2.metadata())
            .await
            .unwrap()
            .unwrap();
        assert!(md.contains("SingleLogoutService"), "{name}: {md}");
        let f = dir.path().join(format!("{name}.xml"));
        std::fs::write(&f, md).unwrap();
        files.push(f);
        peer_sps.push(sp);
    }
    let silent = TestSp::new("silent", "https://silent.sp.example", false).with_slo();
    files.push(silent.write_metadata(dir.path()));
    let gw = harness::start_in(dir, files, Some(listener)).await;
    let (p3, node) = (&peer_sps[0], &peer_sps[1]);

    // One browser uses all three: python3-saml through the test bank, the others by SSO.
    let b = Browser::new();
    let opts = AuthnOptions {
        binding: Binding::Redirect,
        name_id_format: Some(NameIdFormat::Transient),
        ..Default::default()
    };
    let req = p3.authn_off_runtime(opts.clone()).await;
    let first = b.get(&req.url).await;
    let autopost = harness::through_testbank(&b, first, &[("national_id", PERSON)]).await;
    let p3_given = p3
        .validate_autopost(&req.request_id, &autopost)
        .await
        .unwrap();
    let req = node.authn_off_runtime(opts).await;
    let hit = b.get(&req.url).await;
    assert_eq!(hit.status, 200, "{}", hit.body);
    let node_given = node.validate_autopost(&req.request_id, &hit).await.unwrap();
    let sso = gw.sso_url();
    let (xml, _) = silent.request_xml(&sso, &RequestOptions::default());
    assert_eq!(
        b.get(&silent.redirect_url(&sso, &xml, None, false))
            .await
            .status,
        200
    );

    // python3-saml logs out (its library builds and signs the LogoutRequest).
    let out = p3
        .logout_off_runtime(LogoutOptions {
            name_id: p3_given.name_id.clone().unwrap(),
            name_id_format: NameIdFormat::Transient,
            session_index: p3_given.session_index.clone().unwrap(),
            relay_state: Some("back-to-p3".into()),
        })
        .await;
    assert!(out.signed);
    let page = b.get(&out.url).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let frames = frames(&page);
    assert_eq!(frames.len(), 2, "node-saml and the silent service are told");
    let mut node_told = false;
    let mut silent_told = false;
    for src in frames {
        let frame = b
            .get(&format!("{}{}", gw.base(), src.replace("&amp;", "&")))
            .await;
        let to = frame.location.clone().unwrap();
        if to.starts_with("https://node-saml.peer.example/slo") {
            // node-saml checks the gateway's LogoutRequest and answers it.
            let node2 = node.clone();
            let outcome = tokio::task::spawn_blocking(move || node2.slo(&to, None))
                .await
                .unwrap()
                .unwrap();
            let SloOutcome::Request {
                name_id,
                response_url,
                ..
            } = outcome
            else {
                panic!("{outcome:?}")
            };
            assert_eq!(
                Some(name_id),
                node_given.name_id,
                "the NameID node-saml was given"
            );
            let back = b.get(&response_url).await;
            assert_eq!(back.status, 200, "{}", back.body);
            node_told = true;
        } else {
            let FromIdp::Request(_) = silent
                .read_from_idp(&to, &gw.entity_id(), &gw.idp_certs())
                .unwrap()
            else {
                panic!()
            };
            silent_told = true;
        }
    }
    assert!(node_told && silent_told);
    let done = b.submit(&page, Some("slo-done"), &[]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let to = done.location.unwrap();
    assert!(to.contains("RelayState=back-to-p3"), "{to}");
    // python3-saml reads the LogoutResponse: signed, for its request, Success with PartialLogout.
    let p3b = p3.clone();
    let rid = out.request_id.clone();
    let outcome = tokio::task::spawn_blocking(move || p3b.slo(&to, Some(&rid)))
        .await
        .unwrap()
        .unwrap();
    match outcome {
        SloOutcome::Response { status, sub_status } => {
            assert_eq!(status, saml::STATUS_SUCCESS);
            assert_eq!(sub_status.as_deref(), Some(STATUS_PARTIAL_LOGOUT));
        }
        other => panic!("{other:?}"),
    }
}

/// The HTTP-POST binding: the gateway's enveloped-signed LogoutRequest (to a service told) and
/// LogoutResponse (to the service that asked) are verified by xmlsec1, an independent
/// implementation, and by the services' own checks; a service's POST answer is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_binding_logout_messages_verify_with_xmlsec1() {
    use saml::authn_request::{IntakePolicy, RequestBinding, RequesterTrust};
    tokio::task::spawn_blocking(tests::peers::ensure_installed)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let listener = LoopbackListener::bind().await;
    let p = TestSp::new("p", "https://p.sp.example", false).with_slo_post();
    let q = TestSp::new("q", "https://q.sp.example", false).with_slo_post();
    let files = vec![p.write_metadata(dir.path()), q.write_metadata(dir.path())];
    let gw = harness::start(files, Some(listener)).await;
    let w = World {
        gw,
        sps: vec![p, q],
        _dir: dir,
    };
    let (b, given) = w.logged_in_everywhere().await;
    let (p, q) = (&w.sps[0], &w.sps[1]);
    let cert = w.gw.idp_cert_pem_file();
    struct Idp(Vec<certs::Certificate>);
    impl RequesterTrust for Idp {
        fn signing_certificates(&self) -> &[certs::Certificate] {
            &self.0
        }
        fn requires_signed_requests(&self) -> bool {
            true
        }
    }
    fn policy(slo: &str) -> IntakePolicy<'_> {
        IntakePolicy {
            sso_url: slo,
            now: time::OffsetDateTime::now_utc(),
            max_clock_skew: time::Duration::seconds(30),
            max_age: time::Duration::minutes(5),
        }
    }
    let (p_slo, q_slo) = (p.slo_url.clone().unwrap(), q.slo_url.clone().unwrap());
    let entity = w.gw.entity_id();

    let (url, request_id) = p.logout_request_url(&w.slo(), &given[0].name_id, None, None);
    let page = b.get(&url).await;
    let frames = frames(&page);
    assert_eq!(frames.len(), 1);
    let frame = b
        .get(&format!(
            "{}{}",
            w.gw.base(),
            frames[0].replace("&amp;", "&")
        ))
        .await;
    assert_eq!(
        frame.status, 200,
        "an auto-post for an HTTP-POST endpoint: {}",
        frame.body
    );
    let form = frame.form(Some("saml")).unwrap();
    assert_eq!(form.action, q_slo);
    let b64 = form
        .fields
        .iter()
        .find(|(k, _)| k == "SAMLRequest")
        .unwrap()
        .1
        .clone();
    let xml = saml::binding::decode_post(&b64, &Default::default()).unwrap();
    let x = xml.clone();
    let c = cert.clone();
    tokio::task::spawn_blocking(move || {
        tests::peers::xmlsec1_verify(&x, &c, "urn:oasis:names:tc:SAML:2.0:protocol:LogoutRequest")
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("xmlsec1 refused our LogoutRequest: {e}"));
    let (_, req) = saml::logout::intake_logout_request(
        &xml,
        RequestBinding::Post,
        None,
        |i: &str| (i == entity).then(|| Idp(w.gw.idp_certs())),
        &policy(&q_slo),
    )
    .unwrap();
    assert_eq!(req.name_id, given[1].name_id);
    // q answers by POST.
    let answer = b
        .post_form(
            &w.slo(),
            &q.logout_response_post_fields(&w.slo(), &req.id, saml::STATUS_SUCCESS),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);

    let done = b.submit(&page, Some("slo-done"), &[]).await;
    assert_eq!(
        done.status, 200,
        "an auto-post to p's HTTP-POST endpoint: {}",
        done.body
    );
    let form = done.form(Some("saml")).unwrap();
    assert_eq!(form.action, p_slo);
    let b64 = form
        .fields
        .iter()
        .find(|(k, _)| k == "SAMLResponse")
        .unwrap()
        .1
        .clone();
    let xml = saml::binding::decode_post(&b64, &Default::default()).unwrap();
    let x = xml.clone();
    tokio::task::spawn_blocking(move || {
        tests::peers::xmlsec1_verify(
            &x,
            &cert,
            "urn:oasis:names:tc:SAML:2.0:protocol:LogoutResponse",
        )
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("xmlsec1 refused our LogoutResponse: {e}"));
    let (_, resp) = saml::logout::intake_logout_response(
        &xml,
        RequestBinding::Post,
        None,
        |i: &str| (i == entity).then(|| Idp(w.gw.idp_certs())),
        &policy(&p_slo),
    )
    .unwrap();
    assert_eq!(resp.in_response_to, request_id);
    assert_eq!(
        (resp.status.as_str(), resp.sub_status),
        (saml::STATUS_SUCCESS, None),
        "q's POST answer counted"
    );
}
