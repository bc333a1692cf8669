//! Two pollnet stacks over an in-memory link: many concurrent connections,
//! transfers both ways, every close order, byte-exact; and the same under a
//! fault injector that drops, duplicates, reorders and corrupts frames.

mod common;

use std::collections::BTreeMap;

use common::*;
use pollnet::phy::{Device, FaultConfig, FaultInjector, Loopback, Probability, Reorder};
use pollnet::socket::tcp::{State, TcpConfig, TcpSocket};
use pollnet::socket::{ChildBuffers, SocketHandle};
use pollnet::time::{Duration, Instant};
use pollnet::wire::{IpAddress, IpEndpoint};

const PORT: u16 = 7000;
const BUF: usize = 16 * 1024;

/// Who closes first on connection `port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CloseOrder {
    ClientFirst,
    ServerFirst,
    Together,
}

fn close_order(port: u16) -> CloseOrder {
    match port % 3 {
        0 => CloseOrder::ClientFirst,
        1 => CloseOrder::ServerFirst,
        _ => CloseOrder::Together,
    }
}

/// Bytes the client sends on the connection from `port` (and the server
/// sends `len(port ^ 1)`), so every connection moves a different amount.
fn len(port: u16, scale: usize) -> usize {
    (usize::from(port) * 7919) % scale + 1
}

/// One side of one connection, seen by its application.
#[derive(Debug, Default)]
struct End {
    sent: usize,
    received: usize,
    /// The send side is closed (`shutdown` or `close`).
    closed: bool,
    /// `close` was called: the application reads no more.
    fully_closed: bool,
    done: bool,
    /// When the socket reached CLOSED.
    done_at: Option<Instant>,
}

/// The two streams of one end: what it sends and what it must receive.
struct Streams {
    send_id: u64,
    send_len: usize,
    recv_id: u64,
    recv_len: usize,
}

/// Drives one end: send its stream, check what arrives, close per the
/// scenario. Returns whether it did anything.
///
/// An end that closes first still has the peer's stream to read, so it
/// half-closes (`shutdown`) and calls `close` only once the peer's FIN has
/// come: `close` promises to read no more, and FIN_WAIT_2 may then time out
/// (`fin_wait_2_timeout` of idle) while the peer, its RTO backed off by
/// losses, is still resending data.
fn drive_end(
    socket: &mut pollnet::socket::tcp::TcpSocket<'static>,
    end: &mut End,
    streams: Streams,
    close_first: bool,
    chunk: &mut [u8],
) -> bool {
    let Streams {
        send_id,
        send_len,
        recv_id,
        recv_len,
    } = streams;
    let mut acted = false;
    while end.sent < send_len && socket.can_send() {
        let n = chunk.len().min(send_len - end.sent);
        for (i, b) in chunk[..n].iter_mut().enumerate() {
            *b = stream_byte(send_id, end.sent + i);
        }
        match socket.send_slice(&chunk[..n]) {
            Ok(0) | Err(_) => break,
            Ok(k) => {
                end.sent += k;
                acted = true;
            }
        }
    }
    while let Ok(n) = socket.recv_slice(chunk) {
        if n == 0 {
            break;
        }
        for (i, b) in chunk[..n].iter().enumerate() {
            assert_eq!(
                *b,
                stream_byte(recv_id, end.received + i),
                "stream {recv_id} byte {}",
                end.received + i
            );
        }
        end.received += n;
        assert!(
            end.received <= recv_len,
            "stream {recv_id}: more bytes than were sent"
        );
        acted = true;
    }
    let sent_all = end.sent == send_len;
    let peer_closed =
        !socket.may_recv() && socket.state() != State::SynRcvd && socket.state() != State::SynSent;
    if !end.closed && sent_all && socket.state().is_synchronized() && (close_first || peer_closed) {
        if peer_closed {
            socket.close();
            end.fully_closed = true;
        } else {
            socket.shutdown();
        }
        end.closed = true;
        acted = true;
    }
    if end.closed && !end.fully_closed && peer_closed {
        socket.close();
        end.fully_closed = true;
        acted = true;
    }
    if socket.state() == State::Closed {
        // Every connection must end cleanly, and only after its
        // application closed it and read all of the peer's data.
        assert!(
            end.fully_closed && socket.error().is_none() && end.received == recv_len,
            "stream {recv_id} incomplete: closed by us {}, error {:?}, received {} of \
             {recv_len}, sent {} of {send_len}",
            end.closed,
            socket.error(),
            end.received,
            end.sent
        );
        end.done = true;
    }
    acted
}

