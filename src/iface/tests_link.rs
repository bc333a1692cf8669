//! Interface tests of the neighbor cache's NUD behaviour on the wire (ARP
//! requests and probes, upper-layer advice from TCP), martian sources, the
//! MSS from the device's MTU and ICMP "fragmentation needed": exact frames
//! in, exact frames out, exact counters, on a virtual clock.

extern crate std;

use std::collections::VecDeque;
use std::vec;
use std::vec::Vec;

use super::neighbor::{NeighborConfig, NeighborState};
use super::{Config, Interface};
use crate::phy::{Device, DeviceCapabilities, RxToken, TxToken};
use crate::socket::tcp::{State, TcpSocket};
use crate::socket::{ChildBuffers, SocketHandle, SocketSet};
use crate::storage::RingBuffer;
use crate::time::{Duration, Instant};
use crate::wire::*;

const OUR_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);
const PEER_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 9]);
const FORGED_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 0xee]);
const OUR_IP: Ipv4Address = Ipv4Address::new(192, 0, 2, 1);
const PEER_IP: Ipv4Address = Ipv4Address::new(192, 0, 2, 9);
/// A second prefix of ours.
const OUR_IP2: Ipv4Address = Ipv4Address::new(198, 51, 100, 1);

struct Dev {
    rx: VecDeque<Vec<u8>>,
    tx: Vec<Vec<u8>>,
    mtu: usize,
}

impl Dev {
    fn new() -> Dev {
        Dev {
            rx: VecDeque::new(),
            tx: Vec::new(),
            mtu: 1500,
        }
    }

    /// The ARP requests sent since `from` (an index into `tx`): Ethernet
    /// destination and target address.
    fn arp_requests(&self, from: usize) -> Vec<(EthernetAddress, Ipv4Address)> {
        self.tx[from..]
            .iter()
            .filter_map(|f| {
                let eth = EthernetFrame::new_checked(&f[..]).ok()?;
                if eth.ethertype() != EthernetProtocol::Arp {
                    return None;
                }
                let arp = ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).ok()?).ok()?;
                match arp {
                    ArpRepr::EthernetIpv4 {
                        operation: ArpOperation::Request,
                        source_hardware_addr,
                        source_protocol_addr,
                        target_hardware_addr,
                        target_protocol_addr,
                    } => {
                        assert_eq!(
                            (source_hardware_addr, source_protocol_addr),
                            (OUR_MAC, OUR_IP)
                        );
                        assert_eq!(target_hardware_addr, EthernetAddress([0; 6]));
                        Some((eth.dst_addr(), target_protocol_addr))
                    }
                    _ => None,
                }
            })
            .collect()
    }

    /// The TCP segments sent since `from`: Ethernet destination and
    /// segment.
    fn tcp(&self, from: usize) -> Vec<(EthernetAddress, TcpRepr<'_>)> {
        self.tx[from..]
            .iter()
            .filter(|f| f[12..14] == [0x08, 0x00] && f[14 + 9] == 6)
            .map(|f| parse_tcp(f))
            .collect()
    }
}

struct Rx(Vec<u8>);
struct Tx<'a>(&'a mut Vec<Vec<u8>>);

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

impl Device for Dev {
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
        DeviceCapabilities {
            max_transmission_unit: self.mtu,
            ..DeviceCapabilities::default()
        }
    }
}

fn config() -> Config {
    Config::new(OUR_MAC, 7).with_ip(Ipv4Cidr::new(OUR_IP, 24).unwrap())
}

fn setup() -> (Interface<'static>, Dev, SocketSet<'static>) {
    (
        Interface::new(config()).unwrap(),
        Dev::new(),
        SocketSet::with_capacity(8),
    )
}

fn ms(m: i64) -> Instant {
    Instant::from_millis(m)
}

fn v4(ip: Ipv4Address) -> IpAddress {
    IpAddress::Ipv4(ip)
}

fn ethernet(src: EthernetAddress, dst: EthernetAddress, ethertype: EthernetProtocol) -> Vec<u8> {
    let mut frame = vec![0u8; 14];
    EthernetRepr {
        src_addr: src,
        dst_addr: dst,
        ethertype,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut frame[..]));
    frame
}

fn arp_frame(
    operation: ArpOperation,
    sender: (EthernetAddress, Ipv4Address),
    target: (EthernetAddress, Ipv4Address),
) -> Vec<u8> {
    let dst = match operation {
        ArpOperation::Request => EthernetAddress::BROADCAST,
        _ => target.0,
    };
    let repr = ArpRepr::EthernetIpv4 {
        operation,
        source_hardware_addr: sender.0,
        source_protocol_addr: sender.1,
        target_hardware_addr: target.0,
        target_protocol_addr: target.1,
    };
    let mut frame = ethernet(sender.0, dst, EthernetProtocol::Arp);
    frame.resize(14 + repr.buffer_len(), 0);
    repr.emit(&mut ArpPacket::new_unchecked(&mut frame[14..]));
    frame
}

