//! The citizen's side of a login: the method selection, starting a method, the test bank's
//! form, cancelling, and an upstream's callback.

use super::capture::open_capture;
use super::response::{complete_login, status_response};
use super::session::{
    attach_upstream, claim_state, flow_for_state, load_flow, request_answered, retire_upstream,
};
use super::{
    bounded, single_field, Answer, Browser, FlowError, FlowRecord, Idp, Step, UpstreamFailure,
};
use idp_adapters::{
    AdapterError, CallbackInput, FinishContext, Language, StartAction, StartContext,
};

/// The citizen's language as the request states it, and the one chosen so far. A flow's own
/// language takes over from Accept-Language once the flow is known, never from an explicit
/// choice.
#[derive(Clone, Copy, Debug)]
pub struct LanguageChoice {
    explicit: Option<Language>,
    accepted: Option<Language>,
    pub chosen: Language,
}

impl LanguageChoice {
    pub fn new(explicit: Option<Language>, accepted: Option<Language>) -> Self {
        LanguageChoice {
            explicit,
            accepted,
            chosen: explicit.or(accepted).unwrap_or(Language::Fi),
        }
    }

    fn with_flow(&mut self, flow: Language) -> Language {
        self.chosen = self.explicit.unwrap_or(flow);
        self.chosen
    }

    /// An explicit choice made in the request, else Accept-Language.
    pub fn accepted(&self) -> Option<Language> {
        self.explicit.or(self.accepted)
    }
}

/// What the selection page shows.
#[derive(Debug)]
pub struct SelectionView {
    pub flow_id: String,
    pub lang: Language,
    pub sp_name: String,
    pub methods: Vec<MethodChoice>,
    pub notice: Option<Notice>,
}

#[derive(Debug)]
pub struct MethodChoice {
    pub id: String,
    pub name: String,
    pub is_test: bool,
}

/// Why the citizen is back at the selection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    CancelledAtMethod,
    NoCertificate,
}

impl Notice {
    pub fn parse(s: &str) -> Option<Notice> {
        match s {
            "cancelled" => Some(Notice::CancelledAtMethod),
            "no_certificate" => Some(Notice::NoCertificate),
            _ => None,
        }
    }

    fn as_param(self) -> &'static str {
        match self {
            Notice::CancelledAtMethod => "cancelled",
            Notice::NoCertificate => "no_certificate",
        }
    }
}

/// The methods that can meet this flow's request.
pub async fn method_selection(
    idp: &Idp,
    browser: &Browser,
    flow_id: Option<&str>,
    notice: Option<Notice>,
    lang: &mut LanguageChoice,
) -> Result<SelectionView, FlowError> {
    let flow_id = flow_id.ok_or(FlowError::FlowNotFound)?;
    let flow = load_flow(idp, browser, flow_id)?;
    let l = lang.with_flow(flow.request.lang());
    let methods = idp
        .adapters
        .iter()
        .filter(|a| a.max_loa().rank() >= flow.request.requirement.min_rank)
        .map(|a| MethodChoice {
            id: a.id().to_owned(),
            name: a.display_name(l),
            is_test: a.is_test_method(),
        })
        .collect();
    let sp_name = idp
        .registry
        .snapshot()
        .get(&flow.request.sp_entity_id)
        .map(|sp| sp.display_name(l.code()).to_owned())
        .or_else(|| super::oidc::client_name(idp, &flow.request.sp_entity_id))
        .unwrap_or_else(|| flow.request.sp_entity_id.clone());
    Ok(SelectionView {
        flow_id: flow_id.to_owned(),
        lang: l,
        sp_name,
        methods,
        notice,
    })
}

