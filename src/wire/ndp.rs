//! Neighbor discovery (RFC 4861): router solicitation and advertisement,
//! neighbor solicitation and advertisement, redirect, and their options
//! (link-layer addresses, prefix information, redirected header, MTU, and
//! RDNSS from RFC 8106). The messages are ICMPv6 messages: parse and emit
//! them through [`Icmpv6Repr`](super::Icmpv6Repr), which adds the checksum.

use core::fmt;

use super::ethernet::EthernetAddress;
use super::icmpv6::{Icmpv6Message, Icmpv6Packet, field as icmp_field};
use super::ipv6::Ipv6Address;
use super::{Error, Result};

/// Byte offsets of the NDP message fields after the ICMPv6 header's first
/// four bytes (RFC 4861 section 4).
mod field {
    /// Router advertisement: current hop limit.
    pub const CUR_HOP_LIMIT: usize = 4;
    /// Router advertisement: M, O and other flags.
    pub const ROUTER_FLAGS: usize = 5;
    /// Router advertisement: router lifetime (seconds, 16 bits).
    pub const ROUTER_LIFETIME: usize = 6;
    /// Router advertisement: reachable time (milliseconds, 32 bits).
    pub const REACHABLE_TIME: usize = 8;
    /// Router advertisement: retransmission timer (milliseconds, 32 bits).
    pub const RETRANS_TIME: usize = 12;
    /// Neighbor advertisement: R, S and O flags.
    pub const NEIGHBOR_FLAGS: usize = 4;
    /// Neighbor solicitation and advertisement, redirect: target address.
    pub const TARGET_ADDR: usize = 8;
    /// Redirect: destination address.
    pub const DEST_ADDR: usize = 24;

    /// Where the options start for each message.
    pub const RS_OPTIONS: usize = 8;
    pub const RA_OPTIONS: usize = 16;
    pub const NS_OPTIONS: usize = 24;
    pub const NA_OPTIONS: usize = 24;
    pub const REDIRECT_OPTIONS: usize = 40;
}

bitflags::bitflags! {
    /// The flags of a router advertisement (RFC 4861 section 4.2; RFC 6275
    /// for H, RFC 4191 for the preference bits, kept as received).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct NdiscRouterFlags: u8 {
        /// Managed address configuration: addresses are available by DHCPv6.
        const MANAGED = 0x80;
        /// Other configuration: other information is available by DHCPv6.
        const OTHER = 0x40;
        /// Home agent (RFC 6275).
        const HOME_AGENT = 0x20;
        // The rest (default router preference, proxy, reserved) is kept.
        const _ = !0;
    }
}

bitflags::bitflags! {
    /// The flags of a neighbor advertisement (RFC 4861 section 4.4).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct NdiscNeighborFlags: u8 {
        /// The sender is a router.
        const ROUTER = 0x80;
        /// The advertisement answers a solicitation.
        const SOLICITED = 0x40;
        /// The advertisement overrides a cached link-layer address.
        const OVERRIDE = 0x20;
        const _ = !0;
    }
}

bitflags::bitflags! {
    /// The flags of a prefix information option (RFC 4861 section 4.6.2).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct NdiscPrefixFlags: u8 {
        /// On-link: the prefix can be used for on-link determination.
        const ON_LINK = 0x80;
        /// Autonomous: the prefix can be used for SLAAC (RFC 4862).
        const ADDRCONF = 0x40;
        const _ = !0;
    }
}

impl<T: AsRef<[u8]>> Icmpv6Packet<T> {
    /// A router advertisement's current hop limit (0: unspecified).
    pub fn current_hop_limit(&self) -> u8 {
        self.bytes_at::<1>(field::CUR_HOP_LIMIT)[0]
    }

    /// A router advertisement's flags.
    pub fn router_flags(&self) -> NdiscRouterFlags {
        NdiscRouterFlags::from_bits_retain(self.bytes_at::<1>(field::ROUTER_FLAGS)[0])
    }

    /// A router advertisement's router lifetime in seconds (0: not a
    /// default router).
    pub fn router_lifetime(&self) -> u16 {
        self.u16_at(field::ROUTER_LIFETIME)
    }

    /// A router advertisement's reachable time in milliseconds (0:
    /// unspecified).
    pub fn reachable_time(&self) -> u32 {
        self.u32_at(field::REACHABLE_TIME)
    }

    /// A router advertisement's retransmission timer in milliseconds (0:
    /// unspecified).
    pub fn retrans_time(&self) -> u32 {
        self.u32_at(field::RETRANS_TIME)
    }

    /// A neighbor advertisement's flags.
    pub fn neighbor_flags(&self) -> NdiscNeighborFlags {
        NdiscNeighborFlags::from_bits_retain(self.bytes_at::<1>(field::NEIGHBOR_FLAGS)[0])
    }

    /// The target address of a neighbor solicitation, neighbor
    /// advertisement or redirect.
    pub fn target_addr(&self) -> Ipv6Address {
        self.addr_at(field::TARGET_ADDR)
    }

    /// The destination address of a redirect.
    pub fn dest_addr(&self) -> Ipv6Address {
        self.addr_at(field::DEST_ADDR)
    }

