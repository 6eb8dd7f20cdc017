//! One error enum for the SAML core; each variant has a stable code for logs and tests.

use time::OffsetDateTime;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SamlError {
    #[error("malformed XML: {0}")]
    Xml(String),
    #[error("DTDs and entity declarations are not accepted")]
    DtdForbidden,
    #[error("{0} is not accepted in SAML messages")]
    Forbidden(&'static str),
    #[error("{what} exceeds the limit of {limit}")]
    TooLarge { what: &'static str, limit: usize },
    #[error("required element or attribute missing: {0}")]
    Missing(&'static str),
    #[error("invalid message: {0}")]
    Invalid(String),
    #[error("unexpected message: expected {expected}")]
    UnexpectedMessage { expected: &'static str },
    #[error("bad base64 in {0}")]
    Base64(&'static str),
    #[error("DEFLATE decoding failed: {0}")]
    Inflate(String),
    #[error("binding error: {0}")]
    Binding(String),
    #[error("a signature is required but the message is not signed")]
    SignatureMissing,
    #[error("malformed signature: {0}")]
    SignatureMalformed(String),
    #[error("signature algorithm not allowed: {0}")]
    AlgorithmNotAllowed(String),
    #[error("the signed reference does not point at the element being trusted")]
    ReferenceMismatch,
    #[error("the ID of the signed element is not unique in the document")]
    DuplicateId,
    #[error("digest mismatch: the signed content was altered")]
    DigestMismatch,
    #[error("no trusted key verifies the signature")]
    SignatureRejected,
    #[error("no trusted key is configured for this party")]
    NoTrustedKey,
    #[error("crypto: {0}")]
    Crypto(#[from] certs::CertError),
    #[error("bad timestamp {0:?}")]
    Timestamp(String),
    #[error("message time {instant} is outside the allowed window around {now}")]
    StaleMessage {
        instant: OffsetDateTime,
        now: OffsetDateTime,
    },
    #[error("Destination {got:?} is not this endpoint {expected:?}")]
    DestinationMismatch { got: String, expected: String },
    #[error("Issuer {got:?} is not the expected {expected:?}")]
    IssuerMismatch { got: String, expected: String },
    #[error("audience restriction does not name {expected:?}")]
    AudienceMismatch { expected: String },
    #[error("InResponseTo {got:?} does not match the request {expected:?}")]
    InResponseToMismatch { got: String, expected: String },
    #[error("assertion not valid at {now}: {reason}")]
    ConditionsNotMet {
        now: OffsetDateTime,
        reason: &'static str,
    },
    #[error("status {code}{}", .sub.as_deref().map(|s| format!(" / {s}")).unwrap_or_default())]
    Status {
        code: String,
        sub: Option<String>,
        message: Option<String>,
    },
    #[error("unsupported: {0}")]
    Unsupported(String),
}

/// Text taken from a message (an Issuer, a Destination, an algorithm URI, a timestamp) as it
/// may appear in an error, and so in a log line: cut to a bounded length on a character
/// boundary, with the original length said.
pub fn untrusted_text(s: &str) -> String {
    const MAX: usize = 120;
    if s.len() <= MAX {
        return s.to_owned();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...({} bytes)", &s[..end], s.len())
}

impl SamlError {
    pub fn code(&self) -> &'static str {
        match self {
            SamlError::Xml(_) => "saml.xml",
            SamlError::DtdForbidden => "saml.dtd",
            SamlError::Forbidden(_) => "saml.forbidden_node",
            SamlError::TooLarge { .. } => "saml.too_large",
            SamlError::Missing(_) => "saml.missing",
            SamlError::Invalid(_) => "saml.invalid",
            SamlError::UnexpectedMessage { .. } => "saml.unexpected_message",
            SamlError::Base64(_) => "saml.base64",
            SamlError::Inflate(_) => "saml.inflate",
            SamlError::Binding(_) => "saml.binding",
            SamlError::SignatureMissing => "saml.signature_missing",
            SamlError::SignatureMalformed(_) => "saml.signature_malformed",
            SamlError::AlgorithmNotAllowed(_) => "saml.algorithm",
            SamlError::ReferenceMismatch => "saml.reference",
            SamlError::DuplicateId => "saml.duplicate_id",
            SamlError::DigestMismatch => "saml.digest",
            SamlError::SignatureRejected => "saml.signature_rejected",
            SamlError::NoTrustedKey => "saml.no_trusted_key",
            SamlError::Crypto(_) => "saml.crypto",
            SamlError::Timestamp(_) => "saml.timestamp",
            SamlError::StaleMessage { .. } => "saml.stale",
            SamlError::DestinationMismatch { .. } => "saml.destination",
            SamlError::IssuerMismatch { .. } => "saml.issuer",
            SamlError::AudienceMismatch { .. } => "saml.audience",
            SamlError::InResponseToMismatch { .. } => "saml.in_response_to",
            SamlError::ConditionsNotMet { .. } => "saml.conditions",
            SamlError::Status { .. } => "saml.status",
            SamlError::Unsupported(_) => "saml.unsupported",
        }
    }
}

#[cfg(test)]
mod untrusted_text_tests {
    use super::untrusted_text;

    #[test]
    fn long_text_is_cut_on_a_character_boundary_and_short_text_kept() {
        assert_eq!(
            untrusted_text("https://sp.example/acs"),
            "https://sp.example/acs"
        );
        let long = format!("https://evil.example/{}", "ö".repeat(5000));
        let cut = untrusted_text(&long);
        assert!(cut.len() <= 140, "{}", cut.len());
        assert!(cut.starts_with("https://evil.example/"));
        assert!(cut.ends_with(&format!("...({} bytes)", long.len())));
    }
}
