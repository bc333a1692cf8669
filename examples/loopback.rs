//! The default demo: two pollnet stacks (client and server) joined by an
//! in-memory link with a fixed one-way delay, on a virtual clock.
//!
//! One connection goes through its whole life: handshake, a transfer with a
//! content check, a close, TIME_WAIT and its expiry. Every state transition
//! of both ends is printed as it happens. `--scenario` shows other paths of
//! the RFC 9293 state diagram.
//!
//! ```text
//! cargo run --release --example loopback -- [--bytes N] [--delay-ms D]
//!     [--loss P] [--seed S] [--pcap FILE] [--msl SECONDS]
//!     [--scenario default|simultaneous-close|rst-in-syn-rcvd|
//!                 fin-wait-2-timeout|lost-last-ack|passive-close]
//! ```
//!
//! `--help` describes each flag and scenario.

#[path = "common/cli.rs"]
mod cli;

use std::cell::Cell;
use std::process::ExitCode;
use std::rc::Rc;

use clap::{Parser, ValueEnum};

use pollnet::iface::{Config, Interface};
use pollnet::phy::{
    Device, DeviceCapabilities, FaultInjector, LinkEnd, Loopback, RxToken, TxToken,
};
use pollnet::phy::{PcapDirection, PcapWriter, Probability};
use pollnet::socket::tcp::{State, TcpConfig, TcpSocket};
use pollnet::socket::{ChildBuffers, SocketHandle, SocketSet};
use pollnet::storage::RingBuffer;
use pollnet::time::{Duration, Instant};
use pollnet::wire::{
    EthernetAddress, EthernetFrame, EthernetProtocol, IpAddress, IpEndpoint, Ipv4Address, Ipv4Cidr,
    Ipv4Packet, TcpFlags, TcpPacket,
};

const CLIENT_IP: Ipv4Address = Ipv4Address::new(192, 0, 2, 1);
const SERVER_IP: Ipv4Address = Ipv4Address::new(192, 0, 2, 2);
const SERVER_PORT: u16 = 8080;
const BUFFER_SIZE: usize = 64 * 1024;
/// A scenario that has not finished after this much virtual time is stuck.
const VIRTUAL_TIME_LIMIT: Duration = Duration::from_secs(3600);

/// Which path of the RFC 9293 state diagram the connection takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// Handshake, transfer, the client closes first: TIME_WAIT and its expiry.
    Default,
    /// Both ends close at once: FIN_WAIT_1 -> CLOSING -> TIME_WAIT.
    SimultaneousClose,
    /// The client aborts its first SYN, so the server's SYN+ACK draws a RST
    /// and SYN_RCVD returns to LISTEN; then the client connects again.
    RstInSynRcvd,
    /// The server never closes: the client's FIN_WAIT_2 times out.
    #[value(name = "fin-wait-2-timeout")]
    FinWait2Timeout,
    /// The client's last ACK is lost: the server retransmits its FIN from
    /// LAST_ACK and TIME_WAIT answers it.
    LostLastAck,
    /// The server closes first: the client goes through CLOSE_WAIT.
    PassiveClose,
}

/// Two pollnet stacks (client and server) joined by an in-memory link on a
/// virtual clock; one connection's whole life, every state transition
/// printed as it happens.
#[derive(Debug, Clone, Parser)]
#[command(name = "loopback")]
struct Options {
    /// Bytes the client sends to the server (checked byte for byte).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 4_000_000,
        allow_negative_numbers = true
    )]
    bytes: usize,
    /// One-way delay of the link in milliseconds (fractions allowed).
    #[arg(long = "delay-ms", value_name = "D", default_value = "1", value_parser = cli::millis, allow_negative_numbers = true)]
    delay: Duration,
    /// Fraction of frames dropped each way on the client's side, in [0, 1).
    #[arg(long, value_name = "P", default_value = "0", value_parser = cli::fraction, allow_negative_numbers = true)]
    loss: f64,
    /// Seed of the fault injector's random drops.
    #[arg(
        long,
        value_name = "S",
        default_value_t = 1,
        allow_negative_numbers = true
    )]
    seed: u64,
    /// Record the client's frames, both directions, to this pcap file.
    #[arg(long, value_name = "FILE")]
    pcap: Option<String>,
    /// Maximum segment lifetime in seconds; TIME_WAIT lasts twice this.
    #[arg(long, value_name = "SECONDS", default_value = "60", value_parser = cli::seconds, allow_negative_numbers = true)]
    msl: Duration,
    /// The path through the state diagram.
    #[arg(long, value_enum, default_value_t = Scenario::Default)]
    scenario: Scenario,
}

