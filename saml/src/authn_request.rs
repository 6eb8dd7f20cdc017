//! AuthnRequest: the intake checks an IdP makes before it trusts anything in a request, and the
//! writer an SP (our demo SP, the tests) uses to make one.

use crate::binding::RedirectSignature;
use crate::dsig;
use crate::error::SamlError;
use crate::time_fmt;
use crate::xml::{self, is, NS_SAML, NS_SAMLP};
use certs::Certificate;
use time::{Duration, OffsetDateTime};

/// How the request arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestBinding {
    Redirect,
    Post,
}

/// What the intake needs to know of the requester, looked up by the request's Issuer.
pub trait RequesterTrust {
    /// Keys from the requester's metadata that may sign its requests.
    fn signing_certificates(&self) -> &[Certificate];
    /// Does metadata (or gateway policy) demand signed requests from this requester?
    fn requires_signed_requests(&self) -> bool;
}

/// Time and place the intake checks against.
#[derive(Clone, Debug)]
pub struct IntakePolicy<'a> {
    /// The URL of the endpoint that received the message (SSO, or single logout): Destination
    /// must equal it.
    pub sso_url: &'a str,
    pub now: OffsetDateTime,
    /// Allowed clock difference into the future.
    pub max_clock_skew: Duration,
    /// Oldest IssueInstant accepted.
    pub max_age: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    Exact,
    Minimum,
    Better,
    Maximum,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestedAuthnContext {
    pub comparison: Comparison,
    pub class_refs: Vec<String>,
}

/// A request whose issuer is known, whose signature (when present or required) verified, and
/// whose Destination and IssueInstant passed. ACS resolution and replay are the caller's next steps.
#[derive(Clone, Debug)]
pub struct AuthnRequest {
    pub id: String,
    pub issuer: String,
    pub issue_instant: OffsetDateTime,
    pub destination: Option<String>,
    pub acs_url: Option<String>,
    pub acs_index: Option<u16>,
    pub protocol_binding: Option<String>,
    pub force_authn: bool,
    pub is_passive: bool,
    pub name_id_format: Option<String>,
    pub allow_create: Option<bool>,
    pub requested_authn_context: Option<RequestedAuthnContext>,
    /// The request names a Subject (asks for a particular person): not supported.
    pub names_subject: bool,
    pub signed: bool,
}

/// Intake of a decoded AuthnRequest: strict parse, requester lookup by Issuer, signature,
/// Destination, IssueInstant. `lookup` returns the requester's trust data for an Issuer.
pub fn intake<T: RequesterTrust>(
    xml_text: &str,
    binding: RequestBinding,
    redirect_signature: Option<&RedirectSignature>,
    lookup: impl FnOnce(&str) -> Option<T>,
    policy: &IntakePolicy<'_>,
) -> Result<(T, AuthnRequest), IntakeError> {
    let (requester, req) = trusted_message(
        xml_text,
        "AuthnRequest",
        binding,
        redirect_signature,
        lookup,
        |r: &T| r.requires_signed_requests(),
        read_fields,
    )?;
    check_destination_and_instant(
        req.destination.as_deref(),
        req.signed,
        req.issue_instant,
        policy,
    )
    .map_err(IntakeError::Untrusted)?;
    Ok((requester, req))
}

