//! `[server]`: the main listener and its edge (see [`crate::web::edge`]), as the operator writes
//! it, and its checks.
//!
//! ```toml
//! [server]
//! listen = "0.0.0.0:8443"
//! public_url = "https://tunnistus.example.fi"
//! header_read_timeout_seconds = 10   # TLS handshake, each request's headers, idle keep-alive
//! request_timeout_seconds = 30       # head to response, body included (408 after)
//! max_connections = 4096             # more are closed at accept
//! # tls_cert = "keys/tls.crt.pem"    # TLS on the listener itself (no proxy in front)
//! # tls_key = "keys/tls.key.pem"
//! # trusted_proxies = ["10.0.0.5"]   # their X-Forwarded-For names the client
//! # client_address_header = "x-forwarded-for"   # or "forwarded" (RFC 7239)
//! rate_limit_per_second = 20         # per client address on /saml/idp/sso and /login*
//! rate_limit_burst = 100
//! ```

use super::{problem, ConfigProblem, Kind, ProxyRange};
use crate::web::edge::{self, ClientAddress, EdgeSettings, ForwardedHeader, RateLimit};
use serde::Deserialize;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: String,
    /// The URL citizens and SPs reach the gateway at (https in production).
    pub public_url: String,
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
    /// Seconds a client has for the TLS handshake and then for each request's headers (also
    /// how long an idle keep-alive connection stays open).
    #[serde(default = "default_header_read_timeout")]
    pub header_read_timeout_seconds: u32,
    /// Seconds from a request's head to its response, reading the body included (408 after).
    #[serde(default = "default_request_timeout")]
    pub request_timeout_seconds: u32,
    /// Connections served at once; more are closed as soon as they are accepted.
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
    /// Serve TLS on the listener itself (PEM certificate chain and key), for a single machine
    /// with no proxy in front. `public_url` must then be https.
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
    /// TLS-terminating proxies (addresses or CIDR ranges) whose `client_address_header` names
    /// the client for the rate limits. Empty: the TCP peer is the client.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// `x-forwarded-for` (the default) or `forwarded` (RFC 7239): the one header read.
    #[serde(default)]
    pub client_address_header: Option<String>,
    /// Requests per second each client address may make to the SSO and login endpoints, after
    /// its burst. 0 or absent: the default (20).
    #[serde(default)]
    pub rate_limit_per_second: u32,
    /// Requests a client address may make at once. 0 or absent: the default (100).
    #[serde(default)]
    pub rate_limit_burst: u32,
}

fn default_header_read_timeout() -> u32 {
    EdgeSettings::DEFAULT_HEADER_READ_TIMEOUT_SECONDS
}
fn default_request_timeout() -> u32 {
    EdgeSettings::DEFAULT_REQUEST_TIMEOUT_SECONDS
}
fn default_max_connections() -> u32 {
    EdgeSettings::DEFAULT_MAX_CONNECTIONS
}

pub(crate) const SERVER_SCHEMA: &[(&str, Kind)] = &[
    ("listen", Kind::Str),
    ("public_url", Kind::Str),
    ("data_dir", Kind::Str),
    ("header_read_timeout_seconds", Kind::Int),
    ("request_timeout_seconds", Kind::Int),
    ("max_connections", Kind::Int),
    ("tls_cert", Kind::Str),
    ("tls_key", Kind::Str),
    ("trusted_proxies", Kind::StrList),
    ("client_address_header", Kind::Str),
    ("rate_limit_per_second", Kind::Int),
    ("rate_limit_burst", Kind::Int),
];

impl ServerConfig {
    /// The main listener's edge as this section describes it (its values checked with the
    /// config); the TLS pair is loaded here.
    pub fn edge(&self) -> Result<EdgeSettings, ConfigProblem> {
        let secs = |s: u32| Duration::from_secs(s.into());
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => {
                Some(edge::server_tls(cert, key).map_err(|e| problem("server.tls_cert", e))?)
            }
            _ => None,
        };
        let header = self
            .client_address_header
            .as_deref()
            .and_then(ForwardedHeader::parse)
            .unwrap_or_default();
        let proxies = self
            .trusted_proxies
            .iter()
            .filter_map(|p| ProxyRange::parse(p))
            .collect();
        Ok(EdgeSettings {
            name: "main",
            header_read_timeout: secs(self.header_read_timeout_seconds),
            tls_handshake_timeout: secs(self.header_read_timeout_seconds),
            request_timeout: secs(self.request_timeout_seconds),
            max_connections: self.max_connections as usize,
            hsts: tls.is_some() || self.public_url.starts_with("https://"),
            tls,
            client_address: ClientAddress::behind(proxies, header),
            rate_limit: RateLimit {
                per_second: NonZeroU32::new(self.rate_limit_per_second)
                    .unwrap_or(RateLimit::DEFAULT.per_second),
                burst: NonZeroU32::new(self.rate_limit_burst).unwrap_or(RateLimit::DEFAULT.burst),
            },
        })
    }
}

