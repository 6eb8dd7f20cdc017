//! ID-card login, the gateway's part: the certificate listener (its own address; TLS with
//! optional client authentication, or plain HTTP behind a trusted TLS-terminating proxy), the
//! capture of the presented chain against the flow's `state`, and the CRL refresh.
//!
//! The browser arrives at `<listener>/idcard/login?state=..` (sent there by the adapter's
//! `start`). The listener does not log anyone in: it stores the chain it saw for that state
//! (once, for a few minutes) and sends the browser back to `<gateway>/login/idcard/callback`,
//! where the ordinary upstream callback checks the browser binding, consumes the flow and hands
//! the captured chain to the adapter, which validates it.

use crate::config::{ConfigProblem, IdCardConfig, ProxyRange};
use crate::error::GatewayError;
use crate::http;
use crate::sso;
use crate::state::Gateway;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderName, Request};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use base64::Engine as _;
use idp_adapters::idcard::{
    CardError, ChainValidator, FileDirectory, IdCard, IdCardSettings, NationalIdDirectory,
    MAX_CERT_BYTES, MAX_CHAIN_LEN, MAX_CRL_BYTES, NO_CERTIFICATE,
};
use idp_adapters::AdapterError;
use pki_types::pem::PemObject;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt as _;

/// How long a captured chain waits for the browser to reach the callback.
const CAPTURE_TTL: Duration = Duration::from_secs(300);
/// Largest forwarded-certificate header value (URL-escaped PEM of a chain).
const MAX_FORWARDED_HEADER: usize = 64 * 1024;
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
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
}

/// What the listener knows about a connection: the peer and the chain its TLS handshake
/// presented (`None` on a plain listener).
#[derive(Clone, Debug)]
struct Connection {
    peer: SocketAddr,
    tls_chain: Option<Arc<Vec<Vec<u8>>>>,
}

/// Build the handle from `[methods.idcard]`: CA files, mapping file, TLS key; every problem
/// with its path. CRL files are read here too (a bad one is logged, not fatal: logins then fail
/// closed until a good CRL arrives).
pub fn from_config(
    c: &IdCardConfig,
    rng: Arc<dyn certs::RandomSource>,
    now: time::OffsetDateTime,
) -> Result<IdCardHandle, Vec<ConfigProblem>> {
    let mut problems = Vec::new();
    let mut note = |path: String, message: String| problems.push(ConfigProblem { path, message });
    let read_certs = |files: &[PathBuf], key: &str, note: &mut dyn FnMut(String, String)| {
        let mut out = Vec::new();
        for (i, file) in files.iter().enumerate() {
            match std::fs::read_to_string(file)
                .map_err(|e| e.to_string())
                .and_then(|t| certs::Certificate::from_pem(&t).map_err(|e| e.to_string()))
            {
                Ok(list) => out.extend(list.iter().map(|c| c.der().to_vec())),
                Err(e) => note(
                    format!("methods.idcard.{key}[{i}]"),
                    format!("{}: {e}", file.display()),
                ),
            }
        }
        out
    };
    let anchors = read_certs(&c.trust_anchors, "trust_anchors", &mut note);
    let intermediates = read_certs(&c.intermediates, "intermediates", &mut note);
    let revocation = crate::config::revocation_mode(&c.revocation)
        .unwrap_or(idp_adapters::idcard::Revocation::Chain);
    let validator = ChainValidator::new(&anchors, &intermediates, revocation)
        .map_err(|e| note("methods.idcard.trust_anchors".into(), e))
        .ok();
    let directory: Option<Arc<dyn NationalIdDirectory>> =
        match (&c.national_id_map_file, &c.national_id_table) {
            (_, Some(table)) => crate::idcard_table::SqliteDirectory::open(table)
                .map_err(|e| note("methods.idcard.national_id_table".into(), e))
                .ok()
                .map(|d| Arc::new(d) as Arc<dyn NationalIdDirectory>),
            (Some(file), None) => std::fs::read_to_string(file)
                .map_err(|e| e.to_string())
                .and_then(|t| FileDirectory::parse(&t).map_err(|e| e.to_string()))
                .map_err(|e| {
                    note(
                        "methods.idcard.national_id_map_file".into(),
                        format!("{}: {e}", file.display()),
                    )
                })
                .ok()
                .map(|d| Arc::new(d) as Arc<dyn NationalIdDirectory>),
            (None, None) => None,
        };
    let tls = match (&c.tls_cert, &c.tls_key, &validator) {
        (Some(cert), Some(key), Some(v)) => server_tls(cert, key, v, &intermediates)
            .map_err(|e| note("methods.idcard.tls_cert".into(), e))
            .ok(),
        _ => None,
    };
    let listen = c.listen.parse::<SocketAddr>().ok();
    let header = c
        .forwarded_cert_header
        .as_deref()
        .and_then(|h| HeaderName::from_bytes(h.as_bytes()).ok());
    let names = c.display_name.clone();
    let (Some(validator), Some(listen), true) = (validator, listen, problems.is_empty()) else {
        return Err(problems);
    };
    let mut settings = IdCardSettings {
        require_national_id: c.require_national_id,
        test_environment: c.test_environment,
        ..IdCardSettings::new(c.public_url.trim_end_matches('/'))
    };
    if let Some(n) = names {
        settings.display_name_fi = n.fi;
        settings.display_name_sv = n.sv;
        settings.display_name_en = n.en;
    }
    let mut card = IdCard::new(settings, validator, directory, rng.clone());
    if let Some(url) = &c.ocsp_responder_url {
        let checker = signed_content_client(idp_adapters::idcard::MAX_OCSP_RESPONSE_BYTES)
            .and_then(|http| {
                idp_adapters::idcard::OcspChecker::new(
                    idp_adapters::idcard::OcspSettings::responder(url.clone()),
                    Arc::new(http),
                    rng,
                )
            });
        match checker {
            Ok(checker) => card = card.with_ocsp(checker),
            Err(e) => {
                return Err(vec![ConfigProblem {
                    path: "methods.idcard.ocsp_responder_url".into(),
                    message: e,
                }])
            }
        }
    }
    let adapter = Arc::new(card);
    let handle = IdCardHandle {
        adapter,
        listen,
        tls,
        forwarded_header: header,
        trusted_proxies: c
            .trusted_proxies
            .iter()
            .filter_map(|p| ProxyRange::parse(p))
            .collect(),
        crl_files: c.crl_files.clone(),
        crl_urls: c.crl_urls.clone(),
        crl_refresh_max: time::Duration::seconds(c.crl_refresh_max_seconds.into()),
    };
    for file in &handle.crl_files {
        if let Err(e) = install_file(&handle, file, now) {
            tracing::warn!(file = %file.display(), error = %e, "CRL not installed");
        }
    }
    Ok(handle)
}

