//! OCSP (RFC 6960) for the citizen certificate: after the chain validated, ask the CA's responder
//! whether the certificate is still good.
//!
//! Fail closed: a revoked certificate is [`CardError::OcspRevoked`]; everything else that is not a
//! verified, current "good" for exactly our certificate (an unreachable or slow responder, an
//! error status, an unknown certificate, a response that does not parse strictly, does not
//! verify, is stale or names another certificate) is [`CardError::OcspUnavailable`].
//!
//! A response counts only if it is signed by the certificate's issuer, or by a responder
//! certificate that issuer signed for the purpose (extended key usage id-kp-OCSPSigning, valid
//! now, checked by webpki like any other certificate). The responder certificate's own revocation
//! status is not checked (RFC 6960 4.2.2.2.1: CAs keep them short-lived, id-pkix-ocsp-nocheck).
//!
//! The request identifies the certificate with a SHA-256 CertID (OpenSSL's responder and the
//! common CA products answer those). This module does no I/O: the request goes through the
//! injected [`HttpClient`], which enforces timeouts, no redirects and a body cap.
//!
//! With a cache ([`OcspChecker::with_cache`], see [`super::ocsp_cache`] for what it may hold and
//! when), a "good" is kept until its nextUpdate and verified again, as a fresh response, whenever
//! it is used.

mod der;

use std::sync::Arc;

use aws_lc_rs::digest;
use certs::RandomSource;
use pki_types::{CertificateDer, SignatureVerificationAlgorithm, UnixTime};
use time::{Duration, OffsetDateTime};
use webpki::{EndEntityCert, KeyUsage};
use x509_parser::asn1_rs::FromDer;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::oid_registry::OID_PKIX_ACCESS_DESCRIPTOR_OCSP;
use x509_parser::prelude::X509Certificate;

use der::*;

use super::chain::MAX_CERT_BYTES;
use super::error::CardError;
use super::ocsp_cache::OcspResponseCache;
use crate::ftn::{HttpClient, HttpError, HttpMethod, HttpRequest};

/// Largest OCSP response read. A response for one certificate is a few hundred bytes, a few KiB
/// with the responder's certificate.
pub const MAX_OCSP_RESPONSE_BYTES: usize = 32 * 1024;
/// How far a responder's clock may run ahead of ours (thisUpdate, producedAt).
pub const OCSP_CLOCK_SKEW: Duration = Duration::minutes(5);
/// Nonce length (RFC 8954: 1 to 32 octets, 32 recommended).
pub const OCSP_NONCE_LEN: usize = 32;
pub const OCSP_REQUEST_TYPE: &str = "application/ocsp-request";
pub const OCSP_RESPONSE_TYPE: &str = "application/ocsp-response";

/// Whether requests carry a nonce, and what a response must then do with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonceMode {
    /// No nonce: freshness rests on thisUpdate/nextUpdate alone.
    Off,
    /// Send a nonce; a response that echoes a nonce must echo ours. Responders serving
    /// pre-produced responses (common at large CAs) echo none; those are accepted while current.
    IfEchoed,
    /// Send a nonce and refuse any response that does not echo it.
    Required,
}

/// How the gateway asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OcspSettings {
    /// The responder to ask (`http` or `https`). Takes precedence over `use_aia`.
    pub responder_url: Option<String>,
    /// With no `responder_url`: ask the responder the certificate names in its
    /// authorityInfoAccess (id-ad-ocsp). A certificate naming none fails closed.
    pub use_aia: bool,
    pub nonce: NonceMode,
    /// A response without nextUpdate is accepted only while its thisUpdate is at most this old.
    pub max_age_without_next_update: Duration,
}

impl OcspSettings {
    /// Ask `url` for every certificate.
    pub fn responder(url: impl Into<String>) -> Self {
        Self {
            responder_url: Some(url.into()),
            use_aia: false,
            nonce: NonceMode::IfEchoed,
            max_age_without_next_update: Duration::hours(1),
        }
    }

