//! A two-stack harness on a virtual clock, shared by the integration tests.
#![allow(dead_code)]

use pollnet::iface::{Config, Interface};
use pollnet::phy::{Device, FaultInjector, LinkEnd};
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
