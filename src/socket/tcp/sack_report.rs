//! The receiver's side of SACK: which blocks each ACK reports (RFC 2018
//! sections 3 and 4) and the duplicate it reports first (D-SACK, RFC 2883).
//!
//! The blocks come from the out-of-order assembler, so they always say what
//! the receive buffer holds. The order is RFC 2018's: the block holding the
//! segment that triggered the ACK first, then the blocks reported most
//! recently, so that a sender that loses some ACKs still hears of every
//! block a few times. A small fixed list of recently reported blocks keeps
//! that order without allocation.

use crate::storage::Assembler;
use crate::wire::{SeqNumber, TcpSackRange};

/// The most SACK blocks one segment carries: 4 without the timestamps
/// option, 3 with it (RFC 2018 section 3: 40 bytes of option space).
pub(super) const MAX_SACK_BLOCKS: usize = 4;

/// SACK blocks in a segment that also carries timestamps (12 bytes of
/// timestamps leave room for 3 blocks of 8 plus the 2-byte header and its
/// 2 bytes of NOP alignment).
pub(super) const MAX_SACK_BLOCKS_WITH_TIMESTAMPS: usize = 3;

/// What the receiver will report in its next SACK options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct SackReport {
    /// Blocks that received data most recently, newest first, as
    /// `[left, right)` when they received it. A block only grows (the
    /// assembler merges, never shrinks, what it holds), so each entry
    /// still names the held range it overlaps.
    recent: [Option<(SeqNumber, SeqNumber)>; MAX_SACK_BLOCKS],
    /// A duplicate segment (or its duplicated part) the next ACK reports in
    /// its first block (RFC 2883 section 4), once.
    duplicate: Option<(SeqNumber, SeqNumber)>,
}

impl SackReport {
    /// Data arrived into the held block `[left, right)` (new data, or a
    /// duplicate of data it holds): that block goes first, and entries that
    /// merged into it go.
    pub(super) fn note_block(&mut self, left: SeqNumber, right: SeqNumber) {
        let mut kept = [None; MAX_SACK_BLOCKS];
        kept[0] = Some((left, right));
        let others = self
            .recent
            .iter()
            .flatten()
            .filter(|&&(l, r)| !(l < right && left < r));
        for (slot, entry) in kept[1..].iter_mut().zip(others) {
            *slot = Some(*entry);
        }
        self.recent = kept;
    }

    /// A duplicate segment covering `[left, right)` arrived (RFC 2883
    /// section 4): the next ACK reports it first. A duplicate already
    /// waiting to be reported stays (only one D-SACK block per ACK).
    pub(super) fn note_duplicate(&mut self, left: SeqNumber, right: SeqNumber) {
        if left < right && self.duplicate.is_none() {
            self.duplicate = Some((left, right));
        }
    }

    /// Whether a D-SACK block waits for the next ACK.
    pub(super) fn duplicate_pending(&self) -> bool {
        self.duplicate.is_some()
    }

    /// RCV.NXT moved to `rcv_nxt`: blocks it passed were delivered and are
    /// not reported again.
    pub(super) fn forget_below(&mut self, rcv_nxt: SeqNumber) {
        let mut kept = [None; MAX_SACK_BLOCKS];
        let live = self.recent.iter().flatten().filter(|&&(l, _)| l >= rcv_nxt);
        for (slot, entry) in kept.iter_mut().zip(live) {
            *slot = Some(*entry);
        }
        self.recent = kept;
    }

    /// An ACK carrying the current report went out: the D-SACK block has
    /// been reported (RFC 2883 section 4 reports a duplicate once).
    pub(super) fn sent(&mut self) {
        self.duplicate = None;
    }

    /// Forgets everything (a new connection).
    pub(super) fn clear(&mut self) {
        *self = SackReport::default();
    }

