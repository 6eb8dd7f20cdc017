//! Validating a presented citizen certificate: caps first, then a strict parse of the leaf with
//! `x509-parser` (key usage, subject), then path building and chain signatures with webpki
//! (trust anchors, validity at `now`, basic constraints and path length, extended key usage,
//! name constraints, revocation by the installed CRLs), then the subject fields.

use pki_types::{CertificateDer, TrustAnchor, UnixTime};
use time::OffsetDateTime;
use webpki::{
    EndEntityCert, ExpirationPolicy, KeyUsage, RevocationCheckDepth, RevocationOptionsBuilder,
    UnknownStatusPolicy,
};
use x509_parser::oid_registry::{OID_X509_GIVEN_NAME, OID_X509_SERIALNUMBER, OID_X509_SURNAME};
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};

use super::crl::CrlSet;
use super::error::CardError;
use super::mapping::Satu;

/// Largest single certificate accepted. A citizen certificate is 1-2 KiB; the cap makes a
/// certificate stuffed with names (10,000 SANs) cost a length comparison, not a parse.
pub const MAX_CERT_BYTES: usize = 16 * 1024;
/// Most certificates a client may present (leaf and intermediates).
pub const MAX_CHAIN_LEN: usize = 5;
const MAX_NAME_CHARS: usize = 200;

/// Signature algorithms accepted in the chain: no SHA-1, no Ed25519 or post-quantum schemes a
/// citizen CA does not use.
pub(crate) static ALGORITHMS: &[&dyn pki_types::SignatureVerificationAlgorithm] = &[
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA256,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA384,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA512,
    webpki::aws_lc_rs::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
    webpki::aws_lc_rs::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
    webpki::aws_lc_rs::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
    webpki::aws_lc_rs::ECDSA_P256_SHA256,
    webpki::aws_lc_rs::ECDSA_P256_SHA384,
    webpki::aws_lc_rs::ECDSA_P384_SHA256,
    webpki::aws_lc_rs::ECDSA_P384_SHA384,
];

/// How far revocation is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Revocation {
    /// Every certificate below the root needs a current CRL from its issuer (the default).
    Chain,
    /// Only the citizen's certificate.
    EndEntity,
    /// No CRL check (OCSP only, or a test environment). Named loudly in config.
    Off,
}

/// The trusted CAs and the rules. Built once from the config.
pub struct ChainValidator {
    anchors: Vec<TrustAnchor<'static>>,
    /// The DER of each of `anchors`, same order: the issuer handed to OCSP for a leaf a root issued.
    anchor_ders: Vec<Vec<u8>>,
    intermediates: Vec<CertificateDer<'static>>,
    /// Every configured CA certificate (anchors and intermediates), DER: CRL issuers.
    ca_certs: Vec<Vec<u8>>,
    revocation: Revocation,
}

/// The holder of a validated certificate, as the certificate names them.
#[derive(Clone, PartialEq, Eq)]
pub struct CardHolder {
    pub satu: Satu,
    pub given_name: String,
    pub surname: String,
    /// The issuing CA's distinguished name (RFC 4514 text).
    pub issuer: String,
    /// The certificate's serial number in hex, for the audit trail.
    pub serial_hex: String,
    pub not_after: OffsetDateTime,
    /// The DER of the certificate that issued this one, as found on the verified path (an
    /// intermediate, or the trusted root itself): the issuer an OCSP request names.
    pub issuer_der: Vec<u8>,
}

impl std::fmt::Debug for CardHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardHolder")
            .field("satu", &self.satu)
            .field("given_name", &self.given_name)
            .field("surname", &self.surname)
            .field("issuer", &self.issuer)
            .field("serial_hex", &self.serial_hex)
            .finish()
    }
}

impl ChainValidator {
    /// `anchors`: root CA certificates (DER); `intermediates`: CA certificates that may complete
    /// a path when the browser sends only its leaf.
    pub fn new(
        anchors: &[Vec<u8>],
        intermediates: &[Vec<u8>],
        revocation: Revocation,
    ) -> Result<Self, String> {
        if anchors.is_empty() {
            return Err("at least one trusted CA certificate is required".into());
        }
        let mut parsed = Vec::new();
        for (i, der) in anchors.iter().enumerate() {
            let cert = CertificateDer::from(der.as_slice());
            let anchor = webpki::anchor_from_trusted_cert(&cert).map_err(|e| {
                format!("trusted CA #{}: not a usable CA certificate: {e:?}", i + 1)
            })?;
            parsed.push(anchor.to_owned());
        }
        for (i, der) in intermediates.iter().enumerate() {
            match X509Certificate::from_der(der) {
                Ok((rest, cert)) if rest.is_empty() && cert.is_ca() => {}
                _ => return Err(format!("intermediate #{}: not a CA certificate", i + 1)),
            }
        }
        Ok(Self {
            anchors: parsed,
            anchor_ders: anchors.to_vec(),
            intermediates: intermediates
                .iter()
                .map(|d| CertificateDer::from(d.clone()))
                .collect(),
            ca_certs: anchors.iter().chain(intermediates).cloned().collect(),
            revocation,
        })
    }

