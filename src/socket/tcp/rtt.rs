//! Retransmission timeout estimation, RFC 6298.
//!
//! Integer arithmetic in microseconds. Each division by 2, 4 or 8 rounds
//! down (truncates), so SRTT and RTTVAR may sit up to a few microseconds
//! below the exact real-number values: three orders of magnitude below the
//! 1 ms clock granularity G that the RTO adds anyway.

use crate::time::Duration;

/// The clock granularity G of RFC 6298 section 2: the RTO is at least
/// SRTT + G even when the variance is tiny. Our clock ticks in
/// microseconds, but 1 ms keeps the RTO sane for delayed ACKs and jitter.
pub const CLOCK_GRANULARITY: Duration = Duration::from_millis(1);

/// The RTO data transmission starts with after a SYN timeout without an
/// RTT sample (RFC 6298 section 5.7).
pub const SYN_TIMEOUT_RTO: Duration = Duration::from_secs(3);

/// Samples are clamped to this (about 8.9 years) so the weighted sums
/// below cannot overflow a u64.
const MAX_SAMPLE_MICROS: u64 = 1 << 48;

/// SRTT/RTTVAR and the RTO with exponential backoff (RFC 6298).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RttEstimator {
    /// SRTT and RTTVAR in microseconds, once there is a sample.
    estimate: Option<(u64, u64)>,
    initial_rto: Duration,
    min_rto: Duration,
    max_rto: Duration,
    backoffs: u32,
}

impl RttEstimator {
    /// An estimator with no samples: RTO = `initial_rto` (RFC 6298 2.1),
    /// always clamped to `[min_rto, max_rto]` (if `min_rto > max_rto`,
    /// `max_rto` wins).
    pub fn new(initial_rto: Duration, min_rto: Duration, max_rto: Duration) -> Self {
        RttEstimator {
            estimate: None,
            initial_rto,
            min_rto,
            max_rto,
            backoffs: 0,
        }
    }

    /// Takes one RTT measurement (RFC 6298 2.2/2.3) and clears the backoff.
    /// Callers apply Karn's rule: never sample a retransmitted segment.
    ///
    /// First sample R: SRTT = R, RTTVAR = R/2. Later samples:
    /// RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R|, then SRTT = 7/8 SRTT + 1/8 R
    /// (RTTVAR first, with the old SRTT, as 2.3 orders them). RFC 6298
    /// section 5 step 5.7 lets the RTO collapse back once a new sample
    /// arrives, so the backoff is cleared here.
    pub fn sample(&mut self, rtt: Duration) {
        let r = rtt.total_micros().min(MAX_SAMPLE_MICROS);
        self.estimate = Some(match self.estimate {
            None => (r, r / 2),
            Some((srtt, rttvar)) => {
                let rttvar = (3 * rttvar + srtt.abs_diff(r)) / 4;
                let srtt = (7 * srtt + r) / 8;
                (srtt, rttvar)
            }
        });
        self.backoffs = 0;
    }

    /// The RTO before backoff and clamping: the initial RTO, or
    /// SRTT + max(G, 4 * RTTVAR) (RFC 6298 2.2/2.3).
    fn base_rto(&self) -> Duration {
        match self.estimate {
            None => self.initial_rto,
            Some((srtt, rttvar)) => {
                let spread = CLOCK_GRANULARITY.total_micros().max(4 * rttvar);
                Duration::from_micros(srtt + spread)
            }
        }
    }

    /// The current RTO, backoff included, clamped to `[min_rto, max_rto]`.
    ///
    /// The clamped base RTO is doubled once per backoff, saturating, and the
    /// result capped at `max_rto` (RFC 6298 2.4/2.5 and 5.5).
    pub fn rto(&self) -> Duration {
        let base = self.base_rto().max(self.min_rto).min(self.max_rto);
        let factor = 1u64.checked_shl(self.backoffs).unwrap_or(u64::MAX);
        let backed_off = base.total_micros().saturating_mul(factor);
        Duration::from_micros(backed_off).min(self.max_rto)
    }

