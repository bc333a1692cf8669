//! One TCP socket driven by arbitrary sequences of peer segments, user
//! calls, clock advances and ICMP errors (the `tcp_socket_events` fuzz
//! target; tests/fuzz_corpus.rs runs its seeds through [`run`] too),
//! checking after every event:
//! - no panic;
//! - the socket's own invariants (SND.UNA <= SND.NXT <= SND.MAX, the tx
//!   buffer covering the unacknowledged data, ...);
//! - every transition is one the RFC 9293 diagram allows, and each starts
//!   where the previous one ended;
//! - data is delivered in order and never beyond what the peer sent: the
//!   peer's byte at sequence number `s` is always `peer_byte(s)`, so the
//!   n-th byte read must be `peer_byte(IRS + 1 + n)`;
//! - ECN (RFC 3168): peer segments may carry ECE, CWR and a CE mark; ours
//!   are ECT(0) only with data, never SYNs, and carry nothing when ECN is
//!   off;
//! - SACK (RFC 2018, RFC 2883): peer segments may carry SACK blocks near
//!   the socket's send sequence space; the socket's own SACK blocks appear
//!   only when SACK was negotiated, are well formed and never claim data
//!   the peer did not send, and all but a D-SACK first block lie above
//!   RCV.NXT, disjoint; a D-SACK block below RCV.NXT lies within the
//!   stream.
use pollnet::socket::Context;
use pollnet::socket::tcp::{
    EcnMode, IcmpError, IsnGenerator, SocketBuffer, State, TcpConfig, TcpSocket, transition_allowed,
};
use pollnet::time::{Duration, Instant};
use pollnet::wire::{
    IpAddress, IpEcn, IpEndpoint, IpProtocol, IpRepr, SeqNumber, TcpFlags, TcpRepr, TcpSackRange,
    TcpTimestamp,
};

const LOCAL: IpEndpoint = IpEndpoint::new(IpAddress::v4(10, 0, 0, 1), 80);
const REMOTE: IpEndpoint = IpEndpoint::new(IpAddress::v4(10, 0, 0, 2), 40000);

/// The peer's byte at sequence number `seq`.
fn peer_byte(seq: u32) -> u8 {
    (seq.wrapping_mul(0x9e37_79b9) >> 24) as u8
}

/// Reads the fuzz input a byte or a word at a time (zeros past its end).
struct Input<'d> {
    data: &'d [u8],
}

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// What the checker knows of the connection.
struct Checker {
    /// The state at the end of the last transition seen.
    state: State,
    /// Bytes of the current connection's stream read so far, and its IRS.
    read: u32,
    irs: Option<SeqNumber>,
    /// The highest sequence number (exclusive) the peer sent data up to,
    /// relative to IRS + 1, for the current IRS.
    peer_sent_end: u32,
    /// A SYN of the peer's offered SACK-permitted in this connection and
    /// our config allows SACK: only then may our segments carry SACK blocks.
    sack_allowed: bool,
    /// A connection reached ESTABLISHED.
    established: bool,
}

/// What a run reached (the seed corpus test checks its seeds with it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// A connection reached ESTABLISHED.
    pub established: bool,
    /// SACK blocks our segments carried (D-SACK blocks included).
    pub sack_blocks_sent: usize,
    /// D-SACK blocks our segments carried (RFC 2883).
    pub dsack_blocks_sent: usize,
    /// Peer segments carrying SACK blocks processed while synchronized.
    pub sack_segments_received: usize,
}

