//! SAML single logout: the citizen's SSO session ends, and every service provider that took part
//! in it is sent a LogoutRequest with the NameID and SessionIndex it was given.
//!
//! - **SP-initiated:** a service sends a signed LogoutRequest to `/saml/idp/slo`. If it names the
//!   browser's session (that service's NameID, the session's SessionIndex), the session ends at
//!   once; the other participants are told; the service gets a signed LogoutResponse: Success,
//!   or Success with PartialLogout when a participant did not confirm in time (or has no single
//!   logout endpoint). A request that does not name the browser's session ends nothing and is
//!   answered UnknownPrincipal; with no session at all, Success (already logged out).
//! - **IdP-initiated:** the citizen logs out at the gateway (`/logout`, a form with a token
//!   bound to the session, so no other site can post it); the same propagation follows, and a
//!   page says whether every service confirmed.
//! - **Propagation** (front channel, as the SAML profiles have it): a page of hidden frames, one
//!   per participant, each sent through `/saml/idp/slo/frame` to the participant's endpoint with
//!   a signed LogoutRequest; each answer (a signed LogoutResponse to `/saml/idp/slo`) is kept as
//!   a member of the logout's record, so answers arriving together are all kept. A script on the
//!   page continues when every frame has come back, or after [`LOGOUT_WAIT`]; without scripts,
//!   the citizen presses Continue. `/saml/idp/slo/done` then reads the answers.
//!
//! The record lives in the session store for [`LOGOUT_TTL`] under `slo:<digest of its ID>`; its
//! ID is a random token that only the citizen's page holds. Our LogoutRequests' IDs carry it
//! (`_slo.<logout ID>.<participant>`), so a participant's answer finds its record; the answer is
//! taken only when signed by that participant and naming that participant's request.

use super::intake::{decode, IncomingRequest};
use super::session::{load_session, participations, session_key, TOKEN_LEN};
use super::{Answer, Autopost, Browser, FlowError, Idp, SpParticipation, Step};
use crate::stores::RecordKind;
use idp_adapters::Language;
use metadata::ServiceProvider;
use saml::authn_request::{IntakePolicy, RequesterTrust};
use saml::binding::{self, BindingLimits, MessageParam};
use saml::logout::{
    intake_logout_request, intake_logout_response, LogoutRequestDraft, LogoutResponseDraft,
    STATUS_PARTIAL_LOGOUT, STATUS_UNKNOWN_PRINCIPAL,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

/// How long a logout in progress is kept.
pub const LOGOUT_TTL: Duration = Duration::minutes(2);
/// How long the logout page waits for the participants' answers before it continues.
pub const LOGOUT_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
/// The most participants one logout tells (a session has one per service used).
const MAX_PARTICIPANTS: usize = 32;

/// A logout in progress.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct LogoutRecord {
    /// The service that asked (None: the citizen, at the gateway).
    initiator: Option<Initiator>,
    /// Participants sent a LogoutRequest, in frame order.
    pending: Vec<Pending>,
    /// Participants that could not be told (no single logout endpoint).
    unreachable: Vec<String>,
    lang: String,
    expires_at: i64,
}

/// Who asked for the logout, and so who is answered at its end.
#[derive(Clone, Debug, Serialize, Deserialize)]
enum Initiator {
    /// A SAML service's LogoutRequest: it gets a LogoutResponse.
    Saml {
        sp: String,
        request_id: String,
        relay_state: Option<String>,
    },
    /// An OpenID Connect client's RP-initiated logout: the browser goes back to this
    /// (registered) URL.
    Redirect { url: String },
}

impl Initiator {
    fn is(&self, entity: &str) -> bool {
        matches!(self, Initiator::Saml { sp, .. } if sp == entity)
    }
}

/// A participant told: our LogoutRequest's ID, and what the participant was given.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Pending {
    request_id: String,
    part: SpParticipation,
}

