//! Deadlines, the ready set and the set's intrusive lists: poll work
//! proportional to the sockets that have something to do, not a scan of
//! every socket.
//!
//! [`TimerQueue`] holds at most one deadline per element in an indexed
//! binary min-heap, so setting, moving or clearing a deadline is O(log n) and
//! finding the earliest is O(1). [`ReadySet`] is a FIFO of elements with data
//! or control to send, a doubly linked list threaded through per-element
//! links, so insert, remove and pop are O(1) and insert is idempotent.
//! [`FifoList`] is a singly linked FIFO for lists whose members leave only
//! from the front or rarely (the dirty list, accept queues, free lists).
//!
//! None of them owns storage: each keeps only its head, tail and length, and
//! every operation takes the slice of elements it is threaded through (the
//! socket set's slots and record pools embed a [`TimerSlot`] and
//! [`ReadyLinks`] each). So a queue can never be shorter than the array it
//! serves: its capacity *is* that array's length. Indices at or beyond the
//! slice's length are ignored (or answered with `None`), never a panic.

use crate::time::Instant;

/// Marks "no index": an element not in the heap, or the end of a list.
const NONE: u32 = u32::MAX;

/// The largest number of elements a queue or list can serve: indices are
/// stored as `u32`, with `u32::MAX` reserved.
pub const MAX_ELEMENTS: usize = (u32::MAX - 1) as usize;

/// An index as stored (callers keep indices below [`MAX_ELEMENTS`]).
fn stored(index: usize) -> u32 {
    u32::try_from(index).unwrap_or(NONE)
}

fn loaded(index: u32) -> usize {
    index as usize
}

/// One element's share of a timer queue: the heap's `i`-th entry (a
/// deadline and the element it belongs to) and the heap position of element
/// `i`. Two arrays of the same length live in one, so the heap needs no
/// storage of its own. 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerSlot {
    /// The heap entry at this heap index (meaningful below the heap's len).
    heap_deadline: Instant,
    heap_element: u32,
    /// Where the element with this index sits in the heap, or NONE.
    position: u32,
}

impl TimerSlot {
    /// An element with no deadline.
    pub const EMPTY: TimerSlot = TimerSlot {
        heap_deadline: Instant::ZERO,
        heap_element: NONE,
        position: NONE,
    };
}

impl Default for TimerSlot {
    fn default() -> Self {
        TimerSlot::EMPTY
    }
}

/// Elements a [`TimerQueue`] is threaded through.
pub trait HasTimer {
    /// The element's timer share.
    fn timer(&self) -> &TimerSlot;
    /// The element's timer share, mutably.
    fn timer_mut(&mut self) -> &mut TimerSlot;
}

impl HasTimer for TimerSlot {
    fn timer(&self) -> &TimerSlot {
        self
    }
    fn timer_mut(&mut self) -> &mut TimerSlot {
        self
    }
}

/// An indexed binary min-heap of (Instant, element): at most one deadline
/// per element.
///
/// Entries are ordered by deadline, then by element index, so equal
/// deadlines come out lowest index first and the order is deterministic.
/// The heap lives in the elements' [`TimerSlot`]s; every method takes them.
#[derive(Debug, Clone, Default)]
pub struct TimerQueue {
    len: u32,
}

impl TimerQueue {
    /// An empty queue. The elements it will be used with must have no
    /// deadline yet ([`TimerSlot::EMPTY`]); [`clear`](Self::clear) resets
    /// them.
    pub const fn new() -> Self {
        TimerQueue { len: 0 }
    }

    /// The number of elements that have a deadline.
    pub fn len(&self) -> usize {
        loaded(self.len)
    }

