//! Blind attacks on one connection between two pollnet stacks, on a virtual
//! clock: forged segments that try to poison TS.Recent (RFC 7323 4.3) during
//! a transfer, and a peer that keeps FIN_WAIT_2 alive with ACKs.

mod common;

use std::collections::VecDeque;

use common::*;
use pollnet::phy::{Device, DeviceCapabilities, LinkEnd, Loopback, RxToken};
use pollnet::socket::tcp::{Cause, State, TcpSocket};
use pollnet::time::{Duration, Instant};
use pollnet::wire::{
    ChecksumCapabilities, EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr,
    IpAddress, IpEndpoint, IpProtocol, Ipv4Packet, Ipv4Repr, TcpFlags, TcpPacket, TcpRepr,
    TcpTimestamp,
};

const PORT: u16 = 8000;
const CLIENT_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);
const SERVER_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 2]);

/// A device that delivers injected frames before the link's, and remembers
/// the newest TSval the other side put in a TCP segment.
struct Injector {
    inner: LinkEnd,
    injected: VecDeque<Vec<u8>>,
    frame: Vec<u8>,
    last_tsval: Option<u32>,
}

impl Injector {
    fn new(inner: LinkEnd) -> Injector {
        Injector {
            inner,
            injected: VecDeque::new(),
            frame: Vec::new(),
            last_tsval: None,
        }
    }
}

struct Rx<'a>(&'a [u8]);

impl RxToken for Rx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.0)
    }
}

impl Device for Injector {
    type RxToken<'a> = Rx<'a>;
    type TxToken<'a> = <LinkEnd as Device>::TxToken<'a>;

    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        if let Some(frame) = self.injected.pop_front() {
            self.frame = frame;
        } else {
            let (rx, _) = self.inner.receive(now)?;
            let frame = &mut self.frame;
            frame.clear();
            rx.consume(|bytes| frame.extend_from_slice(bytes));
            if let Some(tsval) = tsval_of(&self.frame) {
                self.last_tsval = Some(tsval);
            }
        }
        let tx = self.inner.transmit(now)?;
        Some((Rx(&self.frame), tx))
    }

    fn transmit(&mut self, now: Instant) -> Option<Self::TxToken<'_>> {
        self.inner.transmit(now)
    }

    fn capabilities(&self) -> DeviceCapabilities {
        self.inner.capabilities()
    }
}

impl NextEvent for Injector {
    fn next_event(&self) -> Option<Instant> {
        if self.injected.is_empty() {
            self.inner.next_event()
        } else {
            Some(Instant::ZERO)
        }
    }
}

/// The TSval of the TCP segment in an Ethernet/IPv4 frame.
fn tsval_of(frame: &[u8]) -> Option<u32> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    let ip_repr = Ipv4Repr::parse(&ip, &ChecksumCapabilities::ignored()).ok()?;
    let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
    let repr = TcpRepr::parse(
        &tcp,
        &IpAddress::Ipv4(ip_repr.src_addr),
        &IpAddress::Ipv4(ip_repr.dst_addr),
        &ChecksumCapabilities::ignored(),
    )
    .ok()?;
    repr.timestamp.map(|ts| ts.tsval)
}

/// A frame from the client's endpoint `client` to the server, as a blind
/// attacker who knows the 4-tuple would forge it.
fn forged(client: IpEndpoint, repr: TcpRepr) -> Vec<u8> {
    let mut tcp = TcpRepr {
        src_port: client.port,
        dst_port: PORT,
        window_len: 1000,
        ..repr
    };
    tcp.payload = repr.payload;
    let ip = Ipv4Repr {
        src_addr: CLIENT_IP,
        dst_addr: SERVER_IP,
        next_header: IpProtocol::Tcp,
        payload_len: tcp.buffer_len(),
        hop_limit: 64,
        dont_frag: true,
        ecn: pollnet::wire::IpEcn::NotEct,
    };
    let mut frame = vec![0u8; 14 + 20 + tcp.buffer_len()];
    EthernetRepr {
        src_addr: CLIENT_MAC,
        dst_addr: SERVER_MAC,
        ethertype: EthernetProtocol::Ipv4,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut frame[..]));
    let caps = ChecksumCapabilities::default();
    let mut packet = Ipv4Packet::new_unchecked(&mut frame[14..]);
    ip.emit(&mut packet, &caps);
    tcp.emit(
        &mut TcpPacket::new_unchecked(packet.payload_mut()),
        &IpAddress::Ipv4(CLIENT_IP),
        &IpAddress::Ipv4(SERVER_IP),
        &caps,
    );
    frame
}

