//! IPv4 addresses, prefixes and packets (RFC 791).

use core::fmt;

use super::checksum;
use super::ip::{IpAddress, IpEcn, IpProtocol, IpRepr};
use super::{ChecksumCapabilities, Error, Result};

/// A four-octet IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Ipv4Address(pub [u8; 4]);

impl Ipv4Address {
    /// 0.0.0.0.
    pub const UNSPECIFIED: Ipv4Address = Ipv4Address([0; 4]);
    /// 255.255.255.255.
    pub const BROADCAST: Ipv4Address = Ipv4Address([255; 4]);

    /// The address a.b.c.d.
    pub const fn new(a: u8, b: u8, c: u8, d: u8) -> Ipv4Address {
        Ipv4Address([a, b, c, d])
    }

    /// The address from four bytes in network order.
    pub fn from_bytes(bytes: &[u8; 4]) -> Ipv4Address {
        Ipv4Address(*bytes)
    }

    /// The four bytes in network order.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The address as a host-order integer.
    pub const fn to_bits(&self) -> u32 {
        u32::from_be_bytes(self.0)
    }

    /// The address from a host-order integer.
    pub const fn from_bits(bits: u32) -> Ipv4Address {
        Ipv4Address(bits.to_be_bytes())
    }

    /// Whether this is 0.0.0.0.
    pub fn is_unspecified(&self) -> bool {
        self.0 == [0; 4]
    }

    /// Whether this is 255.255.255.255.
    pub fn is_broadcast(&self) -> bool {
        self.0 == [255; 4]
    }

    /// Whether this is in 224.0.0.0/4.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 0xf0 == 224
    }

    /// Whether this is in 127.0.0.0/8.
    pub fn is_loopback(&self) -> bool {
        self.0[0] == 127
    }

    /// Whether the address can name one host: not unspecified, broadcast,
    /// multicast or in the reserved class E range.
    pub fn is_unicast(&self) -> bool {
        !(self.is_unspecified() || self.is_broadcast() || self.is_multicast() || self.0[0] >= 240)
    }
}

impl fmt::Display for Ipv4Address {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let b = self.0;
        write!(f, "{}.{}.{}.{}", b[0], b[1], b[2], b[3])
    }
}

/// An IPv4 address with a prefix length, e.g. 192.0.2.1/24.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Ipv4Cidr {
    address: Ipv4Address,
    prefix_len: u8,
}

impl Ipv4Cidr {
    /// The address with a prefix; `None` if `prefix_len` exceeds 32.
    pub const fn new(address: Ipv4Address, prefix_len: u8) -> Option<Ipv4Cidr> {
        if prefix_len > 32 {
            None
        } else {
            Some(Ipv4Cidr {
                address,
                prefix_len,
            })
        }
    }

    /// The address.
    pub const fn address(&self) -> Ipv4Address {
        self.address
    }

    /// The prefix length (0..=32).
    pub const fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// The netmask as a host-order integer.
    pub const fn mask_bits(&self) -> u32 {
        if self.prefix_len == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix_len as u32)
        }
    }

    /// Whether `addr` is in this prefix.
    pub const fn contains(&self, addr: Ipv4Address) -> bool {
        let mask = self.mask_bits();
        addr.to_bits() & mask == self.address.to_bits() & mask
    }

    /// The subnet's directed broadcast address (none for /31 and /32).
    pub const fn broadcast(&self) -> Option<Ipv4Address> {
        if self.prefix_len >= 31 {
            None
        } else {
            Some(Ipv4Address::from_bits(
                self.address.to_bits() | !self.mask_bits(),
            ))
        }
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)
    }
}

/// Byte offsets of the IPv4 header fields (RFC 791 section 3.1).
mod field {
    use core::ops::Range;
    pub const VER_IHL: usize = 0;
    pub const DSCP_ECN: usize = 1;
    pub const LENGTH: Range<usize> = 2..4;
    pub const IDENT: Range<usize> = 4..6;
    pub const FLG_OFF: Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Range<usize> = 10..12;
    pub const SRC_ADDR: Range<usize> = 12..16;
    pub const DST_ADDR: Range<usize> = 16..20;
}

/// The length of an IPv4 header without options.
pub const HEADER_LEN: usize = 20;

/// The "don't fragment" bit of the flags/offset word.
const FLAG_DF: u16 = 0x4000;
/// The "more fragments" bit of the flags/offset word.
const FLAG_MF: u16 = 0x2000;
/// The reserved (evil) bit of the flags/offset word.
const FLAG_RESERVED: u16 = 0x8000;
/// The fragment offset bits (in units of 8 bytes).
const OFFSET_MASK: u16 = 0x1fff;

