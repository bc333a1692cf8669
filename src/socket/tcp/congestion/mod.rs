//! Congestion control behind a small trait (RFC 5681, RFC 6928, RFC 6582,
//! RFC 9438, RFC 9406).
//!
//! The socket detects the events (ACKs of new data, the start and end of
//! loss recovery, ECN reductions, timeouts, idle restarts, spurious
//! reductions) and reports them here; the algorithm only moves cwnd and
//! ssthresh. During recovery the socket's PRR (RFC 6937) sets cwnd through
//! [`CongestionControl::set_window`]; the algorithm chooses ssthresh, PRR's
//! target. All arithmetic saturates, so no sequence of events can overflow.
//!
//! Slow start counts every byte an ACK newly acknowledges (RFC 3465
//! appropriate byte counting) with no per-ACK limit. RFC 3465 section 2.2
//! caps one ACK's growth at L * SMSS with L at most 2, and RFC 9406
//! sections 4.2 and 4.3 suggest L = 8 for a sender that does not pace, to
//! bound the burst a stretch ACK releases. But stretch ACKs are the common
//! case: a Linux receiver with GRO acknowledges a whole aggregate (up to
//! 64 KiB) at once, and pollnet's own receiver sends one ACK for all the
//! in-order segments of a poll. With a limit, an ACK of 45 segments would
//! grow cwnd by 8, and slow start would need several times as many round
//! trips to open the window. Linux's slow start counts every acknowledged
//! segment the same way. The burst this allows is at most twice what the
//! ACK acknowledged (the freed window and as much growth), and the peer's
//! window still bounds it.

mod cubic;
pub mod hystart;
mod new_reno;

pub use self::cubic::{Cubic, cube_root, cubic_k, w_cubic};
pub use self::hystart::HyStart;
pub use self::new_reno::NewReno;

use crate::time::{Duration, Instant};
use crate::wire::SeqNumber;

/// What one ACK of new data tells congestion control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckEvent {
    /// When the ACK arrived.
    pub now: Instant,
    /// Bytes this ACK newly acknowledged, cumulatively or by SACK. Every
    /// byte counts (RFC 3465 appropriate byte counting), so stretch ACKs
    /// and delayed ACKs do not slow the window's growth.
    pub bytes_acked: usize,
    /// Bytes in flight before this ACK: RFC 6675's pipe when SACK is in use,
    /// else SND.MAX - SND.UNA. A sender that did not fill its window is
    /// application- or receive-window-limited, and its cwnd does not grow
    /// (RFC 9438 section 5.8, RFC 7661).
    pub flight_size: usize,
    /// The RTT sample this ACK gave, if any (RFC 6298 section 3, RFC 7323
    /// section 4).
    pub rtt: Option<Duration>,
    /// SND.UNA after this ACK.
    pub snd_una: SeqNumber,
    /// SND.NXT now. HyStart++ rounds end when SND.UNA passes the SND.NXT
    /// recorded at the round's start (RFC 9406 section 4.2).
    pub snd_nxt: SeqNumber,
}

/// Why the sender reduces its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CongestionCause {
    /// Loss detected by duplicate ACKs, SACK or RACK (RFC 5681 section 3.2,
    /// RFC 6675, RFC 8985): fast recovery begins.
    Loss,
    /// An ECN-Echo (RFC 3168 section 6.1.2): the network marked a packet
    /// instead of dropping it. Such a reduction is never undone.
    Ecn,
}

