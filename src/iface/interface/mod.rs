//! The [`Interface`]: ingress, egress and scheduling.
//!
//! This file holds the interface's state, its public API and the per-poll
//! driver; frame handling is split per protocol (`ethernet`, `arp`,
//! `ipv4`, `icmp`, `tcp`, `udp`). The per-socket tables (demultiplexing, timers,
//! ready set) belong to the [`SocketSet`], which is sized once.

mod arp;
mod config;
mod dhcpv4;
pub use self::dhcpv4::Dhcpv4ApplyError;
mod ethernet;
mod icmp;
mod ipv4;
#[cfg(feature = "proto-ipv6")]
mod ipv6;
mod ports;
mod tcp;
mod udp;

use managed::ManagedSlice;

use super::neighbor::{Neighbor, NeighborCache, Resolution};
use super::reassembly::{Reassembler, ReassemblySlot};
use super::route::Routes;
use super::{Config, ConfigError, MAX_IP_ADDRS, Stats};
use crate::phy::{Device, DeviceCapabilities, FrameMeta, Medium, RxToken, TxToken};
use crate::socket::tcp::{ConnectError, IcmpError, IsnGenerator, TcpSocket, TcpStats};
use crate::socket::{Context, Packet, SocketHandle, SocketSet};
use crate::storage::siphash::{SipKey, siphash24};
use crate::time::{Duration, Instant};
use crate::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    EthernetRepr, Icmpv4Packet, Icmpv4Repr, IpAddress, IpEndpoint, IpProtocol, IpRepr, Ipv4Address,
    Ipv4Cidr, Ipv4Packet, Ipv4Repr, TcpPacket, TcpRepr,
};

use self::config::clamp_mtu;
use self::ethernet::{tcp_frame_meta, write_ethernet};
use self::ipv4::emit_ipv4_header;
use self::ports::PortSelector;
use self::tcp::write_ipv4_tcp;
use self::udp::IcmpRateLimit;

const ETHERNET_HEADER_LEN: usize = 14;
const IPV4_HEADER_LEN: usize = 20;
/// Frames handled per poll when the device states no burst size.
const DEFAULT_INGRESS_BURST: usize = 64;
/// Held packets whose next hop stays unresolved this long are dropped
/// (the neighbor cache's default resolution: three requests a second apart).
const HELD_PACKET_LIFETIME: Duration = Duration::from_secs(3);
/// The IP MTU assumed before the first poll tells the device's (RFC 894's
/// Ethernet MTU).
const DEFAULT_IP_MTU: usize = 1500;
/// TTL of packets we originate.
const DEFAULT_HOP_LIMIT: u8 = 64;
/// How often held packets are looked at again while their next hop is
/// being resolved (the neighbor cache's own timers send the requests).
const HELD_RECHECK_INTERVAL: Duration = Duration::from_secs(1);
/// Bytes of a held packet's record header: next hop (4), time (8), length (4).
const HELD_RECORD_HEADER: usize = 16;

/// The storage an interface works in, for builds without an allocator.
/// Nothing in it is sized by the socket set: the set owns the per-socket
/// tables.
#[derive(Debug)]
pub struct InterfaceStorage<'a> {
    /// Neighbor cache entries (ARP; NDP).
    pub neighbors: ManagedSlice<'a, Neighbor>,
    /// Bytes for packets waiting for ARP.
    pub held: ManagedSlice<'a, u8>,
    /// One slot per IPv4 datagram reassembled at once (none: fragments are
    /// dropped).
    pub reassembly_slots: ManagedSlice<'a, ReassemblySlot>,
    /// The bytes of the datagrams being reassembled, all together.
    pub reassembly_buffer: ManagedSlice<'a, u8>,
}

/// The packet-level side of the interface: addresses, ARP, the held queue and
/// counters. Split from the scheduling state so socket dispatch can borrow it
/// while the socket set is borrowed too.
#[derive(Debug)]
struct Link<'a> {
    hardware_addr: EthernetAddress,
    ip_addrs: [Option<Ipv4Cidr>; MAX_IP_ADDRS],
    /// The IPv6 unicast addresses (RFC 4291 section 2.5).
    #[cfg(feature = "proto-ipv6")]
    ip6_addrs: [Option<crate::wire::Ipv6Cidr>; MAX_IP_ADDRS],
    /// Moves on every change of `ip_addrs` (for `hop_cache`).
    addr_generation: u32,
    routes: Routes,
    /// The last next-hop lookup (`next_hop`).
    hop_cache: Option<HopCache>,
    neighbors: NeighborCache<'a>,
    held: ManagedSlice<'a, u8>,
    held_len: usize,
    reassembly: Reassembler<'a>,
    /// A datagram the last frame completed, to deliver after it.
    reassembled: Option<usize>,
    /// When to look at held packets again (expiry).
    held_wake: Option<Instant>,
    ip_ident: u16,
    /// Identifications of datagrams that may be fragmented (a counter of
    /// their own, so the atomic TCP segments, which may carry any
    /// identification, RFC 6864 section 4.1, do not use them up).
    fragment_ident: u16,
    stats: Stats,
}

