//! The records a login keeps: the accepted request, the flow in progress, the SSO session, and
//! the level of assurance a request demands.

use idp_adapters::{Language, LevelOfAssurance, VerifiedIdentity};
use saml::authn_request::{AuthnRequest, Comparison};
use serde::{Deserialize, Serialize};

/// A request the gateway has accepted and will answer at `acs_url`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PendingRequest {
    pub sp_entity_id: String,
    pub request_id: String,
    pub acs_url: String,
    pub relay_state: Option<String>,
    pub requirement: LoaRequirement,
    pub persistent_name_id: bool,
    /// The SP asked for a fresh authentication (kept for the audit trail; the SSO session was
    /// already passed over at intake).
    #[serde(default)]
    pub force_authn: bool,
    pub language: String,
    /// Set when an OpenID Connect client asked (`sp_entity_id` is then `oidc:<client ID>` and
    /// `acs_url` its redirect URI): the login ends with a code, not an assertion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc: Option<super::oidc::OidcPending>,
}

impl PendingRequest {
    pub fn lang(&self) -> Language {
        Language::parse(&self.language).unwrap_or(Language::Fi)
    }
}

/// A login in progress. It lives sealed in the cookie of the browser that started it, and
/// nowhere else.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FlowRecord {
    pub request: PendingRequest,
    /// Set when the citizen went to an upstream (a bank): which method, and its secrets.
    #[serde(default)]
    pub upstream: Option<UpstreamFlow>,
    /// Unix seconds; the seal's own expiry is the same, this copy lets a resealed flow keep it.
    pub expires_at: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UpstreamFlow {
    pub method: String,
    pub pending: idp_adapters::UpstreamPending,
    /// SHA-256 of the `state` this attempt was sent upstream with: only the latest attempt's
    /// state finds the flow (an earlier state, perhaps sent to another upstream, does not).
    pub state_hash: String,
}

/// What the citizen's single sign-on session remembers. The service providers that took part
/// are kept beside it, one [`SpParticipation`] each (store members), so that two SSO hits at
/// once for two services are both recorded.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SsoSession {
    pub identity: VerifiedIdentity,
    pub session_index: String,
    /// Unix seconds: the absolute end (`[session] sso_session_minutes` after the login).
    pub expires_at: i64,
    /// Unix seconds: the end unless a service uses the session before (`sso_idle_minutes`
    /// after its last use, never past `expires_at`).
    pub idle_until: i64,
}

impl SsoSession {
    pub fn live_at(&self, now: i64) -> bool {
        now < self.expires_at && now < self.idle_until
    }
}

/// What one service provider was given in a session (its latest assertion): what single logout
/// sends it back, with the session's SessionIndex. Short field names: one is stored per SP per
/// session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpParticipation {
    #[serde(rename = "sp")]
    pub sp_entity_id: String,
    #[serde(rename = "n")]
    pub name_id: String,
    /// Persistent (pairwise) rather than transient.
    #[serde(rename = "p")]
    pub persistent: bool,
    /// Unix seconds of the latest assertion.
    #[serde(rename = "t")]
    pub issued_at: i64,
}

impl SpParticipation {
    pub fn name_id_format(&self) -> &'static str {
        if self.persistent {
            saml::NAMEID_PERSISTENT
        } else {
            saml::NAMEID_TRANSIENT
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LoaFamily {
    Ftn,
    Eidas,
}

/// The level of assurance a request demands, from its RequestedAuthnContext.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoaRequirement {
    pub min_rank: u8,
    pub max_rank: u8,
    pub family: Option<LoaFamily>,
}

impl LoaRequirement {
    pub const ANY: LoaRequirement = LoaRequirement {
        min_rank: 0,
        max_rank: u8::MAX,
        family: None,
    };

    pub fn satisfied_by(&self, loa: LevelOfAssurance) -> bool {
        (self.min_rank..=self.max_rank).contains(&loa.rank())
    }

    /// The lowest concrete level meeting the requirement, for adapters that ask.
    pub fn as_level(&self) -> Option<LevelOfAssurance> {
        if self.min_rank == 0 {
            return None;
        }
        let eidas = self.family == Some(LoaFamily::Eidas);
        Some(match (self.min_rank >= 3, eidas) {
            (false, false) => LevelOfAssurance::FtnSubstantial,
            (true, false) => LevelOfAssurance::FtnHigh,
            (false, true) => LevelOfAssurance::EidasSubstantial,
            (true, true) => LevelOfAssurance::EidasHigh,
        })
    }

