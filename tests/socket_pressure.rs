//! What a SYN flood, many short connections and idle peers do to a server
//! (the hardening issue's attacks on the socket set), on a virtual clock
//! with exact counts:
//! - 100,000 spoofed SYNs at a backlog of 1000 while a real client
//!   connects: memory is counted by a counting allocator;
//! - 10,000 sequential request/close cycles, the server closing first,
//!   against a server with four socket slots;
//! - a client reusing its port while the server holds its old connection
//!   in TIME_WAIT (RFC 6191), with and without timestamps;
//! - idle peers holding every slot, and a listener's idle timeout.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{CLIENT_IP, Host, Net, NextEvent, SERVER_IP, socket, tcp_config};
use pollnet::iface::{Config, Interface};
use pollnet::phy::{Device, DeviceCapabilities, Loopback, RxToken, TxToken};
use pollnet::socket::tcp::{RecvError, State, TcpConfig, TcpError, TcpSocket};
use pollnet::socket::{ChildBuffers, ListenOptions, SetCapacity, SocketHandle, SocketSet};
use pollnet::storage::RingBuffer;
use pollnet::time::{Duration, Instant};
use pollnet::wire::{
    ArpOperation, ArpPacket, ArpRepr, ChecksumCapabilities, EthernetAddress, EthernetFrame,
    EthernetProtocol, EthernetRepr, IpAddress, IpEndpoint, IpProtocol, Ipv4Address, Ipv4Cidr,
    Ipv4Packet, Ipv4Repr, SeqNumber, TcpFlags, TcpPacket, TcpRepr,
};

// ------------------------------------------------------------ allocator

/// Counts allocations, bytes and the peak of bytes in use, on the thread
/// that switched counting on.
struct CountingAllocator;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static ALLOCATED_BYTES: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    /// Bytes this thread has in use (its allocations less its frees), and
    /// the peak since it was last reset: other tests run on other threads.
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn counting() -> bool {
    COUNTING.try_with(Cell::get).unwrap_or(false)
}

fn grew(bytes: usize) {
    let _ = LIVE.try_with(|live| {
        live.set(live.get().wrapping_add(bytes));
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(live.get())));
    });
}

fn shrank(bytes: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get().wrapping_sub(bytes)));
}

fn live_bytes() -> usize {
    LIVE.with(Cell::get)
}

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counters are only bookkeeping.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if counting() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
            ALLOCATED_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        }
        grew(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        shrank(layout.size());
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if counting() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
            ALLOCATED_BYTES.fetch_add(new_size, Ordering::Relaxed);
        }
        shrank(layout.size());
        grew(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

// --------------------------------------------------------------- fabric

const FRAME: usize = 1514;
const RING: usize = 512;
const SERVER_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 2]);
const CLIENT_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);
/// The MAC the spoofed SYNs come from: the server's gateway, the router to
/// their (spoofed) networks.
const FLOOD_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 0x66]);
const GATEWAY: Ipv4Address = Ipv4Address::new(192, 0, 2, 254);

/// A ring of preallocated frames: moving frames allocates nothing.
struct Ring {
    frames: Vec<[u8; FRAME]>,
    lens: Vec<usize>,
    head: usize,
    len: usize,
}

impl Ring {
    fn new() -> Ring {
        Ring {
            frames: vec![[0u8; FRAME]; RING],
            lens: vec![0; RING],
            head: 0,
            len: 0,
        }
    }

    /// The next free frame, to be filled with `len` bytes.
    fn push(&mut self, len: usize) -> &mut [u8] {
        assert!(self.len < RING && len <= FRAME, "fabric ring full");
        let tail = (self.head + self.len) % RING;
        self.lens[tail] = len;
        self.len += 1;
        &mut self.frames[tail][..len]
    }

    fn pop(&mut self) -> Option<(usize, usize)> {
        if self.len == 0 {
            return None;
        }
        let head = self.head;
        self.head = (head + 1) % RING;
        self.len -= 1;
        Some((head, self.lens[head]))
    }
}