/// The checks every message from a peer passes before its fields are trusted: a strict parse,
/// the root element (`samlp:<root>`), the Issuer looked up, the binding's signature verified
/// with the peer's keys (required when `must_sign` says so), then `read` on the same tree.
pub(crate) fn trusted_message<T, R>(
    xml_text: &str,
    root_name: &'static str,
    binding: RequestBinding,
    redirect_signature: Option<&RedirectSignature>,
    lookup: impl FnOnce(&str) -> Option<T>,
    must_sign: impl FnOnce(&T) -> bool,
    read: impl FnOnce(roxmltree::Node<'_, '_>, String, bool) -> Result<R, SamlError>,
) -> Result<(T, R), IntakeError>
where
    T: RequesterTrust,
{
    let doc =
        xml::parse_strict(xml_text, xml::ParseLimits::MESSAGE).map_err(IntakeError::Untrusted)?;
    let root = doc.root_element();
    if !is(root, NS_SAMLP, root_name) {
        return Err(IntakeError::Untrusted(SamlError::UnexpectedMessage {
            expected: root_name,
        }));
    }
    let issuer_node =
        xml::required_child(root, NS_SAML, "Issuer").map_err(IntakeError::Untrusted)?;
    let issuer = xml::simple_text(issuer_node)
        .map_err(IntakeError::Untrusted)?
        .trim()
        .to_owned();
    let requester = lookup(&issuer)
        .ok_or_else(|| IntakeError::UnknownIssuer(crate::error::untrusted_text(&issuer)))?;
    let untrusted = IntakeError::Untrusted;

    let embedded = dsig::has_signature(root);
    let signed = match binding {
        RequestBinding::Redirect => {
            if embedded {
                return Err(untrusted(SamlError::Binding(
                    "HTTP-Redirect messages carry no embedded signature".into(),
                )));
            }
            match redirect_signature {
                Some(sig) => {
                    sig.verify(requester.signing_certificates())
                        .map_err(untrusted)?;
                    true
                }
                None => false,
            }
        }
        RequestBinding::Post => {
            if redirect_signature.is_some() {
                return Err(untrusted(SamlError::Binding(
                    "query signature on a POST message".into(),
                )));
            }
            if embedded {
                dsig::verify_enveloped(root, requester.signing_certificates())
                    .map_err(untrusted)?;
                true
            } else {
                false
            }
        }
    };
    if !signed && must_sign(&requester) {
        return Err(untrusted(SamlError::SignatureMissing));
    }
    // Fields are read from the same tree the signature was checked on.
    let fields = read(root, issuer, signed).map_err(untrusted)?;
    Ok((requester, fields))
}

/// Destination must be this endpoint (and is required on a signed message); IssueInstant must
/// be within the window.
pub(crate) fn check_destination_and_instant(
    destination: Option<&str>,
    signed: bool,
    issue_instant: OffsetDateTime,
    policy: &IntakePolicy<'_>,
) -> Result<(), SamlError> {
    match destination {
        Some(d) if d != policy.sso_url => {
            return Err(SamlError::DestinationMismatch {
                got: crate::error::untrusted_text(d),
                expected: policy.sso_url.to_owned(),
            })
        }
        None if signed => return Err(SamlError::Missing("Destination")),
        _ => {}
    }
    if issue_instant > policy.now + policy.max_clock_skew
        || issue_instant < policy.now - policy.max_age
    {
        return Err(SamlError::StaleMessage {
            instant: issue_instant,
            now: policy.now,
        });
    }
    Ok(())
}

/// Why a request was not taken in. None of these may produce a Response: the requester or the
/// request cannot be trusted enough to send anything back.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("unknown requester {0:?}")]
    UnknownIssuer(String),
    #[error(transparent)]
    Untrusted(SamlError),
}

impl IntakeError {
    pub fn code(&self) -> &'static str {
        match self {
            IntakeError::UnknownIssuer(_) => "saml.unknown_issuer",
            IntakeError::Untrusted(e) => e.code(),
        }
    }
}

