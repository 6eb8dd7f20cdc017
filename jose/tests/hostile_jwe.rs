//! Hostile JWE: header checks answer with their reason; everything after them (key unwrap, tag, padding)
//! answers with the one `DecryptionFailed`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use certs::{
    rsa_oaep_encrypt_to_spki, CbcHmacCipher, ContentCipher, DecryptionKey, KeyKind, KeyTransport,
    SigningKey, SystemRandomSource,
};
use common::{assert_refused, b64, dec_keys, enc_jwk, encrypt_to_enc_key, keys, MAX};
use jose::{
    decrypt_jwe, encrypt_jwe, JoseError, JweAlg, JweDecryptionKey, JweEnc, Jwk, JwsAlg, KeyPurpose,
};
use serde_json::{json, Map, Value};

/// A correctly encrypted JWE under any header, even one `encrypt_jwe` would refuse to write.
fn raw_jwe(header: &Value, transport: KeyTransport, enc: JweEnc, plaintext: &[u8]) -> String {
    let header_b64 = b64(header.to_string().as_bytes());
    let cek = vec![0x42u8; enc.key_len()];
    let spki = keys().enc.public_key_spki_der();
    let encrypted_key = rsa_oaep_encrypt_to_spki(&spki, transport, &cek).unwrap();
    let rng = SystemRandomSource;
    let (iv, ciphertext, tag) = match enc {
        JweEnc::A128CbcHs256 => {
            let sealed = CbcHmacCipher::Aes128CbcHmacSha256
                .seal(&cek, header_b64.as_bytes(), plaintext, &rng)
                .unwrap();
            (sealed.iv.to_vec(), sealed.ciphertext, sealed.tag)
        }
        JweEnc::A256Gcm | JweEnc::A128Gcm => {
            let cipher = if enc == JweEnc::A256Gcm {
                ContentCipher::Aes256Gcm
            } else {
                ContentCipher::Aes128Gcm
            };
            let (nonce, mut sealed) = cipher
                .seal(&cek, header_b64.as_bytes(), plaintext, &rng)
                .unwrap();
            let tag = sealed.split_off(sealed.len() - 16);
            (nonce.to_vec(), sealed, tag)
        }
    };
    [
        header_b64,
        b64(&encrypted_key),
        b64(&iv),
        b64(&ciphertext),
        b64(&tag),
    ]
    .join(".")
}

fn decrypt(token: &str) -> Result<Vec<u8>, JoseError> {
    decrypt_jwe(token, &dec_keys(), &JweAlg::ALL, &JweEnc::ALL, MAX)
}

#[test]
fn raw_jwe_helper_makes_valid_tokens() {
    for enc in JweEnc::ALL {
        let token = raw_jwe(
            &json!({"alg": "RSA-OAEP-256", "enc": enc.name(), "kid": "enc"}),
            KeyTransport::RsaOaepSha256,
            enc,
            b"x",
        );
        assert_eq!(decrypt(&token).unwrap(), b"x", "{enc}");
    }
}

#[test]
fn jwe_zip_crit_and_unknown_algorithms_are_refused_by_the_header() {
    let t = KeyTransport::RsaOaepSha1;
    let e = JweEnc::A128CbcHs256;
    for (header, code) in [
        (
            json!({"alg": "RSA-OAEP", "enc": "A128CBC-HS256", "kid": "enc", "zip": "DEF"}),
            "jose.unsupported_header",
        ),
        (
            json!({"alg": "RSA-OAEP", "enc": "A128CBC-HS256", "kid": "enc", "crit": ["exp"]}),
            "jose.critical_header",
        ),
        (
            json!({"alg": "RSA1_5", "enc": "A128CBC-HS256", "kid": "enc"}),
            "jose.algorithm_not_allowed",
        ),
        (
            json!({"alg": "dir", "enc": "A128CBC-HS256", "kid": "enc"}),
            "jose.algorithm_not_allowed",
        ),
        (
            json!({"alg": "A128KW", "enc": "A128CBC-HS256", "kid": "enc"}),
            "jose.algorithm_not_allowed",
        ),
        (
            json!({"alg": "ECDH-ES", "enc": "A128CBC-HS256", "kid": "enc"}),
            "jose.algorithm_not_allowed",
        ),
        (
            json!({"alg": "RSA-OAEP", "enc": "A256CBC-HS512", "kid": "enc"}),
            "jose.algorithm_not_allowed",
        ),
        (
            json!({"alg": "RSA-OAEP", "enc": "none", "kid": "enc"}),
            "jose.algorithm_not_allowed",
        ),
        (json!({"alg": "RSA-OAEP", "kid": "enc"}), "jose.malformed"),
        (
            json!({"enc": "A128CBC-HS256", "kid": "enc"}),
            "jose.malformed",
        ),
        (
            json!({"alg": "RSA-OAEP", "enc": "A128CBC-HS256", "kid": ["enc"]}),
            "jose.malformed",
        ),
        (
            json!({"alg": "RSA-OAEP", "enc": "A128CBC-HS256", "kid": "old"}),
            "jose.unknown_kid",
        ),
    ] {
        assert_refused(
            decrypt(&raw_jwe(&header, t, e, b"x")),
            code,
            &header.to_string(),
        );
    }
}

