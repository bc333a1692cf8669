//! DNS messages (RFC 1035 section 4): the header, questions and resource
//! records, with A, AAAA (RFC 3596) and CNAME data, and the query a stub
//! resolver sends.
//!
//! Names are never copied out of the message while parsing: a [`DnsName`]
//! is a checked position in the message, read label by label, compared, or
//! copied into a caller's buffer. Compression pointers (RFC 1035 section
//! 4.1.4) may only point before the name part being read, so every chain of
//! pointers moves strictly backwards and ends: forward pointers, pointers
//! into the same name and loops are [`Error::BadPointer`], and the work per
//! name is bounded by [`MAX_POINTERS`] and the 255-byte name limit.

use core::fmt;

use super::ipv4::Ipv4Address;
#[cfg(feature = "proto-ipv6")]
use super::ipv6::Ipv6Address;
use super::{Error, Result};

/// The UDP (and TCP) port of DNS servers.
pub const PORT: u16 = 53;
/// The length of the header.
pub const HEADER_LEN: usize = 12;
/// The longest name, in its uncompressed wire form (RFC 1035 section
/// 2.3.4).
pub const MAX_NAME_LEN: usize = 255;
/// The longest label.
pub const MAX_LABEL_LEN: usize = 63;
/// The most compression pointers followed in one name. A name of 255 bytes
/// has at most 127 labels, and a sensible encoder uses one pointer per
/// name; this bound only stops hostile chains early.
pub const MAX_POINTERS: usize = 128;
/// The most CNAME records [`DnsRepr::resolve`] follows.
pub const MAX_CNAME_CHAIN: usize = 8;
/// The largest UDP message a resolver without EDNS accepts (RFC 1035
/// section 4.2.1); longer answers come truncated, with TC set.
pub const MAX_UDP_LEN: usize = 512;
/// The Internet class.
pub const CLASS_IN: u16 = 1;

/// Byte offsets of the header fields (RFC 1035 section 4.1.1).
mod field {
    use core::ops::Range;
    pub const ID: Range<usize> = 0..2;
    pub const FLAGS: Range<usize> = 2..4;
    pub const QDCOUNT: Range<usize> = 4..6;
    pub const ANCOUNT: Range<usize> = 6..8;
    pub const NSCOUNT: Range<usize> = 8..10;
    pub const ARCOUNT: Range<usize> = 10..12;
}

/// Header flag bits (RFC 1035 section 4.1.1, RFC 4035 for AD and CD).
mod flag {
    pub const QR: u16 = 0x8000;
    pub const OPCODE_SHIFT: u16 = 11;
    pub const AA: u16 = 0x0400;
    pub const TC: u16 = 0x0200;
    pub const RD: u16 = 0x0100;
    pub const RA: u16 = 0x0080;
    pub const AD: u16 = 0x0020;
    pub const CD: u16 = 0x0010;
    pub const RCODE: u16 = 0x000f;
}

/// The kind of query (RFC 1035 section 4.1.1; RFC 1996 and RFC 2136).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DnsOpcode {
    /// A standard query (0).
    Query,
    /// An inverse query (1, obsolete).
    InverseQuery,
    /// A server status request (2).
    Status,
    /// A zone change notification (4).
    Notify,
    /// A dynamic update (5).
    Update,
    /// Any other value.
    Unknown(u8),
}

impl From<u8> for DnsOpcode {
    fn from(value: u8) -> Self {
        match value {
            0 => DnsOpcode::Query,
            1 => DnsOpcode::InverseQuery,
            2 => DnsOpcode::Status,
            4 => DnsOpcode::Notify,
            5 => DnsOpcode::Update,
            other => DnsOpcode::Unknown(other),
        }
    }
}

impl From<DnsOpcode> for u8 {
    fn from(value: DnsOpcode) -> u8 {
        match value {
            DnsOpcode::Query => 0,
            DnsOpcode::InverseQuery => 1,
            DnsOpcode::Status => 2,
            DnsOpcode::Notify => 4,
            DnsOpcode::Update => 5,
            DnsOpcode::Unknown(other) => other,
        }
    }
}

