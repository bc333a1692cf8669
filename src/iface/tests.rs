//! Interface tests: exact frames in, exact frames out, exact counters.

extern crate std;

use std::collections::VecDeque;
use std::vec;
use std::vec::Vec;

use super::{Config, Interface};
use crate::phy::{Device, DeviceCapabilities, RxToken, TxToken};
use crate::socket::tcp::{State, TcpSocket};
use crate::socket::{ChildBuffers, SocketSet};
use crate::storage::RingBuffer;
use crate::time::{Duration, Instant};
use crate::wire::*;

const OUR_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);
const PEER_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 9]);
const OUR_IP: Ipv4Address = Ipv4Address::new(192, 0, 2, 1);
const PEER_IP: Ipv4Address = Ipv4Address::new(192, 0, 2, 9);

/// A device fed by the test, recording what the stack sends: Ethernet
/// with an MTU of 1500 unless `mtu` or `medium_ip` say otherwise (the
/// interface tests' other modules share it).
#[derive(Default)]
pub(super) struct ScriptDevice {
    pub(super) rx: VecDeque<Vec<u8>>,
    pub(super) tx: Vec<Vec<u8>>,
    pub(super) mtu: Option<usize>,
    pub(super) medium_ip: bool,
}

pub(super) struct Rx(Vec<u8>);
pub(super) struct Tx<'a>(&'a mut Vec<Vec<u8>>);

impl RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = vec![0u8; len];
        let r = f(&mut frame);
        self.0.push(frame);
        r
    }
}

impl Device for ScriptDevice {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(Rx, Tx<'_>)> {
        let frame = self.rx.pop_front()?;
        Some((Rx(frame), Tx(&mut self.tx)))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Tx<'_>> {
        Some(Tx(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        if let Some(mtu) = self.mtu {
            caps.max_transmission_unit = mtu;
        }
        if self.medium_ip {
            caps.medium = crate::phy::Medium::Ip;
        }
        caps
    }
}

fn setup() -> (Interface<'static>, ScriptDevice, SocketSet<'static>) {
    let config = Config::new(OUR_MAC, 7).with_ip(Ipv4Cidr::new(OUR_IP, 24).unwrap());
    let sockets = SocketSet::with_capacity(8);
    (
        Interface::new(config).unwrap(),
        ScriptDevice::default(),
        sockets,
    )
}

fn ethernet(
    dst: EthernetAddress,
    ethertype: EthernetProtocol,
    payload_len: usize,
    fill: impl FnOnce(&mut [u8]),
) -> Vec<u8> {
    let mut frame = vec![0u8; 14 + payload_len];
    let mut eth = EthernetFrame::new_unchecked(&mut frame[..]);
    EthernetRepr {
        src_addr: PEER_MAC,
        dst_addr: dst,
        ethertype,
    }
    .emit(&mut eth);
    fill(&mut frame[14..]);
    frame
}

fn ipv4(protocol: IpProtocol, payload_len: usize, fill: impl FnOnce(&mut [u8])) -> Vec<u8> {
    ethernet(OUR_MAC, EthernetProtocol::Ipv4, 20 + payload_len, |bytes| {
        let repr = Ipv4Repr {
            src_addr: PEER_IP,
            dst_addr: OUR_IP,
            next_header: protocol,
            payload_len,
            hop_limit: 64,
            dont_frag: true,
            ecn: crate::wire::IpEcn::NotEct,
        };
        let mut packet = Ipv4Packet::new_unchecked(&mut *bytes);
        repr.emit(&mut packet, &ChecksumCapabilities::default());
        fill(packet.payload_mut());
    })
}

fn tcp_frame(repr: &TcpRepr) -> Vec<u8> {
    ipv4(IpProtocol::Tcp, repr.buffer_len(), |bytes| {
        repr.emit(
            &mut TcpPacket::new_unchecked(bytes),
            &IpAddress::Ipv4(PEER_IP),
            &IpAddress::Ipv4(OUR_IP),
            &ChecksumCapabilities::default(),
        );
    })
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

/// Parses a frame the stack sent as Ethernet/IPv4/TCP, checking every
/// checksum.
fn parse_tcp(frame: &[u8]) -> (EthernetAddress, TcpRepr<'_>) {
    let eth = EthernetFrame::new_checked(frame).unwrap();
    assert_eq!(eth.ethertype(), EthernetProtocol::Ipv4);
    let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
    let ip_repr = Ipv4Repr::parse(&ip, &ChecksumCapabilities::default()).unwrap();
    assert_eq!((ip_repr.src_addr, ip_repr.dst_addr), (OUR_IP, PEER_IP));
    let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
    let repr = TcpRepr::parse(
        &tcp,
        &IpAddress::Ipv4(OUR_IP),
        &IpAddress::Ipv4(PEER_IP),
        &ChecksumCapabilities::default(),
    )
    .unwrap();
    (eth.dst_addr(), repr)
}

#[test]
fn arp_request_for_our_address_gets_exact_reply() {
    let (mut iface, mut dev, mut sockets) = setup();
    let request = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Request,
        source_hardware_addr: PEER_MAC,
        source_protocol_addr: PEER_IP,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: OUR_IP,
    };
    dev.rx.push_back(ethernet(
        EthernetAddress::BROADCAST,
        EthernetProtocol::Arp,
        request.buffer_len(),
        |b| request.emit(&mut ArpPacket::new_unchecked(b)),
    ));
    assert!(iface.poll(Instant::ZERO, &mut dev, &mut sockets));
    assert_eq!(dev.tx.len(), 1);
    let eth = EthernetFrame::new_checked(&dev.tx[0][..]).unwrap();
    assert_eq!(
        (eth.dst_addr(), eth.src_addr(), eth.ethertype()),
        (PEER_MAC, OUR_MAC, EthernetProtocol::Arp)
    );
    let reply = ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).unwrap()).unwrap();
    assert_eq!(
        reply,
        ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Reply,
            source_hardware_addr: OUR_MAC,
            source_protocol_addr: OUR_IP,
            target_hardware_addr: PEER_MAC,
            target_protocol_addr: PEER_IP,
        }
    );
    assert_eq!(iface.neighbor(PEER_IP, Instant::ZERO), Some(PEER_MAC));
    assert_eq!(iface.stats().arp_replies_sent, 1);
}

