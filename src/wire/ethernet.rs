//! Ethernet II frames.

use core::fmt;

use super::{Error, Result};

/// A 48-bit Ethernet (MAC) address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EthernetAddress(pub [u8; 6]);

impl EthernetAddress {
    /// The broadcast address ff:ff:ff:ff:ff:ff.
    pub const BROADCAST: EthernetAddress = EthernetAddress([0xff; 6]);

    /// The address from six bytes.
    pub fn from_bytes(bytes: &[u8; 6]) -> EthernetAddress {
        EthernetAddress(*bytes)
    }

    /// The six bytes of the address.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether this is a unicast address (group bit clear).
    pub fn is_unicast(&self) -> bool {
        self.0[0] & 0x01 == 0
    }

    /// Whether this is the broadcast address.
    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }

    /// Whether this is a multicast address (group bit set, not broadcast).
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0 && !self.is_broadcast()
    }
}

impl fmt::Display for EthernetAddress {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

/// The EtherType field of an Ethernet II frame (IEEE 802.3 clause 3.2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EthernetProtocol {
    /// IPv4 (0x0800).
    Ipv4,
    /// ARP (0x0806).
    Arp,
    /// IPv6 (0x86dd).
    Ipv6,
    /// An IEEE 802.1Q VLAN tag (0x8100).
    Vlan,
    /// Any other value; values below 0x0600 are IEEE 802.3 length fields.
    Unknown(u16),
}

impl From<u16> for EthernetProtocol {
    fn from(value: u16) -> Self {
        match value {
            0x0800 => EthernetProtocol::Ipv4,
            0x0806 => EthernetProtocol::Arp,
            0x86dd => EthernetProtocol::Ipv6,
            0x8100 => EthernetProtocol::Vlan,
            other => EthernetProtocol::Unknown(other),
        }
    }
}

impl From<EthernetProtocol> for u16 {
    fn from(value: EthernetProtocol) -> u16 {
        match value {
            EthernetProtocol::Ipv4 => 0x0800,
            EthernetProtocol::Arp => 0x0806,
            EthernetProtocol::Ipv6 => 0x86dd,
            EthernetProtocol::Vlan => 0x8100,
            EthernetProtocol::Unknown(other) => other,
        }
    }
}

impl fmt::Display for EthernetProtocol {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            EthernetProtocol::Ipv4 => f.write_str("IPv4"),
            EthernetProtocol::Arp => f.write_str("ARP"),
            EthernetProtocol::Ipv6 => f.write_str("IPv6"),
            EthernetProtocol::Vlan => f.write_str("VLAN"),
            EthernetProtocol::Unknown(n) => write!(f, "0x{n:04x}"),
        }
    }
}

/// Byte offsets of the Ethernet II header fields.
mod field {
    use core::ops::Range;
    pub const DESTINATION: Range<usize> = 0..6;
    pub const SOURCE: Range<usize> = 6..12;
    pub const ETHERTYPE: Range<usize> = 12..14;
    pub const PAYLOAD: usize = 14;
}

/// The length of an Ethernet II header (no 802.1Q tag, no FCS).
pub const HEADER_LEN: usize = field::PAYLOAD;

