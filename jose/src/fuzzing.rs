//! The entry points shared by the JOSE fuzz targets (`fuzz/fuzz_targets/jose_*.rs`, outside the
//! workspace) and the corpus replay test (`tests/fuzz_corpus.rs`): arbitrary bytes in, one of the
//! crate's readers run on them with fixed keys, the outcome out.
//!
//! None of these functions may panic on any input: a panic is the bug the fuzzer reports.
//!
//! | function | runs | with |
//! |---|---|---|
//! | [`jws_compact`] | [`verify_jws`] | the set [`verification_keys`]: `rsa` (RS256/PS256), `ec` (ES256), `enc` (an encryption key, `use: enc`) |
//! | [`jwt_compact`] | [`verify_jwt`] (the FTN adapter's path: through `jsonwebtoken::decode`) | the same set |
//! | [`jwe_compact`] | [`decrypt_jwe_with_header`] | the one decryption key `enc`, every `alg` and `enc` this crate has |
//! | [`jwk_set`] | [`JwkSet::from_json`], then every key's thumbprint | at most [`MAX_KEYS`] keys |
//!
//! The input is the token as the gateway receives it (UTF-8 text; other bytes are refused as
//! malformed before the reader runs), capped at [`MAX_LEN`] as the FTN adapter caps an ID token.
//! The keys are committed test keys (`fuzz/seed-key/jose/`, PKCS#8 PEM), built in with
//! `include_str!` so the committed seeds, signed and encrypted with them, stay valid; nothing
//! trusts them.

use std::sync::OnceLock;

use certs::{DecryptionKey, SigningKey};
use serde_json::{json, Value};

use crate::error::JoseError;
use crate::jwe::{decrypt_jwe_with_header, DecryptedJwe, JweAlg, JweDecryptionKey, JweEnc};
use crate::jwk::{public_jwk_json, JwkSet, KeyPurpose};
use crate::jws::{verify_jws, verify_jwt, JwsAlg, VerifiedJws, VerifiedJwt};

/// Largest token read: what the FTN adapter allows an ID token (`MAX_JWT_BYTES`).
pub const MAX_LEN: usize = 32 * 1024;
/// Most keys read from a JWK set: what the FTN adapter allows a bank's set.
pub const MAX_KEYS: usize = 32;

/// The committed test keys (PKCS#8 PEM), shared with the seed generator in `tests/fuzz_corpus.rs`.
pub mod seed_keys {
    macro_rules! seed_key {
        ($file:literal) => {
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../fuzz/seed-key/jose/",
                $file
            ))
        };
    }
    /// RSA-2048, published as `rsa` for RS256 and PS256 (no `alg` member, as some banks do).
    pub const SIG_RSA: &str = seed_key!("sig-rsa.pem");
    /// P-256, published as `ec` for ES256.
    pub const SIG_EC: &str = seed_key!("sig-ec.pem");
    /// RSA-2048: the JWE decryption key `enc`, and in the verification set with `use: enc`.
    pub const ENC_RSA: &str = seed_key!("enc-rsa.pem");
}

/// Verify `data` as a compact JWS against [`verification_keys`], every algorithm allowed.
pub fn jws_compact(data: &[u8]) -> Result<VerifiedJws, JoseError> {
    let keys = keys()?;
    verify_jws(text(data)?, &keys.verification, &JwsAlg::ALL, MAX_LEN)
}

/// Verify `data` as a compact JWT against [`verification_keys`], every algorithm allowed.
pub fn jwt_compact(data: &[u8]) -> Result<VerifiedJwt, JoseError> {
    let keys = keys()?;
    verify_jwt(text(data)?, &keys.verification, &JwsAlg::ALL, MAX_LEN)
}

/// Decrypt `data` as a compact JWE with the key `enc`, every `alg` and `enc` allowed.
pub fn jwe_compact(data: &[u8]) -> Result<DecryptedJwe, JoseError> {
    let keys = keys()?;
    decrypt_jwe_with_header(
        text(data)?,
        &keys.decryption,
        &JweAlg::ALL,
        &JweEnc::ALL,
        MAX_LEN,
    )
}

