//! Hostile AuthnRequests against a real gateway: each is refused with an error page (4xx, an
//! error ID) and no SAML Response is issued.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use tests::browser::{Browser, Page};
use tests::harness::{self, LoopbackListener, TestGateway};
use tests::testsp::{RequestOptions, TestSp};

struct Env {
    gw: TestGateway,
    /// Requires signed requests (its metadata says AuthnRequestsSigned).
    signed_sp: TestSp,
    /// Does not require signatures.
    open_sp: TestSp,
    base: String,
}

async fn env() -> Env {
    let listener = LoopbackListener::bind().await;
    let base = listener.base.clone();
    let signed_sp = TestSp::new("signed", &base, true);
    let open_sp = TestSp::new("open", &base, false);
    let dir = tempfile::tempdir().unwrap();
    let files = vec![
        signed_sp.write_metadata(dir.path()),
        open_sp.write_metadata(dir.path()),
    ];
    let gw = harness::start(files, Some(listener)).await;
    Env {
        gw,
        signed_sp,
        open_sp,
        base,
    }
}

fn assert_refused(p: &Page, what: &str) {
    assert!(
        (400..500).contains(&p.status),
        "{what}: expected a 4xx refusal, got {} {}",
        p.status,
        p.body
    );
    assert!(
        p.body.contains("id=\"error-id\""),
        "{what}: error page without an error ID: {}",
        p.body
    );
    assert!(!p.has_saml_response(), "{what}: a SAML Response was issued");
    assert!(
        p.location.is_none(),
        "{what}: redirected to {:?}",
        p.location
    );
}

#[tokio::test]
async fn acs_must_be_registered_exactly() {
    let e = env().await;
    let b = Browser::new();
    let acs = e.open_sp.acs_url.clone();
    let lookalikes = [
        format!("{}/open/evil", e.base),
        format!("{acs}/"),
        format!("{acs}x"),
        acs[..acs.len() - 1].to_owned(),
        format!("{acs}?next=x"),
        format!("{acs}#frag"),
        format!("{}/open/x/../acs", e.base),
        format!("{}/open/%61cs", e.base),
        acs.replace("127.0.0.1", "127.0.0.1.evil.example"),
        acs.replace("http://", "http://evil@"),
        acs.replace("http://", "HTTP://"),
        format!("https://evil.example/{acs}"),
    ];
    for url in &lookalikes {
        let (xml, _) = e.open_sp.request_xml(
            &e.gw.sso_url(),
            &RequestOptions {
                acs_url: Some(url),
                ..Default::default()
            },
        );
        assert_refused(
            &b.get(&e.open_sp.redirect_url(&e.gw.sso_url(), &xml, None, false))
                .await,
            url,
        );
    }
    for index in [7u16, 9] {
        // 7 is not registered; 9 is registered with the Artifact binding, which we do not answer on.
        let (xml, _) = e.open_sp.request_xml(
            &e.gw.sso_url(),
            &RequestOptions {
                acs_index: Some(index),
                ..Default::default()
            },
        );
        assert_refused(
            &b.get(&e.open_sp.redirect_url(&e.gw.sso_url(), &xml, None, false))
                .await,
            &format!("index {index}"),
        );
    }
    let (xml, _) = e
        .open_sp
        .request_xml(&e.gw.sso_url(), &RequestOptions::default());
    let xml = xml.replace(saml::BINDING_POST, saml::BINDING_REDIRECT);
    assert_refused(
        &b.get(&e.open_sp.redirect_url(&e.gw.sso_url(), &xml, None, false))
            .await,
        "Redirect ProtocolBinding",
    );
    // The registered second ACS, by index, is fine: the refusals above are not refusing everything.
    let (xml, _) = e.open_sp.request_xml(
        &e.gw.sso_url(),
        &RequestOptions {
            acs_index: Some(1),
            ..Default::default()
        },
    );
    assert_eq!(
        b.get(&e.open_sp.redirect_url(&e.gw.sso_url(), &xml, None, false))
            .await
            .status,
        303
    );
}

#[tokio::test]
async fn unknown_issuer_is_refused() {
    let e = env().await;
    let stranger = TestSp::new("stranger", &e.base, false);
    let (xml, _) = stranger.request_xml(&e.gw.sso_url(), &RequestOptions::default());
    assert_refused(
        &Browser::new()
            .get(&stranger.redirect_url(&e.gw.sso_url(), &xml, None, true))
            .await,
        "unknown issuer",
    );
}

