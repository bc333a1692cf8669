//! TCP segments (RFC 9293 section 3.1) and options (RFC 9293 section 3.2,
//! RFC 7323, RFC 2018).

use core::{cmp, fmt, ops};

use super::checksum;
use super::ip::{IpAddress, IpProtocol};
use super::{ChecksumCapabilities, Error, Result};

mod option;
#[cfg(test)]
mod tests;

pub use self::option::{TcpOption, TcpOptionIter};

/// A TCP sequence number: arithmetic modulo 2^32 (RFC 9293 section 3.4).
///
/// Ordering compares by the sign of the wrapping difference, so it is correct
/// across the 2^32 wrap for numbers less than 2^31 apart (which is all TCP
/// ever compares). It is not a total order over all of `u32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    /// The raw 32-bit value.
    pub const fn raw(self) -> u32 {
        self.0
    }

    /// `self + n` modulo 2^32 (n is truncated to 32 bits).
    pub const fn wrapping_add(self, n: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(n))
    }

    /// The signed distance from `other` to `self`: positive when `self` is
    /// after `other`.
    pub const fn diff(self, other: SeqNumber) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }

    /// The later of two sequence numbers.
    pub fn max(self, other: SeqNumber) -> SeqNumber {
        if self.diff(other) >= 0 { self } else { other }
    }

    /// The earlier of two sequence numbers.
    pub fn min(self, other: SeqNumber) -> SeqNumber {
        if self.diff(other) <= 0 { self } else { other }
    }
}

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl ops::Add<usize> for SeqNumber {
    type Output = SeqNumber;
    /// Advances by `rhs` bytes. Lengths in TCP are below 2^31, so the
    /// truncation to 32 bits is the modular arithmetic the RFC defines.
    fn add(self, rhs: usize) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(rhs as u32))
    }
}

impl ops::Sub<usize> for SeqNumber {
    type Output = SeqNumber;
    fn sub(self, rhs: usize) -> SeqNumber {
        SeqNumber(self.0.wrapping_sub(rhs as u32))
    }
}

impl ops::AddAssign<usize> for SeqNumber {
    fn add_assign(&mut self, rhs: usize) {
        *self = *self + rhs;
    }
}

impl ops::Sub for SeqNumber {
    type Output = usize;
    /// The number of bytes from `rhs` up to `self`; zero if `rhs` is after
    /// `self` (callers compare first when the order is not known).
    fn sub(self, rhs: SeqNumber) -> usize {
        let d = self.diff(rhs);
        if d < 0 { 0 } else { d as usize }
    }
}

impl PartialOrd for SeqNumber {
    fn partial_cmp(&self, other: &SeqNumber) -> Option<cmp::Ordering> {
        Some(self.diff(*other).cmp(&0))
    }
}

bitflags::bitflags! {
    /// The nine TCP control bits (RFC 9293 section 3.1, RFC 3168 for ECE and
    /// CWR, RFC 9768 / RFC 3540 for AE, formerly NS). The three reserved bits
    /// of the 12-bit field are not flags; the packet view exposes them raw.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct TcpFlags: u16 {
        /// No more data from sender.
        const FIN = 0x001;
        /// Synchronize sequence numbers.
        const SYN = 0x002;
        /// Reset the connection.
        const RST = 0x004;
        /// Push function.
        const PSH = 0x008;
        /// Acknowledgment field is significant.
        const ACK = 0x010;
        /// Urgent pointer field is significant.
        const URG = 0x020;
        /// ECN-Echo.
        const ECE = 0x040;
        /// Congestion window reduced.
        const CWR = 0x080;
        /// Accurate ECN (formerly the ECN nonce sum, NS).
        const AE = 0x100;
    }
}

/// The control bits as their 12-bit field value in hex (bitflags' struct
/// cannot derive it).
#[cfg(feature = "defmt")]
impl defmt::Format for TcpFlags {
    fn format(&self, f: defmt::Formatter) {
        defmt::write!(f, "TcpFlags({=u16:#05x})", self.bits())
    }
}

