//! IPv6 extension headers (RFC 8200 section 4): hop-by-hop and destination
//! options with their TLV options, the routing header, the fragment header,
//! and [`walk`], which follows the chain from the fixed header to the upper
//! layer with the processing rules of RFC 8200 sections 4.1 to 4.5.

use core::fmt;

use super::icmpv6::Icmpv6ParamProblem;
use super::ip::IpProtocol;
use super::ipv6;
use super::{Error, Result};

/// The most extension headers [`walk`] follows before it gives up with
/// [`Error::TooManyHeaders`]. RFC 8200 section 4.1 recommends an order in
/// which each header appears once (destination options twice): six; two
/// more leave room for an atomic fragment header and a repeat.
pub const MAX_EXT_HEADERS: usize = 8;

/// A zero-copy view of a hop-by-hop options, destination options or
/// routing header: a next header byte, a length byte counting 8-octet units
/// after the first eight, and the rest (RFC 8200 sections 4.3, 4.4, 4.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv6ExtHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6ExtHeader<T> {
    /// A view of `buffer` without checking its length; accessors may panic
    /// on a short buffer until [`check_len`](Self::check_len) has passed.
    pub const fn new_unchecked(buffer: T) -> Ipv6ExtHeader<T> {
        Ipv6ExtHeader { buffer }
    }

    /// A view of `buffer`, which must hold the whole header its length
    /// byte announces.
    pub fn new_checked(buffer: T) -> Result<Ipv6ExtHeader<T>> {
        let header = Self::new_unchecked(buffer);
        header.check_len()?;
        Ok(header)
    }

    /// `Truncated` if the buffer is shorter than the two fixed bytes or
    /// than the header length they announce.
    pub fn check_len(&self) -> Result<()> {
        let data = self.buffer.as_ref();
        if data.len() < 2 || data.len() < self.header_len() {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The next header field.
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol::from(self.buffer.as_ref()[0])
    }

    /// The header length in bytes: `(length field + 1) * 8`.
    pub fn header_len(&self) -> usize {
        (usize::from(self.buffer.as_ref()[1]) + 1) * 8
    }

    /// The bytes after the next header and length fields, up to the header
    /// length: the options of an options header, or a routing header's
    /// type, segments left and type-specific data.
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[2..self.header_len()]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6ExtHeader<T> {
    /// Sets the next header field.
    pub fn set_next_header(&mut self, protocol: IpProtocol) {
        self.buffer.as_mut()[0] = u8::from(protocol);
    }

    /// Sets the header length in bytes: a multiple of 8 from 8 to 2048
    /// (other values are a caller bug; the field takes `len / 8 - 1`,
    /// saturating).
    pub fn set_header_len(&mut self, len: usize) {
        let units = (len / 8).saturating_sub(1);
        self.buffer.as_mut()[1] = u8::try_from(units).unwrap_or(u8::MAX);
    }

    /// The data after the two fixed bytes, mutable.
    pub fn data_mut(&mut self) -> &mut [u8] {
        let end = self.header_len();
        &mut self.buffer.as_mut()[2..end]
    }
}

/// What a node must do with an option it does not recognize, from the two
/// high bits of the option type (RFC 8200 section 4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ipv6OptionAction {
    /// `00`: skip the option and go on.
    Skip,
    /// `01`: discard the packet.
    Discard,
    /// `10`: discard the packet and send an ICMPv6 parameter problem (code
    /// 2, pointing at the option type) even to a multicast destination.
    DiscardAndReport,
    /// `11`: discard the packet and send the parameter problem only if the
    /// destination was not a multicast address.
    DiscardAndReportUnlessMulticast,
}

impl Ipv6OptionAction {
    /// The action an option `kind` asks for when it is not recognized.
    pub const fn from_type(kind: u8) -> Ipv6OptionAction {
        match kind >> 6 {
            0 => Ipv6OptionAction::Skip,
            1 => Ipv6OptionAction::Discard,
            2 => Ipv6OptionAction::DiscardAndReport,
            _ => Ipv6OptionAction::DiscardAndReportUnlessMulticast,
        }
    }
}

/// Option types (RFC 8200 section 4.2, RFC 2711).
mod option_type {
    pub const PAD1: u8 = 0;
    pub const PADN: u8 = 1;
    pub const ROUTER_ALERT: u8 = 5;
}

/// The Router Alert value MLD messages carry (RFC 2711 section 2.1, RFC
/// 3810 section 5).
pub const ROUTER_ALERT_MLD: u16 = 0;

/// One TLV option of a hop-by-hop or destination options header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ipv6Option<'a> {
    /// One byte of padding.
    Pad1,
    /// Padding: the option's data length (its bytes should be zero but are
    /// ignored on receive).
    PadN(u8),
    /// Router Alert (RFC 2711) with its value; only meaningful in a
    /// hop-by-hop header.
    RouterAlert(u16),
    /// Any other option: its type and data. [`Ipv6Option::action`] says
    /// what RFC 8200 section 4.2 asks of a node that does not know it.
    Unknown {
        /// The option type.
        kind: u8,
        /// The option data.
        data: &'a [u8],
    },
}

impl<'a> Ipv6Option<'a> {
    /// The option type.
    pub fn kind(&self) -> u8 {
        match self {
            Ipv6Option::Pad1 => option_type::PAD1,
            Ipv6Option::PadN(_) => option_type::PADN,
            Ipv6Option::RouterAlert(_) => option_type::ROUTER_ALERT,
            Ipv6Option::Unknown { kind, .. } => *kind,
        }
    }

    /// What to do with this option: [`Ipv6OptionAction::Skip`] for the
    /// options pollnet knows (padding, Router Alert), else the action of the
    /// type's two high bits.
    pub fn action(&self) -> Ipv6OptionAction {
        match self {
            Ipv6Option::Unknown { kind, .. } => Ipv6OptionAction::from_type(*kind),
            _ => Ipv6OptionAction::Skip,
        }
    }

