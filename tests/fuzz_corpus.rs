//! The seed corpora of the fuzz targets are made here: `tcp_segment`'s
//! (fuzz/corpus/tcp_segment) from real Linux frames, with the fuzz property
//! checked on the seeds and on a few thousand damaged copies of them, so CI
//! runs it even where cargo-fuzz is not installed; `iface_ingress`'s and
//! `iface_session`'s from frames built with the wire layer for the targets'
//! own interface (tests that the seeds reach the states they are for);
//! `tcp_socket_events`'s in that target's input language, run through its
//! property checks here. A missing seed file is written (then checked in);
//! a stale one fails.

#[path = "../fuzz/src/roundtrip.rs"]
mod roundtrip;
#[path = "../fuzz/src/socket_events.rs"]
mod socket_events;
#[path = "../fuzz/src/world.rs"]
#[allow(dead_code)]
mod world;

use std::path::Path;

use pollnet::socket::AnySocket;
use pollnet::socket::tcp::{State, TcpSocket};
use pollnet::wire::{ArpOperation, SeqNumber, TcpFlags};
use roundtrip::{Reached, check_frame};
use world::{World, ingress_input, simple_segment};

/// The frames of a little-endian microsecond pcap file.
fn pcap_frames(file: &[u8]) -> Vec<Vec<u8>> {
    assert_eq!(&file[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "little-endian pcap");
    let mut frames = Vec::new();
    let mut rest = &file[24..];
    while rest.len() >= 16 {
        let caplen = u32::from_le_bytes([rest[8], rest[9], rest[10], rest[11]]) as usize;
        frames.push(rest[16..16 + caplen].to_vec());
        rest = &rest[16 + caplen..];
    }
    frames
}

fn frame(capture: &str, number: usize) -> Vec<u8> {
    let file = std::fs::read(Path::new("tests/data").join(capture)).unwrap();
    pcap_frames(&file).swap_remove(number - 1)
}

/// (file name, frame): SYNs with options, data, SACK ACKs, FIN, and an ARP
/// and ICMP frame for the other paths.
fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("syn-ecn-mss-sackok-ts-ws", frame("linux-transfer.pcap", 2)),
        ("synack-ece", frame("linux-transfer.pcap", 3)),
        ("syn-mss-sackok-ws", frame("linux-no-timestamps.pcap", 1)),
        ("syn-mss-ts", frame("linux-no-sack.pcap", 1)),
        ("data-15-ts", frame("linux-no-sack.pcap", 4)),
        ("data-1448-ts", frame("linux-transfer.pcap", 5)),
        ("ack-sack3-ts", frame("linux-transfer.pcap", 27)),
        ("ack-sack4", frame("linux-no-timestamps.pcap", 25)),
        ("fin-ack-ts", frame("linux-no-sack.pcap", 8)),
    ]
}

#[test]
fn seed_corpus_is_current_and_exercises_the_property() {
    let dir = Path::new("fuzz/corpus/tcp_segment");
    std::fs::create_dir_all(dir).unwrap();
    for (name, bytes) in seeds() {
        // Every seed parses with every checksum verified and round-trips.
        assert_eq!(check_frame(&bytes), Reached::TcpVerified, "{name}");
        let path = dir.join(name);
        match std::fs::read(&path) {
            Ok(existing) => assert_eq!(existing, bytes, "{} is stale", path.display()),
            // The first run writes the corpus; it is checked in.
            Err(_) => std::fs::write(&path, &bytes).unwrap(),
        }
    }
}

