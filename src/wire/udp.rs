//! UDP (RFC 768), over IPv4 and IPv6.
//!
//! The checksum covers the pseudo-header of either IP version
//! ([`checksum::pseudo_header`]). On receive a zero checksum field means
//! "not computed" over IPv4 (RFC 768) and is accepted, but is invalid over
//! IPv6 (RFC 8200 section 8.1) and refused with [`Error::MissingChecksum`].
//! On send the checksum is always computed, and a computed zero is sent as
//! `0xffff` (RFC 768: "all ones" stands for zero).

use core::fmt;

use super::checksum;
use super::ip::{IpAddress, IpProtocol, IpVersion};
use super::{ChecksumCapabilities, Error, Result};

/// Byte offsets of the UDP header fields (RFC 768).
mod field {
    use core::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const CHECKSUM: Range<usize> = 6..8;
}

/// The length of the UDP header.
pub const HEADER_LEN: usize = 8;

/// A zero-copy view of a UDP datagram.
///
/// After [`new_checked`](Self::new_checked) the buffer holds the header and
/// the length field is between 8 and the buffer's length;
/// [`payload`](Self::payload) ends at the length field, so link-layer
/// padding after it is ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    /// A view of `buffer` without checking its length; accessors may panic
    /// on a short buffer until [`check_len`](Self::check_len) has passed.
    pub const fn new_unchecked(buffer: T) -> UdpPacket<T> {
        UdpPacket { buffer }
    }

    /// A view of `buffer` whose length field is consistent with it.
    pub fn new_checked(buffer: T) -> Result<UdpPacket<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// `Truncated` if the buffer is shorter than the 8-byte header,
    /// `LengthTooSmall` if the length field is below 8 (a jumbogram's zero,
    /// RFC 2675, included: pollnet does not support them), and
    /// `LengthPastBuffer` if it is larger than the buffer.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let field_len = usize::from(self.len());
        if field_len < HEADER_LEN {
            return Err(Error::LengthTooSmall);
        }
        if field_len > len {
            return Err(Error::LengthPastBuffer);
        }
        Ok(())
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn u16_at(&self, range: core::ops::Range<usize>) -> u16 {
        let b = &self.buffer.as_ref()[range];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// The source port.
    pub fn src_port(&self) -> u16 {
        self.u16_at(field::SRC_PORT)
    }

    /// The destination port.
    pub fn dst_port(&self) -> u16 {
        self.u16_at(field::DST_PORT)
    }

    /// The length field: header plus payload, in bytes.
    pub fn len(&self) -> u16 {
        self.u16_at(field::LENGTH)
    }

    /// Whether the length field says there is no payload.
    pub fn is_empty(&self) -> bool {
        usize::from(self.len()) <= HEADER_LEN
    }

    /// The checksum field (zero: none was computed, allowed over IPv4 only).
    pub fn checksum(&self) -> u16 {
        self.u16_at(field::CHECKSUM)
    }

    /// Whether the checksum over the pseudo-header and the datagram (up to
    /// the length field) verifies. A zero field verifies over IPv4 (no
    /// checksum, RFC 768) and never over IPv6 (RFC 8200 section 8.1).
    pub fn verify_checksum(&self, src_addr: &IpAddress, dst_addr: &IpAddress) -> bool {
        if self.checksum() == 0 {
            return src_addr.version() == IpVersion::Ipv4;
        }
        let len = usize::from(self.len());
        let sum = checksum::combine(&[
            checksum::pseudo_header(src_addr, dst_addr, IpProtocol::Udp, u32::from(self.len())),
            checksum::data(&self.buffer.as_ref()[..len]),
        ]);
        sum == 0xffff
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> UdpPacket<&'a T> {
    /// The payload: from the end of the header to the length field.
    pub fn payload(&self) -> &'a [u8] {
        let len = usize::from(self.len());
        &self.buffer.as_ref()[HEADER_LEN..len]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
    /// Sets the source port.
    pub fn set_src_port(&mut self, port: u16) {
        self.buffer.as_mut()[field::SRC_PORT].copy_from_slice(&port.to_be_bytes());
    }

    /// Sets the destination port.
    pub fn set_dst_port(&mut self, port: u16) {
        self.buffer.as_mut()[field::DST_PORT].copy_from_slice(&port.to_be_bytes());
    }

    /// Sets the length field.
    pub fn set_len(&mut self, len: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&len.to_be_bytes());
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&value.to_be_bytes());
    }

    /// The payload (header end to the length field), mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let len = usize::from(self.len());
        &mut self.buffer.as_mut()[HEADER_LEN..len]
    }

    /// Computes the checksum over the pseudo-header and the datagram (up to
    /// the length field, which must be set) and writes it; a computed zero
    /// is written as `0xffff` (RFC 768), so the field is never zero.
    pub fn fill_checksum(&mut self, src_addr: &IpAddress, dst_addr: &IpAddress) {
        self.set_checksum(0);
        let len = usize::from(self.len());
        let sum = checksum::combine(&[
            checksum::pseudo_header(src_addr, dst_addr, IpProtocol::Udp, u32::from(self.len())),
            checksum::data(&self.buffer.as_ref()[..len]),
        ]);
        let field = !sum;
        self.set_checksum(if field == 0 { 0xffff } else { field });
    }
}

