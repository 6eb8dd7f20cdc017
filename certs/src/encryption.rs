//! Public-key and symmetric encryption for XML Encryption (encrypted SAML assertions) and JWE:
//! RSA-OAEP key transport, AES-GCM, and AES-CBC with HMAC-SHA-256 (JWE `A128CBC-HS256`), on the one
//! crypto backend.

use crate::cert::Certificate;
use crate::error::CertError;
use crate::random::RandomSource;
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, AES_256_GCM};
use aws_lc_rs::cipher::{
    DecryptionContext, EncryptionContext, PaddedBlockDecryptingKey, PaddedBlockEncryptingKey,
    UnboundCipherKey, AES_128,
};
use aws_lc_rs::hmac;
use aws_lc_rs::iv::FixedLength;
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

/// AES-CBC with HMAC-SHA-2 as one authenticated cipher (RFC 7518 §5.2). The key is `MAC_KEY || ENC_KEY`;
/// the tag is the first half of `HMAC(MAC_KEY, AAD || IV || ciphertext || AL)`, AL being the AAD length in
/// bits as a 64-bit big-endian number. `open` checks the tag, in constant time, before it decrypts, so a
/// padding error can only ever follow a valid tag (no padding oracle).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CbcHmacCipher {
    /// JWE `A128CBC-HS256`: AES-128-CBC, HMAC-SHA-256 truncated to 16 bytes, 32-byte key.
    Aes128CbcHmacSha256,
}

impl CbcHmacCipher {
    pub const IV_LEN: usize = 16;

    pub fn key_len(self) -> usize {
        match self {
            CbcHmacCipher::Aes128CbcHmacSha256 => 32,
        }
    }

    pub fn tag_len(self) -> usize {
        match self {
            CbcHmacCipher::Aes128CbcHmacSha256 => 16,
        }
    }

    /// Encrypt with a fresh random IV.
    pub fn seal(
        self,
        key: &[u8],
        aad: &[u8],
        plaintext: &[u8],
        rng: &dyn RandomSource,
    ) -> Result<CbcHmacSealed, CertError> {
        let mut iv = [0u8; Self::IV_LEN];
        rng.fill(&mut iv)?;
        let (ciphertext, tag) = self.seal_with_iv(key, &iv, aad, plaintext)?;
        Ok(CbcHmacSealed {
            iv,
            ciphertext,
            tag,
        })
    }

    /// Authenticate, then decrypt. Every failure is the same `DecryptionFailed`.
    pub fn open(
        self,
        key: &[u8],
        iv: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
        tag: &[u8],
    ) -> Result<Vec<u8>, CertError> {
        let (mac_key, enc_key) = self
            .split_key(key)
            .map_err(|_| CertError::DecryptionFailed)?;
        let iv: [u8; 16] = iv.try_into().map_err(|_| CertError::DecryptionFailed)?;
        let expected = self
            .tag(mac_key, &iv, aad, ciphertext)
            .map_err(|_| CertError::DecryptionFailed)?;
        aws_lc_rs::constant_time::verify_slices_are_equal(&expected, tag)
            .map_err(|_| CertError::DecryptionFailed)?;
        let key = UnboundCipherKey::new(&AES_128, enc_key)
            .and_then(PaddedBlockDecryptingKey::cbc_pkcs7)
            .map_err(|_| CertError::DecryptionFailed)?;
        let mut buf = ciphertext.to_vec();
        let n = key
            .decrypt(&mut buf, DecryptionContext::Iv128(FixedLength::from(iv)))
            .map_err(|_| CertError::DecryptionFailed)?
            .len();
        buf.truncate(n);
        Ok(buf)
    }

    /// Deterministic in the IV: only for `seal` and for known-answer tests.
    fn seal_with_iv(
        self,
        key: &[u8],
        iv: &[u8; 16],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>), CertError> {
        let (mac_key, enc_key) = self.split_key(key)?;
        let cipher = UnboundCipherKey::new(&AES_128, enc_key)
            .and_then(PaddedBlockEncryptingKey::cbc_pkcs7)
            .map_err(|_| CertError::EncryptionFailed)?;
        let mut buf = plaintext.to_vec();
        cipher
            .less_safe_encrypt(&mut buf, EncryptionContext::Iv128(FixedLength::from(*iv)))
            .map_err(|_| CertError::EncryptionFailed)?;
        let tag = self.tag(mac_key, iv, aad, &buf)?;
        Ok((buf, tag))
    }

