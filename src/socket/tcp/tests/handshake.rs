//! Opening: active, passive (standalone and forked), simultaneous; the
//! replies of CLOSED, LISTEN and SYN_SENT; SYN_RCVD's RST and bad ACK
//! handling; handshake retransmission limits and the SYN_RCVD timeout.

use super::*;
use crate::socket::tcp::{ConnectError, ListenError, SendError, TcpError, rst_for_unmatched};
use State::*;

#[test]
fn active_open() {
    let mut h = Harness::new(65536, 65536, plain_config());
    let syn = h.connect(ISS);
    assert_eq!(syn.window, 65535);
    assert_eq!(syn.mss, Some(1460));
    // SACK-permitted is offered by default (RFC 2018 section 2).
    assert_eq!(
        (syn.window_scale, syn.timestamp, syn.sack_permitted),
        (None, None, true)
    );
    h.expect_trace(&[(Closed, SynSent, Cause::Connect)]);
    h.expect_silence();

    let ack = h.recv(seg(SYN | ACK, IRS, Some(ISS + 1), b"")).unwrap();
    ack.is(ACK, ISS + 1, Some(IRS + 1), 0);
    assert_eq!(ack.window, 65535);
    assert_eq!(h.state(), Established);
    h.expect_trace(&[(SynSent, Established, Cause::RcvSynAck)]);
    assert_eq!(h.socket.local_endpoint(), Some(LOCAL));
    assert_eq!(h.socket.remote_endpoint(), Some(REMOTE));
    assert!(h.socket.may_send() && h.socket.may_recv() && h.socket.is_active());
    h.expect_silence();
    assert_eq!(h.poll_at(), PollAt::Ingress);
}

#[test]
fn passive_open_standalone_listener() {
    let mut h = Harness::new(65536, 65536, plain_config());
    h.socket.listen(LOCAL.port).unwrap();
    assert!(h.socket.is_listening());
    h.socket.set_next_isn(SeqNumber(ISS));
    assert_eq!(h.recv(seg(SYN, IRS, None, b"")), None);
    assert_eq!(h.state(), SynRcvd);
    assert_eq!(h.poll_at(), PollAt::Now);
    let syn_ack = h.dispatch().unwrap();
    syn_ack.is(SYN | ACK, ISS, Some(IRS + 1), 0);
    assert_eq!((syn_ack.window, syn_ack.mss), (65535, Some(1460)));
    // The SYN-ACK's retransmission timer is the initial RTO.
    assert_eq!(h.poll_at(), PollAt::Time(Instant::ZERO + secs(1)));
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(ISS + 1), b"")), None);
    assert_eq!(h.state(), Established);
    h.expect_trace(&[
        (Closed, Listen, Cause::Listen),
        (Listen, SynRcvd, Cause::RcvSyn),
        (SynRcvd, Established, Cause::RcvAck),
    ]);
    assert_eq!(h.poll_at(), PollAt::Ingress);
}

#[test]
fn forked_child_opens_and_the_listener_keeps_listening() {
    let mut listener = Harness::new(1024, 1024, plain_config());
    listener.socket.listen(LOCAL.port).unwrap();
    listener.transitions();
    let child = listener.socket.fork_listener_child(
        SocketBuffer::new(vec![0; 4096]),
        SocketBuffer::new(vec![0; 4096]),
    );
    let mut h = Harness {
        socket: child,
        cx: Context::new(Instant::ZERO, IsnGenerator::new([7; 16])),
    };
    assert!(h.socket.is_listener_child());
    assert!(!listener.socket.is_listener_child());
    assert_eq!(h.state(), Listen);
    assert_eq!(h.socket.config(), listener.socket.config());
    assert_eq!(
        h.socket.listen_endpoint(),
        listener.socket.listen_endpoint()
    );
    h.expect_trace(&[]);

    h.socket.set_next_isn(SeqNumber(ISS));
    assert_eq!(h.recv(seg(SYN, IRS, None, b"")), None);
    h.expect_trace(&[(Listen, SynRcvd, Cause::RcvSyn)]);
    let syn_ack = h.dispatch().unwrap();
    syn_ack.is(SYN | ACK, ISS, Some(IRS + 1), 0);
    assert_eq!(syn_ack.window, 4096);
    // A RST returns the child to LISTEN (the interface then frees it).
    assert_eq!(h.recv(seg(RST, IRS + 1, None, b"")), None);
    assert_eq!(h.state(), Listen);
    h.expect_trace(&[(SynRcvd, Listen, Cause::RcvRst)]);
    assert_eq!(h.socket.remote_endpoint(), None);
    assert_eq!(listener.state(), Listen);
}