/// The wire between the server, the real client and the attacker: frames
/// for the client's address go to it, the rest (SYN-ACKs to spoofed
/// sources) are counted and dropped.
struct Fabric {
    to_server: Ring,
    to_client: Ring,
    /// SYN-ACKs the server sent to spoofed sources.
    syn_acks_to_spoofed: u64,
    /// Other segments to spoofed sources (there must be none).
    other_to_spoofed: u64,
}

type Shared = Rc<RefCell<Fabric>>;

/// The server's or the client's port on the fabric.
struct Port {
    fabric: Shared,
    server: bool,
}

struct PortRx(Shared, bool);
struct PortTx(Shared, bool);

impl RxToken for PortRx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        // Copied out, so the reply's transmit token can use the fabric.
        let mut scratch = [0u8; FRAME];
        let len = {
            let mut fabric = self.0.borrow_mut();
            let ring = if self.1 {
                &mut fabric.to_server
            } else {
                &mut fabric.to_client
            };
            let (index, len) = ring.pop().expect("a frame was waiting");
            scratch[..len].copy_from_slice(&ring.frames[index][..len]);
            len
        };
        f(&scratch[..len])
    }
}

impl TxToken for PortTx {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut scratch = [0u8; FRAME];
        let result = f(&mut scratch[..len]);
        let mut fabric = self.0.borrow_mut();
        if !self.1 {
            fabric.to_server.push(len).copy_from_slice(&scratch[..len]);
            return result;
        }
        // From the server: to the client's address, or to a spoofed one
        // (through the gateway, which answers ARP).
        let frame = &scratch[..len];
        let ipv4 = frame[12..14] == [8, 0];
        if !ipv4 && frame[12..14] == [8, 6] && frame[38..42] == GATEWAY.0 {
            let reply = ArpRepr::EthernetIpv4 {
                operation: ArpOperation::Reply,
                source_hardware_addr: FLOOD_MAC,
                source_protocol_addr: GATEWAY,
                target_hardware_addr: SERVER_MAC,
                target_protocol_addr: SERVER_IP,
            };
            let frame = fabric.to_server.push(14 + reply.buffer_len());
            EthernetRepr {
                src_addr: FLOOD_MAC,
                dst_addr: SERVER_MAC,
                ethertype: EthernetProtocol::Arp,
            }
            .emit(&mut EthernetFrame::new_unchecked(&mut *frame));
            reply.emit(&mut ArpPacket::new_unchecked(&mut frame[14..]));
        } else if !ipv4 || frame[30..34] == CLIENT_IP.0 {
            fabric.to_client.push(len).copy_from_slice(frame);
        } else if frame[14 + 20 + 13] == 0x12 {
            fabric.syn_acks_to_spoofed += 1;
        } else {
            fabric.other_to_spoofed += 1;
        }
        result
    }
}

impl Device for Port {
    type RxToken<'a> = PortRx;
    type TxToken<'a> = PortTx;

    fn receive(&mut self, _now: Instant) -> Option<(PortRx, PortTx)> {
        let waiting = {
            let fabric = self.fabric.borrow();
            if self.server {
                fabric.to_server.len
            } else {
                fabric.to_client.len
            }
        };
        (waiting > 0).then(|| {
            (
                PortRx(self.fabric.clone(), self.server),
                PortTx(self.fabric.clone(), self.server),
            )
        })
    }

    fn transmit(&mut self, _now: Instant) -> Option<PortTx> {
        Some(PortTx(self.fabric.clone(), self.server))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.max_transmission_unit = 1500;
        caps
    }
}

impl NextEvent for Port {
    fn next_event(&self) -> Option<Instant> {
        None
    }
}

