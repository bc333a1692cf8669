//! A TCP client on a real link: pollnet on a Linux raw socket (AF_PACKET,
//! `--iface`) or a TAP device (`--tap`) connects to a server, sends one
//! request and writes what comes back to stdout until the server closes.
//! State transitions and a summary go to stderr.
//!
//! ```text
//! cargo run --release --example client -- (--iface NAME | --tap NAME)
//!     --remote 192.0.2.2:8000 [--ip 192.0.2.1/24] [--gateway IP]
//!     [--mac 02:00:00:00:00:01] [--request TEXT | --http PATH]
//!     [--timeout SECONDS] [--pcap FILE]
//! ```
//!
//! `--help` describes each flag.//!
//! `--request` takes `\r`, `\n`, `\t` and `\\` escapes; the default is
//! `--http /`, an HTTP/1.0 GET. With the namespace of the server example's
//! notes and a kernel-side server:
//!
//! ```text
//! ip netns exec peer python3 -m http.server --bind 192.0.2.2 8000 &
//! cargo run --release --example client -- --iface pn0 --remote 192.0.2.2:8000
//! ```

#[path = "common/cli.rs"]
mod cli;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::process::ExitCode;

use clap::{Args, Parser};
use pollnet::iface::{Config, Interface};
use pollnet::phy::{self, Device, PcapDirection, PcapWriter, RawSocket, TunTap};
use pollnet::socket::SocketSet;
use pollnet::socket::tcp::{Cause, RecvError, State, TcpSocket};
use pollnet::storage::RingBuffer;
use pollnet::time::{Duration, Instant};
use pollnet::wire::{EthernetAddress, IpEndpoint, Ipv4Address, Ipv4Cidr};

const BUFFER: usize = 256 * 1024;

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

/// A TCP client on a real link: pollnet on a Linux raw socket or TAP device
/// connects to a server, sends one request and writes what comes back to
/// stdout until the server closes. State transitions and a summary go to
/// stderr. Needs root (or CAP_NET_RAW / CAP_NET_ADMIN).
#[derive(Debug, Parser)]
#[command(name = "client")]
struct CommandLine {
    #[command(flatten)]
    link: Link,
    /// The server to connect to.
    #[arg(long, value_name = "ADDRESS:PORT", value_parser = cli::endpoint)]
    remote: IpEndpoint,
    /// pollnet's address and prefix.
    #[arg(
        long = "ip",
        value_name = "ADDRESS/PREFIX",
        default_value = "192.0.2.1/24"
    )]
    cidr: Ipv4Cidr,
    /// The default gateway, for servers off the prefix.
    #[arg(long, value_name = "IP")]
    gateway: Option<Ipv4Address>,
    /// pollnet's own hardware address.
    #[arg(long, value_name = "MAC", default_value = "02:00:00:00:00:01")]
    mac: EthernetAddress,
    /// The request to send, with \r, \n, \t and \\ escapes.
    #[arg(long, value_name = "TEXT", value_parser = unescape, conflicts_with = "http")]
    request: Option<Vec<u8>>,
    /// Send an HTTP/1.0 GET of this path (the default, with `/`).
    #[arg(long, value_name = "PATH")]
    http: Option<String>,
    /// Give up if the exchange has not ended after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = cli::seconds, allow_negative_numbers = true)]
    timeout: Duration,
    /// Record every frame, both directions, to this pcap file.
    #[arg(long, value_name = "FILE")]
    pcap: Option<String>,
}

#[derive(Debug)]
struct Options {
    link: Link,
    cidr: Ipv4Cidr,
    gateway: Option<Ipv4Address>,
    mac: EthernetAddress,
    remote: IpEndpoint,
    request: Vec<u8>,
    timeout: Duration,
    pcap: Option<String>,
}

/// `\r`, `\n`, `\t` and `\\` become the characters they name.
fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut utf8 = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
            continue;
        }
        out.push(match chars.next() {
            Some('r') => b'\r',
            Some('n') => b'\n',
            Some('t') => b'\t',
            Some('\\') => b'\\',
            other => {
                return Err(format!(
                    "unknown escape \\{} (\\r, \\n, \\t and \\\\ are known)",
                    other.unwrap_or(' ')
                ));
            }
        });
    }
    Ok(out)
}

fn http_get(path: &str, remote: IpEndpoint) -> Vec<u8> {
    format!("GET {path} HTTP/1.0\r\nHost: {remote}\r\nUser-Agent: pollnet-client\r\n\r\n")
        .into_bytes()
}

