//! The timers: retransmission (RFC 6298), persist (RFC 9293 3.8.6.1,
//! RFC 1122 4.2.2.17, RFC 6429), keep-alive (RFC 1122 4.2.3.6), TIME_WAIT
//! (2*MSL), FIN_WAIT_2, SYN_RCVD and the user timeout (RFC 5482).
//!
//! Deadlines live in `Timers`; `dispatch` calls `run_timers` first, so a
//! timer fires on the first dispatch at or after its deadline.

use super::congestion::CongestionControl;
use super::{Cause, PendingRst, State, TcpError, TcpSocket};
use crate::socket::Context;
use crate::time::{Duration, Instant};

impl<'a> TcpSocket<'a> {
    /// Fires every expired timer and arms the ones that start lazily.
    pub(super) fn run_timers(&mut self, cx: &mut Context) {
        let now = cx.now;
        self.arm_timers(now);
        if let Some(deadline) = self.timers.state {
            if now >= deadline {
                self.timers.state = None;
                match self.state {
                    State::TimeWait => {
                        self.set_state(State::Closed, Cause::TimeWaitTimeout);
                        self.finish_connection();
                    }
                    State::FinWait2 => {
                        self.set_state(State::Closed, Cause::FinWait2Timeout);
                        self.finish_connection();
                    }
                    State::SynRcvd if self.passive_open => {
                        self.return_to_listen(Cause::SynRcvdTimeout)
                    }
                    State::SynRcvd => {
                        self.drop_connection(Some(TcpError::TimedOut), Cause::SynRcvdTimeout)
                    }
                    _ => {}
                }
            }
        }
        if matches!(self.state, State::Closed | State::Listen | State::TimeWait) {
            return;
        }
        if self.user_timeout_deadline().is_some_and(|t| now >= t) {
            self.give_up(Cause::RetransmissionTimeout);
            return;
        }
        if self.timers.retransmit.is_some_and(|t| now >= t) {
            self.on_retransmit_timeout(cx, now);
            if !self.is_open() || self.state == State::Listen {
                return;
            }
        }
        if self.timers.reorder.is_some_and(|t| now >= t) {
            self.on_reorder_timeout(&mut cx.stats, now);
        }
        if self.timers.loss_probe.is_some_and(|t| now >= t) {
            self.on_loss_probe_timeout();
        }
        if self.timers.persist.is_some_and(|t| now >= t) {
            self.timers.persist = None;
            if self.persist_probes >= self.config.max_retransmissions {
                // The peer stopped answering the probes.
                self.give_up(Cause::RetransmissionTimeout);
                return;
            }
            self.persist_probe_due = true;
        }
        if self.keepalive_deadline().is_some_and(|t| now >= t) {
            if self.keepalive_probes >= self.config.keepalive_count {
                self.give_up(Cause::KeepaliveTimeout);
                return;
            }
            self.keepalive_due = true;
        }
    }

    /// Timers that start without an event carrying the time: FIN_WAIT_2's
    /// timeout after a `close` that came after `shutdown`, and persist
    /// after the user queued data into a closed window.
    fn arm_timers(&mut self, now: Instant) {
        if self.state == State::FinWait2 && self.rx_closed_by_user && self.timers.state.is_none() {
            self.start_fin_wait_2_timer(now);
        }
        self.refresh_persist(now);
    }

    /// Whether `arm_timers` has something to do (so `poll_at` says `Now`).
    pub(super) fn needs_arming(&self) -> bool {
        let fin_wait_2 =
            self.state == State::FinWait2 && self.rx_closed_by_user && self.timers.state.is_none();
        let persist = self.window_blocked() != self.persisting();
        fin_wait_2 || persist
    }

    /// Data waits and the peer's window is zero: persist's condition.
    pub(super) fn window_blocked(&self) -> bool {
        self.snd_wnd == 0
            && self.snd_una != self.iss
            && self.sends_data()
            && self.data_end() > self.snd_una
    }

    /// Whether the persist timer (or its due probe) is running.
    fn persisting(&self) -> bool {
        self.timers.persist.is_some() || self.persist_probe_due
    }

    /// Enters or leaves persist as the window closes or opens.
    ///
    /// Entering: the peer's window is closed, so nothing past SND.UNA is
    /// held by it; the retransmission timer stops and SND.NXT goes back to
    /// SND.UNA, the byte a probe carries. Leaving: sending resumes from
    /// SND.UNA under the retransmission timer.
    pub(super) fn refresh_persist(&mut self, now: Instant) {
        let blocked = self.window_blocked();
        if blocked && !self.persisting() {
            self.timers.retransmit = None;
            self.snd_nxt = self.snd_una;
            self.persist_shift = 0;
            self.timers.persist = now.checked_add(self.persist_interval());
            if self.stalled_since.is_none() {
                self.stalled_since = Some(now);
            }
        } else if !blocked && self.persisting() {
            self.timers.persist = None;
            self.persist_probe_due = false;
            self.persist_probes = 0;
            self.persist_shift = 0;
            if self.snd_nxt > self.snd_una {
                self.snd_nxt = self.snd_una;
            }
            if self.snd_una == self.snd_max && self.data_end() == self.snd_una {
                self.stalled_since = None;
            }
        }
    }

