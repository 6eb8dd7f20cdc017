//! The HTTP surface: routes, and the small helpers every handler shares (cookies, language,
//! security headers). Handlers extract, call one flow function, and map the result.

use crate::error::GatewayError;
use crate::state::Gateway;
use crate::{bank, demo, login, sso};
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use idp_adapters::Language;
use std::sync::Arc;

/// Largest request body we read (an AuthnRequest by POST is a few KiB).
pub const MAX_BODY: usize = 96 * 1024;

pub const SSO_COOKIE: &str = "gw_sso";
pub const BROWSER_COOKIE: &str = "gw_browser";

pub fn router(gw: Arc<Gateway>) -> Router {
    let mut r = Router::new()
        .route("/", get(root))
        .route("/healthz", get(|| async { "ok" }))
        .route("/static/gateway.css", get(css))
        .route("/saml/idp/metadata", get(idp_metadata))
        .route("/oidc/jwks", get(bank::jwks))
        .route("/saml/idp/sso", get(sso::sso_redirect).post(sso::sso_post))
        .route("/login", get(login::selection))
        .route("/login/cancel", post(login::cancel))
        .route("/login/testbank/finish", post(login::testbank_finish))
        .route("/login/bank/{id}/callback", get(login::bank_callback))
        .route("/login/idcard/callback", get(login::idcard_callback))
        .route("/login/{method}", get(login::start_method));
    if gw.demo.is_some() {
        r = r
            .route("/demo", get(demo::home))
            .route("/demo/login", get(demo::login))
            .route("/demo/acs", post(demo::acs))
            .route("/demo/metadata", get(demo::metadata));
    }
    r.layer(DefaultBodyLimit::max(MAX_BODY)).with_state(gw)
}

async fn root(axum::extract::State(gw): axum::extract::State<Arc<Gateway>>) -> Response {
    if gw.demo.is_some() {
        Redirect::to("/demo").into_response()
    } else {
        (StatusCode::OK, "identity gateway").into_response()
    }
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        crate::ui::CSS,
    )
        .into_response()
}

async fn idp_metadata(axum::extract::State(gw): axum::extract::State<Arc<Gateway>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
        gw.idp_metadata.clone(),
    )
        .into_response()
}

/// Headers for every page we render. `autopost` names the nonce and the one origin the
/// self-submitting form may post to.
pub fn security_headers(h: &mut HeaderMap, autopost: Option<(&str, &str)>) {
    let csp = match autopost {
        Some((nonce, origin)) => format!(
            "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'self'; form-action {origin}; frame-ancestors 'none'; base-uri 'none'"
        ),
        None => "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'".to_owned(),
    };
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// One cookie's value from the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A Set-Cookie value. SameSite=None so that a cross-site POST-binding request to the SSO
/// endpoint still carries the session (a Lax cookie is not sent there); Secure and HttpOnly always.
pub fn set_cookie(
    name: &str,
    value: &str,
    max_age_secs: i64,
    path: &str,
    same_site: &str,
) -> HeaderValue {
    let s = format!("{name}={value}; Path={path}; Max-Age={max_age_secs}; Secure; HttpOnly; SameSite={same_site}");
    HeaderValue::from_str(&s).unwrap_or_else(|_| HeaderValue::from_static("invalid=1; Max-Age=0"))
}

/// The citizen's language: an explicit `lang` parameter, then the flow's, then Accept-Language.
pub fn language(headers: &HeaderMap, explicit: Option<&str>, flow: Option<Language>) -> Language {
    explicit
        .and_then(Language::parse)
        .or(flow)
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Language::from_accept_language)
        })
        .unwrap_or(Language::Fi)
}

/// The fields of a form body; a body over [`MAX_BODY`] (refused by the extractor) is an error.
pub fn form_body(
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Vec<(String, String)>, GatewayError> {
    let body = body.map_err(|_| {
        GatewayError::Binding(saml::SamlError::TooLarge {
            what: "request body",
            limit: MAX_BODY,
        })
    })?;
    Ok(form_fields(&body))
}

/// Parse an urlencoded body into fields, as received (duplicates kept).
pub fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// The single value of a field; a repeated field is an error (which one would we trust?).
pub fn single<'a>(
    fields: &'a [(String, String)],
    name: &'static str,
) -> Result<Option<&'a str>, GatewayError> {
    let mut it = fields.iter().filter(|(k, _)| k == name);
    let first = it.next().map(|(_, v)| v.as_str());
    if it.next().is_some() {
        return Err(GatewayError::BadForm(name));
    }
    Ok(first)
}

/// A 303 to `location` with our headers.
pub fn see_other(location: impl Into<String>) -> Response {
    let location =
        HeaderValue::from_str(&location.into()).unwrap_or_else(|_| HeaderValue::from_static("/"));
    let mut r = (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response();
    security_headers(r.headers_mut(), None);
    r
}

/// Render a page with our headers.
pub fn html_page(status: StatusCode, html: String) -> Response {
    let mut r = (status, axum::response::Html(html)).into_response();
    security_headers(r.headers_mut(), None);
    r
}

/// Serve until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    gw: Arc<Gateway>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(gw))
        .with_graceful_shutdown(shutdown)
        .await
}