/// A congestion control algorithm. The socket detects losses and keeps the
/// recovery state; the algorithm owns cwnd and ssthresh.
///
/// The event sequence of one loss episode is [`on_congestion_event`]
/// (ssthresh is chosen, cwnd is left alone), [`set_window`] on every ACK
/// during recovery (PRR, RFC 6937, moves cwnd towards ssthresh), then
/// [`on_recovery_end`] (cwnd = ssthresh), and possibly later [`on_undo`]
/// when the episode proves spurious (RFC 3708, RFC 3522, RFC 4015). Outside
/// recovery every ACK of new data is an [`on_ack_event`].
///
/// [`on_congestion_event`]: CongestionControl::on_congestion_event
/// [`set_window`]: CongestionControl::set_window
/// [`on_recovery_end`]: CongestionControl::on_recovery_end
/// [`on_undo`]: CongestionControl::on_undo
/// [`on_ack_event`]: CongestionControl::on_ack_event
pub trait CongestionControl {
    /// cwnd in bytes.
    fn window(&self) -> usize;
    /// ssthresh in bytes.
    fn ssthresh(&self) -> usize;
    /// Sets the sender MSS; before any data is sent this also sets the
    /// initial window (RFC 6928: min(10*MSS, max(2*MSS, 14600))).
    fn set_mss(&mut self, mss: usize);
    /// New data was acknowledged outside recovery: slow start below
    /// ssthresh, congestion avoidance above (RFC 5681 section 3.1, with
    /// RFC 3465 byte counting; CUBIC: RFC 9438 section 4; HyStart++:
    /// RFC 9406). An ACK that acknowledges nothing changes nothing.
    fn on_ack_event(&mut self, ack: &AckEvent);
    /// Recovery, or an ECN reduction, starts with `flight_size` bytes in
    /// flight: the algorithm remembers cwnd and ssthresh for
    /// [`on_undo`](CongestionControl::on_undo) and sets ssthresh (NewReno:
    /// RFC 5681 equation 4; CUBIC: RFC 9438 sections 4.6 and 4.7). cwnd is
    /// not changed here: PRR moves it with
    /// [`set_window`](CongestionControl::set_window).
    fn on_congestion_event(&mut self, now: Instant, flight_size: usize, cause: CongestionCause);
    /// PRR's cwnd during recovery (RFC 6937 section 3). The window never
    /// goes below one segment, RFC 5681's loss window.
    fn set_window(&mut self, cwnd: usize);
    /// Recovery (or an ECN reduction) ends: cwnd = ssthresh (RFC 6937
    /// section 3.1); CUBIC's congestion avoidance epoch starts at `now`.
    fn on_recovery_end(&mut self, now: Instant);
    /// The last reduction (a recovery or a timeout) was spurious: cwnd and
    /// ssthresh return to at least their values before it (RFC 4015
    /// section 3; CUBIC: RFC 9438 section 4.9). Does nothing when there is
    /// nothing to undo, and after an ECN reduction.
    fn on_undo(&mut self);
    /// A retransmission timeout (RFC 5681 3.1, equation 4; cwnd = 1 MSS).
    /// A timeout during recovery keeps the ssthresh that recovery chose,
    /// as the loss episode is the same.
    fn on_retransmit_timeout(&mut self, flight_size: usize);
    /// Sending restarts after an idle period longer than the RTO
    /// (RFC 5681 4.1).
    fn on_idle_restart(&mut self);
    /// The SYN or SYN-ACK had to be retransmitted: the initial window
    /// becomes one segment (RFC 5681 section 3.1). Call it before the data
    /// transfer starts; it does nothing afterwards. The default does nothing.
    fn on_handshake_loss(&mut self) {}
}

/// The initial window of RFC 6928 section 2 for a sender MSS of `mss`:
/// min(10*MSS, max(2*MSS, 14600)).
pub fn initial_window(mss: usize) -> usize {
    mss.saturating_mul(10)
        .min(mss.saturating_mul(2).max(14_600))
}

/// The initial ssthresh, "arbitrarily high" per RFC 5681 section 3.1, which
/// suggests the largest possible advertised window: 65535 << 14 with
/// window scaling (RFC 7323 section 2.3).
pub const INITIAL_SSTHRESH: usize = 65_535 << 14;

/// cwnd and ssthresh before a reduction, for undo (RFC 4015 section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PriorWindow {
    pub(crate) cwnd: usize,
    pub(crate) ssthresh: usize,
}

/// Whether a sender with `flight_size` bytes in flight before an ACK was
/// using its window `cwnd`, so the window may grow (RFC 9438 section 5.8,
/// RFC 7661 section 4.3). In slow start, half the window in flight counts
/// (the window doubles in a round, so a sender that filled the previous
/// round's window is using this one); in congestion avoidance, the window
/// less one segment (what Nagle or a segment boundary may leave unused).
pub(crate) fn window_limited(
    flight_size: usize,
    cwnd: usize,
    mss: usize,
    slow_start: bool,
) -> bool {
    if slow_start {
        flight_size.saturating_mul(2) >= cwnd
    } else {
        flight_size.saturating_add(mss) >= cwnd
    }
}

