//! IP-version-neutral addresses, prefixes, endpoints and headers.
//!
//! Everything above the wire layer (demultiplexing, checksums, ISNs, the
//! sockets) names addresses through these types, so each rule is written
//! once for IPv4 and IPv6. IPv6 is behind the `proto-ipv6` feature (on by
//! default); without it the types have only their IPv4 variants. Each type
//! converts to and from its `core::net` counterpart.

use core::fmt;

use super::ipv4::{AddressParseError, Ipv4Address, Ipv4Cidr};
#[cfg(feature = "proto-ipv6")]
use super::ipv6::{Ipv6Address, Ipv6Cidr};

/// An IP version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum IpVersion {
    /// IPv4.
    Ipv4,
    /// IPv6.
    #[cfg(feature = "proto-ipv6")]
    Ipv6,
}

/// An IP protocol number (the IPv4 "protocol" / IPv6 "next header" field,
/// IANA's assigned internet protocol numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum IpProtocol {
    /// IPv6 hop-by-hop options (0, RFC 8200 section 4.3).
    HopByHop,
    /// ICMP for IPv4 (1).
    Icmp,
    /// TCP (6).
    Tcp,
    /// UDP (17).
    Udp,
    /// IPv6 routing header (43, RFC 8200 section 4.4).
    Ipv6Route,
    /// IPv6 fragment header (44, RFC 8200 section 4.5).
    Ipv6Frag,
    /// ICMPv6 (58, RFC 4443).
    Icmpv6,
    /// IPv6 "no next header" (59, RFC 8200 section 4.7).
    Ipv6NoNxt,
    /// IPv6 destination options (60, RFC 8200 section 4.6).
    Ipv6Opts,
    /// Any other protocol number.
    Unknown(u8),
}

impl From<u8> for IpProtocol {
    fn from(value: u8) -> Self {
        match value {
            0 => IpProtocol::HopByHop,
            1 => IpProtocol::Icmp,
            6 => IpProtocol::Tcp,
            17 => IpProtocol::Udp,
            43 => IpProtocol::Ipv6Route,
            44 => IpProtocol::Ipv6Frag,
            58 => IpProtocol::Icmpv6,
            59 => IpProtocol::Ipv6NoNxt,
            60 => IpProtocol::Ipv6Opts,
            other => IpProtocol::Unknown(other),
        }
    }
}

impl From<IpProtocol> for u8 {
    fn from(value: IpProtocol) -> u8 {
        match value {
            IpProtocol::HopByHop => 0,
            IpProtocol::Icmp => 1,
            IpProtocol::Tcp => 6,
            IpProtocol::Udp => 17,
            IpProtocol::Ipv6Route => 43,
            IpProtocol::Ipv6Frag => 44,
            IpProtocol::Icmpv6 => 58,
            IpProtocol::Ipv6NoNxt => 59,
            IpProtocol::Ipv6Opts => 60,
            IpProtocol::Unknown(other) => other,
        }
    }
}

impl fmt::Display for IpProtocol {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            IpProtocol::HopByHop => f.write_str("IPv6 hop-by-hop"),
            IpProtocol::Icmp => f.write_str("ICMP"),
            IpProtocol::Tcp => f.write_str("TCP"),
            IpProtocol::Udp => f.write_str("UDP"),
            IpProtocol::Ipv6Route => f.write_str("IPv6 routing"),
            IpProtocol::Ipv6Frag => f.write_str("IPv6 fragment"),
            IpProtocol::Icmpv6 => f.write_str("ICMPv6"),
            IpProtocol::Ipv6NoNxt => f.write_str("IPv6 no next header"),
            IpProtocol::Ipv6Opts => f.write_str("IPv6 destination options"),
            IpProtocol::Unknown(n) => write!(f, "proto {n}"),
        }
    }
}

/// An IP address of any supported version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum IpAddress {
    /// An IPv4 address.
    Ipv4(Ipv4Address),
    /// An IPv6 address.
    #[cfg(feature = "proto-ipv6")]
    Ipv6(Ipv6Address),
}

