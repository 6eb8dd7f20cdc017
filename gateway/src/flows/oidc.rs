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

/// `GET /oidc/authorize`.
pub async fn authorize(
    idp: &Idp,
    browser: &Browser,
    query: &[(String, String)],
    lang: Language,
) -> Result<Answer, FlowError> {
    let op = provider(idp)?;
    let now = idp.clock.now();
    let client_id = field(query, "client_id")?.ok_or_else(|| untrusted("client_id is missing"))?;
    let client = op
        .client(client_id)
        .ok_or_else(|| untrusted("unknown client_id"))?;
    let redirect_uri =
        field(query, "redirect_uri")?.ok_or_else(|| untrusted("redirect_uri is missing"))?;
    if !client.redirect_uris.iter().any(|u| u == redirect_uri) {
        return Err(untrusted("redirect_uri is not registered for this client"));
    }
    // From here the client and its redirect URI are trusted: errors go back there.
    let state = field(query, "state")?;
    if state.is_some_and(|s| s.len() > 512) {
        return error_redirect(redirect_uri, &op.issuer, "invalid_request", None);
    }
    let fail = |e: &str| error_redirect(redirect_uri, &op.issuer, e, state);
    if field(query, "response_type")? != Some("code") {
        return fail("unsupported_response_type");
    }
    let scope: Vec<String> = field(query, "scope")?
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if !scope.iter().any(|s| s == "openid") {
        return fail("invalid_scope");
    }
    if scope
        .iter()
        .any(|s| !client.scopes.contains(s) && s != "openid")
        || scope.iter().any(|s| !SCOPES.iter().any(|(k, _)| k == s))
    {
        return fail("invalid_scope");
    }
    let challenge = field(query, "code_challenge")?.unwrap_or("");
    if field(query, "code_challenge_method")? != Some("S256")
        || challenge.len() != 43
        || !challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        // PKCE is required, S256 only.
        return fail("invalid_request");
    }
    let nonce = field(query, "nonce")?;
    if nonce.is_some_and(|n| n.len() > 256) {
        return fail("invalid_request");
    }
    let prompt = field(query, "prompt")?.unwrap_or("");
    let prompts: Vec<&str> = prompt.split(' ').filter(|p| !p.is_empty()).collect();
    if prompts.iter().any(|p| !matches!(*p, "none" | "login"))
        || (prompts.contains(&"none") && prompts.len() > 1)
    {
        return fail("invalid_request");
    }
    let max_age = match field(query, "max_age")? {
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => return fail("invalid_request"),
        },
        None => None,
    };
    let lang = field(query, "ui_locales")?
        .and_then(|l| l.split(' ').find_map(Language::parse))
        .unwrap_or(lang);
    let pending = OidcPending {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        state: state.map(str::to_owned),
        nonce: nonce.map(str::to_owned),
        code_challenge: challenge.to_owned(),
        scope,
    };
    let force = prompts.contains(&"login");
    if !force {
        if let Some((sid, session)) = load_session(idp, browser, now).await? {
            let fresh_enough = max_age.is_none_or(|m| {
                session.identity.authn_instant().unix_timestamp() + m >= now.unix_timestamp()
            });
            if fresh_enough {
                return issue_code(idp, &sid, &session, &pending, now).await;
            }
        }
    }
    if prompts.contains(&"none") {
        return fail("login_required");
    }
    let request = super::PendingRequest {
        sp_entity_id: format!("{CLIENT_PREFIX}{}", client.client_id),
        request_id: certs::random_id(idp.rng.as_ref())?,
        acs_url: redirect_uri.to_owned(),
        relay_state: None,
        requirement: super::LoaRequirement::ANY,
        persistent_name_id: true,
        force_authn: force || max_age == Some(0),
        language: lang.code().to_owned(),
        oidc: Some(pending),
    };
    super::session::start_flow(idp, browser, request).await
}

/// The pairwise subject for `client_id`: stable per client, not linkable across clients, not
/// reversible to the national identification number without the gateway's secret.
fn pairwise_sub(idp: &Idp, client_id: &str, id: &VerifiedIdentity) -> String {
    let subject = id
        .national_id()
        .map(|n| n.expose().to_owned())
        .unwrap_or_else(|| format!("{}\0{}", id.upstream_issuer(), id.upstream_subject()));
    let tag = aws_lc_rs::hmac::sign(
        &idp.pairwise_key,
        format!("oidc-sub\0{client_id}\0{subject}").as_bytes(),
    );
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref())
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
                Value::from(format!(
                    "{:04}-{:02}-{:02}",
                    d.year(),
                    u8::from(d.month()),
                    d.day()
                )),
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

