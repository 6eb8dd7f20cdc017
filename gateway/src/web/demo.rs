//! The built-in demo service provider (dev mode). It talks to the gateway only through SAML, as
//! any SP would: a signed AuthnRequest out, and a Response validated strictly on the way back.

use super::http::{self, cookie, set_cookie};
use super::WebState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use saml::authn_request::{AuthnRequestDraft, Comparison, RequestedAuthnContext};
use saml::xml::escape_html as esc;
use serde::Deserialize;
use std::sync::Arc;

const REQUEST_COOKIE: &str = "demo_request";

/// The built-in demo SP (dev mode): it logs in through the gateway like any SP would.
pub struct DemoSp {
    pub entity_id: String,
    pub acs_url: String,
    pub identity: certs::SigningIdentity,
    /// The same RSA key, for decrypting the assertions the gateway encrypts to the demo SP.
    pub decryption_key: certs::DecryptionKey,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    binding: Option<String>,
    force: Option<String>,
    passive: Option<String>,
    loa: Option<String>,
    persistent: Option<String>,
}

pub async fn home() -> Response {
    let body = r#"<p>This is the gateway's built-in demo e-service. It sends a signed SAML AuthnRequest to the gateway and checks the signed Response like a real service provider.</p>
<ul>
<li><a id="login" href="/demo/login">Log in</a> (HTTP-Redirect, signed)</li>
<li><a id="login-post" href="/demo/login?binding=post">Log in with HTTP-POST</a></li>
<li><a id="login-loa3" href="/demo/login?loa=loa3">Log in, level of assurance high (loa3)</a></li>
<li><a id="login-force" href="/demo/login?force=1">Log in again (ForceAuthn)</a></li>
<li><a id="login-passive" href="/demo/login?passive=1">Passive check (IsPassive)</a></li>
<li><a id="login-persistent" href="/demo/login?persistent=1">Log in with a persistent pseudonym</a></li>
</ul><p><a href="/demo/metadata">Demo SP metadata</a> · <a href="/saml/idp/metadata">Gateway IdP metadata</a></p>"#;
    http::html_page(
        StatusCode::OK,
        super::pages::demo_page("Demo e-service", body),
    )
}