impl IpAddress {
    /// An IPv4 address from its four octets.
    pub const fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddress {
        IpAddress::Ipv4(Ipv4Address::new(a, b, c, d))
    }

    /// An IPv6 address from its eight 16-bit groups.
    #[cfg(feature = "proto-ipv6")]
    #[allow(clippy::too_many_arguments)]
    pub const fn v6(a: u16, b: u16, c: u16, d: u16, e: u16, f: u16, g: u16, h: u16) -> Self {
        IpAddress::Ipv6(Ipv6Address::new(a, b, c, d, e, f, g, h))
    }

    /// The unspecified address of `version` (0.0.0.0 or `::`).
    pub const fn unspecified(version: IpVersion) -> IpAddress {
        match version {
            IpVersion::Ipv4 => IpAddress::Ipv4(Ipv4Address::UNSPECIFIED),
            #[cfg(feature = "proto-ipv6")]
            IpVersion::Ipv6 => IpAddress::Ipv6(Ipv6Address::UNSPECIFIED),
        }
    }

    /// The address's version.
    pub const fn version(&self) -> IpVersion {
        match self {
            IpAddress::Ipv4(_) => IpVersion::Ipv4,
            #[cfg(feature = "proto-ipv6")]
            IpAddress::Ipv6(_) => IpVersion::Ipv6,
        }
    }

    /// The address as bytes in network order (4 or 16 of them).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            IpAddress::Ipv4(a) => a.as_bytes(),
            #[cfg(feature = "proto-ipv6")]
            IpAddress::Ipv6(a) => a.as_bytes(),
        }
    }

    /// Whether this is the unspecified address (0.0.0.0 or `::`).
    pub fn is_unspecified(&self) -> bool {
        match self {
            IpAddress::Ipv4(a) => a.is_unspecified(),
            #[cfg(feature = "proto-ipv6")]
            IpAddress::Ipv6(a) => a.is_unspecified(),
        }
    }

    /// Whether this is a multicast address (224.0.0.0/4 or `ff00::/8`).
    pub fn is_multicast(&self) -> bool {
        match self {
            IpAddress::Ipv4(a) => a.is_multicast(),
            #[cfg(feature = "proto-ipv6")]
            IpAddress::Ipv6(a) => a.is_multicast(),
        }
    }

    /// Whether this address may be the source or destination of a unicast
    /// connection (not broadcast, multicast or unspecified).
    pub fn is_unicast(&self) -> bool {
        match self {
            IpAddress::Ipv4(a) => a.is_unicast(),
            #[cfg(feature = "proto-ipv6")]
            IpAddress::Ipv6(a) => a.is_unicast(),
        }
    }

    /// The IPv4 address, if this is one.
    pub const fn as_ipv4(&self) -> Option<Ipv4Address> {
        match self {
            IpAddress::Ipv4(a) => Some(*a),
            #[cfg(feature = "proto-ipv6")]
            IpAddress::Ipv6(_) => None,
        }
    }

    /// The IPv6 address, if this is one.
    #[cfg(feature = "proto-ipv6")]
    pub const fn as_ipv6(&self) -> Option<Ipv6Address> {
        match self {
            IpAddress::Ipv4(_) => None,
            IpAddress::Ipv6(a) => Some(*a),
        }
    }
}

impl Default for IpAddress {
    /// 0.0.0.0.
    fn default() -> Self {
        IpAddress::Ipv4(Ipv4Address::UNSPECIFIED)
    }
}

impl From<Ipv4Address> for IpAddress {
    fn from(a: Ipv4Address) -> Self {
        IpAddress::Ipv4(a)
    }
}

#[cfg(feature = "proto-ipv6")]
impl From<Ipv6Address> for IpAddress {
    fn from(a: Ipv6Address) -> Self {
        IpAddress::Ipv6(a)
    }
}

impl From<core::net::Ipv4Addr> for Ipv4Address {
    fn from(a: core::net::Ipv4Addr) -> Self {
        Ipv4Address(a.octets())
    }
}

impl From<Ipv4Address> for core::net::Ipv4Addr {
    fn from(a: Ipv4Address) -> Self {
        core::net::Ipv4Addr::from(a.0)
    }
}

