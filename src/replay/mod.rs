//! Replays a capture against pollnet, standing in for one host of the
//! capture, and reports per connection how pollnet's segments differ from
//! the captured host's (feature `phy-pcap`; the `replay` example is its
//! command line).
//!
//! The captured frames of the *peers* are received at their captured times
//! on a virtual clock (the host's own captured frames are not received: they
//! are what pollnet is compared against). No clock is read and nothing
//! sleeps, so the same capture and [`ReplayOptions`] give the same
//! [`Report`] and the same output frames on every run.
//!
//! # Sequence translation
//!
//! pollnet answers each captured SYN with its own initial sequence number
//! and timestamp clock, but the captured peer's later segments acknowledge
//! the captured host's (RFC 9293 section 3.4; RFC 7323 section 3). Once
//! pollnet has sent its SYN+ACK for a connection, every later captured peer
//! segment of that connection is rewritten before pollnet receives it: its
//! acknowledgment number and SACK blocks (RFC 2018) move by the difference
//! between pollnet's ISN and the host's, its TSecr by the difference between
//! pollnet's first TSval and the host's, and the TCP checksum is computed
//! again.
//!
//! # Mirroring the host's handshake
//!
//! Before each captured SYN is received, the listener's [`TcpConfig`] is set
//! to the replay's base config with window scaling, timestamps and
//! SACK-permitted on exactly when the captured host's SYN+ACK carried them,
//! so pollnet agrees to what the original host agreed to and the peer's
//! captured segments (with or without timestamps) stay acceptable. This is
//! the per-connection hook: a listener's child takes its listener's config
//! when the connection is made. Connections whose handshakes overlap in the
//! capture share the last SYN's setting (a limitation of this first
//! version). The MSS is not mirrored per connection: the device's MTU is
//! [`ReplayOptions::mtu`], by default the largest MSS the host announced
//! plus 40, or 1500.
//!
//! # The host's application
//!
//! Each connection's application sends the bytes the captured host sent,
//! each made available at the time the host first sent it, and closes when
//! the host sent its FIN (aborts when it sent a RST); what the peer sends is
//! read and discarded.
//!
//! # The report
//!
//! For each connection the peer opened to the host, pollnet's segments are
//! compared in order with the captured host's: flags, sequence number
//! relative to the sender's ISN, acknowledgment number relative to the
//! peer's ISN, payload length. The first difference is the divergence.
//! Connections the host opened are not replayed yet.

use std::collections::BTreeMap;
use std::format;
use std::io::{self, Write};
use std::string::String;
use std::vec;
use std::vec::Vec;

use crate::iface::{Config, Interface, Stats};
use crate::phy::pcap::{pcap_file_header, write_record};
use crate::phy::{
    Checksum, Device, DeviceCapabilities, Medium, PcapReplay, PcapReplayError, RecordedFrame,
};
use crate::socket::TraceEvent;
use crate::socket::tcp::{State, TcpConfig, TcpSocket};
use crate::socket::{ChildBuffers, SocketHandle, SocketSet};
use crate::storage::RingBuffer;
use crate::time::{Duration, Instant};
use crate::wire::{
    EthernetAddress, EthernetFrame, EthernetProtocol, IpAddress, IpEndpoint, Ipv4Address, Ipv4Cidr,
    Ipv4Packet, TcpPacket,
};

/// Receive and transmit buffer of each replayed connection.
const BUFFER: usize = 256 * 1024;

/// How a replay runs.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// The captured host's address and prefix: pollnet takes its place.
    pub cidr: Ipv4Cidr,
    /// The captured host's hardware address.
    pub mac: EthernetAddress,
    /// The default gateway, if the host's peers are off-link.
    pub gateway: Option<Ipv4Address>,
    /// Ports to listen on besides those the capture's SYNs to the host name.
    pub listen: Vec<u16>,
    /// The interface's random seed (ISNs, the demultiplexing key).
    pub seed: u64,
    /// The TCP settings; window scaling, timestamps and SACK are set per
    /// connection from the captured host's SYN+ACK.
    pub tcp: TcpConfig,
    /// Virtual time to keep polling after the capture's last frame, so
    /// timers (retransmissions, TIME_WAIT) play out.
    pub tail: Duration,
    /// Accept frames whose TCP checksum was left to the NIC.
    pub offloaded_checksums: bool,
    /// The device's MTU; `None`: the largest MSS the captured host
    /// announced in a SYN+ACK plus 40 (IPv4 and TCP headers), or 1500.
    pub mtu: Option<usize>,
}

