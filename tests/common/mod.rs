//! A two-stack harness on a virtual clock, shared by the integration tests.
#![allow(dead_code)]

use pollnet::iface::{Config, Interface};
use pollnet::phy::{Device, DeviceCapabilities, FaultInjector, LinkEnd, RxToken, TxToken};
use pollnet::socket::SocketSet;
use pollnet::socket::tcp::{TcpConfig, TcpSocket};
use pollnet::storage::RingBuffer;
use pollnet::time::{Duration, Instant};
use pollnet::wire::{EthernetAddress, Ipv4Address, Ipv4Cidr};

pub const CLIENT_IP: Ipv4Address = Ipv4Address::new(192, 0, 2, 1);
pub const SERVER_IP: Ipv4Address = Ipv4Address::new(192, 0, 2, 2);

/// When a device next has a frame to deliver.
pub trait NextEvent {
    fn next_event(&self) -> Option<Instant>;
}

impl NextEvent for LinkEnd {
    fn next_event(&self) -> Option<Instant> {
        self.next_arrival()
    }
}

impl<D: Device + NextEvent> NextEvent for FaultInjector<D> {
    fn next_event(&self) -> Option<Instant> {
        earliest(self.inner().next_event(), self.next_release_at())
    }
}

pub fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// One stack.
pub struct Host<D: Device> {
    pub iface: Interface<'static>,
    pub device: D,
    pub sockets: SocketSet<'static>,
}

impl<D: Device + NextEvent> Host<D> {
    pub fn new(
        device: D,
        mac_last: u8,
        ip: Ipv4Address,
        seed: u64,
        tcp: TcpConfig,
        capacity: usize,
    ) -> Self {
        let config = Config::new(EthernetAddress([2, 0, 0, 0, 0, mac_last]), u128::from(seed))
            .with_ip(Ipv4Cidr::new(ip, 24).unwrap())
            .with_drop_syn_fin(tcp.drop_syn_fin);
        Host {
            iface: Interface::new(config).unwrap(),
            device,
            sockets: SocketSet::with_capacity(capacity),
        }
    }

    pub fn poll(&mut self, now: Instant) -> bool {
        self.iface.poll(now, &mut self.device, &mut self.sockets)
    }

    pub fn next_event(&self) -> Option<Instant> {
        earliest(self.iface.poll_at(&self.sockets), self.device.next_event())
    }
}

pub fn socket(tcp: TcpConfig, rx: usize, tx: usize) -> TcpSocket<'static> {
    let mut s = TcpSocket::new(
        RingBuffer::new(vec![0u8; rx]),
        RingBuffer::new(vec![0u8; tx]),
    );
    s.set_config(tcp);
    s
}

/// Test TCP settings: a short MSL so TIME_WAIT ends quickly in virtual time.
pub fn tcp_config() -> TcpConfig {
    let mut tcp = TcpConfig::default();
    tcp.msl = Duration::from_secs(2);
    tcp.min_rto = Duration::from_millis(200);
    tcp
}

/// The byte at `offset` of stream `id`: pseudo-random, so receivers check
/// every byte without a copy.
pub fn stream_byte(id: u64, offset: usize) -> u8 {
    let mut z = id.wrapping_mul(0xa076_1d64_78bd_642f)
        ^ (offset as u64 / 8).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    z.to_le_bytes()[offset % 8]
}

/// Two hosts and a virtual clock.
pub struct Net<C: Device, S: Device> {
    pub client: Host<C>,
    pub server: Host<S>,
    pub now: Instant,
}

impl<C: Device + NextEvent, S: Device + NextEvent> Net<C, S> {
    /// Polls both hosts at the current time until neither does anything.
    pub fn settle(&mut self) {
        for _ in 0..10_000 {
            let a = self.client.poll(self.now);
            let b = self.server.poll(self.now);
            if !a && !b {
                return;
            }
        }
        panic!("hosts kept busy at {} without the clock moving", self.now);
    }

    /// Moves the clock to the next event (or by `max_step` if sooner) and
    /// settles. Returns false when nothing is left to happen.
    pub fn step(&mut self, max_step: Duration) -> bool {
        self.settle();
        let limit = self.now + max_step;
        let next = earliest(self.client.next_event(), self.server.next_event());
        let next = match next {
            Some(t) if t <= self.now => self.now + Duration::from_micros(1),
            Some(t) => t.min(limit),
            None => return false,
        };
        self.now = next;
        self.settle();
        true
    }
}

