//! `[methods.idcard]`: ID-card login by TLS client certificate, as the operator writes it, and
//! its checks. Present means enabled.
//!
//! ```toml
//! [methods.idcard]
//! listen = "0.0.0.0:8443"                       # the certificate listener (its own address)
//! public_url = "https://idcard.example.fi:8443" # where browsers reach it
//! tls_cert = "keys/idcard-server.crt.pem"       # omit both behind a TLS-terminating proxy
//! tls_key = "keys/idcard-server.key.pem"
//! trust_anchors = ["ca/dvv-root.pem"]           # CAs citizen certificates chain to
//! intermediates = ["ca/dvv-citizen-ca.pem"]
//! crl_urls = ["http://proxy.fineid.fi/crl/dvvcitizenca.crl"]
//! national_id_map_file = "satu-hetu.csv"
//! # forwarded_cert_header = "X-SSL-Client-Cert" # with trusted_proxies only
//! # trusted_proxies = ["10.0.0.5", "10.1.0.0/16"]
//! ```

use super::{problem, ConfigProblem, Kind};
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdCardConfig {
    /// The certificate listener's socket address.
    pub listen: String,
    /// The listener as browsers reach it (https; http only on a loopback host).
    pub public_url: String,
    /// The listener's TLS server certificate chain and key (PEM). Without them the listener
    /// speaks plain HTTP and takes certificates only from `trusted_proxies`.
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
    /// PEM files of the root CAs citizen certificates must chain to.
    pub trust_anchors: Vec<PathBuf>,
    /// PEM files of intermediate CAs (used to complete a path when the browser sends only its
    /// certificate, and as CRL issuers).
    #[serde(default)]
    pub intermediates: Vec<PathBuf>,
    /// `chain` (every certificate below the root, the default), `end_entity`, or `off`.
    #[serde(default = "default_revocation")]
    pub revocation: String,
    /// CRL files (DER or PEM), read at start and again at each refresh.
    #[serde(default)]
    pub crl_files: Vec<PathBuf>,
    /// CRL URLs (http or https: a CRL is signed, so plain http is the usual transport).
    #[serde(default)]
    pub crl_urls: Vec<String>,
    /// The longest wait between two fetches of a CRL; earlier when its nextUpdate nears.
    #[serde(default = "default_crl_refresh")]
    pub crl_refresh_max_seconds: u32,
    /// OCSP responder to ask after the path is valid (fail closed when it cannot answer).
    #[serde(default)]
    pub ocsp_responder_url: Option<String>,
    /// `SATU,HETU` a line: the national identification number of each card holder.
    #[serde(default)]
    pub national_id_map_file: Option<PathBuf>,
    /// Or a table in an SQLite database, read at each login.
    #[serde(default)]
    pub national_id_table: Option<NationalIdTable>,
    /// Refuse a login whose SATU has no mapping (the default).
    #[serde(default = "yes")]
    pub require_national_id: bool,
    /// A header in which a trusted TLS-terminating proxy forwards the client certificate
    /// (URL-escaped PEM as nginx's `$ssl_client_escaped_cert`, PEM, or base64 DER).
    #[serde(default)]
    pub forwarded_cert_header: Option<String>,
    /// Addresses (or CIDR ranges) whose `forwarded_cert_header` is believed. Empty: none.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// A test CA: label the method as a test method; allows `revocation = "off"`.
    #[serde(default)]
    pub test_environment: bool,
    #[serde(default)]
    pub display_name: Option<super::LocalizedName>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NationalIdTable {
    pub sqlite_file: PathBuf,
    #[serde(default = "default_table")]
    pub table: String,
    #[serde(default = "default_satu_column")]
    pub satu_column: String,
    #[serde(default = "default_national_id_column")]
    pub national_id_column: String,
}

fn default_table() -> String {
    "idcard_national_ids".into()
}
fn default_satu_column() -> String {
    "satu".into()
}
fn default_national_id_column() -> String {
    "national_id".into()
}

/// A plain SQL identifier: the names are put into the query text, so nothing else is allowed.
pub fn is_sql_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 63
}

