//! A scriptable service provider built on the saml crate's SP side: it makes well-formed and
//! deliberately hostile requests, and validates Responses strictly.

use certs::{Certificate, KeyKind, SigningIdentity};
use saml::authn_request::{AuthnRequestDraft, RequestedAuthnContext};
use saml::binding::{encode_redirect, MessageParam};
use std::path::{Path, PathBuf};

pub struct TestSp {
    pub entity_id: String,
    pub acs_url: String,
    pub extra_acs: Vec<String>,
    pub identity: SigningIdentity,
    pub authn_requests_signed: bool,
    /// alg:SigningMethod entries to publish in metadata (the SP's preference for our signatures).
    pub signing_methods: Vec<String>,
    /// A SingleLogoutService to publish in metadata (HTTP-Redirect, or HTTP-POST when
    /// `slo_post`).
    pub slo_url: Option<String>,
    pub slo_post: bool,
}

pub use saml::logout::FromIdp;

#[derive(Default, Clone)]
pub struct RequestOptions<'a> {
    pub force_authn: bool,
    pub is_passive: bool,
    pub acs_url: Option<&'a str>,
    pub acs_index: Option<u16>,
    pub omit_acs: bool,
    pub name_id_format: Option<&'a str>,
    pub requested: Option<RequestedAuthnContext>,
    pub issue_instant: Option<time::OffsetDateTime>,
    pub id: Option<&'a str>,
    pub destination: Option<&'a str>,
}

impl TestSp {
    pub fn new(name: &str, port_base: &str, signed: bool) -> TestSp {
        let identity = SigningIdentity::generate_self_signed(
            name,
            KeyKind::Rsa2048,
            time::OffsetDateTime::now_utc(),
            30,
        )
        .unwrap();
        TestSp {
            entity_id: format!("https://{name}.sp.example/sp"),
            acs_url: format!("{port_base}/{name}/acs"),
            extra_acs: vec![format!("{port_base}/{name}/acs2")],
            identity,
            authn_requests_signed: signed,
            signing_methods: Vec::new(),
            slo_url: None,
            slo_post: false,
        }
    }

    /// The same SP with a single logout endpoint for HTTP-POST at `<port_base>/<name>/slo`.
    pub fn with_slo_post(mut self) -> TestSp {
        self.slo_post = true;
        self.with_slo()
    }

    /// The same SP with a single logout endpoint at `<port_base>/<name>/slo`.
    pub fn with_slo(mut self) -> TestSp {
        self.slo_url = Some(self.acs_url.replace("/acs", "/slo"));
        self
    }

