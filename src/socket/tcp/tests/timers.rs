//! Timers with exact deadlines: retransmission (RFC 6298, Karn, backoff,
//! give-up, across the wrap), fast retransmit and NewReno, persist and
//! zero-window probes, keep-alive, the user timeout.

use super::*;
use crate::socket::tcp::{CongestionAlgorithm, TcpError};
use State::*;

/// Sends `len` bytes and returns the segments dispatched at once.
fn send(h: &mut Harness, len: usize) -> Vec<Sent> {
    assert_eq!(h.socket.send_slice(bytes(len)), Ok(len));
    h.dispatch_all()
}

#[test]
fn retransmission_backs_off_and_gives_up_after_max_retransmissions() {
    let mut h = established();
    send(&mut h, 100)[0].is(ACK | PSH, ISS + 1, Some(IRS + 1), 100);
    // RTO 1 s doubling up to 60 s: 12 retransmissions, then a RST.
    let times = [1, 3, 7, 15, 31, 63, 123, 183, 243, 303, 363, 423];
    for at in times {
        assert_eq!(h.poll_at(), PollAt::Time(Instant::from_secs(at)));
        h.set_time(Instant::from_secs(at) - Duration::from_micros(1));
        h.expect_silence();
        h.set_time(Instant::from_secs(at));
        h.dispatch()
            .unwrap()
            .is(ACK | PSH, ISS + 1, Some(IRS + 1), 100);
        h.expect_silence();
    }
    assert_eq!(h.stats().retransmissions, 12);
    assert_eq!(h.poll_at(), PollAt::Time(Instant::from_secs(483)));
    h.set_time(Instant::from_secs(483));
    h.dispatch()
        .unwrap()
        .is(RST | ACK, ISS + 101, Some(IRS + 1), 0);
    assert_eq!(h.state(), Closed);
    assert_eq!(h.socket.error(), Some(TcpError::TimedOut));
    h.expect_trace(&[(Established, Closed, Cause::RetransmissionTimeout)]);
    h.expect_silence();
}

#[test]
fn an_ack_after_a_retransmission_resets_the_give_up_count() {
    let mut h = established();
    send(&mut h, 100);
    for at in [1, 3, 7] {
        h.set_time(Instant::from_secs(at));
        h.dispatch().unwrap();
    }
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(ISS + 101), b"")), None);
    assert_eq!(h.poll_at(), PollAt::Ingress);
    // Karn: no sample from the retransmitted segment, so the backed-off
    // RTO (8 s) stays for the next segment.
    assert_eq!(h.socket.rto(), secs(8));
    send(&mut h, 10);
    assert_eq!(h.poll_at(), PollAt::Time(Instant::from_secs(15)));
    // A fresh sample clears the backoff.
    h.set_time(Instant::from_secs(7) + ms(200));
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(ISS + 111), b"")), None);
    assert_eq!(h.socket.rto(), secs(1));
}

#[test]
fn rtt_samples_set_the_rto() {
    let config = TcpConfig {
        min_rto: ms(200),
        ..plain_config()
    };
    let mut h = Harness::new(65536, 65536, config);
    h.connect(ISS);
    h.set_time(Instant::ZERO + ms(100));
    h.recv(with_mss(seg(SYN | ACK, IRS, Some(ISS + 1), b""), 1460))
        .unwrap();
    // First sample 100 ms: SRTT 100, RTTVAR 50, RTO = 100 + 4 * 50.
    assert_eq!(h.socket.rto(), ms(300));
    send(&mut h, 10);
    assert_eq!(h.poll_at(), PollAt::Time(Instant::ZERO + ms(400)));
    h.set_time(Instant::ZERO + ms(400));
    h.dispatch()
        .unwrap()
        .is(ACK | PSH, ISS + 1, Some(IRS + 1), 10);
    assert_eq!(h.socket.rto(), ms(600));
    assert_eq!(h.poll_at(), PollAt::Time(Instant::ZERO + ms(1000)));
}

