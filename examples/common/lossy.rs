//! A lossy bottleneck link between two pollnet stacks, on a virtual clock:
//! what the `lossy` example, `tests/lossy.rs` and `benches/lossy.rs` share.
//!
//! The model, per direction: a drop-tail queue of `queue_frames` frames (the
//! one being serialized counts), a bottleneck of `rate_bps` (a frame takes
//! its length in bytes, Ethernet header included, times 8 / rate to leave;
//! no preamble, FCS or gap), `one_way_delay` of propagation, then seeded
//! random loss: after both ends reach ESTABLISHED, the i-th frame handed to
//! a direction is lost when the i-th draw of that direction's SplitMix64
//! stream, as a uniform in [0, 1), is below the loss rate. A lost frame has
//! used its slot on the bottleneck (it dies on the wire, past the queue).
//! One stream per (seed, direction) serves every loss rate, so for one seed
//! the frames lost at 1% are among those lost at 3%. The handshake and its
//! ARP exchange cross the link without random loss.
//!
//! The clock jumps from event to event (the next frame arrival either way,
//! and both interfaces' `poll_at`); nothing sleeps, so a 20 MB transfer
//! takes milliseconds of wall time and its figures do not depend on the
//! machine. The link keeps nanoseconds; the stacks see microseconds. Each
//! step: deliver what has arrived, let the client fill its send buffer,
//! poll A (client) and put its frames on the link, poll B (server) and put
//! its frames on the link, let the server read and check every byte.
//!
//! Counted on the link, so every version of the stack is measured alike:
//! data frames the client sent; retransmissions among them (a frame that
//! starts below the highest sequence number sent before); RTOs (a poll of
//! the client that its own deadline was due for, with nothing received,
//! that resent the segment at the cumulative ACK point, or that sent an ARP
//! request when its neighbor entry had expired, the next data frame being
//! such a retransmission); tail probes (such a poll resending the highest
//! segment instead: a TLP); other timer-driven retransmissions; random and
//! tail drops each way. Once the stack runs RACK, whose reordering timer
//! also resends the segment at the cumulative ACK, only the stack can tell
//! its RTOs apart: the table then takes its counters (`stack_recovery`).
//!
//! This lives beside the examples rather than in `pollnet::phy`: the
//! nanosecond timeline, the probe that reads every frame and the driver
//! loop belong to a measurement, not to a device an application would put
//! under its stack, and keeping it here leaves the public API as it is.
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use pollnet::iface::{Config, Interface};
use pollnet::phy::{Device, DeviceCapabilities, RxToken, SplitMix64, TxToken};
use pollnet::socket::SocketHandle;
use pollnet::socket::SocketSet;
use pollnet::socket::tcp::{CongestionAlgorithm, State, TcpConfig, TcpSocket};
use pollnet::storage::RingBuffer;
use pollnet::time::{Duration, Instant};
use pollnet::wire::{
    EthernetAddress, EthernetFrame, EthernetProtocol, IpAddress, IpEndpoint, IpProtocol,
    Ipv4Address, Ipv4Cidr, Ipv4Packet, TcpPacket,
};

/// The standard link: 100 Mbit/s.
pub const RATE_BPS: u64 = 100_000_000;
/// The standard round-trip propagation time: 10 ms (5 ms each way).
pub const RTT: Duration = Duration::from_millis(10);
/// The standard drop-tail queue, in frames. The bandwidth-delay product is
/// 125,000 bytes, 83 full frames: a full 256 KiB window (180 segments)
/// fits in pipe plus queue, so a window-limited sender does not overflow
/// it in the steady state, but a whole window sent at one instant does.
pub const QUEUE_FRAMES: usize = 100;
/// The standard socket buffers, both ends.
pub const BUFFER: usize = 256 * 1024;
/// The standard transfer, client to server.
pub const BYTES: usize = 20_000_000;
/// The standard loss rates, percent of frames, each way.
pub const LOSS_PERCENTS: [f64; 4] = [0.0, 1.0, 3.0, 10.0];
/// The standard number of seeds per case; a figure is their median.
pub const SEEDS: u64 = 5;
/// The first of the standard seeds (the others follow it).
pub const FIRST_SEED: u64 = 0x1055_beef;
/// Virtual time a transfer may take from its first data frame before it
/// is cut off and reported unfinished.
pub const TIME_LIMIT: Duration = Duration::from_secs(600);
/// The largest TCP payload a 1500-byte MTU leaves with timestamps
/// (1500 - 20 IPv4 - 20 TCP - 12 options), and its frame (+ 14 Ethernet).
pub const PAYLOAD_WITH_TIMESTAMPS: usize = 1448;
pub const FULL_FRAME: usize = 1514;

const MAC_CLIENT: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0x10, 0x01]);
const MAC_SERVER: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0x10, 0x02]);
// RFC 5737 TEST-NET-1: the traffic never leaves the process.
const IP_CLIENT: Ipv4Address = Ipv4Address::new(192, 0, 2, 1);
const IP_SERVER: Ipv4Address = Ipv4Address::new(192, 0, 2, 2);
const SERVER_PORT: u16 = 5001;
/// The handshake runs without loss; it takes about one RTT.
const HANDSHAKE_LIMIT_NS: u64 = 10_000_000_000;
/// Steps at one instant before the clock is pushed on by 1 us (a stack
/// whose `poll_at` keeps answering "now" without doing anything); counted.
const SAME_INSTANT_LIMIT: u32 = 100;
/// The client writes at most this much per `send_slice`.
const WRITE_CHUNK: usize = 64 * 1024;
/// Period of the transferred byte pattern: a prime, so it lines up with no
/// segment or buffer size and a misplaced segment is caught.
const PATTERN_PERIOD: usize = 99_991;
/// Spare frame buffers kept for reuse.
const MAX_SPARE_BUFFERS: usize = 4096;
const ETHERTYPE_ARP: u16 = 0x0806;

