//! Loss recovery on the sender's side: the SACK scoreboard fed from each
//! ACK (RFC 2018, RFC 2883), loss marking by RACK (RFC 8985) with SACK or
//! by duplicate ACKs without (RFC 6582), fast recovery paced by PRR
//! (RFC 6937) with RFC 6675's pipe and RecoveryPoint, tail loss probes,
//! and the undo of reductions that prove spurious (RFC 3708 D-SACK,
//! RFC 3522 Eifel, response RFC 4015).

use super::congestion::{AckEvent, CongestionCause, CongestionControl};
use super::rack::{Delivered, Rack, TlpOutcome};
use super::scoreboard::{SackBlock, SegmentInfo, classify_block};
use super::{TcpSocket, TcpStats, UndoState, prr::Prr};
use crate::socket::Context;
use crate::time::{Duration, Instant};
use crate::wire::{SeqNumber, TcpRepr};

/// The sender's view before an ACK is processed.
#[derive(Debug, Clone, Copy)]
pub(super) struct RecoverySnapshot {
    una: SeqNumber,
    pipe: usize,
    sacked: usize,
}

/// What an ACK's SACK option said.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct SackNews {
    /// A D-SACK block (RFC 2883): data the peer received twice.
    dsack: Option<(SeqNumber, SeqNumber)>,
    /// At least one valid block above SND.UNA.
    any_block: bool,
}

impl From<SegmentInfo> for Delivered {
    fn from(seg: SegmentInfo) -> Delivered {
        Delivered {
            start: seg.start,
            end: seg.end,
            sent: seg.sent,
            order: seg.order,
            retransmitted: seg.ever_retransmitted,
        }
    }
}

impl<'a> TcpSocket<'a> {
    /// Whether the peer sends SACK blocks we act on (RFC 2018: both SYNs
    /// carried SACK-permitted).
    pub(super) fn sack_in_use(&self) -> bool {
        self.peer_sack_permitted
    }

    /// RFC 6675's pipe: bytes in flight as the scoreboard sees them.
    /// Without SACK the duplicate ACKs of a recovery stand for one SMSS
    /// each that has left the network (RFC 6937 section 3).
    pub(super) fn pipe(&self) -> usize {
        self.sent_log
            .pipe(&self.sacked)
            .saturating_sub(self.dup_ack_bytes)
    }

    pub(super) fn recovery_snapshot(&self) -> RecoverySnapshot {
        RecoverySnapshot {
            una: self.snd_una,
            pipe: self.pipe(),
            sacked: self.sacked.sacked_bytes(),
        }
    }

    /// Takes an ACK's SACK blocks into the scoreboard. Blocks are checked
    /// against `[SND.UNA, SND.MAX)` first; the first block is a D-SACK
    /// (RFC 2883 section 4) when it lies below the ACK or inside the
    /// second block.
    pub(super) fn take_sack_blocks(&mut self, repr: &TcpRepr, ack: SeqNumber) -> SackNews {
        let mut news = SackNews::default();
        if !self.sack_in_use() || self.snd_una == self.iss {
            return news;
        }
        let blocks = &repr.sack_ranges;
        let second = blocks[1];
        for (i, block) in blocks.iter().enumerate() {
            let Some(block) = block else { continue };
            let (left, right) = (block.left, block.right);
            if i == 0 {
                let inside_second = second.is_some_and(|s| s.left <= left && right <= s.right);
                let below_ack = left < ack;
                if (below_ack || inside_second) && left < right && right <= self.snd_max {
                    news.dsack = Some((left, right));
                    if below_ack {
                        continue;
                    }
                }
            }
            match classify_block(left, right, self.snd_una.max(ack), self.snd_max) {
                SackBlock::Sacked(l, r) => {
                    self.sacked.insert(l, r);
                    news.any_block = true;
                }
                SackBlock::BelowUna(..) | SackBlock::Invalid => {}
            }
        }
        news
    }