/// The timestamps option (RFC 7323 section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TcpTimestamp {
    /// TSval: the sender's timestamp clock.
    pub tsval: u32,
    /// TSecr: the echoed timestamp.
    pub tsecr: u32,
}

/// One SACK block (RFC 2018): the peer holds `[left, right)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TcpSackRange {
    /// First sequence number of the block.
    pub left: SeqNumber,
    /// Sequence number just past the block.
    pub right: SeqNumber,
}

/// A high-level representation of a TCP segment: every header field, the
/// options pollnet understands, and the payload.
///
/// The ACK flag lives in `flags`; `ack_number` is the raw field, meaningful
/// only when ACK is set (use [`TcpRepr::ack`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TcpRepr<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number of the first octet (or of the SYN).
    pub seq_number: SeqNumber,
    /// Acknowledgment number field, raw.
    pub ack_number: SeqNumber,
    /// The nine control bits.
    pub flags: TcpFlags,
    /// Window field, raw (before any window-scale shift).
    pub window_len: u16,
    /// Urgent pointer field, raw.
    pub urgent_pointer: u16,
    /// Maximum segment size option (RFC 9293 section 3.7.1).
    pub max_seg_size: Option<u16>,
    /// Window scale option shift count (RFC 7323 section 2), as received.
    pub window_scale: Option<u8>,
    /// SACK-permitted option (RFC 2018).
    pub sack_permitted: bool,
    /// SACK blocks (RFC 2018); unused entries are `None`, used ones first.
    pub sack_ranges: [Option<TcpSackRange>; 4],
    /// Timestamps option (RFC 7323 section 3).
    pub timestamp: Option<TcpTimestamp>,
    /// The segment's data.
    pub payload: &'a [u8],
}

impl<'a> TcpRepr<'a> {
    /// Whether SYN is set.
    pub fn syn(&self) -> bool {
        self.flags.contains(TcpFlags::SYN)
    }

    /// Whether FIN is set.
    pub fn fin(&self) -> bool {
        self.flags.contains(TcpFlags::FIN)
    }

    /// Whether RST is set.
    pub fn rst(&self) -> bool {
        self.flags.contains(TcpFlags::RST)
    }

    /// Whether PSH is set.
    pub fn psh(&self) -> bool {
        self.flags.contains(TcpFlags::PSH)
    }

    /// The acknowledgment number if ACK is set.
    pub fn ack(&self) -> Option<SeqNumber> {
        if self.flags.contains(TcpFlags::ACK) {
            Some(self.ack_number)
        } else {
            None
        }
    }

    /// Sets ACK and the acknowledgment number, or clears both.
    pub fn set_ack(&mut self, ack: Option<SeqNumber>) {
        match ack {
            Some(n) => {
                self.flags.insert(TcpFlags::ACK);
                self.ack_number = n;
            }
            None => {
                self.flags.remove(TcpFlags::ACK);
                self.ack_number = SeqNumber(0);
            }
        }
    }

    /// SEG.LEN: the sequence space the segment occupies (data plus SYN and
    /// FIN, RFC 9293 section 3.4).
    pub fn segment_len(&self) -> usize {
        self.payload.len() + usize::from(self.syn()) + usize::from(self.fin())
    }
}

/// Byte offsets of the TCP header fields (RFC 9293 section 3.1).
mod field {
    use core::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const SEQ_NUM: Range<usize> = 4..8;
    pub const ACK_NUM: Range<usize> = 8..12;
    /// Data offset (4 bits), reserved (3 bits), the nine flags.
    pub const FLAGS: Range<usize> = 12..14;
    pub const WINDOW: Range<usize> = 14..16;
    pub const CHECKSUM: Range<usize> = 16..18;
    pub const URGENT: Range<usize> = 18..20;
}