impl From<core::net::Ipv4Addr> for IpAddress {
    fn from(a: core::net::Ipv4Addr) -> Self {
        IpAddress::Ipv4(a.into())
    }
}

#[cfg(feature = "proto-ipv6")]
impl From<core::net::Ipv6Addr> for IpAddress {
    fn from(a: core::net::Ipv6Addr) -> Self {
        IpAddress::Ipv6(a.into())
    }
}

/// An address `core::net` has but this build cannot carry (an IPv6 address
/// without the `proto-ipv6` feature).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct UnsupportedVersion;

impl fmt::Display for UnsupportedVersion {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("IP version not supported by this build")
    }
}

impl core::error::Error for UnsupportedVersion {}

impl TryFrom<core::net::IpAddr> for IpAddress {
    type Error = UnsupportedVersion;

    fn try_from(a: core::net::IpAddr) -> Result<Self, UnsupportedVersion> {
        match a {
            core::net::IpAddr::V4(a) => Ok(a.into()),
            #[cfg(feature = "proto-ipv6")]
            core::net::IpAddr::V6(a) => Ok(a.into()),
            #[cfg(not(feature = "proto-ipv6"))]
            core::net::IpAddr::V6(_) => Err(UnsupportedVersion),
        }
    }
}

impl From<IpAddress> for core::net::IpAddr {
    fn from(a: IpAddress) -> Self {
        match a {
            IpAddress::Ipv4(a) => core::net::IpAddr::V4(a.into()),
            #[cfg(feature = "proto-ipv6")]
            IpAddress::Ipv6(a) => core::net::IpAddr::V6(a.into()),
        }
    }
}

impl fmt::Display for IpAddress {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            IpAddress::Ipv4(a) => a.fmt(f),
            #[cfg(feature = "proto-ipv6")]
            IpAddress::Ipv6(a) => a.fmt(f),
        }
    }
}

impl core::str::FromStr for IpAddress {
    type Err = AddressParseError;

    /// A dotted IPv4 address or (with `proto-ipv6`) an IPv6 address.
    fn from_str(text: &str) -> Result<Self, AddressParseError> {
        #[cfg(feature = "proto-ipv6")]
        if text.contains(':') {
            return text.parse::<Ipv6Address>().map(IpAddress::Ipv6);
        }
        text.parse::<Ipv4Address>().map(IpAddress::Ipv4)
    }
}

/// An address with a prefix length, of either version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum IpCidr {
    /// An IPv4 prefix.
    Ipv4(Ipv4Cidr),
    /// An IPv6 prefix.
    #[cfg(feature = "proto-ipv6")]
    Ipv6(Ipv6Cidr),
}

impl IpCidr {
    /// The address with a prefix; `None` if the prefix is too long for the
    /// address's version.
    pub fn new(address: IpAddress, prefix_len: u8) -> Option<IpCidr> {
        match address {
            IpAddress::Ipv4(a) => Ipv4Cidr::new(a, prefix_len).map(IpCidr::Ipv4),
            #[cfg(feature = "proto-ipv6")]
            IpAddress::Ipv6(a) => Ipv6Cidr::new(a, prefix_len).map(IpCidr::Ipv6),
        }
    }

    /// The address.
    pub const fn address(&self) -> IpAddress {
        match self {
            IpCidr::Ipv4(c) => IpAddress::Ipv4(c.address()),
            #[cfg(feature = "proto-ipv6")]
            IpCidr::Ipv6(c) => IpAddress::Ipv6(c.address()),
        }
    }

    /// The prefix length.
    pub const fn prefix_len(&self) -> u8 {
        match self {
            IpCidr::Ipv4(c) => c.prefix_len(),
            #[cfg(feature = "proto-ipv6")]
            IpCidr::Ipv6(c) => c.prefix_len(),
        }
    }

