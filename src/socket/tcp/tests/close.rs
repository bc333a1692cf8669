//! Closing: active, passive, simultaneous, FIN+ACK in FIN_WAIT_1,
//! TIME_WAIT (2*MSL, re-ACK and restart), the FIN_WAIT_2 timeout, abort.

use super::*;
use crate::socket::tcp::{RecvError, SendError};
use State::*;

#[test]
fn active_close() {
    let mut h = established();
    h.socket.close();
    assert_eq!(h.state(), FinWait1);
    assert!(!h.socket.may_send());
    assert_eq!(h.socket.send_slice(b"x"), Err(SendError::InvalidState));
    h.dispatch()
        .unwrap()
        .is(FIN | ACK, ISS + 1, Some(IRS + 1), 0);
    h.expect_silence();
    h.set_time(Instant::from_secs(5));
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(ISS + 2), b"")), None);
    assert_eq!(h.state(), FinWait2);
    // After a full close FIN_WAIT_2 times out 60 s after it began.
    assert_eq!(h.poll_at(), PollAt::Time(Instant::from_secs(65)));
    h.set_time(Instant::from_secs(10));
    let ack = h.recv(seg(FIN | ACK, IRS + 1, Some(ISS + 2), b"")).unwrap();
    ack.is(ACK, ISS + 2, Some(IRS + 2), 0);
    assert_eq!(h.state(), TimeWait);
    assert!(!h.socket.is_active());
    // TIME_WAIT lasts exactly 2*MSL = 120 s.
    assert_eq!(h.poll_at(), PollAt::Time(Instant::from_secs(130)));
    h.set_time(Instant::from_secs(130) - Duration::from_micros(1));
    h.expect_silence();
    assert_eq!(h.state(), TimeWait);
    h.set_time(Instant::from_secs(130));
    h.expect_silence();
    assert_eq!(h.state(), Closed);
    assert_eq!(h.socket.error(), None);
    h.expect_trace(&[
        (Established, FinWait1, Cause::Close),
        (FinWait1, FinWait2, Cause::RcvAckOfFin),
        (FinWait2, TimeWait, Cause::RcvFin),
        (TimeWait, Closed, Cause::TimeWaitTimeout),
    ]);
    assert_eq!(h.poll_at(), PollAt::Ingress);
}

#[test]
fn passive_close() {
    let mut h = established();
    let ack = h.recv(seg(FIN | ACK, IRS + 1, Some(ISS + 1), b"")).unwrap();
    ack.is(ACK, ISS + 1, Some(IRS + 2), 0);
    assert_eq!(h.state(), CloseWait);
    assert_eq!(h.socket.recv_slice(&mut [0; 4]), Err(RecvError::Finished));
    assert!(!h.socket.may_recv());
    assert!(h.socket.may_send());
    h.socket.send_slice(b"bye").unwrap();
    h.socket.close();
    assert_eq!(h.state(), LastAck);
    // The FIN rides on the last data.
    h.dispatch()
        .unwrap()
        .is(FIN | ACK | PSH, ISS + 1, Some(IRS + 2), 3);
    h.expect_silence();
    assert_eq!(h.recv(seg(ACK, IRS + 2, Some(ISS + 4), b"")), None);
    assert_eq!(h.state(), LastAck);
    assert_eq!(h.recv(seg(ACK, IRS + 2, Some(ISS + 5), b"")), None);
    assert_eq!(h.state(), Closed);
    assert_eq!(h.socket.error(), None);
    h.expect_trace(&[
        (Established, CloseWait, Cause::RcvFin),
        (CloseWait, LastAck, Cause::Close),
        (LastAck, Closed, Cause::RcvAckOfFin),
    ]);
    h.expect_silence();
    assert_eq!(h.poll_at(), PollAt::Ingress);
}

