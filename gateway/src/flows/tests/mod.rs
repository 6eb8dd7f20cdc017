//! The flows without HTTP: a fixed clock, the memory store, the test bank, and an SP that
//! checks every Response the way an SP would (signature, audience, InResponseTo).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::stores::{MemoryMarkers, MemoryStore, StoreError};
use certs::{KeyKind, ManualClock, SystemRandomSource};
use idp_adapters::TestBank;
use metadata::{ReleasePolicy, SpRegistry};
use saml::authn_request::{AuthnRequestDraft, Comparison, RequestedAuthnContext};
use std::sync::OnceLock;

mod sealed_flows;
mod sso_sessions;
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
    sessions: Arc<MemoryStore>,
    replay: Arc<MemoryMarkers>,
    single_use: Arc<MemoryMarkers>,
}

impl World {
    /// Live entries: (sessions, replay entries, single-use markers).
    fn sizes(&self) -> (usize, usize, usize) {
        (
            self.sessions.len(),
            self.replay.len(),
            self.single_use.len(),
        )
    }
}

/// Per-kind capacities of a test world's stores.
#[derive(Clone, Copy)]
struct Capacity {
    sessions: usize,
    replay: usize,
    single_use: usize,
}

const ROOMY: Capacity = Capacity {
    sessions: 1000,
    replay: 1000,
    single_use: 1000,
};

/// A seal key ring whose keys derive from their names (so two worlds share a key by name).
fn ring(current: &str, names: &[&str]) -> SealKeyRing {
    SealKeyRing::new(current, names.iter().map(|n| (*n, sha256(&[n.as_bytes()])))).unwrap()
}

fn world() -> World {
    world_with(ROOMY, ring("k1", &["k1"]), Arc::new(ManualClock::new(NOW)))
}

