//! The socket set: a slab of sockets on caller-chosen storage, with handles,
//! listener backlogs and accept queues.
//!
//! Every mutable access through the set marks the socket *dirty*, so the
//! interface revisits only sockets the application touched instead of
//! scanning the whole set on each poll.

use managed::ManagedSlice;

use super::tcp::{SocketBuffer, State, TcpSocket};

/// Identifies a socket in a [`SocketSet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SocketHandle(usize);

impl SocketHandle {
    /// The slot index behind the handle.
    pub const fn index(self) -> usize {
        self.0
    }

    /// The handle of slot `index` (for the interface).
    pub(crate) const fn from_index(index: usize) -> SocketHandle {
        SocketHandle(index)
    }
}

impl core::fmt::Display for SocketHandle {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Where a listener's spawned connections get their buffers.
#[derive(Debug)]
pub enum ChildBuffers<'a> {
    /// Allocate `rx` and `tx` bytes for each connection when its SYN is
    /// accepted.
    #[cfg(feature = "alloc")]
    Alloc {
        /// Receive buffer size.
        rx: usize,
        /// Transmit buffer size.
        tx: usize,
    },
    /// Take buffer pairs from a pool the application provides; a freed
    /// connection's buffers go back to it. With an empty pool, SYNs are
    /// dropped as if the backlog were full.
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

    fn give_back(&mut self, buffers: (SocketBuffer<'a>, SocketBuffer<'a>)) {
        #[cfg(feature = "alloc")]
        if let ChildBuffers::Alloc { .. } = self {
            // Allocated buffers are simply dropped.
            return;
        }
        #[allow(irrefutable_let_patterns)]
        if let ChildBuffers::Pool(pool) = self {
            if let Some(free) = pool.iter_mut().find(|b| b.is_none()) {
                *free = Some(buffers);
            }
        }
    }
}

/// A listener's backlog bookkeeping.
#[derive(Debug)]
struct Listener<'a> {
    /// Most connections (half-open or waiting for accept) at once.
    backlog: usize,
    /// Connections spawned and not yet accepted or freed.
    pending: usize,
    /// Where children get buffers.
    buffers: ChildBuffers<'a>,
}

/// Per-slot bookkeeping beside the socket.
#[derive(Debug, Default, Clone, Copy)]
struct Meta {
    /// For a listener's child not yet accepted: the listener's slot.
    parent: Option<usize>,
    /// Whether the interface frees this socket by itself once it is done
    /// (an unaccepted child, or an orphan of a removed listener): nobody
    /// else holds its handle.
    auto_free: bool,
    /// Whether the slot is queued in the dirty list.
    dirty: bool,
}

/// One slot of a [`SocketSet`]'s storage.
#[derive(Debug, Default)]
pub struct SocketStorage<'a> {
    inner: Option<Item<'a>>,
}

impl SocketStorage<'_> {
    /// An empty slot, for building storage arrays without an allocator.
    pub const EMPTY: Self = SocketStorage { inner: None };
}

#[derive(Debug)]
struct Item<'a> {
    socket: TcpSocket<'a>,
    meta: Meta,
    listener: Option<Listener<'a>>,
}

/// `add` failed: every slot is taken and the storage cannot grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SetFull;

impl core::fmt::Display for SetFull {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        f.write_str("the socket set is full")
    }
}

impl core::error::Error for SetFull {}

/// A set of TCP sockets with handles.
#[derive(Debug)]
pub struct SocketSet<'a> {
    slots: ManagedSlice<'a, SocketStorage<'a>>,
    /// Slots touched since the interface last looked, FIFO; `Meta::dirty`
    /// makes insertion idempotent. Bounded by the slot count.
    dirty: ManagedSlice<'a, usize>,
    dirty_head: usize,
    dirty_len: usize,
}

impl<'a> SocketSet<'a> {
    /// A set over `slots`, with `dirty` as the scratch list of touched
    /// sockets (it must be at least as long as `slots`).
    pub fn new<S, D>(slots: S, dirty: D) -> SocketSet<'a>
    where
        S: Into<ManagedSlice<'a, SocketStorage<'a>>>,
        D: Into<ManagedSlice<'a, usize>>,
    {
        SocketSet {
            slots: slots.into(),
            dirty: dirty.into(),
            dirty_head: 0,
            dirty_len: 0,
        }
    }

