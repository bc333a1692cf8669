//! Segment output: what to send next (SYN, data, FIN, probes, ACKs), the
//! advertised window, Nagle's algorithm and silly window avoidance.

use super::congestion::CongestionControl;
use super::sack_report::{MAX_SACK_BLOCKS, MAX_SACK_BLOCKS_WITH_TIMESTAMPS};
use super::{HOP_LIMIT, State, TIMESTAMP_OPTION_LEN, TcpSocket, tcp_header_len};
use crate::socket::{Context, PollAt};
use crate::time::Instant;
use crate::wire::{IpRepr, SeqNumber, TcpFlags, TcpRepr, TcpSackRange, TcpTimestamp};

/// Bytes of the SACK option without its blocks, alignment included: two
/// NOPs, kind and length (RFC 2018 section 3, laid out as Linux does).
const SACK_OPTION_BASE_LEN: usize = 4;
/// Bytes of one SACK block.
const SACK_BLOCK_LEN: usize = 8;

/// What kind of segment a [`Plan`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SegmentKind {
    /// A RST after `abort` or a give-up.
    Rst,
    /// Our SYN or SYN-ACK.
    Syn,
    /// Data and/or FIN from the tx buffer.
    Data,
    /// A zero-window probe: one byte past the closed window.
    Probe,
    /// A keep-alive: `<SEQ=SND.UNA-1>`, no data (RFC 1122 4.2.3.6).
    KeepAlive,
    /// A pure ACK (delayed ACK, window update, owed ACK).
    Ack,
}

/// The segment `dispatch` will send, decided before it is built so that a
/// failed emit changes nothing.
#[derive(Debug, Clone, Copy)]
pub(super) struct Plan {
    kind: SegmentKind,
    seq: SeqNumber,
    ack: SeqNumber,
    flags: TcpFlags,
    /// Where the payload starts in the tx buffer, and its length.
    payload_offset: usize,
    payload_len: usize,
    /// The segment resends sequence space sent before.
    retransmission: bool,
    /// A super-segment for the device to cut into segments of this much
    /// payload (TSO); 0 for one segment.
    segment_size: u16,
    /// A retransmission of a segment marked lost (or a loss probe's):
    /// SND.NXT stays where it is.
    fast: bool,
    /// A tail loss probe (RFC 8985 section 7.3).
    loss_probe: bool,
}

impl Plan {
    /// Data sent for the first time: the only segments that are
    /// ECN-capable (RFC 3168 sections 6.1.5 and 6.1.6).
    fn carries_new_data(&self) -> bool {
        self.kind == SegmentKind::Data && self.payload_len > 0 && !self.retransmission
    }

    fn control(kind: SegmentKind, seq: SeqNumber, ack: SeqNumber, flags: TcpFlags) -> Plan {
        Plan {
            kind,
            seq,
            ack,
            flags,
            payload_offset: 0,
            payload_len: 0,
            retransmission: false,
            segment_size: 0,
            fast: false,
            loss_probe: false,
        }
    }
}

impl<'a> TcpSocket<'a> {
    /// Emits at most one segment through `emit`; `Ok(true)` if one was
    /// emitted (call again for more), `Ok(false)` if nothing is due.
    ///
    /// Expired timers fire first (retransmission, persist, keep-alive,
    /// TIME_WAIT, FIN_WAIT_2, SYN_RCVD, user timeout). The payload borrows
    /// from the tx buffer. If `emit` fails the socket is left as if nothing
    /// had been sent, so the segment is tried again later.
    pub fn dispatch<F, E>(&mut self, cx: &mut Context, emit: F) -> Result<bool, E>
    where
        F: FnOnce(&mut Context, (IpRepr, TcpRepr)) -> Result<(), E>,
    {
        self.run_timers(cx);
        if self.state == State::SynSent {
            // Our SYN offers the MSS of the MTU of the poll that sends it:
            // `connect` may have run before the interface knew the device's.
            self.rcv_mss = super::mss_for_mtu(cx.ip_mtu);
        }
        let now = cx.now;
        self.maybe_raise_path_mtu(now);
        let Some(plan) = self.plan(now, cx.tso_max_len) else {
            return Ok(false);
        };
        if plan.kind == SegmentKind::Data && !plan.retransmission {
            self.maybe_restart_after_idle(now);
        }
        let Some(segment) = self.build(now, &plan) else {
            // No endpoints (cannot happen once a connection exists); drop
            // what cannot be addressed so the socket does not spin.
            self.pending_rst = None;
            return Ok(false);
        };
        cx.segment_size = plan.segment_size;
        let emitted = emit(cx, segment);
        cx.segment_size = 0;
        emitted?;
        self.commit(cx, &plan);
        Ok(true)
    }