/// The listener's TLS: its server certificate, and a client certificate requested (not
/// required) with the trusted CAs named as hints so the browser offers the card.
fn server_tls(
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

/// Serve the certificate listener until the task is aborted.
pub async fn serve_listener(listener: tokio::net::TcpListener, gw: Arc<Gateway>) {
    let Some(handle) = gw.idcard.as_ref() else {
        return;
    };
    let tls = handle.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_LISTENER_CONNECTIONS));
    let router = Router::new()
        .route(idp_adapters::idcard::LISTENER_LOGIN_PATH, get(capture))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(gw.clone());
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "certificate listener: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!(peer = %peer.ip(), "certificate listener: at its connection limit");
            drop(stream);
            continue;
        };
        let router = router.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _slot = slot;
            match tls {
                Some(acceptor) => {
                    let stream = match tokio::time::timeout(
                        TLS_HANDSHAKE_TIMEOUT,
                        acceptor.accept(stream),
                    )
                    .await
                    {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            tracing::debug!(peer = %peer.ip(), error = %e, "certificate listener: TLS handshake failed");
                            return;
                        }
                        Err(_) => return,
                    };
                    let chain = stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .map(|c| c.iter().map(|d| d.to_vec()).collect())
                        .unwrap_or_default();
                    let conn = Connection {
                        peer,
                        tls_chain: Some(Arc::new(chain)),
                    };
                    serve_connection(stream, router, conn).await;
                }
                None => {
                    let conn = Connection {
                        peer,
                        tls_chain: None,
                    };
                    serve_connection(stream, router, conn).await;
                }
            }
        });
    }
}

async fn serve_connection<S>(io: S, router: Router, conn: Connection)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(conn.clone());
        router.clone().oneshot(req.map(Body::new))
    });
    let result = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        .serve_connection(hyper_util::rt::TokioIo::new(io), service)
        .await;
    if let Err(e) = result {
        tracing::debug!(error = %e, "certificate listener: connection ended with an error");
    }
}

