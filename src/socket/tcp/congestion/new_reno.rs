//! NewReno: RFC 5681 slow start and congestion avoidance with RFC 3465
//! byte counting, RFC 6582's loss response.

use super::hystart::{CSS_GROWTH_DIVISOR, HyStart, HyStartGrowth};
use super::{
    AckEvent, CongestionCause, CongestionControl, INITIAL_SSTHRESH, PriorWindow, initial_window,
    slow_start, window_limited,
};
use crate::time::Instant;

/// NewReno (RFC 5681 + RFC 6582), with RFC 3465 byte counting and HyStart++
/// (RFC 9406) in the first slow start.
///
/// The initial window depends on the MSS, which the handshake settles.
/// Until the first event of the data transfer (any `on_*` call except
/// `on_handshake_loss`), `set_mss` re-derives cwnd as the initial window;
/// from then on, data has been sent and cwnd moves only with events. The
/// socket must therefore not report the ACK of its SYN as `on_ack` (it
/// acknowledges no data, and RFC 5681 grows cwnd by data only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewReno {
    cwnd: usize,
    ssthresh: usize,
    mss: usize,
    /// Whether a data-transfer event has happened (see the type's docs).
    transferring: bool,
    /// Whether the SYN or SYN-ACK was retransmitted (IW = 1 segment).
    handshake_lost: bool,
    /// Bytes acknowledged in congestion avoidance since cwnd last grew
    /// (RFC 3465 section 2.1: one SMSS per cwnd of acknowledged bytes).
    avoidance_acked: usize,
    /// cwnd and ssthresh before the last reduction, while it may still be
    /// undone.
    prior: Option<PriorWindow>,
    /// Between `on_congestion_event` and `on_recovery_end`.
    in_recovery: bool,
    /// A timeout happened and no ACK of new data has come since: a further
    /// timeout is the same episode (RFC 5681 section 3.1 holds ssthresh for
    /// a retransmission lost again; the undo state stays the first one's).
    timed_out: bool,
    /// HyStart++ in the first slow start (RFC 9406).
    hystart: HyStart,
}

impl NewReno {
    /// NewReno for a sender MSS of `mss`, with ssthresh initially "arbitrarily
    /// high" (RFC 5681 3.1).
    ///
    /// An MSS of 0 is taken as 1, so every window stays positive.
    pub fn new(mss: usize) -> Self {
        let mss = mss.max(1);
        NewReno {
            cwnd: initial_window(mss),
            ssthresh: INITIAL_SSTHRESH,
            mss,
            transferring: false,
            handshake_lost: false,
            avoidance_acked: 0,
            prior: None,
            in_recovery: false,
            timed_out: false,
            hystart: HyStart::new(),
        }
    }

    /// The sender MSS (SMSS) in bytes.
    pub fn mss(&self) -> usize {
        self.mss
    }

    /// Whether the data transfer has begun (the initial window is fixed).
    pub fn transferring(&self) -> bool {
        self.transferring
    }

    /// Takes over a connection's window from another algorithm: cwnd and
    /// ssthresh as given (cwnd at least one segment), the transfer begun.
    pub fn take_over(&mut self, cwnd: usize, ssthresh: usize) {
        self.transferring = true;
        self.cwnd = cwnd.max(self.mss);
        self.ssthresh = ssthresh.max(self.mss);
        self.hystart.finish();
    }

    /// The HyStart++ detector.
    pub fn hystart(&self) -> &HyStart {
        &self.hystart
    }

    /// The initial window for the current MSS, one segment after a lost
    /// handshake segment (RFC 5681 3.1) or RFC 6928's otherwise.
    fn initial_window(&self) -> usize {
        if self.handshake_lost {
            self.mss
        } else {
            initial_window(self.mss)
        }
    }

    /// ssthresh after a loss, RFC 5681 equation (4):
    /// max(FlightSize / 2, 2 * SMSS).
    fn loss_ssthresh(&self, flight_size: usize) -> usize {
        (flight_size / 2).max(self.mss.saturating_mul(2))
    }

    /// The window and threshold now, as undo would restore them.
    fn current(&self) -> PriorWindow {
        PriorWindow {
            cwnd: self.cwnd,
            ssthresh: self.ssthresh,
        }
    }
}

impl CongestionControl for NewReno {
    fn window(&self) -> usize {
        self.cwnd
    }

