//! The whole interface, fed frames, clock steps and application calls with
//! several connections open: a listener on port 80 and four established
//! connections (two with timestamps, SACK and window scaling), plus the
//! connections the input opens itself (accepted children, active opens).
//!
//! Most frames are built from the input with valid checksums and sequence
//! and acknowledgment numbers near what the connection expects
//! (RCV.NXT and SND.NXT plus a small offset), so inputs reach deep TCP
//! states (retransmission, SACK, zero windows, every close path, TIME_WAIT,
//! keep-alive and the user timeout) instead of dying at a checksum. Raw
//! frames are accepted too.
//!
//! Checks after every step: no panic; every socket's own invariants; every
//! traced transition is one the RFC 9293 diagram allows and starts where
//! the socket's last one ended; the listener keeps listening; and the data
//! an established connection delivers is exactly the peer's stream (every
//! peer segment carries `peer_byte(seq)` at sequence number `seq`), unless
//! a raw frame reached TCP.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use pollnet::socket::{AnySocket, SocketHandle};
use pollnet::socket::tcp::{SocketBuffer, State, TcpSocket, transition_allowed};
use pollnet::time::Duration;
use pollnet::wire::{
    IpAddress, IpEndpoint, SeqNumber, TcpFlags, TcpRepr, TcpSackRange, TcpTimestamp,
};
use pollnet_fuzz::world::{LISTEN_PORT, PEER_IP, World, peer_byte, segment_between};

/// Reads the input a byte or a word at a time (zeros past its end).
struct Input<'d>(&'d [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        taken
    }
}

/// A connection the peer side knows about.
struct Tracked {
    handle: SocketHandle,
    /// The peer's port and ours.
    peer_port: u16,
    our_port: u16,
    /// The peer's ISN, when known (the data check needs it).
    peer_isn: Option<u32>,
    /// Bytes the application read so far.
    read: u32,
    /// The peer's timestamp clock for this connection.
    tsval: u32,
}

struct Session {
    w: World,
    tracked: Vec<Tracked>,
    /// The state each socket's last transition ended in.
    states: BTreeMap<SocketHandle, State>,
    /// Whether a raw frame from the input reached TCP (the data check is
    /// off from then on: it could carry any bytes with a valid checksum).
    raw_reached_tcp: bool,
}

impl Session {
    fn new() -> Session {
        let w = World::new(4, 2048);
        let tracked = w
            .conns
            .iter()
            .map(|c| Tracked {
                handle: c.handle,
                peer_port: c.port,
                our_port: LISTEN_PORT,
                peer_isn: Some(c.peer_isn),
                read: 0,
                tsval: 2000,
            })
            .collect();
        let mut s = Session {
            w,
            tracked,
            states: BTreeMap::new(),
            raw_reached_tcp: false,
        };
        s.check();
        s
    }

    /// Polls until the interface is quiet (bounded), then checks.
    fn settle(&mut self) {
        for _ in 0..64 {
            if !self.w.poll() {
                break;
            }
        }
        // What the stack sent is not looked at; keep memory bounded.
        self.w.device.tx.clear();
        self.check();
    }

    fn check(&mut self) {
        while let Some(event) = self.w.sockets.pop_trace() {
            let t = event.transition;
            assert!(
                transition_allowed(&t),
                "{} {t} not in the diagram",
                event.subject()
            );
            // Compact records (half-open, TIME_WAIT) have no handle; a
            // socket's history continues where its last event ended.
            let Some(handle) = event.handle else {
                continue;
            };
            let last = self.states.get(&handle).copied();
            if self.w.sockets.trace_dropped() == 0 && last.is_some_and(|s| s != State::Closed) {
                assert_eq!(
                    Some(t.from),
                    last,
                    "{handle} {t} does not start where the last ended"
                );
            }
            self.states.insert(handle, t.to);
        }
        for (handle, socket) in self.w.sockets.iter() {
            let Some(socket) = TcpSocket::downcast(socket) else {
                continue;
            };
            if let Err(broken) = socket.debug_invariants() {
                panic!("{handle}: invariant broken: {broken}");
            }
        }
        let listener = self.w.sockets.get::<TcpSocket>(self.w.listener).map(|s| s.state());
        assert_eq!(
            listener,
            Some(State::Listen),
            "the listener keeps listening"
        );
    }

