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
/// The demo's own "session": the NameID and SessionIndex it was given (`<NameID>~<index>`).
const SESSION_COOKIE: &str = "demo_session";
/// The ID of the LogoutRequest the demo sent.
const LOGOUT_COOKIE: &str = "demo_logout";

/// The built-in demo SP (dev mode): it logs in through the gateway like any SP would.
pub struct DemoSp {
    pub entity_id: String,
    pub acs_url: String,
    /// Its SingleLogoutService (HTTP-Redirect).
    pub slo_url: String,
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
            demo_sp_metadata(d),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The demo SP's metadata: what the gateway's registry is built from in dev mode.
pub fn demo_sp_metadata(demo: &DemoSp) -> String {
    let (entity_id, acs_url, cert) = (&demo.entity_id, &demo.acs_url, &demo.identity.cert);
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
    w.start("md:SingleLogoutService")
        .attr("Binding", saml::BINDING_REDIRECT)
        .attr("Location", &demo.slo_url)
        .end();
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
    let mut session = None;
    let (status, html) = match outcome {
        Ok(a) => {
            session = Some(format!(
                "{}~{}",
                a.name_id,
                a.session_index.as_deref().unwrap_or("")
            ));
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
<p><a id=\"logout\" href=\"/demo/logout\">Log out of every service (single logout)</a> · <a href=\"/demo\">Back to the demo</a></p>",
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
    if let Some(s) = session.filter(|s| s.len() < 1024 && !s.contains([';', ' ', ','])) {
        resp.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(SESSION_COOKIE, &s, 3600, "/demo", "Lax"),
        );
    }
    resp
}

/// `GET /demo/logout`: the demo's signed LogoutRequest for the session it was given.
pub async fn logout(State(state): State<Arc<WebState>>, headers: HeaderMap) -> Response {
    let Some(demo) = &state.demo else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some((name_id, session_index)) =
        cookie(&headers, SESSION_COOKIE).and_then(|c| c.split_once('~'))
    else {
        return demo_result(
            StatusCode::BAD_REQUEST,
            "not-logged-in",
            "This browser is not logged in to the demo service.",
        );
    };
    let result = (|| {
        let id = certs::random_id(state.idp.rng.as_ref())?;
        let now = state.idp.clock.now();
        let xml = saml::logout::LogoutRequestDraft {
            id: &id,
            issuer: &demo.entity_id,
            destination: &state.idp.slo_url,
            issue_instant: now,
            not_on_or_after: Some(now + time::Duration::minutes(5)),
            name_id,
            name_id_format: saml::NAMEID_TRANSIENT,
            name_qualifier: None,
            sp_name_qualifier: None,
            session_index: (!session_index.is_empty()).then_some(session_index),
        }
        .to_xml();
        let url = saml::binding::encode_redirect(
            &state.idp.slo_url,
            &xml,
            saml::binding::MessageParam::SamlRequest,
            None,
            Some(&demo.identity.key),
        )?;
        let mut resp = http::see_other(url);
        let h = resp.headers_mut();
        h.append(
            header::SET_COOKIE,
            set_cookie(LOGOUT_COOKIE, &id, 600, "/demo", "Lax"),
        );
        h.append(
            header::SET_COOKIE,
            set_cookie(SESSION_COOKIE, "", 0, "/demo", "Lax"),
        );
        Ok::<_, Box<dyn std::error::Error>>(resp)
    })();
    result.unwrap_or_else(|e| {
        tracing::error!(cause = %e, "demo logout failed");
        StatusCode::INTERNAL_SERVER_ERROR.into_response()
    })
}

/// `GET /demo/slo`: the gateway's LogoutResponse to the demo's request, or its LogoutRequest
/// (the citizen logged out elsewhere), answered with a signed LogoutResponse.
pub async fn slo(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    axum::extract::RawQuery(q): axum::extract::RawQuery,
) -> Response {
    let Some(demo) = &state.demo else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let now = state.idp.clock.now();
    let idp_certs = state.idp.keys.published(now);
    let policy = saml::authn_request::IntakePolicy {
        sso_url: &demo.slo_url,
        now,
        max_clock_skew: state.idp.settings.clock_skew,
        max_age: state.idp.settings.max_request_age,
    };
    let msg = saml::logout::read_from_idp(
        q.as_deref().unwrap_or(""),
        &state.idp.entity_id,
        &idp_certs,
        &policy,
    );
    match msg {
        Ok(saml::logout::FromIdp::Response(r)) => {
            let expected = cookie(&headers, LOGOUT_COOKIE).unwrap_or("");
            if expected.is_empty() || r.in_response_to != expected {
                return demo_result(
                    StatusCode::BAD_REQUEST,
                    "refused",
                    "A LogoutResponse to no logout of this browser was refused.",
                );
            }
            let partial = r.sub_status.as_deref() == Some(saml::logout::STATUS_PARTIAL_LOGOUT);
            let (id, text) = match (r.succeeded(), partial) {
                (true, false) => ("logged-out", "Logged out of the demo service and of every service of this session."),
                (true, true) => ("partial", "Logged out, but some service did not confirm the logout (PartialLogout): close the browser to be sure."),
                (false, _) => ("refused", "The gateway did not log the session out."),
            };
            let mut resp = demo_result(StatusCode::OK, id, text);
            resp.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(LOGOUT_COOKIE, "", 0, "/demo", "Lax"),
            );
            resp
        }
        Ok(saml::logout::FromIdp::Request(r)) => {
            let answer = (|| {
                let id = certs::random_id(state.idp.rng.as_ref())?;
                let xml = saml::logout::LogoutResponseDraft {
                    id: &id,
                    issuer: &demo.entity_id,
                    destination: &state.idp.slo_url,
                    issue_instant: now,
                    in_response_to: &r.id,
                    status: saml::STATUS_SUCCESS,
                    sub_status: None,
                }
                .to_xml();
                Ok::<_, Box<dyn std::error::Error>>(saml::binding::encode_redirect(
                    &state.idp.slo_url,
                    &xml,
                    saml::binding::MessageParam::SamlResponse,
                    None,
                    Some(&demo.identity.key),
                )?)
            })();
            match answer {
                Ok(url) => {
                    let mut resp = http::see_other(url);
                    resp.headers_mut().append(
                        header::SET_COOKIE,
                        set_cookie(SESSION_COOKIE, "", 0, "/demo", "Lax"),
                    );
                    resp
                }
                Err(e) => {
                    tracing::error!(cause = %e, "demo logout answer failed");
                    StatusCode::INTERNAL_SERVER_ERROR.into_response()
                }
            }
        }
        Err(e) => demo_result(
            StatusCode::BAD_REQUEST,
            "refused",
            &format!("The logout message was refused: {e}"),
        ),
    }
}

fn demo_result(status: StatusCode, id: &str, text: &str) -> Response {
    let body = format!(
        "<p id=\"result\" data-result=\"{}\">{}</p><p><a href=\"/demo\">Back to the demo</a></p>",
        esc(id),
        esc(text)
    );
    http::html_page(
        status,
        super::pages::demo_page("Demo e-service: logout", &body),
    )
}

fn short(uri: &str) -> &str {
    uri.rsplit(':').next().unwrap_or(uri)
}