    fn ssthresh(&self) -> usize {
        self.ssthresh
    }

    fn set_mss(&mut self, mss: usize) {
        self.mss = mss.max(1);
        if !self.transferring {
            self.cwnd = self.initial_window();
        }
    }

    /// Slow start while cwnd < ssthresh: cwnd += bytes_acked, every byte
    /// the ACK covers however many segments that is (RFC 3465 byte
    /// counting without a per-ACK limit, as Linux counts; see the
    /// [module docs](super)), up to ssthresh; the bytes beyond ssthresh
    /// count for congestion avoidance: cwnd += SMSS for every cwnd bytes
    /// acknowledged (RFC 3465 section 2.1, RFC 5681 section 3.1). A sender
    /// that did not use its window does not grow it (RFC 7661).
    fn on_ack_event(&mut self, ack: &AckEvent) {
        self.transferring = true;
        self.timed_out = false;
        let mut growth = HyStartGrowth::SlowStart;
        if self.cwnd < self.ssthresh {
            growth = self.hystart.on_ack(ack);
            if growth == HyStartGrowth::EnterAvoidance {
                // HyStart++ ends slow start (RFC 9406 section 4.2).
                self.ssthresh = self.cwnd;
            }
        }
        let mut acked = ack.bytes_acked;
        let slow = self.cwnd < self.ssthresh;
        if acked == 0 || !window_limited(ack.flight_size, self.cwnd, self.mss, slow) {
            return;
        }
        if slow {
            let divisor = if growth == HyStartGrowth::Conservative {
                CSS_GROWTH_DIVISOR
            } else {
                1
            };
            acked = slow_start(&mut self.cwnd, self.ssthresh, acked, divisor);
        }
        if acked > 0 && self.cwnd >= self.ssthresh {
            self.avoidance_acked = self.avoidance_acked.saturating_add(acked);
            let cwnd = self.cwnd.max(1);
            let segments = self.avoidance_acked / cwnd;
            self.avoidance_acked %= cwnd;
            self.cwnd = self.cwnd.saturating_add(segments.saturating_mul(self.mss));
        }
    }

    /// ssthresh = max(FlightSize / 2, 2 * SMSS) (RFC 5681 equation 4, for
    /// an ECN-Echo too: RFC 3168 section 6.1.2). A second event before the
    /// recovery ends changes nothing but the undo state: an ECN-Echo means
    /// the congestion is real, so it cannot be undone.
    fn on_congestion_event(&mut self, _now: Instant, flight_size: usize, cause: CongestionCause) {
        self.transferring = true;
        self.hystart.finish();
        if !self.in_recovery {
            if !self.timed_out {
                self.prior = Some(self.current());
            }
            self.ssthresh = self.loss_ssthresh(flight_size);
            self.in_recovery = true;
        }
        if cause == CongestionCause::Ecn {
            self.prior = None;
        }
        self.avoidance_acked = 0;
    }

    fn set_window(&mut self, cwnd: usize) {
        self.transferring = true;
        self.cwnd = cwnd.max(self.mss);
    }

    /// cwnd = ssthresh (RFC 6937 section 3.1).
    fn on_recovery_end(&mut self, _now: Instant) {
        if self.in_recovery {
            self.in_recovery = false;
            self.cwnd = self.ssthresh.max(self.mss);
            self.avoidance_acked = 0;
        }
    }

    /// cwnd = max(cwnd, prior cwnd), ssthresh = max(ssthresh, prior
    /// ssthresh) (RFC 4015 section 3), ending any recovery in progress.
    fn on_undo(&mut self) {
        if let Some(prior) = self.prior.take() {
            self.cwnd = self.cwnd.max(prior.cwnd);
            self.ssthresh = self.ssthresh.max(prior.ssthresh);
            self.in_recovery = false;
            self.timed_out = false;
            self.avoidance_acked = 0;
        }
    }

    /// ssthresh = max(FlightSize/2, 2*SMSS) (equation 4); cwnd = the loss
    /// window, 1 SMSS (RFC 5681 3.1). During a recovery, or after a timeout
    /// with no ACK since, ssthresh stays: the episode's reduction is made.
    fn on_retransmit_timeout(&mut self, flight_size: usize) {
        self.transferring = true;
        if !self.in_recovery && !self.timed_out {
            self.prior = Some(self.current());
            self.ssthresh = self.loss_ssthresh(flight_size);
        }
        self.in_recovery = false;
        self.timed_out = true;
        self.avoidance_acked = 0;
        self.hystart.finish();
        self.cwnd = self.mss;
    }