pub(crate) const IDCARD_SCHEMA: &[(&str, Kind)] = &[
    ("listen", Kind::Str),
    ("public_url", Kind::Str),
    ("tls_cert", Kind::Str),
    ("tls_key", Kind::Str),
    ("trust_anchors", Kind::StrList),
    ("intermediates", Kind::StrList),
    ("revocation", Kind::Str),
    ("crl_files", Kind::StrList),
    ("crl_urls", Kind::StrList),
    ("crl_refresh_max_seconds", Kind::Int),
    ("ocsp_responder_url", Kind::Str),
    ("national_id_map_file", Kind::Str),
    (
        "national_id_table",
        Kind::Table(&[
            ("sqlite_file", Kind::Str),
            ("table", Kind::Str),
            ("satu_column", Kind::Str),
            ("national_id_column", Kind::Str),
        ]),
    ),
    ("require_national_id", Kind::Bool),
    ("forwarded_cert_header", Kind::Str),
    ("trusted_proxies", Kind::StrList),
    ("test_environment", Kind::Bool),
    (
        "display_name",
        Kind::Table(&[("fi", Kind::Str), ("sv", Kind::Str), ("en", Kind::Str)]),
    ),
];

pub use crate::web::proxy::ProxyRange;

/// The revocation setting, checked.
pub fn revocation_mode(s: &str) -> Option<idp_adapters::idcard::Revocation> {
    use idp_adapters::idcard::Revocation;
    match s {
        "chain" => Some(Revocation::Chain),
        "end_entity" => Some(Revocation::EndEntity),
        "off" => Some(Revocation::Off),
        _ => None,
    }
}

/// Value checks that need no file: every problem with its path.
pub(crate) fn check(c: &IdCardConfig, out: &mut Vec<ConfigProblem>) {
    let at = |k: &str| format!("methods.idcard.{k}");
    if c.listen.parse::<std::net::SocketAddr>().is_err() {
        out.push(problem(
            at("listen"),
            "expected an address like 0.0.0.0:8443",
        ));
    }
    match url::Url::parse(&c.public_url) {
        Ok(u) if u.scheme() == "https" || super::is_loopback_http(&u) => {
            if u.query().is_some() || u.fragment().is_some() || u.path() != "/" {
                out.push(problem(
                    at("public_url"),
                    "must be an origin (no path, query or fragment)",
                ));
            }
        }
        Ok(_) => out.push(problem(
            at("public_url"),
            "must be https (http only on a loopback host)",
        )),
        Err(e) => out.push(problem(at("public_url"), e.to_string())),
    }
    if c.tls_cert.is_some() != c.tls_key.is_some() {
        out.push(problem(at("tls_cert"), "tls_cert and tls_key go together"));
    }
    if c.tls_cert.is_none() && c.trusted_proxies.is_empty() {
        out.push(problem(
            at("tls_cert"),
            "without TLS the listener can only take certificates from trusted_proxies; set one or the other",
        ));
    }
    if c.trust_anchors.is_empty() {
        out.push(problem(
            at("trust_anchors"),
            "at least one CA file is required",
        ));
    }
    match revocation_mode(&c.revocation) {
        None => out.push(problem(
            at("revocation"),
            "expected \"chain\", \"end_entity\" or \"off\"",
        )),
        Some(idp_adapters::idcard::Revocation::Off) => {
            if !c.test_environment && c.ocsp_responder_url.is_none() {
                out.push(problem(
                    at("revocation"),
                    "\"off\" needs ocsp_responder_url or test_environment = true",
                ));
            }
        }
        Some(_) => {
            if c.crl_files.is_empty() && c.crl_urls.is_empty() {
                out.push(problem(
                    at("crl_urls"),
                    "revocation checking needs crl_urls or crl_files (or revocation = \"off\")",
                ));
            }
        }
    }
    for (i, u) in c.crl_urls.iter().enumerate() {
        match url::Url::parse(u) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.username().is_empty() => {}
            _ => out.push(problem(
                format!("methods.idcard.crl_urls[{i}]"),
                "expected an http or https URL without credentials",
            )),
        }
    }
    if let Some(u) = &c.ocsp_responder_url {
        if !url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
            out.push(problem(
                at("ocsp_responder_url"),
                "expected an http or https URL",
            ));
        }
    }
    if c.crl_refresh_max_seconds < 60 {
        out.push(problem(
            at("crl_refresh_max_seconds"),
            "must be at least 60",
        ));
    }
    match (&c.national_id_map_file, &c.national_id_table) {
        (None, None) if c.require_national_id => out.push(problem(
            at("national_id_map_file"),
            "national_id_map_file or national_id_table is required while require_national_id is true (the card certificate does not carry the national identification number)",
        )),
        (Some(_), Some(_)) => out.push(problem(
            at("national_id_table"),
            "give national_id_map_file or national_id_table, not both",
        )),
        _ => {}
    }
    if let Some(t) = &c.national_id_table {
        for (key, name) in [
            ("table", &t.table),
            ("satu_column", &t.satu_column),
            ("national_id_column", &t.national_id_column),
        ] {
            if !is_sql_identifier(name) {
                out.push(problem(
                    format!("methods.idcard.national_id_table.{key}"),
                    "expected a plain SQL identifier ([A-Za-z_][A-Za-z0-9_]*)",
                ));
            }
        }
    }
    match (&c.forwarded_cert_header, c.trusted_proxies.is_empty()) {
        (Some(h), false) => {
            if axum::http::HeaderName::from_bytes(h.as_bytes()).is_err() {
                out.push(problem(
                    at("forwarded_cert_header"),
                    "not a valid header name",
                ));
            }
        }
        (None, false) => out.push(problem(
            at("trusted_proxies"),
            "trusted_proxies needs forwarded_cert_header",
        )),
        (Some(_), true) => out.push(problem(
            at("forwarded_cert_header"),
            "needs trusted_proxies: a header from anyone else is ignored, so nothing would use it",
        )),
        (None, true) => {}
    }
    for (i, p) in c.trusted_proxies.iter().enumerate() {
        match ProxyRange::parse(p) {
            None => out.push(problem(
                format!("methods.idcard.trusted_proxies[{i}]"),
                "expected an IP address or CIDR range",
            )),
            Some(r) if r.too_wide() => out.push(problem(
                format!("methods.idcard.trusted_proxies[{i}]"),
                "too wide (shorter than /8 for IPv4, /32 for IPv6): the forwarded certificate would be believed from nearly anyone; list the proxies' addresses",
            )),
            Some(_) => {}
        }
    }
}