    /// The SACK blocks of the next ACK, at most `limit`: the D-SACK block
    /// if one is pending; then the held blocks that received data most
    /// recently (the first of them holds the segment that triggered the
    /// ACK, RFC 2018 section 4), each once; then, if room is left, the
    /// other held blocks from the lowest. `assembler` holds the
    /// out-of-order data, by offset from `rcv_nxt`.
    pub(super) fn blocks(
        &self,
        rcv_nxt: SeqNumber,
        assembler: &Assembler,
        limit: usize,
    ) -> [Option<TcpSackRange>; MAX_SACK_BLOCKS] {
        let limit = limit.min(MAX_SACK_BLOCKS);
        let mut out = [None; MAX_SACK_BLOCKS];
        let mut count = 0;
        let push = |out: &mut [Option<TcpSackRange>; MAX_SACK_BLOCKS],
                    count: &mut usize,
                    range: TcpSackRange,
                    from: usize| {
            // `from` skips the D-SACK block: a duplicate inside a held block
            // is followed by that whole block (RFC 2883 section 4).
            if *count < limit && !out[from..*count].contains(&Some(range)) {
                out[*count] = Some(range);
                *count += 1;
            }
        };
        if let Some((left, right)) = self.duplicate {
            push(&mut out, &mut count, TcpSackRange { left, right }, 0);
        }
        let first_held = count;
        let held = |(start, end): (usize, usize)| TcpSackRange {
            left: rcv_nxt + start,
            right: rcv_nxt + end,
        };
        for &(left, right) in self.recent.iter().flatten() {
            if left < rcv_nxt {
                continue;
            }
            let start = left - rcv_nxt;
            let end = start + (right - left);
            let range = assembler.range_overlapping(start, end);
            if let Some(range) = range.filter(|&(start, _)| start > 0) {
                push(&mut out, &mut count, held(range), first_held);
            }
        }
        // Data at RCV.NXT itself is held only before the handshake ends
        // (a SYN's data, not yet acknowledged): it is no block above the
        // cumulative ACK, so it is not reported.
        for range in assembler.ranges().filter(|&(start, _)| start > 0) {
            push(&mut out, &mut count, held(range), first_held);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    const NXT: SeqNumber = SeqNumber(u32::MAX - 100);

    fn blocks(report: &SackReport, asm: &Assembler, limit: usize) -> Vec<(usize, usize)> {
        report
            .blocks(NXT, asm, limit)
            .iter()
            .flatten()
            .map(|r| (r.left - NXT, r.right - NXT))
            .collect()
    }

    /// Adds `[start, end)` (offsets from NXT) as the receiver does.
    fn arrive(report: &mut SackReport, asm: &mut Assembler, start: usize, end: usize) {
        asm.add(start, end - start).unwrap();
        let (s, e) = asm.range_overlapping(start, end).unwrap();
        report.note_block(NXT + s, NXT + e);
    }

    #[test]
    fn newest_block_first_then_most_recent_across_the_wrap() {
        let mut asm = Assembler::new(8);
        let mut report = SackReport::default();
        assert!(blocks(&report, &asm, 4).is_empty());
        arrive(&mut report, &mut asm, 300, 400);
        arrive(&mut report, &mut asm, 100, 200);
        arrive(&mut report, &mut asm, 500, 600);
        assert_eq!(
            blocks(&report, &asm, 4),
            [(500, 600), (100, 200), (300, 400)]
        );
        // Growing a block moves it first; merged entries become one.
        arrive(&mut report, &mut asm, 200, 300);
        assert_eq!(blocks(&report, &asm, 4), [(100, 400), (500, 600)]);
        assert_eq!(blocks(&report, &asm, 1), [(100, 400)]);
    }

    #[test]
    fn more_blocks_than_fit_keep_the_most_recent() {
        let mut asm = Assembler::new(8);
        let mut report = SackReport::default();
        for i in 0..6 {
            let start = 100 * (i + 1);
            arrive(&mut report, &mut asm, start, start + 50);
        }
        assert_eq!(
            blocks(&report, &asm, 4),
            [(600, 650), (500, 550), (400, 450), (300, 350)]
        );
        assert_eq!(
            blocks(&report, &asm, 3),
            [(600, 650), (500, 550), (400, 450)]
        );
        // Once recent blocks are delivered, the rest fill from the lowest.
        report.forget_below(NXT + 1000);
        assert_eq!(
            blocks(&report, &asm, 4),
            [(100, 150), (200, 250), (300, 350), (400, 450)]
        );
    }

    #[test]
    fn duplicate_is_first_once_and_followed_by_its_block() {
        let mut asm = Assembler::new(8);
        let mut report = SackReport::default();
        arrive(&mut report, &mut asm, 100, 300);
        arrive(&mut report, &mut asm, 400, 500);
        // A duplicate inside the first block: D-SACK, then that block.
        report.note_duplicate(NXT + 150, NXT + 200);
        let (s, e) = asm.range_overlapping(150, 200).unwrap();
        report.note_block(NXT + s, NXT + e);
        assert!(report.duplicate_pending());
        assert_eq!(
            blocks(&report, &asm, 3),
            [(150, 200), (100, 300), (400, 500)]
        );
        report.sent();
        assert!(!report.duplicate_pending());
        assert_eq!(blocks(&report, &asm, 3), [(100, 300), (400, 500)]);
        // An empty duplicate reports nothing.
        report.note_duplicate(NXT + 5, NXT + 5);
        assert!(!report.duplicate_pending());
    }
}
