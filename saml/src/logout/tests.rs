use super::*;
use crate::binding::{decode_redirect, encode_redirect, BindingLimits, MessageParam};
use crate::testkeys;
use certs::Certificate;
use time::Duration;

#[derive(Debug)]
struct Sp {
    certs: Vec<Certificate>,
}

impl RequesterTrust for &Sp {
    fn signing_certificates(&self) -> &[Certificate] {
        &self.certs
    }
    fn requires_signed_requests(&self) -> bool {
        false
    }
}

const SLO: &str = "https://idp.example/saml/idp/slo";
const SP: &str = "https://sp.example";

fn now() -> OffsetDateTime {
    time_fmt::parse("2026-12-08T12:00:00Z").unwrap()
}

fn policy() -> IntakePolicy<'static> {
    IntakePolicy {
        sso_url: SLO,
        now: now(),
        max_clock_skew: Duration::seconds(30),
        max_age: Duration::minutes(5),
    }
}

fn sp() -> Sp {
    Sp {
        certs: vec![testkeys::rsa().cert.clone()],
    }
}

fn lookup<'a>(sp: &'a Sp) -> impl FnOnce(&str) -> Option<&'a Sp> + 'a {
    move |issuer| (issuer == SP).then_some(sp)
}

fn request_xml(destination: &str) -> String {
    LogoutRequestDraft {
        id: "_lr1",
        issuer: SP,
        destination,
        issue_instant: now(),
        not_on_or_after: Some(now() + Duration::minutes(5)),
        name_id: "nameid-<&>",
        name_id_format: crate::NAMEID_TRANSIENT,
        name_qualifier: Some("https://idp.example/saml/idp"),
        sp_name_qualifier: Some(SP),
        session_index: Some("_s1"),
    }
    .to_xml()
}

fn response_xml(status: &str, sub: Option<&str>) -> String {
    LogoutResponseDraft {
        id: "_resp1",
        issuer: SP,
        destination: SLO,
        issue_instant: now(),
        in_response_to: "_lr9",
        status,
        sub_status: sub,
    }
    .to_xml()
}

fn signed_post(xml: &str) -> String {
    crate::dsig::sign_enveloped(xml, &testkeys::rsa().key, &testkeys::rsa().cert).unwrap()
}

#[test]
fn a_signed_request_by_post_or_redirect_is_read_with_its_escaped_name_id() {
    let sp = sp();
    let (_, r) = intake_logout_request(
        &signed_post(&request_xml(SLO)),
        RequestBinding::Post,
        None,
        lookup(&sp),
        &policy(),
    )
    .unwrap();
    assert_eq!(r.name_id, "nameid-<&>");
    assert_eq!(r.session_indexes, ["_s1"]);
    assert_eq!(r.name_id_format.as_deref(), Some(crate::NAMEID_TRANSIENT));

    let url = encode_redirect(
        SLO,
        &request_xml(SLO),
        MessageParam::SamlRequest,
        Some("rs"),
        Some(&testkeys::rsa().key),
    )
    .unwrap();
    let q = url.split_once('?').unwrap().1;
    let m = decode_redirect(q, MessageParam::SamlRequest, &BindingLimits::default()).unwrap();
    let (_, r2) = intake_logout_request(
        &m.xml,
        RequestBinding::Redirect,
        m.signature.as_ref(),
        lookup(&sp),
        &policy(),
    )
    .unwrap();
    assert_eq!(r, r2);
}

#[test]
fn unsigned_foreign_or_misdirected_requests_are_refused_each_for_its_reason() {
    let sp = sp();
    let code = |xml: &str, binding, sig: Option<&RedirectSignature>| {
        intake_logout_request(xml, binding, sig, lookup(&sp), &policy())
            .unwrap_err()
            .code()
    };
    // Unsigned, though the SP's metadata does not ask for signed requests.
    assert_eq!(
        code(&request_xml(SLO), RequestBinding::Post, None),
        "saml.signature_missing"
    );
    // Signed by a key not in the SP's metadata.
    let foreign = crate::dsig::sign_enveloped(
        &request_xml(SLO),
        &testkeys::rsa_other().key,
        &testkeys::rsa_other().cert,
    )
    .unwrap();
    assert_eq!(
        code(&foreign, RequestBinding::Post, None),
        crate::SamlError::SignatureRejected.code()
    );
    // Meant for another endpoint.
    assert_eq!(
        code(
            &signed_post(&request_xml("https://other.example/slo")),
            RequestBinding::Post,
            None
        ),
        "saml.destination"
    );
    // An unknown issuer.
    let stranger = Sp { certs: vec![] };
    let e = intake_logout_request(
        &signed_post(&request_xml(SLO)),
        RequestBinding::Post,
        None,
        |_| None::<&Sp>,
        &policy(),
    )
    .unwrap_err();
    assert_eq!(e.code(), "saml.unknown_issuer");
    drop(stranger);
    // An AuthnRequest is not a LogoutRequest.
    let authn = crate::authn_request::AuthnRequestDraft {
        id: "_a",
        issuer: SP,
        destination: SLO,
        issue_instant: now(),
        acs_url: None,
        acs_index: None,
        force_authn: false,
        is_passive: false,
        name_id_format: None,
        requested_authn_context: None,
    }
    .to_xml();
    assert_eq!(
        code(&signed_post(&authn), RequestBinding::Post, None),
        "saml.unexpected_message"
    );
    // A request whose NotOnOrAfter has passed.
    let old = LogoutRequestDraft {
        id: "_old",
        issuer: SP,
        destination: SLO,
        issue_instant: now() - Duration::minutes(4),
        not_on_or_after: Some(now() - Duration::minutes(2)),
        name_id: "n",
        name_id_format: crate::NAMEID_TRANSIENT,
        name_qualifier: None,
        sp_name_qualifier: None,
        session_index: None,
    }
    .to_xml();
    assert_eq!(
        code(&signed_post(&old), RequestBinding::Post, None),
        "saml.stale"
    );
}

#[test]
fn an_altered_signed_request_is_refused() {
    let sp = sp();
    let signed = signed_post(&request_xml(SLO));
    let altered = signed.replace("nameid-&lt;&amp;&gt;", "someone-else");
    assert_ne!(signed, altered);
    let e = intake_logout_request(&altered, RequestBinding::Post, None, lookup(&sp), &policy())
        .unwrap_err();
    assert_eq!(e.code(), "saml.digest");
}

#[test]
fn responses_carry_their_status_and_must_be_signed() {
    let sp = sp();
    let (_, ok) = intake_logout_response(
        &signed_post(&response_xml(crate::STATUS_SUCCESS, None)),
        RequestBinding::Post,
        None,
        lookup(&sp),
        &policy(),
    )
    .unwrap();
    assert!(ok.succeeded());
    assert_eq!(ok.in_response_to, "_lr9");
    let (_, partial) = intake_logout_response(
        &signed_post(&response_xml(
            crate::STATUS_SUCCESS,
            Some(STATUS_PARTIAL_LOGOUT),
        )),
        RequestBinding::Post,
        None,
        lookup(&sp),
        &policy(),
    )
    .unwrap();
    assert_eq!(partial.sub_status.as_deref(), Some(STATUS_PARTIAL_LOGOUT));
    let e = intake_logout_response(
        &response_xml(crate::STATUS_SUCCESS, None),
        RequestBinding::Post,
        None,
        lookup(&sp),
        &policy(),
    )
    .unwrap_err();
    assert_eq!(e.code(), "saml.signature_missing");
}