#[test]
fn arp_request_for_another_host_is_ignored() {
    let (mut iface, mut dev, mut sockets) = setup();
    let request = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Request,
        source_hardware_addr: PEER_MAC,
        source_protocol_addr: PEER_IP,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: Ipv4Address::new(192, 0, 2, 77),
    };
    dev.rx.push_back(ethernet(
        EthernetAddress::BROADCAST,
        EthernetProtocol::Arp,
        request.buffer_len(),
        |b| request.emit(&mut ArpPacket::new_unchecked(b)),
    ));
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    assert!(dev.tx.is_empty());
    assert_eq!(iface.neighbor(PEER_IP, Instant::ZERO), None);
}

#[test]
fn ping_gets_echo_reply_with_same_data() {
    let (mut iface, mut dev, mut sockets) = setup();
    let data = b"pollnet ping payload 0123456789";
    let request = Icmpv4Repr::EchoRequest {
        ident: 0x1234,
        seq_no: 7,
        data,
    };
    dev.rx
        .push_back(ipv4(IpProtocol::Icmp, request.buffer_len(), |b| {
            request.emit(
                &mut Icmpv4Packet::new_unchecked(b),
                &ChecksumCapabilities::default(),
            )
        }));
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    assert_eq!(dev.tx.len(), 1);
    let eth = EthernetFrame::new_checked(&dev.tx[0][..]).unwrap();
    assert_eq!(eth.dst_addr(), PEER_MAC);
    let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
    let ip_repr = Ipv4Repr::parse(&ip, &ChecksumCapabilities::default()).unwrap();
    assert_eq!(
        (ip_repr.src_addr, ip_repr.dst_addr, ip_repr.next_header),
        (OUR_IP, PEER_IP, IpProtocol::Icmp)
    );
    let icmp = Icmpv4Packet::new_checked(ip.payload()).unwrap();
    let reply = Icmpv4Repr::parse(&icmp, &ChecksumCapabilities::default()).unwrap();
    assert_eq!(
        reply,
        Icmpv4Repr::EchoReply {
            ident: 0x1234,
            seq_no: 7,
            data
        }
    );
    assert_eq!(iface.stats().icmp_echo_replies, 1);
}

