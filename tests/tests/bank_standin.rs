//! The stand-in FTN bank (npm `oidc-provider`, tests/peers/bank.mjs) behaves like an FTN bank:
//! its own self-check drives a full code flow with a signed request object, PKCE,
//! private_key_jwt and an encrypted ID token, and every hostile mode the bank-login tests will
//! rely on produces exactly its anomaly. Bank login itself (issue 3) builds on this.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;
use tests::peers;

#[test]
fn stand_in_bank_selfcheck_passes() {
    peers::ensure_installed();
    let out = Command::new("node")
        .arg(peers::peers_dir().join("bank-selfcheck.mjs"))
        .current_dir(peers::peers_dir())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bank selfcheck failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("bank selfcheck:"))
        .unwrap_or("");
    assert!(summary.ends_with(" 0 failed"), "{summary}");
    let passed: u32 = summary
        .split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(passed >= 20, "{summary}");
}
