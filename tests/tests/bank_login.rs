//! Bank login end to end, over real HTTP on loopback: a python3-saml SP sends its AuthnRequest
//! to the gateway (production mode, built from a TOML file), the citizen picks a bank on the
//! selection page, logs in at the stand-in FTN bank (npm `oidc-provider`, `tests/peers/bank.mjs`:
//! signed request objects, PKCE, `private_key_jwt`, encrypted ID tokens), comes back, and the SP
//! validates the SAML Response with the bank's identity attributes.
//!
//! Then the hostile cases: the bank's hostile modes (each its own test), state tampering done on
//! the callback URL, and a bank that is not there (502). Each must end in an error page with its
//! status and an error ID, no SAMLResponse, and an audit line carrying that error ID and the
//! reason's code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tests::assertion_names::{LOA2, LOA3, OID_CN, OID_DOB, OID_GIVEN, OID_HETU, OID_SN};
use tests::bank::{
    self, assert_refused, world, world_with, BankSpec, World, TEST_PERSONS, TUPAS2_HETU,
};
use tests::browser::Browser;
use tests::gateway_log;
use tests::peers::{AuthnOptions, Validated};

fn assert_tupas2(v: &Validated, class_ref: &str) {
    let one = |oid: &str| v.attributes.get(oid).map(|x| x.join("|"));
    assert_eq!(one(OID_HETU).as_deref(), Some(TUPAS2_HETU), "{v:?}");
    assert_eq!(one(OID_GIVEN).as_deref(), Some("Väinö"), "{v:?}");
    assert_eq!(one(OID_SN).as_deref(), Some("Tunnistus"), "{v:?}");
    assert_eq!(one(OID_DOB).as_deref(), Some("1970-07-07"), "{v:?}");
    assert!(one(OID_CN).is_some_and(|cn| cn.contains("Väinö")), "{v:?}");
    assert_eq!(v.authn_context.as_deref(), Some(class_ref), "{v:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python3_saml_sp_receives_the_bank_identity() {
    let w = world(&[BankSpec::new("testpankki")]).await;
    let b = Browser::new();

    // The RP keys the bank reads are published, public only, as JSON.
    let jwks = b.get(&format!("{}/oidc/jwks", w.base)).await;
    assert_eq!(jwks.status, 200);
    assert!(
        jwks.headers["content-type"].starts_with("application/json"),
        "{:?}",
        jwks.headers
    );
    let doc: serde_json::Value = serde_json::from_str(&jwks.body).unwrap();
    let uses: Vec<(&str, &str)> = doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["use"].as_str().unwrap(), k["alg"].as_str().unwrap()))
        .collect();
    assert_eq!(uses, vec![("sig", "RS256"), ("enc", "RSA-OAEP")]);
    assert!(!jwks.body.contains("\"d\""), "no private members");

    let (request_id, selection) = w.start_python(&b).await;
    assert!(
        selection.body.contains("data-method=\"bank:testpankki\""),
        "{}",
        selection.body
    );
    assert!(selection.body.contains("Testipankki"));
    let callback = w.through_bank(&b, &selection, 0, "testpankki").await;
    let q = bank::query_pairs(&callback);
    let keys: Vec<&str> = q.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, vec!["code", "state", "iss"], "{callback}");
    let autopost = b.get(&callback).await;
    assert_eq!(autopost.status, 200, "{}", autopost.body);
    let v = w.validate(&request_id, &autopost).await.unwrap();
    // No RequestedAuthnContext: the bank is asked for loa2 and says loa2.
    assert_tupas2(&v, LOA2);

    // The login is audited, with a keyed hash and never the national id (in no line, DEBUG
    // included).
    let login =
        gateway_log::assert_login_audited(&autopost, &w.crafted.entity_id, "bank:testpankki");
    let logs = gateway_log::lines();
    assert!(!logs.iter().any(|l| l.contains(TUPAS2_HETU)), "{login}");

    // Single sign-on: the next request is answered from the session, without the bank.
    let sp = w.sp.clone();
    let req = tokio::task::spawn_blocking(move || sp.authn(&AuthnOptions::default()))
        .await
        .unwrap()
        .unwrap();
    let autopost = b.get(&req.url).await;
    assert_eq!(autopost.status, 200, "{}", autopost.body);
    let v = w.validate(&req.request_id, &autopost).await.unwrap();
    assert_tupas2(&v, LOA2);
    w.gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loa3_with_rsa_oaep_256_a256gcm_and_encrypted_userinfo() {
    let mut spec = BankSpec::new("pankki256");
    spec.alg = "RSA-OAEP-256";
    spec.enc = "A256GCM";
    spec.userinfo = true;
    let w = world(&[spec]).await;
    let b = Browser::new();
    let doc = b.get(&format!("{}/oidc/jwks", w.base)).await.body;
    assert!(doc.contains("\"RSA-OAEP-256\""), "{doc}");
    let (request_id, selection) = w.start_loa3(&b).await;
    let callback = w.through_bank(&b, &selection, 0, "pankki256").await;
    let autopost = b.get(&callback).await;
    assert_eq!(autopost.status, 200, "{}", autopost.body);
    let v = w.validate(&request_id, &autopost).await.unwrap();
    assert_tupas2(&v, LOA3);
    assert_eq!(
        w.bank(0).requests("GET /me"),
        1,
        "userinfo was asked once: {}",
        w.bank(0).stderr()
    );
}