/// xorshift64*: deterministic damage.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[test]
fn property_holds_on_damaged_seeds() {
    let seeds = seeds();
    let mut rng = Rng(0x5eed_f022);
    let (mut verified, mut unverified) = (0, 0);
    for round in 0..20_000 {
        let mut bytes = seeds[round % seeds.len()].1.clone();
        // Damage the headers (the first 14 + 20 + 60 bytes) most of the time.
        for _ in 0..1 + rng.next() % 4 {
            let span = bytes.len().min(94);
            let at = (rng.next() as usize) % span;
            bytes[at] = rng.next() as u8;
        }
        if rng.next() % 8 == 0 {
            let keep = (rng.next() as usize) % (bytes.len() + 1);
            bytes.truncate(keep);
        }
        match check_frame(&bytes) {
            Reached::TcpVerified => verified += 1,
            Reached::TcpUnverified => unverified += 1,
            _ => {}
        }
    }
    // Damage to fields the checksums do not cover (Ethernet, or bytes that
    // keep the sum) still verifies; most damage reaches TCP unverified.
    assert!(verified > 500, "{verified} verified");
    assert!(unverified > 5000, "{unverified} unverified");
}

/// Writes the seeds of `target` that are missing and fails on stale ones.
fn check_corpus(target: &str, seeds: &[(&str, Vec<u8>)]) {
    let dir = Path::new("fuzz/corpus").join(target);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, bytes) in seeds {
        let path = dir.join(name);
        match std::fs::read(&path) {
            Ok(existing) => assert_eq!(&existing, bytes, "{} is stale", path.display()),
            Err(_) => std::fs::write(&path, bytes).unwrap(),
        }
    }
}

/// Frames fed to a fresh `iface_ingress` world one by one, as the target
/// does; `next` builds each frame from the world's state so far (e.g. the
/// ISN of a SYN-ACK it sent). Returns the seed and the world after it.
fn ingress_seed(mut next: impl FnMut(&World, usize) -> Option<Vec<u8>>) -> (Vec<u8>, World) {
    let mut w = World::new(1, 4096).with_datagram_sockets();
    let mut frames = Vec::new();
    while let Some(frame) = next(&w, frames.len()) {
        assert!(frame.len() <= 255, "a seed frame fits its length byte");
        frames.push(frame.clone());
        w.receive(frame);
    }
    (ingress_input(&frames), w)
}

