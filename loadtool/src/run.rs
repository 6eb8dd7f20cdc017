//! The load itself: `connections` workers, each on its own keep-alive connection, making hits
//! until the rounds are over or the hit budget is spent, each recording into its own per-round
//! tallies (merged at the end, so workers share nothing but two atomics); beside them, when the
//! plan asks for one, the citizen ([`crate::citizen`]).

use crate::citizen::{citizen, CitizenLog};
use crate::client::{ClientError, Connection};
use crate::login::{new_authn_request, SsoSession, GATEWAY_COOKIES};
use crate::pages::{autopost, same_origin_path};
use crate::rss::{RssSample, RssSampler};
use crate::target::LoopbackTarget;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// A fresh AuthnRequest with a live session cookie: expect 200 and a SAMLResponse auto-post.
    SsoHits,
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
    /// RSS of this process is sampled.
    pub pid: Option<u32>,
    /// Each connection from its own loopback source address, changed every
    /// [`HITS_PER_SOURCE`] hits (see the README: for a gateway whose per-client limits are on).
    pub spread_sources: bool,
    /// A citizen beside the load, one step this often ([`crate::citizen`]).
    pub citizen_every: Option<Duration>,
}

/// Below the dev gateway's per-client burst (2000), so a fresh source never meets its limit.
pub const HITS_PER_SOURCE: u64 = 1500;

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
}

pub async fn run(
    target: &LoopbackTarget,
    plan: &LoadPlan,
    session: Option<SsoSession>,
) -> Measured {
    let start = Instant::now();
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
    for _ in 0..plan.connections {
        let (target, plan, shared) = (target.clone(), plan.clone(), shared.clone());
        workers.push(tokio::spawn(async move {
            worker(&target, &plan, &shared, start).await
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
    Measured {
        rounds,
        elapsed,
        rss,
        citizen,
    }
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
) -> Vec<RoundTally> {
    let mut tallies = vec![RoundTally::default(); plan.rounds];
    let end = plan.round * u32::try_from(plan.rounds).unwrap_or(u32::MAX);
    let mut conn: Option<Connection> = None;
    let mut hits_on_source = 0u64;
    loop {
        let elapsed = start.elapsed();
        if elapsed >= end || shared.hits_started.fetch_add(1, Ordering::Relaxed) >= plan.max_hits {
            break;
        }
        let round = usize::try_from(elapsed.as_nanos() / plan.round.as_nanos().max(1))
            .unwrap_or(usize::MAX);
        let Some(tally) = tallies.get_mut(round) else {
            break;
        };
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
        match outcome {
            Outcome::Expected => {
                tally.expected += 1;
                tally
                    .latencies_us
                    .push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
            }
            Outcome::Unexpected(what) => *tally.unexpected.entry(what).or_default() += 1,
        }
    }
    tallies
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