    /// Ask the responder each certificate names (authorityInfoAccess).
    pub fn from_certificate() -> Self {
        Self {
            responder_url: None,
            use_aia: true,
            nonce: NonceMode::IfEchoed,
            max_age_without_next_update: Duration::hours(1),
        }
    }
}

/// Who signed a verified response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OcspSigner {
    /// The certificate's issuer itself.
    Issuer,
    /// A responder certificate the issuer signed with id-kp-OCSPSigning.
    Delegated,
}

/// A verified, current "good" for one certificate. Only [`OcspRequest::verify_response`] makes one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OcspGood {
    pub produced_at: OffsetDateTime,
    pub this_update: OffsetDateTime,
    pub next_update: Option<OffsetDateTime>,
    pub signer: OcspSigner,
    pub nonce_echoed: bool,
    /// Read from the cache (verified again now) rather than asked for.
    pub from_cache: bool,
}

/// Checks a citizen certificate with its CA's OCSP responder. Built once from the config.
pub struct OcspChecker {
    settings: OcspSettings,
    http: Arc<dyn HttpClient>,
    rng: Arc<dyn RandomSource>,
    cache: Option<Arc<dyn OcspResponseCache>>,
}

/// One OCSP request for (leaf, issuer): its DER and what a response to it must match.
pub struct OcspRequest {
    der: Vec<u8>,
    cert_id: CertId,
    /// The nonce extension's extnValue as sent; a response must echo exactly this.
    nonce_value: Option<Vec<u8>>,
    issuer: IssuerKey,
}

impl OcspChecker {
    /// Refuses a configuration that names no responder, or a responder URL that is not http(s).
    pub fn new(
        settings: OcspSettings,
        http: Arc<dyn HttpClient>,
        rng: Arc<dyn RandomSource>,
    ) -> Result<Self, String> {
        match &settings.responder_url {
            Some(url) if !is_http_url(url) => {
                return Err(format!("OCSP responder {url:?} is not an http(s) URL"));
            }
            None if !settings.use_aia => {
                return Err(
                    "OCSP needs a responder URL or the certificate's (authorityInfoAccess)".into(),
                );
            }
            _ => {}
        }
        if settings.max_age_without_next_update <= Duration::ZERO {
            return Err("OCSP max age without nextUpdate must be positive".into());
        }
        Ok(Self {
            settings,
            http,
            rng,
            cache: None,
        })
    }

