//! The FTN adapter against a fake bank: keys generated here, tokens made with `jose::sign_jws` (over
//! jsonwebtoken) and `jose::encrypt_jwe`, HTTP answered by a scripted [`FakeHttp`] that records
//! every request. `hostile_jwt` hands hostile ID tokens to jsonwebtoken alone and to the adapter.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::test_util::block_on;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine as _;
use certs::{DigestAlgorithm, KeyKind, SigningKey, SystemRandomSource};
use jose::{
    encrypt_jwe, public_jwk_json, sign_jws, verify_jwt, JweAlg, JweDecryptionKey, JweEnc, Jwk,
    JwkSet, JwsAlg, KeyPurpose,
};
use serde_json::{json, Map, Value};
use time::macros::{date, datetime};
use time::{Duration, OffsetDateTime};

use super::request::{pkce_challenge, PendingFtn};
use super::*;
use crate::adapter::UpstreamPending;

mod hostile_jwt;

// ---------------------------------------------------------------------------------------------
// Fixtures

const BANK_ID: &str = "testpankki";
const ISSUER: &str = "https://bank.example/op";
const AUTHZ: &str = "https://bank.example/op/auth";
const TOKEN: &str = "https://bank.example/op/token";
const USERINFO: &str = "https://bank.example/op/me";
const JWKS: &str = "https://bank.example/op/jwks";
const DISCOVERY: &str = "https://bank.example/op/.well-known/openid-configuration";
const CLIENT_ID: &str = "gateway-client";
const REDIRECT: &str = "https://gw.example/login/bank/testpankki/callback";
const RP_SIG_KID: &str = "rp-sig-1";
const RP_ENC_KID: &str = "rp-enc-1";
const BANK_KID: &str = "bank-sig-1";
/// Of the test series (individual number 900-999), as banks' test environments hand out.
const HETU: &str = "280886-986H";
const SUB: &str = "bank-subject-7";
const NOW: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);
const LOA2: &str = "http://ftn.ficora.fi/2017/loa2";
const LOA3: &str = "http://ftn.ficora.fi/2017/loa3";

struct TestKeys {
    rp_sign: SigningKey,
    rp_enc_der: Vec<u8>,
    rp_enc: SigningKey,
    bank: SigningKey,
    bank_rotated: SigningKey,
}

fn keys() -> &'static TestKeys {
    static KEYS: OnceLock<TestKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let rp_enc = SigningKey::generate(KeyKind::Rsa2048).unwrap();
        TestKeys {
            rp_sign: SigningKey::generate(KeyKind::Rsa2048).unwrap(),
            rp_enc_der: rp_enc.to_pkcs8_der().unwrap(),
            rp_enc,
            bank: SigningKey::generate(KeyKind::Rsa2048).unwrap(),
            bank_rotated: SigningKey::generate(KeyKind::Rsa2048).unwrap(),
        }
    })
}

fn rp_keys() -> RpKeys {
    let k = keys();
    RpKeys {
        signing: k.rp_sign.clone(),
        signing_kid: RP_SIG_KID.to_owned(),
        decryption: vec![JweDecryptionKey::new(
            Some(RP_ENC_KID.to_owned()),
            certs::DecryptionKey::from_pkcs8_der(&k.rp_enc_der).unwrap(),
        )],
    }
}

/// The RP's public keys as the bank knows them.
fn rp_signing_jwks() -> JwkSet {
    JwkSet::from_keys(vec![Jwk::new(
        keys().rp_sign.verifying_key().unwrap(),
        Some(RP_SIG_KID.to_owned()),
        None,
    )])
}

fn config() -> FtnBankConfig {
    FtnBankConfig {
        id: BANK_ID.to_owned(),
        display_name_fi: "Testipankki".to_owned(),
        display_name_sv: "Testbanken".to_owned(),
        display_name_en: "Test Bank".to_owned(),
        issuer: ISSUER.to_owned(),
        endpoints: Endpoints::Discovery,
        client_id: CLIENT_ID.to_owned(),
        redirect_uri: REDIRECT.to_owned(),
        scope: vec![
            "openid".to_owned(),
            "profile".to_owned(),
            "personal_identity_code".to_owned(),
        ],
        max_loa: LevelOfAssurance::FtnHigh,
        ftn_idp_id: Some("fi-op".to_owned()),
        ftn_spname: Some("Esimerkkipalvelu".to_owned()),
        request_object_alg: JwsAlg::RS256,
        client_assertion_alg: JwsAlg::RS256,
        id_token_signing_algs: vec![JwsAlg::RS256],
        id_token_encryption_algs: vec![JweAlg::RsaOaep],
        id_token_encryption_encs: vec![JweEnc::A128CbcHs256, JweEnc::A256Gcm],
        require_encrypted_id_token: true,
        userinfo: false,
        test_environment: false,
        clock_skew: Duration::seconds(60),
        claims: ClaimNames::default(),
    }
}

fn discovery_doc() -> Value {
    json!({
        "issuer": ISSUER,
        "authorization_endpoint": AUTHZ,
        "token_endpoint": TOKEN,
        "userinfo_endpoint": USERINFO,
        "jwks_uri": JWKS,
        "response_types_supported": ["code"],
        "id_token_signing_alg_values_supported": ["RS256"],
    })
}

fn jwks_doc(entries: &[(&SigningKey, &str)]) -> Value {
    let keys: Vec<Value> = entries
        .iter()
        .map(|(key, kid)| {
            public_jwk_json(
                &key.verifying_key().unwrap(),
                kid,
                KeyPurpose::Sign(JwsAlg::RS256),
            )
            .unwrap()
        })
        .collect();
    json!({ "keys": keys })
}

fn json_response(status: u16, body: &Value) -> HttpResponse {
    HttpResponse {
        status,
        content_type: Some("application/json; charset=utf-8".to_owned()),
        body: serde_json::to_vec(body).unwrap(),
    }
}

// ---------------------------------------------------------------------------------------------
// FakeHttp: scripted answers per URL, every request recorded

#[derive(Default)]
struct FakeHttp {
    routes: Mutex<HashMap<String, VecDeque<HttpResponse>>>,
    requests: Mutex<Vec<HttpRequest>>,
}

impl FakeHttp {
    fn script(&self, url: &str, response: HttpResponse) {
        self.routes
            .lock()
            .unwrap()
            .entry(url.to_owned())
            .or_default()
            .push_back(response);
    }

    fn requests(&self) -> Vec<HttpRequest> {
        self.requests.lock().unwrap().clone()
    }

    fn count(&self, url: &str) -> usize {
        self.requests().iter().filter(|r| r.url == url).count()
    }

    fn clear_log(&self) {
        self.requests.lock().unwrap().clear();
    }
}

impl HttpClient for FakeHttp {
    fn send<'a>(
        &'a self,
        req: HttpRequest,
    ) -> crate::AdapterFuture<'a, Result<HttpResponse, HttpError>> {
        let answer = self
            .routes
            .lock()
            .unwrap()
            .get_mut(&req.url)
            .and_then(VecDeque::pop_front)
            .ok_or_else(|| HttpError::Refused("unscripted".to_owned()));
        self.requests.lock().unwrap().push(req);
        Box::pin(std::future::ready(answer))
    }
}

// ---------------------------------------------------------------------------------------------
// Harness: an adapter, refreshed against the fake bank

