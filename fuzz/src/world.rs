//! The interface the `iface_ingress` and `iface_session` fuzz targets feed:
//! one pollnet interface on a queue device with a listener on port 80 and
//! established connections from a peer, built by real handshakes. Shared
//! with the crate's tests (tests/fuzz_corpus.rs includes this file to write
//! the seed corpora, so the seeds carry the sequence numbers the targets'
//! connections really have).

use std::collections::VecDeque;

use pollnet::iface::{Config, Interface};
use pollnet::phy::{Device, DeviceCapabilities, RxToken, TxToken};
use pollnet::socket::tcp::TcpSocket;
use pollnet::socket::{ChildBuffers, SocketHandle, SocketSet};
use pollnet::storage::RingBuffer;
use pollnet::time::{Duration, Instant};
use pollnet::wire::{
    ArpOperation, ArpPacket, ArpRepr, ChecksumCapabilities, EthernetAddress, EthernetFrame,
    EthernetProtocol, EthernetRepr, Icmpv4Packet, Icmpv4Repr, IpAddress, IpProtocol, Ipv4Address,
    Ipv4Cidr, Ipv4Packet, Ipv4Repr, SeqNumber, TcpFlags, TcpPacket, TcpRepr, TcpTimestamp,
};

pub const OUR_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);
pub const PEER_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 9]);
pub const OUR_IP: Ipv4Address = Ipv4Address::new(192, 0, 2, 1);
pub const PEER_IP: Ipv4Address = Ipv4Address::new(192, 0, 2, 9);
/// The listener's port.
pub const LISTEN_PORT: u16 = 80;
/// The peer's port of established connection `i` is `PEER_PORT + i`.
pub const PEER_PORT: u16 = 40000;
/// The peer's ISN of connection `i` is `PEER_ISN + i * 0x1000_0000` (the
/// first one wraps soon, to exercise sequence arithmetic).
pub const PEER_ISN: u32 = 0xffff_fff0;
/// Sockets the set and the interface have room for.
pub const CAPACITY: usize = 16;

/// The peer's byte at sequence number `seq` of any connection: data checks
/// need no copy of what was sent.
pub fn peer_byte(seq: u32) -> u8 {
    (seq.wrapping_mul(0x9e37_79b9) >> 24) as u8
}

/// A device of two queues: frames to receive and frames sent.
#[derive(Default)]
pub struct Queue {
    pub rx: VecDeque<Vec<u8>>,
    pub tx: Vec<Vec<u8>>,
}

pub struct Rx(Vec<u8>);
pub struct Tx<'a>(&'a mut Vec<Vec<u8>>);

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

/// A TCP segment from the peer's port `port` to the listener's port, with
/// valid checksums.
pub fn peer_segment(port: u16, tcp: TcpRepr<'_>) -> Vec<u8> {
    segment_between(port, LISTEN_PORT, tcp)
}

/// A TCP segment from the peer's port `from` to our port `to`, with valid
/// checksums.
pub fn segment_between(from: u16, to: u16, tcp: TcpRepr<'_>) -> Vec<u8> {
    let tcp = TcpRepr {
        src_port: from,
        dst_port: to,
        ..tcp
    };
    ip_frame(IpProtocol::Tcp, tcp.buffer_len(), |payload, caps| {
        tcp.emit(
            &mut TcpPacket::new_unchecked(payload),
            &IpAddress::Ipv4(PEER_IP),
            &IpAddress::Ipv4(OUR_IP),
            caps,
        )
    })
}

/// A plain segment: `flags`, `seq`, `ack`, a window of 8192 and `payload`.
pub fn simple_segment(
    port: u16,
    seq: u32,
    ack: SeqNumber,
    flags: TcpFlags,
    payload: &[u8],
) -> Vec<u8> {
    peer_segment(
        port,
        TcpRepr {
            seq_number: SeqNumber(seq),
            ack_number: ack,
            flags,
            window_len: 8192,
            max_seg_size: flags.contains(TcpFlags::SYN).then_some(1460),
            payload,
            ..TcpRepr::default()
        },
    )
}

/// A SYN with every option Linux sends: MSS, SACK-permitted, timestamps,
/// window scale.
pub fn full_syn(port: u16, isn: u32) -> Vec<u8> {
    peer_segment(
        port,
        TcpRepr {
            seq_number: SeqNumber(isn),
            flags: TcpFlags::SYN,
            window_len: 64240,
            max_seg_size: Some(1460),
            sack_permitted: true,
            timestamp: Some(TcpTimestamp {
                tsval: 1000,
                tsecr: 0,
            }),
            window_scale: Some(7),
            ..TcpRepr::default()
        },
    )
}

fn ip_frame(
    protocol: IpProtocol,
    payload_len: usize,
    emit_payload: impl FnOnce(&mut [u8], &ChecksumCapabilities),
) -> Vec<u8> {
    let ip = Ipv4Repr {
        src_addr: PEER_IP,
        dst_addr: OUR_IP,
        next_header: protocol,
        payload_len,
        hop_limit: 64,
        dont_frag: true,
        ecn: pollnet::wire::IpEcn::NotEct,
    };
    let mut frame = vec![0u8; 14 + 20 + payload_len];
    EthernetRepr {
        src_addr: PEER_MAC,
        dst_addr: OUR_MAC,
        ethertype: EthernetProtocol::Ipv4,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut frame[..]));
    let caps = ChecksumCapabilities::default();
    let mut packet = Ipv4Packet::new_unchecked(&mut frame[14..]);
    ip.emit(&mut packet, &caps);
    emit_payload(packet.payload_mut(), &caps);
    frame
}