/// The response code of the header (RFC 1035 section 4.1.1; the four
/// header bits only, EDNS's extension is not applied).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DnsRcode {
    /// No error (0).
    NoError,
    /// The server could not interpret the query (1).
    FormatError,
    /// The server failed (2).
    ServerFailure,
    /// The name does not exist (3, NXDOMAIN; meaningful from an
    /// authoritative server or a recursive one).
    NameError,
    /// The server does not support the kind of query (4).
    NotImplemented,
    /// The server refuses to answer (5).
    Refused,
    /// Any other value.
    Unknown(u8),
}

impl From<u8> for DnsRcode {
    fn from(value: u8) -> Self {
        match value {
            0 => DnsRcode::NoError,
            1 => DnsRcode::FormatError,
            2 => DnsRcode::ServerFailure,
            3 => DnsRcode::NameError,
            4 => DnsRcode::NotImplemented,
            5 => DnsRcode::Refused,
            other => DnsRcode::Unknown(other),
        }
    }
}

impl From<DnsRcode> for u8 {
    fn from(value: DnsRcode) -> u8 {
        match value {
            DnsRcode::NoError => 0,
            DnsRcode::FormatError => 1,
            DnsRcode::ServerFailure => 2,
            DnsRcode::NameError => 3,
            DnsRcode::NotImplemented => 4,
            DnsRcode::Refused => 5,
            DnsRcode::Unknown(other) => other,
        }
    }
}

/// A resource record type (IANA's DNS parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DnsRecordType {
    /// An IPv4 address (1).
    A,
    /// A name server (2).
    Ns,
    /// The canonical name of an alias (5).
    Cname,
    /// Start of authority (6).
    Soa,
    /// A domain name pointer (12).
    Ptr,
    /// Mail exchange (15).
    Mx,
    /// Text (16).
    Txt,
    /// An IPv6 address (28, RFC 3596).
    Aaaa,
    /// A service location (33).
    Srv,
    /// EDNS options (41, RFC 6891), a pseudo-record.
    Opt,
    /// Any type (255, queries only).
    Any,
    /// Any other type.
    Unknown(u16),
}

impl From<u16> for DnsRecordType {
    fn from(value: u16) -> Self {
        use DnsRecordType::*;
        match value {
            1 => A,
            2 => Ns,
            5 => Cname,
            6 => Soa,
            12 => Ptr,
            15 => Mx,
            16 => Txt,
            28 => Aaaa,
            33 => Srv,
            41 => Opt,
            255 => Any,
            other => Unknown(other),
        }
    }
}

impl From<DnsRecordType> for u16 {
    fn from(value: DnsRecordType) -> u16 {
        use DnsRecordType::*;
        match value {
            A => 1,
            Ns => 2,
            Cname => 5,
            Soa => 6,
            Ptr => 12,
            Mx => 15,
            Txt => 16,
            Aaaa => 28,
            Srv => 33,
            Opt => 41,
            Any => 255,
            Unknown(other) => other,
        }
    }
}

