//! The CLI as an operator meets it: `check-config` exit codes and messages, `serve` refusing a
//! bad file, `dev` printing the URL to open.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

const SP_MD: &str = r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.example/sp"><md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example/acs" index="0"/></md:SPSSODescriptor></md:EntityDescriptor>"#;

fn write_good_setup(dir: &Path) -> std::path::PathBuf {
    let now = time::OffsetDateTime::now_utc();
    let id = certs::SigningIdentity::generate_self_signed("idp", certs::KeyKind::Rsa2048, now, 30)
        .unwrap();
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    std::fs::write(dir.join("keys/idp.key"), id.key.to_pkcs8_pem().unwrap()).unwrap();
    std::fs::write(dir.join("keys/idp.crt"), id.cert.to_pem()).unwrap();
    std::fs::write(dir.join("keys/pairwise.secret"), [7u8; 32]).unwrap();
    std::fs::write(dir.join("sp.xml"), SP_MD).unwrap();
    let cfg = dir.join("gateway.toml");
    std::fs::write(
        &cfg,
        r#"
[server]
listen = "127.0.0.1:0"
public_url = "https://idp.example.fi"
[keys]
signing_key = "keys/idp.key"
signing_cert = "keys/idp.crt"
pairwise_secret_file = "keys/pairwise.secret"
[[service_providers]]
metadata_file = "sp.xml"
release = ["given_name"]
"#,
    )
    .unwrap();
    cfg
}

fn gateway() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gateway"));
    c.env_remove("RUST_LOG");
    c
}

#[test]
fn check_config_accepts_a_good_file() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_good_setup(dir.path());
    let out = gateway().arg("check-config").arg(&cfg).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("OK (1 service providers"), "{stdout}");
}

#[test]
fn check_config_reports_every_problem_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_good_setup(dir.path());
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("[keys]", "[keys]\nsigning_kee = \"x\"")
        + "\n[saml]\nclock_skew_seconds = \"soon\"\n";
    std::fs::write(&cfg, text).unwrap();
    let out = gateway().arg("check-config").arg(&cfg).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("keys.signing_kee: unknown key"), "{err}");
    assert!(err.contains("saml.clock_skew_seconds"), "{err}");

    // Files that exist in the config but are broken: each named.
    let cfg = write_good_setup(dir.path());
    std::fs::write(dir.path().join("keys/idp.crt"), "not a certificate").unwrap();
    std::fs::write(dir.path().join("sp.xml"), "<!DOCTYPE x><x/>").unwrap();
    let out = gateway().arg("check-config").arg(&cfg).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("keys.signing_key"), "{err}");
    assert!(err.contains("service_providers[0].metadata_file"), "{err}");

    // Environment overlays the file and is checked the same way.
    let cfg = write_good_setup(dir.path());
    let out = gateway()
        .arg("check-config")
        .arg(&cfg)
        .env("GATEWAY__SERVER__PUBLIC_URL", "http://idp.example.fi")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("server.public_url"));

    // Encryption demanded for an SP whose metadata has no encryption key.
    let cfg = write_good_setup(dir.path());
    let text = std::fs::read_to_string(&cfg).unwrap() + "encrypt_assertions = true\n";
    std::fs::write(&cfg, text).unwrap();
    let out = gateway().arg("check-config").arg(&cfg).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("service_providers[0].encrypt_assertions"),
        "{err}"
    );

    let out = gateway()
        .arg("check-config")
        .arg(dir.path().join("missing.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn serve_refuses_a_bad_config() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_good_setup(dir.path());
    std::fs::write(&cfg, "[server]\nlisten = 1\n").unwrap();
    let out = gateway()
        .arg("serve")
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("server.listen"));
}

#[test]
fn dev_prints_the_url_to_open_and_serves_it() {
    let dir = tempfile::tempdir().unwrap();
    // Port 0: the gateway binds a port of the OS's choosing and prints the URL it serves.
    let mut child = gateway()
        .args(["dev", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut port = None;
    for _ in 0..20 {
        match lines.next() {
            Some(Ok(l)) if l.contains("Open the demo e-service:") => {
                port = l
                    .trim()
                    .rsplit_once("http://127.0.0.1:")
                    .and_then(|(_, rest)| rest.strip_suffix("/demo"))
                    .and_then(|p| p.parse::<u16>().ok());
                break;
            }
            Some(Ok(_)) => continue,
            _ => break,
        }
    }
    let page = match port {
        Some(p) => http_get(p, "/demo"),
        None => String::new(),
    };
    let _ = child.kill();
    let _ = child.wait();
    let port = port.expect("dev mode did not print http://127.0.0.1:<port>/demo");
    assert_ne!(
        port, 0,
        "the URL names the port bound, not the one asked for"
    );
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("href=\"/demo/login\""), "{page}");
    // Keys were generated into the data directory, the private key readable by the owner only.
    let key = dir.path().join("data/idp-signing.key.pem");
    assert!(key.exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o077,
            0
        );
    }
}

