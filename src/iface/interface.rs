//! The [`Interface`]: ingress, egress and scheduling.

use managed::ManagedSlice;

use super::demux::{DemuxSlot, DemuxTable};
use super::neighbor::{Neighbor, NeighborAnswer, NeighborCache};
use super::timer::{ReadySet, TimerQueue};
use super::{Config, MAX_IP_ADDRS, Stats, TraceEvent};
use crate::phy::{Device, DeviceCapabilities, RxToken, TxToken};
use crate::socket::tcp::{self, ConnectError, IcmpError, IsnGenerator, State, TcpConfig, TcpStats};
use crate::socket::{Context, PollAt, SocketHandle, SocketSet};
use crate::storage::siphash::SipKey;
use crate::time::{Duration, Instant};
use crate::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    EthernetRepr, Icmpv4Packet, Icmpv4Repr, IpAddress, IpEndpoint, IpListenEndpoint, IpProtocol,
    IpRepr, Ipv4Address, Ipv4Cidr, Ipv4Packet, Ipv4Repr, TcpPacket, TcpRepr,
};

const ETHERNET_HEADER_LEN: usize = 14;
const IPV4_HEADER_LEN: usize = 20;
/// Frames handled per poll when the device states no burst size.
const DEFAULT_INGRESS_BURST: usize = 64;
/// Held packets whose next hop stays unresolved this long are dropped.
const HELD_PACKET_LIFETIME: Duration = Duration::from_secs(3);
/// The first ephemeral port (RFC 6335 section 6).
const EPHEMERAL_FIRST: u16 = 49152;
/// TTL of packets we originate.
const DEFAULT_HOP_LIMIT: u8 = 64;
/// How often an unanswered ARP request for held packets is repeated.
const ARP_RETRY_INTERVAL: Duration = Duration::from_secs(1);
/// Bytes of a held packet's record header: next hop (4), time (8), length (4).
const HELD_RECORD_HEADER: usize = 16;

/// What a socket slot is registered as in the demultiplexing table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Registration(Key);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Key {
    #[default]
    None,
    Connection {
        local: IpEndpoint,
        remote: IpEndpoint,
    },
    Listener(IpListenEndpoint),
}

/// The storage an interface works in, for builds without an allocator.
/// Every per-socket array must have at least one entry per socket-set slot.
#[derive(Debug)]
pub struct InterfaceStorage<'a> {
    /// ARP cache entries.
    pub neighbors: ManagedSlice<'a, Neighbor>,
    /// Demultiplexing table slots (about twice the socket count).
    pub demux: ManagedSlice<'a, DemuxSlot>,
    /// Deadline queue.
    pub timers: TimerQueue<'a>,
    /// Sockets with something to send.
    pub ready: ReadySet<'a>,
    /// One registration per socket slot.
    pub registrations: ManagedSlice<'a, Registration>,
    /// Bytes for packets waiting for ARP.
    pub held: ManagedSlice<'a, u8>,
    /// The transition trace ring.
    pub trace: ManagedSlice<'a, Option<TraceEvent>>,
}

/// The packet-level side of the interface: addresses, ARP, the held queue and
/// counters. Split from the scheduling state so socket dispatch can borrow it
/// while the socket set is borrowed too.
#[derive(Debug)]
struct Link<'a> {
    hardware_addr: EthernetAddress,
    ip_addrs: [Option<Ipv4Cidr>; MAX_IP_ADDRS],
    gateway: Option<Ipv4Address>,
    neighbors: NeighborCache<'a>,
    held: ManagedSlice<'a, u8>,
    held_len: usize,
    /// When to look at held packets again (ARP retry or expiry).
    held_wake: Option<Instant>,
    ip_ident: u16,
    stats: Stats,
}

/// A bounded queue of transitions the application drains; overflow counted.
#[derive(Debug)]
struct Trace<'a> {
    ring: ManagedSlice<'a, Option<TraceEvent>>,
    head: usize,
    len: usize,
    dropped: u64,
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
}

/// A network interface: addresses, ARP, IPv4, ICMPv4 and the TCP scheduling
/// of one socket set.
#[derive(Debug)]
pub struct Interface<'a> {
    link: Link<'a>,
    demux: DemuxTable<'a>,
    timers: TimerQueue<'a>,
    ready: ReadySet<'a>,
    registrations: ManagedSlice<'a, Registration>,
    trace: Trace<'a>,
    isn: IsnGenerator,
    tcp_defaults: TcpConfig,
    next_ephemeral: u16,
    now: Instant,
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// splitmix64: spreads the configured seed into independent secrets.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Interface<'static> {
    /// An interface for a socket set of `socket_capacity` slots, with its
    /// storage allocated once here.
    #[cfg(feature = "alloc")]
    pub fn new(config: Config, socket_capacity: usize) -> Interface<'static> {
        use alloc::vec;
        let storage = InterfaceStorage {
            neighbors: vec![Neighbor::default(); 64].into(),
            demux: vec![DemuxSlot::default(); super::demux::slots_for(socket_capacity)].into(),
            timers: TimerQueue::new(vec![super::timer::TimerSlot::default(); socket_capacity]),
            ready: ReadySet::new(vec![super::timer::ReadySlot::default(); socket_capacity]),
            registrations: vec![Registration::default(); socket_capacity].into(),
            held: vec![0u8; 2 * (65535 + HELD_RECORD_HEADER)].into(),
            trace: vec![None; 1024].into(),
        };
        Interface::new_with_storage(config, storage)
    }
}