/// A zero-copy view of a DNS message.
///
/// After [`new_checked`](Self::new_checked) the buffer holds the 12-byte
/// header. The sections are read through [`DnsRepr`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> DnsPacket<T> {
    /// A view of `buffer` without checking its length; accessors may panic
    /// on a short buffer until [`check_len`](Self::check_len) has passed.
    pub const fn new_unchecked(buffer: T) -> DnsPacket<T> {
        DnsPacket { buffer }
    }

    /// A view of `buffer`, which must hold the header.
    pub fn new_checked(buffer: T) -> Result<DnsPacket<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// `Err(Error::Truncated)` if the buffer is shorter than 12 bytes.
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

    /// The message id, which a response copies from its query.
    pub fn id(&self) -> u16 {
        self.u16_at(field::ID)
    }

    /// The flags word: QR, opcode, AA, TC, RD, RA, Z, AD, CD and RCODE.
    pub fn flags(&self) -> u16 {
        self.u16_at(field::FLAGS)
    }

    /// Whether this is a response (QR).
    pub fn is_response(&self) -> bool {
        self.flags() & flag::QR != 0
    }

    /// The kind of query.
    pub fn opcode(&self) -> DnsOpcode {
        DnsOpcode::from(((self.flags() >> flag::OPCODE_SHIFT) & 0x0f) as u8)
    }

    /// Whether the answer is authoritative (AA).
    pub fn authoritative(&self) -> bool {
        self.flags() & flag::AA != 0
    }

    /// Whether the message was truncated to fit (TC): the answer is
    /// incomplete, and the resolver may ask again over TCP.
    pub fn truncated(&self) -> bool {
        self.flags() & flag::TC != 0
    }

    /// Whether recursion was desired (RD).
    pub fn recursion_desired(&self) -> bool {
        self.flags() & flag::RD != 0
    }

    /// Whether the server offers recursion (RA).
    pub fn recursion_available(&self) -> bool {
        self.flags() & flag::RA != 0
    }

    /// Whether the server says it validated the data (AD, RFC 4035).
    pub fn authentic_data(&self) -> bool {
        self.flags() & flag::AD != 0
    }

    /// Whether validation was disabled (CD, RFC 4035).
    pub fn checking_disabled(&self) -> bool {
        self.flags() & flag::CD != 0
    }

    /// The response code.
    pub fn rcode(&self) -> DnsRcode {
        DnsRcode::from((self.flags() & flag::RCODE) as u8)
    }

    /// The number of questions.
    pub fn question_count(&self) -> u16 {
        self.u16_at(field::QDCOUNT)
    }

    /// The number of answer records.
    pub fn answer_count(&self) -> u16 {
        self.u16_at(field::ANCOUNT)
    }

    /// The number of authority records.
    pub fn authority_count(&self) -> u16 {
        self.u16_at(field::NSCOUNT)
    }

    /// The number of additional records.
    pub fn additional_count(&self) -> u16 {
        self.u16_at(field::ARCOUNT)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> DnsPacket<T> {
    fn set_u16_at(&mut self, range: core::ops::Range<usize>, value: u16) {
        self.buffer.as_mut()[range].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the message id.
    pub fn set_id(&mut self, value: u16) {
        self.set_u16_at(field::ID, value);
    }

    /// Sets the flags word.
    pub fn set_flags(&mut self, value: u16) {
        self.set_u16_at(field::FLAGS, value);
    }

    /// Sets the number of questions.
    pub fn set_question_count(&mut self, value: u16) {
        self.set_u16_at(field::QDCOUNT, value);
    }

    /// Sets the number of answer records.
    pub fn set_answer_count(&mut self, value: u16) {
        self.set_u16_at(field::ANCOUNT, value);
    }

    /// Sets the number of authority records.
    pub fn set_authority_count(&mut self, value: u16) {
        self.set_u16_at(field::NSCOUNT, value);
    }

    /// Sets the number of additional records.
    pub fn set_additional_count(&mut self, value: u16) {
        self.set_u16_at(field::ARCOUNT, value);
    }

    /// The bytes after the header, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]>> fmt::Display for DnsPacket<T> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.check_len() {
            Ok(()) => write!(
                f,
                "DNS id={:#06x} {} qd={} an={} ns={} ar={}",
                self.id(),
                if self.is_response() {
                    "response"
                } else {
                    "query"
                },
                self.question_count(),
                self.answer_count(),
                self.authority_count(),
                self.additional_count()
            ),
            Err(err) => write!(f, "DNS ({err})"),
        }
    }
}