    /// A set with room for `capacity` sockets, allocated once.
    #[cfg(feature = "alloc")]
    pub fn with_capacity(capacity: usize) -> SocketSet<'static> {
        let mut slots = alloc::vec::Vec::with_capacity(capacity);
        slots.resize_with(capacity, SocketStorage::default);
        SocketSet::new(slots, alloc::vec![0usize; capacity])
    }

    /// How many sockets the set can hold.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// How many sockets it holds.
    pub fn len(&self) -> usize {
        self.slots.iter().filter(|s| s.inner.is_some()).count()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.slots.iter().all(|s| s.inner.is_none())
    }

    /// Adds a socket and returns its handle.
    pub fn add(&mut self, socket: TcpSocket<'a>) -> Result<SocketHandle, SetFull> {
        let index = self
            .slots
            .iter()
            .position(|s| s.inner.is_none())
            .ok_or(SetFull)?;
        self.slots[index].inner = Some(Item {
            socket,
            meta: Meta::default(),
            listener: None,
        });
        self.mark_dirty(index);
        Ok(SocketHandle(index))
    }

    /// The socket behind `handle`, if it is still there.
    pub fn get(&self, handle: SocketHandle) -> Option<&TcpSocket<'a>> {
        self.item(handle.0).map(|item| &item.socket)
    }

    /// The socket behind `handle`, mutably; marks it for the interface to
    /// look at on its next poll.
    pub fn get_mut(&mut self, handle: SocketHandle) -> Option<&mut TcpSocket<'a>> {
        self.item(handle.0)?;
        self.mark_dirty(handle.0);
        self.item_mut(handle.0).map(|item| &mut item.socket)
    }

    /// Removes a socket and returns it. Removing a listener leaves its
    /// unaccepted children to be freed as they close.
    pub fn remove(&mut self, handle: SocketHandle) -> Option<TcpSocket<'a>> {
        let item = self.slots.get_mut(handle.0)?.inner.take()?;
        // Orphan the listener's unaccepted children: they now belong to
        // nobody and are freed once they reach CLOSED.
        if item.listener.is_some() {
            for slot in self.slots.iter_mut() {
                if let Some(child) = slot.inner.as_mut() {
                    if child.meta.parent == Some(handle.0) {
                        child.meta.parent = None;
                        child.meta.auto_free = true;
                        child.socket.abort();
                    }
                }
            }
        }
        if let Some(parent) = item.meta.parent {
            self.release_child_slot(parent);
        }
        Some(item.socket)
    }

    /// Iterates over `(handle, socket)` pairs.
    pub fn iter(&self) -> impl Iterator<Item = (SocketHandle, &TcpSocket<'a>)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.inner.as_ref().map(|item| (SocketHandle(i), &item.socket)))
    }

    /// Puts the socket behind `handle` in LISTEN on `local` with a backlog:
    /// each SYN spawns a connection socket into this set (up to `backlog`
    /// at once, half-open or waiting for [`accept`](Self::accept)), with
    /// buffers from `buffers`. SYNs beyond the backlog are dropped.
    ///
    /// # Errors
    /// [`ListenError::InvalidState`] if `handle` is not in the set or its
    /// socket is not CLOSED, [`ListenError::Unaddressable`] for port 0, and
    /// [`ListenError::AddressInUse`] if another socket of the set listens on
    /// the same port with the same address or on every address (either
    /// side's `addr: None`): each SYN must have one listener to go to.
    ///
    /// [`ListenError::InvalidState`]: super::tcp::ListenError::InvalidState
    /// [`ListenError::Unaddressable`]: super::tcp::ListenError::Unaddressable
    /// [`ListenError::AddressInUse`]: super::tcp::ListenError::AddressInUse
    pub fn listen<T: Into<crate::wire::IpListenEndpoint>>(
        &mut self,
        handle: SocketHandle,
        local: T,
        backlog: usize,
        buffers: ChildBuffers<'a>,
    ) -> Result<(), super::tcp::ListenError> {
        let local = local.into();
        let index = handle.0;
        // A scan, but listen is rare and not on the data path.
        let in_use = self.iter().any(|(other, socket)| {
            other != handle
                && socket.state() == State::Listen
                && listen_endpoints_overlap(socket.listen_endpoint(), local)
        });
        let item = self
            .item_mut(index)
            .ok_or(super::tcp::ListenError::InvalidState)?;
        if in_use && local.port != 0 && item.socket.state() == State::Closed {
            return Err(super::tcp::ListenError::AddressInUse);
        }
        item.socket.listen(local)?;
        item.listener = Some(Listener {
            backlog,
            pending: 0,
            buffers,
        });
        self.mark_dirty(index);
        Ok(())
    }

    /// The next connection of the listener `handle` that has completed its
    /// handshake (ESTABLISHED or later), oldest first. The returned socket
    /// is the application's: it is no longer counted in the backlog and is
    /// not freed automatically.
    pub fn accept(&mut self, handle: SocketHandle) -> Option<SocketHandle> {
        let listener = handle.0;
        let child = self.slots.iter().enumerate().find_map(|(i, slot)| {
            let item = slot.inner.as_ref()?;
            let ready = item.meta.parent == Some(listener)
                && item.socket.state() != State::SynRcvd
                && item.socket.state() != State::Listen;
            ready.then_some(i)
        })?;
        if let Some(item) = self.item_mut(child) {
            item.meta.parent = None;
            item.meta.auto_free = false;
        }
        self.release_child_slot(listener);
        Some(SocketHandle(child))
    }

    /// How many connections of listener `handle` are half-open or waiting
    /// for accept.
    pub fn pending(&self, handle: SocketHandle) -> usize {
        self.item(handle.0)
            .and_then(|item| item.listener.as_ref())
            .map_or(0, |l| l.pending)
    }

    // ---- for the interface ----

    /// Whether any socket was touched since the interface last looked.
    pub fn has_dirty(&self) -> bool {
        self.dirty_len > 0
    }

    /// The sockets touched since the interface last looked.
    pub(crate) fn dirty_sockets(&self) -> impl Iterator<Item = &TcpSocket<'a>> {
        let cap = self.dirty.len().max(1);
        (0..self.dirty_len).filter_map(move |i| {
            let index = *self.dirty.get((self.dirty_head + i) % cap)?;
            self.socket(index)
        })
    }

    /// Whether slot `index` is a listener set up with a backlog (so SYNs
    /// spawn children rather than being processed by the listener itself).
    pub(crate) fn has_backlog(&self, index: usize) -> bool {
        self.item(index).is_some_and(|item| item.listener.is_some())
    }

    /// Spawns a child of listener `listener` for a new SYN, if the backlog
    /// and buffers allow; returns its slot.
    pub(crate) fn spawn_child(&mut self, listener: usize) -> Option<usize> {
        let free = self.slots.iter().position(|s| s.inner.is_none())?;
        let item = self.item_mut(listener)?;
        let state = item.socket.state();
        let l = item.listener.as_mut()?;
        if state != State::Listen || l.pending >= l.backlog {
            return None;
        }
        let (rx, tx) = l.buffers.take()?;
        l.pending += 1;
        let child = item.socket.fork_listener_child(rx, tx);
        self.slots[free].inner = Some(Item {
            socket: child,
            meta: Meta {
                parent: Some(listener),
                auto_free: true,
                dirty: false,
            },
            listener: None,
        });
        Some(free)
    }

    /// Frees a socket for which [`should_free`](Self::should_free) holds,
    /// returning its buffers to its listener's pool.
    pub(crate) fn free_child(&mut self, index: usize) {
        let Some(slot) = self.slots.get_mut(index) else {
            return;
        };
        let Some(item) = slot.inner.take() else {
            return;
        };
        if let Some(parent) = item.meta.parent {
            self.release_child_slot(parent);
            let buffers = item.socket.into_buffers();
            if let Some(l) = self.item_mut(parent).and_then(|p| p.listener.as_mut()) {
                l.buffers.give_back(buffers);
            }
        }
    }

    /// Whether the interface should free slot `index` now: an unaccepted
    /// child or orphan that is CLOSED, or a child back in LISTEN after a RST
    /// in SYN_RCVD (RFC 9293 section 3.10.7.4).
    pub(crate) fn should_free(&self, index: usize) -> bool {
        self.item(index).is_some_and(|item| {
            item.meta.auto_free && matches!(item.socket.state(), State::Closed | State::Listen)
        })
    }

    /// Socket in slot `index`, for the interface.
    pub(crate) fn socket_mut(&mut self, index: usize) -> Option<&mut TcpSocket<'a>> {
        self.item_mut(index).map(|item| &mut item.socket)
    }

    /// Socket in slot `index`, for the interface.
    pub(crate) fn socket(&self, index: usize) -> Option<&TcpSocket<'a>> {
        self.item(index).map(|item| &item.socket)
    }

    /// Takes the oldest touched slot off the dirty list.
    pub(crate) fn pop_dirty(&mut self) -> Option<usize> {
        while self.dirty_len > 0 {
            let index = self.dirty[self.dirty_head];
            self.dirty_head = (self.dirty_head + 1) % self.dirty.len();
            self.dirty_len -= 1;
            if let Some(item) = self.item_mut(index) {
                item.meta.dirty = false;
                return Some(index);
            }
        }
        None
    }

    fn mark_dirty(&mut self, index: usize) {
        let cap = self.dirty.len();
        let Some(item) = self.slots.get_mut(index).and_then(|s| s.inner.as_mut()) else {
            return;
        };
        if item.meta.dirty || self.dirty_len >= cap {
            return;
        }
        item.meta.dirty = true;
        let tail = (self.dirty_head + self.dirty_len) % cap;
        self.dirty[tail] = index;
        self.dirty_len += 1;
    }

    fn release_child_slot(&mut self, listener: usize) {
        if let Some(l) = self.item_mut(listener).and_then(|p| p.listener.as_mut()) {
            l.pending = l.pending.saturating_sub(1);
        }
    }

    fn item(&self, index: usize) -> Option<&Item<'a>> {
        self.slots.get(index)?.inner.as_ref()
    }

    fn item_mut(&mut self, index: usize) -> Option<&mut Item<'a>> {
        self.slots.get_mut(index)?.inner.as_mut()
    }
}

