//! Deadlines and the ready set: poll work proportional to
//! the sockets that have something to do, not a scan of every socket.
//!
//! [`TimerQueue`] holds at most one deadline per socket slot in an indexed
//! binary min-heap, so setting, moving or clearing a deadline is O(log n) and
//! finding the earliest is O(1). [`ReadySet`] is a FIFO of slots with data or
//! control to send, as an intrusive doubly linked list over per-slot links,
//! so insert, remove and pop are all O(1) and insert is idempotent.
//!
//! Both take caller-provided storage with one element per socket slot
//! ([`ManagedSlice`]), fixed at construction, and allocate nothing. Slot
//! indices at or beyond the capacity are ignored (or answered with `None`),
//! never a panic.

use managed::ManagedSlice;

use crate::time::Instant;

/// Marks "no index": a slot not in the heap, or the end of a list.
const NONE: usize = usize::MAX;

/// One element of a [`TimerQueue`]'s storage. The storage serves two arrays
/// of the same length at once: element `i` holds the heap's `i`-th entry
/// (a deadline and the slot it belongs to) and the heap position of slot
/// `i`. The caller allocates e.g. `vec![TimerSlot::default(); n]` or a static
/// array for `n` socket slots.
#[derive(Debug, Clone, Copy)]
pub struct TimerSlot {
    /// The heap entry at this heap index (meaningful below the heap's len).
    heap_deadline: Instant,
    heap_slot: usize,
    /// Where the socket slot with this index sits in the heap, or NONE.
    position: usize,
}

impl Default for TimerSlot {
    fn default() -> Self {
        TimerSlot {
            heap_deadline: Instant::ZERO,
            heap_slot: NONE,
            position: NONE,
        }
    }
}

/// An indexed binary min-heap of (Instant, slot): at most one deadline per slot.
///
/// Entries are ordered by deadline, then by slot index, so equal deadlines
/// come out lowest slot first and the order is deterministic.
#[derive(Debug)]
pub struct TimerQueue<'a> {
    storage: ManagedSlice<'a, TimerSlot>,
    len: usize,
}

