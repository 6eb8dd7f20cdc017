//! `gateway-load logins|sso-hits|anonymous --base http://127.0.0.1:PORT ...`: see the README's
//! "Load tool".
//!
//! Exit codes: 0 every answer as expected; 1 some answers were not, or a step of the citizen
//! (`--citizen-every`) failed; 2 bad arguments or a target that is not loopback; 3 the login (or
//! the first connection, to the gateway or to `--redis`) failed.

use clap::{Args, Parser, Subcommand};
use loadtool::client::Connection;
use loadtool::login::{log_in, new_authn_request, LoginError};
use loadtool::redis_memory::RedisProbe;
use loadtool::report::{summarize, text};
use loadtool::run::{run, LoadPlan, Mode};
use loadtool::target::LoopbackTarget;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "gateway-load",
    about = "Load a gateway on loopback (127.0.0.0/8, ::1) and report rate, latency, CPU, RSS and Redis memory"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Whole logins, each in a fresh browser: demo SP, selection page, test bank, and the signed
    /// Response accepted at the demo SP's ACS. Each leaves an SSO session in the gateway.
    Logins(LoadArgs),
    /// Log in once through the demo SP and the test bank, then make SSO hits with that session.
    SsoHits(LoadArgs),
    /// Fresh AuthnRequests with no cookie (each answered by a redirect to /login).
    Anonymous(AnonymousArgs),
}

#[derive(Args)]
struct AnonymousArgs {
    #[command(flatten)]
    load: LoadArgs,
    /// Beside the flood, a citizen who logs in (demo SP, test bank) and then makes one SSO hit
    /// this often (5s, 500ms), logging in anew every 4th time; any failed step: exit 1.
    #[arg(long, value_parser = parse_duration)]
    citizen_every: Option<Duration>,
}

#[derive(Args)]
struct LoadArgs {
    /// The gateway's origin, e.g. http://127.0.0.1:8080 (loopback only).
    #[arg(long)]
    base: String,
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Length of one round: 60s, 2m, 500ms (a bare number is seconds).
    #[arg(long, value_parser = parse_duration, default_value = "60s")]
    duration: Duration,
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// Stop after this many hits in all, whatever the time.
    #[arg(long, default_value_t = 100_000_000)]
    max_hits: u64,
    /// The gateway's process id: sample its RSS (VmRSS) every second, and read its CPU time
    /// (/proc/PID/stat) at every round's ends.
    #[arg(long)]
    pid: Option<u32>,
    /// Hits (logins) a second in all, spread evenly over the connections; without it, each
    /// connection goes as fast as it is answered.
    #[arg(long)]
    rate: Option<f64>,
    /// The gateway's Redis (redis://host:port[/db]): used_memory and DBSIZE at every round's ends,
    /// and MEMORY USAGE of up to 100 SSO sessions after the load.
    #[arg(long)]
    redis: Option<String>,
    /// The gateway's key prefix in that Redis.
    #[arg(long, default_value = "gw:")]
    redis_prefix: String,
    /// Each connection from its own loopback source address (127.0.0.2 up), a new one every
    /// 1500 hits, so the per-client rate limit of `gateway dev` is not met. IPv4 targets only.
    #[arg(long)]
    spread_sources: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

const MAX_CONNECTIONS: usize = 1024;
const MAX_ROUNDS: usize = 1000;
/// A citizen, not a second flood.
const MIN_CITIZEN_EVERY: Duration = Duration::from_millis(100);

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (mode, args, citizen_every) = match cli.command {
        Command::Logins(a) => (Mode::Logins, a, None),
        Command::SsoHits(a) => (Mode::SsoHits, a, None),
        Command::Anonymous(a) => (Mode::Anonymous, a.load, a.citizen_every),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gateway-load: cannot start the runtime: {e}");
            return ExitCode::from(3);
        }
    };
    runtime.block_on(main_async(mode, args, citizen_every))
}

async fn main_async(mode: Mode, args: LoadArgs, citizen_every: Option<Duration>) -> ExitCode {
    if args.connections == 0 || args.connections > MAX_CONNECTIONS {
        eprintln!("gateway-load: --connections must be 1..={MAX_CONNECTIONS}");
        return ExitCode::from(2);
    }
    if args.rounds == 0 || args.rounds > MAX_ROUNDS || args.duration.is_zero() {
        eprintln!("gateway-load: --rounds must be 1..={MAX_ROUNDS} and --duration above zero");
        return ExitCode::from(2);
    }
    if citizen_every.is_some_and(|e| e < MIN_CITIZEN_EVERY) {
        eprintln!(
            "gateway-load: --citizen-every must be at least {} ms",
            MIN_CITIZEN_EVERY.as_millis()
        );
        return ExitCode::from(2);
    }
    if args
        .rate
        .is_some_and(|r| !(r.is_finite() && r > 0.0 && r <= 1e6))
    {
        eprintln!("gateway-load: --rate must be above 0 (and at most 1000000)");
        return ExitCode::from(2);
    }
    let target = match LoopbackTarget::resolve(&args.base).await {
        Ok(t) => t,
        Err(e) => {
            eprintln!("gateway-load: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(pid) = args.pid {
        if let Err(e) = loadtool::rss::read_rss(pid) {
            eprintln!("gateway-load: --pid {pid}: {e}");
            return ExitCode::from(2);
        }
        if let Err(e) = loadtool::cpu::read_cpu_ms(pid) {
            eprintln!("gateway-load: --pid {pid}: {e}");
            return ExitCode::from(2);
        }
    }
    let redis = match &args.redis {
        Some(url) => match RedisProbe::connect(url, &args.redis_prefix).await {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("gateway-load: --redis: {e}");
                return ExitCode::from(3);
            }
        },
        None => None,
    };
    let session = match mode {
        Mode::SsoHits => match log_in(&target).await {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("gateway-load: {e}");
                return ExitCode::from(3);
            }
        },
        Mode::Anonymous | Mode::Logins => match demo_sp_answers(&target).await {
            Ok(()) => None,
            Err(e) => {
                eprintln!("gateway-load: {e}");
                return ExitCode::from(3);
            }
        },
    };
    let plan = LoadPlan {
        mode,
        connections: args.connections,
        round: args.duration,
        rounds: args.rounds,
        max_hits: args.max_hits,
        pid: args.pid,
        rate: args.rate,
        spread_sources: args.spread_sources,
        citizen_every,
    };
    let measured = run(&target, &plan, session, redis).await;
    let summary = summarize(&target.origin, &plan, &measured);
    if args.json {
        match serde_json::to_string_pretty(&summary) {
            Ok(j) => println!("{j}"),
            Err(e) => {
                eprintln!("gateway-load: {e}");
                return ExitCode::from(3);
            }
        }
    } else {
        print!("{}", text(&summary));
    }
    if summary.server_errors > 0 {
        eprintln!(
            "gateway-load: {} SERVER ERRORS (5xx)",
            summary.server_errors
        );
    }
    if summary.all_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Before an anonymous run: the target is up and is a dev gateway (its demo SP answers).
async fn demo_sp_answers(target: &LoopbackTarget) -> Result<(), LoginError> {
    let mut conn = Connection::open(target, None).await?;
    new_authn_request(&mut conn, target).await.map(|_| ())
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("bad duration unit in {s:?} (ms, s, m, h)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("bad duration {s:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_are_parsed() {
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("3d").is_err());
        assert!(parse_duration("s").is_err());
    }
}