impl ReplayOptions {
    /// Options for standing in for the host at `cidr` and `mac`: no extra
    /// listeners, seed 0, the default TCP settings, a 300 s tail, checksums
    /// verified, the MTU from the capture.
    pub fn new(cidr: Ipv4Cidr, mac: EthernetAddress) -> ReplayOptions {
        ReplayOptions {
            cidr,
            mac,
            gateway: None,
            listen: Vec::new(),
            seed: 0,
            tcp: TcpConfig::default(),
            tail: Duration::from_secs(300),
            offloaded_checksums: false,
            mtu: None,
        }
    }
}

/// Why a replay could not run.
#[derive(Debug)]
pub enum ReplayError {
    /// The capture could not be read.
    Capture(PcapReplayError),
    /// The interface could not be set up (e.g. a multicast MAC).
    Setup(String),
}

impl core::fmt::Display for ReplayError {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        match self {
            ReplayError::Capture(e) => write!(f, "{e}"),
            ReplayError::Setup(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for ReplayError {}

/// One TCP segment as the report compares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// The flags, tcpdump style: `S`, `F`, `R`, `P` then `.` for ACK.
    pub flags: u16,
    /// Sequence number relative to the sender's ISN.
    pub seq: u32,
    /// Acknowledgment number relative to the peer's ISN (0 without ACK).
    pub ack: u32,
    /// Payload length.
    pub len: usize,
}

/// Formats TCP flags as tcpdump does (`S`, `S.`, `P.`, `F.`, `R`...).
fn flag_string(flags: u16) -> String {
    let mut s = String::new();
    for (bit, c) in [(0x02, 'S'), (0x01, 'F'), (0x04, 'R'), (0x08, 'P')] {
        if flags & bit != 0 {
            s.push(c);
        }
    }
    if flags & 0x10 != 0 {
        s.push('.');
    }
    if s.is_empty() {
        s.push_str("none");
    }
    s
}

impl core::fmt::Display for Segment {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        write!(
            f,
            "[{}] seq {} ack {} len {}",
            flag_string(self.flags),
            self.seq,
            self.ack,
            self.len
        )
    }
}

/// The first place pollnet's segments differ from the captured host's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// Index of the segment (0: the SYN+ACK) among the connection's
    /// segments from the host.
    pub index: usize,
    /// Which field differs: `flags`, `seq`, `ack`, `len`, or `count` when
    /// one side sent fewer segments.
    pub field: &'static str,
    /// The captured host's segment, if it sent one there.
    pub expected: Option<Segment>,
    /// pollnet's segment, if it sent one there.
    pub got: Option<Segment>,
}

/// One replayed connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionReport {
    /// The peer's end.
    pub peer: IpEndpoint,
    /// The host's end.
    pub host: IpEndpoint,
    /// Segments the captured host sent on it.
    pub expected: Vec<Segment>,
    /// Segments pollnet sent on it.
    pub got: Vec<Segment>,
    /// The first divergence, or `None` when every segment matched.
    pub divergence: Option<Divergence>,
}

impl core::fmt::Display for ConnectionReport {
    /// `PEER -> HOST: matched (N segments)` or
    /// `PEER -> HOST: diverged at segment I: FIELD: expected E, got G`.
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        write!(f, "{} -> {}: ", self.peer, self.host)?;
        let show = |s: &Option<Segment>| match s {
            Some(s) => format!("{s}"),
            None => String::from("nothing"),
        };
        match &self.divergence {
            None => write!(f, "matched ({} segments)", self.expected.len()),
            Some(d) => write!(
                f,
                "diverged at segment {}: {}: expected {}, got {}",
                d.index,
                d.field,
                show(&d.expected),
                show(&d.got)
            ),
        }
    }
}

