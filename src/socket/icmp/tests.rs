//! The ICMP echo socket alone (sans-IO): matching, RTT, in-flight table.

extern crate std;
use std::vec;
use std::vec::Vec;

use super::*;
use crate::socket::tcp::IsnGenerator;

const PEER: IpAddress = IpAddress::v4(192, 0, 2, 9);

fn socket() -> IcmpSocket<'static> {
    IcmpSocket::new(
        PacketBuffer::new(vec![IcmpRxMetadata::EMPTY; 4], vec![0u8; 256]),
        PacketBuffer::new(vec![IcmpTxMetadata::EMPTY; 16], vec![0u8; 256]),
    )
}

fn cx(ms: i64) -> Context {
    Context::new(Instant::from_millis(ms), IsnGenerator::new([0; 16]))
}

fn send_all(s: &mut IcmpSocket, ms: i64) -> Vec<(IpAddress, u16, u16, Vec<u8>)> {
    let mut out = Vec::new();
    let mut c = cx(ms);
    while s
        .dispatch(&mut c, |_, e| {
            out.push((e.dst, e.ident, e.seq_no, e.data.to_vec()));
            Ok::<(), ()>(())
        })
        .unwrap()
    {}
    out
}

#[test]
fn requests_carry_the_identifier_and_replies_their_rtt() {
    let mut s = socket();
    assert_eq!(s.send_echo(PEER, 1, b"x"), Err(SendError::Unbound));
    s.bind(7).unwrap();
    assert_eq!(s.bind(8), Err(BindError::InvalidState));
    assert_eq!(
        s.send_echo(IpAddress::v4(0, 0, 0, 0), 1, b"x"),
        Err(SendError::Unaddressable)
    );
    s.send_echo(PEER, 1, b"one").unwrap();
    s.send_echo(PEER, 2, b"two").unwrap();
    assert_eq!(s.poll_at(&cx(0)), PollAt::Now);
    assert_eq!(
        send_all(&mut s, 100),
        [(PEER, 7, 1, b"one".to_vec()), (PEER, 7, 2, b"two".to_vec())]
    );
    assert_eq!(s.in_flight(), 2);
    // Seq 2 answers first, then seq 1; a reply from another host for seq
    // 1 does not match.
    assert!(s.process_reply(&mut cx(130), PEER, 2, b"two"));
    assert!(!s.process_reply(&mut cx(140), IpAddress::v4(192, 0, 2, 8), 1, b"one"));
    assert!(s.process_reply(&mut cx(150), PEER, 1, b"one"));
    let (r, data) = s.recv().unwrap();
    assert_eq!(
        (r.seq_no, r.rtt(), data),
        (2, Duration::from_millis(30), &b"two"[..])
    );
    let (r, _) = s.recv().unwrap();
    assert_eq!((r.seq_no, r.rtt()), (1, Duration::from_millis(50)));
    assert_eq!(s.unmatched(), 1);
}

#[test]
fn the_in_flight_table_is_bounded_and_expires() {
    let mut s = socket();
    s.bind(7).unwrap();
    for seq in 0..(IN_FLIGHT as u16 + 2) {
        s.send_echo(PEER, seq, b"").unwrap();
    }
    send_all(&mut s, 0);
    assert_eq!(s.in_flight(), IN_FLIGHT);
    // The two oldest were forgotten for the newest.
    assert!(!s.process_reply(&mut cx(1), PEER, 0, b""));
    assert!(!s.process_reply(&mut cx(1), PEER, 1, b""));
    assert!(s.process_reply(&mut cx(1), PEER, IN_FLIGHT as u16 + 1, b""));
    s.expire(Instant::from_millis(1));
    assert_eq!(s.in_flight(), 0);
}

#[test]
fn a_full_receive_queue_drops_replies() {
    let mut s = socket();
    s.bind(7).unwrap();
    for seq in 0..6 {
        s.send_echo(PEER, seq, b"").unwrap();
    }
    send_all(&mut s, 0);
    for seq in 0..6 {
        s.process_reply(&mut cx(1), PEER, seq, b"");
    }
    assert_eq!(s.rx_dropped(), 2);
}
