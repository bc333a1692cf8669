//! Runtime configuration on a virtual clock: routes chosen by
//! longest-prefix match (with expiry), addresses added and removed (TCP
//! connections on a removed address end, traced), and the interface MTU
//! deciding new connections' MSS.

extern crate std;

use std::format;
use std::vec;
use std::vec::Vec;

use super::route::Route;
use super::tests::ScriptDevice;
use super::{AddressError, Config, Interface};
use crate::socket::tcp::{State, TcpError, TcpSocket};
use crate::socket::{ChildBuffers, SocketHandle, SocketSet};
use crate::storage::RingBuffer;
use crate::time::{Duration, Instant};
use crate::wire::*;

const OUR_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);
const PEER_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 9]);
const OUR_IP: Ipv4Address = Ipv4Address::new(192, 0, 2, 1);
const OTHER_IP: Ipv4Address = Ipv4Address::new(198, 51, 100, 1);
const PEER_IP: Ipv4Address = Ipv4Address::new(192, 0, 2, 9);
const GATEWAY: Ipv4Address = Ipv4Address::new(192, 0, 2, 254);

fn cidr(addr: Ipv4Address, len: u8) -> Ipv4Cidr {
    Ipv4Cidr::new(addr, len).unwrap()
}

fn setup(config: Config) -> (Interface<'static>, ScriptDevice, SocketSet<'static>) {
    (
        Interface::new(config).unwrap(),
        ScriptDevice::default(),
        SocketSet::with_capacity(8),
    )
}

fn config() -> Config {
    Config::new(OUR_MAC, 7).with_ip(cidr(OUR_IP, 24))
}

fn frame_from(src: Ipv4Address, dst: Ipv4Address, repr: &TcpRepr) -> Vec<u8> {
    let payload_len = repr.buffer_len();
    let mut frame = vec![0u8; 14 + 20 + payload_len];
    EthernetRepr {
        src_addr: PEER_MAC,
        dst_addr: OUR_MAC,
        ethertype: EthernetProtocol::Ipv4,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut frame[..]));
    let ip = Ipv4Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: IpProtocol::Tcp,
        payload_len,
        hop_limit: 64,
        dont_frag: true,
        ecn: IpEcn::NotEct,
    };
    let mut packet = Ipv4Packet::new_unchecked(&mut frame[14..]);
    ip.emit(&mut packet, &ChecksumCapabilities::default());
    repr.emit(
        &mut TcpPacket::new_unchecked(packet.payload_mut()),
        &src.into(),
        &dst.into(),
        &ChecksumCapabilities::default(),
    );
    frame
}

fn syn(src_port: u16, dst_port: u16, seq: u32) -> TcpRepr<'static> {
    TcpRepr {
        src_port,
        dst_port,
        seq_number: SeqNumber(seq),
        flags: TcpFlags::SYN,
        window_len: 65535,
        max_seg_size: Some(1460),
        ..TcpRepr::default()
    }
}

/// The TCP segments among the frames sent, with their IPv4 source.
fn tcp_sent(frames: &[Vec<u8>]) -> Vec<(Ipv4Address, TcpRepr<'_>)> {
    frames
        .iter()
        .filter(|f| f[12..14] == [0x08, 0x00])
        .map(|f| {
            let eth = EthernetFrame::new_checked(&f[..]).unwrap();
            let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
            let repr = Ipv4Repr::parse(&ip, &ChecksumCapabilities::default()).unwrap();
            let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
            let tcp = TcpRepr::parse(
                &tcp,
                &repr.src_addr.into(),
                &repr.dst_addr.into(),
                &ChecksumCapabilities::default(),
            )
            .unwrap();
            (repr.src_addr, tcp)
        })
        .collect()
}

/// The targets of the ARP requests among the frames sent.
fn arp_targets(frames: &[Vec<u8>]) -> Vec<Ipv4Address> {
    frames
        .iter()
        .filter(|f| f[12..14] == [0x08, 0x06])
        .map(|f| {
            let eth = EthernetFrame::new_checked(&f[..]).unwrap();
            match ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).unwrap()).unwrap() {
                ArpRepr::EthernetIpv4 {
                    target_protocol_addr,
                    ..
                } => target_protocol_addr,
            }
        })
        .collect()
}

fn client(sockets: &mut SocketSet<'static>) -> SocketHandle {
    sockets
        .add(TcpSocket::new(
            RingBuffer::new(vec![0u8; 1024]),
            RingBuffer::new(vec![0u8; 1024]),
        ))
        .unwrap()
}