    /// Whether the option data may change en route (the type's third
    /// highest bit, RFC 8200 section 4.2).
    pub fn may_change(&self) -> bool {
        self.kind() & 0x20 != 0
    }

    /// The bytes [`emit`](Self::emit) writes: 1 for Pad1, else 2 plus the
    /// data.
    pub fn buffer_len(&self) -> usize {
        match self {
            Ipv6Option::Pad1 => 1,
            Ipv6Option::PadN(len) => 2 + usize::from(*len),
            Ipv6Option::RouterAlert(_) => 4,
            Ipv6Option::Unknown { data, .. } => 2 + data.len(),
        }
    }

    /// Writes the option into the front of `out`, which must hold
    /// [`buffer_len`](Self::buffer_len) bytes (else `BufferTooSmall`).
    /// Unknown option data longer than 255 bytes is `BadOption`.
    pub fn emit(&self, out: &mut [u8]) -> Result<()> {
        let len = self.buffer_len();
        let out = out.get_mut(..len).ok_or(Error::BufferTooSmall)?;
        match self {
            Ipv6Option::Pad1 => out[0] = option_type::PAD1,
            Ipv6Option::PadN(n) => {
                out[0] = option_type::PADN;
                out[1] = *n;
                out[2..].fill(0);
            }
            Ipv6Option::RouterAlert(value) => {
                out[0] = option_type::ROUTER_ALERT;
                out[1] = 2;
                out[2..4].copy_from_slice(&value.to_be_bytes());
            }
            Ipv6Option::Unknown { kind, data } => {
                out[0] = *kind;
                out[1] = u8::try_from(data.len()).map_err(|_| Error::BadOption)?;
                out[2..].copy_from_slice(data);
            }
        }
        Ok(())
    }
}

/// An iterator over the TLV options of an options header's data, yielding
/// each option with its offset in that data, or one error (then nothing).
///
/// Errors: `BadOption` when an option's length byte or data runs past the
/// end, or a Router Alert's length is not 2 (RFC 2711 section 2.1).
#[derive(Debug, Clone)]
pub struct Ipv6OptionsIter<'a> {
    data: &'a [u8],
    offset: usize,
}

impl<'a> Ipv6OptionsIter<'a> {
    /// The options in `data` (an options header's bytes after its first
    /// two).
    pub fn new(data: &'a [u8]) -> Ipv6OptionsIter<'a> {
        Ipv6OptionsIter { data, offset: 0 }
    }

    fn fail(&mut self) -> Option<Result<(usize, Ipv6Option<'a>)>> {
        self.offset = self.data.len();
        Some(Err(Error::BadOption))
    }
}

impl<'a> Iterator for Ipv6OptionsIter<'a> {
    type Item = Result<(usize, Ipv6Option<'a>)>;

    fn next(&mut self) -> Option<Self::Item> {
        let at = self.offset;
        let kind = *self.data.get(at)?;
        if kind == option_type::PAD1 {
            self.offset += 1;
            return Some(Ok((at, Ipv6Option::Pad1)));
        }
        let Some(&len) = self.data.get(at + 1) else {
            return self.fail();
        };
        let end = at + 2 + usize::from(len);
        let Some(data) = self.data.get(at + 2..end) else {
            return self.fail();
        };
        self.offset = end;
        let option = match kind {
            option_type::PADN => Ipv6Option::PadN(len),
            option_type::ROUTER_ALERT => match data {
                [hi, lo] => Ipv6Option::RouterAlert(u16::from_be_bytes([*hi, *lo])),
                _ => return self.fail(),
            },
            kind => Ipv6Option::Unknown { kind, data },
        };
        Some(Ok((at, option)))
    }
}

/// A hop-by-hop or destination options header: its next header and its
/// options as raw bytes (validated by [`parse`](Self::parse); iterate them
/// with [`options`](Self::options)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6OptionsRepr<'a> {
    /// The next header field.
    pub next_header: IpProtocol,
    /// The options, padding included, as they appear after the first two
    /// bytes of the header.
    pub options: &'a [u8],
}

impl<'a> Ipv6OptionsRepr<'a> {
    /// Parses an options header whose options all parse (see
    /// [`Ipv6OptionsIter`] for the errors); what unknown options ask for is
    /// left to the caller (or to [`walk`]).
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        header: &Ipv6ExtHeader<&'a T>,
    ) -> Result<Ipv6OptionsRepr<'a>> {
        header.check_len()?;
        let buffer: &'a [u8] = header.buffer.as_ref();
        let options = &buffer[2..header.header_len()];
        if let Some(err) = Ipv6OptionsIter::new(options).find_map(|item| item.err()) {
            return Err(err);
        }
        Ok(Ipv6OptionsRepr {
            next_header: header.next_header(),
            options,
        })
    }

    /// The options.
    pub fn options(&self) -> Ipv6OptionsIter<'a> {
        Ipv6OptionsIter::new(self.options)
    }

    /// The header length [`emit`](Self::emit) writes: the two fixed bytes
    /// and the options, padded to a multiple of 8.
    pub fn buffer_len(&self) -> usize {
        (2 + self.options.len()).div_ceil(8) * 8
    }

    /// Writes the header into `header`'s buffer, which must hold
    /// [`buffer_len`](Self::buffer_len) bytes (else `BufferTooSmall`);
    /// options whose padded length exceeds 2048 bytes are `BadOption`.
    /// Padding to the 8-octet boundary is a Pad1 or a PadN option.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, header: &mut Ipv6ExtHeader<T>) -> Result<()> {
        let len = self.buffer_len();
        if len > 2048 {
            return Err(Error::BadOption);
        }
        let out = header.buffer.as_mut();
        let out = out.get_mut(..len).ok_or(Error::BufferTooSmall)?;
        out[0] = u8::from(self.next_header);
        out[1] = (len / 8 - 1) as u8;
        let (options, padding) = out[2..].split_at_mut(self.options.len());
        options.copy_from_slice(self.options);
        match padding.len() {
            0 => {}
            1 => Ipv6Option::Pad1.emit(padding)?,
            n => Ipv6Option::PadN((n - 2) as u8).emit(padding)?,
        }
        Ok(())
    }
}

