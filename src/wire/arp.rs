//! ARP packets (RFC 826), for Ethernet hardware and IPv4 protocol addresses.

use core::fmt;

use super::{Error, EthernetAddress, Ipv4Address, Result};

/// The ARP hardware type for Ethernet (RFC 826; IANA "Hardware Types" 1).
pub const HARDWARE_ETHERNET: u16 = 1;
/// The ARP protocol type for IPv4 (the IPv4 EtherType).
pub const PROTOCOL_IPV4: u16 = 0x0800;

/// The ARP operation field (RFC 826).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ArpOperation {
    /// A request (1): who has the target protocol address?
    Request,
    /// A reply (2): the sender has the sender protocol address.
    Reply,
    /// Any other operation code (e.g. RARP's 3 and 4).
    Unknown(u16),
}

impl From<u16> for ArpOperation {
    fn from(value: u16) -> Self {
        match value {
            1 => ArpOperation::Request,
            2 => ArpOperation::Reply,
            other => ArpOperation::Unknown(other),
        }
    }
}

impl From<ArpOperation> for u16 {
    fn from(value: ArpOperation) -> u16 {
        match value {
            ArpOperation::Request => 1,
            ArpOperation::Reply => 2,
            ArpOperation::Unknown(other) => other,
        }
    }
}

impl fmt::Display for ArpOperation {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            ArpOperation::Request => f.write_str("request"),
            ArpOperation::Reply => f.write_str("reply"),
            ArpOperation::Unknown(n) => write!(f, "operation {n}"),
        }
    }
}

/// Byte offsets of the fixed ARP fields; the addresses follow at offsets
/// that depend on the two length fields.
mod field {
    use core::ops::Range;
    pub const HTYPE: Range<usize> = 0..2;
    pub const PTYPE: Range<usize> = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Range<usize> = 6..8;
    pub const ADDRESSES: usize = 8;
}

