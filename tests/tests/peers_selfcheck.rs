//! The independent verifiers' negative side, run with the suite: each SP driver's self-check
//! (tests/peers/selfcheck.py, one driver per test so the three run in parallel) and the samael
//! oracle's self-check against a real `gateway dev` (tests/samael-oracle/selfcheck.sh, with the
//! gateway binary this crate builds and the oracle scripts/test builds).
//!
//! A peer that refuses a tampered Response, or one signed by a foreign key, must say why: each
//! refusal is asserted with its reason. Single logout (tests/peers/selfcheck_slo.py): each
//! driver's `slo` takes LogoutRequests from another library acting as the IdP and its `logout`
//! is verified by that library; a LogoutRequest with the Signature parameter removed, or with
//! its SigAlg or Signature changed, must be refused, each for its reason. A peer whose library throws something it does not throw
//! to refuse (a TypeError, a missing module) must report an error (exit 3), never a refusal; the
//! self-check provokes both and these tests assert the answer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tests::peers::{
    self, LogoutOptions, NameIdFormat, PeerConfig, PeerError, PeerKind, PeerSp, SloOutcome,
};

/// What one driver must answer: the reason of its refusal of a tampered Response and of one
/// signed by a foreign key (substrings of the library's message).
struct Expected {
    driver: &'static str,
    tampered: &'static str,
    foreign_key: &'static str,
    /// Why the driver refuses a LogoutRequest without its Signature parameter.
    slo_unsigned: &'static str,
    /// Why it refuses one whose SigAlg or Signature was changed.
    slo_bad_signature: &'static str,
}

#[test]
fn python3_saml_refuses_tampered_and_foreign_signed_responses_for_their_reason() {
    driver_selfcheck(&Expected {
        driver: "python3-saml",
        tampered: "Signature validation failed",
        foreign_key: "Signature validation failed",
        slo_unsigned: "python3-saml: The SAMLRequest is not signed",
        slo_bad_signature: "python3-saml: Signature validation failed",
    });
}

#[test]
fn pysaml2_refuses_tampered_and_foreign_signed_responses_for_their_reason() {
    driver_selfcheck(&Expected {
        driver: "pysaml2",
        tampered: "SignatureError: Failed to verify signature",
        foreign_key: "SignatureError: Failed to verify signature",
        slo_unsigned: "pysaml2: IncorrectlySigned",
        slo_bad_signature: "pysaml2: IncorrectlySigned",
    });
}

#[test]
fn node_saml_refuses_tampered_and_foreign_signed_responses_for_their_reason() {
    driver_selfcheck(&Expected {
        driver: "node-saml",
        tampered: "Invalid signature",
        foreign_key: "Invalid signature",
        // node-saml verifies a query signature only when there is one: the driver requires it.
        slo_unsigned: "driver: the logout message has no query signature",
        slo_bad_signature: "node-saml: Invalid query signature",
    });
}

#[test]
fn samael_refuses_tampered_and_foreign_signed_gateway_responses_for_their_reason() {
    peers::ensure_installed();
    let oracle = peers::samael_oracle_bin();
    assert!(
        oracle.exists(),
        "{} missing: scripts/test builds it",
        oracle.display()
    );
    let out = Command::new("bash")
        .arg(peers::peers_dir().join("../samael-oracle/selfcheck.sh"))
        .env("GATEWAY_BIN", env!("CARGO_BIN_EXE_gateway-under-test"))
        .env("ORACLE_BIN", &oracle)
        .output()
        .unwrap();
    let stdout = succeeded("samael selfcheck.sh", &out);
    assert!(
        stdout
            .lines()
            .any(|l| l == "selfcheck: all CHECK lines PASS"),
        "{stdout}"
    );
    // The script passes a refusal only when samael's error names the reason given here.
    for (case, reason) in [
        ("tampered attribute value", "Verification failed"),
        ("signed by a foreign key", "Verification failed"),
        (
            "Assertion signature removed",
            "all assertions must be signed",
        ),
    ] {
        let line = line_starting(&stdout, &format!("CHECK PASS  {case}"));
        assert!(
            line.contains("samael refused the response: ") && line.contains(reason),
            "samael's refusal of {case} does not say {reason:?}: {line}"
        );
    }
    let genuine = line_starting(&stdout, "CHECK PASS  genuine Response");
    assert!(genuine.contains("150375-913W"), "{genuine}");
}

