//! UDP and ICMP echo sockets through the interface: exact frames in and
//! out, exact counters, on the virtual clock.

use super::*;
use crate::socket::icmp::{IcmpRxMetadata, IcmpSocket, IcmpTxMetadata};
use crate::socket::udp::{UdpMetadata, UdpPacketBuffer, UdpPacketMetadata, UdpSocket};
use crate::socket::{IcmpErrorKind, SocketHandle};
use crate::storage::PacketBuffer;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn udp_socket(slots: usize, bytes: usize) -> UdpSocket<'static> {
    let buffer = || UdpPacketBuffer::new(vec![UdpPacketMetadata::EMPTY; slots], vec![0u8; bytes]);
    UdpSocket::new(buffer(), buffer())
}

fn bound_udp(
    iface: &mut Interface<'static>,
    sockets: &mut SocketSet<'static>,
    port: u16,
) -> SocketHandle {
    let h = sockets.add(udp_socket(4, 4096)).unwrap();
    iface.udp_bind(sockets, h, port).unwrap();
    h
}

/// A UDP datagram from the peer (checksum filled) in an Ethernet frame to
/// `dst_mac`/`dst_ip`.
fn udp_frame_to(
    dst_mac: EthernetAddress,
    dst_ip: Ipv4Address,
    src_port: u16,
    dst_port: u16,
    data: &[u8],
) -> Vec<u8> {
    let repr = UdpRepr {
        src_port,
        dst_port,
        payload: data,
    };
    ethernet(
        dst_mac,
        EthernetProtocol::Ipv4,
        20 + repr.buffer_len(),
        |bytes| {
            let ip = Ipv4Repr {
                src_addr: PEER_IP,
                dst_addr: dst_ip,
                next_header: IpProtocol::Udp,
                payload_len: repr.buffer_len(),
                hop_limit: 64,
                dont_frag: true,
                ecn: crate::wire::IpEcn::NotEct,
            };
            let mut packet = Ipv4Packet::new_unchecked(&mut *bytes);
            ip.emit(&mut packet, &ChecksumCapabilities::default());
            repr.emit(
                &mut UdpPacket::new_unchecked(packet.payload_mut()),
                &IpAddress::Ipv4(PEER_IP),
                &IpAddress::Ipv4(dst_ip),
                &ChecksumCapabilities::default(),
            );
        },
    )
}

fn udp_frame(src_port: u16, dst_port: u16, data: &[u8]) -> Vec<u8> {
    udp_frame_to(OUR_MAC, OUR_IP, src_port, dst_port, data)
}

const UDP_CHECKSUM_AT: usize = 14 + 20 + 6;

fn peer(port: u16) -> IpEndpoint {
    IpEndpoint::new(IpAddress::Ipv4(PEER_IP), port)
}

#[test]
fn a_datagram_is_received_with_its_endpoints_and_the_reply_is_exact() {
    let (mut iface, mut dev, mut sockets) = setup();
    let h = bound_udp(&mut iface, &mut sockets, 7);
    dev.rx.push_back(udp_frame(40000, 7, b"hello"));
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    assert!(dev.tx.is_empty());
    let socket = sockets.get_mut::<UdpSocket>(h).unwrap();
    let mut buf = [0u8; 64];
    let (len, meta) = socket.recv_slice(&mut buf).unwrap();
    assert_eq!(&buf[..len], b"hello");
    assert_eq!(
        meta,
        UdpMetadata {
            remote: peer(40000),
            local_address: Some(IpAddress::Ipv4(OUR_IP)),
        }
    );
    socket.send_to(b"echo: hello", meta.remote).unwrap();
    iface.poll(Instant::from_millis(1), &mut dev, &mut sockets);
    // Ethernet to the peer (learnt from its datagram), IPv4 ident 1, no
    // DF, TTL 64, UDP 7 -> 40000 with the checksum of RFC 768 (computed
    // independently of the stack).
    assert_eq!(
        dev.tx,
        [hex(
            "020000000009020000000001080045000027000100004011f6bac0000201c0000209\
             00079c40001393b06563686f3a2068656c6c6f"
        )]
    );
    let stats = iface.stats();
    assert_eq!(stats.udp_datagrams_received, 1);
    assert_eq!(stats.udp_datagrams_sent, 1);
}

