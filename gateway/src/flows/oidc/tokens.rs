//! The clients' endpoints: client authentication, the code exchanged for tokens, userinfo,
//! introspection and revocation.
use super::*;

/// What the token endpoint received: the form, and the Authorization header's Basic
/// credentials if any.
pub struct TokenRequest<'a> {
    pub fields: &'a [(String, String)],
    pub basic: Option<(String, String)>,
    /// The endpoint's own URL (an assertion's `aud` may name it).
    pub endpoint: &'a str,
}

/// Authenticate the client of a request to the token, introspection or revocation endpoint.
async fn authenticate<'a>(
    idp: &Idp,
    op: &'a OidcProvider,
    req: &TokenRequest<'_>,
    now: OffsetDateTime,
) -> Result<&'a OidcClient, FlowError> {
    let bad = |d| FlowError::Oidc(OidcError::InvalidClient(d));
    let assertion = field(req.fields, "client_assertion")?;
    match (&req.basic, assertion) {
        (Some(_), Some(_)) => Err(bad("more than one client authentication")),
        (Some((id, secret)), None) => {
            let client = op.client(id).ok_or_else(|| bad("unknown client"))?;
            match &client.auth {
                ClientAuth::SecretBasic(expected)
                    if certs::constant_time_eq(expected, secret.as_bytes()) =>
                {
                    Ok(client)
                }
                _ => Err(bad("client authentication failed")),
            }
        }
        (None, Some(jwt)) => {
            if field(req.fields, "client_assertion_type")?
                != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            {
                return Err(bad("client_assertion_type"));
            }
            // The client is named in the assertion; its keys are ours to choose from.
            let unverified_iss = unverified_claim(jwt, "iss").ok_or_else(|| bad("assertion"))?;
            let client = op
                .client(&unverified_iss)
                .ok_or_else(|| bad("unknown client"))?;
            let ClientAuth::PrivateKeyJwt(keys) = &client.auth else {
                return Err(bad("this client authenticates with a secret"));
            };
            let v = jose::verify_jwt(jwt, keys, &JwsAlg::ALL, MAX_TOKEN_LEN)
                .map_err(|_| bad("client assertion refused"))?;
            let c = &v.claims;
            let ok_parties = c.get_str("iss") == Some(client.client_id.as_str())
                && c.get_str("sub") == Some(client.client_id.as_str())
                && (c.aud_contains(req.endpoint) || c.aud_contains(&op.issuer));
            if !ok_parties {
                return Err(bad("client assertion iss, sub or aud"));
            }
            c.check_time(now, Duration::seconds(30))
                .map_err(|_| bad("client assertion expired or not yet valid"))?;
            let exp = c
                .get_time("exp")
                .ok()
                .flatten()
                .ok_or_else(|| bad("client assertion without exp"))?;
            if exp > now + Duration::minutes(10) {
                return Err(bad("client assertion lives too long"));
            }
            let jti = c
                .get_str("jti")
                .ok_or_else(|| bad("client assertion without jti"))?;
            let marker = super::super::sha256(&[
                b"client-assertion\0",
                client.client_id.as_bytes(),
                b"\0",
                jti.as_bytes(),
            ]);
            let ttl = (exp - now).max(Duration::seconds(1)) + Duration::seconds(30);
            if !idp
                .single_use
                .claim(&marker, super::super::to_std(ttl))
                .await?
            {
                return Err(bad("client assertion replayed"));
            }
            Ok(client)
        }
        (None, None) => Err(bad("no client authentication")),
    }
}

/// One claim of a JWT read before its signature is checked, only to choose the keys to check it
/// with (a client's assertion names its client).
fn unverified_claim(jwt: &str, name: &str) -> Option<String> {
    if jwt.len() > MAX_TOKEN_LEN {
        return None;
    }
    let payload = jwt.split('.').nth(1)?;
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.get(name)?.as_str().map(str::to_owned)
}