/// Slow start for one ACK of `acked` bytes (RFC 5681 section 3.1 with
/// RFC 3465 appropriate byte counting): cwnd += acked / `divisor`
/// (HyStart++'s CSS divides by 4, RFC 9406 section 4.2), never past
/// ssthresh. Returns the bytes of `acked` beyond ssthresh, which count for
/// congestion avoidance.
///
/// Every byte counts, however many segments the ACK covers (see the
/// module docs for why there is no per-ACK limit).
pub(crate) fn slow_start(cwnd: &mut usize, ssthresh: usize, acked: usize, divisor: usize) -> usize {
    let used = acked.min(ssthresh.saturating_sub(*cwnd));
    *cwnd = cwnd.saturating_add(used / divisor.max(1));
    acked - used
}

/// The congestion control algorithms a socket can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CongestionAlgorithm {
    /// NewReno (RFC 5681, RFC 6582) with RFC 3465 byte counting and
    /// HyStart++ (RFC 9406) in the first slow start.
    NewReno,
    /// CUBIC (RFC 9438) with HyStart++ (RFC 9406), the default: Linux,
    /// Windows and the Apple stacks run it, so a pollnet sender competes
    /// evenly with them for a shared bottleneck, and its window recovers
    /// from a loss in time independent of the RTT, where NewReno needs one
    /// RTT per segment of window.
    #[default]
    Cubic,
}

/// Every congestion control algorithm pollnet offers, as one concrete type
/// the socket can hold without generics or allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnyCongestion {
    /// NewReno (RFC 5681 + RFC 6582).
    NewReno(NewReno),
    /// CUBIC (RFC 9438).
    Cubic(Cubic),
}

impl AnyCongestion {
    /// NewReno for a sender MSS of `mss`.
    pub fn new_reno(mss: usize) -> Self {
        AnyCongestion::NewReno(NewReno::new(mss))
    }

    /// CUBIC for a sender MSS of `mss`.
    pub fn cubic(mss: usize) -> Self {
        AnyCongestion::Cubic(Cubic::new(mss))
    }

    /// `algorithm` for a sender MSS of `mss`.
    pub fn new(algorithm: CongestionAlgorithm, mss: usize) -> Self {
        match algorithm {
            CongestionAlgorithm::NewReno => AnyCongestion::new_reno(mss),
            CongestionAlgorithm::Cubic => AnyCongestion::cubic(mss),
        }
    }

    /// Switches to `algorithm`. Before the data transfer the new one starts
    /// afresh (keeping the MSS and a lost handshake's one-segment window);
    /// after, it takes over the current cwnd and ssthresh.
    pub fn switch_to(&mut self, algorithm: CongestionAlgorithm) {
        if self.algorithm() == algorithm {
            return;
        }
        let (mss, cwnd, ssthresh) = (self.mss(), self.window(), self.ssthresh());
        let started = match self {
            AnyCongestion::NewReno(cc) => cc.transferring(),
            AnyCongestion::Cubic(cc) => cc.transferring(),
        };
        let mut next = AnyCongestion::new(algorithm, mss);
        if started {
            match &mut next {
                AnyCongestion::NewReno(cc) => cc.take_over(cwnd, ssthresh),
                AnyCongestion::Cubic(cc) => cc.take_over(cwnd, ssthresh),
            }
        } else if cwnd < initial_window(mss) {
            next.on_handshake_loss();
        }
        *self = next;
    }

    /// The sender MSS in bytes.
    pub fn mss(&self) -> usize {
        match self {
            AnyCongestion::NewReno(cc) => cc.mss(),
            AnyCongestion::Cubic(cc) => cc.mss(),
        }
    }

    /// Which algorithm this is.
    pub fn algorithm(&self) -> CongestionAlgorithm {
        match self {
            AnyCongestion::NewReno(_) => CongestionAlgorithm::NewReno,
            AnyCongestion::Cubic(_) => CongestionAlgorithm::Cubic,
        }
    }
}

