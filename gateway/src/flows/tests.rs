//! The flows without HTTP: a fixed clock, the memory store, the test bank, and an SP that
//! checks every Response the way an SP would (signature, audience, InResponseTo).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::stores::MemoryStore;
use certs::{KeyKind, ManualClock, SystemRandomSource};
use idp_adapters::TestBank;
use metadata::{ReleasePolicy, SpRegistry};
use saml::authn_request::{AuthnRequestDraft, Comparison, RequestedAuthnContext};
use std::sync::OnceLock;
use time::macros::datetime;
use time::OffsetDateTime;

const BASE: &str = "https://idp.test";
const SP: &str = "https://sp.test/sp";
const ACS: &str = "https://sp.test/acs";
const PERSON: &str = "150375-913W";
const NOW: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);

fn idp_identity() -> &'static SigningIdentity {
    static KEY: OnceLock<SigningIdentity> = OnceLock::new();
    KEY.get_or_init(|| {
        SigningIdentity::generate_self_signed("flows test IdP", KeyKind::Rsa2048, NOW, 30).unwrap()
    })
}

fn sp_metadata() -> String {
    format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{SP}">
<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" AuthnRequestsSigned="false">
<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{ACS}" index="0" isDefault="true"/>
</md:SPSSODescriptor></md:EntityDescriptor>"#
    )
}

struct World {
    idp: Idp,
    clock: Arc<ManualClock>,
}

fn world() -> World {
    let clock = Arc::new(ManualClock::new(NOW));
    let sps: Vec<_> =
        metadata::parse_sp_metadata(&sp_metadata(), "test", &ReleasePolicy::all(), NOW)
            .unwrap()
            .into_iter()
            .map(|sp| ("test".to_owned(), sp))
            .collect();
    let idp = Idp {
        base_url: BASE.into(),
        entity_id: format!("{BASE}/saml/idp"),
        sso_url: format!("{BASE}/saml/idp/sso"),
        keys: IdpKeys {
            rsa: KeySet::new(idp_identity().clone()),
            ec: None,
        },
        registry: SpRegistryHandle::new(SpRegistry::new(sps).unwrap()),
        store: Arc::new(MemoryStore::new(1000, clock.clone())),
        layout: crate::stores::KeyLayout::new("test:"),
        adapters: vec![Arc::new(TestBank::new())],
        clock: clock.clone(),
        rng: Arc::new(SystemRandomSource),
        pairwise_key: aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &[7; 32]),
        settings: Settings {
            clock_skew: Duration::seconds(60),
            max_request_age: Duration::seconds(300),
            assertion_lifetime: Duration::seconds(300),
            sso_session_ttl: Duration::hours(8),
            flow_ttl: Duration::minutes(15),
            require_signed_requests: false,
            organization_name: "test".into(),
            metadata_validity: Duration::days(7),
        },
    };
    World { idp, clock }
}

#[derive(Default)]
struct Req {
    force: bool,
    passive: bool,
    loa3: bool,
}

impl World {
    /// An AuthnRequest by HTTP-Redirect, as the query string the SSO endpoint receives.
    fn request(&self, id: &str, r: Req) -> String {
        let rac = r.loa3.then(|| RequestedAuthnContext {
            comparison: Comparison::Minimum,
            class_refs: vec!["http://ftn.ficora.fi/2017/loa3".into()],
        });
        let xml = AuthnRequestDraft {
            id,
            issuer: SP,
            destination: &self.idp.sso_url,
            issue_instant: self.clock.now(),
            acs_url: Some(ACS),
            acs_index: None,
            force_authn: r.force,
            is_passive: r.passive,
            name_id_format: None,
            requested_authn_context: rac.as_ref(),
        }
        .to_xml();
        let url = saml::binding::encode_redirect(
            &self.idp.sso_url,
            &xml,
            saml::binding::MessageParam::SamlRequest,
            Some("relay-1"),
            None,
        )
        .unwrap();
        url.split_once('?').unwrap().1.to_owned()
    }

    async fn send(&self, browser: &Browser, id: &str, r: Req) -> Result<Answer, FlowError> {
        let q = self.request(id, r);
        receive_authn_request(
            &self.idp,
            browser,
            IncomingRequest::Redirect { raw_query: &q },
            Language::Fi,
        )
        .await
    }