#[test]
fn a_zero_checksum_is_accepted_and_a_bad_one_dropped_and_counted() {
    let (mut iface, mut dev, mut sockets) = setup();
    let h = bound_udp(&mut iface, &mut sockets, 9000);
    let mut zero = udp_frame(1234, 9000, b"no checksum");
    zero[UDP_CHECKSUM_AT] = 0;
    zero[UDP_CHECKSUM_AT + 1] = 0;
    let mut bad = udp_frame(1234, 9000, b"bad checksum");
    bad[UDP_CHECKSUM_AT + 1] ^= 0x01;
    dev.rx.push_back(zero);
    dev.rx.push_back(bad);
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    let socket = sockets.get_mut::<UdpSocket>(h).unwrap();
    assert_eq!(socket.recv().unwrap().0, b"no checksum");
    assert!(socket.recv().is_err());
    let stats = iface.stats();
    assert_eq!(stats.rx_drop_udp_checksum, 1);
    assert_eq!(stats.udp_datagrams_received, 1);
    // A bad checksum is discarded silently (RFC 1122 section 4.1.3.4).
    assert!(dev.tx.is_empty());
}

#[test]
fn a_full_receive_queue_drops_and_counts() {
    let (mut iface, mut dev, mut sockets) = setup();
    let h = sockets.add(udp_socket(2, 64)).unwrap();
    iface.udp_bind(&mut sockets, h, 5353).unwrap();
    for i in 0..3u8 {
        dev.rx.push_back(udp_frame(1000, 5353, &[i; 10]));
    }
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    let socket = sockets.get_mut::<UdpSocket>(h).unwrap();
    assert_eq!(socket.recv_queue(), 2);
    assert_eq!(socket.rx_dropped(), 1);
    assert_eq!(socket.recv().unwrap().0, [0u8; 10]);
    assert_eq!(socket.recv().unwrap().0, [1u8; 10]);
    assert!(socket.recv().is_err());
    let stats = iface.stats();
    assert_eq!(
        (stats.udp_datagrams_received, stats.rx_drop_udp_socket),
        (2, 1)
    );
    // A socket had the port: no port unreachable.
    assert!(dev.tx.is_empty());
}

#[test]
fn no_socket_gets_an_exact_port_unreachable_within_the_rate_limit() {
    let (mut iface, mut dev, mut sockets) = setup();
    dev.rx.push_back(udp_frame(40000, 9999, b"anyone?"));
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    // Type 3 code 3, quoting the datagram's header (as received: DF, ident
    // 0) and all of its 15 bytes.
    assert_eq!(
        dev.tx,
        [hex(
            "02000000000902000000000108004500003f000100004001f6b2c0000201c0000209\
             030381280000000045000023000040004011b6bfc0000209c00002019c40270f000f\
             3032616e796f6e653f"
        )]
    );
    dev.tx.clear();
    // A burst: 9 tokens are left of 10, the rest is limited.
    for _ in 0..12 {
        dev.rx.push_back(udp_frame(40000, 9999, b"anyone?"));
    }
    iface.poll(Instant::from_millis(10), &mut dev, &mut sockets);
    assert_eq!(dev.tx.len(), 9);
    let stats = iface.stats();
    assert_eq!(stats.icmp_port_unreachable_sent, 10);
    assert_eq!(stats.icmp_errors_rate_limited, 3);
    assert_eq!(stats.udp_no_socket, 13);
    dev.tx.clear();
    // 100 ms after the bucket was last full one more token is earned;
    // 99 ms is not enough.
    dev.rx.push_back(udp_frame(40000, 9999, b"anyone?"));
    iface.poll(Instant::from_millis(99), &mut dev, &mut sockets);
    assert!(dev.tx.is_empty());
    dev.rx.push_back(udp_frame(40000, 9999, b"anyone?"));
    dev.rx.push_back(udp_frame(40000, 9999, b"anyone?"));
    iface.poll(Instant::from_millis(100), &mut dev, &mut sockets);
    assert_eq!(dev.tx.len(), 1);
    assert_eq!(iface.stats().icmp_errors_rate_limited, 5);
}

