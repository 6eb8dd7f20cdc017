//! Hostile ID tokens, each handed to two readers: jsonwebtoken on its own, called as a careful
//! integrator would call it, and the adapter (`finish`, through the JWE, `jose::verify_jwt` and the
//! claim checks). Each test names the refusal it expects from both, so it shows which layer refuses:
//!
//! | token | jsonwebtoken alone | the adapter | who refuses |
//! |---|---|---|---|
//! | `alg: none` | `Json` (no such `Algorithm`) | `JwsAlgRefused` | both; ours first |
//! | HS256, bank's RSA public key as the secret | `InvalidAlgorithm` | `JwsAlgRefused` | both; ours first |
//! | signed by a key whose `kid` is not in the JWKS | no key (the integrator's lookup) | `UnknownKid` after one refetch | ours (key choice is the caller's in jsonwebtoken) |
//! | attacker key under the bank's `kid` | `InvalidSignature` | `BadSignature` | jsonwebtoken |
//! | wrong `iss` / wrong `aud` | `InvalidIssuer` / `InvalidAudience` | `ClaimsIss` / `ClaimsAud` | both (ours: `check_id_token`) |
//! | no `iss` / no `aud` | accepted with the default `required_spec_claims` | `ClaimsIss` / `ClaimsAud` | ours |
//! | expired `exp` | `ExpiredSignature` (system clock) | `Expired` (the injected `now`) | ours: jsonwebtoken's clock is not injectable |
//! | `nbf` in the future | accepted by default (`validate_nbf` is off); `ImmatureSignature` when on | `Iat` | ours |
//! | `iat` in the future | accepted (jsonwebtoken has no `iat` check) | `Iat` | ours |
//! | `crit: ["exp"]` | `InvalidToken` | `JwsRefused("crit")` | both; ours first |
//! | `crit: ["b64"]`, `b64: true` | **accepted** | `JwsRefused("crit")` | ours |
//! | embedded `jwk` (attacker key, attacker-signed) | `InvalidSignature` (the `jwk` is ignored) | `JwsRefused("embedded jwk")` | both; ours first |
//! | embedded `jwk` on a bank-signed token | accepted (ignored) | `JwsRefused("embedded jwk")` | ours (policy: a token never carries its key) |
//! | `jku` to an attacker set, attacker-signed | `InvalidSignature` (never fetched) | `BadSignature`, no request to the `jku` | both |
//! | `jku` on a bank-signed token | accepted, not fetched | accepted, not fetched | ignored by both, as it must be |
//! | a duplicate claim (`personal_identity_code` twice) | **accepted**, the last one wins | `JwsRefused("malformed")` | ours (jose's `Claims` refuses duplicates) |
//! | a duplicate header member | **accepted** | `JwsRefused("malformed")` | ours |
//!
//! Tokens are timed against the system clock here (read once per test), since jsonwebtoken alone
//! reads it; the adapter is handed the same instant as its `now`.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};

use super::*;
use crate::ftn::FtnError;

const ATTACKER_JKU: &str = "https://attacker.example/jwks.json";

/// What jsonwebtoken on its own made of a token.
#[derive(Debug)]
enum Alone {
    /// The claims it handed over.
    Accepted(Value),
    /// The header's `kid` names no key in the bank's set (jsonwebtoken leaves the choice to us).
    NoKey,
    Refused(ErrorKind),
}

/// The instant both readers judge a token at, whole seconds.
fn wall_now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now - Duration::nanoseconds(i64::from(now.nanosecond()))
}

/// jsonwebtoken called the careful way: the bank's published JWKS as its `JwkSet`, the key by the
/// header's `kid`, RS256 only, `iss` and `aud` pinned and required, `exp` and `nbf` checked with the
/// adapter's skew. `strict: false` keeps jsonwebtoken's defaults for required claims and `nbf`.
fn jsonwebtoken_alone(token: &str, strict: bool) -> Alone {
    let header = match decode_header(token) {
        Ok(header) => header,
        Err(e) => return Alone::Refused(e.into_kind()),
    };
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(jwks_doc(&[(&keys().bank, BANK_KID)])).unwrap();
    let Some(jwk) = header.kid.as_deref().and_then(|kid| jwks.find(kid)) else {
        return Alone::NoKey;
    };
    let key = DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[CLIENT_ID]);
    validation.leeway = 60;
    if strict {
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
    }
    match decode::<Value>(token, &key, &validation) {
        Ok(data) => Alone::Accepted(data.claims),
        Err(e) => Alone::Refused(e.into_kind()),
    }
}

