//! The incoming half, as pure functions: the token response, the JWE -> JWS unwrapping, the ID
//! token claim checks (design §4.3 steps 6-9), userinfo, and the mapping to a `VerifiedIdentity`.

use jose::{
    decrypt_jwe_with_header, is_jwe, parse_claims, verify_jwt, Claims, JoseError, JwkSet, JwsAlg,
};
use serde_json::Value;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{Date, Duration, OffsetDateTime};

use crate::ftn::config::FtnBankConfig;
use crate::ftn::error::FtnError;
use crate::ftn::http::HttpResponse;
use crate::ftn::provider::content_type_is;
use crate::ftn::RpKeys;
use crate::hetu::PersonalIdentityCode;
use crate::identity::{IdentityParts, NationalId, VerifiedIdentity};
use crate::loa::LevelOfAssurance;

/// Largest token or userinfo response body accepted.
pub(crate) const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// Largest compact JWE or JWS accepted.
pub(crate) const MAX_JWT_BYTES: usize = 32 * 1024;
/// An ID token issued longer ago than this (plus the skew) is refused.
pub(crate) const MAX_IAT_AGE: Duration = Duration::minutes(10);
/// Longest `sub` accepted (OIDC Core §2: at most 255 ASCII characters).
const MAX_SUB: usize = 255;
/// Longest name accepted, in characters.
const MAX_NAME_CHARS: usize = 200;

pub(crate) const LOA_TEST2: &str = "http://ftn.ficora.fi/2017/loatest2";
pub(crate) const LOA_TEST3: &str = "http://ftn.ficora.fi/2017/loatest3";

/// The tokens from a successful token response. No `Debug`: both are bearer secrets.
pub(crate) struct TokenResponse {
    pub(crate) id_token: String,
    pub(crate) access_token: Option<String>,
}

pub(crate) fn parse_token_response(response: &HttpResponse) -> Result<TokenResponse, FtnError> {
    if response.status != 200 {
        return Err(FtnError::TokenHttp(format!("status {}", response.status)));
    }
    if response.body.len() > MAX_RESPONSE_BYTES {
        return Err(FtnError::TokenResponse("body too large"));
    }
    if !content_type_is(response.content_type.as_deref(), "application/json") {
        return Err(FtnError::TokenResponse(
            "content type is not application/json",
        ));
    }
    let body =
        parse_claims(&response.body).map_err(|_| FtnError::TokenResponse("not a JSON object"))?;
    match body.get_str("token_type") {
        Some(t) if t.eq_ignore_ascii_case("bearer") => {}
        _ => return Err(FtnError::TokenResponse("token_type is not Bearer")),
    }
    let id_token = match body.get_str("id_token") {
        Some(t) if !t.is_empty() && t.len() <= MAX_JWT_BYTES => t.to_owned(),
        Some(t) if !t.is_empty() => return Err(FtnError::TokenResponse("id_token too large")),
        _ => return Err(FtnError::TokenResponse("id_token missing")),
    };
    let access_token = match body.get("access_token") {
        None => None,
        Some(Value::String(t)) if !t.is_empty() && t.len() <= MAX_JWT_BYTES => Some(t.clone()),
        Some(_) => return Err(FtnError::TokenResponse("access_token malformed")),
    };
    Ok(TokenResponse {
        id_token,
        access_token,
    })
}

