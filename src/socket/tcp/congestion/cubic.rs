//! CUBIC (RFC 9438): the window grows as a cubic function of the time since
//! the last reduction, centred on the window where loss last happened, with
//! a Reno-friendly floor; HyStart++ (RFC 9406) ends the first slow start.
//!
//! Everything is integer arithmetic (bytes, microseconds, 128-bit
//! intermediates and an exact integer cube root), so the core needs no
//! floating point and no libm.

use super::hystart::{CSS_GROWTH_DIVISOR, HyStart, HyStartGrowth};
use super::{
    AckEvent, CongestionCause, CongestionControl, INITIAL_SSTHRESH, initial_window, slow_start,
    window_limited,
};
use crate::time::{Duration, Instant};

/// C, the scaling constant of the cubic function, 0.4 segments per second
/// cubed (RFC 9438 section 5), as CUBIC_C_NUM / CUBIC_C_DEN.
const CUBIC_C_NUM: u128 = 4;
/// See [`CUBIC_C_NUM`].
const CUBIC_C_DEN: u128 = 10;
/// beta_cubic, the multiplicative decrease factor, 0.7 (RFC 9438 section
/// 4.6), as BETA_NUM / BETA_DEN.
const BETA_NUM: usize = 7;
/// See [`BETA_NUM`].
const BETA_DEN: usize = 10;
/// alpha_cubic = 3 * (1 - beta) / (1 + beta) = 9/17 (RFC 9438 section
/// 4.3), over ALPHA_DEN; once the Reno estimate reaches the window before
/// the reduction it is 17/17 = 1.
const ALPHA_NUM: u64 = 9;
/// See [`ALPHA_NUM`].
const ALPHA_DEN: u64 = 17;
/// One second cubed in microseconds cubed.
const MICROS_PER_SEC_CUBED: u128 = 1_000_000_000_000_000_000;

/// The integer cube root: the largest `r` with `r * r * r <= x`.
pub fn cube_root(x: u128) -> u128 {
    // Digit-by-digit in base 8: each step fixes one more bit of the root
    // (three bits of `x`), so 43 steps cover 128 bits with no division.
    let mut remainder = x;
    let mut root: u128 = 0;
    let mut shift: i32 = 126;
    while shift >= 0 {
        root <<= 1;
        // (2r + 1)^3 - (2r)^3 = 3 * 2r * (2r + 1) + 1, in units of 2^shift.
        let step = 3 * root * (root + 1) + 1;
        if (remainder >> shift) >= step {
            remainder -= step << shift;
            root += 1;
        }
        shift -= 3;
    }
    root
}

/// K, the time the cubic function takes to grow from `cwnd_epoch` back to
/// `w_max` (RFC 9438 section 4.2, equation 2): cbrt((W_max - cwnd_epoch) /
/// C), with the windows in bytes and C scaled by the MSS. Zero when the
/// epoch starts at or above W_max.
pub fn cubic_k(w_max: usize, cwnd_epoch: usize, mss: usize) -> Duration {
    let deficit = w_max.saturating_sub(cwnd_epoch) as u128;
    // K^3 in microseconds cubed: deficit / (C * mss) seconds cubed.
    let k_cubed = deficit
        .saturating_mul(CUBIC_C_DEN)
        .saturating_mul(MICROS_PER_SEC_CUBED)
        / (CUBIC_C_NUM * mss.max(1) as u128);
    Duration::from_micros(u64::try_from(cube_root(k_cubed)).unwrap_or(u64::MAX))
}

/// W_cubic(t) = C * (t - K)^3 + W_max in bytes (RFC 9438 section 4.2,
/// equation 1), `t` the time since the epoch started; clamped to the
/// range of `usize`.
pub fn w_cubic(t: Duration, k: Duration, w_max: usize, mss: usize) -> usize {
    let offset = i128::from(t.total_micros()) - i128::from(k.total_micros());
    let scaled_cube = offset
        .checked_mul(offset)
        .and_then(|square| square.checked_mul(offset))
        .and_then(|cube| cube.checked_mul(CUBIC_C_NUM as i128 * mss as i128));
    let Some(scaled_cube) = scaled_cube else {
        // Beyond i128: far above or below any window.
        return if offset > 0 { usize::MAX } else { 0 };
    };
    let growth = scaled_cube / (CUBIC_C_DEN * MICROS_PER_SEC_CUBED) as i128;
    let window = (w_max as i128).saturating_add(growth);
    usize::try_from(window.max(0)).unwrap_or(usize::MAX)
}

