//! The kernel-to-kernel baselines pollnet's figures are compared with, run
//! in the same test as the pollnet transfer they are compared with: the
//! same programs (and the same SHA-256 work) as the pollnet cases, between
//! two namespaces on a veth pair.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration as StdDuration;

use super::kernel;
use super::netenv::{self, KernelPair, Offload};
use super::stack::{Order, throughput};

/// One kernel-to-kernel transfer: MB/s each way and the packets the
/// loss rule dropped in each namespace.
#[derive(Debug, Clone, Copy)]
pub struct Baseline {
    /// The connecting side (which sends first) to the listening side.
    pub first_sender_mbps: f64,
    /// The listening side (which sends second) back.
    pub second_sender_mbps: f64,
    pub dropped: (u64, u64),
}

/// `size` bytes each way between two kernels over a veth pair with
/// `offload`, `loss_percent`% of TCP packets dropped by nftables in each
/// namespace's input hook (none at 0); `port` on the listening side.
pub fn kernel_to_kernel(size: u64, offload: Offload, loss_percent: u32, port: u16) -> Baseline {
    let pair = KernelPair::create(offload).expect("kernel-to-kernel test network");
    if loss_percent > 0 {
        for ns in [&pair.a, &pair.b] {
            netenv::drop_tcp_input(ns, loss_percent).expect("nftables loss rule");
        }
    }
    let listener = pair
        .b
        .run(move || TcpListener::bind(("192.0.2.2", port)))
        .expect("bind in the namespace");
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept()?;
        kernel::transfer(stream, Order::RecvFirst, 2, size)
    });
    let client = pair.a.spawn(move || {
        let addr = SocketAddr::from(([192, 0, 2, 2], port));
        let stream = TcpStream::connect_timeout(&addr, StdDuration::from_secs(10))?;
        kernel::transfer(stream, Order::SendFirst, 1, size)
    });
    let c = client.join().expect("client thread").expect("client I/O");
    let s = server.join().expect("server thread").expect("server I/O");
    assert_eq!(
        (c.sent, s.received, s.sent, c.received),
        (size, size, size, size),
        "kernel-to-kernel byte counts"
    );
    assert_eq!(c.sent_sha, s.received_sha, "kernel-to-kernel SHA-256 a->b");
    assert_eq!(s.sent_sha, c.received_sha, "kernel-to-kernel SHA-256 b->a");
    let dropped = if loss_percent > 0 {
        (
            netenv::tcp_input_drops(&pair.a).expect("nft counter"),
            netenv::tcp_input_drops(&pair.b).expect("nft counter"),
        )
    } else {
        (0, 0)
    };
    Baseline {
        first_sender_mbps: throughput(size, c.send_start, s.recv_end),
        second_sender_mbps: throughput(size, s.send_start, c.recv_end),
        dropped,
    }
}

/// How many times a measuring case repeats itself: `var` in the
/// environment (a count, at least 1), else once, which keeps CI short.
pub fn repeats(var: &str) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .map_or(1, |n| n.clamp(1, 99))
}

/// The median of `values` (the lower middle of an even count); NaN for none.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted
        .get(sorted.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or(f64::NAN)
}