/// The bottleneck, one direction's worth (both directions get the same).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkModel {
    /// Bottleneck rate, bit/s.
    pub rate_bps: u64,
    /// Propagation delay each way, nanoseconds.
    pub one_way_delay_ns: u64,
    /// Drop-tail queue, frames (the one in service included).
    pub queue_frames: usize,
}

impl LinkModel {
    /// 100 Mbit/s, 10 ms RTT, 100 frames of queue.
    pub const STANDARD: LinkModel = LinkModel {
        rate_bps: RATE_BPS,
        one_way_delay_ns: RTT.total_micros() * 1000 / 2,
        queue_frames: QUEUE_FRAMES,
    };

    /// The round trip of propagation, seconds.
    pub fn rtt_seconds(&self) -> f64 {
        2.0 * self.one_way_delay_ns as f64 / 1e9
    }

    /// Nanoseconds a frame of `len` bytes occupies the bottleneck.
    fn serialization_ns(&self, len: usize) -> u64 {
        let ns = len as u128 * 8 * 1_000_000_000 / u128::from(self.rate_bps.max(1));
        u64::try_from(ns).unwrap_or(u64::MAX)
    }
}

/// Socket settings a run changes from `TcpConfig::default()`; `None`
/// keeps the stack's default. A new `TcpConfig` field the benchmark should
/// vary gets a field here, a line in [`Tuning::apply`] and in
/// [`Tuning::describe`], and a flag in the example.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tuning {
    /// `TcpConfig::sack`: offer SACK-permitted (RFC 2018).
    pub sack: Option<bool>,
    /// `TcpConfig::timestamps` (RFC 7323).
    pub timestamps: Option<bool>,
    /// `TcpConfig::min_rto`.
    pub min_rto: Option<Duration>,
    /// `TcpConfig::congestion`.
    pub congestion: Option<CongestionAlgorithm>,
}

impl Tuning {
    /// No changes: the stack's defaults.
    pub const DEFAULT: Tuning = Tuning {
        sack: None,
        timestamps: None,
        min_rto: None,
        congestion: None,
    };

    /// `TcpConfig::default()` with these changes.
    pub fn config(&self) -> TcpConfig {
        let mut tcp = TcpConfig::default();
        self.apply(&mut tcp);
        tcp
    }

    pub fn apply(&self, tcp: &mut TcpConfig) {
        if let Some(sack) = self.sack {
            tcp.sack = sack;
        }
        if let Some(timestamps) = self.timestamps {
            tcp.timestamps = timestamps;
        }
        if let Some(min_rto) = self.min_rto {
            tcp.min_rto = min_rto;
        }
        if let Some(congestion) = self.congestion {
            tcp.congestion = congestion;
        }
    }

    /// The settings in effect, for a table's heading.
    pub fn describe(&self) -> String {
        let tcp = self.config();
        let on = |b: bool| if b { "on" } else { "off" };
        format!(
            "SACK {}, timestamps {}, min RTO {} ms, {:?} (TcpConfig::default(){})",
            on(tcp.sack),
            on(tcp.timestamps),
            tcp.min_rto.total_millis(),
            tcp.congestion,
            if *self == Tuning::default() {
                ""
            } else {
                " changed as asked"
            }
        )
    }
}

/// One simulated transfer.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    pub link: LinkModel,
    /// Fraction of frames lost each way, in [0, 1).
    pub loss: f64,
    pub seed: u64,
    /// Bytes the client sends; the server reads and checks all of them.
    pub bytes: usize,
    /// Send and receive buffer of both sockets.
    pub buffer: usize,
    pub tuning: Tuning,
    /// Virtual time from the first data frame after which the run stops.
    pub time_limit: Duration,
}

impl Scenario {
    /// The standard scenario at `loss_percent`, with `seed`.
    pub fn standard(loss_percent: f64, seed: u64) -> Scenario {
        Scenario {
            link: LinkModel::STANDARD,
            loss: loss_percent / 100.0,
            seed,
            bytes: BYTES,
            buffer: BUFFER,
            tuning: Tuning::default(),
            time_limit: TIME_LIMIT,
        }
    }
}

// ---------------------------------------------------------------------------
// The device each stack polls: a receive queue the link fills and a
// transmit queue the link empties.

/// Frame buffers both ends share (one thread), so steady traffic reuses
/// them instead of allocating per frame.
type Pool = Rc<RefCell<Vec<Vec<u8>>>>;

fn pool_take(pool: &Pool) -> Vec<u8> {
    pool.borrow_mut().pop().unwrap_or_default()
}

fn pool_give(pool: &Pool, buf: Vec<u8>) {
    let mut spare = pool.borrow_mut();
    if spare.len() < MAX_SPARE_BUFFERS {
        spare.push(buf);
    }
}

