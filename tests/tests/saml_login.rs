//! End-to-end logins against a real gateway over HTTP on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use saml::authn_request::{Comparison, RequestedAuthnContext};
use tests::assertion_names::{OID_GIVEN, OID_HETU};
use tests::browser::Browser;
use tests::gateway_log;
use tests::harness::{self, through_testbank, LoopbackListener, PERSON};
use tests::testsp::{RequestOptions, TestSp};

fn attr<'a>(a: &'a saml::sp::ValidatedAssertion, name: &str) -> Option<&'a [String]> {
    a.attributes
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_slice())
}

/// The Response must be a status response with these top and second-level codes.
fn assert_status(
    r: Result<saml::sp::ValidatedAssertion, saml::SamlError>,
    top: &str,
    second: &str,
) {
    match r {
        Err(saml::SamlError::Status { code, sub, .. }) => {
            assert_eq!(code, top);
            assert_eq!(sub.as_deref(), Some(second));
        }
        other => panic!("expected status {top} / {second}, got {other:?}"),
    }
}

async fn two_sps() -> (harness::TestGateway, TestSp, TestSp) {
    gateway_log::capture();
    let listener = LoopbackListener::bind().await;
    let sp1 = TestSp::new("one", &listener.base, true);
    let sp2 = TestSp::new("two", &listener.base, false);
    let dir = tempfile::tempdir().unwrap();
    let files = vec![
        sp1.write_metadata(dir.path()),
        sp2.write_metadata(dir.path()),
    ];
    let gw = harness::start(files, Some(listener)).await;
    (gw, sp1, sp2)
}

#[tokio::test]
async fn demo_login_through_test_bank_shows_attributes() {
    let gw = harness::start(vec![], None).await;
    let b = Browser::new();
    let home = b.get(&format!("{}/demo", gw.base())).await;
    assert!(home.body.contains("href=\"/demo/login\""));
    let sso = b.get(&format!("{}/demo/login", gw.base())).await;
    let sso = b.get(sso.location.as_deref().unwrap()).await;
    let autopost = through_testbank(&b, sso, &[("national_id", PERSON)]).await;
    assert_eq!(autopost.status, 200, "{}", autopost.body);
    assert!(autopost.body.contains("<noscript>"));
    // The demo SP publishes an encryption key: its assertion travels encrypted.
    let (_, sent, _) = autopost.saml_response().unwrap();
    assert!(sent.contains("EncryptedAssertion") && !sent.contains(PERSON));
    let result = b.submit(&autopost, Some("saml"), &[]).await;
    assert_eq!(result.status, 200, "{}", result.body);
    assert!(
        result.body.contains("data-result=\"ok\""),
        "{}",
        result.body
    );
    assert!(result
        .body
        .contains(&format!("data-attribute=\"{OID_HETU}\">{PERSON}<")));
    assert!(result.body.contains("Meikäläinen"));
}

/// Test-series codes (individual number 900-999, which no person has) log in: a ready person's,
/// and one typed with names. The SP receives each as the national id.
#[tokio::test]
async fn test_series_codes_log_in_through_the_test_bank() {
    let (gw, sp1, _) = two_sps().await;
    let typed = "131052-9085";
    for (code, fields) in [
        (PERSON, vec![("national_id", PERSON)]),
        (
            typed,
            vec![
                ("national_id", typed),
                ("given_name", "Väinö"),
                ("family_name", "Virtanen"),
            ],
        ),
    ] {
        let hetu = idp_adapters::PersonalIdentityCode::parse(code).unwrap();
        assert!(hetu.is_test_series(), "{code}");
        let b = Browser::new();
        let (xml, id) = sp1.request_xml(&gw.sso_url(), &RequestOptions::default());
        let sso = b
            .get(&sp1.redirect_url(&gw.sso_url(), &xml, None, true))
            .await;
        let autopost = through_testbank(&b, sso, &fields).await;
        assert_eq!(autopost.status, 200, "{code}: {}", autopost.body);
        let (_, resp, _) = autopost.saml_response().unwrap();
        let a = sp1
            .validate(&resp, &id, &gw.entity_id(), &gw.idp_certs(), None)
            .unwrap();
        assert_eq!(attr(&a, OID_HETU), Some(&[code.to_owned()][..]), "{code}");
    }
}