    /// The configured CA certificates, DER: the issuers CRLs may come from.
    pub fn ca_certs(&self) -> &[Vec<u8>] {
        &self.ca_certs
    }

    /// The distinguished names of the trusted CAs, DER (for the TLS CertificateRequest, so a
    /// browser offers only matching certificates).
    pub fn anchor_subjects(&self) -> Vec<Vec<u8>> {
        self.anchors.iter().map(|a| a.subject.to_vec()).collect()
    }

    /// Validate `presented` (leaf first) at `now` against the trusted CAs and `crls`.
    pub fn validate(
        &self,
        presented: &[Vec<u8>],
        crls: &CrlSet,
        now: OffsetDateTime,
    ) -> Result<CardHolder, CardError> {
        let Some(leaf) = presented.first() else {
            return Err(CardError::NoCertificate);
        };
        if presented.len() > MAX_CHAIN_LEN {
            return Err(CardError::ChainTooLong { max: MAX_CHAIN_LEN });
        }
        if let Some(big) = presented.iter().find(|der| der.len() > MAX_CERT_BYTES) {
            return Err(CardError::CertificateTooLarge {
                len: big.len(),
                max: MAX_CERT_BYTES,
            });
        }
        let cert = match X509Certificate::from_der(leaf) {
            Ok(([], cert)) => cert,
            _ => return Err(CardError::Malformed),
        };
        check_key_usage(&cert)?;

        let leaf_der = CertificateDer::from(leaf.as_slice());
        let end_entity = EndEntityCert::try_from(&leaf_der).map_err(|_| CardError::Malformed)?;
        let mut intermediates: Vec<CertificateDer<'_>> = presented[1..]
            .iter()
            .map(|d| CertificateDer::from(d.as_slice()))
            .collect();
        intermediates.extend(self.intermediates.iter().cloned());
        // Parsed at install; webpki still checks each one's signature and nextUpdate here.
        let refs: Vec<&webpki::CertRevocationList<'_>> = crls.iter().map(|c| c.parsed()).collect();
        let revocation = match self.revocation {
            Revocation::Off => None,
            depth => Some(
                RevocationOptionsBuilder::new(&refs)
                    .map_err(|_| CardError::RevocationUnknown)?
                    .with_depth(match depth {
                        Revocation::EndEntity => RevocationCheckDepth::EndEntity,
                        _ => RevocationCheckDepth::Chain,
                    })
                    .with_status_policy(UnknownStatusPolicy::Deny)
                    .with_expiration_policy(ExpirationPolicy::Enforce)
                    .build(),
            ),
        };
        let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
            u64::try_from(now.unix_timestamp()).unwrap_or(0),
        ));
        let path = end_entity
            .verify_for_usage(
                ALGORITHMS,
                &self.anchors,
                &intermediates,
                time,
                KeyUsage::client_auth(),
                revocation,
                None,
            )
            .map_err(map_webpki)?;
        // The path runs leaf-upward: its first intermediate issued the leaf; with none, the anchor did.
        let issuer_der = match path.intermediate_certificates().next() {
            Some(issuer) => issuer.der().to_vec(),
            None => self
                .anchors
                .iter()
                .position(|a| a == path.anchor())
                .and_then(|i| self.anchor_ders.get(i))
                .ok_or(CardError::Other("verified path without its anchor"))?
                .clone(),
        };
        holder(&cert, issuer_der)
    }
}

/// Authentication needs digitalSignature. A certificate without a key usage extension is
/// refused too: the citizen CA always sets it, and the signing certificate on the same card
/// (nonRepudiation only) must not log anyone in.
fn check_key_usage(cert: &X509Certificate<'_>) -> Result<(), CardError> {
    match cert.key_usage() {
        Ok(Some(ku)) if ku.value.digital_signature() => Ok(()),
        Ok(_) => Err(CardError::KeyUsage),
        Err(_) => Err(CardError::Malformed),
    }
}

