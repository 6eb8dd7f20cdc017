//! Zero-config development mode: generated keys (kept in a data directory and reused), the
//! in-memory store, the test bank, and the demo SP. Also how the test suite starts a gateway.

use super::config::{ConfigProblem, SamlConfig, SessionConfig};
use super::methods::{banks_from_config, idcard_from_config};
use super::serve::{launch, RunningGateway};
use super::state::{self, Parts, Runtime};
use crate::flows::IdpKeys;
use crate::web::DemoSp;
use certs::{KeyKind, KeySet, SigningIdentity, SystemClock, SystemRandomSource};
use idp_adapters::AuthAdapter;
use metadata::{ReleasePolicy, SpRegistry};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct DevOptions {
    pub listen: SocketAddr,
    pub sp_metadata: Vec<PathBuf>,
    pub data_dir: PathBuf,
    /// The URL browsers use; defaults to http://<listen address>.
    pub public_url: Option<String>,
    /// Banks to offer, as (id, issuer): OpenID Connect providers registered with client id
    /// [`DEV_BANK_CLIENT_ID`], redirect URI `<public>/login/bank/<id>/callback` and JWKS
    /// `<public>/oidc/jwks` (the stand-in bank in tests/peers/bank.mjs, say).
    pub banks: Vec<(String, String)>,
    /// Offer ID-card login with a generated test PKI, its TLS certificate listener here.
    pub idcard_listen: Option<SocketAddr>,
    /// The per-client rate limits on the SSO endpoint and `/login*`.
    pub rate_limits: DevRateLimits,
    /// Keep sessions and markers in this Redis (`redis://host:port`, or
    /// `redis+sentinel://host:port,host:port/<master>`) instead of memory, sealed with a key
    /// generated once into the data directory (`store-seal.key`): dev gateways on one data
    /// directory and one Redis share their SSO sessions.
    pub redis: Option<String>,
}

/// Where `--redis` points: one server, or sentinels and the name of the primary.
pub fn dev_redis_settings(url: &str) -> Result<crate::stores::redis::RedisSettings, String> {
    use crate::stores::redis::{RedisSettings, RedisTarget};
    let target = if let Some(rest) = url.strip_prefix("redis+sentinel://") {
        let (hosts, master) = rest
            .split_once('/')
            .filter(|(h, m)| !h.is_empty() && !m.is_empty())
            .ok_or("--redis: expected redis+sentinel://host:port[,host:port...]/<master name>")?;
        RedisTarget::Sentinel {
            sentinels: hosts.split(',').map(|h| format!("redis://{h}")).collect(),
            master: master.to_owned(),
        }
    } else if url.starts_with("redis://") {
        RedisTarget::Url(url.to_owned())
    } else {
        return Err(
            "--redis: expected redis://host:port or redis+sentinel://host:port,.../<master>".into(),
        );
    };
    Ok(RedisSettings {
        target,
        timeout: std::time::Duration::from_millis(500),
    })
}

/// The Redis stores for `--redis`, sealed with the data directory's `store-seal.key`.
async fn dev_redis_stores(url: &str, data_dir: &Path) -> Result<crate::stores::Stores, String> {
    let settings = dev_redis_settings(url)?;
    let rng: Arc<dyn certs::RandomSource> = Arc::new(SystemRandomSource);
    let path = data_dir.join("store-seal.key");
    let dir = data_dir.to_owned();
    let secret = {
        let rng = rng.clone();
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            load_or_create_secret(&path, rng.as_ref())
        })
        .await
        .map_err(|e| e.to_string())??
    };
    let ring = crate::flows::SealKeyRing::new(
        "dev",
        [("dev", &secret[..crate::flows::sealed::SEAL_KEY_LEN])],
    )
    .map_err(|e| format!("store-seal.key: {e}"))?;
    let redis = crate::stores::redis::Redis::connect(&settings)
        .await
        .map_err(|e| format!("--redis: {e}"))?;
    redis.watch_policy();
    Ok(crate::stores::redis::stores(
        redis,
        crate::stores::KeyLayout::default(),
        Arc::new(ring),
        Arc::new(SystemClock),
        rng,
    ))
}

/// Dev mode's per-client rate limits: on (200 a second, bursts of 2,000) unless turned off for
/// a load test (`--no-rate-limits`, `GATEWAY_DEV_RATE_LIMITS=off`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DevRateLimits {
    #[default]
    On,
    Off,
}

