//! Out-of-order segment tracking (CONTRACT STUB: the storage helper
//! implements every body).

/// The most holes any assembler can track; `Assembler::new` clamps to it.
pub const MAX_HOLES: usize = 32;

/// Adding a range would need more holes than the assembler may keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyHoles;

/// Tracks which byte ranges past a moving front have arrived, with a
/// bounded, configurable number of holes (no allocation).
#[derive(Debug, Clone)]
pub struct Assembler {
    _private: (),
}

impl Assembler {
    /// An empty assembler keeping at most `max_holes` (clamped to
    /// `1..=MAX_HOLES`) separate ranges.
    pub fn new(max_holes: usize) -> Assembler { let _ = max_holes; todo!() }
    /// Whether no data past the front is held.
    pub fn is_empty(&self) -> bool { todo!() }
    /// Forgets everything.
    pub fn clear(&mut self) { todo!() }
    /// Records that `[offset, offset + size)` (relative to the front) has
    /// arrived, merging with neighbours. Fails, changing nothing, if it
    /// would exceed the hole limit.
    pub fn add(&mut self, offset: usize, size: usize) -> Result<(), TooManyHoles> { let _ = (offset, size); todo!() }
    /// If data starts at the front, removes it and returns its length (the
    /// front moves by that much); otherwise 0.
    pub fn remove_front(&mut self) -> usize { todo!() }
    /// `add` then `remove_front`.
    pub fn add_then_remove_front(&mut self, offset: usize, size: usize) -> Result<usize, TooManyHoles> { let _ = (offset, size); todo!() }
    /// The held ranges as `(start, end)` offsets relative to the front, in
    /// order (for SACK blocks later).
    pub fn ranges(&self) -> impl Iterator<Item = (usize, usize)> + '_ { core::iter::empty() }
}
