//! RACK-TLP loss detection (RFC 8985): a segment is lost when a segment
//! sent after it has been delivered and more than one RTT plus a
//! reordering window has passed since it was sent; a tail loss probe makes
//! the last segments of a flight draw an ACK (and so RACK's verdict) long
//! before the RTO.
//!
//! The socket feeds delivered segments and asks which records are lost;
//! the records themselves live in the scoreboard's `SentLog`.

use super::scoreboard::SentLog;
use crate::time::{Duration, Instant};
use crate::wire::SeqNumber;

/// RFC 8985 section 6.2 step 4: how many recoveries a D-SACK-widened
/// reordering window persists.
pub const REO_WND_PERSIST: u8 = 16;

/// The worst-case delayed-ACK time a lone segment's probe waits for
/// (RFC 8985 section 7.2's WCDelAckT).
pub const MAX_ACK_DELAY: Duration = Duration::from_millis(200);

/// The PTO before the first RTT sample (RFC 8985 section 7.2).
pub const INITIAL_PTO: Duration = Duration::from_secs(1);

/// How many loss probes may go out in a row before the peer shows
/// progress (an ACK that delivers data); the RTO follows the last.
///
/// RFC 8985 section 7.3 sends one probe and leaves the rest to the RTO;
/// QUIC (RFC 9002 section 6.2) keeps probing with the timeout doubled
/// each time. At a loss rate that takes the probe or its ACK too, one
/// probe leaves the connection waiting for the RTO, whose 200 ms floor is
/// many round trips on a short path; a second probe, after twice the
/// first's timeout, repairs most of those cases for one segment more.
pub const MAX_CONSECUTIVE_PROBES: u8 = 2;

/// The shortest PTO (QUIC's kMinTLPTimeout, RFC 9002's timer granularity
/// reasoning): on a LAN 2 * SRTT is tens of microseconds, shorter than a
/// peer's or our own poll loop's scheduling delay, and a probe sent then
/// is a spurious retransmission. Linux adds 2 ms for the same reason.
pub const MIN_PTO: Duration = Duration::from_millis(10);

/// RACK's state (RFC 8985 section 5.2) and TLP's (section 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rack {
    /// Send time of the most recently sent segment that has been
    /// delivered (RACK.xmit_ts), and its transmission order, which breaks
    /// ties where RFC 8985 uses RACK.end_seq (see `SentLog`).
    xmit_ts: Option<Instant>,
    xmit_order: u32,
    /// RTT of that segment (RACK.rtt).
    rtt: Duration,
    /// The smallest RTT seen (RACK.min_RTT).
    min_rtt: Option<Duration>,
    /// The highest end of any delivered segment (RACK.fack).
    fack: Option<SeqNumber>,
    /// A segment was delivered below one delivered earlier, never
    /// retransmitted: the path reorders.
    reordering_seen: bool,
    /// The reordering window in units of min_RTT / 4 (RACK.reo_wnd_mult).
    reo_wnd_mult: u8,
    /// Recoveries left before `reo_wnd_mult` falls back to 1.
    reo_wnd_persist: u8,
    /// SND.NXT when the last D-SACK widened the window (RACK.dsack_round).
    dsack_round: Option<SeqNumber>,
    /// TLP.end_seq: SND.NXT after the outstanding loss probe, if any.
    tlp_end_seq: Option<SeqNumber>,
    /// TLP.is_retrans: a probe of the outstanding series resent old data
    /// outside a recovery episode (one sent during a recovery belongs to
    /// that episode and its one reduction).
    tlp_is_retrans: bool,
    /// Probes sent since the peer last delivered data (the PTO backoff).
    probes: u8,
}

impl Default for Rack {
    fn default() -> Self {
        Self::new()
    }
}

/// What a delivered segment tells RACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    /// Its first and one-past-last sequence numbers.
    pub start: SeqNumber,
    /// One past its last sequence number.
    pub end: SeqNumber,
    /// When it was last sent.
    pub sent: Instant,
    /// Transmission order of that send.
    pub order: u32,
    /// Sent more than once.
    pub retransmitted: bool,
}

/// What TLP's ACK processing (RFC 8985 section 7.4) concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlpOutcome {
    /// No probe outstanding, or not decided yet.
    Pending,
    /// The probe is settled and nothing was lost.
    NoLoss,
    /// The probe repaired a loss: congestion control must respond once.
    LossRepaired,
}

