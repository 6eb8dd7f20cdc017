//! Production configuration: a TOML file, overlaid by `GATEWAY__SECTION__KEY` environment
//! variables. Unknown keys and wrong types are errors, and every problem is reported at once,
//! each with its path.

mod banks;
mod idcard;
mod oidc;
mod server;
mod store;

pub use super::logging::LogFormat;
use banks::BANK_SCHEMA;
pub use banks::{
    bank_settings, BankClaims, BankConfig, BankRuntime, IdTokenEncryption, LocalizedName,
};
use idcard::IDCARD_SCHEMA;
pub use idcard::{revocation_mode, IdCardConfig, NationalIdTable, ProxyRange};
use metadata::AttributeId;
use oidc::OIDC_SCHEMA;
pub use oidc::{build as build_oidc_provider, OidcClientConfig, OidcProviderConfig};
use serde::Deserialize;
pub use server::ServerConfig;
use server::SERVER_SCHEMA;
use std::fmt;
use std::path::{Path, PathBuf};
use store::STORE_SCHEMA;
pub use store::{StoreConfig, StoreKind};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub keys: KeysConfig,
    #[serde(default)]
    pub saml: SamlConfig,
    #[serde(default)]
    pub session: SessionConfig,
    #[serde(default)]
    pub store: StoreConfig,
    /// The OpenID Connect provider for session tokens (absent: off).
    #[serde(default)]
    pub oidc_provider: Option<OidcProviderConfig>,
    #[serde(default)]
    pub methods: MethodsConfig,
    #[serde(default)]
    pub service_providers: Vec<SpConfig>,
    /// `production` (the default) or `test`: only a test environment may enable the test bank.
    #[serde(default)]
    pub environment: Environment,
    #[serde(default)]
    pub log: LogConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysConfig {
    pub signing_key: PathBuf,
    pub signing_cert: PathBuf,
    /// Optional ECDSA P-256 key for SPs whose metadata asks for ECDSA.
    #[serde(default)]
    pub ec_signing_key: Option<PathBuf>,
    #[serde(default)]
    pub ec_signing_cert: Option<PathBuf>,
    /// A certificate to publish ahead of a rotation.
    #[serde(default)]
    pub next_signing_cert: Option<PathBuf>,
    /// Secret for pairwise persistent NameIDs and audit hashes (32+ random bytes, any format).
    pub pairwise_secret_file: PathBuf,
    /// The relying-party signing key for bank login (request objects, client assertions):
    /// RSA 2048+ or EC P-256, PKCS#8 PEM. Required when a bank is configured.
    #[serde(default)]
    pub oidc_signing_key: Option<PathBuf>,
    /// The relying-party encryption key for bank login (ID tokens and userinfo as JWE):
    /// RSA 2048+, PKCS#8 PEM. Required when a bank is configured.
    #[serde(default)]
    pub oidc_encryption_key: Option<PathBuf>,
    /// The keys that seal login flows into the citizen's browser, the first sealing and every
    /// one opening (keep an old key listed for a flow's lifetime after a rotation). Each file
    /// holds 32 random bytes, raw or base64 (`openssl rand -base64 32`). Gateway processes that
    /// share these keys complete each other's flows; without any, a key is generated at start
    /// and flows in progress do not survive a restart.
    #[serde(default)]
    pub flow_seal_keys: Vec<SealKeyConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealKeyConfig {
    /// 1-16 characters of `A-Z a-z 0-9 . _ -`; it travels in every sealed flow.
    pub name: String,
    pub file: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SamlConfig {
    pub entity_id: Option<String>,
    /// Require a signature on every AuthnRequest, whatever SP metadata says.
    pub require_signed_requests: bool,
    pub clock_skew_seconds: u32,
    pub max_request_age_seconds: u32,
    pub assertion_lifetime_seconds: u32,
    pub organization_name: String,
    /// The signed IdP metadata's validity (`validUntil` = signing time + this); the gateway
    /// signs it again when half of it has passed.
    pub metadata_validity_days: u32,
}

impl Default for SamlConfig {
    fn default() -> Self {
        SamlConfig {
            entity_id: None,
            require_signed_requests: false,
            clock_skew_seconds: 60,
            max_request_age_seconds: 300,
            assertion_lifetime_seconds: 300,
            organization_name: "Identity gateway".into(),
            metadata_validity_days: 7,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// An SSO session's absolute lifetime: it ends this long after the login, used or not.
    pub sso_session_minutes: u32,
    /// An SSO session also ends when no service has used it for this long.
    pub sso_idle_minutes: u32,
    pub flow_minutes: u32,
    /// Each kind of entry is bounded on its own; a full kind answers 503 to new work of that
    /// kind only. SSO sessions (about 1 KiB each).
    pub max_sessions: u64,
    /// Replay entries, one per assertion issued, each kept for the longer of a flow's lifetime
    /// and the request window (about 40 B each).
    pub max_replay_entries: u64,
    /// Single-use markers, one per upstream callback (about 40 B each).
    pub max_single_use_markers: u64,
}

/// The largest capacity a kind may be given.
pub const MAX_STORE_CAPACITY: u64 = 100_000_000;

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            sso_session_minutes: 480,
            sso_idle_minutes: 60,
            flow_minutes: 15,
            max_sessions: 1_000_000,
            max_replay_entries: 8_000_000,
            max_single_use_markers: 1_000_000,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MethodsConfig {
    pub testbank: TestBankConfig,
    /// FTN banks (or brokers) over OpenID Connect, each a method `bank:<id>`.
    pub banks: Vec<BankConfig>,
    /// ID-card login by TLS client certificate (present = enabled).
    pub idcard: Option<IdCardConfig>,
    /// Refuse personal identity codes of the test series (individual number 900-999) from
    /// banks and the ID-card mapping. Off by default: a bank's test environment returns exactly
    /// these, and no real person has one.
    pub refuse_test_identity_codes: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TestBankConfig {
    /// Off unless an operator turns it on explicitly (dev mode turns it on). Only in a test
    /// environment (`environment = "test"`).
    pub enabled: bool,
}

/// What a configuration is for. A test environment may offer the test bank, which logs anyone
/// in as anyone; production refuses a configuration that enables it. Dev mode is a test
/// environment by construction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    #[default]
    Production,
    Test,
}

/// `[log]`: how the gateway writes its log (see [`super::logging`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` (the default) or `json` (one object per line).
    pub format: LogFormat,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpConfig {
    pub metadata_file: PathBuf,
    /// Attributes this SP may receive. Required: releasing personal data is a decision.
    pub release: Vec<AttributeId>,
    #[serde(default)]
    pub sign_response: bool,
    /// Encrypt assertions to this SP. Default: when its metadata has an RSA encryption key.
    #[serde(default)]
    pub encrypt_assertions: Option<bool>,
}

/// One problem found in a configuration, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

pub(crate) fn problem(path: impl Into<String>, message: impl Into<String>) -> ConfigProblem {
    ConfigProblem {
        path: path.into(),
        message: message.into(),
    }
}

/// Read, overlay and check a config file. Relative paths in it are resolved against its folder.
pub fn load(
    path: &Path,
    env: impl Iterator<Item = (String, String)>,
) -> Result<Config, Vec<ConfigProblem>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| vec![problem(path.display().to_string(), e.to_string())])?;
    let base = path.parent().unwrap_or(Path::new("."));
    parse(&text, env, base)
}

pub fn parse(
    text: &str,
    env: impl Iterator<Item = (String, String)>,
    base: &Path,
) -> Result<Config, Vec<ConfigProblem>> {
    let mut value: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| vec![problem("(file)", e.to_string())])?;
    let mut problems = Vec::new();
    for (name, raw) in env {
        let Some(rest) = name.strip_prefix("GATEWAY__") else {
            continue;
        };
        let parts: Vec<String> = rest.split("__").map(|p| p.to_ascii_lowercase()).collect();
        if let Err(p) = overlay(&mut value, &parts, &raw) {
            problems.push(problem(format!("env {name}"), p));
        }
    }
    check_shape(
        &toml::Value::Table(value.clone()),
        &SCHEMA,
        "",
        "",
        &mut problems,
    );
    check_choices(&value, &mut problems);
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut cfg: Config = toml::Value::Table(value)
        .try_into()
        .map_err(|e: toml::de::Error| vec![problem("(file)", e.message().to_owned())])?;
    resolve_paths(&mut cfg, base);
    check_values(&cfg, &mut problems);
    if problems.is_empty() {
        Ok(cfg)
    } else {
        Err(problems)
    }
}

fn overlay(table: &mut toml::Table, parts: &[String], raw: &str) -> Result<(), String> {
    let (last, parents) = parts.split_last().ok_or("empty variable name")?;
    let mut t = table;
    let mut rest = parents.iter();
    while let Some(p) = rest.next() {
        let entry = t
            .entry(p.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        // A list of tables is addressed by position: GATEWAY__METHODS__BANKS__0__CLIENT_ID.
        let entry = match entry {
            toml::Value::Array(list) => {
                let idx = rest
                    .next()
                    .ok_or_else(|| format!("{p} is a list: name an entry by its index"))?;
                let i: usize = idx
                    .parse()
                    .map_err(|_| format!("{p} is a list: {idx:?} is not an index"))?;
                list.get_mut(i)
                    .ok_or_else(|| format!("{p} has no entry {i}"))?
            }
            other => other,
        };
        t = entry
            .as_table_mut()
            .ok_or_else(|| format!("{p} is not a table"))?;
    }
    // A value that parses as a TOML literal (number, boolean, array) is taken as such.
    let parsed = format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut tt| tt.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()));
    t.insert(last.clone(), parsed);
    Ok(())
}