/// `GET <listener>/idcard/login?state=..&lang=..`: capture the presented chain for this state
/// and send the browser back to the gateway's callback.
async fn capture(
    State(gw): State<Arc<Gateway>>,
    Extension(conn): Extension<Connection>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let fields = http::form_fields(query.as_bytes());
    let lang_field = fields
        .iter()
        .find(|(k, _)| k == "lang")
        .map(|(_, v)| v.as_str());
    let lang = http::language(&headers, lang_field, None);
    let result = async {
        if query.len() > 1024 {
            return Err(GatewayError::BadForm("listener query"));
        }
        let handle = gw
            .idcard
            .as_ref()
            .ok_or_else(|| GatewayError::MethodUnavailable("idcard".into()))?;
        let state = http::single(&fields, "state")?.ok_or(GatewayError::FlowNotFound)?;
        let flow = sso::peek_flow_for_state(&gw, state).await?;
        if flow.upstream.as_ref().map(|u| u.method.as_str()) != Some(idp_adapters::idcard::IDCARD_ID) {
            return Err(GatewayError::Adapter(AdapterError::FlowMismatch));
        }
        let (chain, source) = presented_chain(handle, &conn, &headers)?;
        // The capture is bound to the browser that presented the certificate, not only to the
        // state (which the browser that started the flow knows too, and could have sent to
        // someone else's browser to present their card): this token goes only into this
        // response's redirect, and the callback must bring it back.
        let token = certs::random_token(gw.rng.as_ref())?;
        let record = Capture {
            chain: chain
                .iter()
                .map(|der| base64::engine::general_purpose::STANDARD.encode(der))
                .collect(),
            token_hash: sso::sha256_hex(&[token.as_bytes()]),
        };
        let fresh = gw
            .store
            .insert_if_absent(
                &capture_key(state),
                serde_json::to_vec(&record)?,
                CAPTURE_TTL,
            )
            .await?;
        if !fresh {
            return Err(GatewayError::Adapter(AdapterError::Upstream {
                code: "idcard.capture_replayed",
            }));
        }
        let certificate = chain
            .first()
            .map(|leaf| keyed_fingerprint(&gw, leaf))
            .unwrap_or_else(|| "none".into());
        tracing::info!(target: "audit", event = "idcard_presented", source, certificates = chain.len(),
            certificate = %certificate, peer = %conn.peer.ip());
        let mut to = format!(
            "{}/login/idcard/callback?state={}&capture={token}",
            gw.base_url,
            percent_encoding::utf8_percent_encode(state, percent_encoding::NON_ALPHANUMERIC)
        );
        if chain.is_empty() {
            to.push_str(&format!("&error={NO_CERTIFICATE}"));
        }
        Ok(http::see_other(to))
    }
    .await;
    let result = result.map_err(|e| match e {
        GatewayError::Adapter(error) => GatewayError::UpstreamFailed {
            method: idp_adapters::idcard::IDCARD_ID.into(),
            error,
        },
        other => other,
    });
    result.unwrap_or_else(|e| e.into_page(lang, gw.rng.as_ref()))
}

/// The chain this request presented: from the forwarded header when the peer is a trusted
/// proxy (and the header is configured), else from the TLS handshake. A forwarded header from
/// anyone else is ignored, and said so in the log.
fn presented_chain(
    handle: &IdCardHandle,
    conn: &Connection,
    headers: &HeaderMap,
) -> Result<(Vec<Vec<u8>>, &'static str), GatewayError> {
    let refused = |e: CardError| GatewayError::Adapter(AdapterError::Upstream { code: e.code() });
    if let Some(name) = &handle.forwarded_header {
        let trusted = handle
            .trusted_proxies
            .iter()
            .any(|p| p.contains(conn.peer.ip()));
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
            tracing::warn!(target: "audit", event = "idcard_forwarded_header_ignored", peer = %conn.peer.ip(),
                "a forwarded certificate header came from an address that is not a trusted proxy");
        }
    }
    match &conn.tls_chain {
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

/// What the listener stores for a state: the presented chain (base64 DER) and the hash of the
/// token only the presenting browser received.
#[derive(serde::Serialize, serde::Deserialize)]
struct Capture {
    chain: Vec<String>,
    token_hash: String,
}

fn capture_key(state: &str) -> String {
    format!("idcert:{}", sso::sha256_hex(&[state.as_bytes()]))
}

/// The chain the listener captured for this state, taken once, if `token` is the one the
/// listener gave the presenting browser. `Ok(None)`: nothing captured (the browser did not pass
/// the listener).
pub async fn take_capture(
    gw: &Gateway,
    state: &str,
    token: Option<&str>,
) -> Result<Option<Vec<Vec<u8>>>, GatewayError> {
    let Some(raw) = gw.store.take(&capture_key(state)).await? else {
        return Ok(None);
    };
    let record: Capture = serde_json::from_slice(&raw)?;
    let presented = sso::sha256_hex(&[token.unwrap_or_default().as_bytes()]);
    if token.is_none()
        || !certs::constant_time_eq(presented.as_bytes(), record.token_hash.as_bytes())
    {
        return Err(GatewayError::Adapter(AdapterError::Upstream {
            code: "idcard.capture_mismatch",
        }));
    }
    let chain = record
        .chain
        .iter()
        .map(|b64| base64::engine::general_purpose::STANDARD.decode(b64))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| {
            GatewayError::Adapter(AdapterError::Upstream {
                code: "idcard.capture_unreadable",
            })
        })?;
    Ok(Some(chain))
}