#[test]
fn simultaneous_close() {
    let mut h = in_state(FinWait1, true);
    // The peer's FIN does not acknowledge ours: CLOSING.
    let ack = h.recv(seg(FIN | ACK, IRS + 1, Some(ISS + 1), b"")).unwrap();
    ack.is(ACK, ISS + 2, Some(IRS + 2), 0);
    assert_eq!(h.state(), Closing);
    assert_eq!(h.recv(seg(ACK, IRS + 2, Some(ISS + 2), b"")), None);
    assert_eq!(h.state(), TimeWait);
    h.expect_trace(&[
        (FinWait1, Closing, Cause::RcvFin),
        (Closing, TimeWait, Cause::RcvAckOfFin),
    ]);
    assert_eq!(h.poll_at(), PollAt::Time(Instant::ZERO + secs(120)));
}

#[test]
fn fin_ack_in_fin_wait_1_goes_straight_to_time_wait() {
    let mut h = in_state(FinWait1, true);
    let ack = h.recv(seg(FIN | ACK, IRS + 1, Some(ISS + 2), b"")).unwrap();
    ack.is(ACK, ISS + 2, Some(IRS + 2), 0);
    assert_eq!(h.state(), TimeWait);
    h.expect_trace(&[(FinWait1, TimeWait, Cause::RcvFinAck)]);
}

#[test]
fn closing_retransmits_its_fin_until_acknowledged() {
    let mut h = in_state(Closing, true);
    // The FIN went out at t=0 with RTO 1 s.
    assert_eq!(h.poll_at(), PollAt::Time(Instant::ZERO + secs(1)));
    h.set_time(Instant::ZERO + secs(1));
    h.dispatch()
        .unwrap()
        .is(FIN | ACK, ISS + 1, Some(IRS + 2), 0);
    assert_eq!(h.recv(seg(ACK, IRS + 2, Some(ISS + 2), b"")), None);
    assert_eq!(h.state(), TimeWait);
}

#[test]
fn time_wait_reacks_a_retransmitted_fin_and_restarts_2msl() {
    let mut h = in_state(TimeWait, true);
    assert_eq!(h.poll_at(), PollAt::Time(Instant::ZERO + secs(120)));
    h.set_time(Instant::from_secs(100));
    // The peer did not get our ACK and resends its FIN (SEQ = IRS+1).
    let ack = h.recv(seg(FIN | ACK, IRS + 1, Some(ISS + 2), b"")).unwrap();
    ack.is(ACK, ISS + 2, Some(IRS + 2), 0);
    assert_eq!(h.state(), TimeWait);
    assert_eq!(h.poll_at(), PollAt::Time(Instant::from_secs(220)));
    h.set_time(Instant::from_secs(219));
    h.expect_silence();
    assert_eq!(h.state(), TimeWait);
    h.set_time(Instant::from_secs(220));
    h.expect_silence();
    assert_eq!(h.state(), Closed);
    h.expect_trace(&[(TimeWait, Closed, Cause::TimeWaitTimeout)]);
}

#[test]
fn time_wait_answers_segments_like_freebsd_state_event_scripts() {
    let mut h = in_state(TimeWait, false);
    // The in-sequence duplicate ACK: nothing.
    assert_eq!(h.recv(seg(ACK, IRS + 2, Some(ISS + 2), b"")), None);
    // Old (left of the window), right of RCV.NXT inside the window, and
    // beyond it: an ACK each (one per `invalid_ack_interval`).
    for seq in [IRS + 1, IRS + 3, IRS + 2 + 65535, IRS + 2 + 70000] {
        h.advance(ms(500));
        h.recv(seg(ACK, seq, Some(ISS + 2), b""))
            .unwrap()
            .is(ACK, ISS + 2, Some(IRS + 2), 0);
    }
    // A FIN at RCV.NXT (in the window) is ACKed and restarts 2*MSL.
    h.set_time(Instant::from_secs(50));
    h.recv(seg(FIN | ACK, IRS + 2, Some(ISS + 2), b""))
        .unwrap()
        .is(ACK, ISS + 2, Some(IRS + 2), 0);
    assert_eq!(h.poll_at(), PollAt::Time(Instant::from_secs(170)));
    // Segments without ACK are dropped before the sequence check.
    assert_eq!(h.recv(seg(FIN, IRS + 1, None, b"")), None);
    assert_eq!(h.recv(seg(FIN, IRS + 2 + 65536, None, b"")), None);
    assert_eq!(h.state(), TimeWait);
    h.expect_trace(&[]);
}