/// The main listener's edge: limits in range, TLS with an https public URL, proxies no wider
/// than a network. The TLS pair is read here (the one file read during the value checks), so
/// that check-config reports a certificate that does not load or does not fit its key.
pub(super) fn check_edge(s: &ServerConfig, out: &mut Vec<ConfigProblem>) {
    for (key, value, max) in [
        (
            "header_read_timeout_seconds",
            s.header_read_timeout_seconds,
            300,
        ),
        ("request_timeout_seconds", s.request_timeout_seconds, 600),
        ("max_connections", s.max_connections, 1_000_000),
    ] {
        if value == 0 || value > max {
            out.push(problem(
                format!("server.{key}"),
                format!("must be 1..{max}"),
            ));
        }
    }
    for (key, value) in [
        ("rate_limit_per_second", s.rate_limit_per_second),
        ("rate_limit_burst", s.rate_limit_burst),
    ] {
        if value > 1_000_000 {
            out.push(problem(
                format!("server.{key}"),
                "must be at most 1000000 (0: the default)",
            ));
        }
    }
    match (&s.tls_cert, &s.tls_key) {
        (Some(cert), Some(key)) => {
            if !s.public_url.starts_with("https://") {
                out.push(problem(
                    "server.public_url",
                    "must be https when the listener serves TLS (tls_cert)",
                ));
            }
            if let Err(e) = edge::server_tls(cert, key) {
                out.push(problem("server.tls_cert", e));
            }
        }
        (None, None) => {}
        _ => out.push(problem(
            "server.tls_cert",
            "tls_cert and tls_key go together",
        )),
    }
    if let Some(h) = &s.client_address_header {
        if ForwardedHeader::parse(h).is_none() {
            out.push(problem(
                "server.client_address_header",
                format!("{h:?} is not one of {}", ForwardedHeader::NAMES.join(", ")),
            ));
        } else if s.trusted_proxies.is_empty() {
            out.push(problem(
                "server.client_address_header",
                "needs trusted_proxies: the header is read only from them",
            ));
        }
    }
    for (i, p) in s.trusted_proxies.iter().enumerate() {
        match ProxyRange::parse(p) {
            None => out.push(problem(
                format!("server.trusted_proxies[{i}]"),
                "expected an IP address or CIDR range",
            )),
            Some(r) if r.too_wide() => out.push(problem(
                format!("server.trusted_proxies[{i}]"),
                "too wide (shorter than /8 for IPv4, /32 for IPv6): the forwarded client address would be believed from nearly anyone; list the proxies' addresses",
            )),
            Some(_) => {}
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::parse;
    use std::path::Path;

    const GOOD: &str = r#"
[server]
listen = "127.0.0.1:8443"
public_url = "https://idp.example.fi"
[keys]
signing_key = "k.pem"
signing_cert = "c.pem"
pairwise_secret_file = "s.bin"
"#;

    fn no_env() -> std::iter::Empty<(String, String)> {
        std::iter::empty()
    }

    fn with_server(extra: &str) -> String {
        GOOD.replace("[keys]\n", &format!("{extra}\n[keys]\n"))
    }

    fn problem_paths(text: &str) -> Vec<String> {
        parse(text, no_env(), Path::new("/"))
            .unwrap_err()
            .into_iter()
            .map(|p| p.path)
            .collect()
    }

    #[test]
    fn the_server_edge_defaults_and_limits() {
        let c = parse(GOOD, no_env(), Path::new("/")).unwrap();
        assert_eq!(c.server.header_read_timeout_seconds, 10);
        assert_eq!(c.server.request_timeout_seconds, 30);
        assert_eq!(c.server.max_connections, 4096);
        assert_eq!(
            (c.server.rate_limit_per_second, c.server.rate_limit_burst),
            (0, 0)
        );
        assert!(c.server.trusted_proxies.is_empty() && c.server.tls_cert.is_none());
        let c = parse(
            &with_server("rate_limit_per_second = 5\nrate_limit_burst = 0\ntrusted_proxies = [\"10.0.0.5\", \"192.0.2.0/24\"]\nclient_address_header = \"Forwarded\""),
            no_env(),
            Path::new("/"),
        )
        .unwrap();
        assert_eq!(c.server.rate_limit_per_second, 5);
        let paths = problem_paths(&with_server(
            "header_read_timeout_seconds = 0\nrequest_timeout_seconds = 601\nmax_connections = 0\nrate_limit_burst = 2000000",
        ));
        assert_eq!(
            paths,
            [
                "server.header_read_timeout_seconds",
                "server.request_timeout_seconds",
                "server.max_connections",
                "server.rate_limit_burst"
            ]
        );
        let paths = problem_paths(&with_server(
            "trusted_proxies = [\"0.0.0.0/0\", \"10.0.0.0/7\", \"::/16\", \"proxy.example\", \"10.0.0.0/8\"]",
        ));
        assert_eq!(
            paths,
            [
                "server.trusted_proxies[0]",
                "server.trusted_proxies[1]",
                "server.trusted_proxies[2]",
                "server.trusted_proxies[3]"
            ]
        );
        assert_eq!(
            problem_paths(&with_server(
                "client_address_header = \"x-real-ip\"\ntrusted_proxies = [\"10.0.0.5\"]"
            )),
            ["server.client_address_header"]
        );
        assert_eq!(
            problem_paths(&with_server("client_address_header = \"forwarded\"")),
            ["server.client_address_header"]
        );
    }

    #[test]
    fn the_listener_tls_is_loaded_by_the_check_and_wants_an_https_public_url() {
        let d = tempfile::tempdir().unwrap();
        let now = time::OffsetDateTime::now_utc();
        let tls = certs::test_pki::TlsServerIdentity::generate(&["idp.example.fi"], now).unwrap();
        std::fs::write(d.path().join("tls.crt"), &tls.cert_pem).unwrap();
        std::fs::write(d.path().join("tls.key"), &tls.key_pem).unwrap();
        let other = certs::test_pki::TlsServerIdentity::generate(&["x"], now).unwrap();
        std::fs::write(d.path().join("other.key"), &other.key_pem).unwrap();
        let text = with_server("tls_cert = \"tls.crt\"\ntls_key = \"tls.key\"");
        let c = parse(&text, no_env(), d.path()).unwrap();
        assert_eq!(c.server.tls_cert, Some(d.path().join("tls.crt")));
        let errs = parse(
            &text.replace("https://idp.example.fi", "http://127.0.0.1:8443"),
            no_env(),
            d.path(),
        )
        .unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].path, "server.public_url");
        let errs = parse(&text.replace("tls.key", "other.key"), no_env(), d.path()).unwrap_err();
        assert_eq!(errs[0].path, "server.tls_cert", "{errs:?}");
        let errs = parse(&text.replace("tls.key", "missing.key"), no_env(), d.path()).unwrap_err();
        assert!(errs[0].message.contains("missing.key"), "{errs:?}");
        let errs = parse(&with_server("tls_cert = \"tls.crt\""), no_env(), d.path()).unwrap_err();
        assert_eq!(errs[0].message, "tls_cert and tls_key go together");
    }

    #[test]
    fn the_edge_from_the_section() {
        let c = parse(GOOD, no_env(), Path::new("/")).unwrap();
        let e = c.server.edge().unwrap();
        assert_eq!(e.header_read_timeout, std::time::Duration::from_secs(10));
        assert_eq!(e.max_connections, 4096);
        assert_eq!(e.rate_limit, super::RateLimit::DEFAULT);
        assert!(e.hsts && e.tls.is_none(), "https public URL: HSTS");
        let c = parse(
            &with_server(
                "rate_limit_per_second = 3\nrate_limit_burst = 0\ntrusted_proxies = [\"10.0.0.5\"]",
            )
            .replace("https://idp.example.fi", "http://127.0.0.1:8443"),
            no_env(),
            Path::new("/"),
        )
        .unwrap();
        let e = c.server.edge().unwrap();
        assert_eq!(e.rate_limit.per_second.get(), 3);
        assert_eq!(e.rate_limit.burst, super::RateLimit::DEFAULT.burst);
        assert!(!e.hsts);
        let peer = "10.0.0.5".parse().unwrap();
        let mut h = axum::http::HeaderMap::new();
        h.insert("x-forwarded-for", "198.51.100.7".parse().unwrap());
        assert_eq!(
            e.client_address.of(peer, &h),
            "198.51.100.7".parse::<std::net::IpAddr>().unwrap()
        );
    }
}