#[test]
fn broadcasts_get_no_port_unreachable_and_reach_a_wildcard_socket() {
    let (mut iface, mut dev, mut sockets) = setup();
    let broadcast = Ipv4Address::BROADCAST;
    let directed = Ipv4Address::new(192, 0, 2, 255);
    dev.rx.push_back(udp_frame_to(
        EthernetAddress::BROADCAST,
        broadcast,
        67,
        68,
        b"x",
    ));
    dev.rx.push_back(udp_frame_to(
        EthernetAddress::BROADCAST,
        directed,
        67,
        68,
        b"y",
    ));
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    assert!(dev.tx.is_empty());
    assert_eq!(iface.stats().udp_no_socket, 2);
    let h = bound_udp(&mut iface, &mut sockets, 68);
    dev.rx.push_back(udp_frame_to(
        EthernetAddress::BROADCAST,
        broadcast,
        67,
        68,
        b"offer",
    ));
    iface.poll(Instant::from_millis(1), &mut dev, &mut sockets);
    let socket = sockets.get_mut::<UdpSocket>(h).unwrap();
    let (data, meta) = socket.recv().unwrap();
    assert_eq!(data, b"offer");
    assert_eq!(meta.local_address, Some(IpAddress::Ipv4(broadcast)));
    assert_eq!(meta.remote, peer(67));
}

#[test]
fn a_broadcast_from_the_unspecified_address_goes_out_without_arp() {
    let (mut iface, mut dev, mut sockets) = setup();
    let h = bound_udp(&mut iface, &mut sockets, 68);
    let meta = UdpMetadata {
        remote: IpEndpoint::new(IpAddress::Ipv4(Ipv4Address::BROADCAST), 67),
        local_address: Some(IpAddress::v4(0, 0, 0, 0)),
    };
    sockets
        .get_mut::<UdpSocket>(h)
        .unwrap()
        .send_slice(b"DISCOVER", meta)
        .unwrap();
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    assert_eq!(
        dev.tx,
        [hex(
            "ffffffffffff0200000000010800450000240001000040117ac900000000ffffffff\
             004400430010d312444953434f564552"
        )]
    );
}

#[test]
fn a_datagram_to_an_unresolved_peer_waits_for_arp() {
    let (mut iface, mut dev, mut sockets) = setup();
    let h = bound_udp(&mut iface, &mut sockets, 5000);
    sockets
        .get_mut::<UdpSocket>(h)
        .unwrap()
        .send_to(b"later", peer(6000))
        .unwrap();
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    assert_eq!(dev.tx.len(), 1);
    assert_eq!(dev.tx[0][12..14], [0x08, 0x06], "an ARP request");
    dev.tx.clear();
    let reply = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Reply,
        source_hardware_addr: PEER_MAC,
        source_protocol_addr: PEER_IP,
        target_hardware_addr: OUR_MAC,
        target_protocol_addr: OUR_IP,
    };
    dev.rx.push_back(ethernet(
        OUR_MAC,
        EthernetProtocol::Arp,
        reply.buffer_len(),
        |b| reply.emit(&mut ArpPacket::new_unchecked(b)),
    ));
    iface.poll(Instant::from_millis(5), &mut dev, &mut sockets);
    assert_eq!(dev.tx.len(), 1);
    let eth = EthernetFrame::new_checked(&dev.tx[0][..]).unwrap();
    assert_eq!(eth.dst_addr(), PEER_MAC);
    let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
    let udp = UdpPacket::new_checked(ip.payload()).unwrap();
    assert!(udp.verify_checksum(&IpAddress::Ipv4(OUR_IP), &IpAddress::Ipv4(PEER_IP)));
    assert_eq!((udp.src_port(), udp.dst_port()), (5000, 6000));
    assert_eq!(udp.payload(), b"later");
}