#[test]
fn fin_wait_2_times_out_after_a_full_close() {
    let mut h = in_state(FinWait2, true);
    assert_eq!(h.poll_at(), PollAt::Time(Instant::ZERO + secs(60)));
    h.set_time(Instant::from_secs(60) - ms(1));
    h.expect_silence();
    assert_eq!(h.state(), FinWait2);
    h.set_time(Instant::from_secs(60));
    // The connection is dropped without a RST.
    h.expect_silence();
    assert_eq!(h.state(), Closed);
    assert_eq!(h.socket.error(), None);
    h.expect_trace(&[(FinWait2, Closed, Cause::FinWait2Timeout)]);
}

#[test]
fn fin_wait_2_timeout_restarts_on_each_segment_from_the_peer() {
    let mut h = in_state(FinWait2, true);
    assert_eq!(h.poll_at(), PollAt::Time(Instant::ZERO + secs(60)));
    // An ACK at 50 s (a keep-alive, a window update): the peer is alive,
    // so the idle timeout starts again (as lwIP's does).
    h.set_time(Instant::from_secs(50));
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(ISS + 2), b"")), None);
    assert_eq!(h.poll_at(), PollAt::Time(Instant::from_secs(110)));
    h.set_time(Instant::from_secs(110) - ms(1));
    h.expect_silence();
    assert_eq!(h.state(), FinWait2);
    h.set_time(Instant::from_secs(110));
    h.expect_silence();
    assert_eq!(h.state(), Closed);
    h.expect_trace(&[(FinWait2, Closed, Cause::FinWait2Timeout)]);
}

#[test]
fn data_after_a_full_close_resets_the_connection() {
    for state in [FinWait1, FinWait2] {
        let mut h = in_state(state, true);
        let before = h.socket.state();
        // New data nobody will read (RFC 1122 section 4.2.2.13).
        assert_eq!(
            h.recv(seg(ACK | PSH, IRS + 1, Some(ISS + 1), b"late")),
            None
        );
        assert_eq!(h.state(), Closed);
        let rst = h.dispatch().unwrap();
        assert!(rst.flags.contains(RST), "{state}: {:?}", rst.flags);
        assert_eq!(rst.ack, Some(IRS + 1), "{state}: the data was not taken");
        h.expect_silence();
        h.expect_trace(&[(before, Closed, Cause::RcvDataAfterClose)]);
    }
    // After shutdown (a half-close) the same data is simply received.
    let mut h = in_state(FinWait2, false);
    assert_eq!(
        h.recv(seg(ACK | PSH, IRS + 1, Some(ISS + 2), b"late")),
        None
    );
    assert_eq!(h.state(), FinWait2);
    assert_eq!(h.socket.recv_slice(&mut [0; 8]), Ok(4));
}

#[test]
fn fin_wait_2_after_shutdown_keeps_waiting_and_receiving() {
    let mut h = in_state(FinWait2, false);
    assert_eq!(h.poll_at(), PollAt::Ingress);
    h.set_time(Instant::from_secs(3600));
    h.expect_silence();
    assert_eq!(h.state(), FinWait2);
    // The half-closed peer still sends data.
    assert_eq!(
        h.recv(seg(ACK | PSH, IRS + 1, Some(ISS + 2), b"late")),
        None
    );
    h.set_time(Instant::from_secs(3600) + ms(100));
    h.dispatch().unwrap().is(ACK, ISS + 2, Some(IRS + 5), 0);
    assert_eq!(h.socket.recv_slice(&mut [0; 8]), Ok(4));
    // A close now starts the timeout from here.
    h.socket.close();
    assert_eq!(h.poll_at(), PollAt::Now);
    h.expect_silence();
    let start = h.now();
    assert_eq!(h.poll_at(), PollAt::Time(start + secs(60)));
    h.set_time(start + secs(60));
    h.expect_silence();
    assert_eq!(h.state(), Closed);
    h.expect_trace(&[(FinWait2, Closed, Cause::FinWait2Timeout)]);
}

