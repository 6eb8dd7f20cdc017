//! Independent SAML service providers, driven as subprocesses: OneLogin python3-saml, pysaml2
//! and @node-saml/node-saml, plus the `xmlsec1` command-line verifier.
//!
//! The drivers live in `tests/peers/` (`python3_saml_sp.py`, `pysaml2_sp.py`, `node_saml_sp.js`)
//! and share one CLI contract (documented in `tests/peers/peer_common.py`); `tests/peers/install.sh`
//! installs them (Debian packages, a Python venv, `npm ci`). [`ensure_installed`] runs it once per
//! process. Every SAML operation is done by the library itself: no mocks.
//!
//! A peer's refusal of a Response is a value ([`Refused`]); a driver that crashes, hangs or prints
//! something unexpected is a panic (test support code), so that a broken driver can never pass
//! for a refusal in a negative test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long one driver invocation may take before it is killed (pysaml2 and node start in ~0.5 s).
const DRIVER_TIMEOUT: Duration = Duration::from_secs(120);
/// How long `install.sh` may take (a cold install is ~20 s on the reference machine).
const INSTALL_TIMEOUT: Duration = Duration::from_secs(1200);

/// Which independent implementation drives the service provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PeerKind {
    /// OneLogin python3-saml (`onelogin.saml2`), strict mode.
    Python3Saml,
    /// pysaml2 (`saml2.client.Saml2Client`); verifies signatures with the `xmlsec1` CLI.
    PySaml2,
    /// @node-saml/node-saml (`SAML` class; xml-crypto underneath).
    NodeSaml,
}

impl PeerKind {
    /// All peers, for tests that run against each.
    pub const ALL: [PeerKind; 3] = [PeerKind::Python3Saml, PeerKind::PySaml2, PeerKind::NodeSaml];

    /// A short stable name (used in file names and messages).
    pub fn name(self) -> &'static str {
        match self {
            PeerKind::Python3Saml => "python3-saml",
            PeerKind::PySaml2 => "pysaml2",
            PeerKind::NodeSaml => "node-saml",
        }
    }

    /// Whether this library can embed an XML signature in an HTTP-POST AuthnRequest. All three
    /// can (python3-saml through its `add_sign` helper, pysaml2 and node-saml natively).
    pub fn signs_post_requests(self) -> bool {
        true
    }

    fn command(self) -> Command {
        let dir = peers_dir();
        let (program, script) = match self {
            PeerKind::Python3Saml => (dir.join(".venv/bin/python"), "python3_saml_sp.py"),
            PeerKind::PySaml2 => (dir.join(".venv/bin/python"), "pysaml2_sp.py"),
            PeerKind::NodeSaml => (PathBuf::from("node"), "node_saml_sp.js"),
        };
        let mut cmd = Command::new(program);
        cmd.arg(dir.join(script)).current_dir(&dir);
        cmd
    }
}

impl fmt::Display for PeerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The driver configuration, written as JSON for the driver to read.
///
/// python3-saml and node-saml use the explicit IdP fields; pysaml2 reads `idp_metadata_file`
/// when it is set (so the gateway's real metadata is exercised) and otherwise builds metadata
/// from the fields.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PeerConfig {
    /// The SP's entity ID (also the Audience it requires).
    pub entity_id: String,
    /// The SP's AssertionConsumerService URL (HTTP-POST); the Response's Destination must be it.
    pub acs_url: String,
    /// The IdP's entity ID, e.g. `{base}/saml/idp`.
    pub idp_entity_id: String,
    /// The IdP's SSO endpoint, e.g. `{base}/saml/idp/sso`.
    pub idp_sso_url: String,
    /// PEM certificate whose key signs the IdP's assertions.
    pub idp_cert_pem_file: PathBuf,
    /// The IdP's metadata (e.g. fetched from `{base}/saml/idp/metadata`), optional.
    pub idp_metadata_file: Option<PathBuf>,
    /// The SP's RSA private key, PKCS#8 PEM.
    pub sp_key_file: PathBuf,
    /// The SP's certificate, PEM (published in its metadata as use="signing").
    pub sp_cert_file: PathBuf,
    /// Whether the SP signs its AuthnRequests (and says so in its metadata).
    pub authn_requests_signed: bool,
    /// python3-saml only: require encrypted assertions (its metadata then publishes an
    /// encryption key, and the gateway encrypts to it).
    #[serde(default)]
    pub want_assertions_encrypted: bool,
    /// The SP's own SingleLogoutService (HTTP-Redirect), e.g. `https://python3-saml.example/slo`:
    /// declared in its metadata; [`PeerSp::logout`] and [`PeerSp::slo`] need it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo_url: Option<String>,
    /// The IdP's SingleLogoutService (HTTP-Redirect), e.g. `{base}/saml/idp/slo`, for the
    /// configured-fields path; with `idp_metadata_file` the drivers read it from the metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp_slo_url: Option<String>,
}