fn http_get(port: u16, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// `[methods.idcard]` with the test PKI written next to the config.
fn write_idcard_setup(dir: &Path, listen: &str) -> std::path::PathBuf {
    let cfg = write_good_setup(dir);
    let now = time::OffsetDateTime::now_utc();
    let pki = certs::test_pki::IdCardTestPki::generate(now).unwrap();
    pki.write_to(&dir.join("pki")).unwrap();
    let tls = certs::test_pki::TlsServerIdentity::generate(&["localhost"], now).unwrap();
    std::fs::write(dir.join("keys/listener.crt"), tls.cert_pem).unwrap();
    std::fs::write(dir.join("keys/listener.key"), tls.key_pem).unwrap();
    std::fs::write(
        dir.join("satu.csv"),
        format!("{},131052-9085\n", pki.cards.valid.satu),
    )
    .unwrap();
    let text = std::fs::read_to_string(&cfg).unwrap()
        + &format!(
            r#"
[methods.idcard]
listen = "{listen}"
public_url = "https://idcard.example.fi:8443"
tls_cert = "keys/listener.crt"
tls_key = "keys/listener.key"
trust_anchors = ["pki/root.crt.pem"]
intermediates = ["pki/intermediate.crt.pem"]
crl_files = ["pki/root.crl", "pki/intermediate.crl"]
national_id_map_file = "satu.csv"
"#
        );
    std::fs::write(&cfg, text).unwrap();
    cfg
}

#[test]
fn check_config_checks_the_id_card_method() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_idcard_setup(dir.path(), "127.0.0.1:0");
    let out = gateway().arg("check-config").arg(&cfg).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("ID card on"), "{stdout}");

    // Values: each reported at its path, all at once.
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("https://idcard.example.fi:8443", "http://idcard.example.fi")
        .replace(
            "crl_files = [\"pki/root.crl\", \"pki/intermediate.crl\"]",
            "revocation = \"sometimes\"",
        )
        + "trusted_proxies = [\"10.0.0.0/33\"]\n";
    std::fs::write(&cfg, text).unwrap();
    let out = gateway().arg("check-config").arg(&cfg).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for path in [
        "methods.idcard.public_url",
        "methods.idcard.revocation",
        "methods.idcard.trusted_proxies",
        "methods.idcard.trusted_proxies[0]",
    ] {
        assert!(err.contains(&format!("{path}:")), "{path}: {err}");
    }

    // Files: a CA that is not a certificate, a mapping with a bad line (named by number only).
    let cfg = write_idcard_setup(dir.path(), "127.0.0.1:0");
    std::fs::write(dir.path().join("pki/root.crt.pem"), "nope").unwrap();
    std::fs::write(dir.path().join("satu.csv"), "10000001N,131052-9086\n").unwrap();
    let out = gateway().arg("check-config").arg(&cfg).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("methods.idcard.trust_anchors[0]"), "{err}");
    assert!(
        err.contains("methods.idcard.national_id_map_file") && err.contains("line 1"),
        "{err}"
    );
    assert!(!err.contains("131052"), "values are not repeated: {err}");
}

#[test]
fn serve_reports_a_taken_certificate_listener_port() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let cfg = write_idcard_setup(dir.path(), &taken.local_addr().unwrap().to_string());
    let out = gateway()
        .arg("serve")
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("methods.idcard.listen"), "{err}");
}

