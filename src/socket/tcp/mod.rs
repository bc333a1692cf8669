//! The TCP socket: a sans-IO state machine with lwIP's eleven states.
//!
//! `process` takes one segment at `cx.now` and may return an immediate reply
//! (ACK, RST, challenge ACK); `dispatch` produces the next segment to send and
//! fires the timers; `poll_at` says when the socket next needs a poll. The
//! socket never reads a clock: time enters only through [`Context::now`].
//!
//! The code is split by idea:
//! - this file: the socket's fields, settings, errors and the user API
//!   (RFC 9293 section 3.10.1 to 3.10.6);
//! - `process`: segment arrival (RFC 9293 section 3.10.7, with RFC 5961,
//!   RFC 7323 PAWS and RFC 1337);
//! - `dispatch`: segment output, window advertisement, Nagle and silly
//!   window avoidance (RFC 9293 sections 3.8.6 and 3.7.4);
//! - `timers`: retransmission (RFC 6298), persist, keep-alive, delayed ACK,
//!   TIME_WAIT, FIN_WAIT_2, SYN_RCVD and the user timeout (RFC 5482);
//! - `diagram`: which transitions the RFC 9293 diagram allows (for checks).

pub mod congestion;
mod diagram;
mod dispatch;
mod ecn;
mod half_open;
mod isn;
mod process;
mod prr;
mod rack;
mod recovery;
pub mod rtt;
mod sack_report;
mod scoreboard;
mod state;
mod syn_cookie;
mod time_wait;
mod timers;
mod waker;

#[cfg(test)]
mod tests;

pub use self::congestion::{
    AckEvent, AnyCongestion, CongestionAlgorithm, CongestionCause, CongestionControl,
};
pub use self::diagram::transition_allowed;
pub use self::ecn::EcnMode;
pub use self::half_open::HalfOpen;
pub use self::isn::IsnGenerator;
pub use self::state::{Cause, State, Transition};
pub use self::syn_cookie::{COOKIE_LIFETIME_MINUTES, CookieOptions, SynCookies};
pub use self::time_wait::TimeWait;

use core::fmt;

use self::ecn::EcnState;
use self::rtt::RttEstimator;
use self::sack_report::SackReport;
use crate::socket::{Context, PollAt};
use crate::storage::{Assembler, RingBuffer};
use crate::time::{Duration, Instant};
use crate::wire::{
    IpAddress, IpEndpoint, IpListenEndpoint, IpProtocol, IpRepr, SeqNumber, TcpFlags, TcpRepr,
};

/// A TCP socket's byte buffer.
pub type SocketBuffer<'a> = RingBuffer<'a, u8>;

/// The congestion controller a socket holds: the algorithm its
/// [`TcpConfig::congestion`] names.
type Congestion = AnyCongestion;

/// Counters a socket adds to through the [`Context`]; the interface sums them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TcpStats {
    /// Segments handed out by `dispatch` or `process`.
    pub segments_sent: u64,
    /// Retransmitted segments (RTO, fast retransmit, SYN, FIN, probes excluded).
    pub retransmissions: u64,
    /// RSTs sent.
    pub rsts_sent: u64,
    /// Challenge ACKs sent (RFC 5961).
    pub challenge_acks: u64,
    /// SYN-ACKs carrying a SYN cookie (RFC 4987 section 3.6).
    pub syn_cookies_sent: u64,
    /// Connections rebuilt from a SYN cookie.
    pub syn_cookies_accepted: u64,
    /// SYNs dropped: the SYN queue was full and SYN cookies are off.
    pub syn_dropped: u64,
    /// Final ACKs of a handshake dropped for want of a slot, buffers or
    /// room in the accept queue (the peer sends them again).
    pub final_ack_dropped: u64,
    /// TIME_WAIT records dropped to make room for newer ones.
    pub time_wait_evicted: u64,
    /// Connections dropped to make room for a new one (memory policy).
    pub evicted: u64,
    /// Connections ended by their listener's idle timeout.
    pub idle_timeouts: u64,
    /// Connections or listeners that could not be entered in the
    /// demultiplexing table (another socket has the key).
    pub demux_insert_failed: u64,
    /// Retransmission timeouts of data or FIN (RFC 6298 section 5.5).
    pub rtos: u64,
    /// Fast recoveries entered (RFC 6675 / RFC 6582, loss detected by
    /// RACK, SACK or duplicate ACKs).
    pub fast_recoveries: u64,
    /// Tail loss probes sent (RFC 8985 section 7).
    pub tlps_sent: u64,
    /// Window reductions undone because the retransmissions proved
    /// spurious (D-SACK, RFC 3708; timestamps, RFC 3522 and RFC 4015).
    pub spurious_undone: u64,
}

