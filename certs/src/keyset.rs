//! Signing identities (a key with its certificate) and key sets: what signs now, what signs next,
//! and what was retired but stays published until relying parties have had time to drop it.

use std::path::Path;

use time::{Duration, OffsetDateTime};

use crate::algorithms::SignatureAlgorithm;
use crate::cert::Certificate;
use crate::error::CertError;
use crate::keys::{KeyKind, SigningKey};
use crate::random::{RandomSource, SystemRandomSource};

/// A private key with the certificate that publishes its public half.
#[derive(Debug, Clone)]
pub struct SigningIdentity {
    pub key: SigningKey,
    pub cert: Certificate,
}

impl SigningIdentity {
    /// Pairs a key with a certificate, checking that the certificate carries the key's public half.
    pub fn new(key: SigningKey, cert: Certificate) -> Result<Self, CertError> {
        if !cert.verifying_key().same_key_as(&key.public_key_spki_der()) {
            return Err(CertError::KeyCertMismatch);
        }
        Ok(Self { key, cert })
    }

    /// Reads a PEM private key and a PEM certificate file. When the certificate file holds a chain,
    /// the first certificate is the one that must match the key.
    pub fn from_pem_files(key: &Path, cert: &Path) -> Result<Self, CertError> {
        let key_pem = std::fs::read_to_string(key).map_err(|e| CertError::io(key, e))?;
        let cert_pem = std::fs::read_to_string(cert).map_err(|e| CertError::io(cert, e))?;
        let signing_key = SigningKey::from_pkcs8_pem(&key_pem)?;
        let leaf = Certificate::from_pem(&cert_pem)?
            .into_iter()
            .next()
            .ok_or_else(|| CertError::Pem("no CERTIFICATE block".to_owned()))?;
        Self::new(signing_key, leaf)
    }

    /// A new key and a self-signed certificate for it (subject = issuer = `CN=<common_name>`,
    /// KeyUsage digitalSignature, not a CA), valid from `now - 1 day` (clock skew at relying parties)
    /// to `now + validity_days`.
    pub fn generate_self_signed(
        common_name: &str,
        kind: KeyKind,
        now: OffsetDateTime,
        validity_days: u32,
    ) -> Result<Self, CertError> {
        let key = SigningKey::generate(kind)?;
        let cert =
            self_signed_certificate(&key, common_name, now, validity_days, &SystemRandomSource)?;
        Self::new(key, cert)
    }
}

fn self_signed_certificate(
    key: &SigningKey,
    common_name: &str,
    now: OffsetDateTime,
    validity_days: u32,
    rng: &dyn RandomSource,
) -> Result<Certificate, CertError> {
    let generate_err = |e: rcgen::Error| CertError::Generate(e.to_string());
    let rcgen_alg = match key.algorithm() {
        SignatureAlgorithm::RsaSha256 => &rcgen::PKCS_RSA_SHA256,
        SignatureAlgorithm::EcdsaSha256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        SignatureAlgorithm::EcdsaSha384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        other => {
            return Err(CertError::Generate(format!(
                "no certificate signing for {other:?}"
            )))
        }
    };
    let key_pem = key.to_pkcs8_pem()?;
    let rcgen_key =
        rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(&key_pem, rcgen_alg).map_err(generate_err)?;

    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(i64::from(validity_days));
    params.is_ca = rcgen::IsCa::NoCa;
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    // A random positive 16-byte serial, so regenerated certificates do not share one.
    let mut serial = [0u8; 16];
    rng.fill(&mut serial)?;
    serial[0] &= 0x7f;
    serial[0] |= 0x40;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));

    let cert = params.self_signed(&rcgen_key).map_err(generate_err)?;
    Certificate::from_der(cert.der())
}

/// The keys of one signer. `active` signs; `next` is published ahead of a rollover so relying parties
/// already trust it when it becomes active; each retired certificate stays published until its
/// `publish_until` instant so that messages signed just before a rollover still verify.
#[derive(Debug, Clone)]
pub struct KeySet {
    active: SigningIdentity,
    next: Option<SigningIdentity>,
    retired: Vec<(Certificate, OffsetDateTime)>,
}

impl KeySet {
    pub fn new(active: SigningIdentity) -> Self {
        Self {
            active,
            next: None,
            retired: Vec::new(),
        }
    }

    pub fn with_next(mut self, next: SigningIdentity) -> Self {
        self.next = Some(next);
        self
    }

    pub fn with_retired(mut self, cert: Certificate, publish_until: OffsetDateTime) -> Self {
        self.retired.push((cert, publish_until));
        self
    }

    pub fn active(&self) -> &SigningIdentity {
        &self.active
    }

    pub fn next(&self) -> Option<&SigningIdentity> {
        self.next.as_ref()
    }

    /// Retired certificates with the instant their publication ends.
    pub fn retired(&self) -> &[(Certificate, OffsetDateTime)] {
        &self.retired
    }

