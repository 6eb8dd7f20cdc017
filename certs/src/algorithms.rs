//! XML DSig algorithm identifiers. Only SHA-256 or stronger: SHA-1 URIs are not recognised at all,
//! so `from_uri` answering `None` is how a SHA-1 signature gets refused.

use aws_lc_rs::digest;

/// A signature algorithm on the allowlist.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    RsaSha256,
    RsaSha384,
    RsaSha512,
    EcdsaSha256,
    EcdsaSha384,
}

const RSA_SHA256_URI: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const RSA_SHA384_URI: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384";
const RSA_SHA512_URI: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512";
const ECDSA_SHA256_URI: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
const ECDSA_SHA384_URI: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384";

impl SignatureAlgorithm {
    pub const ALL: [Self; 5] = [
        Self::RsaSha256,
        Self::RsaSha384,
        Self::RsaSha512,
        Self::EcdsaSha256,
        Self::EcdsaSha384,
    ];

    /// The algorithm named by an XML DSig `SignatureMethod/@Algorithm`, if it is allowed.
    pub fn from_uri(uri: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.uri() == uri)
    }

    pub fn uri(self) -> &'static str {
        match self {
            Self::RsaSha256 => RSA_SHA256_URI,
            Self::RsaSha384 => RSA_SHA384_URI,
            Self::RsaSha512 => RSA_SHA512_URI,
            Self::EcdsaSha256 => ECDSA_SHA256_URI,
            Self::EcdsaSha384 => ECDSA_SHA384_URI,
        }
    }

    /// The JOSE `alg` name (RFC 7518), for JWS and JWKS.
    pub fn jws_name(self) -> &'static str {
        match self {
            Self::RsaSha256 => "RS256",
            Self::RsaSha384 => "RS384",
            Self::RsaSha512 => "RS512",
            Self::EcdsaSha256 => "ES256",
            Self::EcdsaSha384 => "ES384",
        }
    }

    pub fn digest_algorithm(self) -> DigestAlgorithm {
        match self {
            Self::RsaSha256 | Self::EcdsaSha256 => DigestAlgorithm::Sha256,
            Self::RsaSha384 | Self::EcdsaSha384 => DigestAlgorithm::Sha384,
            Self::RsaSha512 => DigestAlgorithm::Sha512,
        }
    }

    pub fn is_rsa(self) -> bool {
        matches!(self, Self::RsaSha256 | Self::RsaSha384 | Self::RsaSha512)
    }
}

/// A digest algorithm on the allowlist (XML DSig `DigestMethod`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    Sha256,
    Sha384,
    Sha512,
}

const SHA256_URI: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
const SHA384_URI: &str = "http://www.w3.org/2001/04/xmldsig-more#sha384";
const SHA512_URI: &str = "http://www.w3.org/2001/04/xmlenc#sha512";

impl DigestAlgorithm {
    pub const ALL: [Self; 3] = [Self::Sha256, Self::Sha384, Self::Sha512];

    pub fn from_uri(uri: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.uri() == uri)
    }

    pub fn uri(self) -> &'static str {
        match self {
            Self::Sha256 => SHA256_URI,
            Self::Sha384 => SHA384_URI,
            Self::Sha512 => SHA512_URI,
        }
    }

    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        digest::digest(self.aws_lc_algorithm(), data)
            .as_ref()
            .to_vec()
    }

    /// Output length in bytes.
    pub fn output_len(self) -> usize {
        self.aws_lc_algorithm().output_len()
    }

    fn aws_lc_algorithm(self) -> &'static digest::Algorithm {
        match self {
            Self::Sha256 => &digest::SHA256,
            Self::Sha384 => &digest::SHA384,
            Self::Sha512 => &digest::SHA512,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sha1_uris_are_refused() {
        for uri in [
            "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
            "http://www.w3.org/2000/09/xmldsig#dsa-sha1",
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1",
            "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256",
            "http://www.w3.org/2001/04/xmldsig-more#rsa-md5",
        ] {
            assert_eq!(SignatureAlgorithm::from_uri(uri), None, "{uri}");
        }
        assert_eq!(
            DigestAlgorithm::from_uri("http://www.w3.org/2000/09/xmldsig#sha1"),
            None
        );
        assert_eq!(
            DigestAlgorithm::from_uri("http://www.w3.org/2001/04/xmldsig-more#md5"),
            None
        );
    }

    #[test]
    fn near_misses_are_refused() {
        assert_eq!(SignatureAlgorithm::from_uri(""), None);
        assert_eq!(
            SignatureAlgorithm::from_uri("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256 "),
            None
        );
        assert_eq!(
            SignatureAlgorithm::from_uri("HTTP://www.w3.org/2001/04/xmldsig-more#rsa-sha256"),
            None
        );
        assert_eq!(
            DigestAlgorithm::from_uri("http://www.w3.org/2001/04/xmlenc#sha384"),
            None
        );
    }

    #[test]
    fn uris_round_trip() {
        for alg in SignatureAlgorithm::ALL {
            assert_eq!(SignatureAlgorithm::from_uri(alg.uri()), Some(alg));
        }
        for alg in DigestAlgorithm::ALL {
            assert_eq!(DigestAlgorithm::from_uri(alg.uri()), Some(alg));
        }
        assert_eq!(
            SignatureAlgorithm::from_uri("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"),
            Some(SignatureAlgorithm::RsaSha256)
        );
        assert_eq!(
            DigestAlgorithm::from_uri("http://www.w3.org/2001/04/xmlenc#sha256"),
            Some(DigestAlgorithm::Sha256)
        );
        assert_eq!(
            SignatureAlgorithm::EcdsaSha384.digest_algorithm(),
            DigestAlgorithm::Sha384
        );
        assert_eq!(
            SignatureAlgorithm::RsaSha512.digest_algorithm(),
            DigestAlgorithm::Sha512
        );
    }

    #[test]
    fn digests_match_known_vectors() {
        // FIPS 180-2 "abc" vectors.
        let sha256 = DigestAlgorithm::Sha256.digest(b"abc");
        assert_eq!(
            crate::random::lower_hex(&sha256),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(DigestAlgorithm::Sha384.digest(b"abc").len(), 48);
        assert_eq!(
            DigestAlgorithm::Sha512.digest(b"abc").len(),
            DigestAlgorithm::Sha512.output_len()
        );
    }
}
