//! The edge of the main listener: what every connection and request meets before a handler.
//!
//! - Connections: at most `max_connections` at once. One over the cap is closed as soon as it is
//!   accepted, so a flood of idle connections cannot use up the file descriptors the served ones
//!   need, and those under the cap are served as before.
//! - A client has `header_read_timeout` for the TLS handshake and then for each request's
//!   headers; the same limit closes an idle keep-alive connection (hyper starts the header
//!   timer whenever it waits for a request head).
//! - A request has `request_timeout` from its head to its response, reading the body included
//!   (408 after it).
//! - The SSO and login endpoints are rate limited per client address ([`limit`]): 429 with a
//!   page in the citizen's language and `Retry-After`. The address is the TCP peer's, or, when
//!   the peer is a trusted proxy, the one its forwarding header names ([`client`]). With
//!   [`RateLimit::OFF`] (dev mode's load-test switch) no limiter is installed.
//! - Every response carries the security headers ([`security_headers`]); a handler's own
//!   Content-Security-Policy (the auto-post page's nonce) is kept.
//! - TLS is optional: rustls on aws-lc-rs, for a single machine with no proxy in front.
//! - Shutdown: the listening socket is closed (new connections are refused), idle connections
//!   are closed, requests in flight finish within [`EdgeSettings::drain_timeout`], then
//!   [`serve`] returns.

mod client;
mod limit;

pub use client::{ClientAddress, ForwardedHeader};
pub use limit::{ClientLimiter, RateLimit, MAX_TRACKED_CLIENTS};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::Router;
use pki_types::pem::PemObject;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt as _;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

/// How the main listener meets its clients.
#[derive(Clone, Debug)]
pub struct EdgeSettings {
    /// Which listener this is, in its log lines (`main`, `certificate`).
    pub name: &'static str,
    /// For each request's headers (and between requests); also for the TLS handshake unless
    /// `tls_handshake_timeout` is shorter.
    pub header_read_timeout: Duration,
    /// For the TLS handshake.
    pub tls_handshake_timeout: Duration,
    /// From a request's head to its response, the body read included.
    pub request_timeout: Duration,
    /// Connections served at once; more are closed at accept.
    pub max_connections: usize,
    /// Serve TLS on the listener itself (no proxy in front).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Send Strict-Transport-Security: the gateway is reached over https (its own TLS, or a
    /// TLS-terminating proxy in front of an https public URL).
    pub hsts: bool,
    /// Where a request's client address comes from.
    pub client_address: ClientAddress,
    /// Per-client limit on the SSO and login endpoints.
    pub rate_limit: RateLimit,
}

impl EdgeSettings {
    pub const DEFAULT_HEADER_READ_TIMEOUT_SECONDS: u32 = 10;
    pub const DEFAULT_REQUEST_TIMEOUT_SECONDS: u32 = 30;
    /// Well under a default `ulimit -n` of 65536 with room for the store, banks and CRLs.
    pub const DEFAULT_MAX_CONNECTIONS: u32 = 4096;

    /// Production defaults: no TLS, client address = TCP peer.
    pub fn new() -> Self {
        EdgeSettings {
            name: "main",
            header_read_timeout: secs(Self::DEFAULT_HEADER_READ_TIMEOUT_SECONDS),
            tls_handshake_timeout: secs(Self::DEFAULT_HEADER_READ_TIMEOUT_SECONDS),
            request_timeout: secs(Self::DEFAULT_REQUEST_TIMEOUT_SECONDS),
            max_connections: Self::DEFAULT_MAX_CONNECTIONS as usize,
            tls: None,
            hsts: false,
            client_address: ClientAddress::peer(),
            rate_limit: RateLimit::DEFAULT,
        }
    }

    /// Dev mode: the same edge, with limits a person clicking around (or a browser test) never
    /// meets.
    pub fn development() -> Self {
        EdgeSettings {
            rate_limit: RateLimit::DEVELOPMENT,
            ..Self::new()
        }
    }

    /// How long shutdown waits for requests in flight: a request that has begun is done within
    /// its headers' and its own timeout.
    pub fn drain_timeout(&self) -> Duration {
        self.header_read_timeout + self.request_timeout
    }
}

impl Default for EdgeSettings {
    fn default() -> Self {
        Self::new()
    }
}

fn secs(s: u32) -> Duration {
    Duration::from_secs(s.into())
}

