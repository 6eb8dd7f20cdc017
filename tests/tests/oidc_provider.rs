//! The OpenID Connect provider (issue 10 item 6): code flow with PKCE through the test bank, ID
//! and access tokens signed with the provider's key, userinfo, introspection, revocation, RP-
//! initiated and back-channel logout, one SSO session for SAML and OpenID Connect clients; and
//! the hostile cases, each refused for its own reason.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use tests::browser::{Browser, Page};
use tests::harness::{self, PERSON};
use tests::testsp::{RequestOptions, TestSp};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
const SECRET: &str = "s3cret-of-the-basic-client-0123456789abcdef";

struct World {
    dir: tempfile::TempDir,
    base: String,
    _gw: gateway::serve::RunningGateway,
    /// The private_key_jwt client's key.
    client_key: certs::SigningIdentity,
    client_kid: String,
    saml_sp: TestSp,
    /// Logout tokens the back-channel endpoint received.
    logout_tokens: Arc<Mutex<Vec<String>>>,
    _backchannel: tokio::task::JoinHandle<()>,
}

async fn world() -> World {
    world_with("").await
}

/// The world, with `extra` TOML appended to its config (a `[store]` table, say).
async fn world_with(extra: &str) -> World {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    harness::write_idp_files(d);
    let now = time::OffsetDateTime::now_utc();
    let op = certs::SigningIdentity::generate_self_signed("op", certs::KeyKind::Rsa2048, now, 30)
        .unwrap();
    std::fs::write(d.join("op.key"), op.key.to_pkcs8_pem().unwrap()).unwrap();
    std::fs::write(d.join("basic.secret"), SECRET).unwrap();
    let client_key =
        certs::SigningIdentity::generate_self_signed("rp", certs::KeyKind::EcdsaP256, now, 30)
            .unwrap();
    let public = client_key.key.verifying_key().unwrap();
    let client_kid = jose::jwk_thumbprint(&public).unwrap();
    let jwk = jose::public_jwk_json(
        &public,
        &client_kid,
        jose::KeyPurpose::Sign(jose::JwsAlg::ES256),
    )
    .unwrap();
    std::fs::write(d.join("rp.jwks"), json!({ "keys": [jwk] }).to_string()).unwrap();

    // The private_key_jwt client's back-channel logout endpoint.
    let logout_tokens = Arc::new(Mutex::new(Vec::new()));
    let bc_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bc_uri = format!("http://{}/backchannel", bc_listener.local_addr().unwrap());
    let sink = logout_tokens.clone();
    let app = axum::Router::new().route(
        "/backchannel",
        axum::routing::post(move |body: String| {
            let sink = sink.clone();
            async move {
                let token = url::form_urlencoded::parse(body.as_bytes())
                    .find(|(k, _)| k == "logout_token")
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default();
                sink.lock().unwrap().push(token);
                "ok"
            }
        }),
    );
    let backchannel = tokio::spawn(async move {
        let _ = axum::serve(bc_listener, app).await;
    });

    let saml_sp = TestSp::new("saml", "https://saml.sp.example", false);
    let md = saml_sp.write_metadata(d);
    let toml = format!(
        r#"
environment = "test"
[server]
listen = "127.0.0.1:0"
public_url = "{base}"
[keys]
signing_key = "idp.key"
signing_cert = "idp.crt"
pairwise_secret_file = "pairwise.secret"
[methods.testbank]
enabled = true
[[service_providers]]
metadata_file = "{md}"
release = ["national_id", "given_name", "surname"]
[oidc_provider]
signing_key = "op.key"
[[oidc_provider.clients]]
client_id = "basic-client"
name = "Oma asiointi"
redirect_uris = ["http://127.0.0.1:9/cb"]
post_logout_redirect_uris = ["http://127.0.0.1:9/bye"]
auth = "client_secret_basic"
secret_file = "basic.secret"
scopes = ["openid", "profile", "national_id"]
[[oidc_provider.clients]]
client_id = "jwt-client"
redirect_uris = ["http://localhost:9/callback"]
auth = "private_key_jwt"
jwks_file = "rp.jwks"
scopes = ["openid", "profile"]
backchannel_logout_uri = "{bc_uri}"
{extra}
"#,
        md = md.display()
    );
    let gw = harness::serve_toml(d, listener, &toml).await;
    World {
        dir,
        base,
        _gw: gw,
        client_key,
        client_kid,
        saml_sp,
        logout_tokens,
        _backchannel: backchannel,
    }
}