/// A zero-copy view of an IPv4 packet, options included.
///
/// After [`new_checked`](Self::new_checked) the buffer holds the whole
/// header (IHL words) and the total length; [`payload`](Self::payload) is
/// the bytes between the header and the total length, so Ethernet padding
/// beyond the total length is ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// A view of `buffer` without checking lengths; accessors may panic on
    /// a short or inconsistent buffer until [`check_len`](Self::check_len)
    /// has passed.
    pub const fn new_unchecked(buffer: T) -> Ipv4Packet<T> {
        Ipv4Packet { buffer }
    }

    /// A view of `buffer` whose length fields are consistent with it.
    pub fn new_checked(buffer: T) -> Result<Ipv4Packet<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks the length fields against the buffer:
    /// `Truncated` if the buffer is shorter than 20 bytes or than the header
    /// IHL announces, `BadIhl` if IHL is below 5, `LengthTooSmall` if the
    /// total length is smaller than the header, `LengthPastBuffer` if it is
    /// larger than the buffer.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let header_len = usize::from(self.header_len());
        if header_len < HEADER_LEN {
            return Err(Error::BadIhl);
        }
        if len < header_len {
            return Err(Error::Truncated);
        }
        let total_len = usize::from(self.total_len());
        if total_len < header_len {
            return Err(Error::LengthTooSmall);
        }
        if total_len > len {
            return Err(Error::LengthPastBuffer);
        }
        Ok(())
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The version field (4 for IPv4).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// The header length in bytes (IHL * 4), options included.
    pub fn header_len(&self) -> u8 {
        (self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// The Differentiated Services code point (RFC 2474).
    pub fn dscp(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] >> 2
    }

    /// The ECN field (RFC 3168 section 5).
    pub fn ecn(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] & 0x03
    }

    /// The total length of the datagram in bytes.
    pub fn total_len(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::LENGTH];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// The identification field.
    pub fn ident(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::IDENT];
        u16::from_be_bytes([b[0], b[1]])
    }

    fn flags_offset(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::FLG_OFF];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// The reserved flag bit (must be zero, RFC 791).
    pub fn reserved_flag(&self) -> bool {
        self.flags_offset() & FLAG_RESERVED != 0
    }

    /// The "don't fragment" flag.
    pub fn dont_frag(&self) -> bool {
        self.flags_offset() & FLAG_DF != 0
    }

    /// The "more fragments" flag.
    pub fn more_frags(&self) -> bool {
        self.flags_offset() & FLAG_MF != 0
    }

    /// The fragment offset in bytes (the field counts 8-byte units).
    pub fn frag_offset(&self) -> u16 {
        (self.flags_offset() & OFFSET_MASK) << 3
    }

    /// Whether this datagram is a fragment: MF set or a non-zero offset.
    /// Fragments go to reassembly
    /// ([`Reassembler`](crate::iface::reassembly::Reassembler)), never
    /// straight to an upper layer.
    pub fn is_fragment(&self) -> bool {
        self.flags_offset() & (FLAG_MF | OFFSET_MASK) != 0
    }

    /// The time-to-live field.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// The protocol of the payload.
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol::from(self.buffer.as_ref()[field::PROTOCOL])
    }

    /// The header checksum field.
    pub fn checksum(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::CHECKSUM];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// The source address.
    pub fn src_addr(&self) -> Ipv4Address {
        let mut bytes = [0u8; 4];
        bytes.copy_from_slice(&self.buffer.as_ref()[field::SRC_ADDR]);
        Ipv4Address(bytes)
    }

    /// The destination address.
    pub fn dst_addr(&self) -> Ipv4Address {
        let mut bytes = [0u8; 4];
        bytes.copy_from_slice(&self.buffer.as_ref()[field::DST_ADDR]);
        Ipv4Address(bytes)
    }

    /// The options: the header bytes after the fixed 20.
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..usize::from(self.header_len())]
    }

    /// Whether the header checksum verifies (RFC 791 section 3.1).
    pub fn verify_checksum(&self) -> bool {
        let header = &self.buffer.as_ref()[..usize::from(self.header_len())];
        checksum::data(header) == 0xffff
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Ipv4Packet<&'a T> {
    /// The payload: from the end of the header to the total length.
    pub fn payload(&self) -> &'a [u8] {
        let data = self.buffer.as_ref();
        &data[usize::from(self.header_len())..usize::from(self.total_len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    /// Sets the version field.
    pub fn set_version(&mut self, version: u8) {
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0x0f) | (version << 4);
    }

    /// Sets the header length in bytes; it is stored in 4-byte words.
    pub fn set_header_len(&mut self, len: u8) {
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0xf0) | ((len / 4) & 0x0f);
    }

    /// Sets the DSCP.
    pub fn set_dscp(&mut self, dscp: u8) {
        let b = &mut self.buffer.as_mut()[field::DSCP_ECN];
        *b = (*b & 0x03) | (dscp << 2);
    }

    /// Sets the ECN field.
    pub fn set_ecn(&mut self, ecn: u8) {
        let b = &mut self.buffer.as_mut()[field::DSCP_ECN];
        *b = (*b & 0xfc) | (ecn & 0x03);
    }

    /// Sets the total length.
    pub fn set_total_len(&mut self, len: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&len.to_be_bytes());
    }

    /// Sets the identification field.
    pub fn set_ident(&mut self, ident: u16) {
        self.buffer.as_mut()[field::IDENT].copy_from_slice(&ident.to_be_bytes());
    }

    fn set_flags_offset(&mut self, value: u16) {
        self.buffer.as_mut()[field::FLG_OFF].copy_from_slice(&value.to_be_bytes());
    }

    fn set_flag(&mut self, flag: u16, on: bool) {
        let value = self.flags_offset();
        self.set_flags_offset(if on { value | flag } else { value & !flag });
    }

    /// Sets the reserved flag bit.
    pub fn set_reserved_flag(&mut self, on: bool) {
        self.set_flag(FLAG_RESERVED, on);
    }

    /// Sets the "don't fragment" flag.
    pub fn set_dont_frag(&mut self, on: bool) {
        self.set_flag(FLAG_DF, on);
    }

    /// Sets the "more fragments" flag.
    pub fn set_more_frags(&mut self, on: bool) {
        self.set_flag(FLAG_MF, on);
    }

    /// Sets the fragment offset in bytes (a multiple of 8; lower bits are
    /// dropped).
    pub fn set_frag_offset(&mut self, offset: u16) {
        let value = self.flags_offset() & !OFFSET_MASK;
        self.set_flags_offset(value | ((offset >> 3) & OFFSET_MASK));
    }

    /// Sets the time-to-live field.
    pub fn set_hop_limit(&mut self, ttl: u8) {
        self.buffer.as_mut()[field::TTL] = ttl;
    }

    /// Sets the protocol field.
    pub fn set_next_header(&mut self, protocol: IpProtocol) {
        self.buffer.as_mut()[field::PROTOCOL] = u8::from(protocol);
    }

    /// Sets the header checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, addr: Ipv4Address) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&addr.0);
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, addr: Ipv4Address) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&addr.0);
    }

    /// The options, mutable.
    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.header_len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }

    /// The payload (header end to total length), mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = usize::from(self.header_len());
        let end = usize::from(self.total_len());
        &mut self.buffer.as_mut()[start..end]
    }

    /// Computes the header checksum and writes it into the header.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let end = usize::from(self.header_len());
        let sum = checksum::data(&self.buffer.as_ref()[..end]);
        self.set_checksum(!sum);
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Ipv4Packet<T> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if let Err(err) = self.check_len() {
            return write!(f, "IPv4 ({err})");
        }
        write!(
            f,
            "IPv4 src={} dst={} proto={} len={} ttl={} id={}",
            self.src_addr(),
            self.dst_addr(),
            self.next_header(),
            self.total_len(),
            self.hop_limit(),
            self.ident()
        )?;
        if self.dont_frag() {
            f.write_str(" DF")?;
        }
        if self.more_frags() {
            f.write_str(" MF")?;
        }
        if self.frag_offset() != 0 {
            write!(f, " off={}", self.frag_offset())?;
        }
        if self.header_len() > HEADER_LEN as u8 {
            write!(f, " opts={}", self.header_len() - HEADER_LEN as u8)?;
        }
        Ok(())
    }
}

