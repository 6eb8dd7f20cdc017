//! JSON Web Keys (RFC 7517): reading a bank's public JWK set, choosing a key, and publishing our own.
//!
//! Only public RSA (2048 bits or more) and EC P-256 keys become `Jwk`s. A set that carries a symmetric
//! (`oct`) key, private key members or a weak RSA key is refused whole: that is a misconfigured or hostile
//! publisher, not a key to skip. Key types and curves we do not use (OKP, P-384, ...) are skipped, as
//! RFC 7517 §5 recommends, so a bank adding an Ed25519 key does not break its set for us.

use aws_lc_rs::encoding::{AsDer as _, PublicKeyX509Der};
use aws_lc_rs::rsa::PublicKeyComponents;
use certs::{CertError, DigestAlgorithm, PublicKeyKind, VerifyingKey};
use jsonwebtoken::DecodingKey;
use serde_json::{json, Map, Value};

use crate::encoding::{b64_decode, b64_encode, optional_str, parse_object};
use crate::error::JoseError;
use crate::jwe::JweAlg;
use crate::jws::JwsAlg;

/// Members that only a private or symmetric JWK has (RFC 7518 §6.3.2, §6.2.2, §6.4).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// DER prefix of a SubjectPublicKeyInfo for an uncompressed P-256 point: SEQUENCE { SEQUENCE { id-ecPublicKey,
/// prime256v1 }, BIT STRING (0 unused bits) }, followed by `04 || x || y`.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
const P256_COORD_LEN: usize = 32;

/// What a published key is for; sets the JWK's `use` and `alg`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyPurpose {
    Sign(JwsAlg),
    Encrypt(JweAlg),
}

impl KeyPurpose {
    fn use_name(self) -> &'static str {
        match self {
            KeyPurpose::Sign(_) => "sig",
            KeyPurpose::Encrypt(_) => "enc",
        }
    }

    fn alg_name(self) -> &'static str {
        match self {
            KeyPurpose::Sign(alg) => alg.name(),
            KeyPurpose::Encrypt(alg) => alg.name(),
        }
    }
}

/// One public key with the JWK parameters that matter for choosing it.
#[derive(Clone, Debug)]
pub struct Jwk {
    kid: Option<String>,
    alg: Option<String>,
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
    key: VerifyingKey,
}

impl Jwk {
    /// A key known by other means (configuration, a certificate), described as a JWK would describe it.
    pub fn new(key: VerifyingKey, kid: Option<String>, purpose: Option<KeyPurpose>) -> Self {
        Jwk {
            kid,
            alg: purpose.map(|p| p.alg_name().to_owned()),
            use_: purpose.map(|p| p.use_name().to_owned()),
            key_ops: None,
            key,
        }
    }

    /// Reads one public JWK. Unlike `JwkSet::from_json`, a key type or curve we do not use is an error here.
    pub fn from_json(bytes: &[u8]) -> Result<Self, JoseError> {
        parse_jwk(&parse_object(bytes)?)?
            .ok_or_else(|| JoseError::KeyRefused("unsupported key type or curve".to_owned()))
    }

    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    pub fn alg(&self) -> Option<&str> {
        self.alg.as_deref()
    }

    pub fn use_(&self) -> Option<&str> {
        self.use_.as_deref()
    }

    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }

    /// The RFC 7638 SHA-256 thumbprint, base64url: the `kid` convention of OP and Telia.
    pub fn thumbprint(&self) -> Result<String, JoseError> {
        jwk_thumbprint(&self.key)
    }

    /// Whether this key may verify a JWS with `alg`: right key type and curve, and `use`, `alg` and
    /// `key_ops`, when present, agree.
    pub fn fits_jws(&self, alg: JwsAlg) -> bool {
        let type_fits = match alg {
            JwsAlg::RS256 | JwsAlg::PS256 => matches!(self.key.kind(), PublicKeyKind::Rsa { .. }),
            JwsAlg::ES256 => self.key.kind() == PublicKeyKind::EcP256,
        };
        type_fits && self.params_fit("sig", alg.name(), &["verify"])
    }

    /// Whether this key may receive a JWE content key wrapped with `alg`.
    pub fn fits_jwe(&self, alg: JweAlg) -> bool {
        matches!(self.key.kind(), PublicKeyKind::Rsa { .. })
            && self.params_fit("enc", alg.name(), &["encrypt", "wrapKey"])
    }

    /// The key as jsonwebtoken verifies with it. Crate-private: a token reaches jsonwebtoken only
    /// through `verify_jws` / `verify_jwt`, behind their checks.
    pub(crate) fn decoding_key(&self) -> Result<DecodingKey, JoseError> {
        match self.key.kind() {
            PublicKeyKind::Rsa { .. } => {
                let (n, e) = rsa_components(&self.key)?;
                Ok(DecodingKey::from_rsa_raw_components(
                    strip_leading_zeros(&n),
                    strip_leading_zeros(&e),
                ))
            }
            PublicKeyKind::EcP256 => {
                let mut point = Vec::with_capacity(1 + 2 * P256_COORD_LEN);
                point.push(0x04);
                point.extend_from_slice(p256_point(&self.key)?);
                Ok(DecodingKey::from_ec_der(&point))
            }
            _ => Err(JoseError::NoSuitableKey),
        }
    }

    fn params_fit(&self, use_: &str, alg: &str, ops: &[&str]) -> bool {
        self.use_.as_deref().is_none_or(|u| u == use_)
            && self.alg.as_deref().is_none_or(|a| a == alg)
            && self
                .key_ops
                .as_ref()
                .is_none_or(|list| list.iter().any(|op| ops.contains(&op.as_str())))
    }
}