    /// Whether `addr` is in this prefix (never for the other version).
    pub fn contains(&self, addr: IpAddress) -> bool {
        match (self, addr) {
            (IpCidr::Ipv4(c), IpAddress::Ipv4(a)) => c.contains(a),
            #[cfg(feature = "proto-ipv6")]
            (IpCidr::Ipv6(c), IpAddress::Ipv6(a)) => c.contains(a),
            #[cfg(feature = "proto-ipv6")]
            _ => false,
        }
    }

    /// The prefix's version.
    pub const fn version(&self) -> IpVersion {
        self.address().version()
    }
}

impl From<Ipv4Cidr> for IpCidr {
    fn from(c: Ipv4Cidr) -> Self {
        IpCidr::Ipv4(c)
    }
}

#[cfg(feature = "proto-ipv6")]
impl From<Ipv6Cidr> for IpCidr {
    fn from(c: Ipv6Cidr) -> Self {
        IpCidr::Ipv6(c)
    }
}

impl fmt::Display for IpCidr {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            IpCidr::Ipv4(c) => c.fmt(f),
            #[cfg(feature = "proto-ipv6")]
            IpCidr::Ipv6(c) => c.fmt(f),
        }
    }
}

impl core::str::FromStr for IpCidr {
    type Err = AddressParseError;

    /// `ADDRESS/PREFIX` of either version.
    fn from_str(text: &str) -> Result<Self, AddressParseError> {
        #[cfg(feature = "proto-ipv6")]
        if text.contains(':') {
            return text.parse::<Ipv6Cidr>().map(IpCidr::Ipv6);
        }
        text.parse::<Ipv4Cidr>().map(IpCidr::Ipv4)
    }
}

/// An address and a port: one end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
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
    /// `a.b.c.d:port`, or `[v6]:port` for IPv6 (RFC 5952 section 6).
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.addr {
            IpAddress::Ipv4(a) => write!(f, "{}:{}", a, self.port),
            #[cfg(feature = "proto-ipv6")]
            IpAddress::Ipv6(a) => write!(f, "[{}]:{}", a, self.port),
        }
    }
}

impl TryFrom<core::net::SocketAddr> for IpEndpoint {
    type Error = UnsupportedVersion;

    fn try_from(addr: core::net::SocketAddr) -> Result<Self, UnsupportedVersion> {
        Ok(IpEndpoint::new(addr.ip().try_into()?, addr.port()))
    }
}

impl From<core::net::SocketAddrV4> for IpEndpoint {
    fn from(addr: core::net::SocketAddrV4) -> Self {
        IpEndpoint::new((*addr.ip()).into(), addr.port())
    }
}

#[cfg(feature = "proto-ipv6")]
impl From<core::net::SocketAddrV6> for IpEndpoint {
    fn from(addr: core::net::SocketAddrV6) -> Self {
        IpEndpoint::new((*addr.ip()).into(), addr.port())
    }
}

impl From<IpEndpoint> for core::net::SocketAddr {
    fn from(ep: IpEndpoint) -> Self {
        core::net::SocketAddr::new(ep.addr.into(), ep.port)
    }
}

/// A local endpoint to listen on: a port, and optionally one local address
/// (`None` listens on every address of the interface).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
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
            Some(addr) => IpEndpoint::new(addr, self.port).fmt(f),
            None => write!(f, "*:{}", self.port),
        }
    }
}

/// The ECN field of an IP header (RFC 3168 section 5): the two low bits of
/// the IPv4 TOS byte or the IPv6 traffic class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum IpEcn {
    /// `00`: the transport does not use ECN.
    #[default]
    NotEct,
    /// `01`: ECN-capable transport, ECT(1).
    Ect1,
    /// `10`: ECN-capable transport, ECT(0), the codepoint TCP sends
    /// (RFC 3168 section 6.1.1).
    Ect0,
    /// `11`: congestion experienced, set by a router instead of dropping.
    Ce,
}

impl IpEcn {
    /// The codepoint of the field's two bits (higher bits ignored).
    pub const fn from_bits(bits: u8) -> IpEcn {
        match bits & 0b11 {
            0b00 => IpEcn::NotEct,
            0b01 => IpEcn::Ect1,
            0b10 => IpEcn::Ect0,
            _ => IpEcn::Ce,
        }
    }