/// Issue a code for the session and send the browser back to the client.
async fn issue_code(
    idp: &Idp,
    browser_sid: &str,
    session: &SsoSession,
    pending: &OidcPending,
    now: OffsetDateTime,
) -> Result<Answer, FlowError> {
    let op = provider(idp)?;
    let sub = pairwise_sub(idp, &pending.client_id, &session.identity);
    let code = certs::random_token(idp.rng.as_ref())?;
    let record = CodeRecord {
        client_id: pending.client_id.clone(),
        redirect_uri: pending.redirect_uri.clone(),
        code_challenge: pending.code_challenge.clone(),
        nonce: pending.nonce.clone(),
        scope: pending.scope.clone(),
        sid: session.session_index.clone(),
        sub: sub.clone(),
        auth_time: session.identity.authn_instant().unix_timestamp(),
        acr: session.identity.loa().uri().to_owned(),
        claims: released_claims(&session.identity, &pending.scope),
        expires_at: (now + op.settings.code_ttl).unix_timestamp(),
    };
    super::session::record_participation(
        idp,
        browser_sid,
        &SpParticipation {
            sp_entity_id: format!("{CLIENT_PREFIX}{}", pending.client_id),
            name_id: sub,
            persistent: true,
            issued_at: now.unix_timestamp(),
        },
    )
    .await?;
    idp.store
        .put(
            &code_key(idp, &code),
            serde_json::to_vec(&record)?,
            super::to_std(op.settings.code_ttl),
        )
        .await?;
    tracing::info!(target: "audit", event = "oidc_code", client = %pending.client_id);
    let mut url = url::Url::parse(&pending.redirect_uri)
        .map_err(|_| untrusted("redirect_uri does not parse"))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("code", &code);
        if let Some(s) = &pending.state {
            q.append_pair("state", s);
        }
        q.append_pair("iss", &op.issuer);
    }
    Ok(Answer::step(Step::Redirect(url.into())))
}

/// The end of a login flow that an OpenID Connect client started: the code, as for a live
/// session. Called by `complete_login` once the session exists.
pub(super) async fn complete(
    idp: &Idp,
    sid: &str,
    session: &SsoSession,
    pending: &OidcPending,
    now: OffsetDateTime,
) -> Result<Answer, FlowError> {
    issue_code(idp, sid, session, pending, now).await
}

/// The citizen cancelled a flow an OpenID Connect client started: `access_denied`.
pub(super) fn cancelled(idp: &Idp, pending: &OidcPending) -> Result<Answer, FlowError> {
    let op = provider(idp)?;
    error_redirect(
        &pending.redirect_uri,
        &op.issuer,
        "access_denied",
        pending.state.as_deref(),
    )
}

/// The display name of a client, for the selection page.
pub(super) fn client_name(idp: &Idp, sp_entity_id: &str) -> Option<String> {
    let id = sp_entity_id.strip_prefix(CLIENT_PREFIX)?;
    Some(idp.oidc.as_ref()?.client(id)?.name.clone())
}

/// What the token endpoint received: the form, and the Authorization header's Basic
/// credentials if any.
pub struct TokenRequest<'a> {
    pub fields: &'a [(String, String)],
    pub basic: Option<(String, String)>,
    /// The endpoint's own URL (an assertion's `aud` may name it).
    pub endpoint: &'a str,
}

