//! Multicast listener discovery: MLDv2 (RFC 3810) queries and reports, and
//! MLDv1 queries (RFC 2710), which a version 2 host must recognize to fall
//! back (RFC 3810 section 8.2.1). The messages are ICMPv6 messages: parse and
//! emit them through [`Icmpv6Repr`](super::Icmpv6Repr), which adds the
//! checksum. They travel with hop limit 1 and a hop-by-hop Router Alert
//! ([`super::ipv6ext::ROUTER_ALERT_MLD`]).

use core::fmt;

use super::icmpv6::{Icmpv6Message, Icmpv6Packet};
use super::ipv6::Ipv6Address;
use super::{Error, Result};

/// Byte offsets of the MLD fields (RFC 3810 sections 5.1 and 5.2).
mod field {
    /// Query: maximum response code.
    pub const MAX_RESP_CODE: usize = 4;
    /// Query: multicast address (unspecified in a general query).
    pub const QUERY_MCAST_ADDR: usize = 8;
    /// MLDv2 query: reserved, S flag and QRV.
    pub const SFLAG_QRV: usize = 24;
    /// MLDv2 query: querier's query interval code.
    pub const QQIC: usize = 25;
    /// MLDv2 query: number of sources.
    pub const NUM_SOURCES: usize = 26;
    /// MLDv2 query: the source addresses.
    pub const SOURCES: usize = 28;
    /// Report: number of multicast address records.
    pub const NUM_RECORDS: usize = 6;
    /// Report: the records.
    pub const RECORDS: usize = 8;
}

/// The length of an MLDv1 query (RFC 2710 section 3).
pub const QUERY_V1_LEN: usize = 24;
/// The length of an MLDv2 query without sources (RFC 3810 section 5.1).
pub const QUERY_V2_LEN: usize = field::SOURCES;
/// The length of a multicast address record without sources or auxiliary
/// data (RFC 3810 section 5.2.4).
pub const RECORD_LEN: usize = 20;

/// The S flag of an MLDv2 query: suppress router-side processing.
const S_FLAG: u8 = 0x08;

impl<T: AsRef<[u8]>> Icmpv6Packet<T> {
    /// A query's maximum response code (see [`max_resp_delay_ms`]).
    pub fn max_resp_code(&self) -> u16 {
        self.u16_at(field::MAX_RESP_CODE)
    }

    /// A query's multicast address.
    pub fn query_mcast_addr(&self) -> Ipv6Address {
        self.addr_at(field::QUERY_MCAST_ADDR)
    }

    /// An MLDv2 query's S flag.
    pub fn query_s_flag(&self) -> bool {
        self.bytes_at::<1>(field::SFLAG_QRV)[0] & S_FLAG != 0
    }

    /// An MLDv2 query's querier's robustness variable (3 bits).
    pub fn query_qrv(&self) -> u8 {
        self.bytes_at::<1>(field::SFLAG_QRV)[0] & 0x07
    }

    /// An MLDv2 query's querier's query interval code (see
    /// [`query_interval_s`]).
    pub fn query_qqic(&self) -> u8 {
        self.bytes_at::<1>(field::QQIC)[0]
    }

    /// An MLDv2 query's number of sources.
    pub fn query_num_sources(&self) -> u16 {
        self.u16_at(field::NUM_SOURCES)
    }

    /// An MLDv2 report's number of multicast address records.
    pub fn report_num_records(&self) -> u16 {
        self.u16_at(field::NUM_RECORDS)
    }
}

/// The maximum response delay in milliseconds that a query's code stands
/// for (RFC 3810 section 5.1.3: exact below 32768, else a floating-point
/// form with a 12-bit mantissa and a 3-bit exponent).
pub const fn max_resp_delay_ms(code: u16) -> u32 {
    if code < 0x8000 {
        code as u32
    } else {
        let mant = (code & 0x0fff) as u32;
        let exp = ((code >> 12) & 0x7) as u32;
        (mant | 0x1000) << (exp + 3)
    }
}