#[test]
fn simultaneous_open() {
    let mut h = Harness::new(65536, 65536, plain_config());
    h.connect(ISS);
    // The peer's SYN crosses ours: SYN_SENT -> SYN_RCVD, our SYN resent
    // as a SYN-ACK.
    assert_eq!(h.recv(seg(SYN, IRS, None, b"")), None);
    assert_eq!(h.state(), SynRcvd);
    let syn_ack = h.dispatch().unwrap();
    syn_ack.is(SYN | ACK, ISS, Some(IRS + 1), 0);
    assert_eq!(h.stats().retransmissions, 1);
    h.expect_silence();
    // The peer's SYN-ACK (RFC 793 figure 8, line 6) completes it.
    assert_eq!(h.recv(seg(SYN | ACK, IRS, Some(ISS + 1), b"")), None);
    assert_eq!(h.state(), Established);
    h.expect_trace(&[
        (Closed, SynSent, Cause::Connect),
        (SynSent, SynRcvd, Cause::RcvSyn),
        (SynRcvd, Established, Cause::RcvSynAck),
    ]);
    h.expect_silence();
}

#[test]
fn simultaneous_open_completed_by_a_plain_ack() {
    let mut h = Harness::new(65536, 65536, plain_config());
    h.connect(ISS);
    h.recv(seg(SYN, IRS, None, b""));
    h.dispatch().unwrap();
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(ISS + 1), b"")), None);
    assert_eq!(h.state(), Established);
    h.expect_trace(&[
        (Closed, SynSent, Cause::Connect),
        (SynSent, SynRcvd, Cause::RcvSyn),
        (SynRcvd, Established, Cause::RcvAck),
    ]);
}

#[test]
fn simultaneous_open_refused_by_rst_in_syn_rcvd() {
    let mut h = Harness::new(65536, 65536, plain_config());
    h.connect(ISS);
    h.recv(seg(SYN, IRS, None, b""));
    h.dispatch().unwrap();
    h.transitions();
    // RFC 9293 3.10.7.4: from an active open, a RST in SYN_RCVD means
    // "connection refused".
    assert_eq!(h.recv(seg(RST, IRS + 1, None, b"")), None);
    assert_eq!(h.state(), Closed);
    assert_eq!(h.socket.error(), Some(TcpError::Refused));
    h.expect_trace(&[(SynRcvd, Closed, Cause::RcvRst)]);
    h.expect_silence();
}

#[test]
fn rst_in_syn_rcvd_returns_a_standalone_listener_to_listen() {
    let mut h = Harness::new(65536, 65536, plain_config());
    h.socket.listen(LOCAL.port).unwrap();
    h.socket.set_next_isn(SeqNumber(ISS));
    h.recv(seg(SYN, IRS, None, b""));
    h.dispatch().unwrap();
    h.transitions();
    assert_eq!(h.recv(seg(RST, IRS + 1, None, b"")), None);
    assert_eq!(h.state(), Listen);
    assert_eq!(h.socket.error(), None);
    h.expect_trace(&[(SynRcvd, Listen, Cause::RcvRst)]);
    // No SYN-ACK retransmission is left behind.
    h.advance(secs(10));
    h.expect_silence();
    assert_eq!(h.poll_at(), PollAt::Ingress);
    // It listens again: a new SYN opens a new connection.
    h.socket.set_next_isn(SeqNumber(77));
    assert_eq!(h.recv(seg(SYN, 9000, None, b"")), None);
    h.dispatch().unwrap().is(SYN | ACK, 77, Some(9001), 0);
    assert_eq!(h.state(), SynRcvd);
}