#[test]
fn every_drop_reason_is_counted() {
    let (mut iface, mut dev, mut sockets) = setup();
    // Too short for Ethernet.
    dev.rx.push_back(vec![0u8; 10]);
    // For another hardware address.
    dev.rx.push_back(ethernet(
        EthernetAddress([2, 0, 0, 0, 0, 0x42]),
        EthernetProtocol::Ipv4,
        20,
        |_| {},
    ));
    // An EtherType the interface does not speak (IEEE 802 local
    // experimental; IPv6 has its own tests, tests_ipv6.rs).
    dev.rx.push_back(ethernet(
        OUR_MAC,
        EthernetProtocol::Unknown(0x88b5),
        40,
        |_| {},
    ));
    // IPv4 with a broken header checksum.
    let mut bad_ip = ipv4(IpProtocol::Udp, 8, |_| {});
    bad_ip[14 + 10] ^= 0xff;
    dev.rx.push_back(bad_ip);
    // A fragment (MF set).
    let mut fragment = ipv4(IpProtocol::Udp, 8, |_| {});
    {
        let mut ip = Ipv4Packet::new_unchecked(&mut fragment[14..]);
        ip.set_more_frags(true);
        ip.fill_checksum();
    }
    dev.rx.push_back(fragment);
    // IGMP (a protocol the interface does not handle).
    dev.rx.push_back(ipv4(IpProtocol::Unknown(2), 8, |_| {}));
    // TCP with a broken checksum.
    let mut bad_tcp = tcp_frame(&syn(1000, 80, 1));
    let last = bad_tcp.len() - 1;
    bad_tcp[last] ^= 0x01;
    dev.rx.push_back(bad_tcp);
    // TCP with data offset 4.
    let mut short_offset = tcp_frame(&syn(1000, 80, 1));
    short_offset[14 + 20 + 12] = 0x40;
    dev.rx.push_back(short_offset);

    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    let s = iface.stats();
    assert_eq!(s.rx_frames, 8);
    assert_eq!(s.rx_drop_ethernet_malformed, 1);
    assert_eq!(s.rx_drop_not_for_us, 1);
    assert_eq!(s.rx_drop_unknown_ethertype, 1);
    assert_eq!(s.rx_drop_ipv4_checksum, 1);
    // The fragment waits for the rest of its datagram.
    assert_eq!((s.rx_drop_ipv4_fragment, s.reassembly.fragments), (0, 1));
    assert_eq!(s.rx_drop_unknown_protocol, 1);
    assert_eq!(s.rx_drop_tcp_checksum, 1);
    assert_eq!(s.rx_drop_tcp_malformed, 1);
    assert!(dev.tx.is_empty(), "nothing malformed may be answered");
}

#[test]
fn segment_for_no_connection_gets_rst_and_rst_gets_nothing() {
    let (mut iface, mut dev, mut sockets) = setup();
    // A SYN: RST+ACK, seq 0, ack SEG.SEQ + SEG.LEN (RFC 9293 3.10.7.1).
    dev.rx.push_back(tcp_frame(&syn(40000, 81, 1000)));
    // An ACK: RST with seq = SEG.ACK.
    let mut ack = syn(40001, 81, 5000);
    ack.flags = TcpFlags::ACK;
    ack.ack_number = SeqNumber(777);
    ack.max_seg_size = None;
    dev.rx.push_back(tcp_frame(&ack));
    // A RST: never answered.
    let mut rst = ack;
    rst.flags = TcpFlags::RST;
    dev.rx.push_back(tcp_frame(&rst));
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);

    assert_eq!(dev.tx.len(), 2);
    let (mac, r) = parse_tcp(&dev.tx[0]);
    assert_eq!(mac, PEER_MAC);
    assert_eq!((r.src_port, r.dst_port), (81, 40000));
    assert_eq!(r.flags, TcpFlags::RST | TcpFlags::ACK);
    assert_eq!(
        (r.seq_number, r.ack_number),
        (SeqNumber(0), SeqNumber(1001))
    );
    let (_, r) = parse_tcp(&dev.tx[1]);
    assert_eq!(r.flags, TcpFlags::RST);
    assert_eq!(r.seq_number, SeqNumber(777));
    assert_eq!(iface.stats().tcp_no_socket, 3);
    assert_eq!(iface.stats().tcp_rsts_sent, 2);
}

fn listener(sockets: &mut SocketSet<'static>, backlog: usize) -> crate::socket::SocketHandle {
    let socket = TcpSocket::new(
        RingBuffer::new(vec![0u8; 64]),
        RingBuffer::new(vec![0u8; 64]),
    );
    let handle = sockets.add(socket).unwrap();
    sockets
        .listen(
            handle,
            80,
            backlog,
            ChildBuffers::Alloc { rx: 4096, tx: 4096 },
        )
        .unwrap();
    handle
}

