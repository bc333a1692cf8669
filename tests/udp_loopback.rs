//! Two pollnet stacks over an in-memory link exchanging UDP datagrams
//! byte-exact (200 sizes from 0 bytes to the MTU, and fragmented ones above it), pinging each other, broadcasting,
//! and reporting a port unreachable, on the virtual clock.

mod common;

use common::*;
use pollnet::phy::{LinkEnd, Loopback};
use pollnet::socket::SocketHandle;
use pollnet::socket::icmp::{IcmpRxMetadata, IcmpSocket, IcmpTxMetadata};
use pollnet::socket::udp::{UdpMetadata, UdpPacketBuffer, UdpPacketMetadata, UdpSocket};
use pollnet::storage::PacketBuffer;
use pollnet::time::{Duration, Instant};
use pollnet::wire::{IpAddress, IpEndpoint, Ipv4Address};

const LATENCY: Duration = Duration::from_millis(2);
const ECHO_PORT: u16 = 7;
/// The largest UDP payload in one 1500-byte IPv4 packet.
const MAX_UNFRAGMENTED: usize = 1500 - 20 - 8;

fn net() -> Net<LinkEnd, LinkEnd> {
    let (a, b) = Loopback::pair(1500, LATENCY);
    Net {
        client: Host::new(a, 1, CLIENT_IP, 11, tcp_config(), 4),
        server: Host::new(b, 2, SERVER_IP, 22, tcp_config(), 4),
        now: Instant::ZERO,
    }
}

fn udp_socket(slots: usize, bytes: usize) -> UdpSocket<'static> {
    let buffer = || UdpPacketBuffer::new(vec![UdpPacketMetadata::EMPTY; slots], vec![0u8; bytes]);
    UdpSocket::new(buffer(), buffer())
}

fn server_endpoint(port: u16) -> IpEndpoint {
    IpEndpoint::new(IpAddress::Ipv4(SERVER_IP), port)
}

/// Payload `i` of the exchange: its size and bytes depend on `i`.
fn payload(i: usize) -> Vec<u8> {
    let len = match i {
        0 => 0,
        1 => 1,
        2 => MAX_UNFRAGMENTED,
        _ => (i * 7919) % MAX_UNFRAGMENTED + 1,
    };
    (0..len)
        .map(|offset| stream_byte(i as u64, offset))
        .collect()
}

/// Runs the clock until `done` or `limit` of virtual time.
fn run_until(
    net: &mut Net<LinkEnd, LinkEnd>,
    limit: Duration,
    mut done: impl FnMut(&mut Net<LinkEnd, LinkEnd>) -> bool,
) {
    let end = net.now + limit;
    while net.now < end {
        if done(net) {
            return;
        }
        if !net.step(Duration::from_millis(50)) {
            net.now += Duration::from_millis(50);
        }
    }
    assert!(done(net), "not done by {}", net.now);
}

#[test]
fn datagrams_from_empty_to_the_mtu_echo_byte_exact() {
    let mut net = net();
    let server = net.server.sockets.add(udp_socket(8, 16 * 1024)).unwrap();
    net.server
        .iface
        .udp_bind(&mut net.server.sockets, server, ECHO_PORT)
        .unwrap();
    let client = net.client.sockets.add(udp_socket(8, 16 * 1024)).unwrap();
    let local = net
        .client
        .iface
        .udp_connect(&mut net.client.sockets, client, server_endpoint(ECHO_PORT))
        .unwrap();
    assert_eq!(local.addr, IpAddress::Ipv4(CLIENT_IP));

    const COUNT: usize = 200;
    let mut sent = 0;
    let mut received = 0;
    run_until(&mut net, Duration::from_secs(60), |net| {
        // The server echoes whatever it gets to its sender.
        let s = net.server.sockets.get_mut::<UdpSocket>(server).unwrap();
        while let Ok((data, meta)) = s.peek() {
            let (data, meta) = (data.to_vec(), *meta);
            assert_eq!(meta.remote, local);
            assert_eq!(meta.local_address, Some(IpAddress::Ipv4(SERVER_IP)));
            if s.send_to(&data, meta.remote).is_err() {
                break;
            }
            s.recv().unwrap();
        }
        // The client keeps a few in flight and checks each echo in order.
        let c = net.client.sockets.get_mut::<UdpSocket>(client).unwrap();
        while let Ok((data, meta)) = c.recv() {
            assert_eq!(meta.remote, server_endpoint(ECHO_PORT));
            assert_eq!(data, payload(received), "datagram {received}");
            received += 1;
        }
        while sent < COUNT && sent < received + 4 && c.send_connected(&payload(sent)).is_ok() {
            sent += 1;
        }
        received == COUNT
    });
    let (c, s) = (net.client.iface.stats(), net.server.iface.stats());
    assert_eq!((c.udp_datagrams_sent, c.udp_datagrams_received), (200, 200));
    assert_eq!((s.udp_datagrams_sent, s.udp_datagrams_received), (200, 200));
    assert_eq!(c.rx_drop_udp_checksum + s.rx_drop_udp_checksum, 0);
    assert_eq!(c.tx_drop_udp + s.tx_drop_udp, 0);
}

