//! The OpenID Connect provider: session tokens for the citizen's e-services account and other
//! modern clients, from the same SSO session SAML services use.
//!
//! - **Authorization code with PKCE** (S256 only) at `/oidc/authorize`: an unknown client or a
//!   redirect URI not registered exactly is an error page (nothing is sent to an unknown place);
//!   after that, errors go back to the client's redirect URI. A live SSO session answers at once
//!   (unless `prompt=login` or `max_age` says otherwise); otherwise a login flow starts, sealed in
//!   the browser like a SAML one, and its end issues the code. `prompt=none` without a usable
//!   session is `login_required`.
//! - **The code** is a random token; its record (client, redirect URI, challenge, nonce, scope,
//!   the session's claims) is kept in the store for [`OidcSettings::code_ttl`] and taken exactly
//!   once (atomic take): a replayed code finds nothing, and the tokens issued for it are revoked.
//! - **Tokens** are JWTs signed with the provider's key (`kid` = its RFC 7638 thumbprint):
//!   an ID token and an access token (`typ: at+jwt`, RFC 9068). Each access token has a record in
//!   the store (its claims for userinfo) for its lifetime; revocation deletes it, and the end of
//!   the session (any logout) marks the session ended, so introspection and userinfo refuse its
//!   tokens at once.
//! - **Client authentication** at the token, introspection and revocation endpoints:
//!   `client_secret_basic` (a secret from a file, compared in constant time) or `private_key_jwt`
//!   (an assertion signed by a key in the client's registered JWKS, `aud` this endpoint or the
//!   issuer, single use by `jti`).
//! - **Logout:** RP-initiated (`/oidc/logout`, `id_token_hint`, a registered
//!   `post_logout_redirect_uri`) ends the SSO session with the same propagation as SAML single
//!   logout; every logout sends back-channel logout tokens to the clients that took part.

use super::session::{load_session, participations, TOKEN_LEN};
use super::{Answer, Browser, FlowError, Idp, SpParticipation, SsoSession, Step};
use crate::stores::RecordKind;
use idp_adapters::{Language, VerifiedIdentity};
use jose::{Claims, JwkSet, JwsAlg, JwsSigner};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

mod authorize;
mod logout;
mod tokens;

pub use authorize::authorize;
pub(in crate::flows) use authorize::{cancelled, client_name, complete};
pub use logout::end_session;
pub(in crate::flows) use logout::{is_client, notify_clients};
pub use tokens::{introspect, revoke, token, userinfo, TokenRequest};

/// How a participation of an OpenID Connect client is named among a session's members (SAML
/// services are named by their entity IDs, which are URLs).
pub const CLIENT_PREFIX: &str = "oidc:";

/// The longest token, assertion or code we read.
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The scopes the provider knows, and the claims each releases (besides `sub`).
pub const SCOPES: &[(&str, &[&str])] = &[
    ("openid", &[]),
    (
        "profile",
        &["name", "given_name", "family_name", "birthdate"],
    ),
    ("national_id", &["national_id"]),
];

/// How a client authenticates at the token, introspection and revocation endpoints.
#[derive(Clone, Debug)]
pub enum ClientAuth {
    /// HTTP Basic with this secret.
    SecretBasic(Vec<u8>),
    /// A JWT signed by one of these keys.
    PrivateKeyJwt(JwkSet),
}

/// A registered client.
#[derive(Clone, Debug)]
pub struct OidcClient {
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub auth: ClientAuth,
    /// The scopes it may ask for (`openid` always).
    pub scopes: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
}

#[derive(Clone, Debug)]
pub struct OidcSettings {
    pub code_ttl: Duration,
    pub access_token_ttl: Duration,
    pub id_token_ttl: Duration,
}

/// The provider: issuer, signing key, published keys, clients.
pub struct OidcProvider {
    pub issuer: String,
    pub signer: JwsSigner,
    /// The JWKS document served at `/oidc/op/jwks`.
    pub jwks_json: String,
    /// The same keys, to check tokens presented to us.
    pub jwks: JwkSet,
    pub clients: Vec<OidcClient>,
    pub settings: OidcSettings,
    /// Sends back-channel logout tokens (HTTP, outside the flows).
    pub notifier: Option<Arc<dyn LogoutNotifier>>,
}