/// Relative paths are resolved against the config file's folder.
pub(crate) fn resolve_paths(c: &mut IdCardConfig, fix: &dyn Fn(&mut PathBuf)) {
    for p in c
        .tls_cert
        .iter_mut()
        .chain(c.tls_key.iter_mut())
        .chain(c.trust_anchors.iter_mut())
        .chain(c.intermediates.iter_mut())
        .chain(c.crl_files.iter_mut())
        .chain(c.national_id_map_file.iter_mut())
        .chain(c.national_id_table.iter_mut().map(|t| &mut t.sqlite_file))
    {
        fix(p);
    }
}

fn default_revocation() -> String {
    "chain".into()
}
fn default_crl_refresh() -> u32 {
    3600
}
fn yes() -> bool {
    true
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn proxy_ranges_match_addresses_and_cidrs() {
        let one = ProxyRange::parse("10.0.0.5").unwrap();
        assert!(one.contains("10.0.0.5".parse().unwrap()));
        assert!(!one.contains("10.0.0.6".parse().unwrap()));
        assert!(one.contains("::ffff:10.0.0.5".parse().unwrap()));
        let net = ProxyRange::parse("10.1.0.0/16").unwrap();
        assert!(net.contains("10.1.255.1".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        let v6 = ProxyRange::parse("fd00::/8").unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(!v6.contains("fe80::1".parse().unwrap()));
        assert!(!v6.contains("10.1.0.1".parse().unwrap()));
        for bad in ["10.0.0.0/33", "x", "10.0.0.1/", "::/129", ""] {
            assert!(ProxyRange::parse(bad).is_none(), "{bad}");
        }
        assert!(ProxyRange::parse("0.0.0.0/0")
            .unwrap()
            .contains("1.2.3.4".parse().unwrap()));
        assert!(ProxyRange::parse("0.0.0.0/0").unwrap().too_wide());
        assert!(ProxyRange::parse("::/0").unwrap().too_wide());
        assert!(!ProxyRange::parse("10.0.0.0/8").unwrap().too_wide());
        // Written IPv4-mapped, as `ss` prints peers: matches the IPv4 peer.
        let mapped = ProxyRange::parse("::ffff:10.0.0.5").unwrap();
        assert!(mapped.contains("10.0.0.5".parse().unwrap()));
        assert!(mapped.contains("::ffff:10.0.0.5".parse().unwrap()));
        assert!(!mapped.contains("10.0.0.6".parse().unwrap()));
        let mapped_net = ProxyRange::parse("::ffff:10.1.0.0/112").unwrap();
        assert!(mapped_net.contains("10.1.2.3".parse().unwrap()));
    }
}