    fn pick(&self, input: &mut Input) -> Option<usize> {
        let n = self.tracked.len();
        (n > 0).then(|| usize::from(input.byte()) % n)
    }

    /// A segment from the peer on tracked connection `k`, its numbers near
    /// what the socket expects.
    fn peer_segment(&mut self, k: usize, input: &mut Input) {
        let control = input.byte();
        let shape = input.byte();
        let seq_offset = i32::from(input.u16() as i16) >> (shape & 7);
        let ack_offset = i32::from(input.byte() as i8);
        let len = usize::from(input.byte() % 200);
        let window = input.u16();
        let Some(socket) = self.w.sockets.get::<TcpSocket>(self.tracked[k].handle) else {
            return;
        };
        let (rcv_nxt, snd_nxt) = (socket.rcv_nxt(), socket.snd_nxt());
        let t = &mut self.tracked[k];
        let seq = rcv_nxt.0.wrapping_add(seq_offset as u32);
        let payload: Vec<u8> = (0..len as u32)
            .map(|i| peer_byte(seq.wrapping_add(i)))
            .collect();
        let mut flags = TcpFlags::empty();
        for (bit, flag) in [
            (0, TcpFlags::ACK),
            (1, TcpFlags::PSH),
            (2, TcpFlags::FIN),
            (3, TcpFlags::RST),
            (4, TcpFlags::SYN),
            (5, TcpFlags::URG),
        ] {
            // ACK on most segments; the rarer flags more rarely.
            let set = if bit == 0 {
                control & 1 == 0
            } else {
                control & (1 << bit) != 0 && (bit < 3 || control & 0xc0 == 0xc0)
            };
            if set {
                flags |= flag;
            }
        }
        t.tsval = t.tsval.wrapping_add(u32::from(shape >> 4));
        let timestamp = (shape & 0x08 != 0).then_some(TcpTimestamp {
            tsval: t.tsval,
            tsecr: 0,
        });
        let mut sack_ranges = [None; 4];
        if control & 0x40 != 0 && control & 0x80 == 0 {
            let left = snd_nxt.0.wrapping_sub(u32::from(input.u16()));
            sack_ranges[0] = Some(TcpSackRange {
                left: SeqNumber(left),
                right: SeqNumber(left.wrapping_add(u32::from(input.byte()) * 16)),
            });
        }
        let frame = segment_between(
            t.peer_port,
            t.our_port,
            TcpRepr {
                seq_number: SeqNumber(seq),
                ack_number: SeqNumber(snd_nxt.0.wrapping_add(ack_offset as u32)),
                flags,
                window_len: window,
                max_seg_size: flags.contains(TcpFlags::SYN).then_some(1460),
                timestamp,
                sack_ranges,
                payload: &payload,
                ..TcpRepr::default()
            },
        );
        self.w.device.rx.push_back(frame);
        self.settle();
    }

    /// Reads what connection `k` has and checks it against the peer's
    /// stream.
    fn read(&mut self, k: usize, max: usize) {
        let t = &mut self.tracked[k];
        let Some(socket) = self.w.sockets.get_mut::<TcpSocket>(t.handle) else {
            return;
        };
        let mut buf = vec![0u8; max];
        let Ok(n) = socket.recv_slice(&mut buf) else {
            return;
        };
        if let (Some(isn), false) = (t.peer_isn, self.raw_reached_tcp) {
            for (i, &byte) in buf[..n].iter().enumerate() {
                let seq = isn
                    .wrapping_add(1)
                    .wrapping_add(t.read)
                    .wrapping_add(i as u32);
                assert_eq!(
                    byte,
                    peer_byte(seq),
                    "byte {} of {}",
                    t.read as usize + i,
                    t.handle
                );
            }
        }
        t.read = t.read.wrapping_add(n as u32);
    }