    /// Everything an acceptable ACK means for loss recovery, after SND.UNA
    /// has moved: RACK's state and loss marks, fast recovery's start and
    /// end, PRR's window or congestion control's growth, undo, and the
    /// loss probe.
    pub(super) fn on_ack_loss_recovery(
        &mut self,
        cx: &mut Context,
        repr: &TcpRepr,
        before: RecoverySnapshot,
        sack: SackNews,
        rtt: Option<Duration>,
        duplicate: bool,
    ) {
        let now = cx.now;
        if before.una == self.iss || self.snd_una == self.iss {
            // The handshake: no data was in flight.
            return;
        }
        let mss = self.congestion_mss();
        let acked = self.snd_una - before.una;
        let rack = &mut self.rack;
        self.sent_log
            .mark_sacked(&self.sacked, |seg| rack.on_delivered(seg.into(), now));
        let sacked_after = self.sacked.sacked_bytes();
        let mut delivered = (acked + sacked_after).saturating_sub(before.sacked);

        if let Some((left, right)) = sack.dsack {
            self.rack.on_dsack(self.snd_una, self.snd_max);
            self.count_dsack(&mut cx.stats, left, right, mss);
        }
        if !self.sack_in_use() && self.in_recovery {
            if duplicate {
                self.dup_ack_bytes = self.dup_ack_bytes.saturating_add(mss);
                delivered = delivered.saturating_add(mss);
            }
            if acked > 0 {
                // The duplicate ACKs stood for some of these bytes; a
                // partial ACK still delivers at least one segment, as
                // Linux's `tcp_remove_reno_sacks` counts it.
                let credited = self.dup_ack_bytes.min(acked);
                delivered = (acked - credited).max(acked.min(mss));
                self.dup_ack_bytes -= credited;
            }
        }
        if acked > 0 {
            self.check_eifel(&mut cx.stats, repr);
        }

        // RFC 8985 section 7.4: did the loss probe repair a loss?
        let dsack_of_probe = match (sack.dsack, self.rack.probe_end()) {
            (Some((_, right)), Some(end)) => right == end,
            _ => false,
        };
        let outcome = self.rack.on_ack_for_probe(
            self.snd_una,
            dsack_of_probe,
            acked > 0,
            duplicate && !sack.any_block,
        );
        if outcome == TlpOutcome::LossRepaired && !self.in_recovery && !self.in_rto_recovery {
            // One reduction, over at once (as for ECN, RFC 8985 7.4.2).
            let flight = self.snd_max - self.snd_una;
            self.cc
                .on_congestion_event(now, flight, CongestionCause::Loss);
            self.cc.on_recovery_end(now);
            self.undo = None;
        }

        // The end of a recovery (RFC 6675 section 5, RFC 6582 full ACK).
        if self.in_recovery && self.snd_una >= self.recover {
            self.end_recovery(now);
        }
        if self.in_rto_recovery && self.snd_una >= self.recover {
            self.in_rto_recovery = false;
        }

        // Loss marking.
        let newly_lost = if self.sack_in_use() {
            self.rack_detect_loss(now)
        } else {
            self.dup_ack_loss(acked)
        };
        if newly_lost > 0 && !self.in_recovery && !self.in_rto_recovery {
            self.enter_recovery(&mut cx.stats, now);
            if !self.sack_in_use() {
                // DupThresh duplicate ACKs: that many segments have left
                // the network, this ACK's one among them.
                let dups = usize::try_from(self.dup_acks).unwrap_or(usize::MAX);
                self.dup_ack_bytes = dups.saturating_mul(mss);
                delivered = mss;
            }
        }

        if self.in_recovery {
            let pipe = self.pipe();
            let cwnd = self.prr.on_ack(delivered, pipe, self.cc.ssthresh(), mss);
            self.cc.set_window(cwnd);
        } else if delivered > 0 {
            self.cc.on_ack_event(&AckEvent {
                now,
                bytes_acked: delivered,
                flight_size: before.pipe,
                rtt,
                snd_una: self.snd_una,
                snd_nxt: self.snd_max,
            });
        }
        if delivered > 0 || acked > 0 {
            self.rack.on_delivery();
            self.arm_loss_probe(now);
        }
        if self.sent_log.is_empty() {
            self.timers.reorder = None;
        }
    }

    /// Without SACK (RFC 6582): the third duplicate ACK marks the segment
    /// at SND.UNA lost, once per window of data; in recovery a partial ACK
    /// marks the next one. Returns how many segments were marked.
    fn dup_ack_loss(&mut self, acked: usize) -> usize {
        if self.in_recovery {
            if acked > 0 && self.snd_una < self.recover {
                return usize::from(self.sent_log.mark_lost(0));
            }
            return 0;
        }
        if self.in_rto_recovery || acked > 0 {
            return 0;
        }
        if self.dup_acks == 3 && self.snd_una > self.recover {
            return usize::from(self.sent_log.mark_lost(0));
        }
        0
    }