impl<T: AsRef<[u8]>> fmt::Display for UdpPacket<T> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.check_len() {
            Ok(()) => write!(
                f,
                "UDP src={} dst={} len={}",
                self.src_port(),
                self.dst_port(),
                self.len()
            ),
            Err(err) => write!(f, "UDP ({err})"),
        }
    }
}

/// A high-level representation of a UDP datagram: the ports and a borrowed
/// payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpRepr<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// The payload.
    pub payload: &'a [u8],
}

impl<'a> UdpRepr<'a> {
    /// Parses a UDP datagram carried between `src_addr` and `dst_addr`.
    ///
    /// Fails with the [`UdpPacket::check_len`] errors; `MissingChecksum`
    /// for a zero checksum over IPv6, whatever `caps` says (RFC 8200
    /// section 8.1: receivers must discard these); `BadChecksum` when
    /// `caps.udp` asks for verification and a non-zero checksum fails. A
    /// zero checksum over IPv4 is accepted unverified (RFC 768). Port zero
    /// is not refused here: it is a socket-layer decision.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &UdpPacket<&'a T>,
        src_addr: &IpAddress,
        dst_addr: &IpAddress,
        caps: &ChecksumCapabilities,
    ) -> Result<UdpRepr<'a>> {
        packet.check_len()?;
        if packet.checksum() == 0 {
            if src_addr.version() != IpVersion::Ipv4 {
                return Err(Error::MissingChecksum);
            }
        } else if caps.udp.rx() && !packet.verify_checksum(src_addr, dst_addr) {
            return Err(Error::BadChecksum);
        }
        Ok(UdpRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            payload: packet.payload(),
        })
    }

    /// The header length (8).
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// The number of bytes [`emit`](Self::emit) writes: header and payload.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload.len()
    }

    /// Writes the ports and the length field for a payload of `payload_len`
    /// bytes, and zeroes the checksum, so a caller can write the payload in
    /// place and then call [`UdpPacket::fill_checksum`]. `payload_len` above
    /// 65527 is a caller bug (the length is 16 bits) and saturates.
    pub fn emit_header<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut UdpPacket<T>,
        payload_len: usize,
    ) {
        let len = u16::try_from(HEADER_LEN.saturating_add(payload_len)).unwrap_or(u16::MAX);
        packet.set_src_port(self.src_port);
        packet.set_dst_port(self.dst_port);
        packet.set_len(len);
        packet.set_checksum(0);
    }

    /// Writes the datagram into `packet`, whose buffer must hold at least
    /// [`buffer_len`](Self::buffer_len) bytes (a shorter one is a caller bug
    /// and panics). The checksum is computed when `caps.udp` says software
    /// transmits it (a zero result sent as `0xffff`), else left zero for
    /// the device to fill.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut UdpPacket<T>,
        src_addr: &IpAddress,
        dst_addr: &IpAddress,
        caps: &ChecksumCapabilities,
    ) {
        self.emit_header(packet, self.payload.len());
        let end = self.buffer_len();
        packet.buffer.as_mut()[HEADER_LEN..end].copy_from_slice(self.payload);
        if caps.udp.tx() {
            packet.fill_checksum(src_addr, dst_addr);
        }
    }
}

