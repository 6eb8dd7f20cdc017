//! The certificate chain the ID-card listener saw for a flow's `state`, sealed into the redirect
//! that sends the presenting browser back to the callback: nothing is kept on the server. The
//! token is bound to the state (the associated data), expires after [`CAPTURE_TTL`], and only
//! the presenting browser receives it; the callback opens it only after the state has matched
//! one of the browser's own flows, and the state's single use then covers the capture too.
//!
//! The sealed payload is binary (a query parameter has no room for base64 inside base64): a
//! tag byte, then for a chain each certificate as a 2-byte big-endian length and its DER. A
//! chain over the adapter's caps is not carried at all: the tag says which cap it broke, and the
//! callback refuses with the adapter's own code.

use super::sealed::{self, SealError, SealPurpose};
use super::{FlowError, Idp, UpstreamFailure};
use idp_adapters::idcard::{CardError, MAX_CERT_BYTES, MAX_CHAIN_LEN};
use idp_adapters::AdapterError;
use time::Duration;

/// How long a captured chain waits for the browser to reach the callback.
pub const CAPTURE_TTL: Duration = Duration::minutes(5);

const CHAIN: u8 = 0;
const CHAIN_TOO_LONG: u8 = 1;
const CERTIFICATE_TOO_LARGE: u8 = 2;

/// Seal the chain presented for `state`, for the presenting browser's redirect.
pub fn seal_capture(idp: &Idp, state: &str, chain: &[Vec<u8>]) -> Result<String, FlowError> {
    let total: usize = chain.iter().map(|c| c.len() + 2).sum();
    // What the seal can carry in its query parameter, less its own framing.
    let room = SealPurpose::Capture.max_len() * 3 / 4 - 64;
    let payload = if chain.len() > MAX_CHAIN_LEN {
        vec![CHAIN_TOO_LONG]
    } else if let Some(len) = chain
        .iter()
        .map(Vec::len)
        .find(|l| *l > MAX_CERT_BYTES)
        .or((total > room).then_some(total))
    {
        let mut p = vec![CERTIFICATE_TOO_LARGE];
        p.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
        p
    } else {
        let mut p = Vec::with_capacity(1 + total);
        p.push(CHAIN);
        for der in chain {
            let len = u16::try_from(der.len()).map_err(|_| SealError::Malformed("certificate"))?;
            p.extend_from_slice(&len.to_be_bytes());
            p.extend_from_slice(der);
        }
        p
    };
    Ok(sealed::seal(
        &idp.seal,
        SealPurpose::Capture,
        state,
        &payload,
        idp.clock.now(),
        CAPTURE_TTL,
        idp.rng.as_ref(),
    )?)
}

/// The chain sealed for this state. `Ok(None)`: no token (the browser did not pass the
/// listener); a token that does not open for this state is refused, and so is a chain the
/// listener found over the adapter's caps.
pub(super) fn open_capture(
    idp: &Idp,
    state: &str,
    token: Option<&str>,
) -> Result<Option<Vec<Vec<u8>>>, UpstreamFailure> {
    let Some(token) = token else {
        return Ok(None);
    };
    let payload = sealed::open(
        &idp.seal,
        SealPurpose::Capture,
        state,
        token,
        idp.clock.now(),
    )
    .map_err(|e| match e {
        SealError::Expired { .. } => UpstreamFailure::CaptureExpired,
        SealError::KeyRing(_) | SealError::Backend(_) => UpstreamFailure::CaptureUnreadable(e),
        // Not a capture of ours for this state: forged, altered, for another state, or
        // sealed with a key no longer held.
        _ => UpstreamFailure::CaptureMismatch,
    })?;
    let unreadable = || UpstreamFailure::CaptureUnreadable(SealError::Malformed("capture"));
    let card = |e: CardError| UpstreamFailure::Adapter(AdapterError::Card(e));
    let (&tag, mut rest) = payload.split_first().ok_or_else(unreadable)?;
    match tag {
        CHAIN => {
            let mut chain = Vec::new();
            while !rest.is_empty() {
                let (len, tail) = rest.split_at_checked(2).ok_or_else(unreadable)?;
                let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
                let (der, tail) = tail.split_at_checked(len).ok_or_else(unreadable)?;
                chain.push(der.to_vec());
                rest = tail;
            }
            Ok(Some(chain))
        }
        CHAIN_TOO_LONG => Err(card(CardError::ChainTooLong { max: MAX_CHAIN_LEN })),
        CERTIFICATE_TOO_LARGE => {
            let len: [u8; 4] = rest.try_into().map_err(|_| unreadable())?;
            Err(card(CardError::CertificateTooLarge {
                len: u32::from_be_bytes(len) as usize,
                max: MAX_CERT_BYTES,
            }))
        }
        _ => Err(unreadable()),
    }
}
