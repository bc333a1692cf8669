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
//! `--request` takes `\r`, `\n`, `\t` and `\\` escapes; the default is
//! `--http /`, an HTTP/1.0 GET. With the namespace of the server example's
//! notes and a kernel-side server:
//!
//! ```text
//! ip netns exec peer python3 -m http.server --bind 192.0.2.2 8000 &
//! cargo run --release --example client -- --iface pn0 --remote 192.0.2.2:8000
//! ```

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::process::ExitCode;

use pollnet::iface::{Config, Interface};
use pollnet::phy::{self, Device, PcapDirection, PcapWriter, RawSocket, TunTap};
use pollnet::socket::SocketSet;
use pollnet::socket::tcp::{Cause, RecvError, State, TcpSocket};
use pollnet::storage::RingBuffer;
use pollnet::time::{Duration, Instant};
use pollnet::wire::{EthernetAddress, IpAddress, IpEndpoint, Ipv4Address, Ipv4Cidr};

const BUFFER: usize = 256 * 1024;

#[derive(Debug)]
enum Link {
    Iface(String),
    Tap(String),
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

fn usage() -> &'static str {
    "usage: client (--iface NAME | --tap NAME) --remote IP:PORT [--ip 192.0.2.1/24] [--gateway IP] \
     [--mac 02:00:00:00:00:01] [--request TEXT | --http PATH] [--timeout SECONDS] [--pcap FILE]"
}

fn parse_endpoint(text: &str) -> Result<IpEndpoint, String> {
    let addr: std::net::SocketAddrV4 = text
        .parse()
        .map_err(|e| format!("{text}: {e} (expected IP:PORT)"))?;
    if addr.port() == 0 {
        return Err(format!("{text}: port 0"));
    }
    Ok(IpEndpoint::new(
        IpAddress::Ipv4(Ipv4Address::from_bytes(&addr.ip().octets())),
        addr.port(),
    ))
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
                    "--request: unknown escape \\{}",
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

/// Parses a flag's value with its type's `FromStr` (addresses come from
/// `pollnet::wire`), naming the text in the error.
fn parse_arg<T>(text: &str) -> Result<T, String>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|e| format!("{text}: {e}"))
}

fn parse_options() -> Result<Options, String> {
    let mut link = None;
    let mut remote = None;
    let mut request = None;
    let mut http_path = None;
    let mut cidr = parse_arg::<Ipv4Cidr>("192.0.2.1/24")?;
    let mut gateway = None;
    let mut mac = EthernetAddress([0x02, 0, 0, 0, 0, 0x01]);
    let mut timeout = Duration::from_secs(30);
    let mut pcap = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{flag} needs a value\n{}", usage()))
        };
        match flag.as_str() {
            "--iface" => link = Some(Link::Iface(value()?)),
            "--tap" => link = Some(Link::Tap(value()?)),
            "--remote" => remote = Some(parse_endpoint(&value()?)?),
            "--ip" => cidr = parse_arg::<Ipv4Cidr>(&value()?)?,
            "--gateway" => gateway = Some(parse_arg::<Ipv4Address>(&value()?)?),
            "--mac" => mac = parse_arg::<EthernetAddress>(&value()?)?,
            "--request" => request = Some(unescape(&value()?)?),
            "--http" => http_path = Some(value()?),
            "--timeout" => {
                let secs: f64 = value()?.parse().map_err(|e| format!("--timeout: {e}"))?;
                timeout = Duration::from_micros((secs.max(0.0) * 1e6) as u64);
            }
            "--pcap" => pcap = Some(value()?),
            "-h" | "--help" => return Err(usage().into()),
            other => return Err(format!("unknown option {other}\n{}", usage())),
        }
    }
    let link = link.ok_or_else(|| format!("--iface or --tap is required\n{}", usage()))?;
    let remote = remote.ok_or_else(|| format!("--remote is required\n{}", usage()))?;
    let request = match (request, http_path) {
        (Some(_), Some(_)) => return Err("--request and --http exclude each other".into()),
        (Some(r), None) => r,
        (None, path) => http_get(path.as_deref().unwrap_or("/"), remote),
    };
    Ok(Options {
        link,
        cidr,
        gateway,
        mac,
        remote,
        request,
        timeout,
        pcap,
    })
}

/// A seed for ISNs and the ephemeral port that peers cannot guess.
fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(Instant::now().total_micros() as u64);
    hasher.finish()
}

fn fetch<D: Device>(mut device: D, fd: RawFd, options: &Options) -> Result<(), String> {
    let mut config = Config::new(options.mac)
        .with_ip(options.cidr)
        .with_seed(random_seed());
    if let Some(gateway) = options.gateway {
        config = config.with_gateway(gateway);
    }
    let mut iface = Interface::new(config);
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
        Link::Iface(name) => {
            let mut raw = RawSocket::new(name).map_err(|e| format!("raw socket on {name}: {e}"))?;
            // pollnet has its own MAC: take frames for any address.
            raw.set_promiscuous(true)
                .map_err(|e| format!("promiscuous mode on {name}: {e}"))?;
            let fd = raw.as_raw_fd();
            with_pcap(raw, fd, options)
        }
        Link::Tap(name) => {
            let tap = TunTap::new(name).map_err(|e| format!("TAP {name}: {e}"))?;
            let fd = tap.as_raw_fd();
            with_pcap(tap, fd, options)
        }
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
    let options = match parse_options() {
        Ok(o) => o,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("client: {message}");
            ExitCode::FAILURE
        }
    }
}