/// The query interval in seconds a querier's query interval code stands
/// for (RFC 3810 section 5.1.9: exact below 128, else a 4-bit mantissa and
/// a 3-bit exponent).
pub const fn query_interval_s(qqic: u8) -> u32 {
    if qqic < 0x80 {
        qqic as u32
    } else {
        let mant = (qqic & 0x0f) as u32;
        let exp = ((qqic >> 4) & 0x7) as u32;
        (mant | 0x10) << (exp + 3)
    }
}

/// A list of IPv6 source addresses as consecutive 16-byte entries, as a
/// query or a record carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MldSources<'a> {
    bytes: &'a [u8],
}

impl<'a> MldSources<'a> {
    /// No sources.
    pub const EMPTY: MldSources<'static> = MldSources { bytes: &[] };

    /// The sources in `bytes`; `BadOption` unless its length is a multiple
    /// of 16 and at most 65535 entries.
    pub fn new(bytes: &'a [u8]) -> Result<MldSources<'a>> {
        if bytes.len() % 16 != 0 || bytes.len() / 16 > usize::from(u16::MAX) {
            return Err(Error::BadOption);
        }
        Ok(MldSources { bytes })
    }

    /// The number of sources.
    pub fn len(&self) -> usize {
        self.bytes.len() / 16
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The raw 16-byte entries.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The addresses.
    pub fn iter(&self) -> impl Iterator<Item = Ipv6Address> + 'a {
        self.bytes.chunks_exact(16).map(|chunk| {
            let mut bytes = [0u8; 16];
            bytes.copy_from_slice(chunk);
            Ipv6Address(bytes)
        })
    }
}

/// The type of a multicast address record (RFC 3810 section 5.2.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MldRecordType {
    /// MODE_IS_INCLUDE (1): current state, include the sources.
    ModeIsInclude,
    /// MODE_IS_EXCLUDE (2): current state, exclude the sources; with none,
    /// "listening to every source", a host's answer for a joined group.
    ModeIsExclude,
    /// CHANGE_TO_INCLUDE_MODE (3); with no sources, leaving the group.
    ChangeToInclude,
    /// CHANGE_TO_EXCLUDE_MODE (4); with no sources, joining the group.
    ChangeToExclude,
    /// ALLOW_NEW_SOURCES (5).
    AllowNewSources,
    /// BLOCK_OLD_SOURCES (6).
    BlockOldSources,
    /// Any other type (ignored by receivers).
    Unknown(u8),
}

impl From<u8> for MldRecordType {
    fn from(value: u8) -> Self {
        match value {
            1 => MldRecordType::ModeIsInclude,
            2 => MldRecordType::ModeIsExclude,
            3 => MldRecordType::ChangeToInclude,
            4 => MldRecordType::ChangeToExclude,
            5 => MldRecordType::AllowNewSources,
            6 => MldRecordType::BlockOldSources,
            other => MldRecordType::Unknown(other),
        }
    }
}

impl From<MldRecordType> for u8 {
    fn from(value: MldRecordType) -> u8 {
        match value {
            MldRecordType::ModeIsInclude => 1,
            MldRecordType::ModeIsExclude => 2,
            MldRecordType::ChangeToInclude => 3,
            MldRecordType::ChangeToExclude => 4,
            MldRecordType::AllowNewSources => 5,
            MldRecordType::BlockOldSources => 6,
            MldRecordType::Unknown(other) => other,
        }
    }
}

/// One multicast address record of an MLDv2 report (RFC 3810 section
/// 5.2.4), parsed or to be emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MldAddressRecord<'a> {
    /// The record type.
    pub record_type: MldRecordType,
    /// The multicast address.
    pub mcast_addr: Ipv6Address,
    /// The sources.
    pub sources: MldSources<'a>,
    /// Auxiliary data (a multiple of 4 bytes; hosts send none, receivers
    /// ignore it).
    pub aux_data: &'a [u8],
}