/// One stack's network card on the simulated link.
struct Nic {
    rx: VecDeque<Vec<u8>>,
    tx: VecDeque<Vec<u8>>,
    /// The frame an `RxToken` lends out.
    rx_slot: Vec<u8>,
    pool: Pool,
}

impl Nic {
    fn new(pool: Pool) -> Nic {
        Nic {
            rx: VecDeque::new(),
            tx: VecDeque::new(),
            rx_slot: Vec::new(),
            pool,
        }
    }
}

struct NicRx<'a> {
    frame: &'a [u8],
}

struct NicTx<'a> {
    tx: &'a mut VecDeque<Vec<u8>>,
    pool: &'a Pool,
}

impl RxToken for NicRx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.frame)
    }
}

impl TxToken for NicTx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = pool_take(self.pool);
        buf.clear();
        buf.resize(len, 0);
        let result = f(&mut buf);
        self.tx.push_back(buf);
        result
    }
}

impl Device for Nic {
    type RxToken<'a> = NicRx<'a>;
    type TxToken<'a> = NicTx<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(NicRx<'_>, NicTx<'_>)> {
        let frame = self.rx.pop_front()?;
        let previous = std::mem::replace(&mut self.rx_slot, frame);
        pool_give(&self.pool, previous);
        Some((
            NicRx {
                frame: &self.rx_slot,
            },
            NicTx {
                tx: &mut self.tx,
                pool: &self.pool,
            },
        ))
    }

    fn transmit(&mut self, _now: Instant) -> Option<NicTx<'_>> {
        Some(NicTx {
            tx: &mut self.tx,
            pool: &self.pool,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        // Ethernet, MTU 1500, software checksums: an ordinary NIC.
        DeviceCapabilities::default()
    }
}

// ---------------------------------------------------------------------------
// One direction of the link.

/// Drop counts and the queue's peak of one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineCounts {
    pub offered: u64,
    pub random_drops: u64,
    pub tail_drops: u64,
    pub queue_peak: usize,
}

struct Line {
    model: LinkModel,
    loss: f64,
    losses: SplitMix64,
    /// Random loss applies (from ESTABLISHED on).
    lossy: bool,
    /// When the bottleneck finishes the last frame it accepted.
    busy_until: u64,
    /// When each queued frame (the one in service included) leaves.
    queue: VecDeque<u64>,
    /// Frames propagating: arrival time and frame, arrivals ascending.
    flight: VecDeque<(u64, Vec<u8>)>,
    counts: LineCounts,
}

impl Line {
    fn new(model: LinkModel, loss: f64, seed: u64, direction: u64) -> Line {
        // Each direction its own stream; the constant keeps the streams of
        // neighbouring seeds apart.
        let key = seed ^ direction.wrapping_mul(0xa076_1d64_78bd_642f);
        Line {
            model,
            loss,
            losses: SplitMix64::new(key),
            lossy: false,
            busy_until: 0,
            queue: VecDeque::new(),
            flight: VecDeque::new(),
            counts: LineCounts::default(),
        }
    }

    /// A frame handed to the link at `now`; its buffer back if it was
    /// dropped (tail drop or random loss).
    fn offer(&mut self, now: u64, frame: Vec<u8>) -> Option<Vec<u8>> {
        self.counts.offered += 1;
        // The draw is taken for every frame while loss is on, dropped at the
        // tail or not, so the stream index is the frame's index.
        let lost = self.lossy && {
            let uniform = (self.losses.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            uniform < self.loss
        };
        while self.queue.front().is_some_and(|&leaves| leaves <= now) {
            self.queue.pop_front();
        }
        if self.queue.len() >= self.model.queue_frames {
            self.counts.tail_drops += 1;
            return Some(frame);
        }
        let leaves = self.busy_until.max(now) + self.model.serialization_ns(frame.len());
        self.busy_until = leaves;
        self.queue.push_back(leaves);
        self.counts.queue_peak = self.counts.queue_peak.max(self.queue.len());
        if lost {
            self.counts.random_drops += 1;
            return Some(frame);
        }
        self.flight
            .push_back((leaves + self.model.one_way_delay_ns, frame));
        None
    }

    fn next_arrival(&self) -> Option<u64> {
        self.flight.front().map(|(at, _)| *at)
    }

    /// The frames that have arrived by `now`, in order.
    fn arrived(&mut self, now: u64) -> impl Iterator<Item = Vec<u8>> + '_ {
        std::iter::from_fn(move || {
            if self.flight.front()?.0 <= now {
                self.flight.pop_front().map(|(_, frame)| frame)
            } else {
                None
            }
        })
    }
}

// ---------------------------------------------------------------------------
// What the link sees of the client's sending.

fn is_arp(frame: &[u8]) -> bool {
    frame.len() >= 14 && u16::from_be_bytes([frame[12], frame[13]]) == ETHERTYPE_ARP
}

/// Sequence number, acknowledgment number, SYN and payload length of an
/// Ethernet/IPv4/TCP frame.
fn tcp_fields(frame: &[u8]) -> Option<(u32, u32, bool, usize)> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EthernetProtocol::Ipv4 {
        return None;
    }
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    if ip.next_header() != IpProtocol::Tcp {
        return None;
    }
    let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
    Some((
        tcp.seq_number().0,
        tcp.ack_number().0,
        tcp.syn(),
        tcp.payload().len(),
    ))
}

