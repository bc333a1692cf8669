//! RST, SYN and ACK acceptance in the synchronized states: RFC 5961
//! (exact RST, challenge ACKs and their rate limit, the ACK range), the
//! RFC 793 modes, and RFC 1337 in TIME_WAIT.

use super::*;
use crate::socket::tcp::TcpError;
use State::*;

/// RCV.NXT and SND.NXT of `in_state(state)`.
fn next_numbers(state: State) -> (u32, u32) {
    match state {
        Established => (IRS + 1, ISS + 1),
        FinWait1 | FinWait2 => (IRS + 1, ISS + 2),
        CloseWait | LastAck => (IRS + 2, ISS + 1 + u32::from(state == LastAck)),
        Closing | TimeWait => (IRS + 2, ISS + 2),
        _ => unreachable!(),
    }
}

const SYNCHRONIZED: [State; 7] = [
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
];

#[test]
fn rst_at_rcv_nxt_resets_every_synchronized_state_but_time_wait() {
    for state in SYNCHRONIZED {
        for flags in [RST, RST | ACK] {
            let mut h = in_state(state, false);
            let (rcv_nxt, snd_nxt) = next_numbers(state);
            let ack = flags.contains(ACK).then_some(snd_nxt);
            assert_eq!(h.recv(seg(flags, rcv_nxt, ack, b"")), None);
            if state == TimeWait {
                // RFC 1337: TIME_WAIT ignores RST.
                assert_eq!(h.state(), TimeWait);
                h.expect_trace(&[]);
            } else if matches!(state, Closing | LastAck) {
                // Both FINs sent, the peer's taken, all our data ACKed:
                // RFC 9293 gives no reset signal; a normal end.
                assert_eq!(h.state(), Closed, "{state}");
                assert_eq!(h.socket.error(), None);
                h.expect_trace(&[(state, Closed, Cause::RcvRst)]);
                assert_eq!(
                    h.socket.recv_slice(&mut [0; 4]),
                    Err(crate::socket::tcp::RecvError::Finished)
                );
            } else {
                assert_eq!(h.state(), Closed, "{state}");
                assert_eq!(h.socket.error(), Some(TcpError::Reset));
                h.expect_trace(&[(state, Closed, Cause::RcvRst)]);
                assert_eq!(
                    h.socket.recv_slice(&mut [0; 4]),
                    Err(crate::socket::tcp::RecvError::InvalidState)
                );
            }
            h.expect_silence();
        }
    }
}

#[test]
fn rst_inside_the_window_gets_a_challenge_ack() {
    for state in SYNCHRONIZED {
        let mut h = in_state(state, false);
        let (rcv_nxt, snd_nxt) = next_numbers(state);
        // RCV.NXT + 1 and the right edge (window 65535).
        for seq in [rcv_nxt + 1, rcv_nxt + 65534] {
            let reply = h.recv(seg(RST, seq, None, b""));
            if state == TimeWait {
                assert_eq!(reply, None);
            } else {
                reply.unwrap().is(ACK, snd_nxt, Some(rcv_nxt), 0);
            }
        }
        assert_eq!(h.state(), state);
        // Outside the window on either side: dropped silently.
        assert_eq!(h.recv(seg(RST, rcv_nxt - 1, None, b"")), None);
        assert_eq!(h.recv(seg(RST, rcv_nxt + 65535, None, b"")), None);
        assert_eq!(h.state(), state);
    }
}

#[test]
fn insecure_rst_resets_anywhere_in_the_window() {
    for state in [Established, FinWait2, CloseWait, LastAck] {
        let mut h = in_state(state, false);
        h.socket.set_config(TcpConfig {
            insecure_rst: true,
            ..plain_config()
        });
        let (rcv_nxt, _) = next_numbers(state);
        assert_eq!(h.recv(seg(RST, rcv_nxt + 65535, None, b"")), None);
        assert_eq!(h.state(), state);
        assert_eq!(h.recv(seg(RST, rcv_nxt + 65534, None, b"")), None);
        assert_eq!(h.state(), Closed);
        // LAST_ACK with all data acknowledged ends without a reset signal.
        let error = (state != LastAck).then_some(TcpError::Reset);
        assert_eq!(h.socket.error(), error, "{state}");
    }
    let mut h = in_state(TimeWait, false);
    h.socket.set_config(TcpConfig {
        insecure_rst: true,
        ..plain_config()
    });
    assert_eq!(h.recv(seg(RST, IRS + 2, None, b"")), None);
    assert_eq!(h.state(), TimeWait);
}

