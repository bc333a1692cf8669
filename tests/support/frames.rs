//! Hand-made Ethernet frames for the pcapdump tests: good ones built with
//! pollnet's own emitters, then damaged one field at a time.

#![allow(dead_code)]

use pollnet::wire::{
    ArpOperation, ArpPacket, ArpRepr, ChecksumCapabilities, EthernetAddress, EthernetFrame,
    EthernetProtocol, EthernetRepr, Icmpv4Packet, Icmpv4Repr, IpAddress, IpProtocol, Ipv4Address,
    Ipv4Packet, Ipv4Repr, SeqNumber, TcpFlags, TcpPacket, TcpRepr, TcpSackRange, TcpTimestamp,
};

pub const MAC_A: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x0a]);
pub const MAC_B: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x0b]);
pub const IP_A: Ipv4Address = Ipv4Address::new(192, 0, 2, 10);
pub const IP_B: Ipv4Address = Ipv4Address::new(192, 0, 2, 11);

/// One frame of a test capture: the captured bytes and the length the
/// frame had on the wire.
#[derive(Debug, Clone)]
pub struct Frame {
    /// What the frame is, for messages.
    pub name: &'static str,
    /// The captured bytes.
    pub data: Vec<u8>,
    /// The length on the wire (at least `data.len()` for a sane capture).
    pub orig_len: usize,
    /// The line pcapdump must print for it, without the frame number.
    pub expected: String,
}

fn ethernet(ethertype: EthernetProtocol, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0u8; 14 + payload.len()];
    let repr = EthernetRepr {
        src_addr: MAC_A,
        dst_addr: MAC_B,
        ethertype,
    };
    repr.emit(&mut EthernetFrame::new_unchecked(&mut frame[..]));
    frame[14..].copy_from_slice(payload);
    frame
}

/// An IPv4 datagram (ident 0x1234, DF) carrying `payload`.
fn ipv4(protocol: IpProtocol, payload: &[u8]) -> Vec<u8> {
    let repr = Ipv4Repr {
        src_addr: IP_A,
        dst_addr: IP_B,
        next_header: protocol,
        payload_len: payload.len(),
        hop_limit: 64,
        dont_frag: true,
        ecn: pollnet::wire::IpEcn::NotEct,
    };
    let mut packet = vec![0u8; 20 + payload.len()];
    let mut view = Ipv4Packet::new_unchecked(&mut packet[..]);
    repr.emit(&mut view, &ChecksumCapabilities::default());
    view.set_ident(0x1234);
    view.fill_checksum();
    packet[20..].copy_from_slice(payload);
    packet
}

pub fn tcp_segment(repr: &TcpRepr) -> Vec<u8> {
    let mut segment = vec![0u8; repr.buffer_len()];
    repr.emit(
        &mut TcpPacket::new_unchecked(&mut segment[..]),
        &IpAddress::Ipv4(IP_A),
        &IpAddress::Ipv4(IP_B),
        &ChecksumCapabilities::default(),
    );
    segment
}

pub fn tcp_frame(repr: &TcpRepr) -> Vec<u8> {
    ethernet(
        EthernetProtocol::Ipv4,
        &ipv4(IpProtocol::Tcp, &tcp_segment(repr)),
    )
}

pub fn syn() -> TcpRepr<'static> {
    TcpRepr {
        src_port: 40000,
        dst_port: 80,
        seq_number: SeqNumber(0xfffffff0),
        ack_number: SeqNumber(0),
        flags: TcpFlags::SYN,
        window_len: 64240,
        urgent_pointer: 0,
        max_seg_size: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        sack_ranges: [None; 4],
        timestamp: Some(TcpTimestamp { tsval: 1, tsecr: 0 }),
        payload: &[],
    }
}

