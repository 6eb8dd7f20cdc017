//! One citizen's login through the dev gateway's demo SP and test bank, as a browser would
//! make it, ending with an SSO session cookie. Each step checks what the gateway answered, so a
//! failure names the step.

use crate::client::{Answer, ClientError, Connection};
use crate::pages::{autopost, query_param, same_origin_path, CookieStore};
use crate::target::LoopbackTarget;
use thiserror::Error;

pub const SSO_COOKIE: &str = "__Host-gw_sso";
/// Every login flow's sealed cookie (`__Host-gw_flow_<flow ID>`).
pub const FLOW_COOKIES: &str = "__Host-gw_flow_*";
/// The gateway's own cookies, the only ones the tool sends to it.
pub const GATEWAY_COOKIES: [&str; 2] = [SSO_COOKIE, FLOW_COOKIES];
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
    let mut jar = CookieStore::default();
    let sso = new_authn_request(&mut conn, target).await?;
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
    match autopost(&String::from_utf8_lossy(&answer.body)) {
        Some(p) if p.field == "SAMLResponse" => {}
        _ => {
            return Err(step(
                "the test bank's finish",
                "no SAMLResponse auto-post page".into(),
            ))
        }
    }
    if !jar.has(SSO_COOKIE) {
        return Err(step(
            "the test bank's finish",
            format!("no {SSO_COOKIE} cookie set"),
        ));
    }
    Ok(SsoSession { cookies: jar })
}

/// GET /demo/login: the demo SP makes a fresh signed AuthnRequest and redirects to the SSO
/// endpoint; returns that URL's path and query.
pub async fn new_authn_request(
    conn: &mut Connection,
    target: &LoopbackTarget,
) -> Result<String, LoginError> {
    let answer = conn.get("/demo/login", "").await?;
    redirect_to(
        target,
        "the demo SP (/demo/login; is this a `gateway dev`?)",
        &answer,
        303,
    )
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
