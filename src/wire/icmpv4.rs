//! ICMP for IPv4 (RFC 792): echo, destination unreachable (with the path
//! MTU field of RFC 1191) and time exceeded.

use core::fmt;

use super::checksum;
use super::ipv4::{self, Ipv4Packet, Ipv4Repr};
use super::{ChecksumCapabilities, Error, Result};

/// The ICMPv4 message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Icmpv4Message {
    /// Echo reply (0).
    EchoReply,
    /// Destination unreachable (3).
    DstUnreachable,
    /// Redirect (5).
    Redirect,
    /// Echo request (8).
    EchoRequest,
    /// Time exceeded (11).
    TimeExceeded,
    /// Parameter problem (12).
    ParamProblem,
    /// Any other type.
    Unknown(u8),
}

impl From<u8> for Icmpv4Message {
    fn from(value: u8) -> Self {
        match value {
            0 => Icmpv4Message::EchoReply,
            3 => Icmpv4Message::DstUnreachable,
            5 => Icmpv4Message::Redirect,
            8 => Icmpv4Message::EchoRequest,
            11 => Icmpv4Message::TimeExceeded,
            12 => Icmpv4Message::ParamProblem,
            other => Icmpv4Message::Unknown(other),
        }
    }
}

impl From<Icmpv4Message> for u8 {
    fn from(value: Icmpv4Message) -> u8 {
        match value {
            Icmpv4Message::EchoReply => 0,
            Icmpv4Message::DstUnreachable => 3,
            Icmpv4Message::Redirect => 5,
            Icmpv4Message::EchoRequest => 8,
            Icmpv4Message::TimeExceeded => 11,
            Icmpv4Message::ParamProblem => 12,
            Icmpv4Message::Unknown(other) => other,
        }
    }
}

impl fmt::Display for Icmpv4Message {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Icmpv4Message::EchoReply => f.write_str("echo reply"),
            Icmpv4Message::DstUnreachable => f.write_str("destination unreachable"),
            Icmpv4Message::Redirect => f.write_str("redirect"),
            Icmpv4Message::EchoRequest => f.write_str("echo request"),
            Icmpv4Message::TimeExceeded => f.write_str("time exceeded"),
            Icmpv4Message::ParamProblem => f.write_str("parameter problem"),
            Icmpv4Message::Unknown(n) => write!(f, "type {n}"),
        }
    }
}

/// The code of a destination unreachable message (RFC 792, RFC 1122
/// section 3.2.2.1, RFC 1812 section 5.2.7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Icmpv4DstUnreachable {
    /// Network unreachable (0).
    NetUnreachable,
    /// Host unreachable (1).
    HostUnreachable,
    /// Protocol unreachable (2).
    ProtoUnreachable,
    /// Port unreachable (3).
    PortUnreachable,
    /// Fragmentation needed and DF set (4); the message carries the next-hop
    /// MTU (RFC 1191 section 4).
    FragRequired,
    /// Source route failed (5).
    SrcRouteFailed,
    /// Destination network unknown (6).
    DstNetUnknown,
    /// Destination host unknown (7).
    DstHostUnknown,
    /// Source host isolated (8).
    SrcHostIsolated,
    /// Network administratively prohibited (9).
    NetProhibited,
    /// Host administratively prohibited (10).
    HostProhibited,
    /// Network unreachable for type of service (11).
    NetUnreachToS,
    /// Host unreachable for type of service (12).
    HostUnreachToS,
    /// Communication administratively prohibited (13).
    CommProhibited,
    /// Host precedence violation (14).
    HostPrecedenceViolation,
    /// Precedence cutoff in effect (15).
    PrecedenceCutoff,
    /// Any other code.
    Unknown(u8),
}

