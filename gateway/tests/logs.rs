//! The log as an operator gets it: the real binary as a child process, its stderr written to a
//! file (as a service manager or `2> gateway.log` does), a real login through the demo e-service
//! at `RUST_LOG=debug`. Text and JSON lines alike carry no terminal escape codes, JSON lines
//! parse one by one with the audit events' fields, and no line names the person who logged in.
//!
//! The login is driven over plain HTTP here (the `tests` crate's browser links the gateway as a
//! library and cannot find this binary).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const STARTUP: Duration = Duration::from_secs(120);

#[test]
fn json_log_lines_parse_and_carry_the_audit_events_without_the_national_id() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("gateway.log");
    let mut dev = Dev::start(dir.path(), &log, Some("json"));
    let login = login_through_the_demo(&dev.base);
    dev.stop();

    let text = std::fs::read_to_string(&log).unwrap();
    assert_no_escape_codes(&text);
    assert_nothing_personal(&text, &login);
    let lines: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines.iter().any(|l| l["level"] == "DEBUG"),
        "RUST_LOG=debug was not in force"
    );
    for l in &lines {
        for key in ["timestamp", "level", "target"] {
            assert!(l[key].is_string(), "no {key}: {l}");
        }
        assert!(l["fields"].is_object(), "fields not under \"fields\": {l}");
    }
    let audit = |event: &str| -> Vec<&Value> {
        lines
            .iter()
            .filter(|l| l["target"] == "audit" && l["fields"]["event"] == event)
            .collect()
    };
    let demo_sp = format!("{}/demo/sp", dev.base);
    let requests = audit("authn_request");
    assert_eq!(requests.len(), 1, "{text}");
    assert_eq!(requests[0]["fields"]["sp"], demo_sp.as_str());
    assert_eq!(requests[0]["level"], "INFO");
    let logins = audit("login");
    assert_eq!(logins.len(), 1, "{text}");
    let f = &logins[0]["fields"];
    assert_eq!(f["sp"], demo_sp.as_str());
    assert_eq!(f["method"], "testbank");
    assert!(f["loa"].as_str().unwrap().starts_with("http"), "{f}");
    // The subject is a keyed hash, never the code.
    let subject = f["subject"].as_str().unwrap();
    assert!(
        subject.len() >= 16 && subject.chars().all(|c| c.is_ascii_alphanumeric()),
        "{subject}"
    );
    let assertions = audit("assertion");
    assert_eq!(assertions.len(), 1, "{text}");
    assert_eq!(assertions[0]["fields"]["encrypted"], true);
}

#[test]
fn text_log_in_a_file_has_no_escape_codes_and_no_national_id() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("gateway.log");
    let mut dev = Dev::start(dir.path(), &log, None);
    let login = login_through_the_demo(&dev.base);
    dev.stop();

    let text = std::fs::read_to_string(&log).unwrap();
    assert_no_escape_codes(&text);
    assert_nothing_personal(&text, &login);
    assert!(text.contains(" DEBUG "), "RUST_LOG=debug was not in force");
    let logins: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" audit: ") && l.contains("event=\"login\""))
        .collect();
    assert_eq!(logins.len(), 1, "{text}");
    assert!(
        logins[0].contains(" INFO ") && logins[0].contains("method=\"testbank\""),
        "{}",
        logins[0]
    );
}

