//! IPv6 addresses and prefixes (RFC 4291), with the text forms of RFC 4291
//! section 2.2 (parsing) and RFC 5952 (the canonical output), and the fixed
//! IPv6 header (RFC 8200 section 3); extension headers are in
//! [`crate::wire::ipv6ext`].

use core::fmt;

use super::ip::{IpAddress, IpProtocol, IpRepr};
use super::ipv4::{AddressParseError, Ipv4Address};
use super::{Error, Result as WireResult};

/// A sixteen-octet IPv6 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Ipv6Address(pub [u8; 16]);

impl Ipv6Address {
    /// `::`, the unspecified address (RFC 4291 section 2.5.2).
    pub const UNSPECIFIED: Ipv6Address = Ipv6Address([0; 16]);
    /// `::1`, the loopback address (RFC 4291 section 2.5.3).
    pub const LOOPBACK: Ipv6Address = Ipv6Address([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    /// `ff02::1`, all nodes on the link (RFC 4291 section 2.7.1).
    pub const LINK_LOCAL_ALL_NODES: Ipv6Address =
        Ipv6Address([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    /// `ff02::2`, all routers on the link (RFC 4291 section 2.7.1).
    pub const LINK_LOCAL_ALL_ROUTERS: Ipv6Address =
        Ipv6Address([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    /// `ff02::16`, all MLDv2-capable routers (RFC 3810 section 11).
    pub const LINK_LOCAL_ALL_MLDV2_ROUTERS: Ipv6Address =
        Ipv6Address([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x16]);

    /// The address from its eight 16-bit groups, most significant first.
    #[allow(clippy::too_many_arguments)]
    pub const fn new(a: u16, b: u16, c: u16, d: u16, e: u16, f: u16, g: u16, h: u16) -> Self {
        Self::from_segments([a, b, c, d, e, f, g, h])
    }

    /// The address from its eight 16-bit groups.
    pub const fn from_segments(groups: [u16; 8]) -> Ipv6Address {
        let mut bytes = [0u8; 16];
        let mut i = 0;
        while i < 8 {
            let [hi, lo] = groups[i].to_be_bytes();
            bytes[2 * i] = hi;
            bytes[2 * i + 1] = lo;
            i += 1;
        }
        Ipv6Address(bytes)
    }

    /// The eight 16-bit groups.
    pub const fn segments(&self) -> [u16; 8] {
        let mut groups = [0u16; 8];
        let mut i = 0;
        while i < 8 {
            groups[i] = u16::from_be_bytes([self.0[2 * i], self.0[2 * i + 1]]);
            i += 1;
        }
        groups
    }

    /// The address from sixteen bytes in network order.
    pub fn from_bytes(bytes: &[u8; 16]) -> Ipv6Address {
        Ipv6Address(*bytes)
    }

    /// The sixteen bytes in network order.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The address as a host-order integer.
    pub const fn to_bits(&self) -> u128 {
        u128::from_be_bytes(self.0)
    }

    /// The address from a host-order integer.
    pub const fn from_bits(bits: u128) -> Ipv6Address {
        Ipv6Address(bits.to_be_bytes())
    }

    /// Whether this is `::`.
    pub const fn is_unspecified(&self) -> bool {
        self.to_bits() == 0
    }

    /// Whether this is `::1`.
    pub const fn is_loopback(&self) -> bool {
        self.to_bits() == 1
    }

    /// Whether this is in `ff00::/8` (RFC 4291 section 2.7).
    pub const fn is_multicast(&self) -> bool {
        self.0[0] == 0xff
    }

    /// Whether this is a link-local unicast address, `fe80::/10`
    /// (RFC 4291 section 2.5.6).
    pub const fn is_link_local(&self) -> bool {
        self.0[0] == 0xfe && self.0[1] & 0xc0 == 0x80
    }

    /// Whether the address can name one interface: neither unspecified nor
    /// multicast (IPv6 has no broadcast, RFC 4291 section 2).
    pub const fn is_unicast(&self) -> bool {
        !(self.is_unspecified() || self.is_multicast())
    }

    /// The IPv4 address of an IPv4-mapped address `::ffff:a.b.c.d`
    /// (RFC 4291 section 2.5.5.2).
    pub fn to_ipv4_mapped(&self) -> Option<Ipv4Address> {
        let (head, tail) = self.0.split_at(12);
        if head != [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] {
            return None;
        }
        Some(Ipv4Address([tail[0], tail[1], tail[2], tail[3]]))
    }

    /// The solicited-node multicast address `ff02::1:ffXX:XXXX` of this
    /// address (RFC 4291 section 2.7.1): the prefix and its low 24 bits.
    pub const fn solicited_node(&self) -> Ipv6Address {
        Ipv6Address([
            0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, self.0[13], self.0[14], self.0[15],
        ])
    }
}

impl fmt::Display for Ipv6Address {
    /// RFC 5952 section 4: lower-case hex without leading zeros, the longest
    /// run of two or more zero groups (the first of equal runs) as `::`, and
    /// IPv4-mapped addresses with their dotted tail (section 5).
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if let Some(v4) = self.to_ipv4_mapped() {
            return write!(f, "::ffff:{v4}");
        }
        let groups = self.segments();
        // The longest run of zero groups, at least two long.
        let (mut best_start, mut best_len) = (0, 0);
        let mut i = 0;
        while i < 8 {
            if groups[i] == 0 {
                let start = i;
                while i < 8 && groups[i] == 0 {
                    i += 1;
                }
                if i - start > best_len {
                    (best_start, best_len) = (start, i - start);
                }
            } else {
                i += 1;
            }
        }
        if best_len < 2 {
            best_len = 0;
        }
        let mut i = 0;
        while i < 8 {
            if best_len > 0 && i == best_start {
                f.write_str("::")?;
                i += best_len;
                continue;
            }
            if i > 0 && !(best_len > 0 && i == best_start + best_len) {
                f.write_str(":")?;
            }
            write!(f, "{:x}", groups[i])?;
            i += 1;
        }
        Ok(())
    }
}

impl core::str::FromStr for Ipv6Address {
    type Err = AddressParseError;

    /// Parses the text forms of RFC 4291 section 2.2: eight groups of up to
    /// four hex digits, one `::` for a run of zero groups, and a dotted
    /// IPv4 tail in place of the last two groups.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut head = [0u16; 8];
        let mut tail = [0u16; 8];
        let (head_text, tail_text) = match text.find("::") {
            Some(at) => (&text[..at], Some(&text[at + 2..])),
            None => (text, None),
        };
        let head_len = parse_groups(head_text, &mut head, tail_text.is_none())?;
        let tail_len = match tail_text {
            Some(t) => {
                if t.contains("::") {
                    return Err(AddressParseError);
                }
                parse_groups(t, &mut tail, true)?
            }
            None => 0,
        };
        let total = head_len + tail_len;
        match tail_text {
            None if total != 8 => return Err(AddressParseError),
            // `::` stands for at least one zero group.
            Some(_) if total > 7 => return Err(AddressParseError),
            _ => {}
        }
        let mut groups = [0u16; 8];
        groups[..head_len].copy_from_slice(&head[..head_len]);
        groups[8 - tail_len..].copy_from_slice(&tail[..tail_len]);
        Ok(Ipv6Address::from_segments(groups))
    }
}

/// Parses colon-separated groups into `out`; the last part may be a dotted
/// IPv4 address (two groups) when `last` says this part ends the address.
/// Returns how many groups were written. An empty text is zero groups.
fn parse_groups(text: &str, out: &mut [u16; 8], last: bool) -> Result<usize, AddressParseError> {
    if text.is_empty() {
        return Ok(0);
    }
    let mut count = 0;
    let mut parts = text.split(':').peekable();
    while let Some(part) = parts.next() {
        let is_last = parts.peek().is_none();
        if is_last && last && part.contains('.') {
            let v4: Ipv4Address = part.parse()?;
            if count + 2 > 8 {
                return Err(AddressParseError);
            }
            out[count] = u16::from_be_bytes([v4.0[0], v4.0[1]]);
            out[count + 1] = u16::from_be_bytes([v4.0[2], v4.0[3]]);
            return Ok(count + 2);
        }
        if part.is_empty() || part.len() > 4 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(AddressParseError);
        }
        if count == 8 {
            return Err(AddressParseError);
        }
        out[count] = u16::from_str_radix(part, 16).map_err(|_| AddressParseError)?;
        count += 1;
    }
    Ok(count)
}

/// An IPv6 address with a prefix length, e.g. `2001:db8::1/64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Ipv6Cidr {
    address: Ipv6Address,
    prefix_len: u8,
}

impl Ipv6Cidr {
    /// The address with a prefix; `None` if `prefix_len` exceeds 128.
    pub const fn new(address: Ipv6Address, prefix_len: u8) -> Option<Ipv6Cidr> {
        if prefix_len > 128 {
            None
        } else {
            Some(Ipv6Cidr {
                address,
                prefix_len,
            })
        }
    }

    /// The address.
    pub const fn address(&self) -> Ipv6Address {
        self.address
    }

    /// The prefix length (0..=128).
    pub const fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// The netmask as a host-order integer.
    pub const fn mask_bits(&self) -> u128 {
        if self.prefix_len == 0 {
            0
        } else {
            u128::MAX << (128 - self.prefix_len as u32)
        }
    }

    /// Whether `addr` is in this prefix.
    pub const fn contains(&self, addr: Ipv6Address) -> bool {
        let mask = self.mask_bits();
        addr.to_bits() & mask == self.address.to_bits() & mask
    }
}

impl fmt::Display for Ipv6Cidr {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)
    }
}