/// The peer's ARP reply to our request.
fn arp_reply(mac: EthernetAddress, ip: Ipv4Address) -> Vec<u8> {
    arp_frame(ArpOperation::Reply, (mac, ip), (OUR_MAC, OUR_IP))
}

fn ip_frame(
    src_mac: EthernetAddress,
    src: Ipv4Address,
    dst: Ipv4Address,
    protocol: IpProtocol,
    payload: &[u8],
) -> Vec<u8> {
    let mut frame = ethernet(src_mac, OUR_MAC, EthernetProtocol::Ipv4);
    frame.resize(14 + 20 + payload.len(), 0);
    let repr = Ipv4Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: protocol,
        payload_len: payload.len(),
        hop_limit: 64,
        dont_frag: true,
        ecn: crate::wire::IpEcn::NotEct,
    };
    let mut packet = Ipv4Packet::new_unchecked(&mut frame[14..]);
    repr.emit(&mut packet, &ChecksumCapabilities::default());
    packet.payload_mut().copy_from_slice(payload);
    frame
}

fn tcp_frame(src: Ipv4Address, dst: Ipv4Address, repr: &TcpRepr) -> Vec<u8> {
    let mut bytes = vec![0u8; repr.buffer_len()];
    repr.emit(
        &mut TcpPacket::new_unchecked(&mut bytes[..]),
        &v4(src),
        &v4(dst),
        &ChecksumCapabilities::default(),
    );
    ip_frame(PEER_MAC, src, dst, IpProtocol::Tcp, &bytes)
}

fn syn(src_port: u16, dst_port: u16) -> TcpRepr<'static> {
    TcpRepr {
        src_port,
        dst_port,
        seq_number: SeqNumber(1000),
        flags: TcpFlags::SYN,
        window_len: 65535,
        max_seg_size: Some(1460),
        ..TcpRepr::default()
    }
}

fn echo_request() -> Vec<u8> {
    let repr = Icmpv4Repr::EchoRequest {
        ident: 1,
        seq_no: 1,
        data: b"ping",
    };
    let mut bytes = vec![0u8; repr.buffer_len()];
    repr.emit(
        &mut Icmpv4Packet::new_unchecked(&mut bytes[..]),
        &ChecksumCapabilities::default(),
    );
    bytes
}

fn parse_tcp(frame: &[u8]) -> (EthernetAddress, TcpRepr<'_>) {
    let eth = EthernetFrame::new_checked(frame).unwrap();
    let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
    let ip_repr = Ipv4Repr::parse(&ip, &ChecksumCapabilities::default()).unwrap();
    let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
    let repr = TcpRepr::parse(
        &tcp,
        &v4(ip_repr.src_addr),
        &v4(ip_repr.dst_addr),
        &ChecksumCapabilities::default(),
    )
    .unwrap();
    (eth.dst_addr(), repr)
}

fn new_socket() -> TcpSocket<'static> {
    TcpSocket::new(
        RingBuffer::new(vec![0u8; 4096]),
        RingBuffer::new(vec![0u8; 4096]),
    )
}

/// Polls at every instant the interface asks for up to `until`, then at
/// `until`.
fn run_until(
    iface: &mut Interface<'static>,
    dev: &mut Dev,
    sockets: &mut SocketSet<'static>,
    now: &mut Instant,
    until: Instant,
) {
    for _ in 0..100_000 {
        match iface.poll_at(sockets) {
            Some(at) if at <= until => {
                *now = (*now).max(at);
                iface.poll(*now, dev, sockets);
            }
            _ => break,
        }
    }
    *now = until;
    iface.poll(*now, dev, sockets);
}

/// A connection from us to PEER_IP:80, established at 2 ms, the peer's
/// entry confirmed by our ARP request's answer. Returns the socket, our
/// port, our ISS and the peer's next sequence number.
struct Conn {
    handle: SocketHandle,
    port: u16,
    snd_nxt: u32,
    peer_seq: u32,
}

fn establish(
    iface: &mut Interface<'static>,
    dev: &mut Dev,
    sockets: &mut SocketSet<'static>,
) -> Conn {
    establish_with_mss(iface, dev, sockets, 1460)
}

