//! Login flows sealed in the browser, single-use markers, and SSO sessions in the store.
//!
//! A flow is held by the browser alone: one cookie per flow, `__Host-gw_flow_<flow ID>`, whose
//! value is the [`FlowRecord`] sealed for that flow ID (AEAD, the key name and the expiry inside;
//! see [`super::sealed`]). The server keeps nothing until the citizen has authenticated: an
//! anonymous request costs CPU, never memory. Then, in this order, single use is recorded where
//! it matters: an upstream callback's `state` once it has matched a flow that opened, and the
//! AuthnRequest's ID when an assertion is about to be issued for it (so exactly one assertion is
//! issued per request ID, however many flows a replayed request started).

use super::sealed::{self, SealPurpose};
use super::SpParticipation;
use super::{to_std, Answer, Browser, FlowError, FlowRecord, Idp, PendingRequest, SsoSession};
use super::{FlowCookie, Step, UpstreamFlow};
use crate::stores::RecordKind;
use crate::stores::StoreError;
use time::{Duration, OffsetDateTime};

/// Tokens and IDs we issue are 32 random bytes, base64url: 43 characters.
pub(super) const TOKEN_LEN: usize = 43;

/// Flows one browser may hold at once (tabs logging in to different services). Starting one
/// more drops the flow cookies that no longer open, then the oldest.
pub const MAX_FLOWS_PER_BROWSER: usize = 4;

/// Seal the request in a new flow for this browser and send the citizen to the method selection.
pub(super) async fn start_flow(
    idp: &Idp,
    browser: &Browser,
    request: PendingRequest,
) -> Result<Answer, FlowError> {
    let now = idp.clock.now();
    let flow_id = certs::random_token(idp.rng.as_ref())?;
    let record = FlowRecord {
        request,
        upstream: None,
        expires_at: (now + idp.settings.flow_ttl).unix_timestamp(),
    };
    let cookie = seal_flow(idp, &flow_id, &record, now)?;
    Ok(Answer {
        step: Step::Redirect(format!("/login?flow={flow_id}")),
        set_flow: Some(cookie),
        clear_flows: flows_to_drop(idp, browser, now),
        set_session: None,
        clear_session: false,
    })
}

/// The flow cookies to drop so that, with one more, the browser holds at most
/// [`MAX_FLOWS_PER_BROWSER`]: those that no longer open first, then the ones that expire first.
fn flows_to_drop(idp: &Idp, browser: &Browser, now: OffsetDateTime) -> Vec<String> {
    let mut held: Vec<(i64, &str)> = browser
        .flows
        .iter()
        .map(|(id, value)| {
            let expiry = open_record(idp, id, value, now).map_or(i64::MIN, |r| r.expires_at);
            (expiry, id.as_str())
        })
        .collect();
    held.sort();
    let mut drop: Vec<String> = held
        .iter()
        .take_while(|(expiry, _)| *expiry == i64::MIN)
        .map(|(_, id)| (*id).to_owned())
        .collect();
    let live = held.len() - drop.len();
    let excess = (live + 1).saturating_sub(MAX_FLOWS_PER_BROWSER);
    drop.extend(
        held.iter()
            .skip(drop.len())
            .take(excess)
            .map(|(_, id)| (*id).to_owned()),
    );
    drop
}

/// The record, sealed for its flow ID until the flow expires.
pub(super) fn seal_flow(
    idp: &Idp,
    flow_id: &str,
    record: &FlowRecord,
    now: OffsetDateTime,
) -> Result<FlowCookie, FlowError> {
    let ttl = Duration::seconds(record.expires_at - now.unix_timestamp());
    let value = sealed::seal_json(
        &idp.seal,
        SealPurpose::Flow,
        flow_id,
        record,
        now,
        ttl,
        idp.rng.as_ref(),
    )?;
    Ok(FlowCookie {
        flow_id: flow_id.to_owned(),
        value,
        max_age: ttl.whole_seconds().max(0),
    })
}

fn open_record(
    idp: &Idp,
    flow_id: &str,
    value: &str,
    now: OffsetDateTime,
) -> Result<FlowRecord, FlowError> {
    Ok(sealed::open_json(
        &idp.seal,
        SealPurpose::Flow,
        flow_id,
        value,
        now,
    )?)
}

