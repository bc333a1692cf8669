//! Joins a real network the way a board would: pollnet on a Linux raw
//! socket (AF_PACKET, `--iface`) or a TAP device (`--tap`) gets a DHCP
//! lease, resolves HOSTNAME with the lease's DNS servers, pings the
//! address, and fetches `http://HOSTNAME/` with an HTTP/1.0 GET. The lease,
//! the address, the ping's round trip time and the HTTP status go to
//! stderr; the response body alone goes to stdout. The lease is released
//! before exiting.
//!
//! ```text
//! cargo run --release --example netinfo -- (--iface NAME | --tap NAME) HOSTNAME
//!     [--mac 02:00:00:00:00:01] [--path /] [--port 80] [--timeout SECONDS]
//! ```
//!
//! Exit status: 0 on success; 3 no lease; 4 the name did not resolve (not
//! found, no DNS server, no answer); 5 no reply to the ping; 6 the HTTP
//! fetch failed (refused, reset, timed out); 2 a bad command line; 1
//! anything else (the device). Each failure prints one line saying which.
//! Needs root (or CAP_NET_RAW / CAP_NET_ADMIN).

#[path = "common/cli.rs"]
mod cli;

use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};
use std::process::ExitCode;

use clap::{Args, Parser};
use pollnet::iface::{Config, Interface};
use pollnet::phy::{self, Device, RawSocket, TunTap};
use pollnet::socket::SocketSet;
use pollnet::socket::dhcpv4::{Dhcpv4Event, Dhcpv4Lease, Dhcpv4Socket, Dhcpv4State};
use pollnet::socket::dns::{DnsError, DnsQueryType, DnsSocket};
use pollnet::socket::icmp::{IcmpRxMetadata, IcmpSocket, IcmpTxMetadata};
use pollnet::socket::tcp::{RecvError, State, TcpSocket};
use pollnet::storage::{PacketBuffer, RingBuffer};
use pollnet::time::{Duration, Instant};
use pollnet::wire::{EthernetAddress, IpAddress, IpEndpoint, Ipv4Address};

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

/// Joins a network with DHCP, resolves HOSTNAME, pings it and fetches
/// http://HOSTNAME/ (the body to stdout, the rest to stderr), then releases
/// the lease. Needs root (or CAP_NET_RAW / CAP_NET_ADMIN).
#[derive(Debug, Parser)]
#[command(name = "netinfo")]
struct CommandLine {
    #[command(flatten)]
    link: Link,
    /// The host to resolve, ping and fetch from (a name, or an address).
    #[arg(value_name = "HOSTNAME")]
    hostname: String,
    /// pollnet's own hardware address.
    #[arg(long, value_name = "MAC", default_value = "02:00:00:00:00:01")]
    mac: EthernetAddress,
    /// The path to GET.
    #[arg(long, value_name = "PATH", default_value = "/")]
    path: String,
    /// The HTTP server's port.
    #[arg(long, value_name = "PORT", default_value = "80", value_parser = cli::port)]
    port: u16,
    /// How long each step (lease, name, ping, fetch) may take, in seconds.
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = cli::seconds, allow_negative_numbers = true)]
    timeout: Duration,
}

/// A failed step: its exit status and what to say.
struct Failure(u8, String);

fn fail<T>(status: u8, message: impl Into<String>) -> Result<T, Failure> {
    Err(Failure(status, message.into()))
}

struct Stack<D: Device> {
    device: D,
    fd: RawFd,
    iface: Interface<'static>,
    sockets: SocketSet<'static>,
    start: Instant,
}

impl<D: Device> Stack<D> {
    /// Polls until `step` returns a result or `timeout` passes (`None`).
    fn run<T>(
        &mut self,
        timeout: Duration,
        mut step: impl FnMut(&mut Self, Instant) -> Option<T>,
    ) -> Result<Option<T>, Failure> {
        let deadline = Instant::now() + timeout;
        loop {
            let now = Instant::now();
            self.iface.poll(now, &mut self.device, &mut self.sockets);
            if let Some(value) = step(self, now) {
                return Ok(Some(value));
            }
            if now >= deadline {
                return Ok(None);
            }
            let delay = self
                .iface
                .poll_delay(Instant::now(), &self.sockets)
                .map_or(Duration::from_millis(50), |d| {
                    d.min(Duration::from_millis(50))
                });
            phy::wait(self.fd, Some(delay)).map_err(|e| Failure(1, format!("wait: {e}")))?;
        }
    }