/// Counters of the client's data, from the frames on the link.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    /// The client's ISN + 1: stream offset 0.
    base: Option<u32>,
    /// One past the highest stream offset sent.
    snd_max: u64,
    /// The highest cumulative ACK that reached the client (stream offset).
    ack_max: u64,
    pub data_frames: u64,
    pub retransmitted_frames: u64,
    pub retransmitted_bytes: u64,
    pub rtos: u64,
    /// Timer-driven retransmissions of the highest segment sent instead:
    /// tail loss probes (RFC 8985 section 7).
    pub timer_probes: u64,
    /// Other timer-driven retransmissions (e.g. losses marked when RACK's
    /// reordering window expired, RFC 8985 section 6.2).
    pub timer_recoveries: u64,
    pub largest_payload: usize,
    pub first_data_ns: Option<u64>,
    last_data_ns: u64,
    /// The longest silence of the client's data before an RTO.
    pub longest_rto_wait_ns: u64,
    /// Retransmissions in a poll with nothing received and no deadline due
    /// (none are expected; counted to show there are none).
    pub unexplained_retransmissions: u64,
    /// The poll of the client in progress: nothing received, deadline due,
    /// already counted as an RTO or probe.
    quiet: bool,
    due: bool,
    counted: bool,
    /// A quiet, due poll sent an ARP request: the next data frame, once the
    /// neighbor answered, is that timer's.
    timer_after_arp: bool,
}

impl Probe {
    fn offset(&self, seq: u32) -> Option<u64> {
        self.base.map(|base| u64::from(seq.wrapping_sub(base)))
    }

    fn begin_client_poll(&mut self, quiet: bool, due: bool) {
        self.quiet = quiet;
        self.due = due;
        self.counted = false;
    }

    fn client_sent(&mut self, now: u64, frame: &[u8]) {
        if is_arp(frame) {
            self.timer_after_arp |= self.quiet && self.due;
            return;
        }
        let Some((seq, _, syn, len)) = tcp_fields(frame) else {
            return;
        };
        if syn {
            self.base = Some(seq.wrapping_add(1));
            return;
        }
        let Some(offset) = self.offset(seq).filter(|_| len > 0) else {
            return;
        };
        let end = offset + len as u64;
        self.data_frames += 1;
        self.largest_payload = self.largest_payload.max(len);
        self.first_data_ns.get_or_insert(now);
        if offset < self.snd_max {
            self.retransmitted_frames += 1;
            self.retransmitted_bytes += end.min(self.snd_max) - offset;
            let timer = (self.quiet && self.due && !self.counted) || self.timer_after_arp;
            if timer {
                self.counted = true;
                // Before RACK's reordering timer, the only timer that
                // resends the segment at SND.UNA is the RTO; with it, the
                // stack's own counters (`stack_recovery`) tell them apart.
                if offset == self.ack_max {
                    self.rtos += 1;
                    self.longest_rto_wait_ns =
                        self.longest_rto_wait_ns.max(now - self.last_data_ns);
                } else if end >= self.snd_max {
                    self.timer_probes += 1;
                } else {
                    self.timer_recoveries += 1;
                }
            } else if self.quiet && !self.due {
                self.unexplained_retransmissions += 1;
            }
        }
        self.timer_after_arp = false;
        self.snd_max = self.snd_max.max(end);
        self.last_data_ns = now;
    }

