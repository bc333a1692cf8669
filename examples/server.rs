//! An echo server on a real link: pollnet on a Linux raw socket (AF_PACKET,
//! `--iface`) or a TAP device (`--tap`), with its own MAC and IP address.
//!
//! Plain TCP is echoed back byte for byte (try `nc`); a connection that
//! starts with an HTTP request line gets an HTTP/1.1 200 response whose body
//! is the request it sent (try `curl`). Every TCP state transition is
//! printed as it happens.
//!
//! ```text
//! cargo run --release --example server -- (--iface NAME | --tap NAME)
//!     [--ip 192.0.2.1/24] [--gateway IP] [--mac 02:00:00:00:00:01]
//!     [--port 8080] [--backlog 16] [--connections N]
//!     [--rx-buffer BYTES] [--tx-buffer BYTES] [--pcap FILE] [--quiet]
//!     [--sockets N] [--time-wait-records N] [--msl SECONDS]
//!     [--fin-wait-2-timeout SECONDS] [--idle-timeout SECONDS] [--no-syn-cookies]
//! ```
//!
//! Everything not given on the command line is the library's default: the
//! TCP settings of `TcpConfig::default()` (2*MSL = 120 s, FIN_WAIT_2 timeout
//! 60 s), the socket set's `SetCapacity::for_sockets(--sockets)` (four
//! TIME_WAIT records per slot) and the listener's `ListenOptions::default()`
//! (SYN cookies on, eviction of idle connections under memory pressure on,
//! no idle timeout). Half-open connections and TIME_WAIT connections take
//! no socket slot and no buffers, so neither a SYN flood nor many closed
//! connections lock clients out, and the server keeps no list of lingering
//! sockets: the set holds closed connections until their 2*MSL is over.
//!
//! `--help` describes each flag. The kernel peer lives in a network
//! namespace of its own, as in this crate's interop tests, so no test
//! address ever lands in the root namespace (whose own network may use the
//! same documentation prefix). With a veth pair whose other end is in the
//! namespace with 192.0.2.2/24 (pollnet's end has no address, so the kernel
//! ignores pollnet's traffic on it):
//!
//! ```text
//! ip netns add peer
//! ip link add pn0 type veth peer name pn1 netns peer
//! ip link set pn0 up
//! ip -n peer addr add 192.0.2.2/24 dev pn1 && ip -n peer link set pn1 up
//! cargo run --release --example server -- --iface pn0 &
//! echo hello | ip netns exec peer nc -N 192.0.2.1 8080
//! ip netns exec peer curl -s http://192.0.2.1:8080/anything
//! ```
//!
//! With a TAP, run the server inside the namespace: it creates the TAP
//! there, and the TAP's kernel side, in the same namespace, is the peer:
//!
//! ```text
//! ip netns add peer
//! cargo build --release --example server
//! ip netns exec peer target/release/examples/server --tap pntap0 &
//! ip -n peer addr add 192.0.2.2/24 dev pntap0 && ip -n peer link set pntap0 up
//! echo hello | ip netns exec peer nc -N 192.0.2.1 8080
//! ```

#[path = "common/cli.rs"]
mod cli;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;
use std::os::fd::{AsRawFd, RawFd};
use std::process::ExitCode;

use clap::{Args, Parser};
use pollnet::iface::{Config, Interface};
use pollnet::phy::{self, Device, PcapDirection, PcapWriter, RawSocket, TunTap};
use pollnet::socket::tcp::{RecvError, State, TcpConfig, TcpSocket};
use pollnet::socket::{ChildBuffers, ListenOptions, SetCapacity, SocketHandle, SocketSet};
use pollnet::storage::RingBuffer;
use pollnet::time::{Duration, Instant};
use pollnet::wire::{EthernetAddress, Ipv4Address, Ipv4Cidr};

const BUFFER: usize = 256 * 1024;
/// The longest request the HTTP mode reads before answering anyway.
const MAX_REQUEST: usize = 64 * 1024;
/// Methods that make a connection an HTTP one (RFC 9110 section 9).
const HTTP_METHODS: [&str; 8] = [
    "GET ", "HEAD ", "POST ", "PUT ", "DELETE ", "OPTIONS ", "PATCH ", "TRACE ",
];

/// The link pollnet runs on: exactly one of `--iface` and `--tap`.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
struct Link {
    /// Run on this interface through a raw socket (AF_PACKET, promiscuous:
    /// pollnet has its own MAC), e.g. one end of a veth pair.
    #[arg(long, value_name = "NAME")]
    iface: Option<String>,
    /// Run on a TAP device of this name (created if absent).
    #[arg(long, value_name = "NAME")]
    tap: Option<String>,
}

