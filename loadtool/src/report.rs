//! The summary of a run: per round (hits, rate, latency, RSS at its start and end, RSS growth per
//! hit), and overall (first and last round's rate, the RSS plateau, whether every answer was
//! the expected one). Printed as text, or as JSON with `--json`.

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
        "round      hits    rate/s   p50 ms   p95 ms   p99 ms  RSS start  RSS end   B/hit  unexpected"
    );
    for r in &s.rounds {
        let _ = writeln!(
            out,
            "{:>5} {:>9} {:>9.0} {:>8} {:>8} {:>8} {:>10} {:>8} {:>7} {}",
            r.round,
            r.hits,
            r.rate,
            ms(r.p50_ms),
            ms(r.p95_ms),
            ms(r.p99_ms),
            mib(r.rss_start),
            mib(r.rss_end),
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
                "(429: the gateway's per-client rate limit; try --spread-sources until it can be turned off)"
            );
        }
    }
    out
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

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let v: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile_ms(&v, 50.0), Some(50.0));
        assert_eq!(percentile_ms(&v, 99.0), Some(99.0));
        assert_eq!(percentile_ms(&[7000], 95.0), Some(7.0));
        assert_eq!(percentile_ms(&[], 50.0), None);
    }
}