impl Rack {
    /// No segment delivered yet.
    pub const fn new() -> Self {
        Rack {
            xmit_ts: None,
            xmit_order: 0,
            rtt: Duration::ZERO,
            min_rtt: None,
            fack: None,
            reordering_seen: false,
            reo_wnd_mult: 1,
            reo_wnd_persist: REO_WND_PERSIST,
            dsack_round: None,
            tlp_end_seq: None,
            tlp_is_retrans: false,
            probes: 0,
        }
    }

    /// Whether the path has been seen to reorder.
    #[cfg(test)]
    pub fn reordering_seen(&self) -> bool {
        self.reordering_seen
    }

    /// RACK.min_RTT, once known.
    #[cfg(test)]
    pub fn min_rtt(&self) -> Option<Duration> {
        self.min_rtt
    }

    /// RACK.rtt.
    #[cfg(test)]
    pub fn rtt(&self) -> Duration {
        self.rtt
    }

    /// RFC 8985 section 6.2 steps 1 to 3 for one newly delivered segment
    /// (cumulatively ACKed or SACKed) at `now`: RACK.rtt, RACK.xmit_ts and
    /// RACK.end_seq, min_RTT, and reordering detection.
    ///
    /// A retransmitted segment's RTT is ambiguous; as Linux does, it is
    /// believed only if not below min_RTT (a smaller value must be the
    /// original's ACK answering the retransmission).
    pub fn on_delivered(&mut self, seg: Delivered, now: Instant) {
        if !seg.retransmitted && self.fack.is_some_and(|fack| seg.end < fack) {
            self.reordering_seen = true;
        }
        if self.fack.is_none_or(|fack| seg.end > fack) {
            self.fack = Some(seg.end);
        }
        let rtt = now.saturating_duration_since(seg.sent);
        if seg.retransmitted && self.min_rtt.is_some_and(|min| rtt < min) {
            return;
        }
        self.rtt = rtt;
        if !seg.retransmitted {
            self.min_rtt = Some(self.min_rtt.map_or(rtt, |min| min.min(rtt)));
        }
        if self.sent_after(seg.sent, seg.order) {
            self.xmit_ts = Some(seg.sent);
            self.xmit_order = seg.order;
        }
    }

    /// Whether a segment sent at `sent` (transmission `order`) was sent
    /// after RACK.xmit_ts (RFC 8985 section 6.2's RACK_sent_after).
    fn sent_after(&self, sent: Instant, order: u32) -> bool {
        match self.xmit_ts {
            None => true,
            Some(ts) => {
                sent > ts || (sent == ts && (order.wrapping_sub(self.xmit_order) as i32) > 0)
            }
        }
    }

    /// RFC 8985 section 6.2 step 4: a D-SACK widens the reordering window
    /// once per round trip.
    pub fn on_dsack(&mut self, snd_una: SeqNumber, snd_nxt: SeqNumber) {
        if self.dsack_round.is_some_and(|round| snd_una >= round) {
            self.dsack_round = None;
        }
        if self.dsack_round.is_none() {
            self.dsack_round = Some(snd_nxt);
            self.reo_wnd_mult = self.reo_wnd_mult.saturating_add(1);
            self.reo_wnd_persist = REO_WND_PERSIST;
        }
    }

    /// A loss recovery ended: the widened window decays after
    /// `REO_WND_PERSIST` recoveries without a D-SACK.
    pub fn on_recovery_end(&mut self) {
        self.reo_wnd_persist = self.reo_wnd_persist.saturating_sub(1);
        if self.reo_wnd_persist == 0 {
            self.reo_wnd_mult = 1;
            self.reo_wnd_persist = REO_WND_PERSIST;
        }
    }

    /// RACK.reo_wnd (RFC 8985 section 6.2 step 4): zero until reordering
    /// has been seen when recovering or when DupThresh segments are
    /// SACKed (so a plain loss is caught at once, as 3 duplicate ACKs
    /// would); else reo_wnd_mult * min_RTT / 4, at most SRTT.
    pub fn reo_wnd(&self, in_recovery: bool, dupthresh_reached: bool, srtt: Duration) -> Duration {
        if !self.reordering_seen && (in_recovery || dupthresh_reached) {
            return Duration::ZERO;
        }
        let quarter = self.min_rtt.unwrap_or(Duration::ZERO).total_micros() / 4;
        let wnd = Duration::from_micros(quarter.saturating_mul(u64::from(self.reo_wnd_mult)));
        wnd.min(srtt)
    }