    /// A fresh browser sends request `id`: the flow it was sent to choose a method in, and the
    /// browser as it is after the answer (with the binding cookie it was given).
    async fn start_flow(&self, id: &str) -> (String, Browser) {
        let answer = self
            .send(&Browser::default(), id, Req::default())
            .await
            .unwrap();
        let browser = Browser {
            binding: Some(
                answer
                    .set_binding
                    .clone()
                    .expect("a browser binding is issued"),
            ),
            session: None,
        };
        (flow_of(&answer), browser)
    }

    /// Validate a Response as the SP does; `Ok` only for a signed success with an assertion.
    fn sp_checks(
        &self,
        post: &Autopost,
        request_id: &str,
    ) -> Result<saml::sp::ValidatedAssertion, saml::SamlError> {
        assert_eq!(post.acs_url, ACS);
        assert_eq!(post.relay_state.as_deref(), Some("relay-1"));
        let xml = saml::binding::decode_post(&post.value, &Default::default()).unwrap();
        saml::sp::validate_response(
            &xml,
            &saml::sp::ResponseExpectations {
                sp_entity_id: SP,
                acs_url: ACS,
                idp_entity_id: &self.idp.entity_id,
                idp_certificates: std::slice::from_ref(&idp_identity().cert),
                in_response_to: Some(request_id),
                now: self.clock.now(),
                clock_skew: Duration::seconds(60),
                decryption_key: None,
            },
        )
    }

    /// From the selection on: pick the test bank and submit `PERSON`.
    async fn log_in(&self, browser: &Browser, flow_id: &str) -> Answer {
        let mut lang = LanguageChoice::new(None, None);
        let started = start_method(&self.idp, browser, Some(flow_id), "testbank", &mut lang)
            .await
            .unwrap();
        assert!(matches!(started.step, Step::TestBank { error: None, .. }));
        let fields = vec![
            ("flow".to_owned(), flow_id.to_owned()),
            ("national_id".to_owned(), PERSON.to_owned()),
            ("loa".to_owned(), "loa3".to_owned()),
        ];
        finish_test_bank(&self.idp, browser, fields, &mut lang)
            .await
            .unwrap()
    }
}

fn flow_of(answer: &Answer) -> String {
    match &answer.step {
        Step::Redirect(to) => to
            .strip_prefix("/login?flow=")
            .unwrap_or_else(|| panic!("not the selection: {to}"))
            .to_owned(),
        other => panic!("expected the selection, got {other:?}"),
    }
}

fn autopost(answer: &Answer) -> &Autopost {
    match &answer.step {
        Step::Autopost(p) => p,
        other => panic!("expected an autopost, got {other:?}"),
    }
}

fn status_of(result: Result<saml::sp::ValidatedAssertion, saml::SamlError>) -> Option<String> {
    match result {
        Err(saml::SamlError::Status { sub, .. }) => sub,
        other => panic!("expected a status Response, got {other:?}"),
    }
}

#[tokio::test]
async fn intake_to_method_to_finish_to_response_then_sso() {
    let w = world();
    let fresh = Browser::default();
    let answer = w.send(&fresh, "_r1", Req::default()).await.unwrap();
    let flow_id = flow_of(&answer);
    let binding = answer
        .set_binding
        .clone()
        .expect("a browser binding is issued");
    assert!(answer.set_session.is_none());
    let browser = Browser {
        binding: Some(binding),
        session: None,
    };

    let mut lang = LanguageChoice::new(None, Some(Language::Sv));
    let view = method_selection(&w.idp, &browser, Some(&flow_id), None, &mut lang)
        .await
        .unwrap();
    assert_eq!(view.methods.len(), 1);
    assert_eq!(view.methods[0].id, "testbank");
    assert_eq!(
        view.lang,
        Language::Fi,
        "the flow's language wins over Accept-Language"
    );

    let done = w.log_in(&browser, &flow_id).await;
    let (sid, ttl) = done.set_session.clone().expect("a session cookie");
    assert_eq!(ttl, 8 * 3600);
    let a = w.sp_checks(autopost(&done), "_r1").unwrap();
    let national_id = a
        .attributes
        .iter()
        .find(|(n, _)| n == "urn:oid:1.2.246.21")
        .map(|(_, v)| v[0].clone());
    assert_eq!(national_id.as_deref(), Some(PERSON));
    assert_eq!(
        a.authenticating_authorities,
        vec!["urn:gateway:testbank".to_owned()]
    );
    // The flow was consumed: the same finish again finds nothing.
    let mut lang = LanguageChoice::new(None, None);
    let again = vec![
        ("flow".to_owned(), flow_id.clone()),
        ("national_id".to_owned(), PERSON.to_owned()),
    ];
    assert!(matches!(
        finish_test_bank(&w.idp, &browser, again, &mut lang).await,
        Err(FlowError::FlowNotFound)
    ));

    // Single sign-on: the next request with the session cookie is answered at once.
    w.clock.advance(Duration::minutes(10));
    let with_session = Browser {
        session: Some(sid.clone()),
        ..browser.clone()
    };
    let hit = w.send(&with_session, "_r2", Req::default()).await.unwrap();
    assert!(hit.set_session.is_none(), "no new session on an SSO hit");
    let a2 = w.sp_checks(autopost(&hit), "_r2").unwrap();
    assert_eq!(a2.session_index, a.session_index);

    // After the session's lifetime it is gone: a new flow starts.
    w.clock.advance(Duration::hours(8));
    let late = w.send(&with_session, "_r3", Req::default()).await.unwrap();
    flow_of(&late);
}