impl PeerConfig {
    /// An SP at `entity_id` with its ACS at `acs_url`, trusting the gateway at `base` (its IdP
    /// entity ID, SSO and SLO endpoints) and `idp_cert`; unsigned requests, plain assertions, no
    /// SingleLogoutService of its own (set `slo_url` for single logout).
    pub fn for_gateway(
        entity_id: String,
        acs_url: String,
        base: &str,
        idp_cert: &Path,
        (sp_key, sp_cert): (&Path, &Path),
    ) -> PeerConfig {
        PeerConfig {
            entity_id,
            acs_url,
            idp_entity_id: format!("{base}/saml/idp"),
            idp_sso_url: format!("{base}/saml/idp/sso"),
            idp_cert_pem_file: idp_cert.to_path_buf(),
            idp_metadata_file: None,
            sp_key_file: sp_key.to_path_buf(),
            sp_cert_file: sp_cert.to_path_buf(),
            authn_requests_signed: false,
            want_assertions_encrypted: false,
            slo_url: None,
            idp_slo_url: Some(format!("{base}/saml/idp/slo")),
        }
    }
}

/// SAML binding of an AuthnRequest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Binding {
    /// HTTP-Redirect: DEFLATE + base64 in the query; signed requests carry SigAlg and Signature.
    #[default]
    Redirect,
    /// HTTP-POST: base64 XML in a form field; signed requests carry an enveloped ds:Signature.
    Post,
}

impl Binding {
    fn arg(self) -> &'static str {
        match self {
            Binding::Redirect => "redirect",
            Binding::Post => "post",
        }
    }
}

/// NameIDPolicy Format requested in an AuthnRequest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameIdFormat {
    /// `urn:oasis:names:tc:SAML:2.0:nameid-format:persistent`
    Persistent,
    /// `urn:oasis:names:tc:SAML:2.0:nameid-format:transient`
    Transient,
}

impl NameIdFormat {
    fn arg(self) -> &'static str {
        match self {
            NameIdFormat::Persistent => "persistent",
            NameIdFormat::Transient => "transient",
        }
    }

    /// The format URI.
    pub fn uri(self) -> &'static str {
        match self {
            NameIdFormat::Persistent => "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
            NameIdFormat::Transient => "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
        }
    }
}

/// What to put into an AuthnRequest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthnOptions {
    /// Redirect (default) or POST.
    pub binding: Binding,
    /// RelayState to send along, if any.
    pub relay_state: Option<String>,
    /// `ForceAuthn="true"`.
    pub force_authn: bool,
    /// `IsPassive="true"`.
    pub is_passive: bool,
    /// NameIDPolicy Format; `None` leaves it to the library (python3-saml then asks for
    /// `unspecified`, pysaml2 and node-saml send no Format).
    pub name_id_format: Option<NameIdFormat>,
}

/// An AuthnRequest as the peer would send it through the browser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthnRequestOut {
    /// The request's ID (what the Response's InResponseTo must be).
    pub request_id: String,
    /// The binding used.
    pub binding: Binding,
    /// Redirect: the full URL with SAMLRequest, RelayState, SigAlg, Signature exactly as the
    /// library encoded them. POST: the form's action (the IdP's SSO URL).
    pub url: String,
    /// POST: the form fields, `SAMLRequest` first. Redirect: empty.
    pub fields: Vec<(String, String)>,
    /// Whether the library signed the request.
    pub signed: bool,
}