#[tokio::test]
async fn signatures_are_required_and_checked() {
    let e = env().await;
    let b = Browser::new();
    let sso = e.gw.sso_url();
    let sp = &e.signed_sp;
    let (xml, _) = sp.request_xml(&sso, &RequestOptions::default());
    assert_refused(
        &b.get(&sp.redirect_url(&sso, &xml, None, false)).await,
        "unsigned Redirect",
    );
    assert_refused(
        &b.post_form(&sso, &sp.post_fields(&xml, None, false)).await,
        "unsigned POST",
    );

    // Signed by a key that is not in the SP's metadata (same entity ID, the attacker's key).
    let mut impostor = TestSp::new("signed", &e.base, true);
    impostor.entity_id = sp.entity_id.clone();
    let (xml, _) = impostor.request_xml(&sso, &RequestOptions::default());
    assert_refused(
        &b.get(&impostor.redirect_url(&sso, &xml, None, true)).await,
        "Redirect signed by a wrong key",
    );
    // The attacker's POST signature carries the attacker's certificate in KeyInfo.
    let fields = impostor.post_fields(&xml, None, true);
    let signed_xml = saml::binding::decode_post(&fields[0].1, &Default::default()).unwrap();
    assert!(signed_xml.contains(&impostor.identity.cert.to_base64()));
    assert_refused(
        &b.post_form(&sso, &fields).await,
        "POST signed with a KeyInfo certificate",
    );

    // SHA-1 named as the signature algorithm.
    let (xml, _) = sp.request_xml(&sso, &RequestOptions::default());
    let url = sp.redirect_url(&sso, &xml, None, true).replace(
        "SigAlg=http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256",
        "SigAlg=http%3A%2F%2Fwww.w3.org%2F2000%2F09%2Fxmldsig%23rsa-sha1",
    );
    assert!(url.contains("rsa-sha1"));
    assert_refused(&b.get(&url).await, "SHA-1 SigAlg");

    // RelayState changed after signing.
    let (xml, _) = sp.request_xml(&sso, &RequestOptions::default());
    let url = sp
        .redirect_url(&sso, &xml, Some("original"), true)
        .replace("RelayState=original", "RelayState=changed");
    assert!(url.contains("RelayState=changed"));
    assert_refused(&b.get(&url).await, "RelayState changed after signing");

    // Correct signatures are accepted.
    let (xml, _) = sp.request_xml(&sso, &RequestOptions::default());
    assert_eq!(
        b.get(&sp.redirect_url(&sso, &xml, Some("original"), true))
            .await
            .status,
        303
    );
    let (xml, _) = sp.request_xml(&sso, &RequestOptions::default());
    assert_eq!(
        b.post_form(&sso, &sp.post_fields(&xml, None, true))
            .await
            .status,
        303
    );
}

#[tokio::test]
async fn wrapped_signed_post_request_is_refused() {
    let e = env().await;
    let sso = e.gw.sso_url();
    let sp = &e.signed_sp;
    let (xml, _) = sp.request_xml(&sso, &RequestOptions::default());
    let genuine =
        saml::binding::decode_post(&sp.post_fields(&xml, None, true)[0].1, &Default::default())
            .unwrap();
    let forged_acs = &sp.extra_acs[0];
    let head = format!(
        r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_forged" Version="2.0" IssueInstant="{now}" Destination="{sso}" AssertionConsumerServiceURL="{forged_acs}"><saml:Issuer>{issuer}</saml:Issuer>"#,
        now = saml::time_fmt::format(time::OffsetDateTime::now_utc()),
        issuer = sp.entity_id,
    );
    let wrapped =
        format!("{head}<samlp:Extensions>{genuine}</samlp:Extensions></samlp:AuthnRequest>");
    let fields = vec![(
        "SAMLRequest".to_owned(),
        saml::binding::encode_post(&wrapped),
    )];
    assert_refused(
        &Browser::new().post_form(&sso, &fields).await,
        "wrapped signed request",
    );
    // The genuine Signature hoisted into the forged root, the signed request kept inside.
    let s = genuine.find("<ds:Signature").unwrap();
    let t = genuine.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let hoisted = format!(
        "{head}{}<samlp:Extensions>{}{}</samlp:Extensions></samlp:AuthnRequest>",
        &genuine[s..t],
        &genuine[..s],
        &genuine[t..]
    );
    let fields = vec![(
        "SAMLRequest".to_owned(),
        saml::binding::encode_post(&hoisted),
    )];
    assert_refused(
        &Browser::new().post_form(&sso, &fields).await,
        "hoisted signature",
    );
}