/// What a replay found.
#[derive(Debug, Clone)]
pub struct Report {
    /// Frames in the capture.
    pub frames: usize,
    /// The connections peers opened to the host, in the order of their SYNs.
    pub connections: Vec<ConnectionReport>,
    /// Connection state changes, in order.
    pub trace: Vec<TraceEvent>,
    /// The interface's counters at the end.
    pub stats: Stats,
    /// What pollnet sent, with when.
    pub transmitted: Vec<RecordedFrame>,
}

impl Report {
    /// Connections whose segments all matched.
    pub fn matched(&self) -> usize {
        self.connections
            .iter()
            .filter(|c| c.divergence.is_none())
            .count()
    }

    /// The last line: `replay: N connections, M matched, K diverged`.
    pub fn summary(&self) -> String {
        let matched = self.matched();
        format!(
            "replay: {} connections, {} matched, {} diverged",
            self.connections.len(),
            matched,
            self.connections.len() - matched
        )
    }

    /// One line per connection, then the summary, each ending in a newline.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for c in &self.connections {
            out.push_str(&format!("{c}\n"));
        }
        out.push_str(&self.summary());
        out.push('\n');
        out
    }

    /// Writes what pollnet sent as a pcap file to `out`.
    pub fn write_transmitted<W: Write>(&self, mut out: W) -> io::Result<()> {
        out.write_all(&pcap_file_header(Medium::Ethernet))?;
        for frame in &self.transmitted {
            write_record(&mut out, frame.timestamp, &frame.data)?;
        }
        out.flush()
    }
}

/// A connection's key: (peer address, peer port, host port).
type Key = (Ipv4Address, u16, u16);

/// Frames to receive, with when each is due.
type Frames = Vec<(Instant, Vec<u8>)>;

/// The TCP segment of an Ethernet/IPv4 frame: (source, destination,
/// source port, destination port), or `None`.
fn tcp_of(frame: &[u8]) -> Option<(Ipv4Address, Ipv4Address, TcpPacket<&[u8]>)> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EthernetProtocol::Ipv4 {
        return None;
    }
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    if ip.next_header() != crate::wire::IpProtocol::Tcp {
        return None;
    }
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
    Some((src, dst, tcp))
}

/// The options of a SYN+ACK that the host mirrors, and its first TSval.
#[derive(Debug, Clone, Copy, Default)]
struct Handshake {
    mss: Option<u16>,
    window_scale: bool,
    sack_permitted: bool,
    tsval: Option<u32>,
}

/// Walks TCP options (RFC 9293 section 3.1): calls `f(kind, at, len)` for
/// each option with a body, `at` its start in `options`.
fn walk_options(options: &[u8], mut f: impl FnMut(u8, usize, usize)) {
    let mut at = 0;
    while at < options.len() {
        match options[at] {
            0 => break,
            1 => at += 1,
            kind => {
                let Some(&len) = options.get(at + 1) else {
                    break;
                };
                let len = usize::from(len);
                if len < 2 || at + len > options.len() {
                    break;
                }
                f(kind, at, len);
                at += len;
            }
        }
    }
}

