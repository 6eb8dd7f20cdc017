//! The gateway's own IdP metadata, signed with its active key.

use certs::{Certificate, SigningKey};
use saml::xml::{XmlWriter, NS_DS, NS_MD};
use time::OffsetDateTime;

pub struct IdpMetadataParams<'a> {
    pub entity_id: &'a str,
    pub sso_url: &'a str,
    /// The single logout endpoint (HTTP-Redirect and HTTP-POST).
    pub slo_url: Option<&'a str>,
    /// Every certificate an SP should trust now: active, next, recently retired.
    pub signing_certificates: &'a [&'a Certificate],
    pub want_authn_requests_signed: bool,
    pub valid_until: OffsetDateTime,
    pub document_id: &'a str,
    pub organization_name: &'a str,
}

pub fn idp_metadata_xml(
    p: &IdpMetadataParams<'_>,
    key: &SigningKey,
    cert: &Certificate,
) -> Result<String, saml::SamlError> {
    let mut w = XmlWriter::new();
    w.start("md:EntityDescriptor")
        .attr("xmlns:md", NS_MD)
        .attr("xmlns:ds", NS_DS)
        .attr("ID", p.document_id)
        .attr("entityID", p.entity_id)
        .attr("validUntil", &saml::time_fmt::format(p.valid_until));
    w.start("md:IDPSSODescriptor")
        .attr("protocolSupportEnumeration", saml::xml::NS_SAMLP)
        .attr(
            "WantAuthnRequestsSigned",
            if p.want_authn_requests_signed {
                "true"
            } else {
                "false"
            },
        );
    for c in p.signing_certificates {
        w.start("md:KeyDescriptor").attr("use", "signing");
        w.start("ds:KeyInfo")
            .start("ds:X509Data")
            .leaf("ds:X509Certificate", &c.to_base64())
            .end()
            .end();
        w.end();
    }
    if let Some(slo) = p.slo_url {
        for b in [saml::BINDING_REDIRECT, saml::BINDING_POST] {
            w.start("md:SingleLogoutService")
                .attr("Binding", b)
                .attr("Location", slo)
                .end();
        }
    }
    for f in [saml::NAMEID_TRANSIENT, saml::NAMEID_PERSISTENT] {
        w.leaf("md:NameIDFormat", f);
    }
    for b in [saml::BINDING_REDIRECT, saml::BINDING_POST] {
        w.start("md:SingleSignOnService")
            .attr("Binding", b)
            .attr("Location", p.sso_url)
            .end();
    }
    w.end();
    w.start("md:Organization");
    for lang in ["fi", "sv", "en"] {
        w.start("md:OrganizationName")
            .attr("xml:lang", lang)
            .text(p.organization_name)
            .end();
    }
    for lang in ["fi", "sv", "en"] {
        w.start("md:OrganizationDisplayName")
            .attr("xml:lang", lang)
            .text(p.organization_name)
            .end();
    }
    for lang in ["fi", "sv", "en"] {
        w.start("md:OrganizationURL")
            .attr("xml:lang", lang)
            .text(p.entity_id)
            .end();
    }
    w.end();
    saml::dsig::sign_enveloped(&w.finish(), key, cert)
}
