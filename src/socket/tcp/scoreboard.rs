//! The sender's scoreboard: what the peer holds (RFC 2018 SACK blocks) and
//! what was sent when (the per-segment records RACK needs, RFC 8985), with
//! RFC 6675's IsLost, pipe and NextSeg on top.
//!
//! Both parts are fixed-size arrays: no allocation, bounded work per ACK.
//!
//! - [`SackRanges`] keeps up to [`SACK_RANGES`] disjoint ranges above
//!   SND.UNA. When a block would need one more range, the range farthest
//!   from SND.UNA is forgotten (or the new block, if it is the farthest):
//!   loss recovery works from SND.UNA upwards, and forgetting a range only
//!   ever makes the sender believe the peer holds less than it does, never
//!   more, so nothing is freed or skipped that the peer lacks.
//! - [`SentLog`] keeps one record per transmitted segment of at most one
//!   MSS, in sequence order, from SND.UNA to SND.MAX: when it was last
//!   sent, whether it was retransmitted, marked lost, or SACKed. When it is
//!   full, new data waits (as it would for a closed window) until an ACK
//!   frees records (should some be sent anyway, after a rewind, they join
//!   the last record); retransmissions need a record only to split one
//!   they cover in part.
//!
//! Nothing here frees data: the send buffer is only released when SND.UNA
//! passes it (RFC 2018 section 8, reneging).

use crate::time::Instant;
use crate::wire::SeqNumber;

/// How many disjoint SACKed ranges the scoreboard remembers.
pub const SACK_RANGES: usize = 16;

/// How many transmitted-segment records a connection keeps (17 bytes
/// each): a flight of this many segments is tracked, 185 KB at a 1448-byte
/// MSS, more than a 100 Mbit/s path with a 10 ms RTT holds; more new data
/// waits for ACKs to free records.
pub const SENT_LOG_CAPACITY: usize = 128;

/// RFC 6675 section 2's DupThresh.
pub const DUP_THRESH: usize = 3;

/// A SACK block checked against the send sequence space (RFC 2883 section
/// 4 and the checks Linux's `tcp_is_sackblock_valid` makes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SackBlock {
    /// Data above SND.UNA the peer holds (clipped to start at SND.UNA).
    Sacked(SeqNumber, SeqNumber),
    /// Entirely below SND.UNA: only meaningful as a D-SACK.
    BelowUna(SeqNumber, SeqNumber),
    /// Empty, reversed, or beyond SND.MAX: ignored.
    Invalid,
}

/// Classifies a received SACK block `[left, right)` against
/// `[snd_una, snd_max)`. A block reaching past SND.MAX cannot describe data
/// we sent and is ignored whole, as is one longer than what is in flight
/// below SND.UNA's 2^31 horizon.
pub fn classify_block(
    left: SeqNumber,
    right: SeqNumber,
    snd_una: SeqNumber,
    snd_max: SeqNumber,
) -> SackBlock {
    if left >= right || right > snd_max {
        return SackBlock::Invalid;
    }
    if right <= snd_una {
        // Older than anything in flight by more than half the sequence
        // space would compare the other way; the left < right check above
        // keeps the block itself shorter than 2^31.
        return SackBlock::BelowUna(left, right);
    }
    SackBlock::Sacked(left.max(snd_una), right)
}

/// The disjoint, sorted ranges of sequence space above SND.UNA that the
/// peer has reported holding (RFC 2018).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SackRanges {
    ranges: [(SeqNumber, SeqNumber); SACK_RANGES],
    len: usize,
}

impl Default for SackRanges {
    fn default() -> Self {
        Self::new()
    }
}

impl SackRanges {
    /// No ranges.
    pub const fn new() -> Self {
        SackRanges {
            ranges: [(SeqNumber(0), SeqNumber(0)); SACK_RANGES],
            len: 0,
        }
    }