/// Per-socket TCP settings. Defaults follow lwIP and the RFCs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TcpConfig {
    /// Maximum segment lifetime; TIME_WAIT lasts 2*MSL (default 60 s).
    pub msl: Duration,
    /// How long FIN_WAIT_2 waits for the peer's FIN after a full close: an
    /// idle timeout, restarted by each acceptable segment (default 60 s).
    pub fin_wait_2_timeout: Duration,
    /// The hard bound on FIN_WAIT_2 after a full close, from when its
    /// timeout first runs, whatever the peer sends: a peer that keeps the
    /// connection alive with ACKs cannot hold it longer (default 120 s,
    /// twice `fin_wait_2_timeout`).
    pub fin_wait_2_limit: Duration,
    /// How long a half-open connection may stay in SYN_RCVD (default 20 s).
    pub syn_rcvd_timeout: Duration,
    /// Initial RTO (default 1 s, RFC 6298 section 2.1).
    pub initial_rto: Duration,
    /// Lower bound on the RTO (default 200 ms, as Linux's `TCP_RTO_MIN`).
    ///
    /// RFC 6298 section 2.4 asks for 1 s, to keep a timeout from firing
    /// while the ACK is merely late. pollnet follows Linux instead: with
    /// 1 s, every loss that duplicate ACKs, SACK or RACK cannot repair (a
    /// lost tail, a lost retransmission) idles a LAN or metro path for a
    /// second, hundreds of RTTs, and a lossy link becomes timeout-bound.
    /// 200 ms still exceeds the delayed-ACK timers of the peers this stack
    /// meets (Linux: 40 to 200 ms, pollnet: 100 ms), so one segment
    /// waiting for a delayed ACK does not time out, and a timeout that was
    /// spurious after all is undone (RFC 3522, RFC 4015). Raise it towards
    /// 1 s for peers that delay ACKs longer (RFC 9293 allows up to 500 ms).
    pub min_rto: Duration,
    /// Upper bound on the RTO (default 60 s, RFC 6298 section 2.5's
    /// "at least 60 seconds").
    pub max_rto: Duration,
    /// The congestion control algorithm (default CUBIC, RFC 9438, with
    /// HyStart++, RFC 9406). CUBIC is the default because the peers and
    /// competing flows a pollnet sender meets run it (Linux, Windows and
    /// the Apple stacks): NewReno against them takes a smaller share of a
    /// shared bottleneck, and on a long or fast path regains its window
    /// after a loss at one segment per RTT where CUBIC's cubic curve
    /// returns to the window of the loss in a time independent of the RTT.
    /// NewReno (RFC 5681, RFC 6582) remains for small or predictable
    /// links, where its linear growth is easier to reason about.
    pub congestion: CongestionAlgorithm,
    /// Data/FIN retransmissions before the connection is aborted (default
    /// 12).
    pub max_retransmissions: u32,
    /// SYN retransmissions before connect fails (default 7: with the RTO
    /// doubling from 1 s to its 60 s cap, connect gives up after 183 s,
    /// RFC 1122 4.2.3.5 / RFC 9293 MUST-23's "at least 3 minutes").
    pub max_syn_retransmissions: u32,
    /// SYN+ACK retransmissions before a half-open connection is dropped
    /// (default 5).
    pub max_synack_retransmissions: u32,
    /// Abort when data stays unacknowledged this long (RFC 5482), if set
    /// (default unset).
    pub user_timeout: Option<Duration>,
    /// Delayed-ACK timeout, or `None` to ACK at once (default 100 ms; at
    /// most 499 ms is used, RFC 9293 section 3.8.6.3). Quick-ACK (see
    /// `quick_acks`) and the ACK of every second full-sized segment keep
    /// the delay off the paths where it would stall a sender.
    pub ack_delay: Option<Duration>,
    /// With delayed ACKs on, ACK at once when this many full-sized segments
    /// are unacknowledged (default 2, RFC 5681 section 4.2's most). Through an
    /// interface, "at once" means at the end of the poll that took the
    /// segments in: a poll that took in more than two full-sized segments
    /// answers them with one stretch ACK, as Linux does for what GRO merged
    /// (a deviation from RFC 1122 4.2.3.2's every second segment that
    /// senders counting acknowledged bytes, RFC 3465, do not suffer from).
    pub ack_every_segments: u32,
    /// Quick-ACK, as Linux's: at connection start and after the receive
    /// side was idle longer than the RTO, this many in-order segments are
    /// acknowledged without delay (default 16, at most half the receive
    /// buffer in full segments), so a sender in slow start or a request
    /// after a pause never waits for the delayed-ACK timer. 0 turns it off.
    pub quick_acks: u8,
    /// Nagle's algorithm (RFC 9293 section 3.7.4) in Minshall's form, as
    /// Linux runs it: a segment shorter than the MSS waits only while an
    /// earlier short segment is unacknowledged, so the last piece of a
    /// response does not wait for the ACK of the full segments before it
    /// (which a delayed ACK would hold back). On by default.
    pub nagle: bool,
    /// Keep-alive: idle time before the first probe, or `None` (off, the
    /// default; RFC 1122 4.2.3.6 makes keep-alives optional and off).
    pub keepalive_idle: Option<Duration>,
    /// Keep-alive: time between probes (default 75 s).
    pub keepalive_interval: Duration,
    /// Keep-alive: unanswered probes before the connection is dropped
    /// (default 9).
    pub keepalive_count: u32,
    /// Offer window scaling (RFC 7323 section 2; default on).
    pub window_scaling: bool,
    /// Offer timestamps (RFC 7323 section 3; default on).
    pub timestamps: bool,
    /// Offer and accept SACK (RFC 2018; default on): when both SYNs carry
    /// SACK-permitted, every ACK sent while out-of-order data is held
    /// reports it in SACK blocks (sections 3 and 4), and duplicate segments
    /// are reported as D-SACK blocks (RFC 2883).
    pub sack: bool,
    /// RFC 793 RST handling instead of RFC 5961 3.2 (FreeBSD's insecure_rst;
    /// default off).
    pub insecure_rst: bool,
    /// RFC 793 SYN handling instead of RFC 5961 4.2 (FreeBSD's insecure_syn;
    /// default off).
    pub insecure_syn: bool,
    /// Challenge ACKs this socket sends per second at most (RFC 5961
    /// section 7's ACK throttling; default 10). The limit is per socket:
    /// a global counter lets an off-path attacker learn, by counting
    /// replies, whether a guessed connection exists (CVE-2016-5696).
    pub challenge_ack_limit: u32,
    /// At most one ACK per this interval answers an unacceptable or
    /// PAWS-failed segment that carries no data (or carries a SYN), as
    /// Linux's `tcp_invalid_ratelimit` (default 500 ms): such segments can
    /// be part of an ACK loop or a reflection attack. Segments with data
    /// or a FIN are always answered, so a peer retransmitting what we hold
    /// learns it at once.
    pub invalid_ack_interval: Duration,
    /// Holes the out-of-order assembler may keep (default 8).
    pub max_ooo_holes: usize,
    /// Explicit Congestion Notification (RFC 3168): off, accepted when the
    /// peer's SYN asks (the default, as Linux's `tcp_ecn=2`), or requested
    /// in our SYNs too. Once agreed, new data goes out ECT(0), a CE mark is
    /// echoed with ECE until the peer's CWR, and an ECE reduces the window
    /// once per window of data.
    pub ecn: EcnMode,
    /// Drop segments with both SYN and FIN set, unanswered (FreeBSD's
    /// `net.inet.tcp.drop_synfin`): such a segment is legal in RFC 9293
    /// but only port scanners send it. Off by default.
    pub drop_syn_fin: bool,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            msl: Duration::from_secs(60),
            fin_wait_2_timeout: Duration::from_secs(60),
            fin_wait_2_limit: Duration::from_secs(120),
            syn_rcvd_timeout: Duration::from_secs(20),
            initial_rto: Duration::from_secs(1),
            min_rto: Duration::from_millis(200),
            max_rto: Duration::from_secs(60),
            congestion: CongestionAlgorithm::Cubic,
            max_retransmissions: 12,
            max_syn_retransmissions: 7,
            max_synack_retransmissions: 5,
            user_timeout: None,
            ack_delay: Some(Duration::from_millis(100)),
            ack_every_segments: 2,
            quick_acks: 16,
            nagle: true,
            keepalive_idle: None,
            keepalive_interval: Duration::from_secs(75),
            keepalive_count: 9,
            window_scaling: true,
            timestamps: true,
            sack: true,
            insecure_rst: false,
            insecure_syn: false,
            challenge_ack_limit: 10,
            invalid_ack_interval: Duration::from_millis(500),
            max_ooo_holes: 8,
            drop_syn_fin: false,
            ecn: EcnMode::Accept,
        }
    }
}

/// Why a connection ended badly; readable after the fact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
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
    /// The connection's local address was removed from the interface
    /// (a lease ended, the application reconfigured it): nothing can be
    /// sent from or received at it any more, so the connection ended
    /// without a RST.
    AddressRemoved,
}

impl fmt::Display for TcpError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            TcpError::Refused => "connection refused",
            TcpError::Reset => "connection reset",
            TcpError::TimedOut => "timed out",
            TcpError::Unreachable => "unreachable",
            TcpError::AddressRemoved => "local address removed",
        })
    }
}

impl core::error::Error for TcpError {}

/// `listen` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ListenError {
    /// The socket is not CLOSED.
    InvalidState,
    /// Port 0.
    Unaddressable,
    /// Another socket of the set already listens on an overlapping endpoint:
    /// the same port, and the same address or either of them on every
    /// address (`addr: None`). A SYN must have one listener to go to.
    /// Returned by [`SocketSet::listen`](crate::socket::SocketSet::listen);
    /// [`TcpSocket::listen`] alone cannot know the other sockets.
    AddressInUse,
    /// The socket set's listener table is full
    /// ([`SetCapacity::listeners`](crate::socket::SetCapacity::listeners)).
    TooManyListeners,
}

impl fmt::Display for ListenError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            ListenError::InvalidState => "listen: the socket is not closed",
            ListenError::Unaddressable => "listen: port 0",
            ListenError::AddressInUse => "listen: another socket listens on that endpoint",
            ListenError::TooManyListeners => "listen: the socket set's listener table is full",
        })
    }
}

impl core::error::Error for ListenError {}

/// `connect` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ConnectError {
    /// The socket is not CLOSED.
    InvalidState,
    /// An unspecified address or port 0.
    Unaddressable,
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            ConnectError::InvalidState => "connect: the socket is not closed",
            ConnectError::Unaddressable => "connect: unspecified address or port 0",
        })
    }
}

impl core::error::Error for ConnectError {}

/// `send` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SendError {
    /// The send side is closed or not yet open.
    InvalidState,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            SendError::InvalidState => "send: the send side is closed or not yet open",
        })
    }
}

impl core::error::Error for SendError {}

/// `recv` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RecvError {
    /// The connection is not open for receiving.
    InvalidState,
    /// The peer sent FIN and everything before it has been read.
    Finished,
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            RecvError::InvalidState => "recv: the connection is not open for receiving",
            RecvError::Finished => "recv: the peer closed and all its data has been read",
        })
    }
}

impl core::error::Error for RecvError {}

/// An ICMP error matched to this socket by its quoted header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
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