/// An echo and HTTP server on a real link: pollnet on a Linux raw socket or
/// TAP device, with its own MAC and IP address. Plain TCP is echoed back
/// byte for byte; a connection that starts with an HTTP request line gets
/// an HTTP/1.1 200 response whose body is its request. Needs root (or
/// CAP_NET_RAW / CAP_NET_ADMIN).
#[derive(Debug, Parser)]
#[command(name = "server")]
struct Options {
    #[command(flatten)]
    link: Link,
    /// pollnet's address and prefix.
    #[arg(
        long = "ip",
        value_name = "ADDRESS/PREFIX",
        default_value = "192.0.2.1/24"
    )]
    cidr: Ipv4Cidr,
    /// The default gateway, for peers off the prefix.
    #[arg(long, value_name = "IP")]
    gateway: Option<Ipv4Address>,
    /// pollnet's own hardware address.
    #[arg(long, value_name = "MAC", default_value = "02:00:00:00:00:01")]
    mac: EthernetAddress,
    /// The TCP port to listen on.
    #[arg(long, value_name = "PORT", default_value = "8080", value_parser = cli::port, allow_negative_numbers = true)]
    port: u16,
    /// Connections at once that are half-open, and connections waiting to
    /// be accepted; SYNs beyond it get SYN cookies (see --no-syn-cookies).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 16,
        allow_negative_numbers = true
    )]
    backlog: usize,
    /// Exit after serving this many connections (default: run until killed).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    connections: Option<u64>,
    /// Receive buffer of each connection, in bytes.
    #[arg(long = "rx-buffer", value_name = "BYTES", default_value_t = BUFFER, allow_negative_numbers = true)]
    rx_buffer: usize,
    /// Send buffer of each connection, in bytes.
    #[arg(long = "tx-buffer", value_name = "BYTES", default_value_t = BUFFER, allow_negative_numbers = true)]
    tx_buffer: usize,
    /// Socket slots: connections with buffers, and the listener (default:
    /// the backlog plus 64).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    sockets: Option<usize>,
    /// TIME_WAIT records, kept without buffers or slots after the server
    /// closes first (default: four per socket slot); the oldest gives way
    /// when they are all taken.
    #[arg(
        long = "time-wait-records",
        value_name = "N",
        allow_negative_numbers = true
    )]
    time_wait_records: Option<usize>,
    /// Maximum segment lifetime: TIME_WAIT lasts twice this (default 60 s).
    #[arg(long, value_name = "SECONDS", value_parser = cli::seconds, allow_negative_numbers = true)]
    msl: Option<Duration>,
    /// How long FIN_WAIT_2 waits for the peer's FIN after our close
    /// (default 60 s).
    #[arg(long = "fin-wait-2-timeout", value_name = "SECONDS", value_parser = cli::seconds, allow_negative_numbers = true)]
    fin_wait_2_timeout: Option<Duration>,
    /// Reset connections that have sent no data this long after their
    /// handshake (default: never).
    #[arg(long = "idle-timeout", value_name = "SECONDS", value_parser = cli::seconds, allow_negative_numbers = true)]
    idle_timeout: Option<Duration>,
    /// Drop SYNs beyond the backlog instead of answering with SYN cookies.
    #[arg(long = "no-syn-cookies")]
    no_syn_cookies: bool,
    /// Record every frame, both directions, to this pcap file.
    #[arg(long, value_name = "FILE")]
    pcap: Option<String>,
    /// Do not print each state transition.
    #[arg(long)]
    quiet: bool,
}

/// What a connection turned out to be.
#[derive(Debug, PartialEq, Eq)]
enum Mode {
    /// Not enough bytes yet to tell.
    Undecided,
    /// Echo every byte.
    Echo,
    /// Read one request, answer with it, close.
    Http,
}

/// One accepted connection.
struct Connection {
    mode: Mode,
    /// Bytes read and not yet decided on (Undecided) or the request (Http).
    inbound: Vec<u8>,
    /// Bytes to send that the socket has not taken yet.
    outbound: Vec<u8>,
    echoed: u64,
    closing: bool,
}

impl Connection {
    fn new() -> Connection {
        Connection {
            mode: Mode::Undecided,
            inbound: Vec::new(),
            outbound: Vec::new(),
            echoed: 0,
            closing: false,
        }
    }

    /// Whether `bytes` can still become, or already are, an HTTP request
    /// line.
    fn looks_like_http(bytes: &[u8]) -> Option<bool> {
        for method in HTTP_METHODS {
            let method = method.as_bytes();
            let n = bytes.len().min(method.len());
            if bytes[..n] == method[..n] {
                return if n == method.len() { Some(true) } else { None };
            }
        }
        Some(false)
    }