fn read_fields(
    root: roxmltree::Node<'_, '_>,
    issuer: String,
    signed: bool,
) -> Result<AuthnRequest, SamlError> {
    if root.attribute("Version") != Some("2.0") {
        return Err(SamlError::Invalid("Version must be 2.0".into()));
    }
    let id = dsig::element_id(root)?.to_owned();
    if id.is_empty() || id.len() > 256 || !is_xs_id(&id) {
        return Err(SamlError::Invalid(
            "ID must be an xs:ID of 1..256 characters".into(),
        ));
    }
    let issue_instant = time_fmt::parse(
        root.attribute("IssueInstant")
            .ok_or(SamlError::Missing("IssueInstant"))?,
    )?;
    let acs_url = root
        .attribute("AssertionConsumerServiceURL")
        .map(str::to_owned);
    let acs_index = match root.attribute("AssertionConsumerServiceIndex") {
        Some(v) => Some(
            v.parse::<u16>()
                .map_err(|_| SamlError::Invalid("bad AssertionConsumerServiceIndex".into()))?,
        ),
        None => None,
    };
    if acs_url.is_some() && acs_index.is_some() {
        return Err(SamlError::Invalid(
            "AssertionConsumerServiceURL and Index are mutually exclusive".into(),
        ));
    }
    let name_id_policy = xml::optional_child(root, NS_SAMLP, "NameIDPolicy")?;
    let requested_authn_context =
        match xml::optional_child(root, NS_SAMLP, "RequestedAuthnContext")? {
            Some(rac) => {
                let comparison = match rac.attribute("Comparison").unwrap_or("exact") {
                    "exact" => Comparison::Exact,
                    "minimum" => Comparison::Minimum,
                    "better" => Comparison::Better,
                    "maximum" => Comparison::Maximum,
                    other => {
                        return Err(SamlError::Invalid(format!(
                            "bad Comparison {:?}",
                            crate::error::untrusted_text(other)
                        )))
                    }
                };
                let class_refs = xml::children(rac, NS_SAML, "AuthnContextClassRef")
                    .map(|n| xml::simple_text(n).map(|s| s.trim().to_owned()))
                    .collect::<Result<Vec<_>, _>>()?;
                if class_refs.is_empty() || class_refs.len() > 16 {
                    return Err(SamlError::Unsupported(
                        "RequestedAuthnContext needs 1..16 AuthnContextClassRef".into(),
                    ));
                }
                Some(RequestedAuthnContext {
                    comparison,
                    class_refs,
                })
            }
            None => None,
        };
    Ok(AuthnRequest {
        id,
        issuer,
        issue_instant,
        destination: root.attribute("Destination").map(str::to_owned),
        acs_url,
        acs_index,
        protocol_binding: root.attribute("ProtocolBinding").map(str::to_owned),
        force_authn: parse_bool(root.attribute("ForceAuthn"))?,
        is_passive: parse_bool(root.attribute("IsPassive"))?,
        name_id_format: name_id_policy
            .and_then(|n| n.attribute("Format"))
            .map(str::to_owned),
        allow_create: match name_id_policy.and_then(|n| n.attribute("AllowCreate")) {
            Some(v) => Some(parse_bool(Some(v))?),
            None => None,
        },
        requested_authn_context,
        names_subject: xml::optional_child(root, NS_SAML, "Subject")?.is_some(),
        signed,
    })
}

/// An xs:ID (NCName) in the ASCII range SAML stacks use: a letter or `_` first, then letters,
/// digits, `_`, `-` and `.`. Nothing that could break a log line or a page.
pub(crate) fn is_xs_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn parse_bool(v: Option<&str>) -> Result<bool, SamlError> {
    match v.map(str::trim) {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(other) => Err(SamlError::Invalid(format!(
            "bad boolean {:?}",
            crate::error::untrusted_text(other)
        ))),
    }
}

/// An AuthnRequest to write (SP side).
#[derive(Clone, Debug)]
pub struct AuthnRequestDraft<'a> {
    pub id: &'a str,
    pub issuer: &'a str,
    pub destination: &'a str,
    pub issue_instant: OffsetDateTime,
    pub acs_url: Option<&'a str>,
    pub acs_index: Option<u16>,
    pub force_authn: bool,
    pub is_passive: bool,
    pub name_id_format: Option<&'a str>,
    pub requested_authn_context: Option<&'a RequestedAuthnContext>,
}

impl AuthnRequestDraft<'_> {
    pub fn to_xml(&self) -> String {
        let mut w = xml::XmlWriter::new();
        crate::response::message_start(
            &mut w,
            "samlp:AuthnRequest",
            self.id,
            self.issue_instant,
            self.destination,
        );
        w.attr_opt("AssertionConsumerServiceURL", self.acs_url)
            .attr_opt(
                "AssertionConsumerServiceIndex",
                self.acs_index.map(|i| i.to_string()).as_deref(),
            );
        if self.acs_url.is_some() {
            w.attr("ProtocolBinding", crate::BINDING_POST);
        }
        if self.force_authn {
            w.attr("ForceAuthn", "true");
        }
        if self.is_passive {
            w.attr("IsPassive", "true");
        }
        w.leaf("saml:Issuer", self.issuer);
        if let Some(f) = self.name_id_format {
            w.start("samlp:NameIDPolicy")
                .attr("Format", f)
                .attr("AllowCreate", "true")
                .end();
        }
        if let Some(rac) = self.requested_authn_context {
            let cmp = match rac.comparison {
                Comparison::Exact => "exact",
                Comparison::Minimum => "minimum",
                Comparison::Better => "better",
                Comparison::Maximum => "maximum",
            };
            w.start("samlp:RequestedAuthnContext")
                .attr("Comparison", cmp);
            for c in &rac.class_refs {
                w.leaf("saml:AuthnContextClassRef", c);
            }
            w.end();
        }
        w.finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