/// Walks the name encoded at `start` of `message` and checks it: returns
/// where its in-place encoding ends (after its root label or its first
/// pointer) and its uncompressed length.
fn scan_name(message: &[u8], start: usize) -> Result<(usize, usize)> {
    let mut at = start;
    // A pointer must point before the name part being read: before the
    // start of the name, then before each pointer's own target.
    let mut limit = start;
    let mut end = None;
    let mut wire_len = 0;
    let mut pointers = 0;
    loop {
        let len = *message.get(at).ok_or(Error::Truncated)?;
        match len & 0xc0 {
            0x00 => {
                let len = usize::from(len);
                wire_len += 1 + len;
                if wire_len > MAX_NAME_LEN {
                    return Err(Error::NameTooLong);
                }
                if len == 0 {
                    return Ok((end.unwrap_or(at + 1), wire_len));
                }
                if at + 1 + len > message.len() {
                    return Err(Error::Truncated);
                }
                at += 1 + len;
            }
            0xc0 => {
                let low = *message.get(at + 1).ok_or(Error::Truncated)?;
                let target = usize::from(len & 0x3f) << 8 | usize::from(low);
                end.get_or_insert(at + 2);
                pointers += 1;
                if target >= limit || pointers > MAX_POINTERS {
                    return Err(Error::BadPointer);
                }
                limit = target;
                at = target;
            }
            _ => return Err(Error::BadLabel),
        }
    }
}

/// A name in a DNS message: a checked position, read label by label.
#[derive(Clone, Copy)]
pub struct DnsName<'a> {
    message: &'a [u8],
    start: usize,
    wire_len: usize,
}

impl<'a> DnsName<'a> {
    /// The name encoded at `start` of `message`, and where its encoding
    /// ends there. Fails with `Truncated`, `BadLabel`, `BadPointer` or
    /// `NameTooLong` (see the module documentation).
    pub fn parse(message: &'a [u8], start: usize) -> Result<(DnsName<'a>, usize)> {
        let (end, wire_len) = scan_name(message, start)?;
        Ok((
            DnsName {
                message,
                start,
                wire_len,
            },
            end,
        ))
    }

    /// The labels, most specific first, without the empty root label.
    pub fn labels(&self) -> DnsLabels<'a> {
        DnsLabels {
            message: self.message,
            at: self.start,
            limit: self.start,
            pointers: 0,
        }
    }

    /// The length of the uncompressed wire form, root label included
    /// (1 for the root, 14 for `test.example`).
    pub fn wire_len(&self) -> usize {
        self.wire_len
    }

    /// Whether this is the root name.
    pub fn is_root(&self) -> bool {
        self.wire_len == 1
    }

    /// Whether the two names are equal, ignoring ASCII case (RFC 4343).
    pub fn eq_ignore_case(&self, other: &DnsName) -> bool {
        self.wire_len == other.wire_len
            && self
                .labels()
                .zip(other.labels())
                .all(|(a, b)| a.eq_ignore_ascii_case(b))
    }

    /// Whether the name equals the dotted text `name` (a trailing dot
    /// allowed, ASCII case ignored). Labels holding dots never match.
    pub fn matches(&self, name: &str) -> bool {
        let name = name.strip_suffix('.').unwrap_or(name);
        if name.is_empty() {
            return self.is_root();
        }
        let mut labels = self.labels();
        name.split('.').all(|part| {
            labels
                .next()
                .is_some_and(|l| l.eq_ignore_ascii_case(part.as_bytes()))
        }) && labels.next().is_none()
    }

    /// Whether the name equals `wire`, a name in uncompressed wire form (as
    /// [`copy_uncompressed`](Self::copy_uncompressed) writes it), ignoring
    /// ASCII case.
    pub fn eq_uncompressed(&self, wire: &[u8]) -> bool {
        let mut rest = wire;
        for label in self.labels() {
            let Some((&len, tail)) = rest.split_first() else {
                return false;
            };
            let len = usize::from(len);
            if len != label.len() || tail.len() < len {
                return false;
            }
            if !tail[..len].eq_ignore_ascii_case(label) {
                return false;
            }
            rest = &tail[len..];
        }
        rest == [0]
    }

    /// Writes the name in uncompressed wire form into the front of `out`
    /// and returns its length ([`wire_len`](Self::wire_len));
    /// `BufferTooSmall` if it does not fit.
    pub fn copy_uncompressed(&self, out: &mut [u8]) -> Result<usize> {
        let out = out.get_mut(..self.wire_len).ok_or(Error::BufferTooSmall)?;
        let mut at = 0;
        for label in self.labels() {
            out[at] = label.len() as u8;
            out[at + 1..at + 1 + label.len()].copy_from_slice(label);
            at += 1 + label.len();
        }
        out[at] = 0;
        Ok(at + 1)
    }
}