impl fmt::Display for IcmpError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            IcmpError::HardUnreachable => f.write_str("destination unreachable (hard)"),
            IcmpError::SoftUnreachable => f.write_str("destination unreachable (soft)"),
            IcmpError::FragmentationNeeded { mtu } => {
                write!(f, "fragmentation needed (next-hop MTU {mtu})")
            }
        }
    }
}

impl core::error::Error for IcmpError {}

/// How many transitions the trace queue holds before it counts overflow.
pub const TRACE_CAPACITY: usize = 8;

/// The peer's MSS when its SYN carries none (RFC 9293 section 3.7.1).
pub const DEFAULT_MSS: usize = 536;

/// The smallest MSS ever used: a 68-byte IPv4 MTU (RFC 791) minus 40 bytes
/// of headers, the floor RFC 1191 sets for path MTU discovery.
pub const MIN_MSS: usize = 68 - 40;

/// IP and TCP header bytes without options (IPv4).
const IP_TCP_HEADER_LEN: usize = 40;

/// How long a send MSS lowered by an ICMP "fragmentation needed" message
/// stays lowered before the MSS the handshake settled is tried again:
/// RFC 1191 section 6.3 asks for at least 5 minutes and recommends 10,
/// which is also Linux's `mtu_expires`.
pub const PMTU_RAISE_INTERVAL: Duration = Duration::from_secs(600);

/// Largest window shift (RFC 7323 section 2.3).
const MAX_WINDOW_SHIFT: u8 = 14;

/// The hop limit (TTL) of every segment the socket sends.
const HOP_LIMIT: u8 = 64;

/// Bytes the timestamps option takes in a non-SYN segment, padding
/// included (RFC 7323 appendix A layout, as the wire layer emits it).
const TIMESTAMP_OPTION_LEN: usize = 12;

/// A bounded queue of state transitions, so every transition is observable
/// without an allocator: never blocks the stack; when full, new entries are
/// counted and dropped.
#[derive(Debug, Clone)]
struct TraceQueue {
    entries: [Transition; TRACE_CAPACITY],
    /// Index of the oldest entry (below `TRACE_CAPACITY`).
    head: u8,
    /// Entries held (at most `TRACE_CAPACITY`).
    len: u8,
    dropped: u32,
}

impl TraceQueue {
    const fn new() -> Self {
        TraceQueue {
            entries: [Transition {
                from: State::Closed,
                to: State::Closed,
                cause: Cause::Close,
            }; TRACE_CAPACITY],
            head: 0,
            len: 0,
            dropped: 0,
        }
    }

    fn push(&mut self, transition: Transition) {
        if usize::from(self.len) == TRACE_CAPACITY {
            self.dropped = self.dropped.saturating_add(1);
            return;
        }
        let index = (usize::from(self.head) + usize::from(self.len)) % TRACE_CAPACITY;
        self.entries[index] = transition;
        self.len += 1;
    }

    fn pop(&mut self) -> Option<Transition> {
        if self.len == 0 {
            return None;
        }
        let entry = self.entries[usize::from(self.head)];
        // TRACE_CAPACITY (8) fits a u8.
        self.head = ((usize::from(self.head) + 1) % TRACE_CAPACITY) as u8;
        self.len -= 1;
        Some(entry)
    }
}

/// The deadlines of a socket's timers; `None` means stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Timers {
    /// Retransmission of the oldest unacknowledged segment (RFC 6298).
    retransmit: Option<Instant>,
    /// The delayed ACK (RFC 9293 section 3.8.6.3).
    delayed_ack: Option<Instant>,
    /// The next zero-window probe (RFC 9293 section 3.8.6.1).
    persist: Option<Instant>,
    /// The state's own timer: TIME_WAIT's 2*MSL, the FIN_WAIT_2 timeout or
    /// the SYN_RCVD timeout (each state has at most one).
    state: Option<Instant>,
    /// RACK's reordering timer (RFC 8985 section 6.2 step 5).
    reorder: Option<Instant>,
    /// The tail loss probe's timer, PTO (RFC 8985 section 7.2).
    loss_probe: Option<Instant>,
}

/// What is needed to undo a window reduction that proves spurious
/// (RFC 3708 with D-SACK, RFC 3522 with timestamps; response RFC 4015).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct UndoState {
    /// SND.UNA when the episode (recovery or timeout) began.
    marker: SeqNumber,
    /// SND.MAX then: retransmissions of the episode lie below it.
    high: SeqNumber,
    /// Retransmitted segments of the episode.
    retransmitted: u32,
    /// Of those, how many the peer reported as duplicates (D-SACK).
    dsacked: u32,
    /// Our TSval on the episode's first retransmission, and that
    /// segment's end: Eifel's test waits for the ACK covering it.
    first_retransmission: Option<(u32, SeqNumber)>,
}

/// A RST the socket still has to send after `abort` or a give-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PendingRst {
    seq: SeqNumber,
    ack: SeqNumber,
}

/// The timestamps option's state (RFC 7323 sections 3 to 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Timestamps {
    /// Both sides sent the option in their SYNs.
    enabled: bool,
    /// TS.Recent: the peer's timestamp to echo.
    recent: u32,
    /// When `recent` was last updated (RFC 7323 5.5: PAWS gives up on a
    /// TS.Recent older than 24 days).
    recent_at: Instant,
    /// This connection's offset added to the millisecond clock (RFC 7323
    /// section 5.4), so timestamps reveal nothing across connections.
    offset: u32,
}

