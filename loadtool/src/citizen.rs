//! The citizen beside an anonymous flood (`--citizen-every`): one person who logs in through the
//! demo SP and the test bank, then makes one SSO hit with that session every interval, and every
//! [`FRESH_LOGIN_EVERY`]th interval also logs in anew (a fresh browser, through the test bank
//! again). What the flood costs a real citizen shows as failed steps and as the longest gap
//! between two answers that came as expected.
//!
//! A step in progress when the flood ends is finished and counted; a step that takes longer than
//! [`STEP_TIMEOUT`] has failed. Like the flood, the citizen only talks to the loopback target.

use crate::client::Connection;
use crate::login::{log_in, LoginError, SsoSession, GATEWAY_COOKIES};
use crate::run::{hit, Mode, Outcome};
use crate::target::LoopbackTarget;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

/// Every this many intervals the citizen logs in anew as well as making its SSO hit.
pub const FRESH_LOGIN_EVERY: u64 = 4;

/// Longer than the gateway's own request timeout (30 s) for any one request of a step.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(45);

/// One thing the citizen does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The whole login: demo SP, SSO endpoint, selection page, test bank, SAMLResponse.
    Login,
    /// A fresh AuthnRequest with the session cookie, answered by a SAMLResponse auto-post.
    SsoHit,
}

/// How one step went.
#[derive(Clone, Debug, PartialEq)]
pub struct StepResult {
    pub step: Step,
    /// When its answer came (or it gave up), seconds since the run started.
    pub at: f64,
    /// What went wrong; `None` when the step got the answers it expected.
    pub failure: Option<String>,
}

/// Everything the citizen did, in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CitizenLog {
    pub steps: Vec<StepResult>,
}

/// Be the citizen, one step every `every` from the first tick, until `stop` turns true.
pub async fn citizen(
    target: LoopbackTarget,
    every: Duration,
    start: Instant,
    mut stop: watch::Receiver<bool>,
) -> CitizenLog {
    let mut log = CitizenLog::default();
    let mut session: Option<SsoSession> = None;
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    for interval in 0u64.. {
        tokio::select! {
            biased;
            _ = stop.wait_for(|stopped| *stopped) => break,
            _ = ticks.tick() => {}
        }
        if let Some(s) = &session {
            let failure = bounded(sso_hit(&target, s)).await.err();
            log.record(Step::SsoHit, start, failure);
        }
        // The first login, a retry when there is no session yet, and every fourth interval a
        // citizen who logs in anew (whose session the later hits use).
        if session.is_none() || interval % FRESH_LOGIN_EVERY == 0 {
            match bounded(login(&target)).await {
                Ok(s) => {
                    session = Some(s);
                    log.record(Step::Login, start, None);
                }
                Err(e) => log.record(Step::Login, start, Some(e)),
            }
        }
    }
    log
}

impl CitizenLog {
    fn record(&mut self, step: Step, start: Instant, failure: Option<String>) {
        self.steps.push(StepResult {
            step,
            at: start.elapsed().as_secs_f64(),
            failure,
        });
    }
}

async fn login(target: &LoopbackTarget) -> Result<SsoSession, String> {
    log_in(target).await.map_err(|e| match e {
        // The step and the status, without the page excerpt the error carries.
        LoginError::Step { step, detail } => {
            let detail = detail.split(": ").next().unwrap_or_default();
            format!("at {step}: {detail}")
        }
        LoginError::Client(e) => e.to_string(),
    })
}

async fn sso_hit(target: &LoopbackTarget, session: &SsoSession) -> Result<(), String> {
    let mut conn = Connection::open(target, None)
        .await
        .map_err(|e| e.to_string())?;
    let cookie = session.cookies.header(&GATEWAY_COOKIES);
    match hit(&mut conn, target, Mode::SsoHits, &cookie).await {
        Ok((Outcome::Expected, _)) => Ok(()),
        Ok((Outcome::Unexpected(what), _)) => Err(what),
        Err(e) => Err(format!("transport: {e}")),
    }
}

async fn bounded<T>(
    step: impl std::future::Future<Output = Result<T, String>>,
) -> Result<T, String> {
    tokio::time::timeout(STEP_TIMEOUT, step)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {} s", STEP_TIMEOUT.as_secs())))
}
