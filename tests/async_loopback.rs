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

use std::cell::RefCell;
use std::rc::Rc;

use async_transfer::{PORT, Rig, SERVER_IP, new_socket};
use embedded_io_async::Error as _;
use pollnet::asynch::Error;
use pollnet::socket::tcp::TcpError;

fn server_at(port: u16) -> IpEndpoint {
    IpEndpoint::new(SERVER_IP.into(), port)
}

fn children() -> ChildBuffers<'static> {
    ChildBuffers::Alloc {
        rx: async_transfer::BUFFER,
        tx: async_transfer::BUFFER,
    }
}

#[test]
fn connecting_to_a_closed_port_fails_with_refused() {
    let mut rig = Rig::new(3).unwrap();
    let outcome = Rc::new(RefCell::new(None));
    let (client, result) = (rig.client, outcome.clone());
    rig.spawn(async move {
        let attempt = client.connect(new_socket(), server_at(9)).await.map(drop);
        *result.borrow_mut() = Some(attempt);
    })
    .unwrap();
    rig.run_until(Duration::from_secs(10), |_| outcome.borrow().is_some())
        .unwrap();
    let error = outcome.borrow().unwrap().unwrap_err();
    assert_eq!(error, Error::Connection(TcpError::Refused));
    assert_eq!(
        error.kind(),
        embedded_io_async::ErrorKind::ConnectionRefused
    );
    // The failed attempt's socket left the set.
    assert_eq!(rig.client.with(|_, s, _| s.len()), 0);
}

#[test]
fn a_reset_ends_a_pending_read_and_later_writes() {
    let mut rig = Rig::new(4).unwrap();
    let outcome = Rc::new(RefCell::new(Vec::new()));
    let server = rig.server;
    rig.spawn(async move {
        let listener = server.listen(new_socket(), PORT, 1, children()).unwrap();
        let mut conn = listener.accept().await.unwrap();
        let mut byte = [0];
        assert_eq!(conn.read(&mut byte).await, Ok(1));
        conn.abort();
    })
    .unwrap();
    let (client, result) = (rig.client, outcome.clone());
    rig.spawn(async move {
        let mut conn = client.connect(new_socket(), server_at(PORT)).await.unwrap();
        conn.write(b"x").await.unwrap();
        // Waits in read until the server's RST arrives.
        let read = conn.read(&mut [0; 8]).await;
        let write = conn.write(b"more").await;
        result
            .borrow_mut()
            .extend([read.map(drop), write.map(drop)]);
    })
    .unwrap();
    rig.run_until(Duration::from_secs(10), |_| outcome.borrow().len() == 2)
        .unwrap();
    let reset = Err(Error::Connection(TcpError::Reset));
    assert_eq!(*outcome.borrow(), [reset, reset]);
    assert_eq!(
        Error::Connection(TcpError::Reset).kind(),
        embedded_io_async::ErrorKind::ConnectionReset
    );
}

#[test]
fn shutdown_waits_for_the_fin_to_be_acknowledged_and_ends_writing() {
    let mut rig = Rig::new(5).unwrap();
    let outcome = Rc::new(RefCell::new(None));
    let server = rig.server;
    rig.spawn(async move {
        let listener = server.listen(new_socket(), PORT, 1, children()).unwrap();
        let mut conn = listener.accept().await.unwrap();
        // Read to the end, then answer: the half-closed client still reads.
        let mut got = Vec::new();
        let mut buf = [0; 64];
        loop {
            let n = conn.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        conn.write(&got).await.unwrap();
        conn.close().await.unwrap();
    })
    .unwrap();
    let (client, result) = (rig.client, outcome.clone());
    rig.spawn(async move {
        let mut conn = client.connect(new_socket(), server_at(PORT)).await.unwrap();
        conn.write(b"ping").await.unwrap();
        conn.shutdown().await.unwrap();
        let state = conn.with_socket(|s| (s.state(), s.send_queue()));
        let write = conn.write(b"late").await;
        let mut echo = [0; 4];
        embedded_io_async::Read::read_exact(&mut conn, &mut echo)
            .await
            .unwrap();
        let end = conn.read(&mut [0; 4]).await;
        *result.borrow_mut() = Some((state, write, echo, end));
    })
    .unwrap();
    rig.run_until(Duration::from_secs(10), |_| outcome.borrow().is_some())
        .unwrap();
    let (state, write, echo, end) = outcome.borrow_mut().take().unwrap();
    use pollnet::socket::tcp::State;
    // shutdown resolved once our FIN (after the data) was acknowledged:
    // FIN_WAIT_2, or TIME_WAIT when the server's answer and FIN came with
    // that acknowledgment.
    let (state, unsent) = state.unwrap();
    assert!(
        matches!(state, State::FinWait2 | State::TimeWait),
        "{state}"
    );
    assert_eq!(unsent, 0);
    assert_eq!(write, Err(Error::Closed));
    assert_eq!(&echo, b"ping");
    assert_eq!(end, Ok(0));
}

use pollnet::socket::icmp::{
    IcmpRxBuffer, IcmpRxMetadata, IcmpSocket, IcmpTxBuffer, IcmpTxMetadata,
};
use pollnet::socket::udp::{UdpPacketBuffer, UdpPacketMetadata, UdpSocket};
use pollnet::wire::IpAddress;

fn new_udp_socket() -> UdpSocket<'static> {
    let buffer = || UdpPacketBuffer::new(vec![UdpPacketMetadata::EMPTY; 4], vec![0u8; 16384]);
    UdpSocket::new(buffer(), buffer())
}

