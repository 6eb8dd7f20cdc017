//! The command line: `gateway serve | check-config | dev`.

use super::{config, dev, logging, serve, state};
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Print a line for the person at the terminal. A closed stdout or stderr (the output piped
/// into `head`, a supervisor that stopped reading) is ignored, not a panic.
macro_rules! say {
    () => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout());
    }};
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

macro_rules! tell {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

#[derive(Parser)]
#[command(
    name = "gateway",
    version,
    about = "Federated identity gateway (SAML 2.0 IdP)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run in production mode from a TOML config file (GATEWAY__SECTION__KEY variables overlay it).
    Serve {
        #[arg(long)]
        config: PathBuf,
    },
    /// Validate a config file (and every key and metadata file it names); exit 0 if it is good.
    CheckConfig { file: PathBuf },
    /// Zero-config development mode: generated keys, the test bank and a demo service.
    Dev {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Register one more service provider from its SAML metadata file (repeatable).
        #[arg(long = "sp-metadata")]
        sp_metadata: Vec<PathBuf>,
        /// Where development keys are generated on first start and reused afterwards.
        #[arg(long, default_value = "data")]
        data_dir: PathBuf,
        /// The URL browsers use, if not http://<listen>.
        #[arg(long)]
        public_url: Option<String>,
        /// Offer a bank (OpenID Connect provider) as ID=ISSUER, repeatable; the gateway is its
        /// client `gateway-dev` with redirect URI <url>/login/bank/ID/callback and JWKS <url>/oidc/jwks.
        #[arg(long = "bank", value_parser = parse_bank)]
        banks: Vec<(String, String)>,
        /// Offer ID-card login with a generated test PKI (in <data-dir>/idcard); its TLS
        /// certificate listener listens here, e.g. 127.0.0.1:8443.
        #[arg(long = "idcard-listen")]
        idcard_listen: Option<SocketAddr>,
        /// Turn the per-client rate limits (200/s, bursts of 2000 on the SSO endpoint and
        /// /login) off, for a load test; also GATEWAY_DEV_RATE_LIMITS=off (on is the default).
        #[arg(long)]
        no_rate_limits: bool,
        /// Keep SSO sessions and replay entries in Redis (redis://host:port, or
        /// redis+sentinel://host:port,host:port/MASTER) instead of memory: dev gateways on one
        /// data directory and one Redis share their sessions. Also GATEWAY_DEV_REDIS.
        #[arg(long, env = "GATEWAY_DEV_REDIS")]
        redis: Option<String>,
    },
}

