//! Entry points shared by the fuzz targets (`fuzz/`, outside the workspace) and the corpus replay
//! test (`tests/fuzz_corpus.rs`). Each takes arbitrary bytes and runs the path the gateway runs on
//! hostile input, with fixed trust data and a fixed clock so that committed seeds stay valid.
//!
//! None of these may panic on any input: a panic is the bug the fuzzer reports. Bytes that are not
//! UTF-8 are converted lossily, so the fuzzer's mutations still reach the decoders and the parser.
//!
//! The trust data is deliberately permissive where that lets input go deeper: any Issuer is a known
//! requester, and signed requests are not required (a signature, when present, is still checked
//! against [`FIXED_CERT_PEM`], and only against it).

use crate::authn_request::{
    self, AuthnRequest, IntakeError, IntakePolicy, RequestBinding, RequesterTrust,
};
use crate::binding::{self, BindingLimits, MessageParam};
use crate::dsig::{self, VerifiedSignature};
use crate::error::SamlError;
use crate::sp::{self, ResponseExpectations, ValidatedAssertion};
use crate::xml;
use certs::Certificate;
use std::sync::OnceLock;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

/// The one key every fuzz entry point trusts: a self-signed RSA-2048 certificate
/// (CN=saml-fuzz-fixed-requester, made once with `openssl req -x509 -newkey rsa:2048`). Its private
/// key exists only to make the committed seeds (see `fuzz/README.md`); nothing else trusts it.
pub const FIXED_CERT_PEM: &str = "\
-----BEGIN CERTIFICATE-----\n\
MIIDODCCAiCgAwIBAgIUOHAcl1+/v7213/Z1rVayPrU7en0wDQYJKoZIhvcNAQEL\n\
BQAwJDEiMCAGA1UEAwwZc2FtbC1mdXp6LWZpeGVkLXJlcXVlc3RlcjAgFw0yNjEx\n\
MjExMzQzMDZaGA8yMTI2MTAyODEzNDMwNlowJDEiMCAGA1UEAwwZc2FtbC1mdXp6\n\
LWZpeGVkLXJlcXVlc3RlcjCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEB\n\
AMYwlbNCH5R+RmHWlcbOIMBojy0BC0lkoyk0HbZvligRbyiICmsmzuhdrHGqUO2o\n\
XL82YnXug0awSnBsfH5UI2GfD8Iu9jd5q4/v4IZGwIHdduAlYJGOwfFfXNRyLe4q\n\
PmN1SRbvCXfssTUB27Nn4A35DchmPc4Fu3wg7yaz/xBTSPEGKFUecpCi7WLrI+1z\n\
fyXKzlxaAyrgFikCNDub7RljlTqcKjd2iYq3wsCe8a7KBqWJinILyIVlcR3BUJSb\n\
uUGc3wk2y9ElJ11tXlXZwxe7RwmmkFlwA8Niz2aRU7uRnanBfhiPDvx/KtDKtkkg\n\
2GuUQWw6o5bvoQlTry5CrbcCAwEAAaNgMF4wHQYDVR0OBBYEFAyEPpkqhNl6OOG8\n\
+sxv490/BM5QMB8GA1UdIwQYMBaAFAyEPpkqhNl6OOG8+sxv490/BM5QMA4GA1Ud\n\
DwEB/wQEAwIHgDAMBgNVHRMBAf8EAjAAMA0GCSqGSIb3DQEBCwUAA4IBAQCt+r1z\n\
26iOGHMDx85J2ecTHejvtpzDkfNZxEGLN0k75jKPQ6ejy5194FewqOF/7rYcjqRB\n\
RzGn/zgmZmyw2alXbUNQq/tyImn5d4ka45FqXQTu2YNk/5FcUApYgOGcSdLUvTmu\n\
z+nYr/aHIOEJKHBZsPcDeHrWJmZkU0uvCQxH5jFS8X5Lf6MngWrwu9V2cciXtxfC\n\
wjuwOvbgVDsvtm2UceqAB2SQbN0Hx/WlK0Y2zKmqrpmAMjH5h7z2qf5IteLoOmCJ\n\
Cxf0Un8jT5NjClUeGuJzaX+nsai8CML9BPtaDEej+2J4bxuJusj0nocJCGenvOAz\n\
fyVL9HWGpgbfa1FA\n\
-----END CERTIFICATE-----\n\
";

/// The SSO endpoint requests must be addressed to (`Destination`).
pub const SSO_URL: &str = "https://idp.fuzz.example/saml/sso";
/// The requester (SP) entity the seeds are issued by; intake accepts any Issuer, though.
pub const SP_ENTITY_ID: &str = "https://sp.fuzz.example";
/// The SP's assertion consumer service: where a Response must be addressed.
pub const SP_ACS_URL: &str = "https://sp.fuzz.example/acs";
/// The IdP whose Response [`sp_response`] expects.
pub const IDP_ENTITY_ID: &str = "https://idp.fuzz.example";
/// The request ID a Response must answer (`InResponseTo`).
pub const REQUEST_ID: &str = "_fuzz-request-1";
/// The fixed "now" of every entry point; seeds are issued at this instant.
pub const NOW: OffsetDateTime = datetime!(2026-11-21 12:00 UTC);

