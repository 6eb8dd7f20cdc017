//! Keys and token builders shared by the hostile-input tests.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use certs::{DecryptionKey, KeyKind, SigningKey, SystemRandomSource};
use jose::{
    encrypt_jwe, public_jwk_json, JoseError, JweAlg, JweDecryptionKey, JweEnc, Jwk, JwkSet, JwsAlg,
    KeyPurpose,
};
use serde_json::{json, Map, Value};

pub const MAX: usize = 64 * 1024;
pub const PAYLOAD: &[u8] = br#"{"iss":"https://bank.example","sub":"s1","exp":4102444800}"#;

pub struct Keys {
    pub rsa: SigningKey,
    pub ec: SigningKey,
    pub attacker_rsa: SigningKey,
    pub attacker_ec: SigningKey,
    /// The bank's published set: "rsa" (RS256/PS256, no alg member) and "ec" (ES256).
    pub set: JwkSet,
    pub enc: SigningKey,
}

/// Generated once per test binary.
pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let rsa = SigningKey::generate(KeyKind::Rsa2048).unwrap();
        let ec = SigningKey::generate(KeyKind::EcdsaP256).unwrap();
        let mut rsa_jwk = public_jwk_json(
            &rsa.verifying_key().unwrap(),
            "rsa",
            KeyPurpose::Sign(JwsAlg::RS256),
        )
        .unwrap();
        rsa_jwk.as_object_mut().unwrap().remove("alg");
        let ec_jwk = public_jwk_json(
            &ec.verifying_key().unwrap(),
            "ec",
            KeyPurpose::Sign(JwsAlg::ES256),
        )
        .unwrap();
        let set = JwkSet::from_json(
            json!({"keys": [rsa_jwk, ec_jwk]}).to_string().as_bytes(),
            10,
        )
        .unwrap();
        Keys {
            rsa,
            ec,
            attacker_rsa: SigningKey::generate(KeyKind::Rsa2048).unwrap(),
            attacker_ec: SigningKey::generate(KeyKind::EcdsaP256).unwrap(),
            set,
            enc: SigningKey::generate(KeyKind::Rsa2048).unwrap(),
        }
    })
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A JWS with exactly this header JSON, signed by `key` (PKCS#1 v1.5 for RSA, r||s for P-256).
pub fn forge(header: &Value, payload: &[u8], key: &SigningKey) -> String {
    let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(payload));
    let sig = key.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", b64(&sig))
}

pub fn assert_refused(result: Result<impl std::fmt::Debug, JoseError>, expected: &str, why: &str) {
    match result {
        Err(e) => assert_eq!(e.code(), expected, "{why}: {e:?}"),
        Ok(v) => panic!("{why}: accepted {v:?}"),
    }
}

pub fn enc_jwk(kid: &str) -> Jwk {
    Jwk::new(
        keys().enc.verifying_key().unwrap(),
        Some(kid.to_owned()),
        None,
    )
}

pub fn dec_keys() -> Vec<JweDecryptionKey> {
    vec![JweDecryptionKey::new(
        Some("enc".to_owned()),
        DecryptionKey::from_pkcs8_der(&keys().enc.to_pkcs8_der().unwrap()).unwrap(),
    )]
}

pub fn encrypt_to_enc_key(alg: JweAlg, enc: JweEnc) -> String {
    encrypt_jwe(
        b"an ID token",
        &enc_jwk("enc"),
        alg,
        enc,
        Map::new(),
        &SystemRandomSource,
    )
    .unwrap()
}
