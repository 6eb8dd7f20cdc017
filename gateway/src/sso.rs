//! The SSO endpoint and the answers it gives: intake of an AuthnRequest, single sign-on from an
//! existing session, the login flow record, and the signed Response auto-posted to the ACS.

use crate::error::GatewayError;
use crate::http::{self, cookie, set_cookie, BROWSER_COOKIE, SSO_COOKIE};
use crate::state::Gateway;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use idp_adapters::{Language, LevelOfAssurance, VerifiedIdentity};
use metadata::{AttributeId, ServiceProvider};
use saml::authn_request::{
    self, AuthnRequest, Comparison, IntakePolicy, RequestBinding, RequesterTrust,
};
use saml::binding::{self, BindingLimits, MessageParam};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use time::OffsetDateTime;

/// A request the gateway has accepted and will answer at `acs_url`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PendingRequest {
    pub sp_entity_id: String,
    pub request_id: String,
    pub acs_url: String,
    pub relay_state: Option<String>,
    pub requirement: LoaRequirement,
    pub persistent_name_id: bool,
    pub language: String,
}

impl PendingRequest {
    pub fn lang(&self) -> Language {
        Language::parse(&self.language).unwrap_or(Language::Fi)
    }
}

/// A login in progress, bound to the browser that started it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FlowRecord {
    pub request: PendingRequest,
    pub browser: String,
    /// Set when the citizen went to an upstream (a bank): which method, and its secrets.
    #[serde(default)]
    pub upstream: Option<UpstreamFlow>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UpstreamFlow {
    pub method: String,
    pub pending: idp_adapters::UpstreamPending,
    /// SHA-256 of the `state` this attempt was sent upstream with: only the latest attempt's
    /// state finds the flow (an earlier state, perhaps sent to another upstream, does not).
    #[serde(default)]
    pub state_hash: String,
}

/// What the citizen's single sign-on session remembers.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SsoSession {
    pub identity: VerifiedIdentity,
    pub session_index: String,
    pub expires_at: i64,
    pub service_providers: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LoaFamily {
    Ftn,
    Eidas,
}

/// The level of assurance a request demands, from its RequestedAuthnContext.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoaRequirement {
    pub min_rank: u8,
    pub max_rank: u8,
    pub family: Option<LoaFamily>,
}

impl LoaRequirement {
    pub const ANY: LoaRequirement = LoaRequirement {
        min_rank: 0,
        max_rank: u8::MAX,
        family: None,
    };

    pub fn satisfied_by(&self, loa: LevelOfAssurance) -> bool {
        (self.min_rank..=self.max_rank).contains(&loa.rank())
    }

    /// The lowest concrete level meeting the requirement, for adapters that ask.
    pub fn as_level(&self) -> Option<LevelOfAssurance> {
        if self.min_rank == 0 {
            return None;
        }
        let eidas = self.family == Some(LoaFamily::Eidas);
        Some(match (self.min_rank >= 3, eidas) {
            (false, false) => LevelOfAssurance::FtnSubstantial,
            (true, false) => LevelOfAssurance::FtnHigh,
            (false, true) => LevelOfAssurance::EidasSubstantial,
            (true, true) => LevelOfAssurance::EidasHigh,
        })
    }

    /// The AuthnContextClassRef to state for `loa`, in the family the SP asked in.
    pub fn class_ref(&self, loa: LevelOfAssurance) -> &'static str {
        let high = loa.rank() >= 3;
        match (self.family, high) {
            (Some(LoaFamily::Eidas), false) => LevelOfAssurance::EidasSubstantial.uri(),
            (Some(LoaFamily::Eidas), true) => LevelOfAssurance::EidasHigh.uri(),
            (Some(LoaFamily::Ftn), false) => LevelOfAssurance::FtnSubstantial.uri(),
            (Some(LoaFamily::Ftn), true) => LevelOfAssurance::FtnHigh.uri(),
            (None, _) => loa.uri(),
        }
    }
}

