//! The TCP socket (CONTRACT STUB: the TCP helper implements it).
//!
//! A sans-IO state machine: `process` takes one segment at `cx.now` and may
//! return an immediate reply; `dispatch` produces the next segment to send;
//! `poll_at` says when the socket next needs a poll.

pub mod congestion;
mod isn;
pub mod rtt;
mod state;

pub use self::isn::IsnGenerator;
pub use self::state::{Cause, State, Transition};

use crate::socket::{Context, PollAt};
use crate::storage::RingBuffer;
use crate::time::Duration;
use crate::wire::{IpEndpoint, IpListenEndpoint, IpRepr, SeqNumber, TcpRepr};

/// A TCP socket's byte buffer.
pub type SocketBuffer<'a> = RingBuffer<'a, u8>;

/// Counters a socket adds to through the [`Context`]; the interface sums them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct TcpStats {
    /// Segments handed out by `dispatch` or `process`.
    pub segments_sent: u64,
    /// Retransmitted segments (RTO, fast retransmit, SYN, FIN, probes excluded).
    pub retransmissions: u64,
    /// RSTs sent.
    pub rsts_sent: u64,
    /// Challenge ACKs sent (RFC 5961).
    pub challenge_acks: u64,
}

/// Per-socket TCP settings. Defaults follow lwIP and the RFCs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TcpConfig {
    /// Maximum segment lifetime; TIME_WAIT lasts 2*MSL (default 60 s).
    pub msl: Duration,
    /// How long FIN_WAIT_2 waits for the peer's FIN after a full close.
    pub fin_wait_2_timeout: Duration,
    /// How long a half-open connection may stay in SYN_RCVD.
    pub syn_rcvd_timeout: Duration,
    /// Initial RTO (RFC 6298 2.1: 1 s).
    pub initial_rto: Duration,
    /// Lower bound on the RTO.
    pub min_rto: Duration,
    /// Upper bound on the RTO.
    pub max_rto: Duration,
    /// Data/FIN retransmissions before the connection is aborted.
    pub max_retransmissions: u32,
    /// SYN retransmissions before connect fails.
    pub max_syn_retransmissions: u32,
    /// SYN+ACK retransmissions before a half-open connection is dropped.
    pub max_synack_retransmissions: u32,
    /// Abort when data stays unacknowledged this long (RFC 5482), if set.
    pub user_timeout: Option<Duration>,
    /// Delayed-ACK timeout, or `None` to ACK at once (< 500 ms,
    /// RFC 9293 section 3.8.6.3).
    pub ack_delay: Option<Duration>,
    /// Nagle's algorithm (RFC 9293 section 3.7.4).
    pub nagle: bool,
    /// Keep-alive: idle time before the first probe, or `None` (off).
    pub keepalive_idle: Option<Duration>,
    /// Keep-alive: time between probes.
    pub keepalive_interval: Duration,
    /// Keep-alive: unanswered probes before the connection is dropped.
    pub keepalive_count: u32,
    /// Offer window scaling (RFC 7323 section 2).
    pub window_scaling: bool,
    /// Offer timestamps (RFC 7323 section 3).
    pub timestamps: bool,
    /// Offer SACK-permitted (RFC 2018).
    pub sack: bool,
    /// RFC 793 RST handling instead of RFC 5961 3.2 (FreeBSD's insecure_rst).
    pub insecure_rst: bool,
    /// RFC 793 SYN handling instead of RFC 5961 4.2 (FreeBSD's insecure_syn).
    pub insecure_syn: bool,
    /// Challenge ACKs allowed per second (RFC 5961 section 7).
    pub challenge_ack_limit: u32,
    /// Holes the out-of-order assembler may keep.
    pub max_ooo_holes: usize,
}

/// Why a connection ended badly; readable after the fact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TcpError {
    /// The peer refused the connection (RST in SYN_SENT).
    Refused,
    /// The peer reset the connection.
    Reset,
    /// Retransmissions, keep-alives or the user timeout ran out.
    TimedOut,
    /// A hard ICMP error (RFC 1122 section 4.2.3.9).
    Unreachable,
}

/// `listen` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenError {
    /// The socket is not CLOSED.
    InvalidState,
    /// Port 0.
    Unaddressable,
}

/// `connect` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectError {
    /// The socket is not CLOSED.
    InvalidState,
    /// An unspecified address or port 0.
    Unaddressable,
}

/// `send` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The send side is closed or not yet open.
    InvalidState,
}

/// `recv` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvError {
    /// The connection is not open for receiving.
    InvalidState,
    /// The peer sent FIN and everything before it has been read.
    Finished,
}

/// An ICMP error matched to this socket by its quoted header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcmpError {
    /// Destination unreachable, hard (protocol/port unreachable, admin
    /// prohibited): aborts a connection in SYN_SENT (RFC 1122 4.2.3.9).
    HardUnreachable,
    /// Destination unreachable, soft (net/host unreachable): reported, not
    /// fatal (RFC 5461).
    SoftUnreachable,
    /// Fragmentation needed (RFC 1191): the next-hop MTU.
    FragmentationNeeded {
        /// The next-hop MTU from the ICMP message.
        mtu: u16,
    },
}