/// A public JWK set, as published at a bank's `jwks_uri` or configured statically.
#[derive(Clone, Debug, Default)]
pub struct JwkSet {
    keys: Vec<Jwk>,
}

impl JwkSet {
    /// Reads `{"keys": [...]}`. Other top-level members are ignored (a signed JWKS payload also carries
    /// `iss`, `iat`, ...). More than `max_keys` entries is `TooLarge`; the caller caps the byte size.
    pub fn from_json(bytes: &[u8], max_keys: usize) -> Result<Self, JoseError> {
        let object = parse_object(bytes)?;
        Self::from_object(&object, max_keys)
    }

    /// As `from_json`, over an already parsed object (the verified payload of a signed JWKS, say).
    pub fn from_object(object: &Map<String, Value>, max_keys: usize) -> Result<Self, JoseError> {
        let Some(Value::Array(entries)) = object.get("keys") else {
            return Err(JoseError::Malformed("a JWK set needs a \"keys\" array"));
        };
        if entries.len() > max_keys {
            return Err(JoseError::TooLarge);
        }
        let mut keys = Vec::with_capacity(entries.len());
        for entry in entries {
            let Value::Object(jwk) = entry else {
                return Err(JoseError::Malformed("a JWK must be a JSON object"));
            };
            if let Some(key) = parse_jwk(jwk)? {
                keys.push(key);
            }
        }
        Ok(JwkSet { keys })
    }

    pub fn from_keys(keys: Vec<Jwk>) -> Self {
        JwkSet { keys }
    }

    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key to verify a JWS with `alg` and header `kid`. With a `kid`: the first key with that `kid` that
    /// fits (`UnknownKid` if none has the `kid`, `NoSuitableKey` if none of those fits). Without a `kid`: the one
    /// fitting key, or `UnknownKid` when there are several (guessing would let rotation hide a wrong key) and
    /// `NoSuitableKey` when there is none.
    pub fn find(&self, kid: Option<&str>, alg: JwsAlg) -> Result<&Jwk, JoseError> {
        self.choose(kid, |k| k.fits_jws(alg))
    }

    /// The key to encrypt to with `alg`, by the same rules as `find`.
    pub fn find_encryption_key(&self, kid: Option<&str>, alg: JweAlg) -> Result<&Jwk, JoseError> {
        self.choose(kid, |k| k.fits_jwe(alg))
    }

    fn choose(&self, kid: Option<&str>, fits: impl Fn(&Jwk) -> bool) -> Result<&Jwk, JoseError> {
        match kid {
            Some(kid) => {
                let mut named = self.keys.iter().filter(|k| k.kid() == Some(kid)).peekable();
                if named.peek().is_none() {
                    return Err(JoseError::UnknownKid);
                }
                named.find(|k| fits(k)).ok_or(JoseError::NoSuitableKey)
            }
            None => {
                let mut fitting = self.keys.iter().filter(|k| fits(k));
                match (fitting.next(), fitting.next()) {
                    (Some(key), None) => Ok(key),
                    (Some(_), Some(_)) => Err(JoseError::UnknownKid),
                    (None, _) => Err(JoseError::NoSuitableKey),
                }
            }
        }
    }
}

