//! Unit tests of the TCP socket on a virtual clock: each drives one socket
//! with segments and checks the exact replies, states and trace entries.

extern crate std;

use std::vec;
use std::vec::Vec;

use super::congestion::CongestionControl;
use super::{Cause, IsnGenerator, SocketBuffer, State, TcpConfig, TcpSocket, TcpStats, Transition};
use crate::socket::{Context, PollAt};
use crate::time::{Duration, Instant};
use crate::wire::{
    IpAddress, IpEndpoint, IpProtocol, IpRepr, SeqNumber, TcpFlags, TcpRepr, TcpTimestamp,
};

mod close;
mod congestion;
mod data;
mod ecn;
mod handshake;
mod hardening;
mod loss;
mod options;
mod pair;
mod rst_syn;
mod sack;
mod sack_blocks;
mod size;
mod timers;
#[cfg(feature = "async")]
mod wakers;

pub(super) const LOCAL: IpEndpoint = IpEndpoint::new(IpAddress::v4(10, 0, 0, 1), 80);
pub(super) const REMOTE: IpEndpoint = IpEndpoint::new(IpAddress::v4(10, 0, 0, 2), 49152);

/// Our ISN in most tests, and the peer's.
pub(super) const ISS: u32 = 1000;
pub(super) const IRS: u32 = 5000;

/// The window every test peer advertises.
pub(super) const PEER_WINDOW: u16 = 32767;

pub(super) const ACK: TcpFlags = TcpFlags::ACK;
pub(super) const SYN: TcpFlags = TcpFlags::SYN;
pub(super) const FIN: TcpFlags = TcpFlags::FIN;
pub(super) const RST: TcpFlags = TcpFlags::RST;
pub(super) const PSH: TcpFlags = TcpFlags::PSH;

pub(super) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub(super) fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A segment from the peer: `flags`, SEQ, ACK (if `Some`, the ACK flag is
/// set too) and payload.
pub(super) fn seg(
    flags: TcpFlags,
    seq: u32,
    ack: Option<u32>,
    payload: &'static [u8],
) -> TcpRepr<'static> {
    let mut repr = TcpRepr {
        src_port: REMOTE.port,
        dst_port: LOCAL.port,
        seq_number: SeqNumber(seq),
        flags,
        window_len: PEER_WINDOW,
        payload,
        ..TcpRepr::default()
    };
    if let Some(ack) = ack {
        repr.set_ack(Some(SeqNumber(ack)));
    }
    repr
}

/// `repr` with an MSS option.
pub(super) fn with_mss(mut repr: TcpRepr<'static>, mss: u16) -> TcpRepr<'static> {
    repr.max_seg_size = Some(mss);
    repr
}

/// A config with the options off, so sequence and window numbers stay
/// simple; option tests turn them on.
pub(super) fn plain_config() -> TcpConfig {
    TcpConfig {
        timestamps: false,
        window_scaling: false,
        // RFC 6298's 1 s floor (the default is Linux's 200 ms), so the
        // timer tests' deadlines read in whole seconds.
        min_rto: Duration::from_secs(1),
        // Delayed ACKs from the first segment, so the ACK tests read
        // plainly; quick-ACK has tests of its own.
        quick_acks: 0,
        ..TcpConfig::default()
    }
}

/// A segment the socket sent, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Sent {
    pub flags: TcpFlags,
    pub seq: u32,
    pub ack: Option<u32>,
    pub window: u16,
    pub payload: Vec<u8>,
    pub mss: Option<u16>,
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
    pub timestamp: Option<TcpTimestamp>,
    /// The SACK blocks, absolute, in the order sent.
    pub sack: Vec<(u32, u32)>,
    /// The IP header's ECN field.
    pub ecn: crate::wire::IpEcn,
}

impl Sent {
    fn from_repr(ip: &IpRepr, repr: &TcpRepr) -> Sent {
        // Every segment goes from our endpoint to the peer's, TCP, TTL 64,
        // with the IP payload length the wire layer will emit.
        assert_eq!(ip.src_addr, LOCAL.addr);
        assert_eq!(ip.dst_addr, REMOTE.addr);
        assert_eq!(ip.next_header, IpProtocol::Tcp);
        assert_eq!(ip.hop_limit, 64);
        assert_eq!(
            ip.payload_len,
            super::tcp_header_len(repr) + repr.payload.len()
        );
        assert_eq!(repr.src_port, LOCAL.port);
        assert_eq!(repr.dst_port, REMOTE.port);
        Sent {
            flags: repr.flags,
            seq: repr.seq_number.0,
            ack: repr.ack().map(|a| a.0),
            window: repr.window_len,
            payload: repr.payload.to_vec(),
            mss: repr.max_seg_size,
            window_scale: repr.window_scale,
            sack_permitted: repr.sack_permitted,
            timestamp: repr.timestamp,
            sack: repr
                .sack_ranges
                .iter()
                .flatten()
                .map(|r| (r.left.0, r.right.0))
                .collect(),
            ecn: ip.ecn,
        }
    }

