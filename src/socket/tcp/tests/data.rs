//! Data transfer: in-order receive and delayed ACKs, out-of-order
//! assembly (bounded holes), trimming at both window edges, zero windows
//! and window updates, FIN before/with/after out-of-order data, sending
//! with Nagle and the peer's window, the user API, the sequence wrap.

use super::*;
use crate::socket::tcp::{RecvError, SendError};
use State::*;

/// The bytes `[from, to)` of the test stream `bytes(..)`.
fn stream(from: usize, to: usize) -> &'static [u8] {
    &bytes(to)[from..]
}

/// Reads everything buffered.
fn read_all(h: &mut Harness) -> Vec<u8> {
    let mut out = vec![0; h.socket.recv_queue()];
    let n = h.socket.recv_slice(&mut out).unwrap();
    assert_eq!(n, out.len());
    out
}

#[test]
fn in_sequence_data_gets_a_delayed_ack() {
    let mut h = established();
    assert_eq!(
        h.recv(seg(ACK | PSH, IRS + 1, Some(ISS + 1), stream(0, 100))),
        None
    );
    assert_eq!(h.socket.recv_queue(), 100);
    assert_eq!(h.poll_at(), PollAt::Time(Instant::ZERO + ms(100)));
    h.set_time(Instant::ZERO + ms(99));
    h.expect_silence();
    h.set_time(Instant::ZERO + ms(100));
    let ack = h.dispatch().unwrap();
    ack.is(ACK, ISS + 1, Some(IRS + 101), 0);
    // The window's right edge stays put (100 bytes are buffered).
    assert_eq!(ack.window, 65435);
    h.expect_silence();
    assert_eq!(read_all(&mut h), stream(0, 100));
}

#[test]
fn every_second_full_sized_segment_is_acked_at_once() {
    let mut h = established();
    assert_eq!(
        h.recv(seg(ACK, IRS + 1, Some(ISS + 1), stream(0, 1460))),
        None
    );
    let ack = h
        .recv(seg(ACK, IRS + 1461, Some(ISS + 1), stream(1460, 2920)))
        .unwrap();
    ack.is(ACK, ISS + 1, Some(IRS + 2921), 0);
    // Nothing is left owed.
    h.set_time(Instant::from_secs(1));
    h.expect_silence();
}

#[test]
fn without_ack_delay_every_segment_is_acked_at_once() {
    let mut h = established();
    h.socket.set_ack_delay(None);
    h.recv(seg(ACK, IRS + 1, Some(ISS + 1), b"a"))
        .unwrap()
        .is(ACK, ISS + 1, Some(IRS + 2), 0);
    // Delays of 500 ms or more are clamped below 500 ms.
    h.socket.set_ack_delay(Some(secs(2)));
    assert_eq!(h.socket.config().ack_delay, Some(ms(499)));
}

#[test]
fn out_of_order_data_is_acked_at_once_and_delivered_in_order() {
    let mut h = established();
    let ack = h
        .recv(seg(ACK, IRS + 101, Some(ISS + 1), stream(100, 200)))
        .unwrap();
    ack.is(ACK, ISS + 1, Some(IRS + 1), 0);
    assert_eq!(h.socket.recv_queue(), 0);
    // Filling the gap is acknowledged at once too (RFC 5681 4.2).
    let ack = h
        .recv(seg(ACK, IRS + 1, Some(ISS + 1), stream(0, 100)))
        .unwrap();
    ack.is(ACK, ISS + 1, Some(IRS + 201), 0);
    assert_eq!(read_all(&mut h), stream(0, 200));
}

#[test]
fn a_segment_overlapping_rcv_nxt_is_trimmed() {
    let mut h = established();
    h.recv(seg(ACK, IRS + 1, Some(ISS + 1), stream(0, 100)));
    assert_eq!(
        h.recv(seg(ACK, IRS + 51, Some(ISS + 1), stream(50, 150))),
        None
    );
    assert_eq!(read_all(&mut h), stream(0, 150));
    // Entirely old data: an ACK, nothing delivered.
    h.recv(seg(ACK, IRS + 1, Some(ISS + 1), stream(0, 100)))
        .unwrap()
        .is(ACK, ISS + 1, Some(IRS + 151), 0);
    assert_eq!(h.socket.recv_queue(), 0);
}

