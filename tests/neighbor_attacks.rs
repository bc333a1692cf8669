//! Attacks on the neighbor cache, on a virtual clock with exact counts: an
//! ARP storm that keeps the cache full while the stack resolves new
//! addresses, and a forged ARP reply in the middle of a live transfer
//! between two stacks.

mod common;

use std::collections::VecDeque;

use common::*;
use pollnet::iface::neighbor::NeighborState;
use pollnet::iface::{Config, Interface};
use pollnet::phy::{Device, DeviceCapabilities, Loopback, RxToken, TxToken};
use pollnet::socket::tcp::{TcpConfig, TcpSocket};
use pollnet::socket::{ChildBuffers, SocketSet};
use pollnet::time::{Duration, Instant};
use pollnet::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    EthernetRepr, IpAddress, IpEndpoint, Ipv4Address, Ipv4Cidr,
};

const FORGED_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 0xee]);

/// An ARP packet in an Ethernet frame (broadcast for a request).
fn arp_frame(
    operation: ArpOperation,
    sender: (EthernetAddress, Ipv4Address),
    target: (EthernetAddress, Ipv4Address),
) -> Vec<u8> {
    let repr = ArpRepr::EthernetIpv4 {
        operation,
        source_hardware_addr: sender.0,
        source_protocol_addr: sender.1,
        target_hardware_addr: target.0,
        target_protocol_addr: target.1,
    };
    let mut frame = vec![0u8; 14 + repr.buffer_len()];
    EthernetRepr {
        src_addr: sender.0,
        dst_addr: match operation {
            ArpOperation::Request => EthernetAddress::BROADCAST,
            _ => target.0,
        },
        ethertype: EthernetProtocol::Arp,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut frame[..]));
    repr.emit(&mut ArpPacket::new_unchecked(&mut frame[14..]));
    frame
}

/// An ARP request a host sent: (when, Ethernet destination, target).
fn arp_request(at: Instant, frame: &[u8]) -> Option<(Instant, EthernetAddress, Ipv4Address)> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EthernetProtocol::Arp {
        return None;
    }
    match ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).ok()?).ok()? {
        ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Request,
            target_protocol_addr,
            ..
        } => Some((at, eth.dst_addr(), target_protocol_addr)),
        _ => None,
    }
}

/// A device between a host and its link that delivers injected frames
/// first and logs every frame the host sends (with its time).
struct Wire<D: Device> {
    inner: D,
    inject: VecDeque<Vec<u8>>,
    rx_frame: Vec<u8>,
    sent: Vec<(Instant, Vec<u8>)>,
}

impl<D: Device> Wire<D> {
    fn new(inner: D) -> Self {
        Wire {
            inner,
            inject: VecDeque::new(),
            rx_frame: Vec::new(),
            sent: Vec::new(),
        }
    }

    /// The ARP requests sent at or after `from`.
    fn arp_requests(&self, from: Instant) -> Vec<(Instant, EthernetAddress, Ipv4Address)> {
        self.sent
            .iter()
            .filter(|(at, _)| *at >= from)
            .filter_map(|(at, frame)| arp_request(*at, frame))
            .collect()
    }
}

struct WireRx<'a>(&'a [u8]);

struct WireTx<'a, T> {
    inner: T,
    sent: &'a mut Vec<(Instant, Vec<u8>)>,
    now: Instant,
}

impl RxToken for WireRx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.0)
    }
}

impl<T: TxToken> TxToken for WireTx<'_, T> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let (sent, now) = (self.sent, self.now);
        self.inner.consume(len, |frame| {
            let result = f(frame);
            sent.push((now, frame.to_vec()));
            result
        })
    }
}

impl<D: Device> Device for Wire<D> {
    type RxToken<'a>
        = WireRx<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = WireTx<'a, D::TxToken<'a>>
    where
        Self: 'a;

    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        if let Some(frame) = self.inject.pop_front() {
            self.rx_frame = frame;
        } else {
            let (rx, _) = self.inner.receive(now)?;
            let frame = &mut self.rx_frame;
            frame.clear();
            rx.consume(|bytes| frame.extend_from_slice(bytes));
        }
        let tx = self.inner.transmit(now)?;
        Some((
            WireRx(&self.rx_frame),
            WireTx {
                inner: tx,
                sent: &mut self.sent,
                now,
            },
        ))
    }

    fn transmit(&mut self, now: Instant) -> Option<Self::TxToken<'_>> {
        let tx = self.inner.transmit(now)?;
        Some(WireTx {
            inner: tx,
            sent: &mut self.sent,
            now,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        self.inner.capabilities()
    }
}