/// A high-level representation of an IPv4 header.
///
/// Options are skipped when parsing and never emitted; the identification
/// field is emitted as zero and DSCP/ECN as zero (the interface sets them on
/// the packet view when it needs other values). RFC 6864 section 4.1 allows
/// any identification on atomic datagrams (DF set, not a fragment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Ipv4Repr {
    /// Source address.
    pub src_addr: Ipv4Address,
    /// Destination address.
    pub dst_addr: Ipv4Address,
    /// Protocol of the payload.
    pub next_header: IpProtocol,
    /// Payload length in bytes (total length minus header length).
    pub payload_len: usize,
    /// Time to live.
    pub hop_limit: u8,
    /// The "don't fragment" flag (set for path MTU discovery, RFC 1191).
    pub dont_frag: bool,
    /// The ECN field, the low two bits of the TOS byte (RFC 3168 section
    /// 5); the DSCP bits above it are parsed as and emitted as zero.
    pub ecn: IpEcn,
}

impl Ipv4Repr {
    /// Parses an IPv4 header.
    ///
    /// Fails with the [`Ipv4Packet::check_len`] errors, `BadVersion` if the
    /// version is not 4, `BadChecksum` if `caps.ipv4` asks for verification
    /// and the header checksum fails, and `Fragmented` for a fragment
    /// (MF set or a non-zero offset): a fragment is refused here rather
    /// than handed up as if it were whole; reassembly takes the packet
    /// view instead. [`Ipv4Packet::is_fragment`] tells the same without
    /// parsing.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &Ipv4Packet<&T>,
        caps: &ChecksumCapabilities,
    ) -> Result<Ipv4Repr> {
        packet.check_len()?;
        if packet.version() != 4 {
            return Err(Error::BadVersion);
        }
        if caps.ipv4.rx() && !packet.verify_checksum() {
            return Err(Error::BadChecksum);
        }
        if packet.is_fragment() {
            return Err(Error::Fragmented);
        }
        Ok(Ipv4Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            next_header: packet.next_header(),
            payload_len: usize::from(packet.total_len()) - usize::from(packet.header_len()),
            hop_limit: packet.hop_limit(),
            dont_frag: packet.dont_frag(),
            ecn: IpEcn::from_bits(packet.ecn()),
        })
    }

    /// Parses the header quoted in an ICMP error (RFC 792): the quoted
    /// datagram is cut after a few payload bytes, so its total length
    /// describes the original and is not checked against the buffer, and its
    /// checksum is not verified (a router quotes what it received). Returns
    /// the header and the quoted payload bytes after it.
    pub(crate) fn parse_quoted(data: &[u8]) -> Result<(Ipv4Repr, &[u8])> {
        let packet = Ipv4Packet::new_unchecked(data);
        if data.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let header_len = usize::from(packet.header_len());
        if header_len < HEADER_LEN {
            return Err(Error::BadIhl);
        }
        if packet.version() != 4 {
            return Err(Error::BadVersion);
        }
        let rest = data.get(header_len..).ok_or(Error::Truncated)?;
        let total_len = usize::from(packet.total_len());
        if total_len < header_len {
            return Err(Error::LengthTooSmall);
        }
        let repr = Ipv4Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            next_header: packet.next_header(),
            payload_len: total_len - header_len,
            hop_limit: packet.hop_limit(),
            dont_frag: packet.dont_frag(),
            ecn: IpEcn::from_bits(packet.ecn()),
        };
        Ok((repr, rest))
    }

    /// The header length [`emit`](Self::emit) writes (20, no options).
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// The number of bytes [`emit`](Self::emit) writes: the 20-byte header
    /// (the payload follows it in the buffer, written by the caller).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header into `packet`, whose buffer must hold at least the
    /// 20-byte header (the caller sizes it; a shorter buffer is a caller bug
    /// and panics). The checksum is filled when `caps.ipv4` says software
    /// transmits it, else left zero for the device.
    ///
    /// `payload_len` must not exceed 65515 (the total length is 16 bits);
    /// larger values are a caller bug, and the field saturates.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Ipv4Packet<T>,
        caps: &ChecksumCapabilities,
    ) {
        let total_len =
            u16::try_from(HEADER_LEN.saturating_add(self.payload_len)).unwrap_or(u16::MAX);
        let flags = if self.dont_frag { FLAG_DF } else { 0 };
        let header = &mut packet.buffer.as_mut()[..HEADER_LEN];
        header[field::VER_IHL] = 0x45;
        header[field::DSCP_ECN] = self.ecn.bits();
        header[field::LENGTH].copy_from_slice(&total_len.to_be_bytes());
        header[field::IDENT].copy_from_slice(&[0, 0]);
        header[field::FLG_OFF].copy_from_slice(&flags.to_be_bytes());
        header[field::TTL] = self.hop_limit;
        header[field::PROTOCOL] = u8::from(self.next_header);
        header[field::CHECKSUM].copy_from_slice(&[0, 0]);
        header[field::SRC_ADDR].copy_from_slice(&self.src_addr.0);
        header[field::DST_ADDR].copy_from_slice(&self.dst_addr.0);
        if caps.ipv4.tx() {
            let sum = checksum::data(header);
            header[field::CHECKSUM].copy_from_slice(&(!sum).to_be_bytes());
        }
    }

    /// The IPv4 header for a version-neutral one; `None` unless both
    /// addresses are IPv4.
    pub fn from_ip_repr(repr: &IpRepr, dont_frag: bool) -> Option<Ipv4Repr> {
        let (Some(src_addr), Some(dst_addr)) = (repr.src_addr.as_ipv4(), repr.dst_addr.as_ipv4())
        else {
            return None;
        };
        Some(Ipv4Repr {
            src_addr,
            dst_addr,
            next_header: repr.next_header,
            payload_len: repr.payload_len,
            hop_limit: repr.hop_limit,
            dont_frag,
            ecn: repr.ecn,
        })
    }
}