    /// RFC 1191 section 6.3: a path MTU learned from "fragmentation needed"
    /// is an estimate and routes change, so ten minutes after the last
    /// decrease the send MSS goes back to what the handshake settled. If
    /// the path is still narrow, the next ICMP message lowers it again.
    /// Checked when a segment may go out, so it needs no timer of its own.
    fn maybe_raise_path_mtu(&mut self, now: Instant) {
        let Some(at) = self.pmtu_raise_at else {
            return;
        };
        if now < at {
            return;
        }
        self.pmtu_raise_at = None;
        let ceiling = usize::from(self.mss_ceiling);
        if ceiling > self.snd_mss {
            self.snd_mss = ceiling;
            self.cc.set_mss(self.congestion_mss());
        }
    }

    /// When the socket next needs a poll: `Now` if a segment is ready or a
    /// timer has expired, else the earliest timer, else `Ingress`.
    pub fn poll_at(&self, cx: &Context) -> PollAt {
        let now = cx.now;
        if self.pending_rst.is_some() {
            return PollAt::Now;
        }
        if matches!(self.state, State::Closed | State::Listen) {
            return PollAt::Ingress;
        }
        // Whether a segment is due does not depend on how large it may be.
        if self.plan(now, 0).is_some() || self.needs_arming() {
            return PollAt::Now;
        }
        match self.next_deadline() {
            Some(deadline) if deadline <= now => PollAt::Now,
            deadline => super::poll_at_deadline(deadline),
        }
    }

    /// Decides the next segment, if any, without changing anything.
    /// The next segment to send, if any; data segments may be
    /// super-segments of up to `tso_max_len` bytes of IP packet.
    fn plan(&self, now: Instant, tso_max_len: usize) -> Option<Plan> {
        if let Some(rst) = self.pending_rst {
            return Some(Plan::control(
                SegmentKind::Rst,
                rst.seq,
                rst.ack,
                TcpFlags::RST | TcpFlags::ACK,
            ));
        }
        if matches!(self.state, State::Closed | State::Listen) {
            return None;
        }
        let syn_unacked = self.snd_una == self.iss;
        if syn_unacked && self.snd_nxt == self.iss {
            let flags = if self.state == State::SynSent {
                TcpFlags::SYN
            } else {
                TcpFlags::SYN | TcpFlags::ACK
            };
            let mut plan = Plan::control(SegmentKind::Syn, self.iss, self.rcv_nxt, flags);
            plan.retransmission = self.snd_max > self.iss;
            return Some(plan);
        }
        if self.sends_data() {
            if self.loss_probe_due {
                if let Some(plan) = self.plan_loss_probe() {
                    return Some(plan);
                }
            }
            if let Some(plan) = self.plan_lost_retransmission() {
                return Some(plan);
            }
            if let Some(plan) = self.plan_data(tso_max_len) {
                return Some(plan);
            }
            // Rescues happen only in recovery; checked here so the common
            // case does not pay for the call.
            if self.in_recovery {
                if let Some(plan) = self.plan_rescue_retransmission() {
                    return Some(plan);
                }
            }
            if self.persist_probe_due {
                if let Some(plan) = self.plan_probe() {
                    return Some(plan);
                }
            }
        }
        if self.state == State::SynSent {
            return None;
        }
        if self.keepalive_due {
            return Some(Plan::control(
                SegmentKind::KeepAlive,
                self.snd_una - 1,
                self.rcv_nxt,
                TcpFlags::ACK,
            ));
        }
        let delayed_ack_expired = self.timers.delayed_ack.is_some_and(|t| t <= now);
        if self.ack_now || self.ack_due || delayed_ack_expired || self.window_update_due() {
            return Some(Plan::control(
                SegmentKind::Ack,
                self.ack_seq(),
                self.rcv_nxt,
                TcpFlags::ACK,
            ));
        }
        None
    }

