//! Every way a request can fail, mapped explicitly to what the citizen sees. The page shows a
//! message in their language and an error ID; the log has the cause under the same ID.

use crate::i18n::texts;
use crate::ui;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use idp_adapters::Language;

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("request refused at intake: {0}")]
    Intake(#[from] saml::authn_request::IntakeError),
    #[error("binding: {0}")]
    Binding(saml::SamlError),
    #[error("assertion consumer service: {0}")]
    Acs(#[from] metadata::AcsError),
    #[error("request ID was already used")]
    Replay,
    #[error("login flow not found or expired")]
    FlowNotFound,
    #[error("login flow belongs to another browser")]
    BrowserMismatch,
    #[error("method {0:?} is not available")]
    MethodUnavailable(String),
    #[error("bad form: {0}")]
    BadForm(&'static str),
    #[error("adapter: {0}")]
    Adapter(#[from] idp_adapters::AdapterError),
    #[error("login at {method} failed: {error}")]
    UpstreamFailed {
        method: String,
        error: idp_adapters::AdapterError,
    },
    #[error("session store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("building the response failed: {0}")]
    Build(saml::SamlError),
    #[error("crypto: {0}")]
    Crypto(#[from] certs::CertError),
    #[error("stored record unreadable: {0}")]
    Record(#[from] serde_json::Error),
}

impl GatewayError {
    pub fn code(&self) -> &'static str {
        match self {
            GatewayError::Intake(e) => e.code(),
            GatewayError::Binding(e) => e.code(),
            GatewayError::Acs(e) => e.code(),
            GatewayError::Replay => "gateway.replay",
            GatewayError::FlowNotFound => "gateway.flow_not_found",
            GatewayError::BrowserMismatch => "gateway.browser_mismatch",
            GatewayError::MethodUnavailable(_) => "gateway.method_unavailable",
            GatewayError::BadForm(_) => "gateway.bad_form",
            GatewayError::Adapter(e) => e.code(),
            GatewayError::UpstreamFailed { error, .. } => error.code(),
            GatewayError::Store(_) => "gateway.store",
            GatewayError::Build(e) => e.code(),
            GatewayError::Crypto(e) => e.code(),
            GatewayError::Record(_) => "gateway.record",
        }
    }

    fn status_and_message(&self, lang: Language) -> (StatusCode, &'static str) {
        let t = texts(lang);
        match self {
            GatewayError::Intake(saml::authn_request::IntakeError::UnknownIssuer(_)) => {
                (StatusCode::FORBIDDEN, t.err_bad_request)
            }
            GatewayError::Intake(saml::authn_request::IntakeError::Untrusted(
                saml::SamlError::TooLarge { .. },
            ))
            | GatewayError::Binding(saml::SamlError::TooLarge { .. }) => {
                (StatusCode::PAYLOAD_TOO_LARGE, t.err_bad_request)
            }
            GatewayError::Intake(_)
            | GatewayError::Binding(_)
            | GatewayError::Acs(_)
            | GatewayError::Replay => (StatusCode::BAD_REQUEST, t.err_bad_request),
            GatewayError::FlowNotFound | GatewayError::BrowserMismatch => {
                (StatusCode::BAD_REQUEST, t.err_expired)
            }
            GatewayError::MethodUnavailable(_) => (StatusCode::NOT_FOUND, t.err_method),
            GatewayError::UpstreamFailed { error, .. } if error.code().starts_with("idcard.") => {
                card_refusal(error.code(), t)
            }
            GatewayError::UpstreamFailed { error, .. } if upstream_unavailable(error.code()) => {
                (StatusCode::BAD_GATEWAY, t.err_upstream_unavailable)
            }
            GatewayError::UpstreamFailed { .. } => (StatusCode::BAD_REQUEST, t.err_upstream),
            GatewayError::BadForm(_) | GatewayError::Adapter(_) => {
                (StatusCode::BAD_REQUEST, t.err_invalid_input)
            }
            GatewayError::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, t.err_internal),
            GatewayError::Build(_) | GatewayError::Crypto(_) | GatewayError::Record(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, t.err_internal)
            }
        }
    }

    /// The citizen's page, with the cause logged under a fresh error ID.
    pub fn into_page(self, lang: Language, rng: &dyn certs::RandomSource) -> Response {
        let error_id = error_id(rng);
        let (status, message) = self.status_and_message(lang);
        if status.is_server_error() {
            tracing::error!(error_id = %error_id, code = self.code(), cause = ?self.to_string(), "request failed");
        }
        // A refused login is an audit event even when the gateway's side is at fault (a stale
        // CRL, an unreachable bank).
        if !status.is_server_error() || matches!(self, GatewayError::UpstreamFailed { .. }) {
            tracing::warn!(target: "audit", event = "refused", error_id = %error_id, code = self.code(), cause = ?self.to_string());
        }
        let mut resp = (status, Html(ui::error_page(lang, message, &error_id))).into_response();
        crate::http::security_headers(resp.headers_mut(), None);
        resp
    }
}

/// Failures that mean the upstream could not be reached or answered nonsense, not that the
/// citizen's login was refused.
fn upstream_unavailable(code: &str) -> bool {
    matches!(
        code,
        "ftn.discovery"
            | "ftn.jwks"
            | "ftn.token_http"
            | "ftn.token_response"
            | "ftn.userinfo_http"
            | "ftn.userinfo_response"
    )
}

/// An ID-card refusal: what the citizen can do about it differs by reason.
fn card_refusal(code: &str, t: &crate::i18n::Texts) -> (StatusCode, &'static str) {
    match code {
        "idcard.expired" | "idcard.not_yet_valid" => (StatusCode::FORBIDDEN, t.err_card_expired),
        "idcard.revoked" | "idcard.ocsp_revoked" => (StatusCode::FORBIDDEN, t.err_card_revoked),
        "idcard.not_mapped" => (StatusCode::FORBIDDEN, t.err_card_not_registered),
        "idcard.revocation_unknown"
        | "idcard.crl_stale"
        | "idcard.crl_bad_signature"
        | "idcard.ocsp_unavailable"
        | "idcard.mapping_unavailable" => (
            StatusCode::SERVICE_UNAVAILABLE,
            t.err_card_check_unavailable,
        ),
        "idcard.not_captured"
        | "idcard.capture_replayed"
        | "idcard.capture_unreadable"
        | "idcard.capture_mismatch" => (StatusCode::BAD_REQUEST, t.err_upstream),
        _ => (StatusCode::FORBIDDEN, t.err_card_refused),
    }
}

fn error_id(rng: &dyn certs::RandomSource) -> String {
    let mut b = [0u8; 8];
    match rng.fill(&mut b) {
        Ok(()) => hex::encode(b),
        Err(_) => "unavailable".into(),
    }
}