    /// Forgets every range (reneging, RFC 2018 section 8).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Whether no range is held.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The ranges, lowest first.
    pub fn iter(&self) -> impl Iterator<Item = (SeqNumber, SeqNumber)> + '_ {
        self.ranges[..self.len].iter().copied()
    }

    /// Total SACKed bytes.
    pub fn sacked_bytes(&self) -> usize {
        self.iter().map(|(l, r)| r - l).sum()
    }

    /// The highest SACKed sequence number (one past it), if any.
    pub fn highest(&self) -> Option<SeqNumber> {
        self.len.checked_sub(1).map(|i| self.ranges[i].1)
    }

    /// Adds `[left, right)`, merging with ranges it touches; returns how
    /// many bytes were not SACKed before. The caller has validated the
    /// block ([`classify_block`]). When the ranges are all in use and the
    /// block touches none, the range farthest from SND.UNA is dropped to
    /// make room, or the block itself if it would be that range.
    pub fn insert(&mut self, left: SeqNumber, right: SeqNumber) -> usize {
        if left >= right {
            return 0;
        }
        let before = self.sacked_bytes();
        let (mut lo, mut hi) = (left, right);
        // Ranges that overlap or touch [lo, hi) are absorbed into it.
        let mut first = self.len;
        let mut last = 0;
        for (i, &(l, r)) in self.ranges[..self.len].iter().enumerate() {
            if l <= hi && r >= lo {
                first = first.min(i);
                last = i;
                lo = lo.min(l);
                hi = hi.max(r);
            }
        }
        if first < self.len {
            self.ranges[first] = (lo, hi);
            let removed = last - first;
            self.ranges.copy_within(last + 1..self.len, first + 1);
            self.len -= removed;
        } else {
            let at = self.ranges[..self.len]
                .iter()
                .position(|&(l, _)| l > hi)
                .unwrap_or(self.len);
            if self.len == SACK_RANGES {
                if at == SACK_RANGES {
                    return 0;
                }
                // Forget the highest range: the new block is nearer SND.UNA.
                self.len -= 1;
            }
            self.ranges.copy_within(at..self.len, at + 1);
            self.ranges[at] = (lo, hi);
            self.len += 1;
        }
        self.sacked_bytes().saturating_sub(before)
    }

    /// SND.UNA moved to `una`: ranges below it go, one across it is cut.
    pub fn advance(&mut self, una: SeqNumber) {
        let keep_from = self.ranges[..self.len]
            .iter()
            .position(|&(_, r)| r > una)
            .unwrap_or(self.len);
        self.ranges.copy_within(keep_from..self.len, 0);
        self.len -= keep_from;
        if let Some(first) = self.ranges[..self.len].first_mut() {
            first.0 = first.0.max(una);
        }
    }

    /// Bytes of `[left, right)` that are SACKed.
    pub fn sacked_in(&self, left: SeqNumber, right: SeqNumber) -> usize {
        self.iter().map(|(l, r)| r.min(right) - l.max(left)).sum()
    }

    /// Whether all of `[left, right)` is SACKed.
    pub fn covers(&self, left: SeqNumber, right: SeqNumber) -> bool {
        self.iter().any(|(l, r)| l <= left && right <= r)
    }

    /// SACKed bytes above `seq` (RFC 6675 IsLost's byte test).
    pub fn sacked_above(&self, seq: SeqNumber) -> usize {
        self.iter().map(|(l, r)| r - l.max(seq)).sum()
    }

    /// The first part of `[left, right)` that is not SACKed, if any.
    pub fn first_hole_in(
        &self,
        left: SeqNumber,
        right: SeqNumber,
    ) -> Option<(SeqNumber, SeqNumber)> {
        let mut start = left;
        for (l, r) in self.iter() {
            if r <= start {
                continue;
            }
            if l > start {
                return Some((start, l.min(right)));
            }
            start = r;
            if start >= right {
                return None;
            }
        }
        (start < right).then_some((start, right))
    }
}

/// Flags of a [`SentSegment`].
/// Marked lost (the copy sent before the mark has left the network).
const LOST: u8 = 1;
/// A retransmission of it is in flight.
const RETRANSMITTED: u8 = 2;
/// Wholly SACKed.
const SACKED: u8 = 4;
/// Sent more than once (RTT samples from it are ambiguous).
const EVER_RETRANSMITTED: u8 = 8;

/// One transmitted segment: its end (its start is the previous record's
/// end, or the log's start), when it was last sent, and its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SentSegment {
    end: SeqNumber,
    /// The connection's transmission count when it was last sent: orders
    /// transmissions made at the same instant (a virtual clock, or one
    /// burst), which RFC 8985 otherwise orders by sequence number, wrongly
    /// for a retransmission sent after higher new data.
    order: u32,
    sent: Instant,
    flags: u8,
}

