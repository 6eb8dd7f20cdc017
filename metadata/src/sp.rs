//! A service provider as its SAML metadata describes it, validated when it is loaded.

use crate::attributes::ReleasePolicy;
use crate::error::MetadataError;
use certs::{Certificate, SignatureAlgorithm};
use saml::xml::{self, is, NS_ALG, NS_DS, NS_MD};
use std::sync::Arc;

const NS_MDUI: &str = "urn:oasis:names:tc:SAML:metadata:ui";
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcsEndpoint {
    pub binding: String,
    pub location: String,
    pub index: u16,
    pub is_default: bool,
}

/// A SingleLogoutService of the SP, in a binding we speak (HTTP-Redirect or HTTP-POST).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SloEndpoint {
    pub binding: String,
    pub location: String,
    /// Where LogoutResponses go, when not to `location`.
    pub response_location: Option<String>,
}

#[derive(Clone, Debug)]
pub struct ServiceProvider {
    pub entity_id: String,
    pub acs: Vec<AcsEndpoint>,
    /// Single logout endpoints, HTTP-Redirect first when the SP has one.
    pub slo: Vec<SloEndpoint>,
    pub signing_certificates: Vec<Certificate>,
    pub encryption_certificates: Vec<Certificate>,
    /// AuthnRequestsSigned from metadata, or forced on by gateway policy.
    pub authn_requests_signed: bool,
    pub want_assertions_signed: bool,
    /// WantResponseSigned is not SAML metadata; the operator sets it per SP in config.
    pub want_response_signed: bool,
    /// Encrypt assertions to this SP: on when its metadata names an RSA key for encryption
    /// (use="encryption"); the operator may turn it off or require it in config.
    pub encrypt_assertions: bool,
    pub name_id_formats: Vec<String>,
    /// alg:SigningMethod entries, in the SP's order of preference.
    pub signing_methods: Vec<String>,
    /// mdui:DisplayName entries (language, name), for the citizen's pages.
    pub display_names: Vec<(String, String)>,
    pub release: ReleasePolicy,
}

/// Why the ACS of a request cannot be used. Each of these means no Response is sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AcsError {
    #[error("AssertionConsumerServiceURL is not registered for this SP")]
    UnknownUrl,
    #[error("AssertionConsumerServiceIndex {0} is not registered for this SP")]
    UnknownIndex(u16),
    #[error("the requested ProtocolBinding {0:?} is not registered or not supported")]
    UnsupportedBinding(String),
    #[error("the SP has no usable AssertionConsumerService")]
    NoDefault,
}

impl AcsError {
    pub fn code(&self) -> &'static str {
        match self {
            AcsError::UnknownUrl => "acs.unknown_url",
            AcsError::UnknownIndex(_) => "acs.unknown_index",
            AcsError::UnsupportedBinding(_) => "acs.unsupported_binding",
            AcsError::NoDefault => "acs.no_default",
        }
    }
}

impl ServiceProvider {
    /// The ACS to answer at: only ever one from metadata, compared exactly. We answer with
    /// HTTP-POST only, so only HTTP-POST endpoints qualify.
    pub fn resolve_acs(
        &self,
        url: Option<&str>,
        index: Option<u16>,
        binding: Option<&str>,
    ) -> Result<&AcsEndpoint, AcsError> {
        if let Some(b) = binding {
            if b != saml::BINDING_POST {
                return Err(AcsError::UnsupportedBinding(b.chars().take(200).collect()));
            }
        }
        let post = || self.acs.iter().filter(|a| a.binding == saml::BINDING_POST);
        match (url, index) {
            (Some(u), _) => post().find(|a| a.location == u).ok_or(AcsError::UnknownUrl),
            (None, Some(i)) => {
                let ep = self
                    .acs
                    .iter()
                    .find(|a| a.index == i)
                    .ok_or(AcsError::UnknownIndex(i))?;
                if ep.binding != saml::BINDING_POST {
                    return Err(AcsError::UnsupportedBinding(ep.binding.clone()));
                }
                Ok(ep)
            }
            (None, None) => post()
                .find(|a| a.is_default)
                .or_else(|| post().min_by_key(|a| a.index))
                .ok_or(AcsError::NoDefault),
        }
    }

    /// The certificate to encrypt assertions to: the first RSA encryption certificate.
    pub fn encryption_certificate(&self) -> Option<&Certificate> {
        self.encryption_certificates
            .iter()
            .find(|c| matches!(c.verifying_key().kind(), certs::PublicKeyKind::Rsa { .. }))
    }