fn establish_with_mss(
    iface: &mut Interface<'static>,
    dev: &mut Dev,
    sockets: &mut SocketSet<'static>,
    peer_mss: u16,
) -> Conn {
    let handle = sockets.add(new_socket()).unwrap();
    let remote = IpEndpoint::new(v4(PEER_IP), 80);
    let port = iface.connect(sockets, handle, remote, ms(0)).unwrap().port;
    iface.poll(ms(0), dev, sockets);
    assert_eq!(dev.arp_requests(0), [(EthernetAddress::BROADCAST, PEER_IP)]);
    dev.rx.push_back(arp_reply(PEER_MAC, PEER_IP));
    iface.poll(ms(1), dev, sockets);
    let (mac, our_syn) = dev.tcp(0).pop().unwrap();
    assert_eq!((mac, our_syn.flags), (PEER_MAC, TcpFlags::SYN));
    let iss = our_syn.seq_number.0;
    let syn_ack = TcpRepr {
        src_port: 80,
        dst_port: port,
        seq_number: SeqNumber(5000),
        ack_number: SeqNumber(iss.wrapping_add(1)),
        flags: TcpFlags::SYN | TcpFlags::ACK,
        window_len: 65535,
        max_seg_size: Some(peer_mss),
        ..TcpRepr::default()
    };
    dev.rx.push_back(tcp_frame(PEER_IP, OUR_IP, &syn_ack));
    iface.poll(ms(2), dev, sockets);
    assert_eq!(
        sockets.get::<TcpSocket>(handle).unwrap().state(),
        State::Established
    );
    Conn {
        handle,
        port,
        snd_nxt: iss.wrapping_add(1),
        peer_seq: 5001,
    }
}

/// The peer's ACK of everything up to `ack`.
fn peer_ack(conn: &Conn, ack: u32) -> Vec<u8> {
    let repr = TcpRepr {
        src_port: 80,
        dst_port: conn.port,
        seq_number: SeqNumber(conn.peer_seq),
        ack_number: SeqNumber(ack),
        flags: TcpFlags::ACK,
        window_len: 65535,
        ..TcpRepr::default()
    };
    tcp_frame(PEER_IP, OUR_IP, &repr)
}

#[test]
fn reachable_time_is_drawn_from_the_seed_between_half_and_one_and_a_half_base() {
    let base = NeighborConfig::default().base_reachable_time;
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..32u64 {
        let iface = Interface::new(Config {
            random_seed: u128::from(seed),
            ..config()
        })
        .unwrap();
        let rt = iface.neighbor_cache().reachable_time();
        let half = Duration::from_micros(base.total_micros() / 2);
        assert!(rt >= half && rt <= base + half, "{rt}");
        seen.insert(rt.total_micros());
        // The same seed, the same time (replay is deterministic).
        let again = Interface::new(Config {
            random_seed: u128::from(seed),
            ..config()
        })
        .unwrap();
        assert_eq!(again.neighbor_cache().reachable_time(), rt);
    }
    assert!(seen.len() > 16, "seeds spread the time: {seen:?}");
}

#[test]
fn tcp_progress_keeps_the_entry_reachable_without_any_probe() {
    let (mut iface, mut dev, mut sockets) = setup();
    let mut conn = establish(&mut iface, &mut dev, &mut sockets);
    let rt = iface.neighbor_cache().reachable_time();
    let cache_stats = iface.stats().neighbor;
    assert_eq!(cache_stats.upper_layer_confirmations, 1, "the SYN's ACK");
    // 128 bytes a second (a divisor of the send buffer, so no segment is
    // cut at its wrap) for three ReachableTimes, each acknowledged.
    let mut now = ms(2);
    let seconds = 3 * rt.secs() as i64 + 3;
    for second in 1..=seconds {
        let at = ms(2) + Duration::from_secs(second as u64);
        run_until(&mut iface, &mut dev, &mut sockets, &mut now, at);
        let sent = dev.tx.len();
        sockets
            .get_mut::<TcpSocket>(conn.handle)
            .unwrap()
            .send_slice(&[7u8; 128])
            .unwrap();
        iface.poll(now, &mut dev, &mut sockets);
        let segments = dev.tcp(sent);
        assert_eq!(segments.len(), 1);
        assert_eq!(segments[0].0, PEER_MAC);
        assert_eq!(segments[0].1.payload.len(), 128);
        conn.snd_nxt = conn.snd_nxt.wrapping_add(128);
        dev.rx.push_back(peer_ack(&conn, conn.snd_nxt));
        now += Duration::from_millis(1);
        iface.poll(now, &mut dev, &mut sockets);
        assert_eq!(
            iface.neighbor_cache().state(v4(PEER_IP), now),
            Some(NeighborState::Reachable)
        );
    }
    assert_eq!(
        dev.arp_requests(0).len(),
        1,
        "only the first resolution: advice kept the entry reachable"
    );
    let stats = iface.stats();
    assert_eq!(stats.neighbor.upper_layer_confirmations, 1 + seconds as u64);
    assert_eq!(stats.arp_unicast_probes_sent, 0);
}

