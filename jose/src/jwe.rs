//! JSON Web Encryption (RFC 7516), compact serialization only: RSA-OAEP(-256) key transport with
//! A128CBC-HS256, A256GCM or A128GCM content encryption. What FTN banks send is RSA-OAEP + A128CBC-HS256.
//!
//! Decryption checks the header first (allowlists, `zip`, `crit`, the key by `kid`) and may say why it
//! refused. From the key unwrap on, every failure is the one `DecryptionFailed`, and a failed unwrap goes on
//! with a random content key (RFC 7516 §11.5), so neither the answer nor the work done tells an attacker
//! whether the RSA padding, the tag or the CBC padding was wrong.

use std::fmt;
use std::str::FromStr;

use certs::{
    rsa_oaep_encrypt_to_spki, CbcHmacCipher, ContentCipher, DecryptionKey, KeyTransport,
    RandomSource, SystemRandomSource,
};
use serde_json::{Map, Value};

use crate::encoding::{b64_decode, b64_encode, optional_str, parse_object};
use crate::error::JoseError;
use crate::jwk::Jwk;

/// Key management algorithms. `RSA1_5` (Bleichenbacher-prone), `dir`, the key-wrap and ECDH families
/// have no variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JweAlg {
    /// `RSA-OAEP`: OAEP with SHA-1 and MGF1-SHA-1 (what FTN uses).
    RsaOaep,
    /// `RSA-OAEP-256`: OAEP with SHA-256 and MGF1-SHA-256.
    RsaOaep256,
}

impl JweAlg {
    pub const ALL: [JweAlg; 2] = [JweAlg::RsaOaep, JweAlg::RsaOaep256];

    pub fn name(self) -> &'static str {
        match self {
            JweAlg::RsaOaep => "RSA-OAEP",
            JweAlg::RsaOaep256 => "RSA-OAEP-256",
        }
    }

    fn transport(self) -> KeyTransport {
        match self {
            JweAlg::RsaOaep => KeyTransport::RsaOaepSha1,
            JweAlg::RsaOaep256 => KeyTransport::RsaOaepSha256,
        }
    }
}

impl FromStr for JweAlg {
    type Err = JoseError;

    fn from_str(s: &str) -> Result<Self, JoseError> {
        JweAlg::ALL
            .into_iter()
            .find(|alg| alg.name() == s)
            .ok_or_else(|| JoseError::AlgorithmNotAllowed(s.to_owned()))
    }
}

impl fmt::Display for JweAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Content encryption algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JweEnc {
    /// `A128CBC-HS256` (RFC 7518 §5.2.3): AES-128-CBC with HMAC-SHA-256 truncated to 16 bytes, 32-byte key.
    A128CbcHs256,
    /// `A256GCM`.
    A256Gcm,
    /// `A128GCM`.
    A128Gcm,
}

impl JweEnc {
    pub const ALL: [JweEnc; 3] = [JweEnc::A128CbcHs256, JweEnc::A256Gcm, JweEnc::A128Gcm];

