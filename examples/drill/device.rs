//! The scripted device: an in-memory Ethernet link whose far end is the
//! script. Frames the script injects wait in a receive queue; frames pollnet
//! transmits are recorded with their virtual time for the runner to check.
//! Also the frame builders and parsers the runner uses on both sides.

use std::collections::VecDeque;

use pollnet::phy::{Device, DeviceCapabilities, RxToken, TxToken};
use pollnet::time::Instant;
use pollnet::wire::{
    ArpOperation, ArpPacket, ArpRepr, ChecksumCapabilities, EthernetAddress, EthernetFrame,
    EthernetProtocol, EthernetRepr, IpAddress, IpProtocol, Ipv4Address, Ipv4Packet, Ipv4Repr,
    SeqNumber, TcpFlags, TcpOption, TcpPacket,
};

/// pollnet's hardware address on the link.
pub const LOCAL_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x01]);
/// The script side's hardware address.
pub const REMOTE_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x02]);
/// pollnet's address (TEST-NET-1, RFC 5737).
pub const LOCAL_IP: Ipv4Address = Ipv4Address([192, 0, 2, 1]);
/// The script side's address.
pub const REMOTE_IP: Ipv4Address = Ipv4Address([192, 0, 2, 2]);

/// A frame pollnet transmitted, with the virtual time it left.
#[derive(Debug, Clone)]
pub struct Sent {
    /// When.
    pub at: Instant,
    /// The whole Ethernet frame.
    pub frame: Vec<u8>,
}

/// The in-memory device (see the module docs).
#[derive(Debug, Default)]
pub struct ScriptDevice {
    /// Frames waiting for pollnet to receive them.
    pub inbound: VecDeque<Vec<u8>>,
    /// Frames pollnet sent, oldest first.
    pub outbound: VecDeque<Sent>,
    /// The MTU the device reports (the script's `--mtu`); 1500 if `None`.
    pub mtu: Option<usize>,
}

/// Receive token: owns the frame taken off the queue.
pub struct ScriptRxToken(Vec<u8>);

/// Transmit token: appends the frame to the outbound record.
pub struct ScriptTxToken<'a> {
    outbound: &'a mut VecDeque<Sent>,
    now: Instant,
}

impl RxToken for ScriptRxToken {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl TxToken for ScriptTxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = vec![0u8; len];
        let result = f(&mut frame);
        self.outbound.push_back(Sent {
            at: self.now,
            frame,
        });
        result
    }
}

impl Device for ScriptDevice {
    type RxToken<'a> = ScriptRxToken;
    type TxToken<'a> = ScriptTxToken<'a>;

    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let frame = self.inbound.pop_front()?;
        Some((
            ScriptRxToken(frame),
            ScriptTxToken {
                outbound: &mut self.outbound,
                now,
            },
        ))
    }

    fn transmit(&mut self, now: Instant) -> Option<Self::TxToken<'_>> {
        Some(ScriptTxToken {
            outbound: &mut self.outbound,
            now,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        if let Some(mtu) = self.mtu {
            caps.max_transmission_unit = mtu;
        }
        caps
    }
}

/// The TCP fields of a segment the script side sends, in absolute numbers.
#[derive(Debug, Clone)]
pub struct OutgoingSegment {
    /// Source port (the script's side).
    pub src_port: u16,
    /// Destination port (pollnet's side).
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number field.
    pub ack: u32,
    /// Control bits.
    pub flags: TcpFlags,
    /// Window field.
    pub window: u16,
    /// Raw option bytes, unpadded.
    pub options: Vec<u8>,
    /// Payload length (the bytes are zeros).
    pub payload_len: usize,
}

const ETHERNET_HEADER_LEN: usize = 14;
const IPV4_HEADER_LEN: usize = 20;
const TCP_HEADER_LEN: usize = 20;