    fn split_key(self, key: &[u8]) -> Result<(&[u8], &[u8]), CertError> {
        if key.len() != self.key_len() {
            return Err(CertError::KeyRejected(format!(
                "{self:?} needs a {}-byte key",
                self.key_len()
            )));
        }
        Ok(key.split_at(self.key_len() / 2))
    }

    fn tag(
        self,
        mac_key: &[u8],
        iv: &[u8; 16],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, CertError> {
        let aad_bits = u64::try_from(aad.len())
            .ok()
            .and_then(|n| n.checked_mul(8))
            .ok_or(CertError::EncryptionFailed)?;
        let mut ctx = hmac::Context::with_key(&hmac::Key::new(hmac::HMAC_SHA256, mac_key));
        ctx.update(aad);
        ctx.update(iv);
        ctx.update(ciphertext);
        ctx.update(&aad_bits.to_be_bytes());
        let full = ctx.sign();
        Ok(full.as_ref()[..self.tag_len()].to_vec())
    }
}

/// What `CbcHmacCipher::seal` produces; JWE sends the three as separate parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CbcHmacSealed {
    pub iv: [u8; 16],
    pub ciphertext: Vec<u8>,
    pub tag: Vec<u8>,
}

/// Encrypt a content key to the RSA key of `recipient`'s certificate.
pub fn rsa_oaep_encrypt(
    recipient: &Certificate,
    t: KeyTransport,
    plaintext: &[u8],
) -> Result<Vec<u8>, CertError> {
    rsa_oaep_encrypt_to_spki(recipient.verifying_key().spki_der(), t, plaintext)
}