#[test]
fn listener_keeps_half_open_records_up_to_backlog_and_rst_returns_to_listen() {
    use crate::socket::ListenOptions;

    let (mut iface, mut dev, mut sockets) = setup();
    let l = listener(&mut sockets, 2);
    sockets
        .set_listen_options(l, ListenOptions::new().with_syn_cookies(false))
        .unwrap();
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    let first = sockets.pop_trace().unwrap();
    assert_eq!(
        (first.handle, first.transition.from, first.transition.to),
        (Some(l), State::Closed, State::Listen)
    );

    for port in [5001, 5002, 5003] {
        dev.rx.push_back(tcp_frame(&syn(port, 80, 100)));
    }
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    // Two SYN-ACKs; the third SYN is beyond the backlog and dropped (SYN
    // cookies are off).
    assert_eq!(dev.tx.len(), 2, "{:?}", dev.tx.len());
    let (_, synack) = parse_tcp(&dev.tx[0]);
    assert_eq!(synack.flags, TcpFlags::SYN | TcpFlags::ACK);
    assert_eq!(synack.ack_number, SeqNumber(101));
    assert_eq!(synack.dst_port, 5001);
    // The window and shift come from the children's buffer size.
    assert_eq!(synack.window_len, 4096);
    let (_, synack_5002) = parse_tcp(&dev.tx[1]);
    assert_eq!(synack_5002.dst_port, 5002);
    let iss_5002 = synack_5002.seq_number;
    assert_eq!(iface.stats().rx_drop_syn_backlog_full, 1);
    assert_eq!(sockets.pending(l), 2);
    // Half-open connections are records: no socket slot, no handle.
    assert_eq!(sockets.len(), 1);
    let peer = |port| Some(IpEndpoint::new(IpAddress::Ipv4(PEER_IP), port));
    for port in [5001, 5002] {
        let event = sockets.pop_trace().unwrap();
        assert_eq!(
            std::format!("{}", event.transition),
            "LISTEN -> SYN_RCVD (rcv SYN)"
        );
        assert_eq!((event.handle, event.remote), (None, peer(port)));
    }
    assert_eq!(sockets.pop_trace(), None);
    assert_eq!(sockets.tcp_records().count(), 2);

    // A RST at RCV.NXT for the first: SYN_RCVD -> LISTEN, the record goes.
    let mut rst = syn(5001, 80, 101);
    rst.flags = TcpFlags::RST;
    rst.max_seg_size = None;
    dev.rx.push_back(tcp_frame(&rst));
    iface.poll(Instant::from_millis(10), &mut dev, &mut sockets);
    let event = sockets.pop_trace().unwrap();
    assert_eq!((event.handle, event.remote), (None, peer(5001)));
    assert_eq!(
        std::format!("{}", event.transition),
        "SYN_RCVD -> LISTEN (rcv RST)"
    );
    assert_eq!(sockets.pending(l), 1);
    assert_eq!(sockets.tcp_records().count(), 1);
    assert_eq!(sockets.get::<TcpSocket>(l).unwrap().state(), State::Listen);

    // The backlog has room again.
    dev.tx.clear();
    dev.rx.push_back(tcp_frame(&syn(5004, 80, 900)));
    iface.poll(Instant::from_millis(20), &mut dev, &mut sockets);
    assert_eq!(dev.tx.len(), 1);
    assert_eq!(parse_tcp(&dev.tx[0]).1.ack_number, SeqNumber(901));
    let event = sockets.pop_trace().unwrap();
    assert_eq!(event.remote, peer(5004));

    // Nothing is established yet, so nothing can be accepted.
    assert_eq!(sockets.accept(l), None);
    // Completing the handshake of 5002 gives it buffers and a slot.
    let mut ack = syn(5002, 80, 101);
    ack.flags = TcpFlags::ACK;
    ack.ack_number = iss_5002 + 1;
    ack.max_seg_size = None;
    dev.rx.push_back(tcp_frame(&ack));
    iface.poll(Instant::from_millis(30), &mut dev, &mut sockets);
    let event = sockets.pop_trace().unwrap();
    assert_eq!(
        std::format!("{}", event.transition),
        "SYN_RCVD -> ESTABLISHED (rcv ACK)"
    );
    let child = event.handle.expect("a socket now");
    assert_eq!(sockets.accept(l), Some(child));
    let socket = sockets.get::<TcpSocket>(child).unwrap();
    assert_eq!(socket.state(), State::Established);
    assert_eq!(socket.recv_capacity(), 4096);
    assert_eq!(socket.remote_endpoint(), peer(5002));
    assert_eq!(sockets.pending(l), 1, "only 5004 is still half-open");
    assert_eq!(sockets.accept(l), None);
}

