//! Criterion benches of the whole stack over in-memory links:
//! - bulk transfer between two stacks over Loopback (MTU 1500 and 65535),
//!   through the public send/recv API, reported as throughput;
//! - the cost of one ingress segment with 1, 100 and 10,000 established
//!   connections in the set, which must stay flat (O(1) demultiplexing and
//!   no per-poll scan of idle sockets).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pollnet::iface::{Config, Interface};
use pollnet::phy::{Device, DeviceCapabilities, LinkEnd, Loopback, RxToken, TxToken};
use pollnet::socket::tcp::{State, TcpSocket};
use pollnet::socket::{AnySocket, ChildBuffers, SocketHandle, SocketSet};
use pollnet::storage::RingBuffer;
use pollnet::time::{Duration, Instant};
use pollnet::wire::{
    ChecksumCapabilities, EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr,
    IpAddress, IpEndpoint, IpProtocol, Ipv4Address, Ipv4Cidr, Ipv4Packet, Ipv4Repr, SeqNumber,
    TcpFlags, TcpPacket, TcpRepr,
};

const A_IP: Ipv4Address = Ipv4Address::new(192, 0, 2, 1);
const B_IP: Ipv4Address = Ipv4Address::new(192, 0, 2, 2);

fn host(mac: u8, ip: Ipv4Address, capacity: usize) -> (Interface<'static>, SocketSet<'static>) {
    let config = Config::new(EthernetAddress([2, 0, 0, 0, 0, mac]), u128::from(mac))
        .with_ip(Ipv4Cidr::new(ip, 24).unwrap());
    (
        Interface::new(config).unwrap(),
        SocketSet::with_capacity(capacity),
    )
}

/// A socket with ACK delay off (TCP settings are per socket; a
/// listener's children inherit its own).
fn socket(rx: usize, tx: usize) -> TcpSocket<'static> {
    let mut socket = TcpSocket::new(
        RingBuffer::new(vec![0u8; rx]),
        RingBuffer::new(vec![0u8; tx]),
    );
    socket.set_ack_delay(None);
    socket
}

/// One stack with its device.
struct Stack {
    iface: Interface<'static>,
    sockets: SocketSet<'static>,
    device: LinkEnd,
}

struct Pair {
    a: Stack,
    b: Stack,
    client: SocketHandle,
    server: SocketHandle,
    now: Instant,
}

impl Pair {
    fn poll(&mut self) {
        self.a
            .iface
            .poll(self.now, &mut self.a.device, &mut self.a.sockets);
        self.b
            .iface
            .poll(self.now, &mut self.b.device, &mut self.b.sockets);
        self.now += Duration::from_micros(10);
    }
}

/// Two stacks over a zero-delay Loopback link with one established
/// connection whose buffers hold `buffer` bytes.
fn connected_pair(mtu: usize, buffer: usize) -> Pair {
    let (la, lb) = Loopback::pair(mtu, Duration::ZERO);
    let (ia, mut sa) = host(1, A_IP, 4);
    let (ib, mut sb) = host(2, B_IP, 4);
    let listener = sb.add(socket(64, 64)).unwrap();
    sb.listen(
        listener,
        80,
        1,
        ChildBuffers::Alloc {
            rx: buffer,
            tx: buffer,
        },
    )
    .unwrap();
    let client = sa.add(socket(buffer, buffer)).unwrap();
    let mut pair = Pair {
        a: Stack {
            iface: ia,
            sockets: sa,
            device: la,
        },
        b: Stack {
            iface: ib,
            sockets: sb,
            device: lb,
        },
        client,
        server: listener,
        now: Instant::ZERO,
    };
    let remote = IpEndpoint::new(IpAddress::Ipv4(B_IP), 80);
    pair.a
        .iface
        .connect(&mut pair.a.sockets, client, remote, pair.now)
        .unwrap();
    for _ in 0..100 {
        pair.poll();
        if let Some(h) = pair.b.sockets.accept(listener) {
            pair.server = h;
            return pair;
        }
    }
    panic!("no connection");
}