/// A participant's answer, kept as a member of the logout's record.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Confirmation {
    sp: String,
    ok: bool,
}

/// The page that tells the participants: one frame per participant (our URLs), the origins the
/// frames go on to (for the page's Content-Security-Policy), and the form that continues.
#[derive(Debug)]
pub struct LogoutPage {
    pub logout_id: String,
    pub frames: Vec<String>,
    pub frame_origins: Vec<String>,
    pub wait: std::time::Duration,
    pub lang: Language,
}

/// What ends a logout for the citizen when no service asked for it.
#[derive(Debug)]
pub struct LoggedOut {
    pub lang: Language,
    /// Services that did not confirm (display names).
    pub unconfirmed: Vec<String>,
}

fn logout_key(idp: &Idp, logout_id: &str) -> String {
    idp.layout.key(
        RecordKind::Logout,
        &super::sha256_hex(&[logout_id.as_bytes()]),
    )
}

/// A message at `/saml/idp/slo`: a LogoutRequest from a service, or a LogoutResponse to ours.
pub async fn receive_logout(
    idp: &Idp,
    browser: &Browser,
    incoming: IncomingRequest<'_>,
    lang: Language,
) -> Result<Answer, FlowError> {
    let is_response = match &incoming {
        IncomingRequest::Redirect { raw_query } => raw_query
            .split('&')
            .any(|p| p.split('=').next() == Some("SAMLResponse")),
        IncomingRequest::Post { fields } => fields.iter().any(|(k, _)| k == "SAMLResponse"),
    };
    if is_response {
        participant_answered(idp, &incoming, lang).await
    } else {
        sp_initiated(idp, browser, &incoming, lang).await
    }
}

struct SloTrust(Arc<ServiceProvider>);

impl RequesterTrust for SloTrust {
    fn signing_certificates(&self) -> &[certs::Certificate] {
        &self.0.signing_certificates
    }
    fn requires_signed_requests(&self) -> bool {
        true
    }
}

/// A logout message from a registered service, decoded from its binding and taken in with
/// `intake` (signature from that service's metadata required): the service, the message, and
/// its RelayState.
fn from_participant<R>(
    idp: &Idp,
    incoming: &IncomingRequest<'_>,
    param: MessageParam,
    now: OffsetDateTime,
    intake: impl FnOnce(
        &super::intake::Decoded,
        &dyn Fn(&str) -> Option<SloTrust>,
        &IntakePolicy<'_>,
    ) -> Result<(SloTrust, R), saml::authn_request::IntakeError>,
) -> Result<(Arc<ServiceProvider>, R, Option<String>), FlowError> {
    let d = decode(incoming, param, &BindingLimits::default())?;
    let registry = idp.registry.snapshot();
    let lookup = |issuer: &str| registry.get(issuer).map(SloTrust);
    let (trust, message) = intake(&d, &lookup, &policy(idp, now))?;
    Ok((trust.0, message, d.relay_state))
}

fn policy(idp: &Idp, now: OffsetDateTime) -> IntakePolicy<'_> {
    IntakePolicy {
        sso_url: &idp.slo_url,
        now,
        max_clock_skew: idp.settings.clock_skew,
        max_age: idp.settings.max_request_age,
    }
}

