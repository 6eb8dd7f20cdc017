//! XML Encryption of assertions: AES-GCM content encryption with an RSA-OAEP transported key,
//! to the SP's encryption certificate from its metadata; and the SP side's decryption.
//! CBC modes are neither produced nor accepted (padding-oracle class of attacks on XML Encryption).

use crate::error::SamlError;
use crate::xml::{self, is, XmlWriter, NS_DS, NS_SAML, NS_XENC};
use base64::Engine;
use certs::{Certificate, ContentCipher, DecryptionKey, KeyTransport, RandomSource};

pub const AES128_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes128-gcm";
pub const AES256_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes256-gcm";
pub const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
const SHA1_DIGEST: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
const TYPE_ELEMENT: &str = "http://www.w3.org/2001/04/xmlenc#Element";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Wrap a signed `saml:Assertion` (serialized, standalone) into a `saml:EncryptedAssertion`.
pub fn encrypt_assertion(
    assertion_xml: &str,
    recipient: &Certificate,
    rng: &dyn RandomSource,
) -> Result<String, SamlError> {
    let cipher = ContentCipher::Aes256Gcm;
    let mut key = vec![0u8; cipher.key_len()];
    rng.fill(&mut key)?;
    let (nonce, sealed) = cipher.seal(&key, b"", assertion_xml.as_bytes(), rng)?;
    let mut data = nonce.to_vec();
    data.extend_from_slice(&sealed);
    let wrapped = certs::rsa_oaep_encrypt(recipient, KeyTransport::RsaOaepSha1, &key)?;

    let mut w = XmlWriter::new();
    w.start("saml:EncryptedAssertion")
        .attr("xmlns:saml", NS_SAML);
    w.start("xenc:EncryptedData")
        .attr("xmlns:xenc", NS_XENC)
        .attr("Type", TYPE_ELEMENT);
    w.start("xenc:EncryptionMethod")
        .attr("Algorithm", AES256_GCM)
        .end();
    w.start("ds:KeyInfo").attr("xmlns:ds", NS_DS);
    w.start("xenc:EncryptedKey");
    w.start("xenc:EncryptionMethod")
        .attr("Algorithm", RSA_OAEP_MGF1P);
    w.start("ds:DigestMethod")
        .attr("Algorithm", SHA1_DIGEST)
        .end();
    w.end();
    w.start("xenc:CipherData")
        .leaf("xenc:CipherValue", &B64.encode(wrapped))
        .end();
    w.end().end();
    w.start("xenc:CipherData")
        .leaf("xenc:CipherValue", &B64.encode(data))
        .end();
    Ok(w.finish())
}

/// Decrypt an `saml:EncryptedAssertion` element with the SP's key; returns the assertion's XML,
/// which the caller parses strictly and whose signature it then verifies.
pub fn decrypt_assertion(
    enc: roxmltree::Node<'_, '_>,
    key: &DecryptionKey,
) -> Result<String, SamlError> {
    let data = xml::required_child(enc, NS_XENC, "EncryptedData")?;
    let method = xml::required_child(data, NS_XENC, "EncryptionMethod")?;
    let cipher = match method.attribute("Algorithm") {
        Some(AES128_GCM) => ContentCipher::Aes128Gcm,
        Some(AES256_GCM) => ContentCipher::Aes256Gcm,
        other => {
            return Err(SamlError::AlgorithmNotAllowed(
                crate::error::untrusted_text(other.unwrap_or("")),
            ))
        }
    };
    // The EncryptedKey sits in the data's KeyInfo, or beside EncryptedData (some SAML stacks).
    let ek = match xml::optional_child(data, NS_DS, "KeyInfo")? {
        Some(ki) => xml::optional_child(ki, NS_XENC, "EncryptedKey")?,
        None => None,
    };
    let ek = match ek {
        Some(e) => e,
        None => xml::required_child(enc, NS_XENC, "EncryptedKey")?,
    };
    let km = xml::required_child(ek, NS_XENC, "EncryptionMethod")?;
    if km.attribute("Algorithm") != Some(RSA_OAEP_MGF1P) {
        return Err(SamlError::AlgorithmNotAllowed(
            crate::error::untrusted_text(km.attribute("Algorithm").unwrap_or("")),
        ));
    }
    if let Some(dm) = xml::optional_child(km, NS_DS, "DigestMethod")? {
        if dm.attribute("Algorithm") != Some(SHA1_DIGEST) {
            return Err(SamlError::Unsupported(
                "RSA-OAEP with a digest other than SHA-1".into(),
            ));
        }
    }
    let wrapped = cipher_value(ek)?;
    let content_key = key.decrypt(KeyTransport::RsaOaepSha1, &wrapped)?;
    let blob = cipher_value(data)?;
    if blob.len() < 12 + 16 {
        return Err(SamlError::Invalid("ciphertext too short".into()));
    }
    let plain = cipher.open(&content_key, &blob[..12], b"", &blob[12..])?;
    String::from_utf8(plain)
        .map_err(|_| SamlError::Invalid("decrypted assertion is not UTF-8".into()))
}

fn cipher_value(parent: roxmltree::Node<'_, '_>) -> Result<Vec<u8>, SamlError> {
    let cd = xml::required_child(parent, NS_XENC, "CipherData")?;
    let cv = xml::required_child(cd, NS_XENC, "CipherValue")?;
    let text: String = xml::simple_text(cv)?
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    B64.decode(text.as_bytes())
        .map_err(|_| SamlError::Base64("CipherValue"))
}

/// Is `node` an EncryptedAssertion?
pub fn is_encrypted_assertion(node: roxmltree::Node<'_, '_>) -> bool {
    is(node, NS_SAML, "EncryptedAssertion")
}