#[test]
fn rto_retransmission_across_the_sequence_wrap() {
    let mut h = Harness::new(65536, 65536, plain_config());
    let iss = u32::MAX - 50;
    h.establish_active(iss, u32::MAX - 10);
    send(&mut h, 100)[0].is(ACK | PSH, u32::MAX - 49, Some(u32::MAX - 9), 100);
    h.set_time(Instant::from_secs(1));
    h.dispatch()
        .unwrap()
        .is(ACK | PSH, u32::MAX - 49, Some(u32::MAX - 9), 100);
    // Half is acknowledged, across the wrap; the rest is resent.
    assert_eq!(h.recv(seg(ACK, u32::MAX - 9, Some(10), b"")), None);
    assert_eq!(h.socket.send_queue(), 40);
    assert_eq!(h.poll_at(), PollAt::Time(Instant::from_secs(3)));
    h.set_time(Instant::from_secs(3));
    h.dispatch()
        .unwrap()
        .is(ACK | PSH, 10, Some(u32::MAX - 9), 40);
    assert_eq!(h.recv(seg(ACK, u32::MAX - 9, Some(50), b"")), None);
    assert_eq!(h.socket.send_queue(), 0);
    assert_eq!(h.poll_at(), PollAt::Ingress);
}

/// Fast retransmit and NewReno recovery (RFC 6582) of two losses
/// (segments 2 and 4 of 10) without SACK, the window paced by PRR
/// (RFC 6937), with our ISN at `iss`.
fn fast_retransmit_with_iss(iss: u32) {
    let config = TcpConfig {
        congestion: CongestionAlgorithm::NewReno,
        ..plain_config()
    };
    let mut h = Harness::new(65536, 65536, config);
    h.establish_active(iss, IRS);
    let base = iss.wrapping_add(1);
    let at = |n: u32| base.wrapping_add(n * 1460);
    let sent = send(&mut h, 14600);
    assert_eq!(sent.len(), 10, "the initial window is 10 segments");
    for (i, s) in sent.iter().enumerate() {
        assert_eq!(s.seq, at(i as u32));
        assert_eq!(s.payload.len(), 1460);
    }
    assert_eq!(h.socket.congestion_window(), 14600);
    // Segment 1 arrives; segment 2 is lost; 3 and 5 to 10 make seven
    // duplicate ACKs.
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(at(1)), b"")), None);
    assert_eq!(h.socket.congestion_window(), 16060);
    h.expect_silence();
    for _ in 0..2 {
        assert_eq!(h.recv(seg(ACK, IRS + 1, Some(at(1)), b"")), None);
        h.expect_silence();
    }
    // The third: fast retransmit; PRR always lets that one go.
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(at(1)), b"")), None);
    let resent = h.dispatch().unwrap();
    resent.is(ACK, at(1), Some(IRS + 1), 1460);
    h.expect_silence();
    assert_eq!(h.stats().fast_recoveries, 1);
    assert_eq!(h.stats().retransmissions, 1);
    // ssthresh = max(FlightSize / 2, 2 * SMSS) = 13140 / 2. Pipe: 9
    // segments, less the lost one and the three the duplicates stand for,
    // plus the retransmission.
    assert_eq!(h.socket.cc.ssthresh(), 6570);
    assert_eq!(h.socket.pipe(), 6 * 1460);
    // Four more duplicates: nothing new to send, nothing known lost.
    for _ in 0..4 {
        assert_eq!(h.recv(seg(ACK, IRS + 1, Some(at(1)), b"")), None);
        h.expect_silence();
    }
    // A partial ACK (up to segment 4, also lost) marks segment 4 lost,
    // and PRR's window lets it go at once.
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(at(3)), b"")), None);
    h.dispatch().unwrap().is(ACK, at(3), Some(IRS + 1), 1460);
    h.expect_silence();
    assert_eq!(h.stats().retransmissions, 2);
    // The full ACK ends recovery: cwnd = ssthresh (RFC 6937).
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(at(10)), b"")), None);
    assert_eq!(h.socket.congestion_window(), 6570);
    assert_eq!(h.socket.send_queue(), 0);
    assert_eq!(h.poll_at(), PollAt::Ingress);
    assert_eq!(h.stats().fast_recoveries, 1);
    assert_eq!(h.stats().rtos, 0);
}

#[test]
fn fast_retransmit_and_newreno_partial_acks() {
    fast_retransmit_with_iss(ISS);
}