/// A TCP socket: one endpoint of a connection, or a listener.
///
/// Sequence variables follow RFC 9293 section 3.3.1. `snd_max` is the
/// highest sequence number sent, which ACK acceptability uses; `snd_nxt` is
/// the next one to send and moves back to `snd_una` only when the peer
/// cannot hold what was sent (its window closed, or the path MTU shrank).
/// The unacknowledged data stays in the tx buffer from `snd_una` until the
/// cumulative ACK passes it. Loss recovery works on a record of every
/// segment in flight (send time, lost, retransmitted, SACKed): RACK
/// (RFC 8985), the RFC 6675 scoreboard and, without SACK, duplicate ACKs
/// mark segments lost, and only those are resent.
///
/// # What a connection costs
/// On a 64-bit target with features `std` only (no `async`, no
/// `proto-ipv6`), `size_of::<TcpSocket>()` is 3,680 bytes, its buffers'
/// storage excluded. Most of it is loss-recovery and reassembly state held
/// inline, so that a connection needs nothing beyond its two buffers: the
/// sent-segment log (2,200 bytes: 128 records of 17 bytes, one per segment
/// in flight, which RACK, the SACK scoreboard and RTT sampling read), the
/// out-of-order assembler (260 bytes: 32 ranges of two 32-bit offsets), the congestion controller (184
/// bytes, CUBIC's state), the settings (168 bytes) and the SACK scoreboard
/// (136 bytes, 16 ranges). Feature `async` adds 32 bytes (two wakers),
/// `proto-ipv6` 32 (IPv6-sized endpoints). A connection in full, with
/// both buffers in a [`SocketSet`](crate::socket::SocketSet) slot
/// (64 bytes of bookkeeping and links on top of the socket), costs:
///
/// | rx + tx buffers | socket | slot | total |
/// | --- | --- | --- | --- |
/// | 64 KiB + 64 KiB | 3,680 B | 3,744 B | 134,816 B |
/// | 256 KiB + 256 KiB | 3,680 B | 3,744 B | 528,032 B |
///
/// plus one 8-byte bucket of the set's demultiplexing table. Every slot of
/// a set costs as much as the largest socket kind, TCP, whether or not it
/// holds one. Half-open connections and those in TIME_WAIT are compact
/// records instead (80 and 52 bytes with features `std`), without a slot
/// or buffers: a connection costs what its state needs.
#[derive(Debug)]
pub struct TcpSocket<'a> {
    config: TcpConfig,
    state: State,
    /// Forked from a listener for one connection (the interface frees it
    /// when it falls back to LISTEN).
    listener_child: bool,
    /// SYN_RCVD was reached from LISTEN (passive open), not from SYN_SENT.
    passive_open: bool,
    listen_endpoint: IpListenEndpoint,
    local_endpoint: Option<IpEndpoint>,
    remote_endpoint: Option<IpEndpoint>,
    rx_buffer: SocketBuffer<'a>,
    tx_buffer: SocketBuffer<'a>,
    /// Out-of-order data written past `rcv_nxt` into the rx buffer's free
    /// space, by offset from `rcv_nxt`.
    assembler: Assembler,
    /// The SACK and D-SACK blocks our ACKs report (RFC 2018, RFC 2883).
    sack_report: SackReport,
    /// ECN agreement and signals (RFC 3168 section 6.1).
    ecn: EcnState,
    error: Option<TcpError>,
    soft_error: Option<TcpError>,
    trace: TraceQueue,
    /// State transitions so far (wrapping): the socket set re-derives the
    /// socket's demultiplexing key only when this moved, since endpoints
    /// change only together with the state.
    state_changes: u32,
    isn_override: Option<SeqNumber>,

    // Send sequence space.
    iss: SeqNumber,
    snd_una: SeqNumber,
    snd_nxt: SeqNumber,
    snd_max: SeqNumber,
    /// SND.WND in bytes, already scaled.
    snd_wnd: usize,
    /// MAX.SND.WND (RFC 5961 section 5.2): the largest window the peer
    /// ever offered.
    max_snd_wnd: usize,
    snd_wl1: SeqNumber,
    snd_wl2: SeqNumber,
    /// Sequence number of the tx buffer's first byte.
    tx_seq: SeqNumber,
    /// The user closed the send side: a FIN follows the queued data.
    fin_queued: bool,
    /// The user closed both sides (`close`, not `shutdown`): FIN_WAIT_2
    /// may time out.
    rx_closed_by_user: bool,

    // Receive sequence space.
    irs: SeqNumber,
    rcv_nxt: SeqNumber,
    /// The right edge of the window last advertised (RCV.NXT + RCV.WND as
    /// the peer knows it); never moves left (RFC 9293 section 3.8.6.2.2).
    rcv_adv: SeqNumber,
    /// A FIN that arrived before the data ahead of it, by its sequence
    /// number.
    rcv_fin: Option<SeqNumber>,
    /// The peer's FIN has been taken (RCV.NXT counts it).
    fin_received: bool,
    /// Bytes received in order and not yet acknowledged.
    rcv_unacked: usize,
    /// An ACK must go out at once.
    ack_now: bool,
    /// In-order data waits for an ACK from the next dispatch (coalesced:
    /// see [`Context::coalesce_acks`]).
    ack_due: bool,
    /// Quick-ACK segments left (see [`TcpConfig::quick_acks`]).
    quick_acks_left: u8,
    /// When in-order data last arrived (quick-ACK after idle).
    last_data_rx: Instant,
    /// The end of the last segment shorter than the MSS we sent (Minshall's
    /// Nagle: the next short one waits until SND.UNA passes it).
    snd_short_end: SeqNumber,

    // Options.
    /// Effective send MSS: the peer's MSS, our MTU, and path MTU discovery.
    snd_mss: usize,
    /// The send MSS the handshake settled (the peer's MSS and our MTU),
    /// which path MTU discovery raises `snd_mss` back to (RFC 1191 6.3).
    mss_ceiling: u16,
    /// When a path MTU lowered by ICMP is next tried at `mss_ceiling`.
    pmtu_raise_at: Option<Instant>,
    /// The MSS we offered.
    rcv_mss: usize,
    snd_wscale: u8,
    rcv_wscale: u8,
    /// Our window shift as offered in our SYN (used if the peer agrees).
    rcv_wscale_offer: Option<u8>,
    timestamps: Timestamps,
    /// RCV.NXT as last sent in an ACK (Last.ACK.sent, RFC 7323 4.3).
    last_ack_sent: SeqNumber,
    /// SACK was negotiated: both SYNs carried SACK-permitted (RFC 2018
    /// section 2) and our config allows it.
    peer_sack_permitted: bool,

    // Retransmission and timers.
    rtt: RttEstimator,
    /// The sequence number whose ACK ends the RTT measurement in flight,
    /// and when it was sent (used without timestamps; Karn's rule clears it).
    rtt_probe: Option<(SeqNumber, Instant)>,
    /// Consecutive retransmission timeouts without progress.
    retransmits: u32,
    /// Our SYN or SYN-ACK went out more than once (no RTT sample from the
    /// handshake then).
    syn_retransmitted: bool,
    /// Our timestamp clock when the retransmission timer last fired, while
    /// data sent before it may still be acknowledged: an ACK echoing an
    /// older TSval gives no RTT sample (see `on_new_ack`).
    timeout_tsval: Option<u32>,
    timers: Timers,
    /// Zero-window probes sent since the peer last answered.
    persist_probes: u32,
    /// The persist timer fired: a probe is due.
    persist_probe_due: bool,
    /// Probes sent since the window closed (the persist backoff).
    persist_shift: u32,
    /// Keep-alive probes sent since the peer was last heard.
    keepalive_probes: u32,
    keepalive_due: bool,
    /// Since when data has waited for an acknowledgment or a window
    /// (RFC 5482's user timeout runs from here).
    stalled_since: Option<Instant>,
    /// When the last acceptable segment arrived (keep-alive idle time).
    last_rx: Instant,
    /// When the last segment was sent (RFC 5681 4.1 idle restart).
    last_tx: Option<Instant>,

    // Congestion control and loss recovery (RFC 5681, RFC 6582, RFC 6675,
    // RFC 6937, RFC 8985).
    cc: Congestion,
    dup_acks: u32,
    /// In fast recovery (RFC 6675 / RFC 6582).
    in_recovery: bool,
    /// Recovering from a retransmission timeout, until SND.UNA passes
    /// `recover` (Linux's Loss state): no fast recovery starts meanwhile.
    in_rto_recovery: bool,
    /// RecoveryPoint (RFC 6675) / NewReno's `recover`: SND.MAX when the
    /// recovery or timeout began.
    recover: SeqNumber,
    /// What the peer holds above SND.UNA (RFC 2018).
    sacked: scoreboard::SackRanges,
    /// Every segment in flight, with its send time and marks.
    sent_log: scoreboard::SentLog,
    /// RACK-TLP's state (RFC 8985).
    rack: rack::Rack,
    /// PRR's state during fast recovery (RFC 6937).
    prr: prr::Prr,
    /// Without SACK: bytes the duplicate ACKs of this recovery stand for
    /// (one SMSS each, RFC 6937 section 3), so pipe shrinks as they arrive.
    dup_ack_bytes: usize,
    /// The loss probe's timer fired: a probe is due.
    loss_probe_due: bool,
    /// Undo information of the last loss episode, while it can be undone.
    undo: Option<UndoState>,

    pending_rst: Option<PendingRst>,
    challenge_window_start: Option<Instant>,
    challenge_count: u32,
    /// When an ACK last answered an unacceptable dataless segment
    /// (`invalid_ack_interval`).
    last_invalid_ack: Option<Instant>,
    /// FIN_WAIT_2's hard deadline after a full close (`fin_wait_2_limit`).
    fin_wait_2_limit_at: Option<Instant>,
    /// The tasks waiting to receive and to send (feature `async`).
    #[cfg(feature = "async")]
    wakers: waker::SocketWakers,
}