#[test]
fn next_hop_is_the_longest_prefix_match_over_prefixes_and_routes() {
    let (mut iface, _, _) = setup(config().with_gateway(GATEWAY));
    let t0 = Instant::ZERO;
    let hop = |a: u8, b: u8, c: u8, d: u8| IpAddress::v4(a, b, c, d);
    assert_eq!(iface.ipv4_gateway(), Some(GATEWAY));
    // On-link, and the default route for the rest.
    assert_eq!(iface.route_to(PEER_IP, t0), Some(PEER_IP.into()));
    assert_eq!(
        iface.route_to(hop(203, 0, 113, 5), t0),
        Some(GATEWAY.into())
    );

    iface
        .add_route(Route::via(
            cidr(Ipv4Address::new(198, 51, 100, 0), 24),
            Ipv4Address::new(192, 0, 2, 2),
        ))
        .unwrap();
    // A host route inside our own prefix is longer than it: it wins.
    iface
        .add_route(Route::via(
            cidr(Ipv4Address::new(192, 0, 2, 77), 32),
            Ipv4Address::new(192, 0, 2, 3),
        ))
        .unwrap();
    // A route as long as our prefix does not override the link.
    iface
        .add_route(Route::via(
            cidr(Ipv4Address::new(192, 0, 2, 0), 24),
            Ipv4Address::new(192, 0, 2, 5),
        ))
        .unwrap();
    let lease_end = Instant::from_secs(10);
    iface
        .add_route(
            Route::via(
                cidr(Ipv4Address::new(203, 0, 113, 0), 25),
                Ipv4Address::new(192, 0, 2, 4),
            )
            .with_expiry(lease_end),
        )
        .unwrap();

    assert_eq!(
        iface.route_to(hop(198, 51, 100, 200), t0),
        Some(hop(192, 0, 2, 2))
    );
    assert_eq!(
        iface.route_to(hop(192, 0, 2, 77), t0),
        Some(hop(192, 0, 2, 3))
    );
    assert_eq!(
        iface.route_to(hop(192, 0, 2, 78), t0),
        Some(hop(192, 0, 2, 78))
    );
    assert_eq!(
        iface.route_to(hop(203, 0, 113, 5), t0),
        Some(hop(192, 0, 2, 4))
    );
    assert_eq!(
        iface.route_to(hop(203, 0, 113, 200), t0),
        Some(GATEWAY.into())
    );

    // The learned route lapses at its deadline exactly, cached or not.
    let before = lease_end - Duration::from_micros(1);
    assert_eq!(
        iface.route_to(hop(203, 0, 113, 5), before),
        Some(hop(192, 0, 2, 4))
    );
    assert_eq!(
        iface.route_to(hop(203, 0, 113, 5), lease_end),
        Some(GATEWAY.into())
    );
    // A poll at the deadline removes it from the table.
    let (mut dev, mut sockets) = (ScriptDevice::default(), SocketSet::with_capacity(1));
    assert_eq!(iface.routes().len(), 5);
    iface.poll(before, &mut dev, &mut sockets);
    assert_eq!(iface.routes().len(), 5);
    iface.poll(lease_end, &mut dev, &mut sockets);
    assert_eq!(iface.routes().len(), 4);

    // Without the default route, off-link destinations have no route;
    // the cache follows every change.
    assert_eq!(
        iface.route_to(hop(203, 0, 113, 5), lease_end),
        Some(GATEWAY.into())
    );
    iface.set_ipv4_gateway(None).unwrap();
    assert_eq!(iface.route_to(hop(203, 0, 113, 5), lease_end), None);
    assert_eq!(iface.ipv4_gateway(), None);
    iface
        .set_ipv4_gateway(Some(Ipv4Address::new(192, 0, 2, 253)))
        .unwrap();
    assert_eq!(
        iface.route_to(hop(203, 0, 113, 5), lease_end),
        Some(hop(192, 0, 2, 253))
    );
    // A new address brings its prefix on-link; a route as long as it does
    // not override the link.
    assert_eq!(iface.route_to(OTHER_IP, lease_end), Some(hop(192, 0, 2, 2)));
    iface
        .add_ip_addr(cidr(Ipv4Address::new(198, 51, 100, 9), 24))
        .unwrap();
    assert_eq!(iface.route_to(OTHER_IP, lease_end), Some(OTHER_IP.into()));
}

#[test]
fn segments_go_to_the_gateway_the_table_names_and_none_without_a_route() {
    let far = IpEndpoint::new(IpAddress::v4(203, 0, 113, 9), 80);
    let (mut iface, mut dev, mut sockets) = setup(config().with_gateway(GATEWAY));
    let h = client(&mut sockets);
    iface.connect(&mut sockets, h, far, Instant::ZERO).unwrap();
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    // The SYN waits for the gateway's address, not the far host's.
    assert_eq!(arp_targets(&dev.tx), vec![GATEWAY]);
    assert_eq!(iface.stats().tx_drop_no_route, 0);

    // No default route: the SYN has no route.
    let (mut iface, mut dev, mut sockets) = setup(config());
    let h = client(&mut sockets);
    iface.connect(&mut sockets, h, far, Instant::ZERO).unwrap();
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    assert_eq!(arp_targets(&dev.tx), vec![]);
    assert_eq!(iface.stats().tx_drop_no_route, 1);
    // A route through another gateway: its retransmission (RTO 1 s) asks
    // for that gateway.
    iface
        .add_route(Route::via(
            cidr(Ipv4Address::new(203, 0, 113, 0), 24),
            Ipv4Address::new(192, 0, 2, 2),
        ))
        .unwrap();
    iface.poll(Instant::from_secs(1), &mut dev, &mut sockets);
    assert_eq!(arp_targets(&dev.tx), vec![Ipv4Address::new(192, 0, 2, 2)]);
    assert_eq!(iface.stats().tx_drop_no_route, 1);
}