/// What a peer extracted from a Response it accepted.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Validated {
    /// Subject NameID value.
    pub name_id: Option<String>,
    /// Subject NameID Format.
    pub name_id_format: Option<String>,
    /// AuthnStatement SessionIndex.
    pub session_index: Option<String>,
    /// AuthnContextClassRef.
    pub authn_context: Option<String>,
    /// Attribute values by Attribute Name (e.g. `urn:oid:2.5.4.42`).
    pub attributes: BTreeMap<String, Vec<String>>,
    /// The RelayState given to `validate`, echoed.
    pub relay_state: Option<String>,
}

/// A peer refused a Response; `error` is the library's reason (for a non-Success Response it
/// names the status codes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// Which peer refused.
    pub peer: PeerKind,
    /// The library's reason.
    pub error: String,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} refused: {}", self.peer, self.error)
    }
}

impl std::error::Error for Refused {}

/// What to put into an SP-initiated LogoutRequest (HTTP-Redirect, always signed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogoutOptions {
    /// The NameID value exactly as the SP's assertion carried it.
    pub name_id: String,
    /// Its Format.
    pub name_id_format: NameIdFormat,
    /// The SessionIndex of the assertion's AuthnStatement.
    pub session_index: String,
    /// RelayState to send along, if any (node-saml: avoid a space and `! ' ( ) ~ *`).
    pub relay_state: Option<String>,
}

/// An SP-initiated LogoutRequest as the peer would send it through the browser.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct LogoutRequestOut {
    /// The request's ID (what the LogoutResponse's InResponseTo must be).
    pub request_id: String,
    /// Always [`Binding::Redirect`].
    pub binding: Binding,
    /// The IdP's SLO URL with SAMLRequest, RelayState, SigAlg, Signature exactly as the library
    /// encoded them.
    pub url: String,
    /// Always true: the drivers sign their logout messages.
    pub signed: bool,
}

/// What a peer made of a logout message the IdP sent the browser to at its `slo_url`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum SloOutcome {
    /// An IdP-initiated LogoutRequest the library accepted (signature, IdP certificate,
    /// Destination as far as the library checks it), and its answer.
    Request {
        /// The NameID of the request.
        name_id: String,
        /// Its SessionIndex values (node-saml reads only the first).
        session_indexes: Vec<String>,
        /// The full HTTP-Redirect URL of the signed LogoutResponse to the IdP's SLO URL.
        response_url: String,
    },
    /// The LogoutResponse to this SP's LogoutRequest, accepted (signature, InResponseTo).
    Response {
        /// The top-level StatusCode (always Success: any other is a refusal naming it).
        status: String,
        /// The second-level StatusCode, e.g. `urn:oasis:names:tc:SAML:2.0:status:PartialLogout`.
        sub_status: Option<String>,
    },
}

/// A driver failure outside `validate`'s accept/refuse answer.
#[derive(Debug)]
pub enum PeerError {
    /// The library (or a check the driver makes where its library makes none, an error
    /// starting "driver:") refused the message: exit 1 with `"refused": true`.
    Refused(Refused),
    /// The driver could not be started, or timed out.
    Io(io::Error),
    /// The driver exited non-zero.
    Failed {
        /// Which peer.
        peer: PeerKind,
        /// Its exit status.
        status: ExitStatus,
        /// Its standard output.
        stdout: String,
        /// Its standard error.
        stderr: String,
    },
    /// The driver's output was not what the contract says.
    BadOutput {
        /// Which peer.
        peer: PeerKind,
        /// What was wrong.
        reason: String,
        /// Its standard output.
        stdout: String,
    },
}

impl fmt::Display for PeerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerError::Io(e) => write!(f, "peer driver I/O: {e}"),
            PeerError::Refused(r) => write!(f, "{r}"),
            PeerError::Failed {
                peer,
                status,
                stdout,
                stderr,
            } => {
                write!(
                    f,
                    "{peer} driver failed ({status}): {stderr}\nstdout: {stdout}"
                )
            }
            PeerError::BadOutput {
                peer,
                reason,
                stdout,
            } => {
                write!(f, "{peer} driver output unusable ({reason}): {stdout}")
            }
        }
    }
}