impl<'a> Interface<'a> {
    /// An interface working in caller-provided storage (no allocator).
    pub fn new_with_storage(config: Config, storage: InterfaceStorage<'a>) -> Interface<'a> {
        let mut seed = config.random_seed;
        let isn_lo = splitmix64(&mut seed);
        let isn_hi = splitmix64(&mut seed);
        let mut isn_secret = [0u8; 16];
        isn_secret[..8].copy_from_slice(&isn_lo.to_le_bytes());
        isn_secret[8..].copy_from_slice(&isn_hi.to_le_bytes());
        let demux_key = SipKey([splitmix64(&mut seed), splitmix64(&mut seed)]);
        let ephemeral_span = u64::from(u16::MAX - EPHEMERAL_FIRST) + 1;
        // The span is at most 2^14, so the remainder fits a u16.
        let next_ephemeral = EPHEMERAL_FIRST + (splitmix64(&mut seed) % ephemeral_span) as u16;
        Interface {
            link: Link {
                hardware_addr: config.hardware_addr,
                ip_addrs: config.ip_addrs,
                gateway: config.gateway,
                neighbors: NeighborCache::new(storage.neighbors),
                held: storage.held,
                held_len: 0,
                held_wake: None,
                ip_ident: 0,
                stats: Stats::default(),
            },
            demux: DemuxTable::new(storage.demux, demux_key),
            timers: storage.timers,
            ready: storage.ready,
            registrations: storage.registrations,
            trace: Trace {
                ring: storage.trace,
                head: 0,
                len: 0,
                dropped: 0,
            },
            isn: IsnGenerator::new(isn_secret),
            tcp_defaults: config.tcp,
            next_ephemeral,
            now: Instant::ZERO,
        }
    }

    /// The interface's Ethernet address.
    pub fn hardware_addr(&self) -> EthernetAddress {
        self.link.hardware_addr
    }

    /// The interface's IPv4 addresses.
    pub fn ip_addrs(&self) -> impl Iterator<Item = Ipv4Cidr> + '_ {
        self.link.ip_addrs.iter().flatten().copied()
    }

    /// The TCP settings the interface was configured with.
    pub fn tcp_defaults(&self) -> &TcpConfig {
        &self.tcp_defaults
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        self.link.stats
    }

    /// The oldest state transition not yet read, with its socket and time
    /// (DESIGN.md rule 7). The queue is bounded; see
    /// [`trace_dropped`](Self::trace_dropped).
    pub fn pop_trace(&mut self) -> Option<TraceEvent> {
        if self.trace.len == 0 {
            return None;
        }
        let event = self
            .trace
            .ring
            .get_mut(self.trace.head)
            .and_then(Option::take);
        self.trace.head = (self.trace.head + 1) % self.trace.ring.len();
        self.trace.len -= 1;
        event
    }

    /// Transitions lost because the trace queue was full.
    pub fn trace_dropped(&self) -> u64 {
        self.trace.dropped
    }

    /// Whether the ARP cache knows `ip` at `now`.
    pub fn neighbor(&self, ip: Ipv4Address, now: Instant) -> Option<EthernetAddress> {
        match self.link.neighbors.lookup(IpAddress::Ipv4(ip), now) {
            NeighborAnswer::Found(mac) => Some(mac),
            _ => None,
        }
    }

    /// A context for calling socket methods that need one, at `now`.
    pub fn context(&self, now: Instant) -> Context {
        Context::new(now, self.isn)
    }

    /// Opens a connection from the socket `handle` to `remote`, choosing the
    /// local address (the one on `remote`'s prefix, else the first) and an
    /// ephemeral port (RFC 6335) free for that remote. Returns the local
    /// endpoint. The SYN goes out on the next poll.
    pub fn connect(
        &mut self,
        sockets: &mut SocketSet<'_>,
        handle: SocketHandle,
        remote: IpEndpoint,
        now: Instant,
    ) -> Result<IpEndpoint, ConnectError> {
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
        let span = u32::from(u16::MAX - EPHEMERAL_FIRST) + 1;
        let mut local = None;
        for _ in 0..span {
            let port = self.next_ephemeral;
            self.next_ephemeral = if port == u16::MAX {
                EPHEMERAL_FIRST
            } else {
                port + 1
            };
            let candidate = IpEndpoint::new(local_addr, port);
            if self.demux.lookup_connection(candidate, remote).is_none() {
                local = Some(candidate);
                break;
            }
        }
        let local = local.ok_or(ConnectError::Unaddressable)?;
        let mut cx = self.context(now);
        let socket = sockets.get_mut(handle).ok_or(ConnectError::InvalidState)?;
        socket.connect(&mut cx, remote, local)?;
        self.add_tcp_stats(&cx.stats);
        Ok(local)
    }

    /// When to poll next: the time of the last poll if work is pending, the
    /// earliest timer otherwise, `None` if only a frame can create work.
    /// Sockets the application touched since the last poll are asked
    /// directly, so reading or writing a socket does not by itself make the
    /// interface busy.
    pub fn poll_at(&self, sockets: &SocketSet<'_>) -> Option<Instant> {
        if !self.ready.is_empty() {
            return Some(self.now);
        }
        let cx = Context::new(self.now, self.isn);
        let mut at = self.timers.peek().map(|(at, _)| at);
        at = earliest(at, self.link.held_wake);
        for socket in sockets.dirty_sockets() {
            match socket.poll_at(&cx) {
                PollAt::Now => return Some(self.now),
                PollAt::Time(t) => at = earliest(at, Some(t)),
                PollAt::Ingress => {}
            }
        }
        at
    }

