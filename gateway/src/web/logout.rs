//! Single logout's handlers: `/saml/idp/slo` (a service's LogoutRequest, or a participant's
//! LogoutResponse in its frame), the frames that carry our LogoutRequests, the form that
//! finishes, and the citizen's own `/logout`.

use super::{http, reply, WebState};
use crate::flows::{self, IncomingRequest};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use std::collections::HashMap;
use std::sync::Arc;

/// The single logout endpoint's answers are shown in our own frames (a participant's answer
/// arrives in the frame we sent it in): framing by our own origin is allowed, by no other.
fn framed_by_us(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    if let Some(csp) = h
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.replace("frame-ancestors 'none'", "frame-ancestors 'self'"))
    {
        if let Ok(v) = HeaderValue::from_str(&csp) {
            h.insert(header::CONTENT_SECURITY_POLICY, v);
        }
    }
    resp
}

pub async fn slo_redirect(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let lang = http::language(&headers, None).chosen;
    let incoming = IncomingRequest::Redirect {
        raw_query: q.as_deref().unwrap_or(""),
    };
    let result = flows::receive_logout(&state.idp, &http::browser(&headers), incoming, lang).await;
    framed_by_us(reply(&state, result, lang))
}

pub async fn slo_post(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let lang = http::language(&headers, None).chosen;
    let result = async {
        let fields = http::form_body(body)?;
        let incoming = IncomingRequest::Post { fields: &fields };
        flows::receive_logout(&state.idp, &http::browser(&headers), incoming, lang).await
    }
    .await;
    framed_by_us(reply(&state, result, lang))
}

/// `GET /saml/idp/slo/frame?logout=<id>&n=<participant>`.
pub async fn slo_frame(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let lang = http::language(&headers, None).chosen;
    let logout = q.get("logout").map(String::as_str).unwrap_or("");
    let n = q.get("n").and_then(|n| n.parse::<usize>().ok());
    let result = match n {
        Some(n) => flows::logout_frame(&state.idp, logout, n).await,
        None => Err(flows::FlowError::BadForm("n")),
    };
    framed_by_us(reply(&state, result, lang))
}

/// `POST /saml/idp/slo/done` (field `logout`).
pub async fn slo_done(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let lang = http::language(&headers, None).chosen;
    let result = async {
        let fields = http::form_body(body)?;
        let logout =
            flows::single_field(&fields, "logout")?.ok_or(flows::FlowError::BadForm("logout"))?;
        flows::logout_done(&state.idp, logout).await
    }
    .await;
    reply(&state, result, lang)
}

/// `GET /logout`: the citizen's confirmation form.
pub async fn logout_form(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let lang = http::language(&headers, q.get("lang").map(String::as_str)).chosen;
    let browser = http::browser(&headers);
    let token = flows::logout_token(&state.idp, &browser);
    http::html_page(
        StatusCode::OK,
        super::pages::logout_confirm_page(lang, token.as_deref()),
    )
}

/// `POST /logout` (fields `token`, `lang`).
pub async fn logout_submit(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let fallback = http::language(&headers, None).chosen;
    let mut lang = fallback;
    let result = async {
        let fields = http::form_body(body)?;
        lang = http::language(&headers, flows::single_field(&fields, "lang")?).chosen;
        let token = flows::single_field(&fields, "token")?;
        flows::citizen_logout(&state.idp, &http::browser(&headers), token, lang).await
    }
    .await;
    reply(&state, result, lang)
}
