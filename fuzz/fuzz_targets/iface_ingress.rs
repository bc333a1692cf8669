//! Arbitrary frames into an interface that has a listener and an
//! established connection. Checks: no panic; the connection's own
//! invariants hold; and unless a fuzz frame got through TCP's checksum to a
//! socket, the established connection's data stream stays intact: a
//! legitimate in-order segment sent after the fuzz frames is delivered
//! byte for byte.
//!
//! Input: frames, each a length byte and that many bytes (the rest when
//! short). The seed corpus (fuzz/corpus/iface_ingress, written by
//! tests/fuzz_corpus.rs) holds ARP, ICMP echo and TCP SYN (with options),
//! data, FIN and RST frames addressed to this interface and its connection.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pollnet::socket::tcp::{State, TcpSocket};
use pollnet::wire::TcpFlags;
use pollnet_fuzz::world::{World, simple_segment};

fuzz_target!(|data: &[u8]| {
    let mut w = World::new(1, 4096);
    let conn = w.conns[0];
    let received_before = w.iface.stats().tcp_segments_received;
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let take = usize::from(len).min(tail.len());
        w.receive(tail[..take].to_vec());
        rest = &tail[take..];
        if let Some(socket) = w.sockets.get::<TcpSocket>(conn.handle) {
            if let Err(broken) = socket.debug_invariants() {
                panic!("invariant broken: {broken}");
            }
        }
    }
    let fuzz_reached_tcp = w.iface.stats().tcp_segments_received != received_before;
    let listener_state = w.sockets.get::<TcpSocket>(w.listener).map(|s| s.state());
    assert_eq!(
        listener_state,
        Some(State::Listen),
        "the listener keeps listening"
    );

    let socket = w
        .sockets
        .get::<TcpSocket>(conn.handle)
        .expect("accepted sockets stay until removed");
    if fuzz_reached_tcp || socket.state() != State::Established {
        return;
    }
    // No fuzz frame reached TCP: the stream must be exactly as before.
    let message = b"pollnet stream intact";
    w.receive(simple_segment(
        conn.port,
        conn.peer_isn.wrapping_add(1),
        conn.iss + 1,
        TcpFlags::ACK | TcpFlags::PSH,
        message,
    ));
    let socket = w.sockets.get_mut::<TcpSocket>(conn.handle).expect("still there");
    let mut buf = [0u8; 64];
    let n = socket.recv_slice(&mut buf).expect("readable");
    assert_eq!(&buf[..n], message);
});