/// An ESTABLISHED socket with a 1000-byte receive buffer.
fn small_window() -> Harness {
    let mut h = Harness::new(1000, 1000, plain_config());
    h.establish_active(ISS, IRS);
    h
}

#[test]
fn data_exactly_filling_the_window_is_accepted() {
    let mut h = small_window();
    assert_eq!(
        h.recv(seg(ACK, IRS + 1, Some(ISS + 1), stream(0, 1000))),
        None
    );
    assert_eq!(h.socket.recv_queue(), 1000);
    h.set_time(Instant::ZERO + ms(100));
    let ack = h.dispatch().unwrap();
    ack.is(ACK, ISS + 1, Some(IRS + 1001), 0);
    assert_eq!(ack.window, 0);
}

#[test]
fn data_overrunning_the_window_is_trimmed_and_acked() {
    let mut h = small_window();
    let ack = h
        .recv(seg(ACK, IRS + 1, Some(ISS + 1), stream(0, 1010)))
        .unwrap();
    ack.is(ACK, ISS + 1, Some(IRS + 1001), 0);
    assert_eq!(ack.window, 0);
    assert_eq!(read_all(&mut h), stream(0, 1000));
}

#[test]
fn data_beyond_the_window_is_dropped_and_acked() {
    let mut h = small_window();
    for seq in [IRS + 1001, IRS + 5000] {
        h.recv(seg(ACK, seq, Some(ISS + 1), b"0123456789"))
            .unwrap()
            .is(ACK, ISS + 1, Some(IRS + 1), 0);
    }
    // Straddling the right edge: the part inside is kept out of order.
    h.recv(seg(ACK, IRS + 991, Some(ISS + 1), stream(990, 1010)))
        .unwrap()
        .is(ACK, ISS + 1, Some(IRS + 1), 0);
    h.recv(seg(ACK, IRS + 1, Some(ISS + 1), stream(0, 990)))
        .unwrap()
        .is(ACK, ISS + 1, Some(IRS + 1001), 0);
    assert_eq!(read_all(&mut h), stream(0, 1000));
}

#[test]
fn a_zero_window_takes_the_probe_ack_and_reopens_with_a_window_update() {
    let mut h = small_window();
    h.recv(seg(ACK, IRS + 1, Some(ISS + 1), stream(0, 1000)));
    h.set_time(Instant::ZERO + ms(100));
    h.dispatch().unwrap();
    // A zero-window probe: its ACK field is processed, its byte dropped.
    h.socket.send_slice(b"x").unwrap();
    h.dispatch().unwrap();
    let ack = h.recv(seg(ACK, IRS + 1001, Some(ISS + 2), b"p")).unwrap();
    ack.is(ACK, ISS + 2, Some(IRS + 1001), 0);
    assert_eq!(ack.window, 0);
    assert_eq!(h.socket.send_queue(), 0);
    // Reading less than min(buffer/2, MSS) does not move the window
    // (receiver silly window avoidance).
    assert_eq!(h.socket.recv_slice(&mut [0; 499]), Ok(499));
    h.expect_silence();
    assert_eq!(h.socket.recv_slice(&mut [0; 1]), Ok(1));
    assert_eq!(h.poll_at(), PollAt::Now);
    let update = h.dispatch().unwrap();
    update.is(ACK, ISS + 2, Some(IRS + 1001), 0);
    assert_eq!(update.window, 500);
    h.expect_silence();
}

/// Delivers `pieces` (sequence offset, length, FIN) in order and checks
/// the ACK number after each; the stream is 200 bytes and a FIN.
fn fin_and_gaps(pieces: &[(u32, usize, bool)]) {
    let mut h = established();
    let mut next = 0usize;
    let mut fin_at = None;
    let mut held: Vec<(usize, usize)> = Vec::new();
    for &(offset, len, fin) in pieces {
        let mut flags = ACK;
        if fin {
            flags |= FIN;
            fin_at = Some(offset as usize + len);
        }
        let data = stream(offset as usize, offset as usize + len);
        let reply = h.recv(seg(flags, IRS + 1 + offset, Some(ISS + 1), data));
        held.push((offset as usize, offset as usize + len));
        held.sort();
        for &(from, to) in &held {
            if from <= next {
                next = next.max(to);
            }
        }
        let fin_taken = fin_at == Some(next);
        let expected = IRS + 1 + next as u32 + u32::from(fin_taken);
        let ack = match reply {
            Some(ack) => ack,
            None => {
                h.advance(ms(100));
                h.dispatch().expect("delayed ACK")
            }
        };
        ack.is(ACK, ISS + 1, Some(expected), 0);
    }
    assert_eq!(h.state(), CloseWait, "{pieces:?}");
    assert_eq!(read_all(&mut h), stream(0, 200));
    assert_eq!(h.socket.recv_slice(&mut [0; 1]), Err(RecvError::Finished));
}