/// The byte at `offset` of the transfer: a seeded pseudo-random stream, so
/// the receiver can check every byte without keeping a copy.
fn stream_byte(seed: u64, offset: usize) -> u8 {
    let mut z = seed ^ (offset as u64 / 8).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    z.to_le_bytes()[offset % 8]
}

/// Drops the client's first pure ACK sent after the server's FIN arrived:
/// the "lost last ACK" of the close handshake. Inactive unless `enabled`.
struct DropLastAck<D: Device> {
    inner: D,
    enabled: bool,
    /// The time of the current receive/transmit, for the narration.
    clock: Rc<Cell<Instant>>,
    /// Set once a FIN has been received.
    armed: Rc<Cell<bool>>,
    /// Set once the ACK has been dropped (only one is).
    dropped: Rc<Cell<bool>>,
}

impl<D: Device> DropLastAck<D> {
    fn new(inner: D, enabled: bool) -> Self {
        DropLastAck {
            inner,
            enabled,
            clock: Rc::new(Cell::new(Instant::ZERO)),
            armed: Rc::new(Cell::new(false)),
            dropped: Rc::new(Cell::new(false)),
        }
    }
}

/// The TCP flags and payload length of an Ethernet/IPv4/TCP frame.
fn tcp_flags(frame: &[u8]) -> Option<(TcpFlags, usize)> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EthernetProtocol::Ipv4 {
        return None;
    }
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
    Some((tcp.flags(), tcp.payload().len()))
}

struct DropRx<T> {
    inner: T,
    /// `(armed, dropped, clock)` when the wrapper is enabled.
    watch: Option<(Flag, Flag, Rc<Cell<Instant>>)>,
}

/// A shared on/off flag between the wrapper and its tokens.
type Flag = Rc<Cell<bool>>;

struct DropTx<T> {
    inner: T,
    /// `(armed, dropped, clock)` when the wrapper is enabled.
    watch: Option<(Flag, Flag, Rc<Cell<Instant>>)>,
}

impl<T: RxToken> RxToken for DropRx<T> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let watch = self.watch;
        self.inner.consume(|frame| {
            if let (Some((armed, dropped, clock)), Some((flags, _))) = (watch, tcp_flags(frame)) {
                if flags.contains(TcpFlags::FIN) {
                    armed.set(true);
                    if dropped.get() {
                        println!(
                            "[{:>8}] client TIME_WAIT gets the server's retransmitted FIN: \
                             ACKs it again and restarts 2*MSL",
                            clock.get()
                        );
                    }
                }
            }
            f(frame)
        })
    }
}

impl<T: TxToken> TxToken for DropTx<T> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let Some((armed, dropped, clock)) = self.watch else {
            return self.inner.consume(len, f);
        };
        let mut frame = vec![0u8; len];
        let result = f(&mut frame);
        let pure_ack = matches!(tcp_flags(&frame), Some((flags, 0)) if flags == TcpFlags::ACK);
        if armed.get() && !dropped.get() && pure_ack {
            dropped.set(true);
            println!("[{:>8}] link drops the client's last ACK", clock.get());
        } else {
            self.inner.consume(len, |out| out.copy_from_slice(&frame));
        }
        result
    }
}

impl<D: Device> Device for DropLastAck<D> {
    type RxToken<'a>
        = DropRx<D::RxToken<'a>>
    where
        Self: 'a;
    type TxToken<'a>
        = DropTx<D::TxToken<'a>>
    where
        Self: 'a;

    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        self.clock.set(now);
        let watch = self
            .enabled
            .then(|| (self.armed.clone(), self.dropped.clone(), self.clock.clone()));
        let (rx, tx) = self.inner.receive(now)?;
        Some((
            DropRx {
                inner: rx,
                watch: watch.clone(),
            },
            DropTx { inner: tx, watch },
        ))
    }

    fn transmit(&mut self, now: Instant) -> Option<Self::TxToken<'_>> {
        self.clock.set(now);
        let watch = self
            .enabled
            .then(|| (self.armed.clone(), self.dropped.clone(), self.clock.clone()));
        let tx = self.inner.transmit(now)?;
        Some(DropTx { inner: tx, watch })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        self.inner.capabilities()
    }
}

