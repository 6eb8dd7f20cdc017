//! RP-initiated logout and the back-channel logout tokens.
use super::*;

/// `GET /oidc/logout`: RP-initiated logout. With a valid `id_token_hint` of ours naming the
/// browser's session, and a registered `post_logout_redirect_uri`, the session ends (with the
/// single logout propagation) and the browser goes back to the client; without, the citizen is
/// shown the gateway's logout page to confirm.
pub async fn end_session(
    idp: &Idp,
    browser: &Browser,
    query: &[(String, String)],
    lang: Language,
) -> Result<Answer, FlowError> {
    let op = provider(idp)?;
    let now = idp.clock.now();
    let hint = field(query, "id_token_hint")?;
    let post_logout = field(query, "post_logout_redirect_uri")?;
    let state = field(query, "state")?;
    let claims = match hint {
        Some(t) => Some(
            jose::verify_jwt(t, &op.jwks, &[op.signer.alg()], MAX_TOKEN_LEN)
                .map_err(|_| untrusted("id_token_hint is not an ID token of ours"))?
                .claims,
        ),
        None => None,
    };
    let client = match claims.as_ref().and_then(|c| c.get_str("aud")) {
        Some(aud) => Some(
            op.client(aud)
                .ok_or_else(|| untrusted("id_token_hint names an unknown client"))?,
        ),
        None => None,
    };
    let back = match (post_logout, client) {
        (Some(uri), Some(c)) if c.post_logout_redirect_uris.iter().any(|u| u == uri) => {
            let mut url =
                url::Url::parse(uri).map_err(|_| untrusted("post_logout_redirect_uri"))?;
            if let Some(s) = state {
                url.query_pairs_mut().append_pair("state", s);
            }
            Some(url.to_string())
        }
        (Some(_), _) => {
            return Err(untrusted(
                "post_logout_redirect_uri is not registered for the client",
            ))
        }
        (None, _) => None,
    };
    let Some((sid, session)) = load_session(idp, browser, now).await? else {
        let mut a = match back {
            Some(url) => Answer::step(Step::Redirect(url)),
            None => Answer::step(Step::LoggedOut(super::super::LoggedOut {
                lang,
                unconfirmed: Vec::new(),
            })),
        };
        a.clear_session = browser.session.is_some();
        return Ok(a);
    };
    let names_session = claims
        .as_ref()
        .and_then(|c| c.get_str("sid"))
        .is_some_and(|s| s == session.session_index);
    if !names_session {
        // Without proof that the client speaks for this session, the citizen decides.
        return Ok(Answer::step(Step::Redirect(format!(
            "/logout?lang={}",
            lang.code()
        ))));
    }
    tracing::info!(target: "audit", event = "logout", initiator = %client.map(|c| c.client_id.as_str()).unwrap_or(""), via = "oidc");
    let parts = participations(idp, &sid).await?;
    super::super::logout::end_and_propagate_to(idp, &sid, &session, parts, back, lang, now).await
}

/// Back-channel logout tokens for the clients that took part in a session that ended.
pub(in crate::flows) fn notify_clients(
    idp: &Idp,
    session_index: &str,
    parts: &[SpParticipation],
    now: OffsetDateTime,
) {
    let Some(op) = &idp.oidc else { return };
    let Some(notifier) = &op.notifier else { return };
    for p in parts {
        let Some(client) = p
            .sp_entity_id
            .strip_prefix(CLIENT_PREFIX)
            .and_then(|id| op.client(id))
        else {
            continue;
        };
        let Some(uri) = &client.backchannel_logout_uri else {
            continue;
        };
        let Ok(jti) = certs::random_token(idp.rng.as_ref()) else {
            continue;
        };
        let claims = json!({
            "iss": op.issuer,
            "sub": p.name_id,
            "aud": client.client_id,
            "iat": now.unix_timestamp(),
            "exp": (now + Duration::minutes(2)).unix_timestamp(),
            "jti": jti,
            "sid": session_index,
            "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
        });
        let mut header = Map::new();
        header.insert("typ".into(), Value::from("logout+jwt"));
        match serde_json::to_vec(&claims)
            .map_err(|e| e.to_string())
            .and_then(|body| op.signer.sign(header, &body).map_err(|e| e.to_string()))
        {
            Ok(token) => {
                tracing::info!(target: "audit", event = "backchannel_logout", client = %client.client_id);
                notifier.notify(uri.clone(), token);
            }
            Err(e) => tracing::error!(cause = %e, "a logout token could not be signed"),
        }
    }
}

/// Session members that are OpenID Connect clients (told by back channel, never in a frame).
pub(in crate::flows) fn is_client(p: &SpParticipation) -> bool {
    p.sp_entity_id.starts_with(CLIENT_PREFIX)
}
