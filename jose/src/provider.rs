//! jsonwebtoken's crypto provider, with our RSA signing keys parsed once.
//!
//! jsonwebtoken 12's aws-lc-rs provider parses (and so validates) the RSA private key from its
//! DER on every signature: measured in a release build, an RS256 signature took about 690 µs
//! against 250 µs for the same key parsed once. A login signs two or three times, so that would
//! be most of its CPU. jsonwebtoken's extension point for this is the process-wide
//! `CryptoProvider`: this one is its aws-lc-rs provider, except that an RSA key registered by
//! [`crate::JwsSigner::new`] (our own keys: a handful per process) is signed with from its
//! parsed form. Every other key, and every verification, goes to the aws-lc-rs provider as
//! before. jsonwebtoken still makes the JWS: header, signing input and encoding are its own.
//!
//! The registry holds at most [`MAX_CACHED_KEYS`] keys (the oldest leaves first); a key not in it
//! is signed with as jsonwebtoken would, only slower.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RsaEncoding, RsaKeyPair, RSA_PKCS1_SHA256, RSA_PSS_SHA256};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use std::sync::{Arc, Once, RwLock};

/// The most parsed keys kept (our own signing keys: RP keys per bank, the provider's key).
pub const MAX_CACHED_KEYS: usize = 32;

type Digest = [u8; 32];

static KEYS: RwLock<Vec<(Digest, Arc<RsaKeyPair>)>> = RwLock::new(Vec::new());
static INSTALL: Once = Once::new();

fn digest(der: &[u8]) -> Digest {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Install the provider for this process (once; if something else installed one first, that
/// one stays and keys are parsed per signature, correct but slower).
pub(crate) fn install() {
    INSTALL.call_once(|| {
        let provider = Box::leak(Box::new(CryptoProvider {
            signer_factory: signer,
            verifier_factory: verifier,
            key_utils: jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER
                .key_utils
                .clone(),
        }));
        if provider.install_default().is_err() {
            // Only jose installs one in this workspace; a test binary that built its own is
            // served by it, without the cache.
        }
    });
}

/// Keep `pair`, parsed from the PKCS#1 `der` an `EncodingKey` holds, for that key's signatures.
pub(crate) fn register(der: &[u8], pair: RsaKeyPair) {
    install();
    let d = digest(der);
    let mut keys = KEYS.write().unwrap_or_else(|p| p.into_inner());
    if keys.iter().any(|(k, _)| *k == d) {
        return;
    }
    if keys.len() >= MAX_CACHED_KEYS {
        keys.remove(0);
    }
    keys.push((d, Arc::new(pair)));
}

fn cached(der: &[u8]) -> Option<Arc<RsaKeyPair>> {
    let d = digest(der);
    let keys = KEYS.read().unwrap_or_else(|p| p.into_inner());
    keys.iter().find(|(k, _)| *k == d).map(|(_, p)| p.clone())
}

fn signer(alg: &Algorithm, key: &EncodingKey) -> jsonwebtoken::errors::Result<Box<dyn JwtSigner>> {
    let encoding: Option<&'static dyn RsaEncoding> = match alg {
        Algorithm::RS256 => Some(&RSA_PKCS1_SHA256),
        Algorithm::PS256 => Some(&RSA_PSS_SHA256),
        _ => None,
    };
    if let (Some(encoding), Some(pair)) = (encoding, encoding.and_then(|_| cached(key.as_bytes())))
    {
        return Ok(Box::new(CachedRsa {
            pair,
            encoding,
            alg: *alg,
        }));
    }
    (jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.signer_factory)(alg, key)
}

fn verifier(
    alg: &Algorithm,
    key: &DecodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtVerifier>> {
    (jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.verifier_factory)(alg, key)
}

struct CachedRsa {
    pair: Arc<RsaKeyPair>,
    encoding: &'static dyn RsaEncoding,
    alg: Algorithm,
}

impl signature::Signer<Vec<u8>> for CachedRsa {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        let mut sig = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(self.encoding, &SystemRandom::new(), msg, &mut sig)
            .map_err(signature::Error::from_source)?;
        Ok(sig)
    }
}

impl JwtSigner for CachedRsa {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{JwkSet, JwsAlg, JwsSigner};

    /// A signature made from the parsed key verifies (through jsonwebtoken, with the public
    /// JWK), for RS256 and PS256; and the key was registered once however many signers use it.
    #[test]
    fn signatures_from_the_parsed_key_verify() {
        let id = certs::SigningIdentity::generate_self_signed(
            "p",
            certs::KeyKind::Rsa2048,
            time::OffsetDateTime::now_utc(),
            1,
        )
        .unwrap();
        let public = id.key.verifying_key().unwrap();
        for alg in [JwsAlg::RS256, JwsAlg::PS256] {
            let signer = JwsSigner::new(&id.key, "k1", alg).unwrap();
            let _twice = JwsSigner::new(&id.key, "k1", alg).unwrap();
            let der = signer.encoding_key().as_bytes().to_vec();
            assert!(cached(&der).is_some(), "registered");
            let n = KEYS
                .read()
                .unwrap()
                .iter()
                .filter(|(d, _)| *d == digest(&der))
                .count();
            assert_eq!(n, 1);
            let jwk = crate::public_jwk_json(&public, "k1", crate::KeyPurpose::Sign(alg)).unwrap();
            let set = JwkSet::from_json(
                serde_json::json!({ "keys": [jwk] }).to_string().as_bytes(),
                4,
            )
            .unwrap();
            let token = signer
                .sign(serde_json::Map::new(), br#"{"sub":"x"}"#)
                .unwrap();
            let v = crate::verify_jwt(&token, &set, &[alg], 10_000).unwrap();
            assert_eq!(v.claims.get_str("sub"), Some("x"));
            // One bit flipped in the signature: refused.
            let mut bad = token.clone().into_bytes();
            let last = bad.len() - 2;
            bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
            assert!(
                crate::verify_jwt(std::str::from_utf8(&bad).unwrap(), &set, &[alg], 10_000)
                    .is_err()
            );
        }
    }
}