    /// The sequence number of a segment that carries no data: an ACK, a
    /// RST, a challenge ACK.
    ///
    /// RFC 9293 writes `<SEQ=SND.NXT>`, where SND.NXT is the highest
    /// sequence number sent. Our `snd_nxt` moves back to SND.UNA after a
    /// timeout (go-back-N), so it can lie below the peer's RCV.NXT; an ACK
    /// sent there is unacceptable to the peer (RFC 9293 3.10.7.4 first
    /// step), which drops it unread and answers with an ACK of its own. If
    /// both sides have rewound, every ACK is dropped, neither learns that
    /// its data arrived, and both time out. So a dataless segment takes
    /// SND.MAX (as BSD's `tcp_output` does), but never past the right edge
    /// of the peer's window, where a peer that shrank or closed its window
    /// would not accept it either.
    pub(super) fn ack_seq(&self) -> SeqNumber {
        if self.snd_una == self.iss {
            // Handshake: only our SYN (at ISS) can be outstanding.
            return self.snd_max;
        }
        let window_end = self.snd_una + self.snd_wnd;
        self.snd_max.min(window_end).max(self.snd_una)
    }

    /// Whether data and FIN may go out in this state: after our SYN, in
    /// the states where the send side is open or its FIN is unacknowledged.
    pub(super) fn sends_data(&self) -> bool {
        self.snd_nxt != self.iss
            && matches!(
                self.state,
                State::Established
                    | State::CloseWait
                    | State::FinWait1
                    | State::Closing
                    | State::LastAck
            )
    }

    /// The largest payload of a non-SYN segment: the send MSS less the
    /// options every segment carries (RFC 9293 section 3.7.1, RFC 6691).
    pub(super) fn max_payload(&self) -> usize {
        self.snd_mss.saturating_sub(self.option_overhead()).max(1)
    }

    /// The sender's SMSS for congestion control (RFC 5681 section 2): the
    /// send MSS less the options every segment carries, not counting the
    /// SACK blocks that come and go with out-of-order data.
    pub(super) fn congestion_mss(&self) -> usize {
        self.snd_mss
            .saturating_sub(self.timestamp_overhead())
            .max(1)
    }

    /// Option bytes in the next non-SYN segment: the timestamps, and the
    /// SACK blocks it reports (so a data segment carrying them still fits
    /// the MSS, RFC 6691, as Linux's `tcp_current_mss` shrinks).
    pub(super) fn option_overhead(&self) -> usize {
        let blocks = self.sack_blocks().iter().flatten().count();
        let sack = if blocks > 0 {
            SACK_OPTION_BASE_LEN + SACK_BLOCK_LEN * blocks
        } else {
            0
        };
        self.timestamp_overhead() + sack
    }

    /// Option bytes every non-SYN segment carries: the timestamps option.
    pub(super) fn timestamp_overhead(&self) -> usize {
        if self.timestamps.enabled {
            TIMESTAMP_OPTION_LEN
        } else {
            0
        }
    }

    /// The SACK blocks the next segment reports (RFC 2018 sections 3-4,
    /// RFC 2883): none unless SACK was negotiated; with out-of-order data
    /// held or a duplicate to report, up to 4 (3 beside timestamps).
    pub(super) fn sack_blocks(&self) -> [Option<TcpSackRange>; MAX_SACK_BLOCKS] {
        if !self.peer_sack_permitted
            || (self.assembler.is_empty() && !self.sack_report.duplicate_pending())
        {
            return [None; MAX_SACK_BLOCKS];
        }
        let limit = if self.timestamps.enabled {
            MAX_SACK_BLOCKS_WITH_TIMESTAMPS
        } else {
            MAX_SACK_BLOCKS
        };
        self.sack_report
            .blocks(self.rcv_nxt, &self.assembler, limit)
    }

