//! Every flow error, mapped explicitly to what the citizen sees: a status, a message in their
//! language and an error ID. The log has the private cause under the same ID. Each match below
//! names every variant, so a new failure cannot reach the citizen without a decision here.

use super::i18n::{texts, Texts};
use super::pages;
use crate::flows::{FlowError, SealError, UpstreamFailure};
use crate::stores::StoreError;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use idp_adapters::ftn::FtnError;
use idp_adapters::idcard::CardError;
use idp_adapters::{AdapterError, Language};
use saml::authn_request::IntakeError;

/// The citizen's page for `error`, with the cause logged under a fresh error ID.
pub fn page(error: FlowError, lang: Language, rng: &dyn certs::RandomSource) -> Response {
    let error_id = error_id(rng);
    let (status, message) = status_and_message(&error, texts(lang));
    let cause = log_cause(&error);
    // A full store warns once a minute itself; a line per refused request would let a flood
    // write the log as fast as it sends.
    let full = matches!(error.cause(), FlowError::Store(StoreError::Full { .. }));
    if status.is_server_error() && !full {
        tracing::error!(error_id = %error_id, code = error.code(), cause = ?cause, "request failed");
    }
    // A refused login is an audit event even when the gateway's side is at fault (a stale
    // CRL, an unreachable bank).
    if !status.is_server_error() || matches!(error.cause(), FlowError::Upstream { .. }) {
        tracing::warn!(target: "audit", event = "refused", error_id = %error_id, code = error.code(), cause = ?cause);
    }
    let mut resp = (status, Html(pages::error_page(lang, message, &error_id))).into_response();
    super::http::security_headers(resp.headers_mut(), None);
    if let FlowError::FlowEnded { flow_id, .. } = &error {
        resp.headers_mut().append(
            axum::http::header::SET_COOKIE,
            super::http::clear_flow_cookie(flow_id),
        );
    }
    resp
}

fn status_and_message(error: &FlowError, t: &Texts) -> (StatusCode, &'static str) {
    match error {
        FlowError::Intake(e) => intake_refusal(e, t),
        FlowError::Binding(saml::SamlError::TooLarge { .. }) => {
            (StatusCode::PAYLOAD_TOO_LARGE, t.err_bad_request)
        }
        FlowError::Binding(_) | FlowError::Acs(_) | FlowError::Replay => {
            (StatusCode::BAD_REQUEST, t.err_bad_request)
        }
        FlowError::FlowNotFound | FlowError::SessionEnded => {
            (StatusCode::BAD_REQUEST, t.err_expired)
        }
        FlowError::LogoutNotFound => (StatusCode::BAD_REQUEST, t.err_logout_expired),
        FlowError::Oidc(crate::flows::oidc::OidcError::NotEnabled) => {
            (StatusCode::NOT_FOUND, t.err_bad_request)
        }
        FlowError::Oidc(_) => (StatusCode::BAD_REQUEST, t.err_bad_request),
        FlowError::NoLogoutEndpoint(_) => (StatusCode::BAD_REQUEST, t.err_no_logout_endpoint),
        FlowError::Sealed(e) => sealed_refusal(e, t),
        FlowError::MethodUnavailable(_) => (StatusCode::NOT_FOUND, t.err_method),
        FlowError::BadForm(_) | FlowError::InvalidInput(_) => {
            (StatusCode::BAD_REQUEST, t.err_invalid_input)
        }
        FlowError::Upstream { failure, .. } => upstream_failure(failure, t),
        FlowError::Store(StoreError::Full { .. }) => (StatusCode::SERVICE_UNAVAILABLE, t.err_busy),
        FlowError::Store(StoreError::Unavailable(_)) => {
            (StatusCode::SERVICE_UNAVAILABLE, t.err_unavailable)
        }
        // A stored record that does not open: someone wrote to the store, or a key was
        // removed too early. Our side's fault, logged as an error.
        FlowError::Store(StoreError::Tampered { .. }) => {
            (StatusCode::INTERNAL_SERVER_ERROR, t.err_internal)
        }
        FlowError::FlowEnded { cause, .. } => status_and_message(cause, t),
        FlowError::Build(_) | FlowError::Crypto(_) | FlowError::Record { .. } => {
            (StatusCode::INTERNAL_SERVER_ERROR, t.err_internal)
        }
    }
}

/// A sealed flow the browser brought back that does not open. Only our own failure to seal
/// (a bad key ring, the AEAD backend) is a server error.
fn sealed_refusal(e: &SealError, t: &Texts) -> (StatusCode, &'static str) {
    match e {
        SealError::Expired { .. } => (StatusCode::BAD_REQUEST, t.err_expired),
        SealError::Malformed(_)
        | SealError::UnknownKey { .. }
        | SealError::Tampered
        | SealError::Record { .. } => (StatusCode::BAD_REQUEST, t.err_expired),
        SealError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, t.err_bad_request),
        SealError::KeyRing(_) | SealError::Backend(_) => {
            (StatusCode::INTERNAL_SERVER_ERROR, t.err_internal)
        }
    }
}

fn intake_refusal(e: &IntakeError, t: &Texts) -> (StatusCode, &'static str) {
    match e {
        IntakeError::UnknownIssuer(_) => (StatusCode::FORBIDDEN, t.err_bad_request),
        IntakeError::Untrusted(saml::SamlError::TooLarge { .. }) => {
            (StatusCode::PAYLOAD_TOO_LARGE, t.err_bad_request)
        }
        IntakeError::Untrusted(_) => (StatusCode::BAD_REQUEST, t.err_bad_request),
    }
}

