//! One citizen's login through the dev gateway's demo SP and test bank, as a browser would
//! make it, ending with an SSO session cookie (and, for [`full_login`], with the demo SP's ACS
//! accepting the signed Response). Each step checks what the gateway answered, so a failure
//! names the step.

use crate::client::{Answer, ClientError, Connection};
use crate::pages::{autopost, query_param, same_origin_path, Autopost, CookieStore};
use crate::target::LoopbackTarget;
use std::net::IpAddr;
use thiserror::Error;

pub const SSO_COOKIE: &str = "__Host-gw_sso";
/// Every login flow's sealed cookie (`__Host-gw_flow_<flow ID>`).
pub const FLOW_COOKIES: &str = "__Host-gw_flow_*";
/// The gateway's own cookies, the only ones the tool sends to it.
pub const GATEWAY_COOKIES: [&str; 2] = [SSO_COOKIE, FLOW_COOKIES];
/// The demo SP's own cookie: the ID of the AuthnRequest it sent, which its ACS checks the
/// Response's InResponseTo against.
pub const DEMO_REQUEST_COOKIE: &str = "demo_request";
/// What the demo SP's ACS page says when the Response passed every check.
pub const DEMO_LOGGED_IN: &str = "data-result=\"ok\"";
const DEMO_SP_STEP: &str = "the demo SP (/demo/login; is this a `gateway dev`?)";
/// A 900-series (test) personal identity code the test bank accepts.
pub const TEST_NATIONAL_ID: &str = "150375-913W";

#[derive(Debug, Error)]
pub enum LoginError {
    #[error("login failed at {step}: {detail}")]
    Step { step: &'static str, detail: String },
    #[error("{0}")]
    Client(#[from] ClientError),
}

/// The cookies of a logged-in browser (at least `__Host-gw_sso`).
#[derive(Clone, Debug)]
pub struct SsoSession {
    pub cookies: CookieStore,
}

pub async fn log_in(target: &LoopbackTarget) -> Result<SsoSession, LoginError> {
    let mut conn = Connection::open(target, None).await?;
    let (jar, _) = up_to_the_response(&mut conn, target).await?;
    Ok(SsoSession { cookies: jar })
}

/// A whole login as a fresh browser makes it, from `source` if given: [`log_in`], and then the
/// signed Response posted to the demo SP's ACS, which validates it (signature, decryption,
/// audience, InResponseTo against its own cookie) and must say it logged the citizen in.
pub async fn full_login(
    target: &LoopbackTarget,
    source: Option<IpAddr>,
) -> Result<SsoSession, LoginError> {
    let mut conn = Connection::open(target, source).await?;
    let (jar, response) = up_to_the_response(&mut conn, target).await?;
    let acs = same_origin_path(&target.origin, &response.action).ok_or_else(|| {
        step(
            "the test bank's finish",
            format!("SAMLResponse posted off the target: {}", response.action),
        )
    })?;
    let mut form = format!("SAMLResponse={}", encode(&response.value));
    if let Some(relay) = &response.relay_state {
        form.push_str(&format!("&RelayState={}", encode(relay)));
    }
    let answer = conn
        .post_form(&acs, &jar.header(&[DEMO_REQUEST_COOKIE]), form)
        .await?;
    expect_status("the demo SP's ACS", &answer, 200)?;
    if !String::from_utf8_lossy(&answer.body).contains(DEMO_LOGGED_IN) {
        return Err(step(
            "the demo SP's ACS",
            "200 without the logged-in result".into(),
        ));
    }
    Ok(SsoSession { cookies: jar })
}

/// Demo SP, SSO endpoint, selection page, test bank form and its finish: the browser's cookies
/// (the SSO session's among them) and the SAMLResponse auto-post the finish answered with.
async fn up_to_the_response(
    conn: &mut Connection,
    target: &LoopbackTarget,
) -> Result<(CookieStore, Autopost), LoginError> {
    let mut jar = CookieStore::default();
    let answer = conn.get("/demo/login", "").await?;
    jar.update(&answer.set_cookies);
    let sso = redirect_to(target, DEMO_SP_STEP, &answer, 303)?;
    let answer = conn.get(&sso, &jar.header(&GATEWAY_COOKIES)).await?;
    jar.update(&answer.set_cookies);
    let selection = redirect_to(target, "the SSO endpoint", &answer, 303)?;
    let flow = query_param(&selection, "flow")
        .ok_or_else(|| step("the SSO endpoint", format!("no flow in {selection}")))?;
    let answer = conn.get(&selection, &jar.header(&GATEWAY_COOKIES)).await?;
    jar.update(&answer.set_cookies);
    expect_status("the selection page", &answer, 200)?;
    let bank = format!("/login/testbank?flow={}", encode(&flow));
    let answer = conn.get(&bank, &jar.header(&GATEWAY_COOKIES)).await?;
    jar.update(&answer.set_cookies);
    expect_status("the test bank page", &answer, 200)?;
    let form = format!(
        "flow={}&national_id={}",
        encode(&flow),
        encode(TEST_NATIONAL_ID)
    );
    let answer = conn
        .post_form(
            "/login/testbank/finish",
            &jar.header(&GATEWAY_COOKIES),
            form,
        )
        .await?;
    jar.update(&answer.set_cookies);
    expect_status("the test bank's finish", &answer, 200)?;
    let response = match autopost(&String::from_utf8_lossy(&answer.body)) {
        Some(p) if p.field == "SAMLResponse" => p,
        _ => {
            return Err(step(
                "the test bank's finish",
                "no SAMLResponse auto-post page".into(),
            ))
        }
    };
    if !jar.has(SSO_COOKIE) {
        return Err(step(
            "the test bank's finish",
            format!("no {SSO_COOKIE} cookie set"),
        ));
    }
    Ok((jar, response))
}

/// GET /demo/login: the demo SP makes a fresh signed AuthnRequest and redirects to the SSO
/// endpoint; returns that URL's path and query.
pub async fn new_authn_request(
    conn: &mut Connection,
    target: &LoopbackTarget,
) -> Result<String, LoginError> {
    let answer = conn.get("/demo/login", "").await?;
    redirect_to(target, DEMO_SP_STEP, &answer, 303)
}

/// The same-origin path a redirect points to.
pub fn redirect_to(
    target: &LoopbackTarget,
    at: &'static str,
    answer: &Answer,
    status: u16,
) -> Result<String, LoginError> {
    expect_status(at, answer, status)?;
    let location = answer
        .location
        .as_deref()
        .ok_or_else(|| step(at, "no Location".into()))?;
    same_origin_path(&target.origin, location)
        .ok_or_else(|| step(at, format!("redirect off the target: {location}")))
}

fn expect_status(at: &'static str, answer: &Answer, status: u16) -> Result<(), LoginError> {
    if answer.status.as_u16() == status {
        return Ok(());
    }
    let body = String::from_utf8_lossy(&answer.body);
    let excerpt: String = body.chars().take(300).collect();
    Err(step(
        at,
        format!("expected {status}, got {}: {excerpt}", answer.status),
    ))
}

fn step(step: &'static str, detail: String) -> LoginError {
    LoginError::Step { step, detail }
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