/// Map a RequestedAuthnContext to a requirement; `None` when nothing in it is a level we know
/// or it cannot be met (answered with NoAuthnContext).
pub fn requirement_of(req: &AuthnRequest) -> Option<LoaRequirement> {
    let Some(rac) = &req.requested_authn_context else {
        return Some(LoaRequirement::ANY);
    };
    let known: Vec<LevelOfAssurance> = rac
        .class_refs
        .iter()
        .filter_map(|c| LevelOfAssurance::from_uri(c))
        .collect();
    let min = known.iter().map(|l| l.rank()).min()?;
    let max = known.iter().map(|l| l.rank()).max()?;
    let family = if known.iter().all(|l| {
        matches!(
            l,
            LevelOfAssurance::EidasSubstantial | LevelOfAssurance::EidasHigh
        )
    }) {
        Some(LoaFamily::Eidas)
    } else if known.iter().all(|l| {
        matches!(
            l,
            LevelOfAssurance::FtnSubstantial | LevelOfAssurance::FtnHigh
        )
    }) {
        Some(LoaFamily::Ftn)
    } else {
        None
    };
    let (min_rank, max_rank) = match rac.comparison {
        Comparison::Exact => (min, max),
        Comparison::Minimum => (min, u8::MAX),
        Comparison::Better => (min + 1, u8::MAX),
        Comparison::Maximum => (0, max),
    };
    (min_rank <= 3).then_some(LoaRequirement {
        min_rank,
        max_rank,
        family,
    })
}

struct SpTrust {
    sp: Arc<ServiceProvider>,
    require_all: bool,
}

impl RequesterTrust for SpTrust {
    fn signing_certificates(&self) -> &[certs::Certificate] {
        &self.sp.signing_certificates
    }
    fn requires_signed_requests(&self) -> bool {
        self.require_all || self.sp.authn_requests_signed
    }
}

pub async fn sso_redirect(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let lang = http::language(&headers, None, None);
    let result = async {
        let msg = binding::decode_redirect(
            q.as_deref().unwrap_or(""),
            MessageParam::SamlRequest,
            &BindingLimits::default(),
        )
        .map_err(GatewayError::Binding)?;
        take_request(
            &gw,
            &headers,
            &msg.xml,
            RequestBinding::Redirect,
            msg.signature.as_ref(),
            msg.relay_state,
            lang,
        )
        .await
    }
    .await;
    result.unwrap_or_else(|e| e.into_page(lang, gw.rng.as_ref()))
}

pub async fn sso_post(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let lang = http::language(&headers, None, None);
    let result = async {
        let fields = http::form_body(body)?;
        let encoded =
            http::single(&fields, "SAMLRequest")?.ok_or(GatewayError::BadForm("SAMLRequest"))?;
        let relay_state = http::single(&fields, "RelayState")?.map(str::to_owned);
        let limits = BindingLimits::default();
        if relay_state
            .as_ref()
            .is_some_and(|r| r.len() > limits.max_relay_state)
        {
            return Err(GatewayError::Binding(saml::SamlError::TooLarge {
                what: "RelayState",
                limit: limits.max_relay_state,
            }));
        }
        let xml = binding::decode_post(encoded, &limits).map_err(GatewayError::Binding)?;
        take_request(
            &gw,
            &headers,
            &xml,
            RequestBinding::Post,
            None,
            relay_state,
            lang,
        )
        .await
    }
    .await;
    result.unwrap_or_else(|e| e.into_page(lang, gw.rng.as_ref()))
}

