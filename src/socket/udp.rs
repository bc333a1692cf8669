//! UDP sockets (RFC 768): bound endpoints, optional connection, datagram
//! queues with the peer's endpoint, and ICMP errors surfaced to the
//! application.
//!
//! A [`UdpSocket`] is sans-IO like every socket: the interface hands it the
//! datagrams the socket set demultiplexed to it and takes the ones it
//! queued for sending. Both directions are bounded queues of whole
//! datagrams ([`PacketBuffer`]: a ring of metadata entries and a ring of
//! payload bytes, storage chosen by the caller), so nothing allocates after
//! setup.
//!
//! # Demultiplexing
//! A socket is found in O(1) by its key in the set's table (RFC 768 names
//! only ports; RFC 1122 section 4.1.3.4 lets a host match on addresses
//! too): a *connected* socket (a remote endpoint and a concrete local
//! address) by its 4-tuple, any other bound socket by its local endpoint.
//! A datagram tries its 4-tuple first, then its destination address and
//! port, then the port on every address, so the most specific socket wins.
//! One socket receives each datagram: a broadcast is not copied to every
//! socket bound to its port.
//!
//! # Checksums
//! A received datagram's checksum is verified (RFC 768; RFC 1122 section
//! 4.1.3.4: a bad one is discarded silently) unless it is zero, which over
//! IPv4 means the sender computed none. The interface always computes the
//! checksum of a datagram it sends.

use crate::socket::{Context, DatagramOut, IcmpErrorReport, PollAt};
use crate::storage::{EnqueueError, PacketBuffer, PacketMetadata};
use crate::wire::{IpAddress, IpEndpoint, IpListenEndpoint, IpRepr, UdpRepr};

#[cfg(feature = "async")]
use crate::socket::waker::WakerRegistration;
#[cfg(feature = "async")]
use core::task::Waker;

/// The largest UDP payload over IPv4: 65535 bytes of datagram less the
/// 20-byte IPv4 header and the 8-byte UDP header (RFC 768, RFC 791).
pub const MAX_PAYLOAD_IPV4: usize = 65_507;

/// What travels with a datagram in a socket's queues.
///
/// Received: `remote` is the sender and `local_address` the address the
/// datagram was sent to (one of ours, or a broadcast address: a socket
/// bound to every address can tell them apart). To send: `remote` is the
/// destination and `local_address`, if given, the source address to use
/// instead of the socket's (a DHCP client sends from 0.0.0.0, RFC 2131
/// section 4.1); `None` lets the socket's bound address or, for a socket
/// bound to every address, the interface choose (the address on the
/// destination's prefix, else the first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct UdpMetadata {
    /// The peer: sender of a received datagram, destination of one to send.
    pub remote: IpEndpoint,
    /// Our address for this datagram (see the type's docs).
    pub local_address: Option<IpAddress>,
}

impl From<IpEndpoint> for UdpMetadata {
    fn from(remote: IpEndpoint) -> Self {
        UdpMetadata {
            remote,
            local_address: None,
        }
    }
}

/// One metadata slot of a UDP queue: storage is a slice of these, e.g.
/// `[UdpPacketMetadata::EMPTY; 8]`.
pub type UdpPacketMetadata = PacketMetadata<UdpMetadata>;

/// A UDP socket's queue of datagrams (receive or transmit).
pub type UdpPacketBuffer<'a> = PacketBuffer<'a, UdpMetadata>;

/// Why [`UdpSocket::bind`] (or the interface's `udp_bind`) refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum BindError {
    /// The socket is bound already.
    InvalidState,
    /// Port 0 (the socket cannot choose a port itself: the interface's
    /// `udp_bind` picks an ephemeral one), or no ephemeral port is free.
    Unaddressable,
    /// Another socket of the set has this exact endpoint.
    AddressInUse,
}

impl core::fmt::Display for BindError {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        f.write_str(match self {
            BindError::InvalidState => "the socket is already bound",
            BindError::Unaddressable => "no port to bind",
            BindError::AddressInUse => "the endpoint is in use",
        })
    }
}

impl core::error::Error for BindError {}