/// Step 7: the nested JWS inside a JWE (or the token itself when encryption is optional and it
/// is a plain JWS).
pub(crate) fn unwrap_jwe(
    raw: &str,
    cfg: &FtnBankConfig,
    rp: &RpKeys,
    require_encrypted: bool,
) -> Result<String, FtnError> {
    if !is_jwe(raw) {
        if require_encrypted {
            return Err(FtnError::IdTokenNotEncrypted);
        }
        return Ok(raw.to_owned());
    }
    let decrypted = decrypt_jwe_with_header(
        raw,
        &rp.decryption,
        &cfg.id_token_encryption_algs,
        &cfg.id_token_encryption_encs,
        MAX_JWT_BYTES,
    )
    .map_err(|e| match e {
        JoseError::DecryptionFailed => FtnError::JweDecrypt,
        JoseError::AlgorithmNotAllowed(_) => FtnError::JweRefused("algorithm not allowed"),
        JoseError::UnknownKid | JoseError::NoSuitableKey => {
            FtnError::JweRefused("no decryption key for the kid")
        }
        JoseError::TooLarge => FtnError::JweRefused("too large"),
        _ => FtnError::JweRefused("malformed"),
    })?;
    if let Some(cty) = &decrypted.header.cty {
        if !cty.eq_ignore_ascii_case("JWT") {
            return Err(FtnError::JweRefused("cty is not JWT"));
        }
    }
    let inner = String::from_utf8(decrypted.plaintext)
        .map_err(|_| FtnError::JwsRefused("nested token is not text"))?;
    if is_jwe(&inner) {
        return Err(FtnError::JwsRefused("nested token is not a JWS"));
    }
    Ok(inner)
}

/// Step 8: the signature, with a key from the bank's set only, by `jose::verify_jwt`: jose's checks
/// in front (header, `alg` allowlist, `crit`, `jwk`, key by `kid`), then `jsonwebtoken::decode`.
/// `UnknownKid` is returned as such so the caller may refetch the set once. The claims are judged
/// by [`check_id_token`] / [`check_userinfo`] against the `now` the gateway read.
pub(crate) fn verify_signed(
    compact: &str,
    keys: &JwkSet,
    allowed: &[JwsAlg],
) -> Result<Claims, FtnError> {
    let verified = verify_jwt(compact, keys, allowed, MAX_JWT_BYTES).map_err(|e| match e {
        JoseError::AlgorithmNotAllowed(_) => FtnError::JwsAlgRefused,
        JoseError::UnknownKid => FtnError::UnknownKid,
        JoseError::BadSignature => FtnError::BadSignature,
        JoseError::NoSuitableKey => FtnError::JwsRefused("no bank key fits the algorithm"),
        JoseError::EmbeddedKey => FtnError::JwsRefused("embedded jwk"),
        JoseError::CriticalHeader => FtnError::JwsRefused("crit"),
        JoseError::UnsupportedHeader(_) => FtnError::JwsRefused("unsupported header"),
        JoseError::TooLarge => FtnError::JwsRefused("too large"),
        _ => FtnError::JwsRefused("malformed"),
    })?;
    Ok(verified.claims)
}

/// The level an `acr` URI stands for; the test levels only for a test bank.
pub(crate) fn loa_from_acr(acr: &str, test_environment: bool) -> Option<LevelOfAssurance> {
    match acr {
        LOA_TEST2 if test_environment => Some(LevelOfAssurance::FtnSubstantial),
        LOA_TEST3 if test_environment => Some(LevelOfAssurance::FtnHigh),
        _ => LevelOfAssurance::from_uri(acr).filter(|loa| {
            matches!(
                loa,
                LevelOfAssurance::FtnSubstantial | LevelOfAssurance::FtnHigh
            )
        }),
    }
}

fn time_claim(claims: &Claims, name: &'static str) -> Result<Option<OffsetDateTime>, FtnError> {
    claims
        .get_time(name)
        .map_err(|_| FtnError::ClaimsInvalid(name))
}

/// What the ID token checks established.
pub(crate) struct IdTokenFacts {
    pub(crate) sub: String,
    pub(crate) loa: LevelOfAssurance,
}

