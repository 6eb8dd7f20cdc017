//! The independent verifiers' negative side, run with the suite: each SP driver's self-check
//! (tests/peers/selfcheck.py, one driver per test so the three run in parallel) and the samael
//! oracle's self-check against a real `gateway dev` (tests/samael-oracle/selfcheck.sh, with the
//! gateway binary this crate builds and the oracle scripts/test builds).
//!
//! A peer that refuses a tampered Response, or one signed by a foreign key, must say why: each
//! refusal is asserted with its reason. A peer whose library throws something it does not throw
//! to refuse (a TypeError, a missing module) must report an error (exit 3), never a refusal; the
//! self-check provokes both and these tests assert the answer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output};
use tests::peers;

/// What one driver must answer: the reason of its refusal of a tampered Response and of one
/// signed by a foreign key (substrings of the library's message).
struct Expected {
    driver: &'static str,
    tampered: &'static str,
    foreign_key: &'static str,
}

#[test]
fn python3_saml_refuses_tampered_and_foreign_signed_responses_for_their_reason() {
    driver_selfcheck(&Expected {
        driver: "python3-saml",
        tampered: "Signature validation failed",
        foreign_key: "Signature validation failed",
    });
}

#[test]
fn pysaml2_refuses_tampered_and_foreign_signed_responses_for_their_reason() {
    driver_selfcheck(&Expected {
        driver: "pysaml2",
        tampered: "SignatureError: Failed to verify signature",
        foreign_key: "SignatureError: Failed to verify signature",
    });
}

#[test]
fn node_saml_refuses_tampered_and_foreign_signed_responses_for_their_reason() {
    driver_selfcheck(&Expected {
        driver: "node-saml",
        tampered: "Invalid signature",
        foreign_key: "Invalid signature",
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