#[test]
fn close_in_listen_and_syn_sent_goes_to_closed() {
    let mut h = Harness::new(1024, 1024, plain_config());
    h.socket.listen(80).unwrap();
    h.socket.close();
    assert_eq!(h.state(), Closed);
    h.connect(ISS);
    h.socket.close();
    assert_eq!(h.state(), Closed);
    h.expect_silence();
    h.expect_trace(&[
        (Closed, Listen, Cause::Listen),
        (Listen, Closed, Cause::Close),
        (Closed, SynSent, Cause::Connect),
        (SynSent, Closed, Cause::Close),
    ]);
    // The SYN's retransmission timer is gone too.
    assert_eq!(h.poll_at(), PollAt::Ingress);
}

#[test]
fn close_in_syn_rcvd_sends_fin_after_the_syn_ack() {
    let mut h = Harness::new(65536, 65536, plain_config());
    h.socket.listen(LOCAL.port).unwrap();
    h.socket.set_next_isn(SeqNumber(ISS));
    h.recv(seg(SYN, IRS, None, b""));
    h.dispatch().unwrap().is(SYN | ACK, ISS, Some(IRS + 1), 0);
    h.socket.close();
    assert_eq!(h.state(), FinWait1);
    h.dispatch()
        .unwrap()
        .is(FIN | ACK, ISS + 1, Some(IRS + 1), 0);
    // One ACK covers SYN and FIN.
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(ISS + 2), b"")), None);
    assert_eq!(h.state(), FinWait2);
    h.expect_trace(&[
        (Closed, Listen, Cause::Listen),
        (Listen, SynRcvd, Cause::RcvSyn),
        (SynRcvd, FinWait1, Cause::Close),
        (FinWait1, FinWait2, Cause::RcvAckOfFin),
    ]);
}

#[test]
fn shutdown_sends_fin_after_queued_data() {
    let mut h = established();
    h.socket.send_slice(bytes(3000)).unwrap();
    h.socket.shutdown();
    assert_eq!(h.state(), FinWait1);
    let sent = h.dispatch_all();
    assert_eq!(sent.len(), 3);
    sent[0].is(ACK, ISS + 1, Some(IRS + 1), 1460);
    sent[1].is(ACK, ISS + 1461, Some(IRS + 1), 1460);
    sent[2].is(FIN | ACK | PSH, ISS + 2921, Some(IRS + 1), 80);
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(ISS + 3002), b"")), None);
    assert_eq!(h.state(), FinWait2);
    h.expect_trace(&[
        (Established, FinWait1, Cause::Shutdown),
        (FinWait1, FinWait2, Cause::RcvAckOfFin),
    ]);
    // A partial ACK of the data alone does not end FIN_WAIT_1.
    let mut h = established();
    h.socket.send_slice(b"abc").unwrap();
    h.socket.close();
    h.dispatch()
        .unwrap()
        .is(FIN | ACK | PSH, ISS + 1, Some(IRS + 1), 3);
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(ISS + 4), b"")), None);
    assert_eq!(h.state(), FinWait1);
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(ISS + 5), b"")), None);
    assert_eq!(h.state(), FinWait2);
}

#[test]
fn abort_sends_a_rst_in_synchronized_states() {
    for state in [Established, FinWait1, FinWait2, CloseWait] {
        let mut h = in_state(state, true);
        let (seq, ack) = match state {
            Established => (ISS + 1, IRS + 1),
            FinWait1 | FinWait2 => (ISS + 2, IRS + 1),
            _ => (ISS + 1, IRS + 2),
        };
        h.socket.send_slice(b"never").ok();
        h.socket.abort();
        assert_eq!(h.state(), Closed);
        assert_eq!(h.poll_at(), PollAt::Now);
        let rst = h.dispatch().unwrap();
        rst.is(RST | ACK, seq, Some(ack), 0);
        assert_eq!(rst.window, 0);
        h.expect_silence();
        assert_eq!(h.socket.error(), None);
        h.expect_trace(&[(state, Closed, Cause::Abort)]);
        assert_eq!(h.stats().rsts_sent, 1);
        assert_eq!(h.poll_at(), PollAt::Ingress);
        // A closed socket answers what still arrives with RSTs.
        h.recv(seg(ACK, ack, Some(seq), b""))
            .unwrap()
            .is(RST, seq, None, 0);
    }
}