async fn sp_initiated(
    idp: &Idp,
    browser: &Browser,
    incoming: &IncomingRequest<'_>,
    lang: Language,
) -> Result<Answer, FlowError> {
    let now = idp.clock.now();
    let (sp, req, relay_state) = from_participant(
        idp,
        incoming,
        MessageParam::SamlRequest,
        now,
        |d, lookup, policy| {
            intake_logout_request(&d.xml, d.binding, d.redirect_sig.as_ref(), lookup, policy)
        },
    )?;
    if sp.slo.is_empty() {
        return Err(FlowError::NoLogoutEndpoint(super::bounded(&sp.entity_id)));
    }
    let initiator = Initiator::Saml {
        sp: sp.entity_id.clone(),
        request_id: req.id.clone(),
        relay_state,
    };
    let Some((sid, session)) = load_session(idp, browser, now).await? else {
        tracing::info!(target: "audit", event = "logout_request", sp = %sp.entity_id, outcome = "no_session");
        let mut a = answer_initiator(idp, &sp, &initiator, saml::STATUS_SUCCESS, None, lang, now)?;
        a.clear_session = browser.session.is_some();
        return Ok(a);
    };
    let parts = participations(idp, &sid).await?;
    let named = parts
        .iter()
        .find(|p| p.sp_entity_id == sp.entity_id)
        .is_some_and(|p| {
            certs::constant_time_eq(p.name_id.as_bytes(), req.name_id.as_bytes())
                && (req.session_indexes.is_empty()
                    || req
                        .session_indexes
                        .iter()
                        .any(|s| s.as_bytes() == session.session_index.as_bytes()))
        });
    if !named {
        tracing::warn!(target: "audit", event = "logout_request", sp = %sp.entity_id, outcome = "unknown_principal");
        return answer_initiator(
            idp,
            &sp,
            &initiator,
            saml::STATUS_REQUESTER,
            Some(STATUS_UNKNOWN_PRINCIPAL),
            lang,
            now,
        );
    }
    tracing::info!(target: "audit", event = "logout", initiator = %sp.entity_id, participants = parts.len());
    end_and_propagate(idp, &sid, &session, parts, Some(initiator), lang, now).await
}

/// The citizen's own logout at the gateway: the token the form carries, bound to the session.
pub fn logout_token(idp: &Idp, browser: &Browser) -> Option<String> {
    let sid = browser.session.as_deref()?;
    let tag = aws_lc_rs::hmac::sign(&idp.pairwise_key, format!("logout\0{sid}").as_bytes());
    Some(hex::encode(&tag.as_ref()[..16]))
}

/// `POST /logout`: end the browser's session (the form's token must match it) and tell every
/// participant.
pub async fn citizen_logout(
    idp: &Idp,
    browser: &Browser,
    token: Option<&str>,
    lang: Language,
) -> Result<Answer, FlowError> {
    let now = idp.clock.now();
    let expected = logout_token(idp, browser);
    let valid = match (&expected, token) {
        (Some(e), Some(t)) => certs::constant_time_eq(e.as_bytes(), t.as_bytes()),
        _ => false,
    };
    if !valid {
        return Err(FlowError::BadForm("token"));
    }
    let Some((sid, session)) = load_session(idp, browser, now).await? else {
        let mut a = Answer::step(Step::LoggedOut(LoggedOut {
            lang,
            unconfirmed: Vec::new(),
        }));
        a.clear_session = true;
        return Ok(a);
    };
    let parts = participations(idp, &sid).await?;
    tracing::info!(target: "audit", event = "logout", initiator = "citizen", participants = parts.len());
    end_and_propagate(idp, &sid, &session, parts, None, lang, now).await
}

/// An OpenID Connect client's logout of the session: the same propagation, then the browser
/// goes to `back` (or, without it, the citizen's logged-out page).
pub(super) async fn end_and_propagate_to(
    idp: &Idp,
    sid: &str,
    session: &super::SsoSession,
    parts: Vec<SpParticipation>,
    back: Option<String>,
    lang: Language,
    now: OffsetDateTime,
) -> Result<Answer, FlowError> {
    let initiator = back.map(|url| Initiator::Redirect { url });
    end_and_propagate(idp, sid, session, parts, initiator, lang, now).await
}