impl core::str::FromStr for Ipv6Cidr {
    type Err = AddressParseError;

    /// `ADDRESS/PREFIX`, the prefix in decimal, at most 128.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (addr, len) = text.split_once('/').ok_or(AddressParseError)?;
        if len.is_empty() || len.len() > 3 || !len.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AddressParseError);
        }
        let len: u8 = len.parse().map_err(|_| AddressParseError)?;
        Ipv6Cidr::new(addr.parse()?, len).ok_or(AddressParseError)
    }
}

impl From<core::net::Ipv6Addr> for Ipv6Address {
    fn from(addr: core::net::Ipv6Addr) -> Self {
        Ipv6Address(addr.octets())
    }
}

impl From<Ipv6Address> for core::net::Ipv6Addr {
    fn from(addr: Ipv6Address) -> Self {
        core::net::Ipv6Addr::from(addr.0)
    }
}

/// Byte offsets of the IPv6 header fields (RFC 8200 section 3).
mod field {
    use core::ops::Range;
    /// Version (4 bits), traffic class (8), flow label (20).
    pub const VER_TC_FLOW: Range<usize> = 0..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const NXT_HDR: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC_ADDR: Range<usize> = 8..24;
    pub const DST_ADDR: Range<usize> = 24..40;
}

/// The length of the fixed IPv6 header.
pub const HEADER_LEN: usize = 40;