/// xorshift64*: reproducible spoofed sources.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Writes the `n`th spoofed SYN to the server into the fabric: from a
/// source in 198.51.100.0/24 or 203.0.113.0/24 (RFC 5737), every one from
/// its own address and port, with a random ISN, and MSS, window scale,
/// SACK-permitted and timestamps as Linux sends them.
fn inject_syn(fabric: &Shared, rng: &mut Rng, n: usize) {
    let r = rng.next();
    let host = n % 508;
    let net = if host < 254 {
        [198, 51, 100]
    } else {
        [203, 0, 113]
    };
    let src = Ipv4Address::new(net[0], net[1], net[2], 1 + (host % 254) as u8);
    let tcp = TcpRepr {
        src_port: 1024 + (n / 508) as u16,
        dst_port: 80,
        seq_number: SeqNumber((r >> 32) as u32),
        flags: TcpFlags::SYN,
        window_len: 64240,
        max_seg_size: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        timestamp: Some(pollnet::wire::TcpTimestamp {
            tsval: r as u32,
            tsecr: 0,
        }),
        ..TcpRepr::default()
    };
    let ip = Ipv4Repr {
        src_addr: src,
        dst_addr: SERVER_IP,
        next_header: IpProtocol::Tcp,
        payload_len: tcp.buffer_len(),
        hop_limit: 64,
        dont_frag: true,
        ecn: pollnet::wire::IpEcn::NotEct,
    };
    let len = 14 + 20 + tcp.buffer_len();
    let mut fabric = fabric.borrow_mut();
    let frame = fabric.to_server.push(len);
    EthernetRepr {
        src_addr: FLOOD_MAC,
        dst_addr: SERVER_MAC,
        ethertype: EthernetProtocol::Ipv4,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut *frame));
    let caps = ChecksumCapabilities::default();
    let mut packet = Ipv4Packet::new_unchecked(&mut frame[14..]);
    ip.emit(&mut packet, &caps);
    tcp.emit(
        &mut TcpPacket::new_unchecked(packet.payload_mut()),
        &IpAddress::Ipv4(src),
        &IpAddress::Ipv4(SERVER_IP),
        &caps,
    );
}

fn stack(mac: EthernetAddress, ip: Ipv4Address, seed: u64) -> Interface<'static> {
    let config = Config::new(mac, u128::from(seed))
        .with_ip(Ipv4Cidr::new(ip, 24).unwrap())
        .with_gateway(GATEWAY);
    Interface::new(config).unwrap()
}

const BACKLOG: usize = 1000;
const FLOOD: usize = 100_000;
/// SYNs per virtual millisecond: the flood lasts 500 ms.
const PER_MS: usize = 200;
const CHILD_BUFFER: usize = 65536;