#[test]
fn a_port_unreachable_from_the_peer_is_surfaced_to_the_socket() {
    let (mut iface, mut dev, mut sockets) = setup();
    let h = bound_udp(&mut iface, &mut sockets, 5000);
    // Learn the peer first, so the datagram goes out at once.
    dev.rx.push_back(udp_frame(6000, 5000, b"hi"));
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    let socket = sockets.get_mut::<UdpSocket>(h).unwrap();
    socket.recv().unwrap();
    socket.send_to(b"to a closed port", peer(6001)).unwrap();
    iface.poll(Instant::from_millis(1), &mut dev, &mut sockets);
    assert_eq!(dev.tx.len(), 1);
    let sent = dev.tx.remove(0);
    dev.rx.push_back(icmp_unreachable(
        Icmpv4DstUnreachable::PortUnreachable,
        &sent,
    ));
    iface.poll(Instant::from_millis(2), &mut dev, &mut sockets);
    let socket = sockets.get_mut::<UdpSocket>(h).unwrap();
    let error = socket.take_error().unwrap();
    assert!(error.is_port_unreachable());
    assert_eq!(error.remote, peer(6001));
    assert_eq!(error.reporter, IpAddress::Ipv4(PEER_IP));
    assert_eq!(error.at, Instant::from_millis(2));
    assert_eq!(socket.take_error(), None);
    // A host unreachable from a router is reported the same way.
    dev.rx.push_back(icmp_unreachable(
        Icmpv4DstUnreachable::HostUnreachable,
        &sent,
    ));
    iface.poll(Instant::from_millis(3), &mut dev, &mut sockets);
    let error = sockets
        .get_mut::<UdpSocket>(h)
        .unwrap()
        .take_error()
        .unwrap();
    assert_eq!(
        error.kind,
        IcmpErrorKind::DstUnreachable(Icmpv4DstUnreachable::HostUnreachable)
    );
    assert_eq!(iface.stats().icmp_errors_to_sockets, 2);
}

#[test]
fn ephemeral_binds_take_free_ports_and_duplicates_are_refused() {
    let (mut iface, _dev, mut sockets) = setup();
    let a = sockets.add(udp_socket(1, 64)).unwrap();
    let b = sockets.add(udp_socket(1, 64)).unwrap();
    let c = sockets.add(udp_socket(1, 64)).unwrap();
    let ea = iface.udp_bind(&mut sockets, a, 0).unwrap();
    let eb = iface.udp_bind(&mut sockets, b, 0).unwrap();
    assert!(ea.port >= 49152 && eb.port >= 49152);
    assert_ne!(ea.port, eb.port);
    assert_eq!(
        iface.udp_bind(&mut sockets, c, ea.port),
        Err(crate::socket::udp::BindError::AddressInUse)
    );
    // A concrete address may share a wildcard's port, but not twice.
    let exact = IpEndpoint::new(IpAddress::Ipv4(OUR_IP), ea.port);
    assert_eq!(iface.udp_bind(&mut sockets, c, exact), Ok(exact.into()));
    let d = sockets.add(udp_socket(1, 64)).unwrap();
    assert_eq!(
        iface.udp_bind(&mut sockets, d, exact),
        Err(crate::socket::udp::BindError::AddressInUse)
    );
    // Binding the socket itself to a taken endpoint is undone at the next
    // sync, with the reason.
    sockets
        .get_mut::<UdpSocket>(d)
        .unwrap()
        .bind(exact)
        .unwrap();
    let mut dev = ScriptDevice::default();
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    let d = sockets.get::<UdpSocket>(d).unwrap();
    assert!(!d.is_bound());
    assert_eq!(
        d.bind_error(),
        Some(crate::socket::udp::BindError::AddressInUse)
    );
}

#[test]
fn a_connected_socket_is_found_before_a_bound_one_and_filters_its_peer() {
    let (mut iface, mut dev, mut sockets) = setup();
    let wildcard = bound_udp(&mut iface, &mut sockets, 4000);
    let connected = sockets.add(udp_socket(4, 1024)).unwrap();
    // Bind the same port on our address, then connect to the peer's 53.
    let local = IpEndpoint::new(IpAddress::Ipv4(OUR_IP), 4000);
    iface.udp_bind(&mut sockets, connected, local).unwrap();
    assert_eq!(
        iface.udp_connect(&mut sockets, connected, peer(53)),
        Ok(local)
    );
    dev.rx.push_back(udp_frame(53, 4000, b"answer"));
    dev.rx.push_back(udp_frame(54, 4000, b"other"));
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    let c = sockets.get_mut::<UdpSocket>(connected).unwrap();
    assert_eq!(c.recv().unwrap().0, b"answer");
    assert!(c.recv().is_err());
    let w = sockets.get_mut::<UdpSocket>(wildcard).unwrap();
    // The datagram from port 54 is not the connected peer's, and the
    // connected socket is found by its 4-tuple alone: the wildcard gets it.
    assert_eq!(w.recv().unwrap().0, b"other");
    // send() on the connected socket goes to its peer.
    let c = sockets.get_mut::<UdpSocket>(connected).unwrap();
    c.send_connected(b"query").unwrap();
    iface.poll(Instant::from_millis(1), &mut dev, &mut sockets);
    let frame = dev.tx.pop().unwrap();
    let ip = Ipv4Packet::new_checked(&frame[14..]).unwrap();
    let udp = UdpPacket::new_checked(ip.payload()).unwrap();
    assert_eq!(
        (udp.src_port(), udp.dst_port(), udp.payload()),
        (4000, 53, &b"query"[..])
    );
}

