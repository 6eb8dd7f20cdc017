//! Our own round trips, and interop with an independent implementation: tokens made by node `jose`
//! (vectors/node, see gen.mjs there) must verify and decrypt here. The other direction is checked by
//! `emit_tokens_for_node` plus vectors/node/check-ours.mjs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use certs::{DecryptionKey, KeyKind, SigningKey, SystemRandomSource};
use jose::{
    decrypt_jwe, decrypt_jwe_with_header, encrypt_jwe, is_jwe, jwk_thumbprint, parse_claims,
    public_jwk_json, sign_jws, verify_jws, JoseError, JweAlg, JweDecryptionKey, JweEnc, Jwk,
    JwkSet, JwsAlg, KeyPurpose,
};
use serde_json::{json, Map, Value};
use time::macros::datetime;
use time::Duration;

const MAX: usize = 64 * 1024;

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/node")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(vectors().join(name)).unwrap()
}

fn node_tokens() -> Value {
    serde_json::from_str(&read("tokens.json")).unwrap()
}

fn node_enc_key() -> Vec<JweDecryptionKey> {
    vec![JweDecryptionKey::new(
        Some("enc-rsa".to_owned()),
        DecryptionKey::from_pkcs8_pem(&read("enc-rsa.pkcs8.pem")).unwrap(),
    )]
}

struct Rp {
    rsa: SigningKey,
    ec: SigningKey,
    enc: SigningKey,
    jwks: JwkSet,
}

/// The relying party's keys and their published JWK set, as the gateway would publish it.
fn rp() -> &'static Rp {
    static RP: OnceLock<Rp> = OnceLock::new();
    RP.get_or_init(|| {
        let rsa = SigningKey::generate(KeyKind::Rsa2048).unwrap();
        let ec = SigningKey::generate(KeyKind::EcdsaP256).unwrap();
        let enc = SigningKey::generate(KeyKind::Rsa2048).unwrap();
        let published = json!({"keys": [
            public_jwk_json(&rsa.verifying_key().unwrap(), "rs", KeyPurpose::Sign(JwsAlg::RS256)).unwrap(),
            public_jwk_json(&rsa.verifying_key().unwrap(), "ps", KeyPurpose::Sign(JwsAlg::PS256)).unwrap(),
            public_jwk_json(&ec.verifying_key().unwrap(), "es", KeyPurpose::Sign(JwsAlg::ES256)).unwrap(),
            public_jwk_json(&enc.verifying_key().unwrap(), "enc", KeyPurpose::Encrypt(JweAlg::RsaOaep)).unwrap(),
        ]});
        let jwks = JwkSet::from_json(published.to_string().as_bytes(), 10).unwrap();
        Rp { rsa, ec, enc, jwks }
    })
}

#[test]
fn sign_and_verify_every_algorithm() {
    let rp = rp();
    let mut extra = Map::new();
    extra.insert("typ".to_owned(), json!("JWT"));
    for (alg, kid, key) in [
        (JwsAlg::RS256, "rs", &rp.rsa),
        (JwsAlg::PS256, "ps", &rp.rsa),
        (JwsAlg::ES256, "es", &rp.ec),
    ] {
        let token = sign_jws(extra.clone(), b"{\"sub\":\"x\"}", key, kid, alg).unwrap();
        assert!(!is_jwe(&token));
        let verified = verify_jws(&token, &rp.jwks, &[alg], MAX).unwrap();
        assert_eq!(verified.payload, b"{\"sub\":\"x\"}");
        assert_eq!(verified.header.alg, alg);
        assert_eq!(verified.header.kid.as_deref(), Some(kid));
        assert_eq!(verified.header.typ.as_deref(), Some("JWT"));
        // The published JWK's alg pins the algorithm: the RS256 key does not verify PS256 and so on.
        for other in JwsAlg::ALL.into_iter().filter(|a| *a != alg) {
            let (_, rest) = token.split_once('.').unwrap();
            let relabelled = format!("{}.{rest}", jose_header_b64(other, kid));
            assert!(
                matches!(
                    verify_jws(&relabelled, &rp.jwks, &JwsAlg::ALL, MAX),
                    Err(JoseError::NoSuitableKey)
                ),
                "{alg} relabelled {other}"
            );
        }
    }
}

fn jose_header_b64(alg: JwsAlg, kid: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(json!({"alg": alg.name(), "kid": kid, "typ": "JWT"}).to_string())
}