impl PartialEq for DnsName<'_> {
    /// Equality ignoring ASCII case, as DNS compares names.
    fn eq(&self, other: &Self) -> bool {
        self.eq_ignore_case(other)
    }
}

impl Eq for DnsName<'_> {}

impl fmt::Debug for DnsName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "DnsName({self})")
    }
}

impl fmt::Display for DnsName<'_> {
    /// Dotted text; bytes other than letters, digits, `-` and `_` are
    /// written `\DDD` (RFC 1035 section 5.1); the root is `.`.
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if self.is_root() {
            return f.write_str(".");
        }
        for (i, label) in self.labels().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            for &byte in label {
                if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
                    write!(f, "{}", byte as char)?;
                } else {
                    write!(f, "\\{byte:03}")?;
                }
            }
        }
        Ok(())
    }
}

/// An iterator over the labels of a [`DnsName`].
#[derive(Debug, Clone)]
pub struct DnsLabels<'a> {
    message: &'a [u8],
    at: usize,
    limit: usize,
    pointers: usize,
}

impl<'a> Iterator for DnsLabels<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        // The name was checked when parsed; the bounds are kept anyway so
        // that nothing here can panic or loop.
        loop {
            let len = *self.message.get(self.at)?;
            if len & 0xc0 == 0xc0 {
                let low = *self.message.get(self.at + 1)?;
                let target = usize::from(len & 0x3f) << 8 | usize::from(low);
                self.pointers += 1;
                if target >= self.limit || self.pointers > MAX_POINTERS {
                    return None;
                }
                self.limit = target;
                self.at = target;
                continue;
            }
            if len == 0 || len & 0xc0 != 0 {
                return None;
            }
            let label = self
                .message
                .get(self.at + 1..self.at + 1 + usize::from(len))?;
            self.at += 1 + usize::from(len);
            return Some(label);
        }
    }
}

/// A question (RFC 1035 section 4.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DnsQuestion<'a> {
    /// The name asked about.
    pub name: DnsName<'a>,
    /// The record type asked for.
    pub qtype: DnsRecordType,
    /// The class (1: Internet).
    pub qclass: u16,
}

impl<'a> DnsQuestion<'a> {
    fn parse(message: &'a [u8], at: usize) -> Result<(DnsQuestion<'a>, usize)> {
        let (name, end) = DnsName::parse(message, at)?;
        let fixed = message.get(end..end + 4).ok_or(Error::Truncated)?;
        let question = DnsQuestion {
            name,
            qtype: DnsRecordType::from(u16::from_be_bytes([fixed[0], fixed[1]])),
            qclass: u16::from_be_bytes([fixed[2], fixed[3]]),
        };
        Ok((question, end + 4))
    }
}

/// The data of a resource record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsRecordData<'a> {
    /// An IPv4 address (type A, class IN).
    A(Ipv4Address),
    /// An IPv6 address (type AAAA, class IN).
    #[cfg(feature = "proto-ipv6")]
    Aaaa(Ipv6Address),
    /// An IPv6 address (type AAAA, class IN), as its 16 bytes in a build
    /// without IPv6.
    #[cfg(not(feature = "proto-ipv6"))]
    Aaaa([u8; 16]),
    /// The canonical name an alias stands for (type CNAME).
    Cname(DnsName<'a>),
    /// Any other data, raw (names inside it may be compressed against the
    /// message).
    Other(&'a [u8]),
}

/// A resource record (RFC 1035 section 4.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DnsRecord<'a> {
    /// The owner name.
    pub name: DnsName<'a>,
    /// The type.
    pub rtype: DnsRecordType,
    /// The class (1: Internet; an OPT record's UDP payload size).
    pub class: u16,
    /// How long the record may be cached, in seconds.
    pub ttl: u32,
    /// The data.
    pub data: DnsRecordData<'a>,
}

