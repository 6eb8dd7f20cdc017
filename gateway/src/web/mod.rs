//! The HTTP surface: the router and its layers, cookies, forms, pages and their texts. Handlers
//! extract, call one flow, and map its outcome ([`crate::flows::Answer`]) or its error to a
//! response; protocol decisions are made in `flows`.

pub mod demo;
pub mod edge;
mod error;
pub mod http;
pub mod i18n;
mod login;
mod logout;
mod oidc;
pub mod pages;
pub mod proxy;
mod sso;

pub use demo::DemoSp;
pub use error::page as error_page;

use crate::flows::{Answer, Idp, MetadataDocument, Step};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;

/// What the handlers share: the flows' [`Idp`], and what only the web layer serves.
pub struct WebState {
    pub idp: Arc<Idp>,
    /// The built-in demo SP (dev mode).
    pub demo: Option<DemoSp>,
    /// The signed IdP metadata document, signed again before it lapses.
    pub idp_metadata: MetadataDocument,
    /// The relying-party JWKS served at `/oidc/jwks` (when OIDC keys are configured).
    pub rp_jwks: Option<String>,
}

pub fn router(state: Arc<WebState>) -> Router {
    let mut r = Router::new()
        .route("/", get(root))
        .route("/healthz", get(|| async { "ok" }))
        .route("/static/gateway.css", get(css))
        .route("/saml/idp/metadata", get(idp_metadata))
        .route("/oidc/jwks", get(jwks))
        .route("/saml/idp/sso", get(sso::sso_redirect).post(sso::sso_post))
        .route(
            "/saml/idp/slo",
            get(logout::slo_redirect).post(logout::slo_post),
        )
        .route("/saml/idp/slo/frame", get(logout::slo_frame))
        .route("/saml/idp/slo/done", post(logout::slo_done))
        .route(
            "/logout",
            get(logout::logout_form).post(logout::logout_submit),
        )
        .route("/.well-known/openid-configuration", get(oidc::discovery))
        .route("/oidc/op/jwks", get(oidc::jwks))
        .route("/oidc/authorize", get(oidc::authorize))
        .route("/oidc/token", post(oidc::token))
        .route("/oidc/userinfo", get(oidc::userinfo).post(oidc::userinfo))
        .route("/oidc/introspect", post(oidc::introspect))
        .route("/oidc/revoke", post(oidc::revoke))
        .route("/oidc/logout", get(oidc::end_session))
        .route("/login", get(login::selection))
        .route("/login/cancel", post(login::cancel))
        .route("/login/testbank/finish", post(login::testbank_finish))
        .route("/login/bank/{id}/callback", get(login::bank_callback))
        .route("/login/idcard/callback", get(login::idcard_callback))
        .route("/login/{method}", get(login::start_method));
    if state.demo.is_some() {
        r = r
            .route("/demo", get(demo::home))
            .route("/demo/login", get(demo::login))
            .route("/demo/acs", post(demo::acs))
            .route("/demo/logout", get(demo::logout))
            .route("/demo/slo", get(demo::slo))
            .route("/demo/metadata", get(demo::metadata));
    }
    r.layer(DefaultBodyLimit::max(http::MAX_BODY))
        .with_state(state)
}

/// Serve behind the default edge ([`edge::EdgeSettings::new`]) until `shutdown` resolves,
/// then let requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<WebState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_behind(listener, state, edge::EdgeSettings::new(), shutdown).await
}

/// Serve behind `edge` (connection cap, timeouts, TLS, rate limits, security headers) until
/// `shutdown` resolves, then let requests in flight finish.
pub async fn serve_behind(
    listener: tokio::net::TcpListener,
    state: Arc<WebState>,
    edge: edge::EdgeSettings,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    edge::serve(listener, router(state), edge, shutdown).await
}

/// A flow's result as a response: its answer, or the citizen's error page in `lang`.
pub(crate) fn reply(
    state: &WebState,
    result: Result<Answer, crate::flows::FlowError>,
    lang: idp_adapters::Language,
) -> Response {
    match result {
        Ok(answer) => respond(state, answer),
        Err(e) => error::page(e, lang, state.idp.rng.as_ref()),
    }
}