impl<D: Device + NextEvent> NextEvent for Wire<D> {
    fn next_event(&self) -> Option<Instant> {
        let injected = (!self.inject.is_empty()).then_some(Instant::ZERO);
        earliest(self.inner.next_event(), injected)
    }
}

/// A device that takes what the test gives and drops what the host sends
/// after logging it: the attacker's segment of a LAN.
#[derive(Default)]
struct Lan {
    rx: VecDeque<Vec<u8>>,
}

struct LanRx(Vec<u8>);
struct LanTx;

impl RxToken for LanRx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl TxToken for LanTx {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        f(&mut vec![0u8; len])
    }
}

impl Device for Lan {
    type RxToken<'a> = LanRx;
    type TxToken<'a> = LanTx;

    fn receive(&mut self, _now: Instant) -> Option<(LanRx, LanTx)> {
        Some((LanRx(self.rx.pop_front()?), LanTx))
    }

    fn transmit(&mut self, _now: Instant) -> Option<LanTx> {
        Some(LanTx)
    }

    fn capabilities(&self) -> DeviceCapabilities {
        DeviceCapabilities::default()
    }
}

/// The ARP storm (hardening issue item 6): the cache is full of valid
/// entries, and an attacker keeps it full by announcing a new on-link
/// sender every 10 ms, while the application connects to three addresses
/// nobody answers for. Each target gets exactly one request a second: 4 in
/// the first 4 s (at 0, 1 and 2 s, the round fails at 3 s, and the SYN's
/// retransmission at 3 s starts the next one), where before every poll
/// sent one.
#[test]
fn arp_storm_leaves_one_request_per_second_per_target() {
    let our_ip = Ipv4Address::new(192, 0, 2, 1);
    let our_mac = EthernetAddress([2, 0, 0, 0, 0, 1]);
    let config = Config::new(our_mac, 11).with_ip(Ipv4Cidr::new(our_ip, 24).unwrap());
    let mut iface = Interface::new(config).unwrap();
    let mut sockets = SocketSet::with_capacity(8);
    let mut lan = Wire::new(Lan::default());
    let capacity = iface.neighbor_cache().capacity();
    assert_eq!(capacity, 64);

    // A sender of the storm: 192.0.2.100 to .249, cycling.
    let storm_sender = |n: usize| {
        let last = 100 + (n % 150) as u8;
        (
            EthernetAddress([2, 0, 0, 0, 1, last]),
            Ipv4Address::new(192, 0, 2, last),
        )
    };
    let announce = |lan: &mut Wire<Lan>, n: usize| {
        lan.inject.push_back(arp_frame(
            ArpOperation::Request,
            storm_sender(n),
            (EthernetAddress([0; 6]), our_ip),
        ));
    };
    // Fill the cache with valid entries before the test starts.
    for n in 0..capacity {
        announce(&mut lan, n);
    }
    let start = Instant::from_secs(100);
    iface.poll(start - Duration::from_secs(1), &mut lan, &mut sockets);
    assert_eq!(iface.neighbor_cache().len(), capacity);

    let targets = [
        Ipv4Address::new(192, 0, 2, 50),
        Ipv4Address::new(192, 0, 2, 51),
        Ipv4Address::new(192, 0, 2, 52),
    ];
    let tcp = TcpConfig::default();
    for target in targets {
        let h = sockets.add(socket(tcp, 1024, 1024)).unwrap();
        iface
            .connect(
                &mut sockets,
                h,
                IpEndpoint::new(IpAddress::Ipv4(target), 80),
                start,
            )
            .unwrap();
    }
    // 4 s of storm: a new sender every 10 ms, a poll at each and whenever
    // the interface asks.
    let end = start + Duration::from_secs(4);
    let mut now = start;
    let mut n = capacity;
    let mut polls = 0;
    while now < end {
        announce(&mut lan, n);
        n += 1;
        iface.poll(now, &mut lan, &mut sockets);
        polls += 1;
        let next_storm = now + Duration::from_millis(10);
        while let Some(at) = iface
            .poll_at(&sockets)
            .filter(|&at| at > now && at < next_storm)
        {
            now = at;
            iface.poll(now, &mut lan, &mut sockets);
            polls += 1;
        }
        now = next_storm;
    }
    assert!(polls >= 400);
    let requests = lan.arp_requests(start);
    for target in targets {
        let times: Vec<Duration> = requests
            .iter()
            .filter(|(at, mac, t)| *t == target && *at < end && *mac == EthernetAddress::BROADCAST)
            .map(|(at, _, _)| *at - start)
            .collect();
        assert_eq!(
            times,
            [0, 1, 2, 3].map(Duration::from_secs),
            "requests for {target}"
        );
        assert_eq!(
            iface.neighbor_cache().state(IpAddress::Ipv4(target), now),
            Some(NeighborState::Incomplete),
            "the pending resolution of {target} survived the storm"
        );
    }
    assert_eq!(requests.len(), 3 * 4, "no other requests");
    let stats = iface.stats();
    assert_eq!(stats.arp_requests_sent, 12);
    assert_eq!(stats.neighbor.resolution_failures, 3);
    assert!(stats.neighbor.evictions >= 400, "{:?}", stats.neighbor);
    assert_eq!(stats.neighbor.cache_full, 0);
    println!(
        "ARP storm: {} polls, {} senders announced, {} evictions, {} requests per target in 4 s",
        polls,
        n,
        stats.neighbor.evictions,
        requests.len() / 3
    );
}