#[test]
fn without_progress_the_entry_goes_stale_delay_probe_then_broadcast() {
    let (mut iface, mut dev, mut sockets) = setup();
    let conn = establish(&mut iface, &mut dev, &mut sockets);
    let rt = iface.neighbor_cache().reachable_time();
    let cache = |iface: &Interface, at| iface.neighbor_cache().state(v4(PEER_IP), at);
    let stale_at = ms(2) + rt;
    assert_eq!(
        cache(&iface, stale_at - Duration::from_micros(1)),
        Some(NeighborState::Reachable)
    );
    assert_eq!(cache(&iface, stale_at), Some(NeighborState::Stale));
    // Idle: nothing is sent for a stale entry.
    let mut now = ms(2);
    run_until(
        &mut iface,
        &mut dev,
        &mut sockets,
        &mut now,
        stale_at + Duration::from_secs(10),
    );
    assert_eq!(dev.arp_requests(0).len(), 1);
    // Data goes out at once to the cached address; the entry waits 5 s for
    // advice (none: the peer never acknowledges).
    let t = now;
    let sent = dev.tx.len();
    sockets
        .get_mut::<TcpSocket>(conn.handle)
        .unwrap()
        .send_slice(b"hello")
        .unwrap();
    iface.poll(t, &mut dev, &mut sockets);
    assert_eq!(dev.tcp(sent)[0].0, PEER_MAC);
    assert_eq!(cache(&iface, t), Some(NeighborState::Delay));
    run_until(
        &mut iface,
        &mut dev,
        &mut sockets,
        &mut now,
        t + Duration::from_millis(4_999),
    );
    assert_eq!(dev.arp_requests(sent), []);
    // Three unicast probes a second apart to the cached address, while TCP
    // retransmissions still go there.
    for probe in 0..3 {
        let at = t + Duration::from_secs(5 + probe);
        let before = dev.tx.len();
        run_until(&mut iface, &mut dev, &mut sockets, &mut now, at);
        assert_eq!(
            dev.arp_requests(before),
            [(PEER_MAC, PEER_IP)],
            "probe {probe}"
        );
        assert_eq!(cache(&iface, at), Some(NeighborState::Probe));
        run_until(
            &mut iface,
            &mut dev,
            &mut sockets,
            &mut now,
            at + Duration::from_millis(999),
        );
        assert_eq!(dev.arp_requests(before).len(), 1);
    }
    assert!(dev.tcp(sent).iter().all(|(mac, _)| *mac == PEER_MAC));
    // Unanswered: resolution by broadcast, segments held meanwhile.
    let before = dev.tx.len();
    run_until(
        &mut iface,
        &mut dev,
        &mut sockets,
        &mut now,
        t + Duration::from_secs(8),
    );
    assert_eq!(
        dev.arp_requests(before),
        [(EthernetAddress::BROADCAST, PEER_IP)]
    );
    assert_eq!(cache(&iface, now), Some(NeighborState::Incomplete));
    assert_eq!(iface.neighbor(PEER_IP, now), None);
    dev.rx.push_back(arp_reply(PEER_MAC, PEER_IP));
    now += Duration::from_millis(3);
    iface.poll(now, &mut dev, &mut sockets);
    assert_eq!(cache(&iface, now), Some(NeighborState::Reachable));
    let stats = iface.stats();
    assert_eq!(stats.arp_unicast_probes_sent, 3);
    assert_eq!(stats.arp_requests_sent, 1 + 3 + 1);
    assert_eq!(stats.neighbor.unreachable, 1);
    assert_eq!(stats.neighbor.resolution_failures, 0);
}

#[test]
fn a_probe_answered_confirms_and_probing_stops() {
    let (mut iface, mut dev, mut sockets) = setup();
    let conn = establish(&mut iface, &mut dev, &mut sockets);
    let rt = iface.neighbor_cache().reachable_time();
    let t = ms(2) + rt;
    let mut now = ms(2);
    run_until(&mut iface, &mut dev, &mut sockets, &mut now, t);
    sockets
        .get_mut::<TcpSocket>(conn.handle)
        .unwrap()
        .send_slice(b"x")
        .unwrap();
    iface.poll(t, &mut dev, &mut sockets);
    let before = dev.tx.len();
    run_until(
        &mut iface,
        &mut dev,
        &mut sockets,
        &mut now,
        t + Duration::from_secs(5),
    );
    assert_eq!(dev.arp_requests(before), [(PEER_MAC, PEER_IP)]);
    dev.rx.push_back(arp_reply(PEER_MAC, PEER_IP));
    let answered = now + Duration::from_millis(1);
    run_until(&mut iface, &mut dev, &mut sockets, &mut now, answered);
    assert_eq!(
        iface.neighbor_cache().state(v4(PEER_IP), now),
        Some(NeighborState::Reachable)
    );
    run_until(
        &mut iface,
        &mut dev,
        &mut sockets,
        &mut now,
        answered + rt - Duration::from_millis(1),
    );
    assert_eq!(dev.arp_requests(before).len(), 1, "no more probes");
    assert_eq!(iface.stats().neighbor.unreachable, 0);
}