#[test]
fn fin_before_with_and_after_out_of_order_data_in_every_order() {
    let a = (0, 100, false);
    let b = (100, 100, false);
    let fin = (200, 0, true);
    let b_fin = (100, 100, true);
    let orders: [&[(u32, usize, bool)]; 10] = [
        &[a, b, fin],
        &[a, fin, b],
        &[b, a, fin],
        &[b, fin, a],
        &[fin, a, b],
        &[fin, b, a],
        &[a, b_fin],
        &[b_fin, a],
        // The FIN and its data both resent after an out-of-order FIN.
        &[b_fin, fin, a],
        &[(0, 200, true)],
    ];
    for order in orders {
        fin_and_gaps(order);
    }
}

#[test]
fn an_out_of_order_fin_waits_for_every_hole() {
    let mut h = established();
    h.recv(seg(ACK | FIN, IRS + 301, Some(ISS + 1), b""))
        .unwrap()
        .is(ACK, ISS + 1, Some(IRS + 1), 0);
    h.recv(seg(ACK, IRS + 201, Some(ISS + 1), stream(200, 300)))
        .unwrap();
    h.recv(seg(ACK, IRS + 1, Some(ISS + 1), stream(0, 100)))
        .unwrap()
        .is(ACK, ISS + 1, Some(IRS + 101), 0);
    assert_eq!(h.state(), Established);
    h.recv(seg(ACK, IRS + 101, Some(ISS + 1), stream(100, 200)))
        .unwrap()
        .is(ACK, ISS + 1, Some(IRS + 302), 0);
    assert_eq!(h.state(), CloseWait);
    assert_eq!(read_all(&mut h), stream(0, 300));
}

#[test]
fn the_assembler_keeps_a_bounded_number_of_holes() {
    let mut h = Harness::new(
        65536,
        65536,
        TcpConfig {
            max_ooo_holes: 2,
            ..plain_config()
        },
    );
    h.establish_active(ISS, IRS);
    for offset in [100u32, 300, 500] {
        let o = offset as usize;
        h.recv(seg(ACK, IRS + 1 + offset, Some(ISS + 1), stream(o, o + 50)))
            .unwrap()
            .is(ACK, ISS + 1, Some(IRS + 1), 0);
    }
    // [100, 150) and [300, 350) are held; [500, 550) was dropped.
    h.recv(seg(ACK, IRS + 1, Some(ISS + 1), stream(0, 100)))
        .unwrap()
        .is(ACK, ISS + 1, Some(IRS + 151), 0);
    h.recv(seg(ACK, IRS + 151, Some(ISS + 1), stream(150, 300)))
        .unwrap()
        .is(ACK, ISS + 1, Some(IRS + 351), 0);
    // No hole is left, so this in-order data waits for the delayed ACK.
    assert_eq!(
        h.recv(seg(ACK, IRS + 351, Some(ISS + 1), stream(350, 550))),
        None
    );
    h.advance(ms(100));
    h.dispatch().unwrap().is(ACK, ISS + 1, Some(IRS + 551), 0);
    assert_eq!(read_all(&mut h), stream(0, 550));
}

#[test]
fn out_of_order_assembly_across_the_sequence_wrap() {
    let mut h = Harness::new(65536, 65536, plain_config());
    let irs = u32::MAX - 50;
    h.establish_active(ISS, irs);
    // Offsets 100..200 start past the wrap (irs + 1 + 100 = 50).
    h.recv(seg(ACK, 50, Some(ISS + 1), stream(100, 200)))
        .unwrap()
        .is(ACK, ISS + 1, Some(u32::MAX - 49), 0);
    h.recv(seg(ACK, u32::MAX - 49, Some(ISS + 1), stream(0, 100)))
        .unwrap()
        .is(ACK, ISS + 1, Some(150), 0);
    assert_eq!(read_all(&mut h), stream(0, 200));
}