impl<'a> MldAddressRecord<'a> {
    /// "Change to exclude {}": the record a host sends when it joins
    /// `group`, e.g. its solicited-node group (RFC 3810 section 6.1).
    pub const fn join(group: Ipv6Address) -> MldAddressRecord<'static> {
        MldAddressRecord {
            record_type: MldRecordType::ChangeToExclude,
            mcast_addr: group,
            sources: MldSources::EMPTY,
            aux_data: &[],
        }
    }

    /// "Change to include {}": the record a host sends when it leaves
    /// `group` (RFC 3810 section 6.1).
    pub const fn leave(group: Ipv6Address) -> MldAddressRecord<'static> {
        MldAddressRecord {
            record_type: MldRecordType::ChangeToInclude,
            mcast_addr: group,
            sources: MldSources::EMPTY,
            aux_data: &[],
        }
    }

    /// "Mode is exclude {}": a host's answer to a query for a group it
    /// listens to from any source (RFC 3810 section 6.3).
    pub const fn mode_is_exclude(group: Ipv6Address) -> MldAddressRecord<'static> {
        MldAddressRecord {
            record_type: MldRecordType::ModeIsExclude,
            mcast_addr: group,
            sources: MldSources::EMPTY,
            aux_data: &[],
        }
    }

    /// Parses the record at the start of `data`; returns it and its length.
    fn parse(data: &'a [u8]) -> Result<(MldAddressRecord<'a>, usize)> {
        let fixed = data.get(..RECORD_LEN).ok_or(Error::Truncated)?;
        let aux_len = usize::from(fixed[1]) * 4;
        let num_sources = usize::from(u16::from_be_bytes([fixed[2], fixed[3]]));
        let sources_end = RECORD_LEN + num_sources * 16;
        let end = sources_end + aux_len;
        let sources = data.get(RECORD_LEN..sources_end).ok_or(Error::Truncated)?;
        let aux_data = data.get(sources_end..end).ok_or(Error::Truncated)?;
        let mut mcast_addr = [0u8; 16];
        mcast_addr.copy_from_slice(&fixed[4..20]);
        let record = MldAddressRecord {
            record_type: MldRecordType::from(fixed[0]),
            mcast_addr: Ipv6Address(mcast_addr),
            sources: MldSources { bytes: sources },
            aux_data,
        };
        Ok((record, end))
    }

    /// The bytes [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        RECORD_LEN + self.sources.as_bytes().len() + self.aux_data.len()
    }

    /// Writes the record to the front of `out`: `BufferTooSmall` if it is
    /// shorter than [`buffer_len`](Self::buffer_len), `BadOption` for
    /// auxiliary data that is not a multiple of 4 bytes or over 1020.
    pub fn emit(&self, out: &mut [u8]) -> Result<()> {
        if self.aux_data.len() % 4 != 0 || self.aux_data.len() > 255 * 4 {
            return Err(Error::BadOption);
        }
        let out = out
            .get_mut(..self.buffer_len())
            .ok_or(Error::BufferTooSmall)?;
        let sources = self.sources.as_bytes();
        out[0] = u8::from(self.record_type);
        out[1] = (self.aux_data.len() / 4) as u8;
        // MldSources holds at most 65535 entries.
        out[2..4].copy_from_slice(&(self.sources.len() as u16).to_be_bytes());
        out[4..20].copy_from_slice(&self.mcast_addr.0);
        out[RECORD_LEN..RECORD_LEN + sources.len()].copy_from_slice(sources);
        out[RECORD_LEN + sources.len()..].copy_from_slice(self.aux_data);
        Ok(())
    }
}

/// The multicast address records of an MLDv2 report: a count and the raw
/// bytes of exactly that many records (checked when made).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MldRecords<'a> {
    count: u16,
    bytes: &'a [u8],
}