/// Encrypt a content key to an RSA public key given as DER SubjectPublicKeyInfo (a JWK's key, say).
pub fn rsa_oaep_encrypt_to_spki(
    spki_der: &[u8],
    t: KeyTransport,
    plaintext: &[u8],
) -> Result<Vec<u8>, CertError> {
    let public = PublicEncryptingKey::from_der(spki_der)
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

    /// RFC 7518 appendix B.1, the AES_128_CBC_HMAC_SHA_256 test case.
    const B1_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const B1_PLAINTEXT: &[u8] = b"A cipher system must not be required to be secret, and it must be able to fall into the hands of the enemy without inconvenience";
    const B1_IV: &str = "1af38c2dc2b96ffdd86694092341bc04";
    const B1_AAD: &[u8] = b"The second principle of Auguste Kerckhoffs";
    const B1_CIPHERTEXT: &str = "c80edfa32ddf39d5ef00c0b468834279a2e46a1b8049f792f76bfe54b903a9c9\
                                 a94ac9b47ad2655c5f10f9aef71427e2fc6f9b3f399a221489f16362c7032336\
                                 09d45ac69864e3321cf82935ac4096c86e133314c54019e8ca7980dfa4b9cf1b\
                                 384c486f3a54c51078158ee5d79de59fbd34d848b3d69550a67646344427ade5\
                                 4b8851ffb598f7f80074b9473c82e2db";
    const B1_TAG: &str = "652c3fa36b0a7c5b3219fab3a30bc1c4";

    #[test]
    fn cbc_hmac_rfc7518_b1_known_answer() {
        let c = CbcHmacCipher::Aes128CbcHmacSha256;
        let key = hex_decode(B1_KEY);
        let iv: [u8; 16] = hex_decode(B1_IV).try_into().unwrap();
        let ct = hex_decode(&B1_CIPHERTEXT.replace(' ', ""));
        let tag = hex_decode(B1_TAG);
        let (sealed, sealed_tag) = c.seal_with_iv(&key, &iv, B1_AAD, B1_PLAINTEXT).unwrap();
        assert_eq!(sealed, ct);
        assert_eq!(sealed_tag, tag);
        assert_eq!(c.open(&key, &iv, B1_AAD, &ct, &tag).unwrap(), B1_PLAINTEXT);
    }

    #[test]
    fn cbc_hmac_refuses_every_tampering() {
        let c = CbcHmacCipher::Aes128CbcHmacSha256;
        let key = hex_decode(B1_KEY);
        let iv = hex_decode(B1_IV);
        let ct = hex_decode(&B1_CIPHERTEXT.replace(' ', ""));
        let tag = hex_decode(B1_TAG);
        let failed = |r: Result<Vec<u8>, CertError>| matches!(r, Err(CertError::DecryptionFailed));
        for i in [0, ct.len() - 17, ct.len() - 1] {
            let mut bad = ct.clone();
            bad[i] ^= 1;
            assert!(failed(c.open(&key, &iv, B1_AAD, &bad, &tag)), "byte {i}");
        }
        let mut bad_tag = tag.clone();
        bad_tag[15] ^= 0x80;
        assert!(failed(c.open(&key, &iv, B1_AAD, &ct, &bad_tag)));
        assert!(
            failed(c.open(&key, &iv, B1_AAD, &ct, &tag[..15])),
            "truncated tag"
        );
        assert!(failed(c.open(&key, &iv, B1_AAD, &ct, &[])), "empty tag");
        let mut long_tag = tag.clone();
        long_tag.push(0);
        assert!(failed(c.open(&key, &iv, B1_AAD, &ct, &long_tag)));
        assert!(failed(c.open(
            &key,
            &iv,
            b"The second principle of Auguste Kerckhoffz",
            &ct,
            &tag
        )));
        assert!(failed(c.open(&key, &iv, b"", &ct, &tag)));
        let mut bad_iv = iv.clone();
        bad_iv[0] ^= 1;
        assert!(failed(c.open(&key, &bad_iv, B1_AAD, &ct, &tag)));
        assert!(failed(c.open(&key, &iv[..15], B1_AAD, &ct, &tag)));
        assert!(failed(c.open(&key[..16], &iv, B1_AAD, &ct, &tag)));
        let mut other_key = key.clone();
        other_key[31] ^= 1;
        assert!(failed(c.open(&other_key, &iv, B1_AAD, &ct, &tag)));
        assert!(failed(c.open(
            &key,
            &iv,
            B1_AAD,
            &ct[..ct.len() - 16],
            &tag
        )));
    }

    #[test]
    fn cbc_hmac_bad_padding_under_a_valid_tag_is_the_same_error() {
        // Encrypt a block whose last byte is not valid PKCS#7 padding, then MAC it correctly: only the
        // attacker-proof path (valid tag) can reach the padding check, and it still answers DecryptionFailed.
        let c = CbcHmacCipher::Aes128CbcHmacSha256;
        let key = hex_decode(B1_KEY);
        let iv = [9u8; 16];
        // One full block of plaintext ending in 0x00 (invalid padding), encrypted raw with CBC.
        let raw = aws_lc_rs::cipher::EncryptingKey::cbc(
            UnboundCipherKey::new(&AES_128, &key[16..]).unwrap(),
        )
        .unwrap();
        let mut block = [0u8; 16];
        raw.less_safe_encrypt(&mut block, EncryptionContext::Iv128(FixedLength::from(iv)))
            .unwrap();
        let tag = c.tag(&key[..16], &iv, b"", &block).unwrap();
        assert!(matches!(
            c.open(&key, &iv, b"", &block, &tag),
            Err(CertError::DecryptionFailed)
        ));
    }

    #[test]
    fn cbc_hmac_roundtrip_with_random_iv() {
        let c = CbcHmacCipher::Aes128CbcHmacSha256;
        let key = [3u8; 32];
        for len in [0usize, 1, 15, 16, 17, 1000] {
            let msg = vec![0x5a; len];
            let sealed = c.seal(&key, b"hdr", &msg, &SystemRandomSource).unwrap();
            assert_eq!(sealed.ciphertext.len(), (len / 16 + 1) * 16);
            assert_eq!(sealed.tag.len(), 16);
            assert_eq!(
                c.open(&key, &sealed.iv, b"hdr", &sealed.ciphertext, &sealed.tag)
                    .unwrap(),
                msg
            );
        }
        let first = c.seal(&key, b"", b"x", &SystemRandomSource).unwrap();
        let second = c.seal(&key, b"", b"x", &SystemRandomSource).unwrap();
        assert_ne!(first.iv, second.iv);
        assert!(matches!(
            c.seal(&key[..16], b"", b"x", &SystemRandomSource),
            Err(CertError::KeyRejected(_))
        ));
    }

    #[test]
    fn oaep_to_spki_matches_certificate_path() {
        let (cert, dk) = rsa_pair();
        let ct = rsa_oaep_encrypt_to_spki(
            cert.verifying_key().spki_der(),
            KeyTransport::RsaOaepSha256,
            b"cek",
        )
        .unwrap();
        assert_eq!(
            dk.decrypt(KeyTransport::RsaOaepSha256, &ct).unwrap(),
            b"cek"
        );
        assert!(rsa_oaep_encrypt_to_spki(b"junk", KeyTransport::RsaOaepSha1, b"k").is_err());
    }

    fn hex_decode(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}