impl std::error::Error for PeerError {}

impl PeerError {
    /// The refusal, when this is one (never for a crash or unusable output).
    pub fn refused(&self) -> Option<&Refused> {
        match self {
            PeerError::Refused(r) => Some(r),
            PeerError::Io(_) | PeerError::Failed { .. } | PeerError::BadOutput { .. } => None,
        }
    }
}

impl From<io::Error> for PeerError {
    fn from(e: io::Error) -> Self {
        PeerError::Io(e)
    }
}

/// One independent SP, configured by a JSON file in a work directory.
#[derive(Clone, Debug)]
pub struct PeerSp {
    /// Which library.
    pub kind: PeerKind,
    /// The JSON config file the driver reads.
    pub config_path: PathBuf,
    /// The configuration written there.
    pub config: PeerConfig,
}

#[derive(Deserialize)]
struct AuthnJson {
    request_id: String,
    binding: Binding,
    url: String,
    #[serde(default)]
    fields: BTreeMap<String, String>,
    signed: bool,
}

#[derive(Deserialize)]
struct RefusedJson {
    ok: bool,
    #[serde(default)]
    refused: bool,
    error: String,
}

struct RunOutput {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl PeerSp {
    /// Writes `work_dir/peer-<name>.json` (creating `work_dir`) and returns the peer. Call
    /// [`ensure_installed`] before using it.
    pub fn new(kind: PeerKind, work_dir: &Path, cfg: &PeerConfig) -> io::Result<Self> {
        std::fs::create_dir_all(work_dir)?;
        let config_path = work_dir.join(format!("peer-{}.json", kind.name()));
        let json = serde_json::to_vec_pretty(cfg).map_err(io::Error::other)?;
        std::fs::write(&config_path, json)?;
        Ok(PeerSp {
            kind,
            config_path,
            config: cfg.clone(),
        })
    }

    fn run(&self, args: &[&str]) -> Result<RunOutput, PeerError> {
        let mut cmd = self.kind.command();
        cmd.args(args);
        run_with_timeout(cmd, DRIVER_TIMEOUT).map_err(PeerError::Io)
    }

    fn config_arg(&self) -> &str {
        self.config_path.to_str().expect("config path is UTF-8")
    }

    /// The SP's metadata XML, from the library's own generator.
    pub fn metadata(&self) -> Result<String, PeerError> {
        let out = self.run(&["metadata", "--config", self.config_arg()])?;
        if !out.status.success() {
            return Err(self.failed(out));
        }
        if !out.stdout.contains("EntityDescriptor") {
            return Err(PeerError::BadOutput {
                peer: self.kind,
                reason: "no EntityDescriptor".into(),
                stdout: out.stdout,
            });
        }
        Ok(out.stdout)
    }

    /// An AuthnRequest built (and signed, when configured) by the library.
    pub fn authn(&self, opts: &AuthnOptions) -> Result<AuthnRequestOut, PeerError> {
        let mut args = vec![
            "authn",
            "--config",
            self.config_arg(),
            "--binding",
            opts.binding.arg(),
        ];
        if let Some(rs) = &opts.relay_state {
            args.extend(["--relay-state", rs.as_str()]);
        }
        if opts.force_authn {
            args.push("--force-authn");
        }
        if opts.is_passive {
            args.push("--is-passive");
        }
        if let Some(f) = opts.name_id_format {
            args.extend(["--name-id-format", f.arg()]);
        }
        let out = self.run(&args)?;
        if !out.status.success() {
            return Err(self.failed(out));
        }
        let parsed: AuthnJson =
            serde_json::from_str(out.stdout.trim()).map_err(|e| PeerError::BadOutput {
                peer: self.kind,
                reason: e.to_string(),
                stdout: out.stdout.clone(),
            })?;
        if parsed.binding != opts.binding || parsed.request_id.is_empty() {
            return Err(PeerError::BadOutput {
                peer: self.kind,
                reason: "wrong binding or empty request_id".into(),
                stdout: out.stdout,
            });
        }
        let mut fields: Vec<(String, String)> = Vec::new();
        let mut rest = parsed.fields;
        if let Some(req) = rest.remove("SAMLRequest") {
            fields.push(("SAMLRequest".into(), req));
        }
        fields.extend(rest);
        if parsed.binding == Binding::Post
            && fields.first().map(|f| f.0.as_str()) != Some("SAMLRequest")
        {
            return Err(PeerError::BadOutput {
                peer: self.kind,
                reason: "POST without a SAMLRequest field".into(),
                stdout: out.stdout,
            });
        }
        Ok(AuthnRequestOut {
            request_id: parsed.request_id,
            binding: parsed.binding,
            url: parsed.url,
            fields,
            signed: parsed.signed,
        })
    }

