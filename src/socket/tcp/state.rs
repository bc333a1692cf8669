//! The eleven connection states (RFC 9293 section 3.3.2), named as lwIP
//! names them, and the transition trace: every change of state is recorded
//! as (from, to, cause), with no allocation.

use core::fmt;

/// A TCP connection state. `Display` prints lwIP's `tcp_state_str` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum State {
    /// No connection.
    Closed,
    /// Waiting for a connection request.
    Listen,
    /// Sent a SYN, waiting for the matching SYN.
    SynSent,
    /// Received a SYN and sent one; waiting for its ACK.
    SynRcvd,
    /// Open: data flows both ways.
    Established,
    /// We closed; our FIN is not yet acknowledged.
    FinWait1,
    /// Our FIN is acknowledged; waiting for the peer's FIN.
    FinWait2,
    /// The peer closed; waiting for the local close.
    CloseWait,
    /// Both closed at once; waiting for the ACK of our FIN.
    Closing,
    /// The peer closed, then we did; waiting for the ACK of our FIN.
    LastAck,
    /// Waiting 2*MSL so old duplicates die out (RFC 9293 section 3.6).
    TimeWait,
}

impl State {
    /// All eleven states, in lwIP's order.
    pub const ALL: [State; 11] = [
        State::Closed,
        State::Listen,
        State::SynSent,
        State::SynRcvd,
        State::Established,
        State::FinWait1,
        State::FinWait2,
        State::CloseWait,
        State::Closing,
        State::LastAck,
        State::TimeWait,
    ];

    /// lwIP's name for the state.
    pub const fn name(self) -> &'static str {
        match self {
            State::Closed => "CLOSED",
            State::Listen => "LISTEN",
            State::SynSent => "SYN_SENT",
            State::SynRcvd => "SYN_RCVD",
            State::Established => "ESTABLISHED",
            State::FinWait1 => "FIN_WAIT_1",
            State::FinWait2 => "FIN_WAIT_2",
            State::CloseWait => "CLOSE_WAIT",
            State::Closing => "CLOSING",
            State::LastAck => "LAST_ACK",
            State::TimeWait => "TIME_WAIT",
        }
    }

    /// Whether both sides have exchanged SYNs (RFC 9293's synchronized
    /// states: ESTABLISHED and every state after it).
    pub const fn is_synchronized(self) -> bool {
        !matches!(
            self,
            State::Closed | State::Listen | State::SynSent | State::SynRcvd
        )
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.pad(self.name())
    }
}

/// The event that caused a state change; `Display` gives the trace's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Cause {
    /// The user called `listen`.
    Listen,
    /// The user called `connect`.
    Connect,
    /// The user called `close`.
    Close,
    /// The user called `shutdown` (send side).
    Shutdown,
    /// The user called `abort`.
    Abort,
    /// A SYN arrived.
    RcvSyn,
    /// A SYN+ACK arrived.
    RcvSynAck,
    /// An ACK arrived (of our SYN, or otherwise state-changing).
    RcvAck,
    /// The ACK of our FIN arrived.
    RcvAckOfFin,
    /// A FIN arrived.
    RcvFin,
    /// A FIN arrived with the ACK of our FIN.
    RcvFinAck,
    /// A RST arrived.
    RcvRst,
    /// TIME_WAIT's 2*MSL ran out.
    TimeWaitTimeout,
    /// The FIN_WAIT_2 timeout ran out.
    FinWait2Timeout,
    /// A half-open connection in SYN_RCVD timed out.
    SynRcvdTimeout,
    /// Retransmissions ran out (or the user timeout passed).
    RetransmissionTimeout,
    /// Keep-alive probes went unanswered.
    KeepaliveTimeout,
    /// A hard ICMP error aborted the connection.
    IcmpError,
    /// New data arrived after a full `close`: nobody will read it, so the
    /// connection is reset (RFC 1122 section 4.2.2.13).
    RcvDataAfterClose,
    /// The socket set dropped the connection to make room for a new one
    /// (its memory policy), or dropped a TIME_WAIT record for a newer one.
    Evicted,
    /// The listener's idle timeout ended a connection that sent no data.
    IdleTimeout,
    /// The connection's local address was removed from the interface.
    AddressRemoved,
}

impl Cause {
    /// The trace's words for the cause.
    pub const fn text(self) -> &'static str {
        match self {
            Cause::Listen => "listen",
            Cause::Connect => "connect",
            Cause::Close => "close",
            Cause::Shutdown => "shutdown",
            Cause::Abort => "abort",
            Cause::RcvSyn => "rcv SYN",
            Cause::RcvSynAck => "rcv SYN+ACK",
            Cause::RcvAck => "rcv ACK",
            Cause::RcvAckOfFin => "rcv ACK of FIN",
            Cause::RcvFin => "rcv FIN",
            Cause::RcvFinAck => "rcv FIN+ACK",
            Cause::RcvRst => "rcv RST",
            Cause::TimeWaitTimeout => "2MSL timeout",
            Cause::FinWait2Timeout => "FIN_WAIT_2 timeout",
            Cause::SynRcvdTimeout => "SYN_RCVD timeout",
            Cause::RetransmissionTimeout => "retransmission timeout",
            Cause::KeepaliveTimeout => "keepalive timeout",
            Cause::IcmpError => "ICMP error",
            Cause::RcvDataAfterClose => "rcv data after close",
            Cause::Evicted => "evicted",
            Cause::IdleTimeout => "idle timeout",
            Cause::AddressRemoved => "address removed",
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.pad(self.text())
    }
}

/// One state change: `from -> to (cause)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Transition {
    /// The state before.
    pub from: State,
    /// The state after.
    pub to: State,
    /// What caused it.
    pub cause: Cause,
}

impl fmt::Display for Transition {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{} -> {} ({})", self.from, self.to, self.cause)
    }
}