#[test]
fn fast_retransmit_across_the_sequence_wrap() {
    fast_retransmit_with_iss(u32::MAX - 3000);
}

#[test]
fn limited_transmit_sends_new_data_on_the_first_two_duplicate_acks() {
    let mut h = Harness::new(65536, 65536, plain_config());
    h.establish_active(ISS, IRS);
    let at = |n: u32| ISS + 1 + n * 1460;
    let sent = send(&mut h, 20 * 1460);
    assert_eq!(sent.len(), 10, "the initial window is 10 segments");
    // The first segment is ACKed; the second is lost. Slow start (cwnd
    // 16060) lets two more segments out.
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(at(1)), b"")), None);
    h.dispatch().unwrap().is(ACK, at(10), Some(IRS + 1), 1460);
    h.dispatch().unwrap().is(ACK, at(11), Some(IRS + 1), 1460);
    h.expect_silence();
    // The first and second duplicate ACKs each release one new segment
    // beyond cwnd (RFC 3042), and cwnd itself does not change.
    for n in [12, 13] {
        assert_eq!(h.recv(seg(ACK, IRS + 1, Some(at(1)), b"")), None);
        h.dispatch().unwrap().is(ACK, at(n), Some(IRS + 1), 1460);
        h.expect_silence();
        assert_eq!(h.socket.congestion_window(), 16060);
    }
    // The third starts fast retransmit of the lost segment.
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(at(1)), b"")), None);
    h.dispatch().unwrap().is(ACK, at(1), Some(IRS + 1), 1460);
    assert_eq!(h.stats().retransmissions, 1);
}

#[test]
fn duplicate_acks_that_update_the_window_or_carry_data_do_not_count() {
    let mut h = established();
    send(&mut h, 14600);
    let una = ISS + 1;
    for _ in 0..3 {
        let mut update = seg(ACK, IRS + 1, Some(una), b"");
        update.window_len = 40000;
        h.recv(update);
        let mut update = seg(ACK, IRS + 1, Some(una), b"");
        update.window_len = 32767;
        h.recv(update);
    }
    h.expect_silence();
    assert_eq!(h.stats().retransmissions, 0);
}

#[test]
fn persist_probes_a_zero_window_while_the_peer_answers() {
    let mut h = established();
    let mut closed = seg(ACK, IRS + 1, Some(ISS + 1), b"");
    closed.window_len = 0;
    assert_eq!(h.recv(closed), None);
    assert_eq!(h.socket.send_slice(bytes(100)), Ok(100));
    // Nothing fits; the persist timer starts at the RTO (1 s).
    assert_eq!(h.poll_at(), PollAt::Now);
    h.expect_silence();
    assert_eq!(h.poll_at(), PollAt::Time(Instant::from_secs(1)));
    let mut at = Instant::from_secs(1);
    let mut interval = secs(1);
    for _ in 0..20 {
        h.set_time(at - ms(1));
        h.expect_silence();
        h.set_time(at);
        h.dispatch().unwrap().is(ACK, ISS + 1, Some(IRS + 1), 1);
        h.expect_silence();
        // The peer answers, still with a zero window.
        assert_eq!(h.recv(closed), None);
        interval = (interval + interval).min(secs(60));
        at += interval;
        assert_eq!(h.poll_at(), PollAt::Time(at));
    }
    assert_eq!(h.state(), Established);
    // Probes are not counted as retransmissions.
    assert_eq!(h.stats().retransmissions, 0);
    // The window opens: the data goes.
    let mut open = closed;
    open.window_len = 1000;
    assert_eq!(h.recv(open), None);
    h.dispatch()
        .unwrap()
        .is(ACK | PSH, ISS + 1, Some(IRS + 1), 100);
}