#[test]
fn rst_in_syn_rcvd_inside_the_window_gets_a_challenge_ack() {
    for insecure in [false, true] {
        let mut h = Harness::new(
            65536,
            65536,
            TcpConfig {
                insecure_rst: insecure,
                ..plain_config()
            },
        );
        h.socket.listen(LOCAL.port).unwrap();
        h.socket.set_next_isn(SeqNumber(ISS));
        h.recv(seg(SYN, IRS, None, b""));
        h.dispatch().unwrap();
        // Right edge of the advertised window (65535 bytes from IRS+1).
        let reply = h.recv(seg(RST, IRS + 65535, None, b""));
        if insecure {
            assert_eq!(reply, None);
            assert_eq!(h.state(), Listen);
        } else {
            reply.unwrap().is(ACK, ISS + 1, Some(IRS + 1), 0);
            assert_eq!(h.state(), SynRcvd);
            assert_eq!(h.stats().challenge_acks, 1);
        }
        // Outside the window: dropped silently in both modes.
        let mut h = Harness::new(
            65536,
            65536,
            TcpConfig {
                insecure_rst: insecure,
                ..plain_config()
            },
        );
        h.socket.listen(LOCAL.port).unwrap();
        h.socket.set_next_isn(SeqNumber(ISS));
        h.recv(seg(SYN, IRS, None, b""));
        h.dispatch().unwrap();
        assert_eq!(h.recv(seg(RST, IRS + 65536, None, b"")), None);
        assert_eq!(h.recv(seg(RST, IRS, None, b"")), None);
        assert_eq!(h.state(), SynRcvd);
    }
}

#[test]
fn unacceptable_ack_in_syn_rcvd_gets_a_rst_and_the_connection_stays() {
    let mut h = Harness::new(65536, 65536, plain_config());
    h.socket.listen(LOCAL.port).unwrap();
    h.socket.set_next_isn(SeqNumber(ISS));
    h.recv(seg(SYN, IRS, None, b""));
    h.dispatch().unwrap();
    h.transitions();
    // ACK of nothing (SEG.ACK = ISS) and of the future (ISS + 2).
    for bad in [ISS, ISS + 2, ISS.wrapping_sub(100)] {
        let rst = h.recv(seg(ACK, IRS + 1, Some(bad), b"")).unwrap();
        rst.is(RST, bad, None, 0);
        assert_eq!(rst.window, 0);
        assert_eq!(h.state(), SynRcvd);
    }
    assert_eq!(h.stats().rsts_sent, 3);
    h.expect_trace(&[]);
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(ISS + 1), b"")), None);
    assert_eq!(h.state(), Established);
}

#[test]
fn retransmitted_syn_in_syn_rcvd_resends_the_syn_ack() {
    let mut h = Harness::new(65536, 65536, plain_config());
    h.socket.listen(LOCAL.port).unwrap();
    h.socket.set_next_isn(SeqNumber(ISS));
    h.recv(seg(SYN, IRS, None, b""));
    h.dispatch().unwrap();
    h.advance(ms(300));
    assert_eq!(h.recv(seg(SYN, IRS, None, b"")), None);
    h.dispatch().unwrap().is(SYN | ACK, ISS, Some(IRS + 1), 0);
    assert_eq!(h.state(), SynRcvd);
}

#[test]
fn a_new_syn_in_a_passive_syn_rcvd_returns_to_listen() {
    // RFC 9293 3.10.7.4 fourth step, SYN-RECEIVED from a passive OPEN.
    let mut h = Harness::new(65536, 65536, plain_config());
    h.socket.listen(LOCAL.port).unwrap();
    h.socket.set_next_isn(SeqNumber(ISS));
    h.recv(seg(SYN, IRS, None, b""));
    h.dispatch().unwrap();
    h.transitions();
    assert_eq!(h.recv(seg(SYN, IRS + 10, None, b"")), None);
    assert_eq!(h.state(), Listen);
    h.expect_trace(&[(SynRcvd, Listen, Cause::RcvSyn)]);
}

#[test]
fn syn_sent_answers_a_bad_ack_with_a_rst() {
    let mut h = Harness::new(65536, 65536, plain_config());
    h.connect(ISS);
    // SEG.ACK =< ISS or > SND.NXT: <SEQ=SEG.ACK><CTL=RST>, with or
    // without SYN, with or without data.
    for (flags, ack, payload) in [
        (SYN | ACK, ISS, &b""[..]),
        (SYN | ACK, ISS + 2, &b"abc"[..]),
        (ACK, ISS, &b""[..]),
        (ACK, ISS + 2, &b"abc"[..]),
        (FIN | ACK, ISS + 2, &b""[..]),
    ] {
        let rst = h.recv(seg(flags, IRS, Some(ack), payload)).unwrap();
        rst.is(RST, ack, None, 0);
        assert_eq!(h.state(), SynSent);
    }
    // A RST with a bad ACK is dropped; so is one without ACK.
    assert_eq!(h.recv(seg(RST | ACK, IRS, Some(ISS), b"")), None);
    assert_eq!(h.recv(seg(RST, IRS, None, b"")), None);
    // An acceptable ACK without SYN is dropped (RFC 9293 3.10.7.3, fifth).
    assert_eq!(h.recv(seg(ACK, IRS, Some(ISS + 1), b"abc")), None);
    assert_eq!(h.recv(seg(FIN, IRS, None, b"abc")), None);
    assert_eq!(h.state(), SynSent);
    h.expect_trace(&[(Closed, SynSent, Cause::Connect)]);
    // The handshake still completes.
    h.recv(seg(SYN | ACK, IRS, Some(ISS + 1), b"")).unwrap();
    assert_eq!(h.state(), Established);
}