    /// The end of an HTTP request (headers and a Content-Length body), if
    /// it has all arrived.
    fn request_end(request: &[u8]) -> Option<usize> {
        let headers_end = request.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
        let headers = String::from_utf8_lossy(&request[..headers_end]);
        let body = headers
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        let end = headers_end.saturating_add(body);
        (request.len() >= end).then_some(end)
    }

    fn http_response(request: &[u8]) -> Vec<u8> {
        let mut response = format!(
            "HTTP/1.1 200 OK\r\nServer: pollnet\r\nContent-Type: text/plain\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            request.len()
        )
        .into_bytes();
        response.extend_from_slice(request);
        response
    }

    /// Moves bytes; whether it did anything.
    fn drive(&mut self, socket: &mut TcpSocket<'static>) -> bool {
        let mut acted = self.flush(socket);
        // Backpressure: read only what can be answered.
        let mut chunk = [0u8; 16 * 1024];
        let mut finished = false;
        while self.outbound.is_empty() && !self.closing {
            match socket.recv_slice(&mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    acted = true;
                    self.take(&chunk[..n]);
                    acted |= self.flush(socket);
                }
                Err(RecvError::Finished) => {
                    finished = true;
                    break;
                }
                Err(RecvError::InvalidState) => break,
            }
        }
        if finished && !self.closing {
            // The peer is done sending: answer what is left, then close.
            if self.mode == Mode::Http {
                self.outbound = Connection::http_response(&self.inbound);
                self.inbound.clear();
            } else {
                self.echoed += self.inbound.len() as u64;
                self.outbound.append(&mut self.inbound);
            }
            self.closing = true;
            acted = true;
        }
        acted |= self.flush(socket);
        let open = matches!(
            socket.state(),
            State::Established | State::CloseWait | State::SynRcvd
        );
        if self.closing && self.outbound.is_empty() && open {
            socket.close();
            acted = true;
        }
        acted
    }

    fn take(&mut self, bytes: &[u8]) {
        match self.mode {
            Mode::Echo => {
                self.echoed += bytes.len() as u64;
                self.outbound.extend_from_slice(bytes);
            }
            Mode::Undecided | Mode::Http => {
                self.inbound.extend_from_slice(bytes);
                if self.mode == Mode::Undecided {
                    match Connection::looks_like_http(&self.inbound) {
                        Some(true) => self.mode = Mode::Http,
                        Some(false) => {
                            self.mode = Mode::Echo;
                            self.echoed += self.inbound.len() as u64;
                            self.outbound.append(&mut self.inbound);
                            return;
                        }
                        None => return,
                    }
                }
                let end = Connection::request_end(&self.inbound)
                    .or_else(|| (self.inbound.len() >= MAX_REQUEST).then_some(self.inbound.len()));
                if let Some(end) = end {
                    self.outbound = Connection::http_response(&self.inbound[..end]);
                    self.inbound.clear();
                    self.closing = true;
                }
            }
        }
    }

    fn flush(&mut self, socket: &mut TcpSocket<'static>) -> bool {
        if self.outbound.is_empty() {
            return false;
        }
        match socket.send_slice(&self.outbound) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.outbound.drain(..n);
                true
            }
        }
    }
}

fn new_socket(rx: usize, tx: usize) -> TcpSocket<'static> {
    TcpSocket::new(
        RingBuffer::new(vec![0u8; rx]),
        RingBuffer::new(vec![0u8; tx]),
    )
}