    /// Keep verified "good" responses in `cache` until their nextUpdate, and use them again
    /// (verified again at each use). Ignored with [`NonceMode::Required`].
    pub fn with_cache(mut self, cache: Arc<dyn OcspResponseCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    pub fn settings(&self) -> &OcspSettings {
        &self.settings
    }

    /// The cache, when the nonce mode lets one serve (see [`super::ocsp_cache`]).
    fn usable_cache(&self) -> Option<&dyn OcspResponseCache> {
        match self.settings.nonce {
            NonceMode::Required => None,
            NonceMode::Off | NonceMode::IfEchoed => self.cache.as_deref(),
        }
    }

    /// Ask whether `leaf_der`, issued by `issuer_der` (both already validated as a chain), is
    /// good at `now`.
    pub async fn check(
        &self,
        leaf_der: &[u8],
        issuer_der: &[u8],
        now: OffsetDateTime,
    ) -> Result<OcspGood, CardError> {
        let cache = self.usable_cache();
        let mut cert_key = None;
        if let Some(cache) = cache {
            // Built without a nonce: a cached response was made for an earlier request.
            let unasked = OcspRequest::new(leaf_der, issuer_der, None)?;
            let key = unasked.cache_key();
            if let Some(der) = cache.load(&key, now).await {
                match self.verify_cached(&unasked, &der, now) {
                    Ok(good) => return Ok(good),
                    Err(reason) => cache.refused(&key, reason),
                }
            }
            cert_key = Some(key);
        }
        let url = self.responder_for(leaf_der)?;
        let nonce = match self.settings.nonce {
            NonceMode::Off => None,
            NonceMode::IfEchoed | NonceMode::Required => {
                let mut nonce = [0u8; OCSP_NONCE_LEN];
                self.rng
                    .fill(&mut nonce)
                    .map_err(|_| CardError::OcspUnavailable("no randomness for the nonce"))?;
                Some(nonce)
            }
        };
        let request = OcspRequest::new(leaf_der, issuer_der, nonce.as_ref().map(|n| &n[..]))?;
        let response = self
            .http
            .send(HttpRequest {
                method: HttpMethod::Post,
                url,
                headers: vec![("Accept".to_owned(), OCSP_RESPONSE_TYPE.to_owned())],
                form: None,
                body: Some((OCSP_REQUEST_TYPE.to_owned(), request.der().to_vec())),
            })
            .await
            .map_err(|e| {
                CardError::OcspUnavailable(match e {
                    HttpError::Timeout => "the OCSP responder timed out",
                    HttpError::TooLarge => "the OCSP response is too large",
                    HttpError::Refused(_) | HttpError::Io(_) => "the OCSP responder is unreachable",
                })
            })?;
        if response.status != 200 {
            return Err(CardError::OcspUnavailable(
                "the OCSP responder answered with an HTTP error",
            ));
        }
        let mime = response
            .content_type
            .as_deref()
            .and_then(|ct| ct.split(';').next())
            .map(str::trim);
        if !mime.is_some_and(|m| m.eq_ignore_ascii_case(OCSP_RESPONSE_TYPE)) {
            return Err(CardError::OcspUnavailable(
                "the OCSP response has the wrong content type",
            ));
        }
        let good = request.verify_response(
            &response.body,
            now,
            self.settings.nonce,
            self.settings.max_age_without_next_update,
        )?;
        if let (Some(cache), Some(key), Some(next_update)) = (cache, cert_key, good.next_update) {
            if next_update > now {
                cache.store(&key, response.body, next_update, now).await;
            }
        }
        Ok(good)
    }

    /// A cached response, verified as a fresh one would be (signature, responder, our
    /// certificate, current at `now`), and only with a nextUpdate: the cache never holds one
    /// without, so such an entry was not written by us.
    fn verify_cached(
        &self,
        unasked: &OcspRequest,
        der: &[u8],
        now: OffsetDateTime,
    ) -> Result<OcspGood, &'static str> {
        let good = unasked
            .verify_response(
                der,
                now,
                NonceMode::IfEchoed,
                self.settings.max_age_without_next_update,
            )
            .map_err(|e| match e {
                CardError::OcspUnavailable(reason) => reason,
                CardError::OcspRevoked => "the cached OCSP response says revoked",
                _ => "the cached OCSP response does not verify",
            })?;
        if good.next_update.is_none() {
            return Err("the cached OCSP response has no nextUpdate");
        }
        Ok(OcspGood {
            nonce_echoed: false,
            from_cache: true,
            ..good
        })
    }

    /// The configured URL, else (with `use_aia`) the certificate's first http(s) OCSP URL.
    fn responder_for(&self, leaf_der: &[u8]) -> Result<String, CardError> {
        if let Some(url) = &self.settings.responder_url {
            return Ok(url.clone());
        }
        let leaf = parse_cert(leaf_der).ok_or(CardError::Malformed)?;
        leaf.extensions()
            .iter()
            .filter_map(|ext| match ext.parsed_extension() {
                ParsedExtension::AuthorityInfoAccess(aia) => Some(aia),
                _ => None,
            })
            .flat_map(|aia| aia.accessdescs.iter())
            .filter(|ad| ad.access_method == OID_PKIX_ACCESS_DESCRIPTOR_OCSP)
            .find_map(|ad| match ad.access_location {
                GeneralName::URI(uri) if is_http_url(uri) => Some(uri.to_owned()),
                _ => None,
            })
            .ok_or(CardError::OcspUnavailable(
                "the certificate names no OCSP responder",
            ))
    }
}

