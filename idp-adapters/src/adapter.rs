//! The trait every upstream authentication method implements, and the values that cross it.
//!
//! An adapter performs no I/O: `start` says what the web layer should do next, the web layer does
//! it, and whatever comes back (a form post, a query string) is handed to `finish` as plain fields.

use std::fmt;

use serde::Serialize;
use thiserror::Error;
use time::OffsetDateTime;

use crate::hetu::HetuError;
use crate::identity::VerifiedIdentity;
pub use crate::language::Language;
use crate::loa::LevelOfAssurance;

/// What `start` knows about the login flow.
#[derive(Clone, Copy, Debug)]
pub struct StartContext<'a> {
    pub flow_id: &'a str,
    pub language: Language,
    pub requested_loa: Option<LevelOfAssurance>,
    /// The service asked for a fresh authentication (SAML ForceAuthn, OpenID Connect
    /// `prompt=login` or `max_age=0`): an upstream that can be told must authenticate anew.
    pub force_authn: bool,
    pub now: OffsetDateTime,
}

/// What the web layer does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartAction {
    /// Send the browser to this URL (an upstream authorization endpoint).
    Redirect { url: String },
    /// Send the browser upstream; the callback will carry `state`, and `finish` needs `pending`
    /// back (kept by the gateway in the flow record, never sent to the browser).
    RedirectUpstream {
        url: String,
        state: String,
        pending: UpstreamPending,
    },
    /// Render the gateway's test bank page with this data.
    RenderTestBank(TestBankPage),
}

/// An upstream login's per-flow secrets (PKCE verifier, nonce, state, ...), opaque to the
/// gateway. `Debug` does not show them.
#[derive(Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct UpstreamPending(pub serde_json::Value);

impl fmt::Debug for UpstreamPending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UpstreamPending(***)")
    }
}

/// Data for the gateway's test bank template. Every value is text to be escaped by the template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TestBankPage {
    /// Posted back as the `flow` field.
    pub flow_id: String,
    pub persons: Vec<TestPerson>,
}

/// A ready-made test person offered by the test bank; never a real person (the code is of the
/// test series, individual number 900-999).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TestPerson {
    pub national_id: &'static str,
    pub given_name: &'static str,
    pub family_name: &'static str,
}

/// The fields of a callback (form body or query) in the order received, duplicates included.
///
/// `Debug` shows field names only: values may hold a national id or an authorization code.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CallbackInput {
    pub fields: Vec<(String, String)>,
}

/// What `finish` knows about the login flow it is finishing (from the stored flow record).
#[derive(Clone, Copy, Debug)]
pub struct FinishContext<'a> {
    pub flow_id: &'a str,
    pub requested_loa: Option<LevelOfAssurance>,
    pub now: OffsetDateTime,
    /// What `start` asked the gateway to keep (`StartAction::RedirectUpstream`), if anything.
    pub pending: Option<&'a UpstreamPending>,
    /// The certificate chain (DER, leaf first) the browser presented on the gateway's
    /// certificate listener, for adapters whose [`AuthAdapter::uses_client_certificate`] is
    /// true: `None` when nothing was captured for this flow, `Some(&[])` when the browser was
    /// there but presented no certificate. Only the gateway sets it, never a browser field.
    pub client_certificates: Option<&'a [Vec<u8>]>,
}

/// An upstream authentication method.
pub trait AuthAdapter: Send + Sync {
    /// A stable identifier, used in URLs, config and `VerifiedIdentity::method`: `testbank`.
    fn id(&self) -> &str;

    /// The name on the method selection page.
    fn display_name(&self, lang: Language) -> String;

    /// Whether the UI must label this method as a test method.
    fn is_test_method(&self) -> bool;

    /// The highest level this method can give; the gateway hides it from requests it cannot meet.
    fn max_loa(&self) -> LevelOfAssurance;

    /// Whether `finish` needs the TLS client certificate the gateway's certificate listener
    /// captured (`FinishContext::client_certificates`).
    fn uses_client_certificate(&self) -> bool {
        false
    }

    fn start(&self, ctx: &StartContext<'_>) -> Result<StartAction, AdapterError>;

    /// Turn the callback into a verified identity. Asynchronous because an upstream may need to
    /// be asked (a token endpoint, say) through the adapter's injected client.
    fn finish<'a>(
        &'a self,
        ctx: &'a FinishContext<'a>,
        input: &'a CallbackInput,
    ) -> AdapterFuture<'a, Result<VerifiedIdentity, AdapterError>>;
}

