//! `openssl ocsp` as an independent OCSP responder for the test PKI (certs::test_pki): an
//! OpenSSL CA index marking the `valid` card good and the `revoked` card revoked.

use certs::test_pki::IdCardTestPki;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// `openssl ocsp` as a child process; killed when dropped, so a failing test leaves none behind.
pub struct OpensslResponder {
    child: Child,
    log: std::path::PathBuf,
    /// The port it picked (`-port 0`) and reported.
    pub port: u16,
}

impl OpensslResponder {
    /// Serve `dir` (prepared by [`write_ca_files`]) on a port the OS picks, once it listens.
    pub fn start(dir: &Path) -> Self {
        let log = dir.join("ocsp.log");
        let log_file = std::fs::File::create(&log).unwrap();
        let child = Command::new("openssl")
            .current_dir(dir)
            .args(["ocsp", "-index", "index.txt", "-port", "0"])
            .args([
                "-rsigner",
                "intermediate.crt.pem",
                "-rkey",
                "intermediate.key.pem",
                "-CA",
                "intermediate.crt.pem",
                "-nrequest",
                "1000",
                "-nmin",
                "5",
            ])
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .expect("openssl is installed");
        let mut responder = OpensslResponder {
            child,
            log,
            port: 0,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = responder.child.try_wait().unwrap() {
                panic!("openssl ocsp exited ({status}): {}", responder.log());
            }
            // Not a connection probe: OpenSSL 3.0's responder spins on a connection closed
            // without a request. Once it listens it reports `ACCEPT [::]:<port> PID=<pid>` (or
            // `ACCEPT 0.0.0.0:<port> ...`), then this line.
            let log = responder.log();
            if log.contains("waiting for OCSP client connections") {
                responder.port = accepted_port(&log)
                    .unwrap_or_else(|| panic!("openssl ocsp did not report its port: {log}"));
                return responder;
            }
            assert!(
                Instant::now() < deadline,
                "openssl ocsp did not listen within 15 s: {log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `http://localhost:<port>/`, where it answers (it listens on every address).
    pub fn url(&self) -> String {
        format!("http://localhost:{}/", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The port of OpenSSL's `ACCEPT <address>:<port> PID=<pid>` line.
fn accepted_port(log: &str) -> Option<u16> {
    let line = log.lines().find(|l| l.starts_with("ACCEPT "))?;
    let address = line.split_whitespace().nth(1)?;
    address.rsplit_once(':')?.1.parse().ok()
}

impl Drop for OpensslResponder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The serial as OpenSSL's index writes it (`serial=03E9` -> `03E9`).
fn openssl_serial(pem: &Path) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-serial", "-in"])
        .arg(pem)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .strip_prefix("serial=")
        .unwrap()
        .to_owned()
}

/// UTCTime as the index holds it: `YYMMDDHHMMSSZ`.
fn index_time(t: OffsetDateTime) -> String {
    format!(
        "{:02}{:02}{:02}{:02}{:02}{:02}Z",
        t.year() % 100,
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The PKI files, the intermediate's key, and `index.txt` (valid: V, revoked: R).
pub fn write_ca_files(pki: &IdCardTestPki, dir: &Path, now: OffsetDateTime) {
    pki.write_to(dir).unwrap();
    std::fs::write(dir.join("intermediate.key.pem"), &pki.intermediate.key_pem).unwrap();
    let expires = index_time(now + time::Duration::days(365));
    let revoked_at = index_time(now - time::Duration::days(1));
    let valid = openssl_serial(&dir.join("cards/valid.crt.pem"));
    let revoked = openssl_serial(&dir.join("cards/revoked.crt.pem"));
    let index = format!(
        "V\t{expires}\t\t{valid}\tunknown\t/C=FI/CN=valid\n\
         R\t{expires}\t{revoked_at},keyCompromise\t{revoked}\tunknown\t/C=FI/CN=revoked\n"
    );
    std::fs::write(dir.join("index.txt"), index).unwrap();
}

/// An HTTP hop in front of a responder that counts the OCSP requests reaching it (a test shows
/// with it that a cached response spared the CA a request). Stops when dropped.
pub struct CountingHop {
    pub url: String,
    count: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl CountingHop {
    /// Forward every POST to `target` (the responder's URL), body and content type unchanged.
    pub async fn start(target: String) -> CountingHop {
        use axum::http::{header, StatusCode};
        use std::sync::atomic::Ordering;
        let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let client = reqwest::Client::new();
        let counted = count.clone();
        let forward = move |body: axum::body::Bytes| {
            let (client, target, counted) = (client.clone(), target.clone(), counted.clone());
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                let answer = client
                    .post(&target)
                    .header(header::CONTENT_TYPE, "application/ocsp-request")
                    .body(body.to_vec())
                    .send()
                    .await;
                match answer {
                    Ok(r) => {
                        let status = StatusCode::from_u16(r.status().as_u16())
                            .unwrap_or(StatusCode::BAD_GATEWAY);
                        let ct = r
                            .headers()
                            .get(header::CONTENT_TYPE)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("application/octet-stream")
                            .to_owned();
                        let body = r.bytes().await.unwrap_or_default();
                        (status, [(header::CONTENT_TYPE, ct)], body.to_vec())
                    }
                    Err(_) => (
                        StatusCode::BAD_GATEWAY,
                        [(header::CONTENT_TYPE, "text/plain".to_owned())],
                        Vec::new(),
                    ),
                }
            }
        };
        let app = axum::Router::new().route("/", axum::routing::post(forward));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        CountingHop { url, count, task }
    }

    /// OCSP requests forwarded so far.
    pub fn requests(&self) -> usize {
        self.count.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for CountingHop {
    fn drop(&mut self) {
        self.task.abort();
    }
}