    pub fn name(self) -> &'static str {
        match self {
            JweEnc::A128CbcHs256 => "A128CBC-HS256",
            JweEnc::A256Gcm => "A256GCM",
            JweEnc::A128Gcm => "A128GCM",
        }
    }

    /// Content encryption key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            JweEnc::A128CbcHs256 => CbcHmacCipher::Aes128CbcHmacSha256.key_len(),
            JweEnc::A256Gcm => ContentCipher::Aes256Gcm.key_len(),
            JweEnc::A128Gcm => ContentCipher::Aes128Gcm.key_len(),
        }
    }

    fn open(
        self,
        cek: &[u8],
        iv: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
        tag: &[u8],
    ) -> Result<Vec<u8>, JoseError> {
        let gcm = match self {
            JweEnc::A128CbcHs256 => {
                return CbcHmacCipher::Aes128CbcHmacSha256
                    .open(cek, iv, aad, ciphertext, tag)
                    .map_err(|_| JoseError::DecryptionFailed)
            }
            JweEnc::A256Gcm => ContentCipher::Aes256Gcm,
            JweEnc::A128Gcm => ContentCipher::Aes128Gcm,
        };
        // ContentCipher takes ciphertext || tag, so a short tag would eat into the ciphertext: check it here.
        if tag.len() != GCM_TAG_LEN {
            return Err(JoseError::DecryptionFailed);
        }
        let mut sealed = Vec::with_capacity(ciphertext.len() + tag.len());
        sealed.extend_from_slice(ciphertext);
        sealed.extend_from_slice(tag);
        gcm.open(cek, iv, aad, &sealed)
            .map_err(|_| JoseError::DecryptionFailed)
    }

    fn seal(
        self,
        cek: &[u8],
        aad: &[u8],
        plaintext: &[u8],
        rng: &dyn RandomSource,
    ) -> Result<Sealed, JoseError> {
        let gcm = match self {
            JweEnc::A128CbcHs256 => {
                let sealed = CbcHmacCipher::Aes128CbcHmacSha256
                    .seal(cek, aad, plaintext, rng)
                    .map_err(JoseError::crypto)?;
                return Ok(Sealed {
                    iv: sealed.iv.to_vec(),
                    ciphertext: sealed.ciphertext,
                    tag: sealed.tag,
                });
            }
            JweEnc::A256Gcm => ContentCipher::Aes256Gcm,
            JweEnc::A128Gcm => ContentCipher::Aes128Gcm,
        };
        let (nonce, mut sealed) = gcm
            .seal(cek, aad, plaintext, rng)
            .map_err(JoseError::crypto)?;
        let tag = sealed.split_off(sealed.len().saturating_sub(GCM_TAG_LEN));
        Ok(Sealed {
            iv: nonce.to_vec(),
            ciphertext: sealed,
            tag,
        })
    }
}

const GCM_TAG_LEN: usize = 16;

/// The three content parts of a compact JWE, before base64url.
struct Sealed {
    iv: Vec<u8>,
    ciphertext: Vec<u8>,
    tag: Vec<u8>,
}

impl FromStr for JweEnc {
    type Err = JoseError;

    fn from_str(s: &str) -> Result<Self, JoseError> {
        JweEnc::ALL
            .into_iter()
            .find(|enc| enc.name() == s)
            .ok_or_else(|| JoseError::AlgorithmNotAllowed(s.to_owned()))
    }
}

impl fmt::Display for JweEnc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The protected header of a decrypted JWE.
#[derive(Clone, Debug, PartialEq)]
pub struct JweHeader {
    pub alg: JweAlg,
    pub enc: JweEnc,
    pub kid: Option<String>,
    pub typ: Option<String>,
    /// `JWT` when the plaintext is a nested JWS (an FTN ID token).
    pub cty: Option<String>,
    /// Every header parameter, including the ones above.
    pub params: Map<String, Value>,
}

/// A decrypted JWE: its header and plaintext. Only `decrypt_jwe_with_header` makes one.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DecryptedJwe {
    pub header: JweHeader,
    pub plaintext: Vec<u8>,
}

/// One of our RSA private keys for JWE, with the `kid` it is published under.
#[derive(Debug)]
pub struct JweDecryptionKey {
    kid: Option<String>,
    key: DecryptionKey,
}

impl JweDecryptionKey {
    pub fn new(kid: Option<String>, key: DecryptionKey) -> Self {
        JweDecryptionKey { kid, key }
    }

    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }
}

/// Whether `compact` has the shape of a compact JWE (five parts) rather than a JWS (three).
pub fn is_jwe(compact: &str) -> bool {
    compact.split('.').count() == 5
}

/// Decrypts a compact JWE with one of `keys`, accepting only the listed algorithms. Returns the plaintext.
pub fn decrypt_jwe(
    compact: &str,
    keys: &[JweDecryptionKey],
    allowed_alg: &[JweAlg],
    allowed_enc: &[JweEnc],
    max_len: usize,
) -> Result<Vec<u8>, JoseError> {
    decrypt_jwe_with_header(compact, keys, allowed_alg, allowed_enc, max_len).map(|d| d.plaintext)
}