struct Harness {
    bank: FtnBank,
    http: Arc<FakeHttp>,
}

fn unrefreshed(cfg: FtnBankConfig) -> Harness {
    let http = Arc::new(FakeHttp::default());
    let bank = FtnBank::new(
        cfg,
        Arc::new(rp_keys()),
        Arc::clone(&http) as Arc<dyn HttpClient>,
        Arc::new(certs::SeededRandomSource::new(42)),
    )
    .unwrap();
    Harness { bank, http }
}

fn harness_with(cfg: FtnBankConfig, discovery: &Value) -> Harness {
    let h = unrefreshed(cfg);
    h.http.script(DISCOVERY, json_response(200, discovery));
    h.http.script(
        JWKS,
        json_response(200, &jwks_doc(&[(&keys().bank, BANK_KID)])),
    );
    block_on(h.bank.refresh(NOW)).unwrap();
    h.http.clear_log();
    h
}

fn harness() -> Harness {
    harness_with(config(), &discovery_doc())
}

struct Login {
    url: String,
    state: String,
    upstream: UpstreamPending,
    pending: PendingFtn,
}

fn start(h: &Harness, requested: Option<LevelOfAssurance>, language: Language) -> Login {
    let ctx = StartContext {
        flow_id: "flow-1",
        language,
        requested_loa: requested,
        force_authn: false,
        now: NOW,
    };
    match h.bank.start(&ctx).unwrap() {
        StartAction::RedirectUpstream {
            url,
            state,
            pending,
        } => Login {
            url,
            state,
            pending: PendingFtn::from_upstream(&pending).unwrap(),
            upstream: pending,
        },
        other => panic!("unexpected start action {other:?}"),
    }
}

/// The claims a well-behaved bank puts in the ID token for `login`.
fn good_claims(login: &Login) -> Map<String, Value> {
    let iat = NOW.unix_timestamp() - 5;
    let Value::Object(map) = json!({
        "iss": ISSUER,
        "sub": SUB,
        "aud": CLIENT_ID,
        "exp": iat + 600,
        "iat": iat,
        "auth_time": iat - 30,
        "nonce": login.pending.nonce,
        "acr": LOA3,
        "personal_identity_code": HETU,
        "birthdate": "1986-08-28",
        "given_name": "Åsa",
        "family_name": "Sjöström",
        "name": "Sjöström Åsa",
    }) else {
        unreachable!()
    };
    map
}

fn sign_with(claims: &Map<String, Value>, key: &SigningKey, kid: &str) -> String {
    sign_with_header(claims, key, kid, Map::new())
}

fn sign_with_header(
    claims: &Map<String, Value>,
    key: &SigningKey,
    kid: &str,
    header: Map<String, Value>,
) -> String {
    sign_jws(
        header,
        &serde_json::to_vec(claims).unwrap(),
        key,
        kid,
        JwsAlg::RS256,
    )
    .unwrap()
}

fn bank_sign(claims: &Map<String, Value>) -> String {
    sign_with(claims, &keys().bank, BANK_KID)
}

fn encrypt_with(jws: &str, alg: JweAlg, enc: JweEnc) -> String {
    let recipient = Jwk::new(
        keys().rp_enc.verifying_key().unwrap(),
        Some(RP_ENC_KID.to_owned()),
        Some(KeyPurpose::Encrypt(alg)),
    );
    let mut header = Map::new();
    header.insert("cty".to_owned(), Value::from("JWT"));
    encrypt_jwe(
        jws.as_bytes(),
        &recipient,
        alg,
        enc,
        header,
        &SystemRandomSource,
    )
    .unwrap()
}

fn encrypt(jws: &str) -> String {
    encrypt_with(jws, JweAlg::RsaOaep, JweEnc::A128CbcHs256)
}

fn token_response(id_token: &str) -> HttpResponse {
    json_response(
        200,
        &json!({
            "access_token": "at-secret-123",
            "token_type": "Bearer",
            "expires_in": 60,
            "id_token": id_token,
        }),
    )
}

fn finish_with(
    h: &Harness,
    login: &Login,
    requested: Option<LevelOfAssurance>,
    fields: &[(&str, &str)],
) -> Result<VerifiedIdentity, AdapterError> {
    let ctx = FinishContext {
        flow_id: "flow-1",
        requested_loa: requested,
        now: NOW,
        pending: Some(&login.upstream),
        client_certificates: None,
    };
    let input: CallbackInput = fields.iter().copied().collect();
    block_on(h.bank.finish(&ctx, &input))
}

fn callback(login: &Login) -> Vec<(&str, &str)> {
    vec![
        ("code", "code-abc"),
        ("state", login.state.as_str()),
        ("iss", ISSUER),
    ]
}

/// Scripts the token endpoint with `id_token` and delivers a normal callback.
fn deliver(
    h: &Harness,
    login: &Login,
    requested: Option<LevelOfAssurance>,
    id_token: &str,
) -> Result<VerifiedIdentity, AdapterError> {
    h.http.script(TOKEN, token_response(id_token));
    finish_with(h, login, requested, &callback(login))
}

/// A login whose ID token carries `edit(good claims)`, signed by the bank and encrypted to us.
fn login_with_claims(
    requested: Option<LevelOfAssurance>,
    edit: impl FnOnce(&mut Map<String, Value>),
) -> Result<VerifiedIdentity, AdapterError> {
    login_at(&harness(), requested, edit)
}

/// [`login_with_claims`] at a given bank.
fn login_at(
    h: &Harness,
    requested: Option<LevelOfAssurance>,
    edit: impl FnOnce(&mut Map<String, Value>),
) -> Result<VerifiedIdentity, AdapterError> {
    let login = start(h, requested, Language::Fi);
    let mut claims = good_claims(&login);
    edit(&mut claims);
    deliver(h, &login, requested, &encrypt(&bank_sign(&claims)))
}

