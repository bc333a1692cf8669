//! ACK policy through the interface, on a virtual clock: a burst of
//! in-order segments taken in by one poll draws exactly one ACK, and
//! sequential request/response exchanges with the default settings (Nagle
//! on, 100 ms delayed ACK) never wait for the delayed-ACK timer.

mod common;

use common::*;
use pollnet::phy::{LinkEnd, Loopback};

use pollnet::socket::tcp::{State, TcpConfig, TcpSocket};
use pollnet::socket::{ChildBuffers, SocketHandle};
use pollnet::time::{Duration, Instant};
use pollnet::wire::{IpAddress, IpEndpoint};

const PORT: u16 = 8080;

/// A client and a server over a link with `delay` each way, connected;
/// returns the net and the client's and server's sockets.
fn connected(
    tcp: TcpConfig,
    delay: Duration,
) -> (Net<Tap<LinkEnd>, Tap<LinkEnd>>, SocketHandle, SocketHandle) {
    let (a, b) = Loopback::pair(1500, delay);
    let (a, b) = (
        Tap::new(a, "C", trace_port()),
        Tap::new(b, "S", trace_port()),
    );
    let mut net = Net {
        client: Host::new(a, 1, CLIENT_IP, 1, tcp, 4),
        server: Host::new(b, 2, SERVER_IP, 2, tcp, 4),
        now: Instant::ZERO,
    };
    let listener = net.server.sockets.add(socket(tcp, 64, 64)).unwrap();
    let children = ChildBuffers::Alloc {
        rx: 64 * 1024,
        tx: 64 * 1024,
    };
    net.server
        .sockets
        .listen(listener, PORT, 1, children)
        .unwrap();
    let client = net
        .client
        .sockets
        .add(socket(tcp, 64 * 1024, 64 * 1024))
        .unwrap();
    let server_ep = IpEndpoint::new(IpAddress::Ipv4(SERVER_IP), PORT);
    net.client
        .iface
        .connect(&mut net.client.sockets, client, server_ep, net.now)
        .unwrap();
    let mut server = None;
    for _ in 0..1000 {
        net.step(Duration::from_millis(10));
        if server.is_none() {
            server = net.server.sockets.accept(listener);
        }
        let up = net.client.sockets.get::<TcpSocket>(client).unwrap().state() == State::Established;
        if up && server.is_some() {
            break;
        }
    }
    (net, client, server.expect("the handshake completes"))
}

#[test]
fn a_burst_of_in_order_segments_taken_in_by_one_poll_draws_one_ack() {
    // ACK delay off: before coalescing this ACKed every segment.
    let mut tcp = tcp_config();
    tcp.ack_delay = None;
    let (mut net, client, server) = connected(tcp, Duration::from_millis(5));
    net.settle();
    let acks_before = net.server.device.inner.stats().transmitted;
    // Ten full-sized segments (the initial window: 1448 bytes each beside
    // timestamps) leave in one client poll and arrive together, 5 ms later.
    let data: Vec<u8> = (0..14_480).map(|i| stream_byte(7, i)).collect();
    let c = net.client.sockets.get_mut::<TcpSocket>(client).unwrap();
    assert_eq!(c.send_slice(&data), Ok(data.len()));
    assert!(net.client.poll(net.now));
    let sent = net.client.device.inner.stats().transmitted;
    net.now += Duration::from_millis(5);
    // One server poll takes in all ten segments...
    net.server.poll(net.now);
    let s = net.server.sockets.get_mut::<TcpSocket>(server).unwrap();
    assert_eq!(s.recv_queue(), 14_480);
    // ...and sends exactly one ACK, which covers them all.
    assert_eq!(net.server.device.inner.stats().transmitted - acks_before, 1);
    assert!(sent >= 10, "the client sent {sent} frames");
    net.now += Duration::from_millis(5);
    net.settle();
    let c = net.client.sockets.get::<TcpSocket>(client).unwrap();
    assert_eq!(c.send_queue(), 0, "the one ACK acknowledged everything");
    let mut got = vec![0u8; data.len()];
    let s = net.server.sockets.get_mut::<TcpSocket>(server).unwrap();
    assert_eq!(s.recv_slice(&mut got), Ok(data.len()));
    assert_eq!(got, data);
}