/// When a device next has something to deliver, so the virtual clock can
/// jump straight to it.
trait NextEvent {
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

impl<D: Device + NextEvent> NextEvent for DropLastAck<D> {
    fn next_event(&self) -> Option<Instant> {
        self.inner.next_event()
    }
}

impl<D: Device + NextEvent, W: std::io::Write> NextEvent for PcapWriter<D, W> {
    fn next_event(&self) -> Option<Instant> {
        self.inner().next_event()
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// One stack: its interface, device and sockets.
struct Host<D: Device> {
    name: &'static str,
    iface: Interface<'static>,
    device: D,
    sockets: SocketSet<'static>,
}

impl<D: Device + NextEvent> Host<D> {
    fn new(
        name: &'static str,
        device: D,
        mac: [u8; 6],
        ip: Ipv4Address,
        seed: u64,
        tcp: TcpConfig,
    ) -> Self {
        let config = Config::new(EthernetAddress(mac), u128::from(seed))
            .with_ip(Ipv4Cidr::new(ip, 24).expect("24 is a valid prefix length"))
            .with_drop_syn_fin(tcp.drop_syn_fin);
        let sockets = SocketSet::with_capacity(8);
        Host {
            name,
            iface: Interface::new(config).expect("the demo's MACs are unicast"),
            device,
            sockets,
        }
    }

    fn poll(&mut self, now: Instant) -> bool {
        self.iface.poll(now, &mut self.device, &mut self.sockets)
    }

    fn print_trace(&mut self) {
        while let Some(event) = self.sockets.pop_trace() {
            println!("[{:>8}] {} {}", event.at, self.name, event.transition);
        }
    }

    fn next_event(&self) -> Option<Instant> {
        earliest(self.iface.poll_at(&self.sockets), self.device.next_event())
    }

    /// The state of the connection `handle` was opened as: its socket's,
    /// or once the set holds it as a TIME_WAIT record (after `close`), the
    /// record's, found by the 4-tuple `ends`.
    fn state(&self, handle: Option<SocketHandle>, ends: Option<(IpEndpoint, IpEndpoint)>) -> State {
        handle
            .and_then(|h| self.sockets.get::<TcpSocket>(h))
            .map(|s| s.state())
            .or_else(|| ends.and_then(|(local, remote)| self.sockets.tcp_state(local, remote)))
            .unwrap_or(State::Closed)
    }
}

fn new_socket(tcp: TcpConfig) -> TcpSocket<'static> {
    let mut socket = TcpSocket::new(
        RingBuffer::new(vec![0u8; BUFFER_SIZE]),
        RingBuffer::new(vec![0u8; BUFFER_SIZE]),
    );
    socket.set_config(tcp);
    socket
}

/// What the two applications have done so far.
#[derive(Debug, Default)]
struct Progress {
    client: Option<SocketHandle>,
    /// The client connection's 4-tuple (its socket becomes a record after
    /// `close`, in TIME_WAIT).
    client_ends: Option<(IpEndpoint, IpEndpoint)>,
    /// The server connection's 4-tuple, likewise.
    server_ends: Option<(IpEndpoint, IpEndpoint)>,
    server: Option<SocketHandle>,
    sent: usize,
    received: usize,
    client_closed: bool,
    server_closed: bool,
    /// rst-in-syn-rcvd: the first connection attempt was abandoned.
    first_attempt_aborted: bool,
    /// rst-in-syn-rcvd: the second, real attempt has started.
    reconnected: bool,
    /// Whether the server connection has been accepted and then freed.
    server_done: bool,
}

fn run<C, S>(client_device: C, server_device: S, o: &Options) -> Result<(usize, Instant), String>
where
    C: Device + NextEvent,
    S: Device + NextEvent,
{
    let mut tcp = TcpConfig::default();
    tcp.msl = o.msl;
    // A lossy link recovers faster with Linux's minimum RTO.
    tcp.min_rto = Duration::from_millis(200);
    let mut client = Host::new(
        "client",
        client_device,
        [2, 0, 0, 0, 0, 1],
        CLIENT_IP,
        o.seed,
        tcp,
    );
    let mut server = Host::new(
        "server",
        server_device,
        [2, 0, 0, 0, 0, 2],
        SERVER_IP,
        o.seed ^ 0x5eed,
        tcp,
    );

    let listener = server
        .sockets
        .add(new_socket(tcp))
        .map_err(|_| "server socket set full")?;
    server
        .sockets
        .listen(
            listener,
            SERVER_PORT,
            4,
            ChildBuffers::Alloc {
                rx: BUFFER_SIZE,
                tx: BUFFER_SIZE,
            },
        )
        .map_err(|e| format!("listen: {e:?}"))?;

    let remote = IpEndpoint::new(IpAddress::Ipv4(SERVER_IP), SERVER_PORT);
    let mut p = Progress::default();
    let mut now = Instant::ZERO;
    let mut chunk = vec![0u8; 16 * 1024];
    let mut same_instant_rounds = 0u32;

    let connect = |client: &mut Host<C>,
                   now: Instant|
     -> Result<(SocketHandle, (IpEndpoint, IpEndpoint)), String> {
        let handle = client
            .sockets
            .add(new_socket(tcp))
            .map_err(|_| "client socket set full")?;
        let local = client
            .iface
            .connect(&mut client.sockets, handle, remote, now)
            .map_err(|e| format!("connect: {e:?}"))?;
        Ok((handle, (local, remote)))
    };
    let (handle, ends) = connect(&mut client, now)?;
    (p.client, p.client_ends) = (Some(handle), Some(ends));

    loop {
        let mut progress = client.poll(now);
        progress |= server.poll(now);
        client.print_trace();
        server.print_trace();

        // rst-in-syn-rcvd: the client gives up on its first SYN at once, so
        // the server's SYN-ACK meets no connection and draws a RST.
        if o.scenario == Scenario::RstInSynRcvd && !p.first_attempt_aborted {
            if let Some(socket) = p
                .client
                .and_then(|h| client.sockets.get_mut::<TcpSocket>(h))
            {
                if socket.state() == State::SynSent {
                    socket.abort();
                    p.first_attempt_aborted = true;
                    progress = true;
                }
            }
        }
        if o.scenario == Scenario::RstInSynRcvd
            && p.first_attempt_aborted
            && !p.reconnected
            && client.state(p.client, p.client_ends) == State::Closed
            && server.sockets.pending(listener) == 0
            && server.iface.stats().tcp_segments_received >= 2
        {
            // The server saw the SYN and the RST, and its listener is still
            // listening: connect again, for real this time.
            if let Some(old) = p.client.take() {
                client.sockets.remove(old);
            }
            let (handle, ends) = connect(&mut client, now)?;
            (p.client, p.client_ends) = (Some(handle), Some(ends));
            p.reconnected = true;
            progress = true;
        }

        // Server application: accept, read and check every byte.
        if p.server.is_none() && !p.server_done {
            if let Some(conn) = server.sockets.accept(listener) {
                p.server = Some(conn);
                p.server_ends = server
                    .sockets
                    .get::<TcpSocket>(conn)
                    .and_then(|s| Some((s.local_endpoint()?, s.remote_endpoint()?)));
                progress = true;
            }
        }
        if let Some(conn) = p.server {
            if let Some(socket) = server.sockets.get_mut::<TcpSocket>(conn) {
                loop {
                    match socket.recv_slice(&mut chunk) {
                        Ok(0) => break,
                        Ok(n) => {
                            for (i, byte) in chunk[..n].iter().enumerate() {
                                if *byte != stream_byte(o.seed, p.received + i) {
                                    return Err(format!("byte {} differs", p.received + i));
                                }
                            }
                            p.received += n;
                            progress = true;
                        }
                        Err(_) => break,
                    }
                }
                let all_in = p.received == o.bytes;
                let eof = !socket.may_recv() && socket.state() != State::SynRcvd;
                let close_now = match o.scenario {
                    Scenario::Default | Scenario::LostLastAck | Scenario::RstInSynRcvd => eof,
                    Scenario::PassiveClose => all_in,
                    Scenario::SimultaneousClose => {
                        all_in
                            && client
                                .sockets
                                .get::<TcpSocket>(p.client.expect("connected"))
                                .is_some_and(|c| c.send_queue() == 0)
                    }
                    Scenario::FinWait2Timeout => false,
                };
                if close_now && !p.server_closed {
                    socket.close();
                    p.server_closed = true;
                    progress = true;
                    if o.scenario == Scenario::SimultaneousClose {
                        // Close the client in the same instant, so the two
                        // FINs cross on the wire.
                        if let Some(c) = p
                            .client
                            .and_then(|h| client.sockets.get_mut::<TcpSocket>(h))
                        {
                            c.close();
                            p.client_closed = true;
                        }
                    }
                }
            }
            if server.state(Some(conn), p.server_ends) == State::Closed {
                if let Some(done) = p.server.take() {
                    server.sockets.remove(done);
                }
                p.server_done = true;
            }
        }

        // Client application: send the stream, then close.
        let attempt_live = o.scenario != Scenario::RstInSynRcvd || p.reconnected;
        if let Some(socket) = p
            .client
            .and_then(|h| client.sockets.get_mut::<TcpSocket>(h))
            .filter(|_| attempt_live)
        {
            let mut sent_now = p.sent;
            while sent_now < o.bytes && socket.can_send() {
                let n = chunk.len().min(o.bytes - sent_now);
                for (i, byte) in chunk[..n].iter_mut().enumerate() {
                    *byte = stream_byte(o.seed, sent_now + i);
                }
                match socket.send_slice(&chunk[..n]) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => {
                        sent_now += k;
                        progress = true;
                    }
                }
            }
            p.sent = sent_now;
            let close_now = match o.scenario {
                Scenario::PassiveClose => !socket.may_recv() && socket.state() == State::CloseWait,
                Scenario::SimultaneousClose => false,
                // CLOSE in SYN_SENT deletes the connection (RFC 9293
                // 3.10.4): close only once it is synchronized.
                _ => sent_now == o.bytes && socket.state().is_synchronized(),
            };
            if close_now && !p.client_closed {
                socket.close();
                p.client_closed = true;
                progress = true;
            }
        }

        let client_state = client.state(p.client, p.client_ends);
        let finished = match o.scenario {
            Scenario::FinWait2Timeout => p.client_closed && client_state == State::Closed,
            _ => p.client_closed && client_state == State::Closed && p.server_done,
        };
        if finished {
            if p.received != o.bytes {
                return Err(format!("received {} of {} bytes", p.received, o.bytes));
            }
            return Ok((p.received, now));
        }

        if progress {
            same_instant_rounds += 1;
            if same_instant_rounds < 100_000 {
                continue;
            }
        }
        same_instant_rounds = 0;
        let next = earliest(client.next_event(), server.next_event())
            .ok_or_else(|| format!("stuck at {now}: nothing left to happen"))?;
        now = if next > now {
            next
        } else {
            now + Duration::from_micros(1)
        };
        if now > Instant::ZERO + VIRTUAL_TIME_LIMIT {
            return Err(format!(
                "stuck: no end after {VIRTUAL_TIME_LIMIT} of virtual time"
            ));
        }
    }
}

fn main() -> ExitCode {
    let options = Options::parse();
    let (client_link, server_link) = Loopback::pair(1500, options.delay);
    let mut faults = FaultInjector::new(client_link, options.seed);
    faults.rx_config_mut().drop = Probability::from_fraction(options.loss);
    faults.tx_config_mut().drop = Probability::from_fraction(options.loss);
    let client_device = DropLastAck::new(faults, options.scenario == Scenario::LostLastAck);

    let wall = std::time::Instant::now();
    let result = match &options.pcap {
        Some(path) => match std::fs::File::create(path)
            .map_err(|e| e.to_string())
            .and_then(|file| {
                PcapWriter::new(
                    client_device,
                    std::io::BufWriter::new(file),
                    PcapDirection::Both,
                )
                .map_err(|e| e.to_string())
            }) {
            Ok(device) => run(device, server_link, &options),
            Err(e) => Err(format!("{path}: {e}")),
        },
        None => run(client_device, server_link, &options),
    };
    let wall = wall.elapsed().as_secs_f64();
    match result {
        Ok((bytes, at)) => {
            let virtual_secs = at.total_micros() as f64 / 1e6;
            let rate = if wall > 0.0 {
                bytes as f64 / wall / 1e6
            } else {
                0.0
            };
            println!(
                "done: {bytes} bytes verified, {virtual_secs:.3}s virtual, {wall:.3}s wall, {rate:.1} MB/s"
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