/// A fresh login at a refreshed fake bank.
fn new_login() -> (Harness, Login) {
    let h = harness();
    let login = start(&h, None, Language::Fi);
    (h, login)
}

/// The good claims for `login`, timed at `now`.
fn claims_at(login: &Login, now: OffsetDateTime) -> Map<String, Value> {
    let mut claims = good_claims(login);
    let iat = now.unix_timestamp() - 5;
    claims.insert("iat".to_owned(), Value::from(iat));
    claims.insert("exp".to_owned(), Value::from(iat + 600));
    claims.insert("auth_time".to_owned(), Value::from(iat - 30));
    claims
}

/// The adapter's answer to `id_token` (encrypted to us, as the bank must), judged at `now`.
fn adapter_at(
    h: &Harness,
    login: &Login,
    id_token: &str,
    now: OffsetDateTime,
) -> Result<VerifiedIdentity, AdapterError> {
    h.http.script(TOKEN, token_response(&encrypt(id_token)));
    let ctx = FinishContext {
        flow_id: "flow-1",
        requested_loa: None,
        now,
        pending: Some(&login.upstream),
        client_certificates: None,
    };
    let input: CallbackInput = callback(login).into_iter().collect();
    block_on(h.bank.finish(&ctx, &input))
}

fn refused_with(result: Result<VerifiedIdentity, AdapterError>) -> FtnError {
    match result {
        Ok(identity) => panic!("the adapter accepted {identity:?}"),
        Err(AdapterError::Bank(e)) => e,
        Err(other) => panic!("not a bank refusal: {other:?}"),
    }
}

/// A compact JWS over exactly these header and payload bytes (duplicates and oddities survive),
/// signed RS256 by `key`.
fn forge_rs256(header_json: &str, payload_json: &str, key: &SigningKey) -> String {
    let input = format!(
        "{}.{}",
        b64(header_json.as_bytes()),
        b64(payload_json.as_bytes())
    );
    format!("{input}.{}", b64(&key.sign(input.as_bytes()).unwrap()))
}

fn claims_json(claims: &Map<String, Value>) -> String {
    serde_json::to_string(claims).unwrap()
}

#[test]
fn control_a_good_token_passes_both() {
    let (h, login) = new_login();
    let now = wall_now();
    let token = bank_sign(&claims_at(&login, now));
    assert!(matches!(
        jsonwebtoken_alone(&token, true),
        Alone::Accepted(_)
    ));
    let identity = adapter_at(&h, &login, &token, now).unwrap();
    assert_eq!(identity.upstream_subject(), SUB);
}

#[test]
fn alg_none_is_refused_by_both_ours_first() {
    let (h, login) = new_login();
    let now = wall_now();
    let header = json!({"alg": "none", "kid": BANK_KID}).to_string();
    let token = format!(
        "{}.{}.",
        b64(header.as_bytes()),
        b64(claims_json(&claims_at(&login, now)).as_bytes())
    );
    assert!(matches!(
        jsonwebtoken_alone(&token, true),
        Alone::Refused(ErrorKind::Json(_))
    ));
    assert_eq!(
        refused_with(adapter_at(&h, &login, &token, now)),
        FtnError::JwsAlgRefused
    );
}

