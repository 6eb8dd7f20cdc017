//! Flow records and SSO sessions in the store: starting a flow bound to the browser, finding it
//! again (by its ID or by an upstream's `state`), consuming it once, and reading the session.

use super::{to_std, Answer, Browser, FlowError, FlowRecord, Idp, PendingRequest, SsoSession};
use super::{Step, UpstreamFlow};
use crate::stores::RecordKind;
use time::OffsetDateTime;

/// Tokens and IDs we issue are 32 random bytes, base64url: 43 characters.
const TOKEN_LEN: usize = 43;

/// Keep the request in a new flow bound to this browser (a binding token is issued if it has
/// none) and send the citizen to the method selection.
pub(super) async fn start_flow(
    idp: &Idp,
    browser: &Browser,
    request: PendingRequest,
) -> Result<Answer, FlowError> {
    let flow_id = certs::random_token(idp.rng.as_ref())?;
    let (binding, new_binding) = match browser.binding.as_deref().filter(|c| c.len() == TOKEN_LEN) {
        Some(c) => (c.to_owned(), false),
        None => (certs::random_token(idp.rng.as_ref())?, true),
    };
    let record = FlowRecord {
        upstream: None,
        request,
        browser: sha256_hex(&[binding.as_bytes()]),
    };
    idp.store
        .put(
            &flow_key(idp, &flow_id),
            serde_json::to_vec(&record)?,
            to_std(idp.settings.flow_ttl),
        )
        .await?;
    Ok(Answer {
        step: Step::Redirect(format!("/login?flow={flow_id}")),
        set_binding: new_binding.then_some(binding),
        set_session: None,
    })
}

/// Remember that this flow went upstream: the adapter's secrets in the flow record, and an
/// index from the callback's `state` to the flow (taken once by the callback). An earlier
/// attempt's state stops finding the flow.
pub(super) async fn attach_upstream(
    idp: &Idp,
    browser: &Browser,
    flow_id: &str,
    method: &str,
    state: &str,
    pending: idp_adapters::UpstreamPending,
) -> Result<(), FlowError> {
    let mut rec = load_flow(idp, browser, flow_id).await?;
    if let Some(previous) = &rec.upstream {
        if !previous.state_hash.is_empty() {
            idp.store
                .delete(
                    &idp.layout
                        .key(RecordKind::UpstreamState, &previous.state_hash),
                )
                .await?;
        }
    }
    let state_hash = sha256_hex(&[state.as_bytes()]);
    rec.upstream = Some(UpstreamFlow {
        method: method.to_owned(),
        pending,
        state_hash: state_hash.clone(),
    });
    let ttl = to_std(idp.settings.flow_ttl);
    idp.store
        .put(&flow_key(idp, flow_id), serde_json::to_vec(&rec)?, ttl)
        .await?;
    idp.store
        .put(
            &idp.layout.key(RecordKind::UpstreamState, &state_hash),
            flow_id.as_bytes().to_vec(),
            ttl,
        )
        .await?;
    Ok(())
}

/// The flow a callback's `state` belongs to, checked to be this browser's and this state to be
/// its latest attempt; then the index entry is consumed (a replayed state finds nothing).
pub(super) async fn flow_for_state(
    idp: &Idp,
    browser: &Browser,
    state: &str,
) -> Result<(String, FlowRecord), FlowError> {
    let flow_id = flow_id_for_state(idp, state).await?;
    let flow = load_flow(idp, browser, &flow_id).await?;
    check_current_state(&flow, state)?;
    idp.store
        .take(&state_key(idp, state))
        .await?
        .ok_or(FlowError::FlowNotFound)?;
    Ok((flow_id, flow))
}

/// The flow an upstream `state` belongs to, read without consuming anything and without the
/// browser check: for the certificate listener, which may be another origin than the one the
/// browser-binding cookie belongs to. It only learns whether the state is live and for which
/// method; the callback on the gateway's origin does the binding check and consumes the state.
pub async fn peek_flow_for_state(idp: &Idp, state: &str) -> Result<FlowRecord, FlowError> {
    let flow_id = flow_id_for_state(idp, state).await?;
    let flow = read_flow(idp, &flow_id).await?;
    check_current_state(&flow, state)?;
    Ok(flow)
}

/// Read the flow record and check it belongs to this browser.
pub(super) async fn load_flow(
    idp: &Idp,
    browser: &Browser,
    flow_id: &str,
) -> Result<FlowRecord, FlowError> {
    let rec = read_flow(idp, flow_id).await?;
    check_browser(&rec, browser)?;
    Ok(rec)
}