/// A zero-copy view of an ARP packet of any hardware and protocol type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    /// A view of `buffer` without checking its length; accessors may panic
    /// on a short buffer until [`check_len`](Self::check_len) has passed.
    pub const fn new_unchecked(buffer: T) -> ArpPacket<T> {
        ArpPacket { buffer }
    }

    /// A view of `buffer`, which must hold the fixed fields and the four
    /// addresses their lengths announce.
    pub fn new_checked(buffer: T) -> Result<ArpPacket<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// `Err(Error::Truncated)` if the buffer is shorter than the fixed fields
    /// plus the addresses their length fields announce.
    pub fn check_len(&self) -> Result<()> {
        let data = self.buffer.as_ref();
        if data.len() < field::ADDRESSES {
            return Err(Error::Truncated);
        }
        if data.len() < self.packet_len() {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The length of the packet its length fields announce: the fixed eight
    /// bytes plus two hardware and two protocol addresses.
    pub fn packet_len(&self) -> usize {
        field::ADDRESSES
            + 2 * usize::from(self.hardware_len())
            + 2 * usize::from(self.protocol_len())
    }

    /// The hardware type (1 for Ethernet).
    pub fn hardware_type(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::HTYPE];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// The protocol type (0x0800 for IPv4).
    pub fn protocol_type(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::PTYPE];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// The hardware address length in bytes.
    pub fn hardware_len(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }

    /// The protocol address length in bytes.
    pub fn protocol_len(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }

    /// The operation.
    pub fn operation(&self) -> ArpOperation {
        let b = &self.buffer.as_ref()[field::OPER];
        ArpOperation::from(u16::from_be_bytes([b[0], b[1]]))
    }

    fn hlen(&self) -> usize {
        usize::from(self.hardware_len())
    }

    fn plen(&self) -> usize {
        usize::from(self.protocol_len())
    }

    /// The sender hardware address bytes.
    pub fn source_hardware_addr(&self) -> &[u8] {
        let start = field::ADDRESSES;
        &self.buffer.as_ref()[start..start + self.hlen()]
    }

    /// The sender protocol address bytes.
    pub fn source_protocol_addr(&self) -> &[u8] {
        let start = field::ADDRESSES + self.hlen();
        &self.buffer.as_ref()[start..start + self.plen()]
    }

    /// The target hardware address bytes.
    pub fn target_hardware_addr(&self) -> &[u8] {
        let start = field::ADDRESSES + self.hlen() + self.plen();
        &self.buffer.as_ref()[start..start + self.hlen()]
    }

    /// The target protocol address bytes.
    pub fn target_protocol_addr(&self) -> &[u8] {
        let start = field::ADDRESSES + 2 * self.hlen() + self.plen();
        &self.buffer.as_ref()[start..start + self.plen()]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<T> {
    /// Sets the hardware type.
    pub fn set_hardware_type(&mut self, value: u16) {
        self.buffer.as_mut()[field::HTYPE].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the protocol type.
    pub fn set_protocol_type(&mut self, value: u16) {
        self.buffer.as_mut()[field::PTYPE].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the hardware address length.
    pub fn set_hardware_len(&mut self, value: u8) {
        self.buffer.as_mut()[field::HLEN] = value;
    }

    /// Sets the protocol address length.
    pub fn set_protocol_len(&mut self, value: u8) {
        self.buffer.as_mut()[field::PLEN] = value;
    }

    /// Sets the operation.
    pub fn set_operation(&mut self, value: ArpOperation) {
        self.buffer.as_mut()[field::OPER].copy_from_slice(&u16::from(value).to_be_bytes());
    }

    /// Sets the sender hardware address; its length must equal
    /// [`hardware_len`](ArpPacket::hardware_len).
    pub fn set_source_hardware_addr(&mut self, value: &[u8]) {
        let start = field::ADDRESSES;
        let end = start + self.hlen();
        self.buffer.as_mut()[start..end].copy_from_slice(value);
    }

    /// Sets the sender protocol address; its length must equal
    /// [`protocol_len`](ArpPacket::protocol_len).
    pub fn set_source_protocol_addr(&mut self, value: &[u8]) {
        let start = field::ADDRESSES + self.hlen();
        let end = start + self.plen();
        self.buffer.as_mut()[start..end].copy_from_slice(value);
    }

    /// Sets the target hardware address; its length must equal
    /// [`hardware_len`](ArpPacket::hardware_len).
    pub fn set_target_hardware_addr(&mut self, value: &[u8]) {
        let start = field::ADDRESSES + self.hlen() + self.plen();
        let end = start + self.hlen();
        self.buffer.as_mut()[start..end].copy_from_slice(value);
    }

    /// Sets the target protocol address; its length must equal
    /// [`protocol_len`](ArpPacket::protocol_len).
    pub fn set_target_protocol_addr(&mut self, value: &[u8]) {
        let start = field::ADDRESSES + 2 * self.hlen() + self.plen();
        let end = start + self.plen();
        self.buffer.as_mut()[start..end].copy_from_slice(value);
    }
}

/// The length of an ARP packet for Ethernet and IPv4.
const ETHERNET_IPV4_LEN: usize = field::ADDRESSES + 2 * 6 + 2 * 4;

/// A high-level representation of an ARP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ArpRepr {
    /// ARP for Ethernet hardware addresses and IPv4 protocol addresses.
    EthernetIpv4 {
        /// Request or reply.
        operation: ArpOperation,
        /// The sender's hardware address.
        source_hardware_addr: EthernetAddress,
        /// The sender's IPv4 address.
        source_protocol_addr: Ipv4Address,
        /// The target's hardware address (zero in a request).
        target_hardware_addr: EthernetAddress,
        /// The target's IPv4 address.
        target_protocol_addr: Ipv4Address,
    },
}

impl ArpRepr {
    /// Parses an ARP packet; anything but Ethernet/IPv4 with address lengths
    /// 6 and 4 is `Err(Error::Unrecognized)`.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &ArpPacket<&T>) -> Result<ArpRepr> {
        packet.check_len()?;
        if packet.hardware_type() != HARDWARE_ETHERNET
            || packet.protocol_type() != PROTOCOL_IPV4
            || packet.hardware_len() != 6
            || packet.protocol_len() != 4
        {
            return Err(Error::Unrecognized);
        }
        let mac = |bytes: &[u8]| {
            let mut out = [0u8; 6];
            out.copy_from_slice(bytes);
            EthernetAddress(out)
        };
        let ip = |bytes: &[u8]| {
            let mut out = [0u8; 4];
            out.copy_from_slice(bytes);
            Ipv4Address(out)
        };
        Ok(ArpRepr::EthernetIpv4 {
            operation: packet.operation(),
            source_hardware_addr: mac(packet.source_hardware_addr()),
            source_protocol_addr: ip(packet.source_protocol_addr()),
            target_hardware_addr: mac(packet.target_hardware_addr()),
            target_protocol_addr: ip(packet.target_protocol_addr()),
        })
    }

    /// The number of bytes [`emit`](Self::emit) writes (28).
    pub const fn buffer_len(&self) -> usize {
        match self {
            ArpRepr::EthernetIpv4 { .. } => ETHERNET_IPV4_LEN,
        }
    }

    /// Writes the packet into `packet`, whose buffer must hold at least
    /// [`buffer_len`](Self::buffer_len) bytes (the caller sizes it; a shorter
    /// buffer is a caller bug and panics).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut ArpPacket<T>) {
        match *self {
            ArpRepr::EthernetIpv4 {
                operation,
                source_hardware_addr,
                source_protocol_addr,
                target_hardware_addr,
                target_protocol_addr,
            } => {
                let out = &mut packet.buffer.as_mut()[..ETHERNET_IPV4_LEN];
                out[field::HTYPE].copy_from_slice(&HARDWARE_ETHERNET.to_be_bytes());
                out[field::PTYPE].copy_from_slice(&PROTOCOL_IPV4.to_be_bytes());
                out[field::HLEN] = 6;
                out[field::PLEN] = 4;
                out[field::OPER].copy_from_slice(&u16::from(operation).to_be_bytes());
                out[8..14].copy_from_slice(&source_hardware_addr.0);
                out[14..18].copy_from_slice(&source_protocol_addr.0);
                out[18..24].copy_from_slice(&target_hardware_addr.0);
                out[24..28].copy_from_slice(&target_protocol_addr.0);
            }
        }
    }
}

impl<T: AsRef<[u8]>> fmt::Display for ArpPacket<T> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match ArpRepr::parse(&ArpPacket::new_unchecked(self.buffer.as_ref())) {
            Ok(repr) => repr.fmt(f),
            Err(err) => write!(
                f,
                "ARP htype={} ptype=0x{:04x} ({err})",
                self.hardware_type_or_zero(),
                self.protocol_type_or_zero()
            ),
        }
    }
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    fn hardware_type_or_zero(&self) -> u16 {
        match self.buffer.as_ref() {
            [a, b, ..] => u16::from_be_bytes([*a, *b]),
            _ => 0,
        }
    }

    fn protocol_type_or_zero(&self) -> u16 {
        match self.buffer.as_ref() {
            [_, _, a, b, ..] => u16::from_be_bytes([*a, *b]),
            _ => 0,
        }
    }
}

