//! Private signing keys and public verifying keys, over aws-lc-rs.

use std::fmt;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, EcdsaSigningAlgorithm, KeyPair as _, RsaKeyPair, UnparsedPublicKey,
    VerificationAlgorithm,
};
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_PKCS1_RSAENCRYPTION,
};
use x509_parser::prelude::FromDer as _;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::algorithms::SignatureAlgorithm;
use crate::error::CertError;

const MIN_RSA_BITS: usize = 2048;
const MAX_RSA_BITS: usize = 8192;

/// What kind of key to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyKind {
    Rsa2048,
    Rsa3072,
    EcdsaP256,
}

/// A private key that signs: RSA (PKCS#1 v1.5 with SHA-256) or ECDSA P-256/P-384 (fixed-width `r||s`,
/// the encoding XML DSig and JWS want).
#[derive(Clone)]
pub struct SigningKey {
    inner: SigningKeyInner,
    spki_der: Vec<u8>,
}

#[derive(Clone)]
enum SigningKeyInner {
    Rsa(RsaKeyPair),
    Ecdsa {
        key: EcdsaKeyPair,
        algorithm: SignatureAlgorithm,
    },
}

impl SigningKey {
    /// Reads a PEM private key: `PRIVATE KEY` (PKCS#8), `RSA PRIVATE KEY` (PKCS#1) or `EC PRIVATE KEY` (SEC1).
    /// An `EC PARAMETERS` block (as written by `openssl ecparam -genkey`) is skipped. Encrypted keys are refused.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, CertError> {
        let blocks = pem::parse_many(pem).map_err(|e| CertError::Pem(e.to_string()))?;
        let mut keys = blocks.iter().filter(|block| block.tag() != "EC PARAMETERS");
        let block = match (keys.next(), keys.next()) {
            (Some(block), None) => block,
            (None, _) => return Err(CertError::Pem("no private key block".to_owned())),
            (Some(_), Some(_)) => {
                return Err(CertError::Pem("more than one private key block".to_owned()))
            }
        };
        if block
            .headers()
            .get("Proc-Type")
            .is_some_and(|v| v.contains("ENCRYPTED"))
        {
            return Err(CertError::UnsupportedKey(
                "encrypted PEM private keys are not supported".to_owned(),
            ));
        }
        match block.tag() {
            "PRIVATE KEY" => Self::from_pkcs8_der(block.contents()),
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(block.contents())
                .map_err(|e| CertError::KeyRejected(format!("PKCS#1 RSA key: {e}")))
                .and_then(Self::from_rsa),
            "EC PRIVATE KEY" => Self::from_sec1_der(block.contents()),
            "ENCRYPTED PRIVATE KEY" => Err(CertError::UnsupportedKey(
                "encrypted PKCS#8 private keys are not supported".to_owned(),
            )),
            other => Err(CertError::Pem(format!(
                "expected a private key, found a {other:?} block"
            ))),
        }
    }

    /// Reads an unencrypted PKCS#8 private key (RSA 2048..8192 bits, ECDSA P-256 or P-384).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, CertError> {
        let rsa_err = match RsaKeyPair::from_pkcs8(der) {
            Ok(key) => return Self::from_rsa(key),
            Err(e) => e,
        };
        for (alg, sig_alg) in EC_SIGNING {
            if let Ok(key) = EcdsaKeyPair::from_pkcs8(alg, der) {
                return Self::from_ecdsa(key, sig_alg);
            }
        }
        Err(CertError::KeyRejected(format!(
            "not an RSA (2048..8192 bits) or ECDSA P-256/P-384 PKCS#8 key (as RSA: {rsa_err})"
        )))
    }

    pub fn generate(kind: KeyKind) -> Result<Self, CertError> {
        let generate_failed = |_| CertError::Generate(format!("{kind:?} key"));
        match kind {
            KeyKind::Rsa2048 => {
                Self::from_rsa(RsaKeyPair::generate(KeySize::Rsa2048).map_err(generate_failed)?)
            }
            KeyKind::Rsa3072 => {
                Self::from_rsa(RsaKeyPair::generate(KeySize::Rsa3072).map_err(generate_failed)?)
            }
            KeyKind::EcdsaP256 => Self::from_ecdsa(
                EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
                    .map_err(generate_failed)?,
                SignatureAlgorithm::EcdsaSha256,
            ),
        }
    }

    /// PKCS#8 (`PRIVATE KEY`) PEM with LF line endings.
    pub fn to_pkcs8_pem(&self) -> Result<String, CertError> {
        Ok(pem_encode("PRIVATE KEY", &self.to_pkcs8_der()?))
    }

    pub fn to_pkcs8_der(&self) -> Result<Vec<u8>, CertError> {
        let failed = |_| CertError::KeyRejected("cannot serialise private key".to_owned());
        match &self.inner {
            SigningKeyInner::Rsa(key) => {
                let der: Pkcs8V1Der<'static> = key.as_der().map_err(failed)?;
                Ok(der.as_ref().to_vec())
            }
            SigningKeyInner::Ecdsa { key, .. } => {
                Ok(key.to_pkcs8v1().map_err(failed)?.as_ref().to_vec())
            }
        }
    }

    /// The algorithm `sign` uses: `RsaSha256` for RSA keys, `EcdsaSha256` for P-256, `EcdsaSha384` for P-384.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        match &self.inner {
            SigningKeyInner::Rsa(_) => SignatureAlgorithm::RsaSha256,
            SigningKeyInner::Ecdsa { algorithm, .. } => *algorithm,
        }
    }

    /// Signs `msg` with `self.algorithm()`. ECDSA signatures are fixed-width `r||s`.
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, CertError> {
        // aws-lc-rs ignores the rng argument (AWS-LC draws its own randomness); it is there for ring compatibility.
        let rng = aws_lc_rs::rand::SystemRandom::new();
        match &self.inner {
            SigningKeyInner::Rsa(key) => {
                let mut sig = vec![0u8; key.public_modulus_len()];
                key.sign(&signature::RSA_PKCS1_SHA256, &rng, msg, &mut sig)
                    .map_err(|_| CertError::SigningFailed)?;
                Ok(sig)
            }
            SigningKeyInner::Ecdsa { key, .. } => Ok(key
                .sign(&rng, msg)
                .map_err(|_| CertError::SigningFailed)?
                .as_ref()
                .to_vec()),
        }
    }

    /// Signs `msg` with RSASSA-PSS, SHA-256, MGF1-SHA-256 and a 32-byte salt: JOSE's `PS256`. It is not a
    /// `SignatureAlgorithm` because XML DSig here stays on PKCS#1 v1.5. RSA keys only.
    pub fn sign_rsa_pss_sha256(&self, msg: &[u8]) -> Result<Vec<u8>, CertError> {
        let SigningKeyInner::Rsa(key) = &self.inner else {
            return Err(CertError::UnsupportedKey(format!(
                "RSA-PSS needs an RSA key, not {}",
                self.description()
            )));
        };
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let mut sig = vec![0u8; key.public_modulus_len()];
        key.sign(&signature::RSA_PSS_SHA256, &rng, msg, &mut sig)
            .map_err(|_| CertError::SigningFailed)?;
        Ok(sig)
    }

    /// The public half as DER SubjectPublicKeyInfo.
    pub fn public_key_spki_der(&self) -> Vec<u8> {
        self.spki_der.clone()
    }

    /// The public half as a `VerifyingKey`.
    pub fn verifying_key(&self) -> Result<VerifyingKey, CertError> {
        VerifyingKey::from_spki_der(&self.spki_der)
    }

    fn from_rsa(key: RsaKeyPair) -> Result<Self, CertError> {
        let spki: PublicKeyX509Der<'static> = key
            .public_key()
            .as_der()
            .map_err(|_| CertError::KeyRejected("cannot encode RSA public key".to_owned()))?;
        Ok(Self {
            spki_der: spki.as_ref().to_vec(),
            inner: SigningKeyInner::Rsa(key),
        })
    }

    fn from_ecdsa(key: EcdsaKeyPair, algorithm: SignatureAlgorithm) -> Result<Self, CertError> {
        let spki: PublicKeyX509Der<'static> = key
            .public_key()
            .as_der()
            .map_err(|_| CertError::KeyRejected("cannot encode EC public key".to_owned()))?;
        Ok(Self {
            spki_der: spki.as_ref().to_vec(),
            inner: SigningKeyInner::Ecdsa { key, algorithm },
        })
    }

    fn from_sec1_der(der: &[u8]) -> Result<Self, CertError> {
        for (alg, sig_alg) in EC_SIGNING {
            if let Ok(key) = EcdsaKeyPair::from_private_key_der(alg, der) {
                return Self::from_ecdsa(key, sig_alg);
            }
        }
        Err(CertError::KeyRejected(
            "not a P-256 or P-384 SEC1 EC private key".to_owned(),
        ))
    }

    fn description(&self) -> String {
        match &self.inner {
            SigningKeyInner::Rsa(key) => format!("RSA-{}", key.public_modulus_len() * 8),
            SigningKeyInner::Ecdsa {
                algorithm: SignatureAlgorithm::EcdsaSha384,
                ..
            } => "EC P-384".to_owned(),
            SigningKeyInner::Ecdsa { .. } => "EC P-256".to_owned(),
        }
    }
}

