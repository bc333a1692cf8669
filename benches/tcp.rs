//! The TCP segment-processing hot path (criterion):
//! - an in-order 1460-byte data segment processed in ESTABLISHED, its ACK
//!   produced, the data read;
//! - the send side producing its next 1460-byte data segment (and taking
//!   the ACK for it);
//! - an out-of-order 1460-byte segment stored by the assembler.

use std::hint::black_box;
use std::time::{Duration as StdDuration, Instant as StdInstant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pollnet::socket::Context;
use pollnet::socket::tcp::{IsnGenerator, SocketBuffer, TcpConfig, TcpSocket};
use pollnet::time::{Duration, Instant};
use pollnet::wire::{IpAddress, IpEndpoint, IpProtocol, IpRepr, SeqNumber, TcpFlags, TcpRepr};

const LOCAL: IpEndpoint = IpEndpoint::new(IpAddress::v4(10, 0, 0, 1), 80);
const REMOTE: IpEndpoint = IpEndpoint::new(IpAddress::v4(10, 0, 0, 2), 40000);
const MSS: usize = 1460;
const ISS: u32 = 1000;
const IRS: u32 = 5000;

fn ip_in(len: usize) -> IpRepr {
    IpRepr {
        src_addr: REMOTE.addr,
        dst_addr: LOCAL.addr,
        next_header: IpProtocol::Tcp,
        payload_len: 20 + len,
        hop_limit: 64,
        ecn: pollnet::wire::IpEcn::NotEct,
    }
}

fn segment(flags: TcpFlags, seq: u32, ack: u32, payload: &[u8]) -> TcpRepr<'_> {
    let mut repr = TcpRepr {
        src_port: REMOTE.port,
        dst_port: LOCAL.port,
        seq_number: SeqNumber(seq),
        flags,
        window_len: 65535,
        max_seg_size: Some(MSS as u16),
        payload,
        ..TcpRepr::default()
    };
    repr.set_ack(Some(SeqNumber(ack)));
    repr
}

/// An ESTABLISHED socket (active open) with 256 KiB buffers, ACKing every
/// segment at once (so each data segment's ACK comes out of `process`).
fn established(cx: &mut Context) -> TcpSocket<'static> {
    let mut socket = TcpSocket::new(
        SocketBuffer::new(vec![0u8; 1 << 18]),
        SocketBuffer::new(vec![0u8; 1 << 18]),
    );
    let mut config = TcpConfig::default();
    config.timestamps = false;
    config.window_scaling = false;
    config.ack_delay = None;
    config.nagle = false;
    socket.set_config(config);
    socket.set_next_isn(SeqNumber(ISS));
    socket.connect(cx, REMOTE, LOCAL).unwrap();
    socket.dispatch(cx, |_, _| Ok::<(), ()>(())).unwrap();
    let mut synack = segment(TcpFlags::SYN | TcpFlags::ACK, IRS, ISS + 1, &[]);
    synack.window_len = 65535;
    socket.process(cx, &ip_in(0), &synack).unwrap();
    socket
}

fn bench_receive(c: &mut Criterion) {
    let mut group = c.benchmark_group("tcp");
    group.throughput(Throughput::Elements(1));
    let payload = vec![0x5au8; MSS];
    let mut cx = Context::new(Instant::ZERO, IsnGenerator::new([1; 16]));
    let mut socket = established(&mut cx);
    let mut seq = IRS + 1;
    let mut sink = vec![0u8; MSS];
    group.bench_function("rx in-order 1460 B segment + ACK", |b| {
        b.iter(|| {
            let repr = segment(TcpFlags::ACK | TcpFlags::PSH, seq, ISS + 1, &payload);
            let reply = socket.process(&mut cx, &ip_in(MSS), black_box(&repr));
            black_box(reply.expect("an immediate ACK"));
            seq = seq.wrapping_add(MSS as u32);
            socket.recv_slice(&mut sink).unwrap();
        })
    });

    let mut cx = Context::new(Instant::ZERO, IsnGenerator::new([1; 16]));
    let mut socket = established(&mut cx);
    let data = vec![0xa5u8; MSS];
    let mut acked = ISS + 1;
    group.bench_function("tx next 1460 B segment + its ACK", |b| {
        b.iter(|| {
            socket.send_slice(&data).unwrap();
            // At the tx ring's wrap a segment is cut short and the rest
            // follows; ACK what went out.
            let mut len = 0;
            while socket
                .dispatch(&mut cx, |_, (ip, repr)| {
                    len += black_box((ip, repr.payload.len())).1;
                    Ok::<(), ()>(())
                })
                .unwrap()
            {}
            assert_eq!(len, MSS);
            acked = acked.wrapping_add(len as u32);
            let ack = segment(TcpFlags::ACK, IRS + 1, acked, &[]);
            black_box(socket.process(&mut cx, &ip_in(0), &ack));
            cx.now += Duration::from_micros(10);
        })
    });

    let mut cx = Context::new(Instant::ZERO, IsnGenerator::new([1; 16]));
    let mut socket = established(&mut cx);
    let mut rcv_nxt = IRS + 1;
    // Each round: 16 segments after a one-segment hole (timed), then the
    // hole is filled and everything read (not timed).
    const ROUND: u32 = 16;
    group.bench_function("rx out-of-order 1460 B segment into the assembler", |b| {
        b.iter_custom(|iters| {
            let mut total = StdDuration::ZERO;
            let mut done = 0;
            while done < iters {
                let n = ROUND.min(u32::try_from(iters - done).unwrap_or(ROUND));
                let start = StdInstant::now();
                for i in 1..=n {
                    let seq = rcv_nxt.wrapping_add(i * MSS as u32);
                    let repr = segment(TcpFlags::ACK, seq, ISS + 1, &payload);
                    black_box(socket.process(&mut cx, &ip_in(MSS), black_box(&repr)));
                }
                total += start.elapsed();
                let fill = segment(TcpFlags::ACK, rcv_nxt, ISS + 1, &payload);
                socket.process(&mut cx, &ip_in(MSS), &fill);
                rcv_nxt = rcv_nxt.wrapping_add((n + 1) * MSS as u32);
                while socket.recv_slice(&mut sink).unwrap_or(0) > 0 {}
                done += u64::from(n);
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, bench_receive);
criterion_main!(benches);