/// The last next-hop lookup, valid while neither the addresses nor the
/// routes changed and no route expired.
#[derive(Debug, Clone, Copy)]
struct HopCache {
    dst: Ipv4Address,
    next_hop: Option<Ipv4Address>,
    /// The address and route generations it was computed at.
    generation: (u32, u32),
    /// The route table's earliest expiry when it was computed.
    valid_until: Option<Instant>,
}

/// The device has no transmit token now: stop egress and retry later.
#[derive(Debug, Clone, Copy)]
struct TxBusy;

/// A reply produced while a frame is being received, sent through the
/// receive token's paired transmit token.
enum Reply<'f> {
    Arp(ArpRepr),
    Icmp(Ipv4Repr, Icmpv4Repr<'f>),
    Tcp(IpRepr, TcpRepr<'static>),
    /// An ICMPv6 message (an echo reply).
    #[cfg(feature = "proto-ipv6")]
    Icmpv6(crate::wire::Ipv6Repr, crate::wire::Icmpv6Repr<'f>),
    /// A solicited Neighbor Advertisement.
    #[cfg(feature = "proto-ipv6")]
    NeighborAdvert(self::ipv6::NeighborAdvert),
}

/// A network interface: addresses, ARP, IPv4 and ICMPv4, driving the
/// sockets of a [`SocketSet`] (one set per interface: the set takes the
/// interface's demultiplexing key on the first poll).
#[derive(Debug)]
pub struct Interface<'a> {
    link: Link<'a>,
    demux_key: SipKey,
    isn: IsnGenerator,
    /// [`Config::drop_syn_fin`].
    drop_syn_fin: bool,
    ports: PortSelector,
    now: Instant,
    /// The last poll stopped at its burst limit: the device may hold more
    /// received frames than its descriptor shows (a batch already read),
    /// so the next poll is due at once.
    ingress_pending: bool,
    /// The IP MTU: the device's, capped by `mtu_cap`. The MSS derives
    /// from it.
    ip_mtu: usize,
    /// Limits the ICMP errors the interface originates (port unreachable).
    icmp_rate_limit: IcmpRateLimit,
    /// The device's MTU as its capabilities said at the last poll
    /// (`DEFAULT_IP_MTU` before the first one).
    device_mtu: usize,
    /// The interface-level MTU ([`Interface::set_ip_mtu`]).
    mtu_cap: Option<usize>,
}

/// The capabilities to parse one received frame with: the device's, less
/// the transport checksum verification its meta says is done (verified by
/// the device, or left partial by a local sender).
fn frame_capabilities(caps: &DeviceCapabilities, meta: FrameMeta) -> DeviceCapabilities {
    let mut caps = *caps;
    if !meta.needs_verification() {
        let verified = |checksum| match checksum {
            crate::wire::Checksum::Both => crate::wire::Checksum::Tx,
            crate::wire::Checksum::Rx => crate::wire::Checksum::None,
            other => other,
        };
        caps.checksum.tcp = verified(caps.checksum.tcp);
        caps.checksum.udp = verified(caps.checksum.udp);
    }
    caps
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// ReachableTime for `base` (RFC 4861 section 6.3.2): a uniformly random
/// multiple of it between MIN_RANDOM_FACTOR (0.5) and MAX_RANDOM_FACTOR
/// (1.5), from `random`, in steps of 1/1024.
fn randomized_reachable_time(base: Duration, random: u64) -> Duration {
    let factor = 512 + random % 1025;
    Duration::from_micros((base.total_micros() / 1024).saturating_mul(factor))
}

/// One 64-bit secret for the use `label` names, derived from the 128-bit
/// seed with SipHash-2-4 keyed by it (a PRF), so the secrets are
/// independent and none reveals the seed or another.
fn derive_secret(seed: u128, label: &[u8]) -> u64 {
    siphash24(&SipKey::from_bytes(seed.to_le_bytes()), label)
}

/// A 128-bit key from two derived secrets.
fn derive_key(seed: u128, labels: [&[u8]; 2]) -> SipKey {
    SipKey([
        derive_secret(seed, labels[0]),
        derive_secret(seed, labels[1]),
    ])
}

impl Interface<'static> {
    /// An interface with its storage (64 neighbor entries, room for two
    /// largest packets waiting for their next hop, 8 datagrams in
    /// reassembly in 128 KiB: two of the largest) allocated once here. It
    /// serves a [`SocketSet`] of any size. Fails if the hardware address is
    /// not unicast.
    #[cfg(feature = "alloc")]
    pub fn new(config: Config) -> Result<Interface<'static>, ConfigError> {
        use alloc::vec;
        let storage = InterfaceStorage {
            neighbors: vec![Neighbor::default(); 64].into(),
            held: vec![0u8; 2 * (65535 + HELD_RECORD_HEADER)].into(),
            reassembly_slots: vec![ReassemblySlot::EMPTY; 8].into(),
            reassembly_buffer: vec![0u8; 2 * 65536].into(),
        };
        Interface::new_with_storage(config, storage)
    }
}

