//! The gateway's shared state, built once at start from the config (or dev defaults). Keys are
//! loaded here and nowhere else; requests only borrow them.

use crate::config::{Config, ConfigProblem};
use crate::store::{MemoryStore, SessionStore};
use certs::{Certificate, Clock, KeySet, RandomSource, SignatureAlgorithm, SigningIdentity};
use idp_adapters::AuthAdapter;
use metadata::{ReleasePolicy, ServiceProvider, SpRegistry, SpRegistryHandle};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use time::Duration;

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
    pub sso_session_ttl: Duration,
    pub flow_ttl: Duration,
    pub require_signed_requests: bool,
    pub organization_name: String,
}

/// The built-in demo SP (dev mode): it logs in through the gateway like any SP would.
pub struct DemoSp {
    pub entity_id: String,
    pub acs_url: String,
    pub identity: SigningIdentity,
    /// The same RSA key, for decrypting the assertions the gateway encrypts to the demo SP.
    pub decryption_key: certs::DecryptionKey,
}

pub struct Gateway {
    pub base_url: String,
    pub entity_id: String,
    pub sso_url: String,
    pub keys: IdpKeys,
    pub registry: SpRegistryHandle,
    pub store: Arc<dyn SessionStore>,
    pub adapters: Vec<Arc<dyn AuthAdapter>>,
    pub clock: Arc<dyn Clock>,
    pub rng: Arc<dyn RandomSource>,
    /// Keys pairwise persistent NameIDs and the audit trail's subject hashes.
    pub pairwise_key: aws_lc_rs::hmac::Key,
    pub settings: Settings,
    pub demo: Option<DemoSp>,
    /// The signed IdP metadata document, made once at start.
    pub idp_metadata: String,
    /// The configured banks (their adapters are also in `adapters`), refreshed by
    /// [`crate::bank::refresh_banks`] and [`crate::bank::spawn_bank_refresh`].
    pub banks: Vec<crate::bank::BankHandle>,
    /// The relying-party JWKS served at `/oidc/jwks` (when OIDC keys are configured).
    pub rp_jwks: Option<String>,
    /// ID-card login (its adapter is also in `adapters`) and its certificate listener.
    pub idcard: Option<crate::idcard::IdCardHandle>,
}

impl Gateway {
    pub fn adapter(&self, id: &str) -> Option<&Arc<dyn AuthAdapter>> {
        self.adapters.iter().find(|a| a.id() == id)
    }
}

/// What building the state needs besides the config.
pub struct Runtime {
    pub clock: Arc<dyn Clock>,
    pub rng: Arc<dyn RandomSource>,
}