fn code_of(result: Result<VerifiedIdentity, AdapterError>) -> &'static str {
    match result {
        Ok(identity) => panic!("expected a refusal, got {identity:?}"),
        Err(e) => e.code(),
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn query(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn form(req: &HttpRequest) -> HashMap<String, String> {
    req.form.clone().unwrap().into_iter().collect()
}

/// HMAC-SHA-256 by its definition (RFC 2104), to forge the classic HS256 token.
fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut k = if key.len() > 64 {
        DigestAlgorithm::Sha256.digest(key)
    } else {
        key.to_vec()
    };
    k.resize(64, 0);
    let inner: Vec<u8> = k
        .iter()
        .map(|b| b ^ 0x36)
        .chain(msg.iter().copied())
        .collect();
    let inner_hash = DigestAlgorithm::Sha256.digest(&inner);
    let outer: Vec<u8> = k
        .iter()
        .map(|b| b ^ 0x5c)
        .chain(inner_hash.iter().copied())
        .collect();
    DigestAlgorithm::Sha256.digest(&outer)
}

/// A personal identity code with a correct check character.
fn hetu_with_check(first_ten: &str) -> String {
    let digits: String = first_ten[0..6]
        .chars()
        .chain(first_ten[7..10].chars())
        .collect();
    let n: u64 = digits.parse().unwrap();
    let check = "0123456789ABCDEFHJKLMNPRSTUVWXY"
        .chars()
        .nth((n % 31) as usize)
        .unwrap();
    format!("{first_ten}{check}")
}

// ---------------------------------------------------------------------------------------------
// Happy path

#[test]
fn happy_path_maps_claims_and_sends_every_parameter() {
    let h = harness();
    let login = start(&h, Some(LevelOfAssurance::FtnHigh), Language::Sv);
    assert!(h.http.requests().is_empty(), "start makes no request");

    // The authorization URL: OIDC Core §6.1 parameters outside, everything inside the JAR.
    assert!(login.url.starts_with(&format!("{AUTHZ}?")), "{}", login.url);
    let q = query(&login.url);
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["scope"], "openid profile personal_identity_code");
    assert_eq!(q.len(), 4, "{q:?}");
    let jar = verify_jwt(&q["request"], &rp_signing_jwks(), &[JwsAlg::RS256], 1 << 16).unwrap();
    assert_eq!(jar.header.kid.as_deref(), Some(RP_SIG_KID));
    assert_eq!(jar.header.typ.as_deref(), Some("oauth-authz-req+jwt"));
    let c = jar.claims;
    assert_eq!(c.get_str("iss"), Some(CLIENT_ID));
    assert_eq!(c.get_str("aud"), Some(ISSUER));
    assert_eq!(c.get_str("client_id"), Some(CLIENT_ID));
    assert_eq!(c.get_str("response_type"), Some("code"));
    assert_eq!(c.get_str("redirect_uri"), Some(REDIRECT));
    assert_eq!(
        c.get_str("scope"),
        Some("openid profile personal_identity_code")
    );
    assert_eq!(c.get_str("state"), Some(login.state.as_str()));
    assert_eq!(c.get_str("nonce"), Some(login.pending.nonce.as_str()));
    assert_eq!(c.get_str("code_challenge_method"), Some("S256"));
    let challenge = c.get_str("code_challenge").unwrap().to_owned();
    assert_eq!(c.get_str("acr_values"), Some(LOA3));
    assert_eq!(c.get_str("ui_locales"), Some("sv"));
    assert_eq!(c.get_str("ftn_idp_id"), Some("fi-op"));
    assert_eq!(c.get_str("ftn_spname"), Some("Esimerkkipalvelu"));
    assert_eq!(c.get_i64("iat"), Some(NOW.unix_timestamp()));
    assert_eq!(c.get_i64("exp"), Some(NOW.unix_timestamp() + 300));
    assert_eq!(c.get_str("jti").map(str::len), Some(43));

    // Per-flow secrets: 32 random bytes each, all distinct.
    assert_eq!(login.state.len(), 43);
    assert_eq!(login.pending.state, login.state);
    assert_eq!(login.pending.nonce.len(), 43);
    assert_eq!(login.pending.code_verifier.len(), 43);
    assert_ne!(login.state, login.pending.nonce);
    assert_ne!(login.pending.nonce, login.pending.code_verifier);
    assert_eq!(login.pending.bank, BANK_ID);
    assert_eq!(login.pending.requested_loa, Some(LevelOfAssurance::FtnHigh));
    assert_eq!(login.pending.started_at, NOW.unix_timestamp());
    assert!(!format!("{:?}", login.upstream).contains(&login.pending.nonce));

    // The bank answers.
    let claims = good_claims(&login);
    let identity = deliver(
        &h,
        &login,
        Some(LevelOfAssurance::FtnHigh),
        &encrypt(&bank_sign(&claims)),
    )
    .unwrap();
    assert_eq!(identity.national_id().unwrap().expose(), HETU);
    assert_eq!(identity.given_name(), "Åsa");
    assert_eq!(identity.family_name(), "Sjöström");
    assert_eq!(identity.display_name(), "Åsa Sjöström");
    assert_eq!(identity.birth_date(), Some(date!(1986 - 08 - 28)));
    assert_eq!(identity.loa(), LevelOfAssurance::FtnHigh);
    assert_eq!(identity.method(), "bank:testpankki");
    assert_eq!(identity.upstream_issuer(), ISSUER);
    assert_eq!(identity.upstream_subject(), SUB);
    assert_eq!(
        identity.authn_instant(),
        NOW - Duration::seconds(35),
        "auth_time"
    );

    // Exactly one request: the token endpoint, with PKCE and a client assertion.
    let requests = h.http.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let token = &requests[0];
    assert_eq!(token.method, HttpMethod::Post);
    assert_eq!(token.url, TOKEN);
    let f = form(token);
    assert_eq!(f["grant_type"], "authorization_code");
    assert_eq!(f["code"], "code-abc");
    assert_eq!(f["redirect_uri"], REDIRECT);
    assert_eq!(f["client_id"], CLIENT_ID);
    assert_eq!(f["code_verifier"], login.pending.code_verifier);
    assert_eq!(pkce_challenge(&f["code_verifier"]), challenge);
    assert_eq!(
        challenge,
        b64(&DigestAlgorithm::Sha256.digest(f["code_verifier"].as_bytes()))
    );
    assert_eq!(
        f["client_assertion_type"],
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    );
    let assertion = verify_jwt(
        &f["client_assertion"],
        &rp_signing_jwks(),
        &[JwsAlg::RS256],
        1 << 16,
    )
    .unwrap();
    assert_eq!(assertion.header.kid.as_deref(), Some(RP_SIG_KID));
    let a = assertion.claims;
    assert_eq!(a.get_str("iss"), Some(CLIENT_ID));
    assert_eq!(a.get_str("sub"), Some(CLIENT_ID));
    assert_eq!(a.get_str("aud"), Some(TOKEN));
    assert_eq!(a.get_i64("iat"), Some(NOW.unix_timestamp()));
    assert_eq!(a.get_i64("exp"), Some(NOW.unix_timestamp() + 60));
    assert_eq!(a.get_str("jti").map(str::len), Some(43));
    assert_ne!(a.get_str("jti"), c.get_str("jti"));

    // Nothing secret in the request's Debug.
    let debug = format!("{token:?}");
    assert!(!debug.contains("code-abc"), "{debug}");
    assert!(!debug.contains(&login.pending.code_verifier), "{debug}");
    assert!(!debug.contains(&f["client_assertion"][..20]), "{debug}");
    assert!(debug.contains("client_assertion"), "{debug}");
}

#[test]
fn adapter_metadata_comes_from_config() {
    let mut cfg = config();
    cfg.test_environment = true;
    cfg.max_loa = LevelOfAssurance::FtnSubstantial;
    let h = unrefreshed(cfg);
    assert_eq!(h.bank.id(), "bank:testpankki");
    assert_eq!(h.bank.display_name(Language::Fi), "Testipankki");
    assert_eq!(h.bank.display_name(Language::Sv), "Testbanken");
    assert_eq!(h.bank.display_name(Language::En), "Test Bank");
    assert!(h.bank.is_test_method());
    assert_eq!(h.bank.max_loa(), LevelOfAssurance::FtnSubstantial);
    assert!(!h.bank.is_ready());
    assert_eq!(h.bank.config().issuer, ISSUER);
}

