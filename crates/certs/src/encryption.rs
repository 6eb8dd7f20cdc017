//! Public-key and symmetric encryption for XML Encryption (encrypted SAML assertions) and, later,
//! JWE: RSA-OAEP key transport and AES-GCM content encryption, on the one crypto backend.

use crate::cert::Certificate;
use crate::error::CertError;
use crate::random::RandomSource;
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, AES_256_GCM};
use aws_lc_rs::rsa::{
    OaepAlgorithm, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey,
    PublicEncryptingKey, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256,
};

/// RSA-OAEP variants. SHA-1 here is OAEP's mask hash, not a signature digest: XML Encryption's
/// `rsa-oaep-mgf1p` is defined with it and is what most SAML stacks decrypt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyTransport {
    RsaOaepSha1,
    RsaOaepSha256,
}

impl KeyTransport {
    fn algorithm(self) -> &'static OaepAlgorithm {
        match self {
            KeyTransport::RsaOaepSha1 => &OAEP_SHA1_MGF1SHA1,
            KeyTransport::RsaOaepSha256 => &OAEP_SHA256_MGF1SHA256,
        }
    }
}

/// AES-GCM content encryption; the output is ciphertext followed by the 16-byte tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentCipher {
    Aes128Gcm,
    Aes256Gcm,
}

impl ContentCipher {
    pub fn key_len(self) -> usize {
        match self {
            ContentCipher::Aes128Gcm => 16,
            ContentCipher::Aes256Gcm => 32,
        }
    }

    fn key(self, key: &[u8]) -> Result<LessSafeKey, CertError> {
        let alg = match self {
            ContentCipher::Aes128Gcm => &AES_128_GCM,
            ContentCipher::Aes256Gcm => &AES_256_GCM,
        };
        if key.len() != self.key_len() {
            return Err(CertError::KeyRejected(format!(
                "{self:?} needs a {}-byte key",
                self.key_len()
            )));
        }
        Ok(LessSafeKey::new(
            UnboundKey::new(alg, key).map_err(|_| CertError::EncryptionFailed)?,
        ))
    }

    /// Encrypt with a fresh random 96-bit nonce; returns (nonce, ciphertext || tag).
    pub fn seal(
        self,
        key: &[u8],
        aad: &[u8],
        plaintext: &[u8],
        rng: &dyn RandomSource,
    ) -> Result<([u8; 12], Vec<u8>), CertError> {
        let mut nonce = [0u8; 12];
        rng.fill(&mut nonce)?;
        let mut buf = plaintext.to_vec();
        self.key(key)?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut buf,
            )
            .map_err(|_| CertError::EncryptionFailed)?;
        Ok((nonce, buf))
    }

    /// Decrypt and authenticate `ciphertext || tag`.
    pub fn open(
        self,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        ciphertext_and_tag: &[u8],
    ) -> Result<Vec<u8>, CertError> {
        let nonce =
            Nonce::try_assume_unique_for_key(nonce).map_err(|_| CertError::DecryptionFailed)?;
        let mut buf = ciphertext_and_tag.to_vec();
        let plain = self
            .key(key)
            .map_err(|_| CertError::DecryptionFailed)?
            .open_in_place(nonce, Aad::from(aad), &mut buf)
            .map_err(|_| CertError::DecryptionFailed)?;
        let n = plain.len();
        buf.truncate(n);
        Ok(buf)
    }
}

/// Encrypt a content key to the RSA key of `recipient`'s certificate.
pub fn rsa_oaep_encrypt(
    recipient: &Certificate,
    t: KeyTransport,
    plaintext: &[u8],
) -> Result<Vec<u8>, CertError> {
    let public = PublicEncryptingKey::from_der(recipient.verifying_key().spki_der())
        .map_err(|e| CertError::UnsupportedKey(format!("not an RSA encryption key: {e}")))?;
    let key = OaepPublicEncryptingKey::new(public).map_err(|_| CertError::EncryptionFailed)?;
    let mut out = vec![0u8; key.ciphertext_size()];
    let n = key
        .encrypt(t.algorithm(), plaintext, &mut out, None)
        .map_err(|_| CertError::EncryptionFailed)?
        .len();
    out.truncate(n);
    Ok(out)
}

/// An RSA private key used to decrypt (an SP's, or the gateway's for JWE from banks).
pub struct DecryptionKey {
    key: OaepPrivateDecryptingKey,
}

impl std::fmt::Debug for DecryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DecryptionKey(RSA {} bits)", self.key.key_size_bits())
    }
}

