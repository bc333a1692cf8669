//! Out-of-order segment tracking: which byte ranges past the receive point
//! have arrived, with a bounded number of holes and no allocation.

/// The most holes any assembler can track; `Assembler::new` clamps to it.
pub const MAX_HOLES: usize = 32;

/// The largest offset an assembler stores: 4 GiB past the front, beyond
/// any TCP receive window (at most 2^30 bytes, RFC 7323 section 2.3), so
/// ranges take 8 bytes instead of 16.
const LIMIT: usize = u32::MAX as usize;

/// Clamps an offset to what the assembler stores.
fn clamp(offset: usize) -> u32 {
    // In range after `min`: the cast cannot truncate.
    offset.min(LIMIT) as u32
}

/// Adding a range would need more holes than the assembler may keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TooManyHoles;

impl core::fmt::Display for TooManyHoles {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        f.write_str("the range would need more holes than the assembler keeps")
    }
}

impl core::error::Error for TooManyHoles {}

/// Tracks which byte ranges past a moving front have arrived, with a
/// bounded, configurable number of holes (no allocation).
///
/// Offsets are relative to the front (for TCP, RCV.NXT). Held ranges are
/// kept sorted, disjoint and never adjacent (touching ranges merge), so
/// each held range is preceded by one hole (or starts at the front). The
/// limit counts held ranges: at most `max_holes` of them at any time.
#[derive(Debug, Clone)]
pub struct Assembler {
    /// `ranges[..count]` are the held `(start, end)` ranges, end exclusive,
    /// sorted by start; the rest of the array is unused.
    ranges: [(u32, u32); MAX_HOLES],
    count: u8,
    max_holes: u8,
}

impl Assembler {
    /// An empty assembler keeping at most `max_holes` (clamped to
    /// `1..=MAX_HOLES`) separate ranges.
    pub fn new(max_holes: usize) -> Assembler {
        Assembler {
            ranges: [(0, 0); MAX_HOLES],
            count: 0,
            // At most MAX_HOLES (32): fits a u8.
            max_holes: max_holes.clamp(1, MAX_HOLES) as u8,
        }
    }

    /// The limit on separate ranges this assembler was built with (after
    /// clamping).
    pub fn max_holes(&self) -> usize {
        usize::from(self.max_holes)
    }

    /// How many separate ranges are held now.
    pub fn range_count(&self) -> usize {
        usize::from(self.count)
    }

