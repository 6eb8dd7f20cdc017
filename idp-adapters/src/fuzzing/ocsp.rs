//! The entry point shared by the `idcard_ocsp` fuzz target (`fuzz/`, outside the workspace) and
//! the corpus replay test (`tests/ocsp_fuzz_corpus.rs`): arbitrary bytes in, an OCSP response
//! judged by [`OcspRequest::verify_response`] (the strict DER reader, the signature and responder
//! checks, freshness, nonce, status) for one fixed request, with fixed trust data and clock.
//!
//! [`ocsp_response`] must not panic on any input: a panic is the bug the fuzzer reports.
//!
//! # Input framing
//!
//! ```text
//! input = mode body                 (no byte at all: an empty response)
//! mode  = 1 byte
//!   bit 0 clear: body is the OCSPResponse as a responder sends it
//!   bit 0 set:   body is a tbsResponseData; the harness signs it (ECDSA P-256, SHA-256) and wraps
//!                it in a BasicOCSPResponse and a successful OCSPResponse
//!   bit 1:       (with bit 0) sign as the delegated responder and attach its certificate,
//!                instead of as the issuer
//!   bit 2:       the nonce is required (NonceMode::Required), else only checked if echoed
//! ```
//!
//! The response data is read only after its signature verified, and the fuzzer cannot forge a
//! signature: the signing modes let its mutations of the response data reach the field reader,
//! the nonce and freshness checks and the status, which raw mode reaches only with the seeds.
//!
//! The request asks about the test PKI's valid card (`card.der`) issued by its intermediate
//! (`issuer.der`), with the nonce [`NONCE`]. The trust data, committed under `fuzz/seed-pki/ocsp/`
//! with the keys that sign the seeds (test keys that nothing trusts), is built in with
//! `include_bytes!` so the committed seeds keep verifying; the replay test regenerates both.

use std::sync::OnceLock;

use certs::SigningKey;
use time::Duration;

use super::NOW;
use crate::idcard::{CardError, NonceMode, OcspGood, OcspRequest};

/// The nonce the fixed request sends (32 bytes, as the gateway sends).
pub const NONCE: [u8; 32] = *b"fuzz-ocsp-nonce-0123456789abcdef";
/// How old a response without nextUpdate may be (the gateway's default).
pub const MAX_AGE_WITHOUT_NEXT_UPDATE: Duration = Duration::hours(1);

/// Mode bit: the body is a tbsResponseData for the harness to sign.
pub const MODE_SIGN: u8 = 0b001;
/// Mode bit (with [`MODE_SIGN`]): sign as the delegated responder, its certificate attached.
pub const MODE_DELEGATED: u8 = 0b010;
/// Mode bit: the response must echo the nonce.
pub const MODE_NONCE_REQUIRED: u8 = 0b100;

/// The committed trust data (see the module documentation).
pub mod trust_data {
    macro_rules! seed_pki {
        ($file:literal) => {
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../fuzz/seed-pki/ocsp/",
                $file
            ))
        };
    }
    /// The card's issuer (the test PKI's intermediate CA) and its key.
    pub const ISSUER: &[u8] = seed_pki!("issuer.der");
    pub const ISSUER_KEY_PEM: &[u8] = seed_pki!("issuer-key.pem");
    /// The citizen certificate the request asks about.
    pub const CARD: &[u8] = seed_pki!("card.der");
    /// A responder certificate the issuer signed with id-kp-OCSPSigning, and its key.
    pub const RESPONDER: &[u8] = seed_pki!("responder.der");
    pub const RESPONDER_KEY_PEM: &[u8] = seed_pki!("responder-key.pem");
}

