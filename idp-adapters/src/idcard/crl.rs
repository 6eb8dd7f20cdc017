//! Certificate revocation lists: verified against the configured CA certificates before they are
//! installed, one current CRL per issuer, never replaced by an older or unverifiable one.
//!
//! Fetching (URLs, files) is the gateway's job; this module decides what a fetched CRL is worth
//! and when the next fetch is due. The path validator gives the installed CRLs to webpki, which
//! checks them again (signature, nextUpdate) at every login, so a CRL that goes stale while its
//! source is down fails closed.

use std::sync::Arc;

use time::{Duration, OffsetDateTime};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::revocation_list::CertificateRevocationList;

use super::error::CrlError;

/// Largest CRL accepted (national CAs publish CRLs of a few MiB).
pub const MAX_CRL_BYTES: usize = 32 * 1024 * 1024;

/// A CRL whose signature verified with a configured CA's key. A proof type: only
/// [`VerifiedCrl::verify`] makes one.
#[derive(Clone)]
pub struct VerifiedCrl {
    der: Arc<[u8]>,
    /// Parsed once, here: the validator hands this to webpki at every login (a serial lookup
    /// in a map, instead of re-parsing a CRL that may hold 100,000 entries).
    parsed: Arc<webpki::CertRevocationList<'static>>,
    issuer: Vec<u8>,
    issuer_name: String,
    this_update: OffsetDateTime,
    next_update: OffsetDateTime,
    revoked_count: usize,
}

impl std::fmt::Debug for VerifiedCrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedCrl")
            .field("issuer", &self.issuer_name)
            .field("this_update", &self.this_update)
            .field("next_update", &self.next_update)
            .field("revoked", &self.revoked_count)
            .finish()
    }
}

impl VerifiedCrl {
    /// Parse (DER, or PEM `X509 CRL`), find the issuer among `cas` by name, and verify the
    /// signature with that CA's key (every CA of that name is tried: a re-keyed CA keeps its
    /// name). A CRL that is stale or not yet valid at `now` is refused, as are delta and
    /// indirect CRLs (webpki does not process them, so accepting one would fail every login).
    pub fn verify(bytes: &[u8], cas: &[Vec<u8>], now: OffsetDateTime) -> Result<Self, CrlError> {
        let crl = Self::verify_signed(bytes, cas)?;
        crl.check_current(now)?;
        Ok(crl)
    }

    /// Everything [`VerifiedCrl::verify`] checks except the time: for a CRL recorded earlier,
    /// whose thisUpdate still counts as the newest seen for its issuer after its nextUpdate
    /// passed. Such a CRL is never installed unless [`VerifiedCrl::check_current`] passes too.
    pub fn verify_signed(bytes: &[u8], cas: &[Vec<u8>]) -> Result<Self, CrlError> {
        if bytes.len() > MAX_CRL_BYTES {
            return Err(CrlError::TooLarge {
                len: bytes.len(),
                max: MAX_CRL_BYTES,
            });
        }
        let der = der_of(bytes)?;
        let (rest, crl) = CertificateRevocationList::from_der(&der)
            .map_err(|e| CrlError::Malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(CrlError::Malformed("trailing data".into()));
        }
        // webpki must be able to use it too; parse it the way the validator will.
        let parsed = webpki::OwnedCertRevocationList::from_der(&der).map_err(|e| match e {
            webpki::Error::UnsupportedDeltaCrl
            | webpki::Error::UnsupportedIndirectCrl
            | webpki::Error::UnsupportedCrlIssuingDistributionPoint => CrlError::Unsupported,
            other => CrlError::Malformed(format!("{other:?}")),
        })?;
        let issuer = crl.issuer().as_raw().to_vec();
        let issuer_name = crl.issuer().to_string();
        let this_update = to_time(crl.last_update())?;
        let next_update = to_time(crl.next_update().ok_or(CrlError::NoNextUpdate)?)?;

        let candidates: Vec<X509Certificate<'_>> = cas
            .iter()
            .filter_map(|ca| X509Certificate::from_der(ca).ok().map(|(_, c)| c))
            .filter(|ca| ca.subject().as_raw() == issuer.as_slice())
            .collect();
        if candidates.is_empty() {
            return Err(CrlError::UnknownIssuer {
                issuer: issuer_name,
            });
        }
        let algs = algorithms_for(&crl.signature_algorithm.algorithm.to_id_string())?;
        let tbs = crl.tbs_cert_list.as_ref();
        let signature = crl.signature_value.data.as_ref();
        let verified = candidates.iter().any(|ca| {
            let key = ca.public_key().subject_public_key.data.as_ref();
            algs.iter()
                .any(|alg| alg.verify_signature(key, tbs, signature).is_ok())
        });
        if !verified {
            return Err(CrlError::BadSignature {
                issuer: issuer_name,
            });
        }
        Ok(Self {
            revoked_count: crl.iter_revoked_certificates().count(),
            parsed: Arc::new(webpki::CertRevocationList::Owned(parsed)),
            der: der.into(),
            issuer,
            issuer_name,
            this_update,
            next_update,
        })
    }

