//! Packet views and representations.
//!
//! Each protocol has a zero-copy view `FooPacket<T: AsRef<[u8]>>` (with
//! `new_unchecked`, `new_checked`, getters, and setters when `T: AsMut<[u8]>`)
//! and a `FooRepr` with `parse`, `emit` and `buffer_len`. After `new_checked`
//! succeeds no accessor panics, and `parse` never panics on any bytes, so
//! no peer input can panic the stack. Nothing here allocates or knows about
//! layers above.

pub mod arp;
pub mod checksum;
pub mod dhcpv4;
pub mod dns;
pub mod ethernet;
pub mod icmpv4;
#[cfg(feature = "proto-ipv6")]
pub mod icmpv6;
pub mod ip;
pub mod ipv4;
#[cfg(feature = "proto-ipv6")]
pub mod ipv6;
#[cfg(feature = "proto-ipv6")]
pub mod ipv6ext;
#[cfg(feature = "proto-ipv6")]
pub mod mld;
#[cfg(feature = "proto-ipv6")]
pub mod ndp;
pub mod tcp;
#[cfg(test)]
mod testdata;
pub mod udp;

pub use self::arp::{ArpOperation, ArpPacket, ArpRepr};
pub use self::dhcpv4::{
    DhcpMessageType, DhcpOpCode, DhcpOption, DhcpOptionsIter, DhcpPacket, DhcpRepr, Ipv4AddressList,
};
pub use self::dns::{
    DnsName, DnsOpcode, DnsPacket, DnsQueryRepr, DnsQuestion, DnsRcode, DnsRecord, DnsRecordData,
    DnsRecordType, DnsRepr,
};
pub use self::ethernet::{EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr};
pub use self::icmpv4::{
    Icmpv4DstUnreachable, Icmpv4Message, Icmpv4Packet, Icmpv4Repr, Icmpv4TimeExceeded,
};
#[cfg(feature = "proto-ipv6")]
pub use self::icmpv6::{
    Icmpv6DstUnreachable, Icmpv6Message, Icmpv6Packet, Icmpv6ParamProblem, Icmpv6Repr,
    Icmpv6TimeExceeded,
};
pub use self::ip::{
    IpAddress, IpCidr, IpEcn, IpEndpoint, IpListenEndpoint, IpProtocol, IpRepr, IpVersion,
    UnsupportedVersion,
};
pub use self::ipv4::{AddressParseError, Ipv4Address, Ipv4Cidr, Ipv4Packet, Ipv4Repr};
#[cfg(feature = "proto-ipv6")]
pub use self::ipv6::{Ipv6Address, Ipv6Cidr, Ipv6Packet, Ipv6Repr};
#[cfg(feature = "proto-ipv6")]
pub use self::ipv6ext::{
    Ipv6ExtError, Ipv6ExtHeader, Ipv6FragmentHeader, Ipv6FragmentRepr, Ipv6Option,
    Ipv6OptionAction, Ipv6OptionsIter, Ipv6OptionsRepr, Ipv6RoutingRepr, Ipv6Upper,
};
#[cfg(feature = "proto-ipv6")]
pub use self::mld::{MldAddressRecord, MldRecordType, MldRecords, MldRepr, MldSources};
#[cfg(feature = "proto-ipv6")]
pub use self::ndp::{
    NdiscNeighborFlags, NdiscOption, NdiscOptions, NdiscOptionsIter, NdiscPrefixFlags,
    NdiscPrefixInfo, NdiscRdnss, NdiscRepr, NdiscRouterFlags,
};
pub use self::tcp::{
    SeqNumber, TcpFlags, TcpOption, TcpOptionIter, TcpPacket, TcpRepr, TcpSackRange, TcpTimestamp,
};
pub use self::udp::{UdpPacket, UdpRepr};

use core::fmt;