    /// The service's name in `lang` (or English, or any), falling back to the entity ID.
    pub fn display_name(&self, lang: &str) -> &str {
        let find = |l: &str| {
            self.display_names
                .iter()
                .find(|(dl, _)| dl == l)
                .map(|(_, n)| n.as_str())
        };
        find(lang)
            .or_else(|| find("en"))
            .or_else(|| self.display_names.first().map(|(_, n)| n.as_str()))
            .unwrap_or(&self.entity_id)
    }

    /// The algorithm to sign this SP's assertions with: its first listed SigningMethod that we
    /// can produce, else RSA-SHA256.
    pub fn preferred_signature_algorithm(
        &self,
        available: &[SignatureAlgorithm],
    ) -> SignatureAlgorithm {
        self.signing_methods
            .iter()
            .filter_map(|m| SignatureAlgorithm::from_uri(m))
            .find(|a| available.contains(a))
            .unwrap_or(SignatureAlgorithm::RsaSha256)
    }
}

/// Read every SP from a metadata document (an EntityDescriptor or an EntitiesDescriptor).
/// `release` is the policy given to each SP found.
pub fn parse_sp_metadata(
    text: &str,
    source_name: &str,
    release: &ReleasePolicy,
    now: time::OffsetDateTime,
) -> Result<Vec<Arc<ServiceProvider>>, MetadataError> {
    let saml_err = |source| MetadataError::Saml {
        source_name: source_name.to_owned(),
        source,
    };
    let doc = xml::parse_strict(text, xml::ParseLimits::METADATA).map_err(saml_err)?;
    let root = doc.root_element();
    let entities: Vec<roxmltree::Node<'_, '_>> = if is(root, NS_MD, "EntityDescriptor") {
        vec![root]
    } else if is(root, NS_MD, "EntitiesDescriptor") {
        root.descendants()
            .filter(|n| is(*n, NS_MD, "EntityDescriptor"))
            .collect()
    } else {
        return Err(saml_err(saml::SamlError::UnexpectedMessage {
            expected: "md:EntityDescriptor",
        }));
    };
    let mut out = Vec::new();
    for ed in entities {
        let entity_id = ed.attribute("entityID").unwrap_or("").to_owned();
        let invalid = |reason: String| MetadataError::Invalid {
            source_name: source_name.to_owned(),
            entity_id: entity_id.clone(),
            reason,
        };
        for n in ed.ancestors() {
            if let Some(vu) = n.attribute("validUntil") {
                let until = saml::time_fmt::parse(vu).map_err(|e| invalid(e.to_string()))?;
                if until <= now {
                    return Err(invalid(format!("metadata expired at {vu}")));
                }
            }
        }
        let Some(spsso) = xml::children(ed, NS_MD, "SPSSODescriptor").next() else {
            continue;
        };
        out.push(Arc::new(
            read_sp(ed, spsso, entity_id.clone(), release).map_err(invalid)?,
        ));
    }
    if out.is_empty() {
        return Err(MetadataError::NoServiceProvider {
            source_name: source_name.to_owned(),
        });
    }
    Ok(out)
}