impl<'a> TcpSocket<'a> {
    /// A CLOSED socket with the given receive and transmit buffers.
    pub fn new(rx_buffer: SocketBuffer<'a>, tx_buffer: SocketBuffer<'a>) -> Self {
        let config = TcpConfig::default();
        TcpSocket {
            config,
            state: State::Closed,
            listener_child: false,
            passive_open: false,
            listen_endpoint: IpListenEndpoint::default(),
            local_endpoint: None,
            remote_endpoint: None,
            rx_buffer,
            tx_buffer,
            assembler: Assembler::new(config.max_ooo_holes),
            sack_report: SackReport::default(),
            ecn: EcnState::default(),
            error: None,
            soft_error: None,
            trace: TraceQueue::new(),
            state_changes: 0,
            isn_override: None,
            iss: SeqNumber(0),
            snd_una: SeqNumber(0),
            snd_nxt: SeqNumber(0),
            snd_max: SeqNumber(0),
            snd_wnd: 0,
            max_snd_wnd: 0,
            snd_wl1: SeqNumber(0),
            snd_wl2: SeqNumber(0),
            tx_seq: SeqNumber(0),
            fin_queued: false,
            rx_closed_by_user: false,
            irs: SeqNumber(0),
            rcv_nxt: SeqNumber(0),
            rcv_adv: SeqNumber(0),
            rcv_fin: None,
            fin_received: false,
            rcv_unacked: 0,
            ack_now: false,
            ack_due: false,
            quick_acks_left: 0,
            last_data_rx: Instant::ZERO,
            snd_short_end: SeqNumber(0),
            snd_mss: DEFAULT_MSS,
            mss_ceiling: DEFAULT_MSS as u16,
            pmtu_raise_at: None,
            rcv_mss: DEFAULT_MSS,
            snd_wscale: 0,
            rcv_wscale: 0,
            rcv_wscale_offer: None,
            timestamps: Timestamps::default(),
            last_ack_sent: SeqNumber(0),
            peer_sack_permitted: false,
            rtt: RttEstimator::new(config.initial_rto, config.min_rto, config.max_rto),
            rtt_probe: None,
            retransmits: 0,
            syn_retransmitted: false,
            timeout_tsval: None,
            timers: Timers::default(),
            persist_probes: 0,
            persist_probe_due: false,
            persist_shift: 0,
            keepalive_probes: 0,
            keepalive_due: false,
            stalled_since: None,
            last_rx: Instant::ZERO,
            last_tx: None,
            cc: Congestion::new(config.congestion, DEFAULT_MSS),
            dup_acks: 0,
            in_recovery: false,
            in_rto_recovery: false,
            recover: SeqNumber(0),
            sacked: scoreboard::SackRanges::new(),
            sent_log: scoreboard::SentLog::new(SeqNumber(0)),
            rack: rack::Rack::new(),
            prr: prr::Prr::start(0),
            dup_ack_bytes: 0,
            loss_probe_due: false,
            undo: None,
            pending_rst: None,
            challenge_window_start: None,
            challenge_count: 0,
            last_invalid_ack: None,
            fin_wait_2_limit_at: None,
            #[cfg(feature = "async")]
            wakers: waker::SocketWakers::new(),
        }
    }

    /// The socket's settings.
    pub fn config(&self) -> &TcpConfig {
        &self.config
    }

    /// Replaces the settings (takes effect for later events; RTO bounds,
    /// the congestion algorithm and the assembler's hole limit apply from
    /// the next connection: see
    /// [`set_congestion_algorithm`](TcpSocket::set_congestion_algorithm)
    /// to switch algorithms now).
    pub fn set_config(&mut self, config: TcpConfig) {
        self.config = config;
    }

    /// Chooses the congestion control algorithm, for this connection at
    /// once and for later ones. A connection that has sent data keeps its
    /// cwnd and ssthresh, and the new algorithm goes on from them (as
    /// Linux's `TCP_CONGESTION` does).
    pub fn set_congestion_algorithm(&mut self, algorithm: CongestionAlgorithm) {
        self.config.congestion = algorithm;
        self.cc.switch_to(algorithm);
    }

    /// The congestion control algorithm in use.
    pub fn congestion_algorithm(&self) -> CongestionAlgorithm {
        self.cc.algorithm()
    }

    /// Turns Nagle's algorithm on or off (RFC 9293 section 3.7.4).
    pub fn set_nagle_enabled(&mut self, enabled: bool) {
        self.config.nagle = enabled;
    }

    /// Whether Nagle's algorithm is on.
    pub fn nagle_enabled(&self) -> bool {
        self.config.nagle
    }

    /// Sets the delayed-ACK timeout (`None`: ACK at once). Values of
    /// 500 ms or more are clamped below 500 ms (RFC 9293 section 3.8.6.3).
    pub fn set_ack_delay(&mut self, delay: Option<Duration>) {
        let limit = Duration::from_millis(499);
        self.config.ack_delay = delay.map(|d| if d > limit { limit } else { d });
    }

    /// Sets the keep-alive idle time (`None` turns keep-alive off).
    pub fn set_keepalive(&mut self, idle: Option<Duration>) {
        self.config.keepalive_idle = idle;
    }

    /// Sets the user timeout (RFC 5482): abort when data stays
    /// unacknowledged this long.
    pub fn set_user_timeout(&mut self, timeout: Option<Duration>) {
        self.config.user_timeout = timeout;
    }

    /// Replaces both buffers; only while CLOSED (returns `false` otherwise,
    /// changing nothing). Lets a caller size the buffers before `listen` or
    /// `connect` (the advertised window and window scale derive from the rx
    /// buffer's capacity).
    pub fn set_buffers(
        &mut self,
        rx_buffer: SocketBuffer<'a>,
        tx_buffer: SocketBuffer<'a>,
    ) -> bool {
        if self.state != State::Closed || self.pending_rst.is_some() {
            return false;
        }
        self.rx_buffer = rx_buffer;
        self.tx_buffer = tx_buffer;
        true
    }

    /// Forces the initial sequence number of the next connection (tests,
    /// script runners). Without it the ISN comes from the context's
    /// [`IsnGenerator`] (RFC 9293 section 3.4.1).
    #[doc(hidden)]
    pub fn set_next_isn(&mut self, isn: SeqNumber) {
        self.isn_override = Some(isn);
    }

    /// CLOSED -> LISTEN (passive open, RFC 9293 section 3.10.1).
    ///
    /// One listening socket accepts many connections: the interface forks a
    /// child per SYN with [`TcpSocket::fork_listener_child`] and keeps the
    /// accept queue; a listening socket given a SYN directly handles that
    /// one connection itself.
    pub fn listen<T: Into<IpListenEndpoint>>(&mut self, local: T) -> Result<(), ListenError> {
        let local = local.into();
        if local.port == 0 {
            return Err(ListenError::Unaddressable);
        }
        if self.state != State::Closed {
            return Err(ListenError::InvalidState);
        }
        self.reset_connection();
        // Unread data of an earlier connection must not look like this one's.
        self.rx_buffer.clear();
        self.error = None;
        self.soft_error = None;
        self.listen_endpoint = local;
        self.set_state(State::Listen, Cause::Listen);
        Ok(())
    }

    /// CLOSED -> SYN_SENT (active open, RFC 9293 section 3.10.1); the SYN
    /// goes out on the next dispatch.
    pub fn connect(
        &mut self,
        cx: &mut Context,
        remote: IpEndpoint,
        local: IpEndpoint,
    ) -> Result<(), ConnectError> {
        if remote.port == 0
            || local.port == 0
            || !remote.addr.is_unicast()
            || local.addr.is_unspecified()
        {
            return Err(ConnectError::Unaddressable);
        }
        if self.state != State::Closed {
            return Err(ConnectError::InvalidState);
        }
        self.reset_connection();
        // Unread data of an earlier connection must not look like this one's.
        self.rx_buffer.clear();
        self.error = None;
        self.soft_error = None;
        self.local_endpoint = Some(local);
        self.remote_endpoint = Some(remote);
        self.listen_endpoint = IpListenEndpoint::default();
        self.passive_open = false;
        self.choose_isn(cx, local, remote);
        self.rcv_mss = mss_for_mtu(cx.ip_mtu);
        self.snd_mss = DEFAULT_MSS.min(self.rcv_mss);
        self.rcv_wscale_offer = self
            .config
            .window_scaling
            .then(|| window_shift_for(self.rx_buffer.capacity()));
        self.last_rx = cx.now;
        self.set_state(State::SynSent, Cause::Connect);
        Ok(())
    }