/// Sends a back-channel logout token to a client (RFC: OpenID Connect Back-Channel Logout 1.0).
pub trait LogoutNotifier: Send + Sync {
    fn notify(&self, uri: String, logout_token: String);
}

impl OidcProvider {
    pub fn client(&self, id: &str) -> Option<&OidcClient> {
        self.clients.iter().find(|c| c.client_id == id)
    }

    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// The discovery document (`/.well-known/openid-configuration`).
    pub fn discovery(&self) -> Value {
        json!({
            "issuer": self.issuer,
            "authorization_endpoint": self.endpoint("/oidc/authorize"),
            "token_endpoint": self.endpoint("/oidc/token"),
            "userinfo_endpoint": self.endpoint("/oidc/userinfo"),
            "jwks_uri": self.endpoint("/oidc/op/jwks"),
            "introspection_endpoint": self.endpoint("/oidc/introspect"),
            "revocation_endpoint": self.endpoint("/oidc/revoke"),
            "end_session_endpoint": self.endpoint("/oidc/logout"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": [self.signer.alg().name()],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256", "PS256", "ES256"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": SCOPES.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            "claims_supported": ["sub", "name", "given_name", "family_name", "birthdate", "national_id", "acr", "auth_time", "sid"],
            "prompt_values_supported": ["none", "login"],
            "backchannel_logout_supported": true,
            "backchannel_logout_session_supported": true,
            "authorization_response_iss_parameter_supported": true,
            "ui_locales_supported": ["fi", "sv", "en"],
        })
    }
}

/// An OpenID Connect request waiting in a login flow (sealed in the browser with the flow).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OidcPending {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub scope: Vec<String>,
}

/// What an authorization code stands for (kept in the store until taken).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct CodeRecord {
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    nonce: Option<String>,
    scope: Vec<String>,
    /// The session's SessionIndex (the tokens' `sid`).
    sid: String,
    sub: String,
    auth_time: i64,
    acr: String,
    /// The released claims (by scope).
    claims: Map<String, Value>,
    expires_at: i64,
}

/// An access token's record: what userinfo answers, while the token lives.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct TokenRecord {
    client_id: String,
    sid: String,
    sub: String,
    scope: Vec<String>,
    claims: Map<String, Value>,
    expires_at: i64,
}

/// Why an authorization request is refused before anything is sent to the client: shown as a
/// page (the client or its redirect URI cannot be trusted with an answer).
fn untrusted(what: &'static str) -> FlowError {
    FlowError::Oidc(OidcError::InvalidRequest(what))
}