    fn client_received(&mut self, frame: &[u8]) {
        if let (Some((_, ack, _, _)), Some(base)) = (tcp_fields(frame), self.base) {
            let offset = u64::from(ack.wrapping_sub(base));
            if offset <= self.snd_max {
                self.ack_max = self.ack_max.max(offset);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The transfer.

/// The byte pattern the client sends: `PATTERN_PERIOD` pseudo-random bytes
/// repeated, kept once with a write chunk's worth more so any slice of up
/// to `WRITE_CHUNK` bytes is one borrow.
pub struct Pattern {
    bytes: Vec<u8>,
}

impl Default for Pattern {
    fn default() -> Self {
        let mut rng = SplitMix64::new(0x9a77_e511);
        let period: Vec<u8> = (0..PATTERN_PERIOD).map(|_| rng.next_u32() as u8).collect();
        let bytes = period
            .iter()
            .chain(period.iter().take(WRITE_CHUNK))
            .copied()
            .collect();
        Pattern { bytes }
    }
}

impl Pattern {
    /// The `len` (at most `WRITE_CHUNK`) bytes from stream offset `offset`.
    fn slice(&self, offset: usize, len: usize) -> &[u8] {
        let start = offset % PATTERN_PERIOD;
        &self.bytes[start..start + len.min(WRITE_CHUNK)]
    }
}

/// One end: interface, card and the socket of the connection.
struct Host {
    iface: Interface<'static>,
    nic: Nic,
    sockets: SocketSet<'static>,
    socket: SocketHandle,
}

impl Host {
    fn new(
        mac: EthernetAddress,
        ip: Ipv4Address,
        seed: u64,
        tcp: TcpConfig,
        s: &Scenario,
        pool: Pool,
    ) -> Host {
        // TCP settings are per socket (set below); the interface takes the
        // seed its secrets derive from.
        let config = Config::new(mac, u128::from(seed))
            .with_ip(Ipv4Cidr::new(ip, 24).expect("24 is a valid prefix length"));
        let mut sockets = SocketSet::with_capacity(2);
        let mut socket = TcpSocket::new(
            RingBuffer::new(vec![0u8; s.buffer]),
            RingBuffer::new(vec![0u8; s.buffer]),
        );
        socket.set_config(tcp);
        let socket = sockets.add(socket).expect("an empty set has room");
        Host {
            iface: Interface::new(config).expect("a unicast MAC address"),
            nic: Nic::new(pool),
            sockets,
            socket,
        }
    }

    fn tcp(&self) -> &TcpSocket<'static> {
        self.sockets
            .get::<TcpSocket>(self.socket)
            .expect("the connection's socket stays in the set")
    }

    fn tcp_mut(&mut self) -> &mut TcpSocket<'static> {
        self.sockets
            .get_mut::<TcpSocket>(self.socket)
            .expect("the connection's socket stays in the set")
    }

    fn poll(&mut self, now: u64) {
        self.iface
            .poll(instant(now), &mut self.nic, &mut self.sockets);
    }

    fn poll_at(&self) -> Option<u64> {
        self.iface
            .poll_at(&self.sockets)
            .map(|at| u64::try_from(at.total_micros()).unwrap_or(0) * 1000)
    }
}

fn instant(ns: u64) -> Instant {
    Instant::from_micros(i64::try_from(ns / 1000).unwrap_or(i64::MAX))
}

/// The end of one transfer.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub scenario: Scenario,
    /// Bytes the server read, every one checked against the pattern.
    pub delivered: usize,
    /// Why the run stopped short, if it did.
    pub stopped: Option<String>,
    /// Virtual time from the client's first data frame to the last byte
    /// read (or to the stop).
    pub virtual_time: Duration,
    pub wall: std::time::Duration,
    pub probe: Probe,
    /// Client to server, server to client.
    pub lines: [LineCounts; 2],
    /// The stacks' own counters (`Interface::stats()`), client then server.
    pub client_stats: pollnet::iface::Stats,
    pub server_stats: pollnet::iface::Stats,
    /// Times the clock was pushed on because `poll_at` kept saying "now".
    pub forced_steps: u64,
    /// The client's own recovery counters, where it has them.
    pub stack_recovery: StackRecovery,
}

impl Outcome {
    /// Goodput, Mbit/s of virtual time.
    pub fn mbps(&self) -> f64 {
        let secs = self.virtual_time.total_micros() as f64 / 1e6;
        if secs > 0.0 {
            self.delivered as f64 * 8.0 / secs / 1e6
        } else {
            0.0
        }
    }

