//! Every way a flow can fail, as values the compiler checks. The web layer maps each variant to
//! a page (no catch-all arm); the `Display` text is the private cause, for the log line only.

use idp_adapters::AdapterError;

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
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
    /// The SSO session ended (a logout) while a service's login through it was under way.
    #[error("the single sign-on session ended meanwhile")]
    SessionEnded,
    /// A logout in progress that is not (or no longer) known: expired, finished, or an answer
    /// that names no request of ours.
    #[error("logout not found or expired")]
    LogoutNotFound,
    /// An OpenID Connect request refused (the provider's own error codes).
    #[error("OpenID Connect: {0}")]
    Oidc(#[from] super::oidc::OidcError),
    /// A service without a single logout endpoint in its metadata asked to log out (it could
    /// not be answered).
    #[error("service {0:?} has no SingleLogoutService")]
    NoLogoutEndpoint(String),
    /// The browser's sealed flow did not open: altered, expired, for another flow, or sealed
    /// with a key the gateway no longer holds.
    #[error("sealed flow refused: {0}")]
    Sealed(#[from] super::SealError),
    /// The method named in the URL (cut to a bounded length) is not offered for this flow.
    #[error("method {0:?} is not available")]
    MethodUnavailable(String),
    #[error("bad form: {0}")]
    BadForm(&'static str),
    /// The citizen's input to a form of ours (the test bank) was refused.
    #[error("input refused: {0}")]
    InvalidInput(AdapterError),
    /// A login at an upstream (a bank, the ID card) failed.
    #[error("login at {method} failed: {failure}")]
    Upstream {
        method: String,
        failure: UpstreamFailure,
    },
    #[error("session store: {0}")]
    Store(#[from] crate::stores::StoreError),
    #[error("building the response failed: {0}")]
    Build(saml::SamlError),
    #[error("crypto: {0}")]
    Crypto(#[from] certs::CertError),
    /// A stored record did not read back. Only where (never what: serde's message can quote the
    /// record, and a session holds a national identification number).
    #[error("stored record unreadable ({category} at line {line}, column {column})")]
    Record {
        category: &'static str,
        line: usize,
        column: usize,
    },
    /// `cause` ended the login flow `flow_id`: the browser is told to drop it.
    #[error("{cause}")]
    FlowEnded {
        flow_id: String,
        cause: Box<FlowError>,
    },
}

impl From<serde_json::Error> for FlowError {
    fn from(e: serde_json::Error) -> FlowError {
        let (category, line, column) = super::sealed::json_error_place(&e);
        FlowError::Record {
            category,
            line,
            column,
        }
    }
}

/// Why an upstream login failed: the adapter's verdict, or a check the gateway makes around it.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamFailure {
    #[error("{0}")]
    Adapter(AdapterError),
    #[error("the callback carries no state")]
    StateMissing,
    #[error("the upstream's level of assurance is below the request's")]
    AcrTooLow,
    #[error("the upstream answered with an error and an identity")]
    ErrorWithIdentity,
    #[error("the callback carries no capture token, or one for another state")]
    CaptureMismatch,
    #[error("the capture token expired before the browser reached the callback")]
    CaptureExpired,
    #[error("the capture token does not open: {0}")]
    CaptureUnreadable(super::SealError),
}

impl UpstreamFailure {
    pub fn code(&self) -> &'static str {
        match self {
            UpstreamFailure::Adapter(e) => e.code(),
            UpstreamFailure::StateMissing => "state_missing",
            UpstreamFailure::AcrTooLow => "acr_too_low",
            UpstreamFailure::ErrorWithIdentity => "error_with_identity",
            UpstreamFailure::CaptureMismatch => "idcard.capture_mismatch",
            UpstreamFailure::CaptureExpired => "idcard.capture_expired",
            UpstreamFailure::CaptureUnreadable(_) => "idcard.capture_unreadable",
        }
    }
}

impl FlowError {
    /// A failure at `method`.
    pub fn upstream(method: &str, failure: UpstreamFailure) -> FlowError {
        FlowError::Upstream {
            method: super::bounded(method),
            failure,
        }
    }

    /// The stable code, for the audit line and the tests.
    pub fn code(&self) -> &'static str {
        match self {
            FlowError::Intake(e) => e.code(),
            FlowError::Binding(e) => e.code(),
            FlowError::Acs(e) => e.code(),
            FlowError::Replay => "gateway.replay",
            FlowError::FlowNotFound => "gateway.flow_not_found",
            FlowError::SessionEnded => "gateway.session_ended",
            FlowError::LogoutNotFound => "gateway.logout_not_found",
            FlowError::NoLogoutEndpoint(_) => "gateway.no_logout_endpoint",
            FlowError::Oidc(e) => e.code(),
            FlowError::Sealed(e) => e.code(),
            FlowError::MethodUnavailable(_) => "gateway.method_unavailable",
            FlowError::BadForm(_) => "gateway.bad_form",
            FlowError::InvalidInput(e) => e.code(),
            FlowError::Upstream { failure, .. } => failure.code(),
            FlowError::Store(e) => e.code(),
            FlowError::Build(e) => e.code(),
            FlowError::Crypto(e) => e.code(),
            FlowError::Record { .. } => "gateway.record",
            FlowError::FlowEnded { cause, .. } => cause.code(),
        }
    }

    /// This error, also ending the flow `flow_id` in the browser.
    pub fn ending(self, flow_id: &str) -> FlowError {
        match self {
            ended @ FlowError::FlowEnded { .. } => ended,
            cause => FlowError::FlowEnded {
                flow_id: flow_id.to_owned(),
                cause: Box::new(cause),
            },
        }
    }

    /// The error itself, past any [`FlowError::FlowEnded`] wrapper.
    pub fn cause(&self) -> &FlowError {
        match self {
            FlowError::FlowEnded { cause, .. } => cause.cause(),
            other => other,
        }
    }
}