    /// A new socket in LISTEN with this listener's settings and endpoint,
    /// marked as a listener's child: the interface processes the SYN on it.
    /// The child's trace starts empty; its first entry is
    /// `LISTEN -> SYN_RCVD (rcv SYN)`.
    pub fn fork_listener_child<'b>(
        &self,
        rx_buffer: SocketBuffer<'b>,
        tx_buffer: SocketBuffer<'b>,
    ) -> TcpSocket<'b> {
        let mut child = TcpSocket::new(rx_buffer, tx_buffer);
        child.config = self.config;
        child.reset_connection();
        child.listen_endpoint = self.listen_endpoint;
        child.listener_child = true;
        child.state = State::Listen;
        child
    }

    /// Whether this socket was forked from a listener for one connection.
    pub fn is_listener_child(&self) -> bool {
        self.listener_child
    }

    /// Queues data for sending (RFC 9293 section 3.10.2): `f` fills the
    /// largest contiguous free part of the tx buffer and returns how much
    /// it wrote. Allowed in SYN_SENT and SYN_RCVD (sent once ESTABLISHED),
    /// ESTABLISHED and CLOSE_WAIT, until `close` or `shutdown`.
    pub fn send<F, R>(&mut self, f: F) -> Result<R, SendError>
    where
        F: FnOnce(&mut [u8]) -> (usize, R),
    {
        if !self.send_open() {
            return Err(SendError::InvalidState);
        }
        let (_, result) = self.tx_buffer.enqueue_many_with(f);
        Ok(result)
    }

    /// Queues as much of `data` as fits; returns how much that was.
    pub fn send_slice(&mut self, data: &[u8]) -> Result<usize, SendError> {
        if !self.send_open() {
            return Err(SendError::InvalidState);
        }
        Ok(self.tx_buffer.enqueue_slice(data))
    }

    /// Takes received data (RFC 9293 section 3.10.3): `f` gets the largest
    /// contiguous run of unread data and returns how much it consumed.
    ///
    /// Buffered data stays readable in every state. With none left it is
    /// `Err(Finished)` after the peer's FIN, `Ok` with an empty slice while
    /// data may still arrive, and `Err(InvalidState)` otherwise.
    pub fn recv<F, R>(&mut self, f: F) -> Result<R, RecvError>
    where
        F: FnOnce(&mut [u8]) -> (usize, R),
    {
        self.recv_allowed()?;
        let (_, result) = self.rx_buffer.dequeue_many_with(f);
        Ok(result)
    }

    /// Moves as much received data as fits into `data`; returns how much.
    pub fn recv_slice(&mut self, data: &mut [u8]) -> Result<usize, RecvError> {
        self.recv_allowed()?;
        Ok(self.rx_buffer.dequeue_slice(data))
    }

    /// Up to `size` bytes of unread data (one contiguous run), left in the
    /// buffer.
    pub fn peek(&self, size: usize) -> Result<&[u8], RecvError> {
        self.recv_allowed()?;
        Ok(self.rx_buffer.get_allocated(0, size))
    }

    /// Copies unread data into `data` without consuming it; returns how much.
    pub fn peek_slice(&self, data: &mut [u8]) -> Result<usize, RecvError> {
        self.recv_allowed()?;
        Ok(self.rx_buffer.read_allocated(0, data))
    }

    fn recv_allowed(&self) -> Result<(), RecvError> {
        if !self.rx_buffer.is_empty() {
            return Ok(());
        }
        if self.fin_received {
            return Err(RecvError::Finished);
        }
        match self.state {
            State::SynSent
            | State::SynRcvd
            | State::Established
            | State::FinWait1
            | State::FinWait2 => Ok(()),
            _ => Err(RecvError::InvalidState),
        }
    }

    /// Graceful close of both directions (RFC 9293 section 3.10.4): LISTEN
    /// and SYN_SENT go to CLOSED; SYN_RCVD and ESTABLISHED to FIN_WAIT_1 and
    /// CLOSE_WAIT to LAST_ACK, with a FIN after the queued data. SYN_SENT
    /// and SYN_RCVD with data queued keep connecting: the data and then the
    /// FIN go out once the handshake completes (RFC 9293 lets a close in SYN_SENT
    /// discard queued sends; "send, then close" would lose them). Because
    /// the application will read no more, FIN_WAIT_2 then times out after
    /// `fin_wait_2_timeout`.
    pub fn close(&mut self) {
        self.rx_closed_by_user = true;
        self.close_send_side(Cause::Close);
    }

    /// Half-close: closes only the send side, like [`TcpSocket::close`] but
    /// FIN_WAIT_2 keeps waiting for the peer's FIN (as lwIP does).
    pub fn shutdown(&mut self) {
        self.close_send_side(Cause::Shutdown);
    }

    fn close_send_side(&mut self, cause: Cause) {
        match self.state {
            State::SynSent | State::SynRcvd if !self.tx_buffer.is_empty() => {
                // The FIN follows the queued data after the handshake
                // (see `close`; RFC 9293 3.10.4 for SYN_RCVD: "queue for
                // processing after entering ESTABLISHED state"), so no data
                // goes out before our SYN is acknowledged;
                // `close_after_handshake` makes the move.
                self.fin_queued = true;
            }
            State::Listen | State::SynSent => {
                self.set_state(State::Closed, cause);
                self.reset_connection();
            }
            State::SynRcvd | State::Established => {
                self.fin_queued = true;
                // SYN_RCVD's timeout belongs to SYN_RCVD; the SYN-ACK's
                // retransmission limit still bounds a dead peer.
                self.timers.state = None;
                self.set_state(State::FinWait1, cause);
            }
            State::CloseWait => {
                self.fin_queued = true;
                self.set_state(State::LastAck, cause);
            }
            State::Closed
            | State::FinWait1
            | State::FinWait2
            | State::Closing
            | State::LastAck
            | State::TimeWait => {}
        }
    }

    /// A close or shutdown in SYN_SENT with data queued set `fin_queued`
    /// and left the state alone: now that the handshake has moved the
    /// connection on, it takes the state that close would have taken.
    pub(super) fn close_after_handshake(&mut self) {
        if !self.fin_queued {
            return;
        }
        let cause = if self.rx_closed_by_user {
            Cause::Close
        } else {
            Cause::Shutdown
        };
        match self.state {
            State::Established => self.set_state(State::FinWait1, cause),
            State::CloseWait => self.set_state(State::LastAck, cause),
            State::SynRcvd if self.tx_buffer.is_empty() => {
                self.timers.state = None;
                self.set_state(State::FinWait1, cause);
            }
            _ => {}
        }
    }

    /// Aborts the connection (RFC 9293 section 3.10.5): in SYN_RCVD,
    /// ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2 and CLOSE_WAIT a RST goes out on
    /// the next dispatch; every state goes to CLOSED and the queues are
    /// flushed.
    pub fn abort(&mut self) {
        self.abort_with(Cause::Abort);
    }

    /// [`abort`](Self::abort), with the cause the trace shows.
    pub(crate) fn abort_with(&mut self, cause: Cause) {
        if matches!(
            self.state,
            State::SynRcvd
                | State::Established
                | State::FinWait1
                | State::FinWait2
                | State::CloseWait
        ) {
            self.pending_rst = Some(PendingRst {
                seq: self.ack_seq(),
                ack: self.rcv_nxt,
            });
        }
        if self.state != State::Closed {
            self.set_state(State::Closed, cause);
        }
        self.rx_buffer.clear();
        self.reset_connection_keep_endpoints();
    }

    /// Ends the connection because its local address left the interface:
    /// CLOSED with [`TcpError::AddressRemoved`], queues flushed, and no
    /// RST (a host sends only from addresses it has, RFC 1122 section
    /// 3.2.1.3; the address may already be another host's).
    pub(crate) fn abort_address_removed(&mut self) {
        self.pending_rst = None;
        self.drop_connection(Some(TcpError::AddressRemoved), Cause::AddressRemoved);
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// How many state transitions the socket has made (wrapping). Its
    /// endpoints change only together with its state (`connect` and
    /// `listen` from CLOSED, a passive open from LISTEN, a reset to CLOSED
    /// or back to LISTEN), so a socket whose count has not moved still has
    /// the demultiplexing key it had.
    pub(crate) fn state_changes(&self) -> u32 {
        self.state_changes
    }

    /// The oldest unread state transition.
    pub fn pop_transition(&mut self) -> Option<Transition> {
        self.trace.pop()
    }

    /// Transitions lost because the trace queue was full.
    pub fn transitions_dropped(&self) -> u32 {
        self.trace.dropped
    }

    /// Why the connection failed, if it did (refused, reset, timed out,
    /// unreachable); cleared by the next `listen` or `connect`.
    pub fn error(&self) -> Option<TcpError> {
        self.error
    }

    /// The last soft error (an ICMP error that did not end the connection,
    /// RFC 1122 section 4.2.3.9).
    pub fn soft_error(&self) -> Option<TcpError> {
        self.soft_error
    }

    /// Whether the socket is in use (not CLOSED).
    pub fn is_open(&self) -> bool {
        self.state != State::Closed
    }

    /// Whether the socket is LISTEN.
    pub fn is_listening(&self) -> bool {
        self.state == State::Listen
    }

    /// Whether a connection exists or is being made (neither CLOSED,
    /// LISTEN nor TIME_WAIT).
    pub fn is_active(&self) -> bool {
        !matches!(self.state, State::Closed | State::Listen | State::TimeWait)
    }

    /// Whether the connection is established with its send side open
    /// (ESTABLISHED or CLOSE_WAIT, before `close` or `shutdown`), as
    /// smoltcp's `may_send`: false during the handshake, so "if may_send,
    /// send, then close" waits for the connection. [`send`](Self::send)
    /// itself also accepts data in SYN_SENT and SYN_RCVD and queues it
    /// until the handshake completes (RFC 9293 section 3.10.2).
    pub fn may_send(&self) -> bool {
        matches!(self.state, State::Established | State::CloseWait) && !self.fin_queued
    }

    /// Whether `send` accepts data: the send side is open or about to be
    /// (SYN_SENT and SYN_RCVD queue it for after the handshake).
    fn send_open(&self) -> bool {
        self.may_send()
            || (matches!(self.state, State::SynSent | State::SynRcvd) && !self.fin_queued)
    }

    /// Whether data may still arrive or be read.
    pub fn may_recv(&self) -> bool {
        !self.rx_buffer.is_empty()
            || (!self.fin_received
                && matches!(
                    self.state,
                    State::SynSent
                        | State::SynRcvd
                        | State::Established
                        | State::FinWait1
                        | State::FinWait2
                ))
    }

    /// Whether the connection is established and `send` would queue at
    /// least one byte now (smoltcp's `can_send`).
    pub fn can_send(&self) -> bool {
        self.may_send() && !self.tx_buffer.is_full()
    }

    /// Whether `recv` would return at least one byte now.
    pub fn can_recv(&self) -> bool {
        !self.rx_buffer.is_empty()
    }

    /// Bytes queued for sending and not yet acknowledged.
    pub fn send_queue(&self) -> usize {
        self.tx_buffer.len()
    }

    /// Bytes received and not yet read.
    pub fn recv_queue(&self) -> usize {
        self.rx_buffer.len()
    }

    /// The tx buffer's capacity.
    pub fn send_capacity(&self) -> usize {
        self.tx_buffer.capacity()
    }

    /// The rx buffer's capacity.
    pub fn recv_capacity(&self) -> usize {
        self.rx_buffer.capacity()
    }

    /// The local endpoint of the connection, once there is one.
    pub fn local_endpoint(&self) -> Option<IpEndpoint> {
        self.local_endpoint
    }

    /// The remote endpoint of the connection, once there is one.
    pub fn remote_endpoint(&self) -> Option<IpEndpoint> {
        self.remote_endpoint
    }

    /// The endpoint `listen` was given (port 0 if none).
    pub fn listen_endpoint(&self) -> IpListenEndpoint {
        self.listen_endpoint
    }

    /// The effective send MSS (peer's MSS, MTU and path MTU applied).
    pub fn send_mss(&self) -> usize {
        self.snd_mss
    }

    /// The current retransmission timeout.
    pub fn rto(&self) -> Duration {
        self.rtt.rto()
    }

    /// The congestion window in bytes.
    pub fn congestion_window(&self) -> usize {
        self.cc.window()
    }

    /// The peer's window in bytes (scaled).
    pub fn send_window(&self) -> usize {
        self.snd_wnd
    }

    /// The sequence variables, for fuzzing and tests.
    #[doc(hidden)]
    pub fn debug_sequence(&self) -> DebugSequence {
        DebugSequence {
            iss: self.iss,
            irs: self.irs,
            snd_una: self.snd_una,
            snd_nxt: self.snd_nxt,
            snd_max: self.snd_max,
            rcv_nxt: self.rcv_nxt,
        }
    }

    /// Checks the socket's internal invariants (fuzzing, tests): the send
    /// sequence variables are ordered, the tx buffer covers the unsent and
    /// unacknowledged data, and the receive side's buffers agree.
    #[doc(hidden)]
    pub fn debug_invariants(&self) -> Result<(), &'static str> {
        if matches!(self.state, State::Closed | State::Listen) {
            return Ok(());
        }
        if self.snd_una > self.snd_nxt {
            return Err("SND.UNA > SND.NXT");
        }
        if self.snd_nxt > self.snd_max {
            return Err("SND.NXT > SND.MAX");
        }
        let data_end = self.tx_seq + self.tx_buffer.len();
        let seq_end = data_end + usize::from(self.fin_queued);
        if self.snd_max > seq_end {
            return Err("SND.MAX past the data and FIN");
        }
        if self.tx_seq < self.snd_una && self.tx_seq + 1 != self.snd_una {
            // Only an acknowledged FIN may put SND.UNA one past the data.
            return Err("tx buffer starts before SND.UNA");
        }
        if self.snd_una != self.iss && self.tx_seq > self.snd_una {
            return Err("tx buffer starts after SND.UNA");
        }
        if self.state.is_synchronized() && self.rcv_adv < self.rcv_nxt {
            return Err("advertised edge left of RCV.NXT");
        }
        if self.snd_una != self.iss {
            // The segment log covers exactly what is in flight.
            let log_start = self
                .sent_log
                .get(0)
                .map_or(self.sent_log.end(), |s| s.start);
            if log_start != self.snd_una {
                return Err("segment log does not start at SND.UNA");
            }
            if self.sent_log.end() != self.snd_max {
                return Err("segment log does not end at SND.MAX");
            }
            if self
                .sacked
                .iter()
                .any(|(l, r)| l < self.snd_una || r > self.snd_max)
            {
                return Err("SACKed range outside [SND.UNA, SND.MAX)");
            }
        }
        Ok(())
    }

    /// Records a state change in the trace and the log.
    fn set_state(&mut self, to: State, cause: Cause) {
        let from = self.state;
        if from == to {
            return;
        }
        self.state = to;
        self.state_changes = self.state_changes.wrapping_add(1);
        let transition = Transition { from, to, cause };
        net_debug!("{}: {}", SocketName(self), transition);
        self.trace.push(transition);
        // Every transition may be what a task waits for (ESTABLISHED, the
        // peer's FIN, RST, an error, the end of a close).
        self.wake_both();
    }

    /// Chooses the ISN for a new connection and sets up the send sequence
    /// space around it; also the timestamp offset (RFC 7323 5.4).
    fn choose_isn(&mut self, cx: &Context, local: IpEndpoint, remote: IpEndpoint) {
        let iss = self
            .isn_override
            .take()
            .unwrap_or_else(|| cx.isn.isn(cx.now, local, remote));
        self.iss = iss;
        self.snd_una = iss;
        self.snd_nxt = iss;
        self.snd_max = iss;
        self.tx_seq = iss + 1;
        self.recover = iss;
        self.sent_log.reset(iss + 1);
        // A keyed hash of the reversed 4-tuple with no clock term: fixed for
        // the connection, unpredictable, and unrelated to the ISN.
        self.timestamps.offset = cx.isn.isn(Instant::ZERO, remote, local).raw();
    }

    /// Forgets the connection entirely (endpoints included), keeping the
    /// settings, the listen endpoint, the trace and the last error.
    fn reset_connection(&mut self) {
        self.reset_connection_keep_endpoints();
        self.pending_rst = None;
        self.local_endpoint = None;
        self.remote_endpoint = None;
    }

    /// Forgets the connection's sequence space, buffers' contents (the rx
    /// buffer only if nothing is readable) and timers; the endpoints stay
    /// so a pending RST can still be addressed and the user can see whom
    /// the connection was with.
    fn reset_connection_keep_endpoints(&mut self) {
        let config = self.config;
        self.tx_buffer.clear();
        self.assembler = Assembler::new(config.max_ooo_holes);
        self.sack_report.clear();
        self.ecn = EcnState::default();
        self.fin_queued = false;
        self.rx_closed_by_user = false;
        self.rcv_fin = None;
        self.fin_received = false;
        self.rcv_unacked = 0;
        self.ack_now = false;
        self.ack_due = false;
        self.quick_acks_left = 0;
        self.snd_wnd = 0;
        self.max_snd_wnd = 0;
        self.snd_wscale = 0;
        self.rcv_wscale = 0;
        self.rcv_wscale_offer = None;
        self.timestamps = Timestamps::default();
        self.peer_sack_permitted = false;
        self.rtt = RttEstimator::new(config.initial_rto, config.min_rto, config.max_rto);
        self.rtt_probe = None;
        self.retransmits = 0;
        self.syn_retransmitted = false;
        self.timeout_tsval = None;
        self.timers = Timers::default();
        self.persist_probes = 0;
        self.persist_probe_due = false;
        self.persist_shift = 0;
        self.keepalive_probes = 0;
        self.keepalive_due = false;
        self.stalled_since = None;
        self.last_tx = None;
        self.cc = Congestion::new(config.congestion, DEFAULT_MSS);
        self.dup_acks = 0;
        self.in_recovery = false;
        self.in_rto_recovery = false;
        self.sacked.clear();
        self.sent_log.reset(self.iss + 1);
        self.rack = rack::Rack::new();
        self.prr = prr::Prr::start(0);
        self.dup_ack_bytes = 0;
        self.loss_probe_due = false;
        self.undo = None;
        self.challenge_window_start = None;
        self.challenge_count = 0;
        self.last_invalid_ack = None;
        self.fin_wait_2_limit_at = None;
        self.snd_mss = DEFAULT_MSS;
        self.mss_ceiling = DEFAULT_MSS as u16;
        self.pmtu_raise_at = None;
    }

    /// Drops the connection after a RST, a give-up or a hard error: state
    /// CLOSED with `error`, queues flushed (RFC 9293 section 3.10.7.4).
    fn drop_connection(&mut self, error: Option<TcpError>, cause: Cause) {
        if error.is_some() {
            self.error = error;
        }
        self.set_state(State::Closed, cause);
        self.rx_buffer.clear();
        self.reset_connection_keep_endpoints();
    }

    /// A passive open that failed (RST, timeout, hard error) goes back to
    /// LISTEN (RFC 9293 section 3.10.7.4, SYN-RECEIVED).
    fn return_to_listen(&mut self, cause: Cause) {
        self.set_state(State::Listen, cause);
        self.rx_buffer.clear();
        self.reset_connection();
    }

    /// The end of the data queued for sending (the FIN's sequence number
    /// once one is queued).
    fn data_end(&self) -> SeqNumber {
        self.tx_seq + self.tx_buffer.len()
    }

    /// The IP header of a segment this socket sends (not ECN-capable;
    /// `dispatch` marks new data).
    fn ip_repr(&self, tcp_len: usize) -> Option<IpRepr> {
        let local = self.local_endpoint?;
        let remote = self.remote_endpoint?;
        Some(IpRepr {
            src_addr: local.addr,
            dst_addr: remote.addr,
            next_header: IpProtocol::Tcp,
            payload_len: tcp_len,
            hop_limit: HOP_LIMIT,
            ecn: crate::wire::IpEcn::NotEct,
        })
    }

    /// The millisecond timestamp clock of this connection (RFC 7323 5.4).
    fn ts_clock(&self, now: Instant) -> u32 {
        // Truncation to 32 bits is the clock's natural wrap.
        (now.total_millis() as u32).wrapping_add(self.timestamps.offset)
    }
}