    /// The options of an NDP message (by its type; empty for other types
    /// or a message too short to have any).
    pub fn ndisc_options(&self) -> &[u8] {
        match ndisc_options_offset(self.msg_type()) {
            Some(at) => self.tail(at),
            None => &[],
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv6Packet<T> {
    /// Sets a router advertisement's current hop limit.
    pub fn set_current_hop_limit(&mut self, value: u8) {
        self.buffer.as_mut()[field::CUR_HOP_LIMIT] = value;
    }

    /// Sets a router advertisement's flags.
    pub fn set_router_flags(&mut self, flags: NdiscRouterFlags) {
        self.buffer.as_mut()[field::ROUTER_FLAGS] = flags.bits();
    }

    /// Sets a router advertisement's router lifetime (seconds).
    pub fn set_router_lifetime(&mut self, value: u16) {
        self.set_u16_at(field::ROUTER_LIFETIME, value);
    }

    /// Sets a router advertisement's reachable time (milliseconds).
    pub fn set_reachable_time(&mut self, value: u32) {
        self.set_u32_at(field::REACHABLE_TIME, value);
    }

    /// Sets a router advertisement's retransmission timer (milliseconds).
    pub fn set_retrans_time(&mut self, value: u32) {
        self.set_u32_at(field::RETRANS_TIME, value);
    }

    /// Sets a neighbor advertisement's flags and zeroes the reserved bytes.
    pub fn set_neighbor_flags(&mut self, flags: NdiscNeighborFlags) {
        self.set_u32_at(field::NEIGHBOR_FLAGS, u32::from(flags.bits()) << 24);
    }

    /// Sets the target address.
    pub fn set_target_addr(&mut self, addr: Ipv6Address) {
        self.set_addr_at(field::TARGET_ADDR, &addr);
    }

    /// Sets a redirect's destination address.
    pub fn set_dest_addr(&mut self, addr: Ipv6Address) {
        self.set_addr_at(field::DEST_ADDR, &addr);
    }
}

fn ndisc_options_offset(msg_type: Icmpv6Message) -> Option<usize> {
    match msg_type {
        Icmpv6Message::RouterSolicit => Some(field::RS_OPTIONS),
        Icmpv6Message::RouterAdvert => Some(field::RA_OPTIONS),
        Icmpv6Message::NeighborSolicit => Some(field::NS_OPTIONS),
        Icmpv6Message::NeighborAdvert => Some(field::NA_OPTIONS),
        Icmpv6Message::Redirect => Some(field::REDIRECT_OPTIONS),
        _ => None,
    }
}

/// NDP option types (RFC 4861 section 4.6, RFC 8106 section 5.1).
mod option_type {
    pub const SOURCE_LLADDR: u8 = 1;
    pub const TARGET_LLADDR: u8 = 2;
    pub const PREFIX_INFO: u8 = 3;
    pub const REDIRECTED_HEADER: u8 = 4;
    pub const MTU: u8 = 5;
    pub const RDNSS: u8 = 25;
}

/// A prefix information option (RFC 4861 section 4.6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NdiscPrefixInfo {
    /// The number of leading bits of `prefix` that are valid (0..=128 on
    /// the wire; larger values are kept as received for the caller to
    /// refuse).
    pub prefix_len: u8,
    /// The L and A flags.
    pub flags: NdiscPrefixFlags,
    /// Valid lifetime in seconds (`0xffffffff`: infinite).
    pub valid_lifetime: u32,
    /// Preferred lifetime in seconds (`0xffffffff`: infinite).
    pub preferred_lifetime: u32,
    /// The prefix.
    pub prefix: Ipv6Address,
}

/// A recursive DNS server option (RFC 8106 section 5.1): a lifetime and one
/// or more server addresses, kept as the raw 16-byte entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NdiscRdnss<'a> {
    /// How long the servers may be used, in seconds (`0xffffffff`:
    /// infinite; 0: stop using them).
    pub lifetime: u32,
    addresses: &'a [u8],
}

impl<'a> NdiscRdnss<'a> {
    /// An RDNSS option from its lifetime and the servers' addresses as
    /// consecutive 16-byte entries; `BadOption` unless there is at least
    /// one and the length is a multiple of 16.
    pub fn new(lifetime: u32, addresses: &'a [u8]) -> Result<NdiscRdnss<'a>> {
        if addresses.is_empty() || addresses.len() % 16 != 0 || addresses.len() > 127 * 16 {
            return Err(Error::BadOption);
        }
        Ok(NdiscRdnss {
            lifetime,
            addresses,
        })
    }

    /// The number of server addresses.
    pub fn len(&self) -> usize {
        self.addresses.len() / 16
    }

    /// Whether there are none (never, for a parsed option).
    pub fn is_empty(&self) -> bool {
        self.addresses.is_empty()
    }

    /// The server addresses.
    pub fn addresses(&self) -> impl Iterator<Item = Ipv6Address> + 'a {
        self.addresses.chunks_exact(16).map(|chunk| {
            let mut bytes = [0u8; 16];
            bytes.copy_from_slice(chunk);
            Ipv6Address(bytes)
        })
    }
}

/// One NDP option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NdiscOption<'a> {
    /// Source link-layer address (type 1), Ethernet's six bytes (length 1).
    SourceLinkLayerAddr(EthernetAddress),
    /// Target link-layer address (type 2), Ethernet's six bytes (length 1).
    TargetLinkLayerAddr(EthernetAddress),
    /// Prefix information (type 3, length 4).
    PrefixInformation(NdiscPrefixInfo),
    /// Redirected header (type 4): the bytes after its six reserved ones,
    /// the start of the redirected packet (zero-padded to 8 octets).
    RedirectedHeader(&'a [u8]),
    /// MTU (type 5, length 1).
    Mtu(u32),
    /// Recursive DNS servers (type 25, RFC 8106; length 3, 5, 7, ...).
    Rdnss(NdiscRdnss<'a>),
    /// Any other option, or a known type whose length does not fit it (a
    /// link-layer address of another length than Ethernet's, say): RFC 4861
    /// section 4.6 says to skip such options, and only a zero length makes
    /// the whole message invalid.
    Unknown {
        /// The option type.
        kind: u8,
        /// The bytes after the type and length.
        data: &'a [u8],
    },
}

impl<'a> NdiscOption<'a> {
    /// Parses one option from `kind` and the bytes after its type and
    /// length (`len * 8 - 2` of them).
    fn from_parts(kind: u8, data: &'a [u8]) -> NdiscOption<'a> {
        let unknown = NdiscOption::Unknown { kind, data };
        let u32_at =
            |at: usize| u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
        let mac = || {
            let mut bytes = [0u8; 6];
            bytes.copy_from_slice(&data[..6]);
            EthernetAddress(bytes)
        };
        match (kind, data.len()) {
            (option_type::SOURCE_LLADDR, 6) => NdiscOption::SourceLinkLayerAddr(mac()),
            (option_type::TARGET_LLADDR, 6) => NdiscOption::TargetLinkLayerAddr(mac()),
            (option_type::PREFIX_INFO, 30) => {
                let mut prefix = [0u8; 16];
                prefix.copy_from_slice(&data[14..30]);
                NdiscOption::PrefixInformation(NdiscPrefixInfo {
                    prefix_len: data[0],
                    flags: NdiscPrefixFlags::from_bits_retain(data[1]),
                    valid_lifetime: u32_at(2),
                    preferred_lifetime: u32_at(6),
                    prefix: Ipv6Address(prefix),
                })
            }
            (option_type::REDIRECTED_HEADER, len) if len >= 6 => {
                NdiscOption::RedirectedHeader(&data[6..])
            }
            (option_type::MTU, 6) => NdiscOption::Mtu(u32_at(2)),
            (option_type::RDNSS, len) if len >= 38 && (len - 6) % 16 == 0 => {
                NdiscOption::Rdnss(NdiscRdnss {
                    lifetime: u32_at(2),
                    addresses: &data[6..],
                })
            }
            _ => unknown,
        }
    }

    /// The option type.
    pub fn kind(&self) -> u8 {
        match self {
            NdiscOption::SourceLinkLayerAddr(_) => option_type::SOURCE_LLADDR,
            NdiscOption::TargetLinkLayerAddr(_) => option_type::TARGET_LLADDR,
            NdiscOption::PrefixInformation(_) => option_type::PREFIX_INFO,
            NdiscOption::RedirectedHeader(_) => option_type::REDIRECTED_HEADER,
            NdiscOption::Mtu(_) => option_type::MTU,
            NdiscOption::Rdnss(_) => option_type::RDNSS,
            NdiscOption::Unknown { kind, .. } => *kind,
        }
    }

    /// The bytes [`emit`](Self::emit) writes: a multiple of 8.
    pub fn buffer_len(&self) -> usize {
        match self {
            NdiscOption::SourceLinkLayerAddr(_) | NdiscOption::TargetLinkLayerAddr(_) => 8,
            NdiscOption::PrefixInformation(_) => 32,
            NdiscOption::RedirectedHeader(data) => (8 + data.len()).div_ceil(8) * 8,
            NdiscOption::Mtu(_) => 8,
            NdiscOption::Rdnss(rdnss) => 8 + rdnss.addresses.len(),
            NdiscOption::Unknown { data, .. } => (2 + data.len()).div_ceil(8) * 8,
        }
    }

    /// Writes the option to the front of `out`, zero-padded to a multiple
    /// of 8 bytes: `BufferTooSmall` if `out` is shorter than
    /// [`buffer_len`](Self::buffer_len), `BadOption` if the option is longer
    /// than a length byte can say (2040 bytes).
    pub fn emit(&self, out: &mut [u8]) -> Result<()> {
        let len = self.buffer_len();
        if len > 255 * 8 {
            return Err(Error::BadOption);
        }
        let out = out.get_mut(..len).ok_or(Error::BufferTooSmall)?;
        out.fill(0);
        out[0] = self.kind();
        out[1] = (len / 8) as u8;
        match self {
            NdiscOption::SourceLinkLayerAddr(addr) | NdiscOption::TargetLinkLayerAddr(addr) => {
                out[2..8].copy_from_slice(addr.as_bytes());
            }
            NdiscOption::PrefixInformation(info) => {
                out[2] = info.prefix_len;
                out[3] = info.flags.bits();
                out[4..8].copy_from_slice(&info.valid_lifetime.to_be_bytes());
                out[8..12].copy_from_slice(&info.preferred_lifetime.to_be_bytes());
                out[16..32].copy_from_slice(&info.prefix.0);
            }
            NdiscOption::RedirectedHeader(data) => out[8..8 + data.len()].copy_from_slice(data),
            NdiscOption::Mtu(mtu) => out[4..8].copy_from_slice(&mtu.to_be_bytes()),
            NdiscOption::Rdnss(rdnss) => {
                out[4..8].copy_from_slice(&rdnss.lifetime.to_be_bytes());
                out[8..].copy_from_slice(rdnss.addresses);
            }
            NdiscOption::Unknown { data, .. } => out[2..2 + data.len()].copy_from_slice(data),
        }
        Ok(())
    }
}

/// An iterator over raw NDP options, yielding each option or one error
/// (then nothing): `BadOption` for a zero length (RFC 4861 section 4.6) or
/// an option running past the end.
#[derive(Debug, Clone)]
pub struct NdiscOptionsIter<'a> {
    data: &'a [u8],
}

impl<'a> NdiscOptionsIter<'a> {
    /// The options in `data`.
    pub fn new(data: &'a [u8]) -> NdiscOptionsIter<'a> {
        NdiscOptionsIter { data }
    }
}

impl<'a> Iterator for NdiscOptionsIter<'a> {
    type Item = Result<NdiscOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let (&kind, rest) = self.data.split_first()?;
        let len = rest.first().map_or(0, |&units| usize::from(units) * 8);
        if len == 0 || len > self.data.len() {
            self.data = &[];
            return Some(Err(Error::BadOption));
        }
        let (option, rest) = self.data.split_at(len);
        self.data = rest;
        Some(Ok(NdiscOption::from_parts(kind, &option[2..])))
    }
}

/// The options of an NDP message: raw bytes whose every option parses
/// (checked when made), with accessors for the options pollnet uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NdiscOptions<'a> {
    bytes: &'a [u8],
}

impl<'a> NdiscOptions<'a> {
    /// No options.
    pub const EMPTY: NdiscOptions<'static> = NdiscOptions { bytes: &[] };

