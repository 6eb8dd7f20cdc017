//! ID-card login, the gateway's part: the certificate listener (its own address; TLS with
//! optional client authentication, or plain HTTP behind a trusted TLS-terminating proxy), the
//! capture of the presented chain against the flow's `state`, and the CRL refresh.
//!
//! The browser arrives at `<listener>/idcard/login?state=..` (sent there by the adapter's
//! `start`). The listener does not log anyone in: it stores the chain it saw for that state
//! (once, for a few minutes) and sends the browser back to `<gateway>/login/idcard/callback`,
//! where the ordinary upstream callback checks the browser binding, consumes the flow and hands
//! the captured chain to the adapter, which validates it.
//!
//! CRLs outlive a restart in the revocation state ([`crate::stores::revocation`]): each CRL
//! installed newer than the one recorded for its issuer is recorded, and the first refresh takes
//! the recorded ones back (verified again) before it fetches anything, so a replayed older CRL
//! is refused after a restart as it is before.

use crate::flows::{self, FlowError, Idp, UpstreamFailure};
use crate::stores::revocation::{RecordedCrl, RevocationState, MALFORMED_RECORD};
use crate::stores::StoreError;
use crate::web::edge::{EdgeSettings, PeerCertificates};
use crate::web::http;
use crate::web::proxy::ProxyRange;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, HeaderName};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use base64::Engine as _;
use certs::Clock;
use idp_adapters::idcard::{
    CardError, ChainValidator, IdCard, Restored, VerifiedCrl, MAX_CERT_BYTES, MAX_CHAIN_LEN,
    MAX_CRL_BYTES, NO_CERTIFICATE,
};
use idp_adapters::AdapterError;
use pki_types::pem::PemObject;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Largest forwarded-certificate header value (URL-escaped PEM of a chain).
const MAX_FORWARDED_HEADER: usize = 64 * 1024;
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// For each request's headers, and between requests on a kept-alive connection.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections the listener serves at once; more are closed at accept (a flood of silent
/// connections must not use up the process's file descriptors, shared with the main listener).
const MAX_LISTENER_CONNECTIONS: usize = 512;

/// The ID-card method as configured: the adapter and how its listener runs.
pub struct IdCardHandle {
    pub adapter: Arc<IdCard>,
    pub listen: SocketAddr,
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub forwarded_header: Option<HeaderName>,
    pub trusted_proxies: Vec<ProxyRange>,
    pub crl_files: Vec<PathBuf>,
    pub crl_urls: Vec<String>,
    pub crl_refresh_max: time::Duration,
    /// Where the newest CRL per issuer (and the OCSP cache) outlive a restart.
    pub revocation: Arc<dyn RevocationState>,
    /// What this process knows of the revocation state's CRLs.
    pub recorded: RecordedCrls,
}

/// Per issuer (name DER), the thisUpdate of the CRL the revocation state holds as far as this
/// process knows; and whether the recorded CRLs were taken back yet (retried at every refresh
/// until the state answered for every CA).
#[derive(Default)]
pub struct RecordedCrls {
    this_update: std::sync::Mutex<std::collections::HashMap<Vec<u8>, time::OffsetDateTime>>,
    restored: std::sync::atomic::AtomicBool,
}

impl RecordedCrls {
    fn known(&self, issuer: &[u8]) -> Option<time::OffsetDateTime> {
        self.lock().get(issuer).copied()
    }

