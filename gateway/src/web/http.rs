//! The small helpers every handler shares: cookies, language, forms, security headers, and the
//! responses they build.

use crate::flows::{Browser, FlowError, LanguageChoice};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use idp_adapters::Language;

/// Largest request body we read (an AuthnRequest by POST is a few KiB).
pub const MAX_BODY: usize = 96 * 1024;

/// The SSO session cookie, and the prefix of each login flow's cookie (the flow ID follows).
/// `__Host-`: Secure, Path=/, no Domain, so no sibling host can set or shadow them.
pub const SSO_COOKIE: &str = "__Host-gw_sso";
pub const FLOW_COOKIE_PREFIX: &str = "__Host-gw_flow_";

/// Flow cookies read from one request: the flows keep at most
/// [`crate::flows::MAX_FLOWS_PER_BROWSER`], a few more are read so they can be dropped.
const MAX_FLOW_COOKIES_READ: usize = crate::flows::MAX_FLOWS_PER_BROWSER + 4;

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

/// Headers for the single logout page: its one script, and frames to our own origin and the
/// participants' single logout endpoints (`origins`, already origins of parsed URLs).
pub fn logout_page_headers(h: &mut HeaderMap, nonce: &str, origins: &[String]) {
    security_headers(h, None);
    let frames: String = origins
        .iter()
        .filter(|o| o.starts_with("https://") || o.starts_with("http://"))
        .map(|o| format!(" {o}"))
        .collect();
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'self'; frame-src 'self'{frames}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
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

/// The citizen's language: an explicit `lang` parameter, then (once the flow is known) the
/// flow's, then Accept-Language.
pub fn language(headers: &HeaderMap, explicit: Option<&str>) -> LanguageChoice {
    let accepted = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(Language::from_accept_language);
    LanguageChoice::new(explicit.and_then(Language::parse), accepted)
}

/// The cookies the flows read, as plain values. Flow cookies beyond the first few, or longer
/// than a sealed flow can be, are not read.
pub fn browser(headers: &HeaderMap) -> Browser {
    let flows = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .filter_map(|(k, v)| Some((k.strip_prefix(FLOW_COOKIE_PREFIX)?, v)))
        .filter(|(id, v)| id.len() <= 64 && v.len() <= crate::flows::sealed::MAX_SEALED_LEN)
        .take(MAX_FLOW_COOKIES_READ)
        .map(|(id, v)| (id.to_owned(), v.to_owned()))
        .collect();
    Browser {
        session: cookie(headers, SSO_COOKIE).map(str::to_owned),
        flows,
    }
}

/// Set-Cookie for a sealed flow. SameSite=Lax: it comes back with the top-level GET by which a
/// bank or the certificate listener returns the citizen, and with our own pages' forms.
pub fn set_flow_cookie(flow_id: &str, value: &str, max_age: i64) -> HeaderValue {
    set_cookie(
        &format!("{FLOW_COOKIE_PREFIX}{flow_id}"),
        value,
        max_age,
        "/",
        "Lax",
    )
}

/// Set-Cookie that drops a flow's cookie.
pub fn clear_flow_cookie(flow_id: &str) -> HeaderValue {
    set_cookie(&format!("{FLOW_COOKIE_PREFIX}{flow_id}"), "", 0, "/", "Lax")
}

/// The fields of a form body; a body over [`MAX_BODY`] (refused by the extractor) is an error.
pub fn form_body(
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Vec<(String, String)>, FlowError> {
    let body = body.map_err(|_| {
        FlowError::Binding(saml::SamlError::TooLarge {
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