    /// How long to wait from `now` before polling again (zero: at once).
    pub fn poll_delay(&self, now: Instant, sockets: &SocketSet<'_>) -> Option<Duration> {
        self.poll_at(sockets).map(|at| at - now)
    }

    /// Processes pending ingress (up to a burst), then egress and timers.
    /// Returns whether anything was received or sent.
    pub fn poll<D: Device + ?Sized>(
        &mut self,
        now: Instant,
        device: &mut D,
        sockets: &mut SocketSet<'_>,
    ) -> bool {
        self.now = now;
        let caps = device.capabilities();
        let mut cx = Context::new(now, self.isn);
        cx.ip_mtu = caps.max_transmission_unit;
        let mut changed = false;

        // Sockets the application touched since the last poll first, so a
        // socket put in LISTEN just now is found by a SYN in this poll.
        while let Some(slot) = sockets.pop_dirty() {
            self.sync_socket(&cx, sockets, slot);
        }

        let burst = caps.max_burst_size.unwrap_or(DEFAULT_INGRESS_BURST).max(1);
        for _ in 0..burst {
            let Some((rx, tx)) = device.receive(now) else {
                break;
            };
            changed = true;
            rx.consume(|frame| {
                self.link.stats.rx_frames += 1;
                if let Some((dst_mac, reply)) = self.process_frame(&mut cx, &caps, sockets, frame) {
                    self.link.emit_reply(tx, &caps, dst_mac, reply);
                }
            });
        }

        changed |= self.egress(&mut cx, device, &caps, sockets);
        self.add_tcp_stats(&cx.stats);
        changed
    }

    fn add_tcp_stats(&mut self, tcp: &TcpStats) {
        let s = &mut self.link.stats;
        s.tcp_segments_sent += tcp.segments_sent;
        s.tcp_retransmissions += tcp.retransmissions;
        s.tcp_rsts_sent += tcp.rsts_sent;
        s.tcp_challenge_acks += tcp.challenge_acks;
    }

    // ---------------------------------------------------------------- ingress