/// A zero-copy view of an Ethernet II frame: destination, source,
/// EtherType, payload. The frame check sequence is not part of the view
/// (captures and devices deliver frames without it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// A view of `buffer` without checking its length; accessors may panic
    /// on a short buffer until [`check_len`](Self::check_len) has passed.
    pub const fn new_unchecked(buffer: T) -> EthernetFrame<T> {
        EthernetFrame { buffer }
    }

    /// A view of `buffer`, which must hold at least the 14-byte header.
    pub fn new_checked(buffer: T) -> Result<EthernetFrame<T>> {
        let frame = Self::new_unchecked(buffer);
        frame.check_len()?;
        Ok(frame)
    }

    /// `Err(Error::Truncated)` if the buffer is shorter than the header.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The header length (14).
    pub const fn header_len() -> usize {
        HEADER_LEN
    }

    /// The frame length needed for a payload of `payload_len` bytes.
    pub const fn buffer_len(payload_len: usize) -> usize {
        HEADER_LEN + payload_len
    }

    /// The destination address.
    pub fn dst_addr(&self) -> EthernetAddress {
        let mut bytes = [0u8; 6];
        bytes.copy_from_slice(&self.buffer.as_ref()[field::DESTINATION]);
        EthernetAddress(bytes)
    }

    /// The source address.
    pub fn src_addr(&self) -> EthernetAddress {
        let mut bytes = [0u8; 6];
        bytes.copy_from_slice(&self.buffer.as_ref()[field::SOURCE]);
        EthernetAddress(bytes)
    }

    /// The EtherType.
    pub fn ethertype(&self) -> EthernetProtocol {
        let b = &self.buffer.as_ref()[field::ETHERTYPE];
        EthernetProtocol::from(u16::from_be_bytes([b[0], b[1]]))
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> EthernetFrame<&'a T> {
    /// The payload, with the lifetime of the underlying buffer.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::PAYLOAD..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, addr: EthernetAddress) {
        self.buffer.as_mut()[field::DESTINATION].copy_from_slice(&addr.0);
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, addr: EthernetAddress) {
        self.buffer.as_mut()[field::SOURCE].copy_from_slice(&addr.0);
    }

    /// Sets the EtherType.
    pub fn set_ethertype(&mut self, ethertype: EthernetProtocol) {
        self.buffer.as_mut()[field::ETHERTYPE].copy_from_slice(&u16::from(ethertype).to_be_bytes());
    }

    /// The payload, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD..]
    }
}

impl<T: AsRef<[u8]>> fmt::Display for EthernetFrame<T> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.check_len() {
            Ok(()) => write!(
                f,
                "EthernetII src={} dst={} type={}",
                self.src_addr(),
                self.dst_addr(),
                self.ethertype()
            ),
            Err(err) => write!(f, "EthernetII ({err})"),
        }
    }
}

/// A high-level representation of an Ethernet II header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EthernetRepr {
    /// Source address.
    pub src_addr: EthernetAddress,
    /// Destination address.
    pub dst_addr: EthernetAddress,
    /// EtherType of the payload.
    pub ethertype: EthernetProtocol,
}

impl EthernetRepr {
    /// Parses the header of `frame`; fails only on a buffer shorter than the
    /// header.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(frame: &EthernetFrame<&T>) -> Result<EthernetRepr> {
        frame.check_len()?;
        Ok(EthernetRepr {
            src_addr: frame.src_addr(),
            dst_addr: frame.dst_addr(),
            ethertype: frame.ethertype(),
        })
    }

    /// The number of bytes [`emit`](Self::emit) writes (the 14-byte header).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header into `frame`, whose buffer must hold at least
    /// [`buffer_len`](Self::buffer_len) bytes (the caller sizes it; a shorter
    /// buffer is a caller bug and panics).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, frame: &mut EthernetFrame<T>) {
        let header = &mut frame.buffer.as_mut()[..HEADER_LEN];
        header[field::DESTINATION].copy_from_slice(&self.dst_addr.0);
        header[field::SOURCE].copy_from_slice(&self.src_addr.0);
        header[field::ETHERTYPE].copy_from_slice(&u16::from(self.ethertype).to_be_bytes());
    }
}

