//! Our own conformance scripts (tests/scripts) through the drill engine, a
//! listener case the script syntax cannot express, and (through the
//! `#[path]` include) the drill engine's unit tests. The shared suite is
//! tests/conformance_shared.rs.

// The shared suite's binary (tests/conformance_shared.rs) and the drill
// command use parts of the engine these tests do not.
#[allow(dead_code)]
#[path = "../examples/drill/engine.rs"]
mod engine;
#[path = "conformance/verdicts.rs"]
mod verdicts;

use std::path::Path;

use engine::ExpectedFailures;
use verdicts::{problems, run_all};

#[test]
fn own_scripts() {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/scripts"));
    let verdicts = run_all(root, &ExpectedFailures::default());
    assert!(!verdicts.is_empty(), "tests/scripts holds scripts");
    let problems = problems(&verdicts);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A listener with several half-open connections at once, each from its own
/// remote port (which the script syntax cannot express): each SYN gets its
/// own SYN_RCVD record and SYN+ACK, the backlog bounds them (a SYN beyond it
/// gets a stateless SYN cookie), a RST ends one (RFC 9293 section 3.10.7.4:
/// back to LISTEN) and frees its place, the completed one is accepted, and
/// only the live half-open ones retransmit.
#[test]
fn listener_with_several_half_open_connections() {
    use engine::device::{self, LOCAL_IP, OutgoingSegment, REMOTE_IP, ScriptDevice, SentFrame};
    use pollnet::iface::{Config, Interface};
    use pollnet::socket::tcp::{SocketBuffer, State, TcpSocket};
    use pollnet::socket::{AnySocket, ChildBuffers, SocketSet};
    use pollnet::time::{Duration, Instant};
    use pollnet::wire::{IpListenEndpoint, Ipv4Cidr, TcpFlags};

    struct Rig {
        iface: Interface<'static>,
        sockets: SocketSet<'static>,
        device: ScriptDevice,
        now: Instant,
    }

    impl Rig {
        /// Polls until quiet; returns the TCP segments sent, answering ARP.
        fn poll(&mut self) -> Vec<device::SentSegment> {
            let mut segments = Vec::new();
            for _ in 0..100 {
                self.iface
                    .poll(self.now, &mut self.device, &mut self.sockets);
                while let Some(sent) = self.device.outbound.pop_front() {
                    match device::decode(&sent.frame) {
                        SentFrame::ArpRequest {
                            sender_mac,
                            sender_ip,
                            ..
                        } => self
                            .device
                            .inbound
                            .push_back(device::arp_reply(sender_mac, sender_ip)),
                        SentFrame::Tcp(segment) => segments.push(segment),
                        other => panic!("unexpected frame {other:?}"),
                    }
                }
                if self.device.inbound.is_empty() {
                    break;
                }
            }
            segments
        }

        fn send(&mut self, port: u16, seq: u32, ack: Option<u32>, flags: TcpFlags) {
            let segment = OutgoingSegment {
                src_port: port,
                dst_port: 8080,
                seq,
                ack: ack.unwrap_or(0),
                flags,
                window: 32768,
                options: vec![2, 4, 0x05, 0xb4],
                payload_len: 0,
            };
            let frame = device::tcp_frame(&segment, 1).expect("a small segment");
            self.device.inbound.push_back(frame);
        }

        fn count(&self, state: State) -> usize {
            let sockets = self
                .sockets
                .iter()
                .filter_map(|(_, s)| TcpSocket::downcast(s))
                .filter(|s| s.state() == state)
                .count();
            sockets
                + self
                    .sockets
                    .tcp_records()
                    .filter(|r| r.state == state)
                    .count()
        }
    }

    let prefix = Ipv4Cidr::new(LOCAL_IP, 24).expect("valid prefix");
    let config = Config::new(device::LOCAL_MAC, 7).with_ip(prefix);
    let mut rig = Rig {
        iface: Interface::new(config).unwrap(),
        sockets: SocketSet::with_capacity(8),
        device: ScriptDevice::default(),
        now: Instant::from_secs(10),
    };
    let listener = rig
        .sockets
        .add(TcpSocket::new(
            SocketBuffer::new(vec![0; 64]),
            SocketBuffer::new(vec![0; 64]),
        ))
        .expect("room");
    let local = IpListenEndpoint {
        addr: None,
        port: 8080,
    };
    let buffers = ChildBuffers::Alloc { rx: 4096, tx: 4096 };
    rig.sockets
        .listen(listener, local, 3, buffers)
        .expect("listen");
    rig.poll();

    // Four SYNs at once; the backlog takes three, the fourth gets a SYN
    // cookie: a SYN+ACK too, but no state.
    for (port, isn) in [(40001, 1000), (40002, 2000), (40003, 3000), (40004, 4000)] {
        rig.send(port, isn, None, TcpFlags::SYN);
    }
    let sent = rig.poll();
    let mut answered: Vec<(u16, u32)> = sent
        .iter()
        .map(|s| {
            assert_eq!(s.flags, TcpFlags::SYN | TcpFlags::ACK);
            assert_eq!(
                (s.src_addr, s.dst_addr, s.src_port),
                (LOCAL_IP, REMOTE_IP, 8080)
            );
            (s.dst_port, s.ack)
        })
        .collect();
    answered.sort();
    assert_eq!(
        answered,
        vec![(40001, 1001), (40002, 2001), (40003, 3001), (40004, 4001)]
    );
    assert_eq!(rig.count(State::SynRcvd), 3);
    assert_eq!(rig.iface.stats().tcp_syn_cookies_sent, 1);
    assert_eq!(rig.iface.stats().rx_drop_syn_backlog_full, 0);
    let isn_of = |port: u16| {
        sent.iter()
            .find(|s| s.dst_port == port)
            .map(|s| s.seq)
            .expect("a SYN+ACK to that port")
    };
    let isn2 = isn_of(40002);

    // 40002 completes, 40001 resets at RCV.NXT; 40003 stays half-open.
    rig.now += Duration::from_millis(100);
    rig.send(40002, 2001, Some(isn2.wrapping_add(1)), TcpFlags::ACK);
    rig.send(40001, 1001, None, TcpFlags::RST);
    assert!(
        rig.poll().is_empty(),
        "neither the ACK nor the RST is answered"
    );
    assert_eq!(rig.count(State::SynRcvd), 1);
    assert_eq!(rig.count(State::Established), 1);
    let accepted = rig
        .sockets
        .accept(listener)
        .expect("the completed connection");
    let socket = rig
        .sockets
        .get::<TcpSocket>(accepted)
        .expect("accepted socket");
    assert_eq!(socket.remote_endpoint().map(|e| e.port), Some(40002));
    assert_eq!(
        rig.sockets.accept(listener),
        None,
        "40003 is still half-open"
    );
    assert_eq!(
        rig.sockets.get::<TcpSocket>(listener).map(|s| s.state()),
        Some(State::Listen)
    );

    // The freed slot takes a new SYN from 40004.
    rig.send(40004, 4000, None, TcpFlags::SYN);
    let sent = rig.poll();
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].dst_port, sent[0].ack), (40004, 4001));

    // At the initial RTO (1 s after each SYN+ACK) only the live half-open
    // connections retransmit: 40003 at 11.0 s, 40004 at 11.1 s; never 40001.
    let mut retransmitted = Vec::new();
    while rig.now < Instant::from_millis(11_500) {
        rig.now = match rig.iface.poll_at(&rig.sockets) {
            Some(at) if at > rig.now => at.min(Instant::from_millis(11_500)),
            _ => Instant::from_millis(11_500),
        };
        for segment in rig.poll() {
            retransmitted.push((rig.now, segment.dst_port, segment.flags, segment.seq));
        }
    }
    assert_eq!(
        retransmitted,
        vec![
            (
                Instant::from_secs(11),
                40003,
                TcpFlags::SYN | TcpFlags::ACK,
                isn_of(40003)
            ),
            (
                Instant::from_millis(11_100),
                40004,
                TcpFlags::SYN | TcpFlags::ACK,
                sent[0].seq
            ),
        ]
    );
}