    fn elapsed(&self) -> Duration {
        Instant::now() - self.start
    }
}

fn netinfo<D: Device>(device: D, fd: RawFd, options: &CommandLine) -> Result<(), Failure> {
    let config =
        Config::with_os_seed(options.mac).map_err(|e| Failure(1, format!("random seed: {e}")))?;
    let seed = config.random_seed;
    let iface = Interface::new(config).map_err(|e| Failure(1, format!("--mac: {e}")))?;
    let mut stack = Stack {
        device,
        fd,
        iface,
        sockets: SocketSet::with_capacity(4),
        start: Instant::now(),
    };
    let mut client = Dhcpv4Socket::new(options.mac, seed);
    client
        .set_host_name("pollnet")
        .map_err(|e| Failure(1, e.to_string()))?;
    let dhcp = stack
        .sockets
        .add(client)
        .map_err(|_| Failure(1, "socket set full".into()))?;

    let lease = lease(&mut stack, dhcp, options.timeout)?;
    let result = after_lease(&mut stack, &lease, seed, options);
    release(&mut stack, dhcp);
    result
}

/// Waits for a lease and applies it.
fn lease<D: Device>(
    stack: &mut Stack<D>,
    dhcp: pollnet::socket::SocketHandle,
    timeout: Duration,
) -> Result<Dhcpv4Lease, Failure> {
    let lease = stack.run(timeout, |s, now| {
        let event = s.sockets.get_mut::<Dhcpv4Socket>(dhcp)?.poll_event()?;
        let applied = s.iface.apply_dhcpv4_event(&mut s.sockets, &event, now);
        match event {
            Dhcpv4Event::Configured(lease) => Some(applied.map(|()| lease)),
            Dhcpv4Event::Deconfigured(_) => None,
        }
    })?;
    let Some(lease) = lease else {
        return fail(3, format!("no lease: no DHCP server answered in {timeout}"));
    };
    let lease = lease.map_err(|e| Failure(3, format!("lease not applied: {e}")))?;
    let seconds = lease
        .lease_duration
        .map_or("infinite".to_string(), |d| format!("{} s", d.secs()));
    eprintln!(
        "lease: {} from {} for {seconds} (after {}), router {}, DNS {}{}",
        lease.address,
        lease.server,
        stack.elapsed(),
        lease.router.map_or("none".to_string(), |r| r.to_string()),
        list(lease.dns_servers.as_slice()),
        lease.mtu.map_or(String::new(), |m| format!(", MTU {m}")),
    );
    Ok(lease)
}