pub async fn metadata(State(state): State<Arc<WebState>>) -> Response {
    match &state.demo {
        Some(d) => (
            [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
            demo_sp_metadata(&d.entity_id, &d.acs_url, &d.identity.cert),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The demo SP's metadata: what the gateway's registry is built from in dev mode.
pub fn demo_sp_metadata(entity_id: &str, acs_url: &str, cert: &certs::Certificate) -> String {
    let mut w = saml::xml::XmlWriter::new();
    w.start("md:EntityDescriptor")
        .attr("xmlns:md", saml::xml::NS_MD)
        .attr("xmlns:ds", saml::xml::NS_DS)
        .attr("entityID", entity_id);
    w.start("md:SPSSODescriptor")
        .attr("protocolSupportEnumeration", saml::xml::NS_SAMLP)
        .attr("AuthnRequestsSigned", "true")
        .attr("WantAssertionsSigned", "true");
    w.start("md:Extensions")
        .start("mdui:UIInfo")
        .attr("xmlns:mdui", "urn:oasis:names:tc:SAML:metadata:ui");
    for (lang, name) in [
        ("fi", "Esimerkkipalvelu (demo)"),
        ("sv", "Exempeltjänst (demo)"),
        ("en", "Demo e-service"),
    ] {
        w.start("mdui:DisplayName")
            .attr("xml:lang", lang)
            .text(name)
            .end();
    }
    w.end().end();
    for usage in ["signing", "encryption"] {
        w.start("md:KeyDescriptor").attr("use", usage);
        w.start("ds:KeyInfo")
            .start("ds:X509Data")
            .leaf("ds:X509Certificate", &cert.to_base64())
            .end()
            .end();
        w.end();
    }
    w.leaf("md:NameIDFormat", saml::NAMEID_TRANSIENT);
    w.leaf("md:NameIDFormat", saml::NAMEID_PERSISTENT);
    w.start("md:AssertionConsumerService")
        .attr("Binding", saml::BINDING_POST)
        .attr("Location", acs_url)
        .attr("index", "0")
        .attr("isDefault", "true")
        .end();
    w.finish()
}

pub async fn login(State(state): State<Arc<WebState>>, Query(q): Query<LoginQuery>) -> Response {
    let Some(demo) = &state.demo else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let result = (|| {
        let id = certs::random_id(state.idp.rng.as_ref())?;
        let rac = q.loa.as_deref().map(|l| RequestedAuthnContext {
            comparison: Comparison::Minimum,
            class_refs: vec![if l == "loa3" {
                "http://ftn.ficora.fi/2017/loa3"
            } else {
                "http://ftn.ficora.fi/2017/loa2"
            }
            .into()],
        });
        let xml = AuthnRequestDraft {
            id: &id,
            issuer: &demo.entity_id,
            destination: &state.idp.sso_url,
            issue_instant: state.idp.clock.now(),
            acs_url: Some(&demo.acs_url),
            acs_index: None,
            force_authn: q.force.is_some(),
            is_passive: q.passive.is_some(),
            name_id_format: Some(if q.persistent.is_some() {
                saml::NAMEID_PERSISTENT
            } else {
                saml::NAMEID_TRANSIENT
            }),
            requested_authn_context: rac.as_ref(),
        }
        .to_xml();
        let relay = format!("demo-{}", &id[1..9]);
        let mut resp = if q.binding.as_deref() == Some("post") {
            let signed = saml::dsig::sign_enveloped(&xml, &demo.identity.key, &demo.identity.cert)
                .map_err(|e| e.to_string())?;
            let nonce = certs::random_token(state.idp.rng.as_ref())?;
            let html = super::pages::autopost_page(
                idp_adapters::Language::En,
                &state.idp.sso_url,
                "SAMLRequest",
                &saml::binding::encode_post(&signed),
                Some(&relay),
                &nonce,
            );
            let mut r = (StatusCode::OK, axum::response::Html(html)).into_response();
            http::security_headers(r.headers_mut(), Some((&nonce, "'self'")));
            r
        } else {
            let url = saml::binding::encode_redirect(
                &state.idp.sso_url,
                &xml,
                saml::binding::MessageParam::SamlRequest,
                Some(&relay),
                Some(&demo.identity.key),
            )
            .map_err(|e| e.to_string())?;
            (StatusCode::SEE_OTHER, [(header::LOCATION, url)]).into_response()
        };
        resp.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(REQUEST_COOKIE, &id, 900, "/demo", "Lax"),
        );
        Ok::<_, Box<dyn std::error::Error>>(resp)
    })();
    result.unwrap_or_else(|e| {
        tracing::error!(cause = %e, "demo login failed");
        StatusCode::INTERNAL_SERVER_ERROR.into_response()
    })
}

pub async fn acs(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(demo) = &state.demo else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let outcome = (|| {
        let body = body.map_err(|_| "request body too large".to_owned())?;
        let fields = http::form_fields(&body);
        let encoded = crate::flows::single_field(&fields, "SAMLResponse")
            .ok()
            .flatten()
            .ok_or("no SAMLResponse")?;
        let xml = saml::binding::decode_post(encoded, &saml::binding::BindingLimits::default())
            .map_err(|e| e.to_string())?;
        let expected =
            cookie(&headers, REQUEST_COOKIE).ok_or("no login in progress in this browser")?;
        let now = state.idp.clock.now();
        let idp_certs = state.idp.keys.published(now);
        saml::sp::validate_response(
            &xml,
            &saml::sp::ResponseExpectations {
                sp_entity_id: &demo.entity_id,
                acs_url: &demo.acs_url,
                idp_entity_id: &state.idp.entity_id,
                idp_certificates: &idp_certs,
                in_response_to: Some(expected),
                now,
                clock_skew: state.idp.settings.clock_skew,
                decryption_key: Some(&demo.decryption_key),
            },
        )
        .map_err(|e| match e {
            saml::SamlError::Status { code, sub, .. } => format!(
                "The identity provider answered with status {}{}",
                short(&code),
                sub.map(|s| format!(" / {}", short(&s))).unwrap_or_default()
            ),
            other => format!("The Response was refused: {other}"),
        })
    })();
    let (status, html) = match outcome {
        Ok(a) => {
            let mut rows = String::new();
            for (name, values) in &a.attributes {
                let friendly = metadata::AttributeId::ALL
                    .iter()
                    .find(|i| i.oid_name() == name)
                    .map(|i| i.friendly_name())
                    .unwrap_or("");
                rows.push_str(&format!(
                    "<tr><td>{}</td><td><code>{}</code></td><td class=\"value\" data-attribute=\"{}\">{}</td></tr>",
                    esc(friendly),
                    esc(name),
                    esc(name),
                    esc(&values.join(", "))
                ));
            }
            let body = format!(
                "<p id=\"result\" data-result=\"ok\">Logged in. The assertion was signed by the gateway, encrypted to this service, and passed every check.</p>\
<table><tr><th>Attribute</th><th>Name</th><th>Value</th></tr>{rows}</table>\
<p>NameID (<code>{fmt}</code>): <code id=\"name-id\">{nid}</code><br>Level of assurance: <code id=\"authn-context\">{ctx}</code><br>Session index: <code>{si}</code></p>\
<p><a href=\"/demo\">Back to the demo</a></p>",
                fmt = esc(a.name_id_format.as_deref().unwrap_or("")),
                nid = esc(&a.name_id),
                ctx = esc(a.authn_context_class_ref.as_deref().unwrap_or("")),
                si = esc(a.session_index.as_deref().unwrap_or("")),
            );
            (
                StatusCode::OK,
                super::pages::demo_page("Demo e-service: logged in", &body),
            )
        }
        Err(msg) => {
            let body = format!("<p id=\"result\" data-result=\"refused\" class=\"err\">{}</p><p><a href=\"/demo\">Back to the demo</a></p>", esc(&msg));
            (
                StatusCode::BAD_REQUEST,
                super::pages::demo_page("Demo e-service: not logged in", &body),
            )
        }
    };
    let mut resp = http::html_page(status, html);
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(REQUEST_COOKIE, "", 0, "/demo", "Lax"),
    );
    resp
}

fn short(uri: &str) -> &str {
    uri.rsplit(':').next().unwrap_or(uri)
}