fn handshake(tcp: &TcpPacket<&[u8]>) -> Handshake {
    let mut h = Handshake::default();
    let options = tcp.options();
    walk_options(options, |kind, at, len| match (kind, len) {
        (2, 4) => h.mss = Some(u16::from_be_bytes([options[at + 2], options[at + 3]])),
        (3, 3) => h.window_scale = true,
        (4, 2) => h.sack_permitted = true,
        (8, 10) => h.tsval = Some(be32(&options[at + 2..at + 6])),
        _ => {}
    });
    h
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// A host-application step of one connection.
#[derive(Debug, Clone)]
enum Action {
    Send(Vec<u8>),
    Close,
    Abort,
}

/// What the capture says about one connection the peer opened.
#[derive(Debug, Default)]
struct Captured {
    peer_isn: u32,
    host_isn: Option<u32>,
    handshake: Handshake,
    expected: Vec<Segment>,
    /// The host's application, in capture order.
    actions: Vec<(Instant, Action)>,
    /// Learned from pollnet's SYN+ACK: (ISN delta, TSval delta).
    translation: Option<(u32, u32)>,
    got: Vec<Segment>,
    /// pollnet's ISN.
    isn: Option<u32>,
    handle: Option<SocketHandle>,
    next_action: usize,
    pending: Vec<u8>,
}

fn segment(tcp: &TcpPacket<&[u8]>, own_isn: u32, peer_isn: u32) -> Segment {
    let flags = tcp.flags_raw() & 0x1f;
    Segment {
        flags,
        seq: tcp.seq_number().raw().wrapping_sub(own_isn),
        ack: if tcp.ack() {
            tcp.ack_number().raw().wrapping_sub(peer_isn)
        } else {
            0
        },
        len: tcp.payload_len(),
    }
}

/// Reads the capture: the connections peers opened to the host and what
/// the host did on each, and the frames pollnet is to receive.
fn analyse(
    capture: &PcapReplay,
    options: &ReplayOptions,
) -> (BTreeMap<Key, Captured>, Vec<Key>, Frames) {
    let host = options.cidr.address();
    let mut connections: BTreeMap<Key, Captured> = BTreeMap::new();
    let mut order = Vec::new();
    let mut frames = Vec::new();
    // Highest host sequence offset sent so far, per connection (bytes
    // past it are new application data).
    let mut sent_up_to: BTreeMap<Key, u32> = BTreeMap::new();
    for (at, frame) in capture.captured_frames() {
        let from_host = EthernetFrame::new_checked(frame)
            .map(|eth| eth.src_addr() == options.mac)
            .unwrap_or(false);
        if !from_host {
            frames.push((at, frame.to_vec()));
        }
        let Some((src, dst, tcp)) = tcp_of(frame) else {
            continue;
        };
        if dst == host && !from_host {
            let key = (src, tcp.src_port(), tcp.dst_port());
            if tcp.syn() && !tcp.ack() && !connections.contains_key(&key) {
                order.push(key);
                connections.insert(
                    key,
                    Captured {
                        peer_isn: tcp.seq_number().raw(),
                        ..Captured::default()
                    },
                );
            }
        } else if src == host && from_host {
            let key = (dst, tcp.dst_port(), tcp.src_port());
            let Some(c) = connections.get_mut(&key) else {
                continue;
            };
            if tcp.syn() && tcp.ack() && c.host_isn.is_none() {
                c.host_isn = Some(tcp.seq_number().raw());
                c.handshake = handshake(&tcp);
            }
            let Some(isn) = c.host_isn else { continue };
            c.expected.push(segment(&tcp, isn, c.peer_isn));
            // Sequence offset of the payload's first byte (the SYN takes 1).
            let first = tcp.seq_number().raw().wrapping_sub(isn);
            let payload = tcp.payload();
            let done = sent_up_to.entry(key).or_insert(1);
            let end = first.wrapping_add(payload.len() as u32);
            if !payload.is_empty() && (end.wrapping_sub(*done) as i32) > 0 {
                let skip = done.wrapping_sub(first) as usize;
                if let Some(new) = payload.get(skip.min(payload.len())..) {
                    c.actions.push((at, Action::Send(new.to_vec())));
                }
                *done = end;
            }
            if tcp.fin() && !c.actions.iter().any(|(_, a)| matches!(a, Action::Close)) {
                c.actions.push((at, Action::Close));
            }
            if tcp.rst() && !c.actions.iter().any(|(_, a)| matches!(a, Action::Abort)) {
                c.actions.push((at, Action::Abort));
            }
        }
    }
    (connections, order, frames)
}

/// The device pollnet runs on: the peers' captured frames, translated.
struct ReplayDevice {
    frames: Frames,
    next: usize,
    /// A SYN the driver has configured the listener for.
    armed: Option<usize>,
    capabilities: DeviceCapabilities,
    transmitted: Vec<RecordedFrame>,
    /// Transmitted frames already looked at for SYN+ACKs.
    scanned: usize,
    host: Ipv4Address,
    rx: Vec<u8>,
}

impl ReplayDevice {
    /// The connection whose captured SYN is due next and not yet armed.
    fn due_syn(&self, now: Instant) -> Option<Key> {
        let (at, frame) = self.frames.get(self.next)?;
        if *at > now || self.armed == Some(self.next) {
            return None;
        }
        let (src, dst, tcp) = tcp_of(frame)?;
        (dst == self.host && tcp.syn() && !tcp.ack()).then_some((
            src,
            tcp.src_port(),
            tcp.dst_port(),
        ))
    }

    fn next_frame_at(&self) -> Option<Instant> {
        self.frames.get(self.next).map(|(at, _)| *at)
    }

    /// Learns pollnet's ISN and TSval from its SYN+ACKs sent since the
    /// last call.
    fn scan(&mut self, connections: &mut BTreeMap<Key, Captured>) {
        for frame in &self.transmitted[self.scanned..] {
            let Some((src, dst, tcp)) = tcp_of(&frame.data) else {
                continue;
            };
            if src != self.host {
                continue;
            }
            let Some(c) = connections.get_mut(&(dst, tcp.dst_port(), tcp.src_port())) else {
                continue;
            };
            if tcp.syn() && tcp.ack() && c.isn.is_none() {
                let isn = tcp.seq_number().raw();
                c.isn = Some(isn);
                if let Some(host_isn) = c.host_isn {
                    let ts = match (handshake(&tcp).tsval, c.handshake.tsval) {
                        (Some(ours), Some(theirs)) => ours.wrapping_sub(theirs),
                        _ => 0,
                    };
                    c.translation = Some((isn.wrapping_sub(host_isn), ts));
                }
            }
            if let Some(isn) = c.isn {
                c.got.push(segment(&tcp, isn, c.peer_isn));
            }
        }
        self.scanned = self.transmitted.len();
    }
}

/// Rewrites a peer's segment into pollnet's sequence space: the ACK number
/// and SACK blocks move by `seq`, TSecr by `ts`; the checksum is computed
/// again.
fn translate(frame: &mut [u8], seq: u32, ts: u32) {
    let Ok(mut eth) = EthernetFrame::new_checked(&mut *frame) else {
        return;
    };
    let Ok(mut ip) = Ipv4Packet::new_checked(eth.payload_mut()) else {
        return;
    };
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    let Ok(mut tcp) = TcpPacket::new_checked(ip.payload_mut()) else {
        return;
    };
    if tcp.ack() {
        let ack = tcp.ack_number().wrapping_add(seq);
        tcp.set_ack_number(ack);
    }
    let options = tcp.options_mut();
    let mut edits = Vec::new();
    walk_options(options, |kind, at, len| match kind {
        5 => {
            let mut o = at + 2;
            while o + 4 <= at + len {
                edits.push((o, seq));
                o += 4;
            }
        }
        8 if len == 10 => edits.push((at + 6, ts)),
        _ => {}
    });
    for (o, delta) in edits {
        let v = be32(&options[o..o + 4]).wrapping_add(delta);
        options[o..o + 4].copy_from_slice(&v.to_be_bytes());
    }
    tcp.fill_checksum(&IpAddress::Ipv4(src), &IpAddress::Ipv4(dst));
}

/// A received frame.
struct Rx<'a>(&'a [u8]);

