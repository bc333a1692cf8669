//! ECN (RFC 3168 section 6.1): negotiation for each pair of settings,
//! ECT(0) only on new data, the ECE/CWR exchange, one window reduction per
//! window of data, and the half-open record keeping the agreement.

use super::*;
use crate::socket::tcp::{CongestionAlgorithm, EcnMode, HalfOpen};
use crate::wire::IpEcn;

const ECE: TcpFlags = TcpFlags::ECE;
const CWR: TcpFlags = TcpFlags::CWR;
const MSS: usize = 1460;

fn ecn_config(mode: EcnMode) -> TcpConfig {
    TcpConfig {
        ecn: mode,
        congestion: CongestionAlgorithm::NewReno,
        ..plain_config()
    }
}

/// `connect` (the harness's checks a SYN with no ECN flags); our SYN.
fn connect(h: &mut Harness) -> Sent {
    h.socket.set_next_isn(SeqNumber(ISS));
    h.socket.connect(&mut h.cx, REMOTE, LOCAL).unwrap();
    let syn = h.dispatch().expect("SYN");
    assert_eq!((syn.seq, syn.ack), (ISS, None));
    syn
}

/// An active open in `mode`; the peer's SYN-ACK carries `peer_flags`
/// beside SYN and ACK. Returns the harness and our SYN.
fn active(mode: EcnMode, peer_flags: TcpFlags) -> (Harness, Sent) {
    let mut h = Harness::new(65536, 65536, ecn_config(mode));
    let syn = connect(&mut h);
    let syn_ack = with_mss(seg(SYN | ACK | peer_flags, IRS, Some(ISS + 1), b""), 1460);
    let ack = h.recv(syn_ack).expect("ACK");
    assert_eq!(ack.flags, ACK, "the handshake's ACK carries no ECN flags");
    assert_eq!(h.state(), State::Established);
    (h, syn)
}

/// A passive open in `mode`; the peer's SYN carries `peer_flags` beside
/// SYN. Returns the harness (ESTABLISHED) and our SYN-ACK.
fn passive(mode: EcnMode, peer_flags: TcpFlags) -> (Harness, Sent) {
    let mut h = Harness::new(65536, 65536, ecn_config(mode));
    h.socket.listen(LOCAL.port).unwrap();
    h.socket.set_next_isn(SeqNumber(ISS));
    assert_eq!(
        h.recv(with_mss(seg(SYN | peer_flags, IRS, None, b""), 1460)),
        None
    );
    let syn_ack = h.dispatch().expect("SYN-ACK");
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(ISS + 1), b"")), None);
    assert_eq!(h.state(), State::Established);
    (h, syn_ack)
}

/// Queues `len` bytes and returns the first segment sent.
fn send_one(h: &mut Harness, len: usize) -> Sent {
    h.socket.send_slice(bytes(len)).unwrap();
    h.dispatch().expect("data")
}

#[test]
fn negotiation_for_each_pair_of_settings() {
    for mode in [EcnMode::Off, EcnMode::Accept, EcnMode::Request] {
        let asks = mode == EcnMode::Request;
        // We open: the peer agrees (ECE), declines, or answers with both
        // flags, which is no ECN-setup SYN-ACK (RFC 3168 section 6.1.1).
        for (peer, agrees) in [(ECE, true), (TcpFlags::empty(), false), (ECE | CWR, false)] {
            let (mut h, syn) = active(mode, peer);
            let expected = if asks { SYN | ECE | CWR } else { SYN };
            assert_eq!(syn.flags, expected, "{mode:?}");
            assert_eq!(syn.ecn, IpEcn::NotEct, "a SYN is never ECN-capable");
            let data = send_one(&mut h, 100);
            let negotiated = asks && agrees;
            let ect = if negotiated {
                IpEcn::Ect0
            } else {
                IpEcn::NotEct
            };
            assert_eq!(data.ecn, ect, "{mode:?} peer {peer:?}");
            assert_eq!(data.flags, ACK | PSH);
        }
        // The peer opens, asking (ECE and CWR) or not.
        for (peer, asked) in [(ECE | CWR, true), (TcpFlags::empty(), false), (ECE, false)] {
            let (mut h, syn_ack) = passive(mode, peer);
            let agree = asked && mode != EcnMode::Off;
            let expected = if agree { SYN | ACK | ECE } else { SYN | ACK };
            assert_eq!(syn_ack.flags, expected, "{mode:?} peer {peer:?}");
            assert_eq!(syn_ack.ecn, IpEcn::NotEct);
            let ect = if agree { IpEcn::Ect0 } else { IpEcn::NotEct };
            assert_eq!(send_one(&mut h, 100).ecn, ect, "{mode:?} peer {peer:?}");
        }
    }
}