/// Start `method` for the flow: the test bank's page, or a redirect upstream (the adapter's
/// secrets sealed into the flow's cookie).
pub async fn start_method(
    idp: &Idp,
    browser: &Browser,
    flow_id: Option<&str>,
    method: &str,
    lang: &mut LanguageChoice,
) -> Result<Answer, FlowError> {
    let flow_id = flow_id.ok_or(FlowError::FlowNotFound)?;
    let flow = load_flow(idp, browser, flow_id)?;
    let l = lang.with_flow(flow.request.lang());
    let adapter = idp
        .adapter(method)
        .filter(|a| a.max_loa().rank() >= flow.request.requirement.min_rank)
        .ok_or_else(|| FlowError::MethodUnavailable(bounded(method)))?;
    let ctx = StartContext {
        flow_id,
        language: l,
        requested_loa: flow.request.requirement.as_level(),
        force_authn: flow.request.force_authn,
        now: idp.clock.now(),
    };
    let action = adapter
        .start(&ctx)
        .map_err(|e| FlowError::upstream(adapter.id(), UpstreamFailure::Adapter(e)))?;
    Ok(match action {
        StartAction::RenderTestBank(page) => Answer::step(Step::TestBank {
            page,
            lang: l,
            error: None,
        }),
        StartAction::RedirectUpstream {
            url,
            state,
            pending,
        } => {
            let cookie = attach_upstream(idp, flow_id, flow, adapter.id(), &state, pending)?;
            let mut answer = Answer::step(Step::Redirect(url));
            answer.set_flow = Some(cookie);
            answer
        }
        StartAction::Redirect { url } => Answer::step(Step::Redirect(url)),
    })
}

/// The test bank's form post. Input mistakes show the form again (the flow stays); success
/// issues one assertion for the request, however often the form is sent.
pub async fn finish_test_bank(
    idp: &Idp,
    browser: &Browser,
    fields: Vec<(String, String)>,
    lang: &mut LanguageChoice,
) -> Result<Answer, FlowError> {
    let flow_id = single_field(&fields, "flow")?
        .ok_or(FlowError::FlowNotFound)?
        .to_owned();
    let explicit = single_field(&fields, "lang")?.and_then(Language::parse);
    let mut flow = load_flow(idp, browser, &flow_id)?;
    let l = match explicit {
        Some(l) => {
            lang.chosen = l;
            l
        }
        None => lang.with_flow(flow.request.lang()),
    };
    let adapter = idp
        .adapter("testbank")
        .ok_or_else(|| FlowError::MethodUnavailable("testbank".into()))?;
    let now = idp.clock.now();
    let ctx = FinishContext {
        pending: None,
        client_certificates: None,
        flow_id: &flow_id,
        requested_loa: flow.request.requirement.as_level(),
        now,
    };
    let input = CallbackInput::new(fields.clone());
    match adapter.finish(&ctx, &input).await {
        Ok(identity) => {
            if !flow.request.requirement.satisfied_by(identity.loa()) {
                return Err(FlowError::InvalidInput(AdapterError::InvalidField {
                    field: "loa",
                }));
            }
            flow.request.language = l.code().to_owned();
            complete_login(idp, browser, &flow_id, flow, identity, now)
                .await
                .map_err(|e| e.ending(&flow_id))
        }
        Err(AdapterError::Cancelled) => Ok(Answer::step(Step::Redirect(format!(
            "/login?flow={flow_id}&notice={}&lang={}",
            Notice::CancelledAtMethod.as_param(),
            l.code()
        )))),
        Err(e) => {
            tracing::info!(code = e.code(), "test bank input refused");
            let start = adapter
                .start(&StartContext {
                    flow_id: &flow_id,
                    language: l,
                    requested_loa: ctx.requested_loa,
                    force_authn: flow.request.force_authn,
                    now,
                })
                .map_err(FlowError::InvalidInput)?;
            let StartAction::RenderTestBank(page) = start else {
                return Err(FlowError::InvalidInput(e));
            };
            Ok(Answer::step(Step::TestBank {
                page,
                lang: l,
                error: Some(e),
            }))
        }
    }
}

/// The citizen gives up: the SP gets AuthnFailed, and the browser drops the flow.
pub async fn cancel(
    idp: &Idp,
    browser: &Browser,
    fields: &[(String, String)],
) -> Result<Answer, FlowError> {
    let flow_id = single_field(fields, "flow")?.ok_or(FlowError::FlowNotFound)?;
    let FlowRecord { mut request, .. } = load_flow(idp, browser, flow_id)?;
    // A flow kept in the browser after its request was answered gets no second Response.
    if request_answered(idp, &request.sp_entity_id, &request.request_id).await? {
        return Err(FlowError::Replay.ending(flow_id));
    }
    if let Some(l) = single_field(fields, "lang")?.and_then(Language::parse) {
        request.language = l.code().to_owned();
    }
    if let Some(pending) = &request.oidc {
        return Ok(super::oidc::cancelled(idp, pending)?.ending(flow_id));
    }
    let sp = idp
        .registry
        .snapshot()
        .get(&request.sp_entity_id)
        .ok_or(FlowError::FlowNotFound)?;
    Ok(status_response(
        idp,
        &sp,
        &request,
        saml::STATUS_RESPONDER,
        Some(saml::STATUS_AUTHN_FAILED),
        idp.clock.now(),
    )?
    .ending(flow_id))
}

