//! IPv4 reassembly (RFC 791 section 3.2, RFC 815) in bounded,
//! caller-provided storage.
//!
//! Fragments belong to the datagram named by source, destination,
//! protocol and identification (RFC 791). Each datagram in flight takes a
//! [`ReassemblySlot`]; their bytes share one byte pool, where a datagram
//! occupies a contiguous region as long as its furthest fragment reaches
//! (so a completed datagram is handed up as one slice, without a copy).
//! Regions are moved together (compacted) when one must grow and has no
//! room after it; nothing is allocated after setup.
//!
//! The rules, each counted in [`ReassemblyStats`]:
//! - **Timeout:** a datagram not complete [`ReassemblyConfig::timeout`]
//!   after its first fragment arrived is dropped, at that instant exactly.
//!   The default is 15 seconds, RFC 791's suggested initial timer: RFC
//!   1122 section 3.3.2 recommends 60 to 120 seconds for long-delay paths,
//!   but every incomplete datagram holds its memory for the whole timeout,
//!   and on the links this stack runs on the fragments of one datagram
//!   arrive within milliseconds of each other, so a shorter timer frees a
//!   small pool sooner after a lost fragment (Linux uses 30 s).
//! - **Overlap:** a fragment may repeat bytes already received only if
//!   they are identical (a duplicated packet); a fragment whose bytes
//!   differ from those already received for the same offsets, or that
//!   disagrees about where the datagram ends, discards the whole datagram,
//!   and the datagram's later fragments are dropped until its timeout (as
//!   RFC 5722 rules for IPv6; IPv4 overlaps with different data are how
//!   fragmentation attacks hide a payload from middleboxes).
//! - **Memory:** when a fragment's datagram would need more bytes than the
//!   pool has free, or no slot is free for a new datagram, that datagram
//!   is discarded (its later fragments dropped until its timeout, without
//!   memory); datagrams already in the pool keep their room, so a flood of
//!   new fragments cannot push out datagrams nearly done.
//! - **Validity:** every fragment but the last carries a multiple of 8
//!   bytes, and no fragment reaches beyond the largest datagram (65,535
//!   bytes with a 20-byte header, RFC 791); others are dropped.
//!
//! A timed-out datagram is dropped silently: RFC 792 lets a host send a
//! "fragment reassembly time exceeded" message, it does not require one.
//! The reassembled datagram's header is the first fragment's (its TTL),
//! without options.

use managed::ManagedSlice;

use crate::time::{Duration, Instant};
use crate::wire::{IpEcn, IpProtocol, Ipv4Address, Ipv4Packet, Ipv4Repr};

/// The default reassembly timeout (see the module documentation).
pub const DEFAULT_REASSEMBLY_TIMEOUT: Duration = Duration::from_secs(15);

/// The most disjoint pieces a datagram's received bytes may form before
/// it is complete; a datagram cut into more holes is discarded (counted as
/// no space). Fragments that arrive in order, or in reverse, form one.
pub const MAX_FRAGMENT_RANGES: usize = 16;

/// The largest payload a reassembled datagram can have: a total length of
/// 65,535 bytes with a 20-byte header.
pub const MAX_DATAGRAM_PAYLOAD: usize = 65535 - 20;

/// Reassembly settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ReassemblyConfig {
    /// How long after its first fragment an incomplete datagram is dropped.
    pub timeout: Duration,
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        ReassemblyConfig {
            timeout: DEFAULT_REASSEMBLY_TIMEOUT,
        }
    }
}

/// Reassembly counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ReassemblyStats {
    /// Fragments received (valid or not).
    pub fragments: u64,
    /// Datagrams reassembled whole.
    pub reassembled: u64,
    /// Datagrams dropped incomplete at their timeout.
    pub timed_out: u64,
    /// Datagrams discarded for a conflicting overlap.
    pub overlaps: u64,
    /// Datagrams discarded for want of memory, a slot, or a range entry.
    pub no_space: u64,
    /// Fragments dropped as invalid (a length not a multiple of 8 before
    /// the last, beyond the largest datagram), or because their datagram
    /// was discarded.
    pub fragments_dropped: u64,
}

/// What [`Reassembler::add`] did with a fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FragmentOutcome {
    /// Stored; the datagram is not complete yet.
    Stored,
    /// The datagram is complete, in the slot given: read it with
    /// [`Reassembler::datagram`], then [`release`](Reassembler::release)
    /// it.
    Complete(usize),
    /// Dropped: invalid, or of a datagram being discarded.
    Dropped,
    /// The fragment conflicted with what was received: the datagram is
    /// discarded.
    Overlap,
    /// No memory or slot for it: the datagram is discarded.
    NoSpace,
}

/// The identity of a datagram (RFC 791 section 3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
struct Key {
    src: Ipv4Address,
    dst: Ipv4Address,
    protocol: u8,
    ident: u16,
}