/// An end whose socket left the set: after its application's `close` it
/// entered TIME_WAIT and became a compact record (its handle is stale).
/// That ends the application's part, which must have been complete.
fn compacted(end: &mut End, recv_len: usize, recv_id: u64) {
    assert!(
        end.fully_closed && end.received == recv_len,
        "stream {recv_id}: socket gone before its end: closed by us {}, received {} of {recv_len}",
        end.fully_closed,
        end.received
    );
    end.done = true;
}

/// A socket's state and sequence variables, for failure reports.
fn describe_socket(s: &pollnet::socket::tcp::TcpSocket) -> String {
    format!(
        "{} error {:?} sendq {} recvq {} {:?} wnd {} rto {}",
        s.state(),
        s.error(),
        s.send_queue(),
        s.recv_queue(),
        s.debug_sequence(),
        s.send_window(),
        s.rto()
    )
}

/// Prints the traced connection's socket whenever its state, RTO or
/// sequence variables change (debugging aid, with `SOAK_TRACE_PORT`).
fn watch(
    last: &mut String,
    name: &str,
    traced: u16,
    now: Instant,
    mut sockets: impl Iterator<Item = (u16, SocketHandle)>,
    set: &pollnet::socket::SocketSet<'static>,
) {
    let Some((_, h)) = sockets.find(|(port, _)| *port == traced) else {
        return;
    };
    let Some(s) = set.get::<TcpSocket>(h) else {
        return;
    };
    let line = format!(
        "{} cwnd {} {}",
        describe_socket(s),
        s.congestion_window(),
        s.send_mss()
    );
    if line != *last {
        println!("{now} {name} socket: {line}");
        *last = line;
    }
}

fn run<C, S>(
    net: &mut Net<C, S>,
    tcp: TcpConfig,
    connections: usize,
    scale: usize,
    time_limit: Duration,
) where
    C: Device + NextEvent,
    S: Device + NextEvent,
{
    let listener = net.server.sockets.add(socket(tcp, 64, 64)).unwrap();
    net.server
        .sockets
        .listen(
            listener,
            PORT,
            connections,
            ChildBuffers::Alloc { rx: BUF, tx: BUF },
        )
        .unwrap();

    let remote = IpEndpoint::new(IpAddress::Ipv4(SERVER_IP), PORT);
    let mut clients: Vec<(SocketHandle, u16, End)> = Vec::new();
    for _ in 0..connections {
        let h = net.client.sockets.add(socket(tcp, BUF, BUF)).unwrap();
        let local = net
            .client
            .iface
            .connect(&mut net.client.sockets, h, remote, net.now)
            .unwrap();
        clients.push((h, local.port, End::default()));
    }
    let mut servers: BTreeMap<SocketHandle, (u16, End)> = BTreeMap::new();
    let mut accepted = 0;
    let mut chunk = vec![0u8; 4096];
    let deadline = net.now + time_limit;
    let trace = trace_port();
    let mut watched = [String::new(), String::new()];

    loop {
        net.settle();
        let mut acted = false;
        while let Some(h) = net.server.sockets.accept(listener) {
            let port = net
                .server
                .sockets
                .get::<TcpSocket>(h)
                .unwrap()
                .remote_endpoint()
                .unwrap()
                .port;
            servers.insert(h, (port, End::default()));
            accepted += 1;
            acted = true;
        }
        if let Some(traced) = trace {
            watch(
                &mut watched[0],
                "C",
                traced,
                net.now,
                clients.iter().map(|c| (c.1, c.0)),
                &net.client.sockets,
            );
            watch(
                &mut watched[1],
                "S",
                traced,
                net.now,
                servers.iter().map(|(h, s)| (s.0, *h)),
                &net.server.sockets,
            );
        }
        for (h, port, end) in clients.iter_mut().filter(|c| !c.2.done) {
            let order = close_order(*port);
            let first = matches!(order, CloseOrder::ClientFirst | CloseOrder::Together);
            let streams = Streams {
                send_id: u64::from(*port) * 2,
                send_len: len(*port, scale),
                recv_id: u64::from(*port) * 2 + 1,
                recv_len: len(*port ^ 1, scale),
            };
            let Some(socket) = net.client.sockets.get_mut::<TcpSocket>(*h) else {
                compacted(end, streams.recv_len, streams.recv_id);
                end.done_at.get_or_insert(net.now);
                continue;
            };
            acted |= drive_end(socket, end, streams, first, &mut chunk);
            if end.done {
                end.done_at.get_or_insert(net.now);
            }
        }
        for (h, (port, end)) in servers.iter_mut().filter(|s| !s.1.1.done) {
            let order = close_order(*port);
            let first = matches!(order, CloseOrder::ServerFirst | CloseOrder::Together);
            let streams = Streams {
                send_id: u64::from(*port) * 2 + 1,
                send_len: len(*port ^ 1, scale),
                recv_id: u64::from(*port) * 2,
                recv_len: len(*port, scale),
            };
            let Some(socket) = net.server.sockets.get_mut::<TcpSocket>(*h) else {
                compacted(end, streams.recv_len, streams.recv_id);
                end.done_at.get_or_insert(net.now);
                continue;
            };
            acted |= drive_end(socket, end, streams, first, &mut chunk);
            if end.done {
                end.done_at.get_or_insert(net.now);
            }
        }
        let all_done = accepted == connections
            && clients.iter().all(|c| c.2.done)
            && servers.values().all(|s| s.1.done);
        if all_done {
            break;
        }
        let stuck = !acted && !net.step(Duration::from_secs(1));
        if stuck || net.now >= deadline {
            for (h, port, end) in clients.iter().filter(|c| !c.2.done) {
                if let Some(s) = net.client.sockets.get::<TcpSocket>(*h) {
                    println!("client {port}: {end:?} {}", describe_socket(s));
                }
            }
            for (h, (port, end)) in servers.iter().filter(|s| !s.1.1.done) {
                if let Some(s) = net.server.sockets.get::<TcpSocket>(*h) {
                    println!("server {port}: {end:?} {}", describe_socket(s));
                }
            }
            if stuck {
                panic!(
                    "nothing left to happen at {} but connections are unfinished",
                    net.now
                );
            }
            panic!("not finished by {}", net.now);
        }
    }
    // The connection that took longest (with SOAK_TRACE_PORT unset, a
    // place to start looking at stalls).
    let slowest = clients
        .iter()
        .map(|(_, port, end)| (end.done_at, *port, "client"))
        .chain(
            servers
                .values()
                .map(|(port, end)| (end.done_at, *port, "server")),
        )
        .max();
    if let Some((Some(at), port, side)) = slowest {
        println!("slowest: {side} of port {port}, closed at {at}");
    }
    // Every connection went through the whole life: TIME_WAIT records too
    // run out (2*MSL), and every socket still held is CLOSED.
    while net.client.sockets.tcp_records().count() + net.server.sockets.tcp_records().count() > 0 {
        assert!(
            net.step(Duration::from_secs(1)),
            "records but nothing to happen"
        );
        assert!(
            net.now < deadline + Duration::from_secs(60),
            "TIME_WAIT never ended"
        );
    }
    for (h, _, _) in &clients {
        let state = net.client.sockets.get::<TcpSocket>(*h).map(|s| s.state());
        assert!(matches!(state, None | Some(State::Closed)), "{state:?}");
    }
    assert_eq!(net.server.sockets.pending(listener), 0);
    assert_eq!(
        net.server
            .sockets
            .get::<TcpSocket>(listener)
            .unwrap()
            .state(),
        State::Listen
    );
}

