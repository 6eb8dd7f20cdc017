//! The gateway's state, built once at start from the config (or dev defaults). Keys are loaded
//! here and nowhere else; requests only borrow them.

use super::config::{Config, ConfigProblem, SamlConfig, SessionConfig};
use super::methods::{banks_from_config, idcard_from_config};
use crate::flows::{published_metadata, Idp, IdpKeys, MetadataDocument, SealKeyRing, Settings};
use crate::stores::{KeyLayout, MemoryCapacities, Stores};
use crate::upstream::banks::{self, BankHandle};
use crate::upstream::idcard::{self as idcard_listener, IdCardHandle};
use crate::web::{DemoSp, WebState};
use certs::{Certificate, Clock, KeySet, RandomSource, SigningIdentity};
use idp_adapters::AuthAdapter;
use metadata::{ReleasePolicy, ServiceProvider, SpRegistry, SpRegistryHandle};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use time::Duration;

/// A gateway ready to serve: the flows' [`Idp`], what the web layer serves, and the upstream
/// methods that need background work (bank refresh, the certificate listener, CRL refresh).
pub struct Gateway {
    pub idp: Arc<Idp>,
    pub web: Arc<WebState>,
    pub banks: Vec<BankHandle>,
    pub idcard: Option<Arc<IdCardHandle>>,
}

impl Gateway {
    /// Refresh every bank once; the ids of those that failed.
    pub async fn refresh_banks(&self) -> Vec<String> {
        banks::refresh_banks(&self.banks, &self.idp.clock).await
    }

    /// Fetch every CRL source once; the sources that failed.
    pub async fn refresh_crls(&self) -> Vec<String> {
        match &self.idcard {
            Some(h) => idcard_listener::refresh_crls(h, self.idp.clock.as_ref()).await,
            None => Vec::new(),
        }
    }
}

/// A gateway being put together: dev mode adds banks and the ID card before [`Parts::finish`].
pub struct Parts {
    pub idp: Idp,
    pub demo: Option<DemoSp>,
    pub banks: Vec<BankHandle>,
    pub rp_jwks: Option<String>,
    pub idcard: Option<IdCardHandle>,
}

impl Parts {
    /// Sign the IdP metadata once (a key that cannot sign is a start-up error) and freeze the
    /// state.
    pub fn finish(self) -> Result<Gateway, String> {
        let idp = self.idp;
        let idp_metadata = MetadataDocument::new();
        published_metadata(&idp, &idp_metadata, idp.clock.now()).map_err(|e| e.to_string())?;
        let idp = Arc::new(idp);
        Ok(Gateway {
            web: Arc::new(WebState {
                idp: idp.clone(),
                demo: self.demo,
                idp_metadata,
                rp_jwks: self.rp_jwks,
            }),
            idp,
            banks: self.banks,
            idcard: self.idcard.map(Arc::new),
        })
    }
}

/// What building the state needs besides the config.
pub struct Runtime {
    pub clock: Arc<dyn Clock>,
    pub rng: Arc<dyn RandomSource>,
}

/// Build the state from a checked config, loading every key and metadata file. All problems
/// are collected and returned together. A config with `[store] kind = "redis"` needs the
/// stores [`connect_stores`] made.
pub fn from_config(cfg: &Config, rt: Runtime) -> Result<Gateway, Vec<ConfigProblem>> {
    from_config_with(cfg, rt, None)
}

/// [`from_config`] with the shared stores already connected (`None`: the memory stores).
pub fn from_config_with(
    cfg: &Config,
    rt: Runtime,
    stores: Option<Stores>,
) -> Result<Gateway, Vec<ConfigProblem>> {
    parts_from_config(cfg, rt, stores)?.finish().map_err(|e| {
        vec![ConfigProblem {
            path: "keys".into(),
            message: e,
        }]
    })
}