impl From<u8> for Icmpv4DstUnreachable {
    fn from(value: u8) -> Self {
        use Icmpv4DstUnreachable::*;
        match value {
            0 => NetUnreachable,
            1 => HostUnreachable,
            2 => ProtoUnreachable,
            3 => PortUnreachable,
            4 => FragRequired,
            5 => SrcRouteFailed,
            6 => DstNetUnknown,
            7 => DstHostUnknown,
            8 => SrcHostIsolated,
            9 => NetProhibited,
            10 => HostProhibited,
            11 => NetUnreachToS,
            12 => HostUnreachToS,
            13 => CommProhibited,
            14 => HostPrecedenceViolation,
            15 => PrecedenceCutoff,
            other => Unknown(other),
        }
    }
}

impl From<Icmpv4DstUnreachable> for u8 {
    fn from(value: Icmpv4DstUnreachable) -> u8 {
        use Icmpv4DstUnreachable::*;
        match value {
            NetUnreachable => 0,
            HostUnreachable => 1,
            ProtoUnreachable => 2,
            PortUnreachable => 3,
            FragRequired => 4,
            SrcRouteFailed => 5,
            DstNetUnknown => 6,
            DstHostUnknown => 7,
            SrcHostIsolated => 8,
            NetProhibited => 9,
            HostProhibited => 10,
            NetUnreachToS => 11,
            HostUnreachToS => 12,
            CommProhibited => 13,
            HostPrecedenceViolation => 14,
            PrecedenceCutoff => 15,
            Unknown(other) => other,
        }
    }
}

/// The code of a time exceeded message (RFC 792).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Icmpv4TimeExceeded {
    /// TTL expired in transit (0).
    TtlExpired,
    /// Fragment reassembly time exceeded (1).
    FragExpired,
    /// Any other code.
    Unknown(u8),
}

impl From<u8> for Icmpv4TimeExceeded {
    fn from(value: u8) -> Self {
        match value {
            0 => Icmpv4TimeExceeded::TtlExpired,
            1 => Icmpv4TimeExceeded::FragExpired,
            other => Icmpv4TimeExceeded::Unknown(other),
        }
    }
}

impl From<Icmpv4TimeExceeded> for u8 {
    fn from(value: Icmpv4TimeExceeded) -> u8 {
        match value {
            Icmpv4TimeExceeded::TtlExpired => 0,
            Icmpv4TimeExceeded::FragExpired => 1,
            Icmpv4TimeExceeded::Unknown(other) => other,
        }
    }
}

/// Byte offsets of the ICMPv4 header fields.
mod field {
    use core::ops::Range;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    /// Echo: identifier; unreachable: unused.
    pub const ECHO_IDENT: Range<usize> = 4..6;
    /// Echo: sequence number; unreachable (code 4): next-hop MTU.
    pub const ECHO_SEQNO: Range<usize> = 6..8;
    pub const NEXT_HOP_MTU: Range<usize> = 6..8;
    pub const DATA: usize = 8;
}

/// The length of the ICMPv4 header every message pollnet handles shares:
/// type, code, checksum and four bytes whose meaning depends on the type.
pub const HEADER_LEN: usize = field::DATA;

/// How many bytes of the offending datagram's payload an ICMP error must
/// quote at least (RFC 792: "the first 64 bits").
pub const QUOTED_PAYLOAD_MIN: usize = 8;