/// `value * num / den` without overflow (den > 0).
fn scale(value: usize, num: usize, den: usize) -> usize {
    let scaled = value as u128 * num as u128 / den as u128;
    usize::try_from(scaled).unwrap_or(usize::MAX)
}

/// The state a spurious reduction restores (RFC 9438 section 4.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CubicPrior {
    cwnd: usize,
    ssthresh: usize,
    w_max: usize,
    cwnd_prior: usize,
    k: Duration,
    epoch_start: Option<Instant>,
    w_est: usize,
}

/// CUBIC (RFC 9438) with HyStart++ (RFC 9406) in the first slow start.
///
/// Windows are in bytes. Like [`NewReno`](super::NewReno), `set_mss`
/// re-derives the initial window until the data transfer starts. Slow start
/// and the Reno-friendly estimate count bytes (RFC 3465); a window the
/// sender did not use does not grow (RFC 9438 section 5.8), which is what
/// lets ssthresh derive from cwnd rather than FlightSize (RFC 9438 section
/// 4.6). The RTT in the cubic target is a smoothed RTT (gains of RFC 6298)
/// of the samples the ACKs carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cubic {
    cwnd: usize,
    ssthresh: usize,
    mss: usize,
    /// W_max: the window before the last reduction, after fast convergence
    /// (RFC 9438 section 4.7); 0 until there is one, so the first epoch
    /// starts with K = 0 (RFC 9438 sections 4.8 and 4.10).
    w_max: usize,
    /// cwnd_prior: cwnd when ssthresh was last set (RFC 9438 section 4.6).
    cwnd_prior: usize,
    /// K of the current epoch.
    k: Duration,
    /// t_epoch: when the current congestion avoidance stage began; `None`
    /// in slow start, recovery, or until the next ACK after an idle period.
    epoch_start: Option<Instant>,
    /// W_est, the Reno-friendly estimate (RFC 9438 section 4.3).
    w_est: usize,
    /// Remainder of W_est's growth, in units of 1/(ALPHA_DEN * cwnd) byte.
    w_est_remainder: u64,
    /// Remainder of the cubic growth, in units of 1/cwnd byte.
    cubic_remainder: u64,
    /// Smoothed RTT of the ACKs' samples, in microseconds (a `u32` holds
    /// 71 minutes; kept small for the socket's size).
    srtt_micros: Option<u32>,
    hystart: HyStart,
    prior: Option<CubicPrior>,
    /// Whether a data-transfer event has happened (IW is fixed then).
    transferring: bool,
    /// Whether the SYN or SYN-ACK was retransmitted (IW = 1 segment).
    handshake_lost: bool,
    /// Between `on_congestion_event` and `on_recovery_end`.
    in_recovery: bool,
    /// A timeout happened and no ACK of new data has come since.
    timed_out: bool,
}