impl fmt::Display for UdpRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "UDP src={} dst={} len={}",
            self.src_port,
            self.dst_port,
            self.payload.len()
        )
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::wire::Checksum;
    use std::string::ToString;
    use std::vec;
    use std::vec::Vec;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    const V4_SRC: IpAddress = IpAddress::v4(192, 0, 2, 2);
    const V4_DST: IpAddress = IpAddress::v4(192, 0, 2, 1);

    /// A DNS query (A test.example, id 0x1001) from 192.0.2.2:54096 to
    /// 192.0.2.1:53, as Linux sent it (linux-dns.pcap frame 1).
    const DNS_QUERY: &str = "d350003500261cd3\
        1001010000010000000000000474657374076578616d706c650000010001";

    fn caps() -> ChecksumCapabilities {
        ChecksumCapabilities::default()
    }

    #[test]
    fn linux_ipv4_datagram() {
        let bytes = hex(DNS_QUERY);
        let packet = UdpPacket::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.src_port(), 54096);
        assert_eq!(packet.dst_port(), 53);
        assert_eq!(usize::from(packet.len()), bytes.len());
        assert!(packet.verify_checksum(&V4_SRC, &V4_DST));
        let repr = UdpRepr::parse(&packet, &V4_SRC, &V4_DST, &caps()).unwrap();
        assert_eq!(repr.payload, &bytes[8..]);
        assert_eq!(repr.to_string(), "UDP src=54096 dst=53 len=30");
        let mut out = vec![0u8; repr.buffer_len()];
        repr.emit(
            &mut UdpPacket::new_unchecked(&mut out[..]),
            &V4_SRC,
            &V4_DST,
            &caps(),
        );
        assert_eq!(out, bytes);
        // The wrong addresses do not verify.
        assert_eq!(
            UdpRepr::parse(&packet, &V4_DST, &IpAddress::v4(192, 0, 2, 3), &caps()),
            Err(Error::BadChecksum)
        );
    }

    #[cfg(feature = "proto-ipv6")]
    #[test]
    fn linux_ipv6_datagram_and_zero_checksum() {
        use crate::wire::Ipv6Address;
        // "hi\n" from [2001:db8:1::ff:fe00:102]:46984 to [2001:db8:2::2]:9
        // (linux-ipv6.pcap frame 44).
        let src: IpAddress = "2001:db8:1::ff:fe00:102"
            .parse::<Ipv6Address>()
            .unwrap()
            .into();
        let dst: IpAddress = "2001:db8:2::2".parse::<Ipv6Address>().unwrap().into();
        let bytes = hex("b7880009000b7a6468690a");
        let packet = UdpPacket::new_checked(&bytes[..]).unwrap();
        let repr = UdpRepr::parse(&packet, &src, &dst, &caps()).unwrap();
        assert_eq!((repr.src_port, repr.dst_port), (46984, 9));
        assert_eq!(repr.payload, b"hi\n");
        let mut out = vec![0u8; repr.buffer_len()];
        repr.emit(
            &mut UdpPacket::new_unchecked(&mut out[..]),
            &src,
            &dst,
            &caps(),
        );
        assert_eq!(out, bytes);

        // A zero checksum is refused over IPv6 even unverified, and
        // accepted over IPv4.
        let mut zero = bytes.clone();
        zero[6..8].copy_from_slice(&[0, 0]);
        let packet = UdpPacket::new_checked(&zero[..]).unwrap();
        assert!(!packet.verify_checksum(&src, &dst));
        for caps in [caps(), ChecksumCapabilities::ignored()] {
            assert_eq!(
                UdpRepr::parse(&packet, &src, &dst, &caps),
                Err(Error::MissingChecksum)
            );
        }
        assert!(packet.verify_checksum(&V4_SRC, &V4_DST));
        assert_eq!(
            UdpRepr::parse(&packet, &V4_SRC, &V4_DST, &caps())
                .unwrap()
                .payload,
            b"hi\n"
        );
    }

    #[test]
    fn computed_zero_is_sent_as_all_ones() {
        // Pick payload bytes so that the sum is 0xffff: the field would be
        // zero. Sum everything but a 2-byte payload word, then choose that
        // word to bring the total to 0xffff.
        let repr = UdpRepr {
            src_port: 1,
            dst_port: 2,
            payload: &[0, 0],
        };
        let partial = checksum::combine(&[
            checksum::pseudo_header(&V4_SRC, &V4_DST, IpProtocol::Udp, 10),
            checksum::data(&[0, 1, 0, 2, 0, 10]),
        ]);
        let word = (!partial).to_be_bytes();
        let repr = UdpRepr {
            payload: &word,
            ..repr
        };
        let mut out = vec![0u8; repr.buffer_len()];
        repr.emit(
            &mut UdpPacket::new_unchecked(&mut out[..]),
            &V4_SRC,
            &V4_DST,
            &caps(),
        );
        assert_eq!(&out[6..8], &[0xff, 0xff]);
        let packet = UdpPacket::new_checked(&out[..]).unwrap();
        assert!(packet.verify_checksum(&V4_SRC, &V4_DST));
        assert_eq!(UdpRepr::parse(&packet, &V4_SRC, &V4_DST, &caps()), Ok(repr));
    }

    #[test]
    fn offload_leaves_checksum_zero_and_emit_header_in_place() {
        let repr = UdpRepr {
            src_port: 68,
            dst_port: 67,
            payload: b"abc",
        };
        let tx_offload = ChecksumCapabilities {
            udp: Checksum::Rx,
            ..caps()
        };
        let mut out = vec![0xaau8; repr.buffer_len()];
        repr.emit(
            &mut UdpPacket::new_unchecked(&mut out[..]),
            &V4_SRC,
            &V4_DST,
            &tx_offload,
        );
        assert_eq!(&out, &[0, 68, 0, 67, 0, 11, 0, 0, b'a', b'b', b'c']);

        // Header first, payload written in place, then the checksum.
        let mut in_place = vec![0u8; 11];
        let mut packet = UdpPacket::new_unchecked(&mut in_place[..]);
        repr.emit_header(&mut packet, 3);
        packet.payload_mut().copy_from_slice(b"abc");
        packet.fill_checksum(&V4_SRC, &V4_DST);
        let mut whole = vec![0u8; 11];
        repr.emit(
            &mut UdpPacket::new_unchecked(&mut whole[..]),
            &V4_SRC,
            &V4_DST,
            &caps(),
        );
        assert_eq!(in_place, whole);
    }

    #[test]
    fn length_errors_and_padding() {
        let bytes = hex(DNS_QUERY);
        for len in 0..8 {
            assert_eq!(UdpPacket::new_checked(&bytes[..len]), Err(Error::Truncated));
            let packet = UdpPacket::new_unchecked(&bytes[..len]);
            assert_eq!(packet.to_string(), "UDP (truncated header)");
            assert_eq!(
                UdpRepr::parse(&packet, &V4_SRC, &V4_DST, &caps()),
                Err(Error::Truncated)
            );
        }
        for len in 8..bytes.len() {
            assert_eq!(
                UdpPacket::new_checked(&bytes[..len]),
                Err(Error::LengthPastBuffer)
            );
        }
        for field in 0..8u16 {
            let mut short = bytes.clone();
            short[4..6].copy_from_slice(&field.to_be_bytes());
            assert_eq!(
                UdpPacket::new_checked(&short[..]),
                Err(Error::LengthTooSmall)
            );
        }
        // Link-layer padding after the length is not payload.
        let mut padded = bytes.clone();
        padded.extend_from_slice(&[0; 6]);
        let packet = UdpPacket::new_checked(&padded[..]).unwrap();
        let repr = UdpRepr::parse(&packet, &V4_SRC, &V4_DST, &caps()).unwrap();
        assert_eq!(repr.payload, &bytes[8..]);
        // An empty datagram.
        let empty = UdpRepr {
            src_port: 7,
            dst_port: 7,
            payload: &[],
        };
        let mut out = [0u8; 8];
        empty.emit(
            &mut UdpPacket::new_unchecked(&mut out[..]),
            &V4_SRC,
            &V4_DST,
            &caps(),
        );
        let packet = UdpPacket::new_checked(&out[..]).unwrap();
        assert!(packet.is_empty());
        assert_eq!(
            UdpRepr::parse(&packet, &V4_SRC, &V4_DST, &caps()),
            Ok(empty)
        );
    }
}