#[test]
fn a_retransmitted_syn_asks_for_nothing() {
    // RFC 3168 section 6.1.1.1: the ECN-setup SYN may be what is dropped.
    let mut h = Harness::new(65536, 65536, ecn_config(EcnMode::Request));
    assert_eq!(connect(&mut h).flags, SYN | ECE | CWR);
    h.advance(secs(1));
    let again = h.dispatch().expect("SYN again");
    again.is(SYN, ISS, None, 0);
    // A SYN-ACK with ECE now agrees to nothing.
    h.recv(with_mss(
        seg(SYN | ACK | ECE, IRS, Some(ISS + 1), b""),
        1460,
    ))
    .unwrap();
    assert_eq!(send_one(&mut h, 100).ecn, IpEcn::NotEct);
}

#[test]
fn ect0_only_on_new_data() {
    let (mut h, _) = active(EcnMode::Request, ECE);
    let first = send_one(&mut h, 100);
    assert_eq!(first.ecn, IpEcn::Ect0);
    // A pure ACK is not ECN-capable.
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(ISS + 1), b"x")), None);
    h.advance(ms(200));
    let ack = h.dispatch().expect("delayed ACK");
    ack.is(ACK, ISS + 101, Some(IRS + 2), 0);
    assert_eq!(ack.ecn, IpEcn::NotEct);
    // The retransmission after the RTO is not (RFC 3168 section 6.1.5).
    h.advance(secs(1));
    let resent = h.dispatch().expect("retransmission");
    resent.is(ACK | PSH, ISS + 1, Some(IRS + 2), 100);
    assert_eq!(resent.ecn, IpEcn::NotEct);
    // Nor is a window probe (section 6.1.6), nor a FIN without data.
    h.recv(seg(ACK, IRS + 2, Some(ISS + 101), b""));
    let mut closed = seg(ACK, IRS + 2, Some(ISS + 101), b"");
    closed.window_len = 0;
    h.recv(closed);
    h.socket.send_slice(bytes(10)).unwrap();
    assert!(h.dispatch().is_none(), "the window is closed");
    h.advance(secs(2));
    let probe = h.dispatch().expect("window probe");
    assert_eq!(probe.payload.len(), 1);
    assert_eq!(probe.ecn, IpEcn::NotEct);
    let mut open = seg(ACK, IRS + 2, Some(ISS + 102), b"");
    open.window_len = PEER_WINDOW;
    h.recv(open);
    let rest = h.dispatch().expect("the rest, new data");
    assert_eq!((rest.payload.len(), rest.ecn), (9, IpEcn::Ect0));
    h.socket.close();
    let fin = h.dispatch().expect("FIN");
    fin.is(FIN | ACK, ISS + 111, Some(IRS + 2), 0);
    assert_eq!(fin.ecn, IpEcn::NotEct);
}

#[test]
fn ce_is_echoed_until_cwr() {
    let (mut h, _) = passive(EcnMode::Accept, ECE | CWR);
    // A CE-marked data segment: its ACK goes at once, with ECE.
    let ack = h
        .recv_ecn(seg(ACK, IRS + 1, Some(ISS + 1), b"abc"), IpEcn::Ce)
        .expect("an immediate ACK");
    ack.is(ACK | ECE, ISS + 1, Some(IRS + 4), 0);
    // Every later ACK carries ECE, delayed ones and data segments too.
    assert_eq!(
        h.recv_ecn(seg(ACK, IRS + 4, Some(ISS + 1), b"def"), IpEcn::Ect0),
        None
    );
    h.advance(ms(100));
    h.dispatch()
        .expect("delayed ACK")
        .is(ACK | ECE, ISS + 1, Some(IRS + 7), 0);
    let data = send_one(&mut h, 10);
    assert_eq!((data.flags, data.ecn), (ACK | PSH | ECE, IpEcn::Ect0));
    // The peer's CWR ends the echo (RFC 3168 section 6.1.3).
    let cwr = seg(ACK | CWR, IRS + 7, Some(ISS + 11), b"ghi");
    assert_eq!(h.recv_ecn(cwr, IpEcn::Ect0), None);
    h.advance(ms(100));
    h.dispatch()
        .expect("delayed ACK")
        .is(ACK, ISS + 11, Some(IRS + 10), 0);
    // CE on a segment that also carries CWR starts a new echo.
    let both = seg(ACK | CWR, IRS + 10, Some(ISS + 11), b"jkl");
    h.recv_ecn(both, IpEcn::Ce).expect("an immediate ACK").is(
        ACK | ECE,
        ISS + 11,
        Some(IRS + 13),
        0,
    );
}

