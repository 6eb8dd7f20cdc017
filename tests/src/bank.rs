//! Support for the bank-login tests: the stand-in FTN bank (`tests/peers/bank.mjs`, npm
//! `oidc-provider`) as a child process, the relying-party key files and the bank's client file,
//! the gateway's log captured in memory (to find audit lines), and walking a browser through the
//! bank's redirects.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::browser::{Browser, Page};
use serde::Serialize;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// How long the bank may take to print its `listening` line (about 0.5 s normally).
const BANK_START_TIMEOUT: Duration = Duration::from_secs(30);

/// One stand-in bank process on a loopback port; killed when dropped.
pub struct StandInBank {
    /// `http://127.0.0.1:<port>`, the bank's issuer and discovery base.
    pub issuer: String,
    child: Child,
    stderr: Arc<Mutex<String>>,
}

/// How to run the bank.
#[derive(Clone, Debug, Default)]
pub struct BankOptions<'a> {
    /// `BANK_MODE` (`normal` when `None`).
    pub mode: Option<&'a str>,
    /// `BANK_AUTO_PERSON`: log this person in without showing the login page.
    pub auto_person: Option<&'a str>,
    /// `BANK_VERBOSE`: one stderr line per HTTP request.
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
        })
    }

    /// Wait (up to 5 s) until the bank's stderr holds `pattern` at least `count` times: its log
    /// line for a request is written when the response finishes, which can be after the
    /// gateway already answered the browser.
    pub fn wait_for_log(&self, pattern: &str, count: usize) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let log = self.stderr();
            if log.matches(pattern).count() >= count || std::time::Instant::now() > deadline {
                return log;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
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

#[derive(Clone)]
struct LogSink(Arc<Mutex<Vec<u8>>>);

impl Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn log_buffer() -> &'static Arc<Mutex<Vec<u8>>> {
    static BUF: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUF.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = LogSink(buf.clone());
        // The in-process gateway logs here (every test in this process shares the buffer;
        // lines are found by their error ID).
        let _ = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .try_init();
        buf
    })
}

/// Capture the log of everything running in this test process from now on.
pub fn capture_logs() {
    let _ = log_buffer();
}

/// Every captured log line so far.
pub fn log_lines() -> Vec<String> {
    let bytes = log_buffer().lock().unwrap().clone();
    String::from_utf8_lossy(&bytes)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The audit line (target `audit`) that carries this error ID, if any.
pub fn audit_line(error_id: &str) -> Option<String> {
    let id = format!("error_id={error_id}");
    log_lines()
        .into_iter()
        .find(|l| l.contains(" audit:") && l.contains(&id))
}

/// A refusal as the operator sees it: no SAMLResponse on `page`, an error ID on it, and an audit
/// line carrying that error ID and `code`. Returns the error ID and the line.
pub fn assert_audited_refusal(page: &Page, code: &str, what: &str) -> (String, String) {
    assert!(!page.has_saml_response(), "{what}: {}", page.body);
    let id = error_id(page).unwrap_or_else(|| panic!("{what}: no error ID: {}", page.body));
    let line = audit_line(&id).unwrap_or_else(|| {
        panic!(
            "{what}: no audit line with error_id={id}:\n{}",
            log_lines().join("\n")
        )
    });
    assert!(
        line.contains(&format!("code=\"{code}\"")),
        "{what}: the audit line should name {code}: {line}"
    );
    (id, line)
}

/// The error ID shown on a gateway error page.
pub fn error_id(page: &Page) -> Option<String> {
    let marker = "<code id=\"error-id\">";
    let i = page.body.find(marker)? + marker.len();
    let e = page.body[i..].find('<')?;
    Some(page.body[i..i + e].to_owned())
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