    /// Doubles the RTO after a timeout (RFC 6298 5.5). Further calls once
    /// the RTO has reached `max_rto` still count, but change nothing else.
    pub fn backoff(&mut self) {
        self.backoffs = self.backoffs.saturating_add(1);
    }

    /// RFC 6298 section 5.7: data transmission begins after the SYN timed
    /// out and no RTT was measured, so an RTO below 3 s is re-initialized
    /// to 3 s (a backed-off RTO above that is kept) and the backoff is
    /// cleared. Does nothing once there is a sample.
    pub fn restart_after_syn_timeout(&mut self) {
        if self.estimate.is_some() {
            return;
        }
        self.initial_rto = self.rto().max(SYN_TIMEOUT_RTO);
        self.backoffs = 0;
    }

    /// Clears the backoff without a sample.
    pub fn reset_backoff(&mut self) {
        self.backoffs = 0;
    }

    /// How many times the RTO has been doubled since the last reset.
    pub fn backoff_count(&self) -> u32 {
        self.backoffs
    }

    /// The smoothed RTT, once there is a sample.
    pub fn srtt(&self) -> Option<Duration> {
        self.estimate.map(|(srtt, _)| Duration::from_micros(srtt))
    }

    /// The RTT variation, once there is a sample.
    pub fn rttvar(&self) -> Option<Duration> {
        self.estimate
            .map(|(_, rttvar)| Duration::from_micros(rttvar))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    /// RFC 6298 defaults: 1 s initial and minimum RTO, 60 s maximum.
    fn rfc() -> RttEstimator {
        RttEstimator::new(ms(1000), ms(1000), ms(60_000))
    }

    /// Linux-like bounds: 200 ms minimum, 120 s maximum.
    fn linux() -> RttEstimator {
        RttEstimator::new(ms(1000), ms(200), ms(120_000))
    }

    #[test]
    fn initial_rto_before_samples() {
        let est = rfc();
        assert_eq!(est.rto(), ms(1000));
        assert_eq!(est.srtt(), None);
        assert_eq!(est.rttvar(), None);
        assert_eq!(est.backoff_count(), 0);
        // The initial RTO is clamped too.
        assert_eq!(RttEstimator::new(ms(100), ms(200), ms(500)).rto(), ms(200));
        assert_eq!(RttEstimator::new(ms(900), ms(200), ms(500)).rto(), ms(500));
        // Inverted bounds: the maximum wins.
        assert_eq!(RttEstimator::new(ms(100), ms(800), ms(500)).rto(), ms(500));
    }

    #[test]
    fn first_sample() {
        let mut est = linux();
        est.sample(ms(100));
        assert_eq!(est.srtt(), Some(ms(100)));
        assert_eq!(est.rttvar(), Some(ms(50)));
        // 100 + max(1, 4 * 50) = 300 ms.
        assert_eq!(est.rto(), ms(300));
        // Under RFC bounds the 1 s minimum applies.
        let mut est = rfc();
        est.sample(ms(100));
        assert_eq!(est.rto(), ms(1000));
    }

    #[test]
    fn later_samples_exact_figures() {
        let mut est = linux();
        est.sample(ms(100));
        est.sample(ms(200));
        // RTTVAR = 3/4 * 50 + 1/4 * |100 - 200| = 37.5 + 25 = 62.5 ms.
        assert_eq!(est.rttvar(), Some(us(62_500)));
        // SRTT = 7/8 * 100 + 1/8 * 200 = 112.5 ms.
        assert_eq!(est.srtt(), Some(us(112_500)));
        // RTO = 112.5 + 4 * 62.5 = 362.5 ms.
        assert_eq!(est.rto(), us(362_500));
        est.sample(ms(50));
        // RTTVAR = (3 * 62_500 + |112_500 - 50_000|) / 4 = 250_000 / 4.
        assert_eq!(est.rttvar(), Some(us(62_500)));
        // SRTT = (7 * 112_500 + 50_000) / 8 = 837_500 / 8 = 104_687.5,
        // truncated.
        assert_eq!(est.srtt(), Some(us(104_687)));
        assert_eq!(est.rto(), us(104_687 + 250_000));
    }

    #[test]
    fn divisions_truncate() {
        let mut est = linux();
        est.sample(us(3));
        assert_eq!((est.srtt(), est.rttvar()), (Some(us(3)), Some(us(1))));
        est.sample(us(10));
        // RTTVAR = (3 * 1 + 7) / 4 = 2.5 -> 2; SRTT = (21 + 10) / 8 = 3.875 -> 3.
        assert_eq!((est.srtt(), est.rttvar()), (Some(us(3)), Some(us(2))));
    }

    #[test]
    fn granularity_floor_on_tiny_variance() {
        let mut est = RttEstimator::new(ms(1000), Duration::ZERO, ms(60_000));
        for _ in 0..40 {
            est.sample(ms(10));
        }
        // A steady RTT drives RTTVAR to zero; G keeps the RTO above SRTT.
        assert_eq!(est.rttvar(), Some(Duration::ZERO));
        assert_eq!(est.srtt(), Some(ms(10)));
        assert_eq!(est.rto(), ms(11));
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let mut est = RttEstimator::new(ms(1000), ms(1000), ms(10_000));
        est.backoff();
        assert_eq!((est.rto(), est.backoff_count()), (ms(2000), 1));
        est.backoff();
        assert_eq!(est.rto(), ms(4000));
        est.backoff();
        assert_eq!(est.rto(), ms(8000));
        est.backoff();
        assert_eq!(est.rto(), ms(10_000));
        for _ in 0..100 {
            est.backoff();
        }
        assert_eq!((est.rto(), est.backoff_count()), (ms(10_000), 104));
        est.reset_backoff();
        assert_eq!((est.rto(), est.backoff_count()), (ms(1000), 0));
        // An unbounded maximum saturates instead of overflowing.
        let mut est = RttEstimator::new(ms(1000), ms(1000), Duration::MAX);
        for _ in 0..200 {
            est.backoff();
        }
        assert_eq!(est.rto(), Duration::MAX);
    }

    #[test]
    fn sample_clears_backoff() {
        let mut est = linux();
        est.sample(ms(100));
        est.backoff();
        est.backoff();
        assert_eq!(est.rto(), ms(1200));
        est.sample(ms(100));
        // RTTVAR = 3/4 * 50 + 0 = 37.5 ms; RTO = 100 + 150 = 250 ms.
        assert_eq!(est.backoff_count(), 0);
        assert_eq!(est.rto(), ms(250));
    }

    #[test]
    fn restart_after_syn_timeout_is_at_least_3_s() {
        // One SYN timeout: 2 s, raised to 3 s, backoff cleared.
        let mut est = rfc();
        est.backoff();
        est.restart_after_syn_timeout();
        assert_eq!((est.rto(), est.backoff_count()), (ms(3000), 0));
        // Further timeouts double from there.
        est.backoff();
        assert_eq!(est.rto(), ms(6000));
        // Two timeouts: 4 s is kept.
        let mut est = rfc();
        est.backoff();
        est.backoff();
        est.restart_after_syn_timeout();
        assert_eq!((est.rto(), est.backoff_count()), (ms(4000), 0));
        // The first sample replaces it as usual.
        est.sample(ms(100));
        assert_eq!(est.rto(), ms(1000));
        // With a sample already taken it changes nothing.
        est.backoff();
        est.restart_after_syn_timeout();
        assert_eq!((est.rto(), est.backoff_count()), (ms(2000), 1));
        // The maximum still caps it.
        let mut est = RttEstimator::new(ms(1000), ms(200), ms(2500));
        est.restart_after_syn_timeout();
        assert_eq!(est.rto(), ms(2500));
    }

    #[test]
    fn huge_samples_do_not_overflow() {
        let mut est = RttEstimator::new(ms(1000), ms(1000), Duration::MAX);
        est.sample(Duration::MAX);
        est.sample(Duration::MAX);
        assert_eq!(est.srtt(), Some(us(1 << 48)));
        assert_eq!(est.rto(), us((1 << 48) + 4 * ((1 << 48) / 2 * 3 / 4)));
    }
}