fn list(addrs: &[Ipv4Address]) -> String {
    if addrs.is_empty() {
        return "none".into();
    }
    addrs
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn after_lease<D: Device>(
    stack: &mut Stack<D>,
    lease: &Dhcpv4Lease,
    seed: u128,
    options: &CommandLine,
) -> Result<(), Failure> {
    let address = resolve(stack, lease, seed, options)?;
    eprintln!("address: {} is {address}", options.hostname);
    ping(stack, address, options.timeout)?;
    fetch(stack, address, options)
}

/// The host's address: the literal, or the first A record.
fn resolve<D: Device>(
    stack: &mut Stack<D>,
    lease: &Dhcpv4Lease,
    seed: u128,
    options: &CommandLine,
) -> Result<IpAddress, Failure> {
    if let Ok(address) = options.hostname.parse::<Ipv4Address>() {
        return Ok(IpAddress::Ipv4(address));
    }
    if lease.dns_servers.is_empty() {
        return fail(4, "name not resolved: the lease names no DNS server");
    }
    let mut resolver = DnsSocket::new(&[], vec![None; 1], seed);
    resolver.set_ipv4_servers(lease.dns_servers.as_slice());
    let dns = stack
        .sockets
        .add(resolver)
        .map_err(|_| Failure(1, "socket set full".into()))?;
    let query = stack
        .sockets
        .get_mut::<DnsSocket>(dns)
        .ok_or_else(|| Failure(1, "resolver vanished".into()))?
        .start_query(Instant::now(), &options.hostname, DnsQueryType::A)
        .map_err(|e| Failure(4, format!("name not resolved: {e}")))?;
    let result = stack.run(options.timeout, |s, _| {
        match s.sockets.get_mut::<DnsSocket>(dns)?.get_query_result(query) {
            Err(DnsError::Pending) => None,
            other => Some(other),
        }
    })?;
    let name = &options.hostname;
    match result {
        Some(Ok(answer)) => answer
            .addresses()
            .first()
            .copied()
            .ok_or_else(|| Failure(4, format!("name not found: {name} has no address"))),
        Some(Err(DnsError::NameNotFound)) => fail(4, format!("name not found: {name}")),
        Some(Err(DnsError::Timeout)) | None => fail(
            4,
            format!(
                "name not resolved: no reply from the DNS servers ({})",
                list(lease.dns_servers.as_slice())
            ),
        ),
        Some(Err(err)) => fail(4, format!("name not resolved: {name}: {err}")),
    }
}

/// One echo request; its round trip time on stderr.
fn ping<D: Device>(
    stack: &mut Stack<D>,
    address: IpAddress,
    timeout: Duration,
) -> Result<(), Failure> {
    let socket = IcmpSocket::new(
        PacketBuffer::new(vec![IcmpRxMetadata::EMPTY; 4], vec![0u8; 512]),
        PacketBuffer::new(vec![IcmpTxMetadata::EMPTY; 4], vec![0u8; 512]),
    );
    let handle = stack
        .sockets
        .add(socket)
        .map_err(|_| Failure(1, "socket set full".into()))?;
    stack
        .iface
        .icmp_bind(&mut stack.sockets, handle, None)
        .map_err(|e| Failure(1, format!("ICMP socket: {e:?}")))?;
    let ping_timeout = if timeout > Duration::from_secs(5) {
        Duration::from_secs(5)
    } else {
        timeout
    };
    let mut sent = false;
    let reply = stack.run(ping_timeout, |s, _| {
        let socket = s.sockets.get_mut::<IcmpSocket>(handle)?;
        if !sent {
            sent = socket.send_echo(address, 1, b"pollnet netinfo").is_ok();
        }
        if let Some(error) = socket.take_error() {
            return Some(Err(error));
        }
        socket.recv().map(|(reply, _)| Ok(reply))
    })?;
    match reply {
        Some(Ok(reply)) => {
            let rtt = reply.rtt().total_micros() as f64 / 1000.0;
            eprintln!("ping: reply from {} in {rtt:.3} ms", reply.from);
            Ok(())
        }
        Some(Err(error)) => fail(
            5,
            format!("no reply to ping from {address}: {:?}", error.kind),
        ),
        None => fail(
            5,
            format!("no reply to ping from {address} in {ping_timeout}"),
        ),
    }
}

/// GET http://HOSTNAME[:port]/path over HTTP/1.0: status to stderr, body
/// to stdout.
fn fetch<D: Device>(
    stack: &mut Stack<D>,
    address: IpAddress,
    options: &CommandLine,
) -> Result<(), Failure> {
    let remote = IpEndpoint::new(address, options.port);
    let socket = TcpSocket::new(
        RingBuffer::new(vec![0u8; 256 * 1024]),
        RingBuffer::new(vec![0u8; 4096]),
    );
    let handle = stack
        .sockets
        .add(socket)
        .map_err(|_| Failure(1, "socket set full".into()))?;
    stack
        .iface
        .connect(&mut stack.sockets, handle, remote, Instant::now())
        .map_err(|e| Failure(6, format!("connect to {remote}: {e:?}")))?;
    let request = format!(
        "GET {} HTTP/1.0\r\nHost: {}\r\nUser-Agent: pollnet-netinfo\r\n\r\n",
        options.path, options.hostname
    );
    let request = request.as_bytes();
    let mut sent = 0;
    let mut response = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut established = false;
    let outcome = stack.run(options.timeout, |s, _| {
        let socket = s.sockets.get_mut::<TcpSocket>(handle)?;
        established |= socket.state() == State::Established;
        if socket.may_send() && sent < request.len() {
            sent += socket.send_slice(&request[sent..]).unwrap_or(0);
        }
        loop {
            match socket.recv_slice(&mut chunk) {
                Ok(0) => break,
                Ok(n) => response.extend_from_slice(&chunk[..n]),
                Err(RecvError::Finished) => {
                    socket.close();
                    break;
                }
                Err(RecvError::InvalidState) => break,
            }
        }
        match socket.state() {
            State::TimeWait => Some(Ok(())),
            State::Closed => Some(socket.error().map_or(Ok(()), |e| Err(e.to_string()))),
            _ => None,
        }
    })?;
    match outcome {
        None => return fail(6, format!("HTTP fetch from {remote} timed out")),
        Some(Err(error)) if !established => {
            return fail(6, format!("connection to {remote} refused: {error}"));
        }
        Some(Err(error)) => return fail(6, format!("HTTP fetch from {remote}: {error}")),
        Some(Ok(())) => {}
    }
    let Some(split) = response.windows(4).position(|w| w == b"\r\n\r\n") else {
        return fail(6, format!("no HTTP response from {remote}"));
    };
    let head = String::from_utf8_lossy(&response[..split]);
    eprintln!("http: {}", head.lines().next().unwrap_or_default());
    let body = &response[split + 4..];
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(body)
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure(1, format!("stdout: {e}")))?;
    eprintln!("http: {} bytes of body", body.len());
    Ok(())
}