#[test]
fn udp_connect_binds_an_ephemeral_port_and_the_local_address() {
    let (mut iface, _dev, mut sockets) = setup();
    let h = sockets.add(udp_socket(1, 64)).unwrap();
    let local = iface.udp_connect(&mut sockets, h, peer(53)).unwrap();
    assert_eq!(local.addr, IpAddress::Ipv4(OUR_IP));
    assert!(local.port >= 49152);
    let socket = sockets.get::<UdpSocket>(h).unwrap();
    assert_eq!(socket.remote_endpoint(), Some(peer(53)));
    assert_eq!(socket.endpoint(), IpListenEndpoint::from(local));
}

fn icmp_socket() -> IcmpSocket<'static> {
    IcmpSocket::new(
        PacketBuffer::new(vec![IcmpRxMetadata::EMPTY; 4], vec![0u8; 1024]),
        PacketBuffer::new(vec![IcmpTxMetadata::EMPTY; 4], vec![0u8; 1024]),
    )
}

fn echo_reply_frame(ident: u16, seq_no: u16, data: &[u8]) -> Vec<u8> {
    let reply = Icmpv4Repr::EchoReply {
        ident,
        seq_no,
        data,
    };
    ipv4(IpProtocol::Icmp, reply.buffer_len(), |b| {
        reply.emit(
            &mut Icmpv4Packet::new_unchecked(b),
            &ChecksumCapabilities::default(),
        )
    })
}

#[test]
fn ping_sends_an_exact_request_and_measures_the_round_trip() {
    let (mut iface, mut dev, mut sockets) = setup();
    let h = sockets.add(icmp_socket()).unwrap();
    assert_eq!(iface.icmp_bind(&mut sockets, h, Some(0x4242)), Ok(0x4242));
    // Learn the peer from a datagram first.
    dev.rx.push_back(udp_frame(1, 2, b""));
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    dev.tx.clear();
    let peer_ip = IpAddress::Ipv4(PEER_IP);
    sockets
        .get_mut::<IcmpSocket>(h)
        .unwrap()
        .send_echo(peer_ip, 1, b"abcdefgh")
        .unwrap();
    iface.poll(Instant::from_millis(1000), &mut dev, &mut sockets);
    // The port unreachable for the datagram above took ident 1; this is 2.
    assert_eq!(
        dev.tx,
        [hex(
            "020000000009020000000001080045000024000200004001f6ccc0000201c0000209\
             08002427424200016162636465666768"
        )]
    );
    assert_eq!(sockets.get::<IcmpSocket>(h).unwrap().in_flight(), 1);
    // Another identifier, and an unknown sequence number, do not match.
    dev.rx.push_back(echo_reply_frame(0x4243, 1, b"abcdefgh"));
    dev.rx.push_back(echo_reply_frame(0x4242, 2, b"abcdefgh"));
    dev.rx.push_back(echo_reply_frame(0x4242, 1, b"abcdefgh"));
    // A duplicate of the real one.
    dev.rx.push_back(echo_reply_frame(0x4242, 1, b"abcdefgh"));
    iface.poll(Instant::from_millis(1023), &mut dev, &mut sockets);
    let socket = sockets.get_mut::<IcmpSocket>(h).unwrap();
    let (reply, data) = socket.recv().unwrap();
    assert_eq!(data, b"abcdefgh");
    assert_eq!(
        (reply.from, reply.ident, reply.seq_no),
        (peer_ip, 0x4242, 1)
    );
    assert_eq!(reply.rtt(), Duration::from_millis(23));
    assert!(socket.recv().is_none());
    assert_eq!(socket.unmatched(), 2);
    assert_eq!(socket.in_flight(), 0);
    let stats = iface.stats();
    assert_eq!(stats.icmp_echo_requests_sent, 1);
    assert_eq!(stats.icmp_echo_replies_received, 1);
}