    /// The certificates to publish in metadata (or a JWKS) at `now`: the active one, the next one, and each
    /// retired one whose window has not ended (`now < publish_until`). A certificate listed twice is published once.
    pub fn published_certificates(&self, now: OffsetDateTime) -> Vec<&Certificate> {
        let candidates = std::iter::once(&self.active.cert)
            .chain(self.next.as_ref().map(|next| &next.cert))
            .chain(
                self.retired
                    .iter()
                    .filter(|(_, until)| now < *until)
                    .map(|(cert, _)| cert),
            );
        let mut published: Vec<&Certificate> = Vec::new();
        for cert in candidates {
            if !published
                .iter()
                .any(|seen| seen.sha256_fingerprint() == cert.sha256_fingerprint())
            {
                published.push(cert);
            }
        }
        published
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2031-06-01 00:00:00 UTC);

    fn identity(cn: &str) -> SigningIdentity {
        SigningIdentity::generate_self_signed(cn, KeyKind::EcdsaP256, NOW, 365).unwrap()
    }

    fn temp_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "certs-keyset-{}",
            crate::random_id(&SystemRandomSource).unwrap()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn generated_identity_signs_what_its_certificate_verifies() {
        for kind in [KeyKind::Rsa2048, KeyKind::EcdsaP256] {
            let id = SigningIdentity::generate_self_signed("gw", kind, NOW, 10).unwrap();
            let sig = id.key.sign(b"data").unwrap();
            id.cert
                .verifying_key()
                .verify(id.key.algorithm(), b"data", &sig)
                .unwrap();
            assert!(!format!("{id:?}").contains(&id.key.to_pkcs8_pem().unwrap()[28..60]));
        }
    }

    #[test]
    fn new_refuses_a_certificate_for_another_key() {
        let a = identity("a");
        let b = identity("b");
        assert!(SigningIdentity::new(a.key.clone(), a.cert.clone()).is_ok());
        let err = SigningIdentity::new(a.key, b.cert).unwrap_err();
        assert!(matches!(err, CertError::KeyCertMismatch));
        assert_eq!(err.code(), "cert.key_cert_mismatch");
    }

    #[test]
    fn from_pem_files_loads_and_checks_the_pair() {
        let dir = temp_dir();
        let a = identity("a");
        let b = identity("b");
        let key_a = dir.join("a.key.pem");
        let cert_a = dir.join("a.crt.pem");
        let cert_b = dir.join("b.crt.pem");
        std::fs::write(&key_a, a.key.to_pkcs8_pem().unwrap()).unwrap();
        // A chain file: the leaf first, then something else.
        std::fs::write(&cert_a, format!("{}{}", a.cert.to_pem(), b.cert.to_pem())).unwrap();
        std::fs::write(&cert_b, b.cert.to_pem()).unwrap();

        let loaded = SigningIdentity::from_pem_files(&key_a, &cert_a).unwrap();
        assert_eq!(loaded.cert, a.cert);
        assert_eq!(
            loaded.key.public_key_spki_der(),
            a.key.public_key_spki_der()
        );

        assert!(matches!(
            SigningIdentity::from_pem_files(&key_a, &cert_b),
            Err(CertError::KeyCertMismatch)
        ));
        let missing = dir.join("missing.pem");
        let err = SigningIdentity::from_pem_files(&missing, &cert_a).unwrap_err();
        assert!(
            matches!(&err, CertError::Io { path, .. } if *path == missing),
            "{err:?}"
        );
        assert_eq!(err.code(), "cert.io");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn published_certificates_follow_the_windows() {
        let active = identity("active");
        let next = identity("next");
        let recent = identity("recent").cert;
        let old = identity("old").cert;
        let set = KeySet::new(active.clone())
            .with_next(next.clone())
            .with_retired(recent.clone(), NOW + time::Duration::days(7))
            .with_retired(old.clone(), NOW - time::Duration::seconds(1));

        assert_eq!(set.active().cert, active.cert);
        assert_eq!(set.next().map(|n| &n.cert), Some(&next.cert));
        assert_eq!(set.retired().len(), 2);

        let fingerprints = |now| -> Vec<[u8; 32]> {
            set.published_certificates(now)
                .iter()
                .map(|c| c.sha256_fingerprint())
                .collect()
        };
        assert_eq!(
            fingerprints(NOW),
            vec![
                active.cert.sha256_fingerprint(),
                next.cert.sha256_fingerprint(),
                recent.sha256_fingerprint()
            ]
        );
        // The window ends at publish_until.
        assert_eq!(
            fingerprints(NOW + time::Duration::days(7)),
            vec![
                active.cert.sha256_fingerprint(),
                next.cert.sha256_fingerprint()
            ]
        );
        assert_eq!(
            fingerprints(NOW - time::Duration::days(1)),
            vec![
                active.cert.sha256_fingerprint(),
                next.cert.sha256_fingerprint(),
                recent.sha256_fingerprint(),
                old.sha256_fingerprint()
            ]
        );
    }

    #[test]
    fn a_certificate_is_published_once() {
        let active = identity("active");
        let set = KeySet::new(active.clone())
            .with_retired(active.cert.clone(), NOW + time::Duration::days(1));
        assert_eq!(set.published_certificates(NOW), vec![&active.cert]);
        assert!(set.next().is_none());
    }
}