/// A routing header (RFC 8200 section 4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6RoutingRepr<'a> {
    /// The next header field.
    pub next_header: IpProtocol,
    /// The routing type.
    pub routing_type: u8,
    /// Segments left: how many listed nodes are still to be visited.
    pub segments_left: u8,
    /// The type-specific data after the first four bytes.
    pub data: &'a [u8],
}

impl<'a> Ipv6RoutingRepr<'a> {
    /// Parses a routing header of any type (`Truncated` if the buffer is
    /// shorter than its length field says).
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        header: &Ipv6ExtHeader<&'a T>,
    ) -> Result<Ipv6RoutingRepr<'a>> {
        header.check_len()?;
        let buffer: &'a [u8] = header.buffer.as_ref();
        Ok(Ipv6RoutingRepr {
            next_header: header.next_header(),
            routing_type: buffer[2],
            segments_left: buffer[3],
            data: &buffer[4..header.header_len()],
        })
    }

    /// The header length [`emit`](Self::emit) writes: four bytes and the
    /// data, padded with zeros to a multiple of 8.
    pub fn buffer_len(&self) -> usize {
        (4 + self.data.len()).div_ceil(8) * 8
    }

    /// Writes the header (`BufferTooSmall` if the buffer is shorter than
    /// [`buffer_len`](Self::buffer_len), `BadOption` past 2048 bytes).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, header: &mut Ipv6ExtHeader<T>) -> Result<()> {
        let len = self.buffer_len();
        if len > 2048 {
            return Err(Error::BadOption);
        }
        let out = header.buffer.as_mut();
        let out = out.get_mut(..len).ok_or(Error::BufferTooSmall)?;
        out[0] = u8::from(self.next_header);
        out[1] = (len / 8 - 1) as u8;
        out[2] = self.routing_type;
        out[3] = self.segments_left;
        let (data, padding) = out[4..].split_at_mut(self.data.len());
        data.copy_from_slice(self.data);
        padding.fill(0);
        Ok(())
    }
}

/// The length of a fragment header.
pub const FRAGMENT_HEADER_LEN: usize = 8;

/// A zero-copy view of a fragment header (RFC 8200 section 4.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv6FragmentHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6FragmentHeader<T> {
    /// A view of `buffer` without checking its length.
    pub const fn new_unchecked(buffer: T) -> Ipv6FragmentHeader<T> {
        Ipv6FragmentHeader { buffer }
    }

    /// A view of `buffer`, which must hold the 8-byte header.
    pub fn new_checked(buffer: T) -> Result<Ipv6FragmentHeader<T>> {
        let header = Self::new_unchecked(buffer);
        header.check_len()?;
        Ok(header)
    }

    /// `Truncated` if the buffer is shorter than 8 bytes.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < FRAGMENT_HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    fn offset_word(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[2], b[3]])
    }

    /// The next header of the fragmentable part (meaningful in the first
    /// fragment).
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol::from(self.buffer.as_ref()[0])
    }

    /// The fragment offset in bytes (the field counts 8-octet units).
    pub fn frag_offset(&self) -> u16 {
        self.offset_word() & 0xfff8
    }

    /// The M flag: more fragments follow.
    pub fn more_frags(&self) -> bool {
        self.offset_word() & 1 != 0
    }

    /// The identification of the original packet.
    pub fn ident(&self) -> u32 {
        let b = self.buffer.as_ref();
        u32::from_be_bytes([b[4], b[5], b[6], b[7]])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6FragmentHeader<T> {
    /// Sets the next header field.
    pub fn set_next_header(&mut self, protocol: IpProtocol) {
        self.buffer.as_mut()[0] = u8::from(protocol);
    }

    /// Sets the fragment offset in bytes (a multiple of 8; lower bits are
    /// dropped) and the M flag; zeroes the reserved bits.
    pub fn set_offset_and_more(&mut self, offset: u16, more_frags: bool) {
        let word = (offset & 0xfff8) | u16::from(more_frags);
        let b = self.buffer.as_mut();
        b[1] = 0;
        b[2..4].copy_from_slice(&word.to_be_bytes());
    }

    /// Sets the identification.
    pub fn set_ident(&mut self, ident: u32) {
        self.buffer.as_mut()[4..8].copy_from_slice(&ident.to_be_bytes());
    }
}

/// A fragment header's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6FragmentRepr {
    /// The next header of the fragmentable part.
    pub next_header: IpProtocol,
    /// The offset of this fragment's data in bytes (a multiple of 8).
    pub frag_offset: u16,
    /// More fragments follow (the M flag).
    pub more_frags: bool,
    /// The identification shared by all fragments of one packet.
    pub ident: u32,
}

impl Ipv6FragmentRepr {
    /// Parses a fragment header; the reserved fields are ignored (RFC 8200
    /// section 4.5).
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        header: &Ipv6FragmentHeader<&T>,
    ) -> Result<Ipv6FragmentRepr> {
        header.check_len()?;
        Ok(Ipv6FragmentRepr {
            next_header: header.next_header(),
            frag_offset: header.frag_offset(),
            more_frags: header.more_frags(),
            ident: header.ident(),
        })
    }

    /// Whether this is an atomic fragment (offset 0, no more fragments),
    /// which RFC 6946 says to process as a whole packet.
    pub const fn is_atomic(&self) -> bool {
        self.frag_offset == 0 && !self.more_frags
    }

    /// The header length (8).
    pub const fn buffer_len(&self) -> usize {
        FRAGMENT_HEADER_LEN
    }

    /// Writes the header into a buffer of at least 8 bytes (a shorter one
    /// is a caller bug and panics).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, header: &mut Ipv6FragmentHeader<T>) {
        header.set_next_header(self.next_header);
        header.set_offset_and_more(self.frag_offset, self.more_frags);
        header.set_ident(self.ident);
    }
}

