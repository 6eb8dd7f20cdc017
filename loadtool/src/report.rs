//! The summary of a run: per round (hits, rate, latency, RSS at its start and end, RSS growth per
//! hit, the gateway's CPU per hit, Redis bytes per hit), and overall (first and last round's
//! rate, latency over the whole run, the RSS plateau, CPU, what Redis holds per session, whether
//! every answer was the expected one), and what the citizen beside the load met. Printed as
//! text, or as JSON with `--json`. In logins mode a hit is a whole login.

use crate::citizen::{CitizenLog, Step};
use crate::redis_memory::{RedisSample, SessionBytes};
use crate::rss::nearest;
use crate::run::{Boundary, LoadPlan, Measured, Mode};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

#[derive(Debug, Serialize)]
pub struct Summary {
    pub mode: Mode,
    pub base: String,
    pub connections: usize,
    /// `--rate`: the total rate asked for (hits a second), if any.
    pub rate_limit: Option<f64>,
    pub round_seconds: f64,
    pub elapsed_seconds: f64,
    pub rounds: Vec<RoundSummary>,
    pub hits: u64,
    pub expected: u64,
    /// Unexpected answers by kind (status code, or what was wrong), over the whole run.
    pub unexpected: BTreeMap<String, u64>,
    pub server_errors: u64,
    pub all_expected: bool,
    pub first_round_rate: f64,
    pub last_round_rate: f64,
    /// Latency percentiles over every round.
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub plateau: Option<Plateau>,
    /// With `--pid`: the gateway's CPU time (user + system) from the first reading to the last.
    pub cpu_ms: Option<f64>,
    /// `cpu_ms / hits` (all hits, expected or not).
    pub cpu_ms_per_hit: Option<f64>,
    /// `cpu_ms` over the wall time between those readings: how many cores the gateway kept busy.
    pub gateway_cores: Option<f64>,
    /// With `--redis`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<RedisSummary>,
    /// With `--citizen-every`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub citizen: Option<CitizenSummary>,
}

impl Summary {
    /// Exit 0: every answer of the load as expected, and the citizen (if any) had no failure.
    pub fn all_ok(&self) -> bool {
        self.all_expected && self.citizen.as_ref().is_none_or(|c| c.all_ok)
    }
}

/// What the gateway's Redis held before and after the load.
#[derive(Debug, PartialEq, Serialize)]
pub struct RedisSummary {
    pub before: Option<RedisSample>,
    pub after: Option<RedisSample>,
    pub used_memory_added: Option<i64>,
    pub keys_added: Option<i64>,
    /// `used_memory_added / expected`: in logins mode what one login leaves (its session, its
    /// services hash, its replay entry and single-use markers); in sso-hits mode what one hit
    /// leaves (its replay entry).
    pub bytes_per_hit: Option<f64>,
    /// `MEMORY USAGE` of a sample of SSO sessions with their `:m` hashes, after the load.
    pub sessions: Option<SessionBytes>,
    /// The first Redis error met (its readings are then missing).
    pub error: Option<String>,
}

/// What the citizen beside the load met.
#[derive(Debug, PartialEq, Serialize)]
pub struct CitizenSummary {
    pub every_seconds: f64,
    pub logins_ok: u64,
    pub logins_failed: u64,
    pub sso_hits_ok: u64,
    pub sso_hits_failed: u64,
    /// The longest time between two answers the citizen got as expected (steps of either
    /// kind), seconds; `None` with fewer than two.
    pub longest_gap_seconds: Option<f64>,
    /// Failed steps by what went wrong (`login at the test bank page: expected 200, got 429 ...`).
    pub failures: BTreeMap<String, u64>,
    /// No step failed and at least one login succeeded.
    pub all_ok: bool,
}