/// A zero-copy view of an ICMPv4 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Icmpv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv4Packet<T> {
    /// A view of `buffer` without checking its length; accessors may panic
    /// on a short buffer until [`check_len`](Self::check_len) has passed.
    pub const fn new_unchecked(buffer: T) -> Icmpv4Packet<T> {
        Icmpv4Packet { buffer }
    }

    /// A view of `buffer`, which must hold the 8-byte header.
    pub fn new_checked(buffer: T) -> Result<Icmpv4Packet<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// `Err(Error::Truncated)` if the buffer is shorter than 8 bytes.
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

    fn u16_at(&self, range: core::ops::Range<usize>) -> u16 {
        let b = &self.buffer.as_ref()[range];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// The message type.
    pub fn msg_type(&self) -> Icmpv4Message {
        Icmpv4Message::from(self.buffer.as_ref()[field::TYPE])
    }

    /// The message code.
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        self.u16_at(field::CHECKSUM)
    }

    /// The echo identifier (meaningful for echo messages).
    pub fn echo_ident(&self) -> u16 {
        self.u16_at(field::ECHO_IDENT)
    }

    /// The echo sequence number (meaningful for echo messages).
    pub fn echo_seq_no(&self) -> u16 {
        self.u16_at(field::ECHO_SEQNO)
    }

    /// The next-hop MTU of a "fragmentation needed" message (RFC 1191
    /// section 4); zero from routers that predate RFC 1191.
    pub fn next_hop_mtu(&self) -> u16 {
        self.u16_at(field::NEXT_HOP_MTU)
    }

    /// The bytes after the 8-byte header: echo data, or the quoted datagram
    /// of an error message.
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[field::DATA..]
    }

    /// Whether the checksum over the whole message verifies.
    pub fn verify_checksum(&self) -> bool {
        checksum::data(self.buffer.as_ref()) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv4Packet<T> {
    /// Sets the message type.
    pub fn set_msg_type(&mut self, value: Icmpv4Message) {
        self.buffer.as_mut()[field::TYPE] = u8::from(value);
    }

    /// Sets the message code.
    pub fn set_msg_code(&mut self, value: u8) {
        self.buffer.as_mut()[field::CODE] = value;
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the echo identifier.
    pub fn set_echo_ident(&mut self, value: u16) {
        self.buffer.as_mut()[field::ECHO_IDENT].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the echo sequence number.
    pub fn set_echo_seq_no(&mut self, value: u16) {
        self.buffer.as_mut()[field::ECHO_SEQNO].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the next-hop MTU (bytes 6..8) and zeroes the unused bytes 4..6.
    pub fn set_next_hop_mtu(&mut self, value: u16) {
        let data = self.buffer.as_mut();
        data[field::ECHO_IDENT].copy_from_slice(&[0, 0]);
        data[field::NEXT_HOP_MTU].copy_from_slice(&value.to_be_bytes());
    }

    /// The bytes after the header, mutable.
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::DATA..]
    }

    /// Computes the checksum over the whole buffer and writes it.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let sum = checksum::data(self.buffer.as_ref());
        self.set_checksum(!sum);
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Icmpv4Packet<T> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.check_len() {
            Ok(()) => write!(
                f,
                "ICMPv4 {} code={} len={}",
                self.msg_type(),
                self.msg_code(),
                self.buffer.as_ref().len()
            ),
            Err(err) => write!(f, "ICMPv4 ({err})"),
        }
    }
}

/// A high-level representation of the ICMPv4 messages pollnet handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Icmpv4Repr<'a> {
    /// An echo request (ping).
    EchoRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Data to be echoed.
        data: &'a [u8],
    },
    /// An echo reply.
    EchoReply {
        /// Identifier, copied from the request.
        ident: u16,
        /// Sequence number, copied from the request.
        seq_no: u16,
        /// Data, copied from the request.
        data: &'a [u8],
    },
    /// A destination unreachable error.
    DstUnreachable {
        /// The code.
        reason: Icmpv4DstUnreachable,
        /// Next-hop MTU for `FragRequired` (RFC 1191 section 4); zero
        /// otherwise or from an old router.
        next_hop_mtu: u16,
        /// The quoted header of the offending datagram.
        header: Ipv4Repr,
        /// The quoted payload of the offending datagram: at least its first
        /// 8 bytes (RFC 792), enough for the TCP/UDP ports.
        data: &'a [u8],
    },
    /// A time exceeded error.
    TimeExceeded {
        /// The code.
        reason: Icmpv4TimeExceeded,
        /// The quoted header of the offending datagram.
        header: Ipv4Repr,
        /// The quoted payload of the offending datagram (at least 8 bytes).
        data: &'a [u8],
    },
}

