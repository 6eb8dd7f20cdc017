//! The configured banks: one [`FtnBank`] adapter per `[[methods.banks]]` entry, and keeping each
//! bank's discovery document and keys fresh (once at start, then periodically in the background).
//!
//! The login itself runs through the generic upstream flow (`flows::start_method`,
//! `flows::upstream_callback`); nothing bank-specific happens in the handlers.

use certs::Clock;
use idp_adapters::ftn::FtnBank;
use std::sync::Arc;
use std::time::Duration;

/// One configured bank, with how often it is refreshed.
pub struct BankHandle {
    pub bank: Arc<FtnBank>,
    pub refresh_every: Duration,
}

impl BankHandle {
    /// The bank's configured id (the method is `bank:<id>`).
    pub fn id(&self) -> &str {
        &self.bank.config().id
    }
}

/// The banks and the RP keys built from a config: the adapters go into `Gateway::adapters`
/// (and so onto the selection page), the handles into `Gateway::banks`.
pub struct Banks {
    pub handles: Vec<BankHandle>,
    pub jwks: Option<String>,
}

impl Banks {
    pub fn none() -> Self {
        Banks {
            handles: Vec::new(),
            jwks: None,
        }
    }
}

/// Refresh one bank (discovery and keys) and log the outcome.
async fn refresh_one(bank: &FtnBank, clock: &dyn Clock) -> bool {
    let id = bank.config().id.clone();
    match bank.refresh(clock.now()).await {
        Ok(()) => {
            tracing::info!(bank = %id, "bank discovery and keys refreshed");
            true
        }
        Err(e) => {
            tracing::warn!(bank = %id, code = e.code(), error = %e,
                "bank refresh failed; the bank keeps its previous endpoints and keys (none before the first success)");
            false
        }
    }
}

/// Refresh every bank once, concurrently; a failure is logged and does not stop the others.
/// Returns the ids of the banks that failed.
pub async fn refresh_banks(banks: &[BankHandle], clock: &Arc<dyn Clock>) -> Vec<String> {
    let mut set = tokio::task::JoinSet::new();
    for h in banks {
        let bank = h.bank.clone();
        let clock = clock.clone();
        set.spawn(async move {
            let ok = refresh_one(&bank, clock.as_ref()).await;
            (bank.config().id.clone(), ok)
        });
    }
    let mut failed = Vec::new();
    while let Some(r) = set.join_next().await {
        match r {
            Ok((_, true)) => {}
            Ok((id, false)) => failed.push(id),
            Err(e) => tracing::error!(error = %e, "bank refresh task failed"),
        }
    }
    failed
}

/// How soon a bank that has never been refreshed successfully is tried again.
const RETRY_UNREADY: Duration = Duration::from_secs(30);

/// Keep every bank fresh in the background: one task per bank, refreshing every
/// `refresh_minutes` (sooner while the bank has no endpoints yet). Abort the handles to stop.
pub fn spawn_bank_refresh(
    banks: &[BankHandle],
    clock: &Arc<dyn Clock>,
) -> Vec<tokio::task::JoinHandle<()>> {
    banks
        .iter()
        .map(|h| {
            let bank = h.bank.clone();
            let clock = clock.clone();
            let every = h.refresh_every;
            tokio::spawn(async move {
                loop {
                    let wait = if bank.is_ready() {
                        every
                    } else {
                        every.min(RETRY_UNREADY)
                    };
                    tokio::time::sleep(wait).await;
                    refresh_one(&bank, clock.as_ref()).await;
                }
            })
        })
        .collect()
}
