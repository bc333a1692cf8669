//! pollnet on a real device and a real clock: poll, let the test's
//! application act, sleep in `phy::wait` until a frame or the next timer.

use std::os::fd::RawFd;
use std::time::{Duration as StdDuration, Instant as WallClock};

use pollnet::iface::{Config, Interface, TraceEvent};
use pollnet::phy::{self, Device};
use pollnet::socket::tcp::{RecvError, State, TcpConfig, TcpSocket};
use pollnet::socket::{SocketHandle, SocketSet};
use pollnet::storage::RingBuffer;
use pollnet::time::{Duration, Instant};
use pollnet::wire::{EthernetAddress, IpAddress, IpEndpoint, Ipv4Address, Ipv4Cidr};

use super::pipeline::{Incoming, Outgoing};

pub const POLLNET_IP: Ipv4Address = Ipv4Address::new(192, 0, 2, 1);
pub const KERNEL_IP: Ipv4Address = Ipv4Address::new(192, 0, 2, 2);
pub const POLLNET_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x01]);

/// The longest `phy::wait` sleep: the test's kernel-side threads finish
/// without a frame to wake us, so we look at them at least this often.
const MAX_SLEEP: Duration = Duration::from_millis(5);

pub fn kernel_endpoint(port: u16) -> IpEndpoint {
    IpEndpoint::new(IpAddress::Ipv4(KERNEL_IP), port)
}

/// Test TCP settings: Linux's 200 ms minimum RTO and a short MSL so
/// TIME_WAIT (2*MSL) ends within the test.
pub fn tcp_config(msl: Duration) -> TcpConfig {
    let mut tcp = TcpConfig::default();
    tcp.msl = msl;
    tcp.min_rto = Duration::from_millis(200);
    tcp
}

pub fn new_socket(tcp: TcpConfig, rx: usize, tx: usize) -> TcpSocket<'static> {
    let mut socket = TcpSocket::new(
        RingBuffer::new(vec![0u8; rx]),
        RingBuffer::new(vec![0u8; tx]),
    );
    socket.set_config(tcp);
    socket
}

/// One pollnet interface on a real device.
pub struct Stack<D: Device> {
    pub iface: Interface<'static>,
    pub device: D,
    pub sockets: SocketSet<'static>,
    /// The fd `phy::wait` sleeps on (the innermost device's).
    fd: RawFd,
    /// Every transition seen so far, in order.
    pub trace: Vec<TraceEvent>,
    /// The longest wall time between two polls, and when it ended: a pause
    /// longer than the peer's retransmission timeout (200 ms minimum on
    /// Linux) makes the peer retransmit, whatever pollnet does.
    pub longest_pause: StdDuration,
    last_poll: Option<WallClock>,
}

/// pollnet's interface configuration: 192.0.2.1/24 at `POLLNET_MAC`.
pub fn pollnet_config(tcp: TcpConfig) -> Config {
    Config::new(POLLNET_MAC, 0x1e7_0a11)
        .with_ip(Ipv4Cidr::new(POLLNET_IP, 24).unwrap())
        .with_drop_syn_fin(tcp.drop_syn_fin)
}

impl<D: Device> Stack<D> {
    pub fn new(device: D, fd: RawFd, tcp: TcpConfig) -> Stack<D> {
        Stack::with_config(device, fd, pollnet_config(tcp))
    }

    pub fn with_config(device: D, fd: RawFd, config: Config) -> Stack<D> {
        let sockets = SocketSet::with_capacity(16);
        Stack {
            iface: Interface::new(config).unwrap(),
            device,
            sockets,
            fd,
            trace: Vec::new(),
            longest_pause: StdDuration::ZERO,
            last_poll: None,
        }
    }

