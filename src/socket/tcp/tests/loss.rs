//! Regressions found by the fault-injection soak in
//! `tests/loopback_stack.rs`: each test replays, with exact segments on the
//! virtual clock, the pattern of lost, duplicated or reordered segments
//! that broke a connection there.

use super::*;
use State::*;

/// Sends `len` bytes and returns the segments dispatched at once.
fn send(h: &mut Harness, len: usize) -> Vec<Sent> {
    assert_eq!(h.socket.send_slice(bytes(len)), Ok(len));
    h.dispatch_all()
}

/// After a timeout SND.NXT goes back to SND.UNA (go-back-N), but a segment
/// without data must still carry the highest sequence number sent: the peer
/// may have received everything, so its RCV.NXT is our SND.MAX, and an ACK
/// below it is unacceptable (RFC 9293 3.10.7.4, first step) and dropped
/// unread. When both sides had rewound, each side's ACKs were dropped by
/// the other, neither learnt that its data had arrived, and both gave up.
#[test]
fn a_pure_ack_after_a_timeout_carries_snd_max() {
    let mut h = established();
    let sent = send(&mut h, 2920);
    assert_eq!(sent.len(), 2);
    sent[1].is(ACK | PSH, ISS + 1461, Some(IRS + 1), 1460);
    // The peer's ACK of all of it is lost: the RTO marks both segments
    // lost and resends one (cwnd is one segment now); the other waits.
    h.set_time(Instant::from_secs(1));
    h.dispatch().unwrap().is(ACK, ISS + 1, Some(IRS + 1), 1460);
    h.expect_silence();
    assert_eq!(h.socket.snd_nxt(), SeqNumber(ISS + 2921));
    // Data from the peer, sent before our data reached it, is delayed-ACKed
    // at SND.MAX.
    assert_eq!(
        h.recv(seg(ACK | PSH, IRS + 1, Some(ISS + 1), b"hello")),
        None
    );
    h.advance(ms(100));
    h.dispatch().unwrap().is(ACK, ISS + 2921, Some(IRS + 6), 0);
    // An old duplicate gets an immediate ACK, also at SND.MAX.
    h.recv(seg(ACK, IRS + 1, Some(ISS + 1), b""))
        .unwrap()
        .is(ACK, ISS + 2921, Some(IRS + 6), 0);
    assert_eq!(h.state(), Established);
}

/// The window-edge bound of a dataless segment's sequence number: a peer
/// that has closed its window accepts nothing but SEQ = RCV.NXT, so an ACK
/// (or RST) never goes past SND.UNA + SND.WND.
#[test]
fn a_pure_ack_stays_inside_a_closed_peer_window() {
    let mut h = established();
    assert_eq!(send(&mut h, 100).len(), 1);
    // The peer takes nothing and closes its window.
    let mut closed = seg(ACK, IRS + 1, Some(ISS + 1), b"");
    closed.window_len = 0;
    assert_eq!(h.recv(closed), None);
    h.recv(seg(ACK, IRS, Some(ISS + 1), b""))
        .unwrap()
        .is(ACK, ISS + 1, Some(IRS + 1), 0);
}

/// A SYN that arrives again in SYN_RCVD (our SYN-ACK or the peer's earlier
/// SYN was lost) starts at IRS, before Last.ACK.sent, so its newer TSval
/// becomes TS.Recent (RFC 7323 4.3) and the resent SYN-ACK echoes it. The
/// soak's client had sent its first SYN 1 to 3 s before the one that got
/// through; echoing that first TSval gave it an RTT sample of seconds on a
/// 4 ms link, an RTO of 3 to 9 s, and long stalls after every loss.
#[test]
fn a_retransmitted_syn_updates_ts_recent_in_syn_rcvd() {
    let mut h = Harness::new(65536, 65536, TcpConfig::default());
    h.socket.listen(LOCAL.port).unwrap();
    h.socket.set_next_isn(SeqNumber(ISS));
    let mut syn = with_mss(seg(SYN, IRS, None, b""), 1460);
    syn.timestamp = Some(TcpTimestamp {
        tsval: 100,
        tsecr: 0,
    });
    assert_eq!(h.recv(syn), None);
    let first = h.dispatch().unwrap();
    first.is(SYN | ACK, ISS, Some(IRS + 1), 0);
    assert_eq!(first.timestamp.unwrap().tsecr, 100);
    // The SYN-ACK is lost; the peer's SYN timer fires a second later.
    h.advance(ms(999));
    syn.timestamp = Some(TcpTimestamp {
        tsval: 1100,
        tsecr: 0,
    });
    assert_eq!(h.recv(syn), None);
    let again = h.dispatch().unwrap();
    again.is(SYN | ACK, ISS, Some(IRS + 1), 0);
    assert_eq!(again.timestamp.unwrap().tsecr, 1100);
    // The first SYN again (reordered): PAWS drops it with an ACK, and
    // TS.Recent does not move back.
    syn.timestamp = Some(TcpTimestamp {
        tsval: 100,
        tsecr: 0,
    });
    let ack = h.recv(syn).unwrap();
    ack.is(ACK, ISS + 1, Some(IRS + 1), 0);
    assert_eq!(ack.timestamp.unwrap().tsecr, 1100);
    h.expect_silence();
    assert_eq!(h.state(), SynRcvd);
}

