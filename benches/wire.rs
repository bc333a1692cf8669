//! Wire-layer speed: parse+verify and emit of Ethernet/IPv4/TCP frames, and
//! the internet checksum. Run with `cargo bench --bench wire`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pollnet::wire::{
    ChecksumCapabilities, EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr,
    IpAddress, IpProtocol, Ipv4Address, Ipv4Packet, Ipv4Repr, SeqNumber, TcpFlags, TcpPacket,
    TcpRepr, TcpSackRange, TcpTimestamp, checksum,
};

const SRC: Ipv4Address = Ipv4Address::new(192, 0, 2, 1);
const DST: Ipv4Address = Ipv4Address::new(192, 0, 2, 2);

static PAYLOAD: [u8; 1460] = {
    let mut bytes = [0u8; 1460];
    let mut i = 0;
    while i < bytes.len() {
        bytes[i] = (i * 7) as u8;
        i += 1;
    }
    bytes
};

struct Case {
    name: &'static str,
    eth: EthernetRepr,
    ip: Ipv4Repr,
    tcp: TcpRepr<'static>,
}

fn cases() -> Vec<Case> {
    let eth = EthernetRepr {
        src_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
        dst_addr: EthernetAddress([2, 0, 0, 0, 0, 2]),
        ethertype: EthernetProtocol::Ipv4,
    };
    let base = TcpRepr {
        src_port: 49152,
        dst_port: 5001,
        seq_number: SeqNumber(0x1234_5678),
        ack_number: SeqNumber(0x9abc_def0),
        flags: TcpFlags::ACK,
        window_len: 501,
        urgent_pointer: 0,
        max_seg_size: None,
        window_scale: None,
        sack_permitted: false,
        sack_ranges: [None; 4],
        timestamp: None,
        payload: &[],
    };
    let timestamp = Some(TcpTimestamp {
        tsval: 1_000_000,
        tsecr: 2_000_000,
    });
    let sack = |left: u32| {
        Some(TcpSackRange {
            left: SeqNumber(left),
            right: SeqNumber(left + 1448),
        })
    };
    let tcps = [
        ("payload_0", base),
        (
            "payload_1460",
            TcpRepr {
                flags: TcpFlags::ACK | TcpFlags::PSH,
                payload: &PAYLOAD[..],
                ..base
            },
        ),
        (
            "timestamps_sack3",
            TcpRepr {
                timestamp,
                sack_ranges: [sack(10_000), sack(20_000), sack(30_000), None],
                ..base
            },
        ),
    ];
    tcps.into_iter()
        .map(|(name, tcp)| Case {
            name,
            eth,
            ip: Ipv4Repr {
                src_addr: SRC,
                dst_addr: DST,
                next_header: IpProtocol::Tcp,
                payload_len: tcp.buffer_len(),
                hop_limit: 64,
                dont_frag: true,
                ecn: pollnet::wire::IpEcn::NotEct,
            },
            tcp,
        })
        .collect()
}

fn emit(case: &Case, out: &mut [u8]) -> usize {
    let caps = ChecksumCapabilities::default();
    let len = case.eth.buffer_len() + case.ip.buffer_len() + case.tcp.buffer_len();
    let mut frame = EthernetFrame::new_unchecked(&mut out[..len]);
    case.eth.emit(&mut frame);
    let mut ip = Ipv4Packet::new_unchecked(frame.payload_mut());
    case.ip.emit(&mut ip, &caps);
    let mut tcp = TcpPacket::new_unchecked(ip.payload_mut());
    case.tcp.emit(
        &mut tcp,
        &IpAddress::Ipv4(case.ip.src_addr),
        &IpAddress::Ipv4(case.ip.dst_addr),
        &caps,
    );
    len
}

/// Ethernet -> IPv4 -> TCP with both checksums verified, as the interface
/// parses ingress; returns the payload length so nothing is optimised away.
fn parse(frame: &[u8]) -> usize {
    let caps = ChecksumCapabilities::default();
    let frame = EthernetFrame::new_checked(frame).unwrap();
    let _eth = EthernetRepr::parse(&frame).unwrap();
    let ip_packet = Ipv4Packet::new_checked(frame.payload()).unwrap();
    let ip = Ipv4Repr::parse(&ip_packet, &caps).unwrap();
    let tcp_packet = TcpPacket::new_checked(ip_packet.payload()).unwrap();
    let tcp = TcpRepr::parse(
        &tcp_packet,
        &IpAddress::Ipv4(ip.src_addr),
        &IpAddress::Ipv4(ip.dst_addr),
        &caps,
    )
    .unwrap();
    tcp.payload.len() + tcp.sack_ranges.iter().flatten().count()
}

fn bench_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_verify");
    for case in cases() {
        let mut buffer = vec![0u8; 1600];
        let len = emit(&case, &mut buffer);
        let frame = &buffer[..len];
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(case.name, |b| b.iter(|| parse(black_box(frame))));
    }
    group.finish();
}

fn bench_emit(c: &mut Criterion) {
    let mut group = c.benchmark_group("emit");
    for case in cases() {
        let mut buffer = vec![0u8; 1600];
        let len = emit(&case, &mut buffer);
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(case.name, |b| {
            b.iter(|| emit(black_box(&case), black_box(&mut buffer)))
        });
    }
    group.finish();
}

fn bench_checksum(c: &mut Criterion) {
    let mut group = c.benchmark_group("checksum");
    let data: Vec<u8> = (0..65535u32).map(|i| (i * 31 + 7) as u8).collect();
    for len in [64usize, 1500, 65535] {
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(format!("{len}_bytes"), |b| {
            b.iter(|| checksum::data(black_box(&data[..len])))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_parse, bench_emit, bench_checksum);
criterion_main!(benches);