fn serve<D: Device>(mut device: D, fd: RawFd, options: &Options) -> Result<(), String> {
    // A seed from the OS random source: ISNs, the demultiplexing key and
    // the ephemeral ports must be unpredictable (RFC 6528, RFC 6056).
    let mut config = Config::with_os_seed(options.mac)
        .map_err(|e| format!("random seed: {e}"))?
        .with_ip(options.cidr);
    if let Some(gateway) = options.gateway {
        config = config.with_gateway(gateway);
    }
    let mut tcp = TcpConfig::default();
    if let Some(msl) = options.msl {
        tcp.msl = msl;
    }
    if let Some(timeout) = options.fin_wait_2_timeout {
        tcp.fin_wait_2_timeout = timeout;
    }
    let slots = options.sockets.unwrap_or(options.backlog + 64);
    let mut capacity = SetCapacity::for_sockets(slots).with_half_open(options.backlog.max(1));
    if let Some(n) = options.time_wait_records {
        capacity = capacity.with_time_wait(n);
    }
    let mut iface = Interface::new(config).map_err(|e| format!("--mac {}: {e}", options.mac))?;
    let mut sockets = SocketSet::with_capacities(capacity);
    let mut listening = new_socket(64, 64);
    // Its connections inherit the listener's settings.
    listening.set_config(tcp);
    let listener = sockets.add(listening).map_err(|_| "socket set full")?;
    sockets
        .listen(
            listener,
            options.port,
            options.backlog,
            ChildBuffers::Alloc {
                rx: options.rx_buffer,
                tx: options.tx_buffer,
            },
        )
        .map_err(|e| format!("listen: {e}"))?;
    let listen_options = ListenOptions::default()
        .with_syn_cookies(!options.no_syn_cookies)
        .with_idle_timeout(options.idle_timeout);
    sockets
        .set_listen_options(listener, listen_options)
        .map_err(|e| format!("listen options: {e}"))?;
    println!(
        "listening on {}:{} (MAC {}), echo and HTTP",
        options.cidr.address(),
        options.port,
        options.mac
    );
    let start = Instant::now();
    let mut connections: BTreeMap<SocketHandle, Connection> = BTreeMap::new();
    let mut served = 0u64;
    loop {
        let now = Instant::now();
        let mut busy = iface.poll(now, &mut device, &mut sockets);
        while let Some(event) = sockets.pop_trace() {
            if !options.quiet {
                // Half-open and TIME_WAIT connections are records without a
                // handle: the subject names them by their peer.
                println!(
                    "[{:>8}] {} {}",
                    event.at - start,
                    event.subject(),
                    event.transition
                );
            }
        }
        while let Some(handle) = sockets.accept(listener) {
            if let Some(remote) = sockets
                .get::<TcpSocket>(handle)
                .and_then(|s| s.remote_endpoint())
            {
                println!("{handle} accepted from {remote}");
            }
            connections.insert(handle, Connection::new());
            busy = true;
        }
        let mut done = Vec::new();
        for (handle, connection) in connections.iter_mut() {
            // A socket that is gone became a TIME_WAIT record after our
            // close (or was evicted); a CLOSED one is removed here.
            let Some(socket) = sockets.get_mut::<TcpSocket>(*handle) else {
                done.push(*handle);
                continue;
            };
            busy |= connection.drive(socket);
            if socket.state() == State::Closed {
                done.push(*handle);
            }
        }
        for handle in done {
            sockets.remove(handle);
            if let Some(connection) = connections.remove(&handle) {
                served += 1;
                let what = match connection.mode {
                    Mode::Http => "answered an HTTP request".to_string(),
                    _ => format!("echoed {} bytes", connection.echoed),
                };
                println!("{handle} done: {what}");
            }
        }
        if options.connections.is_some_and(|n| served >= n) && connections.is_empty() {
            // Like a process whose sockets linger in TIME_WAIT after it
            // exits, except that here the stack goes too.
            let time_wait = sockets
                .tcp_records()
                .filter(|r| r.state == State::TimeWait)
                .count();
            println!("served {served} connection(s); {time_wait} still in TIME_WAIT");
            return Ok(());
        }
        if !busy {
            let delay = iface
                .poll_delay(Instant::now(), &sockets)
                .map_or(Duration::from_millis(1000), |d| {
                    d.min(Duration::from_millis(1000))
                });
            phy::wait(fd, Some(delay)).map_err(|e| format!("wait: {e}"))?;
        }
    }
}

fn run(options: &Options) -> Result<(), String> {
    match &options.link {
        Link {
            iface: Some(name), ..
        } => {
            let mut raw = RawSocket::new(name).map_err(|e| format!("raw socket on {name}: {e}"))?;
            // pollnet has its own MAC: take frames for any address.
            raw.set_promiscuous(true)
                .map_err(|e| format!("promiscuous mode on {name}: {e}"))?;
            let fd = raw.as_raw_fd();
            with_pcap(raw, fd, options)
        }
        Link {
            tap: Some(name), ..
        } => {
            let tap = TunTap::new(name).map_err(|e| format!("TAP {name}: {e}"))?;
            let fd = tap.as_raw_fd();
            with_pcap(tap, fd, options)
        }
        Link {
            iface: None,
            tap: None,
        } => unreachable!("clap requires one of --iface and --tap"),
    }
}

fn with_pcap<D: Device>(device: D, fd: RawFd, options: &Options) -> Result<(), String> {
    match &options.pcap {
        None => serve(device, fd, options),
        Some(path) => {
            let file = File::create(path).map_err(|e| format!("{path}: {e}"))?;
            let writer = PcapWriter::new(device, BufWriter::new(file), PcapDirection::Both)
                .map_err(|e| format!("{path}: {e}"))?;
            serve(writer, fd, options)
        }
    }
}

fn main() -> ExitCode {
    let options = Options::parse();
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("server: {message}");
            ExitCode::FAILURE
        }
    }
}