#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Str,
    Int,
    Bool,
    StrList,
    Table(&'static [(&'static str, Kind)]),
    TableList(&'static [(&'static str, Kind)]),
}

const SCHEMA: Kind = Kind::Table(&[
    ("server", Kind::Table(SERVER_SCHEMA)),
    (
        "keys",
        Kind::Table(&[
            ("signing_key", Kind::Str),
            ("signing_cert", Kind::Str),
            ("ec_signing_key", Kind::Str),
            ("ec_signing_cert", Kind::Str),
            ("next_signing_cert", Kind::Str),
            ("pairwise_secret_file", Kind::Str),
            ("oidc_signing_key", Kind::Str),
            ("oidc_encryption_key", Kind::Str),
            (
                "flow_seal_keys",
                Kind::TableList(&[("name", Kind::Str), ("file", Kind::Str)]),
            ),
        ]),
    ),
    (
        "saml",
        Kind::Table(&[
            ("entity_id", Kind::Str),
            ("require_signed_requests", Kind::Bool),
            ("clock_skew_seconds", Kind::Int),
            ("max_request_age_seconds", Kind::Int),
            ("assertion_lifetime_seconds", Kind::Int),
            ("organization_name", Kind::Str),
            ("metadata_validity_days", Kind::Int),
        ]),
    ),
    (
        "session",
        Kind::Table(&[
            ("sso_session_minutes", Kind::Int),
            ("sso_idle_minutes", Kind::Int),
            ("flow_minutes", Kind::Int),
            ("max_sessions", Kind::Int),
            ("max_replay_entries", Kind::Int),
            ("max_single_use_markers", Kind::Int),
        ]),
    ),
    ("store", Kind::Table(STORE_SCHEMA)),
    ("oidc_provider", Kind::Table(OIDC_SCHEMA)),
    (
        "methods",
        Kind::Table(&[
            ("testbank", Kind::Table(&[("enabled", Kind::Bool)])),
            ("banks", Kind::TableList(BANK_SCHEMA)),
            ("idcard", Kind::Table(IDCARD_SCHEMA)),
            ("refuse_test_identity_codes", Kind::Bool),
        ]),
    ),
    (
        "service_providers",
        Kind::TableList(&[
            ("metadata_file", Kind::Str),
            ("release", Kind::StrList),
            ("sign_response", Kind::Bool),
            ("encrypt_assertions", Kind::Bool),
        ]),
    ),
    ("environment", Kind::Str),
    ("log", Kind::Table(&[("format", Kind::Str)])),
]);

