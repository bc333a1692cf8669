//! Arbitrary frames into an interface that has a listener and an
//! established connection. Checks: no panic; the connection's own
//! invariants hold; and unless a fuzz frame got through TCP's checksum to a
//! socket, the established connection's data stream stays intact: a
//! legitimate in-order segment sent after the fuzz frames is delivered
//! byte for byte.
#![no_main]

use std::collections::VecDeque;

use libfuzzer_sys::fuzz_target;
use pollnet::iface::{Config, Interface};
use pollnet::phy::{Device, DeviceCapabilities, RxToken, TxToken};
use pollnet::socket::tcp::{State, TcpSocket};
use pollnet::socket::{ChildBuffers, SocketHandle, SocketSet};
use pollnet::storage::RingBuffer;
use pollnet::time::{Duration, Instant};
use pollnet::wire::{
    ChecksumCapabilities, EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr,
    IpAddress, IpProtocol, Ipv4Address, Ipv4Cidr, Ipv4Packet, Ipv4Repr, SeqNumber, TcpFlags,
    TcpPacket, TcpRepr,
};

const OUR_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);
const PEER_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 9]);
const OUR_IP: Ipv4Address = Ipv4Address::new(192, 0, 2, 1);
const PEER_IP: Ipv4Address = Ipv4Address::new(192, 0, 2, 9);
const PEER_PORT: u16 = 40000;
const PEER_ISN: u32 = 0xfffffff0;

#[derive(Default)]
struct Queue {
    rx: VecDeque<Vec<u8>>,
    tx: Vec<Vec<u8>>,
}

struct Rx(Vec<u8>);
struct Tx<'a>(&'a mut Vec<Vec<u8>>);

impl RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = vec![0u8; len];
        let r = f(&mut frame);
        self.0.push(frame);
        r
    }
}

impl Device for Queue {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(Rx, Tx<'_>)> {
        let frame = self.rx.pop_front()?;
        Some((Rx(frame), Tx(&mut self.tx)))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Tx<'_>> {
        Some(Tx(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        DeviceCapabilities::default()
    }
}

fn peer_segment(seq: u32, ack: SeqNumber, flags: TcpFlags, payload: &[u8]) -> Vec<u8> {
    let tcp = TcpRepr {
        src_port: PEER_PORT,
        dst_port: 80,
        seq_number: SeqNumber(seq),
        ack_number: ack,
        flags,
        window_len: 8192,
        max_seg_size: flags.contains(TcpFlags::SYN).then_some(1460),
        payload,
        ..TcpRepr::default()
    };
    let ip = Ipv4Repr {
        src_addr: PEER_IP,
        dst_addr: OUR_IP,
        next_header: IpProtocol::Tcp,
        payload_len: tcp.buffer_len(),
        hop_limit: 64,
        dont_frag: true,
    };
    let mut frame = vec![0u8; 14 + 20 + tcp.buffer_len()];
    EthernetRepr {
        src_addr: PEER_MAC,
        dst_addr: OUR_MAC,
        ethertype: EthernetProtocol::Ipv4,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut frame[..]));
    let caps = ChecksumCapabilities::default();
    let mut packet = Ipv4Packet::new_unchecked(&mut frame[14..]);
    ip.emit(&mut packet, &caps);
    tcp.emit(
        &mut TcpPacket::new_unchecked(packet.payload_mut()),
        &IpAddress::Ipv4(PEER_IP),
        &IpAddress::Ipv4(OUR_IP),
        &caps,
    );
    frame
}

/// The ISN of the SYN-ACK the stack sent last.
fn our_isn(tx: &[Vec<u8>]) -> Option<SeqNumber> {
    tx.iter().rev().find_map(|frame| {
        let eth = EthernetFrame::new_checked(&frame[..]).ok()?;
        let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
        let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
        (tcp.syn() && tcp.ack()).then(|| SeqNumber(tcp.seq_number().0))
    })
}

struct World {
    iface: Interface<'static>,
    sockets: SocketSet<'static>,
    device: Queue,
    listener: SocketHandle,
    conn: SocketHandle,
    iss: SeqNumber,
    now: Instant,
}

fn world() -> World {
    let config = Config::new(OUR_MAC)
        .with_ip(Ipv4Cidr::new(OUR_IP, 24).expect("valid prefix"))
        .with_seed(1);
    let mut sockets = SocketSet::with_capacity(8);
    let mut iface = Interface::new(config);
    let mut device = Queue::default();
    let socket = TcpSocket::new(RingBuffer::new(vec![0u8; 64]), RingBuffer::new(vec![0u8; 64]));
    let listener = sockets.add(socket).expect("room");
    sockets
        .listen(listener, 80, 4, ChildBuffers::Alloc { rx: 4096, tx: 4096 })
        .expect("listen");
    let mut now = Instant::ZERO;
    device.rx.push_back(peer_segment(PEER_ISN, SeqNumber(0), TcpFlags::SYN, &[]));
    iface.poll(now, &mut device, &mut sockets);
    let iss = our_isn(&device.tx).expect("a SYN-ACK");
    now += Duration::from_millis(1);
    device
        .rx
        .push_back(peer_segment(PEER_ISN.wrapping_add(1), iss + 1, TcpFlags::ACK, &[]));
    iface.poll(now, &mut device, &mut sockets);
    let conn = sockets.accept(listener).expect("established");
    World { iface, sockets, device, listener, conn, iss, now }
}

fuzz_target!(|data: &[u8]| {
    let mut w = world();
    let received_before = w.iface.stats().tcp_segments_received;
    // Frames: a length byte, then that many bytes (the rest when short).
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let take = usize::from(len).min(tail.len());
        w.device.rx.push_back(tail[..take].to_vec());
        rest = &tail[take..];
        w.now += Duration::from_millis(1);
        w.iface.poll(w.now, &mut w.device, &mut w.sockets);
        if let Some(socket) = w.sockets.get::<TcpSocket>(w.conn) {
            if let Err(broken) = socket.debug_invariants() {
                panic!("invariant broken: {broken}");
            }
        }
    }
    let fuzz_reached_tcp = w.iface.stats().tcp_segments_received != received_before;
    let listener_state = w.sockets.get::<TcpSocket>(w.listener).map(|s| s.state());
    assert_eq!(listener_state, Some(State::Listen), "the listener keeps listening");

    let socket = w.sockets.get::<TcpSocket>(w.conn).expect("accepted sockets stay until removed");
    if fuzz_reached_tcp || socket.state() != State::Established {
        return;
    }
    // No fuzz frame reached TCP: the stream must be exactly as before.
    let message = b"pollnet stream intact";
    w.device.rx.push_back(peer_segment(
        PEER_ISN.wrapping_add(1),
        w.iss + 1,
        TcpFlags::ACK | TcpFlags::PSH,
        message,
    ));
    w.now += Duration::from_millis(1);
    w.iface.poll(w.now, &mut w.device, &mut w.sockets);
    let socket = w.sockets.get_mut::<TcpSocket>(w.conn).expect("still there");
    let mut buf = [0u8; 64];
    let n = socket.recv_slice(&mut buf).expect("readable");
    assert_eq!(&buf[..n], message);
});