fn read_sp(
    ed: roxmltree::Node<'_, '_>,
    spsso: roxmltree::Node<'_, '_>,
    entity_id: String,
    release: &ReleasePolicy,
) -> Result<ServiceProvider, String> {
    if entity_id.is_empty() || entity_id.len() > 1024 {
        return Err("entityID must be 1..1024 characters".into());
    }
    if !spsso
        .attribute("protocolSupportEnumeration")
        .unwrap_or("")
        .split_ascii_whitespace()
        .any(|p| p == saml::xml::NS_SAMLP)
    {
        return Err("SPSSODescriptor does not support SAML 2.0".into());
    }
    let mut signing = Vec::new();
    let mut encryption = Vec::new();
    let mut explicit_rsa_encryption = false;
    for kd in xml::children(spsso, NS_MD, "KeyDescriptor") {
        let certs = kd
            .descendants()
            .filter(|n| is(*n, NS_DS, "X509Certificate"))
            .map(|n| {
                let text = xml::simple_text(n).map_err(|e| e.to_string())?;
                Certificate::from_base64(&text)
                    .map_err(|e| format!("KeyDescriptor certificate: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        match kd.attribute("use") {
            Some("signing") => signing.extend(certs),
            Some("encryption") => {
                explicit_rsa_encryption |= certs
                    .iter()
                    .any(|c| matches!(c.verifying_key().kind(), certs::PublicKeyKind::Rsa { .. }));
                encryption.extend(certs)
            }
            None => {
                signing.extend(certs.iter().cloned());
                encryption.extend(certs);
            }
            Some(other) => return Err(format!("KeyDescriptor use {other:?}")),
        }
    }
    let mut acs = Vec::new();
    for (pos, a) in xml::children(spsso, NS_MD, "AssertionConsumerService").enumerate() {
        let location = a
            .attribute("Location")
            .ok_or("AssertionConsumerService without Location")?;
        check_endpoint_url(location)?;
        let index = match a.attribute("index") {
            Some(i) => i
                .parse::<u16>()
                .map_err(|_| format!("bad ACS index {i:?}"))?,
            None => u16::try_from(pos).map_err(|_| "too many ACS endpoints")?,
        };
        if acs.iter().any(|e: &AcsEndpoint| e.index == index) {
            return Err(format!("ACS index {index} appears twice"));
        }
        acs.push(AcsEndpoint {
            binding: a
                .attribute("Binding")
                .ok_or("AssertionConsumerService without Binding")?
                .to_owned(),
            location: location.to_owned(),
            index,
            is_default: a.attribute("isDefault") == Some("true"),
        });
    }
    if !acs.iter().any(|a| a.binding == saml::BINDING_POST) {
        return Err("no AssertionConsumerService with the HTTP-POST binding".into());
    }
    let mut slo = Vec::new();
    for e in xml::children(spsso, NS_MD, "SingleLogoutService") {
        let binding = e
            .attribute("Binding")
            .ok_or("SingleLogoutService without Binding")?;
        if binding != saml::BINDING_REDIRECT && binding != saml::BINDING_POST {
            continue;
        }
        let location = e
            .attribute("Location")
            .ok_or("SingleLogoutService without Location")?;
        check_endpoint_url(location)?;
        let response_location = e.attribute("ResponseLocation");
        if let Some(r) = response_location {
            check_endpoint_url(r)?;
        }
        if slo.len() < 4 {
            slo.push(SloEndpoint {
                binding: binding.to_owned(),
                location: location.to_owned(),
                response_location: response_location.map(str::to_owned),
            });
        }
    }
    slo.sort_by_key(|e| e.binding != saml::BINDING_REDIRECT);
    if !slo.is_empty() && signing.is_empty() {
        return Err(
            "SingleLogoutService needs a signing certificate: logout messages are always signed"
                .into(),
        );
    }
    let authn_requests_signed = spsso.attribute("AuthnRequestsSigned") == Some("true");
    if authn_requests_signed && signing.is_empty() {
        return Err("AuthnRequestsSigned is true but no signing certificate is given".into());
    }
    let name_id_formats = xml::children(spsso, NS_MD, "NameIDFormat")
        .map(|n| {
            xml::simple_text(n)
                .map(|s| s.trim().to_owned())
                .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    let signing_methods = [ed, spsso]
        .iter()
        .flat_map(|n| xml::children(*n, NS_MD, "Extensions"))
        .flat_map(|ext| xml::children(ext, NS_ALG, "SigningMethod"))
        .filter_map(|m| m.attribute("Algorithm").map(str::to_owned))
        .collect();
    let mut display_names = Vec::new();
    for ext in xml::children(spsso, NS_MD, "Extensions") {
        for ui in xml::children(ext, NS_MDUI, "UIInfo") {
            for dn in xml::children(ui, NS_MDUI, "DisplayName") {
                let name = xml::simple_text(dn)
                    .map_err(|e| e.to_string())?
                    .trim()
                    .to_owned();
                let lang = dn.attribute((XML_NS, "lang")).unwrap_or("").to_owned();
                if !name.is_empty() && name.chars().count() <= 200 && display_names.len() < 16 {
                    display_names.push((lang, name));
                }
            }
        }
    }
    Ok(ServiceProvider {
        entity_id,
        display_names,
        acs,
        slo,
        signing_certificates: signing,
        encryption_certificates: encryption,
        authn_requests_signed,
        want_assertions_signed: spsso.attribute("WantAssertionsSigned") == Some("true"),
        want_response_signed: false,
        encrypt_assertions: explicit_rsa_encryption,
        name_id_formats,
        signing_methods,
        release: release.clone(),
    })
}

/// Endpoint URLs (ACS, single logout) must be absolute https, or http on a loopback host
/// (development and tests).
fn check_endpoint_url(location: &str) -> Result<(), String> {
    let url =
        url::Url::parse(location).map_err(|e| format!("endpoint Location {location:?}: {e}"))?;
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(format!("endpoint Location {location:?} must be https")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