#[test]
fn arp_learning_rules() {
    let (mut iface, mut dev, mut sockets) = setup();
    let cache = |iface: &Interface, ip| iface.neighbor_cache().state(v4(ip), ms(0));
    // A request for us from an on-link host: learned stale, answered.
    dev.rx.push_back(arp_frame(
        ArpOperation::Request,
        (PEER_MAC, PEER_IP),
        (EthernetAddress([0; 6]), OUR_IP),
    ));
    // A request for another host teaches nothing about an unknown sender.
    let other = Ipv4Address::new(192, 0, 2, 20);
    dev.rx.push_back(arp_frame(
        ArpOperation::Request,
        (EthernetAddress([2, 0, 0, 0, 0, 20]), other),
        (EthernetAddress([0; 6]), Ipv4Address::new(192, 0, 2, 21)),
    ));
    // An unrequested reply creates nothing.
    let unasked = Ipv4Address::new(192, 0, 2, 22);
    dev.rx
        .push_back(arp_reply(EthernetAddress([2, 0, 0, 0, 0, 22]), unasked));
    // An off-link sender is not learned, though its request is answered.
    let off_link = Ipv4Address::new(203, 0, 113, 5);
    dev.rx.push_back(arp_frame(
        ArpOperation::Request,
        (EthernetAddress([2, 0, 0, 0, 0, 5]), off_link),
        (EthernetAddress([0; 6]), OUR_IP),
    ));
    iface.poll(ms(0), &mut dev, &mut sockets);
    assert_eq!(cache(&iface, PEER_IP), Some(NeighborState::Stale));
    assert_eq!(iface.neighbor(PEER_IP, ms(0)), Some(PEER_MAC));
    assert_eq!(cache(&iface, other), None);
    assert_eq!(cache(&iface, unasked), None);
    assert_eq!(cache(&iface, off_link), None);
    assert_eq!(iface.stats().arp_replies_sent, 2);
    // A gratuitous ARP moving the known host: stale at the new address,
    // suspect (upper-layer advice is not believed for it).
    dev.rx.push_back(arp_frame(
        ArpOperation::Request,
        (FORGED_MAC, PEER_IP),
        (EthernetAddress([0; 6]), PEER_IP),
    ));
    iface.poll(ms(0), &mut dev, &mut sockets);
    assert_eq!(iface.neighbor(PEER_IP, ms(0)), Some(FORGED_MAC));
    assert!(iface.neighbor_cache().is_suspect(v4(PEER_IP), ms(0)));
    assert_eq!(iface.stats().neighbor.address_changes, 1);
    let stats = iface.stats();
    assert_eq!(stats.arp_replies_sent, 2);
    assert_eq!(stats.rx_drop_arp_malformed, 0);
}

#[test]
fn arp_claiming_our_address_or_a_martian_one_is_dropped_and_counted() {
    let (mut iface, mut dev, mut sockets) = setup();
    // Another host claims our address (and asks for it, too).
    dev.rx.push_back(arp_frame(
        ArpOperation::Request,
        (FORGED_MAC, OUR_IP),
        (EthernetAddress([0; 6]), OUR_IP),
    ));
    for sender in [
        Ipv4Address::new(192, 0, 2, 255),
        Ipv4Address::new(192, 0, 2, 0),
        Ipv4Address::new(255, 255, 255, 255),
        Ipv4Address::new(0, 0, 0, 0),
        Ipv4Address::new(127, 0, 0, 1),
        Ipv4Address::new(224, 0, 0, 1),
    ] {
        dev.rx.push_back(arp_frame(
            ArpOperation::Request,
            (FORGED_MAC, sender),
            (EthernetAddress([0; 6]), OUR_IP),
        ));
    }
    // A group sender hardware address stays malformed.
    dev.rx.push_back(arp_frame(
        ArpOperation::Request,
        (EthernetAddress::BROADCAST, PEER_IP),
        (EthernetAddress([0; 6]), OUR_IP),
    ));
    iface.poll(ms(0), &mut dev, &mut sockets);
    assert_eq!(dev.tx.len(), 0, "no reply to any of them");
    let stats = iface.stats();
    assert_eq!(stats.rx_drop_arp_address_conflict, 1);
    assert_eq!(stats.rx_drop_arp_martian, 6);
    assert_eq!(stats.rx_drop_arp_malformed, 1);
    assert!(iface.neighbor_cache().is_empty());
}