/// The minimum link MTU IPv6 requires (RFC 8200 section 5).
pub const MIN_MTU: usize = 1280;

/// A zero-copy view of an IPv6 packet.
///
/// After [`new_checked`](Self::new_checked) the buffer holds the 40-byte
/// header and the payload length; [`payload`](Self::payload) ends at the
/// payload length, so link-layer padding after it is ignored. Extension
/// headers are part of the payload: [`crate::wire::ipv6ext`] walks them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// A view of `buffer` without checking its length; accessors may panic
    /// on a short buffer until [`check_len`](Self::check_len) has passed.
    pub const fn new_unchecked(buffer: T) -> Ipv6Packet<T> {
        Ipv6Packet { buffer }
    }

    /// A view of `buffer` whose payload length is consistent with it.
    pub fn new_checked(buffer: T) -> WireResult<Ipv6Packet<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// `Truncated` if the buffer is shorter than the 40-byte header,
    /// `LengthPastBuffer` if the payload length runs past the buffer. A
    /// zero payload length is an empty payload (jumbograms, RFC 2675, are
    /// not supported).
    pub fn check_len(&self) -> WireResult<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if HEADER_LEN + usize::from(self.payload_len()) > len {
            return Err(Error::LengthPastBuffer);
        }
        Ok(())
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn first_word(&self) -> u32 {
        let b = &self.buffer.as_ref()[field::VER_TC_FLOW];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    /// The version field (6 for IPv6).
    pub fn version(&self) -> u8 {
        (self.first_word() >> 28) as u8
    }

    /// The traffic class (RFC 8200 section 7): DSCP and ECN.
    pub fn traffic_class(&self) -> u8 {
        (self.first_word() >> 20) as u8
    }

    /// The Differentiated Services code point (RFC 2474): the traffic
    /// class's upper six bits.
    pub fn dscp(&self) -> u8 {
        self.traffic_class() >> 2
    }

    /// The ECN field (RFC 3168 section 5): the traffic class's low two bits.
    pub fn ecn(&self) -> u8 {
        self.traffic_class() & 0x03
    }

    /// The 20-bit flow label (RFC 6437).
    pub fn flow_label(&self) -> u32 {
        self.first_word() & 0x000f_ffff
    }

    /// The payload length: everything after the fixed header, extension
    /// headers included.
    pub fn payload_len(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::LENGTH];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// The next header field: the first extension header or the upper layer.
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol::from(self.buffer.as_ref()[field::NXT_HDR])
    }

    /// The hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    /// The source address.
    pub fn src_addr(&self) -> Ipv6Address {
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&self.buffer.as_ref()[field::SRC_ADDR]);
        Ipv6Address(bytes)
    }

    /// The destination address.
    pub fn dst_addr(&self) -> Ipv6Address {
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&self.buffer.as_ref()[field::DST_ADDR]);
        Ipv6Address(bytes)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Ipv6Packet<&'a T> {
    /// The payload: from the end of the fixed header to the payload length.
    pub fn payload(&self) -> &'a [u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        &self.buffer.as_ref()[HEADER_LEN..end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    fn set_first_word(&mut self, word: u32) {
        self.buffer.as_mut()[field::VER_TC_FLOW].copy_from_slice(&word.to_be_bytes());
    }

    /// Sets the version field.
    pub fn set_version(&mut self, version: u8) {
        let word = self.first_word() & 0x0fff_ffff;
        self.set_first_word(word | (u32::from(version & 0x0f) << 28));
    }

    /// Sets the traffic class.
    pub fn set_traffic_class(&mut self, class: u8) {
        let word = self.first_word() & 0xf00f_ffff;
        self.set_first_word(word | (u32::from(class) << 20));
    }

    /// Sets the ECN bits of the traffic class, keeping the DSCP.
    pub fn set_ecn(&mut self, ecn: u8) {
        let class = (self.traffic_class() & 0xfc) | (ecn & 0x03);
        self.set_traffic_class(class);
    }

    /// Sets the flow label (its low 20 bits).
    pub fn set_flow_label(&mut self, label: u32) {
        let word = self.first_word() & 0xfff0_0000;
        self.set_first_word(word | (label & 0x000f_ffff));
    }

    /// Sets the payload length.
    pub fn set_payload_len(&mut self, len: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&len.to_be_bytes());
    }

    /// Sets the next header field.
    pub fn set_next_header(&mut self, protocol: IpProtocol) {
        self.buffer.as_mut()[field::NXT_HDR] = u8::from(protocol);
    }

    /// Sets the hop limit.
    pub fn set_hop_limit(&mut self, hop_limit: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = hop_limit;
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, addr: Ipv6Address) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&addr.0);
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, addr: Ipv6Address) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&addr.0);
    }

    /// The payload (fixed header end to the payload length), mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Ipv6Packet<T> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if let Err(err) = self.check_len() {
            return write!(f, "IPv6 ({err})");
        }
        write!(
            f,
            "IPv6 src={} dst={} nxt={} len={} hlim={}",
            self.src_addr(),
            self.dst_addr(),
            self.next_header(),
            self.payload_len(),
            self.hop_limit()
        )?;
        if self.traffic_class() != 0 {
            write!(f, " tc={:#04x}", self.traffic_class())?;
        }
        if self.flow_label() != 0 {
            write!(f, " flow={:#07x}", self.flow_label())?;
        }
        Ok(())
    }
}