/// One authorization request's secrets, as a client keeps them.
struct Auth {
    url: String,
    state: String,
    nonce: String,
    verifier: String,
}

fn random() -> String {
    certs::random_token(&certs::SystemRandomSource).unwrap()
}

impl World {
    fn authorize_url(&self, client: &str, redirect: &str, scope: &str, extra: &str) -> Auth {
        let verifier = random();
        let challenge = B64.encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            verifier.as_bytes(),
        ));
        let (state, nonce) = (random(), random());
        let url = format!(
            "{}/oidc/authorize?response_type=code&client_id={client}&redirect_uri={}&scope={}&state={state}&nonce={nonce}&code_challenge={challenge}&code_challenge_method=S256{extra}",
            self.base,
            url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>(),
            url::form_urlencoded::byte_serialize(scope.as_bytes()).collect::<String>(),
        );
        Auth {
            url,
            state,
            nonce,
            verifier,
        }
    }

    /// Through the test bank to the redirect back: the code.
    async fn login(&self, b: &Browser, auth: &Auth) -> String {
        let first = b.get(&auth.url).await;
        let done = harness::through_testbank(b, first, &[("national_id", PERSON)]).await;
        code_of(&done, &auth.state, &self.base)
    }

    async fn token_basic(&self, fields: &[(&str, &str)], secret: &str) -> (u16, Value) {
        let c = reqwest::Client::new();
        let r = c
            .post(format!("{}/oidc/token", self.base))
            .basic_auth("basic-client", Some(secret))
            .form(fields)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    fn client_assertion(&self, aud: &str, jti: &str) -> String {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let claims = json!({ "iss": "jwt-client", "sub": "jwt-client", "aud": aud, "jti": jti, "iat": now, "exp": now + 60 });
        jose::sign_jws(
            serde_json::Map::new(),
            claims.to_string().as_bytes(),
            &self.client_key.key,
            &self.client_kid,
            jose::JwsAlg::ES256,
        )
        .unwrap()
    }

    async fn post_jwt_client(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        assertion: &str,
    ) -> (u16, Value) {
        let mut f: Vec<(&str, &str)> = fields.to_vec();
        f.push((
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ));
        f.push(("client_assertion", assertion));
        let r = reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .form(&f)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn introspect(&self, token: &str) -> Value {
        let c = reqwest::Client::new();
        let r = c
            .post(format!("{}/oidc/introspect", self.base))
            .basic_auth("basic-client", Some(SECRET))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    async fn userinfo(&self, token: &str) -> (u16, Value) {
        let r = reqwest::Client::new()
            .get(format!("{}/oidc/userinfo", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn op_jwks(&self) -> jose::JwkSet {
        let text = reqwest::get(format!("{}/oidc/op/jwks", self.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        jose::JwkSet::from_json(text.as_bytes(), 8).unwrap()
    }
}

fn code_of(page: &Page, state: &str, base: &str) -> String {
    assert_eq!(page.status, 303, "{}", page.body);
    let to = url::Url::parse(page.location.as_deref().unwrap()).unwrap();
    let q: std::collections::HashMap<String, String> = to.query_pairs().into_owned().collect();
    assert_eq!(q.get("state").map(String::as_str), Some(state), "{to}");
    assert_eq!(q.get("iss").map(String::as_str), Some(base), "{to}");
    q.get("code")
        .unwrap_or_else(|| panic!("no code: {to}"))
        .clone()
}

fn code_fields<'a>(code: &'a str, redirect: &'a str, verifier: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect),
        ("code_verifier", verifier),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_flow_tokens_userinfo_introspection_and_one_session_for_saml_too() {
    let w = world().await;
    let disco: Value = reqwest::get(format!("{}/.well-known/openid-configuration", w.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(disco["issuer"], w.base.as_str());
    assert_eq!(disco["code_challenge_methods_supported"], json!(["S256"]));

    let b = Browser::new();
    let redirect = "http://127.0.0.1:9/cb";
    let auth = w.authorize_url(
        "basic-client",
        redirect,
        "openid profile national_id",
        "&ui_locales=sv",
    );
    let code = w.login(&b, &auth).await;
    let (status, tokens) = w
        .token_basic(&code_fields(&code, redirect, &auth.verifier), SECRET)
        .await;
    assert_eq!(status, 200, "{tokens}");
    let jwks = w.op_jwks().await;
    let id = jose::verify_jwt(
        tokens["id_token"].as_str().unwrap(),
        &jwks,
        &[jose::JwsAlg::RS256],
        16_000,
    )
    .unwrap();
    let c = &id.claims;
    assert_eq!(c.get_str("iss"), Some(w.base.as_str()));
    assert_eq!(c.get_str("aud"), Some("basic-client"));
    assert_eq!(c.get_str("nonce"), Some(auth.nonce.as_str()));
    assert_eq!(c.get_str("national_id"), Some(PERSON));
    assert_eq!(
        id.header.kid.as_deref(),
        Some(jwks.keys()[0].kid().unwrap())
    );
    let sub = c.get_str("sub").unwrap().to_owned();
    assert!(
        !sub.contains(PERSON),
        "a pairwise subject, not the national id"
    );

    let at = tokens["access_token"].as_str().unwrap();
    let (status, info) = w.userinfo(at).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["sub"], sub.as_str());
    assert_eq!(info["national_id"], PERSON);
    let intro = w.introspect(at).await;
    assert_eq!(intro["active"], true, "{intro}");
    assert_eq!(intro["client_id"], "basic-client");

    // The same SSO session answers a SAML service at once, and the other client too.
    let sso = format!("{}/saml/idp/sso", w.base);
    let (xml, _) = w.saml_sp.request_xml(&sso, &RequestOptions::default());
    let hit = b
        .get(&w.saml_sp.redirect_url(&sso, &xml, None, false))
        .await;
    assert_eq!(
        hit.status, 200,
        "SAML SSO from the OpenID Connect login: {}",
        hit.body
    );
    assert!(hit.saml_response_b64().is_some());
    let auth2 = w.authorize_url(
        "jwt-client",
        "http://localhost:9/callback",
        "openid profile",
        "",
    );
    let again = b.get(&auth2.url).await;
    let code2 = code_of(&again, &auth2.state, &w.base);
    let assertion = w.client_assertion(&format!("{}/oidc/token", w.base), &random());
    let (status, t2) = w
        .post_jwt_client(
            "/oidc/token",
            &code_fields(&code2, "http://localhost:9/callback", &auth2.verifier),
            &assertion,
        )
        .await;
    assert_eq!(status, 200, "{t2}");
    let id2 = jose::verify_jwt(
        t2["id_token"].as_str().unwrap(),
        &jwks,
        &[jose::JwsAlg::RS256],
        16_000,
    )
    .unwrap();
    assert_ne!(
        id2.claims.get_str("sub"),
        Some(sub.as_str()),
        "pairwise: another client, another subject"
    );
    assert_eq!(id2.claims.get_str("sid"), c.get_str("sid"), "one session");

    // Revocation: the client's own token stops working at once.
    let c2 = reqwest::Client::new();
    let r = c2
        .post(format!("{}/oidc/revoke", w.base))
        .basic_auth("basic-client", Some(SECRET))
        .form(&[("token", at)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(w.introspect(at).await["active"], false);
    assert_eq!(w.userinfo(at).await.0, 401);

    // Logout (the citizen's, at the gateway) ends every token of the session, and the client
    // with a back-channel endpoint gets a logout token for the session.
    let at2 = t2["access_token"].as_str().unwrap();
    assert_eq!(w.introspect(at2).await["active"], true);
    let form = b.get(&format!("{}/logout", w.base)).await;
    let page = b.submit(&form, None, &[]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(
        w.introspect(at2).await["active"],
        false,
        "a token of a logged-out session"
    );
    assert_eq!(w.userinfo(at2).await.0, 401);
    let mut tokens_seen = Vec::new();
    for _ in 0..50 {
        tokens_seen = w.logout_tokens.lock().unwrap().clone();
        if !tokens_seen.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        tokens_seen.len(),
        1,
        "one logout token, to the client with a back-channel endpoint"
    );
    let lt = jose::verify_jwt(&tokens_seen[0], &jwks, &[jose::JwsAlg::RS256], 16_000).unwrap();
    assert_eq!(lt.header.typ.as_deref(), Some("logout+jwt"));
    assert_eq!(lt.claims.get_str("aud"), Some("jwt-client"));
    assert_eq!(lt.claims.get_str("sid"), c.get_str("sid"));
    assert!(lt
        .claims
        .get("events")
        .unwrap()
        .get("http://schemas.openid.net/event/backchannel-logout")
        .is_some());
    assert!(
        lt.claims.get("nonce").is_none(),
        "a logout token carries no nonce"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_are_refused_each_for_its_reason() {
    let w = world().await;
    let b = Browser::new();
    let redirect = "http://127.0.0.1:9/cb";

    // A redirect_uri not registered exactly: an error page, never a redirect there.
    for bad in [
        "http://127.0.0.1:9/cb/",
        "http://127.0.0.1:9/cb?x=1",
        "https://evil.example/cb",
    ] {
        let a = w.authorize_url("basic-client", bad, "openid", "");
        let page = b.get(&a.url).await;
        assert_eq!(page.status, 400, "{bad}: {}", page.body);
        assert!(page.location.is_none());
    }
    // An unknown client: the same.
    let page = b
        .get(&w.authorize_url("nobody", redirect, "openid", "").url)
        .await;
    assert_eq!(page.status, 400);
    // No PKCE, or plain: an error back to the (registered) client.
    let a = w.authorize_url("basic-client", redirect, "openid", "");
    let plain = a
        .url
        .replace("code_challenge_method=S256", "code_challenge_method=plain");
    let back = b.get(&plain).await;
    assert_eq!(back.status, 303);
    assert!(back.location.unwrap().contains("error=invalid_request"));
    // prompt=none without a session: login_required.
    let a = w.authorize_url("basic-client", redirect, "openid", "&prompt=none");
    let back = b.get(&a.url).await;
    assert!(back.location.unwrap().contains("error=login_required"));

    // A code: missing verifier, a wrong one, another client, then the real exchange, then replay.
    let auth = w.authorize_url("basic-client", redirect, "openid profile", "");
    let code = w.login(&b, &auth).await;
    let no_verifier = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect),
    ];
    let (status, e) = w.token_basic(&no_verifier, SECRET).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "{e}"
    );
    // The code was taken by that attempt: PKCE failing still uses it up, as it must (a stolen
    // code cannot be tried again with guesses).
    let (status, e) = w
        .token_basic(&code_fields(&code, redirect, &auth.verifier), SECRET)
        .await;
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "{e}"
    );

    let auth = w.authorize_url("basic-client", redirect, "openid profile", "");
    let code = code_of(&b.get(&auth.url).await, &auth.state, &w.base);
    let (status, e) = w
        .token_basic(&code_fields(&code, redirect, &random()), SECRET)
        .await;
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "wrong verifier: {e}"
    );

    let auth = w.authorize_url("basic-client", redirect, "openid profile", "");
    let code = code_of(&b.get(&auth.url).await, &auth.state, &w.base);
    let (status, e) = w
        .token_basic(
            &code_fields(&code, redirect, &auth.verifier),
            "wrong-secret",
        )
        .await;
    assert_eq!(
        (status, e["error"].as_str()),
        (401, Some("invalid_client")),
        "{e}"
    );
    let (status, tokens) = w
        .token_basic(&code_fields(&code, redirect, &auth.verifier), SECRET)
        .await;
    assert_eq!(
        status, 200,
        "the failed client authentication did not use the code: {tokens}"
    );
    let (status, e) = w
        .token_basic(&code_fields(&code, redirect, &auth.verifier), SECRET)
        .await;
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "code replay: {e}"
    );
    let replayed = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        w.introspect(replayed).await["active"],
        false,
        "the replay revoked the token issued for the code"
    );
    let auth = w.authorize_url("basic-client", redirect, "openid profile", "");
    let code = code_of(&b.get(&auth.url).await, &auth.state, &w.base);
    let (status, tokens) = w
        .token_basic(&code_fields(&code, redirect, &auth.verifier), SECRET)
        .await;
    assert_eq!(status, 200, "{tokens}");

    // Presented tokens that are not ours or not what they claim.
    let at = tokens["access_token"].as_str().unwrap().to_owned();
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();
    let parts: Vec<&str> = at.split('.').collect();
    let payload = parts[1];
    let none = format!(
        "{}.{payload}.",
        B64.encode(br#"{"alg":"none","typ":"at+jwt"}"#)
    );
    let jwks_text = reqwest::get(format!("{}/oidc/op/jwks", w.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let hs_input = format!(
        "{}.{payload}",
        B64.encode(br#"{"alg":"HS256","typ":"at+jwt"}"#)
    );
    let hs = {
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, jwks_text.as_bytes());
        format!(
            "{hs_input}.{}",
            B64.encode(aws_lc_rs::hmac::sign(&key, hs_input.as_bytes()))
        )
    };
    let stranger = certs::SigningIdentity::generate_self_signed(
        "x",
        certs::KeyKind::Rsa2048,
        time::OffsetDateTime::now_utc(),
        1,
    )
    .unwrap();
    let kid = w.op_jwks().await.keys()[0].kid().unwrap().to_owned();
    let foreign = jose::sign_jws(
        serde_json::from_value(json!({"typ": "at+jwt"})).unwrap(),
        &B64.decode(payload).unwrap(),
        &stranger.key,
        &kid,
        jose::JwsAlg::RS256,
    )
    .unwrap();
    for (what, token) in [
        ("alg none", none.as_str()),
        ("HS256 with the public JWKS as the secret", hs.as_str()),
        ("a key not in the JWKS, under our kid", foreign.as_str()),
        ("an ID token used as an access token", id_token.as_str()),
    ] {
        let (status, e) = w.userinfo(token).await;
        assert_eq!(
            (status, e["error"].as_str()),
            (401, Some("invalid_token")),
            "{what}: {e}"
        );
        assert_eq!(w.introspect(token).await["active"], false, "{what}");
    }
    assert_eq!(
        w.userinfo(&at).await.0,
        200,
        "the genuine token still works"
    );

    // private_key_jwt: an assertion replayed, and one for another audience.
    let auth = w.authorize_url("jwt-client", "http://localhost:9/callback", "openid", "");
    let code = code_of(&b.get(&auth.url).await, &auth.state, &w.base);
    let jti = random();
    // Audience the issuer: good at every endpoint, once.
    let good = w.client_assertion(&w.base, &jti);
    let (status, _) = w
        .post_jwt_client("/oidc/introspect", &[("token", &at)], &good)
        .await;
    assert_eq!(status, 200);
    let (status, e) = w
        .post_jwt_client(
            "/oidc/token",
            &code_fields(&code, "http://localhost:9/callback", &auth.verifier),
            &good,
        )
        .await;
    assert_eq!(
        (status, e["error"].as_str()),
        (401, Some("invalid_client")),
        "assertion replay: {e}"
    );
    let other_aud = w.client_assertion("https://elsewhere.example/token", &random());
    let (status, e) = w
        .post_jwt_client(
            "/oidc/token",
            &code_fields(&code, "http://localhost:9/callback", &auth.verifier),
            &other_aud,
        )
        .await;
    assert_eq!(
        (status, e["error"].as_str()),
        (401, Some("invalid_client")),
        "{e}"
    );

    // RP-initiated logout: a post_logout_redirect_uri not registered is an error page; a
    // registered one ends the session and goes back.
    let bad = b.get(&format!("{}/oidc/logout?id_token_hint={id_token}&post_logout_redirect_uri=https://evil.example/", w.base)).await;
    assert_eq!(bad.status, 400);
    let out = b.get(&format!("{}/oidc/logout?id_token_hint={id_token}&post_logout_redirect_uri=http://127.0.0.1:9/bye&state=s1", w.base)).await;
    assert_eq!(out.status, 303, "{}", out.body);
    assert_eq!(
        out.location.as_deref(),
        Some("http://127.0.0.1:9/bye?state=s1")
    );
    assert_eq!(w.introspect(&at).await["active"], false, "logged out");
    let _ = &w.dir;
}

/// Run the Authlib relying party (tests/peers/oidc_rp.py) with `args`; its JSON output.
fn authlib(args: &[&str]) -> Value {
    let out = std::process::Command::new(tests::peers::peers_dir().join(".venv/bin/python"))
        .arg(tests::peers::peers_dir().join("oidc_rp.py"))
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "authlib: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap()
}

/// An independent client library, Authlib, completes the code flow (PKCE, client_secret_basic)
/// and validates the ID token itself (signature by the JWKS, iss, aud, exp, nonce).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authlib_completes_the_code_flow_and_validates_the_id_token() {
    tokio::task::spawn_blocking(tests::peers::ensure_installed)
        .await
        .unwrap();
    let w = world().await;
    let base = w.base.clone();
    let redirect = "http://127.0.0.1:9/cb";
    let a = {
        let base = base.clone();
        tokio::task::spawn_blocking(move || {
            authlib(&[
                "authorize",
                "--issuer",
                &base,
                "--client-id",
                "basic-client",
                "--redirect-uri",
                redirect,
                "--scope",
                "openid profile national_id",
            ])
        })
        .await
        .unwrap()
    };
    let b = Browser::new();
    let first = b.get(a["url"].as_str().unwrap()).await;
    let done = harness::through_testbank(&b, first, &[("national_id", PERSON)]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let callback = done.location.clone().unwrap();
    let out = tokio::task::spawn_blocking(move || {
        authlib(&[
            "token",
            "--issuer",
            &base,
            "--client-id",
            "basic-client",
            "--client-secret",
            SECRET,
            "--redirect-uri",
            redirect,
            "--callback",
            &callback,
            "--state",
            a["state"].as_str().unwrap(),
            "--code-verifier",
            a["code_verifier"].as_str().unwrap(),
            "--nonce",
            a["nonce"].as_str().unwrap(),
        ])
    })
    .await
    .unwrap();
    assert_eq!(out["ok"], true, "{out}");
    let claims = &out["id_token_claims"];
    assert_eq!(claims["iss"], w.base.as_str());
    assert_eq!(claims["aud"], "basic-client");
    assert_eq!(claims["national_id"], PERSON);
    assert_eq!(out["userinfo"]["sub"], claims["sub"]);
    assert_eq!(out["access_token_claims"]["sub"], claims["sub"]);
    assert_eq!(out["access_token_claims"]["sid"], claims["sid"]);
    assert_eq!(out["kid"], w.op_jwks().await.keys()[0].kid().unwrap());
}

/// The clients' endpoints answer 503 JSON (`temporarily_unavailable`) while the shared store is
/// down, never a page and never an answer that skipped a check; they work again when it returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apis_answer_503_json_while_redis_is_down() {
    let mut redis = tests::redis::TestRedis::start();
    let key = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(key.path(), [5u8; 32]).unwrap();
    let w = world_with(&format!(
        "[store]\nkind = \"redis\"\nurl = \"{}\"\nseal_keys = [{{ name = \"s1\", file = \"{}\" }}]\n",
        redis.url(),
        key.path().display()
    ))
    .await;
    let b = Browser::new();
    let redirect = "http://127.0.0.1:9/cb";
    let auth = w.authorize_url("basic-client", redirect, "openid", "");
    let code = w.login(&b, &auth).await;
    let (status, tokens) = w
        .token_basic(&code_fields(&code, redirect, &auth.verifier), SECRET)
        .await;
    assert_eq!(status, 200, "{tokens}");
    let at = tokens["access_token"].as_str().unwrap().to_owned();
    assert_eq!(w.userinfo(&at).await.0, 200);

    redis.stop();
    let c = reqwest::Client::new();
    let r = c
        .post(format!("{}/oidc/introspect", w.base))
        .basic_auth("basic-client", Some(SECRET))
        .form(&[("token", at.as_str())])
        .send()
        .await
        .unwrap();
    // Introspection cannot read the token's record: the token is not reported active.
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["active"], false, "{body}");
    let auth = w.authorize_url("basic-client", redirect, "openid", "");
    let code2 = random();
    let (status, e) = w
        .token_basic(&code_fields(&code2, redirect, &auth.verifier), SECRET)
        .await;
    assert_eq!(
        (status, e["error"].as_str()),
        (503, Some("temporarily_unavailable")),
        "{e}"
    );

    redis.restart();
    let mut back = false;
    for _ in 0..50 {
        let (status, _) = w
            .token_basic(&code_fields(&random(), redirect, &auth.verifier), SECRET)
            .await;
        if status == 400 {
            back = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        back,
        "the token endpoint answers again (invalid_grant for an unknown code)"
    );
}