#[test]
fn martian_sources_are_dropped_per_reason_and_never_answered() {
    let config = config().with_ip(Ipv4Cidr::new(OUR_IP2, 24).unwrap());
    let mut iface = Interface::new(config).unwrap();
    let mut dev = Dev::new();
    let mut sockets = SocketSet::with_capacity(8);
    let listener = sockets.add(new_socket()).unwrap();
    sockets
        .listen(listener, 80, 4, ChildBuffers::Alloc { rx: 1024, tx: 1024 })
        .unwrap();
    iface.poll(ms(0), &mut dev, &mut sockets);
    let cases: [(Ipv4Address, usize); 13] = [
        (OUR_IP, 0),
        (OUR_IP2, 0),
        (Ipv4Address::new(255, 255, 255, 255), 1),
        (Ipv4Address::new(192, 0, 2, 255), 1),
        (Ipv4Address::new(198, 51, 100, 255), 1),
        (Ipv4Address::new(192, 0, 2, 0), 2),
        (Ipv4Address::new(198, 51, 100, 0), 2),
        (Ipv4Address::new(224, 0, 0, 1), 3),
        (Ipv4Address::new(239, 255, 255, 250), 3),
        (Ipv4Address::new(0, 0, 0, 0), 4),
        (Ipv4Address::new(0, 1, 2, 3), 4),
        (Ipv4Address::new(127, 0, 0, 1), 5),
        (Ipv4Address::new(127, 255, 0, 9), 5),
    ];
    let mut expected = [0u64; 6];
    for (src, reason) in cases {
        // A SYN to our listener, to us and to our second address, and a
        // ping: none of them may be answered.
        dev.rx.push_back(tcp_frame(src, OUR_IP, &syn(4000, 80)));
        dev.rx.push_back(tcp_frame(src, OUR_IP2, &syn(4001, 80)));
        dev.rx.push_back(ip_frame(
            PEER_MAC,
            src,
            OUR_IP,
            IpProtocol::Icmp,
            &echo_request(),
        ));
        expected[reason] += 3;
    }
    iface.poll(ms(1), &mut dev, &mut sockets);
    iface.poll(ms(2), &mut dev, &mut sockets);
    assert_eq!(dev.tx.len(), 0, "nothing sent to a martian");
    assert_eq!(sockets.accept(listener), None);
    assert_eq!(sockets.len(), 1, "no half-open child");
    let s = iface.stats();
    assert_eq!(
        [
            s.rx_drop_martian_own_address,
            s.rx_drop_martian_broadcast,
            s.rx_drop_martian_network,
            s.rx_drop_martian_multicast,
            s.rx_drop_martian_unspecified,
            s.rx_drop_martian_loopback,
        ],
        expected
    );
    assert_eq!(s.tcp_segments_received, 0);
    assert_eq!(s.icmp_echo_replies, 0);
    assert!(
        iface.neighbor_cache().is_empty(),
        "nothing learned from them"
    );
    // A real host on either prefix still gets its SYN-ACK and echo reply.
    dev.rx.push_back(tcp_frame(PEER_IP, OUR_IP, &syn(4000, 80)));
    dev.rx.push_back(ip_frame(
        PEER_MAC,
        PEER_IP,
        OUR_IP,
        IpProtocol::Icmp,
        &echo_request(),
    ));
    iface.poll(ms(3), &mut dev, &mut sockets);
    assert_eq!(iface.stats().icmp_echo_replies, 1);
    let segments = dev.tcp(0);
    assert_eq!(segments.len(), 1);
    assert_eq!(segments[0].1.flags, TcpFlags::SYN | TcpFlags::ACK);
}

#[test]
fn land_attack_creates_no_half_open_connection() {
    let (mut iface, mut dev, mut sockets) = setup();
    let listener = sockets.add(new_socket()).unwrap();
    sockets
        .listen(listener, 80, 16, ChildBuffers::Alloc { rx: 1024, tx: 1024 })
        .unwrap();
    iface.poll(ms(0), &mut dev, &mut sockets);
    // SYNs from our own address and port to our own address and port,
    // from our own MAC or another: a burst of 1000 over 10 s.
    for i in 0..1000 {
        let mut frame = tcp_frame(OUR_IP, OUR_IP, &syn(80, 80));
        if i % 2 == 0 {
            frame[6..12].copy_from_slice(&OUR_MAC.0);
        }
        dev.rx.push_back(frame);
        iface.poll(ms(i * 10), &mut dev, &mut sockets);
    }
    assert_eq!(dev.tx.len(), 0);
    assert_eq!(sockets.len(), 1);
    let s = iface.stats();
    assert_eq!(s.rx_drop_martian_own_address, 1000);
    assert_eq!((s.tcp_segments_received, s.tcp_segments_sent), (0, 0));
    assert_eq!(s.rx_drop_syn_backlog_full, 0);
}