/// This browser's flow `flow_id`, opened. A flow ID the browser holds no cookie for is not found
/// (it is another browser's, or one this browser has dropped: the server cannot tell, as it
/// keeps nothing); a cookie that does not open says why.
pub(super) fn load_flow(
    idp: &Idp,
    browser: &Browser,
    flow_id: &str,
) -> Result<FlowRecord, FlowError> {
    if flow_id.len() != TOKEN_LEN {
        return Err(FlowError::FlowNotFound);
    }
    let value = browser
        .flows
        .iter()
        .find(|(id, _)| id == flow_id)
        .map(|(_, v)| v)
        .ok_or(FlowError::FlowNotFound)?;
    open_record(idp, flow_id, value, idp.clock.now())
}

/// Remember that this flow went upstream: the adapter's secrets and the hash of the `state` it
/// was sent with, sealed again into the flow's cookie (same expiry). Only the latest attempt's
/// state finds the flow.
pub(super) fn attach_upstream(
    idp: &Idp,
    flow_id: &str,
    mut record: FlowRecord,
    method: &str,
    state: &str,
    pending: idp_adapters::UpstreamPending,
) -> Result<FlowCookie, FlowError> {
    record.upstream = Some(UpstreamFlow {
        method: method.to_owned(),
        pending,
        state_hash: sha256_hex(&[state.as_bytes()]),
    });
    seal_flow(idp, flow_id, &record, idp.clock.now())
}

/// The flow without its upstream attempt (cancelled there), sealed again (same expiry).
pub(super) fn retire_upstream(
    idp: &Idp,
    flow_id: &str,
    mut record: FlowRecord,
) -> Result<FlowCookie, FlowError> {
    record.upstream = None;
    seal_flow(idp, flow_id, &record, idp.clock.now())
}

/// The flow a callback's `state` belongs to: the one of this browser's flows that opens and
/// whose latest attempt was sent with this state, and whose state has not been used for a login
/// yet (read only: nothing is written for a callback until its upstream has verified it, see
/// [`claim_state`]).
pub(super) async fn flow_for_state(
    idp: &Idp,
    browser: &Browser,
    state: &str,
) -> Result<(String, FlowRecord), FlowError> {
    if state.is_empty() || state.len() > 256 {
        return Err(FlowError::FlowNotFound);
    }
    let now = idp.clock.now();
    let hash = sha256_hex(&[state.as_bytes()]);
    let found = browser.flows.iter().find_map(|(id, value)| {
        let record = open_record(idp, id, value, now).ok()?;
        let current = record.upstream.as_ref()?.state_hash.as_bytes();
        certs::constant_time_eq(current, hash.as_bytes()).then(|| (id.clone(), record))
    });
    let (flow_id, record) = found.ok_or(FlowError::FlowNotFound)?;
    if idp.single_use.contains(&state_marker(state)).await? {
        return Err(FlowError::FlowNotFound);
    }
    Ok((flow_id, record))
}

/// Record a callback's state as used, once its upstream has verified the login: of two
/// callbacks with one state, one goes on. Kept until the flow expires.
pub(super) async fn claim_state(
    idp: &Idp,
    state: &str,
    flow: &FlowRecord,
    now: OffsetDateTime,
) -> Result<(), FlowError> {
    let remaining = (flow.expires_at - now.unix_timestamp()).max(1);
    let first_use = idp
        .single_use
        .claim(
            &state_marker(state),
            std::time::Duration::from_secs(remaining as u64),
        )
        .await?;
    if !first_use {
        return Err(FlowError::FlowNotFound);
    }
    Ok(())
}

fn state_marker(state: &str) -> [u8; 32] {
    sha256(&[b"state\0", state.as_bytes()])
}

/// Record that an assertion is being issued for this request: `Err(Replay)` when one already
/// was. Kept until no other flow for this request could still finish: a flow started before now
/// ends within `flow_ttl` (checked here, at the claim, for the flow being finished); one started
/// later is refused at intake while the marker lives, and
/// intake accepts the request for at most `max_request_age` plus twice the clock skew from now
/// (its IssueInstant is no later than now plus the skew). So the longer of the two suffices.
pub(super) async fn claim_request(
    idp: &Idp,
    flow_expires_at: Option<i64>,
    request: &PendingRequest,
) -> Result<(), FlowError> {
    // A flow that expired while its upstream was verifying (a slow bank) is over: its replay
    // entry could already be gone.
    if let Some(expires_at) = flow_expires_at {
        let now = idp.clock.now();
        if now.unix_timestamp() >= expires_at {
            return Err(FlowError::Sealed(super::SealError::Expired {
                now,
                expired_at: OffsetDateTime::from_unix_timestamp(expires_at)
                    .unwrap_or(OffsetDateTime::UNIX_EPOCH),
            }));
        }
    }
    if !idp
        .replay
        .claim(&request_marker(request), replay_window(&idp.settings))
        .await?
    {
        return Err(FlowError::Replay);
    }
    Ok(())
}