/// Read `data` as a JWK set and compute each key's RFC 7638 thumbprint (the published keys are
/// written back out, so the writer sees what the reader let through).
pub fn jwk_set(data: &[u8]) -> Result<JwkSet, JoseError> {
    let set = JwkSet::from_json(data, MAX_KEYS)?;
    for key in set.keys() {
        key.thumbprint()?;
    }
    Ok(set)
}

/// The public JWK set [`jws_compact`] verifies with, as JSON (what a bank would publish).
pub fn verification_keys() -> Result<Value, JoseError> {
    let rsa = SigningKey::from_pkcs8_pem(seed_keys::SIG_RSA).map_err(JoseError::crypto)?;
    let ec = SigningKey::from_pkcs8_pem(seed_keys::SIG_EC).map_err(JoseError::crypto)?;
    let enc = SigningKey::from_pkcs8_pem(seed_keys::ENC_RSA).map_err(JoseError::crypto)?;
    let mut rsa = public_jwk_json(
        &rsa.verifying_key().map_err(JoseError::crypto)?,
        "rsa",
        KeyPurpose::Sign(JwsAlg::RS256),
    )?;
    // Without `alg` the key serves RS256 and PS256 alike.
    if let Some(members) = rsa.as_object_mut() {
        members.remove("alg");
    }
    let ec = public_jwk_json(
        &ec.verifying_key().map_err(JoseError::crypto)?,
        "ec",
        KeyPurpose::Sign(JwsAlg::ES256),
    )?;
    let enc = public_jwk_json(
        &enc.verifying_key().map_err(JoseError::crypto)?,
        "enc",
        KeyPurpose::Encrypt(JweAlg::RsaOaep),
    )?;
    Ok(json!({ "keys": [rsa, ec, enc] }))
}

/// The gateway reads tokens as text; bytes that are not UTF-8 never reach a reader.
fn text(data: &[u8]) -> Result<&str, JoseError> {
    std::str::from_utf8(data).map_err(|_| JoseError::Malformed("fuzz input is not UTF-8"))
}

struct Keys {
    verification: JwkSet,
    decryption: [JweDecryptionKey; 1],
}

/// The keys, built once. An unusable key file is a `Crypto` error on every input, so the replay
/// test's valid seeds fail rather than the fuzzer reporting nothing.
fn keys() -> Result<&'static Keys, JoseError> {
    static KEYS: OnceLock<Option<Keys>> = OnceLock::new();
    KEYS.get_or_init(|| build_keys().ok())
        .as_ref()
        .ok_or_else(|| JoseError::Crypto("fuzz: the committed seed keys are unusable".to_owned()))
}

fn build_keys() -> Result<Keys, JoseError> {
    let set = verification_keys()?;
    let verification = JwkSet::from_json(set.to_string().as_bytes(), MAX_KEYS)?;
    let decryption =
        DecryptionKey::from_pkcs8_pem(seed_keys::ENC_RSA).map_err(JoseError::crypto)?;
    Ok(Keys {
        verification,
        decryption: [JweDecryptionKey::new(Some("enc".to_owned()), decryption)],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_keys_load() {
        let keys = keys().unwrap();
        assert_eq!(keys.verification.keys().len(), 3);
        assert_eq!(keys.decryption[0].kid(), Some("enc"));
    }

    #[test]
    fn garbage_is_refused_by_every_reader() {
        for data in [&b""[..], b".", b"..", b"....", b"\xff", b"{}", b"null"] {
            assert!(jws_compact(data).is_err(), "{data:?}");
            assert!(jwt_compact(data).is_err(), "{data:?}");
            assert!(jwe_compact(data).is_err(), "{data:?}");
        }
        assert!(jwk_set(b"{}").is_err());
        assert!(jwk_set(br#"{"keys":[]}"#).unwrap().is_empty());
    }
}