/// Keys whose value is one of a few names, checked before the typed read so that an unknown
/// one is reported at its path.
const CHOICES: &[(&str, &[&str])] = &[
    ("environment", &["production", "test"]),
    ("store.kind", &["memory", "redis"]),
    ("log.format", LogFormat::NAMES),
];

const ATTRIBUTE_NAMES: &[&str] = &[
    "national_id",
    "given_name",
    "surname",
    "common_name",
    "display_name",
    "birth_date",
    "electronic_id",
];

const REQUIRED: &[&str] = &[
    "server",
    "server.listen",
    "server.public_url",
    "keys",
    "keys.signing_key",
    "keys.signing_cert",
    "keys.pairwise_secret_file",
    "service_providers[].metadata_file",
    "service_providers[].release",
    "methods.banks[].id",
    "methods.banks[].display_name",
    "methods.banks[].display_name.fi",
    "methods.banks[].display_name.sv",
    "methods.banks[].display_name.en",
    "methods.banks[].issuer",
    "methods.banks[].client_id",
    "methods.idcard.listen",
    "methods.idcard.national_id_table.sqlite_file",
    "methods.idcard.public_url",
    "methods.idcard.trust_anchors",
    "methods.idcard.display_name.fi",
    "methods.idcard.display_name.sv",
    "methods.idcard.display_name.en",
    "oidc_provider.signing_key",
    "oidc_provider.clients[].client_id",
    "oidc_provider.clients[].redirect_uris",
    "oidc_provider.clients[].auth",
];

