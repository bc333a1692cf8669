//! What blind attackers and lingering peers can do to one connection:
//! TS.Recent poisoning (RFC 7323 4.3), FIN_WAIT_2's hard bound, ACK rate
//! limits (RFC 5961 section 7), and corner cases of SYN_RCVD, SYN+FIN and
//! the SYN retransmission budget (RFC 1122 4.2.3.5).

use super::*;
use State::*;

fn ts(mut repr: TcpRepr<'static>, tsval: u32, tsecr: u32) -> TcpRepr<'static> {
    repr.timestamp = Some(TcpTimestamp { tsval, tsecr });
    repr
}

/// ESTABLISHED with timestamps; the peer's clock is at 1000. Returns the
/// harness and our clock's value at the handshake.
fn established_with_timestamps() -> (Harness, u32) {
    let config = TcpConfig {
        window_scaling: false,
        ..TcpConfig::default()
    };
    let mut h = Harness::new(65536, 65536, config);
    let clock = h.connect(ISS).timestamp.unwrap().tsval;
    h.recv(ts(seg(SYN | ACK, IRS, Some(ISS + 1), b""), 1000, clock))
        .unwrap();
    assert_eq!(h.state(), Established);
    h.transitions();
    (h, clock)
}

#[test]
fn forged_segments_with_a_huge_tsval_do_not_poison_ts_recent() {
    let (mut h, clock) = established_with_timestamps();
    let huge = 1000u32.wrapping_add(0x7000_0000);
    // In-window sequence numbers, a huge TSval, and something a blind
    // attacker cannot get right: an ACK beyond anything we sent, a RST
    // away from RCV.NXT, a SYN.
    let bad_ack = ts(seg(ACK, IRS + 1, Some(ISS + 50_000), b"x"), huge, 0);
    let challenge = h.recv(bad_ack).expect("challenge ACK");
    challenge.is(ACK, ISS + 1, Some(IRS + 1), 0);
    assert_eq!(challenge.timestamp.unwrap().tsecr, 1000);
    let rst = ts(seg(RST, IRS + 100, None, b""), huge, 0);
    h.recv(rst).expect("challenge ACK for the RST");
    let syn = ts(seg(SYN, IRS + 200, None, b""), huge, 0);
    h.recv(syn).expect("challenge ACK for the SYN");
    assert_eq!(h.state(), Established);
    assert_eq!(h.socket.recv_queue(), 0);

    // The genuine peer, its clock a little on: not dropped by PAWS.
    let genuine = ts(
        seg(ACK | PSH, IRS + 1, Some(ISS + 1), b"hello"),
        1010,
        clock,
    );
    h.recv(genuine);
    assert_eq!(h.socket.recv_queue(), 5);
    h.advance(ms(200));
    let ack = h.dispatch().expect("delayed ACK");
    ack.is(ACK, ISS + 1, Some(IRS + 6), 0);
    assert_eq!(ack.timestamp.unwrap().tsecr, 1010);
}

#[test]
fn an_old_but_acceptable_ack_with_data_updates_ts_recent() {
    let (mut h, clock) = established_with_timestamps();
    h.socket.set_nagle_enabled(false);
    h.socket.send_slice(b"abcd").unwrap();
    h.dispatch()
        .unwrap()
        .is(ACK | PSH, ISS + 1, Some(IRS + 1), 4);
    h.recv(ts(seg(ACK, IRS + 1, Some(ISS + 5), b""), 1001, clock));
    // SEG.ACK = ISS + 1 is below SND.UNA but within MAX.SND.WND: acceptable.
    let old = ts(seg(ACK | PSH, IRS + 1, Some(ISS + 1), b"data"), 1500, clock);
    h.recv(old);
    assert_eq!(h.socket.recv_queue(), 4);
    h.advance(ms(200));
    assert_eq!(h.dispatch().unwrap().timestamp.unwrap().tsecr, 1500);
}

#[test]
fn fin_wait_2_ends_at_its_hard_bound_whatever_the_peer_sends() {
    let config = TcpConfig {
        fin_wait_2_timeout: secs(60),
        ..plain_config()
    };
    let mut h = Harness::new(65536, 65536, config);
    h.establish_active(ISS, IRS);
    assert_eq!(h.socket.config().fin_wait_2_limit, secs(120));
    h.socket.close();
    h.dispatch()
        .unwrap()
        .is(FIN | ACK, ISS + 1, Some(IRS + 1), 0);
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(ISS + 2), b"")), None);
    assert_eq!(h.state(), FinWait2);
    let entered = h.now();
    // One ACK every 25 s keeps restarting the idle timeout...
    for _ in 0..4 {
        h.advance(secs(25));
        h.expect_silence();
        assert_eq!(h.recv(seg(ACK, IRS + 1, Some(ISS + 2), b"")), None);
        assert_eq!(h.state(), FinWait2);
    }
    // ...but at 100 s the next idle deadline (160 s) is past the bound:
    // the connection ends at 120 s after FIN_WAIT_2 began.
    assert_eq!(h.poll_at(), PollAt::Time(entered + secs(120)));
    h.set_time(entered + secs(120) - Duration::from_micros(1));
    h.expect_silence();
    assert_eq!(h.state(), FinWait2);
    h.set_time(entered + secs(120));
    h.expect_silence();
    assert_eq!(h.state(), Closed);
    h.expect_trace(&[
        (Established, FinWait1, Cause::Close),
        (FinWait1, FinWait2, Cause::RcvAckOfFin),
        (FinWait2, Closed, Cause::FinWait2Timeout),
    ]);
}