/// A TCP socket: one endpoint of a connection, or a listener.
#[derive(Debug)]
pub struct TcpSocket<'a> {
    rx_buffer: SocketBuffer<'a>,
    tx_buffer: SocketBuffer<'a>,
}

impl<'a> TcpSocket<'a> {
    /// A CLOSED socket with the given receive and transmit buffers.
    pub fn new(rx_buffer: SocketBuffer<'a>, tx_buffer: SocketBuffer<'a>) -> Self {
        TcpSocket {
            rx_buffer,
            tx_buffer,
        }
    }
    /// The socket's settings.
    pub fn config(&self) -> &TcpConfig {
        todo!()
    }
    /// Replaces the settings (takes effect for later events).
    pub fn set_config(&mut self, config: TcpConfig) {
        let _ = config;
        todo!()
    }
    /// CLOSED -> LISTEN (passive open).
    pub fn listen<T: Into<IpListenEndpoint>>(&mut self, local: T) -> Result<(), ListenError> {
        let _ = local;
        todo!()
    }
    /// CLOSED -> SYN_SENT (active open); the SYN goes out on the next dispatch.
    pub fn connect(
        &mut self,
        cx: &mut Context,
        remote: IpEndpoint,
        local: IpEndpoint,
    ) -> Result<(), ConnectError> {
        let _ = (cx, remote, local);
        todo!()
    }
    /// A new socket in LISTEN with this listener's settings and endpoint,
    /// marked as a listener's child: the interface processes the SYN on it.
    pub fn fork_listener_child<'b>(
        &self,
        rx_buffer: SocketBuffer<'b>,
        tx_buffer: SocketBuffer<'b>,
    ) -> TcpSocket<'b> {
        let _ = (rx_buffer, tx_buffer);
        todo!()
    }
    /// Whether this socket was forked from a listener for one connection.
    pub fn is_listener_child(&self) -> bool {
        todo!()
    }
    /// Processes one segment addressed to this socket; may return an
    /// immediate reply (ACK, RST, challenge ACK), which carries no data.
    pub fn process(
        &mut self,
        cx: &mut Context,
        ip_repr: &IpRepr,
        repr: &TcpRepr,
    ) -> Option<(IpRepr, TcpRepr<'static>)> {
        let _ = (cx, ip_repr, repr);
        todo!()
    }
    /// Emits at most one segment through `emit`; `Ok(true)` if one was
    /// emitted (call again for more), `Ok(false)` if nothing is due.
    pub fn dispatch<F, E>(&mut self, cx: &mut Context, emit: F) -> Result<bool, E>
    where
        F: FnOnce(&mut Context, (IpRepr, TcpRepr)) -> Result<(), E>,
    {
        let _ = (cx, emit);
        todo!()
    }
    /// When the socket next needs a poll.
    pub fn poll_at(&self, cx: &Context) -> PollAt {
        let _ = cx;
        todo!()
    }
    /// An ICMP error whose quoted TCP header carried `quoted_seq`.
    pub fn on_icmp_error(&mut self, cx: &mut Context, quoted_seq: SeqNumber, error: IcmpError) {
        let _ = (cx, quoted_seq, error);
        todo!()
    }
    /// The oldest unread state transition.
    pub fn pop_transition(&mut self) -> Option<Transition> {
        todo!()
    }
    /// The current state.
    pub fn state(&self) -> State {
        todo!()
    }
}

// TEMPORARY iface-branch stubs: replaced by the tcp branch at merge.
#[allow(missing_docs, clippy::missing_panics_doc)]
impl<'a> TcpSocket<'a> {
    pub fn local_endpoint(&self) -> Option<IpEndpoint> { todo!() }
    pub fn remote_endpoint(&self) -> Option<IpEndpoint> { todo!() }
    pub fn listen_endpoint(&self) -> IpListenEndpoint { todo!() }
    pub fn abort(&mut self) { todo!() }
    pub fn close(&mut self) { todo!() }
    pub fn into_buffers(self) -> (SocketBuffer<'a>, SocketBuffer<'a>) { (self.rx_buffer, self.tx_buffer) }
    pub fn send_slice(&mut self, data: &[u8]) -> Result<usize, SendError> { let _ = data; todo!() }
    pub fn recv_slice(&mut self, data: &mut [u8]) -> Result<usize, RecvError> { let _ = data; todo!() }
    pub fn may_recv(&self) -> bool { todo!() }
    pub fn can_send(&self) -> bool { todo!() }
    pub fn send_queue(&self) -> usize { todo!() }
}

impl Default for TcpConfig {
    fn default() -> Self { todo!() }
}

#[allow(missing_docs)]
pub fn rst_for_unmatched(ip_repr: &IpRepr, repr: &TcpRepr) -> Option<(IpRepr, TcpRepr<'static>)> { let _ = (ip_repr, repr); todo!() }
#[allow(missing_docs)]
impl TcpSocket<'_> {
    pub fn debug_rcv_nxt(&self) -> SeqNumber { todo!() }
    pub fn debug_snd_nxt(&self) -> SeqNumber { todo!() }
}