    /// The AuthnContextClassRef to state for `loa`, in the family the SP asked in.
    pub fn class_ref(&self, loa: LevelOfAssurance) -> &'static str {
        let high = loa.rank() >= 3;
        match (self.family, high) {
            (Some(LoaFamily::Eidas), false) => LevelOfAssurance::EidasSubstantial.uri(),
            (Some(LoaFamily::Eidas), true) => LevelOfAssurance::EidasHigh.uri(),
            (Some(LoaFamily::Ftn), false) => LevelOfAssurance::FtnSubstantial.uri(),
            (Some(LoaFamily::Ftn), true) => LevelOfAssurance::FtnHigh.uri(),
            (None, _) => loa.uri(),
        }
    }
}

/// Map a RequestedAuthnContext to a requirement; `None` when nothing in it is a level we know
/// or it cannot be met (answered with NoAuthnContext).
pub fn requirement_of(req: &AuthnRequest) -> Option<LoaRequirement> {
    let Some(rac) = &req.requested_authn_context else {
        return Some(LoaRequirement::ANY);
    };
    let known: Vec<LevelOfAssurance> = rac
        .class_refs
        .iter()
        .filter_map(|c| LevelOfAssurance::from_uri(c))
        .collect();
    let min = known.iter().map(|l| l.rank()).min()?;
    let max = known.iter().map(|l| l.rank()).max()?;
    let family = if known.iter().all(|l| {
        matches!(
            l,
            LevelOfAssurance::EidasSubstantial | LevelOfAssurance::EidasHigh
        )
    }) {
        Some(LoaFamily::Eidas)
    } else if known.iter().all(|l| {
        matches!(
            l,
            LevelOfAssurance::FtnSubstantial | LevelOfAssurance::FtnHigh
        )
    }) {
        Some(LoaFamily::Ftn)
    } else {
        None
    };
    let (min_rank, max_rank) = match rac.comparison {
        Comparison::Exact => (min, max),
        Comparison::Minimum => (min, u8::MAX),
        Comparison::Better => (min + 1, u8::MAX),
        Comparison::Maximum => (0, max),
    };
    (min_rank <= 3).then_some(LoaRequirement {
        min_rank,
        max_rank,
        family,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use saml::authn_request::RequestedAuthnContext;
    use time::OffsetDateTime;

    fn req_with(cmp: Comparison, refs: &[&str]) -> AuthnRequest {
        AuthnRequest {
            id: "_x".into(),
            issuer: "sp".into(),
            issue_instant: OffsetDateTime::UNIX_EPOCH,
            destination: None,
            acs_url: None,
            acs_index: None,
            protocol_binding: None,
            force_authn: false,
            is_passive: false,
            name_id_format: None,
            allow_create: None,
            requested_authn_context: Some(RequestedAuthnContext {
                comparison: cmp,
                class_refs: refs.iter().map(|s| s.to_string()).collect(),
            }),
            names_subject: false,
            signed: false,
        }
    }

    #[test]
    fn loa_requirements() {
        let loa2 = LevelOfAssurance::FtnSubstantial.uri();
        let loa3 = LevelOfAssurance::FtnHigh.uri();
        let high = LevelOfAssurance::EidasHigh.uri();
        let r = requirement_of(&req_with(Comparison::Minimum, &[loa2])).unwrap();
        assert!(
            r.satisfied_by(LevelOfAssurance::FtnHigh)
                && r.satisfied_by(LevelOfAssurance::FtnSubstantial)
        );
        let r = requirement_of(&req_with(Comparison::Exact, &[loa3])).unwrap();
        assert!(!r.satisfied_by(LevelOfAssurance::FtnSubstantial));
        assert_eq!(r.class_ref(LevelOfAssurance::EidasHigh), loa3);
        let r = requirement_of(&req_with(Comparison::Minimum, &[high])).unwrap();
        assert_eq!(r.class_ref(LevelOfAssurance::FtnHigh), high);
        assert!(requirement_of(&req_with(Comparison::Better, &[loa3])).is_none());
        assert!(requirement_of(&req_with(Comparison::Exact, &["urn:unknown"])).is_none());
        let r = requirement_of(&req_with(Comparison::Maximum, &[loa2])).unwrap();
        assert!(!r.satisfied_by(LevelOfAssurance::FtnHigh));
    }
}