#[derive(Debug, Serialize)]
pub struct RoundSummary {
    pub round: usize,
    pub hits: u64,
    pub expected: u64,
    pub unexpected: BTreeMap<String, u64>,
    /// Hits per second over the round's wall time.
    pub rate: f64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub rss_start: Option<u64>,
    pub rss_end: Option<u64>,
    /// The highest RSS sampled during the round.
    pub rss_peak: Option<u64>,
    /// (RSS at the end - RSS at the start) / hits; negative when memory went back.
    pub rss_growth_per_hit: Option<f64>,
    /// The gateway's CPU time over the round, milliseconds (`--pid`).
    pub cpu_ms: Option<f64>,
    pub cpu_ms_per_hit: Option<f64>,
    pub gateway_cores: Option<f64>,
    /// Redis at the round's start and end (`--redis`).
    pub redis_start: Option<RedisSample>,
    pub redis_end: Option<RedisSample>,
    /// (used_memory at the end - at the start) / expected hits.
    pub redis_bytes_per_hit: Option<f64>,
}

/// RSS at the ends of the last rounds (up to three).
#[derive(Debug, Serialize)]
pub struct Plateau {
    pub rounds: Vec<usize>,
    pub rss_min: u64,
    pub rss_max: u64,
}

pub fn summarize(base: &str, plan: &LoadPlan, m: &Measured) -> Summary {
    let round_len = plan.round.as_secs_f64();
    let mut rounds = Vec::new();
    let mut unexpected: BTreeMap<String, u64> = BTreeMap::new();
    for (i, tally) in m.rounds.iter().enumerate() {
        let from = round_len * i as f64;
        if from >= m.elapsed {
            break;
        }
        let to = (from + round_len).min(m.elapsed);
        for (k, v) in &tally.unexpected {
            *unexpected.entry(k.clone()).or_default() += v;
        }
        let mut lat = tally.latencies_us.clone();
        lat.sort_unstable();
        let hits = tally.hits();
        let rss_start = nearest(&m.rss, from);
        let rss_end = nearest(&m.rss, to);
        let rss_peak = m
            .rss
            .iter()
            .filter(|r| r.at >= from && r.at <= to)
            .map(|r| r.bytes)
            .chain(rss_start)
            .chain(rss_end)
            .max();
        let (b_start, b_end) = (
            nearest_boundary(&m.boundaries, from),
            nearest_boundary(&m.boundaries, to),
        );
        let cpu = cpu_between(b_start, b_end);
        let redis_start = b_start.and_then(|b| b.redis);
        let redis_end = b_end.and_then(|b| b.redis);
        rounds.push(RoundSummary {
            round: i + 1,
            hits,
            expected: tally.expected,
            unexpected: tally.unexpected.clone(),
            rate: if to > from {
                hits as f64 / (to - from)
            } else {
                0.0
            },
            p50_ms: percentile_ms(&lat, 50.0),
            p95_ms: percentile_ms(&lat, 95.0),
            p99_ms: percentile_ms(&lat, 99.0),
            rss_start,
            rss_end,
            rss_peak,
            rss_growth_per_hit: match (rss_start, rss_end) {
                (Some(a), Some(b)) if hits > 0 => Some((b as f64 - a as f64) / hits as f64),
                _ => None,
            },
            cpu_ms: cpu.map(|c| c.ms),
            cpu_ms_per_hit: cpu.and_then(|c| per(c.ms, hits)),
            gateway_cores: cpu.and_then(|c| c.cores()),
            redis_start,
            redis_end,
            redis_bytes_per_hit: redis_growth(redis_start, redis_end)
                .and_then(|(bytes, _)| per(bytes as f64, tally.expected)),
        });
    }
    let hits = rounds.iter().map(|r| r.hits).sum();
    let expected = rounds.iter().map(|r| r.expected).sum();
    let mut all_latencies: Vec<u32> = m
        .rounds
        .iter()
        .take(rounds.len())
        .flat_map(|t| t.latencies_us.iter().copied())
        .collect();
    all_latencies.sort_unstable();
    let cpu = cpu_between(m.boundaries.first(), m.boundaries.last());
    let redis = redis_summary(m, expected);
    let server_errors = unexpected
        .iter()
        .filter(|(k, _)| k.starts_with('5'))
        .map(|(_, v)| v)
        .sum();
    let last: Vec<&RoundSummary> = rounds.iter().rev().take(3).collect();
    let ends: Vec<u64> = last.iter().filter_map(|r| r.rss_end).collect();
    let plateau = match (ends.iter().min(), ends.iter().max()) {
        (Some(&rss_min), Some(&rss_max)) => Some(Plateau {
            rounds: last.iter().rev().map(|r| r.round).collect(),
            rss_min,
            rss_max,
        }),
        _ => None,
    };
    Summary {
        mode: plan.mode,
        base: base.to_owned(),
        connections: plan.connections,
        rate_limit: plan.rate,
        p50_ms: percentile_ms(&all_latencies, 50.0),
        p95_ms: percentile_ms(&all_latencies, 95.0),
        p99_ms: percentile_ms(&all_latencies, 99.0),
        cpu_ms: cpu.map(|c| c.ms),
        cpu_ms_per_hit: cpu.and_then(|c| per(c.ms, hits)),
        gateway_cores: cpu.and_then(|c| c.cores()),
        redis,
        round_seconds: round_len,
        elapsed_seconds: m.elapsed,
        first_round_rate: rounds.first().map_or(0.0, |r| r.rate),
        last_round_rate: rounds.last().map_or(0.0, |r| r.rate),
        all_expected: hits > 0 && unexpected.is_empty(),
        rounds,
        hits,
        expected,
        unexpected,
        server_errors,
        plateau,
        citizen: match (plan.citizen_every, &m.citizen) {
            (Some(every), Some(log)) => Some(citizen_summary(every.as_secs_f64(), log)),
            _ => None,
        },
    }
}

