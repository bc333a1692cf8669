//! The socket set: sockets of every kind behind one handle type, on storage
//! of one capacity, with everything that indexes them.
//!
//! # One source of truth for sizes
//! The set owns every table that is sized by its sockets: the demultiplexing
//! table (O(1) lookup of a segment's owner), the timer queue and the ready
//! set (poll work proportional to sockets with something to do), the dirty list (sockets the application touched), the
//! listeners' accept queues, and the transition trace. The per-slot parts
//! live inside each slot ([`SocketStorage`]) and the per-record parts inside
//! each record entry ([`RecordStorage`]), so they cannot be shorter than
//! what they serve; the one separate array, the demultiplexing table's
//! buckets, is checked at construction ([`StorageError`]). An
//! [`Interface`](crate::iface::Interface) holds no per-socket storage at
//! all, so the two cannot disagree.
//!
//! # Kinds
//! A slot holds a [`Socket`] of any kind; [`SocketSet::get`] and
//! [`SocketSet::get_mut`] take the kind as a type parameter
//! (`sockets.get_mut::<TcpSocket>(handle)`) and answer `None` for a handle
//! of another kind.
//!
//! # Handles and generations
//! A [`SocketHandle`] is a slot index and the slot's *generation*. Each
//! slot's generation increases whenever its socket leaves the set (removed
//! by the application, freed after its listener's connection ended,
//! compacted into a TIME_WAIT record, or evicted under memory pressure),
//! and every access compares the handle's generation with the slot's. So a
//! handle whose socket is gone answers `None` forever and never reaches a
//! socket added to the same slot later (until one slot has been reused
//! 2^32 times).
//!
//! # TCP records and memory pressure
//! TCP connections cost what their state needs: a
//! listener's half-open connection is a [`HalfOpen`] record in a bounded
//! SYN queue (SYN cookies when it is full), buffers and a slot attach when
//! the handshake completes, and a connection the application has fully
//! closed becomes a [`TimeWait`] record when it enters TIME_WAIT. When
//! something runs out, this policy decides who goes:
//! - a full SYN queue (the listener's backlog, or the set's half-open
//!   records): SYN cookies (RFC 4987 section 3.6) if the listener allows
//!   them, else the SYN is dropped;
//! - full TIME_WAIT records: the oldest record (the one whose 2*MSL ends
//!   first) is dropped for the new one;
//! - no free slot, or an empty buffer pool, when a handshake completes: a
//!   connection a listener spawned gives way, chosen as lwIP does: first
//!   the one in TIME_WAIT idle longest (a socket held after `shutdown`),
//!   then the one in LAST_ACK, CLOSING or FIN_WAIT_2 idle longest, then
//!   the connection idle longest (time since it last received an
//!   acceptable segment). It is dropped without a RST (its peer's next
//!   segment draws one), its handle goes stale, and the trace shows
//!   `-> CLOSED (evicted)`. Sockets the application created itself and
//!   listeners never give way; [`ListenOptions::evict`] turns this off per
//!   listener. If nobody can give way, the final ACK is dropped (as Linux
//!   does) and the peer's retransmission tries again.
//!
//! A listener can also end connections that stay silent:
//! [`ListenOptions::idle_timeout`].
//!
//! # Transition trace
//! Every TCP state transition, of sockets and records, goes into one
//! bounded queue ([`SocketSet::pop_trace`], overflow counted), stamped with
//! the time of the poll that saw it. Transitions the
//! application caused (`close`, `abort`, `connect`, `listen`) are taken in
//! when [`pop_trace`](SocketSet::pop_trace) or the next poll runs, and when
//! the socket is removed, so removing a socket right after closing it loses
//! nothing.

mod demux;
mod tcp;
mod timer;
mod udp;

use core::cell::Cell;

use managed::ManagedSlice;

use self::demux::{DemuxKey, DemuxTable, MAX_TARGET_INDEX, Target};
use self::timer::{FifoList, HasReadyLinks, HasTimer, ReadyLinks, ReadySet, TimerQueue, TimerSlot};
use super::tcp::{HalfOpen, SocketBuffer, State, TcpSocket, TimeWait, Transition};
use super::{AnySocket, Context, PollAt, Socket};
use crate::storage::siphash::SipKey;
use crate::time::{Duration, Instant};
use crate::wire::IpEndpoint;

pub use self::demux::{DemuxSlot, slots_for as demux_slots_for};
pub(crate) use self::udp::{UdpDelivery, UdpFanout};

/// Identifies a socket in a [`SocketSet`]: a slot index and the slot's
/// generation when the socket was added (see the module docs). 8 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SocketHandle {
    index: u32,
    generation: u32,
}

impl SocketHandle {
    /// The slot index behind the handle.
    pub const fn index(self) -> usize {
        self.index as usize
    }

    /// The slot's generation the handle belongs to.
    pub const fn generation(self) -> u32 {
        self.generation
    }
}

impl core::fmt::Display for SocketHandle {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        if self.generation == 0 {
            write!(f, "#{}", self.index)
        } else {
            write!(f, "#{}.{}", self.index, self.generation)
        }
    }
}

/// Where a listener's spawned connections get their buffers.
#[derive(Debug)]
pub enum ChildBuffers<'a> {
    /// Allocate `rx` and `tx` bytes for each connection when its handshake
    /// completes.
    #[cfg(feature = "alloc")]
    Alloc {
        /// Receive buffer size.
        rx: usize,
        /// Transmit buffer size.
        tx: usize,
    },
    /// Take buffer pairs from a pool the application provides; a freed
    /// connection's buffers go back to it (and so do those of a connection
    /// compacted into a TIME_WAIT record). With an empty pool, a completing
    /// handshake first asks the memory policy for a connection to give way
    /// (see [`SocketSet`]), else its final ACK is dropped.
    Pool(ManagedSlice<'a, Option<(SocketBuffer<'a>, SocketBuffer<'a>)>>),
}

impl<'a> ChildBuffers<'a> {
    fn take(&mut self) -> Option<(SocketBuffer<'a>, SocketBuffer<'a>)> {
        match self {
            #[cfg(feature = "alloc")]
            ChildBuffers::Alloc { rx, tx } => Some((
                SocketBuffer::new(alloc::vec![0u8; *rx]),
                SocketBuffer::new(alloc::vec![0u8; *tx]),
            )),
            ChildBuffers::Pool(pool) => pool.iter_mut().find_map(Option::take),
        }
    }

