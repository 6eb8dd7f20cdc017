//! The citizen's side of a login: method selection, starting a method, finishing it, cancelling.

use crate::error::GatewayError;
use crate::http;
use crate::sso::{self, FlowRecord};
use crate::state::Gateway;
use crate::ui::{self, MethodLink};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use idp_adapters::{AdapterError, CallbackInput, FinishContext, StartAction, StartContext};
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize)]
pub struct FlowQuery {
    flow: Option<String>,
    lang: Option<String>,
    notice: Option<String>,
}

pub async fn selection(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    Query(q): Query<FlowQuery>,
) -> Response {
    let mut lang = http::language(&headers, q.lang.as_deref(), None);
    let result = async {
        let flow_id = q.flow.as_deref().ok_or(GatewayError::FlowNotFound)?;
        let flow = sso::load_flow(&gw, &headers, flow_id).await?;
        lang = http::language(&headers, q.lang.as_deref(), Some(flow.request.lang()));
        let methods: Vec<MethodLink> = gw
            .adapters
            .iter()
            .filter(|a| a.max_loa().rank() >= flow.request.requirement.min_rank)
            .map(|a| MethodLink {
                id: a.id().to_owned(),
                name: a.display_name(lang),
                is_test: a.is_test_method(),
            })
            .collect();
        let sp_name = gw
            .registry
            .snapshot()
            .get(&flow.request.sp_entity_id)
            .map(|sp| sp.display_name(lang.code()).to_owned())
            .unwrap_or_else(|| flow.request.sp_entity_id.clone());
        let notice = match q.notice.as_deref() {
            Some("cancelled") => Some(crate::i18n::texts(lang).cancelled_at_method),
            Some("no_certificate") => Some(crate::i18n::texts(lang).no_certificate),
            _ => None,
        };
        Ok::<_, GatewayError>(http::html_page(
            StatusCode::OK,
            ui::selection_page(lang, flow_id, &sp_name, &methods, notice),
        ))
    }
    .await;
    result.unwrap_or_else(|e| e.into_page(lang, gw.rng.as_ref()))
}

pub async fn start_method(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(method): Path<String>,
    Query(q): Query<FlowQuery>,
) -> Response {
    let mut lang = http::language(&headers, q.lang.as_deref(), None);
    let result = async {
        let flow_id = q.flow.as_deref().ok_or(GatewayError::FlowNotFound)?;
        let flow = sso::load_flow(&gw, &headers, flow_id).await?;
        lang = http::language(&headers, q.lang.as_deref(), Some(flow.request.lang()));
        let adapter = gw
            .adapter(&method)
            .filter(|a| a.max_loa().rank() >= flow.request.requirement.min_rank)
            .ok_or_else(|| GatewayError::MethodUnavailable(method.chars().take(40).collect()))?;
        let ctx = StartContext {
            flow_id,
            language: lang,
            requested_loa: flow.request.requirement.as_level(),
            now: gw.clock.now(),
        };
        let action = adapter
            .start(&ctx)
            .map_err(|error| GatewayError::UpstreamFailed {
                method: adapter.id().to_owned(),
                error,
            })?;
        match action {
            StartAction::RenderTestBank(page) => Ok(http::html_page(
                StatusCode::OK,
                ui::testbank_page(lang, &page, None),
            )),
            StartAction::RedirectUpstream {
                url,
                state,
                pending,
            } => {
                sso::attach_upstream(&gw, &headers, flow_id, adapter.id(), &state, pending).await?;
                Ok(http::see_other(url))
            }
            StartAction::Redirect { url } => Ok::<_, GatewayError>(http::see_other(url)),
        }
    }
    .await;
    result.unwrap_or_else(|e| e.into_page(lang, gw.rng.as_ref()))
}

/// The test bank's form post. Input mistakes re-render the form (the flow stays); success
/// consumes the flow exactly once.
pub async fn testbank_finish(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let mut lang = http::language(&headers, None, None);
    let result = async {
        let fields = http::form_body(body)?;
        let flow_id = http::single(&fields, "flow")?
            .ok_or(GatewayError::FlowNotFound)?
            .to_owned();
        let flow = sso::load_flow(&gw, &headers, &flow_id).await?;
        lang = http::language(
            &headers,
            http::single(&fields, "lang")?,
            Some(flow.request.lang()),
        );
        let adapter = gw
            .adapter("testbank")
            .ok_or_else(|| GatewayError::MethodUnavailable("testbank".into()))?;
        let ctx = FinishContext {
            pending: None,
            client_certificates: None,
            flow_id: &flow_id,
            requested_loa: flow.request.requirement.as_level(),
            now: gw.clock.now(),
        };
        let input = CallbackInput::new(fields);
        match adapter.finish(&ctx, &input).await {
            Ok(identity) => {
                if !flow.request.requirement.satisfied_by(identity.loa()) {
                    return Err(GatewayError::Adapter(AdapterError::InvalidField {
                        field: "loa",
                    }));
                }
                let mut flow = sso::take_flow(&gw, &headers, &flow_id).await?;
                flow.request.language = lang.code().to_owned();
                sso::complete_login(&gw, &headers, flow, identity).await
            }
            Err(AdapterError::Cancelled) => Ok(http::see_other(format!(
                "/login?flow={flow_id}&notice=cancelled&lang={}",
                lang.code()
            ))),
            Err(e) => {
                tracing::info!(code = e.code(), "test bank input refused");
                let start = adapter.start(&StartContext {
                    flow_id: &flow_id,
                    language: lang,
                    requested_loa: ctx.requested_loa,
                    now: ctx.now,
                })?;
                let StartAction::RenderTestBank(page) = start else {
                    return Err(GatewayError::Adapter(e));
                };
                Ok(http::html_page(
                    StatusCode::BAD_REQUEST,
                    ui::testbank_page(lang, &page, Some(crate::i18n::form_error(lang, &e))),
                ))
            }
        }
    }
    .await;
    result.unwrap_or_else(|e| e.into_page(lang, gw.rng.as_ref()))
}

