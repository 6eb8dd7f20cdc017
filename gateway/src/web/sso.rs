//! The SSO endpoint's handlers: extract, call the intake flow, map its answer.

use super::{http, reply, WebState};
use crate::flows::{self, IncomingRequest};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use std::sync::Arc;

pub async fn sso_redirect(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let lang = http::language(&headers, None).chosen;
    let incoming = IncomingRequest::Redirect {
        raw_query: q.as_deref().unwrap_or(""),
    };
    reply(
        &state,
        flows::receive_authn_request(&state.idp, &http::browser(&headers), incoming, lang).await,
        lang,
    )
}

pub async fn sso_post(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let lang = http::language(&headers, None).chosen;
    let result = async {
        let fields = http::form_body(body)?;
        let incoming = IncomingRequest::Post { fields: &fields };
        flows::receive_authn_request(&state.idp, &http::browser(&headers), incoming, lang).await
    }
    .await;
    reply(&state, result, lang)
}