#[test]
fn ingress_one_frame_at_a_time_then_egress_sends_the_one_ack() {
    let mut tcp = tcp_config();
    tcp.ack_delay = None;
    let (mut net, client, server) = connected(tcp, Duration::from_millis(5));
    net.settle();
    let acks_before = net.server.device.inner.stats().transmitted;
    let data: Vec<u8> = (0..4 * 1448).map(|i| stream_byte(3, i)).collect();
    let c = net.client.sockets.get_mut::<TcpSocket>(client).unwrap();
    assert_eq!(c.send_slice(&data), Ok(data.len()));
    assert!(net.client.poll(net.now));
    net.now += Duration::from_millis(5);
    let host = &mut net.server;
    // Each call takes in exactly one segment and sends nothing.
    for taken in 1..=4 {
        assert!(
            host.iface
                .poll_ingress_single(net.now, &mut host.device, &mut host.sockets)
        );
        let s = host.sockets.get::<TcpSocket>(server).unwrap();
        assert_eq!(s.recv_queue(), taken * 1448);
        assert_eq!(host.device.inner.stats().transmitted, acks_before);
        // More may wait: poll again at once.
        assert_eq!(host.iface.poll_at(&host.sockets), Some(net.now));
    }
    // The device is empty now: nothing received, and the ACK is due.
    assert!(
        !host
            .iface
            .poll_ingress_single(net.now, &mut host.device, &mut host.sockets)
    );
    assert_eq!(host.iface.poll_at(&host.sockets), Some(net.now));
    // Egress sends the one ACK for all four, and then has nothing to send.
    assert!(
        host.iface
            .poll_egress(net.now, &mut host.device, &mut host.sockets)
    );
    assert_eq!(host.device.inner.stats().transmitted - acks_before, 1);
    assert!(
        !host
            .iface
            .poll_egress(net.now, &mut host.device, &mut host.sockets)
    );
    net.now += Duration::from_millis(5);
    net.settle();
    let c = net.client.sockets.get::<TcpSocket>(client).unwrap();
    assert_eq!(c.send_queue(), 0, "the one ACK acknowledged everything");
    let mut got = vec![0u8; data.len()];
    let s = net.server.sockets.get_mut::<TcpSocket>(server).unwrap();
    assert_eq!(s.recv_slice(&mut got), Ok(data.len()));
    assert_eq!(got, data);
}

#[test]
fn sequential_requests_with_default_settings_never_wait_for_a_delayed_ack() {
    // The library's defaults: Nagle on, 100 ms delayed ACK, quick-ACK.
    let tcp = TcpConfig::default();
    let (mut net, client, server) = connected(tcp, Duration::from_micros(500));
    const REQUESTS: usize = 100;
    for i in 0..REQUESTS {
        let started = net.now;
        let request = [b'q'; 40];
        // Responses of 1 to 4 full segments plus a short tail: the tail is
        // where classic Nagle waits for the ACK of the full segments.
        let response: Vec<u8> = (0..(1460 * (1 + i % 4) + 100 + i))
            .map(|n| stream_byte(i as u64, n))
            .collect();
        let c = net.client.sockets.get_mut::<TcpSocket>(client).unwrap();
        assert_eq!(c.send_slice(&request), Ok(request.len()));
        let (mut asked, mut got) = (false, Vec::new());
        for _ in 0..10_000 {
            net.step(Duration::from_millis(1));
            let s = net.server.sockets.get_mut::<TcpSocket>(server).unwrap();
            if !asked && s.recv_queue() == request.len() {
                let mut buf = [0u8; 40];
                s.recv_slice(&mut buf).unwrap();
                assert_eq!(s.send_slice(&response), Ok(response.len()));
                asked = true;
            }
            let c = net.client.sockets.get_mut::<TcpSocket>(client).unwrap();
            let mut buf = [0u8; 8192];
            let n = c.recv_slice(&mut buf).unwrap();
            got.extend_from_slice(&buf[..n]);
            if got.len() == response.len() {
                break;
            }
        }
        assert_eq!(got, response, "response {i}");
        let took = net.now - started;
        // A few round trips of 1 ms; a delayed-ACK wait would be 100 ms.
        assert!(
            took < Duration::from_millis(20),
            "request {i} took {took}: it waited for a delayed ACK"
        );
    }
}