/// A SYN-ACK that answers a retransmitted SYN gives no RTT sample, even
/// with timestamps: in the soak the peer's SYN-ACK, resent on its own
/// timer, echoed our first SYN's TSval from 3 s earlier, and that single
/// sample set the RTO to 9 s on a 4 ms link. RFC 6298 5.7 then starts data
/// transmission with an RTO of 3 s, and the first real sample replaces it.
#[test]
fn no_rtt_sample_from_a_handshake_with_a_retransmitted_syn() {
    let config = TcpConfig {
        min_rto: ms(200),
        ..TcpConfig::default()
    };
    let mut h = Harness::new(65536, 65536, config);
    let first_tsval = h.connect(ISS).timestamp.unwrap().tsval;
    h.set_time(Instant::from_secs(1));
    let again = h.dispatch().unwrap();
    again.is(SYN, ISS, None, 0);
    assert_eq!(again.timestamp.unwrap().tsval, first_tsval + 1000);
    // The peer answers the first SYN, 3 s after it was sent.
    h.set_time(Instant::from_secs(3));
    let mut syn_ack = with_mss(seg(SYN | ACK, IRS, Some(ISS + 1), b""), 1460);
    syn_ack.timestamp = Some(TcpTimestamp {
        tsval: 500,
        tsecr: first_tsval,
    });
    h.recv(syn_ack).unwrap().is(ACK, ISS + 1, Some(IRS + 1), 0);
    assert_eq!(h.state(), Established);
    assert_eq!(h.socket.rto(), secs(3));
    // Data: its ACK 4 ms later is the first sample (4 ms, RTO at the
    // 200 ms floor).
    assert_eq!(h.socket.send_slice(b"data"), Ok(4));
    let data = h.dispatch().unwrap();
    data.is(ACK | PSH, ISS + 1, Some(IRS + 1), 4);
    h.advance(ms(4));
    let mut ack = seg(ACK, IRS + 1, Some(ISS + 5), b"");
    ack.timestamp = Some(TcpTimestamp {
        tsval: 504,
        tsecr: data.timestamp.unwrap().tsval,
    });
    assert_eq!(h.recv(ack), None);
    assert_eq!(h.socket.rto(), ms(200));
}

/// Without a retransmission the handshake's echoed timestamp is a sample.
#[test]
fn the_handshake_gives_an_rtt_sample_when_the_syn_went_once() {
    let config = TcpConfig {
        min_rto: ms(10),
        ..TcpConfig::default()
    };
    let mut h = Harness::new(65536, 65536, config);
    let tsval = h.connect(ISS).timestamp.unwrap().tsval;
    h.set_time(Instant::ZERO + ms(40));
    let mut syn_ack = with_mss(seg(SYN | ACK, IRS, Some(ISS + 1), b""), 1460);
    syn_ack.timestamp = Some(TcpTimestamp {
        tsval: 500,
        tsecr: tsval,
    });
    h.recv(syn_ack).unwrap();
    // SRTT 40 ms, RTTVAR 20 ms: RTO = 40 + 4 * 20.
    assert_eq!(h.socket.rto(), ms(120));
}