    /// Whether no element has a deadline.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Clears every deadline.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn clear<E: HasTimer>(&mut self, elements: &mut [E]) {
        for element in elements.iter_mut() {
            *element.timer_mut() = TimerSlot::EMPTY;
        }
        self.len = 0;
    }

    /// Sets (or moves, or with None clears) the deadline of element `index`.
    /// O(log n). An index beyond the slice is ignored.
    pub fn set<E: HasTimer>(
        &mut self,
        elements: &mut [E],
        index: usize,
        deadline: Option<Instant>,
    ) {
        if index >= elements.len() || index >= MAX_ELEMENTS {
            return;
        }
        let position = self.position_of(elements, index);
        match (deadline, position) {
            (None, None) => {}
            (None, Some(position)) => self.remove_at(elements, position),
            (Some(deadline), Some(position)) => {
                self.write_entry(elements, position, deadline, index);
                let position = self.sift_up(elements, position);
                self.sift_down(elements, position);
            }
            (Some(deadline), None) => {
                // len < elements.len() here: the element is not in the
                // heap, and the heap holds at most one entry per element.
                let position = self.len();
                self.len += 1;
                self.write_entry(elements, position, deadline, index);
                self.sift_up(elements, position);
            }
        }
    }

    /// The deadline of element `index`, if it has one.
    pub fn deadline<E: HasTimer>(&self, elements: &[E], index: usize) -> Option<Instant> {
        let position = self.position_of(elements, index)?;
        self.entry(elements, position).map(|(deadline, _)| deadline)
    }

    /// The earliest (deadline, element).
    pub fn peek<E: HasTimer>(&self, elements: &[E]) -> Option<(Instant, usize)> {
        self.entry(elements, 0)
    }

    /// Removes and returns an element whose deadline <= now, earliest first.
    pub fn pop_due<E: HasTimer>(&mut self, elements: &mut [E], now: Instant) -> Option<usize> {
        let (deadline, index) = self.peek(elements)?;
        if deadline > now {
            return None;
        }
        self.remove_at(elements, 0);
        Some(index)
    }

    /// The heap position of element `index`, if it has a deadline.
    fn position_of<E: HasTimer>(&self, elements: &[E], index: usize) -> Option<usize> {
        let position = elements.get(index)?.timer().position;
        (position < self.len).then_some(loaded(position))
    }

    /// The heap entry at `position`, if within the heap.
    fn entry<E: HasTimer>(&self, elements: &[E], position: usize) -> Option<(Instant, usize)> {
        if position >= self.len() {
            return None;
        }
        let slot = elements.get(position)?.timer();
        Some((slot.heap_deadline, loaded(slot.heap_element)))
    }

    /// Puts (deadline, element) at heap `position` and records the position.
    fn write_entry<E: HasTimer>(
        &mut self,
        elements: &mut [E],
        position: usize,
        deadline: Instant,
        index: usize,
    ) {
        if let Some(element) = elements.get_mut(position) {
            let slot = element.timer_mut();
            slot.heap_deadline = deadline;
            slot.heap_element = stored(index);
        }
        if let Some(element) = elements.get_mut(index) {
            element.timer_mut().position = stored(position);
        }
    }

    /// Swaps the heap entries at `a` and `b`, keeping positions in step.
    fn swap<E: HasTimer>(&mut self, elements: &mut [E], a: usize, b: usize) {
        if let (Some(entry_a), Some(entry_b)) = (self.entry(elements, a), self.entry(elements, b)) {
            self.write_entry(elements, a, entry_b.0, entry_b.1);
            self.write_entry(elements, b, entry_a.0, entry_a.1);
        }
    }

    /// Whether the entry at `a` must come out before the one at `b`.
    fn earlier<E: HasTimer>(&self, elements: &[E], a: usize, b: usize) -> bool {
        match (self.entry(elements, a), self.entry(elements, b)) {
            (Some(a), Some(b)) => a < b,
            _ => false,
        }
    }

    /// Moves the entry at `position` towards the root while it is earlier
    /// than its parent; returns where it ends.
    fn sift_up<E: HasTimer>(&mut self, elements: &mut [E], mut position: usize) -> usize {
        while position > 0 {
            let parent = (position - 1) / 2;
            if !self.earlier(elements, position, parent) {
                break;
            }
            self.swap(elements, position, parent);
            position = parent;
        }
        position
    }

    /// Moves the entry at `position` towards the leaves while a child is
    /// earlier than it.
    fn sift_down<E: HasTimer>(&mut self, elements: &mut [E], mut position: usize) {
        loop {
            let left = position.saturating_mul(2).saturating_add(1);
            let right = left.saturating_add(1);
            let mut earliest = position;
            if self.earlier(elements, left, earliest) {
                earliest = left;
            }
            if self.earlier(elements, right, earliest) {
                earliest = right;
            }
            if earliest == position {
                return;
            }
            self.swap(elements, position, earliest);
            position = earliest;
        }
    }

    /// Removes the heap entry at `position`: the last entry takes its place
    /// and moves up or down to restore the heap order.
    fn remove_at<E: HasTimer>(&mut self, elements: &mut [E], position: usize) {
        let Some((_, index)) = self.entry(elements, position) else {
            return;
        };
        let last = self.len() - 1;
        if position != last {
            self.swap(elements, position, last);
        }
        self.len -= 1;
        if let Some(element) = elements.get_mut(index) {
            element.timer_mut().position = NONE;
        }
        if position < self.len() {
            let position = self.sift_up(elements, position);
            self.sift_down(elements, position);
        }
    }
}