    fn give_back(&mut self, mut buffers: (SocketBuffer<'a>, SocketBuffer<'a>)) {
        #[cfg(feature = "alloc")]
        if let ChildBuffers::Alloc { .. } = self {
            // Allocated buffers go back to the allocator.
            return;
        }
        #[allow(irrefutable_let_patterns)]
        if let ChildBuffers::Pool(pool) = self {
            if let Some(free) = pool.iter_mut().find(|b| b.is_none()) {
                buffers.0.clear();
                buffers.1.clear();
                *free = Some(buffers);
            }
        }
    }

    /// The receive buffer size a child gets: its SYN-ACK offers this window
    /// (at most 65535) and the window scale it needs.
    fn rx_capacity(&self) -> usize {
        match self {
            #[cfg(feature = "alloc")]
            ChildBuffers::Alloc { rx, .. } => *rx,
            ChildBuffers::Pool(pool) => pool
                .iter()
                .flatten()
                .map(|(rx, _)| rx.capacity())
                .max()
                .unwrap_or(0),
        }
    }

    /// Whether a pair could be taken now.
    fn available(&self) -> bool {
        match self {
            #[cfg(feature = "alloc")]
            ChildBuffers::Alloc { .. } => true,
            ChildBuffers::Pool(pool) => pool.iter().any(Option::is_some),
        }
    }
}

/// How a listener treats new connections beyond its backlog and silent
/// ones; see [`SocketSet::set_listen_options`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ListenOptions {
    /// Answer SYNs with SYN cookies (RFC 4987 section 3.6) while the SYN
    /// queue is full, so clients still get in during a SYN flood. Default:
    /// on.
    pub syn_cookies: bool,
    /// Abort (with a RST) a connection of this listener that has sent no
    /// data this long after its handshake completed. Default: none.
    pub idle_timeout: Option<Duration>,
    /// Let a completing handshake of this listener take the slot or pool
    /// buffers of another listener-spawned connection under memory pressure
    /// (the policy in [`SocketSet`]'s docs). Default: on.
    pub evict: bool,
}

impl Default for ListenOptions {
    fn default() -> Self {
        ListenOptions {
            syn_cookies: true,
            idle_timeout: None,
            evict: true,
        }
    }
}

impl ListenOptions {
    /// The defaults (SYN cookies on, no idle timeout, eviction on).
    pub fn new() -> ListenOptions {
        ListenOptions::default()
    }

    /// Turns SYN cookies on or off.
    pub fn with_syn_cookies(mut self, on: bool) -> ListenOptions {
        self.syn_cookies = on;
        self
    }

    /// Sets the idle timeout for connections that have sent nothing.
    pub fn with_idle_timeout(mut self, timeout: Option<Duration>) -> ListenOptions {
        self.idle_timeout = timeout;
        self
    }

    /// Lets (or forbids) this listener's new connections evict others.
    pub fn with_evict(mut self, on: bool) -> ListenOptions {
        self.evict = on;
        self
    }
}

/// A state change of one connection, stamped with the time of the poll
/// that saw it (or, for a change the application caused, of the last poll
/// before it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TraceEvent {
    /// When.
    pub at: Instant,
    /// The socket, or `None` for a connection held as a compact record
    /// (half-open or TIME_WAIT).
    pub handle: Option<SocketHandle>,
    /// Our end of the connection, once there is one (`None` for a
    /// listener's own transitions).
    pub local: Option<IpEndpoint>,
    /// The peer's end, once there is one.
    pub remote: Option<IpEndpoint>,
    /// The transition.
    pub transition: Transition,
}

impl TraceEvent {
    /// Whom the event is about, for printing: the handle (`#3`), or for a
    /// record the peer in brackets (`[192.0.2.2:40000]`), or `-`.
    pub fn subject(&self) -> TraceSubject {
        TraceSubject {
            handle: self.handle,
            remote: self.remote,
        }
    }
}

/// [`TraceEvent::subject`]'s `Display`.
#[derive(Debug, Clone, Copy)]
pub struct TraceSubject {
    handle: Option<SocketHandle>,
    remote: Option<IpEndpoint>,
}

impl core::fmt::Display for TraceSubject {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        match (self.handle, self.remote) {
            (Some(handle), _) => write!(f, "{handle}"),
            (None, Some(remote)) => write!(f, "[{remote}]"),
            (None, None) => f.write_str("-"),
        }
    }
}

/// A TCP connection held as a compact record, as
/// [`SocketSet::tcp_records`] lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TcpRecordInfo {
    /// SYN_RCVD (half-open) or TIME_WAIT.
    pub state: State,
    /// Our end.
    pub local: IpEndpoint,
    /// The peer's end.
    pub remote: IpEndpoint,
    /// The listener a half-open connection belongs to.
    pub listener: Option<SocketHandle>,
}

/// `add` failed: every slot is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SetFull;

impl core::fmt::Display for SetFull {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        f.write_str("the socket set is full")
    }
}

impl core::error::Error for SetFull {}

/// [`SocketSet::new`] refused its storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum StorageError {
    /// The demultiplexing table has fewer buckets than
    /// [`demux_slots_for`]`(sockets + half_open + time_wait)`.
    DemuxTooSmall {
        /// Buckets needed.
        needed: usize,
        /// Buckets provided.
        provided: usize,
    },
    /// More slots or records than a handle or table entry can name.
    TooLarge,
}

impl core::fmt::Display for StorageError {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        match self {
            StorageError::DemuxTooSmall { needed, provided } => write!(
                f,
                "demultiplexing table too small: {provided} buckets, {needed} needed"
            ),
            StorageError::TooLarge => f.write_str("too many slots or records"),
        }
    }
}

impl core::error::Error for StorageError {}

/// How many of each a set holds; see [`SocketSet::with_capacities`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SetCapacity {
    /// Socket slots.
    pub sockets: usize,
    /// Listeners with a backlog (each takes a socket slot too).
    pub listeners: usize,
    /// Half-open TCP records, shared by all listeners (each listener's
    /// backlog bounds its own share).
    pub half_open: usize,
    /// TIME_WAIT records.
    pub time_wait: usize,
    /// Trace events held until read.
    pub trace: usize,
}

