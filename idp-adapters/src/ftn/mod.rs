//! FTN (Finnish Trust Network) bank login over OpenID Connect (`docs/design/ftn-oidc.md` §2, §4).
//!
//! `start` builds a signed request object (JAR) with PKCE S256, `state` and `nonce`; `finish`
//! checks the callback, redeems the code with a `private_key_jwt` client assertion, decrypts and
//! verifies the ID token, optionally asks userinfo, and maps the FTN claims to a
//! [`VerifiedIdentity`]. All I/O goes through the injected [`HttpClient`]; the order of checks
//! is design §4.3's.

pub mod config;
mod error;
pub mod http;
mod provider;
mod request;
mod verify;

#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use certs::RandomSource;
use jose::{Claims, JwkSet, JwsSigner};
use time::{Duration, OffsetDateTime};

use crate::adapter::{
    AdapterError, AdapterFuture, AuthAdapter, CallbackInput, FinishContext, Language, StartAction,
    StartContext,
};
use crate::identity::VerifiedIdentity;
use crate::loa::LevelOfAssurance;

pub use config::{ClaimNames, Endpoints, FtnBankConfig};
pub use error::FtnError;
pub use http::{HttpClient, HttpError, HttpMethod, HttpRequest, HttpResponse};

use error::describe_http;
use provider::{fetch_jwks, resolve_endpoints, BankState};
use request::{PendingFtn, CLIENT_ASSERTION_TYPE};
use verify::UserinfoBody;

/// At most one JWK set refetch per bank in this interval when a token names an unknown `kid`.
pub const KID_REFETCH_INTERVAL: Duration = Duration::seconds(60);
/// Longest authorization code accepted from a callback.
const MAX_CODE_LEN: usize = 4096;

/// The gateway's relying-party keys: one signing key (request objects, client assertions) under
/// `signing_kid`, and the RSA keys ID tokens and userinfo are encrypted to (current, next).
pub struct RpKeys {
    pub signing: certs::SigningKey,
    pub signing_kid: String,
    pub decryption: Vec<jose::JweDecryptionKey>,
}

impl fmt::Debug for RpKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RpKeys")
            .field("signing_kid", &self.signing_kid)
            .field(
                "decryption",
                &self
                    .decryption
                    .iter()
                    .map(jose::JweDecryptionKey::kid)
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// One configured FTN bank as an [`AuthAdapter`] with id `bank:<id>`.
pub struct FtnBank {
    cfg: FtnBankConfig,
    adapter_id: String,
    rp: Arc<RpKeys>,
    /// The RP signing key as jsonwebtoken takes it, under `request_object_alg`; made once here
    /// because the conversion parses the key.
    request_signer: JwsSigner,
    /// The same key under `client_assertion_alg`.
    assertion_signer: JwsSigner,
    http: Arc<dyn HttpClient>,
    rng: Arc<dyn RandomSource>,
    state: RwLock<Option<BankState>>,
    last_kid_refetch: Mutex<Option<OffsetDateTime>>,
    /// See [`FtnBank::refuse_test_identity_codes`]; off unless the operator sets it.
    refuse_test_identity_codes: bool,
}

impl fmt::Debug for FtnBank {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FtnBank")
            .field("id", &self.adapter_id)
            .field("issuer", &self.cfg.issuer)
            .field("ready", &self.is_ready())
            .field(
                "refuse_test_identity_codes",
                &self.refuse_test_identity_codes,
            )
            .finish_non_exhaustive()
    }
}