fn new_icmp_socket() -> IcmpSocket<'static> {
    IcmpSocket::new(
        IcmpRxBuffer::new(vec![IcmpRxMetadata::EMPTY; 4], vec![0u8; 2048]),
        IcmpTxBuffer::new(vec![IcmpTxMetadata::EMPTY; 4], vec![0u8; 2048]),
    )
}

/// What the client task saw, in order.
#[derive(Debug, Default)]
struct DatagramOutcome {
    /// Each echoed datagram's bytes and sender.
    echoes: Vec<(Vec<u8>, IpEndpoint)>,
    /// What a datagram to a closed port drew.
    closed_port: Option<Result<usize, Error>>,
    /// The ping's reply: who, which sequence number, the round trip, the
    /// data.
    ping: Option<(IpAddress, u16, Duration, Vec<u8>)>,
    sockets_left_after_drop: Option<usize>,
}

#[test]
fn a_udp_echo_and_a_ping_are_byte_exact_over_two_async_stacks() {
    let mut rig = Rig::new(6).unwrap();
    let outcome = Rc::new(RefCell::new(DatagramOutcome::default()));
    let server = rig.server;
    rig.spawn(async move {
        let mut socket = server.bind_udp(new_udp_socket(), PORT).unwrap();
        let mut buf = vec![0u8; 8192];
        loop {
            let (len, meta) = socket.recv_from(&mut buf).await.unwrap();
            socket.send_to(&buf[..len], meta.remote).await.unwrap();
        }
    })
    .unwrap();
    let (client, result) = (rig.client, outcome.clone());
    rig.spawn(async move {
        let mut socket = client.bind_udp(new_udp_socket(), 0).unwrap();
        let mut buf = vec![0u8; 8192];
        // One small datagram, then one in three fragments (MTU 1500).
        for len in [5, 4000] {
            let data = async_transfer::pattern(len, len as u64);
            socket.send_to(&data, server_at(PORT)).await.unwrap();
            let (got, meta) = socket.recv_from(&mut buf).await.unwrap();
            result
                .borrow_mut()
                .echoes
                .push((buf[..got].to_vec(), meta.remote));
        }
        // Nothing listens on port 9: the port unreachable ends the wait.
        socket.send_to(b"anyone?", server_at(9)).await.unwrap();
        let closed = socket.recv_from(&mut buf).await.map(|(len, _)| len);
        result.borrow_mut().closed_port = Some(closed);
        drop(socket);
        let mut ping = client.bind_icmp(new_icmp_socket(), None).unwrap();
        let data = async_transfer::pattern(56, 56);
        ping.send_echo(SERVER_IP.into(), 1, &data).await.unwrap();
        let mut reply_data = [0u8; 64];
        let (reply, len) = ping.recv(&mut reply_data).await.unwrap();
        drop(ping);
        let left = client.with(|_, sockets, _| sockets.len());
        let mut result = result.borrow_mut();
        result.ping = Some((
            reply.from,
            reply.seq_no,
            reply.rtt(),
            reply_data[..len].to_vec(),
        ));
        result.sockets_left_after_drop = Some(left);
    })
    .unwrap();
    rig.run_until(Duration::from_secs(10), |_| {
        outcome.borrow().sockets_left_after_drop.is_some()
    })
    .unwrap();
    let outcome = outcome.borrow();
    assert_eq!(
        outcome.echoes,
        [
            (async_transfer::pattern(5, 5), server_at(PORT)),
            (async_transfer::pattern(4000, 4000), server_at(PORT)),
        ]
    );
    let Some(Err(Error::Icmp(report))) = outcome.closed_port else {
        panic!("{:?}", outcome.closed_port);
    };
    assert!(report.is_port_unreachable());
    assert_eq!(report.remote, server_at(9));
    assert_eq!(report.reporter, IpAddress::from(SERVER_IP));
    // Both ends know each other's MAC by then: the round trip is the
    // link's 1 ms each way, exactly, on the virtual clock.
    let (from, seq_no, rtt, data) = outcome.ping.clone().unwrap();
    assert_eq!(from, IpAddress::from(SERVER_IP));
    assert_eq!(seq_no, 1);
    assert_eq!(rtt, Duration::from_millis(2));
    assert_eq!(data, async_transfer::pattern(56, 56));
    assert_eq!(outcome.sockets_left_after_drop, Some(0));
    let stats = rig.server.with(|iface, _, _| iface.stats());
    assert_eq!(stats.udp_datagrams_received, 2);
    assert_eq!(stats.udp_datagrams_sent, 2);
    assert_eq!(stats.icmp_port_unreachable_sent, 1);
    assert_eq!(stats.icmp_echo_replies, 1);
    assert_eq!(stats.reassembly.reassembled, 1);
}
