//! An ID-card world for the end-to-end tests: a gateway in production mode (built from a TOML
//! file) with its certificate listener on loopback, the test PKI (certs::test_pki) and its CRLs,
//! a SATU mapping, an SP (python3-saml, or a crafted Rust SP), and clients that present cards
//! over real TLS.

use crate::assertion_names::{LOA3, OID_DOB, OID_GIVEN, OID_HETU, OID_SATU, OID_SN};
use crate::browser::{Browser, Page};
use crate::gateway_log;
use crate::harness::{self, LoopbackListener};
use crate::peers::{self, AuthnOptions, Binding, PeerSp, Validated};
use crate::testsp::{RequestOptions, TestSp};
use certs::test_pki::{IdCardTestPki, TestCard, TlsServerIdentity};
use certs::ManualClock;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

/// The national ids the SATU mapping gives the `valid` and `valid_rsa` cards: codes of the test
/// series (individual number 900-999), which no person has.
pub const VALID_HETU: &str = "131052-9085";
pub const RSA_HETU: &str = "070770-905D";
pub const HEADER: &str = "X-SSL-Client-Cert";

pub fn pki() -> &'static IdCardTestPki {
    static PKI: OnceLock<IdCardTestPki> = OnceLock::new();
    PKI.get_or_init(|| IdCardTestPki::generate(time::OffsetDateTime::now_utc()).unwrap())
}

/// How one gateway's ID-card method is set up.
pub struct Setup {
    /// `None`: a plain-HTTP listener behind a proxy.
    pub tls: bool,
    pub crl_files: Vec<&'static str>,
    pub trusted_proxies: Vec<&'static str>,
    /// Extra CRL bytes written as `extra.crl` and listed after `crl_files`.
    pub extra_crl: Option<Vec<u8>>,
    pub crl_urls: Vec<String>,
    /// Map SATUs in an SQLite table (`gateway.sqlite`) instead of the file.
    pub mapping_table: bool,
    /// `revocation = "off"` and this OCSP responder instead of CRLs.
    pub ocsp_url: Option<String>,
    /// Register a python3-saml SP (and install the peers); otherwise only the crafted Rust SP.
    pub python_sp: bool,
    /// The gateway's clock (the system clock when `None`): a test moves it to show what
    /// happens later without waiting.
    pub clock: Option<Arc<ManualClock>>,
    /// `server.data_dir`, outside the world's own directory so that a gateway started again
    /// over it (a restart) finds what the last one kept there.
    pub data_dir: Option<PathBuf>,
    /// A `[store]` section (say, Redis with a key prefix of the test's own).
    pub store_toml: Option<String>,
}

impl Setup {
    pub fn tls() -> Self {
        Setup {
            tls: true,
            crl_files: vec!["root.crl", "intermediate.crl"],
            // A TEST-NET address: nothing on loopback is a trusted proxy.
            trusted_proxies: vec!["192.0.2.1"],
            extra_crl: None,
            crl_urls: Vec::new(),
            mapping_table: false,
            ocsp_url: None,
            python_sp: true,
            clock: None,
            data_dir: None,
            store_toml: None,
        }
    }
}

pub struct World {
    _dir: tempfile::TempDir,
    pub dir: PathBuf,
    pub base: String,
    pub listener: String,
    pub card_addr: std::net::SocketAddr,
    pub gw: gateway::serve::RunningGateway,
    /// The python3-saml SP (when `Setup::python_sp`).
    pub sp: Option<PeerSp>,
    /// Crafted AuthnRequests in the registered SP's name (python3-saml's, or its own).
    pub crafted: TestSp,
    pub idp_cert: certs::Certificate,
    pub tls: Option<TlsServerIdentity>,
}