/// The listener's TLS: a server certificate chain and key from PEM files, TLS 1.2 and 1.3 on
/// aws-lc-rs, HTTP/1.1 by ALPN.
pub fn server_tls(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, String> {
    let chain: Vec<pki_types::CertificateDer<'static>> =
        pki_types::CertificateDer::pem_file_iter(cert)
            .and_then(|it| it.collect())
            .map_err(|e| format!("{}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("{}: no certificate", cert.display()));
    }
    let key = pki_types::PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("{}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// What the edge counts between two reports in the log.
#[derive(Default)]
struct Counters {
    refused_connections: AtomicU64,
}

/// How often the limiter drops clients whose bucket has refilled, and the counts are logged.
const MAINTENANCE_EVERY: Duration = Duration::from_secs(10);

/// Serve `app` behind the edge until `shutdown` resolves, then drain (see the module comment).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    edge: EdgeSettings,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limiter = Arc::new(ClientLimiter::new(edge.rate_limit));
    let app = with_layers(app, &edge, limiter.clone());
    let counters = Arc::new(Counters::default());
    let maintenance = tokio::spawn(maintain(limiter, counters.clone()));
    let _maintenance = AbortOnDrop(maintenance);
    let tls = edge.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    let slots = Arc::new(tokio::sync::Semaphore::new(edge.max_connections));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, say: give the served connections a moment to end.
                    tracing::warn!(listener = edge.name, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        while connections.try_join_next().is_some() {}
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            counters.refused_connections.fetch_add(1, Ordering::Relaxed);
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let conn = Connection {
            peer,
            app: app.clone(),
            header_read_timeout: edge.header_read_timeout,
            tls_handshake_timeout: edge.tls_handshake_timeout.min(edge.header_read_timeout),
            stop: stop_rx.clone(),
            listener: edge.name,
        };
        let tls = tls.clone();
        connections.spawn(async move {
            let _slot = slot;
            match tls {
                Some(acceptor) => conn.serve_tls(stream, acceptor).await,
                None => conn.serve(stream).await,
            }
        });
    }
    // New connections are refused from here on; connections without a request in flight close.
    drop(listener);
    let _ = stop_tx.send(true);
    let in_flight = connections.len();
    let drained = tokio::time::timeout(edge.drain_timeout(), async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    match drained {
        Ok(()) => tracing::info!(
            listener = edge.name,
            connections = in_flight,
            "listener stopped; connections drained"
        ),
        Err(_) => tracing::warn!(
            listener = edge.name,
            left = connections.len(),
            "listener stopped; connections still open after the drain timeout are closed"
        ),
    }
    connections.abort_all();
    Ok(())
}

/// The router behind the edge's layers. The security headers are outermost so that the edge's
/// own answers (408, 429) carry them too.
fn with_layers(app: Router, edge: &EdgeSettings, limiter: Arc<ClientLimiter>) -> Router {
    let limits = limit::Layer {
        limiter,
        client_address: edge.client_address.clone(),
    };
    let app = if edge.rate_limit.is_off() {
        app
    } else {
        app.layer(axum::middleware::from_fn_with_state(
            Arc::new(limits),
            limit::rate_limit,
        ))
    };
    let app = app.layer(TimeoutLayer::with_status_code(
        StatusCode::REQUEST_TIMEOUT,
        edge.request_timeout,
    ));
    security_headers(app, edge.hsts)
}

/// The Content-Security-Policy of a response whose handler set none: nothing it could embed,
/// frame or submit. Pages set their own (see [`super::http::security_headers`]).
pub const DEFAULT_CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// One year, no `includeSubDomains`: the gateway's domain may share a parent with services that
/// are not ours to pin.
const HSTS: &str = "max-age=31536000";

/// Headers every response carries, metadata and JWKS included; a value the handler set is kept.
fn security_headers(app: Router, hsts: bool) -> Router {
    let app = app
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DEFAULT_CSP),
        ));
    if hsts {
        app.layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        ))
    } else {
        app
    }
}

/// The certificate chain (DER, leaf first) a TLS client presented in the handshake, in every
/// request's extensions: `None` on a plain connection, empty when the client presented none.
/// Only a listener whose TLS asks for client certificates (the ID card's) ever sees one.
#[derive(Clone, Debug)]
pub struct PeerCertificates(pub Option<Arc<Vec<Vec<u8>>>>);

/// One accepted connection and what serving it needs.
struct Connection {
    peer: SocketAddr,
    app: Router,
    header_read_timeout: Duration,
    tls_handshake_timeout: Duration,
    stop: tokio::sync::watch::Receiver<bool>,
    listener: &'static str,
}

impl Connection {
    async fn serve_tls(
        mut self,
        stream: tokio::net::TcpStream,
        acceptor: tokio_rustls::TlsAcceptor,
    ) {
        let handshake = tokio::time::timeout(self.tls_handshake_timeout, acceptor.accept(stream));
        let stream = tokio::select! {
            done = handshake => match done {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(listener = self.listener, peer = %self.peer.ip(), error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            },
            () = stopped(&mut self.stop) => return,
        };
        let chain: Vec<Vec<u8>> = stream
            .get_ref()
            .1
            .peer_certificates()
            .map(|c| c.iter().map(|d| d.to_vec()).collect())
            .unwrap_or_default();
        self.serve_with(stream, PeerCertificates(Some(Arc::new(chain))))
            .await
    }

    async fn serve<S>(self, io: S)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        self.serve_with(io, PeerCertificates(None)).await
    }

    async fn serve_with<S>(mut self, io: S, certificates: PeerCertificates)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (peer, app, listener) = (self.peer, self.app.clone(), self.listener);
        let service = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            req.extensions_mut().insert(certificates.clone());
            app.clone().oneshot(req.map(Body::new))
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(self.header_read_timeout)
            .serve_connection(hyper_util::rt::TokioIo::new(io), service);
        tokio::pin!(conn);
        let result = tokio::select! {
            r = conn.as_mut() => r,
            () = stopped(&mut self.stop) => {
                // A request in flight finishes (its response says `Connection: close`); an
                // idle connection closes now.
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        };
        if let Err(e) = result {
            tracing::debug!(listener, peer = %peer.ip(), error = %e, "connection ended with an error");
        }
    }
}

/// Resolves once the listener has stopped (or is gone).
async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Every [`MAINTENANCE_EVERY`]: drop the limiter's clients whose bucket has refilled, and log
/// what the edge refused since the last time (nothing when it refused nothing).
async fn maintain(limiter: Arc<ClientLimiter>, counters: Arc<Counters>) {
    let mut tick = tokio::time::interval(MAINTENANCE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let clients = limiter.sweep();
        let limited = limiter.take_refused();
        let refused = counters.refused_connections.swap(0, Ordering::Relaxed);
        if limited > 0 || refused > 0 {
            tracing::warn!(
                rate_limited_requests = limited,
                refused_connections = refused,
                tracked_clients = clients,
                "edge: requests over their client's rate limit and connections over the cap were refused"
            );
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