/// Why [`UdpSocket::connect`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ConnectError {
    /// The socket is not bound (bind it first, or let the interface's
    /// `udp_connect` bind it).
    Unbound,
    /// The remote address is unspecified or its port is 0, or no local
    /// address or ephemeral port could be found for it.
    Unaddressable,
    /// Another socket of the set is connected with the same 4-tuple.
    AddressInUse,
}

impl core::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        f.write_str(match self {
            ConnectError::Unbound => "the socket is not bound",
            ConnectError::Unaddressable => "the remote endpoint is not addressable",
            ConnectError::AddressInUse => "the 4-tuple is in use",
        })
    }
}

impl core::error::Error for ConnectError {}

/// Why a datagram could not be queued for sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SendError {
    /// The socket is not bound.
    Unbound,
    /// The destination is unspecified or its port is 0, or
    /// [`send`](UdpSocket::send) on a socket that is not connected.
    Unaddressable,
    /// The transmit queue has no room now (it may after the next poll).
    BufferFull,
    /// Larger than [`MAX_PAYLOAD_IPV4`] or than the whole transmit queue.
    TooLarge,
}

impl core::fmt::Display for SendError {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        f.write_str(match self {
            SendError::Unbound => "the socket is not bound",
            SendError::Unaddressable => "the destination is not addressable",
            SendError::BufferFull => "the transmit queue is full",
            SendError::TooLarge => "the datagram is too large",
        })
    }
}

impl core::error::Error for SendError {}

/// Why nothing was received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RecvError {
    /// No datagram is queued.
    Exhausted,
    /// The oldest datagram is longer than the buffer given (its length);
    /// it stays queued, so a larger buffer can take it.
    Truncated(usize),
}

impl core::fmt::Display for RecvError {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        match self {
            RecvError::Exhausted => f.write_str("no datagram queued"),
            RecvError::Truncated(len) => write!(f, "the datagram ({len} bytes) does not fit"),
        }
    }
}

impl core::error::Error for RecvError {}

/// A UDP socket: see the module docs.
#[derive(Debug)]
pub struct UdpSocket<'a> {
    /// The bound endpoint; port 0 while unbound.
    endpoint: IpListenEndpoint,
    /// The peer of a connected socket.
    remote: Option<IpEndpoint>,
    rx: UdpPacketBuffer<'a>,
    tx: UdpPacketBuffer<'a>,
    /// TTL of sent datagrams; `None`: the interface's default.
    hop_limit: Option<u8>,
    /// The last ICMP error about a datagram this socket sent, until read.
    error: Option<IcmpErrorReport>,
    /// Moves whenever the endpoint or the peer changes (the set re-enters
    /// the socket in its demultiplexing table then).
    key_version: u32,
    /// Datagrams dropped because the receive queue was full.
    rx_dropped: u64,
    /// Datagrams from another peer than a connected socket's.
    rx_filtered: u64,
    /// The set unbound the socket: its endpoint was another socket's.
    bind_refused: bool,
    #[cfg(feature = "async")]
    recv_waker: WakerRegistration,
    #[cfg(feature = "async")]
    send_waker: WakerRegistration,
}