#[test]
fn syn_sent_refused_by_rst_with_acceptable_ack() {
    let mut h = Harness::new(65536, 65536, plain_config());
    h.connect(ISS);
    assert_eq!(h.recv(seg(RST | ACK, 0, Some(ISS + 1), b"")), None);
    assert_eq!(h.state(), Closed);
    assert_eq!(h.socket.error(), Some(TcpError::Refused));
    h.expect_trace(&[
        (Closed, SynSent, Cause::Connect),
        (SynSent, Closed, Cause::RcvRst),
    ]);
    h.expect_silence();
    assert_eq!(h.poll_at(), PollAt::Ingress);
}

#[test]
fn syn_ack_with_data_is_delivered_and_acknowledged() {
    let mut h = Harness::new(65536, 65536, plain_config());
    h.connect(ISS);
    let ack = h.recv(seg(SYN | ACK, IRS, Some(ISS + 1), b"abc")).unwrap();
    ack.is(ACK, ISS + 1, Some(IRS + 4), 0);
    assert_eq!(h.state(), Established);
    let mut buf = [0; 8];
    assert_eq!(h.socket.recv_slice(&mut buf), Ok(3));
    assert_eq!(&buf[..3], b"abc");
}

#[test]
fn syn_ack_with_data_and_fin_goes_to_close_wait() {
    let mut h = Harness::new(65536, 65536, plain_config());
    h.connect(ISS);
    let ack = h
        .recv(seg(SYN | ACK | FIN, IRS, Some(ISS + 1), b"abc"))
        .unwrap();
    ack.is(ACK, ISS + 1, Some(IRS + 5), 0);
    assert_eq!(h.state(), CloseWait);
    h.expect_trace(&[
        (Closed, SynSent, Cause::Connect),
        (SynSent, Established, Cause::RcvSynAck),
        (Established, CloseWait, Cause::RcvFin),
    ]);
}

#[test]
fn data_in_a_syn_waits_for_established() {
    // Passive: the SYN's data is not acknowledged by the SYN-ACK, and is
    // delivered once the handshake completes.
    let mut h = Harness::new(65536, 65536, plain_config());
    h.socket.listen(LOCAL.port).unwrap();
    h.socket.set_next_isn(SeqNumber(0));
    assert_eq!(h.recv(seg(SYN, 17, None, b"xyz")), None);
    h.dispatch().unwrap().is(SYN | ACK, 0, Some(18), 0);
    assert_eq!(h.socket.recv_queue(), 0);
    assert_eq!(h.recv(seg(ACK, 21, Some(1), b"")), None);
    assert_eq!(h.state(), Established);
    assert_eq!(h.socket.recv_queue(), 3);
    assert_eq!(h.socket.peek(10), Ok(&b"xyz"[..]));
    // The data is acknowledged by the delayed ACK.
    h.advance(ms(100));
    h.dispatch().unwrap().is(ACK, 1, Some(21), 0);

    // Simultaneous open with data in the peer's SYN (as FreeBSD's
    // rcv-syn-with-data-syn-sent script does).
    let mut h = Harness::new(65536, 65536, plain_config());
    h.connect(0);
    assert_eq!(h.recv(seg(SYN, 0, None, b"abc")), None);
    h.dispatch().unwrap().is(SYN | ACK, 0, Some(1), 0);
    assert_eq!(h.socket.recv_slice(&mut [0; 8]), Ok(0));
    assert_eq!(h.recv(seg(ACK, 4, Some(1), b"")), None);
    assert_eq!(h.state(), Established);
    let mut buf = [0; 8];
    assert_eq!(h.socket.recv_slice(&mut buf), Ok(3));
    assert_eq!(&buf[..3], b"abc");
}