#[test]
fn syn_flood_of_100000_leaves_memory_bounded_and_a_real_client_connects() {
    let live_before_setup = live_bytes();
    let fabric: Shared = Rc::new(RefCell::new(Fabric {
        to_server: Ring::new(),
        to_client: Ring::new(),
        syn_acks_to_spoofed: 0,
        other_to_spoofed: 0,
    }));
    let mut server_port = Port {
        fabric: fabric.clone(),
        server: true,
    };
    let mut client_port = Port {
        fabric: fabric.clone(),
        server: false,
    };
    let mut server = stack(SERVER_MAC, SERVER_IP, 2);
    let mut client = stack(CLIENT_MAC, CLIENT_IP, 1);
    let capacity = SetCapacity::for_sockets(16).with_half_open(BACKLOG);
    let before_set = live_bytes();
    let mut server_sockets = SocketSet::with_capacities(capacity);
    let server_set_bytes = live_bytes() - before_set;
    let mut client_sockets = SocketSet::with_capacity(4);
    let listener = server_sockets
        .add(socket(TcpConfig::default(), 64, 64))
        .unwrap();
    server_sockets
        .listen(
            listener,
            80,
            BACKLOG,
            ChildBuffers::Alloc {
                rx: CHILD_BUFFER,
                tx: CHILD_BUFFER,
            },
        )
        .unwrap();
    let client_socket = client_sockets
        .add(socket(TcpConfig::default(), 8192, 8192))
        .unwrap();
    let request: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
    let mut received = Vec::with_capacity(2048);
    let mut server_received = Vec::with_capacity(2048);
    let mut chunk = vec![0u8; 4096];
    let mut rng = Rng(0x5eed_f100d);
    let mut now = Instant::from_secs(100);
    let mut poll_both = |now: Instant,
                         server: &mut Interface<'static>,
                         client: &mut Interface<'static>,
                         ss: &mut SocketSet<'static>,
                         cs: &mut SocketSet<'static>| {
        for _ in 0..10_000 {
            let a = server.poll(now, &mut server_port, ss);
            let b = client.poll(now, &mut client_port, cs);
            if !a && !b {
                return;
            }
        }
        panic!("no quiet at {now}");
    };
    poll_both(
        now,
        &mut server,
        &mut client,
        &mut server_sockets,
        &mut client_sockets,
    );
    while server_sockets.pop_trace().is_some() {}
    let setup_bytes = live_bytes() - live_before_setup;

    // The flood, with the real client arriving in the middle of it.
    ALLOCATIONS.store(0, Ordering::Relaxed);
    ALLOCATED_BYTES.store(0, Ordering::Relaxed);
    PEAK.with(|peak| peak.set(live_bytes()));
    let live_at_start = live_bytes();
    COUNTING.with(|c| c.set(true));
    let mut accepted = None;
    let mut sent = 0;
    let mut client_closed = false;
    let mut trace_events = 0u64;
    for ms in 0..(FLOOD / PER_MS) {
        now = Instant::from_secs(100) + Duration::from_millis(ms as u64);
        for i in 0..PER_MS {
            inject_syn(&fabric, &mut rng, ms * PER_MS + i);
        }
        if ms == 250 {
            let remote = IpEndpoint::new(IpAddress::Ipv4(SERVER_IP), 80);
            client
                .connect(&mut client_sockets, client_socket, remote, now)
                .unwrap();
        }
        poll_both(
            now,
            &mut server,
            &mut client,
            &mut server_sockets,
            &mut client_sockets,
        );
        while server_sockets.pop_trace().is_some() {
            trace_events += 1;
        }
        // The client: send the request, read the answer, close.
        if let Some(s) = client_sockets.get_mut::<TcpSocket>(client_socket) {
            if s.state() == State::Established && sent < request.len() {
                sent += s.send_slice(&request[sent..]).unwrap();
            }
            while let Ok(n) = s.recv_slice(&mut chunk) {
                if n == 0 {
                    break;
                }
                received.extend_from_slice(&chunk[..n]);
            }
            if received.len() == request.len() && !client_closed {
                s.close();
                client_closed = true;
            }
        }
        // The server: accept, echo, close when the client is done.
        if accepted.is_none() {
            accepted = server_sockets.accept(listener);
        }
        if let Some(h) = accepted {
            if let Some(s) = server_sockets.get_mut::<TcpSocket>(h) {
                loop {
                    match s.recv_slice(&mut chunk) {
                        Ok(0) => break,
                        Ok(n) => {
                            server_received.extend_from_slice(&chunk[..n]);
                            assert_eq!(s.send_slice(&chunk[..n]), Ok(n));
                        }
                        Err(RecvError::Finished) => {
                            if s.state() == State::CloseWait {
                                s.close();
                            }
                            break;
                        }
                        Err(_) => break,
                    }
                }
            }
        }
    }
    COUNTING.with(|c| c.set(false));
    let peak = PEAK.with(Cell::get);
    let allocations = ALLOCATIONS.load(Ordering::Relaxed);
    let allocated = ALLOCATED_BYTES.load(Ordering::Relaxed);
    println!(
        "SYN flood: setup {setup_bytes} bytes (both stacks and the fabric; the server's \
         socket set {server_set_bytes}); during \
         {FLOOD} SYNs: {allocations} allocations, {allocated} bytes, peak in use \
         {} bytes above the start ({} in total)",
        peak - live_at_start,
        peak - live_before_setup
    );

    // The real client got in, during the flood, and its bytes came back.
    assert_eq!(server_received, request);
    assert_eq!(received, request);
    let stats = server.stats();
    // Every spoofed SYN was answered: the first BACKLOG from records, the
    // rest (and the client's SYN) with cookies; the client's cookie came
    // back and opened its connection.
    let spoofed = fabric.borrow().syn_acks_to_spoofed;
    assert_eq!(spoofed, FLOOD as u64);
    assert_eq!(fabric.borrow().other_to_spoofed, 0);
    assert_eq!(stats.tcp_syn_cookies_sent, (FLOOD - BACKLOG) as u64 + 1);
    assert_eq!(stats.tcp_syn_cookies_accepted, 1);
    assert_eq!(stats.rx_drop_syn_backlog_full, 0);
    assert_eq!(stats.tcp_final_ack_dropped, 0);
    let half_open = server_sockets
        .tcp_records()
        .filter(|r| r.state == State::SynRcvd)
        .count();
    assert_eq!(half_open, BACKLOG);
    assert_eq!(server_sockets.pending(listener), BACKLOG);
    // What the flood cost: nothing but the real connection's two buffers.
    assert_eq!(allocations, 2, "only the client's connection allocates");
    assert_eq!(allocated, 2 * CHILD_BUFFER);
    assert!(peak - live_at_start <= 2 * CHILD_BUFFER);
    // The figure the hardening issue bounds at 64 MB: everything both
    // stacks and the test's fabric hold at the flood's peak.
    assert!(server_set_bytes < 256 << 10, "{server_set_bytes}");
    assert!(
        peak - live_before_setup < 4 << 20,
        "{} bytes in use",
        peak - live_before_setup
    );
    // One trace event per half-open record and the client's connection.
    assert!(trace_events >= BACKLOG as u64, "{trace_events}");

    // The records' SYN-ACKs are resent (1, 3, 7 and 15 s after the first)
    // until the SYN_RCVD timeout (20 s) sends each back to LISTEN.
    let mut timeouts = 0;
    let end = now + Duration::from_secs(25);
    while now < end {
        now = match server.poll_at(&server_sockets) {
            Some(at) if at > now => at.min(end),
            _ => now + Duration::from_millis(1),
        };
        poll_both(
            now,
            &mut server,
            &mut client,
            &mut server_sockets,
            &mut client_sockets,
        );
        while let Some(event) = server_sockets.pop_trace() {
            if event.transition.to_string() == "SYN_RCVD -> LISTEN (SYN_RCVD timeout)" {
                assert_eq!(event.handle, None);
                timeouts += 1;
            }
        }
    }
    assert_eq!(timeouts, BACKLOG);
    assert_eq!(
        fabric.borrow().syn_acks_to_spoofed,
        FLOOD as u64 + 4 * BACKLOG as u64
    );
    assert_eq!(server.stats().tcp_retransmissions, 4 * BACKLOG as u64);
    assert_eq!(server_sockets.pending(listener), 0);
    assert_eq!(server_sockets.tcp_records().count(), 0);
    assert_eq!(
        server_sockets.get::<TcpSocket>(listener).unwrap().state(),
        State::Listen
    );
}