/// Authenticate the client of a request to the token, introspection or revocation endpoint.
async fn authenticate<'a>(
    idp: &Idp,
    op: &'a OidcProvider,
    req: &TokenRequest<'_>,
    now: OffsetDateTime,
) -> Result<&'a OidcClient, FlowError> {
    let bad = |d| FlowError::Oidc(OidcError::InvalidClient(d));
    let assertion = field(req.fields, "client_assertion")?;
    match (&req.basic, assertion) {
        (Some(_), Some(_)) => Err(bad("more than one client authentication")),
        (Some((id, secret)), None) => {
            let client = op.client(id).ok_or_else(|| bad("unknown client"))?;
            match &client.auth {
                ClientAuth::SecretBasic(expected)
                    if certs::constant_time_eq(expected, secret.as_bytes()) =>
                {
                    Ok(client)
                }
                _ => Err(bad("client authentication failed")),
            }
        }
        (None, Some(jwt)) => {
            if field(req.fields, "client_assertion_type")?
                != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            {
                return Err(bad("client_assertion_type"));
            }
            // The client is named in the assertion; its keys are ours to choose from.
            let unverified_iss = unverified_claim(jwt, "iss").ok_or_else(|| bad("assertion"))?;
            let client = op
                .client(&unverified_iss)
                .ok_or_else(|| bad("unknown client"))?;
            let ClientAuth::PrivateKeyJwt(keys) = &client.auth else {
                return Err(bad("this client authenticates with a secret"));
            };
            let v = jose::verify_jwt(jwt, keys, &JwsAlg::ALL, MAX_TOKEN_LEN)
                .map_err(|_| bad("client assertion refused"))?;
            let c = &v.claims;
            let ok_parties = c.get_str("iss") == Some(client.client_id.as_str())
                && c.get_str("sub") == Some(client.client_id.as_str())
                && (c.aud_contains(req.endpoint) || c.aud_contains(&op.issuer));
            if !ok_parties {
                return Err(bad("client assertion iss, sub or aud"));
            }
            c.check_time(now, Duration::seconds(30))
                .map_err(|_| bad("client assertion expired or not yet valid"))?;
            let exp = c
                .get_time("exp")
                .ok()
                .flatten()
                .ok_or_else(|| bad("client assertion without exp"))?;
            if exp > now + Duration::minutes(10) {
                return Err(bad("client assertion lives too long"));
            }
            let jti = c
                .get_str("jti")
                .ok_or_else(|| bad("client assertion without jti"))?;
            let marker = super::sha256(&[
                b"client-assertion\0",
                client.client_id.as_bytes(),
                b"\0",
                jti.as_bytes(),
            ]);
            let ttl = (exp - now).max(Duration::seconds(1)) + Duration::seconds(30);
            if !idp.single_use.claim(&marker, super::to_std(ttl)).await? {
                return Err(bad("client assertion replayed"));
            }
            Ok(client)
        }
        (None, None) => Err(bad("no client authentication")),
    }
}

/// One claim of a JWT read before its signature is checked, only to choose the keys to check it
/// with (a client's assertion names its client).
fn unverified_claim(jwt: &str, name: &str) -> Option<String> {
    if jwt.len() > MAX_TOKEN_LEN {
        return None;
    }
    let payload = jwt.split('.').nth(1)?;
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.get(name)?.as_str().map(str::to_owned)
}

