//! HyStart++ (RFC 9406): leaves slow start when the RTT rises, before the
//! queue overflows, through a careful phase that undoes a false exit.
//!
//! The detector watches rounds (one round ends when SND.UNA passes the
//! SND.NXT recorded at its start) and the smallest RTT sample of each. When
//! a round's minimum exceeds the previous round's by a threshold, slow start
//! becomes Conservative Slow Start (CSS), which grows a quarter as fast; if
//! the RTT falls back below the minimum that triggered it, slow start
//! resumes; after the rest of the round it began in and [`CSS_ROUNDS`]
//! full rounds of CSS, congestion avoidance starts with ssthresh = cwnd.
//!
//! It needs [`N_RTT_SAMPLE`] RTT samples per round: with timestamps every
//! ACK gives one. Without timestamps a sender times one segment per round,
//! so the detector never fires and slow start is RFC 5681's.

use super::AckEvent;
use crate::time::Duration;
use crate::wire::SeqNumber;

/// The smallest RTT increase that ends slow start (RFC 9406 section 4.3).
pub const MIN_RTT_THRESH: Duration = Duration::from_millis(4);
/// The largest RTT increase needed to end slow start (RFC 9406 section 4.3).
pub const MAX_RTT_THRESH: Duration = Duration::from_millis(16);
/// The RTT increase that ends slow start is the last round's minimum RTT
/// over this, clamped to [`MIN_RTT_THRESH`, `MAX_RTT_THRESH`] (RFC 9406
/// section 4.3).
pub const MIN_RTT_DIVISOR: u64 = 8;
/// RTT samples a round needs before its minimum is compared (RFC 9406
/// section 4.3).
pub const N_RTT_SAMPLE: u8 = 8;
/// CSS grows cwnd this many times slower than slow start (RFC 9406
/// section 4.3).
pub const CSS_GROWTH_DIVISOR: usize = 4;
/// Rounds of CSS before congestion avoidance (RFC 9406 section 4.3).
pub const CSS_ROUNDS: u8 = 5;

/// Where HyStart++ stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HyStartPhase {
    /// Standard slow start, watching the RTT.
    SlowStart,
    /// Conservative Slow Start after an RTT increase: `rounds` rounds begun
    /// in CSS so far, entered when the round's minimum RTT was `baseline`.
    Css {
        /// Rounds begun in CSS (not counting the one it started in).
        rounds: u8,
        /// The round minimum RTT that caused the exit from slow start.
        baseline: Duration,
    },
    /// Done: the first slow start is over (it ended in CSS, by loss, ECN or
    /// timeout). Later slow starts are RFC 5681's, as ssthresh is then
    /// known (RFC 9406 section 4.2).
    Done,
}

/// What one ACK's HyStart++ bookkeeping asks of the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HyStartGrowth {
    /// Grow as slow start does.
    SlowStart,
    /// Grow by the slow start increase over [`CSS_GROWTH_DIVISOR`].
    Conservative,
    /// CSS is over: set ssthresh = cwnd and grow by congestion avoidance
    /// (RFC 9406 section 4.2).
    EnterAvoidance,
}

/// RTTs are kept in microseconds in a `u32` (71 minutes, far above any
/// RTT), so the detector stays small; this is the RFC's "infinity".
const INFINITE_RTT: u32 = u32::MAX;

/// [`HyStartPhase`] as stored, with the baseline in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    SlowStart,
    Css { rounds: u8, baseline_micros: u32 },
    Done,
}

/// An RTT in microseconds, saturated to the stored range.
fn rtt_micros(rtt: Duration) -> u32 {
    u32::try_from(rtt.total_micros()).unwrap_or(INFINITE_RTT - 1)
}

/// The HyStart++ detector of RFC 9406 section 4.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HyStart {
    phase: Phase,
    /// SND.NXT when the current round started: the round ends when SND.UNA
    /// reaches it. `None` before the first ACK.
    window_end: Option<SeqNumber>,
    /// The previous round's smallest RTT sample, in microseconds.
    last_round_min_rtt: u32,
    /// This round's smallest RTT sample so far, in microseconds.
    current_round_min_rtt: u32,
    /// RTT samples this round.
    rtt_sample_count: u8,
}

impl Default for HyStart {
    fn default() -> Self {
        HyStart::new()
    }
}

impl HyStart {
    /// A detector at the start of a connection, in slow start.
    pub const fn new() -> Self {
        HyStart {
            phase: Phase::SlowStart,
            window_end: None,
            last_round_min_rtt: INFINITE_RTT,
            current_round_min_rtt: INFINITE_RTT,
            rtt_sample_count: 0,
        }
    }

    /// A detector that never acts: plain RFC 5681 slow start.
    pub const fn disabled() -> Self {
        HyStart {
            phase: Phase::Done,
            ..HyStart::new()
        }
    }