/// The length of a TCP header without options.
pub const HEADER_LEN: usize = 20;
/// The largest TCP header: data offset 15 words.
pub const MAX_HEADER_LEN: usize = 60;
/// The largest options area.
pub const MAX_OPTIONS_LEN: usize = MAX_HEADER_LEN - HEADER_LEN;

/// The 12 bits after the data offset: 3 reserved bits and 9 flags.
const FLAGS_RAW_MASK: u16 = 0x0fff;

/// A zero-copy view of a TCP segment: the buffer is exactly the segment
/// (the IP payload), which the checksum covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// A view of `buffer` without checking lengths; accessors may panic on
    /// a short buffer until [`check_len`](Self::check_len) has passed.
    pub const fn new_unchecked(buffer: T) -> TcpPacket<T> {
        TcpPacket { buffer }
    }

    /// A view of `buffer` whose data offset is consistent with it.
    pub fn new_checked(buffer: T) -> Result<TcpPacket<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// `Truncated` if the buffer is shorter than 20 bytes; `BadDataOffset`
    /// if the data offset is below 5 words or past the buffer.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let header_len = usize::from(self.header_len());
        if header_len < HEADER_LEN || header_len > len {
            return Err(Error::BadDataOffset);
        }
        Ok(())
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn u16_at(&self, range: ops::Range<usize>) -> u16 {
        let b = &self.buffer.as_ref()[range];
        u16::from_be_bytes([b[0], b[1]])
    }

    fn u32_at(&self, range: ops::Range<usize>) -> u32 {
        let b = &self.buffer.as_ref()[range];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    /// The source port.
    pub fn src_port(&self) -> u16 {
        self.u16_at(field::SRC_PORT)
    }

    /// The destination port.
    pub fn dst_port(&self) -> u16 {
        self.u16_at(field::DST_PORT)
    }

    /// The sequence number.
    pub fn seq_number(&self) -> SeqNumber {
        SeqNumber(self.u32_at(field::SEQ_NUM))
    }

    /// The acknowledgment number field, raw (meaningful when ACK is set).
    pub fn ack_number(&self) -> SeqNumber {
        SeqNumber(self.u32_at(field::ACK_NUM))
    }

    /// The header length in bytes (data offset * 4), options included.
    pub fn header_len(&self) -> u8 {
        (self.buffer.as_ref()[field::FLAGS.start] >> 4) * 4
    }

    /// The 12 bits after the data offset, raw: 3 reserved bits then the 9
    /// flags (AE, CWR, ECE, URG, ACK, PSH, RST, SYN, FIN).
    pub fn flags_raw(&self) -> u16 {
        self.u16_at(field::FLAGS) & FLAGS_RAW_MASK
    }

    /// The 3 reserved bits (must be zero, RFC 9293 section 3.1).
    pub fn reserved(&self) -> u8 {
        (self.flags_raw() >> 9) as u8
    }

    /// The nine flags.
    pub fn flags(&self) -> TcpFlags {
        TcpFlags::from_bits_truncate(self.flags_raw())
    }

    /// FIN.
    pub fn fin(&self) -> bool {
        self.flags().contains(TcpFlags::FIN)
    }

    /// SYN.
    pub fn syn(&self) -> bool {
        self.flags().contains(TcpFlags::SYN)
    }

    /// RST.
    pub fn rst(&self) -> bool {
        self.flags().contains(TcpFlags::RST)
    }

    /// PSH.
    pub fn psh(&self) -> bool {
        self.flags().contains(TcpFlags::PSH)
    }

    /// ACK.
    pub fn ack(&self) -> bool {
        self.flags().contains(TcpFlags::ACK)
    }

    /// URG.
    pub fn urg(&self) -> bool {
        self.flags().contains(TcpFlags::URG)
    }

    /// ECE (RFC 3168).
    pub fn ece(&self) -> bool {
        self.flags().contains(TcpFlags::ECE)
    }

    /// CWR (RFC 3168).
    pub fn cwr(&self) -> bool {
        self.flags().contains(TcpFlags::CWR)
    }

    /// AE, formerly NS.
    pub fn ae(&self) -> bool {
        self.flags().contains(TcpFlags::AE)
    }

    /// The window field, raw (before any window-scale shift).
    pub fn window_len(&self) -> u16 {
        self.u16_at(field::WINDOW)
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        self.u16_at(field::CHECKSUM)
    }

    /// The urgent pointer field.
    pub fn urgent_at(&self) -> u16 {
        self.u16_at(field::URGENT)
    }

    /// The options area: the header bytes after the fixed 20.
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..usize::from(self.header_len())]
    }

    /// An iterator over the options.
    pub fn option_iter(&self) -> TcpOptionIter<'_> {
        TcpOptionIter::new(self.options())
    }

    /// The number of payload bytes.
    pub fn payload_len(&self) -> usize {
        self.buffer.as_ref().len() - usize::from(self.header_len())
    }

    /// SEG.LEN: payload bytes plus one each for SYN and FIN.
    pub fn segment_len(&self) -> usize {
        self.payload_len() + usize::from(self.syn()) + usize::from(self.fin())
    }

    /// Whether the checksum verifies over the pseudo-header and the whole
    /// buffer (RFC 9293 section 3.1).
    pub fn verify_checksum(&self, src_addr: &IpAddress, dst_addr: &IpAddress) -> bool {
        let data = self.buffer.as_ref();
        checksum::combine(&[
            checksum::pseudo_header(src_addr, dst_addr, IpProtocol::Tcp, data.len() as u32),
            checksum::data(data),
        ]) == 0xffff
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> TcpPacket<&'a T> {
    /// The payload, with the lifetime of the underlying buffer.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[usize::from(self.header_len())..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    fn set_u16_at(&mut self, range: ops::Range<usize>, value: u16) {
        self.buffer.as_mut()[range].copy_from_slice(&value.to_be_bytes());
    }

    fn set_u32_at(&mut self, range: ops::Range<usize>, value: u32) {
        self.buffer.as_mut()[range].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the source port.
    pub fn set_src_port(&mut self, value: u16) {
        self.set_u16_at(field::SRC_PORT, value);
    }

    /// Sets the destination port.
    pub fn set_dst_port(&mut self, value: u16) {
        self.set_u16_at(field::DST_PORT, value);
    }

    /// Sets the sequence number.
    pub fn set_seq_number(&mut self, value: SeqNumber) {
        self.set_u32_at(field::SEQ_NUM, value.0);
    }

    /// Sets the acknowledgment number field.
    pub fn set_ack_number(&mut self, value: SeqNumber) {
        self.set_u32_at(field::ACK_NUM, value.0);
    }

    /// Sets the header length in bytes (stored as 4-byte words), keeping
    /// the flags.
    pub fn set_header_len(&mut self, len: u8) {
        let b = &mut self.buffer.as_mut()[field::FLAGS.start];
        *b = (*b & 0x0f) | ((len / 4) << 4);
    }

    /// Sets the 12 bits after the data offset, raw (reserved bits and
    /// flags), keeping the data offset.
    pub fn set_flags_raw(&mut self, value: u16) {
        let word = self.u16_at(field::FLAGS);
        self.set_u16_at(
            field::FLAGS,
            (word & !FLAGS_RAW_MASK) | (value & FLAGS_RAW_MASK),
        );
    }

    /// Sets the nine flags, keeping the data offset and reserved bits.
    pub fn set_flags(&mut self, flags: TcpFlags) {
        let word = self.u16_at(field::FLAGS);
        self.set_u16_at(
            field::FLAGS,
            (word & !TcpFlags::all().bits()) | flags.bits(),
        );
    }

    fn set_flag(&mut self, flag: TcpFlags, on: bool) {
        let mut flags = self.flags();
        flags.set(flag, on);
        self.set_flags(flags);
    }

    /// Sets or clears FIN.
    pub fn set_fin(&mut self, on: bool) {
        self.set_flag(TcpFlags::FIN, on);
    }

    /// Sets or clears SYN.
    pub fn set_syn(&mut self, on: bool) {
        self.set_flag(TcpFlags::SYN, on);
    }

    /// Sets or clears RST.
    pub fn set_rst(&mut self, on: bool) {
        self.set_flag(TcpFlags::RST, on);
    }

    /// Sets or clears PSH.
    pub fn set_psh(&mut self, on: bool) {
        self.set_flag(TcpFlags::PSH, on);
    }

    /// Sets or clears ACK.
    pub fn set_ack(&mut self, on: bool) {
        self.set_flag(TcpFlags::ACK, on);
    }

    /// Sets or clears URG.
    pub fn set_urg(&mut self, on: bool) {
        self.set_flag(TcpFlags::URG, on);
    }

    /// Sets or clears ECE.
    pub fn set_ece(&mut self, on: bool) {
        self.set_flag(TcpFlags::ECE, on);
    }

    /// Sets or clears CWR.
    pub fn set_cwr(&mut self, on: bool) {
        self.set_flag(TcpFlags::CWR, on);
    }

    /// Sets or clears AE.
    pub fn set_ae(&mut self, on: bool) {
        self.set_flag(TcpFlags::AE, on);
    }

    /// Sets the window field.
    pub fn set_window_len(&mut self, value: u16) {
        self.set_u16_at(field::WINDOW, value);
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        self.set_u16_at(field::CHECKSUM, value);
    }

    /// Sets the urgent pointer field.
    pub fn set_urgent_at(&mut self, value: u16) {
        self.set_u16_at(field::URGENT, value);
    }

    /// The options area, mutable.
    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.header_len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }

    /// The payload, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = usize::from(self.header_len());
        &mut self.buffer.as_mut()[start..]
    }

    /// Computes the checksum over the pseudo-header and the whole buffer and
    /// writes it.
    pub fn fill_checksum(&mut self, src_addr: &IpAddress, dst_addr: &IpAddress) {
        self.set_checksum(0);
        let data = self.buffer.as_ref();
        let sum = checksum::combine(&[
            checksum::pseudo_header(src_addr, dst_addr, IpProtocol::Tcp, data.len() as u32),
            checksum::data(data),
        ]);
        self.set_checksum(!sum);
    }
}