fn driver_selfcheck(want: &Expected) {
    peers::ensure_installed();
    let dir = peers::peers_dir();
    let out = Command::new(dir.join(".venv/bin/python"))
        .arg(dir.join("selfcheck.py"))
        .args(["--driver", want.driver])
        .output()
        .unwrap();
    let stdout = succeeded(&format!("selfcheck.py --driver {}", want.driver), &out);
    let summary = stdout
        .lines()
        .rev()
        .find(|l| l.ends_with(" failed"))
        .unwrap_or("");
    assert!(summary.ends_with(" 0 failed"), "{summary}\n{stdout}");
    let passed: u32 = summary
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(passed >= 150, "{summary}");

    for (variant, reason) in [
        ("tampered", want.tampered),
        ("foreign-key", want.foreign_key),
        ("slo-request-no-signature", want.slo_unsigned),
        ("slo-request-sigalg-changed", want.slo_bad_signature),
        ("slo-request-signature-changed", want.slo_bad_signature),
    ] {
        let line = line_starting(&stdout, &format!("  {} / {variant}: ", want.driver));
        let answer = line.split_once(": ").map_or("", |(_, a)| a);
        assert!(
            answer.starts_with("refused: ") && answer.contains(reason),
            "{} must refuse {variant} for {reason:?}: {line}",
            want.driver
        );
    }
    // The library patched to throw a TypeError, and the library's module missing: an error
    // with the exception, exit 3, never a refusal.
    for (crash, exception) in [
        (
            "TypeError in ",
            "error: exit 3: error: TypeError: simulated library bug",
        ),
        ("module ", "error: exit 3: error: "),
    ] {
        let line = line_starting(&stdout, &format!("  {} / crash: {crash}", want.driver));
        assert!(
            line.contains(exception) && !line.contains("refused"),
            "{}: a crash must be reported as an error: {line}",
            want.driver
        );
    }
}

#[test]
fn python3_saml_single_logout_through_the_rust_api_with_pysaml2_as_the_idp() {
    single_logout_through_the_rust_api(PeerKind::Python3Saml, PeerKind::PySaml2);
}

#[test]
fn pysaml2_single_logout_through_the_rust_api_with_node_saml_as_the_idp() {
    single_logout_through_the_rust_api(PeerKind::PySaml2, PeerKind::NodeSaml);
}

#[test]
fn node_saml_single_logout_through_the_rust_api_with_python3_saml_as_the_idp() {
    single_logout_through_the_rust_api(PeerKind::NodeSaml, PeerKind::Python3Saml);
}

const IDP: &str = "http://127.0.0.1:18080/saml/idp";
const SP: &str = "http://127.0.0.1:18081/sp";