fn holder(cert: &X509Certificate<'_>, issuer_der: Vec<u8>) -> Result<CardHolder, CardError> {
    let subject = cert.subject();
    let satu_text = single_attr(subject, &OID_X509_SERIALNUMBER, "serialNumber")?;
    let satu = Satu::parse(&satu_text).ok_or(CardError::InvalidSubjectField("serialNumber"))?;
    Ok(CardHolder {
        satu,
        given_name: single_attr(subject, &OID_X509_GIVEN_NAME, "givenName")?,
        surname: single_attr(subject, &OID_X509_SURNAME, "surname")?,
        issuer: cert.issuer().to_string(),
        serial_hex: hex_of(cert.raw_serial()),
        not_after: OffsetDateTime::from_unix_timestamp(cert.validity().not_after.timestamp())
            .map_err(|_| CardError::Malformed)?,
        issuer_der,
    })
}

/// Exactly one value of the attribute, as text without control characters.
fn single_attr(
    name: &X509Name<'_>,
    oid: &x509_parser::der_parser::Oid<'_>,
    field: &'static str,
) -> Result<String, CardError> {
    let mut values = name.iter_by_oid(oid);
    let first = values.next().ok_or(CardError::MissingSubjectField(field))?;
    if values.next().is_some() {
        return Err(CardError::InvalidSubjectField(field));
    }
    // Exactly as written: no trimming (a padded value is not the value).
    let text = first
        .as_str()
        .map_err(|_| CardError::InvalidSubjectField(field))?;
    if text.is_empty()
        || text.trim() != text
        || text.chars().count() > MAX_NAME_CHARS
        || text.chars().any(invisible_or_control)
    {
        return Err(CardError::InvalidSubjectField(field));
    }
    Ok(text.to_owned())
}

/// Characters a name must not carry: controls, non-characters, and the invisible format and
/// separator characters (zero-width, bidirectional overrides, line/paragraph separators) that
/// would make a released name display differently from what it is.
fn invisible_or_control(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{FFFE}' | '\u{FFFF}' | '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{FEFF}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FFF9}'..='\u{FFFB}')
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every webpki error is named (the deprecated ones too, as older paths still return them); the
/// final arm exists only because the enum is non-exhaustive.
#[allow(deprecated)]
fn map_webpki(e: webpki::Error) -> CardError {
    use webpki::Error as E;
    match e {
        E::CertExpired { .. } => CardError::Expired,
        E::CertNotValidYet { .. } => CardError::NotYetValid,
        E::UnknownIssuer => CardError::UnknownIssuer,
        E::InvalidSignatureForPublicKey => CardError::BadSignature,
        E::EndEntityUsedAsCa => CardError::IssuerNotCa,
        E::CaUsedAsEndEntity => CardError::CaAsEndEntity,
        E::PathLenConstraintViolated => CardError::PathLength,
        E::RequiredEkuNotFound | E::RequiredEkuNotFoundContext(_) | E::EmptyEkuExtension => {
            CardError::ExtendedKeyUsage
        }
        E::NameConstraintViolation
        | E::MalformedNameConstraint
        | E::InvalidNetworkMaskConstraint
        | E::MaximumNameConstraintComparisonsExceeded => CardError::NameConstraints,
        E::CertRevoked => CardError::Revoked,
        E::UnknownRevocationStatus => CardError::RevocationUnknown,
        E::CrlExpired { .. } => CardError::CrlStale,
        E::InvalidCrlSignatureForPublicKey | E::IssuerNotCrlSigner => CardError::CrlBadSignature,
        E::BadDer
        | E::BadDerTime
        | E::TrailingData(_)
        | E::ExtensionValueInvalid
        | E::InvalidCertValidity
        | E::InvalidSerialNumber
        | E::MalformedExtensions
        | E::MalformedDnsIdentifier
        | E::UnsupportedCertVersion => CardError::Malformed,
        E::UnsupportedCriticalExtension
        | E::UnsupportedSignatureAlgorithm
        | E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKey
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_)
        | E::SignatureAlgorithmMismatch
        | E::UnsupportedNameType => CardError::Unsupported,
        E::MaximumPathBuildCallsExceeded
        | E::MaximumPathDepthExceeded
        | E::MaximumSignatureChecksExceeded => CardError::Other("path building limit"),
        E::CertDistrusted => CardError::Other("distrusted key"),
        E::InvalidCrlNumber
        | E::UnsupportedCrlIssuingDistributionPoint
        | E::UnsupportedCrlVersion
        | E::UnsupportedDeltaCrl
        | E::UnsupportedIndirectCrl
        | E::UnsupportedRevocationReason
        | E::UnsupportedRevocationReasonsPartitioning
        | E::UnsupportedCrlSignatureAlgorithm
        | E::UnsupportedCrlSignatureAlgorithmContext(_)
        | E::UnsupportedCrlSignatureAlgorithmForPublicKey
        | E::UnsupportedCrlSignatureAlgorithmForPublicKeyContext(_) => {
            CardError::Other("unusable CRL")
        }
        E::CertNotValidForName(_) => CardError::Other("name"),
        _ => CardError::Other("unclassified webpki error"),
    }
}