/// Consume the flow record: of two concurrent finishes, one proceeds. The browser is checked
/// before anything is consumed: another browser that learned the flow ID must not be able to
/// destroy the citizen's login.
pub(super) async fn take_flow(
    idp: &Idp,
    browser: &Browser,
    flow_id: &str,
) -> Result<FlowRecord, FlowError> {
    load_flow(idp, browser, flow_id).await?;
    let raw = idp
        .store
        .take(&flow_key(idp, flow_id))
        .await?
        .ok_or(FlowError::FlowNotFound)?;
    let rec: FlowRecord = serde_json::from_slice(&raw)?;
    check_browser(&rec, browser)?;
    Ok(rec)
}

/// The browser's live SSO session, if any.
pub(super) async fn load_session(
    idp: &Idp,
    browser: &Browser,
    now: OffsetDateTime,
) -> Result<Option<(String, SsoSession)>, FlowError> {
    let Some(sid) = browser.session.as_deref().filter(|s| s.len() == TOKEN_LEN) else {
        return Ok(None);
    };
    let Some(raw) = idp.store.get(&session_key(idp, sid)).await? else {
        return Ok(None);
    };
    let s: SsoSession = serde_json::from_slice(&raw)?;
    if s.expires_at <= now.unix_timestamp() {
        return Ok(None);
    }
    Ok(Some((sid.to_owned(), s)))
}

/// Store the session under its ID until it expires.
pub(super) async fn save_session(
    idp: &Idp,
    sid: &str,
    session: &SsoSession,
    now: OffsetDateTime,
) -> Result<(), FlowError> {
    let remaining = session.expires_at - now.unix_timestamp();
    idp.store
        .put(
            &session_key(idp, sid),
            serde_json::to_vec(session)?,
            std::time::Duration::from_secs(remaining.max(1) as u64),
        )
        .await?;
    Ok(())
}

pub(super) async fn end_session(idp: &Idp, sid: &str) -> Result<(), FlowError> {
    idp.store.delete(&session_key(idp, sid)).await?;
    Ok(())
}

pub fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for p in parts {
        ctx.update(p);
    }
    hex::encode(ctx.finish().as_ref())
}

/// The flow ID the index for `state` points at (nothing is consumed).
async fn flow_id_for_state(idp: &Idp, state: &str) -> Result<String, FlowError> {
    if state.is_empty() || state.len() > 256 {
        return Err(FlowError::FlowNotFound);
    }
    let raw = idp
        .store
        .get(&state_key(idp, state))
        .await?
        .ok_or(FlowError::FlowNotFound)?;
    String::from_utf8(raw).map_err(|_| FlowError::FlowNotFound)
}

fn check_current_state(flow: &FlowRecord, state: &str) -> Result<(), FlowError> {
    let current = flow.upstream.as_ref().map(|u| u.state_hash.as_str());
    if current != Some(sha256_hex(&[state.as_bytes()]).as_str()) {
        return Err(FlowError::FlowNotFound);
    }
    Ok(())
}

/// The flow record, whoever asks (callers check the browser, or say why they need not).
async fn read_flow(idp: &Idp, flow_id: &str) -> Result<FlowRecord, FlowError> {
    if flow_id.len() != TOKEN_LEN {
        return Err(FlowError::FlowNotFound);
    }
    let raw = idp
        .store
        .get(&flow_key(idp, flow_id))
        .await?
        .ok_or(FlowError::FlowNotFound)?;
    Ok(serde_json::from_slice(&raw)?)
}

fn check_browser(rec: &FlowRecord, browser: &Browser) -> Result<(), FlowError> {
    let token = browser
        .binding
        .as_deref()
        .ok_or(FlowError::BrowserMismatch)?;
    let presented = sha256_hex(&[token.as_bytes()]);
    if !certs::constant_time_eq(presented.as_bytes(), rec.browser.as_bytes()) {
        return Err(FlowError::BrowserMismatch);
    }
    Ok(())
}

fn flow_key(idp: &Idp, flow_id: &str) -> String {
    idp.layout
        .key(RecordKind::Flow, &sha256_hex(&[flow_id.as_bytes()]))
}

fn state_key(idp: &Idp, state: &str) -> String {
    idp.layout
        .key(RecordKind::UpstreamState, &sha256_hex(&[state.as_bytes()]))
}

fn session_key(idp: &Idp, sid: &str) -> String {
    idp.layout
        .key(RecordKind::Session, &sha256_hex(&[sid.as_bytes()]))
}
