//! Replaying a capture with pollnet standing in for one host: the captured
//! peer's segments are translated into pollnet's sequence space, the host's
//! application is replayed, and each connection is reported as matched or
//! with its first divergence. The `replay` example is the command line.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;
use pollnet::phy::{Loopback, PcapDirection, PcapReplay, PcapWriter};
use pollnet::replay::{ReplayOptions, Report, replay};
use pollnet::socket::ChildBuffers;
use pollnet::socket::tcp::{State, TcpConfig, TcpSocket};
use pollnet::time::{Duration, Instant};
use pollnet::wire::{EthernetAddress, IpAddress, IpEndpoint, Ipv4Cidr};

impl<D: pollnet::phy::Device + NextEvent, W: std::io::Write> NextEvent for PcapWriter<D, W> {
    fn next_event(&self) -> Option<Instant> {
        self.inner().next_event()
    }
}

const REQUEST: usize = 1000;
const RESPONSE: usize = 5000;

/// Records a pollnet-to-pollnet conversation on the server's side of the
/// link: handshake, a 1000-byte request, a 5000-byte response, the client's
/// close, then the server's. Returns the pcap and the client's port.
fn record(tcp: TcpConfig) -> (Vec<u8>, u16) {
    record_with(tcp, tcp)
}

/// [`record`] with the server's own TCP settings.
fn record_with(tcp: TcpConfig, server_tcp: TcpConfig) -> (Vec<u8>, u16) {
    let mut pcap = Vec::new();
    let (a, b) = Loopback::pair(1500, Duration::from_millis(1));
    let writer = PcapWriter::new(b, &mut pcap, PcapDirection::Both).unwrap();
    let mut net = Net {
        client: Host::new(a, 1, CLIENT_IP, 5, tcp, 4),
        server: Host::new(writer, 2, SERVER_IP, 6, server_tcp, 4),
        now: Instant::ZERO,
    };
    let listener = net.server.sockets.add(socket(server_tcp, 64, 64)).unwrap();
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
    let request: Vec<u8> = (0..REQUEST).map(|i| stream_byte(1, i)).collect();
    let response: Vec<u8> = (0..RESPONSE).map(|i| stream_byte(2, i)).collect();
    let (mut sent, mut got_request, mut got_response) = (0, 0, 0);
    let (mut answered, mut client_closed, mut server_closed) = (0, false, false);
    let mut server = None;
    let mut buf = vec![0u8; 8192];
    while !server_closed
        || net
            .client
            .sockets
            .tcp_state(local, remote)
            .is_some_and(|s| s != State::Closed)
    {
        if let Some(s) = net.client.sockets.get_mut::<TcpSocket>(client) {
            if sent < REQUEST {
                sent += s.send_slice(&request[sent..]).unwrap_or(0);
            }
            while let Ok(n) = s.recv_slice(&mut buf) {
                if n == 0 {
                    break;
                }
                assert_eq!(&buf[..n], &response[got_response..got_response + n]);
                got_response += n;
            }
            if got_response == RESPONSE && !client_closed {
                s.close();
                client_closed = true;
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
                got_request += n;
            }
            if got_request == REQUEST && answered < RESPONSE {
                answered += s.send_slice(&response[answered..]).unwrap_or(0);
            }
            if s.state() == State::CloseWait && !server_closed {
                s.close();
                server_closed = true;
            }
        }
        assert!(net.step(Duration::from_millis(50)), "stalled");
        assert!(net.now < Instant::from_secs(60), "did not finish");
    }
    assert_eq!((got_request, got_response), (REQUEST, RESPONSE));
    // Let the last ACK and the timers play out.
    while net.step(Duration::from_millis(50)) && net.now < Instant::from_secs(30) {}
    drop(net);
    (pcap, local.port)
}

fn options(tcp: TcpConfig) -> ReplayOptions {
    let mut options = ReplayOptions::new(
        Ipv4Cidr::new(SERVER_IP, 24).unwrap(),
        EthernetAddress([2, 0, 0, 0, 0, 2]),
    );
    // Another seed than the recording's: pollnet's ISN and timestamp
    // clock differ from the captured host's, so translation is needed.
    options.seed = 99;
    options.tcp = tcp;
    options.tail = Duration::from_secs(10);
    options
}

