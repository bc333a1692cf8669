//! IP-version-neutral addresses, endpoints and headers (DESIGN.md rule 8).
//!
//! Only IPv4 exists today; every user of addresses goes through these types so
//! IPv6 can be added as a new variant without re-plumbing demux, checksums or
//! ISNs.

use core::fmt;

use super::ipv4::Ipv4Address;

/// An IP version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpVersion {
    /// IPv4.
    Ipv4,
}

/// An IP protocol number (the IPv4 "protocol" / IPv6 "next header" field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IpProtocol {
    /// ICMP for IPv4 (1).
    Icmp,
    /// TCP (6).
    Tcp,
    /// UDP (17).
    Udp,
    /// Any other protocol number.
    Unknown(u8),
}

impl From<u8> for IpProtocol {
    fn from(value: u8) -> Self {
        match value {
            1 => IpProtocol::Icmp,
            6 => IpProtocol::Tcp,
            17 => IpProtocol::Udp,
            other => IpProtocol::Unknown(other),
        }
    }
}

impl From<IpProtocol> for u8 {
    fn from(value: IpProtocol) -> u8 {
        match value {
            IpProtocol::Icmp => 1,
            IpProtocol::Tcp => 6,
            IpProtocol::Udp => 17,
            IpProtocol::Unknown(other) => other,
        }
    }
}

impl fmt::Display for IpProtocol {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            IpProtocol::Icmp => f.write_str("ICMP"),
            IpProtocol::Tcp => f.write_str("TCP"),
            IpProtocol::Udp => f.write_str("UDP"),
            IpProtocol::Unknown(n) => write!(f, "proto {n}"),
        }
    }
}

/// An IP address of any supported version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IpAddress {
    /// An IPv4 address.
    Ipv4(Ipv4Address),
}

impl IpAddress {
    /// An IPv4 address from its four octets.
    pub const fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddress {
        IpAddress::Ipv4(Ipv4Address::new(a, b, c, d))
    }

    /// The address's version.
    pub const fn version(&self) -> IpVersion {
        match self {
            IpAddress::Ipv4(_) => IpVersion::Ipv4,
        }
    }

    /// The address as bytes in network order.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            IpAddress::Ipv4(a) => a.as_bytes(),
        }
    }

    /// Whether this is the unspecified address (0.0.0.0).
    pub fn is_unspecified(&self) -> bool {
        match self {
            IpAddress::Ipv4(a) => a.is_unspecified(),
        }
    }

    /// Whether this address may be the source or destination of a unicast
    /// connection (not broadcast, multicast or unspecified).
    pub fn is_unicast(&self) -> bool {
        match self {
            IpAddress::Ipv4(a) => a.is_unicast(),
        }
    }
}

impl From<Ipv4Address> for IpAddress {
    fn from(a: Ipv4Address) -> Self {
        IpAddress::Ipv4(a)
    }
}

impl fmt::Display for IpAddress {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            IpAddress::Ipv4(a) => a.fmt(f),
        }
    }
}

/// An address and a port: one end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpEndpoint {
    /// The IP address.
    pub addr: IpAddress,
    /// The port.
    pub port: u16,
}

impl IpEndpoint {
    /// An endpoint from an address and a port.
    pub const fn new(addr: IpAddress, port: u16) -> IpEndpoint {
        IpEndpoint { addr, port }
    }
}

impl<A: Into<IpAddress>> From<(A, u16)> for IpEndpoint {
    fn from((addr, port): (A, u16)) -> Self {
        IpEndpoint {
            addr: addr.into(),
            port,
        }
    }
}

impl fmt::Display for IpEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}:{}", self.addr, self.port)
    }
}

/// A local endpoint to listen on: a port, and optionally one local address
/// (`None` listens on every address of the interface).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct IpListenEndpoint {
    /// The local address, or `None` for any.
    pub addr: Option<IpAddress>,
    /// The local port; 0 is not a valid listening port.
    pub port: u16,
}

impl From<u16> for IpListenEndpoint {
    fn from(port: u16) -> Self {
        IpListenEndpoint { addr: None, port }
    }
}

impl From<IpEndpoint> for IpListenEndpoint {
    fn from(ep: IpEndpoint) -> Self {
        IpListenEndpoint {
            addr: if ep.addr.is_unspecified() {
                None
            } else {
                Some(ep.addr)
            },
            port: ep.port,
        }
    }
}

impl fmt::Display for IpListenEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.addr {
            Some(addr) => write!(f, "{}:{}", addr, self.port),
            None => write!(f, "*:{}", self.port),
        }
    }
}

/// The version-neutral part of an IP header that upper layers care about:
/// who sent it, to whom, which protocol, how long the payload is, and the
/// hop limit (TTL). The interface turns it into a version-specific header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRepr {
    /// Source address.
    pub src_addr: IpAddress,
    /// Destination address.
    pub dst_addr: IpAddress,
    /// Upper-layer protocol.
    pub next_header: IpProtocol,
    /// Length of the upper-layer payload in bytes.
    pub payload_len: usize,
    /// Time to live / hop limit.
    pub hop_limit: u8,
}

impl IpRepr {
    /// The same header with source and destination swapped, as for a reply.
    pub fn reply(&self, next_header: IpProtocol, payload_len: usize, hop_limit: u8) -> IpRepr {
        IpRepr {
            src_addr: self.dst_addr,
            dst_addr: self.src_addr,
            next_header,
            payload_len,
            hop_limit,
        }
    }
}