/// A high-level representation of the fixed IPv6 header (RFC 8200
/// section 3). The version is implied; `next_header` is the header's own
/// field, which may name an extension header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Repr {
    /// Source address.
    pub src_addr: Ipv6Address,
    /// Destination address.
    pub dst_addr: Ipv6Address,
    /// The next header field.
    pub next_header: IpProtocol,
    /// Payload length in bytes (extension headers included).
    pub payload_len: usize,
    /// Hop limit.
    pub hop_limit: u8,
    /// Traffic class: DSCP in the upper six bits, ECN in the low two
    /// (RFC 8200 section 7, RFC 3168 section 5).
    pub traffic_class: u8,
    /// Flow label (20 bits, RFC 6437); zero when the source sets none.
    pub flow_label: u32,
}

impl Ipv6Repr {
    /// Parses the fixed IPv6 header.
    ///
    /// Fails with the [`Ipv6Packet::check_len`] errors and `BadVersion` if
    /// the version is not 6. IPv6 has no header checksum.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Ipv6Packet<&T>) -> WireResult<Ipv6Repr> {
        packet.check_len()?;
        if packet.version() != 6 {
            return Err(Error::BadVersion);
        }
        Ok(Self::from_packet(packet))
    }

    fn from_packet<T: AsRef<[u8]>>(packet: &Ipv6Packet<T>) -> Ipv6Repr {
        Ipv6Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            next_header: packet.next_header(),
            payload_len: usize::from(packet.payload_len()),
            hop_limit: packet.hop_limit(),
            traffic_class: packet.traffic_class(),
            flow_label: packet.flow_label(),
        }
    }

    /// Parses the header quoted in an ICMPv6 error (RFC 4443 section 2.4
    /// (c)): the quoted packet is cut to fit the minimum MTU, so its payload
    /// length describes the original and is not checked against the
    /// buffer. Returns the header and the quoted bytes after it (extension
    /// headers, then the upper layer).
    pub fn parse_quoted(data: &[u8]) -> WireResult<(Ipv6Repr, &[u8])> {
        if data.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let packet = Ipv6Packet::new_unchecked(data);
        if packet.version() != 6 {
            return Err(Error::BadVersion);
        }
        Ok((Self::from_packet(&packet), &data[HEADER_LEN..]))
    }

    /// The ECN field of the traffic class.
    pub const fn ecn(&self) -> u8 {
        self.traffic_class & 0x03
    }

    /// The header length [`emit`](Self::emit) writes (40).
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// The number of bytes [`emit`](Self::emit) writes: the 40-byte header
    /// (the payload follows it in the buffer, written by the caller).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header into `packet`, whose buffer must hold at least 40
    /// bytes (a shorter one is a caller bug and panics). A `payload_len`
    /// above 65535 is a caller bug and saturates; the flow label keeps its
    /// low 20 bits.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Ipv6Packet<T>) {
        let word =
            (6u32 << 28) | (u32::from(self.traffic_class) << 20) | (self.flow_label & 0x000f_ffff);
        let header = &mut packet.buffer.as_mut()[..HEADER_LEN];
        header[field::VER_TC_FLOW].copy_from_slice(&word.to_be_bytes());
        let len = u16::try_from(self.payload_len).unwrap_or(u16::MAX);
        header[field::LENGTH].copy_from_slice(&len.to_be_bytes());
        header[field::NXT_HDR] = u8::from(self.next_header);
        header[field::HOP_LIMIT] = self.hop_limit;
        header[field::SRC_ADDR].copy_from_slice(&self.src_addr.0);
        header[field::DST_ADDR].copy_from_slice(&self.dst_addr.0);
    }

    /// The IPv6 header for a version-neutral one (traffic class and flow
    /// label zero); `None` unless both addresses are IPv6.
    pub fn from_ip_repr(repr: &IpRepr) -> Option<Ipv6Repr> {
        let (Some(src_addr), Some(dst_addr)) = (repr.src_addr.as_ipv6(), repr.dst_addr.as_ipv6())
        else {
            return None;
        };
        Some(Ipv6Repr {
            src_addr,
            dst_addr,
            next_header: repr.next_header,
            payload_len: repr.payload_len,
            hop_limit: repr.hop_limit,
            traffic_class: 0,
            flow_label: 0,
        })
    }
}