#[test]
fn addresses_are_added_replaced_and_refused() {
    let (mut iface, _, mut sockets) = setup(Config::new(OUR_MAC, 7));
    assert_eq!(iface.ip_addrs().count(), 0);
    iface.add_ip_addr(cidr(OUR_IP, 24)).unwrap();
    // The same address again takes the new prefix (a renewed lease).
    iface.add_ip_addr(cidr(OUR_IP, 25)).unwrap();
    assert_eq!(iface.ip_addrs().collect::<Vec<_>>(), vec![cidr(OUR_IP, 25)]);
    for bad in [
        Ipv4Address::UNSPECIFIED,
        Ipv4Address::BROADCAST,
        Ipv4Address::new(224, 0, 0, 1),
        Ipv4Address::new(127, 0, 0, 1),
    ] {
        assert_eq!(
            iface.add_ip_addr(cidr(bad, 8)),
            Err(AddressError::NotUnicast)
        );
    }
    // IPv6 addresses take slots of their own (tests_ipv6.rs tests them).
    #[cfg(feature = "proto-ipv6")]
    assert_eq!(
        iface.add_ip_addr(IpCidr::new(IpAddress::v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), 64).unwrap()),
        Ok(())
    );
    for d in 2..=4 {
        iface
            .add_ip_addr(cidr(Ipv4Address::new(198, 51, 100, d), 24))
            .unwrap();
    }
    assert_eq!(
        iface.add_ip_addr(cidr(Ipv4Address::new(203, 0, 113, 1), 24)),
        Err(AddressError::Full)
    );
    assert_eq!(
        iface.remove_ip_addr(
            Ipv4Address::new(203, 0, 113, 1),
            &mut sockets,
            Instant::ZERO
        ),
        Err(AddressError::NotFound)
    );
    assert_eq!(
        iface.remove_ip_addr(OUR_IP, &mut sockets, Instant::ZERO),
        Ok(IpCidr::Ipv4(cidr(OUR_IP, 25)))
    );
    assert_eq!(iface.ip_addrs().count(), 3);
    iface
        .add_ip_addr(cidr(Ipv4Address::new(203, 0, 113, 1), 24))
        .unwrap();
}

#[test]
fn removing_an_address_ends_its_connections_with_a_readable_error() {
    let (mut iface, mut dev, mut sockets) =
        setup(config().with_ip(cidr(OTHER_IP, 24)).with_gateway(GATEWAY));
    let listener = client(&mut sockets);
    sockets
        .listen(listener, 80, 4, ChildBuffers::Alloc { rx: 1024, tx: 1024 })
        .unwrap();
    // An established connection to each address, and a half-open one to
    // the address that goes.
    let peer_other = Ipv4Address::new(198, 51, 100, 9);
    dev.rx
        .push_back(frame_from(PEER_IP, OUR_IP, &syn(5001, 80, 100)));
    dev.rx
        .push_back(frame_from(peer_other, OTHER_IP, &syn(5002, 80, 200)));
    dev.rx
        .push_back(frame_from(PEER_IP, OUR_IP, &syn(5003, 80, 300)));
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    let synacks = tcp_sent(&dev.tx);
    assert_eq!(synacks.len(), 3);
    for (port, src, seq) in [(5001, OUR_IP, 101), (5002, OTHER_IP, 201)] {
        let (_, synack) = synacks.iter().find(|(_, s)| s.dst_port == port).unwrap();
        let mut ack = syn(port, 80, seq);
        ack.flags = TcpFlags::ACK;
        ack.ack_number = synack.seq_number + 1;
        ack.max_seg_size = None;
        let peer = if src == OUR_IP { PEER_IP } else { peer_other };
        dev.rx.push_back(frame_from(peer, src, &ack));
    }
    // A connection we open from the address that goes.
    let outgoing = client(&mut sockets);
    iface
        .connect(
            &mut sockets,
            outgoing,
            IpEndpoint::new(PEER_IP.into(), 8080),
            Instant::ZERO,
        )
        .unwrap();
    iface.poll(Instant::from_millis(1), &mut dev, &mut sockets);
    let gone = sockets.accept(listener).unwrap();
    let kept = sockets.accept(listener).unwrap();
    let (gone, kept) = if sockets
        .get::<TcpSocket>(gone)
        .unwrap()
        .local_endpoint()
        .unwrap()
        .addr
        == OUR_IP.into()
    {
        (gone, kept)
    } else {
        (kept, gone)
    };
    assert_eq!(
        sockets.get::<TcpSocket>(gone).unwrap().state(),
        State::Established
    );
    assert_eq!(
        sockets.get::<TcpSocket>(kept).unwrap().state(),
        State::Established
    );
    assert_eq!(
        sockets.get::<TcpSocket>(outgoing).unwrap().state(),
        State::SynSent
    );
    assert_eq!(sockets.tcp_records().count(), 1);
    while sockets.pop_trace().is_some() {}
    // A route through a gateway on the prefix that goes, and one on the
    // prefix that stays.
    iface
        .add_route(Route::via(
            cidr(Ipv4Address::new(203, 0, 113, 0), 24),
            Ipv4Address::new(198, 51, 100, 254),
        ))
        .unwrap();

    dev.tx.clear();
    let at = Instant::from_millis(5);
    assert_eq!(
        iface.remove_ip_addr(OUR_IP, &mut sockets, at),
        Ok(IpCidr::Ipv4(cidr(OUR_IP, 24)))
    );
    for h in [gone, outgoing] {
        let socket = sockets.get::<TcpSocket>(h).unwrap();
        assert_eq!(socket.state(), State::Closed);
        assert_eq!(socket.error(), Some(TcpError::AddressRemoved));
        assert_eq!(
            format!("{}", TcpError::AddressRemoved),
            "local address removed"
        );
    }
    let kept_socket = sockets.get::<TcpSocket>(kept).unwrap();
    assert_eq!(
        (kept_socket.state(), kept_socket.error()),
        (State::Established, None)
    );
    assert_eq!(
        sockets.get::<TcpSocket>(listener).unwrap().state(),
        State::Listen
    );
    assert_eq!(sockets.tcp_records().count(), 0);

    let mut events = Vec::new();
    while let Some(event) = sockets.pop_trace() {
        events.push((event.handle, format!("{}", event.transition), event.at));
    }
    events.sort_by_key(|e| format!("{:?}", e.0));
    let mut expected = vec![
        (
            Some(gone),
            "ESTABLISHED -> CLOSED (address removed)".into(),
            at,
        ),
        (
            Some(outgoing),
            "SYN_SENT -> CLOSED (address removed)".into(),
            at,
        ),
        (None, "SYN_RCVD -> CLOSED (address removed)".into(), at),
    ];
    expected.sort_by_key(|e: &(Option<SocketHandle>, std::string::String, Instant)| {
        format!("{:?}", e.0)
    });
    assert_eq!(events, expected);

    // The default route's gateway was on the removed prefix: it went; the
    // route through the remaining prefix stayed.
    assert_eq!(iface.ipv4_gateway(), None);
    assert_eq!(iface.routes().len(), 1);

    // Nothing is sent from the removed address, not even a RST, and
    // segments to it are no longer ours.
    iface.poll(Instant::from_millis(6), &mut dev, &mut sockets);
    assert!(tcp_sent(&dev.tx).iter().all(|(src, _)| *src != OUR_IP));
    let mut data = syn(5001, 80, 101);
    data.flags = TcpFlags::ACK;
    data.max_seg_size = None;
    dev.rx.push_back(frame_from(PEER_IP, OUR_IP, &data));
    iface.poll(Instant::from_millis(7), &mut dev, &mut sockets);
    assert_eq!(iface.stats().rx_drop_ipv4_not_for_us, 1);
    assert!(tcp_sent(&dev.tx).is_empty());
    // The socket can be used again; the error clears.
    iface
        .connect(
            &mut sockets,
            outgoing,
            IpEndpoint::new(peer_other.into(), 80),
            at,
        )
        .unwrap();
    assert_eq!(sockets.get::<TcpSocket>(outgoing).unwrap().error(), None);
}