/// Step 9, in order: iss, aud, azp, exp, iat, nonce, acr, sub.
pub(crate) fn check_id_token(
    claims: &Claims,
    cfg: &FtnBankConfig,
    nonce: &str,
    required: Option<LevelOfAssurance>,
    now: OffsetDateTime,
) -> Result<IdTokenFacts, FtnError> {
    let skew = cfg.clock_skew;
    if claims.get_str("iss") != Some(cfg.issuer.as_str()) {
        return Err(FtnError::ClaimsIss);
    }
    let audiences = claims.audiences().map_err(|_| FtnError::ClaimsAud)?;
    if !audiences.contains(&cfg.client_id.as_str()) {
        return Err(FtnError::ClaimsAud);
    }
    match claims.get("azp") {
        Some(azp) if azp.as_str() != Some(cfg.client_id.as_str()) => {
            return Err(FtnError::ClaimsAzp)
        }
        None if audiences.len() > 1 => return Err(FtnError::ClaimsAzp),
        _ => {}
    }
    let exp = time_claim(claims, "exp")?.ok_or(FtnError::ClaimsInvalid("exp"))?;
    if exp <= now - skew {
        return Err(FtnError::Expired);
    }
    let iat = time_claim(claims, "iat")?.ok_or(FtnError::ClaimsInvalid("iat"))?;
    if iat > now + skew || iat < now - MAX_IAT_AGE - skew {
        return Err(FtnError::Iat);
    }
    if let Some(nbf) = time_claim(claims, "nbf")? {
        if nbf > now + skew {
            return Err(FtnError::Iat);
        }
    }
    match claims.get_str("nonce") {
        Some(got) if certs::constant_time_eq(got.as_bytes(), nonce.as_bytes()) => {}
        _ => return Err(FtnError::NonceMismatch),
    }
    let loa = claims
        .get_str("acr")
        .and_then(|acr| loa_from_acr(acr, cfg.test_environment))
        .ok_or(FtnError::AcrUnknown)?;
    if let Some(required) = required {
        if !loa.satisfies(required) {
            return Err(FtnError::AcrTooLow);
        }
    }
    let sub = claims.get_str("sub").unwrap_or_default();
    if sub.is_empty() || sub.len() > MAX_SUB || sub.chars().any(char::is_control) {
        return Err(FtnError::ClaimsInvalid("sub"));
    }
    Ok(IdTokenFacts {
        sub: sub.to_owned(),
        loa,
    })
}

/// Step 10: a userinfo answer, JSON or a JWT (already unwrapped from a JWE and verified by the
/// caller when it was one). Returns the claims once `sub` matches the ID token's.
pub(crate) fn check_userinfo(
    claims: Claims,
    cfg: &FtnBankConfig,
    id_token_sub: &str,
    signed: bool,
) -> Result<Claims, FtnError> {
    if signed {
        // OIDC Core §5.3.2: a signed answer should carry iss and aud; when it does, they must fit.
        if claims.get("iss").is_some() && claims.get_str("iss") != Some(cfg.issuer.as_str()) {
            return Err(FtnError::ClaimsIss);
        }
        if claims.get("aud").is_some() && !claims.aud_contains(&cfg.client_id) {
            return Err(FtnError::ClaimsAud);
        }
    }
    match claims.get_str("sub") {
        Some(sub) if sub == id_token_sub => {}
        _ => return Err(FtnError::UserinfoSubMismatch),
    }
    if signed {
        return Ok(claims);
    }
    // Plain JSON is not signed by the bank: it may not supply the national id.
    let mut map = claims.into_map();
    map.remove(&cfg.claims.national_id);
    Ok(Claims::new(map))
}

/// How a userinfo body is to be read.
pub(crate) enum UserinfoBody {
    Json(Claims),
    Jwt(String),
}

