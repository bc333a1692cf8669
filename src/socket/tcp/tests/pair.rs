//! Two sockets over a simulated link on a virtual clock: a rate-limited,
//! drop-tail path with a fixed delay and seeded random loss each way.
//! Transfers in both directions must arrive byte for byte, whatever is
//! lost; the loss-recovery counters say how they were recovered.

extern crate std;

use std::collections::VecDeque;
use std::println;
use std::vec;
use std::vec::Vec;

use super::super::{SocketBuffer, TcpConfig, TcpSocket, TcpStats};
use crate::socket::tcp::IsnGenerator;
use crate::socket::{Context, PollAt};
use crate::time::{Duration, Instant};
use crate::wire::{IpAddress, IpEndpoint, IpRepr, TcpRepr};

const CLIENT: IpEndpoint = IpEndpoint::new(IpAddress::v4(192, 0, 2, 1), 49152);
const SERVER: IpEndpoint = IpEndpoint::new(IpAddress::v4(192, 0, 2, 2), 80);

/// A segment in flight on the link, owned.
#[derive(Debug, Clone)]
struct Packet {
    ip: IpRepr,
    tcp: TcpRepr<'static>,
    payload: Vec<u8>,
}

impl Packet {
    fn new(ip: &IpRepr, tcp: &TcpRepr) -> Packet {
        Packet {
            ip: *ip,
            tcp: TcpRepr {
                src_port: tcp.src_port,
                dst_port: tcp.dst_port,
                seq_number: tcp.seq_number,
                ack_number: tcp.ack_number,
                flags: tcp.flags,
                window_len: tcp.window_len,
                urgent_pointer: tcp.urgent_pointer,
                max_seg_size: tcp.max_seg_size,
                window_scale: tcp.window_scale,
                sack_permitted: tcp.sack_permitted,
                sack_ranges: tcp.sack_ranges,
                timestamp: tcp.timestamp,
                payload: &[],
            },
            payload: tcp.payload.to_vec(),
        }
    }

    /// Bytes on an Ethernet wire: headers, options, payload.
    fn wire_len(&self) -> usize {
        14 + 20 + self.tcp.header_len() + self.payload.len()
    }
}

/// xorshift64*: a small seeded generator, so runs are reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// True with probability `per_mille` / 1000.
    fn chance(&mut self, per_mille: u64) -> bool {
        self.next() % 1000 < per_mille
    }
}

/// One direction of the link: serialization at `rate` bytes per second,
/// a drop-tail queue of `queue` packets, a one-way `delay`, and random
/// loss before the queue.
struct Link {
    rate: u64,
    delay: Duration,
    queue: usize,
    loss_per_mille: u64,
    /// When the transmitter is next free.
    busy_until: Instant,
    /// (arrival time, packet), in order.
    in_flight: VecDeque<(Instant, Packet)>,
    dropped: u64,
}

impl Link {
    fn send(&mut self, now: Instant, packet: Packet, rng: &mut Rng) {
        if rng.chance(self.loss_per_mille) {
            self.dropped += 1;
            return;
        }
        let queued = self
            .in_flight
            .iter()
            .filter(|(at, _)| *at > now + self.delay)
            .count();
        if queued >= self.queue {
            self.dropped += 1;
            return;
        }
        let start = if self.busy_until > now {
            self.busy_until
        } else {
            now
        };
        let micros = packet.wire_len() as u64 * 1_000_000 / self.rate;
        self.busy_until = start + Duration::from_micros(micros);
        self.in_flight
            .push_back((self.busy_until + self.delay, packet));
    }

    fn next_arrival(&self) -> Option<Instant> {
        self.in_flight.front().map(|(at, _)| *at)
    }

    fn take_arrived(&mut self, now: Instant) -> Option<Packet> {
        if self.next_arrival()? <= now {
            return self.in_flight.pop_front().map(|(_, p)| p);
        }
        None
    }
}

/// One end: its socket, context, the data it sends and what it received.
struct End {
    socket: TcpSocket<'static>,
    cx: Context,
    to_send: Vec<u8>,
    sent: usize,
    received: Vec<u8>,
}

impl End {
    fn new(config: TcpConfig, isn_key: u8, data: Vec<u8>) -> End {
        let mut socket = TcpSocket::new(
            SocketBuffer::new(vec![0u8; 128 * 1024]),
            SocketBuffer::new(vec![0u8; 128 * 1024]),
        );
        socket.set_config(config);
        End {
            socket,
            cx: Context::new(Instant::ZERO, IsnGenerator::new([isn_key; 16])),
            to_send: data,
            sent: 0,
            received: Vec::new(),
        }
    }

    /// Moves data between the application and the socket.
    fn pump(&mut self) {
        if self.sent < self.to_send.len() && self.socket.may_send() {
            if let Ok(n) = self.socket.send_slice(&self.to_send[self.sent..]) {
                self.sent += n;
            }
        }
        let mut buf = [0u8; 8192];
        while let Ok(n) = self.socket.recv_slice(&mut buf) {
            if n == 0 {
                break;
            }
            self.received.extend_from_slice(&buf[..n]);
        }
    }

    /// Dispatches everything due now onto `link`.
    fn dispatch(&mut self, link: &mut Link, rng: &mut Rng) {
        for _ in 0..10_000 {
            let now = self.cx.now;
            let mut out = None;
            let emitted = self
                .socket
                .dispatch(&mut self.cx, |_, (ip, repr)| {
                    out = Some(Packet::new(&ip, &repr));
                    Ok::<(), ()>(())
                })
                .expect("emit never fails");
            match out {
                Some(packet) if emitted => link.send(now, packet, rng),
                _ => return,
            }
        }
        panic!("dispatch does not stop");
    }