impl From<Ipv4Repr> for IpRepr {
    fn from(repr: Ipv4Repr) -> IpRepr {
        IpRepr {
            src_addr: IpAddress::Ipv4(repr.src_addr),
            dst_addr: IpAddress::Ipv4(repr.dst_addr),
            next_header: repr.next_header,
            payload_len: repr.payload_len,
            hop_limit: repr.hop_limit,
            ecn: repr.ecn,
        }
    }
}

impl fmt::Display for Ipv4Repr {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "IPv4 src={} dst={} proto={} payload={} ttl={}{}",
            self.src_addr,
            self.dst_addr,
            self.next_header,
            self.payload_len,
            self.hop_limit,
            if self.dont_frag { " DF" } else { "" }
        )
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::wire::Checksum;
    use std::string::ToString;
    use std::vec::Vec;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// The IPv4 header and TCP segment of a Linux SYN (192.0.2.1 ->
    /// 192.0.2.2, id 0x06b1, DF, TTL 64), captured on a veth pair.
    const SYN: &str = "4500003c06b140004006b007c0000201c0000202\
                       aed013880c9c5adb00000000a002faf098920000020405b40402080a3d66c93f00000000\
                       0103030a";
    /// The IPv4 part of a Linux ICMP echo reply: no DF, id 0x960f.
    const ECHO_REPLY: &str = "45000054960f000040016096c0000202c0000201\
        00008f4d1efa00011e9b046b0000000062de0d0000000000101112131415161718191a1b1c1d1e1f\
        202122232425262728292a2b2c2d2e2f3031323334353637";

    fn caps() -> ChecksumCapabilities {
        ChecksumCapabilities::default()
    }

    #[test]
    fn view_fields_of_a_real_header() {
        let bytes = hex(SYN);
        let packet = Ipv4Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.version(), 4);
        assert_eq!(packet.header_len(), 20);
        assert_eq!(packet.dscp(), 0);
        assert_eq!(packet.ecn(), 0);
        assert_eq!(packet.total_len(), 60);
        assert_eq!(packet.ident(), 0x06b1);
        assert!(packet.dont_frag());
        assert!(!packet.more_frags());
        assert!(!packet.reserved_flag());
        assert_eq!(packet.frag_offset(), 0);
        assert!(!packet.is_fragment());
        assert_eq!(packet.hop_limit(), 64);
        assert_eq!(packet.next_header(), IpProtocol::Tcp);
        assert_eq!(packet.checksum(), 0xb007);
        assert_eq!(packet.src_addr(), Ipv4Address::new(192, 0, 2, 1));
        assert_eq!(packet.dst_addr(), Ipv4Address::new(192, 0, 2, 2));
        assert!(packet.options().is_empty());
        assert_eq!(packet.payload().len(), 40);
        assert!(packet.verify_checksum());
        assert_eq!(
            packet.to_string(),
            "IPv4 src=192.0.2.1 dst=192.0.2.2 proto=TCP len=60 ttl=64 id=1713 DF"
        );
    }

    /// Parse, emit, then restore the fields the repr does not carry
    /// (identification, DSCP/ECN): the header must be the kernel's again.
    fn assert_reemits(bytes: &[u8]) {
        let packet = Ipv4Packet::new_checked(bytes).unwrap();
        let repr = Ipv4Repr::parse(&packet, &caps()).unwrap();
        let mut out = [0u8; HEADER_LEN];
        let mut emitted = Ipv4Packet::new_unchecked(&mut out[..]);
        repr.emit(&mut emitted, &caps());
        assert!(emitted.verify_checksum());
        emitted.set_ident(packet.ident());
        emitted.set_dscp(packet.dscp());
        emitted.set_ecn(packet.ecn());
        emitted.fill_checksum();
        assert_eq!(&out[..], &bytes[..HEADER_LEN]);
    }

    #[test]
    fn real_headers_reemit() {
        assert_reemits(&hex(SYN));
        assert_reemits(&hex(ECHO_REPLY));
        let packet_bytes = hex(ECHO_REPLY);
        let packet = Ipv4Packet::new_checked(&packet_bytes[..]).unwrap();
        let repr = Ipv4Repr::parse(&packet, &caps()).unwrap();
        assert_eq!(
            repr,
            Ipv4Repr {
                src_addr: Ipv4Address::new(192, 0, 2, 2),
                dst_addr: Ipv4Address::new(192, 0, 2, 1),
                next_header: IpProtocol::Icmp,
                payload_len: 64,
                hop_limit: 64,
                dont_frag: false,
                ecn: crate::wire::IpEcn::NotEct,
            }
        );
    }

    #[test]
    fn emit_parse_round_trip() {
        for dont_frag in [false, true] {
            let repr = Ipv4Repr {
                src_addr: Ipv4Address::new(192, 0, 2, 10),
                dst_addr: Ipv4Address::new(192, 0, 2, 20),
                next_header: IpProtocol::Unknown(253),
                payload_len: 3,
                hop_limit: 1,
                dont_frag,
                ecn: crate::wire::IpEcn::NotEct,
            };
            let mut out = [0u8; 23];
            repr.emit(&mut Ipv4Packet::new_unchecked(&mut out[..]), &caps());
            let packet = Ipv4Packet::new_checked(&out[..]).unwrap();
            assert_eq!(Ipv4Repr::parse(&packet, &caps()), Ok(repr));
            assert_eq!(repr.buffer_len(), 20);
            let ip: IpRepr = repr.into();
            assert_eq!(Ipv4Repr::from_ip_repr(&ip, dont_frag), Some(repr));
        }
    }

    #[test]
    fn ecn_field_exact_bytes() {
        use crate::wire::IpEcn;
        // RFC 3168 section 5: the TOS byte's low two bits; the header
        // checksum covers them (RFC 791), so each codepoint changes it.
        let mut repr = Ipv4Repr {
            src_addr: Ipv4Address::new(192, 0, 2, 1),
            dst_addr: Ipv4Address::new(192, 0, 2, 2),
            next_header: IpProtocol::Tcp,
            payload_len: 20,
            hop_limit: 64,
            dont_frag: true,
            ecn: IpEcn::NotEct,
        };
        for (ecn, tos, checksum) in [
            (IpEcn::NotEct, 0x00, [0xb6, 0xcc]),
            (IpEcn::Ect1, 0x01, [0xb6, 0xcb]),
            (IpEcn::Ect0, 0x02, [0xb6, 0xca]),
            (IpEcn::Ce, 0x03, [0xb6, 0xc9]),
        ] {
            repr.ecn = ecn;
            let mut out = [0u8; 40];
            repr.emit(&mut Ipv4Packet::new_unchecked(&mut out[..]), &caps());
            assert_eq!(
                &out[..20],
                &[
                    0x45,
                    tos,
                    0x00,
                    0x28,
                    0x00,
                    0x00,
                    0x40,
                    0x00,
                    0x40,
                    0x06,
                    checksum[0],
                    checksum[1],
                    192,
                    0,
                    2,
                    1,
                    192,
                    0,
                    2,
                    2
                ],
                "{ecn:?}"
            );
            let packet = Ipv4Packet::new_checked(&out[..]).unwrap();
            assert!(packet.verify_checksum());
            assert_eq!(Ipv4Repr::parse(&packet, &caps()).unwrap().ecn, ecn);
            assert_eq!(IpEcn::from_bits(tos), ecn);
            assert_eq!(ecn.bits(), tos);
            let ip: IpRepr = repr.into();
            assert_eq!(ip.ecn, ecn);
        }
        // DSCP bits are not ECN: a parsed TOS of 0xb9 (EF + ECT(1)).
        let mut out = [0u8; 40];
        repr.emit(&mut Ipv4Packet::new_unchecked(&mut out[..]), &caps());
        let mut packet = Ipv4Packet::new_unchecked(&mut out[..]);
        packet.set_dscp(0x2e);
        packet.set_ecn(0b01);
        packet.fill_checksum();
        let packet = Ipv4Packet::new_checked(&out[..]).unwrap();
        assert_eq!(Ipv4Repr::parse(&packet, &caps()).unwrap().ecn, IpEcn::Ect1);
    }

    #[test]
    fn emit_leaves_checksum_to_the_device_when_asked() {
        let bytes = hex(SYN);
        let repr = Ipv4Repr::parse(&Ipv4Packet::new_checked(&bytes[..]).unwrap(), &caps()).unwrap();
        let tx_offload = ChecksumCapabilities {
            ipv4: Checksum::Rx,
            ..caps()
        };
        let mut out = [0xffu8; 20];
        repr.emit(&mut Ipv4Packet::new_unchecked(&mut out[..]), &tx_offload);
        assert_eq!(&out[10..12], &[0, 0]);
    }

    #[test]
    fn length_errors() {
        let bytes = hex(SYN);
        for len in 0..20 {
            assert_eq!(
                Ipv4Packet::new_checked(&bytes[..len]).unwrap_err(),
                Error::Truncated
            );
        }
        // IHL below 5.
        for ihl in 0..5u8 {
            let mut bad = bytes.clone();
            bad[0] = 0x40 | ihl;
            assert_eq!(
                Ipv4Packet::new_checked(&bad[..]).unwrap_err(),
                Error::BadIhl
            );
            let packet = Ipv4Packet::new_unchecked(&bad[..]);
            assert_eq!(Ipv4Repr::parse(&packet, &caps()), Err(Error::BadIhl));
        }
        // IHL 15 (60 bytes) past a 24-byte buffer.
        let mut bad = bytes.clone();
        bad[0] = 0x4f;
        assert_eq!(
            Ipv4Packet::new_checked(&bad[..24]).unwrap_err(),
            Error::Truncated
        );
        // Total length smaller than the header.
        let mut bad = bytes.clone();
        bad[2..4].copy_from_slice(&19u16.to_be_bytes());
        assert_eq!(
            Ipv4Packet::new_checked(&bad[..]).unwrap_err(),
            Error::LengthTooSmall
        );
        // Total length past the buffer.
        let mut bad = bytes.clone();
        bad[2..4].copy_from_slice(&61u16.to_be_bytes());
        assert_eq!(
            Ipv4Packet::new_checked(&bad[..]).unwrap_err(),
            Error::LengthPastBuffer
        );
        assert_eq!(
            Ipv4Repr::parse(&Ipv4Packet::new_unchecked(&bad[..]), &caps()),
            Err(Error::LengthPastBuffer)
        );
    }

    #[test]
    fn ethernet_padding_is_not_payload() {
        let mut bytes = hex(SYN);
        bytes.extend_from_slice(&[0; 6]);
        let packet = Ipv4Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.payload().len(), 40);
        let repr = Ipv4Repr::parse(&packet, &caps()).unwrap();
        assert_eq!(repr.payload_len, 40);
    }

    #[test]
    fn version_and_checksum_errors() {
        let mut bad = hex(SYN);
        bad[0] = 0x65;
        assert_eq!(
            Ipv4Repr::parse(&Ipv4Packet::new_checked(&bad[..]).unwrap(), &caps()),
            Err(Error::BadVersion)
        );
        let mut bad = hex(SYN);
        bad[8] = 63; // TTL changed without fixing the checksum
        let packet = Ipv4Packet::new_checked(&bad[..]).unwrap();
        assert!(!packet.verify_checksum());
        assert_eq!(Ipv4Repr::parse(&packet, &caps()), Err(Error::BadChecksum));
        let repr = Ipv4Repr::parse(&packet, &ChecksumCapabilities::ignored()).unwrap();
        assert_eq!(repr.hop_limit, 63);
        // The incremental update of RFC 1624 repairs it.
        let mut fixed = bad.clone();
        let old = u16::from_be_bytes([64, 6]);
        let new = u16::from_be_bytes([63, 6]);
        let updated = checksum::update(0xb007, old, new);
        fixed[10..12].copy_from_slice(&updated.to_be_bytes());
        assert!(
            Ipv4Packet::new_checked(&fixed[..])
                .unwrap()
                .verify_checksum()
        );
    }

    #[test]
    fn fragments_are_recognised() {
        let bytes = hex(SYN);
        // First fragment: MF set, offset 0.
        let mut first = bytes.clone();
        let mut packet = Ipv4Packet::new_unchecked(&mut first[..]);
        packet.set_dont_frag(false);
        packet.set_more_frags(true);
        packet.fill_checksum();
        let packet = Ipv4Packet::new_checked(&first[..]).unwrap();
        assert!(packet.is_fragment() && packet.more_frags());
        assert_eq!(Ipv4Repr::parse(&packet, &caps()), Err(Error::Fragmented));
        // Last fragment: MF clear, offset 1480.
        let mut last = bytes.clone();
        let mut packet = Ipv4Packet::new_unchecked(&mut last[..]);
        packet.set_dont_frag(false);
        packet.set_frag_offset(1480);
        packet.fill_checksum();
        assert_eq!(&last[6..8], &[0x00, 0xb9]);
        let packet = Ipv4Packet::new_checked(&last[..]).unwrap();
        assert_eq!(packet.frag_offset(), 1480);
        assert!(packet.is_fragment() && !packet.more_frags());
        assert_eq!(Ipv4Repr::parse(&packet, &caps()), Err(Error::Fragmented));
        assert!(packet.to_string().ends_with(" off=1480"));
    }

    #[test]
    fn options_are_kept_in_the_view_and_skipped_by_the_repr() {
        // A header with a Router Alert option (RFC 2113): IHL 6.
        let syn = hex(SYN);
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&syn[..20]);
        bytes.extend_from_slice(&[0x94, 0x04, 0x00, 0x00]);
        bytes.extend_from_slice(&syn[20..]);
        let mut packet = Ipv4Packet::new_unchecked(&mut bytes[..]);
        packet.set_header_len(24);
        packet.set_total_len(64);
        packet.fill_checksum();
        let packet = Ipv4Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.header_len(), 24);
        assert_eq!(packet.options(), &[0x94, 0x04, 0x00, 0x00]);
        assert_eq!(packet.payload(), &syn[20..]);
        let repr = Ipv4Repr::parse(&packet, &caps()).unwrap();
        assert_eq!(repr.payload_len, 40);
        assert_eq!(repr.header_len(), 20);
    }

    #[test]
    fn setters() {
        let mut bytes = [0u8; 24];
        let mut packet = Ipv4Packet::new_unchecked(&mut bytes[..]);
        packet.set_version(4);
        packet.set_header_len(20);
        packet.set_dscp(46);
        packet.set_ecn(2);
        packet.set_total_len(24);
        packet.set_ident(0xbeef);
        packet.set_reserved_flag(true);
        packet.set_dont_frag(true);
        packet.set_more_frags(true);
        packet.set_frag_offset(8 * 0x1fff);
        packet.set_hop_limit(9);
        packet.set_next_header(IpProtocol::Udp);
        packet.set_src_addr(Ipv4Address::new(192, 0, 2, 1));
        packet.set_dst_addr(Ipv4Address::new(192, 0, 2, 2));
        packet.payload_mut().copy_from_slice(&[1, 2, 3, 4]);
        packet.fill_checksum();
        let packet = Ipv4Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.version(), 4);
        assert_eq!(packet.dscp(), 46);
        assert_eq!(packet.ecn(), 2);
        assert_eq!(packet.ident(), 0xbeef);
        assert!(packet.reserved_flag() && packet.dont_frag() && packet.more_frags());
        assert_eq!(packet.frag_offset(), 8 * 0x1fff);
        assert_eq!(packet.hop_limit(), 9);
        assert_eq!(packet.next_header(), IpProtocol::Udp);
        assert!(packet.verify_checksum());
        assert_eq!(packet.payload(), &[1, 2, 3, 4]);
        assert_eq!(&bytes[..8], &[0x45, 0xba, 0, 24, 0xbe, 0xef, 0xff, 0xff]);
    }

    #[test]
    fn quoted_header_parse() {
        // An ICMP error quotes the header and 8 payload bytes; the total
        // length describes the original datagram.
        let syn = hex(SYN);
        let (repr, rest) = Ipv4Repr::parse_quoted(&syn[..28]).unwrap();
        assert_eq!(repr.payload_len, 40);
        assert_eq!(rest, &syn[20..28]);
        assert_eq!(Ipv4Repr::parse_quoted(&syn[..19]), Err(Error::Truncated));
        let mut bad = syn.clone();
        bad[0] = 0x4f;
        assert_eq!(Ipv4Repr::parse_quoted(&bad[..28]), Err(Error::Truncated));
        bad[0] = 0x44;
        assert_eq!(Ipv4Repr::parse_quoted(&bad[..28]), Err(Error::BadIhl));
    }
}