/// Moves `bytes` from the client to the server; returns what arrived.
fn transfer(pair: &mut Pair, bytes: usize) -> usize {
    let chunk = vec![0xa5u8; 64 * 1024];
    let mut sink = vec![0u8; 64 * 1024];
    let (mut sent, mut received) = (0, 0);
    while received < bytes {
        if sent < bytes {
            let s = pair.a.sockets.get_mut::<TcpSocket>(pair.client).unwrap();
            sent += s
                .send_slice(&chunk[..chunk.len().min(bytes - sent)])
                .unwrap_or(0);
        }
        pair.poll();
        let s = pair.b.sockets.get_mut::<TcpSocket>(pair.server).unwrap();
        while let Ok(n) = s.recv_slice(&mut sink) {
            if n == 0 {
                break;
            }
            received += n;
        }
    }
    received
}

fn bulk(c: &mut Criterion) {
    const BYTES: usize = 4 << 20;
    let mut group = c.benchmark_group("loopback_bulk");
    group.throughput(Throughput::Bytes(BYTES as u64));
    group.sample_size(10);
    for mtu in [1500usize, 65535] {
        // ACKs per data frame in one transfer (outside the timing): with
        // ACK coalescing, one ACK per poll that took in data.
        {
            let mut pair = connected_pair(mtu, 256 * 1024);
            let (data_before, acks_before) = (
                pair.a.device.stats().transmitted,
                pair.b.device.stats().transmitted,
            );
            transfer(&mut pair, BYTES);
            let data = pair.a.device.stats().transmitted - data_before;
            let acks = pair.b.device.stats().transmitted - acks_before;
            eprintln!(
                "loopback_bulk/mtu/{mtu}: {BYTES} bytes in {data} data frames, {acks} ACKs \
                 ({:.3} ACKs per data frame)",
                acks as f64 / data as f64
            );
        }
        group.bench_function(BenchmarkId::new("mtu", mtu), |bench| {
            let mut pair = connected_pair(mtu, 256 * 1024);
            bench.iter(|| black_box(transfer(&mut pair, BYTES)));
        });
    }
    group.finish();
}

/// A device that hands the stack one prebuilt frame per `pending` and
/// swallows whatever the stack sends.
struct Replayer {
    frame: Vec<u8>,
    pending: bool,
    sink: Vec<u8>,
}

struct Rx<'a>(&'a [u8]);
struct Tx<'a>(&'a mut Vec<u8>);

impl RxToken for Rx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.0)
    }
}

impl TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        self.0.resize(len, 0);
        f(&mut self.0[..len])
    }
}

impl Device for Replayer {
    type RxToken<'a> = Rx<'a>;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(Rx<'_>, Tx<'_>)> {
        if !std::mem::take(&mut self.pending) {
            return None;
        }
        Some((Rx(&self.frame), Tx(&mut self.sink)))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Tx<'_>> {
        Some(Tx(&mut self.sink))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.max_transmission_unit = 1500;
        caps
    }
}

/// The Ethernet/IPv4/TCP frame of a pure ACK from `src` to `dst`.
fn ack_frame(src: IpEndpoint, dst: IpEndpoint, seq: SeqNumber, ack: SeqNumber) -> Vec<u8> {
    let tcp = TcpRepr {
        src_port: src.port,
        dst_port: dst.port,
        seq_number: seq,
        ack_number: ack,
        flags: TcpFlags::ACK,
        window_len: 2048,
        ..TcpRepr::default()
    };
    let (Some(s), Some(d)) = (src.addr.as_ipv4(), dst.addr.as_ipv4()) else {
        unreachable!("the bench runs IPv4 only");
    };
    let ip = Ipv4Repr {
        src_addr: s,
        dst_addr: d,
        next_header: IpProtocol::Tcp,
        payload_len: tcp.buffer_len(),
        hop_limit: 64,
        dont_frag: true,
        ecn: pollnet::wire::IpEcn::NotEct,
    };
    let mut frame = vec![0u8; 14 + 20 + tcp.buffer_len()];
    EthernetRepr {
        src_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
        dst_addr: EthernetAddress([2, 0, 0, 0, 0, 2]),
        ethertype: EthernetProtocol::Ipv4,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut frame[..]));
    let caps = ChecksumCapabilities::default();
    let mut packet = Ipv4Packet::new_unchecked(&mut frame[14..]);
    ip.emit(&mut packet, &caps);
    tcp.emit(
        &mut TcpPacket::new_unchecked(packet.payload_mut()),
        &src.addr,
        &dst.addr,
        &caps,
    );
    frame
}