/// A datagram being reassembled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
struct Datagram {
    key: Key,
    deadline: Instant,
    /// Its region of the pool.
    start: usize,
    reserved: usize,
    /// The payload length, once the last fragment told it.
    total: Option<usize>,
    /// The received byte ranges, sorted, disjoint and not adjacent.
    ranges: [(u32, u32); MAX_FRAGMENT_RANGES],
    range_count: u8,
    /// From the first fragment (offset 0), once it came.
    hop_limit: u8,
    /// The ECN field: CE if any fragment had CE (RFC 3168 section 5.3),
    /// else the first fragment's.
    ecn: IpEcn,
    /// Whether any fragment came in a link-layer broadcast frame (the
    /// datagram then draws no ICMP error, RFC 1122 section 3.2.2).
    link_broadcast: bool,
}

/// The storage one datagram in flight needs; give the [`Reassembler`] as
/// many as datagrams may be reassembled at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ReassemblySlot(SlotState);

impl ReassemblySlot {
    /// An unused slot.
    pub const EMPTY: ReassemblySlot = ReassemblySlot(SlotState::Free);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum SlotState {
    #[default]
    Free,
    Assembling(Datagram),
    /// Discarded: its fragments are dropped until the deadline.
    Discarding {
        key: Key,
        deadline: Instant,
    },
}

impl SlotState {
    fn key(&self) -> Option<Key> {
        match self {
            SlotState::Free => None,
            SlotState::Assembling(d) => Some(d.key),
            SlotState::Discarding { key, .. } => Some(*key),
        }
    }

    fn deadline(&self) -> Option<Instant> {
        match self {
            SlotState::Free => None,
            SlotState::Assembling(d) => Some(d.deadline),
            SlotState::Discarding { deadline, .. } => Some(*deadline),
        }
    }

    /// The pool region, if it has one.
    fn region(&self) -> Option<(usize, usize)> {
        match self {
            SlotState::Assembling(d) if d.reserved > 0 => Some((d.start, d.reserved)),
            _ => None,
        }
    }
}

/// IPv4 reassembly in caller-provided storage: `slots` bound the datagrams
/// in flight, `buffer` their total bytes.
#[derive(Debug)]
pub struct Reassembler<'a> {
    slots: ManagedSlice<'a, ReassemblySlot>,
    buffer: ManagedSlice<'a, u8>,
    config: ReassemblyConfig,
    next_deadline: Option<Instant>,
    stats: ReassemblyStats,
}

