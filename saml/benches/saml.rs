//! What one login costs the gateway in the SAML core: signing the assertion (RSA-2048 and P-256),
//! taking in a signed AuthnRequest (Redirect: query signature; POST: enveloped signature), and
//! exclusive c14n on its own. Keys are generated once, outside the timed loops.
//!
//! `cargo bench -p saml`; figures and the machine they came from are in docs/benchmarks.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use certs::{Certificate, KeyKind, SigningIdentity};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use saml::authn_request::{
    intake, AuthnRequestDraft, Comparison, IntakePolicy, RequestBinding, RequestedAuthnContext,
    RequesterTrust,
};
use saml::binding::{
    decode_post, decode_redirect, encode_post, encode_redirect, BindingLimits, MessageParam,
};
use saml::response::{build_success, AssertionDraft, Attribute, Signer};
use time::{Duration, OffsetDateTime};

const IDP: &str = "https://tunnistus.example.fi/idp";
const SSO: &str = "https://tunnistus.example.fi/idp/sso";
const SP: &str = "https://palvelu.example.fi/sp";
const ACS: &str = "https://palvelu.example.fi/sp/acs";

struct Requester(Vec<Certificate>);

impl RequesterTrust for &Requester {
    fn signing_certificates(&self) -> &[Certificate] {
        &self.0
    }
    fn requires_signed_requests(&self) -> bool {
        true
    }
}

fn identity(cn: &str, kind: KeyKind, now: OffsetDateTime) -> SigningIdentity {
    SigningIdentity::generate_self_signed(cn, kind, now, 365).unwrap()
}

/// The attributes a Finnish e-service typically receives for a strongly identified citizen.
fn attributes() -> Vec<Attribute> {
    let attr = |name: &str, friendly: &str, value: &str| Attribute {
        name: name.into(),
        friendly_name: Some(friendly.into()),
        values: vec![value.into()],
    };
    vec![
        attr(
            "urn:oid:1.2.246.21",
            "nationalIdentificationNumber",
            "010190-900P",
        ),
        attr("urn:oid:2.5.4.42", "givenName", "Matti Juhani"),
        attr("urn:oid:2.5.4.4", "sn", "Meikäläinen"),
        attr(
            "urn:oid:2.16.840.1.113730.3.1.241",
            "displayName",
            "Matti Meikäläinen",
        ),
        attr("urn:oid:1.3.6.1.5.5.7.9.1", "dateOfBirth", "1990-01-01"),
        attr("urn:oid:1.2.246.517.2002.2.18", "nationalityCode", "FI"),
    ]
}

fn assertion_draft<'a>(now: OffsetDateTime, attributes: &'a [Attribute]) -> AssertionDraft<'a> {
    AssertionDraft {
        response_id: "_resp-4b1f2c9e8a7d6f5e4b3c2a19",
        assertion_id: "_assn-9e8d7c6b5a4f3e2d1c0b9a87",
        idp_entity_id: IDP,
        sp_entity_id: SP,
        acs_url: ACS,
        in_response_to: Some("_req-0a1b2c3d4e5f60718293a4b5"),
        now,
        lifetime: Duration::minutes(5),
        name_id: "AAdzZWNyZXQxNGJ0XPAkpbH2Oa2WtSwd2eUV8ZeCVw==",
        name_id_format: saml::NAMEID_TRANSIENT,
        session_index: "_sess-5d4c3b2a1f0e9d8c7b6a5f4e",
        session_not_on_or_after: None,
        authn_instant: now,
        authn_context_class_ref: "http://ftn.ficora.fi/2017/loa3",
        authenticating_authority: None,
        attributes,
    }
}

fn request_xml(now: OffsetDateTime) -> String {
    let rac = RequestedAuthnContext {
        comparison: Comparison::Minimum,
        class_refs: vec!["http://ftn.ficora.fi/2017/loa2".into()],
    };
    AuthnRequestDraft {
        id: "_req-0a1b2c3d4e5f60718293a4b5",
        issuer: SP,
        destination: SSO,
        issue_instant: now,
        acs_url: Some(ACS),
        acs_index: None,
        force_authn: false,
        is_passive: false,
        name_id_format: Some(saml::NAMEID_TRANSIENT),
        requested_authn_context: Some(&rac),
    }
    .to_xml()
}