impl SetCapacity {
    /// For `sockets` slots: up to 8 listeners, as many half-open records as
    /// slots, four TIME_WAIT records per slot, 1024 trace events.
    pub const fn for_sockets(sockets: usize) -> SetCapacity {
        SetCapacity {
            sockets,
            listeners: if sockets < 8 { sockets } else { 8 },
            half_open: sockets,
            time_wait: sockets.saturating_mul(4),
            trace: 1024,
        }
    }

    /// Sets the number of listeners.
    pub const fn with_listeners(mut self, n: usize) -> SetCapacity {
        self.listeners = n;
        self
    }

    /// Sets the number of half-open records.
    pub const fn with_half_open(mut self, n: usize) -> SetCapacity {
        self.half_open = n;
        self
    }

    /// Sets the number of TIME_WAIT records.
    pub const fn with_time_wait(mut self, n: usize) -> SetCapacity {
        self.time_wait = n;
        self
    }

    /// Sets the trace queue's length.
    pub const fn with_trace(mut self, n: usize) -> SetCapacity {
        self.trace = n;
        self
    }

    /// The demultiplexing table's buckets these need.
    pub const fn demux_slots(&self) -> usize {
        demux_slots_for(
            self.sockets
                .saturating_add(self.half_open)
                .saturating_add(self.time_wait),
        )
    }
}

/// Slot flags.
const AUTO_FREE: u8 = 1 << 0;
const REGISTERED: u8 = 1 << 1;
const IS_LISTENER: u8 = 1 << 2;
const CHILD: u8 = 1 << 3;
const IN_ACCEPT_QUEUE: u8 = 1 << 4;
const IDLE_CHECK: u8 = 1 << 5;

/// A reference to a listener table entry: index and generation, packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ListenerRef {
    index: u16,
    generation: u16,
}

impl ListenerRef {
    const NONE: u32 = u32::MAX;

    fn pack(self) -> u32 {
        (u32::from(self.index) << 16) | u32::from(self.generation)
    }

    fn unpack(raw: u32) -> Option<ListenerRef> {
        (raw != Self::NONE).then_some(ListenerRef {
            index: (raw >> 16) as u16,
            generation: raw as u16,
        })
    }
}

/// Bookkeeping of an occupied slot. 24 bytes.
#[derive(Debug, Clone, Copy)]
struct Meta {
    /// For a listener's connection under [`ListenOptions::idle_timeout`]:
    /// when it is aborted if it has sent no data.
    idle_deadline: Instant,
    /// The hash the slot is entered under in the demultiplexing table.
    registered_hash: u32,
    /// The socket's state-change count when it was entered: while it is
    /// the same, so is the socket's key, and syncing skips the hash.
    registered_version: u32,
    /// The listener entry this socket owns (`IS_LISTENER`) or was spawned
    /// by (`CHILD`).
    listener: u32,
    flags: u8,
}

impl Meta {
    const fn new() -> Meta {
        Meta {
            idle_deadline: Instant::ZERO,
            registered_hash: 0,
            registered_version: 0,
            listener: ListenerRef::NONE,
            flags: 0,
        }
    }

    fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

#[derive(Debug)]
struct Item<'a> {
    socket: Socket<'a>,
    meta: Meta,
}

/// The links every slot has, occupied or not (the timer heap's entries sit
/// at heap positions, not at their own slot). 32 bytes.
#[derive(Debug, Clone, Copy)]
struct SlotLinks {
    timer: TimerSlot,
    ready: ReadyLinks,
    dirty_next: u32,
    accept_next: u32,
}

impl SlotLinks {
    const EMPTY: SlotLinks = SlotLinks {
        timer: TimerSlot::EMPTY,
        ready: ReadyLinks::EMPTY,
        dirty_next: FifoList::UNLINKED,
        accept_next: FifoList::UNLINKED,
    };
}

/// One slot of a [`SocketSet`]: a socket, its bookkeeping, and its share
/// of the set's timer queue, ready set, dirty list and accept queues.
/// `size_of::<SocketStorage>()` is the socket's size plus 56 bytes.
#[derive(Debug)]
pub struct SocketStorage<'a> {
    item: Option<Item<'a>>,
    generation: u32,
    /// The next free slot while this one is free.
    free_next: u32,
    links: SlotLinks,
}

impl SocketStorage<'_> {
    /// An empty slot, for building storage arrays without an allocator.
    pub const EMPTY: Self = SocketStorage {
        item: None,
        generation: 0,
        free_next: FifoList::UNLINKED,
        links: SlotLinks::EMPTY,
    };
}

impl Default for SocketStorage<'_> {
    fn default() -> Self {
        SocketStorage::EMPTY
    }
}

impl HasTimer for SocketStorage<'_> {
    fn timer(&self) -> &TimerSlot {
        &self.links.timer
    }
    fn timer_mut(&mut self) -> &mut TimerSlot {
        &mut self.links.timer
    }
}

impl HasReadyLinks for SocketStorage<'_> {
    fn ready_links(&self) -> &ReadyLinks {
        &self.links.ready
    }
    fn ready_links_mut(&mut self) -> &mut ReadyLinks {
        &mut self.links.ready
    }
}

fn dirty_link<'s>(slot: &'s mut SocketStorage<'_>) -> &'s mut u32 {
    &mut slot.links.dirty_next
}

fn accept_link<'s>(slot: &'s mut SocketStorage<'_>) -> &'s mut u32 {
    &mut slot.links.accept_next
}

/// A listener's bookkeeping.
#[derive(Debug)]
struct Listener<'a> {
    /// The listening socket's slot and generation.
    socket: SocketHandle,
    /// Most half-open connections, and most connections waiting for
    /// `accept`, at once.
    backlog: u32,
    /// Half-open records of this listener.
    syn_queue: u32,
    /// Connections that completed their handshake, oldest first.
    accept: FifoList,
    /// The receive buffer size children get (the SYN-ACK's window).
    child_rx: u32,
    buffers: ChildBuffers<'a>,
    options: ListenOptions,
    /// When a SYN cookie last went out: cookies are checked only within
    /// their lifetime of that (as Linux does), so a stray ACK to a
    /// listener that never overflowed gets the RST RFC 9293 asks for.
    last_cookie: Option<Instant>,
}

