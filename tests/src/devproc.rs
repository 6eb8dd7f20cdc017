//! `gateway dev` as a child process (the test crate's `gateway-under-test` binary): several
//! processes behind one public URL, as behind a load balancer, each on its own port. Killed when
//! dropped; stderr (the log) captured.

use crate::browser::{Browser, Page};
use crate::harness::PERSON;
use crate::testsp::TestSp;
use std::io::BufRead;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The binary integration tests run: `env!("CARGO_BIN_EXE_gateway-under-test")` in the test.
pub struct DevProcess {
    child: std::process::Child,
    pub port: u16,
    log: Arc<Mutex<String>>,
}

impl Drop for DevProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How to start one process.
pub struct DevArgs<'a> {
    /// `env!("CARGO_BIN_EXE_gateway-under-test")`.
    pub bin: &'a str,
    /// The data directory's parent: the process uses `<dir>/data`.
    pub dir: &'a Path,
    pub sp_metadata: &'a Path,
    /// 0: any free port.
    pub port: u16,
    /// None: its own `http://127.0.0.1:<port>`.
    pub public_url: Option<&'a str>,
    pub extra: &'a [&'a str],
}

impl DevProcess {
    fn command(a: &DevArgs, port: u16) -> std::process::Command {
        let mut cmd = std::process::Command::new(a.bin);
        cmd.arg("dev")
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(a.dir.join("data"))
            .arg("--sp-metadata")
            .arg(a.sp_metadata)
            .args(a.extra)
            .env_remove("RUST_LOG")
            .env_remove("GATEWAY_DEV_REDIS")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        if let Some(u) = a.public_url {
            cmd.args(["--public-url", u]);
        }
        cmd
    }

    /// Start and wait until it serves (it prints its SSO endpoint); panics with its log if not.
    pub fn start(a: DevArgs) -> DevProcess {
        let port = if a.port == 0 { free_port() } else { a.port };
        let mut child = Self::command(&a, port).spawn().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut lines = stdout.lines().map_while(Result::ok);
        let started = lines.any(|l| l.contains("SSO endpoint:"));
        if !started {
            let _ = child.wait();
            std::thread::sleep(std::time::Duration::from_millis(100));
            panic!("gateway did not start; log:\n{}", log.lock().unwrap());
        }
        std::thread::spawn(move || lines.for_each(drop));
        DevProcess { child, port, log }
    }

    /// Run a process that is expected to refuse to start: its exit status and everything it
    /// wrote (stdout, then stderr).
    pub fn refused(a: DevArgs) -> (std::process::ExitStatus, String) {
        let port = if a.port == 0 { free_port() } else { a.port };
        let out = Self::command(&a, port).output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status, text)
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What it has logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Whether the process is still running (it has not exited, by panic or otherwise).
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Where a redirect from the public URL's SSO endpoint points.
pub fn target(sso: &str, answer: &Page) -> String {
    url::Url::parse(sso)
        .unwrap()
        .join(answer.location.as_deref().unwrap())
        .unwrap()
        .into()
}

/// The same path and query on another process.
pub fn on(g: &DevProcess, url: &str) -> String {
    let u = url::Url::parse(url).unwrap();
    format!("{}{}?{}", g.base(), u.path(), u.query().unwrap_or_default())
}

/// Pick the test bank on `selection` and log in as the test person, on the process that served
/// the selection.
pub async fn finish_on(b: &Browser, selection: &Page) -> Page {
    assert_eq!(selection.status, 200, "{}", selection.body);
    let bank = crate::harness::pick_method(b, selection, "testbank").await;
    assert_eq!(bank.status, 200, "{}", bank.body);
    b.submit(&bank, None, &[("national_id", PERSON)]).await
}

pub fn validated(
    sp: &TestSp,
    page: &Page,
    request_id: &str,
    public: &str,
    idp: &certs::Certificate,
) {
    let b64 = page
        .saml_response_b64()
        .unwrap_or_else(|| panic!("an auto-post with a SAMLResponse: {}", page.body));
    let xml = saml::binding::decode_post(&b64, &Default::default()).unwrap();
    let v = sp
        .validate(
            &xml,
            request_id,
            &format!("{public}/saml/idp"),
            std::slice::from_ref(idp),
            None,
        )
        .unwrap();
    assert!(v
        .attributes
        .iter()
        .any(|(_, vals)| vals.iter().any(|x| x == PERSON)));
}
