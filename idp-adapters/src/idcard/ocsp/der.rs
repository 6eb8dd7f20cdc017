//! The DER of OCSP: a writer for the request's few elements, and a strict reader for responses
//! (RFC 6960 section 4.2.1). asn1-rs frames the elements; the reader insists on DER (definite,
//! shortest lengths; no high tag numbers), on every field in its place and nothing left over, and
//! on caps for every list, so a hostile responder costs bounded work.

use aws_lc_rs::digest;
use time::OffsetDateTime;
use x509_parser::asn1_rs::{Any, FromDer, GeneralizedTime};

/// Caps on the parts of a response.
const MAX_RESPONSE_CERTS: usize = 4;
const MAX_SINGLE_RESPONSES: usize = 16;
const MAX_EXTENSIONS: usize = 16;

/// A BasicOCSPResponse as read, before anything in it is trusted.
pub(super) struct BasicResponse<'a> {
    /// The whole DER of tbsResponseData: what the signature covers.
    pub(super) tbs_response_data: &'a [u8],
    pub(super) signature_algorithm: &'a [u8],
    pub(super) signature: &'a [u8],
    pub(super) certs: Vec<&'a [u8]>,
}

pub(super) enum ResponderId<'a> {
    ByName(&'a [u8]),
    /// SHA-1 of the responder's subjectPublicKey.
    ByKey(&'a [u8]),
}

impl ResponderId<'_> {
    pub(super) fn names(&self, subject: &[u8], key: &[u8]) -> bool {
        match self {
            Self::ByName(name) => *name == subject,
            Self::ByKey(hash) => {
                *hash == digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, key).as_ref()
            }
        }
    }
}

/// tbsResponseData, read once its signature verified.
pub(super) struct ResponseData<'a> {
    pub(super) produced_at: OffsetDateTime,
    pub(super) responses: Vec<SingleResponse<'a>>,
    /// The nonce extension's extnValue, if any.
    pub(super) nonce: Option<&'a [u8]>,
}

pub(super) struct ResponseCertId<'a> {
    pub(super) hash_algorithm: &'a [u8],
    pub(super) name_hash: &'a [u8],
    pub(super) key_hash: &'a [u8],
    pub(super) serial: &'a [u8],
}

pub(super) enum CertStatus {
    Good,
    Revoked,
    Unknown,
}

pub(super) struct SingleResponse<'a> {
    pub(super) cert_id: ResponseCertId<'a>,
    pub(super) status: CertStatus,
    pub(super) this_update: OffsetDateTime,
    pub(super) next_update: Option<OffsetDateTime>,
}

// ---------------------------------------------------------------------------------------------
// The response, field by field

pub(super) const MALFORMED: &str = "malformed OCSP response";

/// OCSPResponse -> BasicOCSPResponse, with the status checked and nothing left over anywhere.
pub(super) fn parse_response(body: &[u8]) -> Result<BasicResponse<'_>, &'static str> {
    let mut outer = Reader::new(body);
    let response = outer.expect(SEQUENCE)?;
    outer.end()?;
    let mut fields = response.reader();
    let status = fields.expect(ENUMERATED)?;
    match status.contents {
        [0] => {}
        [1] => return Err("the OCSP responder says our request was malformed"),
        [2] => return Err("the OCSP responder had an internal error"),
        [3] => return Err("the OCSP responder says try later"),
        [5] => return Err("the OCSP responder requires signed requests"),
        [6] => return Err("the OCSP responder refused the request as unauthorized"),
        _ => return Err("the OCSP response has an unknown status"),
    }
    let response_bytes = fields.expect(CONTEXT_0)?;
    fields.end()?;
    let mut explicit = response_bytes.reader();
    let response_bytes = explicit.expect(SEQUENCE)?;
    explicit.end()?;
    let mut rb = response_bytes.reader();
    let response_type = rb.expect(OID)?;
    let response = rb.expect(OCTET_STRING)?;
    rb.end()?;
    if response_type.contents != OID_OCSP_BASIC {
        return Err("unsupported OCSP response type (not id-pkix-ocsp-basic)");
    }

    let mut inner = Reader::new(response.contents);
    let basic = inner.expect(SEQUENCE)?;
    inner.end()?;
    let mut fields = basic.reader();
    let tbs = fields.expect(SEQUENCE)?;
    let signature_algorithm = algorithm_oid(fields.expect(SEQUENCE)?)?;
    let signature = fields.expect(BIT_STRING)?;
    let signature = match signature.contents {
        [0, rest @ ..] => rest,
        _ => return Err(MALFORMED),
    };
    let mut certs = Vec::new();
    if let Some(explicit) = fields.optional(CONTEXT_0)? {
        let mut explicit = explicit.reader();
        let list = explicit.expect(SEQUENCE)?;
        explicit.end()?;
        let mut list = list.reader();
        while !list.at_end() {
            if certs.len() == MAX_RESPONSE_CERTS {
                return Err("too many certificates in the OCSP response");
            }
            certs.push(list.expect(SEQUENCE)?.raw);
        }
    }
    fields.end()?;
    Ok(BasicResponse {
        tbs_response_data: tbs.raw,
        signature_algorithm,
        signature,
        certs,
    })
}

