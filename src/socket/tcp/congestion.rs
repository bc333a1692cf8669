//! Congestion control behind a small trait (RFC 5681, RFC 6928, RFC 6582).
//!
//! The socket detects the events (ACKs of new data, the third duplicate
//! ACK, partial and full ACKs during recovery, timeouts, idle restarts) and
//! reports them here; the algorithm only moves cwnd and ssthresh. All
//! arithmetic saturates, so no sequence of events can overflow.

use crate::time::Instant;

/// A congestion control algorithm. The socket counts duplicate ACKs and
/// keeps the recovery point; the algorithm owns cwnd and ssthresh.
pub trait CongestionControl {
    /// cwnd in bytes.
    fn window(&self) -> usize;
    /// ssthresh in bytes.
    fn ssthresh(&self) -> usize;
    /// Sets the sender MSS; before any data is sent this also sets the
    /// initial window (RFC 6928: min(10*MSS, max(2*MSS, 14600))).
    fn set_mss(&mut self, mss: usize);
    /// New data was acknowledged outside fast recovery (RFC 5681 3.1:
    /// slow start below ssthresh, congestion avoidance above).
    fn on_ack(&mut self, now: Instant, bytes_acked: usize, flight_size: usize);
    /// The third duplicate ACK: fast retransmit, enter fast recovery
    /// (RFC 5681 3.2 steps 2-3).
    fn on_fast_retransmit(&mut self, flight_size: usize);
    /// A further duplicate ACK in fast recovery (RFC 5681 3.2 step 4).
    fn on_dup_ack_in_recovery(&mut self);
    /// A partial ACK in fast recovery (RFC 6582 3.2 step 3).
    fn on_partial_ack(&mut self, bytes_acked: usize);
    /// A full ACK ends fast recovery (RFC 6582 3.2 step 3, full ACK).
    fn on_recovery_exit(&mut self, flight_size: usize);
    /// A retransmission timeout (RFC 5681 3.1, equation 4; cwnd = 1 MSS).
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

/// NewReno (RFC 5681 + RFC 6582).
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
        }
    }

    /// The sender MSS (SMSS) in bytes.
    pub fn mss(&self) -> usize {
        self.mss
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

    /// Slow start while cwnd < ssthresh: cwnd += min(bytes_acked, SMSS)
    /// (RFC 5681 equation 2). Congestion avoidance from cwnd >= ssthresh
    /// (RFC 5681 allows either at equality): cwnd += SMSS*SMSS/cwnd, at
    /// least 1 byte (equation 3). An ACK of no new data changes nothing.
    fn on_ack(&mut self, _now: Instant, bytes_acked: usize, _flight_size: usize) {
        self.transferring = true;
        if bytes_acked == 0 {
            return;
        }
        let increase = if self.cwnd < self.ssthresh {
            bytes_acked.min(self.mss)
        } else {
            (self.mss.saturating_mul(self.mss) / self.cwnd.max(1)).max(1)
        };
        self.cwnd = self.cwnd.saturating_add(increase);
    }

    /// ssthresh = max(FlightSize/2, 2*SMSS); cwnd = ssthresh + 3*SMSS, the
    /// three segments the duplicate ACKs say have left the network.
    fn on_fast_retransmit(&mut self, flight_size: usize) {
        self.transferring = true;
        self.ssthresh = self.loss_ssthresh(flight_size);
        self.cwnd = self.ssthresh.saturating_add(self.mss.saturating_mul(3));
    }

    /// cwnd += SMSS: one more segment has left the network.
    fn on_dup_ack_in_recovery(&mut self) {
        self.transferring = true;
        self.cwnd = self.cwnd.saturating_add(self.mss);
    }

    /// Deflates cwnd by the newly acknowledged bytes, then adds back SMSS if
    /// at least SMSS bytes were acknowledged (RFC 6582 3.2 step 3), so about
    /// ssthresh bytes stay in flight once recovery ends.
    fn on_partial_ack(&mut self, bytes_acked: usize) {
        self.transferring = true;
        self.cwnd = self.cwnd.saturating_sub(bytes_acked);
        if bytes_acked >= self.mss {
            self.cwnd = self.cwnd.saturating_add(self.mss);
        }
    }

    /// cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS) (RFC 6582 3.2
    /// step 3, full ACK, option 1), which avoids a burst when little data
    /// is outstanding.
    fn on_recovery_exit(&mut self, flight_size: usize) {
        self.transferring = true;
        let deflated = flight_size.max(self.mss).saturating_add(self.mss);
        self.cwnd = self.ssthresh.min(deflated);
    }

    /// ssthresh = max(FlightSize/2, 2*SMSS) (equation 4); cwnd = the loss
    /// window, 1 SMSS (RFC 5681 3.1).
    fn on_retransmit_timeout(&mut self, flight_size: usize) {
        self.transferring = true;
        self.ssthresh = self.loss_ssthresh(flight_size);
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

/// Every congestion control algorithm pollnet offers, as one concrete type
/// the socket can hold without generics or allocation. New algorithms
/// (CUBIC) become new variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnyCongestion {
    /// NewReno (RFC 5681 + RFC 6582).
    NewReno(NewReno),
}

impl AnyCongestion {
    /// NewReno for a sender MSS of `mss`: the default algorithm.
    pub fn new_reno(mss: usize) -> Self {
        AnyCongestion::NewReno(NewReno::new(mss))
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

    fn on_ack(&mut self, now: Instant, bytes_acked: usize, flight_size: usize) {
        delegate!(self, cc => cc.on_ack(now, bytes_acked, flight_size))
    }

    fn on_fast_retransmit(&mut self, flight_size: usize) {
        delegate!(self, cc => cc.on_fast_retransmit(flight_size))
    }

    fn on_dup_ack_in_recovery(&mut self) {
        delegate!(self, cc => cc.on_dup_ack_in_recovery())
    }

    fn on_partial_ack(&mut self, bytes_acked: usize) {
        delegate!(self, cc => cc.on_partial_ack(bytes_acked))
    }

    fn on_recovery_exit(&mut self, flight_size: usize) {
        delegate!(self, cc => cc.on_recovery_exit(flight_size))
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
        let cc = NewReno::new(1460);
        assert_eq!((cc.window(), cc.ssthresh()), (14_600, INITIAL_SSTHRESH));
        assert_eq!(INITIAL_SSTHRESH, 1_073_725_440);
    }

    #[test]
    fn set_mss_sets_iw_only_before_transfer() {
        let mut cc = NewReno::new(536);
        assert_eq!(cc.window(), 5_360);
        cc.set_mss(1460);
        assert_eq!((cc.window(), cc.mss()), (14_600, 1460));
        cc.on_ack(T, 1460, 14_600);
        assert_eq!(cc.window(), 16_060);
        // Data has flowed: the MSS changes, cwnd does not.
        cc.set_mss(536);
        assert_eq!((cc.window(), cc.mss()), (16_060, 536));
        cc.on_ack(T, 1460, 14_600);
        assert_eq!(cc.window(), 16_596);
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
        cc.on_ack(T, 1460, 1460);
        assert_eq!(cc.window(), 2920);
        cc.on_idle_restart();
        assert_eq!(cc.window(), 1460);
        // Too late once the transfer has begun.
        let mut cc = NewReno::new(1460);
        cc.on_ack(T, 100, 1000);
        cc.on_handshake_loss();
        assert_eq!(cc.window(), 14_700);
    }

    #[test]
    fn slow_start_adds_at_most_one_smss_per_ack() {
        let mut cc = NewReno::new(1000);
        assert_eq!(cc.window(), 10_000);
        cc.on_ack(T, 500, 10_000);
        assert_eq!(cc.window(), 10_500);
        // A stretch ACK of 3 segments still grows by 1 SMSS (RFC 5681 eq. 2).
        cc.on_ack(T, 3000, 10_000);
        assert_eq!(cc.window(), 11_500);
        // No new data, no growth.
        cc.on_ack(T, 0, 10_000);
        assert_eq!(cc.window(), 11_500);
    }

    #[test]
    fn congestion_avoidance_byte_counting() {
        let mut cc = NewReno::new(1000);
        cc.on_retransmit_timeout(8000);
        assert_eq!((cc.window(), cc.ssthresh()), (1000, 4000));
        // Slow start up to ssthresh.
        cc.on_ack(T, 1000, 1000);
        cc.on_ack(T, 1000, 2000);
        cc.on_ack(T, 1000, 2000);
        assert_eq!(cc.window(), 4000);
        // At cwnd == ssthresh, congestion avoidance: 1000*1000/4000 = 250.
        cc.on_ack(T, 1000, 4000);
        assert_eq!(cc.window(), 4250);
        // 1_000_000 / 4250 = 235 (truncated).
        cc.on_ack(T, 1000, 4000);
        assert_eq!(cc.window(), 4485);
        // Per ACK, whatever its size.
        cc.on_ack(T, 1, 4000);
        assert_eq!(cc.window(), 4485 + 1_000_000 / 4485);
    }

    #[test]
    fn congestion_avoidance_grows_at_least_one_byte() {
        let mut cc = NewReno::new(10);
        cc.on_fast_retransmit(2_000_000);
        cc.on_recovery_exit(2_000_000);
        assert_eq!((cc.window(), cc.ssthresh()), (1_000_000, 1_000_000));
        // 10*10 / 1_000_000 = 0, so the floor of 1 byte applies.
        cc.on_ack(T, 10, 1_000_000);
        assert_eq!(cc.window(), 1_000_001);
    }

    #[test]
    fn fast_retransmit_and_recovery() {
        let mut cc = NewReno::new(1000);
        cc.on_ack(T, 1000, 10_000);
        assert_eq!(cc.window(), 11_000);
        // Third duplicate ACK with 11 segments in flight.
        cc.on_fast_retransmit(11_000);
        assert_eq!(cc.ssthresh(), 5_500);
        assert_eq!(cc.window(), 8_500);
        // Each further duplicate inflates by one SMSS.
        cc.on_dup_ack_in_recovery();
        cc.on_dup_ack_in_recovery();
        assert_eq!(cc.window(), 10_500);
        // Partial ACK of 2 segments: deflate by 2000, add back 1000.
        cc.on_partial_ack(2000);
        assert_eq!(cc.window(), 9_500);
        // Partial ACK of less than one SMSS: deflate only.
        cc.on_partial_ack(400);
        assert_eq!(cc.window(), 9_100);
        // Full ACK with 3000 bytes still in flight: min(5500, 3000 + 1000).
        cc.on_recovery_exit(3000);
        assert_eq!((cc.window(), cc.ssthresh()), (4_000, 5_500));
        // Full ACK with much in flight: ssthresh.
        cc.on_fast_retransmit(20_000);
        cc.on_recovery_exit(20_000);
        assert_eq!((cc.window(), cc.ssthresh()), (10_000, 10_000));
        // Full ACK with nothing in flight: max(0, SMSS) + SMSS.
        cc.on_fast_retransmit(20_000);
        cc.on_recovery_exit(0);
        assert_eq!(cc.window(), 2_000);
    }

    #[test]
    fn loss_ssthresh_floor_is_two_segments() {
        let mut cc = NewReno::new(1460);
        cc.on_fast_retransmit(1460);
        assert_eq!((cc.ssthresh(), cc.window()), (2920, 2920 + 3 * 1460));
        cc.on_retransmit_timeout(0);
        assert_eq!((cc.ssthresh(), cc.window()), (2920, 1460));
    }

    #[test]
    fn partial_ack_larger_than_cwnd_saturates() {
        let mut cc = NewReno::new(1000);
        cc.on_fast_retransmit(4000);
        assert_eq!(cc.window(), 5000);
        cc.on_partial_ack(7000);
        assert_eq!(cc.window(), 1000);
    }

    #[test]
    fn retransmit_timeout() {
        let mut cc = NewReno::new(1460);
        cc.on_retransmit_timeout(14_600);
        assert_eq!((cc.window(), cc.ssthresh()), (1460, 7300));
        // Slow start again from one segment.
        cc.on_ack(T, 1460, 1460);
        assert_eq!(cc.window(), 2920);
    }

    #[test]
    fn idle_restart_caps_at_iw() {
        let mut cc = NewReno::new(1000);
        for _ in 0..20 {
            cc.on_ack(T, 1000, 10_000);
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
        cc.on_fast_retransmit(usize::MAX);
        assert_eq!(cc.window(), usize::MAX);
        cc.on_dup_ack_in_recovery();
        cc.on_ack(T, usize::MAX, usize::MAX);
        assert_eq!(cc.window(), usize::MAX);
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
        any.on_ack(T, 1460, 1460);
        plain.on_ack(T, 1460, 1460);
        any.on_fast_retransmit(5000);
        plain.on_fast_retransmit(5000);
        any.on_dup_ack_in_recovery();
        plain.on_dup_ack_in_recovery();
        any.on_partial_ack(1500);
        plain.on_partial_ack(1500);
        any.on_recovery_exit(1000);
        plain.on_recovery_exit(1000);
        any.on_retransmit_timeout(3000);
        plain.on_retransmit_timeout(3000);
        any.on_idle_restart();
        plain.on_idle_restart();
        assert_eq!(any, AnyCongestion::NewReno(plain));
        assert_eq!((any.window(), any.ssthresh()), (1460, 2920));
    }
}