fn parse_options() -> Options {
    let args = CommandLine::parse();
    let request = match (args.request, args.http) {
        (Some(request), _) => request,
        (None, path) => http_get(path.as_deref().unwrap_or("/"), args.remote),
    };
    Options {
        link: args.link,
        cidr: args.cidr,
        gateway: args.gateway,
        mac: args.mac,
        remote: args.remote,
        request,
        timeout: args.timeout,
        pcap: args.pcap,
    }
}

fn fetch<D: Device>(mut device: D, fd: RawFd, options: &Options) -> Result<(), String> {
    // A seed from the OS random source: ISNs, the demultiplexing key and
    // the ephemeral ports must be unpredictable (RFC 6528, RFC 6056).
    let mut config = Config::with_os_seed(options.mac)
        .map_err(|e| format!("random seed: {e}"))?
        .with_ip(options.cidr);
    if let Some(gateway) = options.gateway {
        config = config.with_gateway(gateway);
    }
    let mut iface = Interface::new(config).map_err(|e| format!("--mac {}: {e}", options.mac))?;
    let mut sockets = SocketSet::with_capacity(4);
    let socket = TcpSocket::new(
        RingBuffer::new(vec![0u8; BUFFER]),
        RingBuffer::new(vec![0u8; BUFFER]),
    );
    let handle = sockets.add(socket).map_err(|_| "socket set full")?;
    let start = Instant::now();
    let local = iface
        .connect(&mut sockets, handle, options.remote, start)
        .map_err(|e| format!("connect: {e:?}"))?;
    eprintln!("connecting {local} -> {}", options.remote);

    let mut stdout = std::io::stdout().lock();
    let mut sent = 0;
    let mut received = 0u64;
    let mut closed = false;
    // The transition that reached CLOSED, once one has.
    let mut ended_by: Option<(State, Cause)> = None;
    let mut chunk = vec![0u8; 64 * 1024];
    let deadline = start + options.timeout;
    loop {
        let now = Instant::now();
        if now > deadline {
            return Err(format!("timed out after {}", options.timeout));
        }
        let mut busy = iface.poll(now, &mut device, &mut sockets);
        while let Some(event) = sockets.pop_trace() {
            eprintln!("[{:>8}] {}", event.at - start, event.transition);
            if event.transition.to == State::Closed {
                ended_by = Some((event.transition.from, event.transition.cause));
            }
        }
        let socket = sockets
            .get_mut::<TcpSocket>(handle)
            .ok_or("socket vanished")?;
        let may_send = matches!(socket.state(), State::Established | State::CloseWait);
        if may_send && sent < options.request.len() {
            let n = socket.send_slice(&options.request[sent..]).unwrap_or(0);
            sent += n;
            busy |= n > 0;
        }
        loop {
            match socket.recv_slice(&mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    stdout
                        .write_all(&chunk[..n])
                        .map_err(|e| format!("stdout: {e}"))?;
                    received += n as u64;
                    busy = true;
                }
                Err(RecvError::Finished) => {
                    // Close once the request is out, even if the server
                    // finished first.
                    if !closed && sent == options.request.len() {
                        // The server is done: close our side too.
                        socket.close();
                        closed = true;
                        busy = true;
                    }
                    break;
                }
                Err(RecvError::InvalidState) => break,
            }
        }
        stdout.flush().map_err(|e| format!("stdout: {e}"))?;
        if socket.state() == State::Closed {
            return match (socket.error(), ended_by) {
                (Some(error), _) if received == 0 => Err(error.to_string()),
                (Some(error), _) => Err(format!("{error} after {received} bytes")),
                (None, Some((State::LastAck, _))) => {
                    eprintln!("done: sent {sent} bytes, received {received} bytes");
                    Ok(())
                }
                (None, ended) => Err(format!("connection ended: {ended:?}")),
            };
        }
        if !busy {
            let delay = iface
                .poll_delay(Instant::now(), &sockets)
                .map_or(Duration::from_millis(100), |d| {
                    d.min(Duration::from_millis(100))
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
        None => fetch(device, fd, options),
        Some(path) => {
            let file = File::create(path).map_err(|e| format!("{path}: {e}"))?;
            let writer = PcapWriter::new(device, BufWriter::new(file), PcapDirection::Both)
                .map_err(|e| format!("{path}: {e}"))?;
            fetch(writer, fd, options)
        }
    }
}

fn main() -> ExitCode {
    let options = parse_options();
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("client: {message}");
            ExitCode::FAILURE
        }
    }
}