/// Turns dev mode's per-client rate limits on or off (`on`, `off`; unset: on). The flag
/// `--no-rate-limits` turns them off whatever it says.
pub const DEV_RATE_LIMITS_VARIABLE: &str = "GATEWAY_DEV_RATE_LIMITS";

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let log_format = match &cli.command {
        Command::Serve { config } => logging::format_of_config(config),
        Command::CheckConfig { file } => logging::format_of_config(file),
        Command::Dev { .. } => match logging::format_from_env(std::env::vars()) {
            Ok(f) => f,
            Err(e) => {
                tell!("error: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    logging::init(log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tell!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli.command))
}

async fn run(cmd: Command) -> ExitCode {
    match cmd {
        Command::CheckConfig { file } => match load_state(&file).await {
            Ok(gw) => {
                say!(
                    "{}: OK ({} service providers, {} banks, ID card {}, entity ID {})",
                    file.display(),
                    gw.idp.registry.snapshot().len(),
                    gw.banks.len(),
                    if gw.idcard.is_some() { "on" } else { "off" },
                    gw.idp.entity_id
                );
                ExitCode::SUCCESS
            }
            Err(problems) => report(&file, &problems),
        },
        Command::Serve { config } => {
            let cfg = match config::load(&config, std::env::vars()) {
                Ok(c) => c,
                Err(problems) => return report(&config, &problems),
            };
            let listener = match tokio::net::TcpListener::bind(&cfg.server.listen).await {
                Ok(l) => l,
                Err(e) => {
                    tell!("error: cannot listen on {}: {e}", cfg.server.listen);
                    return ExitCode::FAILURE;
                }
            };
            let running = match serve::serve_config(&cfg, listener, runtime_parts()).await {
                Ok(r) => r,
                Err(problems) => return report(&config, &problems),
            };
            tracing::info!(listen = %cfg.server.listen, entity_id = %running.state.idp.entity_id,
                banks = running.state.banks.len(), "gateway serving");
            match running.run_until(shutdown_signal()).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tell!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Dev {
            listen,
            sp_metadata,
            data_dir,
            public_url,
            banks,
            idcard_listen,
            no_rate_limits,
            redis,
        } => {
            let rate_limits = match dev_rate_limits(no_rate_limits, std::env::vars()) {
                Ok(r) => r,
                Err(e) => {
                    tell!("error: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let running = match dev::start_dev(dev::DevOptions {
                listen,
                sp_metadata,
                data_dir: data_dir.clone(),
                public_url,
                banks,
                idcard_listen,
                rate_limits,
                redis: redis.clone(),
            })
            .await
            {
                Ok(r) => r,
                Err(e) => {
                    tell!("error: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let b = &running.base_url;
            say!(
                "Gateway running in DEVELOPMENT mode (test bank enabled, development keys in {}).",
                data_dir.display()
            );
            if let Some(r) = &redis {
                say!(
                    "SSO sessions and replay entries are kept in Redis at {}.",
                    crate::stores::redis::redacted(r)
                );
            }
            if rate_limits == dev::DevRateLimits::Off {
                say!("Per-client rate limits are OFF (--no-rate-limits or {DEV_RATE_LIMITS_VARIABLE}=off): for a load test only.");
            }
            say!();
            say!("  Open the demo e-service:  {b}/demo");
            say!("  IdP metadata:             {b}/saml/idp/metadata");
            say!("  SSO endpoint:             {b}/saml/idp/sso");
            if let Some(card) = &running.state.idcard {
                let dir = data_dir.join("idcard");
                say!(
                    "  ID-card listener:         {} (test CA; cards in {})",
                    card.adapter.settings().listener_url,
                    dir.join("cards").display()
                );
                say!(
                    "    present a test card:    curl --cacert {} --cert {} --key {} '<the listener URL the login redirects to>'",
                    dir.join("listener-ca.crt.pem").display(),
                    dir.join("cards/valid.crt.pem").display(),
                    dir.join("cards/valid.key.pem").display()
                );
            }
            say!();
            say!("Press Ctrl-C to stop.");
            match running.run_until(shutdown_signal()).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tell!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn runtime_parts() -> state::Runtime {
    state::Runtime {
        clock: Arc::new(certs::SystemClock),
        rng: Arc::new(certs::SystemRandomSource),
    }
}

/// The state a config file describes, its shared store connected (and its eviction policy
/// checked) as `serve` would.
async fn load_state(file: &std::path::Path) -> Result<state::Gateway, Vec<config::ConfigProblem>> {
    let cfg = config::load(file, std::env::vars())?;
    let rt = runtime_parts();
    let stores = state::connect_stores(&cfg, &rt).await?;
    state::from_config_with(&cfg, rt, stores)
}

fn report(file: &std::path::Path, problems: &[config::ConfigProblem]) -> ExitCode {
    tell!("{}: {} problem(s):", file.display(), problems.len());
    for p in problems {
        tell!("  {p}");
    }
    ExitCode::FAILURE
}

/// Ctrl-C or SIGTERM (what service managers send): stop accepting, let requests in flight
/// finish, then exit.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the gateway");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("shutting down: requests in flight finish first");
}

/// Dev mode's rate limits from `--no-rate-limits` and [`DEV_RATE_LIMITS_VARIABLE`]; a value of
/// the variable other than `on` or `off` is an error even with the flag.
fn dev_rate_limits(
    no_rate_limits: bool,
    mut env: impl Iterator<Item = (String, String)>,
) -> Result<dev::DevRateLimits, String> {
    let from_env = match env.find(|(k, _)| k == DEV_RATE_LIMITS_VARIABLE) {
        None => dev::DevRateLimits::On,
        Some((_, v)) => match v.as_str() {
            "on" => dev::DevRateLimits::On,
            "off" => dev::DevRateLimits::Off,
            _ => {
                return Err(format!(
                    "{DEV_RATE_LIMITS_VARIABLE}: {v:?} is neither on nor off (dev mode's per-client rate limits)"
                ))
            }
        },
    };
    Ok(if no_rate_limits {
        dev::DevRateLimits::Off
    } else {
        from_env
    })
}

/// `--bank ID=ISSUER`.
fn parse_bank(s: &str) -> Result<(String, String), String> {
    let (id, issuer) = s
        .split_once('=')
        .ok_or("expected ID=ISSUER, e.g. testpankki=http://127.0.0.1:9000")?;
    if id.is_empty() || issuer.is_empty() {
        return Err("expected ID=ISSUER".into());
    }
    Ok((id.to_owned(), issuer.to_owned()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use dev::DevRateLimits::{Off, On};

    use crate::app::test_env as env;

    #[test]
    fn dev_rate_limits_are_on_unless_the_flag_or_the_variable_turns_them_off() {
        assert_eq!(dev_rate_limits(false, env(&[])), Ok(On));
        assert_eq!(dev_rate_limits(true, env(&[])), Ok(Off));
        let var = DEV_RATE_LIMITS_VARIABLE;
        assert_eq!(dev_rate_limits(false, env(&[(var, "off")])), Ok(Off));
        assert_eq!(dev_rate_limits(false, env(&[(var, "on")])), Ok(On));
        assert_eq!(dev_rate_limits(true, env(&[(var, "on")])), Ok(Off));
        for bad in ["", "OFF", "0", "false", "no"] {
            for flag in [false, true] {
                let err = dev_rate_limits(flag, env(&[(var, bad)])).unwrap_err();
                assert!(
                    err.contains("GATEWAY_DEV_RATE_LIMITS") && err.contains("neither on nor off"),
                    "{err}"
                );
            }
        }
    }

    #[test]
    fn no_rate_limits_is_a_dev_flag() {
        let cli = Cli::try_parse_from(["gateway", "dev", "--no-rate-limits"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Dev {
                no_rate_limits: true,
                ..
            }
        ));
        let cli = Cli::try_parse_from(["gateway", "dev"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Dev {
                no_rate_limits: false,
                ..
            }
        ));
    }
}