#[test]
fn persist_gives_up_when_probes_go_unanswered() {
    let mut h = established();
    let mut closed = seg(ACK, IRS + 1, Some(ISS + 1), b"");
    closed.window_len = 0;
    h.recv(closed);
    h.socket.send_slice(bytes(100)).unwrap();
    h.expect_silence();
    for at in [1, 3, 7, 15, 31, 63, 123, 183, 243, 303, 363, 423] {
        h.set_time(Instant::from_secs(at));
        h.dispatch().unwrap().is(ACK, ISS + 1, Some(IRS + 1), 1);
    }
    assert_eq!(h.poll_at(), PollAt::Time(Instant::from_secs(483)));
    h.set_time(Instant::from_secs(483));
    // The RST sits at the closed window's edge, the peer's RCV.NXT (the
    // probe byte past it was never accepted), so RFC 5961 3.2 lets it reset.
    h.dispatch()
        .unwrap()
        .is(RST | ACK, ISS + 1, Some(IRS + 1), 0);
    assert_eq!(h.state(), Closed);
    assert_eq!(h.socket.error(), Some(TcpError::TimedOut));
    h.expect_trace(&[(Established, Closed, Cause::RetransmissionTimeout)]);
}

#[test]
fn persist_when_the_window_fills_with_unacknowledged_data() {
    let mut h = established();
    assert_eq!(send(&mut h, 4380).len(), 3);
    // The peer takes the first segment and closes its window.
    let mut closed = seg(ACK, IRS + 1, Some(ISS + 1461), b"");
    closed.window_len = 0;
    h.set_time(Instant::ZERO + ms(200));
    assert_eq!(h.recv(closed), None);
    // Retransmission stops; persist probes from SND.UNA.
    assert_eq!(h.poll_at(), PollAt::Time(Instant::ZERO + ms(1200)));
    h.set_time(Instant::ZERO + ms(1200));
    h.dispatch().unwrap().is(ACK, ISS + 1461, Some(IRS + 1), 1);
    h.expect_silence();
    let mut open = closed;
    open.window_len = 10000;
    assert_eq!(h.recv(open), None);
    let rest = h.dispatch_all();
    assert_eq!(rest.len(), 2);
    rest[0].is(ACK, ISS + 1461, Some(IRS + 1), 1460);
    rest[1].is(ACK | PSH, ISS + 2921, Some(IRS + 1), 1460);
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(ISS + 4381), b"")), None);
    assert_eq!(h.poll_at(), PollAt::Ingress);
}

#[test]
fn keepalive_probes_and_give_up() {
    let mut h = Harness::new(
        65536,
        65536,
        TcpConfig {
            keepalive_idle: Some(secs(10)),
            keepalive_interval: secs(5),
            keepalive_count: 3,
            ..plain_config()
        },
    );
    h.establish_active(ISS, IRS);
    assert_eq!(h.poll_at(), PollAt::Time(Instant::from_secs(10)));
    h.set_time(Instant::from_secs(10));
    // <SEQ=SND.UNA-1><ACK=RCV.NXT>, no data (RFC 1122 4.2.3.6).
    h.dispatch().unwrap().is(ACK, ISS, Some(IRS + 1), 0);
    h.expect_silence();
    assert_eq!(h.poll_at(), PollAt::Time(Instant::from_secs(15)));
    // The peer answers at 12 s: idle counts from there.
    h.set_time(Instant::from_secs(12));
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(ISS + 1), b"")), None);
    assert_eq!(h.poll_at(), PollAt::Time(Instant::from_secs(22)));
    for at in [22, 27, 32] {
        h.set_time(Instant::from_secs(at));
        h.dispatch().unwrap().is(ACK, ISS, Some(IRS + 1), 0);
    }
    assert_eq!(h.poll_at(), PollAt::Time(Instant::from_secs(37)));
    h.set_time(Instant::from_secs(37));
    h.dispatch()
        .unwrap()
        .is(RST | ACK, ISS + 1, Some(IRS + 1), 0);
    assert_eq!(h.state(), Closed);
    assert_eq!(h.socket.error(), Some(TcpError::TimedOut));
    h.expect_trace(&[(Established, Closed, Cause::KeepaliveTimeout)]);
}

#[test]
fn keepalive_is_off_by_default() {
    let mut h = established();
    assert_eq!(h.poll_at(), PollAt::Ingress);
    h.set_time(Instant::from_secs(100_000));
    h.expect_silence();
    assert_eq!(h.state(), Established);
}