impl<'a> Icmpv4Repr<'a> {
    /// Parses an ICMPv4 message.
    ///
    /// Fails with `Truncated` on a short message or an error quoting fewer
    /// than 8 payload bytes, `BadChecksum` when `caps.icmpv4` asks for
    /// verification and it fails, `Unrecognized` for other message types
    /// or a non-zero echo code, and the quoted-header errors of IPv4
    /// (`BadIhl`, `BadVersion`, `LengthTooSmall`).
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &Icmpv4Packet<&'a T>,
        caps: &ChecksumCapabilities,
    ) -> Result<Icmpv4Repr<'a>> {
        packet.check_len()?;
        let buffer: &'a [u8] = packet.buffer.as_ref();
        if caps.icmpv4.rx() && !packet.verify_checksum() {
            return Err(Error::BadChecksum);
        }
        let data = &buffer[field::DATA..];
        match (packet.msg_type(), packet.msg_code()) {
            (Icmpv4Message::EchoRequest, 0) => Ok(Icmpv4Repr::EchoRequest {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            }),
            (Icmpv4Message::EchoReply, 0) => Ok(Icmpv4Repr::EchoReply {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            }),
            (Icmpv4Message::DstUnreachable, code) => {
                let (header, quoted) = Self::parse_quoted(data)?;
                Ok(Icmpv4Repr::DstUnreachable {
                    reason: Icmpv4DstUnreachable::from(code),
                    next_hop_mtu: packet.next_hop_mtu(),
                    header,
                    data: quoted,
                })
            }
            (Icmpv4Message::TimeExceeded, code) => {
                let (header, quoted) = Self::parse_quoted(data)?;
                Ok(Icmpv4Repr::TimeExceeded {
                    reason: Icmpv4TimeExceeded::from(code),
                    header,
                    data: quoted,
                })
            }
            _ => Err(Error::Unrecognized),
        }
    }

    fn parse_quoted(data: &'a [u8]) -> Result<(Ipv4Repr, &'a [u8])> {
        let (header, quoted) = Ipv4Repr::parse_quoted(data)?;
        if quoted.len() < QUOTED_PAYLOAD_MIN {
            return Err(Error::Truncated);
        }
        Ok((header, quoted))
    }

    /// The number of bytes [`emit`](Self::emit) writes: the 8-byte header,
    /// plus the echo data or the quoted 20-byte header and payload.
    pub fn buffer_len(&self) -> usize {
        match self {
            Icmpv4Repr::EchoRequest { data, .. } | Icmpv4Repr::EchoReply { data, .. } => {
                HEADER_LEN + data.len()
            }
            Icmpv4Repr::DstUnreachable { header, data, .. }
            | Icmpv4Repr::TimeExceeded { header, data, .. } => {
                HEADER_LEN + header.buffer_len() + data.len()
            }
        }
    }

    /// Writes the message into `packet`, whose buffer must hold at least
    /// [`buffer_len`](Self::buffer_len) bytes (a shorter one is a caller bug
    /// and panics); the checksum covers those bytes. The quoted header
    /// is re-emitted from its representation: no options, identification
    /// zero, its own checksum filled. The ICMP checksum is filled when
    /// `caps.icmpv4` says software transmits it.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Icmpv4Packet<T>,
        caps: &ChecksumCapabilities,
    ) {
        packet.set_checksum(0);
        match *self {
            Icmpv4Repr::EchoRequest {
                ident,
                seq_no,
                data,
            }
            | Icmpv4Repr::EchoReply {
                ident,
                seq_no,
                data,
            } => {
                let msg_type = if matches!(self, Icmpv4Repr::EchoRequest { .. }) {
                    Icmpv4Message::EchoRequest
                } else {
                    Icmpv4Message::EchoReply
                };
                packet.set_msg_type(msg_type);
                packet.set_msg_code(0);
                packet.set_echo_ident(ident);
                packet.set_echo_seq_no(seq_no);
                packet.data_mut()[..data.len()].copy_from_slice(data);
            }
            Icmpv4Repr::DstUnreachable {
                reason,
                next_hop_mtu,
                header,
                data,
            } => {
                packet.set_msg_type(Icmpv4Message::DstUnreachable);
                packet.set_msg_code(u8::from(reason));
                packet.set_next_hop_mtu(next_hop_mtu);
                Self::emit_quoted(packet.data_mut(), &header, data);
            }
            Icmpv4Repr::TimeExceeded {
                reason,
                header,
                data,
            } => {
                packet.set_msg_type(Icmpv4Message::TimeExceeded);
                packet.set_msg_code(u8::from(reason));
                packet.set_next_hop_mtu(0);
                Self::emit_quoted(packet.data_mut(), &header, data);
            }
        }
        if caps.icmpv4.tx() {
            let len = self.buffer_len();
            let sum = checksum::data(&packet.buffer.as_ref()[..len]);
            packet.set_checksum(!sum);
        }
    }

    fn emit_quoted(out: &mut [u8], header: &Ipv4Repr, data: &[u8]) {
        let mut quoted = Ipv4Packet::new_unchecked(&mut out[..ipv4::HEADER_LEN]);
        // The quoted header is always checksummed: it stands for a datagram
        // that was on the wire, not for one this host offloads.
        header.emit(&mut quoted, &ChecksumCapabilities::default());
        out[ipv4::HEADER_LEN..ipv4::HEADER_LEN + data.len()].copy_from_slice(data);
    }
}