    /// Refused when stale at `now`, or not yet valid (beyond five minutes of clock skew).
    pub fn check_current(&self, now: OffsetDateTime) -> Result<(), CrlError> {
        if self.this_update > now + Duration::minutes(5) {
            return Err(CrlError::NotYetValid {
                this_update: self.this_update.to_string(),
            });
        }
        if self.next_update <= now {
            return Err(CrlError::Stale {
                next_update: self.next_update.to_string(),
            });
        }
        Ok(())
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The issuer's name, DER (the subject of the CA that signed it).
    pub fn issuer(&self) -> &[u8] {
        &self.issuer
    }

    /// The CRL as webpki uses it.
    pub fn parsed(&self) -> &webpki::CertRevocationList<'static> {
        &self.parsed
    }

    pub fn issuer_name(&self) -> &str {
        &self.issuer_name
    }

    pub fn this_update(&self) -> OffsetDateTime {
        self.this_update
    }

    pub fn next_update(&self) -> OffsetDateTime {
        self.next_update
    }

    pub fn revoked_count(&self) -> usize {
        self.revoked_count
    }

    /// When to fetch a fresh copy: three quarters of the way from thisUpdate to nextUpdate, but
    /// never later than `max_interval` from `now`, and never sooner than a minute.
    pub fn refresh_due(&self, now: OffsetDateTime, max_interval: Duration) -> OffsetDateTime {
        let window = self.next_update - self.this_update;
        let planned = self.this_update + window * 0.75_f64;
        planned
            .min(now + max_interval)
            .max(now + Duration::minutes(1))
    }
}

/// The installed CRLs, one per issuer name, and per issuer the newest thisUpdate seen in a
/// verified CRL that is no longer installed (one recorded before a restart whose nextUpdate has
/// passed): no CRL older than either is installed.
#[derive(Clone, Debug, Default)]
pub struct CrlSet {
    crls: Vec<VerifiedCrl>,
    floors: Vec<(Vec<u8>, OffsetDateTime)>,
}

/// What [`CrlSet::install`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Installed {
    /// The first CRL for this issuer.
    New,
    /// Replaced an older CRL.
    Replaced,
    /// The same thisUpdate as the installed one: nothing changed.
    Unchanged,
}

impl CrlSet {
    /// Install a verified CRL unless it is older than the one held for its issuer (a replayed
    /// old CRL could un-revoke a certificate).
    pub fn install(&mut self, crl: VerifiedCrl) -> Result<Installed, CrlError> {
        if self
            .floors
            .iter()
            .any(|(issuer, floor)| *issuer == crl.issuer && crl.this_update < *floor)
        {
            return Err(CrlError::Older {
                this_update: crl.this_update.to_string(),
            });
        }
        match self.crls.iter_mut().find(|c| c.issuer == crl.issuer) {
            None => {
                self.crls.push(crl);
                Ok(Installed::New)
            }
            Some(current) if crl.this_update < current.this_update => Err(CrlError::Older {
                this_update: crl.this_update.to_string(),
            }),
            Some(current) if crl.this_update == current.this_update => Ok(Installed::Unchanged),
            Some(current) => {
                *current = crl;
                Ok(Installed::Replaced)
            }
        }
    }

    /// Remember `crl`'s thisUpdate as the oldest acceptable for its issuer (never lowering it).
    pub fn raise_floor(&mut self, crl: &VerifiedCrl) {
        match self.floors.iter_mut().find(|(i, _)| *i == crl.issuer) {
            Some((_, floor)) => *floor = (*floor).max(crl.this_update),
            None => self.floors.push((crl.issuer.clone(), crl.this_update)),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &VerifiedCrl> {
        self.crls.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.crls.is_empty()
    }

    pub fn len(&self) -> usize {
        self.crls.len()
    }
}

/// PEM (`-----BEGIN X509 CRL-----`) or DER.
fn der_of(bytes: &[u8]) -> Result<Vec<u8>, CrlError> {
    let trimmed = bytes.trim_ascii_start();
    if !trimmed.starts_with(b"-----BEGIN") {
        return Ok(bytes.to_vec());
    }
    let parsed = pem::parse(trimmed).map_err(|e| CrlError::Malformed(e.to_string()))?;
    if parsed.tag() != "X509 CRL" {
        return Err(CrlError::Malformed(format!(
            "PEM block {:?}, expected X509 CRL",
            parsed.tag()
        )));
    }
    Ok(parsed.into_contents())
}

fn to_time(t: x509_parser::time::ASN1Time) -> Result<OffsetDateTime, CrlError> {
    OffsetDateTime::from_unix_timestamp(t.timestamp())
        .map_err(|_| CrlError::Malformed("time out of range".into()))
}

/// The signature algorithms a CRL signed with `oid` may have used (ECDSA: both curves; the
/// wrong one simply does not verify). RSA-PSS, SHA-1 and anything else are refused.
fn algorithms_for(
    oid: &str,
) -> Result<Vec<&'static dyn pki_types::SignatureVerificationAlgorithm>, CrlError> {
    use webpki::aws_lc_rs as alg;
    Ok(match oid {
        "1.2.840.113549.1.1.11" => vec![alg::RSA_PKCS1_2048_8192_SHA256],
        "1.2.840.113549.1.1.12" => vec![alg::RSA_PKCS1_2048_8192_SHA384],
        "1.2.840.113549.1.1.13" => vec![alg::RSA_PKCS1_2048_8192_SHA512],
        "1.2.840.10045.4.3.2" => vec![alg::ECDSA_P256_SHA256, alg::ECDSA_P384_SHA256],
        "1.2.840.10045.4.3.3" => vec![alg::ECDSA_P384_SHA384, alg::ECDSA_P256_SHA384],
        other => return Err(CrlError::UnsupportedAlgorithm(other.to_owned())),
    })
}