impl<'a> DnsRecord<'a> {
    fn parse(message: &'a [u8], at: usize) -> Result<(DnsRecord<'a>, usize)> {
        let (name, end) = DnsName::parse(message, at)?;
        let fixed = message.get(end..end + 10).ok_or(Error::Truncated)?;
        let rtype = DnsRecordType::from(u16::from_be_bytes([fixed[0], fixed[1]]));
        let class = u16::from_be_bytes([fixed[2], fixed[3]]);
        let ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
        let rdlength = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        let data_at = end + 10;
        let data_end = data_at + rdlength;
        let rdata = message.get(data_at..data_end).ok_or(Error::Truncated)?;
        let data = match (rtype, class) {
            (DnsRecordType::A, CLASS_IN) => {
                let bytes: [u8; 4] = rdata.try_into().map_err(|_| Error::Unrecognized)?;
                DnsRecordData::A(Ipv4Address(bytes))
            }
            (DnsRecordType::Aaaa, CLASS_IN) => {
                let bytes: [u8; 16] = rdata.try_into().map_err(|_| Error::Unrecognized)?;
                #[cfg(feature = "proto-ipv6")]
                let data = DnsRecordData::Aaaa(Ipv6Address(bytes));
                #[cfg(not(feature = "proto-ipv6"))]
                let data = DnsRecordData::Aaaa(bytes);
                data
            }
            (DnsRecordType::Cname, _) => {
                let (target, name_end) = DnsName::parse(message, data_at)?;
                if name_end > data_end {
                    return Err(Error::LengthTooSmall);
                }
                DnsRecordData::Cname(target)
            }
            _ => DnsRecordData::Other(rdata),
        };
        let record = DnsRecord {
            name,
            rtype,
            class,
            ttl,
            data,
        };
        Ok((record, data_end))
    }
}

/// An iterator over the questions of a parsed message.
#[derive(Debug, Clone)]
pub struct DnsQuestions<'a> {
    message: &'a [u8],
    at: usize,
    remaining: u16,
}

impl<'a> Iterator for DnsQuestions<'a> {
    type Item = DnsQuestion<'a>;

    fn next(&mut self) -> Option<DnsQuestion<'a>> {
        self.remaining = self.remaining.checked_sub(1)?;
        // Checked by DnsRepr::parse; an error just ends the iteration.
        let (question, next) = DnsQuestion::parse(self.message, self.at).ok()?;
        self.at = next;
        Some(question)
    }
}

/// An iterator over the records of one section of a parsed message.
#[derive(Debug, Clone)]
pub struct DnsRecords<'a> {
    message: &'a [u8],
    at: usize,
    remaining: u16,
}

impl<'a> Iterator for DnsRecords<'a> {
    type Item = DnsRecord<'a>;

    fn next(&mut self) -> Option<DnsRecord<'a>> {
        self.remaining = self.remaining.checked_sub(1)?;
        let (record, next) = DnsRecord::parse(self.message, self.at).ok()?;
        self.at = next;
        Some(record)
    }
}

/// A parsed DNS message: the header fields, and the sections, each checked
/// and read again on demand through its iterator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DnsRepr<'a> {
    /// The message id.
    pub id: u16,
    /// Whether this is a response.
    pub is_response: bool,
    /// The kind of query.
    pub opcode: DnsOpcode,
    /// Whether the answer is authoritative.
    pub authoritative: bool,
    /// Whether the message was truncated (TC): records that did not fit are
    /// missing, and the counts below say what is present.
    pub truncated: bool,
    /// Whether recursion was desired.
    pub recursion_desired: bool,
    /// Whether the server offers recursion.
    pub recursion_available: bool,
    /// The response code.
    pub rcode: DnsRcode,
    message: &'a [u8],
    /// Per section (questions, answers, authority, additional): where it
    /// starts and how many entries it holds.
    sections: [(usize, u16); 4],
}

