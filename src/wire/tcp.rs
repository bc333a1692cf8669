//! TCP segments (RFC 9293 section 3.1) and options (RFC 9293 section 3.2,
//! RFC 7323, RFC 2018).

use core::{cmp, fmt, ops};

/// A TCP sequence number: arithmetic modulo 2^32 (RFC 9293 section 3.4).
///
/// Ordering compares by the sign of the wrapping difference, so it is correct
/// across the 2^32 wrap for numbers less than 2^31 apart (which is all TCP
/// ever compares). It is not a total order over all of `u32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
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

/// The timestamps option (RFC 7323 section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpTimestamp {
    /// TSval: the sender's timestamp clock.
    pub tsval: u32,
    /// TSecr: the echoed timestamp.
    pub tsecr: u32,
}

/// One SACK block (RFC 2018): the peer holds `[left, right)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
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
