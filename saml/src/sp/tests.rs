use super::*;
use crate::response::{
    build_status, build_success, AssertionDraft, Attribute, Signer, StatusDraft,
};
use crate::testkeys;

const ACS: &str = "https://sp.example/acs";

fn now() -> OffsetDateTime {
    time_fmt::parse("2026-11-21T12:00:00Z").unwrap()
}

fn attrs() -> Vec<Attribute> {
    vec![Attribute {
        name: "urn:oid:2.5.4.42".into(),
        friendly_name: None,
        values: vec!["<b>Ä&amp;\"x\"</b>".into()],
    }]
}

fn draft(a: &[Attribute]) -> AssertionDraft<'_> {
    AssertionDraft {
        response_id: "_resp",
        assertion_id: "_assn",
        idp_entity_id: "https://idp.example",
        sp_entity_id: "https://sp.example",
        acs_url: ACS,
        in_response_to: Some("_req"),
        now: now(),
        lifetime: Duration::minutes(5),
        name_id: "abc",
        name_id_format: crate::NAMEID_TRANSIENT,
        session_index: "_s1",
        session_not_on_or_after: None,
        authn_instant: now(),
        authn_context_class_ref: "http://ftn.ficora.fi/2017/loa3",
        authenticating_authority: None,
        attributes: a,
    }
}

fn response(sign_response: bool) -> String {
    let a = attrs();
    let d = draft(&a);
    let id = testkeys::rsa();
    build_success(
        &d,
        Signer {
            key: &id.key,
            cert: &id.cert,
        },
        sign_response,
    )
    .unwrap()
}

fn exp(certs: &[Certificate]) -> ResponseExpectations<'_> {
    ResponseExpectations {
        sp_entity_id: "https://sp.example",
        acs_url: ACS,
        idp_entity_id: "https://idp.example",
        idp_certificates: certs,
        in_response_to: Some("_req"),
        now: now() + Duration::seconds(10),
        clock_skew: Duration::seconds(30),
        decryption_key: None,
    }
}

#[test]
fn accepts_our_response_and_keeps_markup_in_values() {
    let certs = [testkeys::rsa().cert.clone()];
    for signed_response in [false, true] {
        let v = validate_response(&response(signed_response), &exp(&certs)).unwrap();
        assert_eq!(v.name_id, "abc");
        assert_eq!(
            v.attributes,
            vec![(
                "urn:oid:2.5.4.42".to_owned(),
                vec!["<b>Ä&amp;\"x\"</b>".to_owned()]
            )]
        );
        assert_eq!(
            v.authn_context_class_ref.as_deref(),
            Some("http://ftn.ficora.fi/2017/loa3")
        );
    }
}

#[test]
fn authenticating_authority_is_written_escaped_in_schema_order_and_read_back() {
    let a = attrs();
    let mut d = draft(&a);
    d.authenticating_authority = Some("urn:gateway:testbank?a=1&b=<2>");
    let id = testkeys::rsa();
    let signer = Signer {
        key: &id.key,
        cert: &id.cert,
    };
    let xml = build_success(&d, signer, false).unwrap();
    assert!(
        xml.contains("<saml:AuthenticatingAuthority>urn:gateway:testbank?a=1&amp;b=&lt;2&gt;</saml:AuthenticatingAuthority>"),
        "{xml}"
    );
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let ctx = doc
        .descendants()
        .find(|n| n.has_tag_name((crate::xml::NS_SAML, "AuthnContext")))
        .unwrap();
    let order: Vec<&str> = ctx
        .children()
        .filter(|n| n.is_element())
        .map(|n| n.tag_name().name())
        .collect();
    assert_eq!(order, ["AuthnContextClassRef", "AuthenticatingAuthority"]);
    let certs = [id.cert.clone()];
    let v = validate_response(&xml, &exp(&certs)).unwrap();
    assert_eq!(
        v.authenticating_authorities,
        ["urn:gateway:testbank?a=1&b=<2>"]
    );
    // Without one, no element (the Response is as before).
    let v = validate_response(&response(false), &exp(&certs)).unwrap();
    assert!(v.authenticating_authorities.is_empty());
    assert!(!response(false).contains("AuthenticatingAuthority"));
}