/// Checks the SACK blocks of a segment we send when RCV.NXT is `rcv_nxt`
/// (RFC 2018 sections 3-4, RFC 2883 section 4) and counts them.
fn check_sack(repr: &TcpRepr, rcv_nxt: SeqNumber, checker: &Checker, outcome: &mut Outcome) {
    let mut blocks = [TcpSackRange::default(); 4];
    let mut count = 0;
    for range in repr.sack_ranges.iter().flatten() {
        blocks[count] = *range;
        count += 1;
    }
    let blocks = &blocks[..count];
    if blocks.is_empty() {
        return;
    }
    assert!(checker.sack_allowed, "SACK blocks without SACK negotiated");
    assert!(repr.ack().is_some() && !repr.syn() && !repr.rst());
    assert!(
        blocks.iter().all(|b| b.left < b.right),
        "empty block {blocks:?}"
    );
    let limit = if repr.timestamp.is_some() { 3 } else { 4 };
    assert!(
        blocks.len() <= limit,
        "{} blocks beside timestamps",
        blocks.len()
    );
    let first = blocks[0];
    let dsack = first.left < rcv_nxt
        || blocks
            .get(1)
            .is_some_and(|b| b.left <= first.left && first.right <= b.right);
    let irs = checker.irs.expect("SACK blocks only once synchronized");
    let relative = |s: SeqNumber| s.0.wrapping_sub(irs.0.wrapping_add(1));
    if dsack {
        outcome.dsack_blocks_sent += 1;
        if first.left < rcv_nxt {
            assert!(first.right <= rcv_nxt, "D-SACK {first:?} straddles RCV.NXT");
            assert!(relative(first.left) < 1 << 30, "D-SACK before the stream");
        }
    }
    let held = &blocks[usize::from(dsack)..];
    for (i, block) in held.iter().enumerate() {
        assert!(
            block.left > rcv_nxt,
            "block {block:?} not above RCV.NXT {rcv_nxt}"
        );
        for other in &held[i + 1..] {
            assert!(
                block.right < other.left || other.right < block.left,
                "blocks {block:?} and {other:?} overlap or touch"
            );
        }
    }
    for block in blocks {
        let end = relative(block.right);
        assert!(
            end < 1 << 30 && end <= checker.peer_sent_end,
            "block {block:?} claims data the peer never sent"
        );
    }
    outcome.sack_blocks_sent += blocks.len();
}

fn ip_in(len: usize, ecn: IpEcn) -> IpRepr {
    IpRepr {
        src_addr: REMOTE.addr,
        dst_addr: LOCAL.addr,
        next_header: IpProtocol::Tcp,
        payload_len: 20 + len,
        hop_limit: 64,
        ecn,
    }
}

/// Checks the ECN marks of a segment we send (RFC 3168 section 6.1): a
/// SYN may carry ECE (and CWR in a SYN without ACK) only if ECN is not
/// off, and is never ECN-capable; ECT(0) only on segments with data, and
/// nothing ECN-related at all when ECN is off.
fn check_ecn(ip: &IpRepr, repr: &TcpRepr, mode: EcnMode) {
    let marks = repr.flags & (TcpFlags::ECE | TcpFlags::CWR);
    assert!(
        ip.ecn == IpEcn::NotEct || ip.ecn == IpEcn::Ect0,
        "{:?}",
        ip.ecn
    );
    if mode == EcnMode::Off {
        assert!(
            marks.is_empty() && ip.ecn == IpEcn::NotEct,
            "ECN while off: {repr}"
        );
    }
    if repr.syn() {
        assert_eq!(ip.ecn, IpEcn::NotEct, "an ECN-capable SYN");
        if repr.ack().is_some() {
            assert!(!repr.flags.contains(TcpFlags::CWR), "CWR in a SYN-ACK");
        } else if !marks.is_empty() {
            assert_eq!(mode, EcnMode::Request, "ECN-setup SYN without Request");
        }
    }
    if ip.ecn == IpEcn::Ect0 {
        assert!(!repr.payload.is_empty(), "ECT(0) without data: {repr}");
    }
    if repr.rst() {
        assert!(marks.is_empty() && ip.ecn == IpEcn::NotEct);
    }
}

fn check(socket: &mut TcpSocket, checker: &mut Checker) {
    if let Err(broken) = socket.debug_invariants() {
        panic!("invariant broken: {broken}");
    }
    while let Some(t) = socket.pop_transition() {
        assert!(transition_allowed(&t), "transition {t} not in the diagram");
        assert_eq!(
            t.from, checker.state,
            "transition {t} does not start where the last ended"
        );
        checker.state = t.to;
        if matches!(t.to, State::SynSent | State::SynRcvd) && t.from != State::SynSent {
            // A new connection: a new stream (LISTEN and CONNECT start
            // with an empty receive buffer).
            checker.irs = None;
            checker.read = 0;
            checker.peer_sent_end = 0;
            checker.sack_allowed = false;
        }
        if t.to == State::Established {
            checker.established = true;
        }
    }
    assert_eq!(socket.transitions_dropped(), 0);
    assert_eq!(checker.state, socket.state());
}