#[test]
fn the_test_bank_is_refused_outside_a_test_environment() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_good_setup(dir.path());
    let good = std::fs::read_to_string(&cfg).unwrap();
    let testbank = "\n[methods.testbank]\nenabled = true\n";

    // Production is the default; saying so changes nothing. Both commands refuse, at the path.
    for text in [
        format!("{good}{testbank}"),
        format!("environment = \"production\"\n{good}{testbank}"),
    ] {
        std::fs::write(&cfg, text).unwrap();
        for args in [vec!["check-config"], vec!["serve", "--config"]] {
            let out = gateway().args(&args).arg(&cfg).output().unwrap();
            assert_eq!(out.status.code(), Some(1), "{args:?}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("methods.testbank.enabled: the test bank logs anyone in as anyone"),
                "{args:?}: {err}"
            );
            assert!(err.contains("environment = \"test\""), "{args:?}: {err}");
        }
    }

    // Turned on from the environment: the same refusal.
    std::fs::write(&cfg, &good).unwrap();
    let out = gateway()
        .arg("check-config")
        .arg(&cfg)
        .env("GATEWAY__METHODS__TESTBANK__ENABLED", "true")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("methods.testbank.enabled:"));

    // An environment that is neither: reported at its path.
    std::fs::write(&cfg, format!("environment = \"staging\"\n{good}")).unwrap();
    let out = gateway().arg("check-config").arg(&cfg).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("environment: \"staging\" is not one of production, test"),
        "{err}"
    );

    // A declared test environment may enable it (from the file or the environment).
    std::fs::write(&cfg, format!("environment = \"test\"\n{good}{testbank}")).unwrap();
    let out = gateway().arg("check-config").arg(&cfg).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&cfg, format!("{good}{testbank}")).unwrap();
    let out = gateway()
        .arg("check-config")
        .arg(&cfg)
        .env("GATEWAY__ENVIRONMENT", "test")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `gateway dev` as a child process on a port of the OS's choosing, with its startup banner;
/// killed when dropped.
struct DevChild {
    child: std::process::Child,
    port: u16,
    banner: Vec<String>,
}

impl Drop for DevChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_dev(data: &Path, args: &[&str], env: &[(&str, &str)]) -> DevChild {
    let mut cmd = gateway();
    cmd.args(["dev", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .args(args)
        .env_remove(DEV_RATE_LIMITS)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut dev = DevChild {
        child,
        port: 0,
        banner: Vec::new(),
    };
    // The banner ends with "Press Ctrl-C to stop."; a gateway that failed to start ends stdout.
    for line in BufReader::new(stdout).lines().take(30) {
        let Ok(line) = line else { break };
        if let Some(port) = line
            .trim()
            .strip_prefix("Open the demo e-service:")
            .and_then(|rest| rest.trim().strip_prefix("http://127.0.0.1:"))
            .and_then(|rest| rest.strip_suffix("/demo"))
        {
            dev.port = port.parse().unwrap();
        }
        let last = line.starts_with("Press Ctrl-C");
        dev.banner.push(line);
        if last {
            break;
        }
    }
    assert_ne!(dev.port, 0, "no URL in the banner: {:?}", dev.banner);
    dev
}

const DEV_RATE_LIMITS: &str = "GATEWAY_DEV_RATE_LIMITS";
/// `RateLimit::DEVELOPMENT` (gateway/src/web/edge/limit.rs): what one client may send at once,
/// and the refill after that.
const DEV_BURST: u64 = 2000;
const DEV_PER_SECOND: u64 = 200;

/// What a flood of requests from 127.0.0.1 came to.
#[derive(Debug)]
struct Flood {
    statuses: std::collections::BTreeMap<u16, u64>,
    elapsed: std::time::Duration,
}

impl Flood {
    fn count(&self, status: u16) -> u64 {
        self.statuses.get(&status).copied().unwrap_or(0)
    }
    fn answered(&self) -> u64 {
        self.statuses.values().sum()
    }
}

/// Up to `total` `GET path` from 127.0.0.1 over four keep-alive connections, each sent as soon
/// as the previous answer is in; with `stop_at_429`, no more are sent after the first 429.
fn flood(port: u16, path: &str, total: u64, stop_at_429: bool) -> Flood {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let sent = AtomicU64::new(0);
    let refused = AtomicBool::new(false);
    let start = std::time::Instant::now();
    let mut statuses = std::collections::BTreeMap::new();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = std::collections::BTreeMap::<u16, u64>::new();
                    let mut conn: Option<BufReader<std::net::TcpStream>> = None;
                    while sent.fetch_add(1, Ordering::Relaxed) < total
                        && !(stop_at_429 && refused.load(Ordering::Relaxed))
                    {
                        let c = conn.get_or_insert_with(|| {
                            let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
                            s.set_nodelay(true).unwrap();
                            BufReader::new(s)
                        });
                        let (status, close) = exchange(c, path);
                        if status == 429 {
                            refused.store(true, Ordering::Relaxed);
                        }
                        *mine.entry(status).or_default() += 1;
                        if close {
                            conn = None;
                        }
                    }
                    mine
                })
            })
            .collect();
        for w in workers {
            for (status, n) in w.join().unwrap() {
                *statuses.entry(status).or_default() += n;
            }
        }
    });
    Flood {
        statuses,
        elapsed: start.elapsed(),
    }
}