#[test]
fn outgoing_syn_waits_for_arp_then_goes_out() {
    let (mut iface, mut dev, mut sockets) = setup();
    let socket = TcpSocket::new(
        RingBuffer::new(vec![0u8; 1024]),
        RingBuffer::new(vec![0u8; 1024]),
    );
    let h = sockets.add(socket).unwrap();
    let remote = IpEndpoint::new(IpAddress::Ipv4(PEER_IP), 80);
    let local = iface
        .connect(&mut sockets, h, remote, Instant::ZERO)
        .unwrap();
    assert_eq!(local.addr, IpAddress::Ipv4(OUR_IP));
    assert!(local.port >= 49152);
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    // Only the ARP request went out; the SYN is held.
    assert_eq!(dev.tx.len(), 1);
    let eth = EthernetFrame::new_checked(&dev.tx[0][..]).unwrap();
    assert_eq!(
        (eth.dst_addr(), eth.ethertype()),
        (EthernetAddress::BROADCAST, EthernetProtocol::Arp)
    );
    let arp = ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).unwrap()).unwrap();
    assert_eq!(
        arp,
        ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Request,
            source_hardware_addr: OUR_MAC,
            source_protocol_addr: OUR_IP,
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: PEER_IP,
        }
    );
    assert_eq!(sockets.get::<TcpSocket>(h).unwrap().state(), State::SynSent);

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
    iface.poll(Instant::from_millis(1), &mut dev, &mut sockets);
    assert_eq!(dev.tx.len(), 2);
    let (mac, syn) = parse_tcp(&dev.tx[1]);
    assert_eq!(mac, PEER_MAC);
    assert_eq!(syn.flags, TcpFlags::SYN);
    assert_eq!((syn.src_port, syn.dst_port), (local.port, 80));
    assert_eq!(iface.stats().arp_requests_sent, 1);
    // Nothing is due until the SYN's retransmission timer: 1 s (the initial
    // RTO) after the SYN left the socket at 0, when it was held for ARP.
    assert_eq!(
        iface.poll_at(&sockets),
        Some(Instant::ZERO + Duration::from_secs(1))
    );
}

#[test]
fn a_socket_listening_since_the_last_poll_answers_a_syn_in_the_next_one() {
    let (mut iface, mut dev, mut sockets) = setup();
    let l = listener(&mut sockets, 1);
    // No poll between listen() and the SYN.
    dev.rx.push_back(tcp_frame(&syn(6000, 80, 41)));
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    assert_eq!(dev.tx.len(), 1);
    let (_, reply) = parse_tcp(&dev.tx[0]);
    assert_eq!(reply.flags, TcpFlags::SYN | TcpFlags::ACK);
    assert_eq!(reply.ack_number, SeqNumber(42));
    assert_eq!(sockets.pending(l), 1);
    assert_eq!(iface.stats().tcp_no_socket, 0);
}

