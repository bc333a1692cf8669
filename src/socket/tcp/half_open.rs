//! Compact half-open connections (RFC 4987 section 3.3):
//! a passive open in SYN_RCVD kept as a [`HalfOpen`] record of about a
//! hundred bytes, with no buffers and no socket slot.
//!
//! The record is a hibernated socket, not a second state machine: to handle
//! a segment or a timer, the socket set rebuilds a [`TcpSocket`] from the
//! record ([`TcpSocket::from_half_open`]), lets the socket's own code run
//! (`process`, `dispatch` and its timers: the SYN-ACK, RFC 5961, PAWS, the
//! return to LISTEN on a RST, the SYN-ACK retransmissions and the SYN_RCVD
//! timeout), and packs the result back ([`TcpSocket::to_half_open`]). So a
//! record behaves exactly as a full socket in SYN_RCVD would, and changes to
//! the socket's handshake reach records too.
//!
//! What a record cannot keep: data carried by the SYN (there is no buffer
//! for it; it is not acknowledged and the peer sends it again, as Linux does
//! without TCP Fast Open), and the receive buffer's later growth (the
//! SYN-ACK's window and window scale come from the listener's configured
//! child buffer size, so the buffers attached when the handshake completes
//! must be at least that large to honour the offered window).

use super::congestion::CongestionControl;
use super::rtt::RttEstimator;
use super::time_wait::{from_millis32, millis32};
use super::{Congestion, DEFAULT_MSS, SocketBuffer, State, TcpSocket, window_shift_for};
use crate::socket::Context;
use crate::time::Instant;
use crate::wire::{IpEndpoint, SeqNumber};

/// `rcv_wscale_offer` is `None`.
const NO_SHIFT: u8 = u8::MAX;

/// Both SYNs carried the timestamps option (RFC 7323 section 3).
const FLAG_TIMESTAMPS: u8 = 1 << 0;
/// The peer's SYN carried SACK-permitted and we allow SACK (RFC 2018).
const FLAG_SACK: u8 = 1 << 1;
/// Our SYN-ACK went out more than once.
const FLAG_SYN_RETRANSMITTED: u8 = 1 << 2;
/// ECN was negotiated in the handshake (RFC 3168 section 6.1.1).
const FLAG_ECN: u8 = 1 << 3;
/// A retransmission timeout rewound SND.NXT: the SYN-ACK is due again.
const FLAG_SYN_ACK_DUE: u8 = 1 << 4;
/// A challenge-ACK window is open (RFC 5961 section 7).
const FLAG_CHALLENGE_WINDOW: u8 = 1 << 5;
/// An ACK to an unacceptable segment went out (its time is kept).
const FLAG_INVALID_ACK: u8 = 1 << 6;

/// A passive open in SYN_RCVD without buffers or a socket slot: the
/// 4-tuple, both initial sequence numbers, the options the peer's SYN
/// offered (MSS, window scale, SACK-permitted, timestamps with TS.Recent),
/// the ECN flag, the SYN-ACK's retransmission count and deadlines, and the
/// listener it belongs to. 104 bytes with IPv6 addresses, 80 without.
///
/// The timestamp offset (RFC 7323 section 5.4) is not stored: it is a keyed
/// hash of the 4-tuple, computed again when the socket is rebuilt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HalfOpen {
    local: IpEndpoint,
    remote: IpEndpoint,
    iss: SeqNumber,
    irs: SeqNumber,
    /// TS.Recent: the peer's timestamp to echo.
    ts_recent: u32,
    /// When the SYN-ACK is sent again (RFC 6298 backoff).
    retransmit_at: Instant,
    /// When the SYN_RCVD timeout ends the attempt.
    state_deadline: Instant,
    /// When the SYN-ACK last went out (RTT sample without timestamps, RFC
    /// 5681 idle restart).
    syn_ack_sent_at: Instant,
    /// The challenge-ACK window's start, on the millisecond clock.
    challenge_start_ms: u32,
    /// When the last ACK to an unacceptable segment went out.
    invalid_ack_ms: u32,
    challenge_count: u16,
    /// The peer's SYN window (never scaled, RFC 7323 section 2.2).
    snd_wnd: u16,
    snd_mss: u16,
    rcv_mss: u16,
    /// The window our SYN-ACK offers.
    rcv_window: u16,
    snd_wscale: u8,
    rcv_wscale: u8,
    rcv_wscale_offer: u8,
    retransmits: u8,
    flags: u8,
    /// The listener, as the socket set names it.
    pub(crate) owner: u32,
}

impl HalfOpen {
    /// Our end of the connection.
    pub fn local_endpoint(&self) -> IpEndpoint {
        self.local
    }