/// A snapshot of a socket's sequence variables (RFC 9293 section 3.3.1).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DebugSequence {
    /// Our initial sequence number.
    pub iss: SeqNumber,
    /// The peer's initial sequence number.
    pub irs: SeqNumber,
    /// SND.UNA.
    pub snd_una: SeqNumber,
    /// SND.NXT.
    pub snd_nxt: SeqNumber,
    /// The highest sequence number sent.
    pub snd_max: SeqNumber,
    /// RCV.NXT.
    pub rcv_nxt: SeqNumber,
}

/// Formats a socket as `local -> remote` for log lines.
struct SocketName<'s, 'a>(&'s TcpSocket<'a>);

impl fmt::Display for SocketName<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match (self.0.local_endpoint, self.0.remote_endpoint) {
            (Some(local), Some(remote)) => write!(f, "tcp {local} -> {remote}"),
            _ => write!(f, "tcp {}", self.0.listen_endpoint),
        }
    }
}

/// The MSS to offer for an IP MTU (RFC 9293 section 3.7.1: MTU minus the
/// fixed IP and TCP headers), within `[MIN_MSS, 65535]`.
fn mss_for_mtu(ip_mtu: usize) -> usize {
    ip_mtu
        .saturating_sub(IP_TCP_HEADER_LEN)
        .clamp(MIN_MSS, 65535)
}

