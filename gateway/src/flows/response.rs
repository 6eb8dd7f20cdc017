//! The answers to an SP: a new SSO session after a verified login, the signed (optionally
//! encrypted) assertion for a session, and signed status Responses; each auto-posted to the ACS.

use super::session::{claim_request, end_session, idle_end, record_participation, save_session};
use super::SpParticipation;
use super::Step;
use super::{Answer, Autopost, Browser, FlowError, FlowRecord, Idp, PendingRequest, SsoSession};
use idp_adapters::VerifiedIdentity;
use metadata::{AttributeId, ServiceProvider};
use time::OffsetDateTime;

/// A verified login: the request's single use is recorded (of flows finishing at once for one
/// request, one goes on), then a new SSO session (fresh ID: no fixation; the browser's old
/// session is ended), then the Response. The browser drops the flow.
pub(super) async fn complete_login(
    idp: &Idp,
    browser: &Browser,
    flow_id: &str,
    flow: FlowRecord,
    identity: VerifiedIdentity,
    now: OffsetDateTime,
) -> Result<Answer, FlowError> {
    let registry = idp.registry.snapshot();
    let sp = match &flow.request.oidc {
        Some(_) => None,
        None => Some(
            registry
                .get(&flow.request.sp_entity_id)
                .ok_or(FlowError::FlowNotFound)?,
        ),
    };
    claim_request(idp, Some(flow.expires_at), &flow.request).await?;
    if let Some(old) = browser.session.as_deref() {
        end_session(idp, old).await?;
    }
    let sid = certs::random_token(idp.rng.as_ref())?;
    let expires_at = (now + idp.settings.sso_session_ttl).unix_timestamp();
    let session = SsoSession {
        session_index: certs::random_id(idp.rng.as_ref())?,
        expires_at,
        idle_until: (now + idp.settings.sso_idle_ttl)
            .unix_timestamp()
            .min(expires_at),
        identity,
    };
    save_session(idp, &sid, &session, now).await?;
    tracing::info!(target: "audit", event = "login", sp = %flow.request.sp_entity_id, method = session.identity.method(),
        loa = session.identity.loa().uri(), subject = %audit_subject(idp, &session.identity));
    let ttl = idp.settings.sso_session_ttl.whole_seconds();
    let mut answer = match (&sp, &flow.request.oidc) {
        (Some(sp), _) => issue_assertion(idp, sp, &flow.request, &sid, &session, now).await?,
        (None, Some(pending)) => super::oidc::complete(idp, &sid, &session, pending, now).await?,
        (None, None) => return Err(FlowError::FlowNotFound),
    };
    answer.set_session = Some((sid, ttl));
    Ok(answer.ending(flow_id))
}

/// Idle ends this close to the last one written are not written again: an SSO hit costs a
/// store write only about once a minute per session (the idle lifetime is minutes long).
const IDLE_REFRESH_SECONDS: i64 = 60;

/// An SSO hit: the request's single use is recorded, the session's idle end moves on, then the
/// Response for the session.
pub(super) async fn respond_success(
    idp: &Idp,
    sp: &ServiceProvider,
    pending: &PendingRequest,
    sid: &str,
    mut session: SsoSession,
    now: OffsetDateTime,
) -> Result<Answer, FlowError> {
    claim_request(idp, None, pending).await?;
    let idle_until = idle_end(idp, &session, now);
    if idle_until - session.idle_until >= IDLE_REFRESH_SECONDS {
        session.idle_until = idle_until;
        save_session(idp, sid, &session, now).await?;
    }
    issue_assertion(idp, sp, pending, sid, &session, now).await
}

/// Build, sign and auto-post the Response for a session, first recording in the session what
/// the SP is given (single logout sends it back).
async fn issue_assertion(
    idp: &Idp,
    sp: &ServiceProvider,
    pending: &PendingRequest,
    sid: &str,
    session: &SsoSession,
    now: OffsetDateTime,
) -> Result<Answer, FlowError> {
    let id = &session.identity;
    let available = released_attributes(id);
    let attributes = sp.release.release(&available);
    let (name_id, format) = if pending.persistent_name_id {
        (
            pairwise_name_id(idp, &sp.entity_id, id),
            saml::NAMEID_PERSISTENT,
        )
    } else {
        (certs::random_id(idp.rng.as_ref())?, saml::NAMEID_TRANSIENT)
    };
    record_participation(
        idp,
        sid,
        &SpParticipation {
            sp_entity_id: sp.entity_id.clone(),
            name_id: name_id.clone(),
            persistent: pending.persistent_name_id,
            issued_at: now.unix_timestamp(),
        },
    )
    .await?;
    let response_id = certs::random_id(idp.rng.as_ref())?;
    let assertion_id = certs::random_id(idp.rng.as_ref())?;
    let authority = authenticating_authority(id.upstream_issuer(), id.method());
    let draft = saml::response::AssertionDraft {
        response_id: &response_id,
        assertion_id: &assertion_id,
        idp_entity_id: &idp.entity_id,
        sp_entity_id: &sp.entity_id,
        acs_url: &pending.acs_url,
        in_response_to: Some(&pending.request_id),
        now,
        lifetime: idp.settings.assertion_lifetime,
        name_id: &name_id,
        name_id_format: format,
        session_index: &session.session_index,
        session_not_on_or_after: OffsetDateTime::from_unix_timestamp(session.expires_at).ok(),
        authn_instant: id.authn_instant(),
        authn_context_class_ref: pending.requirement.class_ref(id.loa()),
        authenticating_authority: Some(&authority),
        attributes: &attributes,
    };
    let signer = idp
        .keys
        .signer_for(sp.preferred_signature_algorithm(&idp.keys.available_algorithms()));
    let signer = saml::response::Signer {
        key: &signer.key,
        cert: &signer.cert,
    };
    let encrypt_to = if sp.encrypt_assertions {
        sp.encryption_certificate()
    } else {
        None
    };
    let xml = match encrypt_to {
        Some(recipient) => saml::response::build_success_encrypted(
            &draft,
            signer,
            sp.want_response_signed,
            recipient,
            idp.rng.as_ref(),
        ),
        None => saml::response::build_success(&draft, signer, sp.want_response_signed),
    }
    .map_err(FlowError::Build)?;
    tracing::info!(target: "audit", event = "assertion", sp = %sp.entity_id, response_id = %response_id,
        attributes = attributes.len(), persistent = pending.persistent_name_id, encrypted = encrypt_to.is_some());
    tracing::trace!(assertion = %xml, "assertion issued");
    Ok(Answer::step(Step::Autopost(autopost(pending, &xml))))
}