/// Where [`walk`] found the upper layer of an IPv6 packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Upper {
    /// The upper-layer protocol (or `Ipv6NoNxt`, RFC 8200 section 4.7, or
    /// a protocol the caller may not support; for a non-atomic fragment,
    /// the fragmentable part's first header).
    pub protocol: IpProtocol,
    /// Where that protocol's header starts, from the start of the IPv6
    /// payload; for a non-atomic fragment, where the fragment data starts.
    pub offset: usize,
    /// The offset, from the start of the IPv6 header, of the next header
    /// field that named `protocol`: the pointer of a parameter problem
    /// (code 1, unrecognized next header) if the caller does not handle it
    /// (RFC 8200 section 4).
    pub next_header_pointer: u32,
    /// The fragment header when the packet is a fragment that is not atomic
    /// (RFC 6946): its data is to be reassembled, and `protocol` is only
    /// meaningful in the first fragment. An atomic fragment's header is
    /// walked through and not reported.
    pub fragment: Option<Ipv6FragmentRepr>,
    /// The Router Alert value of the hop-by-hop header, if it had one
    /// (RFC 2711; MLD messages carry [`ROUTER_ALERT_MLD`]).
    pub router_alert: Option<u16>,
}

/// Why [`walk`] stopped before the upper layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ipv6ExtError {
    /// A header is malformed: `Truncated`, `BadOption` or `TooManyHeaders`.
    /// Drop the packet silently.
    Malformed(Error),
    /// An unrecognized option asks for the packet to be discarded silently
    /// (type bits `01`).
    Discard,
    /// The packet is to be discarded and an ICMPv6 parameter problem sent
    /// with `code` and `pointer` (an offset from the start of the IPv6
    /// header), subject to `report_to_multicast`.
    ParamProblem {
        /// The parameter problem code.
        code: Icmpv6ParamProblem,
        /// The offset of the offending byte from the start of the IPv6
        /// header.
        pointer: u32,
        /// Whether the report is due even when the packet's destination was
        /// a multicast address: only for option types `10` (RFC 8200 section
        /// 4.2; RFC 4443 section 2.4 (e.3) forbids the other cases).
        report_to_multicast: bool,
    },
}

impl Ipv6ExtError {
    /// The parameter problem to send (code and pointer) for a packet to
    /// `dst_is_multicast`, or `None` when nothing is to be sent.
    pub fn icmp_report(&self, dst_is_multicast: bool) -> Option<(Icmpv6ParamProblem, u32)> {
        match *self {
            Ipv6ExtError::ParamProblem {
                code,
                pointer,
                report_to_multicast,
            } if report_to_multicast || !dst_is_multicast => Some((code, pointer)),
            _ => None,
        }
    }
}

impl fmt::Display for Ipv6ExtError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Ipv6ExtError::Malformed(err) => write!(f, "malformed extension header: {err}"),
            Ipv6ExtError::Discard => f.write_str("unrecognized option: discard"),
            Ipv6ExtError::ParamProblem { code, pointer, .. } => {
                write!(f, "parameter problem code {} at {pointer}", u8::from(*code))
            }
        }
    }
}

impl From<Error> for Ipv6ExtError {
    fn from(err: Error) -> Self {
        Ipv6ExtError::Malformed(err)
    }
}

/// The pointer value of a payload offset: the fixed header comes first.
fn pointer(offset: usize) -> u32 {
    // A payload is at most 65535 bytes, so this never saturates for the
    // offsets `walk` computes.
    u32::try_from(ipv6::HEADER_LEN + offset).unwrap_or(u32::MAX)
}

/// Checks an options header's options against RFC 8200 section 4.2; returns
/// the Router Alert value if one was present.
fn check_options(
    options: &[u8],
    options_at: usize,
) -> core::result::Result<Option<u16>, Ipv6ExtError> {
    let mut router_alert = None;
    for item in Ipv6OptionsIter::new(options) {
        let (at, option) = item?;
        if let Ipv6Option::RouterAlert(value) = option {
            router_alert = Some(value);
        }
        let pointer = pointer(options_at + at);
        match option.action() {
            Ipv6OptionAction::Skip => {}
            Ipv6OptionAction::Discard => return Err(Ipv6ExtError::Discard),
            Ipv6OptionAction::DiscardAndReport => {
                return Err(Ipv6ExtError::ParamProblem {
                    code: Icmpv6ParamProblem::UnrecognizedOption,
                    pointer,
                    report_to_multicast: true,
                });
            }
            Ipv6OptionAction::DiscardAndReportUnlessMulticast => {
                return Err(Ipv6ExtError::ParamProblem {
                    code: Icmpv6ParamProblem::UnrecognizedOption,
                    pointer,
                    report_to_multicast: false,
                });
            }
        }
    }
    Ok(router_alert)
}