#[test]
fn challenge_acks_are_limited_per_socket_by_default() {
    let mut h = established();
    assert_eq!(h.socket.config().challenge_ack_limit, 10);
    let mut answered = 0;
    for i in 0..50 {
        if h.recv(seg(RST, IRS + 10 + i, None, b"")).is_some() {
            answered += 1;
        }
    }
    assert_eq!(answered, 10);
    assert_eq!(h.stats().challenge_acks, 10);
    // A second later the budget is back.
    h.advance(secs(1));
    assert!(h.recv(seg(RST, IRS + 10, None, b"")).is_some());
    assert_eq!(h.state(), Established);
}

#[test]
fn acks_to_unacceptable_dataless_segments_are_rate_limited() {
    let mut h = established();
    assert_eq!(h.socket.config().invalid_ack_interval, ms(500));
    // Pure ACKs far outside the window (an ACK loop or a reflection):
    // one answer per 500 ms.
    let far = IRS + 1_000_000;
    h.recv(seg(ACK, far, Some(ISS + 1), b""))
        .expect("first answer")
        .is(ACK, ISS + 1, Some(IRS + 1), 0);
    for _ in 0..20 {
        assert_eq!(h.recv(seg(ACK, far, Some(ISS + 1), b"")), None);
    }
    h.advance(ms(499));
    assert_eq!(h.recv(seg(ACK, far, Some(ISS + 1), b"")), None);
    h.advance(ms(1));
    assert!(h.recv(seg(ACK, far, Some(ISS + 1), b"")).is_some());
    // Segments carrying data are not part of an ACK loop: a duplicate of
    // old data is always answered, so the peer learns what we hold.
    for _ in 0..5 {
        h.recv(seg(ACK, IRS - 10, Some(ISS + 1), b"old"))
            .expect("ACK for old data")
            .is(ACK, ISS + 1, Some(IRS + 1), 0);
    }
}

#[test]
fn paws_failures_are_answered_at_the_invalid_ack_rate() {
    let (mut h, clock) = established_with_timestamps();
    let stale = || ts(seg(ACK, IRS + 1, Some(ISS + 1), b""), 999, clock);
    assert!(h.recv(stale()).is_some());
    assert_eq!(h.recv(stale()), None);
    h.advance(ms(500));
    assert!(h.recv(stale()).is_some());
    // Data that fails PAWS is still answered every time.
    let old_data = || ts(seg(ACK, IRS + 1, Some(ISS + 1), b"d"), 999, clock);
    assert!(h.recv(old_data()).is_some());
    assert!(h.recv(old_data()).is_some());
    assert_eq!(h.socket.recv_queue(), 0);
}

#[test]
fn shutdown_in_syn_rcvd_does_not_leave_the_syn_rcvd_timer_running() {
    let mut h = Harness::new(65536, 65536, plain_config());
    h.socket.listen(LOCAL.port).unwrap();
    h.socket.set_next_isn(SeqNumber(ISS));
    assert_eq!(h.recv(with_mss(seg(SYN, IRS, None, b""), 1460)), None);
    h.dispatch().unwrap().is(SYN | ACK, ISS, Some(IRS + 1), 0);
    // Nothing queued: the FIN may follow the SYN-ACK (RFC 9293 3.10.4).
    h.socket.shutdown();
    assert_eq!(h.state(), FinWait1);
    h.dispatch()
        .unwrap()
        .is(FIN | ACK, ISS + 1, Some(IRS + 1), 0);
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(ISS + 2), b"")), None);
    assert_eq!(h.state(), FinWait2);
    // 20 s after the SYN (the SYN_RCVD timeout) nothing happens: a
    // half-closed connection keeps waiting for the peer's FIN.
    h.advance(secs(25));
    h.expect_silence();
    assert_eq!(h.state(), FinWait2);
    assert_eq!(
        h.recv(seg(ACK | PSH, IRS + 1, Some(ISS + 2), b"late")),
        None
    );
    assert_eq!(h.socket.recv_queue(), 4);
    h.expect_trace(&[
        (Closed, Listen, Cause::Listen),
        (Listen, SynRcvd, Cause::RcvSyn),
        (SynRcvd, FinWait1, Cause::Shutdown),
        (FinWait1, FinWait2, Cause::RcvAckOfFin),
    ]);
}