/// What [`forged_reply`] saw.
struct Outage {
    /// From the forged reply to the first byte delivered after the longest
    /// gap in delivery.
    recovered_after: Duration,
    /// The longest time without a new byte at the receiver.
    longest_gap: Duration,
}

/// A 4 MB transfer from client to server over a 1 ms link, starting
/// `idle` after the connection opened; once the server has 1 MB, the
/// client receives one forged ARP reply mapping the server's address to a
/// MAC nobody has (the attacker does not answer probes).
fn forged_reply(tcp: TcpConfig, idle: Duration) -> Outage {
    const TOTAL: usize = 4 << 20;
    const PORT: u16 = 6000;
    let (a, b) = Loopback::pair(1500, Duration::from_millis(1));
    let mut net = Net {
        client: Host::new(Wire::new(a), 1, CLIENT_IP, 21, tcp, 4),
        server: Host::new(b, 2, SERVER_IP, 22, tcp, 4),
        now: Instant::ZERO,
    };
    let client_mac = net.client.iface.hardware_addr();
    let server_mac = net.server.iface.hardware_addr();
    let listener = net.server.sockets.add(socket(tcp, 64, 64)).unwrap();
    net.server
        .sockets
        .listen(
            listener,
            PORT,
            1,
            ChildBuffers::Alloc {
                rx: 64 << 10,
                tx: 4 << 10,
            },
        )
        .unwrap();
    let h = net
        .client
        .sockets
        .add(socket(tcp, 4 << 10, 64 << 10))
        .unwrap();
    net.client
        .iface
        .connect(
            &mut net.client.sockets,
            h,
            IpEndpoint::new(IpAddress::Ipv4(SERVER_IP), PORT),
            net.now,
        )
        .unwrap();

    let (mut sent, mut received) = (0, 0);
    let mut child = None;
    let mut chunk = vec![0u8; 16 << 10];
    let mut forged_at = None;
    let mut last_delivery = Instant::ZERO;
    let mut longest_gap = Duration::ZERO;
    let mut recovered_at = Instant::ZERO;
    for _ in 0..1_000_000 {
        net.settle();
        let socket = net.client.sockets.get_mut::<TcpSocket>(h).unwrap();
        while sent < TOTAL && socket.can_send() && net.now >= Instant::ZERO + idle {
            let n = chunk.len().min(TOTAL - sent);
            for (i, byte) in chunk[..n].iter_mut().enumerate() {
                *byte = stream_byte(7, sent + i);
            }
            match socket.send_slice(&chunk[..n]) {
                Ok(0) | Err(_) => break,
                Ok(k) => sent += k,
            }
        }
        if sent == TOTAL && socket.may_send() {
            socket.close();
        }
        if child.is_none() {
            child = net.server.sockets.accept(listener);
        }
        if let Some(c) = child {
            let socket = net.server.sockets.get_mut::<TcpSocket>(c).unwrap();
            let before = received;
            while let Ok(n) = socket.recv_slice(&mut chunk) {
                if n == 0 {
                    break;
                }
                for (i, byte) in chunk[..n].iter().enumerate() {
                    assert_eq!(*byte, stream_byte(7, received + i), "byte {}", received + i);
                }
                received += n;
            }
            if received > before {
                if forged_at.is_some() && net.now - last_delivery > longest_gap {
                    longest_gap = net.now - last_delivery;
                    recovered_at = net.now;
                }
                last_delivery = net.now;
            }
            if received == TOTAL && !socket.may_recv() {
                break;
            }
        }
        if forged_at.is_none() && received >= 1 << 20 {
            net.client.device.inject.push_back(arp_frame(
                ArpOperation::Reply,
                (FORGED_MAC, SERVER_IP),
                (client_mac, CLIENT_IP),
            ));
            forged_at = Some(net.now);
            println!(
                "forged ARP reply at {} with {received} bytes delivered",
                net.now
            );
        }
        assert!(net.now < Instant::from_secs(120), "transfer stalled");
        if !net.step(Duration::from_millis(100)) {
            if net.now >= Instant::ZERO + idle {
                break;
            }
            // Nothing to do until the transfer starts.
            net.now = Instant::ZERO + idle;
        }
    }
    assert_eq!(received, TOTAL, "the whole stream, byte-exact");
    let forged_at = forged_at.expect("the transfer reached 1 MB");

    // What the client sent after the forgery: three unicast probes to the
    // forged address a second apart, then one broadcast the server answered.
    let requests = net.client.device.arp_requests(forged_at);
    let probes: Vec<Duration> = requests
        .iter()
        .filter(|(_, mac, t)| *mac == FORGED_MAC && *t == SERVER_IP)
        .map(|(at, _, _)| *at - forged_at)
        .collect();
    let broadcasts: Vec<Duration> = requests
        .iter()
        .filter(|(_, mac, _)| *mac == EthernetAddress::BROADCAST)
        .map(|(at, _, _)| *at - forged_at)
        .collect();
    println!("unicast probes at {probes:?} and broadcasts at {broadcasts:?} after the forgery");
    assert_eq!(probes.len(), 3);
    // The first probe goes with the first packet after the forgery, unless
    // the last request for the address was less than a second before.
    let first_probe_at = (Instant::from_secs(1) - forged_at).max(Duration::ZERO);
    assert!(probes[0] >= first_probe_at, "{probes:?}");
    assert!(
        probes[0] < first_probe_at + Duration::from_millis(10),
        "{probes:?}"
    );
    assert_eq!(probes[1] - probes[0], Duration::from_secs(1));
    assert_eq!(probes[2] - probes[1], Duration::from_secs(1));
    assert_eq!(broadcasts, [probes[2] + Duration::from_secs(1)]);
    assert_eq!(requests.len(), 4);
    let stats = net.client.iface.stats();
    assert_eq!(stats.arp_unicast_probes_sent, 3);
    assert_eq!(stats.neighbor.address_changes, 1);
    assert_eq!(stats.neighbor.unreachable, 1);
    assert_eq!(stats.neighbor.resolution_failures, 0);
    assert_eq!(
        net.client.iface.neighbor(SERVER_IP, net.now),
        Some(server_mac),
        "repaired"
    );
    let to_forged = net
        .client
        .device
        .sent
        .iter()
        .filter(|(_, frame)| frame[0..6] == FORGED_MAC.0)
        .count();
    println!(
        "{} frames to the forged address ({} upper-layer confirmations ignored as suspect); \
         the server dropped {} frames not for it",
        to_forged,
        stats.neighbor.suspect_confirmations_ignored,
        net.server.iface.stats().rx_drop_not_for_us
    );
    Outage {
        recovered_after: recovered_at - forged_at,
        longest_gap,
    }
}