#[test]
fn without_alloc_children_take_pooled_buffers_and_give_them_back() {
    use crate::socket::{
        DemuxSlot, HalfOpenStorage, ListenOptions, ListenerStorage, SocketSetStorage,
        SocketStorage, TimeWaitStorage, demux_slots_for,
    };
    use managed::ManagedSlice;

    let (mut iface, mut dev, _) = setup();
    // Everything borrowed: the socket set, the listener's buffers and a
    // pool holding one buffer pair.
    let mut slots = [
        SocketStorage::EMPTY,
        SocketStorage::EMPTY,
        SocketStorage::EMPTY,
    ];
    let mut listeners = [ListenerStorage::EMPTY];
    let mut half_open = [HalfOpenStorage::EMPTY; 4];
    let mut time_wait = [TimeWaitStorage::EMPTY; 2];
    let mut demux = [DemuxSlot::EMPTY; demux_slots_for(3 + 4 + 2)];
    let mut trace = [None; 16];
    let mut sockets = SocketSet::new(SocketSetStorage {
        sockets: ManagedSlice::Borrowed(&mut slots[..]),
        listeners: ManagedSlice::Borrowed(&mut listeners[..]),
        half_open: ManagedSlice::Borrowed(&mut half_open[..]),
        time_wait: ManagedSlice::Borrowed(&mut time_wait[..]),
        demux: ManagedSlice::Borrowed(&mut demux[..]),
        trace: ManagedSlice::Borrowed(&mut trace[..]),
    })
    .unwrap();
    let (mut l_rx, mut l_tx) = ([0u8; 64], [0u8; 64]);
    let l = sockets
        .add(TcpSocket::new(
            RingBuffer::new(&mut l_rx[..]),
            RingBuffer::new(&mut l_tx[..]),
        ))
        .unwrap();
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
    let mut pool = [Some((
        RingBuffer::new(&mut rx[..]),
        RingBuffer::new(&mut tx[..]),
    ))];
    sockets
        .listen(
            l,
            80,
            4,
            ChildBuffers::Pool(ManagedSlice::Borrowed(&mut pool[..])),
        )
        .unwrap();
    sockets
        .set_listen_options(l, ListenOptions::new().with_evict(false))
        .unwrap();

    // Half-open connections need no buffers: both SYNs are answered, with
    // the window of the pooled receive buffer.
    dev.rx.push_back(tcp_frame(&syn(7001, 80, 10)));
    dev.rx.push_back(tcp_frame(&syn(7002, 80, 20)));
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    assert_eq!(dev.tx.len(), 2);
    let (_, synack_1) = parse_tcp(&dev.tx[0]);
    let (synack_1_port, synack_1_ack, synack_1_window, iss_1) = (
        synack_1.dst_port,
        synack_1.ack_number,
        synack_1.window_len,
        synack_1.seq_number,
    );
    let iss_2 = parse_tcp(&dev.tx[1]).1.seq_number;
    assert_eq!((synack_1_port, synack_1_ack), (7001, SeqNumber(11)));
    assert_eq!(synack_1_window, 1024);
    assert_eq!(sockets.pending(l), 2);
    let ack = |port: u16, seq: u32, iss: SeqNumber| {
        let mut ack = syn(port, 80, seq);
        ack.flags = TcpFlags::ACK;
        ack.ack_number = iss + 1;
        ack.max_seg_size = None;
        ack
    };

    // The first handshake to complete takes the pooled pair; the second
    // finds the pool empty, may not evict, and its final ACK is dropped.
    dev.tx.clear();
    dev.rx.push_back(tcp_frame(&ack(7001, 11, iss_1)));
    dev.rx.push_back(tcp_frame(&ack(7002, 21, iss_2)));
    iface.poll(Instant::from_millis(1), &mut dev, &mut sockets);
    assert!(dev.tx.is_empty());
    assert_eq!(iface.stats().tcp_final_ack_dropped, 1);
    assert_eq!(
        sockets.pending(l),
        2,
        "one waiting for accept, one half-open"
    );

    // The peer of 7001 resets before it is accepted: the set frees the
    // connection and its buffers go back to the pool...
    let mut rst = syn(7001, 80, 11);
    rst.flags = TcpFlags::RST;
    rst.max_seg_size = None;
    dev.rx.push_back(tcp_frame(&rst));
    iface.poll(Instant::from_millis(2), &mut dev, &mut sockets);
    assert_eq!(sockets.pending(l), 1);
    assert_eq!(sockets.len(), 1, "only the listener holds a slot");

    // ...so 7002's retransmitted final ACK now gets them.
    dev.rx.push_back(tcp_frame(&ack(7002, 21, iss_2)));
    iface.poll(Instant::from_millis(3), &mut dev, &mut sockets);
    let child = sockets.accept(l).unwrap();
    let socket = sockets.get::<TcpSocket>(child).unwrap();
    assert_eq!(socket.state(), State::Established);
    assert_eq!(socket.recv_capacity(), 1024);
    assert_eq!(socket.remote_endpoint().map(|e| e.port), Some(7002));
    assert_eq!(iface.stats().tcp_final_ack_dropped, 1);
}

/// An ICMP destination-unreachable from the peer quoting `quoted`, the
/// frame the stack sent.
fn icmp_unreachable(reason: Icmpv4DstUnreachable, quoted: &[u8]) -> Vec<u8> {
    let eth = EthernetFrame::new_checked(quoted).unwrap();
    let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
    let header = Ipv4Repr::parse(&ip, &ChecksumCapabilities::default()).unwrap();
    let repr = Icmpv4Repr::DstUnreachable {
        reason,
        next_hop_mtu: 0,
        header,
        data: &ip.payload()[..8],
    };
    ipv4(IpProtocol::Icmp, repr.buffer_len(), |b| {
        repr.emit(
            &mut Icmpv4Packet::new_unchecked(b),
            &ChecksumCapabilities::default(),
        )
    })
}