#[tokio::test]
async fn force_authn_ignores_the_session_and_is_passive_never_shows_a_page() {
    let w = world();
    let (browser, sid) = logged_in(&w).await;
    let with_session = Browser {
        session: Some(sid),
        ..browser.clone()
    };
    let forced = w
        .send(
            &with_session,
            "_f1",
            Req {
                force: true,
                ..Req::default()
            },
        )
        .await
        .unwrap();
    flow_of(&forced);

    // IsPassive with a session: answered from it.
    let passive = Req {
        passive: true,
        ..Req::default()
    };
    let ok = w.send(&with_session, "_p1", passive).await.unwrap();
    w.sp_checks(autopost(&ok), "_p1").unwrap();
    // IsPassive without one: NoPassive, and no flow or page.
    let passive = Req {
        passive: true,
        ..Req::default()
    };
    let no = w.send(&browser, "_p2", passive).await.unwrap();
    assert!(no.set_binding.is_none() && no.set_session.is_none());
    assert_eq!(
        status_of(w.sp_checks(autopost(&no), "_p2")).as_deref(),
        Some(saml::STATUS_NO_PASSIVE)
    );
}

#[tokio::test]
async fn a_session_below_the_requested_level_is_not_used() {
    let w = world();
    // Log in at loa2 ...
    let (flow_id, browser) = w.start_flow("_l1").await;
    let mut lang = LanguageChoice::new(None, None);
    let fields = vec![
        ("flow".to_owned(), flow_id.clone()),
        ("national_id".to_owned(), PERSON.to_owned()),
        ("loa".to_owned(), "loa2".to_owned()),
    ];
    let done = finish_test_bank(&w.idp, &browser, fields, &mut lang)
        .await
        .unwrap();
    let with_session = Browser {
        session: done.set_session.map(|(s, _)| s),
        ..browser
    };
    // ... then a request for loa3 starts a new login instead of using the session.
    let loa3 = Req {
        loa3: true,
        ..Req::default()
    };
    let again = w.send(&with_session, "_l2", loa3).await.unwrap();
    flow_of(&again);
}

#[tokio::test]
async fn a_request_id_is_answered_once() {
    let w = world();
    let browser = Browser::default();
    let q = w.request("_replayed", Req::default());
    let first = receive_authn_request(
        &w.idp,
        &browser,
        IncomingRequest::Redirect { raw_query: &q },
        Language::Fi,
    )
    .await
    .unwrap();
    flow_of(&first);
    let second = receive_authn_request(
        &w.idp,
        &browser,
        IncomingRequest::Redirect { raw_query: &q },
        Language::Fi,
    )
    .await;
    assert!(matches!(second, Err(FlowError::Replay)), "{second:?}");
    // Control: another ID from the same SP is accepted.
    flow_of(&w.send(&browser, "_other", Req::default()).await.unwrap());
}

