//! The OpenID Connect provider's endpoints. The browser's (authorize, logout) answer with pages
//! and redirects; the clients' (token, userinfo, introspection, revocation) with JSON, errors
//! included (RFC 6749 5.2, RFC 6750 3.1), and 503 JSON while the store is unavailable.

use super::{http, reply, WebState};
use crate::flows::oidc::{self, OidcError, TokenRequest};
use crate::flows::FlowError;
use crate::stores::StoreError;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::sync::Arc;

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut r = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response();
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// A client's error as JSON: the OAuth error code, never a page.
fn json_error(e: FlowError) -> Response {
    let (status, error, description) = match &e {
        FlowError::Oidc(o) => {
            let status = match o {
                OidcError::InvalidClient(_) | OidcError::InvalidToken(_) => {
                    StatusCode::UNAUTHORIZED
                }
                OidcError::NotEnabled => StatusCode::NOT_FOUND,
                _ => StatusCode::BAD_REQUEST,
            };
            (status, o.error(), o.description().to_owned())
        }
        FlowError::Store(StoreError::Unavailable(_) | StoreError::Full { .. }) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the service is unavailable right now; try again shortly".to_owned(),
        ),
        FlowError::BadForm(f) => (
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("bad or repeated parameter {f}"),
        ),
        FlowError::Binding(saml::SamlError::TooLarge { .. }) => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            "request too large".to_owned(),
        ),
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal error".to_owned(),
        ),
    };
    if status.is_server_error() {
        tracing::error!(code = e.code(), cause = %e, "OpenID Connect endpoint failed");
    } else {
        tracing::info!(target: "audit", event = "oidc_refused", code = e.code());
    }
    let mut r = json_response(
        status,
        &json!({ "error": error, "error_description": description }),
    );
    if status == StatusCode::UNAUTHORIZED {
        let challenge = if error == "invalid_token" {
            "Bearer error=\"invalid_token\""
        } else {
            "Basic realm=\"token\""
        };
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
    }
    r
}

pub async fn discovery(State(state): State<Arc<WebState>>) -> Response {
    match &state.idp.oidc {
        Some(op) => json_response(StatusCode::OK, &op.discovery()),
        None => json_error(FlowError::Oidc(OidcError::NotEnabled)),
    }
}

pub async fn jwks(State(state): State<Arc<WebState>>) -> Response {
    match &state.idp.oidc {
        Some(op) => {
            let mut r = (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                op.jwks_json.clone(),
            )
                .into_response();
            r.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            );
            r
        }
        None => json_error(FlowError::Oidc(OidcError::NotEnabled)),
    }
}

fn query_fields(q: Option<&str>) -> Vec<(String, String)> {
    http::form_fields(q.unwrap_or("").as_bytes())
}

pub async fn authorize(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let lang = http::language(&headers, None).chosen;
    let fields = query_fields(q.as_deref());
    let result = oidc::authorize(&state.idp, &http::browser(&headers), &fields, lang).await;
    reply(&state, result, lang)
}

pub async fn end_session(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let lang = http::language(&headers, None).chosen;
    let fields = query_fields(q.as_deref());
    let result = oidc::end_session(&state.idp, &http::browser(&headers), &fields, lang).await;
    reply(&state, result, lang)
}

/// The client ID and secret of an `Authorization: Basic` header (each form-urlencoded, RFC 6749
/// 2.3.1); `Err` for a malformed one.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, FlowError> {
    let Some(v) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || FlowError::Oidc(OidcError::InvalidClient("malformed Basic credentials"));
    let v = v.to_str().map_err(|_| bad())?;
    let Some(b64) = v.strip_prefix("Basic ") else {
        return Err(bad());
    };
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (id, secret) = text.split_once(':').ok_or_else(bad)?;
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((decode(id), decode(secret))))
}

/// A client's request to the token, introspection or revocation endpoint, read.
struct ClientRequest {
    fields: Vec<(String, String)>,
    basic: Option<(String, String)>,
    endpoint: String,
}

impl ClientRequest {
    fn read(
        state: &WebState,
        headers: &HeaderMap,
        body: Result<Bytes, BytesRejection>,
        path: &str,
    ) -> Result<ClientRequest, FlowError> {
        let issuer = state
            .idp
            .oidc
            .as_ref()
            .map(|o| o.issuer.as_str())
            .unwrap_or("");
        Ok(ClientRequest {
            fields: http::form_body(body)?,
            basic: basic_credentials(headers)?,
            endpoint: format!("{issuer}{path}"),
        })
    }

    fn as_token_request(&self) -> TokenRequest<'_> {
        TokenRequest {
            fields: &self.fields,
            basic: self.basic.clone(),
            endpoint: &self.endpoint,
        }
    }
}

/// A client endpoint's answer: its JSON, or its error as JSON.
fn json_result(result: Result<Value, FlowError>) -> Response {
    match result {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => json_error(e),
    }
}

/// The three endpoints a client authenticates at.
#[derive(Clone, Copy)]
enum ClientEndpoint {
    Token,
    Introspect,
    Revoke,
}

impl ClientEndpoint {
    fn path(self) -> &'static str {
        match self {
            ClientEndpoint::Token => "/oidc/token",
            ClientEndpoint::Introspect => "/oidc/introspect",
            ClientEndpoint::Revoke => "/oidc/revoke",
        }
    }
}

async fn client_endpoint(
    state: &WebState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    which: ClientEndpoint,
) -> Response {
    let request = match ClientRequest::read(state, headers, body, which.path()) {
        Ok(r) => r,
        Err(e) => return json_error(e),
    };
    let req = request.as_token_request();
    json_result(match which {
        ClientEndpoint::Token => oidc::token(&state.idp, &req).await,
        ClientEndpoint::Introspect => oidc::introspect(&state.idp, &req).await,
        ClientEndpoint::Revoke => oidc::revoke(&state.idp, &req).await.map(|()| json!({})),
    })
}

pub async fn token(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    client_endpoint(&state, &headers, body, ClientEndpoint::Token).await
}

pub async fn introspect(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    client_endpoint(&state, &headers, body, ClientEndpoint::Introspect).await
}

pub async fn revoke(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    client_endpoint(&state, &headers, body, ClientEndpoint::Revoke).await
}

pub async fn userinfo(State(state): State<Arc<WebState>>, headers: HeaderMap) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    json_result(oidc::userinfo(&state.idp, bearer).await)
}