fn upstream_failure(failure: &UpstreamFailure, t: &Texts) -> (StatusCode, &'static str) {
    let refused = (StatusCode::BAD_REQUEST, t.err_upstream);
    match failure {
        UpstreamFailure::Adapter(e) => adapter_failure(e, t),
        UpstreamFailure::StateMissing
        | UpstreamFailure::AcrTooLow
        | UpstreamFailure::ErrorWithIdentity
        | UpstreamFailure::CaptureMismatch
        | UpstreamFailure::CaptureExpired
        | UpstreamFailure::CaptureUnreadable(_) => refused,
    }
}

fn adapter_failure(e: &AdapterError, t: &Texts) -> (StatusCode, &'static str) {
    match e {
        AdapterError::Bank(e) => bank_failure(e, t),
        AdapterError::Card(e) => card_refusal(e, t),
        AdapterError::InvalidNationalId(_)
        | AdapterError::MissingField(_)
        | AdapterError::DuplicateField(_)
        | AdapterError::FieldTooLong { .. }
        | AdapterError::InvalidName { .. }
        | AdapterError::InvalidField { .. }
        | AdapterError::Cancelled
        | AdapterError::LoaNotSatisfied { .. }
        | AdapterError::FlowMismatch
        | AdapterError::NoCertificate => (StatusCode::BAD_REQUEST, t.err_upstream),
    }
}

/// A bank login that failed: the bank could not be reached or answered nonsense (502), our own
/// side failed (500), or the login itself was refused (400).
fn bank_failure(e: &FtnError, t: &Texts) -> (StatusCode, &'static str) {
    match e {
        FtnError::Discovery(_)
        | FtnError::Jwks(_)
        | FtnError::TokenHttp(_)
        | FtnError::TokenResponse(_)
        | FtnError::UserinfoHttp(_)
        | FtnError::UserinfoResponse(_) => (StatusCode::BAD_GATEWAY, t.err_upstream_unavailable),
        FtnError::Config(_) | FtnError::Internal(_) => {
            (StatusCode::INTERNAL_SERVER_ERROR, t.err_internal)
        }
        FtnError::Pending
        | FtnError::FlowMismatch
        | FtnError::StateMismatch
        | FtnError::IssMismatch
        | FtnError::IssMissing
        | FtnError::Cancelled
        | FtnError::BankError
        | FtnError::CodeMissing
        | FtnError::IdTokenNotEncrypted
        | FtnError::JweRefused(_)
        | FtnError::JweDecrypt
        | FtnError::JwsAlgRefused
        | FtnError::JwsRefused(_)
        | FtnError::UnknownKid
        | FtnError::BadSignature
        | FtnError::ClaimsInvalid(_)
        | FtnError::ClaimsIss
        | FtnError::ClaimsAud
        | FtnError::ClaimsAzp
        | FtnError::Expired
        | FtnError::Iat
        | FtnError::NonceMismatch
        | FtnError::AcrUnknown
        | FtnError::AcrTooLow
        | FtnError::NationalIdMissing
        | FtnError::NationalId(_)
        | FtnError::TestIdentityCode
        | FtnError::BirthdateMismatch
        | FtnError::Names
        | FtnError::UserinfoSubMismatch => (StatusCode::BAD_REQUEST, t.err_upstream),
    }
}

/// An ID-card refusal: what the citizen can do about it differs by reason.
fn card_refusal(e: &CardError, t: &Texts) -> (StatusCode, &'static str) {
    match e {
        CardError::Expired | CardError::NotYetValid => (StatusCode::FORBIDDEN, t.err_card_expired),
        CardError::Revoked | CardError::OcspRevoked => (StatusCode::FORBIDDEN, t.err_card_revoked),
        CardError::NotMapped => (StatusCode::FORBIDDEN, t.err_card_not_registered),
        CardError::RevocationUnknown
        | CardError::CrlStale
        | CardError::CrlBadSignature
        | CardError::OcspUnavailable(_)
        | CardError::MappingUnavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            t.err_card_check_unavailable,
        ),
        CardError::NotCaptured => (StatusCode::BAD_REQUEST, t.err_upstream),
        CardError::NoCertificate
        | CardError::ChainTooLong { .. }
        | CardError::CertificateTooLarge { .. }
        | CardError::Malformed
        | CardError::UnknownIssuer
        | CardError::BadSignature
        | CardError::IssuerNotCa
        | CardError::CaAsEndEntity
        | CardError::PathLength
        | CardError::KeyUsage
        | CardError::ExtendedKeyUsage
        | CardError::NameConstraints
        | CardError::Unsupported
        | CardError::MissingSubjectField(_)
        | CardError::InvalidSubjectField(_)
        | CardError::TestIdentityCode
        | CardError::Other(_) => (StatusCode::FORBIDDEN, t.err_card_refused),
    }
}

/// The private cause for the log line. Strings from a message are already cut where they enter
/// an error (`saml::error::untrusted_text`, `flows::bounded`); this bounds the whole line too.
fn log_cause(error: &FlowError) -> String {
    const MAX: usize = 1024;
    let mut cause = error.to_string();
    if cause.len() > MAX {
        let mut end = MAX;
        while !cause.is_char_boundary(end) {
            end -= 1;
        }
        cause.truncate(end);
        cause.push_str("...");
    }
    cause
}

fn error_id(rng: &dyn certs::RandomSource) -> String {
    let mut b = [0u8; 8];
    match rng.fill(&mut b) {
        Ok(()) => hex::encode(b),
        Err(_) => "unavailable".into(),
    }
}