/// A flow's answer as a response: its step, and the cookies it sets.
fn respond(state: &WebState, answer: Answer) -> Response {
    let mut resp = match answer.step {
        Step::Redirect(to) => http::see_other(to),
        Step::Autopost(post) => {
            let nonce = match certs::random_token(state.idp.rng.as_ref()) {
                Ok(n) => n,
                Err(e) => {
                    return error::page(
                        crate::flows::FlowError::Crypto(e),
                        post.lang,
                        state.idp.rng.as_ref(),
                    )
                }
            };
            let origin = url::Url::parse(&post.acs_url)
                .map(|u| u.origin().ascii_serialization())
                .unwrap_or_else(|_| "'none'".into());
            let html = pages::autopost_page(
                post.lang,
                &post.acs_url,
                post.field,
                &post.value,
                post.relay_state.as_deref(),
                &nonce,
            );
            let mut resp = (StatusCode::OK, axum::response::Html(html)).into_response();
            http::security_headers(resp.headers_mut(), Some((&nonce, &origin)));
            resp
        }
        Step::LogoutPage(p) => {
            let nonce = match certs::random_token(state.idp.rng.as_ref()) {
                Ok(n) => n,
                Err(e) => {
                    return error::page(
                        crate::flows::FlowError::Crypto(e),
                        p.lang,
                        state.idp.rng.as_ref(),
                    )
                }
            };
            let html = pages::logout_page(&p, &nonce);
            let mut resp = (StatusCode::OK, axum::response::Html(html)).into_response();
            http::logout_page_headers(resp.headers_mut(), &nonce, &p.frame_origins);
            resp
        }
        Step::LogoutFrameDone { lang, service, ok } => {
            http::html_page(StatusCode::OK, pages::logout_frame_page(lang, &service, ok))
        }
        Step::LoggedOut(l) => http::html_page(
            StatusCode::OK,
            pages::logged_out_page(l.lang, &l.unconfirmed),
        ),
        Step::TestBank { page, lang, error } => {
            let status = if error.is_some() {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            };
            let message = error.as_ref().map(|e| i18n::form_error(lang, e));
            http::html_page(status, pages::testbank_page(lang, &page, message))
        }
    };
    for flow_id in &answer.clear_flows {
        resp.headers_mut()
            .append(header::SET_COOKIE, http::clear_flow_cookie(flow_id));
    }
    if let Some(flow) = &answer.set_flow {
        resp.headers_mut().append(
            header::SET_COOKIE,
            http::set_flow_cookie(&flow.flow_id, &flow.value, flow.max_age),
        );
    }
    if answer.clear_session {
        resp.headers_mut().append(
            header::SET_COOKIE,
            http::set_cookie(http::SSO_COOKIE, "", 0, "/", "None"),
        );
    }
    if let Some((sid, ttl)) = answer.set_session {
        resp.headers_mut().append(
            header::SET_COOKIE,
            http::set_cookie(http::SSO_COOKIE, &sid, ttl, "/", "None"),
        );
    }
    resp
}

async fn root(State(state): State<Arc<WebState>>) -> Response {
    if state.demo.is_some() {
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
        pages::CSS,
    )
        .into_response()
}

async fn idp_metadata(State(state): State<Arc<WebState>>) -> Response {
    let now = state.idp.clock.now();
    match crate::flows::published_metadata(&state.idp, &state.idp_metadata, now) {
        Ok(doc) => (
            [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
            doc.xml.to_string(),
        )
            .into_response(),
        Err(e) => error::page(e, idp_adapters::Language::En, state.idp.rng.as_ref()),
    }
}

/// `GET /oidc/jwks`: the gateway's public relying-party keys, for the banks.
async fn jwks(State(state): State<Arc<WebState>>) -> Response {
    match &state.rp_jwks {
        Some(doc) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "public, max-age=3600"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            doc.clone(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no relying-party keys configured").into_response(),
    }
}