/// Connect to the shared store `[store]` names, if any: `Ok(None)` for the memory stores. A
/// Redis that cannot be reached, or that may evict keys, is a problem at `store`.
pub async fn connect_stores(
    cfg: &Config,
    rt: &Runtime,
) -> Result<Option<Stores>, Vec<ConfigProblem>> {
    use super::config::StoreKind;
    if cfg.store.kind == StoreKind::Memory {
        return Ok(None);
    }
    let problem = |path: &str, message: String| {
        vec![ConfigProblem {
            path: path.into(),
            message,
        }]
    };
    let settings = cfg.store.redis_settings().ok_or_else(|| {
        problem(
            "store.url",
            "kind = \"redis\" needs url, or sentinels and sentinel_master".into(),
        )
    })?;
    let mut secrets = Vec::new();
    for k in &cfg.store.seal_keys {
        secrets.push((
            k.name.clone(),
            read_seal_key(&k.file).map_err(|e| problem("store.seal_keys", e))?,
        ));
    }
    let first = cfg
        .store
        .seal_keys
        .first()
        .ok_or_else(|| problem("store.seal_keys", "at least one key is needed".into()))?;
    let ring = SealKeyRing::new(&first.name, secrets)
        .map_err(|e| problem("store.seal_keys", e.to_string()))?;
    let redis = crate::stores::redis::Redis::connect(&settings)
        .await
        .map_err(|e| problem("store", format!("Redis: {e}")))?;
    redis.watch_policy();
    tracing::info!(target = ?settings.target, "sessions, replay entries and single-use markers are kept in Redis");
    Ok(Some(crate::stores::redis::stores(
        redis,
        KeyLayout::new(cfg.store.key_prefix.clone()),
        Arc::new(ring),
        rt.clock.clone(),
        rt.rng.clone(),
    )))
}

/// The memory stores `[session]` bounds.
pub fn memory_stores(session: &SessionConfig, rt: &Runtime) -> Result<Stores, String> {
    let capacity = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    Stores::memory(
        MemoryCapacities {
            sessions: capacity(session.max_sessions),
            replay: capacity(session.max_replay_entries),
            single_use: capacity(session.max_single_use_markers),
        },
        KeyLayout::default(),
        rt.clock.clone(),
        rt.rng.as_ref(),
    )
    .map_err(|e| e.to_string())
}