#[test]
fn hs256_keyed_with_the_bank_public_key_is_refused_by_both_ours_first() {
    let (h, login) = new_login();
    let now = wall_now();
    let input = format!(
        "{}.{}",
        b64(json!({"alg": "HS256", "kid": BANK_KID, "typ": "JWT"})
            .to_string()
            .as_bytes()),
        b64(claims_json(&claims_at(&login, now)).as_bytes())
    );
    // The public key as an attacker finds it: the SPKI DER behind the published JWK.
    let secret = keys().bank.public_key_spki_der();
    let token = format!("{input}.{}", b64(&hmac_sha256(&secret, input.as_bytes())));
    assert!(matches!(
        jsonwebtoken_alone(&token, true),
        Alone::Refused(ErrorKind::InvalidAlgorithm)
    ));
    assert_eq!(
        refused_with(adapter_at(&h, &login, &token, now)),
        FtnError::JwsAlgRefused
    );
    assert_eq!(h.http.count(JWKS), 0, "refused before any key lookup");
}

#[test]
fn a_kid_not_in_the_bank_jwks_is_refused_by_our_key_choice() {
    let (h, login) = new_login();
    let now = wall_now();
    let token = sign_with(&claims_at(&login, now), &keys().bank_rotated, "attacker-1");
    assert!(matches!(jsonwebtoken_alone(&token, true), Alone::NoKey));
    // The set is refetched once (a rotation would show up there) and still lacks the kid.
    h.http.script(
        JWKS,
        json_response(200, &jwks_doc(&[(&keys().bank, BANK_KID)])),
    );
    assert_eq!(
        refused_with(adapter_at(&h, &login, &token, now)),
        FtnError::UnknownKid
    );
    assert_eq!(h.http.count(JWKS), 1);
}

#[test]
fn an_attacker_key_under_the_bank_kid_fails_the_signature_in_both() {
    let (h, login) = new_login();
    let now = wall_now();
    let token = sign_with(&claims_at(&login, now), &keys().bank_rotated, BANK_KID);
    assert!(matches!(
        jsonwebtoken_alone(&token, true),
        Alone::Refused(ErrorKind::InvalidSignature)
    ));
    assert_eq!(
        refused_with(adapter_at(&h, &login, &token, now)),
        FtnError::BadSignature
    );
}

#[test]
fn wrong_iss_and_wrong_aud_are_refused_by_both() {
    let now = wall_now();
    for (claim, value, theirs, ours) in [
        (
            "iss",
            "https://bank.example/op/",
            "InvalidIssuer",
            FtnError::ClaimsIss,
        ),
        (
            "aud",
            "another-client",
            "InvalidAudience",
            FtnError::ClaimsAud,
        ),
    ] {
        let (h, login) = new_login();
        let mut claims = claims_at(&login, now);
        claims.insert(claim.to_owned(), Value::from(value));
        let token = bank_sign(&claims);
        match jsonwebtoken_alone(&token, true) {
            Alone::Refused(kind) => assert_eq!(format!("{kind:?}"), theirs, "{claim}"),
            other => panic!("{claim}: jsonwebtoken said {other:?}"),
        }
        assert_eq!(refused_with(adapter_at(&h, &login, &token, now)), ours);
    }
}

/// jsonwebtoken checks `iss` and `aud` only when present unless they are listed in
/// `required_spec_claims` (default: `exp` only), so a token without them passes its defaults.
/// `check_id_token` requires both.
#[test]
fn missing_iss_or_aud_passes_jsonwebtoken_defaults_and_is_refused_by_ours() {
    let now = wall_now();
    for (claim, ours, required) in [
        ("iss", FtnError::ClaimsIss, "iss"),
        ("aud", FtnError::ClaimsAud, "aud"),
    ] {
        let (h, login) = new_login();
        let mut claims = claims_at(&login, now);
        claims.remove(claim);
        let token = bank_sign(&claims);
        assert!(
            matches!(jsonwebtoken_alone(&token, false), Alone::Accepted(_)),
            "{claim}"
        );
        assert!(matches!(
            jsonwebtoken_alone(&token, true),
            Alone::Refused(ErrorKind::MissingRequiredClaim(ref c)) if c == required
        ));
        assert_eq!(refused_with(adapter_at(&h, &login, &token, now)), ours);
    }
}