impl fmt::Display for EthernetRepr {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "EthernetII src={} dst={} type={}",
            self.src_addr, self.dst_addr, self.ethertype
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Ethernet header of a frame captured on a veth pair:
    /// 02:00:00:00:00:01 -> 02:00:00:00:00:02, IPv4, followed by two payload
    /// bytes.
    const FRAME: [u8; 16] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0xaa,
        0xbb,
    ];

    #[test]
    fn view_fields() {
        let frame = EthernetFrame::new_checked(&FRAME[..]).unwrap();
        assert_eq!(frame.dst_addr(), EthernetAddress([2, 0, 0, 0, 0, 2]));
        assert_eq!(frame.src_addr(), EthernetAddress([2, 0, 0, 0, 0, 1]));
        assert_eq!(frame.ethertype(), EthernetProtocol::Ipv4);
        assert_eq!(frame.payload(), &[0xaa, 0xbb]);
    }

    #[test]
    fn short_buffers_are_rejected() {
        for len in 0..HEADER_LEN {
            assert_eq!(
                EthernetFrame::new_checked(&FRAME[..len]).unwrap_err(),
                Error::Truncated
            );
            let frame = EthernetFrame::new_unchecked(&FRAME[..len]);
            assert_eq!(EthernetRepr::parse(&frame), Err(Error::Truncated));
        }
        assert!(EthernetFrame::new_checked(&FRAME[..HEADER_LEN]).is_ok());
    }

    #[test]
    fn repr_round_trip() {
        let frame = EthernetFrame::new_checked(&FRAME[..]).unwrap();
        let repr = EthernetRepr::parse(&frame).unwrap();
        let mut bytes = [0u8; 16];
        bytes[14..].copy_from_slice(&[0xaa, 0xbb]);
        let mut out = EthernetFrame::new_unchecked(&mut bytes[..]);
        repr.emit(&mut out);
        assert_eq!(bytes, FRAME);
        let again = EthernetRepr::parse(&EthernetFrame::new_checked(&bytes[..]).unwrap()).unwrap();
        assert_eq!(again, repr);
    }

    #[test]
    fn ethertype_values() {
        for (raw, proto) in [
            (0x0800, EthernetProtocol::Ipv4),
            (0x0806, EthernetProtocol::Arp),
            (0x86dd, EthernetProtocol::Ipv6),
            (0x8100, EthernetProtocol::Vlan),
            (0x88cc, EthernetProtocol::Unknown(0x88cc)),
        ] {
            assert_eq!(EthernetProtocol::from(raw), proto);
            assert_eq!(u16::from(proto), raw);
        }
    }

    #[test]
    fn setters() {
        let mut bytes = [0u8; 14];
        let mut frame = EthernetFrame::new_checked(&mut bytes[..]).unwrap();
        frame.set_dst_addr(EthernetAddress::BROADCAST);
        frame.set_src_addr(EthernetAddress([2, 0, 0, 0, 0, 1]));
        frame.set_ethertype(EthernetProtocol::Arp);
        assert_eq!(
            bytes,
            [
                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06
            ]
        );
    }
}

/// Six hex bytes separated by `:` or `-`, e.g. `02:00:00:00:00:01`.
impl core::str::FromStr for EthernetAddress {
    type Err = super::ipv4::AddressParseError;

    fn from_str(text: &str) -> core::result::Result<Self, Self::Err> {
        use super::ipv4::AddressParseError;
        let separator = if text.contains('-') { '-' } else { ':' };
        let mut bytes = [0u8; 6];
        let mut parts = text.split(separator);
        for byte in bytes.iter_mut() {
            let part = parts.next().ok_or(AddressParseError)?;
            if part.is_empty() || part.len() > 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(AddressParseError);
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| AddressParseError)?;
        }
        if parts.next().is_some() {
            return Err(AddressParseError);
        }
        Ok(EthernetAddress(bytes))
    }
}

#[cfg(test)]
mod parse_tests {
    use super::*;

    #[test]
    fn hardware_addresses_parse_exactly() {
        assert_eq!(
            "02:00:00:00:00:01".parse(),
            Ok(EthernetAddress([2, 0, 0, 0, 0, 1]))
        );
        assert_eq!("ff-FF-ff-ff-ff-ff".parse(), Ok(EthernetAddress::BROADCAST));
        assert_eq!(
            "2:0:0:0:0:a".parse(),
            Ok(EthernetAddress([2, 0, 0, 0, 0, 10]))
        );
        for bad in [
            "",
            "02:00:00:00:00",
            "02:00:00:00:00:01:02",
            "002:00:00:00:00:01",
            "02:00:00:00:00:0g",
            "02:00-00:00:00:01",
            "+2:00:00:00:00:01",
        ] {
            assert!(bad.parse::<EthernetAddress>().is_err(), "{bad:?}");
        }
    }
}