    /// The peer's end.
    pub fn remote_endpoint(&self) -> IpEndpoint {
        self.remote
    }

    /// Our initial sequence number.
    pub fn iss(&self) -> SeqNumber {
        self.iss
    }

    /// The peer's initial sequence number.
    pub fn irs(&self) -> SeqNumber {
        self.irs
    }

    /// Whether ECN was negotiated in the handshake.
    pub fn ecn(&self) -> bool {
        self.flags & FLAG_ECN != 0
    }

    /// The window our SYN-ACK offers.
    pub fn offered_window(&self) -> u16 {
        self.rcv_window
    }

    /// SYN-ACK retransmissions so far.
    pub fn retransmits(&self) -> u8 {
        self.retransmits
    }

    /// When the record next needs attention: at once if a SYN-ACK is due,
    /// else the earlier of the retransmission and the SYN_RCVD timeout.
    pub fn deadline(&self, now: Instant) -> Instant {
        if self.flags & FLAG_SYN_ACK_DUE != 0 {
            return now;
        }
        self.retransmit_at.min(self.state_deadline)
    }

    /// Whether a segment carrying `ack` could be the handshake's final ACK
    /// (RFC 9293 section 3.10.7.4, SYN-RECEIVED: SND.UNA < SEG.ACK <=
    /// SND.NXT, which after the SYN-ACK is only ISS + 1). The socket set
    /// finds buffers and a slot for such a segment before it is processed.
    pub fn completes_with(&self, ack: SeqNumber) -> bool {
        ack == self.iss + 1
    }
}

