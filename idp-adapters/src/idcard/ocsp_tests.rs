//! OCSP against a scripted responder: responses are built here, by a small DER writer, and signed
//! with the committed test PKI's keys (or keys and certificates made here for the cases the PKI
//! does not cover: delegated responders, a certificate naming its responder, a card a root issued).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex, OnceLock};

use certs::test_pki::{IdCardTestPki, TestCard};
use certs::{KeyKind, SeededRandomSource, SigningKey, SystemRandomSource};
use time::macros::datetime;

use super::*;
use crate::ftn::HttpResponse;
use crate::idcard::{ChainValidator, IdCard, IdCardSettings, Revocation};
use crate::test_util::block_on;

const NOW: OffsetDateTime = datetime!(2030-03-01 08:00:00 UTC);
const URL: &str = "http://ocsp.ca.test/";

// ---------------------------------------------------------------------------------------------
// Keys and certificates

struct Ca {
    der: Vec<u8>,
    /// Subject name, DER.
    subject: Vec<u8>,
    key: SigningKey,
}

struct Fixture {
    pki: IdCardTestPki,
    root: Ca,
    intermediate: Ca,
    /// Another key under the intermediate's exact name.
    rogue: SigningKey,
    /// Delegated responder certificates, all with `responder_key`, issued by the intermediate
    /// unless named otherwise.
    responder_key: SigningKey,
    responder: Vec<u8>,
    responder_without_eku: Vec<u8>,
    responder_expired: Vec<u8>,
    responder_from_root: Vec<u8>,
}

fn fx() -> &'static Fixture {
    static FX: OnceLock<Fixture> = OnceLock::new();
    FX.get_or_init(|| {
        let pki = IdCardTestPki::generate(NOW).unwrap();
        let ca = |der: &Vec<u8>, key_pem: &str| Ca {
            der: der.clone(),
            subject: parse_cert(der).unwrap().subject().as_raw().to_vec(),
            key: SigningKey::from_pkcs8_pem(key_pem).unwrap(),
        };
        let root = ca(&pki.root.cert_der, &pki.root.key_pem);
        let intermediate = ca(&pki.intermediate.cert_der, &pki.intermediate.key_pem);
        let responder_key = SigningKey::generate(KeyKind::EcdsaP256).unwrap();
        let responder = |issuer: &Ca, ekus: &[&[u8]], not_after| {
            CertSpec {
                serial: 7001,
                subject: name(&[(OID_CN, "Test Citizen CA 1 OCSP Responder")]),
                not_before: NOW - Duration::days(1),
                not_after,
                extensions: vec![key_usage_digital_signature(), eku(ekus)],
                key: &responder_key,
            }
            .issue(issuer)
        };
        let later = NOW + Duration::days(30);
        Fixture {
            responder: responder(&intermediate, &[EKU_OCSP_SIGNING], later),
            responder_without_eku: responder(&intermediate, &[EKU_CLIENT_AUTH], later),
            responder_expired: responder(
                &intermediate,
                &[EKU_OCSP_SIGNING],
                NOW - Duration::hours(1),
            ),
            responder_from_root: responder(&root, &[EKU_OCSP_SIGNING], later),
            rogue: SigningKey::generate(KeyKind::EcdsaP256).unwrap(),
            responder_key,
            pki,
            root,
            intermediate,
        }
    })
}

fn valid() -> &'static TestCard {
    &fx().pki.cards.valid
}

fn leaf(card: &TestCard) -> &[u8] {
    &card.chain[0]
}

const OID_CN: &[u8] = &[0x55, 0x04, 0x03];
const OID_COUNTRY: &[u8] = &[0x55, 0x04, 0x06];
const OID_SURNAME: &[u8] = &[0x55, 0x04, 0x04];
const OID_GIVEN_NAME: &[u8] = &[0x55, 0x04, 0x2A];
const OID_SERIAL_NUMBER: &[u8] = &[0x55, 0x04, 0x05];
const EKU_CLIENT_AUTH: &[u8] = &[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02];
/// 1.3.6.1.5.5.7.1.1
const OID_AIA: &[u8] = &[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x01];
/// 1.3.6.1.5.5.7.48.1
const OID_AD_OCSP: &[u8] = &[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01];
/// 1.2.840.10045.4.1 (ecdsa-with-SHA1)
const OID_ECDSA_SHA1: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x01];

/// A certificate made here (the test PKI is rcgen's; these need shapes it does not make).
struct CertSpec<'k> {
    serial: u64,
    subject: Vec<u8>,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    extensions: Vec<Vec<u8>>,
    key: &'k SigningKey,
}

impl CertSpec<'_> {
    fn issue(&self, issuer: &Ca) -> Vec<u8> {
        let utc = |t: OffsetDateTime| tlv(0x17, &gen_time(t).as_bytes()[2..]);
        let tbs = seq(&[
            tlv(CONTEXT_0, &tlv(INTEGER, &[2])),
            integer(&self.serial.to_be_bytes()),
            seq(&[tlv(OID, OID_ECDSA_SHA256)]),
            issuer.subject.clone(),
            seq(&[utc(self.not_before), utc(self.not_after)]),
            self.subject.clone(),
            self.key.public_key_spki_der(),
            tlv(0xA3, &seq(&self.extensions)),
        ]);
        signed(tbs, &issuer.key)
    }
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(SEQUENCE, &parts.concat())
}

/// A DER INTEGER of unsigned big-endian `bytes`.
fn integer(bytes: &[u8]) -> Vec<u8> {
    let start = bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(bytes.len() - 1);
    let mut v = bytes[start..].to_vec();
    if v[0] & 0x80 != 0 {
        v.insert(0, 0);
    }
    tlv(INTEGER, &v)
}

/// `tbs`, signatureAlgorithm (ecdsa-with-SHA256), signature: the shape of a certificate and of a
/// BasicOCSPResponse without certs.
fn signed_parts(tbs: &[u8], key: &SigningKey) -> Vec<Vec<u8>> {
    let rs = key.sign(tbs).unwrap();
    let (r, s) = rs.split_at(rs.len() / 2);
    let sig = seq(&[integer(r), integer(s)]);
    vec![
        tbs.to_vec(),
        seq(&[tlv(OID, OID_ECDSA_SHA256)]),
        tlv(BIT_STRING, &[&[0][..], &sig].concat()),
    ]
}

