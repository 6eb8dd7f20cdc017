//! Randomness, injectable so tests can pin identifiers.

use std::sync::Mutex;

use base64::Engine as _;

use crate::error::CertError;

pub trait RandomSource: Send + Sync {
    fn fill(&self, buf: &mut [u8]) -> Result<(), CertError>;
}

/// The operating system's CSPRNG, through aws-lc-rs.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemRandomSource;

impl RandomSource for SystemRandomSource {
    fn fill(&self, buf: &mut [u8]) -> Result<(), CertError> {
        aws_lc_rs::rand::fill(buf).map_err(|_| CertError::Random)
    }
}

/// A deterministic, NOT cryptographically secure source (splitmix64) for tests and golden files.
/// Never use it outside tests: every identifier it yields is predictable from the seed.
#[derive(Debug)]
pub struct SeededRandomSource {
    state: Mutex<u64>,
}

impl SeededRandomSource {
    pub fn new(seed: u64) -> Self {
        Self {
            state: Mutex::new(seed),
        }
    }
}

impl RandomSource for SeededRandomSource {
    fn fill(&self, buf: &mut [u8]) -> Result<(), CertError> {
        let mut state = self.state.lock().map_err(|_| CertError::Random)?;
        for chunk in buf.chunks_mut(8) {
            *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = *state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            let bytes = z.to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(())
    }
}

impl<R: RandomSource + ?Sized> RandomSource for std::sync::Arc<R> {
    fn fill(&self, buf: &mut [u8]) -> Result<(), CertError> {
        (**self).fill(buf)
    }
}

impl<R: RandomSource + ?Sized> RandomSource for Box<R> {
    fn fill(&self, buf: &mut [u8]) -> Result<(), CertError> {
        (**self).fill(buf)
    }
}

/// A fresh XML ID: `_` followed by 40 lowercase hex digits (160 bits).
/// The leading underscore makes it a valid xs:ID (an NCName cannot start with a digit).
pub fn random_id(rng: &dyn RandomSource) -> Result<String, CertError> {
    let mut bytes = [0u8; 20];
    rng.fill(&mut bytes)?;
    let mut id = String::with_capacity(1 + 2 * bytes.len());
    id.push('_');
    id.push_str(&lower_hex(&bytes));
    Ok(id)
}

/// A fresh opaque token (cookies, session IDs): 32 random bytes, base64url without padding (43 characters).
pub fn random_token(rng: &dyn RandomSource) -> Result<String, CertError> {
    let mut bytes = [0u8; 32];
    rng.fill(&mut bytes)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

pub(crate) fn lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(2 * bytes.len());
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn random_id_has_xs_id_format() {
        let id = random_id(&SystemRandomSource).unwrap();
        assert_eq!(id.len(), 41);
        assert!(id.starts_with('_'));
        assert!(id[1..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_ne!(id, random_id(&SystemRandomSource).unwrap());
    }

    #[test]
    fn random_token_is_base64url_of_32_bytes() {
        let token = random_token(&SystemRandomSource).unwrap();
        assert_eq!(token.len(), 43);
        assert!(token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&token)
            .unwrap();
        assert_eq!(decoded.len(), 32);
    }

    #[test]
    fn seeded_source_is_deterministic_and_advances() {
        let a = SeededRandomSource::new(7);
        let b = SeededRandomSource::new(7);
        let first = random_id(&a).unwrap();
        assert_eq!(first, random_id(&b).unwrap());
        assert_ne!(first, random_id(&a).unwrap());
        assert_ne!(first, random_id(&SeededRandomSource::new(8)).unwrap());
    }

    #[test]
    fn lower_hex_encodes() {
        assert_eq!(lower_hex(&[0x00, 0xab, 0x7f]), "00ab7f");
    }
}