/// Builds the Ethernet/IPv4/TCP frame of a segment from the script side to
/// pollnet, with valid checksums. Errors if the options exceed 40 bytes or
/// the packet exceeds 65535 bytes.
pub fn tcp_frame(segment: &OutgoingSegment, ident: u16) -> Result<Vec<u8>, String> {
    let options_len = segment.options.len().next_multiple_of(4);
    if options_len > 40 {
        return Err(format!(
            "{} bytes of TCP options (at most 40)",
            segment.options.len()
        ));
    }
    let tcp_len = TCP_HEADER_LEN + options_len + segment.payload_len;
    if IPV4_HEADER_LEN + tcp_len > usize::from(u16::MAX) {
        return Err(format!("a {tcp_len}-byte TCP segment (too long for IPv4)"));
    }
    let mut frame = vec![0u8; ETHERNET_HEADER_LEN + IPV4_HEADER_LEN + tcp_len];
    EthernetRepr {
        src_addr: REMOTE_MAC,
        dst_addr: LOCAL_MAC,
        ethertype: EthernetProtocol::Ipv4,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut frame[..]));
    let caps = ChecksumCapabilities::default();
    let ip = &mut frame[ETHERNET_HEADER_LEN..];
    let mut packet = Ipv4Packet::new_unchecked(&mut ip[..]);
    Ipv4Repr {
        src_addr: REMOTE_IP,
        dst_addr: LOCAL_IP,
        next_header: IpProtocol::Tcp,
        payload_len: tcp_len,
        hop_limit: 64,
        dont_frag: true,
        ecn: pollnet::wire::IpEcn::NotEct,
    }
    .emit(&mut packet, &caps);
    packet.set_ident(ident);
    packet.fill_checksum();
    let mut tcp = TcpPacket::new_unchecked(&mut ip[IPV4_HEADER_LEN..]);
    tcp.set_src_port(segment.src_port);
    tcp.set_dst_port(segment.dst_port);
    tcp.set_seq_number(SeqNumber(segment.seq));
    tcp.set_ack_number(SeqNumber(segment.ack));
    // At most 60 bytes, so it fits the u8 and the 4-bit data offset.
    tcp.set_header_len((TCP_HEADER_LEN + options_len) as u8);
    tcp.set_flags(segment.flags);
    tcp.set_window_len(segment.window);
    tcp.set_urgent_at(0);
    // Unused option bytes stay zero: EOL padding (RFC 9293 section 3.1).
    tcp.options_mut()[..segment.options.len()].copy_from_slice(&segment.options);
    tcp.fill_checksum(&IpAddress::Ipv4(REMOTE_IP), &IpAddress::Ipv4(LOCAL_IP));
    Ok(frame)
}

/// The ARP reply the script side gives to a request for its address.
pub fn arp_reply(request_sender_mac: EthernetAddress, request_sender_ip: Ipv4Address) -> Vec<u8> {
    let arp = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Reply,
        source_hardware_addr: REMOTE_MAC,
        source_protocol_addr: REMOTE_IP,
        target_hardware_addr: request_sender_mac,
        target_protocol_addr: request_sender_ip,
    };
    let mut frame = vec![0u8; ETHERNET_HEADER_LEN + arp.buffer_len()];
    EthernetRepr {
        src_addr: REMOTE_MAC,
        dst_addr: request_sender_mac,
        ethertype: EthernetProtocol::Arp,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut frame[..]));
    arp.emit(&mut ArpPacket::new_unchecked(
        &mut frame[ETHERNET_HEADER_LEN..],
    ));
    frame
}

/// A TCP segment pollnet sent, decoded, in absolute numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentSegment {
    /// IP source.
    pub src_addr: Ipv4Address,
    /// IP destination.
    pub dst_addr: Ipv4Address,
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number field.
    pub ack: u32,
    /// All nine control bits.
    pub flags: TcpFlags,
    /// Window field.
    pub window: u16,
    /// The options in wire order (NOP and EOL included).
    pub options: Vec<SentOption>,
    /// Payload length.
    pub payload_len: usize,
}

/// One option of a sent segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SentOption {
    /// End of option list.
    Eol,
    /// No operation.
    Nop,
    /// Maximum segment size.
    Mss(u16),
    /// Window scale shift.
    WindowScale(u8),
    /// SACK permitted.
    SackPermitted,
    /// SACK blocks, absolute.
    Sack(Vec<(u32, u32)>),
    /// Timestamps.
    Timestamp {
        /// TSval.
        val: u32,
        /// TSecr.
        ecr: u32,
    },
    /// Anything else: kind and length.
    Unknown(u8, usize),
}

/// What pollnet put on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SentFrame {
    /// An ARP request for `target` from `sender_mac`/`sender_ip`.
    ArpRequest {
        /// The requester's hardware address.
        sender_mac: EthernetAddress,
        /// The requester's IP address.
        sender_ip: Ipv4Address,
        /// The address asked about.
        target: Ipv4Address,
    },
    /// Any other ARP packet (a reply to the script side, say).
    OtherArp,
    /// A TCP segment.
    Tcp(SentSegment),
    /// Anything else, described, or a frame that does not parse (with a
    /// bad checksum, say): always a failure.
    Other(String),
}