/// Only the responderID, read before the signature is checked (to pick the key).
pub(super) fn responder_id(tbs_der: &[u8]) -> Result<ResponderId<'_>, &'static str> {
    let mut fields = response_data_fields(tbs_der)?;
    read_responder_id(&mut fields)
}

pub(super) fn response_data_fields(tbs_der: &[u8]) -> Result<Reader<'_>, &'static str> {
    let mut outer = Reader::new(tbs_der);
    let tbs = outer.expect(SEQUENCE)?;
    outer.end()?;
    let fields = tbs.reader();
    // version [0] EXPLICIT DEFAULT v1: DER omits v1, and there is no other version.
    if fields.peek() == Some(CONTEXT_0) {
        return Err("unsupported OCSP response version");
    }
    Ok(fields)
}

pub(super) fn read_responder_id<'a>(
    fields: &mut Reader<'a>,
) -> Result<ResponderId<'a>, &'static str> {
    let id = fields.next()?;
    let mut explicit = id.reader();
    let inner = match id.id {
        CONTEXT_1 => ResponderId::ByName(explicit.expect(SEQUENCE)?.raw),
        CONTEXT_2 => {
            let hash = explicit.expect(OCTET_STRING)?.contents;
            if hash.len() != 20 {
                return Err(MALFORMED);
            }
            ResponderId::ByKey(hash)
        }
        _ => return Err(MALFORMED),
    };
    explicit.end()?;
    Ok(inner)
}

/// ResponseData, after its signature verified.
pub(super) fn parse_response_data(tbs_der: &[u8]) -> Result<ResponseData<'_>, &'static str> {
    let mut fields = response_data_fields(tbs_der)?;
    read_responder_id(&mut fields)?;
    let produced_at = time_of(fields.expect(GENERALIZED_TIME)?)?;
    let mut list = fields.expect(SEQUENCE)?.reader();
    let mut responses = Vec::new();
    while !list.at_end() {
        if responses.len() == MAX_SINGLE_RESPONSES {
            return Err("too many statuses in the OCSP response");
        }
        responses.push(single_response(list.expect(SEQUENCE)?)?);
    }
    let mut nonce = None;
    if let Some(explicit) = fields.optional(CONTEXT_1)? {
        for ext in extensions(explicit)? {
            if ext.oid == OID_NONCE {
                if nonce.is_some() {
                    return Err(MALFORMED);
                }
                nonce = Some(ext.value);
            } else if ext.critical {
                return Err("unsupported critical extension in the OCSP response");
            }
        }
    }
    fields.end()?;
    Ok(ResponseData {
        produced_at,
        responses,
        nonce,
    })
}

