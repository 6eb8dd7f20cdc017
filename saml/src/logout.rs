//! Single logout messages: the intake of a LogoutRequest or LogoutResponse from a session
//! participant (signature required, in either binding), and the writers for the ones we send.
//!
//! The intake shares the AuthnRequest's trust step ([`crate::authn_request`]): one strict parse,
//! the Issuer looked up, the signature verified with the peer's metadata keys, the fields read
//! from that same tree, Destination and IssueInstant checked. Unlike an AuthnRequest, a logout
//! message is always signed (SAML profiles 4.4.3.1 and 4.4.3.3 for the front-channel bindings):
//! an unsigned one is refused whatever the metadata says, since anyone could otherwise end a
//! citizen's sessions, or claim that a service had logged the citizen out.

use crate::authn_request::{
    check_destination_and_instant, is_xs_id, trusted_message, IntakeError, IntakePolicy,
    RequestBinding, RequesterTrust,
};
use crate::binding::RedirectSignature;
use crate::error::SamlError;
use crate::response::{message_start, write_status};
use crate::time_fmt;
use crate::xml::{self, NS_SAML, NS_SAMLP};
use time::OffsetDateTime;

pub const STATUS_PARTIAL_LOGOUT: &str = "urn:oasis:names:tc:SAML:2.0:status:PartialLogout";
pub const STATUS_UNKNOWN_PRINCIPAL: &str = "urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal";

/// The most SessionIndex elements a LogoutRequest may carry.
const MAX_SESSION_INDEXES: usize = 16;

/// A verified LogoutRequest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogoutRequest {
    pub id: String,
    pub issuer: String,
    pub issue_instant: OffsetDateTime,
    pub destination: Option<String>,
    pub not_on_or_after: Option<OffsetDateTime>,
    pub name_id: String,
    pub name_id_format: Option<String>,
    pub session_indexes: Vec<String>,
}

/// A verified LogoutResponse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogoutResponse {
    pub id: String,
    pub issuer: String,
    pub issue_instant: OffsetDateTime,
    pub destination: Option<String>,
    pub in_response_to: String,
    pub status: String,
    pub sub_status: Option<String>,
}

impl LogoutResponse {
    /// Success at the top level (a PartialLogout second level still counts: the peer did log the
    /// citizen out of itself).
    pub fn succeeded(&self) -> bool {
        self.status == crate::STATUS_SUCCESS
    }
}

/// Intake of a LogoutRequest received at our single logout endpoint (`policy.sso_url`).
pub fn intake_logout_request<T: RequesterTrust>(
    xml_text: &str,
    binding: RequestBinding,
    redirect_signature: Option<&RedirectSignature>,
    lookup: impl FnOnce(&str) -> Option<T>,
    policy: &IntakePolicy<'_>,
) -> Result<(T, LogoutRequest), IntakeError> {
    let (peer, req) = trusted_message(
        xml_text,
        "LogoutRequest",
        binding,
        redirect_signature,
        lookup,
        |_| true,
        |root, issuer, _| read_request(root, issuer),
    )?;
    check_destination_and_instant(req.destination.as_deref(), true, req.issue_instant, policy)
        .map_err(IntakeError::Untrusted)?;
    if let Some(end) = req.not_on_or_after {
        if policy.now >= end + policy.max_clock_skew {
            return Err(IntakeError::Untrusted(SamlError::StaleMessage {
                instant: end,
                now: policy.now,
            }));
        }
    }
    Ok((peer, req))
}

/// Intake of a LogoutResponse received at our single logout endpoint (`policy.sso_url`).
/// Matching InResponseTo to a request we sent is the caller's step.
pub fn intake_logout_response<T: RequesterTrust>(
    xml_text: &str,
    binding: RequestBinding,
    redirect_signature: Option<&RedirectSignature>,
    lookup: impl FnOnce(&str) -> Option<T>,
    policy: &IntakePolicy<'_>,
) -> Result<(T, LogoutResponse), IntakeError> {
    let (peer, resp) = trusted_message(
        xml_text,
        "LogoutResponse",
        binding,
        redirect_signature,
        lookup,
        |_| true,
        |root, issuer, _| read_response(root, issuer),
    )?;
    check_destination_and_instant(
        resp.destination.as_deref(),
        true,
        resp.issue_instant,
        policy,
    )
    .map_err(IntakeError::Untrusted)?;
    Ok((peer, resp))
}