    fn process_frame<'f>(
        &mut self,
        cx: &mut Context,
        caps: &DeviceCapabilities,
        sockets: &mut SocketSet<'_>,
        frame: &'f [u8],
    ) -> Option<(EthernetAddress, Reply<'f>)> {
        let Ok(eth) = EthernetFrame::new_checked(frame) else {
            self.link.stats.rx_drop_ethernet_malformed += 1;
            return None;
        };
        let dst = eth.dst_addr();
        if dst != self.link.hardware_addr && !dst.is_broadcast() {
            self.link.stats.rx_drop_not_for_us += 1;
            return None;
        }
        let src_mac = eth.src_addr();
        let reply = match eth.ethertype() {
            EthernetProtocol::Arp => self.link.process_arp(cx.now, eth.payload()),
            EthernetProtocol::Ipv4 => self.process_ipv4(cx, caps, sockets, src_mac, eth.payload()),
            _ => {
                self.link.stats.rx_drop_unknown_ethertype += 1;
                None
            }
        };
        reply.map(|r| (src_mac, r))
    }

    fn process_ipv4<'f>(
        &mut self,
        cx: &mut Context,
        caps: &DeviceCapabilities,
        sockets: &mut SocketSet<'_>,
        src_mac: EthernetAddress,
        bytes: &'f [u8],
    ) -> Option<Reply<'f>> {
        let Ok(packet) = Ipv4Packet::new_checked(bytes) else {
            self.link.stats.rx_drop_ipv4_malformed += 1;
            return None;
        };
        let stats = &mut self.link.stats;
        if packet.is_fragment() {
            stats.rx_drop_ipv4_fragment += 1;
            return None;
        }
        let ipv4 = match Ipv4Repr::parse(&packet, &caps.checksum) {
            Ok(repr) => repr,
            Err(crate::wire::Error::BadChecksum) => {
                stats.rx_drop_ipv4_checksum += 1;
                return None;
            }
            Err(crate::wire::Error::Fragmented) => {
                stats.rx_drop_ipv4_fragment += 1;
                return None;
            }
            Err(_) => {
                stats.rx_drop_ipv4_malformed += 1;
                return None;
            }
        };
        let to_us = self.link.has_ip(ipv4.dst_addr);
        let broadcast = self.link.is_broadcast(ipv4.dst_addr);
        if !to_us && !broadcast {
            self.link.stats.rx_drop_ipv4_not_for_us += 1;
            return None;
        }
        // Learn an unknown on-link sender from a valid packet addressed to
        // us, so replies need no ARP round trip; an existing entry is only
        // ever changed by ARP.
        let src_ip = IpAddress::Ipv4(ipv4.src_addr);
        if to_us
            && src_mac.is_unicast()
            && self.link.is_on_link(ipv4.src_addr)
            && !matches!(
                self.link.neighbors.lookup(src_ip, cx.now),
                NeighborAnswer::Found(_)
            )
        {
            self.link.neighbors.fill(src_ip, src_mac, cx.now);
        }
        let ip = IpRepr {
            src_addr: IpAddress::Ipv4(ipv4.src_addr),
            dst_addr: IpAddress::Ipv4(ipv4.dst_addr),
            next_header: ipv4.next_header,
            payload_len: ipv4.payload_len,
            hop_limit: ipv4.hop_limit,
        };
        let payload = packet.payload();
        let payload = payload.get(..ipv4.payload_len).unwrap_or(payload);
        match ipv4.next_header {
            IpProtocol::Icmp => self.process_icmp(cx, caps, sockets, &ipv4, broadcast, payload),
            IpProtocol::Tcp if broadcast || !ip.src_addr.is_unicast() => {
                self.link.stats.rx_drop_tcp_bad_address += 1;
                None
            }
            IpProtocol::Tcp => self
                .process_tcp(cx, caps, sockets, &ip, payload)
                .map(|(ip, tcp)| Reply::Tcp(ip, tcp)),
            _ => {
                self.link.stats.rx_drop_unknown_protocol += 1;
                None
            }
        }
    }

    fn process_icmp<'f>(
        &mut self,
        cx: &mut Context,
        caps: &DeviceCapabilities,
        sockets: &mut SocketSet<'_>,
        ipv4: &Ipv4Repr,
        broadcast: bool,
        bytes: &'f [u8],
    ) -> Option<Reply<'f>> {
        let repr = Icmpv4Packet::new_checked(bytes)
            .and_then(|packet| Icmpv4Repr::parse(&packet, &caps.checksum));
        let Ok(repr) = repr else {
            self.link.stats.rx_drop_icmp_malformed += 1;
            return None;
        };
        match repr {
            // RFC 1122 3.2.2.6: echo requests to a broadcast address may be
            // ignored; we answer only those sent to us.
            Icmpv4Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } if !broadcast => {
                let reply = Icmpv4Repr::EchoReply {
                    ident,
                    seq_no,
                    data,
                };
                let header = Ipv4Repr {
                    src_addr: ipv4.dst_addr,
                    dst_addr: ipv4.src_addr,
                    next_header: IpProtocol::Icmp,
                    payload_len: reply.buffer_len(),
                    hop_limit: DEFAULT_HOP_LIMIT,
                    dont_frag: false,
                };
                self.link.stats.icmp_echo_replies += 1;
                Some(Reply::Icmp(header, reply))
            }
            Icmpv4Repr::DstUnreachable {
                reason,
                next_hop_mtu,
                header,
                data,
            } => {
                let error = icmp_error_kind(u8::from(reason), next_hop_mtu);
                self.icmp_to_tcp(cx, sockets, &header, data, error);
                None
            }
            Icmpv4Repr::TimeExceeded { header, data, .. } => {
                // RFC 1122 4.2.3.9: time exceeded is a soft error.
                self.icmp_to_tcp(cx, sockets, &header, data, IcmpError::SoftUnreachable);
                None
            }
            _ => None,
        }
    }

    /// Hands an ICMP error to the TCP connection its quoted header names
    /// (RFC 5927: the socket checks the quoted sequence number).
    fn icmp_to_tcp(
        &mut self,
        cx: &mut Context,
        sockets: &mut SocketSet<'_>,
        quoted: &Ipv4Repr,
        data: &[u8],
        error: IcmpError,
    ) {
        if quoted.next_header != IpProtocol::Tcp || !self.link.has_ip(quoted.src_addr) {
            return;
        }
        // The quoted TCP header's first 8 bytes: ports and sequence number.
        let Some(head) = data.get(..8) else {
            return;
        };
        let src_port = u16::from_be_bytes([head[0], head[1]]);
        let dst_port = u16::from_be_bytes([head[2], head[3]]);
        let seq = crate::wire::SeqNumber(u32::from_be_bytes([head[4], head[5], head[6], head[7]]));
        let local = IpEndpoint::new(IpAddress::Ipv4(quoted.src_addr), src_port);
        let remote = IpEndpoint::new(IpAddress::Ipv4(quoted.dst_addr), dst_port);
        let Some(slot) = self.connection(sockets, local, remote) else {
            return;
        };
        if let Some(socket) = sockets.socket_mut(slot) {
            socket.on_icmp_error(cx, seq, error);
            self.link.stats.icmp_errors_to_tcp += 1;
        }
        self.sync_socket(cx, sockets, slot);
    }

    fn process_tcp(
        &mut self,
        cx: &mut Context,
        caps: &DeviceCapabilities,
        sockets: &mut SocketSet<'_>,
        ip: &IpRepr,
        bytes: &[u8],
    ) -> Option<(IpRepr, TcpRepr<'static>)> {
        let stats = &mut self.link.stats;
        let Ok(packet) = TcpPacket::new_checked(bytes) else {
            stats.rx_drop_tcp_malformed += 1;
            return None;
        };
        let repr = match TcpRepr::parse(&packet, &ip.src_addr, &ip.dst_addr, &caps.checksum) {
            Ok(repr) => repr,
            Err(crate::wire::Error::BadChecksum) => {
                stats.rx_drop_tcp_checksum += 1;
                return None;
            }
            Err(_) => {
                stats.rx_drop_tcp_malformed += 1;
                return None;
            }
        };
        stats.tcp_segments_received += 1;
        let local = IpEndpoint::new(ip.dst_addr, repr.dst_port);
        let remote = IpEndpoint::new(ip.src_addr, repr.src_port);

        if let Some(slot) = self.connection(sockets, local, remote) {
            let reply = sockets
                .socket_mut(slot)
                .and_then(|socket| socket.process(cx, ip, &repr));
            self.sync_socket(cx, sockets, slot);
            // The socket counted its own reply.
            return reply;
        }

        if let Some(listener) = self.listener(sockets, ip.dst_addr, repr.dst_port) {
            // A bare SYN to a listener with a backlog forks a connection
            // socket; anything else is the listener's own business (it
            // answers an ACK with a RST and ignores a RST, RFC 9293 3.10.7.2).
            let target = if repr.syn()
                && !repr.rst()
                && repr.ack().is_none()
                && sockets.has_backlog(listener)
            {
                match sockets.spawn_child(listener) {
                    Some(child) => child,
                    None => {
                        self.link.stats.rx_drop_syn_backlog_full += 1;
                        return None;
                    }
                }
            } else {
                listener
            };
            let reply = sockets
                .socket_mut(target)
                .and_then(|socket| socket.process(cx, ip, &repr));
            self.sync_socket(cx, sockets, target);
            return reply;
        }

        self.link.stats.tcp_no_socket += 1;
        if self.tcp_defaults.drop_syn_fin && repr.syn() && repr.fin() {
            return None;
        }
        self.count_reply(tcp::rst_for_unmatched(ip, &repr))
    }

    /// The slot of the connection `local`/`remote`, checked against the
    /// socket now in that slot: the application may have removed or
    /// replaced it since the table was last brought in step, and a stale
    /// entry must not swallow a segment that deserves a RST.
    fn connection(
        &mut self,
        sockets: &SocketSet<'_>,
        local: IpEndpoint,
        remote: IpEndpoint,
    ) -> Option<usize> {
        let slot = self.demux.lookup_connection(local, remote)?;
        let live = sockets.socket(slot).is_some_and(|socket| {
            socket.state() != State::Closed
                && socket.local_endpoint() == Some(local)
                && socket.remote_endpoint() == Some(remote)
        });
        if live {
            return Some(slot);
        }
        self.demux.remove_connection(local, remote);
        self.forget_registration(slot, Key::Connection { local, remote });
        None
    }

    /// The slot of the listener for `addr`:`port`, checked like
    /// [`connection`](Self::connection).
    fn listener(&mut self, sockets: &SocketSet<'_>, addr: IpAddress, port: u16) -> Option<usize> {
        let slot = self.demux.lookup_listener(addr, port)?;
        let live = sockets.socket(slot).and_then(|socket| {
            let ep = socket.listen_endpoint();
            let matches = socket.state() == State::Listen
                && ep.port == port
                && ep.addr.is_none_or(|a| a == addr);
            matches.then_some(ep)
        });
        if live.is_some() {
            return Some(slot);
        }
        // Drop the stale entry that led here: the exact-address one if it
        // points at this slot, else the wildcard one.
        for ep in [
            IpListenEndpoint {
                addr: Some(addr),
                port,
            },
            IpListenEndpoint { addr: None, port },
        ] {
            match self.demux.remove_listener(ep) {
                Some(stale) if stale == slot => {
                    self.forget_registration(slot, Key::Listener(ep));
                    break;
                }
                // Another socket's entry: put it back untouched.
                Some(other) => {
                    let _ = self.demux.insert_listener(ep, other);
                }
                None => {}
            }
        }
        None
    }

    /// Clears `slot`'s registration if it is `key` (already removed from
    /// the table by the caller).
    fn forget_registration(&mut self, slot: usize, key: Key) {
        if let Some(r) = self.registrations.get_mut(slot) {
            if r.0 == key {
                *r = Registration(Key::None);
            }
        }
    }

    /// Counts a reply the interface built itself (a RST for a segment that
    /// matches no socket); sockets count their own.
    fn count_reply(
        &mut self,
        reply: Option<(IpRepr, TcpRepr<'static>)>,
    ) -> Option<(IpRepr, TcpRepr<'static>)> {
        if let Some((_, tcp)) = &reply {
            self.link.stats.tcp_segments_sent += 1;
            if tcp.rst() {
                self.link.stats.tcp_rsts_sent += 1;
            }
        }
        reply
    }

    // ------------------------------------------------------------- scheduling

    /// After anything happened to the socket in `slot`: drain its trace,
    /// free it if it was a listener's child that is done, keep its demux
    /// registration in step with its state, and schedule it.
    fn sync_socket(&mut self, cx: &Context, sockets: &mut SocketSet<'_>, slot: usize) {
        let handle = SocketHandle::from_index(slot);
        let Some(socket) = sockets.socket_mut(slot) else {
            self.set_registration(slot, Key::None);
            self.timers.set(slot, None);
            self.ready.remove(slot);
            return;
        };
        while let Some(transition) = socket.pop_transition() {
            self.trace.push(TraceEvent {
                at: cx.now,
                handle,
                transition,
            });
        }
        if sockets.should_free(slot) {
            self.set_registration(slot, Key::None);
            self.timers.set(slot, None);
            self.ready.remove(slot);
            sockets.free_child(slot);
            return;
        }
        let Some(socket) = sockets.socket(slot) else {
            return;
        };
        let key = match socket.state() {
            State::Closed => Key::None,
            State::Listen => Key::Listener(socket.listen_endpoint()),
            _ => match (socket.local_endpoint(), socket.remote_endpoint()) {
                (Some(local), Some(remote)) => Key::Connection { local, remote },
                _ => Key::None,
            },
        };
        let poll_at = socket.poll_at(cx);
        self.set_registration(slot, key);
        match poll_at {
            PollAt::Now => {
                self.timers.set(slot, None);
                self.ready.insert(slot);
            }
            PollAt::Time(at) => self.timers.set(slot, Some(at)),
            PollAt::Ingress => self.timers.set(slot, None),
        }
    }

    fn set_registration(&mut self, slot: usize, key: Key) {
        let Some(current) = self.registrations.get(slot).map(|r| r.0) else {
            self.link.stats.demux_insert_failed += 1;
            return;
        };
        if current == key {
            return;
        }
        match current {
            Key::None => {}
            Key::Connection { local, remote } => {
                self.demux.remove_connection(local, remote);
            }
            Key::Listener(ep) => {
                self.demux.remove_listener(ep);
            }
        }
        let inserted = match key {
            Key::None => Ok(()),
            Key::Connection { local, remote } => self.demux.insert_connection(local, remote, slot),
            Key::Listener(ep) => self.demux.insert_listener(ep, slot),
        };
        let registered = if inserted.is_ok() {
            key
        } else {
            self.link.stats.demux_insert_failed += 1;
            Key::None
        };
        if let Some(r) = self.registrations.get_mut(slot) {
            *r = Registration(registered);
        }
    }

    // ----------------------------------------------------------------- egress

    fn egress<D: Device + ?Sized>(
        &mut self,
        cx: &mut Context,
        device: &mut D,
        caps: &DeviceCapabilities,
        sockets: &mut SocketSet<'_>,
    ) -> bool {
        while let Some(slot) = self.timers.pop_due(cx.now) {
            self.ready.insert(slot);
        }
        let mut sent = self.link.flush_held(device, caps, cx.now);

        // Each ready socket gets one turn per poll; sockets that become
        // ready again during their turn wait for the next poll.
        let mut turns = self.ready.len();
        while turns > 0 {
            turns -= 1;
            let Some(slot) = self.ready.pop() else {
                break;
            };
            let mut busy = false;
            while let Some(socket) = sockets.socket_mut(slot) {
                let link = &mut self.link;
                let result = socket.dispatch(cx, |cx, (ip, tcp)| {
                    link.emit_tcp(device, caps, cx.now, &ip, &tcp)
                });
                match result {
                    Ok(true) => sent = true,
                    Ok(false) => break,
                    Err(TxBusy) => {
                        busy = true;
                        break;
                    }
                }
            }
            self.sync_socket(cx, sockets, slot);
            if busy {
                self.link.stats.tx_device_busy += 1;
                self.ready.insert(slot);
                break;
            }
        }
        sent
    }
}