impl OcspRequest {
    /// Build the request for `leaf_der` issued by `issuer_der`, with `nonce` (1 to 32 bytes) in a
    /// nonce extension when given. Refuses a pair where the issuer does not name the leaf's issuer.
    pub fn new(
        leaf_der: &[u8],
        issuer_der: &[u8],
        nonce: Option<&[u8]>,
    ) -> Result<Self, CardError> {
        let leaf = parse_cert(leaf_der).ok_or(CardError::Malformed)?;
        let issuer_cert = parse_cert(issuer_der).ok_or(CardError::Malformed)?;
        if leaf.issuer().as_raw() != issuer_cert.subject().as_raw() {
            return Err(CardError::OcspUnavailable(
                "the issuer given for OCSP did not issue the certificate",
            ));
        }
        let issuer = IssuerKey {
            der: issuer_der.to_vec(),
            subject: issuer_cert.subject().as_raw().to_vec(),
            key: issuer_cert.public_key().subject_public_key.data.to_vec(),
        };
        let cert_id = CertId {
            name_hash: sha256(&issuer.subject),
            key_hash: sha256(&issuer.key),
            serial: leaf.raw_serial().to_vec(),
        };
        let nonce_value = match nonce {
            Some(n) if n.is_empty() || n.len() > OCSP_NONCE_LEN => {
                return Err(CardError::OcspUnavailable("unusable nonce length"));
            }
            Some(n) => Some(tlv(OCTET_STRING, n)),
            None => None,
        };
        // OCSPRequest { TBSRequest { requestList { Request { CertID } }, [2] requestExtensions } }
        let mut tbs = tlv(SEQUENCE, &tlv(SEQUENCE, &cert_id.to_der()));
        if let Some(value) = &nonce_value {
            let ext = tlv(
                SEQUENCE,
                &[tlv(OID, OID_NONCE), tlv(OCTET_STRING, value)].concat(),
            );
            tbs.extend(tlv(CONTEXT_2, &tlv(SEQUENCE, &ext)));
        }
        let der = tlv(SEQUENCE, &tlv(SEQUENCE, &tbs));
        Ok(Self {
            der,
            cert_id,
            nonce_value,
            issuer,
        })
    }

    /// The DER to POST.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The certificate's name in a cache: the hex SHA-256 of its CertID.
    pub fn cache_key(&self) -> String {
        hex_lower(&sha256(&self.cert_id.to_der()))
    }

    /// Parse `body` strictly, verify its signature, find the status of our certificate and check
    /// it is current at `now` (and the nonce, per `nonce`).
    pub fn verify_response(
        &self,
        body: &[u8],
        now: OffsetDateTime,
        nonce: NonceMode,
        max_age_without_next_update: Duration,
    ) -> Result<OcspGood, CardError> {
        if body.len() > MAX_OCSP_RESPONSE_BYTES {
            return Err(CardError::OcspUnavailable("the OCSP response is too large"));
        }
        let basic = parse_response(body).map_err(CardError::OcspUnavailable)?;
        let signer = self
            .verify_signature(&basic, now)
            .map_err(CardError::OcspUnavailable)?;
        let data =
            parse_response_data(basic.tbs_response_data).map_err(CardError::OcspUnavailable)?;
        self.judge(&data, signer, now, nonce, max_age_without_next_update)
    }