/// End the session now (its OpenID Connect tokens too), then tell the participants: OpenID
/// Connect clients by back channel, SAML services (all but the initiator) in frames.
async fn end_and_propagate(
    idp: &Idp,
    sid: &str,
    session: &super::SsoSession,
    parts: Vec<SpParticipation>,
    initiator: Option<Initiator>,
    lang: Language,
    now: OffsetDateTime,
) -> Result<Answer, FlowError> {
    idp.store.delete(&session_key(idp, sid)).await?;
    super::oidc::mark_session_ended(idp, &session.session_index).await?;
    super::oidc::notify_clients(idp, &session.session_index, &parts, now);
    let parts: Vec<SpParticipation> = parts
        .into_iter()
        .filter(|p| !super::oidc::is_client(p))
        .collect();
    let registry = idp.registry.snapshot();
    let logout_id = certs::random_token(idp.rng.as_ref())?;
    let mut pending = Vec::new();
    let mut unreachable = Vec::new();
    let mut frame_origins = Vec::new();
    for p in parts.into_iter().take(MAX_PARTICIPANTS) {
        if initiator.as_ref().is_some_and(|i| i.is(&p.sp_entity_id)) {
            continue;
        }
        let endpoint = registry
            .get(&p.sp_entity_id)
            .and_then(|sp| sp.slo.first().cloned());
        match endpoint {
            Some(e) => {
                if let Ok(u) = url::Url::parse(&e.location) {
                    let origin = u.origin().ascii_serialization();
                    if !frame_origins.contains(&origin) {
                        frame_origins.push(origin);
                    }
                }
                pending.push(Pending {
                    request_id: format!("_slo.{logout_id}.{}", pending.len()),
                    part: p,
                });
            }
            None => unreachable.push(p.sp_entity_id),
        }
    }
    if pending.is_empty() {
        let mut a = finish(idp, initiator.as_ref(), &unreachable, lang, now)?;
        a.clear_session = true;
        return Ok(a);
    }
    let record = LogoutRecord {
        initiator,
        pending,
        unreachable,
        lang: lang.code().to_owned(),
        expires_at: (now + LOGOUT_TTL).unix_timestamp(),
    };
    idp.store
        .put(
            &logout_key(idp, &logout_id),
            serde_json::to_vec(&record)?,
            super::to_std(LOGOUT_TTL),
        )
        .await?;
    let frames = (0..record.pending.len())
        .map(|n| format!("/saml/idp/slo/frame?logout={logout_id}&n={n}"))
        .collect();
    let mut a = Answer::step(Step::LogoutPage(LogoutPage {
        logout_id,
        frames,
        frame_origins,
        wait: LOGOUT_WAIT,
        lang,
    }));
    a.clear_session = true;
    Ok(a)
}

async fn load_record(idp: &Idp, logout_id: &str) -> Result<LogoutRecord, FlowError> {
    if logout_id.len() != TOKEN_LEN {
        return Err(FlowError::LogoutNotFound);
    }
    let raw = match idp.store.get(&logout_key(idp, logout_id)).await {
        Ok(Some(raw)) => raw,
        Ok(None) => return Err(FlowError::LogoutNotFound),
        Err(e) => return Err(e.into()),
    };
    let record: LogoutRecord = serde_json::from_slice(&raw)?;
    if record.expires_at <= idp.clock.now().unix_timestamp() {
        return Err(FlowError::LogoutNotFound);
    }
    Ok(record)
}