/// `path` names the value for the operator (`methods.banks[1].issuer`); `spath` is the same
/// place in the schema, with list positions left out (`methods.banks[].issuer`).
fn check_shape(
    v: &toml::Value,
    kind: &Kind,
    path: &str,
    spath: &str,
    out: &mut Vec<ConfigProblem>,
) {
    let here = if path.is_empty() { "(top level)" } else { path };
    let join = |base: &str, k: &str| {
        if base.is_empty() {
            k.to_owned()
        } else {
            format!("{base}.{k}")
        }
    };
    match (kind, v) {
        (Kind::Str, toml::Value::String(_)) | (Kind::Bool, toml::Value::Boolean(_)) => {}
        (Kind::Int, toml::Value::Integer(i)) if *i >= 0 && *i <= u32::MAX as i64 => {}
        (Kind::StrList, toml::Value::Array(a)) => {
            for (i, e) in a.iter().enumerate() {
                if !e.is_str() {
                    out.push(problem(format!("{path}[{i}]"), "expected a string"));
                }
            }
        }
        (Kind::Table(fields), toml::Value::Table(t)) => {
            for (k, val) in t {
                match fields.iter().find(|(n, _)| n == k) {
                    Some((_, fk)) => check_shape(val, fk, &join(path, k), &join(spath, k), out),
                    None => out.push(problem(join(path, k), "unknown key")),
                }
            }
            for (n, _) in fields.iter() {
                if REQUIRED.contains(&join(spath, n).as_str()) && !t.contains_key(*n) {
                    out.push(problem(join(path, n), "required key is missing"));
                }
            }
        }
        (Kind::TableList(fields), toml::Value::Array(a)) => {
            for (i, e) in a.iter().enumerate() {
                let sub = format!("{path}[{i}]");
                check_shape(e, &Kind::Table(fields), &sub, &format!("{spath}[]"), out);
                if spath != "service_providers" {
                    continue;
                }
                for (j, r) in e
                    .get("release")
                    .and_then(|r| r.as_array())
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    if let Some(name) = r.as_str() {
                        if !ATTRIBUTE_NAMES.contains(&name) {
                            out.push(problem(
                                format!("{sub}.release[{j}]"),
                                format!(
                                    "unknown attribute {name:?}; known: {}",
                                    ATTRIBUTE_NAMES.join(", ")
                                ),
                            ));
                        }
                    }
                }
            }
        }
        (Kind::Int, toml::Value::Integer(_)) => {
            out.push(problem(here, "expected a non-negative 32-bit integer"))
        }
        (k, _) => out.push(problem(
            here,
            match k {
                Kind::Str => "expected a string",
                Kind::Int => "expected an integer",
                Kind::Bool => "expected true or false",
                Kind::StrList => "expected a list of strings",
                Kind::Table(_) => "expected a table",
                Kind::TableList(_) => "expected a list of tables ([[...]])",
            },
        )),
    }
}