/// A pure ACK exactly at the right edge of our window (SEQ = RCV.NXT +
/// RCV.WND) is accepted, as BSD and Linux accept it. The peer has a full
/// window of data in flight, all of it lost, so its ACKs carry SEQ =
/// SND.NXT = our right edge. In the soak both sides were in that state and
/// each one's retransmissions were data the other already had: every ACK
/// was dropped as out of window and answered by another ACK, and both
/// sides timed out.
#[test]
fn a_pure_ack_at_the_right_window_edge_is_processed() {
    let mut h = Harness::new(1000, 65536, plain_config());
    h.establish_active(ISS, IRS);
    assert_eq!(send(&mut h, 100).len(), 1);
    // Our window is 1000 bytes: the peer's 1000 bytes at IRS + 1 are lost,
    // and its ACK of our data comes from SND.NXT = IRS + 1001.
    assert_eq!(h.recv(seg(ACK, IRS + 1001, Some(ISS + 101), b"")), None);
    assert_eq!(h.socket.send_queue(), 0);
    assert_eq!(h.poll_at(), PollAt::Ingress);
    // One byte further is still out of window: ACKed, not processed.
    assert_eq!(send(&mut h, 10).len(), 1);
    h.recv(seg(ACK, IRS + 1002, Some(ISS + 111), b""))
        .unwrap()
        .is(ACK, ISS + 111, Some(IRS + 1), 0);
    assert_eq!(h.socket.send_queue(), 10);
    // So is data at the edge (it cannot fit), and a RST there.
    h.recv(seg(ACK, IRS + 1001, Some(ISS + 111), b"x"))
        .unwrap()
        .is(ACK, ISS + 111, Some(IRS + 1), 0);
    assert_eq!(h.socket.send_queue(), 10);
    assert_eq!(h.recv(seg(RST, IRS + 1001, None, b"")), None);
    assert_eq!(h.state(), Established);
}

/// A pure ACK from beyond a hole (the peer's data ahead of it was lost) is
/// processed and not answered: it reports nothing, and answering it makes
/// an ACK loop when both sides have lost data in flight, since each side's
/// ACKs then sit ahead of the other's RCV.NXT. Out-of-order data still gets
/// an immediate ACK (RFC 5681 4.2).
#[test]
fn a_pure_ack_from_beyond_a_hole_is_not_answered() {
    let mut h = established();
    assert_eq!(send(&mut h, 100).len(), 1);
    assert_eq!(h.recv(seg(ACK, IRS + 501, Some(ISS + 51), b"")), None);
    assert_eq!(h.socket.send_queue(), 50);
    h.expect_silence();
    h.recv(seg(ACK, IRS + 501, Some(ISS + 101), b"late"))
        .unwrap()
        .is(ACK, ISS + 101, Some(IRS + 1), 0);
    assert_eq!(h.socket.send_queue(), 0);
}

