//! Segment arrival: RFC 9293 section 3.10.7, in its order, with RFC 5961
//! (blind RST/SYN/ACK mitigations), RFC 7323 (PAWS before the sequence
//! check) and RFC 1337 (TIME_WAIT ignores RST).

use super::congestion::CongestionControl;
use super::{
    Cause, IcmpError, MIN_MSS, State, TcpError, TcpSocket, Timers, mss_for_mtu, rst_for_unmatched,
    window_shift_for,
};
use crate::socket::Context;
use crate::time::{Duration, Instant};
use crate::wire::{IpEndpoint, IpRepr, SeqNumber, TcpFlags, TcpRepr};

/// An immediate reply: the IP header and the TCP segment.
pub(super) type Reply = Option<(IpRepr, TcpRepr<'static>)>;

/// PAWS stops trusting TS.Recent after it has been idle this long
/// (RFC 7323 section 5.5: 24 days).
const PAWS_IDLE_LIMIT: Duration = Duration::from_secs(24 * 24 * 60 * 60);

/// The window in which challenge ACKs are counted (RFC 5961 section 7).
const CHALLENGE_ACK_WINDOW: Duration = Duration::from_secs(1);

/// An RTT measured from an echoed timestamp above this is not believed
/// (a bogus or very old TSecr).
const MAX_TIMESTAMP_RTT_MS: u32 = 10 * 60 * 1000;

impl<'a> TcpSocket<'a> {
    /// Processes one segment addressed to this socket; may return an
    /// immediate reply (ACK, RST, challenge ACK), which carries no data.
    ///
    /// The interface has demultiplexed the segment (by 4-tuple, or by
    /// listening port for a LISTEN socket) and verified its checksum. The
    /// steps follow RFC 9293 section 3.10.7: CLOSED (3.10.7.1), LISTEN
    /// (3.10.7.2), SYN-SENT (3.10.7.3) and the other states (3.10.7.4:
    /// sequence number, RST, SYN, ACK, URG, text, FIN).
    pub fn process(&mut self, cx: &mut Context, ip_repr: &IpRepr, repr: &TcpRepr) -> Reply {
        let open = |state| !matches!(state, State::Closed | State::Listen);
        let (una_before, was_open) = (self.snd_una, open(self.state));
        let (rx_before, tx_before) = (self.rx_buffer.len(), self.tx_buffer.len());
        let reply = match self.state {
            State::Closed => rst_for_unmatched(ip_repr, repr),
            State::Listen => self.process_listen(cx, ip_repr, repr),
            State::SynSent => self.process_syn_sent(cx, ip_repr, repr),
            _ => self.process_other(cx, ip_repr, repr),
        };
        // New data (or our SYN) acknowledged: upper-layer advice for the
        // neighbor cache (RFC 4861 section 7.3.1).
        if was_open && open(self.state) && self.snd_una > una_before {
            cx.forward_progress = true;
        }
        self.wake_after_segment(rx_before, tx_before);
        if let Some((_, segment)) = &reply {
            cx.stats.segments_sent += 1;
            if segment.rst() {
                cx.stats.rsts_sent += 1;
            }
        }
        reply
    }

    /// Whether the segment belongs to this connection's 4-tuple.
    fn matches_connection(&self, ip_repr: &IpRepr, repr: &TcpRepr) -> bool {
        match (self.local_endpoint, self.remote_endpoint) {
            (Some(local), Some(remote)) => {
                local.port == repr.dst_port
                    && remote.port == repr.src_port
                    && local.addr == ip_repr.dst_addr
                    && remote.addr == ip_repr.src_addr
            }
            _ => false,
        }
    }

    /// RFC 9293 section 3.10.7.2.
    fn process_listen(&mut self, cx: &mut Context, ip_repr: &IpRepr, repr: &TcpRepr) -> Reply {
        if repr.rst() {
            return None;
        }
        // "Any acknowledgment is bad if it arrives on a connection still in
        // the LISTEN state": <SEQ=SEG.ACK><CTL=RST>.
        if repr.ack().is_some() {
            return rst_for_unmatched(ip_repr, repr);
        }
        if !repr.syn() {
            return None;
        }
        // FreeBSD's drop_synfin applies where a segment would open a
        // connection; synchronized states answer SYN+FIN as any SYN.
        if self.config.drop_syn_fin && repr.fin() {
            return None;
        }
        if repr.dst_port != self.listen_endpoint.port
            || self
                .listen_endpoint
                .addr
                .is_some_and(|addr| addr != ip_repr.dst_addr)
            || !super::is_connectable(&ip_repr.src_addr)
            || !super::is_connectable(&ip_repr.dst_addr)
            || repr.src_port == 0
        {
            return None;
        }
        let local = IpEndpoint::new(ip_repr.dst_addr, repr.dst_port);
        let remote = IpEndpoint::new(ip_repr.src_addr, repr.src_port);
        self.local_endpoint = Some(local);
        self.remote_endpoint = Some(remote);
        self.passive_open = true;
        self.choose_isn(cx, local, remote);
        self.rcv_mss = mss_for_mtu(cx.ip_mtu);
        self.accept_syn(cx, repr, false);
        // The SYN's window is never scaled (RFC 7323 section 2.2).
        self.snd_wnd = usize::from(repr.window_len);
        self.max_snd_wnd = self.snd_wnd;
        self.snd_wl1 = repr.seq_number;
        self.snd_wl2 = self.iss;
        self.queue_early_data(repr.seq_number + 1, repr.payload);
        self.set_state(State::SynRcvd, Cause::RcvSyn);
        self.timers.state = cx.now.checked_add(self.config.syn_rcvd_timeout);
        // The SYN-ACK goes out on the next dispatch.
        None
    }

    /// Takes the peer's SYN: IRS, RCV.NXT and the options (MSS, window
    /// scale, timestamps, SACK-permitted). `active` says whether we sent
    /// our own SYN first (then we offered the options our config allows).
    fn accept_syn(&mut self, cx: &Context, repr: &TcpRepr, active: bool) {
        self.irs = repr.seq_number;
        self.rcv_nxt = repr.seq_number + 1;
        // An active open already offered its window in its SYN; a passive
        // one offers it in the SYN-ACK still to go.
        self.rcv_adv = if active {
            self.rcv_nxt + self.rx_buffer.window().min(65535)
        } else {
            self.rcv_nxt
        };
        self.last_ack_sent = self.rcv_nxt;
        self.last_rx = cx.now;

        let peer_mss = repr.max_seg_size.map_or(super::DEFAULT_MSS, usize::from);
        self.snd_mss = peer_mss.min(mss_for_mtu(cx.ip_mtu)).max(MIN_MSS);
        self.mss_ceiling = u16::try_from(self.snd_mss).unwrap_or(u16::MAX);

        // Window scaling only when both SYNs carry the option (RFC 7323 2.2).
        if !active {
            self.rcv_wscale_offer = (self.config.window_scaling && repr.window_scale.is_some())
                .then(|| window_shift_for(self.rx_buffer.capacity()));
        }
        match (repr.window_scale, self.rcv_wscale_offer) {
            (Some(peer), Some(ours)) => {
                // RFC 7323 2.3: a shift above 14 is used as 14.
                self.snd_wscale = peer.min(super::MAX_WINDOW_SHIFT);
                self.rcv_wscale = ours;
            }
            _ => {
                self.snd_wscale = 0;
                self.rcv_wscale = 0;
                self.rcv_wscale_offer = None;
            }
        }

        match repr.timestamp {
            Some(ts) if self.config.timestamps => {
                self.timestamps.enabled = true;
                self.timestamps.recent = ts.tsval;
                self.timestamps.recent_at = cx.now;
            }
            _ => self.timestamps.enabled = false,
        }
        self.peer_sack_permitted = self.config.sack && repr.sack_permitted;
        self.accept_syn_ecn(repr, active);
    }

    /// Keeps data that came with a SYN until the connection is established
    /// (RFC 9293 section 3.10.7.2/3: "queue it for processing later"): it
    /// sits in the assembler at its offset and is delivered once
    /// ESTABLISHED.
    fn queue_early_data(&mut self, seq: SeqNumber, payload: &[u8]) {
        if payload.is_empty() || seq < self.rcv_nxt {
            return;
        }
        let offset = seq - self.rcv_nxt;
        let room = self.rx_buffer.window().min(65535).saturating_sub(offset);
        let data = payload.get(..payload.len().min(room)).unwrap_or_default();
        let written = self.rx_buffer.write_unallocated(offset, data);
        // Too many holes: the data is dropped and the peer resends it.
        let _ = self.assembler.add(offset, written);
    }

    /// RFC 9293 section 3.10.7.3.
    fn process_syn_sent(&mut self, cx: &mut Context, ip_repr: &IpRepr, repr: &TcpRepr) -> Reply {
        if !self.matches_connection(ip_repr, repr) {
            return None;
        }
        // First, the ACK bit: acceptable only if it acknowledges our SYN.
        let ack = repr.ack();
        if let Some(ack) = ack {
            if ack <= self.iss || ack > self.snd_max {
                if repr.rst() {
                    return None;
                }
                return rst_for_unmatched(ip_repr, repr);
            }
        }
        // Second, RST: only with an acceptable ACK (RFC 5961 section 3.2
        // leaves SYN-SENT as RFC 793 had it).
        if repr.rst() {
            if ack.is_some() {
                self.drop_connection(Some(TcpError::Refused), Cause::RcvRst);
            }
            return None;
        }
        // Fourth, SYN; "if neither of the SYN or RST bits is set, then drop".
        if !repr.syn() {
            return None;
        }
        self.accept_syn(cx, repr, true);
        self.snd_wnd = usize::from(repr.window_len);
        self.max_snd_wnd = self.snd_wnd;
        self.snd_wl1 = repr.seq_number;
        match ack {
            Some(ack) => {
                self.snd_wl2 = ack;
                self.acknowledge(cx, repr, ack);
                self.set_state(State::Established, Cause::RcvSynAck);
                self.on_syn_acked(cx.now);
                // "If there are other controls or text in the segment,
                // continue processing at the sixth step" (data and FIN).
                let fin_taken = self.process_text(
                    cx.now,
                    cx.coalesce_acks,
                    repr.seq_number + 1,
                    repr.payload,
                    repr.fin(),
                );
                if fin_taken {
                    self.set_state(State::CloseWait, Cause::RcvFin);
                }
                self.close_after_handshake();
                // The ACK of the SYN-ACK goes out at once.
                self.ack_reply(cx.now)
            }
            None => {
                // Simultaneous open: resend our SYN as a SYN-ACK.
                self.snd_wl2 = self.iss;
                self.passive_open = false;
                self.snd_nxt = self.iss;
                self.rtt_probe = None;
                self.queue_early_data(repr.seq_number + 1, repr.payload);
                self.set_state(State::SynRcvd, Cause::RcvSyn);
                self.timers.state = cx.now.checked_add(self.config.syn_rcvd_timeout);
                self.close_after_handshake();
                None
            }
        }
    }

    /// RFC 9293 section 3.10.7.4: SYN_RCVD and the synchronized states.
    fn process_other(&mut self, cx: &mut Context, ip_repr: &IpRepr, repr: &TcpRepr) -> Reply {
        if !self.matches_connection(ip_repr, repr) {
            return None;
        }
        let now = cx.now;
        // Simultaneous open (RFC 793 figure 8): the peer's SYN-ACK repeats
        // the SYN we already took. Its SYN is old, so it is trimmed off as
        // RFC 9293 3.10.7.4 trims old data, leaving the ACK to process.
        let trimmed;
        let peer_syn_ack = self.state == State::SynRcvd
            && !self.passive_open
            && repr.syn()
            && !repr.rst()
            && repr.ack().is_some()
            && repr.seq_number == self.irs;
        let repr = if peer_syn_ack {
            let mut without_syn = *repr;
            without_syn.flags.remove(TcpFlags::SYN);
            without_syn.seq_number = self.irs + 1;
            trimmed = without_syn;
            &trimmed
        } else {
            repr
        };
        // A segment with none of ACK, RST and SYN has no business here
        // (the fifth step would drop it); like Linux and FreeBSD, drop it
        // before the sequence check rather than ACK it.
        if !repr.syn() && !repr.rst() && repr.ack().is_none() {
            return None;
        }
        // PAWS (RFC 7323 section 5.3), before the sequence check.
        if self.timestamps.enabled && !repr.rst() {
            match repr.timestamp {
                // RFC 7323 section 3.2: a non-RST segment without the
                // option, once negotiated, SHOULD be dropped silently.
                None => return None,
                Some(ts) if self.paws_rejects(now, ts.tsval) => {
                    return self.invalid_segment_ack(now, repr);
                }
                Some(_) => {}
            }
        }
        // SYN_RCVD: the peer resent its SYN, so our SYN-ACK was lost.
        if self.state == State::SynRcvd
            && repr.syn()
            && !repr.rst()
            && repr.ack().is_none()
            && repr.seq_number == self.irs
        {
            // RFC 7323 section 4.3: its SEG.SEQ (IRS) is at or before
            // Last.ACK.sent (IRS + 1), so a newer TSval becomes TS.Recent
            // and the resent SYN-ACK echoes it. Echoing the first SYN's
            // TSval instead hands the peer an RTT sample that spans its SYN
            // timeouts (seconds), and that inflated RTO stays for a long time.
            self.update_ts_recent(now, repr);
            self.snd_nxt = self.iss;
            self.rtt_probe = None;
            return None;
        }
        // RFC 5961 section 4.2: a SYN in a synchronized state gets a
        // challenge ACK whatever its sequence number.
        let passive_syn_rcvd = self.state == State::SynRcvd && self.passive_open;
        if repr.syn() && !repr.rst() && !self.config.insecure_syn && !passive_syn_rcvd {
            return self.challenge_ack(cx);
        }

        // First: the sequence number. A SYN that reaches this step (RFC 793
        // mode, or a passive SYN_RCVD) is "in the window" only if its own
        // sequence number is: a SYN+FIN whose FIN lands at RCV.NXT while
        // its SYN lies left of it is an old duplicate, answered with an ACK
        // like a SYN alone, never with a RST.
        let syn_outside = repr.syn() && !self.seq_in_window(repr.seq_number);
        if syn_outside || !self.segment_acceptable(repr) {
            net_trace!(
                "{}: unacceptable segment seq={} len={} (RCV.NXT={}, RCV.WND={})",
                super::SocketName(self),
                repr.seq_number,
                repr.segment_len(),
                self.rcv_nxt,
                self.rcv_window()
            );
            if repr.rst() {
                return None;
            }
            if self.state == State::TimeWait
                && repr.fin()
                && repr.seq_number + repr.payload.len() + 1 == self.rcv_nxt
            {
                // A retransmitted FIN: ACK it again and restart 2*MSL
                // (RFC 9293 section 3.10.7.4, eighth step).
                self.timers.state = now.checked_add(self.time_wait_duration());
            }
            return self.invalid_segment_ack(now, repr);
        }
        self.last_rx = now;
        // The FIN_WAIT_2 timeout is an idle timeout, as in lwIP: a peer
        // that is still sending is not half-dead, so each acceptable
        // segment restarts it.
        if self.state == State::FinWait2 && self.rx_closed_by_user && self.timers.state.is_some() {
            self.timers.state = self.fin_wait_2_deadline(now);
        }
        self.keepalive_probes = 0;
        self.keepalive_due = false;

        // Second: RST.
        if repr.rst() {
            return self.process_rst(cx, repr);
        }

        // Fourth: SYN in the window (a passive SYN_RCVD, or RFC 793 mode).
        if repr.syn() {
            if passive_syn_rcvd {
                self.return_to_listen(Cause::RcvSyn);
                return None;
            }
            let reply = self.rst_ack_reply();
            let error = (self.state != State::TimeWait).then_some(TcpError::Reset);
            self.drop_connection(error, Cause::RcvSyn);
            return reply;
        }

        // Fifth: ACK.
        let ack = repr.ack()?;
        if self.state == State::SynRcvd {
            if !(self.snd_una < ack && ack <= self.snd_max) {
                // An unacceptable ACK: <SEQ=SEG.ACK><CTL=RST>; the
                // connection stays as it is.
                return rst_for_unmatched(ip_repr, repr);
            }
            let cause = if peer_syn_ack {
                Cause::RcvSynAck
            } else {
                Cause::RcvAck
            };
            self.set_state(State::Established, cause);
            self.timers.state = None;
            self.close_after_handshake();
            self.snd_wnd = usize::from(repr.window_len) << self.snd_wscale;
            self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
            self.snd_wl1 = repr.seq_number;
            self.snd_wl2 = ack;
        }
        // RFC 5961 section 5.2: SND.UNA - MAX.SND.WND <= SEG.ACK <= SND.NXT.
        if ack > self.snd_max || ack < self.snd_una - self.max_snd_wnd {
            return self.challenge_ack(cx);
        }
        // RFC 7323 section 4.3 (and appendix D): TS.Recent takes the TSval
        // of a segment that starts at or before the last ACK we sent, but
        // only once the segment has passed the sequence, RST, SYN and ACK
        // checks. Updated any earlier, one forged in-window segment with a
        // huge TSval (and a bad ACK, a RST or a SYN) would poison TS.Recent,
        // and PAWS would then drop every genuine segment. An old but
        // acceptable ACK carrying data still updates it.
        if repr.seq_number <= self.last_ack_sent {
            self.update_ts_recent(now, repr);
        }
        let syn_acked_now = self.snd_una == self.iss && ack > self.iss;
        let fin_acked_now = self.acknowledge(cx, repr, ack);
        self.process_ecn(now, ip_repr, repr);
        if syn_acked_now {
            self.on_syn_acked(now);
        }
        match self.state {
            State::Closing if fin_acked_now => {
                self.set_state(State::TimeWait, Cause::RcvAckOfFin);
                self.enter_time_wait(now);
            }
            State::LastAck if fin_acked_now => {
                self.set_state(State::Closed, Cause::RcvAckOfFin);
                self.finish_connection();
                return None;
            }
            _ => {}
        }

        // RFC 1122 section 4.2.2.13: new data after a full close is data
        // nobody will read; reset, so the peer learns it was lost (as
        // Linux, FreeBSD and lwIP do). `shutdown` keeps receiving.
        let new_data_end = repr.seq_number + repr.payload.len();
        if self.rx_closed_by_user
            && !repr.payload.is_empty()
            && new_data_end > self.rcv_nxt
            && matches!(self.state, State::FinWait1 | State::FinWait2)
        {
            self.pending_rst = Some(super::PendingRst {
                seq: self.ack_seq(),
                ack: self.rcv_nxt,
            });
            self.set_state(State::Closed, Cause::RcvDataAfterClose);
            self.rx_buffer.clear();
            self.reset_connection_keep_endpoints();
            return None;
        }

        // Sixth (URG) is not supported: urgent data is read as normal data.
        // Seventh and eighth: text and FIN.
        let fin_taken = self.process_text(
            now,
            cx.coalesce_acks,
            repr.seq_number,
            repr.payload,
            repr.fin(),
        );
        match self.state {
            State::FinWait1 if self.our_fin_acked() => {
                if fin_taken {
                    self.set_state(State::TimeWait, Cause::RcvFinAck);
                    self.enter_time_wait(now);
                } else {
                    self.set_state(State::FinWait2, Cause::RcvAckOfFin);
                    self.timers.retransmit = None;
                    if self.rx_closed_by_user {
                        self.start_fin_wait_2_timer(now);
                    }
                }
            }
            State::FinWait1 if fin_taken => self.set_state(State::Closing, Cause::RcvFin),
            State::Established if fin_taken => self.set_state(State::CloseWait, Cause::RcvFin),
            State::FinWait2 if fin_taken => {
                self.set_state(State::TimeWait, Cause::RcvFin);
                self.enter_time_wait(now);
            }
            _ => {}
        }
        if self.ack_now {
            return self.ack_reply(now);
        }
        None
    }

    /// Takes the segment's TSval as TS.Recent if it is not older (RFC 7323
    /// section 4.3); the caller has checked SEG.SEQ against Last.ACK.sent.
    fn update_ts_recent(&mut self, now: Instant, repr: &TcpRepr) {
        let Some(ts) = repr.timestamp.filter(|_| self.timestamps.enabled) else {
            return;
        };
        if ts.tsval.wrapping_sub(self.timestamps.recent) as i32 >= 0 {
            self.timestamps.recent = ts.tsval;
            self.timestamps.recent_at = now;
        }
    }

    /// RFC 7323 section 5.3 R1: a timestamp older than TS.Recent marks an
    /// old duplicate, unless TS.Recent itself is too old to trust.
    fn paws_rejects(&self, now: Instant, tsval: u32) -> bool {
        let older = (tsval.wrapping_sub(self.timestamps.recent) as i32) < 0;
        older && now.saturating_duration_since(self.timestamps.recent_at) < PAWS_IDLE_LIMIT
    }

    /// RCV.WND as the peer knows it: up to the edge last advertised.
    pub(super) fn rcv_window(&self) -> usize {
        self.rcv_adv - self.rcv_nxt
    }

    /// RFC 9293 section 3.10.7.4, first step: the four acceptability cases.
    /// A segment with data at RCV.NXT is let in with a zero window so its
    /// ACK, RST and window are processed (its data is then trimmed).
    ///
    /// One widening, as BSD and Linux have it: a segment without data (and
    /// without RST, which RFC 5961 keeps strict) may also sit exactly at the
    /// right edge, RCV.NXT + RCV.WND. A peer with a full window in flight
    /// sends its ACKs there (SEQ = SND.NXT); RFC 9293's strict `<` drops
    /// them unread, and if the data in flight was lost and the peer's
    /// retransmissions only carry data we already have, neither side ever
    /// learns what the other received.
    fn seq_in_window(&self, seq: SeqNumber) -> bool {
        let window = self.rcv_window();
        seq >= self.rcv_nxt && (seq - self.rcv_nxt < window || (window == 0 && seq == self.rcv_nxt))
    }

    fn segment_acceptable(&self, repr: &TcpRepr) -> bool {
        let len = repr.segment_len();
        let window = self.rcv_window();
        let seq = repr.seq_number;
        let in_window = |s: SeqNumber| s >= self.rcv_nxt && s - self.rcv_nxt < window;
        match (len, window) {
            (0, 0) => seq == self.rcv_nxt,
            (0, _) => in_window(seq) || (!repr.rst() && seq == self.rcv_nxt + window),
            (_, 0) => seq == self.rcv_nxt,
            (_, _) => in_window(seq) || in_window(seq + (len - 1)),
        }
    }

    /// RFC 9293 section 3.10.7.4, second step, with RFC 5961 section 3.2
    /// and RFC 1337.
    fn process_rst(&mut self, cx: &mut Context, repr: &TcpRepr) -> Reply {
        // RFC 1337: a RST must not cut TIME_WAIT short.
        if self.state == State::TimeWait {
            return None;
        }
        // RFC 5961 3.2: only a RST exactly at RCV.NXT resets; one elsewhere
        // in the window gets a challenge ACK.
        if !self.config.insecure_rst && repr.seq_number != self.rcv_nxt {
            return self.challenge_ack(cx);
        }
        match self.state {
            State::SynRcvd if self.passive_open => self.return_to_listen(Cause::RcvRst),
            State::SynRcvd => self.drop_connection(Some(TcpError::Refused), Cause::RcvRst),
            // RFC 9293 3.10.7.4 gives no "connection reset" signal in
            // CLOSING and LAST-ACK: both FINs were sent and the peer's was
            // taken. With all of our data acknowledged too, only our FIN's
            // ACK is missing, typically because it was lost and the peer's
            // TIME_WAIT ended before our FIN came again; nothing was lost
            // either way, so the connection ends as a normal close would
            // (unread data stays readable). With data of ours still
            // unacknowledged the peer may lack it: that is a reset.
            State::Closing | State::LastAck if self.snd_una >= self.data_end() => {
                self.set_state(State::Closed, Cause::RcvRst);
                self.finish_connection();
            }
            _ => self.drop_connection(Some(TcpError::Reset), Cause::RcvRst),
        }
        None
    }

    /// The ACK that answers an unacceptable or PAWS-failed segment
    /// (RFC 9293 3.10.7.4 first step, RFC 7323 5.3), rate-limited to one
    /// per `invalid_ack_interval` when the segment carries neither data nor
    /// a FIN, or carries a SYN: those are what ACK loops and reflection
    /// attacks are made of (Linux's `tcp_oow_rate_limited` draws the same
    /// line). Data and FINs are always answered.
    fn invalid_segment_ack(&mut self, now: Instant, repr: &TcpRepr) -> Reply {
        let carries_data = !repr.payload.is_empty() || repr.fin();
        if carries_data && !repr.syn() {
            // Data below RCV.NXT is a duplicate: its ACK carries a D-SACK
            // block (RFC 2883 section 4.1.1), as Linux's tcp_send_dupack.
            let seq = repr.seq_number;
            if seq < self.rcv_nxt {
                let end = (seq + repr.payload.len()).min(self.rcv_nxt);
                self.note_duplicate(seq, end);
            }
            return self.ack_reply(now);
        }
        let limited = self.last_invalid_ack.is_some_and(|last| {
            now.saturating_duration_since(last) < self.config.invalid_ack_interval
        });
        if limited {
            return None;
        }
        self.last_invalid_ack = Some(now);
        self.ack_reply(now)
    }

    /// Arms FIN_WAIT_2's idle timeout after a full close, and the hard
    /// bound it may never pass (`fin_wait_2_limit`).
    pub(super) fn start_fin_wait_2_timer(&mut self, now: Instant) {
        self.fin_wait_2_limit_at = now.checked_add(self.config.fin_wait_2_limit);
        self.timers.state = self.fin_wait_2_deadline(now);
    }

    /// FIN_WAIT_2's next deadline: the idle timeout from `now`, but never
    /// past the hard bound.
    fn fin_wait_2_deadline(&self, now: Instant) -> Option<Instant> {
        let idle = now.checked_add(self.config.fin_wait_2_timeout);
        match (idle, self.fin_wait_2_limit_at) {
            (Some(idle), Some(limit)) => Some(idle.min(limit)),
            (idle, limit) => idle.or(limit),
        }
    }

    /// A challenge ACK (RFC 5961 sections 3.2, 4.2, 5.2), at most
    /// `challenge_ack_limit` per second (section 7). The limit is per
    /// socket, so no global counter leaks state between connections.
    fn challenge_ack(&mut self, cx: &mut Context) -> Reply {
        let now = cx.now;
        let window_open = self
            .challenge_window_start
            .is_some_and(|start| now.saturating_duration_since(start) < CHALLENGE_ACK_WINDOW);
        if !window_open {
            self.challenge_window_start = Some(now);
            self.challenge_count = 0;
        }
        if self.challenge_count >= self.config.challenge_ack_limit {
            return None;
        }
        self.challenge_count += 1;
        cx.stats.challenge_acks += 1;
        self.ack_reply(now)
    }

    /// The fifth step for an acceptable ACK (SND.UNA - MAX.SND.WND <=
    /// SEG.ACK <= SND.MAX): new data acknowledged, duplicate ACKs, the send
    /// window, and persist. Returns whether this ACK acknowledged our FIN.
    fn acknowledge(&mut self, cx: &mut Context, repr: &TcpRepr, ack: SeqNumber) -> bool {
        let now = cx.now;
        let una_before = self.snd_una;
        // In a SYN the window is never scaled (RFC 7323 section 2.2).
        let seg_wnd = if repr.syn() {
            usize::from(repr.window_len)
        } else {
            usize::from(repr.window_len) << self.snd_wscale
        };
        let mut fin_acked = false;
        // Nothing in flight, nothing newly acknowledged and no SACK blocks
        // (a pure ACK to an idle sender, or data from a peer we are not
        // sending to): loss recovery has nothing to learn from this ACK,
        // so the common case of a receiver skips it.
        if ack == self.snd_una
            && self.snd_max == self.snd_una
            && repr.sack_ranges.iter().all(Option::is_none)
            && !repr.syn()
        {
            self.update_send_window(repr, ack, una_before, seg_wnd);
            self.persist_probes = 0;
            self.refresh_persist(now);
            return false;
        }
        let before = self.recovery_snapshot();
        let sack = self.take_sack_blocks(repr, ack);
        let mut rtt = None;
        let mut duplicate = false;
        if ack > self.snd_una {
            (fin_acked, rtt) = self.on_new_ack(now, repr, ack);
        } else if ack == self.snd_una
            && self.snd_max > self.snd_una
            && repr.payload.is_empty()
            && !repr.syn()
            && !repr.fin()
            && seg_wnd == self.snd_wnd
            && seg_wnd != 0
        {
            // RFC 5681 section 2's duplicate ACK (answers to zero-window
            // probes are not: nothing was lost).
            duplicate = true;
            self.dup_acks = self.dup_acks.saturating_add(1);
        }
        self.on_ack_loss_recovery(cx, repr, before, sack, rtt, duplicate);
        self.update_send_window(repr, ack, una_before, seg_wnd);
        // Any ACK answers the zero-window probes (RFC 1122 4.2.2.17: the
        // connection stays open while the peer answers).
        self.persist_probes = 0;
        self.refresh_persist(now);
        fin_acked
    }

    /// Window update (RFC 9293 3.10.7.4, ESTABLISHED): only from a segment
    /// newer than the one that last set it.
    #[inline]
    fn update_send_window(
        &mut self,
        repr: &TcpRepr,
        ack: SeqNumber,
        una_before: SeqNumber,
        seg_wnd: usize,
    ) {
        if ack >= una_before
            && (self.snd_wl1 < repr.seq_number
                || (self.snd_wl1 == repr.seq_number && self.snd_wl2 <= ack))
        {
            self.snd_wnd = seg_wnd;
            self.snd_wl1 = repr.seq_number;
            self.snd_wl2 = ack;
            self.max_snd_wnd = self.max_snd_wnd.max(seg_wnd);
        }
    }

    /// SND.UNA advances to `ack`: frees acknowledged data, measures the
    /// RTT, frees the scoreboard below it and restarts the retransmission
    /// timer (RFC 6298 5.2/5.3). Returns whether our FIN is now
    /// acknowledged, and the RTT sample the ACK gave.
    fn on_new_ack(
        &mut self,
        now: Instant,
        repr: &TcpRepr,
        ack: SeqNumber,
    ) -> (bool, Option<Duration>) {
        let data_end = self.data_end();
        let data_acked = ack.min(data_end) - self.snd_una.max(self.tx_seq);
        self.tx_buffer.dequeue_allocated(data_acked);
        self.tx_seq += data_acked;
        let fin_acked = self.fin_queued && ack > data_end;
        let syn_acked = self.snd_una == self.iss;
        self.snd_una = ack;
        if self.snd_nxt < ack {
            self.snd_nxt = ack;
        }
        // Only now may the scoreboard forget what lies below SND.UNA
        // (RFC 2018 section 8).
        self.sacked.advance(ack);
        let rack = &mut self.rack;
        self.sent_log
            .advance(ack, |seg| rack.on_delivered(seg.into(), now));

        // RTT: from the echoed timestamp (RFC 7323 section 4.1, which also
        // lifts Karn's ambiguity), else from the timed segment.
        //
        // Karn's ambiguity comes back for an echo older than our last
        // timeout: the peer may have had the data all along, its ACK lost,
        // and answered our retransmission, a duplicate to it, with its old
        // TS.Recent (RFC 7323 5.3 R2 rejects the duplicate before R3 could
        // record its TSval). That "RTT" spans our whole RTO, so each such
        // sample raises the next RTO: under steady loss the RTO climbed to
        // its 60 s cap on a 4 ms path. Such an echo gives no sample (RTTM is
        // a MAY), and the backoff stays until a segment sent after the
        // timeout is echoed (RFC 6298 5.5-5.7), as with Karn's rule.
        let echoed = repr
            .timestamp
            .filter(|ts| self.timestamps.enabled && ts.tsecr != 0)
            .filter(|ts| {
                self.timeout_tsval
                    .is_none_or(|sent| ts.tsecr.wrapping_sub(sent) as i32 >= 0)
            })
            .map(|ts| self.ts_clock(now).wrapping_sub(ts.tsecr));
        let rtt_sample = match echoed {
            // Our SYN (or SYN-ACK) was sent more than once: the answer may
            // echo the first one although the peer sent it on its own timer
            // or for the later copy (its TS.Recent still holds the first
            // SYN's TSval), so the "RTT" spans our SYN timeouts: seconds on
            // a millisecond path, and as the first sample it sets RTO = 3R,
            // which RFC 6298's gains take dozens of samples to forget. Take
            // no sample, as FreeBSD does for a retransmitted SYN; RFC 7323's
            // RTTM rule makes every sample optional ("MAY").
            _ if syn_acked && self.syn_retransmitted => {
                self.rtt_probe = None;
                if self.retransmits > 0 {
                    self.rtt.restart_after_syn_timeout();
                }
                None
            }
            Some(ms) if ms <= MAX_TIMESTAMP_RTT_MS => {
                let sample = Duration::from_millis(u64::from(ms));
                self.rtt.sample(sample);
                self.rtt_probe = None;
                Some(sample)
            }
            _ => match self.rtt_probe {
                Some((probe_end, sent_at)) if ack >= probe_end => {
                    let sample = now.saturating_duration_since(sent_at);
                    self.rtt.sample(sample);
                    self.rtt_probe = None;
                    Some(sample)
                }
                _ => None,
            },
        };
        self.retransmits = 0;
        if !self.in_recovery {
            self.dup_acks = 0;
        }

        if self.snd_una == self.snd_max {
            self.timers.retransmit = None;
            self.stalled_since = None;
            // Everything sent before the timeout is acknowledged.
            self.timeout_tsval = None;
        } else {
            self.timers.retransmit = now.checked_add(self.rtt.rto());
            self.stalled_since = Some(now);
        }
        (fin_acked, rtt_sample)
    }

    /// Our SYN is acknowledged: congestion control learns the MSS and data
    /// that came with the peer's SYN is delivered.
    fn on_syn_acked(&mut self, now: Instant) {
        self.cc.set_mss(self.congestion_mss());
        let delivered = self.assembler.remove_front();
        self.rx_buffer.enqueue_unallocated(delivered);
        self.rcv_nxt += delivered;
        if self.rcv_adv < self.rcv_nxt {
            self.rcv_adv = self.rcv_nxt;
        }
        // The connection starts in quick-ACK (see `TcpConfig::quick_acks`).
        self.quick_acks_left = self.quick_ack_budget();
        self.last_data_rx = now;
        self.note_in_order(now, false, delivered);
    }

    /// Quick-ACK segments for a new start: the configured count, at most
    /// half the receive buffer in full segments (Linux's bound), so a
    /// small buffer is not answered segment by segment.
    fn quick_ack_budget(&self) -> u8 {
        let full = self.rcv_mss.max(1);
        let half_buffer = self.rx_buffer.capacity() / full.saturating_mul(2);
        let budget = usize::from(self.config.quick_acks).min(half_buffer);
        u8::try_from(budget).unwrap_or(u8::MAX)
    }

    /// The seventh and eighth steps: takes the segment's data into the
    /// receive buffer (trimmed to the window, out-of-order parts kept by
    /// the assembler) and its FIN once everything before it has arrived.
    /// Returns whether the peer's FIN was taken now.
    fn process_text(
        &mut self,
        now: Instant,
        coalesce: bool,
        seq: SeqNumber,
        payload: &[u8],
        fin: bool,
    ) -> bool {
        if self.fin_received {
            // After the peer's FIN only retransmissions can come; ACK
            // anything that is not a plain in-sequence ACK (and a FIN again
            // restarts TIME_WAIT's 2*MSL).
            if !payload.is_empty() || fin || seq != self.rcv_nxt {
                self.ack_now = true;
            }
            if fin && self.state == State::TimeWait {
                self.timers.state = now.checked_add(self.time_wait_duration());
            }
            return false;
        }
        if !matches!(
            self.state,
            State::Established | State::FinWait1 | State::FinWait2
        ) {
            return false;
        }
        let window = self.rcv_window();
        let fin_seq = seq + payload.len();
        let mut start = seq;
        let mut data = payload;
        if start < self.rcv_nxt {
            let old = (self.rcv_nxt - start).min(data.len());
            // Data we already have: reported as a D-SACK block (RFC 2883
            // section 4.1.1 reports the duplicated part of a segment).
            self.note_duplicate(start, start + old);
            data = data.get(old..).unwrap_or_default();
            start += old;
        }
        let mut trimmed_right = false;
        if start >= self.rcv_nxt {
            let offset = start - self.rcv_nxt;
            let room = window.saturating_sub(offset);
            if data.len() > room {
                data = data.get(..room).unwrap_or_default();
                trimmed_right = true;
            }
            if !data.is_empty() {
                let had_holes = !self.assembler.is_empty();
                let written = self.rx_buffer.write_unallocated(offset, data);
                if written < data.len() {
                    trimmed_right = true;
                }
                if offset > 0 {
                    // Out-of-order data we already hold (RFC 2883 section 4).
                    if let Some((held_start, held_end)) =
                        self.assembler.range_overlapping(offset, offset + written)
                    {
                        self.note_duplicate(
                            start + (held_start.max(offset) - offset),
                            start + (held_end.min(offset + written) - offset),
                        );
                    }
                }
                // In-order data is always taken, even with every hole used.
                match self.assembler.add_then_remove_front(offset, written) {
                    Ok(delivered) => {
                        self.rx_buffer.enqueue_unallocated(delivered);
                        self.rcv_nxt += delivered;
                        self.note_sack_block(start, written);
                        if offset > 0 || had_holes {
                            // Out of order, or filling a gap: ACK at once
                            // (RFC 5681 section 4.2).
                            self.ack_now = true;
                        } else {
                            self.note_in_order(now, coalesce, delivered);
                        }
                    }
                    Err(_) => self.ack_now = true,
                }
            }
            // A segment without data ahead of RCV.NXT (the peer's ACK sent
            // from beyond a hole) gets no ACK of its own: it carries nothing
            // to report, and when both sides have lost data in flight each
            // side's ACKs sit ahead of the other's RCV.NXT, so answering them
            // would bounce ACKs back and forth until a retransmission fills
            // a hole (Linux and BSD do not answer them either).
        }
        if trimmed_right || self.sack_report.duplicate_pending() {
            // Data beyond the window is dropped and ACKed (RFC 9293
            // section 3.10.7.4: "send an acknowledgment"); a duplicate is
            // ACKed at once (RFC 5681 section 4.2), with its D-SACK block.
            self.ack_now = true;
        }
        if fin && !trimmed_right && fin_seq >= self.rcv_nxt && fin_seq - self.rcv_nxt <= window {
            if self.rcv_fin.is_none() {
                self.rcv_fin = Some(fin_seq);
            }
            if fin_seq != self.rcv_nxt {
                self.ack_now = true;
            }
        }
        if self.rcv_fin == Some(self.rcv_nxt) {
            self.rcv_fin = None;
            self.fin_received = true;
            // Nothing follows a FIN: data a peer sent past it is dropped,
            // or the assembler's offsets, relative to RCV.NXT, would slide
            // by the FIN's sequence number and SACK blocks would misreport.
            self.assembler.clear();
            // The FIN takes no buffer space: the window's edge moves with it.
            self.rcv_nxt += 1;
            self.rcv_adv += 1;
            self.ack_now = true;
            return true;
        }
        false
    }

    /// Notes for the SACK report that `len` bytes from `start` were taken
    /// (RCV.NXT already moved past what they delivered): the block now
    /// holding them goes first in the next ACK (RFC 2018 section 4), and
    /// blocks delivered in order are reported no more.
    fn note_sack_block(&mut self, start: SeqNumber, len: usize) {
        self.sack_report.forget_below(self.rcv_nxt);
        let end = start + len;
        if len == 0 || end <= self.rcv_nxt {
            return;
        }
        let from = start.max(self.rcv_nxt) - self.rcv_nxt;
        let to = end - self.rcv_nxt;
        if let Some((held_start, held_end)) = self.assembler.range_overlapping(from, to) {
            self.sack_report
                .note_block(self.rcv_nxt + held_start, self.rcv_nxt + held_end);
        }
    }

    /// A duplicate `[left, right)` arrived: with SACK negotiated, the next
    /// ACK reports it in a D-SACK block (RFC 2883 section 4). Only its part
    /// within a receive buffer below RCV.NXT (and after our IRS) counts: a
    /// sender retransmits nothing older, so anything older is no
    /// retransmission of ours to report.
    fn note_duplicate(&mut self, left: SeqNumber, right: SeqNumber) {
        if !self.peer_sack_permitted {
            return;
        }
        // Bytes of the stream taken so far, modulo 2^32 (a wrapped count
        // only narrows the span).
        let received = self.rcv_nxt.0.wrapping_sub(self.irs.0.wrapping_add(1)) as usize;
        let floor = self.rcv_nxt - received.min(self.rx_buffer.capacity());
        self.sack_report.note_duplicate(left.max(floor), right);
    }

    /// Delayed-ACK accounting for `delivered` in-order bytes (RFC 9293
    /// section 3.8.6.3, RFC 5681 section 4.2): at once every
    /// `ack_every_segments` full-sized segments, else within `ack_delay`.
    pub(super) fn note_in_order(&mut self, now: Instant, coalesce: bool, delivered: usize) {
        if delivered == 0 {
            return;
        }
        // Quick-ACK after the receive side was idle longer than the RTO
        // (a new request after a pause, as Linux does).
        if now.saturating_duration_since(self.last_data_rx) > self.rtt.rto() {
            self.quick_acks_left = self.quick_ack_budget();
        }
        self.last_data_rx = now;
        self.rcv_unacked += delivered;
        let at_once = match self.config.ack_delay {
            None => true,
            Some(_) if self.quick_acks_left > 0 => {
                self.quick_acks_left -= 1;
                true
            }
            Some(delay) => {
                // RFC 9293 3.8.6.3: an ACK is never delayed 500 ms or more.
                let delay = delay.min(Duration::from_millis(499));
                let full = self
                    .rcv_mss
                    .saturating_sub(self.timestamp_overhead())
                    .max(1);
                let every = usize::try_from(self.config.ack_every_segments.max(1)).unwrap_or(2);
                if self.rcv_unacked >= full.saturating_mul(every) {
                    true
                } else {
                    if self.timers.delayed_ack.is_none() {
                        self.timers.delayed_ack = now.checked_add(delay);
                    }
                    false
                }
            }
        };
        if at_once {
            if coalesce {
                // One ACK for all in-order segments of this poll, from
                // the next dispatch (see `Context::coalesce_acks`).
                self.ack_due = true;
            } else {
                self.ack_now = true;
            }
        }
    }

    /// Whether our FIN has been acknowledged.
    pub(super) fn our_fin_acked(&self) -> bool {
        self.fin_queued && self.snd_una > self.data_end()
    }

    /// TIME_WAIT's length.
    pub(super) fn time_wait_duration(&self) -> Duration {
        self.config.msl.saturating_mul(2)
    }

    /// Entering TIME_WAIT: only the 2*MSL timer runs.
    pub(super) fn enter_time_wait(&mut self, now: Instant) {
        self.timers = Timers {
            state: now.checked_add(self.time_wait_duration()),
            ..Timers::default()
        };
        self.persist_probe_due = false;
        self.keepalive_due = false;
        self.loss_probe_due = false;
    }

    /// A connection that ended normally (LAST_ACK, TIME_WAIT, FIN_WAIT_2
    /// timeout): unread data stays readable, the rest is forgotten.
    pub(super) fn finish_connection(&mut self) {
        let fin_received = self.fin_received;
        self.reset_connection_keep_endpoints();
        self.fin_received = fin_received;
    }

    /// Handles an ICMP error whose quoted TCP header carried `quoted_seq`
    /// (RFC 5927, RFC 1122 section 4.2.3.9, RFC 1191).
    ///
    /// The error is believed only if `quoted_seq` lies in
    /// `[SND.UNA, SND.MAX)` (RFC 5927 section 4.1). A hard error aborts a
    /// connection still in SYN_SENT or SYN_RCVD (error `Unreachable`, a
    /// passive open goes back to LISTEN); in synchronized states it is kept
    /// as a soft error (RFC 5461). Fragmentation-needed lowers the send MSS
    /// (never below 28 bytes) and resends from SND.UNA; ten minutes after
    /// the last decrease the MSS the handshake settled is tried again
    /// ([`PMTU_RAISE_INTERVAL`](super::PMTU_RAISE_INTERVAL), RFC 1191
    /// section 6.3).
    pub fn on_icmp_error(&mut self, cx: &mut Context, quoted_seq: SeqNumber, error: IcmpError) {
        if !(self.snd_una <= quoted_seq && quoted_seq < self.snd_max) {
            return;
        }
        match error {
            IcmpError::HardUnreachable => match self.state {
                State::SynSent => {
                    self.drop_connection(Some(TcpError::Unreachable), Cause::IcmpError)
                }
                State::SynRcvd if self.passive_open => self.return_to_listen(Cause::IcmpError),
                State::SynRcvd => {
                    self.drop_connection(Some(TcpError::Unreachable), Cause::IcmpError)
                }
                _ => self.soft_error = Some(TcpError::Unreachable),
            },
            IcmpError::SoftUnreachable => self.soft_error = Some(TcpError::Unreachable),
            IcmpError::FragmentationNeeded { mtu } => {
                let mss = usize::from(mtu)
                    .saturating_sub(super::IP_TCP_HEADER_LEN)
                    .max(MIN_MSS);
                if mss >= self.snd_mss {
                    return;
                }
                self.snd_mss = mss;
                self.cc.set_mss(self.congestion_mss());
                self.pmtu_raise_at = cx.now.checked_add(super::PMTU_RAISE_INTERVAL);
                if self.snd_una > self.iss && self.snd_nxt > self.snd_una {
                    // The oversized segments were dropped: resend them at
                    // the new size, without a congestion response.
                    self.snd_nxt = self.snd_una;
                    self.rtt_probe = None;
                }
            }
        }
    }

    /// Builds `<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>` (SND.NXT as `ack_seq`
    /// reads it) with the current window and timestamps, and notes that the
    /// ACK went out.
    pub(super) fn ack_reply(&mut self, now: Instant) -> Reply {
        let mut repr = self.segment_header(now, TcpFlags::ACK, self.ack_seq());
        repr.payload = &[];
        let ip = self.ip_repr(super::tcp_header_len(&repr))?;
        self.note_ack_sent(self.advertised_window().1);
        Some((ip, repr))
    }

    /// `<SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>` (the RFC 793 answer to a
    /// SYN in a synchronized state).
    fn rst_ack_reply(&self) -> Reply {
        let local = self.local_endpoint?;
        let remote = self.remote_endpoint?;
        let repr = TcpRepr {
            src_port: local.port,
            dst_port: remote.port,
            seq_number: self.ack_seq(),
            ack_number: self.rcv_nxt,
            flags: TcpFlags::RST | TcpFlags::ACK,
            ..TcpRepr::default()
        };
        let ip = self.ip_repr(super::tcp_header_len(&repr))?;
        Some((ip, repr))
    }
}