impl<'a> DnsRepr<'a> {
    /// Parses a message and checks every question and record in it.
    ///
    /// Fails with `Truncated` when the header's counts ask for more than the
    /// message holds, the errors of [`DnsName::parse`] for any name (owner
    /// names and CNAME targets), `Unrecognized` for A or AAAA data of the
    /// wrong length, and `LengthTooSmall` for a CNAME whose name runs past
    /// its data. A message with TC set may end in the middle of a section:
    /// what is complete is kept (RFC 2181 section 9). Bytes after the last
    /// record are ignored.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &DnsPacket<&'a T>) -> Result<DnsRepr<'a>> {
        packet.check_len()?;
        let message: &'a [u8] = packet.buffer.as_ref();
        let counts = [
            packet.question_count(),
            packet.answer_count(),
            packet.authority_count(),
            packet.additional_count(),
        ];
        let truncated = packet.truncated();
        let mut sections = [(0usize, 0u16); 4];
        let mut at = HEADER_LEN;
        let mut complete = true;
        for (index, count) in counts.into_iter().enumerate() {
            sections[index] = (at, 0);
            if !complete {
                continue;
            }
            for _ in 0..count {
                let parsed = if index == 0 {
                    DnsQuestion::parse(message, at).map(|(_, next)| next)
                } else {
                    DnsRecord::parse(message, at).map(|(_, next)| next)
                };
                match parsed {
                    Ok(next) => {
                        at = next;
                        sections[index].1 += 1;
                    }
                    Err(Error::Truncated) if truncated => {
                        complete = false;
                        break;
                    }
                    Err(err) => return Err(err),
                }
            }
        }
        Ok(DnsRepr {
            id: packet.id(),
            is_response: packet.is_response(),
            opcode: packet.opcode(),
            authoritative: packet.authoritative(),
            truncated,
            recursion_desired: packet.recursion_desired(),
            recursion_available: packet.recursion_available(),
            rcode: packet.rcode(),
            message,
            sections,
        })
    }

    fn records(&self, section: usize) -> DnsRecords<'a> {
        let (at, remaining) = self.sections[section];
        DnsRecords {
            message: self.message,
            at,
            remaining,
        }
    }

    /// The questions.
    pub fn questions(&self) -> DnsQuestions<'a> {
        let (at, remaining) = self.sections[0];
        DnsQuestions {
            message: self.message,
            at,
            remaining,
        }
    }

    /// The first question (a stub resolver asks one).
    pub fn question(&self) -> Option<DnsQuestion<'a>> {
        self.questions().next()
    }

    /// The answer records.
    pub fn answers(&self) -> DnsRecords<'a> {
        self.records(1)
    }

    /// The authority records.
    pub fn authority(&self) -> DnsRecords<'a> {
        self.records(2)
    }

    /// The additional records.
    pub fn additional(&self) -> DnsRecords<'a> {
        self.records(3)
    }

    /// The number of questions, answers, authority and additional records
    /// present.
    pub fn counts(&self) -> [u16; 4] {
        self.sections.map(|(_, count)| count)
    }

    /// The A and AAAA answers for `name`, following CNAME records from it
    /// (at most [`MAX_CNAME_CHAIN`] of them, so a loop of aliases ends), in
    /// the order the chain and the message give them.
    pub fn resolve(&self, name: DnsName<'a>) -> DnsResolve<'a> {
        DnsResolve {
            answers: self.answers(),
            all: self.answers(),
            target: name,
            next_target: None,
            hops: 0,
        }
    }
}

