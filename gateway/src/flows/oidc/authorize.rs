//! The authorization endpoint: the request checked, a code at once from a live session, or a
//! login flow whose end issues it.
use super::*;

/// `GET /oidc/authorize`.
pub async fn authorize(
    idp: &Idp,
    browser: &Browser,
    query: &[(String, String)],
    lang: Language,
) -> Result<Answer, FlowError> {
    let op = provider(idp)?;
    let now = idp.clock.now();
    let client_id = field(query, "client_id")?.ok_or_else(|| untrusted("client_id is missing"))?;
    let client = op
        .client(client_id)
        .ok_or_else(|| untrusted("unknown client_id"))?;
    let redirect_uri =
        field(query, "redirect_uri")?.ok_or_else(|| untrusted("redirect_uri is missing"))?;
    if !client.redirect_uris.iter().any(|u| u == redirect_uri) {
        return Err(untrusted("redirect_uri is not registered for this client"));
    }
    // From here the client and its redirect URI are trusted: errors go back there.
    let state = field(query, "state")?;
    if state.is_some_and(|s| s.len() > 512) {
        return error_redirect(redirect_uri, &op.issuer, "invalid_request", None);
    }
    let fail = |e: &str| error_redirect(redirect_uri, &op.issuer, e, state);
    if field(query, "response_type")? != Some("code") {
        return fail("unsupported_response_type");
    }
    let scope: Vec<String> = field(query, "scope")?
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if !scope.iter().any(|s| s == "openid") {
        return fail("invalid_scope");
    }
    if scope
        .iter()
        .any(|s| !client.scopes.contains(s) && s != "openid")
        || scope.iter().any(|s| !SCOPES.iter().any(|(k, _)| k == s))
    {
        return fail("invalid_scope");
    }
    let challenge = field(query, "code_challenge")?.unwrap_or("");
    if field(query, "code_challenge_method")? != Some("S256")
        || challenge.len() != 43
        || !challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        // PKCE is required, S256 only.
        return fail("invalid_request");
    }
    let nonce = field(query, "nonce")?;
    if nonce.is_some_and(|n| n.len() > 256) {
        return fail("invalid_request");
    }
    let prompt = field(query, "prompt")?.unwrap_or("");
    let prompts: Vec<&str> = prompt.split(' ').filter(|p| !p.is_empty()).collect();
    if prompts.iter().any(|p| !matches!(*p, "none" | "login"))
        || (prompts.contains(&"none") && prompts.len() > 1)
    {
        return fail("invalid_request");
    }
    let max_age = match field(query, "max_age")? {
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => return fail("invalid_request"),
        },
        None => None,
    };
    let lang = field(query, "ui_locales")?
        .and_then(|l| l.split(' ').find_map(Language::parse))
        .unwrap_or(lang);
    let pending = OidcPending {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        state: state.map(str::to_owned),
        nonce: nonce.map(str::to_owned),
        code_challenge: challenge.to_owned(),
        scope,
    };
    let force = prompts.contains(&"login");
    if !force {
        if let Some((sid, session)) = load_session(idp, browser, now).await? {
            let fresh_enough = max_age.is_none_or(|m| {
                session.identity.authn_instant().unix_timestamp() + m >= now.unix_timestamp()
            });
            if fresh_enough {
                return issue_code(idp, &sid, &session, &pending, now).await;
            }
        }
    }
    if prompts.contains(&"none") {
        return fail("login_required");
    }
    let request = super::super::PendingRequest {
        sp_entity_id: format!("{CLIENT_PREFIX}{}", client.client_id),
        request_id: certs::random_id(idp.rng.as_ref())?,
        acs_url: redirect_uri.to_owned(),
        relay_state: None,
        requirement: super::super::LoaRequirement::ANY,
        persistent_name_id: true,
        force_authn: force || max_age == Some(0),
        language: lang.code().to_owned(),
        oidc: Some(pending),
    };
    super::super::session::start_flow(idp, browser, request).await
}

/// Issue a code for the session and send the browser back to the client.
async fn issue_code(
    idp: &Idp,
    browser_sid: &str,
    session: &SsoSession,
    pending: &OidcPending,
    now: OffsetDateTime,
) -> Result<Answer, FlowError> {
    let op = provider(idp)?;
    let sub = pairwise_sub(idp, &pending.client_id, &session.identity);
    let code = certs::random_token(idp.rng.as_ref())?;
    let record = CodeRecord {
        client_id: pending.client_id.clone(),
        redirect_uri: pending.redirect_uri.clone(),
        code_challenge: pending.code_challenge.clone(),
        nonce: pending.nonce.clone(),
        scope: pending.scope.clone(),
        sid: session.session_index.clone(),
        sub: sub.clone(),
        auth_time: session.identity.authn_instant().unix_timestamp(),
        acr: session.identity.loa().uri().to_owned(),
        claims: released_claims(&session.identity, &pending.scope),
        expires_at: (now + op.settings.code_ttl).unix_timestamp(),
    };
    super::super::session::record_participation(
        idp,
        browser_sid,
        &SpParticipation {
            sp_entity_id: format!("{CLIENT_PREFIX}{}", pending.client_id),
            name_id: sub,
            persistent: true,
            issued_at: now.unix_timestamp(),
        },
    )
    .await?;
    idp.store
        .put(
            &code_key(idp, &code),
            serde_json::to_vec(&record)?,
            super::super::to_std(op.settings.code_ttl),
        )
        .await?;
    tracing::info!(target: "audit", event = "oidc_code", client = %pending.client_id);
    let mut url = url::Url::parse(&pending.redirect_uri)
        .map_err(|_| untrusted("redirect_uri does not parse"))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("code", &code);
        if let Some(s) = &pending.state {
            q.append_pair("state", s);
        }
        q.append_pair("iss", &op.issuer);
    }
    Ok(Answer::step(Step::Redirect(url.into())))
}

/// The end of a login flow that an OpenID Connect client started: the code, as for a live
/// session. Called by `complete_login` once the session exists.
pub(in crate::flows) async fn complete(
    idp: &Idp,
    sid: &str,
    session: &SsoSession,
    pending: &OidcPending,
    now: OffsetDateTime,
) -> Result<Answer, FlowError> {
    issue_code(idp, sid, session, pending, now).await
}

/// The citizen cancelled a flow an OpenID Connect client started: `access_denied`.
pub(in crate::flows) fn cancelled(idp: &Idp, pending: &OidcPending) -> Result<Answer, FlowError> {
    let op = provider(idp)?;
    error_redirect(
        &pending.redirect_uri,
        &op.issuer,
        "access_denied",
        pending.state.as_deref(),
    )
}

/// The display name of a client, for the selection page.
pub(in crate::flows) fn client_name(idp: &Idp, sp_entity_id: &str) -> Option<String> {
    let id = sp_entity_id.strip_prefix(CLIENT_PREFIX)?;
    Some(idp.oidc.as_ref()?.client(id)?.name.clone())
}