    /// The options in `bytes`, which must all parse (see
    /// [`NdiscOptionsIter`] for the errors).
    pub fn new_checked(bytes: &'a [u8]) -> Result<NdiscOptions<'a>> {
        if let Some(err) = NdiscOptionsIter::new(bytes).find_map(|item| item.err()) {
            return Err(err);
        }
        Ok(NdiscOptions { bytes })
    }

    /// Writes `options` one after another into `buf` and returns them as
    /// options borrowing `buf` (`BufferTooSmall` if they do not fit, and the
    /// errors of [`NdiscOption::emit`]).
    pub fn emit_from(options: &[NdiscOption], buf: &'a mut [u8]) -> Result<NdiscOptions<'a>> {
        let mut len = 0;
        for option in options {
            let out = buf.get_mut(len..).ok_or(Error::BufferTooSmall)?;
            option.emit(out)?;
            len += option.buffer_len();
        }
        let buf: &'a [u8] = buf;
        NdiscOptions::new_checked(&buf[..len])
    }

    /// The raw option bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The options in order.
    pub fn iter(&self) -> impl Iterator<Item = NdiscOption<'a>> + 'a {
        // Every option parsed when these were made.
        NdiscOptionsIter::new(self.bytes).map_while(|item| item.ok())
    }

    /// The first source link-layer address option.
    pub fn source_lladdr(&self) -> Option<EthernetAddress> {
        self.iter().find_map(|option| match option {
            NdiscOption::SourceLinkLayerAddr(addr) => Some(addr),
            _ => None,
        })
    }

    /// The first target link-layer address option.
    pub fn target_lladdr(&self) -> Option<EthernetAddress> {
        self.iter().find_map(|option| match option {
            NdiscOption::TargetLinkLayerAddr(addr) => Some(addr),
            _ => None,
        })
    }

    /// The first MTU option.
    pub fn mtu(&self) -> Option<u32> {
        self.iter().find_map(|option| match option {
            NdiscOption::Mtu(mtu) => Some(mtu),
            _ => None,
        })
    }

    /// Every prefix information option.
    pub fn prefixes(&self) -> impl Iterator<Item = NdiscPrefixInfo> + 'a {
        self.iter().filter_map(|option| match option {
            NdiscOption::PrefixInformation(info) => Some(info),
            _ => None,
        })
    }

    /// Every RDNSS option.
    pub fn rdnss(&self) -> impl Iterator<Item = NdiscRdnss<'a>> + 'a {
        self.iter().filter_map(|option| match option {
            NdiscOption::Rdnss(rdnss) => Some(rdnss),
            _ => None,
        })
    }

    /// The first redirected header option's bytes.
    pub fn redirected_header(&self) -> Option<&'a [u8]> {
        self.iter().find_map(|option| match option {
            NdiscOption::RedirectedHeader(data) => Some(data),
            _ => None,
        })
    }
}

/// A neighbor discovery message (RFC 4861 section 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NdiscRepr<'a> {
    /// Router solicitation (section 4.1).
    RouterSolicit {
        /// Options (a source link-layer address, unless sent from `::`).
        options: NdiscOptions<'a>,
    },
    /// Router advertisement (section 4.2).
    RouterAdvert {
        /// Hop limit for outgoing packets (0: unspecified).
        hop_limit: u8,
        /// M, O and other flags.
        flags: NdiscRouterFlags,
        /// Lifetime as a default router, in seconds (0: not one).
        router_lifetime: u16,
        /// Reachable time in milliseconds (0: unspecified).
        reachable_time: u32,
        /// Retransmission timer in milliseconds (0: unspecified).
        retrans_time: u32,
        /// Options: source link-layer address, MTU, prefixes, RDNSS, ...
        options: NdiscOptions<'a>,
    },
    /// Neighbor solicitation (section 4.3).
    NeighborSolicit {
        /// The address whose link-layer address is asked for.
        target_addr: Ipv6Address,
        /// Options (a source link-layer address, except in DAD).
        options: NdiscOptions<'a>,
    },
    /// Neighbor advertisement (section 4.4).
    NeighborAdvert {
        /// R, S and O flags.
        flags: NdiscNeighborFlags,
        /// The address advertised.
        target_addr: Ipv6Address,
        /// Options (a target link-layer address).
        options: NdiscOptions<'a>,
    },
    /// Redirect (section 4.5).
    Redirect {
        /// The better first hop (or the destination itself).
        target_addr: Ipv6Address,
        /// The destination being redirected.
        dest_addr: Ipv6Address,
        /// Options (target link-layer address, redirected header).
        options: NdiscOptions<'a>,
    },
}

