//! The outgoing half: the authorization request (JAR request object, PKCE S256, state, nonce),
//! the per-flow secrets kept by the gateway, and the `private_key_jwt` client assertion.

use base64::Engine as _;
use certs::{random_token, DigestAlgorithm, RandomSource};
use jose::JwsSigner;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use crate::adapter::UpstreamPending;
use crate::ftn::config::FtnBankConfig;
use crate::ftn::error::FtnError;
use crate::loa::LevelOfAssurance;

/// Lifetime of a request object.
pub(crate) const REQUEST_OBJECT_TTL_SECONDS: i64 = 300;
/// Lifetime of a client assertion.
pub(crate) const CLIENT_ASSERTION_TTL_SECONDS: i64 = 60;
pub(crate) const CLIENT_ASSERTION_TYPE: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The `typ` of a request object (RFC 9101 §10.8).
pub(crate) const REQUEST_OBJECT_TYP: &str = "oauth-authz-req+jwt";
const PENDING_VERSION: u8 = 1;

/// The per-flow secrets of one bank login, kept by the gateway in the flow record.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PendingFtn {
    pub(crate) v: u8,
    pub(crate) bank: String,
    pub(crate) state: String,
    pub(crate) nonce: String,
    pub(crate) code_verifier: String,
    pub(crate) requested_loa: Option<LevelOfAssurance>,
    /// Unix seconds.
    pub(crate) started_at: i64,
    /// A fresh authentication was asked for (`prompt=login`, `max_age=0`): the ID token's
    /// `auth_time` must be present and not before `started_at`.
    #[serde(default)]
    pub(crate) force_authn: bool,
}

impl PendingFtn {
    pub(crate) fn to_upstream(&self) -> Result<UpstreamPending, FtnError> {
        serde_json::to_value(self)
            .map(UpstreamPending)
            .map_err(|_| FtnError::Internal("pending state could not be written"))
    }

    pub(crate) fn from_upstream(pending: &UpstreamPending) -> Result<Self, FtnError> {
        let parsed: Self =
            serde_json::from_value(pending.0.clone()).map_err(|_| FtnError::Pending)?;
        if parsed.v != PENDING_VERSION {
            return Err(FtnError::Pending);
        }
        Ok(parsed)
    }
}

/// An authorization request ready to send: the URL and what to keep.
pub(crate) struct AuthorizationRequest {
    pub(crate) url: String,
    pub(crate) pending: PendingFtn,
}

/// `BASE64URL(SHA-256(ASCII(verifier)))` (RFC 7636 §4.2).
pub(crate) fn pkce_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(DigestAlgorithm::Sha256.digest(verifier.as_bytes()))
}

/// The `acr_values` to ask for: `loa3` when the request needs rank 3, else `loa2`.
pub(crate) fn acr_value(requested: Option<LevelOfAssurance>) -> &'static str {
    match requested {
        Some(level) if level.rank() >= 3 => LevelOfAssurance::FtnHigh.uri(),
        _ => LevelOfAssurance::FtnSubstantial.uri(),
    }
}

fn token(rng: &dyn RandomSource) -> Result<String, FtnError> {
    random_token(rng).map_err(|_| FtnError::Internal("random source failed"))
}

/// Signs `claims` with jsonwebtoken (through [`JwsSigner`]), `kid` and `alg` the signer's.
fn sign(
    header_extra: Map<String, Value>,
    claims: &Value,
    signer: &JwsSigner,
) -> Result<String, FtnError> {
    let payload = serde_json::to_vec(claims)
        .map_err(|_| FtnError::Internal("claims could not be written"))?;
    signer
        .sign(header_extra, &payload)
        .map_err(|_| FtnError::Internal("signing failed"))
}

/// Builds the authorization URL with a signed request object and the secrets to keep.
pub(crate) fn authorization_request(
    cfg: &FtnBankConfig,
    authorization_endpoint: &str,
    signer: &JwsSigner,
    rng: &dyn RandomSource,
    ctx: &crate::StartContext<'_>,
) -> Result<AuthorizationRequest, FtnError> {
    let (language, requested_loa, force_authn, now) =
        (ctx.language, ctx.requested_loa, ctx.force_authn, ctx.now);
    let state = token(rng)?;
    let nonce = token(rng)?;
    let code_verifier = token(rng)?;
    let jti = token(rng)?;
    let iat = now.unix_timestamp();
    let scope = cfg.scope.join(" ");

    let mut claims = json!({
        "iss": cfg.client_id,
        "aud": cfg.issuer,
        "response_type": "code",
        "client_id": cfg.client_id,
        "redirect_uri": cfg.redirect_uri,
        "scope": scope,
        "state": state,
        "nonce": nonce,
        "code_challenge": pkce_challenge(&code_verifier),
        "code_challenge_method": "S256",
        "acr_values": acr_value(requested_loa),
        "ui_locales": language.code(),
        "iat": iat,
        "exp": iat + REQUEST_OBJECT_TTL_SECONDS,
        "jti": jti,
    });
    if let Some(object) = claims.as_object_mut() {
        if let Some(idp) = &cfg.ftn_idp_id {
            object.insert("ftn_idp_id".to_owned(), Value::from(idp.as_str()));
        }
        if let Some(spname) = &cfg.ftn_spname {
            object.insert("ftn_spname".to_owned(), Value::from(spname.as_str()));
        }
        if force_authn {
            // OpenID Connect Core 3.1.2.1: authenticate anew, whatever session the bank has.
            object.insert("prompt".to_owned(), Value::from("login"));
            object.insert("max_age".to_owned(), Value::from(0));
        }
    }
    let mut header = Map::new();
    header.insert("typ".to_owned(), Value::from(REQUEST_OBJECT_TYP));
    let request_object = sign(header, &claims, signer)?;

    let mut url = url::Url::parse(authorization_endpoint)
        .map_err(|_| FtnError::Discovery("authorization endpoint is not a URL"))?;
    url.query_pairs_mut()
        .append_pair("client_id", &cfg.client_id)
        .append_pair("response_type", "code")
        .append_pair("scope", &scope)
        .append_pair("request", &request_object);
    if force_authn {
        // Also outside the request object, for a bank that reads the query (RFC 9101 lets the
        // request object's value win; they are the same).
        url.query_pairs_mut()
            .append_pair("prompt", "login")
            .append_pair("max_age", "0");
    }

    Ok(AuthorizationRequest {
        url: url.into(),
        pending: PendingFtn {
            v: PENDING_VERSION,
            bank: cfg.id.clone(),
            state,
            nonce,
            code_verifier,
            requested_loa,
            started_at: iat,
            force_authn,
        },
    })
}

/// The `private_key_jwt` client assertion for the token endpoint (RFC 7523 §3).
pub(crate) fn client_assertion(
    cfg: &FtnBankConfig,
    token_endpoint: &str,
    signer: &JwsSigner,
    rng: &dyn RandomSource,
    now: OffsetDateTime,
) -> Result<String, FtnError> {
    let iat = now.unix_timestamp();
    let claims = json!({
        "iss": cfg.client_id,
        "sub": cfg.client_id,
        "aud": token_endpoint,
        "jti": token(rng)?,
        "iat": iat,
        "exp": iat + CLIENT_ASSERTION_TTL_SECONDS,
    });
    sign(Map::new(), &claims, signer)
}