/// [`PeerSp::logout`] and [`PeerSp::slo`] without the gateway: the IdP is played by another
/// driver with the roles swapped (its entity is the IdP's, its key the IdP's, its "IdP" the SP
/// under test with the SP's certificate, its `slo_url` the IdP's SLO URL), so its `logout` is an
/// IdP-initiated LogoutRequest signed with the IdP key and its `slo` checks the SP's answers.
fn single_logout_through_the_rust_api(sp_kind: PeerKind, idp_kind: PeerKind) {
    peers::ensure_installed();
    let dir = tempfile::tempdir().unwrap();
    let (idp_key, idp_cert) = keypair(dir.path(), "idp");
    let (sp_key, sp_cert) = keypair(dir.path(), "sp");
    let idp_slo = format!("{IDP}/slo");
    let sp_slo = format!("{SP}/slo");
    let sp_cfg = PeerConfig {
        slo_url: Some(sp_slo.clone()),
        ..PeerConfig::for_gateway(
            SP.into(),
            format!("{SP}/acs"),
            "http://127.0.0.1:18080",
            &idp_cert,
            (&sp_key, &sp_cert),
        )
    };
    assert_eq!(sp_cfg.idp_slo_url.as_deref(), Some(idp_slo.as_str()));
    let idp_cfg = PeerConfig {
        entity_id: IDP.into(),
        acs_url: format!("{IDP}/acs-unused"),
        idp_entity_id: SP.into(),
        idp_sso_url: format!("{SP}/sso-unused"),
        idp_cert_pem_file: sp_cert.clone(),
        idp_metadata_file: None,
        sp_key_file: idp_key,
        sp_cert_file: idp_cert,
        authn_requests_signed: true,
        want_assertions_encrypted: false,
        slo_url: Some(idp_slo.clone()),
        idp_slo_url: Some(sp_slo.clone()),
    };
    let sp = PeerSp::new(sp_kind, &dir.path().join("sp"), &sp_cfg).unwrap();
    let idp = PeerSp::new(idp_kind, &dir.path().join("idp"), &idp_cfg).unwrap();
    let md = sp.metadata().unwrap();
    assert!(
        md.contains("SingleLogoutService") && md.contains(&sp_slo),
        "{sp_kind} metadata declares its SLO endpoint: {md}"
    );
    let who = format!("{sp_kind} (IdP played by {idp_kind})");

    // IdP-initiated.
    let from_idp = idp
        .logout(&LogoutOptions {
            name_id: "AAdzZWNyZXQx".into(),
            name_id_format: NameIdFormat::Transient,
            session_index: "_sess-1".into(),
            relay_state: Some("rs-idp".into()),
        })
        .unwrap();
    assert!(
        from_idp.url.starts_with(&format!("{sp_slo}?")),
        "{}",
        from_idp.url
    );
    let response_url = match sp.slo(&from_idp.url, None) {
        Ok(SloOutcome::Request {
            name_id,
            session_indexes,
            response_url,
        }) => {
            assert_eq!(name_id, "AAdzZWNyZXQx", "{who}");
            assert_eq!(session_indexes, ["_sess-1"], "{who}");
            response_url
        }
        other => panic!("{who}: slo on the IdP's LogoutRequest: {other:?}"),
    };
    assert!(
        response_url.starts_with(&format!("{idp_slo}?")),
        "{response_url}"
    );
    match idp.slo(&response_url, Some(&from_idp.request_id)) {
        Ok(SloOutcome::Response { status, sub_status }) => {
            assert_eq!(
                status, "urn:oasis:names:tc:SAML:2.0:status:Success",
                "{who}"
            );
            assert_eq!(sub_status, None, "{who}");
        }
        other => panic!("{who}: the SP's LogoutResponse: {other:?}"),
    }

    // The signature is required and checked: removed, SigAlg changed, Signature changed.
    let unsigned = without_param(&from_idp.url, "Signature");
    let sigalg = with_param(
        &from_idp.url,
        "SigAlg",
        "http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha512",
    );
    let sig = param(&from_idp.url, "Signature");
    let flipped = format!(
        "{}{}",
        if sig.starts_with('A') { "B" } else { "A" },
        &sig[1..]
    );
    let bad_sig = with_param(&from_idp.url, "Signature", &flipped);
    for (case, url) in [
        ("without Signature", unsigned),
        ("with SigAlg changed", sigalg),
        ("with Signature changed", bad_sig),
    ] {
        match sp.slo(&url, None) {
            Err(PeerError::Refused(r)) => assert!(!r.error.is_empty()),
            other => panic!("{who} must refuse a LogoutRequest {case}: {other:?}"),
        }
    }

    // SP-initiated.
    let from_sp = sp
        .logout(&LogoutOptions {
            name_id: "AAdzZWNyZXQx".into(),
            name_id_format: NameIdFormat::Persistent,
            session_index: "_sess-1".into(),
            relay_state: Some("rs-sp".into()),
        })
        .unwrap();
    assert!(
        from_sp.url.starts_with(&format!("{idp_slo}?")),
        "{}",
        from_sp.url
    );
    let answer = match idp.slo(&from_sp.url, None) {
        Ok(SloOutcome::Request {
            name_id,
            response_url,
            ..
        }) => {
            assert_eq!(name_id, "AAdzZWNyZXQx", "{who}");
            response_url
        }
        other => panic!("{who}: the IdP side on the SP's LogoutRequest: {other:?}"),
    };
    match sp.slo(&answer, Some(&from_sp.request_id)) {
        Ok(SloOutcome::Response { status, sub_status }) => {
            assert_eq!(
                status, "urn:oasis:names:tc:SAML:2.0:status:Success",
                "{who}"
            );
            assert_eq!(sub_status, None, "{who}");
        }
        other => panic!("{who}: slo on the IdP's LogoutResponse: {other:?}"),
    }
    match sp.slo(&answer, Some("_another-request")) {
        Err(PeerError::Refused(_)) => {}
        other => panic!("{who} must refuse a LogoutResponse to another request: {other:?}"),
    }
}

/// A throwaway RSA key (PKCS#8 PEM) and self-signed certificate from the `openssl` CLI.
fn keypair(dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
    let (key, cert) = (
        dir.join(format!("{stem}.key")),
        dir.join(format!("{stem}.crt")),
    );
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .arg("-subj")
        .arg(format!("/CN=peers selfcheck {stem}"))
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    succeeded("openssl req", &out);
    (key, cert)
}

fn param<'a>(url: &'a str, name: &str) -> &'a str {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {name} in {url}"))
}

fn rebuilt(url: &str, f: impl Fn(&str, &str) -> Option<String>) -> String {
    let (base, query) = url.split_once('?').unwrap();
    let parts: Vec<String> = query
        .split('&')
        .filter_map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            f(k, v)
        })
        .collect();
    format!("{base}?{}", parts.join("&"))
}

fn without_param(url: &str, name: &str) -> String {
    rebuilt(url, |k, v| (k != name).then(|| format!("{k}={v}")))
}

fn with_param(url: &str, name: &str, value: &str) -> String {
    rebuilt(url, |k, v| {
        Some(format!("{k}={}", if k == name { value } else { v }))
    })
}

/// The process's stdout, after asserting that it exited 0.
fn succeeded(what: &str, out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn line_starting<'a>(stdout: &'a str, prefix: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?} in:\n{stdout}"))
}
