//! Serving: a gateway launched in the background (its listeners, bank and CRL refresh), as
//! `gateway serve`, dev mode and the tests run it.

use super::config::{Config, ConfigProblem};
use super::dev::DevRateLimits;
use super::state::{self, Gateway, Runtime};
use crate::upstream::{banks, idcard};
use crate::web::edge::{EdgeSettings, RateLimit};
use std::net::SocketAddr;
use std::sync::Arc;

/// A gateway serving in the background; dropping it (or `stop`) shuts it down.
pub struct RunningGateway {
    pub base_url: String,
    pub addr: SocketAddr,
    pub state: Arc<Gateway>,
    shutdown: Option<tokio::sync::watch::Sender<bool>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    /// Other listeners (the certificate listener): they drain with the main one.
    listeners: Vec<tokio::task::JoinHandle<std::io::Result<()>>>,
    /// Background work that ends with the server (the banks' periodic refresh).
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningGateway {
    pub async fn stop(mut self) {
        self.signal_shutdown();
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
        for t in self.listeners.drain(..) {
            let _ = t.await;
        }
    }

    /// Tell every listener to stop accepting and drain; end the background work.
    fn signal_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        for t in self.background.drain(..) {
            t.abort();
        }
    }

    /// Serve until `signal` resolves, then stop gracefully (in-flight requests finish).
    pub async fn run_until(
        mut self,
        signal: impl std::future::Future<Output = ()>,
    ) -> std::io::Result<()> {
        let Some(mut task) = self.task.take() else {
            return Ok(());
        };
        tokio::select! {
            r = &mut task => return r.unwrap_or_else(|e| Err(std::io::Error::other(e))),
            _ = signal => {}
        }
        self.signal_shutdown();
        let main = task.await.unwrap_or_else(|e| Err(std::io::Error::other(e)));
        for t in self.listeners.drain(..) {
            if let Ok(Err(e)) = t.await {
                tracing::warn!(error = %e, "a listener ended with an error while draining");
            }
        }
        main
    }
}

impl Drop for RunningGateway {
    fn drop(&mut self) {
        self.signal_shutdown();
    }
}

/// Production mode from a checked config, as `gateway serve` runs it: the state is built from
/// the file (every key and metadata file loaded), every bank is refreshed once (a failure is
/// logged and that bank shows an error page until a later refresh succeeds), the periodic bank
/// refresh starts, and the gateway serves on `listener` behind the edge `[server]` describes.
pub async fn serve_config(
    cfg: &Config,
    listener: tokio::net::TcpListener,
    rt: Runtime,
) -> Result<RunningGateway, Vec<ConfigProblem>> {
    serve_config_with(cfg, listener, None, rt).await
}

/// As [`serve_config`], with the certificate listener's socket already bound (it must be the
/// address `methods.idcard.listen` names): how a test world starts on port 0 without reserving
/// a port and hoping it stays free.
pub async fn serve_config_with(
    cfg: &Config,
    listener: tokio::net::TcpListener,
    idcard_listener: Option<tokio::net::TcpListener>,
    rt: Runtime,
) -> Result<RunningGateway, Vec<ConfigProblem>> {
    let addr = listener.local_addr().map_err(|e| {
        vec![ConfigProblem {
            path: "server.listen".into(),
            message: e.to_string(),
        }]
    })?;
    let edge = cfg.server.edge().map_err(|p| vec![p])?;
    let stores = state::connect_stores(cfg, &rt).await?;
    let owned = cfg.clone();
    let gw = tokio::task::spawn_blocking(move || state::from_config_with(&owned, rt, stores))
        .await
        .map_err(|e| {
            vec![ConfigProblem {
                path: "(state)".into(),
                message: e.to_string(),
            }]
        })??;
    // The certificate listener's address is bound here (unless the caller bound it) so that a
    // taken port is reported like any other config problem, before anything serves.
    let idcard_listener = match (&gw.idcard, idcard_listener) {
        (Some(h), Some(l)) => {
            let bound = l.local_addr().ok();
            if bound != Some(h.listen) {
                return Err(vec![ConfigProblem {
                    path: "methods.idcard.listen".into(),
                    message: format!(
                        "the listener handed over is bound to {bound:?}, not {}",
                        h.listen
                    ),
                }]);
            }
            Some(l)
        }
        (Some(h), None) => Some(tokio::net::TcpListener::bind(h.listen).await.map_err(|e| {
            vec![ConfigProblem {
                path: "methods.idcard.listen".into(),
                message: format!("cannot listen on {}: {e}", h.listen),
            }]
        })?),
        (None, _) => None,
    };
    Ok(launch_behind(gw, listener, addr, idcard_listener, edge).await)
}

/// Dev mode's launch: the development edge (rate limits a person clicking around never meets,
/// or none for a load test), Strict-Transport-Security when the public URL is https.
pub(super) async fn launch(
    gw: Gateway,
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    idcard_listener: Option<tokio::net::TcpListener>,
    rate_limits: DevRateLimits,
) -> RunningGateway {
    let development = EdgeSettings::development();
    let edge = EdgeSettings {
        hsts: gw.idp.base_url.starts_with("https://"),
        rate_limit: match rate_limits {
            DevRateLimits::On => development.rate_limit,
            DevRateLimits::Off => RateLimit::OFF,
        },
        ..development
    };
    launch_behind(gw, listener, addr, idcard_listener, edge).await
}

/// Expire the in-memory stores' entries every few seconds, whether requests come or not (they
/// also expire on use): an idle gateway gives the memory of expired entries back.
fn spawn_sweep(idp: Arc<crate::flows::Idp>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(crate::stores::SWEEP_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            idp.store.sweep();
            idp.replay.sweep();
            idp.single_use.sweep();
        }
    })
}

/// Refresh the banks once (a bank that cannot be reached is retried in the background), start
/// their periodic refresh, and serve behind `edge`.
async fn launch_behind(
    gw: Gateway,
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    idcard_listener: Option<tokio::net::TcpListener>,
    edge: EdgeSettings,
) -> RunningGateway {
    let failed = gw.refresh_banks().await;
    if !failed.is_empty() {
        tracing::warn!(banks = ?failed, "some banks could not be reached at start; retrying in the background");
    }
    let failed = gw.refresh_crls().await;
    if !failed.is_empty() {
        tracing::warn!(sources = ?failed, "some CRLs could not be loaded at start; ID-card logins under those CAs fail closed until they load");
    }
    let mut background = banks::spawn_bank_refresh(&gw.banks, &gw.idp.clock);
    background.push(spawn_sweep(gw.idp.clone()));
    let (tx, rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let mut listeners = Vec::new();
    if let Some(h) = &gw.idcard {
        background.push(idcard::spawn_crl_refresh(h.clone(), gw.idp.clock.clone()));
        if let Some(l) = idcard_listener {
            if let Ok(a) = l.local_addr() {
                tracing::info!(listen = %a, "ID-card certificate listener serving");
            }
            listeners.push(tokio::spawn(idcard::serve_listener(
                l,
                h.clone(),
                gw.idp.clone(),
                stopped(rx.clone()),
            )));
        }
    }
    let gw = Arc::new(gw);
    let task = tokio::spawn(crate::web::serve_behind(
        listener,
        gw.web.clone(),
        edge,
        stopped(rx),
    ));
    RunningGateway {
        base_url: gw.idp.base_url.clone(),
        addr,
        state: gw,
        shutdown: Some(tx),
        task: Some(task),
        listeners,
        background,
    }
}