impl From<Cubic> for AnyCongestion {
    fn from(algorithm: Cubic) -> Self {
        AnyCongestion::Cubic(algorithm)
    }
}

impl From<NewReno> for AnyCongestion {
    fn from(algorithm: NewReno) -> Self {
        AnyCongestion::NewReno(algorithm)
    }
}

/// Forwards a trait call to the variant's algorithm.
macro_rules! delegate {
    ($self:ident, $inner:ident => $call:expr) => {
        match $self {
            AnyCongestion::NewReno($inner) => $call,
            AnyCongestion::Cubic($inner) => $call,
        }
    };
}

impl CongestionControl for AnyCongestion {
    fn window(&self) -> usize {
        delegate!(self, cc => cc.window())
    }

    fn ssthresh(&self) -> usize {
        delegate!(self, cc => cc.ssthresh())
    }

    fn set_mss(&mut self, mss: usize) {
        delegate!(self, cc => cc.set_mss(mss))
    }

    fn on_ack_event(&mut self, ack: &AckEvent) {
        delegate!(self, cc => cc.on_ack_event(ack))
    }

    fn on_congestion_event(&mut self, now: Instant, flight_size: usize, cause: CongestionCause) {
        delegate!(self, cc => cc.on_congestion_event(now, flight_size, cause))
    }

    fn set_window(&mut self, cwnd: usize) {
        delegate!(self, cc => cc.set_window(cwnd))
    }

    fn on_recovery_end(&mut self, now: Instant) {
        delegate!(self, cc => cc.on_recovery_end(now))
    }

    fn on_undo(&mut self) {
        delegate!(self, cc => cc.on_undo())
    }

    fn on_retransmit_timeout(&mut self, flight_size: usize) {
        delegate!(self, cc => cc.on_retransmit_timeout(flight_size))
    }

    fn on_idle_restart(&mut self) {
        delegate!(self, cc => cc.on_idle_restart())
    }

