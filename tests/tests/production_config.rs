//! The gateway in production mode, built from a TOML file: per-SP release policy, a signed
//! Response for the SP that asks for one, the test bank only because the file enables it (in a
//! declared test environment).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use tests::browser::Browser;
use tests::harness::{through_testbank, PERSON};
use tests::testsp::{RequestOptions, TestSp};

struct Setup {
    dir: tempfile::TempDir,
    listener: tokio::net::TcpListener,
    base: String,
    idp: certs::SigningIdentity,
    narrow: TestSp,
    wide: TestSp,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let now = time::OffsetDateTime::now_utc();
    let idp = certs::SigningIdentity::generate_self_signed("idp", certs::KeyKind::Rsa2048, now, 30)
        .unwrap();
    std::fs::write(dir.path().join("idp.key"), idp.key.to_pkcs8_pem().unwrap()).unwrap();
    std::fs::write(dir.path().join("idp.crt"), idp.cert.to_pem()).unwrap();
    std::fs::write(dir.path().join("pairwise.secret"), [9u8; 40]).unwrap();
    let narrow = TestSp::new("narrow", &base, true);
    let wide = TestSp::new("wide", &base, false);
    Setup {
        dir,
        listener,
        base,
        idp,
        narrow,
        wide,
    }
}

fn write_config(s: &Setup, extra: &str) -> std::path::PathBuf {
    let Setup {
        dir,
        base,
        narrow,
        wide,
        ..
    } = s;
    let narrow_md = narrow.write_metadata(dir.path());
    let wide_md = wide.write_metadata(dir.path());
    let cfg_path = dir.path().join("gateway.toml");
    std::fs::write(
        &cfg_path,
        format!(
            r#"
environment = "test"
[server]
listen = "127.0.0.1:0"
public_url = "{base}"
[keys]
signing_key = "idp.key"
signing_cert = "idp.crt"
pairwise_secret_file = "pairwise.secret"
[methods.testbank]
enabled = true
[[service_providers]]
metadata_file = "{narrow}"
release = ["given_name", "surname"]
sign_response = true
[[service_providers]]
metadata_file = "{wide}"
release = ["national_id", "given_name", "surname", "common_name", "display_name", "birth_date"]
{extra}
"#,
            narrow = narrow_md.file_name().unwrap().to_str().unwrap(),
            wide = wide_md.file_name().unwrap().to_str().unwrap(),
        ),
    )
    .unwrap();
    cfg_path
}

/// Production mode as `serve` builds it: the file, checked, then every key and metadata file loaded.
fn load_gateway(cfg_path: &std::path::Path) -> Arc<gateway::state::Gateway> {
    let cfg = gateway::config::load(cfg_path, std::iter::empty()).unwrap();
    let rt = gateway::state::Runtime {
        clock: Arc::new(certs::SystemClock),
        rng: Arc::new(certs::SystemRandomSource),
    };
    Arc::new(gateway::state::from_config(&cfg, rt).unwrap())
}