/// The refusal codes: `CardError::OcspUnavailable` carries only a sentence, so each sentence
/// [`OcspRequest::verify_response`] can give gets a code here. A sentence missing from this table
/// comes out as [`UNLISTED`], which the replay test refuses: a reworded or new refusal has to be
/// added here, not silently pass as "some error".
pub const OCSP_CODES: &[(&str, &str)] = &[
    ("the OCSP response is too large", "ocsp.too_large"),
    ("malformed OCSP response", "ocsp.malformed"),
    (
        "the OCSP responder says our request was malformed",
        "ocsp.status_malformed_request",
    ),
    (
        "the OCSP responder had an internal error",
        "ocsp.status_internal_error",
    ),
    ("the OCSP responder says try later", "ocsp.status_try_later"),
    (
        "the OCSP responder requires signed requests",
        "ocsp.status_sig_required",
    ),
    (
        "the OCSP responder refused the request as unauthorized",
        "ocsp.status_unauthorized",
    ),
    ("the OCSP response has an unknown status", "ocsp.status_unknown"),
    (
        "unsupported OCSP response type (not id-pkix-ocsp-basic)",
        "ocsp.response_type",
    ),
    (
        "too many certificates in the OCSP response",
        "ocsp.too_many_certificates",
    ),
    ("unsupported OCSP response version", "ocsp.version"),
    (
        "too many statuses in the OCSP response",
        "ocsp.too_many_statuses",
    ),
    (
        "unsupported critical extension in the OCSP response",
        "ocsp.critical_extension",
    ),
    (
        "unsupported OCSP signature algorithm",
        "ocsp.signature_algorithm",
    ),
    (
        "the OCSP response signature does not verify",
        "ocsp.bad_signature",
    ),
    (
        "malformed certificate in the OCSP response",
        "ocsp.malformed_certificate",
    ),
    (
        "the OCSP responder is not authorized by the certificate's issuer, or its signature does not verify",
        "ocsp.unauthorized_responder",
    ),
    (
        "the OCSP responder is neither the issuer nor in the response",
        "ocsp.unknown_responder",
    ),
    (
        "the OCSP response was produced in the future",
        "ocsp.produced_in_future",
    ),
    (
        "the OCSP response echoes another nonce",
        "ocsp.nonce_mismatch",
    ),
    ("the OCSP response does not echo our nonce", "ocsp.nonce_missing"),
    (
        "the OCSP response has no status for this certificate",
        "ocsp.no_status",
    ),
    (
        "the OCSP response has several statuses for this certificate",
        "ocsp.several_statuses",
    ),
    ("the OCSP response is not valid yet", "ocsp.not_yet_valid"),
    (
        "the OCSP response is stale (nextUpdate passed)",
        "ocsp.stale",
    ),
    (
        "the OCSP response is stale (no nextUpdate)",
        "ocsp.stale_no_next_update",
    ),
    (
        "the OCSP responder does not know the certificate",
        "ocsp.unknown_certificate",
    ),
];

/// The code of an `OcspUnavailable` sentence missing from [`OCSP_CODES`].
pub const UNLISTED: &str = "ocsp.unlisted";

/// Run one fuzz input (framed as in the module documentation). `Err` carries the refusal's code:
/// one of [`OCSP_CODES`], `idcard.ocsp_revoked`, another `CardError` code, [`UNLISTED`], or
/// `fuzz.trust_data` when the committed trust data is unusable.
pub fn ocsp_response(data: &[u8]) -> Result<OcspGood, &'static str> {
    let trust = trust()?;
    let (mode, body) = data.split_first().map_or((0, data), |(m, b)| (*m, b));
    let nonce = if mode & MODE_NONCE_REQUIRED != 0 {
        NonceMode::Required
    } else {
        NonceMode::IfEchoed
    };
    let signed;
    let response = if mode & MODE_SIGN == 0 {
        body
    } else {
        let (key, certs) = if mode & MODE_DELEGATED == 0 {
            (&trust.issuer_key, &[][..])
        } else {
            (&trust.responder_key, &[trust_data::RESPONDER][..])
        };
        signed = sign_response(body, key, certs)?;
        &signed
    };
    trust
        .request
        .verify_response(response, NOW, nonce, MAX_AGE_WITHOUT_NEXT_UPDATE)
        .map_err(|e| ocsp_code(&e))
}

/// The refusal's code (see [`OCSP_CODES`]).
pub fn ocsp_code(e: &CardError) -> &'static str {
    match e {
        CardError::OcspUnavailable(reason) => OCSP_CODES
            .iter()
            .find(|(sentence, _)| sentence == reason)
            .map_or(UNLISTED, |(_, code)| code),
        other => other.code(),
    }
}

/// Frame an OCSPResponse as a raw-mode input.
pub fn raw_input(response: &[u8], nonce_required: bool) -> Vec<u8> {
    let mode = if nonce_required {
        MODE_NONCE_REQUIRED
    } else {
        0
    };
    [&[mode][..], response].concat()
}

/// Frame a tbsResponseData for the harness to sign, as the delegated responder or the issuer.
pub fn signed_input(tbs: &[u8], delegated: bool, nonce_required: bool) -> Vec<u8> {
    let mut mode = MODE_SIGN;
    if delegated {
        mode |= MODE_DELEGATED;
    }
    if nonce_required {
        mode |= MODE_NONCE_REQUIRED;
    }
    [&[mode][..], tbs].concat()
}

/// `tbs` signed by `key` (ECDSA P-256 with SHA-256), as a successful OCSPResponse carrying a
/// BasicOCSPResponse with `certs`.
pub fn sign_response(
    tbs: &[u8],
    key: &SigningKey,
    certs: &[&[u8]],
) -> Result<Vec<u8>, &'static str> {
    let signature = ecdsa_signature_value(key, tbs)?;
    let mut basic = [
        tbs.to_vec(),
        der(SEQUENCE, &der(OID, OID_ECDSA_SHA256)),
        der(BIT_STRING, &[&[0][..], &signature].concat()),
    ]
    .concat();
    if !certs.is_empty() {
        basic.extend(der(CONTEXT_0, &der(SEQUENCE, &certs.concat())));
    }
    Ok(successful_response(&der(SEQUENCE, &basic)))
}