/// One hostile bank mode: the login ends in a refusal with `code`.
async fn hostile(mode: &'static str, code: &str, loa3: bool, userinfo: bool) -> World {
    let mut spec = BankSpec::new("pankki").mode(mode);
    spec.userinfo = userinfo;
    let w = world(&[spec]).await;
    let b = Browser::new();
    let (_, selection) = if loa3 {
        w.start_loa3(&b).await
    } else {
        w.start_python(&b).await
    };
    let callback = w.through_bank(&b, &selection, 0, "pankki").await;
    let page = b.get(&callback).await;
    assert_refused(&page, 400, code, mode);
    // The flow was consumed before the bank was asked: the same callback finds nothing now.
    let again = b.get(&callback).await;
    assert_refused(&again, 400, "gateway.flow_not_found", mode);
    w
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_signed_id_token_is_refused_where_encryption_is_required() {
    hostile("plain-id-token", "ftn.id_token_not_encrypted", false, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alg_none_id_token_is_refused() {
    hostile("alg-none", "ftn.jws_alg_refused", false, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hs256_signed_with_the_banks_public_key_is_refused() {
    hostile("hs256-pubkey", "ftn.jws_alg_refused", false, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kid_is_refused() {
    let w = hostile("unknown-kid", "ftn.unknown_kid", false, false).await;
    // The bank's keys were fetched at start and once more for the unknown kid, no more: every
    // fetch happened before the refusal page was answered, and `requests` counts every request
    // the bank has received.
    assert_eq!(w.bank(0).requests("GET /jwks"), 2, "{}", w.bank(0).stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn id_token_for_another_audience_is_refused() {
    hostile("wrong-aud", "ftn.claims_aud", false, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn id_token_from_another_issuer_is_refused() {
    hostile("wrong-iss", "ftn.claims_iss", false, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_id_token_is_refused() {
    hostile("expired", "ftn.expired", false, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_nonce_is_refused() {
    hostile("wrong-nonce", "ftn.nonce_mismatch", false, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acr_below_the_requested_level_is_refused() {
    hostile("low-acr", "ftn.acr_too_low", true, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn userinfo_sub_differing_from_the_id_token_is_refused() {
    hostile("userinfo-sub", "ftn.userinfo_sub_mismatch", false, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_wrong_state_is_refused_and_a_used_state_cannot_be_replayed() {
    let w = world(&[BankSpec::new("pankki")]).await;
    let b = Browser::new();
    let (request_id, selection) = w.start_python(&b).await;
    let callback = w.through_bank(&b, &selection, 0, "pankki").await;
    let q = bank::query_pairs(&callback);

    // No state at all.
    let no_state: Vec<_> = q.iter().filter(|(k, _)| k != "state").cloned().collect();
    let page = b.get(&bank::with_query(&callback, &no_state)).await;
    assert_refused(&page, 400, "state_missing", "missing state");

    // A state the gateway never issued.
    let wrong: Vec<_> = q
        .iter()
        .map(|(k, v)| {
            if k == "state" {
                (k.clone(), format!("{}x", &v[..v.len() - 1]))
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect();
    let page = b.get(&bank::with_query(&callback, &wrong)).await;
    assert_refused(&page, 400, "gateway.flow_not_found", "wrong state");

    // Guessing wrong did not spoil the real callback.
    let autopost = b.get(&callback).await;
    assert_eq!(autopost.status, 200, "{}", autopost.body);
    let v = w.validate(&request_id, &autopost).await.unwrap();
    assert_tupas2(&v, LOA2);

    // The same callback again, after use: the state was taken once.
    let page = b.get(&callback).await;
    assert_refused(&page, 400, "gateway.flow_not_found", "replayed state");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_banks_are_offered_and_a_callback_cannot_cross_banks() {
    let mut a = BankSpec::new("pankki-a");
    a.names = ["Pankki Ä", "Banken Å", "Bank A"];
    let mut bb = BankSpec::new("pankki-b");
    bb.names = ["Pankki B", "Banken B", "Bank B"];
    let mut down = BankSpec::new("suljettu");
    down.names = ["Suljettu pankki", "Stängd bank", "Closed bank"];
    down.down = true;
    let w = world(&[a, bb, down]).await;

    // Each bank is a method with its display name, in the citizen's language.
    for (lang, names) in [
        ("fi", ["Pankki Ä", "Pankki B", "Suljettu pankki"]),
        ("sv", ["Banken Å", "Banken B", "Stängd bank"]),
        ("en", ["Bank A", "Bank B", "Closed bank"]),
    ] {
        let mut b = Browser::new();
        b.accept_language = Some(lang.into());
        let (_, selection) = w.start_python(&b).await;
        for (id, name) in ["pankki-a", "pankki-b", "suljettu"].iter().zip(names) {
            let marker = format!("data-method=\"bank:{id}\"");
            let i = selection
                .body
                .find(&marker)
                .unwrap_or_else(|| panic!("{lang}: {marker} missing: {}", selection.body));
            let link_end = i + selection.body[i..].find("</a>").unwrap();
            assert!(
                selection.body[i..link_end].contains(name),
                "{lang}: {id} should read {name:?}: {}",
                &selection.body[i..link_end]
            );
        }
    }

    // A bank that could not be refreshed shows an error page (502: the bank is not there), and
    // keeps being retried.
    let b = Browser::new();
    let (_, selection) = w.start_python(&b).await;
    let page = w.pick(&b, &selection, "suljettu").await;
    assert_refused(&page, 502, "ftn.discovery", "a bank that is not there");
    let failed = w.gw.state.refresh_banks().await;
    assert_eq!(failed, vec!["suljettu".to_owned()]);

    // Bank A's answer delivered to bank B's callback: refused, and that flow is over.
    let b = Browser::new();
    let (_, selection) = w.start_python(&b).await;
    let callback_a = w.through_bank(&b, &selection, 0, "pankki-a").await;
    let to_b = callback_a.replace(
        "/login/bank/pankki-a/callback",
        "/login/bank/pankki-b/callback",
    );
    assert_ne!(to_b, callback_a);
    let page = b.get(&to_b).await;
    assert_refused(&page, 400, "flow_mismatch", "callback for bank A at bank B");
    let page = b.get(&callback_a).await;
    assert_refused(
        &page,
        400,
        "gateway.flow_not_found",
        "the crossed state was used up",
    );

    // Bank B on its own works, in the same world.
    let (request_id, selection) = w.start_python(&b).await;
    let callback_b = w.through_bank(&b, &selection, 1, "pankki-b").await;
    let autopost = b.get(&callback_b).await;
    assert_eq!(autopost.status, 200, "{}", autopost.body);
    assert_tupas2(&w.validate(&request_id, &autopost).await.unwrap(), LOA2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bank_gone_before_the_token_request_is_a_502_refusal() {
    let mut w = world(&[BankSpec::new("pankki")]).await;
    let b = Browser::new();
    let (_, selection) = w.start_python(&b).await;
    let callback = w.through_bank(&b, &selection, 0, "pankki").await;
    w.take_down(0);
    let page = b.get(&callback).await;
    assert_refused(
        &page,
        502,
        "ftn.token_http",
        "no bank to redeem the code at",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_at_the_bank_returns_to_the_selection_then_giving_up_is_authn_failed() {
    let mut spec = BankSpec::new("pankki");
    spec.auto_person = None;
    let w = world(&[spec]).await;
    let mut b = Browser::new();
    b.accept_language = Some("sv".into());
    let (request_id, selection) = w.start_python(&b).await;
    let to_bank = w.pick(&b, &selection, "pankki").await;
    assert_eq!(to_bank.status, 303, "{}", to_bank.body);
    // The bank's login page, in the citizen's language (ui_locales in the request object).
    let login = bank::follow(&b, to_bank).await;
    assert_eq!(login.status, 200, "{}", login.body);
    assert!(login.url.contains("/interaction/"), "{}", login.url);
    assert!(
        login.body.contains("data-person=\"tupas-2\""),
        "{}",
        login.body
    );
    assert!(login.body.contains("lang=\"sv\""), "{}", login.body);
    assert!(
        login.body.contains("Bank login tests"),
        "ftn_spname shown: {}",
        login.body
    );
    let cancelled = b
        .post_form(&login.url, &[("action".to_owned(), "cancel".to_owned())])
        .await;
    let callback = bank::to_callback(&b, cancelled, &w.base).await;
    let q = bank::query_pairs(&callback);
    assert!(
        q.iter().any(|(k, v)| k == "error" && v == "access_denied"),
        "{callback}"
    );
    let back = b.get(&callback).await;
    assert_eq!(back.status, 303, "{}", back.body);
    let notice = b.follow(back).await;
    assert_eq!(notice.status, 200, "{}", notice.body);
    assert!(notice.url.contains("notice=cancelled"), "{}", notice.url);
    assert!(
        notice.body.contains("Identifieringen avbröts"),
        "the notice in Swedish: {}",
        notice.body
    );
    assert!(
        notice.body.contains("data-method=\"bank:pankki\""),
        "the citizen may choose again: {}",
        notice.body
    );
    assert!(!notice.has_saml_response());

    // Giving up: the SP gets AuthnFailed.
    let autopost = b.submit(&notice, None, &[]).await;
    assert_eq!(autopost.status, 200, "{}", autopost.body);
    let (_, xml, _) = autopost.saml_response().unwrap();
    assert!(xml.contains(saml::STATUS_AUTHN_FAILED), "{xml}");
    let refused = w.validate(&request_id, &autopost).await.unwrap_err();
    assert!(refused.contains("AuthnFailed"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_test_person_logs_in_with_a_test_series_code() {
    let mut spec = BankSpec::new("pankki");
    spec.auto_person = None;
    let w = world(&[spec]).await;
    for (person, code) in TEST_PERSONS {
        let hetu = idp_adapters::PersonalIdentityCode::parse(code).unwrap();
        assert!(hetu.is_test_series(), "{person}: {code}");
        let b = Browser::new();
        let (request_id, selection) = w.start_python(&b).await;
        let login = bank::follow(&b, w.pick(&b, &selection, "pankki").await).await;
        assert_eq!(login.status, 200, "{person}: {}", login.body);
        assert!(
            login.body.contains(&format!("({code})")),
            "the login page names {person} with {code}: {}",
            login.body
        );
        let chosen = b
            .post_form(&login.url, &[("person".to_owned(), person.to_owned())])
            .await;
        let callback = bank::to_callback(&b, chosen, &w.base).await;
        let autopost = b.get(&callback).await;
        assert_eq!(autopost.status, 200, "{person}: {}", autopost.body);
        let v = w.validate(&request_id, &autopost).await.unwrap();
        assert_eq!(
            v.attributes.get(OID_HETU).map(|x| x.join("|")).as_deref(),
            Some(code),
            "{person}: {v:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_series_code_is_refused_where_the_operator_says_so() {
    let w = world_with(
        &[BankSpec::new("pankki")],
        "refuse_test_identity_codes = true",
    )
    .await;
    let b = Browser::new();
    let (_, selection) = w.start_python(&b).await;
    let callback = w.through_bank(&b, &selection, 0, "pankki").await;
    let page = b.get(&callback).await;
    assert_refused(&page, 400, "ftn.test_identity_code", "tupas-2 refused");
    assert!(
        !gateway_log::lines().iter().any(|l| l.contains(TUPAS2_HETU)),
        "the refused code is not logged"
    );
}
