//! One bank's settings: plain data the gateway fills from its TOML file, checked by
//! [`FtnBankConfig::validate`] (offline, every problem reported at once).

use jose::{JweAlg, JweEnc, JwsAlg};
use time::Duration;

use crate::loa::LevelOfAssurance;

/// The settings of one FTN bank (or broker) reached over OpenID Connect.
#[derive(Clone, Debug)]
pub struct FtnBankConfig {
    /// `[a-z0-9-]{1,32}`; the adapter id is `bank:<id>`.
    pub id: String,
    pub display_name_fi: String,
    pub display_name_sv: String,
    pub display_name_en: String,
    /// The bank's issuer, compared exactly (discovery `issuer`, ID token `iss`, RFC 9207 `iss`).
    pub issuer: String,
    pub endpoints: Endpoints,
    pub client_id: String,
    /// The gateway's `{public_url}/login/bank/{id}/callback`.
    pub redirect_uri: String,
    /// Must contain `openid`.
    pub scope: Vec<String>,
    pub max_loa: LevelOfAssurance,
    pub ftn_idp_id: Option<String>,
    pub ftn_spname: Option<String>,
    pub request_object_alg: JwsAlg,
    pub client_assertion_alg: JwsAlg,
    pub id_token_signing_algs: Vec<JwsAlg>,
    pub id_token_encryption_algs: Vec<JweAlg>,
    pub id_token_encryption_encs: Vec<JweEnc>,
    /// Refuse an ID token (and userinfo JWT) that is not a JWE.
    pub require_encrypted_id_token: bool,
    /// Call the userinfo endpoint after the token request.
    pub userinfo: bool,
    /// Accept `…/loatest2|3` and label the method as a test method.
    pub test_environment: bool,
    pub clock_skew: Duration,
    pub claims: ClaimNames,
}

/// Where the bank's endpoints come from.
#[derive(Clone, Debug)]
pub enum Endpoints {
    /// `{issuer}/.well-known/openid-configuration`; its `issuer` must equal the configured one.
    Discovery,
    Static {
        authorization_endpoint: String,
        token_endpoint: String,
        userinfo_endpoint: Option<String>,
        jwks_uri: String,
    },
}

/// The names of the claims the bank sends (brokers differ; the defaults are FTN/OP's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimNames {
    pub national_id: String,
    pub given_name: String,
    pub family_name: String,
    pub name: String,
    pub birth_date: String,
}

impl Default for ClaimNames {
    fn default() -> Self {
        Self {
            national_id: "personal_identity_code".to_owned(),
            given_name: "given_name".to_owned(),
            family_name: "family_name".to_owned(),
            name: "name".to_owned(),
            birth_date: "birthdate".to_owned(),
        }
    }
}

/// Longest `ftn_spname` accepted (design §4.4).
const MAX_SPNAME: usize = 100;
/// Longest URL accepted in the configuration.
const MAX_URL: usize = 2048;

impl FtnBankConfig {
    /// The adapter id, `bank:<id>`.
    pub fn adapter_id(&self) -> String {
        format!("bank:{}", self.id)
    }