#[test]
fn the_interface_mtu_caps_the_device_for_new_connections_mss() {
    let (mut iface, mut dev, mut sockets) = setup(config().with_ip_mtu(1000));
    // Known to the interface before any poll.
    assert_eq!(iface.ip_mtu(), 1000);
    let learn = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Reply,
        source_hardware_addr: PEER_MAC,
        source_protocol_addr: PEER_IP,
        target_hardware_addr: OUR_MAC,
        target_protocol_addr: OUR_IP,
    };
    let mut arp = vec![0u8; 14 + learn.buffer_len()];
    EthernetRepr {
        src_addr: PEER_MAC,
        dst_addr: OUR_MAC,
        ethertype: EthernetProtocol::Arp,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut arp[..]));
    learn.emit(&mut ArpPacket::new_unchecked(&mut arp[14..]));
    // The peer's answer to the first SYN's ARP request (later ones find
    // the entry).
    let mss_of_new_connection = |iface: &mut Interface<'static>,
                                 dev: &mut ScriptDevice,
                                 sockets: &mut SocketSet<'static>,
                                 port: u16,
                                 at: Instant| {
        let h = client(sockets);
        iface
            .connect(sockets, h, IpEndpoint::new(PEER_IP.into(), port), at)
            .unwrap();
        dev.tx.clear();
        iface.poll(at, dev, sockets);
        dev.rx.push_back(arp.clone());
        iface.poll(at + Duration::from_millis(1), dev, sockets);
        let sent = tcp_sent(&dev.tx);
        let (_, syn) = sent.iter().find(|(_, s)| s.dst_port == port).unwrap();
        assert_eq!(syn.flags, TcpFlags::SYN);
        syn.max_seg_size
    };
    assert_eq!(
        mss_of_new_connection(&mut iface, &mut dev, &mut sockets, 1, Instant::ZERO),
        Some(960)
    );
    // The cap is above the device's 1500: the device's MTU rules.
    iface.set_ip_mtu(Some(9000));
    assert_eq!(iface.ip_mtu(), 1500);
    assert_eq!(
        mss_of_new_connection(&mut iface, &mut dev, &mut sockets, 2, Instant::from_secs(1)),
        Some(1460)
    );
    // Lowered at once, before any poll; values below RFC 791's 68 are raised.
    iface.set_ip_mtu(Some(576));
    assert_eq!(iface.ip_mtu(), 576);
    assert_eq!(
        mss_of_new_connection(&mut iface, &mut dev, &mut sockets, 3, Instant::from_secs(2)),
        Some(536)
    );
    iface.set_ip_mtu(Some(10));
    assert_eq!((iface.ip_mtu(), iface.ip_mtu_cap()), (68, Some(68)));
    // No cap: a device with a 9000-byte MTU gives its own.
    iface.set_ip_mtu(None);
    dev.mtu = Some(9000);
    iface.poll(Instant::from_secs(3), &mut dev, &mut sockets);
    assert_eq!(iface.ip_mtu(), 9000);
    assert_eq!(
        mss_of_new_connection(&mut iface, &mut dev, &mut sockets, 4, Instant::from_secs(3)),
        Some(8960)
    );
}