impl FtnBank {
    /// Checks the configuration and that the RP keys fit it. Performs no I/O: call
    /// [`FtnBank::refresh`] before the first login.
    pub fn new(
        cfg: FtnBankConfig,
        rp: Arc<RpKeys>,
        http: Arc<dyn HttpClient>,
        rng: Arc<dyn RandomSource>,
    ) -> Result<Self, FtnError> {
        let mut problems = cfg.validate().err().unwrap_or_default();
        if rp.signing_kid.is_empty() {
            problems.push("the RP signing key has no kid".to_owned());
        }
        // Each signer is made once here (the conversion for jsonwebtoken parses the key).
        let mut signer = |what: &str, alg: jose::JwsAlg| {
            if rp.signing_kid.is_empty() {
                return None; // reported above
            }
            if !alg.fits(&rp.signing) {
                problems.push(format!(
                    "bank {}: {what} {alg} does not fit the RP signing key",
                    cfg.id
                ));
                return None;
            }
            JwsSigner::new(&rp.signing, &rp.signing_kid, alg)
                .map_err(|e| {
                    problems.push(format!(
                        "bank {}: the RP signing key cannot sign {what} {alg}: {}",
                        cfg.id,
                        e.code()
                    ))
                })
                .ok()
        };
        let request_signer = signer("request_object_alg", cfg.request_object_alg);
        let assertion_signer = signer("client_assertion_alg", cfg.client_assertion_alg);
        if cfg.require_encrypted_id_token && rp.decryption.is_empty() {
            problems.push(format!(
                "bank {}: encrypted ID tokens are required but no RP decryption key is loaded",
                cfg.id
            ));
        }
        let (Some(request_signer), Some(assertion_signer), true) =
            (request_signer, assertion_signer, problems.is_empty())
        else {
            return Err(FtnError::Config(problems));
        };
        Ok(Self {
            adapter_id: cfg.adapter_id(),
            cfg,
            rp,
            request_signer,
            assertion_signer,
            http,
            rng,
            state: RwLock::new(None),
            last_kid_refetch: Mutex::new(None),
            refuse_test_identity_codes: false,
        })
    }

    /// Refuse a login whose personal identity code is of the test series (individual number
    /// 900-999, [`crate::PersonalIdentityCode::is_test_series`]) with
    /// [`FtnError::TestIdentityCode`]. Off by default: banks' test environments hand out such
    /// codes. Kept beside [`FtnBankConfig`] rather than in it so that the gateway's struct
    /// literal of that config stays as it is.
    pub fn refuse_test_identity_codes(mut self, refuse: bool) -> Self {
        self.refuse_test_identity_codes = refuse;
        self
    }

    /// Whether test-series identity codes are refused ([`FtnBank::refuse_test_identity_codes`]).
    pub fn refuses_test_identity_codes(&self) -> bool {
        self.refuse_test_identity_codes
    }

    pub fn config(&self) -> &FtnBankConfig {
        &self.cfg
    }

    /// Whether endpoints and keys are known (a refresh has succeeded at least once).
    pub fn is_ready(&self) -> bool {
        self.snapshot().is_some()
    }

    /// When the endpoints and keys in use were fetched (`None` before the first refresh).
    pub fn last_refresh(&self) -> Option<OffsetDateTime> {
        self.snapshot().map(|s| s.fetched_at)
    }