/// An ACK whose echoed timestamp predates our last retransmission timeout
/// gives no RTT sample. The peer had the data; its ACK was lost; our
/// retransmission was a duplicate to it, and RFC 7323 (5.3 R2 before R3)
/// answers a duplicate with the old TS.Recent, so the "RTT" would span the
/// whole RTO. In the soak each such sample raised the next RTO, until it
/// sat at its 60 s cap on a 4 ms link and transfers took ten minutes.
#[test]
fn an_echo_from_before_a_timeout_is_not_an_rtt_sample() {
    let config = TcpConfig {
        min_rto: ms(200),
        ..TcpConfig::default()
    };
    let mut h = Harness::new(65536, 65536, config);
    let tsval = h.connect(ISS).timestamp.unwrap().tsval;
    h.set_time(Instant::ZERO + ms(4));
    let mut syn_ack = with_mss(seg(SYN | ACK, IRS, Some(ISS + 1), b""), 1460);
    syn_ack.timestamp = Some(TcpTimestamp {
        tsval: 500,
        tsecr: tsval,
    });
    h.recv(syn_ack).unwrap();
    // SRTT 4 ms, RTTVAR 2 ms: the 200 ms floor.
    assert_eq!(h.socket.rto(), ms(200));
    let ack = |ack: u32, tsecr: u32| {
        let mut repr = seg(ACK, IRS + 1, Some(ack), b"");
        repr.timestamp = Some(TcpTimestamp { tsval: 600, tsecr });
        repr
    };

    assert_eq!(h.socket.send_slice(b"data"), Ok(4));
    let original = h.dispatch().unwrap();
    original.is(ACK | PSH, ISS + 1, Some(IRS + 1), 4);
    // The peer's ACK is lost; the timer fires and the RTO doubles.
    h.set_time(Instant::ZERO + ms(204));
    let resent = h.dispatch().unwrap();
    resent.is(ACK | PSH, ISS + 1, Some(IRS + 1), 4);
    assert_eq!(h.socket.rto(), ms(400));
    // The peer answers the duplicate, echoing the original's TSval: no
    // sample, the backed-off RTO stays.
    h.set_time(Instant::ZERO + ms(208));
    let original_tsval = original.timestamp.unwrap().tsval;
    assert_eq!(h.recv(ack(ISS + 5, original_tsval)), None);
    assert_eq!(h.socket.send_queue(), 0);
    assert_eq!(h.socket.rto(), ms(400));
    // That echo also shows the timeout was spurious (RFC 3522 Eifel).
    assert_eq!(h.stats().spurious_undone, 1);
    // A segment sent after the timeout is echoed: a real sample again.
    assert_eq!(h.socket.send_slice(b"more"), Ok(4));
    let next = h.dispatch().unwrap();
    h.set_time(Instant::ZERO + ms(212));
    assert_eq!(h.recv(ack(ISS + 9, next.timestamp.unwrap().tsval)), None);
    assert_eq!(h.socket.rto(), ms(200));
}

/// LAST_ACK: the peer's TIME_WAIT ended before our FIN's retransmission
/// (its ACK of the FIN was lost, and our backed-off RTO outlasted 2*MSL),
/// so the FIN meets a RST. All our data was acknowledged and the peer's
/// FIN taken: RFC 9293 3.10.7.4 gives no reset signal in LAST-ACK, and the
/// connection ends as a close would. With data still unacknowledged it is a
/// reset: the peer may not have it.
#[test]
fn a_rst_in_last_ack_after_all_data_was_acked_is_a_normal_end() {
    let mut h = established();
    assert_eq!(send(&mut h, 10).len(), 1);
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(ISS + 11), b"")), None);
    h.recv(seg(FIN | ACK, IRS + 1, Some(ISS + 11), b"bye"))
        .unwrap()
        .is(ACK, ISS + 11, Some(IRS + 5), 0);
    h.socket.close();
    h.dispatch()
        .unwrap()
        .is(FIN | ACK, ISS + 11, Some(IRS + 5), 0);
    h.transitions();
    // The FIN is resent on timeouts; the peer is gone and answers with
    // <SEQ=SEG.ACK><CTL=RST>.
    h.set_time(Instant::from_secs(1));
    h.dispatch()
        .unwrap()
        .is(FIN | ACK, ISS + 11, Some(IRS + 5), 0);
    assert_eq!(h.recv(seg(RST, IRS + 5, None, b"")), None);
    assert_eq!(h.state(), Closed);
    assert_eq!(h.socket.error(), None);
    h.expect_trace(&[(LastAck, Closed, Cause::RcvRst)]);
    // The peer's data is still readable, then the end of the stream.
    let mut buf = [0; 8];
    assert_eq!(h.socket.recv_slice(&mut buf), Ok(3));
    assert_eq!(&buf[..3], b"bye");
    assert_eq!(
        h.socket.recv_slice(&mut buf),
        Err(crate::socket::tcp::RecvError::Finished)
    );
    h.expect_silence();

    // Data unacknowledged in LAST_ACK: a reset.
    let mut h = established();
    h.recv(seg(FIN | ACK, IRS + 1, Some(ISS + 1), b"")).unwrap();
    assert_eq!(h.socket.send_slice(b"late"), Ok(4));
    h.socket.close();
    h.dispatch()
        .unwrap()
        .is(FIN | ACK | PSH, ISS + 1, Some(IRS + 2), 4);
    assert_eq!(h.recv(seg(RST, IRS + 2, None, b"")), None);
    assert_eq!(h.state(), Closed);
    assert_eq!(h.socket.error(), Some(crate::socket::tcp::TcpError::Reset));
}