#[tokio::test]
async fn single_sign_on_to_a_second_sp_and_force_authn() {
    let (gw, sp1, sp2) = two_sps().await;
    let b = Browser::new();
    let (xml, id1) = sp1.request_xml(&gw.sso_url(), &RequestOptions::default());
    let sso = b
        .get(&sp1.redirect_url(&gw.sso_url(), &xml, Some("rs1"), true))
        .await;
    let autopost = through_testbank(&b, sso, &[("national_id", PERSON)]).await;
    let sso_cookie = autopost
        .cookie("__Host-gw_sso")
        .expect("session cookie set at login");
    for flag in ["Secure", "HttpOnly", "SameSite=None", "Path=/"] {
        assert!(sso_cookie.contains(flag), "{sso_cookie}");
    }
    let (action, resp, rs) = autopost.saml_response().unwrap();
    assert_eq!(action, sp1.acs_url);
    assert_eq!(rs.as_deref(), Some("rs1"));
    let a1 = sp1
        .validate(&resp, &id1, &gw.entity_id(), &gw.idp_certs(), None)
        .unwrap();
    assert_eq!(attr(&a1, OID_HETU), Some(&[PERSON.to_owned()][..]));

    // The second SP: answered at once from the session, by POST binding, no second login.
    let (xml, id2) = sp2.request_xml(&gw.sso_url(), &RequestOptions::default());
    let page = b
        .post_form(&gw.sso_url(), &sp2.post_fields(&xml, None, false))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let (action, resp, _) = page
        .saml_response()
        .expect("immediate response from SSO session");
    assert_eq!(action, sp2.acs_url);
    let a2 = sp2
        .validate(&resp, &id2, &gw.entity_id(), &gw.idp_certs(), None)
        .unwrap();
    assert_eq!(a2.session_index, a1.session_index);
    assert_ne!(
        a2.name_id, a1.name_id,
        "transient NameIDs differ per assertion"
    );

    // ForceAuthn: the citizen authenticates again, and gets a new session ID.
    let (xml, id3) = sp2.request_xml(
        &gw.sso_url(),
        &RequestOptions {
            force_authn: true,
            ..Default::default()
        },
    );
    let page = b
        .post_form(&gw.sso_url(), &sp2.post_fields(&xml, None, false))
        .await;
    assert_eq!(
        page.status, 303,
        "ForceAuthn must not be answered from the session"
    );
    let autopost = through_testbank(&b, page, &[("national_id", PERSON)]).await;
    let new_cookie = autopost.cookie("__Host-gw_sso").unwrap();
    assert_ne!(new_cookie, sso_cookie, "a login issues a new session ID");
    let (_, resp, _) = autopost.saml_response().unwrap();
    sp2.validate(&resp, &id3, &gw.entity_id(), &gw.idp_certs(), None)
        .unwrap();
}

#[tokio::test]
async fn is_passive_without_session_answers_no_passive() {
    let (gw, _sp1, sp2) = two_sps().await;
    let b = Browser::new();
    let (xml, id) = sp2.request_xml(
        &gw.sso_url(),
        &RequestOptions {
            is_passive: true,
            ..Default::default()
        },
    );
    let page = b
        .get(&sp2.redirect_url(&gw.sso_url(), &xml, None, false))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let (_, resp, _) = page.saml_response().unwrap();
    assert_status(
        sp2.validate(&resp, &id, &gw.entity_id(), &gw.idp_certs(), None),
        saml::STATUS_RESPONDER,
        saml::STATUS_NO_PASSIVE,
    );
}

#[tokio::test]
async fn cancel_answers_authn_failed_and_bank_cancel_returns_to_selection() {
    let (gw, sp1, _) = two_sps().await;
    let b = Browser::new();
    let (xml, id) = sp1.request_xml(&gw.sso_url(), &RequestOptions::default());
    let sso = b
        .get(&sp1.redirect_url(&gw.sso_url(), &xml, None, true))
        .await;
    // Cancel at the test bank: back to the selection page with a notice, flow intact.
    let back = through_testbank(&b, sso, &[("cancel", "1")]).await;
    assert_eq!(back.status, 303);
    let selection = b.follow(back).await;
    assert!(
        selection.body.contains("role=\"status\""),
        "{}",
        selection.body
    );
    // Give up on the selection page: the SP gets AuthnFailed.
    let cancel_form = selection
        .forms()
        .into_iter()
        .find(|f| f.action == "/login/cancel")
        .unwrap();
    let page = b
        .post_form(&format!("{}/login/cancel", gw.base()), &cancel_form.fields)
        .await;
    let (_, resp, _) = page.saml_response().unwrap();
    assert_status(
        sp1.validate(&resp, &id, &gw.entity_id(), &gw.idp_certs(), None),
        saml::STATUS_RESPONDER,
        saml::STATUS_AUTHN_FAILED,
    );
}