/// Follows the extension headers of an IPv6 packet whose fixed header names
/// `first` and whose payload is `payload`, as a host does (RFC 8200
/// sections 4.1 to 4.6), and returns where the upper layer starts.
///
/// - Hop-by-hop options are allowed only first; anywhere else they are an
///   unrecognized next header (parameter problem code 1, as Linux does).
/// - Options: Pad1, PadN and Router Alert are known; any other option
///   stops the walk with the action its type asks for, except `00` (skip).
/// - Routing: a host routes nothing, so any routing type with segments left
///   is a parameter problem (code 0, pointing at the routing type); with no
///   segments left the header is skipped (section 4.4).
/// - Fragment: an atomic fragment (RFC 6946) is walked through; any other
///   fragment stops the walk with [`Ipv6Upper::fragment`] set and the
///   offset of its data.
/// - Any other next header, including `Ipv6NoNxt`, is the upper layer.
///
/// At most [`MAX_EXT_HEADERS`] extension headers are followed
/// (`Malformed(TooManyHeaders)`); truncated headers are `Malformed`.
pub fn walk(first: IpProtocol, payload: &[u8]) -> core::result::Result<Ipv6Upper, Ipv6ExtError> {
    let mut protocol = first;
    let mut offset = 0usize;
    // The fixed header's next header field is at byte 6.
    let mut next_header_pointer = 6u32;
    let mut router_alert = None;
    for index in 0..=MAX_EXT_HEADERS {
        let rest = payload.get(offset..).ok_or(Error::Truncated)?;
        match protocol {
            IpProtocol::HopByHop
            | IpProtocol::Ipv6Opts
            | IpProtocol::Ipv6Route
            | IpProtocol::Ipv6Frag
                if index == MAX_EXT_HEADERS =>
            {
                return Err(Error::TooManyHeaders.into());
            }
            IpProtocol::HopByHop if index != 0 => {
                return Err(Ipv6ExtError::ParamProblem {
                    code: Icmpv6ParamProblem::UnrecognizedNextHeader,
                    pointer: next_header_pointer,
                    report_to_multicast: false,
                });
            }
            IpProtocol::HopByHop | IpProtocol::Ipv6Opts => {
                let header = Ipv6ExtHeader::new_checked(rest)?;
                let alert = check_options(header.data(), offset + 2)?;
                if protocol == IpProtocol::HopByHop {
                    router_alert = alert;
                }
                next_header_pointer = pointer(offset);
                protocol = header.next_header();
                offset += header.header_len();
            }
            IpProtocol::Ipv6Route => {
                let header = Ipv6ExtHeader::new_checked(rest)?;
                let routing = Ipv6RoutingRepr::parse(&header)?;
                if routing.segments_left != 0 {
                    return Err(Ipv6ExtError::ParamProblem {
                        code: Icmpv6ParamProblem::ErroneousHeaderField,
                        pointer: pointer(offset + 2),
                        report_to_multicast: false,
                    });
                }
                next_header_pointer = pointer(offset);
                protocol = routing.next_header;
                offset += header.header_len();
            }
            IpProtocol::Ipv6Frag => {
                let header = Ipv6FragmentHeader::new_checked(rest)?;
                let fragment = Ipv6FragmentRepr::parse(&header)?;
                next_header_pointer = pointer(offset);
                protocol = fragment.next_header;
                offset += FRAGMENT_HEADER_LEN;
                if !fragment.is_atomic() {
                    return Ok(Ipv6Upper {
                        protocol,
                        offset,
                        next_header_pointer,
                        fragment: Some(fragment),
                        router_alert,
                    });
                }
            }
            _ => {
                return Ok(Ipv6Upper {
                    protocol,
                    offset,
                    next_header_pointer,
                    fragment: None,
                    router_alert,
                });
            }
        }
    }
    // The last iteration returns whatever the header is, so the loop never
    // ends by itself.
    Err(Error::TooManyHeaders.into())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::wire::Ipv6Packet;
    use crate::wire::testdata::{Rng, ipv6_packet};
    use std::string::ToString;
    use std::vec;
    use std::vec::Vec;

    fn walk_packet(bytes: &[u8]) -> core::result::Result<Ipv6Upper, Ipv6ExtError> {
        let packet = Ipv6Packet::new_checked(bytes).unwrap();
        walk(packet.next_header(), packet.payload())
    }

    /// A packet with `headers` (next header, bytes) chained after the fixed
    /// header, each header's next header byte filled in from the following
    /// one, ending in `upper`.
    fn chain(headers: &[(IpProtocol, Vec<u8>)], upper: IpProtocol) -> Vec<u8> {
        let mut payload = Vec::new();
        for (i, (_, bytes)) in headers.iter().enumerate() {
            let mut bytes = bytes.clone();
            bytes[0] = match headers.get(i + 1) {
                Some((next, _)) => u8::from(*next),
                None => u8::from(upper),
            };
            payload.extend_from_slice(&bytes);
        }
        payload.extend_from_slice(&[0; 8]);
        let first = headers.first().map_or(upper, |(p, _)| *p);
        let mut packet = vec![0u8; 40];
        packet[0] = 0x60;
        packet[4..6].copy_from_slice(&(payload.len() as u16).to_be_bytes());
        packet[6] = u8::from(first);
        packet[7] = 64;
        packet.extend_from_slice(&payload);
        packet
    }

    fn options_header(options: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; 2];
        out.extend_from_slice(options);
        assert_eq!(out.len() % 8, 0);
        out[1] = (out.len() / 8 - 1) as u8;
        out
    }

    #[test]
    fn linux_echo_has_no_extension_headers() {
        let upper = walk_packet(ipv6_packet(28)).unwrap();
        assert_eq!(
            upper,
            Ipv6Upper {
                protocol: IpProtocol::Icmpv6,
                offset: 0,
                next_header_pointer: 6,
                fragment: None,
                router_alert: None,
            }
        );
    }

    #[test]
    fn linux_mld_report_hop_by_hop_router_alert() {
        // Linux's MLDv2 report: hop-by-hop with Router Alert (MLD) and PadN.
        let bytes = ipv6_packet(22);
        let upper = walk_packet(bytes).unwrap();
        assert_eq!(upper.protocol, IpProtocol::Icmpv6);
        assert_eq!((upper.offset, upper.next_header_pointer), (8, 40));
        assert_eq!(upper.router_alert, Some(ROUTER_ALERT_MLD));

        let payload = Ipv6Packet::new_checked(bytes).unwrap().payload();
        let header = Ipv6ExtHeader::new_checked(payload).unwrap();
        assert_eq!(header.header_len(), 8);
        let repr = Ipv6OptionsRepr::parse(&header).unwrap();
        assert_eq!(repr.next_header, IpProtocol::Icmpv6);
        let options: Vec<_> = repr.options().map(Result::unwrap).collect();
        assert_eq!(
            options,
            [(0, Ipv6Option::RouterAlert(0)), (4, Ipv6Option::PadN(0))]
        );
        assert_eq!(options[0].1.action(), Ipv6OptionAction::Skip);
        assert!(!options[0].1.may_change());
        // Re-emitted from the repr: the same eight bytes.
        let mut out = [0xffu8; 8];
        repr.emit(&mut Ipv6ExtHeader::new_unchecked(&mut out[..]))
            .unwrap();
        assert_eq!(&out[..], &payload[..8]);
        // Built from the options alone, padding added by emit.
        let mut ra = [0u8; 4];
        Ipv6Option::RouterAlert(ROUTER_ALERT_MLD)
            .emit(&mut ra)
            .unwrap();
        let built = Ipv6OptionsRepr {
            next_header: IpProtocol::Icmpv6,
            options: &ra,
        };
        assert_eq!(built.buffer_len(), 8);
        let mut out = [0xffu8; 8];
        built
            .emit(&mut Ipv6ExtHeader::new_unchecked(&mut out[..]))
            .unwrap();
        assert_eq!(&out[..], &payload[..8]);
    }

    #[test]
    fn linux_fragments() {
        // A 2000-byte echo request in two fragments (frames 31 and 32).
        let first = walk_packet(ipv6_packet(31)).unwrap();
        let fragment = first.fragment.unwrap();
        assert_eq!(first.protocol, IpProtocol::Icmpv6);
        assert_eq!((first.offset, first.next_header_pointer), (8, 40));
        assert_eq!((fragment.frag_offset, fragment.more_frags), (0, true));
        assert!(!fragment.is_atomic());
        let second = walk_packet(ipv6_packet(32)).unwrap();
        let fragment2 = second.fragment.unwrap();
        assert_eq!((fragment2.frag_offset, fragment2.more_frags), (1448, false));
        assert_eq!(fragment2.ident, fragment.ident);
        assert_eq!(
            ipv6_packet(31).len() - 40 - 8,
            1448,
            "the first fragment carries 1448 bytes"
        );

        // The header view and repr round trip.
        let payload = Ipv6Packet::new_checked(ipv6_packet(32)).unwrap().payload();
        let header = Ipv6FragmentHeader::new_checked(payload).unwrap();
        let repr = Ipv6FragmentRepr::parse(&header).unwrap();
        assert_eq!(repr, fragment2);
        let mut out = [0xffu8; 8];
        repr.emit(&mut Ipv6FragmentHeader::new_unchecked(&mut out[..]));
        assert_eq!(&out[..], &payload[..8]);
    }

    #[test]
    fn linux_parameter_problems_match_our_pointers() {
        // Frame 53: destination options with option type 0x87 (bits 10),
        // answered by Linux with code 2 pointer 42 (frame 54).
        let err = walk_packet(ipv6_packet(53)).unwrap_err();
        assert_eq!(
            err,
            Ipv6ExtError::ParamProblem {
                code: Icmpv6ParamProblem::UnrecognizedOption,
                pointer: 42,
                report_to_multicast: true,
            }
        );
        assert_eq!(
            err.icmp_report(true),
            Some((Icmpv6ParamProblem::UnrecognizedOption, 42))
        );
        let linux = ipv6_packet(54);
        assert_eq!(linux[40], 4, "parameter problem");
        assert_eq!(linux[41], 2, "code 2");
        assert_eq!(&linux[44..48], &42u32.to_be_bytes());

        // Frame 55: destination options, then hop-by-hop; Linux says code 1
        // pointing at the destination options' next header field (frame 56).
        let err = walk_packet(ipv6_packet(55)).unwrap_err();
        assert_eq!(
            err,
            Ipv6ExtError::ParamProblem {
                code: Icmpv6ParamProblem::UnrecognizedNextHeader,
                pointer: 40,
                report_to_multicast: false,
            }
        );
        let linux = ipv6_packet(56);
        assert_eq!((linux[40], linux[41]), (4, 1));
        assert_eq!(&linux[44..48], &40u32.to_be_bytes());
        assert_eq!(err.icmp_report(true), None);
        assert_eq!(err.to_string(), "parameter problem code 1 at 40");
    }

    #[test]
    fn unknown_option_actions() {
        for (kind, action) in [
            (0x1e, Ipv6OptionAction::Skip),
            (0x4f, Ipv6OptionAction::Discard),
            (0x87, Ipv6OptionAction::DiscardAndReport),
            (0xc2, Ipv6OptionAction::DiscardAndReportUnlessMulticast),
        ] {
            assert_eq!(Ipv6OptionAction::from_type(kind), action);
            // Pad1, the option with one data byte, PadN(0): with the two
            // fixed bytes, one 8-byte header; the option type is at 43.
            let header = options_header(&[0, kind, 1, 0xaa, 1, 0]);
            let bytes = chain(&[(IpProtocol::Ipv6Opts, header)], IpProtocol::Udp);
            let result = walk_packet(&bytes);
            let pointer = 40 + 2 + 1;
            match action {
                Ipv6OptionAction::Skip => {
                    assert_eq!(result.unwrap().offset, 8);
                }
                Ipv6OptionAction::Discard => {
                    assert_eq!(result, Err(Ipv6ExtError::Discard));
                    assert_eq!(result.unwrap_err().icmp_report(false), None);
                }
                Ipv6OptionAction::DiscardAndReport => {
                    let err = result.unwrap_err();
                    assert_eq!(
                        err.icmp_report(true),
                        Some((Icmpv6ParamProblem::UnrecognizedOption, pointer))
                    );
                }
                Ipv6OptionAction::DiscardAndReportUnlessMulticast => {
                    let err = result.unwrap_err();
                    assert_eq!(err.icmp_report(true), None);
                    assert_eq!(
                        err.icmp_report(false),
                        Some((Icmpv6ParamProblem::UnrecognizedOption, pointer))
                    );
                }
            }
        }
        // The may-change bit is the third highest.
        let option = Ipv6Option::Unknown {
            kind: 0x3e,
            data: &[],
        };
        assert!(option.may_change());
        assert_eq!(option.action(), Ipv6OptionAction::Skip);
    }

    #[test]
    fn routing_header_rules() {
        // Routing type 4 (segment routing) with segments left: a host
        // cannot route; code 0 pointing at the routing type.
        let routing = vec![0, 0, 4, 1, 0, 0, 0, 0];
        let bytes = chain(
            &[
                (IpProtocol::Ipv6Opts, options_header(&[1, 4, 0, 0, 0, 0])),
                (IpProtocol::Ipv6Route, routing.clone()),
            ],
            IpProtocol::Tcp,
        );
        assert_eq!(
            walk_packet(&bytes),
            Err(Ipv6ExtError::ParamProblem {
                code: Icmpv6ParamProblem::ErroneousHeaderField,
                pointer: 40 + 8 + 2,
                report_to_multicast: false,
            })
        );
        // With no segments left it is skipped.
        let mut done = routing.clone();
        done[3] = 0;
        let bytes = chain(&[(IpProtocol::Ipv6Route, done)], IpProtocol::Tcp);
        let upper = walk_packet(&bytes).unwrap();
        assert_eq!(
            (upper.protocol, upper.offset, upper.next_header_pointer),
            (IpProtocol::Tcp, 8, 40)
        );

        // The repr round trip, with zero padding of the data.
        let repr = Ipv6RoutingRepr {
            next_header: IpProtocol::Tcp,
            routing_type: 2,
            segments_left: 1,
            data: &[0, 0, 0, 0, 0x20, 0x01, 0x0d, 0xb8],
        };
        assert_eq!(repr.buffer_len(), 16);
        let mut out = [0xffu8; 16];
        repr.emit(&mut Ipv6ExtHeader::new_unchecked(&mut out[..]))
            .unwrap();
        assert_eq!(&out[..8], &[6, 1, 2, 1, 0, 0, 0, 0]);
        assert_eq!(&out[12..], &[0, 0, 0, 0]);
        let header = Ipv6ExtHeader::new_checked(&out[..]).unwrap();
        let again = Ipv6RoutingRepr::parse(&header).unwrap();
        assert_eq!(&again.data[..8], repr.data);
        assert_eq!(again.data.len(), 12);
        let mut short = [0u8; 8];
        assert_eq!(
            repr.emit(&mut Ipv6ExtHeader::new_unchecked(&mut short[..])),
            Err(Error::BufferTooSmall)
        );
    }

    #[test]
    fn atomic_fragment_is_walked_through() {
        let fragment = vec![0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78];
        let bytes = chain(&[(IpProtocol::Ipv6Frag, fragment)], IpProtocol::Udp);
        let upper = walk_packet(&bytes).unwrap();
        assert_eq!(upper.fragment, None);
        assert_eq!(
            (upper.protocol, upper.offset, upper.next_header_pointer),
            (IpProtocol::Udp, 8, 40)
        );
        // Offset non-zero without M: the last fragment.
        let last = vec![0, 0, 0x00, 0x10, 0x12, 0x34, 0x56, 0x78];
        let bytes = chain(&[(IpProtocol::Ipv6Frag, last)], IpProtocol::Udp);
        let fragment = walk_packet(&bytes).unwrap().fragment.unwrap();
        assert_eq!(
            (fragment.frag_offset, fragment.more_frags, fragment.ident),
            (16, false, 0x1234_5678)
        );
        // Reserved bits are ignored.
        let reserved = vec![0, 0xff, 0x00, 0x16, 0, 0, 0, 1];
        let bytes = chain(&[(IpProtocol::Ipv6Frag, reserved)], IpProtocol::Udp);
        let fragment = walk_packet(&bytes).unwrap().fragment.unwrap();
        assert_eq!((fragment.frag_offset, fragment.more_frags), (16, false));
    }

    #[test]
    fn header_count_is_bounded() {
        let opts = || (IpProtocol::Ipv6Opts, options_header(&[1, 4, 0, 0, 0, 0]));
        let eight: Vec<_> = (0..MAX_EXT_HEADERS).map(|_| opts()).collect();
        let upper = walk_packet(&chain(&eight, IpProtocol::Ipv6NoNxt)).unwrap();
        assert_eq!(upper.offset, 8 * MAX_EXT_HEADERS);
        let nine: Vec<_> = (0..=MAX_EXT_HEADERS).map(|_| opts()).collect();
        assert_eq!(
            walk_packet(&chain(&nine, IpProtocol::Udp)),
            Err(Ipv6ExtError::Malformed(Error::TooManyHeaders))
        );
    }

    #[test]
    fn malformed_headers() {
        // Truncated: the length byte says 16 bytes, 8 are there.
        let mut bytes = chain(
            &[(IpProtocol::Ipv6Opts, options_header(&[1, 4, 0, 0, 0, 0]))],
            IpProtocol::Udp,
        );
        bytes[41] = 1;
        bytes.truncate(40 + 8);
        bytes[4..6].copy_from_slice(&8u16.to_be_bytes());
        assert_eq!(
            walk_packet(&bytes),
            Err(Ipv6ExtError::Malformed(Error::Truncated))
        );
        // A header that starts past the end of the payload.
        assert_eq!(
            walk(IpProtocol::Ipv6Frag, &[0; 7]),
            Err(Ipv6ExtError::Malformed(Error::Truncated))
        );
        assert_eq!(
            walk(IpProtocol::HopByHop, &[0]),
            Err(Ipv6ExtError::Malformed(Error::Truncated))
        );
        // An option running past the header.
        let bytes = chain(
            &[(IpProtocol::Ipv6Opts, options_header(&[1, 5, 0, 0, 0, 0]))],
            IpProtocol::Udp,
        );
        assert_eq!(
            walk_packet(&bytes),
            Err(Ipv6ExtError::Malformed(Error::BadOption))
        );
        // A Router Alert of length 3.
        let bytes = chain(
            &[(IpProtocol::HopByHop, options_header(&[5, 3, 0, 0, 0, 0]))],
            IpProtocol::Udp,
        );
        assert_eq!(
            walk_packet(&bytes),
            Err(Ipv6ExtError::Malformed(Error::BadOption))
        );
        assert_eq!(
            walk_packet(&bytes).unwrap_err().to_string(),
            "malformed extension header: malformed option"
        );
        // An option type without its length byte.
        let mut iter = Ipv6OptionsIter::new(&[0, 0x1e]);
        assert_eq!(iter.next(), Some(Ok((0, Ipv6Option::Pad1))));
        assert_eq!(iter.next(), Some(Err(Error::BadOption)));
        assert_eq!(iter.next(), None);
        // Views refuse short buffers.
        assert_eq!(
            Ipv6ExtHeader::new_checked(&[0u8][..]),
            Err(Error::Truncated)
        );
        assert_eq!(
            Ipv6ExtHeader::new_checked(&[0u8, 0, 0, 0][..]),
            Err(Error::Truncated)
        );
        assert_eq!(
            Ipv6FragmentHeader::new_checked(&[0u8; 7][..]),
            Err(Error::Truncated)
        );
    }

    #[test]
    fn option_emit_and_padding() {
        let mut out = [0xffu8; 8];
        assert_eq!(Ipv6Option::PadN(2).emit(&mut out), Ok(()));
        assert_eq!(&out[..4], &[1, 2, 0, 0]);
        assert_eq!(Ipv6Option::Pad1.emit(&mut out[..1]), Ok(()));
        assert_eq!(out[0], 0);
        assert_eq!(
            Ipv6Option::RouterAlert(1).emit(&mut out[..3]),
            Err(Error::BufferTooSmall)
        );
        let long = [0u8; 256];
        let mut big = [0u8; 300];
        assert_eq!(
            Ipv6Option::Unknown {
                kind: 0x1e,
                data: &long
            }
            .emit(&mut big),
            Err(Error::BadOption)
        );
        // Five option bytes leave one byte of padding: Pad1.
        let options = [0x1e, 3, 1, 2, 3];
        let repr = Ipv6OptionsRepr {
            next_header: IpProtocol::Tcp,
            options: &options,
        };
        let mut out = [0xffu8; 8];
        repr.emit(&mut Ipv6ExtHeader::new_unchecked(&mut out[..]))
            .unwrap();
        assert_eq!(out, [6, 0, 0x1e, 3, 1, 2, 3, 0]);
        // Two option bytes leave four: PadN(2).
        let options = [0x1e, 0];
        let repr = Ipv6OptionsRepr {
            next_header: IpProtocol::Tcp,
            options: &options,
        };
        repr.emit(&mut Ipv6ExtHeader::new_unchecked(&mut out[..]))
            .unwrap();
        assert_eq!(out, [6, 0, 0x1e, 0, 1, 2, 0, 0]);
        let parsed =
            Ipv6OptionsRepr::parse(&Ipv6ExtHeader::new_checked(&out[..]).unwrap()).unwrap();
        assert_eq!(parsed.options().count(), 2);
        let mut set = [0u8; 16];
        let mut header = Ipv6ExtHeader::new_unchecked(&mut set[..]);
        header.set_next_header(IpProtocol::Udp);
        header.set_header_len(16);
        header.data_mut()[0] = 1;
        assert_eq!(&set[..3], &[17, 1, 1]);
    }

    #[test]
    fn walk_never_panics() {
        let mut rng = Rng(0x1ee7);
        let seeds: Vec<&[u8]> = [22, 28, 31, 32, 53, 55]
            .iter()
            .map(|&n| ipv6_packet(n))
            .collect();
        let protocols = [
            IpProtocol::HopByHop,
            IpProtocol::Ipv6Opts,
            IpProtocol::Ipv6Route,
            IpProtocol::Ipv6Frag,
            IpProtocol::Icmpv6,
        ];
        for round in 0..20_000 {
            let payload = if round % 2 == 0 {
                let seed = seeds[rng.below(seeds.len())];
                rng.mutate(&seed[40..])
            } else {
                let len = rng.below(64);
                let mut bytes = rng.bytes(len);
                // Mostly chain extension headers.
                for at in (0..bytes.len()).step_by(8) {
                    if rng.below(3) != 0 {
                        bytes[at] = u8::from(protocols[rng.below(protocols.len())]);
                    }
                }
                bytes
            };
            let first = protocols[rng.below(protocols.len())];
            if let Ok(upper) = walk(first, &payload) {
                assert!(upper.offset <= payload.len());
            }
            for item in Ipv6OptionsIter::new(&payload).take(100) {
                let _ = item;
            }
            if let Ok(header) = Ipv6ExtHeader::new_checked(&payload[..]) {
                let _ = (
                    header.data(),
                    Ipv6OptionsRepr::parse(&header),
                    Ipv6RoutingRepr::parse(&header),
                );
            }
        }
    }
}