#[test]
fn jwe_allowlists_bind() {
    let dec = dec_keys();
    let cbc = encrypt_to_enc_key(JweAlg::RsaOaep, JweEnc::A128CbcHs256);
    let gcm = encrypt_to_enc_key(JweAlg::RsaOaep256, JweEnc::A256Gcm);
    for (token, algs, encs) in [
        (&cbc, &[JweAlg::RsaOaep256][..], &JweEnc::ALL[..]),
        (
            &cbc,
            &JweAlg::ALL[..],
            &[JweEnc::A256Gcm, JweEnc::A128Gcm][..],
        ),
        (&gcm, &[JweAlg::RsaOaep][..], &JweEnc::ALL[..]),
        (&gcm, &JweAlg::ALL[..], &[JweEnc::A128CbcHs256][..]),
        (&gcm, &[][..], &[][..]),
    ] {
        assert_refused(
            decrypt_jwe(token, &dec, algs, encs, MAX),
            "jose.algorithm_not_allowed",
            token,
        );
    }
    assert_eq!(
        decrypt_jwe(&cbc, &dec, &[JweAlg::RsaOaep], &[JweEnc::A128CbcHs256], MAX).unwrap(),
        b"an ID token"
    );
}

#[test]
fn jwe_key_choice_by_kid() {
    let token = encrypt_to_enc_key(JweAlg::RsaOaep, JweEnc::A128CbcHs256);
    let no_kid = raw_jwe(
        &json!({"alg": "RSA-OAEP", "enc": "A128CBC-HS256"}),
        KeyTransport::RsaOaepSha1,
        JweEnc::A128CbcHs256,
        b"x",
    );
    // One key: a token without kid may use it.
    assert_eq!(decrypt(&no_kid).unwrap(), b"x");
    let other = SigningKey::generate(KeyKind::Rsa2048).unwrap();
    let mut two = dec_keys();
    two.push(JweDecryptionKey::new(
        Some("next".to_owned()),
        DecryptionKey::from_pkcs8_der(&other.to_pkcs8_der().unwrap()).unwrap(),
    ));
    assert_eq!(
        decrypt_jwe(&token, &two, &JweAlg::ALL, &JweEnc::ALL, MAX).unwrap(),
        b"an ID token"
    );
    assert_refused(
        decrypt_jwe(&no_kid, &two, &JweAlg::ALL, &JweEnc::ALL, MAX),
        "jose.unknown_kid",
        "two keys, no kid",
    );
    assert_refused(
        decrypt_jwe(&token, &[], &JweAlg::ALL, &JweEnc::ALL, MAX),
        "jose.unknown_kid",
        "no keys",
    );
    // The right kid on the wrong private key: the unwrap fails, then the tag; one generic answer.
    let wrong = [JweDecryptionKey::new(
        Some("enc".to_owned()),
        DecryptionKey::from_pkcs8_der(&other.to_pkcs8_der().unwrap()).unwrap(),
    )];
    assert_refused(
        decrypt_jwe(&token, &wrong, &JweAlg::ALL, &JweEnc::ALL, MAX),
        "jose.decryption_failed",
        "wrong private key",
    );
}