/// The client id dev mode uses at every bank.
pub const DEV_BANK_CLIENT_ID: &str = "gateway-dev";

pub async fn start_dev(opts: DevOptions) -> Result<RunningGateway, String> {
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", opts.listen))?;
    start_dev_on(listener, opts).await
}

/// As [`start_dev`], serving on `listener`, which the caller bound (`opts.listen` is not used):
/// tests bind port 0 first, because SP metadata names the gateway's URL before the gateway starts.
pub async fn start_dev_on(
    listener: tokio::net::TcpListener,
    opts: DevOptions,
) -> Result<RunningGateway, String> {
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let base_url = match &opts.public_url {
        Some(u) => u.trim_end_matches('/').to_owned(),
        None if addr.ip().is_unspecified() => format!("http://127.0.0.1:{}", addr.port()),
        None => format!("http://{addr}"),
    };
    let data_dir = opts.data_dir.clone();
    let sp_files = opts.sp_metadata.clone();
    let base = base_url.clone();
    let banks = opts.banks.clone();
    let idcard_listener = match opts.idcard_listen {
        Some(a) => Some(
            tokio::net::TcpListener::bind(a)
                .await
                .map_err(|e| format!("cannot listen on {a} (--idcard-listen): {e}"))?,
        ),
        None => None,
    };
    let idcard_addr = idcard_listener
        .as_ref()
        .map(|l| l.local_addr().map_err(|e| e.to_string()))
        .transpose()?;
    let stores = match &opts.redis {
        Some(url) => Some(dev_redis_stores(url, &opts.data_dir).await?),
        None => None,
    };
    // Key generation and file reads are blocking work: keep them off the async runtime.
    let gw = tokio::task::spawn_blocking(move || {
        let mut parts = build_dev_state_with(&base, &data_dir, &sp_files, stores)?;
        if !banks.is_empty() {
            add_dev_banks(&mut parts, &base, &data_dir, &banks)?;
        }
        if let Some(a) = idcard_addr {
            add_dev_idcard(&mut parts, &base, &data_dir, a)?;
        }
        parts.finish()
    })
    .await
    .map_err(|e| e.to_string())??;
    Ok(launch(gw, listener, addr, idcard_listener, opts.rate_limits).await)
}

/// Offer banks in dev mode through the same configuration path as production: RP keys are
/// generated into the data directory, and a config naming them and the banks is checked and
/// built like any `gateway.toml`.
fn add_dev_banks(
    gw: &mut Parts,
    base_url: &str,
    data_dir: &Path,
    banks: &[(String, String)],
) -> Result<(), String> {
    let now = gw.idp.clock.now();
    for name in ["oidc-signing", "oidc-encryption"] {
        SigningIdentity::load_or_generate(
            data_dir,
            name,
            "Gateway development RP",
            KeyKind::Rsa2048,
            now,
        )
        .map_err(|e| format!("{name}: {e}"))?;
    }
    let q = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let path = |name: &str| q(&data_dir.join(name).display().to_string());
    let mut text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\npublic_url = {}\n[keys]\nsigning_key = {}\nsigning_cert = {}\npairwise_secret_file = {}\noidc_signing_key = {}\noidc_encryption_key = {}\n",
        q(base_url),
        path("idp-signing.key.pem"),
        path("idp-signing.crt.pem"),
        path("pairwise.secret"),
        path("oidc-signing.key.pem"),
        path("oidc-encryption.key.pem"),
    );
    for (id, issuer) in banks {
        text.push_str(&format!(
            "[[methods.banks]]\nid = {id}\nissuer = {issuer}\nclient_id = {client}\ntest_environment = true\nmax_loa = \"ftn_high\"\ndisplay_name = {{ fi = {fi}, sv = {sv}, en = {en} }}\nid_token_encryption = {{ algs = [\"RSA-OAEP\", \"RSA-OAEP-256\"], encs = [\"A128CBC-HS256\", \"A256GCM\"] }}\n",
            id = q(id),
            issuer = q(issuer),
            client = q(DEV_BANK_CLIENT_ID),
            fi = q(&format!("Pankki {id} (kehitys)")),
            sv = q(&format!("Bank {id} (utveckling)")),
            en = q(&format!("Bank {id} (development)")),
        ));
    }
    let report = |problems: Vec<ConfigProblem>| {
        problems
            .iter()
            .map(|p| format!("--bank: {p}"))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let cfg = super::config::parse(&text, std::iter::empty(), data_dir).map_err(report)?;
    let built = banks_from_config(&cfg, gw.idp.rng.clone()).map_err(report)?;
    for h in &built.handles {
        gw.idp.adapters.push(h.bank.clone());
    }
    gw.banks = built.handles;
    gw.rp_jwks = built.jwks;
    Ok(())
}