pub(crate) fn parse_userinfo_response(response: &HttpResponse) -> Result<UserinfoBody, FtnError> {
    if response.status != 200 {
        return Err(FtnError::UserinfoHttp(format!(
            "status {}",
            response.status
        )));
    }
    if response.body.len() > MAX_RESPONSE_BYTES {
        return Err(FtnError::UserinfoResponse("body too large"));
    }
    let content_type = response.content_type.as_deref();
    if content_type_is(content_type, "application/json") {
        return parse_claims(&response.body)
            .map(UserinfoBody::Json)
            .map_err(|_| FtnError::UserinfoResponse("not a JSON object"));
    }
    if content_type_is(content_type, "application/jwt") {
        let text = std::str::from_utf8(&response.body)
            .map_err(|_| FtnError::UserinfoResponse("not text"))?;
        return Ok(UserinfoBody::Jwt(text.trim().to_owned()));
    }
    Err(FtnError::UserinfoResponse(
        "content type is neither application/json nor application/jwt",
    ))
}

const DATE_FORMAT: &[BorrowedFormatItem<'static>] = format_description!("[year]-[month]-[day]");

/// Step 11: FTN claims (ID token first, userinfo only for what it lacks) to a verified identity.
/// A code of the test series is refused when `refuse_test_series` (the operator's choice).
pub(crate) fn map_identity(
    cfg: &FtnBankConfig,
    id_token: &Claims,
    userinfo: Option<&Claims>,
    facts: IdTokenFacts,
    refuse_test_series: bool,
    now: OffsetDateTime,
) -> Result<VerifiedIdentity, FtnError> {
    let get = |name: &str| -> Option<&Value> {
        id_token
            .get(name)
            .or_else(|| userinfo.and_then(|u| u.get(name)))
    };
    let names = &cfg.claims;

    let code = match get(&names.national_id) {
        None => return Err(FtnError::NationalIdMissing),
        Some(Value::String(s)) => PersonalIdentityCode::parse(s).map_err(FtnError::NationalId)?,
        Some(_) => return Err(FtnError::NationalIdMissing),
    };
    if refuse_test_series && code.is_test_series() {
        return Err(FtnError::TestIdentityCode);
    }
    if let Some(value) = get(&names.birth_date) {
        let birth_date = value
            .as_str()
            .and_then(|s| Date::parse(s, DATE_FORMAT).ok())
            .ok_or(FtnError::BirthdateMismatch)?;
        if birth_date != code.birth_date() {
            return Err(FtnError::BirthdateMismatch);
        }
    }

    let given_name = name_claim(get(&names.given_name))?;
    let family_name = name_claim(get(&names.family_name))?;
    let full_name = name_claim(get(&names.name))?;
    let (given_name, family_name, display_name) = match (given_name, family_name, full_name) {
        (None, None, None) => return Err(FtnError::Names),
        (None, None, Some(name)) => (String::new(), String::new(), Some(name)),
        (given, family, _) => (given.unwrap_or_default(), family.unwrap_or_default(), None),
    };

    let authn_instant = match time_claim(id_token, "auth_time")? {
        Some(at) if at > now + cfg.clock_skew => return Err(FtnError::ClaimsInvalid("auth_time")),
        Some(at) => at,
        None => now,
    };

    Ok(VerifiedIdentity::from_parts(IdentityParts {
        electronic_id: None,
        birth_date: Some(code.birth_date()),
        national_id: Some(NationalId::from(code)),
        given_name,
        family_name,
        display_name,
        loa: facts.loa,
        method: cfg.adapter_id(),
        upstream_issuer: cfg.issuer.clone(),
        upstream_subject: facts.sub,
        authn_instant,
    }))
}

/// A name claim: absent, or a string without control characters and of sane length; an empty
/// (or blank) string counts as absent.
fn name_claim(value: Option<&Value>) -> Result<Option<String>, FtnError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let text = value.as_str().ok_or(FtnError::Names)?;
    // Control characters, and the two non-characters XML 1.0 does not allow.
    if text
        .chars()
        .any(|c| c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}')
    {
        return Err(FtnError::Names);
    }
    let text = text.trim();
    if text.chars().count() > MAX_NAME_CHARS {
        return Err(FtnError::Names);
    }
    Ok((!text.is_empty()).then(|| text.to_owned()))
}