    /// A retransmission of `[start, end)`, sequence space sent before
    /// (data, and the FIN if `end` passes the data); SND.NXT stays put.
    fn plan_resend(&self, start: SeqNumber, end: SeqNumber) -> Option<Plan> {
        let data_end = self.data_end();
        if start < self.snd_una || end > self.snd_max || start >= end {
            return None;
        }
        let mut plan = Plan::control(SegmentKind::Data, start, self.rcv_nxt, TcpFlags::ACK);
        plan.retransmission = true;
        plan.fast = true;
        if start < data_end {
            let offset = start - self.tx_seq;
            let len = end.min(data_end) - start;
            // The ring buffer hands out one contiguous run.
            let len = self.tx_buffer.get_allocated(offset, len).len();
            plan.payload_offset = offset;
            plan.payload_len = len;
            if start + len == data_end {
                plan.flags |= TcpFlags::PSH;
                if self.fin_queued && end > data_end {
                    plan.flags |= TcpFlags::FIN;
                }
            }
        } else if self.fin_queued && start == data_end {
            plan.flags |= TcpFlags::FIN;
        } else {
            return None;
        }
        Some(plan)
    }

    /// RFC 6675 NextSeg rule (1): the lowest segment marked lost (by
    /// RACK, duplicate ACKs or a timeout), its part the peer lacks, at
    /// most one MSS, when cwnd - pipe leaves room for it (RFC 6675
    /// section 5 step C, with PRR's window during recovery).
    fn plan_lost_retransmission(&self) -> Option<Plan> {
        // Nothing in flight, nothing lost (and no MSS to work out).
        if self.sent_log.is_empty() {
            return None;
        }
        let (start, end) = self.sent_log.next_lost(&self.sacked, self.max_payload())?;
        let room = self.cc.window().saturating_sub(self.pipe());
        if room < end - start {
            return None;
        }
        self.plan_resend(start, end)
    }

    /// RFC 6675 NextSeg rule (3), in fast recovery with SACK when neither
    /// a lost segment nor new data can go: one segment below the highest
    /// SACKed byte that was never resent.
    fn plan_rescue_retransmission(&self) -> Option<Plan> {
        if !self.in_recovery || !self.sack_in_use() {
            return None;
        }
        let (start, end) = self
            .sent_log
            .next_rescue(&self.sacked, self.max_payload())?;
        let room = self.cc.window().saturating_sub(self.pipe());
        if room < end - start {
            return None;
        }
        self.plan_resend(start, end)
    }

    /// The tail loss probe (RFC 8985 section 7.3): one new segment if the
    /// peer's window allows (cwnd does not apply), else the highest
    /// segment not SACKed sent again.
    pub(super) fn plan_loss_probe(&self) -> Option<Plan> {
        let data_end = self.data_end();
        let next = self.snd_nxt;
        if next == self.snd_max && next < data_end {
            let offset = next - self.tx_seq;
            let rwnd_room = (self.snd_una + self.snd_wnd) - next;
            let len = (data_end - next).min(self.max_payload()).min(rwnd_room);
            let len = self.tx_buffer.get_allocated(offset, len).len();
            if len > 0 && self.sent_log.free() > 0 {
                let mut plan = Plan::control(SegmentKind::Data, next, self.rcv_nxt, TcpFlags::ACK);
                plan.payload_offset = offset;
                plan.payload_len = len;
                plan.loss_probe = true;
                if next + len == data_end {
                    plan.flags |= TcpFlags::PSH;
                    if self.fin_queued {
                        plan.flags |= TcpFlags::FIN;
                    }
                }
                return Some(plan);
            }
        }
        // The highest segment the peer has not SACKed: the last one sent,
        // unless it arrived (then a hole below it is what lacks an ACK).
        let last = self.sent_log.iter().filter(|s| !s.sacked).last()?;
        let mut plan = self.plan_resend(last.start.max(self.snd_una), last.end)?;
        plan.loss_probe = true;
        Some(plan)
    }

    /// Limited Transmit (RFC 3042, RFC 5681 section 3.2): on the first and
    /// second duplicate ACK, one new segment each may go out beyond cwnd
    /// (the peer's window still applies), so a single loss in a small
    /// window still draws the three duplicate ACKs that fast retransmit
    /// needs instead of waiting for the RTO. Not during recovery, and not
    /// while resending old data.
    fn limited_transmit_allowance(&self) -> usize {
        // With SACK, pipe already shrinks as the SACKs arrive.
        if self.in_recovery
            || self.in_rto_recovery
            || self.sack_in_use()
            || self.snd_nxt < self.snd_max
        {
            return 0;
        }
        self.dup_acks.min(2) as usize * self.max_payload()
    }