    /// The signer named by the responderID must be the issuer, or a certificate in the response
    /// that the issuer authorized; then the signature must verify with its key.
    fn verify_signature(
        &self,
        basic: &BasicResponse<'_>,
        now: OffsetDateTime,
    ) -> Result<OcspSigner, &'static str> {
        let algorithms = signature_algorithms(basic.signature_algorithm)
            .ok_or("unsupported OCSP signature algorithm")?;
        let responder_id = responder_id(basic.tbs_response_data)?;
        let verifies = |key: &[u8]| {
            algorithms.iter().any(|alg| {
                alg.verify_signature(key, basic.tbs_response_data, basic.signature)
                    .is_ok()
            })
        };
        if responder_id.names(&self.issuer.subject, &self.issuer.key) {
            return if verifies(&self.issuer.key) {
                Ok(OcspSigner::Issuer)
            } else {
                Err("the OCSP response signature does not verify")
            };
        }
        let mut named = false;
        for der in &basic.certs {
            let Some(cert) = parse_cert(der) else {
                return Err("malformed certificate in the OCSP response");
            };
            let key = cert.public_key().subject_public_key.data.as_ref();
            if !responder_id.names(cert.subject().as_raw(), key) {
                continue;
            }
            named = true;
            if authorized_responder(&cert, der, &self.issuer.der, now) && verifies(key) {
                return Ok(OcspSigner::Delegated);
            }
        }
        Err(if named {
            "the OCSP responder is not authorized by the certificate's issuer, or its signature does not verify"
        } else {
            "the OCSP responder is neither the issuer nor in the response"
        })
    }

    /// After the signature verified: freshness, nonce, and our certificate's status.
    fn judge(
        &self,
        data: &ResponseData<'_>,
        signer: OcspSigner,
        now: OffsetDateTime,
        nonce: NonceMode,
        max_age_without_next_update: Duration,
    ) -> Result<OcspGood, CardError> {
        let unavailable = CardError::OcspUnavailable;
        if data.produced_at > now + OCSP_CLOCK_SKEW {
            return Err(unavailable("the OCSP response was produced in the future"));
        }
        let echoed = match (&self.nonce_value, data.nonce) {
            (Some(sent), Some(got)) if sent.as_slice() == got => true,
            (Some(_), Some(_)) => {
                return Err(unavailable("the OCSP response echoes another nonce"))
            }
            // We sent none: a nonce the responder added proves nothing, and harms nothing.
            (None, Some(_)) => false,
            (_, None) if nonce == NonceMode::Required => {
                return Err(unavailable("the OCSP response does not echo our nonce"));
            }
            (_, None) => false,
        };
        let mut ours = data
            .responses
            .iter()
            .filter(|single| self.cert_id.matches(&single.cert_id));
        let single = ours.next().ok_or(unavailable(
            "the OCSP response has no status for this certificate",
        ))?;
        if ours.next().is_some() {
            return Err(unavailable(
                "the OCSP response has several statuses for this certificate",
            ));
        }
        if single.this_update > now + OCSP_CLOCK_SKEW {
            return Err(unavailable("the OCSP response is not valid yet"));
        }
        match single.next_update {
            Some(next) if next <= now => {
                return Err(unavailable(
                    "the OCSP response is stale (nextUpdate passed)",
                ))
            }
            None if single.this_update < now - max_age_without_next_update => {
                return Err(unavailable("the OCSP response is stale (no nextUpdate)"))
            }
            _ => {}
        }
        match single.status {
            CertStatus::Good => Ok(OcspGood {
                produced_at: data.produced_at,
                this_update: single.this_update,
                next_update: single.next_update,
                signer,
                nonce_echoed: echoed,
                from_cache: false,
            }),
            CertStatus::Revoked => Err(CardError::OcspRevoked),
            CertStatus::Unknown => Err(unavailable(
                "the OCSP responder does not know the certificate",
            )),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The request's parts

/// A CertID with SHA-256 (the only hash we send, so the only one a matching answer carries).
struct CertId {
    name_hash: Vec<u8>,
    key_hash: Vec<u8>,
    serial: Vec<u8>,
}

impl CertId {
    fn to_der(&self) -> Vec<u8> {
        // hashAlgorithm with NULL parameters, as OpenSSL writes it.
        let algorithm = tlv(SEQUENCE, &[tlv(OID, OID_SHA256), tlv(NULL, &[])].concat());
        tlv(
            SEQUENCE,
            &[
                algorithm,
                tlv(OCTET_STRING, &self.name_hash),
                tlv(OCTET_STRING, &self.key_hash),
                tlv(INTEGER, &self.serial),
            ]
            .concat(),
        )
    }

    fn matches(&self, theirs: &ResponseCertId<'_>) -> bool {
        theirs.hash_algorithm == OID_SHA256
            && theirs.name_hash == self.name_hash
            && theirs.key_hash == self.key_hash
            && theirs.serial == self.serial
    }
}

struct IssuerKey {
    der: Vec<u8>,
    /// The issuer's subject name, DER.
    subject: Vec<u8>,
    /// The issuer's subjectPublicKey (the BIT STRING's bytes).
    key: Vec<u8>,
}

/// A delegated responder: issued by the certificate's issuer, valid now, extended key usage
/// id-kp-OCSPSigning (required, not "if present"), and a key usage that allows signing if it has
/// one. webpki does the certificate checks (signature, validity, critical extensions).
fn authorized_responder(
    cert: &X509Certificate<'_>,
    der: &[u8],
    issuer_der: &[u8],
    now: OffsetDateTime,
) -> bool {
    match cert.key_usage() {
        Ok(None) => {}
        Ok(Some(ku)) if ku.value.digital_signature() || ku.value.non_repudiation() => {}
        _ => return false,
    }
    let issuer = CertificateDer::from(issuer_der);
    let Ok(anchor) = webpki::anchor_from_trusted_cert(&issuer) else {
        return false;
    };
    let responder = CertificateDer::from(der);
    let Ok(responder) = EndEntityCert::try_from(&responder) else {
        return false;
    };
    let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        u64::try_from(now.unix_timestamp()).unwrap_or(0),
    ));
    responder
        .verify_for_usage(
            super::chain::ALGORITHMS,
            &[anchor],
            &[],
            time,
            KeyUsage::required(EKU_OCSP_SIGNING),
            None,
            None,
        )
        .is_ok()
}

