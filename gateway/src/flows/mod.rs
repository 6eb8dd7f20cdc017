//! The login flows as plain functions: SAML intake, method choice, the upstream callback, SSO
//! sessions and the signed Response. Inputs are plain values (the browser's cookie values, form
//! fields, the raw query), the clock and the store come from [`Idp`], and every function returns
//! an outcome value ([`Answer`]) or a [`FlowError`]; the web layer turns either into HTTP.
//!
//! Nothing here names axum or http types (a test in `tests/module_boundaries.rs` checks it).

mod capture;
mod error;
mod idp_metadata;
mod intake;
mod login;
mod logout;
pub mod oidc;
mod records;
mod response;
mod session;
#[cfg(test)]
mod tests;

pub use crate::stores::sealed;
pub use capture::{seal_capture, CAPTURE_TTL};
pub use error::{FlowError, UpstreamFailure};
pub use idp_metadata::{published_metadata, MetadataDocument, SignedMetadata};
pub use intake::{receive_authn_request, IncomingRequest};
pub use login::{
    cancel, finish_test_bank, method_selection, start_method, upstream_callback, CallbackQuery,
    LanguageChoice, MethodChoice, Notice, SelectionView,
};
pub use logout::{
    citizen_logout, logout_done, logout_frame, logout_token, receive_logout, LoggedOut, LogoutPage,
    LOGOUT_WAIT,
};
pub use records::{
    requirement_of, FlowRecord, LoaFamily, LoaRequirement, PendingRequest, SpParticipation,
    SsoSession, UpstreamFlow,
};
pub use sealed::{SealError, SealKeyRing, SealPurpose};
pub use session::{participations, sha256, sha256_hex, MAX_FLOWS_PER_BROWSER};

use certs::{Certificate, Clock, KeySet, RandomSource, SignatureAlgorithm, SigningIdentity};
use idp_adapters::{AuthAdapter, Language, TestBankPage};
use metadata::SpRegistryHandle;
use std::sync::Arc;
use time::Duration;

use crate::stores::{KeyLayout, MarkerStore, SessionStore};

/// What the flows act with: the IdP's identity and keys, the SP registry, the stores, the key
/// that seals flows into the browser, the upstream methods, the clock and the random source.
/// Built once by `app`; requests borrow it.
pub struct Idp {
    pub base_url: String,
    pub entity_id: String,
    pub sso_url: String,
    /// The single logout endpoint (`/saml/idp/slo`).
    pub slo_url: String,
    pub keys: IdpKeys,
    pub registry: SpRegistryHandle,
    /// SSO sessions (the only records with content; each kind below is bounded on its own).
    pub store: Arc<dyn SessionStore>,
    /// One marker per AuthnRequest answered with an assertion.
    pub replay: Arc<dyn MarkerStore>,
    /// One marker per upstream callback state used.
    pub single_use: Arc<dyn MarkerStore>,
    /// Seals login flows (and certificate captures) for the browser to hold.
    pub seal: SealKeyRing,
    /// Where each kind of record lives in the store (one place, one prefix).
    pub layout: KeyLayout,
    pub adapters: Vec<Arc<dyn AuthAdapter>>,
    pub clock: Arc<dyn Clock>,
    pub rng: Arc<dyn RandomSource>,
    /// Keys pairwise persistent NameIDs and the audit trail's subject hashes.
    pub pairwise_key: aws_lc_rs::hmac::Key,
    /// The OpenID Connect provider, when configured.
    pub oidc: Option<oidc::OidcProvider>,
    pub settings: Settings,
}

impl Idp {
    pub fn adapter(&self, id: &str) -> Option<&Arc<dyn AuthAdapter>> {
        self.adapters.iter().find(|a| a.id() == id)
    }
}

/// The IdP's signing keys: an RSA key set (active, next, retired) and an optional ECDSA key for
/// SPs that ask for it.
pub struct IdpKeys {
    pub rsa: KeySet,
    pub ec: Option<SigningIdentity>,
}

impl IdpKeys {
    pub fn available_algorithms(&self) -> Vec<SignatureAlgorithm> {
        let mut v = vec![self.rsa.active().key.algorithm()];
        if let Some(ec) = &self.ec {
            v.push(ec.key.algorithm());
        }
        v
    }

    pub fn signer_for(&self, alg: SignatureAlgorithm) -> &SigningIdentity {
        match &self.ec {
            Some(ec) if ec.key.algorithm() == alg => ec,
            _ => self.rsa.active(),
        }
    }