    pub fn finished(&self) -> bool {
        self.stopped.is_none()
    }
}

/// Runs one transfer to its end (or its time limit).
pub fn simulate(s: &Scenario, pattern: &Pattern) -> Outcome {
    let wall = std::time::Instant::now();
    let tcp = s.tuning.config();
    let pool: Pool = Rc::default();
    // Fixed interface seeds: the ISNs and hash keys are the same every run,
    // so a seed of the link names one run exactly.
    let mut client = Host::new(MAC_CLIENT, IP_CLIENT, 0x0c11_e417, tcp, s, pool.clone());
    let mut server = Host::new(MAC_SERVER, IP_SERVER, 0x5e7e_e417, tcp, s, pool.clone());
    let mut to_server = Line::new(s.link, s.loss, s.seed, 0);
    let mut to_client = Line::new(s.link, s.loss, s.seed, 1);
    let mut probe = Probe::default();

    // Virtual time starts at 1 s, clear of the zero instant.
    let mut now: u64 = 1_000_000_000;
    server
        .tcp_mut()
        .listen(SERVER_PORT)
        .expect("listening on a fresh socket");
    let remote = IpEndpoint::new(IpAddress::Ipv4(IP_SERVER), SERVER_PORT);
    let handle = client.socket;
    client
        .iface
        .connect(&mut client.sockets, handle, remote, instant(now))
        .expect("connect from a fresh socket");

    let limit_ns = s.time_limit.total_micros().saturating_mul(1000);
    let mut read_buf = vec![0u8; WRITE_CHUNK];
    let (mut written, mut delivered) = (0usize, 0usize);
    let mut established = false;
    let mut client_due = Some(now);
    let mut same_instant = 0u32;
    let mut forced_steps = 0u64;
    let mut stopped = None;
    let mut end;
    loop {
        for frame in to_server.arrived(now) {
            server.nic.rx.push_back(frame);
        }
        for frame in to_client.arrived(now) {
            probe.client_received(&frame);
            client.nic.rx.push_back(frame);
        }
        if established {
            let socket = client.tcp_mut();
            while written < s.bytes {
                let len = (s.bytes - written).min(WRITE_CHUNK);
                match socket.send_slice(pattern.slice(written, len)) {
                    Ok(n) if n > 0 => written += n,
                    _ => break,
                }
            }
        }
        probe.begin_client_poll(
            client.nic.rx.is_empty(),
            client_due.is_some_and(|due| due <= now),
        );
        client.poll(now);
        while let Some(frame) = client.nic.tx.pop_front() {
            probe.client_sent(now, &frame);
            if let Some(buf) = to_server.offer(now, frame) {
                pool_give(&pool, buf);
            }
        }
        server.poll(now);
        while let Some(frame) = server.nic.tx.pop_front() {
            if let Some(buf) = to_client.offer(now, frame) {
                pool_give(&pool, buf);
            }
        }
        if !established
            && client.tcp().state() == State::Established
            && server.tcp().state() == State::Established
        {
            // Loss starts now; the client writes at once, at this instant.
            established = true;
            to_server.lossy = true;
            to_client.lossy = true;
            continue;
        }
        let socket = server.tcp_mut();
        while let Ok(n) = socket.recv_slice(&mut read_buf) {
            if n == 0 {
                break;
            }
            let expected = pattern.slice(delivered, n);
            if read_buf[..n] != *expected {
                let at = read_buf[..n]
                    .iter()
                    .zip(expected)
                    .position(|(a, b)| a != b)
                    .unwrap_or(0);
                panic!("lossy link: byte {} of the stream is wrong", delivered + at);
            }
            delivered += n;
        }
        end = now;
        if delivered >= s.bytes {
            break;
        }
        if let Some(why) = broken(&client, &server) {
            stopped = Some(why);
            break;
        }
        assert!(
            established || now < 1_000_000_000 + HANDSHAKE_LIMIT_NS,
            "lossy link: the handshake did not complete (it runs without loss)"
        );
        let cutoff = probe.first_data_ns.map(|t| t.saturating_add(limit_ns));
        if cutoff.is_some_and(|cutoff| now >= cutoff) {
            stopped = Some(format!("time limit of {} s reached", s.time_limit.secs()));
            break;
        }
        client_due = client.poll_at();
        let pending = (!client.nic.rx.is_empty() || !server.nic.rx.is_empty()).then_some(now);
        let next = [
            to_server.next_arrival(),
            to_client.next_arrival(),
            client_due,
            server.poll_at(),
            pending,
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(next) = next else {
            stopped = Some("nothing left to happen: no frame in flight, no timer".into());
            break;
        };
        if let Some(cutoff) = cutoff.filter(|&cutoff| next > cutoff) {
            end = cutoff;
            stopped = Some(format!("time limit of {} s reached", s.time_limit.secs()));
            break;
        }
        if next > now {
            same_instant = 0;
            now = next;
        } else {
            same_instant += 1;
            if same_instant >= SAME_INSTANT_LIMIT {
                same_instant = 0;
                forced_steps += 1;
                now += 1000;
            }
        }
    }
    let first = probe.first_data_ns.unwrap_or(end);
    Outcome {
        scenario: *s,
        delivered,
        stopped,
        virtual_time: Duration::from_micros((end - first) / 1000),
        wall: wall.elapsed(),
        lines: [to_server.counts, to_client.counts],
        probe,
        stack_recovery: stack_recovery(&client.iface.stats()),
        client_stats: client.iface.stats(),
        server_stats: server.iface.stats(),
        forced_steps,
    }
}

/// The stack's own loss-recovery counters, where it has them: counted by
/// the stack, they tell an RTO from a RACK or TLP timer, which the link's
/// view of timer-driven retransmissions cannot once those timers exist.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StackRecovery {
    pub rtos: Option<u64>,
    pub tlps: Option<u64>,
}

/// The client's recovery counters from `Interface::stats()`: the stack's
/// own count of retransmission timeouts and tail loss probes.
fn stack_recovery(stats: &pollnet::iface::Stats) -> StackRecovery {
    StackRecovery {
        rtos: Some(stats.tcp_rtos),
        tlps: Some(stats.tcp_tlps_sent),
    }
}

/// Why the connection is gone, if it is.
fn broken(client: &Host, server: &Host) -> Option<String> {
    let (c, s) = (client.tcp(), server.tcp());
    let gone = |t: &TcpSocket| t.error().is_some() || t.state() == State::Closed;
    (gone(c) || gone(s)).then(|| {
        format!(
            "connection broken: client {} {:?}, server {} {:?}",
            c.state(),
            c.error(),
            s.state(),
            s.error()
        )
    })
}

// ---------------------------------------------------------------------------
// Figures.

/// The Mathis et al. (1997) bound for Reno, Mbit/s:
/// MSS * 8 / RTT * sqrt(3/2) / sqrt(p), at most `cap_mbps`.
pub fn mathis_mbps(mss: usize, rtt_seconds: f64, p: f64, cap_mbps: f64) -> f64 {
    if p <= 0.0 {
        return cap_mbps;
    }
    (mss as f64 * 8.0 / rtt_seconds * 1.5f64.sqrt() / p.sqrt() / 1e6).min(cap_mbps)
}

/// The goodput ceiling of the link, Mbit/s: the rate times the share of a
/// full frame (`FULL_FRAME` bytes, whatever the options) that is payload,
/// times the frames that survive.
pub fn ceiling_mbps(link: &LinkModel, p: f64, payload: usize) -> f64 {
    link.rate_bps as f64 / 1e6 * payload as f64 / FULL_FRAME as f64 * (1.0 - p)
}

/// The median of `values` (the middle one of the sorted list; the lower
/// middle for an even count).
pub fn median<T: PartialOrd + Copy>(values: &[T]) -> T {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    sorted[(sorted.len() - 1) / 2]
}

/// The runs of one loss rate and their medians.
pub struct Row {
    pub loss_percent: f64,
    pub runs: Vec<Outcome>,
}

impl Row {
    /// Runs `scenario` once per seed, the seeds `first_seed` and on.
    pub fn measure(scenario: &Scenario, first_seed: u64, seeds: u64, pattern: &Pattern) -> Row {
        let runs = (0..seeds.max(1))
            .map(|k| {
                let s = Scenario {
                    seed: first_seed.wrapping_add(k),
                    ..*scenario
                };
                simulate(&s, pattern)
            })
            .collect();
        Row {
            loss_percent: scenario.loss * 100.0,
            runs,
        }
    }

