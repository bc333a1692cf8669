//! ICMP for IPv6 (RFC 4443): echo, destination unreachable, packet too big,
//! time exceeded and parameter problem, with the checksum over the IPv6
//! pseudo-header (RFC 4443 section 2.3). Neighbor discovery messages are in
//! [`crate::wire::ndp`] and MLDv2 in [`crate::wire::mld`]; [`Icmpv6Repr`]
//! parses and emits all of them.

use core::fmt;

use super::checksum;
use super::ip::{IpAddress, IpProtocol};
use super::ipv6::{self, Ipv6Address, Ipv6Packet, Ipv6Repr};
use super::mld::MldRepr;
use super::ndp::NdiscRepr;
use super::{ChecksumCapabilities, Error, Result};

/// The ICMPv6 message type (IANA's ICMPv6 parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Icmpv6Message {
    /// Destination unreachable (1).
    DstUnreachable,
    /// Packet too big (2).
    PktTooBig,
    /// Time exceeded (3).
    TimeExceeded,
    /// Parameter problem (4).
    ParamProblem,
    /// Echo request (128).
    EchoRequest,
    /// Echo reply (129).
    EchoReply,
    /// Multicast listener query (130, RFC 2710 and RFC 3810).
    MldQuery,
    /// MLDv1 multicast listener report (131, RFC 2710).
    MldReportV1,
    /// MLDv1 multicast listener done (132, RFC 2710).
    MldDone,
    /// Router solicitation (133, RFC 4861).
    RouterSolicit,
    /// Router advertisement (134, RFC 4861).
    RouterAdvert,
    /// Neighbor solicitation (135, RFC 4861).
    NeighborSolicit,
    /// Neighbor advertisement (136, RFC 4861).
    NeighborAdvert,
    /// Redirect (137, RFC 4861).
    Redirect,
    /// MLDv2 multicast listener report (143, RFC 3810).
    MldReport,
    /// Any other type.
    Unknown(u8),
}

impl Icmpv6Message {
    /// Whether this is an error message (types 0 to 127, RFC 4443 section
    /// 2.1). An unknown error must still reach the upper layer (section
    /// 2.4 (b)); an unknown informational message is discarded.
    pub fn is_error(&self) -> bool {
        u8::from(*self) < 128
    }
}

impl From<u8> for Icmpv6Message {
    fn from(value: u8) -> Self {
        use Icmpv6Message::*;
        match value {
            1 => DstUnreachable,
            2 => PktTooBig,
            3 => TimeExceeded,
            4 => ParamProblem,
            128 => EchoRequest,
            129 => EchoReply,
            130 => MldQuery,
            131 => MldReportV1,
            132 => MldDone,
            133 => RouterSolicit,
            134 => RouterAdvert,
            135 => NeighborSolicit,
            136 => NeighborAdvert,
            137 => Redirect,
            143 => MldReport,
            other => Unknown(other),
        }
    }
}

impl From<Icmpv6Message> for u8 {
    fn from(value: Icmpv6Message) -> u8 {
        use Icmpv6Message::*;
        match value {
            DstUnreachable => 1,
            PktTooBig => 2,
            TimeExceeded => 3,
            ParamProblem => 4,
            EchoRequest => 128,
            EchoReply => 129,
            MldQuery => 130,
            MldReportV1 => 131,
            MldDone => 132,
            RouterSolicit => 133,
            RouterAdvert => 134,
            NeighborSolicit => 135,
            NeighborAdvert => 136,
            Redirect => 137,
            MldReport => 143,
            Unknown(other) => other,
        }
    }
}

impl fmt::Display for Icmpv6Message {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        use Icmpv6Message::*;
        let text = match self {
            DstUnreachable => "destination unreachable",
            PktTooBig => "packet too big",
            TimeExceeded => "time exceeded",
            ParamProblem => "parameter problem",
            EchoRequest => "echo request",
            EchoReply => "echo reply",
            MldQuery => "multicast listener query",
            MldReportV1 => "multicast listener report v1",
            MldDone => "multicast listener done",
            RouterSolicit => "router solicitation",
            RouterAdvert => "router advertisement",
            NeighborSolicit => "neighbor solicitation",
            NeighborAdvert => "neighbor advertisement",
            Redirect => "redirect",
            MldReport => "multicast listener report v2",
            Unknown(n) => return write!(f, "type {n}"),
        };
        f.write_str(text)
    }
}

