//! Start a real gateway on a loopback port the OS picked (bound first and handed over), each with
//! its own data directory; the steps every login test shares (the test bank, the selection page).

use gateway::dev::{start_dev_on, DevOptions, DevRateLimits};
use gateway::serve::RunningGateway;
use std::path::PathBuf;

pub struct TestGateway {
    pub gw: RunningGateway,
    pub dir: tempfile::TempDir,
}

impl TestGateway {
    pub fn base(&self) -> &str {
        &self.gw.base_url
    }
    pub fn sso_url(&self) -> String {
        format!("{}/saml/idp/sso", self.gw.base_url)
    }
    pub fn entity_id(&self) -> String {
        format!("{}/saml/idp", self.gw.base_url)
    }
    /// The certificates an SP should trust (from the gateway's own state, as its metadata says).
    pub fn idp_certs(&self) -> Vec<certs::Certificate> {
        self.gw
            .state
            .idp
            .keys
            .published(time::OffsetDateTime::now_utc())
    }
    pub fn idp_cert_pem_file(&self) -> PathBuf {
        let p = self.dir.path().join("idp-cert.pem");
        std::fs::write(&p, self.gw.state.idp.keys.rsa.active().cert.to_pem()).unwrap();
        p
    }
}

/// A loopback listener on a port the OS picked, and the gateway URL it stands for. Bound before
/// anything that names the URL is written (SP metadata, a bank's client file) and handed to the
/// gateway that serves on it, so nothing else can take the port in between.
pub struct LoopbackListener {
    pub listener: tokio::net::TcpListener,
    pub addr: std::net::SocketAddr,
    /// `http://127.0.0.1:<port>`
    pub base: String,
}

impl LoopbackListener {
    pub async fn bind() -> LoopbackListener {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        LoopbackListener {
            listener,
            addr,
            base: format!("http://{addr}"),
        }
    }
}

/// Start a dev-mode gateway with these SP metadata files registered, on `listener` (callers that
/// need the base URL first bind it) or else on a port of its own.
pub async fn start(sp_metadata: Vec<PathBuf>, listener: Option<LoopbackListener>) -> TestGateway {
    start_in(tempfile::tempdir().unwrap(), sp_metadata, listener).await
}

/// As `start`, in a directory prepared by the caller (its `data/` may hold keys made beforehand).
pub async fn start_in(
    dir: tempfile::TempDir,
    sp_metadata: Vec<PathBuf>,
    listener: Option<LoopbackListener>,
) -> TestGateway {
    start_with_banks(dir, sp_metadata, listener, Vec::new()).await
}

/// As `start_in`, offering banks `(id, issuer)` the way `gateway dev --bank ID=ISSUER` does.
pub async fn start_with_banks(
    dir: tempfile::TempDir,
    sp_metadata: Vec<PathBuf>,
    listener: Option<LoopbackListener>,
    banks: Vec<(String, String)>,
) -> TestGateway {
    let listener = match listener {
        Some(l) => l,
        None => LoopbackListener::bind().await,
    };
    let gw = start_dev_on(
        listener.listener,
        DevOptions {
            listen: listener.addr,
            sp_metadata,
            data_dir: dir.path().join("data"),
            public_url: None,
            banks,
            idcard_listen: None,
            rate_limits: DevRateLimits::On,
            redis: None,
        },
    )
    .await
    .unwrap();
    TestGateway { gw, dir }
}

/// From the SSO endpoint's answer (a redirect to the selection page), the selection page.
pub async fn to_selection(
    b: &crate::browser::Browser,
    sso_answer: crate::browser::Page,
) -> crate::browser::Page {
    assert_eq!(
        sso_answer.status, 303,
        "the SSO endpoint should send the browser to the selection page: {}",
        sso_answer.body
    );
    let selection = b.follow(sso_answer).await;
    assert_eq!(selection.status, 200, "{}", selection.body);
    selection
}

/// Follow a method's link (`data-method`) on the selection page; panics if it is not offered.
pub async fn pick_method(
    b: &crate::browser::Browser,
    selection: &crate::browser::Page,
    method: &str,
) -> crate::browser::Page {
    let href = selection
        .method_link(method)
        .unwrap_or_else(|| panic!("{method} not offered: {}", selection.body));
    let base = url::Url::parse(&selection.url).unwrap();
    b.get(base.join(&href).unwrap().as_str()).await
}

/// From the SSO endpoint's answer (a redirect to the selection page), pick the test bank and
/// submit its form with `fields`; returns the page after the submit (the auto-post page on success).
pub async fn through_testbank(
    b: &crate::browser::Browser,
    sso_answer: crate::browser::Page,
    fields: &[(&str, &str)],
) -> crate::browser::Page {
    let selection = to_selection(b, sso_answer).await;
    let bank = pick_method(b, &selection, "testbank").await;
    assert_eq!(bank.status, 200, "{}", bank.body);
    assert!(bank.body.contains("name=\"national_id\""));
    b.submit(&bank, None, fields).await
}

/// The test bank's ready person Matti Meikäläinen: a code of the test series (individual number
/// 900-999), which no person has.
pub const PERSON: &str = "150375-913W";