/// A successful OCSPResponse around a BasicOCSPResponse (`basic`, DER).
pub fn successful_response(basic: &[u8]) -> Vec<u8> {
    let bytes = der(
        SEQUENCE,
        &[der(OID, OID_OCSP_BASIC), der(OCTET_STRING, basic)].concat(),
    );
    der(
        SEQUENCE,
        &[der(ENUMERATED, &[0]), der(CONTEXT_0, &bytes)].concat(),
    )
}

/// An ECDSA signature as X.509 and OCSP carry it: `SEQUENCE { r INTEGER, s INTEGER }`.
pub fn ecdsa_signature_value(key: &SigningKey, message: &[u8]) -> Result<Vec<u8>, &'static str> {
    let rs = key.sign(message).map_err(|_| "fuzz.signing")?;
    let (r, s) = rs.split_at(rs.len() / 2);
    Ok(der(SEQUENCE, &[integer(r), integer(s)].concat()))
}

/// One DER element with a low tag number and a definite, shortest length.
pub fn der(id: u8, contents: &[u8]) -> Vec<u8> {
    let len = contents.len();
    let mut out = Vec::with_capacity(len + 10);
    out.push(id);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(bytes.get(skip..).unwrap_or_default());
    }
    out.extend_from_slice(contents);
    out
}

/// A DER INTEGER of the unsigned big-endian `bytes`.
pub fn integer(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    let mut value = bytes.get(start..).unwrap_or_default().to_vec();
    if value.first().is_none_or(|b| b & 0x80 != 0) {
        value.insert(0, 0);
    }
    der(INTEGER, &value)
}

pub const INTEGER: u8 = 0x02;
pub const BIT_STRING: u8 = 0x03;
pub const OCTET_STRING: u8 = 0x04;
pub const OID: u8 = 0x06;
pub const ENUMERATED: u8 = 0x0A;
pub const SEQUENCE: u8 = 0x30;
pub const CONTEXT_0: u8 = 0xA0;
/// 1.2.840.10045.4.3.2 (ecdsa-with-SHA256)
pub const OID_ECDSA_SHA256: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02];
/// 1.3.6.1.5.5.7.48.1.1 (id-pkix-ocsp-basic)
pub const OID_OCSP_BASIC: &[u8] = &[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01];

/// The request and the signing keys, built once; no input changes what the next one sees.
struct Trust {
    request: OcspRequest,
    issuer_key: SigningKey,
    responder_key: SigningKey,
}

fn trust() -> Result<&'static Trust, &'static str> {
    static TRUST: OnceLock<Option<Trust>> = OnceLock::new();
    TRUST
        .get_or_init(|| build_trust().ok())
        .as_ref()
        .ok_or("fuzz.trust_data")
}

fn build_trust() -> Result<Trust, String> {
    let key = |pem: &[u8]| {
        let pem = std::str::from_utf8(pem).map_err(|e| e.to_string())?;
        SigningKey::from_pkcs8_pem(pem).map_err(|e| e.to_string())
    };
    Ok(Trust {
        request: OcspRequest::new(trust_data::CARD, trust_data::ISSUER, Some(&NONCE))
            .map_err(|e| e.to_string())?,
        issuer_key: key(trust_data::ISSUER_KEY_PEM)?,
        responder_key: key(trust_data::RESPONDER_KEY_PEM)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_lengths_are_shortest() {
        assert_eq!(der(OCTET_STRING, &[]), [0x04, 0x00]);
        assert_eq!(der(OCTET_STRING, &[7; 0x7F])[..2], [0x04, 0x7F]);
        assert_eq!(der(OCTET_STRING, &[7; 0x80])[..3], [0x04, 0x81, 0x80]);
        assert_eq!(
            der(OCTET_STRING, &[7; 0x100])[..4],
            [0x04, 0x82, 0x01, 0x00]
        );
        assert_eq!(integer(&[0, 0, 0x7F]), [0x02, 0x01, 0x7F]);
        assert_eq!(integer(&[0, 0x80]), [0x02, 0x02, 0x00, 0x80]);
        assert_eq!(integer(&[0, 0]), [0x02, 0x01, 0x00]);
    }

    #[test]
    fn codes_are_distinct_and_garbage_is_malformed() {
        let mut codes: Vec<&str> = OCSP_CODES.iter().map(|(_, code)| *code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), OCSP_CODES.len());
        for data in [
            &b""[..],
            b"\x00",
            b"\x00\x30\x00",
            b"\x01",
            b"\x03\x30\x00",
            b"\x04",
        ] {
            assert_eq!(
                ocsp_response(data).err(),
                Some("ocsp.malformed"),
                "{data:?}"
            );
        }
    }
}