/// jsonwebtoken refuses it too, but against the system clock; ours is judged at the `now` the
/// gateway read once for the request, which is what the adapter is handed.
#[test]
fn an_expired_token_is_refused_by_both_ours_at_the_injected_now() {
    let (h, login) = new_login();
    let now = wall_now();
    let mut claims = claims_at(&login, now);
    claims.insert(
        "exp".to_owned(),
        Value::from(now.unix_timestamp() - 61 - 60),
    );
    let token = bank_sign(&claims);
    assert!(matches!(
        jsonwebtoken_alone(&token, true),
        Alone::Refused(ErrorKind::ExpiredSignature)
    ));
    assert_eq!(
        refused_with(adapter_at(&h, &login, &token, now)),
        FtnError::Expired
    );
    // A token with that exp, judged an hour earlier by the injected clock: valid to the adapter.
    let (h, login) = new_login();
    let earlier = now - Duration::hours(1);
    let mut claims = claims_at(&login, earlier);
    claims.insert("exp".to_owned(), Value::from(now.unix_timestamp() - 121));
    adapter_at(&h, &login, &bank_sign(&claims), earlier).unwrap();
}

#[test]
fn nbf_or_iat_in_the_future_is_refused_by_ours() {
    let now = wall_now();
    let later = now.unix_timestamp() + 3600;
    // nbf: jsonwebtoken checks it only with validate_nbf, which is off by default.
    let (h, login) = new_login();
    let mut claims = claims_at(&login, now);
    claims.insert("nbf".to_owned(), Value::from(later));
    let token = bank_sign(&claims);
    assert!(matches!(
        jsonwebtoken_alone(&token, false),
        Alone::Accepted(_)
    ));
    assert!(matches!(
        jsonwebtoken_alone(&token, true),
        Alone::Refused(ErrorKind::ImmatureSignature)
    ));
    assert_eq!(
        refused_with(adapter_at(&h, &login, &token, now)),
        FtnError::Iat
    );
    // iat: jsonwebtoken has no check for it at all.
    let (h, login) = new_login();
    let mut claims = claims_at(&login, now);
    claims.insert("iat".to_owned(), Value::from(later));
    let token = bank_sign(&claims);
    assert!(matches!(
        jsonwebtoken_alone(&token, true),
        Alone::Accepted(_)
    ));
    assert_eq!(
        refused_with(adapter_at(&h, &login, &token, now)),
        FtnError::Iat
    );
}

/// jsonwebtoken 12 refuses `crit` unless it is exactly `["b64"]` with `"b64": true`, which it
/// accepts; we understand no extension, so `jose` refuses every `crit` in front of it.
#[test]
fn a_crit_header_is_refused_by_ours_even_where_jsonwebtoken_accepts_it() {
    let now = wall_now();
    for (extra, theirs_accept) in [
        (json!({"crit": ["exp"], "exp": 1}), false),
        (json!({"crit": ["b64"], "b64": true}), true),
    ] {
        let (h, login) = new_login();
        let mut header = json!({"alg": "RS256", "kid": BANK_KID, "typ": "JWT"});
        for (name, value) in extra.as_object().unwrap() {
            header[name] = value.clone();
        }
        let token = forge_rs256(
            &header.to_string(),
            &claims_json(&claims_at(&login, now)),
            &keys().bank,
        );
        let alone = jsonwebtoken_alone(&token, true);
        if theirs_accept {
            assert!(matches!(alone, Alone::Accepted(_)), "{extra}: {alone:?}");
        } else {
            assert!(
                matches!(alone, Alone::Refused(ErrorKind::InvalidToken)),
                "{extra}: {alone:?}"
            );
        }
        assert_eq!(
            refused_with(adapter_at(&h, &login, &token, now)),
            FtnError::JwsRefused("crit"),
            "{extra}"
        );
    }
}