/// Declares a code enum with an `Unknown(u8)` fallback and conversions.
macro_rules! icmpv6_code {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $value:expr,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// Any other code.
            Unknown(u8),
        }

        impl From<u8> for $name {
            fn from(value: u8) -> Self {
                match value {
                    $($value => $name::$variant,)*
                    other => $name::Unknown(other),
                }
            }
        }

        impl From<$name> for u8 {
            fn from(value: $name) -> u8 {
                match value {
                    $($name::$variant => $value,)*
                    $name::Unknown(other) => other,
                }
            }
        }
    };
}

icmpv6_code! {
    /// The code of a destination unreachable message (RFC 4443 section 3.1).
    Icmpv6DstUnreachable {
        /// No route to destination (0).
        NoRoute = 0,
        /// Communication administratively prohibited (1).
        AdminProhibit = 1,
        /// Beyond the scope of the source address (2).
        BeyondScope = 2,
        /// Address unreachable (3).
        AddrUnreachable = 3,
        /// Port unreachable (4).
        PortUnreachable = 4,
        /// Source address failed ingress/egress policy (5).
        FailedPolicy = 5,
        /// Reject route to destination (6).
        RejectRoute = 6,
    }
}

icmpv6_code! {
    /// The code of a time exceeded message (RFC 4443 section 3.3).
    Icmpv6TimeExceeded {
        /// Hop limit exceeded in transit (0).
        HopLimitExceeded = 0,
        /// Fragment reassembly time exceeded (1).
        FragReassemblyExceeded = 1,
    }
}

icmpv6_code! {
    /// The code of a parameter problem message (RFC 4443 section 3.4,
    /// RFC 7112 section 6 for code 3).
    Icmpv6ParamProblem {
        /// Erroneous header field encountered (0).
        ErroneousHeaderField = 0,
        /// Unrecognized next header type encountered (1).
        UnrecognizedNextHeader = 1,
        /// Unrecognized IPv6 option encountered (2).
        UnrecognizedOption = 2,
        /// The first fragment has an incomplete header chain (3).
        IncompleteHeaderChain = 3,
    }
}

/// Byte offsets of the ICMPv6 fields shared by the messages.
pub(super) mod field {
    use core::ops::Range;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    /// Echo identifier.
    pub const ECHO_IDENT: Range<usize> = 4..6;
    /// Echo sequence number.
    pub const ECHO_SEQNO: Range<usize> = 6..8;
    /// Packet too big: MTU; parameter problem: pointer; other errors:
    /// unused.
    pub const WORD: Range<usize> = 4..8;
    /// Error messages: the invoking packet; echo: data.
    pub const DATA: usize = 8;
}

/// The length of the ICMPv6 header every message shares: type, code,
/// checksum and four bytes whose meaning depends on the type.
pub const HEADER_LEN: usize = 8;

/// The most an error message should be (RFC 4443 section 2.4 (c)): the
/// invoking packet is cut so the whole IPv6 packet fits the minimum MTU.
pub const MAX_ERROR_LEN: usize = ipv6::MIN_MTU - ipv6::HEADER_LEN;