impl<'a> TimerQueue<'a> {
    /// A queue for as many socket slots as `storage` has elements; any
    /// previous contents of the storage are discarded.
    pub fn new<S: Into<ManagedSlice<'a, TimerSlot>>>(storage: S) -> Self {
        let mut storage = storage.into();
        for element in storage.iter_mut() {
            *element = TimerSlot::default();
        }
        TimerQueue { storage, len: 0 }
    }

    /// The number of socket slots the queue serves.
    pub fn capacity(&self) -> usize {
        self.storage.len()
    }

    /// The number of slots that have a deadline.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no slot has a deadline.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Clears every deadline.
    pub fn clear(&mut self) {
        for element in self.storage.iter_mut() {
            *element = TimerSlot::default();
        }
        self.len = 0;
    }

    /// Sets (or moves, or with None clears) the deadline of `slot`. O(log n).
    /// A slot beyond the capacity is ignored.
    pub fn set(&mut self, slot: usize, deadline: Option<Instant>) {
        if slot >= self.storage.len() {
            return;
        }
        let position = self.position_of(slot);
        match (deadline, position) {
            (None, None) => {}
            (None, Some(position)) => self.remove_at(position),
            (Some(deadline), Some(position)) => {
                self.write_entry(position, deadline, slot);
                let position = self.sift_up(position);
                self.sift_down(position);
            }
            (Some(deadline), None) => {
                // len < capacity here: the slot is not in the heap, and the
                // heap holds at most one entry per slot.
                let position = self.len;
                self.len += 1;
                self.write_entry(position, deadline, slot);
                self.sift_up(position);
            }
        }
    }

    /// The deadline of `slot`, if it has one.
    pub fn deadline(&self, slot: usize) -> Option<Instant> {
        let position = self.position_of(slot)?;
        self.entry(position).map(|(deadline, _)| deadline)
    }

    /// The earliest (deadline, slot).
    pub fn peek(&self) -> Option<(Instant, usize)> {
        self.entry(0)
    }

    /// Removes and returns a slot whose deadline <= now, earliest first.
    pub fn pop_due(&mut self, now: Instant) -> Option<usize> {
        let (deadline, slot) = self.peek()?;
        if deadline > now {
            return None;
        }
        self.remove_at(0);
        Some(slot)
    }

    /// The heap position of `slot`, if it has a deadline.
    fn position_of(&self, slot: usize) -> Option<usize> {
        let position = self.storage.get(slot)?.position;
        (position < self.len).then_some(position)
    }

    /// The heap entry at `position`, if within the heap.
    fn entry(&self, position: usize) -> Option<(Instant, usize)> {
        if position >= self.len {
            return None;
        }
        let element = self.storage.get(position)?;
        Some((element.heap_deadline, element.heap_slot))
    }

    /// Puts (deadline, slot) at heap `position` and records the position.
    fn write_entry(&mut self, position: usize, deadline: Instant, slot: usize) {
        if let Some(element) = self.storage.get_mut(position) {
            element.heap_deadline = deadline;
            element.heap_slot = slot;
        }
        if let Some(element) = self.storage.get_mut(slot) {
            element.position = position;
        }
    }

    /// Swaps the heap entries at `a` and `b`, keeping positions in step.
    fn swap(&mut self, a: usize, b: usize) {
        if let (Some(entry_a), Some(entry_b)) = (self.entry(a), self.entry(b)) {
            self.write_entry(a, entry_b.0, entry_b.1);
            self.write_entry(b, entry_a.0, entry_a.1);
        }
    }

    /// Whether the entry at `a` must come out before the one at `b`.
    fn earlier(&self, a: usize, b: usize) -> bool {
        match (self.entry(a), self.entry(b)) {
            (Some(a), Some(b)) => a < b,
            _ => false,
        }
    }

    /// Moves the entry at `position` towards the root while it is earlier
    /// than its parent; returns where it ends.
    fn sift_up(&mut self, mut position: usize) -> usize {
        while position > 0 {
            let parent = (position - 1) / 2;
            if !self.earlier(position, parent) {
                break;
            }
            self.swap(position, parent);
            position = parent;
        }
        position
    }

    /// Moves the entry at `position` towards the leaves while a child is
    /// earlier than it.
    fn sift_down(&mut self, mut position: usize) {
        loop {
            let left = position.saturating_mul(2).saturating_add(1);
            let right = left.saturating_add(1);
            let mut earliest = position;
            if self.earlier(left, earliest) {
                earliest = left;
            }
            if self.earlier(right, earliest) {
                earliest = right;
            }
            if earliest == position {
                return;
            }
            self.swap(position, earliest);
            position = earliest;
        }
    }

    /// Removes the heap entry at `position`: the last entry takes its place
    /// and moves up or down to restore the heap order.
    fn remove_at(&mut self, position: usize) {
        let Some((_, slot)) = self.entry(position) else {
            return;
        };
        let last = self.len - 1;
        if position != last {
            self.swap(position, last);
        }
        self.len = last;
        if let Some(element) = self.storage.get_mut(slot) {
            element.position = NONE;
        }
        if position < self.len {
            let position = self.sift_up(position);
            self.sift_down(position);
        }
    }
}

/// One element of a [`ReadySet`]'s storage: the links of socket slot `i`
/// in the FIFO. The caller allocates e.g. `vec![ReadySlot::default(); n]`.
#[derive(Debug, Clone, Copy)]
pub struct ReadySlot {
    member: bool,
    prev: usize,
    next: usize,
}

impl Default for ReadySlot {
    fn default() -> Self {
        ReadySlot {
            member: false,
            prev: NONE,
            next: NONE,
        }
    }
}

/// Slots with something to send now: a FIFO of slot indices with a membership bit, so insert is idempotent and O(1).
///
/// The FIFO is a doubly linked list threaded through per-slot links, so
/// [`ReadySet::remove`] is O(1) and eager: a removed slot leaves no trace,
/// and inserting it again puts it at the back.
#[derive(Debug)]
pub struct ReadySet<'a> {
    links: ManagedSlice<'a, ReadySlot>,
    head: usize,
    tail: usize,
    len: usize,
}

