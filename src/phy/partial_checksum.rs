//! Finishing checksums the kernel left partial.
//!
//! With transmit checksum offload (veth has it on by default), the kernel
//! hands a packet socket the frames of its own TCP and UDP with the
//! checksum not yet computed: the field holds only the pseudo-header sum,
//! for the "hardware" to finish (the packet's aux data says
//! `TP_STATUS_CSUMNOTREADY`). No hardware will: the frame is going to us.
//! So the checksum is computed here over the whole segment, whatever the
//! field held, and the frame verifies like any other.
//!
//! Only the few IPv4 header fields needed are read, by offset and with bounds
//! checks; the sums are the wire layer's (RFC 1071). The same layout
//! reading serves the virtio-net header of the offloading backends.

use crate::wire::checksum;
use crate::wire::{IpAddress, IpProtocol, Ipv4Address};

/// EtherType of IPv4.
const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of an IEEE 802.1Q VLAN tag.
const ETHERTYPE_VLAN: u16 = 0x8100;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;

fn read_u16(bytes: &[u8], at: usize) -> Option<u16> {
    let pair = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([pair[0], pair[1]]))
}

/// [`complete_transport_checksum`] for a frame of `medium` (on the IP
/// medium the frame is the IPv4 packet).
#[cfg_attr(not(feature = "phy-pcap"), allow(dead_code))]
pub(crate) fn complete_frame_checksum(frame: &mut [u8], medium: super::Medium) -> bool {
    match medium {
        super::Medium::Ethernet => complete_transport_checksum(frame),
        super::Medium::Ip => complete_ip_checksum(frame),
    }
}

/// Where the IPv4 packet of an Ethernet frame starts (after one optional
/// 802.1Q tag), if the frame carries IPv4.
pub(crate) fn ethernet_ipv4_offset(frame: &[u8]) -> Option<usize> {
    let mut ip_start = 14;
    let mut ethertype = read_u16(frame, 12);
    if ethertype == Some(ETHERTYPE_VLAN) {
        ethertype = read_u16(frame, 16);
        ip_start = 18;
    }
    (ethertype == Some(ETHERTYPE_IPV4)).then_some(ip_start)
}

/// The layout of an unfragmented IPv4 TCP or UDP packet, from the few
/// header fields it needs, bounds-checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TransportLayout {
    /// IPv4 header length.
    pub header_len: usize,
    /// IPv4 total length (header and transport segment).
    pub total_len: usize,
    /// 6 (TCP) or 17 (UDP).
    pub protocol: u8,
    /// Offset of the checksum field within the transport header.
    pub checksum_at: usize,
}

impl TransportLayout {
    /// Reads the layout of the IPv4 packet at the start of `ip`, or `None`
    /// for anything that is not an unfragmented IPv4 TCP/UDP packet that
    /// fits in `ip` with room for its checksum field.
    pub(crate) fn of(ip: &[u8]) -> Option<TransportLayout> {
        let &version_ihl = ip.first()?;
        let header_len = usize::from(version_ihl & 0x0f) * 4;
        let total_len = usize::from(read_u16(ip, 2)?);
        let flags_fragment = read_u16(ip, 6)?;
        // RFC 791 section 3.1: more-fragments flag and fragment offset.
        let is_fragment = flags_fragment & 0x3fff != 0;
        if version_ihl >> 4 != 4
            || header_len < 20
            || total_len < header_len
            || total_len > ip.len()
            || is_fragment
        {
            return None;
        }
        let protocol = *ip.get(9)?;
        let checksum_at = match protocol {
            PROTO_TCP => 16,
            PROTO_UDP => 6,
            _ => return None,
        };
        if header_len + checksum_at + 2 > total_len {
            return None;
        }
        Some(TransportLayout {
            header_len,
            total_len,
            protocol,
            checksum_at,
        })
    }

    /// The pseudo-header sum (RFC 9293 section 3.1, RFC 768) of the packet
    /// `ip`, whose layout this is.
    pub(crate) fn pseudo_header_sum(&self, ip: &[u8]) -> u16 {
        let address =
            |at: usize| IpAddress::Ipv4(Ipv4Address([ip[at], ip[at + 1], ip[at + 2], ip[at + 3]]));
        // At most 65,535 - 20 by the checks in `of`.
        let segment_len = (self.total_len - self.header_len) as u32;
        checksum::pseudo_header(
            &address(12),
            &address(16),
            IpProtocol::from(self.protocol),
            segment_len,
        )
    }
}

/// Computes the TCP or UDP checksum of the IPv4 packet in an Ethernet
/// frame and writes it into the frame. Returns whether it did: frames that
/// are not IPv4 TCP/UDP, fragments, and anything malformed are left alone
/// (the interface will judge them). Never panics on any bytes.
#[cfg_attr(
    not(any(feature = "phy-raw-socket", feature = "phy-pcap")),
    allow(dead_code)
)]
pub(crate) fn complete_transport_checksum(frame: &mut [u8]) -> bool {
    match ethernet_ipv4_offset(frame).and_then(|at| frame.get_mut(at..)) {
        Some(ip) => complete_ip_checksum(ip),
        None => false,
    }
}