/// A zero-copy view of an ICMPv6 message.
///
/// After [`new_checked`](Self::new_checked) the buffer holds the 8-byte
/// header and no accessor panics: a field past the end of the buffer (one
/// of another message type, or of a truncated message) reads as zero, and
/// [`Icmpv6Repr::parse`] checks each type's length. The accessors of NDP
/// and MLD fields are in [`crate::wire::ndp`] and [`crate::wire::mld`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Icmpv6Packet<T: AsRef<[u8]>> {
    pub(super) buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv6Packet<T> {
    /// A view of `buffer` without checking its length; accessors may panic
    /// on a short buffer until [`check_len`](Self::check_len) has passed.
    pub const fn new_unchecked(buffer: T) -> Icmpv6Packet<T> {
        Icmpv6Packet { buffer }
    }

    /// A view of `buffer`, which must hold the 8-byte header.
    pub fn new_checked(buffer: T) -> Result<Icmpv6Packet<T>> {
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

    /// The bytes at `at..at + N`, or zeros where the buffer ends first:
    /// the accessors of other message types' fields then read zero instead
    /// of panicking (the reprs check each type's length).
    pub(super) fn bytes_at<const N: usize>(&self, at: usize) -> [u8; N] {
        let mut bytes = [0u8; N];
        let data = self.buffer.as_ref();
        if let Some(src) = data.get(at..) {
            let n = src.len().min(N);
            bytes[..n].copy_from_slice(&src[..n]);
        }
        bytes
    }

    pub(super) fn u16_at(&self, at: usize) -> u16 {
        u16::from_be_bytes(self.bytes_at(at))
    }

    pub(super) fn u32_at(&self, at: usize) -> u32 {
        u32::from_be_bytes(self.bytes_at(at))
    }

    pub(super) fn addr_at(&self, at: usize) -> Ipv6Address {
        Ipv6Address(self.bytes_at(at))
    }

    /// The bytes from `at` to the end (empty when the buffer is shorter).
    pub(super) fn tail(&self, at: usize) -> &[u8] {
        self.buffer.as_ref().get(at..).unwrap_or(&[])
    }

    /// The message type.
    pub fn msg_type(&self) -> Icmpv6Message {
        Icmpv6Message::from(self.buffer.as_ref()[field::TYPE])
    }

    /// The message code.
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        self.u16_at(field::CHECKSUM.start)
    }

    /// The echo identifier (meaningful for echo messages).
    pub fn echo_ident(&self) -> u16 {
        self.u16_at(field::ECHO_IDENT.start)
    }

    /// The echo sequence number (meaningful for echo messages).
    pub fn echo_seq_no(&self) -> u16 {
        self.u16_at(field::ECHO_SEQNO.start)
    }

    /// The MTU of a packet too big message (RFC 4443 section 3.2).
    pub fn pkt_too_big_mtu(&self) -> u32 {
        self.u32_at(field::WORD.start)
    }

    /// The pointer of a parameter problem message: the offending byte's
    /// offset in the invoking packet (RFC 4443 section 3.4).
    pub fn param_problem_ptr(&self) -> u32 {
        self.u32_at(field::WORD.start)
    }

    /// The bytes after the 8-byte header: echo data, or the invoking packet
    /// of an error message.
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[field::DATA..]
    }

    /// Whether the checksum over the pseudo-header and the whole message
    /// verifies (RFC 4443 section 2.3).
    pub fn verify_checksum(&self, src_addr: &Ipv6Address, dst_addr: &Ipv6Address) -> bool {
        sum(src_addr, dst_addr, self.buffer.as_ref()) == 0xffff
    }
}

/// The checksum sum over the ICMPv6 pseudo-header and `message`.
fn sum(src_addr: &Ipv6Address, dst_addr: &Ipv6Address, message: &[u8]) -> u16 {
    // A message longer than u32::MAX cannot be in memory.
    let len = u32::try_from(message.len()).unwrap_or(u32::MAX);
    checksum::combine(&[
        checksum::pseudo_header(
            &IpAddress::Ipv6(*src_addr),
            &IpAddress::Ipv6(*dst_addr),
            IpProtocol::Icmpv6,
            len,
        ),
        checksum::data(message),
    ])
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv6Packet<T> {
    pub(super) fn set_u16_at(&mut self, at: usize, value: u16) {
        self.buffer.as_mut()[at..at + 2].copy_from_slice(&value.to_be_bytes());
    }

    pub(super) fn set_u32_at(&mut self, at: usize, value: u32) {
        self.buffer.as_mut()[at..at + 4].copy_from_slice(&value.to_be_bytes());
    }

    pub(super) fn set_addr_at(&mut self, at: usize, addr: &Ipv6Address) {
        self.buffer.as_mut()[at..at + 16].copy_from_slice(&addr.0);
    }

    /// Sets the message type.
    pub fn set_msg_type(&mut self, value: Icmpv6Message) {
        self.buffer.as_mut()[field::TYPE] = u8::from(value);
    }

    /// Sets the message code.
    pub fn set_msg_code(&mut self, value: u8) {
        self.buffer.as_mut()[field::CODE] = value;
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        self.set_u16_at(field::CHECKSUM.start, value);
    }

    /// Sets the echo identifier.
    pub fn set_echo_ident(&mut self, value: u16) {
        self.set_u16_at(field::ECHO_IDENT.start, value);
    }

    /// Sets the echo sequence number.
    pub fn set_echo_seq_no(&mut self, value: u16) {
        self.set_u16_at(field::ECHO_SEQNO.start, value);
    }

    /// Sets the MTU of a packet too big message.
    pub fn set_pkt_too_big_mtu(&mut self, value: u32) {
        self.set_u32_at(field::WORD.start, value);
    }

    /// Sets the pointer of a parameter problem message.
    pub fn set_param_problem_ptr(&mut self, value: u32) {
        self.set_u32_at(field::WORD.start, value);
    }

    /// The bytes after the header, mutable.
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::DATA..]
    }

    /// Computes the checksum over the pseudo-header and the whole buffer
    /// and writes it.
    pub fn fill_checksum(&mut self, src_addr: &Ipv6Address, dst_addr: &Ipv6Address) {
        self.set_checksum(0);
        let sum = sum(src_addr, dst_addr, self.buffer.as_ref());
        self.set_checksum(!sum);
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Icmpv6Packet<T> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.check_len() {
            Ok(()) => write!(
                f,
                "ICMPv6 {} code={} len={}",
                self.msg_type(),
                self.msg_code(),
                self.buffer.as_ref().len()
            ),
            Err(err) => write!(f, "ICMPv6 ({err})"),
        }
    }
}

