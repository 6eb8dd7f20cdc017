//! The JOSE fuzz seeds (see `fuzz/README.md`): valid tokens and sets made with the committed
//! keys (`fuzz/seed-key/jose/`), and hostile ones, each named with the `JoseError` code it must be
//! refused with. `all` makes them; `tests/fuzz_corpus.rs` writes or checks them.

mod jwe;
mod jwk_set;
mod jws;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use certs::{KeyKind, SeededRandomSource, SigningKey};
use jose::fuzzing::seed_keys;
use jose::{encrypt_jwe, public_jwk_json, JweAlg, JweEnc, Jwk, KeyPurpose};
use serde_json::{Map, Value};

pub const PAYLOAD: &[u8] =
    br#"{"iss":"https://bank.fuzz.example","sub":"s1","aud":"gateway","exp":4102444800}"#;

pub type Seed = (&'static str, String, Vec<u8>);

struct Keys {
    rsa: SigningKey,
    ec: SigningKey,
    enc: SigningKey,
    attacker_rsa: SigningKey,
    attacker_ec: SigningKey,
}

pub fn all() -> Vec<Seed> {
    let k = Keys {
        rsa: SigningKey::from_pkcs8_pem(seed_keys::SIG_RSA).unwrap(),
        ec: SigningKey::from_pkcs8_pem(seed_keys::SIG_EC).unwrap(),
        enc: SigningKey::from_pkcs8_pem(seed_keys::ENC_RSA).unwrap(),
        attacker_rsa: SigningKey::generate(KeyKind::Rsa2048).unwrap(),
        attacker_ec: SigningKey::generate(KeyKind::EcdsaP256).unwrap(),
    };
    let mut out = Vec::new();
    jws::seeds(&k, &mut out);
    jwe::seeds(&k, &mut out);
    jwk_set::seeds(&k, &mut out);
    out
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A JWS over exactly `header_json` (not re-serialized, so duplicates and oddities survive).
fn sign_raw(header_json: &[u8], payload: &[u8], key: &SigningKey, pss: bool) -> String {
    let input = format!("{}.{}", b64(header_json), b64(payload));
    let sig = if pss {
        key.sign_rsa_pss_sha256(input.as_bytes()).unwrap()
    } else {
        key.sign(input.as_bytes()).unwrap()
    };
    format!("{input}.{}", b64(&sig))
}

fn sign(header: &Value, payload: &[u8], key: &SigningKey) -> String {
    sign_raw(header.to_string().as_bytes(), payload, key, false)
}

/// `token` with part `index` replaced.
fn with_part(token: &str, index: usize, part: &str) -> String {
    let mut parts: Vec<&str> = token.split('.').collect();
    parts[index] = part;
    parts.join(".")
}

fn part(token: &str, index: usize) -> &str {
    token.split('.').nth(index).unwrap()
}

/// One byte flipped in base64url part `index` (decoded, changed, encoded again).
fn flip(token: &str, index: usize, at: usize) -> String {
    let mut bytes = URL_SAFE_NO_PAD.decode(part(token, index)).unwrap();
    bytes[at] ^= 0x01;
    with_part(token, index, &b64(&bytes))
}

fn nested_arrays(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

fn public_jwk(key: &SigningKey, kid: &str, purpose: KeyPurpose) -> Value {
    public_jwk_json(&key.verifying_key().unwrap(), kid, purpose).unwrap()
}

/// A compact JWE of `PAYLOAD` to `key` under `kid`, made by the crate's own writer.
fn jwe_to(key: &SigningKey, kid: Option<&str>, alg: JweAlg, enc: JweEnc) -> String {
    jwe_with(key, kid, alg, enc, Map::new(), PAYLOAD)
}

fn jwe_with(
    key: &SigningKey,
    kid: Option<&str>,
    alg: JweAlg,
    enc: JweEnc,
    header_extra: Map<String, Value>,
    plaintext: &[u8],
) -> String {
    let recipient = Jwk::new(key.verifying_key().unwrap(), kid.map(str::to_owned), None);
    encrypt_jwe(
        plaintext,
        &recipient,
        alg,
        enc,
        header_extra,
        &SeededRandomSource::new(9),
    )
    .unwrap()
}