#[test]
fn abort_without_a_rst_in_closing_last_ack_time_wait_and_before_synchronization() {
    for state in [Closing, LastAck, TimeWait] {
        let mut h = in_state(state, true);
        h.socket.abort();
        assert_eq!(h.state(), Closed);
        h.expect_silence();
        h.expect_trace(&[(state, Closed, Cause::Abort)]);
    }
    let mut h = Harness::new(1024, 1024, plain_config());
    h.connect(ISS);
    h.socket.abort();
    h.expect_silence();
    assert_eq!(h.state(), Closed);
}

#[test]
fn abort_in_syn_rcvd_sends_a_rst() {
    let mut h = Harness::new(65536, 65536, plain_config());
    h.socket.listen(LOCAL.port).unwrap();
    h.socket.set_next_isn(SeqNumber(ISS));
    h.recv(seg(SYN, IRS, None, b""));
    h.dispatch().unwrap();
    h.socket.abort();
    h.dispatch()
        .unwrap()
        .is(RST | ACK, ISS + 1, Some(IRS + 1), 0);
    assert_eq!(h.state(), Closed);
}

#[test]
fn reopen_after_close() {
    let mut h = in_state(TimeWait, true);
    h.set_time(Instant::from_secs(120));
    h.expect_silence();
    assert_eq!(h.state(), Closed);
    h.establish_active(42, 4242);
    assert_eq!(h.state(), Established);
    assert_eq!(h.socket.send_slice(b"again"), Ok(5));
    h.dispatch().unwrap().is(ACK | PSH, 43, Some(4243), 5);
}

#[test]
fn the_trace_queue_keeps_eight_and_counts_the_rest() {
    let mut h = Harness::new(1024, 1024, plain_config());
    for _ in 0..10 {
        h.socket.listen(80).unwrap();
        h.socket.close();
    }
    assert_eq!(h.socket.transitions_dropped(), 12);
    let kept = h.transitions();
    assert_eq!(kept.len(), 8);
    assert_eq!(
        kept[0],
        Transition {
            from: Closed,
            to: Listen,
            cause: Cause::Listen
        }
    );
    assert_eq!(
        kept[1],
        Transition {
            from: Listen,
            to: Closed,
            cause: Cause::Close
        }
    );
    assert_eq!(std::format!("{}", kept[1]), "LISTEN -> CLOSED (close)");
    // Draining makes room again.
    h.socket.listen(80).unwrap();
    h.expect_trace(&[(Closed, Listen, Cause::Listen)]);
}

#[test]
fn odd_flag_combinations() {
    // SYN+RST in LISTEN: a RST, ignored. SYN+FIN: taken as a SYN.
    let mut h = Harness::new(65536, 65536, plain_config());
    h.socket.listen(LOCAL.port).unwrap();
    assert_eq!(h.recv(seg(SYN | RST, IRS, None, b"")), None);
    assert_eq!(h.state(), Listen);
    h.socket.set_next_isn(SeqNumber(ISS));
    assert_eq!(h.recv(seg(SYN | FIN, IRS, None, b"")), None);
    h.dispatch().unwrap().is(SYN | ACK, ISS, Some(IRS + 1), 0);
    // SYN+RST at RCV.NXT in ESTABLISHED: the RST wins.
    let mut h = established();
    assert_eq!(h.recv(seg(SYN | RST, IRS + 1, None, b"")), None);
    assert_eq!(h.state(), Closed);
    assert_eq!(h.socket.error(), Some(crate::socket::tcp::TcpError::Reset));
    // RST+FIN+data at RCV.NXT: reset, nothing delivered.
    let mut h = established();
    assert_eq!(
        h.recv(seg(RST | FIN | ACK, IRS + 1, Some(ISS + 1), b"data")),
        None
    );
    assert_eq!(h.state(), Closed);
    assert_eq!(h.socket.recv_queue(), 0);
}
