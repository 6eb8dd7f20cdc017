//! JSON Web Signature (RFC 7515), compact serialization only, RS256 / PS256 / ES256 only.
//!
//! The order of checks is the defence: size, shape, strict base64url, strict header JSON, `alg` against the
//! caller's allowlist, refusal of `crit`, `jwk` and `b64`, and only then a key lookup in the caller's
//! key set. Header parameters that point at keys (`jku`, `x5u`, `x5c`, `jwk`) never select or fetch a key.

use std::fmt;
use std::str::FromStr;

use certs::{SignatureAlgorithm, SigningKey};
use serde_json::{Map, Value};

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

/// Verifies a compact JWS with a key from `keys`, accepting only the algorithms in `allowed`.
pub fn verify_jws(
    compact: &str,
    keys: &JwkSet,
    allowed: &[JwsAlg],
    max_len: usize,
) -> Result<VerifiedJws, JoseError> {
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
    let signing_input = &compact[..header_b64.len() + 1 + payload_b64.len()];
    verify_signature(key, header.alg, signing_input.as_bytes(), &signature)?;
    Ok(VerifiedJws { header, payload })
}

/// Signs `payload` as a compact JWS. The header is `alg`, `kid` and `header_extra` (say `typ`); `header_extra`
/// may not set `alg`, `kid`, `crit` or `b64`. RS256 and PS256 need an RSA key, ES256 a P-256 key.
pub fn sign_jws(
    header_extra: Map<String, Value>,
    payload: &[u8],
    key: &SigningKey,
    kid: &str,
    alg: JwsAlg,
) -> Result<String, JoseError> {
    if ["alg", "kid", "crit", "b64", "jwk"]
        .iter()
        .any(|name| header_extra.contains_key(*name))
    {
        return Err(JoseError::Malformed(
            "header_extra may not set alg, kid, crit, b64 or jwk",
        ));
    }
    if kid.is_empty() {
        return Err(JoseError::Malformed("kid must not be empty"));
    }
    let key_fits = match alg {
        JwsAlg::RS256 | JwsAlg::PS256 => key.algorithm() == SignatureAlgorithm::RsaSha256,
        JwsAlg::ES256 => key.algorithm() == SignatureAlgorithm::EcdsaSha256,
    };
    if !key_fits {
        return Err(JoseError::NoSuitableKey);
    }
    let mut header = header_extra;
    header.insert("alg".to_owned(), Value::from(alg.name()));
    header.insert("kid".to_owned(), Value::from(kid));
    let header_json = serde_json::to_vec(&header).map_err(|e| JoseError::Json(e.to_string()))?;
    let signing_input = format!("{}.{}", b64_encode(&header_json), b64_encode(payload));
    let signature = match alg {
        JwsAlg::RS256 | JwsAlg::ES256 => key.sign(signing_input.as_bytes()),
        JwsAlg::PS256 => key.sign_rsa_pss_sha256(signing_input.as_bytes()),
    }
    .map_err(JoseError::crypto)?;
    Ok(format!("{signing_input}.{}", b64_encode(&signature)))
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

fn verify_signature(
    key: &Jwk,
    alg: JwsAlg,
    signing_input: &[u8],
    signature: &[u8],
) -> Result<(), JoseError> {
    let result = match alg {
        JwsAlg::RS256 => key
            .key()
            .verify(SignatureAlgorithm::RsaSha256, signing_input, signature),
        JwsAlg::PS256 => key.key().verify_rsa_pss_sha256(signing_input, signature),
        // RFC 7518 §3.4: exactly 64 bytes, r || s; a DER signature is refused, not converted.
        JwsAlg::ES256 if signature.len() != 64 => return Err(JoseError::BadSignature),
        JwsAlg::ES256 => {
            key.key()
                .verify(SignatureAlgorithm::EcdsaSha256, signing_input, signature)
        }
    };
    result.map_err(|_| JoseError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_three_names_parse() {
        for alg in JwsAlg::ALL {
            assert_eq!(alg.name().parse::<JwsAlg>().unwrap(), alg);
            assert_eq!(alg.to_string(), alg.name());
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
}