impl DecryptionKey {
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, CertError> {
        let pk = PrivateDecryptingKey::from_pkcs8(der)
            .map_err(|e| CertError::KeyRejected(e.to_string()))?;
        if pk.key_size_bits() < 2048 {
            return Err(CertError::RsaKeyTooSmall {
                bits: pk.key_size_bits(),
            });
        }
        Ok(DecryptionKey {
            key: OaepPrivateDecryptingKey::new(pk)
                .map_err(|_| CertError::KeyRejected("OAEP".into()))?,
        })
    }

    pub fn from_pkcs8_pem(text: &str) -> Result<Self, CertError> {
        let block = pem::parse(text).map_err(|e| CertError::Pem(e.to_string()))?;
        if block.tag() != "PRIVATE KEY" {
            return Err(CertError::Pem(format!(
                "expected a PRIVATE KEY block, found {}",
                block.tag()
            )));
        }
        Self::from_pkcs8_der(block.contents())
    }

    pub fn decrypt(&self, t: KeyTransport, ciphertext: &[u8]) -> Result<Vec<u8>, CertError> {
        let mut out = vec![0u8; self.key.min_output_size()];
        let n = self
            .key
            .decrypt(t.algorithm(), ciphertext, &mut out, None)
            .map_err(|_| CertError::DecryptionFailed)?
            .len();
        out.truncate(n);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KeyKind, SigningIdentity, SystemRandomSource};

    fn rsa_pair() -> (Certificate, DecryptionKey) {
        let id = SigningIdentity::generate_self_signed(
            "enc",
            KeyKind::Rsa2048,
            time::OffsetDateTime::now_utc(),
            1,
        )
        .unwrap();
        let dk = DecryptionKey::from_pkcs8_der(&id.key.to_pkcs8_der().unwrap()).unwrap();
        (id.cert, dk)
    }

    #[test]
    fn oaep_roundtrip_and_wrong_key() {
        let (cert, dk) = rsa_pair();
        let (_, other) = rsa_pair();
        for t in [KeyTransport::RsaOaepSha1, KeyTransport::RsaOaepSha256] {
            let ct = rsa_oaep_encrypt(&cert, t, b"content key 32 bytes long.......").unwrap();
            assert_eq!(ct.len(), 256);
            assert_eq!(
                dk.decrypt(t, &ct).unwrap(),
                b"content key 32 bytes long......."
            );
            assert!(other.decrypt(t, &ct).is_err());
        }
        let ct = rsa_oaep_encrypt(&cert, KeyTransport::RsaOaepSha1, b"k").unwrap();
        assert!(
            dk.decrypt(KeyTransport::RsaOaepSha256, &ct).is_err(),
            "the OAEP hash must match"
        );
        assert!(format!("{dk:?}").contains("2048"));
    }

    #[test]
    fn ec_certificate_is_not_an_encryption_key() {
        let id = SigningIdentity::generate_self_signed(
            "ec",
            KeyKind::EcdsaP256,
            time::OffsetDateTime::now_utc(),
            1,
        )
        .unwrap();
        assert!(matches!(
            rsa_oaep_encrypt(&id.cert, KeyTransport::RsaOaepSha1, b"k"),
            Err(CertError::UnsupportedKey(_))
        ));
    }

    #[test]
    fn gcm_roundtrip_tamper_and_key_length() {
        for c in [ContentCipher::Aes128Gcm, ContentCipher::Aes256Gcm] {
            let key = vec![7u8; c.key_len()];
            let (nonce, ct) = c
                .seal(&key, b"aad", b"<saml:Assertion/>", &SystemRandomSource)
                .unwrap();
            assert_eq!(ct.len(), 17 + 16);
            assert_eq!(
                c.open(&key, &nonce, b"aad", &ct).unwrap(),
                b"<saml:Assertion/>"
            );
            let mut bad = ct.clone();
            bad[0] ^= 1;
            assert!(c.open(&key, &nonce, b"aad", &bad).is_err());
            assert!(c.open(&key, &nonce, b"other aad", &ct).is_err());
            assert!(c
                .open(&key[..c.key_len() - 1], &nonce, b"aad", &ct)
                .is_err());
            assert!(c.open(&key, &nonce[..11], b"aad", &ct).is_err());
        }
    }

    #[test]
    fn aes_gcm_known_answer() {
        // NIST GCM test vector (AES-128, Test Case 2 of the GCM spec): K=0, IV=0, P=0^16.
        let key = [0u8; 16];
        let ct = hex_decode("0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf");
        assert_eq!(
            ContentCipher::Aes128Gcm
                .open(&key, &[0u8; 12], b"", &ct)
                .unwrap(),
            vec![0u8; 16]
        );
    }

    fn hex_decode(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}