fn net() -> Net<LinkEnd, Injector> {
    let (a, b) = Loopback::pair(1500, Duration::from_millis(5));
    Net {
        client: Host::new(a, 1, CLIENT_IP, 11, tcp_config(), 4),
        server: Host::new(Injector::new(b), 2, SERVER_IP, 12, tcp_config(), 4),
        now: Instant::ZERO,
    }
}

#[test]
fn forged_huge_tsvals_do_not_stall_a_transfer() {
    const TOTAL: usize = 2_000_000;
    let mut net = net();
    let server = net
        .server
        .sockets
        .add(socket(tcp_config(), 65536, 65536))
        .unwrap();
    net.server
        .sockets
        .get_mut::<TcpSocket>(server)
        .unwrap()
        .listen(PORT)
        .unwrap();
    let client = net
        .client
        .sockets
        .add(socket(tcp_config(), 65536, 65536))
        .unwrap();
    let remote = IpEndpoint::new(IpAddress::Ipv4(SERVER_IP), PORT);
    let local = net
        .client
        .iface
        .connect(&mut net.client.sockets, client, remote, net.now)
        .unwrap();

    let (mut sent, mut received) = (0, 0);
    let mut chunk = vec![0u8; 8192];
    let mut attacked = false;
    let limit = Instant::from_secs(60);
    while received < TOTAL {
        assert!(
            net.now < limit,
            "transfer stalled at {received} of {TOTAL} bytes"
        );
        let c = net.client.sockets.get_mut::<TcpSocket>(client).unwrap();
        // The client pauses at a quarter, so the attack meets the server
        // with everything read and its whole window open.
        let pause = !attacked && sent >= TOTAL / 4;
        while sent < TOTAL && c.can_send() && !pause {
            let n = chunk.len().min(TOTAL - sent);
            for (i, b) in chunk[..n].iter_mut().enumerate() {
                *b = stream_byte(1, sent + i);
            }
            sent += c.send_slice(&chunk[..n]).unwrap();
        }
        let s = net.server.sockets.get_mut::<TcpSocket>(server).unwrap();
        while let Ok(n) = s.recv_slice(&mut chunk) {
            if n == 0 {
                break;
            }
            for (i, b) in chunk[..n].iter().enumerate() {
                assert_eq!(*b, stream_byte(1, received + i), "byte {}", received + i);
            }
            received += n;
        }
        if !attacked && received == sent && sent >= TOTAL / 4 {
            // Let the window update go out first.
            net.settle();
            let s = net.server.sockets.get_mut::<TcpSocket>(server).unwrap();
            // In-window sequence numbers and a TSval far ahead of the
            // client's clock, with what a blind attacker gets wrong: an
            // ACK beyond anything the server sent, a RST off RCV.NXT, a
            // SYN.
            attacked = true;
            let rcv_nxt = s.rcv_nxt();
            let snd_nxt = s.snd_nxt();
            let tsval = net
                .server
                .device
                .last_tsval
                .unwrap()
                .wrapping_add(0x7000_0000);
            let timestamp = Some(TcpTimestamp { tsval, tsecr: 0 });
            let attacks = [
                // Starting left of RCV.NXT (so at or before Last.ACK.sent,
                // RFC 7323 4.3's condition) and reaching into the window.
                TcpRepr {
                    seq_number: rcv_nxt - 10,
                    flags: TcpFlags::ACK | TcpFlags::PSH,
                    ack_number: snd_nxt + 100_000,
                    timestamp,
                    payload: b"forged segment of 30 bytes....",
                    ..TcpRepr::default()
                },
                TcpRepr {
                    seq_number: rcv_nxt + 3000,
                    flags: TcpFlags::RST,
                    timestamp,
                    ..TcpRepr::default()
                },
                TcpRepr {
                    seq_number: rcv_nxt + 4000,
                    flags: TcpFlags::SYN,
                    timestamp,
                    ..TcpRepr::default()
                },
            ];
            for attack in attacks {
                net.server.device.injected.push_back(forged(local, attack));
            }
        }
        net.step(Duration::from_millis(10));
    }
    assert!(attacked);
    assert_eq!(received, TOTAL);
    let s = net.server.sockets.get::<TcpSocket>(server).unwrap();
    assert_eq!(s.state(), State::Established);
    // Each forged segment drew one challenge ACK, and the transfer went on
    // without a retransmission timeout (which PAWS drops would force).
    let stats = net.server.iface.stats();
    assert_eq!(stats.tcp_challenge_acks, 3);
    assert!(
        net.now < Instant::from_secs(5),
        "2 MB over a 10 ms RTT took until {}",
        net.now
    );
}