#[test]
fn icmp_port_unreachable_aborts_a_connection_in_syn_sent() {
    use crate::socket::tcp::TcpError;

    let (mut iface, mut dev, mut sockets) = setup();
    let socket = TcpSocket::new(
        RingBuffer::new(vec![0u8; 1024]),
        RingBuffer::new(vec![0u8; 1024]),
    );
    let h = sockets.add(socket).unwrap();
    let remote = IpEndpoint::new(IpAddress::Ipv4(PEER_IP), 80);
    iface
        .connect(&mut sockets, h, remote, Instant::ZERO)
        .unwrap();
    // The peer's ARP request teaches the stack its address first.
    let request = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Request,
        source_hardware_addr: PEER_MAC,
        source_protocol_addr: PEER_IP,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: OUR_IP,
    };
    dev.rx.push_back(ethernet(
        EthernetAddress::BROADCAST,
        EthernetProtocol::Arp,
        request.buffer_len(),
        |b| request.emit(&mut ArpPacket::new_unchecked(b)),
    ));
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    let syn_frame = dev
        .tx
        .iter()
        .find(|f| f[12..14] == [0x08, 0x00])
        .unwrap()
        .clone();
    assert_eq!(parse_tcp(&syn_frame).1.flags, TcpFlags::SYN);
    while sockets.pop_trace().is_some() {}

    // A quoted sequence number outside SND.UNA..SND.NXT is ignored
    // (RFC 5927 section 4.1).
    let mut stale = syn_frame.clone();
    stale[14 + 20 + 4] ^= 0x80;
    dev.rx.push_back(icmp_unreachable(
        Icmpv4DstUnreachable::PortUnreachable,
        &stale,
    ));
    iface.poll(Instant::from_millis(1), &mut dev, &mut sockets);
    assert_eq!(sockets.get::<TcpSocket>(h).unwrap().state(), State::SynSent);

    // Port unreachable for our SYN is a hard error in SYN_SENT (RFC 1122
    // section 4.2.3.9).
    dev.rx.push_back(icmp_unreachable(
        Icmpv4DstUnreachable::PortUnreachable,
        &syn_frame,
    ));
    iface.poll(Instant::from_millis(2), &mut dev, &mut sockets);
    let socket = sockets.get::<TcpSocket>(h).unwrap();
    assert_eq!(socket.state(), State::Closed);
    assert_eq!(socket.error(), Some(TcpError::Unreachable));
    let event = sockets.pop_trace().unwrap();
    assert_eq!(
        std::format!("{}", event.transition),
        "SYN_SENT -> CLOSED (ICMP error)"
    );
    assert_eq!(iface.stats().icmp_errors_to_tcp, 2);
}

#[test]
fn a_removed_socket_leaves_no_stale_demux_entry() {
    let (mut iface, mut dev, mut sockets) = setup();
    // A connection in SYN_SENT that the application closes and removes
    // before the next poll.
    let socket = TcpSocket::new(
        RingBuffer::new(vec![0u8; 1024]),
        RingBuffer::new(vec![0u8; 1024]),
    );
    let h = sockets.add(socket).unwrap();
    let remote = IpEndpoint::new(IpAddress::Ipv4(PEER_IP), 80);
    let local = iface
        .connect(&mut sockets, h, remote, Instant::ZERO)
        .unwrap();
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    sockets.get_mut::<TcpSocket>(h).unwrap().close();
    sockets.remove(h);
    // The peer's SYN-ACK now meets no connection: RST with SEQ = SEG.ACK
    // (RFC 9293 3.10.7.1).
    dev.tx.clear();
    let mut synack = syn(80, local.port, 5000);
    synack.flags = TcpFlags::SYN | TcpFlags::ACK;
    synack.ack_number = SeqNumber(1234);
    dev.rx.push_back(tcp_frame(&synack));
    iface.poll(Instant::from_millis(1), &mut dev, &mut sockets);
    let rst = dev
        .tx
        .iter()
        .map(|f| parse_tcp(f).1)
        .find(|r| r.rst())
        .expect("a RST");
    assert_eq!(
        (rst.flags, rst.seq_number),
        (TcpFlags::RST, SeqNumber(1234))
    );

    // A listener removed without a poll in between: a SYN gets RST+ACK.
    let l = listener(&mut sockets, 1);
    iface.poll(Instant::from_millis(2), &mut dev, &mut sockets);
    sockets.remove(l);
    dev.tx.clear();
    dev.rx.push_back(tcp_frame(&syn(6001, 80, 99)));
    iface.poll(Instant::from_millis(3), &mut dev, &mut sockets);
    assert_eq!(dev.tx.len(), 1);
    let (_, rst) = parse_tcp(&dev.tx[0]);
    assert_eq!(
        (rst.flags, rst.ack_number),
        (TcpFlags::RST | TcpFlags::ACK, SeqNumber(100))
    );
}