    /// The field's two bits.
    pub const fn bits(self) -> u8 {
        match self {
            IpEcn::NotEct => 0b00,
            IpEcn::Ect1 => 0b01,
            IpEcn::Ect0 => 0b10,
            IpEcn::Ce => 0b11,
        }
    }
}

/// The version-neutral part of an IP header that upper layers care about:
/// who sent it, to whom, which protocol, how long the payload is, the hop
/// limit (TTL) and the ECN field. The interface turns it into a
/// version-specific header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
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
    /// The ECN field (RFC 3168 section 5).
    pub ecn: IpEcn,
}

impl IpRepr {
    /// The same header with source and destination swapped, as for a reply
    /// (not ECN-capable).
    pub fn reply(&self, next_header: IpProtocol, payload_len: usize, hop_limit: u8) -> IpRepr {
        IpRepr {
            src_addr: self.dst_addr,
            dst_addr: self.src_addr,
            next_header,
            payload_len,
            hop_limit,
            ecn: IpEcn::NotEct,
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    #[test]
    fn protocol_numbers_round_trip() {
        for n in 0..=255u8 {
            assert_eq!(u8::from(IpProtocol::from(n)), n);
        }
        assert_eq!(IpProtocol::from(58), IpProtocol::Icmpv6);
        assert_eq!(IpProtocol::from(44), IpProtocol::Ipv6Frag);
    }

    #[test]
    fn ipv4_addresses_and_prefixes() {
        let a: IpAddress = "192.0.2.7".parse().unwrap();
        assert_eq!(a, IpAddress::v4(192, 0, 2, 7));
        assert_eq!(a.version(), IpVersion::Ipv4);
        assert_eq!(a.as_ipv4(), Some(Ipv4Address::new(192, 0, 2, 7)));
        let cidr: IpCidr = "192.0.2.1/24".parse().unwrap();
        assert!(cidr.contains(a));
        assert!(!cidr.contains(IpAddress::v4(198, 51, 100, 1)));
        assert_eq!(cidr.to_string(), "192.0.2.1/24");
        assert_eq!(IpCidr::new(a, 33), None);
        let core: core::net::IpAddr = a.into();
        assert_eq!(IpAddress::try_from(core), Ok(a));
        let ep = IpEndpoint::new(a, 80);
        assert_eq!(ep.to_string(), "192.0.2.7:80");
        let sa: core::net::SocketAddr = ep.into();
        assert_eq!(IpEndpoint::try_from(sa), Ok(ep));
        assert_eq!(
            IpAddress::default(),
            IpAddress::unspecified(IpVersion::Ipv4)
        );
    }

    #[cfg(feature = "proto-ipv6")]
    #[test]
    fn ipv6_addresses_and_prefixes() {
        let a: IpAddress = "2001:db8::7".parse().unwrap();
        assert_eq!(a, IpAddress::v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 7));
        assert_eq!(a.version(), IpVersion::Ipv6);
        assert!(a.is_unicast() && !a.is_multicast() && a.as_ipv4().is_none());
        let cidr: IpCidr = "2001:db8::/32".parse().unwrap();
        assert!(cidr.contains(a));
        // A prefix never contains an address of the other version.
        assert!(!cidr.contains(IpAddress::v4(32, 1, 13, 184)));
        assert!(
            !IpCidr::new(IpAddress::v4(0, 0, 0, 0), 0)
                .unwrap()
                .contains(a)
        );
        let ep = IpEndpoint::new(a, 443);
        assert_eq!(ep.to_string(), "[2001:db8::7]:443");
        let sa: core::net::SocketAddr = ep.into();
        assert_eq!(sa.to_string(), "[2001:db8::7]:443");
        assert_eq!(IpEndpoint::try_from(sa), Ok(ep));
        assert_eq!(
            IpListenEndpoint::from(IpEndpoint::new(IpAddress::unspecified(IpVersion::Ipv6), 80)),
            IpListenEndpoint::from(80)
        );
        let checksum_bytes = a.as_bytes();
        assert_eq!(checksum_bytes.len(), 16);
    }
}