/// Runs one input; panics when a property fails.
pub fn run(data: &[u8]) -> Outcome {
    let mut input = Input { data };
    let mut rx_storage = [0u8; 2048];
    let mut tx_storage = [0u8; 2048];
    let rx_len = 64 + usize::from(input.u16()) % 1984;
    let tx_len = 64 + usize::from(input.u16()) % 1984;
    let mut socket = TcpSocket::new(
        SocketBuffer::new(&mut rx_storage[..rx_len]),
        SocketBuffer::new(&mut tx_storage[..tx_len]),
    );
    let flags = input.byte();
    let mut config = TcpConfig::default();
    config.timestamps = flags & 1 != 0;
    config.window_scaling = flags & 2 != 0;
    config.sack = flags & 4 != 0;
    config.insecure_rst = flags & 8 != 0;
    config.insecure_syn = flags & 16 != 0;
    config.nagle = flags & 32 != 0;
    config.ack_delay = (flags & 64 != 0).then(|| Duration::from_millis(100));
    let limits = input.byte();
    config.max_ooo_holes = 1 + usize::from(limits % 8);
    config.ecn = match (limits >> 3) % 3 {
        0 => EcnMode::Accept,
        1 => EcnMode::Request,
        _ => EcnMode::Off,
    };
    config.keepalive_idle = (flags & 128 != 0).then(|| Duration::from_secs(10));
    config.keepalive_interval = Duration::from_secs(2);
    config.keepalive_count = 3;
    socket.set_config(config);
    let mut cx = Context::new(Instant::ZERO, IsnGenerator::new([3; 16]));
    cx.ip_mtu = 576 + usize::from(input.u16()) % 1000;
    let mut checker = Checker {
        state: State::Closed,
        read: 0,
        irs: None,
        peer_sent_end: 0,
        sack_allowed: false,
        established: false,
    };
    let mut outcome = Outcome::default();
    let mut peer_ts = 1u32;
    let mut steps = 0;
    while !input.is_empty() && steps < 512 {
        steps += 1;
        match input.byte() % 12 {
            0..=2 => {
                // A segment from the peer, near the socket's own numbers.
                let seqs = socket.debug_sequence();
                let control = input.byte();
                let mut flags = TcpFlags::empty();
                for (bit, flag) in [
                    (1, TcpFlags::SYN),
                    (2, TcpFlags::ACK),
                    (4, TcpFlags::FIN),
                    (8, TcpFlags::RST),
                    (16, TcpFlags::PSH),
                    (32, TcpFlags::ECE),
                    (64, TcpFlags::CWR),
                ] {
                    if control & bit != 0 {
                        flags |= flag;
                    }
                }
                let seq = match input.byte() % 4 {
                    0 => seqs.rcv_nxt,
                    1 => SeqNumber(seqs.rcv_nxt.0.wrapping_add(u32::from(input.u16()))),
                    2 => SeqNumber(seqs.rcv_nxt.0.wrapping_sub(u32::from(input.byte()))),
                    _ => SeqNumber(input.u32()),
                };
                let ack = match input.byte() % 4 {
                    0 => seqs.snd_nxt,
                    1 => seqs.snd_una,
                    2 => SeqNumber(seqs.snd_una.0.wrapping_add(u32::from(input.byte()))),
                    _ => SeqNumber(input.u32()),
                };
                let len = usize::from(input.u16()) % 1600;
                let mut payload = [0u8; 1600];
                let first = seq.0.wrapping_add(u32::from(flags.contains(TcpFlags::SYN)));
                for (i, byte) in payload[..len].iter_mut().enumerate() {
                    *byte = peer_byte(first.wrapping_add(i as u32));
                }
                let options = input.byte();
                if options & 0x80 != 0 {
                    peer_ts = peer_ts.wrapping_add(u32::from(input.byte()));
                }
                let mut repr = TcpRepr {
                    src_port: REMOTE.port,
                    dst_port: LOCAL.port,
                    seq_number: seq,
                    flags,
                    window_len: input.u16(),
                    max_seg_size: (options & 1 != 0).then(|| input.u16()),
                    window_scale: (options & 2 != 0).then(|| input.byte() % 16),
                    sack_permitted: options & 4 != 0,
                    timestamp: (options & 8 != 0).then(|| TcpTimestamp {
                        tsval: peer_ts.wrapping_sub(u32::from(options & 0x10)),
                        tsecr: input.u32(),
                    }),
                    payload: &payload[..len],
                    ..TcpRepr::default()
                };
                if flags.contains(TcpFlags::ACK) {
                    repr.ack_number = ack;
                }
                if options & 0x20 != 0 {
                    // SACK blocks (RFC 2018) near our send sequence space:
                    // inside or past what was sent, empty or inverted too.
                    let count = 1 + usize::from(input.byte() % 4);
                    for slot in repr.sack_ranges.iter_mut().take(count) {
                        let left = seqs.snd_una.0.wrapping_add(u32::from(input.u16()));
                        let right = left.wrapping_add(u32::from(input.u16() % 4096));
                        *slot = Some(TcpSackRange {
                            left: SeqNumber(left),
                            right: SeqNumber(right),
                        });
                    }
                    if socket.state().is_synchronized() {
                        outcome.sack_segments_received += 1;
                    }
                }
                // The top control bit: the network marked it CE.
                let ecn = if control & 128 != 0 {
                    IpEcn::Ce
                } else {
                    IpEcn::NotEct
                };
                let reply = socket.process(&mut cx, &ip_in(len, ecn), &repr);
                // Transitions first: a new connection resets the stream.
                check(&mut socket, &mut checker);
                if repr.syn() && repr.sack_permitted && config.sack {
                    checker.sack_allowed = true;
                }
                // Note how far the peer's stream goes for the current IRS.
                if checker.irs.is_none()
                    && !matches!(
                        socket.state(),
                        State::Closed | State::Listen | State::SynSent
                    )
                {
                    checker.irs = Some(socket.debug_sequence().irs);
                }
                if let Some(irs) = checker.irs {
                    let end = first
                        .wrapping_add(len as u32)
                        .wrapping_sub(irs.0.wrapping_add(1));
                    if end < 1 << 30 && end > checker.peer_sent_end {
                        checker.peer_sent_end = end;
                    }
                }
                if let Some((ip, reply)) = reply {
                    let rcv_nxt = socket.debug_sequence().rcv_nxt;
                    check_sack(&reply, rcv_nxt, &checker, &mut outcome);
                    check_ecn(&ip, &reply, config.ecn);
                    assert!(reply.payload.is_empty());
                    assert!(!(reply.rst() && repr.rst()), "a RST answered a RST");
                    assert_eq!(ip.payload_len, reply.buffer_len());
                }
            }
            3 => {
                let len = usize::from(input.u16()) % 3000;
                let data = [0xa5u8; 3000];
                let _ = socket.send_slice(&data[..len]);
            }
            4 => {
                let mut buf = [0u8; 512];
                let want = usize::from(input.u16()) % 512;
                if let Ok(n) = socket.recv_slice(&mut buf[..want]) {
                    let irs = match checker.irs {
                        Some(irs) => irs,
                        None => {
                            assert_eq!(n, 0, "data read before any connection");
                            SeqNumber(0)
                        }
                    };
                    for &byte in &buf[..n] {
                        let expected = peer_byte(irs.0.wrapping_add(1).wrapping_add(checker.read));
                        assert_eq!(byte, expected, "byte {} of the stream", checker.read);
                        checker.read += 1;
                    }
                    assert!(
                        checker.read <= checker.peer_sent_end,
                        "read past what was sent"
                    );
                }
            }
            5 => socket.close(),
            6 => socket.shutdown(),
            7 => socket.abort(),
            8 => {
                if input.byte() & 1 == 0 {
                    let _ = socket.listen(LOCAL.port);
                } else {
                    socket.set_next_isn(SeqNumber(input.u32()));
                    let _ = socket.connect(&mut cx, REMOTE, LOCAL);
                }
            }
            9 => {
                let step = match input.byte() % 4 {
                    0 => Duration::from_millis(u64::from(input.byte())),
                    1 => Duration::from_millis(u64::from(input.u16())),
                    2 => Duration::from_secs(u64::from(input.u16())),
                    _ => Duration::ZERO,
                };
                cx.now += step;
            }
            10 => {
                let quoted = SeqNumber(
                    socket
                        .debug_sequence()
                        .snd_una
                        .0
                        .wrapping_add(u32::from(input.byte() % 4)),
                );
                let error = match input.byte() % 3 {
                    0 => IcmpError::HardUnreachable,
                    1 => IcmpError::SoftUnreachable,
                    _ => IcmpError::FragmentationNeeded { mtu: input.u16() },
                };
                socket.on_icmp_error(&mut cx, quoted, error);
            }
            _ => {}
        }
        check(&mut socket, &mut checker);
        // The interface's loop: dispatch until nothing is due.
        let mut emitted = 0;
        loop {
            let rcv_nxt = socket.debug_sequence().rcv_nxt;
            let sent = socket
                .dispatch(&mut cx, |_, (ip, repr)| {
                    assert_eq!(ip.payload_len, repr.buffer_len());
                    check_sack(&repr, rcv_nxt, &checker, &mut outcome);
                    check_ecn(&ip, &repr, config.ecn);
                    Ok::<(), ()>(())
                })
                .unwrap_or(false);
            if !sent {
                break;
            }
            emitted += 1;
            assert!(emitted < 1000, "dispatch never stops");
        }
        check(&mut socket, &mut checker);
        // Whatever poll_at promises, nothing is due before it.
        if let pollnet::socket::PollAt::Time(t) = socket.poll_at(&cx) {
            assert!(t > cx.now, "a past deadline must be Now");
        }
    }
    outcome.established = checker.established;
    outcome
}