/// Version, ID and IssueInstant, as every protocol message has them.
fn read_common(root: roxmltree::Node<'_, '_>) -> Result<(String, OffsetDateTime), SamlError> {
    if root.attribute("Version") != Some("2.0") {
        return Err(SamlError::Invalid("Version must be 2.0".into()));
    }
    let id = crate::dsig::element_id(root)?.to_owned();
    if id.is_empty() || id.len() > 256 || !is_xs_id(&id) {
        return Err(SamlError::Invalid(
            "ID must be an xs:ID of 1..256 characters".into(),
        ));
    }
    let issue_instant = time_fmt::parse(
        root.attribute("IssueInstant")
            .ok_or(SamlError::Missing("IssueInstant"))?,
    )?;
    Ok((id, issue_instant))
}

fn read_request(root: roxmltree::Node<'_, '_>, issuer: String) -> Result<LogoutRequest, SamlError> {
    let (id, issue_instant) = read_common(root)?;
    if xml::optional_child(root, NS_SAML, "EncryptedID")?.is_some()
        || xml::optional_child(root, NS_SAML, "BaseID")?.is_some()
    {
        return Err(SamlError::Unsupported(
            "only a plain NameID identifies the principal".into(),
        ));
    }
    let name_id_node = xml::required_child(root, NS_SAML, "NameID")?;
    let name_id = xml::simple_text(name_id_node)?.trim().to_owned();
    if name_id.is_empty() || name_id.len() > 1024 {
        return Err(SamlError::Invalid(
            "NameID must be 1..1024 characters".into(),
        ));
    }
    let session_indexes = xml::children(root, NS_SAMLP, "SessionIndex")
        .map(|n| xml::simple_text(n).map(|s| s.trim().to_owned()))
        .collect::<Result<Vec<_>, _>>()?;
    if session_indexes.len() > MAX_SESSION_INDEXES
        || session_indexes
            .iter()
            .any(|s| s.is_empty() || s.len() > 256)
    {
        return Err(SamlError::Invalid(format!(
            "at most {MAX_SESSION_INDEXES} SessionIndex elements of 1..256 characters"
        )));
    }
    let not_on_or_after = match root.attribute("NotOnOrAfter") {
        Some(v) => Some(time_fmt::parse(v)?),
        None => None,
    };
    Ok(LogoutRequest {
        id,
        issuer,
        issue_instant,
        destination: root.attribute("Destination").map(str::to_owned),
        not_on_or_after,
        name_id,
        name_id_format: name_id_node.attribute("Format").map(str::to_owned),
        session_indexes,
    })
}

fn read_response(
    root: roxmltree::Node<'_, '_>,
    issuer: String,
) -> Result<LogoutResponse, SamlError> {
    let (id, issue_instant) = read_common(root)?;
    let in_response_to = root
        .attribute("InResponseTo")
        .ok_or(SamlError::Missing("InResponseTo"))?
        .to_owned();
    let status = xml::required_child(root, NS_SAMLP, "Status")?;
    let code = xml::required_child(status, NS_SAMLP, "StatusCode")?;
    let top = code
        .attribute("Value")
        .ok_or(SamlError::Missing("StatusCode Value"))?
        .to_owned();
    let sub_status = xml::optional_child(code, NS_SAMLP, "StatusCode")?
        .and_then(|c| c.attribute("Value"))
        .map(str::to_owned);
    Ok(LogoutResponse {
        id,
        issuer,
        issue_instant,
        destination: root.attribute("Destination").map(str::to_owned),
        in_response_to,
        status: top,
        sub_status,
    })
}