impl<'a> MldRecords<'a> {
    /// The first `count` records in `data`; `Truncated` if they do not fit.
    /// Bytes after them are not part of the result.
    pub fn new_checked(count: u16, data: &'a [u8]) -> Result<MldRecords<'a>> {
        let mut at = 0;
        for _ in 0..count {
            let rest = data.get(at..).ok_or(Error::Truncated)?;
            let (_, len) = MldAddressRecord::parse(rest)?;
            at += len;
        }
        Ok(MldRecords {
            count,
            bytes: &data[..at],
        })
    }

    /// Writes `records` one after another into `buf` and returns them as
    /// records borrowing `buf` (`BufferTooSmall` if they do not fit,
    /// `BadOption` for more than 65535 records or a record
    /// [`MldAddressRecord::emit`] refuses).
    pub fn emit_from(records: &[MldAddressRecord], buf: &'a mut [u8]) -> Result<MldRecords<'a>> {
        let count = u16::try_from(records.len()).map_err(|_| Error::BadOption)?;
        let mut len = 0;
        for record in records {
            record.emit(buf.get_mut(len..).ok_or(Error::BufferTooSmall)?)?;
            len += record.buffer_len();
        }
        let buf: &'a [u8] = buf;
        MldRecords::new_checked(count, &buf[..len])
    }

    /// The number of records.
    pub fn len(&self) -> usize {
        usize::from(self.count)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The raw bytes of the records.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The records in order.
    pub fn iter(&self) -> impl Iterator<Item = MldAddressRecord<'a>> + 'a {
        let mut rest = self.bytes;
        // Every record parsed when these were made.
        core::iter::from_fn(move || {
            let (record, len) = MldAddressRecord::parse(rest).ok()?;
            rest = rest.get(len..)?;
            Some(record)
        })
        .take(self.len())
    }
}

/// An MLD message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MldRepr<'a> {
    /// An MLDv1 query (RFC 2710 section 3, 24 bytes): a version 2 host
    /// that hears one falls back to version 1 (RFC 3810 section 8.2.1).
    QueryV1 {
        /// The maximum response delay in milliseconds.
        max_resp_delay: u16,
        /// The group queried, or `::` for a general query.
        mcast_addr: Ipv6Address,
    },
    /// An MLDv2 query (RFC 3810 section 5.1).
    Query {
        /// The maximum response code ([`max_resp_delay_ms`]).
        max_resp_code: u16,
        /// The group queried, or `::` for a general query.
        mcast_addr: Ipv6Address,
        /// Suppress router-side processing.
        s_flag: bool,
        /// The querier's robustness variable (0..=7).
        qrv: u8,
        /// The querier's query interval code ([`query_interval_s`]).
        qqic: u8,
        /// The sources of a group-and-source-specific query.
        sources: MldSources<'a>,
    },
    /// An MLDv2 report (RFC 3810 section 5.2).
    Report {
        /// The multicast address records.
        records: MldRecords<'a>,
    },
}

impl<'a> MldRepr<'a> {
    /// Parses an MLD query (type 130) or MLDv2 report (type 143) from an
    /// ICMPv6 packet (the checksum is
    /// [`Icmpv6Repr::parse`](super::Icmpv6Repr::parse)'s business; the code
    /// is ignored, RFC 3810 section 5.1.1).
    ///
    /// Queries: 24 bytes is MLDv1, 28 or more MLDv2 (section 8.1); 25 to 27
    /// bytes is `Unrecognized` (the RFC says to ignore it) and shorter
    /// `Truncated`, as are sources past the end. Reports: `Truncated` when
    /// the records do not fit. Other types are `Unrecognized`.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Icmpv6Packet<&'a T>) -> Result<MldRepr<'a>> {
        packet.check_len()?;
        let buffer: &'a [u8] = packet.buffer.as_ref();
        match packet.msg_type() {
            Icmpv6Message::MldQuery => match buffer.len() {
                len if len < QUERY_V1_LEN => Err(Error::Truncated),
                QUERY_V1_LEN => Ok(MldRepr::QueryV1 {
                    max_resp_delay: packet.max_resp_code(),
                    mcast_addr: packet.query_mcast_addr(),
                }),
                len if len < QUERY_V2_LEN => Err(Error::Unrecognized),
                _ => {
                    let count = usize::from(packet.query_num_sources());
                    let end = QUERY_V2_LEN + count * 16;
                    let sources = buffer.get(QUERY_V2_LEN..end).ok_or(Error::Truncated)?;
                    Ok(MldRepr::Query {
                        max_resp_code: packet.max_resp_code(),
                        mcast_addr: packet.query_mcast_addr(),
                        s_flag: packet.query_s_flag(),
                        qrv: packet.query_qrv(),
                        qqic: packet.query_qqic(),
                        sources: MldSources { bytes: sources },
                    })
                }
            },
            Icmpv6Message::MldReport => {
                let records = MldRecords::new_checked(
                    packet.report_num_records(),
                    &buffer[field::RECORDS..],
                )?;
                Ok(MldRepr::Report { records })
            }
            _ => Err(Error::Unrecognized),
        }
    }

    /// The ICMPv6 message length.
    pub fn buffer_len(&self) -> usize {
        match self {
            MldRepr::QueryV1 { .. } => QUERY_V1_LEN,
            MldRepr::Query { sources, .. } => QUERY_V2_LEN + sources.as_bytes().len(),
            MldRepr::Report { records } => field::RECORDS + records.as_bytes().len(),
        }
    }

    /// Writes the message into `packet`, whose buffer must hold
    /// [`buffer_len`](Self::buffer_len) bytes; the checksum is left to
    /// [`Icmpv6Repr::emit`](super::Icmpv6Repr::emit).
    pub(super) fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Icmpv6Packet<T>) {
        packet.set_msg_code(0);
        match *self {
            MldRepr::QueryV1 {
                max_resp_delay,
                mcast_addr,
            } => {
                packet.set_msg_type(Icmpv6Message::MldQuery);
                packet.set_u16_at(field::MAX_RESP_CODE, max_resp_delay);
                packet.set_u16_at(field::MAX_RESP_CODE + 2, 0);
                packet.set_addr_at(field::QUERY_MCAST_ADDR, &mcast_addr);
            }
            MldRepr::Query {
                max_resp_code,
                mcast_addr,
                s_flag,
                qrv,
                qqic,
                sources,
            } => {
                packet.set_msg_type(Icmpv6Message::MldQuery);
                packet.set_u16_at(field::MAX_RESP_CODE, max_resp_code);
                packet.set_u16_at(field::MAX_RESP_CODE + 2, 0);
                packet.set_addr_at(field::QUERY_MCAST_ADDR, &mcast_addr);
                let buffer = packet.buffer.as_mut();
                buffer[field::SFLAG_QRV] = (qrv & 0x07) | if s_flag { S_FLAG } else { 0 };
                buffer[field::QQIC] = qqic;
                // MldSources holds at most 65535 entries.
                let count = sources.len() as u16;
                buffer[field::NUM_SOURCES..field::SOURCES].copy_from_slice(&count.to_be_bytes());
                let bytes = sources.as_bytes();
                buffer[field::SOURCES..field::SOURCES + bytes.len()].copy_from_slice(bytes);
            }
            MldRepr::Report { records } => {
                packet.set_msg_type(Icmpv6Message::MldReport);
                packet.set_u16_at(4, 0);
                packet.set_u16_at(field::NUM_RECORDS, records.count);
                let bytes = records.as_bytes();
                packet.buffer.as_mut()[field::RECORDS..field::RECORDS + bytes.len()]
                    .copy_from_slice(bytes);
            }
        }
    }
}