/// [`complete_transport_checksum`] for the IPv4 packet at the start of `ip`.
fn complete_ip_checksum(ip: &mut [u8]) -> bool {
    let Some(layout) = TransportLayout::of(ip) else {
        return false;
    };
    let pseudo = layout.pseudo_header_sum(ip);
    let segment = &mut ip[layout.header_len..layout.total_len];
    let at = layout.checksum_at;
    segment[at..at + 2].copy_from_slice(&[0, 0]);
    let mut checksum = !checksum::combine(&[pseudo, checksum::data(segment)]);
    // RFC 768: a computed UDP checksum of zero is sent as all ones (zero
    // means "no checksum").
    if layout.protocol == PROTO_UDP && checksum == 0 {
        checksum = 0xffff;
    }
    segment[at..at + 2].copy_from_slice(&checksum.to_be_bytes());
    true
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    // Frames built, and their checksums computed, by a separate script.
    #[rustfmt::skip]
    const TCP_SYN: [u8; 58] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00,
        0x45, 0x00, 0x00, 0x2c, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0xa4, 0x94,
        0xc0, 0x00, 0x02, 0x02, 0xc0, 0x00, 0x02, 0x01,
        0xa3, 0x2c, 0x1f, 0x90, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x60, 0x02, 0xfa, 0xf0, 0x46, 0x75, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4,
    ];
    /// A UDP datagram whose checksum computes to zero.
    #[rustfmt::skip]
    const UDP_ZERO_SUM: [u8; 46] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00,
        0x45, 0x00, 0x00, 0x20, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0xa4, 0x95,
        0xc0, 0x00, 0x02, 0x02, 0xc0, 0x00, 0x02, 0x01,
        0x30, 0x39, 0x00, 0x35, 0x00, 0x0c, 0x00, 0x00, 0x4b, 0x64, 0x00, 0x00,
    ];
    /// A UDP datagram with an odd-length payload ("abc"); checksum 0x8703.
    #[rustfmt::skip]
    const UDP_ODD: [u8; 45] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00,
        0x45, 0x00, 0x00, 0x1f, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0xa4, 0x96,
        0xc0, 0x00, 0x02, 0x02, 0xc0, 0x00, 0x02, 0x01,
        0x30, 0x39, 0x00, 0x35, 0x00, 0x0b, 0x00, 0x00, 0x61, 0x62, 0x63,
    ];

    #[test]
    fn completes_a_tcp_checksum_left_partial() {
        // What the kernel leaves: the folded pseudo-header sum, 0x8422.
        let mut frame = TCP_SYN;
        frame[50..52].copy_from_slice(&[0x84, 0x22]);
        assert!(complete_transport_checksum(&mut frame));
        assert_eq!(frame, TCP_SYN);
        // Whatever the field held.
        frame[50..52].copy_from_slice(&[0xde, 0xad]);
        assert!(complete_transport_checksum(&mut frame));
        assert_eq!(frame, TCP_SYN);
    }

    #[test]
    fn udp_zero_is_sent_as_all_ones() {
        let mut frame = UDP_ZERO_SUM;
        assert!(complete_transport_checksum(&mut frame));
        assert_eq!(&frame[40..42], &[0xff, 0xff]);
        assert_eq!(frame[..40], UDP_ZERO_SUM[..40]);
        assert_eq!(frame[42..], UDP_ZERO_SUM[42..]);
    }

    #[test]
    fn odd_length_payload_is_padded() {
        let mut frame = UDP_ODD;
        frame[40..42].copy_from_slice(&[0x12, 0x34]);
        assert!(complete_transport_checksum(&mut frame));
        assert_eq!(&frame[40..42], &[0x87, 0x03]);
    }

    #[test]
    fn vlan_tagged_frame() {
        let mut tagged: Vec<u8> = TCP_SYN[..12].to_vec();
        tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x05]);
        tagged.extend_from_slice(&TCP_SYN[12..]);
        let expected = tagged.clone();
        tagged[54..56].copy_from_slice(&[0, 0]);
        assert!(complete_transport_checksum(&mut tagged));
        assert_eq!(tagged, expected);
    }

    #[test]
    fn ethernet_padding_after_the_ip_packet_is_not_summed() {
        let mut padded = TCP_SYN.to_vec();
        padded.extend_from_slice(&[0xee; 6]);
        padded[50..52].copy_from_slice(&[0, 0]);
        assert!(complete_transport_checksum(&mut padded));
        assert_eq!(padded[..58], TCP_SYN);
    }

    #[test]
    fn leaves_other_frames_alone() {
        // Not IPv4 (ARP).
        let mut arp = TCP_SYN;
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        let before = arp;
        assert!(!complete_transport_checksum(&mut arp));
        assert_eq!(arp, before);
        // ICMP.
        let mut icmp = TCP_SYN;
        icmp[23] = 1;
        assert!(!complete_transport_checksum(&mut icmp));
        // A fragment (more-fragments flag).
        let mut frag = TCP_SYN;
        frag[20] = 0x20;
        assert!(!complete_transport_checksum(&mut frag));
        // Total length past the frame, IHL below 5, IPv6 version.
        for (at, value) in [(17usize, 0x2du8), (14, 0x44), (14, 0x65)] {
            let mut bad = TCP_SYN;
            bad[at] = value;
            let before = bad;
            assert!(!complete_transport_checksum(&mut bad));
            assert_eq!(bad, before);
        }
        // TCP segment too short to hold its checksum field.
        let mut short = TCP_SYN[..14 + 20 + 10].to_vec();
        short[16..18].copy_from_slice(&[0, 30]);
        assert!(!complete_transport_checksum(&mut short));
    }

    #[test]
    fn never_panics_on_truncations_and_garbage() {
        for cut in 0..=TCP_SYN.len() {
            let mut frame = TCP_SYN[..cut].to_vec();
            let _ = complete_transport_checksum(&mut frame);
        }
        // Every value of every header byte.
        for at in 12..34 {
            for value in 0..=255u8 {
                let mut frame = TCP_SYN;
                frame[at] = value;
                let _ = complete_transport_checksum(&mut frame);
            }
        }
    }
}