#[test]
fn jwe_tampering_gives_one_indistinguishable_answer() {
    let mut messages = Vec::new();
    for (alg, enc) in [
        (JweAlg::RsaOaep, JweEnc::A128CbcHs256),
        (JweAlg::RsaOaep256, JweEnc::A256Gcm),
        (JweAlg::RsaOaep, JweEnc::A128Gcm),
    ] {
        let token = encrypt_to_enc_key(alg, enc);
        assert_eq!(decrypt(&token).unwrap(), b"an ID token");
        let parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let bytes = |i: usize| URL_SAFE_NO_PAD.decode(&parts[i]).unwrap();
        let with = |i: usize, new: Vec<u8>| {
            let mut p = parts.clone();
            p[i] = b64(&new);
            p.join(".")
        };
        let flipped = |i: usize, at: usize| {
            let mut b = bytes(i);
            b[at] ^= 0x01;
            with(i, b)
        };
        let tag = bytes(4);
        let ct = bytes(3);
        let mut cases = vec![
            ("encrypted key", flipped(1, 7)),
            ("encrypted key truncated", with(1, bytes(1)[..255].to_vec())),
            ("encrypted key empty", with(1, Vec::new())),
            ("iv", flipped(2, 0)),
            ("iv short", with(2, bytes(2)[..bytes(2).len() - 1].to_vec())),
            ("ciphertext first byte", flipped(3, 0)),
            ("ciphertext last byte", flipped(3, ct.len() - 1)),
            ("ciphertext empty", with(3, Vec::new())),
            (
                "ciphertext extended",
                with(3, [ct.clone(), vec![0; 16]].concat()),
            ),
            ("tag", flipped(4, 0)),
            ("tag truncated to 15", with(4, tag[..15].to_vec())),
            ("tag truncated to 8", with(4, tag[..8].to_vec())),
            ("tag empty", with(4, Vec::new())),
            ("tag extended", with(4, [tag.clone(), vec![0]].concat())),
        ];
        // The protected header is the AAD: another encoding of an equally valid header must fail.
        let header = json!({"alg": alg.name(), "enc": enc.name(), "kid": "enc", "typ": "JWT"});
        let mut p = parts.clone();
        p[0] = b64(header.to_string().as_bytes());
        cases.push(("header (AAD)", p.join(".")));
        for (what, token) in cases {
            let err = decrypt(&token).unwrap_err();
            assert!(
                matches!(err, JoseError::DecryptionFailed),
                "{alg}/{enc} {what}: {err:?}"
            );
            messages.push(err.to_string());
        }
    }
    messages.dedup();
    assert_eq!(messages, ["decryption failed"]);
}

#[test]
fn a_key_unwrap_that_yields_the_wrong_length_fails_like_a_bad_tag() {
    // A 16-byte CEK under an A128CBC-HS256 (32-byte) header: the unwrap "succeeds", the length check fails.
    let header = json!({"alg": "RSA-OAEP", "enc": "A128CBC-HS256", "kid": "enc"});
    let header_b64 = b64(header.to_string().as_bytes());
    let short_cek = [7u8; 16];
    let ek = rsa_oaep_encrypt_to_spki(
        &keys().enc.public_key_spki_der(),
        KeyTransport::RsaOaepSha1,
        &short_cek,
    )
    .unwrap();
    let token = [
        header_b64,
        b64(&ek),
        b64(&[0; 16]),
        b64(&[0; 16]),
        b64(&[0; 16]),
    ]
    .join(".");
    assert_refused(decrypt(&token), "jose.decryption_failed", "short CEK");
}

#[test]
fn encrypt_refuses_keys_not_meant_for_it() {
    let rng = SystemRandomSource;
    let sig_only = Jwk::new(
        keys().enc.verifying_key().unwrap(),
        Some("s".to_owned()),
        Some(KeyPurpose::Sign(JwsAlg::RS256)),
    );
    let oaep_only = Jwk::new(
        keys().enc.verifying_key().unwrap(),
        Some("o".to_owned()),
        Some(KeyPurpose::Encrypt(JweAlg::RsaOaep)),
    );
    let ec = Jwk::new(keys().ec.verifying_key().unwrap(), None, None);
    for (jwk, alg) in [
        (&sig_only, JweAlg::RsaOaep),
        (&oaep_only, JweAlg::RsaOaep256),
        (&ec, JweAlg::RsaOaep),
    ] {
        assert_refused(
            encrypt_jwe(b"x", jwk, alg, JweEnc::A128CbcHs256, Map::new(), &rng),
            "jose.no_suitable_key",
            &format!("{:?}", jwk.kid()),
        );
    }
    for name in ["alg", "enc", "kid", "zip", "crit"] {
        let mut extra = Map::new();
        extra.insert(name.to_owned(), json!("x"));
        assert_refused(
            encrypt_jwe(
                b"x",
                &enc_jwk("enc"),
                JweAlg::RsaOaep,
                JweEnc::A256Gcm,
                extra,
                &rng,
            ),
            "jose.malformed",
            name,
        );
    }
}