async fn take_request(
    gw: &Arc<Gateway>,
    headers: &HeaderMap,
    xml: &str,
    binding: RequestBinding,
    redirect_sig: Option<&binding::RedirectSignature>,
    relay_state: Option<String>,
    lang: Language,
) -> Result<Response, GatewayError> {
    let now = gw.clock.now();
    let registry = gw.registry.snapshot();
    let policy = IntakePolicy {
        sso_url: &gw.sso_url,
        now,
        max_clock_skew: gw.settings.clock_skew,
        max_age: gw.settings.max_request_age,
    };
    let require_all = gw.settings.require_signed_requests;
    let (trust, req) = authn_request::intake(
        xml,
        binding,
        redirect_sig,
        |issuer| registry.get(issuer).map(|sp| SpTrust { sp, require_all }),
        &policy,
    )?;
    let sp = trust.sp;
    let acs = sp.resolve_acs(
        req.acs_url.as_deref(),
        req.acs_index,
        req.protocol_binding.as_deref(),
    )?;
    let replay_key = format!(
        "replay:{}",
        sha256_hex(&[sp.entity_id.as_bytes(), b"\0", req.id.as_bytes()])
    );
    let replay_ttl = to_std(gw.settings.max_request_age + gw.settings.clock_skew * 2);
    if !gw
        .store
        .insert_if_absent(&replay_key, Vec::new(), replay_ttl)
        .await?
    {
        return Err(GatewayError::Replay);
    }
    tracing::info!(target: "audit", event = "authn_request", sp = %sp.entity_id, request_id = ?req.id,
        signed = req.signed, force_authn = req.force_authn, is_passive = req.is_passive);

    // From here the request is trustworthy and the ACS is known: failures are SAML statuses.
    let mut pending = PendingRequest {
        sp_entity_id: sp.entity_id.clone(),
        request_id: req.id.clone(),
        acs_url: acs.location.clone(),
        relay_state,
        requirement: LoaRequirement::ANY,
        persistent_name_id: false,
        language: lang.code().to_owned(),
    };
    if req.names_subject {
        return status_response(
            gw,
            &sp,
            &pending,
            saml::STATUS_RESPONDER,
            Some(saml::STATUS_REQUEST_UNSUPPORTED),
            now,
        );
    }
    match req.name_id_format.as_deref() {
        None | Some(saml::NAMEID_TRANSIENT) | Some(saml::NAMEID_UNSPECIFIED) => {}
        Some(saml::NAMEID_PERSISTENT) => pending.persistent_name_id = true,
        Some(_) => {
            return status_response(
                gw,
                &sp,
                &pending,
                saml::STATUS_REQUESTER,
                Some(STATUS_INVALID_NAMEID_POLICY),
                now,
            )
        }
    }
    match requirement_of(&req) {
        Some(r) => pending.requirement = r,
        None => {
            return status_response(
                gw,
                &sp,
                &pending,
                saml::STATUS_REQUESTER,
                Some(saml::STATUS_NO_AUTHN_CONTEXT),
                now,
            )
        }
    }
    if !gw
        .adapters
        .iter()
        .any(|a| a.max_loa().rank() >= pending.requirement.min_rank)
    {
        return status_response(
            gw,
            &sp,
            &pending,
            saml::STATUS_RESPONDER,
            Some(saml::STATUS_NO_AUTHN_CONTEXT),
            now,
        );
    }

    if !req.force_authn {
        if let Some((sid, session)) = load_session(gw, headers, now).await? {
            if pending.requirement.satisfied_by(session.identity.loa()) {
                return respond_success(gw, &sp, &pending, &sid, session, now, None).await;
            }
        }
    }
    if req.is_passive {
        return status_response(
            gw,
            &sp,
            &pending,
            saml::STATUS_RESPONDER,
            Some(saml::STATUS_NO_PASSIVE),
            now,
        );
    }
    start_flow(gw, headers, pending).await
}

const STATUS_INVALID_NAMEID_POLICY: &str = "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy";

async fn start_flow(
    gw: &Arc<Gateway>,
    headers: &HeaderMap,
    request: PendingRequest,
) -> Result<Response, GatewayError> {
    let flow_id = certs::random_token(gw.rng.as_ref())?;
    let (browser_token, new_cookie) =
        match cookie(headers, BROWSER_COOKIE).filter(|c| c.len() == 43) {
            Some(c) => (c.to_owned(), false),
            None => (certs::random_token(gw.rng.as_ref())?, true),
        };
    let record = FlowRecord {
        upstream: None,
        request,
        browser: sha256_hex(&[browser_token.as_bytes()]),
    };
    gw.store
        .put(
            &flow_key(&flow_id),
            serde_json::to_vec(&record)?,
            to_std(gw.settings.flow_ttl),
        )
        .await?;
    let mut resp = http::see_other(format!("/login?flow={flow_id}"));
    if new_cookie {
        resp.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(BROWSER_COOKIE, &browser_token, 400 * 24 * 3600, "/", "None"),
        );
    }
    Ok(resp)
}

fn upstream_state_key(state: &str) -> String {
    format!("upstate:{}", sha256_hex(&[state.as_bytes()]))
}