fn resolve_paths(cfg: &mut Config, base: &Path) {
    let fix = |p: &mut PathBuf| {
        if p.is_relative() {
            *p = base.join(&*p);
        }
    };
    fix(&mut cfg.keys.signing_key);
    fix(&mut cfg.keys.signing_cert);
    fix(&mut cfg.keys.pairwise_secret_file);
    for p in [
        &mut cfg.keys.ec_signing_key,
        &mut cfg.keys.ec_signing_cert,
        &mut cfg.keys.next_signing_cert,
        &mut cfg.keys.oidc_signing_key,
        &mut cfg.keys.oidc_encryption_key,
        &mut cfg.server.data_dir,
        &mut cfg.server.tls_cert,
        &mut cfg.server.tls_key,
    ]
    .into_iter()
    .flatten()
    {
        fix(p);
    }
    for sp in &mut cfg.service_providers {
        fix(&mut sp.metadata_file);
    }
    if let Some(o) = &mut cfg.oidc_provider {
        fix(&mut o.signing_key);
        for c in &mut o.clients {
            for f in [&mut c.secret_file, &mut c.jwks_file].into_iter().flatten() {
                fix(f);
            }
        }
    }
    for k in cfg
        .keys
        .flow_seal_keys
        .iter_mut()
        .chain(cfg.store.seal_keys.iter_mut())
    {
        fix(&mut k.file);
    }
    if let Some(idcard) = &mut cfg.methods.idcard {
        idcard::resolve_paths(idcard, &fix);
    }
}

fn check_choices(root: &toml::Table, out: &mut Vec<ConfigProblem>) {
    for (path, names) in CHOICES {
        let mut parts = path.split('.');
        let first = parts.next().and_then(|k| root.get(k));
        let value = parts.try_fold(first, |v, k| Some(v?.get(k))).flatten();
        if let Some(name) = value.and_then(|v| v.as_str()) {
            if !names.contains(&name) {
                out.push(problem(
                    *path,
                    format!("{name:?} is not one of {}", names.join(", ")),
                ));
            }
        }
    }
}

/// The test bank logs anyone in as anyone: only a configuration that says it is for testing
/// may enable it.
pub fn testbank_problem(cfg: &Config) -> Option<ConfigProblem> {
    (cfg.methods.testbank.enabled && cfg.environment != Environment::Test).then(|| {
        problem(
            "methods.testbank.enabled",
            "the test bank logs anyone in as anyone: it is refused unless the configuration \
             declares a test environment (environment = \"test\" at the top of the file)",
        )
    })
}