fn ingress_scaling(c: &mut Criterion) {
    let mut group = c.benchmark_group("ingress_segment");
    for connections in [1usize, 100, 10_000] {
        // Establish the connections between two stacks over a link, then
        // move the server stack onto a replaying device.
        let (mut da, mut db) = Loopback::pair_with_queue_limit(1500, Duration::ZERO, 1 << 16);
        let (mut ia, mut sa) = host(1, A_IP, connections);
        let (mut ib, mut sb) = host(2, B_IP, connections + 1);
        let listener = sb.add(socket(64, 64)).unwrap();
        sb.listen(
            listener,
            80,
            connections,
            ChildBuffers::Alloc { rx: 2048, tx: 2048 },
        )
        .unwrap();
        let server_ep = IpEndpoint::new(IpAddress::Ipv4(B_IP), 80);
        let mut now = Instant::ZERO;
        let mut last_local = None;
        let mut accepted = 0;
        // Open the connections in batches, each finishing its handshake
        // before the next starts, as a server would see them arrive.
        for batch in (0..connections).collect::<Vec<_>>().chunks(100) {
            for _ in batch {
                let h = sa.add(socket(2048, 2048)).unwrap();
                last_local = Some(ia.connect(&mut sa, h, server_ep, now).unwrap());
            }
            let target = accepted + batch.len();
            while accepted < target {
                ia.poll(now, &mut da, &mut sa);
                ib.poll(now, &mut db, &mut sb);
                while sb.accept(listener).is_some() {
                    accepted += 1;
                }
                now += Duration::from_millis(1);
                assert!(now < Instant::from_secs(600), "handshakes did not finish");
            }
        }
        // The last connection's next segment from the client: a pure ACK
        // at RCV.NXT acknowledging nothing new, so no reply and no state
        // change, and every iteration does the same work.
        let local = last_local.unwrap();
        let server_conn = sb
            .iter()
            .find(|(_, s)| {
                TcpSocket::downcast(s).is_some_and(|s| s.remote_endpoint() == Some(local))
            })
            .map(|(h, _)| h)
            .unwrap();
        let s = sb.get::<TcpSocket>(server_conn).unwrap();
        assert_eq!(s.state(), State::Established);
        let frame = ack_frame(local, server_ep, s.rcv_nxt(), s.snd_nxt());
        let mut device = Replayer {
            frame,
            pending: false,
            sink: Vec::with_capacity(2048),
        };
        ib.poll(now, &mut device, &mut sb);
        group.bench_function(BenchmarkId::new("connections", connections), |bench| {
            bench.iter(|| {
                device.pending = true;
                black_box(ib.poll(now, &mut device, &mut sb));
            });
        });
        // The ingress-only entry point on the same segment (the twin of
        // smoltcp's `poll_ingress_single`).
        group.bench_function(
            BenchmarkId::new("ingress_single_connections", connections),
            |bench| {
                bench.iter(|| {
                    device.pending = true;
                    black_box(ib.poll_ingress_single(now, &mut device, &mut sb));
                });
            },
        );
        assert_eq!(
            sb.get::<TcpSocket>(server_conn).unwrap().state(),
            State::Established
        );
    }
    group.finish();
}

criterion_group!(benches, bulk, ingress_scaling);
criterion_main!(benches);
