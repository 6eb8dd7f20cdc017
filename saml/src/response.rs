//! Responses the IdP sends: a signed assertion for a successful login, or a status response.

use crate::dsig;
use crate::error::SamlError;
use crate::time_fmt::format as ts;
use crate::xml::{XmlWriter, NS_SAML, NS_SAMLP};
use certs::{Certificate, SigningKey};
use time::{Duration, OffsetDateTime};

/// The key and certificate that sign what the IdP sends.
#[derive(Clone, Copy)]
pub struct Signer<'a> {
    pub key: &'a SigningKey,
    pub cert: &'a Certificate,
}

/// One attribute statement entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    pub name: String,
    pub friendly_name: Option<String>,
    pub values: Vec<String>,
}

/// Everything a successful Response says.
#[derive(Clone, Debug)]
pub struct AssertionDraft<'a> {
    pub response_id: &'a str,
    pub assertion_id: &'a str,
    pub idp_entity_id: &'a str,
    pub sp_entity_id: &'a str,
    pub acs_url: &'a str,
    pub in_response_to: Option<&'a str>,
    pub now: OffsetDateTime,
    /// How long the assertion and its bearer confirmation may be used.
    pub lifetime: Duration,
    pub name_id: &'a str,
    pub name_id_format: &'a str,
    pub session_index: &'a str,
    pub session_not_on_or_after: Option<OffsetDateTime>,
    pub authn_instant: OffsetDateTime,
    pub authn_context_class_ref: &'a str,
    /// Who authenticated the subject upstream (a bank's issuer, the test bank's URN), written
    /// as `saml:AuthenticatingAuthority` so an SP can tell a test login from a real bank's.
    pub authenticating_authority: Option<&'a str>,
    pub attributes: &'a [Attribute],
}

/// Build the Response, sign the Assertion, and sign the Response too when `sign_response`.
pub fn build_success(
    d: &AssertionDraft<'_>,
    signer: Signer<'_>,
    sign_response: bool,
) -> Result<String, SamlError> {
    build(d, signer, sign_response, None)
}

/// As [`build_success`], with the signed Assertion encrypted to `recipient` (the SP's
/// encryption certificate from its metadata).
pub fn build_success_encrypted(
    d: &AssertionDraft<'_>,
    signer: Signer<'_>,
    sign_response: bool,
    recipient: &Certificate,
    rng: &dyn certs::RandomSource,
) -> Result<String, SamlError> {
    build(d, signer, sign_response, Some((recipient, rng)))
}

fn build(
    d: &AssertionDraft<'_>,
    signer: Signer<'_>,
    sign_response: bool,
    encrypt_to: Option<(&Certificate, &dyn certs::RandomSource)>,
) -> Result<String, SamlError> {
    let mut assertion = dsig::sign_enveloped(&assertion_xml(d), signer.key, signer.cert)?;
    if let Some((recipient, rng)) = encrypt_to {
        assertion = crate::encrypt::encrypt_assertion(&assertion, recipient, rng)?;
    }
    let mut w = XmlWriter::new();
    response_start(
        &mut w,
        d.response_id,
        d.now,
        d.acs_url,
        d.in_response_to,
        d.idp_entity_id,
    );
    write_status(&mut w, crate::STATUS_SUCCESS, None, None);
    w.raw_trusted(&assertion);
    let xml = w.finish();
    if sign_response {
        dsig::sign_enveloped(&xml, signer.key, signer.cert)
    } else {
        Ok(xml)
    }
}

/// A status response (no assertion), always signed so the SP can trust the refusal.
#[derive(Clone, Debug)]
pub struct StatusDraft<'a> {
    pub response_id: &'a str,
    pub idp_entity_id: &'a str,
    pub acs_url: &'a str,
    pub in_response_to: Option<&'a str>,
    pub now: OffsetDateTime,
    pub top_code: &'a str,
    pub second_code: Option<&'a str>,
    pub message: Option<&'a str>,
}

pub fn build_status(d: &StatusDraft<'_>, signer: Signer<'_>) -> Result<String, SamlError> {
    let mut w = XmlWriter::new();
    response_start(
        &mut w,
        d.response_id,
        d.now,
        d.acs_url,
        d.in_response_to,
        d.idp_entity_id,
    );
    write_status(&mut w, d.top_code, d.second_code, d.message);
    dsig::sign_enveloped(&w.finish(), signer.key, signer.cert)
}