pub async fn world(setup: Setup) -> World {
    if setup.python_sp {
        tokio::task::spawn_blocking(peers::ensure_installed)
            .await
            .unwrap();
    }
    gateway_log::capture();
    // Both listeners are bound here, on port 0, and handed over: the certificate listener's
    // `public_url` names its port before the gateway is built.
    let gateway_listener = LoopbackListener::bind().await;
    let (addr, base) = (gateway_listener.addr, gateway_listener.base.clone());
    let card_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let card_addr = card_listener.local_addr().unwrap();
    let scheme = if setup.tls { "https" } else { "http" };
    let listener = format!("{scheme}://{card_addr}");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_owned();
    let now = time::OffsetDateTime::now_utc();

    let p = pki();
    p.write_to(&d.join("pki")).unwrap();
    if let Some(extra) = &setup.extra_crl {
        std::fs::write(d.join("pki/extra.crl"), extra).unwrap();
    }
    std::fs::write(
        d.join("satu.csv"),
        format!(
            "# SATU,HETU\n{},{VALID_HETU}\n{},{RSA_HETU}\n{},{VALID_HETU}\n",
            p.cards.valid.satu, p.cards.valid_rsa.satu, p.cards.revoked.satu
        ),
    )
    .unwrap();
    let tls = setup.tls.then(|| {
        let id = TlsServerIdentity::generate(&["127.0.0.1", "localhost"], now).unwrap();
        std::fs::write(d.join("listener.crt"), &id.cert_pem).unwrap();
        std::fs::write(d.join("listener.key"), &id.key_pem).unwrap();
        std::fs::write(d.join("listener-ca.crt"), &id.ca_pem).unwrap();
        id
    });

    let idp = harness::write_idp_files(&d);
    let (sp, crafted) = if setup.python_sp {
        let (sp, crafted) = python_sp(&d, &base).await;
        (Some(sp), crafted)
    } else {
        let crafted = TestSp::new("crafted", &base, false);
        std::fs::write(d.join("sp.xml"), crafted.metadata_xml()).unwrap();
        (None, crafted)
    };

    let list = |v: &[&str]| {
        v.iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut crls: Vec<String> = setup.crl_files.iter().map(|f| format!("pki/{f}")).collect();
    if setup.extra_crl.is_some() {
        crls.push("pki/extra.crl".into());
    }
    let crl_refs: Vec<&str> = crls.iter().map(String::as_str).collect();
    let tls_lines = if setup.tls {
        "tls_cert = \"listener.crt\"\ntls_key = \"listener.key\"\n"
    } else {
        ""
    };
    let toml = format!(
        r#"
[server]
listen = "{addr}"
public_url = "{base}"
{data_dir}
[keys]
signing_key = "idp.key"
signing_cert = "idp.crt"
pairwise_secret_file = "pairwise.secret"
[[service_providers]]
metadata_file = "sp.xml"
release = ["national_id", "electronic_id", "given_name", "surname", "common_name", "display_name", "birth_date"]
[methods.idcard]
listen = "{card_addr}"
public_url = "{listener}"
{tls_lines}trust_anchors = ["pki/root.crt.pem"]
intermediates = ["pki/intermediate.crt.pem"]
{revocation}
{mapping}
forwarded_cert_header = "{HEADER}"
trusted_proxies = [{proxies}]
test_environment = true
"#,
        revocation = match &setup.ocsp_url {
            Some(url) => format!("revocation = \"off\"\nocsp_responder_url = \"{url}\""),
            None => format!(
                "crl_files = [{}]\ncrl_urls = [{}]",
                list(&crl_refs),
                list(
                    &setup
                        .crl_urls
                        .iter()
                        .map(String::as_str)
                        .collect::<Vec<_>>()
                )
            ),
        },
        mapping = if setup.mapping_table {
            ""
        } else {
            "national_id_map_file = \"satu.csv\""
        },
        proxies = list(&setup.trusted_proxies),
        data_dir = match &setup.data_dir {
            Some(d) => format!("data_dir = {}", toml_string(&d.display().to_string())),
            None => String::new(),
        },
    );
    let mut toml = toml;
    if setup.mapping_table {
        let c = rusqlite::Connection::open(d.join("gateway.sqlite")).unwrap();
        c.execute_batch(
            "CREATE TABLE idcard_national_ids (satu TEXT PRIMARY KEY, national_id TEXT NOT NULL);",
        )
        .unwrap();
        c.execute(
            "INSERT INTO idcard_national_ids VALUES (?1, ?2)",
            [p.cards.valid.satu.as_str(), VALID_HETU],
        )
        .unwrap();
        toml.push_str("[methods.idcard.national_id_table]\nsqlite_file = \"gateway.sqlite\"\n");
    }
    if let Some(store) = &setup.store_toml {
        toml.push_str(store);
    }
    let rt = gateway::state::Runtime {
        clock: match &setup.clock {
            Some(c) => c.clone(),
            None => Arc::new(certs::SystemClock),
        },
        rng: Arc::new(certs::SystemRandomSource),
    };
    let gw = harness::try_serve_toml_with(
        &d,
        gateway_listener.listener,
        Some(card_listener),
        &toml,
        rt,
    )
    .await
    .unwrap_or_else(|problems| panic!("gateway refused its config: {problems:?}\n{toml}"));
    World {
        _dir: dir,
        dir: d,
        base,
        listener,
        card_addr,
        gw,
        sp,
        crafted,
        idp_cert: idp.cert,
        tls,
    }
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A python3-saml SP and a crafted SP in its name (for requests its driver cannot make).
async fn python_sp(d: &std::path::Path, base: &str) -> (PeerSp, TestSp) {
    let sp = harness::python3_saml_sp(d, base, "https://python3-saml.idcard.example/sp").await;
    let crafted = TestSp {
        entity_id: sp.config.entity_id.clone(),
        acs_url: sp.config.acs_url.clone(),
        ..TestSp::new("crafted", base, false)
    };
    (sp, crafted)
}

impl World {
    pub fn sso(&self) -> String {
        format!("{}/saml/idp/sso", self.base)
    }

    /// python3-saml's AuthnRequest up to the selection page; the request ID and the page.
    pub async fn start_python(&self, b: &Browser) -> (String, Page) {
        let sp = self.sp.clone().expect("a world with the python3-saml SP");
        let req = tokio::task::spawn_blocking(move || {
            sp.authn(&AuthnOptions {
                binding: Binding::Redirect,
                ..Default::default()
            })
        })
        .await
        .unwrap()
        .unwrap();
        let page = b.get(&req.url).await;
        (req.request_id, harness::to_selection(b, page).await)
    }

    /// A quick AuthnRequest in the SP's name (for the many refusal cases).
    /// A crafted AuthnRequest up to the selection page; its ID and the page.
    pub async fn start_sp(&self, b: &Browser) -> (String, Page) {
        let (xml, id) = self
            .crafted
            .request_xml(&self.sso(), &RequestOptions::default());
        let page = b
            .get(&self.crafted.redirect_url(&self.sso(), &xml, None, false))
            .await;
        (id, harness::to_selection(b, page).await)
    }

    /// The Response on an auto-post page, validated by the crafted Rust SP (worlds without the
    /// python3-saml SP, whose assertions the crafted SP can decrypt).
    pub fn validate_rust(&self, request_id: &str, page: &Page) -> saml::sp::ValidatedAssertion {
        let (_, xml, _) = page
            .saml_response()
            .unwrap_or_else(|| panic!("no SAMLResponse: {} {}", page.status, page.body));
        self.crafted
            .validate(
                &xml,
                request_id,
                &format!("{}/saml/idp", self.base),
                std::slice::from_ref(&self.idp_cert),
                None,
            )
            .unwrap()
    }

    pub async fn start_crafted(&self, b: &Browser) -> Page {
        let (xml, _) = self
            .crafted
            .request_xml(&self.sso(), &RequestOptions::default());
        let page = b
            .get(&self.crafted.redirect_url(&self.sso(), &xml, None, false))
            .await;
        harness::to_selection(b, page).await
    }

    /// Pick the ID card: the gateway's redirect to the certificate listener.
    pub async fn pick_idcard(&self, b: &Browser, selection: &Page) -> String {
        let href = selection
            .method_link("idcard")
            .unwrap_or_else(|| panic!("idcard not offered: {}", selection.body));
        let url = url::Url::parse(&selection.url)
            .unwrap()
            .join(&href)
            .unwrap();
        let to_listener = b.get(url.as_str()).await;
        assert_eq!(to_listener.status, 303, "{}", to_listener.body);
        let loc = to_listener.location.clone().unwrap();
        assert!(
            loc.starts_with(&format!("{}/idcard/login?state=", self.listener)),
            "{loc}"
        );
        loc
    }

    /// A TLS client (rustls) presenting `card` (or nothing), trusting the listener's CA.
    pub fn card_client(&self, card: Option<&TestCard>) -> reqwest::Client {
        self.chain_client(card.map(|c| (c.key_pem.as_str(), c.chain.as_slice())))
    }

    /// A TLS client presenting this key and chain (leaf first), whatever they are.
    pub fn chain_client(&self, chain: Option<(&str, &[Vec<u8>])>) -> reqwest::Client {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy();
        if let Some(tls) = &self.tls {
            builder = builder
                .tls_certs_only([reqwest::Certificate::from_pem(tls.ca_pem.as_bytes()).unwrap()]);
        }
        if let Some((key_pem, chain)) = chain {
            let mut pem = key_pem.to_owned();
            for der in chain {
                pem.push_str(&certs::Certificate::from_der(der).unwrap().to_pem());
            }
            builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
        }
        builder.build().unwrap()
    }

    /// The listener's answer to `client`: status, Location, body.
    pub async fn at_listener(
        &self,
        client: &reqwest::Client,
        url: &str,
        header: Option<&str>,
    ) -> (u16, Option<String>, String) {
        let mut rb = client.get(url);
        if let Some(h) = header {
            rb = rb.header(HEADER, h);
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status().as_u16();
        let loc = resp
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        (status, loc, resp.text().await.unwrap())
    }

    /// `at_listener`'s answer as a page (for the listener's own refusals: their error ID).
    pub async fn listener_page(
        &self,
        client: &reqwest::Client,
        url: &str,
        header: Option<&str>,
    ) -> Page {
        let (status, location, body) = self.at_listener(client, url, header).await;
        Page {
            status,
            url: url.to_owned(),
            location,
            set_cookies: Vec::new(),
            headers: Default::default(),
            body,
        }
    }

    /// Selection -> listener (presenting `card` over TLS) -> the page the callback answers.
    pub async fn login_with(&self, b: &Browser, selection: &Page, card: Option<&TestCard>) -> Page {
        let url = self.pick_idcard(b, selection).await;
        let (status, loc, body) = self.at_listener(&self.card_client(card), &url, None).await;
        assert_eq!(status, 303, "the listener captures and redirects: {body}");
        let loc = loc.unwrap();
        assert!(
            loc.starts_with(&format!("{}/login/idcard/callback?state=", self.base)),
            "{loc}"
        );
        b.get(&loc).await
    }

    pub async fn validate(&self, request_id: &str, autopost: &Page) -> Result<Validated, String> {
        let sp = self.sp.as_ref().expect("a world with the python3-saml SP");
        sp.validate_autopost(request_id, autopost).await
    }
}

pub fn assert_card_holder(v: &Validated, card: &TestCard, hetu: &str) {
    let one = |oid: &str| v.attributes.get(oid).map(|x| x.join("|"));
    assert_eq!(one(OID_HETU).as_deref(), Some(hetu), "{v:?}");
    assert_eq!(one(OID_SATU).as_deref(), Some(card.satu.as_str()), "{v:?}");
    assert_eq!(
        one(OID_GIVEN).as_deref(),
        Some(card.given_name.as_str()),
        "{v:?}"
    );
    assert_eq!(one(OID_SN).as_deref(), Some(card.surname.as_str()), "{v:?}");
    assert!(one(OID_DOB).is_some(), "{v:?}");
    assert_eq!(v.authn_context.as_deref(), Some(LOA3), "{v:?}");
}

/// A refusal as the citizen and the operator see it: an error page with `status`, an error ID,
/// no SAMLResponse, and an audit line with that error ID and `code`.
pub fn assert_refused(page: &Page, status: u16, code: &str, what: &str) {
    assert_eq!(page.status, status, "{what}: {}", page.body);
    let (_, line) = gateway_log::assert_audited_refusal(page, code, what);
    assert!(
        !line.contains(&pki().cards.valid.satu) && !line.contains(VALID_HETU),
        "{what}: no SATU or national id in the log: {line}"
    );
}

/// The `state` of a listener URL.
pub fn state_of(url: &str) -> String {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned()
}