/// `POST /oidc/token`: a code for tokens.
pub async fn token(idp: &Idp, req: &TokenRequest<'_>) -> Result<Value, FlowError> {
    let op = provider(idp)?;
    let now = idp.clock.now();
    let client = authenticate(idp, op, req, now).await?;
    let grant = |d| FlowError::Oidc(OidcError::InvalidGrant(d));
    if field(req.fields, "grant_type")? != Some("authorization_code") {
        return Err(FlowError::Oidc(OidcError::UnsupportedGrantType));
    }
    let code = field(req.fields, "code")?.ok_or_else(|| grant("code is missing"))?;
    if code.len() != TOKEN_LEN {
        return Err(grant("unknown code"));
    }
    let Some(raw) = idp.store.take(&code_key(idp, code)).await? else {
        // A code used before: the token issued for it is revoked (RFC 6749 4.1.2), since either
        // the client or an attacker holding the code is not who the first exchange was for.
        if let Some(jti) = idp.store.take(&used_code_key(idp, code)).await? {
            let jti = String::from_utf8_lossy(&jti).into_owned();
            idp.store.delete(&token_key(idp, &jti)).await?;
            tracing::warn!(target: "audit", event = "oidc_code_replay", client = %client.client_id,
                "an authorization code was presented again: the token issued for it is revoked");
        }
        return Err(grant("unknown, used or expired code"));
    };
    let record: CodeRecord = serde_json::from_slice(&raw)?;
    if record.expires_at <= now.unix_timestamp() {
        return Err(grant("expired code"));
    }
    if record.client_id != client.client_id {
        return Err(grant("the code was issued to another client"));
    }
    if field(req.fields, "redirect_uri")? != Some(record.redirect_uri.as_str()) {
        return Err(grant(
            "redirect_uri differs from the authorization request's",
        ));
    }
    let verifier =
        field(req.fields, "code_verifier")?.ok_or_else(|| grant("code_verifier is missing"))?;
    if !(43..=128).contains(&verifier.len()) {
        return Err(grant("code_verifier length"));
    }
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    use base64::Engine;
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
    if !certs::constant_time_eq(computed.as_bytes(), record.code_challenge.as_bytes()) {
        return Err(grant("code_verifier does not match the challenge"));
    }
    if idp.single_use.contains(&ended_marker(&record.sid)).await? {
        return Err(grant("the session has ended"));
    }
    let jti = certs::random_token(idp.rng.as_ref())?;
    let access_exp = now + op.settings.access_token_ttl;
    let mut at = Map::new();
    at.insert("iss".into(), Value::from(op.issuer.as_str()));
    at.insert("sub".into(), Value::from(record.sub.as_str()));
    at.insert("aud".into(), Value::from(client.client_id.as_str()));
    at.insert("client_id".into(), Value::from(client.client_id.as_str()));
    at.insert("iat".into(), Value::from(now.unix_timestamp()));
    at.insert("exp".into(), Value::from(access_exp.unix_timestamp()));
    at.insert("jti".into(), Value::from(jti.as_str()));
    at.insert("scope".into(), Value::from(record.scope.join(" ")));
    at.insert("sid".into(), Value::from(record.sid.as_str()));
    let mut at_header = Map::new();
    at_header.insert("typ".into(), Value::from("at+jwt"));
    let access_token = op
        .signer
        .sign(at_header, &serde_json::to_vec(&at)?)
        .map_err(|e| FlowError::Oidc(oidc_internal(e)))?;
    idp.store
        .put(
            &token_key(idp, &jti),
            serde_json::to_vec(&TokenRecord {
                client_id: client.client_id.clone(),
                sid: record.sid.clone(),
                sub: record.sub.clone(),
                scope: record.scope.clone(),
                claims: record.claims.clone(),
                expires_at: access_exp.unix_timestamp(),
            })?,
            super::super::to_std(op.settings.access_token_ttl),
        )
        .await?;
    idp.store
        .put(
            &used_code_key(idp, code),
            jti.clone().into_bytes(),
            super::super::to_std(op.settings.access_token_ttl),
        )
        .await?;
    let mut id = Map::new();
    id.insert("iss".into(), Value::from(op.issuer.as_str()));
    id.insert("sub".into(), Value::from(record.sub.as_str()));
    id.insert("aud".into(), Value::from(client.client_id.as_str()));
    id.insert("iat".into(), Value::from(now.unix_timestamp()));
    id.insert(
        "exp".into(),
        Value::from((now + op.settings.id_token_ttl).unix_timestamp()),
    );
    id.insert("auth_time".into(), Value::from(record.auth_time));
    id.insert("acr".into(), Value::from(record.acr.as_str()));
    id.insert("sid".into(), Value::from(record.sid.as_str()));
    if let Some(n) = &record.nonce {
        id.insert("nonce".into(), Value::from(n.as_str()));
    }
    for (k, v) in &record.claims {
        id.insert(k.clone(), v.clone());
    }
    let id_token = op
        .signer
        .sign(Map::new(), &serde_json::to_vec(&id)?)
        .map_err(|e| FlowError::Oidc(oidc_internal(e)))?;
    tracing::info!(target: "audit", event = "oidc_tokens", client = %client.client_id);
    Ok(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": op.settings.access_token_ttl.whole_seconds(),
        "id_token": id_token,
        "scope": record.scope.join(" "),
    }))
}

