//! Start a real gateway on a free loopback port, each with its own data directory.

use gateway::dev::{start_dev, DevOptions};
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
            .idp.keys
            .published(time::OffsetDateTime::now_utc())
    }
    pub fn idp_cert_pem_file(&self) -> PathBuf {
        let p = self.dir.path().join("idp-cert.pem");
        std::fs::write(&p, self.gw.state.idp.keys.rsa.active().cert.to_pem()).unwrap();
        p
    }
}

/// Start a dev-mode gateway with these SP metadata files registered. The listener is bound
/// before the SPs are known, so callers that need the base URL first use `reserve_port`.
pub async fn start(sp_metadata: Vec<PathBuf>, listen: Option<std::net::SocketAddr>) -> TestGateway {
    start_in(tempfile::tempdir().unwrap(), sp_metadata, listen).await
}

/// As `start`, in a directory prepared by the caller (its `data/` may hold keys made beforehand).
pub async fn start_in(
    dir: tempfile::TempDir,
    sp_metadata: Vec<PathBuf>,
    listen: Option<std::net::SocketAddr>,
) -> TestGateway {
    start_with_banks(dir, sp_metadata, listen, Vec::new()).await
}

/// As `start_in`, offering banks `(id, issuer)` the way `gateway dev --bank ID=ISSUER` does.
pub async fn start_with_banks(
    dir: tempfile::TempDir,
    sp_metadata: Vec<PathBuf>,
    listen: Option<std::net::SocketAddr>,
    banks: Vec<(String, String)>,
) -> TestGateway {
    let gw = start_dev(DevOptions {
        listen: listen.unwrap_or_else(|| "127.0.0.1:0".parse().unwrap()),
        sp_metadata,
        data_dir: dir.path().join("data"),
        public_url: None,
        banks,
        idcard_listen: None,
    })
    .await
    .unwrap();
    TestGateway { gw, dir }
}

/// A free loopback port (bound and released): SP metadata must name the gateway's URL before
/// the gateway starts.
pub fn reserve_port() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// From the SSO endpoint's answer (a redirect to the selection page), pick the test bank and
/// submit its form with `fields`; returns the page after the submit (the auto-post page on success).
pub async fn through_testbank(
    b: &crate::browser::Browser,
    sso_answer: crate::browser::Page,
    fields: &[(&str, &str)],
) -> crate::browser::Page {
    assert_eq!(
        sso_answer.status, 303,
        "expected a redirect to the selection page, got {} {}",
        sso_answer.status, sso_answer.body
    );
    let selection = b.follow(sso_answer).await;
    assert_eq!(selection.status, 200, "{}", selection.body);
    let href = selection
        .method_link("testbank")
        .expect("test bank offered");
    let base = url::Url::parse(&selection.url).unwrap();
    let bank = b.get(base.join(&href).unwrap().as_str()).await;
    assert_eq!(bank.status, 200, "{}", bank.body);
    assert!(bank.body.contains("name=\"national_id\""));
    b.submit(&bank, None, fields).await
}

pub const PERSON: &str = "150375-213A";

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
    let cfg = PeerConfig {
        entity_id: entity_id.into(),
        acs_url: "http://127.0.0.1:9/python3-saml/acs".into(),
        idp_entity_id: format!("{base}/saml/idp"),
        idp_sso_url: format!("{base}/saml/idp/sso"),
        idp_cert_pem_file: d.join("idp.crt"),
        idp_metadata_file: None,
        sp_key_file: d.join("sp.key"),
        sp_cert_file: d.join("sp.crt"),
        authn_requests_signed: false,
        want_assertions_encrypted: false,
    };
    let sp = PeerSp::new(PeerKind::Python3Saml, &d.join("python3-saml"), &cfg).unwrap();
    let sp2 = sp.clone();
    let md = tokio::task::spawn_blocking(move || sp2.metadata())
        .await
        .unwrap()
        .unwrap();
    std::fs::write(d.join("sp.xml"), md).unwrap();
    sp
}

/// Write `toml` to `d/gateway.toml` and serve it as `gateway serve` would, on `addr` (its
/// `server.listen`), with the system clock and randomness. Panics with the problems if refused.
pub async fn serve_toml(
    d: &std::path::Path,
    addr: std::net::SocketAddr,
    toml: &str,
) -> RunningGateway {
    let cfg_path = d.join("gateway.toml");
    std::fs::write(&cfg_path, toml).unwrap();
    let cfg = gateway::config::load(&cfg_path, std::iter::empty())
        .unwrap_or_else(|p| panic!("config refused: {p:?}\n{toml}"));
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    gateway::serve::serve_config(
        &cfg,
        listener,
        gateway::state::Runtime {
            clock: std::sync::Arc::new(certs::SystemClock),
            rng: std::sync::Arc::new(certs::SystemRandomSource),
        },
    )
    .await
    .unwrap_or_else(|p| panic!("gateway refused its config: {p:?}"))
}