fn signed(tbs: Vec<u8>, key: &SigningKey) -> Vec<u8> {
    seq(&signed_parts(&tbs, key))
}

fn name(attrs: &[(&[u8], &str)]) -> Vec<u8> {
    seq(&attrs
        .iter()
        .map(|(oid, value)| tlv(0x31, &seq(&[tlv(OID, oid), tlv(0x0C, value.as_bytes())])))
        .collect::<Vec<_>>())
}

fn extension(oid: &[u8], critical: bool, value: &[u8]) -> Vec<u8> {
    let mut parts = vec![tlv(OID, oid)];
    if critical {
        parts.push(tlv(BOOLEAN, &[0xFF]));
    }
    parts.push(tlv(OCTET_STRING, value));
    seq(&parts)
}

fn key_usage_digital_signature() -> Vec<u8> {
    extension(&[0x55, 0x1D, 0x0F], true, &tlv(BIT_STRING, &[0x07, 0x80]))
}

fn eku(oids: &[&[u8]]) -> Vec<u8> {
    let list: Vec<Vec<u8>> = oids.iter().map(|oid| tlv(OID, oid)).collect();
    extension(&[0x55, 0x1D, 0x25], false, &seq(&list))
}

fn aia(url: &str) -> Vec<u8> {
    let desc = seq(&[tlv(OID, OID_AD_OCSP), tlv(0x86, url.as_bytes())]);
    extension(OID_AIA, false, &seq(&[desc]))
}

fn gen_time(t: OffsetDateTime) -> String {
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
    tlv(GENERALIZED_TIME, gen_time(t).as_bytes())
}

// ---------------------------------------------------------------------------------------------
// Responses

#[derive(Clone, Copy)]
enum Status {
    Good,
    Revoked,
    Unknown,
}

struct Single {
    cert_id: Vec<u8>,
    status: Status,
    this_update: OffsetDateTime,
    next_update: Option<OffsetDateTime>,
    extensions: Vec<Vec<u8>>,
}

/// A response to build. [`Spec::for_request`] makes a current "good", signed by the intermediate,
/// echoing the request's nonce; tests change one thing.
struct Spec {
    response_status: u8,
    response_type: &'static [u8],
    version: Option<u8>,
    /// The responderID element, DER.
    responder_id: Vec<u8>,
    produced_at: OffsetDateTime,
    singles: Vec<Single>,
    extensions: Vec<Vec<u8>>,
    signature_algorithm: &'static [u8],
    signer: &'static SigningKey,
    certs: Vec<Vec<u8>>,
    corrupt_signature: bool,
}

fn by_name(subject: &[u8]) -> Vec<u8> {
    tlv(CONTEXT_1, subject)
}

fn by_key(key: &SigningKey) -> Vec<u8> {
    let spki = key.public_key_spki_der();
    let cert_key = spki_key(&spki);
    let hash = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &cert_key);
    tlv(CONTEXT_2, &tlv(OCTET_STRING, hash.as_ref()))
}

/// The subjectPublicKey bytes of a SubjectPublicKeyInfo.
fn spki_key(spki: &[u8]) -> Vec<u8> {
    let mut outer = Reader::new(spki);
    let mut fields = outer.expect(SEQUENCE).unwrap().reader();
    fields.expect(SEQUENCE).unwrap();
    fields.expect(BIT_STRING).unwrap().contents[1..].to_vec()
}

/// What the responder reads from a request: the CertID (DER) and the nonce extnValue.
struct Asked {
    cert_id: Vec<u8>,
    serial: Vec<u8>,
    nonce: Option<Vec<u8>>,
}

fn read_request(der: &[u8]) -> Asked {
    let mut outer = Reader::new(der);
    let mut request = outer.expect(SEQUENCE).unwrap().reader();
    outer.end().unwrap();
    let mut tbs = request.expect(SEQUENCE).unwrap().reader();
    request.end().unwrap();
    let mut list = tbs.expect(SEQUENCE).unwrap().reader();
    let mut one = list.expect(SEQUENCE).unwrap().reader();
    list.end().unwrap();
    let cert_id = one.expect(SEQUENCE).unwrap();
    one.end().unwrap();
    let mut id = cert_id.reader();
    id.next().unwrap();
    id.next().unwrap();
    id.next().unwrap();
    let serial = id.expect(INTEGER).unwrap().contents.to_vec();
    let nonce = tbs.optional(CONTEXT_2).unwrap().map(|exts| {
        let exts = extensions(exts).unwrap();
        assert_eq!(exts.len(), 1);
        assert_eq!(exts[0].oid, OID_NONCE);
        exts[0].value.to_vec()
    });
    tbs.end().unwrap();
    Asked {
        cert_id: cert_id.raw.to_vec(),
        serial,
        nonce,
    }
}

fn nonce_extension(value: &[u8]) -> Vec<u8> {
    extension(OID_NONCE, false, value)
}

impl Spec {
    fn for_request(asked: &Asked) -> Self {
        let f = fx();
        Spec {
            response_status: 0,
            response_type: OID_OCSP_BASIC,
            version: None,
            responder_id: by_name(&f.intermediate.subject),
            produced_at: NOW - Duration::minutes(1),
            singles: vec![Single {
                cert_id: asked.cert_id.clone(),
                status: Status::Good,
                this_update: NOW - Duration::hours(1),
                next_update: Some(NOW + Duration::hours(23)),
                extensions: vec![],
            }],
            extensions: asked.nonce.iter().map(|n| nonce_extension(n)).collect(),
            signature_algorithm: OID_ECDSA_SHA256,
            signer: &f.intermediate.key,
            certs: vec![],
            corrupt_signature: false,
        }
    }