/// A device wrapper between a host and its link.
///
/// It prints the TCP segments of one port (either end) as its host sends
/// and receives them, for debugging a single connection of a soak
/// (`Tap::new(device, "C", Some(port))`; with `None` it prints nothing).
///
/// With [`Tap::with_link_check`] it also drops received frames whose link
/// layer was damaged: a bad Ethernet header, or an ARP body that is not one
/// the two hosts send. A real Ethernet's frame check sequence drops such
/// frames; the fault injector has no FCS, and the stack cannot tell a
/// corrupted ARP reply from a true one (ARP has no checksum), so without
/// this a flipped bit in an ARP reply's sender address sends all traffic
/// to a wrong MAC until the neighbor entry expires. Corruption inside the
/// IP packet still reaches the stack, whose IP and TCP checksums must catch
/// it.
pub struct Tap<D: Device> {
    pub inner: D,
    name: &'static str,
    port: Option<u16>,
    link_check: bool,
    rx_frame: Vec<u8>,
    /// Received frames dropped for a damaged link layer.
    pub link_damaged: u64,
}

impl<D: Device> Tap<D> {
    pub fn new(inner: D, name: &'static str, port: Option<u16>) -> Self {
        Tap {
            inner,
            name,
            port,
            link_check: false,
            rx_frame: Vec::new(),
            link_damaged: 0,
        }
    }

    /// Drops received frames with a damaged link layer (see the type).
    pub fn with_link_check(mut self) -> Self {
        self.link_check = true;
        self
    }
}

/// The port to trace, from env `SOAK_TRACE_PORT`.
pub fn trace_port() -> Option<u16> {
    std::env::var("SOAK_TRACE_PORT").ok()?.parse().ok()
}

/// The MAC of host `n` (1 is the client, 2 the server, as the tests build
/// them with `Host::new`).
fn host_mac(n: u8) -> [u8; 6] {
    [2, 0, 0, 0, 0, n]
}

/// Which host (1 or 2) a MAC belongs to.
fn host_of_mac(mac: &[u8]) -> Option<u8> {
    (1..=2).find(|&n| mac == host_mac(n))
}

/// Whether a frame's Ethernet header is one the two hosts send, and, for
/// ARP, whether its body is exactly a request or reply between them.
fn link_layer_intact(frame: &[u8]) -> bool {
    let (Some(dst), Some(src), Some(ethertype)) =
        (frame.get(0..6), frame.get(6..12), frame.get(12..14))
    else {
        return false;
    };
    let Some(sender) = host_of_mac(src) else {
        return false;
    };
    let other = 3 - sender;
    let broadcast = dst == [0xff; 6];
    if dst != host_mac(other) && !broadcast {
        return false;
    }
    match ethertype {
        [8, 0] => !broadcast,
        [8, 6] => {
            let ip = |n: u8| match n {
                1 => CLIENT_IP.0,
                _ => SERVER_IP.0,
            };
            let Some(arp) = frame.get(14..42) else {
                return false;
            };
            let request = arp[6..8] == [0, 1];
            let reply = arp[6..8] == [0, 2];
            let target_mac: [u8; 6] = if request { [0; 6] } else { host_mac(other) };
            arp[..6] == [0, 1, 8, 0, 6, 4]
                && (request && broadcast || reply && !broadcast)
                && arp[8..14] == host_mac(sender)
                && arp[14..18] == ip(sender)
                && arp[18..24] == target_mac
                && arp[24..28] == ip(other)
        }
        _ => false,
    }
}