impl<'a> ReadySet<'a> {
    /// A set for as many socket slots as `storage` has elements; any
    /// previous contents of the storage are discarded.
    pub fn new<S: Into<ManagedSlice<'a, ReadySlot>>>(storage: S) -> Self {
        let mut links = storage.into();
        for link in links.iter_mut() {
            *link = ReadySlot::default();
        }
        ReadySet {
            links,
            head: NONE,
            tail: NONE,
            len: 0,
        }
    }

    /// The number of socket slots the set serves.
    pub fn capacity(&self) -> usize {
        self.links.len()
    }

    /// Adds `slot` at the back; a no-op if it is already in the set or
    /// beyond the capacity.
    pub fn insert(&mut self, slot: usize) {
        let tail = self.tail;
        let Some(link) = self.links.get_mut(slot) else {
            return;
        };
        if link.member {
            return;
        }
        *link = ReadySlot {
            member: true,
            prev: tail,
            next: NONE,
        };
        match self.links.get_mut(tail) {
            Some(tail_link) => tail_link.next = slot,
            None => self.head = slot,
        }
        self.tail = slot;
        self.len += 1;
    }

    /// Takes `slot` out of the set, wherever it is; O(1). A no-op if absent.
    pub fn remove(&mut self, slot: usize) {
        let Some(link) = self.links.get_mut(slot) else {
            return;
        };
        if !link.member {
            return;
        }
        let (prev, next) = (link.prev, link.next);
        *link = ReadySlot::default();
        match self.links.get_mut(prev) {
            Some(prev_link) => prev_link.next = next,
            None => self.head = next,
        }
        match self.links.get_mut(next) {
            Some(next_link) => next_link.prev = prev,
            None => self.tail = prev,
        }
        self.len -= 1;
    }

    /// Removes and returns the slot inserted longest ago.
    pub fn pop(&mut self) -> Option<usize> {
        let head = self.head;
        if !self.contains(head) {
            return None;
        }
        self.remove(head);
        Some(head)
    }

    /// Whether `slot` is in the set.
    pub fn contains(&self, slot: usize) -> bool {
        self.links.get(slot).is_some_and(|link| link.member)
    }

    /// The number of slots in the set.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Empties the set.
    pub fn clear(&mut self) {
        for link in self.links.iter_mut() {
            *link = ReadySlot::default();
        }
        self.head = NONE;
        self.tail = NONE;
        self.len = 0;
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

    fn queue(n: usize) -> TimerQueue<'static> {
        // Leaked borrowed storage: the tests run with and without `alloc`.
        TimerQueue::new(vec![TimerSlot::default(); n].leak())
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn owned_storage() {
        let mut q = TimerQueue::new(vec![TimerSlot::default(); 2]);
        let mut r = ReadySet::new(vec![ReadySlot::default(); 2]);
        q.set(1, Some(t(5)));
        r.insert(1);
        assert_eq!(q.pop_due(t(5)), Some(1));
        assert_eq!(r.pop(), Some(1));
    }

    /// Checks the heap order and that positions and entries agree.
    fn check_heap(q: &TimerQueue) {
        for position in 1..q.len {
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
        assert_eq!(with_deadline, q.len);
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
        let mut empty = TimerQueue::new(&mut [][..]);
        empty.set(0, Some(t(1)));
        assert_eq!(empty.peek(), None);
        assert_eq!(empty.pop_due(t(100)), None);
    }

    #[test]
    fn borrowed_storage_and_extreme_instants() {
        let mut storage = [TimerSlot::default(); 3];
        let mut q = TimerQueue::new(&mut storage[..]);
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

    fn ready(n: usize) -> ReadySet<'static> {
        ReadySet::new(vec![ReadySlot::default(); n].leak())
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
        let mut none = ReadySet::new(&mut [][..]);
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
}
