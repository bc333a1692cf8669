//! Compact TIME_WAIT: a connection the application has
//! fully closed gives back its buffers and its socket slot when it enters
//! TIME_WAIT, and lives on for 2*MSL as a [`TimeWait`] record of at most 80
//! bytes (52 without IPv6 addresses).
//!
//! As with half-open records, the record is a hibernated socket: each
//! segment for it is handled by a [`TcpSocket`] rebuilt from the record
//! ([`TcpSocket::from_time_wait`]), so it answers exactly as the socket did
//! (RFC 9293 section 3.10.7.4 with RFC 5961's challenge ACKs, PAWS, and
//! RFC 1337: a RST does not end TIME_WAIT); a retransmitted FIN is ACKed
//! again and restarts 2*MSL. The one difference is a new SYN: RFC 6191 lets
//! it reopen the connection when its timestamp is newer than TS.Recent (or,
//! without timestamps, when its sequence number lies beyond RCV.NXT), which
//! in TIME_WAIT takes precedence over RFC 5961's challenge ACK
//! ([`TimeWait::accepts_new_syn`]). A socket in TIME_WAIT that the
//! application still holds (after `shutdown`) is not compacted and keeps
//! answering such a SYN with a challenge ACK.

use super::{SocketBuffer, State, TcpSocket};
use crate::socket::Context;
use crate::time::{Duration, Instant};
use crate::wire::{IpEndpoint, SeqNumber, TcpRepr};

/// Timestamps were negotiated (RFC 7323 section 3).
const FLAG_TIMESTAMPS: u8 = 1 << 0;
/// `TcpConfig::drop_syn_fin`.
const FLAG_DROP_SYN_FIN: u8 = 1 << 1;
/// `TcpConfig::insecure_syn`.
const FLAG_INSECURE_SYN: u8 = 1 << 2;
/// A challenge-ACK window is open (RFC 5961 section 7).
const FLAG_CHALLENGE_WINDOW: u8 = 1 << 3;
/// An ACK to an unacceptable segment went out (its time is kept).
const FLAG_INVALID_ACK: u8 = 1 << 4;

/// A connection in TIME_WAIT without buffers or a socket slot: the 4-tuple,
/// the sequence numbers (SND.NXT, RCV.NXT, the peer's largest window for RFC
/// 5961's ACK check), the window last advertised, TS.Recent, 2*MSL, the
/// challenge-ACK and invalid-ACK limiters and the settings TIME_WAIT
/// consults. The deadline
/// is kept beside the record, in the socket set's timer queue.
///
/// The timestamp offset (RFC 7323 section 5.4) is not stored: it is a keyed
/// hash of the 4-tuple, computed again when the socket is rebuilt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWait {
    local: IpEndpoint,
    remote: IpEndpoint,
    /// SND.NXT (everything we sent, our FIN included, is acknowledged).
    snd_nxt: SeqNumber,
    /// RCV.NXT (past the peer's FIN).
    rcv_nxt: SeqNumber,
    /// MAX.SND.WND (RFC 5961 section 5.2).
    max_snd_wnd: u32,
    /// TS.Recent.
    ts_recent: u32,
    /// 2*MSL in milliseconds (a retransmitted FIN restarts it).
    two_msl_ms: u32,
    /// The challenge-ACK window's start, on the millisecond clock.
    challenge_start_ms: u32,
    /// When the last ACK to an unacceptable segment went out, on the
    /// millisecond clock.
    invalid_ack_ms: u32,
    /// RCV.WND as last advertised: the window field (scaled by
    /// `rcv_wscale`).
    rcv_window: u16,
    challenge_limit: u16,
    challenge_count: u16,
    /// `TcpConfig::invalid_ack_interval`, in milliseconds.
    invalid_ack_interval_ms: u16,
    rcv_wscale: u8,
    flags: u8,
}

impl TimeWait {
    /// Our end of the connection.
    pub fn local_endpoint(&self) -> IpEndpoint {
        self.local
    }

    /// The peer's end.
    pub fn remote_endpoint(&self) -> IpEndpoint {
        self.remote
    }

    /// RCV.NXT.
    pub fn rcv_nxt(&self) -> SeqNumber {
        self.rcv_nxt
    }

    /// SND.NXT.
    pub fn snd_nxt(&self) -> SeqNumber {
        self.snd_nxt
    }