#[test]
fn iface_ingress_seeds_reach_arp_icmp_udp_and_every_tcp_path() {
    let mut seeds = Vec::new();
    let stats_of = |w: &World| w.iface.stats();

    // ARP: a request for our address is answered; a reply is taken.
    let (seed, w) = ingress_seed(|_, i| (i == 0).then(|| world::arp(ArpOperation::Request)));
    assert_eq!(stats_of(&w).arp_replies_sent, 1);
    seeds.push(("arp-request", seed));
    let (seed, _) = ingress_seed(|_, i| (i == 0).then(|| world::arp(ArpOperation::Reply)));
    seeds.push(("arp-reply", seed));

    // ICMP echo.
    let (seed, w) =
        ingress_seed(|_, i| (i == 0).then(|| world::echo_request(7, 1, b"ping from the peer")));
    assert_eq!(stats_of(&w).icmp_echo_replies, 1);
    seeds.push(("icmp-echo", seed));

    // A new connection with every option, completed.
    let (seed, w) = ingress_seed(|w, i| match i {
        0 => Some(world::full_syn(40100, 7_000_000)),
        1 => {
            let iss = world::our_isn(&w.device.tx, 40100).expect("a SYN-ACK");
            Some(world::peer_segment(
                40100,
                pollnet::wire::TcpRepr {
                    seq_number: SeqNumber(7_000_001),
                    ack_number: iss + 1,
                    flags: TcpFlags::ACK,
                    window_len: 502,
                    timestamp: Some(pollnet::wire::TcpTimestamp {
                        tsval: 1001,
                        tsecr: 0,
                    }),
                    ..Default::default()
                },
            ))
        }
        _ => None,
    });
    let established = w
        .sockets
        .iter()
        .filter_map(|(_, s)| TcpSocket::downcast(s))
        .filter(|s| s.state() == State::Established)
        .count();
    assert_eq!(established, 2, "the seed's connection completed");
    seeds.push(("syn-options-ack", seed));

    // A SYN to a closed port draws a RST.
    let (seed, w) = ingress_seed(|_, i| {
        (i == 0).then(|| {
            world::segment_between(
                40200,
                81,
                pollnet::wire::TcpRepr {
                    seq_number: SeqNumber(1),
                    flags: TcpFlags::SYN,
                    window_len: 1024,
                    ..Default::default()
                },
            )
        })
    });
    assert_eq!(stats_of(&w).tcp_rsts_sent, 1);
    seeds.push(("syn-closed-port", seed));

    // Data on the established connection, out of order then in order,
    // then the peer's FIN.
    let data = |w: &World, offset: u32, flags: TcpFlags, payload: &[u8]| {
        let c = w.conns[0];
        simple_segment(
            c.port,
            c.peer_isn.wrapping_add(1 + offset),
            c.iss + 1,
            flags,
            payload,
        )
    };
    let (seed, w) = ingress_seed(|w, i| match i {
        0 => Some(data(w, 100, TcpFlags::ACK | TcpFlags::PSH, &[b'b'; 100])),
        1 => Some(data(w, 0, TcpFlags::ACK | TcpFlags::PSH, &[b'a'; 100])),
        2 => Some(data(w, 200, TcpFlags::ACK | TcpFlags::FIN, &[])),
        _ => None,
    });
    let socket = w.sockets.get::<TcpSocket>(w.conns[0].handle).unwrap();
    assert_eq!(socket.state(), State::CloseWait);
    assert_eq!(socket.recv_queue(), 200);
    seeds.push(("data-ooo-fin", seed));

    // A RST at RCV.NXT ends the connection.
    let (seed, w) = ingress_seed(|w, i| (i == 0).then(|| data(w, 0, TcpFlags::RST, &[])));
    assert_eq!(
        w.sockets
            .get::<TcpSocket>(w.conns[0].handle)
            .unwrap()
            .state(),
        State::Closed
    );
    seeds.push(("rst", seed));

    // A real captured frame for another host (dropped as not ours).
    let (seed, w) = ingress_seed(|_, i| (i == 0).then(|| frame("linux-no-sack.pcap", 1)));
    assert_eq!(stats_of(&w).rx_drop_not_for_us, 1);
    seeds.push(("foreign-syn", seed));

    // UDP: to the socket (with a checksum, and with none), a bad checksum,
    // a closed port (a port unreachable goes back), a broadcast.
    let to_socket =
        |data: &[u8], zero| world::udp_datagram(world::OUR_IP, 5000, world::UDP_PORT, data, zero);
    let (seed, w) = ingress_seed(|_, i| match i {
        0 => Some(to_socket(b"a query", false)),
        1 => Some(to_socket(b"no checksum", true)),
        _ => None,
    });
    assert_eq!(stats_of(&w).udp_datagrams_received, 2);
    seeds.push(("udp-to-socket", seed));
    let (seed, w) = ingress_seed(|_, i| {
        (i == 0).then(|| {
            let mut frame = to_socket(b"damaged", false);
            frame[14 + 20 + 6] ^= 0x55;
            frame
        })
    });
    assert_eq!(stats_of(&w).rx_drop_udp_checksum, 1);
    seeds.push(("udp-bad-checksum", seed));
    let (seed, w) = ingress_seed(|_, i| {
        (i == 0).then(|| world::udp_datagram(world::OUR_IP, 5000, 9, b"closed", false))
    });
    assert_eq!(stats_of(&w).icmp_port_unreachable_sent, 1);
    seeds.push(("udp-closed-port", seed));
    let (seed, w) = ingress_seed(|_, i| {
        (i == 0).then(|| {
            world::udp_datagram(
                pollnet::wire::Ipv4Address::BROADCAST,
                68,
                world::UDP_PORT,
                b"broadcast",
                false,
            )
        })
    });
    assert_eq!(stats_of(&w).udp_datagrams_received, 1);
    seeds.push(("udp-broadcast", seed));

    // ICMP echo: the reply to the world's request; an error quoting a
    // datagram the UDP socket sent.
    let (seed, w) = ingress_seed(|_, i| {
        (i == 0).then(|| world::echo_reply(world::ECHO_IDENT, 1, b"fuzz ping"))
    });
    assert_eq!(stats_of(&w).icmp_echo_replies_received, 1);
    seeds.push(("icmp-echo-reply", seed));
    let mut w = World::new(1, 4096).with_datagram_sockets();
    let udp = w.udp.unwrap();
    w.sockets
        .get_mut::<pollnet::socket::udp::UdpSocket>(udp)
        .unwrap()
        .send_to(
            b"to a closed port",
            pollnet::wire::IpEndpoint::new(pollnet::wire::IpAddress::Ipv4(world::PEER_IP), 9),
        )
        .unwrap();
    w.poll();
    let sent = w.device.tx.last().unwrap().clone();
    let (seed, w) = ingress_seed(|_, i| {
        (i == 0).then(|| {
            world::icmp_error_about(pollnet::wire::Icmpv4DstUnreachable::PortUnreachable, &sent)
        })
    });
    assert_eq!(stats_of(&w).icmp_errors_to_sockets, 1);
    seeds.push(("icmp-port-unreachable-udp", seed));

    check_corpus("iface_ingress", &seeds);
}