pub(super) fn single_response(seq: Tlv<'_>) -> Result<SingleResponse<'_>, &'static str> {
    let mut fields = seq.reader();
    let mut id = fields.expect(SEQUENCE)?.reader();
    let hash_algorithm = algorithm_oid(id.expect(SEQUENCE)?)?;
    let name_hash = id.expect(OCTET_STRING)?.contents;
    let key_hash = id.expect(OCTET_STRING)?.contents;
    let serial = id.expect(INTEGER)?.contents;
    id.end()?;
    let status = fields.next()?;
    let status = match status.id {
        CONTEXT_0_PRIMITIVE if status.contents.is_empty() => CertStatus::Good,
        CONTEXT_1 => {
            // RevokedInfo { revocationTime, revocationReason [0] EXPLICIT CRLReason OPTIONAL }
            let mut info = status.reader();
            time_of(info.expect(GENERALIZED_TIME)?)?;
            if let Some(reason) = info.optional(CONTEXT_0)? {
                let mut reason = reason.reader();
                reason.expect(ENUMERATED)?;
                reason.end()?;
            }
            info.end()?;
            CertStatus::Revoked
        }
        CONTEXT_2_PRIMITIVE if status.contents.is_empty() => CertStatus::Unknown,
        _ => return Err(MALFORMED),
    };
    let this_update = time_of(fields.expect(GENERALIZED_TIME)?)?;
    let next_update = match fields.optional(CONTEXT_0)? {
        Some(explicit) => {
            let mut explicit = explicit.reader();
            let next = time_of(explicit.expect(GENERALIZED_TIME)?)?;
            explicit.end()?;
            Some(next)
        }
        None => None,
    };
    if let Some(explicit) = fields.optional(CONTEXT_1)? {
        if extensions(explicit)?.iter().any(|ext| ext.critical) {
            return Err("unsupported critical extension in the OCSP response");
        }
    }
    fields.end()?;
    Ok(SingleResponse {
        cert_id: ResponseCertId {
            hash_algorithm,
            name_hash,
            key_hash,
            serial,
        },
        status,
        this_update,
        next_update,
    })
}

pub(super) struct Extension<'a> {
    pub(super) oid: &'a [u8],
    pub(super) critical: bool,
    pub(super) value: &'a [u8],
}

/// `[n] EXPLICIT Extensions` (SEQUENCE SIZE (1..MAX) OF Extension).
pub(super) fn extensions(explicit: Tlv<'_>) -> Result<Vec<Extension<'_>>, &'static str> {
    let mut explicit = explicit.reader();
    let mut list = explicit.expect(SEQUENCE)?.reader();
    explicit.end()?;
    let mut out = Vec::new();
    while !list.at_end() {
        if out.len() == MAX_EXTENSIONS {
            return Err(MALFORMED);
        }
        let mut ext = list.expect(SEQUENCE)?.reader();
        let oid = ext.expect(OID)?.contents;
        // DEFAULT FALSE: DER omits false, so a present BOOLEAN is true.
        let critical = match ext.optional(BOOLEAN)? {
            Some(b) if b.contents == [0xFF] => true,
            Some(_) => return Err(MALFORMED),
            None => false,
        };
        let value = ext.expect(OCTET_STRING)?.contents;
        ext.end()?;
        out.push(Extension {
            oid,
            critical,
            value,
        });
    }
    if out.is_empty() {
        return Err(MALFORMED);
    }
    Ok(out)
}