/// The future `finish` returns (std only: no async-trait crate).
pub type AdapterFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Why an adapter refused to start or finish. Messages never repeat submitted values.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AdapterError {
    #[error("invalid national identification number: {0}")]
    InvalidNationalId(#[from] HetuError),
    #[error("required field {0:?} is missing or empty")]
    MissingField(&'static str),
    #[error("field {0:?} was sent more than once")]
    DuplicateField(&'static str),
    #[error("field {field:?} is longer than {max} characters")]
    FieldTooLong { field: &'static str, max: usize },
    #[error("field {field:?} contains control characters")]
    InvalidName { field: &'static str },
    #[error("field {field:?} has a value that is not allowed")]
    InvalidField { field: &'static str },
    #[error("the citizen cancelled the authentication")]
    Cancelled,
    /// A bank login failed a check (the reason's code is `ftn.*`).
    #[error("bank login failed: {0}")]
    Bank(crate::ftn::FtnError),
    /// An ID-card login was refused (the reason's code is `idcard.*`).
    #[error("ID-card login refused: {0}")]
    Card(crate::idcard::CardError),
    #[error("level of assurance {} does not satisfy the requested {}", got.uri(), required.uri())]
    LoaNotSatisfied {
        got: LevelOfAssurance,
        required: LevelOfAssurance,
    },
    #[error("the callback belongs to a different login flow")]
    FlowMismatch,
    /// The browser presented no client certificate (no card in the reader, or the citizen
    /// closed the certificate prompt): like a cancel, the citizen may pick another method.
    #[error("no certificate was presented")]
    NoCertificate,
}

impl AdapterError {
    /// A stable identifier for logs, metrics and error pages.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidNationalId(_) => "invalid_national_id",
            Self::MissingField(_) => "missing_field",
            Self::DuplicateField(_) => "duplicate_field",
            Self::FieldTooLong { .. } => "field_too_long",
            Self::InvalidName { .. } => "invalid_name",
            Self::InvalidField { .. } => "invalid_field",
            Self::Cancelled => "cancelled",
            Self::Bank(e) => e.code(),
            Self::Card(e) => e.code(),
            Self::LoaNotSatisfied { .. } => "loa_not_satisfied",
            Self::FlowMismatch => "flow_mismatch",
            Self::NoCertificate => "no_certificate",
        }
    }
}

impl CallbackInput {
    pub fn new(fields: Vec<(String, String)>) -> Self {
        Self { fields }
    }

    /// The value of a field that may appear at most once (a repeated field is refused rather
    /// than guessing which copy the upstream meant).
    pub fn single(&self, name: &'static str) -> Result<Option<&str>, AdapterError> {
        let mut values = self
            .fields
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(AdapterError::DuplicateField(name));
        }
        Ok(first)
    }

    /// Whether a field is present at all, with any value.
    pub fn has(&self, name: &str) -> bool {
        self.fields.iter().any(|(key, _)| key == name)
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for CallbackInput {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self {
            fields: iter
                .into_iter()
                .map(|(key, value)| (key.into(), value.into()))
                .collect(),
        }
    }
}

impl fmt::Debug for CallbackInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackInput")
            .field(
                "fields",
                &self.fields.iter().map(|(key, _)| key).collect::<Vec<_>>(),
            )
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn single_refuses_duplicates_and_has_sees_empty_values() {
        let input: CallbackInput = [("flow", "a"), ("cancel", ""), ("x", "1"), ("x", "2")]
            .into_iter()
            .collect();
        assert_eq!(input.single("flow").unwrap(), Some("a"));
        assert_eq!(input.single("missing").unwrap(), None);
        assert_eq!(input.single("x"), Err(AdapterError::DuplicateField("x")));
        assert!(input.has("cancel"));
        assert!(!input.has("Cancel"));
    }

    #[test]
    fn callback_input_debug_hides_values() {
        let input: CallbackInput = [("national_id", "131052-9085")].into_iter().collect();
        let debug = format!("{input:?}");
        assert!(debug.contains("national_id"), "{debug}");
        assert!(!debug.contains("131052"), "{debug}");
    }

    #[test]
    fn error_codes_are_distinct() {
        let errors = [
            AdapterError::InvalidNationalId(HetuError::Length),
            AdapterError::MissingField("a"),
            AdapterError::DuplicateField("a"),
            AdapterError::FieldTooLong { field: "a", max: 1 },
            AdapterError::InvalidName { field: "a" },
            AdapterError::InvalidField { field: "a" },
            AdapterError::Cancelled,
            AdapterError::LoaNotSatisfied {
                got: LevelOfAssurance::FtnSubstantial,
                required: LevelOfAssurance::FtnHigh,
            },
            AdapterError::FlowMismatch,
            AdapterError::NoCertificate,
        ];
        let mut codes: Vec<_> = errors.iter().map(AdapterError::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), errors.len());
        assert_eq!(
            errors[7].to_string(),
            "level of assurance http://ftn.ficora.fi/2017/loa2 does not satisfy the requested http://ftn.ficora.fi/2017/loa3"
        );
    }
}