    /// [`PeerSp::authn`] off the async runtime (the library runs as a child process); panics if
    /// the peer cannot build the request.
    pub async fn authn_off_runtime(&self, opts: AuthnOptions) -> AuthnRequestOut {
        let sp = self.clone();
        tokio::task::spawn_blocking(move || sp.authn(&opts))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// A login as a citizen makes it: this SP's AuthnRequest (built with `opts`) sent by a fresh
    /// browser in its binding, then the test bank with `fields`. Returns the request and the page
    /// the test bank's form led to (the auto-post on success).
    pub async fn test_bank_login(
        &self,
        opts: AuthnOptions,
        fields: &[(&str, &str)],
    ) -> (AuthnRequestOut, crate::browser::Page) {
        let req = self.authn_off_runtime(opts).await;
        let b = crate::browser::Browser::new();
        let sso = match req.binding {
            Binding::Redirect => b.get(&req.url).await,
            Binding::Post => b.post_form(&req.url, &req.fields).await,
        };
        let page = crate::harness::through_testbank(&b, sso, fields).await;
        (req, page)
    }

    /// Hands a base64 SAMLResponse (as POSTed to the ACS) to the library, with the request ID it
    /// is answering. `Ok` when the library accepts it, `Err(Refused)` when it refuses it.
    ///
    /// Panics when the driver crashes, hangs or breaks the contract: a broken peer must never
    /// look like a refusal.
    /// The Response an auto-post page sends to this SP (which must be its ACS), validated off
    /// the async runtime; the refusal's error text otherwise.
    pub async fn validate_autopost(
        &self,
        request_id: &str,
        autopost: &crate::browser::Page,
    ) -> Result<Validated, String> {
        let form = autopost
            .form(Some("saml"))
            .unwrap_or_else(|| panic!("no auto-post form: {} {}", autopost.status, autopost.body));
        assert_eq!(form.action, self.config.acs_url, "posted to the SP's ACS");
        let b64 = autopost.saml_response_b64().unwrap();
        let (sp, id) = (self.clone(), request_id.to_owned());
        tokio::task::spawn_blocking(move || sp.validate(&id, &b64, None))
            .await
            .unwrap()
            .map_err(|r| r.error)
    }

    pub fn validate(
        &self,
        request_id: &str,
        saml_response_b64: &str,
        relay_state: Option<&str>,
    ) -> Result<Validated, Refused> {
        let mut args = vec![
            "validate",
            "--config",
            self.config_arg(),
            "--request-id",
            request_id,
            "--saml-response",
            saml_response_b64,
        ];
        if let Some(rs) = relay_state {
            args.extend(["--relay-state", rs]);
        }
        let out = self
            .run(&args)
            .unwrap_or_else(|e| panic!("{} driver: {e}", self.kind));
        match out.status.code() {
            Some(0) => {
                let v: serde_json::Value =
                    serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| {
                        panic!(
                            "{} validate printed no JSON ({e}): {}\n{}",
                            self.kind, out.stdout, out.stderr
                        )
                    });
                assert_eq!(
                    v["ok"],
                    serde_json::Value::Bool(true),
                    "{} validate exit 0 without ok: {v}",
                    self.kind
                );
                let validated: Validated = serde_json::from_value(v.clone()).unwrap_or_else(|e| {
                    panic!(
                        "{} validate output does not fit the contract ({e}): {v}",
                        self.kind
                    )
                });
                Ok(validated)
            }
            Some(1) => {
                let r: RefusedJson = serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| {
                    panic!(
                        "{} validate exit 1 without a refusal JSON ({e}): {}\n{}",
                        self.kind, out.stdout, out.stderr
                    )
                });
                assert!(
                    !r.ok && !r.error.is_empty(),
                    "{} validate exit 1 with ok or no error",
                    self.kind
                );
                Err(Refused {
                    peer: self.kind,
                    error: r.error,
                })
            }
            _ => panic!(
                "{} validate crashed ({}):\nstdout: {}\nstderr: {}",
                self.kind, out.status, out.stdout, out.stderr
            ),
        }
    }