impl<T: AsRef<[u8]>> fmt::Display for TcpPacket<T> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if let Err(err) = self.check_len() {
            return write!(f, "TCP ({err})");
        }
        write!(
            f,
            "TCP {}>{} seq={} ack={} flags=0x{:03x} win={} len={}",
            self.src_port(),
            self.dst_port(),
            self.seq_number(),
            self.ack_number(),
            self.flags_raw(),
            self.window_len(),
            self.payload_len()
        )?;
        for option in self.option_iter() {
            match option {
                Ok(TcpOption::NoOperation) | Ok(TcpOption::EndOfList) => {}
                Ok(option) => write!(f, " {option}")?,
                Err(err) => return write!(f, " ({err})"),
            }
        }
        Ok(())
    }
}

/// How [`TcpRepr::emit`] lays out the options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OptionLayout {
    /// Linux's layout: each option padded with NOPs to 4-byte alignment.
    Aligned,
    /// No alignment padding, for option sets the aligned layout cannot fit
    /// in 40 bytes; padded at the end with EOL and zeros.
    Packed,
}

impl<'a> TcpRepr<'a> {
    /// Parses a segment whose buffer is exactly the IP payload.
    ///
    /// Fails with `Truncated` below 20 bytes, `BadDataOffset` for a data
    /// offset below 5 or past the buffer, `BadChecksum` when `caps.tcp` asks
    /// for verification and the checksum over the pseudo-header fails, and
    /// `BadOptionLength` / `OptionOverrun` for a malformed option. Unknown
    /// options are skipped by their length; options after an EOL are
    /// ignored; a repeated option keeps its last value. The reserved bits are
    /// not represented. A window scale above 14 is kept as received.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &TcpPacket<&'a T>,
        src_addr: &IpAddress,
        dst_addr: &IpAddress,
        caps: &ChecksumCapabilities,
    ) -> Result<TcpRepr<'a>> {
        packet.check_len()?;
        if caps.tcp.rx() && !packet.verify_checksum(src_addr, dst_addr) {
            return Err(Error::BadChecksum);
        }
        let mut repr = TcpRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            seq_number: packet.seq_number(),
            ack_number: packet.ack_number(),
            flags: packet.flags(),
            window_len: packet.window_len(),
            urgent_pointer: packet.urgent_at(),
            max_seg_size: None,
            window_scale: None,
            sack_permitted: false,
            sack_ranges: [None; 4],
            timestamp: None,
            payload: packet.payload(),
        };
        option::parse_into(packet.options(), &mut repr)?;
        Ok(repr)
    }

    /// The options length of each layout with `sack_count` SACK blocks.
    fn options_len(&self, layout: OptionLayout, sack_count: usize) -> usize {
        let sack_len = if sack_count > 0 {
            option::len::SACK_BASE + option::len::SACK_BLOCK * sack_count
        } else {
            0
        };
        match layout {
            OptionLayout::Aligned => {
                // SACK-permitted shares the timestamps' alignment padding
                // when both are present, as Linux lays them out.
                let sack_perm_alone = self.sack_permitted && self.timestamp.is_none();
                4 * usize::from(self.max_seg_size.is_some())
                    + 12 * usize::from(self.timestamp.is_some())
                    + 4 * usize::from(sack_perm_alone)
                    + 4 * usize::from(self.window_scale.is_some())
                    + if sack_count > 0 { 2 + sack_len } else { 0 }
            }
            OptionLayout::Packed => {
                let len = option::len::MAX_SEG_SIZE * usize::from(self.max_seg_size.is_some())
                    + option::len::WINDOW_SCALE * usize::from(self.window_scale.is_some())
                    + option::len::SACK_PERMITTED * usize::from(self.sack_permitted)
                    + option::len::TIMESTAMP * usize::from(self.timestamp.is_some())
                    + sack_len;
                len.next_multiple_of(4)
            }
        }
    }

    /// The layout, number of SACK blocks and options length `emit` uses:
    /// Linux's aligned layout when it fits in 40 bytes, else the packed one,
    /// else as many SACK blocks as fit (the first ones, which RFC 2018
    /// section 4 says report the most recent data).
    #[inline]
    fn options_plan(&self) -> OptionsPlan {
        let mut sack_count = self.sack_ranges.iter().filter(|r| r.is_some()).count();
        if sack_count == 0 {
            // MSS, timestamps, SACK-permitted and window scale take at most
            // 4 + 12 + 4 bytes aligned: the common case needs no search.
            return OptionsPlan {
                layout: OptionLayout::Aligned,
                sack_count: 0,
                len: self.options_len(OptionLayout::Aligned, 0),
            };
        }
        loop {
            for layout in [OptionLayout::Aligned, OptionLayout::Packed] {
                let len = self.options_len(layout, sack_count);
                if len <= MAX_OPTIONS_LEN {
                    return OptionsPlan {
                        layout,
                        sack_count,
                        len,
                    };
                }
            }
            // Without SACK blocks the options take at most 4 + 12 + 4 bytes
            // (aligned), so the loop ends by sack_count 0.
            sack_count = sack_count.saturating_sub(1);
        }
    }

    /// The header length `emit` writes: 20 bytes plus the options.
    #[inline]
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options_plan().len
    }

    /// The number of bytes `emit` writes: header and payload.
    #[inline]
    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.payload.len()
    }

    /// Writes the options into `out`, exactly `plan.len` bytes long.
    #[inline]
    fn emit_options(&self, plan: OptionsPlan, out: &mut [u8]) {
        // The first `sack_count` blocks in use, packed at the front.
        let mut sack = [None; 4];
        for (slot, range) in sack
            .iter_mut()
            .zip(self.sack_ranges.iter().flatten())
            .take(plan.sack_count)
        {
            *slot = Some(*range);
        }
        match plan.layout {
            OptionLayout::Aligned => {
                // Linux (tcp_options_write): MSS; SACK-permitted folded into
                // the timestamps' padding; SACK-permitted alone after two
                // NOPs; NOP + window scale; two NOPs + SACK blocks. Every
                // piece is 4-byte aligned, so each is one fixed-size store.
                let mut at = 0;
                let mut put = |bytes: &[u8]| {
                    out[at..at + bytes.len()].copy_from_slice(bytes);
                    at += bytes.len();
                };
                if let Some(mss) = self.max_seg_size {
                    let [hi, lo] = mss.to_be_bytes();
                    put(&[option::kind::MAX_SEG_SIZE, 4, hi, lo]);
                }
                if let Some(ts) = self.timestamp {
                    let mut bytes = [0u8; 12];
                    bytes[..4].copy_from_slice(if self.sack_permitted {
                        &[option::kind::SACK_PERMITTED, 2, option::kind::TIMESTAMP, 10]
                    } else {
                        &[option::kind::NO_OPERATION, 1, option::kind::TIMESTAMP, 10]
                    });
                    bytes[4..8].copy_from_slice(&ts.tsval.to_be_bytes());
                    bytes[8..].copy_from_slice(&ts.tsecr.to_be_bytes());
                    put(&bytes);
                } else if self.sack_permitted {
                    put(&[1, 1, option::kind::SACK_PERMITTED, 2]);
                }
                if let Some(shift) = self.window_scale {
                    put(&[1, option::kind::WINDOW_SCALE, 3, shift]);
                }
                if plan.sack_count > 0 {
                    let sack_len = (2 + 8 * plan.sack_count) as u8;
                    put(&[1, 1, option::kind::SACK_RANGE, sack_len]);
                    for range in sack.iter().flatten() {
                        let mut block = [0u8; 8];
                        block[..4].copy_from_slice(&range.left.0.to_be_bytes());
                        block[4..].copy_from_slice(&range.right.0.to_be_bytes());
                        put(&block);
                    }
                }
            }
            OptionLayout::Packed => {
                let mut rest: &mut [u8] = out;
                if let Some(mss) = self.max_seg_size {
                    rest = TcpOption::MaxSegmentSize(mss).emit(rest);
                }
                if let Some(shift) = self.window_scale {
                    rest = TcpOption::WindowScale(shift).emit(rest);
                }
                if self.sack_permitted {
                    rest = TcpOption::SackPermitted.emit(rest);
                }
                if let Some(ts) = self.timestamp {
                    rest = TcpOption::Timestamp(ts).emit(rest);
                }
                if plan.sack_count > 0 {
                    rest = TcpOption::SackRange(sack).emit(rest);
                }
                // EOL, then zero padding (RFC 9293 section 3.1).
                rest.fill(0);
            }
        }
    }

    /// Writes the segment into `packet`, whose buffer must hold at least
    /// [`buffer_len`](Self::buffer_len) bytes (the caller sizes it; a shorter
    /// buffer is a caller bug and panics). Exactly `buffer_len` bytes are
    /// written and covered by the checksum, which is filled when `caps.tcp`
    /// says software transmits it (else left zero for the device).
    ///
    /// Options are laid out as Linux lays them out, so that parsing and
    /// re-emitting a Linux segment gives the same bytes: MSS; SACK-permitted
    /// and timestamps as `04 02 08 0a ...` (or `01 01 08 0a ...` without
    /// SACK-permitted, or `01 01 04 02` without timestamps); `01 03 03 ws`;
    /// `01 01 05 ...` SACK blocks. An option set that does not fit 40 bytes
    /// that way is packed without alignment, and SACK blocks that fit in
    /// neither layout are dropped from the end.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut TcpPacket<T>,
        src_addr: &IpAddress,
        dst_addr: &IpAddress,
        caps: &ChecksumCapabilities,
    ) {
        let plan = self.options_plan();
        let header_len = HEADER_LEN + plan.len;
        let total_len = header_len + self.payload.len();
        let segment = &mut packet.buffer.as_mut()[..total_len];
        let (header, payload) = segment.split_at_mut(header_len);
        let (fixed, options) = header.split_at_mut(HEADER_LEN);

        fixed[field::SRC_PORT].copy_from_slice(&self.src_port.to_be_bytes());
        fixed[field::DST_PORT].copy_from_slice(&self.dst_port.to_be_bytes());
        fixed[field::SEQ_NUM].copy_from_slice(&self.seq_number.0.to_be_bytes());
        fixed[field::ACK_NUM].copy_from_slice(&self.ack_number.0.to_be_bytes());
        // header_len <= 60, so the data offset fits its 4 bits.
        let offset_flags = ((header_len as u16 / 4) << 12) | self.flags.bits();
        fixed[field::FLAGS].copy_from_slice(&offset_flags.to_be_bytes());
        fixed[field::WINDOW].copy_from_slice(&self.window_len.to_be_bytes());
        fixed[field::CHECKSUM].copy_from_slice(&[0, 0]);
        fixed[field::URGENT].copy_from_slice(&self.urgent_pointer.to_be_bytes());
        self.emit_options(plan, options);
        payload.copy_from_slice(self.payload);

        if caps.tcp.tx() {
            let sum = checksum::combine(&[
                checksum::pseudo_header(src_addr, dst_addr, IpProtocol::Tcp, total_len as u32),
                checksum::data(segment),
            ]);
            segment[field::CHECKSUM].copy_from_slice(&(!sum).to_be_bytes());
        }
    }
}

