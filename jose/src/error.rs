//! The crate's one error type. Every variant has a stable code for logs and the HTTP layer.

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JoseError {
    /// The compact serialization, a base64url part or a header is not well formed.
    #[error("malformed JOSE object: {0}")]
    Malformed(&'static str),
    /// `alg` or `enc` is unknown, never supported (`none`, `HS256`, `RSA1_5`, ...) or not in the caller's allowlist.
    #[error("algorithm {0:?} is not allowed")]
    AlgorithmNotAllowed(String),
    /// The header carries its own key (`jwk`): a token never chooses the key that verifies it.
    #[error("a key embedded in the header (jwk) is never trusted")]
    EmbeddedKey,
    /// `crit` is present: no extension is understood, so none may be critical.
    #[error("critical header parameters (crit) are not supported")]
    CriticalHeader,
    /// A header parameter that changes processing and is not supported (`zip`, `b64`).
    #[error("header parameter {0:?} is not supported")]
    UnsupportedHeader(&'static str),
    /// No key carries the token's `kid`, or the token has no `kid` and the choice is ambiguous.
    #[error("no key matches the token's kid")]
    UnknownKid,
    /// Keys exist, but none fits the algorithm (type, curve, `use`, `alg` or `key_ops`).
    #[error("no key is suitable for the algorithm")]
    NoSuitableKey,
    /// A JWK that must never be accepted: symmetric, private, too small or invalid.
    #[error("key refused: {0}")]
    KeyRefused(String),
    #[error("signature verification failed")]
    BadSignature,
    /// One answer for every failure after the header checks: no padding, MAC or key-unwrap oracle.
    #[error("decryption failed")]
    DecryptionFailed,
    #[error("input exceeds the size limit")]
    TooLarge,
    #[error("JSON: {0}")]
    Json(String),
    #[error("crypto backend: {0}")]
    Crypto(String),
    #[error("claim {0:?} is missing")]
    MissingClaim(String),
    #[error("claim {0:?} has the wrong type or value")]
    InvalidClaim(String),
    /// Unix seconds.
    #[error("token expired: now {now}, exp {exp}")]
    Expired { now: i64, exp: i64 },
    /// Unix seconds; `at` is the `nbf` or (for a token issued in the future) the `iat` claim.
    #[error("token not yet valid: now {now}, valid from {at}")]
    NotYetValid { now: i64, at: i64 },
}

impl JoseError {
    /// A stable short code per variant, for logs, metrics and error pages.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "jose.malformed",
            Self::AlgorithmNotAllowed(_) => "jose.algorithm_not_allowed",
            Self::EmbeddedKey => "jose.embedded_key",
            Self::CriticalHeader => "jose.critical_header",
            Self::UnsupportedHeader(_) => "jose.unsupported_header",
            Self::UnknownKid => "jose.unknown_kid",
            Self::NoSuitableKey => "jose.no_suitable_key",
            Self::KeyRefused(_) => "jose.key_refused",
            Self::BadSignature => "jose.bad_signature",
            Self::DecryptionFailed => "jose.decryption_failed",
            Self::TooLarge => "jose.too_large",
            Self::Json(_) => "jose.json",
            Self::Crypto(_) => "jose.crypto",
            Self::MissingClaim(_) => "jose.missing_claim",
            Self::InvalidClaim(_) => "jose.invalid_claim",
            Self::Expired { .. } => "jose.expired",
            Self::NotYetValid { .. } => "jose.not_yet_valid",
        }
    }

    pub(crate) fn crypto(e: certs::CertError) -> Self {
        Self::Crypto(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_namespaced() {
        let all = [
            JoseError::Malformed(""),
            JoseError::AlgorithmNotAllowed(String::new()),
            JoseError::EmbeddedKey,
            JoseError::CriticalHeader,
            JoseError::UnsupportedHeader("zip"),
            JoseError::UnknownKid,
            JoseError::NoSuitableKey,
            JoseError::KeyRefused(String::new()),
            JoseError::BadSignature,
            JoseError::DecryptionFailed,
            JoseError::TooLarge,
            JoseError::Json(String::new()),
            JoseError::Crypto(String::new()),
            JoseError::MissingClaim(String::new()),
            JoseError::InvalidClaim(String::new()),
            JoseError::Expired { now: 2, exp: 1 },
            JoseError::NotYetValid { now: 1, at: 2 },
        ];
        let mut codes: Vec<&str> = all.iter().map(JoseError::code).collect();
        assert!(codes.iter().all(|c| c.starts_with("jose.")));
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
    }
}