impl fmt::Display for Icmpv4Repr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Icmpv4Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } => write!(
                f,
                "ICMPv4 echo request id={ident} seq={seq_no} len={}",
                data.len()
            ),
            Icmpv4Repr::EchoReply {
                ident,
                seq_no,
                data,
            } => write!(
                f,
                "ICMPv4 echo reply id={ident} seq={seq_no} len={}",
                data.len()
            ),
            Icmpv4Repr::DstUnreachable {
                reason,
                next_hop_mtu,
                header,
                ..
            } => write!(
                f,
                "ICMPv4 destination unreachable code={} mtu={next_hop_mtu} ({header})",
                u8::from(*reason)
            ),
            Icmpv4Repr::TimeExceeded { reason, header, .. } => write!(
                f,
                "ICMPv4 time exceeded code={} ({header})",
                u8::from(*reason)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::wire::{IpProtocol, Ipv4Address};
    use std::string::ToString;
    use std::vec;
    use std::vec::Vec;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// The ICMP part of a Linux `ping` echo request (id 0x1efa, seq 1, 56
    /// data bytes: a timestamp and the 0x10.. pattern), captured on a veth
    /// pair.
    const ECHO_REQUEST: &str = "0800874d1efa00011e9b046b0000000062de0d0000000000\
        101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637";
    /// Linux's echo reply to it.
    const ECHO_REPLY: &str = "00008f4d1efa00011e9b046b0000000062de0d0000000000\
        101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637";
    /// Linux's port unreachable for a UDP datagram to 192.0.2.2 port 9,
    /// quoting the whole 31-byte datagram (id 0xac4f, DF).
    const PORT_UNREACHABLE: &str = "0303811d00000000\
        4500001fac4f400040110a7bc0000201c0000202b0320009000b592f68690a";

    fn caps() -> ChecksumCapabilities {
        ChecksumCapabilities::default()
    }

    fn emit(repr: &Icmpv4Repr) -> Vec<u8> {
        let mut out = vec![0u8; repr.buffer_len()];
        repr.emit(&mut Icmpv4Packet::new_unchecked(&mut out[..]), &caps());
        out
    }

    #[test]
    fn linux_echo_request_and_reply() {
        for (text, is_request) in [(ECHO_REQUEST, true), (ECHO_REPLY, false)] {
            let bytes = hex(text);
            let packet = Icmpv4Packet::new_checked(&bytes[..]).unwrap();
            assert!(packet.verify_checksum());
            assert_eq!(packet.echo_ident(), 0x1efa);
            assert_eq!(packet.echo_seq_no(), 1);
            let repr = Icmpv4Repr::parse(&packet, &caps()).unwrap();
            let data = &bytes[8..];
            let expected = if is_request {
                Icmpv4Repr::EchoRequest {
                    ident: 0x1efa,
                    seq_no: 1,
                    data,
                }
            } else {
                Icmpv4Repr::EchoReply {
                    ident: 0x1efa,
                    seq_no: 1,
                    data,
                }
            };
            assert_eq!(repr, expected);
            assert_eq!(data.len(), 56);
            assert_eq!(emit(&repr), bytes);
        }
    }

    #[test]
    fn linux_port_unreachable() {
        let bytes = hex(PORT_UNREACHABLE);
        let packet = Icmpv4Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.msg_type(), Icmpv4Message::DstUnreachable);
        assert_eq!(packet.msg_code(), 3);
        let repr = Icmpv4Repr::parse(&packet, &caps()).unwrap();
        let header = Ipv4Repr {
            src_addr: Ipv4Address::new(192, 0, 2, 1),
            dst_addr: Ipv4Address::new(192, 0, 2, 2),
            next_header: IpProtocol::Udp,
            payload_len: 11,
            hop_limit: 64,
            dont_frag: true,
            ecn: crate::wire::IpEcn::NotEct,
        };
        assert_eq!(
            repr,
            Icmpv4Repr::DstUnreachable {
                reason: Icmpv4DstUnreachable::PortUnreachable,
                next_hop_mtu: 0,
                header,
                data: &bytes[28..],
            }
        );
        // The quoted UDP datagram: ports 45106 -> 9, "hi\n".
        assert_eq!(&bytes[28..32], &[0xb0, 0x32, 0x00, 0x09]);

        // Re-emit: only the quoted header's identification is not in the
        // repr; restoring it (and both checksums) gives Linux's bytes.
        let mut out = emit(&repr);
        assert!(
            Icmpv4Packet::new_checked(&out[..])
                .unwrap()
                .verify_checksum()
        );
        let mut quoted = Ipv4Packet::new_unchecked(&mut out[8..28]);
        quoted.set_ident(0xac4f);
        quoted.fill_checksum();
        Icmpv4Packet::new_unchecked(&mut out[..]).fill_checksum();
        assert_eq!(out, bytes);
    }

    #[test]
    fn frag_required_and_time_exceeded_round_trip() {
        let header = Ipv4Repr {
            src_addr: Ipv4Address::new(192, 0, 2, 1),
            dst_addr: Ipv4Address::new(192, 0, 2, 99),
            next_header: IpProtocol::Tcp,
            payload_len: 1480,
            hop_limit: 1,
            dont_frag: true,
            ecn: crate::wire::IpEcn::NotEct,
        };
        let quoted = [0x13, 0x88, 0xc3, 0x50, 0, 0, 0, 1];
        let repr = Icmpv4Repr::DstUnreachable {
            reason: Icmpv4DstUnreachable::FragRequired,
            next_hop_mtu: 1280,
            header,
            data: &quoted,
        };
        let bytes = emit(&repr);
        assert_eq!(bytes.len(), 8 + 20 + 8);
        assert_eq!(&bytes[..2], &[3, 4]);
        assert_eq!(&bytes[4..8], &[0, 0, 0x05, 0x00]);
        let packet = Icmpv4Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.next_hop_mtu(), 1280);
        assert_eq!(Icmpv4Repr::parse(&packet, &caps()), Ok(repr));
        assert_eq!(
            repr.to_string(),
            "ICMPv4 destination unreachable code=4 mtu=1280 (IPv4 src=192.0.2.1 \
             dst=192.0.2.99 proto=TCP payload=1480 ttl=1 DF)"
        );

        let repr = Icmpv4Repr::TimeExceeded {
            reason: Icmpv4TimeExceeded::TtlExpired,
            header,
            data: &quoted,
        };
        let bytes = emit(&repr);
        assert_eq!(&bytes[..2], &[11, 0]);
        let packet = Icmpv4Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(Icmpv4Repr::parse(&packet, &caps()), Ok(repr));
    }

    #[test]
    fn codes_convert_both_ways() {
        for code in 0..=255u8 {
            assert_eq!(u8::from(Icmpv4DstUnreachable::from(code)), code);
            assert_eq!(u8::from(Icmpv4TimeExceeded::from(code)), code);
            assert_eq!(u8::from(Icmpv4Message::from(code)), code);
        }
        assert_eq!(
            Icmpv4DstUnreachable::from(4),
            Icmpv4DstUnreachable::FragRequired
        );
    }

    #[test]
    fn errors() {
        let bytes = hex(ECHO_REQUEST);
        for len in 0..8 {
            assert_eq!(
                Icmpv4Packet::new_checked(&bytes[..len]).unwrap_err(),
                Error::Truncated
            );
            let packet = Icmpv4Packet::new_unchecked(&bytes[..len]);
            assert_eq!(Icmpv4Repr::parse(&packet, &caps()), Err(Error::Truncated));
        }
        let mut bad = bytes.clone();
        bad[20] ^= 0xff;
        let packet = Icmpv4Packet::new_checked(&bad[..]).unwrap();
        assert_eq!(Icmpv4Repr::parse(&packet, &caps()), Err(Error::BadChecksum));
        assert!(Icmpv4Repr::parse(&packet, &ChecksumCapabilities::ignored()).is_ok());

        // A redirect is not handled.
        let mut redirect = bytes.clone();
        redirect[0] = 5;
        let mut packet = Icmpv4Packet::new_unchecked(&mut redirect[..]);
        packet.fill_checksum();
        let packet = Icmpv4Packet::new_checked(&redirect[..]).unwrap();
        assert_eq!(
            Icmpv4Repr::parse(&packet, &caps()),
            Err(Error::Unrecognized)
        );

        // An error quoting fewer than 8 payload bytes.
        let unreachable = hex(PORT_UNREACHABLE);
        let mut short = unreachable[..8 + 20 + 7].to_vec();
        Icmpv4Packet::new_unchecked(&mut short[..]).fill_checksum();
        let packet = Icmpv4Packet::new_checked(&short[..]).unwrap();
        assert_eq!(Icmpv4Repr::parse(&packet, &caps()), Err(Error::Truncated));
        // An error whose quoted header has IHL 4.
        let mut bad_ihl = unreachable.clone();
        bad_ihl[8] = 0x44;
        Icmpv4Packet::new_unchecked(&mut bad_ihl[..]).fill_checksum();
        let packet = Icmpv4Packet::new_checked(&bad_ihl[..]).unwrap();
        assert_eq!(Icmpv4Repr::parse(&packet, &caps()), Err(Error::BadIhl));
    }

    #[test]
    fn setters() {
        let mut bytes = [0u8; 10];
        let mut packet = Icmpv4Packet::new_unchecked(&mut bytes[..]);
        packet.set_msg_type(Icmpv4Message::EchoRequest);
        packet.set_msg_code(0);
        packet.set_echo_ident(0x1234);
        packet.set_echo_seq_no(0x5678);
        packet.data_mut().copy_from_slice(&[0xab, 0xcd]);
        packet.fill_checksum();
        // 0x0800 + 0x1234 + 0x5678 + 0xabcd = 0x1c7a (end-around carry); !0x1c7a = 0xe385.
        assert_eq!(
            &bytes[..],
            &[8, 0, 0xe3, 0x85, 0x12, 0x34, 0x56, 0x78, 0xab, 0xcd]
        );
        let packet = Icmpv4Packet::new_checked(&bytes[..]).unwrap();
        assert!(packet.verify_checksum());
        assert_eq!(packet.data(), &[0xab, 0xcd]);
    }
}
