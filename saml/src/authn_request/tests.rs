use super::*;
use crate::binding::{decode_redirect, encode_redirect, BindingLimits, MessageParam};
use crate::testkeys;

#[derive(Debug)]
struct Sp {
    certs: Vec<Certificate>,
    require_signed: bool,
}

impl RequesterTrust for &Sp {
    fn signing_certificates(&self) -> &[Certificate] {
        &self.certs
    }
    fn requires_signed_requests(&self) -> bool {
        self.require_signed
    }
}

const SSO: &str = "https://idp.example/saml/idp/sso";

fn now() -> OffsetDateTime {
    time_fmt::parse("2026-11-21T12:00:00Z").unwrap()
}

fn policy() -> IntakePolicy<'static> {
    IntakePolicy {
        sso_url: SSO,
        now: now(),
        max_clock_skew: Duration::seconds(30),
        max_age: Duration::minutes(5),
    }
}

fn draft(id: &str) -> String {
    AuthnRequestDraft {
        id,
        issuer: "https://sp.example",
        destination: SSO,
        issue_instant: now(),
        acs_url: Some("https://sp.example/acs"),
        acs_index: None,
        force_authn: true,
        is_passive: false,
        name_id_format: Some(crate::NAMEID_PERSISTENT),
        requested_authn_context: Some(&RequestedAuthnContext {
            comparison: Comparison::Minimum,
            class_refs: vec!["http://ftn.ficora.fi/2017/loa2".into()],
        }),
    }
    .to_xml()
}

fn sp(require_signed: bool) -> Sp {
    Sp {
        certs: vec![testkeys::rsa().cert.clone()],
        require_signed,
    }
}

fn lookup<'a>(sp: &'a Sp) -> impl FnOnce(&str) -> Option<&'a Sp> + 'a {
    move |issuer| (issuer == "https://sp.example").then_some(sp)
}

#[test]
fn post_signed_request_is_read() {
    let sp = sp(true);
    let xml =
        dsig::sign_enveloped(&draft("_r1"), &testkeys::rsa().key, &testkeys::rsa().cert).unwrap();
    let (_, req) = intake(&xml, RequestBinding::Post, None, lookup(&sp), &policy()).unwrap();
    assert!(req.signed && req.force_authn && !req.is_passive);
    assert_eq!(req.id, "_r1");
    assert_eq!(req.acs_url.as_deref(), Some("https://sp.example/acs"));
    assert_eq!(
        req.name_id_format.as_deref(),
        Some(crate::NAMEID_PERSISTENT)
    );
    assert_eq!(
        req.requested_authn_context.unwrap().comparison,
        Comparison::Minimum
    );
}

#[test]
fn unsigned_request_refused_when_signing_required() {
    let sp = sp(true);
    let err = intake(
        &draft("_r2"),
        RequestBinding::Post,
        None,
        lookup(&sp),
        &policy(),
    )
    .unwrap_err();
    assert!(matches!(
        err,
        IntakeError::Untrusted(SamlError::SignatureMissing)
    ));
    let sp2 = Sp {
        require_signed: false,
        ..sp
    };
    assert!(
        !intake(
            &draft("_r2"),
            RequestBinding::Post,
            None,
            lookup(&sp2),
            &policy()
        )
        .unwrap()
        .1
        .signed
    );
}

#[test]
fn unknown_issuer_is_refused() {
    let sp = sp(false);
    let xml = draft("_r3").replace("https://sp.example<", "https://other.example<");
    assert!(matches!(
        intake(&xml, RequestBinding::Post, None, lookup(&sp), &policy()),
        Err(IntakeError::UnknownIssuer(_))
    ));
}

