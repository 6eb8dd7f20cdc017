//! Why a presented certificate, a CRL or a mapping was refused. Each variant has a stable code
//! (`idcard.<reason>`) for the audit trail and the error page; messages never repeat the SATU.

use thiserror::Error;

/// A refused citizen certificate.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CardError {
    #[error("no client certificate was presented")]
    NoCertificate,
    #[error("the browser did not come through the certificate listener")]
    NotCaptured,
    #[error("more than {max} certificates were presented")]
    ChainTooLong { max: usize },
    #[error("a presented certificate is {len} bytes, more than {max}")]
    CertificateTooLarge { len: usize, max: usize },
    #[error("a presented certificate is not valid DER X.509")]
    Malformed,
    #[error("the certificate has expired")]
    Expired,
    #[error("the certificate is not valid yet")]
    NotYetValid,
    #[error("the certificate does not chain to a trusted CA")]
    UnknownIssuer,
    #[error("a signature in the chain does not verify")]
    BadSignature,
    #[error("a certificate in the chain is not a CA but issued another")]
    IssuerNotCa,
    #[error("a CA certificate was presented as the citizen's certificate")]
    CaAsEndEntity,
    #[error("the chain is longer than a CA's path length constraint allows")]
    PathLength,
    #[error("the key usage does not allow authentication (digitalSignature is required)")]
    KeyUsage,
    #[error("the extended key usage does not include client authentication")]
    ExtendedKeyUsage,
    #[error("a name in the certificate is outside a CA's name constraints")]
    NameConstraints,
    #[error("the certificate has been revoked")]
    Revoked,
    #[error("the revocation status is unknown (no current CRL for an issuer)")]
    RevocationUnknown,
    #[error("the CRL for an issuer has passed its nextUpdate")]
    CrlStale,
    #[error("a CRL's signature does not verify with its issuer's key")]
    CrlBadSignature,
    #[error("the certificate uses an unsupported algorithm or critical extension")]
    Unsupported,
    #[error("the OCSP responder says the certificate is revoked")]
    OcspRevoked,
    #[error("the OCSP status could not be established: {0}")]
    OcspUnavailable(&'static str),
    #[error("the certificate's subject lacks {0}")]
    MissingSubjectField(&'static str),
    #[error("the certificate's {0} is not valid")]
    InvalidSubjectField(&'static str),
    #[error("no national identification number is mapped to this certificate's SATU")]
    NotMapped,
    #[error("the national identification number mapping could not be read")]
    MappingUnavailable,
    /// The mapped code is of the test series (900-999) and the settings refuse those
    /// ([`crate::idcard::IdCardSettings::refuse_test_identity_codes`]).
    #[error("the mapped national identification number is of the test series (900-999), which the settings refuse")]
    TestIdentityCode,
    #[error("the chain was refused: {0}")]
    Other(&'static str),
}

impl CardError {
    /// The stable code, e.g. `idcard.revoked`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoCertificate => "idcard.no_certificate",
            Self::NotCaptured => "idcard.not_captured",
            Self::ChainTooLong { .. } => "idcard.chain_too_long",
            Self::CertificateTooLarge { .. } => "idcard.too_large",
            Self::Malformed => "idcard.malformed",
            Self::Expired => "idcard.expired",
            Self::NotYetValid => "idcard.not_yet_valid",
            Self::UnknownIssuer => "idcard.unknown_issuer",
            Self::BadSignature => "idcard.bad_signature",
            Self::IssuerNotCa => "idcard.issuer_not_ca",
            Self::CaAsEndEntity => "idcard.ca_as_end_entity",
            Self::PathLength => "idcard.path_length",
            Self::KeyUsage => "idcard.key_usage",
            Self::ExtendedKeyUsage => "idcard.extended_key_usage",
            Self::NameConstraints => "idcard.name_constraints",
            Self::Revoked => "idcard.revoked",
            Self::RevocationUnknown => "idcard.revocation_unknown",
            Self::CrlStale => "idcard.crl_stale",
            Self::CrlBadSignature => "idcard.crl_bad_signature",
            Self::Unsupported => "idcard.unsupported",
            Self::OcspRevoked => "idcard.ocsp_revoked",
            Self::OcspUnavailable(_) => "idcard.ocsp_unavailable",
            Self::MissingSubjectField(_) => "idcard.subject_incomplete",
            Self::InvalidSubjectField(_) => "idcard.subject_invalid",
            Self::NotMapped => "idcard.not_mapped",
            Self::MappingUnavailable => "idcard.mapping_unavailable",
            Self::TestIdentityCode => "idcard.test_identity_code",
            Self::Other(_) => "idcard.refused",
        }
    }
}

/// A CRL that cannot be installed. The previous CRL for that issuer (if any) stays.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CrlError {
    #[error("the CRL is {len} bytes, more than {max}")]
    TooLarge { len: usize, max: usize },
    #[error("not a DER (or PEM) X.509 CRL: {0}")]
    Malformed(String),
    #[error("no configured CA is named {issuer:?}")]
    UnknownIssuer { issuer: String },
    #[error("the signature does not verify with the key of {issuer:?}")]
    BadSignature { issuer: String },
    #[error("unsupported CRL signature algorithm {0}")]
    UnsupportedAlgorithm(String),
    #[error("the CRL has no nextUpdate, so its staleness cannot be judged")]
    NoNextUpdate,
    #[error("the CRL is stale: nextUpdate {next_update} has passed")]
    Stale { next_update: String },
    #[error("the CRL's thisUpdate {this_update} is in the future")]
    NotYetValid { this_update: String },
    #[error("the CRL is older than the one installed (thisUpdate {this_update})")]
    Older { this_update: String },
    #[error("delta and indirect CRLs are not supported")]
    Unsupported,
}

/// A national identification number mapping that cannot be loaded or read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MappingError {
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
    #[error("the mapping is {len} bytes, more than {max}")]
    TooLarge { len: usize, max: usize },
    #[error("{0}")]
    Source(String),
}