/// A LogoutRequest to write: the NameID exactly as the participant's assertion had it.
#[derive(Clone, Debug)]
pub struct LogoutRequestDraft<'a> {
    pub id: &'a str,
    pub issuer: &'a str,
    pub destination: &'a str,
    pub issue_instant: OffsetDateTime,
    pub not_on_or_after: Option<OffsetDateTime>,
    pub name_id: &'a str,
    pub name_id_format: &'a str,
    /// NameQualifier and SPNameQualifier, as in the assertion (IdP and SP entity IDs).
    pub name_qualifier: Option<&'a str>,
    pub sp_name_qualifier: Option<&'a str>,
    pub session_index: Option<&'a str>,
}

impl LogoutRequestDraft<'_> {
    pub fn to_xml(&self) -> String {
        let mut w = xml::XmlWriter::new();
        message_start(
            &mut w,
            "samlp:LogoutRequest",
            self.id,
            self.issue_instant,
            self.destination,
        );
        w.attr_opt(
            "NotOnOrAfter",
            self.not_on_or_after.map(time_fmt::format).as_deref(),
        );
        w.leaf("saml:Issuer", self.issuer);
        w.start("saml:NameID")
            .attr_opt("NameQualifier", self.name_qualifier)
            .attr_opt("SPNameQualifier", self.sp_name_qualifier)
            .attr("Format", self.name_id_format)
            .text(self.name_id)
            .end();
        if let Some(si) = self.session_index {
            w.leaf("samlp:SessionIndex", si);
        }
        w.finish()
    }
}

/// A LogoutResponse to write.
#[derive(Clone, Debug)]
pub struct LogoutResponseDraft<'a> {
    pub id: &'a str,
    pub issuer: &'a str,
    pub destination: &'a str,
    pub issue_instant: OffsetDateTime,
    pub in_response_to: &'a str,
    pub status: &'a str,
    pub sub_status: Option<&'a str>,
}

impl LogoutResponseDraft<'_> {
    pub fn to_xml(&self) -> String {
        let mut w = xml::XmlWriter::new();
        message_start(
            &mut w,
            "samlp:LogoutResponse",
            self.id,
            self.issue_instant,
            self.destination,
        );
        w.attr("InResponseTo", self.in_response_to);
        w.leaf("saml:Issuer", self.issuer);
        write_status(&mut w, self.status, self.sub_status, None);
        w.finish()
    }
}

/// A logout message an SP received from its IdP by HTTP-Redirect, verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FromIdp {
    Request(LogoutRequest),
    Response(LogoutResponse),
}

/// The IdP as the SP knows it: its entity ID and keys.
struct IdpTrust<'a>(&'a [certs::Certificate]);

impl RequesterTrust for IdpTrust<'_> {
    fn signing_certificates(&self) -> &[certs::Certificate] {
        self.0
    }
    fn requires_signed_requests(&self) -> bool {
        true
    }
}

/// SP side: read the logout message the IdP sent by HTTP-Redirect to this SP's single logout
/// endpoint (`policy.sso_url`), from the raw query as received; signed by one of `idp_certs`,
/// issued by `idp_entity_id`. Matching a LogoutResponse's InResponseTo is the caller's step.
pub fn read_from_idp(
    raw_query: &str,
    idp_entity_id: &str,
    idp_certs: &[certs::Certificate],
    policy: &IntakePolicy<'_>,
) -> Result<FromIdp, IntakeError> {
    let is_response = raw_query
        .split('&')
        .any(|p| p.split('=').next() == Some("SAMLResponse"));
    let param = if is_response {
        crate::binding::MessageParam::SamlResponse
    } else {
        crate::binding::MessageParam::SamlRequest
    };
    let m = crate::binding::decode_redirect(raw_query, param, &Default::default())
        .map_err(IntakeError::Untrusted)?;
    let lookup = |issuer: &str| (issuer == idp_entity_id).then_some(IdpTrust(idp_certs));
    if is_response {
        intake_logout_response(
            &m.xml,
            RequestBinding::Redirect,
            m.signature.as_ref(),
            lookup,
            policy,
        )
        .map(|(_, r)| FromIdp::Response(r))
    } else {
        intake_logout_request(
            &m.xml,
            RequestBinding::Redirect,
            m.signature.as_ref(),
            lookup,
            policy,
        )
        .map(|(_, r)| FromIdp::Request(r))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests;