/// `POST /oidc/token`: a code for tokens.
pub async fn token(idp: &Idp, req: &TokenRequest<'_>) -> Result<Value, FlowError> {
    let op = provider(idp)?;
    let now = idp.clock.now();
    let client = authenticate(idp, op, req, now).await?;
    let grant = |d| FlowError::Oidc(OidcError::InvalidGrant(d));
    if field(req.fields, "grant_type")? != Some("authorization_code") {
        return Err(FlowError::Oidc(OidcError::UnsupportedGrantType));
    }
    let code = field(req.fields, "code")?.ok_or_else(|| grant("code is missing"))?;
    if code.len() != TOKEN_LEN {
        return Err(grant("unknown code"));
    }
    let Some(raw) = idp.store.take(&code_key(idp, code)).await? else {
        // A code used before: the token issued for it is revoked (RFC 6749 4.1.2), since either
        // the client or an attacker holding the code is not who the first exchange was for.
        if let Some(jti) = idp.store.take(&used_code_key(idp, code)).await? {
            let jti = String::from_utf8_lossy(&jti).into_owned();
            idp.store.delete(&token_key(idp, &jti)).await?;
            tracing::warn!(target: "audit", event = "oidc_code_replay", client = %client.client_id,
                "an authorization code was presented again: the token issued for it is revoked");
        }
        return Err(grant("unknown, used or expired code"));
    };
    let record: CodeRecord = serde_json::from_slice(&raw)?;
    if record.expires_at <= now.unix_timestamp() {
        return Err(grant("expired code"));
    }
    if record.client_id != client.client_id {
        return Err(grant("the code was issued to another client"));
    }
    if field(req.fields, "redirect_uri")? != Some(record.redirect_uri.as_str()) {
        return Err(grant(
            "redirect_uri differs from the authorization request's",
        ));
    }
    let verifier =
        field(req.fields, "code_verifier")?.ok_or_else(|| grant("code_verifier is missing"))?;
    if !(43..=128).contains(&verifier.len()) {
        return Err(grant("code_verifier length"));
    }
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    use base64::Engine;
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
    if !certs::constant_time_eq(computed.as_bytes(), record.code_challenge.as_bytes()) {
        return Err(grant("code_verifier does not match the challenge"));
    }
    if idp.single_use.contains(&ended_marker(&record.sid)).await? {
        return Err(grant("the session has ended"));
    }
    let jti = certs::random_token(idp.rng.as_ref())?;
    let access_exp = now + op.settings.access_token_ttl;
    let mut at = Map::new();
    at.insert("iss".into(), Value::from(op.issuer.as_str()));
    at.insert("sub".into(), Value::from(record.sub.as_str()));
    at.insert("aud".into(), Value::from(client.client_id.as_str()));
    at.insert("client_id".into(), Value::from(client.client_id.as_str()));
    at.insert("iat".into(), Value::from(now.unix_timestamp()));
    at.insert("exp".into(), Value::from(access_exp.unix_timestamp()));
    at.insert("jti".into(), Value::from(jti.as_str()));
    at.insert("scope".into(), Value::from(record.scope.join(" ")));
    at.insert("sid".into(), Value::from(record.sid.as_str()));
    let mut at_header = Map::new();
    at_header.insert("typ".into(), Value::from("at+jwt"));
    let access_token = op
        .signer
        .sign(at_header, &serde_json::to_vec(&at)?)
        .map_err(|e| FlowError::Oidc(oidc_internal(e)))?;
    idp.store
        .put(
            &token_key(idp, &jti),
            serde_json::to_vec(&TokenRecord {
                client_id: client.client_id.clone(),
                sid: record.sid.clone(),
                sub: record.sub.clone(),
                scope: record.scope.clone(),
                claims: record.claims.clone(),
                expires_at: access_exp.unix_timestamp(),
            })?,
            super::to_std(op.settings.access_token_ttl),
        )
        .await?;
    idp.store
        .put(
            &used_code_key(idp, code),
            jti.clone().into_bytes(),
            super::to_std(op.settings.access_token_ttl),
        )
        .await?;
    let mut id = Map::new();
    id.insert("iss".into(), Value::from(op.issuer.as_str()));
    id.insert("sub".into(), Value::from(record.sub.as_str()));
    id.insert("aud".into(), Value::from(client.client_id.as_str()));
    id.insert("iat".into(), Value::from(now.unix_timestamp()));
    id.insert(
        "exp".into(),
        Value::from((now + op.settings.id_token_ttl).unix_timestamp()),
    );
    id.insert("auth_time".into(), Value::from(record.auth_time));
    id.insert("acr".into(), Value::from(record.acr.as_str()));
    id.insert("sid".into(), Value::from(record.sid.as_str()));
    if let Some(n) = &record.nonce {
        id.insert("nonce".into(), Value::from(n.as_str()));
    }
    for (k, v) in &record.claims {
        id.insert(k.clone(), v.clone());
    }
    let id_token = op
        .signer
        .sign(Map::new(), &serde_json::to_vec(&id)?)
        .map_err(|e| FlowError::Oidc(oidc_internal(e)))?;
    tracing::info!(target: "audit", event = "oidc_tokens", client = %client.client_id);
    Ok(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": op.settings.access_token_ttl.whole_seconds(),
        "id_token": id_token,
        "scope": record.scope.join(" "),
    }))
}

fn oidc_internal(e: jose::JoseError) -> OidcError {
    tracing::error!(cause = %e, "signing a token failed");
    OidcError::InvalidRequest("the token could not be signed")
}