/// A certificate named in the audit trail without naming the person: keyed like audit subjects.
fn keyed_fingerprint(gw: &Gateway, der: &[u8]) -> String {
    let digest = sso::sha256_hex(&[der]);
    let tag = aws_lc_rs::hmac::sign(
        &gw.pairwise_key,
        format!("certificate\0{digest}").as_bytes(),
    );
    hex::encode(&tag.as_ref()[..12])
}

// ---------------------------------------------------------------------------------------------
// CRLs

fn install_file(
    handle: &IdCardHandle,
    file: &PathBuf,
    now: time::OffsetDateTime,
) -> Result<(), String> {
    let bytes = read_capped(file)?;
    install(&handle.adapter, &bytes, &file.display().to_string(), now)
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

fn install(
    adapter: &IdCard,
    bytes: &[u8],
    source: &str,
    now: time::OffsetDateTime,
) -> Result<(), String> {
    match adapter.install_crl(bytes, now) {
        Ok((crl, idp_adapters::idcard::Installed::Unchanged)) => {
            tracing::debug!(source, issuer = crl.issuer_name(), "CRL unchanged");
            Ok(())
        }
        Ok((crl, _)) => {
            tracing::info!(source, issuer = crl.issuer_name(), this_update = %crl.this_update(),
                next_update = %crl.next_update(), revoked = crl.revoked_count(), "CRL installed");
            Ok(())
        }
        Err(e @ idp_adapters::idcard::CrlError::Older { .. }) => {
            // Not a failure of the source's availability, but worth seeing: a replayed old CRL
            // could un-revoke a card if it were installed.
            tracing::warn!(source, reason = %e, "an older CRL than the installed one was offered and ignored");
            Ok(())
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
) -> Result<(), String> {
    tokio::task::spawn_blocking(move || install(&adapter, &bytes, &source, now))
        .await
        .map_err(|e| e.to_string())?
}

/// Fetch every CRL source once; the sources that failed, as "source: reason".
pub async fn refresh_crls(gw: &Gateway) -> Vec<String> {
    let Some(handle) = gw.idcard.as_ref() else {
        return Vec::new();
    };
    let mut failed = Vec::new();
    let now = gw.clock.now();
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
        if let Err(e) = result {
            failed.push(format!("{name}: {e}"));
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
                    if let Err(e) = result {
                        failed.push(format!("{url}: {e}"));
                    }
                }
            }
            Err(e) => failed.push(e),
        }
    }
    for f in &failed {
        tracing::warn!(problem = %f, "CRL refresh failed; the installed CRL stays until its nextUpdate, then logins fail closed");
    }
    failed
}

/// Refresh the CRLs before their nextUpdate, at least every `crl_refresh_max_seconds`, and a
/// minute after a failure.
pub fn spawn_crl_refresh(gw: &Arc<Gateway>) -> Option<tokio::task::JoinHandle<()>> {
    let handle = gw.idcard.as_ref()?;
    let (adapter, max) = (handle.adapter.clone(), handle.crl_refresh_max);
    let gw = gw.clone();
    Some(tokio::spawn(async move {
        let mut failed = false;
        loop {
            let now = gw.clock.now();
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
            failed = !refresh_crls(&gw).await.is_empty();
        }
    }))
}

/// The client for CRLs and OCSP: plain http allowed (the content is signed), no redirects, no
/// proxy, short timeouts, a size cap. Made once per use site, never per request.
fn signed_content_client(max_body: usize) -> Result<crate::bank_http::ReqwestHttp, String> {
    crate::bank_http::ReqwestHttp::for_signed_responses(
        crate::bank_http::Timeouts {
            connect: Duration::from_secs(5),
            total: Duration::from_secs(30),
        },
        max_body,
    )
}

async fn fetch(http: &crate::bank_http::ReqwestHttp, url: &str) -> Result<Vec<u8>, String> {
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