/// Offer ID-card login in dev mode: a test PKI (certs::test_pki) generated once into
/// `<data>/idcard` and reused, its `valid` and `valid_rsa` cards mapped to test national ids, a
/// TLS certificate for the listener made at every start, revocation off (a test CA), all
/// through the same `[methods.idcard]` path as production.
fn add_dev_idcard(
    gw: &mut Parts,
    base_url: &str,
    data_dir: &Path,
    listen: SocketAddr,
) -> Result<(), String> {
    let now = gw.idp.clock.now();
    let dir = data_dir.join("idcard");
    let io = |e: std::io::Error| format!("{}: {e}", dir.display());
    if !dir.join("root.crt.pem").exists() {
        let pki = certs::test_pki::IdCardTestPki::generate(now).map_err(|e| e.to_string())?;
        pki.write_to(&dir).map_err(|e| e.to_string())?;
        let map = format!(
            "# Test cards of the development PKI -> test national identification numbers\n{},{}\n{},{}\n",
            pki.cards.valid.satu, DEV_CARD_NATIONAL_IDS[0], pki.cards.valid_rsa.satu, DEV_CARD_NATIONAL_IDS[1]
        );
        std::fs::write(dir.join("satu.csv"), map).map_err(io)?;
    }
    let host = if listen.ip().is_unspecified() {
        format!("127.0.0.1:{}", listen.port())
    } else {
        listen.to_string()
    };
    let tls = certs::test_pki::TlsServerIdentity::generate(&["127.0.0.1", "localhost"], now)
        .map_err(|e| e.to_string())?;
    std::fs::write(dir.join("listener.crt.pem"), &tls.cert_pem).map_err(io)?;
    write_private(&dir.join("listener.key.pem"), tls.key_pem.as_bytes()).map_err(io)?;
    std::fs::write(dir.join("listener-ca.crt.pem"), &tls.ca_pem).map_err(io)?;
    let q = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let path = |name: &str| q(&dir.join(name).display().to_string());
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\npublic_url = {}\n[keys]\nsigning_key = {}\nsigning_cert = {}\npairwise_secret_file = {}\n[methods.idcard]\nlisten = {}\npublic_url = {}\ntls_cert = {}\ntls_key = {}\ntrust_anchors = [{}]\nintermediates = [{}]\nrevocation = \"off\"\ntest_environment = true\nnational_id_map_file = {}\ndisplay_name = {{ fi = \"Henkilökortti (testi-CA)\", sv = \"ID-kort (test-CA)\", en = \"ID card (test CA)\" }}\n",
        q(base_url),
        q(&data_dir.join("idp-signing.key.pem").display().to_string()),
        q(&data_dir.join("idp-signing.crt.pem").display().to_string()),
        q(&data_dir.join("pairwise.secret").display().to_string()),
        q(&listen.to_string()),
        q(&format!("https://{host}")),
        path("listener.crt.pem"),
        path("listener.key.pem"),
        path("root.crt.pem"),
        path("intermediate.crt.pem"),
        path("satu.csv"),
    );
    let report = |problems: Vec<ConfigProblem>| {
        problems
            .iter()
            .map(|p| format!("--idcard-listen: {p}"))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let cfg = super::config::parse(&text, std::iter::empty(), data_dir).map_err(report)?;
    let Some(c) = &cfg.methods.idcard else {
        return Err("--idcard-listen: no [methods.idcard]".into());
    };
    let revocation = crate::stores::revocation::for_gateway(None, Some(data_dir));
    let handle =
        idcard_from_config(c, false, gw.idp.rng.clone(), now, revocation).map_err(report)?;
    gw.idp.adapters.push(handle.adapter.clone());
    gw.idcard = Some(handle);
    Ok(())
}

/// The national ids the development PKI's two good cards map to (test codes, no real person).
pub const DEV_CARD_NATIONAL_IDS: [&str; 2] = ["131052-9085", "070770-905D"];

