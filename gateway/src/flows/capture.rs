//! The certificate chain the ID-card listener saw for a flow's `state`, sealed into the redirect
//! that sends the presenting browser back to the callback: nothing is kept on the server. The
//! token is bound to the state (the associated data), expires after [`CAPTURE_TTL`], and only
//! the presenting browser receives it; the callback opens it only after the state has matched
//! one of the browser's own flows, and the state's single use then covers the capture too.

use super::sealed::{self, SealPurpose};
use super::{FlowError, Idp, UpstreamFailure};
use base64::Engine as _;
use time::Duration;

/// How long a captured chain waits for the browser to reach the callback.
pub const CAPTURE_TTL: Duration = Duration::minutes(5);

/// The chain as sealed: base64 DER certificates, leaf first.
#[derive(serde::Serialize, serde::Deserialize)]
struct Capture {
    chain: Vec<String>,
}

/// Seal the chain presented for `state`, for the presenting browser's redirect.
pub fn seal_capture(idp: &Idp, state: &str, chain: &[Vec<u8>]) -> Result<String, FlowError> {
    let record = Capture {
        chain: chain
            .iter()
            .map(|der| base64::engine::general_purpose::STANDARD.encode(der))
            .collect(),
    };
    Ok(sealed::seal_json(
        &idp.seal,
        SealPurpose::Capture,
        state,
        &record,
        idp.clock.now(),
        CAPTURE_TTL,
        idp.rng.as_ref(),
    )?)
}

/// The chain sealed for this state. `Ok(None)`: no token (the browser did not pass the
/// listener); a token that does not open for this state is refused.
pub(super) fn open_capture(
    idp: &Idp,
    state: &str,
    token: Option<&str>,
) -> Result<Option<Vec<Vec<u8>>>, UpstreamFailure> {
    let Some(token) = token else {
        return Ok(None);
    };
    let record: Capture =
        sealed::open_json(&idp.seal, SealPurpose::Capture, state, token, idp.clock.now())
            .map_err(|e| match e {
                sealed::SealError::Tampered => UpstreamFailure::CaptureMismatch,
                other => UpstreamFailure::CaptureUnreadable(other),
            })?;
    let chain = record
        .chain
        .iter()
        .map(|b64| base64::engine::general_purpose::STANDARD.decode(b64))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| UpstreamFailure::CaptureUnreadable(sealed::SealError::Malformed("chain")))?;
    Ok(Some(chain))
}
