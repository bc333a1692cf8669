//! ICMP echo sockets (RFC 792, RFC 1122 section 3.2.2.6): ping.
//!
//! An [`IcmpSocket`] is bound to an echo *identifier*; it queues echo
//! requests to send and receives the echo replies that carry its
//! identifier and the sequence number of a request it sent and has not
//! had an answer to yet. Each request's send time is kept (on the stack's
//! clock, the `now` of the poll that sent it), so a reply comes with its
//! round trip time. Answering other hosts' echo requests is the
//! interface's job, not the socket's.
//!
//! Everything is bounded: the queues are [`PacketBuffer`]s over the
//! caller's storage, and the requests awaiting a reply are a fixed table of
//! [`IN_FLIGHT`] entries (the oldest is forgotten when it is full).

use crate::socket::{Context, IcmpErrorReport, PollAt};
use crate::storage::{EnqueueError, PacketBuffer, PacketMetadata};
use crate::time::{Duration, Instant};
use crate::wire::IpAddress;

#[cfg(feature = "async")]
use crate::socket::waker::WakerRegistration;
#[cfg(feature = "async")]
use core::task::Waker;

/// Echo requests a socket remembers while it waits for their replies.
pub const IN_FLIGHT: usize = 8;

/// The largest echo payload over IPv4: 65535 less the 20-byte IPv4 and
/// 8-byte ICMP headers.
pub const MAX_PAYLOAD_IPV4: usize = 65_507;

/// An echo request waiting in the transmit queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EchoRequest {
    /// Where to.
    pub dst: IpAddress,
    /// Its sequence number.
    pub seq_no: u16,
}

/// A received echo reply: who answered which request, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EchoReply {
    /// The host that answered.
    pub from: IpAddress,
    /// The identifier (the socket's).
    pub ident: u16,
    /// The sequence number of the request it answers.
    pub seq_no: u16,
    /// When the request went out (the poll that sent it).
    pub sent_at: Instant,
    /// When the reply arrived (the poll that received it).
    pub received_at: Instant,
}

impl EchoReply {
    /// The round trip time on the stack's clock.
    pub fn rtt(&self) -> Duration {
        self.received_at - self.sent_at
    }
}

/// A metadata slot of an ICMP socket's transmit queue, e.g.
/// `[IcmpTxMetadata::EMPTY; 4]`.
pub type IcmpTxMetadata = PacketMetadata<EchoRequest>;
/// A metadata slot of an ICMP socket's receive queue.
pub type IcmpRxMetadata = PacketMetadata<EchoReply>;
/// An ICMP socket's transmit queue.
pub type IcmpTxBuffer<'a> = PacketBuffer<'a, EchoRequest>;
/// An ICMP socket's receive queue.
pub type IcmpRxBuffer<'a> = PacketBuffer<'a, EchoReply>;

/// Why [`IcmpSocket::bind`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum BindError {
    /// The socket is bound already.
    InvalidState,
    /// Another socket of the set has the identifier.
    AddressInUse,
}

impl core::fmt::Display for BindError {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        f.write_str(match self {
            BindError::InvalidState => "the socket is already bound",
            BindError::AddressInUse => "the identifier is in use",
        })
    }
}

impl core::error::Error for BindError {}

/// Why an echo request could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SendError {
    /// The socket has no identifier yet.
    Unbound,
    /// The destination is unspecified.
    Unaddressable,
    /// The transmit queue is full now.
    BufferFull,
    /// Larger than [`MAX_PAYLOAD_IPV4`] or the whole transmit queue.
    TooLarge,
}

impl core::fmt::Display for SendError {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        f.write_str(match self {
            SendError::Unbound => "the socket is not bound",
            SendError::Unaddressable => "the destination is unspecified",
            SendError::BufferFull => "the transmit queue is full",
            SendError::TooLarge => "the payload is too large",
        })
    }
}

impl core::error::Error for SendError {}

/// An echo request sent and not answered yet.
#[derive(Debug, Clone, Copy)]
struct Pending {
    dst: IpAddress,
    seq_no: u16,
    sent_at: Instant,
}