impl<'a> Interface<'a> {
    /// An interface working in caller-provided storage (no allocator).
    /// Fails if the hardware address is not unicast.
    pub fn new_with_storage(
        config: Config,
        storage: InterfaceStorage<'a>,
    ) -> Result<Interface<'a>, ConfigError> {
        if !config.hardware_addr.is_unicast() {
            return Err(ConfigError::HardwareAddrNotUnicast);
        }
        let seed = config.random_seed;
        let isn_key = derive_key(seed, [b"pollnet isn k0", b"pollnet isn k1"]);
        let mut isn_secret = [0u8; 16];
        isn_secret[..8].copy_from_slice(&isn_key.0[0].to_le_bytes());
        isn_secret[8..].copy_from_slice(&isn_key.0[1].to_le_bytes());
        let demux_key = derive_key(seed, [b"pollnet demux k0", b"pollnet demux k1"]);
        let ports = PortSelector::new(
            derive_key(seed, [b"pollnet port offset k0", b"pollnet port offset k1"]),
            derive_key(seed, [b"pollnet port index k0", b"pollnet port index k1"]),
            derive_secret(seed, b"pollnet port table"),
        );
        let mut neighbors = NeighborCache::new(storage.neighbors);
        neighbors.set_config(config.neighbor);
        neighbors.set_reachable_time(randomized_reachable_time(
            config.neighbor.base_reachable_time,
            derive_secret(seed, b"pollnet reachable time"),
        ));
        let mut routes = Routes::new();
        if let Some(gateway) = config.gateway {
            // An empty table always has room, and a unicast gateway is
            // the only kind `Config::with_gateway` documents.
            if routes.set_default_ipv4(Some(gateway)).is_err() {
                net_debug!("iface: gateway {} is not unicast, ignored", gateway);
            }
        }
        let mtu_cap = config.ip_mtu.map(clamp_mtu);
        Ok(Interface {
            link: Link {
                hardware_addr: config.hardware_addr,
                ip_addrs: config.ip_addrs,
                #[cfg(feature = "proto-ipv6")]
                ip6_addrs: [None; MAX_IP_ADDRS],
                addr_generation: 0,
                routes,
                hop_cache: None,
                neighbors,
                held: storage.held,
                held_len: 0,
                reassembly: Reassembler::new(
                    storage.reassembly_slots,
                    storage.reassembly_buffer,
                    config.reassembly,
                ),
                reassembled: None,
                held_wake: None,
                ip_ident: 0,
                fragment_ident: 0,
                stats: Stats::default(),
            },
            demux_key,
            isn: IsnGenerator::new(isn_secret),
            drop_syn_fin: config.drop_syn_fin,
            ports,
            now: Instant::ZERO,
            ingress_pending: false,
            ip_mtu: mtu_cap.map_or(DEFAULT_IP_MTU, |cap| cap.min(DEFAULT_IP_MTU)),
            icmp_rate_limit: IcmpRateLimit::new(),
            device_mtu: DEFAULT_IP_MTU,
            mtu_cap,
        })
    }

    /// The interface's Ethernet address.
    pub fn hardware_addr(&self) -> EthernetAddress {
        self.link.hardware_addr
    }

    /// The interface's IPv4 addresses.
    pub fn ip_addrs(&self) -> impl Iterator<Item = Ipv4Cidr> + '_ {
        self.link.ip_addrs.iter().flatten().copied()
    }

    /// Whether SYN+FIN segments that reach no socket are dropped
    /// ([`Config::drop_syn_fin`]).
    pub fn drop_syn_fin(&self) -> bool {
        self.drop_syn_fin
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        let mut stats = self.link.stats;
        stats.neighbor = self.link.neighbors.stats();
        stats.reassembly = self.link.reassembly.stats();
        stats
    }

    /// The hardware address the neighbor cache maps `ip` to at `now`, in
    /// any NUD state but `Incomplete`.
    pub fn neighbor(&self, ip: impl Into<IpAddress>, now: Instant) -> Option<EthernetAddress> {
        self.link.neighbors.lookup(ip.into(), now)
    }

    /// The neighbor cache, to read entries' states, its timers and counters.
    pub fn neighbor_cache(&self) -> &NeighborCache<'a> {
        &self.link.neighbors
    }

    /// The IP MTU the interface derives the TCP MSS from (RFC 9293 section
    /// 3.7.1): the device's `max_transmission_unit` as of the last
    /// [`poll`](Self::poll), 1500 before the first. A SYN takes its MSS
    /// option from the MTU of the poll that sends it, so a connection
    /// opened before the first poll still offers the device's.
    pub fn ip_mtu(&self) -> usize {
        self.ip_mtu
    }

    /// A context for calling socket methods that need one, at `now`: the
    /// interface's ISN generator and IP MTU.
    pub fn context(&self, now: Instant) -> Context {
        let mut cx = Context::new(now, self.isn);
        cx.ip_mtu = self.ip_mtu;
        cx.coalesce_acks = true;
        cx
    }

    /// Opens a connection from the socket `handle` to `remote`, choosing the
    /// local address (the one on `remote`'s prefix, else the first) and an
    /// ephemeral port (RFC 6335's range) free for that remote, in the
    /// order of RFC 6056's double-hash selection (Algorithm 4), so a peer
    /// cannot predict the ports used with others. Returns the local
    /// endpoint. The SYN goes out on the next poll.
    pub fn connect(
        &mut self,
        sockets: &mut SocketSet<'_>,
        handle: SocketHandle,
        remote: IpEndpoint,
        now: Instant,
    ) -> Result<IpEndpoint, ConnectError> {
        sockets.attach(self.demux_key);
        // The interface speaks IPv4 only so far.
        let remote_v4 = remote.addr.as_ipv4().ok_or(ConnectError::Unaddressable)?;
        let local_addr = self
            .link
            .ip_addrs
            .iter()
            .flatten()
            .find(|cidr| cidr.contains(remote_v4))
            .or_else(|| self.link.ip_addrs.iter().flatten().next())
            .map(|cidr| IpAddress::Ipv4(cidr.address()))
            .ok_or(ConnectError::Unaddressable)?;
        let port = self
            .ports
            .select(local_addr, remote, |port| {
                !sockets.tcp_in_use(IpEndpoint::new(local_addr, port), remote)
            })
            .ok_or(ConnectError::Unaddressable)?;
        let local = IpEndpoint::new(local_addr, port);
        let mut cx = self.context(now);
        let socket = sockets
            .get_mut::<TcpSocket>(handle)
            .ok_or(ConnectError::InvalidState)?;
        socket.connect(&mut cx, remote, local)?;
        self.add_tcp_stats(&cx.stats);
        Ok(local)
    }

    /// When to poll next: the time of the last poll if work is pending, the
    /// earliest timer otherwise, `None` if only a frame can create work.
    /// Sockets the application touched since the last poll are asked
    /// directly, so reading or writing a socket does not by itself make the
    /// interface busy.
    ///
    /// The answer may be at or before the `now` of the next call (the last
    /// poll's time when work is pending, or a timer that expired while the
    /// application was busy): that means "poll at once", not an error. Call
    /// [`poll`](Self::poll) with the current time; it catches up on every
    /// expired timer in one call. A wait computed from it should saturate at
    /// zero, as [`poll_delay`](Self::poll_delay) does. Ask again after each
    /// poll and after touching sockets: both can move the answer earlier.
    pub fn poll_at(&self, sockets: &SocketSet<'_>) -> Option<Instant> {
        if self.ingress_pending {
            return Some(self.now);
        }
        let cx = self.context(self.now);
        let at = earliest(sockets.poll_at(&cx), self.link.held_wake);
        let at = earliest(at, self.link.reassembly.poll_at());
        earliest(at, self.link.neighbors.poll_at())
    }

    /// How long to wait from `now` before polling again: zero if
    /// [`poll_at`](Self::poll_at) is at or before `now` (poll at once),
    /// `None` if only an arriving frame can create work (wait for the
    /// device alone).
    pub fn poll_delay(&self, now: Instant, sockets: &SocketSet<'_>) -> Option<Duration> {
        self.poll_at(sockets).map(|at| at - now)
    }

    /// Processes pending ingress (up to a burst), then egress and timers,
    /// at time `now` (which must not go backwards between calls), then lets
    /// the device hand over what it queued ([`Device::flush`]).
    ///
    /// The device's medium decides the framing: Ethernet with ARP, or bare
    /// IP packets ([`Medium::Ip`]) with no link-layer header and no address
    /// resolution.
    ///
    /// Returns whether anything happened: a frame was received (even one
    /// that was then dropped) or sent. `true` means the device or the
    /// sockets may have more to do at once (the ingress burst can leave
    /// frames queued; a reply can make room for more data), so poll again
    /// before sleeping; `false` means this poll found nothing, and the next
    /// one is due at [`poll_at`](Self::poll_at) or when a frame arrives. The
    /// value says nothing about any particular socket: read their states
    /// and buffers for that.
    pub fn poll<D: Device + ?Sized>(
        &mut self,
        now: Instant,
        device: &mut D,
        sockets: &mut SocketSet<'_>,
    ) -> bool {
        let caps = device.capabilities();
        let mut cx = self.begin_poll(now, &caps, sockets);
        let burst = caps.max_burst_size.unwrap_or(DEFAULT_INGRESS_BURST).max(1);
        let mut changed = false;
        let mut drained = false;
        for _ in 0..burst {
            if !self.ingress_one(&mut cx, &caps, device, sockets) {
                drained = true;
                break;
            }
            changed = true;
        }
        self.ingress_pending = !drained;

        changed |= self.egress(&mut cx, device, &caps, sockets);
        self.add_tcp_stats(&cx.stats);
        device.flush(now);
        changed
    }

    /// Processes at most one received frame at time `now` (which must not
    /// go backwards between calls), and nothing else: no timers, no
    /// segments the sockets have to send (the ACK a segment calls for
    /// waits for the next [`poll`](Self::poll) or
    /// [`poll_egress`](Self::poll_egress)). Only the answers a frame
    /// draws on its own go out at once, through the device's token: an ARP
    /// reply, a RST for a segment no connection has, an ICMP error or echo
    /// reply.
    ///
    /// For applications that bound the work of one call (a frame at a
    /// time between other duties, as smoltcp's `poll_ingress_single`
    /// allows), or that read a socket after every segment. Returns whether
    /// a frame was received; [`poll_at`](Self::poll_at) stays "now" after
    /// a `true`, since more frames may wait. Follow a run of calls with
    /// [`poll_egress`](Self::poll_egress) (or `poll`).
    pub fn poll_ingress_single<D: Device + ?Sized>(
        &mut self,
        now: Instant,
        device: &mut D,
        sockets: &mut SocketSet<'_>,
    ) -> bool {
        let caps = device.capabilities();
        let mut cx = self.begin_poll(now, &caps, sockets);
        let received = self.ingress_one(&mut cx, &caps, device, sockets);
        // Only an empty device ends the pending state.
        self.ingress_pending = received;
        self.add_tcp_stats(&cx.stats);
        received
    }

    /// Egress and timers alone at time `now`: what the sockets have to
    /// send (data, ACKs, retransmissions, timer work) and held frames
    /// whose address is now known, without reading the device; then lets
    /// the device hand over what it queued ([`Device::flush`]). Returns
    /// whether anything was sent. [`poll`](Self::poll) is
    /// [`poll_ingress_single`](Self::poll_ingress_single) up to a burst,
    /// then this.
    pub fn poll_egress<D: Device + ?Sized>(
        &mut self,
        now: Instant,
        device: &mut D,
        sockets: &mut SocketSet<'_>,
    ) -> bool {
        let caps = device.capabilities();
        let mut cx = self.begin_poll(now, &caps, sockets);
        let sent = self.egress(&mut cx, device, &caps, sockets);
        self.add_tcp_stats(&cx.stats);
        device.flush(now);
        sent
    }

    /// What every entry point does first: the clock, the device's MTU,
    /// expiries, and the sockets the application touched since the last
    /// call (first, so a socket put in LISTEN just now is found by a SYN
    /// in this call).
    #[inline(always)]
    fn begin_poll(
        &mut self,
        now: Instant,
        caps: &DeviceCapabilities,
        sockets: &mut SocketSet<'_>,
    ) -> Context {
        self.now = now;
        sockets.attach(self.demux_key);
        sockets.begin_poll(now);
        self.device_mtu = caps.max_transmission_unit;
        self.ip_mtu = self.effective_mtu();
        self.link.routes.remove_expired(now);
        self.link.reassembly.expire(now);
        let mut cx = self.context(now);
        // Only a device that cuts super-segments may be sent one: without
        // offload, a socket whose MSS is below the MTU (a peer's smaller
        // MSS, a lowered path MTU) must still send one MSS per packet.
        cx.tso_max_len = if caps.tso.ipv4_max_len > caps.max_transmission_unit {
            caps.max_tcp_ipv4_packet_len()
        } else {
            0
        };
        sockets.sync_dirty(&mut cx);
        cx
    }

    /// Receives and processes one frame, if the device has one.
    #[inline(always)]
    fn ingress_one<D: Device + ?Sized>(
        &mut self,
        cx: &mut Context,
        caps: &DeviceCapabilities,
        device: &mut D,
        sockets: &mut SocketSet<'_>,
    ) -> bool {
        let Some((rx, tx)) = device.receive(cx.now) else {
            return false;
        };
        let frame_caps = frame_capabilities(caps, rx.meta());
        rx.consume(|frame| {
            self.link.stats.rx_frames += 1;
            match caps.medium {
                Medium::Ethernet => {
                    if let Some((dst_mac, reply)) =
                        self.process_frame(cx, &frame_caps, sockets, frame)
                    {
                        self.link.emit_reply(tx, caps, dst_mac, reply);
                    }
                }
                Medium::Ip => {
                    if let Some(reply) = self.process_ip(cx, &frame_caps, sockets, frame) {
                        self.link
                            .emit_reply(tx, caps, EthernetAddress::BROADCAST, reply);
                    }
                }
            }
        });
        if let Some(index) = self.link.reassembled.take() {
            self.deliver_reassembled(cx, device, caps, sockets, index);
        }
        true
    }

    fn add_tcp_stats(&mut self, tcp: &TcpStats) {
        let s = &mut self.link.stats;
        s.tcp_segments_sent += tcp.segments_sent;
        s.tcp_retransmissions += tcp.retransmissions;
        s.tcp_rtos += tcp.rtos;
        s.tcp_fast_recoveries += tcp.fast_recoveries;
        s.tcp_tlps_sent += tcp.tlps_sent;
        s.tcp_spurious_undone += tcp.spurious_undone;
        s.tcp_rsts_sent += tcp.rsts_sent;
        s.tcp_challenge_acks += tcp.challenge_acks;
        s.tcp_syn_cookies_sent += tcp.syn_cookies_sent;
        s.tcp_syn_cookies_accepted += tcp.syn_cookies_accepted;
        s.rx_drop_syn_backlog_full += tcp.syn_dropped;
        s.tcp_final_ack_dropped += tcp.final_ack_dropped;
        s.tcp_time_wait_evicted += tcp.time_wait_evicted;
        s.tcp_evicted += tcp.evicted;
        s.tcp_idle_timeouts += tcp.idle_timeouts;
        s.demux_insert_failed += tcp.demux_insert_failed;
    }

    // ----------------------------------------------------------------- egress

    fn egress<D: Device + ?Sized>(
        &mut self,
        cx: &mut Context,
        device: &mut D,
        caps: &DeviceCapabilities,
        sockets: &mut SocketSet<'_>,
    ) -> bool {
        let held = self.link.flush_held(device, caps, cx.now);
        let link = &mut self.link;
        let (sent, busy) = sockets.egress(cx, |cx, packet| match packet {
            Packet::Tcp(ip, tcp) => link.emit_tcp(device, caps, cx.now, &ip, &tcp, cx.segment_size),
            Packet::Udp(out) => link.emit_udp(device, caps, cx.now, cx.ip_mtu, &out),
            Packet::IcmpEcho(out) => link.emit_echo(device, caps, cx.now, cx.ip_mtu, &out),
            Packet::Arp(out) => link.emit_dhcp_arp(device, cx.now, &out),
        });
        if busy.is_some() {
            self.link.stats.tx_device_busy += 1;
        }
        // Last, so a resolution that a segment of this poll started asks
        // for its address in this poll too.
        let solicited = self.link.send_solicitations(device, cx.now);
        held | sent | solicited
    }
}
