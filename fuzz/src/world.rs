//! The interface the `iface_ingress` and `iface_session` fuzz targets feed:
//! one pollnet interface on a queue device with a listener on port 80 and
//! established connections from a peer, built by real handshakes. Shared
//! with the crate's tests (tests/fuzz_corpus.rs includes this file to write
//! the seed corpora, so the seeds carry the sequence numbers the targets'
//! connections really have).

use std::collections::VecDeque;

use pollnet::iface::{Config, Interface};
use pollnet::phy::{Device, DeviceCapabilities, RxToken, TxToken};
use pollnet::socket::icmp::{IcmpRxMetadata, IcmpSocket, IcmpTxMetadata};
use pollnet::socket::tcp::TcpSocket;
use pollnet::socket::udp::{UdpPacketBuffer, UdpPacketMetadata, UdpSocket};
use pollnet::socket::{ChildBuffers, SocketHandle, SocketSet};
use pollnet::storage::{PacketBuffer, RingBuffer};
use pollnet::time::{Duration, Instant};
use pollnet::wire::{
    ArpOperation, ArpPacket, ArpRepr, ChecksumCapabilities, EthernetAddress, EthernetFrame,
    EthernetProtocol, EthernetRepr, Icmpv4Packet, Icmpv4Repr, IpAddress, IpProtocol, Ipv4Address,
    Ipv4Cidr, Ipv4Packet, Ipv4Repr, SeqNumber, TcpFlags, TcpPacket, TcpRepr, TcpTimestamp,
    UdpPacket, UdpRepr,
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
/// The port the `iface_ingress` world's UDP socket is bound to (every
/// address).
pub const UDP_PORT: u16 = 53;
/// The echo identifier of the `iface_ingress` world's ICMP socket.
pub const ECHO_IDENT: u16 = 0x7001;
/// Datagrams the UDP socket's receive queue holds.
pub const UDP_QUEUE: usize = 4;
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

/// A UDP datagram from the peer to `dst` (ours, or a broadcast address, in
/// a broadcast frame then), checksum filled unless `zero_checksum`.
pub fn udp_datagram(
    dst: Ipv4Address,
    src_port: u16,
    dst_port: u16,
    data: &[u8],
    zero_checksum: bool,
) -> Vec<u8> {
    let repr = UdpRepr {
        src_port,
        dst_port,
        payload: data,
    };
    let mut frame = ip_frame(IpProtocol::Udp, repr.buffer_len(), |payload, caps| {
        repr.emit(
            &mut UdpPacket::new_unchecked(payload),
            &IpAddress::Ipv4(PEER_IP),
            &IpAddress::Ipv4(OUR_IP),
            caps,
        )
    });
    if dst != OUR_IP {
        frame[..6].copy_from_slice(&[0xff; 6]);
        let mut ip = Ipv4Packet::new_unchecked(&mut frame[14..]);
        ip.set_dst_addr(dst);
        ip.fill_checksum();
        let mut udp = UdpPacket::new_unchecked(ip.payload_mut());
        udp.fill_checksum(&IpAddress::Ipv4(PEER_IP), &IpAddress::Ipv4(dst));
    }
    if zero_checksum {
        frame[14 + 20 + 6] = 0;
        frame[14 + 20 + 7] = 0;
    }
    frame
}

/// An ICMP echo reply from the peer.
pub fn echo_reply(ident: u16, seq_no: u16, data: &[u8]) -> Vec<u8> {
    let icmp = Icmpv4Repr::EchoReply {
        ident,
        seq_no,
        data,
    };
    ip_frame(IpProtocol::Icmp, icmp.buffer_len(), |payload, caps| {
        icmp.emit(&mut Icmpv4Packet::new_unchecked(payload), caps)
    })
}

/// An ICMP error from the peer quoting the IP datagram in `quoted` (an
/// Ethernet frame the stack sent).
pub fn icmp_error_about(reason: pollnet::wire::Icmpv4DstUnreachable, quoted: &[u8]) -> Vec<u8> {
    let Ok(eth) = EthernetFrame::new_checked(quoted) else {
        return Vec::new();
    };
    let Ok(ip) = Ipv4Packet::new_checked(eth.payload()) else {
        return Vec::new();
    };
    let Ok(header) = Ipv4Repr::parse(&ip, &ChecksumCapabilities::default()) else {
        return Vec::new();
    };
    let data = &ip.payload()[..ip.payload().len().min(8)];
    let icmp = Icmpv4Repr::DstUnreachable {
        reason,
        next_hop_mtu: 0,
        header,
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
    /// The UDP socket on [`UDP_PORT`] and the ICMP echo socket on
    /// [`ECHO_IDENT`], once [`with_datagram_sockets`](World::with_datagram_sockets)
    /// added them.
    pub udp: Option<SocketHandle>,
    pub icmp: Option<SocketHandle>,
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
            udp: None,
            icmp: None,
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

    /// Adds a UDP socket bound to [`UDP_PORT`] (queues of [`UDP_QUEUE`]
    /// datagrams) and an ICMP echo socket bound to [`ECHO_IDENT`] with one
    /// request (sequence 1, to the peer) sent, so its reply is expected.
    pub fn with_datagram_sockets(mut self) -> World {
        let queue =
            || UdpPacketBuffer::new(vec![UdpPacketMetadata::EMPTY; UDP_QUEUE], vec![0u8; 2048]);
        let udp = self
            .sockets
            .add(UdpSocket::new(queue(), queue()))
            .expect("room");
        self.iface
            .udp_bind(&mut self.sockets, udp, UDP_PORT)
            .expect("a free port");
        let icmp = self
            .sockets
            .add(IcmpSocket::new(
                PacketBuffer::new(vec![IcmpRxMetadata::EMPTY; 2], vec![0u8; 512]),
                PacketBuffer::new(vec![IcmpTxMetadata::EMPTY; 2], vec![0u8; 512]),
            ))
            .expect("room");
        self.iface
            .icmp_bind(&mut self.sockets, icmp, Some(ECHO_IDENT))
            .expect("a free identifier");
        if let Some(socket) = self.sockets.get_mut::<IcmpSocket>(icmp) {
            let _ = socket.send_echo(IpAddress::Ipv4(PEER_IP), 1, b"fuzz ping");
        }
        self.poll();
        self.udp = Some(udp);
        self.icmp = Some(icmp);
        self
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