fn world_with(cap: Capacity, seal: SealKeyRing, clock: Arc<ManualClock>) -> World {
    let sessions = Arc::new(MemoryStore::new(cap.sessions, clock.clone()));
    let markers = |kind, n| {
        Arc::new(MemoryMarkers::new(kind, n, clock.clone(), &SystemRandomSource).unwrap())
    };
    let (replay, single_use) = (
        markers("replay", cap.replay),
        markers("single_use", cap.single_use),
    );
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
        slo_url: format!("{BASE}/saml/idp/slo"),
        keys: IdpKeys {
            rsa: KeySet::new(idp_identity().clone()),
            ec: None,
        },
        registry: SpRegistryHandle::new(SpRegistry::new(sps).unwrap()),
        store: sessions.clone(),
        replay: replay.clone(),
        single_use: single_use.clone(),
        seal,
        layout: crate::stores::KeyLayout::new("test:"),
        adapters: vec![Arc::new(TestBank::new()), Arc::new(StubBank::new())],
        clock: clock.clone(),
        rng: Arc::new(SystemRandomSource),
        pairwise_key: aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &[7; 32]),
        oidc: None,
        settings: Settings {
            clock_skew: Duration::seconds(60),
            max_request_age: Duration::seconds(300),
            assertion_lifetime: Duration::seconds(300),
            sso_session_ttl: Duration::hours(8),
            sso_idle_ttl: Duration::hours(1),
            flow_ttl: Duration::minutes(15),
            require_signed_requests: false,
            organization_name: "test".into(),
            metadata_validity: Duration::days(7),
        },
    };
    World {
        idp,
        clock,
        sessions,
        replay,
        single_use,
    }
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
    /// browser as it is after the answer (holding the sealed flow it was given).
    async fn start_flow(&self, id: &str) -> (String, Browser) {
        let answer = self
            .send(&Browser::default(), id, Req::default())
            .await
            .unwrap();
        let flow = answer
            .set_flow
            .as_ref()
            .expect("the flow is sealed into a cookie");
        assert_eq!(flow.flow_id, flow_of(&answer));
        (flow_of(&answer), after(&Browser::default(), &answer))
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

/// The browser after it has applied an answer's cookies.
fn after(browser: &Browser, answer: &Answer) -> Browser {
    let mut b = browser.clone();
    b.flows.retain(|(id, _)| !answer.clear_flows.contains(id));
    if let Some(f) = &answer.set_flow {
        b.flows.retain(|(id, _)| id != &f.flow_id);
        b.flows.push((f.flow_id.clone(), f.value.clone()));
    }
    if let Some((sid, _)) = &answer.set_session {
        b.session = Some(sid.clone());
    }
    b
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
    assert!(answer.set_session.is_none());
    let browser = after(&fresh, &answer);
    assert_eq!(browser.flows.len(), 1);
    // Nothing is kept on the server for a request not yet authenticated.
    assert_eq!(w.sizes(), (0, 0, 0));

    let mut lang = LanguageChoice::new(None, Some(Language::Sv));
    let view = method_selection(&w.idp, &browser, Some(&flow_id), None, &mut lang)
        .await
        .unwrap();
    let ids: Vec<_> = view.methods.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["testbank", STUB_BANK]);
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
    assert_eq!(
        done.clear_flows,
        vec![flow_id.clone()],
        "the browser drops the flow"
    );
    assert_eq!(w.sizes(), (1, 1, 0), "one session, one replay entry");
    // The same finish again (a browser that kept the cookie): the request was answered.
    let mut lang = LanguageChoice::new(None, None);
    let again = vec![
        ("flow".to_owned(), flow_id.clone()),
        ("national_id".to_owned(), PERSON.to_owned()),
    ];
    let again = finish_test_bank(&w.idp, &browser, again, &mut lang).await;
    assert!(
        matches!(
            again.as_ref().map_err(FlowError::cause),
            Err(FlowError::Replay)
        ),
        "{again:?}"
    );
    // A browser that applied the answer holds no flow any more.
    let mut lang = LanguageChoice::new(None, None);
    let gone = method_selection(
        &w.idp,
        &after(&browser, &done),
        Some(&flow_id),
        None,
        &mut lang,
    )
    .await;
    assert!(matches!(gone, Err(FlowError::FlowNotFound)), "{gone:?}");

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
    assert!(no.set_flow.is_none() && no.set_session.is_none());
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
async fn a_request_id_is_answered_with_one_assertion() {
    let w = world();
    // The same request twice before any answer: two flows (nothing was recorded at intake) ...
    let q = w.request("_replayed", Req::default());
    let mut flows = Vec::new();
    for _ in 0..2 {
        let answer = receive_authn_request(
            &w.idp,
            &Browser::default(),
            IncomingRequest::Redirect { raw_query: &q },
            Language::Fi,
        )
        .await
        .unwrap();
        flows.push((flow_of(&answer), after(&Browser::default(), &answer)));
    }
    // ... of which only the first to finish gets an assertion.
    let done = w.log_in(&flows[0].1, &flows[0].0).await;
    w.sp_checks(autopost(&done), "_replayed").unwrap();
    // Once answered, the request is refused at intake.
    let third = receive_authn_request(
        &w.idp,
        &Browser::default(),
        IncomingRequest::Redirect { raw_query: &q },
        Language::Fi,
    )
    .await;
    assert!(
        matches!(
            third.as_ref().map_err(FlowError::cause),
            Err(FlowError::Replay)
        ),
        "{third:?}"
    );
    // The other flow is refused even in the last second of its life: the replay entry outlives
    // every flow of the request.
    w.clock
        .advance(Duration::minutes(15) - Duration::seconds(1));
    let mut lang = LanguageChoice::new(None, None);
    let fields = vec![
        ("flow".to_owned(), flows[1].0.clone()),
        ("national_id".to_owned(), PERSON.to_owned()),
    ];
    let second = finish_test_bank(&w.idp, &flows[1].1, fields, &mut lang).await;
    assert!(
        matches!(
            second.as_ref().map_err(FlowError::cause),
            Err(FlowError::Replay)
        ),
        "{second:?}"
    );
    // Control: another ID from the same SP is accepted.
    flow_of(
        &w.send(&Browser::default(), "_other", Req::default())
            .await
            .unwrap(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_form_sent_twenty_times_at_once_gives_one_assertion() {
    let w = Arc::new(world());
    let (flow_id, browser) = w.start_flow("_twenty").await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (w, browser, flow_id) = (w.clone(), browser.clone(), flow_id.clone());
        tasks.push(tokio::spawn(async move {
            let mut lang = LanguageChoice::new(None, None);
            let fields = vec![
                ("flow".to_owned(), flow_id),
                ("national_id".to_owned(), PERSON.to_owned()),
            ];
            finish_test_bank(&w.idp, &browser, fields, &mut lang).await
        }));
    }
    let (mut assertions, mut replays) = (0, 0);
    for t in tasks {
        match t.await.unwrap().as_ref().map_err(FlowError::cause) {
            Ok(answer) => {
                w.sp_checks(autopost(answer), "_twenty").unwrap();
                assertions += 1;
            }
            Err(FlowError::Replay) => replays += 1,
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!((assertions, replays), (1, 19));
    assert_eq!(w.sizes(), (1, 1, 0), "one session, not twenty");
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
    assert_eq!(cancelled.clear_flows, vec![flow_id.clone()]);
    let again = cancel(&w.idp, &after(&browser, &cancelled), &fields).await;
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
    assert_eq!(
        w.single_use.len(),
        0,
        "nothing recorded for a state that matched no flow"
    );
}

const STUB_BANK: &str = "bank:stub";

/// An upstream for these tests: `start` sends the citizen away with a fresh state; `finish`
/// checks the state against the sealed pending value and, for `code=ok`, lets the test bank
/// verify the test person.
struct StubBank {
    inner: TestBank,
}

impl StubBank {
    fn new() -> Self {
        StubBank {
            inner: TestBank::new(),
        }
    }
}

impl idp_adapters::AuthAdapter for StubBank {
    fn id(&self) -> &str {
        STUB_BANK
    }
    fn display_name(&self, _: Language) -> String {
        "Stub bank".into()
    }
    fn is_test_method(&self) -> bool {
        true
    }
    fn max_loa(&self) -> idp_adapters::LevelOfAssurance {
        idp_adapters::LevelOfAssurance::FtnHigh
    }
    fn start(
        &self,
        _: &idp_adapters::StartContext<'_>,
    ) -> Result<idp_adapters::StartAction, idp_adapters::AdapterError> {
        let state = certs::random_token(&SystemRandomSource).unwrap();
        Ok(idp_adapters::StartAction::RedirectUpstream {
            url: format!("https://bank.test/auth?state={state}"),
            pending: idp_adapters::UpstreamPending(serde_json::json!({ "state": state })),
            state,
        })
    }
    fn finish<'a>(
        &'a self,
        ctx: &'a idp_adapters::FinishContext<'a>,
        input: &'a idp_adapters::CallbackInput,
    ) -> idp_adapters::AdapterFuture<
        'a,
        Result<idp_adapters::VerifiedIdentity, idp_adapters::AdapterError>,
    > {
        Box::pin(async move {
            let expected = ctx.pending.and_then(|p| p.0["state"].as_str());
            if input.single("state").ok().flatten() != expected || expected.is_none() {
                return Err(idp_adapters::AdapterError::FlowMismatch);
            }
            if input.single("code").ok().flatten() != Some("ok") {
                return Err(idp_adapters::AdapterError::Cancelled);
            }
            let fields = idp_adapters::CallbackInput::new(vec![
                ("flow".to_owned(), ctx.flow_id.to_owned()),
                ("national_id".to_owned(), PERSON.to_owned()),
                ("loa".to_owned(), "loa3".to_owned()),
            ]);
            let test_ctx = idp_adapters::FinishContext {
                pending: None,
                ..*ctx
            };
            self.inner.finish(&test_ctx, &fields).await
        })
    }
}

impl World {
    /// Pick the stub bank for the flow: the state it was sent with, and the browser holding the
    /// flow resealed with that attempt.
    async fn to_stub_bank(&self, browser: &Browser, flow_id: &str) -> (String, Browser) {
        let mut lang = LanguageChoice::new(None, None);
        let to_bank = start_method(&self.idp, browser, Some(flow_id), STUB_BANK, &mut lang)
            .await
            .unwrap();
        (stub_state(&to_bank), after(browser, &to_bank))
    }
}

fn stub_state(answer: &Answer) -> String {
    match &answer.step {
        Step::Redirect(url) => url
            .split_once("state=")
            .map(|(_, s)| s.to_owned())
            .unwrap_or_else(|| panic!("no state in {url}")),
        other => panic!("expected a redirect upstream, got {other:?}"),
    }
}

fn stub_callback(state: &str, code: &str) -> CallbackQuery {
    CallbackQuery {
        method: STUB_BANK.into(),
        fields: vec![("state".into(), state.into()), ("code".into(), code.into())],
    }
}

fn with_session((browser, sid): (Browser, String)) -> Browser {
    Browser {
        session: Some(sid),
        ..browser
    }
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