#[test]
fn drop_syn_fin_applies_only_where_a_connection_would_open() {
    let config = TcpConfig {
        drop_syn_fin: true,
        ..plain_config()
    };
    // LISTEN: a SYN+FIN is dropped, no SYN_RCVD.
    let mut h = Harness::new(65536, 65536, config);
    h.socket.listen(LOCAL.port).unwrap();
    assert_eq!(h.recv(seg(SYN | FIN, IRS, None, b"")), None);
    assert_eq!(h.state(), Listen);
    h.expect_silence();

    // TIME_WAIT: answered as in any synchronized state (a challenge ACK).
    let mut h = Harness::new(65536, 65536, config);
    h.establish_active(ISS, IRS);
    h.socket.close();
    h.dispatch()
        .unwrap()
        .is(FIN | ACK, ISS + 1, Some(IRS + 1), 0);
    h.recv(seg(FIN | ACK, IRS + 1, Some(ISS + 2), b"")).unwrap();
    assert_eq!(h.state(), TimeWait);
    h.recv(seg(SYN | FIN, IRS + 100, None, b""))
        .expect("challenge ACK")
        .is(ACK, ISS + 2, Some(IRS + 2), 0);
    assert_eq!(h.state(), TimeWait);
}

#[test]
fn insecure_syn_fin_outside_the_window_draws_an_ack_like_a_syn() {
    let config = TcpConfig {
        insecure_syn: true,
        ..plain_config()
    };
    let mut h = Harness::new(65536, 65536, config);
    h.establish_active(ISS, IRS);
    let outside = IRS + 1 + 70_000;
    h.recv(seg(SYN, outside, None, b""))
        .expect("ACK for a SYN outside the window")
        .is(ACK, ISS + 1, Some(IRS + 1), 0);
    // (Past the invalid-ACK interval, so the answer is not rate-limited.)
    h.advance(secs(1));
    h.recv(seg(SYN | FIN, outside, None, b""))
        .expect("ACK for a SYN+FIN outside the window")
        .is(ACK, ISS + 1, Some(IRS + 1), 0);
    assert_eq!(h.state(), Established);
    assert_eq!(h.socket.error(), None);
    // Just left of RCV.NXT, where the FIN of a SYN+FIN would land at
    // RCV.NXT: the SYN is old, so the segment is too.
    for flags in [SYN, SYN | FIN, SYN | FIN | ACK] {
        h.advance(secs(1));
        let ack = (flags.contains(ACK)).then_some(ISS + 1);
        h.recv(seg(flags, IRS, ack, b""))
            .expect("ACK for an old SYN")
            .is(ACK, ISS + 1, Some(IRS + 1), 0);
        assert_eq!(h.state(), Established);
    }

    // The same in TIME_WAIT, where the sequence check also comes first.
    h.socket.close();
    h.dispatch()
        .unwrap()
        .is(FIN | ACK, ISS + 1, Some(IRS + 1), 0);
    h.recv(seg(FIN | ACK, IRS + 1, Some(ISS + 2), b"")).unwrap();
    assert_eq!(h.state(), TimeWait);
    for (flags, seq) in [(SYN, outside), (SYN | FIN, outside), (SYN | FIN, IRS + 1)] {
        h.advance(secs(1));
        h.recv(seg(flags, seq, None, b""))
            .expect("ACK in TIME_WAIT")
            .is(ACK, ISS + 2, Some(IRS + 2), 0);
        assert_eq!(h.state(), TimeWait);
    }
}

#[test]
fn idle_restart_is_keyed_to_data_sent_not_to_pure_acks() {
    let mut h = established();
    h.socket.set_nagle_enabled(false);
    // Grow cwnd beyond the initial window: fill it, then ACK it (a window
    // the sender does not use does not grow).
    let iw = h.socket.congestion_window();
    let mut seq = ISS + 1;
    h.socket.send_slice(bytes(iw)).unwrap();
    assert!(!h.dispatch_all().is_empty());
    seq += u32::try_from(iw).unwrap();
    h.recv(seg(ACK, IRS + 1, Some(seq), b""));
    let grown = h.socket.congestion_window();
    assert!(grown > iw);
    // Idle for 10 s as a sender, but receiving data and ACKing it.
    let mut rcv = IRS + 1;
    for _ in 0..10 {
        h.advance(secs(1));
        h.recv(seg(ACK | PSH, rcv, Some(seq), b"ping"));
        rcv += 4;
        h.advance(ms(200));
        h.dispatch().unwrap().is(ACK, seq, Some(rcv), 0);
    }
    // Our pure ACKs are not data: the restart window applies (RFC 5681 4.1).
    h.socket.send_slice(bytes(100)).unwrap();
    h.dispatch().unwrap().is(ACK | PSH, seq, Some(rcv), 100);
    assert_eq!(h.socket.congestion_window(), iw.min(grown));
}