impl<'a> UdpSocket<'a> {
    /// An unbound socket with receive and transmit queues.
    pub fn new(rx: UdpPacketBuffer<'a>, tx: UdpPacketBuffer<'a>) -> UdpSocket<'a> {
        UdpSocket {
            endpoint: IpListenEndpoint {
                addr: None,
                port: 0,
            },
            remote: None,
            rx,
            tx,
            hop_limit: None,
            error: None,
            key_version: 0,
            rx_dropped: 0,
            rx_filtered: 0,
            bind_refused: false,
            #[cfg(feature = "async")]
            recv_waker: WakerRegistration::new(),
            #[cfg(feature = "async")]
            send_waker: WakerRegistration::new(),
        }
    }

    /// Binds to `endpoint`: a port (every address) or an address and port.
    /// Port 0 is refused here; the interface's `udp_bind` picks an
    /// ephemeral port (RFC 6056) and checks that the endpoint is free. A
    /// socket bound here to an endpoint another socket of its set has is
    /// unbound again at the next poll and reports
    /// [`BindError::AddressInUse`] through [`bind_error`](Self::bind_error).
    pub fn bind<T: Into<IpListenEndpoint>>(&mut self, endpoint: T) -> Result<(), BindError> {
        let endpoint = endpoint.into();
        if endpoint.port == 0 {
            return Err(BindError::Unaddressable);
        }
        if self.is_bound() {
            return Err(BindError::InvalidState);
        }
        self.endpoint = endpoint;
        self.bind_refused = false;
        self.key_version = self.key_version.wrapping_add(1);
        Ok(())
    }

    /// Connects to `remote`: only its datagrams are received, and
    /// [`send`](Self::send) goes to it. A socket bound to a concrete
    /// address is then found by its 4-tuple, ahead of sockets bound to the
    /// same port. Connecting again replaces the peer.
    pub fn connect(&mut self, remote: IpEndpoint) -> Result<(), ConnectError> {
        if !self.is_bound() {
            return Err(ConnectError::Unbound);
        }
        if remote.port == 0 || remote.addr.is_unspecified() {
            return Err(ConnectError::Unaddressable);
        }
        self.remote = Some(remote);
        self.key_version = self.key_version.wrapping_add(1);
        Ok(())
    }

    /// Forgets the peer: datagrams from anyone are received again.
    pub fn disconnect(&mut self) {
        if self.remote.take().is_some() {
            self.key_version = self.key_version.wrapping_add(1);
        }
    }

    /// Unbinds and disconnects; queued datagrams are dropped and a pending
    /// error is forgotten.
    pub fn close(&mut self) {
        self.endpoint = IpListenEndpoint {
            addr: None,
            port: 0,
        };
        self.remote = None;
        self.rx.clear();
        self.tx.clear();
        self.error = None;
        self.key_version = self.key_version.wrapping_add(1);
        self.wake_both();
    }

    /// Whether the socket has a port.
    pub fn is_bound(&self) -> bool {
        self.endpoint.port != 0
    }

    /// The bound endpoint (port 0 while unbound).
    pub fn endpoint(&self) -> IpListenEndpoint {
        self.endpoint
    }

    /// The peer of a connected socket.
    pub fn remote_endpoint(&self) -> Option<IpEndpoint> {
        self.remote
    }

    /// Sets the TTL of sent datagrams (`None`: the interface's default of
    /// 64). 0 is refused as RFC 1122 section 3.2.1.7 asks (`None` is kept).
    pub fn set_hop_limit(&mut self, hop_limit: Option<u8>) {
        self.hop_limit = hop_limit.filter(|&ttl| ttl != 0);
    }

    /// The TTL of sent datagrams, if set.
    pub fn hop_limit(&self) -> Option<u8> {
        self.hop_limit
    }

    /// Whether a datagram of `size` bytes can be queued for sending now.
    pub fn can_send(&self, size: usize) -> bool {
        size <= MAX_PAYLOAD_IPV4 && self.tx.can_enqueue(size)
    }

    /// Whether a received datagram is queued.
    pub fn can_recv(&self) -> bool {
        !self.rx.is_empty()
    }

    /// Datagrams queued to send.
    pub fn send_queue(&self) -> usize {
        self.tx.len()
    }

    /// Datagrams received and not yet read.
    pub fn recv_queue(&self) -> usize {
        self.rx.len()
    }

    /// Reserves room for a datagram of `size` bytes to `meta`'s remote and
    /// returns it to fill (no copy). It goes out at the next poll.
    pub fn send<M: Into<UdpMetadata>>(
        &mut self,
        size: usize,
        meta: M,
    ) -> Result<&mut [u8], SendError> {
        let meta = meta.into();
        if !self.is_bound() {
            return Err(SendError::Unbound);
        }
        if meta.remote.port == 0 || meta.remote.addr.is_unspecified() {
            return Err(SendError::Unaddressable);
        }
        if size > MAX_PAYLOAD_IPV4 {
            return Err(SendError::TooLarge);
        }
        self.tx.enqueue(size, meta).map_err(|e| match e {
            EnqueueError::Full => SendError::BufferFull,
            EnqueueError::TooLarge => SendError::TooLarge,
        })
    }

    /// Queues a copy of `data` to `meta`'s remote (an [`IpEndpoint`], or a
    /// [`UdpMetadata`] with a source address).
    pub fn send_slice<M: Into<UdpMetadata>>(
        &mut self,
        data: &[u8],
        meta: M,
    ) -> Result<(), SendError> {
        self.send(data.len(), meta)?.copy_from_slice(data);
        Ok(())
    }

    /// Queues a copy of `data` to `remote` (BSD's `sendto`).
    pub fn send_to(&mut self, data: &[u8], remote: IpEndpoint) -> Result<(), SendError> {
        self.send_slice(data, remote)
    }

    /// Queues a copy of `data` to the connected peer (BSD's `send`);
    /// `Unaddressable` if the socket is not connected.
    pub fn send_connected(&mut self, data: &[u8]) -> Result<(), SendError> {
        let remote = self.remote.ok_or(SendError::Unaddressable)?;
        self.send_slice(data, remote)
    }

    /// The oldest received datagram and its metadata, removed from the
    /// queue; the slice is valid until the socket is used again.
    pub fn recv(&mut self) -> Result<(&[u8], UdpMetadata), RecvError> {
        let (meta, payload) = self.rx.dequeue().ok_or(RecvError::Exhausted)?;
        Ok((payload, meta))
    }

    /// Copies the oldest received datagram into `buf` and removes it:
    /// its length and metadata. A datagram longer than `buf` stays queued
    /// ([`RecvError::Truncated`]).
    pub fn recv_slice(&mut self, buf: &mut [u8]) -> Result<(usize, UdpMetadata), RecvError> {
        let (_, payload) = self.rx.peek().ok_or(RecvError::Exhausted)?;
        let len = payload.len();
        let dst = buf.get_mut(..len).ok_or(RecvError::Truncated(len))?;
        let (payload, meta) = self.recv()?;
        dst.copy_from_slice(payload);
        Ok((len, meta))
    }

    /// Copies the oldest received datagram into `buf`: its length and
    /// sender (BSD's `recvfrom`). See [`recv_slice`](Self::recv_slice).
    pub fn recv_from(&mut self, buf: &mut [u8]) -> Result<(usize, IpEndpoint), RecvError> {
        self.recv_slice(buf).map(|(len, meta)| (len, meta.remote))
    }

    /// The oldest received datagram without removing it.
    pub fn peek(&self) -> Result<(&[u8], &UdpMetadata), RecvError> {
        let (meta, payload) = self.rx.peek().ok_or(RecvError::Exhausted)?;
        Ok((payload, meta))
    }

    /// The last ICMP error (port, host or network unreachable, time
    /// exceeded, ...) reported about a datagram this socket sent, without
    /// clearing it. RFC 1122 section 4.1.3.3: UDP passes ICMP errors up to
    /// the application. Only the latest is kept.
    pub fn error(&self) -> Option<IcmpErrorReport> {
        self.error
    }

    /// The last ICMP error, cleared (BSD's `SO_ERROR`).
    pub fn take_error(&mut self) -> Option<IcmpErrorReport> {
        self.error.take()
    }

    /// Whether the socket was unbound at a poll because another socket of
    /// its set has the same endpoint (set by the set, cleared by the next
    /// [`bind`](Self::bind)).
    pub fn bind_error(&self) -> Option<BindError> {
        self.bind_refused.then_some(BindError::AddressInUse)
    }

    /// Datagrams dropped because the receive queue was full.
    pub fn rx_dropped(&self) -> u64 {
        self.rx_dropped
    }

    /// Datagrams from another peer than the connected one, dropped.
    pub fn rx_filtered(&self) -> u64 {
        self.rx_filtered
    }

    /// Registers the task to wake when a datagram or an ICMP error
    /// arrives. One slot, as for TCP sockets.
    #[cfg(feature = "async")]
    pub fn register_recv_waker(&mut self, waker: &Waker) {
        self.recv_waker.register(waker);
    }

    /// Registers the task to wake when a queued datagram was sent (room
    /// in the transmit queue).
    #[cfg(feature = "async")]
    pub fn register_send_waker(&mut self, waker: &Waker) {
        self.send_waker.register(waker);
    }

    #[inline]
    fn wake_receiver(&mut self) {
        #[cfg(feature = "async")]
        self.recv_waker.wake();
    }

    #[inline]
    fn wake_sender(&mut self) {
        #[cfg(feature = "async")]
        self.send_waker.wake();
    }

    fn wake_both(&mut self) {
        self.wake_receiver();
        self.wake_sender();
    }

    // ---- for the socket set ----

    /// A count that moves whenever [`demux_key`](Self::demux_key) may have.
    pub(crate) fn key_version(&self) -> u32 {
        self.key_version
    }

    /// The 4-tuple the set finds a connected socket by (it needs a
    /// concrete local address); `None` for a socket found by its bound
    /// endpoint.
    pub(crate) fn connected_tuple(&self) -> Option<(IpEndpoint, IpEndpoint)> {
        match (self.endpoint.addr, self.remote) {
            (Some(addr), Some(remote)) if self.is_bound() => {
                Some((IpEndpoint::new(addr, self.endpoint.port), remote))
            }
            _ => None,
        }
    }

    /// Binds a socket bound to every address (or not at all) to `local`
    /// for a connection the interface set up (it checked the endpoint).
    pub(crate) fn rebind_for_connect(&mut self, local: IpEndpoint) {
        self.endpoint = IpListenEndpoint {
            addr: Some(local.addr),
            port: local.port,
        };
        self.bind_refused = false;
        self.key_version = self.key_version.wrapping_add(1);
    }

    /// The set could not enter the socket (its endpoint is another
    /// socket's): it is unbound and says why.
    pub(crate) fn refuse_bind(&mut self) {
        self.endpoint = IpListenEndpoint {
            addr: None,
            port: 0,
        };
        self.remote = None;
        self.bind_refused = true;
        self.key_version = self.key_version.wrapping_add(1);
    }

    /// When the socket needs the interface: now if a datagram is queued.
    pub(crate) fn poll_at(&self, _cx: &Context) -> PollAt {
        if self.tx.is_empty() {
            PollAt::Ingress
        } else {
            PollAt::Now
        }
    }

    /// Takes a datagram the set found for this socket; `false` if it was
    /// dropped (queue full, or not from the connected peer).
    pub(crate) fn process(&mut self, _cx: &mut Context, ip: &IpRepr, repr: &UdpRepr) -> bool {
        let remote = IpEndpoint::new(ip.src_addr, repr.src_port);
        if self.remote.is_some_and(|peer| peer != remote) {
            self.rx_filtered += 1;
            return false;
        }
        let meta = UdpMetadata {
            remote,
            local_address: Some(ip.dst_addr),
        };
        match self.rx.enqueue_slice(repr.payload, meta) {
            Ok(()) => {
                self.wake_receiver();
                true
            }
            Err(_) => {
                self.rx_dropped += 1;
                false
            }
        }
    }

    /// An ICMP error about a datagram this socket sent.
    pub(crate) fn on_icmp_error(&mut self, report: IcmpErrorReport) {
        self.error = Some(report);
        self.wake_both();
    }

    /// Hands the oldest queued datagram to `emit`; it leaves the queue
    /// only if `emit` succeeded. `Ok(true)` if one went.
    pub(crate) fn dispatch<E>(
        &mut self,
        cx: &mut Context,
        emit: impl FnOnce(&mut Context, DatagramOut<'_>) -> Result<(), E>,
    ) -> Result<bool, E> {
        let Some((meta, payload)) = self.tx.peek() else {
            return Ok(false);
        };
        let out = DatagramOut {
            src_addr: meta.local_address.or(self.endpoint.addr),
            src_port: self.endpoint.port,
            dst: meta.remote,
            hop_limit: self.hop_limit,
            payload,
        };
        emit(cx, out)?;
        self.tx.dequeue();
        self.wake_sender();
        Ok(true)
    }
}

#[cfg(test)]
mod tests;