/// One element's links in a [`ReadySet`]. 8 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadyLinks {
    /// The previous member, [`HEAD`] for the first, [`NONE`] when not a
    /// member.
    prev: u32,
    next: u32,
}

/// `ReadyLinks::prev` of the first member.
const HEAD: u32 = u32::MAX - 1;

impl ReadyLinks {
    /// The links of an element not in the set.
    pub const EMPTY: ReadyLinks = ReadyLinks {
        prev: NONE,
        next: NONE,
    };

    fn member(&self) -> bool {
        self.prev != NONE
    }
}

impl Default for ReadyLinks {
    fn default() -> Self {
        ReadyLinks::EMPTY
    }
}

/// Elements a [`ReadySet`] is threaded through.
pub trait HasReadyLinks {
    /// The element's links.
    fn ready_links(&self) -> &ReadyLinks;
    /// The element's links, mutably.
    fn ready_links_mut(&mut self) -> &mut ReadyLinks;
}

impl HasReadyLinks for ReadyLinks {
    fn ready_links(&self) -> &ReadyLinks {
        self
    }
    fn ready_links_mut(&mut self) -> &mut ReadyLinks {
        self
    }
}

/// Elements with something to send now: a FIFO of indices with a
/// membership mark, so insert is idempotent and O(1).
///
/// The FIFO is a doubly linked list threaded through per-element links, so
/// [`ReadySet::remove`] is O(1) and eager: a removed element leaves no
/// trace, and inserting it again puts it at the back.
#[derive(Debug, Clone)]
pub struct ReadySet {
    head: u32,
    tail: u32,
    len: u32,
}

impl Default for ReadySet {
    fn default() -> Self {
        ReadySet::new()
    }
}

impl ReadySet {
    /// An empty set (the elements' links must be [`ReadyLinks::EMPTY`]).
    pub const fn new() -> Self {
        ReadySet {
            head: NONE,
            tail: NONE,
            len: 0,
        }
    }

    /// Adds element `index` at the back; a no-op if it is already in the
    /// set or beyond the slice.
    pub fn insert<E: HasReadyLinks>(&mut self, elements: &mut [E], index: usize) {
        if index >= MAX_ELEMENTS {
            return;
        }
        let tail = self.tail;
        let Some(element) = elements.get_mut(index) else {
            return;
        };
        let links = element.ready_links_mut();
        if links.member() {
            return;
        }
        *links = ReadyLinks {
            prev: if tail == NONE { HEAD } else { tail },
            next: NONE,
        };
        match elements.get_mut(loaded(tail)) {
            Some(tail_element) => tail_element.ready_links_mut().next = stored(index),
            None => self.head = stored(index),
        }
        self.tail = stored(index);
        self.len += 1;
    }