fn run(pcap: &[u8], options: &ReplayOptions) -> Report {
    let capture = PcapReplay::from_bytes(pcap, Instant::ZERO).unwrap();
    replay(&capture, options).unwrap()
}

#[test]
fn a_recorded_pollnet_conversation_replays_to_a_match() {
    let (pcap, port) = record(tcp_config());
    let report = run(&pcap, &options(tcp_config()));
    let c = &report.connections[0];
    // The host's side as captured: SYN+ACK, data out, FIN; every one of
    // pollnet's segments has the same flags, relative seq/ack and length.
    assert!(c.expected.iter().any(|s| s.len > 0), "{:?}", c.expected);
    assert!(c.expected.iter().any(|s| s.flags & 1 != 0), "FIN");
    assert_eq!(c.expected, c.got);
    assert_eq!(
        report.text(),
        format!(
            "192.0.2.1:{port} -> 192.0.2.2:80: matched ({} segments)\n\
             replay: 1 connections, 1 matched, 0 diverged\n",
            c.expected.len()
        )
    );
    assert_eq!(c.expected.len(), 8);
    // The peer's captured segments were all acceptable once translated.
    assert_eq!(report.stats.tcp_rsts_sent, 0);

    // Determinism: the same capture and options give the same report and
    // the same frames.
    let again = run(&pcap, &options(tcp_config()));
    assert_eq!(again.text(), report.text());
    assert_eq!(again.transmitted, report.transmitted);
}

/// A host that declined the peer's timestamp offer: pollnet, configured to
/// accept it, mirrors the host and declines too, so the peer's captured
/// segments (without timestamps) stay acceptable and the replay matches.
#[test]
fn the_hosts_declined_timestamps_are_mirrored() {
    let mut declining = tcp_config();
    declining.timestamps = false;
    let (pcap, port) = record_with(tcp_config(), declining);
    let offering = tcp_config();
    assert!(offering.timestamps);
    let report = run(&pcap, &options(offering));
    assert_eq!(
        report.text(),
        format!(
            "192.0.2.1:{port} -> 192.0.2.2:80: matched (8 segments)\n\
             replay: 1 connections, 1 matched, 0 diverged\n"
        )
    );
    // Full-sized segments carry 1460 bytes: no timestamp option.
    assert_eq!(report.connections[0].got[2].len, 1460);
}

#[test]
fn a_different_setting_diverges_at_the_segment_it_changes() {
    let (pcap, port) = record(tcp_config());
    // A 1000-byte MTU: pollnet's MSS is 960 (948 bytes of data beside the
    // 12-byte timestamp option), so the response's first data segment
    // (segment 2, after the SYN+ACK and the request's ACK) is shorter than
    // the host's 1448.
    let mut options = options(tcp_config());
    options.mtu = Some(1000);
    let report = run(&pcap, &options);
    assert_eq!(
        report.text(),
        format!(
            "192.0.2.1:{port} -> 192.0.2.2:80: diverged at segment 2: len: \
             expected [.] seq 1 ack 1001 len 1448, got [.] seq 1 ack 1001 len 948\n\
             replay: 1 connections, 0 matched, 1 diverged\n"
        )
    );
}

fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    dir.join("examples").join(name)
}

/// The example on a real Linux capture (client 192.0.2.1 to a Linux server
/// 192.0.2.2:5000, 15 bytes echoed, closed): with translation the
/// handshake completes and the data is delivered; pollnet then differs
/// from Linux by acknowledging the handshake's ACK with a window update.
#[test]
fn the_example_replays_a_real_capture_and_reports_it() {
    let input = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/linux-small.pcapng");
    let run = || {
        let out = Command::new(example("replay"))
            .args(["--pcap", input])
            .args(["--ip", "192.0.2.2/24", "--mac", "02:00:00:00:00:02"])
            .arg("--quiet")
            .output()
            .expect("replay runs");
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let first = run();
    assert_eq!(first, run(), "deterministic");
    let lines: Vec<&str> = first.lines().collect();
    assert_eq!(
        lines[lines.len() - 2..],
        [
            "192.0.2.1:44752 -> 192.0.2.2:5000: diverged at segment 1: ack: expected [.] seq 1 ack 16 len 0, got [.] seq 1 ack 1 len 0",
            "replay: 1 connections, 0 matched, 1 diverged",
        ]
    );
}