    /// Fetch discovery (when [`Endpoints::Discovery`]; its issuer must equal the configured one
    /// exactly) and the bank's JWK set, and keep them. On failure the previous endpoints and keys
    /// stay in use. Called by the gateway at start and periodically.
    pub fn refresh<'a>(&'a self, now: OffsetDateTime) -> AdapterFuture<'a, Result<(), FtnError>> {
        Box::pin(async move {
            let endpoints = resolve_endpoints(&self.cfg, self.http.as_ref()).await?;
            let keys = fetch_jwks(&endpoints.jwks_uri, self.http.as_ref()).await?;
            let mut guard = self.state.write().unwrap_or_else(PoisonError::into_inner);
            *guard = Some(BankState {
                endpoints,
                keys: Arc::new(keys),
                fetched_at: now,
            });
            Ok(())
        })
    }

    fn snapshot(&self) -> Option<BankState> {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether an unknown-kid refetch is allowed now; if so, records it.
    fn take_refetch_slot(&self, now: OffsetDateTime) -> bool {
        let mut last = self
            .last_kid_refetch
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match *last {
            Some(at) if now - at < KID_REFETCH_INTERVAL && now >= at => false,
            _ => {
                *last = Some(now);
                true
            }
        }
    }

    fn store_keys(&self, jwks_uri: &str, keys: Arc<JwkSet>) {
        let mut guard = self.state.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(state) = guard.as_mut() {
            // A concurrent refresh may have moved to another jwks_uri: keep its keys then.
            if state.endpoints.jwks_uri == jwks_uri {
                state.keys = keys;
            }
        }
    }

    /// Verifies a JWS with the bank's keys; an unknown `kid` refetches the set at most once per
    /// [`KID_REFETCH_INTERVAL`] and retries once.
    async fn verify_signed(
        &self,
        compact: &str,
        state: &BankState,
        now: OffsetDateTime,
    ) -> Result<Claims, FtnError> {
        let algs = &self.cfg.id_token_signing_algs;
        match verify::verify_signed(compact, &state.keys, algs) {
            Err(FtnError::UnknownKid) => {
                if !self.take_refetch_slot(now) {
                    return Err(FtnError::UnknownKid);
                }
                let keys = fetch_jwks(&state.endpoints.jwks_uri, self.http.as_ref())
                    .await
                    .map_err(|_| FtnError::UnknownKid)?;
                let keys = Arc::new(keys);
                self.store_keys(&state.endpoints.jwks_uri, Arc::clone(&keys));
                verify::verify_signed(compact, &keys, algs)
            }
            other => other,
        }
    }

    async fn userinfo(
        &self,
        state: &BankState,
        access_token: &str,
        id_token_sub: &str,
        now: OffsetDateTime,
    ) -> Result<Claims, FtnError> {
        let url = state
            .endpoints
            .userinfo
            .as_deref()
            .ok_or(FtnError::Discovery("userinfo_endpoint missing"))?;
        let request = HttpRequest {
            method: HttpMethod::Get,
            url: url.to_owned(),
            headers: vec![
                ("Authorization".to_owned(), format!("Bearer {access_token}")),
                (
                    "Accept".to_owned(),
                    "application/jwt, application/json".to_owned(),
                ),
            ],
            form: None,
            body: None,
        };
        let response = self
            .http
            .send(request)
            .await
            .map_err(|e| FtnError::UserinfoHttp(describe_http(&e)))?;
        match verify::parse_userinfo_response(&response)? {
            UserinfoBody::Json(claims) => {
                verify::check_userinfo(claims, &self.cfg, id_token_sub, false)
            }
            UserinfoBody::Jwt(raw) => {
                let inner = verify::unwrap_jwe(&raw, &self.cfg, &self.rp, false)?;
                let claims = self.verify_signed(&inner, state, now).await?;
                verify::check_userinfo(claims, &self.cfg, id_token_sub, true)
            }
        }
    }

    async fn finish_checked(
        &self,
        ctx: &FinishContext<'_>,
        input: &CallbackInput,
    ) -> Result<VerifiedIdentity, AdapterError> {
        let now = ctx.now;
        // 2. The flow's secrets, for this bank, and the state in constant time.
        let pending = PendingFtn::from_upstream(ctx.pending.ok_or(FtnError::Pending)?)?;
        if pending.bank != self.cfg.id {
            return Err(FtnError::FlowMismatch.into());
        }
        match input.single("state")? {
            Some(state) if certs::constant_time_eq(state.as_bytes(), pending.state.as_bytes()) => {}
            _ => return Err(FtnError::StateMismatch.into()),
        }
        let state = self
            .snapshot()
            .ok_or(FtnError::Discovery("the bank has not been refreshed"))?;
        // 3. RFC 9207 iss.
        match input.single("iss")? {
            Some(iss) if iss == self.cfg.issuer => {}
            Some(_) => return Err(FtnError::IssMismatch.into()),
            None if state.endpoints.iss_param_required => return Err(FtnError::IssMissing.into()),
            None => {}
        }
        // 4. An error answer: a cancel, or the end of this login. No network either way.
        if let Some(error) = input.single("error")? {
            return Err(match error {
                "access_denied" | "cancel" => FtnError::Cancelled,
                _ => FtnError::BankError,
            }
            .into());
        }
        let code = match input.single("code")? {
            Some(code)
                if !code.is_empty()
                    && code.len() <= MAX_CODE_LEN
                    && code.bytes().all(|b| (0x20..0x7f).contains(&b)) =>
            {
                code
            }
            _ => return Err(FtnError::CodeMissing.into()),
        };

        // 6. Token request (the gateway consumed the flow before calling us).
        let token_endpoint = state.endpoints.token.as_str();
        let assertion = request::client_assertion(
            &self.cfg,
            token_endpoint,
            &self.assertion_signer,
            self.rng.as_ref(),
            now,
        )?;
        let token_request = HttpRequest {
            method: HttpMethod::Post,
            url: token_endpoint.to_owned(),
            headers: vec![("Accept".to_owned(), "application/json".to_owned())],
            form: Some(vec![
                ("grant_type".to_owned(), "authorization_code".to_owned()),
                ("code".to_owned(), code.to_owned()),
                ("redirect_uri".to_owned(), self.cfg.redirect_uri.clone()),
                ("code_verifier".to_owned(), pending.code_verifier.clone()),
                ("client_id".to_owned(), self.cfg.client_id.clone()),
                (
                    "client_assertion_type".to_owned(),
                    CLIENT_ASSERTION_TYPE.to_owned(),
                ),
                ("client_assertion".to_owned(), assertion),
            ]),
            body: None,
        };
        let response = self
            .http
            .send(token_request)
            .await
            .map_err(|e| FtnError::TokenHttp(describe_http(&e)))?;
        let tokens = verify::parse_token_response(&response)?;

        // 7-9. The ID token.
        let inner = verify::unwrap_jwe(
            &tokens.id_token,
            &self.cfg,
            &self.rp,
            self.cfg.require_encrypted_id_token,
        )?;
        let claims = self.verify_signed(&inner, &state, now).await?;
        let required = stricter(pending.requested_loa, ctx.requested_loa);
        let facts = verify::check_id_token(&claims, &self.cfg, &pending.nonce, required, now)?;

        // 10. Userinfo.
        let userinfo = if self.cfg.userinfo {
            let access_token = tokens
                .access_token
                .as_deref()
                .ok_or(FtnError::TokenResponse("access_token missing"))?;
            Some(self.userinfo(&state, access_token, &facts.sub, now).await?)
        } else {
            None
        };

        // 11. Mapping.
        let identity = verify::map_identity(
            &self.cfg,
            &claims,
            userinfo.as_ref(),
            facts,
            self.refuse_test_identity_codes,
            now,
        )?;
        // A fresh authentication was asked for: the bank must say when it authenticated, and
        // not before this login started (a bank that ignored `prompt=login` answers from an
        // older session).
        if pending.force_authn {
            let at = claims.get_time("auth_time").ok().flatten();
            let started = OffsetDateTime::from_unix_timestamp(pending.started_at)
                .map_err(|_| FtnError::Pending)?;
            if at.is_none_or(|at| at + self.cfg.clock_skew < started) {
                return Err(FtnError::ClaimsInvalid("auth_time").into());
            }
        }
        Ok(identity)
    }
}

