//! The bank adapter's one error type. Every variant has a stable `ftn.*` code; messages never
//! repeat values received from the bank or the browser (codes, tokens, identity codes, names).

use crate::adapter::AdapterError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FtnError {
    /// The configuration or the RP keys do not fit together (from `FtnBank::new`).
    #[error("bank configuration is invalid: {}", .0.join("; "))]
    Config(Vec<String>),
    /// Discovery failed, its issuer differs from the configured one, or the bank has not been
    /// refreshed yet (no endpoints known).
    #[error("bank discovery failed: {0}")]
    Discovery(&'static str),
    /// The bank's JWK set could not be fetched or read.
    #[error("bank JWK set failed: {0}")]
    Jwks(&'static str),
    /// The per-flow data kept by the gateway is missing, malformed or belongs to another bank.
    #[error("the login flow carries no usable bank login state")]
    Pending,
    /// The login flow was started at another bank.
    #[error("the callback belongs to a login flow at another bank")]
    FlowMismatch,
    /// The callback's `state` differs from the one sent.
    #[error("state does not match the login flow")]
    StateMismatch,
    /// The RFC 9207 `iss` parameter differs from the bank's issuer.
    #[error("authorization response issuer does not match the bank")]
    IssMismatch,
    /// The RFC 9207 `iss` parameter is absent though the bank's discovery advertises it.
    #[error("authorization response issuer is missing")]
    IssMissing,
    /// The citizen cancelled at the bank (`error=access_denied` or `cancel`).
    #[error("the citizen cancelled at the bank")]
    Cancelled,
    /// The bank answered with an error other than a cancel.
    #[error("the bank answered with an error")]
    BankError,
    /// Neither `code` nor `error` in the callback, or a malformed `code`.
    #[error("the callback carries no usable authorization code")]
    CodeMissing,
    #[error("token request failed: {0}")]
    TokenHttp(String),
    #[error("token response is malformed: {0}")]
    TokenResponse(&'static str),
    #[error("the ID token is not encrypted")]
    IdTokenNotEncrypted,
    /// The JWE header is refused (algorithm or encryption not allowed, unknown key, `cty`, ...).
    #[error("encrypted token refused: {0}")]
    JweRefused(&'static str),
    #[error("encrypted token could not be decrypted")]
    JweDecrypt,
    /// The JWS `alg` is not on the bank's allowlist (`none`, `HS256`, ... are never on it).
    #[error("token signature algorithm refused")]
    JwsAlgRefused,
    /// The JWS is malformed or its header is refused for another reason (`crit`, `jwk`, key type).
    #[error("signed token refused: {0}")]
    JwsRefused(&'static str),
    #[error("no bank key matches the token's kid")]
    UnknownKid,
    #[error("token signature is not valid")]
    BadSignature,
    /// A claim is missing or malformed (`sub`, `exp`, `iat`, `auth_time`, ...).
    #[error("token claim {0} is missing or malformed")]
    ClaimsInvalid(&'static str),
    #[error("token issuer does not match the bank")]
    ClaimsIss,
    #[error("token audience does not name this client")]
    ClaimsAud,
    #[error("token authorized party does not name this client")]
    ClaimsAzp,
    #[error("token has expired")]
    Expired,
    #[error("token issue time is in the future or too old")]
    Iat,
    #[error("nonce does not match the login flow")]
    NonceMismatch,
    #[error("acr is not a known level of assurance")]
    AcrUnknown,
    #[error("acr is below the requested level of assurance")]
    AcrTooLow,
    #[error("personal identity code is missing or not a string")]
    NationalIdMissing,
    #[error("personal identity code refused: {}", .0.code())]
    NationalId(crate::hetu::HetuError),
    /// A valid code of the test series (individual number 900-999) from a bank whose adapter
    /// refuses them ([`crate::ftn::FtnBank::refuse_test_identity_codes`]).
    #[error(
        "personal identity code is of the test series (900-999), which this bank's settings refuse"
    )]
    TestIdentityCode,
    #[error("birthdate does not match the personal identity code")]
    BirthdateMismatch,
    #[error("names are missing or malformed")]
    Names,
    #[error("userinfo subject differs from the ID token subject")]
    UserinfoSubMismatch,
    #[error("userinfo request failed: {0}")]
    UserinfoHttp(String),
    #[error("userinfo response is malformed: {0}")]
    UserinfoResponse(&'static str),
    /// Our own signing or the random source failed.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl FtnError {
    /// A stable identifier for logs, metrics and error pages.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Config(_) => "ftn.config",
            Self::Discovery(_) => "ftn.discovery",
            Self::Jwks(_) => "ftn.jwks",
            Self::Pending => "ftn.pending",
            Self::FlowMismatch => "ftn.flow_mismatch",
            Self::StateMismatch => "ftn.state_mismatch",
            Self::IssMismatch => "ftn.iss_mismatch",
            Self::IssMissing => "ftn.iss_missing",
            Self::Cancelled => "ftn.cancelled",
            Self::BankError => "ftn.bank_error",
            Self::CodeMissing => "ftn.code_missing",
            Self::TokenHttp(_) => "ftn.token_http",
            Self::TokenResponse(_) => "ftn.token_response",
            Self::IdTokenNotEncrypted => "ftn.id_token_not_encrypted",
            Self::JweRefused(_) => "ftn.jwe_refused",
            Self::JweDecrypt => "ftn.jwe_decrypt",
            Self::JwsAlgRefused => "ftn.jws_alg_refused",
            Self::JwsRefused(_) => "ftn.jws_refused",
            Self::UnknownKid => "ftn.unknown_kid",
            Self::BadSignature => "ftn.bad_signature",
            Self::ClaimsInvalid(_) => "ftn.claims_invalid",
            Self::ClaimsIss => "ftn.claims_iss",
            Self::ClaimsAud => "ftn.claims_aud",
            Self::ClaimsAzp => "ftn.claims_azp",
            Self::Expired => "ftn.expired",
            Self::Iat => "ftn.iat",
            Self::NonceMismatch => "ftn.nonce_mismatch",
            Self::AcrUnknown => "ftn.acr_unknown",
            Self::AcrTooLow => "ftn.acr_too_low",
            Self::NationalIdMissing => "ftn.national_id_missing",
            Self::NationalId(_) => "ftn.national_id",
            Self::TestIdentityCode => "ftn.test_identity_code",
            Self::BirthdateMismatch => "ftn.birthdate_mismatch",
            Self::Names => "ftn.names",
            Self::UserinfoSubMismatch => "ftn.userinfo_sub_mismatch",
            Self::UserinfoHttp(_) => "ftn.userinfo_http",
            Self::UserinfoResponse(_) => "ftn.userinfo_response",
            Self::Internal(_) => "ftn.internal",
        }
    }
}

impl From<FtnError> for AdapterError {
    fn from(e: FtnError) -> Self {
        match e {
            FtnError::Cancelled => AdapterError::Cancelled,
            FtnError::FlowMismatch => AdapterError::FlowMismatch,
            other => AdapterError::Bank(other),
        }
    }
}

/// How an HTTP failure is described in an error (no URLs, no bodies).
pub(crate) fn describe_http(e: &crate::ftn::http::HttpError) -> String {
    use crate::ftn::http::HttpError;
    match e {
        HttpError::Timeout => "timeout".to_owned(),
        HttpError::TooLarge => "response too large".to_owned(),
        HttpError::Refused(_) => "refused by the HTTP client".to_owned(),
        HttpError::Io(_) => "I/O error".to_owned(),
    }
}