/// An upstream's answer, as the web layer received it.
pub struct CallbackQuery {
    /// The method the callback URL names (`bank:<id>`, `idcard`).
    pub method: String,
    pub fields: Vec<(String, String)>,
}

/// The upstream callback, in this order: the state finds one of this browser's sealed flows,
/// and its single use is recorded before the upstream is asked anything (a replayed state finds
/// nothing); the flow is for this method; only then does the adapter verify. A cancel at the
/// upstream keeps the flow and returns the citizen to the method selection; any other failure
/// ends the flow (the browser drops it). Every failure here is a failed login at that upstream.
pub async fn upstream_callback(
    idp: &Idp,
    browser: &Browser,
    query: CallbackQuery,
    lang: &mut LanguageChoice,
) -> Result<Answer, FlowError> {
    let method = bounded(&query.method);
    let as_upstream = |e: FlowError| match e {
        FlowError::InvalidInput(error) => {
            FlowError::upstream(&method, UpstreamFailure::Adapter(error))
        }
        other => other,
    };
    callback_steps(idp, browser, &method, query.fields, lang)
        .await
        .map_err(as_upstream)
}

async fn callback_steps(
    idp: &Idp,
    browser: &Browser,
    method: &str,
    fields: Vec<(String, String)>,
    lang: &mut LanguageChoice,
) -> Result<Answer, FlowError> {
    let failed = |f: UpstreamFailure| FlowError::upstream(method, f);
    let state = single_field(&fields, "state")?.ok_or(failed(UpstreamFailure::StateMissing))?;
    let (flow_id, flow) = flow_for_state(idp, browser, state).await?;
    lang.chosen = flow.request.lang();
    let ended = |e: FlowError| e.ending(&flow_id);
    let upstream = flow.upstream.clone().ok_or(FlowError::FlowNotFound)?;
    if upstream.method != method {
        return Err(ended(failed(UpstreamFailure::Adapter(
            AdapterError::FlowMismatch,
        ))));
    }
    let adapter = idp
        .adapter(method)
        .ok_or_else(|| ended(FlowError::MethodUnavailable(method.to_owned())))?;
    let answered_error = single_field(&fields, "error")?.is_some();
    // An error answer never uses a certificate (the capture expires unused).
    let captured = if adapter.uses_client_certificate() && !answered_error {
        open_capture(idp, state, single_field(&fields, "capture")?).map_err(|f| ended(failed(f)))?
    } else {
        None
    };
    let now = idp.clock.now();
    let ctx = FinishContext {
        flow_id: &flow_id,
        requested_loa: flow.request.requirement.as_level(),
        now,
        pending: Some(&upstream.pending),
        client_certificates: captured.as_deref(),
    };
    let input = CallbackInput::new(fields.clone());
    match adapter.finish(&ctx, &input).await {
        Ok(identity) if !answered_error => {
            if !flow.request.requirement.satisfied_by(identity.loa()) {
                return Err(ended(failed(UpstreamFailure::AcrTooLow)));
            }
            // Verified: now, and only now, the state's single use is recorded.
            claim_state(idp, state, &flow, idp.clock.now())
                .await
                .map_err(ended)?;
            complete_login(idp, browser, &flow_id, flow, identity, now)
                .await
                .map_err(ended)
        }
        Ok(_) => Err(ended(failed(UpstreamFailure::ErrorWithIdentity))),
        // The flow is kept (an upstream's answer, not consumed): another method may be chosen.
        Err(e @ (AdapterError::Cancelled | AdapterError::NoCertificate)) if answered_error => {
            let notice = if e == AdapterError::Cancelled {
                Notice::CancelledAtMethod
            } else {
                Notice::NoCertificate
            };
            tracing::info!(target: "audit", event = "upstream_cancelled", method = %method, reason = notice.as_param());
            // The flow goes back to the selection without this attempt: its state no longer
            // finds the flow (the browser's cookie is sealed again without it).
            let mut answer = Answer::step(Step::Redirect(format!(
                "/login?flow={flow_id}&notice={}&lang={}",
                notice.as_param(),
                lang.chosen.code()
            )));
            answer.set_flow = Some(retire_upstream(idp, &flow_id, flow)?);
            Ok(answer)
        }
        // The upstream refused: this flow is over.
        Err(e) => Err(ended(failed(UpstreamFailure::Adapter(e)))),
    }
}
