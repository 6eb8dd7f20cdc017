//! The crate's one error type. Every variant has a stable code for logs and the HTTP layer.

use std::path::PathBuf;

use time::OffsetDateTime;

use crate::algorithms::SignatureAlgorithm;
use crate::keys::PublicKeyKind;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    #[error("PEM: {0}")]
    Pem(String),
    #[error("base64: {0}")]
    Base64(String),
    #[error("key rejected: {0}")]
    KeyRejected(String),
    #[error("unsupported key: {0}")]
    UnsupportedKey(String),
    #[error("RSA key of {bits} bits is too small (at least 2048 required)")]
    RsaKeyTooSmall { bits: usize },
    #[error("signature verification failed")]
    BadSignature,
    #[error("signature algorithm {algorithm:?} cannot be used with a {key} key")]
    AlgorithmKeyMismatch {
        algorithm: SignatureAlgorithm,
        key: PublicKeyKind,
    },
    #[error("signing failed")]
    SigningFailed,
    #[error("certificate parse: {0}")]
    CertificateParse(String),
    #[error("certificate expired: now {now}, not after {not_after}")]
    Expired {
        now: OffsetDateTime,
        not_after: OffsetDateTime,
    },
    #[error("certificate not yet valid: now {now}, not before {not_before}")]
    NotYetValid {
        now: OffsetDateTime,
        not_before: OffsetDateTime,
    },
    #[error("the certificate's public key does not match the private key")]
    KeyCertMismatch,
    #[error("I/O on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("random number generator failed")]
    Random,
    #[error("key or certificate generation failed: {0}")]
    Generate(String),
    #[error("invalid key file name {0:?}")]
    InvalidName(String),
    #[error("encryption failed")]
    EncryptionFailed,
    #[error("decryption failed")]
    DecryptionFailed,
}

impl CertError {
    /// A stable short code per variant, for logs, metrics and error pages.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Pem(_) => "cert.pem",
            Self::Base64(_) => "cert.base64",
            Self::KeyRejected(_) => "cert.key_rejected",
            Self::UnsupportedKey(_) => "cert.unsupported_key",
            Self::RsaKeyTooSmall { .. } => "cert.rsa_key_too_small",
            Self::BadSignature => "cert.bad_signature",
            Self::AlgorithmKeyMismatch { .. } => "cert.algorithm_key_mismatch",
            Self::SigningFailed => "cert.signing_failed",
            Self::CertificateParse(_) => "cert.certificate_parse",
            Self::Expired { .. } => "cert.expired",
            Self::NotYetValid { .. } => "cert.not_yet_valid",
            Self::KeyCertMismatch => "cert.key_cert_mismatch",
            Self::Io { .. } => "cert.io",
            Self::Random => "cert.random",
            Self::Generate(_) => "cert.generate",
            Self::InvalidName(_) => "cert.invalid_name",
            Self::EncryptionFailed => "cert.encryption_failed",
            Self::DecryptionFailed => "cert.decryption_failed",
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn codes_are_distinct_and_namespaced() {
        let t = datetime!(2030-01-01 00:00 UTC);
        let all = [
            CertError::Pem(String::new()),
            CertError::Base64(String::new()),
            CertError::KeyRejected(String::new()),
            CertError::UnsupportedKey(String::new()),
            CertError::RsaKeyTooSmall { bits: 1024 },
            CertError::BadSignature,
            CertError::AlgorithmKeyMismatch {
                algorithm: SignatureAlgorithm::RsaSha256,
                key: PublicKeyKind::EcP256,
            },
            CertError::SigningFailed,
            CertError::CertificateParse(String::new()),
            CertError::Expired {
                now: t,
                not_after: t,
            },
            CertError::NotYetValid {
                now: t,
                not_before: t,
            },
            CertError::KeyCertMismatch,
            CertError::io("/x", std::io::Error::other("boom")),
            CertError::Random,
            CertError::Generate(String::new()),
            CertError::InvalidName(String::new()),
        ];
        let mut codes: Vec<&str> = all.iter().map(CertError::code).collect();
        assert!(codes.iter().all(|c| c.starts_with("cert.")));
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
        assert_eq!(CertError::BadSignature.code(), "cert.bad_signature");
    }
}