    /// One poll at the current time; collects the trace.
    pub fn poll(&mut self) -> bool {
        let wall = WallClock::now();
        if let Some(last) = self.last_poll.replace(wall) {
            self.longest_pause = self.longest_pause.max(wall - last);
        }
        let changed = self
            .iface
            .poll(Instant::now(), &mut self.device, &mut self.sockets);
        while let Some(event) = self.sockets.pop_trace() {
            self.trace.push(event);
        }
        changed
    }

    /// Sleeps until a frame arrives, the stack's next deadline, or
    /// `MAX_SLEEP`, whichever is first.
    pub fn wait(&mut self) {
        let delay = self
            .iface
            .poll_delay(Instant::now(), &self.sockets)
            .map_or(MAX_SLEEP, |d| d.min(MAX_SLEEP));
        phy::wait(self.fd, Some(delay)).expect("phy::wait");
    }

    /// Polls, runs `app`, and waits, until `app` returns `Some`; panics with
    /// the trace and counters after `limit` of wall time.
    pub fn run_until<R>(
        &mut self,
        limit: StdDuration,
        what: &str,
        mut app: impl FnMut(&mut Stack<D>) -> Option<R>,
    ) -> R {
        let deadline = WallClock::now() + limit;
        loop {
            self.poll();
            if let Some(result) = app(self) {
                return result;
            }
            if WallClock::now() > deadline {
                panic!(
                    "{what}: not done after {limit:?}\ntrace:\n{}\nstats: {:#?}",
                    self.trace_text(),
                    self.iface.stats()
                );
            }
            self.wait();
        }
    }

    /// Polls for `span` of wall time.
    pub fn run_for(&mut self, span: StdDuration) {
        let end = WallClock::now() + span;
        self.run_until(span + StdDuration::from_secs(1), "run_for", |_| {
            (WallClock::now() >= end).then_some(())
        });
    }

    /// Whether `event` belongs to the connection of `handle`: its own, or
    /// one of the compact record the connection was before it had a socket
    /// (same endpoints, no handle).
    fn belongs(&self, event: &TraceEvent, handle: SocketHandle) -> bool {
        if event.handle == Some(handle) {
            return true;
        }
        event.handle.is_none()
            && event.remote.is_some()
            && self.trace.iter().any(|e| {
                e.handle == Some(handle) && (e.local, e.remote) == (event.local, event.remote)
            })
    }

    /// The transitions of `handle`'s connection, as the trace prints them.
    pub fn transitions(&self, handle: SocketHandle) -> Vec<String> {
        self.trace
            .iter()
            .filter(|e| self.belongs(e, handle))
            .map(|e| e.transition.to_string())
            .collect()
    }

    /// The events of `handle`'s connection, removed from the trace.
    pub fn take_events(&mut self, handle: SocketHandle) -> Vec<TraceEvent> {
        let mine: Vec<bool> = self.trace.iter().map(|e| self.belongs(e, handle)).collect();
        let mut taken = Vec::new();
        let mut kept = Vec::new();
        for (event, mine) in self.trace.drain(..).zip(mine) {
            if mine {
                taken.push(event);
            } else {
                kept.push(event);
            }
        }
        self.trace = kept;
        taken
    }