    /// The phase now.
    pub fn phase(&self) -> HyStartPhase {
        match self.phase {
            Phase::SlowStart => HyStartPhase::SlowStart,
            Phase::Css {
                rounds,
                baseline_micros,
            } => HyStartPhase::Css {
                rounds,
                baseline: Duration::from_micros(u64::from(baseline_micros)),
            },
            Phase::Done => HyStartPhase::Done,
        }
    }

    /// The first slow start ended by loss, ECN or a timeout: HyStart++ is
    /// used for the initial slow start only (RFC 9406 section 4.2).
    pub fn finish(&mut self) {
        self.phase = Phase::Done;
    }

    /// The RTT rise that ends slow start, from the last round's minimum:
    /// clamp(lastRoundMinRTT / MIN_RTT_DIVISOR, MIN_RTT_THRESH,
    /// MAX_RTT_THRESH) (RFC 9406 section 4.2).
    pub fn rtt_threshold(last_round_min_rtt: Duration) -> Duration {
        let eighth = Duration::from_micros(last_round_min_rtt.total_micros() / MIN_RTT_DIVISOR);
        eighth.min(MAX_RTT_THRESH).max(MIN_RTT_THRESH)
    }

    /// Takes one ACK of new data received in slow start (cwnd below
    /// ssthresh) and says how cwnd grows for it.
    pub fn on_ack(&mut self, ack: &AckEvent) -> HyStartGrowth {
        if self.phase == Phase::Done {
            return HyStartGrowth::SlowStart;
        }
        // A round ends when the data sent up to its start is acknowledged.
        let round_over = self.window_end.is_none_or(|end| ack.snd_una >= end);
        if round_over {
            self.window_end = Some(ack.snd_nxt);
            self.last_round_min_rtt = self.current_round_min_rtt;
            self.current_round_min_rtt = INFINITE_RTT;
            self.rtt_sample_count = 0;
            if let Phase::Css {
                rounds,
                baseline_micros,
            } = self.phase
            {
                let rounds = rounds.saturating_add(1);
                if rounds > CSS_ROUNDS {
                    self.phase = Phase::Done;
                    return HyStartGrowth::EnterAvoidance;
                }
                self.phase = Phase::Css {
                    rounds,
                    baseline_micros,
                };
            }
        }
        if let Some(rtt) = ack.rtt {
            self.current_round_min_rtt = self.current_round_min_rtt.min(rtt_micros(rtt));
            self.rtt_sample_count = self.rtt_sample_count.saturating_add(1);
        }
        let current = self.current_round_min_rtt;
        if self.rtt_sample_count >= N_RTT_SAMPLE && current != INFINITE_RTT {
            match self.phase {
                Phase::SlowStart if self.last_round_min_rtt != INFINITE_RTT => {
                    let last = Duration::from_micros(u64::from(self.last_round_min_rtt));
                    let threshold = rtt_micros(HyStart::rtt_threshold(last));
                    if current >= self.last_round_min_rtt.saturating_add(threshold) {
                        self.phase = Phase::Css {
                            rounds: 0,
                            baseline_micros: current,
                        };
                    }
                }
                Phase::Css {
                    baseline_micros, ..
                } if current < baseline_micros => {
                    // The RTT rise was jitter: back to slow start.
                    self.phase = Phase::SlowStart;
                }
                _ => {}
            }
        }
        match self.phase {
            Phase::Css { .. } => HyStartGrowth::Conservative,
            _ => HyStartGrowth::SlowStart,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Instant;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// An ACK with SND.UNA at `una`, SND.NXT at `nxt` and an RTT sample.
    fn ack(una: u32, nxt: u32, rtt: Option<Duration>) -> AckEvent {
        AckEvent {
            now: Instant::ZERO,
            bytes_acked: 1000,
            flight_size: 10_000,
            rtt,
            snd_una: SeqNumber(una),
            snd_nxt: SeqNumber(nxt),
        }
    }

    /// Runs one round of `samples` ACKs with the given RTT, starting at
    /// sequence `start`: the first ACK reaches the previous round's end, the
    /// rest stay below this round's end `start + 100`. Returns the growth of
    /// each ACK.
    fn round(
        h: &mut HyStart,
        start: u32,
        rtt: Duration,
        samples: u8,
    ) -> [Option<HyStartGrowth>; 16] {
        let mut out = [None; 16];
        for i in 0..samples {
            let una = start.wrapping_add(u32::from(i));
            out[usize::from(i)] = Some(h.on_ack(&ack(una, start.wrapping_add(100), Some(rtt))));
        }
        out
    }

    #[test]
    fn threshold_is_an_eighth_clamped() {
        assert_eq!(HyStart::rtt_threshold(ms(10)), MIN_RTT_THRESH);
        assert_eq!(HyStart::rtt_threshold(ms(32)), MIN_RTT_THRESH);
        assert_eq!(HyStart::rtt_threshold(ms(80)), ms(10));
        assert_eq!(HyStart::rtt_threshold(ms(128)), MAX_RTT_THRESH);
        assert_eq!(HyStart::rtt_threshold(ms(1000)), MAX_RTT_THRESH);
    }

    #[test]
    fn rtt_rise_enters_css_then_avoidance_after_five_rounds() {
        let mut h = HyStart::new();
        round(&mut h, 0, ms(10), 8);
        assert_eq!(h.phase(), HyStartPhase::SlowStart);
        // +3 ms is below the 4 ms floor: still slow start.
        round(&mut h, 100, ms(13), 8);
        assert_eq!(h.phase(), HyStartPhase::SlowStart);
        // The last round's minimum is 13 ms; 17 ms is +4 ms, but only at
        // the eighth sample does the round count.
        let growth = round(&mut h, 200, ms(17), 8);
        assert_eq!(growth[6], Some(HyStartGrowth::SlowStart));
        assert_eq!(growth[7], Some(HyStartGrowth::Conservative));
        assert_eq!(
            h.phase(),
            HyStartPhase::Css {
                rounds: 0,
                baseline: ms(17)
            }
        );
        // Five full rounds at the same RTT stay in CSS; the fifth round's
        // end enters congestion avoidance.
        for n in 1..6u32 {
            let growth = round(&mut h, 200 + 100 * n, ms(17), 8);
            assert!(
                growth[..8]
                    .iter()
                    .all(|g| *g == Some(HyStartGrowth::Conservative))
            );
        }
        assert!(matches!(h.phase(), HyStartPhase::Css { rounds: 5, .. }));
        assert_eq!(
            h.on_ack(&ack(800, 900, Some(ms(17)))),
            HyStartGrowth::EnterAvoidance
        );
        assert_eq!(h.phase(), HyStartPhase::Done);
        assert_eq!(
            h.on_ack(&ack(801, 900, Some(ms(40)))),
            HyStartGrowth::SlowStart
        );
    }

    #[test]
    fn rtt_fall_in_css_resumes_slow_start() {
        let mut h = HyStart::new();
        round(&mut h, 0, ms(10), 8);
        round(&mut h, 100, ms(20), 8);
        assert!(matches!(h.phase(), HyStartPhase::Css { rounds: 0, .. }));
        round(&mut h, 200, ms(20), 8);
        assert!(matches!(h.phase(), HyStartPhase::Css { rounds: 1, .. }));
        // A round whose minimum is below the 20 ms baseline: the exit was
        // spurious.
        let growth = round(&mut h, 300, ms(19), 8);
        assert_eq!(growth[6], Some(HyStartGrowth::Conservative));
        assert_eq!(growth[7], Some(HyStartGrowth::SlowStart));
        assert_eq!(h.phase(), HyStartPhase::SlowStart);
    }

    #[test]
    fn too_few_samples_never_leave_slow_start() {
        let mut h = HyStart::new();
        round(&mut h, 0, ms(10), 7);
        round(&mut h, 100, ms(100), 7);
        round(&mut h, 200, ms(200), 7);
        assert_eq!(h.phase(), HyStartPhase::SlowStart);
        // ACKs without a sample do not count.
        for i in 0..16 {
            h.on_ack(&ack(300 + i, 400, None));
        }
        assert_eq!(h.phase(), HyStartPhase::SlowStart);
    }

    #[test]
    fn rounds_follow_snd_una_across_the_wrap() {
        let mut h = HyStart::new();
        let base = u32::MAX - 150;
        round(&mut h, base, ms(10), 8);
        // The round ends at base + 100, past nothing yet; ACKs below it
        // belong to the first round, so this sample joins its minimum.
        h.on_ack(&ack(base + 50, base + 100, Some(ms(6))));
        round(&mut h, base.wrapping_add(100), ms(9), 8);
        assert_eq!(h.phase(), HyStartPhase::SlowStart);
        // Previous minimum 9 ms (the first round's was 6 ms: 9 ms was below
        // its threshold): 13 ms triggers.
        round(&mut h, base.wrapping_add(200), ms(13), 8);
        assert!(matches!(h.phase(), HyStartPhase::Css { .. }));
    }

    #[test]
    fn finish_and_disabled_do_nothing() {
        let mut h = HyStart::new();
        h.finish();
        round(&mut h, 0, ms(10), 8);
        round(&mut h, 100, ms(50), 8);
        assert_eq!(h.phase(), HyStartPhase::Done);
        assert_eq!(HyStart::disabled().phase(), HyStartPhase::Done);
    }
}