    pub fn metadata_xml(&self) -> String {
        let mut acs = format!(
            r#"<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{}" index="0" isDefault="true"/>"#,
            self.acs_url
        );
        for (i, a) in self.extra_acs.iter().enumerate() {
            acs.push_str(&format!(
                r#"<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{a}" index="{}"/>"#,
                i + 1
            ));
        }
        acs.push_str(&format!(
            r#"<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact" Location="{}/artifact" index="9"/>"#,
            self.acs_url
        ));
        let ext = if self.signing_methods.is_empty() {
            String::new()
        } else {
            let m: String = self
                .signing_methods
                .iter()
                .map(|a| format!(r#"<alg:SigningMethod xmlns:alg="urn:oasis:names:tc:SAML:metadata:algsupport" Algorithm="{a}"/>"#))
                .collect();
            format!("<md:Extensions>{m}</md:Extensions>")
        };
        let slo = self
            .slo_url
            .as_ref()
            .map(|u| {
                let binding = if self.slo_post {
                    saml::BINDING_POST
                } else {
                    saml::BINDING_REDIRECT
                };
                format!(r#"<md:SingleLogoutService Binding="{binding}" Location="{u}"/>"#)
            })
            .unwrap_or_default();
        format!(
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{eid}">{ext}<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" AuthnRequestsSigned="{signed}" WantAssertionsSigned="true"><md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>{slo}{acs}</md:SPSSODescriptor></md:EntityDescriptor>"#,
            eid = self.entity_id,
            signed = self.authn_requests_signed,
            cert = self.identity.cert.to_base64(),
        )
    }

    pub fn write_metadata(&self, dir: &Path) -> PathBuf {
        let p = dir.join(format!("{}.xml", self.entity_id.replace(['/', ':'], "_")));
        std::fs::write(&p, self.metadata_xml()).unwrap();
        p
    }

    /// The AuthnRequest XML and its ID.
    pub fn request_xml(&self, sso_url: &str, o: &RequestOptions<'_>) -> (String, String) {
        let id = match o.id {
            Some(i) => i.to_owned(),
            None => certs::random_id(&certs::SystemRandomSource).unwrap(),
        };
        let acs = if o.omit_acs || o.acs_index.is_some() {
            None
        } else {
            Some(o.acs_url.unwrap_or(&self.acs_url))
        };
        let xml = AuthnRequestDraft {
            id: &id,
            issuer: &self.entity_id,
            destination: o.destination.unwrap_or(sso_url),
            issue_instant: o
                .issue_instant
                .unwrap_or_else(time::OffsetDateTime::now_utc),
            acs_url: acs,
            acs_index: o.acs_index,
            force_authn: o.force_authn,
            is_passive: o.is_passive,
            name_id_format: o.name_id_format,
            requested_authn_context: o.requested.as_ref(),
        }
        .to_xml();
        (xml, id)
    }

    /// A Redirect-binding URL, signed with `key` (or this SP's key when `sign`).
    pub fn redirect_url(
        &self,
        sso_url: &str,
        xml: &str,
        relay_state: Option<&str>,
        sign: bool,
    ) -> String {
        encode_redirect(
            sso_url,
            xml,
            MessageParam::SamlRequest,
            relay_state,
            sign.then_some(&self.identity.key),
        )
        .unwrap()
    }

    /// POST fields, the XML signed by this SP's key when `sign`.
    pub fn post_fields(
        &self,
        xml: &str,
        relay_state: Option<&str>,
        sign: bool,
    ) -> Vec<(String, String)> {
        let xml = if sign {
            saml::dsig::sign_enveloped(xml, &self.identity.key, &self.identity.cert).unwrap()
        } else {
            xml.to_owned()
        };
        let mut f = vec![("SAMLRequest".to_owned(), saml::binding::encode_post(&xml))];
        if let Some(r) = relay_state {
            f.push(("RelayState".to_owned(), r.to_owned()));
        }
        f
    }

    pub fn validate(
        &self,
        xml: &str,
        in_response_to: &str,
        idp_entity_id: &str,
        idp_certs: &[Certificate],
        acs: Option<&str>,
    ) -> Result<saml::sp::ValidatedAssertion, saml::SamlError> {
        saml::sp::validate_response(
            xml,
            &saml::sp::ResponseExpectations {
                sp_entity_id: &self.entity_id,
                acs_url: acs.unwrap_or(&self.acs_url),
                idp_entity_id,
                idp_certificates: idp_certs,
                in_response_to: Some(in_response_to),
                now: time::OffsetDateTime::now_utc(),
                clock_skew: time::Duration::seconds(30),
                decryption_key: None,
            },
        )
    }

    /// A signed (Redirect) LogoutRequest to the IdP's single logout endpoint, and its ID.
    pub fn logout_request_url(
        &self,
        idp_slo: &str,
        name_id: &str,
        session_index: Option<&str>,
        relay_state: Option<&str>,
    ) -> (String, String) {
        let id = certs::random_id(&certs::SystemRandomSource).unwrap();
        let now = time::OffsetDateTime::now_utc();
        let xml = saml::logout::LogoutRequestDraft {
            id: &id,
            issuer: &self.entity_id,
            destination: idp_slo,
            issue_instant: now,
            not_on_or_after: Some(now + time::Duration::minutes(5)),
            name_id,
            name_id_format: saml::NAMEID_TRANSIENT,
            name_qualifier: None,
            sp_name_qualifier: None,
            session_index,
        }
        .to_xml();
        let url = encode_redirect(
            idp_slo,
            &xml,
            MessageParam::SamlRequest,
            relay_state,
            Some(&self.identity.key),
        )
        .unwrap();
        (url, id)
    }

    /// A signed (Redirect) LogoutResponse to the IdP, answering `in_response_to`.
    pub fn logout_response_url(&self, idp_slo: &str, in_response_to: &str, status: &str) -> String {
        let id = certs::random_id(&certs::SystemRandomSource).unwrap();
        let xml = saml::logout::LogoutResponseDraft {
            id: &id,
            issuer: &self.entity_id,
            destination: idp_slo,
            issue_instant: time::OffsetDateTime::now_utc(),
            in_response_to,
            status,
            sub_status: None,
        }
        .to_xml();
        encode_redirect(
            idp_slo,
            &xml,
            MessageParam::SamlResponse,
            None,
            Some(&self.identity.key),
        )
        .unwrap()
    }

    /// A signed (enveloped) LogoutResponse for the HTTP-POST binding, as form fields.
    pub fn logout_response_post_fields(
        &self,
        idp_slo: &str,
        in_response_to: &str,
        status: &str,
    ) -> Vec<(String, String)> {
        let id = certs::random_id(&certs::SystemRandomSource).unwrap();
        let xml = saml::logout::LogoutResponseDraft {
            id: &id,
            issuer: &self.entity_id,
            destination: idp_slo,
            issue_instant: time::OffsetDateTime::now_utc(),
            in_response_to,
            status,
            sub_status: None,
        }
        .to_xml();
        let signed =
            saml::dsig::sign_enveloped(&xml, &self.identity.key, &self.identity.cert).unwrap();
        vec![(
            "SAMLResponse".to_owned(),
            saml::binding::encode_post(&signed),
        )]
    }

    /// Read a Redirect-binding logout message the IdP sent to this SP's endpoint (`url` as the
    /// browser was sent to it), verified with the IdP's certificates: Destination must be this
    /// SP's single logout URL.
    pub fn read_from_idp(
        &self,
        url: &str,
        idp_entity_id: &str,
        idp_certs: &[Certificate],
    ) -> Result<FromIdp, saml::authn_request::IntakeError> {
        let slo = self
            .slo_url
            .as_deref()
            .expect("an SP with a single logout endpoint");
        assert!(
            url.starts_with(slo),
            "{url} is not this SP's endpoint {slo}"
        );
        let policy = saml::authn_request::IntakePolicy {
            sso_url: slo,
            now: time::OffsetDateTime::now_utc(),
            max_clock_skew: time::Duration::seconds(30),
            max_age: time::Duration::minutes(5),
        };
        let query = url.split_once('?').map(|q| q.1).unwrap_or("");
        saml::logout::read_from_idp(query, idp_entity_id, idp_certs, &policy)
    }
}