/// The forged ARP reply (hardening issue item 12), 2 s into a connection,
/// with the default TCP settings (RFC 6298's 1 s minimum RTO): the transfer
/// completes byte-exact and recovers well within 15 s of the forgery: three
/// unicast probes (3 s) and one broadcast repair the entry, and TCP's next
/// retransmission finds the path.
#[test]
fn forged_arp_reply_costs_seconds_not_a_minute() {
    let mut tcp = TcpConfig::default();
    tcp.msl = Duration::from_secs(2);
    let outage = forged_reply(tcp, Duration::from_secs(2));
    println!(
        "forged reply (default TCP settings): delivery resumed {} after it, longest gap {}",
        outage.recovered_after, outage.longest_gap
    );
    assert!(outage.recovered_after < Duration::from_secs(15));
    assert!(
        outage.longest_gap >= Duration::from_secs(3),
        "probes take 3 s"
    );
}

/// The same with the test suite's TCP settings (200 ms minimum RTO).
#[test]
fn forged_arp_reply_with_a_short_rto() {
    let outage = forged_reply(tcp_config(), Duration::from_secs(2));
    println!(
        "forged reply (min RTO 200 ms): delivery resumed {} after it, longest gap {}",
        outage.recovered_after, outage.longest_gap
    );
    assert!(outage.recovered_after < Duration::from_secs(15));
    assert!(
        outage.longest_gap >= Duration::from_secs(3),
        "probes take 3 s"
    );
}

/// A forgery 40 ms after the first resolution: the probes wait for the rate
/// limit (one request a second for an address, whatever the state), and
/// the bound still holds.
#[test]
fn forged_arp_reply_right_after_resolution() {
    let outage = forged_reply(tcp_config(), Duration::ZERO);
    println!(
        "forged reply 40 ms after resolving: delivery resumed {} after it, longest gap {}",
        outage.recovered_after, outage.longest_gap
    );
    assert!(outage.recovered_after < Duration::from_secs(15));
}