// ------------------------------------------------- sequential cycles

type LoopNet = Net<pollnet::phy::LinkEnd, pollnet::phy::LinkEnd>;

fn loop_net(server_capacity: SetCapacity, tcp: TcpConfig) -> LoopNet {
    let (a, b) = Loopback::pair(1500, Duration::from_millis(1));
    let mut net = Net {
        client: Host::new(a, 1, CLIENT_IP, 11, tcp, 8),
        server: Host::new(b, 2, SERVER_IP, 22, tcp, 4),
        now: Instant::from_secs(1),
    };
    net.server.sockets = SocketSet::with_capacities(server_capacity);
    net
}

fn listen(net: &mut LoopNet, tcp: TcpConfig, backlog: usize) -> SocketHandle {
    let l = net.server.sockets.add(socket(tcp, 64, 64)).unwrap();
    net.server
        .sockets
        .listen(l, 80, backlog, ChildBuffers::Alloc { rx: 4096, tx: 4096 })
        .unwrap();
    l
}

fn server_endpoint() -> IpEndpoint {
    IpEndpoint::new(IpAddress::Ipv4(SERVER_IP), 80)
}

/// One request/response: the client sends `request`, the server answers
/// `response` and closes first, the client reads to the end and closes.
/// Returns the server-side socket's handle (stale by then: a TIME_WAIT
/// record holds the connection) and the client's local endpoint.
fn cycle(
    net: &mut LoopNet,
    listener: SocketHandle,
    client: SocketHandle,
    local: Option<IpEndpoint>,
    request: &[u8],
    response: &[u8],
) -> (SocketHandle, IpEndpoint) {
    let local = match local {
        Some(local) => {
            let mut cx = net.client.iface.context(net.now);
            net.client
                .sockets
                .get_mut::<TcpSocket>(client)
                .unwrap()
                .connect(&mut cx, server_endpoint(), local)
                .unwrap();
            local
        }
        None => net
            .client
            .iface
            .connect(&mut net.client.sockets, client, server_endpoint(), net.now)
            .unwrap(),
    };
    let mut buf = [0u8; 256];
    let (mut sent, mut got, mut served) = (0, Vec::new(), None);
    let mut server_got = Vec::new();
    let (mut answered, mut client_closed) = (false, false);
    let start = net.now;
    loop {
        net.settle();
        if let Some(s) = net.client.sockets.get_mut::<TcpSocket>(client) {
            if s.state().is_synchronized() && sent < request.len() {
                sent += s.send_slice(&request[sent..]).unwrap_or(0);
            }
            loop {
                match s.recv_slice(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(RecvError::Finished) => {
                        if !client_closed {
                            s.close();
                            client_closed = true;
                        }
                        break;
                    }
                    Err(e) => panic!("client: {e:?}"),
                }
            }
            if s.state() == State::Closed && client_closed {
                assert_eq!(s.error(), None);
                break;
            }
        }
        if served.is_none() {
            served = net.server.sockets.accept(listener);
        }
        if let Some(s) = served.and_then(|h| net.server.sockets.get_mut::<TcpSocket>(h)) {
            while let Ok(n) = s.recv_slice(&mut buf) {
                if n == 0 {
                    break;
                }
                server_got.extend_from_slice(&buf[..n]);
            }
            if server_got.len() == request.len() && !answered {
                assert_eq!(s.send_slice(response), Ok(response.len()));
                s.close();
                answered = true;
            }
        }
        assert!(net.step(Duration::from_millis(100)), "stalled");
        assert!(
            net.now - start < Duration::from_secs(10),
            "cycle did not end"
        );
    }
    net.settle();
    assert_eq!(server_got, request);
    assert_eq!(got, response);
    (served.expect("accepted"), local)
}

