//! The summary of a run: per round (hits, rate, latency, RSS at its start and end, RSS growth per
//! hit), and overall (first and last round's rate, the RSS plateau, whether every answer was
//! the expected one), and what the citizen beside the load met. Printed as text, or as JSON with
//! `--json`.

use crate::citizen::{CitizenLog, Step};
use crate::rss::nearest;
use crate::run::{LoadPlan, Measured, Mode};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

#[derive(Debug, Serialize)]
pub struct Summary {
    pub mode: Mode,
    pub base: String,
    pub connections: usize,
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
    pub plateau: Option<Plateau>,
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
        });
    }
    let hits = rounds.iter().map(|r| r.hits).sum();
    let expected = rounds.iter().map(|r| r.expected).sum();
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
        Mode::Anonymous => "anonymous",
    };
    let _ = writeln!(
        out,
        "{mode} against {} with {} connections, rounds of {:.0} s, {:.1} s in all",
        s.base, s.connections, s.round_seconds, s.elapsed_seconds
    );
    let _ = writeln!(
        out,
        "round      hits    rate/s   p50 ms   p95 ms   p99 ms  RSS start  RSS end  RSS peak   B/hit  unexpected"
    );
    for r in &s.rounds {
        let _ = writeln!(
            out,
            "{:>5} {:>9} {:>9.0} {:>8} {:>8} {:>8} {:>10} {:>8} {:>9} {:>7} {}",
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
            kinds(&r.unexpected),
        );
    }
    let _ = writeln!(
        out,
        "hits {}, expected {}, rate first round {:.0}/s, last round {:.0}/s",
        s.hits, s.expected, s.first_round_rate, s.last_round_rate
    );
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
    fn percentiles_take_the_nearest_rank() {
        let v: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile_ms(&v, 50.0), Some(50.0));
        assert_eq!(percentile_ms(&v, 99.0), Some(99.0));
        assert_eq!(percentile_ms(&[7000], 95.0), Some(7.0));
        assert_eq!(percentile_ms(&[], 50.0), None);
    }
}