#[test]
fn a_slash_31_has_no_network_or_broadcast_address() {
    // RFC 3021: both addresses of a /31 are hosts.
    let ours = Ipv4Address::new(203, 0, 113, 0);
    let peer = Ipv4Address::new(203, 0, 113, 1);
    let config = Config::new(OUR_MAC, 1).with_ip(Ipv4Cidr::new(ours, 31).unwrap());
    let mut iface = Interface::new(config).unwrap();
    let mut dev = Dev::new();
    let mut sockets = SocketSet::with_capacity(4);
    dev.rx.push_back(ip_frame(
        PEER_MAC,
        peer,
        ours,
        IpProtocol::Icmp,
        &echo_request(),
    ));
    iface.poll(ms(0), &mut dev, &mut sockets);
    assert_eq!(iface.stats().icmp_echo_replies, 1);
    assert_eq!(iface.stats().rx_drop_martian_network, 0);
}

#[test]
fn syn_mss_comes_from_the_device_mtu() {
    for (mtu, mss) in [
        (72, 32),
        (576, 536),
        (1500, 1460),
        (9000, 8960),
        (65535, 65495),
    ] {
        for poll_first in [false, true] {
            let (mut iface, mut dev, mut sockets) = setup();
            dev.mtu = mtu;
            assert_eq!(iface.ip_mtu(), 1500);
            if poll_first {
                iface.poll(ms(0), &mut dev, &mut sockets);
                assert_eq!(iface.ip_mtu(), mtu);
                assert_eq!(iface.context(ms(0)).ip_mtu, mtu);
            }
            let h = sockets.add(new_socket()).unwrap();
            let remote = IpEndpoint::new(v4(PEER_IP), 80);
            iface.connect(&mut sockets, h, remote, ms(0)).unwrap();
            iface.poll(ms(0), &mut dev, &mut sockets);
            dev.rx.push_back(arp_reply(PEER_MAC, PEER_IP));
            iface.poll(ms(1), &mut dev, &mut sockets);
            let (_, syn) = dev.tcp(0).pop().unwrap();
            assert_eq!(syn.flags, TcpFlags::SYN);
            assert_eq!(
                syn.max_seg_size,
                Some(mss),
                "MTU {mtu}, polled first: {poll_first}"
            );
        }
        // A passive open's SYN-ACK too.
        let (mut iface, mut dev, mut sockets) = setup();
        dev.mtu = mtu;
        let listener = sockets.add(new_socket()).unwrap();
        sockets
            .listen(listener, 80, 1, ChildBuffers::Alloc { rx: 1024, tx: 1024 })
            .unwrap();
        dev.rx.push_back(tcp_frame(PEER_IP, OUR_IP, &syn(4000, 80)));
        iface.poll(ms(0), &mut dev, &mut sockets);
        let (_, syn_ack) = dev.tcp(0).pop().unwrap();
        assert_eq!(syn_ack.flags, TcpFlags::SYN | TcpFlags::ACK);
        assert_eq!(syn_ack.max_seg_size, Some(mss), "MTU {mtu}, passive");
    }
}

/// An ICMP "fragmentation needed" from a router at 198.51.100.254 quoting
/// a `quoted_len`-byte datagram of the connection, whose first 8 TCP bytes
/// carry sequence number `seq`.
fn frag_needed(conn: &Conn, next_hop_mtu: u16, quoted_len: usize, seq: u32) -> Vec<u8> {
    let header = Ipv4Repr {
        src_addr: OUR_IP,
        dst_addr: PEER_IP,
        next_header: IpProtocol::Tcp,
        payload_len: quoted_len - 20,
        hop_limit: 63,
        dont_frag: true,
        ecn: crate::wire::IpEcn::NotEct,
    };
    let mut head = [0u8; 8];
    head[0..2].copy_from_slice(&conn.port.to_be_bytes());
    head[2..4].copy_from_slice(&80u16.to_be_bytes());
    head[4..8].copy_from_slice(&seq.to_be_bytes());
    let repr = Icmpv4Repr::DstUnreachable {
        reason: Icmpv4DstUnreachable::FragRequired,
        next_hop_mtu,
        header,
        data: &head,
    };
    let mut bytes = vec![0u8; repr.buffer_len()];
    repr.emit(
        &mut Icmpv4Packet::new_unchecked(&mut bytes[..]),
        &ChecksumCapabilities::default(),
    );
    ip_frame(
        PEER_MAC,
        Ipv4Address::new(192, 0, 2, 254),
        OUR_IP,
        IpProtocol::Icmp,
        &bytes,
    )
}