    /// Whether `repr` is a SYN that may reopen the connection (RFC 6191
    /// section 2): with timestamps on both the old connection and the SYN,
    /// a TSval newer than TS.Recent (or equal to it with SEG.SEQ beyond
    /// RCV.NXT); otherwise SEG.SEQ beyond RCV.NXT. Anything else is handled
    /// as TIME_WAIT handles a SYN (RFC 5961 section 4.2: a challenge ACK).
    pub fn accepts_new_syn(&self, repr: &TcpRepr) -> bool {
        if !repr.syn() || repr.rst() || repr.ack().is_some() || repr.fin() {
            return false;
        }
        let beyond = repr.seq_number > self.rcv_nxt;
        match repr.timestamp {
            Some(ts) if self.flags & FLAG_TIMESTAMPS != 0 => {
                let newer = ts.tsval.wrapping_sub(self.ts_recent) as i32;
                newer > 0 || (newer == 0 && beyond)
            }
            _ => beyond,
        }
    }

    /// How long TIME_WAIT lasts from a restart.
    pub fn two_msl(&self) -> Duration {
        Duration::from_millis(u64::from(self.two_msl_ms))
    }
}

/// Truncates `at` to a 32-bit millisecond clock (its natural wrap).
pub(super) fn millis32(at: Instant) -> u32 {
    at.total_millis() as u32
}

/// The instant a 32-bit millisecond stamp names: the latest one not after
/// `now` (stamps are at most 49 days old).
pub(super) fn from_millis32(now: Instant, stamp: u32) -> Instant {
    let age = millis32(now).wrapping_sub(stamp);
    now - Duration::from_millis(u64::from(age))
}