    pub fn trace_text(&self) -> String {
        self.trace
            .iter()
            .map(|e| {
                let who = e
                    .handle
                    .map_or_else(|| format!("{:?}", e.remote), |h| h.to_string());
                format!("[{:>8}] {who} {}", e.at, e.transition)
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn state(&self, handle: SocketHandle) -> State {
        self.sockets
            .get::<TcpSocket>(handle)
            .map_or(State::Closed, |s| s.state())
    }
}

pub fn texts(events: &[TraceEvent]) -> Vec<String> {
    events.iter().map(|e| e.transition.to_string()).collect()
}

/// Who sends first. The side that sends first closes its send side when done
/// (the active close); the other reads to end of stream, then sends its
/// bytes and closes (the passive close).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    SendFirst,
    RecvFirst,
}

impl Order {
    pub fn other(self) -> Order {
        match self {
            Order::SendFirst => Order::RecvFirst,
            Order::RecvFirst => Order::SendFirst,
        }
    }
}

/// What one side of a transfer sent and received.
#[derive(Debug, Clone)]
pub struct Tally {
    pub sent: u64,
    pub sent_sha: [u8; 32],
    pub received: u64,
    pub received_sha: [u8; 32],
    /// When this side started sending, and when it read its last byte.
    pub send_start: Option<WallClock>,
    pub recv_end: Option<WallClock>,
}

/// The pollnet application side of a transfer over one socket. The stream
/// is generated, and both directions hashed, on helper threads (see
/// `pipeline`): this thread only moves bytes between them and the socket.
pub struct Transfer {
    order: Order,
    outgoing: Outgoing,
    incoming: Incoming,
    /// The peer's FIN has been read.
    pub eof: bool,
    /// `shutdown()` (sending first) or `close()` (sending second) has been
    /// called.
    pub closed: bool,
    send_start: Option<WallClock>,
    recv_end: Option<WallClock>,
}

impl Transfer {
    pub fn new(order: Order, send_seed: u64, send_len: u64) -> Transfer {
        Transfer {
            order,
            outgoing: Outgoing::new(send_seed, send_len),
            incoming: Incoming::new(),
            eof: false,
            closed: false,
            send_start: None,
            recv_end: None,
        }
    }

    pub fn received(&self) -> u64 {
        self.incoming.received()
    }

    /// Reads what arrived, sends what fits, closes when due. Whether it did
    /// anything.
    pub fn drive(&mut self, socket: &mut TcpSocket<'static>) -> bool {
        let mut acted = false;
        loop {
            let space = self.incoming.space();
            if space.is_empty() {
                // Every buffer is with the hasher: leave the rest in the
                // socket for now.
                break;
            }
            match socket.recv_slice(space) {
                Ok(0) => break,
                Ok(n) => {
                    self.incoming.advance(n);
                    self.recv_end = Some(WallClock::now());
                    acted = true;
                }
                Err(RecvError::Finished) => {
                    if !self.eof {
                        self.eof = true;
                        acted = true;
                    }
                    break;
                }
                Err(_) => break,
            }
        }
        let may_send = self.order == Order::SendFirst || self.eof;
        if may_send && !self.closed {
            while !self.outgoing.is_done() {
                let chunk = self.outgoing.pending();
                if chunk.is_empty() {
                    // The generator has not caught up.
                    break;
                }
                let accepted = socket.send_slice(chunk).unwrap_or_default();
                if accepted == 0 {
                    break;
                }
                self.send_start.get_or_insert_with(WallClock::now);
                self.outgoing.advance(accepted);
                acted = true;
            }
            if self.outgoing.is_done() {
                // The side that sends first still reads afterwards: it
                // half-closes (FIN, and FIN_WAIT_2 waits for the peer's
                // FIN). The other side has read everything: a full close.
                match self.order {
                    Order::SendFirst => socket.shutdown(),
                    Order::RecvFirst => socket.close(),
                }
                self.closed = true;
                acted = true;
            }
        }
        acted
    }

    /// Both streams ended and the socket reached CLOSED.
    pub fn is_finished(&self, socket: &TcpSocket<'static>) -> bool {
        self.closed && self.eof && socket.state() == State::Closed
    }

    pub fn tally(&self) -> Tally {
        Tally {
            sent: self.outgoing.sent(),
            sent_sha: self.outgoing.digest(),
            received: self.incoming.received(),
            received_sha: self.incoming.digest(),
            send_start: self.send_start,
            recv_end: self.recv_end,
        }
    }
}

/// MB/s (10^6 bytes) of `bytes` moved from `start` to `end`.
pub fn throughput(bytes: u64, start: Option<WallClock>, end: Option<WallClock>) -> f64 {
    match (start, end) {
        (Some(s), Some(e)) if e > s => bytes as f64 / 1e6 / (e - s).as_secs_f64(),
        _ => f64::NAN,
    }
}