#[test]
fn substantial_request_asks_loa2_in_finnish_and_accepts_loa2() {
    let h = harness();
    let login = start(&h, None, Language::Fi);
    let q = query(&login.url);
    let jar = verify_jwt(&q["request"], &rp_signing_jwks(), &[JwsAlg::RS256], 1 << 16).unwrap();
    let c = jar.claims;
    assert_eq!(c.get_str("acr_values"), Some(LOA2));
    assert_eq!(c.get_str("ui_locales"), Some("fi"));
    let mut claims = good_claims(&login);
    claims.insert("acr".to_owned(), Value::from(LOA2));
    claims.remove("auth_time");
    let identity = deliver(&h, &login, None, &encrypt(&bank_sign(&claims))).unwrap();
    assert_eq!(identity.loa(), LevelOfAssurance::FtnSubstantial);
    assert_eq!(identity.authn_instant(), NOW, "no auth_time: now");
}

#[test]
fn start_refuses_a_level_above_max_loa() {
    let mut cfg = config();
    cfg.max_loa = LevelOfAssurance::FtnSubstantial;
    let h = harness_with(cfg, &discovery_doc());
    let ctx = StartContext {
        flow_id: "flow-1",
        language: Language::En,
        requested_loa: Some(LevelOfAssurance::EidasHigh),
        force_authn: false,
        now: NOW,
    };
    assert_eq!(h.bank.start(&ctx).unwrap_err().code(), "loa_not_satisfied");
}

#[test]
fn a256gcm_and_static_endpoints_work() {
    let mut cfg = config();
    cfg.endpoints = Endpoints::Static {
        authorization_endpoint: AUTHZ.to_owned(),
        token_endpoint: TOKEN.to_owned(),
        userinfo_endpoint: None,
        jwks_uri: JWKS.to_owned(),
    };
    let h = unrefreshed(cfg);
    h.http.script(
        JWKS,
        json_response(200, &jwks_doc(&[(&keys().bank, BANK_KID)])),
    );
    block_on(h.bank.refresh(NOW)).unwrap();
    assert_eq!(h.http.count(DISCOVERY), 0, "static: no discovery");
    assert_eq!(h.bank.last_refresh(), Some(NOW));
    let login = start(&h, None, Language::En);
    let claims = good_claims(&login);
    let id_token = encrypt_with(&bank_sign(&claims), JweAlg::RsaOaep, JweEnc::A256Gcm);
    // No iss parameter: allowed, discovery did not advertise RFC 9207.
    h.http.script(TOKEN, token_response(&id_token));
    let identity = finish_with(
        &h,
        &login,
        None,
        &[("code", "c"), ("state", login.state.as_str())],
    )
    .unwrap();
    assert_eq!(identity.upstream_subject(), SUB);
}

#[test]
fn only_name_becomes_the_display_name() {
    let identity = login_with_claims(None, |c| {
        c.remove("given_name");
        c.remove("family_name");
        c.remove("birthdate");
    })
    .unwrap();
    assert_eq!(identity.display_name(), "Sjöström Åsa");
    assert_eq!(identity.given_name(), "");
    assert_eq!(identity.family_name(), "");
    assert_eq!(identity.birth_date(), Some(date!(1986 - 08 - 28)));
}

#[test]
fn no_names_at_all_is_refused() {
    let result = login_with_claims(None, |c| {
        c.remove("given_name");
        c.remove("family_name");
        c.remove("name");
    });
    assert_eq!(code_of(result), "ftn.names");
}

#[test]
fn jku_x5u_x5c_headers_cause_no_fetch() {
    let h = harness();
    let login = start(&h, None, Language::Fi);
    let mut header = Map::new();
    header.insert("jku".to_owned(), Value::from("https://evil.example/jwks"));
    header.insert("x5u".to_owned(), Value::from("https://evil.example/cert"));
    header.insert("x5c".to_owned(), json!(["MIIB"]));
    let jws = sign_with_header(&good_claims(&login), &keys().bank, BANK_KID, header);
    deliver(&h, &login, None, &encrypt(&jws)).unwrap();
    let urls: Vec<String> = h.http.requests().into_iter().map(|r| r.url).collect();
    assert_eq!(urls, vec![TOKEN.to_owned()]);
}

#[test]
fn an_embedded_jwk_is_refused() {
    let h = harness();
    let login = start(&h, None, Language::Fi);
    // A token signed by an attacker key, carrying that key: must never be verified with it.
    let attacker = &keys().bank_rotated;
    let mut header = Map::new();
    header.insert(
        "jwk".to_owned(),
        public_jwk_json(
            &attacker.verifying_key().unwrap(),
            BANK_KID,
            KeyPurpose::Sign(JwsAlg::RS256),
        )
        .unwrap(),
    );
    // sign_jws refuses to write a jwk header, so assemble the token by hand.
    header.insert("alg".to_owned(), Value::from("RS256"));
    header.insert("kid".to_owned(), Value::from(BANK_KID));
    let input = format!(
        "{}.{}",
        b64(&serde_json::to_vec(&header).unwrap()),
        b64(&serde_json::to_vec(&good_claims(&login)).unwrap())
    );
    let sig = attacker.sign(input.as_bytes()).unwrap();
    let jws = format!("{input}.{}", b64(&sig));
    assert_eq!(
        code_of(deliver(&h, &login, None, &encrypt(&jws))),
        "ftn.jws_refused"
    );
}

#[test]
fn key_rotation_is_picked_up_by_one_refetch() {
    let h = harness();
    let login = start(&h, None, Language::Fi);
    h.http.script(
        JWKS,
        json_response(
            200,
            &jwks_doc(&[
                (&keys().bank, BANK_KID),
                (&keys().bank_rotated, "bank-sig-2"),
            ]),
        ),
    );
    let jws = sign_with(&good_claims(&login), &keys().bank_rotated, "bank-sig-2");
    deliver(&h, &login, None, &encrypt(&jws)).unwrap();
    assert_eq!(h.http.count(JWKS), 1);
}

// ---------------------------------------------------------------------------------------------
// Hostile callbacks

#[test]
fn wrong_state_is_refused_without_a_request() {
    let h = harness();
    let login = start(&h, None, Language::Fi);
    let other = start(&h, None, Language::Fi);
    h.http.script(TOKEN, token_response("x"));
    let result = finish_with(
        &h,
        &login,
        None,
        &[
            ("code", "c"),
            ("state", other.state.as_str()),
            ("iss", ISSUER),
        ],
    );
    assert_eq!(code_of(result), "ftn.state_mismatch");
    let missing = finish_with(&h, &login, None, &[("code", "c"), ("iss", ISSUER)]);
    assert_eq!(code_of(missing), "ftn.state_mismatch");
    assert!(h.http.requests().is_empty());
}

#[test]
fn duplicate_state_is_refused() {
    let h = harness();
    let login = start(&h, None, Language::Fi);
    let result = finish_with(
        &h,
        &login,
        None,
        &[
            ("code", "c"),
            ("state", login.state.as_str()),
            ("state", login.state.as_str()),
        ],
    );
    assert_eq!(code_of(result), "duplicate_field");
}

#[test]
fn access_denied_is_a_cancel_without_a_request() {
    let h = harness();
    let login = start(&h, None, Language::Fi);
    for error in ["access_denied", "cancel"] {
        let result = finish_with(
            &h,
            &login,
            None,
            &[
                ("error", error),
                ("error_description", "user cancel"),
                ("state", login.state.as_str()),
                ("iss", ISSUER),
            ],
        );
        assert_eq!(result.unwrap_err(), AdapterError::Cancelled, "{error}");
    }
    assert!(h.http.requests().is_empty());
}