#[test]
fn sign_refuses_mismatched_keys_and_reserved_header_members() {
    let rp = rp();
    for (alg, key) in [
        (JwsAlg::RS256, &rp.ec),
        (JwsAlg::PS256, &rp.ec),
        (JwsAlg::ES256, &rp.rsa),
    ] {
        assert!(matches!(
            sign_jws(Map::new(), b"x", key, "k", alg),
            Err(JoseError::NoSuitableKey)
        ));
    }
    for name in ["alg", "kid", "crit", "b64", "jwk"] {
        let mut extra = Map::new();
        extra.insert(name.to_owned(), json!("none"));
        assert!(matches!(
            sign_jws(extra, b"x", &rp.rsa, "rs", JwsAlg::RS256),
            Err(JoseError::Malformed(_))
        ));
    }
    assert!(matches!(
        sign_jws(Map::new(), b"x", &rp.rsa, "", JwsAlg::RS256),
        Err(JoseError::Malformed(_))
    ));
}

#[test]
fn encrypt_and_decrypt_every_combination() {
    let rp = rp();
    let keys = [JweDecryptionKey::new(
        Some("enc".to_owned()),
        DecryptionKey::from_pkcs8_der(&rp.enc.to_pkcs8_der().unwrap()).unwrap(),
    )];
    let recipient = Jwk::new(
        rp.enc.verifying_key().unwrap(),
        Some("enc".to_owned()),
        None,
    );
    for alg in JweAlg::ALL {
        for enc in JweEnc::ALL {
            for plaintext in [&b""[..], b"x", &[0xa5; 1000]] {
                let token = encrypt_jwe(
                    plaintext,
                    &recipient,
                    alg,
                    enc,
                    Map::new(),
                    &SystemRandomSource,
                )
                .unwrap();
                assert!(is_jwe(&token));
                let d = decrypt_jwe_with_header(&token, &keys, &[alg], &[enc], MAX).unwrap();
                assert_eq!(d.plaintext, plaintext, "{alg}/{enc}");
                assert_eq!((d.header.alg, d.header.enc), (alg, enc));
                assert_eq!(d.header.kid.as_deref(), Some("enc"));
            }
        }
    }
    // The published "enc" JWK says RSA-OAEP: it is found for that and refused for RSA-OAEP-256.
    let published = rp
        .jwks
        .find_encryption_key(Some("enc"), JweAlg::RsaOaep)
        .unwrap();
    encrypt_jwe(
        b"x",
        published,
        JweAlg::RsaOaep,
        JweEnc::A128CbcHs256,
        Map::new(),
        &SystemRandomSource,
    )
    .unwrap();
    assert!(rp
        .jwks
        .find_encryption_key(Some("enc"), JweAlg::RsaOaep256)
        .is_err());
}

#[test]
fn nested_id_token_signed_then_encrypted() {
    // What an FTN bank sends, end to end: JWS(RS256) inside JWE(RSA-OAEP, A128CBC-HS256), cty JWT.
    let rp = rp();
    let bank = SigningKey::generate(KeyKind::Rsa2048).unwrap();
    let bank_jwks = JwkSet::from_json(
        json!({"keys": [public_jwk_json(&bank.verifying_key().unwrap(), "bank-1", KeyPurpose::Sign(JwsAlg::RS256)).unwrap()]})
            .to_string()
            .as_bytes(),
        10,
    )
    .unwrap();
    let now = datetime!(2030-06-01 10:00 UTC);
    let claims = json!({
        "iss": "https://bank.example", "sub": "s1", "aud": "rp", "nonce": "n",
        "iat": now.unix_timestamp(), "exp": now.unix_timestamp() + 300,
    });
    let inner = sign_jws(
        Map::new(),
        claims.to_string().as_bytes(),
        &bank,
        "bank-1",
        JwsAlg::RS256,
    )
    .unwrap();
    let mut cty = Map::new();
    cty.insert("cty".to_owned(), json!("JWT"));
    let recipient = rp.jwks.find_encryption_key(None, JweAlg::RsaOaep).unwrap();
    let outer = encrypt_jwe(
        inner.as_bytes(),
        recipient,
        JweAlg::RsaOaep,
        JweEnc::A128CbcHs256,
        cty,
        &SystemRandomSource,
    )
    .unwrap();

    let keys = [JweDecryptionKey::new(
        Some("enc".to_owned()),
        DecryptionKey::from_pkcs8_der(&rp.enc.to_pkcs8_der().unwrap()).unwrap(),
    )];
    let d = decrypt_jwe_with_header(
        &outer,
        &keys,
        &[JweAlg::RsaOaep],
        &[JweEnc::A128CbcHs256],
        MAX,
    )
    .unwrap();
    assert_eq!(d.header.cty.as_deref(), Some("JWT"));
    let inner = std::str::from_utf8(&d.plaintext).unwrap();
    let verified = verify_jws(inner, &bank_jwks, &[JwsAlg::RS256], MAX).unwrap();
    let claims = parse_claims(&verified.payload).unwrap();
    assert!(claims.aud_contains("rp"));
    claims.check_time(now, Duration::seconds(30)).unwrap();
    assert!(matches!(
        claims.check_time(now + Duration::minutes(10), Duration::seconds(30)),
        Err(JoseError::Expired { .. })
    ));
}

