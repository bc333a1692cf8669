//! Explicit Congestion Notification for TCP (RFC 3168 section 6.1): the
//! handshake that agrees on it, the ECT(0) codepoint on new data, the
//! receiver's ECN-Echo after a CE mark until the sender's CWR, and the
//! sender's window reduction, at most once per window of data.

use super::TcpSocket;
use super::congestion::{CongestionCause, CongestionControl};
use crate::time::Instant;
use crate::wire::{IpEcn, IpRepr, SeqNumber, TcpFlags, TcpRepr};

/// When a socket uses ECN (RFC 3168), as Linux's `net.ipv4.tcp_ecn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EcnMode {
    /// Never: SYNs ask for no ECN and a peer's request is declined.
    Off,
    /// When the peer asks: a SYN with ECE and CWR is answered with an
    /// ECN-setup SYN-ACK (ECE only, RFC 3168 section 6.1.1); our own SYNs
    /// do not ask. Linux's default.
    #[default]
    Accept,
    /// Ask in our SYNs too (ECE and CWR set), and accept when asked.
    Request,
}

/// A connection's ECN state (RFC 3168 section 6.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct EcnState {
    /// Both ends agreed in the handshake.
    pub(super) enabled: bool,
    /// A CE-marked data segment arrived: every ACK carries ECE until a
    /// segment with CWR arrives (section 6.1.3).
    pub(super) echo: bool,
    /// Our window was reduced for an ECE: the next new data segment
    /// carries CWR (section 6.1.2).
    pub(super) cwr_due: bool,
    /// SND.MAX at the last reduction: ECEs before SND.UNA passes it are
    /// about the same window of data and change nothing (section 6.1.2).
    pub(super) recover: Option<SeqNumber>,
}

impl TcpSocket<'_> {
    /// The ECN flags of our SYN or SYN-ACK (RFC 3168 section 6.1.1): an
    /// ECN-setup SYN (ECE and CWR) when our mode requests it, only in the
    /// first SYN (a retransmitted one asks for nothing, in case ECN-setup
    /// SYNs are what gets dropped, section 6.1.1.1); an ECN-setup SYN-ACK
    /// (ECE) when we agreed to the peer's request.
    pub(super) fn syn_ecn_flags(&self, active: bool, retransmission: bool) -> TcpFlags {
        if active {
            if self.config.ecn == EcnMode::Request && !retransmission {
                return TcpFlags::ECE | TcpFlags::CWR;
            }
        } else if self.ecn.enabled {
            return TcpFlags::ECE;
        }
        TcpFlags::empty()
    }

    /// Takes the ECN agreement from the peer's SYN (`active`: a SYN-ACK
    /// answering ours). A passive open agrees when the SYN has ECE and
    /// CWR and our mode is not `Off`; an active one when we asked and the
    /// SYN-ACK has ECE without CWR (RFC 3168 section 6.1.1).
    pub(super) fn accept_syn_ecn(&mut self, repr: &TcpRepr, active: bool) {
        let ece = repr.flags.contains(TcpFlags::ECE);
        let cwr = repr.flags.contains(TcpFlags::CWR);
        self.ecn = EcnState::default();
        self.ecn.enabled = if active {
            self.config.ecn == EcnMode::Request
                && !self.syn_retransmitted
                && repr.ack().is_some()
                && ece
                && !cwr
        } else {
            self.config.ecn != EcnMode::Off && ece && cwr
        };
    }

    /// The ECN flags and codepoint of a segment we send (RFC 3168 section
    /// 6.1): ECE on every ACK while a CE mark waits for the peer's CWR;
    /// ECT(0), and CWR once after a reduction, only on new data (not on
    /// retransmissions or window probes, sections 6.1.5 and 6.1.6; pure
    /// ACKs and SYNs are never ECN-capable).
    pub(super) fn ecn_marks(&self, flags: TcpFlags, new_data: bool) -> (TcpFlags, IpEcn) {
        if !self.ecn.enabled {
            return (TcpFlags::empty(), IpEcn::NotEct);
        }
        let mut marks = TcpFlags::empty();
        if self.ecn.echo && flags.contains(TcpFlags::ACK) {
            marks |= TcpFlags::ECE;
        }
        if !new_data {
            return (marks, IpEcn::NotEct);
        }
        if self.ecn.cwr_due {
            marks |= TcpFlags::CWR;
        }
        (marks, IpEcn::Ect0)
    }

    /// A new data segment went out: its CWR, if it carried one, is sent.
    pub(super) fn note_ecn_data_sent(&mut self) {
        self.ecn.cwr_due = false;
    }

    /// The ECN side of an acceptable segment (RFC 3168 sections 6.1.2 and
    /// 6.1.3): CWR ends our echo, a CE-marked data segment starts it (and
    /// is ACKed at once, so the sender learns soon), and an ECE reduces our
    /// window once per window of data.
    pub(super) fn process_ecn(&mut self, now: Instant, ip_repr: &IpRepr, repr: &TcpRepr) {
        if !self.ecn.enabled {
            return;
        }
        if repr.flags.contains(TcpFlags::CWR) {
            self.ecn.echo = false;
        }
        if ip_repr.ecn == IpEcn::Ce && !repr.payload.is_empty() {
            if !self.ecn.echo {
                self.ack_now = true;
            }
            self.ecn.echo = true;
        }
        if repr.flags.contains(TcpFlags::ECE) && repr.ack().is_some() && !repr.syn() {
            self.on_ecn_echo(now);
        }
    }

    /// An ECE from the peer: the window is reduced as for a loss but
    /// nothing is resent (RFC 3168 section 6.1.2), once per window of
    /// data, and not during a loss recovery, which already reduced it.
    fn on_ecn_echo(&mut self, now: Instant) {
        if self.in_recovery {
            return;
        }
        if self
            .ecn
            .recover
            .is_some_and(|recover| self.snd_una < recover)
        {
            return;
        }
        let flight = self.snd_max - self.snd_una;
        self.cc
            .on_congestion_event(now, flight, CongestionCause::Ecn);
        self.cc.on_recovery_end(now);
        self.ecn.recover = Some(self.snd_max);
        self.ecn.cwr_due = true;
    }
}
