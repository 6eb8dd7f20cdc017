//! Service-provider side: validate a Response as strictly as a careful SP. Used by the gateway's
//! demo SP and by tests; later by upstream SAML (eIDAS) login.

use crate::dsig;
use crate::error::SamlError;
use crate::time_fmt;
use crate::xml::{self, is, NS_SAML, NS_SAMLP};
use certs::Certificate;
use time::{Duration, OffsetDateTime};

/// What the SP expects of a Response.
#[derive(Clone, Debug)]
pub struct ResponseExpectations<'a> {
    pub sp_entity_id: &'a str,
    pub acs_url: &'a str,
    pub idp_entity_id: &'a str,
    /// Keys of the IdP, from its metadata or config.
    pub idp_certificates: &'a [Certificate],
    /// The ID of the request this answers; `None` accepts only unsolicited responses.
    pub in_response_to: Option<&'a str>,
    pub now: OffsetDateTime,
    pub clock_skew: Duration,
    /// The SP's key for encrypted assertions; without it an EncryptedAssertion is refused.
    pub decryption_key: Option<&'a certs::DecryptionKey>,
}

/// The assertion's content, after every check passed.
#[derive(Clone, Debug)]
pub struct ValidatedAssertion {
    pub response_id: String,
    pub assertion_id: String,
    pub name_id: String,
    pub name_id_format: Option<String>,
    pub session_index: Option<String>,
    pub authn_instant: OffsetDateTime,
    pub authn_context_class_ref: Option<String>,
    /// `saml:AuthenticatingAuthority` entries: who authenticated the subject upstream.
    pub authenticating_authorities: Vec<String>,
    pub attributes: Vec<(String, Vec<String>)>,
    pub not_on_or_after: OffsetDateTime,
}

pub fn validate_response(
    xml_text: &str,
    exp: &ResponseExpectations<'_>,
) -> Result<ValidatedAssertion, SamlError> {
    let doc = xml::parse_strict(xml_text, xml::ParseLimits::MESSAGE)?;
    let resp = doc.root_element();
    if !is(resp, NS_SAMLP, "Response") {
        return Err(SamlError::UnexpectedMessage {
            expected: "samlp:Response",
        });
    }
    if resp.attribute("Version") != Some("2.0") {
        return Err(SamlError::Invalid("Version must be 2.0".into()));
    }
    let response_id = dsig::element_id(resp)?.to_owned();
    let destination = resp
        .attribute("Destination")
        .ok_or(SamlError::Missing("Destination"))?;
    if destination != exp.acs_url {
        return Err(SamlError::DestinationMismatch {
            got: crate::error::untrusted_text(destination),
            expected: exp.acs_url.into(),
        });
    }
    check_in_response_to(resp.attribute("InResponseTo"), exp.in_response_to)?;
    if let Some(issuer) = xml::optional_child(resp, NS_SAML, "Issuer")? {
        check_issuer(issuer, exp.idp_entity_id)?;
    }
    if dsig::has_signature(resp) {
        dsig::verify_enveloped(resp, exp.idp_certificates)?;
    }
    let status = xml::required_child(resp, NS_SAMLP, "Status")?;
    let code = xml::required_child(status, NS_SAMLP, "StatusCode")?;
    let top = code
        .attribute("Value")
        .ok_or(SamlError::Missing("StatusCode Value"))?;
    if top != crate::STATUS_SUCCESS {
        let sub =
            xml::optional_child(code, NS_SAMLP, "StatusCode")?.and_then(|c| c.attribute("Value"));
        let message = xml::optional_child(status, NS_SAMLP, "StatusMessage")?
            .map(xml::simple_text)
            .transpose()?;
        return Err(SamlError::Status {
            code: top.into(),
            sub: sub.map(str::to_owned),
            message,
        });
    }
    let plain = xml::optional_child(resp, NS_SAML, "Assertion")?;
    let encrypted = xml::optional_child(resp, NS_SAML, "EncryptedAssertion")?;
    match (plain, encrypted) {
        (Some(assertion), None) => verified_assertion(assertion, exp, response_id),
        (None, Some(enc)) => {
            let key = exp.decryption_key.ok_or(SamlError::Unsupported(
                "EncryptedAssertion without a decryption key".into(),
            ))?;
            let inner = crate::encrypt::decrypt_assertion(enc, key)?;
            let doc = xml::parse_strict(&inner, xml::ParseLimits::MESSAGE)?;
            let assertion = doc.root_element();
            if !is(assertion, NS_SAML, "Assertion") {
                return Err(SamlError::UnexpectedMessage {
                    expected: "saml:Assertion inside EncryptedAssertion",
                });
            }
            verified_assertion(assertion, exp, response_id)
        }
        (None, None) => Err(SamlError::Missing("Assertion")),
        (Some(_), Some(_)) => Err(SamlError::Invalid(
            "both Assertion and EncryptedAssertion".into(),
        )),
    }
}

/// The assertion must carry its own signature: a signed Response around an unsigned assertion
/// is not enough for us.
fn verified_assertion(
    assertion: roxmltree::Node<'_, '_>,
    exp: &ResponseExpectations<'_>,
    response_id: String,
) -> Result<ValidatedAssertion, SamlError> {
    let proof = dsig::verify_enveloped(assertion, exp.idp_certificates)?;
    if !proof.covers(assertion) {
        return Err(SamlError::ReferenceMismatch);
    }
    read_assertion(assertion, exp, response_id)
}