/// `/saml/idp/slo/frame`: participant `n`'s LogoutRequest, signed, on its way in a frame.
pub async fn logout_frame(idp: &Idp, logout_id: &str, n: usize) -> Result<Answer, FlowError> {
    let now = idp.clock.now();
    let record = load_record(idp, logout_id).await?;
    let p = record.pending.get(n).ok_or(FlowError::LogoutNotFound)?;
    let registry = idp.registry.snapshot();
    let part = &p.part;
    let sp = registry
        .get(&part.sp_entity_id)
        .ok_or(FlowError::LogoutNotFound)?;
    let endpoint = sp
        .slo
        .first()
        .ok_or_else(|| FlowError::NoLogoutEndpoint(super::bounded(&part.sp_entity_id)))?;
    let xml = LogoutRequestDraft {
        id: &p.request_id,
        issuer: &idp.entity_id,
        destination: &endpoint.location,
        issue_instant: now,
        not_on_or_after: Some(now + LOGOUT_TTL),
        name_id: &part.name_id,
        name_id_format: part.name_id_format(),
        name_qualifier: Some(&idp.entity_id),
        sp_name_qualifier: Some(&sp.entity_id),
        session_index: None,
    }
    .to_xml();
    tracing::info!(target: "audit", event = "logout_request_sent", sp = %sp.entity_id, binding = %endpoint.binding);
    send(
        idp,
        &sp,
        &endpoint.binding,
        &endpoint.location,
        &xml,
        MessageParam::SamlRequest,
        None,
        Language::parse(&record.lang).unwrap_or(Language::Fi),
    )
}

/// Sign `xml` for `sp` and send it in `binding` to `location`.
#[allow(clippy::too_many_arguments)]
fn send(
    idp: &Idp,
    sp: &ServiceProvider,
    binding_uri: &str,
    location: &str,
    xml: &str,
    param: MessageParam,
    relay_state: Option<&str>,
    lang: Language,
) -> Result<Answer, FlowError> {
    let signer = idp
        .keys
        .signer_for(sp.preferred_signature_algorithm(&idp.keys.available_algorithms()));
    if binding_uri == saml::BINDING_POST {
        let signed =
            saml::dsig::sign_enveloped(xml, &signer.key, &signer.cert).map_err(FlowError::Build)?;
        Ok(Answer::step(Step::Autopost(Autopost {
            acs_url: location.to_owned(),
            field: param.name(),
            value: binding::encode_post(&signed),
            relay_state: relay_state.map(str::to_owned),
            lang,
        })))
    } else {
        let url = binding::encode_redirect(location, xml, param, relay_state, Some(&signer.key))
            .map_err(FlowError::Build)?;
        Ok(Answer::step(Step::Redirect(url)))
    }
}

/// A participant's LogoutResponse to one of our LogoutRequests, arriving in its frame.
async fn participant_answered(
    idp: &Idp,
    incoming: &IncomingRequest<'_>,
    lang: Language,
) -> Result<Answer, FlowError> {
    let now = idp.clock.now();
    let (sp, resp, _) = from_participant(
        idp,
        incoming,
        MessageParam::SamlResponse,
        now,
        |d, lookup, policy| {
            intake_logout_response(&d.xml, d.binding, d.redirect_sig.as_ref(), lookup, policy)
        },
    )?;
    // `_slo.<logout ID>.<n>`: the logout, and which of its participants.
    let mut parts = resp.in_response_to.splitn(3, '.');
    let (Some("_slo"), Some(logout_id), Some(n)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(FlowError::LogoutNotFound);
    };
    let n: usize = n.parse().map_err(|_| FlowError::LogoutNotFound)?;
    let record = load_record(idp, logout_id).await?;
    let p = record.pending.get(n).ok_or(FlowError::LogoutNotFound)?;
    if p.part.sp_entity_id != sp.entity_id || p.request_id != resp.in_response_to {
        return Err(FlowError::LogoutNotFound);
    }
    let ok = resp.succeeded();
    idp.store
        .add_member(
            &logout_key(idp, logout_id),
            &sp.entity_id,
            serde_json::to_vec(&Confirmation {
                sp: sp.entity_id.clone(),
                ok,
            })?,
        )
        .await?;
    tracing::info!(target: "audit", event = "logout_response", sp = %sp.entity_id, ok, status = %super::bounded(&resp.status));
    Ok(Answer::step(Step::LogoutFrameDone {
        lang,
        service: sp.display_name(lang.code()).to_owned(),
        ok,
    }))
}

