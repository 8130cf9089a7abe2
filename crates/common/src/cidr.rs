//! CIDR blocks (`10.0.0.0/8`, `2001:db8::/32`, or a bare address) for the `bound_cidrs`
//! options of tokens, AppRole secret IDs and roles.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// One CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `addr` lies inside the block. IPv4 addresses mapped into IPv6
    /// (`::ffff:10.0.0.1`) match IPv4 blocks.
    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = match addr {
            IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map(IpAddr::V4)
                .unwrap_or(IpAddr::V6(v6)),
            v4 => v4,
        };
        match (self.network, addr) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = mask_u32(self.prefix);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = mask_u128(self.prefix);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

fn mask_u32(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

fn mask_u128(prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix))
    }
}

/// Why a CIDR did not parse; names the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CidrParseError(pub String);

impl fmt::Display for CidrParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid CIDR block {:?}", self.0)
    }
}

impl std::error::Error for CidrParseError {}

impl FromStr for Cidr {
    type Err = CidrParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || CidrParseError(s.to_string());
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let network: IpAddr = addr.parse().map_err(|_| err())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(err)?,
            None => max,
        };
        Ok(Cidr { network, prefix })
    }
}

impl Cidr {
    /// The block as Vault and OpenBao show a parsed `token_bound_cidrs` entry (Go's
    /// sockaddr): a single address (`/32`, `/128`) bare, IPv4-mapped IPv6 as IPv4, anything
    /// else as address/prefix with the address as written (host bits kept) in canonical form.
    pub fn canonical(&self) -> String {
        let (addr, max) = match self.network {
            IpAddr::V6(v6) if self.prefix == 128 => match v6.to_ipv4_mapped() {
                Some(v4) => (IpAddr::V4(v4), 128),
                None => (IpAddr::V6(v6), 128),
            },
            IpAddr::V4(v4) => (IpAddr::V4(v4), 32),
            IpAddr::V6(v6) => (IpAddr::V6(v6), 128),
        };
        if self.prefix == max {
            addr.to_string()
        } else {
            format!("{addr}/{}", self.prefix)
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// Parses every entry; the first bad one is the error.
pub fn parse_cidrs(list: &[String]) -> Result<Vec<Cidr>, CidrParseError> {
    list.iter().map(|s| s.parse()).collect()
}

/// Whether `addr` is allowed by `blocks`: an empty list allows everything; a missing
/// address (a request that did not come over the network) is allowed only by an empty list.
pub fn cidrs_allow(blocks: &[Cidr], addr: Option<IpAddr>) -> bool {
    if blocks.is_empty() {
        return true;
    }
    addr.is_some_and(|a| blocks.iter().any(|b| b.contains(a)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_contain_their_addresses_only() {
        let b: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(b.contains(ip("10.1.200.3")));
        assert!(!b.contains(ip("10.2.0.1")));
        assert!(b.contains(ip("::ffff:10.1.0.9")));
        let single: Cidr = "127.0.0.1".parse().unwrap();
        assert!(single.contains(ip("127.0.0.1")));
        assert!(!single.contains(ip("127.0.0.2")));
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:1::5")));
        assert!(!v6.contains(ip("2001:db9::1")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")));
    }

    #[test]
    fn canonical_shows_single_addresses_bare() {
        let shown = |s: &str| s.parse::<Cidr>().unwrap().canonical();
        assert_eq!(shown("127.0.0.1/32"), "127.0.0.1");
        assert_eq!(shown(" 10.0.0.1"), "10.0.0.1");
        assert_eq!(shown("10.0.0.0/8"), "10.0.0.0/8");
        assert_eq!(shown("10.1.2.3/8"), "10.1.2.3/8");
        assert_eq!(shown("0:0::1/128"), "::1");
        assert_eq!(shown("2001:DB8::/32"), "2001:db8::/32");
        assert_eq!(shown("::ffff:10.0.0.1/128"), "10.0.0.1");
    }

    #[test]
    fn bad_blocks_are_named() {
        assert_eq!(
            "10.0.0.0/33".parse::<Cidr>().unwrap_err().to_string(),
            "invalid CIDR block \"10.0.0.0/33\""
        );
        assert!("nonsense".parse::<Cidr>().is_err());
        assert!("10.0.0.0/x".parse::<Cidr>().is_err());
    }

    #[test]
    fn empty_list_allows_all_and_missing_address_is_refused() {
        assert!(cidrs_allow(&[], None));
        let blocks = parse_cidrs(&["10.0.0.0/8".into()]).unwrap();
        assert!(!cidrs_allow(&blocks, None));
        assert!(cidrs_allow(&blocks, Some(ip("10.9.9.9"))));
        assert!(!cidrs_allow(&blocks, Some(ip("11.0.0.1"))));
    }
}