impl<'a> Reassembler<'a> {
    /// A reassembler over `slots` (datagrams in flight) and `buffer` (their
    /// bytes). Empty slots or buffer: every fragment is dropped.
    pub fn new(
        slots: ManagedSlice<'a, ReassemblySlot>,
        buffer: ManagedSlice<'a, u8>,
        config: ReassemblyConfig,
    ) -> Reassembler<'a> {
        let mut reassembler = Reassembler {
            slots,
            buffer,
            config,
            next_deadline: None,
            stats: ReassemblyStats::default(),
        };
        for slot in reassembler.slots.iter_mut() {
            *slot = ReassemblySlot::EMPTY;
        }
        reassembler
    }

    /// A reassembler without storage.
    pub fn empty() -> Reassembler<'a> {
        Reassembler::new(
            ManagedSlice::Borrowed(&mut []),
            ManagedSlice::Borrowed(&mut []),
            ReassemblyConfig::default(),
        )
    }

    /// The settings.
    pub fn config(&self) -> ReassemblyConfig {
        self.config
    }

    /// Changes the settings (datagrams in flight keep their deadlines).
    pub fn set_config(&mut self, config: ReassemblyConfig) {
        self.config = config;
    }

    /// The counters.
    pub fn stats(&self) -> ReassemblyStats {
        self.stats
    }

    /// How many datagrams can be in flight.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// The pool's size in bytes.
    pub fn memory(&self) -> usize {
        self.buffer.len()
    }

    /// The pool bytes datagrams in flight hold.
    pub fn memory_used(&self) -> usize {
        self.slots
            .iter()
            .filter_map(|s| s.0.region())
            .map(|(_, len)| len)
            .sum()
    }

    /// How many datagrams are being reassembled (discarded ones not
    /// counted).
    pub fn in_flight(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| matches!(s.0, SlotState::Assembling(_)))
            .count()
    }

    /// The earliest deadline of a datagram in flight or being discarded.
    pub fn poll_at(&self) -> Option<Instant> {
        self.next_deadline
    }

    /// Drops every datagram whose deadline is at or before `now`; returns
    /// how many incomplete datagrams timed out. One comparison when none
    /// is due.
    pub fn expire(&mut self, now: Instant) -> usize {
        if self.next_deadline.is_none_or(|at| now < at) {
            return 0;
        }
        let mut timed_out = 0;
        for slot in self.slots.iter_mut() {
            if slot.0.deadline().is_some_and(|at| at <= now) {
                if matches!(slot.0, SlotState::Assembling(_)) {
                    timed_out += 1;
                }
                slot.0 = SlotState::Free;
            }
        }
        self.stats.timed_out += timed_out as u64;
        self.update_deadline();
        timed_out
    }

    /// Takes in one fragment (MF set or a non-zero offset) whose header the
    /// caller has checked (version, checksum, addresses). Expires due
    /// datagrams first.
    pub fn add<T: AsRef<[u8]> + ?Sized>(
        &mut self,
        now: Instant,
        packet: &Ipv4Packet<&T>,
    ) -> FragmentOutcome {
        self.add_from_link(now, packet, false)
    }

    /// [`add`](Self::add), saying whether the fragment came in a
    /// link-layer broadcast frame: the datagram remembers if any did
    /// ([`from_link_broadcast`](Self::from_link_broadcast)).
    pub fn add_from_link<T: AsRef<[u8]> + ?Sized>(
        &mut self,
        now: Instant,
        packet: &Ipv4Packet<&T>,
        link_broadcast: bool,
    ) -> FragmentOutcome {
        self.expire(now);
        self.stats.fragments += 1;
        let key = Key {
            src: packet.src_addr(),
            dst: packet.dst_addr(),
            protocol: u8::from(packet.next_header()),
            ident: packet.ident(),
        };
        let data = packet.payload();
        let offset = usize::from(packet.frag_offset());
        let end = offset + data.len();
        let more = packet.more_frags();
        if (more && (data.is_empty() || data.len() % 8 != 0)) || end > MAX_DATAGRAM_PAYLOAD {
            self.stats.fragments_dropped += 1;
            return FragmentOutcome::Dropped;
        }
        let index = match self.slots.iter().position(|s| s.0.key() == Some(key)) {
            Some(index) => index,
            None => {
                let Some(index) = self.slots.iter().position(|s| s.0 == SlotState::Free) else {
                    self.stats.no_space += 1;
                    return FragmentOutcome::NoSpace;
                };
                // New regions start after every other, where they can grow.
                let start = self
                    .slots
                    .iter()
                    .filter_map(|s| s.0.region())
                    .map(|(start, len)| start + len)
                    .max()
                    .unwrap_or(0);
                self.slots[index].0 = SlotState::Assembling(Datagram {
                    key,
                    deadline: now + self.config.timeout,
                    start,
                    reserved: 0,
                    total: None,
                    ranges: [(0, 0); MAX_FRAGMENT_RANGES],
                    range_count: 0,
                    hop_limit: packet.hop_limit(),
                    ecn: IpEcn::from_bits(packet.ecn()),
                    link_broadcast: false,
                });
                self.update_deadline();
                index
            }
        };
        let SlotState::Assembling(datagram) = self.slots[index].0 else {
            self.stats.fragments_dropped += 1;
            return FragmentOutcome::Dropped;
        };
        if self.conflicts(&datagram, offset, end, more, data) {
            self.stats.overlaps += 1;
            self.discard(index);
            return FragmentOutcome::Overlap;
        }
        if !self.reserve(index, end) {
            self.stats.no_space += 1;
            self.discard(index);
            return FragmentOutcome::NoSpace;
        }
        let SlotState::Assembling(mut datagram) = self.slots[index].0 else {
            return FragmentOutcome::Dropped;
        };
        if !insert_range(&mut datagram, offset, end) {
            self.stats.no_space += 1;
            self.discard(index);
            return FragmentOutcome::NoSpace;
        }
        let start = datagram.start;
        self.buffer[start + offset..start + end].copy_from_slice(data);
        if !more {
            datagram.total = Some(end);
        }
        if offset == 0 {
            datagram.hop_limit = packet.hop_limit();
            if datagram.ecn != IpEcn::Ce {
                datagram.ecn = IpEcn::from_bits(packet.ecn());
            }
        }
        if IpEcn::from_bits(packet.ecn()) == IpEcn::Ce {
            datagram.ecn = IpEcn::Ce;
        }
        datagram.link_broadcast |= link_broadcast;
        let complete = datagram.total.is_some_and(|total| {
            datagram.range_count == 1 && datagram.ranges[0] == (0, total as u32)
        });
        self.slots[index].0 = SlotState::Assembling(datagram);
        if complete {
            self.stats.reassembled += 1;
            FragmentOutcome::Complete(index)
        } else {
            FragmentOutcome::Stored
        }
    }

    /// Stores a whole datagram (`header` and `payload`) in a slot as if it
    /// had been reassembled, so it can be read back with
    /// [`datagram`](Self::datagram) after the frame that brought it is
    /// gone (the interface answers an echo request whose reply needs
    /// fragments this way). `None` without a free slot or the memory;
    /// counters do not move.
    pub fn insert_whole(
        &mut self,
        now: Instant,
        header: &Ipv4Repr,
        payload: &[u8],
    ) -> Option<usize> {
        let len = payload.len();
        if len == 0 || len > MAX_DATAGRAM_PAYLOAD {
            return None;
        }
        let index = self.slots.iter().position(|s| s.0 == SlotState::Free)?;
        let start = self
            .slots
            .iter()
            .filter_map(|s| s.0.region())
            .map(|(start, len)| start + len)
            .max()
            .unwrap_or(0);
        let mut ranges = [(0, 0); MAX_FRAGMENT_RANGES];
        ranges[0] = (0, len as u32);
        self.slots[index].0 = SlotState::Assembling(Datagram {
            // The caller reads and releases it before it takes in another
            // fragment, so no fragment ever joins it.
            key: Key {
                src: header.src_addr,
                dst: header.dst_addr,
                protocol: u8::from(header.next_header),
                ident: 0,
            },
            deadline: now + self.config.timeout,
            start,
            reserved: 0,
            total: Some(len),
            ranges,
            range_count: 1,
            hop_limit: header.hop_limit,
            ecn: header.ecn,
            link_broadcast: false,
        });
        if !self.reserve(index, len) {
            self.slots[index].0 = SlotState::Free;
            return None;
        }
        let SlotState::Assembling(d) = self.slots[index].0 else {
            return None;
        };
        self.buffer[d.start..d.start + len].copy_from_slice(payload);
        self.update_deadline();
        Some(index)
    }

    /// The complete datagram in slot `index`: its header (no options, DF
    /// clear, the first fragment's TTL) and payload.
    pub fn datagram(&self, index: usize) -> Option<(Ipv4Repr, &[u8])> {
        let SlotState::Assembling(d) = self.slots.get(index)?.0 else {
            return None;
        };
        let total = d.total?;
        if d.range_count != 1 || d.ranges[0] != (0, total as u32) {
            return None;
        }
        let payload = self.buffer.get(d.start..d.start + total)?;
        let repr = Ipv4Repr {
            src_addr: d.key.src,
            dst_addr: d.key.dst,
            next_header: IpProtocol::from(d.key.protocol),
            payload_len: total,
            hop_limit: d.hop_limit,
            dont_frag: false,
            ecn: d.ecn,
        };
        Some((repr, payload))
    }

    /// Whether a fragment of the datagram in slot `index` came in a
    /// link-layer broadcast frame.
    pub fn from_link_broadcast(&self, index: usize) -> bool {
        matches!(
            self.slots.get(index),
            Some(ReassemblySlot(SlotState::Assembling(d))) if d.link_broadcast
        )
    }

    /// Frees slot `index` and its memory (after a complete datagram was
    /// read).
    pub fn release(&mut self, index: usize) {
        if let Some(slot) = self.slots.get_mut(index) {
            slot.0 = SlotState::Free;
        }
        self.update_deadline();
    }

    /// Whether the fragment contradicts what the datagram holds: bytes that
    /// differ from those received at the same offsets, or another end.
    fn conflicts(&self, d: &Datagram, offset: usize, end: usize, more: bool, data: &[u8]) -> bool {
        let received_end = d.ranges[..usize::from(d.range_count)]
            .last()
            .map_or(0, |r| r.1 as usize);
        match d.total {
            Some(total) if end > total || (!more && end != total) => return true,
            None if !more && received_end > end => return true,
            _ => {}
        }
        d.ranges[..usize::from(d.range_count)]
            .iter()
            .any(|&(s, e)| {
                let (s, e) = (s as usize, e as usize);
                let (from, to) = (s.max(offset), e.min(end));
                from < to
                    && self.buffer[d.start + from..d.start + to] != data[from - offset..to - offset]
            })
    }

    /// Drops the datagram's memory; its later fragments are dropped until
    /// its deadline.
    fn discard(&mut self, index: usize) {
        let state = self.slots[index].0;
        if let (Some(key), Some(deadline)) = (state.key(), state.deadline()) {
            self.slots[index].0 = SlotState::Discarding { key, deadline };
        }
    }

    fn update_deadline(&mut self) {
        self.next_deadline = self.slots.iter().filter_map(|s| s.0.deadline()).min();
    }

    /// Makes slot `index`'s region at least `needed` bytes long: in place
    /// when the bytes after it are free, else after compacting every region
    /// to the front of the pool and moving this one last. `false` when the
    /// pool has not that much free.
    fn reserve(&mut self, index: usize, needed: usize) -> bool {
        let SlotState::Assembling(d) = self.slots[index].0 else {
            return false;
        };
        if needed <= d.reserved {
            return true;
        }
        let used = self.memory_used();
        if used - d.reserved + needed > self.buffer.len() {
            return false;
        }
        let next_start = self
            .slots
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != index)
            .filter_map(|(_, s)| s.0.region())
            .map(|(start, _)| start)
            .filter(|&start| start >= d.start)
            .min()
            .unwrap_or(self.buffer.len());
        if d.start + needed <= next_start {
            self.set_region(index, d.start, needed);
            return true;
        }
        let cursor = self.compact();
        // After compaction, rotate this region to the end of the used
        // bytes; the regions after it move down by its length.
        let (start, len) = match self.slots[index].0.region() {
            Some(region) => region,
            None => (cursor, 0),
        };
        if len > 0 {
            self.buffer[start..cursor].rotate_left(len);
            for slot in self.slots.iter_mut() {
                if let SlotState::Assembling(other) = &mut slot.0 {
                    if other.reserved > 0 && other.start > start {
                        other.start -= len;
                    }
                }
            }
        }
        self.set_region(index, cursor - len, needed);
        true
    }

    fn set_region(&mut self, index: usize, start: usize, reserved: usize) {
        if let SlotState::Assembling(d) = &mut self.slots[index].0 {
            d.start = start;
            d.reserved = reserved;
        }
    }

    /// Moves every region down to close the gaps between them, in order;
    /// returns where the used bytes end.
    fn compact(&mut self) -> usize {
        let mut cursor = 0;
        let mut previous: Option<usize> = None;
        loop {
            // The region with the lowest start above the previous one
            // (starts are distinct: regions do not overlap). A selection
            // pass per region: slots are few, and this runs only when a
            // region cannot grow in place.
            let next = self
                .slots
                .iter()
                .enumerate()
                .filter_map(|(i, s)| s.0.region().map(|(start, len)| (start, len, i)))
                .filter(|&(start, _, _)| previous.is_none_or(|p| start > p))
                .min();
            let Some((start, len, i)) = next else {
                return cursor;
            };
            previous = Some(start);
            if start != cursor {
                self.buffer.copy_within(start..start + len, cursor);
                self.set_region(i, cursor, len);
            }
            cursor += len;
        }
    }
}