impl<'a> NdiscRepr<'a> {
    /// Parses an NDP message from an ICMPv6 packet whose type is one of
    /// the five (the checksum is [`Icmpv6Repr::parse`](super::Icmpv6Repr::parse)'s
    /// business).
    ///
    /// Checks what RFC 4861 sections 6.1 and 7.1 ask that needs no IP
    /// header: `Unrecognized` for a non-zero code, another type, or a
    /// multicast target (NS, NA) or destination (redirect); `Truncated` for
    /// a message shorter than its fixed part; `BadOption` for an option of
    /// length zero or past the end. The caller checks the hop limit (255),
    /// the source address rules and, for an NA to a multicast address, that
    /// the S flag is clear.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Icmpv6Packet<&'a T>) -> Result<NdiscRepr<'a>> {
        packet.check_len()?;
        let msg_type = packet.msg_type();
        let at = ndisc_options_offset(msg_type).ok_or(Error::Unrecognized)?;
        if packet.msg_code() != 0 {
            return Err(Error::Unrecognized);
        }
        let buffer: &'a [u8] = packet.buffer.as_ref();
        let options = NdiscOptions::new_checked(buffer.get(at..).ok_or(Error::Truncated)?)?;
        let target_addr = packet.target_addr();
        match msg_type {
            Icmpv6Message::RouterSolicit => Ok(NdiscRepr::RouterSolicit { options }),
            Icmpv6Message::RouterAdvert => Ok(NdiscRepr::RouterAdvert {
                hop_limit: packet.current_hop_limit(),
                flags: packet.router_flags(),
                router_lifetime: packet.router_lifetime(),
                reachable_time: packet.reachable_time(),
                retrans_time: packet.retrans_time(),
                options,
            }),
            Icmpv6Message::NeighborSolicit if !target_addr.is_multicast() => {
                Ok(NdiscRepr::NeighborSolicit {
                    target_addr,
                    options,
                })
            }
            Icmpv6Message::NeighborAdvert if !target_addr.is_multicast() => {
                Ok(NdiscRepr::NeighborAdvert {
                    flags: packet.neighbor_flags(),
                    target_addr,
                    options,
                })
            }
            Icmpv6Message::Redirect if !packet.dest_addr().is_multicast() => {
                Ok(NdiscRepr::Redirect {
                    target_addr,
                    dest_addr: packet.dest_addr(),
                    options,
                })
            }
            _ => Err(Error::Unrecognized),
        }
    }

    /// The options.
    pub fn options(&self) -> NdiscOptions<'a> {
        match self {
            NdiscRepr::RouterSolicit { options }
            | NdiscRepr::RouterAdvert { options, .. }
            | NdiscRepr::NeighborSolicit { options, .. }
            | NdiscRepr::NeighborAdvert { options, .. }
            | NdiscRepr::Redirect { options, .. } => *options,
        }
    }

    fn options_offset(&self) -> usize {
        match self {
            NdiscRepr::RouterSolicit { .. } => field::RS_OPTIONS,
            NdiscRepr::RouterAdvert { .. } => field::RA_OPTIONS,
            NdiscRepr::NeighborSolicit { .. } => field::NS_OPTIONS,
            NdiscRepr::NeighborAdvert { .. } => field::NA_OPTIONS,
            NdiscRepr::Redirect { .. } => field::REDIRECT_OPTIONS,
        }
    }

    /// The ICMPv6 message length: the fixed part and the options.
    pub fn buffer_len(&self) -> usize {
        self.options_offset() + self.options().as_bytes().len()
    }

    /// Writes the message (type, code, fields, options) into `packet`,
    /// whose buffer must hold [`buffer_len`](Self::buffer_len) bytes; the
    /// checksum is left to [`Icmpv6Repr::emit`](super::Icmpv6Repr::emit).
    pub(super) fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Icmpv6Packet<T>) {
        let at = self.options_offset();
        packet.buffer.as_mut()[icmp_field::WORD.start..at].fill(0);
        packet.set_msg_code(0);
        match *self {
            NdiscRepr::RouterSolicit { .. } => packet.set_msg_type(Icmpv6Message::RouterSolicit),
            NdiscRepr::RouterAdvert {
                hop_limit,
                flags,
                router_lifetime,
                reachable_time,
                retrans_time,
                ..
            } => {
                packet.set_msg_type(Icmpv6Message::RouterAdvert);
                packet.set_current_hop_limit(hop_limit);
                packet.set_router_flags(flags);
                packet.set_router_lifetime(router_lifetime);
                packet.set_reachable_time(reachable_time);
                packet.set_retrans_time(retrans_time);
            }
            NdiscRepr::NeighborSolicit { target_addr, .. } => {
                packet.set_msg_type(Icmpv6Message::NeighborSolicit);
                packet.set_target_addr(target_addr);
            }
            NdiscRepr::NeighborAdvert {
                flags, target_addr, ..
            } => {
                packet.set_msg_type(Icmpv6Message::NeighborAdvert);
                packet.set_neighbor_flags(flags);
                packet.set_target_addr(target_addr);
            }
            NdiscRepr::Redirect {
                target_addr,
                dest_addr,
                ..
            } => {
                packet.set_msg_type(Icmpv6Message::Redirect);
                packet.set_target_addr(target_addr);
                packet.set_dest_addr(dest_addr);
            }
        }
        let options = self.options().as_bytes();
        packet.buffer.as_mut()[at..at + options.len()].copy_from_slice(options);
    }
}