    fn on_handshake_loss(&mut self) {
        delegate!(self, cc => cc.on_handshake_loss())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Instant = Instant::ZERO;

    /// An ACK of `bytes` new bytes with `flight` bytes in flight before it.
    fn ack(bytes: usize, flight: usize) -> AckEvent {
        AckEvent {
            now: T,
            bytes_acked: bytes,
            flight_size: flight,
            rtt: Some(Duration::from_millis(10)),
            snd_una: SeqNumber(1461),
            snd_nxt: SeqNumber(1461),
        }
    }

    #[test]
    fn slow_start_counts_every_byte_up_to_ssthresh() {
        // A stretch ACK of 45 segments grows cwnd by 45 segments.
        let mut cwnd = 14_600;
        assert_eq!(slow_start(&mut cwnd, INITIAL_SSTHRESH, 45 * 1460, 1), 0);
        assert_eq!(cwnd, 14_600 + 45 * 1460);
        // HyStart++'s CSS: a quarter of every byte.
        let mut cwnd = 10_000;
        assert_eq!(slow_start(&mut cwnd, INITIAL_SSTHRESH, 20_000, 4), 0);
        assert_eq!(cwnd, 15_000);
        // Never past ssthresh: the rest goes to congestion avoidance.
        let mut cwnd = 10_000;
        assert_eq!(slow_start(&mut cwnd, 12_000, 20_000, 1), 18_000);
        assert_eq!(cwnd, 12_000);
        let mut cwnd = usize::MAX - 1;
        assert_eq!(
            slow_start(&mut cwnd, usize::MAX, usize::MAX, 1),
            usize::MAX - 1
        );
        assert_eq!(cwnd, usize::MAX);
    }

    #[test]
    fn initial_window_rfc6928() {
        // 10 segments when they fit in 14600 bytes...
        assert_eq!(initial_window(1460), 14_600);
        assert_eq!(initial_window(536), 5_360);
        // ...otherwise 14600 bytes, but never fewer than 2 segments.
        assert_eq!(initial_window(1461), 14_600);
        assert_eq!(initial_window(4000), 14_600);
        assert_eq!(initial_window(9000), 18_000);
        assert_eq!(initial_window(usize::MAX), usize::MAX);
        assert_eq!(INITIAL_SSTHRESH, 1_073_725_440);
    }

    /// The controller lives in every socket: keep it small (on 64-bit
    /// targets CUBIC's state with its undo copy is 192 bytes).
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn controller_size_is_bounded() {
        assert!(core::mem::size_of::<AnyCongestion>() <= 192);
        assert!(core::mem::size_of::<HyStart>() <= 28);
    }

    #[test]
    fn algorithm_selects_the_variant() {
        assert_eq!(CongestionAlgorithm::default(), CongestionAlgorithm::Cubic);
        for algorithm in [CongestionAlgorithm::NewReno, CongestionAlgorithm::Cubic] {
            let cc = AnyCongestion::new(algorithm, 1460);
            assert_eq!(cc.algorithm(), algorithm);
            assert_eq!(cc.window(), 14_600);
        }
        assert_eq!(
            AnyCongestion::new(CongestionAlgorithm::Cubic, 1000),
            Cubic::new(1000).into()
        );
    }

    #[test]
    fn switching_keeps_the_window() {
        // Before data: a fresh controller with the MSS (and a lost
        // handshake's window).
        let mut cc = AnyCongestion::new_reno(1000);
        cc.on_handshake_loss();
        cc.switch_to(CongestionAlgorithm::Cubic);
        assert_eq!(cc.algorithm(), CongestionAlgorithm::Cubic);
        assert_eq!((cc.mss(), cc.window()), (1000, 1000));
        cc.set_mss(1460);
        assert_eq!(cc.window(), 1460);
        // During the transfer: cwnd and ssthresh carry over.
        let mut cc = AnyCongestion::cubic(1000);
        cc.on_retransmit_timeout(20_000);
        cc.on_ack_event(&ack(1000, 1000));
        assert_eq!((cc.window(), cc.ssthresh()), (2000, 7000));
        cc.switch_to(CongestionAlgorithm::NewReno);
        assert_eq!(cc.algorithm(), CongestionAlgorithm::NewReno);
        assert_eq!((cc.window(), cc.ssthresh()), (2000, 7000));
        // No longer re-derived from the MSS.
        cc.set_mss(500);
        assert_eq!(cc.window(), 2000);
        // The same algorithm: nothing changes.
        let before = cc;
        cc.switch_to(CongestionAlgorithm::NewReno);
        assert_eq!(cc, before);
    }

    #[test]
    fn window_limited_rules() {
        // Slow start: half the window in flight is enough.
        assert!(window_limited(5000, 10_000, 1000, true));
        assert!(!window_limited(4999, 10_000, 1000, true));
        // Congestion avoidance: all but one segment.
        assert!(window_limited(9000, 10_000, 1000, false));
        assert!(!window_limited(8999, 10_000, 1000, false));
        assert!(window_limited(usize::MAX, usize::MAX, usize::MAX, true));
    }

    #[test]
    fn any_congestion_delegates() {
        let mut any = AnyCongestion::new_reno(1000);
        let mut plain = NewReno::new(1000);
        assert_eq!(any, AnyCongestion::from(plain));
        any.set_mss(1460);
        plain.set_mss(1460);
        any.on_handshake_loss();
        plain.on_handshake_loss();
        any.on_retransmit_timeout(3000);
        plain.on_retransmit_timeout(3000);
        any.on_idle_restart();
        plain.on_idle_restart();
        assert_eq!(any, AnyCongestion::NewReno(plain));
        assert_eq!((any.window(), any.ssthresh()), (1460, 2920));
        let ack = ack(1460, 1460);
        any.on_ack_event(&ack);
        plain.on_ack_event(&ack);
        any.on_congestion_event(T, 2920, CongestionCause::Loss);
        plain.on_congestion_event(T, 2920, CongestionCause::Loss);
        any.set_window(2000);
        plain.set_window(2000);
        any.on_recovery_end(T);
        plain.on_recovery_end(T);
        any.on_undo();
        plain.on_undo();
        assert_eq!(any, AnyCongestion::NewReno(plain));
        assert_eq!((any.window(), any.ssthresh()), (2920, 2920));
    }
}
