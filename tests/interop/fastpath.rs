//! The Linux fast path's measurements and networks (issue 12): kernel to
//! kernel baselines measured in the same run, repeats and medians, pollnet
//! transfers against a kernel peer, a forwarding namespace with offloads
//! off, and kernel-side captures.
//!
//! `POLLNET_INTEROP_REPEAT=5` runs every measured transfer (and its
//! baseline, interleaved) five times and prints medians with min-max; one
//! run by default. `POLLNET_INTEROP_MB` shortens the transfers.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration as StdDuration;

use pollnet::phy::{Device, TunTap, TunTapOptions};
use pollnet::socket::SocketHandle;
use pollnet::socket::tcp::TcpConfig;

use super::cases::*;
use super::kernel;
use super::netenv::{self, Netns, Offload, must};
use super::stack::*;

/// How many times each measured transfer runs (`POLLNET_INTEROP_REPEAT`).
pub fn repeats() -> usize {
    std::env::var("POLLNET_INTEROP_REPEAT")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .clamp(1, 20)
}

/// The median and the range of some figures.
#[derive(Debug, Clone, Copy)]
pub struct Figure {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Figure {
    pub fn of(values: &[f64]) -> Figure {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        v.sort_by(f64::total_cmp);
        if v.is_empty() {
            return Figure {
                median: f64::NAN,
                min: f64::NAN,
                max: f64::NAN,
            };
        }
        let median = if v.len() % 2 == 1 {
            v[v.len() / 2]
        } else {
            (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
        };
        Figure {
            median,
            min: v[0],
            max: v[v.len() - 1],
        }
    }
}

impl std::fmt::Display for Figure {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "{:.0} ({:.0}-{:.0}) MB/s",
            self.median, self.min, self.max
        )
    }
}

/// Prints one figure line: pollnet's two directions against the
/// baseline's, with the ratios of the medians.
pub fn print_ratio(
    label: &str,
    runs: usize,
    pollnet: &[(f64, f64)],
    baseline: &[(f64, f64)],
    baseline_label: &str,
) {
    let to_pollnet = Figure::of(&pollnet.iter().map(|p| p.0).collect::<Vec<_>>());
    let to_kernel = Figure::of(&pollnet.iter().map(|p| p.1).collect::<Vec<_>>());
    let a_to_b = Figure::of(&baseline.iter().map(|p| p.0).collect::<Vec<_>>());
    let b_to_a = Figure::of(&baseline.iter().map(|p| p.1).collect::<Vec<_>>());
    println!(
        "figure: {label} (median of {runs}): kernel->pollnet {to_pollnet}, pollnet->kernel {to_kernel}; \
         baseline {baseline_label}: {a_to_b} / {b_to_a}; ratio {:.2} / {:.2}",
        to_pollnet.median / a_to_b.median,
        to_kernel.median / b_to_a.median,
    );
}

/// Two namespaces joined by a veth pair, kernel TCP at both ends.
struct KernelPair {
    a: Netns,
    b: Netns,
}

fn kernel_pair(offload: Offload) -> KernelPair {
    let pid = std::process::id();
    let a = Netns::create(format!("pollnet-{pid}-{}", netenv::next_id())).unwrap();
    let b = Netns::create(format!("pollnet-{pid}-{}", netenv::next_id())).unwrap();
    let id = netenv::next_id();
    let (if_a, if_b) = (format!("pn{pid}a{id}"), format!("pn{pid}b{id}"));
    a.ip(&[
        "link", "add", &if_a, "type", "veth", "peer", "name", &if_b, "netns", &b.name,
    ]);
    for (ns, dev, cidr) in [(&a, &if_a, "192.0.2.1/24"), (&b, &if_b, "192.0.2.2/24")] {
        if offload == Offload::TxOff {
            ns.exec("ethtool", &["-K", dev, "tx", "off"]).unwrap();
        }
        ns.ip(&["addr", "add", cidr, "dev", dev]);
        ns.ip(&["link", "set", dev, "up"]);
    }
    KernelPair { a, b }
}