/// CPU milliseconds between two readings, and the wall time between them.
#[derive(Clone, Copy)]
struct CpuSpan {
    ms: f64,
    wall_seconds: f64,
}

impl CpuSpan {
    fn cores(self) -> Option<f64> {
        (self.wall_seconds > 0.0).then(|| self.ms / (self.wall_seconds * 1000.0))
    }
}

fn cpu_between(a: Option<&Boundary>, b: Option<&Boundary>) -> Option<CpuSpan> {
    let (a, b) = (a?, b?);
    Some(CpuSpan {
        ms: b.cpu_ms? - a.cpu_ms?,
        wall_seconds: b.at - a.at,
    })
}

fn nearest_boundary(all: &[Boundary], at: f64) -> Option<&Boundary> {
    all.iter()
        .min_by(|a, b| (a.at - at).abs().total_cmp(&(b.at - at).abs()))
}

/// (used_memory added, keys added) from one reading to another.
fn redis_growth(a: Option<RedisSample>, b: Option<RedisSample>) -> Option<(i64, i64)> {
    let (a, b) = (a?, b?);
    let signed = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    Some((
        signed(b.used_memory) - signed(a.used_memory),
        signed(b.keys) - signed(a.keys),
    ))
}

fn per(total: f64, count: u64) -> Option<f64> {
    (count > 0).then(|| total / count as f64)
}

fn redis_summary(m: &Measured, expected: u64) -> Option<RedisSummary> {
    let before = m.boundaries.first().and_then(|b| b.redis);
    let after = m.boundaries.last().and_then(|b| b.redis);
    if before.is_none() && after.is_none() && m.sessions.is_none() && m.redis_error.is_none() {
        return None;
    }
    let growth = redis_growth(before, after);
    Some(RedisSummary {
        before,
        after,
        used_memory_added: growth.map(|g| g.0),
        keys_added: growth.map(|g| g.1),
        bytes_per_hit: growth.and_then(|(bytes, _)| per(bytes as f64, expected)),
        sessions: m.sessions,
        error: m.redis_error.clone(),
    })
}