impl crate::phy::RxToken for Rx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.0)
    }
}

/// Permission to send one frame, which is recorded.
struct Tx<'a> {
    transmitted: &'a mut Vec<RecordedFrame>,
    now: Instant,
}

impl crate::phy::TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut data = vec![0u8; len];
        let result = f(&mut data);
        self.transmitted.push(RecordedFrame {
            timestamp: self.now,
            data,
        });
        result
    }
}

/// The device with the connections it translates for.
struct Wired<'c> {
    device: ReplayDevice,
    connections: &'c mut BTreeMap<Key, Captured>,
}

impl Device for Wired<'_> {
    type RxToken<'a>
        = Rx<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = Tx<'a>
    where
        Self: 'a;

    fn receive(&mut self, now: Instant) -> Option<(Rx<'_>, Tx<'_>)> {
        let d = &mut self.device;
        let (at, _) = d.frames.get(d.next)?;
        if *at > now || (d.due_syn(now).is_some()) {
            return None;
        }
        d.scan(self.connections);
        let (_, frame) = &d.frames[d.next];
        d.next += 1;
        d.rx.clear();
        d.rx.extend_from_slice(frame);
        if let Some((src, dst, tcp)) = tcp_of(&d.rx) {
            let key = (src, tcp.src_port(), tcp.dst_port());
            if dst == d.host {
                if let Some((seq, ts)) = self.connections.get(&key).and_then(|c| c.translation) {
                    translate(&mut d.rx, seq, ts);
                }
            }
        }
        Some((
            Rx(&d.rx),
            Tx {
                transmitted: &mut d.transmitted,
                now,
            },
        ))
    }

    fn transmit(&mut self, now: Instant) -> Option<Tx<'_>> {
        Some(Tx {
            transmitted: &mut self.device.transmitted,
            now,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        self.device.capabilities
    }
}