pub(crate) fn write_status(
    w: &mut XmlWriter,
    top: &str,
    second: Option<&str>,
    message: Option<&str>,
) {
    w.start("samlp:Status")
        .start("samlp:StatusCode")
        .attr("Value", top);
    if let Some(sub) = second {
        w.start("samlp:StatusCode").attr("Value", sub).end();
    }
    w.end();
    if let Some(m) = message {
        w.leaf("samlp:StatusMessage", m);
    }
    w.end();
}

fn response_start(
    w: &mut XmlWriter,
    id: &str,
    now: OffsetDateTime,
    destination: &str,
    in_response_to: Option<&str>,
    issuer: &str,
) {
    message_start(w, "samlp:Response", id, now, destination);
    w.attr_opt("InResponseTo", in_response_to);
    w.leaf("saml:Issuer", issuer);
}

/// The start tag every protocol message of ours has: the namespaces, ID, Version, IssueInstant
/// and Destination (the caller adds its own attributes, then the Issuer).
pub(crate) fn message_start(
    w: &mut XmlWriter,
    root: &str,
    id: &str,
    issue_instant: OffsetDateTime,
    destination: &str,
) {
    w.start(root)
        .attr("xmlns:samlp", NS_SAMLP)
        .attr("xmlns:saml", NS_SAML)
        .attr("ID", id)
        .attr("Version", "2.0")
        .attr("IssueInstant", &ts(issue_instant))
        .attr("Destination", destination);
}

fn assertion_xml(d: &AssertionDraft<'_>) -> String {
    let until = ts(d.now + d.lifetime);
    let mut w = XmlWriter::new();
    w.start("saml:Assertion")
        .attr("xmlns:saml", NS_SAML)
        .attr("ID", d.assertion_id)
        .attr("Version", "2.0")
        .attr("IssueInstant", &ts(d.now));
    w.leaf("saml:Issuer", d.idp_entity_id);
    w.start("saml:Subject");
    w.start("saml:NameID")
        .attr("Format", d.name_id_format)
        .attr("NameQualifier", d.idp_entity_id)
        .attr("SPNameQualifier", d.sp_entity_id)
        .text(d.name_id)
        .end();
    w.start("saml:SubjectConfirmation")
        .attr("Method", crate::CM_BEARER);
    w.start("saml:SubjectConfirmationData")
        .attr_opt("InResponseTo", d.in_response_to)
        .attr("NotOnOrAfter", &until)
        .attr("Recipient", d.acs_url)
        .end();
    w.end().end();
    w.start("saml:Conditions")
        .attr("NotBefore", &ts(d.now))
        .attr("NotOnOrAfter", &until);
    w.start("saml:AudienceRestriction")
        .leaf("saml:Audience", d.sp_entity_id)
        .end();
    w.end();
    w.start("saml:AuthnStatement")
        .attr("AuthnInstant", &ts(d.authn_instant))
        .attr("SessionIndex", d.session_index)
        .attr_opt(
            "SessionNotOnOrAfter",
            d.session_not_on_or_after.map(ts).as_deref(),
        );
    // Schema order: AuthnContextClassRef, (AuthnContextDecl | AuthnContextDeclRef)?, then
    // AuthenticatingAuthority*.
    w.start("saml:AuthnContext")
        .leaf("saml:AuthnContextClassRef", d.authn_context_class_ref);
    if let Some(authority) = d.authenticating_authority {
        w.leaf("saml:AuthenticatingAuthority", authority);
    }
    w.end();
    w.end();
    if !d.attributes.is_empty() {
        w.start("saml:AttributeStatement");
        for a in d.attributes {
            w.start("saml:Attribute")
                .attr("Name", &a.name)
                .attr("NameFormat", crate::ATTRNAME_FORMAT_URI)
                .attr_opt("FriendlyName", a.friendly_name.as_deref());
            for v in &a.values {
                w.leaf("saml:AttributeValue", v);
            }
            w.end();
        }
        w.end();
    }
    w.finish()
}