#[test]
fn redirect_signature_checked_over_raw_query() {
    let sp = sp(true);
    let url = encode_redirect(
        SSO,
        &draft("_r4"),
        MessageParam::SamlRequest,
        Some("a&b<c>"),
        Some(&testkeys::rsa().key),
    )
    .unwrap();
    let q = url.split_once('?').unwrap().1;
    let m = decode_redirect(q, MessageParam::SamlRequest, &BindingLimits::default()).unwrap();
    let (_, req) = intake(
        &m.xml,
        RequestBinding::Redirect,
        m.signature.as_ref(),
        lookup(&sp),
        &policy(),
    )
    .unwrap();
    assert!(req.signed);

    // RelayState changed after signing.
    let changed = q.replace("RelayState=a%26b%3Cc%3E", "RelayState=evil");
    assert_ne!(changed, q);
    let m = decode_redirect(
        &changed,
        MessageParam::SamlRequest,
        &BindingLimits::default(),
    )
    .unwrap();
    let err = intake(
        &m.xml,
        RequestBinding::Redirect,
        m.signature.as_ref(),
        lookup(&sp),
        &policy(),
    )
    .unwrap_err();
    assert!(
        matches!(err, IntakeError::Untrusted(SamlError::SignatureRejected)),
        "{err:?}"
    );

    // Signed by another key.
    let url = encode_redirect(
        SSO,
        &draft("_r5"),
        MessageParam::SamlRequest,
        None,
        Some(&testkeys::rsa_other().key),
    )
    .unwrap();
    let m = decode_redirect(
        url.split_once('?').unwrap().1,
        MessageParam::SamlRequest,
        &BindingLimits::default(),
    )
    .unwrap();
    let err = intake(
        &m.xml,
        RequestBinding::Redirect,
        m.signature.as_ref(),
        lookup(&sp),
        &policy(),
    )
    .unwrap_err();
    assert!(matches!(
        err,
        IntakeError::Untrusted(SamlError::SignatureRejected)
    ));
}

#[test]
fn redirect_with_sha1_sigalg_is_refused() {
    let sp = sp(true);
    let url = encode_redirect(
        SSO,
        &draft("_r6"),
        MessageParam::SamlRequest,
        None,
        Some(&testkeys::rsa().key),
    )
    .unwrap();
    let q = url.split_once('?').unwrap().1.replace(
        "SigAlg=http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256",
        "SigAlg=http%3A%2F%2Fwww.w3.org%2F2000%2F09%2Fxmldsig%23rsa-sha1",
    );
    let m = decode_redirect(&q, MessageParam::SamlRequest, &BindingLimits::default()).unwrap();
    let err = intake(
        &m.xml,
        RequestBinding::Redirect,
        m.signature.as_ref(),
        lookup(&sp),
        &policy(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            IntakeError::Untrusted(SamlError::AlgorithmNotAllowed(_))
        ),
        "{err:?}"
    );
}

#[test]
fn destination_and_issue_instant_are_checked() {
    let sp = sp(false);
    let xml = draft("_r7").replace(SSO, "https://idp.example/other");
    assert!(matches!(
        intake(&xml, RequestBinding::Post, None, lookup(&sp), &policy()),
        Err(IntakeError::Untrusted(
            SamlError::DestinationMismatch { .. }
        ))
    ));
    let xml = draft("_r8").replace("2026-11-21T12:00:00Z", "2026-11-21T11:50:00Z");
    assert!(matches!(
        intake(&xml, RequestBinding::Post, None, lookup(&sp), &policy()),
        Err(IntakeError::Untrusted(SamlError::StaleMessage { .. }))
    ));
    let xml = draft("_r9").replace("2026-11-21T12:00:00Z", "2026-11-21T12:05:00Z");
    assert!(intake(&xml, RequestBinding::Post, None, lookup(&sp), &policy()).is_err());
}

#[test]
fn doctype_and_wrong_root_are_refused() {
    let sp = sp(false);
    let xml = format!("<!DOCTYPE x [<!ENTITY e \"x\">]>{}", draft("_r10"));
    assert!(matches!(
        intake(&xml, RequestBinding::Post, None, lookup(&sp), &policy()),
        Err(IntakeError::Untrusted(SamlError::DtdForbidden))
    ));
    let xml = draft("_r11").replace("samlp:AuthnRequest", "samlp:LogoutRequest");
    assert!(intake(&xml, RequestBinding::Post, None, lookup(&sp), &policy()).is_err());
}

#[test]
fn request_id_must_be_an_xs_id() {
    let sp = sp(false);
    for bad in ["1abc", "_a b", "_x&#10;forged", "_a&lt;b", "-a"] {
        let xml = draft("_r12").replace("ID=\"_r12\"", &format!("ID=\"{bad}\""));
        assert!(
            matches!(
                intake(&xml, RequestBinding::Post, None, lookup(&sp), &policy()),
                Err(IntakeError::Untrusted(SamlError::Invalid(_)))
            ),
            "{bad}"
        );
    }
    for good in ["ONELOGIN_0123abc", "id-AbC123", "_4f.x-y"] {
        let xml = draft("_r13").replace("ID=\"_r13\"", &format!("ID=\"{good}\""));
        assert!(
            intake(&xml, RequestBinding::Post, None, lookup(&sp), &policy()).is_ok(),
            "{good}"
        );
    }
}