/// The addresses for a name, through its CNAME chain: see
/// [`DnsRepr::resolve`].
#[derive(Debug, Clone)]
pub struct DnsResolve<'a> {
    /// The pass over the answers for the current target.
    answers: DnsRecords<'a>,
    /// All answers, to start a new pass from.
    all: DnsRecords<'a>,
    target: DnsName<'a>,
    next_target: Option<DnsName<'a>>,
    hops: usize,
}

impl<'a> DnsResolve<'a> {
    /// The name the chain has reached: the canonical name once the
    /// iteration is over.
    pub fn canonical_name(&self) -> DnsName<'a> {
        self.target
    }
}

impl<'a> Iterator for DnsResolve<'a> {
    type Item = DnsRecord<'a>;

    fn next(&mut self) -> Option<DnsRecord<'a>> {
        loop {
            for record in self.answers.by_ref() {
                if !record.name.eq_ignore_case(&self.target) {
                    continue;
                }
                match record.data {
                    DnsRecordData::A(_) | DnsRecordData::Aaaa(_) => return Some(record),
                    DnsRecordData::Cname(target) => {
                        self.next_target.get_or_insert(target);
                    }
                    DnsRecordData::Other(_) => {}
                }
            }
            let target = self.next_target.take()?;
            if self.hops == MAX_CNAME_CHAIN {
                return None;
            }
            self.hops += 1;
            self.target = target;
            self.answers = self.all.clone();
        }
    }
}

/// The query a stub resolver sends: one question, class IN, no EDNS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DnsQueryRepr<'a> {
    /// The message id (random, to match the answer; RFC 5452 section 9.2).
    pub id: u16,
    /// Whether the server should recurse (RD).
    pub recursion_desired: bool,
    /// The name, as dotted text (a trailing dot allowed).
    pub name: &'a str,
    /// The record type asked for.
    pub qtype: DnsRecordType,
}

impl DnsQueryRepr<'_> {
    /// The number of bytes [`emit`](Self::emit) writes: the header, the
    /// encoded name and the type and class.
    pub fn buffer_len(&self) -> usize {
        let name = self.name.strip_suffix('.').unwrap_or(self.name);
        // Each dot becomes a length byte; one more leads, the root ends.
        let name_len = if name.is_empty() { 1 } else { name.len() + 2 };
        HEADER_LEN + name_len + 4
    }

    /// Writes the query into `packet`. Fails with `BadLabel` for an empty
    /// label (`a..b`, a leading dot) or one over 63 bytes, `NameTooLong`
    /// over 255 bytes encoded, and `BufferTooSmall` if the buffer is shorter
    /// than [`buffer_len`](Self::buffer_len).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut DnsPacket<T>) -> Result<()> {
        let len = self.buffer_len();
        if len - HEADER_LEN - 4 > MAX_NAME_LEN {
            return Err(Error::NameTooLong);
        }
        let name = self.name.strip_suffix('.').unwrap_or(self.name);
        if !name.is_empty()
            && name
                .split('.')
                .any(|label| label.is_empty() || label.len() > MAX_LABEL_LEN)
        {
            return Err(Error::BadLabel);
        }
        let out = packet.buffer.as_mut();
        let out = out.get_mut(..len).ok_or(Error::BufferTooSmall)?;
        out[..HEADER_LEN].fill(0);
        out[field::ID].copy_from_slice(&self.id.to_be_bytes());
        let flags = if self.recursion_desired { flag::RD } else { 0 };
        out[field::FLAGS].copy_from_slice(&flags.to_be_bytes());
        out[field::QDCOUNT].copy_from_slice(&1u16.to_be_bytes());
        let mut at = HEADER_LEN;
        if !name.is_empty() {
            for label in name.split('.') {
                out[at] = label.len() as u8;
                out[at + 1..at + 1 + label.len()].copy_from_slice(label.as_bytes());
                at += 1 + label.len();
            }
        }
        out[at] = 0;
        out[at + 1..at + 3].copy_from_slice(&u16::from(self.qtype).to_be_bytes());
        out[at + 3..at + 5].copy_from_slice(&CLASS_IN.to_be_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests;
