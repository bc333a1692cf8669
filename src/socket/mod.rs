//! Sockets: sans-IO protocol state machines driven by the interface.
//!
//! A socket never sees a device, Ethernet or ARP. The interface hands it
//! `(now, segment)` through a [`Context`] and asks it for segments to send.
//! The [`SocketSet`] holds sockets of every kind ([`Socket`]) behind one
//! handle type.
//!
//! # Kinds of socket
//! - [`tcp::TcpSocket`]: TCP connections and listeners (RFC 9293).
//! - [`udp::UdpSocket`]: UDP datagrams (RFC 768), bound and optionally
//!   connected, with broadcast and ICMP errors.
//! - [`icmp::IcmpSocket`]: ICMP echo (RFC 792), to ping with the round trip
//!   time measured on the stack's clock.
//! - [`dhcpv4::Dhcpv4Socket`]: a DHCPv4 client (RFC 2131) with the ARP
//!   probe of RFC 5227; it reports leases as events and never edits the
//!   interface (`Interface::apply_dhcpv4_event` applies one).
//! - [`dns::DnsSocket`]: a DNS stub resolver (RFC 1035) with a bounded
//!   query table.
//!
//! # Adding a kind of socket
//! One file for the socket (`udp.rs`, ...), one variant of [`Socket`], one
//! [`AnySocket`] impl (the `socket_kind!` macro below), and one arm in each
//! of the few `match`es on [`Socket`]: here (`poll_at`, `dispatch`: what it
//! sends, as a `Packet` the interface emits) and in the set (`live_key`
//! and `key_version`: the demultiplexing key it is found by, with its
//! protocol; `process_udp` if it receives UDP; its transition trace, if it
//! has one).
//!
//! A kind that speaks over UDP (a DHCP client, a DNS resolver) needs no
//! interface code of its own: its `live_key` is a UDP key
//! (`DemuxKey::udp_bound`, e.g. port 68 on every address), the set's
//! `process_udp` hands it `(cx, &IpRepr, &UdpRepr)` (the arm to add sits
//! beside the `Socket::Udp` one and says so), and its `dispatch` emits
//! `Packet::Udp(DatagramOut { .. })`: a source address (`Some(0.0.0.0)` for
//! a DHCP client without an address; `None`: the interface chooses), the
//! source port, a destination (255.255.255.255 is sent to the Ethernet
//! broadcast address without ARP), a TTL and the payload, which may borrow
//! from the socket. ICMP errors about its datagrams reach it through
//! `udp_icmp_error` the same way.

pub mod dhcpv4;
pub mod dns;
pub mod icmp;
mod set;
pub mod tcp;
pub mod udp;
#[cfg(feature = "async")]
pub mod waker;

pub use self::set::{
    ChildBuffers, DemuxSlot, HalfOpenStorage, ListenOptions, ListenerStorage, RecordStorage,
    SetCapacity, SetFull, SocketHandle, SocketSet, SocketSetStorage, SocketStorage, StorageError,
    TcpRecordInfo, TimeWaitStorage, TraceEvent, TraceSubject, demux_slots_for,
};
pub(crate) use self::set::{UdpDelivery, UdpFanout};

use crate::time::Instant;
use crate::wire::{
    Icmpv4DstUnreachable, Icmpv4TimeExceeded, IpAddress, IpEndpoint, IpRepr, TcpRepr,
};

