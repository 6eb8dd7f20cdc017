//! The load itself: `connections` workers, each on its own keep-alive connection (or, making
//! logins, a fresh connection per login), making hits until the rounds are over or the hit budget
//! is spent, as fast as answers come or paced to a total rate, each recording into its own
//! per-round tallies (merged at the end, so workers share nothing but two atomics); beside them,
//! when the plan asks for one, the citizen ([`crate::citizen`]), and at every round's ends a
//! reading of the gateway's CPU time and of its Redis.

use crate::citizen::{citizen, CitizenLog};
use crate::client::{ClientError, Connection};
use crate::cpu::read_cpu_ms;
use crate::login::{full_login, new_authn_request, LoginError, SsoSession, GATEWAY_COOKIES};
use crate::pages::{autopost, same_origin_path};
use crate::redis_memory::{RedisProbe, RedisSample, SessionBytes};
use crate::rss::{RssSample, RssSampler};
use crate::target::LoopbackTarget;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// A fresh AuthnRequest with a live session cookie: expect 200 and a SAMLResponse auto-post.
    SsoHits,
    /// A whole login in a fresh browser ([`full_login`]): expect the demo SP to accept the
    /// Response.
    Logins,
    /// A fresh AuthnRequest with no cookie: expect 303 to /login.
    Anonymous,
}

#[derive(Clone, Debug)]
pub struct LoadPlan {
    pub mode: Mode,
    pub connections: usize,
    pub round: Duration,
    pub rounds: usize,
    /// At most this many hits in all.
    pub max_hits: u64,
    /// RSS of this process is sampled, and its CPU time read at every round's ends.
    pub pid: Option<u32>,
    /// Hits a second in all, spread evenly over the connections; `None`: as fast as answers come.
    pub rate: Option<f64>,
    /// Each connection from its own loopback source address, changed every
    /// [`HITS_PER_SOURCE`] hits (see the README: for a gateway whose per-client limits are on).
    pub spread_sources: bool,
    /// A citizen beside the load, one step this often ([`crate::citizen`]).
    pub citizen_every: Option<Duration>,
}

/// Below the dev gateway's per-client burst (2000), so a fresh source never meets its limit.
pub const HITS_PER_SOURCE: u64 = 1500;
/// A login makes five requests that count against the limits (SSO endpoint, /login pages).
pub const LOGINS_PER_SOURCE: u64 = 300;

/// What one hit came to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Expected,
    /// Anything else, named for the report: `"429"`, `"200 without SAMLResponse"`, `"transport: ..."`.
    Unexpected(String),
}

/// The tallies of one round (from one worker, then merged).
#[derive(Clone, Debug, Default)]
pub struct RoundTally {
    pub expected: u64,
    pub unexpected: BTreeMap<String, u64>,
    /// Latency of the SSO request of each hit, microseconds.
    pub latencies_us: Vec<u32>,
}

impl RoundTally {
    pub fn hits(&self) -> u64 {
        self.expected + self.unexpected.values().sum::<u64>()
    }
    fn merge(&mut self, other: RoundTally) {
        self.expected += other.expected;
        for (k, v) in other.unexpected {
            *self.unexpected.entry(k).or_default() += v;
        }
        self.latencies_us.extend(other.latencies_us);
    }
}

/// Everything measured, for the report.
#[derive(Debug)]
pub struct Measured {
    pub rounds: Vec<RoundTally>,
    /// Wall time of the whole load, seconds.
    pub elapsed: f64,
    pub rss: Vec<RssSample>,
    /// What the citizen did, when the plan had one.
    pub citizen: Option<CitizenLog>,
    /// Readings at the start, at every round boundary reached, and at the end.
    pub boundaries: Vec<Boundary>,
    /// With a Redis probe: `MEMORY USAGE` of a sample of sessions, after the load.
    pub sessions: Option<SessionBytes>,
    /// The first Redis error met, if any (its readings are then missing).
    pub redis_error: Option<String>,
}

/// The gateway's CPU time and its Redis at one moment of the run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Boundary {
    /// Seconds since the run started.
    pub at: f64,
    /// CPU time of `--pid` so far, milliseconds.
    pub cpu_ms: Option<f64>,
    pub redis: Option<RedisSample>,
}

