//! Proves that `Interface::poll` allocates nothing during a bulk transfer
//! once the connection is up (DESIGN.md rule 5): a counting global allocator
//! counts every allocation made on this test's thread while a 4 MB transfer
//! runs over a link whose frame buffers were allocated beforehand, and
//! then while the idle connection's neighbor entries go stale and are
//! revalidated by unicast ARP probes (NUD).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

use pollnet::iface::{Config, Interface};
use pollnet::phy::{Device, DeviceCapabilities, RxToken, TxToken};
use pollnet::socket::tcp::{State, TcpConfig, TcpSocket};
use pollnet::socket::{ChildBuffers, SocketSet};
use pollnet::storage::RingBuffer;
use pollnet::time::{Duration, Instant};
use pollnet::wire::{EthernetAddress, IpAddress, IpEndpoint, Ipv4Address, Ipv4Cidr};

struct CountingAllocator;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn counting() -> bool {
    COUNTING.try_with(Cell::get).unwrap_or(false)
}

// SAFETY: every call is forwarded to the system allocator unchanged.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if counting() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if counting() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

const FRAME: usize = 1514;
const SLOTS: usize = 256;

/// One direction of the link: a ring of preallocated frame buffers.
struct Queue {
    frames: Vec<[u8; FRAME]>,
    lens: Vec<usize>,
    head: usize,
    len: usize,
}

impl Queue {
    fn new() -> Rc<RefCell<Queue>> {
        Rc::new(RefCell::new(Queue {
            frames: vec![[0u8; FRAME]; SLOTS],
            lens: vec![0; SLOTS],
            head: 0,
            len: 0,
        }))
    }
}

/// One end of a zero-delay link that never allocates after construction.
struct StaticEnd {
    rx: Rc<RefCell<Queue>>,
    tx: Rc<RefCell<Queue>>,
}

struct Rx<'a>(&'a RefCell<Queue>);
struct Tx<'a>(&'a RefCell<Queue>);

impl RxToken for Rx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let mut q = self.0.borrow_mut();
        let head = q.head;
        let len = q.lens[head];
        q.head = (head + 1) % SLOTS;
        q.len -= 1;
        f(&q.frames[head][..len])
    }
}

impl TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut q = self.0.borrow_mut();
        assert!(q.len < SLOTS && len <= FRAME, "link full or frame too long");
        let tail = (q.head + q.len) % SLOTS;
        q.lens[tail] = len;
        q.len += 1;
        f(&mut q.frames[tail][..len])
    }
}

