//! Sockets: sans-IO protocol state machines driven by the interface.
//!
//! A socket never sees a device, Ethernet or ARP. The interface hands it
//! `(now, segment)` through a [`Context`] and asks it for segments to send.
//! The [`SocketSet`] holds sockets of every kind ([`Socket`]) behind one
//! handle type.
//!
//! # Adding a kind of socket
//! One file for the socket (`udp.rs`, ...), one variant of [`Socket`], one
//! [`AnySocket`] impl (the macro below), one arm in each of the few
//! `match`es on [`Socket`] in this file and in the set (`live_key`: the
//! demultiplexing key it is found by, with its protocol; `dispatch`, what
//! it sends; `poll_at`; its transition trace, if it has one), one
//! `Packet` variant for the interface to emit, and an ingress entry point
//! in the set beside `process_tcp`.

pub mod dhcpv4;
pub mod dns;
mod set;
pub mod tcp;
#[cfg(feature = "async")]
pub mod waker;

pub use self::set::{
    ChildBuffers, DemuxSlot, HalfOpenStorage, ListenOptions, ListenerStorage, RecordStorage,
    SetCapacity, SetFull, SocketHandle, SocketSet, SocketSetStorage, SocketStorage, StorageError,
    TcpRecordInfo, TimeWaitStorage, TraceEvent, TraceSubject, demux_slots_for,
};

use crate::time::Instant;
use crate::wire::{IpRepr, TcpRepr};

/// A socket of any kind a [`SocketSet`] holds.
#[derive(Debug)]
#[non_exhaustive]
pub enum Socket<'a> {
    /// A TCP socket.
    Tcp(tcp::TcpSocket<'a>),
}

/// A kind of socket: converts to and from [`Socket`], so the set's
/// accessors can take the kind as a type parameter
/// (`sockets.get::<TcpSocket>(handle)`).
pub trait AnySocket<'a>: Sized {
    /// Wraps the socket.
    fn upcast(self) -> Socket<'a>;
    /// The socket, if `socket` is of this kind.
    fn downcast<'c>(socket: &'c Socket<'a>) -> Option<&'c Self>;
    /// The socket, mutably, if `socket` is of this kind.
    fn downcast_mut<'c>(socket: &'c mut Socket<'a>) -> Option<&'c mut Self>;
}

macro_rules! socket_kind {
    ($kind:ident, $ty:ty) => {
        impl<'a> AnySocket<'a> for $ty {
            fn upcast(self) -> Socket<'a> {
                Socket::$kind(self)
            }

            #[allow(unreachable_patterns)]
            fn downcast<'c>(socket: &'c Socket<'a>) -> Option<&'c Self> {
                match socket {
                    Socket::$kind(s) => Some(s),
                    _ => None,
                }
            }

            #[allow(unreachable_patterns)]
            fn downcast_mut<'c>(socket: &'c mut Socket<'a>) -> Option<&'c mut Self> {
                match socket {
                    Socket::$kind(s) => Some(s),
                    _ => None,
                }
            }
        }

        impl<'a> TryFrom<Socket<'a>> for $ty {
            type Error = Socket<'a>;

            #[allow(unreachable_patterns)]
            fn try_from(socket: Socket<'a>) -> Result<Self, Socket<'a>> {
                match socket {
                    Socket::$kind(s) => Ok(s),
                    other => Err(other),
                }
            }
        }
    };
}

socket_kind!(Tcp, tcp::TcpSocket<'a>);

impl<'a> Socket<'a> {
    /// When the socket next needs the interface's attention.
    pub fn poll_at(&self, cx: &Context) -> PollAt {
        match self {
            Socket::Tcp(s) => s.poll_at(cx),
        }
    }

    /// Lets the socket emit at most one packet through `emit`; `Ok(true)`
    /// if it did.
    pub(crate) fn dispatch<E>(
        &mut self,
        cx: &mut Context,
        emit: &mut impl FnMut(&mut Context, Packet<'_>) -> Result<(), E>,
    ) -> Result<bool, E> {
        match self {
            Socket::Tcp(s) => s.dispatch(cx, |cx, (ip, tcp)| emit(cx, Packet::Tcp(ip, tcp))),
        }
    }
}

/// A packet a socket hands the interface to send.
#[derive(Debug)]
pub(crate) enum Packet<'p> {
    /// A TCP segment with its IP header.
    Tcp(IpRepr, TcpRepr<'p>),
}

/// When a socket next needs the interface's attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PollAt {
    /// Now: it has something to send.
    Now,
    /// At this instant (a timer).
    Time(Instant),
    /// Only when a segment arrives.
    Ingress,
}

/// What the interface lends a socket for one call: the time, the ISN
/// generator, the path MTU, and counters the socket adds to.
#[derive(Debug)]
pub struct Context {
    /// The current time on the caller's clock.
    pub now: Instant,
    /// Generates initial sequence numbers (RFC 9293 section 3.4.1).
    pub isn: tcp::IsnGenerator,
    /// Largest IP packet on the path out; the MSS derives from it.
    pub ip_mtu: usize,
    /// Largest IP packet the device takes and cuts into MSS-sized segments
    /// (TCP segmentation offload); not above `ip_mtu`: none. With it, a
    /// socket sends super-segments of several MSS.
    pub tso_max_len: usize,
    /// Set by a TCP socket's `dispatch` for the segment it hands to its
    /// emit closure: the payload of each segment the device is to cut that
    /// super-segment into, or 0 for a plain segment.
    pub segment_size: u16,
    /// Counters the socket increments (segments, retransmissions, RSTs).
    pub stats: tcp::TcpStats,
    /// Set by a TCP socket when a segment it processed acknowledged new
    /// data: forward progress, which the interface passes to its neighbor
    /// cache as upper-layer advice that the next hop is reachable (RFC 4861
    /// section 7.3.1, RFC 1122 section 2.3.2.1). The interface clears it
    /// before each segment; sockets only ever set it.
    pub forward_progress: bool,
    /// Whether in-order data is acknowledged once per poll rather than per
    /// segment: the interface sets it, so the in-order segments one poll
    /// takes in for a socket share one ACK, sent by that socket's next
    /// `dispatch` (in the same poll). Out-of-order data, duplicates, FINs
    /// and window edges are still answered at once. Off in
    /// [`Context::new`], so sans-IO callers see one reply per segment.
    pub coalesce_acks: bool,
}

impl Context {
    /// A context at `now` with `isn`, an IP MTU of 1500 and no
    /// segmentation offload.
    pub fn new(now: Instant, isn: tcp::IsnGenerator) -> Context {
        Context {
            now,
            isn,
            ip_mtu: 1500,
            tso_max_len: 0,
            segment_size: 0,
            stats: tcp::TcpStats::default(),
            forward_progress: false,
            coalesce_acks: false,
        }
    }
}