    /// RFC 8985 section 6.2 step 5: marks lost every record not SACKed
    /// that was sent before RACK.xmit_ts and more than RACK.rtt +
    /// `reo_wnd` ago. Returns how many were newly marked, and when the
    /// next record would time out (the reordering timer), if any.
    pub fn detect_loss(
        &self,
        log: &mut SentLog,
        reo_wnd: Duration,
        now: Instant,
    ) -> (usize, Option<Instant>) {
        if self.xmit_ts.is_none() {
            return (0, None);
        }
        let mut marked = 0;
        let mut timer: Option<Instant> = None;
        let wait = self.rtt.saturating_add(reo_wnd);
        for i in 0..log.len() {
            let Some(seg) = log.get(i) else { break };
            if seg.sacked || (seg.lost && !seg.retransmitted) {
                continue;
            }
            if self.sent_after(seg.sent, seg.order) {
                continue;
            }
            let deadline = seg.sent.checked_add(wait).unwrap_or(seg.sent);
            if deadline <= now {
                if log.mark_lost(i) {
                    marked += 1;
                }
            } else {
                timer = Some(timer.map_or(deadline, |t| t.max(deadline)));
            }
        }
        (marked, timer)
    }

    /// RFC 8985 section 7.2: the probe timeout: 2 * SRTT (1 s before a
    /// sample), plus the worst-case delayed ACK when one segment is in
    /// flight, at least `MIN_PTO`, doubled for each of the `probes`
    /// already sent unanswered (RFC 9002 section 6.2.1's backoff), never
    /// later than `rto_deadline`.
    pub fn pto(
        srtt: Option<Duration>,
        one_segment_in_flight: bool,
        probes: u8,
        now: Instant,
        rto_deadline: Option<Instant>,
    ) -> Option<Instant> {
        let mut pto = match srtt {
            Some(srtt) => srtt.saturating_mul(2),
            None => INITIAL_PTO,
        };
        if one_segment_in_flight {
            pto = pto.saturating_add(MAX_ACK_DELAY);
        }
        pto = pto
            .max(MIN_PTO)
            .saturating_mul(1u32.checked_shl(probes.into()).unwrap_or(u32::MAX));
        let at = now.checked_add(pto)?;
        Some(match rto_deadline {
            Some(rto) => at.min(rto),
            None => at,
        })
    }

    /// Whether another loss probe may be scheduled: fewer than
    /// [`MAX_CONSECUTIVE_PROBES`] sent since the peer last delivered data.
    pub fn may_probe(&self) -> bool {
        self.probes < MAX_CONSECUTIVE_PROBES
    }

    /// Probes sent since the peer last delivered data.
    pub fn probes(&self) -> u8 {
        self.probes
    }

    /// TLP.end_seq, while a probe is outstanding.
    pub fn probe_end(&self) -> Option<SeqNumber> {
        self.tlp_end_seq
    }

    /// A loss probe went out: TLP.end_seq is SND.NXT after it. A probe
    /// that resent old data outside a recovery episode (`in_episode`
    /// false) may turn out to have repaired a loss (section 7.4); one sent
    /// during a recovery or after an RTO is part of that episode.
    pub fn on_probe_sent(&mut self, snd_nxt: SeqNumber, retransmission: bool, in_episode: bool) {
        if self.tlp_end_seq.is_none() {
            self.tlp_is_retrans = false;
        }
        self.tlp_end_seq = Some(snd_nxt);
        self.tlp_is_retrans |= retransmission && !in_episode;
        self.probes = self.probes.saturating_add(1);
    }

    /// The peer delivered data (an ACK moved SND.UNA or SACKed more): the
    /// probe backoff starts over.
    pub fn on_delivery(&mut self) {
        self.probes = 0;
    }

    /// Forgets the outstanding probe and its backoff (an RTO or a
    /// recovery took over).
    pub fn clear_probe(&mut self) {
        self.tlp_end_seq = None;
        self.probes = 0;
    }