/// An IPv4 frame from `PEER_IP` to `OUR_IP` carrying `ip_packet` (a whole
/// IPv4 packet, header included).
fn ip_frame(ip_packet: &[u8]) -> Vec<u8> {
    let mut frame = vec![0u8; 14];
    EthernetRepr {
        src_addr: PEER_MAC,
        dst_addr: OUR_MAC,
        ethertype: EthernetProtocol::Ipv4,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut frame[..]));
    frame.extend_from_slice(ip_packet);
    frame
}

/// The fragments of `payload` (protocol `protocol`) from the peer to us,
/// cut to `mtu`.
fn peer_fragments(protocol: IpProtocol, ident: u16, payload: &[u8], mtu: usize) -> Vec<Vec<u8>> {
    let header = Ipv4Repr {
        src_addr: PEER_IP,
        dst_addr: OUR_IP,
        next_header: protocol,
        payload_len: payload.len(),
        hop_limit: 64,
        dont_frag: false,
        ecn: IpEcn::NotEct,
    };
    let mut fragmenter =
        super::fragment::Ipv4Fragmenter::new(header, ident, &[], payload, mtu).unwrap();
    let mut out = Vec::new();
    while let Some(len) = fragmenter.next_len() {
        let mut packet = vec![0u8; len];
        fragmenter
            .emit_next(&mut packet, &ChecksumCapabilities::default())
            .unwrap();
        out.push(ip_frame(&packet));
    }
    out
}

fn arp_request_from_peer() -> Vec<u8> {
    let request = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Request,
        source_hardware_addr: PEER_MAC,
        source_protocol_addr: PEER_IP,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: OUR_IP,
    };
    let mut frame = vec![0u8; 14 + request.buffer_len()];
    EthernetRepr {
        src_addr: PEER_MAC,
        dst_addr: EthernetAddress::BROADCAST,
        ethertype: EthernetProtocol::Arp,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut frame[..]));
    request.emit(&mut ArpPacket::new_unchecked(&mut frame[14..]));
    frame
}

#[test]
fn a_fragmented_ping_is_reassembled_and_answered_in_fragments() {
    let (mut iface, mut dev, mut sockets) = setup(config());
    dev.rx.push_back(arp_request_from_peer());
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    dev.tx.clear();

    // `ping -s 4000`: 4008 bytes of ICMP in three fragments, the last first.
    let data: Vec<u8> = (0..4000u32).map(|i| (i * 31 % 256) as u8).collect();
    let request = Icmpv4Repr::EchoRequest {
        ident: 0x4242,
        seq_no: 3,
        data: &data,
    };
    let mut icmp = vec![0u8; request.buffer_len()];
    request.emit(
        &mut Icmpv4Packet::new_unchecked(&mut icmp[..]),
        &ChecksumCapabilities::default(),
    );
    let mut fragments = peer_fragments(IpProtocol::Icmp, 0x0777, &icmp, 1500);
    assert_eq!(fragments.len(), 3);
    fragments.rotate_right(1);
    for fragment in &fragments[..2] {
        dev.rx.push_back(fragment.clone());
    }
    let t = Instant::from_millis(10);
    iface.poll(t, &mut dev, &mut sockets);
    assert!(dev.tx.is_empty());
    // Waiting fragments put the reassembly deadline in poll_at.
    assert_eq!(iface.poll_at(&sockets), Some(t + Duration::from_secs(15)));
    dev.rx.push_back(fragments[2].clone());
    iface.poll(t, &mut dev, &mut sockets);
    let stats = iface.stats();
    assert_eq!(
        (stats.reassembly.fragments, stats.reassembly.reassembled),
        (3, 1)
    );
    assert_eq!(stats.icmp_echo_replies, 1);
    assert_eq!((stats.tx_fragmented, stats.tx_fragments), (1, 3));
    // The reassembly deadline left poll_at (a neighbor timer may remain).
    assert_ne!(iface.poll_at(&sockets), Some(t + Duration::from_secs(15)));

    // Three fragments of 1480, 1480 and 1048 bytes of ICMP back, to the
    // peer, with one identification, offsets 0, 185 and 370 units.
    assert_eq!(dev.tx.len(), 3);
    let mut reassembler = super::reassembly::Reassembler::new(
        vec![super::reassembly::ReassemblySlot::EMPTY; 1].into(),
        vec![0u8; 8192].into(),
        Default::default(),
    );
    let mut outcome = None;
    let mut idents = Vec::new();
    for (frame, (len, offset, more)) in
        dev.tx
            .iter()
            .zip([(1500, 0, true), (1500, 1480, true), (1068, 2960, false)])
    {
        let eth = EthernetFrame::new_checked(&frame[..]).unwrap();
        assert_eq!((eth.dst_addr(), eth.src_addr()), (PEER_MAC, OUR_MAC));
        let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
        assert!(ip.verify_checksum());
        assert_eq!(
            (
                ip.total_len(),
                ip.frag_offset(),
                ip.more_frags(),
                ip.dont_frag()
            ),
            (len, offset, more, false)
        );
        assert_eq!((ip.src_addr(), ip.dst_addr()), (OUR_IP, PEER_IP));
        idents.push(ip.ident());
        outcome = Some(reassembler.add(t, &ip));
    }
    assert!(idents.iter().all(|&i| i == idents[0]));
    let Some(super::reassembly::FragmentOutcome::Complete(index)) = outcome else {
        panic!("{outcome:?}");
    };
    let (_, reply) = reassembler.datagram(index).unwrap();
    let reply = Icmpv4Repr::parse(
        &Icmpv4Packet::new_checked(reply).unwrap(),
        &ChecksumCapabilities::default(),
    )
    .unwrap();
    assert_eq!(
        reply,
        Icmpv4Repr::EchoReply {
            ident: 0x4242,
            seq_no: 3,
            data: &data
        }
    );
}