/// A socket of any kind a [`SocketSet`] holds.
#[derive(Debug)]
#[non_exhaustive]
// Slots are as large as the largest kind either way: boxing TCP would need
// an allocator (the core has none) and cost a pointer chase per segment.
#[allow(clippy::large_enum_variant)]
pub enum Socket<'a> {
    /// A TCP socket.
    Tcp(tcp::TcpSocket<'a>),
    /// A UDP socket.
    Udp(udp::UdpSocket<'a>),
    /// An ICMP echo socket.
    Icmp(icmp::IcmpSocket<'a>),
    /// A DHCPv4 client.
    Dhcpv4(dhcpv4::Dhcpv4Socket),
    /// A DNS resolver.
    Dns(dns::DnsSocket<'a>),
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
socket_kind!(Udp, udp::UdpSocket<'a>);
socket_kind!(Icmp, icmp::IcmpSocket<'a>);
socket_kind!(Dhcpv4, dhcpv4::Dhcpv4Socket);
socket_kind!(Dns, dns::DnsSocket<'a>);

impl<'a> Socket<'a> {
    /// When the socket next needs the interface's attention.
    pub fn poll_at(&self, cx: &Context) -> PollAt {
        match self {
            Socket::Tcp(s) => s.poll_at(cx),
            Socket::Udp(s) => s.poll_at(cx),
            Socket::Icmp(s) => s.poll_at(cx),
            Socket::Dhcpv4(s) => s.poll_at_cx(cx),
            Socket::Dns(s) => s.poll_at_cx(cx),
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
            Socket::Udp(s) => s.dispatch(cx, |cx, out| emit(cx, Packet::Udp(out))),
            Socket::Icmp(s) => s.dispatch(cx, |cx, out| emit(cx, Packet::IcmpEcho(out))),
            Socket::Dhcpv4(s) => s.dispatch_packet(cx, emit),
            Socket::Dns(s) => s.dispatch_packet(cx, emit),
        }
    }
}

/// A packet a socket hands the interface to send.
#[derive(Debug)]
pub(crate) enum Packet<'p> {
    /// A TCP segment with its IP header.
    Tcp(IpRepr, TcpRepr<'p>),
    /// A UDP datagram (of a UDP socket or a kind that speaks over UDP).
    Udp(DatagramOut<'p>),
    /// An ICMP echo request.
    IcmpEcho(icmp::EchoOut<'p>),
    /// An ARP request of a DHCP client's address check: a probe (sender
    /// address 0.0.0.0) or an announcement (RFC 5227).
    Arp(dhcpv4::ArpOut),
}

/// A UDP datagram a socket hands the interface to send: the interface
/// routes it (ARP, the neighbor cache, broadcast) and computes its
/// checksum.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DatagramOut<'p> {
    /// The source address; `None`: the interface chooses (the address on
    /// the destination's prefix, else its first). `Some(0.0.0.0)` is sent
    /// as is (RFC 2131 section 4.1: a DHCP client without an address).
    pub src_addr: Option<IpAddress>,
    /// The source port.
    pub src_port: u16,
    /// The destination; a broadcast address goes to the Ethernet broadcast.
    pub dst: IpEndpoint,
    /// TTL; `None`: the interface's default.
    pub hop_limit: Option<u8>,
    /// The payload.
    pub payload: &'p [u8],
}

/// What an ICMP error (RFC 792) said about a datagram a socket sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum IcmpErrorKind {
    /// Destination unreachable, with its code (port unreachable from the
    /// destination host, host or network unreachable from a router, ...).
    DstUnreachable(Icmpv4DstUnreachable),
    /// Time exceeded (TTL expired in transit, or reassembly timed out).
    TimeExceeded(Icmpv4TimeExceeded),
}

/// An ICMP error about a datagram a socket sent, as the socket reports it
/// to the application (RFC 1122 section 4.1.3.3 for UDP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct IcmpErrorReport {
    /// Who sent the error: the destination itself, or a router on the way.
    pub reporter: IpAddress,
    /// The destination of the datagram the error is about (for an echo
    /// request, the port is 0).
    pub remote: IpEndpoint,
    /// What it said.
    pub kind: IcmpErrorKind,
    /// When it arrived.
    pub at: Instant,
}

impl IcmpErrorReport {
    /// Whether it is a port unreachable (nothing listens on the remote
    /// port: BSD's `ECONNREFUSED`).
    pub fn is_port_unreachable(&self) -> bool {
        self.kind == IcmpErrorKind::DstUnreachable(Icmpv4DstUnreachable::PortUnreachable)
    }
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