/// A high-level representation of the ICMPv6 messages pollnet handles.
///
/// Error messages carry the invoking packet's fixed header as an
/// [`Ipv6Repr`] and the bytes after it (extension headers, then the upper
/// layer, cut by the sender): [`crate::wire::ipv6ext::walk`] finds the
/// upper layer in them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Icmpv6Repr<'a> {
    /// A destination unreachable error (RFC 4443 section 3.1).
    DstUnreachable {
        /// The code.
        reason: Icmpv6DstUnreachable,
        /// The invoking packet's fixed header.
        header: Ipv6Repr,
        /// The invoking packet's bytes after its fixed header.
        data: &'a [u8],
    },
    /// A packet too big error (RFC 4443 section 3.2).
    PktTooBig {
        /// The MTU of the next-hop link.
        mtu: u32,
        /// The invoking packet's fixed header.
        header: Ipv6Repr,
        /// The invoking packet's bytes after its fixed header.
        data: &'a [u8],
    },
    /// A time exceeded error (RFC 4443 section 3.3).
    TimeExceeded {
        /// The code.
        reason: Icmpv6TimeExceeded,
        /// The invoking packet's fixed header.
        header: Ipv6Repr,
        /// The invoking packet's bytes after its fixed header.
        data: &'a [u8],
    },
    /// A parameter problem error (RFC 4443 section 3.4).
    ParamProblem {
        /// The code.
        reason: Icmpv6ParamProblem,
        /// The offset of the offending byte in the invoking packet.
        pointer: u32,
        /// The invoking packet's fixed header.
        header: Ipv6Repr,
        /// The invoking packet's bytes after its fixed header.
        data: &'a [u8],
    },
    /// An echo request (RFC 4443 section 4.1).
    EchoRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Data to be echoed.
        data: &'a [u8],
    },
    /// An echo reply (RFC 4443 section 4.2).
    EchoReply {
        /// Identifier, copied from the request.
        ident: u16,
        /// Sequence number, copied from the request.
        seq_no: u16,
        /// Data, copied from the request.
        data: &'a [u8],
    },
    /// A neighbor discovery message (RFC 4861).
    Ndisc(NdiscRepr<'a>),
    /// A multicast listener discovery message (RFC 3810, and RFC 2710
    /// queries).
    Mld(MldRepr<'a>),
}

impl<'a> Icmpv6Repr<'a> {
    /// Parses an ICMPv6 message carried from `src_addr` to `dst_addr`.
    ///
    /// Fails with `Truncated` on a message shorter than its type needs (an
    /// error without the invoking packet's 40-byte header included);
    /// `BadChecksum` when `caps.icmpv6` asks for verification and it fails;
    /// `BadVersion` for an invoking packet that is not IPv6;
    /// `Unrecognized` for other types (MLDv1 reports and dones included),
    /// an echo with a non-zero code; and the NDP and MLD errors of
    /// [`NdiscRepr::parse`] and [`MldRepr::parse`]. The caller checks what
    /// needs the IP header: NDP's hop limit of 255 and MLD's link-local
    /// source (RFC 4861 section 6.1, RFC 3810 section 5).
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        src_addr: &Ipv6Address,
        dst_addr: &Ipv6Address,
        packet: &Icmpv6Packet<&'a T>,
        caps: &ChecksumCapabilities,
    ) -> Result<Icmpv6Repr<'a>> {
        packet.check_len()?;
        if caps.icmpv6.rx() && !packet.verify_checksum(src_addr, dst_addr) {
            return Err(Error::BadChecksum);
        }
        let buffer: &'a [u8] = packet.buffer.as_ref();
        let data = &buffer[field::DATA..];
        let code = packet.msg_code();
        match packet.msg_type() {
            Icmpv6Message::DstUnreachable => {
                let (header, data) = Ipv6Repr::parse_quoted(data)?;
                Ok(Icmpv6Repr::DstUnreachable {
                    reason: Icmpv6DstUnreachable::from(code),
                    header,
                    data,
                })
            }
            Icmpv6Message::PktTooBig => {
                let (header, data) = Ipv6Repr::parse_quoted(data)?;
                Ok(Icmpv6Repr::PktTooBig {
                    mtu: packet.pkt_too_big_mtu(),
                    header,
                    data,
                })
            }
            Icmpv6Message::TimeExceeded => {
                let (header, data) = Ipv6Repr::parse_quoted(data)?;
                Ok(Icmpv6Repr::TimeExceeded {
                    reason: Icmpv6TimeExceeded::from(code),
                    header,
                    data,
                })
            }
            Icmpv6Message::ParamProblem => {
                let (header, data) = Ipv6Repr::parse_quoted(data)?;
                Ok(Icmpv6Repr::ParamProblem {
                    reason: Icmpv6ParamProblem::from(code),
                    pointer: packet.param_problem_ptr(),
                    header,
                    data,
                })
            }
            Icmpv6Message::EchoRequest if code == 0 => Ok(Icmpv6Repr::EchoRequest {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            }),
            Icmpv6Message::EchoReply if code == 0 => Ok(Icmpv6Repr::EchoReply {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            }),
            Icmpv6Message::RouterSolicit
            | Icmpv6Message::RouterAdvert
            | Icmpv6Message::NeighborSolicit
            | Icmpv6Message::NeighborAdvert
            | Icmpv6Message::Redirect => NdiscRepr::parse(packet).map(Icmpv6Repr::Ndisc),
            Icmpv6Message::MldQuery | Icmpv6Message::MldReport => {
                MldRepr::parse(packet).map(Icmpv6Repr::Mld)
            }
            _ => Err(Error::Unrecognized),
        }
    }

    /// The number of bytes [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        match self {
            Icmpv6Repr::DstUnreachable { header, data, .. }
            | Icmpv6Repr::PktTooBig { header, data, .. }
            | Icmpv6Repr::TimeExceeded { header, data, .. }
            | Icmpv6Repr::ParamProblem { header, data, .. } => {
                HEADER_LEN + header.buffer_len() + data.len()
            }
            Icmpv6Repr::EchoRequest { data, .. } | Icmpv6Repr::EchoReply { data, .. } => {
                HEADER_LEN + data.len()
            }
            Icmpv6Repr::Ndisc(ndisc) => ndisc.buffer_len(),
            Icmpv6Repr::Mld(mld) => mld.buffer_len(),
        }
    }

    /// Writes the message into `packet`, whose buffer must hold at least
    /// [`buffer_len`](Self::buffer_len) bytes (a shorter one is a caller bug
    /// and panics); the checksum covers those bytes and is filled when
    /// `caps.icmpv6` says software transmits it. Error messages are written
    /// as given: the caller cuts `data` so the packet fits
    /// [`MAX_ERROR_LEN`] (RFC 4443 section 2.4 (c)).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        src_addr: &Ipv6Address,
        dst_addr: &Ipv6Address,
        packet: &mut Icmpv6Packet<T>,
        caps: &ChecksumCapabilities,
    ) {
        packet.set_checksum(0);
        match *self {
            Icmpv6Repr::DstUnreachable {
                reason,
                header,
                data,
            } => {
                packet.set_msg_type(Icmpv6Message::DstUnreachable);
                packet.set_msg_code(u8::from(reason));
                packet.set_u32_at(field::WORD.start, 0);
                Self::emit_quoted(packet.data_mut(), &header, data);
            }
            Icmpv6Repr::PktTooBig { mtu, header, data } => {
                packet.set_msg_type(Icmpv6Message::PktTooBig);
                packet.set_msg_code(0);
                packet.set_pkt_too_big_mtu(mtu);
                Self::emit_quoted(packet.data_mut(), &header, data);
            }
            Icmpv6Repr::TimeExceeded {
                reason,
                header,
                data,
            } => {
                packet.set_msg_type(Icmpv6Message::TimeExceeded);
                packet.set_msg_code(u8::from(reason));
                packet.set_u32_at(field::WORD.start, 0);
                Self::emit_quoted(packet.data_mut(), &header, data);
            }
            Icmpv6Repr::ParamProblem {
                reason,
                pointer,
                header,
                data,
            } => {
                packet.set_msg_type(Icmpv6Message::ParamProblem);
                packet.set_msg_code(u8::from(reason));
                packet.set_param_problem_ptr(pointer);
                Self::emit_quoted(packet.data_mut(), &header, data);
            }
            Icmpv6Repr::EchoRequest {
                ident,
                seq_no,
                data,
            }
            | Icmpv6Repr::EchoReply {
                ident,
                seq_no,
                data,
            } => {
                let msg_type = if matches!(self, Icmpv6Repr::EchoRequest { .. }) {
                    Icmpv6Message::EchoRequest
                } else {
                    Icmpv6Message::EchoReply
                };
                packet.set_msg_type(msg_type);
                packet.set_msg_code(0);
                packet.set_echo_ident(ident);
                packet.set_echo_seq_no(seq_no);
                packet.data_mut()[..data.len()].copy_from_slice(data);
            }
            Icmpv6Repr::Ndisc(ndisc) => ndisc.emit(packet),
            Icmpv6Repr::Mld(mld) => mld.emit(packet),
        }
        if caps.icmpv6.tx() {
            let len = self.buffer_len();
            let sum = sum(src_addr, dst_addr, &packet.buffer.as_ref()[..len]);
            packet.set_checksum(!sum);
        }
    }

    fn emit_quoted(out: &mut [u8], header: &Ipv6Repr, data: &[u8]) {
        header.emit(&mut Ipv6Packet::new_unchecked(&mut out[..ipv6::HEADER_LEN]));
        out[ipv6::HEADER_LEN..ipv6::HEADER_LEN + data.len()].copy_from_slice(data);
    }
}