/// The public JWK for one of our own keys (from `SigningKey::verifying_key()` or `Certificate::verifying_key()`),
/// for the gateway's published JWKS. RSA keys may be published for any purpose, P-256 keys only for ES256.
pub fn public_jwk_json(
    key: &VerifyingKey,
    kid: &str,
    purpose: KeyPurpose,
) -> Result<Value, JoseError> {
    let fits = match (purpose, key.kind()) {
        (KeyPurpose::Sign(JwsAlg::ES256), kind) => kind == PublicKeyKind::EcP256,
        (_, kind) => matches!(kind, PublicKeyKind::Rsa { .. }),
    };
    if !fits {
        return Err(JoseError::NoSuitableKey);
    }
    let mut jwk = public_members(key)?;
    jwk.insert("kid".to_owned(), Value::from(kid));
    jwk.insert("use".to_owned(), Value::from(purpose.use_name()));
    jwk.insert("alg".to_owned(), Value::from(purpose.alg_name()));
    Ok(Value::Object(jwk))
}

/// RFC 7638 JWK thumbprint (SHA-256, base64url) of a public key.
pub fn jwk_thumbprint(key: &VerifyingKey) -> Result<String, JoseError> {
    // serde_json's default map is ordered by name, which is the order RFC 7638 §3.2 asks for, and
    // `to_vec` writes no whitespace.
    let members = Value::Object(public_members(key)?);
    let canonical = serde_json::to_vec(&members).map_err(|e| JoseError::Json(e.to_string()))?;
    Ok(b64_encode(&DigestAlgorithm::Sha256.digest(&canonical)))
}

/// The required public members only: `kty`, `n`, `e` or `kty`, `crv`, `x`, `y`.
fn public_members(key: &VerifyingKey) -> Result<Map<String, Value>, JoseError> {
    let members = match key.kind() {
        PublicKeyKind::Rsa { .. } => {
            let (n, e) = rsa_components(key)?;
            json!({
                "kty": "RSA",
                "n": b64_encode(strip_leading_zeros(&n)),
                "e": b64_encode(strip_leading_zeros(&e)),
            })
        }
        PublicKeyKind::EcP256 => {
            let (x, y) = p256_point(key)?.split_at(P256_COORD_LEN);
            json!({ "kty": "EC", "crv": "P-256", "x": b64_encode(x), "y": b64_encode(y) })
        }
        other => {
            return Err(JoseError::KeyRefused(format!(
                "{other} keys are not published as JWKs"
            )))
        }
    };
    match members {
        Value::Object(map) => Ok(map),
        _ => Err(JoseError::Json("JWK members".to_owned())),
    }
}

/// An RSA key's modulus and public exponent, big-endian.
fn rsa_components(key: &VerifyingKey) -> Result<(Vec<u8>, Vec<u8>), JoseError> {
    let public = aws_lc_rs::rsa::PublicKey::from_der(key.spki_der())
        .map_err(|e| JoseError::Crypto(format!("RSA public key: {e}")))?;
    let components = PublicKeyComponents::<Vec<u8>>::from(&public);
    Ok((components.n, components.e))
}

/// A P-256 key's `x || y` (64 bytes), from its SubjectPublicKeyInfo.
fn p256_point(key: &VerifyingKey) -> Result<&[u8], JoseError> {
    key.spki_der()
        .strip_prefix(&P256_SPKI_PREFIX[..])
        .and_then(|p| p.strip_prefix(&[0x04]))
        .filter(|p| p.len() == 2 * P256_COORD_LEN)
        .ok_or_else(|| JoseError::Crypto("P-256 key is not an uncompressed point".to_owned()))
}