/// The parts a config describes, every key and metadata file loaded.
pub fn parts_from_config(
    cfg: &Config,
    rt: Runtime,
    stores: Option<Stores>,
) -> Result<Parts, Vec<ConfigProblem>> {
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
    let seal = seal_ring(&cfg.keys.flow_seal_keys, rt.rng.as_ref())
        .map_err(|e| note("keys.flow_seal_keys", e))
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
    let base_for_oidc = cfg.server.public_url.trim_end_matches('/').to_owned();
    let oidc = match &cfg.oidc_provider {
        Some(o) => {
            let mut p = Vec::new();
            let built = super::config::build_oidc_provider(o, &base_for_oidc, &mut p);
            problems.extend(p);
            built.map(|mut op| {
                op.notifier = Some(Arc::new(crate::upstream::backchannel::HttpNotifier::new()));
                op
            })
        }
        None => None,
    };
    let banks = banks_from_config(cfg, rt.rng.clone())
        .map_err(|p| problems.extend(p))
        .ok();
    let idcard = match &cfg.methods.idcard {
        Some(c) => idcard_from_config(
            c,
            cfg.methods.refuse_test_identity_codes,
            rt.rng.clone(),
            now,
            super::methods::idcard_revocation_state(cfg, stores.as_ref()),
        )
        .map(Some)
        .map_err(|p| problems.extend(p))
        .ok(),
        None => Some(None),
    };
    let (Some(rsa), Some(pairwise), Some(seal), Some(registry), Some(banks), Some(idcard), true) = (
        rsa,
        pairwise,
        seal,
        registry,
        banks,
        idcard,
        problems.is_empty(),
    ) else {
        return Err(problems);
    };
    let mut keyset = KeySet::new(rsa);
    if let Some(n) = next {
        keyset = keyset.with_retired(n, now + Duration::days(3650));
    }
    let mut adapters: Vec<Arc<dyn AuthAdapter>> = Vec::new();
    if cfg.methods.testbank.enabled {
        // `config::load` refuses this already; a config built another way is refused here too.
        if let Some(p) = super::config::testbank_problem(cfg) {
            return Err(vec![p]);
        }
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
    let settings = settings(&cfg.saml, &cfg.session);
    let stores = match stores {
        Some(s) => s,
        None if cfg.store.kind == super::config::StoreKind::Memory => {
            let mut s = memory_stores(&cfg.session, &rt).map_err(|e| {
                vec![ConfigProblem {
                    path: "session".into(),
                    message: e,
                }]
            })?;
            s.layout = KeyLayout::new(cfg.store.key_prefix.clone());
            s
        }
        None => {
            return Err(vec![ConfigProblem {
                path: "store".into(),
                message: "the Redis store is connected before the state is built (connect_stores)"
                    .into(),
            }])
        }
    };
    let mut idp = build_idp(
        base_url,
        entity_id,
        IdpKeys { rsa: keyset, ec },
        registry,
        adapters,
        &pairwise,
        settings,
        stores,
        seal,
        rt,
    );
    idp.oidc = oidc;
    Ok(Parts {
        idp,
        demo: None,
        banks: banks.handles,
        rp_jwks: banks.jwks,
        idcard,
    })
}

/// The flows' settings from the `[saml]` and `[session]` sections.
pub fn settings(saml: &SamlConfig, session: &SessionConfig) -> Settings {
    Settings {
        clock_skew: Duration::seconds(saml.clock_skew_seconds.into()),
        max_request_age: Duration::seconds(saml.max_request_age_seconds.into()),
        assertion_lifetime: Duration::seconds(saml.assertion_lifetime_seconds.into()),
        sso_session_ttl: Duration::minutes(session.sso_session_minutes.into()),
        sso_idle_ttl: Duration::minutes(session.sso_idle_minutes.into()),
        flow_ttl: Duration::minutes(session.flow_minutes.into()),
        require_signed_requests: saml.require_signed_requests,
        organization_name: saml.organization_name.clone(),
        metadata_validity: Duration::days(saml.metadata_validity_days.into()),
    }
}

/// The flows' state from its parts.
#[allow(clippy::too_many_arguments)]
pub fn build_idp(
    base_url: String,
    entity_id: String,
    keys: IdpKeys,
    registry: SpRegistry,
    adapters: Vec<Arc<dyn AuthAdapter>>,
    pairwise_secret: &[u8],
    settings: Settings,
    stores: Stores,
    seal: SealKeyRing,
    rt: Runtime,
) -> Idp {
    Idp {
        sso_url: format!("{base_url}/saml/idp/sso"),
        slo_url: format!("{base_url}/saml/idp/slo"),
        base_url,
        entity_id,
        keys,
        registry: SpRegistryHandle::new(registry),
        store: stores.sessions,
        replay: stores.replay,
        single_use: stores.single_use,
        seal,
        layout: stores.layout,
        adapters,
        clock: rt.clock,
        rng: rt.rng,
        pairwise_key: aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, pairwise_secret),
        oidc: None,
        settings,
    }
}

/// The flow sealing keys from `[keys] flow_seal_keys` (the first seals), or, with none
/// configured, one generated now (said in the log: flows then end with the process).
pub fn seal_ring(
    keys: &[super::config::SealKeyConfig],
    rng: &dyn RandomSource,
) -> Result<SealKeyRing, String> {
    let Some(first) = keys.first() else {
        tracing::warn!("no [keys] flow_seal_keys configured: a flow sealing key was generated for this process; logins in progress end with it, and other processes cannot complete them");
        return SealKeyRing::generate("generated", rng).map_err(|e| e.to_string());
    };
    let mut secrets = Vec::new();
    for k in keys {
        secrets.push((k.name.clone(), read_seal_key(&k.file)?));
    }
    SealKeyRing::new(&first.name, secrets).map_err(|e| e.to_string())
}

/// 32 bytes, raw or base64 (surrounding whitespace ignored).
pub fn read_seal_key(path: &Path) -> Result<Vec<u8>, String> {
    use base64::Engine as _;
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() == crate::flows::sealed::SEAL_KEY_LEN {
        return Ok(bytes);
    }
    let text = String::from_utf8_lossy(&bytes);
    match base64::engine::general_purpose::STANDARD.decode(text.trim()) {
        Ok(k) if k.len() == crate::flows::sealed::SEAL_KEY_LEN => Ok(k),
        _ => Err(format!(
            "{}: a flow seal key is 32 random bytes, raw or base64 (openssl rand -base64 32)",
            path.display()
        )),
    }
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