#[test]
fn icmp_identifiers_are_unique_in_a_set() {
    let (mut iface, _dev, mut sockets) = setup();
    let a = sockets.add(icmp_socket()).unwrap();
    let b = sockets.add(icmp_socket()).unwrap();
    let id = iface.icmp_bind(&mut sockets, a, None).unwrap();
    assert_eq!(
        iface.icmp_bind(&mut sockets, b, Some(id)),
        Err(crate::socket::icmp::BindError::AddressInUse)
    );
    let other = iface.icmp_bind(&mut sockets, b, None).unwrap();
    assert_ne!(id, other);
}

#[test]
fn an_icmp_error_quoting_an_echo_request_reaches_its_socket() {
    let (mut iface, mut dev, mut sockets) = setup();
    let h = sockets.add(icmp_socket()).unwrap();
    iface.icmp_bind(&mut sockets, h, Some(0x0bad)).unwrap();
    // A datagram from the peer teaches the stack its address (its port
    // unreachable goes out first).
    dev.rx.push_back(udp_frame(1, 2, b""));
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    dev.tx.clear();
    let far = IpAddress::v4(198, 51, 100, 7);
    sockets
        .get_mut::<IcmpSocket>(h)
        .unwrap()
        .send_echo(far, 9, b"far away")
        .unwrap();
    // No gateway: off-link destinations have no route.
    iface.poll(Instant::from_millis(1), &mut dev, &mut sockets);
    assert!(dev.tx.is_empty());
    assert_eq!(iface.stats().tx_drop_no_route, 1);
    // An on-link one the peer reports unreachable (as a router would).
    sockets
        .get_mut::<IcmpSocket>(h)
        .unwrap()
        .send_echo(IpAddress::Ipv4(PEER_IP), 10, b"near")
        .unwrap();
    iface.poll(Instant::from_millis(2), &mut dev, &mut sockets);
    let sent = dev.tx.remove(0);
    dev.rx.push_back(icmp_unreachable(
        Icmpv4DstUnreachable::HostUnreachable,
        &sent,
    ));
    iface.poll(Instant::from_millis(3), &mut dev, &mut sockets);
    let error = sockets
        .get_mut::<IcmpSocket>(h)
        .unwrap()
        .take_error()
        .unwrap();
    assert_eq!(
        error.kind,
        IcmpErrorKind::DstUnreachable(Icmpv4DstUnreachable::HostUnreachable)
    );
    assert_eq!(error.remote, peer(0));
    assert_eq!(iface.stats().icmp_errors_to_sockets, 1);
}

#[test]
fn a_removed_udp_socket_leaves_no_stale_demux_entry() {
    let (mut iface, mut dev, mut sockets) = setup();
    let h = bound_udp(&mut iface, &mut sockets, 7000);
    dev.rx.push_back(udp_frame(1000, 7000, b"first"));
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    assert!(dev.tx.is_empty());
    sockets.remove(h).unwrap();
    // The port is closed now: a port unreachable answers, and a new socket
    // may take the port.
    dev.rx.push_back(udp_frame(1000, 7000, b"second"));
    iface.poll(Instant::from_millis(1), &mut dev, &mut sockets);
    assert_eq!(dev.tx.len(), 1);
    assert_eq!(iface.stats().icmp_port_unreachable_sent, 1);
    let again = bound_udp(&mut iface, &mut sockets, 7000);
    dev.rx.push_back(udp_frame(1000, 7000, b"third"));
    iface.poll(Instant::from_millis(2), &mut dev, &mut sockets);
    let socket = sockets.get_mut::<UdpSocket>(again).unwrap();
    assert_eq!(socket.recv().unwrap().0, b"third");
    // Closing unbinds at the next poll just as well.
    socket.close();
    dev.rx.push_back(udp_frame(1000, 7000, b"fourth"));
    iface.poll(Instant::from_millis(3), &mut dev, &mut sockets);
    assert_eq!(iface.stats().icmp_port_unreachable_sent, 2);
}