    /// Signed by the delegated responder certificate `cert` (with its byName ID).
    fn delegated(mut self, cert: &[u8]) -> Self {
        self.responder_id = by_name(parse_cert(cert).unwrap().subject().as_raw());
        self.signer = &fx().responder_key;
        self.certs = vec![cert.to_vec()];
        self
    }

    fn single(&mut self) -> &mut Single {
        &mut self.singles[0]
    }

    fn encode(&self) -> Vec<u8> {
        let mut tbs = Vec::new();
        if let Some(v) = self.version {
            tbs.push(tlv(CONTEXT_0, &tlv(INTEGER, &[v])));
        }
        tbs.push(self.responder_id.clone());
        tbs.push(generalized(self.produced_at));
        tbs.push(seq(&self
            .singles
            .iter()
            .map(|s| {
                let mut parts = vec![
                    s.cert_id.clone(),
                    match s.status {
                        Status::Good => tlv(CONTEXT_0_PRIMITIVE, &[]),
                        Status::Revoked => tlv(
                            CONTEXT_1,
                            &[
                                generalized(NOW - Duration::days(2)),
                                tlv(CONTEXT_0, &tlv(ENUMERATED, &[1])),
                            ]
                            .concat(),
                        ),
                        Status::Unknown => tlv(CONTEXT_2_PRIMITIVE, &[]),
                    },
                    generalized(s.this_update),
                ];
                if let Some(next) = s.next_update {
                    parts.push(tlv(CONTEXT_0, &generalized(next)));
                }
                if !s.extensions.is_empty() {
                    parts.push(tlv(CONTEXT_1, &seq(&s.extensions)));
                }
                seq(&parts)
            })
            .collect::<Vec<_>>()));
        if !self.extensions.is_empty() {
            tbs.push(tlv(CONTEXT_1, &seq(&self.extensions)));
        }
        let tbs = seq(&tbs);
        let mut parts = signed_parts(&tbs, self.signer);
        parts[1] = seq(&[tlv(OID, self.signature_algorithm)]);
        if self.corrupt_signature {
            let last = parts[2].len() - 1;
            parts[2][last] ^= 0x01;
        }
        if !self.certs.is_empty() {
            parts.push(tlv(CONTEXT_0, &seq(&self.certs)));
        }
        let basic = seq(&parts);
        let bytes = seq(&[tlv(OID, self.response_type), tlv(OCTET_STRING, &basic)]);
        seq(&[
            tlv(ENUMERATED, &[self.response_status]),
            tlv(CONTEXT_0, &bytes),
        ])
    }
}

// ---------------------------------------------------------------------------------------------
// A scripted responder behind the HttpClient seam

type Answer = Box<dyn Fn(&HttpRequest) -> Result<HttpResponse, HttpError> + Send + Sync>;

struct FakeHttp {
    answer: Answer,
    seen: Mutex<Vec<HttpRequest>>,
}

impl HttpClient for FakeHttp {
    fn send<'a>(
        &'a self,
        req: HttpRequest,
    ) -> crate::AdapterFuture<'a, Result<HttpResponse, HttpError>> {
        let answer = (self.answer)(&req);
        self.seen.lock().unwrap().push(req);
        Box::pin(std::future::ready(answer))
    }
}

fn ocsp_body(body: Vec<u8>) -> Result<HttpResponse, HttpError> {
    Ok(HttpResponse {
        status: 200,
        content_type: Some(OCSP_RESPONSE_TYPE.into()),
        body,
    })
}

/// A responder answering each request with the default spec changed by `change`.
fn responder(change: impl Fn(&mut Spec, &Asked) + Send + Sync + 'static) -> Answer {
    Box::new(move |req| {
        let (content_type, body) = req.body.as_ref().unwrap();
        assert_eq!(content_type, OCSP_REQUEST_TYPE);
        let asked = read_request(body);
        let mut spec = Spec::for_request(&asked);
        change(&mut spec, &asked);
        ocsp_body(spec.encode())
    })
}

fn checker_with(settings: OcspSettings, answer: Answer) -> (OcspChecker, Arc<FakeHttp>) {
    let http = Arc::new(FakeHttp {
        answer,
        seen: Mutex::new(vec![]),
    });
    let checker =
        OcspChecker::new(settings, http.clone(), Arc::new(SeededRandomSource::new(7))).unwrap();
    (checker, http)
}

fn check_with(settings: OcspSettings, answer: Answer) -> Result<OcspGood, CardError> {
    let (checker, _) = checker_with(settings, answer);
    block_on(checker.check(leaf(valid()), &fx().intermediate.der, NOW))
}

fn check(answer: Answer) -> Result<OcspGood, CardError> {
    check_with(OcspSettings::responder(URL), answer)
}