    /// An SP-initiated LogoutRequest, built and signed by the library for HTTP-Redirect to the
    /// IdP's SLO URL (`idp_slo_url` or the IdP metadata's). Needs `slo_url` in the config.
    pub fn logout(&self, opts: &LogoutOptions) -> Result<LogoutRequestOut, PeerError> {
        let mut args = vec![
            "logout",
            "--config",
            self.config_arg(),
            "--name-id",
            opts.name_id.as_str(),
            "--name-id-format",
            opts.name_id_format.arg(),
            "--session-index",
            opts.session_index.as_str(),
        ];
        if let Some(rs) = &opts.relay_state {
            args.extend(["--relay-state", rs.as_str()]);
        }
        let out = self.run(&args)?;
        if !out.status.success() {
            return Err(self.failed(out));
        }
        let parsed: LogoutRequestOut =
            serde_json::from_str(out.stdout.trim()).map_err(|e| PeerError::BadOutput {
                peer: self.kind,
                reason: e.to_string(),
                stdout: out.stdout.clone(),
            })?;
        if parsed.binding != Binding::Redirect || !parsed.signed || parsed.request_id.is_empty() {
            return Err(PeerError::BadOutput {
                peer: self.kind,
                reason: "not a signed Redirect request with an ID".into(),
                stdout: out.stdout,
            });
        }
        Ok(parsed)
    }

    /// The browser arrived at this SP's `slo_url` with `url` (the full URL, query as the IdP
    /// sent it). A LogoutRequest is validated by the library and answered with a signed
    /// LogoutResponse ([`SloOutcome::Request`]); a LogoutResponse is validated against
    /// `request_id` (its InResponseTo; required for a response) and the IdP's key
    /// ([`SloOutcome::Response`]). The query signature is required either way. A refusal is
    /// `Err(PeerError::Refused)`; a crash or a broken contract is another `PeerError`.
    pub fn slo(&self, url: &str, request_id: Option<&str>) -> Result<SloOutcome, PeerError> {
        let mut args = vec!["slo", "--config", self.config_arg(), "--url", url];
        if let Some(id) = request_id {
            args.extend(["--request-id", id]);
        }
        let out = self.run(&args)?;
        match out.status.code() {
            Some(0) => {
                #[derive(Deserialize)]
                struct SloJson {
                    ok: bool,
                    #[serde(flatten)]
                    outcome: SloOutcome,
                }
                match serde_json::from_str::<SloJson>(out.stdout.trim()) {
                    Ok(SloJson { ok: true, outcome }) => Ok(outcome),
                    Ok(SloJson { ok: false, .. }) => Err(PeerError::BadOutput {
                        peer: self.kind,
                        reason: "exit 0 without ok".into(),
                        stdout: out.stdout,
                    }),
                    Err(e) => Err(PeerError::BadOutput {
                        peer: self.kind,
                        reason: e.to_string(),
                        stdout: out.stdout,
                    }),
                }
            }
            Some(1) => match serde_json::from_str::<RefusedJson>(out.stdout.trim()) {
                Ok(r) if !r.ok && r.refused && !r.error.is_empty() => {
                    Err(PeerError::Refused(Refused {
                        peer: self.kind,
                        error: r.error,
                    }))
                }
                _ => Err(PeerError::BadOutput {
                    peer: self.kind,
                    reason: "exit 1 without a refusal JSON".into(),
                    stdout: out.stdout,
                }),
            },
            _ => Err(self.failed(out)),
        }
    }