/// Text that is not an address of the expected form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AddressParseError;

impl fmt::Display for AddressParseError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("not a valid address")
    }
}

impl core::error::Error for AddressParseError {}

/// Parses a decimal octet (0..=255) without sign or surrounding space.
fn parse_octet(text: &str) -> core::result::Result<u8, AddressParseError> {
    if text.is_empty() || text.len() > 3 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AddressParseError);
    }
    text.parse().map_err(|_| AddressParseError)
}

/// Dotted-quad text, e.g. `192.0.2.1`.
impl core::str::FromStr for Ipv4Address {
    type Err = AddressParseError;

    fn from_str(text: &str) -> core::result::Result<Self, Self::Err> {
        let mut octets = [0u8; 4];
        let mut parts = text.split('.');
        for octet in octets.iter_mut() {
            *octet = parse_octet(parts.next().ok_or(AddressParseError)?)?;
        }
        if parts.next().is_some() {
            return Err(AddressParseError);
        }
        Ok(Ipv4Address(octets))
    }
}

/// `ADDRESS/PREFIX`, e.g. `192.0.2.1/24`.
impl core::str::FromStr for Ipv4Cidr {
    type Err = AddressParseError;

    fn from_str(text: &str) -> core::result::Result<Self, Self::Err> {
        let (address, prefix) = text.split_once('/').ok_or(AddressParseError)?;
        let prefix = parse_octet(prefix)?;
        Ipv4Cidr::new(address.parse()?, prefix).ok_or(AddressParseError)
    }
}

