//! Production configuration: a TOML file, overlaid by `GATEWAY__SECTION__KEY` environment
//! variables. Unknown keys and wrong types are errors, and every problem is reported at once,
//! each with its path.

use metadata::AttributeId;
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};

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
    pub methods: MethodsConfig,
    #[serde(default)]
    pub service_providers: Vec<SpConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: String,
    /// The URL citizens and SPs reach the gateway at (https in production).
    pub public_url: String,
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
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
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    Memory,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    pub store: StoreKind,
    pub sso_session_minutes: u32,
    pub flow_minutes: u32,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            store: StoreKind::Memory,
            sso_session_minutes: 480,
            flow_minutes: 15,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MethodsConfig {
    pub testbank: TestBankConfig,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TestBankConfig {
    /// Off unless an operator turns it on explicitly (dev mode turns it on).
    pub enabled: bool,
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

fn problem(path: impl Into<String>, message: impl Into<String>) -> ConfigProblem {
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
        &mut problems,
    );
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
    for p in parents {
        let entry = t
            .entry(p.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
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
enum Kind {
    Str,
    Int,
    Bool,
    StrList,
    Table(&'static [(&'static str, Kind)]),
    TableList(&'static [(&'static str, Kind)]),
}

const SCHEMA: Kind = Kind::Table(&[
    (
        "server",
        Kind::Table(&[
            ("listen", Kind::Str),
            ("public_url", Kind::Str),
            ("data_dir", Kind::Str),
        ]),
    ),
    (
        "keys",
        Kind::Table(&[
            ("signing_key", Kind::Str),
            ("signing_cert", Kind::Str),
            ("ec_signing_key", Kind::Str),
            ("ec_signing_cert", Kind::Str),
            ("next_signing_cert", Kind::Str),
            ("pairwise_secret_file", Kind::Str),
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
        ]),
    ),
    (
        "session",
        Kind::Table(&[
            ("store", Kind::Str),
            ("sso_session_minutes", Kind::Int),
            ("flow_minutes", Kind::Int),
        ]),
    ),
    (
        "methods",
        Kind::Table(&[("testbank", Kind::Table(&[("enabled", Kind::Bool)]))]),
    ),
    (
        "service_providers",
        Kind::TableList(&[
            ("metadata_file", Kind::Str),
            ("release", Kind::StrList),
            ("sign_response", Kind::Bool),
        ]),
    ),
]);

const ATTRIBUTE_NAMES: &[&str] = &[
    "national_id",
    "given_name",
    "surname",
    "common_name",
    "display_name",
    "birth_date",
];

const REQUIRED: &[&str] = &[
    "server",
    "server.listen",
    "server.public_url",
    "keys",
    "keys.signing_key",
    "keys.signing_cert",
    "keys.pairwise_secret_file",
];