/// One kernel <-> kernel transfer over a fresh veth pair, `size` bytes each
/// way, with the programs the pollnet cases use: (a->b, b->a) MB/s.
pub fn kernel_baseline(offload: Offload, size: u64) -> (f64, f64) {
    let pair = kernel_pair(offload);
    let listener = pair.b.run(|| TcpListener::bind("192.0.2.2:5100")).unwrap();
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept()?;
        kernel::transfer(stream, Order::RecvFirst, 2, size)
    });
    let client = pair.a.spawn(move || {
        let addr = SocketAddr::from(([192, 0, 2, 2], 5100));
        let stream = TcpStream::connect_timeout(&addr, StdDuration::from_secs(10))?;
        kernel::transfer(stream, Order::SendFirst, 1, size)
    });
    let c = client.join().unwrap().unwrap();
    let s = server.join().unwrap().unwrap();
    assert_eq!(
        (c.sent, s.received, s.sent, c.received),
        (size, size, size, size)
    );
    assert_eq!(c.sent_sha, s.received_sha);
    assert_eq!(s.sent_sha, c.received_sha);
    (
        throughput(size, c.send_start, s.recv_end),
        throughput(size, s.send_start, c.recv_end),
    )
}

/// One connection: the kernel (in `ns`) connects to pollnet's `listener`
/// on `port` and sends first; `size` bytes each way, byte-exact.
/// (kernel->pollnet, pollnet->kernel) MB/s.
pub fn pollnet_transfer<D: Device>(
    stack: &mut Stack<D>,
    tcp: TcpConfig,
    listener: SocketHandle,
    ns: &Netns,
    port: u16,
    size: u64,
    label: &str,
) -> (f64, f64) {
    let kernel = kernel_client(ns, port, Order::SendFirst, size);
    let outcome = connection(
        stack,
        tcp,
        Opener::Accept(listener),
        Order::RecvFirst,
        size,
        kernel,
        label,
    );
    assert_eq!(super::stack::texts(&outcome.events), PASSIVE_CLOSE_SERVER);
    check_streams(&outcome, size, label)
}

/// A forwarding namespace between pollnet and the kernel peer: pollnet's
/// device (a TAP created in `fwd` by the caller) on 192.0.2.0/24 with the
/// forwarder at 192.0.2.254; a veth pair from `fwd` (198.51.100.1, every
/// offload off, so it cuts super-segments and computes every checksum
/// itself) to `peer` (198.51.100.2, GRO off, so a capture there shows the
/// frames as they crossed).
pub struct ForwardNet {
    // Drop order: the peer's namespace takes the veth pair with it.
    pub peer: Netns,
    pub fwd: Netns,
    pub peer_if: String,
}

pub const FORWARDER_IP: [u8; 4] = [192, 0, 2, 254];
pub const PEER_IP: &str = "198.51.100.2";