#[test]
fn datagrams_larger_than_the_mtu_go_in_fragments_and_arrive_byte_exact() {
    // RFC 791: without DF, a datagram above the MTU leaves in fragments
    // of 1480 payload bytes (the last shorter) and the peer reassembles it.
    let mut net = net();
    let server = net.server.sockets.add(udp_socket(4, 64 * 1024)).unwrap();
    net.server
        .iface
        .udp_bind(&mut net.server.sockets, server, 9)
        .unwrap();
    let client = net.client.sockets.add(udp_socket(4, 64 * 1024)).unwrap();
    net.client
        .iface
        .udp_bind(&mut net.client.sockets, client, 0)
        .unwrap();
    let sizes = [MAX_UNFRAGMENTED + 1, 20_000];
    let datagrams: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(i, &len)| {
            (0..len)
                .map(|offset| stream_byte(100 + i as u64, offset))
                .collect()
        })
        .collect();
    let c = net.client.sockets.get_mut::<UdpSocket>(client).unwrap();
    for datagram in &datagrams {
        c.send_to(datagram, server_endpoint(9)).unwrap();
    }
    let mut received = Vec::new();
    run_until(&mut net, Duration::from_secs(5), |net| {
        let s = net.server.sockets.get_mut::<UdpSocket>(server).unwrap();
        while let Ok((data, _)) = s.recv() {
            received.push(data.to_vec());
        }
        received.len() == datagrams.len()
    });
    assert_eq!(received, datagrams);
    let (c, s) = (net.client.iface.stats(), net.server.iface.stats());
    // 1481 UDP bytes: 1480 + 1; 20,008: 13 * 1480 + 768.
    assert_eq!((c.tx_fragmented, c.tx_fragments), (2, 2 + 14));
    assert_eq!((c.tx_drop_udp, c.tx_drop_too_big), (0, 0));
    assert_eq!(s.reassembly.reassembled, 2);
}

#[test]
fn a_closed_port_on_the_peer_surfaces_as_a_port_unreachable() {
    let mut net = net();
    let client = net.client.sockets.add(udp_socket(2, 1024)).unwrap();
    net.client
        .iface
        .udp_bind(&mut net.client.sockets, client, 5000)
        .unwrap();
    net.client
        .sockets
        .get_mut::<UdpSocket>(client)
        .unwrap()
        .send_to(b"knock knock", server_endpoint(9999))
        .unwrap();
    run_until(&mut net, Duration::from_secs(5), |net| {
        net.client
            .sockets
            .get::<UdpSocket>(client)
            .unwrap()
            .error()
            .is_some()
    });
    let error = net
        .client
        .sockets
        .get_mut::<UdpSocket>(client)
        .unwrap()
        .take_error()
        .unwrap();
    assert!(error.is_port_unreachable());
    assert_eq!(error.remote, server_endpoint(9999));
    assert_eq!(error.reporter, IpAddress::Ipv4(SERVER_IP));
    assert_eq!(net.server.iface.stats().icmp_port_unreachable_sent, 1);
    assert_eq!(net.client.iface.stats().icmp_errors_to_sockets, 1);
}

#[test]
fn a_limited_broadcast_reaches_the_peer_socket_on_its_port() {
    let mut net = net();
    let server = net.server.sockets.add(udp_socket(2, 1024)).unwrap();
    net.server
        .iface
        .udp_bind(&mut net.server.sockets, server, 6767)
        .unwrap();
    let client = net.client.sockets.add(udp_socket(2, 1024)).unwrap();
    net.client
        .iface
        .udp_bind(&mut net.client.sockets, client, 6868)
        .unwrap();
    let broadcast = IpEndpoint::new(IpAddress::Ipv4(Ipv4Address::BROADCAST), 6767);
    net.client
        .sockets
        .get_mut::<UdpSocket>(client)
        .unwrap()
        .send_to(b"anyone there?", broadcast)
        .unwrap();
    run_until(&mut net, Duration::from_secs(1), |net| {
        net.server
            .sockets
            .get::<UdpSocket>(server)
            .unwrap()
            .can_recv()
    });
    let s = net.server.sockets.get_mut::<UdpSocket>(server).unwrap();
    let (data, meta) = s.recv().unwrap();
    assert_eq!(data, b"anyone there?");
    assert_eq!(
        meta,
        UdpMetadata {
            remote: IpEndpoint::new(IpAddress::Ipv4(CLIENT_IP), 6868),
            local_address: Some(IpAddress::Ipv4(Ipv4Address::BROADCAST)),
        }
    );
    // No ARP was needed to send it.
    assert_eq!(net.client.iface.stats().arp_requests_sent, 0);
}