impl Device for StaticEnd {
    type RxToken<'a> = Rx<'a>;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(Rx<'_>, Tx<'_>)> {
        if self.rx.borrow().len == 0 || self.tx.borrow().len >= SLOTS {
            return None;
        }
        Some((Rx(&self.rx), Tx(&self.tx)))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Tx<'_>> {
        (self.tx.borrow().len < SLOTS).then_some(Tx(&self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.max_transmission_unit = 1500;
        caps
    }
}

fn host(mac: u8, ip: Ipv4Address, tcp: TcpConfig) -> (Interface<'static>, SocketSet<'static>) {
    let config = Config::new(EthernetAddress([2, 0, 0, 0, 0, mac]), u128::from(mac))
        .with_ip(Ipv4Cidr::new(ip, 24).unwrap())
        .with_drop_syn_fin(tcp.drop_syn_fin);
    (Interface::new(config).unwrap(), SocketSet::with_capacity(4))
}

#[test]
fn poll_allocates_nothing_during_bulk_transfer() {
    let (a_to_b, b_to_a) = (Queue::new(), Queue::new());
    let mut dev_a = StaticEnd {
        rx: b_to_a.clone(),
        tx: a_to_b.clone(),
    };
    let mut dev_b = StaticEnd {
        rx: a_to_b,
        tx: b_to_a,
    };
    let tcp = TcpConfig::default();
    let (mut iface_a, mut sockets_a) = host(1, Ipv4Address::new(192, 0, 2, 1), tcp);
    let (mut iface_b, mut sockets_b) = host(2, Ipv4Address::new(192, 0, 2, 2), tcp);

    let new_socket = || {
        TcpSocket::new(
            RingBuffer::new(vec![0u8; 65536]),
            RingBuffer::new(vec![0u8; 65536]),
        )
    };
    let listener = sockets_b.add(new_socket()).unwrap();
    sockets_b
        .listen(
            listener,
            80,
            1,
            ChildBuffers::Alloc {
                rx: 65536,
                tx: 65536,
            },
        )
        .unwrap();
    let client = sockets_a.add(new_socket()).unwrap();
    let remote = IpEndpoint::new(IpAddress::v4(192, 0, 2, 2), 80);
    let mut now = Instant::ZERO;
    iface_a
        .connect(&mut sockets_a, client, remote, now)
        .unwrap();

    let chunk = vec![0x5au8; 8192];
    let mut sink = vec![0u8; 8192];
    let mut server = None;
    // Polls both ends every 100 ms for `idle`, then moves `bytes`.
    let mut transfer = |idle: Duration,
                        bytes: usize,
                        now: &mut Instant,
                        server: &mut Option<_>|
     -> (usize, State) {
        let idle_end = *now + idle;
        while *now < idle_end {
            iface_a.poll(*now, &mut dev_a, &mut sockets_a);
            iface_b.poll(*now, &mut dev_b, &mut sockets_b);
            *now += Duration::from_millis(100);
        }
        let (mut sent, mut received) = (0, 0);
        while received < bytes {
            if sent < bytes {
                let socket = sockets_a.get_mut::<TcpSocket>(client).unwrap();
                let n = chunk.len().min(bytes - sent);
                sent += socket.send_slice(&chunk[..n]).unwrap_or(0);
            }
            iface_a.poll(*now, &mut dev_a, &mut sockets_a);
            // The receiver through the split entry points: a frame at a
            // time, then egress (the same work as `poll`, counted too).
            while iface_b.poll_ingress_single(*now, &mut dev_b, &mut sockets_b) {}
            iface_b.poll_egress(*now, &mut dev_b, &mut sockets_b);
            if server.is_none() {
                *server = sockets_b.accept(listener);
            }
            if let Some(h) = *server {
                let socket = sockets_b.get_mut::<TcpSocket>(h).unwrap();
                while let Ok(n) = socket.recv_slice(&mut sink) {
                    if n == 0 {
                        break;
                    }
                    received += n;
                }
            }
            *now += Duration::from_millis(1);
        }
        (
            received,
            sockets_a.get::<TcpSocket>(client).unwrap().state(),
        )
    };
    let unicast_probes = |a: &Interface, b: &Interface| {
        a.stats().arp_unicast_probes_sent + b.stats().arp_unicast_probes_sent
    };

    // Handshake and warm-up: the listener allocates the new connection's
    // buffers here, which is allowed.
    assert_eq!(
        transfer(Duration::ZERO, 1 << 20, &mut now, &mut server),
        (1 << 20, State::Established)
    );

    COUNTING.with(|c| c.set(true));
    let (moved, state) = transfer(Duration::ZERO, 4 << 20, &mut now, &mut server);
    // Idle past ReachableTime (at most 45 s): the entries go stale; the
    // next data sends on them, and the receiver, which sees no progress
    // of its own, probes after 5 s.
    let (moved_later, _) = transfer(Duration::from_secs(60), 1 << 16, &mut now, &mut server);
    let (_, state_later) = transfer(Duration::from_secs(10), 0, &mut now, &mut server);
    COUNTING.with(|c| c.set(false));

    assert_eq!((moved, state), (4 << 20, State::Established));
    assert_eq!((moved_later, state_later), (1 << 16, State::Established));
    assert!(
        unicast_probes(&iface_a, &iface_b) > 0,
        "the NUD probe path ran while counting"
    );
    assert_eq!(
        ALLOCATIONS.load(Ordering::Relaxed),
        0,
        "poll allocated during the transfer"
    );
}

/// The same over an IP-medium link with segmentation offload: bare IP
/// packets, no ARP, and TCP super-segments of up to 64 KiB carried whole
/// (the in-memory link recycles its buffers). The TSO path, the IP medium
/// and the end-of-poll flush allocate nothing either.
#[test]
fn poll_allocates_nothing_with_tso_on_the_ip_medium() {
    use pollnet::phy::{Loopback, Medium};

    let (a, b) = Loopback::pair(1500, Duration::ZERO);
    let mut dev_a = a.with_medium(Medium::Ip).with_tso(65_535);
    let mut dev_b = b.with_medium(Medium::Ip).with_tso(65_535);
    let tcp = TcpConfig::default();
    let (mut iface_a, mut sockets_a) = host(1, Ipv4Address::new(192, 0, 2, 1), tcp);
    let (mut iface_b, mut sockets_b) = host(2, Ipv4Address::new(192, 0, 2, 2), tcp);
    let new_socket = || {
        TcpSocket::new(
            RingBuffer::new(vec![0u8; 1 << 20]),
            RingBuffer::new(vec![0u8; 1 << 20]),
        )
    };
    let server = sockets_b.add(new_socket()).unwrap();
    sockets_b
        .get_mut::<TcpSocket>(server)
        .unwrap()
        .listen(80)
        .unwrap();
    let client = sockets_a.add(new_socket()).unwrap();
    let remote = IpEndpoint::new(IpAddress::v4(192, 0, 2, 2), 80);
    let mut now = Instant::ZERO;
    iface_a
        .connect(&mut sockets_a, client, remote, now)
        .unwrap();
    let chunk = vec![0xa5u8; 64 * 1024];
    let mut sink = vec![0u8; 64 * 1024];
    let mut transfer = |bytes: usize, now: &mut Instant| -> usize {
        let (mut sent, mut received) = (0, 0);
        for _ in 0..1_000_000 {
            if received >= bytes {
                break;
            }
            if sent < bytes {
                let socket = sockets_a.get_mut::<TcpSocket>(client).unwrap();
                let n = chunk.len().min(bytes - sent);
                sent += socket.send_slice(&chunk[..n]).unwrap_or(0);
            }
            iface_a.poll(*now, &mut dev_a, &mut sockets_a);
            iface_b.poll(*now, &mut dev_b, &mut sockets_b);
            let socket = sockets_b.get_mut::<TcpSocket>(server).unwrap();
            while let Ok(n) = socket.recv_slice(&mut sink) {
                if n == 0 {
                    break;
                }
                received += n;
            }
            *now += Duration::from_micros(100);
        }
        received
    };
    assert_eq!(transfer(4 << 20, &mut now), 4 << 20);
    COUNTING.with(|c| c.set(true));
    let moved = transfer(16 << 20, &mut now);
    COUNTING.with(|c| c.set(false));
    assert_eq!(moved, 16 << 20);
    let stats = iface_a.stats();
    assert!(
        stats.tx_tso_frames > 100,
        "super-segments were sent: {stats:?}"
    );
    assert_eq!(iface_b.stats().rx_drop_tcp_checksum, 0);
    assert_eq!(
        ALLOCATIONS.load(Ordering::Relaxed),
        0,
        "poll allocated during the transfer"
    );
}

/// A server whose connections take pooled buffers: after the first round,
/// whole connection lives (a half-open record, the handshake, data both
/// ways, the server's close, the TIME_WAIT record) allocate nothing; the
/// client reuses one socket, which its passive close leaves CLOSED.
#[test]
fn connection_lifecycles_with_pooled_buffers_allocate_nothing() {
    use pollnet::socket::SetCapacity;

    let (a_to_b, b_to_a) = (Queue::new(), Queue::new());
    let mut dev_a = StaticEnd {
        rx: b_to_a.clone(),
        tx: a_to_b.clone(),
    };
    let mut dev_b = StaticEnd {
        rx: a_to_b,
        tx: b_to_a,
    };
    let tcp = TcpConfig::default();
    let (mut iface_a, mut sockets_a) = host(3, Ipv4Address::new(192, 0, 2, 3), tcp);
    let (mut iface_b, _) = host(4, Ipv4Address::new(192, 0, 2, 4), tcp);
    let mut sockets_b = SocketSet::with_capacities(SetCapacity::for_sockets(4));
    let pool: Vec<_> = (0..2)
        .map(|_| {
            Some((
                RingBuffer::new(vec![0u8; 8192]),
                RingBuffer::new(vec![0u8; 8192]),
            ))
        })
        .collect();
    let listener = sockets_b
        .add(TcpSocket::new(
            RingBuffer::new(vec![0u8; 64]),
            RingBuffer::new(vec![0u8; 64]),
        ))
        .unwrap();
    sockets_b
        .listen(listener, 80, 2, ChildBuffers::Pool(pool.into()))
        .unwrap();
    let client = sockets_a
        .add(TcpSocket::new(
            RingBuffer::new(vec![0u8; 8192]),
            RingBuffer::new(vec![0u8; 8192]),
        ))
        .unwrap();
    let remote = IpEndpoint::new(IpAddress::v4(192, 0, 2, 4), 80);
    let request = [0x11u8; 3000];
    let response = [0x22u8; 5000];
    let mut sink = [0u8; 4096];
    let mut now = Instant::ZERO;

    let mut round = |now: &mut Instant| {
        iface_a
            .connect(&mut sockets_a, client, remote, *now)
            .unwrap();
        let (mut sent, mut got, mut answered) = (0, 0, false);
        let mut server = None;
        let mut server_got = 0;
        let mut client_closed = false;
        for _ in 0..10_000 {
            iface_a.poll(*now, &mut dev_a, &mut sockets_a);
            iface_b.poll(*now, &mut dev_b, &mut sockets_b);
            let c = sockets_a.get_mut::<TcpSocket>(client).unwrap();
            if c.state() == State::Established && sent < request.len() {
                sent += c.send_slice(&request[sent..]).unwrap();
            }
            while let Ok(n) = c.recv_slice(&mut sink) {
                if n == 0 {
                    break;
                }
                got += n;
            }
            if !client_closed && !c.may_recv() && c.state() == State::CloseWait {
                c.close();
                client_closed = true;
            }
            if client_closed && c.state() == State::Closed {
                break;
            }
            if server.is_none() {
                server = sockets_b.accept(listener);
            }
            if let Some(s) = server.and_then(|h| sockets_b.get_mut::<TcpSocket>(h)) {
                while let Ok(n) = s.recv_slice(&mut sink) {
                    if n == 0 {
                        break;
                    }
                    server_got += n;
                }
                if server_got == request.len() && !answered {
                    assert_eq!(s.send_slice(&response), Ok(response.len()));
                    s.close();
                    answered = true;
                }
            }
            *now += Duration::from_millis(1);
        }
        assert_eq!((server_got, got), (request.len(), response.len()));
        // The server's side is a TIME_WAIT record, its buffers pooled again.
        assert!(sockets_b.get::<TcpSocket>(server.unwrap()).is_none());
        assert_eq!(sockets_b.len(), 1);
    };

    round(&mut now);
    COUNTING.with(|c| c.set(true));
    for _ in 0..20 {
        round(&mut now);
    }
    COUNTING.with(|c| c.set(false));
    assert_eq!(
        ALLOCATIONS.load(Ordering::Relaxed),
        0,
        "a connection's life allocated"
    );
    assert_eq!(
        sockets_b.tcp_records().count(),
        16,
        "TIME_WAIT records, oldest evicted"
    );
}

/// UDP datagrams both ways (echoed), ICMP echo requests and replies, and
/// port unreachables sent and surfaced: after the first round (ARP), none
/// of it allocates.
#[test]
fn udp_and_ping_allocate_nothing() {
    use pollnet::socket::icmp::{IcmpRxMetadata, IcmpSocket, IcmpTxMetadata};
    use pollnet::socket::udp::{UdpPacketBuffer, UdpPacketMetadata, UdpSocket};
    use pollnet::storage::PacketBuffer;

    let (a_to_b, b_to_a) = (Queue::new(), Queue::new());
    let mut dev_a = StaticEnd {
        rx: b_to_a.clone(),
        tx: a_to_b.clone(),
    };
    let mut dev_b = StaticEnd {
        rx: a_to_b,
        tx: b_to_a,
    };
    let tcp = TcpConfig::default();
    let (mut iface_a, mut sockets_a) = host(5, Ipv4Address::new(192, 0, 2, 5), tcp);
    let (mut iface_b, mut sockets_b) = host(6, Ipv4Address::new(192, 0, 2, 6), tcp);
    let udp = || {
        let buffer =
            || UdpPacketBuffer::new(vec![UdpPacketMetadata::EMPTY; 8], vec![0u8; 16 * 1024]);
        UdpSocket::new(buffer(), buffer())
    };
    let echo = sockets_b.add(udp()).unwrap();
    iface_b.udp_bind(&mut sockets_b, echo, 7).unwrap();
    let client = sockets_a.add(udp()).unwrap();
    let server_addr = IpAddress::v4(192, 0, 2, 6);
    iface_a
        .udp_connect(&mut sockets_a, client, IpEndpoint::new(server_addr, 7))
        .unwrap();
    let closed = sockets_a.add(udp()).unwrap();
    iface_a.udp_bind(&mut sockets_a, closed, 0).unwrap();
    // Two sockets on one port of B: a broadcast reaches both.
    let any_6767 = sockets_b.add(udp()).unwrap();
    iface_b.udp_bind(&mut sockets_b, any_6767, 6767).unwrap();
    let exact_6767 = sockets_b.add(udp()).unwrap();
    iface_b
        .udp_bind(
            &mut sockets_b,
            exact_6767,
            IpEndpoint::new(server_addr, 6767),
        )
        .unwrap();
    let broadcast = IpEndpoint::new(IpAddress::v4(255, 255, 255, 255), 6767);
    let pinger = sockets_a
        .add(IcmpSocket::new(
            PacketBuffer::new(vec![IcmpRxMetadata::EMPTY; 4], vec![0u8; 1024]),
            PacketBuffer::new(vec![IcmpTxMetadata::EMPTY; 4], vec![0u8; 1024]),
        ))
        .unwrap();
    iface_a.icmp_bind(&mut sockets_a, pinger, Some(77)).unwrap();

    let payload = [0x3cu8; 1472];
    let mut buf = [0u8; 1472];
    let mut now = Instant::ZERO;
    let mut round = |seq: u16, now: &mut Instant| {
        let c = sockets_a.get_mut::<UdpSocket>(client).unwrap();
        for len in [0, 1, 512, 1472] {
            c.send_connected(&payload[..len]).unwrap();
        }
        sockets_a
            .get_mut::<UdpSocket>(closed)
            .unwrap()
            .send_to(b"nobody", IpEndpoint::new(server_addr, 9))
            .unwrap();
        sockets_a
            .get_mut::<UdpSocket>(closed)
            .unwrap()
            .send_to(b"everyone", broadcast)
            .unwrap();
        sockets_a
            .get_mut::<IcmpSocket>(pinger)
            .unwrap()
            .send_echo(server_addr, seq, &payload[..56])
            .unwrap();
        let (mut echoed, mut pinged, mut refused, mut broadcasts) = (0, false, false, 0);
        for _ in 0..1000 {
            iface_a.poll(*now, &mut dev_a, &mut sockets_a);
            iface_b.poll(*now, &mut dev_b, &mut sockets_b);
            let s = sockets_b.get_mut::<UdpSocket>(echo).unwrap();
            while let Ok((n, from)) = s.recv_from(&mut buf) {
                s.send_to(&buf[..n], from).unwrap();
            }
            let c = sockets_a.get_mut::<UdpSocket>(client).unwrap();
            while let Ok((n, _)) = c.recv_from(&mut buf) {
                assert_eq!(buf[..n], payload[..n]);
                echoed += 1;
            }
            let p = sockets_a.get_mut::<IcmpSocket>(pinger).unwrap();
            if let Some((reply, _)) = p.recv() {
                assert_eq!(reply.seq_no, seq);
                pinged = true;
            }
            let r = sockets_a.get_mut::<UdpSocket>(closed).unwrap();
            refused |= r.take_error().is_some_and(|e| e.is_port_unreachable());
            for h in [any_6767, exact_6767] {
                let b = sockets_b.get_mut::<UdpSocket>(h).unwrap();
                while let Ok((n, _)) = b.recv_from(&mut buf) {
                    assert_eq!(&buf[..n], b"everyone");
                    broadcasts += 1;
                }
            }
            if echoed == 4 && pinged && refused && broadcasts == 2 {
                break;
            }
            *now += Duration::from_millis(1);
        }
        assert_eq!((echoed, pinged, refused, broadcasts), (4, true, true, 2));
        // Stay within the port unreachable rate limit.
        *now += Duration::from_millis(200);
    };
    round(0, &mut now);
    COUNTING.with(|c| c.set(true));
    for seq in 1..50 {
        round(seq, &mut now);
    }
    COUNTING.with(|c| c.set(false));
    assert_eq!(
        ALLOCATIONS.load(Ordering::Relaxed),
        0,
        "UDP or ICMP echo allocated"
    );
    assert_eq!(iface_b.stats().icmp_errors_rate_limited, 0);
}