/// The outcome of [`TcpRepr::options_plan`].
#[derive(Debug, Clone, Copy)]
struct OptionsPlan {
    layout: OptionLayout,
    sack_count: usize,
    /// The options length, a multiple of 4, at most 40.
    len: usize,
}

impl fmt::Display for TcpRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "TCP {}>{} seq={}",
            self.src_port, self.dst_port, self.seq_number
        )?;
        if let Some(ack) = self.ack() {
            write!(f, " ack={ack}")?;
        }
        write!(f, " win={}", self.window_len)?;
        for (flag, name) in [
            (TcpFlags::SYN, " syn"),
            (TcpFlags::FIN, " fin"),
            (TcpFlags::RST, " rst"),
            (TcpFlags::PSH, " psh"),
            (TcpFlags::URG, " urg"),
            (TcpFlags::ECE, " ece"),
            (TcpFlags::CWR, " cwr"),
            (TcpFlags::AE, " ae"),
        ] {
            if self.flags.contains(flag) {
                f.write_str(name)?;
            }
        }
        write!(f, " len={}", self.payload.len())?;
        if let Some(mss) = self.max_seg_size {
            write!(f, " mss={mss}")?;
        }
        if let Some(shift) = self.window_scale {
            write!(f, " ws={shift}")?;
        }
        if self.sack_permitted {
            f.write_str(" sackOK")?;
        }
        if let Some(ts) = self.timestamp {
            write!(f, " ts={}/{}", ts.tsval, ts.tsecr)?;
        }
        for range in self.sack_ranges.iter().flatten() {
            write!(f, " sack={}:{}", range.left, range.right)?;
        }
        Ok(())
    }
}