    /// RFC 8985 section 7.4: what an ACK says about the outstanding probe.
    /// `dsack_of_probe`: the ACK D-SACKs the probe's data; `advanced`:
    /// SND.UNA moved; `duplicate`: a pure duplicate ACK (no SACK news).
    pub fn on_ack_for_probe(
        &mut self,
        ack: SeqNumber,
        dsack_of_probe: bool,
        advanced: bool,
        duplicate: bool,
    ) -> TlpOutcome {
        let Some(end) = self.tlp_end_seq else {
            return TlpOutcome::Pending;
        };
        if ack < end {
            return TlpOutcome::Pending;
        }
        let outcome = if !self.tlp_is_retrans || dsack_of_probe {
            // New data probed (RACK handles any loss), or both the
            // original and the probe arrived.
            TlpOutcome::NoLoss
        } else if ack > end || advanced {
            TlpOutcome::LossRepaired
        } else if duplicate {
            TlpOutcome::NoLoss
        } else {
            return TlpOutcome::Pending;
        };
        self.tlp_end_seq = None;
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socket::tcp::scoreboard::SackRanges;

    fn s(n: u32) -> SeqNumber {
        SeqNumber(n)
    }

    fn at(ms: u64) -> Instant {
        Instant::ZERO + Duration::from_millis(ms)
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Five segments of 100 bytes from 1000, sent 1 ms apart.
    fn flight() -> SentLog {
        let mut log = SentLog::new(s(1000));
        for i in 0..5u32 {
            assert!(log.on_new_data(s(1000 + i * 100), s(1100 + i * 100), 100, at(i.into())));
        }
        log
    }

    fn sack(
        log: &mut SentLog,
        sacked: &mut SackRanges,
        rack: &mut Rack,
        l: u32,
        r: u32,
        now: Instant,
    ) {
        sacked.insert(s(l), s(r));
        log.mark_sacked(sacked, |seg| {
            rack.on_delivered(
                Delivered {
                    start: seg.start,
                    end: seg.end,
                    sent: seg.sent,
                    order: seg.order,
                    retransmitted: seg.ever_retransmitted,
                },
                now,
            )
        });
    }

    /// A segment delivered out of order within the reordering window is
    /// not marked lost; after the window it is, and the timer says when.
    #[test]
    fn loss_after_the_reordering_window_only() {
        let mut log = flight();
        let mut sacked = SackRanges::new();
        let mut rack = Rack::new();
        // Segment 2 (sent at 2 ms) arrives at 12 ms: RTT 10 ms.
        sack(&mut log, &mut sacked, &mut rack, 1200, 1300, at(12));
        assert_eq!(rack.rtt(), ms(10));
        assert_eq!(rack.min_rtt(), Some(ms(10)));
        // Reordering not seen yet, but not in recovery: window min_RTT/4.
        let wnd = rack.reo_wnd(false, false, ms(10));
        assert_eq!(wnd, Duration::from_micros(2500));
        let (lost, timer) = rack.detect_loss(&mut log, wnd, at(12));
        assert_eq!(lost, 0);
        // Segments 0 and 1 (sent at 0 and 1 ms) time out at 12.5 and
        // 13.5 ms; the timer waits for the later (RFC 8985 6.2 step 5).
        assert_eq!(timer, Some(Instant::ZERO + Duration::from_micros(13_500)));
        // Segment 0 shows up (reordering): not lost, and reordering seen.
        sack(&mut log, &mut sacked, &mut rack, 1000, 1100, at(12));
        assert!(rack.reordering_seen());
        // RACK.rtt is now segment 0's, 12 ms. Segment 1 never arrives:
        // lost once 1 + 12 + 2.5 ms have passed.
        let (lost, timer) = rack.detect_loss(&mut log, wnd, at(15));
        assert_eq!(
            (lost, timer),
            (0, Some(Instant::ZERO + Duration::from_micros(15_500)))
        );
        let (lost, timer) = rack.detect_loss(&mut log, wnd, at(16));
        assert_eq!((lost, timer), (1, None));
        assert!(log.get(1).unwrap().lost);
        // Segments 3 and 4, sent after the delivered one, are never judged.
        assert!(!log.get(3).unwrap().lost && !log.get(4).unwrap().lost);
    }

    /// Without reordering, DupThresh SACKed segments make the window zero:
    /// the hole is lost on that ACK, as with three duplicate ACKs.
    #[test]
    fn no_window_at_dupthresh_without_reordering() {
        let mut log = flight();
        let mut sacked = SackRanges::new();
        let mut rack = Rack::new();
        sack(&mut log, &mut sacked, &mut rack, 1100, 1400, at(13));
        let wnd = rack.reo_wnd(false, true, ms(10));
        assert_eq!(wnd, Duration::ZERO);
        let (lost, timer) = rack.detect_loss(&mut log, wnd, at(13));
        assert_eq!((lost, timer), (1, None));
        assert!(log.get(0).unwrap().lost);
    }

    #[test]
    fn dsack_widens_the_window_and_it_decays() {
        let mut rack = Rack::new();
        rack.on_delivered(
            Delivered {
                start: s(0),
                end: s(100),
                sent: at(0),
                order: 0,
                retransmitted: false,
            },
            at(40),
        );
        rack.reordering_seen = true;
        assert_eq!(rack.reo_wnd(true, true, ms(100)), ms(10));
        rack.on_dsack(s(0), s(1000));
        assert_eq!(rack.reo_wnd(true, true, ms(100)), ms(20));
        // A second D-SACK in the same round does not widen it again.
        rack.on_dsack(s(500), s(1500));
        assert_eq!(rack.reo_wnd(true, true, ms(100)), ms(20));
        // The next round does; SRTT caps it.
        rack.on_dsack(s(1000), s(2000));
        assert_eq!(rack.reo_wnd(true, true, ms(100)), ms(30));
        assert_eq!(rack.reo_wnd(true, true, ms(25)), ms(25));
        for _ in 0..REO_WND_PERSIST - 1 {
            rack.on_recovery_end();
        }
        assert_eq!(rack.reo_wnd(true, true, ms(100)), ms(30));
        rack.on_recovery_end();
        assert_eq!(rack.reo_wnd(true, true, ms(100)), ms(10));
    }

    #[test]
    fn an_ambiguous_retransmission_rtt_is_ignored() {
        let mut rack = Rack::new();
        let seg = |sent, retransmitted| Delivered {
            start: s(0),
            end: s(100),
            sent,
            order: 0,
            retransmitted,
        };
        rack.on_delivered(seg(at(0), false), at(10));
        // Resent at 50, ACKed at 52: 2 ms is below min_RTT, the original's ACK.
        rack.on_delivered(seg(at(50), true), at(52));
        assert_eq!(rack.rtt(), ms(10));
        rack.on_delivered(seg(at(60), true), at(75));
        assert_eq!(rack.rtt(), ms(15));
        assert_eq!(rack.min_rtt(), Some(ms(10)));
    }

    #[test]
    fn pto() {
        let now = at(1000);
        assert_eq!(Rack::pto(Some(ms(10)), false, 0, now, None), Some(at(1020)));
        assert_eq!(Rack::pto(Some(ms(10)), true, 0, now, None), Some(at(1220)));
        assert_eq!(Rack::pto(None, false, 0, now, None), Some(at(2000)));
        // Never below the floor, never after the RTO.
        assert_eq!(Rack::pto(Some(ms(1)), false, 0, now, None), Some(at(1010)));
        assert_eq!(
            Rack::pto(Some(ms(10)), true, 0, now, Some(at(1100))),
            Some(at(1100))
        );
        // Doubled per unanswered probe, the floor included.
        assert_eq!(Rack::pto(Some(ms(10)), false, 1, now, None), Some(at(1040)));
        assert_eq!(Rack::pto(Some(ms(1)), false, 1, now, None), Some(at(1020)));
        assert_eq!(
            Rack::pto(Some(ms(10)), false, 1, now, Some(at(1030))),
            Some(at(1030))
        );
    }

    #[test]
    fn tlp_outcomes() {
        let mut rack = Rack::new();
        assert_eq!(
            rack.on_ack_for_probe(s(10), false, true, false),
            TlpOutcome::Pending
        );
        // New data probed: settled on its ACK, no congestion response.
        rack.on_probe_sent(s(500), false, false);
        assert_eq!(
            rack.on_ack_for_probe(s(400), false, true, false),
            TlpOutcome::Pending
        );
        assert_eq!(
            rack.on_ack_for_probe(s(500), false, true, false),
            TlpOutcome::NoLoss
        );
        assert!(rack.probe_end().is_none());
        // A retransmitted probe that filled the hole: a loss.
        rack.on_probe_sent(s(500), true, false);
        assert_eq!(
            rack.on_ack_for_probe(s(500), false, true, false),
            TlpOutcome::LossRepaired
        );
        // Both copies arrived: the D-SACK says so.
        rack.on_probe_sent(s(500), true, false);
        assert_eq!(
            rack.on_ack_for_probe(s(500), true, false, false),
            TlpOutcome::NoLoss
        );
        // A pure duplicate ACK at the probe's end: the original had arrived.
        rack.on_probe_sent(s(500), true, false);
        assert_eq!(
            rack.on_ack_for_probe(s(500), false, false, true),
            TlpOutcome::NoLoss
        );
    }
}