/// jsonwebtoken never verifies with an embedded `jwk` (good), but accepts a token that carries
/// one; `jose` refuses it in front, whoever signed it.
#[test]
fn an_embedded_jwk_is_never_used_and_refused_by_ours() {
    let now = wall_now();
    let attacker = &keys().bank_rotated;
    let attacker_jwk = public_jwk_json(
        &attacker.verifying_key().unwrap(),
        BANK_KID,
        KeyPurpose::Sign(JwsAlg::RS256),
    )
    .unwrap();
    for (signer, theirs_accept) in [(attacker, false), (&keys().bank, true)] {
        let (h, login) = new_login();
        let header = json!({"alg": "RS256", "kid": BANK_KID, "jwk": attacker_jwk});
        let token = forge_rs256(
            &header.to_string(),
            &claims_json(&claims_at(&login, now)),
            signer,
        );
        let alone = jsonwebtoken_alone(&token, true);
        if theirs_accept {
            assert!(matches!(alone, Alone::Accepted(_)), "{alone:?}");
        } else {
            assert!(
                matches!(alone, Alone::Refused(ErrorKind::InvalidSignature)),
                "{alone:?}"
            );
        }
        assert_eq!(
            refused_with(adapter_at(&h, &login, &token, now)),
            FtnError::JwsRefused("embedded jwk")
        );
        assert_eq!(h.http.count(JWKS), 0);
    }
}

/// A `jku` is never followed by either: an attacker's token fails the signature against the bank's
/// key, and the bank's own token with a `jku` verifies as if it were absent.
#[test]
fn a_jku_header_is_ignored_by_both() {
    let now = wall_now();
    let mut header = Map::new();
    header.insert("jku".to_owned(), Value::from(ATTACKER_JKU));

    let (h, login) = new_login();
    let token = sign_with_header(
        &claims_at(&login, now),
        &keys().bank_rotated,
        BANK_KID,
        header.clone(),
    );
    assert!(matches!(
        jsonwebtoken_alone(&token, true),
        Alone::Refused(ErrorKind::InvalidSignature)
    ));
    assert_eq!(
        refused_with(adapter_at(&h, &login, &token, now)),
        FtnError::BadSignature
    );
    assert_eq!(h.http.count(ATTACKER_JKU), 0);

    let (h, login) = new_login();
    let token = sign_with_header(&claims_at(&login, now), &keys().bank, BANK_KID, header);
    assert!(matches!(
        jsonwebtoken_alone(&token, true),
        Alone::Accepted(_)
    ));
    adapter_at(&h, &login, &token, now).unwrap();
    let urls: Vec<String> = h.http.requests().into_iter().map(|r| r.url).collect();
    assert_eq!(
        urls,
        vec![TOKEN.to_owned()],
        "no request but the token endpoint"
    );
}

/// Two `personal_identity_code` members: jsonwebtoken (into `serde_json::Value`) keeps the last,
/// so a reader that saw the first would disagree with it. `jose`'s `Claims`, which jsonwebtoken
/// deserializes into, refuses duplicate members at every depth.
#[test]
fn a_duplicate_claim_is_taken_by_jsonwebtoken_and_refused_by_ours() {
    let (h, login) = new_login();
    let now = wall_now();
    let json = claims_json(&claims_at(&login, now));
    let other = hetu_with_check("010203A123");
    let doubled = format!(
        "{},\"personal_identity_code\":\"{other}\"}}",
        json.strip_suffix('}').unwrap()
    );
    let token = forge_rs256(
        &json!({"alg": "RS256", "kid": BANK_KID}).to_string(),
        &doubled,
        &keys().bank,
    );
    match jsonwebtoken_alone(&token, true) {
        Alone::Accepted(claims) => assert_eq!(claims["personal_identity_code"], other.as_str()),
        alone => panic!("jsonwebtoken said {alone:?}"),
    }
    assert_eq!(
        refused_with(adapter_at(&h, &login, &token, now)),
        FtnError::JwsRefused("malformed")
    );
}

#[test]
fn a_duplicate_header_member_is_taken_by_jsonwebtoken_and_refused_by_ours() {
    let (h, login) = new_login();
    let now = wall_now();
    let token = forge_rs256(
        &format!(r#"{{"alg":"RS256","kid":"{BANK_KID}","x-hint":"a","x-hint":"b"}}"#),
        &claims_json(&claims_at(&login, now)),
        &keys().bank,
    );
    assert!(matches!(
        jsonwebtoken_alone(&token, true),
        Alone::Accepted(_)
    ));
    assert_eq!(
        refused_with(adapter_at(&h, &login, &token, now)),
        FtnError::JwsRefused("malformed")
    );
}