    /// Takes element `index` out of the set, wherever it is; O(1). A no-op
    /// if absent.
    pub fn remove<E: HasReadyLinks>(&mut self, elements: &mut [E], index: usize) {
        let Some(element) = elements.get_mut(index) else {
            return;
        };
        let links = *element.ready_links();
        if !links.member() {
            return;
        }
        *element.ready_links_mut() = ReadyLinks::EMPTY;
        let prev = if links.prev == HEAD { NONE } else { links.prev };
        match elements.get_mut(loaded(prev)) {
            Some(prev_element) => prev_element.ready_links_mut().next = links.next,
            None => self.head = links.next,
        }
        match elements.get_mut(loaded(links.next)) {
            Some(next_element) => {
                next_element.ready_links_mut().prev = if prev == NONE { HEAD } else { prev }
            }
            None => self.tail = prev,
        }
        self.len -= 1;
    }

    /// Removes and returns the element inserted longest ago.
    pub fn pop<E: HasReadyLinks>(&mut self, elements: &mut [E]) -> Option<usize> {
        let head = loaded(self.head);
        if !self.contains(elements, head) {
            return None;
        }
        self.remove(elements, head);
        Some(head)
    }

    /// Whether element `index` is in the set.
    pub fn contains<E: HasReadyLinks>(&self, elements: &[E], index: usize) -> bool {
        elements
            .get(index)
            .is_some_and(|element| element.ready_links().member())
    }

    /// The number of elements in the set.
    pub fn len(&self) -> usize {
        loaded(self.len)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Empties the set.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn clear<E: HasReadyLinks>(&mut self, elements: &mut [E]) {
        for element in elements.iter_mut() {
            *element.ready_links_mut() = ReadyLinks::EMPTY;
        }
        *self = ReadySet::new();
    }
}

/// A singly linked FIFO of indices threaded through one `u32` link per
/// element ([`FifoList::UNLINKED`] when not a member). Push at the back and
/// pop at the front are O(1); removing from the middle walks the list, for
/// lists where that is rare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FifoList {
    head: u32,
    tail: u32,
    len: u32,
}

impl Default for FifoList {
    fn default() -> Self {
        FifoList::new()
    }
}

/// The link of the last member of a [`FifoList`].
const END: u32 = u32::MAX - 1;

impl FifoList {
    /// The link of an element that is in no list.
    pub const UNLINKED: u32 = NONE;

