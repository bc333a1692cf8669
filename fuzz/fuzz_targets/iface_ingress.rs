//! Arbitrary frames into an interface that has a listener, an established
//! connection, a UDP socket and an ICMP echo socket with a request in
//! flight. Checks: no panic; the connection's own invariants hold; the UDP
//! socket stays bound with at most its queue's datagrams, and after the
//! fuzz frames a legitimate datagram still reaches it byte for byte; and
//! unless a fuzz frame got through TCP's checksum to a socket, the
//! established connection's data stream stays intact: a legitimate
//! in-order segment sent after the fuzz frames is delivered byte for byte.
//!
//! Input: frames, each a length byte and that many bytes (the rest when
//! short). The seed corpus (fuzz/corpus/iface_ingress, written by
//! tests/fuzz_corpus.rs) holds ARP, ICMP echo and TCP SYN (with options),
//! data, FIN and RST frames addressed to this interface and its connection,
//! and UDP datagrams (to the socket, with a zero and a bad checksum, to a
//! closed port, broadcast), an echo reply and an ICMP error quoting one of
//! our datagrams.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pollnet::socket::tcp::{State, TcpSocket};
use pollnet::socket::udp::UdpSocket;
use pollnet::wire::TcpFlags;
use pollnet_fuzz::world::{OUR_IP, UDP_PORT, UDP_QUEUE, World, simple_segment, udp_datagram};

fuzz_target!(|data: &[u8]| {
    let mut w = World::new(1, 4096).with_datagram_sockets();
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
    // The UDP socket: still bound, its queue within bounds; drained, it
    // takes a legitimate datagram byte for byte.
    let udp = w.udp.expect("the world has a UDP socket");
    let socket = w.sockets.get_mut::<UdpSocket>(udp).expect("still there");
    assert!(socket.is_bound());
    assert!(socket.recv_queue() <= UDP_QUEUE);
    while socket.recv().is_ok() {}
    let message = b"pollnet datagram intact";
    w.receive(udp_datagram(OUR_IP, 4000, UDP_PORT, message, false));
    let socket = w.sockets.get_mut::<UdpSocket>(udp).expect("still there");
    let (got, _) = socket.recv().expect("the datagram arrived");
    assert_eq!(got, message);

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
    let socket = w
        .sockets
        .get_mut::<TcpSocket>(conn.handle)
        .expect("still there");
    let mut buf = [0u8; 64];
    let n = socket.recv_slice(&mut buf).expect("readable");
    assert_eq!(&buf[..n], message);
});