    fn step(&mut self, input: &mut Input) {
        match input.byte() % 12 {
            // Peer segments are the most common step.
            0..=3 => {
                if let Some(k) = self.pick(input) {
                    self.peer_segment(k, input);
                }
            }
            4 => {
                // A raw frame.
                let len = usize::from(input.byte());
                let frame = input.bytes(len).to_vec();
                let before = self.w.iface.stats().tcp_segments_received;
                self.w.device.rx.push_back(frame);
                self.settle();
                self.raw_reached_tcp |= self.w.iface.stats().tcp_segments_received != before;
            }
            5 => {
                // Time passes: 1 ms to about 9 minutes, on a log scale.
                let b = input.byte();
                let ms = (u64::from(b & 15) + 1) << (b >> 4);
                self.w.now += Duration::from_millis(ms);
                self.settle();
            }
            6 => {
                if let Some(k) = self.pick(input) {
                    let n = usize::from(input.byte()) * 8;
                    if let Some(socket) = self.w.sockets.get_mut::<TcpSocket>(self.tracked[k].handle) {
                        let data: Vec<u8> = (0..n).map(|i| i as u8).collect();
                        let _ = socket.send_slice(&data);
                    }
                    self.settle();
                }
            }
            7 => {
                if let Some(k) = self.pick(input) {
                    let max = usize::from(input.byte()) + 1;
                    self.read(k, max);
                    self.settle();
                }
            }
            8 => {
                if let Some(k) = self.pick(input) {
                    let how = input.byte();
                    if let Some(socket) = self.w.sockets.get_mut::<TcpSocket>(self.tracked[k].handle) {
                        match how % 3 {
                            0 => socket.close(),
                            1 => socket.shutdown(),
                            _ => socket.abort(),
                        }
                    }
                    self.settle();
                }
            }
            9 => {
                // Accept what the listener has (children the input opened
                // with SYNs); their peer ISN is not known.
                while let Some(handle) = self.w.sockets.accept(self.w.listener) {
                    let Some(remote) = self.w.sockets.get::<TcpSocket>(handle).and_then(|s| s.remote_endpoint())
                    else {
                        continue;
                    };
                    self.tracked.push(Tracked {
                        handle,
                        peer_port: remote.port,
                        our_port: LISTEN_PORT,
                        peer_isn: None,
                        read: 0,
                        tsval: 5000,
                    });
                }
                self.settle();
            }
            10 => {
                // An active open to the peer (the stack knows its MAC from
                // the handshakes).
                let port = 1 + input.u16() % 1024;
                let buffers = || SocketBuffer::new(vec![0u8; 1024]);
                let Ok(handle) = self.w.sockets.add(TcpSocket::new(buffers(), buffers())) else {
                    return;
                };
                let remote = IpEndpoint::new(IpAddress::Ipv4(PEER_IP), port);
                match self
                    .w
                    .iface
                    .connect(&mut self.w.sockets, handle, remote, self.w.now)
                {
                    Ok(local) => self.tracked.push(Tracked {
                        handle,
                        peer_port: port,
                        our_port: local.port,
                        peer_isn: None,
                        read: 0,
                        tsval: 7000,
                    }),
                    Err(_) => {
                        self.w.sockets.remove(handle);
                    }
                }
                self.settle();
            }
            _ => {
                // Read everything everywhere.
                for k in 0..self.tracked.len() {
                    self.read(k, 4096);
                }
                self.settle();
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut session = Session::new();
    let mut input = Input(data);
    let mut steps = 0;
    while !input.0.is_empty() && steps < 512 {
        session.step(&mut input);
        steps += 1;
    }
});