/// A view of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentInfo {
    /// First sequence number.
    pub start: SeqNumber,
    /// One past the last sequence number.
    pub end: SeqNumber,
    /// When it was last (re)transmitted.
    pub sent: Instant,
    /// Transmission order of that last send (wrapping; later is larger).
    pub order: u32,
    /// Marked lost: the copy sent before the mark has left the network.
    pub lost: bool,
    /// A retransmission is in flight (sent, not marked lost since).
    pub retransmitted: bool,
    /// Sent more than once.
    pub ever_retransmitted: bool,
    /// Wholly SACKed.
    pub sacked: bool,
}

/// The records' storage, one array per field (17 bytes a record, where
/// an array of [`SentSegment`] would pad each to 24).
#[derive(Debug, Clone)]
struct Records {
    end: [SeqNumber; SENT_LOG_CAPACITY],
    order: [u32; SENT_LOG_CAPACITY],
    sent: [Instant; SENT_LOG_CAPACITY],
    flags: [u8; SENT_LOG_CAPACITY],
}

impl Records {
    fn get(&self, slot: usize) -> SentSegment {
        SentSegment {
            end: self.end[slot],
            order: self.order[slot],
            sent: self.sent[slot],
            flags: self.flags[slot],
        }
    }

    fn set(&mut self, slot: usize, r: SentSegment) {
        self.end[slot] = r.end;
        self.order[slot] = r.order;
        self.sent[slot] = r.sent;
        self.flags[slot] = r.flags;
    }
}

/// The transmitted segments from SND.UNA to SND.MAX, in sequence order
/// (a ring: records are appended at SND.MAX and freed at SND.UNA).
#[derive(Debug, Clone)]
pub struct SentLog {
    start: SeqNumber,
    /// The next transmission's order number.
    next_order: u32,
    records: Records,
    head: usize,
    len: usize,
}

impl SentLog {
    /// An empty log whose first segment will start at `start`.
    pub const fn new(start: SeqNumber) -> Self {
        SentLog {
            start,
            next_order: 0,
            records: Records {
                end: [SeqNumber(0); SENT_LOG_CAPACITY],
                order: [0; SENT_LOG_CAPACITY],
                sent: [Instant::ZERO; SENT_LOG_CAPACITY],
                flags: [0; SENT_LOG_CAPACITY],
            },
            head: 0,
            len: 0,
        }
    }

    /// Empties the log; the next segment starts at `start`.
    pub fn reset(&mut self, start: SeqNumber) {
        self.start = start;
        self.head = 0;
        self.len = 0;
    }

    /// Records held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many more new segments can be recorded.
    pub fn free(&self) -> usize {
        SENT_LOG_CAPACITY - self.len
    }

    /// One past the last recorded sequence number (SND.MAX once data
    /// flows).
    pub fn end(&self) -> SeqNumber {
        match self.len {
            0 => self.start,
            n => self.record(n - 1).end,
        }
    }

    fn slot(&self, i: usize) -> usize {
        (self.head + i) % SENT_LOG_CAPACITY
    }

    fn record(&self, i: usize) -> SentSegment {
        self.records.get(self.slot(i))
    }

    /// Applies `change` to record `i`.
    fn update(&mut self, i: usize, change: impl FnOnce(&mut SentSegment)) {
        let slot = self.slot(i);
        let mut r = self.records.get(slot);
        change(&mut r);
        self.records.set(slot, r);
    }

    fn start_of(&self, i: usize) -> SeqNumber {
        if i == 0 {
            self.start
        } else {
            self.record(i - 1).end
        }
    }

    /// Record `i` (0 is the lowest).
    pub fn get(&self, i: usize) -> Option<SegmentInfo> {
        if i >= self.len {
            return None;
        }
        let r = self.record(i);
        Some(SegmentInfo {
            start: self.start_of(i),
            end: r.end,
            sent: r.sent,
            order: r.order,
            lost: r.flags & LOST != 0,
            retransmitted: r.flags & RETRANSMITTED != 0,
            ever_retransmitted: r.flags & EVER_RETRANSMITTED != 0,
            sacked: r.flags & SACKED != 0,
        })
    }