const EC_SIGNING: [(&EcdsaSigningAlgorithm, SignatureAlgorithm); 2] = [
    (
        &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        SignatureAlgorithm::EcdsaSha256,
    ),
    (
        &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        SignatureAlgorithm::EcdsaSha384,
    ),
];

impl fmt::Debug for SigningKey {
    // Only the kind and algorithm: never key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("key", &self.description())
            .field("algorithm", &self.algorithm())
            .finish_non_exhaustive()
    }
}

/// The type of a public key, as far as signature verification cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PublicKeyKind {
    Rsa { bits: usize },
    EcP256,
    EcP384,
}

impl fmt::Display for PublicKeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rsa { bits } => write!(f, "RSA-{bits}"),
            Self::EcP256 => f.write_str("EC P-256"),
            Self::EcP384 => f.write_str("EC P-384"),
        }
    }
}

/// A public key that verifies: RSA of at least 2048 bits, or ECDSA P-256/P-384.
/// Anything else is refused when the value is built, so holding one means the key is acceptable.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifyingKey {
    spki_der: Vec<u8>,
    kind: PublicKeyKind,
}

impl VerifyingKey {
    /// Reads a DER SubjectPublicKeyInfo. Trailing bytes are refused.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, CertError> {
        let (rest, spki) = SubjectPublicKeyInfo::from_der(der)
            .map_err(|e| CertError::KeyRejected(format!("SubjectPublicKeyInfo: {e}")))?;
        if !rest.is_empty() {
            return Err(CertError::KeyRejected(format!(
                "{} trailing bytes after SubjectPublicKeyInfo",
                rest.len()
            )));
        }
        let kind = spki_kind(&spki)?;
        // Let aws-lc-rs check the key itself (RSA_check_key, point on curve) now rather than at first use.
        let valid = match kind {
            PublicKeyKind::Rsa { .. } => aws_lc_rs::rsa::PublicKey::from_der(der).map(drop),
            PublicKeyKind::EcP256 => {
                signature::ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, der).map(drop)
            }
            PublicKeyKind::EcP384 => {
                signature::ParsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, der).map(drop)
            }
        };
        valid.map_err(|e| CertError::KeyRejected(format!("{kind} public key: {e}")))?;
        Ok(Self {
            spki_der: der.to_vec(),
            kind,
        })
    }

    /// Verifies `sig` over `msg`. The algorithm must fit the key: RSA algorithms only with RSA keys,
    /// `EcdsaSha256` only with P-256, `EcdsaSha384` only with P-384. ECDSA signatures are fixed-width `r||s`.
    pub fn verify(&self, alg: SignatureAlgorithm, msg: &[u8], sig: &[u8]) -> Result<(), CertError> {
        let verification: &'static dyn VerificationAlgorithm = match (alg, self.kind) {
            (SignatureAlgorithm::RsaSha256, PublicKeyKind::Rsa { .. }) => {
                &signature::RSA_PKCS1_2048_8192_SHA256
            }
            (SignatureAlgorithm::RsaSha384, PublicKeyKind::Rsa { .. }) => {
                &signature::RSA_PKCS1_2048_8192_SHA384
            }
            (SignatureAlgorithm::RsaSha512, PublicKeyKind::Rsa { .. }) => {
                &signature::RSA_PKCS1_2048_8192_SHA512
            }
            (SignatureAlgorithm::EcdsaSha256, PublicKeyKind::EcP256) => {
                &signature::ECDSA_P256_SHA256_FIXED
            }
            (SignatureAlgorithm::EcdsaSha384, PublicKeyKind::EcP384) => {
                &signature::ECDSA_P384_SHA384_FIXED
            }
            (algorithm, key) => return Err(CertError::AlgorithmKeyMismatch { algorithm, key }),
        };
        UnparsedPublicKey::new(verification, &self.spki_der)
            .verify(msg, sig)
            .map_err(|_| CertError::BadSignature)
    }

    /// Verifies an RSASSA-PSS signature (SHA-256, MGF1-SHA-256, 32-byte salt: JOSE's `PS256`). RSA keys only.
    pub fn verify_rsa_pss_sha256(&self, msg: &[u8], sig: &[u8]) -> Result<(), CertError> {
        if !matches!(self.kind, PublicKeyKind::Rsa { .. }) {
            return Err(CertError::UnsupportedKey(format!(
                "RSA-PSS needs an RSA key, not {}",
                self.kind
            )));
        }
        UnparsedPublicKey::new(&signature::RSA_PSS_2048_8192_SHA256, &self.spki_der)
            .verify(msg, sig)
            .map_err(|_| CertError::BadSignature)
    }

    pub fn kind(&self) -> PublicKeyKind {
        self.kind
    }

    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// Whether `spki_der` holds the same public key. Compares the key algorithm and the key bits, not the
    /// whole encoding, so an RSA AlgorithmIdentifier with or without its NULL parameters still matches.
    pub fn same_key_as(&self, spki_der: &[u8]) -> bool {
        let (Ok((_, ours)), Ok((_, theirs))) = (
            SubjectPublicKeyInfo::from_der(&self.spki_der),
            SubjectPublicKeyInfo::from_der(spki_der),
        ) else {
            return false;
        };
        ours.algorithm.algorithm == theirs.algorithm.algorithm
            && ours.subject_public_key.data == theirs.subject_public_key.data
            && spki_kind(&theirs).ok() == Some(self.kind)
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

fn spki_kind(spki: &SubjectPublicKeyInfo<'_>) -> Result<PublicKeyKind, CertError> {
    let oid = &spki.algorithm.algorithm;
    if *oid == OID_PKCS1_RSAENCRYPTION {
        let parsed = spki
            .parsed()
            .map_err(|e| CertError::KeyRejected(format!("RSA public key: {e}")))?;
        let x509_parser::public_key::PublicKey::RSA(rsa) = parsed else {
            return Err(CertError::KeyRejected("RSA public key expected".to_owned()));
        };
        let bits = bit_length(rsa.modulus);
        if bits < MIN_RSA_BITS {
            return Err(CertError::RsaKeyTooSmall { bits });
        }
        if bits > MAX_RSA_BITS {
            return Err(CertError::UnsupportedKey(format!(
                "RSA key of {bits} bits (at most {MAX_RSA_BITS})"
            )));
        }
        Ok(PublicKeyKind::Rsa { bits })
    } else if *oid == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|params| params.as_oid().ok())
            .ok_or_else(|| CertError::UnsupportedKey("EC key without a named curve".to_owned()))?;
        if curve == OID_EC_P256 {
            Ok(PublicKeyKind::EcP256)
        } else if curve == OID_NIST_EC_P384 {
            Ok(PublicKeyKind::EcP384)
        } else {
            Err(CertError::UnsupportedKey(format!("EC curve {curve}")))
        }
    } else {
        Err(CertError::UnsupportedKey(format!(
            "public key algorithm {oid}"
        )))
    }
}