#[tokio::test]
async fn markup_in_values_and_relay_state_arrives_escaped_and_intact() {
    let (gw, sp1, _) = two_sps().await;
    let b = Browser::new();
    let (xml, id) = sp1.request_xml(&gw.sso_url(), &RequestOptions::default());
    let relay = "a&b=<c>\"d\"'e'";
    let sso = b
        .get(&sp1.redirect_url(&gw.sso_url(), &xml, Some(relay), true))
        .await;
    let given = "<b>Anna</b> & \"Ö\" &amp;";
    let autopost = through_testbank(
        &b,
        sso,
        &[
            ("national_id", PERSON),
            ("given_name", given),
            ("family_name", "O'Brien <x>"),
        ],
    )
    .await;
    assert!(
        !autopost.body.contains("<b>Anna"),
        "markup must be escaped in the page"
    );
    let (_, resp, rs) = autopost.saml_response().unwrap();
    assert_eq!(rs.as_deref(), Some(relay));
    let a = sp1
        .validate(&resp, &id, &gw.entity_id(), &gw.idp_certs(), None)
        .unwrap();
    assert_eq!(attr(&a, OID_GIVEN), Some(&[given.to_owned()][..]));
    assert_eq!(
        attr(&a, "urn:oid:2.5.4.4"),
        Some(&["O'Brien <x>".to_owned()][..])
    );
}

#[tokio::test]
async fn persistent_name_id_is_stable_and_pairwise() {
    let (gw, sp1, sp2) = two_sps().await;
    let mut ids = Vec::new();
    for sp in [&sp1, &sp1, &sp2] {
        let b = Browser::new();
        let opts = RequestOptions {
            name_id_format: Some(saml::NAMEID_PERSISTENT),
            ..Default::default()
        };
        let (xml, id) = sp.request_xml(&gw.sso_url(), &opts);
        let sso = b
            .get(&sp.redirect_url(&gw.sso_url(), &xml, None, true))
            .await;
        let autopost = through_testbank(&b, sso, &[("national_id", PERSON)]).await;
        let (_, resp, _) = autopost.saml_response().unwrap();
        let a = sp
            .validate(&resp, &id, &gw.entity_id(), &gw.idp_certs(), None)
            .unwrap();
        assert_eq!(a.name_id_format.as_deref(), Some(saml::NAMEID_PERSISTENT));
        assert!(!a.name_id.contains(PERSON));
        ids.push(a.name_id);
    }
    assert_eq!(ids[0], ids[1], "stable for one SP");
    assert_ne!(ids[0], ids[2], "pairwise between SPs");
}