impl fmt::Display for NdiscRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            NdiscRepr::RouterSolicit { .. } => f.write_str("router solicitation")?,
            NdiscRepr::RouterAdvert {
                hop_limit,
                flags,
                router_lifetime,
                ..
            } => write!(
                f,
                "router advertisement hlim={hop_limit} lifetime={router_lifetime}s{}{}",
                if flags.contains(NdiscRouterFlags::MANAGED) {
                    " M"
                } else {
                    ""
                },
                if flags.contains(NdiscRouterFlags::OTHER) {
                    " O"
                } else {
                    ""
                },
            )?,
            NdiscRepr::NeighborSolicit { target_addr, .. } => {
                write!(f, "neighbor solicitation for {target_addr}")?
            }
            NdiscRepr::NeighborAdvert {
                flags, target_addr, ..
            } => {
                write!(f, "neighbor advertisement {target_addr}")?;
                for (flag, text) in [
                    (NdiscNeighborFlags::ROUTER, " R"),
                    (NdiscNeighborFlags::SOLICITED, " S"),
                    (NdiscNeighborFlags::OVERRIDE, " O"),
                ] {
                    if flags.contains(flag) {
                        f.write_str(text)?;
                    }
                }
            }
            NdiscRepr::Redirect {
                target_addr,
                dest_addr,
                ..
            } => write!(f, "redirect {dest_addr} via {target_addr}")?,
        }
        let options = self.options();
        if let Some(addr) = options.source_lladdr() {
            write!(f, " sll={addr}")?;
        }
        if let Some(addr) = options.target_lladdr() {
            write!(f, " tll={addr}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::wire::icmpv6::tests::{emit, linux_icmpv6, parse_and_reemit};
    use crate::wire::{ChecksumCapabilities, Icmpv6Repr, Ipv6Repr};
    use std::string::ToString;
    use std::vec;
    use std::vec::Vec;

    fn addr(text: &str) -> Ipv6Address {
        text.parse().unwrap()
    }

    const ROUTER_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 1, 1]);
    const CLIENT_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 1, 2]);

    fn ndisc(number: usize) -> NdiscRepr<'static> {
        match parse_and_reemit(number) {
            Icmpv6Repr::Ndisc(repr) => repr,
            other => panic!("frame {number}: {other:?}"),
        }
    }

    /// Emits `repr` from `src` to `dst` and compares it with Linux's frame.
    fn same_as_linux(number: usize, repr: NdiscRepr) {
        let (src, dst, bytes) = linux_icmpv6(number);
        assert_eq!(
            emit(&src, &dst, &Icmpv6Repr::Ndisc(repr)),
            bytes,
            "frame {number}"
        );
    }

    #[test]
    fn linux_router_solicitation() {
        let repr = ndisc(23);
        assert_eq!(repr.options().source_lladdr(), Some(CLIENT_MAC));
        assert_eq!(
            repr.to_string(),
            "router solicitation sll=02:00:00:00:01:02"
        );
        // Built from scratch, it is what Linux sent.
        let mut buf = [0u8; 8];
        let options =
            NdiscOptions::emit_from(&[NdiscOption::SourceLinkLayerAddr(CLIENT_MAC)], &mut buf)
                .unwrap();
        same_as_linux(23, NdiscRepr::RouterSolicit { options });
    }

    #[test]
    fn radvd_router_advertisement() {
        let repr = ndisc(6);
        let NdiscRepr::RouterAdvert {
            hop_limit,
            flags,
            router_lifetime,
            reachable_time,
            retrans_time,
            options,
        } = repr
        else {
            panic!("{repr:?}");
        };
        assert_eq!((hop_limit, router_lifetime), (64, 1800));
        assert_eq!(flags, NdiscRouterFlags::OTHER);
        assert_eq!((reachable_time, retrans_time), (30_000, 1000));
        let prefixes: Vec<_> = options.prefixes().collect();
        assert_eq!(
            prefixes,
            [NdiscPrefixInfo {
                prefix_len: 64,
                flags: NdiscPrefixFlags::ON_LINK | NdiscPrefixFlags::ADDRCONF,
                valid_lifetime: 86400,
                preferred_lifetime: 14400,
                prefix: addr("2001:db8:1::"),
            }]
        );
        let rdnss: Vec<_> = options.rdnss().collect();
        assert_eq!(rdnss.len(), 1);
        assert_eq!(rdnss[0].lifetime, 600);
        assert_eq!(rdnss[0].len(), 2);
        assert_eq!(
            rdnss[0].addresses().collect::<Vec<_>>(),
            [addr("2001:db8:1::1"), addr("2001:db8:1::53")]
        );
        assert_eq!(options.mtu(), Some(1500));
        assert_eq!(options.source_lladdr(), Some(ROUTER_MAC));
        assert_eq!(options.target_lladdr(), None);
        assert_eq!(options.iter().count(), 4);
        assert_eq!(
            repr.to_string(),
            "router advertisement hlim=64 lifetime=1800s O sll=02:00:00:00:01:01"
        );

        // The same advertisement built option by option, in radvd's order.
        let servers = [addr("2001:db8:1::1").0, addr("2001:db8:1::53").0].concat();
        let mut buf = [0u8; 96];
        let options = NdiscOptions::emit_from(
            &[
                NdiscOption::PrefixInformation(prefixes[0]),
                NdiscOption::Rdnss(NdiscRdnss::new(600, &servers).unwrap()),
                NdiscOption::Mtu(1500),
                NdiscOption::SourceLinkLayerAddr(ROUTER_MAC),
            ],
            &mut buf,
        )
        .unwrap();
        same_as_linux(
            6,
            NdiscRepr::RouterAdvert {
                hop_limit: 64,
                flags: NdiscRouterFlags::OTHER,
                router_lifetime: 1800,
                reachable_time: 30_000,
                retrans_time: 1000,
                options,
            },
        );
    }

    #[test]
    fn linux_neighbor_solicitations() {
        let repr = ndisc(26);
        assert_eq!(
            repr,
            NdiscRepr::NeighborSolicit {
                target_addr: addr("2001:db8:1::1"),
                options: repr.options(),
            }
        );
        assert_eq!(repr.options().source_lladdr(), Some(CLIENT_MAC));
        let mut buf = [0u8; 8];
        let options =
            NdiscOptions::emit_from(&[NdiscOption::SourceLinkLayerAddr(CLIENT_MAC)], &mut buf)
                .unwrap();
        same_as_linux(
            26,
            NdiscRepr::NeighborSolicit {
                target_addr: addr("2001:db8:1::1"),
                options,
            },
        );
        assert_eq!(
            repr.to_string(),
            "neighbor solicitation for 2001:db8:1::1 sll=02:00:00:00:01:02"
        );

        // Duplicate address detection from `::`: no source link-layer
        // address, and Linux adds a nonce option (RFC 7527), unknown to us.
        let (src, _, _) = linux_icmpv6(1);
        assert!(src.is_unspecified());
        let repr = ndisc(1);
        let NdiscRepr::NeighborSolicit {
            target_addr,
            options,
        } = repr
        else {
            panic!("{repr:?}");
        };
        assert_eq!(target_addr, addr("fe80::ff:fe00:10e"));
        assert_eq!(options.source_lladdr(), None);
        let all: Vec<_> = options.iter().collect();
        assert!(matches!(all[..], [NdiscOption::Unknown { kind: 14, data }] if data.len() == 6));
    }

    #[test]
    fn linux_neighbor_advertisements() {
        let repr = ndisc(27);
        let mut buf = [0u8; 8];
        let options =
            NdiscOptions::emit_from(&[NdiscOption::TargetLinkLayerAddr(ROUTER_MAC)], &mut buf)
                .unwrap();
        let expected = NdiscRepr::NeighborAdvert {
            flags: NdiscNeighborFlags::ROUTER
                | NdiscNeighborFlags::SOLICITED
                | NdiscNeighborFlags::OVERRIDE,
            target_addr: addr("2001:db8:1::1"),
            options,
        };
        assert_eq!(repr, expected);
        same_as_linux(27, expected);
        assert_eq!(
            repr.to_string(),
            "neighbor advertisement 2001:db8:1::1 R S O tll=02:00:00:00:01:01"
        );
        // A unicast-solicited answer carries no option (RFC 4861 7.2.4
        // allows leaving it out): solicited, no override.
        let repr = ndisc(36);
        assert_eq!(
            repr,
            NdiscRepr::NeighborAdvert {
                flags: NdiscNeighborFlags::SOLICITED,
                target_addr: addr("fe80::ff:fe00:102"),
                options: NdiscOptions::EMPTY,
            }
        );
    }

    #[test]
    fn linux_redirect() {
        let repr = ndisc(48);
        let NdiscRepr::Redirect {
            target_addr,
            dest_addr,
            options,
        } = repr
        else {
            panic!("{repr:?}");
        };
        assert_eq!(target_addr, addr("fe80::ff:fe00:10e"));
        assert_eq!(dest_addr, addr("2001:db8:3::1"));
        assert_eq!(
            options.target_lladdr(),
            Some(EthernetAddress([2, 0, 0, 0, 1, 0x0e]))
        );
        let redirected = options.redirected_header().unwrap();
        let (header, rest) = Ipv6Repr::parse_quoted(redirected).unwrap();
        assert_eq!(header.dst_addr, dest_addr);
        assert_eq!(header.payload_len, 64);
        assert_eq!(rest.len(), 64);
        assert_eq!(
            repr.to_string(),
            "redirect 2001:db8:3::1 via fe80::ff:fe00:10e tll=02:00:00:00:01:0e"
        );
    }

    fn parse(bytes: &[u8]) -> Result<NdiscRepr<'_>> {
        NdiscRepr::parse(&Icmpv6Packet::new_checked(bytes).unwrap())
    }

    #[test]
    fn errors() {
        let (_, _, ns) = linux_icmpv6(26);
        assert!(parse(ns).is_ok());
        // A zero option length invalidates the message (RFC 4861 4.6).
        let mut zero = ns.to_vec();
        zero[25] = 0;
        assert_eq!(parse(&zero), Err(Error::BadOption));
        // An option running past the end, or a lone type byte.
        let mut long = ns.to_vec();
        long[25] = 2;
        assert_eq!(parse(&long), Err(Error::BadOption));
        let mut lone = ns.to_vec();
        lone.push(1);
        assert_eq!(parse(&lone), Err(Error::BadOption));
        // A non-zero code.
        let mut code = ns.to_vec();
        code[1] = 1;
        assert_eq!(parse(&code), Err(Error::Unrecognized));
        // A multicast target.
        let mut mcast = ns.to_vec();
        mcast[8] = 0xff;
        assert_eq!(parse(&mcast), Err(Error::Unrecognized));
        // Each type's fixed part.
        for (number, fixed) in [(23, 8), (6, 16), (26, 24), (27, 24), (48, 40)] {
            let (_, _, bytes) = linux_icmpv6(number);
            for len in 8..fixed {
                assert_eq!(
                    parse(&bytes[..len]),
                    Err(Error::Truncated),
                    "frame {number} len {len}"
                );
            }
            assert!(parse(&bytes[..fixed]).is_ok(), "frame {number}");
        }
        let (_, _, redirect) = linux_icmpv6(48);
        let mut mcast = redirect.to_vec();
        mcast[24] = 0xff;
        assert_eq!(parse(&mcast), Err(Error::Unrecognized));
        // Not an NDP type.
        let (_, _, echo) = linux_icmpv6(28);
        assert_eq!(parse(echo), Err(Error::Unrecognized));
        // An NDP message of another type with a bad checksum is refused by
        // Icmpv6Repr before NDP sees it.
        let (src, dst, _) = linux_icmpv6(26);
        let packet = Icmpv6Packet::new_checked(&zero[..]).unwrap();
        assert_eq!(
            Icmpv6Repr::parse(&src, &dst, &packet, &ChecksumCapabilities::default()),
            Err(Error::BadChecksum)
        );
    }

    #[test]
    fn known_options_of_the_wrong_length_are_unknown() {
        // (type, 8-octet units): an 8-byte link-layer address (length 2),
        // a short prefix option, a long MTU option, an RDNSS of length 4.
        for (kind, units) in [(1u8, 2u8), (3, 3), (5, 2), (25, 4), (25, 1)] {
            let mut bytes = vec![0u8; usize::from(units) * 8];
            bytes[0] = kind;
            bytes[1] = units;
            let options = NdiscOptions::new_checked(&bytes).unwrap();
            let all: Vec<_> = options.iter().collect();
            assert_eq!(
                all,
                [NdiscOption::Unknown {
                    kind,
                    data: &bytes[2..]
                }]
            );
            assert_eq!(options.mtu(), None);
            assert_eq!(options.source_lladdr(), None);
        }
    }

    #[test]
    fn option_emit() {
        let mut out = [0xffu8; 16];
        // Unknown options are zero-padded to 8 octets.
        let unknown = NdiscOption::Unknown {
            kind: 31,
            data: &[1, 2, 3],
        };
        assert_eq!(unknown.buffer_len(), 8);
        unknown.emit(&mut out).unwrap();
        assert_eq!(&out[..8], &[31, 1, 1, 2, 3, 0, 0, 0]);
        assert_eq!(
            NdiscOption::Mtu(1280).emit(&mut out[..7]),
            Err(Error::BufferTooSmall)
        );
        NdiscOption::Mtu(1280).emit(&mut out).unwrap();
        assert_eq!(&out[..8], &[5, 1, 0, 0, 0, 0, 5, 0]);
        let huge = [0u8; 2040];
        let mut big = vec![0u8; 2100];
        assert_eq!(
            NdiscOption::RedirectedHeader(&huge).emit(&mut big),
            Err(Error::BadOption)
        );
        assert_eq!(NdiscRdnss::new(0, &[]), Err(Error::BadOption));
        assert_eq!(NdiscRdnss::new(0, &[0; 17]), Err(Error::BadOption));
        let mut small = [0u8; 12];
        assert_eq!(
            NdiscOptions::emit_from(&[NdiscOption::Mtu(1), NdiscOption::Mtu(2)], &mut small),
            Err(Error::BufferTooSmall)
        );
        // A redirected header pads the quoted packet to 8 octets.
        let header = NdiscOption::RedirectedHeader(&[9; 5]);
        assert_eq!(header.buffer_len(), 16);
        header.emit(&mut out).unwrap();
        assert_eq!(&out, &[4, 2, 0, 0, 0, 0, 0, 0, 9, 9, 9, 9, 9, 0, 0, 0]);
        assert_eq!(header.kind(), 4);
        // Flags keep bits they do not name.
        let flags = NdiscRouterFlags::from_bits_retain(0x48);
        assert!(flags.contains(NdiscRouterFlags::OTHER));
        assert_eq!(flags.bits(), 0x48);
    }

    #[test]
    fn setters() {
        let mut bytes = [0u8; 40];
        let mut packet = Icmpv6Packet::new_unchecked(&mut bytes[..]);
        packet.set_msg_type(Icmpv6Message::RouterAdvert);
        packet.set_current_hop_limit(255);
        packet.set_router_flags(NdiscRouterFlags::MANAGED);
        packet.set_router_lifetime(9000);
        packet.set_reachable_time(1);
        packet.set_retrans_time(2);
        assert_eq!(
            &bytes[..16],
            &[134, 0, 0, 0, 255, 0x80, 0x23, 0x28, 0, 0, 0, 1, 0, 0, 0, 2]
        );
        let mut packet = Icmpv6Packet::new_unchecked(&mut bytes[..]);
        packet.set_neighbor_flags(NdiscNeighborFlags::OVERRIDE);
        packet.set_target_addr(Ipv6Address::LOOPBACK);
        packet.set_dest_addr(Ipv6Address::LINK_LOCAL_ALL_NODES);
        assert_eq!(&bytes[4..8], &[0x20, 0, 0, 0]);
        let packet = Icmpv6Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.neighbor_flags(), NdiscNeighborFlags::OVERRIDE);
        assert_eq!(packet.target_addr(), Ipv6Address::LOOPBACK);
        assert_eq!(packet.dest_addr(), Ipv6Address::LINK_LOCAL_ALL_NODES);
    }
}