#[test]
fn ten_thousand_request_close_cycles_against_four_slots() {
    // A listener and three connection slots; 16 TIME_WAIT records.
    let capacity = SetCapacity::for_sockets(4);
    assert_eq!(capacity.time_wait, 16);
    let tcp = TcpConfig::default();
    let mut net = loop_net(capacity, tcp);
    let listener = listen(&mut net, tcp, 2);
    const CYCLES: usize = 10_000;
    for i in 0..CYCLES {
        let client = net.client.sockets.add(socket(tcp, 4096, 4096)).unwrap();
        let request = format!("GET /{i} HTTP/1.0\r\n\r\n");
        let response = format!("HTTP/1.0 200 OK\r\n\r\n{i}");
        let (served, _) = cycle(
            &mut net,
            listener,
            client,
            None,
            request.as_bytes(),
            response.as_bytes(),
        );
        // The server closed first: its connection is a TIME_WAIT record
        // now, its socket and buffers are gone (the handle is stale).
        assert!(net.server.sockets.get::<TcpSocket>(served).is_none());
        assert_eq!(
            net.server.sockets.len(),
            1,
            "only the listener holds a slot"
        );
        // The client's side ended in LAST_ACK -> CLOSED: its application
        // removes it.
        net.client.sockets.remove(client);
    }
    let stats = net.server.iface.stats();
    // Well within 2*MSL (120 s) of virtual time, so every record beyond the
    // sixteenth took the place of the oldest.
    assert!(net.now < Instant::from_secs(120), "{}", net.now);
    assert_eq!(net.server.sockets.tcp_records().count(), 16);
    assert_eq!(stats.tcp_time_wait_evicted, (CYCLES - 16) as u64);
    assert_eq!(stats.tcp_evicted, 0);
    assert_eq!(stats.tcp_final_ack_dropped, 0);
    assert_eq!(stats.tcp_syn_cookies_sent, 0);
    assert_eq!(stats.demux_insert_failed, 0);
    assert_eq!(net.server.sockets.pending(listener), 0);
    // The records run out 2*MSL after the last.
    let end = net.now + Duration::from_secs(121);
    while net.now < end && net.step(Duration::from_secs(10)) {}
    assert_eq!(net.server.sockets.tcp_records().count(), 0);
}

