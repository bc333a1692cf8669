//! One line per captured frame: the classification pcapdump prints.
//!
//! Kept apart from the file reading so tests can check exact lines for
//! hand-made frames (tests/pcapdump.rs includes this file).

use pollnet::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetFrame, EthernetProtocol, Icmpv4Message, Icmpv4Packet,
    IpAddress, IpProtocol, Ipv4Packet, TcpOptionIter, TcpPacket, ethernet, ipv4, tcp,
};

/// Describes one Ethernet II frame as captured: `data` holds the captured
/// bytes, `orig_len` the length the frame had on the wire (a capture with a
/// short snap length keeps fewer bytes than that). Returns the line without
/// its frame number: `tcp ...`, `other ...` or `malformed ...`.
pub fn describe(data: &[u8], orig_len: usize) -> String {
    // A capture is cut short when fewer bytes were kept than were sent.
    let cut = data.len() < orig_len;
    let Ok(frame) = EthernetFrame::new_checked(data) else {
        return format!("malformed truncated Ethernet header ({} bytes)", data.len());
    };
    // The bytes after the Ethernet header that were on the wire.
    let wire_payload_len = orig_len.max(data.len()) - ethernet::HEADER_LEN;
    match frame.ethertype() {
        EthernetProtocol::Ipv4 => describe_ipv4(frame.payload(), wire_payload_len, cut),
        EthernetProtocol::Arp => describe_arp(frame.payload()),
        EthernetProtocol::Ipv6 => "other IPv6".to_string(),
        EthernetProtocol::Vlan => describe_vlan(frame.payload()),
        EthernetProtocol::Unknown(value) if value < 0x0600 => {
            format!("other IEEE 802.3 frame (length field {value})")
        }
        EthernetProtocol::Unknown(value) => format!("other ethertype 0x{value:04x}"),
    }
}

fn describe_arp(payload: &[u8]) -> String {
    let Ok(packet) = ArpPacket::new_checked(payload) else {
        return format!("malformed truncated ARP packet ({} bytes)", payload.len());
    };
    match ArpRepr::parse(&packet) {
        Ok(ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Request,
            source_protocol_addr,
            target_protocol_addr,
            ..
        }) => {
            format!("other ARP request who-has {target_protocol_addr} tell {source_protocol_addr}")
        }
        Ok(ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Reply,
            source_hardware_addr,
            source_protocol_addr,
            ..
        }) => format!("other ARP reply {source_protocol_addr} is-at {source_hardware_addr}"),
        Ok(ArpRepr::EthernetIpv4 { operation, .. }) => format!("other ARP {operation}"),
        Ok(_) => "other ARP".to_string(),
        Err(_) => format!(
            "other ARP hardware type {} protocol type 0x{:04x}",
            packet.hardware_type(),
            packet.protocol_type()
        ),
    }
}

fn describe_vlan(payload: &[u8]) -> String {
    match payload {
        [tci_hi, tci_lo, type_hi, type_lo, ..] => {
            let vid = u16::from_be_bytes([*tci_hi, *tci_lo]) & 0x0fff;
            let inner = EthernetProtocol::from(u16::from_be_bytes([*type_hi, *type_lo]));
            format!("other VLAN {vid} ethertype {inner}")
        }
        _ => "malformed truncated VLAN tag".to_string(),
    }
}