#[test]
fn a_fragmented_syn_reaches_its_listener_and_lost_fragments_time_out() {
    let (mut iface, mut dev, mut sockets) = setup(config());
    let listener = client(&mut sockets);
    sockets
        .listen(listener, 80, 4, ChildBuffers::Alloc { rx: 1024, tx: 1024 })
        .unwrap();
    dev.rx.push_back(arp_request_from_peer());
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    dev.tx.clear();

    let segment = syn(6000, 80, 999);
    let mut tcp = vec![0u8; segment.buffer_len()];
    segment.emit(
        &mut TcpPacket::new_unchecked(&mut tcp[..]),
        &PEER_IP.into(),
        &OUR_IP.into(),
        &ChecksumCapabilities::default(),
    );
    // 24 bytes of TCP: 16 then 8.
    let fragments = peer_fragments(IpProtocol::Tcp, 5, &tcp, 36);
    assert_eq!(fragments.len(), 2);
    for fragment in fragments {
        dev.rx.push_back(fragment);
    }
    iface.poll(Instant::from_millis(1), &mut dev, &mut sockets);
    let sent = tcp_sent(&dev.tx);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1.flags, TcpFlags::SYN | TcpFlags::ACK);
    assert_eq!(sent[0].1.ack_number, SeqNumber(1000));
    assert_eq!(iface.stats().tcp_segments_received, 1);

    // A corrupted reassembled segment fails its checksum in software.
    let mut bad = tcp.clone();
    bad[2] = 0x1f; // another destination port, checksum unchanged
    let bad_fragments = peer_fragments(IpProtocol::Tcp, 6, &bad, 36);
    for fragment in bad_fragments {
        dev.rx.push_back(fragment);
    }
    iface.poll(Instant::from_millis(2), &mut dev, &mut sockets);
    assert_eq!(iface.stats().rx_drop_tcp_checksum, 1);

    // Only the first fragment of another: it times out at 15 s exactly.
    let lost = peer_fragments(IpProtocol::Tcp, 7, &tcp, 36);
    dev.rx.push_back(lost[0].clone());
    let t = Instant::from_secs(1);
    iface.poll(t, &mut dev, &mut sockets);
    let deadline = t + Duration::from_secs(15);
    assert!(iface.poll_at(&sockets).is_some_and(|at| at <= deadline));
    iface.poll(deadline - Duration::from_micros(1), &mut dev, &mut sockets);
    assert_eq!(iface.stats().reassembly.timed_out, 0);
    assert_eq!(
        (
            iface.reassembly().in_flight(),
            iface.reassembly().memory_used()
        ),
        (1, 16)
    );
    iface.poll(deadline, &mut dev, &mut sockets);
    assert_eq!(iface.stats().reassembly.timed_out, 1);
    assert_eq!(
        (
            iface.reassembly().in_flight(),
            iface.reassembly().memory_used()
        ),
        (0, 0)
    );

    // A shorter timeout, set at run time, applies to the next datagram.
    let mut config = iface.reassembly().config();
    config.timeout = Duration::from_secs(2);
    iface.set_reassembly_config(config);
    dev.rx.push_back(lost[0].clone());
    iface.poll(deadline, &mut dev, &mut sockets);
    iface.poll(deadline + Duration::from_secs(2), &mut dev, &mut sockets);
    assert_eq!(iface.stats().reassembly.timed_out, 2);
}

#[test]
fn fragments_wait_for_arp_together_and_df_datagrams_are_not_fragmented() {
    let (mut iface, mut dev, mut sockets) = setup(config());
    // No ARP first: the reply's fragments are held until the peer answers.
    let data = vec![0x5au8; 3000];
    let request = Icmpv4Repr::EchoRequest {
        ident: 1,
        seq_no: 1,
        data: &data,
    };
    let mut icmp = vec![0u8; request.buffer_len()];
    request.emit(
        &mut Icmpv4Packet::new_unchecked(&mut icmp[..]),
        &ChecksumCapabilities::default(),
    );
    for fragment in peer_fragments(IpProtocol::Icmp, 9, &icmp, 1500) {
        dev.rx.push_back(fragment);
    }
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    assert_eq!(arp_targets(&dev.tx), vec![PEER_IP]);
    assert_eq!(dev.tx.len(), 1);
    let answer = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Reply,
        source_hardware_addr: PEER_MAC,
        source_protocol_addr: PEER_IP,
        target_hardware_addr: OUR_MAC,
        target_protocol_addr: OUR_IP,
    };
    let mut frame = vec![0u8; 14 + answer.buffer_len()];
    EthernetRepr {
        src_addr: PEER_MAC,
        dst_addr: OUR_MAC,
        ethertype: EthernetProtocol::Arp,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut frame[..]));
    answer.emit(&mut ArpPacket::new_unchecked(&mut frame[14..]));
    dev.rx.push_back(frame);
    dev.tx.clear();
    iface.poll(Instant::from_millis(5), &mut dev, &mut sockets);
    let sizes: Vec<(u16, u16, bool)> = dev
        .tx
        .iter()
        .map(|f| {
            let ip = Ipv4Packet::new_checked(&f[14..]).unwrap();
            assert!(ip.verify_checksum());
            (ip.total_len(), ip.frag_offset(), ip.more_frags())
        })
        .collect();
    assert_eq!(
        sizes,
        vec![(1500, 0, true), (1500, 1480, true), (68, 2960, false)]
    );
    assert_eq!(iface.stats().arp_held_dropped, 0);
}