#[test]
fn time_exceeded_is_surfaced_to_a_udp_socket() {
    let (mut iface, mut dev, mut sockets) = setup();
    let h = bound_udp(&mut iface, &mut sockets, 33434);
    dev.rx.push_back(udp_frame(6000, 33434, b"hi"));
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    let socket = sockets.get_mut::<UdpSocket>(h).unwrap();
    socket.recv().unwrap();
    socket.set_hop_limit(Some(1));
    socket.send_to(b"traceroute", peer(33435)).unwrap();
    iface.poll(Instant::from_millis(1), &mut dev, &mut sockets);
    let sent = dev.tx.remove(0);
    assert_eq!(sent[14 + 8], 1, "TTL 1");
    let eth = EthernetFrame::new_checked(&sent[..]).unwrap();
    let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
    let header = Ipv4Repr::parse(&ip, &ChecksumCapabilities::default()).unwrap();
    let repr = Icmpv4Repr::TimeExceeded {
        reason: Icmpv4TimeExceeded::TtlExpired,
        header,
        data: &ip.payload()[..8],
    };
    dev.rx
        .push_back(ipv4(IpProtocol::Icmp, repr.buffer_len(), |b| {
            repr.emit(
                &mut Icmpv4Packet::new_unchecked(b),
                &ChecksumCapabilities::default(),
            )
        }));
    iface.poll(Instant::from_millis(2), &mut dev, &mut sockets);
    let error = sockets
        .get_mut::<UdpSocket>(h)
        .unwrap()
        .take_error()
        .unwrap();
    assert_eq!(
        error.kind,
        IcmpErrorKind::TimeExceeded(Icmpv4TimeExceeded::TtlExpired)
    );
    assert_eq!(error.remote, peer(33435));
}

/// Every datagram queued on `h`: its payload and the address it was sent
/// to.
fn drain(sockets: &mut SocketSet<'static>, h: SocketHandle) -> Vec<(Vec<u8>, IpAddress)> {
    let socket = sockets.get_mut::<UdpSocket>(h).unwrap();
    let mut out = Vec::new();
    while let Ok((data, meta)) = socket.recv() {
        out.push((data.to_vec(), meta.local_address.unwrap()));
    }
    out
}

