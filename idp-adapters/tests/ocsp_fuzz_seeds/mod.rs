//! The OCSP fuzz seeds (see `fuzz/README.md`): the trust data (a test PKI's issuer and card,
//! delegated responder certificates made here), a writer for response data, and the seeds,
//! `valid-*` and `hostile-<code>-*`. `all` makes them; `tests/ocsp_fuzz_corpus.rs` writes or
//! checks them.

mod malformed;
mod signer;
mod status;
mod valid;

use std::path::Path;

use aws_lc_rs::digest;
use certs::test_pki::IdCardTestPki;
use certs::{KeyKind, SigningKey};
use idp_adapters::fuzzing::ocsp::{
    der, ecdsa_signature_value, integer, raw_input, sign_response, signed_input,
    successful_response, BIT_STRING, CONTEXT_0, ENUMERATED, INTEGER, NONCE, OCTET_STRING, OID,
    OID_ECDSA_SHA256, OID_OCSP_BASIC, SEQUENCE,
};
use idp_adapters::fuzzing::NOW;
use idp_adapters::idcard::MAX_OCSP_RESPONSE_BYTES;
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::{FromDer, X509Certificate};

const BOOLEAN: u8 = 0x01;
const NULL: u8 = 0x05;
const UTF8_STRING: u8 = 0x0C;
const SET: u8 = 0x31;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
const CONTEXT_1: u8 = 0xA1;
const CONTEXT_2: u8 = 0xA2;
const CONTEXT_3: u8 = 0xA3;
const CONTEXT_0_PRIMITIVE: u8 = 0x80;
const CONTEXT_2_PRIMITIVE: u8 = 0x82;

const OID_SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
const OID_SHA1: &[u8] = &[0x2B, 0x0E, 0x03, 0x02, 0x1A];
const OID_NONCE: &[u8] = &[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x02];
/// 1.3.6.1.5.5.7.48.1.9 (id-pkix-ocsp-pref-sig-algs), as an extension nobody here knows.
const OID_UNKNOWN_EXTENSION: &[u8] = &[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x09];
const OID_ECDSA_SHA1: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x01];
const OID_RSA_PSS: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0A];
/// 1.3.6.1.5.5.7.48.1.4 (id-pkix-ocsp-response), not the basic type.
const OID_OCSP_RESPONSE: &[u8] = &[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x04];
const OID_CN: &[u8] = &[0x55, 0x04, 0x03];
const OID_KEY_USAGE: &[u8] = &[0x55, 0x1D, 0x0F];
const OID_EKU: &[u8] = &[0x55, 0x1D, 0x25];
const EKU_OCSP_SIGNING: &[u8] = &[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x09];
const EKU_CLIENT_AUTH: &[u8] = &[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02];

/// A CA that signs: its certificate, subject (DER) and key.
pub struct Ca {
    der: Vec<u8>,
    subject: Vec<u8>,
    key: SigningKey,
}

/// The test PKI's intermediate (the card's issuer), the valid card and another, and delegated
/// responder certificates made here (rcgen's test PKI has none), all with one key.
pub struct Pki {
    issuer: Ca,
    issuer_key_pem: String,
    card: Vec<u8>,
    other_card: Vec<u8>,
    responder_key: SigningKey,
    responder: Vec<u8>,
    responder_without_eku: Vec<u8>,
    responder_expired: Vec<u8>,
    responder_from_root: Vec<u8>,
    /// Another key under the issuer's exact name.
    rogue: SigningKey,
}

impl Pki {
    pub fn generate() -> Self {
        let pki = IdCardTestPki::generate(NOW).unwrap();
        let ca = |der: &Vec<u8>, key_pem: &str| Ca {
            der: der.clone(),
            subject: subject_of(der),
            key: SigningKey::from_pkcs8_pem(key_pem).unwrap(),
        };
        let issuer = ca(&pki.intermediate.cert_der, &pki.intermediate.key_pem);
        let root = ca(&pki.root.cert_der, &pki.root.key_pem);
        let responder_key = SigningKey::generate(KeyKind::EcdsaP256).unwrap();
        let responder = |by: &Ca, eku: &[u8], not_after: OffsetDateTime| {
            certificate(
                7001,
                &name("Test Citizen CA 1 OCSP Responder"),
                (NOW - Duration::days(1), not_after),
                &[
                    extension(OID_KEY_USAGE, true, &der(BIT_STRING, &[0x07, 0x80])),
                    extension(OID_EKU, false, &der(SEQUENCE, &der(OID, eku))),
                ],
                &responder_key,
                by,
            )
        };
        let later = NOW + Duration::days(30);
        Pki {
            responder: responder(&issuer, EKU_OCSP_SIGNING, later),
            responder_without_eku: responder(&issuer, EKU_CLIENT_AUTH, later),
            responder_expired: responder(&issuer, EKU_OCSP_SIGNING, NOW - Duration::hours(1)),
            responder_from_root: responder(&root, EKU_OCSP_SIGNING, later),
            responder_key,
            rogue: SigningKey::generate(KeyKind::EcdsaP256).unwrap(),
            issuer_key_pem: pki.intermediate.key_pem.clone(),
            card: pki.cards.valid.chain[0].clone(),
            other_card: pki.cards.unmapped.chain[0].clone(),
            issuer,
        }
    }