    /// cwnd = min(cwnd, RW) with the restart window RW = IW (RFC 5681 4.1).
    fn on_idle_restart(&mut self) {
        self.transferring = true;
        self.cwnd = self.cwnd.min(self.initial_window());
    }

    fn on_handshake_loss(&mut self) {
        if !self.transferring {
            self.handshake_lost = true;
            self.cwnd = self.initial_window();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Duration;
    use crate::wire::SeqNumber;

    const T: Instant = Instant::ZERO;

    #[test]
    fn starts_with_the_initial_window() {
        let cc = NewReno::new(1460);
        assert_eq!((cc.window(), cc.ssthresh()), (14_600, INITIAL_SSTHRESH));
    }

    #[test]
    fn set_mss_sets_iw_only_before_transfer() {
        let mut cc = NewReno::new(536);
        assert_eq!(cc.window(), 5_360);
        cc.set_mss(1460);
        assert_eq!((cc.window(), cc.mss()), (14_600, 1460));
        cc.on_ack_event(&ack(1460, 14_600));
        assert_eq!(cc.window(), 16_060);
        // Data has flowed: the MSS changes, cwnd does not.
        cc.set_mss(536);
        assert_eq!((cc.window(), cc.mss()), (16_060, 536));
        // Bytes count, not segments of the new MSS.
        cc.on_ack_event(&ack(1460, 14_600));
        assert_eq!(cc.window(), 17_520);
    }

    #[test]
    fn zero_mss_is_one() {
        let mut cc = NewReno::new(0);
        assert_eq!((cc.mss(), cc.window()), (1, 10));
        cc.set_mss(0);
        assert_eq!(cc.mss(), 1);
    }

    #[test]
    fn handshake_loss_gives_one_segment() {
        let mut cc = NewReno::new(536);
        cc.on_handshake_loss();
        assert_eq!(cc.window(), 536);
        cc.set_mss(1460);
        assert_eq!(cc.window(), 1460);
        // The restart window after idle is that one segment too.
        cc.on_ack_event(&ack(1460, 1460));
        assert_eq!(cc.window(), 2920);
        cc.on_idle_restart();
        assert_eq!(cc.window(), 1460);
        // Too late once the transfer has begun.
        let mut cc = NewReno::new(1460);
        cc.on_ack_event(&ack(100, 14_600));
        cc.on_handshake_loss();
        assert_eq!(cc.window(), 14_700);
    }

    #[test]
    fn loss_ssthresh_floor_is_two_segments() {
        let mut cc = NewReno::new(1460);
        cc.on_congestion_event(T, 1460, CongestionCause::Loss);
        assert_eq!((cc.ssthresh(), cc.window()), (2920, 14_600));
        cc.on_retransmit_timeout(0);
        assert_eq!((cc.ssthresh(), cc.window()), (2920, 1460));
    }

    #[test]
    fn retransmit_timeout() {
        let mut cc = NewReno::new(1460);
        cc.on_retransmit_timeout(14_600);
        assert_eq!((cc.window(), cc.ssthresh()), (1460, 7300));
        // Slow start again from one segment.
        cc.on_ack_event(&ack(1460, 1460));
        assert_eq!(cc.window(), 2920);
    }

    #[test]
    fn idle_restart_caps_at_iw() {
        let mut cc = NewReno::new(1000);
        for _ in 0..20 {
            let flight = cc.window();
            cc.on_ack_event(&ack(1000, flight));
        }
        assert_eq!(cc.window(), 30_000);
        cc.on_idle_restart();
        assert_eq!(cc.window(), 10_000);
        // A window already below the restart window is kept.
        cc.on_retransmit_timeout(10_000);
        cc.on_idle_restart();
        assert_eq!(cc.window(), 1000);
    }

    #[test]
    fn saturates_instead_of_overflowing() {
        let mut cc = NewReno::new(usize::MAX);
        cc.on_congestion_event(T, usize::MAX, CongestionCause::Loss);
        assert_eq!(cc.window(), usize::MAX);
        cc.on_ack_event(&ack(usize::MAX, usize::MAX));
        assert_eq!(cc.window(), usize::MAX);
        // ssthresh = max(FlightSize / 2, 2 * SMSS) saturates too.
        cc.on_recovery_end(T);
        assert_eq!((cc.window(), cc.ssthresh()), (usize::MAX, usize::MAX));
    }

    /// An ACK of `bytes` with `flight` bytes in flight before it.
    fn ack(bytes: usize, flight: usize) -> AckEvent {
        AckEvent {
            now: T,
            bytes_acked: bytes,
            flight_size: flight,
            rtt: Some(Duration::from_millis(10)),
            snd_una: SeqNumber(0),
            snd_nxt: SeqNumber(0),
        }
    }

    #[test]
    fn ack_event_slow_start_counts_every_byte() {
        let mut cc = NewReno::new(1000);
        // A delayed ACK of two segments grows cwnd by two (RFC 3465).
        cc.on_ack_event(&ack(2000, 10_000));
        assert_eq!(cc.window(), 12_000);
        // A stretch ACK of 20 segments (a GRO aggregate) grows it by 20:
        // there is no per-ACK limit.
        cc.on_ack_event(&ack(20_000, 12_000));
        assert_eq!(cc.window(), 32_000);
        // One of 45 segments, by 45.
        cc.on_ack_event(&ack(45_000, 32_000));
        assert_eq!(cc.window(), 77_000);
        // Nothing acknowledged, nothing grows.
        cc.on_ack_event(&ack(0, 77_000));
        assert_eq!(cc.window(), 77_000);
    }

    #[test]
    fn ack_event_does_not_grow_an_unused_window() {
        let mut cc = NewReno::new(1000);
        // Slow start: less than half the window was in flight.
        cc.on_ack_event(&ack(1000, 4999));
        assert_eq!(cc.window(), 10_000);
        cc.on_ack_event(&ack(1000, 5000));
        assert_eq!(cc.window(), 11_000);
        // Congestion avoidance: more than one segment unused.
        cc.on_congestion_event(T, 20_000, CongestionCause::Loss);
        cc.on_recovery_end(T);
        assert_eq!(cc.window(), 10_000);
        for _ in 0..20 {
            cc.on_ack_event(&ack(1000, 8999));
        }
        assert_eq!(cc.window(), 10_000);
        for _ in 0..10 {
            cc.on_ack_event(&ack(1000, 9000));
        }
        assert_eq!(cc.window(), 11_000);
    }

    #[test]
    fn ack_event_congestion_avoidance_one_segment_per_window() {
        let mut cc = NewReno::new(1000);
        cc.on_congestion_event(T, 8000, CongestionCause::Loss);
        cc.on_recovery_end(T);
        assert_eq!((cc.window(), cc.ssthresh()), (4000, 4000));
        // 3999 bytes: not yet a window's worth.
        cc.on_ack_event(&ack(3999, 4000));
        assert_eq!(cc.window(), 4000);
        cc.on_ack_event(&ack(1, 4000));
        assert_eq!(cc.window(), 5000);
        // A stretch ACK of two windows grows by two segments at once.
        cc.on_ack_event(&ack(10_000, 5000));
        assert_eq!(cc.window(), 7000);
    }

    #[test]
    fn ack_event_slow_start_overflow_goes_to_avoidance() {
        let mut cc = NewReno::new(1000);
        cc.on_retransmit_timeout(9000);
        assert_eq!((cc.window(), cc.ssthresh()), (1000, 4500));
        cc.on_ack_event(&ack(1000, 1000));
        cc.on_ack_event(&ack(2000, 2000));
        assert_eq!(cc.window(), 4000);
        // 500 bytes reach ssthresh, the other 4000 count for avoidance:
        // not a whole window (4500) yet.
        cc.on_ack_event(&ack(4500, 4000));
        assert_eq!(cc.window(), 4500);
        cc.on_ack_event(&ack(500, 4500));
        assert_eq!(cc.window(), 5500);
    }

    #[test]
    fn congestion_event_sets_ssthresh_and_prr_moves_cwnd() {
        let mut cc = NewReno::new(1000);
        cc.on_ack_event(&ack(2000, 10_000));
        cc.on_congestion_event(T, 12_000, CongestionCause::Loss);
        // ssthresh = FlightSize / 2; cwnd untouched until PRR sets it.
        assert_eq!((cc.window(), cc.ssthresh()), (12_000, 6000));
        cc.set_window(9000);
        assert_eq!(cc.window(), 9000);
        // Never below one segment.
        cc.set_window(10);
        assert_eq!(cc.window(), 1000);
        // A second event in the same recovery changes nothing.
        cc.on_congestion_event(T, 2000, CongestionCause::Loss);
        assert_eq!(cc.ssthresh(), 6000);
        cc.on_recovery_end(T);
        assert_eq!(cc.window(), 6000);
        // A recovery end outside recovery is ignored.
        cc.set_window(3000);
        cc.on_recovery_end(T);
        assert_eq!(cc.window(), 3000);
        // The floor of two segments.
        let mut cc = NewReno::new(1000);
        cc.on_congestion_event(T, 1000, CongestionCause::Loss);
        assert_eq!(cc.ssthresh(), 2000);
    }

    #[test]
    fn undo_restores_the_window_before_the_recovery() {
        let mut cc = NewReno::new(1000);
        cc.on_congestion_event(T, 10_000, CongestionCause::Loss);
        cc.set_window(7000);
        cc.on_recovery_end(T);
        assert_eq!((cc.window(), cc.ssthresh()), (5000, 5000));
        cc.on_undo();
        assert_eq!((cc.window(), cc.ssthresh()), (10_000, INITIAL_SSTHRESH));
        // Only once.
        cc.set_window(4000);
        cc.on_undo();
        assert_eq!(cc.window(), 4000);
        // Undo during the recovery ends it.
        let mut cc = NewReno::new(1000);
        cc.on_congestion_event(T, 10_000, CongestionCause::Loss);
        cc.set_window(8000);
        cc.on_undo();
        cc.on_recovery_end(T);
        assert_eq!((cc.window(), cc.ssthresh()), (10_000, INITIAL_SSTHRESH));
        // A window grown past the prior one is kept.
        let mut cc = NewReno::new(1000);
        cc.on_congestion_event(T, 10_000, CongestionCause::Loss);
        cc.on_recovery_end(T);
        cc.set_window(12_000);
        cc.on_undo();
        assert_eq!((cc.window(), cc.ssthresh()), (12_000, INITIAL_SSTHRESH));
    }

    #[test]
    fn ecn_reduction_is_not_undone() {
        let mut cc = NewReno::new(1000);
        cc.on_congestion_event(T, 10_000, CongestionCause::Ecn);
        cc.on_recovery_end(T);
        assert_eq!((cc.window(), cc.ssthresh()), (5000, 5000));
        cc.on_undo();
        assert_eq!((cc.window(), cc.ssthresh()), (5000, 5000));
        // An ECN-Echo during a loss recovery makes it real too.
        let mut cc = NewReno::new(1000);
        cc.on_congestion_event(T, 10_000, CongestionCause::Loss);
        cc.on_congestion_event(T, 10_000, CongestionCause::Ecn);
        cc.on_recovery_end(T);
        cc.on_undo();
        assert_eq!((cc.window(), cc.ssthresh()), (5000, 5000));
    }

    #[test]
    fn timeout_undo_and_repeated_timeouts() {
        let mut cc = NewReno::new(1000);
        cc.on_ack_event(&ack(2000, 10_000));
        cc.on_retransmit_timeout(12_000);
        assert_eq!((cc.window(), cc.ssthresh()), (1000, 6000));
        // The backed-off second timeout keeps ssthresh and the undo state.
        cc.on_retransmit_timeout(1000);
        assert_eq!((cc.window(), cc.ssthresh()), (1000, 6000));
        cc.on_undo();
        assert_eq!((cc.window(), cc.ssthresh()), (12_000, INITIAL_SSTHRESH));
        // After progress, a new timeout is a new episode.
        cc.on_retransmit_timeout(12_000);
        cc.on_ack_event(&ack(1000, 1000));
        cc.on_retransmit_timeout(4000);
        assert_eq!((cc.window(), cc.ssthresh()), (1000, 2000));
        // A timeout during recovery keeps the recovery's ssthresh, and undo
        // returns to the window before the recovery.
        let mut cc = NewReno::new(1000);
        cc.on_congestion_event(T, 10_000, CongestionCause::Loss);
        cc.set_window(3000);
        cc.on_retransmit_timeout(3000);
        assert_eq!((cc.window(), cc.ssthresh()), (1000, 5000));
        cc.on_recovery_end(T);
        assert_eq!(cc.window(), 1000);
        cc.on_undo();
        assert_eq!((cc.window(), cc.ssthresh()), (10_000, INITIAL_SSTHRESH));
    }
}