#[test]
fn listen_answers_an_ack_with_a_rst_and_ignores_rst_and_fin() {
    let mut h = Harness::new(65536, 65536, plain_config());
    h.socket.listen(LOCAL.port).unwrap();
    h.recv(seg(ACK, 17, Some(34), b"abc"))
        .unwrap()
        .is(RST, 34, None, 0);
    h.recv(seg(SYN | ACK, 17, Some(34), b""))
        .unwrap()
        .is(RST, 34, None, 0);
    h.recv(seg(FIN | ACK, 17, Some(34), b""))
        .unwrap()
        .is(RST, 34, None, 0);
    assert_eq!(h.recv(seg(RST, 17, None, b"")), None);
    assert_eq!(h.recv(seg(RST | ACK, 17, Some(34), b"")), None);
    assert_eq!(h.recv(seg(FIN, 17, None, b"abc")), None);
    assert_eq!(h.recv(seg(TcpFlags::empty(), 17, None, b"abc")), None);
    assert_eq!(h.state(), Listen);
    h.expect_silence();
}

#[test]
fn closed_socket_answers_with_rst_per_3_10_7_1() {
    let mut h = Harness::new(1024, 1024, plain_config());
    // No ACK: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
    h.recv(seg(SYN, 100, None, b""))
        .unwrap()
        .is(RST | ACK, 0, Some(101), 0);
    h.recv(seg(FIN, 100, None, b"abc"))
        .unwrap()
        .is(RST | ACK, 0, Some(104), 0);
    h.recv(seg(TcpFlags::empty(), 100, None, b"abc"))
        .unwrap()
        .is(RST | ACK, 0, Some(103), 0);
    // ACK: <SEQ=SEG.ACK><CTL=RST>.
    h.recv(seg(ACK, 100, Some(555), b"abc"))
        .unwrap()
        .is(RST, 555, None, 0);
    // Never a RST for a RST.
    assert_eq!(h.recv(seg(RST, 100, None, b"")), None);
    assert_eq!(h.recv(seg(RST | ACK, 100, Some(5), b"")), None);
    assert_eq!(h.stats().rsts_sent, 4);
    assert_eq!(h.state(), Closed);
}

#[test]
fn rst_for_unmatched_builds_the_reply_header() {
    let ip = IpRepr {
        src_addr: REMOTE.addr,
        dst_addr: LOCAL.addr,
        next_header: IpProtocol::Tcp,
        payload_len: 23,
        hop_limit: 30,
        ecn: crate::wire::IpEcn::NotEct,
    };
    let (reply_ip, reply) =
        rst_for_unmatched(&ip, &seg(SYN | FIN, u32::MAX, None, b"abc")).unwrap();
    assert_eq!(
        reply_ip,
        IpRepr {
            src_addr: LOCAL.addr,
            dst_addr: REMOTE.addr,
            next_header: IpProtocol::Tcp,
            payload_len: 20,
            hop_limit: 64,
            ecn: crate::wire::IpEcn::NotEct,
        }
    );
    assert_eq!((reply.src_port, reply.dst_port), (LOCAL.port, REMOTE.port));
    // SEG.SEQ + SEG.LEN wraps: 2^32 - 1 + 5.
    assert_eq!(reply.ack(), Some(SeqNumber(4)));
    assert_eq!(reply.seq_number, SeqNumber(0));
    assert_eq!(reply.flags, RST | ACK);
    assert_eq!(reply.window_len, 0);
    assert!(reply.payload.is_empty());
}

#[test]
fn connect_and_listen_check_their_arguments_and_state() {
    let mut h = Harness::new(1024, 1024, plain_config());
    let no_port = IpEndpoint::new(REMOTE.addr, 0);
    assert_eq!(
        h.socket.connect(&mut h.cx, no_port, LOCAL),
        Err(ConnectError::Unaddressable)
    );
    let unspecified = IpEndpoint::new(IpAddress::v4(0, 0, 0, 0), 80);
    assert_eq!(
        h.socket.connect(&mut h.cx, REMOTE, unspecified),
        Err(ConnectError::Unaddressable)
    );
    assert_eq!(
        h.socket.connect(&mut h.cx, unspecified, LOCAL),
        Err(ConnectError::Unaddressable)
    );
    assert_eq!(h.socket.listen(0), Err(ListenError::Unaddressable));
    h.socket.listen(80).unwrap();
    assert_eq!(h.socket.listen(81), Err(ListenError::InvalidState));
    assert_eq!(
        h.socket.connect(&mut h.cx, REMOTE, LOCAL),
        Err(ConnectError::InvalidState)
    );
}