    /// What the harness builds in (`fuzzing::ocsp::trust_data`).
    pub fn write_trust_data(&self, dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        for (name, bytes) in [
            ("issuer.der", self.issuer.der.clone()),
            ("issuer-key.pem", self.issuer_key_pem.clone().into_bytes()),
            ("card.der", self.card.clone()),
            ("responder.der", self.responder.clone()),
            (
                "responder-key.pem",
                self.responder_key.to_pkcs8_pem().unwrap().into_bytes(),
            ),
        ] {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }

    /// The CertID (SHA-256) a response must carry for `card`.
    fn cert_id(&self, card: &[u8], hash: &[u8]) -> Vec<u8> {
        let issuer = X509Certificate::from_der(&self.issuer.der).unwrap().1;
        let leaf = X509Certificate::from_der(card).unwrap().1;
        let algorithm = if hash == OID_SHA256 {
            &digest::SHA256
        } else {
            &digest::SHA1_FOR_LEGACY_USE_ONLY
        };
        let h = |data: &[u8]| digest::digest(algorithm, data).as_ref().to_vec();
        seq(&[
            seq(&[der(OID, hash), der(NULL, &[])]),
            der(OCTET_STRING, &h(issuer.subject().as_raw())),
            der(
                OCTET_STRING,
                &h(&issuer.public_key().subject_public_key.data),
            ),
            der(INTEGER, leaf.raw_serial()),
        ])
    }
}

fn subject_of(cert: &[u8]) -> Vec<u8> {
    X509Certificate::from_der(cert)
        .unwrap()
        .1
        .subject()
        .as_raw()
        .to_vec()
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    der(SEQUENCE, &parts.concat())
}

fn name(cn: &str) -> Vec<u8> {
    seq(&[der(
        SET,
        &seq(&[der(OID, OID_CN), der(UTF8_STRING, cn.as_bytes())]),
    )])
}

fn extension(oid: &[u8], critical: bool, value: &[u8]) -> Vec<u8> {
    let mut parts = vec![der(OID, oid)];
    if critical {
        parts.push(der(BOOLEAN, &[0xFF]));
    }
    parts.push(der(OCTET_STRING, value));
    seq(&parts)
}

fn time_text(t: OffsetDateTime) -> String {
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn generalized(t: OffsetDateTime) -> Vec<u8> {
    der(GENERALIZED_TIME, time_text(t).as_bytes())
}

/// An X.509 v3 certificate for `key`, signed by `issuer` (ECDSA with SHA-256).
fn certificate(
    serial: u64,
    subject: &[u8],
    (not_before, not_after): (OffsetDateTime, OffsetDateTime),
    extensions: &[Vec<u8>],
    key: &SigningKey,
    issuer: &Ca,
) -> Vec<u8> {
    let utc = |t| der(UTC_TIME, &time_text(t).as_bytes()[2..]);
    let algorithm = seq(&[der(OID, OID_ECDSA_SHA256)]);
    let tbs = seq(&[
        der(CONTEXT_0, &integer(&[2])),
        integer(&serial.to_be_bytes()),
        algorithm.clone(),
        issuer.subject.clone(),
        seq(&[utc(not_before), utc(not_after)]),
        subject.to_vec(),
        key.public_key_spki_der(),
        der(CONTEXT_3, &seq(extensions)),
    ]);
    let signature = ecdsa_signature_value(&issuer.key, &tbs).unwrap();
    seq(&[
        tbs,
        algorithm,
        der(BIT_STRING, &[&[0][..], &signature].concat()),
    ])
}

fn good_status() -> Vec<u8> {
    der(CONTEXT_0_PRIMITIVE, &[])
}

/// `revoked [1] RevokedInfo { revocationTime, [0] EXPLICIT CRLReason keyCompromise }`.
fn revoked_status(reason: bool) -> Vec<u8> {
    let mut info = generalized(NOW - Duration::days(2));
    if reason {
        info.extend(der(CONTEXT_0, &der(ENUMERATED, &[1])));
    }
    der(CONTEXT_1, &info)
}

fn unknown_status() -> Vec<u8> {
    der(CONTEXT_2_PRIMITIVE, &[])
}

/// One SingleResponse; `status` and `this_update` are encoded elements, so seeds can put
/// anything there.
#[derive(Clone)]
struct Single {
    cert_id: Vec<u8>,
    status: Vec<u8>,
    this_update: Vec<u8>,
    next_update: Option<OffsetDateTime>,
    extensions: Vec<Vec<u8>>,
}

impl Single {
    fn encode(&self) -> Vec<u8> {
        let mut parts = vec![
            self.cert_id.clone(),
            self.status.clone(),
            self.this_update.clone(),
        ];
        if let Some(next) = self.next_update {
            parts.push(der(CONTEXT_0, &generalized(next)));
        }
        if !self.extensions.is_empty() {
            parts.push(der(CONTEXT_1, &seq(&self.extensions)));
        }
        seq(&parts)
    }
}

/// A tbsResponseData: by default a current "good" for the card from the issuer (byName),
/// echoing the harness's nonce. Seeds change one thing.
#[derive(Clone)]
struct Data {
    version: Option<u8>,
    responder_id: Vec<u8>,
    produced_at: OffsetDateTime,
    singles: Vec<Single>,
    /// `None`: no responseExtensions; `Some(empty)`: an empty list (not allowed).
    extensions: Option<Vec<Vec<u8>>>,
    /// Elements after the extensions (none are allowed).
    trailing: Vec<Vec<u8>>,
}

impl Data {
    fn good(pki: &Pki) -> Self {
        Data {
            version: None,
            responder_id: by_name(&pki.issuer.subject),
            produced_at: NOW - Duration::minutes(1),
            singles: vec![Single {
                cert_id: pki.cert_id(&pki.card, OID_SHA256),
                status: good_status(),
                this_update: generalized(NOW - Duration::hours(1)),
                next_update: Some(NOW + Duration::hours(23)),
                extensions: vec![],
            }],
            extensions: Some(vec![nonce_extension(&der(OCTET_STRING, &NONCE))]),
            trailing: vec![],
        }
    }

    fn with(&self, change: impl FnOnce(&mut Self)) -> Self {
        let mut data = self.clone();
        change(&mut data);
        data
    }

    fn single(&mut self) -> &mut Single {
        &mut self.singles[0]
    }

    fn extensions(&mut self) -> &mut Vec<Vec<u8>> {
        self.extensions.get_or_insert_with(Vec::new)
    }

    fn encode(&self) -> Vec<u8> {
        let mut parts = Vec::new();
        if let Some(v) = self.version {
            parts.push(der(CONTEXT_0, &integer(&[v])));
        }
        parts.push(self.responder_id.clone());
        parts.push(generalized(self.produced_at));
        parts.push(seq(&self
            .singles
            .iter()
            .map(Single::encode)
            .collect::<Vec<_>>()));
        if let Some(extensions) = &self.extensions {
            parts.push(der(CONTEXT_1, &seq(extensions)));
        }
        parts.extend(self.trailing.iter().cloned());
        seq(&parts)
    }
}

fn by_name(subject: &[u8]) -> Vec<u8> {
    der(CONTEXT_1, subject)
}

/// byKey: SHA-1 of the subjectPublicKey (for P-256, the last 65 bytes of the SPKI).
fn by_key(key: &SigningKey) -> Vec<u8> {
    let spki = key.public_key_spki_der();
    let point = &spki[spki.len() - 65..];
    let hash = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, point);
    der(CONTEXT_2, &der(OCTET_STRING, hash.as_ref()))
}

fn nonce_extension(value: &[u8]) -> Vec<u8> {
    extension(OID_NONCE, false, value)
}

/// A BasicOCSPResponse from its parts: `alg` is only what it names, `bits` the BIT STRING's
/// contents (unused-bits octet first).
fn basic(tbs: &[u8], alg: &[u8], bits: &[u8], certs: &[&[u8]]) -> Vec<u8> {
    let mut parts = vec![tbs.to_vec(), seq(&[der(OID, alg)]), der(BIT_STRING, bits)];
    if !certs.is_empty() {
        parts.push(der(CONTEXT_0, &der(SEQUENCE, &certs.concat())));
    }
    seq(&parts)
}

/// The BIT STRING contents of `key`'s signature over `tbs`.
fn signature_bits(key: &SigningKey, tbs: &[u8]) -> Vec<u8> {
    [&[0][..], &ecdsa_signature_value(key, tbs).unwrap()].concat()
}

fn signed_by(tbs: &[u8], key: &SigningKey, certs: &[&[u8]]) -> Vec<u8> {
    sign_response(tbs, key, certs).unwrap()
}

/// `depth` SEQUENCEs, each holding the next, with correct DER lengths.
fn nested_sequences(depth: usize) -> Vec<u8> {
    let mut out = der(NULL, &[]);
    for _ in 0..depth {
        out = der(SEQUENCE, &out);
    }
    out
}

pub fn all(pki: &Pki) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    valid::seeds(pki, &mut out);
    status::seeds(pki, &mut out);
    signer::seeds(pki, &mut out);
    malformed::seeds(pki, &mut out);
    out
}

fn raw(response: &[u8]) -> Vec<u8> {
    raw_input(response, false)
}
