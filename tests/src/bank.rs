//! A bank-login world for the end-to-end tests: the stand-in FTN bank (`tests/peers/bank.mjs`,
//! npm `oidc-provider`) as a child process on a port it picked itself, the gateway in production
//! mode (built from a TOML file) as its relying party, a python3-saml SP, and a browser walked
//! through the bank's redirects.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::assertion_names::LOA3;
use crate::browser::{Browser, Page};
use crate::harness::{self, LoopbackListener};
use crate::peers::{self, AuthnOptions, Binding, PeerSp, Validated};
use crate::testsp::{RequestOptions, TestSp};
use saml::authn_request::{Comparison, RequestedAuthnContext};
use serde::Serialize;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the bank may take to print its `listening` line (about 0.5 s normally).
const BANK_START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a line the bank must write may take to arrive (milliseconds normally).
const BANK_LOG_TIMEOUT: Duration = Duration::from_secs(10);

/// The stand-in bank's test persons (`tests/peers/bank.mjs`) and their personal identity codes,
/// all of the test series (individual number 900-999), which no person has.
pub const TEST_PERSONS: [(&str, &str); 4] = [
    ("tupas-1", "130588-9315"),
    ("tupas-2", TUPAS2_HETU),
    ("tupas-3", "010304A957Y"),
    ("tupas-4", "311299Y943M"),
];
/// `tupas-2`, whom `BankSpec::new` logs in (Väinö Tunnistus, born 1970-07-07).
pub const TUPAS2_HETU: &str = "070770-905D";

/// One stand-in bank process on a loopback port; killed when dropped.
pub struct StandInBank {
    /// `http://127.0.0.1:<port>`, the bank's issuer and discovery base.
    pub issuer: String,
    child: Child,
    stderr: Arc<Mutex<String>>,
    verbose: bool,
    /// Numbers the bank's `/test-sync/N` requests (see `requests`).
    syncs: AtomicUsize,
}

/// How to run the bank.
#[derive(Clone, Debug, Default)]
pub struct BankOptions<'a> {
    /// `BANK_MODE` (`normal` when `None`).
    pub mode: Option<&'a str>,
    /// `BANK_AUTO_PERSON`: log this person in without showing the login page.
    pub auto_person: Option<&'a str>,
    /// `BANK_VERBOSE`: a stderr line when each HTTP request arrives and one when it is answered
    /// (needed by [`StandInBank::requests`]).
    pub verbose: bool,
}

impl StandInBank {
    /// Start `node tests/peers/bank.mjs --client FILE --port 0 --exit-with-parent` and wait for
    /// `listening <issuer>`. Blocking (about half a second). Call `peers::ensure_installed` first.
    pub fn start(client_file: &Path, opts: &BankOptions<'_>) -> StandInBank {
        // A node start that stalls on an overloaded machine gets one more try before the test
        // fails; a bank that exits (bad client file, say) fails at once.
        match Self::try_start(client_file, opts) {
            Ok(bank) => bank,
            Err(first) => Self::try_start(client_file, opts).unwrap_or_else(|second| {
                panic!("the stand-in bank did not start:\n{first}\n{second}")
            }),
        }
    }