#[test]
fn serve_takes_the_log_format_from_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_production_config(dir.path(), "[log]\nformat = \"json\"\n");
    let mut child = gateway()
        .args(["serve", "--config"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = lines_of(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    let serving = loop {
        match lines.recv_timeout(STARTUP) {
            Ok(l) => {
                let v: Value = serde_json::from_str(&l).unwrap_or_else(|e| {
                    let _ = child.kill();
                    panic!("not JSON ({e}): {l}")
                });
                seen.push(l);
                if v["fields"]["message"] == "gateway serving" {
                    break v;
                }
            }
            Err(_) => {
                let _ = child.kill();
                panic!("no \"gateway serving\" line: {seen:?}");
            }
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(serving["level"], "INFO");
    assert_eq!(serving["target"], "gateway::app::cli");
    assert_eq!(
        serving["fields"]["entity_id"],
        "https://idp.example.fi/saml/idp"
    );
    assert!(seen.iter().all(|l| !l.contains('\x1b')));

    // The same file, overlaid by the variable; an unknown format is refused at its path.
    let out = gateway()
        .arg("check-config")
        .arg(&cfg)
        .env("GATEWAY__LOG__FORMAT", "yaml")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("log.format: \"yaml\" is not one of text, json"),
        "{err}"
    );
}

#[test]
fn dev_refuses_an_unknown_log_format() {
    let dir = tempfile::tempdir().unwrap();
    let out = gateway()
        .args(["dev", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .env("GATEWAY__LOG__FORMAT", "yaml")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("GATEWAY__LOG__FORMAT"), "{err}");
    assert!(
        !dir.path().join("data").exists(),
        "refused before anything started"
    );
}

fn gateway() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gateway"));
    c.env_remove("RUST_LOG")
        .env_remove("GATEWAY__LOG__FORMAT")
        .env_remove("NO_COLOR");
    c
}

/// `gateway dev` on a port of its own choosing, stderr into `log`, at `RUST_LOG=debug`.
struct Dev {
    child: Child,
    base: String,
}

impl Dev {
    fn start(dir: &Path, log: &Path, format: Option<&str>) -> Dev {
        let mut cmd = gateway();
        cmd.args(["dev", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.join("data"))
            .env("RUST_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).unwrap());
        if let Some(f) = format {
            cmd.env("GATEWAY__LOG__FORMAT", f);
        }
        let mut child = cmd.spawn().unwrap();
        let lines = lines_of(child.stdout.take().unwrap());
        let marker = "Open the demo e-service:";
        let base = loop {
            match lines.recv_timeout(STARTUP) {
                Ok(l) if l.contains(marker) => {
                    let url = l.split(marker).nth(1).unwrap().trim();
                    break url.strip_suffix("/demo").unwrap().to_owned();
                }
                Ok(_) => continue,
                Err(_) => {
                    let _ = child.kill();
                    let log = std::fs::read_to_string(log).unwrap_or_default();
                    panic!("dev mode did not print its URL; log:\n{log}");
                }
            }
        };
        Dev { child, base }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A reader's lines on a channel, so a wait for one can time out. The reader drains the pipe to
/// its end even when nobody listens any more: the child must never write into a closed pipe.
fn lines_of(r: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(r).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    rx
}

/// What a login left behind that must never be in a log.
struct Login {
    national_id: String,
    saml_response: String,
}

/// Demo e-service -> SSO (signed Redirect) -> selection -> test bank, first ready person ->
/// auto-posted Response -> the demo's ACS, which validates it.
fn login_through_the_demo(base: &str) -> Login {
    let mut b = Browser::default();
    let r = b.get(&format!("{base}/demo/login"));
    assert_eq!(r.status, 303, "{}", r.body);
    let r = b.follow(r);
    assert_eq!(r.status, 200, "selection page: {}", r.body);
    let href = html_attr_after(&r.body, "data-method=\"testbank\"", "href").expect("test bank");
    let bank = b.get(&b.absolute(&r.url, &href));
    assert_eq!(bank.status, 200, "{}", bank.body);
    let national_id = html_attr_after(
        &bank.body,
        "<button type=\"submit\" data-person=",
        "data-person",
    )
    .expect("a ready test person");
    let flow = html_attr_after(&bank.body, "name=\"flow\"", "value").unwrap();
    let lang = html_attr_after(&bank.body, "name=\"lang\"", "value").unwrap();
    let finish = b.absolute(&bank.url, "/login/testbank/finish");
    let autopost = b.post(
        &finish,
        &[
            ("flow", &flow),
            ("lang", &lang),
            ("national_id", &national_id),
        ],
    );
    assert_eq!(autopost.status, 200, "{}", autopost.body);
    let action = html_attr_after(&autopost.body, "<form id=\"saml\"", "action").unwrap();
    let saml_response = html_attr_after(&autopost.body, "name=\"SAMLResponse\"", "value").unwrap();
    let relay_state = html_attr_after(&autopost.body, "name=\"RelayState\"", "value").unwrap();
    let done = b.post(
        &b.absolute(&autopost.url, &action),
        &[
            ("SAMLResponse", &saml_response),
            ("RelayState", &relay_state),
        ],
    );
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("data-result=\"ok\""), "{}", done.body);
    Login {
        national_id,
        saml_response,
    }
}

fn assert_no_escape_codes(log: &str) {
    assert!(!log.is_empty(), "nothing was logged");
    if let Some((n, line)) = log.lines().enumerate().find(|(_, l)| l.contains('\x1b')) {
        panic!("escape code on line {}: {line:?}", n + 1);
    }
}

/// No line names the person who logged in or carries the Response, in a log that has the
/// login: its audit `login` event (text or JSON), the only login of this gateway process.
fn assert_nothing_personal(log: &str, login: &Login) {
    let logins = log
        .lines()
        .filter(|l| {
            (l.contains(" audit: ") && l.contains("event=\"login\""))
                || (l.contains("\"target\":\"audit\"") && l.contains("\"event\":\"login\""))
        })
        .count();
    assert_eq!(
        logins, 1,
        "the login whose absence from the log is checked is not in it:\n{log}"
    );
    let compact: String = login.national_id.replace('-', "");
    for (n, line) in log.lines().enumerate() {
        assert!(
            !line.contains(&login.national_id) && !line.contains(&compact),
            "line {} names the person: {line}",
            n + 1
        );
        assert!(
            !line.contains(&login.saml_response[..64]),
            "line {} carries the Response: {line}",
            n + 1
        );
    }
}

/// The value of attribute `name` in the tag where `marker` first appears (HTML-unescaped).
fn html_attr_after(html: &str, marker: &str, name: &str) -> Option<String> {
    let at = html.find(marker)?;
    let start = html[..at].rfind('<')?;
    let end = at + html[at..].find('>')?;
    let tag = &html[start..end];
    let pat = format!(" {name}=\"");
    let i = tag.find(&pat)? + pat.len();
    let j = tag[i..].find('"')?;
    Some(
        tag[i..i + j]
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// Just enough of a browser for one login over plain HTTP on loopback: one cookie jar (every
/// cookie goes back, as a browser sends loopback `Secure` cookies), no redirects followed
/// unless asked.
#[derive(Default)]
struct Browser {
    cookies: BTreeMap<String, String>,
}

struct Reply {
    url: String,
    status: u16,
    location: Option<String>,
    body: String,
}

impl Browser {
    fn get(&mut self, url: &str) -> Reply {
        self.send("GET", url, None)
    }

    fn post(&mut self, url: &str, fields: &[(&str, &str)]) -> Reply {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.send("POST", url, Some(body))
    }

    fn follow(&mut self, mut r: Reply) -> Reply {
        for _ in 0..10 {
            let Some(loc) = r.location.clone() else {
                return r;
            };
            r = self.get(&self.absolute(&r.url, &loc));
        }
        panic!("too many redirects");
    }

    fn absolute(&self, base: &str, href: &str) -> String {
        url::Url::parse(base)
            .unwrap()
            .join(href)
            .unwrap()
            .to_string()
    }

    fn send(&mut self, method: &str, url: &str, form: Option<String>) -> Reply {
        let u = url::Url::parse(url).unwrap();
        let host = format!("{}:{}", u.host_str().unwrap(), u.port().unwrap());
        let target = &u[url::Position::BeforePath..url::Position::AfterQuery];
        let mut req =
            format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req.push_str(&format!("Cookie: {}\r\n", jar.join("; ")));
        }
        let body = form.unwrap_or_default();
        if method == "POST" {
            req.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        req.push_str(&body);
        let mut s = std::net::TcpStream::connect(&host).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let raw = String::from_utf8(raw).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP response");
        let mut lines = head.lines();
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let mut location = None;
        let mut chunked = false;
        for line in lines {
            let (name, value) = line.split_once(':').unwrap();
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "location" => location = Some(value.to_owned()),
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                "set-cookie" => {
                    let pair = value.split(';').next().unwrap();
                    let (k, v) = pair.split_once('=').unwrap();
                    let expired = value.to_ascii_lowercase().contains("max-age=0");
                    if v.is_empty() || expired {
                        self.cookies.remove(k);
                    } else {
                        self.cookies.insert(k.to_owned(), v.to_owned());
                    }
                }
                _ => {}
            }
        }
        Reply {
            url: url.to_owned(),
            status,
            location,
            body: if chunked {
                dechunk(body)
            } else {
                body.to_owned()
            },
        }
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n").unwrap();
        let n = usize::from_str_radix(size.trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.push_str(&after[..n]);
        rest = &after[n + 2..];
    }
}

/// A production-mode config that enables the test bank in a declared test environment, with
/// `extra` appended.
fn write_production_config(dir: &Path, extra: &str) -> std::path::PathBuf {
    let now = time::OffsetDateTime::now_utc();
    let id = certs::SigningIdentity::generate_self_signed("idp", certs::KeyKind::Rsa2048, now, 30)
        .unwrap();
    std::fs::write(dir.join("idp.key"), id.key.to_pkcs8_pem().unwrap()).unwrap();
    std::fs::write(dir.join("idp.crt"), id.cert.to_pem()).unwrap();
    std::fs::write(dir.join("pairwise.secret"), [7u8; 32]).unwrap();
    std::fs::write(
        dir.join("sp.xml"),
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.example/sp"><md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example/acs" index="0"/></md:SPSSODescriptor></md:EntityDescriptor>"#,
    )
    .unwrap();
    let cfg = dir.join("gateway.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"environment = "test"
[server]
listen = "127.0.0.1:0"
public_url = "https://idp.example.fi"
[keys]
signing_key = "idp.key"
signing_cert = "idp.crt"
pairwise_secret_file = "pairwise.secret"
[methods.testbank]
enabled = true
[[service_providers]]
metadata_file = "sp.xml"
release = ["given_name"]
{extra}"#
        ),
    )
    .unwrap();
    cfg
}