/// Replays `capture` with pollnet standing in for the host `options`
/// names, and compares what it sends with what the host sent. The virtual
/// clock starts at the capture's [`PcapReplay::start`].
pub fn replay(capture: &PcapReplay, options: &ReplayOptions) -> Result<Report, ReplayError> {
    let (mut connections, order, frames) = analyse(capture, options);
    let host = options.cidr.address();
    let mtu = options.mtu.unwrap_or_else(|| {
        connections
            .values()
            .filter_map(|c| c.handshake.mss)
            .max()
            .map_or(1500, |m| usize::from(m) + 40)
    });
    let mut capabilities = DeviceCapabilities {
        medium: Medium::Ethernet,
        max_transmission_unit: mtu,
        ..DeviceCapabilities::default()
    };
    if options.offloaded_checksums {
        capabilities.checksum.tcp = Checksum::Tx;
    }
    let mut device = ReplayDevice {
        frames,
        next: 0,
        armed: None,
        capabilities,
        transmitted: Vec::new(),
        scanned: 0,
        host,
        rx: Vec::new(),
    };

    let mut config = Config::new(options.mac, u128::from(options.seed))
        .with_ip(options.cidr)
        .with_drop_syn_fin(options.tcp.drop_syn_fin);
    if let Some(gateway) = options.gateway {
        config = config.with_gateway(gateway);
    }
    let mut iface = Interface::new(config).map_err(|e| ReplayError::Setup(format!("{e}")))?;
    let mut ports: Vec<u16> = options.listen.clone();
    ports.extend(order.iter().map(|k| k.2));
    ports.sort_unstable();
    ports.dedup();
    let mut sockets = SocketSet::with_capacity(ports.len() + order.len() + 16);
    let mut listeners = BTreeMap::new();
    for port in &ports {
        let mut listener = TcpSocket::new(
            RingBuffer::new(vec![0u8; 64]),
            RingBuffer::new(vec![0u8; 64]),
        );
        listener.set_config(options.tcp);
        let handle = sockets
            .add(listener)
            .map_err(|_| ReplayError::Setup(String::from("socket set full")))?;
        sockets
            .listen(
                handle,
                *port,
                32,
                ChildBuffers::Alloc {
                    rx: BUFFER,
                    tx: BUFFER,
                },
            )
            .map_err(|e| ReplayError::Setup(format!("listen on {port}: {e}")))?;
        listeners.insert(*port, handle);
    }

    let mut trace = Vec::new();
    let mut sink = vec![0u8; 64 * 1024];
    let mut now = capture.start();
    let mut stop_at = None;
    loop {
        // The host's application: what is due by now, before polling.
        run_application(&mut connections, &mut sockets, now, &mut sink);
        // Settle at this instant: poll until nothing more happens, setting
        // the listener up for each SYN just before it is received.
        for _ in 0..10_000 {
            if let Some(key) = device.due_syn(now) {
                if let (Some(c), Some(listener)) = (connections.get(&key), listeners.get(&key.2)) {
                    let mut tcp = options.tcp;
                    if c.host_isn.is_some() {
                        tcp.window_scaling = c.handshake.window_scale;
                        tcp.timestamps = c.handshake.tsval.is_some();
                        tcp.sack = c.handshake.sack_permitted;
                    }
                    if let Some(s) = sockets.get_mut::<TcpSocket>(*listener) {
                        s.set_config(tcp);
                    }
                }
                device.armed = Some(device.next);
            }
            let mut wired = Wired {
                device,
                connections: &mut connections,
            };
            let busy = iface.poll(now, &mut wired, &mut sockets);
            device = wired.device;
            if !busy && device.due_syn(now).is_none() {
                break;
            }
        }
        device.scan(&mut connections);
        while let Some(event) = sockets.pop_trace() {
            trace.push(event);
        }
        for (port, listener) in &listeners {
            while let Some(child) = sockets.accept(*listener) {
                let remote = sockets
                    .get_mut::<TcpSocket>(child)
                    .and_then(|s| s.remote_endpoint());
                if let Some(IpEndpoint {
                    addr: IpAddress::Ipv4(addr),
                    port: peer_port,
                }) = remote
                {
                    if let Some(c) = connections.get_mut(&(addr, peer_port, *port)) {
                        c.handle = Some(child);
                    }
                }
            }
        }
        run_application(&mut connections, &mut sockets, now, &mut sink);
        if device.next_frame_at().is_none() && stop_at.is_none() {
            stop_at = Some(now + options.tail);
        }
        let next_action = connections
            .values()
            .filter(|c| c.handle.is_some())
            .filter_map(|c| c.actions.get(c.next_action).map(|(at, _)| *at))
            .min();
        let next = [device.next_frame_at(), iface.poll_at(&sockets), next_action]
            .into_iter()
            .flatten()
            .min();
        let Some(next) = next else { break };
        // Time only moves forward.
        now = if next > now {
            next
        } else {
            now + Duration::from_micros(1)
        };
        if stop_at.is_some_and(|t| now > t) {
            break;
        }
    }
    device.scan(&mut connections);

    let reports = order
        .iter()
        .filter_map(|key| {
            let c = connections.remove(key)?;
            Some(ConnectionReport {
                peer: IpEndpoint::new(IpAddress::Ipv4(key.0), key.1),
                host: IpEndpoint::new(IpAddress::Ipv4(host), key.2),
                divergence: compare(&c.expected, &c.got),
                expected: c.expected,
                got: c.got,
            })
        })
        .collect();
    Ok(Report {
        frames: capture.len(),
        connections: reports,
        trace,
        stats: iface.stats(),
        transmitted: device.transmitted,
    })
}