pub fn citizen_summary(every_seconds: f64, log: &CitizenLog) -> CitizenSummary {
    let count = |step: Step, ok: bool| {
        log.steps
            .iter()
            .filter(|s| s.step == step && s.failure.is_none() == ok)
            .count() as u64
    };
    let mut failures: BTreeMap<String, u64> = BTreeMap::new();
    for s in &log.steps {
        if let Some(f) = &s.failure {
            let step = match s.step {
                Step::Login => "login",
                Step::SsoHit => "SSO hit",
            };
            *failures.entry(format!("{step} {f}")).or_default() += 1;
        }
    }
    let answers: Vec<f64> = log
        .steps
        .iter()
        .filter(|s| s.failure.is_none())
        .map(|s| s.at)
        .collect();
    let longest_gap_seconds = answers
        .windows(2)
        .map(|w| w[1] - w[0])
        .fold(None, |longest: Option<f64>, gap| {
            Some(longest.map_or(gap, |l| l.max(gap)))
        });
    let logins_ok = count(Step::Login, true);
    CitizenSummary {
        every_seconds,
        logins_ok,
        logins_failed: count(Step::Login, false),
        sso_hits_ok: count(Step::SsoHit, true),
        sso_hits_failed: count(Step::SsoHit, false),
        longest_gap_seconds,
        all_ok: failures.is_empty() && logins_ok > 0,
        failures,
    }
}

pub fn text(s: &Summary) -> String {
    let mut out = String::new();
    let mode = match s.mode {
        Mode::SsoHits => "sso-hits",
        Mode::Logins => "logins",
        Mode::Anonymous => "anonymous",
    };
    let paced = s
        .rate_limit
        .map_or(String::new(), |r| format!(" paced to {r:.0}/s"));
    let _ = writeln!(
        out,
        "{mode} against {} with {} connections{paced}, rounds of {:.0} s, {:.1} s in all",
        s.base, s.connections, s.round_seconds, s.elapsed_seconds
    );
    let _ = writeln!(
        out,
        "round      hits    rate/s   p50 ms   p95 ms   p99 ms  RSS start  RSS end  RSS peak   B/hit  CPU ms/hit  cores  Redis B/hit  unexpected"
    );
    for r in &s.rounds {
        let _ = writeln!(
            out,
            "{:>5} {:>9} {:>9.0} {:>8} {:>8} {:>8} {:>10} {:>8} {:>9} {:>7} {:>11} {:>6} {:>12} {}",
            r.round,
            r.hits,
            r.rate,
            ms(r.p50_ms),
            ms(r.p95_ms),
            ms(r.p99_ms),
            mib(r.rss_start),
            mib(r.rss_end),
            mib(r.rss_peak),
            r.rss_growth_per_hit
                .map_or("-".into(), |b| format!("{b:.0}")),
            ms(r.cpu_ms_per_hit),
            r.gateway_cores.map_or("-".into(), |c| format!("{c:.2}")),
            r.redis_bytes_per_hit
                .map_or("-".into(), |b| format!("{b:.0}")),
            kinds(&r.unexpected),
        );
    }
    let _ = writeln!(
        out,
        "hits {}, expected {}, rate first round {:.0}/s, last round {:.0}/s",
        s.hits, s.expected, s.first_round_rate, s.last_round_rate
    );
    let _ = writeln!(
        out,
        "latency over the run: p50 {} ms, p95 {} ms, p99 {} ms",
        ms(s.p50_ms),
        ms(s.p95_ms),
        ms(s.p99_ms)
    );
    if let Some(cpu) = s.cpu_ms {
        let _ = writeln!(
            out,
            "gateway CPU {cpu:.0} ms ({} cores busy), {} ms per hit",
            s.gateway_cores.map_or("-".into(), |c| format!("{c:.2}")),
            ms(s.cpu_ms_per_hit)
        );
    }
    if let Some(r) = &s.redis {
        redis_text(&mut out, r);
    }
    if let Some(p) = &s.plateau {
        let _ = writeln!(
            out,
            "RSS plateau (end of rounds {:?}): {} .. {}",
            p.rounds,
            mib(Some(p.rss_min)),
            mib(Some(p.rss_max))
        );
    }
    if s.server_errors > 0 {
        let _ = writeln!(out, "!!! {} SERVER ERRORS (5xx) !!!", s.server_errors);
    }
    if s.all_expected {
        let _ = writeln!(out, "all answers as expected");
    } else {
        let _ = writeln!(out, "UNEXPECTED ANSWERS: {}", kinds(&s.unexpected));
        if s.unexpected.contains_key("429") {
            let _ = writeln!(
                out,
                "(429: the gateway's per-client rate limit; start `gateway dev --no-rate-limits`, or try --spread-sources)"
            );
        }
    }
    if let Some(c) = &s.citizen {
        citizen_text(&mut out, c);
    }
    out
}