pub async fn run(
    target: &LoopbackTarget,
    plan: &LoadPlan,
    session: Option<SsoSession>,
    redis: Option<RedisProbe>,
) -> Measured {
    let start = Instant::now();
    let readings = Readings::start(plan, redis.clone(), start).await;
    let sampler = plan.pid.map(|pid| RssSampler::start(pid, start));
    let shared = Arc::new(Shared {
        hits_started: AtomicU64::new(0),
        next_source: AtomicU32::new(0),
        cookie: session
            .map(|s| s.cookies.header(&GATEWAY_COOKIES))
            .unwrap_or_default(),
    });
    let (stop_citizen, stopped) = tokio::sync::watch::channel(false);
    let citizen = plan
        .citizen_every
        .map(|every| tokio::spawn(citizen(target.clone(), every, start, stopped)));
    let mut workers = Vec::with_capacity(plan.connections);
    for index in 0..plan.connections {
        let (target, plan, shared) = (target.clone(), plan.clone(), shared.clone());
        workers.push(tokio::spawn(async move {
            worker(&target, &plan, &shared, start, index).await
        }));
    }
    let mut rounds = vec![RoundTally::default(); plan.rounds];
    for w in workers {
        if let Ok(tallies) = w.await {
            for (merged, t) in rounds.iter_mut().zip(tallies) {
                merged.merge(t);
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let (boundaries, mut redis_error) = readings.finish(plan.pid, start).await;
    let _ = stop_citizen.send(true);
    let citizen = match citizen {
        // A citizen task that panicked leaves a log with nothing in it: the report says so.
        Some(task) => Some(task.await.unwrap_or_default()),
        None => None,
    };
    let rss = match (sampler, plan.pid) {
        (Some(s), Some(pid)) => s.finish(pid, start),
        _ => Vec::new(),
    };
    let sessions = match &redis {
        Some(probe) => match probe.session_bytes().await {
            Ok(s) => s,
            Err(e) => {
                redis_error.get_or_insert(e.to_string());
                None
            }
        },
        None => None,
    };
    Measured {
        rounds,
        elapsed,
        rss,
        citizen,
        boundaries,
        sessions,
        redis_error,
    }
}

/// The readings at the round boundaries, taken by a task of their own while the load runs.
struct Readings {
    probe: Option<RedisProbe>,
    taken: Arc<Mutex<(Vec<Boundary>, Option<String>)>>,
    task: tokio::task::JoinHandle<()>,
}

impl Readings {
    /// Takes the first reading now, then one at each round boundary until finished.
    async fn start(plan: &LoadPlan, probe: Option<RedisProbe>, start: Instant) -> Readings {
        let first = reading(plan.pid, probe.as_ref(), start).await;
        let taken = Arc::new(Mutex::new((vec![first.0], first.1)));
        let (out, pid, round, rounds) = (taken.clone(), plan.pid, plan.round, plan.rounds);
        let task_probe = probe.clone();
        let task = tokio::spawn(async move {
            for k in 1..rounds {
                let at = round.saturating_mul(u32::try_from(k).unwrap_or(u32::MAX));
                tokio::time::sleep_until((start + at).into()).await;
                let (b, err) = reading(pid, task_probe.as_ref(), start).await;
                if let Ok(mut t) = out.lock() {
                    t.0.push(b);
                    if t.1.is_none() {
                        t.1 = err;
                    }
                }
            }
        });
        Readings { probe, taken, task }
    }

    /// Stops the boundary task, takes the last reading, and returns them all in time order.
    async fn finish(self, pid: Option<u32>, start: Instant) -> (Vec<Boundary>, Option<String>) {
        self.task.abort();
        let _ = self.task.await;
        let (last, err) = reading(pid, self.probe.as_ref(), start).await;
        let (mut all, first_err) = self.taken.lock().map(|t| t.clone()).unwrap_or_default();
        all.push(last);
        all.sort_by(|a, b| a.at.total_cmp(&b.at));
        (all, first_err.or(err))
    }
}

async fn reading(
    pid: Option<u32>,
    probe: Option<&RedisProbe>,
    start: Instant,
) -> (Boundary, Option<String>) {
    let cpu_ms = pid.and_then(|p| read_cpu_ms(p).ok());
    let (redis, err) = match probe {
        Some(p) => match p.sample().await {
            Ok(s) => (Some(s), None),
            Err(e) => (None, Some(e.to_string())),
        },
        None => (None, None),
    };
    let boundary = Boundary {
        at: start.elapsed().as_secs_f64(),
        cpu_ms,
        redis,
    };
    (boundary, err)
}

struct Shared {
    hits_started: AtomicU64,
    next_source: AtomicU32,
    /// The Cookie header of an SSO hit (empty when anonymous).
    cookie: String,
}

async fn worker(
    target: &LoopbackTarget,
    plan: &LoadPlan,
    shared: &Shared,
    start: Instant,
    index: usize,
) -> Vec<RoundTally> {
    let mut tallies = vec![RoundTally::default(); plan.rounds];
    let end = plan.round * u32::try_from(plan.rounds).unwrap_or(u32::MAX);
    let mut pacer = plan
        .rate
        .map(|rate| Pacer::new(start, index, plan.connections, rate));
    let mut conn: Option<Connection> = None;
    let mut hits_on_source = 0u64;
    let mut login_source: Option<IpAddr> = None;
    loop {
        if let Some(p) = pacer.as_mut() {
            p.wait().await;
        }
        let elapsed = start.elapsed();
        if elapsed >= end || shared.hits_started.fetch_add(1, Ordering::Relaxed) >= plan.max_hits {
            break;
        }
        let round = usize::try_from(elapsed.as_nanos() / plan.round.as_nanos().max(1))
            .unwrap_or(usize::MAX);
        let Some(tally) = tallies.get_mut(round) else {
            break;
        };
        if plan.mode == Mode::Logins {
            if plan.spread_sources && hits_on_source.is_multiple_of(LOGINS_PER_SOURCE) {
                login_source = source_address(target, shared);
            }
            hits_on_source += 1;
            let (outcome, latency) = login(target, login_source).await;
            tally.record(outcome, latency);
            continue;
        }
        if plan.spread_sources && hits_on_source >= HITS_PER_SOURCE {
            conn = None;
        }
        let c = match conn.as_mut() {
            Some(c) => c,
            None => {
                let source = if plan.spread_sources {
                    source_address(target, shared)
                } else {
                    None
                };
                hits_on_source = 0;
                match Connection::open(target, source).await {
                    Ok(c) => conn.insert(c),
                    Err(e) => {
                        *tally.unexpected.entry(transport(&e)).or_default() += 1;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                }
            }
        };
        hits_on_source += 1;
        let (outcome, latency) = match hit(c, target, plan.mode, &shared.cookie).await {
            Ok(done) => done,
            Err(e) => {
                conn = None;
                (Outcome::Unexpected(transport(&e)), Duration::ZERO)
            }
        };
        tally.record(outcome, latency);
    }
    tallies
}

impl RoundTally {
    fn record(&mut self, outcome: Outcome, latency: Duration) {
        match outcome {
            Outcome::Expected => {
                self.expected += 1;
                self.latencies_us
                    .push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
            }
            Outcome::Unexpected(what) => *self.unexpected.entry(what).or_default() += 1,
        }
    }
}

/// Paces one worker of `connections` so that together they make `rate` hits a second, evenly
/// spaced: worker `index` starts `index / rate` seconds in and then goes every
/// `connections / rate`. A worker that falls behind (a slow answer) goes at once and keeps its
/// spacing from then on; it does not catch up with a burst.
struct Pacer {
    next: Instant,
    period: Duration,
}

impl Pacer {
    fn new(start: Instant, index: usize, connections: usize, rate: f64) -> Pacer {
        let period = Duration::from_secs_f64(connections as f64 / rate);
        let offset = Duration::from_secs_f64(index as f64 / rate);
        Pacer {
            next: start + offset,
            period,
        }
    }

    async fn wait(&mut self) {
        let now = Instant::now();
        if self.next > now {
            tokio::time::sleep_until(self.next.into()).await;
        }
        self.next = self.next.max(now) + self.period;
    }
}

/// One login, timed from its first request to the demo SP's answer at its ACS.
async fn login(target: &LoopbackTarget, source: Option<IpAddr>) -> (Outcome, Duration) {
    let began = Instant::now();
    match full_login(target, source).await {
        Ok(_) => (Outcome::Expected, began.elapsed()),
        // The step and the status, without the page excerpt the error carries.
        Err(LoginError::Step { step, detail }) => {
            let detail = detail.split(": ").next().unwrap_or_default();
            (
                Outcome::Unexpected(format!("at {step}: {detail}")),
                Duration::ZERO,
            )
        }
        Err(LoginError::Client(e)) => (Outcome::Unexpected(transport(&e)), Duration::ZERO),
    }
}

/// One hit: a fresh AuthnRequest from the demo SP, then the SSO endpoint with it.
pub(crate) async fn hit(
    conn: &mut Connection,
    target: &LoopbackTarget,
    mode: Mode,
    cookie: &str,
) -> Result<(Outcome, Duration), ClientError> {
    let sso = match new_authn_request(conn, target).await {
        Ok(path) => path,
        Err(crate::login::LoginError::Client(e)) => return Err(e),
        Err(e) => return Ok((Outcome::Unexpected(format!("demo SP: {e}")), Duration::ZERO)),
    };
    let sent = Instant::now();
    let answer = conn.get(&sso, cookie).await?;
    let latency = sent.elapsed();
    let status = answer.status.as_u16();
    let outcome = match (mode, status) {
        (Mode::SsoHits, 200) => match autopost(&String::from_utf8_lossy(&answer.body)) {
            Some(p) if p.field == "SAMLResponse" => Outcome::Expected,
            _ => Outcome::Unexpected("200 without SAMLResponse".into()),
        },
        (Mode::Anonymous, 303) => {
            let to = answer
                .location
                .as_deref()
                .and_then(|l| same_origin_path(&target.origin, l));
            match to {
                Some(p) if p == "/login" || p.starts_with("/login?") => Outcome::Expected,
                _ => Outcome::Unexpected("303 not to /login".into()),
            }
        }
        (_, s) => Outcome::Unexpected(s.to_string()),
    };
    Ok((outcome, latency))
}

/// The next loopback source address (127.0.0.2 onwards), for an IPv4 target.
fn source_address(target: &LoopbackTarget, shared: &Shared) -> Option<IpAddr> {
    if !target.addr.is_ipv4() {
        return None;
    }
    let n = shared.next_source.fetch_add(1, Ordering::Relaxed) % 0x00ff_fff0;
    Some(IpAddr::V4(Ipv4Addr::from(0x7f00_0002 + n)))
}

fn transport(e: &ClientError) -> String {
    format!("transport: {e}")
}