    fn deliver(&mut self, packet: Packet, back: &mut Link, rng: &mut Rng) {
        let mut tcp = packet.tcp;
        tcp.payload = &packet.payload;
        let now = self.cx.now;
        if let Some((ip, reply)) = self.socket.process(&mut self.cx, &packet.ip, &tcp) {
            back.send(now, Packet::new(&ip, &reply), rng);
        }
        assert_eq!(self.socket.debug_invariants(), Ok(()));
    }

    fn poll_at(&self) -> Option<Instant> {
        match self.socket.poll_at(&self.cx) {
            PollAt::Now => Some(self.cx.now),
            PollAt::Time(t) => Some(t),
            PollAt::Ingress => None,
        }
    }
}

/// What one run measured.
#[derive(Debug)]
struct Outcome {
    elapsed: Duration,
    client: TcpStats,
    server: TcpStats,
}

/// Transfers `len` bytes each way over a 10 ms RTT, 100 Mbit/s path that
/// loses `loss_per_mille` of the packets each way; panics unless both
/// directions arrive byte for byte within `limit` of virtual time.
fn transfer(
    config: TcpConfig,
    len: usize,
    loss_per_mille: u64,
    seed: u64,
    limit: Duration,
) -> Outcome {
    let pattern =
        |salt: usize| -> Vec<u8> { (0..len).map(|i| ((i * 7 + salt) % 251) as u8).collect() };
    let mut client = End::new(config, 1, pattern(1));
    let mut server = End::new(config, 2, pattern(2));
    let link = |loss| Link {
        rate: 100_000_000 / 8,
        delay: Duration::from_millis(5),
        queue: 100,
        loss_per_mille: loss,
        busy_until: Instant::ZERO,
        in_flight: VecDeque::new(),
        dropped: 0,
    };
    let mut up = link(loss_per_mille);
    let mut down = link(loss_per_mille);
    let mut rng = Rng(seed | 1);

    server.socket.listen(SERVER.port).unwrap();
    client
        .socket
        .connect(&mut client.cx, SERVER, CLIENT)
        .unwrap();
    let mut now = Instant::ZERO;
    let end = Instant::ZERO + limit;
    loop {
        client.cx.now = now;
        server.cx.now = now;
        while let Some(p) = up.take_arrived(now) {
            server.deliver(p, &mut down, &mut rng);
        }
        while let Some(p) = down.take_arrived(now) {
            client.deliver(p, &mut up, &mut rng);
        }
        client.pump();
        server.pump();
        client.dispatch(&mut up, &mut rng);
        server.dispatch(&mut down, &mut rng);
        let done = client.received.len() == len
            && server.received.len() == len
            && client.socket.send_queue() == 0
            && server.socket.send_queue() == 0
            && client.sent == len
            && server.sent == len;
        if done {
            break;
        }
        let next = [
            up.next_arrival(),
            down.next_arrival(),
            client.poll_at(),
            server.poll_at(),
        ]
        .into_iter()
        .flatten()
        .min()
        .expect("something is pending while the transfer is unfinished");
        now = if next > now {
            next
        } else {
            now + Duration::from_micros(1)
        };
        assert!(
            now < end,
            "transfer at {loss_per_mille}/1000 loss not done in {limit:?}: client got {}, server got {} of {len}",
            client.received.len(),
            server.received.len()
        );
    }
    assert!(client.received == pattern(2), "client received exact bytes");
    assert!(server.received == pattern(1), "server received exact bytes");
    Outcome {
        elapsed: now - Instant::ZERO,
        client: client.cx.stats,
        server: server.cx.stats,
    }
}

fn lossy_config(sack: bool) -> TcpConfig {
    TcpConfig {
        sack,
        min_rto: Duration::from_millis(200),
        ..TcpConfig::default()
    }
}

/// Both directions at once, 1 %, 3 % and 10 % loss each way, with SACK
/// and without: byte-exact, and (the point of RACK-TLP) recovered mostly
/// without timeouts.
#[test]
fn lossy_transfers_complete_byte_exact() {
    for sack in [true, false] {
        for (loss, seed) in [(10, 7), (30, 11), (100, 13)] {
            let len = 400 * 1024;
            let out = transfer(
                lossy_config(sack),
                len,
                loss,
                seed,
                Duration::from_secs(600),
            );
            let rtos = out.client.rtos + out.server.rtos;
            let recoveries = out.client.fast_recoveries + out.server.fast_recoveries;
            let tlps = out.client.tlps_sent + out.server.tlps_sent;
            let retransmissions = out.client.retransmissions + out.server.retransmissions;
            println!(
                "sack={sack} loss={}% {:?}: rtos {rtos}, fast recoveries {recoveries}, tlps {tlps}, retransmissions {retransmissions}, undone {}",
                loss as f64 / 10.0,
                out.elapsed,
                out.client.spurious_undone + out.server.spurious_undone,
            );
            assert!(retransmissions > 0, "losses were repaired");
            assert!(recoveries > 0, "fast recovery repaired some");
            if !sack {
                assert_eq!(tlps, 0, "no TLP without SACK");
            }
        }
    }
}

/// Without loss the path is filled and nothing is resent.
#[test]
fn a_clean_transfer_retransmits_nothing() {
    let out = transfer(
        lossy_config(true),
        400 * 1024,
        0,
        3,
        Duration::from_secs(10),
    );
    assert_eq!(out.client.retransmissions + out.server.retransmissions, 0);
    assert_eq!(out.client.rtos + out.server.rtos, 0);
    assert_eq!(out.client.tlps_sent + out.server.tlps_sent, 0);
}