    /// Every record, lowest first.
    pub fn iter(&self) -> impl Iterator<Item = SegmentInfo> + '_ {
        (0..self.len).filter_map(|i| self.get(i))
    }

    /// New data up to `end` was sent at `now`, from the log's end, in
    /// segments of at most `mss`: appends one record per segment.
    ///
    /// Callers size new data by [`SentLog::free`]. Should more arrive than
    /// fits, the rest joins the last record (timed now, not SACKed), so the
    /// log still covers everything in flight, only more coarsely; returns
    /// `false` then.
    pub fn on_new_data(
        &mut self,
        start: SeqNumber,
        end: SeqNumber,
        mss: usize,
        now: Instant,
    ) -> bool {
        let mss = mss.max(1);
        debug_assert!(start <= self.end(), "new data leaves a gap in the log");
        let mut at = self.end();
        while at < end {
            if self.len == SENT_LOG_CAPACITY {
                let order = self.next_order;
                self.next_order = self.next_order.wrapping_add(1);
                self.update(SENT_LOG_CAPACITY - 1, |last| {
                    last.end = end;
                    last.sent = now;
                    last.order = order;
                    last.flags &= !SACKED;
                });
                return false;
            }
            let seg_end = (at + mss).min(end);
            let slot = self.slot(self.len);
            self.records.set(
                slot,
                SentSegment {
                    end: seg_end,
                    order: self.next_order,
                    sent: now,
                    flags: 0,
                },
            );
            self.next_order = self.next_order.wrapping_add(1);
            self.len += 1;
            at = seg_end;
        }
        true
    }

    /// `[start, end)` was sent again at `now`: every record it overlaps has
    /// a retransmission in flight, timed from now.
    ///
    /// A retransmission that covers only part of a record (a smaller MSS
    /// now, or the ring buffer's wrap) splits it when a record is free, so
    /// the rest is still known to need resending; without a free record
    /// the whole record counts as resent, and RACK or the RTO find the
    /// rest lost later.
    pub fn on_retransmit(&mut self, start: SeqNumber, end: SeqNumber, now: Instant) {
        let mut i = 0;
        while i < self.len {
            let seg_start = self.start_of(i);
            if seg_start >= end {
                break;
            }
            let seg_end = self.record(i).end;
            if seg_end > start {
                if seg_start < start {
                    self.split(i, start);
                    i += 1;
                    continue;
                }
                if end < seg_end {
                    self.split(i, end);
                }
                let order = self.next_order;
                self.next_order = self.next_order.wrapping_add(1);
                self.update(i, |r| {
                    r.flags |= RETRANSMITTED | EVER_RETRANSMITTED;
                    r.sent = now;
                    r.order = order;
                });
            }
            i += 1;
        }
    }

    /// Splits record `i` at `at` (inside it) into two with the same
    /// state, if a record is free.
    fn split(&mut self, i: usize, at: SeqNumber) -> bool {
        if self.len == SENT_LOG_CAPACITY || i >= self.len {
            return false;
        }
        // Shift records i.. up by one (a ring, so slot by slot).
        let mut j = self.len;
        while j > i {
            let from = self.slot(j - 1);
            let to = self.slot(j);
            let r = self.records.get(from);
            self.records.set(to, r);
            j -= 1;
        }
        self.len += 1;
        // Record i keeps [start, at); record i + 1 keeps [at, end).
        self.update(i, |r| r.end = at);
        true
    }

    /// SND.UNA moved to `una`: records wholly below it go; those not
    /// SACKed before (newly delivered, for RACK) are passed to
    /// `delivered`.
    pub fn advance(&mut self, una: SeqNumber, mut delivered: impl FnMut(SegmentInfo)) {
        while self.len > 0 {
            let Some(first) = self.get(0) else { break };
            if first.end > una {
                break;
            }
            if !first.sacked {
                delivered(first);
            }
            self.start = first.end;
            self.head = self.slot(1);
            self.len -= 1;
        }
        if self.start < una {
            self.start = una.min(self.end());
        }
        if self.len == 0 {
            // Nothing left in flight: the next segment starts at `una`.
            self.start = una;
        }
    }

    /// Marks the records wholly covered by `sacked` as SACKed (and not
    /// lost); calls `delivered` with each one newly SACKed.
    pub fn mark_sacked(&mut self, sacked: &SackRanges, mut delivered: impl FnMut(SegmentInfo)) {
        for i in 0..self.len {
            let Some(info) = self.get(i) else { break };
            if info.sacked || !sacked.covers(info.start, info.end) {
                continue;
            }
            self.update(i, |r| {
                r.flags = (r.flags | SACKED) & !(LOST | RETRANSMITTED)
            });
            delivered(info);
        }
    }

    /// Forgets every SACKed mark (reneging).
    pub fn clear_sacked(&mut self) {
        for i in 0..self.len {
            self.update(i, |r| r.flags &= !SACKED);
        }
    }

    /// Marks record `i` lost (if not SACKed): its last copy, original or
    /// retransmission, has left the network and it is due to be sent
    /// again. Returns whether anything changed.
    pub fn mark_lost(&mut self, i: usize) -> bool {
        if i >= self.len {
            return false;
        }
        let flags = self.record(i).flags;
        if flags & SACKED != 0 || (flags & LOST != 0 && flags & RETRANSMITTED == 0) {
            return false;
        }
        self.update(i, |r| r.flags = (flags | LOST) & !RETRANSMITTED);
        true
    }

    /// Marks every record not SACKed as lost (RFC 8985 section 6.3, on an
    /// RTO); returns how many were newly marked.
    pub fn mark_all_lost(&mut self) -> usize {
        (0..self.len).filter(|&i| self.mark_lost(i)).count()
    }

    /// Clears every lost mark (undo of a spurious recovery).
    pub fn clear_lost(&mut self) {
        for i in 0..self.len {
            self.update(i, |r| r.flags &= !LOST);
        }
    }

    /// RFC 6675 section 4's IsLost(seq): DupThresh whole segments SACKed
    /// above `seq`, or more than (DupThresh - 1) * SMSS SACKed bytes above.
    pub fn is_lost(&self, sacked: &SackRanges, seq: SeqNumber, smss: usize) -> bool {
        let segments = self.iter().filter(|s| s.sacked && s.start > seq).count();
        segments >= DUP_THRESH
            || sacked.sacked_above(seq + 1) > (DUP_THRESH - 1).saturating_mul(smss)
    }

    /// RFC 6675 section 4's pipe: for each byte not SACKed, one if it is
    /// not lost (a lost byte has left the network) plus one if it was
    /// retransmitted (the copy is in flight), as Linux's
    /// `tcp_packets_in_flight` counts segments.
    pub fn pipe(&self, sacked: &SackRanges) -> usize {
        self.iter()
            .filter(|s| !s.sacked)
            .map(|s| {
                let outstanding = (s.end - s.start) - sacked.sacked_in(s.start, s.end);
                // The original counts unless marked lost; a retransmission
                // in flight is one more copy.
                outstanding * (usize::from(!s.lost) + usize::from(s.retransmitted))
            })
            .sum()
    }

    /// RFC 6675 section 4's NextSeg rule (1) as RACK drives it: the first
    /// part not SACKed of the lowest segment marked lost, at most `mss`
    /// bytes. Rules (2) (new data) and (3) (rescue of unSACKed data) are
    /// the caller's; rule (4) is the caller not sending.
    pub fn next_lost(&self, sacked: &SackRanges, mss: usize) -> Option<(SeqNumber, SeqNumber)> {
        self.iter()
            .filter(|s| s.lost && !s.retransmitted && !s.sacked)
            .find_map(|s| {
                let (l, r) = sacked.first_hole_in(s.start, s.end)?;
                Some((l, r.min(l + mss.max(1))))
            })
    }

    /// RFC 6675 NextSeg rule (3): the lowest segment not SACKed, never
    /// retransmitted and not lost, that lies below the highest SACKed
    /// byte.
    pub fn next_rescue(&self, sacked: &SackRanges, mss: usize) -> Option<(SeqNumber, SeqNumber)> {
        let high = sacked.highest()?;
        self.iter()
            .filter(|s| !s.sacked && !s.lost && !s.ever_retransmitted && s.end <= high)
            .find_map(|s| {
                let (l, r) = sacked.first_hole_in(s.start, s.end)?;
                Some((l, r.min(l + mss.max(1))))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Duration;

    fn s(n: u32) -> SeqNumber {
        SeqNumber(n)
    }

    fn ranges(r: &SackRanges) -> std::vec::Vec<(u32, u32)> {
        r.iter().map(|(l, r)| (l.0, r.0)).collect()
    }

    extern crate std;

    #[test]
    fn blocks_are_validated_against_the_send_space() {
        let (una, max) = (s(1000), s(5000));
        assert_eq!(
            classify_block(s(2000), s(3000), una, max),
            SackBlock::Sacked(s(2000), s(3000))
        );
        // Straddling SND.UNA: clipped.
        assert_eq!(
            classify_block(s(500), s(1500), una, max),
            SackBlock::Sacked(s(1000), s(1500))
        );
        assert_eq!(
            classify_block(s(500), s(1000), una, max),
            SackBlock::BelowUna(s(500), s(1000))
        );
        // Past SND.MAX, empty, reversed.
        assert_eq!(
            classify_block(s(4000), s(5001), una, max),
            SackBlock::Invalid
        );
        assert_eq!(
            classify_block(s(2000), s(2000), una, max),
            SackBlock::Invalid
        );
        assert_eq!(
            classify_block(s(3000), s(2000), una, max),
            SackBlock::Invalid
        );
        // Across the sequence wrap.
        let (una, max) = (s(u32::MAX - 1000), s(4000));
        assert_eq!(
            classify_block(s(u32::MAX - 10), s(100), una, max),
            SackBlock::Sacked(s(u32::MAX - 10), s(100))
        );
    }

    #[test]
    fn ranges_merge_and_count_new_bytes() {
        let mut r = SackRanges::new();
        assert_eq!(r.insert(s(300), s(400)), 100);
        assert_eq!(r.insert(s(100), s(200)), 100);
        assert_eq!(ranges(&r), [(100, 200), (300, 400)]);
        // Again: nothing new.
        assert_eq!(r.insert(s(100), s(200)), 0);
        // Bridging both, touching edges.
        assert_eq!(r.insert(s(150), s(350)), 100);
        assert_eq!(ranges(&r), [(100, 400)]);
        assert_eq!(r.insert(s(400), s(500)), 100);
        assert_eq!(ranges(&r), [(100, 500)]);
        assert_eq!(r.sacked_bytes(), 400);
        assert_eq!(r.highest(), Some(s(500)));
        r.advance(s(250));
        assert_eq!(ranges(&r), [(250, 500)]);
        r.advance(s(600));
        assert!(r.is_empty());
    }

    #[test]
    fn queries() {
        let mut r = SackRanges::new();
        r.insert(s(200), s(300));
        r.insert(s(400), s(500));
        assert_eq!(r.sacked_in(s(250), s(450)), 100);
        assert!(r.covers(s(210), s(300)));
        assert!(!r.covers(s(210), s(310)));
        assert_eq!(r.sacked_above(s(250)), 150);
        assert_eq!(r.first_hole_in(s(100), s(600)), Some((s(100), s(200))));
        assert_eq!(r.first_hole_in(s(200), s(600)), Some((s(300), s(400))));
        assert_eq!(r.first_hole_in(s(400), s(500)), None);
        assert_eq!(r.first_hole_in(s(450), s(600)), Some((s(500), s(600))));
    }

    /// A full scoreboard keeps the ranges nearest SND.UNA and never claims
    /// a byte the peer did not report.
    #[test]
    fn a_full_scoreboard_keeps_the_lowest_ranges() {
        let mut r = SackRanges::new();
        for i in 0..SACK_RANGES as u32 {
            assert_eq!(r.insert(s(1000 + i * 100), s(1050 + i * 100)), 50);
        }
        let full = ranges(&r);
        // A new block above every range is dropped.
        assert_eq!(r.insert(s(9000), s(9050)), 0);
        assert_eq!(ranges(&r), full);
        // A new block below: the highest range goes.
        assert_eq!(r.insert(s(500), s(550)), 0, "50 in, 50 forgotten");
        assert_eq!(r.iter().count(), SACK_RANGES);
        assert_eq!(r.iter().next(), Some((s(500), s(550))));
        assert_eq!(r.highest(), Some(s(1050 + 14 * 100)));
        // A block merging into a range needs no room.
        assert_eq!(r.insert(s(550), s(600)), 50);
        // Every byte reported held was really reported.
        for (l, rr) in r.iter() {
            assert!(
                (l.0 >= 500 && rr.0 <= 600) || full.iter().any(|&(fl, fr)| fl <= l.0 && rr.0 <= fr)
            );
        }
    }

    #[test]
    fn ranges_across_the_wrap() {
        let mut r = SackRanges::new();
        r.insert(s(u32::MAX - 99), s(100));
        r.insert(s(u32::MAX - 299), s(u32::MAX - 199));
        assert_eq!(
            ranges(&r),
            [(u32::MAX - 299, u32::MAX - 199), (u32::MAX - 99, 100)]
        );
        assert_eq!(r.sacked_bytes(), 300);
        r.advance(s(50));
        assert_eq!(ranges(&r), [(50, 100)]);
    }

    fn log_of(segments: u32, mss: u32) -> SentLog {
        let mut log = SentLog::new(s(1000));
        assert!(log.on_new_data(
            s(1000),
            s(1000 + segments * mss),
            mss as usize,
            Instant::ZERO
        ));
        log
    }

    #[test]
    fn log_records_segments_and_frees_at_una() {
        let mut log = log_of(4, 100);
        assert_eq!(log.len(), 4);
        assert_eq!(log.end(), s(1400));
        // Only whole segments below SND.UNA are freed.
        let mut acked = std::vec::Vec::new();
        log.advance(s(1150), |seg| acked.push(seg.end.0));
        assert_eq!(acked, [1100]);
        assert_eq!(log.get(0).unwrap().start, s(1150));
        log.advance(s(1400), |seg| acked.push(seg.end.0));
        assert_eq!(acked, [1100, 1200, 1300, 1400]);
        assert!(log.is_empty());
        assert!(log.on_new_data(s(1400), s(1450), 100, Instant::ZERO));
        assert_eq!(log.end(), s(1450));
    }

    #[test]
    /// A full log holds new data back (the sender sizes by `free`); data
    /// sent anyway joins the last record, so the log never loses track.
    fn a_full_log_grows_its_last_record() {
        let mut log = SentLog::new(s(0));
        assert!(log.on_new_data(s(0), s(SENT_LOG_CAPACITY as u32 * 10), 10, Instant::ZERO));
        assert_eq!(log.free(), 0);
        let end = log.end();
        // More than fits: the last record grows to cover it.
        assert!(!log.on_new_data(end, end + 10, 10, Instant::ZERO));
        assert_eq!(log.end(), end + 10);
        assert_eq!(log.len(), SENT_LOG_CAPACITY);
        let last = log.get(SENT_LOG_CAPACITY - 1).unwrap();
        assert_eq!((last.start, last.end), (end - 10, end + 10));
        let end = log.end();
        // Retransmissions need no record.
        log.mark_lost(0);
        log.on_retransmit(s(0), s(10), Instant::ZERO + Duration::from_millis(1));
        assert_eq!(log.len(), SENT_LOG_CAPACITY);
        assert!(log.get(0).unwrap().retransmitted);
        log.advance(s(10), |_| {});
        assert!(log.on_new_data(end, end + 10, 10, Instant::ZERO));
    }

    /// RFC 6675 IsLost: DupThresh SACKed segments above, or more than
    /// (DupThresh - 1) * SMSS bytes.
    #[test]
    fn is_lost_needs_dupthresh_sacked_segments_above() {
        let mut log = log_of(6, 100);
        let mut sacked = SackRanges::new();
        sacked.insert(s(1100), s(1300));
        log.mark_sacked(&sacked, |_| {});
        assert!(!log.is_lost(&sacked, s(1000), 100));
        sacked.insert(s(1400), s(1500));
        log.mark_sacked(&sacked, |_| {});
        assert!(log.is_lost(&sacked, s(1000), 100));
        // The segment at 1300 has only one SACKed segment above it.
        assert!(!log.is_lost(&sacked, s(1300), 100));
        // Bytes alone: 201 bytes above with SMSS 100, in small segments.
        let mut log = log_of(4, 100);
        let mut sacked = SackRanges::new();
        sacked.insert(s(1100), s(1301));
        log.mark_sacked(&sacked, |_| {});
        assert!(log.is_lost(&sacked, s(1000), 100));
        assert!(!log.is_lost(&sacked, s(1000), 101));
    }

    #[test]
    fn pipe_counts_unsacked_not_lost_plus_retransmissions() {
        let mut log = log_of(5, 100);
        let mut sacked = SackRanges::new();
        assert_eq!(log.pipe(&sacked), 500);
        sacked.insert(s(1200), s(1300));
        log.mark_sacked(&sacked, |_| {});
        assert_eq!(log.pipe(&sacked), 400);
        log.mark_lost(0);
        log.mark_lost(1);
        assert_eq!(log.pipe(&sacked), 200);
        log.on_retransmit(s(1000), s(1100), Instant::ZERO);
        // Segment 0: original gone, copy in flight.
        assert_eq!(log.pipe(&sacked), 300);
        // A lost retransmission counts nothing.
        log.mark_lost(0);
        assert_eq!(log.pipe(&sacked), 200);
    }

    /// NextSeg: lost segments lowest first, skipping SACKed parts; then
    /// rule (3)'s rescue below the highest SACK.
    #[test]
    fn next_seg_order() {
        let mut log = log_of(6, 100);
        let mut sacked = SackRanges::new();
        sacked.insert(s(1150), s(1200));
        sacked.insert(s(1500), s(1600));
        log.mark_sacked(&sacked, |_| {});
        assert_eq!(log.next_lost(&sacked, 100), None);
        assert_eq!(log.next_rescue(&sacked, 100), Some((s(1000), s(1100))));
        log.mark_lost(3);
        log.mark_lost(1);
        assert_eq!(log.next_lost(&sacked, 100), Some((s(1100), s(1150))));
        log.on_retransmit(s(1100), s(1150), Instant::ZERO);
        assert_eq!(log.next_lost(&sacked, 100), Some((s(1300), s(1400))));
        assert_eq!(log.next_lost(&sacked, 40), Some((s(1300), s(1340))));
        log.on_retransmit(s(1300), s(1400), Instant::ZERO);
        assert_eq!(log.next_lost(&sacked, 100), None);
        // Rescue: 1000 (never sent again), then 1200 and 1400 below 1600.
        assert_eq!(log.next_rescue(&sacked, 100), Some((s(1000), s(1100))));
        log.on_retransmit(s(1000), s(1100), Instant::ZERO);
        assert_eq!(log.next_rescue(&sacked, 100), Some((s(1200), s(1300))));
    }

    #[test]
    fn a_partial_retransmission_splits_the_record() {
        let mut log = log_of(2, 100);
        log.mark_lost(0);
        log.on_retransmit(s(1000), s(1040), Instant::ZERO);
        assert_eq!(log.len(), 3);
        let first = log.get(0).unwrap();
        let rest = log.get(1).unwrap();
        assert_eq!(
            (first.start, first.end, first.retransmitted),
            (s(1000), s(1040), true)
        );
        assert_eq!(
            (rest.start, rest.end, rest.lost, rest.retransmitted),
            (s(1040), s(1100), true, false)
        );
        let sacked = SackRanges::new();
        assert_eq!(log.next_lost(&sacked, 100), Some((s(1040), s(1100))));
        // From the middle of the second segment.
        log.on_retransmit(s(1150), s(1170), Instant::ZERO);
        let spans: std::vec::Vec<_> = log
            .iter()
            .map(|g| (g.start.0, g.end.0, g.retransmitted))
            .collect();
        assert_eq!(
            spans,
            [
                (1000, 1040, true),
                (1040, 1100, false),
                (1100, 1150, false),
                (1150, 1170, true),
                (1170, 1200, false)
            ]
        );
    }

    /// Reneging: SACK marks cleared, everything not SACKed lost on an RTO.
    #[test]
    fn rto_marks_and_reneging() {
        let mut log = log_of(4, 100);
        let mut sacked = SackRanges::new();
        sacked.insert(s(1100), s(1200));
        log.mark_sacked(&sacked, |_| {});
        assert_eq!(log.mark_all_lost(), 3);
        assert_eq!(log.next_lost(&sacked, 100), Some((s(1000), s(1100))));
        log.on_retransmit(s(1000), s(1100), Instant::ZERO);
        assert_eq!(log.next_lost(&sacked, 100), Some((s(1200), s(1300))));
        // The peer reneged: forget the SACKs; the segment is lost too.
        sacked.clear();
        log.clear_sacked();
        log.mark_all_lost();
        assert_eq!(log.next_lost(&sacked, 100), Some((s(1000), s(1100))));
        log.clear_lost();
        assert_eq!(log.next_lost(&sacked, 100), None);
    }
}