    /// [`PeerSp::logout`] off the async runtime; panics if the peer cannot build the request.
    pub async fn logout_off_runtime(&self, opts: LogoutOptions) -> LogoutRequestOut {
        let sp = self.clone();
        tokio::task::spawn_blocking(move || sp.logout(&opts))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`PeerSp::slo`] off the async runtime.
    pub async fn slo_off_runtime(
        &self,
        url: &str,
        request_id: Option<&str>,
    ) -> Result<SloOutcome, PeerError> {
        let (sp, url, id) = (self.clone(), url.to_owned(), request_id.map(str::to_owned));
        tokio::task::spawn_blocking(move || sp.slo(&url, id.as_deref()))
            .await
            .unwrap()
    }

    fn failed(&self, out: RunOutput) -> PeerError {
        PeerError::Failed {
            peer: self.kind,
            status: out.status,
            stdout: out.stdout,
            stderr: out.stderr,
        }
    }
}

/// `tests/peers/` of this workspace.
pub fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("peers")
}

/// Runs `tests/peers/install.sh` once per process (idempotent, fast when already installed);
/// panics with its output when it fails.
pub fn ensure_installed() {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    let result = INSTALLED.get_or_init(|| {
        let mut cmd = Command::new("bash");
        cmd.arg(peers_dir().join("install.sh"));
        match run_with_timeout(cmd, INSTALL_TIMEOUT) {
            Ok(out) if out.status.success() => Ok(()),
            Ok(out) => Err(format!(
                "tests/peers/install.sh failed ({}):\n{}\n{}",
                out.status, out.stdout, out.stderr
            )),
            Err(e) => Err(format!("tests/peers/install.sh could not run: {e}")),
        }
    });
    if let Err(msg) = result {
        panic!("{msg}");
    }
}

/// Verifies the enveloped signature in `xml` with the `xmlsec1` CLI against `cert_pem` only:
/// `xmlsec1 --verify --enabled-reference-uris same-doc --pubkey-cert-pem CERT --id-attr:ID NODE FILE`,
/// where `id_attr_node` is `namespace:LocalName`, e.g.
/// `urn:oasis:names:tc:SAML:2.0:assertion:Assertion`. `Err` carries xmlsec1's output.
///
/// xmlsec1 verifies the first ds:Signature it finds in document order; check which element it
/// belongs to separately.
pub fn xmlsec1_verify(xml: &str, cert_pem: &Path, id_attr_node: &str) -> Result<(), String> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let file = std::env::temp_dir().join(format!("xmlsec1-verify-{}-{n}.xml", std::process::id()));
    std::fs::write(&file, xml).map_err(|e| format!("writing {}: {e}", file.display()))?;
    let mut cmd = Command::new("xmlsec1");
    cmd.args([
        "--verify",
        "--enabled-reference-uris",
        "same-doc",
        "--pubkey-cert-pem",
    ])
    .arg(cert_pem)
    .arg("--id-attr:ID")
    .arg(id_attr_node)
    .arg(&file);
    let out = run_with_timeout(cmd, DRIVER_TIMEOUT);
    let _ = std::fs::remove_file(&file);
    let out = out
        .map_err(|e| format!("xmlsec1 could not run (tests/peers/install.sh installs it): {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "xmlsec1 --verify failed ({}): {}{}",
            out.status, out.stderr, out.stdout
        ))
    }
}