#[test]
fn syn_retransmissions_back_off_then_connect_times_out() {
    let mut h = Harness::new(65536, 65536, plain_config());
    h.connect(ISS);
    // RTO 1 s doubling, capped at 60 s: retransmissions at 1, 3, 7, 15,
    // 31, 63 and 123 s (max_syn_retransmissions = 7), give-up at 123 + 60:
    // at least 3 minutes (RFC 1122 4.2.3.5, RFC 9293 MUST-23).
    let mut at = 0;
    for rto in [1, 2, 4, 8, 16, 32, 60] {
        at += rto;
        assert_eq!(h.poll_at(), PollAt::Time(Instant::from_secs(at)));
        h.set_time(Instant::from_secs(at) - ms(1));
        h.expect_silence();
        h.set_time(Instant::from_secs(at));
        h.dispatch().unwrap().is(SYN, ISS, None, 0);
        h.expect_silence();
    }
    assert_eq!(h.stats().retransmissions, 7);
    assert_eq!(h.poll_at(), PollAt::Time(Instant::from_secs(183)));
    h.set_time(Instant::from_secs(183));
    // Connect fails quietly: no RST for a connection that never was.
    h.expect_silence();
    assert_eq!(h.state(), Closed);
    assert_eq!(h.socket.error(), Some(TcpError::TimedOut));
    h.expect_trace(&[
        (Closed, SynSent, Cause::Connect),
        (SynSent, Closed, Cause::RetransmissionTimeout),
    ]);
}

#[test]
fn syn_ack_retransmissions_give_up_back_to_listen() {
    let mut h = Harness::new(
        65536,
        65536,
        TcpConfig {
            syn_rcvd_timeout: secs(1000),
            ..plain_config()
        },
    );
    h.socket.listen(LOCAL.port).unwrap();
    h.socket.set_next_isn(SeqNumber(ISS));
    h.recv(seg(SYN, IRS, None, b""));
    h.dispatch().unwrap();
    h.transitions();
    for at in [1, 3, 7, 15, 31] {
        h.set_time(Instant::from_secs(at));
        h.dispatch().unwrap().is(SYN | ACK, ISS, Some(IRS + 1), 0);
    }
    assert_eq!(h.poll_at(), PollAt::Time(Instant::from_secs(63)));
    h.set_time(Instant::from_secs(63));
    h.expect_silence();
    assert_eq!(h.state(), Listen);
    h.expect_trace(&[(SynRcvd, Listen, Cause::RetransmissionTimeout)]);
}

#[test]
fn syn_rcvd_timeout_drops_the_half_open_connection() {
    let mut h = Harness::new(65536, 65536, plain_config());
    h.socket.listen(LOCAL.port).unwrap();
    h.socket.set_next_isn(SeqNumber(ISS));
    h.recv(seg(SYN, IRS, None, b""));
    h.dispatch().unwrap();
    h.transitions();
    for at in [1, 3, 7, 15] {
        h.set_time(Instant::from_secs(at));
        h.dispatch().unwrap().is(SYN | ACK, ISS, Some(IRS + 1), 0);
    }
    // Next retransmission would be at 31 s; the 20 s timeout comes first.
    assert_eq!(h.poll_at(), PollAt::Time(Instant::from_secs(20)));
    h.set_time(Instant::from_secs(20) - ms(1));
    h.expect_silence();
    assert_eq!(h.state(), SynRcvd);
    h.set_time(Instant::from_secs(20));
    h.expect_silence();
    assert_eq!(h.state(), Listen);
    h.expect_trace(&[(SynRcvd, Listen, Cause::SynRcvdTimeout)]);
    assert_eq!(h.poll_at(), PollAt::Ingress);
}

#[test]
fn handshake_across_the_sequence_wrap() {
    let mut h = Harness::new(65536, 65536, plain_config());
    h.establish_active(u32::MAX, u32::MAX - 1);
    assert_eq!(h.socket.send_slice(b"hello"), Ok(5));
    h.dispatch().unwrap().is(ACK | PSH, 0, Some(u32::MAX), 5);
    assert_eq!(h.recv(seg(ACK, u32::MAX, Some(5), b"hi")), None);
    assert_eq!(h.socket.send_queue(), 0);
    assert_eq!(h.socket.recv_queue(), 2);

    let mut h = Harness::new(65536, 65536, plain_config());
    h.establish_passive(u32::MAX, u32::MAX);
    assert_eq!(h.state(), Established);
}