fn redis_text(out: &mut String, r: &RedisSummary) {
    let memory = |s: Option<RedisSample>| s.map_or("-".into(), |s| s.used_memory.to_string());
    let keys = |s: Option<RedisSample>| s.map_or("-".into(), |s| s.keys.to_string());
    let _ = writeln!(
        out,
        "Redis used_memory {} -> {} B, keys {} -> {}, {} B per expected hit",
        memory(r.before),
        memory(r.after),
        keys(r.before),
        keys(r.after),
        r.bytes_per_hit.map_or("-".into(), |b| format!("{b:.0}"))
    );
    match &r.sessions {
        Some(s) => {
            let _ = writeln!(
                out,
                "Redis MEMORY USAGE of {} SSO sessions ({} with a services hash): {:.0} B per session",
                s.sessions, s.with_services, s.bytes_per_session
            );
        }
        None => {
            let _ = writeln!(out, "Redis: no SSO session found to measure");
        }
    }
    if let Some(e) = &r.error {
        let _ = writeln!(out, "REDIS ERROR: {e}");
    }
}

fn citizen_text(out: &mut String, c: &CitizenSummary) {
    let _ = writeln!(
        out,
        "citizen every {:.1} s: logins ok {}, failed {}; SSO hits ok {}, failed {}; longest gap between answers {}",
        c.every_seconds,
        c.logins_ok,
        c.logins_failed,
        c.sso_hits_ok,
        c.sso_hits_failed,
        c.longest_gap_seconds
            .map_or("-".into(), |g| format!("{g:.1} s")),
    );
    if c.all_ok {
        let _ = writeln!(out, "citizen: every step as expected");
    } else if c.failures.is_empty() {
        let _ = writeln!(out, "CITIZEN NEVER LOGGED IN");
    } else {
        let _ = writeln!(out, "CITIZEN FAILURES: {}", kinds(&c.failures));
    }
}

fn percentile_ms(sorted_us: &[u32], p: f64) -> Option<f64> {
    if sorted_us.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted_us.len() as f64).ceil() as usize;
    let i = rank.clamp(1, sorted_us.len()) - 1;
    sorted_us.get(i).map(|&us| f64::from(us) / 1000.0)
}

fn ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.2}"))
}

fn mib(v: Option<u64>) -> String {
    v.map_or("-".into(), |b| format!("{:.1}M", b as f64 / 1_048_576.0))
}