/// One entry of a [`SocketSet`]'s listener table.
#[derive(Debug)]
pub struct ListenerStorage<'a> {
    entry: Option<Listener<'a>>,
    generation: u16,
}

impl ListenerStorage<'_> {
    /// An empty entry, for building storage arrays without an allocator.
    pub const EMPTY: Self = ListenerStorage {
        entry: None,
        generation: 0,
    };
}

impl Default for ListenerStorage<'_> {
    fn default() -> Self {
        ListenerStorage::EMPTY
    }
}

/// One entry of a record pool: a record and its share of the pool's timer
/// queue.
#[derive(Debug, Clone, Copy)]
pub struct RecordStorage<R> {
    record: Option<R>,
    timer: TimerSlot,
    free_next: u32,
}

impl<R> RecordStorage<R> {
    /// An empty entry, for building storage arrays without an allocator.
    pub const EMPTY: Self = RecordStorage {
        record: None,
        timer: TimerSlot::EMPTY,
        free_next: FifoList::UNLINKED,
    };
}

impl<R> Default for RecordStorage<R> {
    fn default() -> Self {
        RecordStorage::EMPTY
    }
}

impl<R> HasTimer for RecordStorage<R> {
    fn timer(&self) -> &TimerSlot {
        &self.timer
    }
    fn timer_mut(&mut self) -> &mut TimerSlot {
        &mut self.timer
    }
}

/// An entry of the half-open pool (a [`HalfOpen`] record and its timer).
pub type HalfOpenStorage = RecordStorage<HalfOpen>;
/// An entry of the TIME_WAIT pool (a [`TimeWait`] record and its timer).
pub type TimeWaitStorage = RecordStorage<TimeWait>;

/// A pool of records with a free list and a deadline per record.
#[derive(Debug)]
struct Pool<'a, R> {
    entries: ManagedSlice<'a, RecordStorage<R>>,
    timers: TimerQueue,
    free_head: u32,
    len: usize,
}

impl<'a, R: Copy> Pool<'a, R> {
    fn new(mut entries: ManagedSlice<'a, RecordStorage<R>>) -> Self {
        let count = entries.len();
        for (i, entry) in entries.iter_mut().enumerate() {
            *entry = RecordStorage::EMPTY;
            entry.free_next = if i + 1 < count {
                u32::try_from(i + 1).unwrap_or(FifoList::UNLINKED)
            } else {
                FifoList::UNLINKED
            };
        }
        Pool {
            free_head: if count > 0 { 0 } else { FifoList::UNLINKED },
            entries,
            timers: TimerQueue::new(),
            len: 0,
        }
    }

    fn capacity(&self) -> usize {
        self.entries.len()
    }

    fn is_full(&self) -> bool {
        self.len >= self.entries.len()
    }

    fn get(&self, index: usize) -> Option<&R> {
        self.entries.get(index)?.record.as_ref()
    }

    fn get_mut(&mut self, index: usize) -> Option<&mut R> {
        self.entries.get_mut(index)?.record.as_mut()
    }

    fn insert(&mut self, record: R, deadline: Instant) -> Option<usize> {
        let index = self.free_head as usize;
        let entry = self.entries.get_mut(index)?;
        self.free_head = entry.free_next;
        entry.free_next = FifoList::UNLINKED;
        entry.record = Some(record);
        self.len += 1;
        self.timers.set(&mut self.entries, index, Some(deadline));
        Some(index)
    }

    fn remove(&mut self, index: usize) -> Option<R> {
        let entry = self.entries.get_mut(index)?;
        let record = entry.record.take()?;
        entry.free_next = self.free_head;
        self.free_head = u32::try_from(index).unwrap_or(FifoList::UNLINKED);
        self.len -= 1;
        self.timers.set(&mut self.entries, index, None);
        Some(record)
    }

    fn set_deadline(&mut self, index: usize, deadline: Instant) {
        self.timers.set(&mut self.entries, index, Some(deadline));
    }

    fn deadline(&self, index: usize) -> Option<Instant> {
        self.timers.deadline(&self.entries, index)
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.timers.peek(&self.entries).map(|(at, _)| at)
    }

    fn pop_due(&mut self, now: Instant) -> Option<usize> {
        self.timers.pop_due(&mut self.entries, now)
    }

    /// The record whose deadline comes first.
    fn earliest(&self) -> Option<usize> {
        self.timers.peek(&self.entries).map(|(_, index)| index)
    }

    fn iter(&self) -> impl Iterator<Item = (usize, &R)> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.record.as_ref().map(|r| (i, r)))
    }
}

/// The bounded queue of transitions.
#[derive(Debug)]
struct Trace<'a> {
    ring: ManagedSlice<'a, Option<TraceEvent>>,
    head: usize,
    len: usize,
    dropped: u64,
}

impl Trace<'_> {
    fn push(&mut self, event: TraceEvent) {
        let cap = self.ring.len();
        if self.len >= cap {
            self.dropped += 1;
            return;
        }
        let tail = (self.head + self.len) % cap;
        self.ring[tail] = Some(event);
        self.len += 1;
    }

    fn pop(&mut self) -> Option<TraceEvent> {
        if self.len == 0 {
            return None;
        }
        let event = self.ring.get_mut(self.head).and_then(Option::take);
        self.head = (self.head + 1) % self.ring.len();
        self.len -= 1;
        event
    }
}

/// The storage a [`SocketSet`] works in, for builds without an allocator
/// (with one, [`SocketSet::with_capacity`] allocates it once). Each array
/// element is an `EMPTY` constant of its type, e.g.
/// `[SocketStorage::EMPTY; 8]`; `demux` needs
/// [`demux_slots_for`]`(sockets + half_open + time_wait)` buckets.
#[derive(Debug)]
pub struct SocketSetStorage<'a> {
    /// Socket slots.
    pub sockets: ManagedSlice<'a, SocketStorage<'a>>,
    /// Listeners with a backlog.
    pub listeners: ManagedSlice<'a, ListenerStorage<'a>>,
    /// Half-open TCP records (the SYN queue of every listener).
    pub half_open: ManagedSlice<'a, HalfOpenStorage>,
    /// TIME_WAIT records.
    pub time_wait: ManagedSlice<'a, TimeWaitStorage>,
    /// The demultiplexing table's buckets.
    pub demux: ManagedSlice<'a, DemuxSlot>,
    /// The transition trace ring (may be empty: every event is then
    /// counted as dropped).
    pub trace: ManagedSlice<'a, Option<TraceEvent>>,
}