    fn note(&self, issuer: &[u8], this_update: time::OffsetDateTime) {
        let mut map = self.lock();
        let entry = map.entry(issuer.to_vec()).or_insert(this_update);
        *entry = (*entry).max(this_update);
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<Vec<u8>, time::OffsetDateTime>> {
        self.this_update.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The listener's TLS: its server certificate, and a client certificate requested (not
/// required) with the trusted CAs named as hints so the browser offers the card.
pub fn server_tls(
    cert: &PathBuf,
    key: &PathBuf,
    validator: &ChainValidator,
    intermediates: &[Vec<u8>],
) -> Result<Arc<rustls::ServerConfig>, String> {
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
    let mut hints: Vec<rustls::DistinguishedName> = validator
        .anchor_subjects()
        .iter()
        .map(|s| rustls::DistinguishedName::in_sequence(s))
        .collect();
    hints.extend(intermediates.iter().filter_map(|der| {
        use x509_parser::prelude::FromDer;
        x509_parser::certificate::X509Certificate::from_der(der)
            .ok()
            .map(|(_, c)| rustls::DistinguishedName::from(c.subject().as_raw().to_vec()))
    }));
    let verifier = Arc::new(
        accept_any_client_certificate::DeferredClientCertVerifier::new(provider.clone(), hints),
    );
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The risky part, named so a reviewer finds it: the TLS layer accepts any client certificate
/// whose key signed the handshake, because the chain is validated afterwards by the adapter,
/// where a refusal becomes a page in the citizen's language and an audit line instead of a
/// bare TLS alert. Nothing on the listener trusts the certificate before that validation.
mod accept_any_client_certificate {
    use rustls::client::danger::HandshakeSignatureValid;
    use rustls::crypto::CryptoProvider;
    use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
    use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
    use std::sync::Arc;

    #[derive(Debug)]
    pub(super) struct DeferredClientCertVerifier {
        provider: Arc<CryptoProvider>,
        hints: Vec<DistinguishedName>,
    }

    impl DeferredClientCertVerifier {
        pub(super) fn new(provider: Arc<CryptoProvider>, hints: Vec<DistinguishedName>) -> Self {
            Self { provider, hints }
        }
    }

    impl ClientCertVerifier for DeferredClientCertVerifier {
        fn offer_client_auth(&self) -> bool {
            true
        }

        fn client_auth_mandatory(&self) -> bool {
            false
        }

        fn root_hint_subjects(&self) -> &[DistinguishedName] {
            &self.hints
        }

        fn verify_client_cert(
            &self,
            _end_entity: &pki_types::CertificateDer<'_>,
            _intermediates: &[pki_types::CertificateDer<'_>],
            _now: pki_types::UnixTime,
        ) -> Result<ClientCertVerified, rustls::Error> {
            // Deferred: see the module comment. Possession of the key is still proven below.
            Ok(ClientCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &pki_types::CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &pki_types::CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.provider
                .signature_verification_algorithms
                .supported_schemes()
        }
    }
}

/// What the listener's handler needs.
struct ListenerState {
    idp: Arc<Idp>,
    handle: Arc<IdCardHandle>,
}

/// The listener's edge: the main listener's accept loop (connection cap, timeouts, security
/// headers, drain on shutdown) with this listener's TLS, which asks for a client certificate.
fn listener_edge(handle: &IdCardHandle) -> EdgeSettings {
    EdgeSettings {
        name: "certificate",
        max_connections: MAX_LISTENER_CONNECTIONS,
        tls_handshake_timeout: TLS_HANDSHAKE_TIMEOUT,
        header_read_timeout: HEADER_READ_TIMEOUT,
        tls: handle.tls.clone(),
        hsts: handle.tls.is_some(),
        ..EdgeSettings::new()
    }
}

/// Serve the certificate listener until `shutdown` resolves; requests in flight finish.
pub async fn serve_listener(
    listener: tokio::net::TcpListener,
    handle: Arc<IdCardHandle>,
    idp: Arc<Idp>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let edge = listener_edge(&handle);
    let router = Router::new()
        .route(idp_adapters::idcard::LISTENER_LOGIN_PATH, get(capture))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(Arc::new(ListenerState { idp, handle }));
    crate::web::edge::serve(listener, router, edge, shutdown).await
}

/// `GET <listener>/idcard/login?state=..&lang=..`: capture the presented chain for this state
/// and send the browser back to the gateway's callback.
async fn capture(
    State(st): State<Arc<ListenerState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Extension(certificates): Extension<PeerCertificates>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    // The cap before any parsing: a listener query is a state and a language.
    let fields = if query.len() > 1024 {
        Vec::new()
    } else {
        http::form_fields(query.as_bytes())
    };
    let lang_field = fields
        .iter()
        .find(|(k, _)| k == "lang")
        .map(|(_, v)| v.as_str());
    let lang = http::language(&headers, lang_field).chosen;
    let idp = st.idp.as_ref();
    let result = async {
        if query.len() > 1024 {
            return Err(FlowError::BadForm("listener query"));
        }
        // Only the form of a state we issue (the listener cannot tell a live one: flows live
        // in the browser, and this may be another origin than the one their cookies are for).
        let state = flows::single_field(&fields, "state")?
            .filter(|s| {
                (16..=64).contains(&s.len())
                    && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
            .ok_or(FlowError::FlowNotFound)?;
        let (chain, source) = presented_chain(&st.handle, peer, &certificates, &headers)?;
        // Nothing is kept here: the chain is sealed for this state into the redirect, which goes
        // only to the browser that presented the certificate. The callback on the gateway's
        // origin opens it only for that browser's own flow with this state (the state alone,
        // which the browser that started the flow could have handed to someone else's browser,
        // is not enough), and records the state's single use.
        let capture = flows::seal_capture(idp, state, &chain)?;
        let certificate = chain
            .first()
            .map(|leaf| keyed_fingerprint(idp, leaf))
            .unwrap_or_else(|| "none".into());
        tracing::info!(target: "audit", event = "idcard_presented", source, certificates = chain.len(),
            certificate = %certificate, peer = %peer.ip());
        let mut to = format!(
            "{}/login/idcard/callback?state={}&capture={capture}",
            idp.base_url,
            percent_encoding::utf8_percent_encode(state, percent_encoding::NON_ALPHANUMERIC),
        );
        if chain.is_empty() {
            to.push_str(&format!("&error={NO_CERTIFICATE}"));
        }
        Ok(http::see_other(to))
    }
    .await;
    result.unwrap_or_else(|e| crate::web::error_page(e, lang, idp.rng.as_ref()))
}

fn refused(e: AdapterError) -> FlowError {
    FlowError::upstream(idp_adapters::idcard::IDCARD_ID, UpstreamFailure::Adapter(e))
}

/// The chain this request presented: from the forwarded header when the peer is a trusted
/// proxy (and the header is configured), else from the TLS handshake. A forwarded header from
/// anyone else is ignored, and said so in the log.
fn presented_chain(
    handle: &IdCardHandle,
    peer: SocketAddr,
    certificates: &PeerCertificates,
    headers: &HeaderMap,
) -> Result<(Vec<Vec<u8>>, &'static str), FlowError> {
    let refused = |e: CardError| refused(AdapterError::Card(e));
    if let Some(name) = &handle.forwarded_header {
        let trusted = handle.trusted_proxies.iter().any(|p| p.contains(peer.ip()));
        let values: Vec<_> = headers.get_all(name).iter().collect();
        if trusted {
            if values.len() > 1 {
                return Err(refused(CardError::Malformed));
            }
            let chain = match values.first() {
                Some(v) => {
                    let text = v.to_str().map_err(|_| refused(CardError::Malformed))?;
                    parse_forwarded(text).map_err(refused)?
                }
                None => Vec::new(),
            };
            return Ok((chain, "proxy"));
        }
        if !values.is_empty() {
            tracing::warn!(target: "audit", event = "idcard_forwarded_header_ignored", peer = %peer.ip(),
                "a forwarded certificate header came from an address that is not a trusted proxy");
        }
    }
    match &certificates.0 {
        Some(chain) => Ok((chain.as_ref().clone(), "tls")),
        None => Ok((Vec::new(), "none")),
    }
}

/// A forwarded certificate: URL-escaped PEM (nginx `$ssl_client_escaped_cert`), PEM with its
/// line breaks turned into spaces (Apache, some load balancers), or base64 DER. Empty: none.
pub fn parse_forwarded(value: &str) -> Result<Vec<Vec<u8>>, CardError> {
    if value.len() > MAX_FORWARDED_HEADER {
        return Err(CardError::CertificateTooLarge {
            len: value.len(),
            max: MAX_FORWARDED_HEADER,
        });
    }
    let decoded = if value.contains('%') {
        percent_encoding::percent_decode_str(value)
            .decode_utf8()
            .map_err(|_| CardError::Malformed)?
            .into_owned()
    } else {
        value.to_owned()
    };
    let text = decoded.trim();
    if text.is_empty() || text == "(null)" {
        return Ok(Vec::new());
    }
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let engine = base64::engine::general_purpose::STANDARD;
    let decode = |b64: &str| -> Result<Vec<u8>, CardError> {
        let compact: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let der = engine.decode(compact).map_err(|_| CardError::Malformed)?;
        if der.len() > MAX_CERT_BYTES {
            return Err(CardError::CertificateTooLarge {
                len: der.len(),
                max: MAX_CERT_BYTES,
            });
        }
        Ok(der)
    };
    if !text.contains(BEGIN) {
        return Ok(vec![decode(text)?]);
    }
    let mut chain = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let body = &rest[start + BEGIN.len()..];
        let end = body.find(END).ok_or(CardError::Malformed)?;
        chain.push(decode(&body[..end])?);
        if chain.len() > MAX_CHAIN_LEN {
            return Err(CardError::ChainTooLong { max: MAX_CHAIN_LEN });
        }
        rest = &body[end + END.len()..];
    }
    Ok(chain)
}

/// A certificate named in the audit trail without naming the person: keyed like audit subjects.
fn keyed_fingerprint(idp: &Idp, der: &[u8]) -> String {
    let digest = flows::sha256_hex(&[der]);
    let tag = aws_lc_rs::hmac::sign(
        &idp.pairwise_key,
        format!("certificate\0{digest}").as_bytes(),
    );
    hex::encode(&tag.as_ref()[..12])
}

// ---------------------------------------------------------------------------------------------
// CRLs

pub fn install_file(
    handle: &IdCardHandle,
    file: &PathBuf,
    now: time::OffsetDateTime,
) -> Result<(), String> {
    let bytes = read_capped(file)?;
    install(&handle.adapter, &bytes, &file.display().to_string(), now).map(|_| ())
}

fn read_capped(file: &PathBuf) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let f = std::fs::File::open(file).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    f.take(MAX_CRL_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    Ok(bytes)
}

/// Install a fetched CRL; the CRL now in use for its issuer when it was this one (new or
/// unchanged), `None` when it was older than what is held.
fn install(
    adapter: &IdCard,
    bytes: &[u8],
    source: &str,
    now: time::OffsetDateTime,
) -> Result<Option<VerifiedCrl>, String> {
    match adapter.install_crl(bytes, now) {
        Ok((crl, idp_adapters::idcard::Installed::Unchanged)) => {
            tracing::debug!(source, issuer = crl.issuer_name(), "CRL unchanged");
            Ok(Some(crl))
        }
        Ok((crl, _)) => {
            tracing::info!(source, issuer = crl.issuer_name(), this_update = %crl.this_update(),
                next_update = %crl.next_update(), revoked = crl.revoked_count(), "CRL installed");
            Ok(Some(crl))
        }
        Err(e @ idp_adapters::idcard::CrlError::Older { .. }) => {
            // Not a failure of the source's availability, but worth seeing: a replayed old CRL
            // could un-revoke a card if it were installed. (The same after a restart: the
            // recorded CRL was taken back first.)
            tracing::warn!(source, reason = %e, "an older CRL than the installed one was offered and ignored");
            Ok(None)
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Parsing and verifying a national CA's CRL takes tens of milliseconds: off the async runtime.
async fn install_off_runtime(
    adapter: Arc<IdCard>,
    bytes: Vec<u8>,
    source: String,
    now: time::OffsetDateTime,
) -> Result<Option<VerifiedCrl>, String> {
    tokio::task::spawn_blocking(move || install(&adapter, &bytes, &source, now))
        .await
        .map_err(|e| e.to_string())?
}

/// Fetch every CRL source once; the sources that failed, as "source: reason". The first time
/// (and until the revocation state answered), the recorded CRLs are taken back first.
pub async fn refresh_crls(handle: &IdCardHandle, clock: &dyn Clock) -> Vec<String> {
    let mut failed = Vec::new();
    let now = clock.now();
    // Until the recorded CRLs are back, the sources' newest is installed as it is without a
    // record (never no CRL at all), and the next refresh (in a minute) tries again.
    let restored = &handle.recorded.restored;
    if !restored.load(std::sync::atomic::Ordering::SeqCst) {
        if restore_recorded_crls(handle, now).await {
            restored.store(true, std::sync::atomic::Ordering::SeqCst);
        } else {
            failed.push(format!(
                "recorded CRLs ({}): cannot be read",
                handle.revocation.location()
            ));
        }
    }
    let mut installed = Vec::new();
    for file in &handle.crl_files {
        let name = file.display().to_string();
        let file = file.clone();
        let adapter = handle.adapter.clone();
        let result = tokio::task::spawn_blocking(move || {
            let bytes = read_capped(&file)?;
            install(&adapter, &bytes, &file.display().to_string(), now)
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
        match result {
            Ok(crl) => installed.extend(crl),
            Err(e) => failed.push(format!("{name}: {e}")),
        }
    }
    if !handle.crl_urls.is_empty() {
        match signed_content_client(MAX_CRL_BYTES) {
            Ok(client) => {
                for url in &handle.crl_urls {
                    let result = match fetch(&client, url).await {
                        Ok(bytes) => {
                            install_off_runtime(handle.adapter.clone(), bytes, url.clone(), now)
                                .await
                        }
                        Err(e) => Err(e),
                    };
                    match result {
                        Ok(crl) => installed.extend(crl),
                        Err(e) => failed.push(format!("{url}: {e}")),
                    }
                }
            }
            Err(e) => failed.push(e),
        }
    }
    for f in &failed {
        tracing::warn!(problem = %f, "CRL refresh failed; the installed CRL stays until its nextUpdate, then logins fail closed");
    }
    for crl in installed {
        record_crl(handle, &crl, now).await;
    }
    failed
}

/// Take back the CRL recorded for every configured CA (its name is the issuer a CRL names),
/// verifying each again; `false` when the revocation state could not be read for some CA (the
/// next refresh tries again). A record that is unreadable or does not verify is ignored with a
/// warning: the CRL sources decide then, as without a record.
pub async fn restore_recorded_crls(handle: &IdCardHandle, now: time::OffsetDateTime) -> bool {
    let mut answered = true;
    for issuer in ca_subjects(handle.adapter.validator().ca_certs()) {
        let recorded = match handle.revocation.crl(&issuer, now).await {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            // There, but not ours or not whole: refused and forgotten like one that does not
            // verify (below), not retried.
            Err(e @ StoreError::Tampered { .. }) => {
                forget_refused(handle, &issuer, &e.to_string(), &mut answered).await;
                continue;
            }
            Err(StoreError::Unavailable(why)) if why.starts_with(MALFORMED_RECORD) => {
                forget_refused(handle, &issuer, &why, &mut answered).await;
                continue;
            }
            Err(e) => {
                answered = false;
                tracing::warn!(code = e.code(), error = %e, "the recorded CRL cannot be read; CRLs are fetched as without it, and it is read again at the next refresh");
                continue;
            }
        };
        let adapter = handle.adapter.clone();
        let started = std::time::Instant::now();
        let (bytes, claimed) = (recorded.der, recorded.this_update);
        let result = tokio::task::spawn_blocking(move || adapter.restore_crl(&bytes, now)).await;
        let took_ms = started.elapsed().as_millis();
        let refused = match result {
            Ok(Ok((crl, restored))) if crl.issuer() == issuer.as_slice() => {
                handle.recorded.note(&issuer, crl.this_update());
                tracing::info!(issuer = crl.issuer_name(), this_update = %crl.this_update(),
                    next_update = %crl.next_update(), installed = matches!(restored, Restored::Installed(_)),
                    took_ms, from = %handle.revocation.location(), "recorded CRL verified and taken back");
                // Its record must not claim another thisUpdate than the CRL's own (a claimed
                // later one would keep every genuine newer CRL from being recorded).
                (crl.this_update() != claimed).then_some("its recorded thisUpdate is not its own")
            }
            Ok(Ok(_)) => Some("it names another issuer than the CA it is recorded for"),
            Ok(Err(_)) => Some("it does not verify"),
            Err(e) => {
                answered = false;
                tracing::warn!(error = %e, "a recorded CRL could not be checked");
                None
            }
        };
        if let Some(reason) = refused {
            forget_refused(handle, &issuer, reason, &mut answered).await;
        }
    }
    answered
}

/// A recorded CRL that is unreadable or does not verify: said, and removed so that the next
/// genuine one is recorded.
async fn forget_refused(handle: &IdCardHandle, issuer: &[u8], reason: &str, answered: &mut bool) {
    tracing::warn!(target: "audit", event = "recorded_crl_refused", reason,
        from = %handle.revocation.location(), "a recorded CRL was refused and is forgotten: the CRL sources decide, as without a record");
    if let Err(e) = handle.revocation.forget_crl(issuer).await {
        *answered = false;
        tracing::warn!(code = e.code(), error = %e, "the refused CRL record could not be removed");
    }
}

/// Record `crl` when it is newer than what the revocation state holds for its issuer, as far as
/// this process knows. A failure is a warning: the CRL stays installed in memory.
async fn record_crl(handle: &IdCardHandle, crl: &VerifiedCrl, now: time::OffsetDateTime) {
    if handle
        .recorded
        .known(crl.issuer())
        .is_some_and(|held| held >= crl.this_update())
    {
        return;
    }
    let record = RecordedCrl {
        this_update: crl.this_update(),
        der: crl.der().to_vec(),
    };
    match handle
        .revocation
        .record_crl(crl.issuer(), &record, crl.next_update(), now)
        .await
    {
        Ok(_) => handle.recorded.note(crl.issuer(), crl.this_update()),
        Err(e) => {
            tracing::warn!(code = e.code(), error = %e, issuer = crl.issuer_name(),
                "the installed CRL could not be recorded; it is in use, and recording is tried again at the next refresh");
        }
    }
}

/// The distinct subject names (DER) of the configured CA certificates.
fn ca_subjects(cas: &[Vec<u8>]) -> Vec<Vec<u8>> {
    use x509_parser::prelude::FromDer;
    let mut out: Vec<Vec<u8>> = Vec::new();
    for der in cas {
        if let Ok((_, c)) = x509_parser::certificate::X509Certificate::from_der(der) {
            let subject = c.subject().as_raw().to_vec();
            if !out.contains(&subject) {
                out.push(subject);
            }
        }
    }
    out
}

/// Refresh the CRLs before their nextUpdate, at least every `crl_refresh_max_seconds`, and a
/// minute after a failure.
pub fn spawn_crl_refresh(
    handle: Arc<IdCardHandle>,
    clock: Arc<dyn Clock>,
) -> tokio::task::JoinHandle<()> {
    let (adapter, max) = (handle.adapter.clone(), handle.crl_refresh_max);
    tokio::spawn(async move {
        let mut failed = false;
        loop {
            let now = clock.now();
            let next = if failed {
                now + time::Duration::minutes(1)
            } else {
                adapter
                    .crls()
                    .iter()
                    .map(|c| c.refresh_due(now, max))
                    .min()
                    .unwrap_or(now + max)
            };
            let wait = (next - now).max(time::Duration::seconds(1));
            tokio::time::sleep(Duration::from_secs(wait.whole_seconds().unsigned_abs())).await;
            failed = !refresh_crls(&handle, clock.as_ref()).await.is_empty();
        }
    })
}

/// The client for CRLs and OCSP: plain http allowed (the content is signed), no redirects, no
/// proxy, short timeouts, a size cap. Made once per use site, never per request.
pub fn signed_content_client(
    max_body: usize,
) -> Result<crate::upstream::http_client::ReqwestHttp, String> {
    crate::upstream::http_client::ReqwestHttp::for_signed_responses(
        crate::upstream::http_client::Timeouts {
            connect: Duration::from_secs(5),
            total: Duration::from_secs(30),
        },
        max_body,
    )
}

async fn fetch(
    http: &crate::upstream::http_client::ReqwestHttp,
    url: &str,
) -> Result<Vec<u8>, String> {
    use idp_adapters::ftn::{HttpClient as _, HttpMethod, HttpRequest};
    let resp = http
        .send(HttpRequest {
            method: HttpMethod::Get,
            url: url.to_owned(),
            headers: Vec::new(),
            form: None,
            body: None,
        })
        .await
        .map_err(|e| e.to_string())?;
    if resp.status != 200 {
        return Err(format!("HTTP {}", resp.status));
    }
    Ok(resp.body)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::stores::revocation::MemoryRevocation;
    use crate::stores::StoreFuture;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A revocation state that can be down (every call fails) and can be written behind its
    /// back (a tampered record).
    #[derive(Default)]
    struct FlakyState {
        inner: MemoryRevocation,
        down: AtomicBool,
    }

    impl FlakyState {
        fn gate(&self) -> Result<(), StoreError> {
            if self.down.load(Ordering::SeqCst) {
                Err(StoreError::Unavailable("down for the test".into()))
            } else {
                Ok(())
            }
        }
    }

    impl RevocationState for FlakyState {
        fn location(&self) -> String {
            "test".into()
        }
        fn crl<'a>(
            &'a self,
            issuer: &'a [u8],
            now: time::OffsetDateTime,
        ) -> StoreFuture<'a, Option<RecordedCrl>> {
            Box::pin(async move {
                self.gate()?;
                self.inner.crl(issuer, now).await
            })
        }
        fn record_crl<'a>(
            &'a self,
            issuer: &'a [u8],
            crl: &'a RecordedCrl,
            next_update: time::OffsetDateTime,
            now: time::OffsetDateTime,
        ) -> StoreFuture<'a, bool> {
            Box::pin(async move {
                self.gate()?;
                self.inner.record_crl(issuer, crl, next_update, now).await
            })
        }
        fn forget_crl<'a>(&'a self, issuer: &'a [u8]) -> StoreFuture<'a, ()> {
            Box::pin(async move {
                self.gate()?;
                self.inner.forget_crl(issuer).await
            })
        }
        fn ocsp<'a>(
            &'a self,
            cert: &'a str,
            now: time::OffsetDateTime,
        ) -> StoreFuture<'a, Option<Vec<u8>>> {
            Box::pin(async move {
                self.gate()?;
                self.inner.ocsp(cert, now).await
            })
        }
        fn record_ocsp<'a>(
            &'a self,
            cert: &'a str,
            der: &'a [u8],
            next_update: time::OffsetDateTime,
            now: time::OffsetDateTime,
        ) -> StoreFuture<'a, ()> {
            Box::pin(async move {
                self.gate()?;
                self.inner.record_ocsp(cert, der, next_update, now).await
            })
        }
    }

    /// A gateway's ID-card handle over `state`, its CRL file `crl` (the root's is installed).
    fn handle(
        pki: &certs::test_pki::IdCardTestPki,
        dir: &std::path::Path,
        crl: &[u8],
        state: Arc<dyn RevocationState>,
    ) -> IdCardHandle {
        let validator = ChainValidator::new(
            std::slice::from_ref(&pki.root.cert_der),
            std::slice::from_ref(&pki.intermediate.cert_der),
            idp_adapters::idcard::Revocation::Chain,
        )
        .unwrap();
        let adapter = IdCard::new(
            idp_adapters::idcard::IdCardSettings {
                require_national_id: false,
                ..idp_adapters::idcard::IdCardSettings::new("https://idcard.test")
            },
            validator,
            None,
            Arc::new(certs::SystemRandomSource),
        );
        std::fs::write(dir.join("root.crl"), &pki.root_crl).unwrap();
        std::fs::write(dir.join("intermediate.crl"), crl).unwrap();
        IdCardHandle {
            adapter: Arc::new(adapter),
            listen: "127.0.0.1:0".parse().unwrap(),
            tls: None,
            forwarded_header: None,
            trusted_proxies: Vec::new(),
            crl_files: vec![dir.join("root.crl"), dir.join("intermediate.crl")],
            crl_urls: Vec::new(),
            crl_refresh_max: time::Duration::hours(1),
            revocation: state,
            recorded: RecordedCrls::default(),
        }
    }

    async fn valid_card_refused(h: &IdCardHandle, pki: &certs::test_pki::IdCardTestPki) -> bool {
        h.adapter
            .verify_presented(&pki.cards.valid.chain, time::OffsetDateTime::now_utc())
            .await
            .is_err_and(|e| e == CardError::Revoked)
    }

    #[tokio::test]
    async fn a_restart_takes_the_recorded_crl_back_and_retries_while_the_state_is_down() {
        let now = time::OffsetDateTime::now_utc();
        let pki = certs::test_pki::IdCardTestPki::generate(now).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let state = Arc::new(FlakyState::default());
        let clock = certs::SystemClock;

        // Before the restart: the newer CRL (revoking the valid card) is installed and recorded.
        let before = handle(
            &pki,
            dir.path(),
            &pki.later_crl_revoking_valid,
            state.clone(),
        );
        assert!(refresh_crls(&before, &clock).await.is_empty());
        assert!(valid_card_refused(&before, &pki).await);

        // Restarted with the state down and the older CRL served: the older one is what there
        // is (installed, as without a record), and the refresh says what failed.
        state.down.store(true, Ordering::SeqCst);
        let after = handle(&pki, dir.path(), &pki.intermediate_crl, state.clone());
        let failed = refresh_crls(&after, &clock).await;
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert!(failed[0].contains("recorded CRLs"), "{failed:?}");
        assert!(!valid_card_refused(&after, &pki).await);

        // The state answers again: the next refresh takes the recorded CRL back first, and the
        // older one served is refused from then on.
        state.down.store(false, Ordering::SeqCst);
        assert!(refresh_crls(&after, &clock).await.is_empty());
        assert!(valid_card_refused(&after, &pki).await);
        assert!(refresh_crls(&after, &clock).await.is_empty());
        assert!(valid_card_refused(&after, &pki).await);
    }

    #[tokio::test]
    async fn a_tampered_or_foreign_recorded_crl_is_ignored_and_replaced() {
        let now = time::OffsetDateTime::now_utc();
        let pki = certs::test_pki::IdCardTestPki::generate(now).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (_, intermediate) =
            x509_parser::parse_x509_certificate(&pki.intermediate.cert_der).unwrap();
        let issuer = intermediate.subject().as_raw().to_vec();
        for forged in [
            b"garbage".to_vec(),
            pki.wrong_key_crl.clone(),
            // A genuine CRL of another CA, recorded under the intermediate's name.
            pki.root_crl.clone(),
            // The genuine older CRL, its record claiming a thisUpdate a year ahead.
            pki.intermediate_crl.clone(),
        ] {
            let state = Arc::new(FlakyState::default());
            let far = now + time::Duration::days(365);
            let record = RecordedCrl {
                this_update: far,
                der: forged,
            };
            state.record_crl(&issuer, &record, far, now).await.unwrap();
            let h = handle(
                &pki,
                dir.path(),
                &pki.later_crl_revoking_valid,
                state.clone(),
            );
            assert!(refresh_crls(&h, &certs::SystemClock).await.is_empty());
            assert!(valid_card_refused(&h, &pki).await);
            assert_eq!(h.adapter.crls().len(), 2);
            // Forgotten and replaced by the CRL installed from the source.
            let held = state.crl(&issuer, now).await.unwrap().unwrap();
            assert_eq!(held.der, pki.later_crl_revoking_valid);
        }
    }

    #[test]
    fn forwarded_header_forms() {
        let pki =
            certs::test_pki::IdCardTestPki::generate(time::OffsetDateTime::now_utc()).unwrap();
        let chain = &pki.cards.valid.chain;
        let pem: String = chain
            .iter()
            .map(|d| pem::encode(&pem::Pem::new("CERTIFICATE", d.clone())))
            .collect();
        assert_eq!(&parse_forwarded(&pem).unwrap(), chain);
        let escaped =
            percent_encoding::utf8_percent_encode(&pem, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        assert_eq!(&parse_forwarded(&escaped).unwrap(), chain);
        let spaced = pem.replace('\n', " ");
        assert_eq!(&parse_forwarded(&spaced).unwrap(), chain);
        let b64 = base64::engine::general_purpose::STANDARD.encode(&chain[0]);
        assert_eq!(parse_forwarded(&b64).unwrap(), vec![chain[0].clone()]);
        assert!(parse_forwarded("").unwrap().is_empty());
        assert!(parse_forwarded("(null)").unwrap().is_empty());
        assert_eq!(
            parse_forwarded("-----BEGIN CERTIFICATE----- AAAA").unwrap_err(),
            CardError::Malformed
        );
        assert_eq!(
            parse_forwarded("not base64!").unwrap_err(),
            CardError::Malformed
        );
        assert_eq!(parse_forwarded("%ff%fe").unwrap_err(), CardError::Malformed);
        assert!(matches!(
            parse_forwarded(&"A".repeat(MAX_FORWARDED_HEADER + 1)),
            Err(CardError::CertificateTooLarge { .. })
        ));
        let six: String = std::iter::repeat_n(pem.clone(), MAX_CHAIN_LEN + 1).collect();
        assert_eq!(
            parse_forwarded(&six).unwrap_err(),
            CardError::ChainTooLong { max: MAX_CHAIN_LEN }
        );
    }
}