#[test]
fn every_configuration_error_is_a_std_error_with_its_own_text() {
    use super::fragment::FragmentError;
    use super::route::RouteError;
    let errors: Vec<std::boxed::Box<dyn core::error::Error>> = vec![
        std::boxed::Box::new(AddressError::Full),
        std::boxed::Box::new(AddressError::NotUnicast),
        std::boxed::Box::new(AddressError::Unsupported),
        std::boxed::Box::new(AddressError::NotFound),
        std::boxed::Box::new(RouteError::TableFull),
        std::boxed::Box::new(RouteError::VersionMismatch),
        std::boxed::Box::new(RouteError::GatewayNotUnicast),
        std::boxed::Box::new(FragmentError::DontFragment),
        std::boxed::Box::new(FragmentError::MtuTooSmall),
        std::boxed::Box::new(FragmentError::BadLength),
        std::boxed::Box::new(TcpError::AddressRemoved),
    ];
    let mut texts: Vec<std::string::String> = errors.iter().map(|e| format!("{e}")).collect();
    assert!(texts.iter().all(|t| !t.is_empty()));
    texts.sort();
    texts.dedup();
    assert_eq!(texts.len(), errors.len());
    assert_eq!(
        format!("{}", crate::socket::tcp::Cause::AddressRemoved),
        "address removed"
    );
}

#[test]
fn an_echo_request_above_a_lowered_mtu_is_answered_in_fragments() {
    let (mut iface, mut dev, mut sockets) = setup(config().with_ip_mtu(576));
    dev.rx.push_back(arp_request_from_peer());
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    dev.tx.clear();
    // 1000 bytes of ICMP, unfragmented (the device's MTU is 1500).
    let data = vec![0x33u8; 992];
    let request = Icmpv4Repr::EchoRequest {
        ident: 2,
        seq_no: 9,
        data: &data,
    };
    let mut icmp = vec![0u8; request.buffer_len()];
    request.emit(
        &mut Icmpv4Packet::new_unchecked(&mut icmp[..]),
        &ChecksumCapabilities::default(),
    );
    let frames = peer_fragments(IpProtocol::Icmp, 4, &icmp, 1500);
    assert_eq!(frames.len(), 1);
    dev.rx.push_back(frames[0].clone());
    iface.poll(Instant::from_millis(1), &mut dev, &mut sockets);
    // 552 + 448 bytes of ICMP in two fragments of at most 576 bytes.
    let sizes: Vec<(u16, u16, bool)> = dev
        .tx
        .iter()
        .map(|f| {
            let ip = Ipv4Packet::new_checked(&f[14..]).unwrap();
            (ip.total_len(), ip.frag_offset(), ip.more_frags())
        })
        .collect();
    assert_eq!(sizes, vec![(572, 0, true), (468, 552, false)]);
    let stats = iface.stats();
    assert_eq!(stats.icmp_echo_replies, 1);
    // Not a reassembly: its counters stay still, and the slot is free.
    assert_eq!(
        (stats.reassembly.fragments, stats.reassembly.reassembled),
        (0, 0)
    );
    assert_eq!(iface.reassembly().in_flight(), 0);
}

