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
        let config = Config::new(EthernetAddress([2, 0, 0, 0, 0, mac_last]))
            .with_ip(Ipv4Cidr::new(ip, 24).unwrap())
            .with_seed(seed)
            .with_tcp(tcp);
        Host {
            iface: Interface::new(config, capacity),
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

/// A device wrapper that prints the TCP segments of one port (either end)
/// as its host sends and receives them, for debugging a single connection
/// of a soak: `Tap::new(device, "C", Some(port))`. With `port` `None` it
/// prints nothing and costs one branch per frame.
pub struct Tap<D: Device> {
    pub inner: D,
    name: &'static str,
    port: Option<u16>,
}

impl<D: Device> Tap<D> {
    pub fn new(inner: D, name: &'static str, port: Option<u16>) -> Self {
        Tap { inner, name, port }
    }
}

/// The port to trace, from env `SOAK_TRACE_PORT`.
pub fn trace_port() -> Option<u16> {
    std::env::var("SOAK_TRACE_PORT").ok()?.parse().ok()
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
    // The one's-complement sum over the pseudo-header and the segment is
    // 0xffff when the checksum is right.
    let mut sum: u32 = 6 + tcp.len() as u32;
    for pair in ip.get(12..20)?.chunks(2).chain(tcp.chunks(2)) {
        let hi = u32::from(pair[0]) << 8;
        sum += hi | pair.get(1).map_or(0, |&b| u32::from(b));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let mut ip_sum: u32 = 0;
    for pair in ip.get(..ihl)?.chunks(2) {
        ip_sum += u32::from(pair[0]) << 8 | pair.get(1).map_or(0, |&b| u32::from(b));
    }
    while ip_sum > 0xffff {
        ip_sum = (ip_sum & 0xffff) + (ip_sum >> 16);
    }
    // Ethernet has no checksum here: flag a header that is not one of the
    // two hosts' (02:00:00:00:00:01/02, IPv4).
    let host_mac = |mac: &[u8]| mac[..5] == [2, 0, 0, 0, 0] && matches!(mac[5], 1 | 2);
    let eth_ok =
        host_mac(frame.get(0..6)?) && host_mac(frame.get(6..12)?) && frame.get(12..14)? == [8, 0];
    let bad = match (sum == 0xffff, ip_sum == 0xffff, eth_ok) {
        (true, true, true) => "",
        (_, _, false) => &*format!(" BAD-ETHERNET-HEADER {:02x?}", frame.get(..14)?),
        (false, true, _) => " BAD-TCP-CHECKSUM",
        (_, false, _) => " BAD-IP-CHECKSUM",
    };
    Some(format!(
        "{src}>{dst} {names} seq {seq} ack {ack} len {len} win {win}{ts}{bad}"
    ))
}

pub struct TapRx<'a, T> {
    inner: T,
    name: &'static str,
    port: Option<u16>,
    now: Instant,
    _life: core::marker::PhantomData<&'a ()>,
}

pub struct TapTx<'a, T> {
    inner: T,
    name: &'static str,
    port: Option<u16>,
    now: Instant,
    _life: core::marker::PhantomData<&'a ()>,
}

impl<T: RxToken> RxToken for TapRx<'_, T> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let (name, port, now) = (self.name, self.port, self.now);
        self.inner.consume(|frame| {
            if let Some(line) = port.and_then(|p| describe(frame, p)) {
                println!("{now} {name} <- {line}");
            }
            f(frame)
        })
    }
}

impl<T: TxToken> TxToken for TapTx<'_, T> {
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
        = TapRx<'a, D::RxToken<'a>>
    where
        Self: 'a;
    type TxToken<'a>
        = TapTx<'a, D::TxToken<'a>>
    where
        Self: 'a;

    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let (name, port) = (self.name, self.port);
        let (rx, tx) = self.inner.receive(now)?;
        Some((
            TapRx {
                inner: rx,
                name,
                port,
                now,
                _life: core::marker::PhantomData,
            },
            TapTx {
                inner: tx,
                name,
                port,
                now,
                _life: core::marker::PhantomData,
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
            _life: core::marker::PhantomData,
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