impl From<Ipv6Repr> for IpRepr {
    fn from(repr: Ipv6Repr) -> IpRepr {
        IpRepr {
            src_addr: IpAddress::Ipv6(repr.src_addr),
            dst_addr: IpAddress::Ipv6(repr.dst_addr),
            next_header: repr.next_header,
            payload_len: repr.payload_len,
            hop_limit: repr.hop_limit,
            ecn: crate::wire::IpEcn::from_bits(repr.ecn()),
        }
    }
}

impl fmt::Display for Ipv6Repr {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "IPv6 src={} dst={} nxt={} payload={} hlim={}",
            self.src_addr, self.dst_addr, self.next_header, self.payload_len, self.hop_limit
        )
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    fn show(addr: Ipv6Address) -> std::string::String {
        addr.to_string()
    }

    #[test]
    fn rfc5952_canonical_text() {
        let cases: [(&str, Ipv6Address); 9] = [
            ("::", Ipv6Address::UNSPECIFIED),
            ("::1", Ipv6Address::LOOPBACK),
            ("ff02::1", Ipv6Address::LINK_LOCAL_ALL_NODES),
            (
                "2001:db8::1",
                Ipv6Address::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
            ),
            // Section 4.2.2: a single zero group is not shortened.
            (
                "2001:db8:0:1:1:1:1:1",
                Ipv6Address::new(0x2001, 0xdb8, 0, 1, 1, 1, 1, 1),
            ),
            // Section 4.2.3: the longest run; the first of equal runs.
            (
                "2001:0:0:1::1",
                Ipv6Address::new(0x2001, 0, 0, 1, 0, 0, 0, 1),
            ),
            (
                "2001:db8::1:0:0:1",
                Ipv6Address::new(0x2001, 0xdb8, 0, 0, 1, 0, 0, 1),
            ),
            ("fe80::", Ipv6Address::new(0xfe80, 0, 0, 0, 0, 0, 0, 0)),
            (
                "::ffff:192.0.2.1",
                Ipv6Address::new(0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201),
            ),
        ];
        for (expected, addr) in cases {
            assert_eq!(show(addr), expected);
            assert_eq!(expected.parse::<Ipv6Address>(), Ok(addr), "{expected}");
        }
    }

    #[test]
    fn parses_rfc4291_forms_and_rejects_bad_ones() {
        let full: Ipv6Address = "2001:0DB8:0000:0000:0008:0800:200C:417A".parse().unwrap();
        assert_eq!(
            full,
            Ipv6Address::new(0x2001, 0xdb8, 0, 0, 8, 0x800, 0x200c, 0x417a)
        );
        assert_eq!("2001:DB8::8:800:200C:417A".parse(), Ok(full));
        assert_eq!(
            "::13.1.68.3".parse(),
            Ok(Ipv6Address::new(0, 0, 0, 0, 0, 0, 0x0d01, 0x4403))
        );
        assert_eq!("1::".parse(), Ok(Ipv6Address::new(1, 0, 0, 0, 0, 0, 0, 0)));
        for bad in [
            "",
            ":",
            ":::",
            "1:2:3:4:5:6:7",
            "1:2:3:4:5:6:7:8:9",
            "1::2::3",
            "12345::",
            "g::",
            "1:2:3:4:5:6:7:8::",
            "::1.2.3",
            "1.2.3.4::",
            ":1::",
            "1:",
            "::1:",
            "1:2:3:4:5:6:7::8",
        ] {
            assert_eq!(
                bad.parse::<Ipv6Address>(),
                Err(AddressParseError),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn classification_and_solicited_node() {
        let ll: Ipv6Address = "fe80::1:2ff:fe00:1".parse().unwrap();
        assert!(ll.is_link_local() && ll.is_unicast() && !ll.is_multicast());
        assert!(Ipv6Address::LINK_LOCAL_ALL_NODES.is_multicast());
        assert!(!Ipv6Address::UNSPECIFIED.is_unicast());
        assert!(Ipv6Address::LOOPBACK.is_loopback());
        // RFC 4291 2.7.1: ff02:0:0:0:0:1:ff00::/104 plus the low 24 bits.
        assert_eq!(show(ll.solicited_node()), "ff02::1:ff00:1");
        let doc: Ipv6Address = "2001:db8::aa:bbcc:ddee".parse().unwrap();
        assert_eq!(show(doc.solicited_node()), "ff02::1:ffcc:ddee");
    }

    #[test]
    fn cidr_contains_and_parses() {
        let cidr: Ipv6Cidr = "2001:db8:1::/48".parse().unwrap();
        assert!(cidr.contains("2001:db8:1:ffff::1".parse().unwrap()));
        assert!(!cidr.contains("2001:db8:2::1".parse().unwrap()));
        assert!(
            Ipv6Cidr::new(Ipv6Address::UNSPECIFIED, 0)
                .unwrap()
                .contains(Ipv6Address::LOOPBACK)
        );
        assert_eq!(Ipv6Cidr::new(Ipv6Address::LOOPBACK, 129), None);
        assert_eq!("::1/129".parse::<Ipv6Cidr>(), Err(AddressParseError));
        assert_eq!("::1".parse::<Ipv6Cidr>(), Err(AddressParseError));
    }

    #[test]
    fn core_net_round_trip() {
        let addr: Ipv6Address = "2001:db8::42".parse().unwrap();
        let core: core::net::Ipv6Addr = addr.into();
        assert_eq!(core.segments(), addr.segments());
        assert_eq!(Ipv6Address::from(core), addr);
    }
}

#[cfg(test)]
mod packet_tests {
    extern crate std;
    use super::*;
    use std::string::ToString;
    use std::vec::Vec;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// A Linux echo request from 2001:db8:1::ff:fe00:102 to 2001:db8:1::1
    /// (flow label 0xd0023, 64 bytes of ICMPv6; linux-ipv6.pcap frame 28).
    const ECHO_REQUEST: &str = "600d002300403a4020010db800010000000000fffe00010220010db800010000\
        0000000000000001800028f642420001101112131415161718191a1b1c1d1e1f202122232425262728292a2b\
        2c2d2e2f303132333435363738393a3b3c3d3e3f4041424344454647";

    fn addr(text: &str) -> Ipv6Address {
        text.parse().unwrap()
    }

    #[test]
    fn linux_header_fields_and_round_trip() {
        let bytes = hex(ECHO_REQUEST);
        let packet = Ipv6Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.version(), 6);
        assert_eq!(
            (packet.traffic_class(), packet.dscp(), packet.ecn()),
            (0, 0, 0)
        );
        assert_eq!(packet.flow_label(), 0xd0023);
        assert_eq!(packet.payload_len(), 64);
        assert_eq!(packet.next_header(), IpProtocol::Icmpv6);
        assert_eq!(packet.hop_limit(), 64);
        assert_eq!(packet.payload(), &bytes[40..]);
        let repr = Ipv6Repr::parse(&packet).unwrap();
        assert_eq!(
            repr,
            Ipv6Repr {
                src_addr: addr("2001:db8:1::ff:fe00:102"),
                dst_addr: addr("2001:db8:1::1"),
                next_header: IpProtocol::Icmpv6,
                payload_len: 64,
                hop_limit: 64,
                traffic_class: 0,
                flow_label: 0xd0023,
            }
        );
        assert_eq!(
            packet.to_string(),
            "IPv6 src=2001:db8:1::ff:fe00:102 dst=2001:db8:1::1 nxt=ICMPv6 len=64 hlim=64 \
             flow=0xd0023"
        );
        let mut out = bytes.clone();
        out[..40].fill(0);
        repr.emit(&mut Ipv6Packet::new_unchecked(&mut out[..]));
        assert_eq!(out, bytes);
        let ip: IpRepr = repr.into();
        assert_eq!(
            Ipv6Repr::from_ip_repr(&ip),
            Some(Ipv6Repr {
                flow_label: 0,
                ..repr
            })
        );
        assert_eq!(
            Ipv6Repr::from_ip_repr(&IpRepr {
                src_addr: IpAddress::v4(192, 0, 2, 1),
                ..ip
            }),
            None
        );
    }

    #[test]
    fn setters_keep_neighbouring_bits() {
        let mut bytes = [0u8; 40];
        let mut packet = Ipv6Packet::new_unchecked(&mut bytes[..]);
        packet.set_version(6);
        packet.set_flow_label(0xfffff);
        packet.set_traffic_class(0xb9);
        assert_eq!(packet.flow_label(), 0xfffff);
        packet.set_ecn(0b10);
        assert_eq!((packet.dscp(), packet.ecn()), (0xb9 >> 2, 0b10));
        assert_eq!(packet.traffic_class(), 0xba);
        packet.set_flow_label(0x1234567);
        assert_eq!(packet.flow_label(), 0x34567);
        assert_eq!((packet.version(), packet.traffic_class()), (6, 0xba));
        packet.set_payload_len(0);
        packet.set_next_header(IpProtocol::Ipv6NoNxt);
        packet.set_hop_limit(255);
        packet.set_src_addr(Ipv6Address::LOOPBACK);
        packet.set_dst_addr(Ipv6Address::LINK_LOCAL_ALL_NODES);
        assert_eq!(&bytes[..8], &[0x6b, 0xa3, 0x45, 0x67, 0, 0, 59, 255]);
        let packet = Ipv6Packet::new_checked(&bytes[..]).unwrap();
        let repr = Ipv6Repr::parse(&packet).unwrap();
        assert_eq!((repr.ecn(), repr.traffic_class), (0b10, 0xba));
        assert!(packet.payload().is_empty());
        assert_eq!(
            packet.to_string(),
            "IPv6 src=::1 dst=ff02::1 nxt=IPv6 no next header len=0 hlim=255 tc=0xba \
             flow=0x34567"
        );
    }

    #[test]
    fn errors() {
        let bytes = hex(ECHO_REQUEST);
        for len in 0..40 {
            assert_eq!(
                Ipv6Packet::new_checked(&bytes[..len]),
                Err(Error::Truncated)
            );
            assert_eq!(
                Ipv6Repr::parse(&Ipv6Packet::new_unchecked(&bytes[..len])),
                Err(Error::Truncated)
            );
            assert_eq!(Ipv6Repr::parse_quoted(&bytes[..len]), Err(Error::Truncated));
            assert_eq!(
                Ipv6Packet::new_unchecked(&bytes[..len]).to_string(),
                "IPv6 (truncated header)"
            );
        }
        for len in 40..bytes.len() {
            assert_eq!(
                Ipv6Packet::new_checked(&bytes[..len]),
                Err(Error::LengthPastBuffer)
            );
            // A quoted header may describe more than what is quoted.
            let (repr, rest) = Ipv6Repr::parse_quoted(&bytes[..len]).unwrap();
            assert_eq!((repr.payload_len, rest.len()), (64, len - 40));
        }
        let mut v4 = bytes.clone();
        v4[0] = 0x45;
        let packet = Ipv6Packet::new_checked(&v4[..]).unwrap();
        assert_eq!(Ipv6Repr::parse(&packet), Err(Error::BadVersion));
        assert_eq!(Ipv6Repr::parse_quoted(&v4), Err(Error::BadVersion));
        // Padding after the payload is not payload.
        let mut padded = bytes.clone();
        padded.extend_from_slice(&[0; 4]);
        let packet = Ipv6Packet::new_checked(&padded[..]).unwrap();
        assert_eq!(packet.payload(), &bytes[40..]);
    }
}