/// Decodes a frame pollnet transmitted, verifying every checksum.
pub fn decode(frame: &[u8]) -> SentFrame {
    let Ok(eth) = EthernetFrame::new_checked(frame) else {
        return SentFrame::Other(format!("a {}-byte runt frame", frame.len()));
    };
    let caps = ChecksumCapabilities::default();
    match eth.ethertype() {
        EthernetProtocol::Arp => {
            let repr = ArpPacket::new_checked(eth.payload()).and_then(|p| ArpRepr::parse(&p));
            match repr {
                Ok(ArpRepr::EthernetIpv4 {
                    operation: ArpOperation::Request,
                    source_hardware_addr,
                    source_protocol_addr,
                    target_protocol_addr,
                    ..
                }) => SentFrame::ArpRequest {
                    sender_mac: source_hardware_addr,
                    sender_ip: source_protocol_addr,
                    target: target_protocol_addr,
                },
                Ok(_) => SentFrame::OtherArp,
                Err(err) => SentFrame::Other(format!("a malformed ARP packet ({err})")),
            }
        }
        EthernetProtocol::Ipv4 => {
            let packet = match Ipv4Packet::new_checked(eth.payload()) {
                Ok(packet) => packet,
                Err(err) => return SentFrame::Other(format!("a malformed IPv4 packet ({err})")),
            };
            let ip = match Ipv4Repr::parse(&packet, &caps) {
                Ok(ip) => ip,
                Err(err) => {
                    return SentFrame::Other(format!("an IPv4 packet with an error ({err})"));
                }
            };
            if ip.next_header != IpProtocol::Tcp {
                return SentFrame::Other(format!("an IPv4 packet of protocol {}", ip.next_header));
            }
            let payload = packet.payload();
            let Some(bytes) = payload.get(..ip.payload_len) else {
                return SentFrame::Other("an IPv4 packet shorter than its length field".into());
            };
            decode_tcp(&ip, bytes)
        }
        other => SentFrame::Other(format!("a frame of EtherType {other}")),
    }
}