/// A presented access token: our signature, not expired, its record still there (not revoked),
/// its session not ended.
async fn check_access_token(
    idp: &Idp,
    op: &OidcProvider,
    token: &str,
    now: OffsetDateTime,
) -> Result<(Claims, TokenRecord), OidcError> {
    let bad = OidcError::InvalidToken;
    let v = jose::verify_jwt(token, &op.jwks, &[op.signer.alg()], MAX_TOKEN_LEN)
        .map_err(|_| bad("not a token of ours"))?;
    if v.header.typ.as_deref() != Some("at+jwt") {
        return Err(bad("not an access token"));
    }
    let c = v.claims;
    if c.get_str("iss") != Some(op.issuer.as_str()) {
        return Err(bad("issuer"));
    }
    c.check_time(now, Duration::ZERO)
        .map_err(|_| bad("expired"))?;
    let jti = c.get_str("jti").ok_or(bad("no jti"))?;
    let raw = idp
        .store
        .get(&token_key(idp, jti))
        .await
        .map_err(|_| bad("token state unavailable"))?
        .ok_or(bad("revoked or unknown"))?;
    let record: TokenRecord = serde_json::from_slice(&raw).map_err(|_| bad("token record"))?;
    if idp
        .single_use
        .contains(&ended_marker(&record.sid))
        .await
        .map_err(|_| bad("session state unavailable"))?
    {
        return Err(bad("the session has ended"));
    }
    Ok((c, record))
}

/// `GET/POST /oidc/userinfo` with a Bearer access token.
pub async fn userinfo(idp: &Idp, bearer: Option<&str>) -> Result<Value, FlowError> {
    let op = provider(idp)?;
    let token = bearer.ok_or(FlowError::Oidc(OidcError::InvalidToken("no bearer token")))?;
    let (_, record) = check_access_token(idp, op, token, idp.clock.now())
        .await
        .map_err(FlowError::Oidc)?;
    let mut out = record.claims.clone();
    out.insert("sub".into(), Value::from(record.sub));
    Ok(Value::Object(out))
}

/// `POST /oidc/introspect` (RFC 7662): `{"active": false}` for anything not a live token of
/// ours; the caller must be a registered client.
pub async fn introspect(idp: &Idp, req: &TokenRequest<'_>) -> Result<Value, FlowError> {
    let op = provider(idp)?;
    let now = idp.clock.now();
    let client = authenticate(idp, op, req, now).await?;
    let Some(token) = field(req.fields, "token")? else {
        return Err(FlowError::Oidc(OidcError::InvalidRequest(
            "token is missing",
        )));
    };
    match check_access_token(idp, op, token, now).await {
        Ok((claims, record)) => {
            tracing::debug!(client = %client.client_id, "token introspected: active");
            Ok(json!({
                "active": true,
                "client_id": record.client_id,
                "sub": record.sub,
                "scope": record.scope.join(" "),
                "exp": claims.get_i64("exp"),
                "iat": claims.get_i64("iat"),
                "iss": op.issuer,
                "token_type": "Bearer",
                "sid": record.sid,
            }))
        }
        Err(e) => {
            tracing::debug!(client = %client.client_id, reason = %e, "token introspected: inactive");
            Ok(json!({ "active": false }))
        }
    }
}

/// `POST /oidc/revoke` (RFC 7009): the client's own access token stops working. Unknown tokens
/// are answered the same (200), as the RFC asks.
pub async fn revoke(idp: &Idp, req: &TokenRequest<'_>) -> Result<(), FlowError> {
    let op = provider(idp)?;
    let now = idp.clock.now();
    let client = authenticate(idp, op, req, now).await?;
    let Some(token) = field(req.fields, "token")? else {
        return Err(FlowError::Oidc(OidcError::InvalidRequest(
            "token is missing",
        )));
    };
    if let Ok((claims, record)) = check_access_token(idp, op, token, now).await {
        if record.client_id == client.client_id {
            if let Some(jti) = claims.get_str("jti") {
                idp.store.delete(&token_key(idp, jti)).await?;
                tracing::info!(target: "audit", event = "oidc_revoke", client = %client.client_id);
            }
        }
    }
    Ok(())
}