/// An ICMP echo request from the peer.
pub fn echo_request(ident: u16, seq_no: u16, data: &[u8]) -> Vec<u8> {
    let icmp = Icmpv4Repr::EchoRequest {
        ident,
        seq_no,
        data,
    };
    ip_frame(IpProtocol::Icmp, icmp.buffer_len(), |payload, caps| {
        icmp.emit(&mut Icmpv4Packet::new_unchecked(payload), caps)
    })
}

/// An ARP request (broadcast) or reply (to us) from the peer about itself.
pub fn arp(operation: ArpOperation) -> Vec<u8> {
    let (target_mac, dst) = match operation {
        ArpOperation::Request => (EthernetAddress([0; 6]), EthernetAddress([0xff; 6])),
        _ => (OUR_MAC, OUR_MAC),
    };
    let repr = ArpRepr::EthernetIpv4 {
        operation,
        source_hardware_addr: PEER_MAC,
        source_protocol_addr: PEER_IP,
        target_hardware_addr: target_mac,
        target_protocol_addr: OUR_IP,
    };
    let mut frame = vec![0u8; 14 + repr.buffer_len()];
    EthernetRepr {
        src_addr: PEER_MAC,
        dst_addr: dst,
        ethertype: EthernetProtocol::Arp,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut frame[..]));
    repr.emit(&mut ArpPacket::new_unchecked(&mut frame[14..]));
    frame
}

/// The ISN of the last SYN-ACK the stack sent to the peer's port `port`.
pub fn our_isn(tx: &[Vec<u8>], port: u16) -> Option<SeqNumber> {
    tx.iter().rev().find_map(|frame| {
        let eth = EthernetFrame::new_checked(&frame[..]).ok()?;
        let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
        let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
        (tcp.syn() && tcp.ack() && tcp.dst_port() == port).then(|| SeqNumber(tcp.seq_number().0))
    })
}

/// One established connection of the world, as the peer sees it.
#[derive(Debug, Clone, Copy)]
pub struct Conn {
    pub handle: SocketHandle,
    pub port: u16,
    /// Whether its SYN negotiated timestamps, SACK and window scaling.
    pub options: bool,
    /// The peer's ISN (IRS of our side).
    pub peer_isn: u32,
    /// Our ISN.
    pub iss: SeqNumber,
}

pub struct World {
    pub iface: Interface<'static>,
    pub sockets: SocketSet<'static>,
    pub device: Queue,
    pub listener: SocketHandle,
    pub conns: Vec<Conn>,
    pub now: Instant,
}

impl World {
    /// A listener on port 80 and `connections` established connections
    /// (each by a SYN with only MSS and its ACK, 1 ms apart), sockets with
    /// `buffer`-byte buffers.
    pub fn new(connections: usize, buffer: usize) -> World {
        let config =
            Config::new(OUR_MAC, 1).with_ip(Ipv4Cidr::new(OUR_IP, 24).expect("valid prefix"));
        let mut sockets = SocketSet::with_capacity(CAPACITY);
        let iface = Interface::new(config).unwrap();
        let socket = TcpSocket::new(
            RingBuffer::new(vec![0u8; 64]),
            RingBuffer::new(vec![0u8; 64]),
        );
        let listener = sockets.add(socket).expect("room");
        let backlog = CAPACITY - 1;
        let buffers = ChildBuffers::Alloc {
            rx: buffer,
            tx: buffer,
        };
        sockets
            .listen(listener, LISTEN_PORT, backlog, buffers)
            .expect("listen");
        let mut world = World {
            iface,
            sockets,
            device: Queue::default(),
            listener,
            conns: Vec::new(),
            now: Instant::ZERO,
        };
        for i in 0..connections {
            let port = PEER_PORT + i as u16;
            let peer_isn = PEER_ISN.wrapping_add((i as u32).wrapping_mul(0x1000_0000));
            // Even connections: a SYN with only MSS. Odd ones: every option
            // Linux sends (timestamps, SACK, window scale), so segments to
            // them take the timestamp and SACK paths.
            let options = i % 2 == 1;
            let syn = if options {
                full_syn(port, peer_isn)
            } else {
                simple_segment(port, peer_isn, SeqNumber(0), TcpFlags::SYN, &[])
            };
            world.receive(syn);
            let iss = our_isn(&world.device.tx, port).expect("a SYN-ACK");
            world.receive(peer_segment(
                port,
                TcpRepr {
                    seq_number: SeqNumber(peer_isn.wrapping_add(1)),
                    ack_number: iss + 1,
                    flags: TcpFlags::ACK,
                    window_len: if options { 502 } else { 8192 },
                    timestamp: options.then_some(TcpTimestamp {
                        tsval: 1001,
                        tsecr: 0,
                    }),
                    ..TcpRepr::default()
                },
            ));
            let handle = world.sockets.accept(listener).expect("established");
            world.conns.push(Conn {
                handle,
                port,
                options,
                peer_isn,
                iss,
            });
        }
        world
    }

    /// Polls once at the current time.
    pub fn poll(&mut self) -> bool {
        self.iface
            .poll(self.now, &mut self.device, &mut self.sockets)
    }

    /// Moves the clock 1 ms on and hands the stack one frame (the
    /// `iface_ingress` target's step).
    pub fn receive(&mut self, frame: Vec<u8>) {
        self.device.rx.push_back(frame);
        self.now += Duration::from_millis(1);
        self.poll();
    }
}

/// An `iface_ingress` input: each frame as a length byte and that many
/// bytes (frames are cut to 255 bytes).
pub fn ingress_input(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for frame in frames {
        let len = frame.len().min(255);
        out.push(len as u8);
        out.extend_from_slice(&frame[..len]);
    }
    out
}