#[tokio::test]
async fn level_of_assurance_is_requested_and_stated() {
    let (gw, sp1, _) = two_sps().await;
    let b = Browser::new();
    let rac = RequestedAuthnContext {
        comparison: Comparison::Minimum,
        class_refs: vec!["http://eidas.europa.eu/LoA/high".into()],
    };
    let (xml, id) = sp1.request_xml(
        &gw.sso_url(),
        &RequestOptions {
            requested: Some(rac),
            ..Default::default()
        },
    );
    let sso = b
        .get(&sp1.redirect_url(&gw.sso_url(), &xml, None, true))
        .await;
    // Asking the test bank for less than required is refused and the flow stays usable.
    let page = through_testbank(&b, sso, &[("national_id", PERSON), ("loa", "loa2")]).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(!page.has_saml_response());
    assert!(
        page.body.contains("Valittu varmuustaso ei riitä"),
        "the reason, in Finnish: {}",
        page.body
    );
    let page = b
        .submit(&page, None, &[("national_id", PERSON), ("loa", "loa3")])
        .await;
    let (_, resp, _) = page.saml_response().unwrap();
    let a = sp1
        .validate(&resp, &id, &gw.entity_id(), &gw.idp_certs(), None)
        .unwrap();
    assert_eq!(
        a.authn_context_class_ref.as_deref(),
        Some("http://eidas.europa.eu/LoA/high")
    );

    // An existing session at loa3 satisfies a later loa2 request at once.
    let rac = RequestedAuthnContext {
        comparison: Comparison::Minimum,
        class_refs: vec!["http://ftn.ficora.fi/2017/loa2".into()],
    };
    let (xml, id) = sp1.request_xml(
        &gw.sso_url(),
        &RequestOptions {
            requested: Some(rac),
            ..Default::default()
        },
    );
    let page = b
        .get(&sp1.redirect_url(&gw.sso_url(), &xml, None, true))
        .await;
    let (_, resp, _) = page.saml_response().expect("answered from session");
    let a = sp1
        .validate(&resp, &id, &gw.entity_id(), &gw.idp_certs(), None)
        .unwrap();
    assert_eq!(
        a.authn_context_class_ref.as_deref(),
        Some("http://ftn.ficora.fi/2017/loa3")
    );
}

#[tokio::test]
async fn selection_page_follows_accept_language_and_flow_is_bound_to_the_browser() {
    let (gw, sp1, _) = two_sps().await;
    let mut b = Browser::new();
    b.accept_language = Some("sv-FI,sv;q=0.9,en;q=0.5".into());
    let (xml, _) = sp1.request_xml(&gw.sso_url(), &RequestOptions::default());
    let sso = b
        .get(&sp1.redirect_url(&gw.sso_url(), &xml, None, true))
        .await;
    let selection_url = url::Url::parse(&sso.url)
        .unwrap()
        .join(sso.location.as_deref().unwrap())
        .unwrap();
    let selection = b.follow(sso).await;
    assert!(selection.body.contains("lang=\"sv\""));
    assert!(selection.body.contains("Välj identifieringsmetod"));
    let en = b.get(&format!("{selection_url}&lang=en")).await;
    assert!(en.body.contains("Choose how to identify yourself"));
    // Another browser with the flow's URL gets nothing.
    let other = Browser::new();
    let stolen = other.get(selection_url.as_str()).await;
    assert_eq!(stolen.status, 400, "{}", stolen.body);
    gateway_log::assert_audited_refusal(
        &stolen,
        "gateway.flow_not_found",
        "flow URL in another browser",
    );
}

#[tokio::test]
async fn ecdsa_signature_for_an_sp_whose_metadata_asks_for_it() {
    let listener = LoopbackListener::bind().await;
    let mut ec_sp = TestSp::new("ec", &listener.base, false);
    ec_sp.signing_methods = vec!["http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256".into()];
    let rsa_sp = TestSp::new("rsa", &listener.base, false);
    let dir = tempfile::tempdir().unwrap();
    let gw = harness::start(
        vec![
            ec_sp.write_metadata(dir.path()),
            rsa_sp.write_metadata(dir.path()),
        ],
        Some(listener),
    )
    .await;
    let b = Browser::new();
    let (xml, id) = ec_sp.request_xml(&gw.sso_url(), &RequestOptions::default());
    let sso = b
        .get(&ec_sp.redirect_url(&gw.sso_url(), &xml, None, false))
        .await;
    let autopost = through_testbank(&b, sso, &[("national_id", PERSON)]).await;
    let (_, resp, _) = autopost.saml_response().unwrap();
    assert!(
        resp.contains("xmldsig-more#ecdsa-sha256"),
        "ECDSA requested by metadata"
    );
    ec_sp
        .validate(&resp, &id, &gw.entity_id(), &gw.idp_certs(), None)
        .unwrap();
    let ec_cert = gw.gw.state.idp.keys.ec.as_ref().unwrap().cert.clone();
    ec_sp
        .validate(
            &resp,
            &id,
            &gw.entity_id(),
            std::slice::from_ref(&ec_cert),
            None,
        )
        .unwrap();
    // An SP without a preference gets RSA-SHA256.
    let (xml, id) = rsa_sp.request_xml(&gw.sso_url(), &RequestOptions::default());
    let page = b
        .get(&rsa_sp.redirect_url(&gw.sso_url(), &xml, None, false))
        .await;
    let (_, resp, _) = page.saml_response().unwrap();
    assert!(resp.contains("xmldsig-more#rsa-sha256") && !resp.contains("ecdsa"));
    rsa_sp
        .validate(&resp, &id, &gw.entity_id(), &gw.idp_certs(), None)
        .unwrap();
}