fn kinds(m: &BTreeMap<String, u64>) -> String {
    m.iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::citizen::StepResult;
    use crate::redis_memory::{RedisSample, SessionBytes};
    use crate::run::{LoadPlan, Measured, Mode, RoundTally};
    use std::time::Duration;

    fn step(step: Step, at: f64, failure: Option<&str>) -> StepResult {
        StepResult {
            step,
            at,
            failure: failure.map(str::to_owned),
        }
    }

    fn anonymous_with_citizen(citizen: Option<CitizenLog>) -> Summary {
        let plan = LoadPlan {
            mode: Mode::Anonymous,
            connections: 2,
            round: Duration::from_secs(10),
            rounds: 1,
            max_hits: 1000,
            pid: None,
            rate: None,
            spread_sources: false,
            citizen_every: Some(Duration::from_secs(5)),
        };
        let measured = Measured {
            rounds: vec![RoundTally {
                expected: 100,
                unexpected: BTreeMap::new(),
                latencies_us: vec![1000; 100],
            }],
            elapsed: 10.0,
            rss: Vec::new(),
            citizen,
            boundaries: Vec::new(),
            sessions: None,
            redis_error: None,
        };
        summarize("http://127.0.0.1:1", &plan, &measured)
    }

    #[test]
    fn the_citizen_is_counted_by_step_and_its_longest_gap_is_between_two_good_answers() {
        let log = CitizenLog {
            steps: vec![
                step(Step::Login, 0.5, None),
                step(Step::SsoHit, 5.0, None),
                step(Step::SsoHit, 10.0, Some("429")),
                step(Step::SsoHit, 15.0, Some("429")),
                step(Step::SsoHit, 20.0, None),
                step(
                    Step::Login,
                    20.5,
                    Some("at the test bank page: expected 200, got 429"),
                ),
            ],
        };
        let s = anonymous_with_citizen(Some(log));
        assert!(s.all_expected, "the load itself was fine");
        assert!(!s.all_ok(), "a citizen step failed: exit 1");
        let c = s.citizen.as_ref().unwrap();
        assert_eq!(
            (
                c.logins_ok,
                c.logins_failed,
                c.sso_hits_ok,
                c.sso_hits_failed
            ),
            (1, 1, 2, 2)
        );
        let gap = c.longest_gap_seconds.unwrap();
        assert!((gap - 15.0).abs() < 1e-9, "{gap}");
        assert_eq!(c.every_seconds, 5.0);
        assert_eq!(c.failures.get("SSO hit 429"), Some(&2));
        assert_eq!(
            c.failures
                .get("login at the test bank page: expected 200, got 429"),
            Some(&1)
        );

        let json = serde_json::to_value(&s).unwrap();
        let c = &json["citizen"];
        assert_eq!(c["logins_ok"], 1);
        assert_eq!(c["logins_failed"], 1);
        assert_eq!(c["sso_hits_ok"], 2);
        assert_eq!(c["sso_hits_failed"], 2);
        assert_eq!(c["longest_gap_seconds"], 15.0);
        assert_eq!(c["all_ok"], false);

        let t = text(&s);
        assert!(
            t.contains("citizen every 5.0 s: logins ok 1, failed 1; SSO hits ok 2, failed 2; longest gap between answers 15.0 s"),
            "{t}"
        );
        assert!(
            t.contains("CITIZEN FAILURES: SSO hit 429: 2, login at"),
            "{t}"
        );
    }

    #[test]
    fn a_citizen_with_every_step_answered_passes_and_one_that_never_logged_in_does_not() {
        let log = CitizenLog {
            steps: vec![
                step(Step::Login, 0.4, None),
                step(Step::SsoHit, 5.0, None),
                step(Step::SsoHit, 10.0, None),
            ],
        };
        let s = anonymous_with_citizen(Some(log));
        assert!(s.all_ok());
        let c = s.citizen.as_ref().unwrap();
        assert!(c.failures.is_empty());
        assert!((c.longest_gap_seconds.unwrap() - 5.0).abs() < 1e-9);
        assert!(text(&s).contains("citizen: every step as expected"));

        // No step at all (the load ended first, or the citizen's task died): not a pass.
        let s = anonymous_with_citizen(Some(CitizenLog::default()));
        let c = s.citizen.as_ref().unwrap();
        assert_eq!(c.longest_gap_seconds, None);
        assert!(!s.all_ok());
        assert!(text(&s).contains("CITIZEN NEVER LOGGED IN"));

        // Without --citizen-every there is no citizen in the summary, nor in its JSON.
        let s = anonymous_with_citizen(None);
        assert!(s.citizen.is_none() && s.all_ok());
        let json = serde_json::to_value(&s).unwrap();
        assert!(json.get("citizen").is_none(), "{json}");
        assert!(!text(&s).contains("citizen"));
    }

    #[test]
    fn each_round_reports_its_rss_peak_and_growth_per_hit() {
        let plan = LoadPlan {
            mode: Mode::SsoHits,
            connections: 1,
            round: Duration::from_secs(10),
            rounds: 2,
            max_hits: 1000,
            pid: Some(1),
            rate: None,
            spread_sources: false,
            citizen_every: None,
        };
        let tally = || RoundTally {
            expected: 100,
            unexpected: BTreeMap::new(),
            latencies_us: vec![1000; 100],
        };
        let at = |at: f64, mb: u64| crate::rss::RssSample {
            at,
            bytes: mb << 20,
        };
        let measured = Measured {
            rounds: vec![tally(), tally()],
            elapsed: 20.0,
            rss: vec![
                at(0.0, 10),
                at(5.0, 40),
                at(10.0, 20),
                at(15.0, 25),
                at(20.0, 22),
            ],
            citizen: None,
            boundaries: Vec::new(),
            sessions: None,
            redis_error: None,
        };
        let s = summarize("http://127.0.0.1:1", &plan, &measured);
        assert_eq!(s.rounds[0].rss_peak, Some(40 << 20));
        assert_eq!(s.rounds[1].rss_peak, Some(25 << 20));
        assert_eq!(
            s.rounds[0].rss_growth_per_hit,
            Some((10u64 << 20) as f64 / 100.0)
        );
    }

    #[test]
    fn cpu_and_redis_are_read_between_each_rounds_ends() {
        let plan = LoadPlan {
            mode: Mode::Logins,
            connections: 1,
            round: Duration::from_secs(10),
            rounds: 2,
            max_hits: 1000,
            pid: Some(1),
            rate: Some(20.0),
            spread_sources: false,
            citizen_every: None,
        };
        let tally = |expected: u64| RoundTally {
            expected,
            unexpected: BTreeMap::new(),
            latencies_us: vec![2000; expected as usize],
        };
        let at = |at: f64, cpu_ms: f64, used_memory: u64, keys: u64| Boundary {
            at,
            cpu_ms: Some(cpu_ms),
            redis: Some(RedisSample { used_memory, keys }),
        };
        let measured = Measured {
            rounds: vec![tally(200), tally(100)],
            elapsed: 20.0,
            rss: Vec::new(),
            citizen: None,
            // A reading a little late at the boundary, and the last one at the end.
            boundaries: vec![
                at(0.0, 1000.0, 1_000_000, 10),
                at(10.02, 2000.0, 1_300_000, 610),
                at(20.0, 2500.0, 1_350_000, 910),
            ],
            sessions: Some(SessionBytes {
                sessions: 100,
                with_services: 100,
                total_bytes: 51_200,
                bytes_per_session: 512.0,
            }),
            redis_error: None,
        };
        let s = summarize("http://127.0.0.1:1", &plan, &measured);
        let (r1, r2) = (&s.rounds[0], &s.rounds[1]);
        assert_eq!(r1.cpu_ms, Some(1000.0));
        assert_eq!(r1.cpu_ms_per_hit, Some(5.0));
        assert!((r1.gateway_cores.unwrap() - 1000.0 / 10_020.0).abs() < 1e-9);
        assert_eq!(r1.redis_bytes_per_hit, Some(1500.0));
        assert_eq!(r2.cpu_ms_per_hit, Some(5.0));
        assert_eq!(r2.redis_bytes_per_hit, Some(500.0));
        assert_eq!(s.cpu_ms, Some(1500.0));
        assert_eq!(s.cpu_ms_per_hit, Some(5.0));
        assert!((s.gateway_cores.unwrap() - 0.075).abs() < 1e-9);
        let r = s.redis.as_ref().unwrap();
        assert_eq!(
            (r.used_memory_added, r.keys_added),
            (Some(350_000), Some(900))
        );
        assert!((r.bytes_per_hit.unwrap() - 350_000.0 / 300.0).abs() < 1e-9);
        assert_eq!(s.p99_ms, Some(2.0));
        let t = text(&s);
        assert!(
            t.starts_with("logins against http://127.0.0.1:1 with 1 connections paced to 20/s"),
            "{t}"
        );
        assert!(
            t.contains("gateway CPU 1500 ms (") && t.contains("cores busy), 5.00 ms per hit"),
            "{t}"
        );
        assert!(
            t.contains(
                "MEMORY USAGE of 100 SSO sessions (100 with a services hash): 512 B per session"
            ),
            "{t}"
        );
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["redis"]["sessions"]["bytes_per_session"], 512.0);
        assert_eq!(json["rounds"][0]["redis_end"]["keys"], 610);
    }

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let v: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile_ms(&v, 50.0), Some(50.0));
        assert_eq!(percentile_ms(&v, 99.0), Some(99.0));
        assert_eq!(percentile_ms(&[7000], 95.0), Some(7.0));
        assert_eq!(percentile_ms(&[], 50.0), None);
    }
}