#[test]
fn many_connections_both_directions_every_close_order() {
    // A queue deep enough for every connection's initial window at once,
    // so the link itself never drops.
    let (a, b) = Loopback::pair_with_queue_limit(1500, Duration::from_millis(1), 1 << 16);
    let tcp = tcp_config();
    let mut net = Net {
        client: Host::new(a, 1, CLIENT_IP, 11, tcp, 128),
        server: Host::new(b, 2, SERVER_IP, 22, tcp, 130),
        now: Instant::ZERO,
    };
    run(&mut net, tcp, 120, 60_000, Duration::from_secs(120));
    assert_eq!(net.client.device.stats().dropped_queue_full, 0);
    assert_eq!(net.server.device.stats().dropped_queue_full, 0);
    let (client, server) = (net.client.iface.stats(), net.server.iface.stats());
    assert_eq!(
        client.tcp_retransmissions + server.tcp_retransmissions,
        0,
        "a perfect link needs no retransmission"
    );
    assert_eq!(client.tcp_rsts_sent + server.tcp_rsts_sent, 0);
    // Every TCP segment is one frame: nothing counted twice. (ARP adds
    // frames that are not TCP segments.)
    for stats in [client, server] {
        assert_eq!(
            stats.tcp_segments_sent,
            stats.tx_frames - stats.arp_requests_sent - stats.arp_replies_sent
        );
    }
}

/// How a soak run shapes the link and the sockets.
#[derive(Debug, Clone, Copy, Default)]
struct Soak {
    /// Reorder by holding a frame until 3 more cross (else: for 3 ms).
    reorder_by_frames: bool,
    /// Turn timestamps and window scaling off (RTT from timed segments,
    /// Karn's rule).
    no_options: bool,
}

impl Soak {
    /// The variant the environment asks for (`SOAK_REORDER=frames`,
    /// `SOAK_OPTIONS=off`).
    fn from_env() -> Soak {
        Soak {
            reorder_by_frames: std::env::var("SOAK_REORDER").is_ok_and(|v| v == "frames"),
            no_options: std::env::var("SOAK_OPTIONS").is_ok_and(|v| v == "off"),
        }
    }
}