#[test]
fn a_broadcast_reaches_every_socket_on_its_port_that_takes_it() {
    let (mut iface, mut dev, mut sockets) = setup();
    let second = Ipv4Address::new(198, 51, 100, 1);
    iface
        .add_ip_addr(Ipv4Cidr::new(second, 24).unwrap())
        .unwrap();
    let any = bound_udp(&mut iface, &mut sockets, 5000);
    let first_only = sockets.add(udp_socket(1, 4096)).unwrap();
    iface
        .udp_bind(
            &mut sockets,
            first_only,
            IpEndpoint::new(IpAddress::Ipv4(OUR_IP), 5000),
        )
        .unwrap();
    let second_only = sockets.add(udp_socket(4, 4096)).unwrap();
    iface
        .udp_bind(
            &mut sockets,
            second_only,
            IpEndpoint::new(IpAddress::Ipv4(second), 5000),
        )
        .unwrap();
    let other_port = bound_udp(&mut iface, &mut sockets, 5001);
    let limited = Ipv4Address::BROADCAST;
    let directed_first = Ipv4Address::new(192, 0, 2, 255);
    let directed_second = Ipv4Address::new(198, 51, 100, 255);
    let bcast = EthernetAddress::BROADCAST;
    // The limited broadcast reaches all three sockets on port 5000; the
    // one bound to our first address has room for one datagram only.
    dev.rx
        .push_back(udp_frame_to(bcast, limited, 40000, 5000, b"all"));
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    let limited_ip = IpAddress::Ipv4(limited);
    assert_eq!(drain(&mut sockets, any), [(b"all".to_vec(), limited_ip)]);
    assert_eq!(
        drain(&mut sockets, first_only),
        [(b"all".to_vec(), limited_ip)]
    );
    assert_eq!(
        drain(&mut sockets, second_only),
        [(b"all".to_vec(), limited_ip)]
    );
    assert_eq!(iface.stats().udp_datagrams_received, 3);
    // A directed broadcast reaches the wildcard socket and the one bound
    // to the address of that prefix, not the other.
    dev.rx
        .push_back(udp_frame_to(bcast, directed_first, 40000, 5000, b"d1"));
    dev.rx
        .push_back(udp_frame_to(bcast, directed_second, 40000, 5000, b"d2"));
    iface.poll(Instant::from_millis(1), &mut dev, &mut sockets);
    let d1 = IpAddress::Ipv4(directed_first);
    let d2 = IpAddress::Ipv4(directed_second);
    assert_eq!(
        drain(&mut sockets, any),
        [(b"d1".to_vec(), d1), (b"d2".to_vec(), d2)]
    );
    assert_eq!(drain(&mut sockets, first_only), [(b"d1".to_vec(), d1)]);
    assert_eq!(drain(&mut sockets, second_only), [(b"d2".to_vec(), d2)]);
    assert_eq!(iface.stats().udp_datagrams_received, 7);
    // Two broadcasts at once: the one-slot socket keeps the first and
    // drops the second (counted once, for that socket); the others take
    // both.
    dev.rx
        .push_back(udp_frame_to(bcast, limited, 40000, 5000, b"b1"));
    dev.rx
        .push_back(udp_frame_to(bcast, limited, 40000, 5000, b"b2"));
    iface.poll(Instant::from_millis(2), &mut dev, &mut sockets);
    assert_eq!(drain(&mut sockets, first_only).len(), 1);
    assert_eq!(drain(&mut sockets, any).len(), 2);
    assert_eq!(drain(&mut sockets, second_only).len(), 2);
    let stats = iface.stats();
    assert_eq!(stats.udp_datagrams_received, 12);
    assert_eq!(stats.rx_drop_udp_socket, 1);
    assert_eq!(stats.udp_no_socket, 0);
    // Unicast keeps its exact owner: the socket bound to the address,
    // else the wildcard.
    dev.rx.push_back(udp_frame(40000, 5000, b"u1"));
    dev.rx
        .push_back(udp_frame_to(OUR_MAC, second, 40000, 5000, b"u2"));
    iface.poll(Instant::from_millis(3), &mut dev, &mut sockets);
    assert_eq!(
        drain(&mut sockets, first_only),
        [(b"u1".to_vec(), IpAddress::Ipv4(OUR_IP))]
    );
    assert_eq!(
        drain(&mut sockets, second_only),
        [(b"u2".to_vec(), IpAddress::Ipv4(second))]
    );
    assert!(drain(&mut sockets, any).is_empty());
    sockets.remove(first_only);
    dev.rx.push_back(udp_frame(40000, 5000, b"u3"));
    iface.poll(Instant::from_millis(4), &mut dev, &mut sockets);
    assert_eq!(
        drain(&mut sockets, any),
        [(b"u3".to_vec(), IpAddress::Ipv4(OUR_IP))]
    );
    assert!(drain(&mut sockets, other_port).is_empty());
    // A broadcast to a port nobody has: counted, never answered.
    dev.rx
        .push_back(udp_frame_to(bcast, limited, 40000, 5002, b"none"));
    iface.poll(Instant::from_millis(5), &mut dev, &mut sockets);
    let stats = iface.stats();
    assert_eq!(stats.udp_no_socket, 1);
    assert_eq!(stats.udp_datagrams_received, 15);
    assert_eq!(stats.icmp_port_unreachable_sent, 0);
    assert!(dev.tx.is_empty());
}

#[test]
fn a_unicast_datagram_in_a_link_broadcast_frame_draws_no_port_unreachable() {
    let (mut iface, mut dev, mut sockets) = setup();
    // To our address but in an Ethernet broadcast frame (RFC 1122 section
    // 3.2.2): dropped without an ICMP error.
    dev.rx.push_back(udp_frame_to(
        EthernetAddress::BROADCAST,
        OUR_IP,
        40000,
        9999,
        b"anyone?",
    ));
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    assert!(dev.tx.is_empty());
    let stats = iface.stats();
    assert_eq!(stats.udp_no_socket, 1);
    assert_eq!(stats.icmp_port_unreachable_sent, 0);
    assert_eq!(stats.icmp_errors_rate_limited, 0);
    // It still reaches a socket that has the port.
    let h = bound_udp(&mut iface, &mut sockets, 9999);
    dev.rx.push_back(udp_frame_to(
        EthernetAddress::BROADCAST,
        OUR_IP,
        40000,
        9999,
        b"hi",
    ));
    iface.poll(Instant::from_millis(1), &mut dev, &mut sockets);
    assert_eq!(
        drain(&mut sockets, h),
        [(b"hi".to_vec(), IpAddress::Ipv4(OUR_IP))]
    );
    sockets.remove(h);
    // The same datagram in a unicast frame gets its port unreachable.
    dev.rx.push_back(udp_frame(40000, 9999, b"anyone?"));
    iface.poll(Instant::from_millis(2), &mut dev, &mut sockets);
    assert_eq!(dev.tx.len(), 1);
    assert_eq!(iface.stats().icmp_port_unreachable_sent, 1);
}