#[test]
fn user_timeout_ends_a_connection_before_the_retransmissions_run_out() {
    let mut h = Harness::new(
        65536,
        65536,
        TcpConfig {
            user_timeout: Some(secs(5)),
            ..plain_config()
        },
    );
    h.establish_active(ISS, IRS);
    send(&mut h, 10);
    for at in [1, 3] {
        h.set_time(Instant::from_secs(at));
        h.dispatch()
            .unwrap()
            .is(ACK | PSH, ISS + 1, Some(IRS + 1), 10);
    }
    assert_eq!(h.poll_at(), PollAt::Time(Instant::from_secs(5)));
    h.set_time(Instant::from_secs(5));
    h.dispatch()
        .unwrap()
        .is(RST | ACK, ISS + 11, Some(IRS + 1), 0);
    assert_eq!(h.socket.error(), Some(TcpError::TimedOut));
    h.expect_trace(&[(Established, Closed, Cause::RetransmissionTimeout)]);
}

#[test]
fn user_timeout_also_ends_zero_window_persist() {
    let mut h = Harness::new(
        65536,
        65536,
        TcpConfig {
            user_timeout: Some(secs(30)),
            ..plain_config()
        },
    );
    h.establish_active(ISS, IRS);
    let mut closed = seg(ACK, IRS + 1, Some(ISS + 1), b"");
    closed.window_len = 0;
    h.recv(closed);
    h.socket.send_slice(b"data").unwrap();
    h.expect_silence();
    for at in [1, 3, 7, 15] {
        h.set_time(Instant::from_secs(at));
        h.dispatch().unwrap().is(ACK, ISS + 1, Some(IRS + 1), 1);
        h.recv(closed);
    }
    assert_eq!(h.poll_at(), PollAt::Time(Instant::from_secs(30)));
    h.set_time(Instant::from_secs(30));
    // At the closed window's edge, not past the unaccepted probe byte.
    h.dispatch()
        .unwrap()
        .is(RST | ACK, ISS + 1, Some(IRS + 1), 0);
    assert_eq!(h.state(), Closed);
}

#[test]
fn poll_at_is_the_earliest_timer() {
    let mut h = Harness::new(
        65536,
        65536,
        TcpConfig {
            keepalive_idle: Some(secs(7200)),
            ..plain_config()
        },
    );
    h.establish_active(ISS, IRS);
    assert_eq!(h.poll_at(), PollAt::Time(Instant::from_secs(7200)));
    // Data received: the delayed ACK (100 ms) comes first.
    h.set_time(Instant::from_secs(1));
    h.recv(seg(ACK, IRS + 1, Some(ISS + 1), b"abc"));
    assert_eq!(h.poll_at(), PollAt::Time(Instant::from_secs(1) + ms(100)));
    // Data sent: it carries the ACK; the retransmission timer is next.
    h.socket.send_slice(b"xyz").unwrap();
    assert_eq!(h.poll_at(), PollAt::Now);
    h.dispatch()
        .unwrap()
        .is(ACK | PSH, ISS + 1, Some(IRS + 4), 3);
    assert_eq!(h.poll_at(), PollAt::Time(Instant::from_secs(2)));
}
#[test]
fn a_segment_cut_short_by_the_ring_buffers_wrap_is_followed_at_once() {
    let mut h = Harness::new(4096, 4096, plain_config());
    h.establish_active(ISS, IRS);
    let mut acked = ISS + 1;
    // Move the tx buffer's read position to 3000, so the next 1460 bytes
    // wrap after 1096.
    h.socket.send_slice(bytes(3000)).unwrap();
    h.socket.set_nagle_enabled(false);
    for s in h.dispatch_all() {
        acked += s.payload.len() as u32;
    }
    h.socket.set_nagle_enabled(true);
    h.recv(seg(ACK, IRS + 1, Some(acked), b""));
    assert_eq!(h.socket.send_queue(), 0);
    h.socket.send_slice(bytes(2920)).unwrap();
    let sent = h.dispatch_all();
    // The short first piece does not wait for Nagle; the real tail does.
    assert_eq!(
        sent.iter().map(|s| s.payload.len()).collect::<Vec<_>>(),
        [1096, 1460]
    );
    assert_eq!(sent[1].payload, &bytes(2920)[1096..2556]);
    h.recv(seg(ACK, IRS + 1, Some(acked + 2556), b""));
    h.dispatch()
        .unwrap()
        .is(ACK | PSH, acked + 2556, Some(IRS + 1), 364);
}