/// Remember that this flow went upstream: the adapter's secrets in the flow record, and an
/// index from the callback's `state` to the flow (taken once by the callback).
pub async fn attach_upstream(
    gw: &Gateway,
    headers: &HeaderMap,
    flow_id: &str,
    method: &str,
    state: &str,
    pending: idp_adapters::UpstreamPending,
) -> Result<(), GatewayError> {
    let mut rec = load_flow(gw, headers, flow_id).await?;
    if let Some(previous) = &rec.upstream {
        if !previous.state_hash.is_empty() {
            gw.store
                .delete(&format!("upstate:{}", previous.state_hash))
                .await?;
        }
    }
    rec.upstream = Some(UpstreamFlow {
        method: method.to_owned(),
        pending,
        state_hash: sha256_hex(&[state.as_bytes()]),
    });
    let ttl = to_std(gw.settings.flow_ttl);
    gw.store
        .put(&flow_key(flow_id), serde_json::to_vec(&rec)?, ttl)
        .await?;
    gw.store
        .put(&upstream_state_key(state), flow_id.as_bytes().to_vec(), ttl)
        .await?;
    Ok(())
}

/// The flow a callback's `state` belongs to, checked to be this browser's; then the index entry
/// is consumed (a replayed state finds nothing).
pub async fn flow_for_state(
    gw: &Gateway,
    headers: &HeaderMap,
    state: &str,
) -> Result<(String, FlowRecord), GatewayError> {
    let flow_id = flow_id_for_state(gw, state).await?;
    // The flow must belong to this browser, and this must be its latest upstream attempt,
    // before the state is used up.
    let flow = load_flow(gw, headers, &flow_id).await?;
    check_current_state(&flow, state)?;
    gw.store
        .take(&upstream_state_key(state))
        .await?
        .ok_or(GatewayError::FlowNotFound)?;
    Ok((flow_id, flow))
}

/// The flow an upstream `state` belongs to, read without consuming anything and without the
/// browser check: for the certificate listener, which may be another origin than the one the
/// browser-binding cookie belongs to. It only learns whether the state is live and for which
/// method; the callback on the gateway's origin does the binding check and consumes the state.
pub async fn peek_flow_for_state(gw: &Gateway, state: &str) -> Result<FlowRecord, GatewayError> {
    let flow_id = flow_id_for_state(gw, state).await?;
    let flow = read_flow(gw, &flow_id).await?;
    check_current_state(&flow, state)?;
    Ok(flow)
}

/// The flow ID the index for `state` points at (nothing is consumed).
async fn flow_id_for_state(gw: &Gateway, state: &str) -> Result<String, GatewayError> {
    if state.is_empty() || state.len() > 256 {
        return Err(GatewayError::FlowNotFound);
    }
    let raw = gw
        .store
        .get(&upstream_state_key(state))
        .await?
        .ok_or(GatewayError::FlowNotFound)?;
    String::from_utf8(raw).map_err(|_| GatewayError::FlowNotFound)
}

fn check_current_state(flow: &FlowRecord, state: &str) -> Result<(), GatewayError> {
    let current = flow.upstream.as_ref().map(|u| u.state_hash.as_str());
    if current != Some(sha256_hex(&[state.as_bytes()]).as_str()) {
        return Err(GatewayError::FlowNotFound);
    }
    Ok(())
}

pub fn flow_key(flow_id: &str) -> String {
    format!("flow:{}", sha256_hex(&[flow_id.as_bytes()]))
}

fn session_key(sid: &str) -> String {
    format!("sso:{}", sha256_hex(&[sid.as_bytes()]))
}

/// Read the flow record and check it belongs to this browser.
pub async fn load_flow(
    gw: &Gateway,
    headers: &HeaderMap,
    flow_id: &str,
) -> Result<FlowRecord, GatewayError> {
    let rec = read_flow(gw, flow_id).await?;
    check_browser(&rec, headers)?;
    Ok(rec)
}

/// The flow record, whoever asks (callers check the browser, or say why they need not).
async fn read_flow(gw: &Gateway, flow_id: &str) -> Result<FlowRecord, GatewayError> {
    if flow_id.len() != 43 {
        return Err(GatewayError::FlowNotFound);
    }
    let raw = gw
        .store
        .get(&flow_key(flow_id))
        .await?
        .ok_or(GatewayError::FlowNotFound)?;
    Ok(serde_json::from_slice(&raw)?)
}