    pub fn goodput_mbps(&self) -> f64 {
        median(&self.runs.iter().map(Outcome::mbps).collect::<Vec<_>>())
    }

    pub fn retransmitted_frames(&self) -> u64 {
        median(
            &self
                .runs
                .iter()
                .map(|o| o.probe.retransmitted_frames)
                .collect::<Vec<_>>(),
        )
    }

    /// RTOs: the stack's count where every run has one, else the link's.
    pub fn rtos(&self) -> u64 {
        let stack: Option<Vec<u64>> = self.runs.iter().map(|o| o.stack_recovery.rtos).collect();
        median(&stack.unwrap_or_else(|| self.runs.iter().map(|o| o.probe.rtos).collect()))
    }

    /// Tail loss probes: the stack's count where every run has one, else
    /// the link's (retransmissions of the highest segment on a timer; a
    /// probe that sends new data is not a retransmission and is not seen).
    pub fn tlps(&self) -> u64 {
        let stack: Option<Vec<u64>> = self.runs.iter().map(|o| o.stack_recovery.tlps).collect();
        median(&stack.unwrap_or_else(|| self.runs.iter().map(|o| o.probe.timer_probes).collect()))
    }

    /// Whether the RTO and TLP columns are the stack's own counts.
    pub fn counted_by_stack(&self) -> bool {
        self.runs.iter().all(|o| o.stack_recovery.rtos.is_some())
    }

    pub fn timer_recoveries(&self) -> u64 {
        median(
            &self
                .runs
                .iter()
                .map(|o| o.probe.timer_recoveries)
                .collect::<Vec<_>>(),
        )
    }

    pub fn finished(&self) -> usize {
        self.runs.iter().filter(|o| o.finished()).count()
    }

    /// The payload size the transfer used (the largest seen on the link).
    pub fn payload(&self) -> usize {
        self.runs
            .iter()
            .map(|o| o.probe.largest_payload)
            .max()
            .unwrap_or(PAYLOAD_WITH_TIMESTAMPS)
    }
}

/// The table header: one line per column group, and the rule under it.
pub const TABLE_HEADER: &str = "| loss | goodput Mbit/s (median; min-max) | retx frames | RTOs | TLPs | other timer retx | finished | Mathis (MSS 1460) | link ceiling |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|";

/// What the RTO and TLP columns of `rows` are, for under the table.
pub fn counts_note(rows: &[Row]) -> &'static str {
    if rows.iter().all(Row::counted_by_stack) {
        "RTOs and TLPs: the stack's own counters"
    } else {
        "RTOs and TLPs: seen on the link (a timer-driven retransmission of the segment at the cumulative \
         ACK; of the highest segment); other timer retx: the rest. (With RACK, whose timer also resends \
         the segment at the cumulative ACK, only the stack's counters separate RTOs.)"
    }
}

/// One line of the table (Markdown, so it pastes into BENCHMARKS.md).
pub fn table_line(row: &Row) -> String {
    let mbps: Vec<f64> = row.runs.iter().map(Outcome::mbps).collect();
    let min = mbps.iter().copied().fold(f64::INFINITY, f64::min);
    let max = mbps.iter().copied().fold(0.0, f64::max);
    let s = &row.runs[0].scenario;
    let p = s.loss;
    let cap = s.link.rate_bps as f64 / 1e6;
    let mathis = if p > 0.0 {
        format!("{:.2}", mathis_mbps(1460, s.link.rtt_seconds(), p, cap))
    } else {
        "-".into()
    };
    format!(
        "| {}% | {:.2} ({:.2}-{:.2}) | {} | {} | {} | {} | {}/{} | {} | {:.2} |",
        row.loss_percent,
        row.goodput_mbps(),
        min,
        max,
        row.retransmitted_frames(),
        row.rtos(),
        row.tlps(),
        row.timer_recoveries(),
        row.finished(),
        row.runs.len(),
        mathis,
        ceiling_mbps(&s.link, p, row.payload()),
    )
}

/// One run in words, for `--verbose` and test failures.
pub fn account(o: &Outcome) -> String {
    let p = &o.probe;
    let [ab, ba] = o.lines;
    format!(
        "seed {:#x}: {} of {} bytes checked in {:.3} s virtual ({:.0} ms wall){}; client data frames {}, \
         retransmitted {} ({} B), RTOs {} (longest silence before one {:.3} s), tail probes {}, \
         other timer retransmissions {}, unexplained retransmissions {}; client->server offered {} lost {} tail-dropped {} queue peak {}; \
         server->client offered {} lost {} tail-dropped {} queue peak {}; stack counters: client \
         tcp_retransmissions {} of tcp_segments_sent {}, server tcp_segments_sent {}; clock pushed {} times",
        o.scenario.seed,
        o.delivered,
        o.scenario.bytes,
        o.virtual_time.total_micros() as f64 / 1e6,
        o.wall.as_secs_f64() * 1e3,
        o.stopped
            .as_ref()
            .map_or(String::new(), |why| format!(", STOPPED: {why}")),
        p.data_frames,
        p.retransmitted_frames,
        p.retransmitted_bytes,
        p.rtos,
        p.longest_rto_wait_ns as f64 / 1e9,
        p.timer_probes,
        p.timer_recoveries,
        p.unexplained_retransmissions,
        ab.offered,
        ab.random_drops,
        ab.tail_drops,
        ab.queue_peak,
        ba.offered,
        ba.random_drops,
        ba.tail_drops,
        ba.queue_peak,
        o.client_stats.tcp_retransmissions,
        o.client_stats.tcp_segments_sent,
        o.server_stats.tcp_segments_sent,
        o.forced_steps,
    )
}