/// How long a replay entry is kept (see [`claim_request`]).
pub fn replay_window(s: &super::Settings) -> std::time::Duration {
    to_std(s.flow_ttl.max(s.max_request_age + s.clock_skew * 2))
}

/// Whether an assertion was already issued for this request (nothing is written).
pub(super) async fn request_answered(
    idp: &Idp,
    sp_entity_id: &str,
    request_id: &str,
) -> Result<bool, FlowError> {
    Ok(idp
        .replay
        .contains(&request_key(sp_entity_id, request_id))
        .await?)
}

fn request_marker(request: &PendingRequest) -> [u8; 32] {
    request_key(&request.sp_entity_id, &request.request_id)
}

fn request_key(sp_entity_id: &str, request_id: &str) -> [u8; 32] {
    sha256(&[
        b"request\0",
        sp_entity_id.as_bytes(),
        b"\0",
        request_id.as_bytes(),
    ])
}

/// The browser's live SSO session, if any. A stored session that does not open (written into
/// the store by someone else, or moved there from another key) is no session: it is logged, and
/// the citizen logs in again.
pub(super) async fn load_session(
    idp: &Idp,
    browser: &Browser,
    now: OffsetDateTime,
) -> Result<Option<(String, SsoSession)>, FlowError> {
    let Some(sid) = browser.session.as_deref().filter(|s| s.len() == TOKEN_LEN) else {
        return Ok(None);
    };
    let raw = match idp.store.get(&session_key(idp, sid)).await {
        Ok(Some(raw)) => raw,
        Ok(None) => return Ok(None),
        Err(StoreError::Tampered { key, cause }) => {
            tracing::error!(code = "store.tampered", key = %key, cause = cause.code(),
                "a stored SSO session does not open with our keys (written or moved by someone who can write to the store?): ignored, the citizen logs in again");
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    let s: SsoSession = serde_json::from_slice(&raw)?;
    if !s.live_at(now.unix_timestamp()) {
        return Ok(None);
    }
    Ok(Some((sid.to_owned(), s)))
}

/// The session's idle end after a use at `now`: its idle lifetime on, never past its end.
pub(super) fn idle_end(idp: &Idp, session: &SsoSession, now: OffsetDateTime) -> i64 {
    (now + idp.settings.sso_idle_ttl)
        .unix_timestamp()
        .min(session.expires_at)
}

/// Store the session under its ID until its idle end.
pub(super) async fn save_session(
    idp: &Idp,
    sid: &str,
    session: &SsoSession,
    now: OffsetDateTime,
) -> Result<(), FlowError> {
    let remaining = session.idle_until - now.unix_timestamp();
    idp.store
        .put(
            &session_key(idp, sid),
            serde_json::to_vec(session)?,
            std::time::Duration::from_secs(remaining.max(1) as u64),
        )
        .await?;
    Ok(())
}

/// Record what `part.sp_entity_id` is given in the session (replacing what it was given
/// before). `Err(SessionEnded)` when the session ended meanwhile (a logout).
pub(super) async fn record_participation(
    idp: &Idp,
    sid: &str,
    part: &SpParticipation,
) -> Result<(), FlowError> {
    let added = idp
        .store
        .add_member(
            &session_key(idp, sid),
            &part.sp_entity_id,
            serde_json::to_vec(part)?,
        )
        .await?;
    if !added {
        return Err(FlowError::SessionEnded);
    }
    Ok(())
}

/// The service providers that took part in the session.
pub async fn participations(idp: &Idp, sid: &str) -> Result<Vec<SpParticipation>, FlowError> {
    let raw = idp.store.members(&session_key(idp, sid)).await?;
    raw.iter()
        .map(|r| serde_json::from_slice(r).map_err(FlowError::from))
        .collect()
}

pub(super) async fn end_session(idp: &Idp, sid: &str) -> Result<(), FlowError> {
    idp.store.delete(&session_key(idp, sid)).await?;
    Ok(())
}

pub fn sha256_hex(parts: &[&[u8]]) -> String {
    hex::encode(sha256(parts))
}

pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for p in parts {
        ctx.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

pub(super) fn session_key(idp: &Idp, sid: &str) -> String {
    idp.layout
        .key(RecordKind::Session, &sha256_hex(&[sid.as_bytes()]))
}