impl Cubic {
    /// CUBIC for a sender MSS of `mss` (0 is taken as 1), ssthresh
    /// "arbitrarily high" (RFC 5681 section 3.1), HyStart++ on.
    pub fn new(mss: usize) -> Self {
        let mss = mss.max(1);
        Cubic {
            cwnd: initial_window(mss),
            ssthresh: INITIAL_SSTHRESH,
            mss,
            w_max: 0,
            cwnd_prior: 0,
            k: Duration::ZERO,
            epoch_start: None,
            w_est: 0,
            w_est_remainder: 0,
            cubic_remainder: 0,
            srtt_micros: None,
            hystart: HyStart::new(),
            prior: None,
            transferring: false,
            handshake_lost: false,
            in_recovery: false,
            timed_out: false,
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

    /// W_max in bytes (0 before the first reduction).
    pub fn w_max(&self) -> usize {
        self.w_max
    }

    /// K of the current congestion avoidance epoch.
    pub fn k(&self) -> Duration {
        self.k
    }

    /// When the current congestion avoidance epoch began, if one runs.
    pub fn epoch_start(&self) -> Option<Instant> {
        self.epoch_start
    }

    /// W_est, the Reno-friendly estimate, in bytes.
    pub fn reno_estimate(&self) -> usize {
        self.w_est
    }

    /// The HyStart++ detector.
    pub fn hystart(&self) -> &HyStart {
        &self.hystart
    }

    fn initial_window(&self) -> usize {
        if self.handshake_lost {
            self.mss
        } else {
            initial_window(self.mss)
        }
    }

    fn snapshot(&self) -> CubicPrior {
        CubicPrior {
            cwnd: self.cwnd,
            ssthresh: self.ssthresh,
            w_max: self.w_max,
            cwnd_prior: self.cwnd_prior,
            k: self.k,
            epoch_start: self.epoch_start,
            w_est: self.w_est,
        }
    }

    /// The multiplicative decrease with fast convergence (RFC 9438 sections
    /// 4.6 and 4.7): W_max = cwnd, or cwnd * (1 + beta) / 2 when cwnd did
    /// not reach the last W_max; ssthresh = max(cwnd * beta, 2 * SMSS).
    fn reduce(&mut self) {
        let cwnd = self.cwnd;
        self.w_max = if cwnd < self.w_max {
            scale(cwnd, BETA_DEN + BETA_NUM, 2 * BETA_DEN)
        } else {
            cwnd
        };
        self.cwnd_prior = cwnd;
        self.ssthresh = scale(cwnd, BETA_NUM, BETA_DEN).max(self.mss.saturating_mul(2));
        self.epoch_start = None;
        self.hystart.finish();
    }

    /// A congestion avoidance stage starts at `now` with the current cwnd as
    /// cwnd_epoch (RFC 9438 section 4.2): K from W_max, or K = 0 and
    /// W_max = cwnd when the window is already at or above W_max (after a
    /// timeout or a HyStart++ exit, RFC 9438 sections 4.8 and 4.10);
    /// W_est = cwnd_epoch (section 4.3).
    fn start_epoch(&mut self, now: Instant) {
        self.epoch_start = Some(now);
        if self.w_max <= self.cwnd {
            self.w_max = self.cwnd;
            self.k = Duration::ZERO;
        } else {
            self.k = cubic_k(self.w_max, self.cwnd, self.mss);
        }
        self.w_est = self.cwnd;
        self.w_est_remainder = 0;
        self.cubic_remainder = 0;
    }

    fn sample_rtt(&mut self, rtt: Duration) {
        // SRTT = 7/8 SRTT + 1/8 R (RFC 6298 section 2.3).
        let sample = u32::try_from(rtt.total_micros()).unwrap_or(u32::MAX);
        self.srtt_micros = Some(match self.srtt_micros {
            None => sample,
            Some(srtt) => srtt - srtt / 8 + sample / 8,
        });
    }

    /// The window's growth for `acked` newly acknowledged bytes.
    fn grow(&mut self, now: Instant, acked: usize, flight_size: usize, growth: HyStartGrowth) {
        if growth == HyStartGrowth::EnterAvoidance {
            // HyStart++ ends slow start (RFC 9406 section 4.2); CUBIC starts
            // with cwnd_prior = cwnd (RFC 9438 section 4.10).
            self.ssthresh = self.cwnd;
            self.cwnd_prior = self.cwnd;
            self.epoch_start = None;
        }
        let in_slow_start = self.cwnd < self.ssthresh;
        if acked == 0 || !window_limited(flight_size, self.cwnd, self.mss, in_slow_start) {
            return;
        }
        let mut acked = acked;
        if in_slow_start {
            let divisor = if growth == HyStartGrowth::Conservative {
                CSS_GROWTH_DIVISOR
            } else {
                1
            };
            acked = slow_start(&mut self.cwnd, self.ssthresh, acked, divisor);
        }
        if acked > 0 && self.cwnd >= self.ssthresh {
            self.avoid_congestion(now, acked);
        }
    }

    /// Congestion avoidance for one ACK (RFC 9438 sections 4.2 to 4.5).
    fn avoid_congestion(&mut self, now: Instant, acked: usize) {
        let epoch_start = match self.epoch_start {
            Some(start) => start,
            None => {
                self.start_epoch(now);
                now
            }
        };
        let cwnd = self.cwnd.max(1);
        let t = now.saturating_duration_since(epoch_start);
        let rtt = Duration::from_micros(u64::from(self.srtt_micros.unwrap_or(0)));
        // target = W_cubic(t + RTT), within [cwnd, 1.5 * cwnd].
        let target = w_cubic(t.saturating_add(rtt), self.k, self.w_max, self.mss)
            .min(cwnd.saturating_add(cwnd / 2))
            .max(cwnd);

        // W_est += alpha * SMSS * acked / cwnd, alpha = 1 once W_est has
        // reached cwnd_prior (section 4.3).
        let alpha = if self.w_est >= self.cwnd_prior {
            ALPHA_DEN
        } else {
            ALPHA_NUM
        };
        let unit = ALPHA_DEN.saturating_mul(cwnd as u64);
        let numerator = self.w_est_remainder.saturating_add(
            alpha
                .saturating_mul(self.mss as u64)
                .saturating_mul(acked as u64),
        );
        let w_est_growth = usize::try_from(numerator / unit).unwrap_or(usize::MAX);
        self.w_est = self.w_est.saturating_add(w_est_growth);
        self.w_est_remainder = numerator % unit;

        if w_cubic(t, self.k, self.w_max, self.mss) < self.w_est {
            // The Reno-friendly region: cwnd = W_est (section 4.3).
            self.cwnd = self.cwnd.max(self.w_est);
            self.cubic_remainder = 0;
        } else {
            // The concave and convex regions alike: cwnd += (target - cwnd)
            // / cwnd per segment acknowledged (sections 4.4 and 4.5), here
            // (target - cwnd) * acked / cwnd bytes.
            let numerator = self
                .cubic_remainder
                .saturating_add(((target - cwnd) as u64).saturating_mul(acked as u64));
            let growth = usize::try_from(numerator / cwnd as u64).unwrap_or(usize::MAX);
            self.cwnd = self.cwnd.saturating_add(growth);
            self.cubic_remainder = numerator % cwnd as u64;
        }
    }
}

impl CongestionControl for Cubic {
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

    /// Slow start (with HyStart++ in the first one) below ssthresh,
    /// counting every byte an ACK covers (RFC 3465, without a per-ACK
    /// limit: a stretch ACK grows cwnd by all it acknowledges); CUBIC's
    /// congestion
    /// avoidance above: cwnd moves towards W_cubic(t + RTT), or follows
    /// W_est in the Reno-friendly region (RFC 9438 section 4).
    fn on_ack_event(&mut self, ack: &AckEvent) {
        self.transferring = true;
        self.timed_out = false;
        if let Some(rtt) = ack.rtt {
            self.sample_rtt(rtt);
        }
        let growth = if self.cwnd < self.ssthresh {
            self.hystart.on_ack(ack)
        } else {
            HyStartGrowth::SlowStart
        };
        self.grow(ack.now, ack.bytes_acked, ack.flight_size, growth);
    }

    /// W_max with fast convergence, cwnd_prior = cwnd and ssthresh =
    /// max(cwnd * 0.7, 2 * SMSS) (RFC 9438 sections 4.6 and 4.7); cwnd is
    /// left to PRR. A second event in the same recovery changes nothing but
    /// the undo state; an ECN-Echo cannot be undone.
    fn on_congestion_event(&mut self, _now: Instant, _flight_size: usize, cause: CongestionCause) {
        self.transferring = true;
        if !self.in_recovery {
            if !self.timed_out {
                self.prior = Some(self.snapshot());
            }
            self.reduce();
            self.in_recovery = true;
        }
        if cause == CongestionCause::Ecn {
            self.prior = None;
        }
    }

    fn set_window(&mut self, cwnd: usize) {
        self.transferring = true;
        self.cwnd = cwnd.max(self.mss);
        // Partial growth towards the old window means nothing for the new.
        self.w_est_remainder = 0;
        self.cubic_remainder = 0;
    }

    /// cwnd = ssthresh (RFC 6937 section 3.1) and a new epoch starts now
    /// with cwnd_epoch = ssthresh (RFC 9438 section 4.2).
    fn on_recovery_end(&mut self, now: Instant) {
        if self.in_recovery {
            self.in_recovery = false;
            self.cwnd = self.ssthresh.max(self.mss);
            self.start_epoch(now);
        }
    }

    /// Restores cwnd and ssthresh to at least their values before the
    /// spurious reduction, and W_max, cwnd_prior, K, t_epoch and W_est to
    /// theirs (RFC 9438 section 4.9, RFC 4015 section 3).
    fn on_undo(&mut self) {
        if let Some(prior) = self.prior.take() {
            self.cwnd = self.cwnd.max(prior.cwnd);
            self.ssthresh = self.ssthresh.max(prior.ssthresh);
            self.w_max = prior.w_max;
            self.cwnd_prior = prior.cwnd_prior;
            self.k = prior.k;
            self.epoch_start = prior.epoch_start;
            self.w_est = prior.w_est;
            self.w_est_remainder = 0;
            self.cubic_remainder = 0;
            self.in_recovery = false;
            self.timed_out = false;
        }
    }

    /// ssthresh as for a loss (RFC 9438 section 4.8), unless a recovery or
    /// a timeout with no ACK since already set it; cwnd = 1 SMSS; the next
    /// epoch starts with K = 0 and W_max = its cwnd (section 4.8).
    fn on_retransmit_timeout(&mut self, _flight_size: usize) {
        self.transferring = true;
        if !self.in_recovery && !self.timed_out {
            self.prior = Some(self.snapshot());
            self.reduce();
        }
        self.w_max = 0;
        self.epoch_start = None;
        self.in_recovery = false;
        self.timed_out = true;
        self.hystart.finish();
        self.cwnd = self.mss;
    }

    /// cwnd = min(cwnd, IW) (RFC 5681 section 4.1); the idle time does not
    /// count towards the epoch (RFC 9438 section 5.8), so a new one starts.
    fn on_idle_restart(&mut self) {
        self.transferring = true;
        self.cwnd = self.cwnd.min(self.initial_window());
        self.epoch_start = None;
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
    use crate::wire::SeqNumber;

    const MSS: usize = 1000;

    fn at(ms: i64) -> Instant {
        Instant::from_millis(ms)
    }

    /// An ACK of `bytes` at `now` with `flight` in flight before it and an
    /// RTT sample of `rtt_ms`.
    fn ack(now: Instant, bytes: usize, flight: usize, rtt_ms: u64) -> AckEvent {
        AckEvent {
            now,
            bytes_acked: bytes,
            flight_size: flight,
            rtt: Some(Duration::from_millis(rtt_ms)),
            snd_una: SeqNumber(0),
            snd_nxt: SeqNumber(0),
        }
    }

    /// A CUBIC sender whose window of `cwnd` bytes just met a loss, at
    /// time 0, with an RTT of `rtt_ms` learnt; recovery ends at `end_ms`.
    fn after_loss(cwnd: usize, rtt_ms: u64, end_ms: i64) -> Cubic {
        let mut cc = Cubic::new(MSS);
        cc.on_ack_event(&ack(at(0), 0, 0, rtt_ms));
        cc.set_window(cwnd);
        cc.on_congestion_event(at(0), cwnd, CongestionCause::Loss);
        cc.on_recovery_end(at(end_ms));
        cc
    }

    #[test]
    fn cube_root_is_exact() {
        for n in [0u128, 1, 2, 7, 8, 9, 26, 27, 1000, 4_217_163, 1 << 42] {
            let cube = n * n * n;
            assert_eq!(cube_root(cube), n);
            if n > 0 {
                assert_eq!(cube_root(cube - 1), n - 1);
            }
            if n > 1 {
                assert_eq!(cube_root(cube + 1), n);
            }
        }
        // The largest root: floor(cbrt(2^128 - 1)) = 6981463658331.
        let max = cube_root(u128::MAX);
        assert_eq!(max, 6_981_463_658_331);
        assert!(max.checked_pow(3).is_some());
        assert!((max + 1).checked_pow(3).is_none());
    }

    #[test]
    fn k_is_the_rfc_formula() {
        // W_max = 100 segments, cwnd_epoch = 70: K = cbrt(30 / 0.4) s =
        // cbrt(75) = 4.217163 s.
        assert_eq!(
            cubic_k(100_000, 70_000, MSS),
            Duration::from_micros(4_217_163)
        );
        // Same in segments of another size.
        assert_eq!(
            cubic_k(146_000, 102_200, 1460),
            Duration::from_micros(4_217_163)
        );
        // W_max = 10 segments after a loss: cbrt(10 * 0.3 / 0.4) = cbrt(7.5)
        // = 1.9574338 s.
        assert_eq!(
            cubic_k(10_000, 7_000, MSS),
            Duration::from_micros(1_957_433)
        );
        // 1000 segments: cbrt(750) = 9.085603 s.
        assert_eq!(
            cubic_k(1_000_000, 700_000, MSS),
            Duration::from_micros(9_085_602)
        );
        // At or above W_max: 0.
        assert_eq!(cubic_k(10_000, 10_000, MSS), Duration::ZERO);
        assert_eq!(cubic_k(10_000, 20_000, MSS), Duration::ZERO);
        // No overflow at the extremes.
        assert!(cubic_k(usize::MAX, 0, 1) > Duration::ZERO);
    }

    #[test]
    fn w_cubic_at_several_times() {
        let k = cubic_k(100_000, 70_000, MSS);
        let secs = |s: u64| Duration::from_micros(k.total_micros() + s * 1_000_000);
        // At t = 0 the curve starts at cwnd_epoch (one byte off for K's
        // truncation to a microsecond).
        assert_eq!(w_cubic(Duration::ZERO, k, 100_000, MSS), 70_001);
        // At t = K it reaches W_max, flat (concave, then convex).
        assert_eq!(w_cubic(k, k, 100_000, MSS), 100_000);
        // 0.4 * 1^3, 0.4 * 2^3, 0.4 * 3^3 segments past K.
        assert_eq!(w_cubic(secs(1), k, 100_000, MSS), 100_400);
        assert_eq!(w_cubic(secs(2), k, 100_000, MSS), 103_200);
        assert_eq!(w_cubic(secs(3), k, 100_000, MSS), 110_800);
        // One second before K: 100 - 0.4 segments.
        let before = Duration::from_micros(k.total_micros() - 1_000_000);
        assert_eq!(w_cubic(before, k, 100_000, MSS), 99_600);
        // 2 s into the epoch: 100 - 0.4 * (2 - 4.217163)^3 = 95.6405 segs
        // (the cubic term truncates towards zero).
        assert_eq!(w_cubic(Duration::from_secs(2), k, 100_000, MSS), 95_641);
        // Saturation instead of overflow.
        assert_eq!(w_cubic(Duration::MAX, Duration::ZERO, 1, MSS), usize::MAX);
        assert_eq!(w_cubic(Duration::ZERO, Duration::MAX, 1_000_000, MSS), 0);
    }

    #[test]
    fn loss_sets_ssthresh_beta_and_w_max() {
        let mut cc = Cubic::new(MSS);
        cc.set_window(100_000);
        cc.on_congestion_event(at(0), 90_000, CongestionCause::Loss);
        // cwnd is PRR's to move; ssthresh = 0.7 * cwnd, W_max = cwnd.
        assert_eq!(
            (cc.window(), cc.ssthresh(), cc.w_max()),
            (100_000, 70_000, 100_000)
        );
        cc.set_window(80_000);
        cc.on_recovery_end(at(500));
        assert_eq!(cc.window(), 70_000);
        assert_eq!(cc.epoch_start(), Some(at(500)));
        assert_eq!(cc.k(), Duration::from_micros(4_217_163));
        assert_eq!(cc.reno_estimate(), 70_000);
        // The floor of two segments.
        let mut cc = Cubic::new(MSS);
        cc.set_window(2000);
        cc.on_congestion_event(at(0), 2000, CongestionCause::Loss);
        assert_eq!(cc.ssthresh(), 2000);
    }

    #[test]
    fn fast_convergence_lowers_w_max() {
        let mut cc = after_loss(100_000, 100, 0);
        assert_eq!(cc.w_max(), 100_000);
        // A loss below the last W_max: W_max = cwnd * (1 + 0.7) / 2.
        cc.set_window(90_000);
        cc.on_congestion_event(at(1000), 90_000, CongestionCause::Loss);
        assert_eq!((cc.w_max(), cc.ssthresh()), (76_500, 63_000));
        cc.on_recovery_end(at(1100));
        // K = cbrt((76.5 - 63) / 0.4) = cbrt(33.75) = 3.231 s.
        assert_eq!(cc.k(), Duration::from_micros(3_231_652));
        // A loss above W_max: W_max = cwnd.
        cc.set_window(80_000);
        cc.on_congestion_event(at(2000), 80_000, CongestionCause::Loss);
        assert_eq!((cc.w_max(), cc.ssthresh()), (80_000, 56_000));
    }

    #[test]
    fn concave_and_convex_growth_per_ack_follow_the_target() {
        // RTT 100 ms: the cubic curve is above W_est (not Reno-friendly).
        let mut cc = after_loss(100_000, 100, 0);
        let k = cc.k();
        // Concave region, 2 s into the epoch: target = W_cubic(2.1 s).
        let target = w_cubic(Duration::from_millis(2100), k, 100_000, MSS);
        assert_eq!(target, 96_205);
        cc.set_window(90_000);
        cc.on_ack_event(&ack(at(2000), MSS, 90_000, 100));
        // cwnd += (target - cwnd) * SMSS / cwnd.
        assert_eq!(cc.window(), 90_000 + (96_205 - 90_000) * MSS / 90_000);
        // Convex region, 5 s in: W_cubic(5.1 s) = 100 + 0.4 * 0.883^3 segs.
        let target = w_cubic(Duration::from_millis(5100), k, 100_000, MSS);
        assert_eq!(target, 100_275);
        cc.set_window(100_000);
        cc.on_ack_event(&ack(at(5000), 10 * MSS, 100_000, 100));
        assert_eq!(cc.window(), 100_000 + 275 * 10 * MSS / 100_000);
        // Below cwnd the target is cwnd: no growth from the cubic term.
        cc.set_window(99_000);
        let mut flat = cc;
        flat.set_window(120_000);
        flat.on_ack_event(&ack(at(5000), MSS, 120_000, 100));
        assert_eq!(flat.window(), 120_000);
    }

    #[test]
    fn target_is_clamped_to_one_and_a_half_cwnd() {
        let mut cc = after_loss(100_000, 100, 0);
        // 20 s after the epoch W_cubic is far above: the target is 1.5 cwnd.
        assert_eq!(
            w_cubic(Duration::from_millis(20_100), cc.k(), 100_000, MSS),
            1_702_670
        );
        cc.set_window(70_000);
        cc.on_ack_event(&ack(at(20_000), 7000, 70_000, 100));
        // (105000 - 70000) * 7000 / 70000.
        assert_eq!(cc.window(), 73_500);
    }

    #[test]
    fn reno_friendly_region_on_a_short_rtt() {
        // RTT 1 ms: Reno's 0.53 segment per RTT outgrows the flat cubic
        // curve near the epoch start, so cwnd follows W_est.
        let mut cc = after_loss(100_000, 1, 0);
        assert_eq!(cc.window(), 70_000);
        let mut now = 0;
        for _ in 0..20 {
            now += 1;
            for _ in 0..70 {
                let flight = cc.window();
                cc.on_ack_event(&ack(at(now), MSS, flight, 1));
            }
        }
        let t = Duration::from_millis(20);
        assert!(w_cubic(t, cc.k(), cc.w_max(), MSS) < cc.reno_estimate());
        assert_eq!(cc.window(), cc.reno_estimate());
        // alpha * SMSS * 70 segments / cwnd per round, 20 rounds, with
        // cwnd between 70000 and 80000: between 9264 and 10588 bytes.
        let grown = cc.window() - 70_000;
        assert!(cc.window() < 80_000);
        assert!((9264..=10_588).contains(&grown), "{grown}");
    }

    #[test]
    fn reno_estimate_grows_one_segment_per_window_past_cwnd_prior() {
        // cwnd_prior = 10 segments; run the Reno-friendly region until W_est
        // reaches it.
        let mut cc = after_loss(10_000, 1, 0);
        let mut now = 0;
        while cc.reno_estimate() < 10_000 {
            now += 1;
            let flight = cc.window();
            cc.on_ack_event(&ack(at(now), flight, flight, 1));
        }
        // alpha is 1 now: one window acknowledged adds one segment.
        let before = cc.reno_estimate();
        let flight = cc.window();
        cc.on_ack_event(&ack(at(now + 1), flight, flight, 1));
        assert!((before + 1000..=before + 1001).contains(&cc.reno_estimate()));
    }

    #[test]
    fn timeout_ssthresh_and_k_zero_epoch() {
        let mut cc = Cubic::new(MSS);
        cc.set_window(100_000);
        cc.on_retransmit_timeout(100_000);
        assert_eq!((cc.window(), cc.ssthresh()), (MSS, 70_000));
        // A backed-off timeout keeps ssthresh.
        cc.on_retransmit_timeout(MSS);
        assert_eq!(cc.ssthresh(), 70_000);
        // Slow start to ssthresh, then the epoch starts with K = 0 and
        // W_max = cwnd.
        let mut now = 0;
        while cc.window() < cc.ssthresh() {
            now += 10;
            let flight = cc.window();
            cc.on_ack_event(&ack(at(now), MSS, flight, 10));
        }
        assert_eq!(cc.window(), 70_000);
        assert_eq!(cc.epoch_start(), None);
        cc.on_ack_event(&ack(at(now + 10), MSS, 70_000, 10));
        assert_eq!(cc.epoch_start(), Some(at(now + 10)));
        assert_eq!((cc.k(), cc.w_max()), (Duration::ZERO, 70_000));
        // The undo of that timeout returns the window before it.
        cc.on_retransmit_timeout(70_000);
        cc.on_undo();
        assert!(cc.window() >= 70_000);
    }

    #[test]
    fn undo_restores_w_max_k_and_the_epoch() {
        let mut cc = after_loss(100_000, 100, 0);
        cc.on_ack_event(&ack(at(1000), MSS, 70_000, 100));
        let before = cc;
        cc.on_congestion_event(at(1100), 70_000, CongestionCause::Loss);
        cc.set_window(60_000);
        cc.on_recovery_end(at(1200));
        assert_ne!(cc.w_max(), before.w_max());
        cc.on_undo();
        assert_eq!(
            (cc.window(), cc.ssthresh()),
            (before.window(), before.ssthresh())
        );
        assert_eq!((cc.w_max(), cc.k()), (before.w_max(), before.k()));
        assert_eq!(cc.epoch_start(), Some(at(0)));
        assert_eq!(cc.reno_estimate(), before.reno_estimate());
        // Nothing left to undo.
        cc.set_window(50_000);
        cc.on_undo();
        assert_eq!(cc.window(), 50_000);
        // An ECN reduction is never undone.
        let mut cc = after_loss(100_000, 100, 0);
        cc.on_congestion_event(at(1000), 70_000, CongestionCause::Ecn);
        cc.on_recovery_end(at(1000));
        assert_eq!(cc.window(), 49_000);
        cc.on_undo();
        assert_eq!(cc.window(), 49_000);
    }

    #[test]
    fn a_stretch_ack_grows_slow_start_by_every_byte() {
        let mut cc = Cubic::new(MSS);
        // One ACK for 45 segments, a whole window and more in flight.
        cc.on_ack_event(&ack(at(0), 45 * MSS, 45 * MSS, 1));
        assert_eq!(cc.window(), 10_000 + 45 * MSS);
        // Below half the window in flight: application-limited, no growth.
        cc.on_ack_event(&ack(at(1), 20 * MSS, 27 * MSS, 1));
        assert_eq!(cc.window(), 55_000);
    }

    #[test]
    fn hystart_exit_starts_avoidance_with_k_zero() {
        let mut cc = Cubic::new(MSS);
        let mut una = 0u32;
        let mut nxt = 10_000u32;
        let mut now = 0;
        // Rounds of 8 ACKs: 10 ms, then 20 ms (CSS), then 5 rounds of CSS.
        for round in 0..8 {
            let rtt = if round == 0 { 10 } else { 20 };
            for _ in 0..8 {
                let flight = cc.window();
                let a = AckEvent {
                    now: at(now),
                    bytes_acked: MSS,
                    flight_size: flight,
                    rtt: Some(Duration::from_millis(rtt)),
                    snd_una: SeqNumber(una),
                    snd_nxt: SeqNumber(nxt),
                };
                cc.on_ack_event(&a);
                una += 1;
            }
            una = nxt;
            nxt += 10_000;
            now += rtt as i64;
        }
        // 8 slow-start ACKs, 7 more, then CSS: a quarter of a segment each.
        assert!(cc.ssthresh() < INITIAL_SSTHRESH);
        assert_eq!(cc.ssthresh(), 10_000 + 15 * MSS + 5 * 8 * MSS / 4 + 250);
        assert_eq!(cc.k(), Duration::ZERO);
        assert_eq!(cc.w_max(), cc.ssthresh());
    }

    #[test]
    fn idle_restart_and_unused_window() {
        let mut cc = after_loss(100_000, 100, 0);
        // An application-limited sender does not grow the window.
        cc.on_ack_event(&ack(at(3000), MSS, 10_000, 100));
        assert_eq!(cc.window(), 70_000);
        cc.on_idle_restart();
        assert_eq!((cc.window(), cc.epoch_start()), (10_000, None));
    }
}