#[tokio::test]
async fn release_policy_and_signed_response_from_config() {
    let s = setup().await;
    let cfg_path = write_config(&s, "");
    let Setup {
        listener,
        base,
        idp,
        narrow,
        wide,
        dir: _dir,
    } = s;
    let gw = load_gateway(&cfg_path);
    assert!(gw.web.demo.is_none(), "no demo SP in production mode");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(gateway::web::serve(listener, gw.web.clone(), async move {
        let _ = rx.await;
    }));
    let sso = format!("{base}/saml/idp/sso");
    let idp_entity = format!("{base}/saml/idp");
    let certs = [idp.cert.clone()];

    let b = Browser::new();
    assert_eq!(b.get(&format!("{base}/demo")).await.status, 404);
    let (xml, id) = narrow.request_xml(&sso, &RequestOptions::default());
    let page = b.get(&narrow.redirect_url(&sso, &xml, None, true)).await;
    let autopost = through_testbank(&b, page, &[("national_id", PERSON)]).await;
    let (_, resp, _) = autopost.saml_response().unwrap();
    let a = narrow
        .validate(&resp, &id, &idp_entity, &certs, None)
        .unwrap();
    let names: Vec<&str> = a.attributes.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        vec!["urn:oid:2.5.4.42", "urn:oid:2.5.4.4"],
        "only what the policy allows"
    );
    assert!(
        !resp.contains(PERSON),
        "the national id must not appear anywhere in the Response"
    );
    // The Response element itself is signed for this SP.
    let doc = roxmltree::Document::parse(&resp).unwrap();
    saml::dsig::verify_enveloped(doc.root_element(), &certs).expect("signed Response");

    // The other SP, same browser: single sign-on, everything released, Response not signed.
    let (xml, id) = wide.request_xml(&sso, &RequestOptions::default());
    let page = b
        .post_form(&sso, &wide.post_fields(&xml, None, false))
        .await;
    let (_, resp, _) = page.saml_response().expect("answered from the SSO session");
    let a = wide
        .validate(&resp, &id, &idp_entity, &certs, None)
        .unwrap();
    assert_eq!(a.attributes.len(), 6);
    let doc = roxmltree::Document::parse(&resp).unwrap();
    assert!(!saml::dsig::has_signature(doc.root_element()));

    // The metadata lists the signing certificate and both bindings, and is itself signed.
    let md = b.get(&format!("{base}/saml/idp/metadata")).await.body;
    assert!(md.contains(&idp.cert.to_base64()));
    assert!(md.contains(saml::BINDING_REDIRECT) && md.contains(saml::BINDING_POST));
    let doc = roxmltree::Document::parse(&md).unwrap();
    saml::dsig::verify_enveloped(doc.root_element(), &certs).expect("signed metadata");

    let _ = tx.send(());
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn gateway_policy_can_require_signed_requests_from_every_sp() {
    let s = setup().await;
    let cfg_path = write_config(&s, "[saml]\nrequire_signed_requests = true\n");
    let Setup {
        listener,
        base,
        wide,
        dir: _dir,
        ..
    } = s;
    let gw = load_gateway(&cfg_path);
    let server = tokio::spawn(gateway::web::serve(
        listener,
        gw.web.clone(),
        std::future::pending(),
    ));
    let sso = format!("{base}/saml/idp/sso");
    let b = Browser::new();
    // This SP's metadata does not ask for signed requests; the gateway's policy does.
    let md = b.get(&format!("{base}/saml/idp/metadata")).await.body;
    assert!(md.contains("WantAuthnRequestsSigned=\"true\""));
    let (xml, _) = wide.request_xml(&sso, &RequestOptions::default());
    let page = b.get(&wide.redirect_url(&sso, &xml, None, false)).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(!page.has_saml_response());
    let (xml, _) = wide.request_xml(&sso, &RequestOptions::default());
    assert_eq!(
        b.get(&wide.redirect_url(&sso, &xml, None, true))
            .await
            .status,
        303
    );
    server.abort();
}

/// Each kind of entry has its own bound (issue 16): with room for one replay entry, the second
/// assertion is refused with a 503 page in the citizen's language, the log warns once (not once
/// per refused request), and what needs no replay entry (a new login's flow) goes on.
#[tokio::test]
async fn a_full_kind_answers_503_in_the_citizens_language_and_warns_once() {
    tests::gateway_log::capture();
    let s = setup().await;
    let cfg_path = write_config(&s, "[session]\nmax_replay_entries = 1\n");
    let Setup {
        listener,
        base,
        idp,
        wide,
        dir: _dir,
        ..
    } = s;
    let gw = load_gateway(&cfg_path);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(gateway::web::serve(listener, gw.web.clone(), async move {
        let _ = rx.await;
    }));
    let sso = format!("{base}/saml/idp/sso");
    let b = Browser::new();
    let (xml, id) = wide.request_xml(&sso, &RequestOptions::default());
    let page = b.get(&wide.redirect_url(&sso, &xml, None, false)).await;
    let autopost = through_testbank(&b, page, &[("national_id", PERSON)]).await;
    let (_, resp, _) = autopost.saml_response().unwrap();
    wide.validate(
        &resp,
        &id,
        &format!("{base}/saml/idp"),
        std::slice::from_ref(&idp.cert),
        None,
    )
    .unwrap();

    // The one replay entry is taken: SSO hits are refused, in Finnish and in English.
    for (accept, text) in [
        ("fi", "Palvelu on juuri nyt ruuhkautunut"),
        ("en", "The service is busy right now"),
        ("sv", "Tjänsten är överbelastad"),
    ] {
        let mut b2 = b.clone();
        b2.accept_language = Some(accept.to_owned());
        let (xml, _) = wide.request_xml(&sso, &RequestOptions::default());
        let page = b2.get(&wide.redirect_url(&sso, &xml, None, false)).await;
        assert_eq!(page.status, 503, "{}", page.body);
        assert!(page.body.contains(text), "{accept}: {}", page.body);
        assert!(!page.has_saml_response());
    }
    let warnings: Vec<_> = tests::gateway_log::lines()
        .into_iter()
        .filter(|l| l.contains("the replay store is full"))
        .collect();
    assert_eq!(
        warnings.len(),
        1,
        "one warning, not one per request: {warnings:?}"
    );
    assert!(warnings[0].contains("WARN"), "{}", warnings[0]);
    // A new citizen's login still starts: flows take no entry.
    let fresh = Browser::new();
    let (xml, _) = wide.request_xml(&sso, &RequestOptions::default());
    let page = fresh.get(&wide.redirect_url(&sso, &xml, None, false)).await;
    assert_eq!(page.status, 303, "{}", page.body);
    let _ = tx.send(());
    server.await.unwrap().unwrap();
}
