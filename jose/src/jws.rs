//! JSON Web Signature (RFC 7515), compact serialization only, RS256 / PS256 / ES256 only. The
//! signatures themselves, made and checked, are `jsonwebtoken`'s (on its aws-lc-rs provider); what
//! this module adds is the part jsonwebtoken leaves to its caller or does not refuse.
//!
//! The order of checks is the defence: size, shape, strict base64url, strict header JSON, `alg` against the
//! caller's allowlist, refusal of `crit`, `jwk` and `b64`, and only then a key lookup in the caller's
//! key set; jsonwebtoken sees a token only after all of that. Header parameters that point at keys
//! (`jku`, `x5u`, `x5c`, `jwk`) never select or fetch a key.
//!
//! What runs in front of jsonwebtoken, and why (each is pinned by a test that hands the same token
//! to jsonwebtoken alone, `idp-adapters/src/ftn/tests/hostile_jwt.rs`):
//! - `crit`: jsonwebtoken 12 accepts `"crit": ["b64"]` with `"b64": true`; we understand no
//!   extension, so any `crit` is `CriticalHeader`.
//! - `jwk`: jsonwebtoken never verifies with an embedded key, but accepts a token that carries one;
//!   we refuse it (`EmbeddedKey`): a publisher that sends its key in the token is misbehaving.
//! - Duplicate members: jsonwebtoken accepts `{"alg":"RS256","x":1,"x":2}` as a header, and into a
//!   `serde_json::Value` it reads a claim set with `sub` twice as the last one; we refuse every
//!   duplicate (`Json`), in the header here and in the claims through [`Claims`]' own
//!   `Deserialize`, which is what jsonwebtoken deserializes them into.
//! - Key choice by `kid` against *our* `JwkSet`, which refuses a set holding a symmetric, private
//!   or weak key; jsonwebtoken's own `jwk::JwkSet` reads `oct` keys and ignores private members.
//! - The time claims: jsonwebtoken reads the system clock; the callers check `exp`, `nbf` and `iat`
//!   with the `now` they were handed ([`crate::Claims::check_time`]), so jsonwebtoken's own claim
//!   validation is switched off here and done by the caller.

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::signature::{EcdsaKeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use certs::{SignatureAlgorithm, SigningKey};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, EncodingKey, Validation};
use serde_json::{Map, Value};

use crate::claims::Claims;
use crate::encoding::{b64_decode, b64_encode, optional_str, parse_object};
use crate::error::JoseError;
use crate::jwk::{Jwk, JwkSet};

/// The signature algorithms we accept. `none` and the HMAC family have no variant, so they cannot be allowed
/// by mistake: with a public key as the "secret", HS256 is the classic algorithm-confusion forgery.
#[allow(clippy::upper_case_acronyms)] // the names are the JOSE registry's
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JwsAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256: what FTN banks sign ID tokens with.
    RS256,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// ECDSA P-256 with SHA-256, signature as 64-byte `r || s`.
    ES256,
}

impl JwsAlg {
    pub const ALL: [JwsAlg; 3] = [JwsAlg::RS256, JwsAlg::PS256, JwsAlg::ES256];

    pub fn name(self) -> &'static str {
        match self {
            JwsAlg::RS256 => "RS256",
            JwsAlg::PS256 => "PS256",
            JwsAlg::ES256 => "ES256",
        }
    }

    /// The same algorithm as jsonwebtoken names it.
    pub fn algorithm(self) -> Algorithm {
        match self {
            JwsAlg::RS256 => Algorithm::RS256,
            JwsAlg::PS256 => Algorithm::PS256,
            JwsAlg::ES256 => Algorithm::ES256,
        }
    }

    /// Whether `key` can sign with this algorithm.
    pub fn fits(self, key: &SigningKey) -> bool {
        match self {
            JwsAlg::RS256 | JwsAlg::PS256 => key.algorithm() == SignatureAlgorithm::RsaSha256,
            JwsAlg::ES256 => key.algorithm() == SignatureAlgorithm::EcdsaSha256,
        }
    }
}