/// Consume the flow record: of two concurrent finishes, one proceeds.
pub async fn take_flow(
    gw: &Gateway,
    headers: &HeaderMap,
    flow_id: &str,
) -> Result<FlowRecord, GatewayError> {
    // Check the browser before consuming: another browser that learned the flow ID must not be
    // able to destroy the citizen's login.
    load_flow(gw, headers, flow_id).await?;
    let raw = gw
        .store
        .take(&flow_key(flow_id))
        .await?
        .ok_or(GatewayError::FlowNotFound)?;
    let rec: FlowRecord = serde_json::from_slice(&raw)?;
    check_browser(&rec, headers)?;
    Ok(rec)
}

fn check_browser(rec: &FlowRecord, headers: &HeaderMap) -> Result<(), GatewayError> {
    let token = cookie(headers, BROWSER_COOKIE).ok_or(GatewayError::BrowserMismatch)?;
    if sha256_hex(&[token.as_bytes()]) != rec.browser {
        return Err(GatewayError::BrowserMismatch);
    }
    Ok(())
}

async fn load_session(
    gw: &Gateway,
    headers: &HeaderMap,
    now: OffsetDateTime,
) -> Result<Option<(String, SsoSession)>, GatewayError> {
    let Some(sid) = cookie(headers, SSO_COOKIE).filter(|s| s.len() == 43) else {
        return Ok(None);
    };
    let Some(raw) = gw.store.get(&session_key(sid)).await? else {
        return Ok(None);
    };
    let s: SsoSession = serde_json::from_slice(&raw)?;
    if s.expires_at <= now.unix_timestamp() {
        return Ok(None);
    }
    Ok(Some((sid.to_owned(), s)))
}

/// A verified login: new SSO session (fresh ID: no fixation), then the Response.
pub async fn complete_login(
    gw: &Arc<Gateway>,
    headers: &HeaderMap,
    flow: FlowRecord,
    identity: VerifiedIdentity,
) -> Result<Response, GatewayError> {
    let now = gw.clock.now();
    if let Some(old) = cookie(headers, SSO_COOKIE) {
        gw.store.delete(&session_key(old)).await?;
    }
    let registry = gw.registry.snapshot();
    let sp = registry
        .get(&flow.request.sp_entity_id)
        .ok_or(GatewayError::FlowNotFound)?;
    let sid = certs::random_token(gw.rng.as_ref())?;
    let session = SsoSession {
        session_index: certs::random_id(gw.rng.as_ref())?,
        expires_at: (now + gw.settings.sso_session_ttl).unix_timestamp(),
        service_providers: Vec::new(),
        identity,
    };
    tracing::info!(target: "audit", event = "login", sp = %sp.entity_id, method = session.identity.method(),
        loa = session.identity.loa().uri(), subject = %audit_subject(gw, &session.identity));
    let ttl = gw.settings.sso_session_ttl.whole_seconds();
    let cookie = set_cookie(SSO_COOKIE, &sid, ttl, "/", "None");
    respond_success(gw, &sp, &flow.request, &sid, session, now, Some(cookie)).await
}