#[test]
fn sending_segments_data_with_nagle() {
    let mut h = established();
    assert_eq!(h.socket.send_slice(bytes(3000)), Ok(3000));
    let sent = h.dispatch_all();
    assert_eq!(sent.len(), 3);
    sent[0].is(ACK, ISS + 1, Some(IRS + 1), 1460);
    sent[1].is(ACK, ISS + 1461, Some(IRS + 1), 1460);
    assert_eq!(sent[0].payload, stream(0, 1460));
    // Minshall's Nagle (Linux's): no short segment is in flight, so the
    // 80-byte tail goes at once instead of waiting for the ACK of the full
    // segments (which a delayed ACK would hold back).
    let tail = &sent[2];
    tail.is(ACK | PSH, ISS + 2921, Some(IRS + 1), 80);
    assert_eq!(tail.payload, stream(2920, 3000));
    h.expect_silence();
    // A second short segment waits while that one is unacknowledged...
    assert_eq!(h.socket.send_slice(bytes(10)), Ok(10));
    h.expect_silence();
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(ISS + 2921), b"")), None);
    h.expect_silence();
    // ...and goes once it is.
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(ISS + 3001), b"")), None);
    h.dispatch()
        .unwrap()
        .is(ACK | PSH, ISS + 3001, Some(IRS + 1), 10);
    assert_eq!(h.socket.send_queue(), 10);

    // Without Nagle short segments go back to back.
    let mut h = established();
    h.socket.set_nagle_enabled(false);
    h.socket.send_slice(bytes(3000)).unwrap();
    assert_eq!(h.dispatch_all().len(), 3);
    h.socket.send_slice(bytes(10)).unwrap();
    h.dispatch()
        .unwrap()
        .is(ACK | PSH, ISS + 3001, Some(IRS + 1), 10);
}

#[test]
fn sending_respects_the_peers_window() {
    let mut h = established();
    let mut small = seg(ACK, IRS + 1, Some(ISS + 1), b"");
    small.window_len = 1000;
    h.recv(small);
    h.socket.send_slice(bytes(3000)).unwrap();
    let sent = h.dispatch_all();
    assert_eq!(sent.len(), 1);
    sent[0].is(ACK, ISS + 1, Some(IRS + 1), 1000);
    let mut more = seg(ACK, IRS + 1, Some(ISS + 1001), b"");
    more.window_len = 1000;
    h.recv(more);
    h.dispatch()
        .unwrap()
        .is(ACK, ISS + 1001, Some(IRS + 1), 1000);
}

#[test]
fn the_user_api_reports_state() {
    let mut h = Harness::new(100, 100, plain_config());
    assert_eq!(h.socket.send_slice(b"x"), Err(SendError::InvalidState));
    assert_eq!(
        h.socket.recv_slice(&mut [0; 1]),
        Err(RecvError::InvalidState)
    );
    assert!(!h.socket.is_open() && !h.socket.may_send() && !h.socket.may_recv());
    h.connect(ISS);
    // Data queued in SYN_SENT goes once established (RFC 9293 3.10.2);
    // `may_send` and `can_send` wait for that, as smoltcp's do.
    assert!(!h.socket.may_send() && !h.socket.can_send());
    assert_eq!(h.socket.send_slice(b"early"), Ok(5));
    h.expect_silence();
    assert_eq!(h.socket.recv_slice(&mut [0; 4]), Ok(0));
    h.recv(with_mss(seg(SYN | ACK, IRS, Some(ISS + 1), b""), 1460))
        .unwrap();
    h.dispatch()
        .unwrap()
        .is(ACK | PSH, ISS + 1, Some(IRS + 1), 5);
    assert_eq!(h.socket.send_slice(&[1; 200]), Ok(95));
    assert!(!h.socket.can_send());
    assert_eq!(h.socket.send_queue(), 100);
    assert_eq!(h.socket.send_capacity(), 100);
    h.recv(seg(ACK, IRS + 1, Some(ISS + 1), b"hello"));
    assert!(h.socket.can_recv());
    assert_eq!(h.socket.peek(3), Ok(&b"hel"[..]));
    let mut two = [0; 2];
    assert_eq!(h.socket.peek_slice(&mut two), Ok(2));
    assert_eq!(
        h.socket.recv(|data| (data.len(), data.to_vec())),
        Ok(b"hello".to_vec())
    );
    assert_eq!(h.socket.recv_queue(), 0);
    assert_eq!(h.socket.send(|buf| (0, buf.len())), Ok(0));
}

