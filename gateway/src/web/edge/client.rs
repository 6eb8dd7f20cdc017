//! A request's client address: the TCP peer, unless the peer is a trusted proxy, in which case
//! the address its forwarding header names.
//!
//! Proxies append to the header, so only its right end is theirs: the header is read from the
//! right, past every address that is itself a trusted proxy, and the first address that is not
//! is the client. Anything to the left of it was written by the client and is ignored. Only the
//! one configured header is read: a proxy that maintains `X-Forwarded-For` passes a client's
//! own `Forwarded` through untouched, and believing that would let anyone pick an address.

use crate::web::proxy::ProxyRange;
use axum::http::{HeaderMap, HeaderName};
use std::net::{IpAddr, SocketAddr};

/// The header a trusted proxy names the client in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx, HAProxy, most load balancers).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for=proxy1`.
    Forwarded,
}

impl ForwardedHeader {
    pub const NAMES: &'static [&'static str] = &["x-forwarded-for", "forwarded"];

    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Some(Self::XForwardedFor),
            "forwarded" => Some(Self::Forwarded),
            _ => None,
        }
    }

    fn name(self) -> HeaderName {
        match self {
            Self::XForwardedFor => HeaderName::from_static("x-forwarded-for"),
            Self::Forwarded => axum::http::header::FORWARDED,
        }
    }
}

/// Where the client address comes from.
#[derive(Clone, Debug, Default)]
pub struct ClientAddress {
    trusted_proxies: Vec<ProxyRange>,
    header: ForwardedHeader,
}

impl ClientAddress {
    /// The TCP peer, whatever a header says.
    pub fn peer() -> Self {
        Self::default()
    }

    /// Behind these proxies, which name the client in `header`.
    pub fn behind(trusted_proxies: Vec<ProxyRange>, header: ForwardedHeader) -> Self {
        ClientAddress {
            trusted_proxies,
            header,
        }
    }

    /// The client of a request from `peer` with these headers.
    pub fn of(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusted(peer) {
            return peer;
        }
        // Hops in the order written (header lines in order, each a comma-separated list);
        // `None` for one that does not parse.
        let hops: Vec<Option<IpAddr>> = headers
            .get_all(self.header.name())
            .iter()
            .flat_map(|v| match v.to_str() {
                Ok(text) => text.split(',').map(|h| self.hop(h)).collect(),
                Err(_) => vec![None],
            })
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            // An unreadable hop ends the walk at the last trusted address: what lies beyond it
            // cannot be attributed to any proxy of ours.
            let Some(ip) = *hop else { break };
            client = ip;
            if !self.trusted(ip) {
                break;
            }
        }
        client
    }

    fn trusted(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|p| p.contains(ip))
    }

    fn hop(&self, text: &str) -> Option<IpAddr> {
        match self.header {
            ForwardedHeader::XForwardedFor => address(text.trim()),
            ForwardedHeader::Forwarded => forwarded_for(text),
        }
    }
}

/// One `Forwarded` element's `for=` (an element without one, or with `unknown` or an obfuscated
/// name, names no address). Elements are split at every comma, quoted or not: a client's
/// unterminated quote must not swallow what the proxy appended after it.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("for") {
            return None;
        }
        address(v.trim().trim_matches('"'))
    })
}

/// `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:4711`.
fn address(text: &str) -> Option<IpAddr> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = text.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    text.strip_prefix('[')?.strip_suffix(']')?.parse().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(name: &str, values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn behind(proxies: &[&str], header: ForwardedHeader) -> ClientAddress {
        ClientAddress::behind(
            proxies
                .iter()
                .map(|p| ProxyRange::parse(p).unwrap())
                .collect(),
            header,
        )
    }

    #[test]
    fn a_header_from_an_untrusted_peer_is_ignored() {
        let h = headers("x-forwarded-for", &["198.51.100.7"]);
        assert_eq!(
            ClientAddress::peer().of(ip("192.0.2.1"), &h),
            ip("192.0.2.1")
        );
        let c = behind(&["10.0.0.0/8"], ForwardedHeader::XForwardedFor);
        assert_eq!(c.of(ip("192.0.2.1"), &h), ip("192.0.2.1"));
    }

    #[test]
    fn the_right_most_untrusted_address_is_the_client() {
        let c = behind(&["10.0.0.0/8", "192.0.2.9"], ForwardedHeader::XForwardedFor);
        let peer = ip("10.0.0.5");
        // The client wrote the left part; the proxies appended the rest.
        let h = headers(
            "x-forwarded-for",
            &["203.0.113.66, 198.51.100.7, 192.0.2.9"],
        );
        assert_eq!(c.of(peer, &h), ip("198.51.100.7"));
        // Several header lines are one list, in order.
        let h = headers(
            "x-forwarded-for",
            &["203.0.113.66", "198.51.100.7", "10.1.2.3"],
        );
        assert_eq!(c.of(peer, &h), ip("198.51.100.7"));
        // Ports and brackets as some proxies write them.
        let h = headers("x-forwarded-for", &["[2001:db8::7]:4711"]);
        assert_eq!(c.of(peer, &h), ip("2001:db8::7"));
        let h = headers("x-forwarded-for", &["198.51.100.7:4711"]);
        assert_eq!(c.of(peer, &h), ip("198.51.100.7"));
        // No header: the proxy itself.
        assert_eq!(c.of(peer, &HeaderMap::new()), peer);
        // Only proxies: the farthest one.
        let h = headers("x-forwarded-for", &["10.9.9.9, 192.0.2.9"]);
        assert_eq!(c.of(peer, &h), ip("10.9.9.9"));
    }

    #[test]
    fn garbage_stops_the_walk_at_the_last_trusted_hop() {
        let c = behind(&["10.0.0.0/8"], ForwardedHeader::XForwardedFor);
        let peer = ip("10.0.0.5");
        let h = headers("x-forwarded-for", &["198.51.100.7, nonsense, 10.0.0.4"]);
        assert_eq!(c.of(peer, &h), ip("10.0.0.4"));
        let h = headers("x-forwarded-for", &["nonsense, 198.51.100.7"]);
        assert_eq!(c.of(peer, &h), ip("198.51.100.7"));
    }

    #[test]
    fn forwarded_elements() {
        let c = behind(&["10.0.0.5"], ForwardedHeader::Forwarded);
        let peer = ip("10.0.0.5");
        let h = headers(
            "forwarded",
            &[r#"for=203.0.113.66;proto=https, for="[2001:db8:cafe::17]:4711";by=10.0.0.5"#],
        );
        assert_eq!(c.of(peer, &h), ip("2001:db8:cafe::17"));
        // An unterminated quote from the client does not hide the proxy's element.
        let h = headers("forwarded", &[r#"for="203.0.113.66, for=198.51.100.7"#]);
        assert_eq!(c.of(peer, &h), ip("198.51.100.7"));
        let h = headers("forwarded", &["for=unknown"]);
        assert_eq!(c.of(peer, &h), peer);
        // The other header is not read.
        let h = headers("x-forwarded-for", &["198.51.100.7"]);
        assert_eq!(c.of(peer, &h), peer);
    }

    #[test]
    fn header_names() {
        assert_eq!(
            ForwardedHeader::parse("X-Forwarded-For"),
            Some(ForwardedHeader::XForwardedFor)
        );
        assert_eq!(
            ForwardedHeader::parse("forwarded"),
            Some(ForwardedHeader::Forwarded)
        );
        assert_eq!(ForwardedHeader::parse("x-real-ip"), None);
    }
}
