//! The other direction of the JOSE interop check: node's `jose` (the library the stand-in bank
//! uses) verifies and decrypts what our `jose` crate makes, with the committed test keys.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use certs::{SigningKey, SystemRandomSource};
use jose::{encrypt_jwe, sign_jws, JweAlg, JweEnc, Jwk, JwsAlg};
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::process::Command;
use tests::peers;

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../jose/tests/vectors/node")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(vectors().join(name)).unwrap()
}

fn node_tokens() -> Value {
    serde_json::from_str(&read("tokens.json")).unwrap()
}

#[test]
fn node_jose_accepts_our_jws_and_jwe() {
    peers::ensure_installed();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ours.json");
    let rsa = SigningKey::from_pkcs8_pem(&read("sig-rsa.pkcs8.pem")).unwrap();
    let ec = SigningKey::from_pkcs8_pem(&read("sig-ec.pkcs8.pem")).unwrap();
    let enc = Jwk::from_json(read("enc-rsa.public.jwk.json").as_bytes()).unwrap();
    let claims = node_tokens()["claims"].to_string();
    let mut typ = Map::new();
    typ.insert("typ".to_owned(), json!("JWT"));
    let rs256 = sign_jws(
        typ.clone(),
        claims.as_bytes(),
        &rsa,
        "sig-rsa",
        JwsAlg::RS256,
    )
    .unwrap();
    let mut cty = Map::new();
    cty.insert("cty".to_owned(), json!("JWT"));
    let rng = SystemRandomSource;
    let ours = json!({
        "jws_rs256": rs256,
        "jws_ps256": sign_jws(typ.clone(), claims.as_bytes(), &rsa, "sig-rsa", JwsAlg::PS256).unwrap(),
        "jws_es256": sign_jws(typ, claims.as_bytes(), &ec, "sig-ec", JwsAlg::ES256).unwrap(),
        "jwe_rsa_oaep_a128cbc_hs256": encrypt_jwe(b"Live long and prosper.", &enc, JweAlg::RsaOaep, JweEnc::A128CbcHs256, Map::new(), &rng).unwrap(),
        "jwe_rsa_oaep_256_a256gcm": encrypt_jwe(b"Live long and prosper.", &enc, JweAlg::RsaOaep256, JweEnc::A256Gcm, Map::new(), &rng).unwrap(),
        "jwe_rsa_oaep_a128gcm": encrypt_jwe(b"Live long and prosper.", &enc, JweAlg::RsaOaep, JweEnc::A128Gcm, Map::new(), &rng).unwrap(),
        "jwe_nested_id_token": encrypt_jwe(rs256.as_bytes(), &enc, JweAlg::RsaOaep, JweEnc::A128CbcHs256, cty, &rng).unwrap(),
        "claims": node_tokens()["claims"],
    });
    std::fs::write(&out, ours.to_string()).unwrap();
    let run = Command::new("node")
        .arg(vectors().join("check-ours.mjs"))
        .arg(&out)
        .current_dir(peers::peers_dir())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "node jose refused our tokens:\n{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    // A changed token must make the check fail: the script really checks.
    let mut bad = ours.clone();
    let tok = bad["jws_rs256"].as_str().unwrap().to_owned();
    let (head, sig) = tok.rsplit_once('.').unwrap();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    bad["jws_rs256"] = json!(format!("{head}.{flipped}{}", &sig[1..]));
    std::fs::write(&out, bad.to_string()).unwrap();
    let run = Command::new("node")
        .arg(vectors().join("check-ours.mjs"))
        .arg(&out)
        .current_dir(peers::peers_dir())
        .output()
        .unwrap();
    assert!(
        !run.status.success(),
        "a tampered token passed the node check"
    );
}