#[test]
fn syn_in_a_synchronized_state_gets_a_challenge_ack_wherever_it_lands() {
    for state in SYNCHRONIZED {
        let mut h = in_state(state, false);
        let (rcv_nxt, snd_nxt) = next_numbers(state);
        for seq in [rcv_nxt - 1, rcv_nxt, rcv_nxt + 65534, rcv_nxt + 70000] {
            h.recv(seg(SYN, seq, None, b""))
                .unwrap()
                .is(ACK, snd_nxt, Some(rcv_nxt), 0);
            h.recv(seg(SYN | ACK, seq, Some(snd_nxt), b"")).unwrap().is(
                ACK,
                snd_nxt,
                Some(rcv_nxt),
                0,
            );
        }
        assert_eq!(h.state(), state);
        assert_eq!(h.socket.error(), None);
        assert_eq!(h.stats().challenge_acks, 8);
        h.expect_trace(&[]);
    }
}

#[test]
fn insecure_syn_in_the_window_resets_the_connection() {
    for state in SYNCHRONIZED {
        let mut h = in_state(state, false);
        h.socket.set_config(TcpConfig {
            insecure_syn: true,
            ..plain_config()
        });
        let (rcv_nxt, snd_nxt) = next_numbers(state);
        // Outside the window: the sequence check's ACK.
        h.recv(seg(SYN, rcv_nxt + 65535, None, b""))
            .unwrap()
            .is(ACK, snd_nxt, Some(rcv_nxt), 0);
        assert_eq!(h.state(), state);
        // Inside: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>, CLOSED.
        let rst = h.recv(seg(SYN, rcv_nxt + 65534, None, b"")).unwrap();
        rst.is(RST | ACK, snd_nxt, Some(rcv_nxt), 0);
        assert_eq!(rst.window, 0);
        assert_eq!(h.state(), Closed);
        let error = (state != TimeWait).then_some(TcpError::Reset);
        assert_eq!(h.socket.error(), error);
        h.expect_trace(&[(state, Closed, Cause::RcvSyn)]);
    }
}

#[test]
fn challenge_acks_are_rate_limited_per_second() {
    let mut h = established();
    h.socket.set_config(TcpConfig {
        challenge_ack_limit: 2,
        ..plain_config()
    });
    for _ in 0..2 {
        h.recv(seg(RST, IRS + 10, None, b""))
            .unwrap()
            .is(ACK, ISS + 1, Some(IRS + 1), 0);
    }
    assert_eq!(h.recv(seg(SYN, IRS + 1, None, b"")), None);
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(ISS + 50), b"")), None);
    h.advance(ms(999));
    assert_eq!(h.recv(seg(RST, IRS + 10, None, b"")), None);
    h.advance(ms(1));
    h.recv(seg(RST, IRS + 10, None, b""))
        .unwrap()
        .is(ACK, ISS + 1, Some(IRS + 1), 0);
    assert_eq!(h.stats().challenge_acks, 3);
    assert_eq!(h.state(), Established);
}

#[test]
fn ack_acceptability_follows_rfc_5961_section_5_2() {
    let mut h = established();
    h.socket.send_slice(bytes(100)).unwrap();
    h.dispatch()
        .unwrap()
        .is(ACK | PSH, ISS + 1, Some(IRS + 1), 100);
    // SEG.ACK > SND.NXT: an ACK, data ignored.
    h.recv(seg(ACK, IRS + 1, Some(ISS + 102), b"abc"))
        .unwrap()
        .is(ACK, ISS + 101, Some(IRS + 1), 0);
    assert_eq!(h.socket.recv_queue(), 0);
    assert_eq!(h.socket.send_queue(), 100);
    // SEG.ACK < SND.UNA - MAX.SND.WND (32767): also an ACK, data ignored.
    h.recv(seg(
        ACK,
        IRS + 1,
        Some((ISS + 1).wrapping_sub(32768)),
        b"abc",
    ))
    .unwrap()
    .is(ACK, ISS + 101, Some(IRS + 1), 0);
    assert_eq!(h.socket.recv_queue(), 0);
    // An old ACK within MAX.SND.WND is fine: its data is taken.
    assert_eq!(
        h.recv(seg(
            ACK,
            IRS + 1,
            Some((ISS + 1).wrapping_sub(32767)),
            b"abc"
        )),
        None
    );
    assert_eq!(h.socket.recv_queue(), 3);
    assert_eq!(h.socket.send_queue(), 100);
    assert_eq!(h.recv(seg(ACK, IRS + 4, Some(ISS + 101), b"")), None);
    assert_eq!(h.socket.send_queue(), 0);
}

#[test]
fn segments_without_ack_are_dropped_in_synchronized_states() {
    let mut h = established();
    assert_eq!(h.recv(seg(TcpFlags::empty(), IRS + 1, None, b"abc")), None);
    assert_eq!(h.recv(seg(FIN, IRS + 1, None, b"")), None);
    assert_eq!(h.recv(seg(PSH, IRS + 100_000, None, b"abc")), None);
    assert_eq!(h.socket.recv_queue(), 0);
    assert_eq!(h.state(), Established);
    h.expect_silence();
}