    /// Payload of the largest data segment to hand the device: one MSS, or
    /// with segmentation offload as many whole MSS as fit an IP packet of
    /// `tso_max_len` bytes (at most 64, the most Linux cuts one into).
    fn burst_payload(&self, tso_max_len: usize) -> usize {
        let mss = self.max_payload();
        let ip_header = match self.local_endpoint.map(|e| e.addr.version()) {
            #[cfg(feature = "proto-ipv6")]
            Some(crate::wire::IpVersion::Ipv6) => 40,
            _ => 20,
        };
        let headers = ip_header + 20 + self.option_overhead();
        let segments = (tso_max_len.saturating_sub(headers) / mss).clamp(1, 64);
        segments * mss
    }

    /// Data from SND.NXT within the send and congestion windows, with Nagle
    /// and sender-side silly window avoidance; or the FIN after the data.
    /// With segmentation offload (`tso_max_len`) one plan carries several
    /// MSS, ending on a whole MSS unless Nagle would let its short tail go
    /// now (judged with what is in flight before it, as Linux's
    /// `tcp_mss_split_point` does).
    fn plan_data(&self, tso_max_len: usize) -> Option<Plan> {
        let data_end = self.data_end();
        let next = self.snd_nxt;
        if next < data_end {
            let offset = next - self.tx_seq;
            let unsent = data_end - next;
            let max_payload = self.max_payload();
            let usable = if next < self.snd_max {
                // Resending after a rewind (persist, a smaller path MTU):
                // the flight restarts from SND.UNA.
                let window = self.snd_wnd.min(self.cc.window());
                (self.snd_una + window) - next
            } else {
                // New data: cwnd - pipe (RFC 6675 section 5), the peer's
                // window, and room in the segment log.
                let cwnd = self.cc.window() + self.limited_transmit_allowance();
                let room = cwnd.saturating_sub(self.pipe());
                let rwnd_room = (self.snd_una + self.snd_wnd) - next;
                let log_room = self.sent_log.free().saturating_mul(max_payload);
                room.min(rwnd_room).min(log_room)
            };
            let mut len = unsent.min(self.burst_payload(tso_max_len)).min(usable);
            if len == 0 {
                return None;
            }
            let retransmission = next < self.snd_max;
            if !retransmission && len < max_payload && !self.may_send_small(len, unsent) {
                return None;
            }
            let tail = len % max_payload;
            if !retransmission
                && len > max_payload
                && tail != 0
                && !self.may_send_small(tail, unsent - (len - tail))
            {
                len -= tail;
            }
            // The ring buffer hands out one contiguous run: at its wrap the
            // segment is cut short, and the rest follows at once.
            let len = self.tx_buffer.get_allocated(offset, len).len();
            let mut plan = Plan::control(SegmentKind::Data, next, self.rcv_nxt, TcpFlags::ACK);
            plan.payload_offset = offset;
            plan.payload_len = len;
            plan.retransmission = retransmission;
            if len > max_payload {
                // At most 64 KiB of IP packet, so the MSS fits 16 bits.
                plan.segment_size = u16::try_from(max_payload).unwrap_or(u16::MAX);
            }
            if next + len == data_end {
                plan.flags |= TcpFlags::PSH;
                if self.fin_queued {
                    plan.flags |= TcpFlags::FIN;
                }
            }
            return Some(plan);
        }
        if self.fin_queued && next == data_end {
            let mut plan = Plan::control(
                SegmentKind::Data,
                data_end,
                self.rcv_nxt,
                TcpFlags::FIN | TcpFlags::ACK,
            );
            plan.retransmission = self.snd_max > data_end;
            return Some(plan);
        }
        None
    }

    /// Nagle's algorithm (RFC 9293 section 3.7.4) and the sender's silly
    /// window avoidance (section 3.8.6.2.1) for a segment shorter than the
    /// MSS: with nothing in flight it goes; otherwise only without Nagle
    /// (or when it carries the last data before our FIN) and when it holds
    /// all queued data or half the peer's largest window.
    fn may_send_small(&self, len: usize, unsent: usize) -> bool {
        let in_flight = self.snd_nxt - self.snd_una;
        if in_flight == 0 {
            return true;
        }
        let last_before_fin = self.fin_queued && len == unsent;
        // Minshall's Nagle: only an unacknowledged short segment holds
        // this one back.
        // (A value outside (SND.UNA, SND.MAX] is from an earlier
        // connection or already acknowledged.)
        let short_in_flight =
            self.snd_short_end > self.snd_una && self.snd_short_end <= self.snd_max;
        if self.config.nagle && short_in_flight && !last_before_fin {
            return false;
        }
        len == unsent || len >= self.max_snd_wnd / 2
    }