/// Build the state from a checked config, loading every key and metadata file. All problems
/// are collected and returned together.
pub fn from_config(cfg: &Config, rt: Runtime) -> Result<Gateway, Vec<ConfigProblem>> {
    let now = rt.clock.now();
    let mut problems = Vec::new();
    let mut note = |path: &str, msg: String| {
        problems.push(ConfigProblem {
            path: path.into(),
            message: msg,
        })
    };

    let rsa = SigningIdentity::from_pem_files(&cfg.keys.signing_key, &cfg.keys.signing_cert)
        .map_err(|e| note("keys.signing_key", e.to_string()))
        .ok();
    let ec = match (&cfg.keys.ec_signing_key, &cfg.keys.ec_signing_cert) {
        (Some(k), Some(c)) => SigningIdentity::from_pem_files(k, c)
            .map_err(|e| note("keys.ec_signing_key", e.to_string()))
            .ok(),
        _ => None,
    };
    let next = match &cfg.keys.next_signing_cert {
        Some(p) => read_cert(p)
            .map_err(|e| note("keys.next_signing_cert", e))
            .ok(),
        None => None,
    };
    let pairwise = read_secret(&cfg.keys.pairwise_secret_file)
        .map_err(|e| note("keys.pairwise_secret_file", e))
        .ok();
    let mut sps = Vec::new();
    for (i, spc) in cfg.service_providers.iter().enumerate() {
        let release = ReleasePolicy::new(spc.release.iter().copied());
        match load_sp_file(&spc.metadata_file, &release, now) {
            Ok(list) => {
                for mut sp in list {
                    let m = Arc::make_mut(&mut sp);
                    m.want_response_signed = spc.sign_response;
                    if let Some(enc) = spc.encrypt_assertions {
                        if enc && m.encryption_certificate().is_none() {
                            note(
                                &format!("service_providers[{i}].encrypt_assertions"),
                                format!(
                                    "{}: the metadata has no RSA encryption certificate",
                                    m.entity_id
                                ),
                            );
                        }
                        m.encrypt_assertions = enc;
                    }
                    sps.push((format!("service_providers[{i}]"), sp));
                }
            }
            Err(e) => note(&format!("service_providers[{i}].metadata_file"), e),
        }
    }
    let registry = SpRegistry::new(sps)
        .map_err(|e| note("service_providers", e.to_string()))
        .ok();
    if let Some(rsa) = &rsa {
        if !rsa.key.algorithm().is_rsa() {
            note(
                "keys.signing_key",
                "the main signing key must be RSA (2048 bits or more)".into(),
            );
        }
        if let Err(e) = rsa.cert.check_validity(now) {
            note("keys.signing_cert", e.to_string());
        }
    }
    let banks = crate::bank::from_config(cfg, rt.rng.clone())
        .map_err(|p| problems.extend(p))
        .ok();
    let idcard = match &cfg.methods.idcard {
        Some(c) => crate::idcard::from_config(c, rt.rng.clone(), now)
            .map(Some)
            .map_err(|p| problems.extend(p))
            .ok(),
        None => Some(None),
    };
    let (Some(rsa), Some(pairwise), Some(registry), Some(banks), Some(idcard), true) =
        (rsa, pairwise, registry, banks, idcard, problems.is_empty())
    else {
        return Err(problems);
    };
    let mut keyset = KeySet::new(rsa);
    if let Some(n) = next {
        keyset = keyset.with_retired(n, now + Duration::days(3650));
    }
    let mut adapters: Vec<Arc<dyn AuthAdapter>> = Vec::new();
    if cfg.methods.testbank.enabled {
        adapters.push(Arc::new(idp_adapters::TestBank::new()));
    }
    for h in &banks.handles {
        adapters.push(h.bank.clone());
    }
    if let Some(h) = &idcard {
        adapters.push(h.adapter.clone());
    }
    let base_url = cfg.server.public_url.trim_end_matches('/').to_owned();
    let entity_id = cfg
        .saml
        .entity_id
        .clone()
        .unwrap_or_else(|| format!("{base_url}/saml/idp"));
    let settings = Settings {
        clock_skew: Duration::seconds(cfg.saml.clock_skew_seconds.into()),
        max_request_age: Duration::seconds(cfg.saml.max_request_age_seconds.into()),
        assertion_lifetime: Duration::seconds(cfg.saml.assertion_lifetime_seconds.into()),
        sso_session_ttl: Duration::minutes(cfg.session.sso_session_minutes.into()),
        flow_ttl: Duration::minutes(cfg.session.flow_minutes.into()),
        require_signed_requests: cfg.saml.require_signed_requests,
        organization_name: cfg.saml.organization_name.clone(),
    };
    build(
        base_url,
        entity_id,
        IdpKeys { rsa: keyset, ec },
        registry,
        adapters,
        &pairwise,
        settings,
        None,
        rt,
    )
    .map(|mut gw| {
        gw.banks = banks.handles;
        gw.rp_jwks = banks.jwks;
        gw.idcard = idcard;
        gw
    })
    .map_err(|e| {
        vec![ConfigProblem {
            path: "keys".into(),
            message: e,
        }]
    })
}

#[allow(clippy::too_many_arguments)]
pub fn build(
    base_url: String,
    entity_id: String,
    keys: IdpKeys,
    registry: SpRegistry,
    adapters: Vec<Arc<dyn AuthAdapter>>,
    pairwise_secret: &[u8],
    settings: Settings,
    demo: Option<DemoSp>,
    rt: Runtime,
) -> Result<Gateway, String> {
    let now = rt.clock.now();
    let sso_url = format!("{base_url}/saml/idp/sso");
    let published = keys.published(now);
    let refs: Vec<&Certificate> = published.iter().collect();
    let doc_id = certs::random_id(rt.rng.as_ref()).map_err(|e| e.to_string())?;
    let idp_metadata = metadata::idp_metadata_xml(
        &metadata::IdpMetadataParams {
            entity_id: &entity_id,
            sso_url: &sso_url,
            signing_certificates: &refs,
            want_authn_requests_signed: settings.require_signed_requests,
            valid_until: now + Duration::days(7),
            document_id: &doc_id,
            organization_name: &settings.organization_name,
        },
        &keys.rsa.active().key,
        &keys.rsa.active().cert,
    )
    .map_err(|e| e.to_string())?;
    Ok(Gateway {
        base_url,
        entity_id,
        sso_url,
        keys,
        registry: SpRegistryHandle::new(registry),
        store: Arc::new(MemoryStore::new(1_000_000)),
        adapters,
        clock: rt.clock,
        rng: rt.rng,
        pairwise_key: aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, pairwise_secret),
        settings,
        demo,
        idp_metadata,
        banks: Vec::new(),
        rp_jwks: None,
        idcard: None,
    })
}

pub fn load_sp_file(
    path: &Path,
    release: &ReleasePolicy,
    now: time::OffsetDateTime,
) -> Result<Vec<Arc<ServiceProvider>>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    metadata::parse_sp_metadata(&text, &path.display().to_string(), release, now)
        .map_err(|e| e.to_string())
}

fn read_cert(path: &PathBuf) -> Result<Certificate, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Certificate::from_pem(&text)
        .map_err(|e| e.to_string())?
        .into_iter()
        .next()
        .ok_or_else(|| "no certificate".into())
}

fn read_secret(path: &PathBuf) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() < 32 {
        return Err(format!(
            "{}: the secret must be at least 32 bytes",
            path.display()
        ));
    }
    Ok(bytes)
}