impl fmt::Display for ArpRepr {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            ArpRepr::EthernetIpv4 {
                operation,
                source_hardware_addr,
                source_protocol_addr,
                target_hardware_addr,
                target_protocol_addr,
            } => write!(
                f,
                "ARP {operation} src={source_protocol_addr}/{source_hardware_addr} \
                 tgt={target_protocol_addr}/{target_hardware_addr}"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::wire::ethernet::{EthernetFrame, EthernetProtocol, EthernetRepr};
    use std::string::ToString;

    /// A real ARP request captured by tcpdump on a veth pair: Linux at
    /// 192.0.2.1 (02:00:00:00:00:01) asks who has 192.0.2.2. 42 bytes: the
    /// sending side's capture carries no Ethernet padding.
    const REQUEST: [u8; 42] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00,
        0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0xc0, 0x00,
        0x02, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x02, 0x02,
    ];

    /// The reply from 192.0.2.2 (02:00:00:00:00:02).
    const REPLY: [u8; 42] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x06, 0x00,
        0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0xc0, 0x00,
        0x02, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0xc0, 0x00, 0x02, 0x01,
    ];

    fn parse_frame(bytes: &[u8]) -> (EthernetRepr, ArpRepr) {
        let frame = EthernetFrame::new_checked(bytes).unwrap();
        let eth = EthernetRepr::parse(&frame).unwrap();
        assert_eq!(eth.ethertype, EthernetProtocol::Arp);
        let packet = ArpPacket::new_checked(frame.payload()).unwrap();
        (eth, ArpRepr::parse(&packet).unwrap())
    }

    fn emit_frame(eth: &EthernetRepr, arp: &ArpRepr) -> [u8; 42] {
        let mut out = [0u8; 42];
        eth.emit(&mut EthernetFrame::new_unchecked(&mut out[..]));
        arp.emit(&mut ArpPacket::new_unchecked(&mut out[14..]));
        out
    }

    #[test]
    fn real_request_fields_and_round_trip() {
        let (eth, arp) = parse_frame(&REQUEST);
        assert_eq!(
            arp,
            ArpRepr::EthernetIpv4 {
                operation: ArpOperation::Request,
                source_hardware_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
                source_protocol_addr: Ipv4Address::new(192, 0, 2, 1),
                target_hardware_addr: EthernetAddress([0; 6]),
                target_protocol_addr: Ipv4Address::new(192, 0, 2, 2),
            }
        );
        assert_eq!(emit_frame(&eth, &arp), REQUEST);
        assert_eq!(
            arp.to_string(),
            "ARP request src=192.0.2.1/02:00:00:00:00:01 tgt=192.0.2.2/00:00:00:00:00:00"
        );
    }

    #[test]
    fn real_reply_round_trip() {
        let (eth, arp) = parse_frame(&REPLY);
        let ArpRepr::EthernetIpv4 { operation, .. } = arp;
        assert_eq!(operation, ArpOperation::Reply);
        assert_eq!(emit_frame(&eth, &arp), REPLY);
    }

    #[test]
    fn padded_frame_parses() {
        // The receiving side sees the request padded to the 60-byte minimum.
        let mut padded = [0u8; 60];
        padded[..42].copy_from_slice(&REQUEST);
        let (_, arp) = parse_frame(&padded);
        assert_eq!(parse_frame(&REQUEST).1, arp);
    }

    #[test]
    fn view_fields() {
        let packet = ArpPacket::new_checked(&REQUEST[14..]).unwrap();
        assert_eq!(packet.hardware_type(), 1);
        assert_eq!(packet.protocol_type(), 0x0800);
        assert_eq!(packet.hardware_len(), 6);
        assert_eq!(packet.protocol_len(), 4);
        assert_eq!(packet.operation(), ArpOperation::Request);
        assert_eq!(packet.source_hardware_addr(), &[2, 0, 0, 0, 0, 1]);
        assert_eq!(packet.source_protocol_addr(), &[192, 0, 2, 1]);
        assert_eq!(packet.target_hardware_addr(), &[0; 6]);
        assert_eq!(packet.target_protocol_addr(), &[192, 0, 2, 2]);
        assert_eq!(packet.packet_len(), 28);
    }

    #[test]
    fn setters() {
        let mut bytes = [0u8; 28];
        let mut packet = ArpPacket::new_unchecked(&mut bytes[..]);
        packet.set_hardware_type(1);
        packet.set_protocol_type(0x0800);
        packet.set_hardware_len(6);
        packet.set_protocol_len(4);
        packet.set_operation(ArpOperation::Request);
        packet.set_source_hardware_addr(&[2, 0, 0, 0, 0, 1]);
        packet.set_source_protocol_addr(&[192, 0, 2, 1]);
        packet.set_target_hardware_addr(&[0; 6]);
        packet.set_target_protocol_addr(&[192, 0, 2, 2]);
        assert_eq!(&bytes[..], &REQUEST[14..]);
    }

    #[test]
    fn rejects_truncated_and_unrecognized() {
        let body = &REQUEST[14..];
        for len in 0..28 {
            assert_eq!(
                ArpPacket::new_checked(&body[..len]).unwrap_err(),
                Error::Truncated
            );
            let packet = ArpPacket::new_unchecked(&body[..len]);
            assert_eq!(ArpRepr::parse(&packet), Err(Error::Truncated));
        }
        // Hardware length 255 announces more addresses than the buffer holds.
        let mut long = [0u8; 28];
        long.copy_from_slice(body);
        long[4] = 255;
        assert_eq!(
            ArpPacket::new_checked(&long[..]).unwrap_err(),
            Error::Truncated
        );
        // A different hardware type with consistent lengths is unrecognized.
        let mut other = [0u8; 28];
        other.copy_from_slice(body);
        other[1] = 6; // IEEE 802
        assert_eq!(
            ArpRepr::parse(&ArpPacket::new_checked(&other[..]).unwrap()),
            Err(Error::Unrecognized)
        );
        // Address lengths 0/0 are consistent but not Ethernet/IPv4.
        let mut short = [0u8; 8];
        short.copy_from_slice(&body[..8]);
        short[4] = 0;
        short[5] = 0;
        assert_eq!(
            ArpRepr::parse(&ArpPacket::new_checked(&short[..]).unwrap()),
            Err(Error::Unrecognized)
        );
    }
}