/// AlgorithmIdentifier's OID; parameters absent or NULL (as RSA and the hashes write them).
pub(super) fn algorithm_oid(seq: Tlv<'_>) -> Result<&[u8], &'static str> {
    let mut fields = seq.reader();
    let oid = fields.expect(OID)?.contents;
    if let Some(null) = fields.optional(NULL)? {
        if !null.contents.is_empty() {
            return Err(MALFORMED);
        }
    }
    fields.end()?;
    Ok(oid)
}

/// GeneralizedTime as RFC 5280 writes it: `YYYYMMDDHHMMSSZ`.
pub(super) fn time_of(t: Tlv<'_>) -> Result<OffsetDateTime, &'static str> {
    let digits = t.contents.len() == 15
        && t.contents[..14].iter().all(u8::is_ascii_digit)
        && t.contents[14] == b'Z';
    if !digits {
        return Err(MALFORMED);
    }
    let (_, time) = GeneralizedTime::from_der(t.raw).map_err(|_| MALFORMED)?;
    time.utc_datetime().map_err(|_| MALFORMED)
}

// ---------------------------------------------------------------------------------------------
// DER: identifiers, OIDs, a writer for the request and a strict reader over asn1-rs

pub(super) const BOOLEAN: u8 = 0x01;
pub(super) const INTEGER: u8 = 0x02;
pub(super) const BIT_STRING: u8 = 0x03;
pub(super) const OCTET_STRING: u8 = 0x04;
pub(super) const NULL: u8 = 0x05;
pub(super) const OID: u8 = 0x06;
pub(super) const ENUMERATED: u8 = 0x0A;
pub(super) const GENERALIZED_TIME: u8 = 0x18;
pub(super) const SEQUENCE: u8 = 0x30;
pub(super) const CONTEXT_0: u8 = 0xA0;
pub(super) const CONTEXT_1: u8 = 0xA1;
pub(super) const CONTEXT_2: u8 = 0xA2;
pub(super) const CONTEXT_0_PRIMITIVE: u8 = 0x80;
pub(super) const CONTEXT_2_PRIMITIVE: u8 = 0x82;

/// 2.16.840.1.101.3.4.2.1
pub(super) const OID_SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
/// 1.3.6.1.5.5.7.48.1.1
pub(super) const OID_OCSP_BASIC: &[u8] = &[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01];
/// 1.3.6.1.5.5.7.48.1.2
pub(super) const OID_NONCE: &[u8] = &[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x02];
/// 1.3.6.1.5.5.7.3.9 (id-kp-OCSPSigning)
pub(super) const EKU_OCSP_SIGNING: &[u8] = &[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x09];
pub(super) const OID_RSA_SHA256: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B];
pub(super) const OID_RSA_SHA384: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0C];
pub(super) const OID_RSA_SHA512: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0D];
pub(super) const OID_ECDSA_SHA256: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02];
pub(super) const OID_ECDSA_SHA384: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x03];

/// One DER element with a low tag number.
pub(super) fn tlv(id: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(contents.len() + 6);
    out.push(id);
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(contents);
    out
}

/// An element as read: its identifier octet, contents, and whole encoding.
#[derive(Clone, Copy)]
pub(super) struct Tlv<'a> {
    pub(super) id: u8,
    pub(super) contents: &'a [u8],
    pub(super) raw: &'a [u8],
}

impl<'a> Tlv<'a> {
    pub(super) fn reader(&self) -> Reader<'a> {
        Reader::new(self.contents)
    }
}

/// Reads consecutive DER elements. asn1-rs frames them (definite lengths only); the reader adds
/// what DER also demands of a length: the shortest form.
pub(super) struct Reader<'a> {
    pub(super) rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(super) fn new(input: &'a [u8]) -> Self {
        Self { rest: input }
    }

    pub(super) fn at_end(&self) -> bool {
        self.rest.is_empty()
    }

    pub(super) fn end(&self) -> Result<(), &'static str> {
        if self.at_end() {
            Ok(())
        } else {
            Err(MALFORMED)
        }
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    pub(super) fn next(&mut self) -> Result<Tlv<'a>, &'static str> {
        let input = self.rest;
        let id = *input.first().ok_or(MALFORMED)?;
        if id & 0x1F == 0x1F {
            return Err(MALFORMED); // high tag numbers: nothing in OCSP uses them
        }
        let (rest, any) = Any::from_der(input).map_err(|_| MALFORMED)?;
        let raw = &input[..input.len() - rest.len()];
        let len = any.data.len();
        let shortest_header = if len < 0x80 {
            2
        } else {
            2 + std::mem::size_of::<usize>() - (len.leading_zeros() as usize / 8)
        };
        if raw.len() != shortest_header + len {
            return Err(MALFORMED);
        }
        self.rest = rest;
        Ok(Tlv {
            id,
            contents: any.data,
            raw,
        })
    }

    pub(super) fn expect(&mut self, id: u8) -> Result<Tlv<'a>, &'static str> {
        let tlv = self.next()?;
        if tlv.id == id {
            Ok(tlv)
        } else {
            Err(MALFORMED)
        }
    }

    pub(super) fn optional(&mut self, id: u8) -> Result<Option<Tlv<'a>>, &'static str> {
        if self.peek() == Some(id) {
            self.next().map(Some)
        } else {
            Ok(None)
        }
    }
}