/// An ICMP echo socket: see the module docs.
#[derive(Debug)]
pub struct IcmpSocket<'a> {
    ident: Option<u16>,
    rx: IcmpRxBuffer<'a>,
    tx: IcmpTxBuffer<'a>,
    pending: [Option<Pending>; IN_FLIGHT],
    /// Where the next request goes in `pending` when it is full.
    next_pending: u8,
    hop_limit: Option<u8>,
    error: Option<IcmpErrorReport>,
    key_version: u32,
    /// Replies for no request in flight (duplicates, late or forged).
    unmatched: u64,
    /// Replies dropped because the receive queue was full.
    rx_dropped: u64,
    /// The set unbound the socket: its identifier was another socket's.
    bind_refused: bool,
    #[cfg(feature = "async")]
    recv_waker: WakerRegistration,
    #[cfg(feature = "async")]
    send_waker: WakerRegistration,
}

impl<'a> IcmpSocket<'a> {
    /// An unbound socket with receive and transmit queues.
    pub fn new(rx: IcmpRxBuffer<'a>, tx: IcmpTxBuffer<'a>) -> IcmpSocket<'a> {
        IcmpSocket {
            ident: None,
            rx,
            tx,
            pending: [None; IN_FLIGHT],
            next_pending: 0,
            hop_limit: None,
            error: None,
            key_version: 0,
            unmatched: 0,
            rx_dropped: 0,
            bind_refused: false,
            #[cfg(feature = "async")]
            recv_waker: WakerRegistration::new(),
            #[cfg(feature = "async")]
            send_waker: WakerRegistration::new(),
        }
    }

    /// Takes echo identifier `ident`: requests carry it, and replies with
    /// it come to this socket. The set finds the socket by it; a socket
    /// bound to another socket's identifier is not entered (the
    /// interface's `icmp_bind` checks first and can choose one).
    pub fn bind(&mut self, ident: u16) -> Result<(), BindError> {
        if self.ident.is_some() {
            return Err(BindError::InvalidState);
        }
        self.ident = Some(ident);
        self.bind_refused = false;
        self.key_version = self.key_version.wrapping_add(1);
        Ok(())
    }

    /// Gives up the identifier; queues and requests in flight are dropped.
    pub fn close(&mut self) {
        self.ident = None;
        self.rx.clear();
        self.tx.clear();
        self.pending = [None; IN_FLIGHT];
        self.error = None;
        self.key_version = self.key_version.wrapping_add(1);
    }

    /// The identifier, once bound.
    pub fn ident(&self) -> Option<u16> {
        self.ident
    }

    /// Sets the TTL of requests (`None`: the interface's default; 0 is
    /// ignored).
    pub fn set_hop_limit(&mut self, hop_limit: Option<u8>) {
        self.hop_limit = hop_limit.filter(|&ttl| ttl != 0);
    }

    /// Whether an echo request with `size` bytes of data fits the transmit
    /// queue now.
    pub fn can_send(&self, size: usize) -> bool {
        size <= MAX_PAYLOAD_IPV4 && self.tx.can_enqueue(size)
    }

    /// Whether a reply is queued.
    pub fn can_recv(&self) -> bool {
        !self.rx.is_empty()
    }

    /// Queues an echo request to `dst` with sequence number `seq_no` and
    /// `data` (RFC 792); it goes out at the next poll, which stamps its
    /// send time.
    pub fn send_echo(&mut self, dst: IpAddress, seq_no: u16, data: &[u8]) -> Result<(), SendError> {
        if self.ident.is_none() {
            return Err(SendError::Unbound);
        }
        if dst.is_unspecified() {
            return Err(SendError::Unaddressable);
        }
        if data.len() > MAX_PAYLOAD_IPV4 {
            return Err(SendError::TooLarge);
        }
        self.tx
            .enqueue_slice(data, EchoRequest { dst, seq_no })
            .map_err(|e| match e {
                EnqueueError::Full => SendError::BufferFull,
                EnqueueError::TooLarge => SendError::TooLarge,
            })
    }

    /// The oldest reply and its data, removed from the queue.
    pub fn recv(&mut self) -> Option<(EchoReply, &[u8])> {
        self.rx.dequeue().map(|(reply, data)| (reply, &*data))
    }

    /// Requests sent whose replies have not come yet.
    pub fn in_flight(&self) -> usize {
        self.pending.iter().flatten().count()
    }

    /// Forgets requests in flight sent before `before` (timed out: their
    /// late replies will count as unmatched).
    pub fn expire(&mut self, before: Instant) {
        for entry in self.pending.iter_mut() {
            if entry.is_some_and(|p| p.sent_at < before) {
                *entry = None;
            }
        }
    }

    /// The last ICMP error about a request this socket sent (e.g. host
    /// unreachable from a router), without clearing it.
    pub fn error(&self) -> Option<IcmpErrorReport> {
        self.error
    }

    /// The last ICMP error, cleared.
    pub fn take_error(&mut self) -> Option<IcmpErrorReport> {
        self.error.take()
    }

    /// Replies that matched no request in flight (duplicates, late ones).
    pub fn unmatched(&self) -> u64 {
        self.unmatched
    }

    /// Replies dropped because the receive queue was full.
    pub fn rx_dropped(&self) -> u64 {
        self.rx_dropped
    }

    /// Registers the task to wake when a reply or an error arrives.
    #[cfg(feature = "async")]
    pub fn register_recv_waker(&mut self, waker: &Waker) {
        self.recv_waker.register(waker);
    }

    /// Registers the task to wake when a queued request was sent.
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

    // ---- for the socket set ----

    /// Whether the set unbound the socket at a poll because another
    /// socket has its identifier.
    pub fn bind_error(&self) -> Option<BindError> {
        self.bind_refused.then_some(BindError::AddressInUse)
    }

    /// The set could not enter the socket: it is unbound and says why.
    pub(crate) fn refuse_bind(&mut self) {
        self.ident = None;
        self.bind_refused = true;
        self.key_version = self.key_version.wrapping_add(1);
    }

    /// A count that moves whenever the identifier may have.
    pub(crate) fn key_version(&self) -> u32 {
        self.key_version
    }

    pub(crate) fn poll_at(&self, _cx: &Context) -> PollAt {
        if self.tx.is_empty() {
            PollAt::Ingress
        } else {
            PollAt::Now
        }
    }

    /// An echo reply with the socket's identifier: queued if it answers a
    /// request in flight (which it then no longer is).
    pub(crate) fn process_reply(
        &mut self,
        cx: &mut Context,
        from: IpAddress,
        seq_no: u16,
        data: &[u8],
    ) -> bool {
        let Some(ident) = self.ident else {
            return false;
        };
        let slot = self
            .pending
            .iter_mut()
            .find(|p| p.is_some_and(|p| p.dst == from && p.seq_no == seq_no));
        let Some(slot) = slot else {
            self.unmatched += 1;
            return false;
        };
        let Some(pending) = slot.take() else {
            return false;
        };
        let reply = EchoReply {
            from,
            ident,
            seq_no,
            sent_at: pending.sent_at,
            received_at: cx.now,
        };
        match self.rx.enqueue_slice(data, reply) {
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

    /// An ICMP error quoting one of this socket's requests.
    pub(crate) fn on_icmp_error(&mut self, report: IcmpErrorReport) {
        self.error = Some(report);
        self.wake_receiver();
    }

    /// Hands the oldest queued request to `emit`, stamping it in flight.
    pub(crate) fn dispatch<E>(
        &mut self,
        cx: &mut Context,
        emit: impl FnOnce(&mut Context, EchoOut<'_>) -> Result<(), E>,
    ) -> Result<bool, E> {
        let Some(ident) = self.ident else {
            return Ok(false);
        };
        let Some((request, data)) = self.tx.peek() else {
            return Ok(false);
        };
        let request = *request;
        emit(
            cx,
            EchoOut {
                dst: request.dst,
                ident,
                seq_no: request.seq_no,
                hop_limit: self.hop_limit,
                data,
            },
        )?;
        self.tx.dequeue();
        let pending = Pending {
            dst: request.dst,
            seq_no: request.seq_no,
            sent_at: cx.now,
        };
        // A request with the same destination and sequence number replaces
        // the older one; else a free entry, else the next in turn.
        let index = self
            .pending
            .iter()
            .position(|p| p.is_some_and(|p| p.dst == request.dst && p.seq_no == request.seq_no))
            .or_else(|| self.pending.iter().position(Option::is_none))
            .unwrap_or_else(|| {
                let index = usize::from(self.next_pending) % IN_FLIGHT;
                // IN_FLIGHT is far below 256.
                self.next_pending = ((index + 1) % IN_FLIGHT) as u8;
                index
            });
        if let Some(entry) = self.pending.get_mut(index) {
            *entry = Some(pending);
        }
        self.wake_sender();
        Ok(true)
    }
}

/// An echo request a socket hands the interface to send.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EchoOut<'p> {
    pub dst: IpAddress,
    pub ident: u16,
    pub seq_no: u16,
    pub hop_limit: Option<u8>,
    pub data: &'p [u8],
}

#[cfg(test)]
mod tests;