    /// RACK's loss detection (RFC 8985 section 6.2 step 5), with the
    /// reordering window of step 4; arms the reordering timer.
    fn rack_detect_loss(&mut self, now: Instant) -> usize {
        let srtt = self.rtt.srtt().unwrap_or(Duration::ZERO);
        let at_dup_thresh =
            self.sent_log
                .is_lost(&self.sacked, self.snd_una, self.congestion_mss());
        let reo_wnd = self.rack.reo_wnd(
            self.in_recovery || self.in_rto_recovery,
            at_dup_thresh,
            srtt,
        );
        let (marked, timer) = self.rack.detect_loss(&mut self.sent_log, reo_wnd, now);
        self.timers.reorder = timer;
        marked
    }

    /// Fast recovery starts (RFC 6675 section 5, RFC 6937 section 3):
    /// RecoveryPoint = SND.MAX, ssthresh from congestion control, PRR from
    /// the flight size; the episode can be undone.
    fn enter_recovery(&mut self, stats: &mut TcpStats, now: Instant) {
        let flight = self.snd_max - self.snd_una;
        self.in_recovery = true;
        self.recover = self.snd_max;
        self.cc
            .on_congestion_event(now, flight, CongestionCause::Loss);
        self.prr = Prr::start(flight);
        self.undo = Some(UndoState {
            marker: self.snd_una,
            high: self.snd_max,
            retransmitted: 0,
            dsacked: 0,
            first_retransmission: None,
        });
        self.rack.clear_probe();
        self.timers.loss_probe = None;
        self.loss_probe_due = false;
        self.rtt_probe = None;
        stats.fast_recoveries = stats.fast_recoveries.saturating_add(1);
    }

    /// Fast recovery ends: cwnd = ssthresh (RFC 6937), and a widened
    /// reordering window decays (RFC 8985 section 6.2 step 4).
    fn end_recovery(&mut self, now: Instant) {
        self.in_recovery = false;
        self.dup_ack_bytes = 0;
        self.dup_acks = 0;
        self.cc.on_recovery_end(now);
        self.rack.on_recovery_end();
    }

    /// A D-SACK for `[left, right)`: if it reports one of this episode's
    /// retransmissions, count it; when every retransmission came back
    /// duplicated, the episode was spurious (RFC 3708).
    fn count_dsack(&mut self, stats: &mut TcpStats, left: SeqNumber, right: SeqNumber, mss: usize) {
        let Some(undo) = self.undo.as_mut() else {
            return;
        };
        if left < undo.marker || right > undo.high {
            return;
        }
        let segments = (right - left).div_ceil(mss.max(1));
        let segments = u32::try_from(segments).unwrap_or(u32::MAX);
        undo.dsacked = undo.dsacked.saturating_add(segments);
        if undo.retransmitted > 0 && undo.dsacked >= undo.retransmitted {
            self.undo_episode(stats);
        }
    }

    /// RFC 3522 Eifel detection: the first ACK covering the episode's
    /// first retransmission echoes a TSval older than that retransmission,
    /// so it answers the original: the retransmission was spurious.
    fn check_eifel(&mut self, stats: &mut TcpStats, repr: &TcpRepr) {
        let Some(undo) = self.undo.as_mut() else {
            return;
        };
        let Some((tsval, end)) = undo.first_retransmission else {
            return;
        };
        if self.snd_una < end {
            return;
        }
        // One test per episode: later ACKs answer later segments.
        undo.first_retransmission = None;
        let echoed = repr
            .timestamp
            .filter(|ts| self.timestamps.enabled && ts.tsecr != 0)
            .map(|ts| ts.tsecr);
        if let Some(tsecr) = echoed {
            if (tsecr.wrapping_sub(tsval) as i32) < 0 {
                self.undo_episode(stats);
            }
        }
    }

    /// RFC 4015's response to a spurious retransmission: the window and
    /// ssthresh come back, the loss marks go (nothing was lost) and
    /// recovery ends. The RTO's backoff stays until a new RTT sample (the
    /// ACK that proved it spurious answers the original, and gives none).
    fn undo_episode(&mut self, stats: &mut TcpStats) {
        self.undo = None;
        self.cc.on_undo();
        self.sent_log.clear_lost();
        self.in_recovery = false;
        self.in_rto_recovery = false;
        self.dup_ack_bytes = 0;
        stats.spurious_undone = stats.spurious_undone.saturating_add(1);
    }