fn oidc_internal(e: jose::JoseError) -> OidcError {
    tracing::error!(cause = %e, "signing a token failed");
    OidcError::InvalidRequest("the token could not be signed")
}

/// A presented access token: our signature, not expired, its record still there (not revoked),
/// its session not ended.
async fn check_access_token(
    idp: &Idp,
    op: &OidcProvider,
    token: &str,
    now: OffsetDateTime,
) -> Result<(Claims, TokenRecord), OidcError> {
    let bad = OidcError::InvalidToken;
    let v = jose::verify_jwt(token, &op.jwks, &[op.signer.alg()], MAX_TOKEN_LEN)
        .map_err(|_| bad("not a token of ours"))?;
    if v.header.typ.as_deref() != Some("at+jwt") {
        return Err(bad("not an access token"));
    }
    let c = v.claims;
    if c.get_str("iss") != Some(op.issuer.as_str()) {
        return Err(bad("issuer"));
    }
    c.check_time(now, Duration::ZERO)
        .map_err(|_| bad("expired"))?;
    let jti = c.get_str("jti").ok_or(bad("no jti"))?;
    let raw = idp
        .store
        .get(&token_key(idp, jti))
        .await
        .map_err(|_| bad("token state unavailable"))?
        .ok_or(bad("revoked or unknown"))?;
    let record: TokenRecord = serde_json::from_slice(&raw).map_err(|_| bad("token record"))?;
    if idp
        .single_use
        .contains(&ended_marker(&record.sid))
        .await
        .map_err(|_| bad("session state unavailable"))?
    {
        return Err(bad("the session has ended"));
    }
    Ok((c, record))
}

/// `GET/POST /oidc/userinfo` with a Bearer access token.
pub async fn userinfo(idp: &Idp, bearer: Option<&str>) -> Result<Value, FlowError> {
    let op = provider(idp)?;
    let token = bearer.ok_or(FlowError::Oidc(OidcError::InvalidToken("no bearer token")))?;
    let (_, record) = check_access_token(idp, op, token, idp.clock.now())
        .await
        .map_err(FlowError::Oidc)?;
    let mut out = record.claims.clone();
    out.insert("sub".into(), Value::from(record.sub));
    Ok(Value::Object(out))
}

/// `POST /oidc/introspect` (RFC 7662): `{"active": false}` for anything not a live token of
/// ours; the caller must be a registered client.
pub async fn introspect(idp: &Idp, req: &TokenRequest<'_>) -> Result<Value, FlowError> {
    let op = provider(idp)?;
    let now = idp.clock.now();
    let client = authenticate(idp, op, req, now).await?;
    let Some(token) = field(req.fields, "token")? else {
        return Err(FlowError::Oidc(OidcError::InvalidRequest(
            "token is missing",
        )));
    };
    match check_access_token(idp, op, token, now).await {
        Ok((claims, record)) => {
            tracing::debug!(client = %client.client_id, "token introspected: active");
            Ok(json!({
                "active": true,
                "client_id": record.client_id,
                "sub": record.sub,
                "scope": record.scope.join(" "),
                "exp": claims.get_i64("exp"),
                "iat": claims.get_i64("iat"),
                "iss": op.issuer,
                "token_type": "Bearer",
                "sid": record.sid,
            }))
        }
        Err(e) => {
            tracing::debug!(client = %client.client_id, reason = %e, "token introspected: inactive");
            Ok(json!({ "active": false }))
        }
    }
}

/// `POST /oidc/revoke` (RFC 7009): the client's own access token stops working. Unknown tokens
/// are answered the same (200), as the RFC asks.
pub async fn revoke(idp: &Idp, req: &TokenRequest<'_>) -> Result<(), FlowError> {
    let op = provider(idp)?;
    let now = idp.clock.now();
    let client = authenticate(idp, op, req, now).await?;
    let Some(token) = field(req.fields, "token")? else {
        return Err(FlowError::Oidc(OidcError::InvalidRequest(
            "token is missing",
        )));
    };
    if let Ok((claims, record)) = check_access_token(idp, op, token, now).await {
        if record.client_id == client.client_id {
            if let Some(jti) = claims.get_str("jti") {
                idp.store.delete(&token_key(idp, jti)).await?;
                tracing::info!(target: "audit", event = "oidc_revoke", client = %client.client_id);
            }
        }
    }
    Ok(())
}