    /// An empty list.
    pub const fn new() -> Self {
        FifoList {
            head: NONE,
            tail: NONE,
            len: 0,
        }
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        loaded(self.len)
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first member.
    pub fn front(&self) -> Option<usize> {
        (self.head != NONE).then_some(loaded(self.head))
    }

    /// Appends element `index`, whose link `link(elements[index])` is; a
    /// no-op if it is already linked or beyond the slice.
    pub fn push_back<E>(&mut self, elements: &mut [E], index: usize, link: fn(&mut E) -> &mut u32) {
        if index >= MAX_ELEMENTS {
            return;
        }
        let Some(element) = elements.get_mut(index) else {
            return;
        };
        let own = link(element);
        if *own != NONE {
            return;
        }
        *own = END;
        match elements.get_mut(loaded(self.tail)) {
            Some(tail) => *link(tail) = stored(index),
            None => self.head = stored(index),
        }
        self.tail = stored(index);
        self.len += 1;
    }

    /// Removes and returns the first member.
    pub fn pop_front<E>(
        &mut self,
        elements: &mut [E],
        link: fn(&mut E) -> &mut u32,
    ) -> Option<usize> {
        let head = self.front()?;
        let element = elements.get_mut(head)?;
        let own = link(element);
        let next = *own;
        *own = NONE;
        if next == END {
            self.head = NONE;
            self.tail = NONE;
        } else {
            self.head = next;
        }
        self.len -= 1;
        Some(head)
    }

    /// Removes element `index` wherever it is (walks the list from the
    /// front); returns whether it was a member.
    pub fn remove<E>(
        &mut self,
        elements: &mut [E],
        index: usize,
        link: fn(&mut E) -> &mut u32,
    ) -> bool {
        let mut prev = NONE;
        let mut at = self.head;
        // At most `len` steps.
        for _ in 0..self.len {
            let Some(element) = elements.get_mut(loaded(at)) else {
                return false;
            };
            let next = *link(element);
            if loaded(at) == index {
                *link(element) = NONE;
                let after = if next == END { NONE } else { next };
                match elements.get_mut(loaded(prev)) {
                    Some(prev_element) => {
                        *link(prev_element) = if after == NONE { END } else { after }
                    }
                    None => self.head = after,
                }
                if self.tail == at {
                    self.tail = prev;
                }
                self.len -= 1;
                return true;
            }
            if next == END {
                return false;
            }
            prev = at;
            at = next;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::time::Duration;
    use std::collections::{BTreeMap, BTreeSet, VecDeque};
    use std::vec;
    use std::vec::Vec;

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn t(ms: i64) -> Instant {
        Instant::from_millis(ms)
    }

    /// The queue with its elements, answering the old owning API.
    struct Queue {
        q: TimerQueue,
        s: Vec<TimerSlot>,
    }

    impl Queue {
        fn capacity(&self) -> usize {
            self.s.len()
        }
        fn len(&self) -> usize {
            self.q.len()
        }
        fn is_empty(&self) -> bool {
            self.q.is_empty()
        }
        fn set(&mut self, slot: usize, deadline: Option<Instant>) {
            self.q.set(&mut self.s, slot, deadline)
        }
        fn deadline(&self, slot: usize) -> Option<Instant> {
            self.q.deadline(&self.s, slot)
        }
        fn peek(&self) -> Option<(Instant, usize)> {
            self.q.peek(&self.s)
        }
        fn pop_due(&mut self, now: Instant) -> Option<usize> {
            self.q.pop_due(&mut self.s, now)
        }
        fn clear(&mut self) {
            self.q.clear(&mut self.s)
        }
        fn position_of(&self, slot: usize) -> Option<usize> {
            self.q.position_of(&self.s, slot)
        }
        fn entry(&self, position: usize) -> Option<(Instant, usize)> {
            self.q.entry(&self.s, position)
        }
    }

    fn queue(n: usize) -> Queue {
        Queue {
            q: TimerQueue::new(),
            s: vec![TimerSlot::EMPTY; n],
        }
    }

    /// Checks the heap order and that positions and entries agree.
    fn check_heap(q: &Queue) {
        for position in 1..q.len() {
            let parent = (position - 1) / 2;
            assert!(
                q.entry(parent) < q.entry(position),
                "heap order at {position}"
            );
        }
        let mut with_deadline = 0;
        for slot in 0..q.capacity() {
            if let Some(position) = q.position_of(slot) {
                with_deadline += 1;
                assert_eq!(q.entry(position).map(|e| e.1), Some(slot));
            }
        }
        assert_eq!(with_deadline, q.len());
    }

    #[test]
    fn set_peek_pop() {
        let mut q = queue(4);
        assert!(q.is_empty());
        assert_eq!(q.peek(), None);
        q.set(2, Some(t(30)));
        q.set(0, Some(t(10)));
        q.set(3, Some(t(20)));
        assert_eq!(q.len(), 3);
        assert_eq!(q.peek(), Some((t(10), 0)));
        assert_eq!(q.deadline(3), Some(t(20)));
        assert_eq!(q.deadline(1), None);
        assert_eq!(q.pop_due(t(9)), None);
        assert_eq!(q.pop_due(t(10)), Some(0), "due exactly at the deadline");
        assert_eq!(q.pop_due(t(10)), None);
        assert_eq!(q.deadline(0), None);
        assert_eq!(q.pop_due(t(100)), Some(3));
        assert_eq!(q.pop_due(t(100)), Some(2));
        assert_eq!(q.pop_due(t(100)), None);
        assert!(q.is_empty());
        check_heap(&q);
    }

    #[test]
    fn moves_up_and_down() {
        let mut q = queue(8);
        for slot in 0..8 {
            q.set(slot, Some(t(100 + 10 * slot as i64)));
        }
        // Move the latest to the front.
        q.set(7, Some(t(1)));
        check_heap(&q);
        assert_eq!(q.peek(), Some((t(1), 7)));
        // Move the earliest to the back.
        q.set(7, Some(t(1000)));
        check_heap(&q);
        assert_eq!(q.peek(), Some((t(100), 0)));
        q.set(0, Some(t(500)));
        check_heap(&q);
        assert_eq!(q.peek(), Some((t(110), 1)));
        assert_eq!(q.len(), 8, "moves do not add entries");
        let order: Vec<usize> = core::iter::from_fn(|| q.pop_due(t(10_000))).collect();
        assert_eq!(order, [1, 2, 3, 4, 5, 6, 0, 7]);
    }

    #[test]
    fn clear_one_and_all() {
        let mut q = queue(5);
        for slot in 0..5 {
            q.set(slot, Some(t(5 - slot as i64)));
        }
        q.set(4, None);
        q.set(4, None);
        assert_eq!(q.deadline(4), None);
        assert_eq!(q.len(), 4);
        check_heap(&q);
        assert_eq!(q.peek(), Some((t(2), 3)));
        q.set(1, None);
        check_heap(&q);
        let order: Vec<usize> = core::iter::from_fn(|| q.pop_due(t(10))).collect();
        assert_eq!(order, [3, 2, 0]);
        q.set(2, Some(t(7)));
        q.clear();
        assert!(q.is_empty());
        assert_eq!(q.deadline(2), None);
        assert_eq!(q.peek(), None);
        q.set(2, Some(t(8)));
        assert_eq!(q.peek(), Some((t(8), 2)));
    }

    #[test]
    fn ties_pop_lowest_slot_first() {
        let mut q = queue(6);
        for slot in [4, 1, 5, 0, 3] {
            q.set(slot, Some(t(50)));
        }
        q.set(2, Some(t(49)));
        assert_eq!(q.pop_due(t(49)), Some(2));
        assert_eq!(q.pop_due(t(49)), None);
        let order: Vec<usize> = core::iter::from_fn(|| q.pop_due(t(50))).collect();
        assert_eq!(order, [0, 1, 3, 4, 5]);
    }

    #[test]
    fn out_of_range_slots_are_ignored() {
        let mut q = queue(2);
        q.set(2, Some(t(1)));
        q.set(usize::MAX, Some(t(1)));
        q.set(usize::MAX, None);
        assert_eq!(q.deadline(2), None);
        assert_eq!(q.deadline(usize::MAX), None);
        assert!(q.is_empty());
        let mut empty = queue(0);
        empty.set(0, Some(t(1)));
        assert_eq!(empty.peek(), None);
        assert_eq!(empty.pop_due(t(100)), None);
    }

    #[test]
    fn borrowed_storage_and_extreme_instants() {
        let mut q = queue(3);
        q.set(0, Some(Instant::from_micros(i64::MAX)));
        q.set(1, Some(Instant::from_micros(i64::MIN)));
        q.set(2, Some(Instant::ZERO + Duration::from_micros(1)));
        assert_eq!(q.pop_due(Instant::ZERO), Some(1));
        assert_eq!(q.pop_due(Instant::ZERO), None);
        assert_eq!(q.pop_due(Instant::from_micros(i64::MAX)), Some(2));
        assert_eq!(q.pop_due(Instant::from_micros(i64::MAX)), Some(0));
    }

    /// 10,000 random set/clear/pop operations over 64 slots, checked against
    /// a BTreeMap of (deadline, slot) plus a per-slot deadline map.
    #[test]
    fn randomized_against_btreemap() {
        const SLOTS: usize = 64;
        let mut rng = Rng(0x7133_0001);
        let mut q = queue(SLOTS);
        let mut by_time: BTreeMap<(Instant, usize), ()> = BTreeMap::new();
        let mut by_slot: BTreeMap<usize, Instant> = BTreeMap::new();
        let mut now = t(0);
        for step in 0..10_000 {
            match rng.below(10) {
                0..=5 => {
                    // Set or move; small time range so ties are common.
                    let slot = rng.below(SLOTS as u64 + 2) as usize;
                    let deadline = now + Duration::from_millis(rng.below(200));
                    q.set(slot, Some(deadline));
                    if slot < SLOTS {
                        if let Some(old) = by_slot.insert(slot, deadline) {
                            by_time.remove(&(old, slot));
                        }
                        by_time.insert((deadline, slot), ());
                    }
                }
                6 => {
                    let slot = rng.below(SLOTS as u64) as usize;
                    q.set(slot, None);
                    if let Some(old) = by_slot.remove(&slot) {
                        by_time.remove(&(old, slot));
                    }
                }
                _ => {
                    now += Duration::from_millis(rng.below(30));
                    loop {
                        let expect = by_time
                            .keys()
                            .next()
                            .copied()
                            .filter(|&(deadline, _)| deadline <= now);
                        let got = q.pop_due(now);
                        assert_eq!(got, expect.map(|(_, slot)| slot), "step {step}");
                        let Some((deadline, slot)) = expect else {
                            break;
                        };
                        by_time.remove(&(deadline, slot));
                        by_slot.remove(&slot);
                    }
                }
            }
            assert_eq!(q.len(), by_time.len());
            assert_eq!(q.peek(), by_time.keys().next().map(|&(d, s)| (d, s)));
            let probe = rng.below(SLOTS as u64) as usize;
            assert_eq!(q.deadline(probe), by_slot.get(&probe).copied());
            if step % 97 == 0 {
                check_heap(&q);
            }
        }
        check_heap(&q);
    }

    /// The set with its elements, answering the old owning API.
    struct Ready {
        r: ReadySet,
        s: Vec<ReadyLinks>,
    }

    impl Ready {
        fn insert(&mut self, slot: usize) {
            self.r.insert(&mut self.s, slot)
        }
        fn remove(&mut self, slot: usize) {
            self.r.remove(&mut self.s, slot)
        }
        fn pop(&mut self) -> Option<usize> {
            self.r.pop(&mut self.s)
        }
        fn contains(&self, slot: usize) -> bool {
            self.r.contains(&self.s, slot)
        }
        fn len(&self) -> usize {
            self.r.len()
        }
        fn is_empty(&self) -> bool {
            self.r.is_empty()
        }
        fn clear(&mut self) {
            self.r.clear(&mut self.s)
        }
    }

    fn ready(n: usize) -> Ready {
        Ready {
            r: ReadySet::new(),
            s: vec![ReadyLinks::EMPTY; n],
        }
    }

    #[test]
    fn ready_set_fifo_and_idempotent() {
        let mut r = ready(8);
        assert_eq!(r.pop(), None);
        r.insert(5);
        r.insert(2);
        r.insert(5);
        r.insert(7);
        r.insert(2);
        assert_eq!(r.len(), 3);
        assert!(r.contains(5) && r.contains(2) && r.contains(7));
        assert!(!r.contains(0));
        assert_eq!(r.pop(), Some(5));
        assert!(!r.contains(5));
        r.insert(5);
        assert_eq!(r.pop(), Some(2));
        assert_eq!(r.pop(), Some(7));
        assert_eq!(r.pop(), Some(5));
        assert_eq!(r.pop(), None);
        assert!(r.is_empty());
    }

    #[test]
    fn ready_set_remove_anywhere() {
        let mut r = ready(6);
        for slot in [0, 1, 2, 3, 4] {
            r.insert(slot);
        }
        r.remove(2); // middle
        r.remove(0); // head
        r.remove(4); // tail
        r.remove(4); // absent: no-op
        assert_eq!(r.len(), 2);
        r.insert(0); // back at the end, not at its old place
        r.insert(4);
        let order: Vec<usize> = core::iter::from_fn(|| r.pop()).collect();
        assert_eq!(order, [1, 3, 0, 4]);
        r.insert(3);
        r.remove(3); // the only member
        assert!(r.is_empty());
        assert_eq!(r.pop(), None);
        r.insert(1);
        assert_eq!(r.pop(), Some(1));
    }

    #[test]
    fn ready_set_out_of_range_and_clear() {
        let mut r = ready(2);
        r.insert(2);
        r.insert(usize::MAX);
        r.remove(usize::MAX);
        assert!(!r.contains(usize::MAX));
        assert!(r.is_empty());
        r.insert(1);
        r.insert(0);
        r.clear();
        assert!(r.is_empty());
        assert!(!r.contains(1));
        r.insert(0);
        assert_eq!(r.pop(), Some(0));
        let mut none = ready(0);
        none.insert(0);
        assert_eq!(none.pop(), None);
    }

    #[test]
    fn ready_set_randomized_against_model() {
        const SLOTS: usize = 32;
        let mut rng = Rng(42);
        let mut r = ready(SLOTS);
        let mut model: VecDeque<usize> = VecDeque::new();
        for _ in 0..10_000 {
            let slot = rng.below(SLOTS as u64) as usize;
            match rng.below(3) {
                0 => {
                    r.insert(slot);
                    if !model.contains(&slot) {
                        model.push_back(slot);
                    }
                }
                1 => {
                    r.remove(slot);
                    model.retain(|&s| s != slot);
                }
                _ => assert_eq!(r.pop(), model.pop_front()),
            }
            assert_eq!(r.len(), model.len());
            assert_eq!(r.contains(slot), model.contains(&slot));
        }
        let members: BTreeSet<usize> = (0..SLOTS).filter(|&s| r.contains(s)).collect();
        assert_eq!(members, model.iter().copied().collect());
        let drained: Vec<usize> = core::iter::from_fn(|| r.pop()).collect();
        assert_eq!(drained, Vec::from(model));
    }

    fn link(element: &mut u32) -> &mut u32 {
        element
    }

    #[test]
    fn fifo_list_push_pop_remove() {
        let mut links = vec![FifoList::UNLINKED; 6];
        let mut l = FifoList::new();
        assert_eq!(l.pop_front(&mut links, link), None);
        for i in [3, 1, 4, 1, 5] {
            l.push_back(&mut links, i, link);
        }
        assert_eq!(l.len(), 4, "pushing a member again is a no-op");
        assert_eq!(l.front(), Some(3));
        assert!(l.remove(&mut links, 4, link), "middle");
        assert!(!l.remove(&mut links, 4, link), "absent");
        assert!(l.remove(&mut links, 5, link), "tail");
        l.push_back(&mut links, 0, link);
        assert!(l.remove(&mut links, 3, link), "head");
        let order: Vec<usize> = core::iter::from_fn(|| l.pop_front(&mut links, link)).collect();
        assert_eq!(order, [1, 0]);
        assert!(l.is_empty());
        assert!(links.iter().all(|&x| x == FifoList::UNLINKED));
        l.push_back(&mut links, 2, link);
        assert!(l.remove(&mut links, 2, link), "only member");
        assert_eq!(l.front(), None);
        l.push_back(&mut links, 9, link);
        assert!(l.is_empty(), "beyond the slice");
    }

    #[test]
    fn fifo_list_randomized_against_model() {
        const N: usize = 24;
        let mut rng = Rng(77);
        let mut links = vec![FifoList::UNLINKED; N];
        let mut l = FifoList::new();
        let mut model: VecDeque<usize> = VecDeque::new();
        for _ in 0..10_000 {
            let i = rng.below(N as u64) as usize;
            match rng.below(3) {
                0 => {
                    l.push_back(&mut links, i, link);
                    if !model.contains(&i) {
                        model.push_back(i);
                    }
                }
                1 => {
                    let was = model.contains(&i);
                    assert_eq!(l.remove(&mut links, i, link), was);
                    model.retain(|&m| m != i);
                }
                _ => assert_eq!(l.pop_front(&mut links, link), model.pop_front()),
            }
            assert_eq!(l.len(), model.len());
            assert_eq!(l.front(), model.front().copied());
            // Every member's link is set, every other one unlinked.
            for (index, &value) in links.iter().enumerate() {
                assert_eq!(value != FifoList::UNLINKED, model.contains(&index));
            }
        }
    }
}