impl<'a> TcpSocket<'a> {
    /// A socket in SYN_RCVD rebuilt from `record`, as the listener
    /// `listener` would have forked it, with `rx` and `tx` as its buffers
    /// (empty ones for handling a segment or timer of a record; the
    /// connection's own when the handshake completes).
    pub(crate) fn from_half_open<'b>(
        listener: &TcpSocket<'_>,
        record: &HalfOpen,
        cx: &Context,
        rx_buffer: SocketBuffer<'b>,
        tx_buffer: SocketBuffer<'b>,
    ) -> TcpSocket<'b> {
        let now = cx.now;
        let mut s = listener.fork_listener_child(rx_buffer, tx_buffer);
        let config = s.config;
        s.state = State::SynRcvd;
        s.passive_open = true;
        s.local_endpoint = Some(record.local);
        s.remote_endpoint = Some(record.remote);
        let iss = record.iss;
        s.iss = iss;
        s.snd_una = iss;
        s.snd_max = iss + 1;
        s.snd_nxt = if record.flags & FLAG_SYN_ACK_DUE != 0 {
            iss
        } else {
            iss + 1
        };
        s.tx_seq = iss + 1;
        s.recover = iss;
        s.snd_wnd = usize::from(record.snd_wnd);
        s.max_snd_wnd = s.snd_wnd;
        s.snd_wl1 = record.irs;
        s.snd_wl2 = iss;
        s.irs = record.irs;
        s.rcv_nxt = record.irs + 1;
        s.rcv_adv = s.rcv_nxt + usize::from(record.rcv_window);
        s.last_ack_sent = s.rcv_nxt;
        s.snd_mss = usize::from(record.snd_mss);
        s.mss_ceiling = record.snd_mss;
        s.rcv_mss = usize::from(record.rcv_mss);
        s.snd_wscale = record.snd_wscale;
        s.rcv_wscale = record.rcv_wscale;
        s.rcv_wscale_offer =
            (record.rcv_wscale_offer != NO_SHIFT).then_some(record.rcv_wscale_offer);
        s.timestamps.enabled = record.flags & FLAG_TIMESTAMPS != 0;
        s.timestamps.recent = record.ts_recent;
        s.timestamps.recent_at = now;
        s.timestamps.offset = cx.isn.isn(Instant::ZERO, record.remote, record.local).raw();
        s.peer_sack_permitted = record.flags & FLAG_SACK != 0;
        s.rtt = RttEstimator::new(config.initial_rto, config.min_rto, config.max_rto);
        for _ in 0..record.retransmits {
            s.rtt.backoff();
        }
        s.retransmits = u32::from(record.retransmits);
        s.syn_retransmitted = record.flags & FLAG_SYN_RETRANSMITTED != 0;
        if !s.syn_retransmitted && !s.timestamps.enabled && record.retransmits == 0 {
            s.rtt_probe = Some((iss + 1, record.syn_ack_sent_at));
        }
        s.timers.retransmit = Some(record.retransmit_at);
        s.timers.state = Some(record.state_deadline);
        s.last_rx = now;
        s.last_tx = Some(record.syn_ack_sent_at);
        s.cc = Congestion::new(config.congestion, DEFAULT_MSS);
        if record.retransmits > 0 {
            s.cc.on_handshake_loss();
        }
        if record.flags & FLAG_CHALLENGE_WINDOW != 0 {
            s.challenge_window_start = Some(from_millis32(now, record.challenge_start_ms));
            s.challenge_count = u32::from(record.challenge_count);
        }
        if record.flags & FLAG_INVALID_ACK != 0 {
            s.last_invalid_ack = Some(from_millis32(now, record.invalid_ack_ms));
        }
        s.set_handshake_ecn(record.flags & FLAG_ECN != 0);
        s
    }

    /// The record of this socket, if it is a passive open in SYN_RCVD that
    /// has sent its SYN-ACK (or will resend it); `owner` names the listener.
    pub(crate) fn to_half_open(&self, owner: u32) -> Option<HalfOpen> {
        if self.state != State::SynRcvd || !self.passive_open || self.snd_max != self.iss + 1 {
            return None;
        }
        let (local, remote) = (self.local_endpoint?, self.remote_endpoint?);
        let mut flags = 0;
        if self.timestamps.enabled {
            flags |= FLAG_TIMESTAMPS;
        }
        if self.peer_sack_permitted {
            flags |= FLAG_SACK;
        }
        if self.syn_retransmitted {
            flags |= FLAG_SYN_RETRANSMITTED;
        }
        if self.handshake_ecn() {
            flags |= FLAG_ECN;
        }
        if self.snd_nxt == self.iss {
            flags |= FLAG_SYN_ACK_DUE;
        }
        let mut challenge_start_ms = 0;
        if let Some(start) = self.challenge_window_start {
            flags |= FLAG_CHALLENGE_WINDOW;
            challenge_start_ms = millis32(start);
        }
        let mut invalid_ack_ms = 0;
        if let Some(at) = self.last_invalid_ack {
            flags |= FLAG_INVALID_ACK;
            invalid_ack_ms = millis32(at);
        }
        let clamp16 = |v: usize| u16::try_from(v).unwrap_or(u16::MAX);
        // A record lives in SYN_RCVD, where both timers always run.
        let retransmit_at = self.timers.retransmit.unwrap_or(self.last_rx);
        let state_deadline = self.timers.state.unwrap_or(retransmit_at);
        Some(HalfOpen {
            local,
            remote,
            iss: self.iss,
            irs: self.irs,
            ts_recent: self.timestamps.recent,
            retransmit_at,
            state_deadline,
            syn_ack_sent_at: self.last_tx.unwrap_or(self.last_rx),
            challenge_start_ms,
            invalid_ack_ms,
            challenge_count: u16::try_from(self.challenge_count).unwrap_or(u16::MAX),
            snd_wnd: clamp16(self.snd_wnd),
            snd_mss: clamp16(self.snd_mss),
            rcv_mss: clamp16(self.rcv_mss),
            rcv_window: clamp16(self.rcv_adv - self.rcv_nxt),
            snd_wscale: self.snd_wscale,
            rcv_wscale: self.rcv_wscale,
            rcv_wscale_offer: self.rcv_wscale_offer.unwrap_or(NO_SHIFT),
            retransmits: u8::try_from(self.retransmits).unwrap_or(u8::MAX),
            flags,
            owner,
        })
    }

    /// For a socket without buffers that has just taken a SYN in LISTEN:
    /// offers the window and window scale of a receive buffer of
    /// `capacity` bytes (the listener's configured child buffer), as
    /// `accept_syn` would have with that buffer. Returns the SYN window.
    pub(crate) fn offer_child_window(&mut self, capacity: usize) -> u16 {
        if self.rcv_wscale_offer.is_some() {
            let shift = window_shift_for(capacity);
            self.rcv_wscale_offer = Some(shift);
            self.rcv_wscale = shift;
        }
        u16::try_from(capacity.min(65535)).unwrap_or(u16::MAX)
    }

    /// Records that a SYN-ACK offering `window` went out (the socket's own
    /// bookkeeping saw a zero window: it has no buffer).
    pub(crate) fn note_child_window_sent(&mut self, window: u16) {
        let edge = self.rcv_nxt + usize::from(window);
        if edge > self.rcv_adv {
            self.rcv_adv = edge;
        }
    }

    /// Whether ECN was negotiated in the handshake (RFC 3168 section
    /// 6.1.1), so records and cookies carry it.
    pub(super) fn handshake_ecn(&self) -> bool {
        self.ecn.enabled
    }

    /// Restores the handshake's ECN agreement on a rebuilt socket.
    fn set_handshake_ecn(&mut self, ecn: bool) {
        self.ecn.enabled = ecn;
    }
}
