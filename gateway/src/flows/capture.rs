//! The certificate chain the ID-card listener saw for a flow's `state`, kept once for a few
//! minutes and bound to the presenting browser by a one-time token that only that browser
//! received; the callback takes it back with the token.

use super::session::sha256_hex;
use super::{FlowError, Idp, UpstreamFailure};
use crate::stores::{RecordKind, StoreError};
use base64::Engine as _;
use std::time::Duration;

/// How long a captured chain waits for the browser to reach the callback.
const CAPTURE_TTL: Duration = Duration::from_secs(300);

/// What the listener stores for a state: the presented chain (base64 DER) and the hash of the
/// token only the presenting browser received.
#[derive(serde::Serialize, serde::Deserialize)]
struct Capture {
    chain: Vec<String>,
    token_hash: String,
}

/// A recorded capture: the token to put in the presenting browser's redirect.
#[derive(Debug)]
pub struct CaptureGrant {
    pub token: String,
}

/// Record the chain presented for `state` (once: a second capture for the same state is refused).
pub async fn record_capture(
    idp: &Idp,
    state: &str,
    chain: &[Vec<u8>],
) -> Result<CaptureGrant, FlowError> {
    let token = certs::random_token(idp.rng.as_ref())?;
    let record = Capture {
        chain: chain
            .iter()
            .map(|der| base64::engine::general_purpose::STANDARD.encode(der))
            .collect(),
        token_hash: sha256_hex(&[token.as_bytes()]),
    };
    let fresh = idp
        .store
        .insert_if_absent(
            &capture_key(idp, state),
            serde_json::to_vec(&record)?,
            CAPTURE_TTL,
        )
        .await?;
    if !fresh {
        return Err(FlowError::upstream(
            idp_adapters::idcard::IDCARD_ID,
            UpstreamFailure::CaptureReplayed,
        ));
    }
    Ok(CaptureGrant { token })
}

pub(super) enum CaptureFailure {
    Store(StoreError),
    Refused(UpstreamFailure),
}

/// The chain captured for this state, taken once, if `token` is the one the listener gave the
/// presenting browser. `Ok(None)`: nothing captured (the browser did not pass the listener).
pub(super) async fn take_capture(
    idp: &Idp,
    state: &str,
    token: Option<&str>,
) -> Result<Option<Vec<Vec<u8>>>, CaptureFailure> {
    let Some(raw) = idp
        .store
        .take(&capture_key(idp, state))
        .await
        .map_err(CaptureFailure::Store)?
    else {
        return Ok(None);
    };
    let record: Capture = serde_json::from_slice(&raw)
        .map_err(|_| CaptureFailure::Refused(UpstreamFailure::CaptureUnreadable))?;
    let presented = sha256_hex(&[token.unwrap_or_default().as_bytes()]);
    if token.is_none()
        || !certs::constant_time_eq(presented.as_bytes(), record.token_hash.as_bytes())
    {
        return Err(CaptureFailure::Refused(UpstreamFailure::CaptureMismatch));
    }
    let chain = record
        .chain
        .iter()
        .map(|b64| base64::engine::general_purpose::STANDARD.decode(b64))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| CaptureFailure::Refused(UpstreamFailure::CaptureUnreadable))?;
    Ok(Some(chain))
}

fn capture_key(idp: &Idp, state: &str) -> String {
    idp.layout
        .key(RecordKind::Capture, &sha256_hex(&[state.as_bytes()]))
}