/// `/saml/idp/slo/done`: the answers are in (or the wait is over). The initiating service gets
/// its LogoutResponse; the citizen who logged out at the gateway, a page.
pub async fn logout_done(idp: &Idp, logout_id: &str) -> Result<Answer, FlowError> {
    let now = idp.clock.now();
    let record = load_record(idp, logout_id).await?;
    let key = logout_key(idp, logout_id);
    let confirmed: Vec<Confirmation> = idp
        .store
        .members(&key)
        .await?
        .iter()
        .map(|raw| serde_json::from_slice(raw))
        .collect::<Result<_, _>>()?;
    idp.store.delete(&key).await?;
    let mut unconfirmed = record.unreachable.clone();
    for p in &record.pending {
        if !confirmed
            .iter()
            .any(|c| c.sp == p.part.sp_entity_id && c.ok)
        {
            unconfirmed.push(p.part.sp_entity_id.clone());
        }
    }
    let lang = Language::parse(&record.lang).unwrap_or(Language::Fi);
    tracing::info!(target: "audit", event = "logout_done", told = record.pending.len(), unconfirmed = unconfirmed.len());
    finish(idp, record.initiator.as_ref(), &unconfirmed, lang, now)
}

/// The end of a logout: the initiator's LogoutResponse (PartialLogout when some participant did
/// not confirm), or the citizen's page.
fn finish(
    idp: &Idp,
    initiator: Option<&Initiator>,
    unconfirmed: &[String],
    lang: Language,
    now: OffsetDateTime,
) -> Result<Answer, FlowError> {
    let registry = idp.registry.snapshot();
    match initiator {
        Some(Initiator::Redirect { url }) => Ok(Answer::step(Step::Redirect(url.clone()))),
        Some(i @ Initiator::Saml { sp, .. }) if registry.get(sp).is_some() => {
            let sp = registry.get(sp).ok_or(FlowError::LogoutNotFound)?;
            let sub = (!unconfirmed.is_empty()).then_some(STATUS_PARTIAL_LOGOUT);
            answer_initiator(idp, &sp, i, saml::STATUS_SUCCESS, sub, lang, now)
        }
        _ => Ok(Answer::step(Step::LoggedOut(LoggedOut {
            lang,
            unconfirmed: unconfirmed
                .iter()
                .map(|e| {
                    registry
                        .get(e)
                        .map(|sp| sp.display_name(lang.code()).to_owned())
                        .unwrap_or_else(|| e.clone())
                })
                .collect(),
        }))),
    }
}

/// The initiating service's LogoutResponse, signed, in its endpoint's binding.
fn answer_initiator(
    idp: &Idp,
    sp: &ServiceProvider,
    initiator: &Initiator,
    status: &str,
    sub_status: Option<&str>,
    lang: Language,
    now: OffsetDateTime,
) -> Result<Answer, FlowError> {
    let endpoint = sp
        .slo
        .first()
        .ok_or_else(|| FlowError::NoLogoutEndpoint(super::bounded(&sp.entity_id)))?;
    let location = endpoint
        .response_location
        .as_deref()
        .unwrap_or(&endpoint.location);
    let Initiator::Saml {
        request_id,
        relay_state,
        ..
    } = initiator
    else {
        return Err(FlowError::LogoutNotFound);
    };
    let id = certs::random_id(idp.rng.as_ref())?;
    let xml = LogoutResponseDraft {
        id: &id,
        issuer: &idp.entity_id,
        destination: location,
        issue_instant: now,
        in_response_to: request_id,
        status,
        sub_status,
    }
    .to_xml();
    tracing::info!(target: "audit", event = "logout_response_sent", sp = %sp.entity_id, status, sub_status = sub_status.unwrap_or(""));
    send(
        idp,
        sp,
        &endpoint.binding,
        location,
        &xml,
        MessageParam::SamlResponse,
        relay_state.as_deref(),
        lang,
    )
}