#[test]
fn may_send_waits_for_the_handshake_and_send_queues_early_data() {
    let mut h = Harness::new(65536, 65536, plain_config());
    h.connect(ISS);
    // smoltcp's predicates: nothing may be sent before ESTABLISHED...
    assert!(!h.socket.may_send() && !h.socket.can_send());
    // ...but `send` queues data for after the handshake (RFC 9293 3.10.2).
    assert_eq!(h.socket.send_slice(b"early"), Ok(5));
    h.expect_silence();
    let ack = h.recv(seg(SYN | ACK, IRS, Some(ISS + 1), b"")).unwrap();
    ack.is(ACK, ISS + 1, Some(IRS + 1), 0);
    assert!(h.socket.may_send() && h.socket.can_send());
    let data = h.dispatch().unwrap();
    data.is(PSH | ACK, ISS + 1, Some(IRS + 1), 5);
    assert_eq!(data.payload, b"early");
    h.expect_silence();
}

#[test]
fn send_then_close_in_syn_sent_sends_data_and_fin_after_the_handshake() {
    let mut h = Harness::new(65536, 65536, plain_config());
    h.connect(ISS);
    h.socket.send_slice(b"request").unwrap();
    h.socket.close();
    // Still connecting; the close waits for the data to go out.
    assert_eq!(h.state(), SynSent);
    assert_eq!(h.socket.send_slice(b"more"), Err(SendError::InvalidState));
    h.expect_trace(&[(Closed, SynSent, Cause::Connect)]);
    // The SYN is retransmitted alone, without a FIN.
    h.advance(secs(1));
    h.dispatch().unwrap().is(SYN, ISS, None, 0);
    h.expect_silence();
    h.recv(seg(SYN | ACK, IRS, Some(ISS + 1), b""))
        .unwrap()
        .is(ACK, ISS + 1, Some(IRS + 1), 0);
    assert_eq!(h.state(), FinWait1);
    h.expect_trace(&[
        (SynSent, Established, Cause::RcvSynAck),
        (Established, FinWait1, Cause::Close),
    ]);
    let data = h.dispatch().unwrap();
    data.is(FIN | PSH | ACK, ISS + 1, Some(IRS + 1), 7);
    assert_eq!(data.payload, b"request");
    h.expect_silence();
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(ISS + 9), b"")), None);
    assert_eq!(h.state(), FinWait2);
}

#[test]
fn close_in_syn_sent_without_data_still_closes_at_once() {
    let mut h = Harness::new(65536, 65536, plain_config());
    h.connect(ISS);
    h.socket.close();
    assert_eq!(h.state(), Closed);
    h.expect_trace(&[
        (Closed, SynSent, Cause::Connect),
        (SynSent, Closed, Cause::Close),
    ]);
    h.expect_silence();
}

#[test]
fn shutdown_in_syn_sent_with_data_waits_through_a_simultaneous_open() {
    let mut h = Harness::new(65536, 65536, plain_config());
    h.connect(ISS);
    h.socket.send_slice(b"hi").unwrap();
    h.socket.shutdown();
    assert_eq!(h.state(), SynSent);
    // The peer's SYN crosses ours: SYN_RCVD, where the shutdown takes
    // effect as it would have there.
    assert_eq!(h.recv(seg(SYN, IRS, None, b"")), None);
    assert_eq!(h.state(), SynRcvd);
    h.dispatch().unwrap().is(SYN | ACK, ISS, Some(IRS + 1), 0);
    // No data before our SYN is acknowledged.
    h.expect_silence();
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(ISS + 1), b"")), None);
    assert_eq!(h.state(), FinWait1);
    h.expect_trace(&[
        (Closed, SynSent, Cause::Connect),
        (SynSent, SynRcvd, Cause::RcvSyn),
        (SynRcvd, Established, Cause::RcvAck),
        (Established, FinWait1, Cause::Shutdown),
    ]);
    let data = h.dispatch().unwrap();
    data.is(FIN | PSH | ACK, ISS + 1, Some(IRS + 1), 2);
    assert_eq!(data.payload, b"hi");
}