/// `Ok(None)`: a key we do not use, to be skipped. `Err`: a key that must never be in a public set.
fn parse_jwk(jwk: &Map<String, Value>) -> Result<Option<Jwk>, JoseError> {
    if let Some(member) = PRIVATE_MEMBERS.iter().find(|m| jwk.contains_key(**m)) {
        return Err(JoseError::KeyRefused(format!(
            "private key member {member:?} in a public JWK"
        )));
    }
    let kty = optional_str(jwk, "kty", "JWK kty must be a string")?
        .ok_or(JoseError::Malformed("JWK without kty"))?;
    let key = match kty {
        "RSA" => rsa_key(jwk)?,
        "EC" => match optional_str(jwk, "crv", "JWK crv must be a string")? {
            Some("P-256") => p256_key(jwk)?,
            _ => return Ok(None),
        },
        "oct" => {
            return Err(JoseError::KeyRefused(
                "symmetric (oct) keys are never accepted".to_owned(),
            ))
        }
        _ => return Ok(None),
    };
    let key_ops = match jwk.get("key_ops") {
        None => None,
        Some(Value::Array(ops)) => Some(
            ops.iter()
                .map(|op| op.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or(JoseError::Malformed("JWK key_ops must be strings"))?,
        ),
        Some(_) => return Err(JoseError::Malformed("JWK key_ops must be an array")),
    };
    Ok(Some(Jwk {
        kid: optional_str(jwk, "kid", "JWK kid must be a string")?.map(str::to_owned),
        alg: optional_str(jwk, "alg", "JWK alg must be a string")?.map(str::to_owned),
        use_: optional_str(jwk, "use", "JWK use must be a string")?.map(str::to_owned),
        key_ops,
        key,
    }))
}

fn rsa_key(jwk: &Map<String, Value>) -> Result<VerifyingKey, JoseError> {
    let n = required_b64(jwk, "n")?;
    let e = required_b64(jwk, "e")?;
    let components = PublicKeyComponents {
        n: strip_leading_zeros(&n),
        e: strip_leading_zeros(&e),
    };
    let spki: PublicKeyX509Der<'static> = components
        .as_der()
        .map_err(|_| JoseError::KeyRefused("invalid RSA public key".to_owned()))?;
    VerifyingKey::from_spki_der(spki.as_ref()).map_err(refused)
}

fn p256_key(jwk: &Map<String, Value>) -> Result<VerifyingKey, JoseError> {
    let x = required_b64(jwk, "x")?;
    let y = required_b64(jwk, "y")?;
    // RFC 7518 §6.2.1.2: the coordinates are exactly the field size, leading zeros kept.
    if x.len() != P256_COORD_LEN || y.len() != P256_COORD_LEN {
        return Err(JoseError::KeyRefused(
            "P-256 coordinates must be 32 bytes".to_owned(),
        ));
    }
    let mut spki = P256_SPKI_PREFIX.to_vec();
    spki.push(0x04);
    spki.extend_from_slice(&x);
    spki.extend_from_slice(&y);
    // from_spki_der checks that the point is on the curve.
    VerifyingKey::from_spki_der(&spki).map_err(refused)
}

fn required_b64(jwk: &Map<String, Value>, name: &'static str) -> Result<Vec<u8>, JoseError> {
    let text = optional_str(jwk, name, "JWK key member must be a string")?
        .ok_or(JoseError::Malformed("JWK lacks a required key member"))?;
    b64_decode(text, "JWK key member is not base64url")
}

fn refused(e: CertError) -> JoseError {
    JoseError::KeyRefused(e.to_string())
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use certs::{KeyKind, SigningKey};

    /// RFC 7638 §3.1.
    const RFC7638_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

    fn set(keys: Value) -> Result<JwkSet, JoseError> {
        JwkSet::from_json(json!({ "keys": keys }).to_string().as_bytes(), 10)
    }

    #[test]
    fn rfc7638_thumbprint() {
        let jwk = Jwk::from_json(
            json!({"kty": "RSA", "n": RFC7638_N, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"})
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(
            jwk.thumbprint().unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        assert_eq!(jwk.kid(), Some("2011-04-29"));
        assert_eq!(jwk.alg(), Some("RS256"));
    }

    #[test]
    fn published_jwks_read_back_to_the_same_key() {
        for (kind, purpose) in [
            (KeyKind::Rsa2048, KeyPurpose::Sign(JwsAlg::RS256)),
            (KeyKind::Rsa2048, KeyPurpose::Sign(JwsAlg::PS256)),
            (KeyKind::Rsa3072, KeyPurpose::Encrypt(JweAlg::RsaOaep)),
            (KeyKind::EcdsaP256, KeyPurpose::Sign(JwsAlg::ES256)),
        ] {
            let vk = SigningKey::generate(kind).unwrap().verifying_key().unwrap();
            let published = public_jwk_json(&vk, "k1", purpose).unwrap();
            assert_eq!(published["kid"], "k1");
            assert_eq!(published["alg"], purpose.alg_name());
            assert_eq!(published["use"], purpose.use_name());
            assert!(PRIVATE_MEMBERS.iter().all(|m| published.get(m).is_none()));
            let back = Jwk::from_json(published.to_string().as_bytes()).unwrap();
            assert!(back.key().same_key_as(vk.spki_der()), "{kind:?}");
            assert_eq!(back.thumbprint().unwrap(), jwk_thumbprint(&vk).unwrap());
        }
        let ec = SigningKey::generate(KeyKind::EcdsaP256)
            .unwrap()
            .verifying_key()
            .unwrap();
        for purpose in [
            KeyPurpose::Sign(JwsAlg::RS256),
            KeyPurpose::Encrypt(JweAlg::RsaOaep256),
        ] {
            assert!(matches!(
                public_jwk_json(&ec, "k", purpose),
                Err(JoseError::NoSuitableKey)
            ));
        }
    }

    #[test]
    fn private_symmetric_and_weak_keys_refuse_the_whole_set() {
        let rsa = public_jwk_json(
            &SigningKey::generate(KeyKind::Rsa2048)
                .unwrap()
                .verifying_key()
                .unwrap(),
            "good",
            KeyPurpose::Sign(JwsAlg::RS256),
        )
        .unwrap();
        for member in PRIVATE_MEMBERS {
            let mut leaked = rsa.clone();
            leaked[member] = json!("AQAB");
            let err = set(json!([rsa.clone(), leaked])).unwrap_err();
            assert!(matches!(err, JoseError::KeyRefused(_)), "{member}: {err:?}");
        }
        let err = set(json!([{"kty": "oct", "kid": "h", "alg": "HS256"}])).unwrap_err();
        assert!(
            matches!(err, JoseError::KeyRefused(ref m) if m.contains("oct")),
            "{err:?}"
        );
        // RFC 7515 appendix A.1's key, minus "k" (which alone is refused above).
        assert!(matches!(
            set(
                json!([{"kty": "oct", "k": "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}])
            ),
            Err(JoseError::KeyRefused(_))
        ));
        // A 1024-bit RSA key (certs' test vector), as a JWK.
        let weak_n = "zVAhC5ugIbKgCeHvMjlVVEUF6nfGhXl4Lp-wcwtAHYrWH8X8mLLUCGpqR-quoKA3lSCLgxOuNQkzX462iC3lOdEPJPRutiyvopOoUSb6_Aby0AYi-PnssdJDAWI9qPcrweFE3kAlNJYNdROPIM6NQgV-PFEf-NnzZZmugSK5GfU";
        let err = set(json!([{"kty": "RSA", "n": weak_n, "e": "AQAB"}])).unwrap_err();
        assert!(
            matches!(err, JoseError::KeyRefused(ref m) if m.contains("1024")),
            "{err:?}"
        );
    }

    #[test]
    fn unknown_types_and_curves_are_skipped_not_fatal() {
        let ec = public_jwk_json(
            &SigningKey::generate(KeyKind::EcdsaP256)
                .unwrap()
                .verifying_key()
                .unwrap(),
            "ec",
            KeyPurpose::Sign(JwsAlg::ES256),
        )
        .unwrap();
        let parsed = set(json!([
            {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"},
            {"kty": "EC", "crv": "secp256k1", "x": "AA", "y": "AA"},
            ec,
        ]))
        .unwrap();
        assert_eq!(parsed.keys().len(), 1);
        assert!(Jwk::from_json(br#"{"kty":"OKP","crv":"Ed25519","x":"AA"}"#).is_err());
    }

    #[test]
    fn malformed_sets_and_keys() {
        for bad in [
            json!({}),
            json!({"keys": {}}),
            json!({"keys": ["x"]}),
            json!({"keys": [{"n": "AQAB", "e": "AQAB"}]}),
            json!({"keys": [{"kty": 1}]}),
            json!({"keys": [{"kty": "RSA", "e": "AQAB"}]}),
            json!({"keys": [{"kty": "RSA", "n": RFC7638_N, "e": "AQAB", "kid": 5}]}),
            json!({"keys": [{"kty": "RSA", "n": RFC7638_N, "e": "AQAB", "key_ops": "verify"}]}),
            json!({"keys": [{"kty": "RSA", "n": format!("{RFC7638_N}="), "e": "AQAB"}]}),
        ] {
            assert!(
                matches!(
                    JwkSet::from_json(bad.to_string().as_bytes(), 10),
                    Err(JoseError::Malformed(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            JwkSet::from_json(br#"{"keys":[],"keys":[]}"#, 10),
            Err(JoseError::Json(_))
        ));
        let many = json!({"keys": vec![json!({"kty": "OKP"}); 11]}).to_string();
        assert!(matches!(
            JwkSet::from_json(many.as_bytes(), 10),
            Err(JoseError::TooLarge)
        ));
    }

    #[test]
    fn p256_points_must_be_exact_and_on_the_curve() {
        let ec = public_jwk_json(
            &SigningKey::generate(KeyKind::EcdsaP256)
                .unwrap()
                .verifying_key()
                .unwrap(),
            "ec",
            KeyPurpose::Sign(JwsAlg::ES256),
        )
        .unwrap();
        let mut off_curve = ec.clone();
        let mut y = b64_decode(ec["y"].as_str().unwrap(), "y").unwrap();
        y[31] ^= 1;
        off_curve["y"] = json!(b64_encode(&y));
        assert!(matches!(
            set(json!([off_curve])),
            Err(JoseError::KeyRefused(_))
        ));
        let mut short = ec.clone();
        short["x"] = json!(b64_encode(&[1u8; 31]));
        assert!(matches!(set(json!([short])), Err(JoseError::KeyRefused(_))));
    }

    #[test]
    fn find_by_kid_type_use_alg_and_key_ops() {
        let rsa = SigningKey::generate(KeyKind::Rsa2048)
            .unwrap()
            .verifying_key()
            .unwrap();
        let ec = SigningKey::generate(KeyKind::EcdsaP256)
            .unwrap()
            .verifying_key()
            .unwrap();
        let mut enc = public_jwk_json(&rsa, "enc", KeyPurpose::Encrypt(JweAlg::RsaOaep)).unwrap();
        enc["key_ops"] = json!(["encrypt"]);
        let mut bare = public_jwk_json(&rsa, "bare", KeyPurpose::Sign(JwsAlg::RS256)).unwrap();
        let bare_map = bare.as_object_mut().unwrap();
        bare_map.remove("alg");
        bare_map.remove("use");
        let keys = set(json!([
            public_jwk_json(&rsa, "rs", KeyPurpose::Sign(JwsAlg::RS256)).unwrap(),
            public_jwk_json(&ec, "es", KeyPurpose::Sign(JwsAlg::ES256)).unwrap(),
            enc,
            bare,
        ]))
        .unwrap();
        assert_eq!(
            keys.find(Some("rs"), JwsAlg::RS256).unwrap().kid(),
            Some("rs")
        );
        assert_eq!(
            keys.find(Some("es"), JwsAlg::ES256).unwrap().kid(),
            Some("es")
        );
        assert_eq!(
            keys.find(Some("bare"), JwsAlg::PS256).unwrap().kid(),
            Some("bare")
        );
        assert!(matches!(
            keys.find(Some("rs"), JwsAlg::PS256),
            Err(JoseError::NoSuitableKey)
        ));
        assert!(matches!(
            keys.find(Some("es"), JwsAlg::RS256),
            Err(JoseError::NoSuitableKey)
        ));
        assert!(matches!(
            keys.find(Some("enc"), JwsAlg::RS256),
            Err(JoseError::NoSuitableKey)
        ));
        assert!(matches!(
            keys.find(Some("nope"), JwsAlg::RS256),
            Err(JoseError::UnknownKid)
        ));
        // No kid: RS256 fits "rs" and "bare", so it is ambiguous; ES256 fits only "es".
        assert!(matches!(
            keys.find(None, JwsAlg::RS256),
            Err(JoseError::UnknownKid)
        ));
        assert_eq!(keys.find(None, JwsAlg::ES256).unwrap().kid(), Some("es"));
        assert_eq!(
            keys.find_encryption_key(Some("enc"), JweAlg::RsaOaep)
                .unwrap()
                .kid(),
            Some("enc")
        );
        // "bare" (no use, no alg) could receive a JWE too, so without a kid the choice is ambiguous.
        assert!(matches!(
            keys.find_encryption_key(None, JweAlg::RsaOaep),
            Err(JoseError::UnknownKid)
        ));
        assert!(matches!(
            keys.find_encryption_key(Some("es"), JweAlg::RsaOaep),
            Err(JoseError::NoSuitableKey)
        ));
        assert!(matches!(
            keys.find_encryption_key(Some("enc"), JweAlg::RsaOaep256),
            Err(JoseError::NoSuitableKey)
        ));
        assert!(matches!(
            JwkSet::default().find(None, JwsAlg::RS256),
            Err(JoseError::NoSuitableKey)
        ));
    }
}