/// `iface_session` inputs: steps of the target's little language (see
/// fuzz/fuzz_targets/iface_session.rs): a segment on connection k is
/// `[0, k, control, shape, seq_lo, seq_hi, ack, len, win_lo, win_hi]`, time
/// is `[5, b]` (`(b & 15) + 1 << (b >> 4)` ms), a send `[6, k, n/8]`, a read
/// `[7, k, max-1]`, a close `[8, k, 0]` (1: shutdown, 2: abort), accept
/// `[9]`, connect `[10, port_lo, port_hi]`, read all `[11]`.
#[test]
fn iface_session_seeds_are_current() {
    let segment =
        |k: u8, control: u8, shape: u8, len: u8| [0, k, control, shape, 0, 0, 0, len, 0x00, 0x20];
    let mut data_close = Vec::new();
    data_close.extend(segment(0, 0x02, 0, 100)); // ACK|PSH, 100 bytes
    data_close.extend([7, 0, 255]); // read
    data_close.extend([6, 0, 50]); // send 400 bytes
    data_close.extend(segment(0, 0x04, 0, 0)); // ACK|FIN
    data_close.extend([8, 0, 0]); // close: LAST_ACK
    data_close.extend([5, 0x30]); // 8 ms
    data_close.extend(segment(0, 0x00, 0, 0)); // the final ACK

    let mut sack_ts = Vec::new();
    sack_ts.extend([6, 1, 200]); // 1600 bytes on the timestamp connection
    sack_ts.extend([5, 0x40]); // 16 ms
    // ACK with a SACK block and a timestamp.
    sack_ts.extend([0, 1, 0x40, 0x18, 0, 0, 0, 0, 0x00, 0x20, 0x40, 0x02, 0x20]);
    sack_ts.extend([5, 0x80, 5, 0xa0, 5, 0xc0]); // retransmission timeouts

    let mut active_close = Vec::new();
    active_close.extend([8, 2, 0]); // close: FIN_WAIT_1
    active_close.extend(segment(2, 0x00, 0, 0)); // ACK: FIN_WAIT_2
    active_close.extend(segment(2, 0x04, 0, 0)); // FIN: TIME_WAIT
    active_close.extend([5, 0xf0, 5, 0xf8, 5, 0xff]); // 2*MSL passes

    let mut opens = Vec::new();
    opens.extend([10, 0x50, 0x00]); // connect to port 80 of the peer
    opens.extend([5, 0x00, 5, 0x90, 5, 0xb0]); // SYN retransmissions
    opens.extend([8, 3, 1]); // shutdown
    opens.extend([5, 0xe0, 5, 0xf0, 11]); // keep-alive range, read all
    opens.extend([9]);

    check_corpus(
        "iface_session",
        &[
            ("data-close", data_close),
            ("sack-ts-rto", sack_ts),
            ("active-close-time-wait", active_close),
            ("connect-shutdown-timers", opens),
        ],
    );
}