/// `GET /oidc/logout`: RP-initiated logout. With a valid `id_token_hint` of ours naming the
/// browser's session, and a registered `post_logout_redirect_uri`, the session ends (with the
/// single logout propagation) and the browser goes back to the client; without, the citizen is
/// shown the gateway's logout page to confirm.
pub async fn end_session(
    idp: &Idp,
    browser: &Browser,
    query: &[(String, String)],
    lang: Language,
) -> Result<Answer, FlowError> {
    let op = provider(idp)?;
    let now = idp.clock.now();
    let hint = field(query, "id_token_hint")?;
    let post_logout = field(query, "post_logout_redirect_uri")?;
    let state = field(query, "state")?;
    let claims = match hint {
        Some(t) => Some(
            jose::verify_jwt(t, &op.jwks, &[op.signer.alg()], MAX_TOKEN_LEN)
                .map_err(|_| untrusted("id_token_hint is not an ID token of ours"))?
                .claims,
        ),
        None => None,
    };
    let client = match claims.as_ref().and_then(|c| c.get_str("aud")) {
        Some(aud) => Some(
            op.client(aud)
                .ok_or_else(|| untrusted("id_token_hint names an unknown client"))?,
        ),
        None => None,
    };
    let back = match (post_logout, client) {
        (Some(uri), Some(c)) if c.post_logout_redirect_uris.iter().any(|u| u == uri) => {
            let mut url =
                url::Url::parse(uri).map_err(|_| untrusted("post_logout_redirect_uri"))?;
            if let Some(s) = state {
                url.query_pairs_mut().append_pair("state", s);
            }
            Some(url.to_string())
        }
        (Some(_), _) => {
            return Err(untrusted(
                "post_logout_redirect_uri is not registered for the client",
            ))
        }
        (None, _) => None,
    };
    let Some((sid, session)) = load_session(idp, browser, now).await? else {
        let mut a = match back {
            Some(url) => Answer::step(Step::Redirect(url)),
            None => Answer::step(Step::LoggedOut(super::LoggedOut {
                lang,
                unconfirmed: Vec::new(),
            })),
        };
        a.clear_session = browser.session.is_some();
        return Ok(a);
    };
    let names_session = claims
        .as_ref()
        .and_then(|c| c.get_str("sid"))
        .is_some_and(|s| s == session.session_index);
    if !names_session {
        // Without proof that the client speaks for this session, the citizen decides.
        return Ok(Answer::step(Step::Redirect(format!(
            "/logout?lang={}",
            lang.code()
        ))));
    }
    tracing::info!(target: "audit", event = "logout", initiator = %client.map(|c| c.client_id.as_str()).unwrap_or(""), via = "oidc");
    let parts = participations(idp, &sid).await?;
    super::logout::end_and_propagate_to(idp, &sid, &session, parts, back, lang, now).await
}

/// Back-channel logout tokens for the clients that took part in a session that ended.
pub(super) fn notify_clients(
    idp: &Idp,
    session_index: &str,
    parts: &[SpParticipation],
    now: OffsetDateTime,
) {
    let Some(op) = &idp.oidc else { return };
    let Some(notifier) = &op.notifier else { return };
    for p in parts {
        let Some(client) = p
            .sp_entity_id
            .strip_prefix(CLIENT_PREFIX)
            .and_then(|id| op.client(id))
        else {
            continue;
        };
        let Some(uri) = &client.backchannel_logout_uri else {
            continue;
        };
        let Ok(jti) = certs::random_token(idp.rng.as_ref()) else {
            continue;
        };
        let claims = json!({
            "iss": op.issuer,
            "sub": p.name_id,
            "aud": client.client_id,
            "iat": now.unix_timestamp(),
            "exp": (now + Duration::minutes(2)).unix_timestamp(),
            "jti": jti,
            "sid": session_index,
            "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
        });
        let mut header = Map::new();
        header.insert("typ".into(), Value::from("logout+jwt"));
        match serde_json::to_vec(&claims)
            .map_err(|e| e.to_string())
            .and_then(|body| op.signer.sign(header, &body).map_err(|e| e.to_string()))
        {
            Ok(token) => {
                tracing::info!(target: "audit", event = "backchannel_logout", client = %client.client_id);
                notifier.notify(uri.clone(), token);
            }
            Err(e) => tracing::error!(cause = %e, "a logout token could not be signed"),
        }
    }
}

/// Session members that are OpenID Connect clients (told by back channel, never in a frame).
pub(super) fn is_client(p: &SpParticipation) -> bool {
    p.sp_entity_id.starts_with(CLIENT_PREFIX)
}
