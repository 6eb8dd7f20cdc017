//! ID-card login: the citizen certificate on the Finnish ID card, presented by the browser as a
//! TLS client certificate.
//!
//! `start` sends the browser to the gateway's certificate listener (its own address, TLS with
//! optional client authentication, or a trusted TLS-terminating proxy in front). The listener
//! captures the presented chain against the flow's `state` and sends the browser back to the
//! gateway's callback; `finish` receives the captured chain in [`FinishContext`] (never from
//! the browser's fields), validates it ([`ChainValidator`]: chain, validity, constraints, key
//! usage, revocation), maps the SATU to the national identification number
//! ([`NationalIdDirectory`]) and yields a high-assurance [`VerifiedIdentity`].

mod chain;
mod crl;
mod error;
mod mapping;
mod ocsp;
mod ocsp_cache;
#[cfg(test)]
mod tests;

use std::sync::{Arc, RwLock};

use certs::RandomSource;
use time::OffsetDateTime;

pub use chain::{CardHolder, ChainValidator, Revocation, MAX_CERT_BYTES, MAX_CHAIN_LEN};
pub use crl::{CrlSet, Installed, VerifiedCrl, MAX_CRL_BYTES};
pub use error::{CardError, CrlError, MappingError};
pub use mapping::{FileDirectory, NationalIdDirectory, Satu, MAX_MAPPING_BYTES};
pub use ocsp::{
    NonceMode, OcspChecker, OcspGood, OcspRequest, OcspSettings, OcspSigner,
    MAX_OCSP_RESPONSE_BYTES, OCSP_CLOCK_SKEW, OCSP_NONCE_LEN, OCSP_REQUEST_TYPE,
    OCSP_RESPONSE_TYPE,
};
pub use ocsp_cache::{CacheFuture, OcspResponseCache};

use crate::adapter::{
    AdapterError, AdapterFuture, AuthAdapter, CallbackInput, FinishContext, Language, StartAction,
    StartContext, UpstreamPending,
};
use crate::hetu::PersonalIdentityCode;
use crate::identity::{IdentityParts, VerifiedIdentity};
use crate::loa::LevelOfAssurance;

/// The method id: URLs, config, `VerifiedIdentity::method`, `data-method` on the selection page.
pub const IDCARD_ID: &str = "idcard";

/// The listener path `start` redirects to (under the listener's public URL).
pub const LISTENER_LOGIN_PATH: &str = "/idcard/login";

/// The callback field the listener sets when the browser presented no certificate.
pub const NO_CERTIFICATE: &str = "no_certificate";

/// What the ID-card method needs besides its validator and directory.
#[derive(Clone, Debug)]
pub struct IdCardSettings {
    /// Where browsers reach the certificate listener, e.g. `https://idcard.example.fi:8443`.
    pub listener_url: String,
    pub display_name_fi: String,
    pub display_name_sv: String,
    pub display_name_en: String,
    /// Refuse the login when the SATU has no national identification number mapped (the
    /// default); otherwise the assertion carries the SATU and names only.
    pub require_national_id: bool,
    /// Labelled as a test method (a test CA).
    pub test_environment: bool,
    /// Refuse a certificate whose mapped national identification number is of the test series
    /// (individual number 900-999, [`crate::NationalId::is_test_series`]) with
    /// [`CardError::TestIdentityCode`]. Off by default: test cards are mapped to such codes.
    pub refuse_test_identity_codes: bool,
}

impl IdCardSettings {
    /// The method's usual names (Henkilökortti / ID-kort / ID card), the national id required,
    /// not a test method, test-series identity codes accepted.
    pub fn new(listener_url: impl Into<String>) -> Self {
        Self {
            listener_url: listener_url.into(),
            display_name_fi: "Henkilökortti".into(),
            display_name_sv: "ID-kort".into(),
            display_name_en: "ID card".into(),
            require_national_id: true,
            test_environment: false,
            refuse_test_identity_codes: false,
        }
    }
}

/// What [`IdCard::restore_crl`] did with a recorded CRL that verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restored {
    /// Installed (or the same as the installed one).
    Installed(Installed),
    /// Stale now, or older than the installed one: only its thisUpdate is kept, as the floor.
    FloorOnly,
}

/// The ID-card adapter. CRLs are replaced while it serves ([`IdCard::install_crl`]).
pub struct IdCard {
    settings: IdCardSettings,
    validator: ChainValidator,
    crls: RwLock<Arc<CrlSet>>,
    directory: Option<Arc<dyn NationalIdDirectory>>,
    rng: Arc<dyn RandomSource>,
    /// Asked after the chain validated, when configured ([`IdCard::with_ocsp`]).
    ocsp: Option<OcspChecker>,
}

impl IdCard {
    pub fn new(
        settings: IdCardSettings,
        validator: ChainValidator,
        directory: Option<Arc<dyn NationalIdDirectory>>,
        rng: Arc<dyn RandomSource>,
    ) -> Self {
        Self {
            settings,
            validator,
            crls: RwLock::new(Arc::new(CrlSet::default())),
            directory,
            rng,
            ocsp: None,
        }
    }

    /// Check every validated certificate with OCSP too (fail closed: no verified "good", no login).
    pub fn with_ocsp(mut self, checker: OcspChecker) -> Self {
        self.ocsp = Some(checker);
        self
    }

    pub fn validator(&self) -> &ChainValidator {
        &self.validator
    }

    pub fn settings(&self) -> &IdCardSettings {
        &self.settings
    }