/// As `decrypt_jwe`, also returning the header (to check `cty: JWT` before reading a nested token, say).
pub fn decrypt_jwe_with_header(
    compact: &str,
    keys: &[JweDecryptionKey],
    allowed_alg: &[JweAlg],
    allowed_enc: &[JweEnc],
    max_len: usize,
) -> Result<DecryptedJwe, JoseError> {
    if compact.len() > max_len {
        return Err(JoseError::TooLarge);
    }
    let parts: Vec<&str> = compact.splitn(6, '.').collect();
    let [header_b64, key_b64, iv_b64, ciphertext_b64, tag_b64] = parts[..] else {
        return Err(JoseError::Malformed("a compact JWE has exactly five parts"));
    };
    let header = parse_header(
        &b64_decode(header_b64, "JWE header is not base64url")?,
        allowed_alg,
        allowed_enc,
    )?;
    let key = choose_key(keys, header.kid.as_deref())?;
    let encrypted_key = b64_decode(key_b64, "JWE encrypted key is not base64url")?;
    let iv = b64_decode(iv_b64, "JWE IV is not base64url")?;
    let ciphertext = b64_decode(ciphertext_b64, "JWE ciphertext is not base64url")?;
    let tag = b64_decode(tag_b64, "JWE tag is not base64url")?;

    let cek = match key.key.decrypt(header.alg.transport(), &encrypted_key) {
        Ok(cek) if cek.len() == header.enc.key_len() => cek,
        // RFC 7516 §11.5: carry on with a random key, which fails at the tag like any other forgery.
        _ => random_key(header.enc.key_len())?,
    };
    // RFC 7516 §5.2 step 14: the AAD is the ASCII of the protected header exactly as received.
    let plaintext = header
        .enc
        .open(&cek, &iv, header_b64.as_bytes(), &ciphertext, &tag)?;
    Ok(DecryptedJwe { header, plaintext })
}

/// Encrypts `plaintext` to `recipient` (an RSA key whose `use`, `alg` and `key_ops` allow `alg`). The header
/// is `alg`, `enc`, the recipient's `kid` if it has one, and `header_extra` (say `cty: JWT` for a nested
/// token), which may not set `alg`, `enc`, `kid`, `zip` or `crit`.
pub fn encrypt_jwe(
    plaintext: &[u8],
    recipient: &Jwk,
    alg: JweAlg,
    enc: JweEnc,
    header_extra: Map<String, Value>,
    rng: &dyn RandomSource,
) -> Result<String, JoseError> {
    if ["alg", "enc", "kid", "zip", "crit"]
        .iter()
        .any(|name| header_extra.contains_key(*name))
    {
        return Err(JoseError::Malformed(
            "header_extra may not set alg, enc, kid, zip or crit",
        ));
    }
    if !recipient.fits_jwe(alg) {
        return Err(JoseError::NoSuitableKey);
    }
    let mut header = header_extra;
    header.insert("alg".to_owned(), Value::from(alg.name()));
    header.insert("enc".to_owned(), Value::from(enc.name()));
    if let Some(kid) = recipient.kid() {
        header.insert("kid".to_owned(), Value::from(kid));
    }
    let header_json = serde_json::to_vec(&header).map_err(|e| JoseError::Json(e.to_string()))?;
    let header_b64 = b64_encode(&header_json);

    let mut cek = vec![0u8; enc.key_len()];
    rng.fill(&mut cek).map_err(JoseError::crypto)?;
    let encrypted_key = rsa_oaep_encrypt_to_spki(recipient.key().spki_der(), alg.transport(), &cek)
        .map_err(JoseError::crypto)?;
    let sealed = enc.seal(&cek, header_b64.as_bytes(), plaintext, rng)?;
    Ok([
        header_b64,
        b64_encode(&encrypted_key),
        b64_encode(&sealed.iv),
        b64_encode(&sealed.ciphertext),
        b64_encode(&sealed.tag),
    ]
    .join("."))
}