#[test]
fn one_reduction_per_window_and_cwr_on_the_next_new_data() {
    let (mut h, _) = active(EcnMode::Request, ECE);
    h.socket.set_nagle_enabled(false);
    h.socket.send_slice(bytes(4 * MSS)).unwrap();
    let sent = h.dispatch_all();
    assert_eq!(sent.len(), 4);
    assert!(
        sent.iter()
            .all(|s| s.ecn == IpEcn::Ect0 && !s.flags.contains(CWR))
    );
    let before = h.socket.congestion_window();
    // The first segment's ACK echoes a CE mark: the window halves once
    // (RFC 3168 section 6.1.2; NewReno: max(flight / 2, 2 * SMSS)).
    let ece_ack = |acked: usize| seg(ACK | ECE, IRS + 1, Some(ISS + 1 + acked as u32), b"");
    assert_eq!(h.recv(ece_ack(MSS)), None);
    let reduced = h.socket.congestion_window();
    assert_eq!(reduced, (3 * MSS / 2).max(2 * MSS));
    assert!(reduced < before);
    // More ECEs for the same window of data change nothing but growth.
    assert_eq!(h.recv(ece_ack(3 * MSS)), None);
    assert!(h.socket.congestion_window() >= reduced);
    // The next new data segment carries CWR, the one after it does not.
    h.socket.send_slice(bytes(2 * MSS)).unwrap();
    let next = h.dispatch().expect("new data");
    assert_eq!((next.flags, next.ecn), (ACK | CWR, IpEcn::Ect0));
    let plain_ack = seg(ACK, IRS + 1, Some(ISS + 1 + 4 * MSS as u32), b"");
    assert_eq!(h.recv(plain_ack), None);
    let after = h.dispatch().expect("more new data");
    assert_eq!((after.flags, after.ecn), (ACK | PSH, IpEcn::Ect0));
    // Once SND.UNA has passed what was sent before the reduction, a new
    // ECE reduces again, and CWR goes out again.
    assert_eq!(h.recv(ece_ack(5 * MSS)), None);
    assert_eq!(h.socket.congestion_window(), 2 * MSS);
    assert_eq!(
        h.socket.ecn.recover,
        Some(SeqNumber(ISS + 1 + 6 * MSS as u32))
    );
    h.socket.send_slice(bytes(10)).unwrap();
    let last = h.dispatch().expect("new data");
    assert_eq!(last.flags, ACK | PSH | CWR);
}

#[test]
fn half_open_records_keep_the_agreement() {
    for asked in [false, true] {
        let mut h = Harness::new(0, 0, ecn_config(EcnMode::Accept));
        h.socket.listen(LOCAL.port).unwrap();
        let listener = h.socket.fork_listener_child(
            SocketBuffer::new(vec![0u8; 0]),
            SocketBuffer::new(vec![0u8; 0]),
        );
        h.socket.set_next_isn(SeqNumber(ISS));
        let flags = if asked { SYN | ECE | CWR } else { SYN };
        h.recv(with_mss(seg(flags, IRS, None, b""), 1460));
        h.dispatch().expect("SYN-ACK");
        let record: HalfOpen = h.socket.to_half_open(3).expect("a record");
        assert_eq!(record.ecn(), asked);
        let rebuilt = TcpSocket::from_half_open(
            &listener,
            &record,
            &h.cx,
            SocketBuffer::new(vec![0u8; 1024]),
            SocketBuffer::new(vec![0u8; 1024]),
        );
        assert_eq!(rebuilt.ecn.enabled, asked);
    }
}