impl Trace<'_> {
    fn push(&mut self, event: TraceEvent) {
        let cap = self.ring.len();
        if self.len >= cap {
            self.dropped += 1;
            return;
        }
        let tail = (self.head + self.len) % cap;
        self.ring[tail] = Some(event);
        self.len += 1;
    }
}

/// Classifies a destination-unreachable code (RFC 1122 4.2.3.9, RFC 5461):
/// protocol/port unreachable and administrative prohibitions are hard,
/// fragmentation needed carries a path MTU, the rest are soft.
fn icmp_error_kind(code: u8, next_hop_mtu: u16) -> IcmpError {
    match code {
        2 | 3 | 9 | 10 | 13 => IcmpError::HardUnreachable,
        4 => IcmpError::FragmentationNeeded { mtu: next_hop_mtu },
        _ => IcmpError::SoftUnreachable,
    }
}

impl<'a> Link<'a> {
    fn has_ip(&self, addr: Ipv4Address) -> bool {
        self.ip_addrs
            .iter()
            .flatten()
            .any(|cidr| cidr.address() == addr)
    }

    fn is_broadcast(&self, addr: Ipv4Address) -> bool {
        addr.is_broadcast()
            || self
                .ip_addrs
                .iter()
                .flatten()
                .any(|cidr| cidr.broadcast() == Some(addr))
    }