#[test]
fn thumbprints_are_stable_and_distinct() {
    let rp = rp();
    let a = jwk_thumbprint(&rp.rsa.verifying_key().unwrap()).unwrap();
    assert_eq!(a, jwk_thumbprint(&rp.rsa.verifying_key().unwrap()).unwrap());
    assert_eq!(a.len(), 43);
    assert_ne!(a, jwk_thumbprint(&rp.ec.verifying_key().unwrap()).unwrap());
    assert_ne!(a, jwk_thumbprint(&rp.enc.verifying_key().unwrap()).unwrap());
}

// ---- node jose interop ----

#[test]
fn node_jws_tokens_verify() {
    let jwks = JwkSet::from_json(read("jwks.json").as_bytes(), 10).unwrap();
    let tokens = node_tokens();
    for (name, alg) in [
        ("jws_rs256", JwsAlg::RS256),
        ("jws_ps256", JwsAlg::PS256),
        ("jws_es256", JwsAlg::ES256),
    ] {
        let token = tokens[name].as_str().unwrap();
        let verified = verify_jws(token, &jwks, &[alg], MAX).unwrap();
        assert_eq!(verified.header.alg, alg, "{name}");
        assert_eq!(verified.header.typ.as_deref(), Some("JWT"));
        let claims = parse_claims(&verified.payload).unwrap();
        assert_eq!(Value::Object(claims.into_map()), tokens["claims"], "{name}");
        // Each is refused when its algorithm is not the one allowed.
        let others: Vec<JwsAlg> = JwsAlg::ALL.into_iter().filter(|a| *a != alg).collect();
        assert!(matches!(
            verify_jws(token, &jwks, &others, MAX),
            Err(JoseError::AlgorithmNotAllowed(_))
        ));
    }
}

#[test]
fn node_jwe_tokens_decrypt() {
    let keys = node_enc_key();
    let tokens = node_tokens();
    for (name, alg, enc) in [
        (
            "jwe_rsa_oaep_a128cbc_hs256",
            JweAlg::RsaOaep,
            JweEnc::A128CbcHs256,
        ),
        (
            "jwe_rsa_oaep_256_a256gcm",
            JweAlg::RsaOaep256,
            JweEnc::A256Gcm,
        ),
        ("jwe_rsa_oaep_a128gcm", JweAlg::RsaOaep, JweEnc::A128Gcm),
    ] {
        let token = tokens[name].as_str().unwrap();
        assert!(is_jwe(token));
        let plain = decrypt_jwe(token, &keys, &[alg], &[enc], MAX).unwrap();
        assert_eq!(plain, b"Live long and prosper.", "{name}");
    }
}

#[test]
fn node_nested_id_token_decrypts_and_verifies() {
    let tokens = node_tokens();
    let d = decrypt_jwe_with_header(
        tokens["jwe_nested_id_token"].as_str().unwrap(),
        &node_enc_key(),
        &[JweAlg::RsaOaep],
        &[JweEnc::A128CbcHs256],
        MAX,
    )
    .unwrap();
    assert_eq!(d.header.cty.as_deref(), Some("JWT"));
    assert_eq!(d.header.kid.as_deref(), Some("enc-rsa"));
    let inner = std::str::from_utf8(&d.plaintext).unwrap();
    assert_eq!(inner, tokens["jws_rs256"].as_str().unwrap());
    let jwks = JwkSet::from_json(read("jwks.json").as_bytes(), 10).unwrap();
    let verified = verify_jws(inner, &jwks, &[JwsAlg::RS256], MAX).unwrap();
    let claims = parse_claims(&verified.payload).unwrap();
    assert_eq!(
        claims.get_str("personal_identity_code"),
        Some("010170-999R")
    );
    assert_eq!(claims.get_str("name"), Some("von Möttonen Matti Matias"));
    claims
        .check_time(datetime!(2030-01-01 00:00 UTC), Duration::seconds(60))
        .unwrap();
}

#[test]
fn node_keys_agree_with_their_published_jwks() {
    let jwks = JwkSet::from_json(read("jwks.json").as_bytes(), 10).unwrap();
    for (pem, kid) in [
        ("sig-rsa.pkcs8.pem", "sig-rsa"),
        ("sig-ec.pkcs8.pem", "sig-ec"),
    ] {
        let key = SigningKey::from_pkcs8_pem(&read(pem)).unwrap();
        let jwk = jwks.keys().iter().find(|k| k.kid() == Some(kid)).unwrap();
        assert!(jwk.key().same_key_as(&key.public_key_spki_der()), "{kid}");
    }
    let enc = Jwk::from_json(read("enc-rsa.public.jwk.json").as_bytes()).unwrap();
    assert_eq!(enc.use_(), Some("enc"));
    let private = SigningKey::from_pkcs8_pem(&read("enc-rsa.pkcs8.pem")).unwrap();
    assert!(enc.key().same_key_as(&private.public_key_spki_der()));
}