impl fmt::Display for MldRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            MldRepr::QueryV1 {
                max_resp_delay,
                mcast_addr,
            } => write!(
                f,
                "MLDv1 query for {mcast_addr} max delay {max_resp_delay} ms"
            ),
            MldRepr::Query {
                max_resp_code,
                mcast_addr,
                sources,
                ..
            } => write!(
                f,
                "MLDv2 query for {mcast_addr} max delay {} ms sources={}",
                max_resp_delay_ms(*max_resp_code),
                sources.len()
            ),
            MldRepr::Report { records } => write!(f, "MLDv2 report records={}", records.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::wire::icmpv6::tests::{emit, linux_icmpv6, parse_and_reemit};
    use crate::wire::{ChecksumCapabilities, Icmpv6Repr};
    use std::string::ToString;
    use std::vec::Vec;

    fn addr(text: &str) -> Ipv6Address {
        text.parse().unwrap()
    }

    fn mld(number: usize) -> MldRepr<'static> {
        match parse_and_reemit(number) {
            Icmpv6Repr::Mld(repr) => repr,
            other => panic!("frame {number}: {other:?}"),
        }
    }

    #[test]
    fn linux_bridge_general_query() {
        let repr = mld(3);
        assert_eq!(
            repr,
            MldRepr::Query {
                max_resp_code: 10_000,
                mcast_addr: Ipv6Address::UNSPECIFIED,
                s_flag: false,
                qrv: 2,
                qqic: 125,
                sources: MldSources::EMPTY,
            }
        );
        assert_eq!(max_resp_delay_ms(10_000), 10_000);
        assert_eq!(query_interval_s(125), 125);
        assert_eq!(
            repr.to_string(),
            "MLDv2 query for :: max delay 10000 ms sources=0"
        );
    }

    #[test]
    fn linux_reports_and_the_records_a_host_sends() {
        // A host joining its solicited-node group: one "change to exclude
        // {}" record (frame 22, from the client).
        let repr = mld(22);
        let MldRepr::Report { records } = repr else {
            panic!("{repr:?}");
        };
        let solicited = addr("fe80::ff:fe00:102").solicited_node();
        assert_eq!(
            records.iter().collect::<Vec<_>>(),
            [MldAddressRecord::join(solicited)]
        );
        // Built from scratch, it is what Linux sent.
        let mut buf = [0u8; 20];
        let built = MldRecords::emit_from(&[MldAddressRecord::join(solicited)], &mut buf).unwrap();
        let (src, dst, bytes) = linux_icmpv6(22);
        assert_eq!(
            emit(
                &src,
                &dst,
                &Icmpv6Repr::Mld(MldRepr::Report { records: built })
            ),
            bytes
        );

        // The router's six groups in one report (frame 2).
        let MldRepr::Report { records } = mld(2) else {
            panic!()
        };
        let groups: Vec<_> = records
            .iter()
            .map(|r| (r.record_type, r.mcast_addr))
            .collect();
        let expected: Vec<_> = [
            "ff02::1:ff00:101",
            "ff02::6a",
            "ff02::1:ff00:0",
            "ff02::1:ff00:1",
            "ff05::2",
            "ff02::2",
        ]
        .iter()
        .map(|a| (MldRecordType::ChangeToExclude, addr(a)))
        .collect();
        assert_eq!(groups, expected);
        assert_eq!(records.len(), 6);
        assert_eq!(mld(2).to_string(), "MLDv2 report records=6");
    }

    #[test]
    fn records_with_sources_and_aux_data() {
        let sources = [addr("2001:db8::1").0, addr("2001:db8::2").0].concat();
        let record = MldAddressRecord {
            record_type: MldRecordType::AllowNewSources,
            mcast_addr: addr("ff05::1:3"),
            sources: MldSources::new(&sources).unwrap(),
            aux_data: &[1, 2, 3, 4],
        };
        let leave = MldAddressRecord::leave(addr("ff02::fb"));
        let answer = MldAddressRecord::mode_is_exclude(addr("ff02::1:ff00:1"));
        let mut buf = [0u8; 128];
        let records = MldRecords::emit_from(&[record, leave, answer], &mut buf).unwrap();
        assert_eq!(records.as_bytes().len(), 20 + 32 + 4 + 20 + 20);
        assert_eq!(&records.as_bytes()[..4], &[5, 1, 0, 2]);
        let repr = Icmpv6Repr::Mld(MldRepr::Report { records });
        let (src, dst) = (addr("fe80::1"), addr("ff02::16"));
        let bytes = emit(&src, &dst, &repr);
        let packet = Icmpv6Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.report_num_records(), 3);
        let parsed = Icmpv6Repr::parse(&src, &dst, &packet, &ChecksumCapabilities::default());
        assert_eq!(parsed, Ok(repr));
        let Ok(Icmpv6Repr::Mld(MldRepr::Report { records })) = parsed else {
            panic!()
        };
        let first = records.iter().next().unwrap();
        assert_eq!(
            first.sources.iter().collect::<Vec<_>>(),
            [addr("2001:db8::1"), addr("2001:db8::2")]
        );
        assert_eq!(first.aux_data, &[1, 2, 3, 4]);
        assert_eq!(MldRecordType::from(9), MldRecordType::Unknown(9));
        for t in 0..=255u8 {
            assert_eq!(u8::from(MldRecordType::from(t)), t);
        }

        let bad_aux = MldAddressRecord {
            aux_data: &[1, 2, 3],
            ..leave
        };
        assert_eq!(bad_aux.emit(&mut buf), Err(Error::BadOption));
        assert_eq!(leave.emit(&mut buf[..19]), Err(Error::BufferTooSmall));
        assert_eq!(MldSources::new(&[0; 15]), Err(Error::BadOption));
    }

    #[test]
    fn query_versions_and_sources() {
        let (src, dst) = (addr("fe80::1"), addr("ff02::1"));
        let v1 = MldRepr::QueryV1 {
            max_resp_delay: 1000,
            mcast_addr: Ipv6Address::UNSPECIFIED,
        };
        let bytes = emit(&src, &dst, &Icmpv6Repr::Mld(v1));
        assert_eq!(bytes.len(), 24);
        let packet = Icmpv6Packet::new_checked(&bytes[..]).unwrap();
        let caps = ChecksumCapabilities::default();
        assert_eq!(
            Icmpv6Repr::parse(&src, &dst, &packet, &caps),
            Ok(Icmpv6Repr::Mld(v1))
        );

        let sources = addr("2001:db8::7").0;
        let v2 = MldRepr::Query {
            max_resp_code: 0x8123,
            mcast_addr: addr("ff05::1:3"),
            s_flag: true,
            qrv: 7,
            qqic: 0x91,
            sources: MldSources::new(&sources).unwrap(),
        };
        let mut bytes = emit(&src, &dst, &Icmpv6Repr::Mld(v2));
        assert_eq!(bytes.len(), 28 + 16);
        assert_eq!(&bytes[24..28], &[0x0f, 0x91, 0, 1]);
        let packet = Icmpv6Packet::new_checked(&bytes[..]).unwrap();
        assert!(packet.query_s_flag());
        assert_eq!(
            Icmpv6Repr::parse(&src, &dst, &packet, &caps),
            Ok(Icmpv6Repr::Mld(v2))
        );
        // RFC 3810 5.1.3 and 5.1.9: 0x8123 = exp 0, mant 0x123 -> 0x1123
        // << 3; 0x91 = exp 1, mant 1 -> 0x11 << 4.
        assert_eq!(max_resp_delay_ms(0x8123), 0x1123 << 3);
        assert_eq!(max_resp_delay_ms(0xffff), (0x1fff) << 10);
        assert_eq!(query_interval_s(0x91), 0x11 << 4);
        assert_eq!(query_interval_s(0xff), 0x1f << 10);

        // Additional data after the sources is ignored.
        bytes.extend_from_slice(&[0xaa; 4]);
        Icmpv6Packet::new_unchecked(&mut bytes[..]).fill_checksum(&src, &dst);
        let packet = Icmpv6Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(
            Icmpv6Repr::parse(&src, &dst, &packet, &caps),
            Ok(Icmpv6Repr::Mld(v2))
        );
    }

    fn parse(bytes: &[u8]) -> Result<MldRepr<'_>> {
        MldRepr::parse(&Icmpv6Packet::new_checked(bytes).unwrap())
    }

    #[test]
    fn errors() {
        let (_, _, query) = linux_icmpv6(3);
        for len in 8..24 {
            assert_eq!(parse(&query[..len]), Err(Error::Truncated));
        }
        assert!(matches!(parse(&query[..24]), Ok(MldRepr::QueryV1 { .. })));
        for len in 25..28 {
            assert_eq!(parse(&query[..len]), Err(Error::Unrecognized));
        }
        // Sources past the end.
        let mut sources = query.to_vec();
        sources[27] = 1;
        assert_eq!(parse(&sources), Err(Error::Truncated));
        sources.extend_from_slice(&[0; 16]);
        assert!(parse(&sources).is_ok());
        // Records past the end.
        let (_, _, report) = linux_icmpv6(22);
        let mut more = report.to_vec();
        more[7] = 2;
        assert_eq!(parse(&more), Err(Error::Truncated));
        let mut sources = report.to_vec();
        sources[11] = 1;
        assert_eq!(parse(&sources), Err(Error::Truncated));
        let mut aux = report.to_vec();
        aux[9] = 1;
        assert_eq!(parse(&aux), Err(Error::Truncated));
        assert_eq!(parse(&report[..27]), Err(Error::Truncated));
        // Not an MLD type (v1 reports are not handled).
        let mut v1 = report.to_vec();
        v1[0] = 131;
        assert_eq!(parse(&v1), Err(Error::Unrecognized));
    }
}