    fn is_on_link(&self, addr: Ipv4Address) -> bool {
        self.ip_addrs
            .iter()
            .flatten()
            .any(|cidr| cidr.contains(addr))
    }

    /// The next hop for `dst`: itself when on one of our prefixes, else the
    /// gateway.
    fn next_hop(&self, dst: Ipv4Address) -> Option<Ipv4Address> {
        if self.is_on_link(dst) {
            Some(dst)
        } else {
            self.gateway
        }
    }

    fn process_arp<'f>(&mut self, now: Instant, bytes: &[u8]) -> Option<Reply<'f>> {
        let repr = ArpPacket::new_checked(bytes).and_then(|packet| ArpRepr::parse(&packet));
        let Ok(ArpRepr::EthernetIpv4 {
            operation,
            source_hardware_addr,
            source_protocol_addr,
            target_protocol_addr,
            ..
        }) = repr
        else {
            self.stats.rx_drop_arp_malformed += 1;
            return None;
        };
        if !source_hardware_addr.is_unicast() || !source_protocol_addr.is_unicast() {
            self.stats.rx_drop_arp_malformed += 1;
            return None;
        }
        let source_ip = IpAddress::Ipv4(source_protocol_addr);
        let known = matches!(
            self.neighbors.lookup(source_ip, now),
            NeighborAnswer::Found(_)
        );
        let for_us = self.has_ip(target_protocol_addr);
        // RFC 826: refresh a known sender; learn it when we are the target.
        if known || for_us {
            self.neighbors.fill(source_ip, source_hardware_addr, now);
        }
        if operation == ArpOperation::Request && for_us {
            self.stats.arp_replies_sent += 1;
            return Some(Reply::Arp(ArpRepr::EthernetIpv4 {
                operation: ArpOperation::Reply,
                source_hardware_addr: self.hardware_addr,
                source_protocol_addr: target_protocol_addr,
                target_hardware_addr: source_hardware_addr,
                target_protocol_addr: source_protocol_addr,
            }));
        }
        None
    }

