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
    // The peer's ACK of all of it is lost: the RTO resends one segment
    // (cwnd is one segment now) and SND.NXT stays behind SND.MAX.
    h.set_time(Instant::from_secs(1));
    h.dispatch().unwrap().is(ACK, ISS + 1, Some(IRS + 1), 1460);
    h.expect_silence();
    assert_eq!(h.socket.snd_nxt(), SeqNumber(ISS + 1461));
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
