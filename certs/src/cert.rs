//! X.509 certificates: parsed once with x509-parser, then kept as plain values.

use std::fmt;

use base64::Engine as _;
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer as _, X509Certificate};

use crate::error::CertError;
use crate::keys::{pem_encode, VerifyingKey};
use crate::random::lower_hex;

/// A parsed certificate. Building one checks that its public key is acceptable for verification
/// (see `VerifyingKey`), so a certificate with, say, a 1024-bit RSA key cannot be held at all.
#[derive(Clone, PartialEq, Eq)]
pub struct Certificate {
    der: Vec<u8>,
    subject: String,
    issuer: String,
    serial_hex: String,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    digital_signature_allowed: bool,
    key: VerifyingKey,
    sha256_fingerprint: [u8; 32],
}

impl Certificate {
    /// Parses one DER certificate; bytes after it are refused.
    pub fn from_der(der: &[u8]) -> Result<Self, CertError> {
        let (rest, x509) = X509Certificate::from_der(der)
            .map_err(|e| CertError::CertificateParse(e.to_string()))?;
        if !rest.is_empty() {
            return Err(CertError::CertificateParse(format!(
                "{} trailing bytes after the certificate",
                rest.len()
            )));
        }
        let key = VerifyingKey::from_spki_der(x509.public_key().raw)?;
        let key_usage = x509
            .key_usage()
            .map_err(|e| CertError::CertificateParse(format!("KeyUsage extension: {e}")))?;
        // No KeyUsage extension means no restriction (RFC 5280 4.2.1.3).
        let digital_signature_allowed = key_usage.is_none_or(|ku| ku.value.digital_signature());
        let mut sha256_fingerprint = [0u8; 32];
        sha256_fingerprint
            .copy_from_slice(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der).as_ref());
        Ok(Self {
            subject: x509.subject().to_string(),
            issuer: x509.issuer().to_string(),
            serial_hex: lower_hex(x509.raw_serial()),
            not_before: x509.validity().not_before.to_datetime(),
            not_after: x509.validity().not_after.to_datetime(),
            digital_signature_allowed,
            key,
            sha256_fingerprint,
            der: der.to_vec(),
        })
    }

    /// Parses every `CERTIFICATE` block in `pem`, in order; other blocks are ignored. At least one is required.
    pub fn from_pem(pem: &str) -> Result<Vec<Self>, CertError> {
        let blocks = pem::parse_many(pem).map_err(|e| CertError::Pem(e.to_string()))?;
        let certs = blocks
            .iter()
            .filter(|block| block.tag() == "CERTIFICATE")
            .map(|block| Self::from_der(block.contents()))
            .collect::<Result<Vec<_>, _>>()?;
        if certs.is_empty() {
            return Err(CertError::Pem("no CERTIFICATE block".to_owned()));
        }
        Ok(certs)
    }

    /// Parses the text of a `ds:X509Certificate` element: standard base64 (padded) of the DER,
    /// with any ASCII whitespace (line breaks, indentation) ignored.
    pub fn from_base64(b64: &str) -> Result<Self, CertError> {
        let compact: Vec<u8> = b64.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|e| CertError::Base64(e.to_string()))?;
        Self::from_der(&der)
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// Standard base64 of the DER on one line, as written into `ds:X509Certificate`.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.der)
    }

    pub fn to_pem(&self) -> String {
        pem_encode("CERTIFICATE", &self.der)
    }

    /// The subject DN in RFC 4514 style, e.g. `CN=gateway, O=Example`.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The serial number's DER content octets in lowercase hex.
    pub fn serial_hex(&self) -> &str {
        &self.serial_hex
    }

    pub fn not_before(&self) -> OffsetDateTime {
        self.not_before
    }

    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }

    pub fn sha256_fingerprint(&self) -> [u8; 32] {
        self.sha256_fingerprint
    }

    /// The SHA-256 fingerprint in lowercase hex without separators.
    pub fn sha256_fingerprint_hex(&self) -> String {
        lower_hex(&self.sha256_fingerprint)
    }

    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// False only when a KeyUsage extension is present and lacks digitalSignature.
    pub fn allows_digital_signature(&self) -> bool {
        self.digital_signature_allowed
    }

    /// Valid from `not_before` through `not_after`, both inclusive (RFC 5280 4.1.2.5).
    pub fn check_validity(&self, now: OffsetDateTime) -> Result<(), CertError> {
        if now < self.not_before {
            return Err(CertError::NotYetValid {
                now,
                not_before: self.not_before,
            });
        }
        if now > self.not_after {
            return Err(CertError::Expired {
                now,
                not_after: self.not_after,
            });
        }
        Ok(())
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.subject)
            .field("issuer", &self.issuer)
            .field("serial", &self.serial_hex)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .field("key", &self.key.kind())
            .field("sha256", &self.sha256_fingerprint_hex())
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{Clock as _, FixedClock, KeyKind, SigningIdentity};
    use time::macros::datetime;
    use time::Duration;

    /// A self-signed certificate for a 1024-bit RSA key, made once with
    /// `openssl req -x509 -new -key <1024-bit key> -subj /CN=weak-rsa-1024 -days 36500 -outform DER | base64`.
    const WEAK_RSA_1024_CERT_B64: &str = "
        MIICDjCCAXegAwIBAgIUTgwJL6OZqa0+P1ZJNYxcOBaujfYwDQYJKoZIhvcNAQELBQAwGDEWMBQGA1UEAwwNd2Vhay1yc2EtMTAy
        NDAgFw0yNjExMjExMzM5MDNaGA8yMTI2MTAyODEzMzkwM1owGDEWMBQGA1UEAwwNd2Vhay1yc2EtMTAyNDCBnzANBgkqhkiG9w0B
        AQEFAAOBjQAwgYkCgYEAzVAhC5ugIbKgCeHvMjlVVEUF6nfGhXl4Lp+wcwtAHYrWH8X8mLLUCGpqR+quoKA3lSCLgxOuNQkzX462
        iC3lOdEPJPRutiyvopOoUSb6/Aby0AYi+PnssdJDAWI9qPcrweFE3kAlNJYNdROPIM6NQgV+PFEf+NnzZZmugSK5GfUCAwEAAaNT
        MFEwHQYDVR0OBBYEFNZnAhqmCp/gS9+zUTOraS340I3QMB8GA1UdIwQYMBaAFNZnAhqmCp/gS9+zUTOraS340I3QMA8GA1UdEwEB
        /wQFMAMBAf8wDQYJKoZIhvcNAQELBQADgYEAN5lVE2i2I/AGCyaLHPzAlHbJwSXlboO0yY4SlDBnIxvAzveVAwOIAVLX/vRUOfyZ
        4UA0s+KH/hlTl8nTyrzQreQ6Wc6jOSVDBrd1EnIjOeGlEK0eELDpOv4OD5TmohoMbS+2LUvA4VeTlpoTAJ+99JfraXpFeqOBdn7u
        iXuKWzE=";

    const NOW: OffsetDateTime = datetime!(2030-01-15 12:00:00 UTC);

    fn identity(kind: KeyKind) -> SigningIdentity {
        SigningIdentity::generate_self_signed("idp.example.test", kind, NOW, 30).unwrap()
    }

    #[test]
    fn der_pem_base64_roundtrips() {
        for kind in [KeyKind::Rsa2048, KeyKind::EcdsaP256] {
            let cert = identity(kind).cert;
            assert_eq!(Certificate::from_der(cert.der()).unwrap(), cert);

            let pem = cert.to_pem();
            assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
            assert_eq!(Certificate::from_pem(&pem).unwrap(), vec![cert.clone()]);

            let b64 = cert.to_base64();
            assert!(!b64.contains(['\n', ' ']));
            assert_eq!(Certificate::from_base64(&b64).unwrap(), cert);
        }
    }

    #[test]
    fn base64_as_found_in_xml_is_accepted() {
        let cert = identity(KeyKind::EcdsaP256).cert;
        let b64 = cert.to_base64();
        let wrapped: String = b64
            .as_bytes()
            .chunks(64)
            .map(|line| format!("\r\n\t    {}", std::str::from_utf8(line).unwrap()))
            .collect();
        assert_eq!(
            Certificate::from_base64(&format!("{wrapped}\n  ")).unwrap(),
            cert
        );
    }

    #[test]
    fn trailing_garbage_is_refused() {
        let cert = identity(KeyKind::EcdsaP256).cert;
        let mut der = cert.der().to_vec();
        der.push(0);
        let err = Certificate::from_der(&der).unwrap_err();
        assert!(matches!(err, CertError::CertificateParse(_)), "{err:?}");
        assert_eq!(err.code(), "cert.certificate_parse");

        let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
        assert!(matches!(
            Certificate::from_base64(&b64),
            Err(CertError::CertificateParse(_))
        ));
        // Two certificates back to back are not one certificate either.
        let doubled = [cert.der(), cert.der()].concat();
        assert!(Certificate::from_der(&doubled).is_err());
    }

    #[test]
    fn malformed_input_is_refused() {
        assert!(matches!(
            Certificate::from_der(b""),
            Err(CertError::CertificateParse(_))
        ));
        assert!(matches!(
            Certificate::from_der(b"\x30\x03\x02\x01\x00"),
            Err(CertError::CertificateParse(_))
        ));
        assert!(matches!(
            Certificate::from_base64("MII*"),
            Err(CertError::Base64(_))
        ));
        let cert = identity(KeyKind::EcdsaP256).cert;
        let unpadded = cert.to_base64().trim_end_matches('=').to_owned();
        if unpadded.len() != cert.to_base64().len() {
            assert!(matches!(
                Certificate::from_base64(&unpadded),
                Err(CertError::Base64(_))
            ));
        }
        let truncated = &cert.der()[..cert.der().len() - 10];
        assert!(Certificate::from_der(truncated).is_err());
    }

    #[test]
    fn from_pem_takes_every_certificate_and_needs_one() {
        let a = identity(KeyKind::EcdsaP256);
        let b = identity(KeyKind::EcdsaP256).cert;
        let bundle = format!(
            "leading text\n{}{}{}",
            a.cert.to_pem(),
            a.key.to_pkcs8_pem().unwrap(),
            b.to_pem()
        );
        assert_eq!(
            Certificate::from_pem(&bundle).unwrap(),
            vec![a.cert.clone(), b]
        );
        assert!(matches!(
            Certificate::from_pem(&a.key.to_pkcs8_pem().unwrap()),
            Err(CertError::Pem(_))
        ));
        assert!(matches!(Certificate::from_pem(""), Err(CertError::Pem(_))));
    }

    #[test]
    fn fields_are_read() {
        let id = identity(KeyKind::Rsa2048);
        let cert = &id.cert;
        assert_eq!(cert.subject(), "CN=idp.example.test");
        assert_eq!(cert.issuer(), "CN=idp.example.test");
        assert_eq!(cert.not_before(), NOW - Duration::days(1));
        assert_eq!(cert.not_after(), NOW + Duration::days(30));
        assert_eq!(cert.serial_hex().len(), 32);
        assert!(cert.allows_digital_signature());
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, cert.der());
        assert_eq!(cert.sha256_fingerprint().as_slice(), digest.as_ref());
        assert_eq!(cert.sha256_fingerprint_hex().len(), 64);
        let sig = id.key.sign(b"msg").unwrap();
        cert.verifying_key()
            .verify(id.key.algorithm(), b"msg", &sig)
            .unwrap();
        let debug = format!("{cert:?}");
        assert!(
            debug.contains("CN=idp.example.test") && debug.len() < 400,
            "{debug}"
        );
    }

    #[test]
    fn validity_window_is_checked() {
        let cert = identity(KeyKind::EcdsaP256).cert;
        cert.check_validity(FixedClock(NOW).now()).unwrap();
        cert.check_validity(cert.not_before()).unwrap();
        cert.check_validity(cert.not_after()).unwrap();

        let early = NOW - Duration::days(2);
        let err = cert.check_validity(early).unwrap_err();
        assert!(
            matches!(err, CertError::NotYetValid { now, not_before } if now == early && not_before == NOW - Duration::days(1)),
            "{err:?}"
        );
        assert_eq!(err.code(), "cert.not_yet_valid");

        let late = cert.not_after() + Duration::seconds(1);
        let err = cert.check_validity(late).unwrap_err();
        assert!(
            matches!(err, CertError::Expired { now, not_after } if now == late && not_after == NOW + Duration::days(30)),
            "{err:?}"
        );
        assert_eq!(err.code(), "cert.expired");
    }

    #[test]
    fn certificate_with_weak_rsa_key_is_refused() {
        let err = Certificate::from_base64(WEAK_RSA_1024_CERT_B64).unwrap_err();
        assert!(
            matches!(err, CertError::RsaKeyTooSmall { bits: 1024 }),
            "{err:?}"
        );
    }
}