pub fn data_segment(payload: &'static [u8]) -> TcpRepr<'static> {
    TcpRepr {
        src_port: 40000,
        dst_port: 80,
        seq_number: SeqNumber(0xfffffff1),
        ack_number: SeqNumber(77),
        flags: TcpFlags::ACK | TcpFlags::PSH,
        window_len: 502,
        urgent_pointer: 0,
        max_seg_size: None,
        window_scale: None,
        sack_permitted: false,
        sack_ranges: [None; 4],
        timestamp: Some(TcpTimestamp {
            tsval: 1000,
            tsecr: 2000,
        }),
        payload,
    }
}

static PAYLOAD_100: [u8; 100] = [0x5a; 100];
static PAYLOAD_1000: [u8; 1000] = [0x33; 1000];

/// The line for a segment 192.0.2.10:40000 > 192.0.2.11:80.
fn line(seq: u32, ack: u32, flags: u16, win: u16, len: usize, csum: &str) -> String {
    format!(
        "tcp {IP_A}:40000 > {IP_B}:80 seq={seq} ack={ack} flags=0x{flags:03x} \
         win={win} len={len} csum={csum}"
    )
}

fn frame(name: &'static str, data: Vec<u8>, expected: String) -> Frame {
    let orig_len = data.len();
    Frame {
        name,
        data,
        orig_len,
        expected,
    }
}

/// Offsets into a frame built by `tcp_frame` (no IPv4 options).
const IP: usize = 14;
const TCP: usize = 14 + 20;

fn refill_ip_checksum(data: &mut [u8]) {
    let mut ip = Ipv4Packet::new_unchecked(&mut data[IP..IP + 20]);
    ip.fill_checksum();
}

fn refill_tcp_checksum(data: &mut [u8]) {
    let total = usize::from(u16::from_be_bytes([data[IP + 2], data[IP + 3]]));
    let mut tcp = TcpPacket::new_unchecked(&mut data[TCP..IP + total]);
    tcp.fill_checksum(&IpAddress::Ipv4(IP_A), &IpAddress::Ipv4(IP_B));
}

/// Every hand-made case, with the exact line pcapdump prints for it.
pub fn cases() -> Vec<Frame> {
    let mut cases = Vec::new();
    let syn_line = line(0xfffffff0, 0, 0x002, 64240, 0, "ok");
    cases.push(frame("good SYN with options", tcp_frame(&syn()), syn_line));

    let data = data_segment(&PAYLOAD_100);
    cases.push(frame(
        "good data segment",
        tcp_frame(&data),
        line(0xfffffff1, 77, 0x018, 502, 100, "ok"),
    ));

    let mut sack = data_segment(&[]);
    sack.flags = TcpFlags::ACK;
    sack.sack_ranges[0] = Some(TcpSackRange {
        left: SeqNumber(1000),
        right: SeqNumber(2000),
    });
    cases.push(frame(
        "ACK with SACK",
        tcp_frame(&sack),
        line(0xfffffff1, 77, 0x010, 502, 0, "ok"),
    ));

    let mut bad_ip = tcp_frame(&data);
    bad_ip[IP + 8] = 63; // TTL without fixing the header checksum
    cases.push(frame(
        "bad IPv4 checksum",
        bad_ip,
        line(0xfffffff1, 77, 0x018, 502, 100, "bad"),
    ));

    let mut bad_tcp = tcp_frame(&data);
    let last = bad_tcp.len() - 1;
    bad_tcp[last] ^= 0x01;
    cases.push(frame(
        "bad TCP checksum",
        bad_tcp,
        line(0xfffffff1, 77, 0x018, 502, 100, "bad"),
    ));

    let big = tcp_frame(&data_segment(&PAYLOAD_1000));
    let orig_len = big.len();
    cases.push(Frame {
        name: "capture cut short (snaplen 96)",
        data: big[..96].to_vec(),
        orig_len,
        expected: line(0xfffffff1, 77, 0x018, 502, 1000, "unverified"),
    });

    let mut all_flags = syn();
    all_flags.flags = TcpFlags::all();
    let mut reserved = tcp_frame(&all_flags);
    reserved[TCP + 12] |= 0x0e;
    refill_tcp_checksum(&mut reserved);
    cases.push(frame(
        "all 12 flag bits",
        reserved,
        line(0xfffffff0, 0, 0xfff, 64240, 0, "ok"),
    ));

    let mut syn_with_ack_field = syn();
    syn_with_ack_field.ack_number = SeqNumber(12345);
    cases.push(frame(
        "SYN with a non-zero ack field",
        tcp_frame(&syn_with_ack_field),
        line(0xfffffff0, 12345, 0x002, 64240, 0, "ok"),
    ));

    let mut small = data_segment(&[]);
    small.timestamp = None;
    small.flags = TcpFlags::ACK;
    let mut padded = tcp_frame(&small);
    assert_eq!(padded.len(), 54);
    padded.resize(60, 0);
    cases.push(frame(
        "minimum-size frame with Ethernet padding",
        padded,
        line(0xfffffff1, 77, 0x010, 502, 0, "ok"),
    ));

    // IPv4 options: a Router Alert (RFC 2113) makes IHL 6.
    let segment = tcp_segment(&data);
    let mut with_options = Vec::new();
    with_options.extend_from_slice(&ipv4(IpProtocol::Tcp, &segment)[..20]);
    with_options.extend_from_slice(&[0x94, 0x04, 0x00, 0x00]);
    with_options.extend_from_slice(&segment);
    {
        let mut ip = Ipv4Packet::new_unchecked(&mut with_options[..]);
        ip.set_header_len(24);
        ip.set_total_len((24 + segment.len()) as u16);
        ip.fill_checksum();
    }
    cases.push(frame(
        "IPv4 with options",
        ethernet(EthernetProtocol::Ipv4, &with_options),
        line(0xfffffff1, 77, 0x018, 502, 100, "ok"),
    ));

    let mut offset4 = tcp_frame(&data);
    offset4[TCP + 12] = (4 << 4) | (offset4[TCP + 12] & 0x0f);
    refill_tcp_checksum(&mut offset4);
    cases.push(frame(
        "TCP data offset 4",
        offset4,
        "malformed TCP data offset 4 < 5".to_string(),
    ));

    // Data offset 15 (60 bytes) in a 52-byte segment.
    let mut ack_only = data_segment(&[]);
    ack_only.flags = TcpFlags::ACK;
    let mut offset15 = tcp_frame(&ack_only);
    offset15[TCP + 12] = (15 << 4) | (offset15[TCP + 12] & 0x0f);
    refill_tcp_checksum(&mut offset15);
    cases.push(frame(
        "TCP data offset past the segment",
        offset15,
        "malformed TCP data offset 15 past the segment (32 bytes)".to_string(),
    ));

    let mut bad_option = tcp_frame(&ack_only);
    // Replace the NOP NOP before the timestamps with an option of length 0.
    bad_option[TCP + 20] = 0x1e;
    bad_option[TCP + 21] = 0x00;
    refill_tcp_checksum(&mut bad_option);
    cases.push(frame(
        "TCP option length 0",
        bad_option,
        "malformed TCP option: bad TCP option length".to_string(),
    ));

    let mut ihl4 = tcp_frame(&data);
    ihl4[IP] = 0x44;
    refill_ip_checksum(&mut ihl4);
    cases.push(frame(
        "IPv4 IHL 4",
        ihl4,
        "malformed IPv4 IHL 4 < 5".to_string(),
    ));

    let mut long = tcp_frame(&data);
    let claimed = (20 + 32 + 100 + 50) as u16;
    long[IP + 2..IP + 4].copy_from_slice(&claimed.to_be_bytes());
    refill_ip_checksum(&mut long);
    cases.push(frame(
        "IPv4 total length past the frame",
        long,
        "malformed IPv4 total length 202 past end of frame (152 bytes)".to_string(),
    ));

    let mut short_total = tcp_frame(&data);
    short_total[IP + 2..IP + 4].copy_from_slice(&16u16.to_be_bytes());
    refill_ip_checksum(&mut short_total);
    cases.push(frame(
        "IPv4 total length below the header",
        short_total,
        "malformed IPv4 total length 16 < header length 20".to_string(),
    ));

    cases.push(frame(
        "truncated IPv4 header",
        tcp_frame(&data)[..14 + 12].to_vec(),
        "malformed truncated IPv4 header (12 bytes)".to_string(),
    ));

    cases.push(frame(
        "truncated Ethernet header",
        tcp_frame(&data)[..10].to_vec(),
        "malformed truncated Ethernet header (10 bytes)".to_string(),
    ));

    // A TCP segment split into two fragments: 24 bytes, then the rest.
    let whole = ipv4(IpProtocol::Tcp, &tcp_segment(&data));
    let payload = &whole[20..];
    let mut first = whole[..20].to_vec();
    first.extend_from_slice(&payload[..24]);
    {
        let mut ip = Ipv4Packet::new_unchecked(&mut first[..]);
        ip.set_dont_frag(false);
        ip.set_more_frags(true);
        ip.set_total_len(44);
        ip.fill_checksum();
    }
    cases.push(frame(
        "first fragment of a TCP segment",
        ethernet(EthernetProtocol::Ipv4, &first),
        format!("other IPv4 fragment {IP_A} > {IP_B} proto 6 id 0x1234 offset 0 MF"),
    ));
    let mut second = whole[..20].to_vec();
    second.extend_from_slice(&payload[24..]);
    {
        let mut ip = Ipv4Packet::new_unchecked(&mut second[..]);
        ip.set_dont_frag(false);
        ip.set_frag_offset(24);
        ip.set_total_len((20 + payload.len() - 24) as u16);
        ip.fill_checksum();
    }
    cases.push(frame(
        "last fragment of a TCP segment",
        ethernet(EthernetProtocol::Ipv4, &second),
        format!("other IPv4 fragment {IP_A} > {IP_B} proto 6 id 0x1234 offset 24"),
    ));

    let arp = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Request,
        source_hardware_addr: MAC_A,
        source_protocol_addr: IP_A,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: IP_B,
    };
    let mut arp_bytes = [0u8; 28];
    arp.emit(&mut ArpPacket::new_unchecked(&mut arp_bytes[..]));
    cases.push(frame(
        "ARP request",
        ethernet(EthernetProtocol::Arp, &arp_bytes),
        format!("other ARP request who-has {IP_B} tell {IP_A}"),
    ));

    // An 802.1Q tag (VLAN 100) in front of the good data segment.
    let mut vlan_payload = vec![0x00, 0x64, 0x08, 0x00];
    vlan_payload.extend_from_slice(&ipv4(IpProtocol::Tcp, &tcp_segment(&data)));
    cases.push(frame(
        "VLAN-tagged TCP",
        ethernet(EthernetProtocol::Vlan, &vlan_payload),
        "other VLAN 100 ethertype IPv4".to_string(),
    ));

    // An IPv6 header (no next header, 59) with no payload.
    let mut ipv6 = vec![0x60, 0, 0, 0, 0, 0, 59, 64];
    ipv6.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    ipv6.extend_from_slice(&[0; 11]);
    ipv6.push(1);
    ipv6.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    ipv6.extend_from_slice(&[0; 11]);
    ipv6.push(2);
    cases.push(frame(
        "IPv6",
        ethernet(EthernetProtocol::Ipv6, &ipv6),
        "other IPv6".to_string(),
    ));

    // UDP 40001 -> 9 (discard) with 4 data bytes, checksum 0 (none, RFC 768).
    let udp = [0x9c, 0x41, 0x00, 0x09, 0x00, 0x0c, 0x00, 0x00, 1, 2, 3, 4];
    cases.push(frame(
        "UDP",
        ethernet(EthernetProtocol::Ipv4, &ipv4(IpProtocol::Udp, &udp)),
        format!("other UDP {IP_A}:40001 > {IP_B}:9"),
    ));

    let echo = Icmpv4Repr::EchoRequest {
        ident: 7,
        seq_no: 1,
        data: b"ping",
    };
    let mut icmp = vec![0u8; echo.buffer_len()];
    echo.emit(
        &mut Icmpv4Packet::new_unchecked(&mut icmp[..]),
        &ChecksumCapabilities::default(),
    );
    cases.push(frame(
        "ICMP echo request",
        ethernet(EthernetProtocol::Ipv4, &ipv4(IpProtocol::Icmp, &icmp)),
        format!("other ICMP echo request {IP_A} > {IP_B}"),
    ));

    cases
}

/// A little-endian microsecond pcap file of `frames` (link type Ethernet).
pub fn pcap_file(frames: &[Frame]) -> Vec<u8> {
    let mut file = Vec::new();
    file.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    file.extend_from_slice(&2u16.to_le_bytes());
    file.extend_from_slice(&4u16.to_le_bytes());
    file.extend_from_slice(&0i32.to_le_bytes());
    file.extend_from_slice(&0u32.to_le_bytes());
    file.extend_from_slice(&65535u32.to_le_bytes());
    file.extend_from_slice(&1u32.to_le_bytes());
    for (i, frame) in frames.iter().enumerate() {
        file.extend_from_slice(&(1_700_000_000u32 + i as u32).to_le_bytes());
        file.extend_from_slice(&0u32.to_le_bytes());
        file.extend_from_slice(&(frame.data.len() as u32).to_le_bytes());
        file.extend_from_slice(&(frame.orig_len as u32).to_le_bytes());
        file.extend_from_slice(&frame.data);
    }
    file
}