#[track_caller]
fn unavailable(result: Result<OcspGood, CardError>, reason: &str) {
    match result {
        Err(CardError::OcspUnavailable(r)) => assert!(r.contains(reason), "{r:?}, not {reason:?}"),
        other => panic!("expected OcspUnavailable({reason:?}), got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The request

#[test]
fn the_request_is_a_sha256_cert_id_with_a_nonce_posted_as_der() {
    let f = fx();
    let (checker, http) = checker_with(OcspSettings::responder(URL), responder(|_, _| {}));
    block_on(checker.check(leaf(valid()), &f.intermediate.der, NOW)).unwrap();
    let seen = http.seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    let req = &seen[0];
    assert_eq!(req.method, HttpMethod::Post);
    assert_eq!(req.url, URL);
    assert!(req.form.is_none());
    let (content_type, body) = req.body.as_ref().unwrap();
    assert_eq!(content_type, "application/ocsp-request");

    let asked = read_request(body);
    let issuer = parse_cert(&f.intermediate.der).unwrap();
    let expected = seq(&[
        seq(&[tlv(OID, OID_SHA256), tlv(NULL, &[])]),
        tlv(OCTET_STRING, &sha256(issuer.subject().as_raw())),
        tlv(
            OCTET_STRING,
            &sha256(&issuer.public_key().subject_public_key.data),
        ),
        tlv(INTEGER, parse_cert(leaf(valid())).unwrap().raw_serial()),
    ]);
    assert_eq!(asked.cert_id, expected);
    let nonce = asked.nonce.unwrap();
    assert_eq!(nonce.len(), 2 + OCSP_NONCE_LEN);
    assert_eq!(&nonce[..2], &[OCTET_STRING, OCSP_NONCE_LEN as u8]);
}

#[test]
fn no_nonce_when_off() {
    let mut settings = OcspSettings::responder(URL);
    settings.nonce = NonceMode::Off;
    let (checker, http) = checker_with(settings, responder(|_, _| {}));
    let good = block_on(checker.check(leaf(valid()), &fx().intermediate.der, NOW)).unwrap();
    assert!(!good.nonce_echoed);
    let seen = http.seen.lock().unwrap();
    assert!(read_request(&seen[0].body.as_ref().unwrap().1)
        .nonce
        .is_none());
}

#[test]
fn a_wrong_issuer_is_refused_before_asking() {
    let (checker, http) = checker_with(OcspSettings::responder(URL), responder(|_, _| {}));
    unavailable(
        block_on(checker.check(leaf(valid()), &fx().root.der, NOW)),
        "did not issue",
    );
    assert!(http.seen.lock().unwrap().is_empty());
}

#[test]
fn settings_must_name_a_responder() {
    let http: Arc<dyn HttpClient> = Arc::new(FakeHttp {
        answer: responder(|_, _| {}),
        seen: Mutex::new(vec![]),
    });
    let rng = Arc::new(SystemRandomSource);
    let mut none = OcspSettings::from_certificate();
    none.use_aia = false;
    assert!(OcspChecker::new(none, http.clone(), rng.clone()).is_err());
    assert!(OcspChecker::new(
        OcspSettings::responder("ftp://ocsp.ca.test/"),
        http.clone(),
        rng.clone()
    )
    .is_err());
    assert!(OcspChecker::new(OcspSettings::responder("not a url"), http.clone(), rng).is_err());
}

#[test]
fn with_use_aia_the_certificate_names_the_responder() {
    let f = fx();
    let key = SigningKey::generate(KeyKind::EcdsaP256).unwrap();
    let with_aia = CertSpec {
        serial: 4242,
        subject: name(&[(OID_CN, "AIA card")]),
        not_before: NOW - Duration::days(1),
        not_after: NOW + Duration::days(30),
        extensions: vec![
            key_usage_digital_signature(),
            aia("http://ocsp.from-cert.test/ocsp"),
        ],
        key: &key,
    }
    .issue(&f.intermediate);
    let (checker, http) = checker_with(OcspSettings::from_certificate(), responder(|_, _| {}));
    block_on(checker.check(&with_aia, &f.intermediate.der, NOW)).unwrap();
    assert_eq!(
        http.seen.lock().unwrap()[0].url,
        "http://ocsp.from-cert.test/ocsp"
    );

    // A configured URL wins.
    let mut both = OcspSettings::from_certificate();
    both.responder_url = Some(URL.into());
    let (checker, http) = checker_with(both, responder(|_, _| {}));
    block_on(checker.check(&with_aia, &f.intermediate.der, NOW)).unwrap();
    assert_eq!(http.seen.lock().unwrap()[0].url, URL);

    // The test PKI's cards name none.
    let (checker, http) = checker_with(OcspSettings::from_certificate(), responder(|_, _| {}));
    unavailable(
        block_on(checker.check(leaf(valid()), &f.intermediate.der, NOW)),
        "names no OCSP responder",
    );
    assert!(http.seen.lock().unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Statuses

#[test]
fn good_signed_by_the_issuer() {
    let good = check(responder(|_, _| {})).unwrap();
    assert_eq!(good.signer, OcspSigner::Issuer);
    assert!(good.nonce_echoed);
    assert_eq!(good.this_update, NOW - Duration::hours(1));
    assert_eq!(good.next_update, Some(NOW + Duration::hours(23)));
    assert_eq!(good.produced_at, NOW - Duration::minutes(1));
}

#[test]
fn good_with_the_issuer_named_by_key_hash() {
    let good = check(responder(|spec, _| {
        spec.responder_id = by_key(&fx().intermediate.key);
    }))
    .unwrap();
    assert_eq!(good.signer, OcspSigner::Issuer);
}

#[test]
fn revoked() {
    assert_eq!(
        check(responder(|spec, _| spec.single().status = Status::Revoked)),
        Err(CardError::OcspRevoked)
    );
}

#[test]
fn unknown_fails_closed() {
    unavailable(
        check(responder(|spec, _| spec.single().status = Status::Unknown)),
        "does not know",
    );
}

#[test]
fn non_successful_response_statuses_fail_closed() {
    for (status, reason) in [
        (1, "malformed"),
        (2, "internal error"),
        (3, "try later"),
        (5, "signed requests"),
        (6, "unauthorized"),
        (4, "unknown status"),
        (9, "unknown status"),
    ] {
        unavailable(
            check(responder(move |spec, _| spec.response_status = status)),
            reason,
        );
    }
    // As responders send them: no responseBytes at all.
    unavailable(
        check(Box::new(|_| ocsp_body(seq(&[tlv(ENUMERATED, &[3])])))),
        "try later",
    );
}

// ---------------------------------------------------------------------------------------------
// Signatures and responders

#[test]
fn a_bad_signature_fails_closed() {
    unavailable(
        check(responder(|spec, _| spec.corrupt_signature = true)),
        "signature does not verify",
    );
}

#[test]
fn a_key_other_than_the_issuers_under_its_name_fails_closed() {
    unavailable(
        check(responder(|spec, _| spec.signer = &fx().rogue)),
        "signature does not verify",
    );
}

#[test]
fn sha1_and_unknown_signature_algorithms_are_refused() {
    unavailable(
        check(responder(|spec, _| {
            spec.signature_algorithm = OID_ECDSA_SHA1
        })),
        "unsupported OCSP signature algorithm",
    );
}

#[test]
fn an_authorized_delegated_responder_is_accepted() {
    let good = check(responder(|spec, asked| {
        *spec = Spec::for_request(asked).delegated(&fx().responder);
    }))
    .unwrap();
    assert_eq!(good.signer, OcspSigner::Delegated);

    // Named by key hash, with an unrelated certificate listed first.
    let good = check(responder(|spec, asked| {
        *spec = Spec::for_request(asked).delegated(&fx().responder);
        spec.responder_id = by_key(&fx().responder_key);
        spec.certs.insert(0, fx().responder_from_root.clone());
    }));
    assert_eq!(good.unwrap().signer, OcspSigner::Delegated);
}

#[test]
fn a_delegated_responder_without_the_ocsp_signing_eku_is_refused() {
    unavailable(
        check(responder(|spec, asked| {
            *spec = Spec::for_request(asked).delegated(&fx().responder_without_eku);
        })),
        "not authorized",
    );
}

#[test]
fn an_expired_delegated_responder_is_refused() {
    unavailable(
        check(responder(|spec, asked| {
            *spec = Spec::for_request(asked).delegated(&fx().responder_expired);
        })),
        "not authorized",
    );
}

#[test]
fn a_delegated_responder_from_another_ca_is_refused() {
    // The root is trusted, but it did not issue the card: only the card's issuer delegates.
    unavailable(
        check(responder(|spec, asked| {
            *spec = Spec::for_request(asked).delegated(&fx().responder_from_root);
        })),
        "not authorized",
    );
}

#[test]
fn a_delegated_responder_certificate_with_another_signing_key_is_refused() {
    unavailable(
        check(responder(|spec, asked| {
            *spec = Spec::for_request(asked).delegated(&fx().responder);
            spec.signer = &fx().rogue;
        })),
        "not authorized",
    );
}

#[test]
fn a_responder_neither_the_issuer_nor_included_is_refused() {
    unavailable(
        check(responder(|spec, asked| {
            *spec = Spec::for_request(asked).delegated(&fx().responder);
            spec.certs.clear();
        })),
        "neither the issuer nor in the response",
    );
}

// ---------------------------------------------------------------------------------------------
// Which certificate, and when

#[test]
fn a_status_for_another_certificate_fails_closed() {
    let other = OcspRequest::new(leaf(&fx().pki.cards.unmapped), &fx().intermediate.der, None)
        .unwrap()
        .cert_id
        .to_der();
    unavailable(
        check(responder(move |spec, _| {
            spec.single().cert_id = other.clone()
        })),
        "no status for this certificate",
    );
}

#[test]
fn our_status_is_found_among_others_but_not_twice() {
    let other = OcspRequest::new(leaf(&fx().pki.cards.unmapped), &fx().intermediate.der, None)
        .unwrap()
        .cert_id
        .to_der();
    check(responder(move |spec, asked| {
        let mut first = Spec::for_request(asked).singles.remove(0);
        first.cert_id = other.clone();
        first.status = Status::Revoked;
        spec.singles.insert(0, first);
    }))
    .unwrap();
    unavailable(
        check(responder(|spec, asked| {
            spec.singles
                .push(Spec::for_request(asked).singles.remove(0));
        })),
        "several statuses",
    );
}

#[test]
fn a_sha1_cert_id_does_not_match_our_sha256_one() {
    let f = fx();
    let issuer = parse_cert(&f.intermediate.der).unwrap();
    let sha1 = |d: &[u8]| {
        digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, d)
            .as_ref()
            .to_vec()
    };
    let sha1_id = seq(&[
        seq(&[tlv(OID, &[0x2B, 0x0E, 0x03, 0x02, 0x1A]), tlv(NULL, &[])]),
        tlv(OCTET_STRING, &sha1(issuer.subject().as_raw())),
        tlv(
            OCTET_STRING,
            &sha1(&issuer.public_key().subject_public_key.data),
        ),
        tlv(INTEGER, parse_cert(leaf(valid())).unwrap().raw_serial()),
    ]);
    unavailable(
        check(responder(move |spec, _| {
            spec.single().cert_id = sha1_id.clone()
        })),
        "no status for this certificate",
    );
}

#[test]
fn a_stale_next_update_fails_closed() {
    unavailable(
        check(responder(|spec, _| {
            spec.single().this_update = NOW - Duration::days(2);
            spec.single().next_update = Some(NOW - Duration::seconds(1));
        })),
        "stale (nextUpdate passed)",
    );
    unavailable(
        check(responder(|spec, _| spec.single().next_update = Some(NOW))),
        "stale",
    );
}

#[test]
fn without_next_update_the_response_must_be_recent() {
    check(responder(|spec, _| {
        spec.single().next_update = None;
        spec.single().this_update = NOW - Duration::minutes(59);
    }))
    .unwrap();
    unavailable(
        check(responder(|spec, _| {
            spec.single().next_update = None;
            spec.single().this_update = NOW - Duration::minutes(61);
        })),
        "stale (no nextUpdate)",
    );
}

#[test]
fn a_future_this_update_fails_closed_beyond_the_skew() {
    check(responder(|spec, _| {
        spec.single().this_update = NOW + Duration::minutes(4);
    }))
    .unwrap();
    unavailable(
        check(responder(|spec, _| {
            spec.single().this_update = NOW + Duration::minutes(6);
        })),
        "not valid yet",
    );
    unavailable(
        check(responder(|spec, _| {
            spec.produced_at = NOW + Duration::minutes(6);
        })),
        "produced in the future",
    );
}

// ---------------------------------------------------------------------------------------------
// Nonces

#[test]
fn a_different_nonce_fails_closed() {
    unavailable(
        check(responder(|spec, _| {
            spec.extensions = vec![nonce_extension(&tlv(OCTET_STRING, &[7; 32]))];
        })),
        "another nonce",
    );
}

#[test]
fn a_missing_nonce_is_accepted_unless_required() {
    let good = check(responder(|spec, _| spec.extensions.clear())).unwrap();
    assert!(!good.nonce_echoed);

    let mut required = OcspSettings::responder(URL);
    required.nonce = NonceMode::Required;
    unavailable(
        check_with(
            required.clone(),
            responder(|spec, _| spec.extensions.clear()),
        ),
        "does not echo our nonce",
    );
    assert!(
        check_with(required, responder(|_, _| {}))
            .unwrap()
            .nonce_echoed
    );
}

#[test]
fn critical_extensions_we_do_not_know_fail_closed() {
    let odd = || extension(&[0x2A, 0x03, 0x04], true, &tlv(NULL, &[]));
    unavailable(
        check(responder(move |spec, _| spec.extensions.push(odd()))),
        "critical extension",
    );
    unavailable(
        check(responder(move |spec, _| {
            spec.single().extensions.push(odd())
        })),
        "critical extension",
    );
    // Non-critical ones are ignored.
    check(responder(|spec, _| {
        spec.extensions
            .push(extension(&[0x2A, 0x03, 0x04], false, &tlv(NULL, &[])));
    }))
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Hostile and broken bodies, HTTP failures

#[test]
fn garbage_and_oversized_bodies_fail_closed() {
    let body = |b: Vec<u8>| -> Answer { Box::new(move |_| ocsp_body(b.clone())) };
    unavailable(check(body(vec![])), "malformed");
    unavailable(check(body(b"<html>oops</html>".to_vec())), "malformed");
    unavailable(check(body(vec![0x30, 0x80, 0x00, 0x00])), "malformed");
    unavailable(check(body(vec![0x30; 100])), "malformed");
    unavailable(
        check(body(vec![0x30; MAX_OCSP_RESPONSE_BYTES + 1])),
        "too large",
    );
    unavailable(check(Box::new(|_| Err(HttpError::TooLarge))), "too large");
}

#[test]
fn a_well_formed_response_with_anything_extra_fails_closed() {
    // Trailing bytes after the response.
    unavailable(
        check(Box::new(|req| {
            let asked = read_request(&req.body.as_ref().unwrap().1);
            let mut body = Spec::for_request(&asked).encode();
            body.push(0);
            ocsp_body(body)
        })),
        "malformed",
    );
    // A length in a longer form than needed (BER, not DER).
    unavailable(
        check(Box::new(|req| {
            let asked = read_request(&req.body.as_ref().unwrap().1);
            let body = Spec::for_request(&asked).encode();
            let mut reader = Reader::new(&body);
            let outer = reader.next().unwrap();
            let len = outer.contents.len();
            let mut long = vec![SEQUENCE, 0x84];
            long.extend_from_slice(&(len as u32).to_be_bytes());
            long.extend_from_slice(outer.contents);
            ocsp_body(long)
        })),
        "malformed",
    );
    unavailable(
        check(responder(|spec, _| spec.version = Some(0))),
        "version",
    );
    unavailable(
        check(responder(|spec, _| spec.response_type = OID_NONCE)),
        "not id-pkix-ocsp-basic",
    );
}

#[test]
fn http_failures_fail_closed() {
    unavailable(check(Box::new(|_| Err(HttpError::Timeout))), "timed out");
    unavailable(
        check(Box::new(|_| {
            Err(HttpError::Io("connection refused".into()))
        })),
        "unreachable",
    );
    unavailable(
        check(Box::new(|_| {
            Ok(HttpResponse {
                status: 500,
                content_type: Some(OCSP_RESPONSE_TYPE.into()),
                body: vec![],
            })
        })),
        "HTTP error",
    );
    let wrong_type = responder(|_, _| {});
    unavailable(
        check(Box::new(move |req| {
            let mut r = wrong_type(req)?;
            r.content_type = Some("text/html".into());
            Ok(r)
        })),
        "wrong content type",
    );
    // Parameters and case in the content type are fine.
    let upper = responder(|_, _| {});
    check(Box::new(move |req| {
        let mut r = upper(req)?;
        r.content_type = Some("Application/OCSP-Response; charset=binary".into());
        Ok(r)
    }))
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Through the adapter

fn settings() -> IdCardSettings {
    IdCardSettings {
        require_national_id: false,
        test_environment: true,
        ..IdCardSettings::new("https://idcard.gateway.test:8443/")
    }
}

/// OCSP as the only revocation check; the responder revokes the `revoked` card.
fn adapter(anchors: &[Vec<u8>], intermediates: &[Vec<u8>]) -> (IdCard, Arc<FakeHttp>) {
    let revoked_serial = parse_cert(leaf(&fx().pki.cards.revoked))
        .unwrap()
        .raw_serial()
        .to_vec();
    let (checker, http) = checker_with(
        OcspSettings::responder(URL),
        responder(move |spec, asked| {
            if asked.serial == revoked_serial {
                spec.single().status = Status::Revoked;
            }
        }),
    );
    let validator = ChainValidator::new(anchors, intermediates, Revocation::Off).unwrap();
    let card = IdCard::new(settings(), validator, None, Arc::new(SystemRandomSource));
    (card.with_ocsp(checker), http)
}

#[test]
fn the_adapter_asks_after_the_chain_validated() {
    let f = fx();
    let (card, http) = adapter(
        std::slice::from_ref(&f.root.der),
        std::slice::from_ref(&f.intermediate.der),
    );
    let (holder, _) = block_on(card.verify_presented(&valid().chain, NOW)).unwrap();
    assert_eq!(holder.issuer_der, f.intermediate.der);
    assert_eq!(http.seen.lock().unwrap().len(), 1);

    assert_eq!(
        block_on(card.verify_presented(&f.pki.cards.revoked.chain, NOW)),
        Err(CardError::OcspRevoked)
    );
    assert_eq!(http.seen.lock().unwrap().len(), 2);

    // A chain that does not validate is not asked about.
    assert_eq!(
        block_on(card.verify_presented(&f.pki.cards.expired.chain, NOW)),
        Err(CardError::Expired)
    );
    assert_eq!(http.seen.lock().unwrap().len(), 2);
}

#[test]
fn a_card_a_root_issued_is_checked_against_the_root() {
    let f = fx();
    let key = SigningKey::generate(KeyKind::EcdsaP256).unwrap();
    let satu = certs::test_pki::satu_with_check("99900042");
    let common_name = format!("JUURINEN JAANA {satu}");
    let direct = CertSpec {
        serial: 4343,
        subject: name(&[
            (OID_COUNTRY, "FI"),
            (OID_SURNAME, "Juurinen"),
            (OID_GIVEN_NAME, "Jaana"),
            (OID_SERIAL_NUMBER, satu.as_str()),
            (OID_CN, common_name.as_str()),
        ]),
        not_before: NOW - Duration::days(1),
        not_after: NOW + Duration::days(30),
        extensions: vec![key_usage_digital_signature(), eku(&[EKU_CLIENT_AUTH])],
        key: &key,
    }
    .issue(&f.root);
    let (card, http) = adapter(std::slice::from_ref(&f.root.der), &[]);
    // The scripted responder signs as the intermediate: the root's name and key are needed.
    let result = block_on(card.verify_presented(std::slice::from_ref(&direct), NOW));
    assert!(
        matches!(result, Err(CardError::OcspUnavailable(_))),
        "{result:?}"
    );
    assert_eq!(http.seen.lock().unwrap().len(), 1);

    let (checker, _) = checker_with(
        OcspSettings::responder(URL),
        responder(|spec, _| {
            spec.responder_id = by_name(&fx().root.subject);
            spec.signer = &fx().root.key;
        }),
    );
    let validator =
        ChainValidator::new(std::slice::from_ref(&f.root.der), &[], Revocation::Off).unwrap();
    let card =
        IdCard::new(settings(), validator, None, Arc::new(SystemRandomSource)).with_ocsp(checker);
    let (holder, _) = block_on(card.verify_presented(std::slice::from_ref(&direct), NOW)).unwrap();
    assert_eq!(holder.issuer_der, f.root.der);
    assert_eq!(holder.given_name, "Jaana");
}

// ---------------------------------------------------------------------------------------------
// The cache of "good" responses

/// A cache as the gateway's revocation state keeps it: entries leave at their nextUpdate, unless
/// `keep_expired` (a store whose clock runs behind); `down` answers nothing and keeps nothing.
#[derive(Default)]
struct TestCache {
    entries: Mutex<std::collections::HashMap<String, (Vec<u8>, OffsetDateTime)>>,
    refused: Mutex<Vec<&'static str>>,
    keep_expired: bool,
    down: bool,
}

impl crate::idcard::OcspResponseCache for TestCache {
    fn load<'a>(
        &'a self,
        cert: &'a str,
        now: OffsetDateTime,
    ) -> crate::idcard::CacheFuture<'a, Option<Vec<u8>>> {
        let found = if self.down {
            None
        } else {
            self.entries
                .lock()
                .unwrap()
                .get(cert)
                .filter(|(_, until)| self.keep_expired || *until > now)
                .map(|(der, _)| der.clone())
        };
        Box::pin(std::future::ready(found))
    }

    fn store<'a>(
        &'a self,
        cert: &'a str,
        der: Vec<u8>,
        next_update: OffsetDateTime,
        now: OffsetDateTime,
    ) -> crate::idcard::CacheFuture<'a, ()> {
        assert!(next_update > now, "never stored past its nextUpdate");
        if !self.down {
            self.entries
                .lock()
                .unwrap()
                .insert(cert.to_owned(), (der, next_update));
        }
        Box::pin(std::future::ready(()))
    }

    fn refused(&self, _cert: &str, reason: &'static str) {
        self.refused.lock().unwrap().push(reason);
    }
}

impl TestCache {
    fn len(&self) -> usize {
        self.entries.lock().unwrap().len()
    }
}

/// A responder whose times follow `shift` seconds after the default spec's (a CA answering later).
fn shifting_responder(shift: Arc<std::sync::atomic::AtomicI64>) -> Answer {
    responder(move |spec, _| {
        let by = Duration::seconds(shift.load(std::sync::atomic::Ordering::SeqCst));
        spec.produced_at += by;
        spec.single().this_update += by;
        spec.single().next_update = spec.single().next_update.map(|n| n + by);
    })
}

fn cached_checker(
    settings: OcspSettings,
    answer: Answer,
    cache: &Arc<TestCache>,
) -> (OcspChecker, Arc<FakeHttp>) {
    let (checker, http) = checker_with(settings, answer);
    (checker.with_cache(cache.clone()), http)
}

fn asked(http: &FakeHttp) -> usize {
    http.seen.lock().unwrap().len()
}

#[test]
fn a_cached_good_answers_without_asking_until_its_next_update() {
    let shift = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let cache = Arc::new(TestCache::default());
    let (checker, http) = cached_checker(
        OcspSettings::responder(URL),
        shifting_responder(shift.clone()),
        &cache,
    );
    let check_at = |at| block_on(checker.check(leaf(valid()), &fx().intermediate.der, at));
    let first = check_at(NOW).unwrap();
    assert!(!first.from_cache);
    assert_eq!((asked(&http), cache.len()), (1, 1));

    // Within its nextUpdate (NOW + 23 h): verified again from the cache, nothing asked.
    let again = check_at(NOW + Duration::hours(22)).unwrap();
    assert!(again.from_cache && !again.nonce_echoed);
    assert_eq!(again.this_update, first.this_update);
    assert_eq!(asked(&http), 1);

    // Past it the entry has left the cache: a fresh request, whose answer is cached in turn.
    shift.store(
        Duration::hours(24).whole_seconds(),
        std::sync::atomic::Ordering::SeqCst,
    );
    let later = check_at(NOW + Duration::hours(24)).unwrap();
    assert!(!later.from_cache);
    assert_eq!(asked(&http), 2);
    assert!(check_at(NOW + Duration::hours(25)).unwrap().from_cache);
    assert_eq!(asked(&http), 2);
    assert!(cache.refused.lock().unwrap().is_empty());
}

#[test]
fn a_cached_response_past_its_next_update_is_not_used_even_when_the_store_returns_it() {
    let shift = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let cache = Arc::new(TestCache {
        keep_expired: true,
        ..TestCache::default()
    });
    let (checker, http) = cached_checker(
        OcspSettings::responder(URL),
        shifting_responder(shift.clone()),
        &cache,
    );
    block_on(checker.check(leaf(valid()), &fx().intermediate.der, NOW)).unwrap();
    shift.store(
        Duration::hours(24).whole_seconds(),
        std::sync::atomic::Ordering::SeqCst,
    );
    let later = block_on(checker.check(
        leaf(valid()),
        &fx().intermediate.der,
        NOW + Duration::hours(24),
    ))
    .unwrap();
    assert!(!later.from_cache);
    assert_eq!(asked(&http), 2);
    assert_eq!(
        *cache.refused.lock().unwrap(),
        vec!["the OCSP response is stale (nextUpdate passed)"]
    );
}

#[test]
fn revoked_unknown_errors_and_responses_without_next_update_are_never_cached() {
    let cache = Arc::new(TestCache::default());
    let settings = OcspSettings::responder(URL);
    let run = |answer: Answer| {
        let (checker, _) = cached_checker(settings.clone(), answer, &cache);
        block_on(checker.check(leaf(valid()), &fx().intermediate.der, NOW))
    };
    assert_eq!(
        run(responder(|spec, _| spec.single().status = Status::Revoked)),
        Err(CardError::OcspRevoked)
    );
    assert!(run(responder(|spec, _| spec.single().status = Status::Unknown)).is_err());
    assert!(run(responder(|spec, _| spec.corrupt_signature = true)).is_err());
    assert!(run(Box::new(|_| Err(HttpError::Timeout))).is_err());
    let without_next = run(responder(|spec, _| {
        spec.single().next_update = None;
        spec.single().this_update = NOW - Duration::minutes(1);
    }))
    .unwrap();
    assert!(without_next.next_update.is_none());
    assert_eq!(cache.len(), 0);
}

#[test]
fn a_required_nonce_never_reads_or_writes_the_cache() {
    let cache = Arc::new(TestCache::default());
    // Filled by a checker that may use it...
    let (checker, _) = cached_checker(OcspSettings::responder(URL), responder(|_, _| {}), &cache);
    block_on(checker.check(leaf(valid()), &fx().intermediate.der, NOW)).unwrap();
    assert_eq!(cache.len(), 1);
    let before = cache.entries.lock().unwrap().clone();
    // ...and ignored by one that requires its nonce echoed.
    let mut required = OcspSettings::responder(URL);
    required.nonce = NonceMode::Required;
    let (checker, http) = cached_checker(required, responder(|_, _| {}), &cache);
    for _ in 0..2 {
        let good = block_on(checker.check(leaf(valid()), &fx().intermediate.der, NOW)).unwrap();
        assert!(good.nonce_echoed && !good.from_cache);
    }
    assert_eq!(asked(&http), 2);
    assert_eq!(*cache.entries.lock().unwrap(), before);
}

#[test]
fn a_tampered_cache_entry_is_refused_reported_and_replaced() {
    let f = fx();
    let key = OcspRequest::new(leaf(valid()), &f.intermediate.der, None)
        .unwrap()
        .cache_key();
    let valid_asked = || {
        let req = OcspRequest::new(leaf(valid()), &f.intermediate.der, None).unwrap();
        read_request(req.der())
    };
    let revoked_asked = || {
        let req = OcspRequest::new(leaf(&f.pki.cards.revoked), &f.intermediate.der, None).unwrap();
        read_request(req.der())
    };
    let mut bad_signature = Spec::for_request(&valid_asked());
    bad_signature.corrupt_signature = true;
    let mut rogue = Spec::for_request(&valid_asked());
    rogue.signer = &f.rogue;
    let mut says_revoked = Spec::for_request(&valid_asked());
    says_revoked.single().status = Status::Revoked;
    let mut without_next = Spec::for_request(&valid_asked());
    without_next.single().next_update = None;
    without_next.single().this_update = NOW - Duration::minutes(1);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"not DER at all".to_vec(), "OCSP"),
        (bad_signature.encode(), "does not verify"),
        (rogue.encode(), "does not verify"),
        // A genuine "good" for another certificate, moved under this one's key.
        (
            Spec::for_request(&revoked_asked()).encode(),
            "no status for this certificate",
        ),
        (says_revoked.encode(), "says revoked"),
        (without_next.encode(), "no nextUpdate"),
    ];
    for (stored, reason) in cases {
        let cache = Arc::new(TestCache::default());
        cache
            .entries
            .lock()
            .unwrap()
            .insert(key.clone(), (stored, NOW + Duration::hours(1)));
        let (checker, http) =
            cached_checker(OcspSettings::responder(URL), responder(|_, _| {}), &cache);
        let good = block_on(checker.check(leaf(valid()), &f.intermediate.der, NOW)).unwrap();
        assert!(!good.from_cache, "{reason}");
        assert_eq!(asked(&http), 1, "{reason}");
        let refused = cache.refused.lock().unwrap().clone();
        assert!(
            refused.len() == 1 && refused[0].contains(reason),
            "{refused:?}, not {reason:?}"
        );
        // The fresh answer replaced it and serves the next login.
        assert!(
            block_on(checker.check(leaf(valid()), &f.intermediate.der, NOW))
                .unwrap()
                .from_cache
        );
    }
}

#[test]
fn a_cache_that_is_down_means_asking_every_time() {
    let cache = Arc::new(TestCache {
        down: true,
        ..TestCache::default()
    });
    let (checker, http) =
        cached_checker(OcspSettings::responder(URL), responder(|_, _| {}), &cache);
    for _ in 0..3 {
        assert!(
            !block_on(checker.check(leaf(valid()), &fx().intermediate.der, NOW))
                .unwrap()
                .from_cache
        );
    }
    assert_eq!(asked(&http), 3);
    // And a revoked card is still refused with the cache down.
    let (checker, _) = cached_checker(
        OcspSettings::responder(URL),
        responder(|spec, _| spec.single().status = Status::Revoked),
        &cache,
    );
    assert_eq!(
        block_on(checker.check(leaf(valid()), &fx().intermediate.der, NOW)),
        Err(CardError::OcspRevoked)
    );
}