/// Whether a SYN could match both listen endpoints: the same port, and the
/// same address or either bound to every address.
fn listen_endpoints_overlap(
    a: crate::wire::IpListenEndpoint,
    b: crate::wire::IpListenEndpoint,
) -> bool {
    a.port == b.port
        && match (a.addr, b.addr) {
            (Some(x), Some(y)) => x == y,
            _ => true,
        }
}

#[cfg(test)]
mod tests {
    use std::vec;

    use super::*;
    use crate::socket::tcp::ListenError;
    use crate::wire::{IpAddress, IpListenEndpoint, Ipv4Address};

    fn socket() -> TcpSocket<'static> {
        TcpSocket::new(
            SocketBuffer::new(vec![0; 64]),
            SocketBuffer::new(vec![0; 64]),
        )
    }

    fn on(addr: Option<[u8; 4]>, port: u16) -> IpListenEndpoint {
        IpListenEndpoint {
            addr: addr.map(|a| IpAddress::Ipv4(Ipv4Address(a))),
            port,
        }
    }

    const BUFFERS: ChildBuffers<'static> = ChildBuffers::Alloc { rx: 64, tx: 64 };

    /// A second listener on an endpoint a SYN could match twice is refused
    /// with AddressInUse and stays CLOSED; other ports and other specific
    /// addresses are fine, and the endpoint is free again once the first
    /// listener is gone.
    #[test]
    fn a_second_listener_on_an_overlapping_endpoint_is_address_in_use() {
        let mut set = SocketSet::with_capacity(8);
        let first = set.add(socket()).unwrap();
        set.listen(first, on(None, 80), 4, BUFFERS).unwrap();

        let second = set.add(socket()).unwrap();
        for endpoint in [on(None, 80), on(Some([192, 0, 2, 1]), 80)] {
            assert_eq!(
                set.listen(second, endpoint, 4, BUFFERS),
                Err(ListenError::AddressInUse),
                "{endpoint:?}"
            );
            assert_eq!(set.get(second).unwrap().state(), State::Closed);
        }
        set.listen(second, on(None, 81), 4, BUFFERS).unwrap();

        // Specific addresses: the same one conflicts, another does not, and
        // every address conflicts with either.
        let a = set.add(socket()).unwrap();
        let b = set.add(socket()).unwrap();
        let any = set.add(socket()).unwrap();
        set.listen(a, on(Some([192, 0, 2, 1]), 90), 4, BUFFERS)
            .unwrap();
        assert_eq!(
            set.listen(b, on(Some([192, 0, 2, 1]), 90), 4, BUFFERS),
            Err(ListenError::AddressInUse)
        );
        set.listen(b, on(Some([192, 0, 2, 2]), 90), 4, BUFFERS)
            .unwrap();
        assert_eq!(
            set.listen(any, on(None, 90), 4, BUFFERS),
            Err(ListenError::AddressInUse)
        );

        // The other errors keep their precedence.
        assert_eq!(
            set.listen(second, on(None, 80), 4, BUFFERS),
            Err(ListenError::InvalidState),
            "already listening"
        );
        assert_eq!(
            set.listen(any, on(None, 0), 4, BUFFERS),
            Err(ListenError::Unaddressable)
        );

        set.remove(first);
        set.listen(any, on(None, 80), 4, BUFFERS).unwrap();
        assert_eq!(set.get(any).unwrap().state(), State::Listen);
    }
}