    /// A zero-window probe: the byte at SND.UNA, sent past the closed
    /// window (RFC 9293 section 3.8.6.1).
    fn plan_probe(&self) -> Option<Plan> {
        if self.snd_una >= self.data_end() {
            return None;
        }
        let offset = self.snd_una - self.tx_seq;
        let mut plan = Plan::control(
            SegmentKind::Probe,
            self.snd_una,
            self.rcv_nxt,
            TcpFlags::ACK,
        );
        plan.payload_offset = offset;
        plan.payload_len = 1;
        plan.retransmission = self.snd_max > self.snd_una;
        Some(plan)
    }

    /// The window to advertise and the right edge it puts the window at.
    ///
    /// The edge never moves left (RFC 9293 section 3.8.6.2.2 forbids
    /// shrinking), and moves right only by at least min(buffer/2, MSS), the
    /// receiver's silly window avoidance. The field is scaled by our shift.
    pub(super) fn advertised_window(&self) -> (u16, SeqNumber) {
        let shift = self.rcv_wscale;
        let max_window = 65535usize << shift;
        let current = self.rcv_adv - self.rcv_nxt;
        let mut window = self.rx_buffer.window().min(max_window);
        if window > current {
            let threshold = (self.rx_buffer.capacity() / 2).min(self.rcv_mss);
            if window - current < threshold {
                window = current;
            }
        } else {
            window = current;
        }
        let mut field = window >> shift;
        if (field << shift) < current {
            field += 1;
        }
        let field = field.min(65535);
        // `field` fits in 16 bits after the `min`.
        (field as u16, self.rcv_nxt + (field << shift))
    }

    /// Whether a pure window update is worth sending: the edge would move
    /// by two segments or half the buffer, or the peer sees a window below
    /// one segment that can now grow.
    fn window_update_due(&self) -> bool {
        if !matches!(
            self.state,
            State::Established | State::FinWait1 | State::FinWait2
        ) || self.fin_received
        {
            return false;
        }
        let (_, edge) = self.advertised_window();
        if edge <= self.rcv_adv {
            return false;
        }
        let growth = edge - self.rcv_adv;
        let current = self.rcv_adv - self.rcv_nxt;
        let capacity = self.rx_buffer.capacity();
        growth >= (capacity / 2).min(2 * self.rcv_mss) || current < self.rcv_mss.min(capacity / 2)
    }