    fn next_ident(&mut self) -> u16 {
        self.ip_ident = self.ip_ident.wrapping_add(1);
        self.ip_ident
    }

    fn emit_reply<T: TxToken>(
        &mut self,
        tx: T,
        caps: &DeviceCapabilities,
        dst_mac: EthernetAddress,
        reply: Reply<'_>,
    ) {
        let src_mac = self.hardware_addr;
        match reply {
            Reply::Arp(arp) => {
                let len = ETHERNET_HEADER_LEN + arp.buffer_len();
                tx.consume(len, |buf| {
                    write_ethernet(buf, src_mac, dst_mac, EthernetProtocol::Arp);
                    if let Some(payload) = buf.get_mut(ETHERNET_HEADER_LEN..) {
                        arp.emit(&mut ArpPacket::new_unchecked(payload));
                    }
                });
            }
            Reply::Icmp(header, icmp) => {
                let ident = self.next_ident();
                let len = ETHERNET_HEADER_LEN + IPV4_HEADER_LEN + icmp.buffer_len();
                tx.consume(len, |buf| {
                    write_ethernet(buf, src_mac, dst_mac, EthernetProtocol::Ipv4);
                    if let Some(ip_bytes) = buf.get_mut(ETHERNET_HEADER_LEN..) {
                        let mut packet = Ipv4Packet::new_unchecked(ip_bytes);
                        emit_ipv4_header(&mut packet, &header, ident, caps);
                        icmp.emit(
                            &mut Icmpv4Packet::new_unchecked(packet.payload_mut()),
                            &caps.checksum,
                        );
                    }
                });
            }
            Reply::Tcp(ip, tcp) => {
                let ident = self.next_ident();
                let len = ETHERNET_HEADER_LEN + IPV4_HEADER_LEN + tcp.buffer_len();
                tx.consume(len, |buf| {
                    write_ethernet(buf, src_mac, dst_mac, EthernetProtocol::Ipv4);
                    if let Some(ip_bytes) = buf.get_mut(ETHERNET_HEADER_LEN..) {
                        write_ipv4_tcp(ip_bytes, ident, &ip, &tcp, caps);
                    }
                });
            }
        }
        self.stats.tx_frames += 1;
    }

    /// Sends one TCP segment: straight out if the next hop's hardware address
    /// is known, else held (bounded) while ARP resolves it.
    fn emit_tcp<D: Device + ?Sized>(
        &mut self,
        device: &mut D,
        caps: &DeviceCapabilities,
        now: Instant,
        ip: &IpRepr,
        tcp: &TcpRepr,
    ) -> Result<(), TxBusy> {
        let Some(next_hop) = ip.dst_addr.as_ipv4().and_then(|dst| self.next_hop(dst)) else {
            self.stats.tx_drop_no_route += 1;
            return Ok(());
        };
        let ip_len = IPV4_HEADER_LEN + tcp.buffer_len();
        match self.neighbors.lookup(IpAddress::Ipv4(next_hop), now) {
            NeighborAnswer::Found(dst_mac) => {
                let token = device.transmit(now).ok_or(TxBusy)?;
                let ident = self.next_ident();
                let src_mac = self.hardware_addr;
                token.consume(ETHERNET_HEADER_LEN + ip_len, |buf| {
                    write_ethernet(buf, src_mac, dst_mac, EthernetProtocol::Ipv4);
                    if let Some(ip_bytes) = buf.get_mut(ETHERNET_HEADER_LEN..) {
                        write_ipv4_tcp(ip_bytes, ident, ip, tcp, caps);
                    }
                });
                self.stats.tx_frames += 1;
            }
            answer => {
                let ident = self.next_ident();
                self.hold(now, next_hop, ip_len, |bytes| {
                    write_ipv4_tcp(bytes, ident, ip, tcp, caps)
                });
                if answer == NeighborAnswer::NotFound {
                    self.send_arp_request(device, now, next_hop);
                }
            }
        }
        Ok(())
    }