/// Build, sign and auto-post the Response for a session.
async fn respond_success(
    gw: &Arc<Gateway>,
    sp: &ServiceProvider,
    pending: &PendingRequest,
    sid: &str,
    mut session: SsoSession,
    now: OffsetDateTime,
    set_session_cookie: Option<HeaderValue>,
) -> Result<Response, GatewayError> {
    if !session.service_providers.contains(&sp.entity_id) {
        session.service_providers.push(sp.entity_id.clone());
    }
    let remaining = session.expires_at - now.unix_timestamp();
    gw.store
        .put(
            &session_key(sid),
            serde_json::to_vec(&session)?,
            std::time::Duration::from_secs(remaining.max(1) as u64),
        )
        .await?;

    let id = &session.identity;
    let available = released_attributes(id);
    let attributes = sp.release.release(&available);
    let (name_id, format) = if pending.persistent_name_id {
        (
            pairwise_name_id(gw, &sp.entity_id, id),
            saml::NAMEID_PERSISTENT,
        )
    } else {
        (certs::random_id(gw.rng.as_ref())?, saml::NAMEID_TRANSIENT)
    };
    let response_id = certs::random_id(gw.rng.as_ref())?;
    let assertion_id = certs::random_id(gw.rng.as_ref())?;
    let draft = saml::response::AssertionDraft {
        response_id: &response_id,
        assertion_id: &assertion_id,
        idp_entity_id: &gw.entity_id,
        sp_entity_id: &sp.entity_id,
        acs_url: &pending.acs_url,
        in_response_to: Some(&pending.request_id),
        now,
        lifetime: gw.settings.assertion_lifetime,
        name_id: &name_id,
        name_id_format: format,
        session_index: &session.session_index,
        session_not_on_or_after: OffsetDateTime::from_unix_timestamp(session.expires_at).ok(),
        authn_instant: id.authn_instant(),
        authn_context_class_ref: pending.requirement.class_ref(id.loa()),
        attributes: &attributes,
    };
    let signer = gw
        .keys
        .signer_for(sp.preferred_signature_algorithm(&gw.keys.available_algorithms()));
    let signer = saml::response::Signer {
        key: &signer.key,
        cert: &signer.cert,
    };
    let encrypt_to = if sp.encrypt_assertions {
        sp.encryption_certificate()
    } else {
        None
    };
    let xml = match encrypt_to {
        Some(recipient) => saml::response::build_success_encrypted(
            &draft,
            signer,
            sp.want_response_signed,
            recipient,
            gw.rng.as_ref(),
        ),
        None => saml::response::build_success(&draft, signer, sp.want_response_signed),
    }
    .map_err(GatewayError::Build)?;
    tracing::info!(target: "audit", event = "assertion", sp = %sp.entity_id, response_id = %response_id,
        attributes = attributes.len(), persistent = pending.persistent_name_id, encrypted = encrypt_to.is_some());
    tracing::trace!(assertion = %xml, "assertion issued");
    let mut resp = autopost(
        gw,
        pending,
        "SAMLResponse",
        &saml::binding::encode_post(&xml),
    )?;
    if let Some(c) = set_session_cookie {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(resp)
}

/// A signed status response (no assertion) for a trustworthy request that cannot be satisfied.
pub fn status_response(
    gw: &Gateway,
    sp: &ServiceProvider,
    pending: &PendingRequest,
    top: &str,
    second: Option<&str>,
    now: OffsetDateTime,
) -> Result<Response, GatewayError> {
    let response_id = certs::random_id(gw.rng.as_ref())?;
    let signer = gw
        .keys
        .signer_for(sp.preferred_signature_algorithm(&gw.keys.available_algorithms()));
    let xml = saml::response::build_status(
        &saml::response::StatusDraft {
            response_id: &response_id,
            idp_entity_id: &gw.entity_id,
            acs_url: &pending.acs_url,
            in_response_to: Some(&pending.request_id),
            now,
            top_code: top,
            second_code: second,
            message: None,
        },
        saml::response::Signer {
            key: &signer.key,
            cert: &signer.cert,
        },
    )
    .map_err(GatewayError::Build)?;
    tracing::info!(target: "audit", event = "status_response", sp = %sp.entity_id, status = top, sub_status = second.unwrap_or(""));
    autopost(
        gw,
        pending,
        "SAMLResponse",
        &saml::binding::encode_post(&xml),
    )
}

fn autopost(
    gw: &Gateway,
    pending: &PendingRequest,
    field: &str,
    value: &str,
) -> Result<Response, GatewayError> {
    let nonce = certs::random_token(gw.rng.as_ref())?;
    let origin = url::Url::parse(&pending.acs_url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| "'none'".into());
    let html = crate::ui::autopost_page(
        pending.lang(),
        &pending.acs_url,
        field,
        value,
        pending.relay_state.as_deref(),
        &nonce,
    );
    let mut resp = (StatusCode::OK, axum::response::Html(html)).into_response();
    http::security_headers(resp.headers_mut(), Some((&nonce, &origin)));
    Ok(resp)
}

/// Everything a login can tell about the citizen, before release policy.
fn released_attributes(id: &VerifiedIdentity) -> Vec<(AttributeId, String)> {
    let mut v = vec![
        (AttributeId::GivenName, id.given_name().to_owned()),
        (AttributeId::Surname, id.family_name().to_owned()),
        (AttributeId::CommonName, id.full_name()),
        (AttributeId::DisplayName, id.display_name().to_owned()),
    ];
    if let Some(n) = id.national_id() {
        v.push((AttributeId::NationalId, n.expose().to_owned()));
    }
    if let Some(satu) = id.electronic_id() {
        v.push((AttributeId::ElectronicId, satu.to_owned()));
    }
    if let Some(d) = id.birth_date() {
        v.push((
            AttributeId::BirthDate,
            format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()),
        ));
    }
    v
}