/// One line describing the TCP segment in an Ethernet/IPv4 frame, if it
/// belongs to `port`.
fn describe(frame: &[u8], port: u16) -> Option<String> {
    let ip = frame.get(14..)?;
    if ip.first()? >> 4 != 4 || *ip.get(9)? != 6 {
        return None;
    }
    let ihl = usize::from(ip[0] & 0xf) * 4;
    let total = usize::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
    let tcp = ip.get(ihl..total.max(ihl))?;
    let be16 = |i: usize| Some(u16::from_be_bytes([*tcp.get(i)?, *tcp.get(i + 1)?]));
    let be32 = |i: usize| {
        Some(u32::from_be_bytes([
            *tcp.get(i)?,
            *tcp.get(i + 1)?,
            *tcp.get(i + 2)?,
            *tcp.get(i + 3)?,
        ]))
    };
    let (src, dst) = (be16(0)?, be16(2)?);
    if src != port && dst != port {
        return None;
    }
    let (seq, ack) = (be32(4)?, be32(8)?);
    let off = usize::from(tcp.get(12)? >> 4) * 4;
    let flags = *tcp.get(13)?;
    let win = be16(14)?;
    let mut names = String::new();
    for (bit, name) in [(2, 'R'), (1, 'S'), (0, 'F'), (3, 'P'), (4, '.')] {
        if flags & (1 << bit) != 0 {
            names.push(name);
        }
    }
    let mut ts = String::new();
    let mut i = 20;
    while i < off {
        match tcp.get(i) {
            Some(0) | None => break,
            Some(1) => i += 1,
            Some(&kind) => {
                let len = usize::from(*tcp.get(i + 1)?).max(2);
                if kind == 8 && len == 10 {
                    ts = format!(" ts {}/{}", be32(i + 2)?, be32(i + 6)?);
                }
                i += len;
            }
        }
    }
    let len = tcp.len().saturating_sub(off);
    // A one's-complement sum over the pseudo-header and segment (or the IP
    // header) is 0xffff when the checksum is right.
    let fold = |mut sum: u32| {
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum
    };
    let words = |bytes: &[u8]| -> u32 {
        bytes
            .chunks(2)
            .map(|pair| u32::from(pair[0]) << 8 | pair.get(1).map_or(0, |&b| u32::from(b)))
            .sum()
    };
    let tcp_sum = fold(6 + tcp.len() as u32 + words(ip.get(12..20)?) + words(tcp));
    let ip_sum = fold(words(ip.get(..ihl)?));
    let bad = if !link_layer_intact(frame) {
        format!(" BAD-LINK-LAYER {:02x?}", frame.get(..14)?)
    } else if ip_sum != 0xffff {
        " BAD-IP-CHECKSUM".to_string()
    } else if tcp_sum != 0xffff {
        " BAD-TCP-CHECKSUM".to_string()
    } else {
        String::new()
    };
    Some(format!(
        "{src}>{dst} {names} seq {seq} ack {ack} len {len} win {win}{ts}{bad}"
    ))
}

pub struct TapRx<'a> {
    frame: &'a [u8],
    name: &'static str,
    port: Option<u16>,
    now: Instant,
}

pub struct TapTx<T> {
    inner: T,
    name: &'static str,
    port: Option<u16>,
    now: Instant,
}

impl RxToken for TapRx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        if let Some(line) = self.port.and_then(|p| describe(self.frame, p)) {
            println!("{} {} <- {line}", self.now, self.name);
        }
        f(self.frame)
    }
}

impl<T: TxToken> TxToken for TapTx<T> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let (name, port, now) = (self.name, self.port, self.now);
        self.inner.consume(len, |frame| {
            let result = f(frame);
            if let Some(line) = port.and_then(|p| describe(frame, p)) {
                println!("{now} {name} -> {line}");
            }
            result
        })
    }
}

impl<D: Device> Device for Tap<D> {
    type RxToken<'a>
        = TapRx<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = TapTx<D::TxToken<'a>>
    where
        Self: 'a;

    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        // The frame is copied out so a damaged one can be dropped; the reply
        // token is then a fresh transmit token (the devices tests wrap
        // always have one).
        loop {
            let (rx, _) = self.inner.receive(now)?;
            let frame = &mut self.rx_frame;
            frame.clear();
            rx.consume(|bytes| frame.extend_from_slice(bytes));
            if !self.link_check || link_layer_intact(&self.rx_frame) {
                break;
            }
            self.link_damaged += 1;
            if let Some(line) = self.port.and_then(|p| describe(&self.rx_frame, p)) {
                println!("{now} {} <- (dropped) {line}", self.name);
            }
        }
        let (name, port) = (self.name, self.port);
        let tx = self.inner.transmit(now)?;
        Some((
            TapRx {
                frame: &self.rx_frame,
                name,
                port,
                now,
            },
            TapTx {
                inner: tx,
                name,
                port,
                now,
            },
        ))
    }

    fn transmit(&mut self, now: Instant) -> Option<Self::TxToken<'_>> {
        let (name, port) = (self.name, self.port);
        let tx = self.inner.transmit(now)?;
        Some(TapTx {
            inner: tx,
            name,
            port,
            now,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        self.inner.capabilities()
    }
}

impl<D: Device + NextEvent> NextEvent for Tap<D> {
    fn next_event(&self) -> Option<Instant> {
        self.inner.next_event()
    }
}