/// `available`: the captured IPv4 bytes; `wire_len`: the bytes that were on
/// the wire after the Ethernet header; `cut`: whether the capture is short.
fn describe_ipv4(available: &[u8], wire_len: usize, cut: bool) -> String {
    if available.len() < ipv4::HEADER_LEN {
        return format!(
            "malformed truncated IPv4 header ({} bytes)",
            available.len()
        );
    }
    let packet = Ipv4Packet::new_unchecked(available);
    if packet.version() != 4 {
        return format!("malformed IPv4 version {}", packet.version());
    }
    let header_len = usize::from(packet.header_len());
    if header_len < ipv4::HEADER_LEN {
        return format!("malformed IPv4 IHL {} < 5", header_len / 4);
    }
    if header_len > available.len() {
        return format!(
            "malformed truncated IPv4 header (IHL {}, {} bytes)",
            header_len / 4,
            available.len()
        );
    }
    let total_len = usize::from(packet.total_len());
    if total_len < header_len {
        return format!("malformed IPv4 total length {total_len} < header length {header_len}");
    }
    // A total length past the captured bytes is the capture's doing when
    // the frame on the wire was long enough; otherwise the header lies.
    let ip_cut = total_len > available.len();
    if ip_cut && !(cut && total_len <= wire_len) {
        return format!(
            "malformed IPv4 total length {total_len} past end of frame ({} bytes)",
            wire_len
        );
    }
    let ip_checksum_ok = packet.verify_checksum();
    let protocol = packet.next_header();
    if packet.is_fragment() {
        return format!(
            "other IPv4 fragment {} > {} proto {} id 0x{:04x} offset {}{}",
            packet.src_addr(),
            packet.dst_addr(),
            u8::from(protocol),
            packet.ident(),
            packet.frag_offset(),
            if packet.more_frags() { " MF" } else { "" }
        );
    }
    let payload = &available[header_len..total_len.min(available.len())];
    let src = IpAddress::Ipv4(packet.src_addr());
    let dst = IpAddress::Ipv4(packet.dst_addr());
    let segment_len = total_len - header_len;
    match protocol {
        IpProtocol::Tcp => describe_tcp(payload, segment_len, &src, &dst, ip_checksum_ok),
        IpProtocol::Udp => match payload {
            [sp0, sp1, dp0, dp1, ..] => format!(
                "other UDP {src}:{} > {dst}:{}",
                u16::from_be_bytes([*sp0, *sp1]),
                u16::from_be_bytes([*dp0, *dp1])
            ),
            _ => format!("other UDP {src} > {dst}"),
        },
        IpProtocol::Icmp => match Icmpv4Packet::new_checked(payload) {
            Ok(icmp) => match icmp.msg_type() {
                Icmpv4Message::Unknown(kind) => format!("other ICMP type {kind} {src} > {dst}"),
                kind => format!("other ICMP {kind} {src} > {dst}"),
            },
            Err(_) => format!("other ICMP {src} > {dst}"),
        },
        other => format!("other IPv4 protocol {} {src} > {dst}", u8::from(other)),
    }
}

/// `available`: the captured segment bytes; `segment_len`: its length per
/// the IPv4 total length.
fn describe_tcp(
    available: &[u8],
    segment_len: usize,
    src: &IpAddress,
    dst: &IpAddress,
    ip_checksum_ok: bool,
) -> String {
    if segment_len < tcp::HEADER_LEN {
        return format!("malformed truncated TCP header ({segment_len} bytes in the IPv4 payload)");
    }
    if available.len() < tcp::HEADER_LEN {
        return format!(
            "malformed TCP header cut by the capture ({} of {segment_len} bytes)",
            available.len()
        );
    }
    let packet = TcpPacket::new_unchecked(available);
    let header_len = usize::from(packet.header_len());
    if header_len < tcp::HEADER_LEN {
        return format!("malformed TCP data offset {} < 5", header_len / 4);
    }
    if header_len > segment_len {
        return format!(
            "malformed TCP data offset {} past the segment ({segment_len} bytes)",
            header_len / 4
        );
    }
    let captured_whole = available.len() >= segment_len;
    // Options can only be checked when the capture holds them.
    if header_len <= available.len() {
        let options = &available[tcp::HEADER_LEN..header_len];
        if let Some(Err(err)) = TcpOptionIter::new(options).find(Result::is_err) {
            return format!("malformed TCP option: {err}");
        }
    }
    let csum = if !ip_checksum_ok {
        "bad"
    } else if !captured_whole {
        "unverified"
    } else if packet.verify_checksum(src, dst) {
        "ok"
    } else {
        "bad"
    };
    format!(
        "tcp {src}:{} > {dst}:{} seq={} ack={} flags=0x{:03x} win={} len={} csum={csum}",
        packet.src_port(),
        packet.dst_port(),
        packet.seq_number().raw(),
        packet.ack_number().raw(),
        packet.flags_raw(),
        packet.window_len(),
        segment_len - header_len,
    )
}