#[test]
fn other_bank_error_is_bank_error_without_a_request() {
    let h = harness();
    let login = start(&h, None, Language::Fi);
    let result = finish_with(
        &h,
        &login,
        None,
        &[("error", "server_error"), ("state", login.state.as_str())],
    );
    assert_eq!(code_of(result), "ftn.bank_error");
    assert!(h.http.requests().is_empty());
}

#[test]
fn iss_parameter_mismatch_is_refused() {
    let h = harness();
    let login = start(&h, None, Language::Fi);
    h.http.script(TOKEN, token_response("x"));
    let result = finish_with(
        &h,
        &login,
        None,
        &[
            ("code", "c"),
            ("state", login.state.as_str()),
            ("iss", "https://other-bank.example/op"),
        ],
    );
    assert_eq!(code_of(result), "ftn.iss_mismatch");
    assert!(h.http.requests().is_empty());
}

#[test]
fn iss_parameter_is_required_when_discovery_advertises_it() {
    let mut doc = discovery_doc();
    doc["authorization_response_iss_parameter_supported"] = Value::from(true);
    let h = harness_with(config(), &doc);
    let login = start(&h, None, Language::Fi);
    let result = finish_with(
        &h,
        &login,
        None,
        &[("code", "c"), ("state", login.state.as_str())],
    );
    assert_eq!(code_of(result), "ftn.iss_missing");
    assert!(h.http.requests().is_empty());
}

#[test]
fn missing_code_is_refused() {
    let h = harness();
    let login = start(&h, None, Language::Fi);
    let result = finish_with(&h, &login, None, &[("state", login.state.as_str())]);
    assert_eq!(code_of(result), "ftn.code_missing");
    assert!(h.http.requests().is_empty());
}

#[test]
fn pending_from_another_bank_is_a_flow_mismatch() {
    let h = harness();
    let mut login = start(&h, None, Language::Fi);
    login.upstream.0["bank"] = Value::from("otherbank");
    let result = finish_with(&h, &login, None, &callback(&login));
    assert_eq!(result.unwrap_err(), AdapterError::FlowMismatch);
    let ctx = FinishContext {
        flow_id: "flow-1",
        requested_loa: None,
        now: NOW,
        pending: None,
        client_certificates: None,
    };
    let input: CallbackInput = callback(&login).into_iter().collect();
    assert_eq!(
        block_on(h.bank.finish(&ctx, &input)).unwrap_err().code(),
        "ftn.pending"
    );
}

// ---------------------------------------------------------------------------------------------
// Hostile token endpoint answers

#[test]
fn token_endpoint_errors_are_refused() {
    let h = harness();
    let login = start(&h, None, Language::Fi);
    h.http.script(
        TOKEN,
        json_response(400, &json!({"error": "invalid_grant"})),
    );
    assert_eq!(
        code_of(finish_with(&h, &login, None, &callback(&login))),
        "ftn.token_http"
    );
    let login = start(&h, None, Language::Fi);
    h.http.script(
        TOKEN,
        HttpResponse {
            status: 200,
            content_type: Some("text/html".to_owned()),
            body: b"<html>".to_vec(),
        },
    );
    assert_eq!(
        code_of(finish_with(&h, &login, None, &callback(&login))),
        "ftn.token_response"
    );
    let login = start(&h, None, Language::Fi);
    assert_eq!(
        code_of(finish_with(&h, &login, None, &callback(&login))),
        "ftn.token_http",
        "unscripted: transport error"
    );
}

#[test]
fn unencrypted_id_token_is_refused() {
    let h = harness();
    let login = start(&h, None, Language::Fi);
    let plain = bank_sign(&good_claims(&login));
    assert_eq!(
        code_of(deliver(&h, &login, None, &plain)),
        "ftn.id_token_not_encrypted"
    );
}

#[test]
fn jwe_algorithm_outside_the_allowlist_is_refused() {
    let h = harness();
    let login = start(&h, None, Language::Fi);
    let token = encrypt_with(
        &bank_sign(&good_claims(&login)),
        JweAlg::RsaOaep256,
        JweEnc::A128CbcHs256,
    );
    assert_eq!(
        code_of(deliver(&h, &login, None, &token)),
        "ftn.jwe_refused"
    );
}

#[test]
fn alg_none_is_refused() {
    let h = harness();
    let login = start(&h, None, Language::Fi);
    let header = json!({"alg": "none", "kid": BANK_KID});
    let jws = format!(
        "{}.{}.",
        b64(&serde_json::to_vec(&header).unwrap()),
        b64(&serde_json::to_vec(&good_claims(&login)).unwrap())
    );
    assert_eq!(
        code_of(deliver(&h, &login, None, &encrypt(&jws))),
        "ftn.jws_alg_refused"
    );
}

#[test]
fn hs256_signed_with_the_bank_public_key_is_refused() {
    let h = harness();
    let login = start(&h, None, Language::Fi);
    let header = json!({"alg": "HS256", "kid": BANK_KID, "typ": "JWT"});
    let input = format!(
        "{}.{}",
        b64(&serde_json::to_vec(&header).unwrap()),
        b64(&serde_json::to_vec(&good_claims(&login)).unwrap())
    );
    let secret = keys().bank.public_key_spki_der();
    let jws = format!("{input}.{}", b64(&hmac_sha256(&secret, input.as_bytes())));
    assert_eq!(
        code_of(deliver(&h, &login, None, &encrypt(&jws))),
        "ftn.jws_alg_refused"
    );
    assert!(h.http.count(JWKS) == 0, "refused before any key lookup");
}

#[test]
fn tampered_signature_is_refused() {
    let h = harness();
    let login = start(&h, None, Language::Fi);
    let jws = bank_sign(&good_claims(&login));
    // Swap the payload for another claim set under the same signature.
    let mut forged = good_claims(&login);
    forged.insert("sub".to_owned(), Value::from("someone-else"));
    let parts: Vec<&str> = jws.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(&serde_json::to_vec(&forged).unwrap()),
        parts[2]
    );
    assert_eq!(
        code_of(deliver(&h, &login, None, &encrypt(&tampered))),
        "ftn.bad_signature"
    );
}

#[test]
fn unknown_kid_refetches_exactly_once_then_fails() {
    let h = harness();
    let login = start(&h, None, Language::Fi);
    // The bank's JWKS still lacks the kid after the refetch.
    h.http.script(
        JWKS,
        json_response(200, &jwks_doc(&[(&keys().bank, BANK_KID)])),
    );
    h.http.script(
        JWKS,
        json_response(200, &jwks_doc(&[(&keys().bank, BANK_KID)])),
    );
    let jws = sign_with(&good_claims(&login), &keys().bank_rotated, "unknown-kid");
    assert_eq!(
        code_of(deliver(&h, &login, None, &encrypt(&jws))),
        "ftn.unknown_kid"
    );
    assert_eq!(h.http.count(JWKS), 1, "exactly one refetch");

    // Within the 60 s rate limit a second unknown kid refetches nothing.
    let login = start(&h, None, Language::Fi);
    let jws = sign_with(&good_claims(&login), &keys().bank_rotated, "unknown-kid");
    assert_eq!(
        code_of(deliver(&h, &login, None, &encrypt(&jws))),
        "ftn.unknown_kid"
    );
    assert_eq!(h.http.count(JWKS), 1, "rate limited");
}

#[test]
fn expired_id_token_is_refused() {
    let result = login_with_claims(None, |c| {
        let exp = NOW.unix_timestamp() - 61;
        c.insert("exp".to_owned(), Value::from(exp));
    });
    assert_eq!(code_of(result), "ftn.expired");
}