    /// The time to the next zero-window probe: the RTO doubled per probe
    /// sent (RFC 1122 4.2.2.17), at most `max_rto`.
    pub(super) fn persist_interval(&self) -> Duration {
        let doublings = self.persist_shift.min(16);
        let interval = self.rtt.rto().saturating_mul(1 << doublings);
        interval.min(self.config.max_rto)
    }

    /// When the next keep-alive probe (or the give-up) is due: idle time
    /// after the last segment received, then every interval (RFC 1122
    /// 4.2.3.6). Only while nothing is in flight.
    pub(super) fn keepalive_deadline(&self) -> Option<Instant> {
        let idle = self.config.keepalive_idle?;
        if !matches!(self.state, State::Established | State::CloseWait) {
            return None;
        }
        if self.snd_una != self.snd_max || self.window_blocked() {
            return None;
        }
        let probes = self
            .config
            .keepalive_interval
            .saturating_mul(self.keepalive_probes);
        self.last_rx.checked_add(idle.saturating_add(probes))
    }

    /// When the user timeout ends the connection: data has waited for an
    /// acknowledgment (or a window) this long (RFC 5482, RFC 6429).
    fn user_timeout_deadline(&self) -> Option<Instant> {
        let timeout = self.config.user_timeout?;
        let waiting = self.snd_una != self.snd_max || self.window_blocked();
        if !waiting {
            return None;
        }
        self.stalled_since?.checked_add(timeout)
    }

    /// The earliest running timer's deadline.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        // Pairwise rather than through an iterator: this runs for every
        // socket a segment touches (`poll_at`), and the folds compile to a
        // few compares.
        let t = &self.timers;
        let timers = earliest(
            earliest(
                earliest(t.retransmit, t.reorder),
                earliest(t.loss_probe, t.delayed_ack),
            ),
            earliest(t.persist, t.state),
        );
        earliest(
            timers,
            earliest(self.keepalive_deadline(), self.user_timeout_deadline()),
        )
    }

    /// RFC 6298 section 5.4 to 5.6: back off, mark every segment the peer
    /// does not hold lost (RFC 8985 section 6.3), so they are resent from
    /// SND.UNA upwards as the window allows, and give up after the state's
    /// retransmission limit.
    fn on_retransmit_timeout(&mut self, cx: &mut Context, now: Instant) {
        if self.snd_una == self.snd_max {
            self.timers.retransmit = None;
            return;
        }
        let limit = match self.state {
            State::SynSent => self.config.max_syn_retransmissions,
            State::SynRcvd => self.config.max_synack_retransmissions,
            _ => self.config.max_retransmissions,
        };
        if self.retransmits >= limit {
            self.give_up(Cause::RetransmissionTimeout);
            return;
        }
        self.retransmits += 1;
        self.timeout_tsval = Some(self.ts_clock(now));
        self.rtt.backoff();
        self.timers.retransmit = now.checked_add(self.rtt.rto());
        self.rtt_probe = None;
        if self.snd_una != self.iss {
            cx.stats.rtos = cx.stats.rtos.saturating_add(1);
            // RFC 5681 3.1 equation 4.
            self.cc.on_retransmit_timeout(self.snd_max - self.snd_una);
            self.on_timeout_marks();
        } else {
            // A lost SYN or SYN-ACK: the initial window is one segment.
            self.cc.on_handshake_loss();
            self.snd_nxt = self.snd_una;
        }
        // RFC 6582 section 4: after a timeout, recover = the highest sent.
        self.recover = self.snd_max;
        self.dup_acks = 0;
    }

    /// Ends a connection whose peer stopped answering: SYN_SENT just closes,
    /// a passive SYN_RCVD goes back to LISTEN, any other state sends a RST;
    /// the error is "timed out".
    fn give_up(&mut self, cause: Cause) {
        match self.state {
            State::SynSent => self.drop_connection(Some(TcpError::TimedOut), cause),
            State::SynRcvd if self.passive_open => self.return_to_listen(cause),
            State::SynRcvd => self.drop_connection(Some(TcpError::TimedOut), cause),
            _ => {
                self.pending_rst = Some(PendingRst {
                    seq: self.ack_seq(),
                    ack: self.rcv_nxt,
                });
                self.drop_connection(Some(TcpError::TimedOut), cause);
            }
        }
    }
}

/// The earlier of two optional deadlines; `None` means no deadline.
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