    /// Whether no data past the front is held.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.count = 0;
    }

    /// The held ranges as a slice.
    fn held(&self) -> &[(u32, u32)] {
        // count <= max_holes <= MAX_HOLES is kept by every mutation.
        &self.ranges[..usize::from(self.count)]
    }

    /// Records that `[offset, offset + size)` (relative to the front) has
    /// arrived, merging with neighbours (overlapping or touching ranges
    /// become one). A zero `size` adds nothing. Fails, changing nothing, if
    /// the result would hold more than `max_holes` separate ranges.
    /// Offsets are kept up to `u32::MAX` (4 GiB past the front, more than
    /// any TCP window): what lies beyond is cut off, so a range starting
    /// there adds nothing.
    pub fn add(&mut self, offset: usize, size: usize) -> Result<(), TooManyHoles> {
        let start = clamp(offset);
        let end = clamp(offset.saturating_add(size));
        if start == end {
            return Ok(());
        }
        let count = usize::from(self.count);
        let held = self.held();
        // Ranges entirely before the new one, not even touching it.
        let first = held.iter().take_while(|&&(_, e)| e < start).count();
        // Ranges from `first` that overlap or touch the new one.
        let merged = held[first..].iter().take_while(|&&(s, _)| s <= end).count();

        if merged == 0 {
            if self.count >= self.max_holes {
                return Err(TooManyHoles);
            }
            // Shift the tail right by one to make room at `first`.
            self.ranges.copy_within(first..count, first + 1);
            self.ranges[first] = (start, end);
            self.count += 1;
        } else {
            let last = first + merged - 1;
            let new_start = start.min(self.ranges[first].0);
            let new_end = end.max(self.ranges[last].1);
            self.ranges[first] = (new_start, new_end);
            // Close the gap left by the ranges absorbed into `first`.
            self.ranges.copy_within(last + 1..count, first + 1);
            // merged <= count <= MAX_HOLES: fits a u8.
            self.count -= (merged - 1) as u8;
        }
        Ok(())
    }

    /// If data starts at the front, removes it and returns its length (the
    /// front moves by that much, and every other range's offsets drop by
    /// it); otherwise 0.
    pub fn remove_front(&mut self) -> usize {
        match self.held().first() {
            Some(&(0, len)) => {
                self.ranges.copy_within(1..usize::from(self.count), 0);
                self.count -= 1;
                self.shift_down(len);
                len as usize
            }
            _ => 0,
        }
    }

    /// Subtracts `by` from every held range (all of which start at or after
    /// `by`).
    fn shift_down(&mut self, by: u32) {
        for range in &mut self.ranges[..usize::from(self.count)] {
            range.0 -= by;
            range.1 -= by;
        }
    }

    /// `add` then `remove_front`.
    ///
    /// Data at offset 0 never fails: it is delivered at once, so it needs
    /// no slot even when `max_holes` ranges are held (for TCP: in-order
    /// data is always accepted, or the connection could stall when the
    /// peer keeps retransmitting it). Other offsets fail as `add` does.
    pub fn add_then_remove_front(
        &mut self,
        offset: usize,
        size: usize,
    ) -> Result<usize, TooManyHoles> {
        if offset == 0 && size > 0 {
            // The new range plus every held range it overlaps or touches
            // leaves at once; what remains shifts down by its end.
            let end = clamp(size);
            let held = self.held();
            let absorbed = held.iter().take_while(|&&(s, _)| s <= end).count();
            let front_end = match absorbed {
                0 => end,
                n => end.max(held[n - 1].1),
            };
            self.ranges
                .copy_within(absorbed..usize::from(self.count), 0);
            // absorbed <= count: fits a u8.
            self.count -= absorbed as u8;
            self.shift_down(front_end);
            return Ok(front_end as usize);
        }
        self.add(offset, size)?;
        Ok(self.remove_front())
    }

    /// The held ranges as `(start, end)` offsets relative to the front, in
    /// order (a TCP receiver's SACK blocks, RFC 2018).
    pub fn ranges(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.held().iter().map(|&(s, e)| (s as usize, e as usize))
    }

    /// The first held range sharing at least one offset with
    /// `[start, end)` (touching is not sharing), if any: the block that
    /// holds a segment, or that a duplicate segment repeats (RFC 2018
    /// section 4, RFC 2883 section 4).
    pub fn range_overlapping(&self, start: usize, end: usize) -> Option<(usize, usize)> {
        let (start, end) = (clamp(start), clamp(end));
        self.held()
            .iter()
            .find(|&&(s, e)| start < end && s < end && start < e)
            .map(|&(s, e)| (s as usize, e as usize))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;
    use std::vec::Vec;

    fn ranges(asm: &Assembler) -> Vec<(usize, usize)> {
        asm.ranges().collect()
    }

    fn with(ranges_in: &[(usize, usize)]) -> Assembler {
        let mut asm = Assembler::new(MAX_HOLES);
        for &(s, e) in ranges_in {
            asm.add(s, e - s).unwrap();
        }
        assert_eq!(ranges(&asm), ranges_in);
        asm
    }

    #[test]
    fn new_is_empty_and_clamps_limit() {
        let asm = Assembler::new(4);
        assert!(asm.is_empty());
        assert_eq!(asm.ranges().count(), 0);
        assert_eq!(asm.max_holes(), 4);
        assert_eq!(Assembler::new(0).max_holes(), 1);
        assert_eq!(Assembler::new(1000).max_holes(), MAX_HOLES);
    }

    #[test]
    fn zero_size_adds_nothing() {
        let mut asm = Assembler::new(1);
        asm.add(10, 0).unwrap();
        assert!(asm.is_empty());
        asm.add(5, 5).unwrap();
        // Even when full, a zero-size add is not an error.
        asm.add(100, 0).unwrap();
        assert_eq!(ranges(&asm), [(5, 10)]);
        assert_eq!(asm.add_then_remove_front(0, 0), Ok(0));
        assert_eq!(ranges(&asm), [(5, 10)]);
    }

    #[test]
    fn disjoint_ranges_stay_sorted() {
        let mut asm = Assembler::new(8);
        asm.add(20, 5).unwrap();
        asm.add(4, 2).unwrap();
        asm.add(40, 1).unwrap();
        asm.add(10, 3).unwrap();
        assert_eq!(ranges(&asm), [(4, 6), (10, 13), (20, 25), (40, 41)]);
        assert_eq!(asm.range_count(), 4);
    }

    #[test]
    fn overlaps_on_every_side() {
        // Overlapping the start of a range.
        let mut asm = with(&[(10, 20)]);
        asm.add(5, 10).unwrap();
        assert_eq!(ranges(&asm), [(5, 20)]);
        // Overlapping its end.
        let mut asm = with(&[(10, 20)]);
        asm.add(15, 10).unwrap();
        assert_eq!(ranges(&asm), [(10, 25)]);
        // Inside it.
        let mut asm = with(&[(10, 20)]);
        asm.add(12, 3).unwrap();
        assert_eq!(ranges(&asm), [(10, 20)]);
        // Exactly it.
        let mut asm = with(&[(10, 20)]);
        asm.add(10, 10).unwrap();
        assert_eq!(ranges(&asm), [(10, 20)]);
        // Covering it.
        let mut asm = with(&[(10, 20)]);
        asm.add(0, 30).unwrap();
        assert_eq!(ranges(&asm), [(0, 30)]);
        // Covering several and part of the neighbours.
        let mut asm = with(&[(0, 2), (10, 20), (30, 40), (50, 60), (70, 80)]);
        asm.add(15, 40).unwrap();
        assert_eq!(ranges(&asm), [(0, 2), (10, 60), (70, 80)]);
    }

    #[test]
    fn adjacent_ranges_merge() {
        let mut asm = with(&[(10, 20)]);
        asm.add(20, 5).unwrap();
        assert_eq!(ranges(&asm), [(10, 25)]);
        asm.add(5, 5).unwrap();
        assert_eq!(ranges(&asm), [(5, 25)]);
        // One byte short of touching stays separate.
        asm.add(26, 4).unwrap();
        assert_eq!(ranges(&asm), [(5, 25), (26, 30)]);
    }

    #[test]
    fn filling_a_hole_exactly_joins_both_sides() {
        let mut asm = with(&[(0, 10), (20, 30), (40, 50)]);
        asm.add(10, 10).unwrap();
        assert_eq!(ranges(&asm), [(0, 30), (40, 50)]);
        asm.add(30, 10).unwrap();
        assert_eq!(ranges(&asm), [(0, 50)]);
    }

    #[test]
    fn limit_reached_changes_nothing() {
        let mut asm = Assembler::new(3);
        asm.add(10, 1).unwrap();
        asm.add(20, 1).unwrap();
        asm.add(30, 1).unwrap();
        let before = ranges(&asm);
        assert_eq!(asm.add(40, 1), Err(TooManyHoles));
        assert_eq!(asm.add(1, 1), Err(TooManyHoles));
        assert_eq!(asm.add(15, 2), Err(TooManyHoles));
        assert_eq!(asm.add_then_remove_front(5, 1), Err(TooManyHoles));
        assert_eq!(ranges(&asm), before);
        // Merging needs no new slot, so it still works at the limit.
        asm.add(11, 9).unwrap();
        assert_eq!(ranges(&asm), [(10, 21), (30, 31)]);
        asm.add(40, 1).unwrap();
        assert_eq!(ranges(&asm), [(10, 21), (30, 31), (40, 41)]);
        // The full MAX_HOLES limit.
        let mut asm = Assembler::new(MAX_HOLES);
        for i in 0..MAX_HOLES {
            asm.add(2 * i + 1, 1).unwrap();
        }
        assert_eq!(asm.add(1000, 1), Err(TooManyHoles));
        assert_eq!(asm.range_count(), MAX_HOLES);
    }

    #[test]
    fn remove_front_shifts_the_rest() {
        let mut asm = with(&[(5, 10), (20, 30)]);
        assert_eq!(asm.remove_front(), 0);
        asm.add(0, 5).unwrap();
        assert_eq!(ranges(&asm), [(0, 10), (20, 30)]);
        assert_eq!(asm.remove_front(), 10);
        assert_eq!(ranges(&asm), [(10, 20)]);
        assert_eq!(asm.remove_front(), 0);
        asm.add(0, 10).unwrap();
        assert_eq!(asm.remove_front(), 20);
        assert!(asm.is_empty());
        assert_eq!(asm.remove_front(), 0);
    }

    #[test]
    fn add_then_remove_front_delivers_in_order_data() {
        let mut asm = Assembler::new(4);
        assert_eq!(asm.add_then_remove_front(0, 10), Ok(10));
        assert!(asm.is_empty());
        assert_eq!(asm.add_then_remove_front(5, 5), Ok(0));
        assert_eq!(asm.add_then_remove_front(15, 5), Ok(0));
        assert_eq!(ranges(&asm), [(5, 10), (15, 20)]);
        // Filling the first hole releases the first range only.
        assert_eq!(asm.add_then_remove_front(0, 5), Ok(10));
        assert_eq!(ranges(&asm), [(5, 10)]);
        // Overlapping past the held range releases both.
        assert_eq!(asm.add_then_remove_front(0, 7), Ok(10));
        assert!(asm.is_empty());
    }

    #[test]
    fn in_order_data_never_fails_when_full() {
        let mut asm = Assembler::new(2);
        asm.add(10, 5).unwrap();
        asm.add(20, 5).unwrap();
        assert_eq!(asm.add(0, 5), Err(TooManyHoles));
        assert_eq!(asm.add_then_remove_front(0, 5), Ok(5));
        assert_eq!(ranges(&asm), [(5, 10), (15, 20)]);
        assert_eq!(asm.add_then_remove_front(0, 5), Ok(10));
        assert_eq!(ranges(&asm), [(5, 10)]);
    }

    #[test]
    fn range_overlapping_finds_the_first_shared_range() {
        let asm = with(&[(10, 20), (30, 40)]);
        assert_eq!(
            asm.range_overlapping(0, 10),
            None,
            "touching is not sharing"
        );
        assert_eq!(asm.range_overlapping(0, 11), Some((10, 20)));
        assert_eq!(asm.range_overlapping(12, 14), Some((10, 20)));
        assert_eq!(asm.range_overlapping(19, 35), Some((10, 20)));
        assert_eq!(asm.range_overlapping(20, 30), None);
        assert_eq!(asm.range_overlapping(39, 100), Some((30, 40)));
        assert_eq!(asm.range_overlapping(40, 100), None);
        assert_eq!(
            asm.range_overlapping(15, 15),
            None,
            "an empty range shares nothing"
        );
    }

    #[test]
    fn offsets_past_u32_max_are_cut_off() {
        let max = u32::MAX as usize;
        let mut asm = Assembler::new(2);
        asm.add(max - 1, 10).unwrap();
        assert_eq!(ranges(&asm), [(max - 1, max)]);
        // Wholly beyond: nothing added, even with no room left.
        asm.add(5, 1).unwrap();
        asm.add(max, 10).unwrap();
        asm.add(usize::MAX - 1, 10).unwrap();
        assert_eq!(ranges(&asm), [(5, 6), (max - 1, max)]);
        assert_eq!(
            asm.range_overlapping(max - 1, usize::MAX),
            Some((max - 1, max))
        );
    }

    #[test]
    fn an_assembler_is_small() {
        // 32 ranges of two u32 offsets and two u8 counts, padded to the
        // offsets' alignment.
        assert_eq!(core::mem::size_of::<Assembler>(), 32 * 8 + 4);
    }

    /// A tiny deterministic PRNG (xorshift64*) for the model test.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: u64) -> usize {
            (self.next() % n) as usize
        }
    }

    /// The ranges of set bits in a bitmap.
    fn model_ranges(bits: &[bool]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < bits.len() {
            if bits[i] {
                let start = i;
                while i < bits.len() && bits[i] {
                    i += 1;
                }
                out.push((start, i));
            } else {
                i += 1;
            }
        }
        out
    }

    #[test]
    fn matches_a_bitmap_model() {
        const SPACE: usize = 160;
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for max_holes in [1, 3, 8, MAX_HOLES] {
            let mut asm = Assembler::new(max_holes);
            // Twice the space, so shifted-down bits never fall off the end.
            let mut bits = vec![false; 2 * SPACE];
            let (mut failures, mut delivered) = (0, 0);
            for _ in 0..10_000 / 4 {
                match rng.below(10) {
                    0..=6 => {
                        let offset = rng.below(SPACE as u64);
                        let size = rng.below(12);
                        let mut next = bits.clone();
                        for b in &mut next[offset..offset + size] {
                            *b = true;
                        }
                        let allowed = model_ranges(&next).len() <= max_holes;
                        let result = asm.add(offset, size);
                        assert_eq!(result.is_ok(), allowed, "add({offset}, {size})");
                        if allowed {
                            bits = next;
                        } else {
                            failures += 1;
                        }
                    }
                    7 | 8 => {
                        let size = 1 + rng.below(8);
                        let offset = if rng.below(2) == 0 { 0 } else { rng.below(8) };
                        let mut next = bits.clone();
                        for b in &mut next[offset..offset + size] {
                            *b = true;
                        }
                        let front = next.iter().take_while(|&&b| b).count();
                        let mut after = next[front..].to_vec();
                        after.resize(2 * SPACE, false);
                        let allowed = offset == 0 || model_ranges(&next).len() <= max_holes;
                        let result = asm.add_then_remove_front(offset, size);
                        if allowed {
                            assert_eq!(
                                result,
                                Ok(front),
                                "add_then_remove_front({offset}, {size})"
                            );
                            bits = after;
                            delivered += front;
                        } else {
                            assert_eq!(result, Err(TooManyHoles));
                        }
                    }
                    _ => {
                        let front = bits.iter().take_while(|&&b| b).count();
                        assert_eq!(asm.remove_front(), front);
                        bits.drain(..front);
                        bits.resize(2 * SPACE, false);
                    }
                }
                assert_eq!(ranges(&asm), model_ranges(&bits));
                assert_eq!(asm.is_empty(), !bits.contains(&true));
            }
            // The walk must exercise both the limit and delivery.
            assert!(delivered > 0);
            if max_holes < 8 {
                assert!(failures > 0, "max_holes {max_holes} never hit the limit");
            }
        }
    }
}