/// Adds `offset..end` to the datagram's received ranges, merging ranges it
/// touches; `false` if that needs more than [`MAX_FRAGMENT_RANGES`].
fn insert_range(d: &mut Datagram, offset: usize, end: usize) -> bool {
    let (mut lo, mut hi) = (offset as u32, end as u32);
    let count = usize::from(d.range_count);
    let mut merged = [(0u32, 0u32); MAX_FRAGMENT_RANGES];
    let mut n = 0;
    let mut placed = false;
    for &(s, e) in &d.ranges[..count] {
        if e < lo {
            merged[n] = (s, e);
            n += 1;
        } else if s > hi {
            if !placed {
                if n == MAX_FRAGMENT_RANGES {
                    return false;
                }
                merged[n] = (lo, hi);
                n += 1;
                placed = true;
            }
            if n == MAX_FRAGMENT_RANGES {
                return false;
            }
            merged[n] = (s, e);
            n += 1;
        } else {
            lo = lo.min(s);
            hi = hi.max(e);
        }
    }
    if !placed {
        if n == MAX_FRAGMENT_RANGES {
            return false;
        }
        merged[n] = (lo, hi);
        n += 1;
    }
    d.ranges = merged;
    // At most MAX_FRAGMENT_RANGES (16).
    d.range_count = n as u8;
    true
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::vec;
    use std::vec::Vec;

    use super::*;
    use crate::wire::ChecksumCapabilities;

    const SRC: Ipv4Address = Ipv4Address::new(192, 0, 2, 9);
    const DST: Ipv4Address = Ipv4Address::new(192, 0, 2, 1);

    /// A fragment of datagram `ident`: `data` at byte `offset`, MF `more`.
    fn fragment(ident: u16, offset: usize, more: bool, data: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0u8; 20 + data.len()];
        let repr = Ipv4Repr {
            src_addr: SRC,
            dst_addr: DST,
            next_header: IpProtocol::Udp,
            payload_len: data.len(),
            hop_limit: 61,
            dont_frag: false,
            ecn: IpEcn::NotEct,
        };
        let mut packet = Ipv4Packet::new_unchecked(&mut bytes[..]);
        repr.emit(&mut packet, &ChecksumCapabilities::default());
        packet.set_ident(ident);
        packet.set_frag_offset(offset as u16);
        packet.set_more_frags(more);
        packet.fill_checksum();
        packet.payload_mut().copy_from_slice(data);
        bytes
    }

    fn add(r: &mut Reassembler<'_>, now: Instant, bytes: &[u8]) -> FragmentOutcome {
        r.add(now, &Ipv4Packet::new_checked(bytes).unwrap())
    }

    fn pattern(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed))
            .collect()
    }

    fn reassembler(slots: usize, memory: usize) -> Reassembler<'static> {
        Reassembler::new(
            vec![ReassemblySlot::EMPTY; slots].into(),
            vec![0u8; memory].into(),
            ReassemblyConfig::default(),
        )
    }

    /// Splits `data` into fragments of `step` bytes (the last shorter).
    fn split(ident: u16, data: &[u8], step: usize) -> Vec<Vec<u8>> {
        data.chunks(step)
            .enumerate()
            .map(|(i, chunk)| fragment(ident, i * step, (i + 1) * step < data.len(), chunk))
            .collect()
    }

    fn assert_whole(r: &mut Reassembler<'_>, outcome: FragmentOutcome, data: &[u8]) {
        let FragmentOutcome::Complete(index) = outcome else {
            panic!("not complete: {outcome:?}");
        };
        let (repr, payload) = r.datagram(index).unwrap();
        assert_eq!(
            repr,
            Ipv4Repr {
                src_addr: SRC,
                dst_addr: DST,
                next_header: IpProtocol::Udp,
                payload_len: data.len(),
                hop_limit: 61,
                dont_frag: false,
                ecn: IpEcn::NotEct,
            }
        );
        assert_eq!(payload, data);
        let (used, in_flight) = (r.memory_used(), r.in_flight());
        r.release(index);
        assert!(r.memory_used() <= used - data.len());
        assert_eq!(r.in_flight(), in_flight - 1);
    }

    #[test]
    fn in_order_fragments_reassemble_byte_exact() {
        let mut r = reassembler(2, 8192);
        let data = pattern(4000, 1);
        let fragments = split(7, &data, 1480);
        assert_eq!(fragments.len(), 3);
        let t = Instant::from_millis(5);
        assert_eq!(add(&mut r, t, &fragments[0]), FragmentOutcome::Stored);
        assert_eq!(add(&mut r, t, &fragments[1]), FragmentOutcome::Stored);
        assert_eq!(r.memory_used(), 2960);
        let outcome = add(&mut r, t, &fragments[2]);
        assert_whole(&mut r, outcome, &data);
        assert_eq!((r.memory_used(), r.in_flight()), (0, 0));
        assert_eq!(r.stats().reassembled, 1);
        assert_eq!(r.stats().fragments, 3);
        assert_eq!(r.poll_at(), None);
    }

    #[test]
    fn out_of_order_and_reversed_fragments_reassemble() {
        let data = pattern(8000, 3);
        let fragments = split(9, &data, 1000);
        for order in [
            vec![7, 6, 5, 4, 3, 2, 1, 0],
            vec![3, 0, 7, 1, 5, 2, 6, 4],
            vec![7, 0, 6, 1, 5, 2, 4, 3],
        ] {
            let mut r = reassembler(1, 8000);
            let (last, rest) = order.split_last().unwrap();
            for &i in rest {
                assert_eq!(
                    add(&mut r, Instant::ZERO, &fragments[i]),
                    FragmentOutcome::Stored
                );
            }
            let outcome = add(&mut r, Instant::ZERO, &fragments[*last]);
            assert_whole(&mut r, outcome, &data);
        }
    }

    #[test]
    fn duplicates_and_identical_overlaps_are_accepted() {
        let mut r = reassembler(1, 4096);
        let data = pattern(3000, 5);
        let t = Instant::ZERO;
        assert_eq!(
            add(&mut r, t, &fragment(1, 0, true, &data[..1600])),
            FragmentOutcome::Stored
        );
        // The same fragment again.
        assert_eq!(
            add(&mut r, t, &fragment(1, 0, true, &data[..1600])),
            FragmentOutcome::Stored
        );
        // Overlapping the first with the same bytes (re-fragmented on
        // another path).
        assert_eq!(
            add(&mut r, t, &fragment(1, 800, true, &data[800..2400])),
            FragmentOutcome::Stored
        );
        let outcome = add(&mut r, t, &fragment(1, 2400, false, &data[2400..]));
        assert_whole(&mut r, outcome, &data);
        assert_eq!(r.stats().overlaps, 0);
    }

    #[test]
    fn a_conflicting_overlap_discards_the_datagram_and_its_later_fragments() {
        let mut r = reassembler(2, 4096);
        let data = pattern(3000, 5);
        let t = Instant::from_secs(1);
        assert_eq!(
            add(&mut r, t, &fragment(1, 0, true, &data[..1600])),
            FragmentOutcome::Stored
        );
        let mut forged = data[800..2400].to_vec();
        forged[10] ^= 0xff;
        assert_eq!(
            add(&mut r, t, &fragment(1, 800, true, &forged)),
            FragmentOutcome::Overlap
        );
        assert_eq!(r.memory_used(), 0);
        assert_eq!(r.in_flight(), 0);
        // The rest of that datagram, even the genuine bytes, is dropped
        // until its timeout.
        assert_eq!(
            add(&mut r, t, &fragment(1, 1600, true, &data[1600..2400])),
            FragmentOutcome::Dropped
        );
        assert_eq!(
            add(&mut r, t, &fragment(1, 2400, false, &data[2400..])),
            FragmentOutcome::Dropped
        );
        assert_eq!(r.stats().overlaps, 1);
        assert_eq!(r.stats().fragments_dropped, 2);
        // Another datagram is unaffected.
        let outcome = add(&mut r, t, &fragment(2, 0, true, &data[..8]));
        assert_eq!(outcome, FragmentOutcome::Stored);
        let outcome = add(&mut r, t, &fragment(2, 8, false, &data[8..16]));
        assert_whole(&mut r, outcome, &data[..16]);
        // After the timeout the identification is free again.
        let later = t + DEFAULT_REASSEMBLY_TIMEOUT;
        assert_eq!(
            add(&mut r, later, &fragment(1, 0, true, &data[..8])),
            FragmentOutcome::Stored
        );
        let outcome = add(&mut r, later, &fragment(1, 8, false, &data[8..16]));
        assert_whole(&mut r, outcome, &data[..16]);
    }

    #[test]
    fn disagreeing_ends_are_conflicts() {
        let data = pattern(64, 9);
        // Two last fragments with different ends.
        let mut r = reassembler(1, 4096);
        assert_eq!(
            add(&mut r, Instant::ZERO, &fragment(1, 32, false, &data[32..])),
            FragmentOutcome::Stored
        );
        assert_eq!(
            add(
                &mut r,
                Instant::ZERO,
                &fragment(1, 40, false, &data[40..56])
            ),
            FragmentOutcome::Overlap
        );
        // Data beyond a known end.
        let mut r = reassembler(1, 4096);
        assert_eq!(
            add(
                &mut r,
                Instant::ZERO,
                &fragment(2, 32, false, &data[32..48])
            ),
            FragmentOutcome::Stored
        );
        assert_eq!(
            add(&mut r, Instant::ZERO, &fragment(2, 40, true, &data[40..])),
            FragmentOutcome::Overlap
        );
        // A last fragment ending before data already received.
        let mut r = reassembler(1, 4096);
        assert_eq!(
            add(&mut r, Instant::ZERO, &fragment(3, 32, true, &data[32..])),
            FragmentOutcome::Stored
        );
        assert_eq!(
            add(&mut r, Instant::ZERO, &fragment(3, 0, false, &data[..16])),
            FragmentOutcome::Overlap
        );
        assert_eq!(r.stats().overlaps, 1);
    }

    #[test]
    fn invalid_fragments_are_dropped() {
        let mut r = reassembler(1, 1 << 17);
        // Not a multiple of 8 before the last.
        assert_eq!(
            add(&mut r, Instant::ZERO, &fragment(1, 0, true, &[0; 12])),
            FragmentOutcome::Dropped
        );
        // Empty but for the last.
        assert_eq!(
            add(&mut r, Instant::ZERO, &fragment(1, 8, true, &[])),
            FragmentOutcome::Dropped
        );
        // Beyond 65,535 bytes (a "ping of death").
        assert_eq!(
            add(&mut r, Instant::ZERO, &fragment(1, 65528, false, &[0; 16])),
            FragmentOutcome::Dropped
        );
        // Up to exactly the largest payload is fine.
        assert_eq!(
            add(&mut r, Instant::ZERO, &fragment(1, 65512, false, &[0; 3])),
            FragmentOutcome::Stored
        );
        assert_eq!(r.stats().fragments_dropped, 3);
        assert_eq!(r.in_flight(), 1);
    }

    #[test]
    fn an_incomplete_datagram_times_out_at_the_exact_deadline() {
        let mut r = reassembler(2, 4096);
        let t0 = Instant::from_millis(1234);
        let data = pattern(2000, 2);
        assert_eq!(
            add(&mut r, t0, &fragment(1, 0, true, &data[..1000])),
            FragmentOutcome::Stored
        );
        // A later fragment does not move the deadline (RFC 1122: fixed).
        let t1 = t0 + Duration::from_secs(3);
        assert_eq!(
            add(&mut r, t1, &fragment(2, 0, true, &data[..1000])),
            FragmentOutcome::Stored
        );
        let deadline = t0 + DEFAULT_REASSEMBLY_TIMEOUT;
        assert_eq!(r.poll_at(), Some(deadline));
        assert_eq!(r.expire(deadline - Duration::from_micros(1)), 0);
        assert_eq!(r.in_flight(), 2);
        assert_eq!(r.expire(deadline), 1);
        assert_eq!(r.in_flight(), 1);
        assert_eq!(r.stats().timed_out, 1);
        assert_eq!(r.memory_used(), 1000);
        assert_eq!(r.poll_at(), Some(t1 + DEFAULT_REASSEMBLY_TIMEOUT));
        // The rest of datagram 1 arriving now starts a new datagram that
        // cannot complete; datagram 2 completes until its own deadline.
        assert_eq!(
            add(&mut r, deadline, &fragment(1, 1000, false, &data[1000..])),
            FragmentOutcome::Stored
        );
        let outcome = add(&mut r, deadline, &fragment(2, 1000, false, &data[1000..]));
        assert_whole(&mut r, outcome, &data);
        // A configured timeout is used for new datagrams.
        let mut config = r.config();
        config.timeout = Duration::from_secs(2);
        r.set_config(config);
        assert_eq!(
            add(&mut r, deadline, &fragment(3, 0, true, &data[..8])),
            FragmentOutcome::Stored
        );
        assert_eq!(r.expire(deadline + Duration::from_secs(2)), 1);
        // Datagram 1's second try timed out at its own deadline too.
        assert_eq!(r.expire(deadline + DEFAULT_REASSEMBLY_TIMEOUT), 1);
        assert_eq!(r.stats().timed_out, 3);
        assert_eq!(r.poll_at(), None);
    }

    #[test]
    fn the_memory_bound_drops_the_datagram_that_does_not_fit() {
        // 4000 bytes of pool for three datagrams of 2400.
        let mut r = reassembler(4, 4000);
        let data = pattern(2400, 4);
        let t = Instant::ZERO;
        // A and B start with 1200 bytes each.
        assert_eq!(
            add(&mut r, t, &fragment(1, 0, true, &data[..1200])),
            FragmentOutcome::Stored
        );
        assert_eq!(
            add(&mut r, t, &fragment(2, 0, true, &data[..1200])),
            FragmentOutcome::Stored
        );
        assert_eq!(r.memory_used(), 2400);
        // C's first fragment needs 1200 more: 3600 fits.
        assert_eq!(
            add(&mut r, t, &fragment(3, 0, true, &data[..1200])),
            FragmentOutcome::Stored
        );
        assert_eq!(r.memory_used(), 3600);
        // A's last fragment would take it to 4800: A is discarded, B and C
        // keep their bytes.
        assert_eq!(
            add(&mut r, t, &fragment(1, 1200, false, &data[1200..])),
            FragmentOutcome::NoSpace
        );
        assert_eq!(r.memory_used(), 2400);
        assert_eq!(r.stats().no_space, 1);
        // A's fragments are dropped from now on, without memory.
        assert_eq!(
            add(&mut r, t, &fragment(1, 0, true, &data[..1200])),
            FragmentOutcome::Dropped
        );
        // B completes (its region grows past C's: C moves), then C.
        let outcome = add(&mut r, t, &fragment(2, 1200, false, &data[1200..]));
        let FragmentOutcome::Complete(b) = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(r.datagram(b).unwrap().1, &data[..]);
        assert_eq!(r.memory_used(), 3600);
        r.release(b);
        let outcome = add(&mut r, t, &fragment(3, 1200, false, &data[1200..]));
        assert_whole(&mut r, outcome, &data);
        // A datagram larger than the whole pool never fits.
        assert_eq!(
            add(&mut r, t, &fragment(4, 3200, false, &data[..808])),
            FragmentOutcome::NoSpace
        );
        assert_eq!(r.stats().no_space, 2);
    }

    #[test]
    fn interleaved_datagrams_keep_their_bytes_when_regions_move() {
        let mut r = reassembler(3, 3 * 6000);
        let datagrams: Vec<Vec<u8>> = (0..3).map(|i| pattern(6000, 17 * i as u8 + 1)).collect();
        let fragments: Vec<Vec<Vec<u8>>> = datagrams
            .iter()
            .enumerate()
            .map(|(i, d)| split(100 + i as u16, d, 504))
            .collect();
        let mut done = 0;
        for k in 0..fragments[0].len() {
            for (i, frags) in fragments.iter().enumerate() {
                match add(&mut r, Instant::ZERO, &frags[k]) {
                    FragmentOutcome::Stored => {}
                    FragmentOutcome::Complete(index) => {
                        assert_eq!(r.datagram(index).unwrap().1, &datagrams[i][..]);
                        r.release(index);
                        done += 1;
                    }
                    other => panic!("{other:?}"),
                }
            }
        }
        assert_eq!(done, 3);
        assert_eq!(r.memory_used(), 0);
    }

    #[test]
    fn the_slot_bound_drops_new_datagrams_and_keeps_old_ones() {
        let mut r = reassembler(2, 1 << 16);
        let data = pattern(16, 0);
        let t = Instant::ZERO;
        assert_eq!(
            add(&mut r, t, &fragment(1, 0, true, &data[..8])),
            FragmentOutcome::Stored
        );
        assert_eq!(
            add(&mut r, t, &fragment(2, 0, true, &data[..8])),
            FragmentOutcome::Stored
        );
        assert_eq!(
            add(&mut r, t, &fragment(3, 0, true, &data[..8])),
            FragmentOutcome::NoSpace
        );
        assert_eq!(
            add(&mut r, t, &fragment(3, 8, false, &data[8..])),
            FragmentOutcome::NoSpace
        );
        assert_eq!(r.stats().no_space, 2);
        // Datagrams with the same identification from another source or
        // of another protocol are other datagrams.
        let mut other_proto = fragment(1, 8, false, &data[8..]);
        {
            let mut p = Ipv4Packet::new_unchecked(&mut other_proto[..]);
            p.set_next_header(IpProtocol::Tcp);
            p.fill_checksum();
        }
        assert_eq!(add(&mut r, t, &other_proto), FragmentOutcome::NoSpace);
        let outcome = add(&mut r, t, &fragment(1, 8, false, &data[8..]));
        assert_whole(&mut r, outcome, &data);
        // The freed slot takes a new datagram.
        assert_eq!(
            add(&mut r, t, &fragment(3, 0, true, &data[..8])),
            FragmentOutcome::Stored
        );
    }

    #[test]
    fn too_many_holes_discard_the_datagram() {
        let mut r = reassembler(1, 1 << 16);
        let t = Instant::ZERO;
        // Every other 8-byte block: each is its own range.
        for i in 0..MAX_FRAGMENT_RANGES {
            assert_eq!(
                add(&mut r, t, &fragment(1, 16 * i, true, &[1; 8])),
                FragmentOutcome::Stored
            );
        }
        assert_eq!(
            add(
                &mut r,
                t,
                &fragment(1, 16 * MAX_FRAGMENT_RANGES, true, &[1; 8])
            ),
            FragmentOutcome::NoSpace
        );
        assert_eq!(r.memory_used(), 0);
    }

    #[test]
    fn ce_on_any_fragment_marks_the_datagram() {
        let mut r = reassembler(1, 4096);
        let data = pattern(16, 0);
        let mut second = fragment(1, 8, false, &data[8..]);
        {
            let mut p = Ipv4Packet::new_unchecked(&mut second[..]);
            p.set_ecn(IpEcn::Ce.bits());
            p.fill_checksum();
        }
        assert_eq!(add(&mut r, Instant::ZERO, &second), FragmentOutcome::Stored);
        let FragmentOutcome::Complete(i) =
            add(&mut r, Instant::ZERO, &fragment(1, 0, true, &data[..8]))
        else {
            panic!()
        };
        assert_eq!(r.datagram(i).unwrap().0.ecn, IpEcn::Ce);
    }
}