/// A set of sockets with handles, listener backlogs, compact TCP records
/// and the tables that index them (see the module docs).
#[derive(Debug)]
pub struct SocketSet<'a> {
    slots: ManagedSlice<'a, SocketStorage<'a>>,
    free_head: u32,
    len: usize,
    listeners: ManagedSlice<'a, ListenerStorage<'a>>,
    half_open: Pool<'a, HalfOpen>,
    time_wait: Pool<'a, TimeWait>,
    demux: DemuxTable<'a>,
    /// Whether the demultiplexing key came from an interface yet.
    keyed: bool,
    /// The last lookup that found an owner, while the table is unchanged:
    /// a flow's next segment skips hashing its key.
    last_hit: Cell<Option<LastHit>>,
    timers: TimerQueue,
    ready: ReadySet,
    dirty: FifoList,
    trace: Trace<'a>,
    /// The time of the last poll.
    now: Instant,
}

/// A demultiplexing lookup's answer, valid while the table's generation
/// stays `generation`.
#[derive(Debug, Clone, Copy)]
struct LastHit {
    key: DemuxKey,
    target: Target,
    generation: u32,
    /// For a socket, its key version when found.
    version: u32,
}

impl<'a> SocketSet<'a> {
    /// A set over `storage`, checked: the demultiplexing table must have
    /// two buckets per slot and record.
    pub fn new(storage: SocketSetStorage<'a>) -> Result<SocketSet<'a>, StorageError> {
        let SocketSetStorage {
            mut sockets,
            mut listeners,
            half_open,
            time_wait,
            demux,
            trace,
        } = storage;
        let entries = sockets
            .len()
            .checked_add(half_open.len())
            .and_then(|n| n.checked_add(time_wait.len()))
            .ok_or(StorageError::TooLarge)?;
        if sockets.len() > MAX_TARGET_INDEX
            || half_open.len() > MAX_TARGET_INDEX
            || time_wait.len() > MAX_TARGET_INDEX
            || listeners.len() > usize::from(u16::MAX)
        {
            return Err(StorageError::TooLarge);
        }
        let needed = demux_slots_for(entries);
        if demux.len() < needed {
            return Err(StorageError::DemuxTooSmall {
                needed,
                provided: demux.len(),
            });
        }
        let count = sockets.len();
        for (i, slot) in sockets.iter_mut().enumerate() {
            *slot = SocketStorage::EMPTY;
            slot.free_next = if i + 1 < count {
                u32::try_from(i + 1).unwrap_or(FifoList::UNLINKED)
            } else {
                FifoList::UNLINKED
            };
        }
        for entry in listeners.iter_mut() {
            *entry = ListenerStorage::EMPTY;
        }
        Ok(SocketSet {
            free_head: if count > 0 { 0 } else { FifoList::UNLINKED },
            slots: sockets,
            len: 0,
            listeners,
            half_open: Pool::new(half_open),
            time_wait: Pool::new(time_wait),
            demux: DemuxTable::new(demux, SipKey::default()),
            keyed: false,
            last_hit: Cell::new(None),
            timers: TimerQueue::new(),
            ready: ReadySet::new(),
            dirty: FifoList::new(),
            trace: Trace {
                ring: trace,
                head: 0,
                len: 0,
                dropped: 0,
            },
            now: Instant::ZERO,
        })
    }

    /// A set with room for `capacity` sockets and the defaults of
    /// [`SetCapacity::for_sockets`], allocated once.
    #[cfg(feature = "alloc")]
    pub fn with_capacity(capacity: usize) -> SocketSet<'static> {
        SocketSet::with_capacities(SetCapacity::for_sockets(capacity))
    }

