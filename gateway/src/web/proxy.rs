//! Trusted proxies: which peers may tell us, in a header, what they saw (a client certificate,
//! a client address).

use std::net::IpAddr;

/// A trusted proxy: one address or a CIDR range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProxyRange {
    addr: IpAddr,
    prefix: u8,
}

impl ProxyRange {
    pub fn parse(s: &str) -> Option<Self> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, p.parse::<u8>().ok()?),
            None => {
                let a = s.parse::<IpAddr>().ok()?;
                (a, if a.is_ipv4() { 32 } else { 128 })
            }
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return None;
        }
        // Written as an IPv4-mapped IPv6 address (as `ss` shows peers): the IPv4 range it means,
        // since peers are compared in that form too.
        match addr {
            IpAddr::V6(v6) if prefix >= 96 => match v6.to_ipv4_mapped() {
                Some(v4) => Some(Self {
                    addr: IpAddr::V4(v4),
                    prefix: prefix - 96,
                }),
                None => Some(Self { addr, prefix }),
            },
            _ => Some(Self { addr, prefix }),
        }
    }

    /// A range so wide it would trust the header from (nearly) anyone: shorter than /8 for
    /// IPv4 or /32 for IPv6.
    pub fn too_wide(&self) -> bool {
        self.prefix < if self.addr.is_ipv4() { 8 } else { 32 }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 peer on a dual-stack socket arrives as ::ffff:a.b.c.d.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}