#[tokio::test]
async fn doctype_entities_bombs_and_oversize_are_refused() {
    let e = env().await;
    let b = Browser::new();
    let sso = e.gw.sso_url();
    let sp = &e.open_sp;
    let (xml, _) = sp.request_xml(&sso, &RequestOptions::default());
    let with_dtd = format!("<!DOCTYPE samlp:AuthnRequest [<!ENTITY x \"y\">]>{xml}");
    assert_refused(
        &b.get(&sp.redirect_url(&sso, &with_dtd, None, false)).await,
        "DOCTYPE by Redirect",
    );
    assert_refused(
        &b.post_form(&sso, &sp.post_fields(&with_dtd, None, false))
            .await,
        "DOCTYPE by POST",
    );
    let entity_ref = xml.replace("</saml:Issuer>", "&x;</saml:Issuer>");
    assert_refused(
        &b.post_form(&sso, &sp.post_fields(&entity_ref, None, false))
            .await,
        "undeclared entity",
    );
    let billion = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]>{}",
        xml.replace("</saml:Issuer>", "&b;</saml:Issuer>")
    );
    assert_refused(
        &b.post_form(&sso, &sp.post_fields(&billion, None, false))
            .await,
        "entity expansion",
    );
    let comment = xml.replace("</saml:Issuer>", "<!-- x --></saml:Issuer>");
    assert_refused(
        &b.post_form(&sso, &sp.post_fields(&comment, None, false))
            .await,
        "comment in Issuer",
    );

    // DEFLATE bomb: 20 MiB that compress to a few KiB.
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(xml.as_bytes()).unwrap();
    enc.write_all(&vec![b' '; 20 * 1024 * 1024]).unwrap();
    let deflated = enc.finish().unwrap();
    assert!(deflated.len() < 64 * 1024);
    use base64::Engine;
    let q = saml::binding::form_encode(&base64::engine::general_purpose::STANDARD.encode(deflated));
    assert_refused(
        &b.get(&format!("{sso}?SAMLRequest={q}")).await,
        "DEFLATE bomb",
    );

    // Oversized POST body.
    let big = format!("SAMLRequest={}", "A".repeat(200 * 1024)).into_bytes();
    let p = b.post_raw(&sso, big).await;
    assert_refused(&p, "oversized POST");
    assert_eq!(p.status, 413);
    // Garbage and nothing.
    assert_refused(
        &b.get(&format!("{sso}?SAMLRequest=%%%")).await,
        "bad base64",
    );
    assert_refused(&b.get(&sso).await, "no message");
    assert_refused(
        &b.post_form(&sso, &[("RelayState".to_owned(), "x".to_owned())])
            .await,
        "POST without message",
    );
}

#[tokio::test]
async fn replayed_and_stale_requests_are_refused() {
    let e = env().await;
    let b = Browser::new();
    let sso = e.gw.sso_url();
    let sp = &e.signed_sp;
    let (xml, _) = sp.request_xml(&sso, &RequestOptions::default());
    let url = sp.redirect_url(&sso, &xml, None, true);
    assert_eq!(b.get(&url).await.status, 303);
    assert_refused(&b.get(&url).await, "replayed request ID");
    assert_refused(
        &Browser::new().get(&url).await,
        "replayed request ID from another browser",
    );

    let old = time::OffsetDateTime::now_utc() - time::Duration::minutes(10);
    let (xml, _) = sp.request_xml(
        &sso,
        &RequestOptions {
            issue_instant: Some(old),
            ..Default::default()
        },
    );
    assert_refused(
        &b.get(&sp.redirect_url(&sso, &xml, None, true)).await,
        "stale IssueInstant",
    );
    let future = time::OffsetDateTime::now_utc() + time::Duration::minutes(10);
    let (xml, _) = sp.request_xml(
        &sso,
        &RequestOptions {
            issue_instant: Some(future),
            ..Default::default()
        },
    );
    assert_refused(
        &b.get(&sp.redirect_url(&sso, &xml, None, true)).await,
        "future IssueInstant",
    );
    let (xml, _) = sp.request_xml(
        &sso,
        &RequestOptions {
            destination: Some("http://127.0.0.1:1/elsewhere"),
            ..Default::default()
        },
    );
    assert_refused(
        &b.get(&sp.redirect_url(&sso, &xml, None, true)).await,
        "wrong Destination",
    );
}