impl ForwardNet {
    /// Builds the forwarder with a TAP (or TUN) for pollnet opened with
    /// `options`, and the peer.
    pub fn create(options: TunTapOptions) -> (ForwardNet, TunTap) {
        let pid = std::process::id();
        let fwd = Netns::create(format!("pollnet-{pid}-{}", netenv::next_id())).unwrap();
        let peer = Netns::create(format!("pollnet-{pid}-{}", netenv::next_id())).unwrap();
        let id = netenv::next_id();
        let tap_if = format!("pn{pid}t{id}");
        let (out_if, peer_if) = (format!("pn{pid}o{id}"), format!("pn{pid}q{id}"));
        let name = tap_if.clone();
        let tap = fwd
            .run(move || {
                for path in [
                    "/proc/sys/net/ipv4/ip_forward".to_string(),
                    format!("/proc/sys/net/ipv6/conf/{name}/disable_ipv6"),
                ] {
                    let _ = std::fs::write(path, "1");
                }
                let tap = TunTap::with_options(&name, options);
                let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{name}/disable_ipv6"), "1");
                tap
            })
            .expect("open the TAP");
        fwd.ip(&[
            "link", "add", &out_if, "type", "veth", "peer", "name", &peer_if, "netns", &peer.name,
        ]);
        fwd.ip(&["addr", "add", "192.0.2.254/24", "dev", &tap_if]);
        fwd.ip(&["link", "set", &tap_if, "up"]);
        fwd.exec(
            "ethtool",
            &[
                "-K", &out_if, "tx", "off", "tso", "off", "gso", "off", "sg", "off",
            ],
        )
        .unwrap();
        fwd.ip(&["addr", "add", "198.51.100.1/24", "dev", &out_if]);
        fwd.ip(&["link", "set", &out_if, "up"]);
        peer.exec("ethtool", &["-K", &peer_if, "gro", "off"])
            .unwrap();
        peer.ip(&["addr", "add", "198.51.100.2/24", "dev", &peer_if]);
        peer.ip(&["link", "set", &peer_if, "up"]);
        peer.ip(&["route", "add", "192.0.2.0/24", "via", "198.51.100.1"]);
        (ForwardNet { peer, fwd, peer_if }, tap)
    }
}

/// A tcpdump writing what `dev` in `ns` sees to `path`; stopped (and
/// waited for) on drop.
pub struct Capture {
    child: Child,
}

impl Capture {
    /// Starts the capture and waits until tcpdump says it listens.
    /// `snaplen` 0: whole frames.
    pub fn start(ns: &Netns, dev: &str, path: &Path, snaplen: u32) -> Capture {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &ns.name, "tcpdump", "-i", dev, "-n", "-U"])
            // Without it libpcap's ring hands frames over a block at a
            // time, and a block not yet full is lost at exit.
            .arg("--immediate-mode")
            .args(["-B", "65536"])
            .args(["-s", &snaplen.to_string(), "-w"])
            .arg(path)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run tcpdump");
        // tcpdump prints "listening on ..." once the socket is bound.
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if line.contains("listening on") {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(StdDuration::from_secs(10))
            .expect("tcpdump started");
        Capture { child }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        // Let the last frames reach the file.
        std::thread::sleep(StdDuration::from_millis(200));
        // SIGINT so tcpdump flushes its file; our own child, by its pid.
        // SAFETY: kill(2) on the pid of a child we spawned and still own.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGINT);
        }
        let _ = self.child.wait();
    }
}

/// The frames of a capture from `src`: (count, largest frame length,
/// frames longer than `mtu` + 14).
pub fn frame_sizes(pcap: &Path, src: &str, mtu: usize) -> (u64, usize, u64) {
    let out = must(
        "tshark",
        &[
            "-r",
            pcap.to_str().unwrap(),
            "-n",
            "-Y",
            &format!("ip.src=={src} && tcp"),
            "-T",
            "fields",
            "-e",
            "frame.len",
        ],
    );
    let lens: Vec<usize> = out.lines().filter_map(|l| l.trim().parse().ok()).collect();
    let over = lens.iter().filter(|&&l| l > mtu + 14).count() as u64;
    (
        lens.len() as u64,
        lens.iter().copied().max().unwrap_or(0),
        over,
    )
}

/// Frames of a capture matching a tshark display `filter` (checksum
/// verification on).
pub fn count_matching(pcap: &Path, filter: &str) -> u64 {
    let out = must(
        "tshark",
        &[
            "-r",
            pcap.to_str().unwrap(),
            "-n",
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "tcp.check_checksum:TRUE",
            "-Y",
            filter,
            "-T",
            "fields",
            "-e",
            "frame.number",
        ],
    );
    out.lines().filter(|l| !l.trim().is_empty()).count() as u64
}