/// The certificate of [`FIXED_CERT_PEM`], parsed once.
pub fn fixed_certificate() -> Result<&'static Certificate, SamlError> {
    static CERT: OnceLock<Option<Certificate>> = OnceLock::new();
    CERT.get_or_init(|| {
        Certificate::from_pem(FIXED_CERT_PEM)
            .ok()
            .and_then(|certs| certs.into_iter().next())
    })
    .as_ref()
    .ok_or(SamlError::NoTrustedKey)
}

/// `data` as the raw query string of an HTTP-Redirect AuthnRequest.
pub fn redirect_intake(data: &[u8]) -> Result<AuthnRequest, IntakeError> {
    let query = String::from_utf8_lossy(data);
    let message =
        binding::decode_redirect(&query, MessageParam::SamlRequest, &BindingLimits::default())
            .map_err(IntakeError::Untrusted)?;
    let requester = fixed_requester()?;
    authn_request::intake(
        &message.xml,
        RequestBinding::Redirect,
        message.signature.as_ref(),
        |_issuer| Some(requester),
        &intake_policy(),
    )
    .map(|(_, request)| request)
}

/// `data` as the `SAMLRequest` form field of an HTTP-POST AuthnRequest (base64).
pub fn post_intake(data: &[u8]) -> Result<AuthnRequest, IntakeError> {
    let field = String::from_utf8_lossy(data);
    let xml =
        binding::decode_post(&field, &BindingLimits::default()).map_err(IntakeError::Untrusted)?;
    post_intake_of(&xml)
}

/// `data` as the XML of an HTTP-POST AuthnRequest, already base64-decoded: reaches the parser and
/// the signature check without the fuzzer having to find valid base64 first.
pub fn post_intake_xml(data: &[u8]) -> Result<AuthnRequest, IntakeError> {
    post_intake_of(&String::from_utf8_lossy(data))
}

/// `data` as an XML document whose root element carries an enveloped signature.
pub fn verify_signature(data: &[u8]) -> Result<VerifiedSignature, SamlError> {
    let text = String::from_utf8_lossy(data);
    let doc = xml::parse_strict(&text, xml::ParseLimits::MESSAGE)?;
    dsig::verify_enveloped(
        doc.root_element(),
        std::slice::from_ref(fixed_certificate()?),
    )
}

/// `data` as the XML of a Response to [`REQUEST_ID`], validated as the SP at [`SP_ACS_URL`] does.
pub fn sp_response(data: &[u8]) -> Result<ValidatedAssertion, SamlError> {
    let text = String::from_utf8_lossy(data);
    let expectations = ResponseExpectations {
        sp_entity_id: SP_ENTITY_ID,
        acs_url: SP_ACS_URL,
        idp_entity_id: IDP_ENTITY_ID,
        idp_certificates: std::slice::from_ref(fixed_certificate()?),
        in_response_to: Some(REQUEST_ID),
        now: NOW,
        clock_skew: Duration::seconds(30),
        decryption_key: None,
    };
    sp::validate_response(&text, &expectations)
}

/// A requester whose metadata lists the fixed certificate and does not demand signed requests.
#[derive(Clone, Copy)]
struct FixedRequester(&'static Certificate);

impl RequesterTrust for FixedRequester {
    fn signing_certificates(&self) -> &[Certificate] {
        std::slice::from_ref(self.0)
    }
    fn requires_signed_requests(&self) -> bool {
        false
    }
}

fn fixed_requester() -> Result<FixedRequester, IntakeError> {
    fixed_certificate()
        .map(FixedRequester)
        .map_err(IntakeError::Untrusted)
}

fn intake_policy() -> IntakePolicy<'static> {
    IntakePolicy {
        sso_url: SSO_URL,
        now: NOW,
        max_clock_skew: Duration::seconds(30),
        max_age: Duration::minutes(5),
    }
}

fn post_intake_of(xml: &str) -> Result<AuthnRequest, IntakeError> {
    let requester = fixed_requester()?;
    authn_request::intake(
        xml,
        RequestBinding::Post,
        None,
        |_issuer| Some(requester),
        &intake_policy(),
    )
    .map(|(_, request)| request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_certificate_parses_as_rsa_2048() {
        let cert = fixed_certificate();
        assert!(cert.is_ok(), "{cert:?}");
        if let Ok(cert) = cert {
            assert_eq!(cert.subject(), "CN=saml-fuzz-fixed-requester");
            assert!(cert.allows_digital_signature());
        }
    }

    #[test]
    fn garbage_is_refused_everywhere() {
        for data in [&b""[..], b"\xff\xfe", b"SAMLRequest=%%%", b"<a/>", b"&&&=="] {
            assert!(redirect_intake(data).is_err());
            assert!(post_intake(data).is_err());
            assert!(post_intake_xml(data).is_err());
            assert!(verify_signature(data).is_err());
            assert!(sp_response(data).is_err());
        }
    }
}