impl fmt::Display for Icmpv6Repr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Icmpv6Repr::DstUnreachable { reason, header, .. } => write!(
                f,
                "ICMPv6 destination unreachable code={} ({header})",
                u8::from(*reason)
            ),
            Icmpv6Repr::PktTooBig { mtu, header, .. } => {
                write!(f, "ICMPv6 packet too big mtu={mtu} ({header})")
            }
            Icmpv6Repr::TimeExceeded { reason, header, .. } => write!(
                f,
                "ICMPv6 time exceeded code={} ({header})",
                u8::from(*reason)
            ),
            Icmpv6Repr::ParamProblem {
                reason,
                pointer,
                header,
                ..
            } => write!(
                f,
                "ICMPv6 parameter problem code={} pointer={pointer} ({header})",
                u8::from(*reason)
            ),
            Icmpv6Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } => write!(
                f,
                "ICMPv6 echo request id={ident} seq={seq_no} len={}",
                data.len()
            ),
            Icmpv6Repr::EchoReply {
                ident,
                seq_no,
                data,
            } => write!(
                f,
                "ICMPv6 echo reply id={ident} seq={seq_no} len={}",
                data.len()
            ),
            Icmpv6Repr::Ndisc(ndisc) => write!(f, "ICMPv6 {ndisc}"),
            Icmpv6Repr::Mld(mld) => write!(f, "ICMPv6 {mld}"),
        }
    }
}

#[cfg(test)]
pub(super) mod tests;