    /// Asserts flags, SEQ, ACK and payload length.
    #[track_caller]
    pub fn is(&self, flags: TcpFlags, seq: u32, ack: Option<u32>, len: usize) {
        assert_eq!(
            (self.flags, self.seq, self.ack, self.payload.len()),
            (flags, seq, ack, len),
            "segment {self:?}"
        );
    }
}

/// One socket, its clock and its context.
pub(super) struct Harness {
    pub socket: TcpSocket<'static>,
    pub cx: Context,
}

impl Harness {
    /// A CLOSED socket with buffers of `rx` and `tx` bytes and `config`.
    pub fn new(rx: usize, tx: usize, config: TcpConfig) -> Harness {
        let mut socket = TcpSocket::new(
            SocketBuffer::new(vec![0u8; rx]),
            SocketBuffer::new(vec![0u8; tx]),
        );
        socket.set_config(config);
        Harness {
            socket,
            cx: Context::new(Instant::ZERO, IsnGenerator::new([7; 16])),
        }
    }

    pub fn now(&self) -> Instant {
        self.cx.now
    }

    pub fn advance(&mut self, d: Duration) {
        self.cx.now += d;
    }

    pub fn set_time(&mut self, t: Instant) {
        self.cx.now = t;
    }

    pub fn state(&self) -> State {
        self.socket.state()
    }

    /// Feeds a segment from the peer; returns the immediate reply.
    #[track_caller]
    pub fn recv(&mut self, repr: TcpRepr) -> Option<Sent> {
        self.recv_ecn(repr, crate::wire::IpEcn::NotEct)
    }

    /// Feeds a segment from the peer whose IP header carries `ecn`.
    #[track_caller]
    pub fn recv_ecn(&mut self, repr: TcpRepr, ecn: crate::wire::IpEcn) -> Option<Sent> {
        let ip = IpRepr {
            src_addr: REMOTE.addr,
            dst_addr: LOCAL.addr,
            next_header: IpProtocol::Tcp,
            payload_len: 20 + repr.payload.len(),
            hop_limit: 64,
            ecn,
        };
        let reply = self.socket.process(&mut self.cx, &ip, &repr);
        self.check();
        reply.map(|(ip, repr)| {
            assert!(
                repr.payload.is_empty(),
                "an immediate reply carries no data"
            );
            Sent::from_repr(&ip, &repr)
        })
    }

    /// Runs one dispatch; returns the segment emitted, if any.
    #[track_caller]
    pub fn dispatch(&mut self) -> Option<Sent> {
        let mut out = None;
        let emitted = self
            .socket
            .dispatch(&mut self.cx, |_, (ip, repr)| {
                out = Some(Sent::from_repr(&ip, &repr));
                Ok::<(), ()>(())
            })
            .expect("emit never fails here");
        assert_eq!(emitted, out.is_some());
        self.check();
        out
    }

    /// Dispatches until nothing is left (at most 64 segments).
    #[track_caller]
    pub fn dispatch_all(&mut self) -> Vec<Sent> {
        let mut all = Vec::new();
        while let Some(sent) = self.dispatch() {
            all.push(sent);
            assert!(all.len() < 64, "dispatch does not stop");
        }
        all
    }

    /// Asserts that nothing is due now.
    #[track_caller]
    pub fn expect_silence(&mut self) {
        if let Some(sent) = self.dispatch() {
            panic!("unexpected segment {sent:?}");
        }
    }

    pub fn poll_at(&self) -> PollAt {
        self.socket.poll_at(&self.cx)
    }

    /// Drains the trace.
    pub fn transitions(&mut self) -> Vec<Transition> {
        let mut all = Vec::new();
        while let Some(t) = self.socket.pop_transition() {
            assert!(
                super::transition_allowed(&t),
                "transition {t} not in the diagram"
            );
            all.push(t);
        }
        all
    }

    /// Asserts the trace holds exactly these transitions (and drains it).
    #[track_caller]
    pub fn expect_trace(&mut self, expected: &[(State, State, Cause)]) {
        let got: Vec<_> = self
            .transitions()
            .iter()
            .map(|t| (t.from, t.to, t.cause))
            .collect();
        assert_eq!(got, expected);
    }