pub fn build_dev_state(
    base_url: &str,
    data_dir: &Path,
    sp_files: &[PathBuf],
) -> Result<Parts, String> {
    build_dev_state_with(base_url, data_dir, sp_files, None)
}

/// [`build_dev_state`] with the stores given (`None`: memory).
pub fn build_dev_state_with(
    base_url: &str,
    data_dir: &Path,
    sp_files: &[PathBuf],
    stores: Option<crate::stores::Stores>,
) -> Result<Parts, String> {
    let rt = Runtime {
        clock: Arc::new(SystemClock),
        rng: Arc::new(SystemRandomSource),
    };
    let now = rt.clock.now();
    let key = |name: &str, cn: &str, kind| {
        SigningIdentity::load_or_generate(data_dir, name, cn, kind, now)
            .map_err(|e| format!("{name}: {e}"))
    };
    let rsa = key("idp-signing", "Gateway development IdP", KeyKind::Rsa2048)?;
    let ec = key(
        "idp-signing-ec",
        "Gateway development IdP (ECDSA)",
        KeyKind::EcdsaP256,
    )?;
    let demo_identity = key("demo-sp", "Gateway demo SP", KeyKind::Rsa2048)?;
    let pairwise = load_or_create_secret(&data_dir.join("pairwise.secret"), rt.rng.as_ref())?;
    // Kept in the data directory like the other keys: a restarted dev gateway completes the
    // logins that were in progress.
    let seal_secret = load_or_create_secret(&data_dir.join("flow-seal.key"), rt.rng.as_ref())?;
    let seal = crate::flows::SealKeyRing::new(
        "dev",
        [("dev", &seal_secret[..crate::flows::sealed::SEAL_KEY_LEN])],
    )
    .map_err(|e| format!("flow-seal.key: {e}"))?;

    let decryption_key = certs::DecryptionKey::from_pkcs8_der(
        &demo_identity
            .key
            .to_pkcs8_der()
            .map_err(|e| e.to_string())?,
    )
    .map_err(|e| format!("demo-sp: {e}"))?;
    let demo = DemoSp {
        entity_id: format!("{base_url}/demo/sp"),
        acs_url: format!("{base_url}/demo/acs"),
        slo_url: format!("{base_url}/demo/slo"),
        identity: demo_identity,
        decryption_key,
    };
    let all = ReleasePolicy::all();
    let demo_md = crate::web::demo::demo_sp_metadata(&demo);
    let mut sps: Vec<(String, Arc<metadata::ServiceProvider>)> =
        metadata::parse_sp_metadata(&demo_md, "demo SP", &all, now)
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|sp| ("demo SP".to_owned(), sp))
            .collect();
    for f in sp_files {
        for sp in state::load_sp_file(f, &all, now)? {
            sps.push((f.display().to_string(), sp));
        }
    }
    let registry = SpRegistry::new(sps).map_err(|e| e.to_string())?;
    let adapters: Vec<Arc<dyn AuthAdapter>> = vec![Arc::new(idp_adapters::TestBank::new())];
    let saml = SamlConfig {
        organization_name: "Identity gateway (development)".into(),
        ..SamlConfig::default()
    };
    let session = SessionConfig::default();
    let settings = state::settings(&saml, &session);
    let stores = match stores {
        Some(s) => s,
        None => state::memory_stores(&session, &rt)?,
    };
    let idp = state::build_idp(
        base_url.to_owned(),
        format!("{base_url}/saml/idp"),
        IdpKeys {
            rsa: KeySet::new(rsa),
            ec: Some(ec),
        },
        registry,
        adapters,
        &pairwise,
        settings,
        stores,
        seal,
        rt,
    );
    Ok(Parts {
        idp,
        demo: Some(demo),
        banks: Vec::new(),
        rp_jwks: None,
        idcard: None,
    })
}

fn load_or_create_secret(path: &Path, rng: &dyn certs::RandomSource) -> Result<Vec<u8>, String> {
    if let Ok(bytes) = std::fs::read(path) {
        if bytes.len() >= 32 {
            return Ok(bytes);
        }
    }
    let mut secret = vec![0u8; 32];
    rng.fill(&mut secret).map_err(|e| e.to_string())?;
    let tmp = path.with_extension("tmp");
    write_private(&tmp, &secret).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(secret)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}