    fn try_start(client_file: &Path, opts: &BankOptions<'_>) -> Result<StandInBank, String> {
        let mut cmd = Command::new("node");
        cmd.arg(crate::peers::peers_dir().join("bank.mjs"))
            .arg("--client")
            .arg(client_file)
            .args(["--port", "0", "--exit-with-parent"])
            .current_dir(crate::peers::peers_dir())
            .env_remove("BANK_MODE")
            .env_remove("BANK_AUTO_PERSON")
            .env_remove("BANK_VERBOSE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(m) = opts.mode {
            cmd.env("BANK_MODE", m);
        }
        if let Some(p) = opts.auto_person {
            cmd.env("BANK_AUTO_PERSON", p);
        }
        if opts.verbose {
            cmd.env("BANK_VERBOSE", "1");
        }
        let mut child = cmd
            .spawn()
            .expect("node (tests/peers/install.sh installs it)");
        // stderr must be drained, or the bank blocks on a full pipe.
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut se = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = se.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let so = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(so).lines();
            let first = lines.next().and_then(|l| l.ok());
            let _ = tx.send(first);
            // Anything more on stdout breaks the bank's contract; keep draining regardless.
            for _ in lines {}
        });
        let line = match rx.recv_timeout(BANK_START_TIMEOUT) {
            Ok(Some(l)) => l,
            Ok(None) => {
                let _ = child.wait();
                panic!("the stand-in bank exited:\n{}", stderr.lock().unwrap());
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "no `listening` line ({e:?}):\n{}",
                    stderr.lock().unwrap()
                ));
            }
        };
        let issuer = line
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("unexpected first line from the bank: {line:?}"))
            .trim()
            .to_owned();
        Ok(StandInBank {
            issuer,
            child,
            stderr,
            verbose: opts.verbose,
            syncs: AtomicUsize::new(0),
        })
    }

    /// How many `request` (`"GET /jwks"`, the path without its query) the bank has received up
    /// to now. Exact, not eventual: every request that reached the bank before this call is
    /// counted (see `sync`). Needs `BankOptions::verbose`.
    pub fn requests(&self, request: &str) -> usize {
        self.sync();
        let arrived = format!(": request {request}");
        self.stderr()
            .lines()
            .filter(|l| l.ends_with(&arrived))
            .count()
    }

    /// Wait until the bank's stderr holds `pattern` at least `count` times, and return it; panics
    /// naming the pattern when it does not come within `BANK_LOG_TIMEOUT`.
    pub fn wait_for_log(&self, pattern: &str, count: usize) -> String {
        let deadline = Instant::now() + BANK_LOG_TIMEOUT;
        loop {
            let log = self.stderr();
            if log.matches(pattern).count() >= count {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "the stand-in bank did not log {pattern:?} {count} time(s) within \
                 {BANK_LOG_TIMEOUT:?}:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Bring `stderr()` up to date with every request the bank received before this call: send
    /// one of our own and wait for its arrival line. The bank writes a request's line when the
    /// request arrives, to a pipe (which node writes synchronously), so every earlier request's
    /// line precedes it.
    fn sync(&self) {
        assert!(
            self.verbose,
            "the bank logs its requests only with BankOptions::verbose"
        );
        let path = format!("/test-sync/{}", self.syncs.fetch_add(1, Ordering::Relaxed));
        let host = self.issuer.strip_prefix("http://").unwrap();
        let mut s = std::net::TcpStream::connect(host).unwrap();
        s.set_read_timeout(Some(BANK_LOG_TIMEOUT)).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        // The answer (oidc-provider's 404) is read so that the bank never writes to a closed
        // connection; what it says does not matter.
        let _ = s.read_to_end(&mut Vec::new());
        self.wait_for_log(&format!(": request GET {path}\n"), 1);
    }

    /// What the bank wrote to stderr so far (its log: logins, cancels, refusals).
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for StandInBank {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The relying party's registration at the bank (`--client FILE`, see `tests/peers/BANK.md`).
#[derive(Clone, Debug, Serialize)]
pub struct BankClient {
    pub client_id: String,
    pub redirect_uris: Vec<String>,
    /// The gateway's `/oidc/jwks`: the bank fetches it at first use.
    pub jwks_uri: String,
    pub id_token_encrypted_response_alg: String,
    pub id_token_encrypted_response_enc: String,
}

impl BankClient {
    /// The gateway at `base` as bank `id`'s client, with ID tokens (and userinfo) encrypted with
    /// `alg`/`enc`.
    pub fn for_gateway(base: &str, id: &str, alg: &str, enc: &str) -> BankClient {
        BankClient {
            client_id: "gateway-test".into(),
            redirect_uris: vec![format!("{base}/login/bank/{id}/callback")],
            jwks_uri: format!("{base}/oidc/jwks"),
            id_token_encrypted_response_alg: alg.into(),
            id_token_encrypted_response_enc: enc.into(),
        }
    }

    pub fn write(&self, path: &Path) {
        std::fs::write(path, serde_json::to_vec_pretty(self).unwrap()).unwrap();
    }
}

/// The gateway's relying-party keys as PKCS#8 PEM files in `dir`: (signing, encryption).
pub fn write_rp_keys(dir: &Path) -> (PathBuf, PathBuf) {
    let sig = dir.join("rp-sig.key.pem");
    let enc = dir.join("rp-enc.key.pem");
    for p in [&sig, &enc] {
        let key = certs::SigningKey::generate(certs::KeyKind::Rsa2048).unwrap();
        std::fs::write(p, key.to_pkcs8_pem().unwrap()).unwrap();
    }
    (sig, enc)
}

/// One bank in the gateway's config, and how its stand-in runs.
#[derive(Clone)]
pub struct BankSpec {
    pub id: &'static str,
    pub names: [&'static str; 3],
    pub mode: Option<&'static str>,
    /// `BANK_AUTO_PERSON`; `None` shows the bank's login page.
    pub auto_person: Option<&'static str>,
    pub alg: &'static str,
    pub enc: &'static str,
    pub userinfo: bool,
    /// No bank answers at this issuer: its port is held by a socket that never listens, so a
    /// connection is refused there, and nothing else can take the port.
    pub down: bool,
}

impl BankSpec {
    pub fn new(id: &'static str) -> BankSpec {
        BankSpec {
            id,
            names: ["Testipankki", "Testbanken", "Test bank"],
            mode: None,
            auto_person: Some("tupas-2"),
            alg: "RSA-OAEP",
            enc: "A128CBC-HS256",
            userinfo: false,
            down: false,
        }
    }
    pub fn mode(mut self, m: &'static str) -> Self {
        self.mode = Some(m);
        self
    }
}

pub struct World {
    _dir: tempfile::TempDir,
    pub base: String,
    pub gw: gateway::serve::RunningGateway,
    banks: Vec<Option<StandInBank>>,
    /// The ports of the banks that are down (from the start, or taken down), held by sockets
    /// that are bound and never listen.
    held_ports: Vec<tokio::net::TcpSocket>,
    /// python3-saml, the SP that validates every Response.
    pub sp: PeerSp,
    /// Makes AuthnRequests under the python3-saml SP's name (for what its driver cannot ask:
    /// a RequestedAuthnContext).
    pub crafted: TestSp,
}

/// A gateway with these banks, each a stand-in bank process (verbose, so requests can be counted).
pub async fn world(specs: &[BankSpec]) -> World {
    world_with(specs, "").await
}

/// As `world`, with `methods` (TOML keys) in the gateway's `[methods]` table.
pub async fn world_with(specs: &[BankSpec], methods: &str) -> World {
    tokio::task::spawn_blocking(peers::ensure_installed)
        .await
        .unwrap();
    crate::gateway_log::capture();
    // The gateway's URL comes first: the banks' client files and the SP name it.
    let listener = LoopbackListener::bind().await;
    let (addr, base) = (listener.addr, listener.base.clone());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_owned();
    let (rp_sig, rp_enc) = write_rp_keys(&d);

    let mut banks = Vec::new();
    let mut unreachable = Vec::new();
    let mut issuers = Vec::new();
    for spec in specs {
        if spec.down {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
            issuers.push(format!("http://{}", socket.local_addr().unwrap()));
            unreachable.push(socket);
            banks.push(None);
            continue;
        }
        let client = d.join(format!("bank-{}.json", spec.id));
        BankClient::for_gateway(&base, spec.id, spec.alg, spec.enc).write(&client);
        let (mode, person) = (spec.mode, spec.auto_person);
        let b = tokio::task::spawn_blocking(move || {
            StandInBank::start(
                &client,
                &BankOptions {
                    mode,
                    auto_person: person,
                    verbose: true,
                },
            )
        })
        .await
        .unwrap();
        issuers.push(b.issuer.clone());
        banks.push(Some(b));
    }

    harness::write_idp_files(&d);
    let sp =
        harness::python3_saml_sp(&d, &base, "https://python3-saml.bank-login.example/sp").await;
    let sp_cfg = sp.config.clone();

    let mut toml = format!(
        r#"
[server]
listen = "{addr}"
public_url = "{base}"
[keys]
signing_key = "idp.key"
signing_cert = "idp.crt"
pairwise_secret_file = "pairwise.secret"
oidc_signing_key = "{sig}"
oidc_encryption_key = "{enc}"
[[service_providers]]
metadata_file = "sp.xml"
release = ["national_id", "given_name", "surname", "common_name", "display_name", "birth_date"]
[methods]
{methods}
"#,
        sig = rp_sig.file_name().unwrap().to_str().unwrap(),
        enc = rp_enc.file_name().unwrap().to_str().unwrap(),
    );
    for (spec, issuer) in specs.iter().zip(&issuers) {
        let [fi, sv, en] = spec.names;
        toml.push_str(&format!(
            r#"
[[methods.banks]]
id = "{id}"
display_name = {{ fi = "{fi}", sv = "{sv}", en = "{en}" }}
issuer = "{issuer}"
discovery = true
client_id = "gateway-test"
scope = ["openid", "profile", "personal_identity_code"]
max_loa = "ftn_high"
ftn_spname = "Bank login tests"
id_token_encryption = {{ algs = ["{alg}"], encs = ["{enc}"] }}
userinfo = {userinfo}
timeout_seconds = 10
"#,
            id = spec.id,
            alg = spec.alg,
            enc = spec.enc,
            userinfo = spec.userinfo,
        ));
    }
    let gw = harness::serve_toml(&d, listener.listener, &toml).await;
    // `serve_config` refreshed every bank once: the reachable ones are ready.
    for (spec, h) in specs.iter().zip(&gw.state.banks) {
        assert_eq!(h.id(), spec.id);
        assert_eq!(h.bank.is_ready(), !spec.down, "bank {} refresh", spec.id);
    }
    let crafted = TestSp {
        entity_id: sp_cfg.entity_id.clone(),
        acs_url: sp_cfg.acs_url.clone(),
        ..TestSp::new("crafted", &base, false)
    };
    World {
        _dir: dir,
        base,
        gw,
        banks,
        held_ports: unreachable,
        sp,
        crafted,
    }
}

impl World {
    pub fn sso(&self) -> String {
        format!("{}/saml/idp/sso", self.base)
    }

    /// The stand-in of the `i`th bank (not one that is down).
    pub fn bank(&self, i: usize) -> &StandInBank {
        self.banks[i].as_ref().unwrap()
    }

    /// Stop bank `i` (its process has exited when this returns) and hold its port with a socket
    /// that is bound and never listens, so that the gateway's next request to it is refused.
    pub fn take_down(&mut self, i: usize) {
        let bank = self.banks[i].take().expect("a bank that is up");
        let addr: std::net::SocketAddr = bank
            .issuer
            .strip_prefix("http://")
            .unwrap()
            .parse()
            .unwrap();
        drop(bank);
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        // The bank's closed connections may linger in TIME_WAIT on this port.
        socket.set_reuseaddr(true).unwrap();
        socket
            .bind(addr)
            .unwrap_or_else(|e| panic!("the stopped bank's port {addr} was taken: {e}"));
        self.held_ports.push(socket);
    }

    /// python3-saml's AuthnRequest (Redirect binding) through the browser, up to the selection
    /// page. Returns the request ID and the page.
    pub async fn start_python(&self, b: &Browser) -> (String, Page) {
        let sp = self.sp.clone();
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

    /// An AuthnRequest in the python3-saml SP's name asking for FTN loa3 exactly.
    pub async fn start_loa3(&self, b: &Browser) -> (String, Page) {
        let rac = RequestedAuthnContext {
            comparison: Comparison::Exact,
            class_refs: vec![LOA3.into()],
        };
        let (xml, id) = self.crafted.request_xml(
            &self.sso(),
            &RequestOptions {
                requested: Some(rac),
                ..Default::default()
            },
        );
        let page = b
            .get(&self.crafted.redirect_url(&self.sso(), &xml, None, false))
            .await;
        (id, harness::to_selection(b, page).await)
    }

    /// Pick `bank:<id>` on the selection page; the gateway's answer (a redirect to the bank).
    pub async fn pick(&self, b: &Browser, selection: &Page, id: &str) -> Page {
        let href = selection
            .method_link(&format!("bank:{id}"))
            .unwrap_or_else(|| panic!("bank:{id} not offered: {}", selection.body));
        let url = url::Url::parse(&selection.url)
            .unwrap()
            .join(&href)
            .unwrap();
        b.get(url.as_str()).await
    }

    /// Selection page -> bank `i` (auto person) -> the callback URL the bank sends back.
    pub async fn through_bank(&self, b: &Browser, selection: &Page, i: usize, id: &str) -> String {
        let to_bank = self.pick(b, selection, id).await;
        assert_eq!(to_bank.status, 303, "{}", to_bank.body);
        let loc = to_bank.location.clone().unwrap();
        assert!(
            loc.starts_with(&format!("{}/auth?", self.bank(i).issuer)),
            "redirected to the bank's authorization endpoint: {loc}"
        );
        let q = query_pairs(&loc);
        assert!(
            q.iter().any(|(k, _)| k == "request"),
            "a request object: {q:?}"
        );
        let callback = to_callback(b, to_bank, &self.base).await;
        assert!(
            callback.starts_with(&format!("{}/login/bank/{id}/callback?", self.base)),
            "{callback}\n{}",
            self.bank(i).stderr()
        );
        callback
    }

    /// Hand the auto-post page's SAMLResponse to python3-saml.
    pub async fn validate(&self, request_id: &str, autopost: &Page) -> Result<Validated, String> {
        self.sp.validate_autopost(request_id, autopost).await
    }
}

/// A refusal as the citizen and the operator see it: an error page with `status` and an error
/// ID, no SAMLResponse anywhere on it, and an audit line with that error ID and `code`. Returns
/// the error ID.
pub fn assert_refused(page: &Page, status: u16, code: &str, what: &str) -> String {
    assert_eq!(page.status, status, "{what}: {}", page.body);
    let (id, line) = crate::gateway_log::assert_audited_refusal(page, code, what);
    eprintln!("{what}: {line}");
    id
}

/// Follow redirects from `page` (the gateway's redirect to the bank) through the bank until one
/// points back at the gateway (`gateway_base`); return that URL, not yet fetched. Panics when
/// the chain ends elsewhere (the bank showing its login page, an error).
pub async fn to_callback(b: &Browser, mut page: Page, gateway_base: &str) -> String {
    for _ in 0..10 {
        let Some(loc) = page.location.clone() else {
            panic!(
                "the bank did not send the browser back ({} at {}): {}",
                page.status, page.url, page.body
            );
        };
        let next = url::Url::parse(&page.url).unwrap().join(&loc).unwrap();
        if next.as_str().starts_with(gateway_base) {
            return next.to_string();
        }
        page = b.get(next.as_str()).await;
    }
    panic!("too many redirects at the bank");
}

/// Follow redirects from `page` until a page that is not a redirect (the bank's login page, say).
pub async fn follow(b: &Browser, page: Page) -> Page {
    b.follow(page).await
}

/// The query parameters of a URL, in order.
pub fn query_pairs(u: &str) -> Vec<(String, String)> {
    url::Url::parse(u)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// `u` with its query replaced by `pairs`.
pub fn with_query(u: &str, pairs: &[(String, String)]) -> String {
    let mut parsed = url::Url::parse(u).unwrap();
    parsed.set_query(None);
    if !pairs.is_empty() {
        parsed.query_pairs_mut().extend_pairs(pairs.iter());
    }
    parsed.to_string()
}