#[tokio::test]
async fn unsupported_but_trustworthy_requests_get_status_responses() {
    let (gw, sp1, _) = two_sps().await;
    let b = Browser::new();
    // A NameID format we do not issue.
    let opts = RequestOptions {
        name_id_format: Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"),
        ..Default::default()
    };
    let (xml, id) = sp1.request_xml(&gw.sso_url(), &opts);
    let page = b
        .get(&sp1.redirect_url(&gw.sso_url(), &xml, None, true))
        .await;
    let (_, resp, _) = page.saml_response().expect("a status response");
    assert_status(
        sp1.validate(&resp, &id, &gw.entity_id(), &gw.idp_certs(), None),
        saml::STATUS_REQUESTER,
        "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy",
    );
    // An authentication context we do not know.
    let rac = RequestedAuthnContext {
        comparison: Comparison::Exact,
        class_refs: vec!["urn:example:password".into()],
    };
    let (xml, id) = sp1.request_xml(
        &gw.sso_url(),
        &RequestOptions {
            requested: Some(rac),
            ..Default::default()
        },
    );
    let page = b
        .get(&sp1.redirect_url(&gw.sso_url(), &xml, None, true))
        .await;
    let (_, resp, _) = page.saml_response().expect("a status response");
    assert_status(
        sp1.validate(&resp, &id, &gw.entity_id(), &gw.idp_certs(), None),
        saml::STATUS_REQUESTER,
        saml::STATUS_NO_AUTHN_CONTEXT,
    );
    // A request naming the subject to authenticate: we do not take orders on who logs in.
    let (xml, id) = sp1.request_xml(&gw.sso_url(), &RequestOptions::default());
    let xml = xml.replace(
        "</saml:Issuer>",
        "</saml:Issuer><saml:Subject><saml:NameID>someone</saml:NameID></saml:Subject>",
    );
    let page = b
        .get(&sp1.redirect_url(&gw.sso_url(), &xml, None, true))
        .await;
    let (_, resp, _) = page.saml_response().expect("a status response");
    assert_status(
        sp1.validate(&resp, &id, &gw.entity_id(), &gw.idp_certs(), None),
        saml::STATUS_RESPONDER,
        saml::STATUS_REQUEST_UNSUPPORTED,
    );
}

/// Exactly one assertion per AuthnRequest (issue 16): the test bank's form sent twenty times at
/// once from the browser that holds the flow gives one Response; the others are refused as a
/// replay of the request, and no SSO session is left behind for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_form_sent_twenty_times_at_once_gives_one_assertion() {
    let (gw, sp1, _) = two_sps().await;
    let b = Browser::new();
    let (xml, id) = sp1.request_xml(&gw.sso_url(), &RequestOptions::default());
    let sso = b
        .get(&sp1.redirect_url(&gw.sso_url(), &xml, None, true))
        .await;
    let selection = harness::to_selection(&b, sso).await;
    let bank = harness::pick_method(&b, &selection, "testbank").await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (b, bank) = (b.clone(), bank.clone());
        tasks.push(tokio::spawn(async move {
            b.submit(&bank, None, &[("national_id", PERSON)]).await
        }));
    }
    let mut responses = Vec::new();
    for t in tasks {
        let page = t.await.unwrap();
        if page.has_saml_response() {
            responses.push(page);
        } else {
            // Refused as a replay of the answered request, or, once an earlier refusal told the
            // browser (one cookie jar for all twenty) to drop the flow, as a flow it no longer
            // holds. Nothing else.
            assert_eq!(page.status, 400, "{}", page.body);
            let code = gateway_log::refusal_code(&page);
            assert!(
                code == "gateway.replay" || code == "gateway.flow_not_found",
                "a second submit: {code}"
            );
        }
    }
    assert_eq!(responses.len(), 1, "exactly one assertion for one request");
    let (_, resp, _) = responses[0].saml_response().unwrap();
    sp1.validate(&resp, &id, &gw.entity_id(), &gw.idp_certs(), None)
        .unwrap();
}