#[test]
fn fragmentation_needed_without_mtu_uses_the_plateau_table_and_552_floor() {
    let (mut iface, mut dev, mut sockets) = setup();
    let conn = establish(&mut iface, &mut dev, &mut sockets);
    let socket =
        |sockets: &SocketSet<'static>| sockets.get::<TcpSocket>(conn.handle).unwrap().send_mss();
    assert_eq!(socket(&sockets), 1460);
    sockets
        .get_mut::<TcpSocket>(conn.handle)
        .unwrap()
        .send_slice(&[1u8; 3000])
        .unwrap();
    iface.poll(ms(3), &mut dev, &mut sockets);
    // An old router says 0: the plateau below 1500 is 1492.
    dev.rx.push_back(frag_needed(&conn, 0, 1500, conn.snd_nxt));
    iface.poll(ms(4), &mut dev, &mut sockets);
    assert_eq!(socket(&sockets), 1492 - 40);
    // A forged (or absurd) next-hop MTU of 68 stops at Linux's 552; what
    // was in flight is resent at once in 512-byte segments.
    let sent = dev.tx.len();
    dev.rx.push_back(frag_needed(&conn, 68, 1492, conn.snd_nxt));
    iface.poll(ms(5), &mut dev, &mut sockets);
    assert_eq!(socket(&sockets), 512);
    let segments = dev.tcp(sent);
    assert!(!segments.is_empty());
    assert_eq!(segments[0].1.seq_number, SeqNumber(conn.snd_nxt));
    assert_eq!(segments[0].1.payload.len(), 512);
    assert!(segments.iter().all(|(_, s)| s.payload.len() <= 512));
    // The plateau table's 508 stops there too; a larger MTU never raises
    // the MSS (only a timeout may, RFC 1191 section 6.3).
    dev.rx.push_back(frag_needed(&conn, 0, 552, conn.snd_nxt));
    dev.rx.push_back(frag_needed(&conn, 0, 1500, conn.snd_nxt));
    dev.rx
        .push_back(frag_needed(&conn, 1400, 1500, conn.snd_nxt));
    iface.poll(ms(6), &mut dev, &mut sockets);
    assert_eq!(socket(&sockets), 512);
    assert_eq!(iface.stats().icmp_errors_to_tcp, 5);
}

#[test]
fn a_full_cache_of_pending_resolutions_drops_and_counts() {
    let mut iface = Interface::new(config()).unwrap();
    let mut dev = Dev::new();
    let mut sockets = SocketSet::with_capacity(80);
    let capacity = iface.neighbor_cache().capacity();
    for n in 0..=capacity {
        let h = sockets.add(new_socket()).unwrap();
        let remote = IpEndpoint::new(v4(Ipv4Address::new(192, 0, 2, 10 + n as u8)), 80);
        iface.connect(&mut sockets, h, remote, ms(0)).unwrap();
    }
    iface.poll(ms(0), &mut dev, &mut sockets);
    assert_eq!(dev.arp_requests(0).len(), capacity);
    let s = iface.stats();
    assert_eq!(s.tx_drop_neighbor_cache_full, 1);
    assert_eq!(s.neighbor.cache_full, 1);
    // Within the second, nothing more is asked; the SYN retransmissions
    // resolve the last one once a round ends.
    let mut now = ms(0);
    run_until(&mut iface, &mut dev, &mut sockets, &mut now, ms(999));
    assert_eq!(dev.arp_requests(0).len(), capacity);
}

#[test]
fn a_peer_mss_below_the_mtu_gives_whole_segments_on_a_device_without_tso() {
    // The device's MTU is 1500 and it has no segmentation offload: a peer
    // MSS of 536 must give 536-byte segments with their own checksums,
    // never a 1072-byte super-segment left for a device that cannot cut
    // it (the interface tells a socket of offload only when there is one).
    let (mut iface, mut dev, mut sockets) = setup();
    let conn = establish_with_mss(&mut iface, &mut dev, &mut sockets, 536);
    assert_eq!(
        sockets.get::<TcpSocket>(conn.handle).unwrap().send_mss(),
        536
    );
    sockets
        .get_mut::<TcpSocket>(conn.handle)
        .unwrap()
        .send_slice(&[3u8; 3000])
        .unwrap();
    let sent = dev.tx.len();
    iface.poll(ms(3), &mut dev, &mut sockets);
    // `tcp` verifies every checksum.
    let segments = dev.tcp(sent);
    assert!(segments.len() >= 2, "{}", segments.len());
    assert!(segments.iter().all(|(_, s)| s.payload.len() <= 536));
    assert_eq!(iface.stats().tx_tso_frames, 0);
}