/// Runs each connection's host application up to `now`: sends the bytes
/// that are due, closes or aborts when due, reads and discards.
fn run_application(
    connections: &mut BTreeMap<Key, Captured>,
    sockets: &mut SocketSet<'_>,
    now: Instant,
    sink: &mut [u8],
) {
    for c in connections.values_mut() {
        let Some(handle) = c.handle else { continue };
        let Some(socket) = sockets.get_mut::<TcpSocket>(handle) else {
            c.handle = None;
            continue;
        };
        while let Ok(n) = socket.recv_slice(sink) {
            if n == 0 {
                break;
            }
        }
        loop {
            if !c.pending.is_empty() {
                let n = socket.send_slice(&c.pending).unwrap_or(0);
                c.pending.drain(..n);
                if !c.pending.is_empty() {
                    break;
                }
            }
            let Some((at, action)) = c.actions.get(c.next_action) else {
                break;
            };
            if *at > now {
                break;
            }
            c.next_action += 1;
            match action {
                Action::Send(bytes) => c.pending.extend_from_slice(bytes),
                Action::Close => socket.close(),
                Action::Abort => socket.abort(),
            }
        }
        if socket.state() == State::Closed {
            sockets.remove(handle);
            c.handle = None;
        }
    }
}

/// The first difference between the host's segments and pollnet's.
fn compare(expected: &[Segment], got: &[Segment]) -> Option<Divergence> {
    for index in 0..expected.len().max(got.len()) {
        let (e, g) = (expected.get(index).copied(), got.get(index).copied());
        let field = match (e, g) {
            (Some(e), Some(g)) if e.flags != g.flags => "flags",
            (Some(e), Some(g)) if e.seq != g.seq => "seq",
            (Some(e), Some(g)) if e.ack != g.ack => "ack",
            (Some(e), Some(g)) if e.len != g.len => "len",
            (Some(_), Some(_)) => continue,
            _ => "count",
        };
        return Some(Divergence {
            index,
            field,
            expected: e,
            got: g,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Ethernet/IPv4/TCP ACK from 192.0.2.1:40000 to 192.0.2.2:80 with
    /// a SACK block and a timestamp option, its checksum filled.
    fn peer_ack(ack: u32, sack: (u32, u32), tsecr: u32) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 44];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        let ip = &mut f[14..34];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&64u16.to_be_bytes());
        ip[8] = 64;
        ip[9] = 6;
        ip[12..16].copy_from_slice(&[192, 0, 2, 1]);
        ip[16..20].copy_from_slice(&[192, 0, 2, 2]);
        let tcp = &mut f[34..];
        tcp[0..2].copy_from_slice(&40000u16.to_be_bytes());
        tcp[2..4].copy_from_slice(&80u16.to_be_bytes());
        tcp[4..8].copy_from_slice(&7u32.to_be_bytes());
        tcp[8..12].copy_from_slice(&ack.to_be_bytes());
        tcp[12] = 11 << 4;
        tcp[13] = 0x10;
        tcp[14..16].copy_from_slice(&1000u16.to_be_bytes());
        tcp[20..24].copy_from_slice(&[1, 1, 5, 10]);
        tcp[24..28].copy_from_slice(&sack.0.to_be_bytes());
        tcp[28..32].copy_from_slice(&sack.1.to_be_bytes());
        tcp[32..36].copy_from_slice(&[1, 1, 8, 10]);
        tcp[36..40].copy_from_slice(&5u32.to_be_bytes());
        tcp[40..44].copy_from_slice(&tsecr.to_be_bytes());
        let (src, dst) = (
            IpAddress::Ipv4(Ipv4Address::new(192, 0, 2, 1)),
            IpAddress::Ipv4(Ipv4Address::new(192, 0, 2, 2)),
        );
        TcpPacket::new_unchecked(&mut f[34..]).fill_checksum(&src, &dst);
        f
    }

    #[test]
    fn translation_moves_ack_sack_and_tsecr_and_fixes_the_checksum() {
        let mut frame = peer_ack(0xffff_fff0, (0xffff_fff8, 0x0000_0010), 100);
        translate(&mut frame, 0x20, 0xffff_ffa0);
        // Exactly what a peer of pollnet's ISN and clock would have sent
        // (the additions wrap modulo 2^32).
        assert_eq!(frame, peer_ack(0x10, (0x18, 0x30), 4));
        let (src, dst, tcp) = tcp_of(&frame).unwrap();
        assert!(tcp.verify_checksum(&IpAddress::Ipv4(src), &IpAddress::Ipv4(dst)));
    }

    #[test]
    fn segments_are_compared_in_order_and_the_first_difference_is_named() {
        let seg = |flags, seq, ack, len| Segment {
            flags,
            seq,
            ack,
            len,
        };
        let host = [seg(0x12, 0, 1, 0), seg(0x18, 1, 1, 10), seg(0x11, 11, 1, 0)];
        assert_eq!(compare(&host, &host), None);
        let mut other = host;
        other[1].ack = 2;
        let d = compare(&host, &other).unwrap();
        assert_eq!((d.index, d.field), (1, "ack"));
        let d = compare(&host, &host[..2]).unwrap();
        assert_eq!((d.index, d.field, d.got), (2, "count", None));
        assert_eq!(format!("{}", host[2]), "[F.] seq 11 ack 1 len 0");
    }
}