/// Value checks that need no I/O; file contents are checked when the state is built.
fn check_values(cfg: &Config, out: &mut Vec<ConfigProblem>) {
    out.extend(testbank_problem(cfg));
    if cfg.server.listen.parse::<std::net::SocketAddr>().is_err() {
        out.push(problem(
            "server.listen",
            "expected an address like 0.0.0.0:8443",
        ));
    }
    match url::Url::parse(&cfg.server.public_url) {
        Ok(u) if u.scheme() == "https" || is_loopback_http(&u) => {
            if u.query().is_some() || u.fragment().is_some() {
                out.push(problem(
                    "server.public_url",
                    "must not have a query or fragment",
                ));
            }
        }
        Ok(_) => out.push(problem(
            "server.public_url",
            "must be https (http only on a loopback host)",
        )),
        Err(e) => out.push(problem("server.public_url", e.to_string())),
    }
    server::check_edge(&cfg.server, out);
    if cfg.keys.ec_signing_key.is_some() != cfg.keys.ec_signing_cert.is_some() {
        out.push(problem(
            "keys.ec_signing_key",
            "ec_signing_key and ec_signing_cert go together",
        ));
    }
    if cfg.saml.assertion_lifetime_seconds == 0 || cfg.saml.assertion_lifetime_seconds > 3600 {
        out.push(problem(
            "saml.assertion_lifetime_seconds",
            "must be 1..3600",
        ));
    }
    if cfg.saml.clock_skew_seconds > 600 {
        out.push(problem("saml.clock_skew_seconds", "must be at most 600"));
    }
    if cfg.saml.metadata_validity_days == 0 || cfg.saml.metadata_validity_days > 365 {
        out.push(problem("saml.metadata_validity_days", "must be 1..365"));
    }
    if cfg.session.flow_minutes == 0 || cfg.session.flow_minutes > 60 {
        out.push(problem("session.flow_minutes", "must be 1..=60"));
    }
    if cfg.session.sso_session_minutes == 0 || cfg.session.sso_session_minutes > 7 * 24 * 60 {
        out.push(problem(
            "session.sso_session_minutes",
            "must be 1..=10080 (a week)",
        ));
    }
    for (path, n) in [
        ("session.max_sessions", cfg.session.max_sessions),
        ("session.max_replay_entries", cfg.session.max_replay_entries),
        (
            "session.max_single_use_markers",
            cfg.session.max_single_use_markers,
        ),
    ] {
        if n == 0 || n > MAX_STORE_CAPACITY {
            out.push(problem(path, format!("must be 1..={MAX_STORE_CAPACITY}")));
        }
    }
    if cfg.session.sso_idle_minutes == 0
        || cfg.session.sso_idle_minutes > cfg.session.sso_session_minutes
    {
        out.push(problem(
            "session.sso_idle_minutes",
            "must be 1..=sso_session_minutes",
        ));
    }
    store::check(&cfg.store, out);
    if let Some(o) = &cfg.oidc_provider {
        oidc::check(o, out);
    }
    let banks = &cfg.methods.banks;
    if !banks.is_empty() {
        for (path, file) in [
            ("keys.oidc_signing_key", &cfg.keys.oidc_signing_key),
            ("keys.oidc_encryption_key", &cfg.keys.oidc_encryption_key),
        ] {
            if file.is_none() {
                out.push(problem(
                    path,
                    "required when a bank is configured ([[methods.banks]])",
                ));
            }
        }
    }
    if let Some(idcard) = &cfg.methods.idcard {
        idcard::check(idcard, out);
    }
    for (i, bank) in banks.iter().enumerate() {
        if let Some(j) = banks[..i].iter().position(|b| b.id == bank.id) {
            out.push(problem(
                format!("methods.banks[{i}].id"),
                format!("{:?} is already the id of methods.banks[{j}]", bank.id),
            ));
        }
        if let Err(problems) = bank_settings(i, bank, &cfg.server.public_url) {
            out.extend(problems);
        }
    }
}

pub fn is_loopback_http(u: &url::Url) -> bool {
    u.scheme() == "http" && matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
}

#[cfg(test)]
mod tests;