fn reuse_port(timestamps: bool) {
    let mut tcp = tcp_config();
    tcp.timestamps = timestamps;
    let mut net = loop_net(SetCapacity::for_sockets(4), tcp);
    let listener = listen(&mut net, tcp, 2);
    let local = IpEndpoint::new(IpAddress::Ipv4(CLIENT_IP), 50000);
    let first = net.client.sockets.add(socket(tcp, 4096, 4096)).unwrap();
    cycle(
        &mut net,
        listener,
        first,
        Some(local),
        b"one",
        b"first answer",
    );
    net.client.sockets.remove(first);
    let server_local = server_endpoint();
    assert_eq!(
        net.server.sockets.tcp_state(server_local, local),
        Some(State::TimeWait)
    );
    while net.server.sockets.pop_trace().is_some() {}
    // A second later (2*MSL is 4 s here), the client connects again from
    // the same port: RFC 6191 lets the new SYN end TIME_WAIT.
    net.now += Duration::from_secs(1);
    let second = net.client.sockets.add(socket(tcp, 4096, 4096)).unwrap();
    cycle(
        &mut net,
        listener,
        second,
        Some(local),
        b"two",
        b"second answer",
    );
    let events: Vec<String> = std::iter::from_fn(|| net.server.sockets.pop_trace())
        .filter(|e| e.remote == Some(local))
        .map(|e| e.transition.to_string())
        .collect();
    assert_eq!(events[0], "TIME_WAIT -> CLOSED (rcv SYN)");
    assert_eq!(events[1], "LISTEN -> SYN_RCVD (rcv SYN)");
    assert_eq!(events[2], "SYN_RCVD -> ESTABLISHED (rcv ACK)");
    let stats = net.server.iface.stats();
    assert_eq!(
        stats.tcp_challenge_acks, 0,
        "no challenge ACK for the new SYN"
    );
    assert_eq!(
        stats.tcp_retransmissions + net.client.iface.stats().tcp_retransmissions,
        0
    );
}

#[test]
fn a_client_reuses_its_port_during_time_wait_with_timestamps() {
    reuse_port(true);
}

#[test]
fn a_client_reuses_its_port_during_time_wait_without_timestamps() {
    reuse_port(false);
}

/// Opens connections from the client that send nothing; returns their
/// client handles and the server handles the application accepted.
fn idle_peers(
    net: &mut LoopNet,
    listener: SocketHandle,
    tcp: TcpConfig,
    n: usize,
) -> (Vec<SocketHandle>, Vec<SocketHandle>) {
    let mut clients = Vec::new();
    let mut servers = Vec::new();
    for _ in 0..n {
        let h = net.client.sockets.add(socket(tcp, 4096, 4096)).unwrap();
        net.client
            .iface
            .connect(&mut net.client.sockets, h, server_endpoint(), net.now)
            .unwrap();
        clients.push(h);
        for _ in 0..20 {
            net.step(Duration::from_millis(5));
            if let Some(s) = net.server.sockets.accept(listener) {
                servers.push(s);
                break;
            }
        }
        net.step(Duration::from_millis(100));
    }
    assert_eq!(servers.len(), n);
    (clients, servers)
}