#[cfg(test)]
mod parse_tests {
    use super::*;

    #[test]
    fn addresses_and_prefixes_parse_exactly() {
        assert_eq!("192.0.2.1".parse(), Ok(Ipv4Address::new(192, 0, 2, 1)));
        assert_eq!("0.0.0.0".parse(), Ok(Ipv4Address::UNSPECIFIED));
        assert_eq!("255.255.255.255".parse(), Ok(Ipv4Address::BROADCAST));
        for bad in [
            "",
            "1.2.3",
            "1.2.3.4.5",
            "256.0.0.1",
            "1..2.3",
            "+1.2.3.4",
            " 1.2.3.4",
            "1.2.3.0004",
            "a.b.c.d",
        ] {
            assert_eq!(
                bad.parse::<Ipv4Address>(),
                Err(AddressParseError),
                "{bad:?}"
            );
        }
        let cidr: Ipv4Cidr = "192.0.2.1/24".parse().unwrap();
        assert_eq!(
            (cidr.address(), cidr.prefix_len()),
            (Ipv4Address::new(192, 0, 2, 1), 24)
        );
        for bad in [
            "192.0.2.1",
            "192.0.2.1/33",
            "192.0.2.1/",
            "/24",
            "192.0.2.1/-1",
        ] {
            assert_eq!(bad.parse::<Ipv4Cidr>(), Err(AddressParseError), "{bad:?}");
        }
    }
}