impl FromStr for JwsAlg {
    type Err = JoseError;

    /// Exact, case-sensitive names; anything else (`none`, `None`, `HS256`, `RS384`, ...) is `AlgorithmNotAllowed`.
    fn from_str(s: &str) -> Result<Self, JoseError> {
        JwsAlg::ALL
            .into_iter()
            .find(|alg| alg.name() == s)
            .ok_or_else(|| JoseError::AlgorithmNotAllowed(s.to_owned()))
    }
}

impl fmt::Display for JwsAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The protected header of a verified JWS.
#[derive(Clone, Debug, PartialEq)]
pub struct JwsHeader {
    pub alg: JwsAlg,
    pub kid: Option<String>,
    pub typ: Option<String>,
    pub cty: Option<String>,
    /// Every header parameter, including the ones above.
    pub params: Map<String, Value>,
}

/// Proof that a signature over `payload` was verified with a key from the caller's set.
/// Only `verify_jws` makes one.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct VerifiedJws {
    pub header: JwsHeader,
    pub payload: Vec<u8>,
}

/// Proof that a JWT's signature was verified with a key from the caller's set, and its claim set
/// (unique member names) as jsonwebtoken handed it over. Only `verify_jwt` makes one. The claims'
/// meaning (`iss`, `aud`, the times) is still the caller's to check.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct VerifiedJwt {
    pub header: JwsHeader,
    pub claims: Claims,
}

/// Verifies a compact JWS with a key from `keys`, accepting only the algorithms in `allowed`. The
/// payload may be anything (the fuzz target reads JWSs in general); a JWT goes to [`verify_jwt`].
pub fn verify_jws(
    compact: &str,
    keys: &JwkSet,
    allowed: &[JwsAlg],
    max_len: usize,
) -> Result<VerifiedJws, JoseError> {
    let checked = check_in_front(compact, keys, allowed, max_len)?;
    let alg = checked.header.alg;
    let valid = jsonwebtoken::crypto::verify(
        checked.signature_b64,
        checked.signing_input.as_bytes(),
        &checked.key.decoding_key()?,
        alg.algorithm(),
    )
    .map_err(refusal)?;
    if !valid {
        return Err(JoseError::BadSignature);
    }
    Ok(VerifiedJws {
        header: checked.header,
        payload: checked.payload,
    })
}

/// Verifies a compact JWT as [`verify_jws`] does, then hands it to `jsonwebtoken::decode` (its own
/// header checks, the key's family against `alg`, the signature) and reads the claim set, which must
/// be a JSON object with unique member names. No claim is judged here: the time checks need the
/// caller's `now` (jsonwebtoken's would read the system clock), `iss` and `aud` its protocol.
pub fn verify_jwt(
    compact: &str,
    keys: &JwkSet,
    allowed: &[JwsAlg],
    max_len: usize,
) -> Result<VerifiedJwt, JoseError> {
    crate::provider::install();
    let checked = check_in_front(compact, keys, allowed, max_len)?;
    let mut validation = Validation::new(checked.header.alg.algorithm());
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    let decoded =
        jsonwebtoken::decode::<Claims>(compact, &checked.key.decoding_key()?, &validation)
            .map_err(refusal)?;
    Ok(VerifiedJwt {
        header: checked.header,
        claims: decoded.claims,
    })
}

/// A signing key prepared for jsonwebtoken once (the conversion parses the key), with the `kid` and
/// algorithm it signs under.
pub struct JwsSigner {
    key: EncodingKey,
    kid: String,
    alg: JwsAlg,
}