/// Why a packet could not be parsed or emitted. Each variant names one
/// specific defect so the interface can count drops by reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// The buffer is shorter than the fixed header.
    Truncated,
    /// A length field points past the end of the buffer.
    LengthPastBuffer,
    /// A length field is smaller than the header it must contain.
    LengthTooSmall,
    /// IPv4 IHL is below 5 words.
    BadIhl,
    /// The IP version field is not the expected one.
    BadVersion,
    /// TCP data offset is below 5 words.
    BadDataOffset,
    /// A TCP option's length is 0 or 1, or is wrong for its kind.
    BadOptionLength,
    /// A TCP option runs past the end of the header.
    OptionOverrun,
    /// The checksum did not verify.
    BadChecksum,
    /// A field holds a value this implementation does not handle
    /// (e.g. an ARP hardware type other than Ethernet).
    Unrecognized,
    /// The packet is an IPv4 fragment (offset non-zero or MF set); upper
    /// layers refuse fragments until reassembly exists.
    Fragmented,
    /// The buffer given to `emit` is too small for the representation.
    BufferTooSmall,
    /// A UDP datagram over IPv6 has a zero checksum, which RFC 8200
    /// section 8.1 forbids (over IPv4 zero means "no checksum").
    MissingChecksum,
    /// An option other than TCP's is malformed: a zero length where
    /// RFC 4861 section 4.6 forbids it, a length wrong for its kind, or a
    /// length running past the end of its header or options area.
    BadOption,
    /// A header chain is longer than the parser's bound (IPv6 extension
    /// headers, see `ipv6ext::MAX_EXT_HEADERS`).
    TooManyHeaders,
    /// A DNS compression pointer points forward, outside the message, or
    /// into a loop (RFC 1035 section 4.1.4 allows prior occurrences only).
    BadPointer,
    /// A DNS label is longer than 63 bytes, empty inside a name, or its
    /// length byte uses the reserved `01`/`10` prefixes (RFC 1035 sections
    /// 2.3.4 and 4.1.4, RFC 6891 section 5).
    BadLabel,
    /// A DNS name is longer than 255 bytes (RFC 1035 section 2.3.4).
    NameTooLong,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let text = match self {
            Error::Truncated => "truncated header",
            Error::LengthPastBuffer => "length field past the end of the buffer",
            Error::LengthTooSmall => "length field smaller than the header",
            Error::BadIhl => "IPv4 IHL below 5",
            Error::BadVersion => "bad IP version",
            Error::BadDataOffset => "TCP data offset below 5 or past the buffer",
            Error::BadOptionLength => "bad TCP option length",
            Error::OptionOverrun => "TCP option overruns the header",
            Error::BadChecksum => "bad checksum",
            Error::Unrecognized => "unrecognized field value",
            Error::Fragmented => "IPv4 fragment",
            Error::BufferTooSmall => "buffer too small",
            Error::MissingChecksum => "zero UDP checksum over IPv6",
            Error::BadOption => "malformed option",
            Error::TooManyHeaders => "too many extension headers",
            Error::BadPointer => "bad DNS compression pointer",
            Error::BadLabel => "bad DNS label",
            Error::NameTooLong => "DNS name longer than 255 bytes",
        };
        f.write_str(text)
    }
}

impl core::error::Error for Error {}

/// Result type of the wire layer.
pub type Result<T> = core::result::Result<T, Error>;

/// Where a checksum is computed: by software (here) or by the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Checksum {
    /// Verify on receive and compute on transmit (the device does neither).
    #[default]
    Both,
    /// Verify on receive only (the device fills it on transmit).
    Rx,
    /// Compute on transmit only (the device verified it on receive).
    Tx,
    /// Neither: the device does both.
    None,
}

impl Checksum {
    /// Whether software must verify received checksums.
    pub fn rx(&self) -> bool {
        matches!(self, Checksum::Both | Checksum::Rx)
    }

    /// Whether software must fill transmitted checksums.
    pub fn tx(&self) -> bool {
        matches!(self, Checksum::Both | Checksum::Tx)
    }
}

/// Which checksums software handles, per protocol. A device reports this
/// through its capabilities; `parse`/`emit` honour it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ChecksumCapabilities {
    /// IPv4 header checksum.
    pub ipv4: Checksum,
    /// TCP checksum (with the pseudo-header).
    pub tcp: Checksum,
    /// ICMPv4 checksum.
    pub icmpv4: Checksum,
    /// UDP checksum (with the pseudo-header, RFC 768).
    pub udp: Checksum,
    /// ICMPv6 checksum (with the IPv6 pseudo-header, RFC 4443 section 2.3).
    pub icmpv6: Checksum,
}

impl ChecksumCapabilities {
    /// Software verifies and fills nothing: for fuzzing and for devices
    /// that offload every checksum.
    pub const fn ignored() -> Self {
        ChecksumCapabilities {
            ipv4: Checksum::None,
            tcp: Checksum::None,
            icmpv4: Checksum::None,
            udp: Checksum::None,
            icmpv6: Checksum::None,
        }
    }
}