/// Who authenticated the citizen, as the anyURI `AuthenticatingAuthority` wants: the upstream's
/// issuer when it is a URI (a bank, the test bank's `urn:gateway:testbank`), else a URN naming
/// the method (the ID card's upstream is a CA's distinguished name).
pub(super) fn authenticating_authority(issuer: &str, method: &str) -> String {
    let is_uri =
        url::Url::parse(issuer).is_ok_and(|u| !u.cannot_be_a_base() || u.scheme() == "urn");
    if is_uri && !issuer.contains(char::is_whitespace) {
        issuer.to_owned()
    } else {
        format!("urn:gateway:method:{method}")
    }
}

/// A signed status Response (no assertion) for a trustworthy request that cannot be satisfied.
pub(super) fn status_response(
    idp: &Idp,
    sp: &ServiceProvider,
    pending: &PendingRequest,
    top: &str,
    second: Option<&str>,
    now: OffsetDateTime,
) -> Result<Answer, FlowError> {
    let response_id = certs::random_id(idp.rng.as_ref())?;
    let signer = idp
        .keys
        .signer_for(sp.preferred_signature_algorithm(&idp.keys.available_algorithms()));
    let xml = saml::response::build_status(
        &saml::response::StatusDraft {
            response_id: &response_id,
            idp_entity_id: &idp.entity_id,
            acs_url: &pending.acs_url,
            in_response_to: Some(&pending.request_id),
            now,
            top_code: top,
            second_code: second,
            message: None,
        },
        saml::response::Signer {
            key: &signer.key,
            cert: &signer.cert,
        },
    )
    .map_err(FlowError::Build)?;
    tracing::info!(target: "audit", event = "status_response", sp = %sp.entity_id, status = top, sub_status = second.unwrap_or(""));
    Ok(Answer::step(Step::Autopost(autopost(pending, &xml))))
}

fn autopost(pending: &PendingRequest, xml: &str) -> Autopost {
    Autopost {
        acs_url: pending.acs_url.clone(),
        field: "SAMLResponse",
        value: saml::binding::encode_post(xml),
        relay_state: pending.relay_state.clone(),
        lang: pending.lang(),
    }
}

/// Everything a login can tell about the citizen, before release policy.
fn released_attributes(id: &VerifiedIdentity) -> Vec<(AttributeId, String)> {
    let mut v = vec![
        (AttributeId::GivenName, id.given_name().to_owned()),
        (AttributeId::Surname, id.family_name().to_owned()),
        (AttributeId::CommonName, id.full_name()),
        (AttributeId::DisplayName, id.display_name().to_owned()),
    ];
    if let Some(n) = id.national_id() {
        v.push((AttributeId::NationalId, n.expose().to_owned()));
    }
    if let Some(satu) = id.electronic_id() {
        v.push((AttributeId::ElectronicId, satu.to_owned()));
    }
    if let Some(d) = id.birth_date() {
        v.push((AttributeId::BirthDate, iso_date(d)));
    }
    v
}

/// Stable, pairwise per SP, and not reversible to the national id without the secret.
fn pairwise_name_id(idp: &Idp, sp_entity_id: &str, id: &VerifiedIdentity) -> String {
    pairwise_id(idp, "nameid", sp_entity_id, id)
}

/// A pairwise identifier for `party` (an SP's NameID, an OpenID Connect client's `sub`): the
/// gateway's keyed hash, under `label`, of the party and the citizen, so stable per party,
/// unlinkable across parties, and not reversible to the national id without the secret.
pub(super) fn pairwise_id(idp: &Idp, label: &str, party: &str, id: &VerifiedIdentity) -> String {
    let subject = id
        .national_id()
        .map(|n| n.expose().to_owned())
        .unwrap_or_else(|| format!("{}\0{}", id.upstream_issuer(), id.upstream_subject()));
    let tag = aws_lc_rs::hmac::sign(
        &idp.pairwise_key,
        format!("{label}\0{party}\0{subject}").as_bytes(),
    );
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref())
}

/// A date as `YYYY-MM-DD` (the SAML dateOfBirth attribute, the OpenID Connect `birthdate`).
pub(super) fn iso_date(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// The audit trail's handle for a citizen: a keyed hash, never the national id.
pub fn audit_subject(idp: &Idp, id: &VerifiedIdentity) -> String {
    let subject = id
        .national_id()
        .map(|n| n.expose().to_owned())
        .unwrap_or_else(|| id.upstream_subject().to_owned());
    let tag = aws_lc_rs::hmac::sign(&idp.pairwise_key, format!("audit\0{subject}").as_bytes());
    hex::encode(&tag.as_ref()[..12])
}