    /// Checks everything that can be checked offline; returns every problem found.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        let id_ok = !self.id.is_empty()
            && self.id.len() <= 32
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !id_ok {
            problems.push(format!(
                "bank id {:?} must be 1-32 characters of a-z, 0-9 and -",
                self.id
            ));
        }
        for (lang, name) in [
            ("fi", &self.display_name_fi),
            ("sv", &self.display_name_sv),
            ("en", &self.display_name_en),
        ] {
            if name.trim().is_empty() {
                problems.push(format!("bank {}: display name ({lang}) is empty", self.id));
            } else if name.chars().any(char::is_control) {
                problems.push(format!(
                    "bank {}: display name ({lang}) contains control characters",
                    self.id
                ));
            }
        }
        check_url(&mut problems, &self.id, "issuer", &self.issuer, false);
        match &self.endpoints {
            Endpoints::Discovery => {}
            Endpoints::Static {
                authorization_endpoint,
                token_endpoint,
                userinfo_endpoint,
                jwks_uri,
            } => {
                check_url(
                    &mut problems,
                    &self.id,
                    "authorization_endpoint",
                    authorization_endpoint,
                    true,
                );
                check_url(
                    &mut problems,
                    &self.id,
                    "token_endpoint",
                    token_endpoint,
                    true,
                );
                check_url(&mut problems, &self.id, "jwks_uri", jwks_uri, true);
                match userinfo_endpoint {
                    Some(url) => {
                        check_url(&mut problems, &self.id, "userinfo_endpoint", url, true);
                    }
                    None if self.userinfo => problems.push(format!(
                        "bank {}: userinfo is on but no userinfo_endpoint is given",
                        self.id
                    )),
                    None => {}
                }
            }
        }
        check_url(
            &mut problems,
            &self.id,
            "redirect_uri",
            &self.redirect_uri,
            false,
        );
        if self.client_id.is_empty() || self.client_id.chars().any(char::is_control) {
            problems.push(format!(
                "bank {}: client_id is empty or contains control characters",
                self.id
            ));
        }
        if !self.scope.iter().any(|s| s == "openid") {
            problems.push(format!("bank {}: scope must contain \"openid\"", self.id));
        }
        if self.scope.iter().any(|s| {
            s.is_empty()
                || s.bytes()
                    .any(|b| !(0x21..=0x7e).contains(&b) || b == b'"' || b == b'\\')
        }) {
            problems.push(format!(
                "bank {}: every scope value must be a non-empty token without spaces",
                self.id
            ));
        }
        if !matches!(
            self.max_loa,
            LevelOfAssurance::FtnSubstantial | LevelOfAssurance::FtnHigh
        ) {
            problems.push(format!(
                "bank {}: max_loa must be an FTN level (ftn_substantial or ftn_high)",
                self.id
            ));
        }
        for (what, value) in [
            ("ftn_idp_id", &self.ftn_idp_id),
            ("ftn_spname", &self.ftn_spname),
        ] {
            if let Some(value) = value {
                if value.trim().is_empty() || value.chars().any(char::is_control) {
                    problems.push(format!(
                        "bank {}: {what} is empty or contains control characters",
                        self.id
                    ));
                }
            }
        }
        if self
            .ftn_spname
            .as_ref()
            .is_some_and(|s| s.chars().count() > MAX_SPNAME)
        {
            problems.push(format!(
                "bank {}: ftn_spname is longer than {MAX_SPNAME} characters",
                self.id
            ));
        }
        if self.id_token_signing_algs.is_empty() {
            problems.push(format!("bank {}: id_token_signing_algs is empty", self.id));
        }
        if self.id_token_encryption_algs.is_empty() {
            problems.push(format!(
                "bank {}: id_token_encryption algs is empty",
                self.id
            ));
        }
        if self.id_token_encryption_encs.is_empty() {
            problems.push(format!(
                "bank {}: id_token_encryption encs is empty",
                self.id
            ));
        }
        if self.clock_skew.is_negative() || self.clock_skew > Duration::minutes(5) {
            problems.push(format!(
                "bank {}: clock skew must be between 0 and 300 seconds",
                self.id
            ));
        }
        let names = [
            ("national_id", &self.claims.national_id),
            ("given_name", &self.claims.given_name),
            ("family_name", &self.claims.family_name),
            ("name", &self.claims.name),
            ("birth_date", &self.claims.birth_date),
        ];
        for (what, value) in names {
            if value.is_empty() {
                problems.push(format!("bank {}: claim name {what} is empty", self.id));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// Whether `url` is https, or http on a loopback host (test banks), with no fragment or
/// credentials. `query_ok` allows a query string (endpoints), not for issuers and redirect URIs.
pub(crate) fn url_allowed(url: &str, query_ok: bool) -> bool {
    if url.len() > MAX_URL {
        return false;
    }
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    if parsed.fragment().is_some()
        || !parsed.username().is_empty()
        || parsed.password().is_some()
        || (!query_ok && parsed.query().is_some())
    {
        return false;
    }
    match parsed.scheme() {
        "https" => parsed.host().is_some(),
        "http" => match parsed.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d == "localhost",
            None => false,
        },
        _ => false,
    }
}

fn check_url(problems: &mut Vec<String>, id: &str, what: &str, url: &str, query_ok: bool) {
    if !url_allowed(url, query_ok) {
        problems.push(format!(
            "bank {id}: {what} must be an absolute https URL (http only on a loopback host), without fragment or credentials{}",
            if query_ok { "" } else { " or query" }
        ));
    }
}