/// One request on a keep-alive connection: the answer's status, and whether the server closes.
fn exchange(conn: &mut BufReader<std::net::TcpStream>, path: &str) -> (u16, bool) {
    conn.get_mut()
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
        .unwrap();
    let mut line = String::new();
    conn.read_line(&mut line).unwrap();
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {line:?}"));
    let (mut length, mut close) = (None, false);
    loop {
        line.clear();
        conn.read_line(&mut line).unwrap();
        let header = line.trim_end().to_ascii_lowercase();
        if header.is_empty() {
            break;
        }
        if let Some(v) = header.strip_prefix("content-length:") {
            length = v.trim().parse::<usize>().ok();
        }
        close |= header == "connection: close";
        assert!(
            !header.starts_with("transfer-encoding:"),
            "the flood reads sized bodies only: {header}"
        );
    }
    let mut body = vec![0; length.unwrap_or_else(|| panic!("{status} without Content-Length"))];
    conn.read_exact(&mut body).unwrap();
    (status, close)
}

#[test]
fn dev_rate_limits_refuse_more_than_the_burst_from_one_client_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let dev = start_dev(&dir.path().join("data"), &[], &[]);
    assert!(
        !dev.banner.iter().any(|l| l.contains("rate limits are OFF")),
        "{:?}",
        dev.banner
    );
    // Past the burst and faster than the refill: refused with 429, after the burst went through.
    let f = flood(dev.port, "/saml/idp/sso", 20 * DEV_BURST, true);
    assert!(f.count(429) > 0, "no 429 from one client: {f:?}");
    assert!(f.answered() - f.count(429) >= DEV_BURST, "{f:?}");
}

#[test]
fn dev_rate_limits_can_be_turned_off_by_flag_or_variable() {
    let dir = tempfile::tempdir().unwrap();
    let flag: (&[&str], &[(&str, &str)]) = (&["--no-rate-limits"], &[]);
    let variable: (&[&str], &[(&str, &str)]) = (&[], &[(DEV_RATE_LIMITS, "off")]);
    for (args, env) in [flag, variable] {
        let dev = start_dev(&dir.path().join("data"), args, env);
        let off: Vec<&String> = dev
            .banner
            .iter()
            .filter(|l| l.contains("rate limits are OFF"))
            .collect();
        assert_eq!(off.len(), 1, "{args:?} {env:?}: {:?}", dev.banner);
        let total = 3 * DEV_BURST;
        let f = flood(dev.port, "/saml/idp/sso", total, true);
        assert_eq!(f.count(429), 0, "{args:?} {env:?}: {f:?}");
        assert_eq!(f.answered(), total, "{f:?}");
        // Sent faster than the development limit refills: with the limits on, some of these
        // would have been refused (the test above).
        assert!(
            total > DEV_BURST + DEV_PER_SECOND * f.elapsed.as_secs().saturating_add(1),
            "the flood was too slow to show anything: {f:?}"
        );
    }
}

#[test]
fn dev_refuses_a_rate_limits_variable_that_is_neither_on_nor_off() {
    let dir = tempfile::tempdir().unwrap();
    for value in ["yes", "OFF", ""] {
        let out = gateway()
            .args([
                "dev",
                "--listen",
                "127.0.0.1:0",
                "--no-rate-limits",
                "--data-dir",
            ])
            .arg(dir.path().join("data"))
            .env(DEV_RATE_LIMITS, value)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{value:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!(
                "{DEV_RATE_LIMITS}: {value:?} is neither on nor off"
            )),
            "{value:?}: {err}"
        );
        assert!(
            !dir.path().join("data").exists(),
            "refused before starting anything"
        );
    }
}