    /// A set sized as `capacity` says, allocated once. Counts beyond what a
    /// handle can name are cut to that bound.
    #[cfg(feature = "alloc")]
    pub fn with_capacities(capacity: SetCapacity) -> SocketSet<'static> {
        use alloc::vec::Vec;
        let limit = |n: usize| n.min(MAX_TARGET_INDEX);
        let sockets = limit(capacity.sockets);
        let half_open = limit(capacity.half_open);
        let time_wait = limit(capacity.time_wait);
        let listeners = capacity.listeners.min(usize::from(u16::MAX));
        let mut slots = Vec::with_capacity(sockets);
        slots.resize_with(sockets, SocketStorage::default);
        let mut listener_entries = Vec::with_capacity(listeners);
        listener_entries.resize_with(listeners, ListenerStorage::default);
        let storage = SocketSetStorage {
            sockets: slots.into(),
            listeners: listener_entries.into(),
            half_open: alloc::vec![HalfOpenStorage::EMPTY; half_open].into(),
            time_wait: alloc::vec![TimeWaitStorage::EMPTY; time_wait].into(),
            demux: alloc::vec![DemuxSlot::EMPTY; demux_slots_for(sockets + half_open + time_wait)]
                .into(),
            trace: alloc::vec![None; capacity.trace].into(),
        };
        match SocketSet::new(storage) {
            Ok(set) => set,
            // The sizes above are within every bound `new` checks, so it
            // cannot refuse them; an empty set is the fallback.
            Err(_) => SocketSet::empty(),
        }
    }

    #[cfg(feature = "alloc")]
    fn empty() -> SocketSet<'static> {
        SocketSet {
            slots: ManagedSlice::Borrowed(&mut []),
            free_head: FifoList::UNLINKED,
            len: 0,
            listeners: ManagedSlice::Borrowed(&mut []),
            half_open: Pool::new(ManagedSlice::Borrowed(&mut [])),
            time_wait: Pool::new(ManagedSlice::Borrowed(&mut [])),
            demux: DemuxTable::new(ManagedSlice::Borrowed(&mut []), SipKey::default()),
            keyed: false,
            last_hit: Cell::new(None),
            timers: TimerQueue::new(),
            ready: ReadySet::new(),
            dirty: FifoList::new(),
            trace: Trace {
                ring: ManagedSlice::Borrowed(&mut []),
                head: 0,
                len: 0,
                dropped: 0,
            },
            now: Instant::ZERO,
        }
    }

    /// How many sockets the set can hold.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// How many sockets it holds (records not counted).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no socket.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a socket of any kind and returns its handle.
    pub fn add<T: AnySocket<'a>>(&mut self, socket: T) -> Result<SocketHandle, SetFull> {
        let index = self.occupy(socket.upcast(), Meta::new()).ok_or(SetFull)?;
        Ok(self.handle_of(index))
    }

    /// The socket behind `handle`, if it is still there and of kind `T`.
    pub fn get<T: AnySocket<'a>>(&self, handle: SocketHandle) -> Option<&T> {
        T::downcast(&self.item(handle)?.socket)
    }

    /// The socket behind `handle`, mutably, if it is still there and of
    /// kind `T`; marks it for the interface to look at on its next poll.
    pub fn get_mut<T: AnySocket<'a>>(&mut self, handle: SocketHandle) -> Option<&mut T> {
        self.item(handle)?;
        self.mark_dirty(handle.index());
        let item = self.slots.get_mut(handle.index())?.item.as_mut()?;
        T::downcast_mut(&mut item.socket)
    }

    /// Removes a socket and returns it; its handle goes stale. Its pending
    /// transitions are kept in the trace first. Removing a listener drops
    /// its half-open connections and aborts the connections still waiting
    /// for `accept` (they are freed once their RST is sent).
    pub fn remove(&mut self, handle: SocketHandle) -> Option<Socket<'a>> {
        self.item(handle)?;
        let index = handle.index();
        self.drain_socket_trace(index);
        let meta = self.slots.get(index)?.item.as_ref()?.meta;
        if meta.has(IS_LISTENER) {
            self.close_listener(meta.listener);
        }
        if meta.has(CHILD) {
            self.leave_listener(index);
        }
        self.unregister(index);
        let item = self.vacate(index)?;
        Some(item.socket)
    }

    /// Iterates over `(handle, socket)` pairs.
    pub fn iter(&self) -> impl Iterator<Item = (SocketHandle, &Socket<'a>)> {
        self.slots.iter().enumerate().filter_map(|(i, s)| {
            let item = s.item.as_ref()?;
            Some((Self::handle_at(i, s.generation), &item.socket))
        })
    }

    /// Iterates over `(handle, socket)` pairs mutably; marks every socket
    /// for the interface to look at on its next poll.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (SocketHandle, &mut Socket<'a>)> {
        for index in 0..self.slots.len() {
            if self.slots[index].item.is_some() {
                self.mark_dirty(index);
            }
        }
        self.slots.iter_mut().enumerate().filter_map(|(i, s)| {
            let generation = s.generation;
            let item = s.item.as_mut()?;
            Some((Self::handle_at(i, generation), &mut item.socket))
        })
    }

    /// The oldest state transition not yet read, of a
    /// socket or of a compact record. The queue is bounded; see
    /// [`trace_dropped`](Self::trace_dropped). Transitions the application
    /// caused since the last poll are taken in first.
    pub fn pop_trace(&mut self) -> Option<TraceEvent> {
        if self.trace.len == 0 {
            self.drain_dirty_traces();
        }
        self.trace.pop()
    }

    /// Transitions lost because the trace queue was full.
    pub fn trace_dropped(&self) -> u64 {
        self.trace.dropped
    }

    // ---- slots ----

    fn handle_at(index: usize, generation: u32) -> SocketHandle {
        SocketHandle {
            // Slot indices fit in u32: `new` bounds the slot count.
            index: index as u32,
            generation,
        }
    }

    fn handle_of(&self, index: usize) -> SocketHandle {
        let generation = self.slots.get(index).map_or(0, |s| s.generation);
        Self::handle_at(index, generation)
    }

    /// The item behind `handle`, if its generation is current.
    fn item(&self, handle: SocketHandle) -> Option<&Item<'a>> {
        let slot = self.slots.get(handle.index())?;
        if slot.generation != handle.generation {
            return None;
        }
        slot.item.as_ref()
    }

    fn item_at(&self, index: usize) -> Option<&Item<'a>> {
        self.slots.get(index)?.item.as_ref()
    }

    fn item_at_mut(&mut self, index: usize) -> Option<&mut Item<'a>> {
        self.slots.get_mut(index)?.item.as_mut()
    }

    /// Puts a socket in a free slot and marks it dirty.
    fn occupy(&mut self, socket: Socket<'a>, meta: Meta) -> Option<usize> {
        let index = self.free_head as usize;
        let slot = self.slots.get_mut(index)?;
        self.free_head = slot.free_next;
        slot.free_next = FifoList::UNLINKED;
        slot.item = Some(Item { socket, meta });
        self.len += 1;
        self.mark_dirty(index);
        Some(index)
    }

    /// Empties a slot (after its demux entry, listener and accept-queue
    /// links were dealt with): its timer and ready entries go, its
    /// generation moves on so old handles go stale.
    fn vacate(&mut self, index: usize) -> Option<Item<'a>> {
        self.timers.set(&mut self.slots, index, None);
        self.ready.remove(&mut self.slots, index);
        let slot = self.slots.get_mut(index)?;
        let item = slot.item.take()?;
        slot.generation = slot.generation.wrapping_add(1);
        slot.free_next = self.free_head;
        // Slot indices fit in u32: `new` bounds the slot count.
        self.free_head = index as u32;
        self.len -= 1;
        Some(item)
    }

    fn mark_dirty(&mut self, index: usize) {
        self.dirty.push_back(&mut self.slots, index, dirty_link);
    }

    /// Takes the oldest touched slot that still holds a socket off the
    /// dirty list.
    fn pop_dirty(&mut self) -> Option<usize> {
        while let Some(index) = self.dirty.pop_front(&mut self.slots, dirty_link) {
            if self.item_at(index).is_some() {
                return Some(index);
            }
        }
        None
    }

    /// Whether any socket was touched since the interface last looked.
    pub fn has_dirty(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// The slots on the dirty list, in order, without taking them off.
    fn dirty_slots(&self) -> impl Iterator<Item = usize> + '_ {
        let mut next = self.dirty.front();
        core::iter::from_fn(move || {
            let index = next?;
            let link = self.slots.get(index)?.links.dirty_next;
            next = FifoList::follow(link);
            Some(index)
        })
    }

    // ---- trace ----

    fn push_trace(
        &mut self,
        handle: Option<SocketHandle>,
        local: Option<IpEndpoint>,
        remote: Option<IpEndpoint>,
        transition: Transition,
    ) {
        self.trace.push(TraceEvent {
            at: self.now,
            handle,
            local,
            remote,
            transition,
        });
    }

    /// Moves a socket's own queued transitions into the set's trace.
    fn drain_socket_trace(&mut self, index: usize) {
        let Some(slot) = self.slots.get_mut(index) else {
            return;
        };
        let generation = slot.generation;
        let Some(item) = slot.item.as_mut() else {
            return;
        };
        let at = self.now;
        match &mut item.socket {
            Socket::Tcp(socket) => {
                while let Some(transition) = socket.pop_transition() {
                    self.trace.push(TraceEvent {
                        at,
                        handle: Some(Self::handle_at(index, generation)),
                        local: socket.local_endpoint(),
                        remote: socket.remote_endpoint(),
                        transition,
                    });
                }
            }
            // Only TCP has states to trace.
            Socket::Udp(_) | Socket::Icmp(_) | Socket::Dhcpv4(_) | Socket::Dns(_) => {}
        }
    }

    fn drain_dirty_traces(&mut self) {
        let mut next = self.dirty.front();
        while let Some(index) = next {
            next = self
                .slots
                .get(index)
                .and_then(|s| FifoList::follow(s.links.dirty_next));
            self.drain_socket_trace(index);
        }
    }

    // ---- for the interface ----

    /// Takes the interface's demultiplexing key (from its seed); entered
    /// keys are hashed again if it differs from the one in use.
    #[inline]
    pub(crate) fn attach(&mut self, key: SipKey) {
        if self.keyed && self.demux.sip_key() == key {
            return;
        }
        self.keyed = true;
        self.demux.rekey(key);
        self.reregister_all();
    }

    /// Starts a poll at `now`.
    #[inline]
    pub(crate) fn begin_poll(&mut self, now: Instant) {
        self.now = now;
    }

    /// Brings every socket the application touched in step: trace, demux
    /// entry, compaction, schedule.
    pub(crate) fn sync_dirty(&mut self, cx: &mut Context) {
        while let Some(index) = self.pop_dirty() {
            self.sync_slot(cx, index);
        }
    }

    /// When the interface should poll next: the last poll's time if a
    /// socket is ready, else the earliest deadline of sockets and records;
    /// sockets the application touched since are asked directly.
    pub(crate) fn poll_at(&self, cx: &Context) -> Option<Instant> {
        if !self.ready.is_empty() {
            return Some(self.now);
        }
        let mut at = earliest(
            self.timers.peek(&self.slots).map(|(at, _)| at),
            earliest(
                self.half_open.next_deadline(),
                self.time_wait.next_deadline(),
            ),
        );
        for index in self.dirty_slots() {
            let Some(item) = self.item_at(index) else {
                continue;
            };
            match item.socket.poll_at(cx) {
                PollAt::Now => return Some(self.now),
                PollAt::Time(t) => at = earliest(at, Some(t)),
                PollAt::Ingress => {}
            }
        }
        at
    }

    /// Schedules slot `index` from its socket's `poll_at` (and its idle
    /// deadline).
    fn schedule(&mut self, cx: &Context, index: usize) {
        let Some(item) = self.item_at(index) else {
            return;
        };
        let idle = item.meta.has(IDLE_CHECK).then_some(item.meta.idle_deadline);
        match item.socket.poll_at(cx) {
            PollAt::Now => {
                self.timers.set(&mut self.slots, index, None);
                self.ready.insert(&mut self.slots, index);
            }
            PollAt::Time(at) => {
                self.timers
                    .set(&mut self.slots, index, earliest(Some(at), idle));
            }
            PollAt::Ingress => self.timers.set(&mut self.slots, index, idle),
        }
    }

    // ---- demux registration ----

    /// The key a socket should be found by now.
    fn live_key(socket: &Socket<'_>) -> Option<DemuxKey> {
        match socket {
            Socket::Tcp(tcp) => match tcp.state() {
                State::Closed => None,
                State::Listen => Some(DemuxKey::tcp_listener(tcp.listen_endpoint())),
                _ => Some(DemuxKey::tcp_connection(
                    tcp.local_endpoint()?,
                    tcp.remote_endpoint()?,
                )),
            },
            Socket::Udp(udp) => {
                if !udp.is_bound() {
                    return None;
                }
                Some(match udp.connected_tuple() {
                    Some((local, remote)) => DemuxKey::udp_connection(local, remote),
                    None => DemuxKey::udp_bound(udp.endpoint()),
                })
            }
            Socket::Icmp(icmp) => icmp.ident().map(DemuxKey::icmp_ident),
            // Over UDP, on every address: port 68, the resolver's port.
            Socket::Dhcpv4(_) => Some(DemuxKey::udp_bound(crate::wire::IpListenEndpoint {
                addr: None,
                port: crate::wire::dhcpv4::CLIENT_PORT,
            })),
            Socket::Dns(dns) => Some(DemuxKey::udp_bound(crate::wire::IpListenEndpoint {
                addr: None,
                port: dns.local_port(),
            })),
        }
    }

    /// A count that moves whenever the socket's [`live_key`](Self::live_key)
    /// may have.
    fn key_version(socket: &Socket<'_>) -> u32 {
        match socket {
            Socket::Tcp(tcp) => tcp.state_changes(),
            Socket::Udp(udp) => udp.key_version(),
            Socket::Icmp(icmp) => icmp.key_version(),
            // The DHCP client's port never changes.
            Socket::Dhcpv4(_) => 0,
            Socket::Dns(dns) => dns.key_version(),
        }
    }

    /// Whether `target`'s owner has `key` now.
    fn owner_has(&self, target: Target, key: &DemuxKey) -> bool {
        match target {
            Target::Socket(index) => self
                .item_at(index)
                .is_some_and(|item| Self::live_key(&item.socket).as_ref() == Some(key)),
            Target::HalfOpen(index) => self.half_open.get(index).is_some_and(|r| {
                DemuxKey::tcp_connection(r.local_endpoint(), r.remote_endpoint()) == *key
            }),
            Target::TimeWait(index) => self.time_wait.get(index).is_some_and(|r| {
                DemuxKey::tcp_connection(r.local_endpoint(), r.remote_endpoint()) == *key
            }),
        }
    }

    /// The owner of `key`, if one has it.
    ///
    /// Keys have one owner each (`register` refuses a second), so while
    /// no entry was entered or removed since the last hit, an owner that
    /// still has the key is the one the table would find. A socket still
    /// has it while its key version is the one it had then (the rule
    /// `update_registration` relies on too).
    fn lookup(&self, key: &DemuxKey) -> Option<Target> {
        let generation = self.demux.generation();
        if let Some(hit) = self.last_hit.get() {
            if hit.generation == generation && hit.key == *key {
                let still = match hit.target {
                    Target::Socket(index) => self
                        .item_at(index)
                        .is_some_and(|item| Self::key_version(&item.socket) == hit.version),
                    other => self.owner_has(other, key),
                };
                if still {
                    return Some(hit.target);
                }
            }
        }
        let target = self
            .demux
            .find(self.demux.hash(key), |t| self.owner_has(t, key))?;
        let version = match target {
            Target::Socket(index) => self
                .item_at(index)
                .map_or(0, |item| Self::key_version(&item.socket)),
            Target::HalfOpen(_) | Target::TimeWait(_) => 0,
        };
        self.last_hit.set(Some(LastHit {
            key: *key,
            target,
            generation,
            version,
        }));
        Some(target)
    }

    /// Enters `target` under `key` unless another owner has the key;
    /// returns whether it was entered.
    fn register(&mut self, key: &DemuxKey, target: Target) -> bool {
        let hash = self.demux.hash(key);
        if self
            .demux
            .find(hash, |t| t != target && self.owner_has(t, key))
            .is_some()
        {
            return false;
        }
        self.demux.insert(hash, target).is_ok()
    }

    /// Brings slot `index`'s demux entry in step with its socket; returns
    /// false if the entry could not be made (table full, or the key is
    /// another socket's).
    #[inline]
    fn update_registration(&mut self, index: usize) -> bool {
        // The common case on every segment, checked before the call: the
        // entry is current.
        if let Some(item) = self.item_at(index) {
            if item.meta.has(REGISTERED)
                && item.meta.registered_version == Self::key_version(&item.socket)
            {
                return true;
            }
        }
        self.refresh_registration(index)
    }

    /// `update_registration`'s work when the entry may be stale.
    fn refresh_registration(&mut self, index: usize) -> bool {
        let Some(item) = self.item_at(index) else {
            return true;
        };
        let version = Self::key_version(&item.socket);
        let meta = item.meta;
        // The common case on every segment: nothing that makes up the key
        // moved since it was entered, so neither hash nor table is touched.
        if meta.has(REGISTERED) && meta.registered_version == version {
            return true;
        }
        let key = Self::live_key(&item.socket);
        let new_hash = key.as_ref().map(|k| self.demux.hash(k));
        if meta.has(REGISTERED) && new_hash == Some(meta.registered_hash) {
            if let Some(item) = self.item_at_mut(index) {
                item.meta.registered_version = version;
            }
            return true;
        }
        self.unregister(index);
        let Some(key) = key else {
            return true;
        };
        let entered = self.register(&key, Target::Socket(index));
        if let (true, Some(hash), Some(item)) = (entered, new_hash, self.item_at_mut(index)) {
            item.meta.registered_hash = hash;
            item.meta.registered_version = version;
            item.meta.flags |= REGISTERED;
        }
        entered
    }

    fn unregister(&mut self, index: usize) {
        let Some(item) = self.item_at_mut(index) else {
            return;
        };
        if !item.meta.has(REGISTERED) {
            return;
        }
        item.meta.flags &= !REGISTERED;
        let hash = item.meta.registered_hash;
        self.demux.remove(hash, Target::Socket(index));
    }

    /// Enters everything again (after a new key).
    fn reregister_all(&mut self) {
        for index in 0..self.slots.len() {
            if let Some(item) = self.item_at_mut(index) {
                item.meta.flags &= !REGISTERED;
            }
            self.update_registration(index);
        }
        for i in 0..self.half_open.capacity() {
            if let Some(r) = self.half_open.get(i) {
                let key = DemuxKey::tcp_connection(r.local_endpoint(), r.remote_endpoint());
                let hash = self.demux.hash(&key);
                let _ = self.demux.insert(hash, Target::HalfOpen(i));
            }
        }
        for i in 0..self.time_wait.capacity() {
            if let Some(r) = self.time_wait.get(i) {
                let key = DemuxKey::tcp_connection(r.local_endpoint(), r.remote_endpoint());
                let hash = self.demux.hash(&key);
                let _ = self.demux.insert(hash, Target::TimeWait(i));
            }
        }
    }

    // ---- listeners ----

    fn listener(&self, raw: u32) -> Option<&Listener<'a>> {
        let r = ListenerRef::unpack(raw)?;
        let entry = self.listeners.get(usize::from(r.index))?;
        (entry.generation == r.generation)
            .then_some(entry.entry.as_ref())
            .flatten()
    }

    fn listener_mut(&mut self, raw: u32) -> Option<&mut Listener<'a>> {
        let r = ListenerRef::unpack(raw)?;
        let entry = self.listeners.get_mut(usize::from(r.index))?;
        if entry.generation != r.generation {
            return None;
        }
        entry.entry.as_mut()
    }

    /// The listening socket of listener `raw`.
    fn listener_socket(&self, raw: u32) -> Option<&TcpSocket<'a>> {
        let handle = self.listener(raw)?.socket;
        match &self.item(handle)?.socket {
            Socket::Tcp(socket) => Some(socket),
            _ => None,
        }
    }
}

impl FifoList {
    /// The member a stored link points at (`None` past the end).
    fn follow(link: u32) -> Option<usize> {
        (link < u32::MAX - 1).then_some(link as usize)
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests;