#[test]
fn udp_datagrams_larger_than_the_mtu_go_both_ways_in_fragments() {
    use crate::socket::udp::{UdpPacketBuffer, UdpPacketMetadata, UdpSocket};
    let (mut iface, mut dev, mut sockets) = setup(config());
    let buffer = || UdpPacketBuffer::new(vec![UdpPacketMetadata::EMPTY; 4], vec![0u8; 16384]);
    let h = sockets.add(UdpSocket::new(buffer(), buffer())).unwrap();
    iface.udp_bind(&mut sockets, h, 9000).unwrap();
    dev.rx.push_back(arp_request_from_peer());
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    dev.tx.clear();

    // In: 5000 bytes from the peer in four fragments, out of order.
    let data: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 253) as u8).collect();
    let repr = UdpRepr {
        src_port: 4000,
        dst_port: 9000,
        payload: &data,
    };
    let mut udp = vec![0u8; repr.buffer_len()];
    repr.emit(
        &mut UdpPacket::new_unchecked(&mut udp[..]),
        &PEER_IP.into(),
        &OUR_IP.into(),
        &ChecksumCapabilities::default(),
    );
    let mut fragments = peer_fragments(IpProtocol::Udp, 0x99, &udp, 1500);
    assert_eq!(fragments.len(), 4);
    fragments.swap(0, 2);
    for fragment in fragments {
        dev.rx.push_back(fragment);
    }
    iface.poll(Instant::from_millis(1), &mut dev, &mut sockets);
    let mut received = vec![0u8; 6000];
    let socket = sockets.get_mut::<UdpSocket>(h).unwrap();
    let (len, from) = socket.recv_from(&mut received).unwrap();
    assert_eq!(&received[..len], &data[..]);
    assert_eq!(from, IpEndpoint::new(PEER_IP.into(), 4000));
    assert_eq!(iface.stats().reassembly.reassembled, 1);

    // Out: 3000 bytes to the peer in 1480 + 1480 + 48 bytes of UDP.
    let reply: Vec<u8> = (0..3000u32).map(|i| (i % 241) as u8).collect();
    sockets
        .get_mut::<UdpSocket>(h)
        .unwrap()
        .send_to(&reply, IpEndpoint::new(PEER_IP.into(), 4000))
        .unwrap();
    iface.poll(Instant::from_millis(2), &mut dev, &mut sockets);
    assert_eq!(dev.tx.len(), 3);
    let mut reassembler = super::reassembly::Reassembler::new(
        vec![super::reassembly::ReassemblySlot::EMPTY; 1].into(),
        vec![0u8; 4096].into(),
        Default::default(),
    );
    let mut outcome = None;
    for (frame, (len, offset, more)) in
        dev.tx
            .iter()
            .zip([(1500, 0, true), (1500, 1480, true), (68, 2960, false)])
    {
        let ip = Ipv4Packet::new_checked(&frame[14..]).unwrap();
        assert!(ip.verify_checksum());
        assert_eq!(
            (
                ip.total_len(),
                ip.frag_offset(),
                ip.more_frags(),
                ip.dont_frag()
            ),
            (len, offset, more, false)
        );
        outcome = Some(reassembler.add(Instant::ZERO, &ip));
    }
    let Some(super::reassembly::FragmentOutcome::Complete(index)) = outcome else {
        panic!("{outcome:?}");
    };
    let (_, whole) = reassembler.datagram(index).unwrap();
    let packet = UdpPacket::new_checked(whole).unwrap();
    assert!(packet.verify_checksum(&OUR_IP.into(), &PEER_IP.into()));
    assert_eq!((packet.src_port(), packet.dst_port()), (9000, 4000));
    assert_eq!(packet.payload(), &reply[..]);
    let stats = iface.stats();
    assert_eq!((stats.tx_fragmented, stats.tx_fragments), (1, 3));
    assert_eq!(stats.udp_datagrams_sent, 1);
    assert_eq!(stats.tx_drop_udp, 0);
}

#[test]
fn on_the_ip_medium_fragments_go_out_as_bare_packets() {
    let (mut iface, mut dev, mut sockets) = setup(config());
    dev.medium_ip = true;
    let data = vec![0xc3u8; 2000];
    let request = Icmpv4Repr::EchoRequest {
        ident: 5,
        seq_no: 6,
        data: &data,
    };
    let mut icmp = vec![0u8; request.buffer_len()];
    request.emit(
        &mut Icmpv4Packet::new_unchecked(&mut icmp[..]),
        &ChecksumCapabilities::default(),
    );
    for frame in peer_fragments(IpProtocol::Icmp, 3, &icmp, 1500) {
        // Bare IP packets: no Ethernet header.
        dev.rx.push_back(frame[14..].to_vec());
    }
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    let sizes: Vec<(usize, u16, bool)> = dev
        .tx
        .iter()
        .map(|p| {
            let ip = Ipv4Packet::new_checked(&p[..]).unwrap();
            assert!(ip.verify_checksum());
            (p.len(), ip.frag_offset(), ip.more_frags())
        })
        .collect();
    assert_eq!(sizes, vec![(1500, 0, true), (548, 1480, false)]);
    assert_eq!(iface.stats().icmp_echo_replies, 1);
}

#[test]
fn a_reassembled_datagram_with_a_link_broadcast_fragment_draws_no_port_unreachable() {
    let (mut iface, mut dev, mut sockets) = setup(config());
    dev.rx.push_back(arp_request_from_peer());
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    dev.tx.clear();
    let data = vec![0x5au8; 3000];
    let repr = UdpRepr {
        src_port: 4000,
        dst_port: 9999,
        payload: &data,
    };
    let mut udp = vec![0u8; repr.buffer_len()];
    repr.emit(
        &mut UdpPacket::new_unchecked(&mut udp[..]),
        &PEER_IP.into(),
        &OUR_IP.into(),
        &ChecksumCapabilities::default(),
    );
    // One of three fragments in an Ethernet broadcast frame (RFC 1122
    // section 3.2.2): no port unreachable for the datagram.
    let mut fragments = peer_fragments(IpProtocol::Udp, 0x77, &udp, 1500);
    assert_eq!(fragments.len(), 3);
    fragments[1][..6].copy_from_slice(&EthernetAddress::BROADCAST.0);
    for fragment in fragments {
        dev.rx.push_back(fragment);
    }
    iface.poll(Instant::from_millis(1), &mut dev, &mut sockets);
    assert!(dev.tx.is_empty());
    let stats = iface.stats();
    assert_eq!(stats.reassembly.reassembled, 1);
    assert_eq!(stats.udp_no_socket, 1);
    assert_eq!(stats.icmp_port_unreachable_sent, 0);
    // All in unicast frames: answered.
    for fragment in peer_fragments(IpProtocol::Udp, 0x78, &udp, 1500) {
        dev.rx.push_back(fragment);
    }
    iface.poll(Instant::from_millis(2), &mut dev, &mut sockets);
    let stats = iface.stats();
    assert_eq!(stats.reassembly.reassembled, 2);
    assert_eq!(stats.udp_no_socket, 2);
    assert_eq!(stats.icmp_port_unreachable_sent, 1);
    assert_eq!(dev.tx.len(), 1);
}