/// The algorithms a response signed with `oid` may have used (ECDSA: both curves; the wrong one
/// simply does not verify). SHA-1, RSA-PSS and anything else are refused.
fn signature_algorithms(
    oid: &[u8],
) -> Option<&'static [&'static dyn SignatureVerificationAlgorithm]> {
    use webpki::aws_lc_rs as alg;
    static RSA_SHA256: &[&dyn SignatureVerificationAlgorithm] = &[alg::RSA_PKCS1_2048_8192_SHA256];
    static RSA_SHA384: &[&dyn SignatureVerificationAlgorithm] = &[alg::RSA_PKCS1_2048_8192_SHA384];
    static RSA_SHA512: &[&dyn SignatureVerificationAlgorithm] = &[alg::RSA_PKCS1_2048_8192_SHA512];
    static ECDSA_SHA256: &[&dyn SignatureVerificationAlgorithm] =
        &[alg::ECDSA_P256_SHA256, alg::ECDSA_P384_SHA256];
    static ECDSA_SHA384: &[&dyn SignatureVerificationAlgorithm] =
        &[alg::ECDSA_P384_SHA384, alg::ECDSA_P256_SHA384];
    match oid {
        OID_RSA_SHA256 => Some(RSA_SHA256),
        OID_RSA_SHA384 => Some(RSA_SHA384),
        OID_RSA_SHA512 => Some(RSA_SHA512),
        OID_ECDSA_SHA256 => Some(ECDSA_SHA256),
        OID_ECDSA_SHA384 => Some(ECDSA_SHA384),
        _ => None,
    }
}

fn parse_cert(der: &[u8]) -> Option<X509Certificate<'_>> {
    if der.len() > MAX_CERT_BYTES {
        return None;
    }
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Some(cert),
        _ => None,
    }
}

fn is_http_url(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256(data: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, data).as_ref().to_vec()
}

#[cfg(test)]
#[path = "ocsp_tests.rs"]
mod tests;