#[test]
fn checks_fail_closed() {
    let certs = [testkeys::rsa().cert.clone()];
    let other = [testkeys::rsa_other().cert.clone()];
    let r = response(false);
    assert!(matches!(
        validate_response(&r, &exp(&other)),
        Err(SamlError::SignatureRejected)
    ));
    let mut e = exp(&certs);
    e.in_response_to = Some("_other");
    assert!(matches!(
        validate_response(&r, &e),
        Err(SamlError::InResponseToMismatch { .. })
    ));
    let mut e = exp(&certs);
    e.now = now() + Duration::minutes(6);
    assert!(matches!(
        validate_response(&r, &e),
        Err(SamlError::ConditionsNotMet { .. })
    ));
    let mut e = exp(&certs);
    e.sp_entity_id = "https://other-sp.example";
    assert!(matches!(
        validate_response(&r, &e),
        Err(SamlError::AudienceMismatch { .. })
    ));
    let mut e = exp(&certs);
    e.acs_url = "https://sp.example/acs2";
    assert!(matches!(
        validate_response(&r, &e),
        Err(SamlError::DestinationMismatch { .. })
    ));
    // Unsigned assertion inside: strip the assertion signature.
    let start = r.find("<ds:Signature").unwrap();
    let end = r.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let stripped = format!("{}{}", &r[..start], &r[end..]);
    assert!(matches!(
        validate_response(&stripped, &exp(&certs)),
        Err(SamlError::SignatureMissing)
    ));
    // A changed attribute value breaks the digest.
    let changed = r.replace("&lt;b&gt;", "&lt;i&gt;");
    assert!(matches!(
        validate_response(&changed, &exp(&certs)),
        Err(SamlError::DigestMismatch)
    ));
}

#[test]
fn status_responses_are_reported() {
    let id = testkeys::rsa();
    let xml = build_status(
        &StatusDraft {
            response_id: "_st",
            idp_entity_id: "https://idp.example",
            acs_url: ACS,
            in_response_to: Some("_req"),
            now: now(),
            top_code: crate::STATUS_RESPONDER,
            second_code: Some(crate::STATUS_NO_PASSIVE),
            message: Some("no session"),
        },
        Signer {
            key: &id.key,
            cert: &id.cert,
        },
    )
    .unwrap();
    let certs = [id.cert.clone()];
    match validate_response(&xml, &exp(&certs)) {
        Err(SamlError::Status { code, sub, .. }) => {
            assert_eq!(code, crate::STATUS_RESPONDER);
            assert_eq!(sub.as_deref(), Some(crate::STATUS_NO_PASSIVE));
        }
        other => panic!("expected a status error, got {other:?}"),
    }
}

#[test]
fn encrypted_assertion_roundtrip_and_failures() {
    let sp = testkeys::rsa_other();
    let sp_key = certs::DecryptionKey::from_pkcs8_der(&sp.key.to_pkcs8_der().unwrap()).unwrap();
    let a = attrs();
    let d = draft(&a);
    let id = testkeys::rsa();
    let xml = crate::response::build_success_encrypted(
        &d,
        Signer {
            key: &id.key,
            cert: &id.cert,
        },
        true,
        &sp.cert,
        &certs::SystemRandomSource,
    )
    .unwrap();
    assert!(
        xml.contains("EncryptedAssertion")
            && !xml.contains("<saml:Assertion")
            && !xml.contains("Ä")
    );
    let certs = [id.cert.clone()];
    let mut e = exp(&certs);
    e.decryption_key = Some(&sp_key);
    let v = validate_response(&xml, &e).unwrap();
    assert_eq!(v.attributes[0].1, vec!["<b>Ä&amp;\"x\"</b>".to_owned()]);
    // No key, the wrong key, a changed ciphertext: refused.
    assert!(matches!(
        validate_response(&xml, &exp(&certs)),
        Err(SamlError::Unsupported(_))
    ));
    let wrong = certs::DecryptionKey::from_pkcs8_der(&id.key.to_pkcs8_der().unwrap()).unwrap();
    let mut e2 = exp(&certs);
    e2.decryption_key = Some(&wrong);
    assert!(validate_response(&xml, &e2).is_err());
    let start = xml.rfind("<xenc:CipherValue>").unwrap() + "<xenc:CipherValue>".len();
    let mut bytes = xml.clone().into_bytes();
    bytes[start + 20] = if bytes[start + 20] == b'A' {
        b'B'
    } else {
        b'A'
    };
    let tampered = String::from_utf8(bytes).unwrap();
    let doc = roxmltree::Document::parse(&tampered).unwrap();
    // The Response signature covers the ciphertext; check decryption itself fails closed too.
    let enc = doc
        .descendants()
        .find(|n| crate::encrypt::is_encrypted_assertion(*n))
        .unwrap();
    assert!(crate::encrypt::decrypt_assertion(enc, &sp_key).is_err());
    assert!(validate_response(&tampered, &e).is_err());
}