/// The higher of two optional requirements.
fn stricter(a: Option<LevelOfAssurance>, b: Option<LevelOfAssurance>) -> Option<LevelOfAssurance> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.rank() > a.rank() { b } else { a }),
        (a, b) => a.or(b),
    }
}

impl AuthAdapter for FtnBank {
    fn id(&self) -> &str {
        &self.adapter_id
    }

    fn display_name(&self, lang: Language) -> String {
        match lang {
            Language::Fi => &self.cfg.display_name_fi,
            Language::Sv => &self.cfg.display_name_sv,
            Language::En => &self.cfg.display_name_en,
        }
        .clone()
    }

    fn is_test_method(&self) -> bool {
        self.cfg.test_environment
    }

    fn max_loa(&self) -> LevelOfAssurance {
        self.cfg.max_loa
    }

    fn start(&self, ctx: &StartContext<'_>) -> Result<StartAction, AdapterError> {
        if let Some(required) = ctx.requested_loa {
            if !self.cfg.max_loa.satisfies(required) {
                return Err(AdapterError::LoaNotSatisfied {
                    got: self.cfg.max_loa,
                    required,
                });
            }
        }
        let state = self
            .snapshot()
            .ok_or(FtnError::Discovery("the bank has not been refreshed"))?;
        let request = request::authorization_request(
            &self.cfg,
            &state.endpoints.authorization,
            &self.request_signer,
            self.rng.as_ref(),
            ctx,
        )?;
        Ok(StartAction::RedirectUpstream {
            url: request.url,
            state: request.pending.state.clone(),
            pending: request.pending.to_upstream()?,
        })
    }

    fn finish<'a>(
        &'a self,
        ctx: &'a FinishContext<'a>,
        input: &'a CallbackInput,
    ) -> AdapterFuture<'a, Result<VerifiedIdentity, AdapterError>> {
        Box::pin(self.finish_checked(ctx, input))
    }
}