    /// A retransmission of `[start, end)` went out: it counts for undo.
    pub(super) fn note_retransmission(&mut self, now: Instant, start: SeqNumber, end: SeqNumber) {
        let mss = self.congestion_mss();
        let tsval = self.ts_clock(now);
        if !(self.in_recovery || self.in_rto_recovery) {
            return;
        }
        if let Some(undo) = self.undo.as_mut() {
            let segments = u32::try_from((end - start).div_ceil(mss.max(1))).unwrap_or(u32::MAX);
            undo.retransmitted = undo.retransmitted.saturating_add(segments.max(1));
            if undo.first_retransmission.is_none() && undo.retransmitted == segments.max(1) {
                undo.first_retransmission = Some((tsval, end));
            }
        }
    }

    /// Starts or restarts the probe timeout (RFC 8985 section 7.2) after a
    /// transmission or an ACK that delivered data: only with SACK (as
    /// Linux: without it the peer's ACK cannot say which segment the probe
    /// repaired), with data in flight, and while the backoff allows
    /// ([`rack::MAX_CONSECUTIVE_PROBES`](super::rack::MAX_CONSECUTIVE_PROBES)).
    ///
    /// Unlike RFC 8985 (and Linux), the probe also runs during fast
    /// recovery and after an RTO, as QUIC's does (RFC 9002 section 6.2):
    /// when a retransmission is lost and nothing sent after it is
    /// delivered, or when every ACK of a small flight is lost, RACK gets
    /// no signal and only a timer can move the connection; the probe's
    /// SACK or ACK lets RACK find what is lost one round trip later,
    /// instead of the RTO's 200 ms floor, the window collapse and the
    /// resending of everything outstanding.
    pub(super) fn arm_loss_probe(&mut self, now: Instant) {
        let allowed = self.sack_in_use()
            && self.rack.may_probe()
            && self.snd_max > self.snd_una
            && self.sends_data();
        if !allowed {
            self.timers.loss_probe = None;
            return;
        }
        let one_segment = self.snd_max - self.snd_una <= self.congestion_mss();
        self.timers.loss_probe = Rack::pto(
            self.rtt.srtt(),
            one_segment,
            self.rack.probes(),
            now,
            self.timers.retransmit,
        );
    }

    /// The reordering timer fired: RACK looks again, and a loss found
    /// starts recovery (RFC 8985 section 6.2, Linux's
    /// `tcp_rack_reo_timeout`).
    pub(super) fn on_reorder_timeout(&mut self, stats: &mut TcpStats, now: Instant) {
        self.timers.reorder = None;
        if !self.sack_in_use() {
            return;
        }
        let marked = self.rack_detect_loss(now);
        if marked > 0 && !self.in_recovery && !self.in_rto_recovery {
            self.enter_recovery(stats, now);
        }
        if marked > 0 && self.in_recovery {
            let pipe = self.pipe();
            let cwnd = self
                .prr
                .on_ack(0, pipe, self.cc.ssthresh(), self.congestion_mss());
            self.cc.set_window(cwnd);
        }
    }

    /// The loss probe timer fired: a probe is due if there is something
    /// to send (new data, or the highest segment not SACKed again); else
    /// the RTO stays.
    pub(super) fn on_loss_probe_timeout(&mut self) {
        self.timers.loss_probe = None;
        if self.snd_max == self.snd_una {
            return;
        }
        self.loss_probe_due = self.plan_loss_probe().is_some();
    }

    /// RFC 8985 section 6.3 on a retransmission timeout: every segment
    /// not SACKed is lost, so the RTO resends only what the peer lacks;
    /// but if the segment at SND.UNA is SACKed the peer has reneged
    /// (RFC 2018 section 8), and every SACK is forgotten first.
    pub(super) fn on_timeout_marks(&mut self) {
        let reneged = self
            .sacked
            .iter()
            .next()
            .is_some_and(|(l, _)| l <= self.snd_una);
        if reneged {
            self.sacked.clear();
            self.sent_log.clear_sacked();
        }
        self.sent_log.mark_all_lost();
        // Whatever was waiting to be resent after a rewind is lost too,
        // and goes out by the lost marks.
        self.snd_nxt = self.snd_max;
        // A timeout inside a recovery or an earlier timeout's recovery is
        // the same loss episode: its undo state stays.
        let new_episode = !self.in_recovery && !self.in_rto_recovery;
        self.in_recovery = false;
        self.dup_ack_bytes = 0;
        self.rack.clear_probe();
        self.timers.loss_probe = None;
        self.timers.reorder = None;
        self.loss_probe_due = false;
        if new_episode {
            self.undo = Some(UndoState {
                marker: self.snd_una,
                high: self.snd_max,
                retransmitted: 0,
                dsacked: 0,
                first_retransmission: None,
            });
        }
        self.in_rto_recovery = true;
    }
}