    /// Verify a fetched CRL against the configured CAs and install it (replacing an older one
    /// for the same issuer). On any error the installed CRLs stay as they were. A source that
    /// offers exactly the CRL already installed, still current, is not parsed and verified
    /// again (every refresh re-reads every source; a national CA's CRL takes tens of ms).
    pub fn install_crl(
        &self,
        bytes: &[u8],
        now: OffsetDateTime,
    ) -> Result<(VerifiedCrl, Installed), CrlError> {
        if let Some(same) = self
            .crls()
            .iter()
            .find(|c| c.der() == bytes && c.next_update() > now)
        {
            return Ok((same.clone(), Installed::Unchanged));
        }
        let crl = VerifiedCrl::verify(bytes, self.validator.ca_certs(), now)?;
        let mut guard = self.crls.write().unwrap_or_else(|p| p.into_inner());
        let mut next = CrlSet::clone(&guard);
        let installed = next.install(crl.clone())?;
        *guard = Arc::new(next);
        Ok((crl, installed))
    }

    /// Take back a CRL recorded before a restart (from the gateway's revocation state, bytes
    /// that are verified here again like a fetched CRL, never trusted as stored). Its thisUpdate
    /// becomes the oldest acceptable for its issuer, even when it is stale now; it is installed
    /// when it is current and not older than the one installed.
    pub fn restore_crl(
        &self,
        bytes: &[u8],
        now: OffsetDateTime,
    ) -> Result<(VerifiedCrl, Restored), CrlError> {
        let crl = VerifiedCrl::verify_signed(bytes, self.validator.ca_certs())?;
        let mut guard = self.crls.write().unwrap_or_else(|p| p.into_inner());
        let mut next = CrlSet::clone(&guard);
        next.raise_floor(&crl);
        let restored = match crl.check_current(now) {
            Err(_) => Restored::FloorOnly,
            Ok(()) => match next.install(crl.clone()) {
                Ok(installed) => Restored::Installed(installed),
                Err(_) => Restored::FloorOnly,
            },
        };
        *guard = Arc::new(next);
        Ok((crl, restored))
    }

    /// The CRLs in use now.
    pub fn crls(&self) -> Arc<CrlSet> {
        self.crls.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Validate a presented chain and look up the national identification number: the whole
    /// check, without a login flow (the fuzz target and the CLI use it too).
    pub async fn verify_presented(
        &self,
        presented: &[Vec<u8>],
        now: OffsetDateTime,
    ) -> Result<(CardHolder, Option<crate::NationalId>), CardError> {
        let holder = self.validator.validate(presented, &self.crls(), now)?;
        if let (Some(ocsp), Some(leaf)) = (&self.ocsp, presented.first()) {
            ocsp.check(leaf, &holder.issuer_der, now).await?;
        }
        let national_id = match &self.directory {
            Some(dir) => dir
                .lookup(&holder.satu)
                .await
                .map_err(|_| CardError::MappingUnavailable)?,
            None => None,
        };
        if national_id.is_none() && self.settings.require_national_id {
            return Err(CardError::NotMapped);
        }
        if self.settings.refuse_test_identity_codes
            && national_id
                .as_ref()
                .is_some_and(crate::NationalId::is_test_series)
        {
            return Err(CardError::TestIdentityCode);
        }
        Ok((holder, national_id))
    }
}

impl AuthAdapter for IdCard {
    fn id(&self) -> &str {
        IDCARD_ID
    }

    fn display_name(&self, lang: Language) -> String {
        match lang {
            Language::Fi => &self.settings.display_name_fi,
            Language::Sv => &self.settings.display_name_sv,
            Language::En => &self.settings.display_name_en,
        }
        .clone()
    }

    fn is_test_method(&self) -> bool {
        self.settings.test_environment
    }

    fn max_loa(&self) -> LevelOfAssurance {
        LevelOfAssurance::FtnHigh
    }

    fn uses_client_certificate(&self) -> bool {
        true
    }

    fn start(&self, ctx: &StartContext<'_>) -> Result<StartAction, AdapterError> {
        let state = certs::random_token(self.rng.as_ref())
            .map_err(|_| AdapterError::Card(CardError::Other("random source unavailable")))?;
        let url = format!(
            "{}{LISTENER_LOGIN_PATH}?state={state}&lang={}",
            self.settings.listener_url.trim_end_matches('/'),
            ctx.language.code()
        );
        Ok(StartAction::RedirectUpstream {
            url,
            state,
            pending: UpstreamPending(serde_json::Value::Null),
        })
    }

    fn finish<'a>(
        &'a self,
        ctx: &'a FinishContext<'a>,
        input: &'a CallbackInput,
    ) -> AdapterFuture<'a, Result<VerifiedIdentity, AdapterError>> {
        Box::pin(async move {
            match input.single("error")? {
                Some(NO_CERTIFICATE) => return Err(AdapterError::NoCertificate),
                Some(_) => return Err(AdapterError::InvalidField { field: "error" }),
                None => {}
            }
            let presented = ctx
                .client_certificates
                .ok_or(AdapterError::Card(CardError::NotCaptured))?;
            if presented.is_empty() {
                return Err(AdapterError::NoCertificate);
            }
            let (holder, national_id) = self
                .verify_presented(presented, ctx.now)
                .await
                .map_err(AdapterError::Card)?;
            let birth_date = national_id
                .as_ref()
                .and_then(|n| PersonalIdentityCode::parse(n.expose()).ok())
                .map(|code| code.birth_date());
            Ok(VerifiedIdentity::from_parts(IdentityParts {
                national_id,
                electronic_id: Some(holder.satu.expose().to_owned()),
                given_name: holder.given_name,
                family_name: holder.surname,
                display_name: None,
                birth_date,
                loa: LevelOfAssurance::FtnHigh,
                method: IDCARD_ID.to_owned(),
                upstream_issuer: holder.issuer,
                upstream_subject: holder.satu.expose().to_owned(),
                authn_instant: ctx.now,
            }))
        })
    }
}
