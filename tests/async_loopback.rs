//! The async API end to end: the `async_loopback` example's transfer is
//! byte-exact, and a listener's waker fires when (and only when) a
//! connection becomes ready to accept.

#[path = "../examples/common/async_transfer.rs"]
mod async_transfer;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Wake, Waker};

use sha2::{Digest, Sha256};

use pollnet::iface::{Config, Interface};
use pollnet::phy::Loopback;
use pollnet::socket::tcp::{SocketBuffer, TcpSocket};
use pollnet::socket::{ChildBuffers, SocketSet};
use pollnet::time::{Duration, Instant};
use pollnet::wire::{EthernetAddress, IpEndpoint, Ipv4Address, Ipv4Cidr};

#[test]
fn the_async_transfer_is_byte_exact() {
    let len = 3 << 20;
    let outcome = async_transfer::transfer(len, 42).expect("the transfer completes");
    assert_eq!(outcome.sent.len(), len);
    assert_eq!(outcome.sent, async_transfer::pattern(len, 42));
    assert_eq!(outcome.received.len(), len);
    assert!(
        outcome.received == outcome.sent,
        "the server read other bytes"
    );
    // The server's digest came back over the connection intact.
    assert_eq!(
        outcome.echoed_digest,
        Sha256::digest(&outcome.sent).as_slice()
    );
    // The runners slept on the clock (timers, arrivals) rather than spin,
    // and the virtual time is that of a 2 ms round trip, not of timeouts.
    assert!(outcome.clock_advances > 0);
    assert!(outcome.elapsed > Duration::ZERO);
    assert!(
        outcome.elapsed < Duration::from_secs(5),
        "{}",
        outcome.elapsed
    );
    // Dropping the streams and the listener gave every socket back.
    assert_eq!(outcome.sockets_left, 0);
}

#[test]
fn small_and_empty_transfers_are_exact_too() {
    for len in [0, 1, 1459, 1460, 65536 + 17] {
        let outcome = async_transfer::transfer(len, 7).expect("the transfer completes");
        assert_eq!(outcome.received, outcome.sent, "{len} bytes");
        assert_eq!(outcome.sockets_left, 0, "{len} bytes");
        assert_eq!(
            outcome.echoed_digest,
            Sha256::digest(&outcome.sent).as_slice()
        );
    }
}

/// A waker counting its wakes.
#[derive(Default)]
struct Counter(AtomicUsize);

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn a_listener_is_woken_when_a_connection_is_ready_to_accept() {
    let host = |n: u8| {
        let ip = Ipv4Cidr::new(Ipv4Address::new(192, 0, 2, n), 24).unwrap();
        let config = Config::new(EthernetAddress([2, 0, 0, 0, 0, n]), u128::from(n)).with_ip(ip);
        (Interface::new(config).unwrap(), SocketSet::with_capacity(4))
    };
    let new_socket = || {
        TcpSocket::new(
            SocketBuffer::new(vec![0; 4096]),
            SocketBuffer::new(vec![0; 4096]),
        )
    };
    let (mut client, mut client_sockets) = host(1);
    let (mut server, mut server_sockets) = host(2);
    let (mut client_link, mut server_link) = Loopback::pair(1500, Duration::from_millis(1));
    let listener = server_sockets.add(new_socket()).unwrap();
    server_sockets
        .listen(listener, 80, 4, ChildBuffers::Alloc { rx: 4096, tx: 4096 })
        .unwrap();
    let counter = Arc::new(Counter::default());
    let waker = Waker::from(counter.clone());
    server_sockets
        .get_mut::<TcpSocket>(listener)
        .unwrap()
        .register_recv_waker(&waker);

    let mut now = Instant::ZERO;
    let conn = client_sockets.add(new_socket()).unwrap();
    let remote = IpEndpoint::new(Ipv4Address::new(192, 0, 2, 2).into(), 80);
    client
        .connect(&mut client_sockets, conn, remote, now)
        .unwrap();
    let mut accepted = None;
    for _ in 0..100 {
        client.poll(now, &mut client_link, &mut client_sockets);
        server.poll(now, &mut server_link, &mut server_sockets);
        let wakes = counter.0.load(Ordering::Relaxed);
        match server_sockets.accept(listener) {
            // The wake came with the connection, not before or after.
            Some(child) => {
                assert_eq!(wakes, 1, "woken once, when the connection queued");
                accepted = Some(child);
                break;
            }
            None => assert_eq!(wakes, 0, "woken with nothing to accept"),
        }
        let next = [
            client.poll_at(&client_sockets),
            server.poll_at(&server_sockets),
            client_link.next_arrival(),
            server_link.next_arrival(),
        ];
        now = now.max(
            next.into_iter()
                .flatten()
                .min()
                .expect("something is pending"),
        );
    }
    assert!(accepted.is_some(), "the connection was accepted");
}