/// [`xmlsec1_verify`], and which element the signature it checked covers. xmlsec1 checks the
/// first ds:Signature in document order, so that Signature must be a direct child of an
/// `element` (`namespace:LocalName`, as for `id_attr_node`) and its one Reference must point at
/// that element's own `ID`. Returns that ID; `Err` when xmlsec1 refuses or the signature it
/// checked belongs elsewhere.
pub fn xmlsec1_verify_element(xml: &str, cert_pem: &Path, element: &str) -> Result<String, String> {
    xmlsec1_verify(xml, cert_pem, element)?;
    let (ns, local) = element
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("{element} is not namespace:LocalName"));
    let doc = roxmltree::Document::parse(xml)
        .map_err(|e| format!("unparsable after xmlsec1 accepted it: {e}"))?;
    let is = |n: &roxmltree::Node<'_, '_>, ns: &str, local: &str| {
        n.is_element() && n.tag_name().namespace() == Some(ns) && n.tag_name().name() == local
    };
    let sig = doc
        .descendants()
        .find(|n| is(n, NS_DS, "Signature"))
        .ok_or("no ds:Signature")?;
    let parent = sig.parent_element().ok_or("ds:Signature at the root")?;
    if !is(&parent, ns, local) {
        return Err(format!(
            "the first ds:Signature is in {:?}, not in {element}",
            parent.tag_name()
        ));
    }
    let id = parent
        .attribute("ID")
        .ok_or_else(|| format!("{element} has no ID"))?;
    let uris: Vec<Option<&str>> = sig
        .descendants()
        .filter(|n| is(n, NS_DS, "Reference"))
        .map(|r| r.attribute("URI"))
        .collect();
    let want = format!("#{id}");
    if uris != [Some(want.as_str())] {
        return Err(format!(
            "the signature's References {uris:?} are not exactly {want}"
        ));
    }
    Ok(id.to_owned())
}

const NS_DS: &str = "http://www.w3.org/2000/09/xmldsig#";

/// Runs `cmd` with piped output, killing it after `timeout`.
fn run_with_timeout(mut cmd: Command, timeout: Duration) -> io::Result<RunOutput> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut so = child.stdout.take().expect("piped stdout");
    let mut se = child.stderr.take().expect("piped stderr");
    let t_out = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = so.read_to_end(&mut b);
        b
    });
    let t_err = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = se.read_to_end(&mut b);
        b
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("{cmd:?} still running after {timeout:?}"),
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stdout = String::from_utf8_lossy(&t_out.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&t_err.join().unwrap_or_default()).into_owned();
    Ok(RunOutput {
        status,
        stdout,
        stderr,
    })
}

/// The samael oracle binary (built by `scripts/test` into `target/samael-oracle`).
pub fn samael_oracle_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/samael-oracle/release/samael-oracle")
}

/// samael (xmlsec feature) as a service provider: parse and validate `response_xml`.
/// Returns its JSON report on acceptance, the reason on refusal.
pub fn samael_validate(
    response_xml: &str,
    idp_metadata: &Path,
    sp_entity_id: &str,
    acs_url: &str,
    request_id: &str,
) -> Result<serde_json::Value, String> {
    let bin = samael_oracle_bin();
    assert!(
        bin.exists(),
        "{} missing: scripts/test builds it",
        bin.display()
    );
    let dir = std::env::temp_dir().join(format!(
        "samael-{}-{}",
        std::process::id(),
        request_id.len()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let resp = dir.join(format!(
        "response-{}.xml",
        request_id.replace(['/', '\\'], "_")
    ));
    std::fs::write(&resp, response_xml).map_err(|e| e.to_string())?;
    let out = Command::new(&bin)
        .arg("--response")
        .arg(&resp)
        .arg("--idp-metadata")
        .arg(idp_metadata)
        .args([
            "--sp-entity-id",
            sp_entity_id,
            "--acs-url",
            acs_url,
            "--request-id",
            request_id,
        ])
        .output()
        .map_err(|e| e.to_string())?;
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "unreadable oracle output ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })?;
    if out.status.success() && report["ok"] == true {
        Ok(report)
    } else {
        Err(report["error"].as_str().unwrap_or("refused").to_owned())
    }
}

/// Run one of the Chromium scripts (`tests/peers/browser_*.js`) with its JSON argument and
/// return the JSON report it prints; `Err` carries the script's stderr.
pub fn run_browser_script(
    script: &str,
    arg: &serde_json::Value,
) -> Result<serde_json::Value, String> {
    let out = Command::new("node")
        .arg(peers_dir().join(script))
        .arg(arg.to_string())
        .output()
        .map_err(|e| format!("node: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "unreadable report ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Where the browser tests save their screenshots.
pub fn artifacts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../test-artifacts/browser")
}