    fn send_arp_request<D: Device + ?Sized>(
        &mut self,
        device: &mut D,
        now: Instant,
        target: Ipv4Address,
    ) {
        let Some(source) = self
            .ip_addrs
            .iter()
            .flatten()
            .find(|cidr| cidr.contains(target))
            .or_else(|| self.ip_addrs.iter().flatten().next())
            .map(|cidr| cidr.address())
        else {
            return;
        };
        let Some(token) = device.transmit(now) else {
            return;
        };
        let arp = ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Request,
            source_hardware_addr: self.hardware_addr,
            source_protocol_addr: source,
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: target,
        };
        let src_mac = self.hardware_addr;
        token.consume(ETHERNET_HEADER_LEN + arp.buffer_len(), |buf| {
            write_ethernet(
                buf,
                src_mac,
                EthernetAddress::BROADCAST,
                EthernetProtocol::Arp,
            );
            if let Some(payload) = buf.get_mut(ETHERNET_HEADER_LEN..) {
                arp.emit(&mut ArpPacket::new_unchecked(payload));
            }
        });
        self.neighbors
            .note_request_sent(IpAddress::Ipv4(target), now);
        self.stats.arp_requests_sent += 1;
        self.stats.tx_frames += 1;
    }

    /// Appends an IP packet of `len` bytes, written by `write`, to the held
    /// queue; drops it (counted) when there is no room. TCP retransmits.
    fn hold(
        &mut self,
        now: Instant,
        next_hop: Ipv4Address,
        len: usize,
        write: impl FnOnce(&mut [u8]),
    ) {
        let start = self.held_len;
        let end = start + HELD_RECORD_HEADER + len;
        let Some(record) = self.held.get_mut(start..end) else {
            self.stats.arp_held_dropped += 1;
            return;
        };
        let (header, packet) = record.split_at_mut(HELD_RECORD_HEADER);
        header[0..4].copy_from_slice(next_hop.as_bytes());
        header[4..12].copy_from_slice(&now.total_micros().to_be_bytes());
        // `len` is an IP packet length, at most 65535.
        header[12..16].copy_from_slice(&(len as u32).to_be_bytes());
        write(packet);
        self.held_len = end;
        if self.held_wake.is_none() {
            self.held_wake = Some(now + ARP_RETRY_INTERVAL);
        }
    }

    /// Sends held packets whose next hop is now known, drops expired ones,
    /// and keeps the rest in order.
    fn flush_held<D: Device + ?Sized>(
        &mut self,
        device: &mut D,
        caps: &DeviceCapabilities,
        now: Instant,
    ) -> bool {
        let mut read = 0;
        let mut write = 0;
        let mut sent = false;
        let mut busy = false;
        while read + HELD_RECORD_HEADER <= self.held_len {
            let header = &self.held[read..read + HELD_RECORD_HEADER];
            let next_hop = Ipv4Address([header[0], header[1], header[2], header[3]]);
            let mut micros = [0u8; 8];
            micros.copy_from_slice(&header[4..12]);
            let since = Instant::from_micros(i64::from_be_bytes(micros));
            let len = u32::from_be_bytes([header[12], header[13], header[14], header[15]]) as usize;
            let record_len = HELD_RECORD_HEADER + len;
            let mut keep = true;
            let expired = now - since >= HELD_PACKET_LIFETIME;
            if !expired
                && self.neighbors.lookup(IpAddress::Ipv4(next_hop), now) == NeighborAnswer::NotFound
            {
                // Still unresolved and the rate limit allows: ask again.
                self.send_arp_request(device, now, next_hop);
            }
            if expired {
                self.stats.arp_held_dropped += 1;
                keep = false;
            } else if !busy {
                if let NeighborAnswer::Found(dst_mac) =
                    self.neighbors.lookup(IpAddress::Ipv4(next_hop), now)
                {
                    match device.transmit(now) {
                        Some(token) => {
                            let src_mac = self.hardware_addr;
                            let packet = &self.held[read + HELD_RECORD_HEADER..read + record_len];
                            token.consume(ETHERNET_HEADER_LEN + len, |buf| {
                                write_ethernet(buf, src_mac, dst_mac, EthernetProtocol::Ipv4);
                                if let Some(dst) =
                                    buf.get_mut(ETHERNET_HEADER_LEN..ETHERNET_HEADER_LEN + len)
                                {
                                    dst.copy_from_slice(packet);
                                }
                            });
                            let _ = caps;
                            self.stats.tx_frames += 1;
                            sent = true;
                            keep = false;
                        }
                        None => busy = true,
                    }
                }
            }
            if keep {
                if write != read {
                    self.held.copy_within(read..read + record_len, write);
                }
                write += record_len;
            }
            read += record_len;
        }
        self.held_len = write;
        self.held_wake = (write > 0).then_some(now + ARP_RETRY_INTERVAL);
        sent
    }
}

fn write_ethernet(
    buf: &mut [u8],
    src: EthernetAddress,
    dst: EthernetAddress,
    ethertype: EthernetProtocol,
) {
    let mut frame = EthernetFrame::new_unchecked(buf);
    EthernetRepr {
        src_addr: src,
        dst_addr: dst,
        ethertype,
    }
    .emit(&mut frame);
}

/// Writes an IPv4 header with identification `ident`, computing its
/// checksum once, after the ident is in place (when the device leaves the
/// checksum to software).
fn emit_ipv4_header(
    packet: &mut Ipv4Packet<&mut [u8]>,
    header: &Ipv4Repr,
    ident: u16,
    caps: &DeviceCapabilities,
) {
    let mut no_ipv4_checksum = caps.checksum;
    no_ipv4_checksum.ipv4 = crate::wire::Checksum::None;
    header.emit(packet, &no_ipv4_checksum);
    packet.set_ident(ident);
    if caps.checksum.ipv4.tx() {
        packet.fill_checksum();
    }
}

/// Writes an IPv4 header (DF set: RFC 1191 path MTU discovery) and the TCP
/// segment after it.
fn write_ipv4_tcp(
    buf: &mut [u8],
    ident: u16,
    ip: &IpRepr,
    tcp: &TcpRepr,
    caps: &DeviceCapabilities,
) {
    // The caller routed the segment as IPv4, so both addresses are.
    let (Some(src), Some(dst)) = (ip.src_addr.as_ipv4(), ip.dst_addr.as_ipv4()) else {
        return;
    };
    let header = Ipv4Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: IpProtocol::Tcp,
        payload_len: tcp.buffer_len(),
        hop_limit: ip.hop_limit,
        dont_frag: true,
    };
    let mut packet = Ipv4Packet::new_unchecked(buf);
    emit_ipv4_header(&mut packet, &header, ident, caps);
    tcp.emit(
        &mut TcpPacket::new_unchecked(packet.payload_mut()),
        &ip.src_addr,
        &ip.dst_addr,
        &caps.checksum,
    );
}