fn parse_header(
    header_json: &[u8],
    allowed_alg: &[JweAlg],
    allowed_enc: &[JweEnc],
) -> Result<JweHeader, JoseError> {
    let params = parse_object(header_json)?;
    let alg_name = optional_str(&params, "alg", "JWE alg must be a string")?
        .ok_or(JoseError::Malformed("JWE header without alg"))?;
    let enc_name = optional_str(&params, "enc", "JWE enc must be a string")?
        .ok_or(JoseError::Malformed("JWE header without enc"))?;
    let alg: JweAlg = alg_name.parse()?;
    let enc: JweEnc = enc_name.parse()?;
    if !allowed_alg.contains(&alg) {
        return Err(JoseError::AlgorithmNotAllowed(alg_name.to_owned()));
    }
    if !allowed_enc.contains(&enc) {
        return Err(JoseError::AlgorithmNotAllowed(enc_name.to_owned()));
    }
    if params.contains_key("crit") {
        return Err(JoseError::CriticalHeader);
    }
    // Decompressing before authenticating is a denial of service and, with secrets, a CRIME-style leak.
    if params.contains_key("zip") {
        return Err(JoseError::UnsupportedHeader("zip"));
    }
    let text = |name, what| optional_str(&params, name, what).map(|v| v.map(str::to_owned));
    Ok(JweHeader {
        alg,
        enc,
        kid: text("kid", "JWE kid must be a string")?,
        typ: text("typ", "JWE typ must be a string")?,
        cty: text("cty", "JWE cty must be a string")?,
        params,
    })
}

/// By `kid` when the header names one; otherwise only an unambiguous single key.
fn choose_key<'a>(
    keys: &'a [JweDecryptionKey],
    kid: Option<&str>,
) -> Result<&'a JweDecryptionKey, JoseError> {
    match kid {
        Some(kid) => keys
            .iter()
            .find(|k| k.kid() == Some(kid))
            .ok_or(JoseError::UnknownKid),
        None => match keys {
            [only] => Ok(only),
            _ => Err(JoseError::UnknownKid),
        },
    }
}

fn random_key(len: usize) -> Result<Vec<u8>, JoseError> {
    let mut key = vec![0u8; len];
    SystemRandomSource
        .fill(&mut key)
        .map_err(|_| JoseError::DecryptionFailed)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_others_are_refused() {
        for alg in JweAlg::ALL {
            assert_eq!(alg.name().parse::<JweAlg>().unwrap(), alg);
        }
        for enc in JweEnc::ALL {
            assert_eq!(enc.name().parse::<JweEnc>().unwrap(), enc);
        }
        for name in [
            "RSA1_5",
            "dir",
            "A128KW",
            "A256KW",
            "ECDH-ES",
            "RSA-OAEP-384",
            "rsa-oaep",
            "",
        ] {
            assert!(
                matches!(
                    name.parse::<JweAlg>(),
                    Err(JoseError::AlgorithmNotAllowed(_))
                ),
                "{name}"
            );
        }
        for name in ["A256CBC-HS512", "A192GCM", "A128CBC+HS256", "a256gcm"] {
            assert!(
                matches!(
                    name.parse::<JweEnc>(),
                    Err(JoseError::AlgorithmNotAllowed(_))
                ),
                "{name}"
            );
        }
        assert_eq!(JweEnc::A128CbcHs256.key_len(), 32);
        assert_eq!(JweEnc::A256Gcm.key_len(), 32);
        assert_eq!(JweEnc::A128Gcm.key_len(), 16);
    }

    #[test]
    fn shapes() {
        assert!(is_jwe("a.b.c.d.e"));
        assert!(is_jwe("...."));
        assert!(!is_jwe("a.b.c"));
        assert!(!is_jwe("a.b.c.d.e.f"));
    }
}