#[cfg(test)]
mod link_model_tests {
    use super::*;

    fn frame(len: usize) -> Vec<u8> {
        vec![0u8; len]
    }

    #[test]
    fn a_full_frame_arrives_after_its_serialization_and_the_propagation_delay() {
        let mut line = Line::new(LinkModel::STANDARD, 0.0, 1, 0);
        assert!(line.offer(1_000, frame(FULL_FRAME)).is_none());
        assert!(line.offer(1_000, frame(FULL_FRAME)).is_none());
        // 1514 bytes at 100 Mbit/s: 121.12 us each, the second behind the first.
        assert_eq!(line.next_arrival(), Some(1_000 + 121_120 + 5_000_000));
        assert_eq!(line.arrived(1_000 + 121_120 + 5_000_000).count(), 1);
        assert_eq!(line.next_arrival(), Some(1_000 + 2 * 121_120 + 5_000_000));
        assert_eq!(line.arrived(u64::MAX).count(), 1);
    }

    #[test]
    fn the_queue_drops_at_its_tail_and_frees_a_slot_per_serialization() {
        let model = LinkModel {
            queue_frames: 3,
            ..LinkModel::STANDARD
        };
        let mut line = Line::new(model, 0.0, 1, 0);
        for _ in 0..3 {
            assert!(line.offer(0, frame(1000)).is_none());
        }
        assert!(
            line.offer(0, frame(1000)).is_some(),
            "a fourth frame at once"
        );
        assert_eq!(line.counts.tail_drops, 1);
        // 1000 bytes take 80 us: at 80 us the first has left the queue.
        assert!(line.offer(79_999, frame(1000)).is_some());
        assert!(line.offer(80_000, frame(1000)).is_none());
        assert_eq!(line.counts.queue_peak, 3);
        assert_eq!(line.counts.offered, 6);
    }

    /// Which of `n` frames a line loses at `loss`.
    fn lost(loss: f64, seed: u64, direction: u64, n: usize) -> Vec<bool> {
        let model = LinkModel {
            queue_frames: usize::MAX,
            ..LinkModel::STANDARD
        };
        let mut line = Line::new(model, loss, seed, direction);
        line.lossy = true;
        (0..n).map(|_| line.offer(0, frame(64)).is_some()).collect()
    }

    #[test]
    fn the_frames_lost_at_a_lower_rate_are_among_those_lost_at_a_higher_one() {
        let (one, three, ten) = (
            lost(0.01, 7, 0, 20_000),
            lost(0.03, 7, 0, 20_000),
            lost(0.10, 7, 0, 20_000),
        );
        for i in 0..20_000 {
            assert!(!one[i] || three[i], "frame {i} lost at 1% but not at 3%");
            assert!(!three[i] || ten[i], "frame {i} lost at 3% but not at 10%");
        }
        // The rate is what was asked (a fixed seed: these counts are exact
        // every run; the bounds are 4 standard deviations).
        let count = |v: &[bool]| v.iter().filter(|&&l| l).count();
        assert!((140..=260).contains(&count(&one)), "{}", count(&one));
        assert!((1880..=2120).contains(&count(&ten)), "{}", count(&ten));
    }

    #[test]
    fn the_directions_and_the_seeds_have_streams_of_their_own() {
        let base = lost(0.10, 7, 0, 2_000);
        assert_ne!(base, lost(0.10, 7, 1, 2_000));
        assert_ne!(base, lost(0.10, 8, 0, 2_000));
        assert_eq!(base, lost(0.10, 7, 0, 2_000));
    }

    #[test]
    fn no_random_loss_before_the_connection_is_established() {
        let mut line = Line::new(LinkModel::STANDARD, 0.5, 3, 0);
        for _ in 0..50 {
            assert!(line.offer(0, frame(60)).is_none());
        }
        assert_eq!(line.counts.random_drops, 0);
    }

    #[test]
    fn the_mathis_bound_and_the_ceiling_match_the_published_figures() {
        // MSS 1460, RTT 10 ms: 14.31 / 8.26 / 4.52 Mbit/s at 1 / 3 / 10%.
        let rtt = LinkModel::STANDARD.rtt_seconds();
        for (p, expected) in [(0.01, 14.31), (0.03, 8.26), (0.10, 4.52)] {
            let bound = mathis_mbps(1460, rtt, p, 100.0);
            assert!((bound - expected).abs() < 0.005, "{p}: {bound}");
        }
        let ceiling = ceiling_mbps(&LinkModel::STANDARD, 0.0, 1448);
        assert!((ceiling - 95.64).abs() < 0.005, "{ceiling}");
    }
}