#[test]
fn acks_cannot_hold_fin_wait_2_past_its_bound() {
    let mut tcp = tcp_config();
    tcp.fin_wait_2_timeout = Duration::from_secs(60);
    tcp.msl = Duration::from_secs(60);
    let mut net = net();
    let server = net.server.sockets.add(socket(tcp, 4096, 4096)).unwrap();
    net.server
        .sockets
        .get_mut::<TcpSocket>(server)
        .unwrap()
        .listen(PORT)
        .unwrap();
    let client = net.client.sockets.add(socket(tcp, 4096, 4096)).unwrap();
    let remote = IpEndpoint::new(IpAddress::Ipv4(SERVER_IP), PORT);
    let local = net
        .client
        .iface
        .connect(&mut net.client.sockets, client, remote, net.now)
        .unwrap();
    while net.server.sockets.get::<TcpSocket>(server).unwrap().state() != State::Established {
        assert!(net.step(Duration::from_millis(10)));
    }
    // The server closes; the client acknowledges the FIN but never sends its
    // own: the server sits in FIN_WAIT_2.
    net.server
        .sockets
        .get_mut::<TcpSocket>(server)
        .unwrap()
        .close();
    while net.server.sockets.get::<TcpSocket>(server).unwrap().state() != State::FinWait2 {
        assert!(net.step(Duration::from_millis(10)));
    }
    let entered = net.now;
    while net.server.sockets.pop_trace().is_some() {}
    let (rcv_nxt, snd_nxt) = {
        let s = net.server.sockets.get::<TcpSocket>(server).unwrap();
        (s.rcv_nxt(), s.snd_nxt())
    };
    // A peer that sends an acceptable ACK every 25 s.
    let mut next_ack = entered + Duration::from_secs(25);
    while net.server.sockets.get::<TcpSocket>(server).unwrap().state() == State::FinWait2 {
        assert!(
            net.now < entered + Duration::from_secs(300),
            "FIN_WAIT_2 lingers"
        );
        if net.now >= next_ack {
            let tsval = net.server.device.last_tsval.unwrap().wrapping_add(1);
            let ack = TcpRepr {
                seq_number: rcv_nxt,
                flags: TcpFlags::ACK,
                ack_number: snd_nxt,
                timestamp: Some(TcpTimestamp { tsval, tsecr: 0 }),
                ..TcpRepr::default()
            };
            net.server.device.injected.push_back(forged(local, ack));
            next_ack += Duration::from_secs(25);
        }
        let next = net.server.iface.poll_at(&net.server.sockets);
        let wake = next.map_or(next_ack, |t| t.min(next_ack));
        net.now = wake.max(net.now + Duration::from_micros(1));
        net.settle();
    }
    let closed_at = net.now;
    assert_eq!(closed_at, entered + Duration::from_secs(120));
    let event = net.server.sockets.pop_trace().expect("trace");
    assert_eq!(
        (
            event.transition.from,
            event.transition.to,
            event.transition.cause
        ),
        (State::FinWait2, State::Closed, Cause::FinWait2Timeout)
    );
}