/// Releases the lease (a DHCPRELEASE to the server) and takes it off the
/// interface.
fn release<D: Device>(stack: &mut Stack<D>, dhcp: pollnet::socket::SocketHandle) {
    let Some(client) = stack.sockets.get_mut::<Dhcpv4Socket>(dhcp) else {
        return;
    };
    client.release();
    // One poll sends the RELEASE; a few more in case the device was busy.
    let _ = stack.run(Duration::from_millis(200), |s, now| {
        let client = s.sockets.get_mut::<Dhcpv4Socket>(dhcp)?;
        if let Some(event) = client.poll_event() {
            let _ = s.iface.apply_dhcpv4_event(&mut s.sockets, &event, now);
        }
        let client = s.sockets.get::<Dhcpv4Socket>(dhcp)?;
        (client.state() == Dhcpv4State::Released && client.poll_at().is_none()).then_some(())
    });
    eprintln!("lease released");
}

fn run(options: &CommandLine) -> Result<(), Failure> {
    match &options.link {
        Link {
            iface: Some(name), ..
        } => {
            let mut raw = RawSocket::new(name)
                .map_err(|e| Failure(1, format!("raw socket on {name}: {e}")))?;
            // pollnet has its own MAC: take frames for any address.
            raw.set_promiscuous(true)
                .map_err(|e| Failure(1, format!("promiscuous mode on {name}: {e}")))?;
            let fd = raw.as_raw_fd();
            netinfo(raw, fd, options)
        }
        Link {
            tap: Some(name), ..
        } => {
            let tap = TunTap::new(name).map_err(|e| Failure(1, format!("TAP {name}: {e}")))?;
            let fd = tap.as_raw_fd();
            netinfo(tap, fd, options)
        }
        Link {
            iface: None,
            tap: None,
        } => unreachable!("clap requires one of --iface and --tap"),
    }
}

fn main() -> ExitCode {
    let options = CommandLine::parse();
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(status, message)) => {
            eprintln!("netinfo: {message}");
            ExitCode::from(status)
        }
    }
}
