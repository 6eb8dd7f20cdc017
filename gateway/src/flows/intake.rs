//! SAML intake at the SSO endpoint: decode the binding, check the request against the SP's
//! metadata, refuse an ID already answered, then answer from the SSO session, with a status, or
//! by starting a login flow sealed in the browser. Nothing is stored for an anonymous request.

use super::response::{respond_success, status_response};
use super::session::{load_session, request_answered, start_flow};
use super::{
    bounded, requirement_of, single_field, Answer, Browser, FlowError, Idp, LoaRequirement,
    PendingRequest,
};
use idp_adapters::Language;
use metadata::ServiceProvider;
use saml::authn_request::{self, IntakePolicy, RequestBinding, RequesterTrust};
use saml::binding::{self, BindingLimits, MessageParam};
use std::sync::Arc;

/// An AuthnRequest as it arrived.
pub enum IncomingRequest<'a> {
    /// HTTP-Redirect: the raw query string, as received (the signature covers its octets).
    Redirect { raw_query: &'a str },
    /// HTTP-POST: the form's fields.
    Post { fields: &'a [(String, String)] },
}

const STATUS_INVALID_NAMEID_POLICY: &str = "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy";

/// Take an AuthnRequest. Until the request is trusted (issuer known, signature as the metadata
/// demands, ACS from metadata, fresh, not replayed) every failure is an error for the citizen's
/// page, never a Response; after that, failures are SAML statuses sent to the ACS.
pub async fn receive_authn_request(
    idp: &Idp,
    browser: &Browser,
    incoming: IncomingRequest<'_>,
    lang: Language,
) -> Result<Answer, FlowError> {
    let now = idp.clock.now();
    let limits = BindingLimits::default();
    let Decoded {
        xml,
        binding,
        redirect_sig,
        relay_state,
    } = decode(&incoming, MessageParam::SamlRequest, &limits)?;

    let registry = idp.registry.snapshot();
    let policy = IntakePolicy {
        sso_url: &idp.sso_url,
        now,
        max_clock_skew: idp.settings.clock_skew,
        max_age: idp.settings.max_request_age,
    };
    let require_all = idp.settings.require_signed_requests;
    let (trust, req) = authn_request::intake(
        &xml,
        binding,
        redirect_sig.as_ref(),
        |issuer| registry.get(issuer).map(|sp| SpTrust { sp, require_all }),
        &policy,
    )?;
    let sp = trust.sp;
    let acs = sp.resolve_acs(
        req.acs_url.as_deref(),
        req.acs_index,
        req.protocol_binding.as_deref(),
    )?;
    // An ID already answered with an assertion is refused here. Nothing is written: the
    // request's single use is recorded when an assertion is about to be issued for it.
    if request_answered(idp, &sp.entity_id, &req.id).await? {
        return Err(FlowError::Replay);
    }
    tracing::info!(target: "audit", event = "authn_request", sp = %bounded(&sp.entity_id), request_id = %bounded(&req.id),
        signed = req.signed, force_authn = req.force_authn, is_passive = req.is_passive,
        relay_state_bytes = relay_state.as_ref().map_or(0, String::len));

    // From here the request is trustworthy and the ACS is known: failures are SAML statuses.
    let mut pending = PendingRequest {
        sp_entity_id: sp.entity_id.clone(),
        request_id: req.id.clone(),
        acs_url: acs.location.clone(),
        relay_state,
        requirement: LoaRequirement::ANY,
        persistent_name_id: false,
        force_authn: req.force_authn,
        language: lang.code().to_owned(),
        oidc: None,
    };
    let status =
        |top: &str, second: &str| status_response(idp, &sp, &pending, top, Some(second), now);
    if req.names_subject {
        return status(saml::STATUS_RESPONDER, saml::STATUS_REQUEST_UNSUPPORTED);
    }
    let persistent = match req.name_id_format.as_deref() {
        None | Some(saml::NAMEID_TRANSIENT) | Some(saml::NAMEID_UNSPECIFIED) => false,
        Some(saml::NAMEID_PERSISTENT) => true,
        Some(_) => return status(saml::STATUS_REQUESTER, STATUS_INVALID_NAMEID_POLICY),
    };
    let Some(requirement) = requirement_of(&req) else {
        return status(saml::STATUS_REQUESTER, saml::STATUS_NO_AUTHN_CONTEXT);
    };
    if !idp
        .adapters
        .iter()
        .any(|a| a.max_loa().rank() >= requirement.min_rank)
    {
        return status(saml::STATUS_RESPONDER, saml::STATUS_NO_AUTHN_CONTEXT);
    }
    pending.persistent_name_id = persistent;
    pending.requirement = requirement;

    if !req.force_authn {
        if let Some((sid, session)) = load_session(idp, browser, now).await? {
            if pending.requirement.satisfied_by(session.identity.loa()) {
                return respond_success(idp, &sp, &pending, &sid, session, now).await;
            }
        }
    }
    if req.is_passive {
        return status_response(
            idp,
            &sp,
            &pending,
            saml::STATUS_RESPONDER,
            Some(saml::STATUS_NO_PASSIVE),
            now,
        );
    }
    start_flow(idp, browser, pending).await
}

/// A message as the binding delivered it, decoded but not yet trusted.
pub(super) struct Decoded {
    pub xml: String,
    pub binding: RequestBinding,
    pub redirect_sig: Option<binding::RedirectSignature>,
    pub relay_state: Option<String>,
}

/// Decode a SAML message (`param`) from either binding, within `limits`.
pub(super) fn decode(
    incoming: &IncomingRequest<'_>,
    param: MessageParam,
    limits: &BindingLimits,
) -> Result<Decoded, FlowError> {
    match incoming {
        IncomingRequest::Redirect { raw_query } => {
            let msg =
                binding::decode_redirect(raw_query, param, limits).map_err(FlowError::Binding)?;
            Ok(Decoded {
                xml: msg.xml,
                binding: RequestBinding::Redirect,
                redirect_sig: msg.signature,
                relay_state: msg.relay_state,
            })
        }
        IncomingRequest::Post { fields } => {
            let name = param.name();
            let encoded = single_field(fields, name)?.ok_or(FlowError::BadForm(name))?;
            let relay_state = single_field(fields, "RelayState")?.map(str::to_owned);
            if relay_state
                .as_ref()
                .is_some_and(|r| r.len() > limits.max_relay_state)
            {
                return Err(FlowError::Binding(saml::SamlError::TooLarge {
                    what: "RelayState",
                    limit: limits.max_relay_state,
                }));
            }
            let xml = binding::decode_post(encoded, limits).map_err(FlowError::Binding)?;
            Ok(Decoded {
                xml,
                binding: RequestBinding::Post,
                redirect_sig: None,
                relay_state,
            })
        }
    }
}

/// An SP's keys and signing policy, for the SAML intake.
pub(super) struct SpTrust {
    pub sp: Arc<ServiceProvider>,
    pub require_all: bool,
}

impl RequesterTrust for SpTrust {
    fn signing_certificates(&self) -> &[certs::Certificate] {
        &self.sp.signing_certificates
    }
    fn requires_signed_requests(&self) -> bool {
        self.require_all || self.sp.authn_requests_signed
    }
}