fn read_assertion(
    a: roxmltree::Node<'_, '_>,
    exp: &ResponseExpectations<'_>,
    response_id: String,
) -> Result<ValidatedAssertion, SamlError> {
    let now = exp.now;
    let skew = exp.clock_skew;
    check_issuer(
        xml::required_child(a, NS_SAML, "Issuer")?,
        exp.idp_entity_id,
    )?;
    let subject = xml::required_child(a, NS_SAML, "Subject")?;
    let name_id_node = xml::required_child(subject, NS_SAML, "NameID")?;
    let name_id = xml::simple_text(name_id_node)?;

    // At least one bearer confirmation must hold.
    let mut confirmed = false;
    for sc in xml::children(subject, NS_SAML, "SubjectConfirmation") {
        if sc.attribute("Method") != Some(crate::CM_BEARER) {
            continue;
        }
        let Some(data) = xml::optional_child(sc, NS_SAML, "SubjectConfirmationData")? else {
            continue;
        };
        let ok = data.attribute("Recipient") == Some(exp.acs_url)
            && check_in_response_to(data.attribute("InResponseTo"), exp.in_response_to).is_ok()
            && data
                .attribute("NotOnOrAfter")
                .map(time_fmt::parse)
                .transpose()?
                .is_some_and(|t| now - skew < t)
            && data
                .attribute("NotBefore")
                .map(time_fmt::parse)
                .transpose()?
                .is_none_or(|t| t <= now + skew);
        confirmed |= ok;
    }
    if !confirmed {
        return Err(SamlError::ConditionsNotMet {
            now,
            reason: "no valid bearer SubjectConfirmation",
        });
    }

    let conditions = xml::required_child(a, NS_SAML, "Conditions")?;
    if let Some(nb) = conditions.attribute("NotBefore") {
        if time_fmt::parse(nb)? > now + skew {
            return Err(SamlError::ConditionsNotMet {
                now,
                reason: "NotBefore is in the future",
            });
        }
    }
    let not_on_or_after = time_fmt::parse(
        conditions
            .attribute("NotOnOrAfter")
            .ok_or(SamlError::Missing("NotOnOrAfter"))?,
    )?;
    if now - skew >= not_on_or_after {
        return Err(SamlError::ConditionsNotMet {
            now,
            reason: "assertion expired",
        });
    }
    let mut restrictions = 0;
    for ar in xml::children(conditions, NS_SAML, "AudienceRestriction") {
        restrictions += 1;
        let ours = xml::children(ar, NS_SAML, "Audience")
            .map(xml::simple_text)
            .collect::<Result<Vec<_>, _>>()?
            .iter()
            .any(|aud| aud.trim() == exp.sp_entity_id);
        if !ours {
            return Err(SamlError::AudienceMismatch {
                expected: exp.sp_entity_id.into(),
            });
        }
    }
    if restrictions == 0 {
        return Err(SamlError::AudienceMismatch {
            expected: exp.sp_entity_id.into(),
        });
    }

    let authn = xml::required_child(a, NS_SAML, "AuthnStatement")?;
    let authn_instant = time_fmt::parse(
        authn
            .attribute("AuthnInstant")
            .ok_or(SamlError::Missing("AuthnInstant"))?,
    )?;
    let authn_context = xml::optional_child(authn, NS_SAML, "AuthnContext")?;
    let authn_context_class_ref = match authn_context {
        Some(ctx) => xml::optional_child(ctx, NS_SAML, "AuthnContextClassRef")?
            .map(xml::simple_text)
            .transpose()?,
        None => None,
    };
    let authenticating_authorities = authn_context
        .into_iter()
        .flat_map(|ctx| xml::children(ctx, NS_SAML, "AuthenticatingAuthority"))
        .map(xml::simple_text)
        .collect::<Result<Vec<_>, _>>()?;
    let mut attributes = Vec::new();
    for st in xml::children(a, NS_SAML, "AttributeStatement") {
        for attr in xml::children(st, NS_SAML, "Attribute") {
            let name = attr
                .attribute("Name")
                .ok_or(SamlError::Missing("Attribute Name"))?
                .to_owned();
            let values = xml::children(attr, NS_SAML, "AttributeValue")
                .map(xml::simple_text)
                .collect::<Result<Vec<_>, _>>()?;
            attributes.push((name, values));
        }
    }
    Ok(ValidatedAssertion {
        response_id,
        assertion_id: dsig::element_id(a)?.to_owned(),
        name_id,
        name_id_format: name_id_node.attribute("Format").map(str::to_owned),
        session_index: authn.attribute("SessionIndex").map(str::to_owned),
        authn_instant,
        authn_context_class_ref,
        authenticating_authorities,
        attributes,
        not_on_or_after,
    })
}

fn check_issuer(node: roxmltree::Node<'_, '_>, expected: &str) -> Result<(), SamlError> {
    let got = xml::simple_text(node)?;
    if got.trim() != expected {
        return Err(SamlError::IssuerMismatch {
            got: crate::error::untrusted_text(&got),
            expected: expected.into(),
        });
    }
    Ok(())
}

fn check_in_response_to(got: Option<&str>, expected: Option<&str>) -> Result<(), SamlError> {
    match (got, expected) {
        (None, None) => Ok(()),
        (Some(g), Some(e)) if g == e => Ok(()),
        (g, e) => Err(SamlError::InResponseToMismatch {
            got: crate::error::untrusted_text(g.unwrap_or("")),
            expected: e.unwrap_or("").into(),
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