/// `tcp_socket_events` inputs, in the target's language (see
/// fuzz/src/socket_events.rs): a header (rx and tx buffer sizes, config
/// flags, hole limit, MTU), then steps. A peer segment is `[0, control,
/// seq selector (+ its operand), ack selector (+ its operand), len (u16),
/// options, window (u16), the options' operands, SACK blocks if options
/// has 0x20 (count - 1, then u16 left offset from SND.UNA and u16 length
/// each)]`.
#[test]
fn tcp_socket_events_seeds_reach_sack_and_dsack() {
    /// A peer segment: ACK set, at RCV.NXT + `offset` (`offset < 0`:
    /// below), acknowledging SND.NXT (or SND.UNA with SACK blocks).
    fn segment(seed: &mut Vec<u8>, offset: i32, len: u16, sack: &[(u16, u16)]) {
        seed.extend([0, 0x02]);
        match offset {
            0 => seed.push(0),
            1.. => {
                seed.push(1);
                seed.extend(u16::try_from(offset).unwrap().to_le_bytes());
            }
            _ => seed.extend([2, u8::try_from(-offset).unwrap()]),
        }
        seed.push(if sack.is_empty() { 0 } else { 1 });
        seed.extend(len.to_le_bytes());
        seed.push(if sack.is_empty() { 0 } else { 0x20 });
        seed.extend(8192u16.to_le_bytes());
        if !sack.is_empty() {
            seed.push(u8::try_from(sack.len() - 1).unwrap());
            for &(left, size) in sack {
                seed.extend(left.to_le_bytes());
                seed.extend(size.to_le_bytes());
            }
        }
    }
    let mut seed = Vec::new();
    // 2000-byte buffers; SACK on, no timestamps or window scaling, no
    // Nagle, ACKs at once; 4 holes; MTU 1500.
    seed.extend(1936u16.to_le_bytes());
    seed.extend(1936u16.to_le_bytes());
    seed.extend([0x04, 3]);
    seed.extend(924u16.to_le_bytes());
    // listen; SYN (seq 1000, MSS 1460, SACK-permitted); the final ACK.
    seed.extend([8, 0]);
    seed.extend([0, 0x01, 3]);
    seed.extend(1000u32.to_le_bytes());
    seed.push(0);
    seed.extend(0u16.to_le_bytes());
    seed.push(0x05);
    seed.extend(8192u16.to_le_bytes());
    seed.extend(1460u16.to_le_bytes());
    segment(&mut seed, 0, 0, &[]);
    // Two out-of-order segments, a duplicate inside the first block, the
    // hole filled, a duplicate below RCV.NXT.
    segment(&mut seed, 100, 100, &[]);
    segment(&mut seed, 300, 50, &[]);
    segment(&mut seed, 120, 30, &[]);
    segment(&mut seed, 0, 100, &[]);
    segment(&mut seed, -50, 50, &[]);
    // We send 1000 bytes; the peer's duplicate ACK SACKs two ranges of it.
    seed.push(3);
    seed.extend(1000u16.to_le_bytes());
    segment(&mut seed, 0, 0, &[(500, 200), (800, 100)]);
    // Read what arrived, let time pass.
    seed.push(4);
    seed.extend(511u16.to_le_bytes());
    seed.extend([9, 0, 200]);

    let outcome = socket_events::run(&seed);
    println!("tcp_socket_events seed: {outcome:?}");
    assert!(outcome.established, "{outcome:?}");
    assert!(outcome.sack_blocks_sent >= 6, "{outcome:?}");
    assert!(outcome.dsack_blocks_sent >= 2, "{outcome:?}");
    assert_eq!(outcome.sack_segments_received, 1, "{outcome:?}");
    check_corpus("tcp_socket_events", &[("sack-dsack", seed)]);
}