fn decode_tcp(ip: &Ipv4Repr, bytes: &[u8]) -> SentFrame {
    let tcp = match TcpPacket::new_checked(bytes) {
        Ok(tcp) => tcp,
        Err(err) => return SentFrame::Other(format!("a malformed TCP segment ({err})")),
    };
    let src = IpAddress::Ipv4(ip.src_addr);
    let dst = IpAddress::Ipv4(ip.dst_addr);
    if !tcp.verify_checksum(&src, &dst) {
        return SentFrame::Other("a TCP segment with a bad checksum".into());
    }
    let mut options = Vec::new();
    for option in tcp.option_iter() {
        let option = match option {
            Ok(option) => option,
            Err(err) => return SentFrame::Other(format!("a TCP segment with bad options ({err})")),
        };
        options.push(match option {
            TcpOption::EndOfList => SentOption::Eol,
            TcpOption::NoOperation => SentOption::Nop,
            TcpOption::MaxSegmentSize(mss) => SentOption::Mss(mss),
            TcpOption::WindowScale(shift) => SentOption::WindowScale(shift),
            TcpOption::SackPermitted => SentOption::SackPermitted,
            TcpOption::SackRange(ranges) => SentOption::Sack(
                ranges
                    .iter()
                    .flatten()
                    .map(|r| (r.left.0, r.right.0))
                    .collect(),
            ),
            TcpOption::Timestamp(ts) => SentOption::Timestamp {
                val: ts.tsval,
                ecr: ts.tsecr,
            },
            TcpOption::Unknown { kind, data } => SentOption::Unknown(kind, data.len()),
        });
    }
    SentFrame::Tcp(SentSegment {
        src_addr: ip.src_addr,
        dst_addr: ip.dst_addr,
        src_port: tcp.src_port(),
        dst_port: tcp.dst_port(),
        seq: tcp.seq_number().0,
        ack: tcp.ack_number().0,
        flags: tcp.flags(),
        window: tcp.window_len(),
        options,
        payload_len: tcp.payload_len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pollnet::wire::TcpRepr;

    #[test]
    fn tcp_frame_round_trips_through_decode_with_valid_checksums() {
        let segment = OutgoingSegment {
            src_port: 8080,
            dst_port: 50000,
            seq: 0xffff_fff0,
            ack: 7,
            flags: TcpFlags::SYN | TcpFlags::ACK,
            window: 32767,
            options: vec![2, 4, 0x05, 0xb4, 4, 2, 0, 0],
            payload_len: 3,
        };
        let frame = tcp_frame(&segment, 9).unwrap();
        assert_eq!(frame.len(), 14 + 20 + 28 + 3);
        // pollnet's own parser accepts it, checksums and all.
        let eth = EthernetFrame::new_checked(&frame[..]).unwrap();
        assert_eq!(eth.dst_addr(), LOCAL_MAC);
        let ip_packet = Ipv4Packet::new_checked(eth.payload()).unwrap();
        let caps = ChecksumCapabilities::default();
        let ip = Ipv4Repr::parse(&ip_packet, &caps).unwrap();
        assert_eq!((ip.src_addr, ip.dst_addr), (REMOTE_IP, LOCAL_IP));
        let tcp = TcpPacket::new_checked(ip_packet.payload()).unwrap();
        let repr = TcpRepr::parse(
            &tcp,
            &IpAddress::Ipv4(REMOTE_IP),
            &IpAddress::Ipv4(LOCAL_IP),
            &caps,
        )
        .unwrap();
        assert_eq!(repr.seq_number, SeqNumber(0xffff_fff0));
        assert_eq!(repr.ack(), Some(SeqNumber(7)));
        assert_eq!(repr.max_seg_size, Some(1460));
        assert!(repr.sack_permitted);
        assert_eq!(repr.payload, &[0, 0, 0]);
        // And so does the runner's own decoder.
        let SentFrame::Tcp(sent) = decode(&frame) else {
            panic!("not decoded as TCP");
        };
        assert_eq!(sent.seq, 0xffff_fff0);
        assert_eq!(sent.window, 32767);
        assert_eq!(
            sent.options,
            vec![
                SentOption::Mss(1460),
                SentOption::SackPermitted,
                SentOption::Eol
            ]
        );
        assert_eq!(sent.payload_len, 3);
    }

    #[test]
    fn decode_rejects_a_corrupted_checksum() {
        let segment = OutgoingSegment {
            src_port: 1,
            dst_port: 2,
            seq: 3,
            ack: 0,
            flags: TcpFlags::RST,
            window: 0,
            options: vec![],
            payload_len: 0,
        };
        let mut frame = tcp_frame(&segment, 1).unwrap();
        let last = frame.len() - 1;
        frame[last] ^= 0x40;
        assert_eq!(
            decode(&frame),
            SentFrame::Other("a TCP segment with a bad checksum".into())
        );
        assert!(
            tcp_frame(
                &OutgoingSegment {
                    options: vec![1; 41],
                    ..segment
                },
                1
            )
            .is_err()
        );
    }

    #[test]
    fn arp_reply_answers_the_requester() {
        let frame = arp_reply(LOCAL_MAC, LOCAL_IP);
        let eth = EthernetFrame::new_checked(&frame[..]).unwrap();
        assert_eq!(eth.dst_addr(), LOCAL_MAC);
        let repr = ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).unwrap()).unwrap();
        assert_eq!(
            repr,
            ArpRepr::EthernetIpv4 {
                operation: ArpOperation::Reply,
                source_hardware_addr: REMOTE_MAC,
                source_protocol_addr: REMOTE_IP,
                target_hardware_addr: LOCAL_MAC,
                target_protocol_addr: LOCAL_IP,
            }
        );
        assert_eq!(decode(&frame), SentFrame::OtherArp);
    }

    #[test]
    fn device_queues_both_ways_with_times() {
        let mut device = ScriptDevice::default();
        device.inbound.push_back(vec![1, 2, 3]);
        let now = Instant::from_millis(5);
        let (rx, tx) = device.receive(now).unwrap();
        assert_eq!(rx.consume(|f| f.to_vec()), vec![1, 2, 3]);
        tx.consume(2, |f| f.copy_from_slice(&[9, 8]));
        assert!(device.receive(now).is_none());
        device
            .transmit(Instant::from_millis(6))
            .unwrap()
            .consume(1, |f| f[0] = 7);
        let sent: Vec<_> = device
            .outbound
            .iter()
            .map(|s| (s.at, s.frame.clone()))
            .collect();
        assert_eq!(
            sent,
            vec![(now, vec![9, 8]), (Instant::from_millis(6), vec![7])]
        );
    }
}