    pub fn stats(&self) -> TcpStats {
        self.cx.stats
    }

    #[track_caller]
    fn check(&self) {
        if let Err(e) = self.socket.debug_invariants() {
            panic!("invariant broken: {e}");
        }
    }

    /// Active open with our ISN `iss`: CLOSED -> SYN_SENT, checks the SYN.
    #[track_caller]
    pub fn connect(&mut self, iss: u32) -> Sent {
        self.socket.set_next_isn(SeqNumber(iss));
        self.socket
            .connect(&mut self.cx, REMOTE, LOCAL)
            .expect("connect");
        let syn = self.dispatch().expect("SYN");
        assert_eq!(syn.flags, SYN);
        assert_eq!(syn.seq, iss);
        assert_eq!(syn.ack, None);
        syn
    }

    /// Active open completed by the peer's SYN-ACK: ESTABLISHED.
    #[track_caller]
    pub fn establish_active(&mut self, iss: u32, irs: u32) {
        self.connect(iss);
        let reply = self
            .recv(with_mss(
                seg(SYN | ACK, irs, Some(iss.wrapping_add(1)), b""),
                1460,
            ))
            .expect("ACK");
        reply.is(ACK, iss.wrapping_add(1), Some(irs.wrapping_add(1)), 0);
        assert_eq!(self.state(), State::Established);
        self.transitions();
    }

    /// Passive open (standalone listener) completed: ESTABLISHED.
    #[track_caller]
    pub fn establish_passive(&mut self, iss: u32, irs: u32) {
        self.socket.listen(LOCAL.port).expect("listen");
        self.socket.set_next_isn(SeqNumber(iss));
        assert_eq!(self.recv(with_mss(seg(SYN, irs, None, b""), 1460)), None);
        let syn_ack = self.dispatch().expect("SYN-ACK");
        syn_ack.is(SYN | ACK, iss, Some(irs.wrapping_add(1)), 0);
        assert_eq!(
            self.recv(seg(
                ACK,
                irs.wrapping_add(1),
                Some(iss.wrapping_add(1)),
                b""
            )),
            None
        );
        assert_eq!(self.state(), State::Established);
        self.transitions();
    }
}

/// An ESTABLISHED socket (active open, ISS/IRS, plain config, 64 KiB
/// buffers).
pub(super) fn established() -> Harness {
    let mut h = Harness::new(65536, 65536, plain_config());
    h.establish_active(ISS, IRS);
    h
}

/// `n` bytes of recognisable data.
pub(super) fn bytes(n: usize) -> &'static [u8] {
    let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
    data.leak()
}

/// A socket driven into `state` from `established()`, trace drained. Our
/// sequence numbers: SYN at ISS, FIN (if sent) at ISS+1; the peer's: SYN
/// at IRS, FIN (if sent) at IRS+1. `close` closes fully; otherwise the
/// send side is shut down (half-close).
pub(super) fn in_state(state: State, full_close: bool) -> Harness {
    let mut h = established();
    let close = |h: &mut Harness| {
        if full_close {
            h.socket.close()
        } else {
            h.socket.shutdown()
        }
    };
    match state {
        State::Established => {}
        State::FinWait1 | State::FinWait2 | State::Closing | State::TimeWait => {
            close(&mut h);
            h.dispatch()
                .unwrap()
                .is(FIN | ACK, ISS + 1, Some(IRS + 1), 0);
            match state {
                State::FinWait2 => {
                    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(ISS + 2), b"")), None);
                }
                State::TimeWait => {
                    let ack = h.recv(seg(FIN | ACK, IRS + 1, Some(ISS + 2), b"")).unwrap();
                    ack.is(ACK, ISS + 2, Some(IRS + 2), 0);
                }
                State::Closing => {
                    let ack = h.recv(seg(FIN | ACK, IRS + 1, Some(ISS + 1), b"")).unwrap();
                    ack.is(ACK, ISS + 2, Some(IRS + 2), 0);
                }
                _ => {}
            }
        }
        State::CloseWait | State::LastAck => {
            let ack = h.recv(seg(FIN | ACK, IRS + 1, Some(ISS + 1), b"")).unwrap();
            ack.is(ACK, ISS + 1, Some(IRS + 2), 0);
            if state == State::LastAck {
                close(&mut h);
                h.dispatch()
                    .unwrap()
                    .is(FIN | ACK, ISS + 1, Some(IRS + 2), 0);
            }
        }
        other => panic!("in_state({other}) is not a synchronized state"),
    }
    assert_eq!(h.state(), state);
    h.transitions();
    h
}
