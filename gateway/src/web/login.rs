//! The citizen's side of a login: the method selection, starting a method, the test bank's
//! form, cancelling, and the upstream callbacks. Each handler extracts, calls one flow, maps.

use super::{error, http, pages, reply, WebState};
use crate::flows::{self, CallbackQuery, FlowError, Notice};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize)]
pub struct FlowQuery {
    flow: Option<String>,
    lang: Option<String>,
    notice: Option<String>,
}

pub async fn selection(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    Query(q): Query<FlowQuery>,
) -> Response {
    let mut lang = http::language(&headers, q.lang.as_deref());
    let notice = q.notice.as_deref().and_then(Notice::parse);
    let browser = http::browser(&headers);
    match flows::method_selection(&state.idp, &browser, q.flow.as_deref(), notice, &mut lang).await
    {
        Ok(view) => http::html_page(StatusCode::OK, pages::selection_page(&view)),
        Err(e) => error::page(e, lang.chosen, state.idp.rng.as_ref()),
    }
}

pub async fn start_method(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    Path(method): Path<String>,
    Query(q): Query<FlowQuery>,
) -> Response {
    let mut lang = http::language(&headers, q.lang.as_deref());
    let browser = http::browser(&headers);
    let result =
        flows::start_method(&state.idp, &browser, q.flow.as_deref(), &method, &mut lang).await;
    reply(&state, result, lang.chosen)
}

pub async fn testbank_finish(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let mut lang = http::language(&headers, None);
    let browser = http::browser(&headers);
    let result = match http::form_body(body) {
        Ok(fields) => flows::finish_test_bank(&state.idp, &browser, fields, &mut lang).await,
        Err(e) => Err(e),
    };
    reply(&state, result, lang.chosen)
}

pub async fn cancel(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let lang = http::language(&headers, None).chosen;
    let browser = http::browser(&headers);
    let result = match http::form_body(body) {
        Ok(fields) => flows::cancel(&state.idp, &browser, &fields).await,
        Err(e) => Err(e),
    };
    reply(&state, result, lang)
}

/// A bank's answer: `GET /login/bank/{id}/callback?code=..&state=..[&iss=..]` or `?error=..&state=..`.
pub async fn bank_callback(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let method = format!("bank:{}", id.chars().take(40).collect::<String>());
    upstream_callback(&state, &headers, method, query.unwrap_or_default()).await
}

/// Back from the certificate listener: `GET /login/idcard/callback?state=..[&error=no_certificate]`.
pub async fn idcard_callback(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let method = idp_adapters::idcard::IDCARD_ID.to_owned();
    upstream_callback(&state, &headers, method, query.unwrap_or_default()).await
}

/// Largest callback query accepted (a code, a state, an issuer, an error description, or a
/// sealed certificate capture).
const MAX_CALLBACK_QUERY: usize = crate::flows::sealed::MAX_SEALED_CAPTURE_LEN + 4 * 1024;

async fn upstream_callback(
    state: &WebState,
    headers: &HeaderMap,
    method: String,
    query: String,
) -> Response {
    let mut lang = http::language(headers, None);
    let result = if query.len() > MAX_CALLBACK_QUERY {
        Err(FlowError::BadForm("callback query"))
    } else {
        let query = CallbackQuery {
            method,
            fields: http::form_fields(query.as_bytes()),
        };
        flows::upstream_callback(&state.idp, &http::browser(headers), query, &mut lang).await
    };
    reply(state, result, lang.chosen)
}