fn bench_sign(c: &mut Criterion) {
    let now = OffsetDateTime::now_utc();
    let attrs = attributes();
    let draft = assertion_draft(now, &attrs);
    for (name, kind) in [
        ("build_and_sign_assertion_rsa2048", KeyKind::Rsa2048),
        ("build_and_sign_assertion_p256", KeyKind::EcdsaP256),
    ] {
        let id = identity("idp", kind, now);
        let signer = Signer {
            key: &id.key,
            cert: &id.cert,
        };
        // One signature (the assertion's), as the gateway sends by default.
        c.bench_function(name, |b| {
            b.iter(|| build_success(black_box(&draft), signer, false).unwrap())
        });
    }
}

fn bench_intake(c: &mut Criterion) {
    let now = OffsetDateTime::now_utc();
    let sp = identity("sp", KeyKind::Rsa2048, now);
    let requester = Requester(vec![sp.cert.clone()]);
    let policy = IntakePolicy {
        sso_url: SSO,
        now,
        max_clock_skew: Duration::seconds(30),
        max_age: Duration::minutes(5),
    };
    let limits = BindingLimits::default();
    let xml = request_xml(now);

    let url = encode_redirect(
        SSO,
        &xml,
        MessageParam::SamlRequest,
        Some("c2Vzc2lvbi1yZWxheS1zdGF0ZQ"),
        Some(&sp.key),
    )
    .unwrap();
    let query = url.split_once('?').unwrap().1.to_owned();
    let redirect = |query: &str| {
        let m = decode_redirect(query, MessageParam::SamlRequest, &limits).unwrap();
        intake(
            &m.xml,
            RequestBinding::Redirect,
            m.signature.as_ref(),
            |_| Some(&requester),
            &policy,
        )
        .unwrap()
        .1
    };
    assert!(redirect(&query).signed);
    c.bench_function("verify_authn_request_redirect_signed", |b| {
        b.iter(|| redirect(black_box(&query)))
    });

    let field = encode_post(&saml::dsig::sign_enveloped(&xml, &sp.key, &sp.cert).unwrap());
    let post = |field: &str| {
        let xml = decode_post(field, &limits).unwrap();
        intake(
            &xml,
            RequestBinding::Post,
            None,
            |_| Some(&requester),
            &policy,
        )
        .unwrap()
        .1
    };
    assert!(post(&field).signed);
    c.bench_function("verify_authn_request_post_signed", |b| {
        b.iter(|| post(black_box(&field)))
    });
}

fn bench_c14n(c: &mut Criterion) {
    let now = OffsetDateTime::now_utc();
    let attrs = attributes();
    let id = identity("idp", KeyKind::EcdsaP256, now);
    let signer = Signer {
        key: &id.key,
        cert: &id.cert,
    };
    let response = build_success(&assertion_draft(now, &attrs), signer, false).unwrap();
    let doc = saml::xml::parse_strict(&response, saml::xml::ParseLimits::MESSAGE).unwrap();
    let assertion = doc
        .root_element()
        .children()
        .find(|n| saml::xml::is(*n, saml::xml::NS_SAML, "Assertion"))
        .unwrap();
    let signature = assertion
        .children()
        .find(|n| saml::xml::is(*n, saml::xml::NS_DS, "Signature"))
        .map(|n| n.id());
    // What verification digests: the assertion without its enveloped signature.
    c.bench_function("c14n_assertion", |b| {
        b.iter(|| saml::c14n::canonicalize(black_box(assertion), signature, &[]))
    });
}

/// The bare RSA-2048 operations through the certs crate, to set the figures above against
/// `openssl speed rsa2048` on the same machine.
fn bench_rsa_baseline(c: &mut Criterion) {
    let id = identity("baseline", KeyKind::Rsa2048, OffsetDateTime::now_utc());
    let msg = [0x5au8; 512];
    let sig = id.key.sign(&msg).unwrap();
    let alg = id.key.algorithm();
    c.bench_function("baseline_rsa2048_sign", |b| {
        b.iter(|| id.key.sign(black_box(&msg)).unwrap())
    });
    c.bench_function("baseline_rsa2048_verify", |b| {
        b.iter(|| {
            id.cert
                .verifying_key()
                .verify(alg, black_box(&msg), &sig)
                .unwrap()
        })
    });
}

criterion_group!(
    benches,
    bench_sign,
    bench_intake,
    bench_c14n,
    bench_rsa_baseline
);
criterion_main!(benches);