    /// The header every segment of this connection shares: ports, SEQ,
    /// ACK (RCV.NXT) when `flags` has ACK, the advertised window, the
    /// timestamps option and, with ACK, the SACK blocks (RFC 2018 section
    /// 4: every ACK while out-of-order data is held).
    pub(super) fn segment_header(
        &self,
        now: Instant,
        flags: TcpFlags,
        seq: SeqNumber,
    ) -> TcpRepr<'static> {
        let (src_port, dst_port) = match (self.local_endpoint, self.remote_endpoint) {
            (Some(local), Some(remote)) => (local.port, remote.port),
            _ => (0, 0),
        };
        let mut repr = TcpRepr {
            src_port,
            dst_port,
            seq_number: seq,
            flags,
            window_len: self.advertised_window().0,
            ..TcpRepr::default()
        };
        if flags.contains(TcpFlags::ACK) {
            repr.ack_number = self.rcv_nxt;
            repr.sack_ranges = self.sack_blocks();
        }
        // ECE while a CE mark is unanswered (RFC 3168 section 6.1.3).
        repr.flags |= self.ecn_marks(flags, false).0;
        if self.timestamps.enabled {
            repr.timestamp = Some(TcpTimestamp {
                tsval: self.ts_clock(now),
                tsecr: self.timestamps.recent,
            });
        }
        repr
    }

    /// Builds the planned segment; the payload borrows the tx buffer.
    fn build(&self, now: Instant, plan: &Plan) -> Option<(IpRepr, TcpRepr<'_>)> {
        let mut repr = match plan.kind {
            SegmentKind::Rst => {
                let (local, remote) = (self.local_endpoint?, self.remote_endpoint?);
                TcpRepr {
                    src_port: local.port,
                    dst_port: remote.port,
                    seq_number: plan.seq,
                    ack_number: plan.ack,
                    flags: plan.flags,
                    ..TcpRepr::default()
                }
            }
            SegmentKind::Syn => self.syn_header(now, plan),
            _ => {
                let mut repr = self.segment_header(now, plan.flags, plan.seq);
                repr.ack_number = plan.ack;
                repr
            }
        };
        repr.payload = self
            .tx_buffer
            .get_allocated(plan.payload_offset, plan.payload_len);
        let mut ip = self.ip_repr(tcp_header_len(&repr) + repr.payload.len())?;
        if plan.carries_new_data() {
            // ECT(0), and CWR after a reduction (RFC 3168 section 6.1.2).
            let (marks, ecn) = self.ecn_marks(plan.flags, true);
            repr.flags |= marks;
            ip.ecn = ecn;
        }
        debug_assert_eq!(ip.hop_limit, HOP_LIMIT);
        Some((ip, repr))
    }

    /// Our SYN (with the options our config offers) or SYN-ACK (with the
    /// options the peer's SYN offered and ours allows). The window in a SYN
    /// is never scaled (RFC 7323 section 2.2).
    fn syn_header(&self, now: Instant, plan: &Plan) -> TcpRepr<'static> {
        let (src_port, dst_port) = match (self.local_endpoint, self.remote_endpoint) {
            (Some(local), Some(remote)) => (local.port, remote.port),
            _ => (0, 0),
        };
        let active = self.state == State::SynSent;
        let mut repr = TcpRepr {
            src_port,
            dst_port,
            seq_number: plan.seq,
            flags: plan.flags | self.syn_ecn_flags(active, plan.retransmission),
            window_len: self.syn_window() as u16,
            max_seg_size: Some(self.rcv_mss.min(65535) as u16),
            window_scale: self.rcv_wscale_offer,
            ..TcpRepr::default()
        };
        if plan.flags.contains(TcpFlags::ACK) {
            repr.ack_number = plan.ack;
        }
        if active {
            repr.sack_permitted = self.config.sack;
            if self.config.timestamps {
                repr.timestamp = Some(TcpTimestamp {
                    tsval: self.ts_clock(now),
                    tsecr: 0,
                });
            }
        } else {
            repr.sack_permitted = self.peer_sack_permitted;
            if self.timestamps.enabled {
                repr.timestamp = Some(TcpTimestamp {
                    tsval: self.ts_clock(now),
                    tsecr: self.timestamps.recent,
                });
            }
        }
        repr
    }

    /// The window a SYN or SYN-ACK offers: the rx buffer, at most 65535.
    fn syn_window(&self) -> usize {
        self.rx_buffer.window().min(65535)
    }

    /// After a successful emit: moves SND.NXT/SND.MAX, starts timers,
    /// times the RTT, counts, and notes the ACK sent.
    fn commit(&mut self, cx: &mut Context, plan: &Plan) {
        let now = cx.now;
        cx.stats.segments_sent += 1;
        // RFC 5681 4.1's idle restart counts time since data was sent;
        // pure ACKs and probes do not make a sender busy.
        if plan.kind == SegmentKind::Data && plan.payload_len > 0 {
            self.last_tx = Some(now);
        }
        if plan.carries_new_data() {
            self.note_ecn_data_sent();
        }
        match plan.kind {
            SegmentKind::Rst => {
                cx.stats.rsts_sent += 1;
                self.pending_rst = None;
                return;
            }
            SegmentKind::Syn | SegmentKind::Data => {
                let syn = usize::from(plan.flags.contains(TcpFlags::SYN));
                let fin = usize::from(plan.flags.contains(TcpFlags::FIN));
                let end = plan.seq + (plan.payload_len + syn + fin);
                if plan.retransmission {
                    cx.stats.retransmissions += 1;
                    if plan.kind == SegmentKind::Syn {
                        self.syn_retransmitted = true;
                    }
                }
                if plan.kind == SegmentKind::Data {
                    self.record_sent(now, plan.seq, end, plan.retransmission);
                    // Short in Minshall's sense: the queue's tail, not a
                    // whole number of MSS (a super-segment's last piece
                    // counts). A segment cut at the ring buffer's wrap is
                    // followed by the rest at once and must not hold it.
                    let tail = plan.seq + plan.payload_len == self.data_end();
                    if !plan.retransmission && tail && plan.payload_len % self.max_payload() != 0 {
                        self.snd_short_end = end;
                    }
                }
                if !plan.fast {
                    self.snd_nxt = end;
                }
                if end > self.snd_max {
                    self.snd_max = end;
                }
                if plan.loss_probe {
                    self.loss_probe_due = false;
                    cx.stats.tlps_sent = cx.stats.tlps_sent.saturating_add(1);
                    let in_episode = self.in_recovery || self.in_rto_recovery;
                    self.rack
                        .on_probe_sent(self.snd_max, plan.retransmission, in_episode);
                    // RFC 8985 section 7.3: the RTO runs from the probe (the
                    // first of a series, so further probes cannot hold it
                    // off), and the next probe waits twice as long.
                    if self.rack.probes() == 1 {
                        self.timers.retransmit = now.checked_add(self.rtt.rto());
                    }
                    self.arm_loss_probe(now);
                } else if plan.kind == SegmentKind::Data {
                    // Data, new or resent: the probe timeout restarts
                    // from the latest transmission (RFC 8985 7.2).
                    self.arm_loss_probe(now);
                }
                // Karn's rule: time only segments sent for the first time.
                if !plan.retransmission && self.rtt_probe.is_none() && !self.timestamps.enabled {
                    self.rtt_probe = Some((end, now));
                }
                if self.timers.retransmit.is_none() {
                    self.timers.retransmit = now.checked_add(self.rtt.rto());
                }
                if self.stalled_since.is_none() {
                    self.stalled_since = Some(now);
                }
            }
            SegmentKind::Probe => {
                self.persist_probe_due = false;
                self.persist_probes = self.persist_probes.saturating_add(1);
                self.persist_shift = self.persist_shift.saturating_add(1);
                let end = self.snd_una + 1;
                self.record_sent(now, self.snd_una, end, true);
                if self.snd_nxt < end {
                    self.snd_nxt = end;
                }
                if self.snd_max < end {
                    self.snd_max = end;
                }
                self.timers.persist = now.checked_add(self.persist_interval());
            }
            SegmentKind::KeepAlive => {
                self.keepalive_due = false;
                self.keepalive_probes = self.keepalive_probes.saturating_add(1);
            }
            SegmentKind::Ack => {}
        }
        if plan.flags.contains(TcpFlags::ACK) {
            let edge = if plan.kind == SegmentKind::Syn {
                self.rcv_nxt + self.syn_window()
            } else {
                self.advertised_window().1
            };
            self.note_ack_sent(edge);
        }
    }

    /// `[start, end)` went out at `now`: the part beyond the segment log is
    /// new data (one record per MSS), the rest resends recorded segments;
    /// PRR and undo count what fast recovery sends.
    fn record_sent(
        &mut self,
        now: Instant,
        start: SeqNumber,
        end: SeqNumber,
        retransmission: bool,
    ) {
        let log_end = self.sent_log.end();
        if end > log_end {
            let mss = self.max_payload();
            self.sent_log.on_new_data(start.max(log_end), end, mss, now);
        }
        if start < log_end {
            self.sent_log.on_retransmit(start, end.min(log_end), now);
            if retransmission {
                self.note_retransmission(now, start, end.min(log_end));
            }
        }
        if self.in_recovery {
            self.prr.on_sent(end - start);
        }
    }

    /// An ACK carrying RCV.NXT and a window up to `edge` went out: nothing
    /// is owed any more.
    pub(super) fn note_ack_sent(&mut self, edge: SeqNumber) {
        if edge > self.rcv_adv {
            self.rcv_adv = edge;
        }
        self.last_ack_sent = self.rcv_nxt;
        self.sack_report.sent();
        self.ack_now = false;
        self.ack_due = false;
        self.timers.delayed_ack = None;
        self.rcv_unacked = 0;
    }

    /// RFC 5681 section 4.1: after an idle period longer than the RTO,
    /// congestion control restarts from its restart window.
    fn maybe_restart_after_idle(&mut self, now: Instant) {
        if self.snd_una != self.snd_max {
            return;
        }
        if let Some(last) = self.last_tx {
            if now.saturating_duration_since(last) > self.rtt.rto() {
                self.cc.on_idle_restart();
                self.last_tx = Some(now);
            }
        }
    }
}
