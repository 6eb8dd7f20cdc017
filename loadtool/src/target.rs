//! The one place a target address is accepted: `http://` on loopback only (127.0.0.0/8 or ::1).
//! A name is resolved and every address it resolves to must be loopback, so a hosts file or
//! DNS answer cannot point the tool elsewhere. No TLS: loopback needs none.

use std::net::{IpAddr, SocketAddr};
use thiserror::Error;

/// A base URL that passed the loopback check; the only way to get one is [`LoopbackTarget::resolve`].
#[derive(Clone, Debug)]
pub struct LoopbackTarget {
    /// Where connections go.
    pub addr: SocketAddr,
    /// The Host header (`host:port` as given).
    pub authority: String,
    /// `http://host:port`, without a trailing slash.
    pub origin: String,
}

#[derive(Debug, Error)]
pub enum TargetError {
    #[error("bad base URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error(
        "refused: {host} is not a loopback address ({addr}); only 127.0.0.0/8 and ::1 are allowed"
    )]
    NotLoopback { host: String, addr: IpAddr },
    #[error("cannot resolve {host}: {reason}")]
    Resolve { host: String, reason: String },
}

impl LoopbackTarget {
    pub async fn resolve(base: &str) -> Result<LoopbackTarget, TargetError> {
        let bad = |reason: &str| TargetError::BadUrl {
            url: base.to_owned(),
            reason: reason.to_owned(),
        };
        let url = url::Url::parse(base).map_err(|e| bad(&e.to_string()))?;
        if url.scheme() != "http" {
            return Err(bad("only http:// is supported (loopback, no TLS)"));
        }
        if !(url.path().is_empty() || url.path() == "/") || url.query().is_some() {
            return Err(bad("give the origin only, e.g. http://127.0.0.1:8080"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("no credentials in the URL"));
        }
        let port = url.port_or_known_default().unwrap_or(80);
        let (host, addrs) = match url.host() {
            Some(url::Host::Ipv4(ip)) => (ip.to_string(), vec![SocketAddr::new(ip.into(), port)]),
            Some(url::Host::Ipv6(ip)) => {
                (format!("[{ip}]"), vec![SocketAddr::new(ip.into(), port)])
            }
            Some(url::Host::Domain(name)) => {
                let found: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
                    .await
                    .map_err(|e| TargetError::Resolve {
                        host: name.to_owned(),
                        reason: e.to_string(),
                    })?
                    .collect();
                (name.to_owned(), found)
            }
            None => return Err(bad("no host")),
        };
        let addr = all_loopback(&host, &addrs)?;
        let authority = format!("{host}:{port}");
        Ok(LoopbackTarget {
            addr,
            origin: format!("http://{authority}"),
            authority,
        })
    }
}

/// The first address, if every one is loopback; a name that resolves to nothing is refused too.
pub fn all_loopback(host: &str, addrs: &[SocketAddr]) -> Result<SocketAddr, TargetError> {
    if let Some(bad) = addrs.iter().find(|a| !is_loopback(a.ip())) {
        return Err(TargetError::NotLoopback {
            host: host.to_owned(),
            addr: bad.ip(),
        });
    }
    addrs.first().copied().ok_or_else(|| TargetError::Resolve {
        host: host.to_owned(),
        reason: "no addresses".to_owned(),
    })
}

pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        // ::1 only; an IPv4-mapped 127.x is loopback too.
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn check(base: &str) -> Result<LoopbackTarget, TargetError> {
        LoopbackTarget::resolve(base).await
    }

    #[tokio::test]
    async fn loopback_addresses_are_accepted() {
        for (base, ip) in [
            ("http://127.0.0.1:8080", "127.0.0.1"),
            ("http://127.0.0.2:8080/", "127.0.0.2"),
            ("http://[::1]:8080", "::1"),
        ] {
            let t = check(base).await.unwrap();
            assert_eq!(t.addr.ip(), ip.parse::<IpAddr>().unwrap(), "{base}");
            assert_eq!(t.addr.port(), 8080);
        }
        assert_eq!(
            check("http://[::1]:8080").await.unwrap().authority,
            "[::1]:8080"
        );
    }

    #[tokio::test]
    async fn localhost_is_accepted_when_it_resolves_to_loopback() {
        let t = check("http://localhost:8080").await.unwrap();
        assert!(is_loopback(t.addr.ip()));
        assert_eq!(t.authority, "localhost:8080");
    }

    #[tokio::test]
    async fn other_addresses_are_refused() {
        assert!(matches!(
            check("http://10.0.0.1:8080").await,
            Err(TargetError::NotLoopback { .. })
        ));
        assert!(matches!(
            check("http://[2001:db8::1]:8080").await,
            Err(TargetError::NotLoopback { .. })
        ));
        // example.com resolves (when it does) to public addresses; without DNS it cannot be
        // resolved at all. Either way it is refused, and never as a bad URL.
        assert!(matches!(
            check("http://example.com").await,
            Err(TargetError::NotLoopback { .. } | TargetError::Resolve { .. })
        ));
    }

    #[test]
    fn a_name_with_any_public_address_is_refused() {
        let addrs: Vec<SocketAddr> = vec![
            "127.0.0.1:80".parse().unwrap(),
            "93.184.215.14:80".parse().unwrap(),
        ];
        assert!(matches!(
            all_loopback("mixed.example", &addrs),
            Err(TargetError::NotLoopback { addr, .. }) if addr.to_string() == "93.184.215.14"
        ));
        assert!(matches!(
            all_loopback("none.example", &[]),
            Err(TargetError::Resolve { .. })
        ));
    }

    #[tokio::test]
    async fn bad_base_urls_are_refused() {
        for base in [
            "127.0.0.1:8080",
            "https://127.0.0.1:8443",
            "http://127.0.0.1:8080/demo",
            "http://127.0.0.1:8080/?x=1",
            "http://user:pw@127.0.0.1:8080",
            "not a url",
        ] {
            assert!(
                matches!(check(base).await, Err(TargetError::BadUrl { .. })),
                "{base}"
            );
        }
    }
}