#[test]
fn iat_too_old_or_in_the_future_is_refused() {
    let old = login_with_claims(None, |c| {
        c.insert(
            "iat".to_owned(),
            Value::from(NOW.unix_timestamp() - 11 * 60 - 61),
        );
    });
    assert_eq!(code_of(old), "ftn.iat");
    let future = login_with_claims(None, |c| {
        c.insert("iat".to_owned(), Value::from(NOW.unix_timestamp() + 120));
    });
    assert_eq!(code_of(future), "ftn.iat");
}

#[test]
fn wrong_nonce_is_refused() {
    let result = login_with_claims(None, |c| {
        c.insert(
            "nonce".to_owned(),
            Value::from("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        );
    });
    assert_eq!(code_of(result), "ftn.nonce_mismatch");
    let missing = login_with_claims(None, |c| {
        c.remove("nonce");
    });
    assert_eq!(code_of(missing), "ftn.nonce_mismatch");
}

#[test]
fn wrong_aud_is_refused() {
    let result = login_with_claims(None, |c| {
        c.insert("aud".to_owned(), Value::from("another-client"));
    });
    assert_eq!(code_of(result), "ftn.claims_aud");
}

#[test]
fn several_audiences_need_azp() {
    let no_azp = login_with_claims(None, |c| {
        c.insert("aud".to_owned(), json!([CLIENT_ID, "another-client"]));
    });
    assert_eq!(code_of(no_azp), "ftn.claims_azp");
    let wrong_azp = login_with_claims(None, |c| {
        c.insert("aud".to_owned(), json!([CLIENT_ID, "another-client"]));
        c.insert("azp".to_owned(), Value::from("another-client"));
    });
    assert_eq!(code_of(wrong_azp), "ftn.claims_azp");
    let ok = login_with_claims(None, |c| {
        c.insert("aud".to_owned(), json!([CLIENT_ID, "another-client"]));
        c.insert("azp".to_owned(), Value::from(CLIENT_ID));
    });
    assert!(ok.is_ok(), "{ok:?}");
}

#[test]
fn wrong_iss_is_refused() {
    let result = login_with_claims(None, |c| {
        c.insert("iss".to_owned(), Value::from("https://bank.example/op/"));
    });
    assert_eq!(code_of(result), "ftn.claims_iss");
}

#[test]
fn acr_below_requested_is_refused() {
    let result = login_with_claims(Some(LevelOfAssurance::FtnHigh), |c| {
        c.insert("acr".to_owned(), Value::from(LOA2));
    });
    assert_eq!(code_of(result), "ftn.acr_too_low");
    let eidas = login_with_claims(Some(LevelOfAssurance::EidasHigh), |c| {
        c.insert("acr".to_owned(), Value::from(LOA2));
    });
    assert_eq!(code_of(eidas), "ftn.acr_too_low");
}

#[test]
fn unknown_and_test_acr_values() {
    let unknown = login_with_claims(None, |c| {
        c.insert(
            "acr".to_owned(),
            Value::from("http://ftn.ficora.fi/2017/loa1"),
        );
    });
    assert_eq!(code_of(unknown), "ftn.acr_unknown");
    let test_in_production = login_with_claims(None, |c| {
        c.insert(
            "acr".to_owned(),
            Value::from("http://ftn.ficora.fi/2017/loatest2"),
        );
    });
    assert_eq!(code_of(test_in_production), "ftn.acr_unknown");
    let eidas_uri = login_with_claims(None, |c| {
        c.insert(
            "acr".to_owned(),
            Value::from("http://eidas.europa.eu/LoA/high"),
        );
    });
    assert_eq!(code_of(eidas_uri), "ftn.acr_unknown");

    let mut cfg = config();
    cfg.test_environment = true;
    let h = harness_with(cfg, &discovery_doc());
    let login = start(&h, None, Language::Fi);
    let mut claims = good_claims(&login);
    claims.insert(
        "acr".to_owned(),
        Value::from("http://ftn.ficora.fi/2017/loatest3"),
    );
    let identity = deliver(&h, &login, None, &encrypt(&bank_sign(&claims))).unwrap();
    assert_eq!(identity.loa(), LevelOfAssurance::FtnHigh);
}

/// The bank of [`harness`] with test-series identity codes refused.
fn harness_refusing_test_codes() -> Harness {
    let Harness { bank, http } = harness();
    let bank = bank.refuse_test_identity_codes(true);
    assert!(bank.refuses_test_identity_codes());
    Harness { bank, http }
}

#[test]
fn test_series_hetu_is_accepted_by_default() {
    assert!(!harness().bank.refuses_test_identity_codes());
    for first_ten in ["010190-900", "010190-999", "311299Y919"] {
        let code = hetu_with_check(first_ten);
        let c = code.clone();
        let identity = login_with_claims(None, move |claims| {
            claims.insert("personal_identity_code".to_owned(), Value::from(c));
            claims.remove("birthdate");
        })
        .unwrap();
        let national_id = identity.national_id().unwrap();
        assert_eq!(national_id.expose(), code);
        assert!(national_id.is_test_series(), "{code}");
    }
}

#[test]
fn test_series_hetu_is_refused_when_the_bank_is_set_to() {
    let h = harness_refusing_test_codes();
    // The fixture's own code (with its matching birthdate) is of the test series.
    let err = login_at(&h, None, |_| {}).unwrap_err();
    assert_eq!(err, AdapterError::Bank(FtnError::TestIdentityCode));
    let h = harness_refusing_test_codes();
    let err = login_at(&h, None, |c| {
        c.insert(
            "personal_identity_code".to_owned(),
            Value::from(hetu_with_check("010190-999")),
        );
        c.remove("birthdate");
    })
    .unwrap_err();
    assert_eq!(err.code(), FtnError::TestIdentityCode.code());

    // An invalid code is still an invalid code, whatever the setting.
    let h = harness_refusing_test_codes();
    let invalid = login_at(&h, None, |c| {
        c.insert(
            "personal_identity_code".to_owned(),
            Value::from("280886-986J"),
        );
    });
    assert_eq!(code_of(invalid), "ftn.national_id");

    // A code outside the test series passes (DVV's documented example).
    let h = harness_refusing_test_codes();
    let identity = login_at(&h, None, |c| {
        c.insert(
            "personal_identity_code".to_owned(),
            Value::from("131052-308T"),
        );
        c.remove("birthdate");
    })
    .unwrap();
    assert!(!identity.national_id().unwrap().is_test_series());
}

#[test]
fn invalid_or_missing_hetu_is_refused() {
    let unassigned = hetu_with_check("010190-001");
    let result = login_with_claims(None, |c| {
        c.insert("personal_identity_code".to_owned(), Value::from(unassigned));
        c.remove("birthdate");
    });
    assert_eq!(code_of(result), "ftn.national_id");
    let invalid = login_with_claims(None, |c| {
        c.insert(
            "personal_identity_code".to_owned(),
            Value::from("280886-986J"),
        );
    });
    assert_eq!(code_of(invalid), "ftn.national_id");
    let missing = login_with_claims(None, |c| {
        c.remove("personal_identity_code");
    });
    assert_eq!(code_of(missing), "ftn.national_id_missing");
}

#[test]
fn birthdate_mismatch_is_refused() {
    let result = login_with_claims(None, |c| {
        c.insert("birthdate".to_owned(), Value::from("1986-08-29"));
    });
    assert_eq!(code_of(result), "ftn.birthdate_mismatch");
    let malformed = login_with_claims(None, |c| {
        c.insert("birthdate".to_owned(), Value::from("28.8.1986"));
    });
    assert_eq!(code_of(malformed), "ftn.birthdate_mismatch");
}

#[test]
fn missing_sub_is_refused() {
    let result = login_with_claims(None, |c| {
        c.remove("sub");
    });
    assert_eq!(code_of(result), "ftn.claims_invalid");
}

// ---------------------------------------------------------------------------------------------
// Userinfo

fn userinfo_harness() -> Harness {
    let mut cfg = config();
    cfg.userinfo = true;
    harness_with(cfg, &discovery_doc())
}

fn jwt_response(body: &str) -> HttpResponse {
    HttpResponse {
        status: 200,
        content_type: Some("application/jwt".to_owned()),
        body: body.as_bytes().to_vec(),
    }
}

#[test]
fn encrypted_userinfo_fills_missing_claims() {
    let h = userinfo_harness();
    let login = start(&h, None, Language::Fi);
    let mut claims = good_claims(&login);
    for name in [
        "personal_identity_code",
        "given_name",
        "family_name",
        "name",
    ] {
        claims.remove(name);
    }
    let Value::Object(userinfo) = json!({
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "sub": SUB,
        "personal_identity_code": HETU,
        "given_name": "Åsa",
        "family_name": "Sjöström",
        "birthdate": "1999-01-01",
    }) else {
        unreachable!()
    };
    h.http
        .script(USERINFO, jwt_response(&encrypt(&bank_sign(&userinfo))));
    let identity = deliver(&h, &login, None, &encrypt(&bank_sign(&claims))).unwrap();
    assert_eq!(identity.national_id().unwrap().expose(), HETU);
    assert_eq!(identity.given_name(), "Åsa");
    assert_eq!(
        identity.birth_date(),
        Some(date!(1986 - 08 - 28)),
        "the ID token's birthdate wins over userinfo's"
    );
    let requests = h.http.requests();
    assert_eq!(requests.len(), 2);
    let userinfo_request = &requests[1];
    assert_eq!(userinfo_request.url, USERINFO);
    assert_eq!(userinfo_request.method, HttpMethod::Get);
    assert!(userinfo_request.headers.contains(&(
        "Authorization".to_owned(),
        "Bearer at-secret-123".to_owned()
    )));
    assert!(!format!("{userinfo_request:?}").contains("at-secret-123"));
}

#[test]
fn userinfo_sub_mismatch_is_refused() {
    let h = userinfo_harness();
    let login = start(&h, None, Language::Fi);
    h.http.script(
        USERINFO,
        json_response(200, &json!({"sub": "someone-else", "given_name": "X"})),
    );
    let result = deliver(&h, &login, None, &encrypt(&bank_sign(&good_claims(&login))));
    assert_eq!(code_of(result), "ftn.userinfo_sub_mismatch");
}

#[test]
fn userinfo_failures_are_refused() {
    let h = userinfo_harness();
    let login = start(&h, None, Language::Fi);
    h.http.script(USERINFO, json_response(401, &json!({})));
    let result = deliver(&h, &login, None, &encrypt(&bank_sign(&good_claims(&login))));
    assert_eq!(code_of(result), "ftn.userinfo_http");

    let login = start(&h, None, Language::Fi);
    let mut forged = good_claims(&login);
    forged.insert("iss".to_owned(), Value::from("https://evil.example"));
    h.http.script(USERINFO, jwt_response(&bank_sign(&forged)));
    let result = deliver(&h, &login, None, &encrypt(&bank_sign(&good_claims(&login))));
    assert_eq!(code_of(result), "ftn.claims_iss");
}

// ---------------------------------------------------------------------------------------------
// Discovery and refresh

#[test]
fn discovery_issuer_mismatch_is_refused() {
    let h = unrefreshed(config());
    let mut doc = discovery_doc();
    doc["issuer"] = Value::from("https://bank.example/op/");
    h.http.script(DISCOVERY, json_response(200, &doc));
    let err = block_on(h.bank.refresh(NOW)).unwrap_err();
    assert_eq!(err.code(), "ftn.discovery");
    assert!(!h.bank.is_ready());
    assert_eq!(h.http.count(JWKS), 0, "no JWKS fetch after a bad discovery");
}

#[test]
fn discovery_with_insecure_endpoint_is_refused() {
    let h = unrefreshed(config());
    let mut doc = discovery_doc();
    doc["token_endpoint"] = Value::from("http://bank.example/op/token");
    h.http.script(DISCOVERY, json_response(200, &doc));
    assert_eq!(
        block_on(h.bank.refresh(NOW)).unwrap_err().code(),
        "ftn.discovery"
    );
}

#[test]
fn empty_or_broken_jwks_is_refused_and_keeps_old_keys() {
    let h = harness();
    h.http
        .script(DISCOVERY, json_response(200, &discovery_doc()));
    h.http
        .script(JWKS, json_response(200, &json!({"keys": []})));
    assert_eq!(
        block_on(h.bank.refresh(NOW + Duration::hours(1)))
            .unwrap_err()
            .code(),
        "ftn.jwks"
    );
    assert_eq!(h.bank.last_refresh(), Some(NOW), "previous state kept");
    let login = start(&h, None, Language::Fi);
    deliver(&h, &login, None, &encrypt(&bank_sign(&good_claims(&login)))).unwrap();
}

#[test]
fn start_before_refresh_fails_clearly() {
    let h = unrefreshed(config());
    let ctx = StartContext {
        flow_id: "flow-1",
        language: Language::Fi,
        requested_loa: None,
        force_authn: false,
        now: NOW,
    };
    assert_eq!(h.bank.start(&ctx).unwrap_err().code(), "ftn.discovery");
}

// ---------------------------------------------------------------------------------------------
// Configuration and error surface

#[test]
fn new_refuses_keys_that_do_not_fit() {
    let mut cfg = config();
    cfg.request_object_alg = JwsAlg::ES256;
    let http: Arc<dyn HttpClient> = Arc::new(FakeHttp::default());
    let err = FtnBank::new(
        cfg,
        Arc::new(rp_keys()),
        Arc::clone(&http),
        Arc::new(SystemRandomSource),
    )
    .unwrap_err();
    assert_eq!(err.code(), "ftn.config");
    let mut rp = rp_keys();
    rp.decryption.clear();
    let err = FtnBank::new(config(), Arc::new(rp), http, Arc::new(SystemRandomSource)).unwrap_err();
    assert_eq!(err.code(), "ftn.config");
}

#[test]
fn validate_reports_every_problem() {
    assert_eq!(config().validate(), Ok(()));
    let mut cfg = config();
    cfg.id = "Bad_ID".to_owned();
    cfg.issuer = "http://bank.example".to_owned();
    cfg.redirect_uri = "https://gw.example/cb#frag".to_owned();
    cfg.scope = vec!["profile".to_owned()];
    cfg.id_token_signing_algs.clear();
    cfg.id_token_encryption_algs.clear();
    cfg.id_token_encryption_encs.clear();
    cfg.display_name_sv = String::new();
    cfg.max_loa = LevelOfAssurance::EidasHigh;
    cfg.endpoints = Endpoints::Static {
        authorization_endpoint: "ftp://bank.example/auth".to_owned(),
        token_endpoint: "https://user:pw@bank.example/token".to_owned(),
        userinfo_endpoint: None,
        jwks_uri: "http://127.0.0.1:8080/jwks".to_owned(),
    };
    cfg.userinfo = true;
    let problems = cfg.validate().unwrap_err();
    let text = problems.join("\n");
    for needle in [
        "bank id",
        "issuer",
        "redirect_uri",
        "openid",
        "id_token_signing_algs",
        "algs is empty",
        "encs is empty",
        "display name (sv)",
        "max_loa",
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    assert!(
        !text.contains("jwks_uri"),
        "loopback http is allowed:\n{text}"
    );
    assert_eq!(problems.len(), 12, "{text}");
}

#[test]
fn loopback_http_and_localhost_are_allowed() {
    let mut cfg = config();
    cfg.issuer = "http://127.0.0.1:47001".to_owned();
    cfg.redirect_uri = "http://localhost:8080/login/bank/testpankki/callback".to_owned();
    assert_eq!(cfg.validate(), Ok(()));
    cfg.issuer = "http://[::1]:47001".to_owned();
    assert_eq!(cfg.validate(), Ok(()));
    cfg.issuer = "http://10.0.0.1:47001".to_owned();
    assert!(cfg.validate().is_err());
}

#[test]
fn error_codes_are_distinct_and_map_to_adapter_errors() {
    let all = [
        FtnError::Config(vec![]),
        FtnError::Discovery(""),
        FtnError::Jwks(""),
        FtnError::Pending,
        FtnError::FlowMismatch,
        FtnError::StateMismatch,
        FtnError::IssMismatch,
        FtnError::IssMissing,
        FtnError::Cancelled,
        FtnError::BankError,
        FtnError::CodeMissing,
        FtnError::TokenHttp(String::new()),
        FtnError::TokenResponse(""),
        FtnError::IdTokenNotEncrypted,
        FtnError::JweRefused(""),
        FtnError::JweDecrypt,
        FtnError::JwsAlgRefused,
        FtnError::JwsRefused(""),
        FtnError::UnknownKid,
        FtnError::BadSignature,
        FtnError::ClaimsInvalid(""),
        FtnError::ClaimsIss,
        FtnError::ClaimsAud,
        FtnError::ClaimsAzp,
        FtnError::Expired,
        FtnError::Iat,
        FtnError::NonceMismatch,
        FtnError::AcrUnknown,
        FtnError::AcrTooLow,
        FtnError::NationalIdMissing,
        FtnError::NationalId(crate::hetu::HetuError::CheckCharacter),
        FtnError::TestIdentityCode,
        FtnError::BirthdateMismatch,
        FtnError::Names,
        FtnError::UserinfoSubMismatch,
        FtnError::UserinfoHttp(String::new()),
        FtnError::UserinfoResponse(""),
        FtnError::Internal(""),
    ];
    let mut codes: Vec<&str> = all.iter().map(FtnError::code).collect();
    assert!(codes.iter().all(|c| c.starts_with("ftn.")));
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), all.len());
    assert_eq!(
        AdapterError::from(FtnError::NonceMismatch),
        AdapterError::Bank(FtnError::NonceMismatch)
    );
    assert_eq!(
        AdapterError::from(FtnError::Cancelled),
        AdapterError::Cancelled
    );
    assert_eq!(
        AdapterError::from(FtnError::FlowMismatch),
        AdapterError::FlowMismatch
    );
}

#[test]
fn refusal_messages_do_not_echo_values() {
    let unassigned = hetu_with_check("010190-000");
    let err = login_with_claims(None, move |c| {
        c.insert("personal_identity_code".to_owned(), Value::from(unassigned));
        c.remove("birthdate");
    })
    .unwrap_err();
    assert!(!err.to_string().contains("010190"), "{err}");
    let refused = login_at(&harness_refusing_test_codes(), None, |_| {}).unwrap_err();
    assert!(!refused.to_string().contains("280886"), "{refused}");
    assert!(!FtnError::TestIdentityCode.to_string().contains("280886"));
    let rp = rp_keys();
    let debug = format!("{rp:?}");
    assert!(
        debug.contains(RP_SIG_KID) && debug.contains(RP_ENC_KID),
        "{debug}"
    );
}

#[test]
fn plain_json_userinfo_cannot_supply_the_national_id() {
    let h = userinfo_harness();
    let login = start(&h, None, Language::Fi);
    let mut claims = good_claims(&login);
    claims.remove("personal_identity_code");
    let userinfo = json!({ "sub": SUB, "personal_identity_code": HETU, "given_name": "Åsa" });
    h.http.script(USERINFO, json_response(200, &userinfo));
    let err = deliver(&h, &login, None, &encrypt(&bank_sign(&claims))).unwrap_err();
    assert_eq!(err.code(), "ftn.national_id_missing");
}

/// ForceAuthn reaches the bank: `prompt=login` and `max_age=0` in the request object (and the
/// query), and the answer must show an authentication made after this login started.
#[test]
fn force_authn_asks_for_a_fresh_login_and_checks_auth_time() {
    let h = harness();
    let ctx = StartContext {
        flow_id: "flow-1",
        language: Language::Fi,
        requested_loa: None,
        force_authn: true,
        now: NOW,
    };
    let StartAction::RedirectUpstream {
        url,
        state,
        pending,
    } = h.bank.start(&ctx).unwrap()
    else {
        panic!("a redirect upstream")
    };
    let login = Login {
        url,
        state,
        pending: PendingFtn::from_upstream(&pending).unwrap(),
        upstream: pending,
    };
    let q = query(&login.url);
    assert_eq!(q.get("prompt").map(String::as_str), Some("login"));
    assert_eq!(q.get("max_age").map(String::as_str), Some("0"));
    let jar = verify_jwt(&q["request"], &rp_signing_jwks(), &[JwsAlg::RS256], 1 << 16).unwrap();
    assert_eq!(jar.claims.get_str("prompt"), Some("login"));
    assert_eq!(jar.claims.get_i64("max_age"), Some(0));

    let deliver_auth_time = |auth_time: Option<i64>| {
        let mut claims = good_claims(&login);
        match auth_time {
            Some(t) => claims.insert("auth_time".to_owned(), Value::from(t)),
            None => claims.remove("auth_time"),
        };
        deliver(&h, &login, None, &encrypt(&bank_sign(&claims)))
    };
    // The bank answered from an older session (ten minutes before this login started).
    let stale = deliver_auth_time(Some(NOW.unix_timestamp() - 600));
    assert!(
        matches!(&stale, Err(e) if e.code() == "ftn.claims_invalid"),
        "{stale:?}"
    );
    // The bank did not say when.
    let unknown = deliver_auth_time(None);
    assert!(
        matches!(&unknown, Err(e) if e.code() == "ftn.claims_invalid"),
        "{unknown:?}"
    );
    // Authenticated just now.
    let fresh = deliver_auth_time(Some(NOW.unix_timestamp())).unwrap();
    assert_eq!(fresh.authn_instant(), NOW);

    // Without ForceAuthn, neither parameter is sent.
    let plain = start(&h, None, Language::Fi);
    assert!(!query(&plain.url).contains_key("prompt"));
}
