//! One connection between pollnet and the kernel, run to its end, and the
//! traces every close order must show.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration as StdDuration, Instant as WallClock};

use pollnet::iface::TraceEvent;
use pollnet::phy::Device;
use pollnet::socket::tcp::{State, TcpConfig, TcpSocket};
use pollnet::socket::{ChildBuffers, SocketHandle};
use pollnet::time::{Duration, Instant};

use super::kernel;
use super::netenv::Netns;
use super::sha256::hex;
use super::stack::*;

/// pollnet's socket buffers: big enough that the window, not the buffer,
/// sets the pace.
pub const BUFFER: usize = 1024 * 1024;
/// A test connection that has not finished in this long has failed.
pub const CONNECTION_LIMIT: StdDuration = StdDuration::from_secs(300);
/// How long pollnet's side may take to finish after the kernel's.
pub const KERNEL_GRACE: StdDuration = StdDuration::from_secs(10);
/// TIME_WAIT lasts 2*MSL: 2 s here.
pub const MSL: Duration = Duration::from_secs(1);
/// Stream seeds: what the kernel sends, what pollnet sends.
pub const KERNEL_SEED: u64 = 0x6b65_726e_656c;
pub const POLLNET_SEED: u64 = 0x706f_6c6c_6e65;

pub fn pollnet_addr(port: u16) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1], port))
}

pub fn kernel_addr(port: u16) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 2], port))
}

/// How pollnet's end of a connection comes to be.
#[derive(Debug, Clone, Copy)]
pub enum Opener {
    /// Accepted from this listener.
    Accept(SocketHandle),
    /// Connected to this port of the kernel.
    Connect(u16),
}

/// One finished connection.
pub struct Outcome {
    pub events: Vec<TraceEvent>,
    pub pollnet: Tally,
    pub kernel: Tally,
}

/// Runs one connection to its end: pollnet's side per `pollnet_order`, the
/// kernel's side in `kernel` (already started); frees pollnet's socket.
pub fn connection<D: Device>(
    stack: &mut Stack<D>,
    tcp: TcpConfig,
    opener: Opener,
    pollnet_order: Order,
    size: u64,
    kernel: JoinHandle<io::Result<Tally>>,
    label: &str,
) -> Outcome {
    let mut handle = match opener {
        Opener::Accept(_) => None,
        Opener::Connect(port) => {
            let h = stack.sockets.add(new_socket(tcp, BUFFER, BUFFER)).unwrap();
            stack
                .iface
                .connect(&mut stack.sockets, h, kernel_endpoint(port), Instant::now())
                .expect("connect");
            Some(h)
        }
    };
    let mut transfer = Transfer::new(pollnet_order, POLLNET_SEED, size);
    // Once the kernel's side has ended, pollnet's has KERNEL_GRACE to follow
    // (TIME_WAIT included); `None` means it did not.
    let mut kernel_done_at = None;
    let finished = stack.run_until(CONNECTION_LIMIT, label, |st| {
        if let (None, Opener::Accept(listener)) = (handle, opener) {
            handle = st.sockets.accept(listener);
        }
        if kernel.is_finished() {
            let at = *kernel_done_at.get_or_insert_with(WallClock::now);
            if at.elapsed() > KERNEL_GRACE {
                return Some(None);
            }
        }
        let h = handle?;
        let socket = st.sockets.get_mut::<TcpSocket>(h).unwrap();
        while transfer.drive(socket) {}
        (transfer.is_finished(socket) && kernel.is_finished()).then_some(Some(h))
    });
    let kernel = kernel.join().expect("kernel thread");
    let Some(handle) = finished else {
        panic!(
            "{label}: the kernel's side ended ({:?}) but pollnet's did not (received {}, state {:?})\ntrace:\n{}\nstats: {:?}",
            kernel.map(|t| (t.sent, t.received)),
            transfer.received(),
            handle
                .and_then(|h| stack.sockets.get::<TcpSocket>(h))
                .map(|s| s.state()),
            stack.trace_text(),
            stack.iface.stats()
        );
    };
    let kernel = kernel.expect("kernel side I/O");
    let socket = stack
        .sockets
        .remove(handle)
        .and_then(|s| TcpSocket::try_from(s).ok())
        .expect("socket still in the set");
    assert_eq!(socket.state(), State::Closed);
    Outcome {
        events: stack.take_events(handle),
        pollnet: transfer.tally(),
        kernel,
    }
}