impl fmt::Debug for JwsSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwsSigner")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl JwsSigner {
    /// RS256 and PS256 need an RSA key, ES256 a P-256 key (`NoSuitableKey` otherwise); `kid` may
    /// not be empty.
    pub fn new(key: &SigningKey, kid: &str, alg: JwsAlg) -> Result<Self, JoseError> {
        if kid.is_empty() {
            return Err(JoseError::Malformed("kid must not be empty"));
        }
        if !alg.fits(key) {
            return Err(JoseError::NoSuitableKey);
        }
        Ok(JwsSigner {
            key: encoding_key(key, alg)?,
            kid: kid.to_owned(),
            alg,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn alg(&self) -> JwsAlg {
        self.alg
    }

    /// The key as jsonwebtoken takes it, for a caller that builds a `jsonwebtoken::Header` itself.
    pub fn encoding_key(&self) -> &EncodingKey {
        &self.key
    }

    /// Signs `payload` (sent byte for byte) as a compact JWS. The header is `alg`, `kid` and
    /// `header_extra` (say `typ`); `header_extra` may not set `alg`, `kid`, `crit`, `b64` or `jwk`.
    pub fn sign(
        &self,
        header_extra: Map<String, Value>,
        payload: &[u8],
    ) -> Result<String, JoseError> {
        if ["alg", "kid", "crit", "b64", "jwk"]
            .iter()
            .any(|name| header_extra.contains_key(*name))
        {
            return Err(JoseError::Malformed(
                "header_extra may not set alg, kid, crit, b64 or jwk",
            ));
        }
        let mut header = header_extra;
        header.insert("alg".to_owned(), Value::from(self.alg.name()));
        header.insert("kid".to_owned(), Value::from(self.kid.as_str()));
        let header_json =
            serde_json::to_vec(&header).map_err(|e| JoseError::Json(e.to_string()))?;
        let signing_input = format!("{}.{}", b64_encode(&header_json), b64_encode(payload));
        let signature =
            jsonwebtoken::crypto::sign(signing_input.as_bytes(), &self.key, self.alg.algorithm())
                .map_err(|e| JoseError::Crypto(e.to_string()))?;
        Ok(format!("{signing_input}.{signature}"))
    }
}

/// [`JwsSigner::sign`] with a signer made for this one signature (it parses the key each time).
pub fn sign_jws(
    header_extra: Map<String, Value>,
    payload: &[u8],
    key: &SigningKey,
    kid: &str,
    alg: JwsAlg,
) -> Result<String, JoseError> {
    JwsSigner::new(key, kid, alg)?.sign(header_extra, payload)
}

/// What the checks in front of jsonwebtoken let through: the header, the key it names, and the
/// parts jsonwebtoken verifies.
struct Checked<'a> {
    header: JwsHeader,
    key: &'a Jwk,
    signing_input: &'a str,
    signature_b64: &'a str,
    payload: Vec<u8>,
}

fn check_in_front<'a>(
    compact: &'a str,
    keys: &'a JwkSet,
    allowed: &[JwsAlg],
    max_len: usize,
) -> Result<Checked<'a>, JoseError> {
    if compact.len() > max_len {
        return Err(JoseError::TooLarge);
    }
    let mut parts = compact.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JoseError::Malformed(
            "a compact JWS has exactly three parts",
        ));
    };
    let header_json = b64_decode(header_b64, "JWS header is not base64url")?;
    let payload = b64_decode(payload_b64, "JWS payload is not base64url")?;
    let signature = b64_decode(signature_b64, "JWS signature is not base64url")?;
    let header = parse_header(&header_json, allowed)?;
    let key = keys.find(header.kid.as_deref(), header.alg)?;
    // RFC 7518 §3.4: exactly 64 bytes, r || s; a DER signature is refused, not converted.
    if header.alg == JwsAlg::ES256 && signature.len() != 64 {
        return Err(JoseError::BadSignature);
    }
    Ok(Checked {
        header,
        key,
        signing_input: &compact[..header_b64.len() + 1 + payload_b64.len()],
        signature_b64,
        payload,
    })
}