/// A production-mode gateway's own files in `d`: `idp.key`/`idp.crt` (RSA-2048, 30 days) and
/// `pairwise.secret`, named as the tests' TOML files name them. Returns the IdP identity.
pub fn write_idp_files(d: &std::path::Path) -> certs::SigningIdentity {
    let now = time::OffsetDateTime::now_utc();
    let idp = certs::SigningIdentity::generate_self_signed("idp", certs::KeyKind::Rsa2048, now, 30)
        .unwrap();
    std::fs::write(d.join("idp.key"), idp.key.to_pkcs8_pem().unwrap()).unwrap();
    std::fs::write(d.join("idp.crt"), idp.cert.to_pem()).unwrap();
    std::fs::write(d.join("pairwise.secret"), [7u8; 32]).unwrap();
    idp
}

/// Before a dev-mode gateway starts in `dir` (data in `dir/data`): its RSA signing key, made
/// now so that SP configurations can name its certificate, and that certificate as a PEM file.
pub fn dev_idp_key_before_start(dir: &std::path::Path) -> (certs::SigningIdentity, PathBuf) {
    let idp = certs::SigningIdentity::load_or_generate(
        &dir.join("data"),
        "idp-signing",
        "Gateway development IdP",
        certs::KeyKind::Rsa2048,
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    let pem = dir.join("idp-cert.pem");
    std::fs::write(&pem, idp.cert.to_pem()).unwrap();
    (idp, pem)
}

/// An SP's own key pair for a peer's configuration, written as `dir/sp.key` and `dir/sp.crt`.
pub fn peer_sp_key_files(dir: &std::path::Path) -> (PathBuf, PathBuf) {
    let now = time::OffsetDateTime::now_utc();
    let sp_id =
        certs::SigningIdentity::generate_self_signed("peer-sp", certs::KeyKind::Rsa2048, now, 30)
            .unwrap();
    let (key, cert) = (dir.join("sp.key"), dir.join("sp.crt"));
    std::fs::write(&key, sp_id.key.to_pkcs8_pem().unwrap()).unwrap();
    std::fs::write(&cert, sp_id.cert.to_pem()).unwrap();
    (key, cert)
}

/// A python3-saml SP (unsigned requests, plain assertions) for the gateway at `base`, its files
/// in `d/python3-saml` and its metadata written to `d/sp.xml`. Needs `d/idp.crt`.
pub async fn python3_saml_sp(
    d: &std::path::Path,
    base: &str,
    entity_id: &str,
) -> crate::peers::PeerSp {
    use crate::peers::{PeerConfig, PeerKind, PeerSp};
    let now = time::OffsetDateTime::now_utc();
    let sp_id =
        certs::SigningIdentity::generate_self_signed("sp", certs::KeyKind::Rsa2048, now, 30)
            .unwrap();
    std::fs::write(d.join("sp.key"), sp_id.key.to_pkcs8_pem().unwrap()).unwrap();
    std::fs::write(d.join("sp.crt"), sp_id.cert.to_pem()).unwrap();
    let cfg = PeerConfig::for_gateway(
        entity_id.into(),
        "http://127.0.0.1:9/python3-saml/acs".into(),
        base,
        &d.join("idp.crt"),
        (&d.join("sp.key"), &d.join("sp.crt")),
    );
    let sp = PeerSp::new(PeerKind::Python3Saml, &d.join("python3-saml"), &cfg).unwrap();
    let sp2 = sp.clone();
    let md = tokio::task::spawn_blocking(move || sp2.metadata())
        .await
        .unwrap()
        .unwrap();
    std::fs::write(d.join("sp.xml"), md).unwrap();
    sp
}

/// Write `toml` to `d/gateway.toml` and serve it as `gateway serve` would, on `listener` (bound by
/// the caller; the file's `server.listen` is informational), with the system clock and
/// randomness. Panics with the problems if refused.
pub async fn serve_toml(
    d: &std::path::Path,
    listener: tokio::net::TcpListener,
    toml: &str,
) -> RunningGateway {
    let rt = gateway::state::Runtime {
        clock: std::sync::Arc::new(certs::SystemClock),
        rng: std::sync::Arc::new(certs::SystemRandomSource),
    };
    try_serve_toml(d, listener, toml, rt)
        .await
        .unwrap_or_else(|p| panic!("gateway refused its config: {p:?}\n{toml}"))
}

/// As `serve_toml`, with the caller's clock and randomness, returning the problems if refused
/// (a malformed file still panics).
pub async fn try_serve_toml(
    d: &std::path::Path,
    listener: tokio::net::TcpListener,
    toml: &str,
    rt: gateway::state::Runtime,
) -> Result<RunningGateway, Vec<gateway::config::ConfigProblem>> {
    try_serve_toml_with(d, listener, None, toml, rt).await
}

/// As `try_serve_toml`, with the certificate listener bound by the caller too.
pub async fn try_serve_toml_with(
    d: &std::path::Path,
    listener: tokio::net::TcpListener,
    idcard_listener: Option<tokio::net::TcpListener>,
    toml: &str,
    rt: gateway::state::Runtime,
) -> Result<RunningGateway, Vec<gateway::config::ConfigProblem>> {
    let cfg_path = d.join("gateway.toml");
    std::fs::write(&cfg_path, toml).unwrap();
    let cfg = gateway::config::load(&cfg_path, std::iter::empty())
        .unwrap_or_else(|p| panic!("config refused: {p:?}\n{toml}"));
    gateway::serve::serve_config_with(&cfg, listener, idcard_listener, rt).await
}