/// The OpenID Connect errors of the token, userinfo, introspection and revocation endpoints
/// (and of the authorization endpoint before a redirect URI is trusted).
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("invalid_request: {0}")]
    InvalidRequest(&'static str),
    #[error("invalid_client: {0}")]
    InvalidClient(&'static str),
    #[error("invalid_grant: {0}")]
    InvalidGrant(&'static str),
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(&'static str),
    #[error("unsupported_grant_type")]
    UnsupportedGrantType,
    #[error("invalid_token: {0}")]
    InvalidToken(&'static str),
    #[error("the OpenID Connect provider is not enabled")]
    NotEnabled,
}

impl OidcError {
    /// The RFC 6749 / 6750 error code.
    pub fn error(&self) -> &'static str {
        match self {
            OidcError::InvalidRequest(_) => "invalid_request",
            OidcError::InvalidClient(_) => "invalid_client",
            OidcError::InvalidGrant(_) => "invalid_grant",
            OidcError::UnauthorizedClient(_) => "unauthorized_client",
            OidcError::UnsupportedGrantType => "unsupported_grant_type",
            OidcError::InvalidToken(_) => "invalid_token",
            OidcError::NotEnabled => "invalid_request",
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            OidcError::InvalidRequest(_) => "oidc.invalid_request",
            OidcError::InvalidClient(_) => "oidc.invalid_client",
            OidcError::InvalidGrant(_) => "oidc.invalid_grant",
            OidcError::UnauthorizedClient(_) => "oidc.unauthorized_client",
            OidcError::UnsupportedGrantType => "oidc.unsupported_grant_type",
            OidcError::InvalidToken(_) => "oidc.invalid_token",
            OidcError::NotEnabled => "oidc.not_enabled",
        }
    }

    pub fn description(&self) -> &'static str {
        match self {
            OidcError::InvalidRequest(d)
            | OidcError::InvalidClient(d)
            | OidcError::InvalidGrant(d)
            | OidcError::UnauthorizedClient(d)
            | OidcError::InvalidToken(d) => d,
            OidcError::UnsupportedGrantType => "only authorization_code",
            OidcError::NotEnabled => "no OpenID Connect provider is configured",
        }
    }
}

fn provider(idp: &Idp) -> Result<&OidcProvider, FlowError> {
    idp.oidc
        .as_ref()
        .ok_or(FlowError::Oidc(OidcError::NotEnabled))
}

fn field<'a>(q: &'a [(String, String)], name: &'static str) -> Result<Option<&'a str>, FlowError> {
    super::single_field(q, name)
}

/// A redirect to the client with an error (after the redirect URI was found registered; the
/// config checked that every registered one parses).
fn error_redirect(
    redirect_uri: &str,
    issuer: &str,
    error: &str,
    state: Option<&str>,
) -> Result<Answer, FlowError> {
    let mut url =
        url::Url::parse(redirect_uri).map_err(|_| untrusted("redirect_uri does not parse"))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("error", error);
        if let Some(s) = state {
            q.append_pair("state", s);
        }
        q.append_pair("iss", issuer);
    }
    Ok(Answer::step(Step::Redirect(url.into())))
}

/// The pairwise subject for `client_id`: stable per client, not linkable across clients, not
/// reversible to the national identification number without the gateway's secret.
fn pairwise_sub(idp: &Idp, client_id: &str, id: &VerifiedIdentity) -> String {
    super::response::pairwise_id(idp, "oidc-sub", client_id, id)
}

/// The claims `scope` releases about `id`.
fn released_claims(id: &VerifiedIdentity, scope: &[String]) -> Map<String, Value> {
    let mut m = Map::new();
    let wants = |claim: &str| {
        scope.iter().any(|s| {
            SCOPES
                .iter()
                .any(|(k, claims)| k == s && claims.contains(&claim))
        })
    };
    if wants("name") {
        m.insert("name".into(), Value::from(id.full_name()));
    }
    if wants("given_name") {
        m.insert("given_name".into(), Value::from(id.given_name()));
    }
    if wants("family_name") {
        m.insert("family_name".into(), Value::from(id.family_name()));
    }
    if wants("birthdate") {
        if let Some(d) = id.birth_date() {
            m.insert(
                "birthdate".into(),
                Value::from(super::response::iso_date(d)),
            );
        }
    }
    if wants("national_id") {
        if let Some(n) = id.national_id() {
            m.insert("national_id".into(), Value::from(n.expose()));
        }
    }
    m
}

fn code_key(idp: &Idp, code: &str) -> String {
    idp.layout.key(
        RecordKind::Code,
        &super::sha256_hex(&[b"code\0", code.as_bytes()]),
    )
}

fn token_key(idp: &Idp, jti: &str) -> String {
    idp.layout.key(
        RecordKind::Code,
        &super::sha256_hex(&[b"at\0", jti.as_bytes()]),
    )
}

fn ended_marker(sid: &str) -> [u8; 32] {
    super::sha256(&[b"session-ended\0", sid.as_bytes()])
}

/// Where a used code remembers the access token issued for it (a replay revokes it).
fn used_code_key(idp: &Idp, code: &str) -> String {
    idp.layout.key(
        RecordKind::Code,
        &super::sha256_hex(&[b"used\0", code.as_bytes()]),
    )
}

/// The session `sid` (its SessionIndex) ended: its tokens fail from now on. Kept as long as any
/// token can live.
pub async fn mark_session_ended(idp: &Idp, sid: &str) -> Result<(), FlowError> {
    if let Some(op) = &idp.oidc {
        let ttl = op.settings.access_token_ttl.max(op.settings.id_token_ttl) + Duration::minutes(1);
        idp.single_use
            .claim(&ended_marker(sid), super::to_std(ttl))
            .await?;
    }
    Ok(())
}