fn check_shape(v: &toml::Value, kind: &Kind, path: &str, out: &mut Vec<ConfigProblem>) {
    let here = if path.is_empty() { "(top level)" } else { path };
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
                let sub = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match fields.iter().find(|(n, _)| n == k) {
                    Some((_, fk)) => check_shape(val, fk, &sub, out),
                    None => out.push(problem(sub, "unknown key")),
                }
            }
            for (n, _) in fields.iter() {
                let sub = if path.is_empty() {
                    (*n).to_owned()
                } else {
                    format!("{path}.{n}")
                };
                if REQUIRED.contains(&sub.as_str()) && !t.contains_key(*n) {
                    out.push(problem(sub, "required key is missing"));
                }
            }
        }
        (Kind::TableList(fields), toml::Value::Array(a)) => {
            for (i, e) in a.iter().enumerate() {
                let sub = format!("{path}[{i}]");
                check_shape(e, &Kind::Table(fields), &sub, out);
                if let Some(t) = e.as_table() {
                    for req in ["metadata_file", "release"] {
                        if !t.contains_key(req) {
                            out.push(problem(format!("{sub}.{req}"), "required key is missing"));
                        }
                    }
                    for (j, r) in t
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
        &mut cfg.server.data_dir,
    ]
    .into_iter()
    .flatten()
    {
        fix(p);
    }
    for sp in &mut cfg.service_providers {
        fix(&mut sp.metadata_file);
    }
}

/// Value checks that need no I/O; file contents are checked when the state is built.
fn check_values(cfg: &Config, out: &mut Vec<ConfigProblem>) {
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
    if cfg.session.flow_minutes == 0 || cfg.session.sso_session_minutes == 0 {
        out.push(problem("session", "lifetimes must be positive"));
    }
}

pub fn is_loopback_http(u: &url::Url) -> bool {
    u.scheme() == "http" && matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[server]
listen = "127.0.0.1:8443"
public_url = "https://idp.example.fi"
[keys]
signing_key = "k.pem"
signing_cert = "c.pem"
pairwise_secret_file = "s.bin"
[[service_providers]]
metadata_file = "sp.xml"
release = ["national_id", "given_name"]
"#;

    fn no_env() -> std::vec::IntoIter<(String, String)> {
        Vec::new().into_iter()
    }

    #[test]
    fn good_config_resolves_relative_paths() {
        let c = parse(GOOD, no_env(), Path::new("/etc/gw")).unwrap();
        assert_eq!(c.keys.signing_key, PathBuf::from("/etc/gw/k.pem"));
        assert_eq!(
            c.service_providers[0].release,
            vec![AttributeId::NationalId, AttributeId::GivenName]
        );
        assert_eq!(c.saml.clock_skew_seconds, 60);
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let bad = GOOD
            .replace("[keys]", "[keys]\nsigning_kye = 1\n")
            .replace("listen = \"127.0.0.1:8443\"", "listen = 5")
            + "\n[saml]\nclock_skew_seconds = \"x\"\n[bogus]\n";
        let errs = parse(&bad, no_env(), Path::new("/")).unwrap_err();
        let paths: Vec<&str> = errs.iter().map(|p| p.path.as_str()).collect();
        for want in [
            "keys.signing_kye",
            "server.listen",
            "saml.clock_skew_seconds",
            "bogus",
        ] {
            assert!(paths.contains(&want), "{want} missing from {errs:?}");
        }
    }

    #[test]
    fn missing_required_keys_and_bad_values() {
        let errs = parse(
            "[server]\nlisten = \"nope\"\npublic_url = \"http://idp.example\"\n",
            no_env(),
            Path::new("/"),
        )
        .unwrap_err();
        let paths: Vec<&str> = errs.iter().map(|p| p.path.as_str()).collect();
        assert!(paths.contains(&"keys"), "{errs:?}");
        let errs = parse(
            &GOOD
                .replace("127.0.0.1:8443", "nope")
                .replace("https://idp", "http://idp"),
            no_env(),
            Path::new("/"),
        )
        .unwrap_err();
        let paths: Vec<&str> = errs.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, vec!["server.listen", "server.public_url"]);
        let errs = parse(
            &GOOD.replace("\"given_name\"", "\"shoe_size\""),
            no_env(),
            Path::new("/"),
        )
        .unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].path, "service_providers[0].release[1]");
    }

    #[test]
    fn environment_overlays_the_file() {
        let env = vec![
            (
                "GATEWAY__SERVER__LISTEN".to_owned(),
                "127.0.0.1:9999".to_owned(),
            ),
            (
                "GATEWAY__SAML__CLOCK_SKEW_SECONDS".to_owned(),
                "5".to_owned(),
            ),
            (
                "GATEWAY__METHODS__TESTBANK__ENABLED".to_owned(),
                "true".to_owned(),
            ),
            ("UNRELATED".to_owned(), "x".to_owned()),
        ];
        let c = parse(GOOD, env.into_iter(), Path::new("/")).unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:9999");
        assert_eq!(c.saml.clock_skew_seconds, 5);
        assert!(c.methods.testbank.enabled);
        let env = vec![("GATEWAY__SAML__NOPE".to_owned(), "1".to_owned())];
        let errs = parse(GOOD, env.into_iter(), Path::new("/")).unwrap_err();
        assert_eq!(errs[0].path, "saml.nope");
    }
}
