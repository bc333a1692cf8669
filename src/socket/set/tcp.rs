//! The socket set's TCP side: demultiplexing segments to sockets and
//! records, listeners (SYN queue, SYN cookies, accept queue), compaction
//! into TIME_WAIT records, the memory policy, and TCP egress.

use core::convert::Infallible;

use super::*;
use crate::socket::Packet;
use crate::socket::tcp::{COOKIE_LIFETIME_MINUTES, Cause, IcmpError, ListenError, SynCookies};
use crate::wire::{IpAddress, IpListenEndpoint, IpRepr, SeqNumber, TcpRepr};

/// An immediate reply: the IP header and the TCP segment.
pub(crate) type Reply = Option<(IpRepr, TcpRepr<'static>)>;

/// A copy of a dataless segment that borrows nothing.
pub(super) fn detach(repr: &TcpRepr<'_>) -> TcpRepr<'static> {
    TcpRepr {
        src_port: repr.src_port,
        dst_port: repr.dst_port,
        seq_number: repr.seq_number,
        ack_number: repr.ack_number,
        flags: repr.flags,
        window_len: repr.window_len,
        urgent_pointer: repr.urgent_pointer,
        max_seg_size: repr.max_seg_size,
        window_scale: repr.window_scale,
        sack_permitted: repr.sack_permitted,
        sack_ranges: repr.sack_ranges,
        timestamp: repr.timestamp,
        payload: &[],
    }
}

/// Empty buffers for a socket rebuilt from a record.
fn no_buffers() -> (SocketBuffer<'static>, SocketBuffer<'static>) {
    (
        SocketBuffer::new(&mut [][..]),
        SocketBuffer::new(&mut [][..]),
    )
}

/// How long after the last SYN cookie went out its ACKs are looked for.
const COOKIE_WINDOW: Duration = Duration::from_secs(60 * COOKIE_LIFETIME_MINUTES as u64);

/// Whether a SYN could match both listen endpoints: the same port, and the
/// same address or either bound to every address.
fn endpoints_overlap(a: IpListenEndpoint, b: IpListenEndpoint) -> bool {
    a.port == b.port
        && match (a.addr, b.addr) {
            (Some(x), Some(y)) => x == y,
            _ => true,
        }
}

/// Eviction tiers, lowest goes first.
fn eviction_tier(state: State) -> Option<u8> {
    match state {
        State::Closed | State::TimeWait => Some(0),
        State::LastAck | State::Closing | State::FinWait2 => Some(1),
        State::Established | State::CloseWait | State::FinWait1 => Some(2),
        State::Listen | State::SynSent | State::SynRcvd => None,
    }
}

impl<'a> SocketSet<'a> {
    // ------------------------------------------------------ application API

    /// Puts the TCP socket behind `handle` in LISTEN on `local` with a
    /// backlog: each SYN becomes a compact half-open record of this
    /// listener (at most `backlog` at once, and at most `backlog`
    /// connections waiting for [`accept`](Self::accept)); when the
    /// handshake completes the connection gets buffers from `buffers` and a
    /// slot of this set. With the SYN queue full, SYNs are answered with
    /// SYN cookies (see [`set_listen_options`](Self::set_listen_options)).
    ///
    /// # Errors
    /// [`ListenError::InvalidState`] if `handle` is not in the set or its
    /// socket is not CLOSED, [`ListenError::Unaddressable`] for port 0,
    /// [`ListenError::AddressInUse`] if another socket of the set listens on
    /// the same port with the same address or on every address (either
    /// side's `addr: None`): each SYN must have one listener to go to, and
    /// [`ListenError::TooManyListeners`] if the listener table is full.
    pub fn listen<T: Into<IpListenEndpoint>>(
        &mut self,
        handle: SocketHandle,
        local: T,
        backlog: usize,
        buffers: ChildBuffers<'a>,
    ) -> Result<(), ListenError> {
        let local = local.into();
        let index = handle.index();
        let item = self.item(handle).ok_or(ListenError::InvalidState)?;
        match TcpSocket::downcast(&item.socket) {
            Some(socket) if socket.state() == State::Closed => {}
            _ => return Err(ListenError::InvalidState),
        }
        if local.port == 0 {
            return Err(ListenError::Unaddressable);
        }
        // A scan, but listen is rare and not on the data path.
        let in_use = self.iter().any(|(other, socket)| {
            other != handle
                && TcpSocket::downcast(socket).is_some_and(|s| {
                    s.state() == State::Listen && endpoints_overlap(s.listen_endpoint(), local)
                })
        });
        if in_use {
            return Err(ListenError::AddressInUse);
        }
        let entry = self
            .listeners
            .iter()
            .position(|e| e.entry.is_none())
            .ok_or(ListenError::TooManyListeners)?;
        if let Some(socket) = self
            .item_at_mut(index)
            .and_then(|i| TcpSocket::downcast_mut(&mut i.socket))
        {
            socket.listen(local)?;
        }
        let generation = self.listeners[entry].generation;
        let child_rx = u32::try_from(buffers.rx_capacity()).unwrap_or(u32::MAX);
        self.listeners[entry].entry = Some(Listener {
            socket: handle,
            backlog: u32::try_from(backlog).unwrap_or(u32::MAX),
            syn_queue: 0,
            accept: FifoList::new(),
            child_rx,
            buffers,
            options: ListenOptions::default(),
            last_cookie: None,
        });
        let raw = ListenerRef {
            // The table has at most u16::MAX entries (checked in `new`).
            index: entry as u16,
            generation,
        }
        .pack();
        if let Some(item) = self.item_at_mut(index) {
            item.meta.listener = raw;
            item.meta.flags |= IS_LISTENER;
        }
        // Entered at once, so a second `listen` on the endpoint is refused.
        self.update_registration(index);
        self.mark_dirty(index);
        Ok(())
    }

    /// Sets how the listener `handle` treats SYNs beyond its backlog and
    /// silent connections; `InvalidState` if it is no listener with a
    /// backlog.
    pub fn set_listen_options(
        &mut self,
        handle: SocketHandle,
        options: ListenOptions,
    ) -> Result<(), ListenError> {
        let raw = self
            .item(handle)
            .filter(|i| i.meta.has(IS_LISTENER))
            .ok_or(ListenError::InvalidState)?
            .meta
            .listener;
        let listener = self.listener_mut(raw).ok_or(ListenError::InvalidState)?;
        listener.options = options;
        Ok(())
    }

    /// The listener `handle`'s options.
    pub fn listen_options(&self, handle: SocketHandle) -> Option<ListenOptions> {
        let item = self.item(handle).filter(|i| i.meta.has(IS_LISTENER))?;
        Some(self.listener(item.meta.listener)?.options)
    }

    /// The next connection of the listener `handle` that has completed its
    /// handshake, oldest first. The returned socket is the application's:
    /// it no longer counts against the backlog and is not freed by the set
    /// (but see the memory policy in the module docs).
    pub fn accept(&mut self, handle: SocketHandle) -> Option<SocketHandle> {
        let raw = self
            .item(handle)
            .filter(|i| i.meta.has(IS_LISTENER))?
            .meta
            .listener;
        let r = ListenerRef::unpack(raw)?;
        let entry = self.listeners.get_mut(usize::from(r.index))?;
        if entry.generation != r.generation {
            return None;
        }
        let listener = entry.entry.as_mut()?;
        let child = listener.accept.pop_front(&mut self.slots, accept_link)?;
        let item = self.item_at_mut(child)?;
        item.meta.flags &= !(AUTO_FREE | IN_ACCEPT_QUEUE);
        Some(self.handle_of(child))
    }

    /// Hands the TCP connection behind `handle` back to the set, as if it
    /// had never been accepted: the set frees it once it is CLOSED (after
    /// any RST it still owes) and keeps it as a compact record in
    /// TIME_WAIT; a listener's connection returns its buffers to the
    /// listener's pool. For an application that drops its interest in a
    /// connection it has closed. The handle must not be used afterwards.
    /// Returns `false` (changing nothing) if `handle` finds no TCP socket
    /// or finds a listener.
    pub fn release(&mut self, handle: SocketHandle) -> bool {
        let Some(item) = self.item(handle) else {
            return false;
        };
        if item.meta.has(IS_LISTENER) || TcpSocket::downcast(&item.socket).is_none() {
            return false;
        }
        if let Some(item) = self.item_at_mut(handle.index()) {
            item.meta.flags |= AUTO_FREE;
        }
        // The next poll's sync frees or compacts it if it is already done.
        self.mark_dirty(handle.index());
        true
    }

    /// How many connections of listener `handle` are half-open (records)
    /// or waiting for [`accept`](Self::accept).
    pub fn pending(&self, handle: SocketHandle) -> usize {
        self.item(handle)
            .filter(|i| i.meta.has(IS_LISTENER))
            .and_then(|i| self.listener(i.meta.listener))
            .map_or(0, |l| l.syn_queue as usize + l.accept.len())
    }

    /// The TCP connections held as compact records: half-open (SYN_RCVD)
    /// ones and TIME_WAIT ones.
    pub fn tcp_records(&self) -> impl Iterator<Item = TcpRecordInfo> + '_ {
        let half_open = self.half_open.iter().map(|(_, r)| TcpRecordInfo {
            state: State::SynRcvd,
            local: r.local_endpoint(),
            remote: r.remote_endpoint(),
            listener: self.listener(r.owner).map(|l| l.socket),
        });
        let time_wait = self.time_wait.iter().map(|(_, r)| TcpRecordInfo {
            state: State::TimeWait,
            local: r.local_endpoint(),
            remote: r.remote_endpoint(),
            listener: None,
        });
        half_open.chain(time_wait)
    }

    /// The state of the TCP connection `local` <-> `remote`, whether a
    /// socket or a record holds it.
    pub fn tcp_state(&self, local: IpEndpoint, remote: IpEndpoint) -> Option<State> {
        match self.lookup(&DemuxKey::tcp_connection(local, remote))? {
            Target::Socket(index) => {
                TcpSocket::downcast(&self.item_at(index)?.socket).map(|s| s.state())
            }
            Target::HalfOpen(_) => Some(State::SynRcvd),
            Target::TimeWait(_) => Some(State::TimeWait),
        }
    }

    // ------------------------------------------------------------ sync

    /// After anything happened to the socket in slot `index`: takes in its
    /// trace, frees it if it is a listener's connection nobody holds that
    /// is done, compacts it into a TIME_WAIT record if the application has
    /// closed it, keeps its demux entry in step and schedules it.
    pub(super) fn sync_slot(&mut self, cx: &mut Context, index: usize) {
        self.drain_socket_trace(index);
        let Some(item) = self.item_at(index) else {
            return;
        };
        let meta = item.meta;
        let Some(socket) = TcpSocket::downcast(&item.socket) else {
            // Other kinds: demux entry and schedule only.
            if !self.update_registration(index) {
                self.registration_refused(cx, index);
            }
            self.schedule(cx, index);
            return;
        };
        let state = socket.state();
        let compact = state == State::TimeWait
            && (socket.fully_closed() || meta.has(AUTO_FREE))
            && self.time_wait.capacity() > 0;
        let heard = meta.has(IDLE_CHECK) && !socket.received_nothing();
        let done = match state {
            State::Listen => true,
            // After its RST is out.
            State::Closed => !socket.rst_pending(),
            _ => false,
        };
        if meta.has(IS_LISTENER) && state != State::Listen {
            self.close_listener(meta.listener);
            if let Some(item) = self.item_at_mut(index) {
                item.meta.flags &= !IS_LISTENER;
                item.meta.listener = ListenerRef::NONE;
            }
        }
        if meta.has(AUTO_FREE) && done {
            self.free_connection(index);
            return;
        }
        if compact {
            self.compact(cx, index);
            return;
        }
        if heard {
            if let Some(item) = self.item_at_mut(index) {
                item.meta.flags &= !IDLE_CHECK;
            }
        }
        if !self.update_registration(index) {
            cx.stats.demux_insert_failed += 1;
        }
        self.schedule(cx, index);
    }

    /// Frees a connection the set owns (done, evicted or compacted): its
    /// buffers go back to its listener's pool.
    fn free_connection(&mut self, index: usize) {
        self.leave_listener(index);
        self.unregister(index);
        let Some(item) = self.vacate(index) else {
            return;
        };
        if item.meta.has(CHILD) {
            if let Ok(socket) = TcpSocket::try_from(item.socket) {
                let buffers = socket.into_buffers();
                if let Some(listener) = self.listener_mut(item.meta.listener) {
                    listener.buffers.give_back(buffers);
                }
            }
        }
    }

    /// Takes a listener's connection out of its accept queue.
    pub(super) fn leave_listener(&mut self, index: usize) {
        let Some(meta) = self.item_at(index).map(|i| i.meta) else {
            return;
        };
        if !meta.has(IN_ACCEPT_QUEUE) {
            return;
        }
        if let Some(item) = self.item_at_mut(index) {
            item.meta.flags &= !IN_ACCEPT_QUEUE;
        }
        let Some(r) = ListenerRef::unpack(meta.listener) else {
            return;
        };
        let Some(entry) = self.listeners.get_mut(usize::from(r.index)) else {
            return;
        };
        if entry.generation != r.generation {
            return;
        }
        if let Some(listener) = entry.entry.as_mut() {
            listener.accept.remove(&mut self.slots, index, accept_link);
        }
    }

    /// A listener stops listening (removed, closed or aborted): its
    /// half-open records go, and its connections still waiting for
    /// `accept` are aborted (freed once their RST is out).
    pub(super) fn close_listener(&mut self, raw: u32) {
        let Some(r) = ListenerRef::unpack(raw) else {
            return;
        };
        let Some(entry) = self.listeners.get_mut(usize::from(r.index)) else {
            return;
        };
        if entry.generation != r.generation {
            return;
        }
        let Some(mut listener) = entry.entry.take() else {
            return;
        };
        entry.generation = entry.generation.wrapping_add(1);
        for i in 0..self.half_open.capacity() {
            if self.half_open.get(i).is_some_and(|rec| rec.owner == raw) {
                self.drop_half_open(i, Cause::Abort);
            }
        }
        while let Some(child) = listener.accept.pop_front(&mut self.slots, accept_link) {
            if let Some(item) = self.item_at_mut(child) {
                item.meta.flags &= !IN_ACCEPT_QUEUE;
                if let Some(socket) = TcpSocket::downcast_mut(&mut item.socket) {
                    socket.abort();
                }
            }
            self.mark_dirty(child);
        }
    }

    /// Moves the fully closed socket in slot `index`, in TIME_WAIT, into a
    /// TIME_WAIT record (evicting the oldest record if they are all used).
    fn compact(&mut self, cx: &mut Context, index: usize) {
        let Some(socket) = self
            .item_at(index)
            .and_then(|i| TcpSocket::downcast(&i.socket))
        else {
            return;
        };
        let Some((record, deadline)) = socket.to_time_wait(cx.now) else {
            return;
        };
        if self.time_wait.is_full() {
            if let Some(oldest) = self.time_wait.earliest() {
                self.drop_time_wait(oldest, Cause::Evicted);
                cx.stats.time_wait_evicted += 1;
            }
        }
        self.free_connection(index);
        let key = DemuxKey::tcp_connection(record.local_endpoint(), record.remote_endpoint());
        if let Some(r) = self.time_wait.insert(record, deadline) {
            if !self.register(&key, Target::TimeWait(r)) {
                cx.stats.demux_insert_failed += 1;
            }
        }
    }

    /// Removes TIME_WAIT record `r`, tracing `TIME_WAIT -> CLOSED (cause)`.
    fn drop_time_wait(&mut self, r: usize, cause: Cause) {
        let Some(record) = self.time_wait.remove(r) else {
            return;
        };
        let (local, remote) = (record.local_endpoint(), record.remote_endpoint());
        let key = DemuxKey::tcp_connection(local, remote);
        self.demux
            .remove(self.demux.hash(&key), Target::TimeWait(r));
        self.push_trace(
            None,
            Some(local),
            Some(remote),
            Transition {
                from: State::TimeWait,
                to: State::Closed,
                cause,
            },
        );
    }

    /// Removes half-open record `r` (its listener's SYN queue shrinks);
    /// traces `SYN_RCVD -> CLOSED (cause)` unless `cause` is `None` (the
    /// socket's own trace said where it went).
    fn remove_half_open(&mut self, r: usize) -> Option<HalfOpen> {
        let record = self.half_open.remove(r)?;
        let key = DemuxKey::tcp_connection(record.local_endpoint(), record.remote_endpoint());
        self.demux
            .remove(self.demux.hash(&key), Target::HalfOpen(r));
        if let Some(listener) = self.listener_mut(record.owner) {
            listener.syn_queue = listener.syn_queue.saturating_sub(1);
        }
        Some(record)
    }

    fn drop_half_open(&mut self, r: usize, cause: Cause) {
        if let Some(record) = self.remove_half_open(r) {
            self.push_trace(
                None,
                Some(record.local_endpoint()),
                Some(record.remote_endpoint()),
                Transition {
                    from: State::SynRcvd,
                    to: State::Closed,
                    cause,
                },
            );
        }
    }

    /// Moves the transitions of a socket rebuilt from the record of
    /// `local` <-> `remote` into the trace (no handle: a record has none).
    fn drain_record_trace(
        &mut self,
        socket: &mut TcpSocket<'_>,
        local: IpEndpoint,
        remote: IpEndpoint,
    ) {
        while let Some(transition) = socket.pop_transition() {
            self.push_trace(None, Some(local), Some(remote), transition);
        }
    }

    /// After a socket rebuilt from half-open record `r` handled something:
    /// the record follows it (still SYN_RCVD) or goes (back to LISTEN, or
    /// CLOSED).
    fn store_half_open(&mut self, r: usize, socket: &mut TcpSocket<'_>, now: Instant) {
        let Some(record) = self.half_open.get(r).copied() else {
            return;
        };
        self.drain_record_trace(socket, record.local_endpoint(), record.remote_endpoint());
        match socket.to_half_open(record.owner) {
            Some(updated) => {
                if let Some(record) = self.half_open.get_mut(r) {
                    *record = updated;
                }
                self.half_open.set_deadline(r, updated.deadline(now));
            }
            None => {
                self.remove_half_open(r);
            }
        }
    }

    // ------------------------------------------------------------ ingress

    /// Hands a TCP segment to its connection (socket or record) or its
    /// listener. `None`: nothing has the segment (the interface answers
    /// with a RST); `Some(reply)` otherwise.
    pub(crate) fn process_tcp(
        &mut self,
        cx: &mut Context,
        ip: &IpRepr,
        repr: &TcpRepr,
    ) -> Option<Reply> {
        let local = IpEndpoint::new(ip.dst_addr, repr.dst_port);
        let remote = IpEndpoint::new(ip.src_addr, repr.src_port);
        match self.lookup(&DemuxKey::tcp_connection(local, remote)) {
            Some(Target::Socket(index)) => {
                let reply = self
                    .item_at_mut(index)
                    .and_then(|i| TcpSocket::downcast_mut(&mut i.socket))
                    .and_then(|socket| socket.process(cx, ip, repr));
                self.sync_slot(cx, index);
                return Some(reply);
            }
            Some(Target::HalfOpen(r)) => return Some(self.half_open_segment(cx, r, ip, repr)),
            Some(Target::TimeWait(r)) => {
                let reopen = self
                    .time_wait
                    .get(r)
                    .is_some_and(|record| record.accepts_new_syn(repr))
                    && self.listening_on(ip, repr).is_some();
                if !reopen {
                    return Some(self.time_wait_segment(cx, r, ip, repr));
                }
                // RFC 6191: the new SYN ends TIME_WAIT and goes to the
                // listener.
                self.drop_time_wait(r, Cause::RcvSyn);
            }
            None => {}
        }
        let index = self.listening_on(ip, repr)?;
        let has_backlog = self.item_at(index).is_some_and(|i| i.meta.has(IS_LISTENER));
        if has_backlog {
            let bare_syn = repr.syn() && !repr.rst() && repr.ack().is_none();
            if bare_syn {
                return Some(self.listener_syn(cx, index, ip, repr));
            }
            if repr.ack().is_some() && !repr.rst() && !repr.syn() {
                if let Some(reply) = self.cookie_ack(cx, index, ip, repr) {
                    return Some(reply);
                }
            }
        }
        // The listener's own business (it answers an ACK with a RST and
        // ignores a RST, RFC 9293 3.10.7.2), or a listener without a backlog
        // that takes the connection itself.
        let reply = self
            .item_at_mut(index)
            .and_then(|i| TcpSocket::downcast_mut(&mut i.socket))
            .and_then(|socket| socket.process(cx, ip, repr));
        self.sync_slot(cx, index);
        Some(reply)
    }

    /// The slot of the listener for the segment's destination: exact local
    /// address first, then the wildcard on its port.
    fn listening_on(&self, ip: &IpRepr, repr: &TcpRepr) -> Option<usize> {
        let exact = DemuxKey::tcp_listener(IpListenEndpoint {
            addr: Some(ip.dst_addr),
            port: repr.dst_port,
        });
        let any = DemuxKey::tcp_listener(IpListenEndpoint {
            addr: None,
            port: repr.dst_port,
        });
        match self.lookup(&exact).or_else(|| self.lookup(&any))? {
            Target::Socket(index) => Some(index),
            _ => None,
        }
    }

    /// A SYN for the listener in slot `index`: a half-open record, or with
    /// the SYN queue full a SYN cookie, or (cookies off) nothing. The
    /// SYN-ACK is built by the socket's own code, on a socket forked from
    /// the listener without buffers.
    fn listener_syn(
        &mut self,
        cx: &mut Context,
        index: usize,
        ip: &IpRepr,
        repr: &TcpRepr,
    ) -> Reply {
        let now = cx.now;
        let raw = self.item_at(index)?.meta.listener;
        let listener = self.listener(raw)?;
        let queue_full = listener.syn_queue >= listener.backlog || self.half_open.is_full();
        if queue_full && !listener.options.syn_cookies {
            cx.stats.syn_dropped += 1;
            return None;
        }
        let child_rx = listener.child_rx as usize;
        let listener_socket = self.listener_socket(raw)?;
        let (rx, tx) = no_buffers();
        let mut child = listener_socket.fork_listener_child(rx, tx);
        let local = IpEndpoint::new(ip.dst_addr, repr.dst_port);
        let remote = IpEndpoint::new(ip.src_addr, repr.src_port);
        if queue_full {
            let peer_mss = repr.max_seg_size.unwrap_or(536);
            let (iss, _) =
                SynCookies::new(cx.isn).issue(now, local, remote, repr.seq_number, peer_mss);
            child.set_next_isn(iss);
        }
        let reply = child.process(cx, ip, repr);
        if child.state() != State::SynRcvd {
            // Refused (a martian source, SYN+FIN dropped, ...).
            return reply;
        }
        let window = child.offer_child_window(child_rx);
        if queue_full {
            child.encode_cookie_options(now);
        }
        let mut syn_ack = None;
        let _ = child.dispatch(cx, |_, (ip, tcp)| {
            let mut segment = detach(&tcp);
            segment.window_len = window;
            syn_ack = Some((ip, segment));
            Ok::<(), Infallible>(())
        });
        child.note_child_window_sent(window);
        if queue_full {
            cx.stats.syn_cookies_sent += 1;
            if let Some(listener) = self.listener_mut(raw) {
                listener.last_cookie = Some(now);
            }
            return syn_ack;
        }
        let Some(record) = child.to_half_open(raw) else {
            return syn_ack;
        };
        self.drain_record_trace(&mut child, local, remote);
        let key = DemuxKey::tcp_connection(local, remote);
        if let Some(r) = self.half_open.insert(record, record.deadline(now)) {
            if !self.register(&key, Target::HalfOpen(r)) {
                cx.stats.demux_insert_failed += 1;
            }
            if let Some(listener) = self.listener_mut(raw) {
                listener.syn_queue += 1;
            }
        }
        syn_ack
    }

    /// A segment for half-open record `r`. One that may complete the
    /// handshake gets buffers and a slot first (or, with none to be had, is
    /// dropped as Linux drops it: the peer sends it again).
    fn half_open_segment(
        &mut self,
        cx: &mut Context,
        r: usize,
        ip: &IpRepr,
        repr: &TcpRepr,
    ) -> Reply {
        let record = *self.half_open.get(r)?;
        let raw = record.owner;
        if self.listener_socket(raw).is_none() {
            self.drop_half_open(r, Cause::Abort);
            return None;
        }
        let completes =
            !repr.rst() && !repr.syn() && repr.ack().is_some_and(|a| record.completes_with(a));
        if !completes {
            let (rx, tx) = no_buffers();
            let mut socket =
                TcpSocket::from_half_open(self.listener_socket(raw)?, &record, cx, rx, tx);
            let reply = socket.process(cx, ip, repr);
            self.store_half_open(r, &mut socket, cx.now);
            return reply;
        }
        let Some((rx, tx)) = self.admit(cx, raw) else {
            cx.stats.final_ack_dropped += 1;
            return None;
        };
        let mut socket = TcpSocket::from_half_open(self.listener_socket(raw)?, &record, cx, rx, tx);
        let reply = socket.process(cx, ip, repr);
        if socket.state().is_synchronized() {
            self.remove_half_open(r);
            self.adopt(cx, raw, socket);
        } else {
            self.store_half_open(r, &mut socket, cx.now);
            if let Some(listener) = self.listener_mut(raw) {
                listener.buffers.give_back(socket.into_buffers());
            }
        }
        reply
    }

    /// An ACK to the listener in slot `index` that may carry one of its SYN
    /// cookies: `None` if it does not (the listener answers it), else the
    /// reply of the connection the cookie rebuilt (or nothing if there was
    /// no room for it).
    fn cookie_ack(
        &mut self,
        cx: &mut Context,
        index: usize,
        ip: &IpRepr,
        repr: &TcpRepr,
    ) -> Option<Reply> {
        let now = cx.now;
        let raw = self.item_at(index)?.meta.listener;
        let listener = self.listener(raw)?;
        let recent = listener
            .last_cookie
            .is_some_and(|at| now.saturating_duration_since(at) < COOKIE_WINDOW);
        if !listener.options.syn_cookies || !recent {
            return None;
        }
        let child_rx = listener.child_rx as usize;
        let ack = repr.ack()?;
        let local = IpEndpoint::new(ip.dst_addr, repr.dst_port);
        let remote = IpEndpoint::new(ip.src_addr, repr.src_port);
        let irs: SeqNumber = repr.seq_number - 1;
        let mss = SynCookies::new(cx.isn).check(now, local, remote, irs, ack - 1)?;
        let Some((rx, tx)) = self.admit(cx, raw) else {
            cx.stats.final_ack_dropped += 1;
            return Some(None);
        };
        let listener_socket = self.listener_socket(raw)?;
        let Some(mut socket) =
            TcpSocket::from_cookie(listener_socket, cx, ip, repr, mss, child_rx, rx, tx)
        else {
            return Some(None);
        };
        let reply = socket.process(cx, ip, repr);
        if socket.state().is_synchronized() {
            cx.stats.syn_cookies_accepted += 1;
            self.adopt(cx, raw, socket);
        } else if let Some(listener) = self.listener_mut(raw) {
            listener.buffers.give_back(socket.into_buffers());
        }
        Some(reply)
    }

    /// Room for one more connection of listener `raw`: a place in its
    /// accept queue, a free slot and buffers, making room by the memory
    /// policy if it may. Returns the buffers; a slot is then free.
    fn admit(
        &mut self,
        cx: &mut Context,
        raw: u32,
    ) -> Option<(SocketBuffer<'a>, SocketBuffer<'a>)> {
        let listener = self.listener(raw)?;
        if listener.accept.len() >= listener.backlog as usize {
            return None;
        }
        let may_evict = listener.options.evict;
        if self.free_head == FifoList::UNLINKED {
            let victim = may_evict.then(|| self.eviction_victim(None)).flatten()?;
            self.evict(cx, victim);
        }
        if !self.listener(raw)?.buffers.available() {
            let victim = may_evict
                .then(|| self.eviction_victim(Some(raw)))
                .flatten()?;
            self.evict(cx, victim);
        }
        self.listener_mut(raw)?.buffers.take()
    }

    /// A connection whose handshake just completed joins the set as
    /// listener `raw`'s, waiting for `accept`.
    fn adopt(&mut self, cx: &mut Context, raw: u32, socket: TcpSocket<'a>) {
        let idle = self.listener(raw).and_then(|l| l.options.idle_timeout);
        let mut meta = Meta::new();
        meta.listener = raw;
        meta.flags = CHILD | AUTO_FREE | IN_ACCEPT_QUEUE;
        if let Some(deadline) = idle.and_then(|d| cx.now.checked_add(d)) {
            meta.flags |= IDLE_CHECK;
            meta.idle_deadline = deadline;
        }
        let Some(index) = self.occupy(Socket::Tcp(socket), meta) else {
            return;
        };
        if let Some(r) = ListenerRef::unpack(raw) {
            if let Some(Some(listener)) = self
                .listeners
                .get_mut(usize::from(r.index))
                .filter(|e| e.generation == r.generation)
                .map(|e| e.entry.as_mut())
            {
                listener
                    .accept
                    .push_back(&mut self.slots, index, accept_link);
                // A task waiting in accept learns of the connection.
                let listening = listener.socket;
                if let Some(socket) = self.get_mut::<TcpSocket>(listening) {
                    socket.wake_receiver();
                }
            }
        }
        // Out of the dirty list's order: it takes its trace and its demux
        // entry now, so its next segment finds it.
        self.sync_slot(cx, index);
    }

    /// The connection to give way under memory pressure (see the module
    /// docs), among listener-spawned connections (of listener `only`, if
    /// given): the lowest tier first, then the one idle longest.
    fn eviction_victim(&self, only: Option<u32>) -> Option<usize> {
        let mut best: Option<(u8, Instant, usize)> = None;
        for (index, slot) in self.slots.iter().enumerate() {
            let Some(item) = slot.item.as_ref() else {
                continue;
            };
            if !item.meta.has(CHILD) || item.meta.has(IS_LISTENER) {
                continue;
            }
            if only.is_some_and(|raw| item.meta.listener != raw) {
                continue;
            }
            let Some(socket) = TcpSocket::downcast(&item.socket) else {
                continue;
            };
            let Some(tier) = eviction_tier(socket.state()) else {
                continue;
            };
            let candidate = (tier, socket.idle_since(), index);
            if best.is_none_or(|b| (candidate.0, candidate.1) < (b.0, b.1)) {
                best = Some(candidate);
            }
        }
        best.map(|(_, _, index)| index)
    }

    /// Drops the connection in slot `index` to make room: no RST, its
    /// handle goes stale, the trace shows `-> CLOSED (evicted)`.
    fn evict(&mut self, cx: &mut Context, index: usize) {
        self.drain_socket_trace(index);
        let handle = self.handle_of(index);
        let Some(socket) = self
            .item_at(index)
            .and_then(|i| TcpSocket::downcast(&i.socket))
        else {
            return;
        };
        let (state, local, remote) = (
            socket.state(),
            socket.local_endpoint(),
            socket.remote_endpoint(),
        );
        if state != State::Closed {
            self.push_trace(
                Some(handle),
                local,
                remote,
                Transition {
                    from: state,
                    to: State::Closed,
                    cause: Cause::Evicted,
                },
            );
        }
        cx.stats.evicted += 1;
        self.free_connection(index);
    }

    /// A segment for TIME_WAIT record `r`, handled by the socket the record
    /// stands for.
    fn time_wait_segment(
        &mut self,
        cx: &mut Context,
        r: usize,
        ip: &IpRepr,
        repr: &TcpRepr,
    ) -> Reply {
        let mut record = *self.time_wait.get(r)?;
        let deadline = self.time_wait.deadline(r)?;
        let mut socket = TcpSocket::from_time_wait(&record, deadline, cx);
        let reply = socket.process(cx, ip, repr);
        self.drain_record_trace(
            &mut socket,
            record.local_endpoint(),
            record.remote_endpoint(),
        );
        match socket.update_time_wait(&mut record) {
            Some(deadline) => {
                if let Some(stored) = self.time_wait.get_mut(r) {
                    *stored = record;
                }
                self.time_wait.set_deadline(r, deadline);
            }
            None => {
                if let Some(record) = self.time_wait.remove(r) {
                    let key =
                        DemuxKey::tcp_connection(record.local_endpoint(), record.remote_endpoint());
                    self.demux
                        .remove(self.demux.hash(&key), Target::TimeWait(r));
                }
            }
        }
        reply
    }

    /// Hands an ICMP error to the TCP connection `local` <-> `remote`;
    /// whether one has that 4-tuple.
    pub(crate) fn tcp_icmp_error(
        &mut self,
        cx: &mut Context,
        local: IpEndpoint,
        remote: IpEndpoint,
        quoted_seq: SeqNumber,
        error: IcmpError,
    ) -> bool {
        match self.lookup(&DemuxKey::tcp_connection(local, remote)) {
            Some(Target::Socket(index)) => {
                if let Some(socket) = self
                    .item_at_mut(index)
                    .and_then(|i| TcpSocket::downcast_mut(&mut i.socket))
                {
                    socket.on_icmp_error(cx, quoted_seq, error);
                }
                self.sync_slot(cx, index);
                true
            }
            Some(Target::HalfOpen(r)) => {
                let Some(record) = self.half_open.get(r).copied() else {
                    return false;
                };
                let Some(listener) = self.listener_socket(record.owner) else {
                    return false;
                };
                let (rx, tx) = no_buffers();
                let mut socket = TcpSocket::from_half_open(listener, &record, cx, rx, tx);
                socket.on_icmp_error(cx, quoted_seq, error);
                self.store_half_open(r, &mut socket, cx.now);
                true
            }
            // Nothing of ours is in flight in TIME_WAIT.
            Some(Target::TimeWait(_)) => true,
            None => false,
        }
    }

    /// Ends every TCP connection whose local address is `addr` (it left the
    /// interface): sockets go to CLOSED with
    /// [`TcpError::AddressRemoved`](crate::socket::tcp::TcpError::AddressRemoved)
    /// and no RST, half-open records go, each traced `-> CLOSED (address
    /// removed)`. Listeners stay (the address may come back, and a
    /// listener on every address still serves the others), and so do
    /// TIME_WAIT connections (nothing of theirs is in flight; they still
    /// guard the 4-tuple should the address return). Returns how many
    /// connections ended. A scan of the set: addresses change rarely.
    pub(crate) fn tcp_abort_local_addr(&mut self, cx: &mut Context, addr: IpAddress) -> usize {
        let mut ended = 0;
        for index in 0..self.slots.len() {
            let Some(socket) = self
                .item_at_mut(index)
                .and_then(|i| TcpSocket::downcast_mut(&mut i.socket))
            else {
                continue;
            };
            let bound = socket.local_endpoint().is_some_and(|l| l.addr == addr);
            if !bound
                || matches!(
                    socket.state(),
                    State::Closed | State::Listen | State::TimeWait
                )
            {
                continue;
            }
            socket.abort_address_removed();
            ended += 1;
            self.sync_slot(cx, index);
        }
        for r in 0..self.half_open.capacity() {
            if self
                .half_open
                .get(r)
                .is_some_and(|record| record.local_endpoint().addr == addr)
            {
                self.drop_half_open(r, Cause::AddressRemoved);
                ended += 1;
            }
        }
        ended
    }

    /// Whether a TCP connection (socket or record) has this 4-tuple.
    pub(crate) fn tcp_in_use(&self, local: IpEndpoint, remote: IpEndpoint) -> bool {
        self.lookup(&DemuxKey::tcp_connection(local, remote))
            .is_some()
    }

    // ------------------------------------------------------------- egress

    /// Fires due timers and gives each socket with something to send one
    /// turn; segments go out through `emit`. Returns whether anything was
    /// sent, and the error of an `emit` that failed (the device is busy:
    /// the rest waits for the next poll).
    pub(crate) fn egress<E>(
        &mut self,
        cx: &mut Context,
        mut emit: impl FnMut(&mut Context, Packet<'_>) -> Result<(), E>,
    ) -> (bool, Option<E>) {
        let now = cx.now;
        let mut sent = false;
        while let Some(r) = self.time_wait.pop_due(now) {
            self.drop_time_wait(r, Cause::TimeWaitTimeout);
        }
        while let Some(r) = self.half_open.pop_due(now) {
            match self.half_open_timer(cx, r, &mut emit) {
                Ok(s) => sent |= s,
                Err(e) => return (sent, Some(e)),
            }
        }
        while let Some(index) = self.timers.pop_due(&mut self.slots, now) {
            self.ready.insert(&mut self.slots, index);
        }
        // Each ready socket gets one turn per poll; sockets that become
        // ready again during their turn wait for the next poll.
        let mut turns = self.ready.len();
        while turns > 0 {
            turns -= 1;
            let Some(index) = self.ready.pop(&mut self.slots) else {
                break;
            };
            self.check_idle(cx, index);
            let mut busy = None;
            while let Some(item) = self.slots.get_mut(index).and_then(|s| s.item.as_mut()) {
                let result = item.socket.dispatch(cx, &mut emit);
                match result {
                    Ok(true) => sent = true,
                    Ok(false) => break,
                    Err(e) => {
                        busy = Some(e);
                        break;
                    }
                }
            }
            self.sync_slot(cx, index);
            if busy.is_some() {
                self.ready.insert(&mut self.slots, index);
                return (sent, busy);
            }
        }
        (sent, None)
    }

    /// Half-open record `r`'s timer: the socket it stands for runs its
    /// timers (SYN-ACK retransmission with backoff, the SYN_RCVD timeout,
    /// giving up) and sends what they call for.
    fn half_open_timer<E>(
        &mut self,
        cx: &mut Context,
        r: usize,
        emit: &mut impl FnMut(&mut Context, Packet<'_>) -> Result<(), E>,
    ) -> Result<bool, E> {
        let Some(record) = self.half_open.get(r).copied() else {
            return Ok(false);
        };
        let Some(listener) = self.listener_socket(record.owner) else {
            self.drop_half_open(r, Cause::Abort);
            return Ok(false);
        };
        let (rx, tx) = no_buffers();
        let mut socket = TcpSocket::from_half_open(listener, &record, cx, rx, tx);
        let window = record.offered_window();
        let result = socket.dispatch(cx, |cx, (ip, mut tcp)| {
            if tcp.syn() {
                tcp.window_len = window;
            }
            emit(cx, Packet::Tcp(ip, tcp))
        });
        self.store_half_open(r, &mut socket, cx.now);
        result
    }

    /// Ends the connection in slot `index` if its listener's idle timeout
    /// passed without data from the peer.
    fn check_idle(&mut self, cx: &mut Context, index: usize) {
        let now = cx.now;
        let Some(item) = self.item_at_mut(index) else {
            return;
        };
        if !item.meta.has(IDLE_CHECK) || now < item.meta.idle_deadline {
            return;
        }
        item.meta.flags &= !IDLE_CHECK;
        let Some(socket) = TcpSocket::downcast_mut(&mut item.socket) else {
            return;
        };
        if socket.received_nothing() {
            socket.abort_with(Cause::IdleTimeout);
            cx.stats.idle_timeouts += 1;
        }
    }
}