#[tokio::test]
async fn a_flow_belongs_to_the_browser_that_started_it() {
    let w = world();
    let (flow_id, owner) = w.start_flow("_b1").await;
    let (_, other) = w.start_flow("_b2").await;
    assert_ne!(owner.binding, other.binding);
    let no_cookie = Browser::default();

    let mut lang = LanguageChoice::new(None, None);
    for intruder in [&other, &no_cookie] {
        let seen = method_selection(&w.idp, intruder, Some(&flow_id), None, &mut lang).await;
        assert!(matches!(seen, Err(FlowError::BrowserMismatch)), "{seen:?}");
        let fields = vec![
            ("flow".to_owned(), flow_id.clone()),
            ("national_id".to_owned(), PERSON.to_owned()),
        ];
        let finished = finish_test_bank(&w.idp, intruder, fields, &mut lang).await;
        assert!(
            matches!(finished, Err(FlowError::BrowserMismatch)),
            "{finished:?}"
        );
        let cancelled = cancel(&w.idp, intruder, &[("flow".to_owned(), flow_id.clone())]).await;
        assert!(
            matches!(cancelled, Err(FlowError::BrowserMismatch)),
            "{cancelled:?}"
        );
    }
    // The other browsers' attempts did not destroy the owner's flow.
    let done = w.log_in(&owner, &flow_id).await;
    w.sp_checks(autopost(&done), "_b1").unwrap();
}

#[tokio::test]
async fn a_flow_expires_with_the_clock() {
    let w = world();
    let (flow_id, browser) = w.start_flow("_e1").await;
    let mut lang = LanguageChoice::new(None, None);
    w.clock.advance(Duration::minutes(14));
    method_selection(&w.idp, &browser, Some(&flow_id), None, &mut lang)
        .await
        .unwrap();
    w.clock.advance(Duration::minutes(1));
    let gone = method_selection(&w.idp, &browser, Some(&flow_id), None, &mut lang).await;
    assert!(matches!(gone, Err(FlowError::FlowNotFound)), "{gone:?}");
}

#[tokio::test]
async fn cancel_answers_authn_failed_and_ends_the_flow() {
    let w = world();
    let (flow_id, browser) = w.start_flow("_c1").await;
    let fields = [("flow".to_owned(), flow_id.clone())];
    let cancelled = cancel(&w.idp, &browser, &fields).await.unwrap();
    assert_eq!(
        status_of(w.sp_checks(autopost(&cancelled), "_c1")).as_deref(),
        Some(saml::STATUS_AUTHN_FAILED)
    );
    let again = cancel(&w.idp, &browser, &fields).await;
    assert!(matches!(again, Err(FlowError::FlowNotFound)), "{again:?}");
}

#[tokio::test]
async fn a_callback_without_a_live_state_fails_at_that_upstream() {
    let w = world();
    let (browser, _) = logged_in(&w).await;
    let mut lang = LanguageChoice::new(None, None);
    let missing = upstream_callback(
        &w.idp,
        &browser,
        CallbackQuery {
            method: "bank:x".into(),
            fields: vec![("code".into(), "c".into())],
        },
        &mut lang,
    )
    .await;
    assert!(
        matches!(
            &missing,
            Err(FlowError::Upstream { method, failure: UpstreamFailure::StateMissing }) if method == "bank:x"
        ),
        "{missing:?}"
    );
    let unknown = upstream_callback(
        &w.idp,
        &browser,
        CallbackQuery {
            method: "bank:x".into(),
            fields: vec![("state".into(), "nope".into())],
        },
        &mut lang,
    )
    .await;
    assert!(
        matches!(unknown, Err(FlowError::FlowNotFound)),
        "{unknown:?}"
    );
}

/// A browser that has logged in once, and its session ID.
async fn logged_in(w: &World) -> (Browser, String) {
    let (flow_id, browser) = w.start_flow("_login").await;
    let done = w.log_in(&browser, &flow_id).await;
    w.sp_checks(autopost(&done), "_login").unwrap();
    (browser, done.set_session.unwrap().0)
}

#[test]
fn the_authenticating_authority_is_always_a_uri() {
    use super::response::authenticating_authority as authority;
    assert_eq!(
        authority("https://isb.op.fi", "bank:op"),
        "https://isb.op.fi"
    );
    assert_eq!(
        authority("urn:gateway:testbank", "testbank"),
        "urn:gateway:testbank"
    );
    assert_eq!(
        authority("CN=Test Citizen CA,O=Example,C=FI", "idcard"),
        "urn:gateway:method:idcard"
    );
    assert_eq!(authority("not a uri", "x"), "urn:gateway:method:x");
}

#[test]
fn bounded_cuts_long_attacker_text_on_a_character_boundary() {
    assert_eq!(bounded("short"), "short");
    let long = "ä".repeat(100);
    let cut = bounded(&long);
    assert!(cut.len() < 140, "{cut}");
    assert!(cut.ends_with("...(200 bytes)"), "{cut}");
}