/// The seed from `SOAK_SEED`, to replay one run (with `SOAK_TRACE_PORT` to
/// print one connection's segments and socket changes).
fn seed_from_env() -> Option<u64> {
    std::env::var("SOAK_SEED").ok()?.parse().ok()
}

/// 24 connections over a link that drops 10%, duplicates 5%, corrupts 1%
/// and reorders 5% of the frames, both ways; every byte checked, every
/// connection ends cleanly.
fn soak(seed: u64, variant: Soak) {
    let (a, b) = Loopback::pair(1500, Duration::from_millis(2));
    let mut faults = FaultInjector::new(a, seed);
    let reorder = Probability::from_fraction(0.05);
    let config = FaultConfig {
        drop: Probability::from_fraction(0.10),
        duplicate: Probability::from_fraction(0.05),
        corrupt: Probability::from_fraction(0.01),
        reorder: if variant.reorder_by_frames {
            // A held frame waits for 3 more in its direction: at the end of
            // a transfer, when frames come only from backed-off
            // retransmissions, that can take minutes of virtual time.
            Reorder::Frames {
                probability: reorder,
                frames: 3,
            }
        } else {
            // Held longer than the one-way delay, so later frames overtake.
            Reorder::Time {
                probability: reorder,
                delay: Duration::from_millis(3),
            }
        },
        ..FaultConfig::default()
    };
    *faults.rx_config_mut() = config;
    *faults.tx_config_mut() = config;
    // TIME_WAIT must outlast the peer's retransmissions of its FIN, or a
    // lost last ACK turns into a RST at the LAST_ACK end: 2*MSL covers the
    // largest RTO, as the defaults (MSL 60 s, RTO at most 60 s) do. Idle
    // virtual time costs nothing.
    let mut tcp = tcp_config();
    tcp.msl = Duration::from_secs(30);
    if variant.no_options {
        tcp.timestamps = false;
        tcp.window_scaling = false;
    }
    let trace = trace_port();
    let mut net = Net {
        client: Host::new(
            Tap::new(faults, "C", trace).with_link_check(),
            1,
            CLIENT_IP,
            33,
            tcp,
            32,
        ),
        server: Host::new(
            Tap::new(b, "S", trace).with_link_check(),
            2,
            SERVER_IP,
            44,
            tcp,
            34,
        ),
        now: Instant::ZERO,
    };
    run(&mut net, tcp, 24, 200_000, Duration::from_secs(600));
    let stats = net.client.iface.stats();
    println!(
        "seed {seed} {variant:?}: all closed at {}, {} retransmissions, {} frames with a \
         damaged link layer dropped",
        net.now,
        stats.tcp_retransmissions + net.server.iface.stats().tcp_retransmissions,
        net.client.device.link_damaged + net.server.device.link_damaged
    );
    assert!(
        stats.tcp_retransmissions > 0,
        "10% loss must cause retransmissions"
    );
    let rx = net.client.device.inner.rx_stats();
    let tx = net.client.device.inner.tx_stats();
    assert!(rx.dropped > 0 && tx.dropped > 0);
    assert!(rx.duplicated > 0 && tx.duplicated > 0);
    assert!(rx.corrupted > 0 || tx.corrupted > 0);
}

/// Seeds that failed before the fixes in `socket::tcp` (ACKs below the
/// peer's RCV.NXT after a timeout, ACKs at the window edge, inflated RTT
/// samples, RST in LAST_ACK) and in this harness (close before the peer's
/// data, TIME_WAIT shorter than the RTO, undetectable ARP corruption).
const SOAK_SEEDS: [u64; 8] = [5, 9, 10, 12, 14, 15, 17, 20];

#[test]
fn soak_under_drop_duplicate_reorder_corrupt() {
    if let Some(seed) = seed_from_env() {
        return soak(seed, Soak::from_env());
    }
    for seed in SOAK_SEEDS {
        soak(seed, Soak::default());
    }
}

/// The same soak with frame-count reordering (the seeds with the longest
/// holds seen) and without timestamps and window scaling (the slowest
/// seeds seen), so both RTT paths and both reorder shapes stay covered.
#[test]
fn soak_variants() {
    if seed_from_env().is_some() {
        return;
    }
    let frames = Soak {
        reorder_by_frames: true,
        ..Soak::default()
    };
    for seed in [82, 122, 160, 297] {
        soak(seed, frames);
    }
    let no_options = Soak {
        no_options: true,
        ..Soak::default()
    };
    for seed in [67, 85, 115, 129] {
        soak(seed, no_options);
    }
}