/// Stable, pairwise per SP, and not reversible to the national id without the secret.
fn pairwise_name_id(gw: &Gateway, sp_entity_id: &str, id: &VerifiedIdentity) -> String {
    let subject = id
        .national_id()
        .map(|n| n.expose().to_owned())
        .unwrap_or_else(|| format!("{}\0{}", id.upstream_issuer(), id.upstream_subject()));
    let tag = aws_lc_rs::hmac::sign(
        &gw.pairwise_key,
        format!("nameid\0{sp_entity_id}\0{subject}").as_bytes(),
    );
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref())
}

/// The audit trail's handle for a citizen: a keyed hash, never the national id.
pub fn audit_subject(gw: &Gateway, id: &VerifiedIdentity) -> String {
    let subject = id
        .national_id()
        .map(|n| n.expose().to_owned())
        .unwrap_or_else(|| id.upstream_subject().to_owned());
    let tag = aws_lc_rs::hmac::sign(&gw.pairwise_key, format!("audit\0{subject}").as_bytes());
    hex::encode(&tag.as_ref()[..12])
}

pub fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for p in parts {
        ctx.update(p);
    }
    hex::encode(ctx.finish().as_ref())
}

fn to_std(d: time::Duration) -> std::time::Duration {
    std::time::Duration::from_secs(d.whole_seconds().max(1) as u64)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use saml::authn_request::RequestedAuthnContext;

    fn req_with(cmp: Comparison, refs: &[&str]) -> AuthnRequest {
        AuthnRequest {
            id: "_x".into(),
            issuer: "sp".into(),
            issue_instant: OffsetDateTime::UNIX_EPOCH,
            destination: None,
            acs_url: None,
            acs_index: None,
            protocol_binding: None,
            force_authn: false,
            is_passive: false,
            name_id_format: None,
            allow_create: None,
            requested_authn_context: Some(RequestedAuthnContext {
                comparison: cmp,
                class_refs: refs.iter().map(|s| s.to_string()).collect(),
            }),
            names_subject: false,
            signed: false,
        }
    }

    #[test]
    fn loa_requirements() {
        let loa2 = LevelOfAssurance::FtnSubstantial.uri();
        let loa3 = LevelOfAssurance::FtnHigh.uri();
        let high = LevelOfAssurance::EidasHigh.uri();
        let r = requirement_of(&req_with(Comparison::Minimum, &[loa2])).unwrap();
        assert!(
            r.satisfied_by(LevelOfAssurance::FtnHigh)
                && r.satisfied_by(LevelOfAssurance::FtnSubstantial)
        );
        let r = requirement_of(&req_with(Comparison::Exact, &[loa3])).unwrap();
        assert!(!r.satisfied_by(LevelOfAssurance::FtnSubstantial));
        assert_eq!(r.class_ref(LevelOfAssurance::EidasHigh), loa3);
        let r = requirement_of(&req_with(Comparison::Minimum, &[high])).unwrap();
        assert_eq!(r.class_ref(LevelOfAssurance::FtnHigh), high);
        assert!(requirement_of(&req_with(Comparison::Better, &[loa3])).is_none());
        assert!(requirement_of(&req_with(Comparison::Exact, &["urn:unknown"])).is_none());
        let r = requirement_of(&req_with(Comparison::Maximum, &[loa2])).unwrap();
        assert!(!r.satisfied_by(LevelOfAssurance::FtnHigh));
    }
}