#[test]
fn idle_peers_holding_every_slot_give_way_to_a_new_client() {
    let tcp = tcp_config();
    let mut net = loop_net(SetCapacity::for_sockets(4), tcp);
    let listener = listen(&mut net, tcp, 4);
    // Three peers connect, are accepted and stay silent: every slot taken.
    let (clients, servers) = idle_peers(&mut net, listener, tcp, 3);
    assert_eq!(net.server.sockets.len(), 4);
    while net.server.sockets.pop_trace().is_some() {}
    net.now += Duration::from_secs(30);
    // A new client is served anyway: the peer idle longest gives way.
    let fresh = net.client.sockets.add(socket(tcp, 4096, 4096)).unwrap();
    cycle(&mut net, listener, fresh, None, b"hello", b"served");
    assert_eq!(net.server.iface.stats().tcp_evicted, 1);
    assert!(
        net.server.sockets.get::<TcpSocket>(servers[0]).is_none(),
        "the oldest went"
    );
    assert!(net.server.sockets.get::<TcpSocket>(servers[1]).is_some());
    let evicted: Vec<String> = std::iter::from_fn(|| net.server.sockets.pop_trace())
        .filter(|e| e.handle == Some(servers[0]))
        .map(|e| e.transition.to_string())
        .collect();
    assert_eq!(evicted, ["ESTABLISHED -> CLOSED (evicted)"]);
    // Its peer learns when it speaks again: a RST.
    let s = net.client.sockets.get_mut::<TcpSocket>(clients[0]).unwrap();
    s.send_slice(b"anyone?").unwrap();
    for _ in 0..20 {
        net.step(Duration::from_millis(50));
    }
    let s = net.client.sockets.get::<TcpSocket>(clients[0]).unwrap();
    assert_eq!(
        (s.state(), s.error()),
        (State::Closed, Some(TcpError::Reset))
    );
    let s = net.client.sockets.get::<TcpSocket>(clients[1]).unwrap();
    assert_eq!(s.state(), State::Established);
}

#[test]
fn a_listeners_idle_timeout_resets_peers_that_send_nothing() {
    let tcp = tcp_config();
    let mut net = loop_net(SetCapacity::for_sockets(4), tcp);
    let listener = listen(&mut net, tcp, 4);
    let options = ListenOptions::new().with_idle_timeout(Some(Duration::from_secs(10)));
    net.server
        .sockets
        .set_listen_options(listener, options)
        .unwrap();
    let start = net.now;
    let (clients, servers) = idle_peers(&mut net, listener, tcp, 2);
    // The second peer speaks; the first stays silent.
    let s = net.client.sockets.get_mut::<TcpSocket>(clients[1]).unwrap();
    s.send_slice(b"hi").unwrap();
    while net.now < start + Duration::from_secs(12) {
        if !net.step(Duration::from_secs(1)) {
            net.now += Duration::from_secs(1);
        }
    }
    let silent = net.client.sockets.get::<TcpSocket>(clients[0]).unwrap();
    assert_eq!(
        (silent.state(), silent.error()),
        (State::Closed, Some(TcpError::Reset))
    );
    let talker = net.client.sockets.get::<TcpSocket>(clients[1]).unwrap();
    assert_eq!(talker.state(), State::Established);
    assert_eq!(net.server.iface.stats().tcp_idle_timeouts, 1);
    let server_side = net.server.sockets.get::<TcpSocket>(servers[0]).unwrap();
    assert_eq!(server_side.state(), State::Closed);
    let _ = RingBuffer::<u8>::new(vec![]);
}