    /// Certificates an SP should trust now.
    pub fn published(&self, now: time::OffsetDateTime) -> Vec<Certificate> {
        let mut v: Vec<Certificate> = self
            .rsa
            .published_certificates(now)
            .into_iter()
            .cloned()
            .collect();
        if let Some(ec) = &self.ec {
            v.push(ec.cert.clone());
        }
        v
    }
}

pub struct Settings {
    pub clock_skew: Duration,
    pub max_request_age: Duration,
    pub assertion_lifetime: Duration,
    /// An SSO session's absolute lifetime.
    pub sso_session_ttl: Duration,
    /// An SSO session ends when unused this long.
    pub sso_idle_ttl: Duration,
    pub flow_ttl: Duration,
    pub require_signed_requests: bool,
    pub organization_name: String,
    /// How long a signed IdP metadata document is valid (`validUntil`); it is signed again
    /// when half of this has passed.
    pub metadata_validity: Duration,
}

/// The browser's side of a request, as plain values: the cookies the flows read.
#[derive(Clone, Debug, Default)]
pub struct Browser {
    /// The SSO session ID (`__Host-gw_sso`), if the browser has one.
    pub session: Option<String>,
    /// The sealed flows the browser holds (`__Host-gw_flow_<ID>`): (flow ID, sealed value), at
    /// most a few (the web layer reads no more than [`MAX_FLOWS_PER_BROWSER`] plus four).
    pub flows: Vec<(String, String)>,
}

/// A flow sealed for the browser to hold: its cookie's name part, value and lifetime.
#[derive(Clone, Debug)]
pub struct FlowCookie {
    pub flow_id: String,
    pub value: String,
    pub max_age: i64,
}

/// What the web layer should do, and which cookies to set on the way.
#[derive(Debug)]
pub struct Answer {
    pub step: Step,
    /// A flow to (re)set in the browser.
    pub set_flow: Option<FlowCookie>,
    /// Flows the browser should drop (finished, or too many).
    pub clear_flows: Vec<String>,
    /// A new SSO session to set: its ID and lifetime in seconds.
    pub set_session: Option<(String, i64)>,
    /// The browser's SSO session ended: drop its cookie.
    pub clear_session: bool,
}

impl Answer {
    pub fn step(step: Step) -> Answer {
        Answer {
            step,
            set_flow: None,
            clear_flows: Vec::new(),
            set_session: None,
            clear_session: false,
        }
    }

    /// The same answer, also telling the browser to drop `flow_id`.
    pub fn ending(mut self, flow_id: &str) -> Answer {
        self.clear_flows.push(flow_id.to_owned());
        self
    }
}

#[derive(Debug)]
pub enum Step {
    /// Auto-post a SAML message to the SP's ACS.
    Autopost(Autopost),
    /// Send the browser on (303) to a path of ours or an upstream URL.
    Redirect(String),
    /// The single logout page: frames that tell the participants, and a form that continues.
    LogoutPage(LogoutPage),
    /// A participant's answer arrived in its frame.
    LogoutFrameDone {
        lang: Language,
        service: String,
        ok: bool,
    },
    /// The citizen's logout at the gateway is over.
    LoggedOut(LoggedOut),
    /// Show the test bank's form; `error` says why a previous attempt was refused.
    TestBank {
        page: TestBankPage,
        lang: Language,
        error: Option<idp_adapters::AdapterError>,
    },
}

/// A SAML message on its way to an SP through the browser (HTTP-POST binding).
#[derive(Debug)]
pub struct Autopost {
    pub acs_url: String,
    pub field: &'static str,
    /// The base64 message.
    pub value: String,
    pub relay_state: Option<String>,
    pub lang: Language,
}

/// Cut attacker-supplied text to a bounded length before it reaches a log line (the same cut
/// the SAML core makes where message text enters an error).
pub fn bounded(s: &str) -> String {
    saml::error::untrusted_text(s)
}

fn to_std(d: Duration) -> std::time::Duration {
    std::time::Duration::from_secs(d.whole_seconds().max(1) as u64)
}

/// The single value of a field; a repeated field is an error (which one would we trust?).
pub fn single_field<'a>(
    fields: &'a [(String, String)],
    name: &'static str,
) -> Result<Option<&'a str>, FlowError> {
    let mut it = fields.iter().filter(|(k, _)| k == name);
    let first = it.next().map(|(_, v)| v.as_str());
    if it.next().is_some() {
        return Err(FlowError::BadForm(name));
    }
    Ok(first)
}