#[test]
fn drop_syn_fin_drops_syn_fin_segments_unanswered() {
    let (mut iface, mut dev, mut sockets) = setup();
    let mut synfin = syn(7100, 81, 5);
    synfin.flags = TcpFlags::SYN | TcpFlags::FIN;
    // By default a SYN+FIN to a closed port is answered like any segment
    // for no connection.
    dev.rx.push_back(tcp_frame(&synfin));
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    assert_eq!(dev.tx.len(), 1);
    assert!(parse_tcp(&dev.tx[0]).1.rst());

    let tcp = crate::socket::tcp::TcpConfig {
        drop_syn_fin: true,
        ..Default::default()
    };
    let config = Config::new(OUR_MAC, 0x5eed)
        .with_ip(Ipv4Cidr::new(OUR_IP, 24).unwrap())
        .with_drop_syn_fin(tcp.drop_syn_fin);
    let mut iface = Interface::new(config).unwrap();
    dev.tx.clear();
    dev.rx.push_back(tcp_frame(&synfin));
    // To a listener too.
    let mut l = TcpSocket::new(
        RingBuffer::new(vec![0u8; 64]),
        RingBuffer::new(vec![0u8; 64]),
    );
    l.set_config(tcp);
    let h = sockets.add(l).unwrap();
    sockets.get_mut::<TcpSocket>(h).unwrap().listen(81).unwrap();
    let mut to_listener = synfin;
    to_listener.src_port = 7101;
    dev.rx.push_back(tcp_frame(&to_listener));
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    assert!(dev.tx.is_empty(), "SYN+FIN must go unanswered");
    assert_eq!(sockets.get::<TcpSocket>(h).unwrap().state(), State::Listen);
}

#[test]
fn group_hardware_addresses_are_refused() {
    for mac in [
        EthernetAddress::BROADCAST,
        EthernetAddress([0x01, 0x00, 0x5e, 0x00, 0x00, 0x01]),
        EthernetAddress([0x33, 0x33, 0x00, 0x00, 0x00, 0x01]),
    ] {
        let config = Config::new(mac, 7).with_ip(Ipv4Cidr::new(OUR_IP, 24).unwrap());
        assert_eq!(
            Interface::new(config).map(|_| ()),
            Err(crate::iface::ConfigError::HardwareAddrNotUnicast)
        );
    }
    assert!(Interface::new(Config::new(OUR_MAC, 7)).is_ok());
}

#[test]
fn os_seeds_differ_and_seeds_decide_isns_and_ports() {
    let a = Config::with_os_seed(OUR_MAC).unwrap();
    let b = Config::with_os_seed(OUR_MAC).unwrap();
    // 128 random bits each: equal only with probability 2^-128.
    assert_ne!(a.random_seed, b.random_seed);
    let remote = IpEndpoint::new(IpAddress::v4(192, 0, 2, 2), 80);
    let first_port = |seed: u128| {
        let config = Config::new(OUR_MAC, seed).with_ip(Ipv4Cidr::new(OUR_IP, 24).unwrap());
        let mut iface = Interface::new(config).unwrap();
        let mut sockets = SocketSet::with_capacity(2);
        let socket = TcpSocket::new(RingBuffer::new(vec![0; 64]), RingBuffer::new(vec![0; 64]));
        let handle = sockets.add(socket).unwrap();
        let local = iface
            .connect(&mut sockets, handle, remote, Instant::ZERO)
            .unwrap();
        let isn = sockets.get::<TcpSocket>(handle).unwrap().snd_nxt();
        (local.port, isn)
    };
    // The same seed, the same port and ISN (replay is deterministic);
    // seeds that differ only in their upper 64 bits give others.
    assert_eq!(first_port(5), first_port(5));
    let (port, isn) = first_port(5);
    let (other_port, other_isn) = first_port(5 | (1 << 100));
    assert!(port >= 49152 && other_port >= 49152);
    assert!(port != other_port || isn != other_isn);
    assert_ne!(isn, other_isn);
}

mod udp;