#[test]
fn a_directed_broadcast_reaches_every_peer_socket_on_its_port_and_draws_no_error() {
    let mut net = net();
    let any = net.server.sockets.add(udp_socket(2, 1024)).unwrap();
    net.server
        .iface
        .udp_bind(&mut net.server.sockets, any, 6767)
        .unwrap();
    let exact = net.server.sockets.add(udp_socket(2, 1024)).unwrap();
    net.server
        .iface
        .udp_bind(
            &mut net.server.sockets,
            exact,
            IpEndpoint::new(IpAddress::Ipv4(SERVER_IP), 6767),
        )
        .unwrap();
    let client = net.client.sockets.add(udp_socket(4, 1024)).unwrap();
    net.client
        .iface
        .udp_bind(&mut net.client.sockets, client, 6868)
        .unwrap();
    let directed = IpAddress::Ipv4(Ipv4Address::new(192, 0, 2, 255));
    let c = net.client.sockets.get_mut::<UdpSocket>(client).unwrap();
    c.send_to(b"to the prefix", IpEndpoint::new(directed, 6767))
        .unwrap();
    // Nobody has port 6969: no port unreachable for a broadcast.
    c.send_to(b"to nobody", IpEndpoint::new(directed, 6969))
        .unwrap();
    run_until(&mut net, Duration::from_secs(1), |net| {
        [any, exact]
            .into_iter()
            .all(|h| net.server.sockets.get::<UdpSocket>(h).unwrap().can_recv())
    });
    for h in [any, exact] {
        let s = net.server.sockets.get_mut::<UdpSocket>(h).unwrap();
        let (data, meta) = s.recv().unwrap();
        assert_eq!(data, b"to the prefix");
        assert_eq!(
            meta,
            UdpMetadata {
                remote: IpEndpoint::new(IpAddress::Ipv4(CLIENT_IP), 6868),
                local_address: Some(directed),
            }
        );
        assert!(s.recv().is_err());
    }
    net.step(Duration::from_millis(50));
    let stats = net.server.iface.stats();
    assert_eq!(stats.udp_datagrams_received, 2);
    assert_eq!(stats.udp_no_socket, 1);
    assert_eq!(stats.icmp_port_unreachable_sent, 0);
    let c = net.client.sockets.get_mut::<UdpSocket>(client).unwrap();
    assert_eq!(c.take_error(), None);
}

fn icmp_socket() -> IcmpSocket<'static> {
    IcmpSocket::new(
        PacketBuffer::new(vec![IcmpRxMetadata::EMPTY; 8], vec![0u8; 4096]),
        PacketBuffer::new(vec![IcmpTxMetadata::EMPTY; 8], vec![0u8; 4096]),
    )
}

fn ping(net: &mut Net<LinkEnd, LinkEnd>, pinger: SocketHandle, count: u16) -> Vec<Duration> {
    let server_ip = IpAddress::Ipv4(SERVER_IP);
    let mut rtts = Vec::new();
    for seq in 0..count {
        let data: Vec<u8> = (0..56).map(|i| stream_byte(u64::from(seq), i)).collect();
        net.client
            .sockets
            .get_mut::<IcmpSocket>(pinger)
            .unwrap()
            .send_echo(server_ip, seq, &data)
            .unwrap();
        let mut reply = None;
        run_until(net, Duration::from_secs(2), |net| {
            let s = net.client.sockets.get_mut::<IcmpSocket>(pinger).unwrap();
            if let Some((r, d)) = s.recv() {
                assert_eq!(d, &data[..]);
                reply = Some(r);
            }
            reply.is_some()
        });
        let reply = reply.unwrap();
        assert_eq!((reply.from, reply.seq_no), (server_ip, seq));
        rtts.push(reply.rtt());
        // Let a second pass elapse between pings, as ping(8) does.
        net.now += Duration::from_secs(1);
    }
    rtts
}

#[test]
fn the_client_pings_the_server_with_the_rtt_on_the_virtual_clock() {
    let mut net = net();
    let pinger = net.client.sockets.add(icmp_socket()).unwrap();
    net.client
        .iface
        .icmp_bind(&mut net.client.sockets, pinger, None)
        .unwrap();
    let rtts = ping(&mut net, pinger, 4);
    // The first waits for ARP (one more round trip); the rest take one
    // round trip of the link exactly.
    assert_eq!(rtts[0], Duration::from_millis(8));
    assert_eq!(&rtts[1..], [Duration::from_millis(4); 3]);
    assert_eq!(net.server.iface.stats().icmp_echo_replies, 4);
    assert_eq!(net.client.iface.stats().icmp_echo_requests_sent, 4);
    assert_eq!(net.client.iface.stats().icmp_echo_replies_received, 4);
}