fn parse_header(header_json: &[u8], allowed: &[JwsAlg]) -> Result<JwsHeader, JoseError> {
    let params = parse_object(header_json)?;
    let alg_name = optional_str(&params, "alg", "JWS alg must be a string")?
        .ok_or(JoseError::Malformed("JWS header without alg"))?;
    let alg: JwsAlg = alg_name.parse()?;
    if !allowed.contains(&alg) {
        return Err(JoseError::AlgorithmNotAllowed(alg_name.to_owned()));
    }
    if params.contains_key("crit") {
        return Err(JoseError::CriticalHeader);
    }
    if params.contains_key("jwk") {
        return Err(JoseError::EmbeddedKey);
    }
    if params.contains_key("b64") {
        return Err(JoseError::UnsupportedHeader("b64"));
    }
    let text = |name, what| optional_str(&params, name, what).map(|v| v.map(str::to_owned));
    Ok(JwsHeader {
        alg,
        kid: text("kid", "JWS kid must be a string")?,
        typ: text("typ", "JWS typ must be a string")?,
        cty: text("cty", "JWS cty must be a string")?,
        params,
    })
}

/// A jsonwebtoken refusal in this crate's terms. Only what the checks in front let through can
/// reach jsonwebtoken, so most of these arms are defence in depth.
fn refusal(e: jsonwebtoken::errors::Error) -> JoseError {
    match e.kind() {
        ErrorKind::InvalidSignature => JoseError::BadSignature,
        ErrorKind::InvalidAlgorithm
        | ErrorKind::MissingAlgorithm
        | ErrorKind::InvalidAlgorithmName
        | ErrorKind::UnsupportedAlgorithm => {
            JoseError::AlgorithmNotAllowed("refused by jsonwebtoken".to_owned())
        }
        ErrorKind::Base64(_) | ErrorKind::Utf8(_) => {
            JoseError::Malformed("JWS part refused by jsonwebtoken")
        }
        ErrorKind::Json(e) => JoseError::Json(e.to_string()),
        ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidKeyFormat => JoseError::NoSuitableKey,
        ErrorKind::InvalidToken => JoseError::Malformed("token refused by jsonwebtoken"),
        // Claim validation is off in `verify_jwt`, signing failures belong to `sign`, and the
        // enum is non-exhaustive: whatever else jsonwebtoken says is a refusal, never a pass.
        _ => JoseError::Crypto(format!("jsonwebtoken: {e}")),
    }
}

/// Our key as jsonwebtoken's aws-lc-rs provider reads it: PKCS#1 `RSAPrivateKey` DER for RSA,
/// PKCS#8 for P-256. Each is parsed by aws-lc-rs here, so a key that does not load fails now rather
/// than at the first signature. (jsonwebtoken zeroizes its copy on drop; the transient PKCS#8 buffer
/// is treated as `certs` treats its own exports, plain memory.)
fn encoding_key(key: &SigningKey, alg: JwsAlg) -> Result<EncodingKey, JoseError> {
    let pkcs8 = key.to_pkcs8_der().map_err(JoseError::crypto)?;
    match alg {
        JwsAlg::RS256 | JwsAlg::PS256 => {
            let pkcs1 = rsa_private_key_of_pkcs8(&pkcs8).ok_or(JoseError::Crypto(
                "RSA key is not a PKCS#8 rsaEncryption key".to_owned(),
            ))?;
            let pair = RsaKeyPair::from_der(pkcs1)
                .map_err(|e| JoseError::Crypto(format!("RSA key: {e}")))?;
            // Parsed once here, and kept for the signatures (see `crate::provider`).
            crate::provider::register(pkcs1, pair);
            Ok(EncodingKey::from_rsa_der(pkcs1))
        }
        JwsAlg::ES256 => {
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8)
                .map_err(|e| JoseError::Crypto(format!("P-256 key: {e}")))?;
            Ok(EncodingKey::from_ec_der(&pkcs8))
        }
    }
}

/// DER of `rsaEncryption` (1.2.840.113549.1.1.1).
const RSA_ENCRYPTION_OID: [u8; 9] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// The `privateKey` OCTET STRING of a PKCS#8 `PrivateKeyInfo` (RFC 5208) whose algorithm is
/// `rsaEncryption`: the PKCS#1 `RSAPrivateKey` inside. Reads only our own key, written by aws-lc-rs;
/// anything unexpected is `None`.
fn rsa_private_key_of_pkcs8(der: &[u8]) -> Option<&[u8]> {
    let (info, rest) = der_element(der, 0x30)?;
    if !rest.is_empty() {
        return None;
    }
    let (version, info) = der_element(info, 0x02)?;
    if version != [0] && version != [1] {
        return None;
    }
    let (algorithm, info) = der_element(info, 0x30)?;
    let (oid, _parameters) = der_element(algorithm, 0x06)?;
    if oid != RSA_ENCRYPTION_OID {
        return None;
    }
    let (private_key, _attributes) = der_element(info, 0x04)?;
    Some(private_key)
}