impl TcpSocket<'_> {
    /// The record of this socket if it is in TIME_WAIT, and the instant its
    /// 2*MSL ends.
    pub(crate) fn to_time_wait(&self, now: Instant) -> Option<(TimeWait, Instant)> {
        if self.state != State::TimeWait {
            return None;
        }
        let (local, remote) = (self.local_endpoint?, self.remote_endpoint?);
        let two_msl = self.time_wait_duration();
        let deadline = self
            .timers
            .state
            .or_else(|| now.checked_add(two_msl))
            .unwrap_or(now);
        let mut flags = 0;
        if self.timestamps.enabled {
            flags |= FLAG_TIMESTAMPS;
        }
        if self.config.drop_syn_fin {
            flags |= FLAG_DROP_SYN_FIN;
        }
        if self.config.insecure_syn {
            flags |= FLAG_INSECURE_SYN;
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
        let clamp32 = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        // The window field last advertised, rounded up as the socket
        // rounds it, so the rebuilt socket advertises the same field.
        let shift = self.rcv_wscale;
        let current = (self.rcv_adv - self.rcv_nxt) as u64;
        let field = current.div_ceil(1u64 << shift.min(14));
        let record = TimeWait {
            local,
            remote,
            snd_nxt: self.ack_seq(),
            rcv_nxt: self.rcv_nxt,
            max_snd_wnd: clamp32(self.max_snd_wnd as u64),
            ts_recent: self.timestamps.recent,
            two_msl_ms: clamp32(two_msl.total_millis()),
            challenge_start_ms,
            invalid_ack_ms,
            rcv_window: u16::try_from(field).unwrap_or(u16::MAX),
            challenge_limit: u16::try_from(self.config.challenge_ack_limit).unwrap_or(u16::MAX),
            challenge_count: u16::try_from(self.challenge_count).unwrap_or(u16::MAX),
            invalid_ack_interval_ms: u16::try_from(self.config.invalid_ack_interval.total_millis())
                .unwrap_or(u16::MAX),
            rcv_wscale: self.rcv_wscale,
            flags,
        };
        Some((record, deadline))
    }

    /// A socket in TIME_WAIT rebuilt from `record` whose 2*MSL ends at
    /// `deadline`, without buffers.
    pub(crate) fn from_time_wait(
        record: &TimeWait,
        deadline: Instant,
        cx: &Context,
    ) -> TcpSocket<'static> {
        let now = cx.now;
        let mut s = TcpSocket::new(
            SocketBuffer::new(&mut [][..]),
            SocketBuffer::new(&mut [][..]),
        );
        // Only these settings matter in TIME_WAIT.
        s.config.msl = Duration::from_micros(record.two_msl().total_micros() / 2);
        s.config.drop_syn_fin = record.flags & FLAG_DROP_SYN_FIN != 0;
        s.config.insecure_syn = record.flags & FLAG_INSECURE_SYN != 0;
        s.config.challenge_ack_limit = u32::from(record.challenge_limit);
        s.config.invalid_ack_interval =
            Duration::from_millis(u64::from(record.invalid_ack_interval_ms));
        s.state = State::TimeWait;
        s.local_endpoint = Some(record.local);
        s.remote_endpoint = Some(record.remote);
        // Our FIN (at SND.NXT - 1) is queued and acknowledged.
        let snd = record.snd_nxt;
        s.tx_seq = snd - 1;
        s.iss = snd - 2;
        s.snd_una = snd;
        s.snd_nxt = snd;
        s.snd_max = snd;
        s.recover = snd;
        s.fin_queued = true;
        s.rx_closed_by_user = true;
        s.max_snd_wnd = record.max_snd_wnd as usize;
        s.snd_wnd = s.max_snd_wnd;
        s.snd_wl1 = record.rcv_nxt;
        s.snd_wl2 = snd;
        s.rcv_nxt = record.rcv_nxt;
        s.irs = record.rcv_nxt - 1;
        s.rcv_adv = record.rcv_nxt + (usize::from(record.rcv_window) << record.rcv_wscale.min(14));
        s.last_ack_sent = record.rcv_nxt;
        s.fin_received = true;
        s.rcv_wscale = record.rcv_wscale;
        s.timestamps.enabled = record.flags & FLAG_TIMESTAMPS != 0;
        s.timestamps.recent = record.ts_recent;
        s.timestamps.recent_at = now;
        s.timestamps.offset = cx.isn.isn(Instant::ZERO, record.remote, record.local).raw();
        s.timers.state = Some(deadline);
        s.last_rx = now;
        if record.flags & FLAG_CHALLENGE_WINDOW != 0 {
            s.challenge_window_start = Some(from_millis32(now, record.challenge_start_ms));
            s.challenge_count = u32::from(record.challenge_count);
        }
        if record.flags & FLAG_INVALID_ACK != 0 {
            s.last_invalid_ack = Some(from_millis32(now, record.invalid_ack_ms));
        }
        s
    }

    /// Writes back what handling a segment may have changed on a socket
    /// rebuilt with [`from_time_wait`](Self::from_time_wait) (TS.Recent,
    /// the challenge-ACK limiter); returns the new deadline, or `None` if
    /// the connection left TIME_WAIT.
    pub(crate) fn update_time_wait(&self, record: &mut TimeWait) -> Option<Instant> {
        if self.state != State::TimeWait {
            return None;
        }
        record.ts_recent = self.timestamps.recent;
        record.flags &= !(FLAG_CHALLENGE_WINDOW | FLAG_INVALID_ACK);
        if let Some(start) = self.challenge_window_start {
            record.flags |= FLAG_CHALLENGE_WINDOW;
            record.challenge_start_ms = millis32(start);
            record.challenge_count = u16::try_from(self.challenge_count).unwrap_or(u16::MAX);
        }
        if let Some(at) = self.last_invalid_ack {
            record.flags |= FLAG_INVALID_ACK;
            record.invalid_ack_ms = millis32(at);
        }
        self.timers.state
    }

    /// Whether the application closed both directions (`close`, not
    /// `shutdown`): such a socket is compacted on entering TIME_WAIT.
    pub(crate) fn fully_closed(&self) -> bool {
        self.rx_closed_by_user
    }
}

/// What the socket set's memory policy reads.
impl TcpSocket<'_> {
    /// When the last acceptable segment arrived: the connection has been
    /// idle since.
    pub(crate) fn idle_since(&self) -> Instant {
        self.last_rx
    }

    /// Whether a RST is still to go out (after `abort` or a give-up): a
    /// connection nobody holds is freed only once it is sent.
    pub(crate) fn rst_pending(&self) -> bool {
        self.pending_rst.is_some()
    }

    /// Whether the peer has sent no data (nor a FIN) since the handshake.
    pub(crate) fn received_nothing(&self) -> bool {
        self.state.is_synchronized() && self.rcv_nxt == self.irs + 1 && self.assembler.is_empty()
    }
}