/// The smallest window shift that lets a 16-bit field describe a buffer of
/// `capacity` bytes, at most 14 (RFC 7323 section 2.3).
fn window_shift_for(capacity: usize) -> u8 {
    let mut shift = 0;
    while shift < MAX_WINDOW_SHIFT && (capacity >> shift) > 65535 {
        shift += 1;
    }
    shift
}

/// The TCP header length `repr` is emitted with (the wire layer's option
/// layout), so `IpRepr::payload_len` matches what goes out.
fn tcp_header_len(repr: &TcpRepr) -> usize {
    repr.header_len()
}

/// The RST for a segment that matches no connection (RFC 9293 section
/// 3.10.7.1): `<SEQ=SEG.ACK><CTL=RST>` if the segment has ACK, else
/// `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>`; never a RST for a RST.
pub fn rst_for_unmatched(ip_repr: &IpRepr, repr: &TcpRepr) -> Option<(IpRepr, TcpRepr<'static>)> {
    if repr.rst() {
        return None;
    }
    let mut reply = TcpRepr {
        src_port: repr.dst_port,
        dst_port: repr.src_port,
        flags: TcpFlags::RST,
        ..TcpRepr::default()
    };
    match repr.ack() {
        Some(ack) => reply.seq_number = ack,
        None => {
            reply.seq_number = SeqNumber(0);
            reply.set_ack(Some(repr.seq_number + repr.segment_len()));
        }
    }
    let ip = ip_repr.reply(IpProtocol::Tcp, tcp_header_len(&reply), HOP_LIMIT);
    Some((ip, reply))
}

/// Whether `addr` can be one end of a connection.
fn is_connectable(addr: &IpAddress) -> bool {
    addr.is_unicast()
}

/// `PollAt` for an optional deadline.
fn poll_at_deadline(deadline: Option<Instant>) -> PollAt {
    match deadline {
        Some(t) => PollAt::Time(t),
        None => PollAt::Ingress,
    }
}

/// Access the interface and benches need.
impl<'a> TcpSocket<'a> {
    /// Takes the socket apart and returns its `(rx, tx)` buffers, so a
    /// listener's buffer pool can hand them to the next connection.
    pub fn into_buffers(self) -> (SocketBuffer<'a>, SocketBuffer<'a>) {
        (self.rx_buffer, self.tx_buffer)
    }

    /// RCV.NXT (RFC 9293 section 3.3.1): the next sequence number expected.
    pub fn rcv_nxt(&self) -> SeqNumber {
        self.rcv_nxt
    }

    /// SND.NXT (RFC 9293 section 3.3.1): the next sequence number to send.
    pub fn snd_nxt(&self) -> SeqNumber {
        self.snd_nxt
    }
}