/// The citizen gives up: the SP gets AuthnFailed.
pub async fn cancel(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let lang = http::language(&headers, None, None);
    let result = async {
        let fields = http::form_body(body)?;
        let flow_id = http::single(&fields, "flow")?.ok_or(GatewayError::FlowNotFound)?;
        let FlowRecord { mut request, .. } = sso::take_flow(&gw, &headers, flow_id).await?;
        if let Some(l) = http::single(&fields, "lang")?.and_then(idp_adapters::Language::parse) {
            request.language = l.code().to_owned();
        }
        let sp = gw
            .registry
            .snapshot()
            .get(&request.sp_entity_id)
            .ok_or(GatewayError::FlowNotFound)?;
        sso::status_response(
            &gw,
            &sp,
            &request,
            saml::STATUS_RESPONDER,
            Some(saml::STATUS_AUTHN_FAILED),
            gw.clock.now(),
        )
    }
    .await;
    result.unwrap_or_else(|e| e.into_page(lang, gw.rng.as_ref()))
}

/// A bank's answer: `GET /login/bank/{id}/callback?code=..&state=..[&iss=..]` or `?error=..&state=..`.
pub async fn bank_callback(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let method = format!("bank:{}", id.chars().take(40).collect::<String>());
    upstream_callback(gw, headers, method, query.unwrap_or_default()).await
}

/// Back from the certificate listener: `GET /login/idcard/callback?state=..[&error=no_certificate]`.
pub async fn idcard_callback(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let method = idp_adapters::idcard::IDCARD_ID.to_owned();
    upstream_callback(gw, headers, method, query.unwrap_or_default()).await
}

/// Largest callback query accepted (a code, a state, an issuer, an error description).
const MAX_CALLBACK_QUERY: usize = 8 * 1024;

/// The upstream callback, in this order: the state finds its flow once (a replayed state finds
/// nothing), the flow belongs to this browser and to this method, the flow is consumed before
/// the upstream is asked anything, and only then does the adapter verify. A cancel at the
/// upstream keeps the flow and returns the citizen to the method selection.
async fn upstream_callback(
    gw: Arc<Gateway>,
    headers: HeaderMap,
    method: String,
    query: String,
) -> Response {
    let mut lang = http::language(&headers, None, None);
    let result = async {
        if query.len() > MAX_CALLBACK_QUERY {
            return Err(GatewayError::BadForm("callback query"));
        }
        let fields = http::form_fields(query.as_bytes());
        let state = http::single(&fields, "state")?.ok_or(GatewayError::Adapter(
            AdapterError::Upstream {
                code: "state_missing",
            },
        ))?;
        let (flow_id, flow) = sso::flow_for_state(&gw, &headers, state).await?;
        lang = flow.request.lang();
        let upstream = flow.upstream.clone().ok_or(GatewayError::FlowNotFound)?;
        if upstream.method != method {
            return Err(GatewayError::Adapter(AdapterError::FlowMismatch));
        }
        let adapter = gw
            .adapter(&method)
            .ok_or_else(|| GatewayError::MethodUnavailable(method.clone()))?;
        let answered_error = http::single(&fields, "error")?.is_some();
        let flow = if answered_error {
            flow
        } else {
            sso::take_flow(&gw, &headers, &flow_id).await?
        };
        // An error answer never uses a certificate (the capture expires with its TTL).
        let captured = if adapter.uses_client_certificate() && !answered_error {
            crate::idcard::take_capture(&gw, state, http::single(&fields, "capture")?).await?
        } else {
            None
        };
        let ctx = FinishContext {
            flow_id: &flow_id,
            requested_loa: flow.request.requirement.as_level(),
            now: gw.clock.now(),
            pending: Some(&upstream.pending),
            client_certificates: captured.as_deref(),
        };
        let input = CallbackInput::new(fields.clone());
        match adapter.finish(&ctx, &input).await {
            Ok(identity) if !answered_error => {
                if !flow.request.requirement.satisfied_by(identity.loa()) {
                    return Err(GatewayError::Adapter(AdapterError::Upstream {
                        code: "acr_too_low",
                    }));
                }
                sso::complete_login(&gw, &headers, flow, identity).await
            }
            Ok(_) => Err(GatewayError::Adapter(AdapterError::Upstream {
                code: "error_with_identity",
            })),
            // The flow is kept (an upstream's answer, not consumed): another method may be chosen.
            Err(e @ (AdapterError::Cancelled | AdapterError::NoCertificate)) if answered_error => {
                let notice = if e == AdapterError::Cancelled {
                    "cancelled"
                } else {
                    "no_certificate"
                };
                tracing::info!(target: "audit", event = "upstream_cancelled", method = %method, reason = notice);
                let to = format!(
                    "/login?flow={flow_id}&notice={notice}&lang={}",
                    lang.code()
                );
                Ok(http::see_other(to))
            }
            Err(e) => {
                if answered_error {
                    // The upstream refused for another reason: this flow is over.
                    let _ = sso::take_flow(&gw, &headers, &flow_id).await;
                }
                Err(GatewayError::UpstreamFailed {
                    method: method.clone(),
                    error: e,
                })
            }
        }
    }
    .await;
    // Every adapter refusal on this path is a failed login at that upstream.
    let result = result.map_err(|e| match e {
        GatewayError::Adapter(error) => GatewayError::UpstreamFailed {
            method: method.clone(),
            error,
        },
        other => other,
    });
    result.unwrap_or_else(|e| e.into_page(lang, gw.rng.as_ref()))
}