/// Asserts both streams arrived whole and returns the throughputs
/// (kernel->pollnet, pollnet->kernel) in MB/s.
pub fn check_streams(outcome: &Outcome, size: u64, label: &str) -> (f64, f64) {
    let (p, k) = (&outcome.pollnet, &outcome.kernel);
    assert_eq!(
        (p.sent, k.received),
        (size, size),
        "{label}: pollnet -> kernel byte counts"
    );
    assert_eq!(
        (k.sent, p.received),
        (size, size),
        "{label}: kernel -> pollnet byte counts"
    );
    assert_eq!(
        hex(&k.received_sha),
        hex(&p.sent_sha),
        "{label}: SHA-256 pollnet -> kernel"
    );
    assert_eq!(
        hex(&p.received_sha),
        hex(&k.sent_sha),
        "{label}: SHA-256 kernel -> pollnet"
    );
    let to_pollnet = throughput(size, k.send_start, p.recv_end);
    let to_kernel = throughput(size, p.send_start, k.recv_end);
    println!(
        "throughput: {label}: {} MB each way, SHA-256 {}.. / {}..; kernel->pollnet {to_pollnet:.1} MB/s, pollnet->kernel {to_kernel:.1} MB/s",
        size / 1_000_000,
        &hex(&k.sent_sha)[..16],
        &hex(&p.sent_sha)[..16],
    );
    (to_pollnet, to_kernel)
}

pub const PASSIVE_CLOSE_SERVER: [&str; 5] = [
    "LISTEN -> SYN_RCVD (rcv SYN)",
    "SYN_RCVD -> ESTABLISHED (rcv ACK)",
    "ESTABLISHED -> CLOSE_WAIT (rcv FIN)",
    "CLOSE_WAIT -> LAST_ACK (close)",
    "LAST_ACK -> CLOSED (rcv ACK of FIN)",
];
pub const ACTIVE_CLOSE_SERVER: [&str; 6] = [
    "LISTEN -> SYN_RCVD (rcv SYN)",
    "SYN_RCVD -> ESTABLISHED (rcv ACK)",
    "ESTABLISHED -> FIN_WAIT_1 (shutdown)",
    "FIN_WAIT_1 -> FIN_WAIT_2 (rcv ACK of FIN)",
    "FIN_WAIT_2 -> TIME_WAIT (rcv FIN)",
    "TIME_WAIT -> CLOSED (2MSL timeout)",
];
pub const ACTIVE_CLOSE_CLIENT: [&str; 6] = [
    "CLOSED -> SYN_SENT (connect)",
    "SYN_SENT -> ESTABLISHED (rcv SYN+ACK)",
    "ESTABLISHED -> FIN_WAIT_1 (shutdown)",
    "FIN_WAIT_1 -> FIN_WAIT_2 (rcv ACK of FIN)",
    "FIN_WAIT_2 -> TIME_WAIT (rcv FIN)",
    "TIME_WAIT -> CLOSED (2MSL timeout)",
];
pub const PASSIVE_CLOSE_CLIENT: [&str; 5] = [
    "CLOSED -> SYN_SENT (connect)",
    "SYN_SENT -> ESTABLISHED (rcv SYN+ACK)",
    "ESTABLISHED -> CLOSE_WAIT (rcv FIN)",
    "CLOSE_WAIT -> LAST_ACK (close)",
    "LAST_ACK -> CLOSED (rcv ACK of FIN)",
];

/// TIME_WAIT lasted at least 2*MSL.
pub fn assert_time_wait_lasted(events: &[TraceEvent], label: &str) {
    let entered = events
        .iter()
        .find(|e| e.transition.to == State::TimeWait)
        .expect("TIME_WAIT entered");
    let left = events
        .iter()
        .find(|e| e.transition.from == State::TimeWait)
        .expect("TIME_WAIT left");
    assert!(
        left.at - entered.at >= MSL + MSL,
        "{label}: TIME_WAIT lasted {} < 2*MSL",
        left.at - entered.at
    );
}

/// A kernel client thread in the namespace: connects to pollnet's `port`
/// and runs its side of a transfer.
pub fn kernel_client(
    ns: &Netns,
    port: u16,
    order: Order,
    size: u64,
) -> JoinHandle<io::Result<Tally>> {
    ns.spawn(move || {
        let stream = TcpStream::connect_timeout(&pollnet_addr(port), StdDuration::from_secs(10))?;
        kernel::transfer(stream, order, KERNEL_SEED, size)
    })
}

/// A kernel server thread: accepts one connection on `listener` and runs
/// its side of a transfer.
pub fn kernel_server(
    listener: &TcpListener,
    order: Order,
    size: u64,
) -> JoinHandle<io::Result<Tally>> {
    let listener = listener.try_clone().expect("clone listener");
    let builder = std::thread::Builder::new().name("kernel-server".into());
    let spawned = builder.spawn(move || {
        let (stream, _) = listener.accept()?;
        kernel::transfer(stream, order, KERNEL_SEED, size)
    });
    spawned.expect("spawn a thread")
}

/// Adds a listener on `port`, polls once and checks the listener's trace.
pub fn listen<D: Device>(
    stack: &mut Stack<D>,
    tcp: TcpConfig,
    port: u16,
    backlog: usize,
) -> SocketHandle {
    let listener = stack.sockets.add(new_socket(tcp, 64, 64)).unwrap();
    stack
        .sockets
        .listen(
            listener,
            port,
            backlog,
            ChildBuffers::Alloc {
                rx: BUFFER,
                tx: BUFFER,
            },
        )
        .unwrap();
    stack.poll();
    assert_eq!(stack.transitions(listener), ["CLOSED -> LISTEN (listen)"]);
    listener
}