/// Bit length of a big-endian unsigned integer (leading zero bytes, as DER adds, do not count).
fn bit_length(be: &[u8]) -> usize {
    let mut digits = be.iter().skip_while(|b| **b == 0);
    match digits.next() {
        None => 0,
        Some(first) => 8 * digits.count() + (8 - first.leading_zeros() as usize),
    }
}

/// PEM with LF line endings whatever the platform.
pub(crate) fn pem_encode(tag: &str, der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new(tag, der),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use aws_lc_rs::encoding::EcPrivateKeyRfc5915Der;
    use base64::Engine as _;

    /// SubjectPublicKeyInfo of a 1024-bit RSA key. aws-lc-rs cannot generate keys under 2048 bits, so this
    /// one was made once with `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 | openssl pkey -pubout -outform DER | base64`.
    pub(crate) const RSA_1024_SPKI_B64: &str = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDNUCELm6AhsqAJ4e8yOVVURQXqd8aFeXgun7BzC0AditYfxfyYstQIampH6q6goDeVIIuDE641CTNfjraILeU50Q8k9G62LK+ik6hRJvr8BvLQBiL4+eyx0kMBYj2o9yvB4UTeQCU0lg11E48gzo1CBX48UR/42fNlma6BIrkZ9QIDAQAB";

    const MSG: &[u8] = b"<saml:Assertion ID=\"_abc\">signed info bytes</saml:Assertion>";

    fn verifier(key: &SigningKey) -> VerifyingKey {
        VerifyingKey::from_spki_der(&key.public_key_spki_der()).unwrap()
    }

    #[test]
    fn rsa_sign_verify_roundtrip() {
        let key = SigningKey::generate(KeyKind::Rsa2048).unwrap();
        assert_eq!(key.algorithm(), SignatureAlgorithm::RsaSha256);
        let sig = key.sign(MSG).unwrap();
        assert_eq!(sig.len(), 256);
        let vk = verifier(&key);
        assert_eq!(vk.kind(), PublicKeyKind::Rsa { bits: 2048 });
        vk.verify(SignatureAlgorithm::RsaSha256, MSG, &sig).unwrap();
        // PKCS#1 v1.5 is deterministic.
        assert_eq!(sig, key.sign(MSG).unwrap());
    }

    #[test]
    fn rsa_pss_sign_verify_roundtrip_and_mismatches() {
        let key = SigningKey::generate(KeyKind::Rsa2048).unwrap();
        let vk = verifier(&key);
        let sig = key.sign_rsa_pss_sha256(MSG).unwrap();
        assert_eq!(sig.len(), 256);
        vk.verify_rsa_pss_sha256(MSG, &sig).unwrap();
        // PSS is randomised, unlike PKCS#1 v1.5.
        assert_ne!(sig, key.sign_rsa_pss_sha256(MSG).unwrap());
        let mut bad = sig.clone();
        bad[7] ^= 1;
        assert!(matches!(
            vk.verify_rsa_pss_sha256(MSG, &bad),
            Err(CertError::BadSignature)
        ));
        // The two RSA paddings do not verify each other's signatures.
        assert!(vk.verify(SignatureAlgorithm::RsaSha256, MSG, &sig).is_err());
        assert!(vk
            .verify_rsa_pss_sha256(MSG, &key.sign(MSG).unwrap())
            .is_err());
        let ec = SigningKey::generate(KeyKind::EcdsaP256).unwrap();
        assert!(matches!(
            ec.sign_rsa_pss_sha256(MSG),
            Err(CertError::UnsupportedKey(_))
        ));
        assert!(matches!(
            verifier(&ec).verify_rsa_pss_sha256(MSG, &sig),
            Err(CertError::UnsupportedKey(_))
        ));
    }

    #[test]
    fn rsa_3072_generates_and_verifies() {
        let key = SigningKey::generate(KeyKind::Rsa3072).unwrap();
        let sig = key.sign(MSG).unwrap();
        assert_eq!(sig.len(), 384);
        let vk = key.verifying_key().unwrap();
        assert_eq!(vk.kind(), PublicKeyKind::Rsa { bits: 3072 });
        vk.verify(SignatureAlgorithm::RsaSha256, MSG, &sig).unwrap();
    }

    #[test]
    fn ecdsa_p256_sign_verify_roundtrip_fixed_format() {
        let key = SigningKey::generate(KeyKind::EcdsaP256).unwrap();
        assert_eq!(key.algorithm(), SignatureAlgorithm::EcdsaSha256);
        let sig = key.sign(MSG).unwrap();
        assert_eq!(sig.len(), 64, "r||s, 32 bytes each");
        let vk = verifier(&key);
        assert_eq!(vk.kind(), PublicKeyKind::EcP256);
        vk.verify(SignatureAlgorithm::EcdsaSha256, MSG, &sig)
            .unwrap();
    }

    #[test]
    fn ecdsa_p384_pkcs8_loads_and_signs_with_sha384() {
        let pkcs8 = EcdsaKeyPair::generate(&signature::ECDSA_P384_SHA384_FIXED_SIGNING)
            .unwrap()
            .to_pkcs8v1()
            .unwrap();
        let key = SigningKey::from_pkcs8_der(pkcs8.as_ref()).unwrap();
        assert_eq!(key.algorithm(), SignatureAlgorithm::EcdsaSha384);
        let sig = key.sign(MSG).unwrap();
        assert_eq!(sig.len(), 96);
        let vk = verifier(&key);
        assert_eq!(vk.kind(), PublicKeyKind::EcP384);
        vk.verify(SignatureAlgorithm::EcdsaSha384, MSG, &sig)
            .unwrap();
        assert!(matches!(
            vk.verify(SignatureAlgorithm::EcdsaSha256, MSG, &sig),
            Err(CertError::AlgorithmKeyMismatch {
                algorithm: SignatureAlgorithm::EcdsaSha256,
                key: PublicKeyKind::EcP384
            })
        ));
    }

    #[test]
    fn verify_rejects_tampered_message_and_signature() {
        for kind in [KeyKind::Rsa2048, KeyKind::EcdsaP256] {
            let key = SigningKey::generate(kind).unwrap();
            let alg = key.algorithm();
            let sig = key.sign(MSG).unwrap();
            let vk = verifier(&key);

            let mut msg = MSG.to_vec();
            msg[10] ^= 1;
            assert!(
                matches!(vk.verify(alg, &msg, &sig), Err(CertError::BadSignature)),
                "{kind:?}"
            );

            let mut bad_sig = sig.clone();
            bad_sig[5] ^= 0x80;
            assert!(
                matches!(vk.verify(alg, MSG, &bad_sig), Err(CertError::BadSignature)),
                "{kind:?}"
            );
            assert!(matches!(
                vk.verify(alg, MSG, &sig[..sig.len() - 1]),
                Err(CertError::BadSignature)
            ));
            assert!(matches!(
                vk.verify(alg, MSG, &[]),
                Err(CertError::BadSignature)
            ));
        }
    }

    #[test]
    fn verify_rejects_wrong_key() {
        for kind in [KeyKind::Rsa2048, KeyKind::EcdsaP256] {
            let signer = SigningKey::generate(kind).unwrap();
            let other = SigningKey::generate(kind).unwrap();
            let sig = signer.sign(MSG).unwrap();
            assert!(matches!(
                verifier(&other).verify(signer.algorithm(), MSG, &sig),
                Err(CertError::BadSignature)
            ));
        }
    }

    #[test]
    fn verify_rejects_algorithm_key_mismatch() {
        let rsa = SigningKey::generate(KeyKind::Rsa2048).unwrap();
        let ec = SigningKey::generate(KeyKind::EcdsaP256).unwrap();
        let rsa_sig = rsa.sign(MSG).unwrap();
        let ec_sig = ec.sign(MSG).unwrap();
        let err = verifier(&rsa)
            .verify(SignatureAlgorithm::EcdsaSha256, MSG, &rsa_sig)
            .unwrap_err();
        assert!(matches!(
            err,
            CertError::AlgorithmKeyMismatch {
                algorithm: SignatureAlgorithm::EcdsaSha256,
                key: PublicKeyKind::Rsa { bits: 2048 }
            }
        ));
        assert_eq!(err.code(), "cert.algorithm_key_mismatch");
        for alg in [
            SignatureAlgorithm::RsaSha256,
            SignatureAlgorithm::RsaSha512,
            SignatureAlgorithm::EcdsaSha384,
        ] {
            assert!(matches!(
                verifier(&ec).verify(alg, MSG, &ec_sig),
                Err(CertError::AlgorithmKeyMismatch { .. })
            ));
        }
    }

    #[test]
    fn rsa_signature_does_not_verify_under_another_digest() {
        let key = SigningKey::generate(KeyKind::Rsa2048).unwrap();
        let sig = key.sign(MSG).unwrap();
        let vk = verifier(&key);
        assert!(matches!(
            vk.verify(SignatureAlgorithm::RsaSha384, MSG, &sig),
            Err(CertError::BadSignature)
        ));
        assert!(matches!(
            vk.verify(SignatureAlgorithm::RsaSha512, MSG, &sig),
            Err(CertError::BadSignature)
        ));
    }

    #[test]
    fn ecdsa_der_encoded_signature_is_refused() {
        let key = SigningKey::generate(KeyKind::EcdsaP256).unwrap();
        let asn1_signer = EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &key.to_pkcs8_der().unwrap(),
        )
        .unwrap();
        let der_sig = asn1_signer
            .sign(&aws_lc_rs::rand::SystemRandom::new(), MSG)
            .unwrap();
        assert!(matches!(
            verifier(&key).verify(SignatureAlgorithm::EcdsaSha256, MSG, der_sig.as_ref()),
            Err(CertError::BadSignature)
        ));
    }

    #[test]
    fn rsa_1024_public_key_is_refused() {
        let der = base64::engine::general_purpose::STANDARD
            .decode(RSA_1024_SPKI_B64)
            .unwrap();
        let err = VerifyingKey::from_spki_der(&der).unwrap_err();
        assert!(
            matches!(err, CertError::RsaKeyTooSmall { bits: 1024 }),
            "{err:?}"
        );
        assert_eq!(err.code(), "cert.rsa_key_too_small");
    }

    #[test]
    fn spki_with_trailing_bytes_or_garbage_is_refused() {
        let key = SigningKey::generate(KeyKind::EcdsaP256).unwrap();
        let mut der = key.public_key_spki_der();
        der.push(0);
        assert!(matches!(
            VerifyingKey::from_spki_der(&der),
            Err(CertError::KeyRejected(_))
        ));
        assert!(VerifyingKey::from_spki_der(b"not der").is_err());
        assert!(VerifyingKey::from_spki_der(&[]).is_err());
    }

    #[test]
    fn raw_ec_point_is_not_accepted_as_spki() {
        // aws-lc-rs would take a bare SEC1 point; a VerifyingKey insists on a SubjectPublicKeyInfo.
        let ec = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        assert!(VerifyingKey::from_spki_der(ec.public_key().as_ref()).is_err());
    }

    #[test]
    fn pkcs8_pem_roundtrip() {
        for kind in [KeyKind::Rsa2048, KeyKind::EcdsaP256] {
            let key = SigningKey::generate(kind).unwrap();
            let pem = key.to_pkcs8_pem().unwrap();
            assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
            assert!(!pem.contains('\r'));
            let loaded = SigningKey::from_pkcs8_pem(&pem).unwrap();
            assert_eq!(loaded.public_key_spki_der(), key.public_key_spki_der());
            assert_eq!(loaded.algorithm(), key.algorithm());
            verifier(&key)
                .verify(key.algorithm(), MSG, &loaded.sign(MSG).unwrap())
                .unwrap();
        }
    }

    #[test]
    fn sec1_ec_private_key_pem_is_accepted() {
        let ec = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let sec1: EcPrivateKeyRfc5915Der<'static> = ec.private_key().as_der().unwrap();
        // As `openssl ecparam -genkey` writes it: parameters first, then the key.
        let pem = format!(
            "{}{}",
            pem_encode(
                "EC PARAMETERS",
                &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]
            ),
            pem_encode("EC PRIVATE KEY", sec1.as_ref())
        );
        let key = SigningKey::from_pkcs8_pem(&pem).unwrap();
        assert_eq!(key.algorithm(), SignatureAlgorithm::EcdsaSha256);
        let expected: PublicKeyX509Der<'static> = ec.public_key().as_der().unwrap();
        assert_eq!(key.public_key_spki_der(), expected.as_ref());
    }

    #[test]
    fn pkcs1_rsa_private_key_pem_is_accepted() {
        let key = SigningKey::generate(KeyKind::Rsa2048).unwrap();
        let pkcs8 = key.to_pkcs8_der().unwrap();
        // PrivateKeyInfo ::= SEQUENCE { version, algorithm, privateKey OCTET STRING (the PKCS#1 RSAPrivateKey) }
        let (_, info) = x509_parser::der_parser::der::parse_der(&pkcs8).unwrap();
        let fields = info.as_sequence().unwrap();
        let pkcs1 = fields[2].as_slice().unwrap();
        let loaded = SigningKey::from_pkcs8_pem(&pem_encode("RSA PRIVATE KEY", pkcs1)).unwrap();
        assert_eq!(loaded.public_key_spki_der(), key.public_key_spki_der());
    }

    #[test]
    fn unusable_pem_is_refused() {
        assert!(matches!(
            SigningKey::from_pkcs8_pem(""),
            Err(CertError::Pem(_))
        ));
        assert!(matches!(
            SigningKey::from_pkcs8_pem(&pem_encode("ENCRYPTED PRIVATE KEY", b"\x30\x00")),
            Err(CertError::UnsupportedKey(_))
        ));
        assert!(matches!(
            SigningKey::from_pkcs8_pem(&pem_encode("CERTIFICATE", b"\x30\x00")),
            Err(CertError::Pem(_))
        ));
        assert!(matches!(
            SigningKey::from_pkcs8_pem(&pem_encode("PRIVATE KEY", b"\x30\x03\x02\x01\x00")),
            Err(CertError::KeyRejected(_))
        ));
        let key = SigningKey::generate(KeyKind::EcdsaP256)
            .unwrap()
            .to_pkcs8_pem()
            .unwrap();
        assert!(matches!(
            SigningKey::from_pkcs8_pem(&format!("{key}{key}")),
            Err(CertError::Pem(_))
        ));
    }

    #[test]
    fn ed25519_private_key_is_unsupported() {
        let doc = aws_lc_rs::signature::Ed25519KeyPair::generate_pkcs8(
            &aws_lc_rs::rand::SystemRandom::new(),
        )
        .unwrap();
        assert!(matches!(
            SigningKey::from_pkcs8_der(doc.as_ref()),
            Err(CertError::KeyRejected(_))
        ));
    }

    #[test]
    fn debug_shows_no_key_material() {
        for kind in [KeyKind::Rsa2048, KeyKind::EcdsaP256] {
            let key = SigningKey::generate(kind).unwrap();
            let debug = format!("{key:?}");
            let pem = key.to_pkcs8_pem().unwrap();
            let body: String = pem.lines().nth(2).unwrap().chars().take(16).collect();
            assert!(!debug.contains(&body), "{debug}");
            assert!(debug.len() < 120, "{debug}");
            assert!(
                debug.contains("RSA-2048") || debug.contains("EC P-256"),
                "{debug}"
            );
        }
    }

    #[test]
    fn same_key_as_compares_keys() {
        let a = SigningKey::generate(KeyKind::EcdsaP256).unwrap();
        let b = SigningKey::generate(KeyKind::EcdsaP256).unwrap();
        let va = verifier(&a);
        assert!(va.same_key_as(&a.public_key_spki_der()));
        assert!(!va.same_key_as(&b.public_key_spki_der()));
        assert!(!va.same_key_as(b"junk"));
    }

    #[test]
    fn bit_length_ignores_leading_zeros() {
        assert_eq!(bit_length(&[]), 0);
        assert_eq!(bit_length(&[0, 0]), 0);
        assert_eq!(bit_length(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(bit_length(&[0x01, 0xff]), 9);
    }
}
