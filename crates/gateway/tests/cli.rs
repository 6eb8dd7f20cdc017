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
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = gateway()
        .args([
            "dev",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir.path().join("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let want = format!("http://127.0.0.1:{port}/demo");
    let mut seen = false;
    for _ in 0..20 {
        match lines.next() {
            Some(Ok(l)) if l.contains(&want) => {
                seen = true;
                break;
            }
            Some(Ok(_)) => continue,
            _ => break,
        }
    }
    let page = if seen {
        http_get(port, "/demo")
    } else {
        String::new()
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(seen, "dev mode did not print {want}");
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