/// One DER element with tag `tag` at the start of `input`: its contents and what follows.
/// Definite lengths only, at most four length octets.
fn der_element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&first, input) = input.split_first()?;
    if first != tag {
        return None;
    }
    let (&len0, mut input) = input.split_first()?;
    let len = if len0 < 0x80 {
        usize::from(len0)
    } else {
        let count = usize::from(len0 & 0x7f);
        if count == 0 || count > 4 || input.len() < count {
            return None;
        }
        let (octets, rest) = input.split_at(count);
        input = rest;
        octets
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
    };
    if input.len() < len {
        return None;
    }
    Some(input.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use certs::KeyKind;

    #[test]
    fn only_three_names_parse() {
        for alg in JwsAlg::ALL {
            assert_eq!(alg.name().parse::<JwsAlg>().unwrap(), alg);
            assert_eq!(alg.to_string(), alg.name());
            assert_eq!(format!("{:?}", alg.algorithm()), alg.name());
        }
        for name in [
            "none", "None", "NONE", "", "HS256", "HS384", "HS512", "RS384", "RS512", "PS384",
            "ES384", "ES512", "EdDSA", "rs256", "RS256 ", " RS256",
        ] {
            assert!(
                matches!(name.parse::<JwsAlg>(), Err(JoseError::AlgorithmNotAllowed(ref n)) if n == name),
                "{name:?}"
            );
        }
    }

    #[test]
    fn pkcs1_comes_out_of_our_pkcs8_and_signs() {
        for kind in [KeyKind::Rsa2048, KeyKind::Rsa3072] {
            let key = SigningKey::generate(kind).unwrap();
            let pkcs8 = key.to_pkcs8_der().unwrap();
            let pkcs1 = rsa_private_key_of_pkcs8(&pkcs8).unwrap();
            // RSAPrivateKey ::= SEQUENCE { version 0, n, e, ... }: it parses as a key pair.
            assert_eq!(pkcs1[0], 0x30);
            RsaKeyPair::from_der(pkcs1).unwrap();
        }
        let ec = SigningKey::generate(KeyKind::EcdsaP256).unwrap();
        assert!(rsa_private_key_of_pkcs8(&ec.to_pkcs8_der().unwrap()).is_none());
        for bad in [
            &b""[..],
            b"\x30",
            b"\x30\x80",
            b"\x30\x85\x01\x01\x01\x01\x01",
            b"\x02\x01\x00",
        ] {
            assert!(rsa_private_key_of_pkcs8(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn a_signer_refuses_keys_that_do_not_fit_and_empty_kids() {
        let rsa = SigningKey::generate(KeyKind::Rsa2048).unwrap();
        let ec = SigningKey::generate(KeyKind::EcdsaP256).unwrap();
        for (key, alg) in [
            (&rsa, JwsAlg::ES256),
            (&ec, JwsAlg::RS256),
            (&ec, JwsAlg::PS256),
        ] {
            assert!(matches!(
                JwsSigner::new(key, "k", alg),
                Err(JoseError::NoSuitableKey)
            ));
        }
        assert!(matches!(
            JwsSigner::new(&rsa, "", JwsAlg::RS256),
            Err(JoseError::Malformed(_))
        ));
        let signer = JwsSigner::new(&ec, "ec-1", JwsAlg::ES256).unwrap();
        assert_eq!((signer.kid(), signer.alg()), ("ec-1", JwsAlg::ES256));
        assert!(
            !format!("{signer:?}").contains("key"),
            "no key material in Debug"
        );
    }
}
