//! A pcap recorded by PcapWriter during a transfer between two stacks opens
//! in tshark with no bad checksum and no malformed packet (ignored, with the
//! reason, when tshark is missing).

mod common;
#[macro_use]
mod runner;

use std::process::Command;

use common::*;
use pollnet::phy::{Loopback, PcapDirection, PcapWriter};
use pollnet::socket::ChildBuffers;
use pollnet::socket::tcp::{State, TcpSocket};
use pollnet::time::{Duration, Instant};
use pollnet::wire::{IpAddress, IpEndpoint};

impl<D: pollnet::phy::Device + NextEvent, W: std::io::Write> NextEvent for PcapWriter<D, W> {
    fn next_event(&self) -> Option<Instant> {
        self.inner().next_event()
    }
}

fn main() -> std::process::ExitCode {
    runner::main(vec![
        case!(recorded_transfer_passes_tshark_checks).programs(&["tshark"]),
    ])
}

fn recorded_transfer_passes_tshark_checks() {
    let path = std::env::temp_dir().join(format!("pollnet-tshark-{}.pcap", std::process::id()));
    let file = std::fs::File::create(&path).unwrap();
    let (a, b) = Loopback::pair(1500, Duration::from_millis(1));
    let tcp = tcp_config();
    let writer = PcapWriter::new(a, file, PcapDirection::Both).unwrap();
    let mut net = Net {
        client: Host::new(writer, 1, CLIENT_IP, 5, tcp, 4),
        server: Host::new(b, 2, SERVER_IP, 6, tcp, 4),
        now: Instant::ZERO,
    };
    let listener = net.server.sockets.add(socket(tcp, 64, 64)).unwrap();
    net.server
        .sockets
        .listen(
            listener,
            80,
            1,
            ChildBuffers::Alloc {
                rx: 32768,
                tx: 32768,
            },
        )
        .unwrap();
    let client = net.client.sockets.add(socket(tcp, 32768, 32768)).unwrap();
    let remote = IpEndpoint::new(IpAddress::Ipv4(SERVER_IP), 80);
    let local = net
        .client
        .iface
        .connect(&mut net.client.sockets, client, remote, net.now)
        .unwrap();

    let data: Vec<u8> = (0..300_000u32)
        .map(|i| stream_byte(9, i as usize))
        .collect();
    let (mut sent, mut received, mut server, mut closed) = (0, Vec::new(), None, false);
    let mut buf = vec![0u8; 8192];
    // After `close`, the client's connection becomes a TIME_WAIT record
    // (its handle goes stale) and is gone after 2*MSL.
    while net
        .client
        .sockets
        .tcp_state(local, remote)
        .is_some_and(|s| s != State::Closed)
        || !closed
    {
        if let Some(s) = net.client.sockets.get_mut::<TcpSocket>(client) {
            if sent < data.len() {
                sent += s.send_slice(&data[sent..]).unwrap_or(0);
            } else if !closed {
                s.close();
                closed = true;
            }
        }
        if server.is_none() {
            server = net.server.sockets.accept(listener);
        }
        if let Some(h) = server {
            let s = net.server.sockets.get_mut::<TcpSocket>(h).unwrap();
            while let Ok(n) = s.recv_slice(&mut buf) {
                if n == 0 {
                    break;
                }
                received.extend_from_slice(&buf[..n]);
            }
            if !s.may_recv() && s.state() == State::CloseWait {
                s.close();
            }
        }
        assert!(net.step(Duration::from_millis(50)), "stalled");
        assert!(net.now < Instant::from_secs(60), "did not finish");
    }
    assert_eq!(received, data);
    net.client.device.flush().unwrap();
    drop(net);

    let out = Command::new("tshark")
        .args(["-r", path.to_str().unwrap(), "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE"])
        .args(["-Y", "_ws.malformed || ip.checksum.status == 0 || tcp.checksum.status == 0 || _ws.expert.severity >= error"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bad = String::from_utf8_lossy(&out.stdout);
    assert!(bad.trim().is_empty(), "tshark found problems:\n{bad}");
    let count = Command::new("tshark")
        .args(["-r", path.to_str().unwrap()])
        .output()
        .unwrap();
    let frames = String::from_utf8_lossy(&count.stdout).lines().count();
    assert!(frames > 200, "only {frames} frames recorded");
    std::fs::remove_file(&path).ok();
}