#[test]
fn sender_silly_window_avoidance_without_nagle() {
    let mut h = established();
    h.socket.set_nagle_enabled(false);
    // The peer's largest window so far is 32767; it now offers 2000.
    let mut small = seg(ACK, IRS + 1, Some(ISS + 1), b"");
    small.window_len = 2000;
    h.recv(small);
    h.socket.send_slice(bytes(5000)).unwrap();
    let sent = h.dispatch_all();
    // A full segment, then 540 bytes: less than half the largest window
    // and not all the queued data, so it waits while data is in flight.
    assert_eq!(sent.len(), 1);
    sent[0].is(ACK, ISS + 1, Some(IRS + 1), 1460);
    // Once nothing is in flight the usable window is sent whatever its size.
    let mut acked = seg(ACK, IRS + 1, Some(ISS + 1461), b"");
    acked.window_len = 540;
    h.recv(acked);
    h.dispatch()
        .unwrap()
        .is(ACK, ISS + 1461, Some(IRS + 1), 540);
    h.expect_silence();
}

#[test]
fn a_configured_ack_delay_stays_below_500_ms() {
    let mut h = Harness::new(
        65536,
        65536,
        TcpConfig {
            ack_delay: Some(secs(3)),
            ..plain_config()
        },
    );
    h.establish_active(ISS, IRS);
    h.recv(seg(ACK, IRS + 1, Some(ISS + 1), b"x"));
    assert_eq!(h.poll_at(), PollAt::Time(Instant::ZERO + ms(499)));
}

#[test]
fn quick_ack_at_the_start_and_after_idle_then_delayed_acks() {
    let config = TcpConfig {
        quick_acks: 2,
        ..plain_config()
    };
    let mut h = Harness::new(65536, 65536, config);
    h.establish_active(ISS, IRS);
    // The first two in-order segments are ACKed at once...
    h.recv(seg(ACK, IRS + 1, Some(ISS + 1), stream(0, 100)))
        .unwrap()
        .is(ACK, ISS + 1, Some(IRS + 101), 0);
    h.recv(seg(ACK, IRS + 101, Some(ISS + 1), stream(100, 200)))
        .unwrap()
        .is(ACK, ISS + 1, Some(IRS + 201), 0);
    // ...then the delayed ACK takes over.
    assert_eq!(
        h.recv(seg(ACK, IRS + 201, Some(ISS + 1), stream(200, 300))),
        None
    );
    assert_eq!(h.poll_at(), PollAt::Time(h.now() + ms(100)));
    h.advance(ms(100));
    h.dispatch().unwrap().is(ACK, ISS + 1, Some(IRS + 301), 0);
    // After more than an RTO (1 s) without data, quick-ACK again.
    h.advance(ms(1001));
    h.recv(seg(ACK, IRS + 301, Some(ISS + 1), stream(300, 400)))
        .unwrap()
        .is(ACK, ISS + 1, Some(IRS + 401), 0);
    assert_eq!(read_all(&mut h), stream(0, 400));
}

#[test]
fn coalesced_acks_answer_a_burst_of_in_order_segments_once() {
    let mut h = Harness::new(65536, 65536, plain_config());
    h.establish_active(ISS, IRS);
    h.socket.set_ack_delay(None);
    h.cx.coalesce_acks = true;
    // Five in-order segments in one poll: no reply to any of them...
    for i in 0..5u32 {
        let seq = IRS + 1 + i * 1460;
        let data = stream(i as usize * 1460, (i as usize + 1) * 1460);
        assert_eq!(h.recv(seg(ACK, seq, Some(ISS + 1), data)), None);
    }
    // ...and one ACK for all of them from the dispatch that follows.
    assert_eq!(h.poll_at(), PollAt::Now);
    h.dispatch()
        .unwrap()
        .is(ACK, ISS + 1, Some(IRS + 1 + 5 * 1460), 0);
    h.expect_silence();
    // Out-of-order data is still answered at once (RFC 5681 4.2).
    let ahead = IRS + 1 + 6 * 1460;
    h.recv(seg(ACK, ahead, Some(ISS + 1), stream(6 * 1460, 7 * 1460)))
        .unwrap()
        .is(ACK, ISS + 1, Some(IRS + 1 + 5 * 1460), 0);
    assert_eq!(read_all(&mut h), stream(0, 5 * 1460));
}
